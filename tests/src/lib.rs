//! Real local hostchain nodes for the integration tests and the devnet.
//!
//! Each node type starts a real process (anvil, bitcoind in regtest, the Solana test validator
//! built by `tools/install.sh`, a throw-away PostgreSQL cluster) on free loopback ports with its
//! own data directory, waits until it answers, and stops it when the handle is dropped, also when
//! a test fails. Many can run side by side: tests in parallel do not collide.
//!
//! With `COMPOSE=1` the same handles point at the services of `docker-compose.yml` instead of
//! spawning processes; see [`compose`] for the environment variables that name their endpoints.
//!
//! Binaries are looked up in `$SYMBIOTE_TOOLS_DIR/bin` (default `~/.cache/symbiote-relayer/bin`,
//! where `tools/install.sh` links them), then on `PATH`.

pub mod anvil;
pub mod bitcoind;
pub mod compose;
mod error;
pub mod ports;
pub mod postgres;
pub mod process;
pub mod rpc;
pub mod solana;
pub mod symbiote;
pub mod tamper;
pub mod tools;

pub use anvil::Anvil;
pub use bitcoind::Bitcoind;
pub use error::HarnessError;
pub use postgres::Postgres;
pub use solana::SolanaValidator;

//! `COMPOSE=1`: point the harness at the services of `docker-compose.yml` instead of spawning
//! nodes. Each endpoint can be overridden by an environment variable; the defaults are the ports
//! that `docker-compose.yml` publishes on the host.
//!
//! | variable | default |
//! |---|---|
//! | `SYMBIOTE_ANVIL_URL` | `http://127.0.0.1:8545` |
//! | `SYMBIOTE_BITCOIND_URL` | `http://127.0.0.1:18443` |
//! | `SYMBIOTE_BITCOIND_USER` / `SYMBIOTE_BITCOIND_PASSWORD` | `symbiote` / `symbiote` |
//! | `SYMBIOTE_SOLANA_URL` | `http://127.0.0.1:8899` |
//! | `SYMBIOTE_POSTGRES_URL` | `postgres://symbiote:symbiote@127.0.0.1:5432/symbiote` |
//!
//! Tests share these services, so each test works with its own keys, accounts and database.

/// Whether `COMPOSE=1` (or `true`) is set.
pub fn enabled() -> bool {
    matches!(
        std::env::var("COMPOSE").as_deref(),
        Ok("1") | Ok("true") | Ok("yes")
    )
}

/// The value of `name`, or `default`.
pub fn endpoint(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

pub const ANVIL_URL: (&str, &str) = ("SYMBIOTE_ANVIL_URL", "http://127.0.0.1:8545");
pub const BITCOIND_URL: (&str, &str) = ("SYMBIOTE_BITCOIND_URL", "http://127.0.0.1:18443");
pub const BITCOIND_USER: (&str, &str) = ("SYMBIOTE_BITCOIND_USER", "symbiote");
pub const BITCOIND_PASSWORD: (&str, &str) = ("SYMBIOTE_BITCOIND_PASSWORD", "symbiote");
pub const SOLANA_URL: (&str, &str) = ("SYMBIOTE_SOLANA_URL", "http://127.0.0.1:8899");
pub const POSTGRES_URL: (&str, &str) = (
    "SYMBIOTE_POSTGRES_URL",
    "postgres://symbiote:symbiote@127.0.0.1:5432/symbiote",
);

/// The value of one of the constants above.
pub fn get((name, default): (&str, &str)) -> String {
    endpoint(name, default)
}

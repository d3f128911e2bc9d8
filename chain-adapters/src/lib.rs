//! Hostchain adapters: one trait family for anchoring, deposit watching, releases and scouting,
//! implemented once per hostchain (Bitcoin, EVM, Solana). This crate knows the symbiote's types
//! and nothing of the relayer's database or scheduling; see ARCHITECTURE section 5.
//!
//! - [`anchor`]: the [`Anchorer`] trait (prepare, broadcast, status, replace, read back);
//! - [`bridge`]: [`DepositWatcher`] and [`Releaser`];
//! - [`scout`]: [`Scout`], destination inspection;
//! - [`error`]: [`AdapterError`] with an [`ErrorKind`] that says whether a retry can help;
//! - [`registry`]: builds adapters from configuration; the only list of hostchain kinds.

pub mod anchor;
pub mod bitcoin;
pub mod bridge;
pub mod error;
pub mod evm;
pub mod key_source;
pub mod registry;
pub mod relayer_set;
pub mod scout;
pub mod solana;
pub mod wallet;

pub use anchor::{AnchorReadBack, AnchorRequest, Anchorer, Inclusion, PreparedTx, TxStatus};
pub use bridge::{
    BridgeLimits, DepositCursor, DepositScan, DepositWatcher, ObservedDeposit, ReleaseOrder,
    ReleaseQueue, ReleaseState, Releaser,
};
pub use error::{AdapterError, AdapterResult, ErrorKind};
pub use registry::{HostchainAdapter, build};
pub use relayer_set::{ContractRelayers, RelayerSetGovernance, Rotation};
pub use scout::{Finding, Inspection, Scout, Severity};
pub use wallet::{KeyBalance, Wallet};

/// The longest JSON-RPC reply read from any hostchain node: a block with its full
/// transactions, a page of logs or signatures, a large transaction fits; a longer one is
/// refused before it is read whole.
pub const MAX_RPC_REPLY_BYTES: usize = 64 * 1024 * 1024;

//! Anchoring: writing an anchor payload into a hostchain transaction, and following that
//! transaction until it is final.
//!
//! The life of an anchor, as the relayer drives it:
//! 1. [`Anchorer::prepare_anchor`] builds and signs the transaction. The caller stores the
//!    [`PreparedTx`] before anything leaves the process.
//! 2. [`Anchorer::broadcast`] sends it; sending the same prepared transaction again is harmless.
//! 3. [`Anchorer::status`] follows it: in the mempool, included with n confirmations, final,
//!    dropped, or reorged out (the caller then broadcasts again or re-anchors).
//! 4. [`Anchorer::replace`] builds a fee-bumped successor of a stuck transaction, which the
//!    caller stores before broadcasting it, like any prepared transaction.
//! 5. [`Anchorer::read_anchor`] finds and decodes the payload in a transaction, for anyone
//!    verifying a proof against the hostchain alone.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use symbiote::anchor::AnchorPayload;
use symbiote::types::{Height, HostchainId, SymbioteId};

use crate::error::AdapterResult;

/// What to anchor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorRequest {
    /// The relayer's own symbiote.
    pub symbiote: SymbioteId,
    /// The payload (sequence and aggregate root).
    pub payload: AnchorPayload,
    /// The symbiote's block range the relayer's own commitment covers.
    pub from: Height,
    pub to: Height,
    /// Signatures of other relayers over this anchor, for hostchains whose contract needs a
    /// threshold (see [`Anchorer::sign_anchor`]); empty elsewhere.
    pub cosignatures: Vec<Vec<u8>>,
}

/// A signed hostchain transaction, ready to send, as the caller stores it.
///
/// Persisted format: stored by the relayer before broadcast; adapters must keep reading what
/// they wrote (`meta` carries a version where its layout may change).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedTx {
    /// Which hostchain.
    pub hostchain: HostchainId,
    /// The hostchain's id of the transaction (txid, transaction hash, signature), known before
    /// it is sent.
    pub id: String,
    /// The signed transaction in the hostchain's own encoding.
    pub raw: Vec<u8>,
    /// What the adapter needs to follow or replace it (fee, nonce, spent outputs, blockhash).
    pub meta: serde_json::Value,
}

/// Where a transaction was included.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inclusion {
    /// Block height (slot on Solana).
    pub height: u64,
    /// The including block's hash (blockhash on Solana), to notice a reorg.
    pub block_hash: String,
}

/// Where a transaction stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TxStatus {
    /// The node does not know it (not sent yet, or forgotten).
    Unknown,
    /// Waiting to be included.
    InMempool,
    /// Included; `fin` once it is past the configured confirmation depth (or finalized).
    Included {
        inclusion: Inclusion,
        confirmations: u64,
        #[serde(rename = "final")]
        fin: bool,
    },
    /// It can no longer be included as it is (evicted, expired blockhash, nonce taken by
    /// another transaction): prepare again.
    Dropped { reason: String },
    /// It was included at `previous` but that block is no longer on the chain, and it is not
    /// included anywhere else: broadcast again or re-anchor.
    ReorgedOut { previous: Inclusion },
}

/// An anchor found in a hostchain transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorReadBack {
    /// The decoded payload.
    pub payload: AnchorPayload,
    /// Where the transaction is, and how deep.
    pub inclusion: Inclusion,
    /// Confirmations at the time of reading.
    pub confirmations: u64,
    /// Whether it is past the adapter's confirmation depth (or finalized).
    #[serde(rename = "final")]
    pub fin: bool,
    /// The symbiote the anchor names, where the hostchain records it (the EVM anchor
    /// contract's event); `None` where the payload alone is written (Bitcoin, Solana).
    #[serde(default)]
    pub symbiote: Option<SymbioteId>,
}

/// Anchoring on one hostchain. Implementations are cheap to share (`Send + Sync`); every method
/// may be called concurrently and again after a crash with the same arguments.
#[async_trait]
pub trait Anchorer: Send + Sync {
    /// This relayer's signature over `request`, for hostchains whose anchor contract requires a
    /// threshold of relayer signatures; `None` where the transaction's own signature suffices.
    async fn sign_anchor(&self, request: &AnchorRequest) -> AdapterResult<Option<Vec<u8>>>;

    /// Builds and signs the anchor transaction. Nothing is sent.
    async fn prepare_anchor(&self, request: &AnchorRequest) -> AdapterResult<PreparedTx>;

    /// Sends a prepared transaction. Idempotent: a transaction the node already has, or that is
    /// already included, is not an error.
    async fn broadcast(&self, tx: &PreparedTx) -> AdapterResult<()>;

    /// Where `tx` stands. `seen` is where the caller last saw it included, to notice reorgs.
    async fn status(&self, tx: &PreparedTx, seen: Option<&Inclusion>) -> AdapterResult<TxStatus>;

    /// A successor of `tx` paying a higher fee, spending the same inputs or nonce so that at
    /// most one of them is ever included. Fails with [`crate::ErrorKind::FeeCapReached`] when
    /// the bump would exceed the configured cap.
    async fn replace(&self, tx: &PreparedTx) -> AdapterResult<PreparedTx>;

    /// Finds and decodes the anchor payload in the transaction `id`; verification tools use
    /// this with nothing but the hostchain's RPC.
    async fn read_anchor(&self, id: &str) -> AdapterResult<AnchorReadBack>;
}

/// Reading anchors back, and nothing else: what `relayer verify` holds, so that it cannot sign
/// or send.
#[async_trait]
pub trait AnchorReader: Send + Sync {
    /// [`Anchorer::read_anchor`].
    async fn read_anchor(&self, id: &str) -> AdapterResult<AnchorReadBack>;
}

#[async_trait]
impl<T: Anchorer> AnchorReader for T {
    async fn read_anchor(&self, id: &str) -> AdapterResult<AnchorReadBack> {
        Anchorer::read_anchor(self, id).await
    }
}

//! Bridging: watching a hostchain's bridge for deposits, and releasing tokens for withdrawal
//! orders of the symbiote.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use symbiote::crypto::PublicKey;
use symbiote::tx::DepositId;
use symbiote::types::{Amount, HostAddress, Nonce, TokenId};

use crate::anchor::PreparedTx;
use crate::error::AdapterResult;

/// Where a deposit scan resumes: adapter-defined (a block number, a signature), opaque to the
/// caller, which stores it with the deposits it returned.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositCursor(pub String);

/// A deposit seen on the hostchain past its confirmation depth.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedDeposit {
    /// (hostchain, transaction, event index): minted at most once.
    pub id: DepositId,
    /// The token deposited (`native` for the hostchain's coin).
    pub token: TokenId,
    /// How much.
    pub amount: Amount,
    /// The symbiote account named by the depositor; `None` if the deposit names none that is
    /// valid (unroutable: kept for a refund, never dropped).
    pub recipient: Option<PublicKey>,
    /// What the depositor wrote as recipient, verbatim, for refunds and operators.
    pub raw_recipient: String,
    /// The depositor, for a refund.
    pub depositor: String,
    /// Block (slot) of the deposit.
    pub block: u64,
}

/// One scan's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositScan {
    /// Deposits found, in hostchain order.
    pub deposits: Vec<ObservedDeposit>,
    /// Where the next scan resumes.
    pub next: DepositCursor,
}

/// Watches the bridge on one hostchain.
#[async_trait]
pub trait DepositWatcher: Send + Sync {
    /// Deposits past the confirmation depth from `cursor` on (the default cursor: from the
    /// bridge's deployment), in bounded steps; call again with `next` until it stops moving.
    async fn scan_deposits(&self, cursor: &DepositCursor) -> AdapterResult<DepositScan>;
}

/// A release to perform on the hostchain for a symbiote withdrawal order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseOrder {
    /// The withdrawal order's nonce: the bridge refuses it twice.
    pub nonce: Nonce,
    /// The token (`native` for the hostchain's coin).
    pub token: TokenId,
    /// How much.
    pub amount: Amount,
    /// The receiving address.
    pub destination: HostAddress,
    /// Signatures of other relayers over this release, where the bridge needs a threshold.
    pub cosignatures: Vec<Vec<u8>>,
}

/// Performs releases on one hostchain.
#[async_trait]
pub trait Releaser: Send + Sync {
    /// This relayer's signature over `order` for bridges that require a threshold of relayer
    /// signatures; `None` where the transaction's own signature suffices.
    async fn sign_release(&self, order: &ReleaseOrder) -> AdapterResult<Option<Vec<u8>>>;

    /// Builds and signs the release transaction. Nothing is sent; send it with
    /// [`crate::Anchorer::broadcast`] and follow it with [`crate::Anchorer::status`].
    async fn prepare_release(&self, order: &ReleaseOrder) -> AdapterResult<PreparedTx>;

    /// Whether the release of withdrawal order `nonce` has been executed on the hostchain, so
    /// that it is never paid twice.
    async fn is_released(&self, nonce: Nonce) -> AdapterResult<bool>;
}

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

    /// What the hostchain did with withdrawal order `nonce`. The default knows only whether it
    /// was released; bridges with a queue of their own say more.
    async fn release_state(&self, nonce: Nonce) -> AdapterResult<ReleaseState> {
        Ok(if self.is_released(nonce).await? {
            ReleaseState::Released
        } else {
            ReleaseState::Unused
        })
    }

    /// The bridge's own release queue and limits, where it has them (an EVM bridge's
    /// `limitOf` and `executeQueued`); `None` where the relayer enforces its configured limits
    /// alone.
    fn queue(&self) -> Option<&dyn ReleaseQueue> {
        None
    }
}

/// A bridge that enforces release limits itself and queues what goes over them (as in
/// Wormhole's Governor): the relayer reads the limits to predict queueing, and pays a queued
/// release once its delay has passed by the hostchain's clock.
#[async_trait]
pub trait ReleaseQueue: Send + Sync {
    /// The limits the bridge enforces on `token`, with what it counts in the current window.
    async fn limits(&self, token: &TokenId) -> AdapterResult<BridgeLimits>;

    /// The hostchain's own clock (unix seconds of its latest block), against which the queue's
    /// delays run.
    async fn time(&self) -> AdapterResult<u64>;

    /// Builds the transaction that pays a release the bridge queued (see
    /// [`ReleaseState::Queued`]). Nothing is sent.
    async fn prepare_execute(&self, nonce: Nonce) -> AdapterResult<PreparedTx>;
}

/// What a hostchain's bridge did with a release nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ReleaseState {
    /// Not used: a release with this nonce may be submitted.
    Unused,
    /// Paid.
    Released,
    /// Accepted and queued by the bridge's limits: payable from `release_after` (unix seconds).
    Queued { release_after: u64 },
    /// Cancelled while queued: never paid, the nonce stays used.
    Cancelled,
}

/// A bridge's release limits for one token (as in Wormhole's Governor): a release that would
/// bring the rolling 24-hour total above `daily_cap`, or of at least `large_transfer`, waits
/// `delay_seconds`. Zero means no cap, no large-transfer rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeLimits {
    pub daily_cap: Amount,
    pub large_transfer: Amount,
    pub delay_seconds: u64,
    /// Released in the current window, as the bridge counts it.
    pub released_in_window: Amount,
}

impl BridgeLimits {
    /// Whether a release of `amount` now would be queued.
    pub fn would_queue(&self, amount: Amount) -> bool {
        let large = self.large_transfer != Amount::ZERO && amount >= self.large_transfer;
        let over_cap = self.daily_cap != Amount::ZERO
            && self
                .released_in_window
                .checked_add(amount)
                .is_none_or(|total| total > self.daily_cap);
        large || over_cap
    }
}

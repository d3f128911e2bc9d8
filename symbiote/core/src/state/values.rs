//! The values the state holds and what executing a block tells: accounts, withdrawal orders,
//! pending attestations, effects, and why a transaction or a block is refused.

use std::collections::{BTreeMap, BTreeSet};

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::crypto::PublicKey;
use crate::hash::Hash;
use crate::tx::{Asset, Deposit, DepositId, HoldNotice, ProposalId, ReleaseApproval};
use crate::types::{Amount, Height, HostAddress, HostchainId, Nonce, TokenId};

use super::{ProposalStatus, StorageError};

/// Why a transaction is refused. Each variant names what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    #[error("bad signature: {0}")]
    BadSignature(String),
    #[error("nonce {got} is not the sender's next nonce {expected}")]
    NonceMismatch { expected: Nonce, got: Nonce },
    #[error("amount must be greater than zero")]
    ZeroAmount,
    #[error("insufficient balance of {asset}: has {balance}, needs {amount}")]
    InsufficientBalance {
        asset: String,
        balance: Amount,
        amount: Amount,
    },
    #[error("balance of {0} would overflow")]
    Overflow(String),
    #[error("deposit {0} was already minted")]
    DuplicateMint(String),
    #[error("mint needs {threshold} valid relayer attestations, has {valid}")]
    MintThreshold { valid: usize, threshold: u16 },
    #[error("attestation {position}: {reason}")]
    BadAttestation { position: usize, reason: String },
    #[error("hostchain {0} is not in the active hostchain set")]
    InactiveHostchain(HostchainId),
    #[error("hostchain {0} has never been in the hostchain set")]
    UnknownHostchain(HostchainId),
    #[error("{0} is not a validator")]
    NotAValidator(PublicKey),
    #[error("proposal {0:?} does not exist")]
    UnknownProposal(ProposalId),
    #[error("proposal {id:?} is {status:?}, no longer open")]
    ProposalClosed {
        id: ProposalId,
        status: ProposalStatus,
    },
    #[error("validator {0} already voted on this proposal")]
    AlreadyVoted(PublicKey),
    #[error("activation height {activation} must be after the current height {height}")]
    ActivationTooEarly { activation: Height, height: Height },
    #[error("activation height {activation} is more than {max} blocks after {height}")]
    ActivationTooLate {
        activation: Height,
        height: Height,
        max: u64,
    },
    #[error("invalid governance change: {0}")]
    InvalidChange(String),
    #[error("counter overflow: {0}")]
    CounterOverflow(&'static str),
    #[error("{0} is not a member of the relayer set")]
    NotARelayer(PublicKey),
    #[error("withdrawal order {0} does not exist")]
    UnknownWithdrawal(Nonce),
    #[error("withdrawal order {nonce} is {status:?}, not held")]
    NotHeld {
        nonce: Nonce,
        status: WithdrawalStatus,
    },
    #[error("{count} entries in one transaction; at most {max}")]
    TooManyEntries { count: usize, max: usize },
    #[error("entry {position}: {reason}")]
    BadEntry { position: usize, reason: String },
    /// The state could not be read: not the transaction's fault, and no block can be executed
    /// until the store is repaired.
    #[error("the state could not be read: {0}")]
    Storage(StorageError),
}

/// Why a block cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("block height {got} does not follow the state's height {expected}")]
    WrongHeight { expected: Height, got: Height },
    #[error("transaction {index} ({tx}) refused: {error}")]
    Transaction {
        index: usize,
        tx: Hash,
        error: TxError,
    },
    #[error("invalid genesis: {0}")]
    Genesis(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("the state is in format {found}; this node reads format {supported}")]
    Format { found: u8, supported: u8 },
}

/// One account's balances and next nonce.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Account {
    /// The nonce its next transaction must carry.
    pub nonce: Nonce,
    /// Non-zero balances by asset.
    pub balances: BTreeMap<Asset, Amount>,
}

/// An order to release tokens on a hostchain, created by a burn.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct WithdrawalOrder {
    /// Sequential from 1 across the symbiote; the bridge contract refuses a nonce twice.
    pub nonce: Nonce,
    /// The hostchain to release on.
    pub hostchain: HostchainId,
    /// The token on that hostchain.
    pub token: TokenId,
    /// How much.
    pub amount: Amount,
    /// The receiving address on the hostchain.
    pub destination: HostAddress,
    /// The symbiote account that burnt the tokens (refunded if the release is refused).
    pub burner: PublicKey,
    /// The block that contains the burn.
    pub height: Height,
    /// Whether it may be released, is held, or was refunded.
    pub status: WithdrawalStatus,
    /// Relayers' approvals of the release, by relayer key.
    pub approvals: BTreeMap<PublicKey, ReleaseApproval>,
    /// Relayers' holds, by relayer key.
    pub holds: BTreeMap<PublicKey, HoldNotice>,
}

/// Where a withdrawal order stands on the symbiote. Whether it was paid is the hostchain's to
/// say (its bridge refuses a nonce twice).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawalStatus {
    /// To be released once a threshold of relayers approves it.
    Open,
    /// A relayer's scout held it: nothing is released until governance decides.
    Held,
    /// Governance lifted the hold: to be released like an open order.
    HoldLifted,
    /// Governance refunded it to the burner: never released.
    Refunded,
}

impl WithdrawalOrder {
    /// Whether a relayer may submit its release (given a threshold of approvals).
    pub fn releasable(&self) -> bool {
        matches!(
            self.status,
            WithdrawalStatus::Open | WithdrawalStatus::HoldLifted
        )
    }

    /// The asset the burn took.
    pub fn asset(&self) -> Asset {
        Asset::Wrapped {
            hostchain: self.hostchain.clone(),
            token: self.token.clone(),
        }
    }
}

/// Attestations of a deposit not yet minted: each distinct content with the relayers that
/// attested it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct PendingMint {
    /// The attested content.
    pub deposit: Deposit,
    /// The relayers (by key) that attested exactly this content.
    pub attesters: BTreeSet<PublicKey>,
}

/// What a successfully applied transaction did, for receipts and indexers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Transferred,
    Minted(DepositId),
    WithdrawalOrdered(Nonce),
    /// Attestations recorded; the deposits they completed were minted.
    Attested {
        recorded: usize,
        minted: Vec<DepositId>,
    },
    /// Release approvals recorded.
    ReleasesApproved(usize),
    /// Cosignatures recorded.
    Cosigned(usize),
    /// Holds recorded.
    ReleasesHeld(usize),
    Proposed(ProposalId),
    Voted {
        proposal: ProposalId,
        status: ProposalStatus,
    },
}

/// The furthest ahead a governance change may be scheduled.
pub const MAX_ACTIVATION_DELAY: u64 = 1_000_000;

//! The JSON bodies of the node's HTTP API, shared by the server (the node's `api` module) and
//! the client (`crate::client`).

use serde::{Deserialize, Serialize};

use crate::block::Header;
use crate::commitment::{BlockProof, Commitment};
use crate::crypto::PublicKey;
use crate::governance::{History, Proposal};
use crate::hash::Hash;
use crate::tx::{Asset, RelayerSet};
use crate::types::{Amount, Height, HostchainId, Nonce, SymbioteId};
use crate::validators::ValidatorSet;

/// The most withdrawal orders one request returns.
pub const MAX_PAGE: usize = 1_000;

/// `GET /v1/node`: who this node is.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The symbiote's name.
    pub chain_name: String,
    /// The symbiote's id.
    pub symbiote: SymbioteId,
    /// This node's validator key, if it has one.
    pub validator: Option<PublicKey>,
    /// The finalized height.
    pub height: Height,
    /// Transactions waiting in this node's mempool.
    pub mempool: usize,
}

/// `GET /v1/head`: the finalized head.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HeadInfo {
    /// Its height.
    pub height: Height,
    /// Its hash.
    pub hash: Hash,
    /// The header.
    pub header: Header,
}

/// `POST /v1/transactions` body: a signed transaction's canonical encoding, hex.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubmitRequest {
    /// Hex of [`crate::codec::Canonical::encode`] of a `SignedTransaction`.
    pub tx: String,
}

/// `POST /v1/transactions` reply.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubmitReply {
    /// The transaction's hash, to ask for its status.
    pub hash: Hash,
    /// False if the node already had it.
    pub added: bool,
}

/// `GET /v1/transactions/{hash}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TxStatusReply {
    /// Waiting in the node's mempool.
    Pending,
    /// In the finalized block at `height`.
    Included {
        /// The block's height.
        height: Height,
    },
    /// Not known to this node (never received, or dropped as invalid).
    Unknown,
}

/// One balance of an account.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Balance {
    /// The asset.
    pub asset: Asset,
    /// How much.
    pub amount: Amount,
}

/// `GET /v1/accounts/{key}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccountReply {
    /// The account.
    pub key: PublicKey,
    /// The nonce its next transaction must carry.
    pub nonce: Nonce,
    /// Its non-zero balances.
    pub balances: Vec<Balance>,
}

/// `GET /v1/governance`: every set's history, and every proposal.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GovernanceReply {
    /// The height these answers are at.
    pub height: Height,
    /// Hostchain sets with the height each took effect.
    pub hostchains: History<Vec<HostchainId>>,
    /// Relayer sets.
    pub relayers: History<RelayerSet>,
    /// Validator sets.
    pub validators: History<ValidatorSet>,
    /// The proposals still open or waiting for their activation, and the newest others (at
    /// most [`MAX_PAGE`] of those), oldest first.
    pub proposals: Vec<Proposal>,
}

/// A change approved by governance that is not in force yet.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScheduledChange {
    /// The proposal.
    pub proposal: crate::tx::ProposalId,
    /// The first height it is in force.
    pub activation: Height,
    /// What changes.
    pub change: crate::tx::GovernanceChange,
}

/// The sets in force and what is scheduled: what an operator or a governance participant wants
/// to see (`symbiote governance`, the relayer's `/v1/governance`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GovernanceSummary {
    /// The height the answer is at.
    pub height: Height,
    /// The hostchain set in force, and since which height.
    pub hostchains: (Height, Vec<HostchainId>),
    /// The relayer set in force, and since which height.
    pub relayers: (Height, RelayerSet),
    /// The validator set in force, and since which height.
    pub validators: (Height, ValidatorSet),
    /// Approved changes waiting for their activation height, soonest first.
    pub scheduled: Vec<ScheduledChange>,
    /// Proposals still collecting votes.
    pub open: Vec<Proposal>,
}

impl GovernanceReply {
    /// The sets in force and the scheduled changes.
    pub fn summary(&self) -> GovernanceSummary {
        fn current<T: Clone>(history: &History<T>) -> (Height, T) {
            history
                .iter()
                .last()
                .map(|(h, t)| (h, t.clone()))
                .unwrap_or((Height::new(0), history.genesis.clone()))
        }
        let mut scheduled: Vec<ScheduledChange> = self
            .proposals
            .iter()
            .filter(|p| {
                p.status == crate::governance::ProposalStatus::Approved
                    && p.activation > self.height
            })
            .map(|p| ScheduledChange {
                proposal: p.id,
                activation: p.activation,
                change: p.change.clone(),
            })
            .collect();
        scheduled.sort_by_key(|s| s.activation);
        GovernanceSummary {
            height: self.height,
            hostchains: current(&self.hostchains),
            relayers: current(&self.relayers),
            validators: current(&self.validators),
            scheduled,
            open: self
                .proposals
                .iter()
                .filter(|p| p.status == crate::governance::ProposalStatus::Open)
                .cloned()
                .collect(),
        }
    }
}

/// `GET /v1/proofs/commitment?from&to&height`: a commitment over finalized blocks
/// `from..=to` and the proof that block `height` is in it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CommitmentReply {
    /// The commitment (with the certificate of block `to`).
    pub commitment: Commitment,
    /// Block `height` inside it.
    pub block: BlockProof,
}

/// `GET /v1/deposits/{hostchain}/{tx}/{index}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DepositReply {
    /// Whether the deposit has been minted.
    pub minted: bool,
    /// While it is not: each attested content with its attesters.
    #[serde(default)]
    pub pending: Vec<crate::state::PendingMint>,
}

/// `GET /v1/cosignatures/{subject}`: relayers' signatures of one hostchain message.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CosignaturesReply {
    /// The message's digest.
    pub subject: crate::hash::Hash,
    /// One entry per relayer.
    pub signatures: Vec<Cosigned>,
}

/// One relayer's signature.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cosigned {
    /// The relayer's symbiote key.
    pub relayer: crate::crypto::PublicKey,
    /// Its signature in the hostchain's scheme.
    #[serde(with = "hex::serde")]
    pub signature: Vec<u8>,
}

/// `POST /v1/deposits/query`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DepositsQuery {
    /// The deposits asked about (at most 1,000).
    pub ids: Vec<crate::tx::DepositId>,
}

/// `POST /v1/withdrawals/query`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WithdrawalsQuery {
    /// The withdrawal orders asked about (at most 1,000).
    pub nonces: Vec<Nonce>,
}

/// Any error reply.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorReply {
    /// What is wrong.
    pub error: String,
}

/// `POST /v1/state/proofs` body: which entries to prove, at which finalized height.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StateProofsQuery {
    /// The finalized height whose state to prove against; default: the node's head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<Height>,
    /// The entries, at most [`MAX_PROOF_ENTRIES`].
    pub keys: Vec<crate::state::StateKey>,
}

/// The most entries one state proof request may ask for.
pub const MAX_PROOF_ENTRIES: usize = 256;

/// `POST /v1/state/proofs` reply: each entry with its proof against the state root of the
/// header at `height`. The header is the node's word: a reader checks the proofs against the
/// state root of the header its light client verified at that height.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StateProofsReply {
    /// The height proven at.
    pub height: Height,
    /// The state root the proofs lead to (that header's `state_root`).
    pub state_root: Hash,
    /// One proof per key asked, in the order asked.
    pub proofs: Vec<crate::state::StateProof>,
}

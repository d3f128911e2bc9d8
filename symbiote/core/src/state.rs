//! The symbiote's deterministic state machine: balances, bridge mints and withdrawal orders,
//! and governance of the hostchain, relayer and validator sets.
//!
//! Every node applies the same finalized blocks to the same genesis and gets the same state and
//! [`ChainState::root`]. A block is applied whole or not at all ([`ChainState::apply_block`]
//! works on a copy). Governance changes take effect at their activation height: a change that
//! activates at height `A` is applied when block `A - 1` ends, so block `A` is the first one
//! produced, signed and anchored under it.
//!
//! Persisted format: nodes store the state's canonical encoding; renaming or reordering fields
//! changes it.

use std::collections::{BTreeMap, BTreeSet};

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::codec::Canonical;
use crate::crypto::{self, PublicKey};
use crate::hash::{Domain, Hash, hash};
use crate::tx::{
    Asset, Deposit, DepositId, GovernanceChange, HoldNotice, ProposalId, RelayerSet,
    ReleaseApproval, SignedTransaction, Transaction, borsh_bytes,
};
use crate::types::{Amount, Height, HostAddress, HostchainId, Nonce, SymbioteId, TokenId};
use crate::validators::ValidatorSet;

pub use crate::genesis::Genesis;
pub use crate::governance::{History, Proposal, ProposalStatus, SetHistory};

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

/// The whole state of one symbiote after some block.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ChainState {
    /// Which symbiote.
    pub(crate) symbiote: SymbioteId,
    /// The last block applied (genesis: 0).
    pub(crate) height: Height,
    /// Accounts with a balance or a used nonce.
    pub(crate) accounts: BTreeMap<PublicKey, Account>,
    /// Every deposit minted so far: a deposit is minted at most once, ever.
    pub(crate) minted: BTreeSet<DepositId>,
    /// Attestations of deposits not yet minted.
    pub(crate) pending_mints: BTreeMap<DepositId, Vec<PendingMint>>,
    /// Relayers' signatures of hostchain messages, by digest.
    pub(crate) cosignatures: BTreeMap<Hash, BTreeMap<PublicKey, Vec<u8>>>,
    /// Withdrawal orders by nonce.
    pub(crate) withdrawals: BTreeMap<Nonce, WithdrawalOrder>,
    /// The nonce of the next withdrawal order.
    pub(crate) next_withdrawal: Nonce,
    /// Governance proposals by id.
    pub(crate) proposals: BTreeMap<ProposalId, Proposal>,
    /// The id of the next proposal.
    pub(crate) next_proposal: ProposalId,
    /// The sets in force and since which height, current last.
    pub(crate) sets: SetHistory,
}

impl Canonical for ChainState {
    const KIND: &'static str = "chain state";
    const MAX_ENCODED_LEN: usize = 256 * 1024 * 1024;
    /// The state holds transactions' parts (relayer sets, approvals): their layout.
    const VERSION: u8 = crate::tx::TRANSACTION_FORMAT_VERSION;
}

impl ChainState {
    /// The state at height 0.
    pub fn genesis(genesis: &Genesis) -> Result<Self, StateError> {
        genesis.validate().map_err(StateError::Genesis)?;
        let mut accounts: BTreeMap<PublicKey, Account> = BTreeMap::new();
        for (key, amount) in &genesis.balances {
            let account = accounts.entry(*key).or_default();
            let balance = account.balances.entry(Asset::Native).or_default();
            *balance = balance
                .checked_add(*amount)
                .ok_or_else(|| StateError::Genesis(format!("balance of {key} overflows")))?;
        }
        Ok(ChainState {
            symbiote: genesis.symbiote_id(),
            height: Height::new(0),
            accounts,
            minted: BTreeSet::new(),
            pending_mints: BTreeMap::new(),
            cosignatures: BTreeMap::new(),
            withdrawals: BTreeMap::new(),
            next_withdrawal: Nonce::new(1),
            proposals: BTreeMap::new(),
            next_proposal: ProposalId(1),
            sets: SetHistory::genesis(
                genesis.validators.clone(),
                genesis.hostchains.clone(),
                genesis.relayers.clone(),
            ),
        })
    }

    /// The symbiote this state belongs to.
    pub fn symbiote(&self) -> SymbioteId {
        self.symbiote
    }

    /// The height of the last applied block.
    pub fn height(&self) -> Height {
        self.height
    }

    /// The commitment to the whole state, stored in each block header.
    pub fn root(&self) -> Hash {
        hash(Domain::StateRoot, &[&borsh_bytes(self)])
    }

    /// The validator set that signs the next block.
    pub fn validators(&self) -> &ValidatorSet {
        self.sets.validators()
    }

    /// The hostchains in force for the next block.
    pub fn hostchains(&self) -> &[HostchainId] {
        self.sets.hostchains()
    }

    /// The relayer set in force for the next block.
    pub fn relayers(&self) -> &RelayerSet {
        self.sets.relayers()
    }

    /// When each set came into force.
    pub fn set_history(&self) -> &SetHistory {
        &self.sets
    }

    /// An account (default: empty, nonce 0).
    pub fn account(&self, key: &PublicKey) -> Account {
        self.accounts.get(key).cloned().unwrap_or_default()
    }

    /// Whether a deposit has been minted.
    pub fn is_minted(&self, deposit: &DepositId) -> bool {
        self.minted.contains(deposit)
    }

    /// The attestations of a deposit that is not minted yet.
    pub fn pending_mint(&self, deposit: &DepositId) -> &[PendingMint] {
        self.pending_mints.get(deposit).map_or(&[], Vec::as_slice)
    }

    /// The relayers' signatures of the hostchain message with digest `subject`.
    pub fn cosignatures(&self, subject: &Hash) -> BTreeMap<PublicKey, Vec<u8>> {
        self.cosignatures.get(subject).cloned().unwrap_or_default()
    }

    /// A withdrawal order.
    pub fn withdrawal(&self, nonce: Nonce) -> Option<&WithdrawalOrder> {
        self.withdrawals.get(&nonce)
    }

    /// Withdrawal orders with nonce `from` or later, at most `limit`.
    pub fn withdrawals(&self, from: Nonce, limit: usize) -> Vec<WithdrawalOrder> {
        self.withdrawals
            .range(from..)
            .take(limit)
            .map(|(_, o)| o.clone())
            .collect()
    }

    /// A proposal.
    pub fn proposal(&self, id: ProposalId) -> Option<&Proposal> {
        self.proposals.get(&id)
    }

    /// All proposals, oldest first.
    pub fn proposals(&self) -> impl Iterator<Item = &Proposal> {
        self.proposals.values()
    }

    /// Applies a block's transactions at `height` (which must follow the state's height) and
    /// ends the block. All or nothing: on error the state is unchanged.
    pub fn apply_block(
        &mut self,
        height: Height,
        transactions: &[SignedTransaction],
    ) -> Result<Vec<Effect>, StateError> {
        let expected = self.height.next().ok_or(StateError::WrongHeight {
            expected: self.height,
            got: height,
        })?;
        if height != expected {
            return Err(StateError::WrongHeight {
                expected,
                got: height,
            });
        }
        let mut next = self.clone();
        let mut effects = Vec::with_capacity(transactions.len());
        for (index, tx) in transactions.iter().enumerate() {
            let effect =
                next.apply_transaction(height, tx)
                    .map_err(|error| StateError::Transaction {
                        index,
                        tx: tx.hash(),
                        error,
                    })?;
            effects.push(effect);
        }
        next.end_block(height);
        *self = next;
        Ok(effects)
    }

    /// Checks that `tx` would be accepted in the next block, without changing anything.
    pub fn check_transaction(&self, tx: &SignedTransaction) -> Result<(), TxError> {
        let height = self
            .height
            .next()
            .ok_or(TxError::CounterOverflow("height"))?;
        self.clone().apply_transaction(height, tx).map(|_| ())
    }

    /// Applies one transaction inside block `height`. On error nothing has changed: every
    /// check comes before the first write.
    pub fn apply_transaction(
        &mut self,
        height: Height,
        tx: &SignedTransaction,
    ) -> Result<Effect, TxError> {
        tx.verify_signature(self.symbiote)
            .map_err(|e| TxError::BadSignature(e.to_string()))?;
        let expected = self.account(&tx.sender).nonce;
        if tx.nonce != expected {
            return Err(TxError::NonceMismatch {
                expected,
                got: tx.nonce,
            });
        }
        let next_nonce = expected.next().ok_or(TxError::CounterOverflow("nonce"))?;
        let effect = match &tx.body {
            Transaction::Transfer { to, asset, amount } => {
                self.transfer(&tx.sender, to, asset, *amount)?;
                Effect::Transferred
            }
            Transaction::Mint {
                deposit,
                attestations,
            } => {
                self.check_mint(deposit, attestations)?;
                self.credit(&deposit.recipient, &deposit.asset(), deposit.amount)?;
                self.minted.insert(deposit.id.clone());
                self.pending_mints.remove(&deposit.id);
                Effect::Minted(deposit.id.clone())
            }
            Transaction::Burn {
                hostchain,
                token,
                amount,
                destination,
            } => {
                if !self.hostchains().contains(hostchain) {
                    return Err(TxError::InactiveHostchain(hostchain.clone()));
                }
                let asset = Asset::Wrapped {
                    hostchain: hostchain.clone(),
                    token: token.clone(),
                };
                let nonce = self.next_withdrawal;
                let following = nonce.next().ok_or(TxError::CounterOverflow("withdrawal"))?;
                self.debit(&tx.sender, &asset, *amount)?;
                self.withdrawals.insert(
                    nonce,
                    WithdrawalOrder {
                        nonce,
                        hostchain: hostchain.clone(),
                        token: token.clone(),
                        amount: *amount,
                        destination: destination.clone(),
                        burner: tx.sender,
                        height,
                        status: WithdrawalStatus::Open,
                        approvals: BTreeMap::new(),
                        holds: BTreeMap::new(),
                    },
                );
                self.next_withdrawal = following;
                Effect::WithdrawalOrdered(nonce)
            }
            Transaction::Propose { change, activation } => {
                let id = self.propose(&tx.sender, change, *activation, height)?;
                Effect::Proposed(id)
            }
            Transaction::Vote { proposal, approve } => {
                let status = self.vote(&tx.sender, *proposal, *approve)?;
                Effect::Voted {
                    proposal: *proposal,
                    status,
                }
            }
            Transaction::Attest { deposits } => self.attest(&tx.sender, deposits)?,
            Transaction::ApproveReleases { approvals } => {
                self.approve_releases(&tx.sender, approvals)?
            }
            Transaction::HoldReleases { holds } => self.hold_releases(&tx.sender, holds)?,
            Transaction::Cosign { entries } => self.cosign(&tx.sender, entries)?,
        };
        self.accounts.entry(tx.sender).or_default().nonce = next_nonce;
        Ok(effect)
    }

    fn transfer(
        &mut self,
        from: &PublicKey,
        to: &PublicKey,
        asset: &Asset,
        amount: Amount,
    ) -> Result<(), TxError> {
        // Check both sides before writing either.
        let to_balance = self.balance(to, asset);
        if from != to {
            to_balance
                .checked_add(amount)
                .ok_or_else(|| TxError::Overflow(describe(asset)))?;
        }
        self.debit(from, asset, amount)?;
        self.credit(to, asset, amount)
    }

    fn balance(&self, key: &PublicKey, asset: &Asset) -> Amount {
        self.accounts
            .get(key)
            .and_then(|a| a.balances.get(asset))
            .copied()
            .unwrap_or(Amount::ZERO)
    }

    fn debit(&mut self, key: &PublicKey, asset: &Asset, amount: Amount) -> Result<(), TxError> {
        if amount == Amount::ZERO {
            return Err(TxError::ZeroAmount);
        }
        let balance = self.balance(key, asset);
        let left = balance
            .checked_sub(amount)
            .ok_or_else(|| TxError::InsufficientBalance {
                asset: describe(asset),
                balance,
                amount,
            })?;
        let account = self.accounts.entry(*key).or_default();
        if left == Amount::ZERO {
            account.balances.remove(asset);
        } else {
            account.balances.insert(asset.clone(), left);
        }
        Ok(())
    }

    pub(crate) fn credit(
        &mut self,
        key: &PublicKey,
        asset: &Asset,
        amount: Amount,
    ) -> Result<(), TxError> {
        if amount == Amount::ZERO {
            return Err(TxError::ZeroAmount);
        }
        let total = self
            .balance(key, asset)
            .checked_add(amount)
            .ok_or_else(|| TxError::Overflow(describe(asset)))?;
        self.accounts
            .entry(*key)
            .or_default()
            .balances
            .insert(asset.clone(), total);
        Ok(())
    }

    fn check_mint(
        &self,
        deposit: &crate::tx::Deposit,
        attestations: &[(u16, crypto::Signature)],
    ) -> Result<(), TxError> {
        if self.minted.contains(&deposit.id) {
            return Err(TxError::DuplicateMint(format!(
                "{}:{}:{}",
                deposit.id.hostchain, deposit.id.tx, deposit.id.index
            )));
        }
        if !self.sets.ever_hostchain(&deposit.id.hostchain) {
            return Err(TxError::UnknownHostchain(deposit.id.hostchain.clone()));
        }
        if deposit.amount == Amount::ZERO {
            return Err(TxError::ZeroAmount);
        }
        let relayers = self.relayers();
        let digest = deposit.attestation_digest(self.symbiote);
        let mut previous: Option<u16> = None;
        let mut entries = Vec::with_capacity(attestations.len());
        for (position, (index, signature)) in attestations.iter().enumerate() {
            if previous.is_some_and(|p| p >= *index) {
                return Err(TxError::BadAttestation {
                    position,
                    reason: "relayer indices must be strictly increasing".into(),
                });
            }
            previous = Some(*index);
            let relayer = relayers
                .get(*index)
                .ok_or_else(|| TxError::BadAttestation {
                    position,
                    reason: format!("no relayer at index {index}"),
                })?;
            entries.push((relayer.key, digest, *signature));
        }
        if attestations.len() < usize::from(relayers.threshold) {
            return Err(TxError::MintThreshold {
                valid: attestations.len(),
                threshold: relayers.threshold,
            });
        }
        crypto::verify_batch(&entries).map_err(|e| TxError::BadAttestation {
            position: match e {
                crypto::CryptoError::BadSignatureInBatch { position } => position,
                _ => 0,
            },
            reason: "the relayer's signature does not verify".into(),
        })
    }
}

fn describe(asset: &Asset) -> String {
    match asset {
        Asset::Native => "native".into(),
        Asset::Wrapped { hostchain, token } => format!("{hostchain}:{token}"),
    }
}

/// Checks a governance change on its own (sets well formed).
pub(crate) fn validate_change(change: &GovernanceChange) -> Result<(), TxError> {
    match change {
        GovernanceChange::Hostchains(chains) => {
            let unique: BTreeSet<_> = chains.iter().collect();
            if unique.len() != chains.len() {
                return Err(TxError::InvalidChange("a hostchain is listed twice".into()));
            }
            Ok(())
        }
        GovernanceChange::Relayers(set) => set.validate().map_err(TxError::InvalidChange),
        // A ValidatorSet can only be decoded or built valid.
        GovernanceChange::Validators(_) => Ok(()),
        // Checked against the state when proposed (`check_hold_change`).
        GovernanceChange::ReleaseHold(_) | GovernanceChange::RefundHold(_) => Ok(()),
    }
}

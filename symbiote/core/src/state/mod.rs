//! The symbiote's deterministic state machine: balances, bridge mints and withdrawal orders,
//! and governance of the hostchain, relayer and validator sets.
//!
//! The state is an authenticated key-value store ([`tree`]: a Jellyfish Merkle tree hashed with
//! blake3 in the symbiote's domain); its entries are listed in [`keys`]. Every node applies the
//! same finalized blocks to the same genesis and gets the same entries and
//! [`ChainState::root`], which each block header carries, so that any entry can be proven
//! against a verified header ([`proof`]).
//!
//! A block is executed in an overlay of its writes ([`Execution`]): its cost grows with the
//! entries it changes, not with the size of the state, and a refused transaction leaves nothing
//! behind. The result ([`StateUpdate`]) holds the tree's new nodes; it is written to the store
//! only when the block is committed. Governance changes take effect at their activation height:
//! a change that activates at height `A` is applied when block `A - 1` ends, so block `A` is the
//! first one produced, signed and anchored under it.

mod execution;
pub mod keys;
pub mod proof;
pub mod tree;
mod values;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use borsh::BorshDeserialize;
use jmt::storage::TreeUpdateBatch;

use crate::crypto::PublicKey;
use crate::hash::Hash;
use crate::tx::{
    Asset, DepositId, GovernanceChange, ProposalId, RelayerSet, SignedTransaction, borsh_bytes,
};
use crate::types::{Height, HostchainId, Nonce, SymbioteId};
use crate::validators::ValidatorSet;

pub use crate::genesis::Genesis;
pub use crate::governance::{History, Proposal, ProposalStatus, SetHistory};
pub use execution::Execution;
pub use keys::{Entry, Meta, STATE_FORMAT_VERSION, StateKey};
pub use proof::{StateProof, StateProofError};
pub use tree::{MemoryStore, StateReader, StateStore, StorageError};
pub use values::*;

use keys::decode_value;
use tree::EmptyReader;

/// The state of one symbiote after some block: a handle on one version of the state tree in a
/// [`StateStore`], with the entries every block needs (counters and sets) decoded.
///
/// Cloning it is cheap and shares the store. Reads go to the store at this state's version: a
/// store that keeps only the latest version refuses reads of a handle it has moved past.
#[derive(Clone)]
pub struct ChainState {
    store: Arc<dyn StateStore>,
    root: Hash,
    meta: Meta,
    sets: Arc<SetHistory>,
}

impl fmt::Debug for ChainState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainState")
            .field("height", &self.meta.height)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// Two states are equal when they are the same version of the same entries (the root commits
/// to every entry).
impl PartialEq for ChainState {
    fn eq(&self, other: &Self) -> bool {
        self.root == other.root && self.meta == other.meta
    }
}

impl Eq for ChainState {}

/// What applying a block (or genesis) produced, before it is written anywhere: the tree's new
/// nodes and values, the new root, and the decoded counters and sets of the next state.
///
/// Nothing is written until [`StateUpdate::commit_to`] (or [`ChainState::commit`]); a node
/// writes [`StateUpdate::batch`] to its database first.
#[derive(Clone, Debug)]
pub struct StateUpdate {
    root: Hash,
    meta: Meta,
    sets: Arc<SetHistory>,
    batch: TreeUpdateBatch,
    effects: Vec<Effect>,
}

impl StateUpdate {
    /// The block this update is the state after.
    pub fn height(&self) -> Height {
        self.meta.height
    }

    /// The new state root.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// The validator set that signs the block after it.
    pub fn validators(&self) -> &ValidatorSet {
        self.sets.validators()
    }

    /// The tree's new nodes and values, and the nodes they make stale.
    pub fn batch(&self) -> &TreeUpdateBatch {
        &self.batch
    }

    /// What each transaction did.
    pub fn effects(&self) -> &[Effect] {
        &self.effects
    }

    /// Writes the update to `store` (whose latest version must be the one before it) and
    /// returns the new state.
    pub fn commit_to(self, store: Arc<dyn StateStore>) -> Result<ChainState, StateError> {
        store.write(self.meta.height.get(), &self.batch)?;
        Ok(ChainState {
            store,
            root: self.root,
            meta: self.meta,
            sets: self.sets,
        })
    }
}

impl ChainState {
    /// The genesis state (height 0), not yet written anywhere.
    pub fn genesis_update(genesis: &Genesis) -> Result<StateUpdate, StateError> {
        genesis.validate().map_err(StateError::Genesis)?;
        let mut accounts: BTreeMap<PublicKey, Account> = BTreeMap::new();
        for (key, amount) in &genesis.balances {
            let account = accounts.entry(*key).or_default();
            let balance = account.balances.entry(Asset::Native).or_default();
            *balance = balance
                .checked_add(*amount)
                .ok_or_else(|| StateError::Genesis(format!("balance of {key} overflows")))?;
        }
        let meta = Meta {
            format: STATE_FORMAT_VERSION,
            symbiote: genesis.symbiote_id(),
            height: Height::new(0),
            next_withdrawal: Nonce::new(1),
            next_proposal: ProposalId(1),
            open_proposals: BTreeSet::new(),
        };
        let sets = SetHistory::genesis(
            genesis.validators.clone(),
            genesis.hostchains.clone(),
            genesis.relayers.clone(),
        );
        let mut writes = BTreeMap::new();
        writes.insert(StateKey::Meta.key_hash(), Some(borsh_bytes(&meta)));
        writes.insert(StateKey::Sets.key_hash(), Some(borsh_bytes(&sets)));
        for (key, account) in &accounts {
            writes.insert(
                StateKey::Account(*key).key_hash(),
                Some(borsh_bytes(account)),
            );
        }
        let (root, batch) = tree::put(&EmptyReader, 0, writes)?;
        Ok(StateUpdate {
            root,
            meta,
            sets: Arc::new(sets),
            batch,
            effects: Vec::new(),
        })
    }

    /// The genesis state, written to `store` (which must be empty).
    pub fn genesis(genesis: &Genesis, store: Arc<dyn StateStore>) -> Result<Self, StateError> {
        Self::genesis_update(genesis)?.commit_to(store)
    }

    /// The genesis state in a new in-memory store that keeps every version.
    pub fn in_memory(genesis: &Genesis) -> Result<Self, StateError> {
        Self::genesis(genesis, MemoryStore::with_history())
    }

    /// The state after block `height` in `store`.
    pub fn open(store: Arc<dyn StateStore>, height: Height) -> Result<Self, StateError> {
        let version = height.get();
        let root = tree::root_of(store.as_ref(), version)?;
        let read = |key: &StateKey| -> Result<Vec<u8>, StateError> {
            store.value(version, key.key_hash())?.ok_or_else(|| {
                StateError::Storage(StorageError::Corrupt {
                    key: key.to_string(),
                    reason: format!("missing at version {version}"),
                })
            })
        };
        let meta: Meta = decode_value(&StateKey::Meta, &read(&StateKey::Meta)?)?;
        if meta.format != STATE_FORMAT_VERSION {
            return Err(StateError::Format {
                found: meta.format,
                supported: STATE_FORMAT_VERSION,
            });
        }
        if meta.height != height {
            return Err(StateError::Storage(StorageError::Corrupt {
                key: StateKey::Meta.to_string(),
                reason: format!("says height {} at version {version}", meta.height),
            }));
        }
        let sets: SetHistory = decode_value(&StateKey::Sets, &read(&StateKey::Sets)?)?;
        Ok(ChainState {
            store,
            root,
            meta,
            sets: Arc::new(sets),
        })
    }

    /// The store this state reads from.
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    /// The symbiote this state belongs to.
    pub fn symbiote(&self) -> SymbioteId {
        self.meta.symbiote
    }

    /// The height of the last applied block.
    pub fn height(&self) -> Height {
        self.meta.height
    }

    /// The root of the state tree, stored in each block header.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// The chain's counters and open proposals.
    pub fn meta(&self) -> &Meta {
        &self.meta
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

    /// The raw value of an entry (its borsh encoding), if the state has it.
    pub fn value(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.store.value(self.meta.height.get(), key.key_hash())?)
    }

    fn entry<T: BorshDeserialize>(&self, key: &StateKey) -> Result<Option<T>, StateError> {
        self.value(key)?
            .map(|bytes| decode_value(key, &bytes).map_err(StateError::from))
            .transpose()
    }

    /// An account (default: empty, nonce 0).
    pub fn account(&self, key: &PublicKey) -> Result<Account, StateError> {
        Ok(self.entry(&StateKey::Account(*key))?.unwrap_or_default())
    }

    /// Whether a deposit has been minted.
    pub fn is_minted(&self, deposit: &DepositId) -> Result<bool, StateError> {
        Ok(self.value(&StateKey::Minted(deposit.clone()))?.is_some())
    }

    /// The attestations of a deposit that is not minted yet.
    pub fn pending_mint(&self, deposit: &DepositId) -> Result<Vec<PendingMint>, StateError> {
        Ok(self
            .entry(&StateKey::PendingMint(deposit.clone()))?
            .unwrap_or_default())
    }

    /// The relayers' signatures of the hostchain message with digest `subject`.
    pub fn cosignatures(&self, subject: &Hash) -> Result<BTreeMap<PublicKey, Vec<u8>>, StateError> {
        Ok(self
            .entry(&StateKey::Cosignatures(*subject))?
            .unwrap_or_default())
    }

    /// A withdrawal order.
    pub fn withdrawal(&self, nonce: Nonce) -> Result<Option<WithdrawalOrder>, StateError> {
        self.entry(&StateKey::Withdrawal(nonce))
    }

    /// Withdrawal orders with nonce `from` or later, at most `limit`.
    pub fn withdrawals(
        &self,
        from: Nonce,
        limit: usize,
    ) -> Result<Vec<WithdrawalOrder>, StateError> {
        let mut orders = Vec::new();
        let mut nonce = from.max(Nonce::new(1));
        while nonce < self.meta.next_withdrawal && orders.len() < limit {
            orders.extend(self.withdrawal(nonce)?);
            let Some(next) = nonce.next() else { break };
            nonce = next;
        }
        Ok(orders)
    }

    /// A proposal.
    pub fn proposal(&self, id: ProposalId) -> Result<Option<Proposal>, StateError> {
        self.entry(&StateKey::Proposal(id))
    }

    /// Proposals from id `from` on, oldest first, at most `limit`.
    pub fn proposals(&self, from: ProposalId, limit: usize) -> Result<Vec<Proposal>, StateError> {
        let mut proposals = Vec::new();
        let mut id = from.0.max(1);
        while id < self.meta.next_proposal.0 && proposals.len() < limit {
            proposals.extend(self.proposal(ProposalId(id))?);
            id += 1;
        }
        Ok(proposals)
    }

    /// Proves entry `key` in this state.
    pub fn prove(&self, key: &StateKey) -> Result<StateProof, StateError> {
        Ok(proof::prove(
            self.store.as_ref(),
            self.meta.height.get(),
            key,
        )?)
    }

    /// Starts executing the block at `height`, which must follow this state's height.
    pub fn begin(&self, height: Height) -> Result<Execution<'_>, StateError> {
        let expected = self.meta.height.next().ok_or(StateError::WrongHeight {
            expected: self.meta.height,
            got: height,
        })?;
        if height != expected {
            return Err(StateError::WrongHeight {
                expected,
                got: height,
            });
        }
        Ok(Execution::new(self, height))
    }

    /// Executes a block's transactions at `height` and ends the block; every transaction must
    /// be accepted. Writes nothing: the result is committed with [`ChainState::commit`].
    pub fn execute_block(
        &self,
        height: Height,
        transactions: &[SignedTransaction],
    ) -> Result<StateUpdate, StateError> {
        let mut execution = self.begin(height)?;
        for (index, tx) in transactions.iter().enumerate() {
            execution.apply(tx).map_err(|error| match error {
                TxError::Storage(e) => StateError::Storage(e),
                error => StateError::Transaction {
                    index,
                    tx: tx.hash(),
                    error,
                },
            })?;
        }
        execution.finish()
    }

    /// Writes `update` (executed on this state) to this state's store and moves to it.
    pub fn commit(&mut self, update: StateUpdate) -> Result<(), StateError> {
        let expected = self.meta.height.next();
        if expected != Some(update.height()) {
            return Err(StateError::WrongHeight {
                expected: expected.unwrap_or(self.meta.height),
                got: update.height(),
            });
        }
        *self = update.commit_to(self.store.clone())?;
        Ok(())
    }

    /// Applies a block's transactions at `height` (which must follow the state's height) and
    /// ends the block. All or nothing: on error the state is unchanged.
    pub fn apply_block(
        &mut self,
        height: Height,
        transactions: &[SignedTransaction],
    ) -> Result<Vec<Effect>, StateError> {
        let update = self.execute_block(height, transactions)?;
        let effects = update.effects.clone();
        self.commit(update)?;
        Ok(effects)
    }

    /// Checks that `tx` would be accepted in the next block, without changing anything.
    pub fn check_transaction(&self, tx: &SignedTransaction) -> Result<(), TxError> {
        let height = self
            .meta
            .height
            .next()
            .ok_or(TxError::CounterOverflow("height"))?;
        let mut execution = Execution::new(self, height);
        execution.apply(tx).map(|_| ())
    }
}

pub(crate) fn describe(asset: &Asset) -> String {
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

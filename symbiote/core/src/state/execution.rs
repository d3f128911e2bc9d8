//! Executing one block: transactions read the state through an overlay of the block's writes
//! and their own, so a transaction that fails is undone by dropping its own writes, never by
//! copying the state. Ending the block turns the block's writes into the tree's next version.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use borsh::{BorshDeserialize, BorshSerialize};
use jmt::{KeyHash, OwnedValue};

use crate::crypto::{self, PublicKey};
use crate::governance::SetHistory;
use crate::state::keys::{Meta, StateKey, decode_value};
use crate::state::tree;
use crate::state::{
    Account, ChainState, Effect, StateError, StateUpdate, TxError, WithdrawalOrder,
    WithdrawalStatus, describe,
};
use crate::tx::{Asset, Deposit, SignedTransaction, Transaction, borsh_bytes};
use crate::types::{Amount, Height, HostchainId};
use crate::validators::ValidatorSet;

/// One block being executed on a state.
pub struct Execution<'s> {
    /// The state before the block.
    base: &'s ChainState,
    /// The block's height.
    height: Height,
    /// The counters as the block has left them so far.
    pub(crate) meta: Meta,
    /// The sets; owned once the block's end changed them.
    pub(crate) sets: Cow<'s, SetHistory>,
    /// Entries written by the block's accepted transactions (`None`: deleted).
    block: HashMap<KeyHash, Option<OwnedValue>>,
    /// Entries written by the transaction being applied.
    pending: HashMap<KeyHash, Option<OwnedValue>>,
    /// What each accepted transaction did.
    effects: Vec<Effect>,
}

impl<'s> Execution<'s> {
    pub(crate) fn new(base: &'s ChainState, height: Height) -> Self {
        Execution {
            base,
            height,
            meta: base.meta.clone(),
            sets: Cow::Borrowed(base.sets.as_ref()),
            block: HashMap::new(),
            pending: HashMap::new(),
            effects: Vec::new(),
        }
    }

    /// The block's height.
    pub fn height(&self) -> Height {
        self.height
    }

    /// How many transactions were accepted so far.
    pub fn accepted(&self) -> usize {
        self.effects.len()
    }

    /// Applies one transaction. On error nothing it wrote remains and the block goes on as if
    /// it had not been tried. [`TxError::Storage`] is the store's failure, not the
    /// transaction's: the block cannot be executed.
    pub fn apply(&mut self, tx: &SignedTransaction) -> Result<Effect, TxError> {
        let meta = self.meta.clone();
        match self.apply_transaction(tx) {
            Ok(effect) => {
                self.block.extend(self.pending.drain());
                self.effects.push(effect.clone());
                Ok(effect)
            }
            Err(error) => {
                self.pending.clear();
                self.meta = meta;
                Err(error)
            }
        }
    }

    /// Ends the block (governance re-counts and activations) and computes the tree's next
    /// version. Writes nothing.
    pub fn finish(mut self) -> Result<StateUpdate, StateError> {
        self.end_block().map_err(|e| match e {
            TxError::Storage(e) => StateError::Storage(e),
            other => StateError::Storage(tree::StorageError::Tree(format!(
                "ending block {}: {other}",
                self.height
            ))),
        })?;
        self.meta.height = self.height;
        let meta = self.meta.clone();
        self.write(&StateKey::Meta, Some(&meta));
        if let Cow::Owned(sets) = &self.sets {
            let sets = sets.clone();
            self.write(&StateKey::Sets, Some(&sets));
        }
        self.block.extend(self.pending.drain());
        let writes: BTreeMap<KeyHash, Option<OwnedValue>> = self.block.into_iter().collect();
        let (root, batch) = tree::put(self.base.store.as_ref(), self.height.get(), writes)?;
        Ok(StateUpdate {
            root,
            meta: self.meta,
            sets: match self.sets {
                Cow::Borrowed(_) => self.base.sets.clone(),
                Cow::Owned(sets) => std::sync::Arc::new(sets),
            },
            batch,
            effects: self.effects,
        })
    }

    /// The sets in force.
    pub(crate) fn sets(&self) -> &SetHistory {
        &self.sets
    }

    /// The relayer set in force.
    pub(crate) fn relayers(&self) -> &crate::tx::RelayerSet {
        self.sets.relayers()
    }

    /// The validator set in force.
    pub(crate) fn validators(&self) -> &ValidatorSet {
        self.sets.validators()
    }

    fn hostchains(&self) -> &[HostchainId] {
        self.sets.hostchains()
    }

    /// Reads an entry as the block and the transaction have left it.
    pub(crate) fn read<T: BorshDeserialize>(&self, key: &StateKey) -> Result<Option<T>, TxError> {
        let hash = key.key_hash();
        let written = self.pending.get(&hash).or_else(|| self.block.get(&hash));
        let stored;
        let bytes = match written {
            Some(value) => value.as_deref(),
            None => {
                stored = self
                    .base
                    .store
                    .value(self.base.meta.height.get(), hash)
                    .map_err(TxError::Storage)?;
                stored.as_deref()
            }
        };
        bytes
            .map(|b| decode_value(key, b).map_err(TxError::Storage))
            .transpose()
    }

    /// Writes an entry (`None`: deletes it) in the transaction's overlay.
    pub(crate) fn write<T: BorshSerialize>(&mut self, key: &StateKey, value: Option<&T>) {
        self.pending
            .insert(key.key_hash(), value.map(|v| borsh_bytes(v)));
    }

    /// An account as the block has left it so far.
    pub fn account(&self, key: &PublicKey) -> Result<Account, TxError> {
        Ok(self.read(&StateKey::Account(*key))?.unwrap_or_default())
    }

    fn put_account(&mut self, key: &PublicKey, account: &Account) {
        let value = (account != &Account::default()).then_some(account);
        self.write(&StateKey::Account(*key), value);
    }

    pub(crate) fn withdrawal(
        &self,
        nonce: crate::types::Nonce,
    ) -> Result<Option<WithdrawalOrder>, TxError> {
        self.read(&StateKey::Withdrawal(nonce))
    }

    pub(crate) fn put_withdrawal(&mut self, order: &WithdrawalOrder) {
        self.write(&StateKey::Withdrawal(order.nonce), Some(order));
    }

    fn apply_transaction(&mut self, tx: &SignedTransaction) -> Result<Effect, TxError> {
        let height = self.height;
        tx.verify_signature(self.meta.symbiote)
            .map_err(|e| TxError::BadSignature(e.to_string()))?;
        let expected = self.account(&tx.sender)?.nonce;
        if tx.nonce != expected {
            return Err(TxError::NonceMismatch {
                expected,
                got: tx.nonce,
            });
        }
        let next_nonce = expected.next().ok_or(TxError::CounterOverflow("nonce"))?;
        let effect = match &tx.body {
            Transaction::Transfer { to, asset, amount } => {
                if *to != tx.sender {
                    self.balance(to, asset)?
                        .checked_add(*amount)
                        .ok_or_else(|| TxError::Overflow(describe(asset)))?;
                }
                self.debit(&tx.sender, asset, *amount)?;
                self.credit(to, asset, *amount)?;
                Effect::Transferred
            }
            Transaction::Mint {
                deposit,
                attestations,
            } => {
                self.check_mint(deposit, attestations)?;
                self.credit(&deposit.recipient, &deposit.asset(), deposit.amount)?;
                self.mark_minted(deposit);
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
                let nonce = self.meta.next_withdrawal;
                let following = nonce.next().ok_or(TxError::CounterOverflow("withdrawal"))?;
                self.debit(&tx.sender, &asset, *amount)?;
                self.put_withdrawal(&WithdrawalOrder {
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
                });
                self.meta.next_withdrawal = following;
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
        let mut sender = self.account(&tx.sender)?;
        sender.nonce = next_nonce;
        self.put_account(&tx.sender, &sender);
        Ok(effect)
    }

    /// Records a deposit as minted in this block and drops its pending attestations.
    pub(crate) fn mark_minted(&mut self, deposit: &Deposit) {
        let height = self.height;
        self.write(&StateKey::Minted(deposit.id.clone()), Some(&height));
        self.write::<()>(&StateKey::PendingMint(deposit.id.clone()), None);
    }

    pub(crate) fn is_minted(&self, deposit: &crate::tx::DepositId) -> Result<bool, TxError> {
        Ok(self
            .read::<Height>(&StateKey::Minted(deposit.clone()))?
            .is_some())
    }

    fn balance(&self, key: &PublicKey, asset: &Asset) -> Result<Amount, TxError> {
        Ok(self
            .account(key)?
            .balances
            .get(asset)
            .copied()
            .unwrap_or(Amount::ZERO))
    }

    fn debit(&mut self, key: &PublicKey, asset: &Asset, amount: Amount) -> Result<(), TxError> {
        if amount == Amount::ZERO {
            return Err(TxError::ZeroAmount);
        }
        let mut account = self.account(key)?;
        let balance = account.balances.get(asset).copied().unwrap_or(Amount::ZERO);
        let left = balance
            .checked_sub(amount)
            .ok_or_else(|| TxError::InsufficientBalance {
                asset: describe(asset),
                balance,
                amount,
            })?;
        if left == Amount::ZERO {
            account.balances.remove(asset);
        } else {
            account.balances.insert(asset.clone(), left);
        }
        self.put_account(key, &account);
        Ok(())
    }

    /// Credits `amount`; on error (zero, overflow) nothing is written.
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
            .balance(key, asset)?
            .checked_add(amount)
            .ok_or_else(|| TxError::Overflow(describe(asset)))?;
        let mut account = self.account(key)?;
        account.balances.insert(asset.clone(), total);
        self.put_account(key, &account);
        Ok(())
    }

    fn check_mint(
        &self,
        deposit: &Deposit,
        attestations: &[(u16, crypto::Signature)],
    ) -> Result<(), TxError> {
        if self.is_minted(&deposit.id)? {
            return Err(TxError::DuplicateMint(format!(
                "{}:{}:{}",
                deposit.id.hostchain, deposit.id.tx, deposit.id.index
            )));
        }
        if !self.sets().ever_hostchain(&deposit.id.hostchain) {
            return Err(TxError::UnknownHostchain(deposit.id.hostchain.clone()));
        }
        if deposit.amount == Amount::ZERO {
            return Err(TxError::ZeroAmount);
        }
        let relayers = self.relayers();
        let digest = deposit.attestation_digest(self.meta.symbiote);
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

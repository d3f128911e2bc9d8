//! What relayers publish on the symbiote so that several operators cooperate without talking
//! to each other: attestations of hostchain deposits (a deposit is minted once a threshold of
//! the relayer set has attested it), approvals of releases (each carries the relayer's
//! hostchain signature, so whoever submits a release collects a threshold of them from state),
//! and holds of releases whose destination a scout found suspicious or malicious (only
//! governance lifts a hold or refunds the order).
//!
//! These transactions are lenient where relayers race each other and strict where a relayer is
//! wrong: attesting a deposit that is already minted, approving an order that was refunded, or
//! repeating one's own entry changes nothing and does not fail the transaction (so that a
//! relayer's later transactions, which carry later nonces, are never stuck behind it); an
//! entry that names no order, a zero amount or an unknown hostchain fails it.

use std::collections::{BTreeMap, BTreeSet};

use crate::crypto::PublicKey;
use crate::state::keys::StateKey;
use crate::state::{Effect, Execution, PendingMint, TxError, WithdrawalStatus};
use crate::tx::{
    Cosignature, Deposit, GovernanceChange, HoldNotice, MAX_BATCH_ENTRIES,
    MAX_RELEASE_SIGNATURE_LEN, ReleaseApproval,
};
use crate::types::{Amount, Nonce};

impl Execution<'_> {
    fn require_relayer(&self, key: &PublicKey) -> Result<(), TxError> {
        match self.relayers().index_of(key) {
            Some(_) => Ok(()),
            None => Err(TxError::NotARelayer(*key)),
        }
    }

    fn check_batch(count: usize) -> Result<(), TxError> {
        if count == 0 || count > MAX_BATCH_ENTRIES {
            return Err(TxError::TooManyEntries {
                count,
                max: MAX_BATCH_ENTRIES,
            });
        }
        Ok(())
    }

    /// Records `sender`'s attestations and mints every deposit whose content now has a
    /// threshold of attesters in the current relayer set.
    pub(crate) fn attest(
        &mut self,
        sender: &PublicKey,
        deposits: &[Deposit],
    ) -> Result<Effect, TxError> {
        self.require_relayer(sender)?;
        Self::check_batch(deposits.len())?;
        // Every check before the first write.
        let mut seen = BTreeSet::new();
        for (position, deposit) in deposits.iter().enumerate() {
            let bad = |reason: String| TxError::BadEntry { position, reason };
            if !seen.insert(&deposit.id) {
                return Err(bad("the deposit is listed twice".into()));
            }
            if deposit.amount == Amount::ZERO {
                return Err(bad("the amount is zero".into()));
            }
            if !self.sets().ever_hostchain(&deposit.id.hostchain) {
                return Err(bad(format!(
                    "hostchain {} has never been in the hostchain set",
                    deposit.id.hostchain
                )));
            }
        }
        let members: BTreeSet<PublicKey> = self.relayers().members.iter().map(|r| r.key).collect();
        let threshold = usize::from(self.relayers().threshold);
        let mut recorded = 0;
        let mut minted = Vec::new();
        for deposit in deposits {
            if self.is_minted(&deposit.id)? {
                continue;
            }
            let key = StateKey::PendingMint(deposit.id.clone());
            let mut pending: Vec<PendingMint> = self.read(&key)?.unwrap_or_default();
            // An attester stands by one content per deposit: a new one replaces its earlier
            // one, so the entry holds at most one content per relayer.
            for other in pending.iter_mut().filter(|p| &p.deposit != deposit) {
                other.attesters.remove(sender);
            }
            pending.retain(|p| !p.attesters.is_empty() || &p.deposit == deposit);
            let index = match pending.iter().position(|p| &p.deposit == deposit) {
                Some(index) => index,
                None => {
                    pending.push(PendingMint {
                        deposit: deposit.clone(),
                        attesters: BTreeSet::new(),
                    });
                    pending.len() - 1
                }
            };
            let Some(entry) = pending.get_mut(index) else {
                continue;
            };
            if entry.attesters.insert(*sender) {
                recorded += 1;
            }
            let valid = entry.attesters.intersection(&members).count();
            self.write(&key, Some(&pending));
            // A credit only fails on overflow: then the deposit stays pending (attested, not
            // minted) instead of failing every attester's transaction.
            if valid >= threshold
                && self
                    .credit(&deposit.recipient, &deposit.asset(), deposit.amount)
                    .is_ok()
            {
                self.mark_minted(deposit);
                minted.push(deposit.id.clone());
            }
        }
        Ok(Effect::Attested { recorded, minted })
    }

    /// Records `sender`'s approvals of releases.
    pub(crate) fn approve_releases(
        &mut self,
        sender: &PublicKey,
        approvals: &[ReleaseApproval],
    ) -> Result<Effect, TxError> {
        self.require_relayer(sender)?;
        Self::check_batch(approvals.len())?;
        let mut seen = BTreeSet::new();
        for (position, approval) in approvals.iter().enumerate() {
            let bad = |reason: String| TxError::BadEntry { position, reason };
            if !seen.insert(approval.nonce) {
                return Err(bad("the order is listed twice".into()));
            }
            if approval.signature.len() > MAX_RELEASE_SIGNATURE_LEN {
                return Err(bad(format!(
                    "a {}-byte signature is longer than {MAX_RELEASE_SIGNATURE_LEN}",
                    approval.signature.len()
                )));
            }
        }
        let mut recorded = 0;
        for approval in approvals {
            let mut order = self
                .withdrawal(approval.nonce)?
                .ok_or(TxError::UnknownWithdrawal(approval.nonce))?;
            if order.status == WithdrawalStatus::Refunded {
                continue;
            }
            if order.approvals.get(sender) != Some(approval) {
                order.approvals.insert(*sender, approval.clone());
                self.put_withdrawal(&order);
                recorded += 1;
            }
        }
        Ok(Effect::ReleasesApproved(recorded))
    }

    /// Records `sender`'s holds: a held order is not released until governance decides.
    pub(crate) fn hold_releases(
        &mut self,
        sender: &PublicKey,
        holds: &[HoldNotice],
    ) -> Result<Effect, TxError> {
        self.require_relayer(sender)?;
        Self::check_batch(holds.len())?;
        let mut seen = BTreeSet::new();
        for (position, hold) in holds.iter().enumerate() {
            if !seen.insert(hold.nonce) {
                return Err(TxError::BadEntry {
                    position,
                    reason: "the order is listed twice".into(),
                });
            }
        }
        let mut recorded = 0;
        for hold in holds {
            let mut order = self
                .withdrawal(hold.nonce)?
                .ok_or(TxError::UnknownWithdrawal(hold.nonce))?;
            // Governance has decided on this order: a scout no longer holds it.
            if matches!(
                order.status,
                WithdrawalStatus::Refunded | WithdrawalStatus::HoldLifted
            ) {
                continue;
            }
            if order.holds.get(sender) != Some(hold) {
                order.holds.insert(*sender, hold.clone());
                recorded += 1;
            }
            order.status = WithdrawalStatus::Held;
            self.put_withdrawal(&order);
        }
        Ok(Effect::ReleasesHeld(recorded))
    }

    /// Records `sender`'s signatures of hostchain messages. Members of earlier relayer sets may
    /// publish too: a rotation of a hostchain contract is signed by the set it replaces.
    pub(crate) fn cosign(
        &mut self,
        sender: &PublicKey,
        entries: &[Cosignature],
    ) -> Result<Effect, TxError> {
        if !self
            .sets()
            .relayers
            .iter()
            .any(|(_, set)| set.index_of(sender).is_some())
        {
            return Err(TxError::NotARelayer(*sender));
        }
        Self::check_batch(entries.len())?;
        let mut seen = BTreeSet::new();
        for (position, entry) in entries.iter().enumerate() {
            let bad = |reason: String| TxError::BadEntry { position, reason };
            if !seen.insert(entry.subject) {
                return Err(bad("the subject is listed twice".into()));
            }
            if entry.signature.is_empty() || entry.signature.len() > MAX_RELEASE_SIGNATURE_LEN {
                return Err(bad(format!(
                    "a signature of {} bytes (1 to {MAX_RELEASE_SIGNATURE_LEN})",
                    entry.signature.len()
                )));
            }
        }
        let mut recorded = 0;
        for entry in entries {
            let key = StateKey::Cosignatures(entry.subject);
            let mut by: BTreeMap<PublicKey, Vec<u8>> = self.read(&key)?.unwrap_or_default();
            if by.get(sender) != Some(&entry.signature) {
                by.insert(*sender, entry.signature.clone());
                self.write(&key, Some(&by));
                recorded += 1;
            }
        }
        Ok(Effect::Cosigned(recorded))
    }

    /// Checks, when it is proposed, that a hold decision names a held order.
    pub(crate) fn check_hold_change(&self, change: &GovernanceChange) -> Result<(), TxError> {
        let nonce = match change {
            GovernanceChange::ReleaseHold(nonce) | GovernanceChange::RefundHold(nonce) => *nonce,
            _ => return Ok(()),
        };
        let order = self
            .withdrawal(nonce)?
            .ok_or(TxError::UnknownWithdrawal(nonce))?;
        if order.status != WithdrawalStatus::Held {
            return Err(TxError::NotHeld {
                nonce,
                status: order.status,
            });
        }
        Ok(())
    }

    /// Puts an activated hold decision in force. An order that is no longer held (decided by
    /// an earlier proposal) is left as it is.
    pub(crate) fn decide_hold(&mut self, nonce: Nonce, refund: bool) -> Result<(), TxError> {
        let Some(mut order) = self.withdrawal(nonce)? else {
            return Ok(());
        };
        if order.status != WithdrawalStatus::Held {
            return Ok(());
        }
        // Refunding re-credits what the burn debited; it only fails on overflow, and then the
        // order stays held.
        if refund
            && self
                .credit(&order.burner, &order.asset(), order.amount)
                .is_err()
        {
            return Ok(());
        }
        order.status = if refund {
            WithdrawalStatus::Refunded
        } else {
            WithdrawalStatus::HoldLifted
        };
        self.put_withdrawal(&order);
        Ok(())
    }
}

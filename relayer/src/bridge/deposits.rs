//! One deposit stage per hostchain with a bridge: scans the bridge for deposits past their
//! confirmation depth, stores them with the scan cursor (atomically), attests them on the
//! symbiote, and follows them until minted.
//!
//! - `seen`: stored; this relayer's attestation is published in the next `Attest`
//!   transaction (up to [`MAX_BATCH_ENTRIES`] deposits each), unless the symbiote already
//!   has it or the deposit is minted;
//! - `attested`: waiting for a threshold of the relayer set; if this relayer's attestation is
//!   no longer on the symbiote (a relayer-set change cleared nothing, but a lost transaction
//!   can), back to `seen`;
//! - `minted`: done. `unroutable`: named no valid symbiote account; listed for a refund.
//!
//! A deposit is minted at most once because the symbiote refuses a second mint of the same
//! (hostchain, transaction, event index); the relayer's store only avoids needless work.

use std::sync::Arc;

use chain_adapters::HostchainAdapter;
use symbiote::tx::{DepositId, MAX_BATCH_ENTRIES, Transaction};
use symbiote::types::HostchainId;
use symbiote::verified::DepositView;
use tokio_util::sync::CancellationToken;

use super::BridgeContext;
use super::publisher::PublishError;
use crate::retry::StepError;
use crate::store::{DepositRow, DepositState};

/// Most scan steps per pass (each is bounded by the adapter).
const MAX_SCANS_PER_PASS: usize = 20;

/// Watches one hostchain's bridge and gets its deposits minted.
#[derive(Clone)]
pub struct DepositStage {
    /// What every bridge stage shares.
    pub ctx: Arc<BridgeContext>,
    /// The hostchain.
    pub hostchain: HostchainId,
    /// Its adapter (which has a deposit watcher).
    pub adapter: Arc<dyn HostchainAdapter>,
}

impl DepositStage {
    /// Scans until the cursor stops moving; returns how many deposits were new.
    pub async fn scan(&self) -> Result<u64, StepError> {
        let Some(watcher) = self.adapter.deposits() else {
            return Ok(0);
        };
        let mut cursor = self.ctx.store.deposit_cursor(&self.hostchain).await?;
        let mut added = 0;
        for _ in 0..MAX_SCANS_PER_PASS {
            let scan = watcher.scan_deposits(&cursor).await?;
            added += self
                .ctx
                .store
                .record_scan(&self.hostchain, &scan.deposits, &scan.next)
                .await?;
            if scan.next == cursor {
                break;
            }
            cursor = scan.next;
        }
        if added > 0 {
            tracing::info!(hostchain = %self.hostchain, added, "deposits seen");
        }
        Ok(added)
    }

    /// Attests what this relayer has not attested yet, and follows attested deposits.
    pub async fn attest(&self) -> Result<(), StepError> {
        let me = self.ctx.publisher.key().public();
        let limit = i64::try_from(MAX_BATCH_ENTRIES).unwrap_or(256);
        // Attested deposits: minted yet, or is this relayer's attestation gone?
        let attested = self
            .ctx
            .store
            .deposits_in(&self.hostchain, DepositState::Attested, 1_000)
            .await?;
        let ids: Vec<DepositId> = attested.iter().map(DepositRow::deposit_id).collect();
        let replies = self.replies(&ids).await?;
        let mut minted = Vec::new();
        let mut lost = Vec::new();
        for (row, reply) in attested.iter().zip(&replies) {
            if reply.minted.is_some() {
                minted.push(row.id);
            } else if !reply.pending.iter().any(|p| p.attesters.contains(&me)) {
                lost.push(row.id);
            }
        }
        self.finish(&minted, DepositState::Attested).await?;
        self.ctx
            .store
            .move_deposits(
                &lost,
                DepositState::Attested,
                DepositState::Seen,
                None,
                "this relayer's attestation is not on the symbiote; attesting again",
            )
            .await?;

        let seen = self
            .ctx
            .store
            .deposits_in(&self.hostchain, DepositState::Seen, limit)
            .await?;
        let mut routable: Vec<(&DepositRow, symbiote::tx::Deposit)> = Vec::new();
        for row in &seen {
            if let Some(deposit) = row.deposit() {
                routable.push((row, deposit));
            }
        }
        let ids: Vec<_> = routable.iter().map(|(_, d)| d.id.clone()).collect();
        let replies = self.replies(&ids).await?;
        let mut to_attest: Vec<(&DepositRow, symbiote::tx::Deposit)> = Vec::new();
        let mut already_minted = Vec::new();
        let mut already_attested = Vec::new();
        for ((row, deposit), reply) in routable.into_iter().zip(&replies) {
            if reply.minted.is_some() {
                already_minted.push(row.id);
            } else if reply
                .pending
                .iter()
                .any(|p| p.deposit == deposit && p.attesters.contains(&me))
            {
                already_attested.push(row.id);
            } else {
                to_attest.push((row, deposit));
            }
        }
        self.finish(&already_minted, DepositState::Seen).await?;
        self.ctx
            .store
            .move_deposits(
                &already_attested,
                DepositState::Seen,
                DepositState::Attested,
                None,
                "already attested on the symbiote",
            )
            .await?;
        if to_attest.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = to_attest.iter().map(|(row, _)| row.id).collect();
        let deposits = to_attest.into_iter().map(|(_, d)| d).collect();
        match self
            .ctx
            .publisher
            .publish(Transaction::Attest { deposits })
            .await
        {
            Ok(hash) => {
                tracing::info!(hostchain = %self.hostchain, count = ids.len(), tx = %hash, "deposits attested");
                self.ctx
                    .store
                    .move_deposits(
                        &ids,
                        DepositState::Seen,
                        DepositState::Attested,
                        Some(&hash),
                        &format!("attested in symbiote transaction {hash}"),
                    )
                    .await?;
                Ok(())
            }
            // Another process of this key took the nonce: look again next pass.
            Err(PublishError::Superseded(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// What the verified state says of `ids`, in the same order.
    async fn replies(&self, ids: &[DepositId]) -> Result<Vec<DepositView>, StepError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.ctx.state.deposits(ids).await
    }

    async fn finish(&self, ids: &[i64], from: DepositState) -> Result<(), StepError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.ctx
            .store
            .move_deposits(
                ids,
                from,
                DepositState::Minted,
                None,
                "minted on the symbiote",
            )
            .await?;
        self.ctx
            .metrics
            .deposits_minted
            .inc_by(u64::try_from(ids.len()).unwrap_or(0));
        Ok(())
    }

    /// One pass: scan, then attest.
    pub async fn step(&self) -> Result<(), StepError> {
        self.scan().await?;
        self.attest().await
    }

    /// Runs until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        super::run_stage(&self.ctx, "deposits", &self.hostchain, shutdown, || {
            self.step()
        })
        .await
    }
}

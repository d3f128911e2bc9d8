//! One anchorer per hostchain: drives each anchor through
//! pending -> prepared -> broadcast -> included -> final, writing each state to the store
//! before acting on the hostchain.
//!
//! - `pending`: prepare (build and sign) the transaction, store it, then send it.
//! - `prepared`: send the stored transaction (after a crash: the same transaction).
//! - `broadcast` / `included`: the [`Tracker`] follows every transaction stored for the anchor
//!   (the original and its replacements). Included past the depth: `final`. Reorged out: sent
//!   again, back to `broadcast`. Not included after `replace_after_seconds`: replaced by a
//!   fee-bumped transaction (stored before it is sent), `prepared` then `broadcast` again.
//!   Every transaction dropped: back to `pending`, prepared anew.
//!
//! Failures follow the shared [`RetryPolicy`]: backoff, and `failed` after several failures
//! that cannot heal by themselves, for an operator. Anchors are prepared in sequence order: a
//! later one is not prepared while an earlier one of the same hostchain still waits to be
//! prepared, which keeps EVM nonces and Bitcoin change chains in order.

use std::sync::Arc;

use chain_adapters::{AnchorRequest, HostchainAdapter, PreparedTx};
use symbiote::anchor::AnchorPayload;
use symbiote::types::{HostchainId, SymbioteId};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::retry::{Failure, Retry, RetryPolicy, StepError};
use crate::store::{AnchorRow, AnchorState, Store, StoreError, now_ms};
use crate::tracker::{Progress, Sent, Tracker, Watch};

/// Drives the anchors of one hostchain.
#[derive(Clone)]
pub struct HostchainAnchorer {
    /// The hostchain.
    pub hostchain: HostchainId,
    /// Its adapter.
    pub adapter: Arc<dyn HostchainAdapter>,
    /// Anchors and their transactions.
    pub store: Store,
    /// Sends and follows the anchors' transactions.
    pub tracker: Tracker,
    /// Backoff, and when to give an anchor up.
    pub retry: RetryPolicy,
    /// How often to look at the anchors.
    pub poll: std::time::Duration,
    /// The relayer's own symbiote.
    pub symbiote: SymbioteId,
    /// Counters.
    pub metrics: Metrics,
}

/// How many of the newest final anchors of a hostchain are rechecked against its main chain.
pub const FINAL_RECHECK_ANCHORS: i64 = 16;
/// Final anchors are rechecked every this many passes.
pub const FINAL_RECHECK_EVERY: u64 = 10;

impl HostchainAnchorer {
    /// One pass over the open anchors.
    pub async fn step(&self) -> Result<(), StoreError> {
        let now = now_ms();
        let mut earlier_unprepared = false;
        for anchor in self.store.open_anchors(&self.hostchain).await? {
            if anchor.state == AnchorState::Pending && earlier_unprepared {
                continue;
            }
            if anchor.next_attempt_at > now {
                earlier_unprepared |= anchor.state == AnchorState::Pending;
                continue;
            }
            if let Err(e) = self.advance(&anchor).await {
                self.failed(&anchor, &e).await?;
            }
            if let Some(current) = self.store.anchor(anchor.id).await? {
                earlier_unprepared |= current.state == AnchorState::Pending;
            }
        }
        Ok(())
    }

    /// Rechecks the newest final anchors: one whose transaction is no longer where it was
    /// stored (a reorg deeper than the confirmation depth) is reported at error and followed
    /// again from where it is now: re-sent if it left the chain, its position updated if it is
    /// elsewhere. The stored position is never left stale.
    pub async fn recheck_final(&self) -> Result<(), StoreError> {
        for anchor in self
            .store
            .recent_final_anchors(&self.hostchain, FINAL_RECHECK_ANCHORS)
            .await?
        {
            if let Err(e) = self.recheck(&anchor).await {
                self.metrics.failure(self.hostchain.as_str(), &e);
                tracing::warn!(anchor = %anchor.id, hostchain = %self.hostchain, error = %e, "cannot recheck a final anchor");
            }
        }
        Ok(())
    }

    async fn recheck(&self, anchor: &AnchorRow) -> Result<(), StepError> {
        let (Some(id), Some(inclusion)) = (&anchor.tx_id, &anchor.inclusion) else {
            return Ok(());
        };
        let purpose = anchor.purpose();
        let progress = self
            .tracker
            .follow(Watch {
                purpose: &purpose,
                seen: Some((id.as_str(), inclusion)),
                waiting_since: anchor.state_since,
                stored_since: None,
            })
            .await?;
        if let Progress::Included {
            tx_id,
            inclusion: now,
            fin: true,
            ..
        } = &progress
            && tx_id == id
            && now == inclusion
        {
            return Ok(());
        }
        tracing::error!(anchor = %anchor.id, hostchain = %self.hostchain, sequence = %anchor.sequence, tx = %id, block = inclusion.height, block_hash = %inclusion.block_hash, "a final anchor is no longer where it was final: reorg deeper than the confirmation depth; anchoring again");
        self.metrics.final_anchors_reorged.inc();
        self.apply(anchor, progress).await
    }

    async fn failed(&self, anchor: &AnchorRow, error: &StepError) -> Result<(), StoreError> {
        self.metrics.failure(self.hostchain.as_str(), error);
        let failures = anchor.attempts + 1;
        match self.retry.after(failures, error.is_retryable()) {
            Retry::GiveUp => {
                tracing::error!(anchor = %anchor.id, hostchain = %self.hostchain, error = %error, "anchor failed for good");
                self.store
                    .move_anchor(
                        anchor,
                        AnchorState::Failed,
                        None,
                        anchor.inclusion.as_ref(),
                        anchor.confirmations,
                        &error.to_string(),
                    )
                    .await
            }
            Retry::After(wait) => {
                tracing::warn!(anchor = %anchor.id, hostchain = %self.hostchain, error = %error, retry_in_s = wait.as_secs(), "anchor step failed");
                let wait_ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
                self.store
                    .record_failure(anchor, &error.to_string(), now_ms().saturating_add(wait_ms))
                    .await
            }
        }
    }

    async fn request(&self, anchor: &AnchorRow) -> Result<AnchorRequest, StepError> {
        let (commitment, aggregate) = self
            .store
            .batch_contents(anchor.batch_id)
            .await?
            .ok_or_else(|| {
                StepError::Inconsistent(format!(
                    "anchor {}: batch {} missing",
                    anchor.id, anchor.batch_id
                ))
            })?;
        Ok(AnchorRequest {
            symbiote: self.symbiote,
            payload: AnchorPayload {
                sequence: anchor.sequence,
                root: aggregate.root(),
            },
            from: commitment.from,
            to: commitment.to,
            cosignatures: Vec::new(),
        })
    }

    async fn latest_tx(&self, anchor: &AnchorRow) -> Result<PreparedTx, StepError> {
        self.store
            .anchor_txs(anchor)
            .await?
            .into_iter()
            .next()
            .map(|stored| stored.tx)
            .ok_or_else(|| {
                StepError::Inconsistent(format!("anchor {}: no prepared transaction", anchor.id))
            })
    }

    /// Moves one anchor as far as it can go now.
    async fn advance(&self, anchor: &AnchorRow) -> Result<(), StepError> {
        match anchor.state {
            AnchorState::Pending => {
                let request = self.request(anchor).await?;
                let tx = self.adapter.anchorer().prepare_anchor(&request).await?;
                self.store.record_prepared(anchor, &tx, "prepared").await?;
                self.send(&anchor.with_state(AnchorState::Prepared), &tx)
                    .await
            }
            AnchorState::Prepared => {
                let tx = self.latest_tx(anchor).await?;
                self.send(anchor, &tx).await
            }
            AnchorState::Broadcast | AnchorState::Included => self.follow(anchor).await,
            AnchorState::Final | AnchorState::Failed => Ok(()),
        }
    }

    /// Sends the stored transaction of a `prepared` anchor.
    async fn send(&self, prepared: &AnchorRow, tx: &PreparedTx) -> Result<(), StepError> {
        let (to, reason) = match self.tracker.send(&prepared.purpose(), tx).await? {
            Sent::Sent => (AnchorState::Broadcast, format!("sent {}", tx.id)),
            Sent::Dropped { reason } => (
                AnchorState::Pending,
                format!("dropped ({reason}); preparing again"),
            ),
        };
        let tx_id = (to == AnchorState::Broadcast).then_some(tx.id.as_str());
        self.store
            .move_anchor(prepared, to, tx_id, None, 0, &reason)
            .await?;
        Ok(())
    }

    async fn follow(&self, anchor: &AnchorRow) -> Result<(), StepError> {
        let purpose = anchor.purpose();
        let seen = match (&anchor.tx_id, &anchor.inclusion, anchor.state) {
            (Some(id), Some(inclusion), AnchorState::Included) => Some((id.as_str(), inclusion)),
            _ => None,
        };
        let progress = self
            .tracker
            .follow(Watch {
                purpose: &purpose,
                seen,
                waiting_since: anchor.state_since,
                // Every transaction ever prepared for the anchor may be the one included.
                stored_since: None,
            })
            .await?;
        self.apply(anchor, progress).await
    }

    /// Records what following `anchor`'s transactions found.
    async fn apply(&self, anchor: &AnchorRow, progress: Progress) -> Result<(), StepError> {
        match progress {
            Progress::Waiting { .. } => Ok(()),
            Progress::Included {
                tx_id,
                inclusion,
                confirmations,
                fin,
            } => {
                let to = if fin {
                    AnchorState::Final
                } else {
                    AnchorState::Included
                };
                let reason = format!(
                    "{tx_id} in block {} ({confirmations} confirmations)",
                    inclusion.height
                );
                self.store
                    .move_anchor(
                        anchor,
                        to,
                        Some(&tx_id),
                        Some(&inclusion),
                        confirmations,
                        &reason,
                    )
                    .await?;
                if fin && anchor.state != AnchorState::Final {
                    self.metrics.anchors_final.inc();
                    let lag = now_ms().saturating_sub(anchor.state_since);
                    tracing::info!(anchor = %anchor.id, hostchain = %self.hostchain, tx = %tx_id, lag_ms = lag, "anchor final");
                }
                Ok(())
            }
            Progress::Resent { tx_id, why } => {
                let reason = format!("{tx_id} {why}; sent again");
                self.store
                    .move_anchor(
                        anchor,
                        AnchorState::Broadcast,
                        Some(&tx_id),
                        None,
                        0,
                        &reason,
                    )
                    .await?;
                Ok(())
            }
            Progress::Dropped { reasons } => {
                let reason = format!("dropped ({reasons}); preparing again");
                self.store
                    .move_anchor(anchor, AnchorState::Pending, None, None, 0, &reason)
                    .await?;
                Ok(())
            }
            Progress::Replaced { old, new, waited } => {
                let reason = format!(
                    "{old} not included after {}s; replaced by {}",
                    waited.as_secs(),
                    new.id
                );
                self.store.record_prepared(anchor, &new, &reason).await?;
                self.store
                    .move_anchor(
                        &anchor.with_state(AnchorState::Prepared),
                        AnchorState::Broadcast,
                        Some(&new.id),
                        None,
                        0,
                        &format!("sent {}", new.id),
                    )
                    .await?;
                Ok(())
            }
        }
    }

    /// Drives anchors until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut passes: u64 = 0;
        loop {
            if let Err(e) = self.step().await {
                self.metrics.failure(self.hostchain.as_str(), &e);
                tracing::error!(hostchain = %self.hostchain, error = %e, "anchorer cannot read its anchors");
            }
            passes = passes.wrapping_add(1);
            if passes.is_multiple_of(FINAL_RECHECK_EVERY)
                && let Err(e) = self.recheck_final().await
            {
                self.metrics.failure(self.hostchain.as_str(), &e);
                tracing::error!(hostchain = %self.hostchain, error = %e, "anchorer cannot read its final anchors");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
    }
}

//! Settlement: the submitted release (or the payment of a queued one) is followed by the
//! [`Tracker`](crate::tracker::Tracker) until final; then the hostchain says what it did with
//! the nonce: paid, queued by the bridge's limits, cancelled, or unused (the transaction did
//! not release: submitted again). A release that another relayer submitted first is recorded
//! the same way.

use chain_adapters::ReleaseState;

use super::ReleaseStage;
use crate::retry::StepError;
use crate::store::{ReleaseRow, ReleaseStep, TxPurpose, now_ms};
use crate::tracker::{Progress, Watch};

impl ReleaseStage {
    /// `submitted` / `executing`: follows the stored transactions.
    pub(super) async fn settle(&self, row: &ReleaseRow) -> Result<(), StepError> {
        let executing = row.state == ReleaseStep::Executing;
        let (purpose, back) = if executing {
            (
                TxPurpose::ExecuteQueued(row.nonce),
                ReleaseStep::QueuedOnChain,
            )
        } else {
            (TxPurpose::Release(row.nonce), ReleaseStep::Approved)
        };
        // This submission's transactions only: an earlier one, dropped, must not be taken for
        // this one (a chain whose "released" check looks back a window only could pay again).
        let watch = Watch::submission(&purpose, row.state_since);
        let progress = self.tracker.follow(watch).await?;
        match progress {
            Progress::Included {
                fin: true,
                tx_id,
                inclusion,
                ..
            } => {
                let state = self.releaser()?.release_state(row.nonce).await?;
                let how = format!("{tx_id} in block {}", inclusion.height);
                if state == ReleaseState::Unused {
                    // Included but it did not use the nonce (it failed): submit again.
                    let reason = format!("{how} did not release; again");
                    return self.go(row, row.with_state(back), &reason).await;
                }
                if executing && matches!(state, ReleaseState::Queued { .. }) {
                    // The payment was included but did not pay (too early by the chain's
                    // clock, or paused): back to waiting, and another payment later.
                    let reason = format!("{how} did not pay the queued release; waiting again");
                    return self.go(row, row.with_state(back), &reason).await;
                }
                self.apply_state(row, state, &how).await.map(|_| ())
            }
            Progress::Included { .. } | Progress::Waiting { .. } | Progress::Resent { .. } => {
                Ok(())
            }
            Progress::Dropped { reasons } => {
                if self.settled(row).await? {
                    return Ok(());
                }
                let reason = format!("dropped ({reasons}); preparing again");
                self.go(row, row.with_state(back), &reason).await
            }
            Progress::Replaced { old, new, waited } => {
                let next = ReleaseRow {
                    tx_id: Some(new.id.clone()),
                    ..row.clone()
                };
                let reason = format!(
                    "{old} not included after {} s; replaced by {}",
                    waited.as_secs(),
                    new.id
                );
                self.ctx
                    .store
                    .record_release_tx(row, &next, &purpose, &new, &reason)
                    .await?;
                Ok(())
            }
        }
    }

    /// If the hostchain already settled the nonce (another relayer submitted), records it and
    /// returns true.
    pub(super) async fn settled(&self, row: &ReleaseRow) -> Result<bool, StepError> {
        let state = self.releaser()?.release_state(row.nonce).await?;
        self.apply_state(row, state, "submitted by another relayer")
            .await
    }

    /// Records what the hostchain did with the nonce; returns whether it did anything.
    async fn apply_state(
        &self,
        row: &ReleaseRow,
        state: ReleaseState,
        how: &str,
    ) -> Result<bool, StepError> {
        match state {
            ReleaseState::Unused => Ok(false),
            ReleaseState::Released => {
                self.ctx.metrics.releases_paid.inc();
                let next = ReleaseRow {
                    released_at: Some(now_ms()),
                    ..row.with_state(ReleaseStep::Released)
                };
                let reason = format!("paid on {} ({how})", self.hostchain);
                self.go(row, next, &reason).await?;
                Ok(true)
            }
            ReleaseState::Queued { release_after } => {
                if row.state == ReleaseStep::QueuedOnChain {
                    return Ok(false);
                }
                let next = ReleaseRow {
                    release_after: Some(i64::try_from(release_after).unwrap_or(i64::MAX)),
                    released_at: Some(now_ms()),
                    ..row.with_state(ReleaseStep::QueuedOnChain)
                };
                let reason =
                    format!("queued by the bridge's limits until {release_after} (unix s)");
                self.go(row, next, &reason).await?;
                Ok(true)
            }
            ReleaseState::Cancelled => {
                self.go(
                    row,
                    row.with_state(ReleaseStep::Failed),
                    "cancelled on the bridge by the relayers while queued",
                )
                .await?;
                Ok(true)
            }
        }
    }
}

//! Submission: once a threshold of the relayer set approved an order, the designated relayer
//! (the member at index `nonce mod members`) submits at once and any other member after
//! `takeover_seconds`; the release limits may hold it back first (`queued`). A release the
//! bridge itself queued (`queued_on_chain`) is paid with the bridge's queue once due by the
//! hostchain's clock.
//!
//! Limits, as in Wormhole's Governor: where the bridge has its own (an adapter with a
//! [`ReleaseQueue`](chain_adapters::ReleaseQueue)), the bridge queues and the relayer pays the
//! queued release once due; where it has none (Solana), the relayer's configured
//! `[bridge.limits]` hold the release in `queued` until its delay has passed. A second
//! submission is harmless on EVM chains (the bridge refuses a nonce twice; the gas estimate
//! fails first) and is checked against the vault's memos on Solana before sending.

use chain_adapters::{BridgeLimits, ErrorKind};
use symbiote::crypto::PublicKey;
use symbiote::state::WithdrawalOrder;
use symbiote::tx::RelayerSet;

use super::ReleaseStage;
use crate::retry::StepError;
use crate::store::{ReleaseRow, ReleaseStep, TxPurpose, now_ms};

const DAY_MS: i64 = 24 * 3600 * 1000;

/// The hostchain signatures of the other members of the current relayer set that approved
/// `order` (this relayer's own is added by its adapter).
fn collect(order: &WithdrawalOrder, relayers: &RelayerSet, me: &PublicKey) -> Vec<Vec<u8>> {
    relayers
        .members
        .iter()
        .filter(|r| &r.key != me)
        .filter_map(|r| order.approvals.get(&r.key))
        .map(|a| a.signature.clone())
        .collect()
}

impl ReleaseStage {
    /// `approved`: waits for a threshold, then for this relayer's turn and the limits, and
    /// submits.
    pub(super) async fn when_approved(
        &self,
        row: &ReleaseRow,
        order: &WithdrawalOrder,
        relayers: &RelayerSet,
    ) -> Result<(), StepError> {
        let me = self.ctx.publisher.key().public();
        if !order.approvals.contains_key(&me) {
            return self
                .go(
                    row,
                    row.with_state(ReleaseStep::Approving),
                    "this relayer's approval is not on the symbiote; approving again",
                )
                .await;
        }
        let signatures = collect(order, relayers, &me);
        if signatures.len() + 1 < usize::from(relayers.threshold) {
            return Ok(());
        }
        let ready_since = row.ready_since.unwrap_or_else(now_ms);
        let ready = ReleaseRow {
            ready_since: Some(ready_since),
            ..row.clone()
        };
        if row.ready_since.is_none() {
            self.ctx.store.save_release(row, &ready, "").await?;
        }
        let row = &ready;
        if self.settled(row).await? {
            return Ok(());
        }
        if !self.my_turn(row, relayers, &me, ready_since) {
            return Ok(());
        }
        if let Some(after) = self.limit_delay(row).await? {
            let next = ReleaseRow {
                release_after: Some(after),
                ..row.with_state(ReleaseStep::Queued)
            };
            let reason = format!("held back by the release limits until {after} (unix s)");
            return self.go(row, next, &reason).await;
        }
        self.submit(row, signatures).await
    }

    /// Whether this relayer submits now: the designated member at once, any other member once
    /// the order has had a threshold for `takeover_seconds`.
    fn my_turn(
        &self,
        row: &ReleaseRow,
        relayers: &RelayerSet,
        me: &PublicKey,
        ready_since: i64,
    ) -> bool {
        let members = u64::try_from(relayers.members.len().max(1)).unwrap_or(1);
        let index = usize::try_from(row.nonce.get() % members).unwrap_or(0);
        let designated = relayers.members.get(index).is_some_and(|r| &r.key == me);
        let takeover = i64::try_from(self.ctx.config.takeover_seconds.saturating_mul(1000))
            .unwrap_or(i64::MAX);
        designated || now_ms().saturating_sub(ready_since) >= takeover
    }

    /// `queued`: submits once the limits' delay has passed.
    pub(super) async fn when_due(
        &self,
        row: &ReleaseRow,
        order: &WithdrawalOrder,
        relayers: &RelayerSet,
    ) -> Result<(), StepError> {
        if self.settled(row).await? {
            return Ok(());
        }
        if now_ms() / 1000 < row.release_after.unwrap_or(0) {
            return Ok(());
        }
        let me = self.ctx.publisher.key().public();
        self.submit(row, collect(order, relayers, &me)).await
    }

    /// Until when the relayer's own release limits hold this release back (unix seconds), if
    /// they do. A bridge with its own limits queues by itself: nothing is held back here.
    async fn limit_delay(&self, row: &ReleaseRow) -> Result<Option<i64>, StepError> {
        if self.releaser()?.queue().is_some() {
            return Ok(None);
        }
        let key = (self.hostchain.clone(), row.token.clone());
        let Some(limit) = self.ctx.limits.get(&key) else {
            return Ok(None);
        };
        let since = now_ms().saturating_sub(DAY_MS);
        let window = self
            .ctx
            .store
            .released_since(&self.hostchain, &row.token, since)
            .await?;
        let limits = BridgeLimits {
            daily_cap: limit.daily_cap,
            large_transfer: limit.large_transfer,
            delay_seconds: limit.delay_seconds,
            released_in_window: window,
        };
        if !limits.would_queue(row.amount) {
            return Ok(None);
        }
        let delay = i64::try_from(limit.delay_seconds).unwrap_or(i64::MAX);
        Ok(Some((now_ms() / 1000).saturating_add(delay)))
    }

    /// Prepares, stores and sends the release.
    async fn submit(&self, row: &ReleaseRow, cosignatures: Vec<Vec<u8>>) -> Result<(), StepError> {
        let tx = match self
            .releaser()?
            .prepare_release(&Self::order(row, cosignatures))
            .await
        {
            Ok(tx) => tx,
            // Refused when executed: maybe another relayer's release came first.
            Err(e) if e.kind == ErrorKind::Rejected => {
                if self.settled(row).await? {
                    return Ok(());
                }
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        let reason = format!("release sent as {}", tx.id);
        let purpose = TxPurpose::Release(row.nonce);
        self.store_and_send(row, ReleaseStep::Submitted, purpose, tx, &reason)
            .await
    }

    /// Stores `tx` for `purpose` with the release's move to `step`, then sends it (one dropped
    /// at once is found so when it is followed).
    async fn store_and_send(
        &self,
        row: &ReleaseRow,
        step: ReleaseStep,
        purpose: TxPurpose,
        tx: chain_adapters::PreparedTx,
        reason: &str,
    ) -> Result<(), StepError> {
        let next = ReleaseRow {
            tx_id: Some(tx.id.clone()),
            ..row.with_state(step)
        };
        self.ctx
            .store
            .record_release_tx(row, &next, &purpose, &tx, reason)
            .await?;
        self.tracker.send(&purpose, &tx).await?;
        Ok(())
    }

    /// `queued_on_chain`: pays the release the bridge queued, once due by the hostchain's
    /// clock.
    pub(super) async fn execute_queued(&self, row: &ReleaseRow) -> Result<(), StepError> {
        if self.settled(row).await? {
            return Ok(());
        }
        let queue = self.releaser()?.queue().ok_or_else(|| {
            StepError::Inconsistent(format!(
                "release {} is queued on {}, whose bridge has no queue",
                row.nonce, self.hostchain
            ))
        })?;
        let now = i64::try_from(queue.time().await?).unwrap_or(i64::MAX);
        if now < row.release_after.unwrap_or(0) {
            return Ok(());
        }
        let tx = queue.prepare_execute(row.nonce).await?;
        let reason = format!("paying the queued release with {}", tx.id);
        let purpose = TxPurpose::ExecuteQueued(row.nonce);
        self.store_and_send(row, ReleaseStep::Executing, purpose, tx, &reason)
            .await
    }
}

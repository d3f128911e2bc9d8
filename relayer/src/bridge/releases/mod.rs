//! One release stage per hostchain with a bridge: takes the symbiote's withdrawal orders for
//! that hostchain, has the scout inspect each destination, publishes this relayer's approval
//! (with its hostchain signature) or hold on the symbiote, and, once a threshold of the relayer
//! set approved an order, submits the release with the approvals collected from symbiote
//! state and follows it until it is paid.
//!
//! States (`releases.state`, see [`ReleaseStep`]):
//! `scouting` -> `approving` -> `approved` -> (`queued`) -> `submitted` -> (`queued_on_chain`
//! -> `executing`) -> `released`, or `scouting` -> `holding` -> `held` -> (governance)
//! `approving` ... or `refunded`.
//!
//! One file per step:
//! - [`intake`]: the symbiote's new withdrawal orders become releases;
//! - [`scouting`]: the destination is inspected and a signed report decides approve or hold;
//! - [`approvals`]: approvals and holds are published on the symbiote, one transaction per
//!   pass; governance lifts and refunds are followed;
//! - [`submission`]: who submits, the release limits, and the submission itself (or the
//!   payment of a release the bridge queued);
//! - [`settlement`]: the submitted transaction is followed until the hostchain says what it
//!   did with the nonce.
//!
//! Every transaction is stored before it is sent and followed by the [`Tracker`]; a failing
//! step backs off by the shared retry policy and is never given up: the order stays on the
//! symbiote, and only governance refunds it.

mod approvals;
mod intake;
mod scouting;
mod settlement;
mod submission;

use std::sync::Arc;

use chain_adapters::{HostchainAdapter, ReleaseOrder, Releaser};
use symbiote::state::{WithdrawalOrder, WithdrawalStatus};
use symbiote::tx::RelayerSet;
use symbiote::types::{HostchainId, Nonce};
use tokio_util::sync::CancellationToken;

use super::BridgeContext;
use crate::retry::StepError;
use crate::store::{ReleaseRow, ReleaseStep, now_ms};
use crate::tracker::Tracker;
use approvals::Outbox;

/// Drives the releases of one hostchain.
#[derive(Clone)]
pub struct ReleaseStage {
    /// What every bridge stage shares.
    pub ctx: Arc<BridgeContext>,
    /// The hostchain.
    pub hostchain: HostchainId,
    /// Its adapter (which has a releaser).
    pub adapter: Arc<dyn HostchainAdapter>,
    /// Sends and follows the release transactions.
    pub tracker: Tracker,
}

impl ReleaseStage {
    /// One pass over the open releases.
    pub async fn step(&self) -> Result<(), StepError> {
        let state = self.ctx.state.at().await?;
        self.take_orders(&state).await?;
        let relayers = state.sets().await?.relayers.current().clone();
        let now = now_ms();
        let due: Vec<ReleaseRow> = self
            .ctx
            .store
            .open_releases(&self.hostchain)
            .await?
            .into_iter()
            .filter(|row| row.next_attempt_at <= now)
            .collect();
        let nonces: Vec<Nonce> = due.iter().map(|row| row.nonce).collect();
        let orders = state.withdrawals(&nonces).await?;
        let mut outbox = Outbox::default();
        for row in due {
            let Some(order) = orders.get(&row.nonce) else {
                return Err(StepError::Inconsistent(format!(
                    "withdrawal order {} is not on the symbiote",
                    row.nonce
                )));
            };
            // What is signed and paid comes from the stored row: it must be the proven order.
            let result = match same_order(&row, order) {
                Ok(()) => self.advance(&row, order, &relayers, &mut outbox).await,
                Err(e) => {
                    tracing::error!(hostchain = %self.hostchain, nonce = %row.nonce, error = %e, "stored release differs from the symbiote's order; not acting on it");
                    Err(e)
                }
            };
            if let Err(e) = result {
                self.failed(&row, &e).await?;
            }
        }
        self.publish(outbox).await
    }

    /// Moves one release as far as it can go now. Approvals and holds to publish are collected
    /// in `outbox` for one transaction per pass.
    async fn advance(
        &self,
        row: &ReleaseRow,
        order: &WithdrawalOrder,
        relayers: &RelayerSet,
        outbox: &mut Outbox,
    ) -> Result<(), StepError> {
        if self.follow_governance(row, order).await? {
            return Ok(());
        }
        match row.state {
            ReleaseStep::Scouting => self.scout_and_decide(row, order).await,
            ReleaseStep::Approving => self.approve(row, outbox).await,
            ReleaseStep::Holding => self.hold(row, outbox),
            ReleaseStep::Held => self.held(row, order).await,
            ReleaseStep::Approved => self.when_approved(row, order, relayers).await,
            ReleaseStep::Queued => self.when_due(row, order, relayers).await,
            ReleaseStep::QueuedOnChain => self.execute_queued(row).await,
            ReleaseStep::Submitted | ReleaseStep::Executing => self.settle(row).await,
            ReleaseStep::Released | ReleaseStep::Refunded | ReleaseStep::Failed => Ok(()),
        }
    }

    /// Governance decisions apply whatever this relayer was doing, except to a release already
    /// on its way on the hostchain. Returns whether one applied.
    async fn follow_governance(
        &self,
        row: &ReleaseRow,
        order: &WithdrawalOrder,
    ) -> Result<bool, StepError> {
        if !row.state.is_before_submission() {
            return Ok(false);
        }
        let holding = matches!(
            row.state,
            ReleaseStep::Held | ReleaseStep::Holding | ReleaseStep::Scouting
        );
        let (step, reason) = match order.status {
            WithdrawalStatus::Refunded => (
                ReleaseStep::Refunded,
                "refunded on the symbiote by governance",
            ),
            WithdrawalStatus::Held if !holding => (
                ReleaseStep::Held,
                "held on the symbiote by a relayer's scout",
            ),
            _ => return Ok(false),
        };
        self.go(row, row.with_state(step), reason).await?;
        Ok(true)
    }

    /// Records a failed step; the release is looked at again after the backoff.
    async fn failed(&self, row: &ReleaseRow, error: &StepError) -> Result<(), StepError> {
        self.ctx.metrics.failure(self.hostchain.as_str(), error);
        let attempts = row.attempts + 1;
        // Never given up: the order stays on the symbiote, where only governance refunds it.
        let wait = self.ctx.retry.backoff(attempts);
        let wait_ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
        tracing::warn!(hostchain = %self.hostchain, nonce = %row.nonce, error = %error, retry_in_ms = wait_ms, "release step failed");
        let next = ReleaseRow {
            attempts,
            last_error: Some(error.to_string()),
            next_attempt_at: now_ms().saturating_add(wait_ms),
            ..row.clone()
        };
        self.ctx.store.save_release(row, &next, "").await?;
        Ok(())
    }

    /// Writes `next` over `row`, clearing the failures, and logs a state change.
    async fn go(&self, row: &ReleaseRow, next: ReleaseRow, reason: &str) -> Result<(), StepError> {
        let next = ReleaseRow {
            attempts: 0,
            last_error: None,
            next_attempt_at: 0,
            ..next
        };
        if next.state != row.state {
            tracing::info!(hostchain = %self.hostchain, nonce = %row.nonce, from = %row.state, to = %next.state, reason, "release");
        }
        self.ctx.store.save_release(row, &next, reason).await?;
        Ok(())
    }

    /// What the hostchain's releaser is asked to pay.
    fn order(row: &ReleaseRow, cosignatures: Vec<Vec<u8>>) -> ReleaseOrder {
        ReleaseOrder {
            nonce: row.nonce,
            token: row.token.clone(),
            amount: row.amount,
            destination: row.destination.clone(),
            cosignatures,
        }
    }

    fn releaser(&self) -> Result<&dyn Releaser, StepError> {
        self.adapter.releaser().ok_or_else(|| {
            StepError::Inconsistent(format!("hostchain {} has no bridge", self.hostchain))
        })
    }

    /// Runs until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        super::run_stage(&self.ctx, "releases", &self.hostchain, shutdown, || {
            self.step()
        })
        .await
    }
}

/// Whether the stored release `row` says what the proven withdrawal order says.
fn same_order(row: &ReleaseRow, order: &WithdrawalOrder) -> Result<(), StepError> {
    let differs = [
        ("hostchain", row.hostchain != order.hostchain),
        ("token", row.token != order.token),
        ("amount", row.amount != order.amount),
        ("destination", row.destination != order.destination),
        ("burner", row.burner != order.burner),
        ("height", row.order_height != order.height),
    ];
    match differs.iter().find(|(_, d)| *d) {
        Some((field, _)) => Err(StepError::Inconsistent(format!(
            "the stored release {} has another {field} than the symbiote's withdrawal order",
            row.nonce
        ))),
        None => Ok(()),
    }
}

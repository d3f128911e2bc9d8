//! Approvals and holds: this relayer's approval (with its hostchain signature of the release)
//! or its scout's hold is published on the symbiote, one transaction of each per pass; a held
//! order waits for governance to lift the hold (back to approving) or refund it.

use symbiote::state::{WithdrawalOrder, WithdrawalStatus};
use symbiote::tx::{HoldNotice, MAX_BATCH_ENTRIES, ReleaseApproval, Transaction};
use symbiote::types::Nonce;

use super::ReleaseStage;
use crate::bridge::publisher::PublishError;
use crate::retry::StepError;
use crate::store::{ReleaseRow, ReleaseStep, ScoutDecision};

/// What one pass publishes: at most [`MAX_BATCH_ENTRIES`] approvals and as many holds.
#[derive(Default)]
pub(super) struct Outbox {
    approvals: Vec<ReleaseApproval>,
    holds: Vec<HoldNotice>,
}

impl ReleaseStage {
    /// `approving`: signs the release for the hostchain and queues the approval.
    pub(super) async fn approve(
        &self,
        row: &ReleaseRow,
        outbox: &mut Outbox,
    ) -> Result<(), StepError> {
        if outbox.approvals.len() >= MAX_BATCH_ENTRIES {
            return Ok(());
        }
        let signature = self
            .releaser()?
            .sign_release(&Self::order(row, Vec::new()))
            .await?
            .unwrap_or_default();
        outbox.approvals.push(ReleaseApproval {
            nonce: row.nonce,
            signature,
            report: row.report_hash,
        });
        Ok(())
    }

    /// `holding`: queues the hold with its report.
    pub(super) fn hold(&self, row: &ReleaseRow, outbox: &mut Outbox) -> Result<(), StepError> {
        if outbox.holds.len() >= MAX_BATCH_ENTRIES {
            return Ok(());
        }
        let report = row.report_hash.ok_or_else(|| {
            StepError::Inconsistent(format!("release {} is held without a report", row.nonce))
        })?;
        outbox.holds.push(HoldNotice {
            nonce: row.nonce,
            report,
            malicious: row.decision == Some(ScoutDecision::Malicious),
        });
        Ok(())
    }

    /// `held`: waits for governance; a lifted hold is approved after all.
    pub(super) async fn held(
        &self,
        row: &ReleaseRow,
        order: &WithdrawalOrder,
    ) -> Result<(), StepError> {
        if order.status != WithdrawalStatus::HoldLifted {
            return Ok(());
        }
        self.go(
            row,
            row.with_state(ReleaseStep::Approving),
            "hold lifted by governance",
        )
        .await
    }

    /// Publishes this pass's holds and approvals, and records them.
    pub(super) async fn publish(&self, outbox: Outbox) -> Result<(), StepError> {
        let held: Vec<Nonce> = outbox.holds.iter().map(|h| h.nonce).collect();
        let approved: Vec<Nonce> = outbox.approvals.iter().map(|a| a.nonce).collect();
        let holds = Transaction::HoldReleases {
            holds: outbox.holds,
        };
        let approvals = Transaction::ApproveReleases {
            approvals: outbox.approvals,
        };
        let publications = [
            (held, holds, ReleaseStep::Holding, ReleaseStep::Held, "hold"),
            (
                approved,
                approvals,
                ReleaseStep::Approving,
                ReleaseStep::Approved,
                "approval",
            ),
        ];
        for (nonces, body, from, to, what) in publications {
            if !nonces.is_empty() {
                self.publish_and_mark(body, &nonces, from, to, what).await?;
            }
        }
        Ok(())
    }

    /// Publishes `body` and moves the releases `nonces` from `from` to `to` once it is in a
    /// block; a transaction another process of this key overtook is looked at again next pass.
    async fn publish_and_mark(
        &self,
        body: Transaction,
        nonces: &[Nonce],
        from: ReleaseStep,
        to: ReleaseStep,
        what: &str,
    ) -> Result<(), StepError> {
        let hash = match self.ctx.publisher.publish(body).await {
            Ok(hash) => hash,
            Err(PublishError::Superseded(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let reason = format!("{what} published in symbiote transaction {hash}");
        for nonce in nonces {
            if let Some(row) = self.ctx.store.release(*nonce).await?
                && row.state == from
            {
                self.go(&row, row.with_state(to), &reason).await?;
            }
        }
        Ok(())
    }
}

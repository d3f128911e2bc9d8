//! Scouting: the destination of a new release is inspected by the hostchain's scout, the
//! relayer's policy turns the findings into a verdict, and the signed report is stored; the
//! verdict decides whether this relayer approves (`approving`) or holds (`holding`).

use chain_adapters::{Finding, Inspection, Severity};
use symbiote::state::{WithdrawalOrder, WithdrawalStatus};

use super::ReleaseStage;
use crate::retry::StepError;
use crate::scout::ScoutReport;
use crate::store::{ReleaseRow, ReleaseStep, ReportRow, ScoutDecision, now_ms};

impl ReleaseStage {
    /// `scouting`: inspect, sign the report, decide.
    pub(super) async fn scout_and_decide(
        &self,
        row: &ReleaseRow,
        order: &WithdrawalOrder,
    ) -> Result<(), StepError> {
        if order.status == WithdrawalStatus::HoldLifted {
            let next = ReleaseRow {
                decision: Some(ScoutDecision::Lifted),
                ..row.with_state(ReleaseStep::Approving)
            };
            return self.go(row, next, "hold lifted by governance").await;
        }
        let report = self.scout(row).await?;
        let verdict = report.body.verdict;
        let held = self.ctx.policy.holds(verdict);
        let next = ReleaseRow {
            decision: Some(verdict.into()),
            report_hash: Some(report.hash),
            ..row.with_state(if held {
                ReleaseStep::Holding
            } else {
                ReleaseStep::Approving
            })
        };
        if held {
            self.ctx.metrics.releases_held.inc();
        }
        let findings: Vec<&str> = report
            .body
            .findings()
            .filter(|f| f.severity != Severity::Info)
            .map(|f| f.code.as_str())
            .collect();
        let reason = format!(
            "scout: {verdict} ({}) report {}",
            findings.join(", "),
            report.hash
        );
        self.go(row, next, &reason).await
    }

    /// Inspects the destination, in its hostchain's canonical form (so that the configured
    /// lists match however the burner wrote it), and stores the signed report. A destination
    /// that is not an address of the hostchain can never be paid: it is held.
    async fn scout(&self, row: &ReleaseRow) -> Result<ScoutReport, StepError> {
        let unscouted = |address, finding| Inspection {
            address,
            block: 0,
            code_hash: None,
            followed: Vec::new(),
            findings: vec![finding],
        };
        let inspection = match self.adapter.canonical_address(row.destination.as_str()) {
            Err(e) => unscouted(
                row.destination.clone(),
                Finding::new(
                    "invalid-address",
                    Severity::Malicious,
                    format!("not an address of {}: {}", self.hostchain, e.message),
                ),
            ),
            Ok(address) => match self.adapter.scout() {
                Some(scout) => scout.inspect(&address, None).await?,
                None => unscouted(
                    address,
                    Finding::new(
                        "no-scout",
                        Severity::Info,
                        format!("hostchain {} has no scout", self.hostchain),
                    ),
                ),
            },
        };
        let report = ScoutReport::build(
            self.ctx.symbiote,
            &self.hostchain,
            inspection,
            &self.ctx.policy,
            Some(row.nonce),
            self.ctx.publisher.key(),
        )?;
        self.ctx
            .store
            .add_report(&ReportRow {
                hash: report.hash,
                hostchain: self.hostchain.clone(),
                address: report.body.address().clone(),
                block: report.body.block(),
                verdict: report.body.verdict,
                nonce: Some(row.nonce),
                report: report.to_text()?,
                created_at: now_ms(),
            })
            .await?;
        Ok(report)
    }
}

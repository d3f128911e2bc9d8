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
//! Who submits: the member of the relayer set at index `nonce mod members` at once; any other
//! member once the order has had a threshold of approvals for `takeover_seconds`. A second
//! submission is harmless on EVM chains (the bridge refuses a nonce twice; the gas estimate
//! fails first) and is checked against the vault's memos on Solana before sending. Every
//! transaction is stored before it is sent, and only sent again, never rebuilt, until the
//! hostchain says it is dropped and the nonce is still unused.
//!
//! Limits (as in Wormhole's Governor): where the bridge has its own (EVM `limitOf`), the
//! relayer reads them and predicts the queueing; the bridge queues and the relayer pays the
//! queued release with `executeQueued` once due. Where it has none (Solana), the relayer's
//! configured `[bridge.limits]` hold the release in `queued` until its delay has passed.

use std::sync::Arc;

use chain_adapters::{
    ErrorKind, HostchainAdapter, PreparedTx, ReleaseOrder, ReleaseState, TxStatus,
};
use symbiote::state::{WithdrawalOrder, WithdrawalStatus};
use symbiote::tx::{HoldNotice, MAX_BATCH_ENTRIES, RelayerSet, ReleaseApproval, Transaction};
use symbiote::types::{Nonce, TokenId};
use tokio_util::sync::CancellationToken;

use super::publisher::PublishError;
use super::{BridgeContext, BridgeError};
use crate::scout::{ScoutReport, Verdict};
use crate::store::{ReleaseRow, ReleaseStep, ReportRow, now_ms};

/// The key of this stage's withdrawal cursor in `deposit_cursors`.
fn cursor_key(hostchain: &str) -> String {
    format!("withdrawals:{hostchain}")
}

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Drives the releases of one hostchain.
#[derive(Clone)]
pub struct ReleaseStage {
    pub ctx: Arc<BridgeContext>,
    pub hostchain: String,
    pub adapter: Arc<dyn HostchainAdapter>,
}

impl ReleaseStage {
    /// Records the symbiote's new withdrawal orders for this hostchain.
    pub async fn take_orders(&self) -> Result<(), BridgeError> {
        let key = cursor_key(&self.hostchain);
        let mut next: u64 = match self.ctx.store.deposit_cursor(&key).await? {
            Some(text) => text
                .parse()
                .map_err(|_| BridgeError::Inconsistent(format!("withdrawal cursor '{text}'")))?,
            None => 1,
        };
        loop {
            let orders = self.ctx.node.withdrawals(Nonce::new(next), 100).await?;
            let Some(last) = orders.last().map(|o| o.nonce.get()) else {
                return Ok(());
            };
            for order in orders
                .iter()
                .filter(|o| o.hostchain.as_str() == self.hostchain)
            {
                if self.ctx.store.add_release(order).await? {
                    tracing::info!(hostchain = %self.hostchain, nonce = %order.nonce, amount = %order.amount, destination = %order.destination, "withdrawal order");
                }
            }
            next = last.saturating_add(1);
            self.ctx.store.set_cursor(&key, &next.to_string()).await?;
        }
    }

    /// One pass over the open releases.
    pub async fn step(&self) -> Result<(), BridgeError> {
        self.take_orders().await?;
        let governance = self.ctx.node.governance().await?;
        let relayers = governance.relayers.current().clone();
        let now = now_ms();
        let mut approvals = Vec::new();
        let mut holds = Vec::new();
        let due: Vec<ReleaseRow> = self
            .ctx
            .store
            .open_releases(&self.hostchain)
            .await?
            .into_iter()
            .filter(|row| row.next_attempt_at <= now)
            .collect();
        // Every order in one request per page.
        let mut orders = std::collections::BTreeMap::new();
        for page in due.chunks(symbiote::wire::MAX_PAGE) {
            let nonces: Vec<Nonce> = page.iter().map(|row| row.nonce).collect();
            for order in self.ctx.node.withdrawals_of(&nonces).await? {
                orders.insert(order.nonce, order);
            }
        }
        for row in due {
            let Some(order) = orders.get(&row.nonce) else {
                return Err(BridgeError::Inconsistent(format!(
                    "withdrawal order {} is not on the symbiote",
                    row.nonce
                )));
            };
            match self
                .advance(&row, order, &relayers, &mut approvals, &mut holds)
                .await
            {
                Ok(()) => {}
                Err(e) => self.failed(&row, &e).await?,
            }
        }
        self.publish(approvals, holds).await
    }

    async fn failed(&self, row: &ReleaseRow, error: &BridgeError) -> Result<(), BridgeError> {
        self.ctx.metrics.rpc_error(&self.hostchain, error.kind());
        let attempts = row.attempts + 1;
        let exponent = u32::try_from(attempts.min(10)).unwrap_or(10);
        let wait_ms = 500i64
            .saturating_mul(2i64.saturating_pow(exponent))
            .min(300_000);
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

    async fn go(
        &self,
        row: &ReleaseRow,
        next: ReleaseRow,
        reason: &str,
    ) -> Result<(), BridgeError> {
        let next = ReleaseRow {
            attempts: 0,
            last_error: None,
            next_attempt_at: 0,
            ..next
        };
        if next.state != row.state {
            tracing::info!(hostchain = %self.hostchain, nonce = %row.nonce, from = row.state.as_str(), to = next.state.as_str(), reason, "release");
        }
        self.ctx.store.save_release(row, &next, reason).await?;
        Ok(())
    }

    fn order(
        &self,
        row: &ReleaseRow,
        cosignatures: Vec<Vec<u8>>,
    ) -> Result<ReleaseOrder, BridgeError> {
        Ok(ReleaseOrder {
            nonce: row.nonce,
            token: TokenId::new(&row.token)
                .map_err(|e| BridgeError::Inconsistent(e.to_string()))?,
            amount: row.amount,
            destination: symbiote::types::HostAddress::new(&row.destination)
                .map_err(|e| BridgeError::Inconsistent(e.to_string()))?,
            cosignatures,
        })
    }

    /// Moves one release as far as it can go now. Approvals and holds to publish are collected
    /// for one transaction per pass.
    async fn advance(
        &self,
        row: &ReleaseRow,
        order: &WithdrawalOrder,
        relayers: &RelayerSet,
        approvals: &mut Vec<ReleaseApproval>,
        holds: &mut Vec<HoldNotice>,
    ) -> Result<(), BridgeError> {
        let me = self.ctx.publisher.key().public();
        // Governance decisions apply whatever this relayer was doing, except to a release
        // already on its way on the hostchain.
        let before_submission = matches!(
            row.state,
            ReleaseStep::Scouting
                | ReleaseStep::Approving
                | ReleaseStep::Holding
                | ReleaseStep::Held
                | ReleaseStep::Approved
                | ReleaseStep::Queued
        );
        if before_submission {
            if order.status == WithdrawalStatus::Refunded {
                return self
                    .go(
                        row,
                        with_state(row, ReleaseStep::Refunded),
                        "refunded on the symbiote by governance",
                    )
                    .await;
            }
            if order.status == WithdrawalStatus::Held
                && !matches!(
                    row.state,
                    ReleaseStep::Held | ReleaseStep::Holding | ReleaseStep::Scouting
                )
            {
                return self
                    .go(
                        row,
                        with_state(row, ReleaseStep::Held),
                        "held on the symbiote by a relayer's scout",
                    )
                    .await;
            }
        }
        match row.state {
            ReleaseStep::Scouting => {
                if order.status == WithdrawalStatus::HoldLifted {
                    let next = ReleaseRow {
                        verdict: Some("lifted".into()),
                        ..with_state(row, ReleaseStep::Approving)
                    };
                    return self.go(row, next, "hold lifted by governance").await;
                }
                let report = self.scout(row).await?;
                let verdict = report.body.verdict;
                let hash = report.hash.to_string();
                let held = self.ctx.policy.holds(verdict);
                let next = ReleaseRow {
                    verdict: Some(verdict.as_str().into()),
                    report_hash: Some(hash.clone()),
                    ..with_state(
                        row,
                        if held {
                            ReleaseStep::Holding
                        } else {
                            ReleaseStep::Approving
                        },
                    )
                };
                if held {
                    self.ctx.metrics.releases_held.inc();
                }
                let findings: Vec<&str> = report
                    .body
                    .findings()
                    .filter(|f| f.severity != chain_adapters::Severity::Info)
                    .map(|f| f.code.as_str())
                    .collect();
                self.go(
                    row,
                    next,
                    &format!("scout: {verdict} ({}) report {hash}", findings.join(", ")),
                )
                .await
            }
            ReleaseStep::Approving => {
                if approvals.len() < MAX_BATCH_ENTRIES {
                    let signature = self
                        .adapter_releaser()?
                        .sign_release(&self.order(row, Vec::new())?)
                        .await?
                        .unwrap_or_default();
                    approvals.push(ReleaseApproval {
                        nonce: row.nonce,
                        signature,
                        report: self.report_hash(row)?,
                    });
                }
                Ok(())
            }
            ReleaseStep::Holding => {
                if holds.len() < MAX_BATCH_ENTRIES {
                    holds.push(HoldNotice {
                        nonce: row.nonce,
                        report: self.report_hash(row)?,
                        malicious: row.verdict.as_deref() == Some(Verdict::Malicious.as_str()),
                    });
                }
                Ok(())
            }
            ReleaseStep::Held => match order.status {
                WithdrawalStatus::HoldLifted => {
                    self.go(
                        row,
                        with_state(row, ReleaseStep::Approving),
                        "hold lifted by governance",
                    )
                    .await
                }
                _ => Ok(()),
            },
            ReleaseStep::Approved => {
                if !order.approvals.contains_key(&me) {
                    return self
                        .go(
                            row,
                            with_state(row, ReleaseStep::Approving),
                            "this relayer's approval is not on the symbiote; approving again",
                        )
                        .await;
                }
                let signatures = collect(order, relayers, &me);
                let count = signatures.len() + 1;
                if count < usize::from(relayers.threshold) {
                    return Ok(());
                }
                let ready_since = row.ready_since.unwrap_or_else(now_ms);
                if row.ready_since.is_none() {
                    let next = ReleaseRow {
                        ready_since: Some(ready_since),
                        ..row.clone()
                    };
                    self.ctx.store.save_release(row, &next, "").await?;
                }
                let row = &ReleaseRow {
                    ready_since: Some(ready_since),
                    ..row.clone()
                };
                if self.settled(row).await? {
                    return Ok(());
                }
                let members = u64::try_from(relayers.members.len().max(1)).unwrap_or(1);
                let index = usize::try_from(row.nonce.get() % members).unwrap_or(0);
                let mine = relayers.members.get(index).is_some_and(|r| r.key == me);
                let waited = now_ms().saturating_sub(ready_since);
                let takeover = i64::try_from(self.ctx.config.takeover_seconds.saturating_mul(1000))
                    .unwrap_or(i64::MAX);
                if !mine && waited < takeover {
                    return Ok(());
                }
                if let Some(after) = self.limit_delay(row).await? {
                    let next = ReleaseRow {
                        release_after: Some(after),
                        ..with_state(row, ReleaseStep::Queued)
                    };
                    return self
                        .go(
                            row,
                            next,
                            &format!("held back by the release limits until {after} (unix s)"),
                        )
                        .await;
                }
                self.submit(row, signatures).await
            }
            ReleaseStep::Queued => {
                if self.settled(row).await? {
                    return Ok(());
                }
                let due = row.release_after.unwrap_or(0);
                if now_ms() / 1000 < due {
                    return Ok(());
                }
                let signatures = collect(order, relayers, &me);
                self.submit(row, signatures).await
            }
            ReleaseStep::Submitted | ReleaseStep::Executing => self.follow(row).await,
            ReleaseStep::QueuedOnChain => {
                if self.settled(row).await? {
                    return Ok(());
                }
                // The bridge's delay runs on the hostchain's clock.
                let due = row.release_after.unwrap_or(0);
                let now = match self.adapter_releaser()?.hostchain_time().await? {
                    Some(time) => i64::try_from(time).unwrap_or(i64::MAX),
                    None => now_ms() / 1000,
                };
                if now < due {
                    return Ok(());
                }
                let tx = self
                    .adapter_releaser()?
                    .prepare_execute_queued(row.nonce)
                    .await?;
                let next = ReleaseRow {
                    tx_id: Some(tx.id.clone()),
                    ..with_state(row, ReleaseStep::Executing)
                };
                self.ctx
                    .store
                    .record_release_tx(
                        row,
                        &next,
                        &tx,
                        &format!("paying the queued release with {}", tx.id),
                    )
                    .await?;
                self.adapter.anchorer().broadcast(&tx).await?;
                Ok(())
            }
            ReleaseStep::Released | ReleaseStep::Refunded | ReleaseStep::Failed => Ok(()),
        }
    }

    fn adapter_releaser(&self) -> Result<&dyn chain_adapters::Releaser, BridgeError> {
        self.adapter.releaser().ok_or_else(|| {
            BridgeError::Inconsistent(format!("hostchain {} has no bridge", self.hostchain))
        })
    }

    fn report_hash(&self, row: &ReleaseRow) -> Result<symbiote::hash::Hash, BridgeError> {
        match row.report_hash.as_deref() {
            Some(text) => text
                .parse()
                .map_err(|e| BridgeError::Inconsistent(format!("stored report hash: {e}"))),
            // Released by governance before this relayer scouted it: no report.
            None => Ok(symbiote::hash::Hash([0; 32])),
        }
    }

    /// Inspects the destination and stores the signed report.
    async fn scout(&self, row: &ReleaseRow) -> Result<ScoutReport, BridgeError> {
        let address = symbiote::types::HostAddress::new(&row.destination)
            .map_err(|e| BridgeError::Inconsistent(e.to_string()))?;
        let inspection = match self.adapter.scout() {
            Some(scout) => scout.inspect(&address, None).await?,
            None => chain_adapters::Inspection {
                address,
                block: 0,
                code_hash: None,
                followed: Vec::new(),
                findings: vec![chain_adapters::Finding {
                    code: "no-scout".into(),
                    severity: chain_adapters::Severity::Info,
                    detail: format!("hostchain {} has no scout", self.hostchain),
                }],
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
                hash: report.hash.to_string(),
                hostchain: self.hostchain.clone(),
                address: row.destination.clone(),
                block: report.body.block(),
                verdict: report.body.verdict.as_str().into(),
                nonce: Some(row.nonce.get()),
                report: String::from_utf8(report.to_bytes()?)
                    .map_err(|e| BridgeError::Inconsistent(e.to_string()))?,
                created_at: now_ms(),
            })
            .await?;
        Ok(report)
    }

    /// If the hostchain already settled the nonce (another relayer submitted), records it and
    /// returns true.
    async fn settled(&self, row: &ReleaseRow) -> Result<bool, BridgeError> {
        let state = self.adapter_releaser()?.release_state(row.nonce).await?;
        self.apply_state(row, state, "submitted by another relayer")
            .await
    }

    async fn apply_state(
        &self,
        row: &ReleaseRow,
        state: ReleaseState,
        how: &str,
    ) -> Result<bool, BridgeError> {
        match state {
            ReleaseState::Unused => Ok(false),
            ReleaseState::Released => {
                self.ctx.metrics.releases_paid.inc();
                let next = ReleaseRow {
                    released_at: Some(now_ms()),
                    ..with_state(row, ReleaseStep::Released)
                };
                self.go(row, next, &format!("paid on {} ({how})", self.hostchain))
                    .await?;
                Ok(true)
            }
            ReleaseState::Queued { release_after } => {
                if row.state == ReleaseStep::QueuedOnChain {
                    return Ok(false);
                }
                let next = ReleaseRow {
                    release_after: Some(i64::try_from(release_after).unwrap_or(i64::MAX)),
                    released_at: Some(now_ms()),
                    ..with_state(row, ReleaseStep::QueuedOnChain)
                };
                self.go(
                    row,
                    next,
                    &format!("queued by the bridge's limits until {release_after} (unix s)"),
                )
                .await?;
                Ok(true)
            }
            ReleaseState::Cancelled => {
                self.go(
                    row,
                    with_state(row, ReleaseStep::Failed),
                    "cancelled on the bridge by the relayers while queued",
                )
                .await?;
                Ok(true)
            }
        }
    }

    /// Until when the release limits hold this release back (unix seconds), if they do.
    async fn limit_delay(&self, row: &ReleaseRow) -> Result<Option<i64>, BridgeError> {
        let token =
            TokenId::new(&row.token).map_err(|e| BridgeError::Inconsistent(e.to_string()))?;
        // The bridge enforces its own limits (and queues): nothing to hold back here.
        if self
            .adapter_releaser()?
            .bridge_limits(&token)
            .await?
            .is_some()
        {
            return Ok(None);
        }
        let Some(limit) = self
            .ctx
            .config
            .limits
            .get(&format!("{}:{}", self.hostchain, row.token))
        else {
            return Ok(None);
        };
        let window = self
            .ctx
            .store
            .released_since(&self.hostchain, &row.token, now_ms().saturating_sub(DAY_MS))
            .await?;
        let limits = chain_adapters::BridgeLimits {
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
    async fn submit(
        &self,
        row: &ReleaseRow,
        cosignatures: Vec<Vec<u8>>,
    ) -> Result<(), BridgeError> {
        let releaser = self.adapter_releaser()?;
        let order = self.order(row, cosignatures)?;
        let tx = match releaser.prepare_release(&order).await {
            Ok(tx) => tx,
            Err(e) if e.kind == ErrorKind::Rejected => {
                // Refused when executed: maybe another relayer's release came first.
                if self.settled(row).await? {
                    return Ok(());
                }
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        let next = ReleaseRow {
            tx_id: Some(tx.id.clone()),
            ..with_state(row, ReleaseStep::Submitted)
        };
        self.ctx
            .store
            .record_release_tx(row, &next, &tx, &format!("release sent as {}", tx.id))
            .await?;
        self.adapter.anchorer().broadcast(&tx).await?;
        Ok(())
    }

    /// Follows the stored transactions of a submitted release (or of a queued one's payment).
    async fn follow(&self, row: &ReleaseRow) -> Result<(), BridgeError> {
        let anchorer = self.adapter.anchorer();
        let txs: Vec<PreparedTx> = self.ctx.store.release_txs(row.nonce).await?;
        let Some(latest) = txs.first() else {
            return Err(BridgeError::Inconsistent(format!(
                "release {} is {} without a stored transaction",
                row.nonce,
                row.state.as_str()
            )));
        };
        match anchorer.status(latest, None).await? {
            TxStatus::Included {
                fin: true,
                inclusion,
                ..
            } => {
                let state = self.adapter_releaser()?.release_state(row.nonce).await?;
                let how = format!("{} in block {}", latest.id, inclusion.height);
                if state == ReleaseState::Unused {
                    // Included but it did not use the nonce (it failed): submit again.
                    let back = if row.state == ReleaseStep::Executing {
                        ReleaseStep::QueuedOnChain
                    } else {
                        ReleaseStep::Approved
                    };
                    return self
                        .go(
                            row,
                            with_state(row, back),
                            &format!("{how} did not release; again"),
                        )
                        .await;
                }
                if row.state == ReleaseStep::Executing
                    && matches!(state, ReleaseState::Queued { .. })
                {
                    // The payment was included but did not pay (too early by the chain's
                    // clock, or paused): back to waiting, and another payment later.
                    return self
                        .go(
                            row,
                            with_state(row, ReleaseStep::QueuedOnChain),
                            &format!("{how} did not pay the queued release; waiting again"),
                        )
                        .await;
                }
                self.apply_state(row, state, &how).await.map(|_| ())
            }
            TxStatus::Included { .. } => Ok(()),
            TxStatus::Dropped { reason } => {
                if self.settled(row).await? {
                    return Ok(());
                }
                let back = if row.state == ReleaseStep::Executing {
                    ReleaseStep::QueuedOnChain
                } else {
                    ReleaseStep::Approved
                };
                self.go(
                    row,
                    with_state(row, back),
                    &format!("{} dropped ({reason}); preparing again", latest.id),
                )
                .await
            }
            TxStatus::ReorgedOut { .. } | TxStatus::InMempool | TxStatus::Unknown => {
                // Sending the stored transaction again is harmless.
                match anchorer.broadcast(latest).await {
                    Ok(()) => {}
                    Err(e) if matches!(e.kind, ErrorKind::Stale | ErrorKind::Rejected) => {}
                    Err(e) => return Err(e.into()),
                }
                self.replace_if_stuck(row, latest).await
            }
        }
    }

    /// Replaces the newest transaction of a release by a fee-bumped one when it has waited
    /// `replace_after_seconds`; the replacement is stored before it is sent.
    async fn replace_if_stuck(
        &self,
        row: &ReleaseRow,
        latest: &PreparedTx,
    ) -> Result<(), BridgeError> {
        let sent = self
            .ctx
            .store
            .latest_release_tx_at(row.nonce)
            .await?
            .unwrap_or(row.state_since);
        let limit = i64::try_from(self.ctx.config.replace_after_seconds.saturating_mul(1000))
            .unwrap_or(i64::MAX);
        let waited = now_ms().saturating_sub(sent);
        if waited < limit {
            return Ok(());
        }
        let replacement = match self.adapter.anchorer().replace(latest).await {
            Ok(tx) => tx,
            // At the fee cap, or not replaceable yet (a Solana blockhash still valid): wait.
            Err(e) if matches!(e.kind, ErrorKind::FeeCapReached | ErrorKind::Stale) => {
                tracing::info!(hostchain = %self.hostchain, nonce = %row.nonce, error = %e, "release not replaced; waiting for inclusion");
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let next = ReleaseRow {
            tx_id: Some(replacement.id.clone()),
            ..row.clone()
        };
        self.ctx
            .store
            .record_release_tx(
                row,
                &next,
                &replacement,
                &format!(
                    "{} not included after {} s; replaced by {}",
                    latest.id,
                    waited / 1000,
                    replacement.id
                ),
            )
            .await?;
        tracing::info!(hostchain = %self.hostchain, nonce = %row.nonce, old = %latest.id, new = %replacement.id, "release transaction replaced");
        self.adapter.anchorer().broadcast(&replacement).await?;
        Ok(())
    }

    /// Publishes this pass's approvals and holds, and records them.
    async fn publish(
        &self,
        approvals: Vec<ReleaseApproval>,
        holds: Vec<HoldNotice>,
    ) -> Result<(), BridgeError> {
        if !holds.is_empty() {
            let nonces: Vec<Nonce> = holds.iter().map(|h| h.nonce).collect();
            let body = Transaction::HoldReleases { holds };
            self.publish_and_mark(
                body,
                &nonces,
                ReleaseStep::Holding,
                ReleaseStep::Held,
                "hold",
            )
            .await?;
        }
        if !approvals.is_empty() {
            let nonces: Vec<Nonce> = approvals.iter().map(|a| a.nonce).collect();
            let body = Transaction::ApproveReleases { approvals };
            self.publish_and_mark(
                body,
                &nonces,
                ReleaseStep::Approving,
                ReleaseStep::Approved,
                "approval",
            )
            .await?;
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
    ) -> Result<(), BridgeError> {
        match self.ctx.publisher.publish(body).await {
            Ok(hash) => {
                let reason = format!("{what} published in symbiote transaction {hash}");
                self.mark(nonces, from, to, &reason).await
            }
            Err(PublishError::Superseded(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn mark(
        &self,
        nonces: &[Nonce],
        from: ReleaseStep,
        to: ReleaseStep,
        reason: &str,
    ) -> Result<(), BridgeError> {
        for nonce in nonces {
            if let Some(row) = self.ctx.store.release(*nonce).await?
                && row.state == from
            {
                self.go(&row, with_state(&row, to), reason).await?;
            }
        }
        Ok(())
    }

    /// Runs until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        super::run_stage(&self.ctx, "releases", &self.hostchain, shutdown, || {
            self.step()
        })
        .await
    }
}

fn with_state(row: &ReleaseRow, state: ReleaseStep) -> ReleaseRow {
    ReleaseRow {
        state,
        ..row.clone()
    }
}

/// The hostchain signatures of the other members of the current relayer set that approved
/// `order` (this relayer's own is added by its adapter).
fn collect(
    order: &WithdrawalOrder,
    relayers: &RelayerSet,
    me: &symbiote::crypto::PublicKey,
) -> Vec<Vec<u8>> {
    relayers
        .members
        .iter()
        .filter(|r| &r.key != me)
        .filter_map(|r| order.approvals.get(&r.key))
        .map(|a| a.signature.clone())
        .collect()
}

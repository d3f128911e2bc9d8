//! One anchorer per hostchain: drives each anchor through
//! pending -> prepared -> broadcast -> included -> final, writing each state to the store
//! before acting on the hostchain.
//!
//! - `pending`: prepare (build and sign) the transaction, store it, then send it.
//! - `prepared`: send the stored transaction (after a crash: the same transaction).
//! - `broadcast` / `included`: follow every transaction prepared for the anchor (the original
//!   and its replacements; any of them may be the one included). Included past the depth:
//!   `final`. Reorged out: sent again, back to `broadcast`. Not included after
//!   `replace_after_seconds`: a fee-bumped replacement is prepared and stored before it is sent.
//!   Every transaction dropped: back to `pending`, prepared anew.
//!
//! Retryable errors (node down, no funds) back off exponentially; an anchor refused for good
//! after several attempts becomes `failed` with the reason, for an operator.
//! Anchors are prepared in sequence order: a later one is not prepared while an earlier one of
//! the same hostchain still waits to be prepared, which keeps EVM nonces and Bitcoin change
//! chains in order.

use std::sync::Arc;
use std::time::Duration;

use chain_adapters::{
    AdapterError, AnchorRequest, ErrorKind, HostchainAdapter, PreparedTx, TxStatus,
};
use symbiote::anchor::AnchorPayload;
use symbiote::types::{Sequence, SymbioteId};
use tokio_util::sync::CancellationToken;

use crate::config::AnchoringSection;
use crate::metrics::Metrics;
use crate::store::{AnchorRow, AnchorState, Store, StoreError, now_ms};

/// Non-retryable failures tolerated before an anchor is marked failed.
const MAX_HARD_FAILURES: u64 = 5;

/// Why a step on one anchor failed.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("anchor {0}: {1}")]
    Inconsistent(i64, String),
}

/// Drives the anchors of one hostchain.
#[derive(Clone)]
pub struct HostchainAnchorer {
    /// The hostchain's id as stored.
    pub hostchain: String,
    /// Its adapter.
    pub adapter: Arc<dyn HostchainAdapter>,
    /// Anchors and their transactions.
    pub store: Store,
    /// Timing.
    pub config: AnchoringSection,
    /// The relayer's own symbiote.
    pub symbiote: SymbioteId,
    /// Counters.
    pub metrics: Metrics,
}

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

    async fn failed(&self, anchor: &AnchorRow, error: &AnchorError) -> Result<(), StoreError> {
        let (retryable, kind) = match error {
            AnchorError::Adapter(e) => (e.is_retryable(), e.kind.label()),
            AnchorError::Store(_) => (true, "store"),
            AnchorError::Inconsistent(..) => (false, "inconsistent"),
        };
        self.metrics.rpc_error(&self.hostchain, kind);
        let attempts = anchor.attempts + 1;
        if !retryable && attempts >= MAX_HARD_FAILURES {
            tracing::error!(anchor = anchor.id, hostchain = %self.hostchain, error = %error, "anchor failed for good");
            return self
                .store
                .move_anchor(
                    anchor,
                    AnchorState::Failed,
                    None,
                    anchor.inclusion.as_ref(),
                    anchor.confirmations,
                    &error.to_string(),
                )
                .await;
        }
        let exponent = u32::try_from(attempts.min(16)).unwrap_or(16);
        let wait = 2u64
            .saturating_pow(exponent)
            .min(self.config.max_backoff_seconds.max(1));
        tracing::warn!(anchor = anchor.id, hostchain = %self.hostchain, error = %error, retry_in_s = wait, "anchor step failed");
        self.store
            .record_failure(
                anchor,
                &error.to_string(),
                now_ms() + i64::try_from(wait * 1000).unwrap_or(i64::MAX),
            )
            .await
    }

    async fn request(&self, anchor: &AnchorRow) -> Result<AnchorRequest, AnchorError> {
        let (commitment, aggregate) = self
            .store
            .batch_contents(anchor.batch_id)
            .await?
            .ok_or_else(|| {
                AnchorError::Inconsistent(anchor.id, format!("batch {} missing", anchor.batch_id))
            })?;
        Ok(AnchorRequest {
            symbiote: self.symbiote,
            payload: AnchorPayload {
                sequence: Sequence::new(anchor.sequence),
                root: aggregate.root(),
            },
            from: commitment.from,
            to: commitment.to,
            cosignatures: Vec::new(),
        })
    }

    async fn latest_tx(&self, anchor: &AnchorRow) -> Result<PreparedTx, AnchorError> {
        self.store
            .anchor_txs(anchor.id)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| AnchorError::Inconsistent(anchor.id, "no prepared transaction".into()))
    }

    /// Moves one anchor as far as it can go now.
    async fn advance(&self, anchor: &AnchorRow) -> Result<(), AnchorError> {
        let anchorer = self.adapter.anchorer();
        match anchor.state {
            AnchorState::Pending => {
                let request = self.request(anchor).await?;
                let tx = anchorer.prepare_anchor(&request).await?;
                self.store.record_prepared(anchor, &tx, "prepared").await?;
                self.send(anchor, &tx, AnchorState::Prepared).await
            }
            AnchorState::Prepared => {
                let tx = self.latest_tx(anchor).await?;
                self.send(anchor, &tx, AnchorState::Prepared).await
            }
            AnchorState::Broadcast | AnchorState::Included => self.follow(anchor).await,
            AnchorState::Final | AnchorState::Failed => Ok(()),
        }
    }

    async fn send(
        &self,
        anchor: &AnchorRow,
        tx: &PreparedTx,
        from: AnchorState,
    ) -> Result<(), AnchorError> {
        let current = AnchorRow {
            state: from,
            ..anchor.clone()
        };
        match self.adapter.anchorer().broadcast(tx).await {
            Ok(()) => {
                self.metrics.anchors_broadcast.inc();
                self.store
                    .move_anchor(
                        &current,
                        AnchorState::Broadcast,
                        Some(&tx.id),
                        None,
                        0,
                        &format!("sent {}", tx.id),
                    )
                    .await?;
                Ok(())
            }
            // A transaction that can no longer be sent as it is: see whether it is dropped.
            Err(e) if matches!(e.kind, ErrorKind::Stale | ErrorKind::Rejected) => {
                if let TxStatus::Dropped { reason } =
                    self.adapter.anchorer().status(tx, None).await?
                {
                    self.store
                        .move_anchor(
                            &current,
                            AnchorState::Pending,
                            None,
                            None,
                            0,
                            &format!("dropped ({reason}); preparing again"),
                        )
                        .await?;
                    return Ok(());
                }
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn follow(&self, anchor: &AnchorRow) -> Result<(), AnchorError> {
        let anchorer = self.adapter.anchorer();
        let txs = self.store.anchor_txs(anchor.id).await?;
        let mut dropped = Vec::new();
        let mut waiting = None;
        for tx in &txs {
            let seen = if Some(&tx.id) == anchor.tx_id.as_ref() {
                anchor.inclusion.as_ref()
            } else {
                None
            };
            match anchorer.status(tx, seen).await? {
                TxStatus::Included {
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
                        "{} in block {} ({} confirmations)",
                        tx.id, inclusion.height, confirmations
                    );
                    self.store
                        .move_anchor(
                            anchor,
                            to,
                            Some(&tx.id),
                            Some(&inclusion),
                            confirmations,
                            &reason,
                        )
                        .await?;
                    if fin && anchor.state != AnchorState::Final {
                        self.metrics.anchors_final.inc();
                        let lag = now_ms().saturating_sub(anchor.state_since);
                        tracing::info!(anchor = anchor.id, hostchain = %self.hostchain, tx = %tx.id, lag_ms = lag, "anchor final");
                    }
                    return Ok(());
                }
                TxStatus::ReorgedOut { previous } => {
                    anchorer.broadcast(tx).await?;
                    let reason = format!(
                        "{} reorged out of block {} ({}); sent again",
                        tx.id, previous.height, previous.block_hash
                    );
                    self.store
                        .move_anchor(
                            anchor,
                            AnchorState::Broadcast,
                            Some(&tx.id),
                            None,
                            0,
                            &reason,
                        )
                        .await?;
                    return Ok(());
                }
                TxStatus::Dropped { reason } => dropped.push(format!("{}: {reason}", tx.id)),
                TxStatus::InMempool | TxStatus::Unknown => {
                    if waiting.is_none() {
                        waiting = Some(tx);
                    }
                }
            }
        }
        let Some(tx) = waiting else {
            let reason = format!("dropped ({}); preparing again", dropped.join("; "));
            self.store
                .move_anchor(anchor, AnchorState::Pending, None, None, 0, &reason)
                .await?;
            return Ok(());
        };
        if anchor.state == AnchorState::Included {
            // It was included and now is not: the block is gone. Send it again.
            anchorer.broadcast(tx).await?;
            self.store
                .move_anchor(
                    anchor,
                    AnchorState::Broadcast,
                    Some(&tx.id),
                    None,
                    0,
                    "no longer included; sent again",
                )
                .await?;
            return Ok(());
        }
        // Unknown to the node (restarted, evicted): sending again is harmless.
        anchorer.broadcast(tx).await?;
        let waited =
            Duration::from_millis(u64::try_from(now_ms() - anchor.state_since).unwrap_or_default());
        if waited >= Duration::from_secs(self.config.replace_after_seconds) {
            match anchorer.replace(tx).await {
                Ok(replacement) => {
                    let reason = format!(
                        "{} not included after {}s; replaced by {}",
                        tx.id,
                        waited.as_secs(),
                        replacement.id
                    );
                    self.store
                        .record_prepared(anchor, &replacement, &reason)
                        .await?;
                    self.metrics.replacements.inc();
                    let prepared = AnchorRow {
                        state: AnchorState::Prepared,
                        ..anchor.clone()
                    };
                    return self
                        .send(&prepared, &replacement, AnchorState::Prepared)
                        .await;
                }
                Err(e) if matches!(e.kind, ErrorKind::FeeCapReached | ErrorKind::Stale) => {
                    tracing::info!(anchor = anchor.id, error = %e, "not replacing; waiting for inclusion");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Drives anchors until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.step().await {
                tracing::error!(hostchain = %self.hostchain, error = %e, "anchorer cannot read its anchors");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.config.poll_interval()) => {}
            }
        }
    }
}

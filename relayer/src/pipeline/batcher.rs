//! The batcher: cuts the followed blocks into batches by policy (every N blocks, or when the
//! oldest waiting block has waited T seconds; at most M blocks), builds the commitment and the
//! aggregate (with pending foreign commitments and the hashes of new scout reports), and creates one anchor per hostchain of the set
//! active at the batch's last block, all in one database transaction.

use std::time::Duration;

use symbiote::commitment::{Aggregate, Commitment};
use symbiote::types::{Height, HostchainId, SymbioteId};
use tokio_util::sync::CancellationToken;

use crate::config::BatchPolicy;
use crate::retry::StepError;
use crate::store::{BatchId, Store, StoreError, now_ms};
use crate::verified::VerifiedNode;

/// The most scout reports one aggregate carries (more wait for the next batch).
const MAX_REPORTS_PER_BATCH: i64 = 1_000;

/// Why a batch could not be cut.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    State(#[from] StepError),
    #[error("batch {from}..={to}: {reason}")]
    Build { from: u64, to: u64, reason: String },
}

/// Cuts batches.
#[derive(Clone)]
pub struct Batcher {
    /// Reads blocks, writes batches and anchors.
    pub store: Store,
    /// The policy.
    pub policy: BatchPolicy,
    /// The symbiote's verified state (for its governance: which hostchains are active).
    pub state: VerifiedNode,
    /// The symbiote's id.
    pub symbiote: SymbioteId,
    /// Hostchains this relayer has adapters for.
    pub configured: Vec<HostchainId>,
}

impl Batcher {
    /// The hostchains to anchor a batch ending at `to` into: those active at `to` that this
    /// relayer is configured for and, while a switch of the hostchain set is under way, the
    /// hostchains it removed, until every hostchain it added has a final anchor of a batch
    /// reaching the activation height. So coverage never has a gap: until the new set protects
    /// the history from the switch on, the old one still does.
    async fn hostchains_at(&self, to: Height) -> Result<Vec<HostchainId>, BatchError> {
        let sets = self.state.sets().await?;
        let history = &sets.hostchains;
        let active = history.at(to);
        let mut chains = Vec::new();
        for chain in active {
            if self.configured.contains(chain) {
                chains.push(chain.clone());
            } else {
                tracing::error!(hostchain = %chain, "hostchain is active on the symbiote but not configured here; not anchoring there");
            }
        }
        // The last switch in force at `to`, and the set before it.
        let Some((activation, _)) = history.changes.iter().rev().find(|(from, _)| *from <= to)
        else {
            return Ok(chains);
        };
        let before = history.at(Height::new(activation.get().saturating_sub(1)));
        // Every added hostchain counts, configured here or not: one this relayer cannot anchor
        // to never gets a final anchor here, so the old set keeps covering (treating it as
        // covered would leave the heights from the activation on without its anchors).
        let added: Vec<&HostchainId> = active.iter().filter(|c| !before.contains(c)).collect();
        let removed: Vec<&HostchainId> = before
            .iter()
            .filter(|c| !active.contains(c) && self.configured.contains(c))
            .collect();
        if removed.is_empty() {
            return Ok(chains);
        }
        let mut covered = true;
        for chain in &added {
            covered &= self
                .store
                .has_final_anchor_reaching(chain, activation.get())
                .await?;
        }
        if !covered {
            for chain in removed {
                tracing::info!(hostchain = %chain, activation = activation.get(), "hostchain set switching: still anchoring to the old set until the new one has a final anchor");
                chains.push(chain.clone());
            }
        }
        Ok(chains)
    }

    /// Cuts one batch if the policy says so; returns its id.
    pub async fn step(&self) -> Result<Option<BatchId>, BatchError> {
        let head = self.store.head_height().await?;
        let last = self.store.last_batched_height().await?;
        if head <= last {
            return Ok(None);
        }
        let from = last + 1;
        let waiting = head - last;
        let oldest = self.store.received_at(from).await?.unwrap_or_else(now_ms);
        let waited = Duration::from_millis(u64::try_from(now_ms() - oldest).unwrap_or_default());
        if waiting < self.policy.every_blocks
            && waited < Duration::from_secs(self.policy.every_seconds)
        {
            return Ok(None);
        }
        let to = head.min(last + self.policy.max_blocks);
        let err = |reason: String| BatchError::Build { from, to, reason };
        let hashes = self.store.block_hashes(from, to).await?;
        if u64::try_from(hashes.len()).ok() != Some(to - from + 1) {
            return Err(err(format!("{} stored blocks in the range", hashes.len())));
        }
        let last_block = self
            .store
            .block(to)
            .await?
            .ok_or_else(|| err("last block missing".into()))?;
        let commitment = Commitment::build(
            self.symbiote,
            Height::new(from),
            &hashes,
            last_block.block.header.validator_set_hash,
            last_block.certificate,
        )
        .map_err(|e| err(e.to_string()))?;
        let foreign = self.store.pending_foreign().await?;
        let mut commitments = vec![commitment.hash()];
        commitments.extend(foreign.iter().map(|(_, c)| c.hash()));
        // Scout reports ride along, so that the evidence of every verdict is anchored.
        let reports = self.store.unbatched_reports(MAX_REPORTS_PER_BATCH).await?;
        commitments.extend(reports.iter().copied());
        let aggregate = Aggregate { commitments };
        let hostchains = self.hostchains_at(Height::new(to)).await?;
        let ids: Vec<i64> = foreign.iter().map(|(id, _)| *id).collect();
        let batch = self
            .store
            .create_batch(&commitment, &aggregate, &ids, &reports, &hostchains)
            .await?;
        tracing::info!(%batch, from, to, foreign = ids.len(), reports = reports.len(), root = %aggregate.root(), "batch cut");
        Ok(Some(batch))
    }

    /// Cuts batches until `shutdown`.
    pub async fn run(self, poll: Duration, shutdown: CancellationToken) {
        loop {
            match self.step().await {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "batching failed; retrying"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }
}

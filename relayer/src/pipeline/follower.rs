//! The follower: fetches finalized blocks from a symbiote node and stores them only after
//! verifying them with a light client that starts from the trusted genesis and follows
//! validator-set changes. A node cannot make the relayer anchor a block its validators did not
//! finalize.

use std::time::Duration;

use symbiote::client::{ClientError, NodeClient};
use symbiote::genesis::Genesis;
use symbiote::light_client::{LightClient, LightClientError};
use tokio_util::sync::CancellationToken;

use crate::metrics::{Answer, Metrics};
use crate::store::{Store, StoreError};

/// Why following stopped for now.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error("symbiote node: {0}")]
    Node(#[from] ClientError),
    #[error("block {height} does not verify: {source}")]
    Verify {
        height: u64,
        #[source]
        source: LightClientError,
    },
    #[error("block {height}: {reason}")]
    Block { height: u64, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("genesis: {0}")]
    Genesis(String),
}

/// Follows one symbiote.
#[derive(Clone)]
pub struct Follower {
    /// Where verified blocks go.
    pub store: Store,
    /// The node blocks come from.
    pub node: NodeClient,
    /// The trusted start.
    pub genesis: Genesis,
    /// Pause between polls when caught up.
    pub poll: Duration,
    /// Counters.
    pub metrics: Metrics,
}

impl Follower {
    /// The light client at the last stored block (or at genesis).
    pub async fn light_client(&self) -> Result<LightClient, FollowError> {
        let (header, set) = match self.store.follower_state().await? {
            Some(state) => state,
            None => {
                let (_, header) = self
                    .genesis
                    .build()
                    .map_err(|e| FollowError::Genesis(e.to_string()))?;
                (header, self.genesis.validators.clone())
            }
        };
        LightClient::new(header, set).map_err(|source| FollowError::Verify { height: 0, source })
    }

    /// Fetches, verifies and stores every block the node has beyond ours; returns how many.
    pub async fn step(&self, client: &mut LightClient) -> Result<u64, FollowError> {
        let head = self.node.head().await?.height;
        let mut added = 0;
        while client.head().height < head {
            let Some(height) = client.head().height.next() else {
                break;
            };
            let Some(block) = self.node.block(height).await? else {
                break;
            };
            let header = &block.block.header;
            let next_set = if header.next_validator_set_hash != client.trusted_set().hash() {
                let next = height.next().ok_or(FollowError::Block {
                    height: height.get(),
                    reason: "height overflow".into(),
                })?;
                Some(self.node.validators_at(next).await?)
            } else {
                None
            };
            block
                .block
                .check_tx_root()
                .map_err(|e| FollowError::Block {
                    height: height.get(),
                    reason: e.to_string(),
                })?;
            client
                .verify_next(header, &block.certificate, next_set.as_ref())
                .map_err(|source| FollowError::Verify {
                    height: height.get(),
                    source,
                })?;
            self.store
                .store_block(&block, client.head(), client.trusted_set())
                .await?;
            self.metrics
                .followed_height
                .set(i64::try_from(height.get()).unwrap_or(i64::MAX));
            added += 1;
        }
        Ok(added)
    }

    /// Follows until `shutdown`. After an error the light client is reloaded from the store, so
    /// that it never runs ahead of what was stored.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut client = None;
        loop {
            if client.is_none() {
                match self.light_client().await {
                    Ok(c) => client = Some(c),
                    Err(e) => tracing::error!(error = %e, "follower cannot start"),
                }
            }
            if let Some(c) = client.as_mut() {
                match self.step(c).await {
                    Ok(0) => {}
                    Ok(n) => {
                        self.metrics.answer_checked(Answer::Blocks, true);
                        tracing::debug!(blocks = n, height = c.head().height.get(), "followed")
                    }
                    Err(e @ (FollowError::Verify { .. } | FollowError::Block { .. })) => {
                        // The node served a block its validators did not finalize as served.
                        tracing::error!(node = %self.node.url(), error = %e, "the symbiote node served a false block; storing nothing from it");
                        self.metrics.answer_checked(Answer::Blocks, false);
                        client = None;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "following stopped; retrying");
                        self.metrics.rpc_error("symbiote", "follow");
                        client = None;
                    }
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
    }
}

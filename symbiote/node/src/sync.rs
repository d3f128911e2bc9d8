//! Catch-up: a node that is behind (restarted, or missed announcements) fetches the finalized
//! blocks it lacks from its peers and commits them one by one, each checked against its
//! certificate and re-executed like any other block.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::chain::{Chain, ChainError};
use crate::peers::Peers;
use symbiote::client::{ClientError, NodeClient};

/// Why catching up from one peer stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Peer(#[from] ClientError),
    #[error("block from {peer} refused: {source}")]
    Refused {
        peer: String,
        #[source]
        source: ChainError,
    },
}

/// Polls the peers every `interval` and catches up from any that is ahead, until `shutdown`.
pub async fn run(chain: Arc<Chain>, peers: Peers, interval: Duration, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        for peer in peers.nodes() {
            match catch_up(&chain, peer).await {
                Ok(0) => {}
                Ok(count) => tracing::info!(peer = peer.url(), blocks = count, "caught up"),
                Err(e) => tracing::debug!(peer = peer.url(), error = %e, "catch-up stopped"),
            }
        }
    }
}

/// Fetches and commits the blocks `peer` has beyond our head; returns how many were added.
pub async fn catch_up(chain: &Chain, peer: &NodeClient) -> Result<u64, SyncError> {
    let theirs = peer.head().await?.height;
    let mut added = 0;
    loop {
        let ours = chain.head().await.height;
        if ours >= theirs {
            return Ok(added);
        }
        let Some(next) = ours.next() else {
            return Ok(added);
        };
        let Some(block) = peer.block(next).await? else {
            return Ok(added);
        };
        match chain.commit(block).await {
            Ok(_) => added += 1,
            Err(ChainError::AlreadyFinal { .. }) => {}
            Err(source) => {
                return Err(SyncError::Refused {
                    peer: peer.url().to_string(),
                    source,
                });
            }
        }
    }
}

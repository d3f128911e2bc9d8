//! The validators' calls to each other over their HTTP APIs: proposals and votes, finalized
//! blocks, forwarded transactions. Built on the core's [`NodeClient`].

use serde::de::IgnoredAny;
use symbiote::block::{Block, ChainBlock};
use symbiote::client::{ClientError, NodeClient, read_json};
use symbiote::codec::Canonical;
use symbiote::tx::SignedTransaction;
use symbiote::wire::SubmitRequest;

use crate::consensus::VoteReply;

/// Sends a proposal to one peer; returns its vote.
pub async fn propose(
    node: &NodeClient,
    block: &Block<SignedTransaction>,
) -> Result<VoteReply, ClientError> {
    let path = "/v1/consensus/proposal";
    let response = node.post_bytes(path, block.encode()).await?;
    read_json(response, &format!("{}{path}", node.url())).await
}

/// Announces a finalized block to one peer.
pub async fn announce(node: &NodeClient, block: &ChainBlock) -> Result<(), ClientError> {
    node.post_bytes("/v1/consensus/commit", block.encode())
        .await
        .map(|_| ())
}

/// Forwards a transaction to one peer without it forwarding further.
pub async fn forward(node: &NodeClient, tx: &SignedTransaction) -> Result<(), ClientError> {
    let body = SubmitRequest {
        tx: hex::encode(tx.encode()),
    };
    node.post_json::<_, IgnoredAny>("/v1/transactions?forwarded=true", &body)
        .await
        .map(|_| ())
}

/// The other validators' nodes.
#[derive(Clone, Debug, Default)]
pub struct Peers {
    /// One client per peer.
    nodes: Vec<NodeClient>,
}

impl Peers {
    /// Peers at these base URLs.
    pub fn new(urls: &[String]) -> Self {
        Peers {
            nodes: urls.iter().map(|u| NodeClient::new(u)).collect(),
        }
    }

    /// The peers' clients.
    pub fn nodes(&self) -> &[NodeClient] {
        &self.nodes
    }

    /// Sends a proposal to every peer at once; returns each peer's answer.
    pub async fn propose(
        &self,
        block: &Block<SignedTransaction>,
    ) -> Vec<(String, Result<VoteReply, ClientError>)> {
        let calls = self
            .nodes
            .iter()
            .map(|node| async move { (node.url().to_string(), propose(node, block).await) });
        futures::future::join_all(calls).await
    }

    /// Announces a finalized block to every peer (best effort: a peer that misses it catches
    /// up by itself).
    pub async fn announce(&self, block: &ChainBlock) {
        let calls = self.nodes.iter().map(|node| async move {
            if let Err(e) = announce(node, block).await {
                tracing::debug!(peer = node.url(), error = %e, "announce failed");
            }
        });
        futures::future::join_all(calls).await;
    }

    /// Forwards a transaction to every peer (best effort).
    pub async fn forward(&self, tx: &SignedTransaction) {
        let calls = self.nodes.iter().map(|node| async move {
            if let Err(e) = forward(node, tx).await {
                tracing::debug!(peer = node.url(), error = %e, "forwarding a transaction failed");
            }
        });
        futures::future::join_all(calls).await;
    }
}

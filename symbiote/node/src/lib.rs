//! The symbiote node: a validator (or follower) process with its store, consensus engine,
//! catch-up task and HTTP API, built on the chain's core library (the `symbiote` crate: types,
//! state machine, the API's bodies and client). The `symbiote` binary runs it.
//!
//! - [`store`]: SQLite persistence (blocks, state, votes, own proposals);
//! - [`chain`]: the ledger (state, head, mempool) that checks and executes blocks;
//! - [`consensus`]: the [`consensus::Consensus`] trait and the fixed-proposer engine;
//! - [`sync`]: catch-up from peers;
//! - [`api`]: the HTTP API (bodies in `symbiote::wire`);
//! - [`peers`]: the validators' calls to each other.

pub mod api;
pub mod chain;
pub mod consensus;
pub mod mempool;
pub mod peers;
pub mod store;
pub mod sync;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use symbiote::crypto::Keypair;
use symbiote::genesis::Genesis;

use chain::{Chain, ChainError};
use consensus::{Consensus, FixedProposer};
use peers::Peers;
use store::{Store, StoreError};

/// How a node runs.
pub struct NodeConfig {
    /// The chain's genesis.
    pub genesis: Genesis,
    /// This validator's key; `None` for a node that only follows the chain.
    pub key: Option<Keypair>,
    /// The SQLite database file.
    pub database: PathBuf,
    /// Where the HTTP API listens (port 0: any free port).
    pub listen: SocketAddr,
    /// The other validators' API base URLs.
    pub peers: Vec<String>,
    /// How often the proposer proposes a block.
    pub block_interval: Duration,
    /// How often the node asks its peers whether it is behind.
    pub sync_interval: Duration,
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("genesis: {0}")]
    Genesis(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A started node.
pub struct RunningNode {
    /// The ledger, for in-process inspection.
    pub chain: Arc<Chain>,
    /// The address the API listens on.
    pub address: SocketAddr,
    /// Cancel to stop every task.
    shutdown: CancellationToken,
    /// The node's tasks.
    tasks: JoinSet<()>,
}

impl RunningNode {
    /// Stops the node and waits for its tasks to end.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
    }

    /// Waits until `signal` resolves, then stops.
    pub async fn run_until(self, signal: impl std::future::Future<Output = ()>) {
        signal.await;
        self.stop().await;
    }
}

/// Opens the store, starts consensus, catch-up and the HTTP API.
pub async fn start(config: NodeConfig) -> Result<RunningNode, NodeError> {
    config.genesis.validate().map_err(NodeError::Genesis)?;
    let store = Store::open(&config.database).await?;
    let chain = Chain::open(&config.genesis, store).await?;
    let peers = Peers::new(&config.peers);
    let validator = config.key.as_ref().map(Keypair::public);
    let engine = FixedProposer::new(
        chain.clone(),
        config.key.map(Arc::new),
        peers.clone(),
        config.block_interval,
    );
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| NodeError::Listen {
            address: config.listen,
            source,
        })?;
    let address = listener.local_addr().map_err(|source| NodeError::Listen {
        address: config.listen,
        source,
    })?;

    let shutdown = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let consensus: Arc<dyn Consensus> = engine.clone();
    tasks.spawn(engine.run(shutdown.clone()));
    tasks.spawn(sync::run(
        chain.clone(),
        peers.clone(),
        config.sync_interval,
        shutdown.clone(),
    ));
    let app = api::router(api::AppState {
        chain: chain.clone(),
        consensus,
        peers,
        chain_name: config.genesis.chain_name.clone(),
        validator,
    });
    let stop = shutdown.clone();
    tasks.spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "HTTP server failed");
        }
    });
    tracing::info!(%address, validator = ?validator, "symbiote node started");
    Ok(RunningNode {
        chain,
        address,
        shutdown,
        tasks,
    })
}

//! The relayer daemon: follows the symbiote's finalized blocks, batches them into commitments,
//! anchors them into every active hostchain, and relays bridge transfers; see ARCHITECTURE
//! sections 3 and 8.
//!
//! - [`config`]: the TOML configuration with environment overrides;
//! - [`store`]: SQLite or PostgreSQL through sqlx, every stage's state;
//! - [`pipeline`]: follower, batcher, one anchorer per hostchain;
//! - [`leader`]: with PostgreSQL, one active replica per stage among several, by advisory lock;
//! - [`proof`]: proofs from a block to hostchain transactions, and their verification;
//! - [`api`], [`metrics`]: the HTTP API and Prometheus metrics.

pub mod api;
pub mod bridge;
pub mod config;
pub mod leader;
pub mod metrics;
pub mod pipeline;
pub mod proof;
pub mod scout;
pub mod store;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chain_adapters::HostchainAdapter;
use symbiote::client::NodeClient;
use symbiote::genesis::Genesis;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use config::Config;
use leader::Role;
use metrics::Metrics;
use pipeline::anchorer::HostchainAnchorer;
use pipeline::batcher::Batcher;
use pipeline::follower::Follower;
use store::Store;

/// Why the relayer could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Adapter(#[from] chain_adapters::AdapterError),
    #[error("genesis file {path}: {reason}")]
    Genesis { path: String, reason: String },
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Reads the symbiote genesis named in the configuration.
pub fn load_genesis(config: &Config) -> Result<Genesis, StartError> {
    let path = &config.symbiote.genesis_file;
    let err = |reason: String| StartError::Genesis {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let genesis: Genesis = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
    genesis.validate().map_err(err)?;
    Ok(genesis)
}

/// Builds every configured hostchain adapter, by hostchain id.
pub async fn build_adapters(
    config: &Config,
    file: &str,
) -> Result<BTreeMap<String, Arc<dyn HostchainAdapter>>, StartError> {
    let mut adapters = BTreeMap::new();
    for chain in config.hostchain_configs(file)? {
        let adapter = chain_adapters::build(&chain.kind, chain.id.clone(), chain.settings).await?;
        adapters.insert(chain.id.as_str().to_string(), adapter);
    }
    Ok(adapters)
}

/// A running relayer.
pub struct RunningRelayer {
    /// Where the API listens.
    pub address: SocketAddr,
    /// Its store.
    pub store: Store,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
}

impl RunningRelayer {
    /// Stops every stage and waits for them (each finishes its current step).
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Starts every stage and the API.
pub async fn start(config: Config, file: &str) -> Result<RunningRelayer, StartError> {
    let genesis = load_genesis(&config)?;
    let symbiote = genesis.symbiote_id();
    let store = Store::open(&config.database.url).await?;
    let adapters = build_adapters(&config, file).await?;
    let kinds: Vec<(String, String)> = config
        .hostchain_configs(file)?
        .into_iter()
        .map(|c| (c.id.as_str().to_string(), c.kind))
        .collect();
    let node = NodeClient::new(&config.symbiote.node_url);
    let metrics = Metrics::new();
    let shutdown = CancellationToken::new();
    let mut tasks = JoinSet::new();

    // Each stage runs only while this replica holds its role (always, with SQLite); the
    // closures start a fresh copy of the stage each time the role is (re)acquired.
    let leases = leader::Leases::new(
        store.clone(),
        symbiote,
        config.replica_id()?,
        config.replica.lease_check(),
    );
    tasks.spawn(leases.clone().presence(shutdown.clone()));
    let poll = Duration::from_millis(config.symbiote.poll_interval_ms.max(10));
    let follower = Follower {
        store: store.clone(),
        node: node.clone(),
        genesis,
        poll,
        metrics: metrics.clone(),
    };
    spawn_role(
        &mut tasks,
        &leases,
        Role::follower(),
        &shutdown,
        move |token| follower.clone().run(token),
    );
    let batcher = Batcher {
        store: store.clone(),
        policy: config.batch.clone(),
        node: node.clone(),
        symbiote,
        configured: config
            .hostchain_configs(file)?
            .into_iter()
            .map(|c| c.id)
            .collect(),
    };
    spawn_role(
        &mut tasks,
        &leases,
        Role::batcher(),
        &shutdown,
        move |token| batcher.clone().run(poll, token),
    );
    for (hostchain, adapter) in &adapters {
        let anchorer = HostchainAnchorer {
            hostchain: hostchain.clone(),
            adapter: adapter.clone(),
            store: store.clone(),
            config: config.anchoring.clone(),
            symbiote,
            metrics: metrics.clone(),
        };
        spawn_role(
            &mut tasks,
            &leases,
            Role::anchorer(hostchain),
            &shutdown,
            move |token| anchorer.clone().run(token),
        );
    }
    spawn_bridge(
        &config, file, &adapters, &store, &node, symbiote, &metrics, &leases, &shutdown, &mut tasks,
    )?;

    let listener = tokio::net::TcpListener::bind(config.api.listen)
        .await
        .map_err(|source| StartError::Listen {
            address: config.api.listen,
            source,
        })?;
    let address = listener.local_addr().map_err(|source| StartError::Listen {
        address: config.api.listen,
        source,
    })?;
    let app = api::router(api::ApiState {
        store: store.clone(),
        node,
        symbiote,
        metrics,
        hostchains: Arc::new(kinds),
        admin_token: config.admin_token()?.map(Arc::new),
        leases,
        adapters: Arc::new(adapters.clone()),
    });
    let stop = shutdown.clone();
    tasks.spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
        {
            tracing::error!(error = %e, "HTTP server failed");
        }
    });
    tracing::info!(%address, %symbiote, hostchains = adapters.len(), "relayer started");
    Ok(RunningRelayer {
        address,
        store,
        shutdown,
        tasks,
    })
}

/// Starts, each under its own role: a rotation stage for every hostchain with contracts that
/// hold a relayer set (whenever the relayer has its symbiote key), and, with the bridge
/// enabled, a deposit stage and a release stage for every hostchain with a bridge.
#[allow(clippy::too_many_arguments)]
fn spawn_bridge(
    config: &Config,
    file: &str,
    adapters: &BTreeMap<String, Arc<dyn HostchainAdapter>>,
    store: &Store,
    node: &NodeClient,
    symbiote: symbiote::types::SymbioteId,
    metrics: &Metrics,
    leases: &leader::Leases,
    shutdown: &CancellationToken,
    tasks: &mut JoinSet<()>,
) -> Result<(), StartError> {
    let Some(key) = config.relayer_key(file)? else {
        return Ok(());
    };
    let ctx = Arc::new(bridge::BridgeContext::new(
        store.clone(),
        node.clone(),
        symbiote,
        Arc::new(key),
        config.scout.policy(),
        config.bridge.clone(),
        metrics.clone(),
    ));
    for (hostchain, adapter) in adapters {
        if adapter.relayer_sets().is_some() {
            let stage = bridge::rotation::RotationStage {
                ctx: ctx.clone(),
                hostchain: hostchain.clone(),
                adapter: adapter.clone(),
                sent: Arc::default(),
            };
            let role = Role::new(format!("rotation:{hostchain}"));
            spawn_role(tasks, leases, role, shutdown, move |token| {
                stage.clone().run(token)
            });
        }
        if !config.bridge.enabled {
            continue;
        }
        if adapter.deposits().is_some() {
            let stage = bridge::deposits::DepositStage {
                ctx: ctx.clone(),
                hostchain: hostchain.clone(),
                adapter: adapter.clone(),
            };
            let role = Role::new(format!("deposits:{hostchain}"));
            spawn_role(tasks, leases, role, shutdown, move |token| {
                stage.clone().run(token)
            });
        }
        if adapter.releaser().is_some() {
            let stage = bridge::releases::ReleaseStage {
                ctx: ctx.clone(),
                hostchain: hostchain.clone(),
                adapter: adapter.clone(),
            };
            let role = Role::new(format!("releases:{hostchain}"));
            spawn_role(tasks, leases, role, shutdown, move |token| {
                stage.clone().run(token)
            });
        }
    }
    Ok(())
}

/// Runs a stage (`run` builds and runs it for a cancellation token) while this replica holds
/// its role.
fn spawn_role<F, Fut>(
    tasks: &mut JoinSet<()>,
    leases: &leader::Leases,
    role: Role,
    shutdown: &CancellationToken,
    run: F,
) where
    F: FnMut(CancellationToken) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tasks.spawn(leader::run_while_leader(
        leases.clone(),
        role,
        shutdown.clone(),
        run,
    ));
}

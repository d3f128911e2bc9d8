//! The relayer daemon: follows the symbiote's finalized blocks, batches them into commitments,
//! anchors them into every active hostchain, and relays bridge transfers; see ARCHITECTURE
//! sections 3 and 8.
//!
//! - [`config`]: the TOML configuration with environment overrides, resolved once into
//!   [`config::Settings`];
//! - [`store`]: SQLite or PostgreSQL through sqlx, one module per table family;
//! - [`tracker`]: the one way a stored hostchain transaction is sent and followed;
//! - [`retry`]: the one retry policy of every stage;
//! - [`pipeline`]: follower, batcher, one anchorer per hostchain;
//! - [`bridge`]: deposits, releases (one file per step) and relayer-set rotations;
//! - [`scout`]: verdicts and signed reports on release destinations;
//! - [`leader`], [`roles`]: with PostgreSQL, one active replica per role among several;
//! - [`proof`]: proofs from a block to hostchain transactions, and their verification;
//! - [`api`], [`metrics`]: the HTTP API and Prometheus metrics.

pub mod api;
pub mod bridge;
pub mod config;
pub mod leader;
pub mod metrics;
pub mod pipeline;
pub mod proof;
pub mod retry;
pub mod roles;
pub mod scout;
pub mod store;
pub mod tracker;
pub mod verified;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chain_adapters::HostchainAdapter;
use symbiote::client::NodeClient;
use symbiote::types::{HostchainId, SymbioteId};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use config::{Adapters, Settings};
use metrics::Metrics;
use pipeline::anchorer::HostchainAnchorer;
use pipeline::batcher::Batcher;
use pipeline::follower::Follower;
use roles::Role;
use store::Store;
use tracker::Tracker;
use verified::VerifiedNode;

/// Why the relayer could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Adapter(#[from] chain_adapters::AdapterError),
    #[error("genesis: {0}")]
    Genesis(String),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Builds every configured hostchain adapter, by hostchain id.
pub async fn build_adapters(settings: &Settings) -> Result<Adapters, StartError> {
    let mut adapters = Adapters::new();
    for chain in &settings.hostchains {
        let adapter =
            chain_adapters::build(&chain.kind, chain.id.clone(), chain.settings.clone()).await?;
        adapters.insert(chain.id.clone(), adapter);
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

/// What every stage started by [`start`] shares.
struct Shared {
    settings: Settings,
    store: Store,
    state: VerifiedNode,
    symbiote: SymbioteId,
    metrics: Metrics,
    leases: leader::Leases,
    shutdown: CancellationToken,
}

impl Shared {
    /// The tracker of `hostchain`'s transactions, replacing them after `replace_after`.
    fn tracker(
        &self,
        hostchain: &HostchainId,
        adapter: &Arc<dyn HostchainAdapter>,
        replace_after: Duration,
    ) -> Tracker {
        Tracker {
            hostchain: hostchain.clone(),
            adapter: adapter.clone(),
            store: self.store.clone(),
            replace_after,
            metrics: self.metrics.clone(),
        }
    }

    /// Runs a stage (`run` builds and runs it for a cancellation token) while this replica
    /// holds its role.
    fn spawn_role<F, Fut>(&self, tasks: &mut JoinSet<()>, role: Role, run: F)
    where
        F: FnMut(CancellationToken) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        tasks.spawn(leader::run_while_leader(
            self.leases.clone(),
            role,
            self.shutdown.clone(),
            run,
        ));
    }
}

/// Starts every stage and the API. Everything the configuration names (genesis, keys, admin
/// token, hostchain endpoints) is read here: a missing or bad one stops the start.
pub async fn start(settings: Settings) -> Result<RunningRelayer, StartError> {
    let genesis = settings.genesis()?;
    let relayer_key = settings.relayer_key()?;
    let admin_token = settings.admin_token()?;
    let symbiote = genesis.symbiote_id();
    let store = Store::connect(&settings.database).await?;
    let adapters = build_adapters(&settings).await?;
    let policy = settings.scout_policy(&adapters)?;
    let node = NodeClient::new(&settings.config.symbiote.node_url);
    let metrics = Metrics::new();
    let genesis_header = genesis
        .header()
        .map_err(|e| StartError::Genesis(e.to_string()))?;
    let state = VerifiedNode::new(
        node.clone(),
        store.clone(),
        metrics.clone(),
        &genesis_header,
    );
    let shutdown = CancellationToken::new();
    let mut tasks = JoinSet::new();

    // Each stage runs only while this replica holds its role (always, with SQLite); the
    // closures start a fresh copy of the stage each time the role is (re)acquired.
    let leases = leader::Leases::new(
        store.clone(),
        symbiote,
        settings.replica.clone(),
        settings.config.replica.lease_check(),
    );
    tasks.spawn(leases.clone().presence(shutdown.clone()));
    let shared = Shared {
        store: store.clone(),
        state: state.clone(),
        symbiote,
        metrics: metrics.clone(),
        leases: leases.clone(),
        shutdown: shutdown.clone(),
        settings,
    };
    let settings = &shared.settings;
    let poll = Duration::from_millis(settings.config.symbiote.poll_interval_ms.max(10));
    let follower = Follower {
        store: store.clone(),
        node: node.clone(),
        genesis,
        poll,
        metrics: metrics.clone(),
    };
    shared.spawn_role(&mut tasks, Role::Follower, move |token| {
        follower.clone().run(token)
    });
    let batcher = Batcher {
        store: store.clone(),
        policy: settings.config.batch.clone(),
        state: state.clone(),
        symbiote,
        configured: settings.hostchain_ids(),
    };
    shared.spawn_role(&mut tasks, Role::Batcher, move |token| {
        batcher.clone().run(poll, token)
    });
    let anchoring = &settings.config.anchoring;
    for (hostchain, adapter) in &adapters {
        let replace_after = Duration::from_secs(anchoring.replace_after_seconds);
        let anchorer = HostchainAnchorer {
            hostchain: hostchain.clone(),
            adapter: adapter.clone(),
            store: store.clone(),
            tracker: shared.tracker(hostchain, adapter, replace_after),
            retry: settings.retry,
            poll: anchoring.poll_interval(),
            symbiote,
            metrics: metrics.clone(),
        };
        shared.spawn_role(
            &mut tasks,
            Role::Anchorer(hostchain.clone()),
            move |token| anchorer.clone().run(token),
        );
    }
    if let Some(key) = relayer_key {
        spawn_bridge(&shared, &adapters, key, policy, &mut tasks);
    }
    tasks.spawn(metrics::watch_balances(
        adapters.clone(),
        metrics.clone(),
        shutdown.clone(),
    ));

    let listen = settings.config.api.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| StartError::Listen {
            address: listen,
            source,
        })?;
    let address = listener.local_addr().map_err(|source| StartError::Listen {
        address: listen,
        source,
    })?;
    let kinds = settings
        .hostchains
        .iter()
        .map(|c| (c.id.clone(), c.kind.clone()))
        .collect();
    let app = api::router(api::ApiState {
        store: store.clone(),
        node,
        symbiote,
        metrics,
        hostchains: Arc::new(kinds),
        admin_token: admin_token.map(Arc::new),
        leases,
        adapters: Arc::new(adapters.clone()),
        max_head_age: match settings.config.symbiote.max_head_age_seconds {
            0 => None,
            seconds => Some(Duration::from_secs(seconds)),
        },
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
fn spawn_bridge(
    shared: &Shared,
    adapters: &Adapters,
    key: symbiote::crypto::Keypair,
    policy: scout::ScoutPolicy,
    tasks: &mut JoinSet<()>,
) {
    let settings = &shared.settings;
    let section = &settings.config.bridge;
    let ctx = Arc::new(bridge::BridgeContext::new(
        shared.store.clone(),
        shared.state.clone(),
        shared.symbiote,
        Arc::new(key),
        policy,
        section.clone(),
        settings.limits.clone(),
        shared.metrics.clone(),
        settings.retry,
    ));
    let replace_after = Duration::from_secs(section.replace_after_seconds);
    for (hostchain, adapter) in adapters {
        let tracker = shared.tracker(hostchain, adapter, replace_after);
        if adapter.relayer_sets().is_some() {
            let stage = bridge::rotation::RotationStage {
                ctx: ctx.clone(),
                hostchain: hostchain.clone(),
                adapter: adapter.clone(),
                tracker: tracker.clone(),
            };
            shared.spawn_role(tasks, Role::Rotation(hostchain.clone()), move |token| {
                stage.clone().run(token)
            });
        }
        if !section.enabled {
            continue;
        }
        if adapter.deposits().is_some() {
            let stage = bridge::deposits::DepositStage {
                ctx: ctx.clone(),
                hostchain: hostchain.clone(),
                adapter: adapter.clone(),
            };
            shared.spawn_role(tasks, Role::Deposits(hostchain.clone()), move |token| {
                stage.clone().run(token)
            });
        }
        if adapter.releaser().is_some() {
            let stage = bridge::releases::ReleaseStage {
                ctx: ctx.clone(),
                hostchain: hostchain.clone(),
                adapter: adapter.clone(),
                tracker,
            };
            shared.spawn_role(tasks, Role::Releases(hostchain.clone()), move |token| {
                stage.clone().run(token)
            });
        }
    }
}

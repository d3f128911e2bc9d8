//! The bridge: deposits on hostchains minted on the symbiote, withdrawal orders of the symbiote
//! released on hostchains, with scouts that hold releases to malicious destinations
//! (ARCHITECTURE sections 3 and 6).
//!
//! Every relayer operator runs these stages with its own key and database. They cooperate only
//! through the symbiote: each publishes its attestations of deposits, its approvals of releases
//! (carrying its hostchain signature) and its scout's holds as transactions
//! ([`publisher`]); the symbiote mints a deposit once a threshold of the relayer set attested
//! it, and whoever submits a release collects a threshold of approvals from symbiote state.
//!
//! - [`deposits`]: one stage per hostchain with a bridge: scan, store, attest, follow;
//! - [`releases`]: one stage per hostchain with a bridge: scout, approve or hold, submit,
//!   follow;
//! - [`rotation`]: one stage per hostchain with contracts holding a relayer set: carries the
//!   symbiote's relayer set to them with the old set's signatures;
//! - [`config`]: `[bridge]` and `[scout]`.

pub mod api;
pub mod config;
pub mod deposits;
pub mod publisher;
pub mod releases;
pub mod rotation;

use std::sync::Arc;
use std::time::Duration;

use chain_adapters::AdapterError;
use symbiote::client::{ClientError, NodeClient};
use symbiote::crypto::Keypair;
use symbiote::types::SymbioteId;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::scout::{ReportError, ScoutPolicy};
use crate::store::{Store, StoreError};
use config::BridgeSection;
use publisher::{PublishError, Publisher};

/// Why a bridge step failed.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("symbiote node: {0}")]
    Node(#[from] ClientError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("{0}")]
    Inconsistent(String),
}

impl BridgeError {
    /// A label for the error metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            BridgeError::Adapter(e) => e.kind.label(),
            BridgeError::Store(_) => "store",
            BridgeError::Node(_) => "symbiote",
            BridgeError::Publish(_) => "symbiote",
            BridgeError::Report(_) => "report",
            BridgeError::Inconsistent(_) => "inconsistent",
        }
    }
}

/// What every bridge stage shares.
pub struct BridgeContext {
    pub store: Store,
    pub node: NodeClient,
    pub symbiote: SymbioteId,
    pub publisher: Publisher,
    pub policy: ScoutPolicy,
    pub config: BridgeSection,
    pub metrics: Metrics,
}

impl BridgeContext {
    pub fn new(
        store: Store,
        node: NodeClient,
        symbiote: SymbioteId,
        key: Arc<Keypair>,
        policy: ScoutPolicy,
        config: BridgeSection,
        metrics: Metrics,
    ) -> Self {
        let publisher = Publisher::new(
            node.clone(),
            symbiote,
            key,
            Duration::from_secs(config.publish_timeout_seconds.max(1)),
        );
        BridgeContext {
            store,
            node,
            symbiote,
            publisher,
            policy,
            config,
            metrics,
        }
    }
}

/// Runs `step` every poll interval until `shutdown`, backing off exponentially while it fails;
/// failures are logged and counted for `hostchain` as `what`.
pub(crate) async fn run_stage<F, Fut>(
    ctx: &BridgeContext,
    what: &'static str,
    hostchain: &str,
    shutdown: CancellationToken,
    mut step: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), BridgeError>>,
{
    let mut backoff = Backoff::default();
    loop {
        let wait = match step().await {
            Ok(()) => backoff.reset(ctx.config.poll_interval()),
            Err(e) => {
                ctx.metrics.rpc_error(hostchain, e.kind());
                let wait = backoff.fail(ctx.config.poll_interval());
                tracing::warn!(hostchain, stage = what, error = %e, retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "bridge stage step failed");
                wait
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Exponential backoff between failing steps, capped at five minutes.
#[derive(Default)]
pub(crate) struct Backoff {
    failures: u32,
}

impl Backoff {
    pub(crate) fn reset(&mut self, poll: Duration) -> Duration {
        self.failures = 0;
        poll
    }

    pub(crate) fn fail(&mut self, poll: Duration) -> Duration {
        self.failures = self.failures.saturating_add(1).min(12);
        poll.saturating_mul(2u32.saturating_pow(self.failures))
            .min(Duration::from_secs(300))
    }
}

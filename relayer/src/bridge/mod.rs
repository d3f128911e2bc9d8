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

pub mod api;
pub mod deposits;
pub mod publisher;
pub mod releases;
pub mod rotation;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use symbiote::client::NodeClient;
use symbiote::crypto::Keypair;
use symbiote::types::{HostchainId, SymbioteId, TokenId};
use tokio_util::sync::CancellationToken;

use crate::config::{BridgeSection, LimitConfig};
use crate::metrics::Metrics;
use crate::retry::{Backoff, RetryPolicy, StepError};
use crate::scout::ScoutPolicy;
use crate::store::Store;
use crate::verified::VerifiedNode;
use publisher::Publisher;

/// What every bridge stage shares.
pub struct BridgeContext {
    /// Backoff of failing steps and items.
    pub retry: RetryPolicy,
    pub store: Store,
    pub node: NodeClient,
    /// The node read through proofs: every state entry a decision uses comes from here.
    pub state: VerifiedNode,
    pub symbiote: SymbioteId,
    pub publisher: Publisher,
    pub policy: ScoutPolicy,
    pub config: BridgeSection,
    /// `[bridge.limits]` by hostchain and token.
    pub limits: BTreeMap<(HostchainId, TokenId), LimitConfig>,
    pub metrics: Metrics,
}

impl BridgeContext {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        state: VerifiedNode,
        symbiote: SymbioteId,
        key: Arc<Keypair>,
        policy: ScoutPolicy,
        config: BridgeSection,
        limits: BTreeMap<(HostchainId, TokenId), LimitConfig>,
        metrics: Metrics,
        retry: RetryPolicy,
    ) -> Self {
        let node = state.node().clone();
        let publisher = Publisher::new(
            node.clone(),
            symbiote,
            key,
            Duration::from_secs(config.publish_timeout_seconds.max(1)),
        );
        BridgeContext {
            retry,
            store,
            node,
            state,
            symbiote,
            publisher,
            policy,
            config,
            limits,
            metrics,
        }
    }
}

/// Runs `step` every poll interval until `shutdown`, backing off by the retry policy while it
/// fails; failures are logged and counted for `hostchain` as `what`.
pub(crate) async fn run_stage<F, Fut>(
    ctx: &BridgeContext,
    what: &'static str,
    hostchain: &HostchainId,
    shutdown: CancellationToken,
    mut step: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), StepError>>,
{
    let mut backoff = Backoff::new(ctx.retry);
    let poll = ctx.config.poll_interval();
    loop {
        let wait = match step().await {
            Ok(()) => backoff.succeeded(poll),
            Err(e) => {
                ctx.metrics.failure(hostchain.as_str(), &e);
                let wait = backoff.failed(poll);
                tracing::warn!(%hostchain, stage = what, error = %e, retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "bridge stage step failed");
                wait
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

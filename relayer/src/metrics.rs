//! Prometheus metrics (text format at `/metrics`). Counters live here; gauges that mirror the
//! store (anchors by state and chain, confirmation lag) are refreshed when scraped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// `{hostchain, kind}` of an RPC error.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub hostchain: String,
    pub kind: String,
}

/// `{hostchain, state}` of anchors.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AnchorLabels {
    pub hostchain: String,
    pub state: String,
}

/// `{hostchain}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChainLabels {
    pub hostchain: String,
}

/// `{hostchain, key}` of a wallet balance.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WalletLabels {
    pub hostchain: String,
    pub key: String,
}

/// `{hostchain, purpose}` of a hostchain transaction.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TxLabels {
    pub hostchain: String,
    pub purpose: String,
}

/// Milliseconds since the epoch.
fn now_ms() -> u64 {
    u64::try_from(crate::store::now_ms()).unwrap_or(0)
}

/// How long after the node's last false answer `/ready` keeps failing.
pub const FALSE_ANSWER_MEMORY: Duration = Duration::from_secs(30);

/// `{answer}`: a kind of the symbiote node's answers the relayer checks.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AnswerLabels {
    pub answer: String,
}

/// The kinds of the node's answers the relayer checks: blocks (with the light client) and state
/// entries (with proofs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Blocks,
    State,
}

impl Answer {
    fn label(self) -> AnswerLabels {
        AnswerLabels {
            answer: match self {
                Answer::Blocks => "blocks",
                Answer::State => "state",
            }
            .to_string(),
        }
    }
}

/// The relayer's metrics; cheap to clone (shared).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// The highest verified symbiote block.
    pub followed_height: Gauge,
    /// Batches in the store.
    pub batches: Gauge,
    /// Anchors by hostchain and state.
    pub anchors: Family<AnchorLabels, Gauge>,
    /// Blocks followed but not yet covered by a final anchor, per hostchain.
    pub confirmation_lag_blocks: Family<ChainLabels, Gauge>,
    /// Anchor transactions sent (including re-sends).
    pub anchors_broadcast: Counter<u64, AtomicU64>,
    /// Anchors that became final.
    pub anchors_final: Counter<u64, AtomicU64>,
    /// Final anchors found no longer where they were final (a reorg deeper than the depth).
    pub final_anchors_reorged: Counter<u64, AtomicU64>,
    /// Fee-bumped replacements.
    pub replacements: Counter<u64, AtomicU64>,
    /// Failed calls by hostchain and error kind.
    pub rpc_errors: Family<ErrorLabels, Counter<u64, AtomicU64>>,
    /// Failed database calls.
    pub store_errors: Counter<u64, AtomicU64>,
    /// Hostchain transactions sent (including re-sends), by hostchain and purpose.
    pub tx_broadcasts: Family<TxLabels, Counter<u64, AtomicU64>>,
    /// The balance of every hostchain key the relayer spends from, in the chain's smallest
    /// unit (a float: wei overflow integer gauges).
    pub wallet_balance: Family<WalletLabels, Gauge<f64, AtomicU64>>,
    /// Deposits by hostchain and state.
    pub deposits: Family<AnchorLabels, Gauge>,
    /// Releases by hostchain and state.
    pub releases: Family<AnchorLabels, Gauge>,
    /// Deposits this relayer saw minted.
    pub deposits_minted: Counter<u64, AtomicU64>,
    /// Releases this relayer saw paid on their hostchain.
    pub releases_paid: Counter<u64, AtomicU64>,
    /// Releases this relayer's scout held.
    pub releases_held: Counter<u64, AtomicU64>,
    /// Answers of the symbiote node found false against verified state.
    pub false_answers: Counter<u64, AtomicU64>,
    /// By kind of answer (`blocks`, `state`): 1 while the node's last checked answer of that
    /// kind was false (then `/ready` fails), else 0.
    pub node_answer_false: Family<AnswerLabels, Gauge>,
    /// When (ms since the epoch) the node last answered falsely; 0: never.
    last_false_answer: Arc<AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Records whether the node's last checked answer of kind `answer` was true; a false one is
    /// counted and remembered for [`FALSE_ANSWER_MEMORY`].
    pub fn answer_checked(&self, answer: Answer, truthful: bool) {
        if !truthful {
            self.false_answers.inc();
            self.last_false_answer
                .store(now_ms().max(1), Ordering::SeqCst);
        }
        self.node_answer_false
            .get_or_create(&answer.label())
            .set(i64::from(!truthful));
    }

    /// Whether the node answered falsely within the last [`FALSE_ANSWER_MEMORY`] (a node that
    /// lies about some entries and not others is not trusted again at its first true answer).
    pub fn node_lying(&self) -> bool {
        let last = self.last_false_answer.load(Ordering::SeqCst);
        let memory = u64::try_from(FALSE_ANSWER_MEMORY.as_millis()).unwrap_or(u64::MAX);
        last != 0 && now_ms().saturating_sub(last) < memory
    }

    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("relayer");
        let followed_height = Gauge::default();
        let batches = Gauge::default();
        let anchors = Family::<AnchorLabels, Gauge>::default();
        let confirmation_lag_blocks = Family::<ChainLabels, Gauge>::default();
        let anchors_broadcast = Counter::default();
        let anchors_final = Counter::default();
        let final_anchors_reorged = Counter::default();
        registry.register(
            "final_anchors_reorged",
            "Final anchors found no longer where they were final (a reorg deeper than the depth)",
            final_anchors_reorged.clone(),
        );
        let replacements = Counter::default();
        let rpc_errors = Family::<ErrorLabels, Counter<u64, AtomicU64>>::default();
        let store_errors = Counter::default();
        let tx_broadcasts = Family::<TxLabels, Counter<u64, AtomicU64>>::default();
        let wallet_balance = Family::<WalletLabels, Gauge<f64, AtomicU64>>::default();
        let deposits = Family::<AnchorLabels, Gauge>::default();
        let releases = Family::<AnchorLabels, Gauge>::default();
        let deposits_minted = Counter::default();
        let releases_paid = Counter::default();
        let releases_held = Counter::default();
        let false_answers = Counter::default();
        let node_answer_false = Family::<AnswerLabels, Gauge>::default();
        // Both kinds are exported from the start, at 0.
        for answer in [Answer::Blocks, Answer::State] {
            node_answer_false.get_or_create(&answer.label()).set(0);
        }
        registry.register(
            "node_false_answers",
            "Answers of the symbiote node whose proofs do not check against verified state",
            false_answers.clone(),
        );
        registry.register(
            "node_answer_false",
            "1 while the symbiote node's last checked answer of a kind (blocks, state) was false",
            node_answer_false.clone(),
        );
        registry.register(
            "deposits",
            "Bridge deposits by hostchain and state",
            deposits.clone(),
        );
        registry.register(
            "releases",
            "Releases of withdrawal orders by hostchain and state",
            releases.clone(),
        );
        registry.register(
            "deposits_minted",
            "Deposits seen minted on the symbiote",
            deposits_minted.clone(),
        );
        registry.register(
            "releases_paid",
            "Releases seen paid on their hostchain",
            releases_paid.clone(),
        );
        registry.register(
            "releases_held",
            "Releases held by this relayer's scout",
            releases_held.clone(),
        );
        registry.register(
            "followed_height",
            "Highest verified symbiote block",
            followed_height.clone(),
        );
        registry.register("batches", "Batches cut", batches.clone());
        registry.register("anchors", "Anchors by hostchain and state", anchors.clone());
        registry.register(
            "confirmation_lag_blocks",
            "Followed blocks not yet covered by a final anchor",
            confirmation_lag_blocks.clone(),
        );
        registry.register(
            "anchor_broadcasts",
            "Anchor transactions sent",
            anchors_broadcast.clone(),
        );
        registry.register(
            "anchors_finalized",
            "Anchors that became final",
            anchors_final.clone(),
        );
        registry.register(
            "anchor_replacements",
            "Fee-bumped replacements",
            replacements.clone(),
        );
        registry.register(
            "rpc_errors",
            "Failed calls by hostchain and error kind",
            rpc_errors.clone(),
        );
        registry.register(
            "store_errors",
            "Failed calls to the relayer's own database",
            store_errors.clone(),
        );
        registry.register(
            "tx_broadcasts",
            "Hostchain transactions sent, including re-sends, by hostchain and purpose",
            tx_broadcasts.clone(),
        );
        registry.register(
            "wallet_balance",
            "Balance of each hostchain key the relayer spends from, in the chain's smallest unit",
            wallet_balance.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            followed_height,
            batches,
            anchors,
            confirmation_lag_blocks,
            anchors_broadcast,
            anchors_final,
            final_anchors_reorged,
            replacements,
            rpc_errors,
            store_errors,
            tx_broadcasts,
            wallet_balance,
            deposits,
            releases,
            deposits_minted,
            releases_paid,
            releases_held,
            false_answers,
            node_answer_false,
            last_false_answer: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Counts a failure of a step on `hostchain` (`symbiote` for the symbiote node): a store
    /// error as such, anything else by its label.
    pub fn failure(&self, hostchain: &str, failure: &dyn crate::retry::Failure) {
        if failure.is_store() {
            self.store_errors.inc();
        } else {
            self.rpc_error(hostchain, failure.label());
        }
    }

    /// Sets the count of rows of `hostchain` in `state` in `family` (anchors, deposits,
    /// releases).
    pub fn set_count(
        family: &Family<AnchorLabels, Gauge>,
        hostchain: &symbiote::types::HostchainId,
        state: &str,
        n: u64,
    ) {
        family
            .get_or_create(&AnchorLabels {
                hostchain: hostchain.to_string(),
                state: state.to_string(),
            })
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Counts a hostchain transaction sent for `purpose`.
    pub fn broadcast(
        &self,
        hostchain: &symbiote::types::HostchainId,
        purpose: &crate::store::TxPurpose,
    ) {
        let (kind, _) = purpose.key();
        if matches!(purpose, crate::store::TxPurpose::Anchor(_)) {
            self.anchors_broadcast.inc();
        }
        self.tx_broadcasts
            .get_or_create(&TxLabels {
                hostchain: hostchain.to_string(),
                purpose: kind.to_string(),
            })
            .inc();
    }

    /// Counts a failed call.
    pub fn rpc_error(&self, hostchain: &str, kind: &str) {
        self.rpc_errors
            .get_or_create(&ErrorLabels {
                hostchain: hostchain.to_string(),
                kind: kind.to_string(),
            })
            .inc();
    }

    /// The text exposition.
    /// The Prometheus text exposition (format 0.0.4, [`CONTENT_TYPE`]), which every Prometheus
    /// version and `promtool check metrics` read: the registry's OpenMetrics text with each
    /// counter's `# HELP` and `# TYPE` naming its `_total` series, and no `# EOF`.
    pub fn render(&self) -> String {
        let mut open_metrics = String::new();
        if encode(&mut open_metrics, &self.registry).is_err() {
            return String::new();
        }
        let counters: std::collections::BTreeSet<&str> = open_metrics
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|rest| rest.strip_suffix(" counter"))
            .collect();
        let mut out = String::with_capacity(open_metrics.len());
        for line in open_metrics.lines() {
            if line == "# EOF" {
                continue;
            }
            let meta = ["# HELP ", "# TYPE "]
                .into_iter()
                .find_map(|prefix| line.strip_prefix(prefix).map(|rest| (prefix, rest)));
            match meta {
                Some((prefix, rest)) => {
                    let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                    let suffix = if counters.contains(name) {
                        "_total"
                    } else {
                        ""
                    };
                    out.push_str(&format!("{prefix}{name}{suffix} {tail}"));
                }
                None => out.push_str(line),
            }
            out.push('\n');
        }
        out
    }
}

/// The media type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often the wallet balances are read.
const BALANCE_INTERVAL: Duration = Duration::from_secs(30);

/// Keeps `wallet_balance` up to date for every key every adapter spends from, until
/// `shutdown`. A hostchain that cannot answer keeps its last value and counts an error.
pub async fn watch_balances(
    adapters: crate::config::Adapters,
    metrics: Metrics,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        for (hostchain, adapter) in &adapters {
            match adapter.wallet().balances().await {
                Ok(balances) => {
                    for b in balances {
                        // Precision beyond 2^53 is not needed to see a key running dry.
                        #[allow(clippy::cast_precision_loss)]
                        let value = b.balance as f64;
                        metrics
                            .wallet_balance
                            .get_or_create(&WalletLabels {
                                hostchain: hostchain.to_string(),
                                key: b.key,
                            })
                            .set(value);
                    }
                }
                Err(e) => {
                    metrics.failure(hostchain.as_str(), &e);
                    tracing::warn!(%hostchain, error = %e, "cannot read the wallet balances");
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(BALANCE_INTERVAL) => {}
        }
    }
}

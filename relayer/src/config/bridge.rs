//! `[bridge]` and `[scout]`: deposits, releases and the scouts' policy.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use symbiote::types::Amount;

/// `[bridge]`: watching deposits (minted on the symbiote once a threshold of relayers attested
/// them) and performing releases of the symbiote's withdrawal orders. Every relayer operator
/// runs its own; they cooperate through transactions on the symbiote, never directly.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BridgeSection {
    /// Whether this relayer watches the bridges of its hostchains and performs releases. Needs
    /// `key_file` or `key_env`.
    #[serde(default)]
    pub enabled: bool,
    /// A file holding this relayer's symbiote key (the hex seed `symbiote genesis` writes as
    /// `relayer-<i>.key`): it signs attestations, release approvals, holds and scout reports,
    /// and must be a member of the symbiote's relayer set.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Or: the environment variable holding that key.
    #[serde(default)]
    pub key_env: Option<String>,
    /// How often (ms) each hostchain's deposits and releases are looked at.
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
    /// Seconds after a release gathered a threshold of approvals before a relayer other than
    /// the designated one (the member at index `nonce mod members`) submits it.
    #[serde(default = "default_takeover_seconds")]
    pub takeover_seconds: u64,
    /// How long (seconds) to wait for a published symbiote transaction to be in a block.
    #[serde(default = "default_publish_timeout")]
    pub publish_timeout_seconds: u64,
    /// A release transaction not included after this long (seconds) is replaced by a fee-bumped
    /// one (the same EVM nonce; on Solana only once its blockhash has expired), so that at most
    /// one of them pays.
    #[serde(default = "default_replace_after")]
    pub replace_after_seconds: u64,
    /// Release limits this relayer enforces itself, by `<hostchain>:<token>` (`native` for the
    /// hostchain's coin), on hostchains whose bridge has no limits of its own (Solana). Where the
    /// bridge has its own (an EVM bridge's `limitOf`), they are read and matched instead.
    #[serde(default)]
    pub limits: BTreeMap<String, LimitConfig>,
}

impl Default for BridgeSection {
    fn default() -> Self {
        BridgeSection {
            enabled: false,
            key_file: None,
            key_env: None,
            poll_interval_ms: default_poll_ms(),
            takeover_seconds: default_takeover_seconds(),
            publish_timeout_seconds: default_publish_timeout(),
            replace_after_seconds: default_replace_after(),
            limits: BTreeMap::new(),
        }
    }
}

impl BridgeSection {
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms.max(10))
    }
}

/// `[bridge.limits."<hostchain>:<token>"]`: as in Wormhole's Governor, a release that would
/// bring the rolling 24-hour total above `daily_cap`, or of at least `large_transfer`, waits
/// `delay_seconds` before it is sent. `"0"` means no cap, no large-transfer rule.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitConfig {
    /// Most released in any 24 hours without delay (decimal string, smallest unit).
    #[serde(default)]
    #[schemars(with = "String")]
    pub daily_cap: Amount,
    /// A release of at least this much is delayed (decimal string, smallest unit).
    #[serde(default)]
    #[schemars(with = "String")]
    pub large_transfer: Amount,
    /// How long a delayed release waits.
    #[serde(default)]
    pub delay_seconds: u64,
}

/// `[scout]`: the policy applied on top of each hostchain scout's findings.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoutSection {
    /// Destinations that pass whatever the scout finds, as `<hostchain>:<address>`.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Destinations always held as malicious, as `<hostchain>:<address>`.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Code hashes (0x-hex) held as malicious wherever they are found, also behind proxies and
    /// delegations.
    #[serde(default)]
    pub deny_code_hashes: Vec<String>,
    /// Whether suspicious destinations are held (malicious ones always are).
    #[serde(default = "default_true")]
    pub hold_suspicious: bool,
}

impl Default for ScoutSection {
    fn default() -> Self {
        ScoutSection {
            allow: Vec::new(),
            deny: Vec::new(),
            deny_code_hashes: Vec::new(),
            hold_suspicious: true,
        }
    }
}

fn default_poll_ms() -> u64 {
    1_000
}
fn default_takeover_seconds() -> u64 {
    60
}
fn default_publish_timeout() -> u64 {
    30
}
fn default_replace_after() -> u64 {
    120
}
fn default_true() -> bool {
    true
}

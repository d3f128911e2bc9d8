//! The relayer's configuration: one TOML file, every key overridable by an environment variable,
//! resolved once into typed [`Settings`] by every subcommand.
//!
//! `RELAYER__<SECTION>__<KEY>=value` overrides `[section] key` (names are matched without
//! regard to case, and `_` in a variable matches `-` in a key, so
//! `RELAYER__HOSTCHAINS__EVM_31337__RPC_URL` overrides `[hostchains.evm-31337] rpc_url`).
//! Values are read as TOML scalars (integers, booleans) when they parse as such, else as
//! strings. Secrets come from files or environment variables named in the file, never from the
//! command line. Errors name the file and the key.

mod bridge;
pub mod settings;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

pub use bridge::{BridgeSection, LimitConfig, ScoutSection};
pub use settings::{Adapters, HostchainConfig, Settings};

/// The prefix of overriding environment variables.
pub const ENV_PREFIX: &str = "RELAYER__";

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {file}: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: not valid TOML: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: key `{key}`: {message}")]
    Key {
        file: String,
        key: String,
        message: String,
    },
}

/// The whole configuration.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The followed symbiote.
    pub symbiote: SymbioteSection,
    /// Where the relayer keeps its state.
    #[serde(default)]
    pub database: DatabaseSection,
    /// The HTTP API.
    #[serde(default)]
    pub api: ApiSection,
    /// When a batch is cut.
    #[serde(default)]
    pub batch: BatchPolicy,
    /// How anchors are driven.
    #[serde(default)]
    pub anchoring: AnchoringSection,
    /// This process among several relayers sharing one PostgreSQL database.
    #[serde(default)]
    pub replica: ReplicaSection,
    /// Deposits and releases.
    #[serde(default)]
    pub bridge: BridgeSection,
    /// The scouts' policy.
    #[serde(default)]
    pub scout: ScoutSection,
    /// The hostchains this relayer can anchor into, by hostchain id; each section has a `kind`
    /// (`bitcoin`, `evm`, `solana`) and that kind's own keys.
    // Each kind's keys are checked by its adapter, not here: in the schema a hostchain section
    // is an open table.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, BTreeMap<String, serde_json::Value>>")]
    pub hostchains: BTreeMap<String, toml::Table>,
}

/// `[symbiote]`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SymbioteSection {
    /// A node's API URL.
    pub node_url: String,
    /// The symbiote's genesis file: the trusted start of the follower's light client.
    pub genesis_file: PathBuf,
    /// How often the follower asks for new blocks.
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
    /// `/ready` fails while the last verified block is older than this (a stalled chain, or a
    /// node that hides newer blocks); 0: never.
    #[serde(default = "default_max_head_age")]
    pub max_head_age_seconds: u64,
}

/// `[database]`. `Debug` hides the URL's password.
#[derive(Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    /// `sqlite://path` (created if missing) or `postgres://...`.
    #[serde(default = "default_database")]
    pub url: String,
}

impl std::fmt::Debug for DatabaseSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSection")
            .field("url", &crate::store::redact(&self.url))
            .finish()
    }
}

impl Default for DatabaseSection {
    fn default() -> Self {
        DatabaseSection {
            url: default_database(),
        }
    }
}

/// `[api]`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    /// Where the HTTP API listens.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// A file holding the admin token (for submitting foreign commitments).
    #[serde(default)]
    pub admin_token_file: Option<PathBuf>,
    /// Or: the environment variable holding it.
    #[serde(default)]
    pub admin_token_env: Option<String>,
}

impl Default for ApiSection {
    fn default() -> Self {
        ApiSection {
            listen: default_listen(),
            admin_token_file: None,
            admin_token_env: None,
        }
    }
}

/// `[batch]`: a batch is cut when `every_blocks` blocks wait, or when the oldest waiting block
/// has waited `every_seconds`; a batch holds at most `max_blocks`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchPolicy {
    /// Cut a batch as soon as this many followed blocks wait to be batched (at least 1).
    #[serde(default = "default_every_blocks")]
    pub every_blocks: u64,
    /// Or as soon as the oldest waiting block has waited this many seconds, however few blocks
    /// wait.
    #[serde(default = "default_every_seconds")]
    pub every_seconds: u64,
    /// The most blocks one batch covers (at least `every_blocks`); a longer backlog is cut into
    /// several batches.
    #[serde(default = "default_max_blocks")]
    pub max_blocks: u64,
}

impl Default for BatchPolicy {
    fn default() -> Self {
        BatchPolicy {
            every_blocks: default_every_blocks(),
            every_seconds: default_every_seconds(),
            max_blocks: default_max_blocks(),
        }
    }
}

/// `[anchoring]`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnchoringSection {
    /// How often each anchorer looks at its anchors.
    #[serde(default = "default_anchor_poll_ms")]
    pub poll_interval_ms: u64,
    /// A broadcast transaction not included after this long is replaced with a higher fee.
    #[serde(default = "default_replace_after")]
    pub replace_after_seconds: u64,
    /// The longest wait between retries of a failing call.
    #[serde(default = "default_max_backoff")]
    pub max_backoff_seconds: u64,
}

impl Default for AnchoringSection {
    fn default() -> Self {
        AnchoringSection {
            poll_interval_ms: default_anchor_poll_ms(),
            replace_after_seconds: default_replace_after(),
            max_backoff_seconds: default_max_backoff(),
        }
    }
}

impl AnchoringSection {
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms.max(10))
    }
}

/// `[replica]`: several relayer processes (replicas) may share one PostgreSQL database; for
/// each stage (follower, batcher, each hostchain's anchorer) one of them is active and the
/// others stand by, elected with PostgreSQL advisory locks (see `relayer/src/leader.rs`). With
/// SQLite there is one process, which runs every stage.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplicaSection {
    /// This replica's name in the API (`/v1/replicas`), the logs and PostgreSQL's
    /// `pg_stat_activity`; unique among the replicas of one database. 1 to 48 ASCII letters,
    /// digits, `.`, `_`, `-` or `:`. Default: `<hostname>-<pid>` (a new one at each start).
    #[serde(default, deserialize_with = "string_or_number")]
    #[schemars(with = "Option<String>")]
    pub id: Option<String>,
    /// How often (ms) the active replica checks that it still holds each stage's lock, and a
    /// standby tries to take a stage over. A standby takes over within about this long after
    /// the active replica dies; 100 to 60000.
    #[serde(default = "default_lease_check_ms")]
    pub lease_check_ms: u64,
}

impl Default for ReplicaSection {
    fn default() -> Self {
        ReplicaSection {
            id: None,
            lease_check_ms: default_lease_check_ms(),
        }
    }
}

impl ReplicaSection {
    pub fn lease_check(&self) -> Duration {
        Duration::from_millis(self.lease_check_ms)
    }
}

/// An id given as a string, or as a number by an environment variable (`RELAYER__REPLICA__ID=7`
/// reads as an integer).
fn string_or_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        String(String),
        Integer(i64),
    }
    Ok(Option::<Text>::deserialize(deserializer)?.map(|t| match t {
        Text::String(s) => s,
        Text::Integer(i) => i.to_string(),
    }))
}

fn default_lease_check_ms() -> u64 {
    1_000
}
fn default_poll_ms() -> u64 {
    500
}
fn default_max_head_age() -> u64 {
    120
}
fn default_database() -> String {
    "sqlite://relayer.sqlite".into()
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_every_blocks() -> u64 {
    10
}
fn default_every_seconds() -> u64 {
    30
}
fn default_max_blocks() -> u64 {
    1_000
}
fn default_anchor_poll_ms() -> u64 {
    1_000
}
fn default_replace_after() -> u64 {
    120
}
fn default_max_backoff() -> u64 {
    60
}

impl Config {
    /// Reads `path` and applies the `RELAYER__` environment variables.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let (text, file) = read_file(path)?;
        Self::parse(&text, &file, std::env::vars())
    }

    /// Parses `text` (named `file` in errors) with the overrides among `vars`. Only the syntax
    /// and the types of the keys are checked here; [`Settings::resolve`] checks the rest.
    pub fn parse(
        text: &str,
        file: &str,
        vars: impl Iterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table = parse_table(text, file)?;
        apply_overrides(&mut table, file, vars)?;
        let mut config: Config = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| ConfigError::Key {
                file: file.to_string(),
                key: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        // Relative paths are relative to the configuration file.
        if let Some(dir) = Path::new(file).parent()
            && config.symbiote.genesis_file.is_relative()
        {
            config.symbiote.genesis_file = dir.join(&config.symbiote.genesis_file);
        }
        Ok(config)
    }
}

/// The text of the configuration file at `path`, and its name for errors.
pub(crate) fn read_file(path: &Path) -> Result<(String, String), ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: file.clone(),
        source,
    })?;
    Ok((text, file))
}

/// `text` (named `file` in errors) as a TOML table.
pub(crate) fn parse_table(text: &str, file: &str) -> Result<toml::Table, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Syntax {
        file: file.to_string(),
        message: e.to_string(),
    })
}

/// Applies the `RELAYER__` variables among `vars` to `table` (read from `file`).
pub(crate) fn apply_overrides(
    table: &mut toml::Table,
    file: &str,
    vars: impl Iterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    for (name, value) in vars {
        if let Some(path) = name.strip_prefix(ENV_PREFIX) {
            apply_override(table, path, &value).map_err(|message| ConfigError::Key {
                file: format!("{file} (environment variable {name})"),
                key: path.to_lowercase(),
                message,
            })?;
        }
    }
    Ok(())
}

/// Sets the key at `path` (`SECTION__KEY`, matched loosely) to `value`.
fn apply_override(table: &mut toml::Table, path: &str, value: &str) -> Result<(), String> {
    let segments: Vec<&str> = path.split("__").filter(|s| !s.is_empty()).collect();
    let Some((last, parents)) = segments.split_last() else {
        return Err("empty key".into());
    };
    let mut current = table;
    for segment in parents {
        let name = match_key(current, segment);
        let entry = current
            .entry(name.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(format!("`{name}` is not a section")),
        };
    }
    let name = match_key(current, last);
    current.insert(name, scalar(value));
    Ok(())
}

/// The existing key that `segment` names (case-insensitive, `_` matching `-`), or `segment`
/// lowercased.
fn match_key(table: &toml::Table, segment: &str) -> String {
    let wanted = segment.to_lowercase();
    table
        .keys()
        .find(|k| k.to_lowercase().replace('-', "_") == wanted.replace('-', "_"))
        .cloned()
        .unwrap_or(wanted)
}

fn scalar(value: &str) -> toml::Value {
    if let Ok(i) = value.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    match value {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(value.to_string()),
    }
}

//! The configuration resolved once into typed settings, by every subcommand: the database URL
//! parsed, every hostchain's id and kind checked against the adapters' registry, the replica id,
//! the release limits by hostchain and token, the retry policy. Files the configuration names
//! (the genesis, secrets) are read by their own accessors, each naming its key and the file in
//! errors; `relayer run` reads them all at start.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chain_adapters::HostchainAdapter;
use symbiote::crypto::Keypair;
use symbiote::genesis::Genesis;
use symbiote::secret::{Secret, SecretSource};
use symbiote::types::{HostAddress, HostchainId, TokenId};

use super::{Config, ConfigError, LimitConfig};
use crate::retry::RetryPolicy;
use crate::roles::ReplicaId;
use crate::scout::{Destination, ScoutPolicy};
use crate::store::DatabaseUrl;

/// Failures of one anchor that cannot heal by themselves before it is marked failed.
const ANCHOR_HARD_FAILURES: u64 = 5;

/// One configured hostchain: its id, adapter kind and the adapter's own settings.
#[derive(Clone, Debug)]
pub struct HostchainConfig {
    pub id: HostchainId,
    /// A kind the adapters' registry knows.
    pub kind: String,
    /// The kind's own keys, for its adapter (paths made relative to the configuration file).
    pub settings: serde_json::Value,
}

/// The hostchain adapters, by hostchain id.
pub type Adapters = BTreeMap<HostchainId, std::sync::Arc<dyn HostchainAdapter>>;

/// The resolved configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The configuration file, named in errors.
    pub file: String,
    /// The sections as read.
    pub config: Config,
    /// `database.url`.
    pub database: DatabaseUrl,
    /// `[hostchains.*]`, in id order.
    pub hostchains: Vec<HostchainConfig>,
    /// This replica's id: `[replica] id`, else `<hostname>-<pid>`.
    pub replica: ReplicaId,
    /// `[bridge.limits]` by hostchain and token.
    pub limits: BTreeMap<(HostchainId, TokenId), LimitConfig>,
    /// Backoff of failing steps, and when an anchor is given up.
    pub retry: RetryPolicy,
    /// `[bridge] key_file` / `key_env`.
    relayer_key: Option<SecretSource>,
    /// `[api] admin_token_file` / `admin_token_env`.
    admin_token: Option<SecretSource>,
}

impl Settings {
    /// Reads and resolves `path` with the `RELAYER__` environment variables.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let config = Config::load(path)?;
        Settings::resolve(config, &path.display().to_string())
    }

    /// Parses and resolves `text` (named `file` in errors) with the overrides among `vars`.
    pub fn parse(
        text: &str,
        file: &str,
        vars: impl Iterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        Settings::resolve(Config::parse(text, file, vars)?, file)
    }

    fn err(file: &str, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Key {
            file: file.to_string(),
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// Checks and types everything in `config` (read from `file`).
    pub fn resolve(config: Config, file: &str) -> Result<Settings, ConfigError> {
        let err = |key: &str, message: String| Self::err(file, key, message);
        if config.batch.every_blocks == 0 {
            return Err(err("batch.every_blocks", "must be at least 1".into()));
        }
        if config.batch.max_blocks < config.batch.every_blocks {
            return Err(err(
                "batch.max_blocks",
                "must be at least batch.every_blocks".into(),
            ));
        }
        if !(100..=60_000).contains(&config.replica.lease_check_ms) {
            return Err(err(
                "replica.lease_check_ms",
                "must be between 100 and 60000".into(),
            ));
        }
        let replica = match &config.replica.id {
            Some(id) => ReplicaId::new(id).map_err(|e| err("replica.id", e.to_string()))?,
            None => ReplicaId::for_this_process(),
        };
        let database = DatabaseUrl::parse(&config.database.url)
            .map_err(|e| err("database.url", e.to_string()))?;
        let hostchains = hostchains(&config.hostchains, file)?;
        let mut limits = BTreeMap::new();
        for (entry, limit) in &config.bridge.limits {
            let key = format!("bridge.limits.\"{entry}\"");
            let (chain, token) = entry.split_once(':').ok_or_else(|| {
                err(
                    &key,
                    "name it as <hostchain>:<token> (`native` for the coin)".into(),
                )
            })?;
            let chain = HostchainId::new(chain).map_err(|e| err(&key, e.to_string()))?;
            let token = TokenId::new(token).map_err(|e| err(&key, e.to_string()))?;
            limits.insert((chain, token), limit.clone());
        }
        let relayer_key = SecretSource::from_settings(
            "key",
            config.bridge.key_file.clone(),
            config.bridge.key_env.clone(),
        )
        .map_err(|e| err("bridge.key_file", e.to_string()))?;
        if relayer_key.is_none() && config.bridge.enabled {
            return Err(err(
                "bridge.key_file",
                "the bridge is enabled: give key_file or key_env".into(),
            ));
        }
        let admin_token = SecretSource::from_settings(
            "admin_token",
            config.api.admin_token_file.clone(),
            config.api.admin_token_env.clone(),
        )
        .map_err(|e| err("api.admin_token_file", e.to_string()))?;
        for (i, entry) in config
            .scout
            .allow
            .iter()
            .chain(&config.scout.deny)
            .enumerate()
        {
            split_destination(entry).map_err(|e| err(&format!("scout list entry {i}"), e))?;
        }
        let retry = RetryPolicy {
            first: Duration::from_secs(1),
            cap: Duration::from_secs(config.anchoring.max_backoff_seconds.max(1)),
            give_up_after: Some(ANCHOR_HARD_FAILURES),
        };
        Ok(Settings {
            file: file.to_string(),
            database,
            hostchains,
            replica,
            limits,
            retry,
            relayer_key,
            admin_token,
            config,
        })
    }

    /// The ids of the configured hostchains.
    pub fn hostchain_ids(&self) -> Vec<HostchainId> {
        self.hostchains.iter().map(|c| c.id.clone()).collect()
    }

    /// The symbiote's genesis (`symbiote.genesis_file`): the trusted start of the follower.
    pub fn genesis(&self) -> Result<Genesis, ConfigError> {
        let path = &self.config.symbiote.genesis_file;
        let err = |message: String| {
            Self::err(
                &self.file,
                "symbiote.genesis_file",
                format!("{}: {message}", path.display()),
            )
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let genesis: Genesis = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
        genesis.validate().map_err(err)?;
        Ok(genesis)
    }

    /// The relayer's symbiote key (`[bridge] key_file` or `key_env`), if one is configured.
    pub fn relayer_key(&self) -> Result<Option<Keypair>, ConfigError> {
        self.secret(self.relayer_key.as_ref(), "bridge.key", |source| {
            symbiote::keyfile::load(source).map_err(|e| e.to_string())
        })
    }

    /// The admin token (`[api] admin_token_file` or `admin_token_env`), if one is configured.
    pub fn admin_token(&self) -> Result<Option<Secret>, ConfigError> {
        self.secret(self.admin_token.as_ref(), "api.admin_token", |source| {
            source.read().map_err(|e| e.to_string())
        })
    }

    /// Reads the secret of the `<name>_file` / `<name>_env` settings with `read`, if one is
    /// configured; an error names the setting and this file.
    fn secret<T>(
        &self,
        source: Option<&SecretSource>,
        name: &str,
        read: impl FnOnce(&SecretSource) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        let Some(source) = source else {
            return Ok(None);
        };
        read(source)
            .map(Some)
            .map_err(|e| Self::err(&self.file, &source.setting(name), e))
    }

    /// The scout policy, with every listed address in its hostchain's canonical form (checked
    /// by the hostchain's adapter).
    pub fn scout_policy(&self, adapters: &Adapters) -> Result<ScoutPolicy, ConfigError> {
        let scout = &self.config.scout;
        let resolve = |list: &[String], name: &str| -> Result<Vec<Destination>, ConfigError> {
            list.iter()
                .enumerate()
                .map(|(i, entry)| {
                    let key = format!("scout.{name}[{i}]");
                    let (chain, address) =
                        split_destination(entry).map_err(|e| Self::err(&self.file, &key, e))?;
                    let adapter = adapters.get(&chain).ok_or_else(|| {
                        Self::err(
                            &self.file,
                            &key,
                            format!("hostchain {chain} is not configured here"),
                        )
                    })?;
                    let address = adapter
                        .canonical_address(address.as_str())
                        .map_err(|e| Self::err(&self.file, &key, e.message))?;
                    Ok((chain, address))
                })
                .collect()
        };
        Ok(ScoutPolicy::new(
            resolve(&scout.allow, "allow")?,
            resolve(&scout.deny, "deny")?,
            &scout.deny_code_hashes,
            scout.hold_suspicious,
        ))
    }
}

/// `<hostchain>:<address>`.
fn split_destination(entry: &str) -> Result<(HostchainId, HostAddress), String> {
    let (chain, address) = entry
        .trim()
        .split_once(':')
        .ok_or_else(|| format!("'{entry}': name it as <hostchain>:<address>"))?;
    Ok((
        HostchainId::new(chain).map_err(|e| format!("'{entry}': {e}"))?,
        HostAddress::new(address).map_err(|e| format!("'{entry}': {e}"))?,
    ))
}

/// The `[hostchains.*]` sections of the TOML file at `path`, checked like the relayer's (with
/// `overridable`, the `RELAYER__HOSTCHAINS__*` variables override them, as they do the
/// relayer's own configuration); any other section is ignored. This is how `relayer verify`
/// reads a small verifier file, or a relayer's own configuration, without touching anything
/// else it names.
pub fn hostchain_sections(
    path: &Path,
    overridable: bool,
) -> Result<Vec<HostchainConfig>, ConfigError> {
    let (text, file) = super::read_file(path)?;
    let mut table = toml::Table::new();
    if let Some(sections) = super::parse_table(&text, &file)?.remove("hostchains") {
        table.insert("hostchains".into(), sections);
    }
    let hostchain_vars = std::env::vars().filter(|(name, _)| {
        overridable
            && name
                .to_lowercase()
                .starts_with(&format!("{}hostchains__", super::ENV_PREFIX.to_lowercase()))
    });
    super::apply_overrides(&mut table, &file, hostchain_vars)?;
    let sections: BTreeMap<String, toml::Table> = match table.remove("hostchains") {
        None => BTreeMap::new(),
        Some(value) => value
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Key {
                file: file.clone(),
                key: "hostchains".into(),
                message: e.to_string(),
            })?,
    };
    if sections.is_empty() {
        return Err(Settings::err(
            &file,
            "hostchains",
            "no [hostchains.<id>] section: name the hostchains to check, each with its kind, \
             rpc_url and whose anchors count",
        ));
    }
    hostchains(&sections, &file)
}

/// The configured hostchains, checked: a valid id and a kind the registry knows.
fn hostchains(
    sections: &BTreeMap<String, toml::Table>,
    file: &str,
) -> Result<Vec<HostchainConfig>, ConfigError> {
    let mut out = Vec::new();
    for (id, table) in sections {
        let key = |k: &str| format!("hostchains.{id}{k}");
        let hostchain =
            HostchainId::new(id).map_err(|e| Settings::err(file, &key(""), e.to_string()))?;
        let mut settings = table.clone();
        let known = chain_adapters::registry::kind_names().join(", ");
        let kind = match settings.remove("kind") {
            Some(toml::Value::String(kind)) if chain_adapters::registry::is_kind(&kind) => kind,
            Some(toml::Value::String(kind)) => {
                return Err(Settings::err(
                    file,
                    &key(".kind"),
                    format!("unknown hostchain kind '{kind}' (known: {known})"),
                ));
            }
            _ => {
                return Err(Settings::err(
                    file,
                    &key(".kind"),
                    format!("missing: say which adapter serves this hostchain ({known})"),
                ));
            }
        };
        // Key files named relative to the configuration file.
        if let Some(dir) = Path::new(file).parent() {
            for (name, value) in settings.iter_mut() {
                if name.ends_with("_file")
                    && let toml::Value::String(path) = value
                    && Path::new(path.as_str()).is_relative()
                {
                    *path = dir.join(path.as_str()).display().to_string();
                }
            }
        }
        let settings = serde_json::to_value(&settings)
            .map_err(|e| Settings::err(file, &key(""), e.to_string()))?;
        out.push(HostchainConfig {
            id: hostchain,
            kind,
            settings,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const BASE: &str = r#"
[symbiote]
node_url = "http://127.0.0.1:7000"
genesis_file = "genesis.json"

[batch]
every_blocks = 5

[hostchains.evm-31337]
kind = "evm"
rpc_url = "http://127.0.0.1:8545"
key_file = "evm.key"
"#;

    fn vars(list: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    /// Asserts that `err` names every one of `words`.
    fn says(err: &str, words: &[&str]) {
        for word in words {
            assert!(err.contains(word), "{err} does not name {word}");
        }
    }

    fn error(text: &str, list: &[(&str, &str)]) -> String {
        Settings::parse(text, "r.toml", vars(list))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn defaults_and_relative_paths() {
        let settings = Settings::parse(BASE, "/etc/relayer/relayer.toml", vars(&[])).unwrap();
        let config = &settings.config;
        assert_eq!(config.batch.every_blocks, 5);
        assert_eq!(config.batch.every_seconds, 30);
        assert_eq!(
            settings.database,
            DatabaseUrl::Sqlite("sqlite://relayer.sqlite".into())
        );
        assert_eq!(
            config.symbiote.genesis_file,
            Path::new("/etc/relayer/genesis.json")
        );
        let chains = &settings.hostchains;
        assert_eq!(chains[0].kind, "evm");
        assert_eq!(chains[0].settings["key_file"], "/etc/relayer/evm.key");
        assert!(chains[0].settings.get("kind").is_none());
    }

    #[test]
    fn environment_overrides_any_key() {
        let settings = Settings::parse(
            BASE,
            "r.toml",
            vars(&[
                ("RELAYER__BATCH__EVERY_BLOCKS", "7"),
                ("RELAYER__DATABASE__URL", "postgres://db/relayer"),
                (
                    "RELAYER__HOSTCHAINS__EVM_31337__RPC_URL",
                    "http://node:8545",
                ),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.config.batch.every_blocks, 7);
        assert_eq!(
            settings.database,
            DatabaseUrl::Postgres("postgres://db/relayer".into())
        );
        assert_eq!(
            settings.hostchains[0].settings["rpc_url"],
            "http://node:8545"
        );
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let err = error(
            &BASE.replace("every_blocks = 5", "every_blocks = \"five\""),
            &[],
        );
        assert!(
            err.contains("r.toml") && err.contains("batch.every_blocks"),
            "{err}"
        );
        let err = error(&format!("{BASE}\n[api]\nlisten_on = 1\n"), &[]);
        assert!(err.contains("listen_on"), "{err}");
        let err = error(&BASE.replace("kind = \"evm\"\n", ""), &[]);
        assert!(err.contains("hostchains.evm-31337.kind"), "{err}");
        let err = error(&BASE.replace("kind = \"evm\"", "kind = \"dogecoin\""), &[]);
        says(
            &err,
            &[
                "r.toml",
                "hostchains.evm-31337.kind",
                "dogecoin",
                "bitcoin, solana, evm",
            ],
        );
        let err = error(BASE, &[("RELAYER__BATCH__EVERY_BLOCKS", "0")]);
        assert!(err.contains("batch.every_blocks"), "{err}");
        let err = error(
            BASE,
            &[("RELAYER__DATABASE__URL", "mysql://u:pw@db/relayer")],
        );
        assert!(
            err.contains("r.toml") && err.contains("database.url") && !err.contains("pw@"),
            "{err}"
        );
        let err = error("[symbiote", &[]);
        assert!(err.contains("not valid TOML"), "{err}");
        let err = error(
            &format!("{BASE}\n[bridge.limits.\"evm-31337\"]\ndaily_cap = \"1\"\n"),
            &[],
        );
        assert!(err.contains("bridge.limits.\"evm-31337\""), "{err}");
    }

    #[test]
    fn secrets_are_refused_at_start_when_empty_unreadable_or_given_twice() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("relayer.toml").display().to_string();
        std::fs::write(dir.path().join("empty.token"), "\n").unwrap();
        let with =
            |extra: &str| Settings::parse(&format!("{BASE}{extra}"), &file, vars(&[])).unwrap();
        let settings = with("\n[api]\nadmin_token_file = \"empty.token\"\n");
        let err = settings.admin_token().unwrap_err().to_string();
        says(
            &err,
            &[
                "relayer.toml",
                "api.admin_token_file",
                "empty.token",
                "empty",
            ],
        );
        let err = error(
            &format!("{BASE}\n[api]\nadmin_token_file = \"t\"\nadmin_token_env = \"T\"\n"),
            &[],
        );
        assert!(
            err.contains("api.admin_token_file") && err.contains("both"),
            "{err}"
        );
        let settings = with("\n[bridge]\nkey_file = \"missing.key\"\n");
        let err = settings.relayer_key().unwrap_err().to_string();
        assert!(
            err.contains("bridge.key_file") && err.contains("missing.key"),
            "{err}"
        );
        let err = error(&format!("{BASE}\n[bridge]\nenabled = true\n"), &[]);
        assert!(err.contains("bridge.key_file"), "{err}");
    }

    #[test]
    fn replica_section_defaults_overrides_and_checks() {
        let settings = Settings::parse(BASE, "r.toml", vars(&[])).unwrap();
        assert_eq!(settings.config.replica.id, None);
        assert_eq!(
            settings.config.replica.lease_check(),
            Duration::from_secs(1)
        );
        assert!(
            settings
                .replica
                .as_str()
                .ends_with(&format!("-{}", std::process::id())),
            "{}",
            settings.replica
        );

        let settings = Settings::parse(
            &format!("{BASE}\n[replica]\nid = \"eu-1\"\nlease_check_ms = 250\n"),
            "r.toml",
            vars(&[]),
        )
        .unwrap();
        assert_eq!(settings.replica.as_str(), "eu-1");
        assert_eq!(
            settings.config.replica.lease_check(),
            Duration::from_millis(250)
        );
        // A numeric id from the environment reads as an integer: still an id.
        let settings =
            Settings::parse(BASE, "r.toml", vars(&[("RELAYER__REPLICA__ID", "7")])).unwrap();
        assert_eq!(settings.replica.as_str(), "7");

        for (var, value, key) in [
            ("RELAYER__REPLICA__ID", "two words", "replica.id"),
            (
                "RELAYER__REPLICA__LEASE_CHECK_MS",
                "10",
                "replica.lease_check_ms",
            ),
        ] {
            let err = error(BASE, &[(var, value)]);
            assert!(err.contains("r.toml") && err.contains(key), "{err}");
        }
    }
}

//! The `bitcoin` hostchain's configuration section, as the relayer passes it (a JSON value).
//!
//! Unknown keys are refused, and every error names the key it is about. Secrets (the RPC
//! password, the relayer key) are never part of an error or of `Debug` output: the password is
//! read here (from the section or from an environment variable) and kept in a [`Secret`]; the
//! key is only located here ([`KeySource`]) and read by [`super::wallet::Signer::load`].

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use bitcoin::Network;
use serde::Deserialize;

use super::fees::{FeeLimits, FeeRate};
use crate::error::ErrorKind;

/// Key names, as they appear in the configuration.
const RPC_PASSWORD: &str = "rpc_password";

/// A configuration error: which key, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bitcoin config `{key}`: {reason}")]
pub struct ConfigError {
    /// The offending key (`.` for the section itself).
    pub key: String,
    /// What is wrong, without the value when the key is secret.
    pub reason: String,
}

impl ConfigError {
    fn new(key: &str, reason: impl Into<String>) -> Self {
        ConfigError {
            key: key.to_string(),
            reason: reason.into(),
        }
    }

    /// Always [`ErrorKind::Config`].
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Config
    }
}

/// A secret string: compared and used, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that needs it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

pub use crate::key_source::KeySource;

/// The validated configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct BitcoinConfig {
    /// bitcoind's JSON-RPC endpoint (`http://host:port`; no credentials in it).
    pub rpc_url: String,
    /// RPC user.
    pub rpc_user: String,
    /// RPC password, from `rpc_password` or the variable named by `rpc_password_env`.
    pub rpc_password: Secret,
    /// Which Bitcoin network; the node must be on it.
    pub network: Network,
    /// Where the relayer's key is. `None` only in a configuration read for verifying
    /// ([`BitcoinConfig::for_reading`]).
    pub key: Option<KeySource>,
    /// Addresses (P2WPKH) whose anchors count when an anchor is read back besides the
    /// relayer's own: an anchor transaction must spend a coin of one of them, signed.
    pub trusted_anchor_addresses: Vec<bitcoin::Address>,
    /// Confirmations after which an anchor is final.
    pub confirmations: u64,
    /// The confirmation target given to `estimatesmartfee`.
    pub fee_target_blocks: u16,
    /// Fee rates used without an estimate, and never exceeded.
    pub fees: FeeLimits,
    /// After how many blocks in the mempool the relayer should replace an anchor. The adapter
    /// does not schedule anything itself; this is read by the caller.
    pub rbf_after_blocks: u64,
    /// Timeout of one RPC call.
    pub rpc_timeout: Duration,
}

impl fmt::Debug for BitcoinConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BitcoinConfig")
            .field("rpc_url", &self.rpc_url)
            .field("rpc_user", &self.rpc_user)
            .field("rpc_password", &self.rpc_password)
            .field("network", &self.network)
            .field("key", &self.key)
            .field("trusted_anchor_addresses", &self.trusted_anchor_addresses)
            .field("confirmations", &self.confirmations)
            .field("fee_target_blocks", &self.fee_target_blocks)
            .field("fees", &self.fees)
            .field("rbf_after_blocks", &self.rbf_after_blocks)
            .field("rpc_timeout", &self.rpc_timeout)
            .finish()
    }
}

/// The section as written. Field names are the configuration's key names.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    rpc_url: String,
    rpc_user: String,
    #[serde(default)]
    rpc_password: Option<String>,
    #[serde(default)]
    rpc_password_env: Option<String>,
    network: NetworkName,
    #[serde(default)]
    key_file: Option<PathBuf>,
    #[serde(default)]
    key_env: Option<String>,
    #[serde(default = "defaults::confirmations")]
    confirmations: u64,
    #[serde(default = "defaults::fee_target_blocks")]
    fee_target_blocks: u16,
    #[serde(default = "defaults::fallback_fee_rate")]
    fallback_fee_rate_sat_vb: f64,
    #[serde(default = "defaults::max_fee_rate")]
    max_fee_rate_sat_vb: f64,
    #[serde(default = "defaults::rbf_after_blocks")]
    rbf_after_blocks: u64,
    #[serde(default = "defaults::rpc_timeout_secs")]
    rpc_timeout_secs: u64,
    #[serde(default)]
    trusted_anchor_addresses: Vec<String>,
}

/// The defaults of optional keys.
mod defaults {
    pub fn confirmations() -> u64 {
        6
    }
    pub fn fee_target_blocks() -> u16 {
        6
    }
    pub fn fallback_fee_rate() -> f64 {
        2.0
    }
    pub fn max_fee_rate() -> f64 {
        100.0
    }
    pub fn rbf_after_blocks() -> u64 {
        3
    }
    pub fn rpc_timeout_secs() -> u64 {
        30
    }
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum NetworkName {
    Regtest,
    Testnet,
    Testnet4,
    Signet,
    Bitcoin,
}

impl From<NetworkName> for Network {
    fn from(name: NetworkName) -> Network {
        match name {
            NetworkName::Regtest => Network::Regtest,
            NetworkName::Testnet => Network::Testnet,
            NetworkName::Testnet4 => Network::Testnet4,
            NetworkName::Signet => Network::Signet,
            NetworkName::Bitcoin => Network::Bitcoin,
        }
    }
}

/// The longest `estimatesmartfee` target Bitcoin Core accepts.
const MAX_FEE_TARGET_BLOCKS: u16 = 1008;

impl BitcoinConfig {
    /// Parses and validates a configuration section, reading the RPC password from the
    /// environment if the section names a variable for it.
    pub fn from_value(section: serde_json::Value) -> Result<BitcoinConfig, ConfigError> {
        Self::from_value_with_env(section, |name| std::env::var(name).ok())
    }

    /// Parses a section for reading anchors back only (`relayer verify`): the same keys, but
    /// the relayer's key may be left out (and is never read).
    pub fn for_reading(section: serde_json::Value) -> Result<BitcoinConfig, ConfigError> {
        Self::parse(section, |name| std::env::var(name).ok(), false)
    }

    /// [`Self::from_value`] with the environment given as a function (for tests).
    pub fn from_value_with_env(
        section: serde_json::Value,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<BitcoinConfig, ConfigError> {
        Self::parse(section, env, true)
    }

    fn parse(
        section: serde_json::Value,
        env: impl Fn(&str) -> Option<String>,
        key_required: bool,
    ) -> Result<BitcoinConfig, ConfigError> {
        let section: Section = serde_path_to_error::deserialize(section).map_err(|e| {
            let key = e.path().to_string();
            if key == RPC_PASSWORD {
                // The inner message may quote the value.
                ConfigError::new(&key, "expected a string")
            } else {
                ConfigError::new(&key, e.inner().to_string())
            }
        })?;

        let rpc_url = section.rpc_url.trim().to_string();
        if !rpc_url.starts_with("http://") {
            return Err(ConfigError::new(
                "rpc_url",
                "must start with http:// (bitcoind's RPC server speaks plain HTTP)",
            ));
        }
        if rpc_url.contains('@') {
            return Err(ConfigError::new(
                "rpc_url",
                "must not contain credentials; use rpc_user and rpc_password",
            ));
        }
        if section.rpc_user.is_empty() {
            return Err(ConfigError::new("rpc_user", "must not be empty"));
        }
        let rpc_password = match (section.rpc_password, section.rpc_password_env) {
            (Some(password), None) => password,
            (None, Some(name)) => env(&name).filter(|v| !v.is_empty()).ok_or_else(|| {
                ConfigError::new(
                    "rpc_password_env",
                    format!("environment variable {name} is not set or empty"),
                )
            })?,
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    RPC_PASSWORD,
                    "give either rpc_password or rpc_password_env, not both",
                ));
            }
            (None, None) => {
                return Err(ConfigError::new(
                    RPC_PASSWORD,
                    "missing: give rpc_password or rpc_password_env",
                ));
            }
        };
        let key = crate::key_source::from_settings(section.key_file, section.key_env, key_required)
            .map_err(|(key, reason)| ConfigError::new(key, reason))?;
        let network: Network = section.network.into();
        let trusted_anchor_addresses = section
            .trusted_anchor_addresses
            .iter()
            .map(|text| {
                text.parse::<bitcoin::Address<bitcoin::address::NetworkUnchecked>>()
                    .map_err(|e| e.to_string())
                    .and_then(|a| a.require_network(network).map_err(|e| e.to_string()))
                    .and_then(|a| {
                        // Relayers pay anchors from P2WPKH coins; their signatures are checked.
                        if a.address_type() == Some(bitcoin::AddressType::P2wpkh) {
                            Ok(a)
                        } else {
                            Err("not a P2WPKH address, the kind relayers anchor from".into())
                        }
                    })
                    .map_err(|e| {
                        ConfigError::new(
                            "trusted_anchor_addresses",
                            format!("'{text}' is not a {network} address ({e})"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if section.confirmations == 0 {
            return Err(ConfigError::new("confirmations", "must be at least 1"));
        }
        if !(1..=MAX_FEE_TARGET_BLOCKS).contains(&section.fee_target_blocks) {
            return Err(ConfigError::new(
                "fee_target_blocks",
                format!("must be between 1 and {MAX_FEE_TARGET_BLOCKS}"),
            ));
        }
        let fallback = fee_rate("fallback_fee_rate_sat_vb", section.fallback_fee_rate_sat_vb)?;
        let max = fee_rate("max_fee_rate_sat_vb", section.max_fee_rate_sat_vb)?;
        if max < fallback {
            return Err(ConfigError::new(
                "max_fee_rate_sat_vb",
                format!("{max} is below fallback_fee_rate_sat_vb ({fallback})"),
            ));
        }
        if section.rbf_after_blocks == 0 {
            return Err(ConfigError::new("rbf_after_blocks", "must be at least 1"));
        }
        if section.rpc_timeout_secs == 0 {
            return Err(ConfigError::new("rpc_timeout_secs", "must be at least 1"));
        }
        Ok(BitcoinConfig {
            rpc_url,
            rpc_user: section.rpc_user,
            rpc_password: Secret(rpc_password),
            network,
            key,
            trusted_anchor_addresses,
            confirmations: section.confirmations,
            fee_target_blocks: section.fee_target_blocks,
            fees: FeeLimits { fallback, max },
            rbf_after_blocks: section.rbf_after_blocks,
            rpc_timeout: Duration::from_secs(section.rpc_timeout_secs),
        })
    }
}

/// The highest fee rate anyone could mean, in sat/vB (a sanity bound on configuration).
const MAX_SANE_SAT_PER_VB: f64 = 1_000_000.0;

/// A positive rate in sat/vB with at most three decimals, as a [`FeeRate`].
fn fee_rate(key: &str, sat_per_vb: f64) -> Result<FeeRate, ConfigError> {
    if !sat_per_vb.is_finite() || sat_per_vb <= 0.0 || sat_per_vb > MAX_SANE_SAT_PER_VB {
        return Err(ConfigError::new(
            key,
            format!("{sat_per_vb} is not a fee rate between 0 and {MAX_SANE_SAT_PER_VB} sat/vB"),
        ));
    }
    let per_kvb = (sat_per_vb * 1000.0).round();
    if (per_kvb - sat_per_vb * 1000.0).abs() > 1e-6 {
        return Err(ConfigError::new(
            key,
            format!("{sat_per_vb} has more than three decimals"),
        ));
    }
    // In range by the bounds above; `as` cannot truncate a whole number of this size.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let per_kvb = per_kvb as u64;
    Ok(FeeRate::from_sat_per_kvb(per_kvb))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn base() -> serde_json::Value {
        json!({
            "rpc_url": "http://127.0.0.1:18443",
            "rpc_user": "symbiote",
            "rpc_password": "hunter2-secret",
            "network": "regtest",
            "key_file": "/etc/relayer/bitcoin.key",
        })
    }

    fn parse(value: serde_json::Value) -> Result<BitcoinConfig, ConfigError> {
        BitcoinConfig::from_value_with_env(value, |name| {
            (name == "BTC_RPC_PASSWORD").then(|| "from-env-secret".to_string())
        })
    }

    fn with(key: &str, value: serde_json::Value) -> serde_json::Value {
        let mut section = base();
        section[key] = value;
        section
    }

    fn without(key: &str) -> serde_json::Value {
        let mut section = base();
        section.as_object_mut().unwrap().remove(key);
        section
    }

    #[test]
    fn defaults_are_safe() {
        let config = parse(base()).unwrap();
        assert_eq!(config.network, Network::Regtest);
        assert_eq!(config.confirmations, 6);
        assert_eq!(config.fee_target_blocks, 6);
        assert_eq!(config.fees.fallback, FeeRate::from_sat_per_kvb(2_000));
        assert_eq!(config.fees.max, FeeRate::from_sat_per_kvb(100_000));
        assert_eq!(config.rbf_after_blocks, 3);
        assert_eq!(
            config.key,
            Some(KeySource::File(PathBuf::from("/etc/relayer/bitcoin.key")))
        );
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let err = parse(with("confirmation", json!(3))).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `confirmation`"),
            "{err}"
        );
    }

    #[test]
    fn errors_name_the_key() {
        let err = parse(with("confirmations", json!("six"))).unwrap_err();
        assert_eq!(err.key, "confirmations");
        let err = parse(with("confirmations", json!(0))).unwrap_err();
        assert_eq!(err.key, "confirmations");
        let err = parse(with("network", json!("mainnet"))).unwrap_err();
        assert_eq!(err.key, "network");
        let err = parse(without("rpc_url")).unwrap_err();
        assert!(err.to_string().contains("rpc_url"), "{err}");
        let err = parse(with("fallback_fee_rate_sat_vb", json!(-1))).unwrap_err();
        assert_eq!(err.key, "fallback_fee_rate_sat_vb");
        let err = parse(with("max_fee_rate_sat_vb", json!(1))).unwrap_err();
        assert_eq!(err.key, "max_fee_rate_sat_vb");
        let err = parse(with("fallback_fee_rate_sat_vb", json!(1.0001))).unwrap_err();
        assert_eq!(err.key, "fallback_fee_rate_sat_vb");
        let err = parse(with("fee_target_blocks", json!(0))).unwrap_err();
        assert_eq!(err.key, "fee_target_blocks");
        let err = parse(with("rpc_url", json!("http://user:pw@127.0.0.1:1"))).unwrap_err();
        assert_eq!(err.key, "rpc_url");
        assert!(!err.to_string().contains("pw@"));
    }

    #[test]
    fn decimal_fee_rates_are_exact() {
        let config = parse(with("fallback_fee_rate_sat_vb", json!(1.5))).unwrap();
        assert_eq!(config.fees.fallback, FeeRate::from_sat_per_kvb(1_500));
    }

    #[test]
    fn password_comes_from_the_section_or_the_environment() {
        let mut section = without("rpc_password");
        section["rpc_password_env"] = json!("BTC_RPC_PASSWORD");
        let config = parse(section.clone()).unwrap();
        assert_eq!(config.rpc_password.expose(), "from-env-secret");

        section["rpc_password_env"] = json!("UNSET_VARIABLE");
        let err = parse(section).unwrap_err();
        assert_eq!(err.key, "rpc_password_env");

        let err = parse(without("rpc_password")).unwrap_err();
        assert_eq!(err.key, "rpc_password");
        let err = parse(with("rpc_password_env", json!("BTC_RPC_PASSWORD"))).unwrap_err();
        assert_eq!(err.key, "rpc_password");
    }

    #[test]
    fn key_comes_from_exactly_one_place() {
        let mut section = without("key_file");
        section["key_env"] = json!("RELAYER_BTC_KEY");
        assert_eq!(
            parse(section).unwrap().key,
            Some(KeySource::Env("RELAYER_BTC_KEY".into()))
        );
        assert_eq!(parse(without("key_file")).unwrap_err().key, "key_file");
        let err = parse(with("key_env", json!("X"))).unwrap_err();
        assert_eq!(err.key, "key_file");
    }

    #[test]
    fn secrets_never_show() {
        let config = parse(base()).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("<redacted>"));
        // A password of the wrong type is not quoted in the error.
        let err = parse(with("rpc_password", json!(987654321))).unwrap_err();
        assert_eq!(err.key, "rpc_password");
        assert!(!err.to_string().contains("987654321"), "{err}");
    }
}

//! The `evm` hostchain's configuration section, as the relayer passes it (a JSON value).
//!
//! Unknown keys are refused and every error names the key it is about. The relayer's key is
//! only located here ([`KeySource`]); [`super::keys::RelayerKey::load`] reads it, so the key
//! itself never passes through configuration errors or `Debug` output.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use alloy::primitives::Address;
use serde::Deserialize;

use super::fees::{Gwei, Wei};

/// A configuration error: which key, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("evm config `{key}`: {reason}")]
pub struct ConfigError {
    /// The offending key (`.` for the section itself).
    pub key: String,
    /// What is wrong.
    pub reason: String,
}

impl ConfigError {
    fn new(key: &str, reason: impl Into<String>) -> Self {
        ConfigError {
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}

pub use crate::key_source::KeySource;

/// When a block counts as final.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finality {
    /// At least this many confirmations (the including block counts as the first).
    Depth(u64),
    /// At or below the node's `finalized` block (`use_finalized_tag = true`).
    FinalizedTag,
}

/// The validated configuration. `Debug` shows no secret: the key is only located here, and
/// of the RPC URL (whose path or user part often holds a provider's API key) only the host.
#[derive(Clone, PartialEq)]
pub struct EvmConfig {
    /// JSON-RPC endpoint (`http://...` or `https://...`).
    pub rpc_url: String,
    /// Where the relayer's key is; it pays gas and signs anchors and releases. `None` only in
    /// a configuration read for verifying ([`EvmConfig::for_reading`]).
    pub key: Option<KeySource>,
    /// The chain id the node must report, if given; signatures are bound to the chain id, so a
    /// mismatch is refused rather than signed for.
    pub chain_id: Option<u64>,
    /// The SymbioteAnchor contract.
    pub anchor_contract: Address,
    /// The SymbioteBridge contract; without it the adapter neither watches deposits nor
    /// releases.
    pub bridge_contract: Option<Address>,
    /// When a transaction or a deposit counts as final.
    pub finality: Finality,
    /// The highest gas limit the adapter sets on a transaction.
    pub max_gas: u64,
    /// The highest `maxFeePerGas` the adapter ever signs.
    pub max_fee_per_gas: Wei,
    /// Fee increase of a replacement over the replaced transaction, in hundredths of a percent.
    pub replace_bump_bps: u32,
    /// Margin added to `eth_estimateGas`, in percent (state may change between estimate and
    /// inclusion).
    pub gas_margin_percent: u32,
    /// The most blocks one `eth_getLogs` call of a deposit scan covers.
    pub deposit_range: u64,
    /// The first block a deposit scan looks at when it has no cursor yet (the bridge's
    /// deployment block).
    pub deposit_start_block: u64,
    /// Timeout of one RPC call.
    pub rpc_timeout: Duration,
}

impl fmt::Debug for EvmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EvmConfig")
            .field("rpc_url", &redacted_url(&self.rpc_url))
            .field("key", &self.key)
            .field("chain_id", &self.chain_id)
            .field("anchor_contract", &self.anchor_contract)
            .field("bridge_contract", &self.bridge_contract)
            .field("finality", &self.finality)
            .field("max_gas", &self.max_gas)
            .field("max_fee_per_gas", &self.max_fee_per_gas)
            .field("replace_bump_bps", &self.replace_bump_bps)
            .field("gas_margin_percent", &self.gas_margin_percent)
            .field("deposit_range", &self.deposit_range)
            .field("deposit_start_block", &self.deposit_start_block)
            .field("rpc_timeout", &self.rpc_timeout)
            .finish()
    }
}

/// `scheme://host[:port]/…` of a URL: without user information, path or query.
pub fn redacted_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{scheme}://{host}/…")
}

/// The section as written. Field names are the configuration's key names.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    rpc_url: String,
    #[serde(default)]
    key_file: Option<PathBuf>,
    #[serde(default)]
    key_env: Option<String>,
    #[serde(default)]
    chain_id: Option<u64>,
    anchor_contract: String,
    #[serde(default)]
    bridge_contract: Option<String>,
    #[serde(default)]
    confirmations: Option<u64>,
    #[serde(default)]
    use_finalized_tag: bool,
    #[serde(default = "defaults::max_gas")]
    max_gas: u64,
    #[serde(default = "defaults::max_fee_per_gas_gwei")]
    max_fee_per_gas_gwei: f64,
    #[serde(default = "defaults::replace_bump_percent")]
    replace_bump_percent: f64,
    #[serde(default = "defaults::gas_margin_percent")]
    gas_margin_percent: u32,
    #[serde(default = "defaults::deposit_range")]
    deposit_range: u64,
    #[serde(default)]
    deposit_start_block: u64,
    #[serde(default = "defaults::rpc_timeout_secs")]
    rpc_timeout_secs: u64,
}

/// The defaults of optional keys.
mod defaults {
    /// Ethereum mainnet's usual safe depth when the `finalized` tag is not used.
    pub const CONFIRMATIONS: u64 = 12;
    pub fn max_gas() -> u64 {
        1_000_000
    }
    pub fn max_fee_per_gas_gwei() -> f64 {
        100.0
    }
    /// Geth and most nodes refuse a replacement below +10% on both fee fields; a little more
    /// leaves room for rounding and for nodes configured stricter.
    pub fn replace_bump_percent() -> f64 {
        15.0
    }
    pub fn gas_margin_percent() -> u32 {
        20
    }
    pub fn deposit_range() -> u64 {
        2_000
    }
    pub fn rpc_timeout_secs() -> u64 {
        30
    }
}

/// The smallest replacement bump nodes accept (geth's default `txpool.pricebump`), in
/// hundredths of a percent.
pub const MIN_REPLACE_BUMP_BPS: u32 = 1_000;

fn address(key: &str, text: &str) -> Result<Address, ConfigError> {
    text.trim()
        .parse::<Address>()
        .map_err(|e| ConfigError::new(key, format!("'{text}' is not an EVM address ({e})")))
}

impl EvmConfig {
    /// Parses and validates a configuration section.
    pub fn from_value(section: serde_json::Value) -> Result<EvmConfig, ConfigError> {
        Self::parse(section, true)
    }

    /// Parses a section for reading anchors back only (`relayer verify`): the same keys, but
    /// the relayer's key may be left out (and is never read).
    pub fn for_reading(section: serde_json::Value) -> Result<EvmConfig, ConfigError> {
        Self::parse(section, false)
    }

    fn parse(section: serde_json::Value, key_required: bool) -> Result<EvmConfig, ConfigError> {
        let section: Section = serde_path_to_error::deserialize(section)
            .map_err(|e| ConfigError::new(&e.path().to_string(), e.inner().to_string()))?;

        let rpc_url = section.rpc_url.trim().to_string();
        if !rpc_url.starts_with("http://") && !rpc_url.starts_with("https://") {
            return Err(ConfigError::new(
                "rpc_url",
                "must start with http:// or https://",
            ));
        }
        let key = crate::key_source::from_settings(section.key_file, section.key_env, key_required)
            .map_err(|(key, reason)| ConfigError::new(key, reason))?;
        let anchor_contract = address("anchor_contract", &section.anchor_contract)?;
        let bridge_contract = section
            .bridge_contract
            .as_deref()
            .map(|text| address("bridge_contract", text))
            .transpose()?;
        let finality = match (section.confirmations, section.use_finalized_tag) {
            (Some(_), true) => {
                return Err(ConfigError::new(
                    "confirmations",
                    "give either confirmations or use_finalized_tag = true, not both",
                ));
            }
            (Some(0), false) => {
                return Err(ConfigError::new("confirmations", "must be at least 1"));
            }
            (Some(depth), false) => Finality::Depth(depth),
            (None, false) => Finality::Depth(defaults::CONFIRMATIONS),
            (None, true) => Finality::FinalizedTag,
        };
        if section.max_gas < 21_000 {
            return Err(ConfigError::new(
                "max_gas",
                "must be at least 21000 (the cost of any transaction)",
            ));
        }
        let max_fee_per_gas = Gwei::new(section.max_fee_per_gas_gwei)
            .and_then(Gwei::to_wei)
            .filter(|wei| wei.get() > 0)
            .ok_or_else(|| {
                ConfigError::new("max_fee_per_gas_gwei", "must be a positive number of gwei")
            })?;
        let bump = section.replace_bump_percent;
        if !bump.is_finite() || !(10.0..=1_000.0).contains(&bump) {
            return Err(ConfigError::new(
                "replace_bump_percent",
                "must be between 10 (nodes refuse smaller replacements) and 1000",
            ));
        }
        // Within 10..=1000 after the check above, so the cast cannot truncate.
        let replace_bump_bps = (bump * 100.0).ceil() as u32;
        if section.gas_margin_percent > 100 {
            return Err(ConfigError::new(
                "gas_margin_percent",
                "must be at most 100",
            ));
        }
        if section.deposit_range == 0 {
            return Err(ConfigError::new("deposit_range", "must be at least 1"));
        }
        if section.rpc_timeout_secs == 0 {
            return Err(ConfigError::new("rpc_timeout_secs", "must be at least 1"));
        }
        Ok(EvmConfig {
            rpc_url,
            key,
            chain_id: section.chain_id,
            anchor_contract,
            bridge_contract,
            finality,
            max_gas: section.max_gas,
            max_fee_per_gas,
            replace_bump_bps: replace_bump_bps.max(MIN_REPLACE_BUMP_BPS),
            gas_margin_percent: section.gas_margin_percent,
            deposit_range: section.deposit_range,
            deposit_start_block: section.deposit_start_block,
            rpc_timeout: Duration::from_secs(section.rpc_timeout_secs),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn minimal() -> serde_json::Value {
        json!({
            "rpc_url": "http://127.0.0.1:8545",
            "key_env": "RELAYER_EVM_KEY",
            "anchor_contract": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        })
    }

    #[test]
    fn defaults_are_safe() {
        let config = EvmConfig::from_value(minimal()).unwrap();
        assert_eq!(config.finality, Finality::Depth(12));
        assert_eq!(config.replace_bump_bps, 1_500);
        assert_eq!(config.max_fee_per_gas, Wei::new(100_000_000_000));
        assert_eq!(config.deposit_range, 2_000);
        assert_eq!(config.bridge_contract, None);
        assert_eq!(config.key, Some(KeySource::Env("RELAYER_EVM_KEY".into())));
    }

    #[test]
    fn errors_name_the_key() {
        let mut section = minimal();
        section["confirmatons"] = json!(3);
        let err = EvmConfig::from_value(section).unwrap_err();
        assert!(err.reason.contains("confirmatons"), "{err}");

        let mut section = minimal();
        section["max_gas"] = json!("lots");
        assert_eq!(EvmConfig::from_value(section).unwrap_err().key, "max_gas");

        let mut section = minimal();
        section["anchor_contract"] = json!("0x1234");
        assert_eq!(
            EvmConfig::from_value(section).unwrap_err().key,
            "anchor_contract"
        );

        let mut section = minimal();
        section["replace_bump_percent"] = json!(5);
        assert_eq!(
            EvmConfig::from_value(section).unwrap_err().key,
            "replace_bump_percent"
        );

        let mut section = minimal();
        section["confirmations"] = json!(3);
        section["use_finalized_tag"] = json!(true);
        assert_eq!(
            EvmConfig::from_value(section).unwrap_err().key,
            "confirmations"
        );

        let mut section = minimal();
        section["key_file"] = json!("/k");
        assert_eq!(EvmConfig::from_value(section).unwrap_err().key, "key_file");
    }

    #[test]
    fn http_and_https_endpoints_only() {
        let mut section = minimal();
        section["rpc_url"] = json!("https://user:pw@mainnet.example/v3/api-key?x=1");
        let config = EvmConfig::from_value(section).unwrap();
        let debug = format!("{config:?}");
        assert!(debug.contains("https://mainnet.example/…"), "{debug}");
        assert!(
            !debug.contains("api-key") && !debug.contains("pw"),
            "{debug}"
        );
        let mut section = minimal();
        section["rpc_url"] = json!("ws://127.0.0.1:8546");
        assert_eq!(EvmConfig::from_value(section).unwrap_err().key, "rpc_url");
    }

    #[test]
    fn finalized_tag_and_fractional_gwei() {
        let mut section = minimal();
        section["use_finalized_tag"] = json!(true);
        section["max_fee_per_gas_gwei"] = json!(0.5);
        let config = EvmConfig::from_value(section).unwrap();
        assert_eq!(config.finality, Finality::FinalizedTag);
        assert_eq!(config.max_fee_per_gas, Wei::new(500_000_000));
    }
}

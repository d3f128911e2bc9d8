//! What a Bitcoin [`crate::PreparedTx`] carries in `meta`, for `replace` and for re-learning our
//! coins after a restart.
//!
//! Persisted format: the relayer stores it with the signed transaction. It is versioned by the
//! field `v`; version 1 is the only one so far. A change of layout needs a new version, and
//! this adapter must keep reading the old ones. Field names must not be renamed.

use bitcoin::{Amount, OutPoint, Txid};
use serde::{Deserialize, Serialize};

use super::fees::FeeRate;

/// The version this code writes.
pub const META_VERSION: u32 = 1;

/// Version 1 of the metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaV1 {
    /// Always [`META_VERSION`] (1).
    pub v: u32,
    /// The absolute fee.
    #[serde(with = "bitcoin::amount::serde::as_sat")]
    pub fee_sat: Amount,
    /// The signed transaction's virtual size.
    pub vsize: u64,
    /// The fee rate it pays (fee / vsize, rounded down).
    pub fee_rate_sat_kvb: FeeRate,
    /// The outputs it spends, with their values (needed to sign a replacement).
    pub inputs: Vec<MetaInput>,
    /// The change output (in this transaction), which the next anchor may spend.
    pub change: MetaChange,
    /// How many unconfirmed transactions of ours lead to its change, its own included, when it
    /// was built.
    pub chain_depth: u32,
    /// The transaction this one replaces, if it is a fee bump.
    pub replaces: Option<Txid>,
}

/// A spent output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaInput {
    /// The output's transaction.
    pub txid: Txid,
    /// Its index.
    pub vout: u32,
    /// Its value.
    #[serde(with = "bitcoin::amount::serde::as_sat")]
    pub amount_sat: Amount,
}

impl MetaInput {
    /// The outpoint.
    pub fn outpoint(&self) -> OutPoint {
        OutPoint::new(self.txid, self.vout)
    }
}

/// The change output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaChange {
    /// Its index in the transaction.
    pub vout: u32,
    /// Its value.
    #[serde(with = "bitcoin::amount::serde::as_sat")]
    pub amount_sat: Amount,
}

/// Why `meta` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetaError {
    /// A version this adapter does not know (written by a newer relayer?).
    #[error("prepared transaction meta has version {0}; this adapter reads version {META_VERSION}")]
    Version(String),
    /// Not the layout of its version.
    #[error("prepared transaction meta is malformed: {0}")]
    Malformed(String),
}

impl MetaV1 {
    /// As stored in [`crate::PreparedTx::meta`].
    pub fn to_value(&self) -> serde_json::Value {
        // A struct of plain fields always serializes; `Null` would only fail to parse later.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Reads stored metadata of any known version.
    pub fn from_value(value: &serde_json::Value) -> Result<MetaV1, MetaError> {
        match value.get("v") {
            Some(v) if v.as_u64() == Some(u64::from(META_VERSION)) => {
                MetaV1::deserialize(value).map_err(|e| MetaError::Malformed(e.to_string()))
            }
            Some(v) => Err(MetaError::Version(v.to_string())),
            None => Err(MetaError::Malformed("no version field `v`".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use bitcoin::hashes::Hash as _;
    use serde_json::json;

    use super::*;

    fn sample() -> MetaV1 {
        MetaV1 {
            v: META_VERSION,
            fee_sat: Amount::from_sat(332),
            vsize: 166,
            fee_rate_sat_kvb: FeeRate::from_sat_per_kvb(2_000),
            inputs: vec![MetaInput {
                txid: Txid::from_byte_array([1; 32]),
                vout: 0,
                amount_sat: Amount::from_sat(5_000_000_000),
            }],
            change: MetaChange {
                vout: 1,
                amount_sat: Amount::from_sat(4_999_999_668),
            },
            chain_depth: 1,
            replaces: None,
        }
    }

    #[test]
    fn layout_is_stable() {
        let value = sample().to_value();
        assert_eq!(
            value,
            json!({
                "v": 1,
                "fee_sat": 332,
                "vsize": 166,
                "fee_rate_sat_kvb": 2000,
                "inputs": [{
                    "txid": "0101010101010101010101010101010101010101010101010101010101010101",
                    "vout": 0,
                    "amount_sat": 5_000_000_000u64,
                }],
                "change": {"vout": 1, "amount_sat": 4_999_999_668u64},
                "chain_depth": 1,
                "replaces": null,
            })
        );
        assert_eq!(MetaV1::from_value(&value).unwrap(), sample());
    }

    #[test]
    fn unknown_versions_are_refused() {
        let mut value = sample().to_value();
        value["v"] = json!(2);
        assert!(matches!(
            MetaV1::from_value(&value),
            Err(MetaError::Version(_))
        ));
        assert!(matches!(
            MetaV1::from_value(&json!({})),
            Err(MetaError::Malformed(_))
        ));
    }
}

//! EIP-1559 fee arithmetic: amounts in wei per gas, the cap every signed transaction stays
//! under, and the bump a replacement needs. Pure functions, so that the rules are tested
//! without a node.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A fee in wei per gas (`maxFeePerGas`, `maxPriorityFeePerGas`).
///
/// In JSON a decimal string, because JSON numbers lose precision beyond 2^53 in most readers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Wei(u128);

impl Wei {
    /// Wraps a raw value.
    pub const fn new(value: u128) -> Self {
        Wei(value)
    }

    /// The raw value.
    pub const fn get(self) -> u128 {
        self.0
    }

    /// `self` increased by `bps` hundredths of a percent, rounded up; `None` on overflow.
    pub fn bumped(self, bps: u32) -> Option<Wei> {
        let scaled = self
            .0
            .checked_mul(10_000u128.checked_add(u128::from(bps))?)?;
        Some(Wei(scaled.div_ceil(10_000)))
    }
}

impl fmt::Display for Wei {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} wei", self.0)
    }
}

impl Serialize for Wei {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Wei {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse::<u128>()
            .map(Wei)
            .map_err(|_| serde::de::Error::custom(format!("'{text}' is not an amount of wei")))
    }
}

/// A fee in gwei as an operator writes it in configuration (fractions allowed, for chains whose
/// fees are below one gwei).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gwei(f64);

impl Gwei {
    /// A finite, non-negative number of gwei.
    pub fn new(value: f64) -> Option<Gwei> {
        (value.is_finite() && value >= 0.0).then_some(Gwei(value))
    }

    /// The value in wei, rounded down; `None` beyond `u128`.
    pub fn to_wei(self) -> Option<Wei> {
        let wei = (self.0 * 1e9).floor();
        // `as` saturates; reject instead of silently capping.
        (wei < 3.4e38).then_some(Wei(wei as u128))
    }
}

/// The two fee fields of an EIP-1559 transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fees {
    /// `maxFeePerGas`.
    pub max_fee_per_gas: Wei,
    /// `maxPriorityFeePerGas`.
    pub max_priority_fee_per_gas: Wei,
}

impl Fees {
    /// The fees of a first submission: the node's estimate, held under `cap`. A transaction
    /// capped below the base fee waits in the mempool until the base fee falls (or is replaced).
    pub fn initial(estimate: Fees, cap: Wei) -> Fees {
        let max_fee_per_gas = estimate.max_fee_per_gas.min(cap);
        Fees {
            max_fee_per_gas,
            max_priority_fee_per_gas: estimate.max_priority_fee_per_gas.min(max_fee_per_gas),
        }
    }
}

/// Why a replacement cannot be priced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BumpError {
    /// Even the smallest replacement nodes accept would exceed the cap.
    #[error("a replacement needs at least {needed} per gas, above the cap of {cap}")]
    CapReached {
        /// The smallest `maxFeePerGas` (or priority fee) nodes would accept.
        needed: Wei,
        /// The configured cap.
        cap: Wei,
    },
    /// The arithmetic overflowed (absurd fees).
    #[error("fee arithmetic overflowed")]
    Overflow,
}

/// The fees of a replacement of a transaction that paid `old`: both fields raised by
/// `bump_bps` (and at least to the node's current `estimate`), under `cap`.
///
/// If the full bump would pass the cap but the smallest bump nodes accept (`min_bump_bps`)
/// does not, the replacement pays the cap: the room left is used before giving up.
pub fn replacement(
    old: Fees,
    estimate: Fees,
    bump_bps: u32,
    min_bump_bps: u32,
    cap: Wei,
) -> Result<Fees, BumpError> {
    let raise = |old: Wei, estimate: Wei| -> Result<(Wei, Wei), BumpError> {
        let wanted = old
            .bumped(bump_bps)
            .ok_or(BumpError::Overflow)?
            .max(estimate);
        let needed = old.bumped(min_bump_bps).ok_or(BumpError::Overflow)?;
        Ok((wanted, needed))
    };
    let (wanted_max, needed_max) = raise(old.max_fee_per_gas, estimate.max_fee_per_gas)?;
    if needed_max > cap {
        return Err(BumpError::CapReached {
            needed: needed_max,
            cap,
        });
    }
    let max_fee_per_gas = wanted_max.min(cap);
    let (wanted_tip, needed_tip) = raise(
        old.max_priority_fee_per_gas,
        estimate.max_priority_fee_per_gas,
    )?;
    if needed_tip > max_fee_per_gas {
        return Err(BumpError::CapReached {
            needed: needed_tip,
            cap,
        });
    }
    Ok(Fees {
        max_fee_per_gas,
        max_priority_fee_per_gas: wanted_tip.min(max_fee_per_gas),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fees(max: u128, tip: u128) -> Fees {
        Fees {
            max_fee_per_gas: Wei::new(max),
            max_priority_fee_per_gas: Wei::new(tip),
        }
    }

    #[test]
    fn bump_rounds_up() {
        assert_eq!(Wei::new(100).bumped(1_500), Some(Wei::new(115)));
        assert_eq!(Wei::new(1).bumped(1_000), Some(Wei::new(2)));
        assert_eq!(Wei::new(u128::MAX).bumped(1), None);
    }

    #[test]
    fn gwei_conversion() {
        assert_eq!(
            Gwei::new(1.5).unwrap().to_wei(),
            Some(Wei::new(1_500_000_000))
        );
        assert_eq!(Gwei::new(-1.0), None);
        assert_eq!(Gwei::new(f64::NAN), None);
        assert_eq!(Gwei::new(1e40).unwrap().to_wei(), None);
    }

    #[test]
    fn initial_fees_stay_under_the_cap() {
        assert_eq!(Fees::initial(fees(50, 2), Wei::new(40)), fees(40, 2));
        assert_eq!(Fees::initial(fees(50, 60), Wei::new(40)), fees(40, 40));
        assert_eq!(Fees::initial(fees(30, 2), Wei::new(40)), fees(30, 2));
    }

    #[test]
    fn replacement_bumps_both_fields_and_follows_the_market() {
        let cap = Wei::new(1_000);
        assert_eq!(
            replacement(fees(100, 10), fees(0, 0), 1_500, 1_000, cap),
            Ok(fees(115, 12))
        );
        assert_eq!(
            replacement(fees(100, 10), fees(300, 20), 1_500, 1_000, cap),
            Ok(fees(300, 20))
        );
    }

    #[test]
    fn replacement_uses_the_room_left_then_stops_at_the_cap() {
        // +15% would be 115; +10% (110) still fits under 112: pay the cap.
        assert_eq!(
            replacement(fees(100, 10), fees(0, 0), 1_500, 1_000, Wei::new(112)),
            Ok(fees(112, 12))
        );
        // At the cap, even +10% does not fit.
        assert_eq!(
            replacement(fees(112, 12), fees(0, 0), 1_500, 1_000, Wei::new(112)),
            Err(BumpError::CapReached {
                needed: Wei::new(124),
                cap: Wei::new(112)
            })
        );
    }

    #[test]
    fn wei_is_a_decimal_string_in_json() {
        let json = serde_json::to_string(&fees(u128::MAX, 1)).unwrap();
        assert!(
            json.contains("\"340282366920938463463374607431768211455\""),
            "{json}"
        );
        assert_eq!(
            serde_json::from_str::<Fees>(&json).unwrap(),
            fees(u128::MAX, 1)
        );
    }
}

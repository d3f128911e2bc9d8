//! Fee rates and the rules a fee must follow: for a new anchor (the node's estimate, a fallback,
//! the mempool's floor, the configured cap) and for a replacement (BIP125 as Bitcoin Core
//! enforces it, under the same cap).
//!
//! Everything here is arithmetic on integers with checked operations; the node's answers come
//! in through [`RelayPolicy`] and [`FeeRate::from_btc_per_kvb`].

use std::fmt;

use bitcoin::Amount;
use serde::{Deserialize, Serialize};

use crate::error::ErrorKind;

/// A fee rate in satoshis per 1000 virtual bytes.
///
/// This is Bitcoin Core's own unit: its RPCs answer fee rates in BTC/kvB, which is the same
/// number of satoshis per kvB, so node answers convert without rounding. Configuration speaks
/// sat/vB (one sat/vB is 1000 here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FeeRate(u64);

impl FeeRate {
    /// No fee at all.
    pub const ZERO: FeeRate = FeeRate(0);

    /// `sat_per_kvb` satoshis per 1000 vbytes.
    pub const fn from_sat_per_kvb(sat_per_kvb: u64) -> FeeRate {
        FeeRate(sat_per_kvb)
    }

    /// A rate as Bitcoin Core reports it (an amount of BTC per kvB).
    pub fn from_btc_per_kvb(per_kvb: Amount) -> FeeRate {
        FeeRate(per_kvb.to_sat())
    }

    /// Satoshis per 1000 vbytes.
    pub const fn sat_per_kvb(self) -> u64 {
        self.0
    }

    /// The rate as an amount per kvB, the unit of `sendrawtransaction`'s `maxfeerate`.
    pub fn per_kvb(self) -> Amount {
        Amount::from_sat(self.0)
    }

    /// The smallest fee that pays at least this rate for `vsize` vbytes (rounded up), or
    /// `None` on overflow.
    pub fn fee_at_least(self, vsize: u64) -> Option<Amount> {
        let scaled = self.0.checked_mul(vsize)?;
        Some(Amount::from_sat(scaled.div_ceil(1000)))
    }

    /// The largest fee that pays at most this rate for `vsize` vbytes (rounded down), or `None`
    /// on overflow.
    pub fn fee_at_most(self, vsize: u64) -> Option<Amount> {
        let scaled = self.0.checked_mul(vsize)?;
        Some(Amount::from_sat(scaled / 1000))
    }

    /// The rate `fee` pays for `vsize` vbytes, rounded down as Bitcoin Core does; `None` for an
    /// empty transaction or on overflow.
    pub fn paid(fee: Amount, vsize: u64) -> Option<FeeRate> {
        let scaled = fee.to_sat().checked_mul(1000)?;
        scaled.checked_div(vsize).map(FeeRate)
    }

    /// This rate raised by `percent` percent (rounded up), saturating.
    pub fn bumped_by_percent(self, percent: u64) -> FeeRate {
        let extra = self.0.saturating_mul(percent).div_ceil(100);
        FeeRate(self.0.saturating_add(extra))
    }
}

impl fmt::Display for FeeRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03} sat/vB", self.0 / 1000, self.0 % 1000)
    }
}

/// What the node's mempool requires of fees right now (`getmempoolinfo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelayPolicy {
    /// The lowest rate a transaction needs to enter the mempool (`mempoolminfee`, which is at
    /// least `minrelaytxfee`).
    pub min_rate: FeeRate,
    /// What a replacement must add per vbyte of its own size (`incrementalrelayfee`, BIP125
    /// rule 4).
    pub incremental: FeeRate,
}

/// The operator's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeeLimits {
    /// Used when the node has no estimate (regtest, a fresh node).
    pub fallback: FeeRate,
    /// Never pay more than this rate.
    pub max: FeeRate,
}

/// By how much a replacement raises the previous rate at least, in percent, so that a stuck
/// anchor moves up noticeably with each bump instead of by the incremental relay fee alone.
pub const REPLACEMENT_BUMP_PERCENT: u64 = 25;

/// Why no acceptable fee exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeeError {
    /// The rules need a higher rate than the configured cap.
    #[error("a fee of {needed_rate} is needed but the configured cap is {cap}")]
    CapReached {
        /// The lowest rate the rules accept.
        needed_rate: FeeRate,
        /// The configured maximum.
        cap: FeeRate,
    },
    /// Amounts overflowed (a nonsensical rate or size).
    #[error("fee arithmetic overflowed for {vsize} vbytes")]
    Overflow {
        /// The size that was priced.
        vsize: u64,
    },
}

impl FeeError {
    /// How the caller should react.
    pub fn kind(&self) -> ErrorKind {
        match self {
            FeeError::CapReached { .. } => ErrorKind::FeeCapReached,
            FeeError::Overflow { .. } => ErrorKind::InvalidResponse,
        }
    }
}

/// The rate for a new anchor: the node's estimate (or the fallback without one), raised to the
/// mempool's floor, limited to the cap. Fails only when the floor itself is above the cap.
pub fn rate_for_new(
    estimate: Option<FeeRate>,
    policy: RelayPolicy,
    limits: FeeLimits,
) -> Result<FeeRate, FeeError> {
    let wanted = estimate.unwrap_or(limits.fallback).max(policy.min_rate);
    if policy.min_rate > limits.max {
        return Err(FeeError::CapReached {
            needed_rate: policy.min_rate,
            cap: limits.max,
        });
    }
    Ok(wanted.min(limits.max))
}

/// What a replacement is compared with: the transaction it replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Original {
    /// Its absolute fee.
    pub fee: Amount,
    /// Its virtual size.
    pub vsize: u64,
}

/// The fee of a replacement of `original` whose own size is (at most) `vsize`:
///
/// - BIP125 rules 3 and 4: at least the original's fee plus the incremental relay fee for the
///   replacement's size;
/// - a strictly higher fee rate than the original's (rule 6);
/// - at least the mempool's floor and the current estimate, and at least
///   [`REPLACEMENT_BUMP_PERCENT`] above the original's rate;
/// - never above the cap: the bump is cut down to the cap if the rules still hold there, and
///   refused with [`FeeError::CapReached`] if they do not.
///
/// Returns the fee; the rate it pays for `vsize` vbytes is at most `limits.max`.
pub fn replacement_fee(
    original: Original,
    vsize: u64,
    estimate: Option<FeeRate>,
    policy: RelayPolicy,
    limits: FeeLimits,
) -> Result<Amount, FeeError> {
    let overflow = FeeError::Overflow { vsize };
    let incremental = policy
        .incremental
        .fee_at_least(vsize)
        .ok_or(overflow.clone())?;
    let by_increment = original
        .fee
        .checked_add(incremental)
        .ok_or(overflow.clone())?;
    // A strictly higher rate: fee / vsize > original.fee / original.vsize.
    let by_rate = original
        .fee
        .to_sat()
        .checked_mul(vsize)
        .and_then(|scaled| scaled.checked_div(original.vsize.max(1)))
        .and_then(|floor| floor.checked_add(1))
        .map(Amount::from_sat)
        .ok_or(overflow.clone())?;
    let minimum = by_increment.max(by_rate);

    let original_rate = FeeRate::paid(original.fee, original.vsize).ok_or(overflow.clone())?;
    let wanted_rate = original_rate
        .bumped_by_percent(REPLACEMENT_BUMP_PERCENT)
        .max(estimate.unwrap_or(limits.fallback))
        .max(policy.min_rate);
    let wanted = wanted_rate
        .fee_at_least(vsize)
        .ok_or(overflow.clone())?
        .max(minimum);

    let cap = limits.max.fee_at_most(vsize).ok_or(overflow)?;
    if minimum > cap {
        return Err(FeeError::CapReached {
            needed_rate: FeeRate::paid(minimum, vsize).unwrap_or(FeeRate(u64::MAX)),
            cap: limits.max,
        });
    }
    Ok(wanted.min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RelayPolicy = RelayPolicy {
        min_rate: FeeRate::from_sat_per_kvb(100),
        incremental: FeeRate::from_sat_per_kvb(100),
    };
    const LIMITS: FeeLimits = FeeLimits {
        fallback: FeeRate::from_sat_per_kvb(2_000),
        max: FeeRate::from_sat_per_kvb(10_000),
    };

    #[test]
    fn fees_round_in_the_safe_direction() {
        let rate = FeeRate::from_sat_per_kvb(1_500);
        assert_eq!(rate.fee_at_least(165), Some(Amount::from_sat(248)));
        assert_eq!(rate.fee_at_most(165), Some(Amount::from_sat(247)));
        assert_eq!(
            FeeRate::paid(Amount::from_sat(248), 165),
            Some(FeeRate::from_sat_per_kvb(1_503))
        );
        assert_eq!(FeeRate::paid(Amount::from_sat(1), 0), None);
        assert_eq!(FeeRate::from_sat_per_kvb(u64::MAX).fee_at_least(2), None);
        assert_eq!(rate.to_string(), "1.500 sat/vB");
    }

    #[test]
    fn new_anchor_uses_estimate_or_fallback_within_floor_and_cap() {
        let estimate = Some(FeeRate::from_sat_per_kvb(5_000));
        assert_eq!(rate_for_new(estimate, POLICY, LIMITS), Ok(FeeRate(5_000)));
        assert_eq!(rate_for_new(None, POLICY, LIMITS), Ok(FeeRate(2_000)));
        let high = Some(FeeRate::from_sat_per_kvb(50_000));
        assert_eq!(rate_for_new(high, POLICY, LIMITS), Ok(FeeRate(10_000)));
        let busy = RelayPolicy {
            min_rate: FeeRate(3_000),
            ..POLICY
        };
        assert_eq!(rate_for_new(None, busy, LIMITS), Ok(FeeRate(3_000)));
        let full = RelayPolicy {
            min_rate: FeeRate(20_000),
            ..POLICY
        };
        assert!(matches!(
            rate_for_new(None, full, LIMITS),
            Err(FeeError::CapReached { .. })
        ));
    }

    #[test]
    fn replacement_follows_bip125_and_bumps_the_rate() {
        let original = Original {
            fee: Amount::from_sat(332),
            vsize: 166,
        };
        let fee = replacement_fee(original, 166, None, POLICY, LIMITS).unwrap();
        // Rule 3 and 4: the original fee plus the incremental fee for 166 vbytes.
        assert!(fee >= Amount::from_sat(332 + 17));
        // A higher rate, and the configured bump on top of the original's rate.
        assert!(FeeRate::paid(fee, 166).unwrap() > FeeRate::paid(original.fee, 166).unwrap());
        assert_eq!(fee, FeeRate(2_500).fee_at_least(166).unwrap());
    }

    #[test]
    fn replacement_is_cut_to_the_cap_while_the_rules_hold() {
        let original = Original {
            fee: Amount::from_sat(1_500),
            vsize: 166,
        };
        // 25% more than ~9 sat/vB would be above 10 sat/vB: the cap is enough for the rules.
        let fee = replacement_fee(original, 166, None, POLICY, LIMITS).unwrap();
        assert_eq!(fee, Amount::from_sat(1_660));
        assert!(FeeRate::paid(fee, 166).unwrap() <= LIMITS.max);
    }

    #[test]
    fn replacement_at_the_cap_is_refused() {
        let original = Original {
            fee: Amount::from_sat(1_660),
            vsize: 166,
        };
        let err = replacement_fee(original, 166, None, POLICY, LIMITS).unwrap_err();
        assert!(matches!(err, FeeError::CapReached { .. }));
        assert_eq!(err.kind(), ErrorKind::FeeCapReached);
    }

    #[test]
    fn a_larger_replacement_still_pays_a_higher_rate() {
        let original = Original {
            fee: Amount::from_sat(1_000),
            vsize: 100,
        };
        let fee = replacement_fee(
            original,
            150,
            None,
            POLICY,
            FeeLimits {
                fallback: FeeRate(1_000),
                max: FeeRate(100_000),
            },
        )
        .unwrap();
        assert!(FeeRate::paid(fee, 150).unwrap() > FeeRate(10_000));
    }
}

//! Validator sets: who signs a symbiote's blocks and with how much weight.
//!
//! A [`ValidatorSet`] can only exist in canonical form: non-empty, keys strictly increasing
//! (so no duplicates), no zero weight, total weight within `u64`, at most [`MAX_VALIDATORS`]
//! members. A validator is addressed by its index in that order, which is what quorum
//! certificates record.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Deserializer, Serialize};
use thiserror::Error;

use crate::codec::{Canonical, invalid_data};
use crate::crypto::PublicKey;
use crate::hash::{Domain, Hash, hash};

/// The most validators a set may hold. Quorum certificates address signers with a `u16`
/// index, and a set this size keeps a certificate well under the size limits of the formats
/// that embed it.
pub const MAX_VALIDATORS: usize = 1024;

/// Why a list of validators is not a valid set.
///
/// Every variant is about the list itself: building it again fails again.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidatorError {
    /// A set must have at least one validator.
    #[error("a validator set cannot be empty")]
    Empty,
    /// More validators than [`MAX_VALIDATORS`].
    #[error("{count} validators exceed the maximum of {max}")]
    TooMany {
        /// The number of validators given.
        count: usize,
        /// The maximum.
        max: usize,
    },
    /// The same key appears twice.
    #[error("validator {key} appears more than once")]
    DuplicateKey {
        /// The repeated key.
        key: PublicKey,
    },
    /// A validator with no weight could never contribute to a quorum.
    #[error("validator {key} has zero weight")]
    ZeroWeight {
        /// The validator's key.
        key: PublicKey,
    },
    /// The weights add up to more than `u64::MAX`.
    #[error("total weight overflows u64")]
    WeightOverflow,
    /// An encoded set lists its validators out of canonical (ascending key) order.
    #[error("validators are not in ascending key order")]
    NotCanonical,
}

/// One validator: a signing key and its voting weight.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Validator {
    /// The key that signs votes.
    pub key: PublicKey,
    /// The validator's share of the voting power; never zero in a set.
    pub weight: u64,
}

/// A canonical set of validators.
///
/// borsh decoding accepts only the canonical order (one encoding per set); serde accepts any
/// order and sorts, so that operators may list validators as they like in JSON files.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, Serialize)]
pub struct ValidatorSet {
    /// The validators in ascending key order.
    validators: Vec<Validator>,
    /// The sum of the weights, cached: checked to fit `u64` at construction.
    #[borsh(skip)]
    #[serde(skip)]
    total_weight: u64,
}

impl ValidatorSet {
    /// Builds a set from validators in any order, sorting them by key.
    pub fn new(mut validators: Vec<Validator>) -> Result<Self, ValidatorError> {
        validators.sort_by_key(|v| v.key);
        Self::from_sorted(validators)
    }

    /// Validates a list that must already be in canonical order.
    fn from_sorted(validators: Vec<Validator>) -> Result<Self, ValidatorError> {
        if validators.is_empty() {
            return Err(ValidatorError::Empty);
        }
        if validators.len() > MAX_VALIDATORS {
            return Err(ValidatorError::TooMany {
                count: validators.len(),
                max: MAX_VALIDATORS,
            });
        }
        for pair in validators.windows(2) {
            if let [a, b] = pair {
                if a.key == b.key {
                    return Err(ValidatorError::DuplicateKey { key: a.key });
                }
                if a.key > b.key {
                    return Err(ValidatorError::NotCanonical);
                }
            }
        }
        let mut total: u64 = 0;
        for v in &validators {
            if v.weight == 0 {
                return Err(ValidatorError::ZeroWeight { key: v.key });
            }
            total = total
                .checked_add(v.weight)
                .ok_or(ValidatorError::WeightOverflow)?;
        }
        Ok(Self {
            validators,
            total_weight: total,
        })
    }

    /// The validators in canonical order.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }

    /// The number of validators.
    pub fn len(&self) -> usize {
        self.validators.len()
    }

    /// Always false: a set has at least one validator. Present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }

    /// The sum of all weights.
    pub fn total_weight(&self) -> u64 {
        self.total_weight
    }

    /// The smallest weight strictly greater than two thirds of the total: what a quorum
    /// certificate must carry. Any two quorums then overlap in more than a third of the weight,
    /// so at least one honest validator if fewer than a third are faulty.
    pub fn quorum_weight(&self) -> u64 {
        let two_thirds = u128::from(self.total_weight) * 2 / 3;
        // two_thirds < total, so two_thirds + 1 <= total fits u64.
        u64::try_from(two_thirds + 1).unwrap_or(self.total_weight)
    }

    /// The hash that headers name as their signing set: `Domain::ValidatorSet` over the
    /// canonical encoding.
    pub fn hash(&self) -> Hash {
        hash(Domain::ValidatorSet, &[&self.encode()])
    }

    /// The index of `key` in the set, as quorum certificates record it.
    pub fn index_of(&self, key: &PublicKey) -> Option<u16> {
        let index = self.validators.binary_search_by(|v| v.key.cmp(key)).ok()?;
        u16::try_from(index).ok()
    }

    /// The validator at `index`, if there is one.
    pub fn get(&self, index: u16) -> Option<&Validator> {
        self.validators.get(usize::from(index))
    }
}

impl BorshDeserialize for ValidatorSet {
    fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
        let validators = Vec::<Validator>::deserialize_reader(reader)?;
        Self::from_sorted(validators).map_err(invalid_data)
    }
}

impl<'de> Deserialize<'de> for ValidatorSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// The JSON shape of a set, before validation.
        #[derive(Deserialize)]
        struct Raw {
            /// The validators, in any order.
            validators: Vec<Validator>,
        }
        let raw = Raw::deserialize(deserializer)?;
        Self::new(raw.validators).map_err(serde::de::Error::custom)
    }
}

impl Canonical for ValidatorSet {
    const KIND: &'static str = "validator set";
    /// Version byte, length prefix, and 40 bytes per validator.
    const MAX_ENCODED_LEN: usize = 1 + 4 + MAX_VALIDATORS * 40;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::CodecError;
    use crate::crypto::Keypair;

    fn key(seed: u8) -> PublicKey {
        Keypair::from_seed(&[seed; 32]).public()
    }

    fn set(weights: &[u64]) -> ValidatorSet {
        ValidatorSet::new(
            weights
                .iter()
                .enumerate()
                .map(|(i, w)| Validator {
                    key: key(i as u8 + 1),
                    weight: *w,
                })
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn quorum_is_strictly_more_than_two_thirds() {
        assert_eq!(set(&[1]).quorum_weight(), 1);
        assert_eq!(set(&[1, 1]).quorum_weight(), 2);
        assert_eq!(set(&[1, 1, 1]).quorum_weight(), 3);
        assert_eq!(set(&[1, 1, 1, 1]).quorum_weight(), 3);
        assert_eq!(set(&[10, 20, 30, 40]).quorum_weight(), 67);
        assert_eq!(set(&[1; 100]).quorum_weight(), 67);
        assert_eq!(set(&[1; 99]).quorum_weight(), 67);
        let huge = set(&[u64::MAX / 2, u64::MAX / 2 + 1]);
        assert_eq!(huge.total_weight(), u64::MAX);
        let q = huge.quorum_weight();
        assert!(u128::from(q) * 3 > u128::from(u64::MAX) * 2);
        assert!(u128::from(q - 1) * 3 <= u128::from(u64::MAX) * 2);
    }

    #[test]
    fn construction_rejects_bad_lists() {
        assert_eq!(ValidatorSet::new(vec![]), Err(ValidatorError::Empty));
        let v = Validator {
            key: key(1),
            weight: 1,
        };
        assert_eq!(
            ValidatorSet::new(vec![v, v]),
            Err(ValidatorError::DuplicateKey { key: key(1) })
        );
        assert_eq!(
            ValidatorSet::new(vec![Validator {
                key: key(1),
                weight: 0
            }]),
            Err(ValidatorError::ZeroWeight { key: key(1) })
        );
        let heavy = |k| Validator {
            key: key(k),
            weight: u64::MAX,
        };
        assert_eq!(
            ValidatorSet::new(vec![heavy(1), heavy(2)]),
            Err(ValidatorError::WeightOverflow)
        );
    }

    #[test]
    fn order_of_input_does_not_matter() {
        let a = Validator {
            key: key(1),
            weight: 5,
        };
        let b = Validator {
            key: key(2),
            weight: 6,
        };
        let s1 = ValidatorSet::new(vec![a, b]).unwrap();
        let s2 = ValidatorSet::new(vec![b, a]).unwrap();
        assert_eq!(s1, s2);
        assert_eq!(s1.hash(), s2.hash());
        let i = s1.index_of(&key(2)).unwrap();
        assert_eq!(s1.get(i).unwrap().key, key(2));
        assert_eq!(s1.index_of(&key(3)), None);
        assert_eq!(s1.get(2), None);
    }

    #[test]
    fn hash_depends_on_weights() {
        assert_ne!(set(&[1, 2]).hash(), set(&[2, 1]).hash());
    }

    #[test]
    fn canonical_round_trip_and_rejections() {
        let s = set(&[3, 4, 5]);
        let bytes = s.encode();
        assert_eq!(ValidatorSet::decode(&bytes).unwrap(), s);
        assert_eq!(ValidatorSet::decode(&bytes).unwrap().total_weight(), 12);
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(
            ValidatorSet::decode(&trailing),
            Err(CodecError::TrailingBytes { .. })
        ));
        // Swap the first two validators: same members, non-canonical order.
        let mut swapped = bytes.clone();
        swapped[5..45].copy_from_slice(&bytes[45..85]);
        swapped[45..85].copy_from_slice(&bytes[5..45]);
        assert!(matches!(
            ValidatorSet::decode(&swapped),
            Err(CodecError::Malformed { .. })
        ));
        // An empty list.
        assert!(ValidatorSet::decode(&[1, 0, 0, 0, 0]).is_err());
        // A key that is not a curve point.
        let mut bad_key = bytes.clone();
        bad_key[5..37].copy_from_slice(&{
            let mut b = [0u8; 32];
            b[0] = 2;
            b
        });
        assert!(matches!(
            ValidatorSet::decode(&bad_key),
            Err(CodecError::Malformed { .. })
        ));
    }

    #[test]
    fn json_accepts_any_order_and_revalidates() {
        let s = set(&[3, 4]);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<ValidatorSet>(&json).unwrap(), s);
        let zero = format!(
            "{{\"validators\":[{{\"key\":\"{}\",\"weight\":0}}]}}",
            key(1)
        );
        assert!(serde_json::from_str::<ValidatorSet>(&zero).is_err());
    }
}

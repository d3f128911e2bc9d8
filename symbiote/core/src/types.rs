//! Identifiers and quantities, each with its own type so that a height cannot be passed where a
//! nonce is expected and an amount cannot overflow silently.
//!
//! None of these types converts from a bare integer or string implicitly: integers go through
//! `new`, strings through a validating constructor. Validated types re-validate when decoded
//! from borsh or serde, so an invalid value cannot enter through either door.

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::codec::{CodecError, invalid_data};
use crate::hash::{Domain, Hash, hash};

/// Why a value is not a valid identifier or quantity.
///
/// Every variant is about the value itself: passing it again fails again.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TypeError {
    /// Not a hostchain id: 1 to 32 bytes of lowercase ASCII letters, digits and `-`.
    #[error("invalid hostchain id {value:?}: {reason}")]
    InvalidHostchainId {
        /// The rejected value, shortened for display.
        value: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// Not a host address: 1 to 128 bytes of printable ASCII without spaces.
    #[error("invalid host address {value:?}: {reason}")]
    InvalidHostAddress {
        /// The rejected value, shortened for display.
        value: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// Not a hostchain transaction id: same rules as a host address.
    #[error("invalid host transaction id {value:?}: {reason}")]
    InvalidHostTxId {
        /// The rejected value, shortened for display.
        value: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// Not a token id: same rules as a host address.
    #[error("invalid token id {value:?}: {reason}")]
    InvalidTokenId {
        /// The rejected value, shortened for display.
        value: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// Not a decimal amount that fits in 128 bits.
    #[error("invalid amount {value:?}: expected a decimal integer below 2^128")]
    InvalidAmount {
        /// The rejected value, shortened for display.
        value: String,
    },
    /// Not a symbiote id: 64 hex digits.
    #[error("invalid symbiote id: {0}")]
    InvalidSymbioteId(CodecError),
    /// Not a key family: 1 to 16 bytes of lowercase ASCII letters and digits.
    #[error("invalid key family {value:?}: {reason}")]
    InvalidKeyFamily {
        /// The rejected value, shortened for display.
        value: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// Not a hostchain key: 1 to 64 bytes.
    #[error("invalid hostchain key: {len} bytes (expected 1 to {max})", max = crate::host_keys::MAX_HOST_KEY_LEN)]
    InvalidHostKey {
        /// Its length.
        len: usize,
    },
}

/// The first characters of a rejected value, so that errors stay short whatever was sent.
fn preview(value: &str) -> String {
    const MAX_CHARS: usize = 40;
    let mut out: String = value.chars().take(MAX_CHARS).collect();
    if value.chars().nth(MAX_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// Defines a `u64` newtype with explicit construction and no arithmetic beyond `next`.
macro_rules! counter {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash,
            BorshSerialize, BorshDeserialize, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(u64);

        impl $name {
            /// Wraps a raw value.
            pub const fn new(value: u64) -> Self {
                Self(value)
            }

            /// The raw value.
            pub const fn get(self) -> u64 {
                self.0
            }

            /// The value after this one, or `None` at `u64::MAX`.
            pub const fn next(self) -> Option<Self> {
                match self.0.checked_add(1) {
                    Some(v) => Some(Self(v)),
                    None => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

counter!(
    /// A block height of one symbiote; genesis is height 0.
    Height
);
counter!(
    /// A per-account transaction counter that makes each signed transaction usable once.
    Nonce
);
counter!(
    /// A per-destination counter of anchors or releases, refused twice by the receiving side.
    Sequence
);
counter!(
    /// Milliseconds since the Unix epoch.
    TimestampMs
);

impl Height {
    /// The height `count` blocks after this one, or `None` on overflow.
    pub const fn checked_add(self, count: u64) -> Option<Height> {
        match self.0.checked_add(count) {
            Some(v) => Some(Height(v)),
            None => None,
        }
    }

    /// How many blocks this height lies after `earlier`, or `None` if it lies before it.
    pub const fn since(self, earlier: Height) -> Option<u64> {
        self.0.checked_sub(earlier.0)
    }
}

/// An amount of a token in its smallest unit.
///
/// Arithmetic is checked: `checked_add` and `checked_sub` return `None` instead of wrapping.
/// In JSON an amount is a decimal string, because JSON numbers lose precision beyond 2^53 in
/// most readers; a JSON number is accepted on input.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
)]
pub struct Amount(u128);

impl Amount {
    /// Nothing.
    pub const ZERO: Amount = Amount(0);

    /// Wraps a raw value in the token's smallest unit.
    pub const fn new(value: u128) -> Self {
        Self(value)
    }

    /// The raw value.
    pub const fn get(self) -> u128 {
        self.0
    }

    /// The sum, or `None` on overflow.
    pub const fn checked_add(self, other: Amount) -> Option<Amount> {
        match self.0.checked_add(other.0) {
            Some(v) => Some(Amount(v)),
            None => None,
        }
    }

    /// The difference, or `None` if `other` is larger.
    pub const fn checked_sub(self, other: Amount) -> Option<Amount> {
        match self.0.checked_sub(other.0) {
            Some(v) => Some(Amount(v)),
            None => None,
        }
    }

    /// Whether the amount is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for Amount {
    type Err = TypeError;

    /// Parses a plain decimal integer (no sign, no separators).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TypeError::InvalidAmount { value: preview(s) });
        }
        s.parse::<u128>()
            .map(Amount)
            .map_err(|_| TypeError::InvalidAmount { value: preview(s) })
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AmountVisitor;

        impl Visitor<'_> for AmountVisitor {
            type Value = Amount;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer or a decimal string")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Amount, E> {
                v.parse().map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Amount, E> {
                Ok(Amount(u128::from(v)))
            }

            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Amount, E> {
                Ok(Amount(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Amount, E> {
                u128::try_from(v)
                    .map(Amount)
                    .map_err(|_| E::custom("amount is negative"))
            }
        }

        deserializer.deserialize_any(AmountVisitor)
    }
}

/// The identifier of a symbiote: the hash of its name in its own domain.
///
/// Displayed and serialized as 64 hex digits.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(transparent)]
pub struct SymbioteId(Hash);

impl SymbioteId {
    /// The id of the symbiote called `name`.
    pub fn from_name(name: &str) -> Self {
        Self(hash(Domain::SymbioteId, &[name.as_bytes()]))
    }

    /// Wraps an id read from elsewhere (a stored record, a hostchain payload).
    pub const fn from_hash(id: Hash) -> Self {
        Self(id)
    }

    /// The id as a hash.
    pub const fn as_hash(&self) -> &Hash {
        &self.0
    }

    /// The id's bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0.0
    }
}

impl fmt::Display for SymbioteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for SymbioteId {
    type Err = TypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<Hash>()
            .map(SymbioteId)
            .map_err(TypeError::InvalidSymbioteId)
    }
}

/// Defines a string newtype whose every instance passed `$check`, whichever way it was built.
macro_rules! validated_string {
    ($(#[$doc:meta])* $name:ident, $check:path) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Validates `value`.
            pub fn new(value: &str) -> Result<Self, TypeError> {
                $check(value)?;
                Ok(Self(value.to_owned()))
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = TypeError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = TypeError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                $check(&value)?;
                Ok(Self(value))
            }
        }

        impl BorshSerialize for $name {
            fn serialize<W: std::io::Write>(&self, writer: &mut W) -> std::io::Result<()> {
                BorshSerialize::serialize(&self.0, writer)
            }
        }

        impl BorshDeserialize for $name {
            fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
                let value = String::deserialize_reader(reader)?;
                Self::try_from(value).map_err(invalid_data)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <String as Deserialize>::deserialize(deserializer)?;
                Self::try_from(value).map_err(de::Error::custom)
            }
        }
    };
}

/// Longest hostchain id, in bytes.
pub const MAX_HOSTCHAIN_ID_LEN: usize = 32;
/// Longest host address, host transaction id or token id, in bytes.
pub const MAX_HOST_ADDRESS_LEN: usize = 128;

/// `None` if `value` has 1 to `max` bytes, each of them `allowed`; else the rule it breaks.
fn rule_broken(
    value: &str,
    max: usize,
    too_long: &'static str,
    allowed: fn(u8) -> bool,
    only: &'static str,
) -> Option<&'static str> {
    if value.is_empty() {
        Some("empty")
    } else if value.len() > max {
        Some(too_long)
    } else if !value.bytes().all(allowed) {
        Some(only)
    } else {
        None
    }
}

/// `Ok` when no rule is broken; else the error `make` builds from the value and the rule.
fn reject(
    value: &str,
    broken: Option<&'static str>,
    make: fn(String, &'static str) -> TypeError,
) -> Result<(), TypeError> {
    match broken {
        Some(reason) => Err(make(preview(value), reason)),
        None => Ok(()),
    }
}

fn check_hostchain_id(value: &str) -> Result<(), TypeError> {
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
    let broken = rule_broken(
        value,
        MAX_HOSTCHAIN_ID_LEN,
        "longer than 32 bytes",
        allowed,
        "only a-z, 0-9 and '-' are allowed",
    );
    reject(value, broken, |value, reason| {
        TypeError::InvalidHostchainId { value, reason }
    })
}

/// The rule shared by host addresses, transaction ids and token ids.
fn address_rule_broken(value: &str) -> Option<&'static str> {
    rule_broken(
        value,
        MAX_HOST_ADDRESS_LEN,
        "longer than 128 bytes",
        |b| b.is_ascii_graphic(),
        "only printable ASCII without spaces is allowed",
    )
}

fn check_host_address(value: &str) -> Result<(), TypeError> {
    reject(value, address_rule_broken(value), |value, reason| {
        TypeError::InvalidHostAddress { value, reason }
    })
}

fn check_host_tx_id(value: &str) -> Result<(), TypeError> {
    reject(value, address_rule_broken(value), |value, reason| {
        TypeError::InvalidHostTxId { value, reason }
    })
}

fn check_token_id(value: &str) -> Result<(), TypeError> {
    reject(value, address_rule_broken(value), |value, reason| {
        TypeError::InvalidTokenId { value, reason }
    })
}

validated_string!(
    /// The name of a hostchain, such as `bitcoin-regtest`, `evm-31337` or `solana-local`:
    /// 1 to 32 bytes of lowercase ASCII letters, digits and `-`.
    HostchainId,
    check_hostchain_id
);
validated_string!(
    /// An address on a hostchain, in that hostchain's own text format (base58, hex, bech32):
    /// 1 to 128 bytes of printable ASCII without spaces. Whether it is a valid address of its
    /// hostchain is for that hostchain's adapter to check.
    HostAddress,
    check_host_address
);
validated_string!(
    /// A transaction id on a hostchain, in that hostchain's own text format (a txid, a
    /// transaction hash, a base58 signature). Same character rules as [`HostAddress`].
    HostTxId,
    check_host_tx_id
);
validated_string!(
    /// A token on a hostchain: its contract or mint address in the hostchain's text format, or
    /// [`TokenId::NATIVE`] for the hostchain's native coin. Same character rules as
    /// [`HostAddress`].
    TokenId,
    check_token_id
);

/// Longest key family name, in bytes.
pub const MAX_KEY_FAMILY_LEN: usize = 16;

fn check_key_family(value: &str) -> Result<(), TypeError> {
    let broken = rule_broken(
        value,
        MAX_KEY_FAMILY_LEN,
        "longer than 16 bytes",
        |b| b.is_ascii_lowercase() || b.is_ascii_digit(),
        "only a-z and 0-9 are allowed",
    );
    reject(value, broken, |value, reason| TypeError::InvalidKeyFamily {
        value,
        reason,
    })
}

validated_string!(
    /// A family of hostchain adapters that share one key scheme (`evm`, `solana`, `bitcoin`):
    /// the name under which a relayer's key for those hostchains is listed in its relayer-set
    /// entry. Which families exist is for the adapters to say; 1 to 16 bytes of lowercase ASCII
    /// letters and digits.
    KeyFamily,
    check_key_family
);

impl TokenId {
    /// The text that names a hostchain's native coin.
    pub const NATIVE: &'static str = "native";

    /// The hostchain's native coin.
    pub fn native() -> Self {
        Self(Self::NATIVE.to_owned())
    }

    /// Whether this is the hostchain's native coin.
    pub fn is_native(&self) -> bool {
        self.0 == Self::NATIVE
    }
}

#[cfg(test)]
#[path = "types_tests.rs"]
mod tests;

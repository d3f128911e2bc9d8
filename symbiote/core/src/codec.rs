//! The canonical, versioned binary encoding of the symbiote's formats, and the hex text form of
//! fixed-size byte strings (hashes, keys, signatures) in JSON.
//!
//! Every persisted or hashed object is encoded as one format-version byte followed by its borsh
//! encoding. borsh has exactly one encoding per value (fixed-width little-endian integers,
//! `u32` length prefixes, fields in declaration order), so equal values encode to equal bytes
//! and hashes over the encoding are well defined.
//!
//! Decoding untrusted bytes is bounded: the input's length is checked against the type's
//! `MAX_ENCODED_LEN` before any parsing, and borsh 1.x caps preallocation for length prefixes,
//! so a forged length prefix costs at most the bytes actually supplied.

use std::io;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::Deserializer;
use serde::de::{self, Visitor};
use thiserror::Error;

/// The format version written in front of a canonical encoding, unless its type says otherwise
/// ([`Canonical::VERSION`]).
///
/// Persisted format: a type whose layout changes gets its own higher `VERSION`, so that its old
/// encodings are refused by name instead of misread, and every other type (and every hash built
/// over its encoding) stays as it was.
pub const FORMAT_VERSION: u8 = 1;

/// The format version of a type that is embedded in other encodings without a version byte of
/// its own (the transactions inside a block): the embedding type takes it as its version.
pub trait Versioned {
    /// The current layout's version.
    const VERSION: u8;
}

/// Why bytes or text could not be decoded into a value.
///
/// Every variant is about the data itself: decoding the same bytes again fails the same way.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodecError {
    /// The input holds no bytes at all, not even the version byte.
    #[error("{kind}: empty input")]
    Empty {
        /// The kind of object being decoded.
        kind: &'static str,
    },
    /// The input is longer than any valid encoding of the kind; it was not parsed.
    #[error("{kind}: {len} bytes exceed the maximum of {max}")]
    TooLong {
        /// The kind of object being decoded or encoded.
        kind: &'static str,
        /// The length of the input.
        len: usize,
        /// The kind's maximum encoded length.
        max: usize,
    },
    /// The version byte names a format this code does not know.
    #[error("{kind}: unknown format version {found} (expected {expected})")]
    UnknownVersion {
        /// The kind of object being decoded.
        kind: &'static str,
        /// The version byte found.
        found: u8,
        /// The version this code reads.
        expected: u8,
    },
    /// The bytes after the version byte are not a valid borsh encoding of the kind, or they
    /// encode a value that violates one of its invariants.
    #[error("{kind}: malformed encoding: {reason}")]
    Malformed {
        /// The kind of object being decoded.
        kind: &'static str,
        /// What the decoder objected to.
        reason: String,
    },
    /// A complete value was decoded but bytes were left over.
    #[error("{kind}: {count} trailing bytes after the encoded value")]
    TrailingBytes {
        /// The kind of object being decoded.
        kind: &'static str,
        /// How many bytes were left over.
        count: usize,
    },
    /// The value could not be serialized (a collection beyond borsh's `u32` length prefix, or
    /// a transaction type whose own serializer failed).
    #[error("{kind}: cannot encode: {reason}")]
    Unencodable {
        /// The kind of object being encoded.
        kind: &'static str,
        /// What the serializer objected to.
        reason: String,
    },
    /// A hex string has the wrong length or a character that is not a hex digit.
    #[error("invalid hex for {expected_bytes} bytes: {reason}")]
    Hex {
        /// The number of bytes the string should encode.
        expected_bytes: usize,
        /// What is wrong with the string.
        reason: String,
    },
}

/// A type with one canonical, versioned binary encoding.
///
/// Contract: `decode(&x.encode()) == Ok(x)` for every value whose encoding fits in
/// `MAX_ENCODED_LEN`, and `decode` accepts no other byte string for that value: it rejects
/// oversize input before parsing, an unknown version, malformed bytes, values that violate
/// the type's invariants and trailing bytes.
pub trait Canonical: BorshSerialize + BorshDeserialize + Sized {
    /// The kind's name, used in error messages.
    const KIND: &'static str;
    /// The largest encoding (version byte included) that `decode` accepts.
    const MAX_ENCODED_LEN: usize;
    /// The version byte this type's current layout is written with, and the only one `decode`
    /// reads.
    const VERSION: u8 = FORMAT_VERSION;

    /// Encodes the value, checking that the result can be decoded again (its length is within
    /// `MAX_ENCODED_LEN`). Use this before storing or sending a value built from external data.
    fn try_encode(&self) -> Result<Vec<u8>, CodecError> {
        let mut out = vec![Self::VERSION];
        self.serialize(&mut out)
            .map_err(|e| CodecError::Unencodable {
                kind: Self::KIND,
                reason: e.to_string(),
            })?;
        if out.len() > Self::MAX_ENCODED_LEN {
            return Err(CodecError::TooLong {
                kind: Self::KIND,
                len: out.len(),
                max: Self::MAX_ENCODED_LEN,
            });
        }
        Ok(out)
    }

    /// Encodes the value: the version byte followed by its borsh bytes.
    ///
    /// Serialization into memory fails only for a collection of more than `u32::MAX`
    /// elements or a transaction type whose own serializer fails; in that case the result is
    /// the version byte alone, which `decode` rejects. Use [`Canonical::try_encode`] to see
    /// such failures and to check the length limit.
    fn encode(&self) -> Vec<u8> {
        let mut out = vec![Self::VERSION];
        if self.serialize(&mut out).is_err() {
            out.truncate(1);
        }
        out
    }

    /// Decodes one value from exactly `bytes`.
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        if bytes.len() > Self::MAX_ENCODED_LEN {
            return Err(CodecError::TooLong {
                kind: Self::KIND,
                len: bytes.len(),
                max: Self::MAX_ENCODED_LEN,
            });
        }
        let (version, mut rest) = bytes
            .split_first()
            .ok_or(CodecError::Empty { kind: Self::KIND })?;
        if *version != Self::VERSION {
            return Err(CodecError::UnknownVersion {
                kind: Self::KIND,
                found: *version,
                expected: Self::VERSION,
            });
        }
        let value = Self::deserialize(&mut rest).map_err(|e| CodecError::Malformed {
            kind: Self::KIND,
            reason: e.to_string(),
        })?;
        if !rest.is_empty() {
            return Err(CodecError::TrailingBytes {
                kind: Self::KIND,
                count: rest.len(),
            });
        }
        Ok(value)
    }
}

/// The error a hand-written `BorshDeserialize` returns for a value that parses but violates an
/// invariant; `Canonical::decode` reports it as [`CodecError::Malformed`].
pub(crate) fn invalid_data(reason: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason.to_string())
}

/// Parses exactly `N` bytes from `2 * N` hex digits (either case).
pub fn decode_hex_array<const N: usize>(text: &str) -> Result<[u8; N], CodecError> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).map_err(|e| CodecError::Hex {
        expected_bytes: N,
        reason: e.to_string(),
    })?;
    Ok(out)
}

/// serde helper: reads `N` bytes from a hex string.
pub(crate) fn deserialize_hex_array<'de, D, const N: usize>(
    deserializer: D,
) -> Result<[u8; N], D::Error>
where
    D: Deserializer<'de>,
{
    struct HexVisitor<const N: usize>;

    impl<const N: usize> Visitor<'_> for HexVisitor<N> {
        type Value = [u8; N];

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a string of {} hex digits", 2 * N)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            decode_hex_array(v).map_err(E::custom)
        }
    }

    deserializer.deserialize_str(HexVisitor::<N>)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small type to exercise the trait's default methods.
    #[derive(Debug, PartialEq, BorshSerialize, BorshDeserialize)]
    struct Sample {
        number: u32,
        items: Vec<u8>,
    }

    impl Canonical for Sample {
        const KIND: &'static str = "sample";
        const MAX_ENCODED_LEN: usize = 64;
    }

    fn sample() -> Sample {
        Sample {
            number: 7,
            items: vec![1, 2, 3],
        }
    }

    #[test]
    fn encoding_is_version_byte_then_borsh() {
        let bytes = sample().encode();
        assert_eq!(bytes[0], FORMAT_VERSION);
        assert_eq!(&bytes[1..], borsh::to_vec(&sample()).unwrap().as_slice());
        assert_eq!(Sample::decode(&bytes).unwrap(), sample());
        assert_eq!(sample().try_encode().unwrap(), bytes);
    }

    #[test]
    fn decode_rejects_trailing_bytes() {
        let mut bytes = sample().encode();
        bytes.push(0);
        assert_eq!(
            Sample::decode(&bytes),
            Err(CodecError::TrailingBytes {
                kind: "sample",
                count: 1
            })
        );
    }

    #[test]
    fn decode_rejects_oversize_input_before_parsing() {
        let bytes = vec![FORMAT_VERSION; 65];
        assert!(matches!(
            Sample::decode(&bytes),
            Err(CodecError::TooLong {
                len: 65,
                max: 64,
                ..
            })
        ));
    }

    #[test]
    fn decode_rejects_unknown_version_and_empty_input() {
        let mut bytes = sample().encode();
        bytes[0] = 2;
        assert!(matches!(
            Sample::decode(&bytes),
            Err(CodecError::UnknownVersion { found: 2, .. })
        ));
        assert_eq!(
            Sample::decode(&[]),
            Err(CodecError::Empty { kind: "sample" })
        );
    }

    #[test]
    fn decode_rejects_truncated_and_huge_length_prefix() {
        let bytes = sample().encode();
        let err = Sample::decode(&bytes[..bytes.len() - 1]).unwrap_err();
        assert!(matches!(err, CodecError::Malformed { kind: "sample", .. }));
        // A length prefix of u32::MAX with no bytes behind it must fail without allocating.
        let mut forged = vec![FORMAT_VERSION, 7, 0, 0, 0];
        forged.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            Sample::decode(&forged),
            Err(CodecError::Malformed { .. })
        ));
    }

    #[test]
    fn try_encode_refuses_what_decode_would_refuse() {
        let big = Sample {
            number: 0,
            items: vec![0; 100],
        };
        assert!(matches!(big.try_encode(), Err(CodecError::TooLong { .. })));
    }

    #[test]
    fn hex_arrays_need_exact_length() {
        assert_eq!(decode_hex_array::<2>("0aFf").unwrap(), [0x0a, 0xff]);
        assert!(decode_hex_array::<2>("0a").is_err());
        assert!(decode_hex_array::<2>("0aff00").is_err());
        assert!(decode_hex_array::<2>("0g00").is_err());
    }
}

//! The anchor payload: what a hostchain transaction carries so that anyone reading the
//! hostchain alone finds the anchored root.
//!
//! Layout (45 bytes, fits one Bitcoin OP_RETURN output of at most 80 bytes, an SPL memo, and
//! EVM calldata): magic `SYMB` (4 bytes), format version (1 byte), sequence number (8 bytes,
//! big-endian), aggregate root (32 bytes).
//!
//! Persisted format: every anchored transaction carries it; a new layout needs a new version.

use serde::{Deserialize, Serialize};

use crate::hash::Hash;
use crate::types::Sequence;

/// The first bytes of every payload.
pub const MAGIC: [u8; 4] = *b"SYMB";
/// The payload layout version this code writes.
pub const PAYLOAD_VERSION: u8 = 1;
/// The payload's length in bytes.
pub const PAYLOAD_LEN: usize = 4 + 1 + 8 + 32;

/// Why bytes are not an anchor payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("anchor payload is {0} bytes, expected {PAYLOAD_LEN}")]
    Length(usize),
    #[error("anchor payload does not start with the magic bytes SYMB")]
    Magic,
    #[error("anchor payload version {0} is not supported (expected {PAYLOAD_VERSION})")]
    Version(u8),
}

/// An anchor: the `sequence`-th anchor of a relayer's symbiote on one hostchain, committing to
/// an aggregate `root`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorPayload {
    /// Increases by one per anchor on a hostchain; the hostchain side refuses repeats.
    pub sequence: Sequence,
    /// The aggregate root (see [`crate::commitment::Aggregate::root`]).
    pub root: Hash,
}

impl AnchorPayload {
    /// The payload's bytes.
    pub fn encode(&self) -> [u8; PAYLOAD_LEN] {
        let mut out = [0u8; PAYLOAD_LEN];
        let (magic, rest) = out.split_at_mut(4);
        magic.copy_from_slice(&MAGIC);
        let (version, rest) = rest.split_at_mut(1);
        version[0] = PAYLOAD_VERSION;
        let (sequence, root) = rest.split_at_mut(8);
        sequence.copy_from_slice(&self.sequence.get().to_be_bytes());
        root.copy_from_slice(self.root.as_bytes());
        out
    }

    /// Parses a payload; anything else (another length, magic or version) is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, PayloadError> {
        let bytes: &[u8; PAYLOAD_LEN] = bytes
            .try_into()
            .map_err(|_| PayloadError::Length(bytes.len()))?;
        let (magic, rest) = bytes.split_at(4);
        if magic != MAGIC {
            return Err(PayloadError::Magic);
        }
        let (version, rest) = rest.split_at(1);
        if version != [PAYLOAD_VERSION] {
            return Err(PayloadError::Version(
                version.first().copied().unwrap_or_default(),
            ));
        }
        let (sequence, root) = rest.split_at(8);
        let mut seq = [0u8; 8];
        seq.copy_from_slice(sequence);
        let mut hash = [0u8; 32];
        hash.copy_from_slice(root);
        Ok(AnchorPayload {
            sequence: Sequence::new(u64::from_be_bytes(seq)),
            root: Hash(hash),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_layout() {
        let payload = AnchorPayload {
            sequence: Sequence::new(0x0102),
            root: Hash([9; 32]),
        };
        let bytes = payload.encode();
        assert_eq!(&bytes[..5], b"SYMB\x01");
        assert_eq!(&bytes[5..13], &[0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(AnchorPayload::decode(&bytes).unwrap(), payload);
    }

    #[test]
    fn rejects_other_bytes() {
        let bytes = AnchorPayload {
            sequence: Sequence::new(1),
            root: Hash([1; 32]),
        }
        .encode();
        assert_eq!(
            AnchorPayload::decode(&bytes[1..]),
            Err(PayloadError::Length(44))
        );
        let mut wrong = bytes;
        wrong[0] = b'X';
        assert_eq!(AnchorPayload::decode(&wrong), Err(PayloadError::Magic));
        let mut wrong = bytes;
        wrong[4] = 2;
        assert_eq!(AnchorPayload::decode(&wrong), Err(PayloadError::Version(2)));
    }
}

//! blake3 hashing with a distinct domain-separation prefix per kind of object, so that no two
//! kinds of object (a header and a Merkle leaf, a leaf and an inner node) can ever hash alike.

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::codec::{CodecError, decode_hex_array, deserialize_hex_array};

/// A 32-byte blake3 digest.
///
/// borsh encodes the raw 32 bytes; serde writes a lowercase hex string (64 characters).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The digest's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl FromStr for Hash {
    type Err = CodecError;

    /// Parses 64 hex characters (either case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        decode_hex_array(s).map(Hash)
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_hex_array(deserializer).map(Hash)
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// The kinds of object that are hashed. Each has its own prefix.
///
/// Persisted format: the prefixes are part of every stored hash and every anchored root;
/// changing one changes every hash of that kind. Every prefix ends with a NUL byte and contains
/// no other, so no prefix can be a prefix of another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// A block header's canonical encoding: the block hash.
    BlockHeader,
    /// A Merkle leaf: the hash of one leaf value.
    MerkleLeaf,
    /// A Merkle inner node: the hash of its two children.
    MerkleNode,
    /// The root of a Merkle tree: binds the leaf count to the top node.
    MerkleRoot,
    /// A commitment's canonical encoding: what an aggregate lists.
    Commitment,
    /// An aggregate root: the value written to hostchains.
    Aggregate,
    /// A hostchain anchor payload.
    AnchorPayload,
    /// A transaction's borsh encoding: the leaves of a block's transaction root.
    Transaction,
    /// A validator's vote for a block: the message a quorum certificate's signatures sign.
    Vote,
    /// A validator set's canonical encoding.
    ValidatorSet,
    /// A node of the state tree (a Jellyfish Merkle tree): fed before every hash the tree
    /// computes, so its leaves, inner nodes and value hashes are the symbiote's own.
    StateTree,
    /// A state entry's key: the tree stores entries under this hash of the key.
    StateKey,
    /// A symbiote's name: its identifier.
    SymbioteId,
    /// The message a transaction's sender signs.
    TransactionSignature,
    /// A relayer set's encoding.
    RelayerSet,
    /// A relayer's attestation that a hostchain deposit may be minted.
    MintAttestation,
    /// A scout report's canonical JSON: what its signature signs and what holds and approvals
    /// name.
    ScoutReport,
}

impl Domain {
    /// The prefix fed to blake3 before the object's bytes.
    pub const fn prefix(self) -> &'static [u8] {
        match self {
            Domain::BlockHeader => b"symbiote/v1/header\0",
            Domain::MerkleLeaf => b"symbiote/v1/leaf\0",
            Domain::MerkleNode => b"symbiote/v1/node\0",
            Domain::MerkleRoot => b"symbiote/v1/root\0",
            Domain::Commitment => b"symbiote/v1/commitment\0",
            Domain::Aggregate => b"symbiote/v1/aggregate\0",
            Domain::AnchorPayload => b"symbiote/v1/payload\0",
            Domain::Transaction => b"symbiote/v1/transaction\0",
            Domain::Vote => b"symbiote/v1/vote\0",
            Domain::ValidatorSet => b"symbiote/v1/validator-set\0",
            Domain::StateTree => b"symbiote/v1/state-tree\0",
            Domain::StateKey => b"symbiote/v1/state-key\0",
            Domain::SymbioteId => b"symbiote/v1/symbiote-id\0",
            Domain::TransactionSignature => b"symbiote/v1/transaction-signature\0",
            Domain::RelayerSet => b"symbiote/v1/relayer-set\0",
            Domain::MintAttestation => b"symbiote/v1/mint-attestation\0",
            Domain::ScoutReport => b"symbiote/v1/scout-report\0",
        }
    }
}

/// Hashes the concatenation of `parts` in `domain`.
pub fn hash(domain: Domain, parts: &[&[u8]]) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(domain.prefix());
    for part in parts {
        hasher.update(part);
    }
    Hash(*hasher.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Domain; 17] = [
        Domain::BlockHeader,
        Domain::MerkleLeaf,
        Domain::MerkleNode,
        Domain::MerkleRoot,
        Domain::Commitment,
        Domain::Aggregate,
        Domain::AnchorPayload,
        Domain::Transaction,
        Domain::Vote,
        Domain::ValidatorSet,
        Domain::StateTree,
        Domain::StateKey,
        Domain::SymbioteId,
        Domain::TransactionSignature,
        Domain::RelayerSet,
        Domain::MintAttestation,
        Domain::ScoutReport,
    ];

    #[test]
    fn same_bytes_in_different_domains_hash_differently() {
        let digests: Vec<Hash> = ALL.iter().map(|d| hash(*d, &[b"same bytes"])).collect();
        for (i, a) in digests.iter().enumerate() {
            for b in &digests[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn no_prefix_is_a_prefix_of_another() {
        for a in ALL {
            for b in ALL {
                if a != b {
                    assert!(
                        !a.prefix().starts_with(b.prefix()),
                        "{a:?} starts with {b:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_prefix_ends_with_its_only_nul() {
        for d in ALL {
            let prefix = d.prefix();
            assert_eq!(prefix.iter().filter(|b| **b == 0).count(), 1, "{d:?}");
            assert_eq!(prefix.last(), Some(&0), "{d:?}");
        }
    }

    #[test]
    fn hash_is_hex_in_json_and_raw_in_borsh() {
        let h = hash(Domain::Vote, &[b"x"]);
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"{h}\""));
        assert_eq!(serde_json::from_str::<Hash>(&json).unwrap(), h);
        assert_eq!(borsh::to_vec(&h).unwrap(), h.0.to_vec());
        assert_eq!(h.to_string().parse::<Hash>().unwrap(), h);
        assert!("abc".parse::<Hash>().is_err());
        assert!(serde_json::from_str::<Hash>("\"zz\"").is_err());
    }

    #[test]
    fn matches_plain_blake3_of_prefix_and_parts() {
        let expected = blake3::hash(b"symbiote/v1/leaf\0abcdef");
        assert_eq!(
            hash(Domain::MerkleLeaf, &[b"abc", b"def"]).0,
            *expected.as_bytes()
        );
    }
}

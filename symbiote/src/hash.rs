//! blake3 hashing with a distinct domain-separation prefix per kind of object, so that no two
//! kinds of object (a header and a Merkle leaf, a leaf and an inner node) can ever hash alike.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A 32-byte blake3 digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The digest's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
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
/// changing one changes every hash of that kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    BlockHeader,
    MerkleLeaf,
    MerkleNode,
    Commitment,
    AnchorPayload,
}

impl Domain {
    /// The prefix fed to blake3 before the object's bytes.
    pub const fn prefix(self) -> &'static [u8] {
        match self {
            Domain::BlockHeader => b"symbiote/v1/header\0",
            Domain::MerkleLeaf => b"symbiote/v1/leaf\0",
            Domain::MerkleNode => b"symbiote/v1/node\0",
            Domain::Commitment => b"symbiote/v1/commitment\0",
            Domain::AnchorPayload => b"symbiote/v1/payload\0",
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

    const ALL: [Domain; 5] = [
        Domain::BlockHeader,
        Domain::MerkleLeaf,
        Domain::MerkleNode,
        Domain::Commitment,
        Domain::AnchorPayload,
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
                    assert!(!a.prefix().starts_with(b.prefix()), "{a:?} starts with {b:?}");
                }
            }
        }
    }

    #[test]
    fn matches_plain_blake3_of_prefix_and_parts() {
        let expected = blake3::hash(b"symbiote/v1/leaf\0abcdef");
        assert_eq!(hash(Domain::MerkleLeaf, &[b"abc", b"def"]).0, *expected.as_bytes());
    }
}

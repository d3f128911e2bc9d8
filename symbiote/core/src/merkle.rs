//! Binary Merkle trees over [`struct@Hash`] leaves, with inclusion proofs.
//!
//! Construction (persisted format: every anchored root depends on it):
//! - each leaf value `v` becomes `hash(MerkleLeaf, v)`;
//! - each level pairs neighbours left to right into `hash(MerkleNode, left || right)`; an odd
//!   node at the end of a level is promoted to the next level unchanged (never duplicated, so
//!   the lists `[a, b, c]` and `[a, b, c, c]` have different roots);
//! - the root is `hash(MerkleRoot, leaf_count as u64 little-endian || top node)`, or
//!   `hash(MerkleRoot, 0u64)` for no leaves.
//!
//! Leaves, inner nodes and roots are hashed in three different domains, so a leaf can never be
//! passed off as an inner node or the other way round, and a proof cannot shorten the path.
//! Committing the leaf count makes trees of different sizes hash differently even when their
//! top nodes could be confused, and fixes the shape of every proof: the number of siblings
//! follows from `(index, leaf_count)` and is checked before anything is hashed.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::codec::{Canonical, invalid_data};
use crate::hash::{Domain, Hash, hash};

/// The most siblings a proof can have: one per level of a tree of up to `u64::MAX` leaves.
pub const MAX_PROOF_DEPTH: usize = 64;

/// Why a proof could not be built or did not verify.
///
/// Every variant is about the data: checking it again gives the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MerkleError {
    /// There is nothing to prove in a tree without leaves.
    #[error("the tree has no leaves")]
    EmptyTree,
    /// The leaf index is not below the leaf count.
    #[error("leaf index {index} is out of range for {leaf_count} leaves")]
    IndexOutOfRange {
        /// The index given.
        index: u64,
        /// The number of leaves.
        leaf_count: u64,
    },
    /// The proof has more or fewer siblings than its position in the tree requires.
    #[error("proof has {found} siblings, position {index} of {leaf_count} leaves needs {expected}")]
    WrongSiblingCount {
        /// The index in the proof.
        index: u64,
        /// The leaf count in the proof.
        leaf_count: u64,
        /// How many siblings that position needs.
        expected: usize,
        /// How many the proof has.
        found: usize,
    },
    /// The leaf and siblings hash to another root.
    #[error("proof leads to root {computed}, expected {expected}")]
    RootMismatch {
        /// The root the proof was checked against.
        expected: Hash,
        /// The root the leaf and siblings hash to.
        computed: Hash,
    },
}

/// The hash of a leaf value.
pub fn leaf_hash(leaf: &Hash) -> Hash {
    hash(Domain::MerkleLeaf, &[leaf.as_bytes()])
}

/// The hash of an inner node from its two children.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    hash(Domain::MerkleNode, &[left.as_bytes(), right.as_bytes()])
}

/// The root that binds `leaf_count` to the top node of the tree (`None` for no leaves).
fn seal(leaf_count: u64, top: Option<&Hash>) -> Hash {
    let count = leaf_count.to_le_bytes();
    match top {
        Some(top) => hash(Domain::MerkleRoot, &[&count, top.as_bytes()]),
        None => hash(Domain::MerkleRoot, &[&count]),
    }
}

/// Replaces `level` by the level above it, in place: pairs become their node hash and an odd
/// last node is promoted unchanged.
fn reduce_level(level: &mut Vec<Hash>) {
    let mut write = 0;
    let mut read = 0;
    while let (Some(left), Some(right)) = (level.get(read), level.get(read + 1)) {
        let parent = node_hash(left, right);
        if let Some(slot) = level.get_mut(write) {
            *slot = parent;
        }
        write += 1;
        read += 2;
    }
    if let Some(last) = level.get(read).copied() {
        if let Some(slot) = level.get_mut(write) {
            *slot = last;
        }
        write += 1;
    }
    level.truncate(write);
}

/// The leaf count as committed in the root. A slice cannot hold more than `u64::MAX` elements
/// on any supported platform; saturating keeps this total without a panic path.
fn count_of(leaves: &[Hash]) -> u64 {
    u64::try_from(leaves.len()).unwrap_or(u64::MAX)
}

/// The root of the tree over `leaves`, in order. Hashes level by level in one buffer, so a
/// million leaves cost one allocation.
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    let mut level: Vec<Hash> = leaves.iter().map(leaf_hash).collect();
    while level.len() > 1 {
        reduce_level(&mut level);
    }
    seal(count_of(leaves), level.first())
}

/// The proof that the leaf at `index` is in the tree over `leaves`.
pub fn prove(leaves: &[Hash], index: u64) -> Result<MerkleProof, MerkleError> {
    let leaf_count = count_of(leaves);
    if leaves.is_empty() {
        return Err(MerkleError::EmptyTree);
    }
    let mut position = usize::try_from(index)
        .ok()
        .filter(|i| *i < leaves.len())
        .ok_or(MerkleError::IndexOutOfRange { index, leaf_count })?;
    let mut level: Vec<Hash> = leaves.iter().map(leaf_hash).collect();
    let mut siblings = Vec::new();
    while level.len() > 1 {
        if let Some(sibling) = level.get(position ^ 1) {
            siblings.push(*sibling);
        }
        reduce_level(&mut level);
        position /= 2;
    }
    Ok(MerkleProof {
        index,
        leaf_count,
        siblings,
    })
}

/// How many siblings the path from leaf `index` of `leaf_count` leaves has: one per level,
/// except on levels where the node is the promoted odd last one.
fn path_len(index: u64, leaf_count: u64) -> usize {
    let mut position = index;
    let mut width = leaf_count;
    let mut siblings = 0;
    while width > 1 {
        if (position ^ 1) < width {
            siblings += 1;
        }
        position /= 2;
        width = width / 2 + width % 2;
    }
    siblings
}

/// The path from one leaf to the root: enough to recompute the root from the leaf.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, Serialize, Deserialize)]
pub struct MerkleProof {
    /// The leaf's position, from 0.
    pub index: u64,
    /// The number of leaves in the tree; committed in the root.
    pub leaf_count: u64,
    /// The siblings on the path from the leaf upwards, skipping levels where the node was
    /// promoted without a sibling.
    pub siblings: Vec<Hash>,
}

impl MerkleProof {
    /// Checks that the index lies in the tree and the number of siblings fits the position.
    /// Costs no hashing.
    pub fn check_shape(&self) -> Result<(), MerkleError> {
        if self.leaf_count == 0 {
            return Err(MerkleError::EmptyTree);
        }
        if self.index >= self.leaf_count {
            return Err(MerkleError::IndexOutOfRange {
                index: self.index,
                leaf_count: self.leaf_count,
            });
        }
        let expected = path_len(self.index, self.leaf_count);
        if self.siblings.len() != expected {
            return Err(MerkleError::WrongSiblingCount {
                index: self.index,
                leaf_count: self.leaf_count,
                expected,
                found: self.siblings.len(),
            });
        }
        Ok(())
    }

    /// The root that `leaf` and this path lead to, after checking the proof's shape.
    pub fn root_for(&self, leaf: &Hash) -> Result<Hash, MerkleError> {
        self.check_shape()?;
        let mut node = leaf_hash(leaf);
        let mut position = self.index;
        let mut width = self.leaf_count;
        let mut siblings = self.siblings.iter();
        while width > 1 {
            if (position ^ 1) < width {
                // check_shape guarantees a sibling here; a missing one leaves `node` as is and
                // the root comparison fails.
                if let Some(sibling) = siblings.next() {
                    node = if position.is_multiple_of(2) {
                        node_hash(&node, sibling)
                    } else {
                        node_hash(sibling, &node)
                    };
                }
            }
            position /= 2;
            width = width / 2 + width % 2;
        }
        Ok(seal(self.leaf_count, Some(&node)))
    }

    /// Checks that `leaf` is the leaf at `index` of the tree whose root is `root`.
    pub fn verify(&self, leaf: &Hash, root: &Hash) -> Result<(), MerkleError> {
        let computed = self.root_for(leaf)?;
        if computed != *root {
            return Err(MerkleError::RootMismatch {
                expected: *root,
                computed,
            });
        }
        Ok(())
    }
}

impl BorshDeserialize for MerkleProof {
    /// Accepts only well-shaped proofs, so a decoded proof never needs more hashing than its
    /// depth.
    fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
        let index = u64::deserialize_reader(reader)?;
        let leaf_count = u64::deserialize_reader(reader)?;
        let siblings = Vec::<Hash>::deserialize_reader(reader)?;
        let proof = Self {
            index,
            leaf_count,
            siblings,
        };
        proof.check_shape().map_err(invalid_data)?;
        Ok(proof)
    }
}

/// The largest borsh encoding of a proof (without a version byte).
pub const PROOF_MAX_BORSH_LEN: usize = 8 + 8 + 4 + MAX_PROOF_DEPTH * 32;

impl Canonical for MerkleProof {
    const KIND: &'static str = "merkle proof";
    const MAX_ENCODED_LEN: usize = 1 + PROOF_MAX_BORSH_LEN;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::CodecError;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n as u64)
            .map(|i| hash(Domain::BlockHeader, &[&i.to_le_bytes()]))
            .collect()
    }

    /// The tree computed naively, one allocation per level, as a reference.
    fn reference_root(leaves: &[Hash]) -> Hash {
        let mut level: Vec<Hash> = leaves.iter().map(leaf_hash).collect();
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|c| {
                    if c.len() == 2 {
                        node_hash(&c[0], &c[1])
                    } else {
                        c[0]
                    }
                })
                .collect();
        }
        seal(leaves.len() as u64, level.first())
    }

    #[test]
    fn root_matches_the_reference_and_every_leaf_proves() {
        for n in 0..40 {
            let l = leaves(n);
            let root = merkle_root(&l);
            assert_eq!(root, reference_root(&l), "n = {n}");
            for (i, leaf) in l.iter().enumerate() {
                let proof = prove(&l, i as u64).unwrap();
                assert_eq!(proof.siblings.len(), path_len(i as u64, n as u64));
                proof.verify(leaf, &root).unwrap();
                let other = hash(Domain::BlockHeader, &[b"other"]);
                assert!(matches!(
                    proof.verify(&other, &root),
                    Err(MerkleError::RootMismatch { .. })
                ));
            }
        }
    }

    #[test]
    fn small_trees_have_the_documented_shape() {
        let l = leaves(3);
        let top = node_hash(
            &node_hash(&leaf_hash(&l[0]), &leaf_hash(&l[1])),
            &leaf_hash(&l[2]),
        );
        assert_eq!(merkle_root(&l), seal(3, Some(&top)));
        assert_eq!(
            merkle_root(&[]),
            hash(Domain::MerkleRoot, &[&0u64.to_le_bytes()])
        );
        assert_eq!(merkle_root(&l[..1]), seal(1, Some(&leaf_hash(&l[0]))));
    }

    #[test]
    fn last_leaf_is_not_duplicated() {
        let l = leaves(3);
        let mut padded = l.clone();
        padded.push(l[2]);
        assert_ne!(merkle_root(&l), merkle_root(&padded));
    }

    #[test]
    fn proofs_for_missing_leaves_are_refused() {
        assert_eq!(prove(&[], 0), Err(MerkleError::EmptyTree));
        assert_eq!(
            prove(&leaves(3), 3),
            Err(MerkleError::IndexOutOfRange {
                index: 3,
                leaf_count: 3
            })
        );
    }

    #[test]
    fn an_inner_node_cannot_be_passed_off_as_a_leaf() {
        let l = leaves(4);
        let root = merkle_root(&l);
        let (a, b) = (leaf_hash(&l[0]), leaf_hash(&l[1]));
        let (c, d) = (leaf_hash(&l[2]), leaf_hash(&l[3]));
        let inner_left = node_hash(&a, &b);
        let inner_right = node_hash(&c, &d);
        // The children's concatenation hashed as leaf bytes is not the inner node.
        assert_ne!(
            hash(Domain::MerkleLeaf, &[a.as_bytes(), b.as_bytes()]),
            inner_left
        );
        // Claiming the inner node as leaf 0 with a one-step path: rejected by shape for 4
        // leaves, and leads elsewhere for 2 leaves (different count, leaf domain).
        let short = MerkleProof {
            index: 0,
            leaf_count: 4,
            siblings: vec![inner_right],
        };
        assert!(matches!(
            short.verify(&inner_left, &root),
            Err(MerkleError::WrongSiblingCount {
                expected: 2,
                found: 1,
                ..
            })
        ));
        let as_two_leaves = MerkleProof {
            index: 0,
            leaf_count: 2,
            siblings: vec![inner_right],
        };
        assert!(matches!(
            as_two_leaves.verify(&inner_left, &root),
            Err(MerkleError::RootMismatch { .. })
        ));
        // Even the unsealed top cannot be reached from a leaf claimed to be an inner node.
        let two = merkle_root(&[inner_left, inner_right]);
        assert_ne!(two, root);
    }

    #[test]
    fn proof_shape_is_checked_before_hashing() {
        let l = leaves(5);
        let root = merkle_root(&l);
        let mut proof = prove(&l, 4).unwrap();
        assert_eq!(proof.siblings.len(), 1);
        proof.siblings.push(Hash::default());
        assert!(matches!(
            proof.verify(&l[4], &root),
            Err(MerkleError::WrongSiblingCount { .. })
        ));
        let huge = MerkleProof {
            index: u64::MAX - 1,
            leaf_count: u64::MAX,
            siblings: vec![Hash::default(); 64],
        };
        assert!(matches!(
            huge.verify(&l[0], &root),
            Err(MerkleError::WrongSiblingCount { expected: 63, .. })
                | Err(MerkleError::RootMismatch { .. })
        ));
        let zero = MerkleProof {
            index: 0,
            leaf_count: 0,
            siblings: vec![],
        };
        assert_eq!(zero.verify(&l[0], &root), Err(MerkleError::EmptyTree));
    }

    #[test]
    fn canonical_round_trip_and_malformed_proofs() {
        let l = leaves(9);
        let proof = prove(&l, 6).unwrap();
        let bytes = proof.encode();
        assert_eq!(MerkleProof::decode(&bytes).unwrap(), proof);
        let mut bad = proof.clone();
        bad.siblings.pop();
        assert!(matches!(
            MerkleProof::decode(&bad.encode()),
            Err(CodecError::Malformed { .. })
        ));
        let json = serde_json::to_string(&proof).unwrap();
        assert_eq!(serde_json::from_str::<MerkleProof>(&json).unwrap(), proof);
    }
}

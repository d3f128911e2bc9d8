//! Property tests of the commitment formats: every committed block proves against the
//! aggregate root, any corrupted proof is refused, and Merkle trees resist second-preimage
//! tricks (inner nodes posing as leaves, trees of other sizes).

// Test code: a failed fixture step should abort the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use proptest::prelude::*;
use symbiote::certificate::QuorumBuilder;
use symbiote::certificate::sign_vote;
use symbiote::codec::Canonical;
use symbiote::commitment::{Aggregate, AnchorProof, Commitment};
use symbiote::crypto::Keypair;
use symbiote::hash::{Domain, Hash, hash};
use symbiote::merkle::{MerkleProof, leaf_hash, merkle_root, node_hash, prove};
use symbiote::types::{Height, SymbioteId};
use symbiote::validators::{Validator, ValidatorSet};

fn validators() -> (Vec<Keypair>, ValidatorSet) {
    let keys: Vec<Keypair> = (1..=4u8).map(|i| Keypair::from_seed(&[i; 32])).collect();
    let set = ValidatorSet::new(
        keys.iter()
            .map(|k| Validator {
                key: k.public(),
                weight: 1,
            })
            .collect(),
    )
    .unwrap();
    (keys, set)
}

/// Distinct pseudo block hashes, derived from `seed`.
fn block_hashes(seed: u64, count: usize) -> Vec<Hash> {
    (0..count as u64)
        .map(|i| {
            hash(
                Domain::BlockHeader,
                &[&seed.to_le_bytes(), &i.to_le_bytes()],
            )
        })
        .collect()
}

/// A commitment over `hashes` from `from`, certified by a quorum (3 of 4) of the set.
fn commitment(name: &str, from: u64, hashes: &[Hash]) -> Commitment {
    let (keys, set) = validators();
    let symbiote = SymbioteId::from_name(name);
    let last = *hashes.last().unwrap();
    let to = Height::new(from + hashes.len() as u64 - 1);
    let mut builder = QuorumBuilder::new(set.clone(), symbiote, to, last);
    for key in &keys[..3] {
        builder
            .add_vote(&key.public(), sign_vote(key, &symbiote, to, &last))
            .unwrap();
    }
    let commitment = Commitment::build(
        symbiote,
        Height::new(from),
        hashes,
        set.hash(),
        builder.build().unwrap(),
    )
    .unwrap();
    commitment.verify(&set).unwrap();
    commitment
}

/// An aggregate of `size` commitments with ours at `position`; the others are stand-ins for
/// foreign commitments (only their hashes matter).
fn aggregate(own: &Commitment, size: usize, position: usize) -> Aggregate {
    let mut commitments: Vec<Hash> = (0..size as u64 - 1)
        .map(|i| hash(Domain::Commitment, &[b"foreign", &i.to_le_bytes()]))
        .collect();
    commitments.insert(position.min(commitments.len()), own.hash());
    Aggregate { commitments }
}

fn anchor_proof(
    own: &Commitment,
    hashes: &[Hash],
    height: u64,
    aggregate: &Aggregate,
) -> AnchorProof {
    AnchorProof {
        block: own.prove_block(hashes, Height::new(height)).unwrap(),
        commitment: aggregate.prove(own).unwrap(),
        aggregate_root: aggregate.root(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_block_of_a_range_proves_against_the_aggregate_root(
        range_len in 1usize..300,
        from in 0u64..1_000_000,
        aggregate_size in 1usize..20,
        position in 0usize..20,
        seed in any::<u64>(),
    ) {
        let hashes = block_hashes(seed, range_len);
        let own = commitment("prop", from, &hashes);
        let aggregate = aggregate(&own, aggregate_size, position);
        let root = aggregate.root();
        let commitment_proof = aggregate.prove(&own).unwrap();
        for (offset, block_hash) in hashes.iter().enumerate() {
            let height = from + offset as u64;
            let proof = AnchorProof {
                block: own.prove_block(&hashes, Height::new(height)).unwrap(),
                commitment: commitment_proof.clone(),
                aggregate_root: root,
            };
            prop_assert_eq!(proof.block.block_hash, *block_hash);
            prop_assert_eq!(proof.verify(&root), Ok(()));
            // The same proof decoded from its canonical bytes still verifies.
            let decoded = AnchorProof::decode(&proof.encode()).unwrap();
            prop_assert_eq!(decoded.verify(&root), Ok(()));
        }
    }

    #[test]
    fn flipping_any_byte_of_an_encoded_proof_is_caught(
        range_len in 1usize..40,
        aggregate_size in 1usize..6,
        position in 0usize..6,
        block_offset in 0usize..40,
        masks in proptest::collection::vec(1u8..=255, 4096),
    ) {
        let hashes = block_hashes(7, range_len);
        let own = commitment("flip", 1_000, &hashes);
        let aggregate = aggregate(&own, aggregate_size, position);
        let root = aggregate.root();
        let height = 1_000 + (block_offset % range_len) as u64;
        let bytes = anchor_proof(&own, &hashes, height, &aggregate).encode();
        prop_assert!(bytes.len() <= masks.len());
        for (at, mask) in masks.iter().enumerate().take(bytes.len()) {
            let mut corrupted = bytes.clone();
            corrupted[at] ^= mask;
            if let Ok(proof) = AnchorProof::decode(&corrupted) {
                prop_assert!(
                    proof.verify(&root).is_err(),
                    "flipping byte {} with {:#04x} still verifies", at, mask
                );
            }
        }
    }

    #[test]
    fn an_inner_node_cannot_be_passed_off_as_a_leaf(
        leaves in proptest::collection::vec(any::<[u8; 32]>(), 2..200),
        pick in any::<usize>(),
    ) {
        let leaves: Vec<Hash> = leaves.into_iter().map(Hash).collect();
        let n = leaves.len();
        let root = merkle_root(&leaves);
        // An inner node of the first level and its two children.
        let pair = pick % (n / 2);
        let (left, right) = (leaf_hash(&leaves[2 * pair]), leaf_hash(&leaves[2 * pair + 1]));
        let inner = node_hash(&left, &right);
        // The attacker's candidate "leaves": the inner node itself, and the children's
        // concatenation hashed as leaf bytes.
        let concatenated = hash(Domain::MerkleLeaf, &[left.as_bytes(), right.as_bytes()]);
        prop_assert_ne!(concatenated, inner);
        // The genuine path above the inner node: the real proof of its left child, minus the
        // first sibling.
        let real = prove(&leaves, 2 * pair as u64).unwrap();
        let above: Vec<Hash> = real.siblings[1..].to_vec();
        // Also the proof that treats the first level as if it were the leaves.
        let level1: Vec<Hash> = leaves
            .chunks(2)
            .map(|c| if c.len() == 2 { node_hash(&leaf_hash(&c[0]), &leaf_hash(&c[1])) } else { leaf_hash(&c[0]) })
            .collect();
        let as_level1 = prove(&level1, pair as u64).unwrap();
        let mut attempts = vec![as_level1.clone()];
        for index in [pair as u64, 2 * pair as u64, 2 * pair as u64 + 1] {
            for leaf_count in [n as u64, level1.len() as u64] {
                attempts.push(MerkleProof { index, leaf_count, siblings: above.clone() });
            }
        }
        for proof in &attempts {
            for claimed in [inner, concatenated] {
                prop_assert!(proof.verify(&claimed, &root).is_err(), "{:?}", proof);
            }
        }
        // The honest proofs of the children still verify.
        prop_assert_eq!(real.verify(&leaves[2 * pair], &root), Ok(()));
    }

    #[test]
    fn trees_of_different_sizes_do_not_collide(
        leaves in proptest::collection::vec(any::<[u8; 32]>(), 0..64),
        repeat_last in any::<bool>(),
    ) {
        let mut leaves: Vec<Hash> = leaves.into_iter().map(Hash).collect();
        if repeat_last && let Some(last) = leaves.last().copied() {
            leaves.push(last);
        }
        let roots: HashSet<Hash> = (0..=leaves.len()).map(|n| merkle_root(&leaves[..n])).collect();
        prop_assert_eq!(roots.len(), leaves.len() + 1);
        // A proof from a tree of n leaves never verifies against the tree of n + 1.
        if leaves.len() >= 2 {
            let n = leaves.len() - 1;
            let shorter = prove(&leaves[..n], 0).unwrap();
            prop_assert!(shorter.verify(&leaves[0], &merkle_root(&leaves)).is_err());
        }
    }
}

//! Commitment costs: the Merkle root over a million block hashes against plain blake3 over the
//! same bytes (the floor any hash-based commitment pays), and anchor-proof verification.
//!
//! Run: `cargo bench -p symbiote --bench commitment`. Sample counts are small so the whole
//! run stays within a couple of minutes on two cores.

// Benchmark setup: a failed fixture step should abort loudly.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use symbiote::certificate::{QuorumCertificate, sign_vote};
use symbiote::commitment::{Aggregate, AnchorProof, Commitment};
use symbiote::crypto::Keypair;
use symbiote::hash::{Domain, Hash, hash};
use symbiote::merkle::merkle_root;
use symbiote::types::{Height, SymbioteId};
use symbiote::validators::{Validator, ValidatorSet};

const BLOCKS: u64 = 1_000_000;

fn block_hashes(count: u64) -> Vec<Hash> {
    (0..count)
        .map(|i| hash(Domain::BlockHeader, &[&i.to_le_bytes()]))
        .collect()
}

/// A commitment over `hashes` from height 0, certified by four validators.
fn commitment(name: &str, hashes: &[Hash]) -> Commitment {
    let keys: Vec<Keypair> = (1..=4u8).map(|i| Keypair::from_seed(&[i; 32])).collect();
    let set = ValidatorSet::new(
        keys.iter()
            .map(|k| Validator {
                key: k.public(),
                weight: 1,
            })
            .collect(),
    )
    .expect("valid set");
    let symbiote = SymbioteId::from_name(name);
    let last = *hashes.last().expect("non-empty range");
    let height = Height::new(hashes.len() as u64 - 1);
    let mut signatures: Vec<(u16, _)> = keys
        .iter()
        .map(|k| {
            let index = set.index_of(&k.public()).expect("member");
            (index, sign_vote(k, &symbiote, height, &last))
        })
        .collect();
    signatures.sort_by_key(|(i, _)| *i);
    let certificate = QuorumCertificate {
        symbiote,
        height,
        block_hash: last,
        signatures,
    };
    Commitment::build(symbiote, Height::new(0), hashes, set.hash(), certificate)
        .expect("valid commitment")
}

fn commitment_root(c: &mut Criterion) {
    let hashes = block_hashes(BLOCKS);
    let concatenated: Vec<u8> = hashes.iter().flat_map(|h| h.0).collect();
    let mut group = c.benchmark_group("commitment_1m_blocks");
    // Flat sampling: each of the 10 samples runs the same number of iterations, so the slow
    // Merkle root needs about 10 runs instead of the 55 of criterion's linear sampling.
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Bytes(concatenated.len() as u64));
    group.bench_function("merkle_root", |b| {
        b.iter(|| merkle_root(black_box(&hashes)))
    });
    group.bench_function("blake3_baseline", |b| {
        b.iter(|| blake3::hash(black_box(&concatenated)))
    });
    group.finish();
}

fn anchor_proof(c: &mut Criterion) {
    let hashes = block_hashes(BLOCKS);
    let own = commitment("bench", &hashes);
    // The commitment sits among 15 commitments of other symbiotes.
    let mut commitments: Vec<Hash> = (0..15)
        .map(|i| commitment(&format!("foreign-{i}"), &hashes[..100]).hash())
        .collect();
    commitments.insert(7, own.hash());
    let aggregate = Aggregate { commitments };
    let root = aggregate.root();
    let proof = AnchorProof {
        block: own
            .prove_block(&hashes, Height::new(123_457))
            .expect("block in range"),
        commitment: aggregate.prove(&own).expect("commitment in aggregate"),
        aggregate_root: root,
    };
    proof.verify(&root).expect("valid proof");

    let mut group = c.benchmark_group("anchor_proof");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));
    group.bench_function("verify", |b| {
        b.iter(|| black_box(&proof).verify(black_box(&root)))
    });
    group.finish();
}

criterion_group!(benches, commitment_root, anchor_proof);
criterion_main!(benches);

use super::*;
use crate::block::Header;
use crate::codec::CodecError;
use crate::crypto::Keypair;
use crate::merkle::MerkleProof;
use crate::test_support::{certify, equal_set, header, keys};

/// A finalized range of `count` blocks from height `from`, with the committing set.
struct Range {
    keys: Vec<Keypair>,
    set: ValidatorSet,
    headers: Vec<Header>,
    hashes: Vec<Hash>,
    commitment: Commitment,
}

fn range(name: &str, from: u64, count: u64) -> Range {
    let keys = keys(1, 4);
    let set = equal_set(&keys);
    let symbiote = SymbioteId::from_name(name);
    let mut headers: Vec<Header> = Vec::new();
    for height in from..from + count {
        let parent = headers.last().map(Header::hash).unwrap_or_default();
        headers.push(header(symbiote, height, parent, &set, &set));
    }
    let hashes: Vec<Hash> = headers.iter().map(Header::hash).collect();
    let certificate = certify(headers.last().unwrap(), &set, &keys);
    let commitment = Commitment::build(
        symbiote,
        Height::new(from),
        &hashes,
        set.hash(),
        certificate,
    )
    .unwrap();
    Range {
        keys,
        set,
        headers,
        hashes,
        commitment,
    }
}

/// An anchor proof for `height` of `r`, in an aggregate with two foreign commitments around it.
fn anchor(r: &Range, height: u64) -> (AnchorProof, Aggregate) {
    let foreign_a = range("foreign-a", 0, 3).commitment.hash();
    let foreign_b = range("foreign-b", 7, 2).commitment.hash();
    let aggregate = Aggregate {
        commitments: vec![foreign_a, r.commitment.hash(), foreign_b],
    };
    let proof = AnchorProof {
        block: r
            .commitment
            .prove_block(&r.hashes, Height::new(height))
            .unwrap(),
        commitment: aggregate.prove(&r.commitment).unwrap(),
        aggregate_root: aggregate.root(),
    };
    (proof, aggregate)
}

#[test]
fn build_checks_the_certificate_against_the_range() {
    let r = range("s", 10, 5);
    assert_eq!(r.commitment.to, Height::new(14));
    assert_eq!(r.commitment.block_count(), Some(5));
    r.commitment.verify(&r.set).unwrap();
    let symbiote = r.commitment.symbiote;
    let qc = r.commitment.certificate.clone();
    assert_eq!(
        Commitment::build(symbiote, Height::new(10), &[], r.set.hash(), qc.clone()),
        Err(CommitmentError::EmptyRange)
    );
    // One block fewer: the certificate is for height 14, the range ends at 13 with another hash.
    assert!(matches!(
        Commitment::build(
            symbiote,
            Height::new(10),
            &r.hashes[..4],
            r.set.hash(),
            qc.clone()
        ),
        Err(CommitmentError::CertificateForAnotherBlock { .. })
    ));
    // Same hashes, shifted range: the certificate's height no longer matches `to`.
    assert!(matches!(
        Commitment::build(
            symbiote,
            Height::new(11),
            &r.hashes,
            r.set.hash(),
            qc.clone()
        ),
        Err(CommitmentError::CertificateForAnotherHeight { .. })
    ));
    assert!(matches!(
        Commitment::build(
            SymbioteId::from_name("t"),
            Height::new(10),
            &r.hashes,
            r.set.hash(),
            qc.clone()
        ),
        Err(CommitmentError::CertificateForAnotherSymbiote { .. })
    ));
    assert!(matches!(
        Commitment::build(symbiote, Height::new(u64::MAX), &r.hashes, r.set.hash(), qc),
        Err(CommitmentError::HeightOverflow { .. })
    ));
}

#[test]
fn verify_with_the_set_checks_the_certificate() {
    let r = range("s", 0, 3);
    let other = equal_set(&keys(30, 4));
    assert!(matches!(
        r.commitment.verify(&other),
        Err(CommitmentError::WrongValidatorSet { .. })
    ));
    let mut weak = r.commitment.clone();
    weak.certificate.signatures.truncate(1);
    assert!(matches!(
        weak.verify(&r.set),
        Err(CommitmentError::Certificate(_))
    ));
    assert_eq!(r.keys.len(), 4);
}

#[test]
fn every_block_of_the_range_proves_against_the_aggregate_root() {
    let r = range("s", 100, 9);
    for height in 100..109 {
        let (proof, aggregate) = anchor(&r, height);
        proof.verify(&aggregate.root()).unwrap();
        assert_eq!(
            proof.block.block_hash,
            r.headers[(height - 100) as usize].hash()
        );
    }
}

#[test]
fn prove_block_refuses_heights_and_hashes_outside_the_commitment() {
    let r = range("s", 5, 4);
    assert!(matches!(
        r.commitment.prove_block(&r.hashes, Height::new(4)),
        Err(CommitmentError::HeightOutsideRange { .. })
    ));
    assert!(matches!(
        r.commitment.prove_block(&r.hashes, Height::new(9)),
        Err(CommitmentError::HeightOutsideRange { .. })
    ));
    assert!(matches!(
        r.commitment.prove_block(&r.hashes[1..], Height::new(6)),
        Err(CommitmentError::WrongBlockCount { .. })
    ));
    let mut wrong = r.hashes.clone();
    wrong.swap(0, 1);
    assert!(matches!(
        r.commitment.prove_block(&wrong, Height::new(5)),
        Err(CommitmentError::HashesDoNotMatchRoot(_))
    ));
    let aggregate = Aggregate {
        commitments: vec![range("other", 0, 1).commitment.hash()],
    };
    assert!(matches!(
        aggregate.prove(&r.commitment),
        Err(CommitmentError::NotInAggregate { .. })
    ));
}

#[test]
fn anchor_proof_names_the_failing_step() {
    let r = range("s", 20, 6);
    let (good, aggregate) = anchor(&r, 22);
    let root = aggregate.root();

    let mut p = good.clone();
    p.block.block_hash = Hash([9; 32]);
    assert!(matches!(
        p.verify(&root),
        Err(ProofError::BlockNotInCommitment(_))
    ));

    let mut p = good.clone();
    p.commitment.commitment.blocks_root = Hash([9; 32]);
    assert!(matches!(
        p.verify(&root),
        Err(ProofError::BlockNotInCommitment(_))
    ));

    let mut p = good.clone();
    p.commitment.in_aggregate.siblings[0] = Hash([9; 32]);
    assert!(matches!(
        p.verify(&root),
        Err(ProofError::CommitmentNotInAggregate(_))
    ));

    let mut p = good.clone();
    p.commitment.commitment.validator_set_hash = Hash([9; 32]);
    assert!(matches!(
        p.verify(&root),
        Err(ProofError::CommitmentNotInAggregate(_))
    ));

    assert_eq!(
        good.verify(&Hash([7; 32])),
        Err(ProofError::AggregateRootMismatch {
            trusted: Hash([7; 32]),
            found: root
        })
    );

    let mut p = good.clone();
    p.block.height = Height::new(26);
    assert!(matches!(
        p.verify(&root),
        Err(ProofError::BlockOutsideCommitment { .. })
    ));
    let mut p = good.clone();
    p.block.height = Height::new(23);
    assert!(matches!(
        p.verify(&root),
        Err(ProofError::WrongBlockPosition {
            expected: 3,
            found: 2,
            ..
        })
    ));
    let mut p = good.clone();
    p.commitment.commitment.to = Height::new(19);
    assert!(matches!(
        p.verify(&root),
        Err(ProofError::InvalidCommitment(_))
    ));
    good.verify(&root).unwrap();
}

#[test]
fn last_block_must_be_the_certified_one() {
    let r = range("s", 0, 4);
    let (good, aggregate) = anchor(&r, 3);
    good.verify(&aggregate.root()).unwrap();
    let mut p = good.clone();
    p.block.block_hash = r.hashes[2];
    assert!(matches!(
        p.verify(&aggregate.root()),
        Err(ProofError::LastBlockNotCertified { .. })
    ));
}

#[test]
fn a_commitment_proof_of_a_shorter_range_does_not_fit() {
    // A proof built for the block at position 0 of a range of 1 cannot stand for position 0
    // of a longer range: the leaf count is checked against the commitment.
    let r = range("s", 0, 3);
    let (mut p, aggregate) = anchor(&r, 0);
    p.block.in_commitment = MerkleProof {
        index: 0,
        leaf_count: 1,
        siblings: vec![],
    };
    assert!(matches!(
        p.verify(&aggregate.root()),
        Err(ProofError::WrongBlockCount {
            expected: 3,
            found: 1
        })
    ));
}

#[test]
fn aggregate_root_is_not_a_plain_merkle_root() {
    let a = Aggregate {
        commitments: vec![Hash([1; 32]), Hash([2; 32])],
    };
    assert_ne!(a.root(), merkle_root(&a.commitments));
    assert_ne!(Aggregate::default().root(), merkle_root(&[]));
}

#[test]
fn canonical_and_json_round_trips() {
    let r = range("s", 3, 5);
    let (proof, aggregate) = anchor(&r, 5);
    let bytes = proof.encode();
    assert!(bytes.len() <= AnchorProof::MAX_ENCODED_LEN);
    let decoded = AnchorProof::decode(&bytes).unwrap();
    assert_eq!(decoded, proof);
    decoded.verify(&aggregate.root()).unwrap();
    let json = serde_json::to_string_pretty(&proof).unwrap();
    assert_eq!(serde_json::from_str::<AnchorProof>(&json).unwrap(), proof);

    assert_eq!(
        Commitment::decode(&r.commitment.encode()).unwrap(),
        r.commitment
    );
    assert_eq!(Aggregate::decode(&aggregate.encode()).unwrap(), aggregate);
    assert_eq!(
        BlockProof::decode(&proof.block.encode()).unwrap(),
        proof.block
    );
    assert_eq!(
        CommitmentProof::decode(&proof.commitment.encode()).unwrap(),
        proof.commitment
    );

    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(
        AnchorProof::decode(&trailing),
        Err(CodecError::TrailingBytes { .. })
    ));
    let mut version = bytes;
    version[0] = 9;
    assert!(matches!(
        AnchorProof::decode(&version),
        Err(CodecError::UnknownVersion { found: 9, .. })
    ));
}

#[test]
fn inconsistent_commitments_do_not_decode() {
    let r = range("s", 3, 5);
    let mut inverted = r.commitment.clone();
    inverted.from = Height::new(10);
    assert!(matches!(
        Commitment::decode(&inverted.encode()),
        Err(CodecError::Malformed { .. })
    ));
    let oversize = vec![1u8; Aggregate::MAX_ENCODED_LEN + 1];
    assert!(matches!(
        Aggregate::decode(&oversize),
        Err(CodecError::TooLong { .. })
    ));
}

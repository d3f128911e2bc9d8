use super::*;
use crate::test_support::{certify, equal_set, header, keys};

/// A stand-in for the state machine's transaction type.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
struct TestTx {
    /// Opaque payload.
    payload: Vec<u8>,
}

impl Versioned for TestTx {
    const VERSION: u8 = crate::codec::FORMAT_VERSION;
}

fn txs(n: u8) -> Vec<TestTx> {
    (0..n)
        .map(|i| TestTx {
            payload: vec![i; 3],
        })
        .collect()
}

fn finalized(n_txs: u8) -> (FinalizedBlock<TestTx>, ValidatorSet) {
    let validators = keys(1, 4);
    let set = equal_set(&validators);
    let transactions = txs(n_txs);
    let mut h = header(SymbioteId::from_name("b"), 5, Hash::default(), &set, &set);
    h.tx_root = tx_root(&transactions).unwrap();
    let certificate = certify(&h, &set, &validators[..3]);
    let block = Block {
        header: h,
        transactions,
    };
    (FinalizedBlock { block, certificate }, set)
}

#[test]
fn finalized_block_verifies() {
    let (fb, set) = finalized(3);
    fb.verify(&set).unwrap();
}

#[test]
fn tx_root_commits_to_order_and_content() {
    let a = txs(3);
    let mut b = a.clone();
    b.swap(0, 1);
    assert_ne!(tx_root(&a).unwrap(), tx_root(&b).unwrap());
    assert_eq!(tx_root::<TestTx>(&[]).unwrap(), merkle_root(&[]));
    let leaf = transaction_hash(&a[0]).unwrap();
    let expected = hash(Domain::Transaction, &[&borsh::to_vec(&a[0]).unwrap()]);
    assert_eq!(leaf, expected);
}

#[test]
fn verify_rejects_tampered_transactions() {
    let (mut fb, set) = finalized(3);
    fb.block.transactions.pop();
    assert!(matches!(
        fb.verify(&set),
        Err(BlockError::TxRootMismatch { .. })
    ));
}

#[test]
fn verify_rejects_a_certificate_for_another_header() {
    let (mut fb, set) = finalized(1);
    fb.block.header.state_root = hash(Domain::StateTree, &[b"other"]);
    assert!(matches!(
        fb.verify(&set),
        Err(BlockError::CertificateForAnotherBlock { .. })
    ));
    let (mut fb, set) = finalized(1);
    fb.certificate.height = Height::new(6);
    assert!(matches!(
        fb.verify(&set),
        Err(BlockError::CertificateForAnotherHeight { .. })
    ));
    let (mut fb, set) = finalized(1);
    fb.certificate.symbiote = SymbioteId::from_name("other");
    assert!(matches!(
        fb.verify(&set),
        Err(BlockError::CertificateForAnotherSymbiote { .. })
    ));
}

#[test]
fn verify_rejects_another_validator_set() {
    let (fb, _) = finalized(1);
    let other = equal_set(&keys(50, 4));
    assert!(matches!(
        fb.verify(&other),
        Err(BlockError::WrongValidatorSet { .. })
    ));
}

#[test]
fn verify_rejects_a_weak_certificate() {
    let (mut fb, set) = finalized(1);
    fb.certificate.signatures.truncate(2);
    assert!(matches!(
        fb.verify(&set),
        Err(BlockError::Certificate(
            CertificateError::InsufficientWeight { .. }
        ))
    ));
}

#[test]
fn verify_rejects_unknown_header_version() {
    let (mut fb, set) = finalized(1);
    fb.block.header.version = 2;
    assert!(matches!(
        fb.verify(&set),
        Err(BlockError::UnsupportedVersion { found: 2, .. })
    ));
}

#[test]
fn header_hash_covers_every_field() {
    let (fb, _) = finalized(0);
    let h = fb.block.header.clone();
    let base = h.hash();
    let mut variants = Vec::new();
    let mut v = h.clone();
    v.version = 2;
    variants.push(v);
    let mut v = h.clone();
    v.height = Height::new(6);
    variants.push(v);
    let mut v = h.clone();
    v.parent = hash(Domain::BlockHeader, &[b"p"]);
    variants.push(v);
    let mut v = h.clone();
    v.timestamp = TimestampMs::new(1);
    variants.push(v);
    let mut v = h.clone();
    v.next_validator_set_hash = Hash::default();
    variants.push(v);
    for v in variants {
        assert_ne!(v.hash(), base);
    }
}

#[test]
fn canonical_round_trips() {
    let (fb, _) = finalized(4);
    let bytes = fb.encode();
    assert_eq!(FinalizedBlock::<TestTx>::decode(&bytes).unwrap(), fb);
    let bytes = fb.block.encode();
    assert_eq!(Block::<TestTx>::decode(&bytes).unwrap(), fb.block);
    let bytes = fb.block.header.encode();
    assert_eq!(bytes.len(), Header::MAX_ENCODED_LEN);
    assert_eq!(Header::decode(&bytes).unwrap(), fb.block.header);
    let json = serde_json::to_string(&fb).unwrap();
    assert_eq!(
        serde_json::from_str::<FinalizedBlock<TestTx>>(&json).unwrap(),
        fb
    );
}

#[test]
fn header_decode_rejects_bad_input() {
    let (fb, _) = finalized(0);
    let bytes = fb.block.header.encode();
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(
        Header::decode(&trailing),
        Err(CodecError::TooLong { .. })
    ));
    assert!(matches!(
        Header::decode(&bytes[..bytes.len() - 1]),
        Err(CodecError::Malformed { .. })
    ));
    let mut version = bytes.clone();
    version[0] = 0;
    assert!(matches!(
        Header::decode(&version),
        Err(CodecError::UnknownVersion { found: 0, .. })
    ));
    // The proposer key sits after version(2) + symbiote(32) + height(8) + parent(32) +
    // timestamp(8), behind the format byte.
    let at = 1 + 2 + 32 + 8 + 32 + 8;
    let mut bad_key = bytes.clone();
    bad_key[at..at + 32].copy_from_slice(&[0; 32]);
    bad_key[at] = 2;
    assert!(matches!(
        Header::decode(&bad_key),
        Err(CodecError::Malformed { .. })
    ));
}

#[test]
fn block_decode_rejects_trailing_bytes_and_huge_counts() {
    let (fb, _) = finalized(2);
    let mut bytes = fb.block.encode();
    bytes.push(7);
    assert!(matches!(
        Block::<TestTx>::decode(&bytes),
        Err(CodecError::TrailingBytes { count: 1, .. })
    ));
    // A transaction count of u32::MAX with nothing behind it fails fast.
    let mut forged = fb.block.header.encode();
    forged.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        Block::<TestTx>::decode(&forged),
        Err(CodecError::Malformed { .. })
    ));
    let oversize = vec![1u8; MAX_BLOCK_LEN + 1];
    assert!(matches!(
        Block::<TestTx>::decode(&oversize),
        Err(CodecError::TooLong { .. })
    ));
}

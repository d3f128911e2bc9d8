//! Fixtures shared by the unit tests: deterministic keys, validator sets, headers and
//! certificates.

use crate::block::{HEADER_VERSION, Header};
use crate::certificate::{QuorumCertificate, sign_vote};
use crate::crypto::{Keypair, Signature};
use crate::hash::Hash;
use crate::merkle::merkle_root;
use crate::types::{Height, SymbioteId, TimestampMs};
use crate::validators::{Validator, ValidatorSet};

/// `count` keypairs from deterministic seeds starting at `first_seed`.
pub fn keys(first_seed: u8, count: u8) -> Vec<Keypair> {
    (0..count)
        .map(|i| Keypair::from_seed(&[first_seed.wrapping_add(i); 32]))
        .collect()
}

/// A set in which every key has weight 1.
pub fn equal_set(keys: &[Keypair]) -> ValidatorSet {
    ValidatorSet::new(
        keys.iter()
            .map(|k| Validator {
                key: k.public(),
                weight: 1,
            })
            .collect(),
    )
    .expect("valid set")
}

/// A certificate on `header` signed by every key of `signers` that belongs to `set`, whether
/// or not they form a quorum.
pub fn certify(header: &Header, set: &ValidatorSet, signers: &[Keypair]) -> QuorumCertificate {
    let block_hash = header.hash();
    let mut signatures: Vec<(u16, Signature)> = signers
        .iter()
        .filter_map(|key| {
            let index = set.index_of(&key.public())?;
            Some((
                index,
                sign_vote(key, &header.symbiote, header.height, &block_hash),
            ))
        })
        .collect();
    signatures.sort_by_key(|(index, _)| *index);
    QuorumCertificate {
        symbiote: header.symbiote,
        height: header.height,
        block_hash,
        signatures,
    }
}

/// A header with an empty transaction list.
pub fn header(
    symbiote: SymbioteId,
    height: u64,
    parent: Hash,
    set: &ValidatorSet,
    next_set: &ValidatorSet,
) -> Header {
    Header {
        version: HEADER_VERSION,
        symbiote,
        height: Height::new(height),
        parent,
        timestamp: TimestampMs::new(1_700_000_000_000 + height),
        proposer: set.validators()[0].key,
        tx_root: merkle_root(&[]),
        state_root: Hash::default(),
        validator_set_hash: set.hash(),
        next_validator_set_hash: next_set.hash(),
    }
}

//! Votes and quorum certificates: the proof that validators holding more than two thirds of
//! a set's weight signed one block of one symbiote at one height.
//!
//! A vote signs `hash(Domain::Vote, symbiote || height || block_hash)`, so a vote can never be
//! replayed for another symbiote, another height or another block.

use std::collections::BTreeMap;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::codec::Canonical;
use crate::crypto::{self, Keypair, PublicKey, Signature};
use crate::hash::{Domain, Hash, hash};
use crate::types::{Height, SymbioteId};
use crate::validators::{MAX_VALIDATORS, ValidatorSet};

/// Why a certificate or a vote was rejected.
///
/// Every variant is about the data: checking it again against the same set gives the same
/// answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CertificateError {
    /// The signers carry less weight than the set's quorum.
    #[error("insufficient weight: signed {signed}, quorum needs {required} of {total}")]
    InsufficientWeight {
        /// The weight of the signers.
        signed: u64,
        /// The set's quorum weight.
        required: u64,
        /// The set's total weight.
        total: u64,
    },
    /// A signer index names no validator of the set.
    #[error("signer index {index} is not in a set of {set_size} validators")]
    UnknownValidator {
        /// The index given.
        index: u16,
        /// The number of validators in the set.
        set_size: usize,
    },
    /// A key that is not in the set voted.
    #[error("{key} is not a validator of this set")]
    UnknownKey {
        /// The key that voted.
        key: PublicKey,
    },
    /// The same validator is listed twice.
    #[error("signer index {index} appears more than once")]
    DuplicateSigner {
        /// The repeated index.
        index: u16,
    },
    /// Signer indices must be strictly increasing, so that a certificate has one encoding.
    #[error("signer index {index} follows {previous}: indices must be strictly increasing")]
    UnsortedSigners {
        /// The index that is out of order.
        index: u16,
        /// The index before it.
        previous: u16,
    },
    /// A signature does not verify for its validator and this vote.
    #[error("signature of validator index {index} does not verify for this vote")]
    BadSignature {
        /// The signer's index in the set.
        index: u16,
    },
}

/// The 72 bytes a vote signs (before domain separation): symbiote id, height (little-endian),
/// block hash.
pub fn vote_message(symbiote: &SymbioteId, height: Height, block_hash: &Hash) -> [u8; 72] {
    let mut out = [0u8; 72];
    let (id, rest) = out.split_at_mut(32);
    let (h, bh) = rest.split_at_mut(8);
    id.copy_from_slice(symbiote.as_bytes());
    h.copy_from_slice(&height.get().to_le_bytes());
    bh.copy_from_slice(block_hash.as_bytes());
    out
}

/// The digest a vote's signature covers.
pub fn vote_digest(symbiote: &SymbioteId, height: Height, block_hash: &Hash) -> Hash {
    hash(Domain::Vote, &[&vote_message(symbiote, height, block_hash)])
}

/// Signs a vote for `block_hash` at `height` of `symbiote`.
pub fn sign_vote(
    keypair: &Keypair,
    symbiote: &SymbioteId,
    height: Height,
    block_hash: &Hash,
) -> Signature {
    keypair.sign_digest(&vote_digest(symbiote, height, block_hash))
}

/// Checks one vote.
pub fn verify_vote(
    key: &PublicKey,
    symbiote: &SymbioteId,
    height: Height,
    block_hash: &Hash,
    signature: &Signature,
) -> Result<(), crypto::CryptoError> {
    crypto::verify_digest(key, &vote_digest(symbiote, height, block_hash), signature)
}

/// Signatures of a quorum of one validator set on one block.
///
/// The certificate does not name its validator set: the verifier supplies the set that the
/// block's header declares (`validator_set_hash`).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct QuorumCertificate {
    /// The symbiote whose block was signed.
    pub symbiote: SymbioteId,
    /// The height of the signed block.
    pub height: Height,
    /// The hash of the signed block's header.
    pub block_hash: Hash,
    /// (validator index in the set, signature), indices strictly increasing.
    pub signatures: Vec<(u16, Signature)>,
}

impl QuorumCertificate {
    /// Checks that the signers are distinct members of `set`, listed in increasing index order,
    /// that together they carry at least the quorum weight, and that every signature verifies.
    ///
    /// The cheap checks (indices, weight) run before any signature is verified, and all
    /// signatures are verified in one batch.
    pub fn verify(&self, set: &ValidatorSet) -> Result<(), CertificateError> {
        let digest = vote_digest(&self.symbiote, self.height, &self.block_hash);
        let mut signed: u64 = 0;
        let mut previous: Option<u16> = None;
        let mut batch = Vec::with_capacity(self.signatures.len().min(set.len()));
        for (index, signature) in &self.signatures {
            if let Some(previous) = previous {
                if *index == previous {
                    return Err(CertificateError::DuplicateSigner { index: *index });
                }
                if *index < previous {
                    return Err(CertificateError::UnsortedSigners {
                        index: *index,
                        previous,
                    });
                }
            }
            previous = Some(*index);
            let validator = set.get(*index).ok_or(CertificateError::UnknownValidator {
                index: *index,
                set_size: set.len(),
            })?;
            // Distinct members of a set whose total fits u64: this cannot overflow, but an
            // overflow would only mean "more than enough".
            signed = signed.saturating_add(validator.weight);
            batch.push((validator.key, digest, *signature));
        }
        let required = set.quorum_weight();
        if signed < required {
            return Err(CertificateError::InsufficientWeight {
                signed,
                required,
                total: set.total_weight(),
            });
        }
        crypto::verify_batch(&batch).map_err(|e| {
            let position = match e {
                crypto::CryptoError::BadSignatureInBatch { position } => position,
                _ => 0,
            };
            let index = self
                .signatures
                .get(position)
                .map(|(index, _)| *index)
                .unwrap_or_default();
            CertificateError::BadSignature { index }
        })
    }

    /// The indices of the validators that signed.
    pub fn signers(&self) -> impl Iterator<Item = u16> + '_ {
        self.signatures.iter().map(|(index, _)| *index)
    }
}

impl Canonical for QuorumCertificate {
    const KIND: &'static str = "quorum certificate";
    const MAX_ENCODED_LEN: usize = QC_MAX_ENCODED_LEN;
}

/// The largest canonical encoding of a certificate: version byte, symbiote id, height, block
/// hash, length prefix and one (index, signature) pair per validator of the largest set.
/// Other formats that embed a certificate build their limits on it.
pub const QC_MAX_ENCODED_LEN: usize = 1 + QC_MAX_BORSH_LEN;

/// The largest borsh encoding of a certificate (without the version byte).
pub const QC_MAX_BORSH_LEN: usize = 32 + 8 + 32 + 4 + MAX_VALIDATORS * (2 + 64);

/// Collects votes for one block until they form a quorum certificate.
///
/// Each vote is verified when added, so `build` never produces a certificate that fails
/// [`QuorumCertificate::verify`] against the same set.
#[derive(Clone, Debug)]
pub struct QuorumBuilder {
    /// The set whose members may vote.
    set: ValidatorSet,
    /// The symbiote of the block.
    symbiote: SymbioteId,
    /// The height of the block.
    height: Height,
    /// The hash of the block's header.
    block_hash: Hash,
    /// The verified votes by validator index; ordered, as the certificate needs.
    votes: BTreeMap<u16, Signature>,
    /// The weight of the collected votes.
    signed: u64,
}

impl QuorumBuilder {
    /// Starts collecting votes of `set` for `block_hash` at `height` of `symbiote`.
    pub fn new(set: ValidatorSet, symbiote: SymbioteId, height: Height, block_hash: Hash) -> Self {
        Self {
            set,
            symbiote,
            height,
            block_hash,
            votes: BTreeMap::new(),
            signed: 0,
        }
    }

    /// Verifies and records `key`'s vote; returns whether the collected votes now form a
    /// quorum. A second vote from the same validator is ignored (votes are deterministic, so
    /// it is a resend), after its signature has been checked.
    pub fn add_vote(
        &mut self,
        key: &PublicKey,
        signature: Signature,
    ) -> Result<bool, CertificateError> {
        let index = self
            .set
            .index_of(key)
            .ok_or(CertificateError::UnknownKey { key: *key })?;
        verify_vote(
            key,
            &self.symbiote,
            self.height,
            &self.block_hash,
            &signature,
        )
        .map_err(|_| CertificateError::BadSignature { index })?;
        if let std::collections::btree_map::Entry::Vacant(slot) = self.votes.entry(index) {
            slot.insert(signature);
            let weight = self.set.get(index).map(|v| v.weight).unwrap_or_default();
            self.signed = self.signed.saturating_add(weight);
        }
        Ok(self.has_quorum())
    }

    /// The weight of the votes collected so far.
    pub fn signed_weight(&self) -> u64 {
        self.signed
    }

    /// Whether the collected votes reach the set's quorum weight.
    pub fn has_quorum(&self) -> bool {
        self.signed >= self.set.quorum_weight()
    }

    /// The certificate, once the votes reach a quorum.
    pub fn build(&self) -> Result<QuorumCertificate, CertificateError> {
        if !self.has_quorum() {
            return Err(CertificateError::InsufficientWeight {
                signed: self.signed,
                required: self.set.quorum_weight(),
                total: self.set.total_weight(),
            });
        }
        Ok(QuorumCertificate {
            symbiote: self.symbiote,
            height: self.height,
            block_hash: self.block_hash,
            signatures: self.votes.iter().map(|(i, s)| (*i, *s)).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validators::Validator;

    struct Fixture {
        keys: Vec<Keypair>,
        set: ValidatorSet,
        symbiote: SymbioteId,
        height: Height,
        block: Hash,
    }

    /// Validators with the given weights; `keys[i]` is the validator at index `i`.
    fn fixture(weights: &[u64]) -> Fixture {
        let mut keys: Vec<Keypair> = (0..weights.len())
            .map(|i| Keypair::from_seed(&[i as u8 + 1; 32]))
            .collect();
        keys.sort_by_key(|k| k.public());
        let set = ValidatorSet::new(
            keys.iter()
                .zip(weights)
                .map(|(k, w)| Validator {
                    key: k.public(),
                    weight: *w,
                })
                .collect(),
        )
        .unwrap();
        Fixture {
            keys,
            set,
            symbiote: SymbioteId::from_name("test"),
            height: Height::new(10),
            block: hash(Domain::BlockHeader, &[b"block"]),
        }
    }

    impl Fixture {
        fn qc(&self, signers: &[usize]) -> QuorumCertificate {
            QuorumCertificate {
                symbiote: self.symbiote,
                height: self.height,
                block_hash: self.block,
                signatures: signers
                    .iter()
                    .map(|i| {
                        let sig =
                            sign_vote(&self.keys[*i], &self.symbiote, self.height, &self.block);
                        (*i as u16, sig)
                    })
                    .collect(),
            }
        }
    }

    #[test]
    fn quorum_exactly_at_threshold_passes_and_one_unit_less_fails() {
        // Total 100, quorum 67: 40 + 27 = 67 passes; 40 + 26 = 66 fails.
        let f = fixture(&[40, 27, 26, 7]);
        assert_eq!(f.set.quorum_weight(), 67);
        assert!(f.qc(&[0, 1]).verify(&f.set).is_ok());
        assert_eq!(
            f.qc(&[0, 2]).verify(&f.set),
            Err(CertificateError::InsufficientWeight {
                signed: 66,
                required: 67,
                total: 100
            })
        );
    }

    #[test]
    fn duplicate_signer_is_rejected() {
        let f = fixture(&[1, 1, 1, 1]);
        let mut qc = f.qc(&[0, 1, 2]);
        qc.signatures.insert(1, qc.signatures[0]);
        assert_eq!(
            qc.verify(&f.set),
            Err(CertificateError::DuplicateSigner { index: 0 })
        );
        let qc = f.qc(&[1, 0, 2]);
        assert_eq!(
            qc.verify(&f.set),
            Err(CertificateError::UnsortedSigners {
                index: 0,
                previous: 1
            })
        );
    }

    #[test]
    fn unknown_index_is_rejected() {
        let f = fixture(&[1, 1, 1]);
        let mut qc = f.qc(&[0, 1]);
        qc.signatures.push((3, qc.signatures[0].1));
        assert_eq!(
            qc.verify(&f.set),
            Err(CertificateError::UnknownValidator {
                index: 3,
                set_size: 3
            })
        );
    }

    #[test]
    fn signature_from_another_height_is_rejected() {
        let f = fixture(&[1, 1, 1, 1]);
        let mut qc = f.qc(&[0, 1, 2]);
        let other_height = Height::new(11);
        qc.signatures[1].1 = sign_vote(&f.keys[1], &f.symbiote, other_height, &f.block);
        assert_eq!(
            qc.verify(&f.set),
            Err(CertificateError::BadSignature { index: 1 })
        );
    }

    #[test]
    fn signature_for_another_symbiote_or_block_is_rejected() {
        let f = fixture(&[1, 1, 1, 1]);
        let mut qc = f.qc(&[0, 1, 2]);
        qc.signatures[2].1 = sign_vote(
            &f.keys[2],
            &SymbioteId::from_name("other"),
            f.height,
            &f.block,
        );
        assert_eq!(
            qc.verify(&f.set),
            Err(CertificateError::BadSignature { index: 2 })
        );
        let mut qc = f.qc(&[0, 1, 2]);
        qc.block_hash = hash(Domain::BlockHeader, &[b"other block"]);
        assert!(matches!(
            qc.verify(&f.set),
            Err(CertificateError::BadSignature { .. })
        ));
    }

    #[test]
    fn empty_certificate_has_insufficient_weight() {
        let f = fixture(&[5]);
        assert!(matches!(
            f.qc(&[]).verify(&f.set),
            Err(CertificateError::InsufficientWeight { signed: 0, .. })
        ));
        assert!(f.qc(&[0]).verify(&f.set).is_ok());
    }

    #[test]
    fn builder_reports_quorum_and_builds_a_valid_certificate() {
        let f = fixture(&[1, 1, 1, 1]);
        let mut builder = QuorumBuilder::new(f.set.clone(), f.symbiote, f.height, f.block);
        let vote = |i: usize| sign_vote(&f.keys[i], &f.symbiote, f.height, &f.block);
        assert!(!builder.add_vote(&f.keys[2].public(), vote(2)).unwrap());
        assert!(!builder.add_vote(&f.keys[2].public(), vote(2)).unwrap());
        assert_eq!(builder.signed_weight(), 1);
        assert!(builder.build().is_err());
        assert!(!builder.add_vote(&f.keys[0].public(), vote(0)).unwrap());
        assert!(builder.add_vote(&f.keys[3].public(), vote(3)).unwrap());
        let qc = builder.build().unwrap();
        assert_eq!(qc.signers().collect::<Vec<_>>(), vec![0, 2, 3]);
        assert!(qc.verify(&f.set).is_ok());
        // A bad vote and a stranger's vote are refused and change nothing.
        assert_eq!(
            builder.add_vote(&f.keys[1].public(), vote(0)),
            Err(CertificateError::BadSignature { index: 1 })
        );
        let stranger = Keypair::from_seed(&[99; 32]);
        assert!(matches!(
            builder.add_vote(&stranger.public(), vote(0)),
            Err(CertificateError::UnknownKey { .. })
        ));
        assert_eq!(builder.signed_weight(), 3);
    }

    #[test]
    fn canonical_round_trip() {
        let f = fixture(&[1, 1, 1]);
        let qc = f.qc(&[0, 1, 2]);
        let bytes = qc.encode();
        assert_eq!(QuorumCertificate::decode(&bytes).unwrap(), qc);
        let mut trailing = bytes;
        trailing.push(1);
        assert!(QuorumCertificate::decode(&trailing).is_err());
        let json = serde_json::to_string(&qc).unwrap();
        assert_eq!(
            serde_json::from_str::<QuorumCertificate>(&json).unwrap(),
            qc
        );
    }
}

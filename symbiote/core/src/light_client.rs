//! A light client: follows a symbiote's headers from a trusted starting point by checking each
//! header's link to the previous one and its quorum certificate, across validator-set changes,
//! without executing transactions.
//!
//! Trust rule: the client trusts the validator set that the current head declared as next
//! (`next_validator_set_hash`). A header is accepted only if it extends the head by exactly one
//! block, names that set as its signers, and carries a quorum of that set's signatures. When a
//! header declares a different next set, the caller must supply that set; it becomes the trusted
//! set for the header after.

use thiserror::Error;

use crate::block::{BlockError, Header, check_certificate_matches};
use crate::certificate::{CertificateError, QuorumCertificate};
use crate::hash::Hash;
use crate::types::{Height, SymbioteId};
use crate::validators::ValidatorSet;

/// Why a header was not accepted. The client's state is unchanged after any error.
///
/// Every variant is about the data: offering the same header again fails again.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LightClientError {
    /// The trusted set does not hash to the starting header's `next_validator_set_hash`.
    #[error("trusted set hashes to {supplied}, the trusted header names {declared} as next set")]
    TrustedSetMismatch {
        /// The hash the header declares.
        declared: Hash,
        /// The hash of the supplied set.
        supplied: Hash,
    },
    /// The header belongs to another symbiote.
    #[error("header belongs to symbiote {found}, client follows {expected}")]
    WrongSymbiote {
        /// The symbiote the client follows.
        expected: SymbioteId,
        /// The header's symbiote.
        found: SymbioteId,
    },
    /// The header is not at the height after the head (skipped or repeated heights).
    #[error("header at height {found} does not directly follow the head at height {head}")]
    WrongHeight {
        /// The head's height; the header must be at the height after it.
        head: Height,
        /// The header's height.
        found: Height,
    },
    /// The header's parent is not the head.
    #[error("header's parent is {found}, head is {expected}")]
    WrongParent {
        /// The head's hash.
        expected: Hash,
        /// The header's parent.
        found: Hash,
    },
    /// The header is signed by another set than the one the head declared.
    #[error("header names signing set {found}, head declared {expected}")]
    WrongValidatorSet {
        /// The set hash the head declared as next.
        expected: Hash,
        /// The header's `validator_set_hash`.
        found: Hash,
    },
    /// The header changes the validator set but the new set was not supplied.
    #[error("header changes the validator set to {declared}, but the new set was not supplied")]
    MissingNextSet {
        /// The header's `next_validator_set_hash`.
        declared: Hash,
    },
    /// The supplied next set is not the one the header declares.
    #[error("supplied next set hashes to {supplied}, header declares {declared}")]
    NextSetMismatch {
        /// The header's `next_validator_set_hash`.
        declared: Hash,
        /// The hash of the supplied set.
        supplied: Hash,
    },
    /// The header or its certificate fails a block-level check (version, certificate for
    /// another block).
    #[error("invalid header: {0}")]
    Header(#[from] BlockError),
    /// The certificate does not verify under the trusted set.
    #[error("invalid certificate: {0}")]
    Certificate(#[from] CertificateError),
}

/// The state of a light client: the last accepted header and the set that signs the next.
#[derive(Clone, Debug)]
pub struct LightClient {
    /// The symbiote followed.
    symbiote: SymbioteId,
    /// The set that must sign the header after `head`: the one `head` declared as next.
    trusted: ValidatorSet,
    /// The last accepted header.
    head: Header,
}

impl LightClient {
    /// Starts from a header trusted out of band (genesis, or a checkpoint) and the set it
    /// declares as next, i.e. the set that signs the header after it. For a genesis header
    /// that does not change the set, that is the genesis set.
    pub fn new(
        trusted_header: Header,
        trusted_set: ValidatorSet,
    ) -> Result<Self, LightClientError> {
        let supplied = trusted_set.hash();
        if supplied != trusted_header.next_validator_set_hash {
            return Err(LightClientError::TrustedSetMismatch {
                declared: trusted_header.next_validator_set_hash,
                supplied,
            });
        }
        Ok(Self {
            symbiote: trusted_header.symbiote,
            trusted: trusted_set,
            head: trusted_header,
        })
    }

    /// The symbiote followed.
    pub fn symbiote(&self) -> SymbioteId {
        self.symbiote
    }

    /// The last accepted header.
    pub fn head(&self) -> &Header {
        &self.head
    }

    /// The set that must sign the next header.
    pub fn trusted_set(&self) -> &ValidatorSet {
        &self.trusted
    }

    /// Accepts `header` as the new head if it extends the head by one block and `certificate`
    /// finalizes it under the trusted set. If the header declares a new next set, `next_set`
    /// must be that set. On error nothing changes.
    pub fn verify_next(
        &mut self,
        header: &Header,
        certificate: &QuorumCertificate,
        next_set: Option<&ValidatorSet>,
    ) -> Result<(), LightClientError> {
        header.check_version()?;
        if header.symbiote != self.symbiote {
            return Err(LightClientError::WrongSymbiote {
                expected: self.symbiote,
                found: header.symbiote,
            });
        }
        if Some(header.height) != self.head.height.next() {
            return Err(LightClientError::WrongHeight {
                head: self.head.height,
                found: header.height,
            });
        }
        let head_hash = self.head.hash();
        if header.parent != head_hash {
            return Err(LightClientError::WrongParent {
                expected: head_hash,
                found: header.parent,
            });
        }
        if header.validator_set_hash != self.head.next_validator_set_hash {
            return Err(LightClientError::WrongValidatorSet {
                expected: self.head.next_validator_set_hash,
                found: header.validator_set_hash,
            });
        }
        let new_trusted = self.next_trusted_set(header, next_set)?;
        check_certificate_matches(header, certificate)?;
        certificate.verify(&self.trusted)?;
        if let Some(set) = new_trusted {
            self.trusted = set;
        }
        self.head = header.clone();
        Ok(())
    }

    /// The set to trust after `header`, if it differs from the current one.
    fn next_trusted_set(
        &self,
        header: &Header,
        next_set: Option<&ValidatorSet>,
    ) -> Result<Option<ValidatorSet>, LightClientError> {
        let declared = header.next_validator_set_hash;
        if let Some(set) = next_set {
            let supplied = set.hash();
            if supplied != declared {
                return Err(LightClientError::NextSetMismatch { declared, supplied });
            }
        }
        // `header.validator_set_hash` equals the trusted set's hash (checked by the caller), so
        // comparing with it avoids hashing the trusted set again.
        if declared == header.validator_set_hash {
            return Ok(None);
        }
        match next_set {
            Some(set) => Ok(Some(set.clone())),
            None => Err(LightClientError::MissingNextSet { declared }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Keypair;
    use crate::test_support::{certify, equal_set, header, keys};

    /// A chain under construction: the client under test follows it.
    struct Chain {
        symbiote: SymbioteId,
        head: Header,
    }

    impl Chain {
        fn genesis(set: &ValidatorSet) -> Self {
            let symbiote = SymbioteId::from_name("light");
            Self {
                symbiote,
                head: header(symbiote, 0, Hash::default(), set, set),
            }
        }

        /// The next header, signed by `set` and declaring `next` as the next set.
        fn next(&mut self, set: &ValidatorSet, next: &ValidatorSet) -> Header {
            let h = header(
                self.symbiote,
                self.head.height.get() + 1,
                self.head.hash(),
                set,
                next,
            );
            self.head = h.clone();
            h
        }
    }

    fn signed(h: &Header, set: &ValidatorSet, signers: &[Keypair]) -> QuorumCertificate {
        certify(h, set, signers)
    }

    #[test]
    fn follows_headers_across_validator_set_changes() {
        let (a_keys, b_keys, c_keys) = (keys(1, 4), keys(20, 3), keys(40, 7));
        let (a, b, c) = (equal_set(&a_keys), equal_set(&b_keys), equal_set(&c_keys));
        let mut chain = Chain::genesis(&a);
        let mut client = LightClient::new(chain.head.clone(), a.clone()).unwrap();

        let h1 = chain.next(&a, &a);
        client
            .verify_next(&h1, &signed(&h1, &a, &a_keys), None)
            .unwrap();
        // h2 is signed by A and hands over to B.
        let h2 = chain.next(&a, &b);
        client
            .verify_next(&h2, &signed(&h2, &a, &a_keys), Some(&b))
            .unwrap();
        assert_eq!(client.trusted_set(), &b);
        let h3 = chain.next(&b, &c);
        client
            .verify_next(&h3, &signed(&h3, &b, &b_keys), Some(&c))
            .unwrap();
        let h4 = chain.next(&c, &c);
        // A quorum of C: 5 of 7.
        client
            .verify_next(&h4, &signed(&h4, &c, &c_keys[..5]), Some(&c))
            .unwrap();
        assert_eq!(client.head(), &h4);
        assert_eq!(client.trusted_set(), &c);
    }

    #[test]
    fn old_set_cannot_sign_after_a_change() {
        let (a_keys, b_keys) = (keys(1, 4), keys(20, 4));
        let (a, b) = (equal_set(&a_keys), equal_set(&b_keys));
        let mut chain = Chain::genesis(&a);
        let mut client = LightClient::new(chain.head.clone(), a.clone()).unwrap();
        let h1 = chain.next(&a, &b);
        client
            .verify_next(&h1, &signed(&h1, &a, &a_keys), Some(&b))
            .unwrap();
        // A forged h2 that still names A as signer.
        let forged = header(chain.symbiote, 2, h1.hash(), &a, &a);
        let err = client
            .verify_next(&forged, &signed(&forged, &a, &a_keys), None)
            .unwrap_err();
        assert!(matches!(err, LightClientError::WrongValidatorSet { .. }));
        // The same header naming B but signed by A's keys (indices of B): signatures fail.
        let h2 = chain.next(&b, &b);
        let mut qc = signed(&h2, &b, &b_keys);
        let by_a = signed(&h2, &a, &a_keys);
        for (slot, (_, sig)) in qc.signatures.iter_mut().zip(by_a.signatures) {
            slot.1 = sig;
        }
        assert!(matches!(
            client.verify_next(&h2, &qc, None),
            Err(LightClientError::Certificate(
                CertificateError::BadSignature { .. }
            ))
        ));
        client
            .verify_next(&h2, &signed(&h2, &b, &b_keys), None)
            .unwrap();
    }

    #[test]
    fn rejects_wrong_parent_and_skipped_height() {
        let a_keys = keys(1, 4);
        let a = equal_set(&a_keys);
        let mut chain = Chain::genesis(&a);
        let mut client = LightClient::new(chain.head.clone(), a.clone()).unwrap();
        let wrong_parent = header(chain.symbiote, 1, Hash::default(), &a, &a);
        assert!(matches!(
            client.verify_next(&wrong_parent, &signed(&wrong_parent, &a, &a_keys), None),
            Err(LightClientError::WrongParent { .. })
        ));
        let h1 = chain.next(&a, &a);
        let h2 = chain.next(&a, &a);
        assert!(matches!(
            client.verify_next(&h2, &signed(&h2, &a, &a_keys), None),
            Err(LightClientError::WrongHeight { .. })
        ));
        client
            .verify_next(&h1, &signed(&h1, &a, &a_keys), None)
            .unwrap();
        assert!(matches!(
            client.verify_next(&h1, &signed(&h1, &a, &a_keys), None),
            Err(LightClientError::WrongHeight { .. })
        ));
        client
            .verify_next(&h2, &signed(&h2, &a, &a_keys), None)
            .unwrap();
    }

    #[test]
    fn rejects_forged_and_mismatched_certificates() {
        let a_keys = keys(1, 4);
        let a = equal_set(&a_keys);
        let mut chain = Chain::genesis(&a);
        let mut client = LightClient::new(chain.head.clone(), a.clone()).unwrap();
        let h1 = chain.next(&a, &a);
        // Signed by strangers claiming A's indices.
        let strangers = keys(100, 4);
        let mut forged = signed(&h1, &a, &a_keys);
        let by_strangers = signed(&h1, &equal_set(&strangers), &strangers);
        for (slot, (_, sig)) in forged.signatures.iter_mut().zip(by_strangers.signatures) {
            slot.1 = sig;
        }
        assert!(matches!(
            client.verify_next(&h1, &forged, None),
            Err(LightClientError::Certificate(_))
        ));
        // Too few signers.
        assert!(matches!(
            client.verify_next(&h1, &signed(&h1, &a, &a_keys[..2]), None),
            Err(LightClientError::Certificate(
                CertificateError::InsufficientWeight { .. }
            ))
        ));
        // A valid certificate of another header.
        let other = header(chain.symbiote, 1, h1.parent, &a, &a);
        let mut other = other;
        other.state_root = Hash([1; 32]);
        assert!(matches!(
            client.verify_next(&h1, &signed(&other, &a, &a_keys), None),
            Err(LightClientError::Header(
                BlockError::CertificateForAnotherBlock { .. }
            ))
        ));
        assert_eq!(client.head().height, Height::new(0));
        client
            .verify_next(&h1, &signed(&h1, &a, &a_keys), None)
            .unwrap();
    }

    #[test]
    fn rejects_set_change_without_the_new_set_or_with_another_set() {
        let (a_keys, b_keys) = (keys(1, 4), keys(20, 4));
        let (a, b) = (equal_set(&a_keys), equal_set(&b_keys));
        let other = equal_set(&keys(60, 4));
        let mut chain = Chain::genesis(&a);
        let mut client = LightClient::new(chain.head.clone(), a.clone()).unwrap();
        let h1 = chain.next(&a, &b);
        let qc = signed(&h1, &a, &a_keys);
        assert!(matches!(
            client.verify_next(&h1, &qc, None),
            Err(LightClientError::MissingNextSet { .. })
        ));
        assert!(matches!(
            client.verify_next(&h1, &qc, Some(&other)),
            Err(LightClientError::NextSetMismatch { .. })
        ));
        assert_eq!(client.trusted_set(), &a);
        client.verify_next(&h1, &qc, Some(&b)).unwrap();
        assert_eq!(client.trusted_set(), &b);
    }

    #[test]
    fn rejects_headers_of_another_symbiote_and_a_mismatched_start() {
        let a_keys = keys(1, 4);
        let a = equal_set(&a_keys);
        let chain = Chain::genesis(&a);
        assert!(matches!(
            LightClient::new(chain.head.clone(), equal_set(&keys(9, 2))),
            Err(LightClientError::TrustedSetMismatch { .. })
        ));
        let mut client = LightClient::new(chain.head.clone(), a.clone()).unwrap();
        let foreign = header(SymbioteId::from_name("x"), 1, chain.head.hash(), &a, &a);
        assert!(matches!(
            client.verify_next(&foreign, &signed(&foreign, &a, &a_keys), None),
            Err(LightClientError::WrongSymbiote { .. })
        ));
    }
}

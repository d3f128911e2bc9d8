//! Commitments (a contiguous range of finalized blocks of one symbiote) and aggregates (many
//! commitments, of this and other symbiotes, under one root that is written to hostchains).
//!
//! Chain of proof: block hash -> commitment's `blocks_root` -> commitment hash -> aggregate
//! root -> hostchain transaction. The proof types for the first three links live in
//! [`crate::proof`] and are re-exported here.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::certificate::{CertificateError, QC_MAX_BORSH_LEN, QuorumCertificate};
use crate::codec::{Canonical, invalid_data};
use crate::hash::{Domain, Hash, hash};
use crate::merkle::{MerkleError, merkle_root, prove};
use crate::types::{Height, SymbioteId};
use crate::validators::ValidatorSet;

pub use crate::proof::{AnchorProof, BlockProof, CommitmentProof, ProofError};

/// The most commitments one aggregate may list; bounds the work of decoding one.
pub const MAX_AGGREGATE_COMMITMENTS: usize = 65_536;

/// Why a commitment or aggregate could not be built or is inconsistent.
///
/// Every variant is about the data: building it again from the same inputs fails again.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommitmentError {
    /// A commitment covers at least one block.
    #[error("a commitment needs at least one block hash")]
    EmptyRange,
    /// `from + count - 1` does not fit a height.
    #[error("a range of {count} blocks from height {from} overflows")]
    HeightOverflow {
        /// The first height.
        from: Height,
        /// The number of blocks.
        count: usize,
    },
    /// `from` lies after `to`.
    #[error("range starts at {from} after its end {to}")]
    InvertedRange {
        /// The first height.
        from: Height,
        /// The last height.
        to: Height,
    },
    /// The number of block hashes does not match the committed range.
    #[error("range {from}..={to} needs {expected} block hashes, got {found}")]
    WrongBlockCount {
        /// The first height.
        from: Height,
        /// The last height.
        to: Height,
        /// The number of blocks in the range.
        expected: u64,
        /// The number of hashes given.
        found: usize,
    },
    /// The certificate is for another symbiote.
    #[error("certificate is for symbiote {found}, commitment is for {expected}")]
    CertificateForAnotherSymbiote {
        /// The commitment's symbiote.
        expected: SymbioteId,
        /// The certificate's symbiote.
        found: SymbioteId,
    },
    /// The certificate is not for the last block of the range.
    #[error("certificate is for height {found}, the range ends at {expected}")]
    CertificateForAnotherHeight {
        /// The last height of the range.
        expected: Height,
        /// The certificate's height.
        found: Height,
    },
    /// The certificate signs another block than the last of the range.
    #[error("certificate signs block {found}, the range ends with block {expected}")]
    CertificateForAnotherBlock {
        /// The last block hash of the range.
        expected: Hash,
        /// The certificate's block hash.
        found: Hash,
    },
    /// The height is not in the committed range.
    #[error("height {height} is outside the committed range {from}..={to}")]
    HeightOutsideRange {
        /// The height asked for.
        height: Height,
        /// The first height.
        from: Height,
        /// The last height.
        to: Height,
    },
    /// The block hashes given to build a proof are not the committed ones.
    #[error("the block hashes do not match the commitment's root: {0}")]
    HashesDoNotMatchRoot(MerkleError),
    /// The supplied validator set is not the one the commitment names.
    #[error("commitment names validator set {expected}, supplied set hashes to {found}")]
    WrongValidatorSet {
        /// The commitment's `validator_set_hash`.
        expected: Hash,
        /// The hash of the supplied set.
        found: Hash,
    },
    /// The certificate does not verify under the supplied set.
    #[error("invalid certificate: {0}")]
    Certificate(#[from] CertificateError),
    /// The aggregate does not list this commitment.
    #[error("commitment {commitment} is not in the aggregate")]
    NotInAggregate {
        /// The commitment's hash.
        commitment: Hash,
    },
    /// More commitments than [`MAX_AGGREGATE_COMMITMENTS`].
    #[error("{count} commitments exceed the aggregate maximum of {max}")]
    TooManyCommitments {
        /// The number given.
        count: usize,
        /// The maximum.
        max: usize,
    },
}

/// A contiguous range `from..=to` of finalized blocks of one symbiote.
///
/// Its hash covers every field, the certificate included: the anchored value commits to the
/// signatures that finalized the range, and the same range with another set of signatures is
/// another commitment.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, Serialize, Deserialize)]
pub struct Commitment {
    /// The symbiote whose blocks are committed.
    pub symbiote: SymbioteId,
    /// The first committed height.
    pub from: Height,
    /// The last committed height.
    pub to: Height,
    /// The Merkle root over the block hashes of `from..=to`, in height order.
    pub blocks_root: Hash,
    /// The hash of the validator set whose quorum signed block `to`.
    pub validator_set_hash: Hash,
    /// The quorum certificate of block `to`.
    pub certificate: QuorumCertificate,
}

impl Commitment {
    /// Commits to `block_hashes`, the hashes of the blocks at heights `from`, `from + 1`, ...
    /// in order, the last of which `certificate` finalizes.
    pub fn build(
        symbiote: SymbioteId,
        from: Height,
        block_hashes: &[Hash],
        validator_set_hash: Hash,
        certificate: QuorumCertificate,
    ) -> Result<Commitment, CommitmentError> {
        let last = block_hashes.last().ok_or(CommitmentError::EmptyRange)?;
        let count = block_hashes.len();
        let to = u64::try_from(count - 1)
            .ok()
            .and_then(|span| from.checked_add(span))
            .ok_or(CommitmentError::HeightOverflow { from, count })?;
        if certificate.block_hash != *last {
            return Err(CommitmentError::CertificateForAnotherBlock {
                expected: *last,
                found: certificate.block_hash,
            });
        }
        let commitment = Commitment {
            symbiote,
            from,
            to,
            blocks_root: merkle_root(block_hashes),
            validator_set_hash,
            certificate,
        };
        commitment.check_consistency()?;
        Ok(commitment)
    }

    /// Checks what can be checked without block hashes or a validator set: the range is not
    /// inverted and the certificate is for this symbiote at height `to`.
    pub fn check_consistency(&self) -> Result<(), CommitmentError> {
        if self.from > self.to {
            return Err(CommitmentError::InvertedRange {
                from: self.from,
                to: self.to,
            });
        }
        if self.certificate.symbiote != self.symbiote {
            return Err(CommitmentError::CertificateForAnotherSymbiote {
                expected: self.symbiote,
                found: self.certificate.symbiote,
            });
        }
        if self.certificate.height != self.to {
            return Err(CommitmentError::CertificateForAnotherHeight {
                expected: self.to,
                found: self.certificate.height,
            });
        }
        Ok(())
    }

    /// Checks that `set` is the committed validator set and that the certificate of block
    /// `to` carries a quorum of it.
    pub fn verify(&self, set: &ValidatorSet) -> Result<(), CommitmentError> {
        self.check_consistency()?;
        let found = set.hash();
        if found != self.validator_set_hash {
            return Err(CommitmentError::WrongValidatorSet {
                expected: self.validator_set_hash,
                found,
            });
        }
        self.certificate.verify(set)?;
        Ok(())
    }

    /// The number of committed blocks (`to - from + 1`), or `None` for an inverted range or
    /// one of all 2^64 heights.
    pub fn block_count(&self) -> Option<u64> {
        self.to.since(self.from)?.checked_add(1)
    }

    /// The commitment's identity: `Domain::Commitment` over its canonical encoding. What an
    /// aggregate lists.
    pub fn hash(&self) -> Hash {
        hash(Domain::Commitment, &[&self.encode()])
    }

    /// The proof that the block at `height` is committed, from the committed `block_hashes`.
    pub fn prove_block(
        &self,
        block_hashes: &[Hash],
        height: Height,
    ) -> Result<BlockProof, CommitmentError> {
        let out_of_range = CommitmentError::HeightOutsideRange {
            height,
            from: self.from,
            to: self.to,
        };
        if height > self.to {
            return Err(out_of_range);
        }
        let index = height.since(self.from).ok_or(out_of_range)?;
        let expected = self.block_count().unwrap_or(u64::MAX);
        if u64::try_from(block_hashes.len()).ok() != Some(expected) {
            return Err(CommitmentError::WrongBlockCount {
                from: self.from,
                to: self.to,
                expected,
                found: block_hashes.len(),
            });
        }
        let in_commitment =
            prove(block_hashes, index).map_err(CommitmentError::HashesDoNotMatchRoot)?;
        let block_hash = usize::try_from(index)
            .ok()
            .and_then(|i| block_hashes.get(i))
            .copied()
            .unwrap_or_default();
        in_commitment
            .verify(&block_hash, &self.blocks_root)
            .map_err(CommitmentError::HashesDoNotMatchRoot)?;
        Ok(BlockProof {
            height,
            block_hash,
            in_commitment,
        })
    }
}

impl BorshDeserialize for Commitment {
    /// Accepts only consistent commitments (see [`Commitment::check_consistency`]).
    fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
        let commitment = Commitment {
            symbiote: SymbioteId::deserialize_reader(reader)?,
            from: Height::deserialize_reader(reader)?,
            to: Height::deserialize_reader(reader)?,
            blocks_root: Hash::deserialize_reader(reader)?,
            validator_set_hash: Hash::deserialize_reader(reader)?,
            certificate: QuorumCertificate::deserialize_reader(reader)?,
        };
        commitment.check_consistency().map_err(invalid_data)?;
        Ok(commitment)
    }
}

/// The largest borsh encoding of a commitment (without the version byte).
pub const COMMITMENT_MAX_BORSH_LEN: usize = 32 + 8 + 8 + 32 + 32 + QC_MAX_BORSH_LEN;

impl Canonical for Commitment {
    const KIND: &'static str = "commitment";
    const MAX_ENCODED_LEN: usize = 1 + COMMITMENT_MAX_BORSH_LEN;
}

/// The aggregate root for the Merkle root over an aggregate's commitment hashes: a value of
/// its own domain, so that an aggregate root can never be mistaken for a commitment's
/// `blocks_root` or any other tree's root.
pub fn aggregate_root_of(tree_root: &Hash) -> Hash {
    hash(Domain::Aggregate, &[tree_root.as_bytes()])
}

/// Commitments of one or several symbiotes under one root, so that one hostchain transaction
/// anchors all of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, Serialize, Deserialize)]
pub struct Aggregate {
    /// Commitment hashes, own and foreign symbiotes, in the order given.
    pub commitments: Vec<Hash>,
}

impl Aggregate {
    /// The value anchored in hostchains: `hash(Aggregate, merkle_root(commitments))`.
    pub fn root(&self) -> Hash {
        aggregate_root_of(&merkle_root(&self.commitments))
    }

    /// The proof that `commitment` is in this aggregate (its first occurrence).
    pub fn prove(&self, commitment: &Commitment) -> Result<CommitmentProof, CommitmentError> {
        let commitment_hash = commitment.hash();
        let position = self
            .commitments
            .iter()
            .position(|c| *c == commitment_hash)
            .ok_or(CommitmentError::NotInAggregate {
                commitment: commitment_hash,
            })?;
        let index = u64::try_from(position).map_err(|_| CommitmentError::NotInAggregate {
            commitment: commitment_hash,
        })?;
        let in_aggregate =
            prove(&self.commitments, index).map_err(CommitmentError::HashesDoNotMatchRoot)?;
        Ok(CommitmentProof {
            commitment: commitment.clone(),
            in_aggregate,
        })
    }
}

impl BorshDeserialize for Aggregate {
    /// Accepts at most [`MAX_AGGREGATE_COMMITMENTS`] commitments.
    fn deserialize_reader<R: std::io::Read>(reader: &mut R) -> std::io::Result<Self> {
        let commitments = Vec::<Hash>::deserialize_reader(reader)?;
        if commitments.len() > MAX_AGGREGATE_COMMITMENTS {
            return Err(invalid_data(CommitmentError::TooManyCommitments {
                count: commitments.len(),
                max: MAX_AGGREGATE_COMMITMENTS,
            }));
        }
        Ok(Self { commitments })
    }
}

impl Canonical for Aggregate {
    const KIND: &'static str = "aggregate";
    const MAX_ENCODED_LEN: usize = 1 + 4 + MAX_AGGREGATE_COMMITMENTS * 32;
}

#[cfg(test)]
#[path = "commitment_tests.rs"]
mod tests;

//! Proofs that a block is anchored: block hash -> commitment -> aggregate root.
//!
//! An [`AnchorProof`] is self-contained: verifying it needs only the proof and the aggregate
//! root read from a hostchain. It proves that the block hash was committed; whether the
//! commitment's certificate carries a quorum of the right validators is a separate check that
//! needs the validator set ([`crate::commitment::Commitment::verify`]).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::codec::Canonical;
use crate::commitment::{COMMITMENT_MAX_BORSH_LEN, Commitment, CommitmentError, aggregate_root_of};
use crate::hash::Hash;
use crate::merkle::{MerkleError, MerkleProof, PROOF_MAX_BORSH_LEN};
use crate::types::Height;

/// Which step of an anchor proof failed.
///
/// Every variant is about the proof: verifying it again fails the same way.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProofError {
    /// The commitment in the proof is inconsistent in itself.
    #[error("invalid commitment: {0}")]
    InvalidCommitment(CommitmentError),
    /// The block's height lies outside the commitment's range.
    #[error("block height {height} is outside the commitment's range {from}..={to}")]
    BlockOutsideCommitment {
        /// The block's height.
        height: Height,
        /// The commitment's first height.
        from: Height,
        /// The commitment's last height.
        to: Height,
    },
    /// The block's Merkle position is not `height - from`.
    #[error("block proof is for position {found}, height {height} is position {expected}")]
    WrongBlockPosition {
        /// The block's height.
        height: Height,
        /// `height - from`.
        expected: u64,
        /// The index in the block proof.
        found: u64,
    },
    /// The block proof's tree is not the size of the commitment's range.
    #[error("block proof is for {found} leaves, the commitment covers {expected} blocks")]
    WrongBlockCount {
        /// The number of blocks in the commitment.
        expected: u64,
        /// The leaf count in the block proof.
        found: u64,
    },
    /// The block is the last of the range but not the block the certificate signs.
    #[error("block {block_hash} is at the last height but the certificate signs {certified}")]
    LastBlockNotCertified {
        /// The block hash in the proof.
        block_hash: Hash,
        /// The block hash in the commitment's certificate.
        certified: Hash,
    },
    /// Step 1 failed: the block hash does not lead to the commitment's `blocks_root`.
    #[error("block is not in the commitment: {0}")]
    BlockNotInCommitment(MerkleError),
    /// Step 2 failed: the commitment's hash does not lead to the proof's aggregate root.
    #[error("commitment is not in the aggregate: {0}")]
    CommitmentNotInAggregate(MerkleError),
    /// Step 3 failed: the proof's aggregate root is not the trusted one.
    #[error("proof is for aggregate root {found}, trusted root is {trusted}")]
    AggregateRootMismatch {
        /// The root read from the hostchain.
        trusted: Hash,
        /// The root in the proof.
        found: Hash,
    },
}

/// The proof that a block hash is at its height in a commitment's range.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct BlockProof {
    /// The block's height.
    pub height: Height,
    /// The block's hash (its header's hash).
    pub block_hash: Hash,
    /// The path from the block hash to the commitment's `blocks_root`; its index is
    /// `height - from`.
    pub in_commitment: MerkleProof,
}

impl BlockProof {
    /// Checks that this block is committed by `commitment` at its height.
    pub fn verify(&self, commitment: &Commitment) -> Result<(), ProofError> {
        commitment
            .check_consistency()
            .map_err(ProofError::InvalidCommitment)?;
        let (from, to) = (commitment.from, commitment.to);
        let outside = ProofError::BlockOutsideCommitment {
            height: self.height,
            from,
            to,
        };
        if self.height > to {
            return Err(outside);
        }
        let expected_index = self.height.since(from).ok_or(outside)?;
        if self.in_commitment.index != expected_index {
            return Err(ProofError::WrongBlockPosition {
                height: self.height,
                expected: expected_index,
                found: self.in_commitment.index,
            });
        }
        // Consistency guarantees from <= to; a range of all 2^64 heights cannot be proven.
        let expected_count = commitment.block_count().unwrap_or(0);
        if self.in_commitment.leaf_count != expected_count {
            return Err(ProofError::WrongBlockCount {
                expected: expected_count,
                found: self.in_commitment.leaf_count,
            });
        }
        if self.height == to && self.block_hash != commitment.certificate.block_hash {
            return Err(ProofError::LastBlockNotCertified {
                block_hash: self.block_hash,
                certified: commitment.certificate.block_hash,
            });
        }
        self.in_commitment
            .verify(&self.block_hash, &commitment.blocks_root)
            .map_err(ProofError::BlockNotInCommitment)
    }
}

impl Canonical for BlockProof {
    const KIND: &'static str = "block proof";
    const MAX_ENCODED_LEN: usize = 1 + 8 + 32 + PROOF_MAX_BORSH_LEN;
}

/// The proof that a commitment is listed in an aggregate.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CommitmentProof {
    /// The commitment, in full: its hash is the leaf.
    pub commitment: Commitment,
    /// The path from the commitment's hash to the aggregate's tree root.
    pub in_aggregate: MerkleProof,
}

impl CommitmentProof {
    /// Checks that the commitment is listed in the aggregate whose root is `aggregate_root`.
    pub fn verify(&self, aggregate_root: &Hash) -> Result<(), ProofError> {
        let tree_root = self
            .in_aggregate
            .root_for(&self.commitment.hash())
            .map_err(ProofError::CommitmentNotInAggregate)?;
        let computed = aggregate_root_of(&tree_root);
        if computed != *aggregate_root {
            return Err(ProofError::CommitmentNotInAggregate(
                MerkleError::RootMismatch {
                    expected: *aggregate_root,
                    computed,
                },
            ));
        }
        Ok(())
    }
}

impl Canonical for CommitmentProof {
    const KIND: &'static str = "commitment proof";
    const MAX_ENCODED_LEN: usize = 1 + COMMITMENT_MAX_BORSH_LEN + PROOF_MAX_BORSH_LEN;
}

/// The proof that a block is anchored under an aggregate root.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AnchorProof {
    /// Block hash -> commitment.
    pub block: BlockProof,
    /// Commitment -> aggregate.
    pub commitment: CommitmentProof,
    /// The aggregate root the proof leads to; the value to look for on the hostchain.
    pub aggregate_root: Hash,
}

impl AnchorProof {
    /// Checks every link from the block hash to `trusted_aggregate_root` (the root read from
    /// the hostchain), naming the first that fails.
    pub fn verify(&self, trusted_aggregate_root: &Hash) -> Result<(), ProofError> {
        self.block.verify(&self.commitment.commitment)?;
        self.commitment.verify(&self.aggregate_root)?;
        if self.aggregate_root != *trusted_aggregate_root {
            return Err(ProofError::AggregateRootMismatch {
                trusted: *trusted_aggregate_root,
                found: self.aggregate_root,
            });
        }
        Ok(())
    }
}

impl Canonical for AnchorProof {
    const KIND: &'static str = "anchor proof";
    const MAX_ENCODED_LEN: usize =
        BlockProof::MAX_ENCODED_LEN - 1 + CommitmentProof::MAX_ENCODED_LEN - 1 + 32 + 1;
}

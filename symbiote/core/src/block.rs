//! Blocks, their headers, and finalized blocks (a block with the quorum certificate that
//! finalizes it).
//!
//! A block is generic over its transaction type so that this module knows nothing of the
//! state machine: any type with a borsh encoding can be carried, and the transaction root
//! commits to each transaction's borsh bytes.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::certificate::{CertificateError, QC_MAX_BORSH_LEN, QuorumCertificate};
use crate::codec::{Canonical, CodecError, Versioned};
use crate::crypto::PublicKey;
use crate::hash::{Domain, Hash, hash};
use crate::merkle::merkle_root;
use crate::types::{Height, SymbioteId, TimestampMs};
use crate::validators::ValidatorSet;

/// The header version this code produces and accepts.
///
/// Persisted format: a new version needs a decoder for the old one and a new rule here.
pub const HEADER_VERSION: u16 = 1;

/// The largest canonical encoding of a block: bounds the work of decoding one from a peer.
pub const MAX_BLOCK_LEN: usize = 4 * 1024 * 1024;

/// Why a block or finalized block was rejected.
///
/// Every variant is about the data: checking it again gives the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BlockError {
    /// The header's version is not [`HEADER_VERSION`].
    #[error("unsupported header version {found} (expected {expected})")]
    UnsupportedVersion {
        /// The version in the header.
        found: u16,
        /// The version this code accepts.
        expected: u16,
    },
    /// The certificate signs another block than this header.
    #[error("certificate is for block {certified}, header hashes to {header}")]
    CertificateForAnotherBlock {
        /// The header's hash.
        header: Hash,
        /// The block hash in the certificate.
        certified: Hash,
    },
    /// The certificate's height differs from the header's.
    #[error("certificate is for height {certified}, header is at height {header}")]
    CertificateForAnotherHeight {
        /// The header's height.
        header: Height,
        /// The certificate's height.
        certified: Height,
    },
    /// The certificate's symbiote differs from the header's.
    #[error("certificate is for symbiote {certified}, header belongs to {header}")]
    CertificateForAnotherSymbiote {
        /// The header's symbiote.
        header: SymbioteId,
        /// The certificate's symbiote.
        certified: SymbioteId,
    },
    /// The header names another validator set than the one supplied.
    #[error("header names validator set {header}, the supplied set hashes to {supplied}")]
    WrongValidatorSet {
        /// The `validator_set_hash` in the header.
        header: Hash,
        /// The hash of the supplied set.
        supplied: Hash,
    },
    /// The header's transaction root does not match the transactions.
    #[error("header transaction root {header} does not match the transactions ({computed})")]
    TxRootMismatch {
        /// The root in the header.
        header: Hash,
        /// The root of the block's transactions.
        computed: Hash,
    },
    /// A transaction could not be encoded for hashing.
    #[error("transaction {index} cannot be encoded: {reason}")]
    UnencodableTransaction {
        /// The transaction's position in the block.
        index: usize,
        /// What the serializer objected to.
        reason: String,
    },
    /// The certificate does not verify under the set.
    #[error("invalid certificate: {0}")]
    Certificate(#[from] CertificateError),
}

/// A block header: everything validators sign, through its hash.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Header {
    /// The header format version, [`HEADER_VERSION`].
    pub version: u16,
    /// The symbiote this block belongs to.
    pub symbiote: SymbioteId,
    /// The block's height; genesis is 0.
    pub height: Height,
    /// The hash of the previous block's header; all zeros for genesis.
    pub parent: Hash,
    /// When the proposer built the block.
    pub timestamp: TimestampMs,
    /// The validator that proposed the block.
    pub proposer: PublicKey,
    /// The Merkle root over the block's transaction hashes, see [`tx_root`].
    pub tx_root: Hash,
    /// The state root after applying the block's transactions.
    pub state_root: Hash,
    /// The hash of the validator set that must sign this block.
    pub validator_set_hash: Hash,
    /// The hash of the validator set that signs the next block; equal to
    /// `validator_set_hash` unless this block changes the set.
    pub next_validator_set_hash: Hash,
}

impl Header {
    /// The block hash: `Domain::BlockHeader` over the canonical encoding. What votes sign and
    /// what commitments list.
    pub fn hash(&self) -> Hash {
        hash(Domain::BlockHeader, &[&self.encode()])
    }

    /// Whether this header's version is the one this code accepts.
    pub fn check_version(&self) -> Result<(), BlockError> {
        if self.version != HEADER_VERSION {
            return Err(BlockError::UnsupportedVersion {
                found: self.version,
                expected: HEADER_VERSION,
            });
        }
        Ok(())
    }
}

/// The borsh length of a header: the fields are all fixed-size.
const HEADER_BORSH_LEN: usize = 2 + 32 + 8 + 32 + 8 + 32 + 32 + 32 + 32 + 32;

impl Canonical for Header {
    const KIND: &'static str = "block header";
    const MAX_ENCODED_LEN: usize = 1 + HEADER_BORSH_LEN;
}

/// The hash of one transaction: `Domain::Transaction` over its borsh encoding. These are the
/// leaves of the transaction root.
pub fn transaction_hash<T: BorshSerialize>(tx: &T) -> Result<Hash, CodecError> {
    let mut hasher = blake3::Hasher::new();
    hasher.update(Domain::Transaction.prefix());
    tx.serialize(&mut hasher)
        .map_err(|e| CodecError::Unencodable {
            kind: "transaction",
            reason: e.to_string(),
        })?;
    Ok(Hash(*hasher.finalize().as_bytes()))
}

/// The Merkle root over the hashes of `transactions`, in order.
pub fn tx_root<T: BorshSerialize>(transactions: &[T]) -> Result<Hash, BlockError> {
    let hashes = transactions
        .iter()
        .enumerate()
        .map(|(index, tx)| {
            transaction_hash(tx).map_err(|e| BlockError::UnencodableTransaction {
                index,
                reason: e.to_string(),
            })
        })
        .collect::<Result<Vec<Hash>, BlockError>>()?;
    Ok(merkle_root(&hashes))
}

/// A header and its transactions. Not yet checked against anything: see [`FinalizedBlock`].
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Block<T> {
    /// The header validators sign.
    pub header: Header,
    /// The transactions, in execution order.
    pub transactions: Vec<T>,
}

impl<T: BorshSerialize> Block<T> {
    /// The block hash (the header's hash).
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }

    /// Checks that the header's transaction root matches the transactions.
    pub fn check_tx_root(&self) -> Result<(), BlockError> {
        let computed = tx_root(&self.transactions)?;
        if computed != self.header.tx_root {
            return Err(BlockError::TxRootMismatch {
                header: self.header.tx_root,
                computed,
            });
        }
        Ok(())
    }
}

impl<T: BorshSerialize + BorshDeserialize + Versioned> Canonical for Block<T> {
    const KIND: &'static str = "block";
    const MAX_ENCODED_LEN: usize = MAX_BLOCK_LEN;
    /// A block's layout is its transactions'.
    const VERSION: u8 = T::VERSION;
}

/// A block with the quorum certificate that finalizes it: what a node serves to followers and
/// what the relayer batches into commitments.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct FinalizedBlock<T> {
    /// The block.
    pub block: Block<T>,
    /// Signatures of a quorum of the header's validator set on the header's hash.
    pub certificate: QuorumCertificate,
}

/// A finalized block of the symbiote, with its transactions.
pub type ChainBlock = FinalizedBlock<crate::tx::SignedTransaction>;

impl<T: BorshSerialize> FinalizedBlock<T> {
    /// Checks that `set` is the header's signing set, the certificate signs this very header
    /// (hash, height, symbiote) with a quorum of `set`, and the transactions match the
    /// header. Cheap comparisons run before signatures and transaction hashing.
    ///
    /// It does not check that the block extends a known chain: that is the caller's (or
    /// [`crate::light_client::LightClient`]'s) business.
    pub fn verify(&self, set: &ValidatorSet) -> Result<(), BlockError> {
        let header = &self.block.header;
        header.check_version()?;
        check_certificate_matches(header, &self.certificate)?;
        let supplied = set.hash();
        if header.validator_set_hash != supplied {
            return Err(BlockError::WrongValidatorSet {
                header: header.validator_set_hash,
                supplied,
            });
        }
        self.certificate.verify(set)?;
        self.block.check_tx_root()
    }
}

/// Checks that `certificate` is about `header` (symbiote, height and hash), without checking
/// any signature.
pub fn check_certificate_matches(
    header: &Header,
    certificate: &QuorumCertificate,
) -> Result<(), BlockError> {
    if certificate.symbiote != header.symbiote {
        return Err(BlockError::CertificateForAnotherSymbiote {
            header: header.symbiote,
            certified: certificate.symbiote,
        });
    }
    if certificate.height != header.height {
        return Err(BlockError::CertificateForAnotherHeight {
            header: header.height,
            certified: certificate.height,
        });
    }
    let block_hash = header.hash();
    if certificate.block_hash != block_hash {
        return Err(BlockError::CertificateForAnotherBlock {
            header: block_hash,
            certified: certificate.block_hash,
        });
    }
    Ok(())
}

impl<T: BorshSerialize + BorshDeserialize + Versioned> Canonical for FinalizedBlock<T> {
    const KIND: &'static str = "finalized block";
    const MAX_ENCODED_LEN: usize = MAX_BLOCK_LEN + QC_MAX_BORSH_LEN;
    /// A block's layout is its transactions'.
    const VERSION: u8 = T::VERSION;
}

#[cfg(test)]
#[path = "block_tests.rs"]
mod tests;

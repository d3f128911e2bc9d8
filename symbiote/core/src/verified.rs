//! Reading symbiote state from a node without trusting it.
//!
//! A reader holds a header its light client verified ([`Trusted`]: a height and that header's
//! state root) and asks the node for entries with their proofs. Each proof is checked against
//! the trusted root, and the answer must be for exactly the keys asked, in order, at exactly
//! the trusted height. Anything else is a [`ReadError::Lie`]: the node's answer cannot be true
//! of the chain its validators finalized. The node is only a transport.

use std::collections::BTreeMap;

use crate::block::Header;
use crate::client::{ClientError, NodeClient};
use crate::crypto::PublicKey;
use crate::hash::Hash;
use crate::state::{Entry, Meta, PendingMint, SetHistory, StateKey, WithdrawalOrder};
use crate::tx::DepositId;
use crate::types::{Height, Nonce};
use crate::wire::MAX_PROOF_ENTRIES;

/// The state a reader trusts: that of a header its light client verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trusted {
    /// The header's height.
    pub height: Height,
    /// The header's state root.
    pub state_root: Hash,
}

impl From<&Header> for Trusted {
    fn from(header: &Header) -> Self {
        Trusted {
            height: header.height,
            state_root: header.state_root,
        }
    }
}

/// Why a verified read gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The node could not be asked (unreachable, refused, malformed reply).
    #[error(transparent)]
    Node(#[from] ClientError),
    /// The node's answer is not true of the verified state.
    #[error("the node's answer about {entry} at height {height} is false: {reason}")]
    Lie {
        /// The trusted height asked at.
        height: Height,
        /// The entry (or the request) the answer is about.
        entry: String,
        /// What does not hold.
        reason: String,
    },
}

impl ReadError {
    /// Whether trying again (at the same node or another) can help. A lie can: the next answer
    /// may be honest.
    pub fn is_retryable(&self) -> bool {
        match self {
            ReadError::Node(e) => e.is_retryable(),
            ReadError::Lie { .. } => true,
        }
    }
}

/// A node read through proofs against one trusted state.
#[derive(Clone, Copy, Debug)]
pub struct VerifiedView<'a> {
    node: &'a NodeClient,
    at: Trusted,
}

impl<'a> VerifiedView<'a> {
    /// Reads `node` at `at`.
    pub fn new(node: &'a NodeClient, at: Trusted) -> Self {
        VerifiedView { node, at }
    }

    /// The trusted state read.
    pub fn at(&self) -> Trusted {
        self.at
    }

    fn lie(&self, entry: impl ToString, reason: impl Into<String>) -> ReadError {
        ReadError::Lie {
            height: self.at.height,
            entry: entry.to_string(),
            reason: reason.into(),
        }
    }

    /// The entries `keys` (`None` where the state has none), each proven against the trusted
    /// state root, in the order asked.
    pub async fn entries(&self, keys: &[StateKey]) -> Result<Vec<Option<Entry>>, ReadError> {
        let mut out = Vec::with_capacity(keys.len());
        for page in keys.chunks(MAX_PROOF_ENTRIES) {
            let reply = self.node.state_proofs(Some(self.at.height), page).await?;
            if reply.height != self.at.height {
                return Err(self.lie(
                    "a state proof request",
                    format!("answered at height {} instead", reply.height),
                ));
            }
            if reply.proofs.len() != page.len() {
                return Err(self.lie(
                    "a state proof request",
                    format!(
                        "{} proofs answered for {} entries asked",
                        reply.proofs.len(),
                        page.len()
                    ),
                ));
            }
            for (key, proof) in page.iter().zip(&reply.proofs) {
                if &proof.key != key {
                    return Err(self.lie(key, format!("answered with a proof of {}", proof.key)));
                }
                let entry = proof
                    .verify(&self.at.state_root)
                    .map_err(|e| self.lie(key, e.to_string()))?;
                out.push(entry);
            }
        }
        Ok(out)
    }

    async fn one(&self, key: StateKey) -> Result<Option<Entry>, ReadError> {
        Ok(self
            .entries(std::slice::from_ref(&key))
            .await?
            .pop()
            .flatten())
    }

    fn missing(&self, key: &StateKey) -> ReadError {
        self.lie(key, "proven absent, but every state has it")
    }

    /// The chain's counters.
    pub async fn meta(&self) -> Result<Meta, ReadError> {
        match self.one(StateKey::Meta).await? {
            Some(Entry::Meta(meta)) => Ok(meta),
            _ => Err(self.missing(&StateKey::Meta)),
        }
    }

    /// The validator, hostchain and relayer sets with their histories.
    pub async fn sets(&self) -> Result<SetHistory, ReadError> {
        match self.one(StateKey::Sets).await? {
            Some(Entry::Sets(sets)) => Ok(sets),
            _ => Err(self.missing(&StateKey::Sets)),
        }
    }

    /// The withdrawal orders `nonces` that exist, by nonce.
    pub async fn withdrawals(
        &self,
        nonces: &[Nonce],
    ) -> Result<BTreeMap<Nonce, WithdrawalOrder>, ReadError> {
        let keys: Vec<StateKey> = nonces.iter().map(|n| StateKey::Withdrawal(*n)).collect();
        let mut orders = BTreeMap::new();
        for (nonce, entry) in nonces.iter().zip(self.entries(&keys).await?) {
            if let Some(Entry::Withdrawal(order)) = entry {
                if order.nonce != *nonce {
                    return Err(self.lie(
                        StateKey::Withdrawal(*nonce),
                        format!("the entry holds order {}", order.nonce),
                    ));
                }
                orders.insert(*nonce, order);
            }
        }
        Ok(orders)
    }

    /// Each deposit's minting height (if minted) and its attestations (while not), in the
    /// order asked.
    pub async fn deposits(&self, ids: &[DepositId]) -> Result<Vec<DepositView>, ReadError> {
        let keys: Vec<StateKey> = ids
            .iter()
            .flat_map(|id| {
                [
                    StateKey::Minted(id.clone()),
                    StateKey::PendingMint(id.clone()),
                ]
            })
            .collect();
        let entries = self.entries(&keys).await?;
        Ok(entries
            .chunks(2)
            .map(|pair| DepositView {
                minted: match pair.first() {
                    Some(Some(Entry::Minted(height))) => Some(*height),
                    _ => None,
                },
                pending: match pair.get(1) {
                    Some(Some(Entry::PendingMint(pending))) => pending.clone(),
                    _ => Vec::new(),
                },
            })
            .collect())
    }

    /// The relayers' signatures of the hostchain message with digest `subject`.
    pub async fn cosignatures(
        &self,
        subject: &Hash,
    ) -> Result<BTreeMap<PublicKey, Vec<u8>>, ReadError> {
        match self.one(StateKey::Cosignatures(*subject)).await? {
            Some(Entry::Cosignatures(signatures)) => Ok(signatures),
            _ => Ok(BTreeMap::new()),
        }
    }
}

/// What the verified state says of one deposit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DepositView {
    /// The height of the block that minted it.
    pub minted: Option<Height>,
    /// While not minted: each attested content with its attesters.
    pub pending: Vec<PendingMint>,
}

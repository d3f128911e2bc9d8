//! Pending transactions, in arrival order, bounded in total and per sender.

use std::collections::{HashMap, HashSet, VecDeque};

use symbiote::crypto::PublicKey;
use symbiote::hash::Hash;
use symbiote::tx::SignedTransaction;

use crate::chain::SubmitError;

/// The most transactions a node keeps waiting; more are refused until blocks drain them.
pub const MEMPOOL_CAPACITY: usize = 20_000;
/// The most transactions one sender may have waiting.
pub const MAX_PER_SENDER: usize = 32;
/// How far past the sender's next nonce a waiting transaction's nonce may be.
pub const MAX_NONCE_AHEAD: u64 = 32;

/// Transactions waiting for a block.
#[derive(Default)]
pub struct Mempool {
    /// In arrival order, which keeps each sender's nonces in the order they were sent.
    queue: VecDeque<(Hash, SignedTransaction)>,
    /// The hashes in `queue`, to refuse duplicates cheaply.
    known: HashSet<Hash>,
    /// How many transactions each sender has waiting.
    per_sender: HashMap<PublicKey, usize>,
}

impl Mempool {
    /// Adds a transaction; `false` if it is already there. Refused when the pool or the
    /// sender's share of it is full, except that a transaction `executable` now (the sender's
    /// next nonce) is taken past the sender's share: it is what lets the waiting ones go in.
    pub fn insert(
        &mut self,
        hash: Hash,
        tx: SignedTransaction,
        executable: bool,
    ) -> Result<bool, SubmitError> {
        if self.known.contains(&hash) {
            return Ok(false);
        }
        if self.queue.len() >= MEMPOOL_CAPACITY {
            return Err(SubmitError::MempoolFull(MEMPOOL_CAPACITY));
        }
        let count = self.per_sender.get(&tx.sender).copied().unwrap_or(0);
        if count >= MAX_PER_SENDER && !executable {
            return Err(SubmitError::SenderFull {
                sender: tx.sender,
                count,
                max: MAX_PER_SENDER,
            });
        }
        self.per_sender.insert(tx.sender, count + 1);
        self.known.insert(hash);
        self.queue.push_back((hash, tx));
        Ok(true)
    }

    /// Whether a transaction is waiting.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.known.contains(hash)
    }

    /// The waiting transactions, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &(Hash, SignedTransaction)> {
        self.queue.iter()
    }

    /// Keeps only the transactions for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&Hash, &SignedTransaction) -> bool) {
        let known = &mut self.known;
        let per_sender = &mut self.per_sender;
        self.queue.retain(|(hash, tx)| {
            let k = keep(hash, tx);
            if !k {
                known.remove(hash);
                if let Some(count) = per_sender.get_mut(&tx.sender) {
                    *count = count.saturating_sub(1);
                    if *count == 0 {
                        per_sender.remove(&tx.sender);
                    }
                }
            }
            k
        });
    }

    /// How many transactions are waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether none is waiting.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

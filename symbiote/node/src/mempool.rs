//! Pending transactions, in arrival order, bounded.

use std::collections::{HashSet, VecDeque};

use symbiote::hash::Hash;
use symbiote::tx::SignedTransaction;

/// The most transactions a node keeps waiting; more are refused until blocks drain them.
pub const MEMPOOL_CAPACITY: usize = 20_000;

/// Transactions waiting for a block.
#[derive(Default)]
pub struct Mempool {
    /// In arrival order, which keeps each sender's nonces in the order they were sent.
    queue: VecDeque<(Hash, SignedTransaction)>,
    /// The hashes in `queue`, to refuse duplicates cheaply.
    known: HashSet<Hash>,
}

impl Mempool {
    /// Adds a transaction; `false` if it is already there or the pool is full.
    pub fn insert(&mut self, hash: Hash, tx: SignedTransaction) -> Result<bool, usize> {
        if self.known.contains(&hash) {
            return Ok(false);
        }
        if self.queue.len() >= MEMPOOL_CAPACITY {
            return Err(MEMPOOL_CAPACITY);
        }
        self.known.insert(hash);
        self.queue.push_back((hash, tx));
        Ok(true)
    }

    /// Whether a transaction is waiting.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.known.contains(hash)
    }

    /// Up to `limit` transactions, oldest first.
    pub fn peek(&self, limit: usize) -> Vec<(Hash, SignedTransaction)> {
        self.queue.iter().take(limit).cloned().collect()
    }

    /// Keeps only the transactions for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&Hash, &SignedTransaction) -> bool) {
        let known = &mut self.known;
        self.queue.retain(|(hash, tx)| {
            let k = keep(hash, tx);
            if !k {
                known.remove(hash);
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

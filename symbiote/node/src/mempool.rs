//! Pending transactions, in arrival order, bounded in total and per sender.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

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
/// The most transactions that could not execute when they arrived (a nonce ahead of the
/// sender's next) the pool keeps: the rest of it stays for transactions that can go in.
pub const MAX_FUTURE: usize = MEMPOOL_CAPACITY / 4;
/// How long a transaction that could not execute when it arrived may wait.
pub const FUTURE_TTL: Duration = Duration::from_secs(600);

/// Transactions waiting for a block.
#[derive(Default)]
pub struct Mempool {
    /// In arrival order, which keeps each sender's nonces in the order they were sent.
    queue: VecDeque<(Hash, SignedTransaction)>,
    /// The hashes in `queue`, to refuse duplicates cheaply.
    known: HashSet<Hash>,
    /// How many transactions each sender has waiting.
    per_sender: HashMap<PublicKey, usize>,
    /// The waiting transactions that could not execute when they arrived, with their arrival.
    future: HashMap<Hash, Instant>,
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
        if !executable {
            if self.future.len() >= MAX_FUTURE {
                return Err(SubmitError::MempoolFull(MAX_FUTURE));
            }
            self.future.insert(hash, Instant::now());
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
        let future = &mut self.future;
        self.queue.retain(|(hash, tx)| {
            let k = keep(hash, tx);
            if !k {
                known.remove(hash);
                future.remove(hash);
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

    /// Drops the transactions that could not execute when they arrived and have waited longer
    /// than [`FUTURE_TTL`] at `now`.
    pub fn expire(&mut self, now: Instant) {
        let expired: HashSet<Hash> = self
            .future
            .iter()
            .filter(|(_, since)| now.saturating_duration_since(**since) > FUTURE_TTL)
            .map(|(hash, _)| *hash)
            .collect();
        if !expired.is_empty() {
            self.retain(|hash, _| !expired.contains(hash));
        }
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

#[cfg(test)]
mod tests {
    use symbiote::crypto::Keypair;
    use symbiote::tx::{Asset, Transaction};
    use symbiote::types::{Amount, Nonce, SymbioteId};

    use super::*;

    fn tx(key: &Keypair, nonce: u64) -> (Hash, SignedTransaction) {
        let tx = SignedTransaction::sign(
            key,
            SymbioteId::from_name("mempool"),
            Nonce::new(nonce),
            Transaction::Transfer {
                to: key.public(),
                asset: Asset::Native,
                amount: Amount::new(1),
            },
        );
        (tx.hash(), tx)
    }

    #[test]
    fn future_nonces_get_a_share_of_the_pool_and_expire() {
        let mut pool = Mempool::default();
        let keys: Vec<Keypair> = (0..MAX_FUTURE / MAX_PER_SENDER + 1)
            .map(|_| Keypair::generate())
            .collect();
        let mut refused = 0;
        for key in &keys {
            for nonce in 1..=MAX_PER_SENDER as u64 {
                let (hash, t) = tx(key, nonce);
                match pool.insert(hash, t, false) {
                    Ok(true) => {}
                    Err(SubmitError::MempoolFull(max)) => {
                        assert_eq!(max, MAX_FUTURE);
                        refused += 1;
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(pool.len(), MAX_FUTURE);
        assert!(refused > 0);
        // Transactions that can execute still get in, past the share and a full sender.
        let (hash, t) = tx(&keys[0], 0);
        assert!(pool.insert(hash, t, true).unwrap());
        // Waiting too long: the future ones go, the executable one stays.
        pool.expire(Instant::now() + FUTURE_TTL + Duration::from_secs(1));
        assert_eq!(pool.len(), 1);
        assert!(pool.contains(&hash));
    }
}

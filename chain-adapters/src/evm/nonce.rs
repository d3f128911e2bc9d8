//! Nonce assignment for the relayer's account.
//!
//! The next nonce is the larger of the node's pending nonce (`eth_getTransactionCount` at
//! `pending`) and one past the highest nonce this process has handed out or broadcast. The
//! second term covers transactions prepared but not yet broadcast, which the node cannot know.
//!
//! Surviving a restart needs no file of its own: the nonce of every prepared transaction is in
//! its [`crate::PreparedTx`] (`meta.nonce`), and the relayer stores every prepared transaction
//! before it broadcasts it. After a restart the relayer broadcasts the stored ones again (they
//! keep their nonces; [`crate::Anchorer::broadcast`] also records them here), after which the
//! node's pending nonce accounts for them. A prepared transaction that is abandoned without
//! ever being broadcast leaves a gap that stalls later nonces of this process until it is
//! broadcast or replaced; the relayer never abandons one.
//!
//! Assignment is serialized by a mutex held from reading the pending nonce until the
//! transaction is signed, so concurrent preparations never share a nonce; a preparation that
//! fails before signing hands out nothing.

use tokio::sync::{Mutex, MutexGuard};

/// The nonces handed out by this process.
#[derive(Debug, Default)]
pub struct NonceBook {
    /// The highest nonce handed out or broadcast since start, if any.
    highest: Mutex<Option<u64>>,
}

/// Exclusive access to the book while one transaction gets its nonce.
#[derive(Debug)]
pub struct NonceLease<'a> {
    /// The locked highest nonce.
    highest: MutexGuard<'a, Option<u64>>,
}

impl NonceBook {
    /// Takes the book; hold it until the transaction using the next nonce is signed.
    pub async fn lease(&self) -> NonceLease<'_> {
        NonceLease {
            highest: self.highest.lock().await,
        }
    }

    /// Notes that a transaction with `nonce` exists (broadcast from storage, replaced).
    pub async fn record(&self, nonce: u64) {
        self.lease().await.record(nonce);
    }
}

impl NonceLease<'_> {
    /// The nonce to use, given the node's pending nonce; `None` only at `u64::MAX`.
    pub fn next(&self, pending: u64) -> Option<u64> {
        match *self.highest {
            Some(highest) => highest.checked_add(1).map(|after| after.max(pending)),
            None => Some(pending),
        }
    }

    /// Records `nonce` as handed out (after the transaction was signed).
    pub fn record(&mut self, nonce: u64) {
        *self.highest = Some(self.highest.map_or(nonce, |h| h.max(nonce)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn next_is_past_both_the_node_and_what_was_handed_out() {
        let book = NonceBook::default();
        let mut lease = book.lease().await;
        assert_eq!(lease.next(5), Some(5));
        lease.record(5);
        // The node does not know nonce 5 yet (prepared, not broadcast).
        assert_eq!(lease.next(5), Some(6));
        // The node is ahead (transactions sent by another instance of this key).
        assert_eq!(lease.next(9), Some(9));
        drop(lease);
        book.record(3).await;
        assert_eq!(book.lease().await.next(0), Some(6));
    }
}

//! Publishing this relayer's transactions on the symbiote (attestations, approvals, holds): one
//! at a time, each with the account's next nonce, waiting until it is in a finalized block.
//!
//! Nothing needs to be stored about a transaction in flight: what the relayer publishes is
//! derived again from the symbiote's state at each step, and the state machine ignores an entry
//! a relayer already made. A transaction that another process of the same key overtook (same
//! nonce) is reported as [`PublishError::Superseded`]; the caller simply looks again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use symbiote::client::{ClientError, NodeClient};
use symbiote::crypto::Keypair;
use symbiote::hash::Hash;
use symbiote::tx::{SignedTransaction, Transaction};
use symbiote::types::SymbioteId;
use symbiote::wire::TxStatusReply;
use tokio::sync::Mutex;

/// Why a transaction was not published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("symbiote node: {0}")]
    Node(#[from] ClientError),
    #[error("the symbiote refused the transaction: {0}")]
    Refused(String),
    #[error("transaction {0} was overtaken by another one with the same nonce")]
    Superseded(Hash),
    #[error("transaction {hash} was not in a block after {waited:?}")]
    Timeout { hash: Hash, waited: Duration },
}

impl PublishError {
    /// Whether publishing again later can help: the node was out of reach or slow, or another
    /// process of this key took the nonce; not when the symbiote refused the transaction.
    pub fn is_retryable(&self) -> bool {
        match self {
            PublishError::Node(e) => e.is_retryable(),
            PublishError::Refused(_) => false,
            PublishError::Superseded(_) | PublishError::Timeout { .. } => true,
        }
    }
}

/// Publishes one relayer key's transactions.
pub struct Publisher {
    node: NodeClient,
    symbiote: SymbioteId,
    key: Arc<Keypair>,
    timeout: Duration,
    /// One transaction in flight at a time: nonces are taken from the node's account state.
    lock: Mutex<()>,
}

impl Publisher {
    pub fn new(
        node: NodeClient,
        symbiote: SymbioteId,
        key: Arc<Keypair>,
        timeout: Duration,
    ) -> Self {
        Publisher {
            node,
            symbiote,
            key,
            timeout,
            lock: Mutex::new(()),
        }
    }

    /// The key transactions are signed with.
    pub fn key(&self) -> &Keypair {
        &self.key
    }

    /// Signs `body` with the account's next nonce, submits it and waits until it is in a
    /// finalized block; returns its hash.
    pub async fn publish(&self, body: Transaction) -> Result<Hash, PublishError> {
        let _one_at_a_time = self.lock.lock().await;
        let account = self.node.account(&self.key.public()).await?;
        let tx = SignedTransaction::sign(&self.key, self.symbiote, account.nonce, body);
        let hash = tx.hash();
        match self.node.submit(&tx).await {
            Ok(_) => {}
            Err(ClientError::Status {
                status: 400,
                message,
                ..
            }) => {
                return Err(PublishError::Refused(message));
            }
            Err(e) => return Err(e.into()),
        }
        let started = Instant::now();
        loop {
            match self.node.tx_status(&hash).await? {
                TxStatusReply::Included { .. } => return Ok(hash),
                TxStatusReply::Pending => {}
                TxStatusReply::Unknown => {
                    let now = self.node.account(&self.key.public()).await?;
                    if now.nonce > account.nonce {
                        // The nonce was used; a last look in case it was this transaction.
                        if let TxStatusReply::Included { .. } = self.node.tx_status(&hash).await? {
                            return Ok(hash);
                        }
                        return Err(PublishError::Superseded(hash));
                    }
                    // Dropped as invalid against the state it met: submitting it again
                    // tells why.
                    if let Err(ClientError::Status {
                        status: 400,
                        message,
                        ..
                    }) = self.node.submit(&tx).await
                    {
                        return Err(PublishError::Refused(message));
                    }
                }
            }
            let waited = started.elapsed();
            if waited >= self.timeout {
                return Err(PublishError::Timeout { hash, waited });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

//! Consensus behind a trait, and the fixed-proposer engine.
//!
//! The node talks to its engine only through [`Consensus`]: the engine decides which block is
//! next and collects the quorum certificate; the [`Chain`] checks and stores what it finalizes.
//! A BFT engine (rotating proposers, view changes) replaces [`FixedProposer`] by implementing
//! the same trait.
//!
//! Fixed-proposer scheme: the first validator of the current set proposes every block. It
//! stores its proposal before sending it (so that after a restart it proposes the same block
//! again), sends it to every peer, and finalizes it once votes of more than two thirds of the
//! weight are in. A validator votes for at most one block per height, recorded in its store
//! before the vote leaves the process, so the chain never forks even if the proposer misbehaves;
//! without a quorum it simply stops finalizing until enough validators are back.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use symbiote::block::{Block, FinalizedBlock};
use symbiote::certificate::{QuorumBuilder, sign_vote};
use symbiote::crypto::{Keypair, PublicKey, Signature};
use symbiote::tx::SignedTransaction;
use symbiote::types::TimestampMs;

use crate::chain::{Chain, ChainError, fixed_proposer};
use crate::peers::Peers;
use crate::store::StoreError;
use symbiote::block::ChainBlock;

/// A boxed future, so that [`Consensus`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A validator's vote for a proposed block, as returned to the proposer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VoteReply {
    /// The voting validator.
    pub validator: PublicKey,
    /// Its signature over the vote (symbiote, height, block hash).
    pub signature: Signature,
}

/// Why the engine refused a message.
#[derive(Debug, thiserror::Error)]
pub enum ConsensusError {
    #[error("this node is not a validator of the current set")]
    NotAValidator,
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ConsensusError {
    /// Whether the sender can expect a later attempt to succeed (for example once this node has
    /// caught up), as opposed to a block that is wrong.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ConsensusError::Chain(ChainError::NotNext { .. }) | ConsensusError::Store(_)
        )
    }
}

/// A consensus engine driving one node's [`Chain`].
///
/// `on_proposal` and `on_commit` may be called concurrently and more than once with the same
/// message; both are idempotent. Dropping a returned future abandons the call without leaving a
/// half-applied block (the chain stores a block and its state atomically).
pub trait Consensus: Send + Sync + 'static {
    /// Drives block production until `shutdown` is cancelled.
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<'static, ()>;

    /// A proposal from the proposer: this validator's vote, or why it refuses to vote.
    fn on_proposal(
        &self,
        block: Block<SignedTransaction>,
    ) -> BoxFuture<'_, Result<VoteReply, ConsensusError>>;

    /// A finalized block announced by a peer.
    fn on_commit(&self, block: ChainBlock) -> BoxFuture<'_, Result<(), ConsensusError>>;
}

/// The fixed-proposer engine.
pub struct FixedProposer {
    /// The ledger it drives.
    chain: Arc<Chain>,
    /// This validator's key; `None` for a node that only follows.
    key: Option<Arc<Keypair>>,
    /// The other validators' nodes.
    peers: Peers,
    /// How often the proposer proposes.
    interval: Duration,
}

/// The current time in milliseconds.
pub fn now() -> TimestampMs {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    TimestampMs::new(u64::try_from(ms).unwrap_or(u64::MAX))
}

impl FixedProposer {
    /// An engine for `chain`, signing with `key` if this node is a validator.
    pub fn new(
        chain: Arc<Chain>,
        key: Option<Arc<Keypair>>,
        peers: Peers,
        interval: Duration,
    ) -> Arc<Self> {
        Arc::new(FixedProposer {
            chain,
            key,
            peers,
            interval,
        })
    }

    /// One round as proposer: propose (or re-propose) the next block and finalize it if a
    /// quorum votes. Returns whether a block was finalized.
    async fn propose_round(&self, key: &Keypair) -> Result<bool, ConsensusError> {
        let signers = self.chain.next_signers().await;
        if fixed_proposer(&signers) != Some(key.public()) {
            return Ok(false);
        }
        let head = self.chain.head().await;
        let Some(height) = head.height.next() else {
            return Ok(false);
        };
        let store = self.chain.store();
        let block = match store.own_proposal(height).await? {
            Some(block) if block.header.parent == head.hash() => block,
            _ => {
                let block = self.chain.build_block(key.public(), now()).await?;
                store.save_own_proposal(&block).await?;
                block
            }
        };
        let hash = block.header.hash();
        let symbiote = block.header.symbiote;
        let mut votes = QuorumBuilder::new(signers, symbiote, height, hash);
        store.record_vote(height, &hash).await?;
        // Our own vote: our key is the set's first member, so it is always accepted.
        let _ = votes.add_vote(&key.public(), sign_vote(key, &symbiote, height, &hash));

        let replies = self.peers.propose(&block).await;
        for (peer, reply) in replies {
            match reply {
                Ok(vote) => {
                    if let Err(e) = votes.add_vote(&vote.validator, vote.signature) {
                        tracing::warn!(%peer, error = %e, "ignoring an invalid vote");
                    }
                }
                Err(e) => tracing::debug!(%peer, error = %e, "no vote"),
            }
        }
        if !votes.has_quorum() {
            tracing::info!(
                height = height.get(),
                signed = votes.signed_weight(),
                "no quorum yet; proposing the same block again next round"
            );
            return Ok(false);
        }
        let certificate = votes
            .build()
            .map_err(|e| ChainError::Block(symbiote::block::BlockError::from(e)))?;
        let finalized = FinalizedBlock { block, certificate };
        self.chain.commit(finalized.clone()).await?;
        tracing::info!(
            height = height.get(),
            hash = %hash,
            transactions = finalized.block.transactions.len(),
            "finalized"
        );
        let peers = self.peers.clone();
        tokio::spawn(async move { peers.announce(&finalized).await });
        Ok(true)
    }
}

impl Consensus for FixedProposer {
    fn run(self: Arc<Self>, shutdown: CancellationToken) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let Some(key) = self.key.clone() else {
                shutdown.cancelled().await;
                return;
            };
            let mut ticker = tokio::time::interval(self.interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = ticker.tick() => {
                        if let Err(e) = self.propose_round(&key).await {
                            tracing::warn!(error = %e, "proposal round failed");
                        }
                    }
                }
            }
        })
    }

    fn on_proposal(
        &self,
        block: Block<SignedTransaction>,
    ) -> BoxFuture<'_, Result<VoteReply, ConsensusError>> {
        Box::pin(async move {
            let key = self.key.as_ref().ok_or(ConsensusError::NotAValidator)?;
            let signers = self.chain.next_signers().await;
            if signers.index_of(&key.public()).is_none() {
                return Err(ConsensusError::NotAValidator);
            }
            self.chain.check_proposal(&block, now()).await?;
            let header = &block.header;
            let hash = header.hash();
            // Written before the vote leaves the process: never two blocks at one height.
            self.chain.store().record_vote(header.height, &hash).await?;
            Ok(VoteReply {
                validator: key.public(),
                signature: sign_vote(key, &header.symbiote, header.height, &hash),
            })
        })
    }

    fn on_commit(&self, block: ChainBlock) -> BoxFuture<'_, Result<(), ConsensusError>> {
        Box::pin(async move {
            match self.chain.commit(block).await {
                Ok(_) | Err(ChainError::AlreadyFinal { .. }) => Ok(()),
                Err(e) => Err(e.into()),
            }
        })
    }
}

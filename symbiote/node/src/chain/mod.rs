//! The node's ledger: the finalized chain, its state and the mempool, behind one lock.
//!
//! Consensus engines drive it through [`Chain::build_block`], [`Chain::check_proposal`] and
//! [`Chain::commit`]; the HTTP API reads it and submits transactions. Every block, whether it
//! arrives as a proposal, a commit or through catch-up, is re-executed against the state before
//! it is accepted: a node never takes a state root on trust.

use std::sync::Arc;

use tokio::sync::{Mutex, watch};

use symbiote::block::{Block, BlockError, Header, check_certificate_matches, tx_root};
use symbiote::crypto::PublicKey;
use symbiote::genesis::Genesis;
use symbiote::hash::Hash;
use symbiote::state::{ChainState, MemoryStore, StateError, StateUpdate, TxError};
use symbiote::tx::SignedTransaction;
use symbiote::types::{Height, Nonce, TimestampMs};
use symbiote::validators::ValidatorSet;

use crate::mempool::{MAX_NONCE_AHEAD, Mempool};
use crate::store::{Store, StoreError};
use symbiote::block::ChainBlock;

/// The most transactions in one block.
pub const MAX_BLOCK_TRANSACTIONS: usize = 2_000;
/// How far ahead of this node's clock a proposed block's time may be.
pub const MAX_CLOCK_DRIFT_MS: u64 = 10_000;

/// Why the ledger refused something.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Block(#[from] BlockError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("the stored state belongs to another genesis (symbiote {stored}, expected {expected})")]
    WrongGenesis { stored: String, expected: String },
    #[error("block {got} does not follow the head {head}")]
    NotNext { head: Height, got: Height },
    #[error("block {height} is already final")]
    AlreadyFinal { height: Height },
    #[error("block's parent {got} is not the head {expected}")]
    WrongParent { expected: Hash, got: Hash },
    #[error("block proposed by {got}, but the proposer is {expected}")]
    WrongProposer { expected: PublicKey, got: PublicKey },
    #[error("{field} in the header is {header}, re-execution gives {computed}")]
    Mismatch {
        field: &'static str,
        header: String,
        computed: String,
    },
    #[error("block time {time} is not after its parent's {parent} or too far ahead of {now}")]
    BadTime { time: u64, parent: u64, now: u64 },
    #[error("block has {0} transactions, more than {MAX_BLOCK_TRANSACTIONS}")]
    TooManyTransactions(usize),
    #[error("no finalized state at height {asked} yet (the head is {head})")]
    NotYetFinal { asked: Height, head: Height },
    #[error("{count} state entries asked at once; at most {max}")]
    TooManyEntries { count: usize, max: usize },
    #[error("state entry {0} is asked twice")]
    RepeatedEntry(String),
    #[error("the entries asked hold more than {max} bytes; ask fewer at once")]
    ReplyTooLarge { max: usize },
    #[error("proving task: {0}")]
    Task(String),
}

pub use symbiote::wire::MAX_PROOF_ENTRIES;

mod prove;
pub use prove::{CONCURRENT_PROOFS, MAX_PROOF_REPLY_BYTES};

/// Why a submitted transaction was refused.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Refused(#[from] TxError),
    #[error("the mempool is full ({0} transactions); try again later")]
    MempoolFull(usize),
    #[error(
        "sender {0} has no account (no balance, no transaction) and holds no validator or \
         relayer role: it cannot pay for anything"
    )]
    UnknownSender(PublicKey),
    #[error(
        "nonce {got} is more than {MAX_NONCE_AHEAD} ahead of the sender's next nonce {expected}"
    )]
    NonceTooFarAhead { expected: Nonce, got: Nonce },
    #[error("sender {sender} already has {count} transactions waiting; at most {max}")]
    SenderFull {
        sender: PublicKey,
        count: usize,
        max: usize,
    },
    #[error(transparent)]
    State(#[from] StateError),
}

/// What became of a submitted transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxStatus {
    /// Waiting in this node's mempool.
    Pending,
    /// In the finalized block at this height.
    Included(Height),
    /// Neither: never seen here, or dropped.
    Unknown,
}

struct Inner {
    /// The state after the head.
    state: ChainState,
    /// The last finalized header (the genesis header before block 1).
    head: Header,
    /// Waiting transactions.
    mempool: Mempool,
    /// The last block built or checked on `state`, by header hash, with its execution.
    executed: Option<(Hash, StateUpdate)>,
}

/// The finalized chain of one node.
pub struct Chain {
    /// Where blocks and state are persisted.
    store: Store,
    /// The genesis header (height 0 has no stored block).
    genesis: Header,
    /// State, head and mempool; one lock so that they always agree.
    inner: Mutex<Inner>,
    /// The finalized height, for followers (block streams, catch-up).
    head_height: watch::Sender<Height>,
    /// Proof requests served at once; more wait their turn, outside the chain's lock.
    provers: tokio::sync::Semaphore,
}

/// The validator expected to propose the next block under `set` in the fixed-proposer scheme:
/// the first validator of the set's canonical order.
pub fn fixed_proposer(set: &ValidatorSet) -> Option<PublicKey> {
    set.get(0).map(|v| v.key)
}

impl Chain {
    /// Opens the chain stored in `store`, or starts it from `genesis`.
    pub async fn open(genesis: &Genesis, store: Store) -> Result<Arc<Self>, ChainError> {
        let (genesis_state, genesis_header) = genesis.build()?;
        let state = match store.load_state().await? {
            Some((height, memory)) => ChainState::open(memory, height)?,
            None => {
                store.init_genesis(&genesis_state).await?;
                genesis_state.commit_to(MemoryStore::latest_only())?
            }
        };
        if state.symbiote() != genesis_header.symbiote {
            return Err(ChainError::WrongGenesis {
                stored: state.symbiote().to_string(),
                expected: genesis_header.symbiote.to_string(),
            });
        }
        let head = if state.height() == Height::new(0) {
            genesis_header.clone()
        } else {
            let block = store.block(state.height()).await?.ok_or_else(|| {
                StoreError::Corrupt(symbiote::codec::CodecError::Malformed {
                    kind: "chain store",
                    reason: format!("state at height {} but no block there", state.height()),
                })
            })?;
            block.block.header
        };
        if head.state_root != state.root() {
            return Err(ChainError::Mismatch {
                field: "state_root of the stored head",
                header: head.state_root.to_string(),
                computed: state.root().to_string(),
            });
        }
        let (head_height, _) = watch::channel(head.height);
        Ok(Arc::new(Chain {
            store,
            genesis: genesis_header,
            inner: Mutex::new(Inner {
                state,
                head,
                mempool: Mempool::default(),
                executed: None,
            }),
            head_height,
            provers: tokio::sync::Semaphore::new(CONCURRENT_PROOFS),
        }))
    }

    /// The store, for reads of past blocks.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The last finalized header.
    pub async fn head(&self) -> Header {
        self.inner.lock().await.head.clone()
    }

    /// Follows the finalized height.
    pub fn subscribe(&self) -> watch::Receiver<Height> {
        self.head_height.subscribe()
    }

    /// Runs `read` on the current state.
    pub async fn with_state<R>(&self, read: impl FnOnce(&ChainState) -> R) -> R {
        read(&self.inner.lock().await.state)
    }

    /// Admits a transaction into the mempool. Its signature is checked; its sender must have an
    /// account or a validator or relayer role (anyone else cannot pay for anything); a
    /// transaction with the sender's next nonce must be valid against the current state; one
    /// with a later nonce waits (it may become valid once the earlier ones are in), at most
    /// [`MAX_NONCE_AHEAD`] ahead and a bounded number per sender; one with a used nonce is
    /// refused.
    pub async fn submit(&self, tx: SignedTransaction) -> Result<(Hash, bool), SubmitError> {
        let hash = tx.hash();
        let mut inner = self.inner.lock().await;
        if inner.mempool.contains(&hash) {
            return Ok((hash, false));
        }
        let state = &inner.state;
        tx.verify_signature(state.symbiote())
            .map_err(|e| TxError::BadSignature(e.to_string()))?;
        let account = state.account(&tx.sender)?;
        if account == Default::default() && !has_role(state, &tx.sender) {
            return Err(SubmitError::UnknownSender(tx.sender));
        }
        let expected = account.nonce;
        if tx.nonce < expected {
            return Err(TxError::NonceMismatch {
                expected,
                got: tx.nonce,
            }
            .into());
        }
        if tx.nonce.get() - expected.get() > MAX_NONCE_AHEAD {
            return Err(SubmitError::NonceTooFarAhead {
                expected,
                got: tx.nonce,
            });
        }
        let executable = tx.nonce == expected;
        if executable {
            state.check_transaction(&tx)?;
        }
        let added = inner.mempool.insert(hash, tx, executable)?;
        Ok((hash, added))
    }

    /// Where a transaction stands.
    pub async fn tx_status(&self, hash: &Hash) -> Result<TxStatus, ChainError> {
        if self.inner.lock().await.mempool.contains(hash) {
            return Ok(TxStatus::Pending);
        }
        Ok(match self.store.transaction_height(hash).await? {
            Some(height) => TxStatus::Included(height),
            None => TxStatus::Unknown,
        })
    }

    /// How many transactions wait in the mempool.
    pub async fn mempool_len(&self) -> usize {
        self.inner.lock().await.mempool.len()
    }

    /// Builds the next block from the mempool: transactions that fail against the state are
    /// left out (and dropped unless they only wait for an earlier nonce). A transaction whose
    /// sender's earlier nonce is not in yet is passed over without being executed, so however
    /// many of those wait, the ones that can go in are reached.
    pub async fn build_block(
        &self,
        proposer: PublicKey,
        now: TimestampMs,
    ) -> Result<Block<SignedTransaction>, ChainError> {
        let mut guard = self.inner.lock().await;
        let inner = &mut *guard;
        let height = next_height(&inner.head)?;
        let mut execution = inner.state.begin(height)?;
        let mut included = Vec::new();
        let mut dropped = std::collections::HashSet::new();
        for (hash, tx) in inner.mempool.iter() {
            if included.len() == MAX_BLOCK_TRANSACTIONS {
                break;
            }
            let next = execution
                .account(&tx.sender)
                .map_err(|e| state_error(e, tx))?
                .nonce;
            if tx.nonce > next {
                continue;
            }
            match execution.apply(tx) {
                Ok(_) => included.push(tx.clone()),
                Err(TxError::NonceMismatch { expected, got }) if got > expected => {}
                Err(TxError::Storage(e)) => return Err(StateError::Storage(e).into()),
                Err(_) => {
                    dropped.insert(*hash);
                }
            }
        }
        let update = execution.finish()?;
        inner.mempool.retain(|hash, _| !dropped.contains(hash));
        let parent = &inner.head;
        let timestamp = TimestampMs::new(now.get().max(parent.timestamp.get().saturating_add(1)));
        let header = Header {
            version: symbiote::block::HEADER_VERSION,
            symbiote: parent.symbiote,
            height,
            parent: parent.hash(),
            timestamp,
            proposer,
            tx_root: tx_root(&included)?,
            state_root: update.root(),
            validator_set_hash: inner.state.validators().hash(),
            next_validator_set_hash: update.validators().hash(),
        };
        inner.executed = Some((header.hash(), update));
        Ok(Block {
            header,
            transactions: included,
        })
    }

    /// Checks a proposed block for the next height: it extends the head, comes from the
    /// expected proposer, and its roots match re-execution.
    pub async fn check_proposal(
        &self,
        block: &Block<SignedTransaction>,
        now: TimestampMs,
    ) -> Result<(), ChainError> {
        let mut inner = self.inner.lock().await;
        let expected =
            fixed_proposer(inner.state.validators()).ok_or_else(|| ChainError::Mismatch {
                field: "validator set",
                header: "non-empty".into(),
                computed: "empty".into(),
            })?;
        if block.header.proposer != expected {
            return Err(ChainError::WrongProposer {
                expected,
                got: block.header.proposer,
            });
        }
        let parent_time = inner.head.timestamp.get();
        let time = block.header.timestamp.get();
        if time <= parent_time || time > now.get().saturating_add(MAX_CLOCK_DRIFT_MS) {
            return Err(ChainError::BadTime {
                time,
                parent: parent_time,
                now: now.get(),
            });
        }
        let hash = block.header.hash();
        if inner.executed.as_ref().is_some_and(|(h, _)| *h == hash) {
            return block.check_tx_root().map_err(ChainError::from);
        }
        let update = execute(&inner.state, &inner.head, block)?;
        inner.executed = Some((hash, update));
        Ok(())
    }

    /// The validator set that must sign the next block.
    pub async fn next_signers(&self) -> ValidatorSet {
        self.inner.lock().await.state.validators().clone()
    }

    /// Accepts a finalized block for the next height: checks its certificate against the
    /// current validator set, re-executes it (unless this node built or checked this very
    /// block), stores block and state atomically, then updates the mempool. A block at or
    /// below the head is reported as [`ChainError::AlreadyFinal`].
    pub async fn commit(&self, finalized: ChainBlock) -> Result<Height, ChainError> {
        let mut guard = self.inner.lock().await;
        let inner = &mut *guard;
        let height = finalized.block.header.height;
        if height <= inner.head.height {
            return Err(ChainError::AlreadyFinal { height });
        }
        check_certificate_matches(&finalized.block.header, &finalized.certificate)?;
        finalized.verify(inner.state.validators())?;
        let hash = finalized.block.header.hash();
        let update = match inner.executed.take() {
            Some((executed, update)) if executed == hash => {
                finalized.block.check_tx_root()?;
                update
            }
            _ => execute(&inner.state, &inner.head, &finalized.block)?,
        };
        self.store.commit_block(&finalized, &update).await?;
        // The database has the block: the state in memory follows it. Only a store that is
        // not at the previous version refuses, which a restart (loading the database) repairs.
        inner.state.commit(update)?;
        inner.head = finalized.block.header.clone();
        let included: std::collections::HashSet<Hash> = finalized
            .block
            .transactions
            .iter()
            .map(|t| t.hash())
            .collect();
        let state = &inner.state;
        // Drop what was included and what can never be valid again (a used nonce): only the
        // senders of this block's transactions have new nonces.
        let senders: std::collections::HashSet<PublicKey> = finalized
            .block
            .transactions
            .iter()
            .map(|tx| tx.sender)
            .collect();
        let mut next = std::collections::HashMap::new();
        for sender in &senders {
            next.insert(*sender, state.account(sender).map(|a| a.nonce).ok());
        }
        inner.mempool.retain(|hash, tx| {
            !included.contains(hash)
                && next
                    .get(&tx.sender)
                    .is_none_or(|n| n.is_none_or(|n| tx.nonce >= n))
        });
        inner.mempool.expire(std::time::Instant::now());
        drop(guard);
        self.head_height.send_replace(height);
        Ok(height)
    }

    /// The canonical encoding of the finalized block at `height`.
    pub async fn block_bytes(&self, height: Height) -> Result<Option<Vec<u8>>, ChainError> {
        Ok(self.store.block_bytes(height).await?)
    }

    /// The finalized block at `height`, decoded.
    pub async fn block(&self, height: Height) -> Result<Option<ChainBlock>, ChainError> {
        Ok(self.store.block(height).await?)
    }
}

fn next_height(head: &Header) -> Result<Height, ChainError> {
    head.height.next().ok_or(ChainError::NotNext {
        head: head.height,
        got: head.height,
    })
}

/// Re-executes `block` on `state` (whose last block is `head`) and checks every header field
/// that re-execution determines. Returns the block's execution (not yet written anywhere).
pub fn execute(
    state: &ChainState,
    head: &Header,
    block: &Block<SignedTransaction>,
) -> Result<StateUpdate, ChainError> {
    let header = &block.header;
    header.check_version()?;
    let expected = next_height(head)?;
    if header.height != expected {
        return Err(if header.height <= head.height {
            ChainError::AlreadyFinal {
                height: header.height,
            }
        } else {
            ChainError::NotNext {
                head: head.height,
                got: header.height,
            }
        });
    }
    if header.parent != head.hash() {
        return Err(ChainError::WrongParent {
            expected: head.hash(),
            got: header.parent,
        });
    }
    if header.symbiote != head.symbiote {
        return Err(ChainError::Mismatch {
            field: "symbiote",
            header: header.symbiote.to_string(),
            computed: head.symbiote.to_string(),
        });
    }
    if block.transactions.len() > MAX_BLOCK_TRANSACTIONS {
        return Err(ChainError::TooManyTransactions(block.transactions.len()));
    }
    block.check_tx_root()?;
    let signers = state.validators().hash();
    if header.validator_set_hash != signers {
        return Err(mismatch(
            "validator_set_hash",
            header.validator_set_hash,
            signers,
        ));
    }
    let after = state.execute_block(header.height, &block.transactions)?;
    let root = after.root();
    if header.state_root != root {
        return Err(mismatch("state_root", header.state_root, root));
    }
    let next = after.validators().hash();
    if header.next_validator_set_hash != next {
        return Err(mismatch(
            "next_validator_set_hash",
            header.next_validator_set_hash,
            next,
        ));
    }
    Ok(after)
}

/// Whether `key` holds a role that lets it send transactions without an account: a validator
/// of the current set or a member of any relayer set (earlier members cosign rotations).
fn has_role(state: &ChainState, key: &PublicKey) -> bool {
    state.validators().index_of(key).is_some()
        || state
            .set_history()
            .relayers
            .iter()
            .any(|(_, set)| set.index_of(key).is_some())
}

/// A state read that failed while building a block: the store's fault, named with the
/// transaction being considered.
fn state_error(error: TxError, tx: &SignedTransaction) -> ChainError {
    match error {
        TxError::Storage(e) => ChainError::State(StateError::Storage(e)),
        other => ChainError::State(StateError::Transaction {
            index: 0,
            tx: tx.hash(),
            error: other,
        }),
    }
}

fn mismatch(field: &'static str, header: Hash, computed: Hash) -> ChainError {
    ChainError::Mismatch {
        field,
        header: header.to_string(),
        computed: computed.to_string(),
    }
}

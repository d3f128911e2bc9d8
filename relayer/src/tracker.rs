//! One way to follow a hostchain transaction, whatever it is for (an anchor, a release, the
//! payment of a queued release, a relayer-set rotation).
//!
//! The owner stores the transaction before it leaves the process (in `host_txs`, usually with
//! its own state move in the same database transaction), then asks the [`Tracker`] to
//! [`send`](Tracker::send) it and, on later passes, to [`follow`](Tracker::follow) it. Following
//! looks at every transaction stored for the owner (the original and each fee-bumped
//! replacement: any of them may be the one included) and:
//!
//! - reports the first one included, with its confirmations and whether it is final;
//! - sends again one that was reorged out, or that was included and no longer is;
//! - sends again one that the node does not know (restarted, evicted): harmless;
//! - replaces the newest one by a fee-bumped successor once it has waited `replace_after`,
//!   storing the replacement before sending it;
//! - reports when every stored transaction is dropped, so that the owner prepares anew.
//!
//! The owner decides only what its transaction is for and what to do when it is final (or
//! dropped); it records the moves it cares about in its own table.

use std::sync::Arc;
use std::time::Duration;

use chain_adapters::{AdapterError, ErrorKind, HostchainAdapter, Inclusion, PreparedTx, TxStatus};
use symbiote::types::HostchainId;

use crate::metrics::Metrics;
use crate::retry::StepError;
use crate::store::{Store, TxPurpose, now_ms};

/// What the owner knows of its transactions.
#[derive(Clone, Copy, Debug)]
pub struct Watch<'a> {
    /// Whose transactions they are.
    pub purpose: &'a TxPurpose,
    /// The transaction the owner last saw included, and where (to notice a reorg).
    pub seen: Option<(&'a str, &'a Inclusion)>,
    /// Since when (ms) the owner has been waiting for inclusion; a replacement is due once the
    /// newest transaction and this are both `replace_after` old.
    pub waiting_since: i64,
    /// Only the transactions stored at or after this time (ms) are followed: those of the
    /// current submission, for an owner that prepares anew after its transactions are dropped
    /// and must not count an earlier submission's. `None`: every one stored for the purpose.
    pub stored_since: Option<i64>,
}

impl<'a> Watch<'a> {
    /// The transactions of one submission of `purpose`, made at `since` (ms): an owner that
    /// does not track inclusion itself and prepares anew after its transactions are dropped.
    pub fn submission(purpose: &'a TxPurpose, since: i64) -> Watch<'a> {
        Watch {
            purpose,
            seen: None,
            waiting_since: since,
            stored_since: Some(since),
        }
    }
}

/// The outcome of sending a stored transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    /// The node has it.
    Sent,
    /// It can no longer be included as it is: prepare anew.
    Dropped { reason: String },
}

/// Where the owner's transactions stand after one look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// None included yet; the newest waiting one was sent again (harmless).
    Waiting { tx_id: String },
    /// None included after `replace_after`: `new` was stored, then sent, in place of `old`.
    Replaced {
        old: String,
        new: PreparedTx,
        waited: Duration,
    },
    /// `tx_id` is included (`fin`: past the confirmation depth or finalized).
    Included {
        tx_id: String,
        inclusion: Inclusion,
        confirmations: u64,
        fin: bool,
    },
    /// `tx_id` was included and no longer is (`why`); it was sent again.
    Resent { tx_id: String, why: String },
    /// Every stored transaction is dropped (`reasons`): prepare anew.
    Dropped { reasons: String },
}

/// Follows the stored transactions of one hostchain.
#[derive(Clone)]
pub struct Tracker {
    /// The hostchain.
    pub hostchain: HostchainId,
    /// Its adapter.
    pub adapter: Arc<dyn HostchainAdapter>,
    /// Where the transactions are stored.
    pub store: Store,
    /// How long a transaction may wait for inclusion before it is replaced.
    pub replace_after: Duration,
    /// Counters (broadcasts, replacements).
    pub metrics: Metrics,
}

impl Tracker {
    /// Sends a stored transaction. One the hostchain will no longer take as it is (stale,
    /// rejected) is looked up: if it is dropped, the owner prepares anew.
    pub async fn send(&self, purpose: &TxPurpose, tx: &PreparedTx) -> Result<Sent, AdapterError> {
        let anchorer = self.adapter.anchorer();
        match anchorer.broadcast(tx).await {
            Ok(()) => {
                self.metrics.broadcast(&self.hostchain, purpose);
                Ok(Sent::Sent)
            }
            Err(e) if matches!(e.kind, ErrorKind::Stale | ErrorKind::Rejected) => {
                match anchorer.status(tx, None).await? {
                    TxStatus::Dropped { reason } => Ok(Sent::Dropped { reason }),
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Sends again a transaction that is followed (not counted as a new send): the node already
    /// having it, or it being included by now, is fine; one it refuses is left to the next look
    /// at its status.
    async fn resend(&self, tx: &PreparedTx) -> Result<(), AdapterError> {
        match self.adapter.anchorer().broadcast(tx).await {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.kind, ErrorKind::Stale | ErrorKind::Rejected) => {
                tracing::debug!(hostchain = %self.hostchain, tx = %tx.id, error = %e, "not sent again");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Looks at every transaction stored for `watch.purpose` and acts (see the module docs).
    pub async fn follow(&self, watch: Watch<'_>) -> Result<Progress, StepError> {
        let anchorer = self.adapter.anchorer();
        let stored: Vec<_> = self
            .store
            .host_txs(&self.hostchain, watch.purpose)
            .await?
            .into_iter()
            .filter(|s| watch.stored_since.is_none_or(|since| s.created_at >= since))
            .collect();
        let Some(newest) = stored.first() else {
            return Err(StepError::Inconsistent(format!(
                "{} has no stored transaction to follow",
                watch.purpose
            )));
        };
        let mut dropped = Vec::new();
        let mut waiting = None;
        for entry in &stored {
            let tx = &entry.tx;
            let seen = watch
                .seen
                .filter(|(id, _)| *id == tx.id)
                .map(|(_, inclusion)| inclusion);
            match anchorer.status(tx, seen).await? {
                TxStatus::Included {
                    inclusion,
                    confirmations,
                    fin,
                } => {
                    return Ok(Progress::Included {
                        tx_id: tx.id.clone(),
                        inclusion,
                        confirmations,
                        fin,
                    });
                }
                TxStatus::ReorgedOut { previous } => {
                    self.resend(tx).await?;
                    return Ok(Progress::Resent {
                        tx_id: tx.id.clone(),
                        why: format!(
                            "reorged out of block {} ({})",
                            previous.height, previous.block_hash
                        ),
                    });
                }
                TxStatus::Dropped { reason } => dropped.push(format!("{}: {reason}", tx.id)),
                TxStatus::InMempool | TxStatus::Unknown => {
                    if waiting.is_none() {
                        waiting = Some(tx);
                    }
                }
            }
        }
        let Some(tx) = waiting else {
            return Ok(Progress::Dropped {
                reasons: dropped.join("; "),
            });
        };
        if watch.seen.is_some() {
            // It was included and now is not: the block is gone. Send it again.
            self.resend(tx).await?;
            return Ok(Progress::Resent {
                tx_id: tx.id.clone(),
                why: "no longer included".into(),
            });
        }
        // Unknown to the node (restarted, evicted) or waiting: sending again is harmless.
        self.resend(tx).await?;
        let since = watch.waiting_since.max(newest.created_at);
        let waited = Duration::from_millis(u64::try_from(now_ms() - since).unwrap_or_default());
        if waited < self.replace_after {
            return Ok(Progress::Waiting {
                tx_id: tx.id.clone(),
            });
        }
        let replacement = match anchorer.replace(tx).await {
            Ok(replacement) => replacement,
            // At the fee cap, or not replaceable yet (a Solana blockhash still valid): wait.
            Err(e) if matches!(e.kind, ErrorKind::FeeCapReached | ErrorKind::Stale) => {
                tracing::info!(hostchain = %self.hostchain, purpose = %watch.purpose, tx = %tx.id, error = %e, "not replaced; waiting for inclusion");
                return Ok(Progress::Waiting {
                    tx_id: tx.id.clone(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        self.store.add_host_tx(watch.purpose, &replacement).await?;
        self.metrics.replacements.inc();
        tracing::info!(hostchain = %self.hostchain, purpose = %watch.purpose, old = %tx.id, new = %replacement.id, waited_s = waited.as_secs(), "transaction replaced");
        // A replacement refused as it is sent is dropped: the next look finds it so.
        self.resend(&replacement).await?;
        self.metrics.broadcast(&self.hostchain, watch.purpose);
        Ok(Progress::Replaced {
            old: tx.id.clone(),
            new: replacement,
            waited,
        })
    }
}

//! Anchors (`anchors`): one per (batch, hostchain), with the hostchain's next sequence number,
//! driven through [`AnchorState`] by the anchorer. Their transactions are in `host_txs`.

use chain_adapters::{Inclusion, PreparedTx};
use serde::{Deserialize, Serialize};
use symbiote::types::{HostchainId, Sequence};

use super::batches::BatchId;
use super::cells::json_column;
use super::host_txs::{self, StoredTx, TxPurpose};
use super::states::{AnchorState, BatchState, Entity};
use super::transitions::Change;
use super::{Cells, Store, StoreError, int, json_text, now_ms};

super::row_id!(
    /// An anchor's row id.
    AnchorId
);

/// One anchor as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AnchorRow {
    pub id: AnchorId,
    pub batch_id: BatchId,
    pub hostchain: HostchainId,
    pub sequence: Sequence,
    pub state: AnchorState,
    pub tx_id: Option<String>,
    #[serde(deserialize_with = "json_column::optional")]
    pub inclusion: Option<Inclusion>,
    pub confirmations: u64,
    pub attempts: u64,
    pub next_attempt_at: i64,
    pub state_since: i64,
    pub last_error: Option<String>,
}

impl AnchorRow {
    /// The same anchor in `state`.
    pub fn with_state(&self, state: AnchorState) -> AnchorRow {
        AnchorRow {
            state,
            ..self.clone()
        }
    }

    /// What its transactions are stored under.
    pub fn purpose(&self) -> TxPurpose {
        TxPurpose::Anchor(self.id)
    }
}

const COLUMNS: &str = "id, batch_id, hostchain, sequence, state, tx_id, inclusion, \
     confirmations, attempts, next_attempt_at, state_since, last_error";

fn anchor_row(r: &sqlx::any::AnyRow) -> Result<AnchorRow, StoreError> {
    Cells::new(r, "anchors", "id").read()
}

impl Store {
    /// Anchors of `hostchain` that are not done, lowest sequence first.
    pub async fn open_anchors(
        &self,
        hostchain: &HostchainId,
    ) -> Result<Vec<AnchorRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM anchors WHERE hostchain = $1 AND state NOT IN ($2, $3) \
             ORDER BY sequence"
        );
        let query = sqlx::query(&sql)
            .bind(hostchain.as_str())
            .bind(AnchorState::Final.as_str())
            .bind(AnchorState::Failed.as_str());
        self.rows_with("anchors", "id", query, |c| c.read()).await
    }

    /// The `limit` final anchors of `hostchain` with the highest sequences: those a reorg deeper
    /// than the confirmation depth could still undo, rechecked after they became final.
    pub async fn recent_final_anchors(
        &self,
        hostchain: &HostchainId,
        limit: i64,
    ) -> Result<Vec<AnchorRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM anchors WHERE hostchain = $1 AND state = $2 \
             ORDER BY sequence DESC LIMIT $3"
        );
        let query = sqlx::query(&sql)
            .bind(hostchain.as_str())
            .bind(AnchorState::Final.as_str())
            .bind(limit);
        self.rows_with("anchors", "id", query, |c| c.read()).await
    }

    /// Anchors, newest first, optionally of one batch.
    pub async fn anchors(
        &self,
        batch: Option<BatchId>,
        limit: i64,
    ) -> Result<Vec<AnchorRow>, StoreError> {
        let rows = match batch {
            Some(b) => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM anchors WHERE batch_id = $1 ORDER BY id DESC LIMIT $2"
                );
                sqlx::query(&sql)
                    .bind(b.0)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                let sql = format!("SELECT {COLUMNS} FROM anchors ORDER BY id DESC LIMIT $1");
                sqlx::query(&sql).bind(limit).fetch_all(&self.pool).await?
            }
        };
        rows.iter().map(anchor_row).collect()
    }

    /// One anchor.
    pub async fn anchor(&self, id: AnchorId) -> Result<Option<AnchorRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM anchors WHERE id = $1");
        let query = sqlx::query(&sql).bind(id.0);
        self.first_with(("anchors", "id"), query, |c| c.read())
            .await
    }

    /// Every transaction prepared for an anchor, newest first.
    pub async fn anchor_txs(&self, anchor: &AnchorRow) -> Result<Vec<StoredTx>, StoreError> {
        self.host_txs(&anchor.hostchain, &anchor.purpose()).await
    }

    /// Stores a prepared transaction for an anchor and moves it to `prepared`, atomically.
    pub async fn record_prepared(
        &self,
        anchor: &AnchorRow,
        tx: &PreparedTx,
        reason: &str,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let mut t = self.pool.begin().await?;
        host_txs::insert(&mut t, &anchor.purpose(), tx, now).await?;
        sqlx::query(
            "UPDATE anchors SET state = $1, tx_id = $2, state_since = $3, attempts = 0, \
             next_attempt_at = 0, last_error = NULL WHERE id = $4",
        )
        .bind(AnchorState::Prepared.as_str())
        .bind(&tx.id)
        .bind(now)
        .bind(anchor.id.0)
        .execute(&mut *t)
        .await?;
        let to = AnchorState::Prepared;
        let change = Change::new(Entity::Anchor, anchor.id.0, Some(anchor.state), to);
        change.record(&mut t, reason, now).await?;
        t.commit().await?;
        Ok(())
    }

    /// Moves an anchor to `to`, recording why; `inclusion` and `confirmations` are stored with
    /// it. A move to the same state only updates them (no transition is recorded).
    pub async fn move_anchor(
        &self,
        anchor: &AnchorRow,
        to: AnchorState,
        tx_id: Option<&str>,
        inclusion: Option<&Inclusion>,
        confirmations: u64,
        reason: &str,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let inclusion = inclusion.map(|i| json_text("inclusion", i)).transpose()?;
        let since = if to == anchor.state {
            anchor.state_since
        } else {
            now
        };
        let mut t = self.pool.begin().await?;
        sqlx::query(
            "UPDATE anchors SET state = $1, tx_id = COALESCE($2, tx_id), inclusion = $3, \
             confirmations = $4, state_since = $5, attempts = 0, next_attempt_at = 0, \
             last_error = NULL WHERE id = $6",
        )
        .bind(to.as_str())
        .bind(tx_id)
        .bind(inclusion)
        .bind(int("confirmations", confirmations)?)
        .bind(since)
        .bind(anchor.id.0)
        .execute(&mut *t)
        .await?;
        if to != anchor.state {
            let change = Change::new(Entity::Anchor, anchor.id.0, Some(anchor.state), to);
            change.record(&mut t, reason, now).await?;
        }
        if anchor.state == AnchorState::Final && to != AnchorState::Final {
            // A final anchor left the hostchain's main chain: its batch is not anchored there
            // any more until it is final again.
            let undone = sqlx::query("UPDATE batches SET state = $1 WHERE id = $2 AND state = $3")
                .bind(BatchState::Anchoring.as_str())
                .bind(anchor.batch_id.0)
                .bind(BatchState::Anchored.as_str())
                .execute(&mut *t)
                .await?;
            if undone.rows_affected() > 0 {
                let (from, back) = (BatchState::Anchored, BatchState::Anchoring);
                let change = Change::new(Entity::Batch, anchor.batch_id.0, Some(from), back);
                change.record(&mut t, reason, now).await?;
            }
        }
        if to == AnchorState::Final {
            let row = sqlx::query(
                "SELECT COUNT(*) AS n FROM anchors WHERE batch_id = $1 AND state <> $2",
            )
            .bind(anchor.batch_id.0)
            .bind(AnchorState::Final.as_str())
            .fetch_one(&mut *t)
            .await?;
            if Cells::new(&row, "anchors", "count").uint("n")? == 0 {
                let done =
                    sqlx::query("UPDATE batches SET state = $1 WHERE id = $2 AND state <> $1")
                        .bind(BatchState::Anchored.as_str())
                        .bind(anchor.batch_id.0)
                        .execute(&mut *t)
                        .await?;
                if done.rows_affected() > 0 {
                    let (from, to) = (BatchState::Anchoring, BatchState::Anchored);
                    let change = Change::new(Entity::Batch, anchor.batch_id.0, Some(from), to);
                    change.record(&mut t, "every anchor is final", now).await?;
                }
            }
        }
        t.commit().await?;
        Ok(())
    }

    /// Records a failed attempt: the next one waits until `next_attempt_at` (ms).
    pub async fn record_failure(
        &self,
        anchor: &AnchorRow,
        error: &str,
        next_attempt_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE anchors SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2 \
             WHERE id = $3",
        )
        .bind(next_attempt_at)
        .bind(error)
        .bind(anchor.id.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Anchor counts by (hostchain, state).
    pub async fn anchor_counts(&self) -> Result<Vec<(HostchainId, AnchorState, u64)>, StoreError> {
        self.state_counts("anchors", AnchorState::parse).await
    }

    /// The highest block height with a final anchor on `hostchain` (0: none).
    pub async fn final_height(&self, hostchain: &HostchainId) -> Result<u64, StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE(MAX(b.to_height), 0) AS h FROM anchors a \
             JOIN batches b ON b.id = a.batch_id WHERE a.hostchain = $1 AND a.state = $2",
        )
        .bind(hostchain.as_str())
        .bind(AnchorState::Final.as_str())
        .fetch_one(&self.pool)
        .await?;
        Cells::new(&row, "anchors", "max").uint("h")
    }

    /// Whether `hostchain` has a final anchor of a batch that reaches `height`.
    pub async fn has_final_anchor_reaching(
        &self,
        hostchain: &HostchainId,
        height: u64,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM anchors a JOIN batches b ON a.batch_id = b.id \
             WHERE a.hostchain = $1 AND a.state = $2 AND b.to_height >= $3",
        )
        .bind(hostchain.as_str())
        .bind(AnchorState::Final.as_str())
        .bind(int("block height", height)?)
        .fetch_one(&self.pool)
        .await?;
        Ok(Cells::new(&row, "anchors", "count").uint("n")? > 0)
    }
}

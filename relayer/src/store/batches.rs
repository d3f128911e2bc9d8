//! Batches (`batches`): a commitment over a block range and the aggregate anchored for it, with
//! the foreign commitments (`foreign_commitments`) and scout reports it carries. A batch is
//! created with one pending anchor per hostchain, in one database transaction.

use serde::{Deserialize, Serialize};
use symbiote::codec::Canonical;
use symbiote::commitment::{Aggregate, Commitment};
use symbiote::hash::Hash;
use symbiote::types::{HostchainId, Sequence};

use super::anchors::AnchorId;
use super::states::Entity;
use super::states::{AnchorState, BatchState};
use super::transitions::Change;
use super::{Cells, Store, StoreError, int, now_ms};

super::row_id!(
    /// A batch's row id.
    BatchId
);

/// One batch as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BatchRow {
    pub id: BatchId,
    pub from_height: u64,
    pub to_height: u64,
    pub aggregate_root: Hash,
    pub state: BatchState,
    pub created_at: i64,
}

/// A foreign commitment waiting for the next batch: its row id and the commitment.
pub type PendingForeign = (i64, Commitment);

fn batch_row(r: &sqlx::any::AnyRow) -> Result<BatchRow, StoreError> {
    Cells::new(r, "batches", "id").read()
}

impl Store {
    /// The last block covered by a batch (0: none).
    pub async fn last_batched_height(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(to_height), 0) AS h FROM batches")
            .fetch_one(&self.pool)
            .await?;
        Cells::new(&row, "batches", "max").uint("h")
    }

    /// Foreign commitments not yet in a batch: (id, commitment).
    pub async fn pending_foreign(&self) -> Result<Vec<PendingForeign>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, commitment FROM foreign_commitments WHERE batch_id IS NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let cells = Cells::new(r, "foreign_commitments", "id");
                Ok((cells.get("id")?, cells.decoded("commitment")?))
            })
            .collect()
    }

    /// Accepts a foreign symbiote's commitment for the next aggregate; `false` if known.
    pub async fn add_foreign(&self, commitment: &Commitment) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO foreign_commitments (hash, symbiote, commitment, received_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING",
        )
        .bind(commitment.hash().as_bytes().to_vec())
        .bind(commitment.symbiote.to_string())
        .bind(commitment.encode())
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Stores a batch, marks its foreign commitments and scout reports, and creates one pending
    /// anchor per hostchain with the next sequence number there: all in one database
    /// transaction.
    pub async fn create_batch(
        &self,
        commitment: &Commitment,
        aggregate: &Aggregate,
        foreign: &[i64],
        reports: &[Hash],
        hostchains: &[HostchainId],
    ) -> Result<BatchId, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO batches (from_height, to_height, commitment, aggregate, aggregate_root, \
             state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(int("batch start", commitment.from.get())?)
        .bind(int("batch end", commitment.to.get())?)
        .bind(commitment.encode())
        .bind(aggregate.encode())
        .bind(aggregate.root().as_bytes().to_vec())
        .bind(BatchState::Anchoring.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let batch = BatchId(Cells::new(&row, "batches", "id").get("id")?);
        let reason = format!("{} hostchains", hostchains.len());
        let change = Change::new(Entity::Batch, batch.0, None, BatchState::Anchoring);
        change.record(&mut tx, &reason, now).await?;
        for id in foreign {
            sqlx::query("UPDATE foreign_commitments SET batch_id = $1 WHERE id = $2")
                .bind(batch.0)
                .bind(*id)
                .execute(&mut *tx)
                .await?;
        }
        for hash in reports {
            sqlx::query("UPDATE scout_reports SET batch_id = $1 WHERE hash = $2")
                .bind(batch.0)
                .bind(hash.to_string())
                .execute(&mut *tx)
                .await?;
        }
        for chain in hostchains {
            let row = sqlx::query(
                "SELECT COALESCE(MAX(sequence), 0) + 1 AS s FROM anchors WHERE hostchain = $1",
            )
            .bind(chain.as_str())
            .fetch_one(&mut *tx)
            .await?;
            let sequence = Sequence::new(Cells::new(&row, "anchors", "max").uint("s")?);
            let row = sqlx::query(
                "INSERT INTO anchors (batch_id, hostchain, sequence, state, state_since) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(batch.0)
            .bind(chain.as_str())
            .bind(int("anchor sequence", sequence.get())?)
            .bind(AnchorState::Pending.as_str())
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let anchor = AnchorId(Cells::new(&row, "anchors", "id").get("id")?);
            let change = Change::new(Entity::Anchor, anchor.0, None, AnchorState::Pending);
            change
                .record(&mut tx, &format!("batch {batch}"), now)
                .await?;
        }
        tx.commit().await?;
        Ok(batch)
    }

    /// The stored commitment and aggregate of a batch.
    pub async fn batch_contents(
        &self,
        batch: BatchId,
    ) -> Result<Option<(Commitment, Aggregate)>, StoreError> {
        let query = sqlx::query("SELECT id, commitment, aggregate FROM batches WHERE id = $1")
            .bind(batch.0);
        self.first_with(("batches", "id"), query, |c| {
            Ok((c.decoded("commitment")?, c.decoded("aggregate")?))
        })
        .await
    }

    /// The batch covering `height`.
    pub async fn batch_containing(&self, height: u64) -> Result<Option<BatchRow>, StoreError> {
        let rows = self
            .batch_rows(
                "WHERE from_height <= $1 AND to_height >= $1",
                Some(int("block height", height)?),
                1,
                0,
            )
            .await?;
        Ok(rows.into_iter().next())
    }

    /// Batches, newest first.
    pub async fn batches(&self, limit: i64, offset: i64) -> Result<Vec<BatchRow>, StoreError> {
        self.batch_rows("", None, limit, offset).await
    }

    /// One batch.
    pub async fn batch(&self, id: BatchId) -> Result<Option<BatchRow>, StoreError> {
        Ok(self
            .batch_rows("WHERE id = $1", Some(id.0), 1, 0)
            .await?
            .into_iter()
            .next())
    }

    async fn batch_rows(
        &self,
        filter: &str,
        arg: Option<i64>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<BatchRow>, StoreError> {
        let (l, o) = if arg.is_some() {
            ("$2", "$3")
        } else {
            ("$1", "$2")
        };
        let sql = format!(
            "SELECT id, from_height, to_height, aggregate_root, state, created_at FROM batches \
             {filter} ORDER BY id DESC LIMIT {l} OFFSET {o}"
        );
        let mut query = sqlx::query(&sql);
        if let Some(a) = arg {
            query = query.bind(a);
        }
        let rows = query.bind(limit).bind(offset).fetch_all(&self.pool).await?;
        rows.iter().map(batch_row).collect()
    }

    /// The number of batches.
    pub async fn batch_count(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM batches")
            .fetch_one(&self.pool)
            .await?;
        Cells::new(&row, "batches", "count").uint("n")
    }
}

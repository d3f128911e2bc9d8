//! The relayer's store: SQLite by default, PostgreSQL by URL, through sqlx's `Any` driver with
//! one SQL dialect (`$N` placeholders work in both) and one migration folder per backend
//! (`migrations/relayer/sqlite`, `migrations/relayer/postgres`).
//!
//! Persisted states: `anchors.state` holds [`AnchorState::as_str`] and `batches.state` holds
//! `anchoring` or `anchored`. Renaming a state breaks stored data.

mod bridge;

use std::time::{SystemTime, UNIX_EPOCH};

pub use bridge::{DepositRow, DepositState, ReleaseRow, ReleaseStep, ReportRow};

use chain_adapters::{Inclusion, PreparedTx};
use serde::Serialize;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};
use symbiote::block::ChainBlock;
use symbiote::block::Header;
use symbiote::codec::{Canonical, CodecError};
use symbiote::commitment::{Aggregate, Commitment};
use symbiote::hash::Hash;
use symbiote::types::HostchainId;
use symbiote::validators::ValidatorSet;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(
        "the database was migrated by a newer relayer (migration {0} is unknown to this version); \
         run a relayer at least as new as the one that last used it, or use another database"
    )]
    NewerDatabase(i64),
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database URL must start with sqlite:// or postgres://, got '{0}'")]
    Scheme(String),
}

impl From<CodecError> for StoreError {
    fn from(e: CodecError) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

/// Where an anchor stands. Persisted: see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnchorState {
    /// Created with its batch; no transaction yet.
    Pending,
    /// A signed transaction is stored, not yet sent.
    Prepared,
    /// Sent; waiting for inclusion.
    Broadcast,
    /// Included, not yet past the confirmation depth.
    Included,
    /// Past the confirmation depth (or finalized): done.
    Final,
    /// Refused for good; needs an operator.
    Failed,
}

impl AnchorState {
    pub const ALL: [AnchorState; 6] = [
        AnchorState::Pending,
        AnchorState::Prepared,
        AnchorState::Broadcast,
        AnchorState::Included,
        AnchorState::Final,
        AnchorState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AnchorState::Pending => "pending",
            AnchorState::Prepared => "prepared",
            AnchorState::Broadcast => "broadcast",
            AnchorState::Included => "included",
            AnchorState::Final => "final",
            AnchorState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Result<Self, StoreError> {
        AnchorState::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown anchor state '{text}'")))
    }
}

/// One anchor as stored.
#[derive(Clone, Debug, Serialize)]
pub struct AnchorRow {
    pub id: i64,
    pub batch_id: i64,
    pub hostchain: String,
    pub sequence: u64,
    pub state: AnchorState,
    pub tx_id: Option<String>,
    pub inclusion: Option<Inclusion>,
    pub confirmations: u64,
    pub attempts: u64,
    pub next_attempt_at: i64,
    pub state_since: i64,
    pub last_error: Option<String>,
}

/// One batch as stored.
#[derive(Clone, Debug, Serialize)]
pub struct BatchRow {
    pub id: i64,
    pub from_height: u64,
    pub to_height: u64,
    pub aggregate_root: Hash,
    pub state: String,
    pub created_at: i64,
}

/// One recorded state change.
#[derive(Clone, Debug, Serialize)]
pub struct Transition {
    pub from: Option<String>,
    pub to: String,
    pub reason: String,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

fn int(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value)
        .map_err(|_| StoreError::Corrupt(format!("{value} does not fit the database")))
}

fn uint(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative value {value} stored")))
}

fn hash(bytes: &[u8]) -> Result<Hash, StoreError> {
    <[u8; 32]>::try_from(bytes)
        .map(Hash)
        .map_err(|_| StoreError::Corrupt(format!("hash of {} bytes", bytes.len())))
}

/// The relayer's database.
#[derive(Clone)]
pub struct Store {
    /// Connection pool (SQLite or PostgreSQL).
    pool: AnyPool,
    /// Whether the backend is PostgreSQL (for backend-specific features such as advisory locks).
    postgres: bool,
}

impl Store {
    /// Connects to `url` (creating a SQLite file if missing) and applies the migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        install_default_drivers();
        let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
        let connect_url = if let Some(path) = url.strip_prefix("sqlite://") {
            if path.contains('?') {
                url.to_string()
            } else {
                format!("sqlite://{path}?mode=rwc")
            }
        } else if postgres {
            url.to_string()
        } else {
            return Err(StoreError::Scheme(url.to_string()));
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if postgres { 8 } else { 1 })
            .connect(&connect_url)
            .await
            .map_err(|source| StoreError::Connect {
                url: redact(url),
                source,
            })?;
        let migrated = if postgres {
            sqlx::migrate!("../migrations/relayer/postgres")
                .run(&pool)
                .await
        } else {
            sqlx::migrate!("../migrations/relayer/sqlite")
                .run(&pool)
                .await
        };
        match migrated {
            Ok(()) => {}
            Err(sqlx::migrate::MigrateError::VersionMissing(version)) => {
                return Err(StoreError::NewerDatabase(version));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(Store { pool, postgres })
    }

    /// Whether this store is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.postgres
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    // ---- follower ----

    /// The follower's light-client state: last verified header and the set signing the next.
    pub async fn follower_state(&self) -> Result<Option<(Header, ValidatorSet)>, StoreError> {
        let row = sqlx::query("SELECT header, validators FROM follower WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(Some((
                Header::decode(&row.try_get::<Vec<u8>, _>("header")?)?,
                ValidatorSet::decode(&row.try_get::<Vec<u8>, _>("validators")?)?,
            ))),
            None => Ok(None),
        }
    }

    /// Stores a verified block with the light-client state after it, atomically.
    pub async fn store_block(
        &self,
        block: &ChainBlock,
        head: &Header,
        trusted: &ValidatorSet,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO blocks (height, hash, finalized, received_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(int(block.block.header.height.get())?)
        .bind(block.block.header.hash().as_bytes().to_vec())
        .bind(block.encode())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM follower WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO follower (id, header, validators) VALUES (1, $1, $2)")
            .bind(head.encode())
            .bind(trusted.encode())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The highest stored block height (0: none).
    pub async fn head_height(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(height), 0) AS h FROM blocks")
            .fetch_one(&self.pool)
            .await?;
        uint(row.try_get::<i64, _>("h")?)
    }

    /// A stored block.
    pub async fn block(&self, height: u64) -> Result<Option<ChainBlock>, StoreError> {
        let row = sqlx::query("SELECT finalized FROM blocks WHERE height = $1")
            .bind(int(height)?)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(Some(ChainBlock::decode(
                &row.try_get::<Vec<u8>, _>("finalized")?,
            )?)),
            None => Ok(None),
        }
    }

    /// The hashes of stored blocks `from..=to`, in order.
    pub async fn block_hashes(&self, from: u64, to: u64) -> Result<Vec<Hash>, StoreError> {
        let rows = sqlx::query(
            "SELECT hash FROM blocks WHERE height >= $1 AND height <= $2 ORDER BY height",
        )
        .bind(int(from)?)
        .bind(int(to)?)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| hash(&r.try_get::<Vec<u8>, _>("hash")?))
            .collect()
    }

    /// When block `height` was received (ms), if stored.
    pub async fn received_at(&self, height: u64) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT received_at FROM blocks WHERE height = $1")
            .bind(int(height)?)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get::<i64, _>("received_at")?),
            None => None,
        })
    }

    // ---- batches ----

    /// The last block covered by a batch (0: none).
    pub async fn last_batched_height(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(to_height), 0) AS h FROM batches")
            .fetch_one(&self.pool)
            .await?;
        uint(row.try_get::<i64, _>("h")?)
    }

    /// Foreign commitments not yet in a batch: (id, commitment).
    pub async fn pending_foreign(&self) -> Result<Vec<(i64, Commitment)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, commitment FROM foreign_commitments WHERE batch_id IS NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<i64, _>("id")?,
                    Commitment::decode(&r.try_get::<Vec<u8>, _>("commitment")?)?,
                ))
            })
            .collect()
    }

    /// Accepts a foreign symbiote's commitment for the next aggregate; `false` if known.
    pub async fn add_foreign(&self, commitment: &Commitment) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO foreign_commitments (hash, symbiote, commitment, received_at) VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING",
        )
        .bind(commitment.hash().as_bytes().to_vec())
        .bind(commitment.symbiote.to_string())
        .bind(commitment.encode())
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Stores a batch, marks its foreign commitments, and creates one pending anchor per
    /// hostchain with the next sequence number there: all in one database transaction.
    pub async fn create_batch(
        &self,
        commitment: &Commitment,
        aggregate: &Aggregate,
        foreign: &[i64],
        reports: &[String],
        hostchains: &[HostchainId],
    ) -> Result<i64, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO batches (from_height, to_height, commitment, aggregate, aggregate_root, state, created_at) VALUES ($1, $2, $3, $4, $5, 'anchoring', $6) RETURNING id",
        )
        .bind(int(commitment.from.get())?)
        .bind(int(commitment.to.get())?)
        .bind(commitment.encode())
        .bind(aggregate.encode())
        .bind(aggregate.root().as_bytes().to_vec())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let batch: i64 = row.try_get("id")?;
        record(
            &mut tx,
            "batch",
            batch,
            None,
            "anchoring",
            &format!("{} hostchains", hostchains.len()),
            now,
        )
        .await?;
        for id in foreign {
            sqlx::query("UPDATE foreign_commitments SET batch_id = $1 WHERE id = $2")
                .bind(batch)
                .bind(*id)
                .execute(&mut *tx)
                .await?;
        }
        for hash in reports {
            sqlx::query("UPDATE scout_reports SET batch_id = $1 WHERE hash = $2")
                .bind(batch)
                .bind(hash)
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
            let sequence: i64 = row.try_get("s")?;
            let row = sqlx::query(
                "INSERT INTO anchors (batch_id, hostchain, sequence, state, state_since) VALUES ($1, $2, $3, 'pending', $4) RETURNING id",
            )
            .bind(batch)
            .bind(chain.as_str())
            .bind(sequence)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let anchor: i64 = row.try_get("id")?;
            record(
                &mut tx,
                "anchor",
                anchor,
                None,
                "pending",
                &format!("batch {batch}"),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(batch)
    }

    /// The stored commitment and aggregate of a batch.
    pub async fn batch_contents(
        &self,
        batch: i64,
    ) -> Result<Option<(Commitment, Aggregate)>, StoreError> {
        let row = sqlx::query("SELECT commitment, aggregate FROM batches WHERE id = $1")
            .bind(batch)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(Some((
                Commitment::decode(&r.try_get::<Vec<u8>, _>("commitment")?)?,
                Aggregate::decode(&r.try_get::<Vec<u8>, _>("aggregate")?)?,
            ))),
            None => Ok(None),
        }
    }

    /// The batch covering `height`.
    pub async fn batch_containing(&self, height: u64) -> Result<Option<BatchRow>, StoreError> {
        let rows = self
            .batch_rows(
                "WHERE from_height <= $1 AND to_height >= $1",
                Some(int(height)?),
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
    pub async fn batch(&self, id: i64) -> Result<Option<BatchRow>, StoreError> {
        Ok(self
            .batch_rows("WHERE id = $1", Some(id), 1, 0)
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
            "SELECT id, from_height, to_height, aggregate_root, state, created_at FROM batches {filter} ORDER BY id DESC LIMIT {l} OFFSET {o}"
        );
        let mut query = sqlx::query(&sql);
        if let Some(a) = arg {
            query = query.bind(a);
        }
        let rows = query.bind(limit).bind(offset).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(BatchRow {
                    id: r.try_get("id")?,
                    from_height: uint(r.try_get("from_height")?)?,
                    to_height: uint(r.try_get("to_height")?)?,
                    aggregate_root: hash(&r.try_get::<Vec<u8>, _>("aggregate_root")?)?,
                    state: r.try_get("state")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    // ---- anchors ----

    fn anchor_row(r: &sqlx::any::AnyRow) -> Result<AnchorRow, StoreError> {
        let inclusion: Option<String> = r.try_get("inclusion")?;
        Ok(AnchorRow {
            id: r.try_get("id")?,
            batch_id: r.try_get("batch_id")?,
            hostchain: r.try_get("hostchain")?,
            sequence: uint(r.try_get("sequence")?)?,
            state: AnchorState::parse(&r.try_get::<String, _>("state")?)?,
            tx_id: r.try_get("tx_id")?,
            inclusion: inclusion
                .map(|i| serde_json::from_str(&i))
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("anchor inclusion: {e}")))?,
            confirmations: uint(r.try_get("confirmations")?)?,
            attempts: uint(r.try_get("attempts")?)?,
            next_attempt_at: r.try_get("next_attempt_at")?,
            state_since: r.try_get("state_since")?,
            last_error: r.try_get("last_error")?,
        })
    }

    const ANCHOR_COLUMNS: &'static str = "id, batch_id, hostchain, sequence, state, tx_id, inclusion, confirmations, attempts, next_attempt_at, state_since, last_error";

    /// Anchors of `hostchain` that are not done, lowest sequence first.
    pub async fn open_anchors(&self, hostchain: &str) -> Result<Vec<AnchorRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM anchors WHERE hostchain = $1 AND state NOT IN ('final', 'failed') ORDER BY sequence",
            Self::ANCHOR_COLUMNS
        );
        let rows = sqlx::query(&sql)
            .bind(hostchain)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::anchor_row).collect()
    }

    /// Anchors, newest first, optionally of one batch.
    pub async fn anchors(
        &self,
        batch: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AnchorRow>, StoreError> {
        let rows = match batch {
            Some(b) => {
                let sql = format!(
                    "SELECT {} FROM anchors WHERE batch_id = $1 ORDER BY id DESC LIMIT $2",
                    Self::ANCHOR_COLUMNS
                );
                sqlx::query(&sql)
                    .bind(b)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                let sql = format!(
                    "SELECT {} FROM anchors ORDER BY id DESC LIMIT $1",
                    Self::ANCHOR_COLUMNS
                );
                sqlx::query(&sql).bind(limit).fetch_all(&self.pool).await?
            }
        };
        rows.iter().map(Self::anchor_row).collect()
    }

    /// One anchor.
    pub async fn anchor(&self, id: i64) -> Result<Option<AnchorRow>, StoreError> {
        let sql = format!("SELECT {} FROM anchors WHERE id = $1", Self::ANCHOR_COLUMNS);
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::anchor_row).transpose()
    }

    /// Every transaction prepared for an anchor, newest first.
    pub async fn anchor_txs(&self, anchor: i64) -> Result<Vec<PreparedTx>, StoreError> {
        let rows =
            sqlx::query("SELECT prepared FROM anchor_txs WHERE anchor_id = $1 ORDER BY id DESC")
                .bind(anchor)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                serde_json::from_str(&r.try_get::<String, _>("prepared")?)
                    .map_err(|e| StoreError::Corrupt(format!("prepared transaction: {e}")))
            })
            .collect()
    }

    /// Stores a prepared transaction for an anchor and moves it to `prepared`, atomically.
    pub async fn record_prepared(
        &self,
        anchor: &AnchorRow,
        tx: &PreparedTx,
        reason: &str,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let prepared = serde_json::to_string(tx).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut t = self.pool.begin().await?;
        sqlx::query("INSERT INTO anchor_txs (anchor_id, tx_id, prepared, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (anchor_id, tx_id) DO NOTHING")
            .bind(anchor.id)
            .bind(&tx.id)
            .bind(prepared)
            .bind(now)
            .execute(&mut *t)
            .await?;
        sqlx::query("UPDATE anchors SET state = 'prepared', tx_id = $1, state_since = $2, attempts = 0, next_attempt_at = 0, last_error = NULL WHERE id = $3")
            .bind(&tx.id)
            .bind(now)
            .bind(anchor.id)
            .execute(&mut *t)
            .await?;
        record(
            &mut t,
            "anchor",
            anchor.id,
            Some(anchor.state.as_str()),
            "prepared",
            reason,
            now,
        )
        .await?;
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
        let inclusion = inclusion
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let since = if to == anchor.state {
            anchor.state_since
        } else {
            now
        };
        let mut t = self.pool.begin().await?;
        sqlx::query("UPDATE anchors SET state = $1, tx_id = COALESCE($2, tx_id), inclusion = $3, confirmations = $4, state_since = $5, attempts = 0, next_attempt_at = 0, last_error = NULL WHERE id = $6")
            .bind(to.as_str())
            .bind(tx_id)
            .bind(inclusion)
            .bind(int(confirmations)?)
            .bind(since)
            .bind(anchor.id)
            .execute(&mut *t)
            .await?;
        if to != anchor.state {
            record(
                &mut t,
                "anchor",
                anchor.id,
                Some(anchor.state.as_str()),
                to.as_str(),
                reason,
                now,
            )
            .await?;
        }
        if to == AnchorState::Final {
            let row = sqlx::query(
                "SELECT COUNT(*) AS n FROM anchors WHERE batch_id = $1 AND state <> 'final'",
            )
            .bind(anchor.batch_id)
            .fetch_one(&mut *t)
            .await?;
            if row.try_get::<i64, _>("n")? == 0 {
                let done = sqlx::query(
                    "UPDATE batches SET state = 'anchored' WHERE id = $1 AND state <> 'anchored'",
                )
                .bind(anchor.batch_id)
                .execute(&mut *t)
                .await?;
                if done.rows_affected() > 0 {
                    record(
                        &mut t,
                        "batch",
                        anchor.batch_id,
                        Some("anchoring"),
                        "anchored",
                        "every anchor is final",
                        now,
                    )
                    .await?;
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
        sqlx::query("UPDATE anchors SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2 WHERE id = $3")
            .bind(next_attempt_at)
            .bind(error)
            .bind(anchor.id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every state change of a `batch` or `anchor`, oldest first.
    pub async fn transitions(&self, entity: &str, id: i64) -> Result<Vec<Transition>, StoreError> {
        let rows = sqlx::query("SELECT from_state, to_state, reason, at FROM transitions WHERE entity = $1 AND entity_id = $2 ORDER BY id")
            .bind(entity)
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Transition {
                    from: r.try_get("from_state")?,
                    to: r.try_get("to_state")?,
                    reason: r.try_get("reason")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    /// Anchor counts by (hostchain, state).
    pub async fn anchor_counts(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        self.state_counts("anchors").await
    }

    /// Row counts of `table` (one of this store's tables with `hostchain` and `state` columns)
    /// by (hostchain, state).
    pub(crate) async fn state_counts(
        &self,
        table: &'static str,
    ) -> Result<Vec<(String, String, u64)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT hostchain, state, COUNT(*) AS n FROM {table} GROUP BY hostchain, state"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("hostchain")?,
                    r.try_get("state")?,
                    uint(r.try_get("n")?)?,
                ))
            })
            .collect()
    }

    /// The highest block height with a final anchor on `hostchain` (0: none).
    pub async fn final_height(&self, hostchain: &str) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(b.to_height), 0) AS h FROM anchors a JOIN batches b ON b.id = a.batch_id WHERE a.hostchain = $1 AND a.state = 'final'")
            .bind(hostchain)
            .fetch_one(&self.pool)
            .await?;
        uint(row.try_get("h")?)
    }

    /// The number of batches.
    pub async fn batch_count(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM batches")
            .fetch_one(&self.pool)
            .await?;
        uint(row.try_get("n")?)
    }

    // ---- replicas and the roles they run (see `crate::leader`) ----

    /// A connection of its own, detached from the pool for as long as the caller keeps it. A
    /// PostgreSQL advisory lock belongs to the session that took it: a lease holds it on a
    /// connection that no other query can borrow and that the pool cannot close or recycle.
    pub async fn dedicated_connection(&self) -> Result<sqlx::AnyConnection, StoreError> {
        Ok(self.pool.acquire().await?.detach())
    }

    /// Records `worker` as running its role, replacing whoever was recorded, through `conn`
    /// (the lock session of the role on PostgreSQL, so that only a live holder can write it).
    pub async fn record_worker_on(
        conn: &mut sqlx::AnyConnection,
        worker: &crate::leader::WorkerRow,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO workers (role, replica, since, heartbeat) VALUES ($1, $2, $3, $4) ON CONFLICT (role) DO UPDATE SET replica = excluded.replica, since = excluded.since, heartbeat = excluded.heartbeat")
            .bind(&worker.role)
            .bind(&worker.replica)
            .bind(worker.since)
            .bind(worker.heartbeat)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// [`Store::record_worker_on`] through the pool.
    pub async fn record_worker(&self, worker: &crate::leader::WorkerRow) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        Self::record_worker_on(&mut conn, worker).await
    }

    /// Forgets that `replica` runs `role` (if another replica is recorded by now, it stays).
    pub async fn remove_worker_on(
        conn: &mut sqlx::AnyConnection,
        role: &str,
        replica: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM workers WHERE role = $1 AND replica = $2")
            .bind(role)
            .bind(replica)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// [`Store::remove_worker_on`] through the pool.
    pub async fn remove_worker(&self, role: &str, replica: &str) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        Self::remove_worker_on(&mut conn, role, replica).await
    }

    fn worker_row(r: &sqlx::any::AnyRow) -> Result<crate::leader::WorkerRow, StoreError> {
        Ok(crate::leader::WorkerRow {
            role: r.try_get("role")?,
            replica: r.try_get("replica")?,
            since: r.try_get("since")?,
            heartbeat: r.try_get("heartbeat")?,
        })
    }

    /// The replica recorded as running `role`.
    pub async fn worker(&self, role: &str) -> Result<Option<crate::leader::WorkerRow>, StoreError> {
        let row =
            sqlx::query("SELECT role, replica, since, heartbeat FROM workers WHERE role = $1")
                .bind(role)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(Self::worker_row).transpose()
    }

    /// Every recorded role and the replica running it, by role.
    pub async fn workers(&self) -> Result<Vec<crate::leader::WorkerRow>, StoreError> {
        let rows = sqlx::query("SELECT role, replica, since, heartbeat FROM workers ORDER BY role")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::worker_row).collect()
    }

    /// Records that `replica` runs (its heartbeat), through `conn`, and forgets replicas not
    /// heard of since `forget_before` (ms).
    pub async fn record_replica_on(
        conn: &mut sqlx::AnyConnection,
        replica: &crate::leader::ReplicaRow,
        forget_before: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO replicas (replica, started_at, heartbeat) VALUES ($1, $2, $3) ON CONFLICT (replica) DO UPDATE SET started_at = excluded.started_at, heartbeat = excluded.heartbeat")
            .bind(&replica.replica)
            .bind(replica.started_at)
            .bind(replica.heartbeat)
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM replicas WHERE heartbeat < $1")
            .bind(forget_before)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// [`Store::record_replica_on`] through the pool.
    pub async fn record_replica(
        &self,
        replica: &crate::leader::ReplicaRow,
        forget_before: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        Self::record_replica_on(&mut conn, replica, forget_before).await
    }

    /// Forgets a replica that stops.
    pub async fn remove_replica(&self, replica: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM replicas WHERE replica = $1")
            .bind(replica)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every recorded replica, by id.
    pub async fn replicas(&self) -> Result<Vec<crate::leader::ReplicaRow>, StoreError> {
        let rows =
            sqlx::query("SELECT replica, started_at, heartbeat FROM replicas ORDER BY replica")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(crate::leader::ReplicaRow {
                    replica: r.try_get("replica")?,
                    started_at: r.try_get("started_at")?,
                    heartbeat: r.try_get("heartbeat")?,
                })
            })
            .collect()
    }
}

async fn record(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    entity: &str,
    id: i64,
    from: Option<&str>,
    to: &str,
    reason: &str,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO transitions (entity, entity_id, from_state, to_state, reason, at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(entity)
        .bind(id)
        .bind(from)
        .bind(to)
        .bind(reason)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("sqlite://relayer.sqlite"), "sqlite://relayer.sqlite");
    }

    #[test]
    fn anchor_states_round_trip() {
        for state in AnchorState::ALL {
            assert_eq!(AnchorState::parse(state.as_str()).unwrap(), state);
        }
        assert!(AnchorState::parse("lost").is_err());
    }
}

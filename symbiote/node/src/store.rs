//! The node's chain store: finalized blocks, the state after the last one, this validator's
//! votes and own proposals, in SQLite through sqlx (migrations in `migrations/symbiote`).
//!
//! A block and the state after it are written in one database transaction, so a node killed at
//! any instant restarts at its last finalized block with the matching state.

use std::path::Path;
use std::str::FromStr;

use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use symbiote::block::{Block, ChainBlock};
use symbiote::codec::{Canonical, CodecError};
use symbiote::hash::Hash;
use symbiote::state::ChainState;
use symbiote::tx::SignedTransaction;
use symbiote::types::Height;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(#[from] CodecError),
    #[error("height {0} does not fit the database's integer type")]
    HeightRange(u64),
    #[error("block {given} at height {height} conflicts with the stored block {stored}")]
    ConflictingBlock {
        height: Height,
        stored: String,
        given: Hash,
    },
    #[error(
        "already voted for block {existing} at height {height}, refusing to vote for {requested}"
    )]
    ConflictingVote {
        height: Height,
        existing: Hash,
        requested: Hash,
    },
}

/// The node's SQLite store.
#[derive(Clone)]
pub struct Store {
    /// Connection pool; SQLite serializes writers.
    pool: SqlitePool,
}

fn sql_height(height: Height) -> Result<i64, StoreError> {
    i64::try_from(height.get()).map_err(|_| StoreError::HeightRange(height.get()))
}

fn hash_from(bytes: &[u8]) -> Result<Hash, StoreError> {
    let array: [u8; 32] = bytes.try_into().map_err(|_| {
        StoreError::Corrupt(CodecError::Malformed {
            kind: "hash",
            reason: format!("{} bytes instead of 32", bytes.len()),
        })
    })?;
    Ok(Hash(array))
}

impl Store {
    /// Opens (creating if needed) the database at `path` and applies the migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|source| StoreError::Open {
                path: path.display().to_string(),
                source,
            })?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Votes must be on disk before they leave the process.
            .synchronous(SqliteSynchronous::Full);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: path.display().to_string(),
                source,
            })?;
        sqlx::migrate!("../../migrations/symbiote")
            .run(&pool)
            .await?;
        Ok(Store { pool })
    }

    /// The state after the last stored block, if any block (or genesis) was stored.
    pub async fn load_state(&self) -> Result<Option<ChainState>, StoreError> {
        let row = sqlx::query("SELECT encoded FROM chain_state WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => {
                let bytes: Vec<u8> = row.try_get("encoded")?;
                Ok(Some(ChainState::decode(&bytes)?))
            }
            None => Ok(None),
        }
    }

    /// Stores the genesis state (height 0) if nothing is stored yet.
    pub async fn init_genesis(&self, state: &ChainState) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO chain_state (id, height, encoded) VALUES (1, 0, ?) ON CONFLICT (id) DO NOTHING",
        )
        .bind(state.encode())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores a finalized block and the state after it, atomically.
    pub async fn commit_block(
        &self,
        block: &ChainBlock,
        state: &ChainState,
    ) -> Result<(), StoreError> {
        let height = sql_height(block.block.header.height)?;
        let hash = block.block.header.hash();
        let mut tx = self.pool.begin().await?;
        // Committing the same block again (after a commit whose caller gave up once the
        // database had it) is harmless; another block at a stored height is refused.
        let existing = sqlx::query("SELECT hash FROM blocks WHERE height = ?")
            .bind(height)
            .fetch_optional(&mut *tx)
            .await?;
        match existing {
            Some(row) => {
                let stored: Vec<u8> = row.try_get("hash")?;
                if stored.as_slice() != hash.as_bytes().as_slice() {
                    return Err(StoreError::ConflictingBlock {
                        height: block.block.header.height,
                        stored: hex::encode(stored),
                        given: hash,
                    });
                }
            }
            None => {
                sqlx::query("INSERT INTO blocks (height, hash, finalized) VALUES (?, ?, ?)")
                    .bind(height)
                    .bind(hash.as_bytes().as_slice())
                    .bind(block.encode())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for transaction in &block.block.transactions {
            sqlx::query("INSERT OR IGNORE INTO transactions (hash, height) VALUES (?, ?)")
                .bind(transaction.hash().as_bytes().as_slice())
                .bind(height)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE chain_state SET height = ?, encoded = ? WHERE id = 1")
            .bind(height)
            .bind(state.encode())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM own_proposals WHERE height <= ?")
            .bind(height)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The finalized block at `height`, in its canonical encoding.
    pub async fn block_bytes(&self, height: Height) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT finalized FROM blocks WHERE height = ?")
            .bind(sql_height(height)?)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => Some(row.try_get("finalized")?),
            None => None,
        })
    }

    /// The finalized block at `height`.
    pub async fn block(&self, height: Height) -> Result<Option<ChainBlock>, StoreError> {
        match self.block_bytes(height).await? {
            Some(bytes) => Ok(Some(ChainBlock::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    /// The hashes of the blocks `from..=to` in order (fewer if some are missing).
    pub async fn block_hashes(&self, from: Height, to: Height) -> Result<Vec<Hash>, StoreError> {
        let rows =
            sqlx::query("SELECT hash FROM blocks WHERE height BETWEEN ? AND ? ORDER BY height")
                .bind(sql_height(from)?)
                .bind(sql_height(to)?)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| hash_from(&row.try_get::<Vec<u8>, _>("hash")?))
            .collect()
    }

    /// The height of the block that included transaction `hash`.
    pub async fn transaction_height(&self, hash: &Hash) -> Result<Option<Height>, StoreError> {
        let row = sqlx::query("SELECT height FROM transactions WHERE hash = ?")
            .bind(hash.as_bytes().as_slice())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => {
                let height: i64 = row.try_get("height")?;
                Ok(u64::try_from(height).ok().map(Height::new))
            }
            None => Ok(None),
        }
    }

    /// Records this validator's vote for `block_hash` at `height`, or refuses if it already
    /// voted for a different block there. Voting again for the same block is allowed.
    pub async fn record_vote(&self, height: Height, block_hash: &Hash) -> Result<(), StoreError> {
        let h = sql_height(height)?;
        sqlx::query(
            "INSERT INTO votes (height, block_hash) VALUES (?, ?) ON CONFLICT (height) DO NOTHING",
        )
        .bind(h)
        .bind(block_hash.as_bytes().as_slice())
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT block_hash FROM votes WHERE height = ?")
            .bind(h)
            .fetch_one(&self.pool)
            .await?;
        let existing = hash_from(&row.try_get::<Vec<u8>, _>("block_hash")?)?;
        if &existing != block_hash {
            return Err(StoreError::ConflictingVote {
                height,
                existing,
                requested: *block_hash,
            });
        }
        Ok(())
    }

    /// The block this node proposed at `height`, if it proposed one and it is not final yet.
    pub async fn own_proposal(
        &self,
        height: Height,
    ) -> Result<Option<Block<SignedTransaction>>, StoreError> {
        let row = sqlx::query("SELECT block FROM own_proposals WHERE height = ?")
            .bind(sql_height(height)?)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => {
                let bytes: Vec<u8> = row.try_get("block")?;
                Ok(Some(Block::<SignedTransaction>::decode(&bytes)?))
            }
            None => Ok(None),
        }
    }

    /// Remembers this node's proposal for its height (before it is sent anywhere).
    pub async fn save_own_proposal(
        &self,
        block: &Block<SignedTransaction>,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO own_proposals (height, block) VALUES (?, ?) ON CONFLICT (height) DO NOTHING")
            .bind(sql_height(block.header.height)?)
            .bind(block.encode())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

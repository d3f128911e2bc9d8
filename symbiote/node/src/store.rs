//! The node's chain store: finalized blocks, the state tree's nodes and values of every height,
//! this validator's votes and own proposals, in SQLite through sqlx (migrations in
//! `migrations/symbiote`).
//!
//! A block and the tree nodes it added are written in one database transaction, so a node
//! killed at any instant restarts at its last finalized block with the matching state. The
//! latest state is loaded into memory at start ([`Store::load_state`]); older heights are read
//! from here to prove their entries ([`HistoryReader`]).

use std::path::Path;
use std::str::FromStr;

use std::sync::Arc;

use futures::TryStreamExt;
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, SqliteConnection};

use symbiote::block::{Block, ChainBlock};
use symbiote::codec::{Canonical, CodecError};
use symbiote::hash::Hash;
use symbiote::state::tree::{
    KeyHash, Node, NodeKey, OwnedValue, TreeUpdateBatch, Version, decode_node, encode_node,
    node_key_from, node_key_parts,
};
use symbiote::state::{MemoryStore, StateReader, StateUpdate, StorageError};
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
    #[error(transparent)]
    State(#[from] StorageError),
    #[error(
        "the database holds blocks up to {0} but no state tree: it was written by an earlier \
         node version; move it away and let the node sync from its peers"
    )]
    NoStateTree(Height),
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

fn height_from(value: i64) -> Result<Height, StoreError> {
    version_from(value).map(Height::new)
}

fn version_from(value: i64) -> Result<Version, StoreError> {
    u64::try_from(value).map_err(|_| {
        StoreError::Corrupt(CodecError::Malformed {
            kind: "height",
            reason: format!("{value} is negative"),
        })
    })
}

fn sql_version(version: Version) -> Result<i64, StorageError> {
    i64::try_from(version)
        .map_err(|_| StorageError::Backend(format!("version {version} does not fit SQLite")))
}

fn key_hash_from(bytes: &[u8]) -> Result<KeyHash, StoreError> {
    hash_from(bytes).map(|h| KeyHash(h.0))
}

/// The most rows one INSERT writes (three or four parameters each, well under SQLite's limit).
const ROWS_PER_INSERT: usize = 500;

/// Writes a version's new tree nodes, values and stale marks.
async fn write_tree(tx: &mut SqliteConnection, batch: &TreeUpdateBatch) -> Result<(), StoreError> {
    let nodes: Vec<(i64, Vec<u8>, Vec<u8>)> = batch
        .node_batch
        .nodes()
        .iter()
        .map(|(key, node)| {
            let (version, path) = node_key_parts(key);
            Ok((sql_version(version)?, path, encode_node(node)))
        })
        .collect::<Result<_, StorageError>>()?;
    for chunk in nodes.chunks(ROWS_PER_INSERT) {
        let mut insert =
            QueryBuilder::<Sqlite>::new("INSERT INTO state_nodes (version, path, node) ");
        insert.push_values(chunk, |mut row, (version, path, node)| {
            row.push_bind(*version).push_bind(path).push_bind(node);
        });
        insert.build().execute(&mut *tx).await?;
    }
    let values: Vec<(Vec<u8>, i64, Option<&OwnedValue>)> = batch
        .node_batch
        .values()
        .iter()
        .map(|((version, key), value)| Ok((key.0.to_vec(), sql_version(*version)?, value.as_ref())))
        .collect::<Result<_, StorageError>>()?;
    for chunk in values.chunks(ROWS_PER_INSERT) {
        let mut insert =
            QueryBuilder::<Sqlite>::new("INSERT INTO state_values (key_hash, version, value) ");
        insert.push_values(chunk, |mut row, (key, version, value)| {
            row.push_bind(key).push_bind(*version).push_bind(*value);
        });
        insert.build().execute(&mut *tx).await?;
    }
    let stale: Vec<(i64, Vec<u8>, i64)> = batch
        .stale_node_index_batch
        .iter()
        .map(|index| {
            let (version, path) = node_key_parts(&index.node_key);
            Ok((
                sql_version(version)?,
                path,
                sql_version(index.stale_since_version)?,
            ))
        })
        .collect::<Result<_, StorageError>>()?;
    for chunk in stale.chunks(ROWS_PER_INSERT) {
        let mut insert =
            QueryBuilder::<Sqlite>::new("INSERT INTO state_stale (version, path, stale_since) ");
        insert.push_values(chunk, |mut row, (version, path, since)| {
            row.push_bind(*version).push_bind(path).push_bind(*since);
        });
        insert.build().execute(&mut *tx).await?;
    }
    Ok(())
}

/// Reads the state tree of any stored height from the database. Blocking: see
/// [`Store::history`].
pub struct HistoryReader {
    pool: SqlitePool,
    runtime: tokio::runtime::Handle,
}

impl HistoryReader {
    fn backend(e: impl std::fmt::Display) -> StorageError {
        StorageError::Backend(e.to_string())
    }
}

impl StateReader for HistoryReader {
    fn node(&self, key: &NodeKey) -> Result<Option<Node>, StorageError> {
        let (version, path) = node_key_parts(key);
        let row = self
            .runtime
            .block_on(
                sqlx::query("SELECT node FROM state_nodes WHERE version = ? AND path = ?")
                    .bind(sql_version(version)?)
                    .bind(path)
                    .fetch_optional(&self.pool),
            )
            .map_err(Self::backend)?;
        row.map(|row| {
            let bytes: Vec<u8> = row.try_get("node").map_err(Self::backend)?;
            decode_node(key, &bytes)
        })
        .transpose()
    }

    fn value(&self, version: Version, key: KeyHash) -> Result<Option<OwnedValue>, StorageError> {
        let row = self
            .runtime
            .block_on(
                sqlx::query(
                    "SELECT value FROM state_values WHERE key_hash = ? AND version <= ? \
                     ORDER BY version DESC LIMIT 1",
                )
                .bind(key.0.to_vec())
                .bind(sql_version(version)?)
                .fetch_optional(&self.pool),
            )
            .map_err(Self::backend)?;
        match row {
            Some(row) => row.try_get("value").map_err(Self::backend),
            None => Ok(None),
        }
    }
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

    /// The state after the last stored block, if any block (or genesis) was stored: its height
    /// and a store that holds its tree's nodes and values (only this version's).
    pub async fn load_state(&self) -> Result<Option<(Height, Arc<MemoryStore>)>, StoreError> {
        let row = sqlx::query("SELECT height FROM state_height WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            let blocks: Option<i64> = sqlx::query_scalar("SELECT MAX(height) FROM blocks")
                .fetch_one(&self.pool)
                .await?;
            return match blocks {
                Some(height) => Err(StoreError::NoStateTree(height_from(height)?)),
                None => Ok(None),
            };
        };
        let height = height_from(row.try_get("height")?)?;
        let memory = MemoryStore::latest_only();
        let mut nodes = sqlx::query(
            "SELECT n.version, n.path, n.node FROM state_nodes n WHERE NOT EXISTS \
             (SELECT 1 FROM state_stale s WHERE s.version = n.version AND s.path = n.path)",
        )
        .fetch(&self.pool);
        while let Some(row) = nodes.try_next().await? {
            let key = node_key_from(
                version_from(row.try_get("version")?)?,
                &row.try_get::<Vec<u8>, _>("path")?,
            )?;
            let node = decode_node(&key, &row.try_get::<Vec<u8>, _>("node")?)?;
            memory.load_node(key, node);
        }
        drop(nodes);
        // SQLite returns the other columns of the row that holds the MAX.
        let mut values = sqlx::query(
            "SELECT key_hash, value, MAX(version) AS version FROM state_values GROUP BY key_hash",
        )
        .fetch(&self.pool);
        while let Some(row) = values.try_next().await? {
            let value: Option<Vec<u8>> = row.try_get("value")?;
            if let Some(value) = value {
                let key = key_hash_from(&row.try_get::<Vec<u8>, _>("key_hash")?)?;
                memory.load_value(key, version_from(row.try_get("version")?)?, value);
            }
        }
        drop(values);
        memory.set_latest(height.get());
        Ok(Some((height, memory)))
    }

    /// Stores the genesis state (height 0) if nothing is stored yet.
    pub async fn init_genesis(&self, state: &StateUpdate) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let exists = sqlx::query("SELECT height FROM state_height WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            write_tree(&mut tx, state.batch()).await?;
            sqlx::query("INSERT INTO state_height (id, height) VALUES (1, 0)")
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stores a finalized block and the state tree's nodes and values it added, atomically.
    /// Storing the same block again (after a commit whose caller gave up once the database had
    /// it) changes nothing; another block at a stored height is refused.
    pub async fn commit_block(
        &self,
        block: &ChainBlock,
        state: &StateUpdate,
    ) -> Result<(), StoreError> {
        let height = sql_height(block.block.header.height)?;
        let hash = block.block.header.hash();
        let mut tx = self.pool.begin().await?;
        let existing = sqlx::query("SELECT hash FROM blocks WHERE height = ?")
            .bind(height)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = existing {
            let stored: Vec<u8> = row.try_get("hash")?;
            if stored.as_slice() != hash.as_bytes().as_slice() {
                return Err(StoreError::ConflictingBlock {
                    height: block.block.header.height,
                    stored: hex::encode(stored),
                    given: hash,
                });
            }
            return Ok(());
        }
        sqlx::query("INSERT INTO blocks (height, hash, finalized) VALUES (?, ?, ?)")
            .bind(height)
            .bind(hash.as_bytes().as_slice())
            .bind(block.encode())
            .execute(&mut *tx)
            .await?;
        for transaction in &block.block.transactions {
            sqlx::query("INSERT OR IGNORE INTO transactions (hash, height) VALUES (?, ?)")
                .bind(transaction.hash().as_bytes().as_slice())
                .bind(height)
                .execute(&mut *tx)
                .await?;
        }
        write_tree(&mut tx, state.batch()).await?;
        sqlx::query("UPDATE state_height SET height = ? WHERE id = 1")
            .bind(height)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM own_proposals WHERE height <= ?")
            .bind(height)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A reader of the state tree of every stored height, for proofs of past heights. Its
    /// methods block: call them from a blocking task (`tokio::task::spawn_blocking`).
    pub fn history(&self) -> HistoryReader {
        HistoryReader {
            pool: self.pool.clone(),
            runtime: tokio::runtime::Handle::current(),
        }
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

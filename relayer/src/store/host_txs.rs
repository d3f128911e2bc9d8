//! Every hostchain transaction any stage prepared (`host_txs`): anchors, releases, payments of
//! queued releases, relayer-set rotations. A transaction is stored here before it leaves the
//! process, together with its owner's state move where it has one, and stays: the original and
//! every replacement of it are followed until one is final (see `crate::tracker`).

use chain_adapters::PreparedTx;
use serde::{Deserialize, Serialize};
use symbiote::types::{HostchainId, Nonce};

use super::anchors::AnchorId;
use super::cells::json_column;
use super::{Cells, Store, StoreError, json_text, now_ms};

/// What a stored transaction is for: its owner. Persisted as (`purpose`, `subject`); the names
/// never change (renaming one breaks stored data).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "purpose", content = "subject", rename_all = "snake_case")]
pub enum TxPurpose {
    /// An anchor (`subject`: the anchor's id).
    Anchor(AnchorId),
    /// The release of a withdrawal order (`subject`: its nonce).
    Release(Nonce),
    /// The payment of a release the bridge queued (`subject`: its nonce).
    ExecuteQueued(Nonce),
    /// A relayer-set rotation of one contract (`subject`: `<contract>:<rotation nonce>`).
    Rotation {
        /// The contract's name in its adapter (`anchor`, `bridge`).
        contract: String,
        /// The contract's rotation nonce the transaction carries.
        nonce: u64,
    },
}

impl TxPurpose {
    /// The stored (`purpose`, `subject`).
    pub fn key(&self) -> (&'static str, String) {
        match self {
            TxPurpose::Anchor(id) => ("anchor", id.0.to_string()),
            TxPurpose::Release(nonce) => ("release", nonce.get().to_string()),
            TxPurpose::ExecuteQueued(nonce) => ("execute_queued", nonce.get().to_string()),
            TxPurpose::Rotation { contract, nonce } => ("rotation", format!("{contract}:{nonce}")),
        }
    }
}

impl std::fmt::Display for TxPurpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (purpose, subject) = self.key();
        write!(f, "{purpose} {subject}")
    }
}

/// A stored transaction and when it was stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTx {
    /// The transaction, as it is sent.
    #[serde(rename = "prepared", deserialize_with = "json_column::deserialize")]
    pub tx: PreparedTx,
    /// When it was stored (ms since the Unix epoch): about when it was first sent.
    pub created_at: i64,
}

/// Stores `prepared` for `purpose` inside the caller's database transaction (once per id), as
/// stored at `at` (ms).
pub(crate) async fn insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    purpose: &TxPurpose,
    prepared: &PreparedTx,
    at: i64,
) -> Result<(), StoreError> {
    let (kind, subject) = purpose.key();
    sqlx::query(
        "INSERT INTO host_txs (hostchain, purpose, subject, tx_id, prepared, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (hostchain, purpose, subject, tx_id) \
         DO NOTHING",
    )
    .bind(prepared.hostchain.as_str())
    .bind(kind)
    .bind(subject)
    .bind(&prepared.id)
    .bind(json_text("prepared transaction", prepared)?)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Stores `prepared` for `purpose` (once per id): call before sending it.
    pub async fn add_host_tx(
        &self,
        purpose: &TxPurpose,
        prepared: &PreparedTx,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert(&mut tx, purpose, prepared, now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every transaction stored on `hostchain` for `purpose`, newest first.
    pub async fn host_txs(
        &self,
        hostchain: &HostchainId,
        purpose: &TxPurpose,
    ) -> Result<Vec<StoredTx>, StoreError> {
        let (kind, subject) = purpose.key();
        let rows = sqlx::query(
            "SELECT id, prepared, created_at FROM host_txs WHERE hostchain = $1 \
             AND purpose = $2 AND subject = $3 ORDER BY id DESC",
        )
        .bind(hostchain.as_str())
        .bind(kind)
        .bind(subject)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Cells::new(r, "host_txs", "id").read())
            .collect()
    }

    /// How many transactions are stored on `hostchain` for `purpose`.
    pub async fn host_tx_count(
        &self,
        hostchain: &HostchainId,
        purpose: &TxPurpose,
    ) -> Result<u64, StoreError> {
        let (kind, subject) = purpose.key();
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM host_txs WHERE hostchain = $1 AND purpose = $2 \
             AND subject = $3",
        )
        .bind(hostchain.as_str())
        .bind(kind)
        .bind(subject)
        .fetch_one(&self.pool)
        .await?;
        Cells::new(&row, "host_txs", "count").uint("n")
    }
}

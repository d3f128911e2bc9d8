//! Signed scout reports (`scout_reports`), by the hash that approvals and holds on the symbiote
//! name, with the batch whose aggregate carries each.

use serde::{Deserialize, Serialize};
use symbiote::hash::Hash;
use symbiote::types::{HostAddress, HostchainId, Nonce};

use super::batches::BatchId;
use super::{Cells, Store, StoreError, int};
use crate::scout::Verdict;

/// A stored scout report with where it applies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRow {
    pub hash: Hash,
    pub hostchain: HostchainId,
    pub address: HostAddress,
    pub block: u64,
    pub verdict: Verdict,
    pub nonce: Option<Nonce>,
    /// The report's canonical JSON.
    pub report: String,
    pub created_at: i64,
}

impl Store {
    /// Stores a signed report (once per hash).
    pub async fn add_report(&self, row: &ReportRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO scout_reports (hash, hostchain, address, block, verdict, nonce, report, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (hash) DO NOTHING",
        )
        .bind(row.hash.to_string())
        .bind(row.hostchain.as_str())
        .bind(row.address.as_str())
        .bind(int("report block", row.block)?)
        .bind(row.verdict.as_str())
        .bind(
            row.nonce
                .map(|n| int("report nonce", n.get()))
                .transpose()?,
        )
        .bind(&row.report)
        .bind(row.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Hashes of reports no batch carries yet, oldest first (at most `limit`).
    pub async fn unbatched_reports(&self, limit: i64) -> Result<Vec<Hash>, StoreError> {
        let rows = sqlx::query(
            "SELECT hash FROM scout_reports WHERE batch_id IS NULL ORDER BY created_at, hash \
             LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Cells::new(r, "scout_reports", "hash").parsed("hash"))
            .collect()
    }

    /// The batch whose aggregate carries report `hash`, if one does yet.
    pub async fn report_batch(&self, hash: &Hash) -> Result<Option<BatchId>, StoreError> {
        let row = sqlx::query("SELECT hash, batch_id FROM scout_reports WHERE hash = $1")
            .bind(hash.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| Cells::new(&r, "scout_reports", "hash").get::<Option<i64>>("batch_id"))
            .transpose()?
            .flatten()
            .map(BatchId))
    }

    /// A report by its hash.
    pub async fn report(&self, hash: &Hash) -> Result<Option<ReportRow>, StoreError> {
        let row = sqlx::query(
            "SELECT hash, hostchain, address, block, verdict, nonce, report, created_at \
             FROM scout_reports WHERE hash = $1",
        )
        .bind(hash.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Cells::new(&r, "scout_reports", "hash").read())
            .transpose()
    }
}

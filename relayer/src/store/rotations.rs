//! Relayer-set rotations this relayer submitted to hostchain contracts (`rotations`), one per
//! (hostchain, contract, rotation nonce), stored with their transaction before it is sent and
//! followed until final or until the contract moved past the nonce.

use chain_adapters::PreparedTx;
use serde::{Deserialize, Serialize};
use symbiote::types::HostchainId;

use super::cells::json_column;
use super::host_txs::{self, TxPurpose};
use super::states::{Entity, RotationState};
use super::transitions::Change;
use super::{Cells, Store, StoreError, int, json_text, now_ms};

/// One submitted rotation as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationRow {
    pub id: i64,
    pub hostchain: HostchainId,
    /// The contract's name in its adapter (`anchor`, `bridge`).
    pub contract: String,
    /// The contract's rotation nonce the transaction carries.
    pub nonce: u64,
    /// The new members' hostchain addresses, in their adapter's canonical form.
    #[serde(deserialize_with = "json_column::deserialize")]
    pub members: Vec<String>,
    pub threshold: u64,
    pub state: RotationState,
    pub tx_id: String,
    pub state_since: i64,
    pub created_at: i64,
}

impl RotationRow {
    /// What its transactions are stored under.
    pub fn purpose(&self) -> TxPurpose {
        TxPurpose::Rotation {
            contract: self.contract.clone(),
            nonce: self.nonce,
        }
    }
}

const COLUMNS: &str =
    "id, hostchain, contract, nonce, members, threshold, state, tx_id, state_since, created_at";

impl Store {
    /// Stores a rotation's transaction (a first submission, or a replacement of the one stored
    /// for the same contract and nonce) before it is sent.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_rotation_tx(
        &self,
        hostchain: &HostchainId,
        contract: &str,
        nonce: u64,
        members: &[String],
        threshold: u64,
        prepared: &PreparedTx,
        reason: &str,
    ) -> Result<(), StoreError> {
        if &prepared.hostchain != hostchain {
            return Err(StoreError::Conflict(format!(
                "a rotation of {hostchain} with a transaction of {}",
                prepared.hostchain
            )));
        }
        let now = now_ms();
        let purpose = TxPurpose::Rotation {
            contract: contract.to_string(),
            nonce,
        };
        let mut tx = self.pool.begin().await?;
        host_txs::insert(&mut tx, &purpose, prepared, now).await?;
        let row = sqlx::query(
            "INSERT INTO rotations (hostchain, contract, nonce, members, threshold, state, \
             tx_id, state_since, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
             ON CONFLICT (hostchain, contract, nonce) DO UPDATE SET tx_id = excluded.tx_id, \
             state = excluded.state, members = excluded.members, \
             threshold = excluded.threshold, state_since = excluded.state_since RETURNING id",
        )
        .bind(hostchain.as_str())
        .bind(contract)
        .bind(int("rotation nonce", nonce)?)
        .bind(json_text("rotation members", &members)?)
        .bind(int("rotation threshold", threshold)?)
        .bind(RotationState::Submitted.as_str())
        .bind(&prepared.id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = Cells::new(&row, "rotations", "id").get("id")?;
        let change = Change::new(Entity::Rotation, id, None, RotationState::Submitted);
        change.record(&mut tx, reason, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The rotation submitted for `contract` at rotation nonce `nonce` on `hostchain`.
    pub async fn rotation(
        &self,
        hostchain: &HostchainId,
        contract: &str,
        nonce: u64,
    ) -> Result<Option<RotationRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM rotations WHERE hostchain = $1 AND contract = $2 AND nonce = $3"
        );
        let query = sqlx::query(&sql)
            .bind(hostchain.as_str())
            .bind(contract)
            .bind(int("rotation nonce", nonce)?);
        self.first_with(("rotations", "id"), query, |c| c.read())
            .await
    }

    /// The rotations of `hostchain` still followed.
    pub async fn open_rotations(
        &self,
        hostchain: &HostchainId,
    ) -> Result<Vec<RotationRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM rotations WHERE hostchain = $1 AND state = $2 ORDER BY id"
        );
        let query = sqlx::query(&sql)
            .bind(hostchain.as_str())
            .bind(RotationState::Submitted.as_str());
        self.rows_with("rotations", "id", query, |c| c.read()).await
    }

    /// Marks a rotation done, with why.
    pub async fn finish_rotation(&self, row: &RotationRow, reason: &str) -> Result<(), StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE rotations SET state = $1, state_since = $2 WHERE id = $3 AND state = $4",
        )
        .bind(RotationState::Done.as_str())
        .bind(now)
        .bind(row.id)
        .bind(RotationState::Submitted.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            let (from, to) = (RotationState::Submitted, RotationState::Done);
            let change = Change::new(Entity::Rotation, row.id, Some(from), to);
            change.record(&mut tx, reason, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

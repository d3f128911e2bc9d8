//! Relayer-set rotations this relayer submitted to hostchain contracts (`rotations`), one per
//! (hostchain, contract, rotation nonce), stored with their transaction before it is sent and
//! followed until final or until the contract moved past the nonce.

use chain_adapters::PreparedTx;
use serde::Serialize;
use symbiote::types::HostchainId;

use super::host_txs::{self, TxPurpose};
use super::transitions::{Entity, record};
use super::{Cells, Store, StoreError, int, json_text, now_ms};
use crate::persisted_enum;

persisted_enum!(
    /// Where a submitted rotation stands (`rotations.state`).
    RotationState, "rotation state" {
        /// Its transaction is stored and sent: followed.
        Submitted = "submitted",
        /// The contract holds the new set (by this transaction or another relayer's): done.
        Done = "done",
    }
);

/// One submitted rotation as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RotationRow {
    pub id: i64,
    pub hostchain: HostchainId,
    /// The contract's name in its adapter (`anchor`, `bridge`).
    pub contract: String,
    /// The contract's rotation nonce the transaction carries.
    pub nonce: u64,
    /// The new members' hostchain addresses, in their adapter's canonical form.
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

fn rotation_row(r: &sqlx::any::AnyRow) -> Result<RotationRow, StoreError> {
    let cells = Cells::new(r, "rotations", "id");
    Ok(RotationRow {
        id: cells.get("id")?,
        hostchain: cells.parsed("hostchain")?,
        contract: cells.get("contract")?,
        nonce: cells.uint("nonce")?,
        members: cells.json("members")?,
        threshold: cells.uint("threshold")?,
        state: cells.with("state", |s: String| RotationState::parse(&s))?,
        tx_id: cells.get("tx_id")?,
        state_since: cells.get("state_since")?,
        created_at: cells.get("created_at")?,
    })
}

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
        record(
            &mut tx,
            Entity::Rotation,
            id,
            None,
            RotationState::Submitted.as_str(),
            reason,
            now,
        )
        .await?;
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
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM rotations WHERE hostchain = $1 AND contract = $2 AND nonce = $3"
        ))
        .bind(hostchain.as_str())
        .bind(contract)
        .bind(int("rotation nonce", nonce)?)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rotation_row).transpose()
    }

    /// The rotations of `hostchain` still followed.
    pub async fn open_rotations(
        &self,
        hostchain: &HostchainId,
    ) -> Result<Vec<RotationRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM rotations WHERE hostchain = $1 AND state = $2 ORDER BY id"
        ))
        .bind(hostchain.as_str())
        .bind(RotationState::Submitted.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rotation_row).collect()
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
            record(
                &mut tx,
                Entity::Rotation,
                row.id,
                Some(RotationState::Submitted.as_str()),
                RotationState::Done.as_str(),
                reason,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

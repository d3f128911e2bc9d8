//! Deposits (`deposits`): each seen once, ever, past its confirmation depth, stored with the
//! scan cursor after it, and driven through [`DepositState`] until minted.

use chain_adapters::{DepositCursor, ObservedDeposit};
use serde::{Deserialize, Serialize};
use symbiote::crypto::PublicKey;
use symbiote::hash::Hash;
use symbiote::tx::{Deposit, DepositId};
use symbiote::types::{Amount, HostTxId, HostchainId, TokenId};

use super::cursors::write_deposit_cursor;
use super::states::{DepositState, Entity};
use super::transitions::Change;
use super::{Cells, Store, StoreError, int, now_ms};

/// One deposit as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DepositRow {
    pub id: i64,
    pub hostchain: HostchainId,
    pub tx: HostTxId,
    pub event_index: u32,
    pub token: TokenId,
    pub amount: Amount,
    pub recipient: Option<PublicKey>,
    /// What the depositor wrote as recipient, verbatim.
    pub raw_recipient: String,
    pub depositor: String,
    pub block: u64,
    pub state: DepositState,
    /// The symbiote transaction of this relayer's attestation.
    pub attest_tx: Option<Hash>,
    pub seen_at: i64,
    pub state_since: i64,
}

impl DepositRow {
    /// The deposit's identity on the symbiote.
    pub fn deposit_id(&self) -> DepositId {
        DepositId {
            hostchain: self.hostchain.clone(),
            tx: self.tx.clone(),
            index: self.event_index,
        }
    }

    /// The deposit to attest; `None` when it is unroutable.
    pub fn deposit(&self) -> Option<Deposit> {
        Some(Deposit {
            id: self.deposit_id(),
            token: self.token.clone(),
            amount: self.amount,
            recipient: self.recipient?,
        })
    }
}

const COLUMNS: &str = "id, hostchain, tx, event_index, token, amount, recipient, \
     raw_recipient, depositor, block, state, attest_tx, seen_at, state_since";

fn deposit_row(r: &sqlx::any::AnyRow) -> Result<DepositRow, StoreError> {
    Cells::new(r, "deposits", "id").read()
}

impl Store {
    /// Stores a scan's deposits (each once, ever) with the cursor after them, atomically.
    /// Returns how many were new.
    pub async fn record_scan(
        &self,
        hostchain: &HostchainId,
        deposits: &[ObservedDeposit],
        next: &DepositCursor,
    ) -> Result<u64, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let mut added = 0;
        for d in deposits {
            let state = if d.recipient.is_some() {
                DepositState::Seen
            } else {
                DepositState::Unroutable
            };
            let result = sqlx::query(
                "INSERT INTO deposits (hostchain, tx, event_index, token, amount, recipient, \
                 raw_recipient, depositor, block, state, seen_at, state_since) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
                 ON CONFLICT (hostchain, tx, event_index) DO NOTHING",
            )
            .bind(hostchain.as_str())
            .bind(d.id.tx.as_str())
            .bind(i64::from(d.id.index))
            .bind(d.token.as_str())
            .bind(d.amount.to_string())
            .bind(d.recipient.map(|k| k.to_string()))
            .bind(&d.raw_recipient)
            .bind(&d.depositor)
            .bind(int("deposit block", d.block)?)
            .bind(state.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            added += result.rows_affected();
        }
        write_deposit_cursor(&mut tx, hostchain, next).await?;
        tx.commit().await?;
        Ok(added)
    }

    /// Deposits of `hostchain` in `state`, oldest first, at most `limit`.
    pub async fn deposits_in(
        &self,
        hostchain: &HostchainId,
        state: DepositState,
        limit: i64,
    ) -> Result<Vec<DepositRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM deposits WHERE hostchain = $1 AND state = $2 \
             ORDER BY id LIMIT $3"
        );
        let query = sqlx::query(&sql)
            .bind(hostchain.as_str())
            .bind(state.as_str())
            .bind(limit);
        self.rows_with("deposits", "id", query, |c| c.read()).await
    }

    /// Deposits, newest first, optionally in one state.
    pub async fn deposits(
        &self,
        state: Option<DepositState>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<DepositRow>, StoreError> {
        let rows = match state {
            Some(state) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM deposits WHERE state = $1 \
                     ORDER BY id DESC LIMIT $2 OFFSET $3"
                ))
                .bind(state.as_str())
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM deposits ORDER BY id DESC LIMIT $1 OFFSET $2"
                ))
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(deposit_row).collect()
    }

    /// Moves deposits to `to` (only those still in `from`), with the symbiote transaction that
    /// attested them, and records the transitions.
    pub async fn move_deposits(
        &self,
        ids: &[i64],
        from: DepositState,
        to: DepositState,
        attest_tx: Option<&Hash>,
        reason: &str,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let attest_tx = attest_tx.map(Hash::to_string);
        let mut tx = self.pool.begin().await?;
        for id in ids {
            let moved = sqlx::query(
                "UPDATE deposits SET state = $1, attest_tx = COALESCE($2, attest_tx), \
                 state_since = $3 WHERE id = $4 AND state = $5",
            )
            .bind(to.as_str())
            .bind(attest_tx.as_deref())
            .bind(now)
            .bind(*id)
            .bind(from.as_str())
            .execute(&mut *tx)
            .await?;
            if moved.rows_affected() == 1 {
                let change = Change::new(Entity::Deposit, *id, Some(from), to);
                change.record(&mut tx, reason, now).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deposit counts by (hostchain, state).
    pub async fn deposit_counts(
        &self,
    ) -> Result<Vec<(HostchainId, DepositState, u64)>, StoreError> {
        self.state_counts("deposits", DepositState::parse).await
    }
}

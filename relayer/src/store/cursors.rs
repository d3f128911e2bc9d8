//! Where scans resume: each hostchain's deposit scan (`deposit_cursors`, an adapter-defined
//! position stored with the deposits it found) and each hostchain's intake of withdrawal
//! orders (`withdrawal_cursors`, the next order nonce to look at).

use chain_adapters::DepositCursor;
use symbiote::types::{HostchainId, Nonce};

use super::{Cells, Store, StoreError, int, now_ms};

/// Writes the deposit cursor of `hostchain` inside the caller's database transaction.
pub(crate) async fn write_deposit_cursor(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    hostchain: &HostchainId,
    cursor: &DepositCursor,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO deposit_cursors (hostchain, cursor, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (hostchain) DO UPDATE SET cursor = excluded.cursor, \
         updated_at = excluded.updated_at",
    )
    .bind(hostchain.as_str())
    .bind(&cursor.0)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Where the deposit scan of `hostchain` resumes (the default cursor if it never ran).
    pub async fn deposit_cursor(
        &self,
        hostchain: &HostchainId,
    ) -> Result<DepositCursor, StoreError> {
        let row = sqlx::query("SELECT hostchain, cursor FROM deposit_cursors WHERE hostchain = $1")
            .bind(hostchain.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => DepositCursor(Cells::new(&r, "deposit_cursors", "hostchain").get("cursor")?),
            None => DepositCursor::default(),
        })
    }

    /// The next withdrawal order nonce the release intake of `hostchain` looks at (the first
    /// order, 1, if it never ran).
    pub async fn withdrawal_cursor(&self, hostchain: &HostchainId) -> Result<Nonce, StoreError> {
        let row = sqlx::query(
            "SELECT hostchain, next_nonce FROM withdrawal_cursors WHERE hostchain = $1",
        )
        .bind(hostchain.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => {
                Nonce::new(Cells::new(&r, "withdrawal_cursors", "hostchain").uint("next_nonce")?)
            }
            None => Nonce::new(1),
        })
    }

    /// Stores where the release intake of `hostchain` resumes.
    pub async fn set_withdrawal_cursor(
        &self,
        hostchain: &HostchainId,
        next: Nonce,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO withdrawal_cursors (hostchain, next_nonce, updated_at) \
             VALUES ($1, $2, $3) ON CONFLICT (hostchain) DO UPDATE SET \
             next_nonce = excluded.next_nonce, updated_at = excluded.updated_at",
        )
        .bind(hostchain.as_str())
        .bind(int("withdrawal cursor", next.get())?)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

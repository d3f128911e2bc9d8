//! The advisory lock of one role on a dedicated PostgreSQL session.

use std::future::Future;
use std::time::Duration;

use sqlx::{AnyConnection, Connection, Row};
use symbiote::types::SymbioteId;

use crate::roles::{ReplicaId, Role};
use crate::store::WorkerRow;
use crate::store::{Store, StoreError, now_ms};

/// How long opening a lock session may take (a connection to the server, then its settings).
pub(super) const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a lease operation failed. Every one of them is retried: a standby tries again at its
/// next check, a holder presumes its lease lost and stops its stage first.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("lock session for role {role}: {source}")]
    Sql {
        role: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("lock session for role {role}: no answer to {what} within {ms} ms")]
    Timeout {
        role: String,
        what: String,
        ms: u128,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The advisory-lock key of a role of a symbiote: FNV-1a (64 bits) over a versioned prefix,
/// the symbiote id and the role name. Persisted in effect: replicas of different versions must
/// compute the same key for the same role, or both would hold it; change the prefix's version
/// only together with the role names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockKey(i64);

impl LockKey {
    pub fn new(symbiote: &SymbioteId, role: &Role) -> LockKey {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut hash = OFFSET;
        let name = role.name();
        let parts: [&[u8]; 4] = [
            b"symbiote-relayer lease v1\0",
            symbiote.as_hash().as_bytes(),
            b"\0",
            name.as_bytes(),
        ];
        for byte in parts.into_iter().flatten() {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
        LockKey(i64::from_be_bytes(hash.to_be_bytes()))
    }

    /// The key as PostgreSQL's `bigint`.
    pub fn get(self) -> i64 {
        self.0
    }
}

/// A dedicated PostgreSQL session that tries for, and then holds, one role's advisory lock.
/// Dropping it closes the connection, which ends the session and frees the lock.
pub struct LockSession {
    /// The connection, detached from the store's pool.
    conn: AnyConnection,
    /// The role, for messages and for the `workers` row.
    role: Role,
    /// The lock.
    key: LockKey,
    /// Whether this session holds the lock. Advisory locks are re-entrant within a session:
    /// taking it twice would need two unlocks, so a held lock is not taken again.
    held: bool,
}

impl LockSession {
    /// Opens a session for `role`'s lock, named `relayer <replica> <role>` in
    /// `pg_stat_activity`, with a TCP keepalive that lets the server notice a dead peer within
    /// about five check intervals (at least 5 s). Needs a PostgreSQL store.
    pub async fn open(
        store: &Store,
        replica: &ReplicaId,
        role: &Role,
        key: LockKey,
        check: Duration,
    ) -> Result<LockSession, LeaseError> {
        let mut label = format!("{} {role}", replica.label());
        truncate(&mut label, 63);
        let conn = open_labelled(store, role, &label, check).await?;
        Ok(LockSession {
            conn,
            role: role.clone(),
            key,
            held: false,
        })
    }

    fn sql(&self, source: sqlx::Error) -> LeaseError {
        LeaseError::Sql {
            role: self.role.to_string(),
            source,
        }
    }

    /// Takes the lock if it is free (`pg_try_advisory_lock`, which never waits); `true` if this
    /// session holds it.
    pub async fn try_acquire(&mut self) -> Result<bool, LeaseError> {
        if self.held {
            return Ok(true);
        }
        let row = sqlx::query("SELECT pg_try_advisory_lock($1) AS held")
            .bind(self.key.get())
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| self.sql(e))?;
        self.held = row.try_get::<bool, _>("held").map_err(|e| self.sql(e))?;
        Ok(self.held)
    }

    /// Whether this session holds the lock.
    pub fn holds(&self) -> bool {
        self.held
    }

    /// Records the holder through this session: the lease check. An error means the session
    /// (and so the lock) may be gone.
    pub(super) async fn heartbeat(
        &mut self,
        replica: &ReplicaId,
        since: i64,
    ) -> Result<(), LeaseError> {
        let row = WorkerRow {
            role: self.role.clone(),
            replica: replica.clone(),
            since,
            heartbeat: now_ms(),
        };
        Ok(Store::record_worker_on(&mut self.conn, &row).await?)
    }

    /// Whether `replica` has any session on this database: its lock sessions and the one of
    /// [`Leases::presence`]. None: the process is dead (or cut off from the server entirely).
    pub(super) async fn present(&mut self, replica: &ReplicaId) -> Result<bool, LeaseError> {
        let label = replica.label();
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND (application_name = $1 OR starts_with(application_name, $2))",
        )
        .bind(&label)
        .bind(format!("{label} "))
        .fetch_one(&mut self.conn)
        .await
        .map_err(|e| self.sql(e))?;
        Ok(row.try_get::<i64, _>("n").map_err(|e| self.sql(e))? > 0)
    }

    /// Forgets the `workers` row of `replica`, frees the lock and closes the session.
    pub async fn release(mut self, replica: &ReplicaId) -> Result<(), LeaseError> {
        if self.held {
            Store::remove_worker_on(&mut self.conn, &self.role, replica).await?;
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(self.key.get())
                .execute(&mut self.conn)
                .await
                .map_err(|e| self.sql(e))?;
        }
        let role = self.role.clone();
        self.conn.close().await.map_err(|source| LeaseError::Sql {
            role: role.to_string(),
            source,
        })
    }
}

/// A detached connection with `application_name` = `label` and a short TCP keepalive.
pub(super) async fn open_labelled(
    store: &Store,
    role: &Role,
    label: &str,
    check: Duration,
) -> Result<AnyConnection, LeaseError> {
    let sql = |source| LeaseError::Sql {
        role: role.to_string(),
        source,
    };
    let open = async {
        let mut conn = store.dedicated_connection().await?;
        let interval = check.as_secs().clamp(1, 60);
        sqlx::query(
            "SELECT set_config('application_name', $1, false), set_config('tcp_keepalives_idle', $2, false), set_config('tcp_keepalives_interval', $3, false), set_config('tcp_keepalives_count', '3', false)",
        )
        .bind(label)
        .bind((interval * 2).to_string())
        .bind(interval.to_string())
        .execute(&mut conn)
        .await
        .map_err(sql)?;
        Ok(conn)
    };
    within(role, "opening a session", OPEN_TIMEOUT, open).await
}

/// How many sessions on this database are named exactly `label`.
pub(super) async fn sessions_labelled(
    conn: &mut AnyConnection,
    label: &str,
    role: &Role,
) -> Result<i64, LeaseError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1",
    )
    .bind(label)
    .fetch_one(conn)
    .await
    .and_then(|row| row.try_get::<i64, _>("n"))
    .map_err(|source| LeaseError::Sql {
        role: role.to_string(),
        source,
    })?;
    Ok(row)
}

/// `future`, or a [`LeaseError::Timeout`] after `limit`.
pub(super) async fn within<T>(
    role: &Role,
    what: &str,
    limit: Duration,
    future: impl Future<Output = Result<T, LeaseError>>,
) -> Result<T, LeaseError> {
    tokio::time::timeout(limit, future)
        .await
        .unwrap_or_else(|_| {
            Err(LeaseError::Timeout {
                role: role.to_string(),
                what: what.to_string(),
                ms: limit.as_millis(),
            })
        })
}

fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn chain(id: &str) -> symbiote::types::HostchainId {
        symbiote::types::HostchainId::new(id).unwrap()
    }

    #[test]
    fn lock_keys_are_stable_and_distinct() {
        let symbiote = SymbioteId::from_name("test");
        let follower = LockKey::new(&symbiote, &Role::Follower);
        // The key is shared by every version of the relayer: it must never change.
        let fixed = SymbioteId::from_hash(symbiote::hash::Hash([7; 32]));
        assert_eq!(
            LockKey::new(&fixed, &Role::Follower).get(),
            4_622_871_593_563_313_863
        );
        assert_eq!(
            follower,
            LockKey::new(&symbiote, &"follower".parse::<Role>().unwrap())
        );
        assert_ne!(follower, LockKey::new(&symbiote, &Role::Batcher));
        assert_ne!(
            follower,
            LockKey::new(&SymbioteId::from_name("other"), &Role::Follower)
        );
        assert_ne!(
            LockKey::new(&symbiote, &Role::Anchorer(chain("evm-1"))),
            LockKey::new(&symbiote, &Role::Anchorer(chain("evm-2")))
        );
    }
}

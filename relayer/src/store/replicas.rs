//! Which replica runs which role (`workers`) and which replicas run (`replicas`), as recorded
//! for the API: who is active is decided by PostgreSQL advisory locks (`crate::leader`), never
//! by these tables.

use serde::{Deserialize, Serialize};

use super::{Cells, Store, StoreError};
use crate::roles::{ReplicaId, Role};

/// A role and the replica recorded as running it (the `workers` table).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerRow {
    pub role: Role,
    pub replica: ReplicaId,
    /// When the replica started the stage (ms since the Unix epoch, its clock).
    pub since: i64,
    /// Its last successful lease check (ms; on SQLite, when it started).
    pub heartbeat: i64,
}

/// A running replica (the `replicas` table).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaRow {
    pub replica: ReplicaId,
    /// When it started (ms since the Unix epoch, its clock).
    pub started_at: i64,
    /// Its last heartbeat (ms).
    pub heartbeat: i64,
}

fn worker_row(r: &sqlx::any::AnyRow) -> Result<WorkerRow, StoreError> {
    Cells::new(r, "workers", "role").read()
}

impl Store {
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
        worker: &WorkerRow,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO workers (role, replica, since, heartbeat) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (role) DO UPDATE SET replica = excluded.replica, \
             since = excluded.since, heartbeat = excluded.heartbeat",
        )
        .bind(worker.role.name())
        .bind(worker.replica.as_str())
        .bind(worker.since)
        .bind(worker.heartbeat)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// [`Store::record_worker_on`] through the pool.
    pub async fn record_worker(&self, worker: &WorkerRow) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        Self::record_worker_on(&mut conn, worker).await
    }

    /// Forgets that `replica` runs `role` (if another replica is recorded by now, it stays).
    pub async fn remove_worker_on(
        conn: &mut sqlx::AnyConnection,
        role: &Role,
        replica: &ReplicaId,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM workers WHERE role = $1 AND replica = $2")
            .bind(role.name())
            .bind(replica.as_str())
            .execute(conn)
            .await?;
        Ok(())
    }

    /// [`Store::remove_worker_on`] through the pool.
    pub async fn remove_worker(&self, role: &Role, replica: &ReplicaId) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        Self::remove_worker_on(&mut conn, role, replica).await
    }

    /// The replica recorded as running `role`.
    pub async fn worker(&self, role: &Role) -> Result<Option<WorkerRow>, StoreError> {
        let row =
            sqlx::query("SELECT role, replica, since, heartbeat FROM workers WHERE role = $1")
                .bind(role.name())
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(worker_row).transpose()
    }

    /// Every recorded role and the replica running it, by role.
    pub async fn workers(&self) -> Result<Vec<WorkerRow>, StoreError> {
        let query =
            sqlx::query("SELECT role, replica, since, heartbeat FROM workers ORDER BY role");
        self.rows_with("workers", "role", query, |c| c.read()).await
    }

    /// Records that `replica` runs (its heartbeat), through `conn`, and forgets replicas not
    /// heard of since `forget_before` (ms).
    pub async fn record_replica_on(
        conn: &mut sqlx::AnyConnection,
        replica: &ReplicaRow,
        forget_before: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO replicas (replica, started_at, heartbeat) VALUES ($1, $2, $3) \
             ON CONFLICT (replica) DO UPDATE SET started_at = excluded.started_at, \
             heartbeat = excluded.heartbeat",
        )
        .bind(replica.replica.as_str())
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
        replica: &ReplicaRow,
        forget_before: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        Self::record_replica_on(&mut conn, replica, forget_before).await
    }

    /// Forgets a replica that stops.
    pub async fn remove_replica(&self, replica: &ReplicaId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM replicas WHERE replica = $1")
            .bind(replica.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every recorded replica, by id.
    pub async fn replicas(&self) -> Result<Vec<ReplicaRow>, StoreError> {
        let rows =
            sqlx::query("SELECT replica, started_at, heartbeat FROM replicas ORDER BY replica")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Cells::new(r, "replicas", "replica").read())
            .collect()
    }
}

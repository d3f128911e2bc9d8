//! One active worker per (symbiote, role) among relayer replicas that share a PostgreSQL
//! database (ARCHITECTURE section 8); the other replicas stand by and take over when it dies.
//!
//! A **role** is one stage's exclusive job: `follower`, `batcher`, `anchorer:<hostchain>` (and
//! whatever stage is wrapped next). [`run_while_leader`] runs a stage only while this replica
//! holds the role:
//! - the role is a PostgreSQL session-level advisory lock, key [`LockKey`] of (symbiote, role),
//!   taken with `pg_try_advisory_lock` on a [`LockSession`]: a connection detached from the pool
//!   for the life of the lease (a pooled connection would go back to the pool with the lock
//!   still held by its session, to be lent to unrelated queries or closed by the pool);
//! - a standby tries for the lock every `lease_check_ms`;
//! - the holder runs the stage under a child [`CancellationToken`] and, every `lease_check_ms`,
//!   writes its heartbeat through the lock session. If that fails or does not answer within the
//!   interval, the lease is presumed lost: the stage's token is cancelled at once and the stage
//!   finishes its current step (aborted only if it has not after [`STOP_TIMEOUT`]); once it has
//!   stopped, the replica drops the session and tries again with a new one two intervals later
//!   (giving a healthy standby the first chance).
//!
//! A stage is left to finish its step rather than aborted at once because the adapters keep
//! state in memory that a step leaves consistent and an abort may not (the EVM adapter's record
//! of handed-out nonces, the Bitcoin adapter's coin reservations): a crash wipes that memory, an
//! abort inside a live process does not.
//!
//! Here: the election loop ([`run_while_leader`]) and the replica's presence ([`Leases`]);
//! `leader/lock.rs`: the lock session and its key; `leader/names.rs`: replica ids, roles and
//! the rows of the `workers` and `replicas` tables.
//!
//! # Why advisory locks and not a lease row with an expiry
//! A lease row needs clocks: the holder writes "mine until T" and the others compare T with
//! their own clocks, so a skewed clock lets two replicas act at once, and a dead holder blocks
//! its role until T has passed. An advisory lock belongs to a session: PostgreSQL frees it when
//! the session ends and never while it lives, whatever the clocks say. A process killed with
//! SIGKILL has its sockets closed by the kernel, the server ends its sessions at once, and a
//! standby holds the role at its next try. A host or network that dies is noticed by the TCP
//! keepalive this module sets on its sessions. The `workers` table only records who runs what,
//! for the API; nothing decides from it.
//!
//! # The window a lock alone leaves, and the fence
//! PostgreSQL can end a lock session while its process lives (`pg_terminate_backend`, a network
//! partition seen by keepalive): a standby may then take the lock before the holder's next
//! check. So a replica that takes a role over from another replica first waits until that one
//! cannot be running the stage any more: it has no session left on the server (it died, or is
//! cut off from the database and so cannot store what a step must store before acting), or it
//! has deleted its `workers` row (it does so once its stage has stopped), or it has had the time
//! to notice and stop ([`STOP_TIMEOUT`] and three check intervals). A `kill -9` is therefore
//! taken over at the standby's next try, and a lost session as soon as the old holder's step
//! ends. Still uncovered: a server restart ends every session, so a live previous holder may
//! look dead for a moment and finish its step beside the new one; so may a holder frozen for
//! longer than the keepalive (a paused VM). Both are bounded by the stages' own rule (every
//! stage writes to the store before acting, and resumes from it) and, on EVM, by the anchor
//! contract, which refuses a sequence twice; closing the window entirely needs a fencing token
//! checked by every store write.
//!
//! # SQLite, poolers
//! With SQLite there is one process by construction: every role is held, without a lock. With
//! PostgreSQL the database URL must reach the server directly or through a session pooler: a
//! transaction pooler (PgBouncer `pool_mode = transaction`) moves sessions between clients.

mod lock;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sqlx::{AnyConnection, Connection};
use symbiote::types::SymbioteId;
use tokio::task::{JoinError, JoinHandle};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::store::{Store, now_ms};
use lock::{OPEN_TIMEOUT, open_labelled, sessions_labelled, within};

pub use crate::roles::{MAX_REPLICA_ID, ReplicaId, ReplicaIdError, Role, RoleState};
pub use crate::store::{ReplicaRow, WorkerRow};
pub use lock::{LeaseError, LockKey, LockSession};

/// How long a stage that lost its lease may take to finish its step before it is aborted. A
/// step is a few RPC calls per open item, each with its own timeout.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a replica taking a role over looks whether the previous holder is gone.
const FENCE_POLL: Duration = Duration::from_millis(50);
/// Replicas not heard of for this long are dropped from the `replicas` table.
const FORGET_REPLICAS_AFTER_MS: i64 = 3_600_000;

/// Sleeps `duration`; `false` if `shutdown` comes first.
async fn pause(shutdown: &CancellationToken, duration: Duration) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => false,
        _ = tokio::time::sleep(duration) => true,
    }
}

/// This replica's leases: shared by every wrapped stage, the presence heartbeat and the API.
#[derive(Clone)]
pub struct Leases {
    inner: Arc<Shared>,
}

struct Shared {
    /// The database: PostgreSQL elects, SQLite means one process.
    store: Store,
    /// The symbiote whose roles these are (part of every lock key).
    symbiote: SymbioteId,
    /// This replica.
    replica: ReplicaId,
    /// `lease_check_ms`: how often holders check and standbys try.
    check: Duration,
    /// When this replica started (ms).
    started_at: i64,
    /// What this replica does about each role it was given. Only short, non-async critical
    /// sections hold it.
    roles: Mutex<BTreeMap<Role, RoleState>>,
}

impl Leases {
    /// The leases of `replica`, checked every `check`.
    pub fn new(store: Store, symbiote: SymbioteId, replica: ReplicaId, check: Duration) -> Leases {
        Leases {
            inner: Arc::new(Shared {
                store,
                symbiote,
                replica,
                check: check.max(Duration::from_millis(10)),
                started_at: now_ms(),
                roles: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// This replica.
    pub fn replica(&self) -> &ReplicaId {
        &self.inner.replica
    }

    /// Whether roles are elected (PostgreSQL) rather than all held (SQLite).
    pub fn elected(&self) -> bool {
        self.inner.store.is_postgres()
    }

    /// The lease check interval.
    pub fn check(&self) -> Duration {
        self.inner.check
    }

    /// What this replica does about each of its roles. This, not the `workers` table, says
    /// whether this replica's stage runs.
    pub fn roles(&self) -> Vec<(Role, RoleState)> {
        self.lock_roles()
            .iter()
            .map(|(role, state)| (role.clone(), *state))
            .collect()
    }

    fn lock_roles(&self) -> MutexGuard<'_, BTreeMap<Role, RoleState>> {
        // A panic elsewhere cannot leave the map half-written: each access is one insert.
        self.inner
            .roles
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set(&self, role: &Role, state: RoleState) {
        self.lock_roles().insert(role.clone(), state);
    }

    /// Records this replica in the `replicas` table every check interval until `shutdown`,
    /// then removes it. On PostgreSQL it writes through a session of its own named
    /// `relayer <replica>`: while this process lives, that session tells a replica taking one
    /// of its roles over that it may still be running the stage (see the module docs).
    pub async fn presence(self, shutdown: CancellationToken) {
        let role = Role::Presence;
        let mut session: Option<AnyConnection> = None;
        let mut checked_duplicate = false;
        loop {
            let row = ReplicaRow {
                replica: self.inner.replica.clone(),
                started_at: self.inner.started_at,
                heartbeat: now_ms(),
            };
            let forget = row.heartbeat.saturating_sub(FORGET_REPLICAS_AFTER_MS);
            let written = if self.elected() {
                let beat = async {
                    if session.is_none() {
                        let label = self.inner.replica.label();
                        let mut conn =
                            open_labelled(&self.inner.store, &role, &label, self.check()).await?;
                        // Only at the first open: a session of ours that just broke may linger.
                        if !checked_duplicate {
                            checked_duplicate = true;
                            if sessions_labelled(&mut conn, &label, &role).await? > 1 {
                                tracing::error!(replica = %self.inner.replica, "another running relayer uses this replica id: give each replica its own `[replica] id`");
                            }
                        }
                        session = Some(conn);
                    }
                    match session.as_mut() {
                        Some(conn) => Ok(Store::record_replica_on(conn, &row, forget).await?),
                        None => Ok(()),
                    }
                };
                within(&role, "the replica heartbeat", OPEN_TIMEOUT, beat).await
            } else {
                self.inner
                    .store
                    .record_replica(&row, forget)
                    .await
                    .map_err(LeaseError::from)
            };
            if let Err(e) = written {
                tracing::warn!(replica = %self.inner.replica, error = %e, "replica heartbeat failed; retrying");
                session = None;
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(self.check()) => {}
            }
        }
        if let Err(e) = self.inner.store.remove_replica(&self.inner.replica).await {
            tracing::warn!(replica = %self.inner.replica, error = %e, "cannot remove this replica from the replicas table");
        }
        if let Some(conn) = session {
            let _ = conn.close().await;
        }
    }
}

/// Runs the stage that `stage` builds whenever this replica holds `role`, until `shutdown`.
///
/// `stage` is called with a token each time the replica becomes active; the future it returns
/// must stop at the end of its current step once the token is cancelled (it is aborted if it has
/// not within [`STOP_TIMEOUT`] after losing the lease), and must resume from the store: every
/// stage writes to the store before acting. A stage that stops by
/// itself (or panics) releases the role, which is tried for again after one check interval.
/// On SQLite the role is held from the start.
pub async fn run_while_leader<F, Fut>(
    leases: Leases,
    role: Role,
    shutdown: CancellationToken,
    mut stage: F,
) where
    F: FnMut(CancellationToken) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let key = LockKey::new(&leases.inner.symbiote, &role);
    let mut worker = Worker {
        leases,
        role,
        key,
        session: None,
        shutdown,
    };
    worker.leases.set(&worker.role, RoleState::Standby);
    loop {
        if !worker.acquire().await {
            break;
        }
        match worker.fence().await {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                tracing::warn!(role = %worker.role, error = %e, "lost the lock session while taking the role over");
                worker.session = None;
                continue;
            }
        }
        let since = now_ms();
        if let Err(e) = worker.announce(since).await {
            tracing::warn!(role = %worker.role, error = %e, "cannot record the role's holder; trying again");
            worker.session = None;
            if !pause(&worker.shutdown, worker.leases.check()).await {
                break;
            }
            continue;
        }
        worker.leases.set(&worker.role, RoleState::Active { since });
        tracing::info!(role = %worker.role, replica = %worker.leases.replica(), "active: running the stage");
        let token = worker.shutdown.child_token();
        let span = tracing::info_span!("stage", role = %worker.role);
        let mut handle = tokio::spawn(stage(token.clone()).instrument(span));
        match worker.hold(&mut handle, since).await {
            Outcome::Shutdown => {
                token.cancel();
                let _ = handle.await;
                worker.leases.set(&worker.role, RoleState::Standby);
                worker.release().await;
                break;
            }
            Outcome::Lost(reason) => {
                tracing::warn!(role = %worker.role, %reason, "lease presumed lost: stopping the stage");
                worker.stop(token, handle).await;
                worker.leases.set(&worker.role, RoleState::Standby);
                // Dropping the session ends it on the server, if it still lives there.
                worker.session = None;
                worker.acknowledge_stop().await;
                tracing::info!(role = %worker.role, "stage stopped; standing by");
                // A replica whose session broke is the likelier to have trouble with the
                // database: a healthy standby (trying every interval) gets the first chance.
                if !pause(&worker.shutdown, worker.leases.check() * 2).await {
                    break;
                }
            }
            Outcome::Ended(failure) => {
                match failure {
                    Some(e) => {
                        tracing::error!(role = %worker.role, error = %e, "the stage failed; releasing the role")
                    }
                    None => {
                        tracing::error!(role = %worker.role, "the stage stopped by itself; releasing the role")
                    }
                }
                worker.leases.set(&worker.role, RoleState::Standby);
                worker.release().await;
                if !pause(&worker.shutdown, worker.leases.check()).await {
                    break;
                }
            }
        }
    }
    worker.leases.set(&worker.role, RoleState::Standby);
}

/// Why a replica stopped holding a role.
enum Outcome {
    /// The relayer stops.
    Shutdown,
    /// The lease check failed: the lock may be gone.
    Lost(String),
    /// The stage's task ended without being asked (with its panic, if it panicked).
    Ended(Option<JoinError>),
}

/// One role's election loop.
struct Worker {
    leases: Leases,
    role: Role,
    key: LockKey,
    /// PostgreSQL: the session that tries for or holds the role's lock.
    session: Option<LockSession>,
    shutdown: CancellationToken,
}

impl Worker {
    /// Stands by until this replica holds the role; `false` if the relayer stops first.
    async fn acquire(&mut self) -> bool {
        if !self.leases.elected() {
            return !self.shutdown.is_cancelled();
        }
        let mut failures = 0u32;
        loop {
            if self.shutdown.is_cancelled() {
                return false;
            }
            match self.try_acquire().await {
                Ok(true) => return true,
                Ok(false) => failures = 0,
                Err(e) => {
                    failures += 1;
                    // The first failure of a series is worth a warning; the rest repeat it.
                    if failures == 1 {
                        tracing::warn!(role = %self.role, error = %e, "cannot try for the role; retrying every check interval");
                    } else {
                        tracing::debug!(role = %self.role, error = %e, "cannot try for the role");
                    }
                    self.session = None;
                }
            }
            if !pause(&self.shutdown, self.leases.check()).await {
                return false;
            }
        }
    }

    async fn try_acquire(&mut self) -> Result<bool, LeaseError> {
        let check = self.leases.check();
        if self.session.is_none() {
            let session = LockSession::open(
                &self.leases.inner.store,
                self.leases.replica(),
                &self.role,
                self.key,
                check,
            )
            .await?;
            self.session = Some(session);
        }
        match self.session.as_mut() {
            Some(session) => {
                within(
                    &self.role,
                    "pg_try_advisory_lock",
                    check,
                    session.try_acquire(),
                )
                .await
            }
            None => Ok(false),
        }
    }

    /// After taking the lock: waits until the previous holder, if another replica, cannot still
    /// run the stage (see the module docs). `false` if the relayer stops first.
    async fn fence(&mut self) -> Result<bool, LeaseError> {
        let Some(session) = self.session.as_mut() else {
            return Ok(true);
        };
        let store = &self.leases.inner.store;
        let me = self.leases.replica();
        let Some(previous) = store
            .worker(&self.role)
            .await?
            .map(|w| w.replica)
            .filter(|r| r != me)
        else {
            return Ok(true);
        };
        let limit = STOP_TIMEOUT + self.leases.check() * 3;
        let started = Instant::now();
        let mut waiting = false;
        loop {
            let check = self.leases.check();
            if !within(
                &self.role,
                "pg_stat_activity",
                check,
                session.present(&previous),
            )
            .await?
            {
                tracing::info!(role = %self.role, %previous, "taking over: the previous holder has no session left");
                return Ok(true);
            }
            let recorded = store.worker(&self.role).await?.map(|w| w.replica);
            if recorded.as_ref() != Some(&previous) {
                tracing::info!(role = %self.role, %previous, "taking over: the previous holder stopped its stage");
                return Ok(true);
            }
            if !waiting {
                waiting = true;
                tracing::info!(role = %self.role, %previous, "holding the lock; waiting until the previous holder, still connected, stops its stage");
            }
            if started.elapsed() >= limit {
                tracing::warn!(role = %self.role, %previous, waited_ms = started.elapsed().as_millis(), "taking over from a replica that still has sessions: it has had time to notice that it lost the lock");
                return Ok(true);
            }
            tokio::select! {
                _ = self.shutdown.cancelled() => return Ok(false),
                _ = tokio::time::sleep(FENCE_POLL) => {}
            }
        }
    }

    /// Records this replica as the role's holder (through the lock session on PostgreSQL).
    async fn announce(&mut self, since: i64) -> Result<(), LeaseError> {
        let check = self.leases.check();
        let replica = self.leases.replica().clone();
        match self.session.as_mut() {
            Some(session) => {
                within(
                    &self.role,
                    "the first heartbeat",
                    check,
                    session.heartbeat(&replica, since),
                )
                .await
            }
            None => {
                let row = WorkerRow {
                    role: self.role.clone(),
                    replica: replica.clone(),
                    since,
                    heartbeat: since,
                };
                // Informational only without election: the stage runs whatever happens here.
                if let Err(e) = self.leases.inner.store.record_worker(&row).await {
                    tracing::warn!(role = %self.role, error = %e, "cannot record this replica as the role's holder");
                }
                Ok(())
            }
        }
    }

    /// Holds the role while the stage runs: checks the lease every interval.
    async fn hold(&mut self, handle: &mut JoinHandle<()>, since: i64) -> Outcome {
        let check = self.leases.check();
        let replica = self.leases.replica().clone();
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return Outcome::Shutdown,
                ended = &mut *handle => return Outcome::Ended(ended.err()),
                _ = tokio::time::sleep(check) => {}
            }
            if let Some(session) = self.session.as_mut() {
                let beat = within(
                    &self.role,
                    "the lease check",
                    check,
                    session.heartbeat(&replica, since),
                );
                if let Err(e) = beat.await {
                    return Outcome::Lost(e.to_string());
                }
            }
        }
    }

    /// Cancels the stage and waits until it has finished its step and stopped; after
    /// [`STOP_TIMEOUT`] it is aborted (at its next await point) and awaited.
    async fn stop(&mut self, token: CancellationToken, mut handle: JoinHandle<()>) {
        token.cancel();
        if tokio::time::timeout(STOP_TIMEOUT, &mut handle)
            .await
            .is_err()
        {
            tracing::error!(role = %self.role, timeout_s = STOP_TIMEOUT.as_secs(), "the stage did not finish its step after losing the lease; aborting it (restart this replica if its hostchain transactions stall)");
            handle.abort();
            let _ = handle.await;
        }
    }

    /// After a lost lease, once the stage has stopped: deletes this replica's `workers` row, which
    /// tells a replica taking the role over that it need not wait (see [`Worker::fence`]).
    async fn acknowledge_stop(&mut self) {
        let store = &self.leases.inner.store;
        let forget = store.remove_worker(&self.role, self.leases.replica());
        match tokio::time::timeout(self.leases.check(), forget).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::debug!(role = %self.role, error = %e, "cannot remove the workers row")
            }
            Err(_) => tracing::debug!(role = %self.role, "removing the workers row timed out"),
        }
    }

    /// Gives the role up after its stage stopped: the `workers` row, then the lock.
    async fn release(&mut self) {
        let replica = self.leases.replica().clone();
        let result = match self.session.take() {
            Some(session) => {
                within(
                    &self.role,
                    "releasing the lock",
                    self.leases.check(),
                    session.release(&replica),
                )
                .await
            }
            None => self
                .leases
                .inner
                .store
                .remove_worker(&self.role, &replica)
                .await
                .map_err(LeaseError::from),
        };
        if let Err(e) = result {
            // The session is dropped either way, which frees the lock on the server.
            tracing::warn!(role = %self.role, error = %e, "releasing the role failed");
        }
    }
}

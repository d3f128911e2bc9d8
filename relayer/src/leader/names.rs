//! The names of the election: replicas, roles, and what the `workers` and `replicas` tables
//! and the API say about them.

use std::fmt;

use serde::Serialize;

/// The longest replica id: `relayer <id>` must fit PostgreSQL's 63-byte `application_name`.
pub const MAX_REPLICA_ID: usize = 48;

/// Why a replica id is refused.
#[derive(Debug, thiserror::Error)]
#[error("replica id '{0}': use 1 to {MAX_REPLICA_ID} ASCII letters, digits, '.', '_', '-' or ':'")]
pub struct ReplicaIdError(String);

/// This relayer process among the replicas sharing a database: named in the API, the logs,
/// the `workers` table and PostgreSQL's `pg_stat_activity`. Must be unique among replicas.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ReplicaId(String);

impl ReplicaId {
    /// Checks an id: 1 to [`MAX_REPLICA_ID`] characters, letters, digits, `.`, `_`, `-`, `:`.
    pub fn new(id: &str) -> Result<ReplicaId, ReplicaIdError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':');
        if id.is_empty() || id.len() > MAX_REPLICA_ID || !id.chars().all(allowed) {
            return Err(ReplicaIdError(id.to_string()));
        }
        Ok(ReplicaId(id.to_string()))
    }

    /// `<hostname>-<pid>`: unique among the live processes of one host, and hosts usually have
    /// distinct names. A restarted process gets a new id.
    pub fn for_this_process() -> ReplicaId {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_default();
        let host: String = host
            .trim()
            .split('.')
            .next()
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
            .take(MAX_REPLICA_ID - 11)
            .collect();
        let host = if host.is_empty() {
            "relayer".to_string()
        } else {
            host
        };
        ReplicaId(format!("{host}-{}", std::process::id()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `application_name` of this replica's sessions; lock sessions append their role.
    pub(super) fn label(&self) -> String {
        format!("relayer {}", self.0)
    }
}

impl fmt::Display for ReplicaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stage's exclusive job. Roles are named in code, not read from input.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Role(String);

impl Role {
    pub fn new(name: impl Into<String>) -> Role {
        Role(name.into())
    }

    /// Follows the symbiote: writes `blocks` and the light-client state.
    pub fn follower() -> Role {
        Role::new("follower")
    }

    /// Cuts batches: writes `batches` and creates their anchors.
    pub fn batcher() -> Role {
        Role::new("batcher")
    }

    /// Drives the anchors of one hostchain.
    pub fn anchorer(hostchain: &str) -> Role {
        Role::new(format!("anchorer:{hostchain}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A role and the replica recorded as running it (the `workers` table).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorkerRow {
    pub role: String,
    pub replica: String,
    /// When the replica started the stage (ms since the Unix epoch, its clock).
    pub since: i64,
    /// Its last successful lease check (ms; on SQLite, when it started).
    pub heartbeat: i64,
}

/// A running replica (the `replicas` table).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReplicaRow {
    pub replica: String,
    /// When it started (ms since the Unix epoch, its clock).
    pub started_at: i64,
    /// Its last heartbeat (ms).
    pub heartbeat: i64,
}

/// What this replica does about one role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RoleState {
    /// Waiting for the role (another replica holds it, or the database is out of reach).
    Standby,
    /// Running the stage since `since` (ms since the Unix epoch).
    Active { since: i64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_ids_are_checked() {
        assert!(ReplicaId::new("relayer-a").is_ok());
        assert!(ReplicaId::new("eu-west-1:node_2.b").is_ok());
        assert!(ReplicaId::new("").is_err());
        assert!(ReplicaId::new("two words").is_err());
        assert!(ReplicaId::new(&"x".repeat(MAX_REPLICA_ID + 1)).is_err());
        let own = ReplicaId::for_this_process();
        assert!(ReplicaId::new(own.as_str()).is_ok(), "{own}");
        assert!(own.as_str().ends_with(&format!("-{}", std::process::id())));
    }
}

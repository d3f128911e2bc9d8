//! The names of the election: replicas and roles, as the `workers` and `replicas` tables, the
//! lock keys and the API name them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use symbiote::types::HostchainId;

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
    pub(crate) fn label(&self) -> String {
        format!("relayer {}", self.0)
    }
}

impl FromStr for ReplicaId {
    type Err = ReplicaIdError;

    fn from_str(text: &str) -> Result<ReplicaId, ReplicaIdError> {
        ReplicaId::new(text)
    }
}

impl fmt::Display for ReplicaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stage's exclusive job: one replica at a time runs it.
///
/// Persisted: the names (`follower`, `anchorer:<hostchain>`...) are stored in the `workers`
/// table and hashed into the PostgreSQL lock keys; renaming one lets an old and a new replica
/// run the same stage at once during an upgrade.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Every replica's heartbeat (not exclusive; named for its lock session).
    Presence,
    /// Follows the symbiote: writes `blocks` and the light-client state.
    Follower,
    /// Cuts batches: writes `batches` and creates their anchors.
    Batcher,
    /// Drives the anchors of one hostchain.
    Anchorer(HostchainId),
    /// Watches one hostchain's bridge for deposits.
    Deposits(HostchainId),
    /// Drives the releases of one hostchain.
    Releases(HostchainId),
    /// Rotates the relayer sets of one hostchain's contracts.
    Rotation(HostchainId),
}

impl Role {
    /// The name stored and hashed into lock keys.
    pub fn name(&self) -> String {
        match self {
            Role::Presence => "presence".into(),
            Role::Follower => "follower".into(),
            Role::Batcher => "batcher".into(),
            Role::Anchorer(h) => format!("anchorer:{h}"),
            Role::Deposits(h) => format!("deposits:{h}"),
            Role::Releases(h) => format!("releases:{h}"),
            Role::Rotation(h) => format!("rotation:{h}"),
        }
    }
}

impl FromStr for Role {
    type Err = String;

    /// Reads a stored name.
    fn from_str(text: &str) -> Result<Role, String> {
        let chain = |h: &str| HostchainId::new(h).map_err(|e| format!("role '{text}': {e}"));
        match text.split_once(':') {
            None => match text {
                "presence" => Ok(Role::Presence),
                "follower" => Ok(Role::Follower),
                "batcher" => Ok(Role::Batcher),
                _ => Err(format!("unknown role '{text}'")),
            },
            Some(("anchorer", h)) => Ok(Role::Anchorer(chain(h)?)),
            Some(("deposits", h)) => Ok(Role::Deposits(chain(h)?)),
            Some(("releases", h)) => Ok(Role::Releases(chain(h)?)),
            Some(("rotation", h)) => Ok(Role::Rotation(chain(h)?)),
            Some(_) => Err(format!("unknown role '{text}'")),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for ReplicaId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ReplicaId::new(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
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

    #[test]
    fn role_names_are_stable_and_read_back() {
        let evm = HostchainId::new("evm-1").unwrap();
        for (role, name) in [
            (Role::Presence, "presence"),
            (Role::Follower, "follower"),
            (Role::Batcher, "batcher"),
            (Role::Anchorer(evm.clone()), "anchorer:evm-1"),
            (Role::Deposits(evm.clone()), "deposits:evm-1"),
            (Role::Releases(evm.clone()), "releases:evm-1"),
            (Role::Rotation(evm.clone()), "rotation:evm-1"),
        ] {
            assert_eq!(role.name(), name);
            assert_eq!(name.parse::<Role>().unwrap(), role);
        }
        assert!("anchorer:EVM".parse::<Role>().is_err());
        assert!("leader".parse::<Role>().is_err());
    }
}

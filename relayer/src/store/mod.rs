//! The relayer's store: SQLite by default, PostgreSQL by URL, through sqlx's `Any` driver with
//! one SQL dialect (`$N` placeholders work in both) and one migration folder per backend
//! (`migrations/relayer/sqlite`, `migrations/relayer/postgres`).
//!
//! One module per table family; each reads its rows through [`Cells`], which parses every
//! column into its type once, here, so that a row that cannot be parsed is an error naming the
//! table, the row and the column ([`StoreError::Corrupt`]). Persisted states and kinds are the
//! enums defined with [`persisted_enum!`]: their stored names never change.
//!
//! - [`blocks`]: verified blocks and the follower's light-client state;
//! - [`batches`]: batches, their aggregates and the foreign commitments they carry;
//! - [`anchors`]: one anchor per (batch, hostchain);
//! - [`host_txs`]: every hostchain transaction prepared by any stage, stored before it is sent;
//! - [`deposits`], [`releases`], [`reports`], [`rotations`]: the bridge;
//! - [`cursors`]: where scans resume;
//! - [`states`]: every persisted state and kind;
//! - [`transitions`]: the history of every state change;
//! - [`replicas`]: which replica runs which role.

pub mod anchors;
pub mod batches;
pub mod blocks;
mod cells;
pub mod cursors;
pub mod deposits;
pub mod host_txs;
pub mod releases;
pub mod replicas;
pub mod reports;
pub mod rotations;
pub mod states;
pub mod transitions;

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::AnyPool;
use sqlx::any::{AnyPoolOptions, install_default_drivers};

pub use anchors::{AnchorId, AnchorRow};
pub use batches::{BatchId, BatchRow};
pub use cells::Cells;
pub use deposits::DepositRow;
pub use host_txs::{StoredTx, TxPurpose};
pub use releases::ReleaseRow;
pub use replicas::{ReplicaRow, WorkerRow};
pub use reports::ReportRow;
pub use rotations::RotationRow;
pub use states::{
    AnchorState, BatchState, DepositState, Entity, ReleaseStep, RotationState, ScoutDecision,
};
pub use transitions::Transition;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(
        "the database was migrated by a newer relayer (migration {0} is unknown to this version); \
         run a relayer at least as new as the one that last used it, or use another database"
    )]
    NewerDatabase(i64),
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    /// A stored row that does not parse: which table, which row, which column, and why.
    #[error("stored data is corrupt: table {table}, row {row}, column {column}: {reason}")]
    Corrupt {
        table: &'static str,
        row: String,
        column: String,
        reason: String,
    },
    /// A value that cannot be written as it is.
    #[error("cannot store {what}: {reason}")]
    Unstorable { what: &'static str, reason: String },
    /// Two writers disagree: the row was not in the state the caller started from.
    #[error("{0}")]
    Conflict(String),
    #[error("database URL must start with sqlite:// or postgres://, got '{0}'")]
    Scheme(String),
}

impl StoreError {
    /// Whether retrying can help: the database was out of reach or busy, as opposed to holding
    /// data that does not parse.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::Connect { .. } | StoreError::Sql(_) | StoreError::Conflict(_)
        )
    }
}

/// Defines an enum stored as text: `as_str` is the stored name and `parse` reads it back.
///
/// Persisted: renaming a variant's stored name breaks every row written before; add variants,
/// never rename or reuse one.
#[macro_export]
macro_rules! persisted_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        ///
        /// Persisted: the stored names never change (renaming one breaks stored data).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every variant.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Reads a stored name.
            pub fn parse(text: &str) -> Result<Self, String> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == text)
                    .ok_or_else(|| format!(
                        "unknown {} '{text}' (known: {})",
                        $what,
                        Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
                    ))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::store::transitions::Stored for $name {
            fn stored(self) -> &'static str {
                self.as_str()
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                Self::parse(text)
            }
        }
    };
}

/// A query of this store's one SQL dialect.
pub(crate) type Query<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Defines the id of a table's rows (its `id` column).
macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}
pub(crate) use row_id;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// A `u64` as the database's signed integer.
pub(crate) fn int(what: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Unstorable {
        what,
        reason: format!("{value} does not fit the database's integer"),
    })
}

/// A JSON text of `value`.
pub(crate) fn json_text<T: serde::Serialize>(
    what: &'static str,
    value: &T,
) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Unstorable {
        what,
        reason: e.to_string(),
    })
}

/// The relayer's database.
#[derive(Clone)]
pub struct Store {
    /// Connection pool (SQLite or PostgreSQL).
    pool: AnyPool,
    /// Whether the backend is PostgreSQL (for backend-specific features such as advisory locks).
    postgres: bool,
}

/// Where the store is: a parsed `database.url`. `Debug` and `Display` hide its password.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://path` (the file is created if missing).
    Sqlite(String),
    /// `postgres://...` or `postgresql://...`.
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses a `database.url`.
    pub fn parse(url: &str) -> Result<DatabaseUrl, StoreError> {
        if url.starts_with("sqlite://") {
            Ok(DatabaseUrl::Sqlite(url.to_string()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(url.to_string()))
        } else {
            Err(StoreError::Scheme(redact(url)))
        }
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        match self {
            DatabaseUrl::Sqlite(url) | DatabaseUrl::Postgres(url) => url,
        }
    }

    /// The SQLite file, for a SQLite URL.
    pub fn sqlite_path(&self) -> Option<&str> {
        match self {
            DatabaseUrl::Sqlite(url) => {
                let path = url.trim_start_matches("sqlite://");
                Some(path.split('?').next().unwrap_or(path))
            }
            DatabaseUrl::Postgres(_) => None,
        }
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(self.as_str()))
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

impl Store {
    /// Connects to `url` (creating a SQLite file if missing) and applies the migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Self::connect(&DatabaseUrl::parse(url)?).await
    }

    /// Connects to a parsed URL and applies the migrations.
    pub async fn connect(url: &DatabaseUrl) -> Result<Store, StoreError> {
        install_default_drivers();
        let (connect_url, postgres) = match url {
            DatabaseUrl::Sqlite(u) if u.contains('?') => (u.clone(), false),
            DatabaseUrl::Sqlite(u) => (format!("{u}?mode=rwc"), false),
            DatabaseUrl::Postgres(u) => (u.clone(), true),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if postgres { 8 } else { 1 })
            .connect(&connect_url)
            .await
            .map_err(|source| StoreError::Connect {
                url: url.to_string(),
                source,
            })?;
        let migrated = if postgres {
            sqlx::migrate!("../migrations/relayer/postgres")
                .run(&pool)
                .await
        } else {
            sqlx::migrate!("../migrations/relayer/sqlite")
                .run(&pool)
                .await
        };
        match migrated {
            Ok(()) => {}
            Err(sqlx::migrate::MigrateError::VersionMissing(version)) => {
                return Err(StoreError::NewerDatabase(version));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(Store { pool, postgres })
    }

    /// Whether this store is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.postgres
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Every row `query` returns, each read by `read` (usually [`Cells::read`] into a row
    /// struct named like the columns): rows of `table`, named by their `key` column in errors.
    pub(crate) async fn rows_with<T>(
        &self,
        table: &'static str,
        key: &str,
        query: Query<'_>,
        read: impl Fn(&Cells<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| read(&Cells::new(r, table, key)))
            .collect()
    }

    /// The first row `query` returns, if any (see [`Store::rows_with`]).
    pub(crate) async fn first_with<T>(
        &self,
        place: (&'static str, &str),
        query: Query<'_>,
        read: impl Fn(&Cells<'_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let (table, key) = place;
        Ok(self
            .rows_with(table, key, query, read)
            .await?
            .into_iter()
            .next())
    }

    /// Row counts of `table` (one of this store's tables with `hostchain` and `state` columns)
    /// by (hostchain, state), each parsed with `parse`.
    pub(crate) async fn state_counts<S>(
        &self,
        table: &'static str,
        parse: fn(&str) -> Result<S, String>,
    ) -> Result<Vec<(symbiote::types::HostchainId, S, u64)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT hostchain, state, COUNT(*) AS n FROM {table} GROUP BY hostchain, state"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let cells = Cells::new(r, table, "count");
                Ok((
                    cells.parsed("hostchain")?,
                    cells.with("state", |s: String| parse(&s))?,
                    cells.uint("n")?,
                ))
            })
            .collect()
    }
}

/// A database URL without its password (in the authority or a `password=` parameter), for
/// messages.
pub fn redact(url: &str) -> String {
    let url = match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    };
    match url.split_once('?') {
        Some((base, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_string(),
                })
                .collect();
            format!("{base}?{}", params.join("&"))
        }
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("sqlite://relayer.sqlite"), "sqlite://relayer.sqlite");
        assert_eq!(
            redact("postgres://h/db?user=u&password=secret&sslmode=require"),
            "postgres://h/db?user=u&password=***&sslmode=require"
        );
        let url = DatabaseUrl::parse("postgres://u:secret@h/db").unwrap();
        assert!(!format!("{url:?}").contains("secret"));
    }

    #[test]
    fn urls_are_parsed_once() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/r.sqlite?mode=rwc")
                .unwrap()
                .sqlite_path(),
            Some("/tmp/r.sqlite")
        );
        assert!(matches!(
            DatabaseUrl::parse("postgresql://u@h/db").unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        let err = DatabaseUrl::parse("mysql://u:pw@h/db")
            .unwrap_err()
            .to_string();
        assert!(err.contains("mysql://u:***@h/db"), "{err}");
    }

    #[test]
    fn persisted_enums_round_trip_and_name_the_unknown() {
        for state in AnchorState::ALL {
            assert_eq!(AnchorState::parse(state.as_str()).unwrap(), *state);
        }
        let err = AnchorState::parse("lost").unwrap_err();
        assert!(err.contains("'lost'") && err.contains("pending"), "{err}");
    }
}

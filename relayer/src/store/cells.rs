//! Reading one stored row: every column is parsed into its type here, and a value that does not
//! parse is a [`StoreError::Corrupt`] naming the table, the row and the column.

use std::str::FromStr;

use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::any::AnyRow;
use symbiote::codec::Canonical;
use symbiote::hash::Hash;

use super::StoreError;

/// The cells of one row of `table`, known as `row` in errors (its key, such as `id=7`).
pub struct Cells<'r> {
    row: &'r AnyRow,
    table: &'static str,
    key: String,
}

impl<'r> Cells<'r> {
    /// The row `row` of `table`, named in errors by the value of its `key` column (or by `key`
    /// itself when the row has no such column).
    pub fn new(row: &'r AnyRow, table: &'static str, key: &str) -> Self {
        let named = row
            .try_get::<i64, _>(key)
            .map(|v| format!("{key}={v}"))
            .or_else(|_| row.try_get::<String, _>(key).map(|v| format!("{key}={v}")))
            .unwrap_or_else(|_| key.to_string());
        Cells {
            row,
            table,
            key: named,
        }
    }

    fn corrupt(&self, column: &'static str, reason: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt {
            table: self.table,
            row: self.key.clone(),
            column,
            reason: reason.to_string(),
        }
    }

    /// The raw column.
    pub fn get<T>(&self, column: &'static str) -> Result<T, StoreError>
    where
        T: for<'a> sqlx::Decode<'a, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        self.row
            .try_get::<T, _>(column)
            .map_err(|e| self.corrupt(column, e))
    }

    /// The column read as `R` and turned into `T` by `f`.
    pub fn with<R, T, E>(
        &self,
        column: &'static str,
        f: impl FnOnce(R) -> Result<T, E>,
    ) -> Result<T, StoreError>
    where
        R: for<'a> sqlx::Decode<'a, sqlx::Any> + sqlx::Type<sqlx::Any>,
        E: std::fmt::Display,
    {
        let raw = self.get::<R>(column)?;
        f(raw).map_err(|e| self.corrupt(column, e))
    }

    /// The nullable column read as `R` and turned into `T` by `f`.
    pub fn with_opt<R, T, E>(
        &self,
        column: &'static str,
        f: impl FnOnce(R) -> Result<T, E>,
    ) -> Result<Option<T>, StoreError>
    where
        R: for<'a> sqlx::Decode<'a, sqlx::Any> + sqlx::Type<sqlx::Any>,
        E: std::fmt::Display,
    {
        match self.get::<Option<R>>(column)? {
            Some(raw) => f(raw).map(Some).map_err(|e| self.corrupt(column, e)),
            None => Ok(None),
        }
    }

    /// A text column parsed with `FromStr`.
    pub fn parsed<T>(&self, column: &'static str) -> Result<T, StoreError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.with(column, |s: String| s.parse::<T>())
    }

    /// A nullable text column parsed with `FromStr`.
    pub fn parsed_opt<T>(&self, column: &'static str) -> Result<Option<T>, StoreError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.with_opt(column, |s: String| s.parse::<T>())
    }

    /// A non-negative integer column.
    pub fn uint(&self, column: &'static str) -> Result<u64, StoreError> {
        self.with(column, |v: i64| {
            u64::try_from(v).map_err(|_| format!("negative value {v}"))
        })
    }

    /// A nullable non-negative integer column.
    pub fn uint_opt(&self, column: &'static str) -> Result<Option<u64>, StoreError> {
        self.with_opt(column, |v: i64| {
            u64::try_from(v).map_err(|_| format!("negative value {v}"))
        })
    }

    /// A 32-byte hash stored as bytes.
    pub fn hash(&self, column: &'static str) -> Result<Hash, StoreError> {
        self.with(column, |bytes: Vec<u8>| {
            <[u8; 32]>::try_from(bytes.as_slice())
                .map(Hash)
                .map_err(|_| format!("a hash of {} bytes", bytes.len()))
        })
    }

    /// A canonical encoding.
    pub fn decoded<T: Canonical>(&self, column: &'static str) -> Result<T, StoreError> {
        self.with(column, |bytes: Vec<u8>| T::decode(&bytes))
    }

    /// A JSON text.
    pub fn json<T: DeserializeOwned>(&self, column: &'static str) -> Result<T, StoreError> {
        self.with(column, |text: String| serde_json::from_str::<T>(&text))
    }

    /// A nullable JSON text.
    pub fn json_opt<T: DeserializeOwned>(
        &self,
        column: &'static str,
    ) -> Result<Option<T>, StoreError> {
        self.with_opt(column, |text: String| serde_json::from_str::<T>(&text))
    }
}

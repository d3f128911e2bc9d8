//! Reading one stored row: every column is parsed into its type here, and a value that does not
//! parse is a [`StoreError::Corrupt`] naming the table, the row and the column.

use std::str::FromStr;

use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::{Column, Row};
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

    fn corrupt(&self, column: &str, reason: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt {
            table: self.table,
            row: self.key.clone(),
            column: column.to_string(),
            reason: reason.to_string(),
        }
    }

    /// The whole row read as `T` (a row struct whose fields are named like the columns):
    /// integers and texts as JSON numbers and strings, byte strings as hex, nulls as nulls.
    /// A column that does not fit its field is named in the error.
    pub fn read<T: DeserializeOwned>(&self) -> Result<T, StoreError> {
        let mut object = serde_json::Map::new();
        for (i, column) in self.row.columns().iter().enumerate() {
            let name = column.name();
            let value = if let Ok(v) = self.row.try_get::<Option<i64>, _>(i) {
                v.map_or(serde_json::Value::Null, serde_json::Value::from)
            } else if let Ok(v) = self.row.try_get::<Option<String>, _>(i) {
                v.map_or(serde_json::Value::Null, serde_json::Value::from)
            } else {
                let bytes = self
                    .row
                    .try_get::<Option<Vec<u8>>, _>(i)
                    .map_err(|e| self.corrupt(name, e))?;
                bytes.map_or(serde_json::Value::Null, |b| hex::encode(b).into())
            };
            object.insert(name.to_string(), value);
        }
        serde_path_to_error::deserialize(serde_json::Value::Object(object)).map_err(|e| {
            let column = e.path().to_string();
            self.corrupt(&column, e.into_inner())
        })
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

    /// A text column parsed with `FromStr`.
    pub fn parsed<T>(&self, column: &'static str) -> Result<T, StoreError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.with(column, |s: String| s.parse::<T>())
    }

    /// A non-negative integer column.
    pub fn uint(&self, column: &'static str) -> Result<u64, StoreError> {
        self.with(column, |v: i64| {
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
}

/// serde helpers for columns holding JSON text, for row structs read with [`Cells::read`].
pub mod json_column {
    use serde::de::{DeserializeOwned, Error};
    use serde::{Deserialize, Deserializer};

    /// A JSON text column.
    pub fn deserialize<'de, D: Deserializer<'de>, T: DeserializeOwned>(
        d: D,
    ) -> Result<T, D::Error> {
        let text = String::deserialize(d)?;
        serde_json::from_str(&text).map_err(D::Error::custom)
    }

    /// A nullable JSON text column.
    pub fn optional<'de, D: Deserializer<'de>, T: DeserializeOwned>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(D::Error::custom),
            None => Ok(None),
        }
    }
}

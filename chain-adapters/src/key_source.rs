//! Where an adapter's key comes from: `key_file` or `key_env`, exactly one of them.

use std::path::PathBuf;

/// Where a key is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// A file holding the key (`key_file`).
    File(PathBuf),
    /// An environment variable holding the key (`key_env`).
    Env(String),
}

impl KeySource {
    /// The source named by the `key_file` and `key_env` settings; on error, the key to blame and
    /// why.
    pub fn from_settings(
        file: Option<PathBuf>,
        env: Option<String>,
    ) -> Result<KeySource, (&'static str, &'static str)> {
        match (file, env) {
            (Some(path), None) => Ok(KeySource::File(path)),
            (None, Some(name)) if !name.is_empty() => Ok(KeySource::Env(name)),
            (None, Some(_)) => Err(("key_env", "must not be empty")),
            (Some(_), Some(_)) => Err(("key_file", "give either key_file or key_env, not both")),
            (None, None) => Err(("key_file", "missing: give key_file or key_env")),
        }
    }
}

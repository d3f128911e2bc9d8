//! Where a secret comes from, and reading it: the one way every key and token of the project is
//! read (validator and relayer keys, hostchain keys, the relayer's admin token).
//!
//! A secret is text (hex, JSON, WIF: its user parses it) in a file or an environment variable,
//! never on the command line. Reading refuses an unreadable file, an unset variable and an
//! empty secret, naming the file or variable and never the secret; [`Secret`] does not print
//! its content.

use std::fmt;
use std::path::PathBuf;

/// Where a secret is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// A file holding it (`*_file` settings).
    File(PathBuf),
    /// An environment variable holding it (`*_env` settings).
    Env(String),
}

/// Why a secret could not be read. Messages name the file or variable, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read {origin}: {reason}")]
    Unreadable { origin: String, reason: String },
    #[error("{origin} is empty")]
    Empty { origin: String },
    #[error("{0}")]
    Settings(String),
}

/// Secret text; `Debug` and `Display` show nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    text: String,
    origin: String,
}

impl Secret {
    /// The secret text, trimmed of surrounding white space.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// Where it was read from (`key file /etc/k`, `environment variable K`), for messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(from {})", self.origin)
    }
}

impl SecretSource {
    /// The source named by a pair of `<name>_file` and `<name>_env` settings: at most one of
    /// them. `None` when neither is given; an error names the setting to blame.
    pub fn from_settings(
        name: &str,
        file: Option<PathBuf>,
        env: Option<String>,
    ) -> Result<Option<SecretSource>, SecretError> {
        match (file, env) {
            (Some(_), Some(_)) => Err(SecretError::Settings(format!(
                "{name}_file and {name}_env are both given: give one"
            ))),
            (Some(path), None) if path.as_os_str().is_empty() => Err(SecretError::Settings(
                format!("{name}_file is empty: name a file"),
            )),
            (Some(path), None) => Ok(Some(SecretSource::File(path))),
            (None, Some(var)) if var.is_empty() => Err(SecretError::Settings(format!(
                "{name}_env is empty: name an environment variable"
            ))),
            (None, Some(var)) => Ok(Some(SecretSource::Env(var))),
            (None, None) => Ok(None),
        }
    }

    /// The setting that names it, for `<name>_file` / `<name>_env` settings (`key_file`).
    pub fn setting(&self, name: &str) -> String {
        match self {
            SecretSource::File(_) => format!("{name}_file"),
            SecretSource::Env(_) => format!("{name}_env"),
        }
    }

    /// Where it is, for messages.
    pub fn describe(&self) -> String {
        match self {
            SecretSource::File(path) => format!("file {}", path.display()),
            SecretSource::Env(var) => format!("environment variable {var}"),
        }
    }

    /// Reads the secret: an unreadable file, an unset variable or nothing but white space is
    /// an error naming where.
    pub fn read(&self) -> Result<Secret, SecretError> {
        let origin = self.describe();
        let text = match self {
            SecretSource::File(path) => {
                std::fs::read_to_string(path).map_err(|e| SecretError::Unreadable {
                    origin: origin.clone(),
                    reason: e.kind().to_string(),
                })?
            }
            SecretSource::Env(var) => std::env::var(var).map_err(|_| SecretError::Unreadable {
                origin: origin.clone(),
                reason: "not set, or not UTF-8".into(),
            })?,
        };
        let text = text.trim();
        if text.is_empty() {
            return Err(SecretError::Empty { origin });
        }
        Ok(Secret {
            text: text.to_string(),
            origin,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn settings_give_at_most_one_source() {
        assert_eq!(
            SecretSource::from_settings("key", None, None).unwrap(),
            None
        );
        assert_eq!(
            SecretSource::from_settings("key", Some("/k".into()), None).unwrap(),
            Some(SecretSource::File("/k".into()))
        );
        let both = SecretSource::from_settings("key", Some("/k".into()), Some("K".into()));
        assert!(
            both.unwrap_err()
                .to_string()
                .contains("key_file and key_env")
        );
        let empty = SecretSource::from_settings("admin_token", None, Some(String::new()));
        assert!(empty.unwrap_err().to_string().contains("admin_token_env"));
    }

    #[test]
    fn empty_and_unreadable_secrets_are_refused_by_where_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.token");
        std::fs::write(&empty, " \n").unwrap();
        let err = SecretSource::File(empty).read().unwrap_err().to_string();
        assert!(
            err.contains("empty.token") && err.contains("empty"),
            "{err}"
        );
        let missing = SecretSource::File(dir.path().join("missing.key"))
            .read()
            .unwrap_err();
        assert!(missing.to_string().contains("missing.key"), "{missing}");
        let unset = SecretSource::Env("SYMBIOTE_TEST_UNSET_SECRET".into())
            .read()
            .unwrap_err();
        assert!(unset.to_string().contains("SYMBIOTE_TEST_UNSET_SECRET"));
        let good = dir.path().join("good.key");
        std::fs::write(&good, "  s3cret\n").unwrap();
        let secret = SecretSource::File(good).read().unwrap();
        assert_eq!(secret.expose(), "s3cret");
        assert!(!format!("{secret:?}").contains("s3cret"));
    }
}

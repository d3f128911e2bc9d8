//! Where an adapter's key comes from: `key_file` or `key_env`, exactly one of them, read through
//! the project's one secret reader ([`symbiote::secret`]).

use std::path::PathBuf;

pub use symbiote::secret::{Secret, SecretSource as KeySource};

/// The source named by the `key_file` and `key_env` settings (neither is an error when
/// `required`); on error, the setting to blame and why.
pub fn from_settings(
    file: Option<PathBuf>,
    env: Option<String>,
    required: bool,
) -> Result<Option<KeySource>, (&'static str, String)> {
    match KeySource::from_settings("key", file, env) {
        Ok(None) if required => Err(("key_file", "missing: give key_file or key_env".into())),
        Ok(source) => Ok(source),
        Err(e) => Err(("key_file", e.to_string())),
    }
}

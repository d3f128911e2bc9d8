//! Key files: a 32-byte ed25519 seed as hex on one line, readable only by its owner. Keys come
//! from files or environment variables, never from the command line, and never appear in logs
//! or error messages.

use std::path::Path;

use crate::crypto::Keypair;
use crate::secret::{SecretError, SecretSource};

/// Why a key could not be read or written. Messages name the file or variable, never the key.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot write key file {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: expected 64 hex characters (a 32-byte ed25519 seed)")]
    Format { origin: String },
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// Parses a seed given as hex (surrounding white space allowed).
pub fn parse_seed(text: &str, origin: &str) -> Result<Keypair, KeyFileError> {
    let mut seed = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut seed).map_err(|_| KeyFileError::Format {
        origin: origin.to_string(),
    })?;
    Ok(Keypair::from_seed(&seed))
}

/// Reads a key file.
pub fn read(path: &Path) -> Result<Keypair, KeyFileError> {
    load(&SecretSource::File(path.to_path_buf()))
}

/// Reads the key from environment variable `var`, if it is set.
pub fn from_env(var: &str) -> Result<Option<Keypair>, KeyFileError> {
    if std::env::var_os(var).is_none() {
        return Ok(None);
    }
    load(&SecretSource::Env(var.to_string())).map(Some)
}

/// Reads the key from where `source` says.
pub fn load(source: &SecretSource) -> Result<Keypair, KeyFileError> {
    let secret = source.read().map_err(KeyFileError::Secret)?;
    parse_seed(secret.expose(), secret.origin())
}

/// Writes `hex` (a secret) to `path`, readable only by its owner.
pub fn write_secret(path: &Path, hex: &str) -> Result<(), KeyFileError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| KeyFileError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    writeln!(file, "{hex}").map_err(err)
}

/// Writes a key file.
pub fn write(path: &Path, keypair: &Keypair) -> Result<(), KeyFileError> {
    write_secret(path, &hex::encode(keypair.secret_seed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        let key = Keypair::generate();
        write(&path, &key).unwrap();
        assert_eq!(read(&path).unwrap().public(), key.public());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn malformed_key_names_the_file_but_not_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.key");
        std::fs::write(&path, "secretsecret").unwrap();
        let message = read(&path).unwrap_err().to_string();
        assert!(message.contains("bad.key"), "{message}");
        assert!(!message.contains("secretsecret"), "{message}");
    }
}

//! Where the harness finds the binaries that `tools/install.sh` installs.

use std::path::{Path, PathBuf};

use crate::HarnessError;

/// The folder that `tools/install.sh` fills: `$SYMBIOTE_TOOLS_DIR`, else
/// `$XDG_CACHE_HOME/symbiote-relayer`, else `~/.cache/symbiote-relayer`.
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SYMBIOTE_TOOLS_DIR") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("symbiote-relayer")
}

/// Finds the executable `name`: first in [`tools_dir`]`/bin`, then on `PATH`.
pub fn find(name: &str) -> Result<PathBuf, HarnessError> {
    let bin = tools_dir().join("bin");
    let candidate = bin.join(name);
    if candidate.is_file() {
        return Ok(candidate);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(HarnessError::ToolMissing {
        tool: name.to_string(),
        looked_in: format!("{} and PATH", bin.display()),
    })
}

use std::path::PathBuf;

/// Why a local node could not be provided.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A tool binary is not installed where the harness looks for it.
    #[error("{tool} not found (looked in {looked_in}); run `tools/install.sh` to install it")]
    ToolMissing { tool: String, looked_in: String },
    /// The node process could not be started at all.
    #[error("cannot start {what}: {source}")]
    Spawn {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The node started but did not become ready; `log` holds the end of its output.
    #[error("{what} did not become ready: {reason}\n--- last lines of {log_path} ---\n{log}")]
    NotReady {
        what: String,
        reason: String,
        log_path: PathBuf,
        log: String,
    },
    /// A file-system step (data directory, config file) failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A JSON-RPC call failed or answered with an error.
    #[error("{method} on {url}: {reason}")]
    Rpc {
        url: String,
        method: String,
        reason: String,
    },
    /// No free ports could be found.
    #[error("no free loopback ports: {0}")]
    Ports(String),
    /// An environment variable that configures the harness is malformed.
    #[error("environment variable {name}: {reason}")]
    Env { name: String, reason: String },
}

impl HarnessError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        HarnessError::Io {
            what: what.into(),
            source,
        }
    }
}

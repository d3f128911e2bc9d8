//! A node process that is killed when its handle is dropped: used for the hostchain nodes and
//! by tests that run the project's own binaries (symbiote validators, relayers).

use std::fs::File;
use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::HarnessError;

/// How much of a node's log an error message shows.
const LOG_TAIL_BYTES: u64 = 4_000;

pub struct NodeProcess {
    /// What the node is, for messages ("anvil", "bitcoind", ...).
    name: String,
    /// Where stdout and stderr go; its tail is shown when the node fails.
    log_path: PathBuf,
    child: Child,
}

impl NodeProcess {
    /// Starts `command` with stdout and stderr appended to `log_path` (created if missing), in
    /// a process group of
    /// its own so that a Ctrl-C at the terminal reaches only the harness, which then stops it.
    pub fn spawn(name: &str, mut command: Command, log_path: &Path) -> Result<Self, HarnessError> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .map_err(|e| HarnessError::io(format!("create {}", log_path.display()), e))?;
        let log_err = log
            .try_clone()
            .map_err(|e| HarnessError::io(format!("open {}", log_path.display()), e))?;
        command
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0);
        let child = command.spawn().map_err(|source| HarnessError::Spawn {
            what: name.to_string(),
            source,
        })?;
        Ok(NodeProcess {
            name: name.to_string(),
            log_path: log_path.to_path_buf(),
            child,
        })
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last lines of the node's output.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log_path)
    }

    pub fn not_ready(&self, reason: impl Into<String>) -> HarnessError {
        HarnessError::NotReady {
            what: self.name.clone(),
            reason: reason.into(),
            log_path: self.log_path.clone(),
            log: self.log_tail(),
        }
    }

    /// Polls `check` until it succeeds, the process exits, or `timeout` passes.
    pub(crate) async fn wait_ready<F, Fut, T>(
        &mut self,
        timeout: Duration,
        mut check: F,
    ) -> Result<T, HarnessError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, HarnessError>>,
    {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.not_ready(format!("the process exited ({status})")));
            }
            let last = match check().await {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            if started.elapsed() > timeout {
                return Err(self.not_ready(format!(
                    "not ready after {}s; last check: {last}",
                    timeout.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills the process now (SIGKILL) and waits for it; dropping the handle does the same.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process has exited.
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Whether the log mentions a port already in use (a lost race for a free port).
    pub fn lost_port_race(&self) -> bool {
        let tail = self.log_tail().to_lowercase();
        tail.contains("address already in use") || tail.contains("addrinuse")
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last lines of the file at `path`.
pub fn log_tail(path: &Path) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::from("(no log)");
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

//! A symbiote network of validator processes (the project's `symbiote` binary), each with its
//! own key, database and port, for the integration tests and the devnet.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::process::NodeProcess;
use crate::{HarnessError, ports};

/// How a network is created.
#[derive(Clone, Debug)]
pub struct NetworkOptions {
    /// The symbiote's name.
    pub chain_name: String,
    /// How many validators.
    pub validators: usize,
    /// Hostchains in the genesis set.
    pub hostchains: Vec<String>,
    /// How many relayers, and how many must sign.
    pub relayers: usize,
    pub relayer_threshold: u16,
    /// Block interval of the proposer.
    pub block_interval_ms: u64,
}

impl Default for NetworkOptions {
    fn default() -> Self {
        NetworkOptions {
            chain_name: format!("test-{:08x}", rand::random::<u32>()),
            validators: 4,
            hostchains: vec![
                "bitcoin-regtest".into(),
                "evm-31337".into(),
                "solana-local".into(),
            ],
            relayers: 1,
            relayer_threshold: 1,
            block_interval_ms: 200,
        }
    }
}

/// One validator of the network.
pub struct Validator {
    /// Its API port.
    port: u16,
    /// Its running process; `None` while stopped.
    process: Option<NodeProcess>,
}

/// A running symbiote network; every validator is stopped when it is dropped.
pub struct SymbioteNetwork {
    /// The `symbiote` binary.
    binary: PathBuf,
    /// Genesis, keys, databases and logs.
    dir: TempDir,
    /// The validators, by index (validator-{i}.key).
    validators: Vec<Validator>,
    /// Block interval of the proposer.
    block_interval_ms: u64,
}

impl SymbioteNetwork {
    /// Creates a genesis with fresh keys and starts every validator.
    pub async fn start(binary: &Path, options: &NetworkOptions) -> Result<Self, HarnessError> {
        let dir = tempfile::Builder::new()
            .prefix("symbiote-")
            .tempdir()
            .map_err(|e| HarnessError::io("create symbiote network directory", e))?;
        let mut genesis = Command::new(binary);
        genesis
            .arg("genesis")
            .arg("--chain-name")
            .arg(&options.chain_name)
            .arg("--validators")
            .arg(options.validators.to_string())
            .arg("--relayers")
            .arg(options.relayers.to_string())
            .arg("--relayer-threshold")
            .arg(options.relayer_threshold.to_string())
            .arg("--out")
            .arg(dir.path());
        for chain in &options.hostchains {
            genesis.arg("--hostchain").arg(chain);
        }
        let output = genesis.output().map_err(|source| HarnessError::Spawn {
            what: "symbiote genesis".into(),
            source,
        })?;
        if !output.status.success() {
            return Err(HarnessError::NotReady {
                what: "symbiote genesis".into(),
                reason: format!("exited with {}", output.status),
                log_path: dir.path().to_path_buf(),
                log: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        let base = ports::free_range(u16::try_from(options.validators).unwrap_or(u16::MAX))?;
        let validators = (0..options.validators)
            .map(|i| Validator {
                port: base + u16::try_from(i).unwrap_or_default(),
                process: None,
            })
            .collect();
        let mut network = SymbioteNetwork {
            binary: binary.to_path_buf(),
            dir,
            validators,
            block_interval_ms: options.block_interval_ms,
        };
        for i in 0..network.validators.len() {
            network.spawn(i)?;
        }
        for i in 0..network.validators.len() {
            network.wait_up(i).await?;
        }
        Ok(network)
    }

    /// The folder with `genesis.json`, `validator-{i}.key`, `relayer-{i}.key` and
    /// `relayer-{i}.evm.key`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The genesis file.
    pub fn genesis_path(&self) -> PathBuf {
        self.dir.path().join("genesis.json")
    }

    /// Validator `i`'s API URL.
    pub fn url(&self, i: usize) -> String {
        let port = self.validators.get(i).map(|v| v.port).unwrap_or_default();
        format!("http://127.0.0.1:{port}")
    }

    /// The number of validators.
    pub fn len(&self) -> usize {
        self.validators.len()
    }

    /// Whether the network has no validators.
    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }

    fn spawn(&mut self, i: usize) -> Result<(), HarnessError> {
        let peers: Vec<String> = (0..self.validators.len())
            .filter(|j| *j != i)
            .map(|j| self.url(j))
            .collect();
        let port = self.validators.get(i).map(|v| v.port).unwrap_or_default();
        let mut command = Command::new(&self.binary);
        command
            .arg("run")
            .arg("--genesis")
            .arg(self.genesis_path())
            .arg("--key-file")
            .arg(self.dir.path().join(format!("validator-{i}.key")))
            .arg("--db")
            .arg(self.dir.path().join(format!("validator-{i}.sqlite")))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--block-interval-ms")
            .arg(self.block_interval_ms.to_string())
            .env("RUST_LOG", "info,sqlx=warn");
        for peer in peers {
            command.arg("--peer").arg(peer);
        }
        // Appends: a restarted validator keeps its earlier log.
        let log = self.dir.path().join(format!("validator-{i}.log"));
        let process = NodeProcess::spawn(&format!("symbiote validator {i}"), command, &log)?;
        if let Some(v) = self.validators.get_mut(i) {
            v.process = Some(process);
        }
        Ok(())
    }

    async fn wait_up(&mut self, i: usize) -> Result<(), HarnessError> {
        let url = format!("{}/health", self.url(i));
        let client = crate::rpc::client();
        let Some(process) = self.validators.get_mut(i).and_then(|v| v.process.as_mut()) else {
            return Ok(());
        };
        process
            .wait_ready(Duration::from_secs(30), || async {
                client
                    .get(&url)
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())
                    .map(|_| ())
                    .map_err(|e| HarnessError::Rpc {
                        url: url.clone(),
                        method: "GET /health".into(),
                        reason: e.to_string(),
                    })
            })
            .await
    }

    /// Kills validator `i` (SIGKILL).
    pub fn kill(&mut self, i: usize) {
        if let Some(v) = self.validators.get_mut(i) {
            v.process = None;
        }
    }

    /// Restarts validator `i` with its key and database.
    pub async fn restart(&mut self, i: usize) -> Result<(), HarnessError> {
        self.kill(i);
        self.spawn(i)?;
        self.wait_up(i).await
    }

    /// Validator `i`'s log.
    pub fn log(&self, i: usize) -> String {
        crate::process::log_tail(&self.dir.path().join(format!("validator-{i}.log")))
    }

    /// Validator `i`'s finalized height and head hash.
    pub async fn head(&self, i: usize) -> Result<(u64, String), HarnessError> {
        let url = format!("{}/v1/head", self.url(i));
        let err = |reason: String| HarnessError::Rpc {
            url: url.clone(),
            method: "GET /v1/head".into(),
            reason,
        };
        let body: Value = crate::rpc::client()
            .get(&url)
            .send()
            .await
            .map_err(|e| err(e.to_string()))?
            .json()
            .await
            .map_err(|e| err(e.to_string()))?;
        let height = body["height"]
            .as_u64()
            .ok_or_else(|| err(format!("no height in {body}")))?;
        let hash = body["hash"].as_str().unwrap_or_default().to_string();
        Ok((height, hash))
    }

    /// Waits until validator `i` has finalized at least `height`.
    pub async fn wait_height(
        &self,
        i: usize,
        height: u64,
        timeout: Duration,
    ) -> Result<u64, HarnessError> {
        let started = Instant::now();
        loop {
            if let Ok((h, _)) = self.head(i).await
                && h >= height
            {
                return Ok(h);
            }
            if started.elapsed() > timeout {
                return Err(HarnessError::NotReady {
                    what: format!("symbiote validator {i}"),
                    reason: format!("height {height} not reached in {}s", timeout.as_secs()),
                    log_path: self.dir.path().join(format!("validator-{i}.log")),
                    log: self.log(i),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

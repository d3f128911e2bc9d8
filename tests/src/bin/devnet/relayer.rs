//! The devnet's relayer: its configuration (SQLite, the three hostchains, the bridge on anvil
//! and the Solana vault), its process, and the parts of its API and CLI the demo reads.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use devnet::process::NodeProcess;
use serde_json::Value;

/// Everything the configuration file names.
pub struct ConfigParams<'a> {
    /// The symbiote node the relayer follows.
    pub node_url: &'a str,
    /// The symbiote's folder: genesis, `relayer-0.key`, `relayer-0.evm.key`.
    pub dir: &'a Path,
    pub api_port: u16,
    pub bitcoind_url: &'a str,
    pub bitcoind_user: &'a str,
    pub bitcoind_password: &'a str,
    /// Hex secret file of the relayer's Bitcoin key.
    pub bitcoin_key: &'a Path,
    pub anvil_url: &'a str,
    pub anchor_contract: String,
    pub bridge_contract: String,
    pub bridge_block: u64,
    pub solana_url: &'a str,
    /// The relayer's Solana fee payer (Solana CLI format).
    pub solana_key: &'a Path,
    /// The bridge vault's keypair.
    pub vault_key: &'a Path,
}

/// Writes `relayer.toml` into `params.dir`; returns its path.
pub fn write_config(params: &ConfigParams<'_>) -> Result<PathBuf> {
    let dir = params.dir;
    let path = dir.join("relayer.toml");
    let text = format!(
        r#"# The devnet's relayer (written by the devnet binary; keys in docs/configuration.md).
[symbiote]
node_url = "{node}"
genesis_file = "{genesis}"
poll_interval_ms = 300

[database]
url = "sqlite://{db}"

[api]
listen = "127.0.0.1:{api_port}"

[batch]
every_blocks = 5
every_seconds = 10

[bridge]
enabled = true
key_file = "{bridge_key}"
poll_interval_ms = 500

[hostchains.bitcoin-regtest]
kind = "bitcoin"
rpc_url = "{btc}"
rpc_user = "{btc_user}"
rpc_password = "{btc_password}"
network = "regtest"
key_file = "{btc_key}"
confirmations = 2

[hostchains.evm-31337]
kind = "evm"
rpc_url = "{evm}"
chain_id = 31337
key_file = "{evm_key}"
anchor_contract = "{anchor}"
bridge_contract = "{bridge}"
deposit_start_block = {bridge_block}
confirmations = 2

[hostchains.solana-local]
kind = "solana"
rpc_url = "{sol}"
key_file = "{sol_key}"
vault_key_file = "{vault_key}"
"#,
        node = params.node_url,
        genesis = dir.join("genesis.json").display(),
        db = dir.join("relayer.sqlite").display(),
        api_port = params.api_port,
        bridge_key = dir.join("relayer-0.key").display(),
        btc = params.bitcoind_url,
        btc_user = params.bitcoind_user,
        btc_password = params.bitcoind_password,
        btc_key = params.bitcoin_key.display(),
        evm = params.anvil_url,
        evm_key = dir.join("relayer-0.evm.key").display(),
        anchor = params.anchor_contract,
        bridge = params.bridge_contract,
        bridge_block = params.bridge_block,
        sol = params.solana_url,
        sol_key = params.solana_key.display(),
        vault_key = params.vault_key.display(),
    );
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// A JSON HTTP API (the relayer's, a symbiote node's).
#[derive(Clone)]
pub struct Api {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    client: reqwest::Client,
}

impl Api {
    pub fn new(url: String) -> Self {
        Api {
            url,
            client: devnet::rpc::client(),
        }
    }

    /// GET `path` as JSON; `None` while the API does not answer it with a success.
    pub async fn get(&self, path: &str) -> Option<Value> {
        let response = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }

    /// Whether GET `path` answers with a success.
    pub async fn ok(&self, path: &str) -> bool {
        self.client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }

    /// GET `path` as text.
    pub async fn text(&self, path: &str) -> Result<String> {
        let url = format!("{}{path}", self.url);
        self.client
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("GET {url}"))?
            .text()
            .await
            .with_context(|| format!("reading GET {url}"))
    }
}

/// The running relayer, stopped when dropped.
pub struct Relayer {
    /// The `relayer` binary, for its CLI.
    binary: PathBuf,
    pub config: PathBuf,
    /// stdout and stderr of `relayer run`.
    pub log: PathBuf,
    pub api: Api,
    process: NodeProcess,
}

impl Relayer {
    /// Starts `relayer run` with `config`, logging into `log`.
    pub fn spawn(binary: &Path, config: &Path, log: &Path, api_port: u16) -> Result<Self> {
        let mut command = Command::new(binary);
        command
            .arg("--config")
            .arg(config)
            .arg("run")
            .env("RUST_LOG", "info,sqlx=warn")
            // A plain log: its tail is shown on the terminal when a step fails.
            .env("NO_COLOR", "1");
        let process =
            NodeProcess::spawn("relayer", command, log).context("starting the relayer")?;
        Ok(Relayer {
            binary: binary.to_path_buf(),
            config: config.to_path_buf(),
            log: log.to_path_buf(),
            api: Api::new(format!("http://127.0.0.1:{api_port}")),
            process,
        })
    }

    /// The last lines of the relayer's log.
    pub fn log_tail(&self) -> String {
        devnet::process::log_tail(&self.log)
    }

    /// Fails if the relayer has exited.
    pub fn check_running(&mut self) -> Result<()> {
        if self.process.has_exited() {
            bail!("the relayer exited (its log: {})", self.log.display());
        }
        Ok(())
    }

    /// `relayer scout verify <file>`: whether the report was confirmed, and what it printed.
    pub async fn verify_report(&self, file: &Path) -> Result<(bool, String)> {
        let output = tokio::process::Command::new(&self.binary)
            .arg("--config")
            .arg(&self.config)
            .args(["scout", "verify"])
            .arg(file)
            .env("RUST_LOG", "warn")
            .kill_on_drop(true)
            .output()
            .await
            .context("running relayer scout verify")?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok((output.status.success(), text.trim().to_string()))
    }
}

/// How long the relayer may take to answer its API after it started.
pub const API_TIMEOUT: Duration = Duration::from_secs(60);

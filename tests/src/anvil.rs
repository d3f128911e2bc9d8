//! anvil, foundry's local EVM node.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::process::NodeProcess;
use crate::{HarnessError, compose, ports, rpc, tools};

/// The chain id of spawned anvil nodes (anvil's default).
pub const CHAIN_ID: u64 = 31337;

/// A running anvil node, stopped when dropped.
pub struct Anvil {
    /// JSON-RPC endpoint.
    url: String,
    /// Private keys of the funded development accounts (hex with `0x`); empty with `COMPOSE=1`,
    /// where tests fund their own keys with [`Anvil::set_balance`] so they never share a nonce.
    dev_keys: Vec<String>,
    /// The process and its data directory; `None` with `COMPOSE=1`.
    node: Option<(NodeProcess, TempDir)>,
}

impl Anvil {
    /// Spawns anvil, or with `COMPOSE=1` connects to the compose service.
    pub async fn start() -> Result<Self, HarnessError> {
        if compose::enabled() {
            let anvil = Anvil {
                url: compose::get(compose::ANVIL_URL),
                dev_keys: Vec::new(),
                node: None,
            };
            anvil.chain_id().await?;
            return Ok(anvil);
        }
        Self::spawn().await
    }

    /// Spawns a new anvil on a free port with automatic mining.
    pub async fn spawn() -> Result<Self, HarnessError> {
        let binary = tools::find("anvil")?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let dir = tempfile::Builder::new()
                .prefix("anvil-")
                .tempdir()
                .map_err(|e| HarnessError::io("create anvil data directory", e))?;
            let port = ports::free_port()?;
            let config_out = dir.path().join("anvil.json");
            let mut command = Command::new(&binary);
            command
                .arg("--host")
                .arg("127.0.0.1")
                .arg("--port")
                .arg(port.to_string())
                .arg("--chain-id")
                .arg(CHAIN_ID.to_string())
                .arg("--config-out")
                .arg(&config_out);
            let mut process = NodeProcess::spawn("anvil", command, &dir.path().join("anvil.log"))?;
            let url = format!("http://127.0.0.1:{port}");
            let client = rpc::client();
            let ready = process
                .wait_ready(Duration::from_secs(30), || {
                    rpc::call(&client, &url, None, "eth_chainId", json!([]))
                })
                .await;
            match ready {
                Ok(_) => {
                    let dev_keys = read_dev_keys(&config_out)?;
                    return Ok(Anvil {
                        url,
                        dev_keys,
                        node: Some((process, dir)),
                    });
                }
                Err(_) if attempt < 3 && process.lost_port_race() => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The JSON-RPC endpoint.
    pub fn rpc_url(&self) -> &str {
        &self.url
    }

    /// Private keys of anvil's funded development accounts (none with `COMPOSE=1`).
    pub fn dev_keys(&self) -> &[String] {
        &self.dev_keys
    }

    /// The node's log file, if the harness spawned it.
    pub fn log_path(&self) -> Option<&std::path::Path> {
        self.node.as_ref().map(|(p, _)| p.log_path())
    }

    /// The chain id the node reports.
    pub async fn chain_id(&self) -> Result<u64, HarnessError> {
        let value = self.call("eth_chainId", json!([])).await?;
        parse_quantity(&self.url, "eth_chainId", &value)
    }

    /// Sets the balance of `address` (hex) to `wei`, with anvil's `anvil_setBalance`.
    pub async fn set_balance(&self, address: &str, wei: u128) -> Result<(), HarnessError> {
        self.call("anvil_setBalance", json!([address, format!("{wei:#x}")]))
            .await
            .map(|_| ())
    }

    /// Mines `blocks` blocks at once.
    pub async fn mine(&self, blocks: u64) -> Result<(), HarnessError> {
        self.call("anvil_mine", json!([format!("{blocks:#x}")]))
            .await
            .map(|_| ())
    }

    /// A raw JSON-RPC call.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, HarnessError> {
        rpc::call(&rpc::client(), &self.url, None, method, params).await
    }
}

fn read_dev_keys(path: &std::path::Path) -> Result<Vec<String>, HarnessError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| HarnessError::io(format!("read {}", path.display()), e))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        HarnessError::io(
            format!("parse {}", path.display()),
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    })?;
    Ok(value
        .get("private_keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

fn parse_quantity(url: &str, method: &str, value: &Value) -> Result<u64, HarnessError> {
    value
        .as_str()
        .and_then(|s| s.strip_prefix("0x"))
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .ok_or_else(|| HarnessError::Rpc {
            url: url.to_string(),
            method: method.to_string(),
            reason: format!("expected a hex quantity, got {value}"),
        })
}

//! bitcoind in regtest, built by `tools/install.sh` (no wallet: the relayer holds its own keys).

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::process::NodeProcess;
use crate::{HarnessError, compose, ports, rpc, tools};

/// A running regtest bitcoind, stopped when dropped.
pub struct Bitcoind {
    /// JSON-RPC endpoint (`http://127.0.0.1:PORT`).
    url: String,
    /// RPC credentials.
    user: String,
    password: String,
    /// The process and its data directory; `None` with `COMPOSE=1`.
    node: Option<(NodeProcess, TempDir)>,
}

impl Bitcoind {
    /// Spawns bitcoind, or with `COMPOSE=1` connects to the compose service.
    pub async fn start() -> Result<Self, HarnessError> {
        if compose::enabled() {
            let node = Bitcoind {
                url: compose::get(compose::BITCOIND_URL),
                user: compose::get(compose::BITCOIND_USER),
                password: compose::get(compose::BITCOIND_PASSWORD),
                node: None,
            };
            node.call("getblockchaininfo", json!([])).await?;
            return Ok(node);
        }
        Self::spawn().await
    }

    /// Spawns a new regtest bitcoind on free ports with its own data directory.
    pub async fn spawn() -> Result<Self, HarnessError> {
        let binary = tools::find("bitcoind")?;
        let user = "symbiote".to_string();
        let password = format!("{:032x}", rand::random::<u128>());
        let mut attempt = 0;
        loop {
            attempt += 1;
            let dir = tempfile::Builder::new()
                .prefix("bitcoind-")
                .tempdir()
                .map_err(|e| HarnessError::io("create bitcoind data directory", e))?;
            let base = ports::free_range(2)?;
            let (rpc_port, p2p_port) = (base, base + 1);
            let mut command = Command::new(&binary);
            command.args([
                "-regtest",
                "-server=1",
                "-printtoconsole=1",
                "-txindex=1",
                "-listen=1",
                "-discover=0",
                "-dnsseed=0",
                "-fixedseeds=0",
                "-listenonion=0",
                "-rpcallowip=127.0.0.1",
                "-rpcbind=127.0.0.1",
            ]);
            command
                .arg(format!("-datadir={}", dir.path().display()))
                .arg(format!("-bind=127.0.0.1:{p2p_port}"))
                .arg(format!("-rpcport={rpc_port}"))
                .arg(format!("-rpcuser={user}"))
                .arg(format!("-rpcpassword={password}"));
            let mut process =
                NodeProcess::spawn("bitcoind", command, &dir.path().join("bitcoind.log"))?;
            let node = Bitcoind {
                url: format!("http://127.0.0.1:{rpc_port}"),
                user: user.clone(),
                password: password.clone(),
                node: None,
            };
            let ready = process
                .wait_ready(Duration::from_secs(60), || {
                    node.call("getblockchaininfo", json!([]))
                })
                .await;
            match ready {
                Ok(_) => {
                    return Ok(Bitcoind {
                        node: Some((process, dir)),
                        ..node
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

    /// RPC user and password.
    pub fn auth(&self) -> (&str, &str) {
        (&self.user, &self.password)
    }

    /// The node's log file, if the harness spawned it.
    pub fn log_path(&self) -> Option<&std::path::Path> {
        self.node.as_ref().map(|(p, _)| p.log_path())
    }

    /// Mines `blocks` blocks paying the coinbase to `address`; returns their hashes.
    pub async fn mine_to(&self, blocks: u64, address: &str) -> Result<Vec<String>, HarnessError> {
        let value = self
            .call("generatetoaddress", json!([blocks, address]))
            .await?;
        Ok(value
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|h| h.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// A raw JSON-RPC call.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, HarnessError> {
        rpc::call(
            &rpc::client(),
            &self.url,
            Some((&self.user, &self.password)),
            method,
            params,
        )
        .await
    }
}

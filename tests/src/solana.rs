//! A local Solana test network: `symbiote-solana-validator` from `tools/solana-validator`
//! (Agave's test validator with a faucet; its genesis holds the SPL Memo and Token programs).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::process::NodeProcess;
use crate::{HarnessError, compose, ports, rpc, tools};

/// Ports the validator binds besides RPC, pubsub, gossip and faucet (TPU, TVU, repair, QUIC...).
const DYNAMIC_PORTS: u16 = 40;

/// A running Solana test validator, stopped when dropped.
pub struct SolanaValidator {
    /// JSON-RPC endpoint.
    url: String,
    /// The faucet keypair file (Solana CLI format), when the harness spawned the validator.
    faucet_keypair: Option<PathBuf>,
    /// The process and its ledger directory; `None` with `COMPOSE=1`.
    node: Option<(NodeProcess, TempDir)>,
}

impl SolanaValidator {
    /// Spawns a validator, or with `COMPOSE=1` connects to the compose service.
    pub async fn start() -> Result<Self, HarnessError> {
        if compose::enabled() {
            let validator = SolanaValidator {
                url: compose::get(compose::SOLANA_URL),
                faucet_keypair: None,
                node: None,
            };
            validator.call("getHealth", json!([])).await?;
            return Ok(validator);
        }
        Self::spawn().await
    }

    /// Spawns a new validator on free ports with its own ledger.
    pub async fn spawn() -> Result<Self, HarnessError> {
        let binary = tools::find("symbiote-solana-validator")?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let dir = tempfile::Builder::new()
                .prefix("solana-")
                .tempdir()
                .map_err(|e| HarnessError::io("create Solana ledger directory", e))?;
            let ledger = dir.path().join("ledger");
            // RPC, pubsub (RPC + 1), faucet, gossip, then the dynamic range.
            let base = ports::free_range(4 + DYNAMIC_PORTS)?;
            let mut command = Command::new(&binary);
            command
                .arg("--ledger")
                .arg(&ledger)
                .arg("--rpc-port")
                .arg(base.to_string())
                .arg("--faucet-port")
                .arg((base + 2).to_string())
                .arg("--gossip-port")
                .arg((base + 3).to_string())
                .arg("--dynamic-port-range")
                .arg(format!("{}-{}", base + 4, base + 4 + DYNAMIC_PORTS));
            let mut process = NodeProcess::spawn(
                "solana validator",
                command,
                &dir.path().join("validator.log"),
            )?;
            let validator = SolanaValidator {
                url: format!("http://127.0.0.1:{base}"),
                faucet_keypair: Some(ledger.join("faucet-keypair.json")),
                node: None,
            };
            let ready = process
                .wait_ready(Duration::from_secs(120), || validator.ready())
                .await;
            match ready {
                Ok(()) => {
                    return Ok(SolanaValidator {
                        node: Some((process, dir)),
                        ..validator
                    });
                }
                Err(_) if attempt < 3 && process.lost_port_race() => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Ready once RPC answers healthy and the first slot has been produced.
    async fn ready(&self) -> Result<(), HarnessError> {
        self.call("getHealth", json!([])).await?;
        let slot = self.call("getSlot", json!([])).await?;
        match slot.as_u64() {
            Some(s) if s > 0 => Ok(()),
            _ => Err(HarnessError::Rpc {
                url: self.url.clone(),
                method: "getSlot".into(),
                reason: format!("no slot produced yet ({slot})"),
            }),
        }
    }

    /// The JSON-RPC endpoint.
    pub fn rpc_url(&self) -> &str {
        &self.url
    }

    /// The faucet (genesis mint) keypair file, if the harness spawned the validator.
    pub fn faucet_keypair(&self) -> Option<&std::path::Path> {
        self.faucet_keypair.as_deref()
    }

    /// The node's log file, if the harness spawned it.
    pub fn log_path(&self) -> Option<&std::path::Path> {
        self.node.as_ref().map(|(p, _)| p.log_path())
    }

    /// A raw JSON-RPC call.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, HarnessError> {
        rpc::call(&rpc::client(), &self.url, None, method, params).await
    }
}

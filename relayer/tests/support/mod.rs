//! What the relayer's integration tests share (`mod support;` in each): the relayer as a child
//! process, the symbiote binary, transactions and governance on the symbiote, anchors read back
//! from the hostchains, polling, and EVM wallets.

// Compiled into each test crate, which uses only part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, Instant};

use alloy::network::EthereumWallet;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use devnet::process::NodeProcess;
use devnet::symbiote::SymbioteNetwork;
use devnet::{Anvil, Bitcoind};
use serde_json::Value;
use symbiote::anchor::AnchorPayload;
use symbiote::crypto::Keypair;
use symbiote::node::client::NodeClient;
use symbiote::node::wire::TxStatusReply;
use symbiote::tx::{GovernanceChange, ProposalId, SignedTransaction, Transaction};
use symbiote::types::Height;

/// The relayer binary under test.
pub const RELAYER: &str = env!("CARGO_BIN_EXE_relayer");

/// The symbiote binary, built next to the relayer binary (`cargo build -p symbiote`, or
/// `cargo test --workspace`).
pub fn symbiote_bin() -> PathBuf {
    let bin = Path::new(RELAYER).parent().unwrap().join("symbiote");
    assert!(
        bin.exists(),
        "build the symbiote binary first (cargo build -p symbiote): {}",
        bin.display()
    );
    bin
}

/// A relayer run as `relayer --config <config> run` in `dir`, its log in `<name>.log` there,
/// with its API at `api`.
pub struct RelayerProcess {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub api: String,
    /// The process's name, and its log file's (`relayer` unless [`RelayerProcess::named`]).
    pub name: String,
    /// Environment variables of the process besides `RUST_LOG`.
    env: Vec<(String, String)>,
    process: Option<NodeProcess>,
}

impl RelayerProcess {
    /// A relayer of `config`, logging in `dir`, its API on `127.0.0.1:port`; not started.
    pub fn new(dir: &Path, config: PathBuf, port: u16) -> RelayerProcess {
        RelayerProcess {
            dir: dir.to_path_buf(),
            config,
            api: format!("http://127.0.0.1:{port}"),
            name: "relayer".to_string(),
            env: Vec::new(),
            process: None,
        }
    }

    /// Named `name`: its log is `<name>.log`.
    pub fn named(mut self, name: &str) -> RelayerProcess {
        self.name = name.to_string();
        self
    }

    /// With the environment variable `key` set to `value` (an admin token, say).
    pub fn with_env(mut self, key: &str, value: &str) -> RelayerProcess {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn log_file(&self) -> PathBuf {
        self.dir.join(format!("{}.log", self.name))
    }

    /// Starts the process (again, after [`RelayerProcess::kill`]).
    pub fn start(&mut self) {
        let mut command = Command::new(RELAYER);
        command
            .arg("--config")
            .arg(&self.config)
            .arg("run")
            .env("RUST_LOG", "info,sqlx=warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        self.process = Some(NodeProcess::spawn(&self.name, command, &self.log_file()).unwrap());
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        self.process = None;
    }

    /// Runs `relayer --config <config> <args>`: (success, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(RELAYER)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The JSON the API answers at `path` with a success status; `None` if it is not up, answers
    /// an error or no JSON.
    pub async fn get(&self, path: &str) -> Option<Value> {
        let response = reqwest::get(format!("{}{path}", self.api)).await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }

    /// The text the API answers at `path`.
    pub async fn text(&self, path: &str) -> String {
        reqwest::get(format!("{}{path}", self.api))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The end of its log.
    pub fn log(&self) -> String {
        devnet::process::log_tail(&self.log_file())
    }
}

/// The ends of the logs of `relayers`, one after the other.
pub fn logs<'a>(relayers: impl IntoIterator<Item = &'a RelayerProcess>) -> String {
    relayers
        .into_iter()
        .map(RelayerProcess::log)
        .collect::<Vec<_>>()
        .join("\n----\n")
}

/// Polls `check` every `every` until it gives a value; past `limit`, fails with `what` and the
/// logs of `relayers`.
pub async fn wait_for<T, F, Fut>(
    what: &str,
    limit: Duration,
    every: Duration,
    relayers: &[&RelayerProcess],
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if started.elapsed() > limit {
            if relayers.is_empty() {
                panic!("timed out waiting for {what} (limit {limit:?})");
            }
            panic!(
                "timed out waiting for {what} (limit {limit:?}); relayer logs:\n{}",
                logs(relayers.iter().copied())
            );
        }
        tokio::time::sleep(every).await;
    }
}

/// Signs and submits a transaction of `key`, and waits (up to `limit`) until it is in a block;
/// returns the block's height.
pub async fn submit(node: &NodeClient, key: &Keypair, body: Transaction, limit: Duration) -> u64 {
    let symbiote = node.node_info().await.unwrap().symbiote;
    let nonce = node.account(&key.public()).await.unwrap().nonce;
    let tx = SignedTransaction::sign(key, symbiote, nonce, body);
    node.submit(&tx).await.unwrap();
    let hash = tx.hash();
    let started = Instant::now();
    loop {
        if let TxStatusReply::Included { height } = node.tx_status(&hash).await.unwrap() {
            return height.get();
        }
        assert!(started.elapsed() < limit, "transaction {hash} not included");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Validator 0 of `net` proposes `change` from `activation`; validators 1 and 2 approve it.
/// Returns the proposal's id and the height of the block with the last vote.
pub async fn govern(
    net: &SymbioteNetwork,
    node: &NodeClient,
    change: GovernanceChange,
    activation: u64,
    limit: Duration,
) -> (ProposalId, u64) {
    let validators: Vec<Keypair> = (0..3)
        .map(|i| symbiote::keyfile::read(&net.dir().join(format!("validator-{i}.key"))).unwrap())
        .collect();
    let propose = Transaction::Propose {
        change: change.clone(),
        activation: Height::new(activation),
    };
    submit(node, &validators[0], propose, limit).await;
    let governance = node.governance().await.unwrap();
    let id = governance
        .proposals
        .iter()
        .find(|p| p.change == change && p.activation.get() == activation)
        .unwrap_or_else(|| panic!("the proposal is not recorded: {:?}", governance.proposals))
        .id;
    let mut included = 0;
    for v in &validators[1..] {
        let vote = Transaction::Vote {
            proposal: id,
            approve: true,
        };
        included = submit(node, v, vote, limit).await;
    }
    (id, included)
}

/// The anchor payloads in OP_RETURNs of the regtest chain, oldest first.
pub async fn bitcoin_anchor_payloads(node: &Bitcoind) -> Vec<AnchorPayload> {
    let tip = node
        .call("getblockcount", serde_json::json!([]))
        .await
        .unwrap()
        .as_u64()
        .unwrap();
    let mut payloads = Vec::new();
    for height in 1..=tip {
        let hash = node
            .call("getblockhash", serde_json::json!([height]))
            .await
            .unwrap();
        let block = node
            .call("getblock", serde_json::json!([hash, 2]))
            .await
            .unwrap();
        for tx in block["tx"].as_array().unwrap() {
            for out in tx["vout"].as_array().unwrap() {
                let script = out["scriptPubKey"]["hex"].as_str().unwrap_or_default();
                // OP_RETURN, push of 45 bytes, then the payload.
                if let Some(payload) = script.strip_prefix("6a2d")
                    && let Ok(bytes) = hex::decode(payload)
                    && let Ok(payload) = AnchorPayload::decode(&bytes)
                {
                    payloads.push(payload);
                }
            }
        }
    }
    payloads
}

/// How many times each anchor sequence appears in an OP_RETURN of the regtest chain.
pub async fn bitcoin_anchor_sequences(node: &Bitcoind) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    for payload in bitcoin_anchor_payloads(node).await {
        *seen.entry(payload.sequence.get()).or_default() += 1;
    }
    seen
}

/// The EVM key in the hex key file at `path`.
pub fn evm_key(path: &Path) -> PrivateKeySigner {
    PrivateKeySigner::from_str(std::fs::read_to_string(path).unwrap().trim()).unwrap()
}

/// A provider of `anvil` that signs with `key`.
pub fn wallet(anvil: &Anvil, key: PrivateKeySigner) -> DynProvider {
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(key))
        .connect_http(anvil.rpc_url().parse().unwrap())
        .erased()
}

/// Sends a contract call and waits for its receipt, which must be a success.
pub async fn send<P: Provider, D: alloy::contract::CallDecoder>(
    call: alloy::contract::CallBuilder<P, D>,
) {
    let receipt = call.send().await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "transaction reverted: {receipt:?}");
}

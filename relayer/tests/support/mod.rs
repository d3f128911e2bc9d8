//! What the relayer's integration tests share (`mod support;` in each): the relayer as a child
//! process and the opening of its config, the symbiote binary, transactions and governance on
//! the symbiote, the hostchains made ready for a relayer (anchor contract, funded keys, a miner),
//! anchors read back from the hostchains, polling, and EVM wallets.

// Compiled into each test crate, which uses only part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, Instant};

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use chain_adapters::evm::bindings::SymbioteAnchor;
use devnet::process::NodeProcess;
use devnet::symbiote::SymbioteNetwork;
use devnet::{Anvil, Bitcoind, SolanaValidator};
use serde_json::Value;
use solana_client::nonblocking::rpc_client::RpcClient;
use solana_commitment_config::CommitmentConfig;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{Keypair as SolanaKeypair, Signer};
use symbiote::anchor::AnchorPayload;
use symbiote::client::NodeClient;
use symbiote::crypto::Keypair;
use symbiote::tx::{GovernanceChange, ProposalId, SignedTransaction, Transaction};
use symbiote::types::Height;
use symbiote::wire::TxStatusReply;

mod hostchains;

// Not every test binary that includes this module sets up hostchains.
#[allow(unused_imports)]
pub use hostchains::*;

/// The relayer binary under test.
pub const RELAYER: &str = env!("CARGO_BIN_EXE_relayer");

/// The symbiote binary, built next to the relayer binary (`cargo build -p symbiote-node`, or
/// `cargo test --workspace`).
pub fn symbiote_bin() -> PathBuf {
    let bin = Path::new(RELAYER).parent().unwrap().join("symbiote");
    assert!(
        bin.exists(),
        "build the symbiote binary first (cargo build -p symbiote-node): {}",
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

    /// A relayer of the config that `config` makes for its API port (a free one), written to
    /// `file` in `dir`, where it also logs; not started.
    pub fn configured(
        dir: &Path,
        file: &str,
        config: impl FnOnce(u16) -> String,
    ) -> RelayerProcess {
        let port = devnet::ports::free_port().unwrap();
        let path = dir.join(file);
        std::fs::write(&path, config(port)).unwrap();
        RelayerProcess::new(dir, path, port)
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

/// The opening of a relayer's TOML config, the same in every test: validator `validator` of
/// `net` as its symbiote node, polled often; its store at `database`; its API on
/// `127.0.0.1:port`. It ends inside the `[api]` table, so the caller's text may go on with keys
/// of that table before its own tables.
pub fn relayer_toml_head(
    net: &SymbioteNetwork,
    validator: usize,
    database: &str,
    port: u16,
) -> String {
    format!(
        r#"
[symbiote]
node_url = "{node}"
genesis_file = "{genesis}"
poll_interval_ms = 200

[database]
url = "{database}"

[api]
listen = "127.0.0.1:{port}"
"#,
        node = net.url(validator),
        genesis = net.genesis_path().display(),
    )
}

/// The URL of a relayer store in SQLite, in `dir`.
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("relayer.sqlite").display())
}

/// The height ranges of `batches` (rows of `/v1/batches`), sorted; asserts that they cover every
/// height from 1 without a gap or an overlap.
pub fn contiguous_batch_ranges(batches: &[Value]) -> Vec<(u64, u64)> {
    let mut ranges: Vec<(u64, u64)> = batches
        .iter()
        .map(|b| {
            (
                b["from_height"].as_u64().unwrap(),
                b["to_height"].as_u64().unwrap(),
            )
        })
        .collect();
    ranges.sort();
    assert_eq!(ranges[0].0, 1, "{ranges:?}");
    for pair in ranges.windows(2) {
        assert_eq!(
            pair[1].0,
            pair[0].1 + 1,
            "gap or overlap between batches: {ranges:?}"
        );
    }
    ranges
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

/// A follower of `net` storing verified blocks into `store`, and the node read through proofs
/// against them: what the bridge stages read in a running relayer.
pub fn verified_state(
    net: &SymbioteNetwork,
    node: &NodeClient,
    store: &relayer::store::Store,
    metrics: &relayer::metrics::Metrics,
) -> (
    relayer::pipeline::follower::Follower,
    relayer::verified::VerifiedNode,
) {
    let text = std::fs::read_to_string(net.genesis_path()).unwrap();
    let genesis: symbiote::genesis::Genesis = serde_json::from_str(&text).unwrap();
    let header = genesis.header().unwrap();
    let follower = relayer::pipeline::follower::Follower {
        store: store.clone(),
        node: node.clone(),
        genesis,
        poll: Duration::from_millis(50),
        metrics: metrics.clone(),
    };
    let state =
        relayer::verified::VerifiedNode::new(node.clone(), store.clone(), metrics.clone(), &header);
    (follower, state)
}

/// Follows every block `follower`'s node has now.
pub async fn follow(follower: &relayer::pipeline::follower::Follower) {
    let mut client = follower.light_client().await.unwrap();
    follower.step(&mut client).await.unwrap();
}

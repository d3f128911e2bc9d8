//! The local devnet: bitcoind regtest, anvil (with the anchor contract deployed), a Solana test
//! validator, a 4-validator symbiote, and the relayer on SQLite anchoring the symbiote into all
//! three. Shows progress until Ctrl-C, which stops every process it started.
//!
//! The `symbiote` and `relayer` binaries are taken from the folder of this binary (build them
//! with `cargo build --bins`, as `tools/devnet.sh` does).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use devnet::process::NodeProcess;
use devnet::symbiote::{NetworkOptions, SymbioteNetwork};
use devnet::{Anvil, Bitcoind, SolanaValidator, ports, rpc};
use serde_json::{Value, json};

/// How often a regtest block and an anvil block are mined (Solana produces slots itself).
const BLOCK_EVERY: Duration = Duration::from_secs(2);

fn sibling(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the devnet binary")?;
    let path = exe.with_file_name(name);
    if !path.exists() {
        bail!(
            "{} not found: build it with `cargo build --bins`",
            path.display()
        );
    }
    Ok(path)
}

/// A fresh regtest key (hex) and its P2WPKH address.
fn bitcoin_key() -> (String, String) {
    use bitcoin::secp256k1::{Secp256k1, SecretKey, rand};
    let secp = Secp256k1::new();
    let secret = SecretKey::new(&mut rand::thread_rng());
    let key = bitcoin::PrivateKey::new(secret, bitcoin::Network::Regtest);
    let address = bitcoin::CompressedPublicKey::from_private_key(&secp, &key)
        .map(|pk| bitcoin::Address::p2wpkh(&pk, bitcoin::Network::Regtest).to_string())
        .unwrap_or_default();
    (secret.display_secret().to_string(), address)
}

/// A fresh Solana keypair in the Solana CLI format, and its address.
fn solana_key() -> (String, String) {
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let bytes = key.to_keypair_bytes().to_vec();
    let address = bs58::encode(key.verifying_key().as_bytes()).into_string();
    (serde_json::to_string(&bytes).unwrap_or_default(), address)
}

/// Deploys `SymbioteAnchor(relayers = [relayer], threshold = 1)` from anvil's first (unlocked)
/// development account; returns its address.
async fn deploy_anchor(anvil: &Anvil, relayer: &str) -> Result<String> {
    let artifact =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts/artifacts/SymbioteAnchor.json");
    let text = std::fs::read_to_string(&artifact)
        .with_context(|| format!("reading {}", artifact.display()))?;
    let artifact: Value = serde_json::from_str(&text)?;
    let bytecode = artifact["bytecode"]
        .as_str()
        .context("artifact has no bytecode")?;
    // Constructor (address[] relayers, uint256 threshold): head (offset 0x40, threshold), then
    // the array (length 1, the address).
    let word = |hex: &str| format!("{hex:0>64}");
    let args = [
        word("40"),
        word("1"),
        word("1"),
        word(relayer.trim_start_matches("0x")),
    ]
    .concat();
    let from = anvil.call("eth_accounts", json!([])).await?[0].clone();
    let hash = anvil
        .call(
            "eth_sendTransaction",
            json!([{"from": from, "data": format!("{bytecode}{args}"), "gas": "0x500000"}]),
        )
        .await?;
    for _ in 0..50 {
        let receipt = anvil
            .call("eth_getTransactionReceipt", json!([hash]))
            .await?;
        if let Some(address) = receipt["contractAddress"].as_str() {
            return Ok(address.to_string());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the anchor contract deployment {hash} was not mined")
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let symbiote_bin = sibling("symbiote")?;
    let relayer_bin = sibling("relayer")?;

    println!(
        "starting bitcoind (regtest), anvil, the Solana test validator and 4 symbiote validators..."
    );
    let options = NetworkOptions {
        chain_name: "devnet".into(),
        block_interval_ms: 1_000,
        ..NetworkOptions::default()
    };
    let (bitcoind, anvil, solana, symbiote) = tokio::try_join!(
        Bitcoind::start(),
        Anvil::start(),
        SolanaValidator::start(),
        SymbioteNetwork::start(&symbiote_bin, &options)
    )
    .context("starting the nodes")?;

    let dir = symbiote.dir().to_path_buf();
    let (btc_key, btc_address) = bitcoin_key();
    bitcoind
        .mine_to(101, &btc_address)
        .await
        .context("funding the relayer on regtest")?;
    let evm_key = anvil
        .dev_keys()
        .get(1)
        .cloned()
        .context("anvil has no second dev key")?;
    let evm_address = anvil.call("eth_accounts", json!([])).await?[1]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let anchor_contract = deploy_anchor(&anvil, &evm_address).await?;
    let (sol_key, sol_address) = solana_key();
    let airdrop = solana
        .call("requestAirdrop", json!([sol_address, 100_000_000_000u64]))
        .await?;
    std::fs::write(dir.join("bitcoin.key"), &btc_key)?;
    std::fs::write(dir.join("evm.key"), evm_key.trim_start_matches("0x"))?;
    std::fs::write(dir.join("solana.json"), &sol_key)?;
    let (user, password) = bitcoind.auth();
    let api_port = ports::free_port()?;
    let config = dir.join("relayer.toml");
    std::fs::write(
        &config,
        format!(
            r#"[symbiote]
node_url = "{node}"
genesis_file = "genesis.json"

[database]
url = "sqlite://{db}"

[api]
listen = "127.0.0.1:{api_port}"

[batch]
every_blocks = 5
every_seconds = 10

[hostchains.bitcoin-regtest]
kind = "bitcoin"
rpc_url = "{btc}"
rpc_user = "{user}"
rpc_password = "{password}"
network = "regtest"
key_file = "bitcoin.key"
confirmations = 2

[hostchains.evm-31337]
kind = "evm"
rpc_url = "{evm}"
key_file = "evm.key"
anchor_contract = "{anchor_contract}"
confirmations = 2

[hostchains.solana-local]
kind = "solana"
rpc_url = "{sol}"
key_file = "solana.json"
"#,
            node = symbiote.url(0),
            db = dir.join("relayer.sqlite").display(),
            btc = bitcoind.rpc_url(),
            evm = anvil.rpc_url(),
            sol = solana.rpc_url(),
        ),
    )?;
    let mut command = Command::new(&relayer_bin);
    command.arg("--config").arg(&config).arg("run");
    let _relayer = NodeProcess::spawn("relayer", command, &dir.join("relayer.log"))?;
    let relayer_api = format!("http://127.0.0.1:{api_port}");

    println!();
    println!(
        "symbiote   {}  (validators {}, {}, {}; keys and genesis in {})",
        symbiote.url(0),
        symbiote.url(1),
        symbiote.url(2),
        symbiote.url(3),
        dir.display()
    );
    println!(
        "relayer    {relayer_api}  (config {}, log {})",
        config.display(),
        dir.join("relayer.log").display()
    );
    println!(
        "bitcoind   {}  (rpc user {user}, password {password})",
        bitcoind.rpc_url()
    );
    println!(
        "anvil      {}  (anchor contract {anchor_contract})",
        anvil.rpc_url()
    );
    println!(
        "solana     {}  (relayer {sol_address}, airdrop {airdrop})",
        solana.rpc_url()
    );
    println!("press Ctrl-C to stop\n");

    let client = rpc::client();
    let mut status = tokio::time::interval(Duration::from_secs(3));
    let mut mine = tokio::time::interval(BLOCK_EVERY);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            result = &mut ctrl_c => {
                result.context("waiting for Ctrl-C")?;
                break;
            }
            _ = mine.tick() => {
                let _ = bitcoind.mine_to(1, &btc_address).await;
                let _ = anvil.mine(1).await;
            }
            _ = status.tick() => {
                let head = symbiote.head(0).await.map(|(h, _)| h).unwrap_or_default();
                let summary: Value = match client.get(format!("{relayer_api}/v1/status")).send().await {
                    Ok(r) => r.json().await.unwrap_or_default(),
                    Err(_) => Value::Null,
                };
                let chains = summary["hostchains"].as_array().cloned().unwrap_or_default();
                let anchors: Vec<String> = chains
                    .iter()
                    .map(|c| format!("{} final {} (through {})", c["hostchain"].as_str().unwrap_or("?"), c["anchors"]["final"].as_u64().unwrap_or(0), c["anchored_through_height"]))
                    .collect();
                println!(
                    "symbiote height {head} | relayer followed {} batches {} | anchors: {}",
                    summary["followed_height"], summary["batches"], if anchors.is_empty() { "starting".into() } else { anchors.join(", ") }
                );
            }
        }
    }
    println!("stopping every process...");
    Ok(())
}

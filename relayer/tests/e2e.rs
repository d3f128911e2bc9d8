//! The relayer end to end against a 4-validator symbiote and real hostchain nodes (bitcoind
//! regtest, anvil with the anchor contract, and the Solana test validator): batches are anchored on both, `relayer verify`
//! accepts each proof and names the step a tampered proof fails, and a relayer killed with
//! SIGKILL again and again loses nothing and anchors nothing twice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chain_adapters::solana::keys;
use devnet::symbiote::{NetworkOptions, SymbioteNetwork};
use devnet::{Anvil, Bitcoind, SolanaValidator, ports};
use serde_json::Value;
use solana_client::nonblocking::rpc_client::RpcClient;
use solana_commitment_config::CommitmentConfig;
use solana_sdk::signature::{Keypair, Signer};
use support::{RelayerProcess, bitcoin_anchor_sequences, symbiote_bin, wallet};

// Generous: on a loaded 2-core machine, four validators and three hostchain nodes crawl.
const TIMEOUT: Duration = Duration::from_secs(480);

async fn airdrop(rpc: &RpcClient, to: &solana_sdk::pubkey::Pubkey, lamports: u64) {
    let signature = rpc.request_airdrop(to, lamports).await.unwrap();
    let started = Instant::now();
    while !rpc.confirm_transaction(&signature).await.unwrap() {
        assert!(started.elapsed() < TIMEOUT, "airdrop not confirmed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Final anchors per hostchain, from the relayer's API.
async fn final_anchors(relayer: &RelayerProcess) -> Vec<Value> {
    match relayer.get("/v1/anchors?limit=500").await {
        Some(Value::Array(rows)) => rows.into_iter().filter(|a| a["state"] == "final").collect(),
        _ => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn anchors_on_three_hostchains_verify_and_survive_sigkill_on_sqlite() {
    end_to_end(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn anchors_on_three_hostchains_verify_and_survive_sigkill_on_postgres() {
    end_to_end(Some(devnet::Postgres::start().await.unwrap())).await;
}

/// The whole scenario, with the relayer's store in SQLite (`None`) or in this PostgreSQL.
async fn end_to_end(postgres: Option<devnet::Postgres>) {
    let bin = symbiote_bin();
    let options = NetworkOptions {
        hostchains: vec![
            "bitcoin-regtest".into(),
            "evm-31337".into(),
            "solana-local".into(),
        ],
        ..NetworkOptions::default()
    };
    let (net, solana, bitcoind, anvil) = tokio::join!(
        SymbioteNetwork::start(&bin, &options),
        SolanaValidator::start(),
        Bitcoind::start(),
        Anvil::start()
    );
    let (mut net, solana, bitcoind, anvil) = (
        net.unwrap(),
        solana.unwrap(),
        bitcoind.unwrap(),
        anvil.unwrap(),
    );
    // The anchor contract with the relayer's EVM key as its only relayer.
    let evm_key = alloy::signers::local::PrivateKeySigner::random();
    let deployer = alloy::signers::local::PrivateKeySigner::random();
    let ether = 1_000_000_000_000_000_000u128;
    anvil
        .set_balance(&evm_key.address().to_string(), 100 * ether)
        .await
        .unwrap();
    anvil
        .set_balance(&deployer.address().to_string(), 100 * ether)
        .await
        .unwrap();
    let deployer = wallet(&anvil, deployer);
    let anchor_contract = *chain_adapters::evm::bindings::SymbioteAnchor::deploy(
        &deployer,
        vec![evm_key.address()],
        alloy::primitives::U256::from(1),
    )
    .await
    .unwrap()
    .address();
    // The relayer's Bitcoin key, funded by mined coinbases; a block every second from then on.
    let bitcoin_key =
        bitcoin::secp256k1::SecretKey::new(&mut bitcoin::secp256k1::rand::thread_rng())
            .display_secret()
            .to_string();
    let bitcoin_address = chain_adapters::bitcoin::wallet::Signer::from_text(
        &bitcoin_key,
        bitcoin::Network::Regtest,
        "test",
    )
    .unwrap()
    .address()
    .to_string();
    bitcoind.mine_to(101, &bitcoin_address).await.unwrap();
    let miner = {
        let url = bitcoind.rpc_url().to_string();
        let (user, password) = bitcoind.auth();
        let (user, password) = (user.to_string(), password.to_string());
        let address = bitcoin_address.clone();
        let evm_url = anvil.rpc_url().to_string();
        tokio::spawn(async move {
            let client = devnet::rpc::client();
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let _ = devnet::rpc::call(
                    &client,
                    &evm_url,
                    None,
                    "anvil_mine",
                    serde_json::json!(["0x1"]),
                )
                .await;
                let params = serde_json::json!([1, address]);
                let auth = Some((user.as_str(), password.as_str()));
                let _ = devnet::rpc::call(&client, &url, auth, "generatetoaddress", params).await;
            }
        })
    };
    let rpc =
        RpcClient::new_with_commitment(solana.rpc_url().to_string(), CommitmentConfig::confirmed());
    let key = Keypair::new();
    airdrop(&rpc, &key.pubkey(), 10_000_000_000).await;

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("solana.json"), keys::to_json(&key)).unwrap();
    std::fs::write(dir.path().join("bitcoin.key"), &bitcoin_key).unwrap();
    std::fs::write(dir.path().join("evm.key"), hex::encode(evm_key.to_bytes())).unwrap();
    let (btc_user, btc_password) = bitcoind.auth();
    let port = ports::free_port().unwrap();
    let config = dir.path().join("relayer.toml");
    std::fs::write(
        &config,
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
admin_token_env = "E2E_ADMIN_TOKEN"

[batch]
every_blocks = 10
every_seconds = 2
max_blocks = 50

[anchoring]
poll_interval_ms = 300

[hostchains.solana-local]
kind = "solana"
rpc_url = "{solana}"
key_file = "solana.json"

[hostchains.bitcoin-regtest]
kind = "bitcoin"
rpc_url = "{btc}"
rpc_user = "{btc_user}"
rpc_password = "{btc_password}"
network = "regtest"
key_file = "bitcoin.key"
confirmations = 2

[hostchains.evm-31337]
kind = "evm"
rpc_url = "{evm}"
key_file = "evm.key"
anchor_contract = "{anchor_contract}"
confirmations = 3
"#,
            node = net.url(0),
            genesis = net.genesis_path().display(),
            database = match &postgres {
                Some(pg) => pg.url().to_string(),
                None => format!("sqlite://{}", dir.path().join("relayer.sqlite").display()),
            },
            solana = solana.rpc_url(),
            btc = bitcoind.rpc_url(),
            evm = anvil.rpc_url(),
        ),
    )
    .unwrap();
    let mut relayer =
        RelayerProcess::new(dir.path(), config, port).with_env("E2E_ADMIN_TOKEN", ADMIN_TOKEN);

    // Kill -9 the relayer 20 times at random moments while it works, restarting it each time.
    relayer.start();
    wait_api(&relayer).await;
    let foreign = submit_foreign_commitment(&relayer).await;
    for _ in 0..20 {
        let pause = 150 + rand::random::<u64>() % 1_200;
        tokio::time::sleep(Duration::from_millis(pause)).await;
        relayer.kill();
        relayer.start();
    }

    // Eventually at least three batches are anchored and final on each hostchain.
    let started = Instant::now();
    loop {
        let finals = final_anchors(&relayer).await;
        let on = |chain: &str| finals.iter().filter(|a| a["hostchain"] == chain).count();
        if on("solana-local") >= 3 && on("bitcoin-regtest") >= 3 && on("evm-31337") >= 3 {
            break;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "final anchors: {} on solana, {} on bitcoin, {} on evm; log:\n{}",
            on("solana-local"),
            on("bitcoin-regtest"),
            on("evm-31337"),
            relayer.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let status = relayer.get("/v1/status").await.unwrap();
    assert!(
        status["followed_height"].as_u64().unwrap() >= 10,
        "{status}"
    );

    // The foreign symbiote's commitment went into an aggregate that is anchored.
    let batches = relayer.get("/v1/batches?limit=500").await.unwrap();
    let mut carried = false;
    for batch in batches.as_array().unwrap() {
        let detail = relayer
            .get(&format!("/v1/batches/{}", batch["id"]))
            .await
            .unwrap();
        let aggregate = detail["aggregate"].as_array();
        assert!(aggregate.is_some(), "batch without aggregate: {detail}");
        if aggregate.unwrap().iter().any(|h| h == &foreign) {
            carried = detail["anchors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["state"] == "final");
        }
    }
    assert!(
        carried,
        "the foreign commitment {foreign} is in no anchored aggregate"
    );
    let metrics = relayer.text("/metrics").await;
    assert!(metrics.contains("relayer_anchors{"), "{metrics}");
    assert!(metrics.contains("relayer_followed_height"), "{metrics}");

    let history = relayer
        .get(&format!(
            "/v1/anchors/{}",
            final_anchors(&relayer).await[0]["id"]
        ))
        .await
        .unwrap();
    assert!(
        history["history"].as_array().unwrap().len() >= 3,
        "{history}"
    );

    // A proof of block 5, made while the symbiote is up (it carries the validator set).
    let (ok, proof, err) = relayer.cli(&["proof", &net_name(&net), "5"]);
    assert!(ok, "relayer proof failed: {err}");

    // Stop the symbiote: no new batches; the relayer finishes anchoring those it has cut.
    for i in 0..net.len() {
        net.kill(i);
    }
    let started = Instant::now();
    let batches = loop {
        let batches = relayer
            .get("/v1/batches?limit=500")
            .await
            .unwrap_or_default();
        let rows = batches.as_array().cloned().unwrap_or_default();
        if !rows.is_empty() && rows.iter().all(|b| b["state"] == "anchored") {
            break rows;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "batches not all anchored: {batches}\n{}",
            relayer.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    miner.abort();

    // Nothing lost: batches cover every height from 1 without gaps or overlaps.
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
    assert_eq!(ranges[0].0, 1);
    for pair in ranges.windows(2) {
        assert_eq!(
            pair[1].0,
            pair[0].1 + 1,
            "gap or overlap between batches: {ranges:?}"
        );
    }

    // Exactly once per chain: every batch's sequence appears exactly once on every chain (memos
    // on Solana, OP_RETURNs on Bitcoin, Anchored events on the EVM), and nothing else does.
    let expected: BTreeMap<u64, usize> = (1..=batches.len() as u64).map(|s| (s, 1)).collect();
    let signatures = rpc.get_signatures_for_address(&key.pubkey()).await.unwrap();
    let mut on_solana: BTreeMap<u64, usize> = BTreeMap::new();
    for entry in signatures.iter().filter(|s| s.err.is_none()) {
        let Some(memo) = &entry.memo else { continue };
        let text = memo.rsplit_once("] ").map_or(memo.as_str(), |(_, t)| t);
        if let Ok(bytes) = hex::decode(text)
            && let Ok(payload) = symbiote::anchor::AnchorPayload::decode(&bytes)
        {
            *on_solana.entry(payload.sequence.get()).or_default() += 1;
        }
    }
    assert_eq!(on_solana, expected, "anchors per sequence on Solana");
    assert_eq!(
        bitcoin_anchor_sequences(&bitcoind).await,
        expected,
        "anchors per sequence on Bitcoin"
    );
    let on_evm = {
        use alloy::providers::Provider;
        use alloy::sol_types::SolEvent;
        let filter = alloy::rpc::types::Filter::new()
            .address(anchor_contract)
            .from_block(0u64);
        let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
        for log in deployer.get_logs(&filter).await.unwrap() {
            if let Ok(event) =
                chain_adapters::evm::bindings::SymbioteAnchor::Anchored::decode_log(&log.inner)
            {
                *seen.entry(event.data.sequence).or_default() += 1;
            }
        }
        seen
    };
    assert_eq!(on_evm, expected, "anchors per sequence on the EVM");

    // The proof verifies against the hostchains alone; a tampered one names its step.
    let proof_file = dir.path().join("proof.json");
    std::fs::write(&proof_file, &proof).unwrap();
    relayer.kill();
    // Verification needs no database: remove it.
    match postgres {
        Some(pg) => drop(pg),
        None => std::fs::remove_file(dir.path().join("relayer.sqlite")).unwrap(),
    }
    let (ok, out, err) = relayer.cli(&["verify", proof_file.to_str().unwrap()]);
    assert!(ok, "verify refused a good proof: {out}\n{err}");
    assert!(err.contains("proof verified"), "{err}");
    assert!(out.contains("hostchain bitcoin-regtest"), "{out}");
    assert!(out.contains("hostchain solana-local"), "{out}");
    assert!(out.contains("hostchain evm-31337"), "{out}");
    assert!(
        out.contains("hostchain bitcoin-regtest") && out.contains("hostchain solana-local"),
        "{out}"
    );

    let mut doc: Value = serde_json::from_str(&proof).unwrap();
    let root = doc["proof"]["aggregate_root"].as_str().unwrap().to_string();
    let mut flipped = root.clone();
    flipped.replace_range(0..2, if &root[0..2] == "00" { "11" } else { "00" });
    doc["proof"]["aggregate_root"] = Value::String(flipped);
    std::fs::write(&proof_file, doc.to_string()).unwrap();
    let (ok, _, err) = relayer.cli(&["verify", proof_file.to_str().unwrap()]);
    assert!(!ok, "a proof with another aggregate root verified");
    assert!(err.contains("block -> commitment -> aggregate"), "{err}");

    let mut doc: Value = serde_json::from_str(&proof).unwrap();
    doc["anchors"][0]["sequence"] = Value::from(999);
    std::fs::write(&proof_file, doc.to_string()).unwrap();
    let (ok, _, err) = relayer.cli(&["verify", proof_file.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("hostchain ") && err.contains("sequence"),
        "{err}"
    );
}

async fn wait_api(relayer: &RelayerProcess) {
    let started = Instant::now();
    while relayer.get("/health").await.is_none() && relayer.get("/v1/status").await.is_none() {
        assert!(
            started.elapsed() < TIMEOUT,
            "relayer API not up: {}",
            relayer.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Submits a commitment of another symbiote (admin call); returns its hash.
async fn submit_foreign_commitment(relayer: &RelayerProcess) -> Value {
    use symbiote::codec::Canonical;
    use symbiote::types::{Height, SymbioteId};
    let other = SymbioteId::from_name("foreign-symbiote");
    let commitment = symbiote::commitment::Commitment {
        symbiote: other,
        from: Height::new(1),
        to: Height::new(8),
        blocks_root: symbiote::hash::Hash([7; 32]),
        validator_set_hash: symbiote::hash::Hash([8; 32]),
        certificate: symbiote::certificate::QuorumCertificate {
            symbiote: other,
            height: Height::new(8),
            block_hash: symbiote::hash::Hash([9; 32]),
            signatures: vec![],
        },
    };
    let client = reqwest::Client::new();
    let url = format!("{}/v1/commitments", relayer.api);
    let body = serde_json::json!({"commitment": hex::encode(commitment.encode())});
    let refused = client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(refused.status(), 401, "admin calls need the token");
    let reply: Value = client
        .post(&url)
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["added"], true, "{reply}");
    reply["hash"].clone()
}

const ADMIN_TOKEN: &str = "e2e-admin-token";

fn net_name(net: &SymbioteNetwork) -> String {
    let genesis: Value =
        serde_json::from_str(&std::fs::read_to_string(net.genesis_path()).unwrap()).unwrap();
    genesis["chain_name"].as_str().unwrap().to_string()
}

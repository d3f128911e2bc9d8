//! The relayer end to end against a 4-validator symbiote and real hostchain nodes (bitcoind
//! regtest, anvil with the anchor contract, and the Solana test validator): batches are anchored on both, `relayer verify`
//! accepts each proof and names the step a tampered proof fails, and a relayer killed with
//! SIGKILL again and again loses nothing and anchors nothing twice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chain_adapters::solana::keys;
use devnet::SolanaValidator;
use devnet::symbiote::{NetworkOptions, SymbioteNetwork};
use serde_json::Value;
use solana_sdk::signature::Signer;
use support::{
    Hostchains, RelayerProcess, bitcoin_anchor_sequences, contiguous_batch_ranges,
    evm_anchor_sequences, funded_solana_key, relayer_toml_head, solana_anchor_sequences,
    sqlite_url, symbiote_bin,
};

// Generous: on a loaded 2-core machine, four validators and three hostchain nodes crawl.
const TIMEOUT: Duration = Duration::from_secs(480);

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
    // Bitcoin and the EVM with the anchor contract (the relayer's EVM key its only relayer),
    // the relayer's Bitcoin key funded by mined coinbases, a block every second from then on.
    let (net, solana, hostchains) = tokio::join!(
        SymbioteNetwork::start(&bin, &options),
        SolanaValidator::start(),
        Hostchains::start()
    );
    let (mut net, solana) = (net.unwrap(), solana.unwrap());
    let (rpc, key) = funded_solana_key(&solana, 10_000_000_000, TIMEOUT).await;

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("solana.json"), keys::to_json(&key)).unwrap();
    hostchains.write_keys(dir.path());
    let database = match &postgres {
        Some(pg) => pg.url().to_string(),
        None => sqlite_url(dir.path()),
    };
    let mut relayer = RelayerProcess::configured(dir.path(), "relayer.toml", |port| {
        format!(
            r#"{head}admin_token_env = "E2E_ADMIN_TOKEN"

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
trusted_anchor_signers = ["{solana_key}"]
{hostchains}"#,
            head = relayer_toml_head(&net, 0, &database, port),
            solana = solana.rpc_url(),
            solana_key = key.pubkey(),
            hostchains = hostchains.toml(),
        )
    })
    .with_env("E2E_ADMIN_TOKEN", ADMIN_TOKEN);

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
    // Every key the relayer spends from has its balance, funded above zero.
    for chain in ["bitcoin-regtest", "evm-31337", "solana-local"] {
        let sample = metrics
            .lines()
            .find(|l| {
                l.starts_with("relayer_wallet_balance{")
                    && l.contains(&format!("hostchain=\"{chain}\""))
                    && l.contains("key=\"relayer\"")
            })
            .unwrap_or_else(|| panic!("no wallet balance of {chain}:\n{metrics}"));
        let value: f64 = sample.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(value > 0.0, "{sample}");
    }

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

    // State entries at block 5, proven; checked with nothing but the document; a changed
    // value or header fails, naming the step.
    let (ok, state_doc, err) = relayer.cli(&["state-proof", "5", "meta", "sets", "withdrawal:1"]);
    assert!(ok, "relayer state-proof failed: {err}");
    let state_file = dir.path().join("state.json");
    std::fs::write(&state_file, &state_doc).unwrap();
    let (ok, out, err) = relayer.cli(&["verify", state_file.to_str().unwrap()]);
    assert!(ok, "a good state proof refused: {out}\n{err}");
    assert!(out.contains("the chain's counters at height 5"), "{out}");
    assert!(out.contains("withdrawal order 1 at height 5"), "{out}");
    let original: Value = serde_json::from_str(&state_doc).unwrap();
    let mut doc = original.clone();
    let value = doc["proofs"][1]["value"].as_str().unwrap().to_string();
    let last = if value.ends_with('0') { "1" } else { "0" };
    doc["proofs"][1]["value"] = Value::String(format!("{}{last}", &value[..value.len() - 1]));
    std::fs::write(&state_file, doc.to_string()).unwrap();
    let (ok, _, err) = relayer.cli(&["verify", state_file.to_str().unwrap()]);
    assert!(!ok, "a state proof with a changed value verified");
    assert!(
        err.contains("the validator, hostchain and relayer sets at height 5"),
        "{err}"
    );
    let mut doc = original;
    doc["header"]["height"] = Value::from(6);
    std::fs::write(&state_file, doc.to_string()).unwrap();
    let (ok, _, err) = relayer.cli(&["verify", state_file.to_str().unwrap()]);
    assert!(!ok, "a state proof with a changed header verified");
    assert!(err.contains(": header"), "{err}");

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
    hostchains.stop_mining();

    // Nothing lost: batches cover every height from 1 without gaps or overlaps.
    contiguous_batch_ranges(&batches);

    // Exactly once per chain: every batch's sequence appears exactly once on every chain (memos
    // on Solana, OP_RETURNs on Bitcoin, Anchored events on the EVM), and nothing else does.
    let expected: BTreeMap<u64, usize> = (1..=batches.len() as u64).map(|s| (s, 1)).collect();
    assert_eq!(
        solana_anchor_sequences(&rpc, &key.pubkey()).await,
        expected,
        "anchors per sequence on Solana"
    );
    assert_eq!(
        bitcoin_anchor_sequences(&hostchains.bitcoind).await,
        expected,
        "anchors per sequence on Bitcoin"
    );
    assert_eq!(
        evm_anchor_sequences(&hostchains.deployer, hostchains.anchor_contract).await,
        expected,
        "anchors per sequence on the EVM"
    );

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
    assert!(
        !err.contains(" INFO ") && !out.contains(" INFO "),
        "verification logs: {err}"
    );
    assert!(out.contains("hostchain bitcoin-regtest"), "{out}");
    assert!(out.contains("hostchain solana-local"), "{out}");
    assert!(out.contains("hostchain evm-31337"), "{out}");
    assert!(
        out.contains("hostchain bitcoin-regtest") && out.contains("hostchain solana-local"),
        "{out}"
    );

    // A verifier holds no key and no relayer configuration: a small file naming each
    // hostchain's kind, endpoint and whose anchors count, and --rpc for another endpoint.
    for key in ["solana.json", "bitcoin.key", "evm.key"] {
        std::fs::remove_file(dir.path().join(key)).unwrap();
    }
    let verifier = dir.path().join("verifier.toml");
    std::fs::write(
        &verifier,
        format!(
            "[hostchains.solana-local]\nkind = \"solana\"\nrpc_url = \"http://127.0.0.1:9/\"\n\
             trusted_anchor_signers = [\"{}\"]\n{}",
            key.pubkey(),
            hostchains.verifier_toml()
        ),
    )
    .unwrap();
    let verify = |file: &std::path::Path| {
        relayer.cli(&[
            "verify",
            "--hostchains",
            verifier.to_str().unwrap(),
            "--rpc",
            &format!("solana-local={}", solana.rpc_url()),
            file.to_str().unwrap(),
        ])
    };
    let (ok, out, err) = verify(&proof_file);
    assert!(ok, "a keyless verifier refused a good proof: {out}\n{err}");
    assert!(err.contains("proof verified"), "{err}");
    for chain in ["bitcoin-regtest", "solana-local", "evm-31337"] {
        assert!(out.contains(&format!("hostchain {chain}")), "{out}");
    }

    let mut doc: Value = serde_json::from_str(&proof).unwrap();
    let root = doc["proof"]["aggregate_root"].as_str().unwrap().to_string();
    let mut flipped = root.clone();
    flipped.replace_range(0..2, if &root[0..2] == "00" { "11" } else { "00" });
    doc["proof"]["aggregate_root"] = Value::String(flipped);
    std::fs::write(&proof_file, doc.to_string()).unwrap();
    let (ok, _, err) = verify(&proof_file);
    assert!(!ok, "a proof with another aggregate root verified");
    assert!(err.contains("block -> commitment -> aggregate"), "{err}");

    // Every claim is checked: each changed field fails, naming its step.
    let original: Value = serde_json::from_str(&proof).unwrap();
    let bump = |v: &Value| Value::from(v.as_u64().unwrap() + 1);
    let other_hash = |v: &Value| {
        let text = v.as_str().unwrap();
        let last = if text.ends_with('0') { "1" } else { "0" };
        Value::String(format!("{}{last}", &text[..text.len() - 1]))
    };
    type Change = Box<dyn Fn(&mut Value)>;
    let changes: Vec<(&str, &str, Change)> = vec![
        (
            "sequence",
            "hostchain ",
            Box::new(|d| d["anchors"][0]["sequence"] = Value::from(999)),
        ),
        (
            "block height",
            "hostchain ",
            Box::new(move |d| {
                d["anchors"][0]["block_height"] = bump(&d["anchors"][0]["block_height"])
            }),
        ),
        (
            "block hash",
            "hostchain ",
            Box::new(move |d| {
                d["anchors"][0]["block_hash"] = other_hash(&d["anchors"][0]["block_hash"])
            }),
        ),
        (
            "symbiote height",
            "block",
            Box::new(move |d| d["height"] = bump(&d["height"])),
        ),
        (
            "block",
            "block",
            Box::new(move |d| d["block_hash"] = other_hash(&d["block_hash"])),
        ),
        (
            "symbiote",
            "symbiote",
            Box::new(move |d| d["symbiote"] = other_hash(&d["symbiote"])),
        ),
        (
            "validator weight",
            "commitment certificate",
            Box::new(|d| d["validators"]["validators"][0]["weight"] = Value::from(1_000)),
        ),
    ];
    for (what, step, change) in changes {
        let mut doc = original.clone();
        change(&mut doc);
        std::fs::write(&proof_file, doc.to_string()).unwrap();
        let (ok, _, err) = verify(&proof_file);
        assert!(!ok, "a proof with a changed {what} verified");
        let named = err
            .lines()
            .find(|l| l.contains("does not verify"))
            .unwrap_or(&err);
        assert!(
            named.contains(&format!(": {step}")),
            "changed {what}: {err}"
        );
    }
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

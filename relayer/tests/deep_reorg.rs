//! A reorg deeper than the confirmation depth on anvil takes away the block of a final anchor.
//! The relayer finds it, says so at error, sends the anchor again and stores where it is final
//! now: the stored position is the hostchain's, never the stale one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use alloy::signers::local::PrivateKeySigner;
use devnet::Anvil;
use devnet::symbiote::{NetworkOptions, SymbioteNetwork};
use serde_json::{Value, json};
use support::{
    RelayerProcess, deploy_anchor, relayer_toml_head, spawn_miner, sqlite_url, symbiote_bin,
    wait_for,
};

const TIMEOUT: Duration = Duration::from_secs(180);
const POLL: Duration = Duration::from_millis(300);

/// The relayer's final anchor with sequence 1 on the EVM, once it is final.
async fn final_anchor(relayer: &RelayerProcess) -> Option<Value> {
    let anchors = relayer.get("/v1/anchors?size=100").await?;
    anchors
        .as_array()?
        .iter()
        .find(|a| a["sequence"] == 1 && a["state"] == "final")
        .cloned()
}

/// The block hash the hostchain gives for the receipt of `tx`, if it is mined.
async fn receipt_block(anvil: &Anvil, tx: &str) -> Option<String> {
    let receipt = anvil
        .call("eth_getTransactionReceipt", json!([tx]))
        .await
        .ok()?;
    receipt["blockHash"].as_str().map(str::to_lowercase)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_final_anchor_taken_away_by_a_deep_reorg_is_found_and_anchored_again() {
    let (bin, options) = (symbiote_bin(), NetworkOptions::default());
    let (net, anvil) = tokio::join!(
        SymbioteNetwork::start(&bin, &options),
        // An anvil of its own: the test reorganises its chain.
        Anvil::spawn()
    );
    let (net, anvil) = (net.unwrap(), anvil.unwrap());
    let key = PrivateKeySigner::random();
    let (_, contract) = deploy_anchor(&anvil, &[key.address()], 1).await;
    let miner = spawn_miner(Duration::from_millis(300), &anvil, None);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("evm.key"), hex::encode(key.to_bytes())).unwrap();
    let mut relayer = RelayerProcess::configured(dir.path(), "relayer.toml", |port| {
        format!(
            r#"{head}
[batch]
every_blocks = 1000
every_seconds = 2

[anchoring]
poll_interval_ms = 100

[hostchains.evm-31337]
kind = "evm"
rpc_url = "{evm}"
key_file = "evm.key"
anchor_contract = "{contract}"
confirmations = 2
"#,
            head = relayer_toml_head(&net, 0, &sqlite_url(dir.path()), port),
            evm = anvil.rpc_url(),
        )
    });
    relayer.start();

    let before = wait_for("anchor 1 final", TIMEOUT, POLL, &[&relayer], || async {
        final_anchor(&relayer).await
    })
    .await;
    let tx = before["tx_id"].as_str().unwrap().to_string();
    let stale = before["inclusion"]["block_hash"]
        .as_str()
        .unwrap()
        .to_lowercase();
    let included_at = before["inclusion"]["height"].as_u64().unwrap();

    // Reorganise from below the anchor's block: deeper than the 2 confirmations.
    miner.abort();
    let number = anvil.call("eth_blockNumber", json!([])).await.unwrap();
    let head = u64::from_str_radix(number.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    let depth = head - included_at + 1;
    assert!(
        depth > 2,
        "the reorg must be deeper than the confirmation depth"
    );
    anvil.call("anvil_reorg", json!([depth, []])).await.unwrap();
    assert_ne!(
        receipt_block(&anvil, &tx).await,
        Some(stale.clone()),
        "the reorg took the anchor's block away"
    );
    let _miner = spawn_miner(Duration::from_millis(300), &anvil, None);

    // Found, reported, sent again, final again where the hostchain has it now.
    let after = wait_for(
        "anchor 1 final again at its new place",
        TIMEOUT,
        POLL,
        &[&relayer],
        || async {
            let anchor = final_anchor(&relayer).await?;
            let stored = anchor["inclusion"]["block_hash"].as_str()?.to_lowercase();
            let tx = anchor["tx_id"].as_str()?;
            (stored != stale && receipt_block(&anvil, tx).await? == stored).then_some(anchor)
        },
    )
    .await;
    assert_eq!(after["sequence"], 1);
    let log = std::fs::read_to_string(relayer.log_file()).unwrap();
    assert!(
        log.contains("ERROR") && log.contains("no longer where it was final"),
        "{}",
        relayer.log()
    );
    let metrics = relayer.text("/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("relayer_final_anchors_reorged_total ") && !l.ends_with(" 0")),
        "{metrics}"
    );
}

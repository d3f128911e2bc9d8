//! A release transaction that is not included is replaced by a fee-bumped one (stored first,
//! named in the release's history), and the release is paid exactly once when blocks come.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use alloy::primitives::{B256, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use chain_adapters::evm::bindings::SymbioteBridge;
use devnet::Anvil;
use devnet::symbiote::{NetworkOptions, SymbioteNetwork};
use support::{
    RelayerProcess, deploy_anchor, evm_key, relayer_toml_head, send, sqlite_url, submit,
    symbiote_bin, wait_for,
};
use symbiote::client::NodeClient;
use symbiote::crypto::Keypair;
use symbiote::tx::{Asset, Transaction};
use symbiote::types::{Amount, HostAddress, HostchainId, TokenId};

const TIMEOUT: Duration = Duration::from_secs(300);
const POLL: Duration = Duration::from_millis(300);
const ETHER: u128 = 1_000_000_000_000_000_000;

#[tokio::test(flavor = "multi_thread")]
async fn a_stuck_release_is_replaced_and_paid_once() {
    let options = NetworkOptions {
        hostchains: vec!["evm-31337".into()],
        ..NetworkOptions::default()
    };
    let bin = symbiote_bin();
    let (net, anvil) = tokio::join!(SymbioteNetwork::start(&bin, &options), Anvil::start());
    let (net, anvil) = (net.unwrap(), anvil.unwrap());
    let node = NodeClient::new(&net.url(0));
    let key_file = net.dir().join("relayer-0.evm.key");
    let relayer_evm = evm_key(&key_file);
    let (deployer, anchor) = deploy_anchor(&anvil, &[relayer_evm.address()], 1).await;
    let bridge = *SymbioteBridge::deploy(&deployer, vec![relayer_evm.address()], U256::from(1))
        .await
        .unwrap()
        .address();
    let start_block = deployer.get_block_number().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut relayer = RelayerProcess::configured(dir.path(), "relayer.toml", |port| {
        format!(
            r#"{head}
# No batches (and so no anchors) during the test: only the release uses the EVM account.
[batch]
every_blocks = 1000
max_blocks = 1000
every_seconds = 100000

[bridge]
enabled = true
key_file = "{key}"
poll_interval_ms = 300
replace_after_seconds = 2

[hostchains.evm-31337]
kind = "evm"
rpc_url = "{evm}"
key_file = "{evm_key}"
anchor_contract = "{anchor}"
bridge_contract = "{bridge}"
confirmations = 1
deposit_start_block = {start_block}
"#,
            head = relayer_toml_head(&net, 0, &sqlite_url(dir.path()), port),
            key = net.dir().join("relayer-0.key").display(),
            evm = anvil.rpc_url(),
            evm_key = key_file.display(),
        )
    });
    relayer.start();

    // One ether deposited and minted.
    let user = Keypair::generate();
    send(
        SymbioteBridge::new(bridge, &deployer)
            .depositNative(B256::from(user.public().to_bytes()))
            .value(U256::from(ETHER)),
    )
    .await;
    let wrapped = Asset::Wrapped {
        hostchain: HostchainId::new("evm-31337").unwrap(),
        token: TokenId::native(),
    };
    wait_for("the deposit minted", TIMEOUT, POLL, &[&relayer], || async {
        let account = node.account(&user.public()).await.ok()?;
        account
            .balances
            .iter()
            .any(|b| b.asset == wrapped && b.amount == Amount::new(ETHER))
            .then_some(())
    })
    .await;

    // No more blocks: the release waits in the mempool and is replaced.
    anvil
        .call("evm_setAutomine", serde_json::json!([false]))
        .await
        .unwrap();
    let eoa = PrivateKeySigner::random().address();
    submit(
        &node,
        &user,
        Transaction::Burn {
            hostchain: HostchainId::new("evm-31337").unwrap(),
            token: TokenId::native(),
            amount: Amount::new(ETHER / 4),
            destination: HostAddress::new(&eoa.to_string()).unwrap(),
        },
        TIMEOUT,
    )
    .await;
    let history = wait_for(
        "the stuck release replaced",
        TIMEOUT,
        POLL,
        &[&relayer],
        || async {
            let detail = relayer.get("/v1/releases/1").await?;
            let history = detail["history"].as_array()?.clone();
            history
                .iter()
                .any(|t| {
                    t["reason"]
                        .as_str()
                        .is_some_and(|r| r.contains("replaced by"))
                })
                .then_some(history)
        },
    )
    .await;
    let sent = history.iter().filter(|t| t["to"] == "submitted").count();
    assert!(sent >= 2, "a submission and a replacement: {history:?}");
    assert_eq!(deployer.get_balance(eoa).await.unwrap(), U256::ZERO);

    // Blocks again: one of the transactions pays, once.
    anvil
        .call("evm_setAutomine", serde_json::json!([true]))
        .await
        .unwrap();
    for _ in 0..3 {
        anvil.mine(1).await.unwrap();
    }
    wait_for("the release paid", TIMEOUT, POLL, &[&relayer], || async {
        let detail = relayer.get("/v1/releases/1").await?;
        (detail["release"]["state"] == "released").then_some(())
    })
    .await;
    for _ in 0..3 {
        anvil.mine(1).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        deployer.get_balance(eoa).await.unwrap(),
        U256::from(ETHER / 4),
        "paid exactly once"
    );
}

//! A relayer-set rotation voted on the symbiote is carried to the EVM anchor and bridge
//! contracts by the relayers of the OLD set (2 of 2), each publishing its signature on the
//! symbiote; afterwards anchors and releases signed by the new set are accepted, and by the old
//! set refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, U256};
use alloy::providers::DynProvider;
use alloy::signers::local::PrivateKeySigner;
use chain_adapters::evm::bindings::{SymbioteAnchor, SymbioteBridge};
use chain_adapters::{AnchorRequest, ErrorKind, HostchainAdapter, ReleaseOrder, TxStatus};
use devnet::Anvil;
use devnet::symbiote::{NetworkOptions, SymbioteNetwork};
use support::{
    RelayerProcess, deploy_anchor, evm_key, govern, logs, relayer_toml_head, send, sqlite_url,
    symbiote_bin,
};
use symbiote::anchor::AnchorPayload;
use symbiote::client::NodeClient;
use symbiote::crypto::Keypair;
use symbiote::hash::Hash;
use symbiote::tx::{GovernanceChange, Relayer, RelayerSet};
use symbiote::types::{Amount, Height, HostAddress, HostchainId, Nonce, Sequence, TokenId};

const TIMEOUT: Duration = Duration::from_secs(300);
const ETHER: u128 = 1_000_000_000_000_000_000;

async fn adapter(
    anvil: &Anvil,
    key_file: &Path,
    anchor: Address,
    bridge: Address,
) -> Arc<dyn HostchainAdapter> {
    chain_adapters::build(
        "evm",
        HostchainId::new("evm-31337").unwrap(),
        serde_json::json!({
            "rpc_url": anvil.rpc_url(),
            "key_file": key_file,
            "anchor_contract": anchor.to_string(),
            "bridge_contract": bridge.to_string(),
            "confirmations": 1,
        }),
    )
    .await
    .unwrap()
}

fn request(sequence: u64) -> AnchorRequest {
    AnchorRequest {
        symbiote: symbiote::types::SymbioteId::from_name("rotation-test"),
        payload: AnchorPayload {
            sequence: Sequence::new(sequence),
            root: Hash([7; 32]),
        },
        from: Height::new(1),
        to: Height::new(10),
        cosignatures: Vec::new(),
    }
}

async fn wait_included(adapter: &dyn HostchainAdapter, tx: &chain_adapters::PreparedTx) {
    let started = Instant::now();
    loop {
        if let TxStatus::Included { .. } = adapter.anchorer().status(tx, None).await.unwrap() {
            return;
        }
        assert!(started.elapsed() < TIMEOUT, "{} not included", tx.id);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotation_voted_on_the_symbiote_reaches_the_contracts_with_the_old_sets_signatures() {
    let options = NetworkOptions {
        hostchains: vec!["evm-31337".into()],
        relayers: 2,
        relayer_threshold: 2,
        ..NetworkOptions::default()
    };
    let bin = symbiote_bin();
    let (net, anvil) = tokio::join!(SymbioteNetwork::start(&bin, &options), Anvil::start());
    let (net, anvil) = (net.unwrap(), anvil.unwrap());
    let node = NodeClient::new(&net.url(0));
    let key_file = |i: usize| net.dir().join(format!("relayer-{i}.evm.key"));
    let old: Vec<PrivateKeySigner> = (0..2).map(|i| evm_key(&key_file(i))).collect();

    // The contracts, with the genesis relayer set (2 of 2).
    let old_addresses: Vec<Address> = old.iter().map(|k| k.address()).collect();
    let (deployer, anchor) = deploy_anchor(&anvil, &old_addresses, 2).await;
    let bridge = *SymbioteBridge::deploy(&deployer, old_addresses.clone(), U256::from(2))
        .await
        .unwrap()
        .address();
    // Funds for a release.
    send_value(&deployer, bridge, Keypair::generate()).await;

    // The two relayers of the old set, each with its own key and database.
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut relayers = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let mut relayer = RelayerProcess::configured(dir.path(), "relayer.toml", |port| {
            format!(
                r#"{head}
[batch]
every_blocks = 1000
max_blocks = 1000
every_seconds = 100000

[bridge]
key_file = "{key}"
poll_interval_ms = 300

[hostchains.evm-31337]
kind = "evm"
rpc_url = "{evm}"
key_file = "{evm_key}"
anchor_contract = "{anchor}"
bridge_contract = "{bridge}"
confirmations = 1
"#,
                head = relayer_toml_head(&net, i, &sqlite_url(dir.path()), port),
                key = net.dir().join(format!("relayer-{i}.key")).display(),
                evm = anvil.rpc_url(),
                evm_key = key_file(i).display(),
            )
        });
        relayer.start();
        relayers.push(relayer);
    }

    // The new set: relayer 1 stays, a new relayer joins, 2 of 2.
    let newcomer_dir = tempfile::tempdir().unwrap();
    let newcomer_file = newcomer_dir.path().join("evm.key");
    let newcomer = PrivateKeySigner::random();
    std::fs::write(&newcomer_file, hex::encode(newcomer.to_bytes())).unwrap();
    let genesis_set = node.governance().await.unwrap().relayers.current().clone();
    let new_set = RelayerSet {
        members: vec![
            genesis_set.members[1].clone(),
            Relayer::new(
                Keypair::generate().public(),
                [("evm", &newcomer.address().into_array()[..])],
            )
            .unwrap(),
        ],
        threshold: 2,
    };
    // Nothing to rotate while the contracts hold the symbiote's set.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let contract = SymbioteAnchor::new(anchor, &deployer);
    assert_eq!(contract.relayers().call().await.unwrap(), old_addresses);
    let head = node.head().await.unwrap().height.get();
    let activation = head + 30;
    let rotate = GovernanceChange::Relayers(new_set.clone());
    govern(&net, &node, rotate, activation, TIMEOUT).await;
    let voted = Instant::now();
    // The change is shown as scheduled, by the symbiote's CLI and by the relayer's API, with
    // the set each contract holds now.
    let out = Command::new(symbiote_bin())
        .args(["governance", "--node", &net.url(1)])
        .output()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["scheduled"][0]["activation"], activation, "{shown}");
    assert!(
        shown["scheduled"][0]["change"]["relayers"].is_object(),
        "{shown}"
    );
    let api = relayers[0].get("/v1/governance").await.unwrap();
    if api["symbiote"]["height"].as_u64().unwrap() < activation {
        assert_eq!(
            api["symbiote"]["scheduled"][0]["activation"], activation,
            "{api}"
        );
    }
    let held = &api["contracts"]["evm-31337"];
    assert_eq!(held.as_array().unwrap().len(), 2, "{api}");

    // Both contracts follow, signed by both members of the old set.
    let new_addresses = vec![old[1].address(), newcomer.address()];
    let started = Instant::now();
    loop {
        let on_anchor = SymbioteAnchor::new(anchor, &deployer)
            .relayers()
            .call()
            .await
            .unwrap();
        let on_bridge = SymbioteAnchor::new(bridge, &deployer)
            .relayers()
            .call()
            .await
            .unwrap();
        if on_anchor == new_addresses && on_bridge == new_addresses {
            break;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "contracts not rotated: anchor {on_anchor:?}, bridge {on_bridge:?}; logs:\n{}",
            logs(&relayers)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let reached = node.head().await.unwrap().height.get();
    let api = relayers[1].get("/v1/governance").await.unwrap();
    let expected: Vec<String> = new_addresses.iter().map(|a| format!("{a:#x}")).collect();
    for contract in api["contracts"]["evm-31337"].as_array().unwrap() {
        let members: Vec<String> = serde_json::from_value(contract["members"].clone()).unwrap();
        assert_eq!(members, expected, "{api}");
        assert_eq!(contract["nonce"], 1, "{api}");
    }
    assert!(
        api["symbiote"]["scheduled"].as_array().unwrap().is_empty(),
        "{api}"
    );
    assert!(
        reached >= activation,
        "rotated before the activation height"
    );
    println!(
        "rotation: activation at height {activation}, contracts rotated at height {reached}, {:.1} s after the vote",
        voted.elapsed().as_secs_f64()
    );
    for c in [anchor, bridge] {
        let threshold = SymbioteAnchor::new(c, &deployer)
            .threshold()
            .call()
            .await
            .unwrap();
        assert_eq!(threshold, U256::from(2));
    }

    // Signed by the new set: accepted. By the old set: refused.
    let old0 = adapter(&anvil, &key_file(0), anchor, bridge).await;
    let old1 = adapter(&anvil, &key_file(1), anchor, bridge).await;
    let new1 = adapter(&anvil, &newcomer_file, anchor, bridge).await;
    anvil
        .set_balance(&newcomer.address().to_string(), 100 * ETHER)
        .await
        .unwrap();

    let mut by_old = request(1);
    by_old.cosignatures = vec![old1.anchorer().sign_anchor(&by_old).await.unwrap().unwrap()];
    let refused = old0.anchorer().prepare_anchor(&by_old).await.unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Rejected, "{refused}");

    let mut by_new = request(1);
    by_new.cosignatures = vec![new1.anchorer().sign_anchor(&by_new).await.unwrap().unwrap()];
    let tx = old1.anchorer().prepare_anchor(&by_new).await.unwrap();
    old1.anchorer().broadcast(&tx).await.unwrap();
    wait_included(old1.as_ref(), &tx).await;
    let read = old1.anchorer().read_anchor(&tx.id).await.unwrap();
    assert_eq!(read.payload.sequence, Sequence::new(1));

    let order = |cosigner: Vec<u8>| ReleaseOrder {
        nonce: Nonce::new(77),
        token: TokenId::native(),
        amount: Amount::new(ETHER / 100),
        destination: HostAddress::new("0x00000000000000000000000000000000000000bb").unwrap(),
        cosignatures: vec![cosigner],
    };
    let unsigned = order(Vec::new());
    let (old0_releaser, old1_releaser, new1_releaser) = (
        old0.releaser().unwrap(),
        old1.releaser().unwrap(),
        new1.releaser().unwrap(),
    );
    let old_sig = old1_releaser
        .sign_release(&unsigned)
        .await
        .unwrap()
        .unwrap();
    let refused = old0_releaser
        .prepare_release(&order(old_sig))
        .await
        .unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Rejected, "{refused}");
    let new_sig = new1_releaser
        .sign_release(&unsigned)
        .await
        .unwrap()
        .unwrap();
    let tx = old1_releaser
        .prepare_release(&order(new_sig))
        .await
        .unwrap();
    old1.anchorer().broadcast(&tx).await.unwrap();
    wait_included(old1.as_ref(), &tx).await;
    assert!(old1_releaser.is_released(Nonce::new(77)).await.unwrap());
    drop(relayers);
}

/// Deposits one ether into the bridge (for a later release).
async fn send_value(deployer: &DynProvider, bridge: Address, recipient: Keypair) {
    send(
        SymbioteBridge::new(bridge, deployer)
            .depositNative(B256::from(recipient.public().to_bytes()))
            .value(U256::from(ETHER)),
    )
    .await;
}

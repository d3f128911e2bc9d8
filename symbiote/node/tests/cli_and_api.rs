//! The `symbiote` CLI and the node's HTTP API against a running 4-validator network:
//! transactions sent with the CLI, governance voted in through the CLI taking effect at its
//! activation height, mints and burns, the block stream, and commitment proofs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use devnet::symbiote::{NetworkOptions, SymbioteNetwork};
use serde_json::Value;
use symbiote::client::NodeClient;
use symbiote::crypto::Keypair;
use symbiote::keyfile;
use symbiote::proof::BlockProof;
use symbiote::state::ProposalStatus;
use symbiote::tx::{Deposit, DepositId, SignedTransaction, Transaction};
use symbiote::types::{Amount, Height, HostTxId, HostchainId, Nonce, TokenId};

const BIN: &str = env!("CARGO_BIN_EXE_symbiote");
const WAIT: Duration = Duration::from_secs(60);

fn cli(net: &SymbioteNetwork, node: usize, key: &str, args: &[&str]) -> Result<Value, String> {
    let output = Command::new(BIN)
        .args(args)
        .arg("--node")
        .arg(net.url(node))
        .arg("--key-file")
        .arg(net.dir().join(key))
        .output()
        .unwrap();
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&output.stdout).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_transactions_governance_stream_and_proofs() {
    let net = SymbioteNetwork::start(Path::new(BIN), &NetworkOptions::default())
        .await
        .unwrap();
    let client = NodeClient::new(&net.url(0));

    // A transfer with the CLI, through validator 2's node.
    let bob = Keypair::generate();
    let out = cli(
        &net,
        2,
        "validator-0.key",
        &[
            "transfer",
            "--to",
            &bob.public().to_string(),
            "--amount",
            "77",
        ],
    )
    .unwrap();
    assert_eq!(out["status"], "final", "{out}");
    let account = client.account(&bob.public()).await.unwrap();
    assert_eq!(account.balances[0].amount, Amount::new(77));

    // A bad key file: a clear error naming it, nothing sent.
    std::fs::write(net.dir().join("bad.key"), "not a key").unwrap();
    let err = cli(
        &net,
        0,
        "bad.key",
        &[
            "transfer",
            "--to",
            &bob.public().to_string(),
            "--amount",
            "1",
        ],
    )
    .unwrap_err();
    assert!(err.contains("bad.key"), "{err}");

    // Governance with the CLI: propose, two more votes, effective exactly at activation.
    let head = client.head().await.unwrap().height.get();
    let activation = head + 25;
    let out = cli(
        &net,
        0,
        "validator-0.key",
        &[
            "propose",
            "--activation",
            &activation.to_string(),
            "hostchains",
            "--set",
            "evm-31337,solana-local",
        ],
    )
    .unwrap();
    assert_eq!(out["status"], "final", "{out}");
    for v in ["validator-1.key", "validator-2.key"] {
        let out = cli(&net, 1, v, &["vote", "--proposal", "1"]).unwrap();
        assert_eq!(out["status"], "final", "{out}");
    }
    let governance = client.governance().await.unwrap();
    assert_eq!(governance.proposals[0].status, ProposalStatus::Approved);
    net.wait_height(0, activation, WAIT).await.unwrap();
    let governance = client.governance().await.unwrap();
    assert_eq!(governance.proposals[0].status, ProposalStatus::Activated);
    let new_set = vec![
        HostchainId::new("evm-31337").unwrap(),
        HostchainId::new("solana-local").unwrap(),
    ];
    assert_eq!(
        governance.hostchains.changes,
        vec![(Height::new(activation), new_set.clone())]
    );
    assert_eq!(
        governance.hostchains.at(Height::new(activation - 1)).len(),
        3
    );
    assert_eq!(governance.hostchains.at(Height::new(activation)), &new_set);

    // A mint attested by the relayer, then a burn with the CLI: a withdrawal order.
    let info = client.node_info().await.unwrap();
    let relayer = keyfile::read(&net.dir().join("relayer-0.key")).unwrap();
    let deposit = Deposit {
        id: DepositId {
            hostchain: HostchainId::new("evm-31337").unwrap(),
            tx: HostTxId::new("0x1234").unwrap(),
            index: 3,
        },
        token: TokenId::new("0x00000000000000000000000000000000000000aa").unwrap(),
        amount: Amount::new(500),
        recipient: bob.public(),
    };
    let nonce = client.account(&relayer.public()).await.unwrap().nonce;
    let mint = SignedTransaction::sign(
        &relayer,
        info.symbiote,
        nonce,
        Transaction::Mint {
            attestations: vec![(0, deposit.attest(info.symbiote, &relayer))],
            deposit: deposit.clone(),
        },
    );
    client.submit(&mint).await.unwrap();
    let started = Instant::now();
    while !client.deposit_minted(&deposit.id).await.unwrap() {
        assert!(started.elapsed() < WAIT, "mint not final");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    keyfile::write(&net.dir().join("bob.key"), &bob).unwrap();
    let out = cli(
        &net,
        3,
        "bob.key",
        &[
            "burn",
            "--hostchain",
            "evm-31337",
            "--token",
            "0x00000000000000000000000000000000000000aa",
            "--amount",
            "200",
            "--destination",
            "0x00000000000000000000000000000000000000bb",
        ],
    )
    .unwrap();
    assert_eq!(out["status"], "final", "{out}");
    let orders = client.withdrawals(Nonce::new(1), 10).await.unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].amount, Amount::new(200));
    assert_eq!(orders[0].burner, bob.public());
    // Burning to a hostchain that is no longer in the set is refused with the reason.
    let err = cli(
        &net,
        3,
        "bob.key",
        &[
            "burn",
            "--hostchain",
            "bitcoin-regtest",
            "--token",
            "native",
            "--amount",
            "1",
            "--destination",
            "bcrt1qxyz",
        ],
    )
    .unwrap_err();
    assert!(err.contains("not in the active hostchain set"), "{err}");

    // The block stream replays finalized blocks in order.
    let mut response = reqwest::get(format!("{}/v1/stream/blocks?from=1", net.url(1)))
        .await
        .unwrap();
    let mut text = String::new();
    let mut events = Vec::new();
    while events.len() < 3 {
        let chunk = tokio::time::timeout(WAIT, response.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
        events = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|d| serde_json::from_str::<Value>(d).unwrap())
            .collect();
    }
    for (i, event) in events.iter().take(3).enumerate() {
        let height = i as u64 + 1;
        assert_eq!(event["height"], height);
        let block = client.block(Height::new(height)).await.unwrap().unwrap();
        assert_eq!(event["hash"], block.block.header.hash().to_string());
    }

    // A commitment over blocks 1..=5 proves block 3, and its certificate verifies.
    let reply = client
        .commitment(Height::new(1), Height::new(5), Height::new(3))
        .await
        .unwrap();
    let set = client.validators_at(Height::new(5)).await.unwrap();
    reply.commitment.verify(&set).unwrap();
    reply.block.verify(&reply.commitment).unwrap();
    let forged = BlockProof {
        height: Height::new(4),
        ..reply.block.clone()
    };
    assert!(forged.verify(&reply.commitment).is_err());
    let bad = reqwest::get(format!(
        "{}/v1/proofs/commitment?from=5&to=1&height=3",
        net.url(0)
    ))
    .await
    .unwrap();
    assert_eq!(bad.status(), 400);
}

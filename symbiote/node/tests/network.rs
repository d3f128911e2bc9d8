//! A 4-validator symbiote network of separate processes: it finalizes, tolerates one validator
//! down, stops (without forking) with two down, and restarted validators catch up.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::{Duration, Instant};

use devnet::symbiote::{NetworkOptions, SymbioteNetwork};
use symbiote::client::NodeClient;
use symbiote::crypto::Keypair;
use symbiote::keyfile;
use symbiote::tx::{Asset, SignedTransaction, Transaction};
use symbiote::types::{Amount, Height};

const BIN: &str = env!("CARGO_BIN_EXE_symbiote");
const WAIT: Duration = Duration::from_secs(60);

/// The index of the proposer (the first validator of the set's canonical order).
async fn proposer_index(net: &SymbioteNetwork) -> usize {
    let client = NodeClient::new(&net.url(0));
    let set = client.validators_at(Height::new(1)).await.unwrap();
    let proposer = set.get(0).unwrap().key;
    (0..net.len())
        .find(|i| {
            keyfile::read(&net.dir().join(format!("validator-{i}.key")))
                .unwrap()
                .public()
                == proposer
        })
        .unwrap()
}

/// Every listed validator has the same block hash at `height`.
async fn assert_same_block(net: &SymbioteNetwork, nodes: &[usize], height: u64) {
    let mut hashes = Vec::new();
    for &i in nodes {
        let block = NodeClient::new(&net.url(i))
            .block(Height::new(height))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("validator {i} has no block {height}"));
        hashes.push(block.block.header.hash());
    }
    assert!(
        hashes.windows(2).all(|w| w[0] == w[1]),
        "fork at height {height}: {hashes:?}"
    );
}

async fn max_height(net: &SymbioteNetwork, nodes: &[usize]) -> u64 {
    let mut max = 0;
    for &i in nodes {
        max = max.max(net.head(i).await.unwrap().0);
    }
    max
}

#[tokio::test(flavor = "multi_thread")]
async fn four_validators_finalize_tolerate_one_down_stop_with_two_and_catch_up() {
    let mut net = SymbioteNetwork::start(Path::new(BIN), &NetworkOptions::default())
        .await
        .unwrap();
    for i in 0..4 {
        net.wait_height(i, 3, WAIT).await.unwrap();
    }
    assert_same_block(&net, &[0, 1, 2, 3], 3).await;

    let proposer = proposer_index(&net).await;
    let others: Vec<usize> = (0..4).filter(|i| *i != proposer).collect();
    let (down1, down2, alive) = (others[0], others[1], others[2]);

    // One validator other than the proposer down: still finalizing.
    net.kill(down1);
    let before = net.head(proposer).await.unwrap().0;
    net.wait_height(proposer, before + 5, WAIT).await.unwrap();
    net.wait_height(alive, before + 5, WAIT).await.unwrap();
    assert_same_block(&net, &[proposer, down2, alive], before + 5).await;

    // Two down: 2 of 4 is not more than two thirds; finalization stops, nothing forks.
    net.kill(down2);
    tokio::time::sleep(Duration::from_secs(1)).await; // let in-flight rounds settle
    let stalled = max_height(&net, &[proposer, alive]).await;
    tokio::time::sleep(Duration::from_secs(3)).await; // 15 proposal rounds at 200 ms
    assert_eq!(
        max_height(&net, &[proposer, alive]).await,
        stalled,
        "finalized without a quorum"
    );
    net.wait_height(alive, stalled, WAIT).await.unwrap();
    assert_same_block(&net, &[proposer, alive], stalled).await;

    // Restarted validators catch up, and finalization resumes.
    net.restart(down1).await.unwrap();
    net.restart(down2).await.unwrap();
    for i in 0..4 {
        net.wait_height(i, stalled + 3, WAIT).await.unwrap();
    }
    for height in [1, before, stalled, stalled + 3] {
        assert_same_block(&net, &[0, 1, 2, 3], height).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_sent_to_any_validator_is_finalized_and_a_bad_one_is_refused() {
    let net = SymbioteNetwork::start(Path::new(BIN), &NetworkOptions::default())
        .await
        .unwrap();
    let sender = keyfile::read(&net.dir().join("validator-1.key")).unwrap();
    let recipient = Keypair::generate();
    let client = NodeClient::new(&net.url(3));
    let info = client.node_info().await.unwrap();
    let nonce = client.account(&sender.public()).await.unwrap().nonce;
    let tx = SignedTransaction::sign(
        &sender,
        info.symbiote,
        nonce,
        Transaction::Transfer {
            to: recipient.public(),
            asset: Asset::Native,
            amount: Amount::new(42),
        },
    );
    let reply = client.submit(&tx).await.unwrap();
    let started = Instant::now();
    loop {
        let status = client.tx_status(&reply.hash).await.unwrap();
        if matches!(status, symbiote::wire::TxStatusReply::Included { .. }) {
            break;
        }
        assert!(started.elapsed() < WAIT, "not included: {status:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let account = NodeClient::new(&net.url(0))
        .account(&recipient.public())
        .await;
    let balances = account.unwrap().balances;
    assert_eq!(balances.len(), 1);
    assert_eq!(balances[0].amount, Amount::new(42));

    // The same transaction again: refused with the reason.
    let err = client.submit(&tx).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("nonce"), "{err}");
    // Garbage: refused as malformed.
    let garbage = reqwest::Client::new()
        .post(format!("{}/v1/transactions", net.url(0)))
        .json(&serde_json::json!({"tx": "0102"}))
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    let body = garbage.text().await.unwrap();
    assert!(body.contains("transaction"), "{body}");
}

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

/// Submits a transfer of 1 from `sender` at `nonce` to a fresh key; the node's answer.
async fn transfer(
    client: &NodeClient,
    symbiote: symbiote::types::SymbioteId,
    sender: &Keypair,
    nonce: u64,
) -> Result<symbiote::wire::SubmitReply, symbiote::client::ClientError> {
    let tx = SignedTransaction::sign(
        sender,
        symbiote,
        symbiote::types::Nonce::new(nonce),
        Transaction::Transfer {
            to: Keypair::generate().public(),
            asset: Asset::Native,
            amount: Amount::new(1),
        },
    );
    client.submit(&tx).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_future_nonces_does_not_delay_a_valid_transfer() {
    let net = SymbioteNetwork::start(Path::new(BIN), &NetworkOptions::default())
        .await
        .unwrap();
    let client = NodeClient::new(&net.url(0));
    let symbiote = client.node_info().await.unwrap().symbiote;

    // 10,000 transactions with future nonces from fresh keys that hold nothing: every one is
    // refused, and none is queued.
    let mut refused = 0;
    for round in 0..10_000 / 50 {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..50 {
            let client = client.clone();
            set.spawn(async move {
                let key = Keypair::generate();
                transfer(&client, symbiote, &key, 1 + (round * 50 + i) % 30).await
            });
        }
        while let Some(result) = set.join_next().await {
            let err = result.unwrap().unwrap_err();
            assert_eq!(err.status(), Some(400), "{err}");
            assert!(err.to_string().contains("no account"), "{err}");
            refused += 1;
        }
    }
    assert_eq!(refused, 10_000);
    assert_eq!(client.node_info().await.unwrap().mempool, 0);

    // A funded sender queues at most its share of future nonces, and no nonce too far ahead.
    let funded = keyfile::read(&net.dir().join("validator-2.key")).unwrap();
    let next = client.account(&funded.public()).await.unwrap().nonce.get();
    let far = transfer(&client, symbiote, &funded, next + 1_000).await;
    assert!(far.unwrap_err().to_string().contains("ahead"));
    let mut queued = 0;
    for nonce in next + 1..=next + 40 {
        match transfer(&client, symbiote, &funded, nonce).await {
            Ok(_) => queued += 1,
            Err(e) => assert_eq!(e.status(), Some(400), "{e}"),
        }
    }
    assert_eq!(queued, 32);
    // Its next nonce is still taken, past its share: it lets the waiting ones go in.
    transfer(&client, symbiote, &funded, next).await.unwrap();

    // A valid transfer from another sender goes in within a few blocks.
    let sender = keyfile::read(&net.dir().join("validator-1.key")).unwrap();
    let nonce = client.account(&sender.public()).await.unwrap().nonce.get();
    let submitted_at = client.head().await.unwrap().height.get();
    let reply = transfer(&client, symbiote, &sender, nonce).await.unwrap();
    let started = Instant::now();
    let included = loop {
        if let symbiote::wire::TxStatusReply::Included { height } =
            client.tx_status(&reply.hash).await.unwrap()
        {
            break height.get();
        }
        assert!(
            started.elapsed() < WAIT,
            "the valid transfer is not included"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        included <= submitted_at + 3,
        "submitted at height {submitted_at}, included at {included}"
    );
}

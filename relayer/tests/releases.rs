//! The release stage's decisions, step by step, against a real symbiote network and an in-memory
//! hostchain behind the adapter traits: a clean order is scouted, approved on the symbiote,
//! submitted, replaced when stuck (the replacement stored first) and released once final; a
//! dropped payment is submitted again; a malicious destination is held with its report, then
//! released after governance lifts the hold; a deny-listed one is held and refunded. Both are
//! written in another letter case than the scout and the list know them: the destination is
//! compared in its hostchain's canonical form. Every step is checked in the release's
//! transition history.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fake;
mod support;

use std::sync::Arc;
use std::time::Duration;

use chain_adapters::{ReleaseState, TxStatus};
use devnet::symbiote::{NetworkOptions, SymbioteNetwork};
use fake::{Fake, included};
use relayer::bridge::BridgeContext;
use relayer::bridge::releases::ReleaseStage;
use relayer::config::BridgeSection;
use relayer::metrics::Metrics;
use relayer::retry::RetryPolicy;
use relayer::scout::ScoutPolicy;
use relayer::store::{ReleaseStep, ScoutDecision, Store, TxPurpose};
use relayer::tracker::Tracker;
use support::{govern, submit, symbiote_bin};
use symbiote::client::NodeClient;
use symbiote::crypto::Keypair;
use symbiote::state::WithdrawalStatus;
use symbiote::tx::{Deposit, DepositId, GovernanceChange, Transaction};
use symbiote::types::{Amount, HostAddress, HostTxId, HostchainId, Nonce, TokenId};

const CHAIN: &str = "fake-chain";
const LIMIT: Duration = Duration::from_secs(60);

/// The release's states, in the order it went through them.
async fn history(store: &Store, nonce: u64) -> Vec<String> {
    store
        .release_history(Nonce::new(nonce))
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.to)
        .collect()
}

async fn state(store: &Store, nonce: u64) -> ReleaseStep {
    store
        .release(Nonce::new(nonce))
        .await
        .unwrap()
        .unwrap()
        .state
}

#[tokio::test(flavor = "multi_thread")]
async fn releases_go_through_every_step_with_their_history() {
    let net = SymbioteNetwork::start(
        &symbiote_bin(),
        &NetworkOptions {
            hostchains: vec![CHAIN.into()],
            ..NetworkOptions::default()
        },
    )
    .await
    .unwrap();
    let node = NodeClient::new(&net.url(0));
    let relayer = symbiote::keyfile::read(&net.dir().join("relayer-0.key")).unwrap();
    let symbiote = node.node_info().await.unwrap().symbiote;
    let chain = HostchainId::new(CHAIN).unwrap();

    // A user gets wrapped coins (the relayer set is 1 of 1: one attestation mints) and burns
    // them in three orders: to a clean destination, and to two the scout finds malicious.
    let user = Keypair::generate();
    let deposit = Deposit {
        id: DepositId {
            hostchain: chain.clone(),
            tx: HostTxId::new("0xd1").unwrap(),
            index: 0,
        },
        token: TokenId::native(),
        amount: Amount::new(1_000),
        recipient: user.public(),
    };
    let attest = Transaction::Attest {
        deposits: vec![deposit],
    };
    submit(&node, &relayer, attest, LIMIT).await;
    for destination in ["0xgood", "0xBad", "0xREFUND"] {
        let burn = Transaction::Burn {
            hostchain: chain.clone(),
            token: TokenId::native(),
            amount: Amount::new(100),
            destination: HostAddress::new(destination).unwrap(),
        };
        submit(&node, &user, burn, LIMIT).await;
    }

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("r.sqlite").display()
    ))
    .await
    .unwrap();
    let (adapter, script) = Fake::new(CHAIN);
    script.lock().unwrap().malicious = vec!["0xbad".into()];
    let policy = ScoutPolicy::new(
        [],
        [(chain.clone(), HostAddress::new("0xrefund").unwrap())],
        &[],
        true,
    );
    let metrics = Metrics::new();
    let retry = RetryPolicy {
        first: Duration::from_millis(1),
        cap: Duration::from_millis(1),
        give_up_after: Some(5),
    };
    let (follower, verified) = support::verified_state(&net, &node, &store, &metrics);
    let ctx = Arc::new(BridgeContext::new(
        store.clone(),
        verified,
        symbiote,
        Arc::new(relayer.clone()),
        policy,
        BridgeSection::default(),
        Default::default(),
        metrics.clone(),
        retry,
    ));
    let stage = ReleaseStage {
        ctx,
        hostchain: chain.clone(),
        adapter: adapter.clone(),
        tracker: Tracker {
            hostchain: chain.clone(),
            adapter,
            store: store.clone(),
            // Not included at the next look: replaced.
            replace_after: Duration::ZERO,
            metrics,
        },
    };
    let step = || async {
        support::follow(&follower).await;
        stage.step().await.unwrap()
    };

    // Intake and scouting: the clean order is to be approved, the others held with reports.
    step().await;
    assert_eq!(state(&store, 1).await, ReleaseStep::Approving);
    assert_eq!(state(&store, 2).await, ReleaseStep::Holding);
    let held = store.release(Nonce::new(2)).await.unwrap().unwrap();
    assert_eq!(held.decision, Some(ScoutDecision::Malicious));
    let report = held.report_hash.expect("a held order names its report");
    let stored = store.report(&report).await.unwrap().unwrap();
    assert_eq!(stored.address.as_str(), "0xbad");
    let denied = store.release(Nonce::new(3)).await.unwrap().unwrap();
    let denied = store
        .report(&denied.report_hash.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        denied.report.contains("deny-listed-address"),
        "{}",
        denied.report
    );

    // The approval and the holds are published on the symbiote, with the reports.
    step().await;
    assert_eq!(state(&store, 1).await, ReleaseStep::Approved);
    assert_eq!(state(&store, 2).await, ReleaseStep::Held);
    assert_eq!(state(&store, 3).await, ReleaseStep::Held);
    let orders = node
        .withdrawals_of(&[Nonce::new(1), Nonce::new(2)])
        .await
        .unwrap();
    let approval = &orders[0].approvals[&relayer.public()];
    let clean_report = store
        .release(Nonce::new(1))
        .await
        .unwrap()
        .unwrap()
        .report_hash;
    assert_eq!(approval.report, clean_report);
    assert_eq!(orders[1].status, WithdrawalStatus::Held);
    assert_eq!(orders[1].holds[&relayer.public()].report, report);

    // A threshold of approvals (1 of 1): the designated relayer submits, stored then sent.
    step().await;
    assert_eq!(state(&store, 1).await, ReleaseStep::Submitted);
    let first = store.release_txs(&chain, Nonce::new(1)).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(
        script.lock().unwrap().broadcasts,
        vec![first[0].tx.id.clone()]
    );

    // Not included: replaced by a fee-bumped transaction, stored before it is sent.
    step().await;
    let txs = store.release_txs(&chain, Nonce::new(1)).await.unwrap();
    assert_eq!(txs.len(), 2);
    assert_eq!(txs[0].tx.id, format!("{}-bumped", first[0].tx.id));
    let row = store.release(Nonce::new(1)).await.unwrap().unwrap();
    assert_eq!(row.tx_id.as_deref(), Some(txs[0].tx.id.as_str()));
    assert_eq!(row.state, ReleaseStep::Submitted);

    // Included, not final: waiting. Final, and the bridge used the nonce: released.
    script.lock().unwrap().status = Some(included(7, false));
    step().await;
    assert_eq!(state(&store, 1).await, ReleaseStep::Submitted);
    script.lock().unwrap().status = Some(included(9, true));
    script
        .lock()
        .unwrap()
        .releases
        .insert(Nonce::new(1), ReleaseState::Released);
    step().await;
    assert_eq!(state(&store, 1).await, ReleaseStep::Released);
    assert_eq!(
        history(&store, 1).await,
        [
            "scouting",
            "approving",
            "approved",
            "submitted",
            "submitted",
            "released"
        ]
    );

    // Governance lifts one hold and refunds the other.
    script.lock().unwrap().status = None;
    let height = node.head().await.unwrap().height.get();
    govern(
        &net,
        &node,
        GovernanceChange::ReleaseHold(Nonce::new(2)),
        height + 30,
        LIMIT,
    )
    .await;
    govern(
        &net,
        &node,
        GovernanceChange::RefundHold(Nonce::new(3)),
        height + 30,
        LIMIT,
    )
    .await;
    support::wait_for(
        "governance in force",
        LIMIT,
        Duration::from_millis(200),
        &[],
        || async {
            let orders = node
                .withdrawals_of(&[Nonce::new(2), Nonce::new(3)])
                .await
                .unwrap();
            (orders[0].status == WithdrawalStatus::HoldLifted
                && orders[1].status == WithdrawalStatus::Refunded)
                .then_some(())
        },
    )
    .await;
    step().await;
    assert_eq!(state(&store, 2).await, ReleaseStep::Approving);
    assert_eq!(state(&store, 3).await, ReleaseStep::Refunded);
    step().await;
    assert_eq!(state(&store, 2).await, ReleaseStep::Approved);
    step().await;
    assert_eq!(state(&store, 2).await, ReleaseStep::Submitted);

    // Every transaction of the payment dropped and the nonce unused: submitted again.
    let paid = store.release_txs(&chain, Nonce::new(2)).await.unwrap();
    script.lock().unwrap().status = Some(TxStatus::Dropped {
        reason: "evicted".into(),
    });
    step().await;
    assert_eq!(state(&store, 2).await, ReleaseStep::Approved);
    script.lock().unwrap().status = None;
    step().await;
    assert_eq!(state(&store, 2).await, ReleaseStep::Submitted);
    let again = store.release_txs(&chain, Nonce::new(2)).await.unwrap();
    assert_eq!(
        again.len(),
        paid.len() + 1,
        "a new transaction was prepared"
    );
    // Paid by the new one.
    let newest = again[0].tx.id.clone();
    script
        .lock()
        .unwrap()
        .statuses
        .insert(newest, included(20, true));
    script
        .lock()
        .unwrap()
        .releases
        .insert(Nonce::new(2), ReleaseState::Released);
    step().await;
    assert_eq!(state(&store, 2).await, ReleaseStep::Released);
    assert_eq!(
        history(&store, 2).await,
        [
            "scouting",
            "holding",
            "held",
            "approving",
            "approved",
            "submitted",
            "approved",
            "submitted",
            "released"
        ]
    );
    assert_eq!(
        history(&store, 3).await,
        ["scouting", "holding", "held", "refunded"]
    );
    // The refunded order was never submitted; the paid ones carried their approvals.
    assert_eq!(
        store
            .host_tx_count(&chain, &TxPurpose::Release(Nonce::new(3)))
            .await
            .unwrap(),
        0
    );
    let orders = script.lock().unwrap().release_orders.clone();
    assert!(orders.iter().all(|o| o.nonce != Nonce::new(3)));
}

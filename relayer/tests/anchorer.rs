//! The anchorer's decisions, driven by a small in-memory fake behind the adapter traits:
//! a stuck transaction is replaced (and the replacement stored before it is sent), a reorged-out
//! anchor is sent again, a dropped one is prepared anew, an anchor becomes final only when
//! its adapter says so, and a final anchor that a deeper reorg moves or removes is found and
//! anchored again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fake;

use std::time::Duration;

use chain_adapters::{Inclusion, TxStatus};
use fake::{Fake, included};
use relayer::metrics::Metrics;
use relayer::pipeline::anchorer::HostchainAnchorer;
use relayer::retry::RetryPolicy;
use relayer::store::{AnchorState, BatchState, Entity, Store};
use relayer::tracker::Tracker;
use symbiote::certificate::QuorumCertificate;
use symbiote::commitment::{Aggregate, Commitment};
use symbiote::hash::Hash;
use symbiote::types::{Height, SymbioteId};

#[tokio::test]
async fn stuck_replaced_reorged_resent_dropped_reprepared_then_final() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("r.sqlite").display()
    ))
    .await
    .unwrap();
    let own = SymbioteId::from_name("anchorer-test");
    let (adapter, script) = Fake::new("fake-chain");
    let chain = adapter.id.clone();
    let commitment = Commitment {
        symbiote: own,
        from: Height::new(1),
        to: Height::new(5),
        blocks_root: Hash([1; 32]),
        validator_set_hash: Hash([2; 32]),
        certificate: QuorumCertificate {
            symbiote: own,
            height: Height::new(5),
            block_hash: Hash([3; 32]),
            signatures: vec![],
        },
    };
    let aggregate = Aggregate {
        commitments: vec![commitment.hash()],
    };
    let batch = store
        .create_batch(
            &commitment,
            &aggregate,
            &[],
            &[],
            std::slice::from_ref(&chain),
        )
        .await
        .unwrap();
    let metrics = Metrics::new();
    let anchorer = HostchainAnchorer {
        hostchain: chain.clone(),
        adapter: adapter.clone(),
        store: store.clone(),
        // Replace as soon as a transaction is not included.
        tracker: Tracker {
            hostchain: chain.clone(),
            adapter,
            store: store.clone(),
            replace_after: Duration::ZERO,
            metrics: metrics.clone(),
        },
        retry: RetryPolicy {
            first: Duration::from_secs(1),
            cap: Duration::from_secs(1),
            give_up_after: Some(5),
        },
        poll: Duration::from_millis(10),
        symbiote: own,
        metrics,
    };
    let anchor = || async { store.anchors(Some(batch), 10).await.unwrap().remove(0) };

    // Prepared, stored, sent.
    anchorer.step().await.unwrap();
    assert_eq!(anchor().await.state, AnchorState::Broadcast);
    assert_eq!(script.lock().unwrap().broadcasts, vec!["tx-1-1"]);

    // Not included: sent again (harmless) and replaced, the replacement stored and sent.
    anchorer.step().await.unwrap();
    let a = anchor().await;
    assert_eq!(script.lock().unwrap().replaced, vec!["tx-1-1"]);
    assert_eq!(a.tx_id.as_deref(), Some("tx-1-1-bumped"));
    assert_eq!(store.anchor_txs(&a).await.unwrap().len(), 2);
    assert_eq!(a.state, AnchorState::Broadcast);

    // Included, not final yet.
    script.lock().unwrap().status = Some(included(10, false));
    anchorer.step().await.unwrap();
    let a = anchor().await;
    assert_eq!(a.state, AnchorState::Included);
    assert_eq!(a.inclusion.unwrap().height, 10);

    // Reorged out: sent again, back to broadcast.
    let sends = script.lock().unwrap().broadcasts.len();
    script.lock().unwrap().status = Some(TxStatus::ReorgedOut {
        previous: Inclusion {
            height: 10,
            block_hash: "block-10".into(),
        },
    });
    anchorer.step().await.unwrap();
    assert_eq!(anchor().await.state, AnchorState::Broadcast);
    assert!(script.lock().unwrap().broadcasts.len() > sends);

    // Every transaction dropped: prepared anew.
    script.lock().unwrap().status = Some(TxStatus::Dropped {
        reason: "evicted".into(),
    });
    anchorer.step().await.unwrap();
    assert_eq!(anchor().await.state, AnchorState::Pending);
    script.lock().unwrap().status = Some(TxStatus::InMempool);
    anchorer.step().await.unwrap();
    assert_eq!(script.lock().unwrap().prepared, 2);

    // Included past the depth: final, and the batch is anchored.
    script.lock().unwrap().status = Some(included(12, true));
    anchorer.step().await.unwrap();
    let a = anchor().await;
    assert_eq!(a.state, AnchorState::Final);
    assert_eq!(
        store.batch(batch).await.unwrap().unwrap().state,
        BatchState::Anchored
    );
    let history: Vec<String> = store
        .transitions(Entity::Anchor, a.id.0)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.to)
        .collect();
    assert_eq!(
        history,
        vec![
            "pending",
            "prepared",
            "broadcast",
            "prepared",
            "broadcast",
            "included",
            "broadcast",
            "pending",
            "prepared",
            "broadcast",
            "final"
        ]
    );

    // Still where it was final: the recheck changes nothing.
    anchorer.recheck_final().await.unwrap();
    assert_eq!(anchor().await.state, AnchorState::Final);

    // A reorg deeper than the depth takes the final anchor's block away: found, sent again,
    // the batch no longer anchored there; then final again at its new place.
    script.lock().unwrap().status = Some(TxStatus::ReorgedOut {
        previous: Inclusion {
            height: 12,
            block_hash: "block-12".into(),
        },
    });
    anchorer.recheck_final().await.unwrap();
    let a = anchor().await;
    assert_eq!(a.state, AnchorState::Broadcast);
    assert_eq!(a.inclusion, None, "the stale position is not kept");
    assert_eq!(
        store.batch(batch).await.unwrap().unwrap().state,
        BatchState::Anchoring
    );
    script.lock().unwrap().status = Some(included(15, true));
    anchorer.step().await.unwrap();
    let a = anchor().await;
    assert_eq!(a.state, AnchorState::Final);
    assert_eq!(a.inclusion.unwrap().height, 15);
    assert_eq!(
        store.batch(batch).await.unwrap().unwrap().state,
        BatchState::Anchored
    );

    // Re-included elsewhere (another block at the same height): the position is updated.
    script.lock().unwrap().status = Some(TxStatus::Included {
        inclusion: Inclusion {
            height: 16,
            block_hash: "block-16-other".into(),
        },
        confirmations: 9,
        fin: true,
    });
    anchorer.recheck_final().await.unwrap();
    let a = anchor().await;
    assert_eq!(a.state, AnchorState::Final);
    assert_eq!(a.inclusion.unwrap().block_hash, "block-16-other");
}

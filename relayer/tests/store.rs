//! The relayer's store behaves the same on SQLite and PostgreSQL: batches with their anchors
//! and sequences, prepared transactions, state transitions with their history, and restarts on
//! the same database.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chain_adapters::{Inclusion, PreparedTx};
use relayer::store::{AnchorState, ReportRow, Store};
use symbiote::certificate::QuorumCertificate;
use symbiote::commitment::{Aggregate, Commitment};
use symbiote::hash::Hash;
use symbiote::types::{Height, HostchainId, SymbioteId};

fn commitment(symbiote: SymbioteId, from: u64, to: u64) -> Commitment {
    let last = Hash([to as u8; 32]);
    Commitment {
        symbiote,
        from: Height::new(from),
        to: Height::new(to),
        blocks_root: Hash([1; 32]),
        validator_set_hash: Hash([2; 32]),
        certificate: QuorumCertificate {
            symbiote,
            height: Height::new(to),
            block_hash: last,
            signatures: vec![],
        },
    }
}

fn prepared(id: &str) -> PreparedTx {
    PreparedTx {
        hostchain: HostchainId::new("bitcoin-regtest").unwrap(),
        id: id.into(),
        raw: vec![1, 2, 3],
        meta: serde_json::json!({"v": 1}),
    }
}

async fn exercise(url: &str) {
    let store = Store::open(url).await.unwrap();
    let own = SymbioteId::from_name("own");
    let chains = [
        HostchainId::new("bitcoin-regtest").unwrap(),
        HostchainId::new("solana-local").unwrap(),
    ];

    // A foreign commitment waits for the next batch; the same one twice is not added twice.
    let foreign = commitment(SymbioteId::from_name("foreign"), 1, 4);
    assert!(store.add_foreign(&foreign).await.unwrap());
    assert!(!store.add_foreign(&foreign).await.unwrap());
    let pending = store.pending_foreign().await.unwrap();
    assert_eq!(pending.len(), 1);

    // A scout report waits for the next batch too.
    let report = ReportRow {
        hash: "ab".repeat(32),
        hostchain: "evm-31337".into(),
        address: "0x00000000000000000000000000000000000000aa".into(),
        block: 9,
        verdict: "malicious".into(),
        nonce: Some(3),
        report: "{}".into(),
        created_at: 1,
    };
    store.add_report(&report).await.unwrap();
    store.add_report(&report).await.unwrap();
    assert_eq!(
        store.unbatched_reports(10).await.unwrap(),
        vec![report.hash.clone()]
    );
    assert_eq!(store.report_batch(&report.hash).await.unwrap(), None);

    let first = commitment(own, 1, 10);
    let aggregate = Aggregate {
        commitments: vec![first.hash(), foreign.hash()],
    };
    let batch = store
        .create_batch(
            &first,
            &aggregate,
            &[pending[0].0],
            std::slice::from_ref(&report.hash),
            &chains,
        )
        .await
        .unwrap();
    assert!(store.pending_foreign().await.unwrap().is_empty());
    assert!(store.unbatched_reports(10).await.unwrap().is_empty());
    assert_eq!(store.report_batch(&report.hash).await.unwrap(), Some(batch));
    assert_eq!(store.last_batched_height().await.unwrap(), 10);
    let (stored, stored_aggregate) = store.batch_contents(batch).await.unwrap().unwrap();
    assert_eq!(stored, first);
    assert_eq!(stored_aggregate.root(), aggregate.root());
    assert_eq!(store.batch_containing(7).await.unwrap().unwrap().id, batch);
    assert!(store.batch_containing(11).await.unwrap().is_none());

    // A second batch: each hostchain's sequence goes up by one.
    let second = commitment(own, 11, 15);
    let batch2 = store
        .create_batch(
            &second,
            &Aggregate {
                commitments: vec![second.hash()],
            },
            &[],
            &[],
            &chains[..1],
        )
        .await
        .unwrap();
    let anchors = store.open_anchors("bitcoin-regtest").await.unwrap();
    assert_eq!(
        anchors.iter().map(|a| a.sequence).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(store.open_anchors("solana-local").await.unwrap().len(), 1);

    // Drive the first bitcoin anchor: prepared, replaced, broadcast, included, final.
    let anchor = anchors[0].clone();
    store
        .record_prepared(&anchor, &prepared("tx-a"), "prepared")
        .await
        .unwrap();
    let anchor = store.anchor(anchor.id).await.unwrap().unwrap();
    assert_eq!(anchor.state, AnchorState::Prepared);
    store
        .record_prepared(&anchor, &prepared("tx-b"), "replaced")
        .await
        .unwrap();
    let txs = store.anchor_txs(anchor.id).await.unwrap();
    assert_eq!(
        txs.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        vec!["tx-b", "tx-a"]
    );
    let anchor = store.anchor(anchor.id).await.unwrap().unwrap();
    store
        .move_anchor(
            &anchor,
            AnchorState::Broadcast,
            Some("tx-b"),
            None,
            0,
            "sent",
        )
        .await
        .unwrap();
    let anchor = store.anchor(anchor.id).await.unwrap().unwrap();
    let inclusion = Inclusion {
        height: 120,
        block_hash: "00ab".into(),
    };
    store
        .move_anchor(
            &anchor,
            AnchorState::Included,
            Some("tx-b"),
            Some(&inclusion),
            1,
            "included",
        )
        .await
        .unwrap();
    let anchor = store.anchor(anchor.id).await.unwrap().unwrap();
    assert_eq!(anchor.inclusion, Some(inclusion.clone()));
    store
        .record_failure(&anchor, "node down", 123)
        .await
        .unwrap();
    let anchor = store.anchor(anchor.id).await.unwrap().unwrap();
    assert_eq!((anchor.attempts, anchor.next_attempt_at), (1, 123));
    store
        .move_anchor(
            &anchor,
            AnchorState::Final,
            None,
            Some(&inclusion),
            6,
            "final",
        )
        .await
        .unwrap();
    let history = store.transitions("anchor", anchor.id).await.unwrap();
    let states: Vec<&str> = history.iter().map(|t| t.to.as_str()).collect();
    assert_eq!(
        states,
        vec![
            "pending",
            "prepared",
            "prepared",
            "broadcast",
            "included",
            "final"
        ]
    );
    assert_eq!(history[5].reason, "final");
    assert_eq!(store.final_height("bitcoin-regtest").await.unwrap(), 10);

    // The batch is anchored once every one of its anchors is final.
    assert_eq!(
        store.batch(batch).await.unwrap().unwrap().state,
        "anchoring"
    );
    let solana = store.open_anchors("solana-local").await.unwrap().remove(0);
    store
        .move_anchor(
            &solana,
            AnchorState::Final,
            Some("sig"),
            Some(&inclusion),
            32,
            "final",
        )
        .await
        .unwrap();
    assert_eq!(store.batch(batch).await.unwrap().unwrap().state, "anchored");
    assert_eq!(
        store.batch(batch2).await.unwrap().unwrap().state,
        "anchoring"
    );
    let batch_history = store.transitions("batch", batch).await.unwrap();
    assert_eq!(batch_history.last().unwrap().to, "anchored");

    let counts = store.anchor_counts().await.unwrap();
    assert!(
        counts.contains(&("bitcoin-regtest".into(), "final".into(), 1)),
        "{counts:?}"
    );
    assert!(
        counts.contains(&("bitcoin-regtest".into(), "pending".into(), 1)),
        "{counts:?}"
    );

    // Reopening the same database (a restart) keeps everything and re-applies no migration.
    drop(store);
    let again = Store::open(url).await.unwrap();
    assert_eq!(again.batch_count().await.unwrap(), 2);
    assert_eq!(again.anchor_txs(anchor.id).await.unwrap().len(), 2);
}

#[tokio::test]
async fn sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    exercise(&format!(
        "sqlite://{}",
        dir.path().join("relayer.sqlite").display()
    ))
    .await;
}

#[tokio::test]
async fn postgres_store() {
    let pg = devnet::Postgres::start().await.unwrap();
    exercise(pg.url()).await;
}

#[tokio::test]
async fn a_bad_database_url_is_named() {
    let err = Store::open("mysql://x").await.err().unwrap().to_string();
    assert!(err.contains("mysql://x"), "{err}");
    let err = Store::open("postgres://nobody:secret@127.0.0.1:1/none")
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("127.0.0.1:1") && !err.contains("secret"),
        "{err}"
    );
}

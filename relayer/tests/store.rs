//! The relayer's store behaves the same on SQLite and PostgreSQL: batches with their anchors
//! and sequences, prepared transactions, state transitions with their history, and restarts on
//! the same database.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chain_adapters::DepositCursor;
use chain_adapters::{Inclusion, ObservedDeposit, PreparedTx};
use relayer::scout::Verdict;
use relayer::store::{
    AnchorState, BatchState, DepositState, Entity, ReleaseRow, ReleaseStep, ReportRow,
    ScoutDecision, Store, TxPurpose,
};
use symbiote::certificate::QuorumCertificate;
use symbiote::commitment::{Aggregate, Commitment};
use symbiote::hash::Hash;
use symbiote::state::{WithdrawalOrder, WithdrawalStatus};
use symbiote::tx::DepositId;
use symbiote::types::Sequence;
use symbiote::types::{Amount, HostAddress, HostTxId, Nonce, TokenId};
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
    prepared_on("bitcoin-regtest", id)
}

fn prepared_on(hostchain: &str, id: &str) -> PreparedTx {
    PreparedTx {
        hostchain: HostchainId::new(hostchain).unwrap(),
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
        hash: Hash([0xab; 32]),
        hostchain: HostchainId::new("evm-31337").unwrap(),
        address: HostAddress::new("0x00000000000000000000000000000000000000aa").unwrap(),
        block: 9,
        verdict: Verdict::Malicious,
        nonce: Some(Nonce::new(3)),
        report: "{}".into(),
        created_at: 1,
    };
    assert_eq!(store.report(&report.hash).await.unwrap(), None);
    store.add_report(&report).await.unwrap();
    store.add_report(&report).await.unwrap();
    assert_eq!(
        store.unbatched_reports(10).await.unwrap(),
        vec![report.hash]
    );
    assert_eq!(
        store.report(&report.hash).await.unwrap(),
        Some(report.clone())
    );
    assert_eq!(store.report_batch(&report.hash).await.unwrap(), None);

    let first = commitment(own, 1, 10);
    let aggregate = Aggregate {
        commitments: vec![first.hash(), foreign.hash()],
    };
    let batch = store
        .create_batch(&first, &aggregate, &[pending[0].0], &[report.hash], &chains)
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
    let anchors = store.open_anchors(&chains[0]).await.unwrap();
    assert_eq!(
        anchors.iter().map(|a| a.sequence).collect::<Vec<_>>(),
        vec![Sequence::new(1), Sequence::new(2)]
    );
    assert_eq!(store.open_anchors(&chains[1]).await.unwrap().len(), 1);

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
    let txs = store.anchor_txs(&anchor).await.unwrap();
    assert_eq!(
        txs.iter().map(|t| t.tx.id.as_str()).collect::<Vec<_>>(),
        vec!["tx-b", "tx-a"]
    );
    assert_eq!(
        store
            .host_txs(&chains[0], &TxPurpose::Anchor(anchor.id))
            .await
            .unwrap(),
        txs
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
    let history = store
        .transitions(Entity::Anchor, anchor.id.0)
        .await
        .unwrap();
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
    assert_eq!(store.final_height(&chains[0]).await.unwrap(), 10);

    // The batch is anchored once every one of its anchors is final.
    assert_eq!(
        store.batch(batch).await.unwrap().unwrap().state,
        BatchState::Anchoring
    );
    let solana = store.open_anchors(&chains[1]).await.unwrap().remove(0);
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
    assert_eq!(
        store.batch(batch).await.unwrap().unwrap().state,
        BatchState::Anchored
    );
    assert_eq!(
        store.batch(batch2).await.unwrap().unwrap().state,
        BatchState::Anchoring
    );
    let batch_history = store.transitions(Entity::Batch, batch.0).await.unwrap();
    assert_eq!(batch_history.last().unwrap().to, "anchored");

    let counts = store.anchor_counts().await.unwrap();
    assert!(
        counts.contains(&(chains[0].clone(), AnchorState::Final, 1)),
        "{counts:?}"
    );
    assert!(
        counts.contains(&(chains[0].clone(), AnchorState::Pending, 1)),
        "{counts:?}"
    );

    bridge(&store).await;

    // Reopening the same database (a restart) keeps everything and re-applies no migration.
    drop(store);
    let again = Store::open(url).await.unwrap();
    assert_eq!(again.batch_count().await.unwrap(), 2);
    assert_eq!(again.anchor_txs(&anchor).await.unwrap().len(), 2);
}

/// The bridge's tables: deposits once each with their cursor, state moves with history,
/// releases with their transactions, and what the release limits count.
async fn bridge(store: &Store) {
    let evm = HostchainId::new("evm-31337").unwrap();
    let recipient = symbiote::crypto::Keypair::generate().public();
    let deposit = |tx: &str, routable: bool| ObservedDeposit {
        id: DepositId {
            hostchain: evm.clone(),
            tx: HostTxId::new(tx).unwrap(),
            index: 2,
        },
        token: TokenId::native(),
        amount: Amount::new(u128::MAX - 1),
        recipient: routable.then_some(recipient),
        raw_recipient: "raw".into(),
        depositor: "0xdead".into(),
        block: 7,
    };
    let scan = [deposit("0xaa", true), deposit("0xbb", false)];
    let cursor = |text: &str| DepositCursor(text.into());
    assert_eq!(store.deposit_cursor(&evm).await.unwrap(), cursor(""));
    assert_eq!(
        store
            .record_scan(&evm, &scan, &cursor("8:0xh"))
            .await
            .unwrap(),
        2
    );
    // The same scan again (a restart before the cursor moved on) adds nothing.
    assert_eq!(
        store
            .record_scan(&evm, &scan, &cursor("9:0xi"))
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.deposit_cursor(&evm).await.unwrap(), cursor("9:0xi"));
    // The withdrawal intake's cursor is apart from the deposit scan's.
    assert_eq!(store.withdrawal_cursor(&evm).await.unwrap(), Nonce::new(1));
    store
        .set_withdrawal_cursor(&evm, Nonce::new(6))
        .await
        .unwrap();
    assert_eq!(store.withdrawal_cursor(&evm).await.unwrap(), Nonce::new(6));
    assert_eq!(store.deposit_cursor(&evm).await.unwrap(), cursor("9:0xi"));
    let seen = store
        .deposits_in(&evm, DepositState::Seen, 10)
        .await
        .unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].amount, Amount::new(u128::MAX - 1));
    assert_eq!(seen[0].deposit().unwrap().recipient, recipient);
    let unroutable = store
        .deposits(Some(DepositState::Unroutable), 10, 0)
        .await
        .unwrap();
    assert_eq!(unroutable.len(), 1);
    assert!(unroutable[0].deposit().is_none());
    store
        .move_deposits(
            &[seen[0].id],
            DepositState::Seen,
            DepositState::Attested,
            Some(&Hash([0xcd; 32])),
            "attested",
        )
        .await
        .unwrap();
    // A move from a state the deposit is no longer in changes nothing.
    store
        .move_deposits(
            &[seen[0].id],
            DepositState::Seen,
            DepositState::Minted,
            None,
            "stale",
        )
        .await
        .unwrap();
    let attested = store
        .deposits_in(&evm, DepositState::Attested, 10)
        .await
        .unwrap();
    assert_eq!(attested[0].attest_tx, Some(Hash([0xcd; 32])));
    assert_eq!(
        store
            .transitions(Entity::Deposit, seen[0].id)
            .await
            .unwrap()
            .len(),
        1
    );

    // A release: recorded once, moved, its transaction stored with the move.
    let order = WithdrawalOrder {
        nonce: Nonce::new(5),
        hostchain: evm.clone(),
        token: TokenId::native(),
        amount: Amount::new(300),
        destination: HostAddress::new("0x00000000000000000000000000000000000000bb").unwrap(),
        burner: recipient,
        height: Height::new(3),
        status: WithdrawalStatus::Open,
        approvals: Default::default(),
        holds: Default::default(),
    };
    assert!(store.add_release(&order).await.unwrap());
    assert!(!store.add_release(&order).await.unwrap());
    let row = store.release(Nonce::new(5)).await.unwrap().unwrap();
    assert_eq!(row.state, ReleaseStep::Scouting);
    let approved = ReleaseRow {
        state: ReleaseStep::Approved,
        decision: Some(ScoutDecision::Clean),
        release_after: Some(1_700_000_000),
        ..row.clone()
    };
    assert!(
        store
            .save_release(&row, &approved, "approved")
            .await
            .unwrap()
    );
    // Writing over a state the release is no longer in is refused.
    assert!(!store.save_release(&row, &approved, "stale").await.unwrap());
    let submitted = ReleaseRow {
        state: ReleaseStep::Submitted,
        tx_id: Some("0xtx".into()),
        ..approved.clone()
    };
    let purpose = TxPurpose::Release(Nonce::new(5));
    store
        .record_release_tx(
            &approved,
            &submitted,
            &purpose,
            &prepared_on("evm-31337", "0xtx"),
            "sent",
        )
        .await
        .unwrap();
    assert_eq!(
        store.release_txs(&evm, Nonce::new(5)).await.unwrap().len(),
        1
    );
    assert_eq!(store.host_tx_count(&evm, &purpose).await.unwrap(), 1);
    assert_eq!(
        store
            .host_tx_count(&evm, &TxPurpose::ExecuteQueued(Nonce::new(5)))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store.open_releases(&evm).await.unwrap()[0].state,
        ReleaseStep::Submitted
    );
    let released = ReleaseRow {
        state: ReleaseStep::Released,
        released_at: Some(relayer::store::now_ms()),
        ..submitted.clone()
    };
    assert!(
        store
            .save_release(&submitted, &released, "paid")
            .await
            .unwrap()
    );
    assert!(store.open_releases(&evm).await.unwrap().is_empty());
    assert_eq!(
        store
            .released_since(&evm, &TokenId::native(), 0)
            .await
            .unwrap(),
        Amount::new(300)
    );
    let history: Vec<String> = store
        .release_history(Nonce::new(5))
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.to)
        .collect();
    assert_eq!(history, ["scouting", "approved", "submitted", "released"]);
    assert_eq!(
        store
            .releases(&[ReleaseStep::Released], 10, 0)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store.release_counts().await.unwrap().contains(&(
        evm.clone(),
        ReleaseStep::Released,
        1
    )));

    // A rotation is stored with its transaction before it is sent, followed, then done.
    let members = vec!["0x00000000000000000000000000000000000000cc".to_string()];
    store
        .record_rotation_tx(
            &evm,
            "anchor",
            2,
            &members,
            1,
            &prepared_on("evm-31337", "0xrot"),
            "sent",
        )
        .await
        .unwrap();
    let rotation = store.rotation(&evm, "anchor", 2).await.unwrap().unwrap();
    assert_eq!((rotation.members.clone(), rotation.threshold), (members, 1));
    assert_eq!(
        store.open_rotations(&evm).await.unwrap(),
        vec![rotation.clone()]
    );
    assert_eq!(
        store
            .host_txs(&evm, &rotation.purpose())
            .await
            .unwrap()
            .len(),
        1
    );
    // The same rotation of another hostchain is another transaction's.
    let other = HostchainId::new("evm-1").unwrap();
    assert!(
        store
            .host_txs(&other, &rotation.purpose())
            .await
            .unwrap()
            .is_empty()
    );
    store.finish_rotation(&rotation, "rotated").await.unwrap();
    assert!(store.open_rotations(&evm).await.unwrap().is_empty());
    let history: Vec<String> = store
        .transitions(Entity::Rotation, rotation.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.to)
        .collect();
    assert_eq!(history, ["submitted", "done"]);
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

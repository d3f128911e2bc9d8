//! A database written by the relayer before its transactions moved into one table (migrations
//! up to 0005, rows as that version wrote them) opens with this version, reads back typed, and
//! keeps working; a row that cannot be parsed is an error naming its table, row and column.
//! On SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::borrow::Cow;

use chain_adapters::DepositCursor;
use relayer::roles::Role;
use relayer::store::{
    AnchorState, BatchState, DepositState, ReleaseStep, ScoutDecision, Store, TxPurpose,
};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use symbiote::hash::Hash;
use symbiote::types::{HostchainId, Nonce};

/// The rows the earlier relayer wrote: a batch with an anchor and its replaced transaction, a
/// deposit with the scan cursor and (under a made-up key) the withdrawal cursor, releases
/// submitted, executing a bridge-queued payment, and approving after governance lifted a hold,
/// a scout report, and the worker of a role.
const EARLIER_ROWS: &[&str] = &[
    "INSERT INTO batches (id, from_height, to_height, commitment, aggregate, aggregate_root, state, created_at) \
     VALUES (1, 1, 10, BYTES(01), BYTES(01), BYTES(0000000000000000000000000000000000000000000000000000000000000001), 'anchoring', 1)",
    "INSERT INTO anchors (id, batch_id, hostchain, sequence, state, tx_id, confirmations, attempts, next_attempt_at, state_since) \
     VALUES (1, 1, 'evm-31337', 1, 'broadcast', 'tx-b', 0, 0, 0, 5)",
    "INSERT INTO anchor_txs (anchor_id, tx_id, prepared, created_at) VALUES \
     (1, 'tx-a', '{\"hostchain\":\"evm-31337\",\"id\":\"tx-a\",\"raw\":[1],\"meta\":{}}', 2)",
    "INSERT INTO anchor_txs (anchor_id, tx_id, prepared, created_at) VALUES \
     (1, 'tx-b', '{\"hostchain\":\"evm-31337\",\"id\":\"tx-b\",\"raw\":[2],\"meta\":{}}', 3)",
    "INSERT INTO transitions (entity, entity_id, from_state, to_state, reason, at) \
     VALUES ('anchor', 1, NULL, 'pending', 'batch 1', 1)",
    "INSERT INTO deposit_cursors (hostchain, cursor, updated_at) VALUES ('evm-31337', '12:0xab', 1)",
    "INSERT INTO deposit_cursors (hostchain, cursor, updated_at) VALUES ('withdrawals:evm-31337', '7', 1)",
    "INSERT INTO deposits (hostchain, tx, event_index, token, amount, recipient, raw_recipient, depositor, block, state, attest_tx, seen_at, state_since) \
     VALUES ('evm-31337', '0xdd', 0, 'native', '5', NULL, 'nobody', '0xdead', 3, 'unroutable', NULL, 1, 1)",
    "INSERT INTO releases (nonce, hostchain, token, amount, destination, burner, order_height, state, verdict, report_hash, tx_id, attempts, next_attempt_at, state_since, created_at) \
     VALUES (1, 'evm-31337', 'native', '300', '0x00000000000000000000000000000000000000bb', \
     'BURNER', 2, 'submitted', 'clean', \
     'abababababababababababababababababababababababababababababababab', 'rel-1', 0, 0, 4, 4)",
    "INSERT INTO release_txs (nonce, tx_id, prepared, created_at) VALUES \
     (1, 'rel-1', '{\"hostchain\":\"evm-31337\",\"id\":\"rel-1\",\"raw\":[],\"meta\":{}}', 4)",
    "INSERT INTO releases (nonce, hostchain, token, amount, destination, burner, order_height, state, verdict, report_hash, release_after, tx_id, attempts, next_attempt_at, state_since, created_at) \
     VALUES (2, 'evm-31337', 'native', '900', '0x00000000000000000000000000000000000000bb', \
     'BURNER', 2, 'executing', 'clean', NULL, 100, 'exec-2', 0, 0, 4, 4)",
    "INSERT INTO release_txs (nonce, tx_id, prepared, created_at) VALUES \
     (2, 'rel-2', '{\"hostchain\":\"evm-31337\",\"id\":\"rel-2\",\"raw\":[],\"meta\":{}}', 4)",
    "INSERT INTO release_txs (nonce, tx_id, prepared, created_at) VALUES \
     (2, 'exec-2', '{\"hostchain\":\"evm-31337\",\"id\":\"exec-2\",\"raw\":[],\"meta\":{}}', 5)",
    "INSERT INTO releases (nonce, hostchain, token, amount, destination, burner, order_height, state, verdict, report_hash, attempts, next_attempt_at, state_since, created_at) \
     VALUES (3, 'evm-31337', 'native', '1', '0x00000000000000000000000000000000000000cc', \
     'BURNER', 2, 'approving', 'lifted', NULL, 0, 0, 4, 4)",
    "INSERT INTO scout_reports (hash, hostchain, address, block, verdict, nonce, report, created_at) \
     VALUES ('abababababababababababababababababababababababababababababababab', 'evm-31337', \
     '0x00000000000000000000000000000000000000bb', 9, 'clean', 1, '{}', 4)",
    "INSERT INTO workers (role, replica, since, heartbeat) VALUES ('anchorer:evm-31337', 'old-1', 1, 2)",
];

/// Creates the earlier version's schema (its migrations only) at `url` and writes its rows.
async fn write_earlier_database(url: &str, postgres: bool) {
    install_default_drivers();
    let connect = if postgres {
        url.to_string()
    } else {
        format!("{url}?mode=rwc")
    };
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&connect)
        .await
        .unwrap();
    let mut migrator = if postgres {
        sqlx::migrate!("../migrations/relayer/postgres")
    } else {
        sqlx::migrate!("../migrations/relayer/sqlite")
    };
    let earlier: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|m| m.version <= 5)
        .cloned()
        .collect();
    assert_eq!(earlier.len(), 5);
    migrator.migrations = Cow::Owned(earlier);
    migrator.run(&pool).await.unwrap();
    let burner = symbiote::crypto::Keypair::from_seed(&[1; 32]).public();
    for sql in EARLIER_ROWS {
        let mut sql = sql.replace("BURNER", &burner.to_string());
        // Byte strings: `X'..'` on SQLite, `decode('..', 'hex')` on PostgreSQL.
        while let Some(start) = sql.find("BYTES(") {
            let end = start + sql[start..].find(')').unwrap();
            let hex = sql[start + 6..end].to_string();
            let literal = if postgres {
                format!("decode('{hex}', 'hex')")
            } else {
                format!("X'{hex}'")
            };
            sql.replace_range(start..=end, &literal);
        }
        sqlx::query(&sql).execute(&pool).await.unwrap();
    }
    pool.close().await;
}

async fn upgrade(url: &str, postgres: bool) {
    write_earlier_database(url, postgres).await;
    let store = Store::open(url).await.unwrap();
    let evm = HostchainId::new("evm-31337").unwrap();

    // Anchors and their transactions, newest first, under the one table.
    let anchor = store.open_anchors(&evm).await.unwrap().remove(0);
    assert_eq!(anchor.state, AnchorState::Broadcast);
    let txs = store.anchor_txs(&anchor).await.unwrap();
    let ids: Vec<&str> = txs.iter().map(|t| t.tx.id.as_str()).collect();
    assert_eq!(ids, ["tx-b", "tx-a"]);

    // The cursors: the scan's stays, the withdrawal intake's moved to its own table.
    assert_eq!(
        store.deposit_cursor(&evm).await.unwrap(),
        DepositCursor("12:0xab".into())
    );
    assert_eq!(store.withdrawal_cursor(&evm).await.unwrap(), Nonce::new(7));

    // Releases read typed; their transactions are split by purpose.
    let submitted = store.release(Nonce::new(1)).await.unwrap().unwrap();
    assert_eq!(submitted.state, ReleaseStep::Submitted);
    assert_eq!(submitted.report_hash, Some(Hash([0xab; 32])));
    assert_eq!(
        store.release_txs(&evm, Nonce::new(1)).await.unwrap().len(),
        1
    );
    let executing = store.release(Nonce::new(2)).await.unwrap().unwrap();
    assert_eq!(executing.state, ReleaseStep::Executing);
    let payment = store
        .host_txs(&evm, &TxPurpose::ExecuteQueued(Nonce::new(2)))
        .await
        .unwrap();
    assert_eq!(payment.len(), 1);
    assert_eq!(payment[0].tx.id, "exec-2");
    let release = store.release_txs(&evm, Nonce::new(2)).await.unwrap();
    assert_eq!(release.len(), 1);
    assert_eq!(release[0].tx.id, "rel-2");
    let lifted = store.release(Nonce::new(3)).await.unwrap().unwrap();
    assert_eq!(lifted.decision, Some(ScoutDecision::Lifted));
    assert_eq!(lifted.report_hash, None);
    let unroutable = store
        .deposits(Some(DepositState::Unroutable), 10, 0)
        .await
        .unwrap();
    assert_eq!(unroutable.len(), 1);
    assert!(unroutable[0].deposit().is_none());
    let report = store.report(&Hash([0xab; 32])).await.unwrap().unwrap();
    assert_eq!(report.nonce, Some(Nonce::new(1)));
    let workers = store.workers().await.unwrap();
    assert_eq!(workers[0].role, Role::Anchorer(evm.clone()));

    // It keeps working: the anchor becomes final and its batch anchored.
    store
        .move_anchor(&anchor, AnchorState::Final, Some("tx-b"), None, 6, "final")
        .await
        .unwrap();
    assert_eq!(
        store.batch(anchor.batch_id).await.unwrap().unwrap().state,
        BatchState::Anchored
    );
    store
        .set_withdrawal_cursor(&evm, Nonce::new(8))
        .await
        .unwrap();
    assert_eq!(store.withdrawal_cursor(&evm).await.unwrap(), Nonce::new(8));

    // A row that does not parse is named: table, row and column.
    drop(store);
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    sqlx::query("UPDATE releases SET state = 'lost' WHERE nonce = 3")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let store = Store::open(url).await.unwrap();
    let err = store.release(Nonce::new(3)).await.unwrap_err().to_string();
    assert!(
        err.contains("releases")
            && err.contains("nonce=3")
            && err.contains("state")
            && err.contains("lost"),
        "{err}"
    );
}

#[tokio::test]
async fn sqlite_database_of_the_earlier_version_opens_and_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("relayer.sqlite").display());
    upgrade(&url, false).await;
}

#[tokio::test]
async fn postgres_database_of_the_earlier_version_opens_and_keeps_working() {
    let pg = devnet::Postgres::start().await.unwrap();
    upgrade(pg.url(), true).await;
}

//! Bench `follow_and_store`: symbiote blocks followed and stored per second by the relayer's
//! follower (fetch from the node, light-client verification, `Store::store_block`), catching up
//! from zero against a real network, versus raw batched inserts of the same encoded blocks into
//! the same kind of store in the same run.
//!
//! Setup: a 4-validator symbiote (the workspace's `symbiote` binary, through the `devnet`
//! harness) with a short block interval runs until it has finalized `TARGET_BLOCKS` blocks (or
//! for `PRODUCE_FOR`, whichever comes first); then three validators are stopped, so that the
//! chain stops growing and the last one serves a fixed chain of N blocks with little noise.
//!
//! Each repetition times, over the same N blocks:
//! - the follower: `Follower::step` from an empty SQLite store (one `GET /v1/head`, then per
//!   block one `GET /v1/blocks/{h}/raw`, the transaction-root check, `verify_next` and
//!   `store_block`, one database transaction per block, as in production);
//! - its parts alone: fetching every block with the same node client; verifying every block
//!   with a light client in memory; `store_block` of every (already fetched) block into another
//!   empty store;
//! - baseline: the same encoded blocks inserted into an empty store of the same schema and the
//!   same connection settings (sqlx `Any` driver, the relayer's database URL), one transaction
//!   per `ROWS_PER_TX` rows; and again with one transaction per row, which shows what the
//!   commit of each block costs (the store uses SQLite's defaults: rollback journal,
//!   `synchronous = FULL`, so every commit waits for the disk).
//!
//! Run: `cargo build --release -p symbiote-node && cargo bench -p relayer --bench follow_and_store`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use devnet::symbiote::{NetworkOptions, SymbioteNetwork};
use relayer::metrics::Metrics;
use relayer::pipeline::follower::Follower;
use relayer::store::Store;
use sqlx::any::AnyPoolOptions;
use support::{Report, Timings};
use symbiote::block::ChainBlock;
use symbiote::client::NodeClient;
use symbiote::codec::Canonical;
use symbiote::genesis::Genesis;
use symbiote::light_client::LightClient;
use symbiote::types::Height;

/// The chain length the network is run to.
const TARGET_BLOCKS: u64 = 1_000;
/// The longest the network runs to produce them; the bench goes on with what it has then.
const PRODUCE_FOR: Duration = Duration::from_secs(60);
/// Fewer blocks than this is not worth measuring.
const MIN_BLOCKS: u64 = 100;
/// The proposer's block interval while the chain is produced.
const BLOCK_INTERVAL_MS: u64 = 10;
/// Repetitions of every measurement.
const REPS: usize = 3;
/// Rows per transaction of the raw-insert baseline.
const ROWS_PER_TX: usize = 1_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

/// A fresh, migrated store in `dir`, and its URL.
async fn fresh_store(dir: &Path, name: &str) -> (Store, String) {
    let url = format!("sqlite://{}", dir.join(name).display());
    (Store::open(&url).await.unwrap(), url)
}

/// Inserts `(height, hash, encoded block)` rows into `blocks`, `per_tx` rows per transaction.
async fn insert_blocks(pool: &sqlx::AnyPool, rows: &[(i64, Vec<u8>, Vec<u8>)], per_tx: usize) {
    let received_at = relayer::store::now_ms();
    for chunk in rows.chunks(per_tx) {
        let mut tx = pool.begin().await.unwrap();
        for (height, hash, finalized) in chunk {
            sqlx::query(
                "INSERT INTO blocks (height, hash, finalized, received_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(*height)
            .bind(hash.as_slice())
            .bind(finalized.as_slice())
            .bind(received_at)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }
}

async fn run() {
    let setup_started = Instant::now();
    let binary = support::symbiote_binary();
    let options = NetworkOptions {
        block_interval_ms: BLOCK_INTERVAL_MS,
        ..NetworkOptions::default()
    };
    let mut net = SymbioteNetwork::start(&binary, &options).await.unwrap();
    let node = NodeClient::new(&net.url(0));
    let producing = Instant::now();
    let mut last_note = Instant::now();
    loop {
        let height = node.head().await.unwrap().height.get();
        if height >= TARGET_BLOCKS || producing.elapsed() >= PRODUCE_FOR {
            break;
        }
        if last_note.elapsed() >= Duration::from_secs(10) {
            eprintln!("follow_and_store: the network is at height {height}");
            last_note = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Without a quorum the chain stops; validator 0 keeps serving it.
    for i in 1..net.len() {
        net.kill(i);
    }
    let produced_in = producing.elapsed();
    // A block whose quorum was complete before the stop may still land.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let blocks = node.head().await.unwrap().height.get();
    assert!(
        blocks >= MIN_BLOCKS,
        "the network finalized only {blocks} blocks in {}s",
        PRODUCE_FOR.as_secs()
    );
    let count = usize::try_from(blocks).unwrap();
    let genesis: Genesis =
        serde_json::from_str(&std::fs::read_to_string(net.genesis_path()).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let setup = setup_started.elapsed();

    let mut follow = Timings::default();
    let mut fetch = Timings::default();
    let mut verify = Timings::default();
    let mut store_only = Timings::default();
    let mut raw = Timings::default();
    let mut raw_per_row = Timings::default();
    let mut fetched: Vec<ChainBlock> = Vec::new();
    let mut encoded_len = 0;
    let mut journal = String::new();

    for rep in 0..REPS {
        // The follower from an empty store, as a relayer started from zero.
        let (store, _) = fresh_store(dir.path(), &format!("follow-{rep}.sqlite")).await;
        let follower = Follower {
            store,
            node: node.clone(),
            genesis: genesis.clone(),
            poll: Duration::from_millis(500),
            metrics: Metrics::new(),
        };
        let mut client = follower.light_client().await.unwrap();
        let started = Instant::now();
        let added = follower.step(&mut client).await.unwrap();
        follow.add_since(started, count);
        assert_eq!(added, blocks, "the follower caught up with the whole chain");

        // Fetching alone.
        let started = Instant::now();
        let mut these = Vec::with_capacity(count);
        for height in 1..=blocks {
            these.push(node.block(Height::new(height)).await.unwrap().unwrap());
        }
        fetch.add_since(started, count);
        if fetched.is_empty() {
            fetched = these;
        }

        // Verifying alone, in memory.
        let (_, genesis_header) = genesis.build().unwrap();
        let mut light = LightClient::new(genesis_header, genesis.validators.clone()).unwrap();
        let started = Instant::now();
        for block in &fetched {
            block.block.check_tx_root().unwrap();
            light
                .verify_next(&block.block.header, &block.certificate, None)
                .unwrap();
        }
        verify.add_since(started, count);

        // Storing alone, one transaction per block as the follower does.
        let (store, _) = fresh_store(dir.path(), &format!("store-{rep}.sqlite")).await;
        let started = Instant::now();
        for block in &fetched {
            store
                .store_block(block, &block.block.header, &genesis.validators)
                .await
                .unwrap();
        }
        store_only.add_since(started, count);
        drop(store);

        // Baseline: the same encoded blocks, inserted in batches.
        let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = fetched
            .iter()
            .map(|b| {
                (
                    i64::try_from(b.block.header.height.get()).unwrap(),
                    b.block.header.hash().as_bytes().to_vec(),
                    b.encode(),
                )
            })
            .collect();
        encoded_len = rows.iter().map(|r| r.2.len()).sum::<usize>() / count;
        let (store, url) = fresh_store(dir.path(), &format!("raw-{rep}.sqlite")).await;
        drop(store);
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&format!("{url}?mode=rwc"))
            .await
            .unwrap();
        if journal.is_empty() {
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&pool)
                .await
                .unwrap();
            let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&pool)
                .await
                .unwrap();
            journal = format!("journal_mode {mode}, synchronous {sync} (2 = FULL)");
        }
        let started = Instant::now();
        insert_blocks(&pool, &rows, ROWS_PER_TX).await;
        raw.add_since(started, count);
        pool.close().await;

        // The same with one transaction per row: what committing each block costs.
        let (store, url) = fresh_store(dir.path(), &format!("raw1-{rep}.sqlite")).await;
        drop(store);
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&format!("{url}?mode=rwc"))
            .await
            .unwrap();
        let started = Instant::now();
        insert_blocks(&pool, &rows, 1).await;
        raw_per_row.add_since(started, count);
        pool.close().await;
    }

    let mut report = Report::new("follow_and_store");
    report.note(format!(
        "4-validator symbiote ({}), block interval {BLOCK_INTERVAL_MS} ms: {blocks} blocks \
         finalized in {:.1} s, then frozen (3 validators stopped); encoded block {encoded_len} \
         bytes on average; setup {:.1} s; {REPS} repetitions over the same {blocks} blocks",
        binary.display(),
        produced_in.as_secs_f64(),
        setup.as_secs_f64()
    ));
    report.note(format!(
        "SQLite stores as the relayer opens them: {journal}"
    ));
    report.note(
        "machine shared with other builds and tests: absolute rates are loaded figures, the \
         ratios within this run are what compare",
    );
    report.note("times are per block:");
    report.timing(
        "follower catch-up from zero (fetch+verify+store)",
        &follow,
        "blocks",
    );
    report.timing(
        format!("baseline: raw inserts, {ROWS_PER_TX} rows per tx").as_str(),
        &raw,
        "blocks",
    );
    report.timing(
        "raw inserts, one transaction per row",
        &raw_per_row,
        "blocks",
    );
    report.note("the follower's parts, each alone:");
    report.timing("  fetch (GET /v1/blocks/{h}/raw, decode)", &fetch, "blocks");
    report.timing("  verify (tx root + light client)", &verify, "blocks");
    report.timing(
        "  store_block (one transaction per block)",
        &store_only,
        "blocks",
    );
    report.note("ratios of medians:");
    report.ratio(
        "follower / raw inserts  (time per block)",
        follow.median(),
        raw.median(),
    );
    report.ratio(
        "store_block alone / raw inserts",
        store_only.median(),
        raw.median(),
    );
    report.ratio(
        "store_block alone / raw inserts one per transaction",
        store_only.median(),
        raw_per_row.median(),
    );
    report.ratio(
        "fetch share of the follower",
        fetch.median(),
        follow.median(),
    );
    report.ratio(
        "verify share of the follower",
        verify.median(),
        follow.median(),
    );
    report.ratio(
        "store_block share of the follower",
        store_only.median(),
        follow.median(),
    );
    report.print();
}

//! Bench `start_to_ready`: the time from starting `relayer run` to the relayer being ready
//! with 1,000,000 stored blocks, and its resident memory while it runs, versus the same with an
//! empty store in the same run.
//!
//! Setup, in this process and without any node: a 4-validator genesis and one real finalized
//! block (an empty block with a quorum certificate, as an idle symbiote produces) are built with
//! the symbiote crate. A migrated SQLite store is filled with raw inserts generated inside
//! SQLite (`INSERT ... SELECT` over a recursive row counter, `ROWS_PER_TX` rows per
//! transaction): that encoded block under every height `1..=BLOCKS`, each with its own random
//! hash, and the follower's row (a header at the top height and the validator set).
//! A second phase adds what a relayer that batched and anchored those blocks would hold: one
//! batch per `BLOCKS_PER_BATCH` blocks (the default policy) in state `anchored`, each with a
//! `final` anchor on the configured EVM hostchain (the transitions history is left out: nothing
//! reads it at start or for the status). Before the second phase the batcher finds a million
//! unbatched blocks and fails, on every poll, to cut the first batch (the repeated block's
//! certificate is not for that batch's last hash): a small background load of that store.
//!
//! Each start spawns the relayer binary (`relayer run`: the configured EVM hostchain and the
//! symbiote node point at closed ports, so the relayer starts as it would with both down and
//! retries in the background) and polls, every `POLL`, until the API answers `/health` and then
//! `/v1/status` with the stored height: that is "ready" here (`/ready` also asks the symbiote
//! node, which this bench does not run). Then it times `/v1/status` calls, lets the relayer run
//! for `RUN_FOR` with a status and a metrics call every 100 ms, and reads `VmRSS` and `VmHWM`
//! from `/proc/<pid>/status`. Starts with the empty store (migrated beforehand, like the full
//! one) alternate with starts with the full store. The store's pages are in the page cache
//! (they were just written): these are warm starts.
//!
//! Run: `cargo bench -p relayer --bench start_to_ready`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::signers::local::PrivateKeySigner;
use devnet::ports;
use relayer::store::Store;
use serde_json::Value;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use support::{Report, Timings};
use symbiote::block::{Block, FinalizedBlock, HEADER_VERSION, Header, tx_root};
use symbiote::certificate::{QuorumBuilder, QuorumCertificate, sign_vote};
use symbiote::codec::Canonical;
use symbiote::commitment::{Aggregate, Commitment};
use symbiote::crypto::Keypair;
use symbiote::genesis::Genesis;
use symbiote::hash::Hash;
use symbiote::tx::{Relayer, RelayerSet, SignedTransaction};
use symbiote::types::{Height, HostchainId, TimestampMs};
use symbiote::validators::{Validator, ValidatorSet};

const RELAYER: &str = env!("CARGO_BIN_EXE_relayer");
/// Blocks in the full store.
const BLOCKS: u64 = 1_000_000;
/// Blocks per batch in the second phase (the default `batch.every_blocks`).
const BLOCKS_PER_BATCH: u64 = 10;
/// Rows per transaction of the fill.
const ROWS_PER_TX: u64 = 100_000;
/// Starts of each store per phase.
const STARTS: usize = 5;
/// How often readiness is polled.
const POLL: Duration = Duration::from_millis(2);
/// `/v1/status` calls timed after each start.
const STATUS_CALLS: usize = 20;
/// How long each started relayer runs before its memory is read.
const RUN_FOR: Duration = Duration::from_secs(2);
/// The longest a start may take before the bench gives up.
const TIMEOUT: Duration = Duration::from_secs(60);
const HOSTCHAIN: &str = "evm-31337";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

/// What the fill writes: a genesis and a realistic finalized block.
struct Template {
    /// The genesis the relayer is configured with.
    genesis: Genesis,
    /// The canonical encoding of a finalized block at height 1.
    block: Vec<u8>,
    /// Its certificate (also the one in the batches' commitments).
    certificate: QuorumCertificate,
    /// The follower's row: a header at height `BLOCKS`...
    follower_header: Vec<u8>,
    /// ...and the set that signs the next block.
    validators: Vec<u8>,
}

/// A genesis of 4 validators and block 1 on top of it, signed by all of them.
fn template() -> Template {
    let keys: Vec<Keypair> = (1..=4u8).map(|i| Keypair::from_seed(&[i; 32])).collect();
    let set = ValidatorSet::new(
        keys.iter()
            .map(|k| Validator {
                key: k.public(),
                weight: 1,
            })
            .collect(),
    )
    .unwrap();
    let genesis = Genesis {
        chain_name: "bench-start-to-ready".into(),
        timestamp: TimestampMs::new(1_700_000_000_000),
        validators: set.clone(),
        hostchains: vec![HostchainId::new(HOSTCHAIN).unwrap()],
        relayers: RelayerSet {
            members: vec![
                Relayer::new(
                    Keypair::from_seed(&[9; 32]).public(),
                    [("evm", &[9; 20][..])],
                )
                .unwrap(),
            ],
            threshold: 1,
        },
        balances: Vec::new(),
    };
    let (_, genesis_header) = genesis.build().unwrap();
    let header_at = |height: u64, parent: Hash| Header {
        version: HEADER_VERSION,
        symbiote: genesis.symbiote_id(),
        height: Height::new(height),
        parent,
        timestamp: TimestampMs::new(1_700_000_000_000 + height * 1_000),
        proposer: set.validators()[0].key,
        tx_root: tx_root::<SignedTransaction>(&[]).unwrap(),
        state_root: genesis_header.state_root,
        validator_set_hash: set.hash(),
        next_validator_set_hash: set.hash(),
    };
    let header = header_at(1, genesis_header.hash());
    let block_hash = header.hash();
    let mut quorum = QuorumBuilder::new(set.clone(), header.symbiote, header.height, block_hash);
    // Every validator signs, as on a healthy network.
    for key in &keys {
        let vote = sign_vote(key, &header.symbiote, header.height, &block_hash);
        quorum.add_vote(&key.public(), vote).unwrap();
    }
    let certificate = quorum.build().unwrap();
    let block = FinalizedBlock::<SignedTransaction> {
        block: Block {
            header,
            transactions: Vec::new(),
        },
        certificate: certificate.clone(),
    };
    block.verify(&set).unwrap();
    Template {
        block: block.encode(),
        certificate,
        follower_header: header_at(BLOCKS, Hash([7; 32])).encode(),
        validators: set.encode(),
        genesis,
    }
}

async fn connect(path: &Path) -> AnyPool {
    AnyPoolOptions::new()
        .max_connections(1)
        .connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap()
}

/// Runs `insert` (an `INSERT ... SELECT ... FROM h` over a table `h(n)` of row numbers) for
/// `n` in `1..=rows`, `ROWS_PER_TX` rows per statement, each statement its own transaction.
/// The rows are generated inside SQLite: filling a million rows takes seconds, not minutes.
async fn insert_rows(pool: &AnyPool, rows: u64, insert: &str, binds: &[&[u8]], now: i64) {
    let sql = format!(
        "WITH RECURSIVE h(n) AS (SELECT $1 UNION ALL SELECT n + 1 FROM h WHERE n < $2) {insert}"
    );
    let mut first = 1;
    while first <= rows {
        let last = rows.min(first + ROWS_PER_TX - 1);
        let mut query = sqlx::query(&sql)
            .bind(i64::try_from(first).unwrap())
            .bind(i64::try_from(last).unwrap())
            .bind(now);
        for bytes in binds {
            query = query.bind(*bytes);
        }
        query.execute(pool).await.unwrap();
        first = last + 1;
    }
}

/// The blocks (the template under every height, each with its own random hash) and the
/// follower's row.
async fn fill_blocks(path: &Path, template: &Template) {
    let pool = connect(path).await;
    insert_rows(
        &pool,
        BLOCKS,
        "INSERT INTO blocks (height, hash, finalized, received_at) \
         SELECT n, randomblob(32), $4, $3 FROM h",
        &[&template.block],
        relayer::store::now_ms(),
    )
    .await;
    sqlx::query("INSERT INTO follower (id, header, validators) VALUES (1, $1, $2)")
        .bind(template.follower_header.as_slice())
        .bind(template.validators.as_slice())
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

/// One `anchored` batch per `BLOCKS_PER_BATCH` blocks, each with a `final` anchor.
async fn fill_batches(path: &Path, template: &Template) {
    let symbiote = template.genesis.symbiote_id();
    let commitment = Commitment {
        symbiote,
        from: Height::new(1),
        to: Height::new(BLOCKS_PER_BATCH),
        blocks_root: Hash([3; 32]),
        validator_set_hash: template.genesis.validators.hash(),
        certificate: template.certificate.clone(),
    };
    let aggregate = Aggregate {
        commitments: vec![commitment.hash()],
    };
    let root = aggregate.root().as_bytes().to_vec();
    let batches = BLOCKS / BLOCKS_PER_BATCH;
    let now = relayer::store::now_ms();
    let pool = connect(path).await;
    insert_rows(
        &pool,
        batches,
        &format!(
            "INSERT INTO batches (id, from_height, to_height, commitment, aggregate, \
             aggregate_root, state, created_at) \
             SELECT n, (n - 1) * {BLOCKS_PER_BATCH} + 1, n * {BLOCKS_PER_BATCH}, $4, $5, $6, \
             'anchored', $3 FROM h"
        ),
        &[&commitment.encode(), &aggregate.encode(), &root],
        now,
    )
    .await;
    insert_rows(
        &pool,
        batches,
        &format!(
            "INSERT INTO anchors (batch_id, hostchain, sequence, state, tx_id, confirmations, \
             state_since) SELECT n, '{HOSTCHAIN}', n, 'final', printf('0x%064x', n), 1, $3 FROM h"
        ),
        &[],
        now,
    )
    .await;
    pool.close().await;
}

/// A `relayer run` process, killed when dropped.
struct Daemon {
    /// The process (its id names its `/proc` entry).
    child: Child,
    /// Its API's base URL.
    api: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one start measured.
struct Start {
    /// From the spawn to the first answer of `/health`.
    health: Duration,
    /// From the spawn to the first answer of `/v1/status`: ready.
    ready: Duration,
    /// Each timed `/v1/status` call.
    status: Vec<Duration>,
    /// Resident memory right after ready.
    rss_at_ready_kib: u64,
    /// Resident memory after `RUN_FOR` of running and answering calls.
    rss_kib: u64,
    /// The most resident memory the process had (`VmHWM`).
    peak_kib: u64,
}

/// Writes a configuration for the store at `database` and returns it.
fn write_config(dir: &Path, name: &str, database: &Path, port: u16) -> PathBuf {
    let closed = ports::free_port().unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"
[symbiote]
node_url = "http://127.0.0.1:{closed}"
genesis_file = "genesis.json"

[database]
url = "sqlite://{database}"

[api]
listen = "127.0.0.1:{port}"

[hostchains.{HOSTCHAIN}]
kind = "evm"
rpc_url = "http://127.0.0.1:{closed}"
chain_id = 31337
key_file = "evm.key"
anchor_contract = "0x00000000000000000000000000000000000000aa"
confirmations = 1
"#,
            database = database.display(),
        ),
    )
    .unwrap();
    path
}

/// Starts the relayer on `database` and measures it; `height` is the followed height its
/// status must show.
async fn start(dir: &Path, name: &str, database: &Path, height: u64) -> Start {
    let port = ports::free_port().unwrap();
    let config = write_config(dir, name, database, port);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{name}.log")))
        .unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let started = Instant::now();
    let child = Command::new(RELAYER)
        .arg("--config")
        .arg(&config)
        .arg("run")
        .env("RUST_LOG", "info,sqlx=warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut daemon = Daemon {
        child,
        api: format!("http://127.0.0.1:{port}"),
    };
    let pid = daemon.child.id();
    // A successful GET of `path`: its JSON body, or `Null` for a body that is not JSON.
    let ok = |path: &'static str| {
        let client = client.clone();
        let url = format!("{}{path}", daemon.api);
        async move {
            match client.get(&url).send().await {
                Ok(r) if r.status().is_success() => {
                    r.json::<Value>().await.ok().or(Some(Value::Null))
                }
                _ => None,
            }
        }
    };
    let health = loop {
        if ok("/health").await.is_some() {
            break started.elapsed();
        }
        assert!(
            daemon.child.try_wait().unwrap().is_none(),
            "the relayer exited; see {}",
            dir.join(format!("{name}.log")).display()
        );
        assert!(started.elapsed() < TIMEOUT, "no /health in time");
        tokio::time::sleep(POLL).await;
    };
    let ready = loop {
        if let Some(status) = ok("/v1/status").await {
            assert_eq!(status["followed_height"].as_u64(), Some(height), "{status}");
            break started.elapsed();
        }
        assert!(started.elapsed() < TIMEOUT, "no /v1/status in time");
        tokio::time::sleep(POLL).await;
    };
    let rss_at_ready_kib = support::proc_status_kib(pid, "VmRSS").unwrap_or_default();
    let mut status = Vec::with_capacity(STATUS_CALLS);
    for _ in 0..STATUS_CALLS {
        let started = Instant::now();
        ok("/v1/status").await.unwrap();
        status.push(started.elapsed());
    }
    let running = Instant::now();
    while running.elapsed() < RUN_FOR {
        ok("/v1/status").await.unwrap();
        client
            .get(format!("{}/metrics", daemon.api))
            .send()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rss_kib = support::proc_status_kib(pid, "VmRSS").unwrap_or_default();
    let peak_kib = support::proc_status_kib(pid, "VmHWM").unwrap_or_default();
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "the relayer exited"
    );
    drop(daemon);
    Start {
        health,
        ready,
        status,
        rss_at_ready_kib,
        rss_kib,
        peak_kib,
    }
}

/// The starts of one store.
#[derive(Default)]
struct Starts {
    /// Start to `/health`, per start.
    health: Timings,
    /// Start to ready, per start.
    ready: Timings,
    /// Every timed `/v1/status` call of every start.
    status: Timings,
    /// Resident memory at ready, per start.
    rss_at_ready_kib: Vec<u64>,
    /// Resident memory after running, per start.
    rss_kib: Vec<u64>,
    /// The highest peak of all starts.
    peak_kib: u64,
}

impl Starts {
    fn add(&mut self, start: Start) {
        self.health.add(start.health, 1);
        self.ready.add(start.ready, 1);
        for call in start.status {
            self.status.add(call, 1);
        }
        self.rss_at_ready_kib.push(start.rss_at_ready_kib);
        self.rss_kib.push(start.rss_kib);
        self.peak_kib = self.peak_kib.max(start.peak_kib);
    }

    fn report(&self, report: &mut Report, label: &str) {
        report.timing(
            &format!("{label}: start -> /health"),
            &self.health,
            "starts",
        );
        report.timing(
            &format!("{label}: start -> /v1/status (ready)"),
            &self.ready,
            "starts",
        );
        report.timing(
            &format!("{label}: one /v1/status call"),
            &self.status,
            "calls",
        );
        report.note(format!(
            "  {label}: resident memory at ready {} MiB, after {} s running {} MiB (medians), \
             peak {} MiB",
            mib(median(&self.rss_at_ready_kib)),
            RUN_FOR.as_secs(),
            mib(median(&self.rss_kib)),
            mib(self.peak_kib),
        ));
    }
}

fn median(values: &[u64]) -> u64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let template = template();
    std::fs::write(
        dir.path().join("genesis.json"),
        serde_json::to_string(&template.genesis).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("evm.key"),
        hex::encode(PrivateKeySigner::random().to_bytes()),
    )
    .unwrap();
    let empty = dir.path().join("empty.sqlite");
    let full = dir.path().join("full.sqlite");
    for path in [&empty, &full] {
        drop(
            Store::open(&format!("sqlite://{}", path.display()))
                .await
                .unwrap(),
        );
    }

    let started = Instant::now();
    fill_blocks(&full, &template).await;
    let fill_blocks_took = started.elapsed();
    let mut baseline = Starts::default();
    let mut blocks_only = Starts::default();
    for _ in 0..STARTS {
        baseline.add(start(dir.path(), "empty", &empty, 0).await);
        blocks_only.add(start(dir.path(), "blocks", &full, BLOCKS).await);
    }

    let started = Instant::now();
    fill_batches(&full, &template).await;
    let fill_batches_took = started.elapsed();
    let mut anchored = Starts::default();
    for _ in 0..STARTS {
        baseline.add(start(dir.path(), "empty", &empty, 0).await);
        anchored.add(start(dir.path(), "anchored", &full, BLOCKS).await);
    }
    let size = std::fs::metadata(&full)
        .map(|m| m.len())
        .unwrap_or_default();

    let mut report = Report::new("start_to_ready");
    report.note(format!(
        "relayer binary {RELAYER}; SQLite store of {BLOCKS} blocks ({} bytes each, encoded), \
         filled in {:.1} s; then {} anchored batches with a final anchor each, added in {:.1} s; \
         file {:.0} MiB; {STARTS} starts per store per phase, alternating with the empty store",
        template.block.len(),
        fill_blocks_took.as_secs_f64(),
        BLOCKS / BLOCKS_PER_BATCH,
        fill_batches_took.as_secs_f64(),
        size as f64 / 1024.0 / 1024.0,
    ));
    report.note(
        "ready = /health and /v1/status answer (the symbiote node and the EVM RPC are down on \
         purpose); warm page cache; machine shared with other builds and tests: absolute times \
         are loaded figures, the ratios to the empty store are what compare",
    );
    let blocks_label = format!("{BLOCKS} blocks");
    let full_label = format!("{BLOCKS} blocks + {} batches", BLOCKS / BLOCKS_PER_BATCH);
    baseline.report(&mut report, "empty store (baseline)");
    blocks_only.report(&mut report, &blocks_label);
    anchored.report(&mut report, &full_label);
    report.note("ratios of medians:");
    report.ratio(
        &format!("ready: {blocks_label} / empty"),
        blocks_only.ready.median(),
        baseline.ready.median(),
    );
    report.ratio(
        &format!("ready: {full_label} / empty"),
        anchored.ready.median(),
        baseline.ready.median(),
    );
    report.ratio(
        &format!("/v1/status: {blocks_label} / empty"),
        blocks_only.status.median(),
        baseline.status.median(),
    );
    report.ratio(
        &format!("/v1/status: {full_label} / empty"),
        anchored.status.median(),
        baseline.status.median(),
    );
    let memory = median(&anchored.rss_kib) as f64 / median(&baseline.rss_kib).max(1) as f64;
    report.note(format!(
        "  {:<60} = {memory:>9.2}",
        format!("resident memory after running: {full_label} / empty")
    ));
    report.print();
}

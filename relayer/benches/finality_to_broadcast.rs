//! Bench `finality_to_broadcast`: the latency from a symbiote block becoming final on the node
//! the relayer follows to the broadcast of the anchor that covers it, versus one RPC round trip
//! measured in the same run (`eth_blockNumber` to anvil, `GET /v1/head` to the symbiote node).
//!
//! Setup: a 4-validator symbiote (the workspace's `symbiote` binary, through the `devnet`
//! harness) with the EVM hostchain in its genesis, anvil (automine) with the anchor contract
//! deployed and the relayer's key funded, and the relayer running in this process
//! (`relayer::start`, SQLite store in a temporary folder) with batch policy
//! `every_blocks = max_blocks = 1`, so that every block is a batch of its own with one anchor,
//! and `confirmations = 1`, so that anchors become final as soon as they are mined and no open
//! anchor lingers in the anchorer's passes.
//!
//! The relayer runs twice on the same store, with every poll interval (follower, batcher,
//! anchorer) at each value of `POLLS_MS`. In each phase, once the relayer has caught up with the
//! node, the bench reads the node's block stream (`/v1/stream/blocks`, server-sent events) and
//! takes the moment each block's event arrives as its finality. For every block it then reads
//! from the relayer's store when the block was stored (`blocks.received_at`), when its batch was
//! cut (`batches.created_at`), and when its anchor was `prepared` and `broadcast` (the anchor's
//! transitions). Each of those is read from the clock just before the stage's database
//! transaction, so a stage's commit counts in the next stage. The stored times are whole
//! milliseconds (truncated; a short stage can read as zero); finality is read in microseconds.
//!
//! Run: `cargo build --release -p symbiote-node && cargo bench -p relayer --bench finality_to_broadcast`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use chain_adapters::evm::keys::RelayerKey;
use chain_adapters::evm::{EvmAdapter, EvmConfig, deploy};
use devnet::symbiote::{NetworkOptions, SymbioteNetwork};
use devnet::{Anvil, ports};
use relayer::config::Settings;
use relayer::store::{Entity, Store};
use serde_json::{Value, json};
use support::{Report, Timings};
use symbiote::client::NodeClient;
use symbiote::types::HostchainId;

/// The symbiote's block interval: long enough for each block to cross the pipeline before the
/// next one, so that the figure is the latency of one block, not a queue.
const BLOCK_INTERVAL_MS: u64 = 500;
/// The relayer's poll intervals (follower, batcher and anchorer alike), one phase each.
const POLLS_MS: [u64; 2] = [10, 50];
/// Blocks measured per phase, after `WARMUP` blocks that are not.
const BLOCKS: usize = 30;
const WARMUP: usize = 3;
/// Round trips of each baseline per phase.
const ROUND_TRIPS: usize = 100;
/// The longest wait for any one step before the bench gives up.
const TIMEOUT: Duration = Duration::from_secs(90);
const HOSTCHAIN: &str = "evm-31337";
const ETHER: u128 = 1_000_000_000_000_000_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

/// When each stage of the pipeline was done with one block: microseconds since the epoch.
struct BlockTimes {
    /// Its event arrived on the node's block stream.
    final_us: i64,
    /// The follower stored it (`blocks.received_at`).
    stored_us: i64,
    /// Its batch was cut (`batches.created_at`).
    batched_us: i64,
    /// Its anchor's transaction was prepared and stored (transition to `prepared`).
    prepared_us: i64,
    /// Its anchor was sent (transition to `broadcast`).
    broadcast_us: i64,
}

/// The measurements of one phase.
#[derive(Default)]
struct Phase {
    /// The relayer's poll intervals in this phase, in milliseconds.
    poll_ms: u64,
    /// The node's height when the relayer had caught up.
    caught_up_at: u64,
    /// The first and last measured heights.
    heights: (u64, u64),
    /// Finality on the node to the anchor's broadcast.
    latency: Timings,
    /// Finality to the block stored by the follower.
    follow: Timings,
    /// Stored to batch cut.
    batch: Timings,
    /// Batch cut to anchor transaction prepared and stored (anchorer poll and preparation).
    prepare: Timings,
    /// Prepared to broadcast (sending and recording it).
    send: Timings,
    /// `eth_blockNumber` to anvil through the EVM adapter's transport.
    evm_round_trip: Timings,
    /// `GET /v1/head` to the followed node through the relayer's node client.
    head_round_trip: Timings,
}

async fn run() {
    let setup_started = Instant::now();
    let binary = support::symbiote_binary();
    let options = NetworkOptions {
        hostchains: vec![HOSTCHAIN.into()],
        block_interval_ms: BLOCK_INTERVAL_MS,
        ..NetworkOptions::default()
    };
    let (net, anvil) = tokio::join!(SymbioteNetwork::start(&binary, &options), Anvil::start());
    let (net, anvil) = (net.unwrap(), anvil.unwrap());

    let relayer_key = PrivateKeySigner::random();
    let deployer_key = PrivateKeySigner::random();
    for key in [&relayer_key, &deployer_key] {
        anvil
            .set_balance(&key.address().to_string(), 100 * ETHER)
            .await
            .unwrap();
    }
    let deployer =
        deploy::deployer(anvil.rpc_url(), &RelayerKey::from_signer(deployer_key)).unwrap();
    let contract = deploy::deploy_anchor(&deployer, &[relayer_key.address()], 1)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("evm.key");
    std::fs::write(&key_file, hex::encode(relayer_key.to_bytes())).unwrap();
    let evm_config = EvmConfig::from_value(json!({
        "rpc_url": anvil.rpc_url(),
        "key_file": key_file,
        "chain_id": devnet::anvil::CHAIN_ID,
        "anchor_contract": contract.to_string(),
        "confirmations": 1,
    }))
    .unwrap();
    // The same adapter the relayer builds, for the EVM round trip.
    let evm = EvmAdapter::new(HostchainId::new(HOSTCHAIN).unwrap(), evm_config).unwrap();
    let node = NodeClient::new(&net.url(0));
    let setup = setup_started.elapsed();

    let mut phases = Vec::new();
    for poll_ms in POLLS_MS {
        let file = write_config(dir.path(), &net, &anvil, &contract.to_string(), poll_ms);
        let settings = Settings::load(&file).unwrap();
        let running = relayer::start(settings).await.unwrap();
        let store = running.store.clone();
        let caught_up_at = wait_caught_up(&node, &store).await;

        let finals = finality_events(&net.url(0), WARMUP + BLOCKS).await;
        let last = finals.last().map(|(h, _)| *h).unwrap();
        wait_broadcast(&store, last).await;

        let mut phase = Phase {
            poll_ms,
            caught_up_at,
            heights: (finals[WARMUP].0, last),
            ..Phase::default()
        };
        for &(height, final_us) in finals.iter().skip(WARMUP) {
            let t = block_times(&store, height, final_us).await;
            phase
                .latency
                .add(support::span_us(t.final_us, t.broadcast_us), 1);
            phase
                .follow
                .add(support::span_us(t.final_us, t.stored_us), 1);
            phase
                .batch
                .add(support::span_us(t.stored_us, t.batched_us), 1);
            phase
                .prepare
                .add(support::span_us(t.batched_us, t.prepared_us), 1);
            phase
                .send
                .add(support::span_us(t.prepared_us, t.broadcast_us), 1);
        }
        // The baselines, while the network and the relayer keep running as they did.
        let rpc = evm.provider();
        for _ in 0..ROUND_TRIPS {
            let started = Instant::now();
            rpc.get_block_number().await.unwrap();
            phase.evm_round_trip.add_since(started, 1);
            let started = Instant::now();
            node.head().await.unwrap();
            phase.head_round_trip.add_since(started, 1);
        }
        running.stop().await;
        phases.push(phase);
    }

    let mut report = Report::new("finality_to_broadcast");
    report.note(format!(
        "4-validator symbiote (block every {BLOCK_INTERVAL_MS} ms, {}), anvil (automine), \
         relayer in process on SQLite; every block its own batch and anchor; setup {:.1} s",
        binary.display(),
        setup.as_secs_f64()
    ));
    report.note(
        "machine shared with other builds and tests: absolute times are loaded figures, the \
         ratios to round trips in the same phase are what compare",
    );
    for phase in &phases {
        let (poll_ms, caught_up_at) = (phase.poll_ms, phase.caught_up_at);
        let (first, last) = phase.heights;
        report.note(format!(
            "--- poll interval {poll_ms} ms (follower, batcher, anchorer); caught up at height \
             {caught_up_at}; blocks {first}..={last} measured, {WARMUP} before them not"
        ));
        report.timing("finality -> anchor broadcast", &phase.latency, "blocks");
        report.timing(
            "eth_blockNumber round trip (anvil)",
            &phase.evm_round_trip,
            "calls",
        );
        report.timing(
            "GET /v1/head round trip (symbiote node)",
            &phase.head_round_trip,
            "calls",
        );
        report.note("  stages (medians are per stage; they need not add up to the total's):");
        report.timing(
            "  finality -> block stored (follower)",
            &phase.follow,
            "blocks",
        );
        report.timing("  stored -> batch cut (batcher)", &phase.batch, "blocks");
        report.timing(
            "  batch cut -> anchor tx prepared (anchorer)",
            &phase.prepare,
            "blocks",
        );
        report.timing(
            "  prepared -> broadcast (send + record)",
            &phase.send,
            "blocks",
        );
        report.ratio(
            "latency / eth_blockNumber round trip (medians)",
            phase.latency.median(),
            phase.evm_round_trip.median(),
        );
        report.ratio(
            "latency / GET /v1/head round trip (medians)",
            phase.latency.median(),
            phase.head_round_trip.median(),
        );
        report.ratio(
            "latency / poll interval (medians)",
            phase.latency.median(),
            Duration::from_millis(poll_ms),
        );
    }
    // What the polls cost, from the phases' difference: the median latency as a line in the
    // poll interval, whose slope is the waiting and whose intercept is the work itself.
    if let (Some(first), Some(last)) = (phases.first(), phases.last())
        && last.poll_ms > first.poll_ms
    {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let (p1, l1) = (first.poll_ms as f64, ms(first.latency.median()));
        let (p2, l2) = (last.poll_ms as f64, ms(last.latency.median()));
        let slope = (l2 - l1) / (p2 - p1);
        let work = l1 - slope * p1;
        report.note(format!(
            "--- from {} to {} ms of poll interval the median latency grows {slope:.2} ms per ms: \
             waiting for polls is {:.0}% of it at {} ms and {:.0}% at {} ms; the rest, \
             {work:.1} ms (the intercept), is the work itself: fetching and verifying the \
             block, the SQLite commits of each stage, preparing and sending the anchor",
            first.poll_ms,
            last.poll_ms,
            100.0 * slope * p1 / l1,
            first.poll_ms,
            100.0 * slope * p2 / l2,
            last.poll_ms,
        ));
    }
    report.print();
}

/// The relayer's configuration for one phase, written next to the key and the store.
fn write_config(
    dir: &Path,
    net: &SymbioteNetwork,
    anvil: &Anvil,
    contract: &str,
    poll_ms: u64,
) -> std::path::PathBuf {
    let port = ports::free_port().unwrap();
    let path = dir.join(format!("relayer-{poll_ms}ms.toml"));
    std::fs::write(
        &path,
        format!(
            r#"
[symbiote]
node_url = "{node}"
genesis_file = "{genesis}"
poll_interval_ms = {poll_ms}

[database]
url = "sqlite://{database}"

[api]
listen = "127.0.0.1:{port}"

[batch]
every_blocks = 1
every_seconds = 1
max_blocks = 1

[anchoring]
poll_interval_ms = {poll_ms}

[hostchains.{HOSTCHAIN}]
kind = "evm"
rpc_url = "{evm}"
chain_id = {chain_id}
key_file = "evm.key"
anchor_contract = "{contract}"
confirmations = 1
"#,
            node = net.url(0),
            genesis = net.genesis_path().display(),
            database = dir.join("relayer.sqlite").display(),
            evm = anvil.rpc_url(),
            chain_id = devnet::anvil::CHAIN_ID,
        ),
    )
    .unwrap();
    path
}

/// The state of the anchor covering `height`, if its batch is cut.
async fn anchor_state(store: &Store, height: u64) -> Option<String> {
    let batch = store.batch_containing(height).await.unwrap()?;
    let anchors = store.anchors(Some(batch.id), 10).await.unwrap();
    anchors
        .into_iter()
        .find(|a| a.hostchain.as_str() == HOSTCHAIN)
        .map(|a| a.state.as_str().to_string())
}

fn is_sent(state: Option<&str>) -> bool {
    matches!(state, Some("broadcast" | "included" | "final"))
}

/// Waits until the anchor covering the node's head has been sent; returns that height.
async fn wait_caught_up(node: &NodeClient, store: &Store) -> u64 {
    let started = Instant::now();
    loop {
        let head = node.head().await.unwrap().height.get();
        if is_sent(anchor_state(store, head).await.as_deref()) {
            return head;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "the relayer did not catch up with the node (head {head}) in {}s",
            TIMEOUT.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the anchor covering `height` has been sent.
async fn wait_broadcast(store: &Store, height: u64) {
    let started = Instant::now();
    while !is_sent(anchor_state(store, height).await.as_deref()) {
        assert!(
            started.elapsed() < TIMEOUT,
            "the anchor of block {height} was not sent in {}s",
            TIMEOUT.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads the node's block stream from the next block on; returns `count` blocks with the time
/// each one's event arrived (microseconds since the epoch).
async fn finality_events(node_url: &str, count: usize) -> Vec<(u64, i64)> {
    let client = reqwest::Client::new();
    let mut response = client
        .get(format!("{node_url}/v1/stream/blocks"))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let mut buffer = String::new();
    let mut events = Vec::new();
    let started = Instant::now();
    while events.len() < count {
        let chunk = tokio::time::timeout(TIMEOUT, response.chunk())
            .await
            .expect("no block event in time")
            .unwrap()
            .expect("the block stream ended");
        let arrived = support::now_us();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        // Events end with a blank line; a chunk may hold several or part of one.
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let Some(data) = event.lines().find_map(|l| l.strip_prefix("data:")) else {
                continue;
            };
            let value: Value = serde_json::from_str(data.trim()).unwrap();
            events.push((value["height"].as_u64().unwrap(), arrived));
        }
        assert!(started.elapsed() < TIMEOUT * 2, "block stream too slow");
    }
    events.truncate(count);
    events
}

/// When each stage was done with block `height`, from the relayer's store.
async fn block_times(store: &Store, height: u64, final_us: i64) -> BlockTimes {
    let ms = |at: i64| at * 1000;
    let batch = store.batch_containing(height).await.unwrap().unwrap();
    assert_eq!(
        (batch.from_height, batch.to_height),
        (height, height),
        "every block is a batch of its own"
    );
    let anchor = store
        .anchors(Some(batch.id), 10)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.hostchain.as_str() == HOSTCHAIN)
        .unwrap();
    let history = store
        .transitions(Entity::Anchor, anchor.id.0)
        .await
        .unwrap();
    let first = |state: &str| {
        history
            .iter()
            .find(|t| t.to == state)
            .map(|t| t.at)
            .unwrap_or_else(|| panic!("anchor {} never {state}: {history:?}", anchor.id))
    };
    BlockTimes {
        final_us,
        stored_us: ms(store.received_at(height).await.unwrap().unwrap()),
        batched_us: ms(batch.created_at),
        prepared_us: ms(first("prepared")),
        broadcast_us: ms(first("broadcast")),
    }
}

//! Bench `bridge_deposits`: EVM bridge deposits followed end to end by the relayer's deposit
//! stage (scanned on anvil, stored, attested on the symbiote, followed until minted) per
//! second, versus a bare `eth_getLogs` plus `Deposited::decode_log` loop over the same blocks in
//! the same run.
//!
//! Setup: a 4-validator symbiote (the workspace's `symbiote` binary, through the `devnet`
//! harness) whose relayer set is one relayer with threshold 1, so that the inclusion of an
//! `Attest` transaction mints what it lists; anvil with the bridge and an anchor contract (that
//! relayer's EVM address as their relayer set). Each round makes `DEPOSITS` new deposits, half
//! native and half ERC-20, from `DEPOSITORS` keys, `PER_BLOCK` per block (automine off: signed
//! locally with explicit nonces, then a block mined), each naming a valid symbiote account;
//! then mines past the confirmation depth.
//!
//! Each round, over its own blocks:
//! - end to end: a `DepositStage` on a fresh SQLite store, stepped back to back (production
//!   waits `poll_interval_ms` between steps; this loop does not), timed from the first step
//!   until every deposit is `minted` in the store, and until the last one was minted on the
//!   symbiote (the end of the step whose `Attest` left nothing `seen`). A step is `scan` then
//!   `attest`, exactly `DepositStage::step`, called as its two halves so that each is timed;
//! - baseline: `eth_getLogs` for `Deposited` over the same blocks, `deposit_range` blocks per
//!   call as the adapter does, and `decode_log` of every log, through the adapter's own
//!   provider; `REPS` times;
//! - the stage's parts alone, to split its time: the adapter's `scan_deposits` cursor loop
//!   (`REPS` times); the store writes (`record_scan`, then `move_deposits` in the stage's
//!   batches) on another fresh store; the node's deposit lookup, on every deposit.
//!
//! At the end, publishing alone: the stage's `Publisher` (submit, then poll until the
//! transaction is in a finalized block) on `Attest` transactions of minted deposits, which the
//! symbiote accepts and ignores.
//!
//! Run: `cargo build --release -p symbiote-node && cargo bench -p relayer --bench bridge_deposits`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::eips::Encodable2718;
use alloy::network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::Filter;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use alloy::sol_types::SolEvent;
use chain_adapters::evm::bindings::{SymbioteAnchor, SymbioteBridge};
use chain_adapters::evm::{EvmAdapter, EvmConfig};
use chain_adapters::{DepositCursor, DepositWatcher, ObservedDeposit};
use devnet::Anvil;
use devnet::symbiote::{NetworkOptions, SymbioteNetwork};
use relayer::bridge::BridgeContext;
use relayer::bridge::deposits::DepositStage;
use relayer::bridge::publisher::Publisher;
use relayer::config::BridgeSection;
use relayer::metrics::Metrics;
use relayer::pipeline::follower::Follower;
use relayer::retry::RetryPolicy;
use relayer::scout::ScoutPolicy;
use relayer::store::{DepositState, Store};
use relayer::verified::VerifiedNode;
use serde_json::{Value, json};
use support::{Report, Timings};
use symbiote::client::NodeClient;
use symbiote::crypto::Keypair;
use symbiote::hash::Hash;
use symbiote::tx::{Deposit, MAX_BATCH_ENTRIES, Transaction};
use symbiote::types::{HostchainId, SymbioteId};
use tempfile::TempDir;

sol!(
    #[sol(rpc)]
    PlainToken,
    "../contracts/artifacts/PlainToken.json"
);

/// The hostchain, as named in the symbiote's genesis.
const HOSTCHAIN: &str = "evm-31337";
/// The relayer's retry policy with its default backoff.
const RETRY: RetryPolicy = RetryPolicy {
    first: Duration::from_secs(1),
    cap: Duration::from_secs(60),
    give_up_after: Some(5),
};

fn hostchain() -> HostchainId {
    HostchainId::new(HOSTCHAIN).unwrap()
}
/// Deposits made per round.
const DEPOSITS: usize = 500;
/// Deposits per mined block.
const PER_BLOCK: usize = 25;
/// Keys that make them, each with its own nonces.
const DEPOSITORS: usize = 8;
/// End-to-end rounds, each with new deposits in new blocks and a fresh store.
const ROUNDS: usize = 2;
/// Repetitions of the baseline and of the adapter's scan alone, per round.
const REPS: usize = 5;
/// The adapter's confirmation depth.
const CONFIRMATIONS: u64 = 3;
/// The proposer's block interval.
const BLOCK_INTERVAL_MS: u64 = 100;
/// Timed publishes of each size.
const PUBLISHES: usize = 8;
/// The longest one end-to-end round may take.
const ROUND_TIMEOUT: Duration = Duration::from_secs(300);
/// Gas limit of a deposit: far above what either kind uses (a deposit that failed would be
/// missing from the logs, which every scan checks).
const DEPOSIT_GAS: u64 = 300_000;
/// Fee caps of the deposit transactions.
const MAX_FEE: u128 = 100_000_000_000;
const PRIORITY_FEE: u128 = 1_000_000_000;
const ETHER: u128 = 1_000_000_000_000_000_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

/// Anvil with the contracts and the funded depositors.
struct Evm {
    /// The node (automine off once the setup is done).
    anvil: Anvil,
    /// Deploys, mints, and reads the chain.
    deployer: DynProvider,
    /// Sends the pre-signed deposits: no fillers, every field is set explicitly.
    plain: DynProvider,
    bridge: Address,
    anchor: Address,
    /// The ERC-20 half of the deposits is of this token.
    token: Address,
    depositors: Vec<PrivateKeySigner>,
    /// Each depositor's next nonce.
    nonces: Vec<u64>,
    /// Valid symbiote accounts the deposits name.
    recipients: Vec<B256>,
    chain_id: u64,
}

/// One round's deposits on anvil.
struct Round {
    /// The first block that may hold them (the scans' start).
    start: u64,
    /// The last block holding one.
    last: u64,
    /// The head once past the confirmation depth.
    head: u64,
}

fn wallet(anvil: &Anvil, key: PrivateKeySigner) -> DynProvider {
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(key))
        .connect_http(anvil.rpc_url().parse().unwrap())
        .erased()
}

async fn funded_key(anvil: &Anvil) -> PrivateKeySigner {
    let key = PrivateKeySigner::random();
    let address = key.address().to_string();
    anvil.set_balance(&address, 1_000 * ETHER).await.unwrap();
    key
}

async fn send<P: Provider, D: alloy::contract::CallDecoder>(
    call: alloy::contract::CallBuilder<P, D>,
) {
    let receipt = call.send().await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "transaction reverted: {receipt:?}");
}

impl Evm {
    /// Deploys the contracts (relayer set: `relayer`, threshold 1) and funds the depositors
    /// with coins and approved tokens; automine is off afterwards.
    async fn setup(anvil: Anvil, relayer: Address) -> Evm {
        let deployer = wallet(&anvil, funded_key(&anvil).await);
        let one = U256::from(1);
        let bridge = SymbioteBridge::deploy(&deployer, vec![relayer], one);
        let bridge = *bridge.await.unwrap().address();
        let anchor = SymbioteAnchor::deploy(&deployer, vec![relayer], one);
        let anchor = *anchor.await.unwrap().address();
        let token = PlainToken::deploy(&deployer, "Plain".into(), "PLN".into());
        let token = *token.await.unwrap().address();
        let mut depositors = Vec::new();
        let mut nonces = Vec::new();
        for _ in 0..DEPOSITORS {
            let key = funded_key(&anvil).await;
            send(PlainToken::new(token, &deployer).mint(key.address(), U256::from(ETHER))).await;
            let own = wallet(&anvil, key.clone());
            send(PlainToken::new(token, &own).approve(bridge, U256::MAX)).await;
            nonces.push(own.get_transaction_count(key.address()).await.unwrap());
            depositors.push(key);
        }
        anvil.call("evm_setAutomine", json!([false])).await.unwrap();
        let plain = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_http(anvil.rpc_url().parse().unwrap())
            .erased();
        Evm {
            chain_id: anvil.chain_id().await.unwrap(),
            anvil,
            deployer,
            plain,
            bridge,
            anchor,
            token,
            depositors,
            nonces,
            recipients: (0..16)
                .map(|_| B256::from(Keypair::generate().public().to_bytes()))
                .collect(),
        }
    }

    /// Sends deposit `n` of a round: native when `n` is even, ERC-20 when odd.
    async fn send_deposit(&mut self, n: usize) {
        let k = n % self.depositors.len();
        let recipient = self.recipients[n % self.recipients.len()];
        let amount = U256::from(1_000 + n);
        let contract = SymbioteBridge::new(self.bridge, &self.plain);
        let request = if n.is_multiple_of(2) {
            let call = contract.depositNative(recipient).value(amount);
            call.into_transaction_request()
        } else {
            let call = contract.depositToken(self.token, amount, recipient);
            call.into_transaction_request()
        }
        .with_nonce(self.nonces[k])
        .with_gas_limit(DEPOSIT_GAS)
        .with_max_fee_per_gas(MAX_FEE)
        .with_max_priority_fee_per_gas(PRIORITY_FEE)
        .with_chain_id(self.chain_id);
        self.nonces[k] += 1;
        let wallet = EthereumWallet::from(self.depositors[k].clone());
        let envelope = request.build(&wallet).await.unwrap();
        // Not watched: `make_round` checks that every deposit is included.
        let raw = envelope.encoded_2718();
        let _pending = self.plain.send_raw_transaction(&raw).await.unwrap();
    }

    /// Makes `DEPOSITS` deposits, `PER_BLOCK` per block, and mines past the confirmation depth.
    async fn make_round(&mut self) -> Round {
        let start = self.deployer.get_block_number().await.unwrap() + 1;
        for n in 0..DEPOSITS {
            self.send_deposit(n).await;
            if (n + 1).is_multiple_of(PER_BLOCK) || n + 1 == DEPOSITS {
                self.anvil.mine(1).await.unwrap();
            }
        }
        // Whatever did not fit goes into further blocks.
        for extra in 0.. {
            let mut pending = 0;
            for (key, nonce) in self.depositors.iter().zip(&self.nonces) {
                let count = self.deployer.get_transaction_count(key.address());
                pending += nonce - count.latest().await.unwrap();
            }
            if pending == 0 {
                break;
            }
            assert!(extra < 20, "{pending} deposits still not mined");
            self.anvil.mine(1).await.unwrap();
        }
        let last = self.deployer.get_block_number().await.unwrap();
        self.anvil.mine(CONFIRMATIONS).await.unwrap();
        let head = self.deployer.get_block_number().await.unwrap();
        Round { start, last, head }
    }

    /// The adapter's configuration section for scans from `start`.
    fn adapter_config(&self, key_file: &Path, start: u64) -> Value {
        json!({
            "rpc_url": self.anvil.rpc_url(),
            "key_file": key_file,
            "chain_id": self.chain_id,
            "anchor_contract": self.anchor.to_string(),
            "bridge_contract": self.bridge.to_string(),
            "confirmations": CONFIRMATIONS,
            "deposit_start_block": start,
        })
    }
}

/// Deposit counts of a store: seen, attested, minted.
async fn counts(store: &Store) -> [u64; 3] {
    let mut counts = [0; 3];
    for (_, state, n) in store.deposit_counts().await.unwrap() {
        match state {
            DepositState::Seen => counts[0] += n,
            DepositState::Attested => counts[1] += n,
            DepositState::Minted => counts[2] += n,
            DepositState::Unroutable => {}
        }
    }
    counts
}

/// One step of the stage.
struct StepLog {
    scan: Duration,
    attest: Duration,
    /// New deposits the scan stored.
    added: u64,
    /// Node deposit lookups the attest half made: one per `attested` deposit and per `seen`
    /// one it listed.
    lookups: u64,
    /// Whether it published an `Attest` transaction.
    published: bool,
    minted: u64,
}

/// One end-to-end round.
struct EndToEnd {
    /// First step to the last deposit minted on the symbiote.
    to_symbiote: Duration,
    /// First step to the last deposit `minted` in the store.
    to_store: Duration,
    steps: Vec<StepLog>,
    /// Failed halves (the loop goes on at once).
    errors: usize,
    /// Symbiote blocks produced meanwhile.
    blocks: u64,
}

/// Steps `stage` back to back until every deposit is `minted` in `store`.
async fn follow_to_minted(
    stage: &DepositStage,
    follower: &Follower,
    store: &Store,
    node: &NodeClient,
) -> EndToEnd {
    let first_height = node.head().await.unwrap().height.get();
    let all = DEPOSITS as u64;
    let (mut steps, mut errors, mut to_symbiote) = (Vec::new(), 0, None);
    let started = Instant::now();
    loop {
        let t = Instant::now();
        let added = stage.scan().await.unwrap_or_else(|e| {
            eprintln!("bridge_deposits: scan failed: {e}");
            errors += 1;
            0
        });
        let scan = t.elapsed();
        let [seen, attested, _] = counts(store).await;
        let t = Instant::now();
        // The stage reads the state of the blocks its follower verified.
        let mut client = follower.light_client().await.unwrap();
        if let Err(e) = follower.step(&mut client).await {
            eprintln!("bridge_deposits: follow failed: {e}");
            errors += 1;
        }
        if let Err(e) = stage.attest().await {
            eprintln!("bridge_deposits: attest failed: {e}");
            errors += 1;
        }
        let attest = t.elapsed();
        let [seen_after, attested_after, minted] = counts(store).await;
        steps.push(StepLog {
            scan,
            attest,
            added,
            lookups: attested + seen.min(MAX_BATCH_ENTRIES as u64),
            published: seen_after < seen,
            minted,
        });
        // Threshold 1: once nothing is left to attest, the last `Attest` is in a block, and
        // with it every mint.
        if to_symbiote.is_none() && seen_after == 0 && attested_after + minted == all {
            to_symbiote = Some(started.elapsed());
        }
        if minted == all {
            break;
        }
        let waited = started.elapsed();
        assert!(
            waited < ROUND_TIMEOUT,
            "{minted} of {all} minted after {waited:?}"
        );
    }
    let to_store = started.elapsed();
    EndToEnd {
        to_symbiote: to_symbiote.unwrap_or(to_store),
        to_store,
        steps,
        errors,
        blocks: node.head().await.unwrap().height.get() - first_height,
    }
}

/// What every measurement uses.
struct Bench {
    evm: Evm,
    node: NodeClient,
    symbiote: SymbioteId,
    /// The genesis relayer's symbiote key (`relayer-0.key`): it attests.
    key: Arc<Keypair>,
    /// That relayer's EVM key file (`relayer-0.evm.key`), for the adapter.
    evm_key_file: PathBuf,
    /// The symbiote's genesis: the trusted start of each stage's follower.
    genesis: symbiote::genesis::Genesis,
    /// Holds the stores.
    dir: TempDir,
}

/// Every measurement's samples.
#[derive(Default)]
struct Measured {
    /// End to end, per deposit: to the last `minted` in the store, and on the symbiote.
    to_store: Timings,
    to_symbiote: Timings,
    /// Baseline: bare `eth_getLogs` and decode, per deposit.
    bare: Timings,
    /// The stage's parts alone: the adapter's scan and the store writes per deposit, the
    /// node's deposit lookup per call.
    scan_alone: Timings,
    record_scan: Timings,
    moves: Timings,
    lookups: Timings,
    /// Publishing an `Attest` of one entry and of a full batch, per transaction.
    publish_one: Timings,
    publish_batch: Timings,
}

impl Bench {
    /// A fresh store in the bench's directory.
    async fn store(&self, name: &str) -> Store {
        let path = self.dir.path().join(format!("{name}.sqlite"));
        let url = format!("sqlite://{}", path.display());
        Store::open(&url).await.unwrap()
    }

    /// A deposit stage on a fresh store, stepped until every deposit of the round is minted;
    /// then every deposit is looked up on the node (each lookup timed).
    async fn end_to_end(&self, config: &Value, name: &str, m: &mut Measured) -> EndToEnd {
        let store = self.store(name).await;
        let hostchain = HostchainId::new(HOSTCHAIN).unwrap();
        let adapter = chain_adapters::build("evm", hostchain, config.clone());
        let metrics = Metrics::new();
        let follower = Follower {
            store: store.clone(),
            node: self.node.clone(),
            genesis: self.genesis.clone(),
            poll: Duration::from_millis(50),
            metrics: metrics.clone(),
        };
        let state = VerifiedNode::new(
            self.node.clone(),
            store.clone(),
            metrics.clone(),
            &self.genesis.header().unwrap(),
        );
        let ctx = BridgeContext::new(
            store.clone(),
            state,
            self.symbiote,
            self.key.clone(),
            ScoutPolicy::default(),
            BridgeSection::default(),
            Default::default(),
            metrics,
            RETRY,
        );
        let stage = DepositStage {
            ctx: Arc::new(ctx),
            hostchain: HostchainId::new(HOSTCHAIN).unwrap(),
            adapter: adapter.await.unwrap(),
        };
        let e2e = follow_to_minted(&stage, &follower, &store, &self.node).await;
        m.to_store.add(e2e.to_store, DEPOSITS);
        m.to_symbiote.add(e2e.to_symbiote, DEPOSITS);

        let rows = store
            .deposits_in(&stage.hostchain, DepositState::Minted, 10_000)
            .await
            .unwrap();
        assert_eq!(rows.len(), DEPOSITS);
        for row in &rows {
            let id = row.deposit_id();
            let t = Instant::now();
            let reply = self.node.deposit(&id).await.unwrap();
            m.lookups.add_since(t, 1);
            assert!(reply.minted, "deposit {id:?} is not minted on the symbiote");
        }
        e2e
    }

    /// The stage's store writes alone on a fresh store, in the stage's batches: the scan's
    /// deposits stored, then moved from `seen` to `attested` to `minted`.
    async fn store_writes(&self, name: &str, observed: &[ObservedDeposit], m: &mut Measured) {
        let store = self.store(name).await;
        let t = Instant::now();
        let cursor = DepositCursor("bench".into());
        store
            .record_scan(&hostchain(), observed, &cursor)
            .await
            .unwrap();
        m.record_scan.add_since(t, observed.len());
        let rows = store
            .deposits_in(&hostchain(), DepositState::Seen, 10_000)
            .await
            .unwrap();
        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        let t = Instant::now();
        for chunk in ids.chunks(MAX_BATCH_ENTRIES) {
            let tx = Hash([7; 32]);
            let attested = (DepositState::Seen, DepositState::Attested, Some(&tx));
            let minted = (DepositState::Attested, DepositState::Minted, None);
            for (from, to, tx) in [attested, minted] {
                let moved = store.move_deposits(chunk, from, to, tx, "bench");
                moved.await.unwrap();
            }
        }
        m.moves.add_since(t, ids.len());
        assert_eq!(counts(&store).await[2], observed.len() as u64);
    }

    /// Publishing alone: `Attest` transactions of minted deposits (the symbiote accepts them
    /// and changes nothing), of one entry and of a full batch, alternately.
    async fn publishing(&self, minted: &[Deposit], m: &mut Measured) {
        let timeout = Duration::from_secs(30);
        let publisher = Publisher::new(self.node.clone(), self.symbiote, self.key.clone(), timeout);
        let batch = &minted[..MAX_BATCH_ENTRIES.min(minted.len())];
        for _ in 0..PUBLISHES {
            for (deposits, timings) in [
                (&batch[..1], &mut m.publish_one),
                (batch, &mut m.publish_batch),
            ] {
                let body = Transaction::Attest {
                    deposits: deposits.to_vec(),
                };
                let t = Instant::now();
                publisher.publish(body).await.unwrap();
                timings.add_since(t, 1);
            }
        }
    }
}

/// `REPS` times over the round's blocks: the baseline (bare `eth_getLogs` over `ranges`,
/// `decode_log` of every log) and the adapter's `scan_deposits` cursor loop, through the same
/// provider; returns what the scan found.
async fn bare_and_scan(
    reader: &EvmAdapter,
    bridge: Address,
    ranges: &[(u64, u64)],
    m: &mut Measured,
) -> Vec<ObservedDeposit> {
    let mut observed = Vec::new();
    for _ in 0..REPS {
        let t = Instant::now();
        let mut decoded = 0;
        for &(from, to) in ranges {
            let filter = Filter::new()
                .address(bridge)
                .event_signature(SymbioteBridge::Deposited::SIGNATURE_HASH)
                .from_block(from)
                .to_block(to);
            for log in reader.provider().get_logs(&filter).await.unwrap() {
                let event = SymbioteBridge::Deposited::decode_log(&log.inner).unwrap();
                std::hint::black_box(event);
                decoded += 1;
            }
        }
        m.bare.add_since(t, decoded);
        assert_eq!(decoded, DEPOSITS, "the bare loop found every deposit");

        let watcher: &dyn DepositWatcher = reader;
        let t = Instant::now();
        let mut cursor = DepositCursor::default();
        observed.clear();
        loop {
            let scan = watcher.scan_deposits(&cursor).await.unwrap();
            observed.extend(scan.deposits);
            if scan.next == cursor {
                break;
            }
            cursor = scan.next;
        }
        m.scan_alone.add_since(t, observed.len());
        assert_eq!(observed.len(), DEPOSITS, "the adapter found every deposit");
    }
    observed
}

async fn run() {
    let setup_started = Instant::now();
    let binary = support::symbiote_binary();
    let options = NetworkOptions {
        hostchains: vec![HOSTCHAIN.into()],
        relayers: 1,
        relayer_threshold: 1,
        block_interval_ms: BLOCK_INTERVAL_MS,
        ..NetworkOptions::default()
    };
    // An anvil of its own: the bench turns automine off.
    let (net, anvil) = tokio::join!(SymbioteNetwork::start(&binary, &options), Anvil::spawn());
    let (net, anvil) = (net.unwrap(), anvil.unwrap());
    let node = NodeClient::new(&net.url(0));
    let evm_key_file = net.dir().join("relayer-0.evm.key");
    let evm_key = std::fs::read_to_string(&evm_key_file).unwrap();
    let relayer_evm = PrivateKeySigner::from_str(evm_key.trim()).unwrap();
    let mut bench = Bench {
        evm: Evm::setup(anvil, relayer_evm.address()).await,
        symbiote: node.node_info().await.unwrap().symbiote,
        node,
        key: Arc::new(symbiote::keyfile::read(&net.dir().join("relayer-0.key")).unwrap()),
        evm_key_file,
        genesis: serde_json::from_str(&std::fs::read_to_string(net.genesis_path()).unwrap())
            .unwrap(),
        dir: tempfile::tempdir().unwrap(),
    };
    let setup = setup_started.elapsed();

    let mut m = Measured::default();
    let (mut rounds, mut minted, mut deposit_range) = (Vec::new(), Vec::new(), 0);
    for r in 0..ROUNDS {
        let round = bench.evm.make_round().await;
        let config = bench.evm.adapter_config(&bench.evm_key_file, round.start);
        // End to end first, on blocks no scan has read yet.
        let e2e = bench.end_to_end(&config, &format!("e2e-{r}"), &mut m).await;

        let config = EvmConfig::from_value(config).unwrap();
        deposit_range = config.deposit_range;
        let reader = EvmAdapter::new(HostchainId::new(HOSTCHAIN).unwrap(), config).unwrap();
        let safe = round.head + 1 - CONFIRMATIONS;
        let ranges: Vec<(u64, u64)> = (round.start..=safe)
            .step_by(usize::try_from(deposit_range).unwrap())
            .map(|from| (from, (from + deposit_range - 1).min(safe)))
            .collect();
        let observed = bare_and_scan(&reader, bench.evm.bridge, &ranges, &mut m).await;
        bench
            .store_writes(&format!("writes-{r}"), &observed, &mut m)
            .await;
        minted.extend(observed.into_iter().map(|d| Deposit {
            id: d.id,
            token: d.token,
            amount: d.amount,
            recipient: d.recipient.unwrap(),
        }));
        rounds.push((round, ranges, e2e));
    }
    bench.publishing(&minted, &mut m).await;

    let mut report = Report::new("bridge_deposits");
    report.note(format!(
        "4-validator symbiote ({}), block interval {BLOCK_INTERVAL_MS} ms, relayer set 1 of 1; \
         anvil, confirmations {CONFIRMATIONS}, deposit_range {deposit_range}; setup {:.1} s",
        binary.display(),
        setup.as_secs_f64(),
    ));
    report.note(format!(
        "{ROUNDS} rounds, each: {DEPOSITS} new deposits (half native, half ERC-20, \
         {DEPOSITORS} keys, {PER_BLOCK} per block), one end-to-end run on a fresh store, \
         {REPS} baseline and scan-alone repetitions"
    ));
    for (i, (round, ranges, e2e)) in rounds.iter().enumerate() {
        describe_round(&mut report, i, round, ranges, e2e);
    }
    report.note("times are per deposit (lookups and publishes: per call):");
    for (label, timings) in [
        ("end to end: first step to all minted (store)", &m.to_store),
        ("end to end: to all minted on the symbiote", &m.to_symbiote),
        ("baseline: bare eth_getLogs + decode_log", &m.bare),
        ("adapter scan_deposits alone (cursor loop)", &m.scan_alone),
        ("store: record_scan (one transaction)", &m.record_scan),
        ("store: move_deposits seen>attested>minted", &m.moves),
    ] {
        report.timing(label, timings, "deposits");
    }
    report.timing(
        "node deposit lookup (GET /v1/deposits/..)",
        &m.lookups,
        "calls",
    );
    report.timing(
        "publish: 1-entry Attest until in a block",
        &m.publish_one,
        "txs",
    );
    let label = format!("publish: {MAX_BATCH_ENTRIES}-entry Attest until in a block");
    report.timing(&label, &m.publish_batch, "txs");
    let steps: Vec<&StepLog> = rounds.iter().flat_map(|(_, _, e)| &e.steps).collect();
    let total = rounds.iter().map(|(_, _, e)| e.to_store).sum();
    split(&mut report, &m, &steps, total);
    report.note("ratios of medians (time per deposit):");
    for (label, numerator, denominator) in [
        (
            "end to end (store) / bare getLogs+decode",
            &m.to_store,
            &m.bare,
        ),
        (
            "end to end (symbiote) / bare getLogs+decode",
            &m.to_symbiote,
            &m.bare,
        ),
        (
            "adapter scan alone / bare getLogs+decode",
            &m.scan_alone,
            &m.bare,
        ),
        (
            "end to end (store) / adapter scan alone",
            &m.to_store,
            &m.scan_alone,
        ),
    ] {
        report.ratio(label, numerator.median(), denominator.median());
    }
    report.print();
}

/// One round's blocks, times and steps.
fn describe_round(
    report: &mut Report,
    i: usize,
    round: &Round,
    ranges: &[(u64, u64)],
    e2e: &EndToEnd,
) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    report.note(format!(
        "round {i}: deposits in blocks {}..={}, head {}, eth_getLogs range(s) {ranges:?}; \
         end to end {:.0} ms to the symbiote, {:.0} ms to the store, {} steps, {} failed, \
         {} symbiote blocks meanwhile (one per {:.0} ms)",
        round.start,
        round.last,
        round.head,
        ms(e2e.to_symbiote),
        ms(e2e.to_store),
        e2e.steps.len(),
        e2e.errors,
        e2e.blocks,
        ms(e2e.to_store) / e2e.blocks.max(1) as f64,
    ));
    for (s, step) in e2e.steps.iter().enumerate() {
        report.note(format!(
            "  step {s}: scan {:>6.1} ms (+{} stored), attest {:>6.1} ms ({} lookups{}), \
             {} minted in the store",
            ms(step.scan),
            step.added,
            ms(step.attest),
            step.lookups,
            if step.published { ", 1 publish" } else { "" },
            step.minted,
        ));
    }
}

/// Where the end-to-end time went, over all rounds: the two halves as measured, each split
/// with the medians of its parts timed alone (an estimate: the parts ran alone, not
/// interleaved).
fn split(report: &mut Report, m: &Measured, steps: &[&StepLog], total: Duration) {
    let deposits = u32::try_from(ROUNDS * DEPOSITS).unwrap();
    let scans: Duration = steps.iter().map(|s| s.scan).sum();
    let attests: Duration = steps.iter().map(|s| s.attest).sum();
    let n_lookups = u32::try_from(steps.iter().map(|s| s.lookups).sum::<u64>()).unwrap();
    let n_publishes = u32::try_from(steps.iter().filter(|s| s.published).count()).unwrap();
    let adapter = m.scan_alone.median() * deposits;
    let record = m.record_scan.median() * deposits;
    let lookups = m.lookups.median() * n_lookups;
    let publishes = m.publish_batch.median() * n_publishes;
    let moves = m.moves.median() * deposits;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let part = |d: Duration| format!("{:.0} ms ({:.0}%)", ms(d), 100.0 * ms(d) / ms(total));
    report.note(format!(
        "where the end-to-end time went (all rounds, {:.0} ms):",
        ms(total)
    ));
    report.note(format!(
        "  scan {} ~ adapter scan_deposits {} + record_scan {}",
        part(scans),
        part(adapter),
        part(record),
    ));
    report.note(format!(
        "  attest {} ~ {n_lookups} node lookups {} + {n_publishes} publishes {} + \
         move_deposits {} + rest (reads, account nonce) {:.0} ms",
        part(attests),
        part(lookups),
        part(publishes),
        part(moves),
        ms(attests.saturating_sub(lookups + publishes + moves)),
    ));
    report.note(format!(
        "  the bench's count queries between halves {:.0} ms; {:.1} node lookups per deposit",
        ms(total.saturating_sub(scans + attests)),
        f64::from(n_lookups) / f64::from(deposits),
    ));
}

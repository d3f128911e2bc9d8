//! Bench `evm_deposits`: bridge deposits scanned, decoded and returned per second by the EVM
//! adapter's `scan_deposits`, against a real anvil (started by the `devnet` harness), versus a
//! bare `eth_getLogs` plus `Deposited::decode_log` loop over the same block ranges in the same
//! run.
//!
//! Setup: the anchor and bridge contracts are deployed from the committed artifacts; with
//! automine off, several funded keys send `depositNative` transactions (one deposit each,
//! signed locally with explicit nonces), anvil mines blocks until all are included, then mines
//! past the adapter's confirmation depth.
//!
//! Each repetition times:
//! - the adapter: `scan_deposits` from the start cursor, looping on the returned cursor until it
//!   stops moving (default `deposit_range`). Per call: `eth_blockNumber`, `eth_getLogs` over the
//!   range, then one `eth_getTransactionReceipt` per deposit transaction (the event's position
//!   inside its transaction is part of the deposit id) and the conversion to `ObservedDeposit`;
//! - baseline: `eth_getLogs` over the same ranges and `Deposited::decode_log` of every log,
//!   through the adapter's own provider (same transport);
//! - a second baseline that also fetches each transaction's receipt, sequentially, as the
//!   adapter does, to show how much of the gap the receipts explain;
//! - one `eth_blockNumber` round trip.
//!
//! Run: `cargo bench -p chain-adapters --bench evm_deposits`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashSet;
use std::time::Instant;

use alloy::eips::Encodable2718;
use alloy::network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::Filter;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use chain_adapters::evm::bindings::{SymbioteAnchor, SymbioteBridge};
use chain_adapters::evm::{EvmAdapter, EvmConfig};
use chain_adapters::{DepositCursor, DepositWatcher};
use devnet::Anvil;
use serde_json::json;
use support::{Report, Timings};
use symbiote::crypto::Keypair as SymbioteKey;
use symbiote::types::HostchainId;

/// Deposits made.
const DEPOSITS: usize = 2_000;
/// Keys that make them, each with its own nonces.
const DEPOSITORS: usize = 8;
/// The adapter's confirmation depth.
const CONFIRMATIONS: u64 = 3;
/// Repetitions of every measurement.
const REPS: usize = 5;
/// `eth_blockNumber` calls per repetition.
const ROUND_TRIPS: usize = 50;
/// Fee caps of the deposit transactions.
const MAX_FEE: u128 = 100_000_000_000;
const PRIORITY_FEE: u128 = 1_000_000_000;
const ETHER: u128 = 1_000_000_000_000_000_000;
/// Blocks mined while waiting for the deposits before giving up.
const MAX_BLOCKS: usize = 200;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

fn provider(anvil: &Anvil, key: PrivateKeySigner) -> DynProvider {
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(key))
        .connect_http(anvil.rpc_url().parse().unwrap())
        .erased()
}

async fn funded_key(anvil: &Anvil) -> PrivateKeySigner {
    let key = PrivateKeySigner::random();
    anvil
        .set_balance(&key.address().to_string(), 100 * ETHER)
        .await
        .unwrap();
    key
}

async fn run() {
    let setup_started = Instant::now();
    // A node of its own: the bench turns automine off.
    let anvil = Anvil::spawn().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let deployer = provider(&anvil, funded_key(&anvil).await);
    let relayer = funded_key(&anvil).await;
    let anchor = *SymbioteAnchor::deploy(&deployer, vec![relayer.address()], U256::from(1))
        .await
        .unwrap()
        .address();
    let bridge = *SymbioteBridge::deploy(&deployer, vec![relayer.address()], U256::from(1))
        .await
        .unwrap()
        .address();
    let start = deployer.get_block_number().await.unwrap();

    let key_file = dir.path().join("relayer.hex");
    std::fs::write(&key_file, hex::encode(relayer.to_bytes())).unwrap();
    let config = EvmConfig::from_value(json!({
        "rpc_url": anvil.rpc_url(),
        "key_file": key_file,
        "chain_id": devnet::anvil::CHAIN_ID,
        "anchor_contract": anchor.to_string(),
        "bridge_contract": bridge.to_string(),
        "confirmations": CONFIRMATIONS,
        "deposit_start_block": start,
    }))
    .unwrap();
    let deposit_range = config.deposit_range;
    let adapter = EvmAdapter::new(HostchainId::new("evm-31337").unwrap(), config).unwrap();

    let recipients: Vec<B256> = (0..16)
        .map(|_| B256::from(SymbioteKey::generate().public().to_bytes()))
        .collect();
    let mut depositors = Vec::new();
    for _ in 0..DEPOSITORS {
        depositors.push(funded_key(&anvil).await);
    }
    // Gas for one deposit, with room: the very first one also creates the bridge's counter.
    let gas = SymbioteBridge::new(bridge, &deployer)
        .depositNative(recipients[0])
        .value(U256::from(1))
        .estimate_gas()
        .await
        .unwrap()
        * 3
        / 2;

    anvil.call("evm_setAutomine", json!([false])).await.unwrap();
    let sent = send_deposits(&anvil, bridge, &depositors, &recipients, gas).await;
    let mut mined = 0;
    loop {
        anvil.mine(1).await.unwrap();
        mined += 1;
        let mut included = 0;
        for key in &depositors {
            included += deployer
                .get_transaction_count(key.address())
                .latest()
                .await
                .unwrap();
        }
        if included as usize == sent {
            break;
        }
        assert!(mined < MAX_BLOCKS, "{included} of {sent} deposits mined");
    }
    anvil.mine(CONFIRMATIONS).await.unwrap();
    let head = deployer.get_block_number().await.unwrap();
    let setup = setup_started.elapsed();

    let watcher: &dyn DepositWatcher = &adapter;
    let rpc = adapter.provider();
    let mut scan = Timings::default();
    let mut bare = Timings::default();
    let mut with_receipts = Timings::default();
    let mut block_number = Timings::default();
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    let mut deposit_blocks: Vec<u64> = Vec::new();

    for rep in 0..REPS {
        // The adapter, from the start cursor until the cursor stops moving.
        let started = Instant::now();
        let mut cursor = DepositCursor::default();
        let mut found = 0;
        let mut calls = Vec::new();
        loop {
            let result = watcher.scan_deposits(&cursor).await.unwrap();
            found += result.deposits.len();
            if result.next == cursor {
                break;
            }
            let from = if cursor.0.is_empty() {
                start
            } else {
                cursor.0.parse().unwrap()
            };
            let next: u64 = result.next.0.parse().unwrap();
            calls.push((from, next - 1));
            cursor = result.next;
        }
        scan.add_since(started, found);
        assert_eq!(found, sent, "the adapter found every deposit");
        if rep == 0 {
            ranges = calls;
        }

        // Bare: the same ranges, logs decoded, nothing else.
        let started = Instant::now();
        let mut decoded = 0;
        let mut blocks = Vec::new();
        for &(from, to) in &ranges {
            for log in rpc
                .get_logs(&deposit_filter(bridge, from, to))
                .await
                .unwrap()
            {
                let event = SymbioteBridge::Deposited::decode_log(&log.inner).unwrap();
                std::hint::black_box(event);
                blocks.push(log.block_number);
                decoded += 1;
            }
        }
        bare.add_since(started, decoded);
        blocks.dedup();
        deposit_blocks = blocks.into_iter().flatten().collect();
        assert_eq!(decoded, sent, "the bare loop found every deposit");

        // Bare plus one receipt per transaction, sequentially.
        let started = Instant::now();
        let mut decoded = 0;
        for &(from, to) in &ranges {
            let mut seen = HashSet::new();
            for log in rpc
                .get_logs(&deposit_filter(bridge, from, to))
                .await
                .unwrap()
            {
                let tx = log.transaction_hash.unwrap();
                if seen.insert(tx) {
                    let receipt = rpc.get_transaction_receipt(tx).await.unwrap().unwrap();
                    std::hint::black_box(receipt);
                }
                let event = SymbioteBridge::Deposited::decode_log(&log.inner).unwrap();
                std::hint::black_box(event);
                decoded += 1;
            }
        }
        with_receipts.add_since(started, decoded);

        for _ in 0..ROUND_TRIPS {
            let started = Instant::now();
            rpc.get_block_number().await.unwrap();
            block_number.add_since(started, 1);
        }
    }

    let mut report = Report::new("evm_deposits");
    report.note(format!(
        "anvil, {sent} native deposits (one per transaction, {DEPOSITORS} keys) in blocks \
         {deposit_blocks:?} ({mined} mined), head {head}; setup took {:.1} s; {REPS} repetitions",
        setup.as_secs_f64()
    ));
    report.note(format!(
        "confirmations {CONFIRMATIONS}, deposit_range {deposit_range}: {} eth_getLogs range(s) \
         {ranges:?}",
        ranges.len()
    ));
    report.note("times are per deposit (the round trip: per call):");
    report.timing("adapter scan_deposits (cursor loop)", &scan, "deposits");
    report.timing(
        "bare eth_getLogs + decode_log (same ranges)",
        &bare,
        "deposits",
    );
    report.timing(
        "bare + one receipt per tx, sequential",
        &with_receipts,
        "deposits",
    );
    report.timing("eth_blockNumber round trip", &block_number, "calls");
    report.note("ratios of medians:");
    report.ratio(
        "adapter / bare getLogs+decode  (time per deposit)",
        scan.median(),
        bare.median(),
    );
    report.ratio(
        "adapter / bare + receipts",
        scan.median(),
        with_receipts.median(),
    );
    report.ratio(
        "adapter per deposit / eth_blockNumber round trip",
        scan.median(),
        block_number.median(),
    );
    report.print();
}

fn deposit_filter(bridge: Address, from: u64, to: u64) -> Filter {
    Filter::new()
        .address(bridge)
        .event_signature(SymbioteBridge::Deposited::SIGNATURE_HASH)
        .from_block(from)
        .to_block(to)
}

/// Sends `DEPOSITS` deposits, spread over `depositors`, each key's in nonce order from its own
/// task; returns how many the node accepted.
async fn send_deposits(
    anvil: &Anvil,
    bridge: Address,
    depositors: &[PrivateKeySigner],
    recipients: &[B256],
    gas: u64,
) -> usize {
    let chain_id = anvil.chain_id().await.unwrap();
    let plain = ProviderBuilder::new()
        .disable_recommended_fillers()
        .connect_http(anvil.rpc_url().parse().unwrap())
        .erased();
    let per_key = DEPOSITS / depositors.len();
    let mut tasks = tokio::task::JoinSet::new();
    for (k, key) in depositors.iter().enumerate() {
        let wallet = EthereumWallet::from(key.clone());
        let plain = plain.clone();
        let recipients = recipients.to_vec();
        tasks.spawn(async move {
            let contract = SymbioteBridge::new(bridge, &plain);
            for nonce in 0..per_key {
                let n = k * per_key + nonce;
                let request = contract
                    .depositNative(recipients[n % recipients.len()])
                    .value(U256::from(1_000 + n))
                    .nonce(nonce as u64)
                    .gas(gas)
                    .max_fee_per_gas(MAX_FEE)
                    .max_priority_fee_per_gas(PRIORITY_FEE)
                    .into_transaction_request()
                    .with_chain_id(chain_id);
                let envelope = request.build(&wallet).await.unwrap();
                // Not watched: the mining loop checks that every deposit is included.
                let _pending = plain
                    .send_raw_transaction(&envelope.encoded_2718())
                    .await
                    .unwrap();
            }
            per_key
        });
    }
    let mut sent = 0;
    while let Some(count) = tasks.join_next().await {
        sent += count.unwrap();
    }
    sent
}

//! Bench `bitcoin_prepare`: anchors prepared and signed per second by the Bitcoin adapter whose
//! wallet holds 1,000 UTXOs, against a real regtest bitcoind (started by the `devnet` harness).
//!
//! Setup: 1,000 blocks are mined to the adapter's address (each coinbase is one of its UTXOs;
//! regtest halves the subsidy every 150 blocks, so the amounts shrink), then 100 more to another
//! address, so that all 1,000 are mature. Nothing is ever broadcast.
//!
//! Each repetition starts a fresh adapter (timed on its own: `scantxoutset` finds the 1,000
//! coins) and times, one call per sample:
//! - the first `prepare_anchor` of that instance ("cold"): `getmempoolinfo`, `estimatesmartfee`,
//!   `getblockcount`, one `gettxout` for the chosen coin, coin selection over the 1,000 coins,
//!   signing. `prepare_anchor` does not call `testmempoolaccept`; `broadcast` does;
//! - further `prepare_anchor` calls on the same instance ("steady"): each first picks the
//!   previous anchor's change, which was never sent, so its `gettxout` finds nothing, the coin is
//!   forgotten and a confirmed coin is chosen instead: one more `gettxout` and one more
//!   selection than the cold case. Every prepared anchor keeps its input reserved in that
//!   instance, so a repetition stays far below the 1,000 coins;
//!
//! and, in the same repetition, the baselines:
//! - one `getblockcount` round trip through the adapter's own RPC client (same transport), so
//!   "prepare = N round trips";
//! - the RPC calls a steady prepare makes, back to back, without the adapter's logic (and each
//!   kind of call on its own);
//! - `testmempoolaccept` of a prepared anchor (what `broadcast` adds before sending);
//! - signing alone (`Signer::sign_anchor`, one input), and the local work of a prepare without
//!   RPC: coin selection over the 1,000 coins, signing, serialization and metadata.
//!
//! Medians describe the typical call; means (total time over all calls) describe sustained
//! throughput. They differ because the bitcoind the harness runs (a v31 development build)
//! now and then answers an RPC about 50 ms late, whatever the method and whatever the client
//! (a raw-socket client shows the same), so a few calls carry most of the total time. The block
//! counts those stalls.
//!
//! Run: `cargo bench -p chain-adapters --bench bitcoin_prepare`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use bitcoin::consensus::encode::{deserialize, serialize};
use bitcoin::secp256k1::{SecretKey, rand};
use bitcoin::{Amount, Network, OutPoint, Transaction, Txid};
use chain_adapters::Anchorer;
use chain_adapters::bitcoin::coins::{Coin, Coins, Origin};
use chain_adapters::bitcoin::fees::{self, FeeRate};
use chain_adapters::bitcoin::meta::{META_VERSION, MetaChange, MetaInput, MetaV1};
use chain_adapters::bitcoin::rpc::Rpc;
use chain_adapters::bitcoin::wallet::{CHANGE_VOUT, Signer, Spend};
use chain_adapters::bitcoin::{BitcoinAdapter, BitcoinConfig};
use chain_adapters::{AnchorRequest, PreparedTx};
use devnet::Bitcoind;
use serde_json::json;
use support::{Report, Timings};
use symbiote::anchor::AnchorPayload;
use symbiote::hash::Hash;
use symbiote::types::{Height, HostchainId, Sequence, SymbioteId};

/// UTXOs in the adapter's wallet.
const UTXOS: u64 = 1_000;
/// Blocks mined per `generatetoaddress` call (the harness's RPC client has a short timeout).
const MINE_CHUNK: u64 = 100;
/// Blocks after which a coinbase output may be spent.
const MATURITY: u64 = 100;
/// Repetitions of every measurement.
const REPS: usize = 7;
/// Steady prepares per repetition (each reserves one coin of that repetition's instance).
const PREPARES: usize = 40;
/// Calls of each baseline RPC per repetition.
const ROUND_TRIPS: usize = 40;
/// `testmempoolaccept` calls per repetition.
const ACCEPTS: usize = 10;
/// Local (RPC-free) operations per repetition.
const LOCAL_OPS: usize = 500;
/// A call slower than this is counted as stalled.
const STALL_MS: u64 = 20;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

fn request(sequence: u64) -> AnchorRequest {
    AnchorRequest {
        symbiote: SymbioteId::from_name("bitcoin-bench"),
        payload: AnchorPayload {
            sequence: Sequence::new(sequence),
            root: Hash([(sequence % 251) as u8; 32]),
        },
        from: Height::new(1),
        to: Height::new(10),
        cosignatures: vec![],
    }
}

fn decode(prepared: &PreparedTx) -> Transaction {
    deserialize(&prepared.raw).unwrap()
}

async fn run() {
    let setup_started = Instant::now();
    let node = Bitcoind::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let secret = SecretKey::new(&mut rand::thread_rng());
    let key_file = dir.path().join("bitcoin.key");
    std::fs::write(&key_file, format!("{}\n", secret.display_secret())).unwrap();
    let signer = Signer::from_secret(secret, Network::Regtest);
    let address = signer.address().to_string();
    let elsewhere = Signer::from_secret(SecretKey::new(&mut rand::thread_rng()), Network::Regtest)
        .address()
        .to_string();
    for _ in 0..UTXOS / MINE_CHUNK {
        node.mine_to(MINE_CHUNK, &address).await.unwrap();
    }
    node.mine_to(MATURITY, &elsewhere).await.unwrap();
    let mined = setup_started.elapsed();

    let (user, password) = node.auth();
    let config = BitcoinConfig::from_value(json!({
        "rpc_url": node.rpc_url(),
        "rpc_user": user,
        "rpc_password": password,
        "network": "regtest",
        "key_file": key_file,
    }))
    .unwrap();
    let hostchain = HostchainId::new("bitcoin-regtest").unwrap();
    let rpc = Rpc::new(&config).unwrap();

    // The wallet as the adapter sees it, for the RPC-free baseline.
    let scanned = rpc.scan(signer.script_pubkey()).await.unwrap();
    assert_eq!(
        scanned.len() as u64,
        UTXOS,
        "the wallet holds every coinbase"
    );
    let tip = rpc.block_count().await.unwrap();
    let mut coins = Coins::default();
    coins.set_confirmed(scanned.iter().map(|out| {
        (
            OutPoint::new(out.txid, out.vout),
            Coin {
                amount: out.amount,
                origin: Origin::Confirmed {
                    height: out.height,
                    coinbase: out.coinbase,
                },
                change_order: None,
            },
        )
    }));
    let a_coin = scanned
        .first()
        .map(|out| OutPoint::new(out.txid, out.vout))
        .unwrap();
    let policy = rpc.relay_policy().await.unwrap();
    let estimate = rpc.estimate_fee(config.fee_target_blocks).await.unwrap();
    let rate = fees::rate_for_new(estimate, policy, config.fees).unwrap();

    let mut connect = Timings::default();
    let mut cold = Timings::default();
    let mut steady = Timings::default();
    let mut block_count = Timings::default();
    let mut rpc_sequence = Timings::default();
    let mut mempool_info = Timings::default();
    let mut estimate_fee = Timings::default();
    let mut tx_out_missing = Timings::default();
    let mut tx_out_found = Timings::default();
    let mut accept = Timings::default();
    let mut sign_only = Timings::default();
    let mut local_work = Timings::default();
    let mut sequence = 0u64;
    let mut inputs_seen = Vec::new();

    for _ in 0..REPS {
        // A fresh instance: no reservations, the full wallet.
        let started = Instant::now();
        let adapter = BitcoinAdapter::connect(hostchain.clone(), config.clone())
            .await
            .unwrap();
        connect.add_since(started, 1);

        sequence += 1;
        let started = Instant::now();
        let first = adapter.prepare_anchor(&request(sequence)).await.unwrap();
        cold.add_since(started, 1);

        let mut last = first.clone();
        for _ in 0..PREPARES {
            sequence += 1;
            let started = Instant::now();
            last = adapter.prepare_anchor(&request(sequence)).await.unwrap();
            steady.add_since(started, 1);
        }
        inputs_seen.push(decode(&last).input.len());

        // The anchors are valid, as the node itself says (checked, and timed as a baseline).
        let first_tx = decode(&first);
        for _ in 0..ACCEPTS {
            let started = Instant::now();
            let result = rpc.test_accept(&first_tx).await.unwrap();
            accept.add_since(started, 1);
            assert!(result.allowed, "{result:?}");
        }

        for _ in 0..ROUND_TRIPS {
            let started = Instant::now();
            rpc.block_count().await.unwrap();
            block_count.add_since(started, 1);
        }

        // What a steady prepare asks the node, without the adapter around it: the unsent
        // change (not found), then a confirmed coin; each call also timed on its own.
        let unsent_change = OutPoint::new(last.id.parse::<Txid>().unwrap(), CHANGE_VOUT);
        for _ in 0..ROUND_TRIPS {
            let sequence_started = Instant::now();
            let started = Instant::now();
            rpc.relay_policy().await.unwrap();
            mempool_info.add_since(started, 1);
            let started = Instant::now();
            rpc.estimate_fee(config.fee_target_blocks).await.unwrap();
            estimate_fee.add_since(started, 1);
            rpc.block_count().await.unwrap();
            let started = Instant::now();
            assert!(rpc.tx_out(unsent_change, true).await.unwrap().is_none());
            tx_out_missing.add_since(started, 1);
            let started = Instant::now();
            assert!(rpc.tx_out(a_coin, true).await.unwrap().is_some());
            tx_out_found.add_since(started, 1);
            rpc_sequence.add_since(sequence_started, 1);
        }

        let payload = request(sequence).payload.encode();
        let spend = Spend {
            outpoint: a_coin,
            amount: scanned[0].amount,
        };
        let fee = Amount::from_sat(1_000);
        for _ in 0..LOCAL_OPS {
            let started = Instant::now();
            std::hint::black_box(signer.sign_anchor(&[spend], &payload, fee).unwrap());
            sign_only.add_since(started, 1);
        }
        for _ in 0..LOCAL_OPS {
            let started = Instant::now();
            std::hint::black_box(local_prepare(&coins, &signer, tip, rate, &payload));
            local_work.add_since(started, 1);
        }
    }

    let rate_source = if estimate.is_some() {
        "estimatesmartfee"
    } else {
        "the fallback: no estimate on regtest"
    };
    let mut report = Report::new("bitcoin_prepare");
    report.note(format!(
        "bitcoind regtest, wallet of {UTXOS} mature coinbase UTXOs; setup (node start + mining {} \
         blocks) took {:.1} s; {REPS} repetitions, nothing broadcast",
        UTXOS + MATURITY,
        mined.as_secs_f64()
    ));
    report.note(format!(
        "fee rate {rate} ({rate_source}); inputs of the last anchor of \
         each repetition: {inputs_seen:?}"
    ));
    report.note("adapter:");
    report.timing("adapter start (connect + scantxoutset)", &connect, "starts");
    report.timing(
        "prepare_anchor, cold (first of an instance)",
        &cold,
        "anchors",
    );
    report.timing(
        &format!("prepare_anchor, steady ({PREPARES} per instance)"),
        &steady,
        "anchors",
    );
    report.note("baselines (same run, same RPC client):");
    report.timing("getblockcount round trip", &block_count, "calls");
    report.timing(
        "steady prepare's 5 RPCs, bare (see doc)",
        &rpc_sequence,
        "sequences",
    );
    report.timing("  of which getmempoolinfo", &mempool_info, "calls");
    report.timing("  of which estimatesmartfee", &estimate_fee, "calls");
    report.timing(
        "  of which gettxout, unsent change",
        &tx_out_missing,
        "calls",
    );
    report.timing(
        "  of which gettxout, confirmed coin",
        &tx_out_found,
        "calls",
    );
    report.timing(
        "testmempoolaccept (broadcast's, not prepare's)",
        &accept,
        "calls",
    );
    report.timing("sign_anchor alone (1 input)", &sign_only, "signs");
    report.timing(
        "local work: select of 1,000 + sign + meta",
        &local_work,
        "anchors",
    );
    let stall = Duration::from_millis(STALL_MS);
    let rpc_calls = [
        &block_count,
        &mempool_info,
        &estimate_fee,
        &tx_out_missing,
        &tx_out_found,
        &accept,
    ];
    report.note(format!(
        "bare RPC calls slower than {STALL_MS} ms: {} of {}; steady prepares slower than {STALL_MS} ms: \
         {} of {} (see the doc comment on bitcoind's stalls)",
        rpc_calls.iter().map(|t| t.slower_than(stall)).sum::<usize>(),
        rpc_calls.iter().map(|t| t.samples()).sum::<usize>(),
        steady.slower_than(stall),
        steady.samples(),
    ));
    report.note("ratios (medians: the typical call; means: sustained, stalls included):");
    report.ratio(
        "prepare steady / getblockcount, medians  (= N round trips)",
        steady.median(),
        block_count.median(),
    );
    report.ratio(
        "prepare steady / getblockcount, means",
        steady.mean(),
        block_count.mean(),
    );
    report.ratio(
        "prepare cold / getblockcount",
        cold.median(),
        block_count.median(),
    );
    report.ratio(
        "prepare steady / its 5 RPCs made bare",
        steady.median(),
        rpc_sequence.median(),
    );
    report.ratio(
        "local work (no RPC) / prepare steady",
        local_work.median(),
        steady.median(),
    );
    report.ratio(
        "sign alone / getblockcount",
        sign_only.median(),
        block_count.median(),
    );
    report.print();
}

/// What `prepare_anchor` computes without the node: coin selection over the wallet with the
/// adapter's "needed" rule, signing, serialization and the stored metadata. Returns the txid.
fn local_prepare(coins: &Coins, signer: &Signer, tip: u64, rate: FeeRate, payload: &[u8]) -> Txid {
    let min_change = signer.min_change();
    let needed = |inputs: usize| {
        let vsize = signer.anchor_vsize(payload, inputs).ok()?;
        rate.fee_at_least(vsize)?.checked_add(min_change)
    };
    let selection = coins.select(tip, needed).unwrap();
    let vsize = signer
        .anchor_vsize(payload, selection.spends.len())
        .unwrap();
    let fee = rate.fee_at_least(vsize).unwrap();
    let tx = signer.sign_anchor(&selection.spends, payload, fee).unwrap();
    let signed = tx.vsize() as u64;
    let meta = MetaV1 {
        v: META_VERSION,
        fee_sat: fee,
        vsize: signed,
        fee_rate_sat_kvb: FeeRate::paid(fee, signed).unwrap_or(FeeRate::ZERO),
        inputs: selection
            .spends
            .iter()
            .map(|s| MetaInput {
                txid: s.outpoint.txid,
                vout: s.outpoint.vout,
                amount_sat: s.amount,
            })
            .collect(),
        change: MetaChange {
            vout: CHANGE_VOUT,
            amount_sat: tx.output[CHANGE_VOUT as usize].value,
        },
        chain_depth: selection.depth,
        replaces: None,
    };
    std::hint::black_box((serialize(&tx), meta.to_value()));
    tx.compute_txid()
}

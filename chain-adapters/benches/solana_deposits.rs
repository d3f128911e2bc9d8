//! Bench `solana_deposits`: vault signatures scanned and deposits parsed per second by the
//! Solana adapter's `scan_deposits`, against a real local validator (started by the `devnet`
//! harness), versus the bare `getSignaturesForAddress` paging over the same vault in the same
//! run.
//!
//! Setup: a few payer keys get airdrops, then send SOL transfers to a fresh vault address, one
//! transfer with a `symbiote:<recipient>` memo per transaction (sent concurrently, one task per
//! payer); the bench waits until every one is finalized. Nothing else touches the vault, so
//! every vault signature is exactly one deposit.
//!
//! Each repetition times:
//! - the adapter: `scan_deposits` from the empty cursor until every deposit is found. It lists
//!   the vault's finalized signatures (`getSignaturesForAddress`, pages of 1,000), then fetches
//!   each transaction (`getTransaction`, sequentially) and parses its instructions;
//! - baseline: the same `getSignaturesForAddress` paging, bare, through the adapter's own RPC
//!   client (signatures listed per second);
//! - one `getTransaction` round trip (the adapter's settings: base64, finalized);
//! - `parse_deposits` alone over the already fetched transactions (no RPC).
//!
//! Run: `cargo bench -p chain-adapters --bench solana_deposits`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chain_adapters::solana::deposits::{Watched, parse_deposits, recipient_memo};
use chain_adapters::solana::{SolanaAdapter, SolanaConfig, keys};
use chain_adapters::{DepositCursor, DepositWatcher};
use devnet::SolanaValidator;
use solana_client::nonblocking::rpc_client::RpcClient;
use solana_client::rpc_client::GetConfirmedSignaturesForAddress2Config;
use solana_client::rpc_config::RpcTransactionConfig;
use solana_commitment_config::CommitmentConfig;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{Keypair, Signature, Signer};
use solana_sdk::transaction::{Transaction, VersionedTransaction};
use solana_transaction_status_client_types::UiTransactionEncoding;
use support::{Report, Timings};
use symbiote::crypto::Keypair as SymbioteKey;
use symbiote::types::HostchainId;

const SOL: u64 = 1_000_000_000;
/// Deposits made (one per transaction).
const DEPOSITS: usize = 300;
/// Payer keys sending them concurrently.
const PAYERS: usize = 4;
/// Lamports of the smallest deposit: above the rent-exempt minimum, so that whichever deposit
/// lands first can create the vault account.
const DEPOSIT_LAMPORTS: u64 = 1_000_000;
/// Signatures per `getSignaturesForAddress` page, as the adapter asks.
const PAGE: usize = 1_000;
/// Repetitions of every measurement.
const REPS: usize = 5;
/// `getTransaction` calls per repetition.
const ROUND_TRIPS: usize = 20;
/// Passes of `parse_deposits` over all transactions per repetition.
const PARSE_PASSES: usize = 20;
/// How long setup waits for airdrops and finalization.
const TIMEOUT: Duration = Duration::from_secs(90);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let setup_started = Instant::now();
    // A validator of its own: the vault must see no one else's transactions.
    let validator = SolanaValidator::spawn().await.unwrap();
    let started_node = setup_started.elapsed();
    let rpc = Arc::new(RpcClient::new_with_commitment(
        validator.rpc_url().to_string(),
        CommitmentConfig::confirmed(),
    ));
    let dir = tempfile::tempdir().unwrap();
    let relayer = Keypair::new();
    let vault = Keypair::new().pubkey();
    let payers: Vec<Keypair> = (0..PAYERS).map(|_| Keypair::new()).collect();
    let mut airdrops = Vec::new();
    for payer in &payers {
        airdrops.push(rpc.request_airdrop(&payer.pubkey(), SOL).await.unwrap());
    }
    wait_for(&rpc, &airdrops, CommitmentConfig::confirmed()).await;

    let hostchain = HostchainId::new("solana-local").unwrap();
    let sent_started = Instant::now();
    let signatures = send_deposits(&rpc, payers, vault).await;
    wait_for(&rpc, &signatures, CommitmentConfig::finalized()).await;
    let finalized_after = sent_started.elapsed();
    let setup = setup_started.elapsed();

    let relayer_file = dir.path().join("relayer.json");
    std::fs::write(&relayer_file, keys::to_json(&relayer)).unwrap();
    let config: SolanaConfig = serde_json::from_value(serde_json::json!({
        "rpc_url": validator.rpc_url(),
        "key_file": relayer_file,
        "vault_address": vault.to_string(),
    }))
    .unwrap();
    let scan_limit = config.scan_limit;
    let adapter = SolanaAdapter::new(hostchain.clone(), config).unwrap();
    let watcher: &dyn DepositWatcher = &adapter;
    let client = adapter.rpc();

    // The transactions, fetched once, for parsing alone.
    let transaction_config = RpcTransactionConfig {
        encoding: Some(UiTransactionEncoding::Base64),
        commitment: Some(CommitmentConfig::finalized()),
        max_supported_transaction_version: Some(0),
    };
    let mut fetched: Vec<(Signature, u64, VersionedTransaction)> = Vec::new();
    for signature in &signatures {
        let confirmed = client
            .get_transaction_with_config(signature, transaction_config)
            .await
            .unwrap();
        let tx = confirmed.transaction.transaction.decode().unwrap();
        fetched.push((*signature, confirmed.slot, tx));
    }

    let mut scan = Timings::default();
    let mut listing = Timings::default();
    let mut get_transaction = Timings::default();
    let mut parse = Timings::default();
    let mut scan_calls = 0;

    for _ in 0..REPS {
        // The adapter, from the empty cursor until every deposit is found.
        let started = Instant::now();
        let mut cursor = DepositCursor::default();
        let mut found = 0;
        scan_calls = 0;
        while found < DEPOSITS {
            let result = watcher.scan_deposits(&cursor).await.unwrap();
            scan_calls += 1;
            found += result.deposits.len();
            assert!(
                result.next != cursor || found >= DEPOSITS,
                "the cursor stopped at {found} of {DEPOSITS} deposits"
            );
            cursor = result.next;
        }
        scan.add_since(started, found);
        assert_eq!(found, DEPOSITS, "one deposit per signature");

        // Bare listing, as the adapter pages.
        let started = Instant::now();
        let listed = list_signatures(client, &vault).await;
        listing.add_since(started, listed);
        assert_eq!(listed, DEPOSITS, "the vault has only the deposits");

        for signature in signatures.iter().take(ROUND_TRIPS) {
            let started = Instant::now();
            let confirmed = client
                .get_transaction_with_config(signature, transaction_config)
                .await
                .unwrap();
            std::hint::black_box(confirmed.transaction.transaction.decode());
            get_transaction.add_since(started, 1);
        }

        let started = Instant::now();
        let mut parsed = 0;
        for _ in 0..PARSE_PASSES {
            for (signature, slot, tx) in &fetched {
                parsed += std::hint::black_box(parse_deposits(
                    &hostchain,
                    signature,
                    *slot,
                    tx,
                    &vault,
                    Watched::Vault,
                ))
                .len();
            }
        }
        parse.add_since(started, parsed);
        assert_eq!(parsed, DEPOSITS * PARSE_PASSES);
    }

    let mut report = Report::new("solana_deposits");
    report.note(format!(
        "local validator, {DEPOSITS} SOL deposits with memos (one per transaction, {PAYERS} payers); \
         validator start {:.1} s, sent to all finalized {:.1} s, setup {:.1} s; {REPS} repetitions",
        started_node.as_secs_f64(),
        finalized_after.as_secs_f64(),
        setup.as_secs_f64()
    ));
    report.note(format!(
        "every vault signature is one deposit: signatures scanned/s = deposits parsed/s; \
         scan_limit {scan_limit}, {scan_calls} scan_deposits call(s) per repetition"
    ));
    report.note("times are per signature (per call for the round trip):");
    report.timing(
        "adapter scan_deposits (list + fetch + parse)",
        &scan,
        "signatures",
    );
    report.timing(
        "bare getSignaturesForAddress paging",
        &listing,
        "signatures",
    );
    report.timing("getTransaction round trip", &get_transaction, "calls");
    report.timing("parse_deposits alone (no RPC)", &parse, "deposits");
    report.note("ratios of medians:");
    report.ratio(
        "adapter / bare listing  (time per signature)",
        scan.median(),
        listing.median(),
    );
    report.ratio(
        "adapter per signature / getTransaction round trip",
        scan.median(),
        get_transaction.median(),
    );
    report.ratio(
        "parse alone / adapter per signature",
        parse.median(),
        scan.median(),
    );
    report.print();
}

/// Sends `DEPOSITS` transfers to `vault`, each with a recipient memo, spread over `payers`
/// (one task each); returns their signatures.
async fn send_deposits(
    rpc: &Arc<RpcClient>,
    payers: Vec<Keypair>,
    vault: Pubkey,
) -> Vec<Signature> {
    let blockhash = rpc.get_latest_blockhash().await.unwrap();
    let per_payer = DEPOSITS / payers.len();
    let mut tasks = tokio::task::JoinSet::new();
    for (p, payer) in payers.into_iter().enumerate() {
        let rpc = Arc::clone(rpc);
        tasks.spawn(async move {
            let mut signatures = Vec::new();
            for i in 0..per_payer {
                let n = (p * per_payer + i) as u64;
                let recipient = SymbioteKey::generate().public();
                let instructions = [
                    solana_system_interface::instruction::transfer(
                        &payer.pubkey(),
                        &vault,
                        DEPOSIT_LAMPORTS + n,
                    ),
                    spl_memo_interface::instruction::build_memo(
                        &spl_memo_interface::v3::id(),
                        recipient_memo(&recipient).as_bytes(),
                        &[&payer.pubkey()],
                    ),
                ];
                let tx = Transaction::new_signed_with_payer(
                    &instructions,
                    Some(&payer.pubkey()),
                    &[&payer],
                    blockhash,
                );
                signatures.push(rpc.send_transaction(&tx).await.unwrap());
            }
            signatures
        });
    }
    let mut all = Vec::new();
    while let Some(signatures) = tasks.join_next().await {
        all.extend(signatures.unwrap());
    }
    all
}

/// Waits until every signature has reached `commitment` without error.
async fn wait_for(rpc: &RpcClient, signatures: &[Signature], commitment: CommitmentConfig) {
    let started = Instant::now();
    let mut pending: Vec<Signature> = signatures.to_vec();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for chunk in pending.chunks(256) {
            let statuses = rpc.get_signature_statuses(chunk).await.unwrap().value;
            for (signature, status) in chunk.iter().zip(statuses) {
                match status {
                    Some(status) if status.satisfies_commitment(commitment) => {
                        assert!(status.err.is_none(), "{signature} failed: {:?}", status.err);
                    }
                    _ => still.push(*signature),
                }
            }
        }
        pending = still;
        if !pending.is_empty() {
            assert!(
                started.elapsed() < TIMEOUT,
                "{} of {} transactions not at {:?} after {TIMEOUT:?}",
                pending.len(),
                signatures.len(),
                commitment.commitment
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Lists every finalized signature of `address` the way the adapter pages; returns the count.
async fn list_signatures(rpc: &RpcClient, address: &Pubkey) -> usize {
    let mut count = 0;
    let mut before = None;
    loop {
        let config = GetConfirmedSignaturesForAddress2Config {
            before,
            until: None,
            limit: Some(PAGE),
            commitment: Some(CommitmentConfig::finalized()),
        };
        let page = rpc
            .get_signatures_for_address_with_config(address, config)
            .await
            .unwrap();
        let full = page.len() == PAGE;
        count += page.len();
        before = page
            .last()
            .map(|entry| Signature::from_str(&entry.signature).unwrap());
        if !full {
            return count;
        }
    }
}

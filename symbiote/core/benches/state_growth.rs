//! Block cost as the state grows: building a block of 2,000 transfers (one in ten failing: it
//! is undone from the block's overlay) and applying the built block (execution, state root and
//! commit to the tree store), at states of increasing numbers of accounts. The cost must stay
//! nearly flat: it grows with the entries a block changes times the tree's depth, not with the
//! state.
//!
//! Run: `cargo bench -p symbiote --bench state_growth` (10,000 and 1,000,000 accounts, about
//! two minutes). `STATE_GROWTH_ACCOUNTS=10000,1000000,10000000` adds ten million (about 15
//! minutes and 10 GB of memory on two cores). Figures are medians of `STATE_GROWTH_BLOCKS`
//! blocks (default 5) and ratios against the smallest state, measured in the same run.

// Benchmark setup: a failed fixture step should abort loudly.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use std::collections::BTreeMap;
use symbiote::crypto::{Keypair, PublicKey};
use symbiote::genesis::Genesis;

use symbiote::state::tree;
use symbiote::state::{Account, ChainState, MemoryStore, StateKey, StateStore};
use symbiote::tx::{Asset, Relayer, RelayerSet, SignedTransaction, Transaction};
use symbiote::types::{Amount, Height, Nonce, TimestampMs};
use symbiote::validators::{Validator, ValidatorSet};

const TRANSFERS: usize = 2_000;
const BALANCE: u128 = 1_000_000;
/// Accounts written per tree version while filling the state.
const FILL_CHUNK: usize = 250_000;

/// The account keys of indices `range`, derived from their index, on every core.
fn account_keys(range: std::ops::Range<usize>) -> Vec<PublicKey> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = range.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let start = range.start + t * chunk;
                let end = (start + chunk).min(range.end);
                scope.spawn(move || {
                    (start..end)
                        .map(|i| keypair(i).public())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("key thread"))
            .collect()
    })
}

fn keypair(i: usize) -> Keypair {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    Keypair::from_seed(&seed)
}

fn genesis(senders: &[Keypair]) -> Genesis {
    let validator = Keypair::from_seed(&[0xff; 32]);
    Genesis {
        chain_name: "state-growth".into(),
        timestamp: TimestampMs::new(1),
        validators: ValidatorSet::new(vec![Validator {
            key: validator.public(),
            weight: 1,
        }])
        .expect("validator set"),
        hostchains: vec![],
        relayers: RelayerSet {
            members: vec![
                Relayer::new(validator.public(), [("evm", &[1; 20][..])]).expect("relayer"),
            ],
            threshold: 1,
        },
        balances: senders
            .iter()
            .map(|k| (k.public(), Amount::new(BALANCE)))
            .collect(),
    }
}

/// Block `round`'s transfers: sender `i` (one of the first 2,000 accounts) pays a recipient
/// spread over the whole state; every tenth asks for more than the sender holds and fails.
fn transfers(
    senders: &[Keypair],
    accounts: usize,
    symbiote: symbiote::types::SymbioteId,
    round: u64,
) -> Vec<SignedTransaction> {
    senders
        .iter()
        .enumerate()
        .map(|(i, sender)| {
            let spread = (i as u64 * 7_919 + round * 104_729) as usize % accounts;
            let fails = i % 10 == 9;
            let amount = if fails { BALANCE * 10 } else { 1 };
            SignedTransaction::sign(
                sender,
                symbiote,
                // A failed transfer does not use its nonce.
                Nonce::new(if fails { 0 } else { round - 1 }),
                Transaction::Transfer {
                    to: keypair(spread).public(),
                    asset: Asset::Native,
                    amount: Amount::new(amount),
                },
            )
        })
        .collect()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

struct Figures {
    accounts: usize,
    build: Duration,
    apply: Duration,
    included: usize,
}

fn measure(count: usize, blocks: u64) -> Figures {
    let started = Instant::now();
    let senders: Vec<Keypair> = (0..TRANSFERS).map(keypair).collect();
    let genesis = genesis(&senders);
    let symbiote_id = genesis.symbiote_id();
    let store = MemoryStore::latest_only();
    let first = ChainState::genesis(&genesis, store.clone()).expect("genesis state");
    // The other accounts, written straight into the tree a chunk per version (as blocks would
    // have, without executing the transactions that made them).
    let mut meta = first.meta().clone();
    let mut version = 0;
    for start in (TRANSFERS..count).step_by(FILL_CHUNK) {
        version += 1;
        meta.height = Height::new(version);
        let mut writes = BTreeMap::new();
        writes.insert(
            StateKey::Meta.key_hash(),
            Some(borsh::to_vec(&meta).expect("meta")),
        );
        let account = borsh::to_vec(&Account {
            nonce: Nonce::new(0),
            balances: [(Asset::Native, Amount::new(BALANCE))].into(),
        })
        .expect("account");
        for key in account_keys(start..(start + FILL_CHUNK).min(count)) {
            writes.insert(StateKey::Account(key).key_hash(), Some(account.clone()));
        }
        let (_, batch) = tree::put(store.as_ref(), version, writes).expect("fill");
        store.write(version, &batch).expect("write");
    }
    let mut state = ChainState::open(store, Height::new(version)).expect("open");
    eprintln!(
        "state_growth: {count} accounts set up in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let (mut builds, mut applies, mut included) = (Vec::new(), Vec::new(), 0);
    for round in 1..=blocks {
        let height = Height::new(version + round);
        let txs = transfers(&senders, count, symbiote_id, round);
        // Build: try every transaction on the block's overlay, keep those that apply.
        let t = Instant::now();
        let mut execution = state.begin(height).expect("begin");
        let mut accepted = Vec::new();
        for tx in &txs {
            if execution.apply(tx).is_ok() {
                accepted.push(tx.clone());
            }
        }
        let built = execution.finish().expect("finish");
        builds.push(t.elapsed());
        included = accepted.len();
        // Apply the built block as a validator does: execute, check the root, commit.
        let t = Instant::now();
        let update = state.execute_block(height, &accepted).expect("execute");
        assert_eq!(update.root(), built.root(), "the same block, the same root");
        state.commit(update).expect("commit");
        applies.push(t.elapsed());
    }
    Figures {
        accounts: count,
        build: median(builds),
        apply: median(applies),
        included,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the command line.
    let sizes: Vec<usize> = std::env::var("STATE_GROWTH_ACCOUNTS")
        .unwrap_or_else(|_| "10000,1000000".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("STATE_GROWTH_ACCOUNTS: comma-separated counts")
        })
        .collect();
    let blocks: u64 = std::env::var("STATE_GROWTH_BLOCKS")
        .ok()
        .map_or(5, |s| s.parse().expect("STATE_GROWTH_BLOCKS: a count"));
    let figures: Vec<Figures> = sizes
        .into_iter()
        .map(|n| measure(n.max(TRANSFERS), blocks))
        .collect();
    let base = &figures[0];
    println!(
        "{:>12} {:>10} {:>12} {:>10} {:>12} {:>10} {:>9}",
        "accounts", "build ms", "build tx/s", "ratio", "apply ms", "apply tx/s", "ratio"
    );
    for f in &figures {
        let rate = |d: Duration| f.included as f64 / d.as_secs_f64();
        println!(
            "{:>12} {:>10.1} {:>12.0} {:>10.2} {:>12.1} {:>10.0} {:>9.2}",
            f.accounts,
            f.build.as_secs_f64() * 1e3,
            rate(f.build),
            f.build.as_secs_f64() / base.build.as_secs_f64(),
            f.apply.as_secs_f64() * 1e3,
            rate(f.apply),
            f.apply.as_secs_f64() / base.apply.as_secs_f64(),
        );
    }
    println!(
        "{} transfers per block tried, {} applied (one in ten fails)",
        TRANSFERS, base.included
    );
}

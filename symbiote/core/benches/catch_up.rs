//! Catching up a chain: a relayer's verification against a node's own block application over
//! the same blocks.
//!
//! A chain of `CATCH_UP_BLOCKS` blocks (default 100,000) is made first: four validators, two
//! transfers per block and a burn (a withdrawal order) every 20 blocks, each block certified by
//! three of the four. Then, timed over the same blocks:
//! - the node: each block's certificate checked against the validator set, its transaction root
//!   checked, its transactions executed and the state committed (the tree store in memory);
//! - the relayer: each header verified by the light client from genesis and its transaction root
//!   checked, and every `STEP_BLOCKS` blocks (a bridge step) the proofs of what the relayer uses
//!   checked against the verified state root: the chain's counters, the sets and every
//!   withdrawal order made since the previous step. Proofs are made by the node beforehand (the
//!   node's work, not the relayer's). Storing blocks in the relayer's database is measured
//!   apart by the relayer's `follow_and_store` bench.
//!
//! Run: `cargo bench -p symbiote --bench catch_up` (about three minutes on two cores);
//! `CATCH_UP_BLOCKS=10000` for a short run.

// Benchmark setup: a failed fixture step should abort loudly.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use symbiote::block::{Block, FinalizedBlock, HEADER_VERSION, Header, tx_root};
use symbiote::certificate::{QuorumBuilder, sign_vote};
use symbiote::crypto::Keypair;
use symbiote::genesis::Genesis;
use symbiote::light_client::LightClient;
use symbiote::state::{ChainState, MemoryStore, StateKey, StateProof, StateStore};
use symbiote::tx::{
    Asset, Deposit, DepositId, Relayer, RelayerSet, SignedTransaction, Transaction,
};
use symbiote::types::{
    Amount, Height, HostAddress, HostTxId, HostchainId, Nonce, TimestampMs, TokenId,
};
use symbiote::validators::{Validator, ValidatorSet};

/// Blocks between two bridge steps of the relayer.
const STEP_BLOCKS: u64 = 100;

struct Chain {
    genesis: Genesis,
    blocks: Vec<FinalizedBlock<SignedTransaction>>,
    /// Per bridge step: the height and the proofs the relayer checks there.
    steps: Vec<(u64, Vec<StateProof>)>,
}

fn make_chain(count: u64) -> Chain {
    let validators: Vec<Keypair> = (0..4u8).map(|i| Keypair::from_seed(&[i + 1; 32])).collect();
    let users: Vec<Keypair> = (0..2u8)
        .map(|i| Keypair::from_seed(&[i + 10; 32]))
        .collect();
    let hostchain = HostchainId::new("evm-1").unwrap();
    let set = ValidatorSet::new(
        validators
            .iter()
            .map(|k| Validator {
                key: k.public(),
                weight: 1,
            })
            .collect(),
    )
    .unwrap();
    let genesis = Genesis {
        chain_name: "catch-up".into(),
        timestamp: TimestampMs::new(1),
        validators: set.clone(),
        hostchains: vec![hostchain.clone()],
        relayers: RelayerSet {
            members: vec![Relayer::new(users[0].public(), [("evm", &[1; 20][..])]).unwrap()],
            threshold: 1,
        },
        balances: users
            .iter()
            .map(|u| (u.public(), Amount::new(u128::MAX / 4)))
            .collect(),
    };
    let symbiote = genesis.symbiote_id();
    let store = MemoryStore::with_history();
    let mut state = ChainState::genesis(&genesis, store.clone()).unwrap();
    let mut parent = genesis.header().unwrap();
    let (mut blocks, mut steps, mut withdrawals) = (Vec::new(), Vec::new(), 1u64);
    let mut last_step_orders = 1u64;
    for h in 1..=count {
        let height = Height::new(h);
        let mut txs = Vec::new();
        for (i, user) in users.iter().enumerate() {
            let nonce = Nonce::new(state.account(&user.public()).unwrap().nonce.get());
            let body = if i == 0 && h == 1 {
                // The relayer (a set of one) mints itself what it burns later.
                Transaction::Attest {
                    deposits: vec![Deposit {
                        id: DepositId {
                            hostchain: hostchain.clone(),
                            tx: HostTxId::new("0xfunding").unwrap(),
                            index: 0,
                        },
                        token: TokenId::native(),
                        amount: Amount::new(u128::from(count)),
                        recipient: user.public(),
                    }],
                }
            } else if i == 0 && h % 20 == 0 {
                withdrawals += 1;
                Transaction::Burn {
                    hostchain: hostchain.clone(),
                    token: TokenId::native(),
                    amount: Amount::new(1),
                    destination: HostAddress::new("0x00000000000000000000000000000000000000aa")
                        .unwrap(),
                }
            } else {
                Transaction::Transfer {
                    to: users[1 - i].public(),
                    asset: Asset::Native,
                    amount: Amount::new(1),
                }
            };
            txs.push(SignedTransaction::sign(user, symbiote, nonce, body));
        }
        let update = state.execute_block(height, &txs).unwrap();
        let header = Header {
            version: HEADER_VERSION,
            symbiote,
            height,
            parent: parent.hash(),
            timestamp: TimestampMs::new(1 + h * 1_000),
            proposer: validators[0].public(),
            tx_root: tx_root(&txs).unwrap(),
            state_root: update.root(),
            validator_set_hash: set.hash(),
            next_validator_set_hash: update.validators().hash(),
        };
        state.commit(update).unwrap();
        let hash = header.hash();
        let mut quorum = QuorumBuilder::new(set.clone(), symbiote, height, hash);
        for key in &validators[..3] {
            quorum
                .add_vote(&key.public(), sign_vote(key, &symbiote, height, &hash))
                .unwrap();
        }
        parent = header.clone();
        blocks.push(FinalizedBlock {
            block: Block {
                header,
                transactions: txs,
            },
            certificate: quorum.build().unwrap(),
        });
        if h % STEP_BLOCKS == 0 {
            let mut keys = vec![StateKey::Meta, StateKey::Sets];
            keys.extend(
                (last_step_orders..withdrawals).map(|n| StateKey::Withdrawal(Nonce::new(n))),
            );
            last_step_orders = withdrawals;
            let proofs = keys.iter().map(|k| state.prove(k).unwrap()).collect();
            steps.push((h, proofs));
        }
    }
    assert!(store.latest().is_some());
    Chain {
        genesis,
        blocks,
        steps,
    }
}

/// The node: certificate, transaction root, execution and commit of every block.
fn node_apply(chain: &Chain) -> Duration {
    let started = Instant::now();
    let mut state = ChainState::genesis(&chain.genesis, MemoryStore::latest_only()).unwrap();
    for finalized in &chain.blocks {
        let block = &finalized.block;
        finalized.verify(state.validators()).unwrap();
        block.check_tx_root().unwrap();
        let update = state
            .execute_block(block.header.height, &block.transactions)
            .unwrap();
        assert_eq!(update.root(), block.header.state_root);
        state.commit(update).unwrap();
    }
    started.elapsed()
}

/// The relayer: light-client verification of every header, the transaction roots, and the
/// proofs of each bridge step against the verified state root.
fn relayer_follow(chain: &Chain) -> Duration {
    let started = Instant::now();
    let mut client = LightClient::new(
        chain.genesis.header().unwrap(),
        chain.genesis.validators.clone(),
    )
    .unwrap();
    let mut steps = chain.steps.iter().peekable();
    let mut checked = 0;
    for finalized in &chain.blocks {
        let header = &finalized.block.header;
        finalized.block.check_tx_root().unwrap();
        client
            .verify_next(header, &finalized.certificate, None)
            .unwrap();
        if let Some((_, proofs)) = steps.next_if(|(h, _)| *h == header.height.get()) {
            for proof in proofs {
                proof.verify(&client.head().state_root).unwrap();
                checked += 1;
            }
        }
    }
    assert!(checked > 0);
    started.elapsed()
}

fn main() {
    let count: u64 = std::env::var("CATCH_UP_BLOCKS")
        .ok()
        .map_or(100_000, |s| s.parse().expect("CATCH_UP_BLOCKS: a count"));
    let t = Instant::now();
    let chain = make_chain(count);
    let proofs: usize = chain.steps.iter().map(|(_, p)| p.len()).sum();
    eprintln!(
        "catch_up: {count} blocks made in {:.1} s ({proofs} proofs at {} steps)",
        t.elapsed().as_secs_f64(),
        chain.steps.len()
    );
    let node = node_apply(&chain);
    let relayer = relayer_follow(&chain);
    let rate = |d: Duration| count as f64 / d.as_secs_f64();
    println!("{:>10} {:>10} {:>12}", "", "seconds", "blocks/s");
    println!(
        "{:>10} {:>10.2} {:>12.0}",
        "node",
        node.as_secs_f64(),
        rate(node)
    );
    println!(
        "{:>10} {:>10.2} {:>12.0}",
        "relayer",
        relayer.as_secs_f64(),
        rate(relayer)
    );
    println!(
        "relayer rate / node rate: {:.2} ({count} blocks, {proofs} proofs checked)",
        rate(relayer) / rate(node)
    );
}

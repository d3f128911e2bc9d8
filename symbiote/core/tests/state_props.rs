//! Properties of the authenticated state, over any sequence of blocks of transactions (some of
//! them refused): the root built block by block equals the root of the same entries built from
//! nothing, whether the store keeps history or only the latest version; every entry proves
//! against the root, absent ones too; and a proof with any byte changed proves nothing false.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;

use symbiote::crypto::Keypair;
use symbiote::genesis::Genesis;
use symbiote::state::tree::root_of_entries;
use symbiote::state::{
    ChainState, Entry, Execution, MemoryStore, StateKey, StateProof, StateReader, StateStore,
};
use symbiote::tx::{Asset, Relayer, RelayerSet, SignedTransaction, Transaction};
use symbiote::types::{Amount, HostAddress, HostchainId, Nonce, SymbioteId, TimestampMs, TokenId};
use symbiote::validators::{Validator, ValidatorSet};

const USERS: u8 = 6;

fn user(i: u8) -> Keypair {
    Keypair::from_seed(&[i.wrapping_add(100); 32])
}

fn genesis() -> Genesis {
    let validator = Keypair::from_seed(&[1; 32]);
    let relayer = Keypair::from_seed(&[2; 32]);
    Genesis {
        chain_name: "state-props".into(),
        timestamp: TimestampMs::new(0),
        validators: ValidatorSet::new(vec![Validator {
            key: validator.public(),
            weight: 1,
        }])
        .unwrap(),
        hostchains: vec![HostchainId::new("evm-31337").unwrap()],
        relayers: RelayerSet {
            members: vec![Relayer::new(relayer.public(), [("evm", &[7u8; 20][..])]).unwrap()],
            threshold: 1,
        },
        // Half the users start with coins; the others only receive.
        balances: (0..USERS / 2)
            .map(|i| (user(i).public(), Amount::new(1_000)))
            .collect(),
    }
}

/// One transaction a test block tries.
#[derive(Clone, Debug)]
enum Op {
    /// A transfer; may be refused (zero amount, more than the balance, a wrong nonce).
    Transfer {
        from: u8,
        to: u8,
        amount: u128,
        nonce_skew: u8,
    },
    /// A burn of a wrapped token nobody holds: always refused.
    Burn { from: u8, amount: u128 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..USERS, 0..USERS, 0u128..700, prop_oneof![4 => Just(0u8), 1 => 1u8..3])
            .prop_map(|(from, to, amount, nonce_skew)| Op::Transfer { from, to, amount, nonce_skew }),
        1 => (0..USERS, 1u128..10).prop_map(|(from, amount)| Op::Burn { from, amount }),
    ]
}

fn sign(execution: &Execution<'_>, symbiote: SymbioteId, op: &Op) -> SignedTransaction {
    let (from, body, skew) = match op {
        Op::Transfer {
            from,
            to,
            amount,
            nonce_skew,
        } => (
            *from,
            Transaction::Transfer {
                to: user(*to).public(),
                asset: Asset::Native,
                amount: Amount::new(*amount),
            },
            *nonce_skew,
        ),
        Op::Burn { from, amount } => (
            *from,
            Transaction::Burn {
                hostchain: HostchainId::new("evm-31337").unwrap(),
                token: TokenId::new("0x00000000000000000000000000000000000000aa").unwrap(),
                amount: Amount::new(*amount),
                destination: HostAddress::new("0x00000000000000000000000000000000000000bb")
                    .unwrap(),
            },
            0,
        ),
    };
    let key = user(from);
    let nonce = execution.account(&key.public()).unwrap().nonce.get() + u64::from(skew);
    SignedTransaction::sign(&key, symbiote, Nonce::new(nonce), body)
}

/// Builds each block as a proposer does (trying every transaction, keeping those accepted)
/// and commits it; returns the roots after each block.
fn run(state: &mut ChainState, blocks: &[Vec<Op>]) -> Vec<symbiote::hash::Hash> {
    let mut roots = Vec::new();
    for ops in blocks {
        let height = state.height().next().unwrap();
        let update = {
            let mut execution = state.begin(height).unwrap();
            for op in ops {
                // Each transaction is signed against the block so far: its nonce follows the
                // sender's earlier transactions in the block that were accepted.
                let tx = sign(&execution, state.symbiote(), op);
                let _ = execution.apply(&tx);
            }
            execution.finish().unwrap()
        };
        state.commit(update).unwrap();
        roots.push(state.root());
    }
    roots
}

fn keys_to_check() -> Vec<StateKey> {
    let mut keys = vec![StateKey::Meta, StateKey::Sets];
    keys.extend((0..USERS).map(|i| StateKey::Account(user(i).public())));
    keys.push(StateKey::Withdrawal(Nonce::new(1)));
    // Never given anything: absent.
    keys.push(StateKey::Account(Keypair::from_seed(&[9; 32]).public()));
    keys
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn incremental_root_equals_the_root_built_from_nothing(
        blocks in proptest::collection::vec(proptest::collection::vec(op(), 0..8), 1..6)
    ) {
        let history = MemoryStore::with_history();
        let mut state = ChainState::genesis(&genesis(), history.clone()).unwrap();
        let roots = run(&mut state, &blocks);

        let latest_only = MemoryStore::latest_only();
        let mut lean = ChainState::genesis(&genesis(), latest_only.clone()).unwrap();
        prop_assert_eq!(run(&mut lean, &blocks), roots.clone());
        prop_assert!(latest_only.node_count() <= history.node_count());

        let entries = history.entries(state.height().get()).unwrap();
        prop_assert_eq!(root_of_entries(entries).unwrap(), state.root());
        prop_assert_eq!(latest_only.entries(lean.height().get()).unwrap(),
                        history.entries(state.height().get()).unwrap());
    }

    #[test]
    fn every_entry_proves_and_a_changed_byte_proves_nothing(
        blocks in proptest::collection::vec(proptest::collection::vec(op(), 0..8), 1..5),
        flip_at in any::<prop::sample::Index>(),
        flip_bits in 1u8..=255,
    ) {
        let store = MemoryStore::with_history();
        let mut state = ChainState::genesis(&genesis(), store.clone()).unwrap();
        let first_root = state.root();
        run(&mut state, &blocks);
        let root = state.root();
        for key in keys_to_check() {
            let proof = state.prove(&key).unwrap();
            let stored = state.value(&key).unwrap();
            prop_assert_eq!(&proof.value, &stored);
            let entry = proof.verify(&root).unwrap();
            prop_assert_eq!(entry.is_some(), stored.is_some());
            if let (StateKey::Account(k), Some(Entry::Account(account))) = (&key, &entry) {
                prop_assert_eq!(account, &state.account(k).unwrap());
            }
            // Claiming the other answer fails: a present entry cannot be proven absent, nor an
            // absent one present, nor a present one with another value.
            let mut lie = proof.clone();
            lie.value = match &proof.value {
                Some(_) => None,
                None => Some(borsh::to_vec(&symbiote::state::Account::default()).unwrap()),
            };
            prop_assert!(lie.verify(&root).is_err());
            if let Some(value) = &proof.value {
                let mut other = value.clone();
                other.push(0);
                let lie = StateProof { value: Some(other), ..proof.clone() };
                prop_assert!(lie.verify(&root).is_err());
            }
            // A proof of this height does not prove against genesis' root, unless the entry
            // did not change in between.
            if store.value(0, key.key_hash()).unwrap() != stored {
                prop_assert!(proof.verify(&first_root).is_err());
            }
            // Any byte changed: the proof no longer decodes, no longer verifies, or proves a
            // claim that is true (a changed key of an absent entry can land on another absent
            // key in the same empty subtree).
            let mut bytes = borsh::to_vec(&proof).unwrap();
            let at = flip_at.index(bytes.len());
            bytes[at] ^= flip_bits;
            if let Ok(tampered) = borsh::from_slice::<StateProof>(&bytes)
                && tampered.verify(&root).is_ok()
            {
                prop_assert_eq!(
                    &tampered.value,
                    &state.value(&tampered.key).unwrap(),
                    "byte {} changed and proves a false claim about {}", at, tampered.key
                );
                prop_assert!(tampered.key != key || tampered.value == proof.value);
            }
            // And its JSON form reads back to the same proof.
            let json = serde_json::to_string(&proof).unwrap();
            prop_assert_eq!(serde_json::from_str::<StateProof>(&json).unwrap(), proof);
        }
    }

    #[test]
    fn proofs_of_past_heights_verify_against_their_roots(
        blocks in proptest::collection::vec(proptest::collection::vec(op(), 1..6), 2..5),
    ) {
        let store = MemoryStore::with_history();
        let mut state = ChainState::genesis(&genesis(), store.clone()).unwrap();
        let mut states = vec![state.clone()];
        for block in &blocks {
            run(&mut state, std::slice::from_ref(block));
            states.push(state.clone());
        }
        for past in &states {
            for key in keys_to_check() {
                let proof = past.prove(&key).unwrap();
                prop_assert_eq!(&proof.value, &past.value(&key).unwrap());
                proof.verify(&past.root()).unwrap();
            }
        }
    }
}

#[test]
fn a_store_that_keeps_only_the_latest_version_refuses_reads_of_an_older_one() {
    let store = MemoryStore::latest_only();
    let mut state = ChainState::genesis(&genesis(), store.clone()).unwrap();
    let before = state.clone();
    run(
        &mut state,
        &[vec![Op::Transfer {
            from: 0,
            to: 4,
            amount: 5,
            nonce_skew: 0,
        }]],
    );
    let error = before.account(&user(0).public()).unwrap_err();
    assert!(
        error.to_string().contains("no longer held"),
        "unexpected error: {error}"
    );
    assert_eq!(
        state.account(&user(4).public()).unwrap().balances[&Asset::Native],
        Amount::new(5)
    );
    // Writing a version that does not follow the latest is refused.
    let update = before.execute_block(before.height().next().unwrap(), &[]);
    let error = match update {
        Ok(update) => update.commit_to(store.clone()).unwrap_err(),
        Err(error) => error,
    };
    assert!(error.to_string().contains("version"), "{error}");
    assert_eq!(store.latest(), Some(1));
}

//! The state machine's rules, through the public API: each refusal names what is wrong, and a
//! refused transaction changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use symbiote::codec::{Canonical, CodecError};
use symbiote::crypto::{Keypair, Signature};
use symbiote::genesis::Genesis;
use symbiote::state::{ChainState, Effect, ProposalStatus, StateError, TxError};
use symbiote::tx::{
    Asset, Deposit, DepositId, GovernanceChange, ProposalId, Relayer, RelayerSet,
    SignedTransaction, Transaction,
};
use symbiote::types::{
    Amount, Height, HostAddress, HostTxId, HostchainId, Nonce, TimestampMs, TokenId,
};
use symbiote::validators::{Validator, ValidatorSet};

struct World {
    validators: Vec<Keypair>,
    relayers: Vec<Keypair>,
    user: Keypair,
    state: ChainState,
}

fn chain(name: &str) -> HostchainId {
    HostchainId::new(name).unwrap()
}

fn world(relayer_threshold: u16) -> World {
    let validators: Vec<Keypair> = (0..4).map(|_| Keypair::generate()).collect();
    let relayers: Vec<Keypair> = (0..3).map(|_| Keypair::generate()).collect();
    let user = Keypair::generate();
    let genesis = Genesis {
        chain_name: "test-chain".into(),
        timestamp: TimestampMs::new(0),
        validators: ValidatorSet::new(
            validators
                .iter()
                .map(|k| Validator {
                    key: k.public(),
                    weight: 1,
                })
                .collect(),
        )
        .unwrap(),
        hostchains: vec![chain("evm-31337"), chain("bitcoin-regtest")],
        relayers: RelayerSet {
            members: relayers
                .iter()
                .enumerate()
                .map(|(i, k)| Relayer::new(k.public(), [("evm", &[i as u8 + 1; 20][..])]).unwrap())
                .collect(),
            threshold: relayer_threshold,
        },
        balances: vec![(user.public(), Amount::new(1_000))],
    };
    let state = ChainState::in_memory(&genesis).unwrap();
    World {
        validators,
        relayers,
        user,
        state,
    }
}

impl World {
    fn sign(&self, key: &Keypair, body: Transaction) -> SignedTransaction {
        let nonce = self.state.account(&key.public()).unwrap().nonce;
        SignedTransaction::sign(key, self.state.symbiote(), nonce, body)
    }

    fn next_height(&self) -> Height {
        self.state.height().next().unwrap()
    }

    /// Applies one block with these transactions.
    fn block(&mut self, txs: &[SignedTransaction]) -> Result<Vec<Effect>, StateError> {
        let height = self.next_height();
        self.state.apply_block(height, txs)
    }

    fn refused(&mut self, tx: &SignedTransaction) -> TxError {
        let before = self.state.clone();
        let err = match self.block(std::slice::from_ref(tx)) {
            Err(StateError::Transaction { error, .. }) => error,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert_eq!(self.state, before, "a refused block must change nothing");
        err
    }

    fn deposit(&self, tx: &str, amount: u128) -> Deposit {
        Deposit {
            id: DepositId {
                hostchain: chain("evm-31337"),
                tx: HostTxId::new(tx).unwrap(),
                index: 0,
            },
            token: TokenId::new("0x00000000000000000000000000000000000000aa").unwrap(),
            amount: Amount::new(amount),
            recipient: self.user.public(),
        }
    }

    fn mint(&self, deposit: Deposit, signers: &[usize]) -> SignedTransaction {
        let attestations = signers
            .iter()
            .map(|&i| {
                (
                    i as u16,
                    deposit.attest(self.state.symbiote(), &self.relayers[i]),
                )
            })
            .collect();
        self.sign(
            &self.relayers[0],
            Transaction::Mint {
                deposit,
                attestations,
            },
        )
    }
}

fn native_transfer(to: &Keypair, amount: u128) -> Transaction {
    Transaction::Transfer {
        to: to.public(),
        asset: Asset::Native,
        amount: Amount::new(amount),
    }
}

#[test]
fn transfer_moves_balance_and_bumps_nonce() {
    let mut w = world(2);
    let bob = Keypair::generate();
    let tx = w.sign(&w.user, native_transfer(&bob, 400));
    w.block(&[tx]).unwrap();
    let user = w.state.account(&w.user.public()).unwrap();
    assert_eq!(user.balances.get(&Asset::Native), Some(&Amount::new(600)));
    assert_eq!(user.nonce, Nonce::new(1));
    assert_eq!(
        w.state
            .account(&bob.public())
            .unwrap()
            .balances
            .get(&Asset::Native),
        Some(&Amount::new(400))
    );
}

#[test]
fn bad_signature_is_refused() {
    let mut w = world(2);
    let bob = Keypair::generate();
    let mut tx = w.sign(&w.user, native_transfer(&bob, 1));
    tx.signature = Signature([7u8; 64]);
    assert!(matches!(w.refused(&tx), TxError::BadSignature(_)));
    // Signed for another symbiote: also a bad signature here.
    let other = SignedTransaction::sign(
        &w.user,
        symbiote::types::SymbioteId::from_name("other-chain"),
        Nonce::new(0),
        native_transfer(&bob, 1),
    );
    assert!(matches!(w.refused(&other), TxError::BadSignature(_)));
}

#[test]
fn replayed_nonce_is_refused() {
    let mut w = world(2);
    let bob = Keypair::generate();
    let tx = w.sign(&w.user, native_transfer(&bob, 1));
    w.block(std::slice::from_ref(&tx)).unwrap();
    let err = w.refused(&tx);
    assert_eq!(
        err,
        TxError::NonceMismatch {
            expected: Nonce::new(1),
            got: Nonce::new(0)
        }
    );
    assert!(err.to_string().contains("nonce 0"), "{err}");
}

#[test]
fn overspend_is_refused() {
    let mut w = world(2);
    let bob = Keypair::generate();
    let tx = w.sign(&w.user, native_transfer(&bob, 1_001));
    let err = w.refused(&tx);
    assert!(matches!(err, TxError::InsufficientBalance { .. }), "{err}");
    assert!(err.to_string().contains("has 1000, needs 1001"), "{err}");
    let zero = w.sign(&w.user, native_transfer(&bob, 0));
    assert_eq!(w.refused(&zero), TxError::ZeroAmount);
}

#[test]
fn mint_is_accepted_once_with_the_relayer_threshold() {
    let mut w = world(2);
    let deposit = w.deposit("0xabc1", 250);
    let mint = w.mint(deposit.clone(), &[0, 2]);
    let effects = w.block(&[mint]).unwrap();
    assert_eq!(effects, vec![Effect::Minted(deposit.id.clone())]);
    assert!(w.state.is_minted(&deposit.id).unwrap());
    assert_eq!(
        w.state
            .account(&w.user.public())
            .unwrap()
            .balances
            .get(&deposit.asset()),
        Some(&Amount::new(250))
    );

    let again = w.mint(deposit, &[0, 1]);
    let err = w.refused(&again);
    assert!(matches!(err, TxError::DuplicateMint(_)), "{err}");
    assert!(err.to_string().contains("already minted"), "{err}");
}

#[test]
fn mint_without_the_relayer_threshold_is_refused() {
    let mut w = world(2);
    let one = w.mint(w.deposit("0xabc2", 5), &[1]);
    assert_eq!(
        w.refused(&one),
        TxError::MintThreshold {
            valid: 1,
            threshold: 2
        }
    );
    // Two attestations, one of them by a key outside the relayer set (forged at index 1).
    let deposit = w.deposit("0xabc3", 5);
    let outsider = Keypair::generate();
    let tx = w.sign(
        &w.relayers[0],
        Transaction::Mint {
            attestations: vec![
                (0, deposit.attest(w.state.symbiote(), &w.relayers[0])),
                (1, deposit.attest(w.state.symbiote(), &outsider)),
            ],
            deposit,
        },
    );
    assert!(matches!(
        w.refused(&tx),
        TxError::BadAttestation { position: 1, .. }
    ));
    // The same relayer twice does not count twice.
    let deposit = w.deposit("0xabc4", 5);
    let sig = deposit.attest(w.state.symbiote(), &w.relayers[0]);
    let tx = w.sign(
        &w.relayers[0],
        Transaction::Mint {
            attestations: vec![(0, sig), (0, sig)],
            deposit,
        },
    );
    assert!(matches!(w.refused(&tx), TxError::BadAttestation { .. }));
}

#[test]
fn burn_creates_sequential_withdrawal_orders() {
    let mut w = world(1);
    let deposit = w.deposit("0xdead", 100);
    let token = deposit.token.clone();
    w.block(&[w.mint(deposit, &[0])]).unwrap();
    let burn = |w: &World, amount: u128| {
        w.sign(
            &w.user,
            Transaction::Burn {
                hostchain: chain("evm-31337"),
                token: token.clone(),
                amount: Amount::new(amount),
                destination: HostAddress::new("0x00000000000000000000000000000000000000bb")
                    .unwrap(),
            },
        )
    };
    let first = burn(&w, 30);
    w.block(&[first]).unwrap();
    let second = burn(&w, 70);
    w.block(&[second]).unwrap();
    let orders = w.state.withdrawals(Nonce::new(1), 10).unwrap();
    assert_eq!(orders.len(), 2);
    assert_eq!(orders[0].nonce, Nonce::new(1));
    assert_eq!(orders[1].nonce, Nonce::new(2));
    assert_eq!(orders[1].amount, Amount::new(70));
    let over = burn(&w, 1);
    assert!(matches!(
        w.refused(&over),
        TxError::InsufficientBalance { .. }
    ));
}

#[test]
fn vote_by_a_non_validator_is_refused() {
    let mut w = world(2);
    let propose = w.sign(
        &w.validators[0],
        Transaction::Propose {
            change: GovernanceChange::Hostchains(vec![chain("solana-local")]),
            activation: Height::new(10),
        },
    );
    w.block(&[propose]).unwrap();
    let vote = w.sign(
        &w.user,
        Transaction::Vote {
            proposal: ProposalId(1),
            approve: true,
        },
    );
    assert_eq!(w.refused(&vote), TxError::NotAValidator(w.user.public()));
    let propose = w.sign(
        &w.user,
        Transaction::Propose {
            change: GovernanceChange::Hostchains(vec![]),
            activation: Height::new(10),
        },
    );
    assert_eq!(w.refused(&propose), TxError::NotAValidator(w.user.public()));
}

#[test]
fn hostchain_change_takes_effect_exactly_at_its_activation_height() {
    let mut w = world(2);
    let old = w.state.hostchains().to_vec();
    let new = vec![chain("evm-31337"), chain("solana-local")];
    let activation = Height::new(6);
    let propose = w.sign(
        &w.validators[0],
        Transaction::Propose {
            change: GovernanceChange::Hostchains(new.clone()),
            activation,
        },
    );
    w.block(&[propose]).unwrap(); // height 1
    let votes: Vec<_> = w.validators[1..3]
        .iter()
        .map(|v| {
            w.sign(
                v,
                Transaction::Vote {
                    proposal: ProposalId(1),
                    approve: true,
                },
            )
        })
        .collect();
    w.block(&votes).unwrap(); // height 2: 3 of 4 approve
    assert_eq!(
        w.state.proposal(ProposalId(1)).unwrap().unwrap().status,
        ProposalStatus::Approved
    );
    while w.state.height() < Height::new(4) {
        w.block(&[]).unwrap();
        assert_eq!(w.state.hostchains(), old.as_slice());
    }
    w.block(&[]).unwrap(); // height 5 ends: block 6 runs under the new set
    assert_eq!(w.state.hostchains(), new.as_slice());
    let sets = w.state.set_history();
    assert_eq!(sets.hostchains_at(Height::new(5)), old.as_slice());
    assert_eq!(sets.hostchains_at(activation), new.as_slice());
    assert_eq!(
        w.state.proposal(ProposalId(1)).unwrap().unwrap().status,
        ProposalStatus::Activated
    );
}

#[test]
fn an_unapproved_proposal_expires_and_changes_nothing() {
    let mut w = world(2);
    let propose = w.sign(
        &w.validators[0],
        Transaction::Propose {
            change: GovernanceChange::Hostchains(vec![chain("solana-local")]),
            activation: Height::new(3),
        },
    );
    w.block(&[propose]).unwrap();
    w.block(&[]).unwrap();
    assert_eq!(
        w.state.proposal(ProposalId(1)).unwrap().unwrap().status,
        ProposalStatus::Expired
    );
    assert_eq!(w.state.hostchains().len(), 2);
    let late = w.sign(
        &w.validators[1],
        Transaction::Vote {
            proposal: ProposalId(1),
            approve: true,
        },
    );
    assert!(matches!(w.refused(&late), TxError::ProposalClosed { .. }));
}

#[test]
fn validator_set_change_switches_the_signing_set() {
    let mut w = world(2);
    let newcomer = Keypair::generate();
    let set = ValidatorSet::new(vec![
        Validator {
            key: w.validators[0].public(),
            weight: 1,
        },
        Validator {
            key: newcomer.public(),
            weight: 1,
        },
    ])
    .unwrap();
    let mut txs = vec![w.sign(
        &w.validators[0],
        Transaction::Propose {
            change: GovernanceChange::Validators(set.clone()),
            activation: Height::new(3),
        },
    )];
    for v in &w.validators[1..3] {
        txs.push(w.sign(
            v,
            Transaction::Vote {
                proposal: ProposalId(1),
                approve: true,
            },
        ));
    }
    w.block(&txs).unwrap(); // height 1
    let before = w.state.validators().clone();
    w.block(&[]).unwrap(); // height 2 ends: height 3 is signed by the new set
    assert_eq!(w.state.validators(), &set);
    assert_eq!(w.state.set_history().validators_at(Height::new(2)), &before);
    // Removed validators can no longer vote.
    let propose = w.sign(
        &w.validators[3],
        Transaction::Propose {
            change: GovernanceChange::Hostchains(vec![]),
            activation: Height::new(9),
        },
    );
    assert!(matches!(w.refused(&propose), TxError::NotAValidator(_)));
}

#[test]
fn malformed_transactions_do_not_decode() {
    let w = world(2);
    let bob = Keypair::generate();
    let tx = w.sign(&w.user, native_transfer(&bob, 1));
    let bytes = tx.encode();
    assert_eq!(SignedTransaction::decode(&bytes).unwrap(), tx);
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(
        SignedTransaction::decode(&trailing),
        Err(CodecError::TrailingBytes { .. })
    ));
    assert!(SignedTransaction::decode(&bytes[..bytes.len() - 1]).is_err());
    let mut version = bytes.clone();
    version[0] = 99;
    assert!(matches!(
        SignedTransaction::decode(&version),
        Err(CodecError::UnknownVersion { .. })
    ));
    let huge = vec![1u8; SignedTransaction::MAX_ENCODED_LEN + 1];
    assert!(matches!(
        SignedTransaction::decode(&huge),
        Err(CodecError::TooLong { .. })
    ));
}

#[test]
fn state_root_is_deterministic_and_covers_balances() {
    let a = world(2);
    let mut b = World {
        validators: vec![],
        relayers: vec![],
        user: Keypair::from_seed(&[1; 32]),
        state: a.state.clone(),
    };
    assert_eq!(a.state.root(), b.state.root());
    let tx = SignedTransaction::sign(
        &a.user,
        a.state.symbiote(),
        Nonce::new(0),
        native_transfer(&b.user, 5),
    );
    b.block(&[tx]).unwrap();
    assert_ne!(a.state.root(), b.state.root());
    let decoded = ChainState::open(b.state.store().clone(), b.state.height()).unwrap();
    assert_eq!(decoded.root(), b.state.root());
}

//! Relayers cooperating through the symbiote: attestations mint a deposit once a threshold of
//! the relayer set has attested it, approvals and holds of withdrawal orders, and governance
//! lifting a hold or refunding the order.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use symbiote::crypto::Keypair;
use symbiote::genesis::Genesis;
use symbiote::hash::{Domain, hash};
use symbiote::state::{ChainState, Effect, StateError, TxError, WithdrawalStatus};
use symbiote::tx::{
    Asset, Deposit, DepositId, GovernanceChange, HoldNotice, ProposalId, Relayer, RelayerSet,
    ReleaseApproval, SignedTransaction, Transaction,
};
use symbiote::types::{Amount, Height, HostAddress, HostTxId, HostchainId, Nonce, TimestampMs};
use symbiote::validators::{Validator, ValidatorSet};

struct World {
    validators: Vec<Keypair>,
    relayers: Vec<Keypair>,
    user: Keypair,
    state: ChainState,
}

fn chain() -> HostchainId {
    HostchainId::new("evm-31337").unwrap()
}

fn world(threshold: u16) -> World {
    let validators: Vec<Keypair> = (0..4).map(|_| Keypair::generate()).collect();
    let relayers: Vec<Keypair> = (0..3).map(|_| Keypair::generate()).collect();
    let user = Keypair::generate();
    let genesis = Genesis {
        chain_name: "relaying".into(),
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
        hostchains: vec![chain()],
        relayers: RelayerSet {
            members: relayers
                .iter()
                .enumerate()
                .map(|(i, k)| Relayer::new(k.public(), [("evm", &[i as u8 + 1; 20][..])]).unwrap())
                .collect(),
            threshold,
        },
        balances: vec![],
    };
    World {
        state: ChainState::in_memory(&genesis).unwrap(),
        validators,
        relayers,
        user,
    }
}

impl World {
    fn sign(&self, key: &Keypair, body: Transaction) -> SignedTransaction {
        let nonce = self.state.account(&key.public()).unwrap().nonce;
        SignedTransaction::sign(key, self.state.symbiote(), nonce, body)
    }

    fn block(&mut self, txs: &[SignedTransaction]) -> Result<Vec<Effect>, StateError> {
        let height = self.state.height().next().unwrap();
        self.state.apply_block(height, txs)
    }

    fn run(&mut self, key: usize, body: Transaction) -> Effect {
        let tx = self.sign(&self.relayers[key], body);
        self.block(&[tx]).unwrap().remove(0)
    }

    fn refused(&mut self, key: &Keypair, body: Transaction) -> TxError {
        let tx = self.sign(key, body);
        let before = self.state.clone();
        let error = match self.block(&[tx]) {
            Err(StateError::Transaction { error, .. }) => error,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert_eq!(self.state, before, "a refused transaction changes nothing");
        error
    }

    fn deposit(&self, tx: &str, amount: u128) -> Deposit {
        Deposit {
            id: DepositId {
                hostchain: chain(),
                tx: HostTxId::new(tx).unwrap(),
                index: 3,
            },
            token: symbiote::types::TokenId::native(),
            amount: Amount::new(amount),
            recipient: self.user.public(),
        }
    }

    fn balance(&self) -> Amount {
        let asset = Asset::Wrapped {
            hostchain: chain(),
            token: symbiote::types::TokenId::native(),
        };
        self.state
            .account(&self.user.public())
            .unwrap()
            .balances
            .get(&asset)
            .copied()
            .unwrap_or(Amount::ZERO)
    }

    /// Mints `amount` through two attestations and burns it to `destination`.
    fn order(&mut self, amount: u128, tx: &str) -> Nonce {
        let deposit = self.deposit(tx, amount);
        for key in 0..2 {
            self.run(
                key,
                Transaction::Attest {
                    deposits: vec![deposit.clone()],
                },
            );
        }
        let burn = self.sign(
            &self.user,
            Transaction::Burn {
                hostchain: chain(),
                token: symbiote::types::TokenId::native(),
                amount: Amount::new(amount),
                destination: HostAddress::new("0x00000000000000000000000000000000000000bb")
                    .unwrap(),
            },
        );
        match self.block(&[burn]).unwrap().remove(0) {
            Effect::WithdrawalOrdered(nonce) => nonce,
            other => panic!("{other:?}"),
        }
    }

    fn govern(&mut self, change: GovernanceChange) -> Result<(), TxError> {
        let activation = self.state.height().get() + 3;
        let propose = self.sign(
            &self.validators[0],
            Transaction::Propose {
                change,
                activation: Height::new(activation),
            },
        );
        let before = self.state.clone();
        match self.block(&[propose]) {
            Ok(_) => {}
            Err(StateError::Transaction { error, .. }) => {
                assert_eq!(self.state, before);
                return Err(error);
            }
            Err(other) => panic!("{other:?}"),
        }
        let id = ProposalId(self.state.meta().next_proposal.0 - 1);
        let votes: Vec<_> = self.validators[1..3]
            .iter()
            .map(|v| {
                self.sign(
                    v,
                    Transaction::Vote {
                        proposal: id,
                        approve: true,
                    },
                )
            })
            .collect();
        self.block(&votes).unwrap();
        // The change activates at `activation`: applied when the block before it ends.
        while self.state.height().get() + 1 < activation {
            self.block(&[]).unwrap();
        }
        Ok(())
    }
}

#[test]
fn a_deposit_is_minted_once_when_the_threshold_of_relayers_attested_it() {
    let mut w = world(2);
    let deposit = w.deposit("0xaa01", 500);
    let attest = Transaction::Attest {
        deposits: vec![deposit.clone()],
    };
    assert_eq!(
        w.run(0, attest.clone()),
        Effect::Attested {
            recorded: 1,
            minted: vec![]
        }
    );
    // The same relayer again: nothing new, nothing minted.
    assert_eq!(
        w.run(0, attest.clone()),
        Effect::Attested {
            recorded: 0,
            minted: vec![]
        }
    );
    assert_eq!(w.balance(), Amount::ZERO);
    assert_eq!(w.state.pending_mint(&deposit.id).unwrap().len(), 1);
    assert_eq!(
        w.run(1, attest.clone()),
        Effect::Attested {
            recorded: 1,
            minted: vec![deposit.id.clone()]
        }
    );
    assert_eq!(w.balance(), Amount::new(500));
    assert!(w.state.is_minted(&deposit.id).unwrap());
    assert!(w.state.pending_mint(&deposit.id).unwrap().is_empty());
    // The third relayer, late: accepted, changes nothing.
    assert_eq!(
        w.run(2, attest),
        Effect::Attested {
            recorded: 0,
            minted: vec![]
        }
    );
    assert_eq!(w.balance(), Amount::new(500));
}

#[test]
fn attestations_of_different_contents_do_not_add_up() {
    let mut w = world(2);
    let honest = w.deposit("0xaa02", 500);
    let mut inflated = honest.clone();
    inflated.amount = Amount::new(5_000);
    w.run(
        0,
        Transaction::Attest {
            deposits: vec![honest.clone()],
        },
    );
    w.run(
        1,
        Transaction::Attest {
            deposits: vec![inflated.clone()],
        },
    );
    assert_eq!(w.balance(), Amount::ZERO);
    assert_eq!(w.state.pending_mint(&honest.id).unwrap().len(), 2);
    w.run(
        2,
        Transaction::Attest {
            deposits: vec![honest.clone()],
        },
    );
    assert_eq!(w.balance(), Amount::new(500));
    // The inflated content can never be minted now.
    let effect = w.run(
        1,
        Transaction::Attest {
            deposits: vec![inflated],
        },
    );
    assert_eq!(
        effect,
        Effect::Attested {
            recorded: 0,
            minted: vec![]
        }
    );
    assert_eq!(w.balance(), Amount::new(500));
}

#[test]
fn a_faulty_relayer_cannot_grow_a_deposits_attestations() {
    let mut w = world(2);
    let honest = w.deposit("0xaa03", 500);
    // Relayer 1 attests a thousand different contents for the same deposit: only its last
    // stands, next to the honest relayer's.
    w.run(
        0,
        Transaction::Attest {
            deposits: vec![honest.clone()],
        },
    );
    for amount in 1..=1_000u128 {
        let mut fake = honest.clone();
        fake.amount = Amount::new(10_000 + amount);
        w.run(
            1,
            Transaction::Attest {
                deposits: vec![fake],
            },
        );
    }
    let pending = w.state.pending_mint(&honest.id).unwrap();
    assert_eq!(pending.len(), 2, "{pending:?}");
    assert_eq!(pending[1].deposit.amount, Amount::new(11_000));
    // Changing its mind to the honest content mints it, the fake content gone.
    w.run(
        1,
        Transaction::Attest {
            deposits: vec![honest.clone()],
        },
    );
    assert_eq!(w.balance(), Amount::new(500));
}

#[test]
fn attestations_from_outside_the_set_or_malformed_are_refused() {
    let mut w = world(2);
    let deposit = w.deposit("0xaa03", 1);
    let user = Keypair::generate();
    assert_eq!(
        w.refused(
            &user,
            Transaction::Attest {
                deposits: vec![deposit.clone()]
            }
        ),
        TxError::NotARelayer(user.public())
    );
    let relayer = w.relayers[0].clone();
    let mut zero = deposit.clone();
    zero.amount = Amount::ZERO;
    assert!(matches!(
        w.refused(
            &relayer,
            Transaction::Attest {
                deposits: vec![zero]
            }
        ),
        TxError::BadEntry { position: 0, .. }
    ));
    let mut elsewhere = deposit.clone();
    elsewhere.id.hostchain = HostchainId::new("solana-nowhere").unwrap();
    assert!(matches!(
        w.refused(
            &relayer,
            Transaction::Attest {
                deposits: vec![deposit.clone(), elsewhere]
            }
        ),
        TxError::BadEntry { position: 1, .. }
    ));
    assert!(matches!(
        w.refused(
            &relayer,
            Transaction::Attest {
                deposits: vec![deposit.clone(), deposit]
            }
        ),
        TxError::BadEntry { position: 1, .. }
    ));
    assert!(matches!(
        w.refused(&relayer, Transaction::Attest { deposits: vec![] }),
        TxError::TooManyEntries { count: 0, .. }
    ));
}

#[test]
fn approvals_are_collected_per_relayer_and_a_hold_stops_the_release() {
    let mut w = world(2);
    let nonce = w.order(300, "0xaa04");
    let report = hash(Domain::ScoutReport, &[b"clean"]);
    let approval = |sig: u8| ReleaseApproval {
        nonce,
        signature: vec![sig; 65],
        report: Some(report),
    };
    w.run(
        0,
        Transaction::ApproveReleases {
            approvals: vec![approval(1)],
        },
    );
    w.run(
        1,
        Transaction::ApproveReleases {
            approvals: vec![approval(2)],
        },
    );
    let order = w.state.withdrawal(nonce).unwrap().unwrap().clone();
    assert_eq!(order.approvals.len(), 2);
    assert_eq!(
        order.approvals[&w.relayers[1].public()].signature,
        vec![2; 65]
    );
    assert!(order.releasable());
    // An unknown order or an oversized signature is refused.
    let relayer = w.relayers[2].clone();
    assert_eq!(
        w.refused(
            &relayer,
            Transaction::ApproveReleases {
                approvals: vec![ReleaseApproval {
                    nonce: Nonce::new(99),
                    ..approval(3)
                }]
            }
        ),
        TxError::UnknownWithdrawal(Nonce::new(99))
    );
    assert!(matches!(
        w.refused(
            &relayer,
            Transaction::ApproveReleases {
                approvals: vec![ReleaseApproval {
                    signature: vec![0; 129],
                    ..approval(3)
                }]
            }
        ),
        TxError::BadEntry { position: 0, .. }
    ));
    // The third relayer's scout holds it.
    let evidence = hash(Domain::ScoutReport, &[b"malicious"]);
    w.run(
        2,
        Transaction::HoldReleases {
            holds: vec![HoldNotice {
                nonce,
                report: evidence,
                malicious: true,
            }],
        },
    );
    let order = w.state.withdrawal(nonce).unwrap().unwrap().clone();
    assert_eq!(order.status, WithdrawalStatus::Held);
    assert!(!order.releasable());
    assert_eq!(order.holds[&w.relayers[2].public()].report, evidence);
}

#[test]
fn governance_lifts_a_hold_or_refunds_the_order() {
    let mut w = world(2);
    let lifted = w.order(300, "0xaa05");
    let refunded = w.order(200, "0xaa06");
    assert_eq!(w.balance(), Amount::ZERO);
    // Nothing is held yet: a decision is refused when proposed.
    assert_eq!(
        w.govern(GovernanceChange::RefundHold(refunded)),
        Err(TxError::NotHeld {
            nonce: refunded,
            status: WithdrawalStatus::Open
        })
    );
    assert_eq!(
        w.govern(GovernanceChange::ReleaseHold(Nonce::new(42))),
        Err(TxError::UnknownWithdrawal(Nonce::new(42)))
    );
    let report = hash(Domain::ScoutReport, &[b"r"]);
    w.run(
        0,
        Transaction::HoldReleases {
            holds: vec![
                HoldNotice {
                    nonce: lifted,
                    report,
                    malicious: false,
                },
                HoldNotice {
                    nonce: refunded,
                    report,
                    malicious: true,
                },
            ],
        },
    );
    w.govern(GovernanceChange::ReleaseHold(lifted)).unwrap();
    let order = w.state.withdrawal(lifted).unwrap().unwrap();
    assert_eq!(order.status, WithdrawalStatus::HoldLifted);
    assert!(order.releasable());
    // A scout cannot hold it again once governance decided.
    w.run(
        1,
        Transaction::HoldReleases {
            holds: vec![HoldNotice {
                nonce: lifted,
                report,
                malicious: true,
            }],
        },
    );
    assert_eq!(
        w.state.withdrawal(lifted).unwrap().unwrap().status,
        WithdrawalStatus::HoldLifted
    );

    w.govern(GovernanceChange::RefundHold(refunded)).unwrap();
    let order = w.state.withdrawal(refunded).unwrap().unwrap().clone();
    assert_eq!(order.status, WithdrawalStatus::Refunded);
    assert!(!order.releasable());
    assert_eq!(
        w.balance(),
        Amount::new(200),
        "the burner got the burn back"
    );
    // Approving a refunded order records nothing.
    let effect = w.run(
        1,
        Transaction::ApproveReleases {
            approvals: vec![ReleaseApproval {
                nonce: refunded,
                signature: vec![],
                report: Some(report),
            }],
        },
    );
    assert_eq!(effect, Effect::ReleasesApproved(0));
    // A second refund of the same order is refused when proposed.
    assert!(matches!(
        w.govern(GovernanceChange::RefundHold(refunded)),
        Err(TxError::NotHeld { .. })
    ));
    assert_eq!(w.balance(), Amount::new(200));
}

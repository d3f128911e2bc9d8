//! Governance: validators propose and vote on changes of the hostchain, relayer and validator
//! sets; an approved change takes effect at its activation height, and the history of every set
//! is kept so that anyone can ask which set was in force at a given height.

use std::collections::BTreeSet;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::crypto::PublicKey;
use crate::state::keys::StateKey;
use crate::state::{Execution, MAX_ACTIVATION_DELAY, TxError, validate_change};
use crate::tx::{GovernanceChange, ProposalId, RelayerSet};
use crate::types::{Height, HostchainId};
use crate::validators::ValidatorSet;

/// Where a proposal stands.
///
/// Persisted format: stored in the state; renaming or reordering variants changes it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    /// Collecting votes.
    Open,
    /// More than two thirds of the validator weight approved; waiting for its activation height.
    Approved,
    /// Enough weight voted against that it can no longer pass.
    Rejected,
    /// In force since its activation height.
    Activated,
    /// Its activation height came before it was approved.
    Expired,
}

/// A governance proposal and its votes.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Proposal {
    /// Sequential id.
    pub id: ProposalId,
    /// The validator that proposed it (its vote counts as an approval).
    pub proposer: PublicKey,
    /// What it changes.
    pub change: GovernanceChange,
    /// The first height at which the change is in force.
    pub activation: Height,
    /// The block that contains the proposal.
    pub submitted: Height,
    /// Validators that approved.
    pub approvals: BTreeSet<PublicKey>,
    /// Validators that voted against.
    pub rejections: BTreeSet<PublicKey>,
    /// Where it stands.
    pub status: ProposalStatus,
}

/// One set's history: the set of genesis and every later set with the height from which it was
/// in force. Never empty, so "the set in force now" always exists.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct History<T> {
    /// The genesis set (in force from height 0).
    pub genesis: T,
    /// Later sets with the height from which each was in force, oldest first.
    pub changes: Vec<(Height, T)>,
}

impl<T> History<T> {
    fn new(genesis: T) -> Self {
        History {
            genesis,
            changes: Vec::new(),
        }
    }

    /// The set in force now.
    pub fn current(&self) -> &T {
        self.changes.last().map_or(&self.genesis, |(_, set)| set)
    }

    /// The set in force at block `height`.
    pub fn at(&self, height: Height) -> &T {
        self.changes
            .iter()
            .rev()
            .find(|(from, _)| *from <= height)
            .map_or(&self.genesis, |(_, set)| set)
    }

    /// Every set with the height from which it was in force.
    pub fn iter(&self) -> impl Iterator<Item = (Height, &T)> {
        std::iter::once((Height::new(0), &self.genesis))
            .chain(self.changes.iter().map(|(h, set)| (*h, set)))
    }

    fn push(&mut self, from: Height, set: T) {
        self.changes.push((from, set));
    }
}

/// The history of every governed set.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SetHistory {
    /// Validator sets: the set that signs blocks from that height on.
    pub validators: History<ValidatorSet>,
    /// Hostchain sets: batches whose last block is at or after that height anchor there.
    pub hostchains: History<Vec<HostchainId>>,
    /// Relayer sets.
    pub relayers: History<RelayerSet>,
}

impl SetHistory {
    /// The sets of genesis, in force from height 0.
    pub fn genesis(
        validators: ValidatorSet,
        hostchains: Vec<HostchainId>,
        relayers: RelayerSet,
    ) -> Self {
        SetHistory {
            validators: History::new(validators),
            hostchains: History::new(hostchains),
            relayers: History::new(relayers),
        }
    }

    /// The validator set in force now.
    pub fn validators(&self) -> &ValidatorSet {
        self.validators.current()
    }

    /// The hostchains in force now.
    pub fn hostchains(&self) -> &[HostchainId] {
        self.hostchains.current()
    }

    /// The relayer set in force now.
    pub fn relayers(&self) -> &RelayerSet {
        self.relayers.current()
    }

    /// The validator set that signs block `height`.
    pub fn validators_at(&self, height: Height) -> &ValidatorSet {
        self.validators.at(height)
    }

    /// The hostchains in force at block `height`.
    pub fn hostchains_at(&self, height: Height) -> &[HostchainId] {
        self.hostchains.at(height)
    }

    /// The relayer set in force at block `height`.
    pub fn relayers_at(&self, height: Height) -> &RelayerSet {
        self.relayers.at(height)
    }

    /// Whether `chain` was ever in the hostchain set (deposits made there stay mintable).
    pub fn ever_hostchain(&self, chain: &HostchainId) -> bool {
        self.hostchains.iter().any(|(_, set)| set.contains(chain))
    }
}

impl Execution<'_> {
    pub(crate) fn propose(
        &mut self,
        sender: &PublicKey,
        change: &GovernanceChange,
        activation: Height,
        height: Height,
    ) -> Result<ProposalId, TxError> {
        self.require_validator(sender)?;
        if activation <= height {
            return Err(TxError::ActivationTooEarly { activation, height });
        }
        if activation
            .since(height)
            .is_none_or(|d| d > MAX_ACTIVATION_DELAY)
        {
            return Err(TxError::ActivationTooLate {
                activation,
                height,
                max: MAX_ACTIVATION_DELAY,
            });
        }
        validate_change(change)?;
        self.check_hold_change(change)?;
        let id = self.meta.next_proposal;
        let following =
            id.0.checked_add(1)
                .ok_or(TxError::CounterOverflow("proposal"))?;
        let mut proposal = Proposal {
            id,
            proposer: *sender,
            change: change.clone(),
            activation,
            submitted: height,
            approvals: BTreeSet::from([*sender]),
            rejections: BTreeSet::new(),
            status: ProposalStatus::Open,
        };
        proposal.status = tally(&proposal, self.validators());
        self.write(&StateKey::Proposal(id), Some(&proposal));
        self.meta.open_proposals.insert(id);
        self.meta.next_proposal = ProposalId(following);
        Ok(id)
    }

    pub(crate) fn vote(
        &mut self,
        sender: &PublicKey,
        id: ProposalId,
        approve: bool,
    ) -> Result<ProposalStatus, TxError> {
        self.require_validator(sender)?;
        let mut proposal: Proposal = self
            .read(&StateKey::Proposal(id))?
            .ok_or(TxError::UnknownProposal(id))?;
        if proposal.status != ProposalStatus::Open {
            return Err(TxError::ProposalClosed {
                id,
                status: proposal.status,
            });
        }
        if proposal.approvals.contains(sender) || proposal.rejections.contains(sender) {
            return Err(TxError::AlreadyVoted(*sender));
        }
        if approve {
            proposal.approvals.insert(*sender);
        } else {
            proposal.rejections.insert(*sender);
        }
        proposal.status = tally(&proposal, self.validators());
        self.write(&StateKey::Proposal(id), Some(&proposal));
        Ok(proposal.status)
    }

    fn require_validator(&self, key: &PublicKey) -> Result<(), TxError> {
        if self.validators().index_of(key).is_some() {
            Ok(())
        } else {
            Err(TxError::NotAValidator(*key))
        }
    }

    /// Ends the block: re-counts open proposals, expires those whose activation height has
    /// come, and puts in force the approved changes that activate at the next height. Only the
    /// proposals still open or approved are read.
    pub(crate) fn end_block(&mut self) -> Result<(), TxError> {
        let Some(next) = self.height().next() else {
            return Ok(());
        };
        let set = self.validators().clone();
        let mut activate = Vec::new();
        for id in self.meta.open_proposals.clone() {
            let key = StateKey::Proposal(id);
            let Some(mut proposal) = self.read::<Proposal>(&key)? else {
                self.meta.open_proposals.remove(&id);
                continue;
            };
            let before = proposal.status;
            if proposal.status == ProposalStatus::Open {
                proposal.status = tally(&proposal, &set);
            }
            match proposal.status {
                ProposalStatus::Open if proposal.activation <= next => {
                    proposal.status = ProposalStatus::Expired;
                }
                ProposalStatus::Approved if proposal.activation == next => {
                    proposal.status = ProposalStatus::Activated;
                    activate.push(proposal.change.clone());
                }
                _ => {}
            }
            if proposal.status != before {
                self.write(&key, Some(&proposal));
            }
            if !matches!(
                proposal.status,
                ProposalStatus::Open | ProposalStatus::Approved
            ) {
                self.meta.open_proposals.remove(&id);
            }
        }
        for change in activate {
            match change {
                GovernanceChange::Hostchains(chains) => {
                    self.sets.to_mut().hostchains.push(next, chains)
                }
                GovernanceChange::Relayers(relayers) => {
                    self.sets.to_mut().relayers.push(next, relayers)
                }
                GovernanceChange::Validators(validators) => {
                    self.sets.to_mut().validators.push(next, validators)
                }
                GovernanceChange::ReleaseHold(nonce) => self.decide_hold(nonce, false)?,
                GovernanceChange::RefundHold(nonce) => self.decide_hold(nonce, true)?,
            }
        }
        Ok(())
    }
}

/// Approved once the approving weight reaches the quorum of `set`; rejected once the rejecting
/// weight makes that impossible. Votes of keys outside `set` (validators since removed) count
/// for nothing.
fn tally(proposal: &Proposal, set: &ValidatorSet) -> ProposalStatus {
    let weight = |keys: &BTreeSet<PublicKey>| -> u128 {
        keys.iter()
            .filter_map(|k| set.index_of(k).and_then(|i| set.get(i)))
            .map(|v| u128::from(v.weight))
            .sum()
    };
    let quorum = u128::from(set.quorum_weight());
    let total = u128::from(set.total_weight());
    if weight(&proposal.approvals) >= quorum {
        ProposalStatus::Approved
    } else if weight(&proposal.rejections) > total.saturating_sub(quorum) {
        ProposalStatus::Rejected
    } else {
        ProposalStatus::Open
    }
}

//! The symbiote's state as the relayer may use it: every entry proven against the state root of
//! the last block the follower verified with its light client.
//!
//! The node's API is only a transport. An answer whose proofs do not check is logged at error
//! with the height and the entry, counted in `relayer_node_false_answers`, and makes `/ready`
//! fail for [`crate::metrics::FALSE_ANSWER_MEMORY`] after the last false answer; the step that
//! asked fails, so nothing is signed or paid on it. A step that reads several entries reads
//! them at one height ([`VerifiedNode::at`]).

use std::collections::BTreeMap;

use symbiote::block::Header;
use symbiote::client::NodeClient;
use symbiote::crypto::PublicKey;
use symbiote::hash::Hash;
use symbiote::state::{Meta, SetHistory, WithdrawalOrder};
use symbiote::tx::DepositId;
use symbiote::types::Nonce;
use symbiote::verified::{DepositView, ReadError, Trusted, VerifiedView};

use crate::metrics::{Answer, Metrics};
use crate::retry::StepError;
use crate::store::Store;

/// The node, read through proofs.
#[derive(Clone)]
pub struct VerifiedNode {
    node: NodeClient,
    store: Store,
    metrics: Metrics,
    /// What is trusted before the follower stored any block.
    genesis: Trusted,
}

impl VerifiedNode {
    /// Reads `node` against the blocks the follower stores in `store`, starting from the
    /// genesis header `genesis`.
    pub fn new(node: NodeClient, store: Store, metrics: Metrics, genesis: &Header) -> Self {
        VerifiedNode {
            node,
            store,
            metrics,
            genesis: Trusted::from(genesis),
        }
    }

    /// The node (for what needs no proof: blocks the light client checks, submissions).
    pub fn node(&self) -> &NodeClient {
        &self.node
    }

    /// The state of the last verified block.
    pub async fn trusted(&self) -> Result<Trusted, StepError> {
        Ok(match self.store.follower_state().await? {
            Some((header, _)) => Trusted::from(&header),
            None => self.genesis,
        })
    }

    /// Records what a read found: a false answer is logged, counted and marks the node; a
    /// checked one clears the mark.
    fn checked<T>(&self, result: Result<T, ReadError>) -> Result<T, StepError> {
        match result {
            Ok(value) => {
                self.metrics.answer_checked(Answer::State, true);
                Ok(value)
            }
            Err(ReadError::Lie {
                height,
                entry,
                reason,
            }) => {
                tracing::error!(node = %self.node.url(), height = height.get(), %entry, %reason, "the symbiote node's answer is false; acting on nothing it said");
                self.metrics.answer_checked(Answer::State, false);
                Err(ReadError::Lie {
                    height,
                    entry,
                    reason,
                }
                .into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The state of the last verified block, to read several entries at one height.
    pub async fn at(&self) -> Result<StateAt<'_>, StepError> {
        Ok(StateAt {
            node: self,
            view: VerifiedView::new(&self.node, self.trusted().await?),
        })
    }

    /// The validator, hostchain and relayer sets with their histories.
    pub async fn sets(&self) -> Result<SetHistory, StepError> {
        self.at().await?.sets().await
    }

    /// What the state says of each deposit, in the order asked.
    pub async fn deposits(&self, ids: &[DepositId]) -> Result<Vec<DepositView>, StepError> {
        self.at().await?.deposits(ids).await
    }

    /// The relayers' signatures of the hostchain message with digest `subject`.
    pub async fn cosignatures(
        &self,
        subject: &Hash,
    ) -> Result<BTreeMap<PublicKey, Vec<u8>>, StepError> {
        self.at().await?.cosignatures(subject).await
    }
}

/// The node read at one verified height: what a step that reads several entries uses, so that
/// they all agree.
pub struct StateAt<'a> {
    node: &'a VerifiedNode,
    view: VerifiedView<'a>,
}

impl StateAt<'_> {
    /// The chain's counters.
    pub async fn meta(&self) -> Result<Meta, StepError> {
        self.node.checked(self.view.meta().await)
    }

    /// The validator, hostchain and relayer sets with their histories.
    pub async fn sets(&self) -> Result<SetHistory, StepError> {
        self.node.checked(self.view.sets().await)
    }

    /// The withdrawal orders `nonces` that exist, by nonce.
    pub async fn withdrawals(
        &self,
        nonces: &[Nonce],
    ) -> Result<BTreeMap<Nonce, WithdrawalOrder>, StepError> {
        self.node.checked(self.view.withdrawals(nonces).await)
    }

    /// What the state says of each deposit, in the order asked.
    pub async fn deposits(&self, ids: &[DepositId]) -> Result<Vec<DepositView>, StepError> {
        self.node.checked(self.view.deposits(ids).await)
    }

    /// The relayers' signatures of the hostchain message with digest `subject`.
    pub async fn cosignatures(
        &self,
        subject: &Hash,
    ) -> Result<BTreeMap<PublicKey, Vec<u8>>, StepError> {
        self.node.checked(self.view.cosignatures(subject).await)
    }
}

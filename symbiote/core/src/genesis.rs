//! The genesis of a symbiote: its name, first validator set, hostchains, relayers and balances.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::block::{HEADER_VERSION, Header, tx_root};
use crate::crypto::PublicKey;
use crate::state::{ChainState, StateError, StateUpdate};
use crate::tx::RelayerSet;
use crate::types::{Amount, Height, HostchainId, SymbioteId, TimestampMs};
use crate::validators::ValidatorSet;

/// Everything a node needs to start the chain; shared by all validators as a JSON file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// The symbiote's name; its id is derived from it, so it must be unique among symbiotes.
    pub chain_name: String,
    /// The genesis time.
    pub timestamp: TimestampMs,
    /// The validators that sign block 1 onwards (until governance changes them).
    pub validators: ValidatorSet,
    /// The hostchains the symbiote anchors into.
    pub hostchains: Vec<HostchainId>,
    /// The relayers and their threshold.
    pub relayers: RelayerSet,
    /// Native-coin balances at genesis.
    pub balances: Vec<(PublicKey, Amount)>,
}

impl Genesis {
    /// The symbiote's id.
    pub fn symbiote_id(&self) -> SymbioteId {
        SymbioteId::from_name(&self.chain_name)
    }

    /// Checks the parts that types alone do not.
    pub fn validate(&self) -> Result<(), String> {
        if self.chain_name.is_empty() || self.chain_name.len() > 64 {
            return Err(format!(
                "chain_name must be 1 to 64 bytes, got {}",
                self.chain_name.len()
            ));
        }
        let unique: BTreeSet<_> = self.hostchains.iter().collect();
        if unique.len() != self.hostchains.len() {
            return Err("a hostchain is listed twice".into());
        }
        self.relayers
            .validate()
            .map_err(|e| format!("relayers: {e}"))
    }

    /// The genesis header (height 0). It has no certificate: it is trusted because it is
    /// derived from this file.
    pub fn header(&self) -> Result<Header, StateError> {
        self.build().map(|(_, header)| header)
    }

    /// The genesis state (not yet written to a store) and header.
    pub fn build(&self) -> Result<(StateUpdate, Header), StateError> {
        let state = ChainState::genesis_update(self)?;
        let set_hash = self.validators.hash();
        let proposer = self
            .validators
            .get(0)
            .map(|v| v.key)
            .ok_or_else(|| StateError::Genesis("no validators".into()))?;
        let header = Header {
            version: HEADER_VERSION,
            symbiote: self.symbiote_id(),
            height: Height::new(0),
            parent: crate::hash::Hash::default(),
            timestamp: self.timestamp,
            proposer,
            tx_root: tx_root::<crate::tx::SignedTransaction>(&[])
                .map_err(|e| StateError::Genesis(e.to_string()))?,
            state_root: state.root(),
            validator_set_hash: set_hash,
            next_validator_set_hash: set_hash,
        };
        Ok((state, header))
    }
}

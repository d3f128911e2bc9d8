//! State proofs served by the node: any entry at any finalized height, a few requests at a
//! time, outside the chain's lock while they read history.

use symbiote::block::Header;
use symbiote::state::{StateError, StateKey, StateProof};
use symbiote::types::Height;

use super::{Chain, ChainError, MAX_PROOF_ENTRIES};

/// How many state proof requests a node serves at once.
pub const CONCURRENT_PROOFS: usize = 4;

/// The most value bytes one state proof reply carries.
pub const MAX_PROOF_REPLY_BYTES: usize = 8 * 1024 * 1024;

impl Chain {
    /// Proves state entries at finalized height `height` (the head if `None`): each proof
    /// checks against the state root of that height's header.
    pub async fn prove(
        &self,
        height: Option<Height>,
        keys: Vec<StateKey>,
    ) -> Result<(Header, Vec<StateProof>), ChainError> {
        if keys.len() > MAX_PROOF_ENTRIES {
            return Err(ChainError::TooManyEntries {
                count: keys.len(),
                max: MAX_PROOF_ENTRIES,
            });
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some(repeated) = keys.iter().find(|k| !seen.insert(*k)) {
            return Err(ChainError::RepeatedEntry(repeated.to_string()));
        }
        let _permit = self
            .provers
            .acquire()
            .await
            .map_err(|e| ChainError::Task(e.to_string()))?;
        let (header, proofs) = self.prove_unchecked(height, keys).await?;
        let bytes: usize = proofs
            .iter()
            .map(|p| p.value.as_ref().map_or(0, Vec::len))
            .sum();
        if bytes > MAX_PROOF_REPLY_BYTES {
            return Err(ChainError::ReplyTooLarge {
                max: MAX_PROOF_REPLY_BYTES,
            });
        }
        Ok((header, proofs))
    }

    async fn prove_unchecked(
        &self,
        height: Option<Height>,
        keys: Vec<StateKey>,
    ) -> Result<(Header, Vec<StateProof>), ChainError> {
        {
            let inner = self.inner.lock().await;
            let head = inner.head.height;
            let asked = height.unwrap_or(head);
            if asked > head {
                return Err(ChainError::NotYetFinal { asked, head });
            }
            if asked == head {
                let proofs = keys
                    .iter()
                    .map(|key| inner.state.prove(key))
                    .collect::<Result<_, _>>()?;
                return Ok((inner.head.clone(), proofs));
            }
        }
        let asked = height.unwrap_or_default();
        let header = if asked == Height::new(0) {
            self.genesis.clone()
        } else {
            self.store
                .block(asked)
                .await?
                .ok_or(ChainError::NotYetFinal { asked, head: asked })?
                .block
                .header
        };
        let reader = self.store.history();
        let proofs = tokio::task::spawn_blocking(move || {
            keys.iter()
                .map(|key| symbiote::state::proof::prove(&reader, asked.get(), key))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| ChainError::Task(e.to_string()))?
        .map_err(StateError::from)?;
        Ok((header, proofs))
    }
}

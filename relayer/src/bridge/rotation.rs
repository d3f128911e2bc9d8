//! Carries the symbiote's relayer set to the hostchain contracts that hold one (the EVM anchor
//! and bridge contracts): when a contract's set differs from the symbiote's current one, every
//! member of the contract's set publishes its signature of the rotation on the symbiote
//! (`Cosign`), and whoever sees a threshold of them there submits the rotation. Afterwards the
//! contract accepts only the new set's signatures.
//!
//! Nothing is stored: each pass compares the contract with the symbiote, and the contract's
//! rotation nonce makes a second submission of the same rotation fail harmlessly.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chain_adapters::{HostchainAdapter, Rotation};
use symbiote::hash::Hash;
use symbiote::tx::{Cosignature, Transaction};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::publisher::PublishError;
use super::{BridgeContext, BridgeError};

/// How long a submitted rotation is given before it is submitted again.
const RESUBMIT_AFTER: Duration = Duration::from_secs(30);

/// Rotates the relayer sets of one hostchain's contracts.
#[derive(Clone)]
pub struct RotationStage {
    pub ctx: Arc<BridgeContext>,
    pub hostchain: String,
    pub adapter: Arc<dyn HostchainAdapter>,
    /// Rotations submitted by this process, by (contract, nonce), and when.
    pub sent: Arc<Mutex<HashMap<(String, u64), Instant>>>,
}

fn same_members(a: &[String], b: &[String]) -> bool {
    let norm = |v: &[String]| {
        let mut v: Vec<String> = v.iter().map(|s| s.to_lowercase()).collect();
        v.sort();
        v
    };
    norm(a) == norm(b)
}

impl RotationStage {
    /// One pass over the contracts.
    pub async fn step(&self) -> Result<(), BridgeError> {
        let Some(governance) = self.adapter.relayer_sets() else {
            return Ok(());
        };
        let set = self.ctx.node.governance().await?.relayers.current().clone();
        let members: Vec<String> = set
            .members
            .iter()
            .map(|r| format!("0x{}", hex::encode(r.evm_address.0)))
            .collect();
        let threshold = u64::from(set.threshold);
        let me = governance.own_address().to_lowercase();
        let key = self.ctx.publisher.key().public();
        for contract in governance.contract_relayers().await? {
            if same_members(&contract.members, &members) && contract.threshold == threshold {
                continue;
            }
            let rotation = Rotation {
                contract: contract.contract.clone(),
                members: members.clone(),
                threshold,
                nonce: contract.nonce,
            };
            let subject = Hash(governance.rotation_digest(&rotation).await?);
            let mut published = self.ctx.node.cosignatures(&subject).await?.signatures;
            let signer = contract.members.iter().any(|m| m.to_lowercase() == me);
            if signer && !published.iter().any(|s| s.relayer == key) {
                let signature = governance.sign_rotation(&rotation).await?;
                match self
                    .ctx
                    .publisher
                    .publish(Transaction::Cosign {
                        entries: vec![Cosignature { subject, signature }],
                    })
                    .await
                {
                    Ok(hash) => {
                        tracing::info!(hostchain = %self.hostchain, contract = %contract.contract, nonce = contract.nonce, tx = %hash, "rotation of the contract's relayer set signed");
                    }
                    Err(PublishError::Superseded(_)) => {}
                    Err(e) => return Err(e.into()),
                }
                published = self.ctx.node.cosignatures(&subject).await?.signatures;
            }
            let threshold_now = usize::try_from(contract.threshold).unwrap_or(usize::MAX);
            if published.len() < threshold_now {
                continue;
            }
            let id = (contract.contract.clone(), contract.nonce);
            if self
                .sent
                .lock()
                .await
                .get(&id)
                .is_some_and(|at| at.elapsed() < RESUBMIT_AFTER)
            {
                continue;
            }
            let signatures: Vec<Vec<u8>> = published.into_iter().map(|s| s.signature).collect();
            let tx = governance.prepare_rotation(&rotation, &signatures).await?;
            self.adapter.anchorer().broadcast(&tx).await?;
            self.sent.lock().await.insert(id, Instant::now());
            tracing::info!(hostchain = %self.hostchain, contract = %contract.contract, nonce = contract.nonce, tx = %tx.id, members = ?members, threshold, "rotation of the contract's relayer set submitted");
        }
        Ok(())
    }

    /// Runs until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        super::run_stage(&self.ctx, "rotation", &self.hostchain, shutdown, || {
            self.step()
        })
        .await
    }
}

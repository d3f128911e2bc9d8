//! Carries the symbiote's relayer set to the hostchain contracts that hold one (the EVM anchor
//! and bridge contracts): when a contract's set differs from the symbiote's current one, every
//! member of the contract's set publishes its signature of the rotation on the symbiote
//! (`Cosign`), and whoever sees a threshold of them there submits the rotation. Afterwards the
//! contract accepts only the new set's signatures.
//!
//! The submission is stored (`rotations`, with its transaction in `host_txs`) before it is
//! sent, and followed by the [`Tracker`] until the contract moves past its rotation nonce (by
//! it or by another relayer's); one final without rotating, or dropped, is submitted anew. The
//! contract's rotation nonce makes a second submission of the same nonce fail harmlessly.
//! Addresses are compared in the adapter's canonical form.

use std::collections::BTreeSet;
use std::sync::Arc;

use chain_adapters::{ContractRelayers, HostchainAdapter, RelayerSetGovernance, Rotation};
use symbiote::hash::Hash;
use symbiote::tx::{Cosignature, Transaction};
use symbiote::types::HostchainId;
use tokio_util::sync::CancellationToken;

use super::BridgeContext;
use super::publisher::PublishError;
use crate::retry::StepError;
use crate::store::{RotationRow, RotationState, TxPurpose};
use crate::tracker::{Progress, Tracker, Watch};

/// Rotates the relayer sets of one hostchain's contracts.
#[derive(Clone)]
pub struct RotationStage {
    /// What every bridge stage shares.
    pub ctx: Arc<BridgeContext>,
    /// The hostchain.
    pub hostchain: HostchainId,
    /// Its adapter (which has contracts holding relayer sets).
    pub adapter: Arc<dyn HostchainAdapter>,
    /// Sends and follows the rotation transactions.
    pub tracker: Tracker,
}

impl RotationStage {
    /// `addresses` in the adapter's canonical form, as a set.
    fn canonical(&self, addresses: &[String]) -> Result<BTreeSet<String>, StepError> {
        addresses
            .iter()
            .map(|a| Ok(self.adapter.canonical_address(a)?.as_str().to_string()))
            .collect()
    }

    /// One pass over the contracts.
    pub async fn step(&self) -> Result<(), StepError> {
        let Some(governance) = self.adapter.relayer_sets() else {
            return Ok(());
        };
        let set = self.ctx.state.sets().await?.relayers.current().clone();
        let members = set
            .members
            .iter()
            .map(|r| governance.member_address(r))
            .collect::<Result<Vec<String>, _>>()?;
        let wanted = self.canonical(&members)?;
        let threshold = u64::from(set.threshold);
        for contract in governance.contract_relayers().await? {
            self.finish_earlier(&contract).await?;
            // A submission of this very rotation nonce is followed first, whatever the
            // symbiote's set is now: its transaction may still be included.
            let open = self
                .ctx
                .store
                .rotation(&self.hostchain, &contract.contract, contract.nonce)
                .await?
                .filter(|row| row.state == RotationState::Submitted);
            if let Some(row) = &open
                && self.still_pending(row).await?
            {
                continue;
            }
            if self.canonical(&contract.members)? == wanted && contract.threshold == threshold {
                continue;
            }
            let rotation = Rotation {
                contract: contract.contract.clone(),
                members: members.clone(),
                threshold,
                nonce: contract.nonce,
            };
            let Some(signatures) = self.cosign(governance, &contract, &rotation).await? else {
                continue;
            };
            self.submit(governance, &rotation, &signatures).await?;
        }
        Ok(())
    }

    /// Marks done the rotations of `contract` the contract has moved past.
    async fn finish_earlier(&self, contract: &ContractRelayers) -> Result<(), StepError> {
        for row in self.ctx.store.open_rotations(&self.hostchain).await? {
            if row.contract == contract.contract && row.nonce < contract.nonce {
                let reason = format!("the contract's rotation nonce is now {}", contract.nonce);
                self.ctx.store.finish_rotation(&row, &reason).await?;
            }
        }
        Ok(())
    }

    /// Publishes this relayer's signature of `rotation` if it is a signer that has not yet;
    /// returns the published signatures once they reach the contract's threshold.
    async fn cosign(
        &self,
        governance: &dyn RelayerSetGovernance,
        contract: &ContractRelayers,
        rotation: &Rotation,
    ) -> Result<Option<Vec<Vec<u8>>>, StepError> {
        let subject = Hash(governance.rotation_digest(rotation).await?);
        let mut published = self.ctx.state.cosignatures(&subject).await?;
        let key = self.ctx.publisher.key().public();
        let me = self
            .adapter
            .canonical_address(&governance.own_address())?
            .as_str()
            .to_string();
        let signer = self.canonical(&contract.members)?.contains(&me);
        if signer && !published.contains_key(&key) {
            let signature = governance.sign_rotation(rotation).await?;
            let body = Transaction::Cosign {
                entries: vec![Cosignature { subject, signature }],
            };
            match self.ctx.publisher.publish(body).await {
                Ok(hash) => {
                    tracing::info!(hostchain = %self.hostchain, contract = %contract.contract, nonce = contract.nonce, tx = %hash, "rotation of the contract's relayer set signed");
                }
                Err(PublishError::Superseded(_)) => {}
                Err(e) => return Err(e.into()),
            }
            published = self.ctx.state.cosignatures(&subject).await?;
        }
        let needed = usize::try_from(contract.threshold).unwrap_or(usize::MAX);
        if published.len() < needed {
            return Ok(None);
        }
        Ok(Some(published.into_values().collect()))
    }

    /// Prepares, stores and sends the rotation.
    async fn submit(
        &self,
        governance: &dyn RelayerSetGovernance,
        rotation: &Rotation,
        signatures: &[Vec<u8>],
    ) -> Result<(), StepError> {
        let tx = governance.prepare_rotation(rotation, signatures).await?;
        self.ctx
            .store
            .record_rotation_tx(
                &self.hostchain,
                &rotation.contract,
                rotation.nonce,
                &rotation.members,
                rotation.threshold,
                &tx,
                &format!("rotation sent as {}", tx.id),
            )
            .await?;
        let purpose = TxPurpose::Rotation {
            contract: rotation.contract.clone(),
            nonce: rotation.nonce,
        };
        self.tracker.send(&purpose, &tx).await?;
        tracing::info!(hostchain = %self.hostchain, contract = %rotation.contract, nonce = rotation.nonce, tx = %tx.id, members = ?rotation.members, threshold = rotation.threshold, "rotation of the contract's relayer set submitted");
        Ok(())
    }

    /// Follows a submitted rotation whose nonce the contract still waits for. Returns whether
    /// it may still be included; one that is final without having rotated, or dropped, is
    /// marked done, to be submitted anew.
    async fn still_pending(&self, row: &RotationRow) -> Result<bool, StepError> {
        let purpose = row.purpose();
        let watch = Watch::submission(&purpose, row.state_since);
        let progress = self.tracker.follow(watch).await?;
        let why = match progress {
            Progress::Included {
                fin: true,
                tx_id,
                inclusion,
                ..
            } => format!(
                "{tx_id} is final in block {} but the contract still waits for rotation {}",
                inclusion.height, row.nonce
            ),
            Progress::Dropped { reasons } => format!("dropped ({reasons})"),
            Progress::Included { .. }
            | Progress::Waiting { .. }
            | Progress::Resent { .. }
            | Progress::Replaced { .. } => return Ok(true),
        };
        tracing::warn!(hostchain = %self.hostchain, contract = %row.contract, nonce = row.nonce, why, "rotation not applied; it will be submitted again");
        self.ctx.store.finish_rotation(row, &why).await?;
        Ok(false)
    }

    /// Runs until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        super::run_stage(&self.ctx, "rotation", &self.hostchain, shutdown, || {
            self.step()
        })
        .await
    }
}

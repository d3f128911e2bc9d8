//! Rotation of the relayer sets of the anchor and bridge contracts
//! ([`RelayerSetGovernance`]): `updateRelayers(relayers, threshold, nonce, signatures)`,
//! authorized by a threshold of the set it replaces over `RelayerSetUpdate` (see
//! [`super::governance`]).

use alloy::primitives::{Address, U256};
use alloy::sol_types::SolCall;
use async_trait::async_trait;

use super::EvmAdapter;
use super::anchor::ordered_signatures;
use super::bindings::{SymbioteAnchor, typed};
use super::governance::RelayerSetContract;
use super::transactions::Purpose;
use crate::anchor::PreparedTx;
use crate::error::{AdapterResult, ErrorKind};
use crate::relayer_set::{ContractRelayers, RelayerSetGovernance, Rotation};

impl EvmAdapter {
    /// The contracts this adapter is configured with, by name.
    fn rotation_contracts(&self) -> Vec<(&'static str, RelayerSetContract, Address)> {
        let mut out = vec![(
            "anchor",
            RelayerSetContract::Anchor,
            self.config.anchor_contract,
        )];
        if let Some(bridge) = self.config.bridge_contract {
            out.push(("bridge", RelayerSetContract::Bridge, bridge));
        }
        out
    }

    fn rotation_contract(&self, name: &str) -> AdapterResult<(RelayerSetContract, Address)> {
        self.rotation_contracts()
            .into_iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, c, a)| (c, a))
            .ok_or_else(|| {
                self.err(
                    ErrorKind::Config,
                    format!("no contract '{name}' is configured (anchor, bridge)"),
                )
            })
    }

    fn update_of(&self, rotation: &Rotation) -> AdapterResult<typed::RelayerSetUpdate> {
        let relayers = rotation
            .members
            .iter()
            .map(|m| {
                m.parse::<Address>().map_err(|e| {
                    self.err(
                        ErrorKind::Rejected,
                        format!("relayer address '{m}' is not an EVM address ({e})"),
                    )
                })
            })
            .collect::<AdapterResult<Vec<Address>>>()?;
        Ok(typed::RelayerSetUpdate {
            relayers,
            threshold: U256::from(rotation.threshold),
            nonce: U256::from(rotation.nonce),
        })
    }
}

fn small(value: U256, what: &str, adapter: &EvmAdapter) -> AdapterResult<u64> {
    u64::try_from(value).map_err(|_| {
        adapter.err(
            ErrorKind::InvalidResponse,
            format!("{what} {value} does not fit 64 bits"),
        )
    })
}

#[async_trait]
impl RelayerSetGovernance for EvmAdapter {
    fn own_address(&self) -> String {
        format!("{:#x}", self.key.address())
    }

    /// The member's `evm` key: its 20-byte address.
    fn member_address(&self, relayer: &symbiote::tx::Relayer) -> AdapterResult<String> {
        let family = symbiote::types::KeyFamily::new(super::KEY_FAMILY)
            .map_err(|e| self.err(ErrorKind::Config, e.to_string()))?;
        let key = relayer.hostchain_key(&family).ok_or_else(|| {
            self.err(
                ErrorKind::Config,
                format!("relayer {} has no {family} key", relayer.key),
            )
        })?;
        let bytes: [u8; 20] = key.as_bytes().try_into().map_err(|_| {
            self.err(
                ErrorKind::Config,
                format!(
                    "relayer {}'s {family} key has {} bytes, not the 20 of an address",
                    relayer.key,
                    key.as_bytes().len()
                ),
            )
        })?;
        Ok(format!("{:#x}", Address::from(bytes)))
    }

    async fn contract_relayers(&self) -> AdapterResult<Vec<ContractRelayers>> {
        let mut out = Vec::new();
        for (name, contract, address) in self.rotation_contracts() {
            let members = self.relayer_set(address).await?;
            // Both contracts inherit RelayerSet: the anchor binding reads either.
            let threshold = SymbioteAnchor::new(address, &self.provider)
                .threshold()
                .call()
                .await
                .map_err(|e| self.contract_err("threshold()", &e))?;
            let nonce = self.relayer_set_nonce(contract).await?;
            out.push(ContractRelayers {
                contract: name.to_string(),
                members: members.iter().map(|a| format!("{a:#x}")).collect(),
                threshold: small(threshold, "threshold", self)?,
                nonce: small(nonce, "relayerSetNonce", self)?,
            });
        }
        Ok(out)
    }

    async fn rotation_digest(&self, rotation: &Rotation) -> AdapterResult<[u8; 32]> {
        let (contract, _) = self.rotation_contract(&rotation.contract)?;
        let update = self.update_of(rotation)?;
        Ok(self.relayer_set_update_digest(contract, &update).await?.0)
    }

    async fn sign_rotation(&self, rotation: &Rotation) -> AdapterResult<Vec<u8>> {
        let (contract, _) = self.rotation_contract(&rotation.contract)?;
        let update = self.update_of(rotation)?;
        self.sign_relayer_set_update(contract, &update).await
    }

    /// The gas estimate executes the call: a stale nonce or too few valid signatures fail here
    /// with `Rejected`.
    async fn prepare_rotation(
        &self,
        rotation: &Rotation,
        signatures: &[Vec<u8>],
    ) -> AdapterResult<PreparedTx> {
        let (contract, address) = self.rotation_contract(&rotation.contract)?;
        let update = self.update_of(rotation)?;
        let digest = self.relayer_set_update_digest(contract, &update).await?;
        let members = self.relayer_set(address).await?;
        let ordered = ordered_signatures(&digest, signatures, &members);
        let call = SymbioteAnchor::updateRelayersCall {
            newRelayers: update.relayers,
            newThreshold: update.threshold,
            setNonce: update.nonce,
            signatures: ordered,
        };
        self.prepare_call(
            address,
            call.abi_encode().into(),
            Purpose::Rotation {
                contract: rotation.contract.clone(),
                nonce: rotation.nonce,
            },
        )
        .await
    }
}

//! Governance of the symbiote contracts: the EIP-712 messages by which a threshold of the
//! current relayer set rotates the set (of the anchor or of the bridge contract) and administers
//! the bridge (release limits, pause, cancelling a queued release).
//!
//! The adapter computes the digests the contracts check and signs them with the relayer key;
//! deciding WHAT to sign is the caller's business (an operator's or the relayer's governance
//! flow), and a signature authorizes exactly the message given, in the domain of one contract on
//! one chain. Anyone may submit the call: the signatures of a threshold of the current set,
//! ordered with [`super::anchor::ordered_signatures`], are the whole authorization.
//!
//! - Each contract has its own relayer set and `relayerSetNonce`: rotating both is two messages
//!   with two sets of signatures, and until both are submitted the two contracts answer to
//!   different sets.
//! - `SetLimit`, `SetPaused` and `CancelQueued` share the bridge's `adminNonce`: of several
//!   messages signed for the same nonce only the first submitted is accepted.
//! - The contracts validate what they are told (non-empty set, threshold within it, no duplicate
//!   or zero relayer, delay bounds). The adapter does not repeat those rules: a signature over a
//!   message the contract refuses authorizes nothing, and the refusal comes back decoded.

use alloy::primitives::{Address, B256, U256};
use alloy::sol_types::SolStruct;

use super::EvmAdapter;
use super::anchor::domain;
use super::bindings::{
    ANCHOR_DOMAIN_NAME, BRIDGE_DOMAIN_NAME, SymbioteAnchor, SymbioteBridge, typed,
};
use crate::error::AdapterResult;

/// A contract that holds a relayer set: the one whose set a rotation replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelayerSetContract {
    /// The configured `anchor_contract` (SymbioteAnchor).
    Anchor,
    /// The configured `bridge_contract` (SymbioteBridge).
    Bridge,
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::typed::SetLimit {}
    impl Sealed for super::typed::SetPaused {}
    impl Sealed for super::typed::CancelQueued {}
}

/// The bridge's administrative messages (`SetLimit`, `SetPaused`, `CancelQueued`), all signed
/// in the bridge's domain over its current `adminNonce`. Sealed: a release or an anchor cannot
/// be signed through the governance helpers.
pub trait BridgeAdminMessage: SolStruct + sealed::Sealed + Sync {}
impl BridgeAdminMessage for typed::SetLimit {}
impl BridgeAdminMessage for typed::SetPaused {}
impl BridgeAdminMessage for typed::CancelQueued {}

impl EvmAdapter {
    /// The EIP-712 domain name and the address of `contract`; the bridge must be configured.
    fn relayer_set_contract(
        &self,
        contract: RelayerSetContract,
    ) -> AdapterResult<(&'static str, Address)> {
        match contract {
            RelayerSetContract::Anchor => Ok((ANCHOR_DOMAIN_NAME, self.config.anchor_contract)),
            RelayerSetContract::Bridge => Ok((
                BRIDGE_DOMAIN_NAME,
                self.bridge("a bridge relayer-set update")?,
            )),
        }
    }

    /// The EIP-712 digest of `message` in the domain of the contract `name` at `address`.
    async fn typed_digest<T: SolStruct + Sync>(
        &self,
        name: &'static str,
        address: Address,
        message: &T,
    ) -> AdapterResult<B256> {
        let chain_id = self.chain_id().await?;
        Ok(message.eip712_signing_hash(&domain(name, chain_id, address)))
    }

    /// The digest of a rotation of `contract`'s relayer set (its `relayerSetUpdateDigest`).
    pub async fn relayer_set_update_digest(
        &self,
        contract: RelayerSetContract,
        update: &typed::RelayerSetUpdate,
    ) -> AdapterResult<B256> {
        let (name, address) = self.relayer_set_contract(contract)?;
        self.typed_digest(name, address, update).await
    }

    /// This relayer's 65-byte signature of a rotation of `contract`'s relayer set, for a
    /// threshold of the CURRENT set to collect and submit with `updateRelayers`. `update.nonce`
    /// must be the contract's [`relayerSetNonce`](Self::relayer_set_nonce) when it is submitted.
    pub async fn sign_relayer_set_update(
        &self,
        contract: RelayerSetContract,
        update: &typed::RelayerSetUpdate,
    ) -> AdapterResult<Vec<u8>> {
        let digest = self.relayer_set_update_digest(contract, update).await?;
        self.sign_digest(&digest)
    }

    /// The nonce the next rotation of `contract`'s relayer set must carry.
    pub async fn relayer_set_nonce(&self, contract: RelayerSetContract) -> AdapterResult<U256> {
        let (_, address) = self.relayer_set_contract(contract)?;
        // Both contracts inherit RelayerSet: the anchor binding reads either.
        SymbioteAnchor::new(address, &self.provider)
            .relayerSetNonce()
            .call()
            .await
            .map_err(|e| self.contract_err("relayerSetNonce()", &e))
    }

    /// The digest of a bridge administration message (its `setLimitDigest`, `setPausedDigest`
    /// or `cancelQueuedDigest`).
    pub async fn bridge_admin_digest<M: BridgeAdminMessage>(
        &self,
        message: &M,
    ) -> AdapterResult<B256> {
        let bridge = self.bridge("a bridge administration message")?;
        self.typed_digest(BRIDGE_DOMAIN_NAME, bridge, message).await
    }

    /// This relayer's 65-byte signature of a bridge administration message. Its `nonce` must
    /// be the bridge's [`admin_nonce`](Self::admin_nonce) when it is submitted.
    pub async fn sign_bridge_admin<M: BridgeAdminMessage>(
        &self,
        message: &M,
    ) -> AdapterResult<Vec<u8>> {
        let digest = self.bridge_admin_digest(message).await?;
        self.sign_digest(&digest)
    }

    /// The nonce the next `setLimit`, `setPaused` or `cancelQueued` of the bridge must carry.
    pub async fn admin_nonce(&self) -> AdapterResult<U256> {
        let bridge = self.bridge("admin_nonce")?;
        SymbioteBridge::new(bridge, &self.provider)
            .adminNonce()
            .call()
            .await
            .map_err(|e| self.contract_err("adminNonce()", &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The type strings the contracts hash into their typehash constants, copied from
    /// RelayerSet.sol and SymbioteBridge.sol: a renamed field changes every digest.
    #[test]
    fn typed_messages_encode_the_contracts_type_strings() {
        assert_eq!(
            typed::RelayerSetUpdate::eip712_encode_type(),
            "RelayerSetUpdate(address[] relayers,uint256 threshold,uint256 nonce)"
        );
        assert_eq!(
            typed::SetLimit::eip712_encode_type(),
            "SetLimit(address token,uint256 dailyCap,uint256 largeTransferThreshold,\
             uint256 delaySeconds,uint256 nonce)"
        );
        assert_eq!(
            typed::SetPaused::eip712_encode_type(),
            "SetPaused(bool paused,uint256 nonce)"
        );
        assert_eq!(
            typed::CancelQueued::eip712_encode_type(),
            "CancelQueued(uint256 releaseNonce,uint256 nonce)"
        );
    }

    /// EIP-712 hashes an `address[]` as the keccak256 of its elements padded to 32 bytes each,
    /// which is what the contract computes with `keccak256(abi.encodePacked(newRelayers))`.
    #[test]
    fn relayer_arrays_hash_like_abi_encode_packed() {
        use alloy::primitives::keccak256;
        use alloy::sol_types::SolValue;

        let relayers = vec![Address::repeat_byte(1), Address::repeat_byte(2)];
        let update = typed::RelayerSetUpdate {
            relayers: relayers.clone(),
            threshold: U256::from(2),
            nonce: U256::from(5),
        };
        let typehash = keccak256(typed::RelayerSetUpdate::eip712_encode_type().as_bytes());
        let expected = keccak256(
            (
                typehash,
                keccak256(relayers.abi_encode_packed()),
                U256::from(2),
                U256::from(5),
            )
                .abi_encode(),
        );
        assert_eq!(update.eip712_hash_struct(), expected);
    }
}

//! Relayer sets held by hostchain contracts: what they are, and rotating them to the symbiote's
//! relayer set with the signatures of a threshold of the set they replace.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::anchor::PreparedTx;
use crate::error::AdapterResult;

/// The relayer set one hostchain contract holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractRelayers {
    /// Which contract (`anchor`, `bridge`).
    pub contract: String,
    /// The members' hostchain addresses (lower-case hex on EVM chains), in contract order.
    pub members: Vec<String>,
    /// How many must sign.
    pub threshold: u64,
    /// The nonce the next rotation must carry.
    pub nonce: u64,
}

/// A rotation of one contract's relayer set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    /// Which contract.
    pub contract: String,
    /// The new members' hostchain addresses.
    pub members: Vec<String>,
    /// The new threshold.
    pub threshold: u64,
    /// The contract's current rotation nonce.
    pub nonce: u64,
}

/// Rotation of the relayer sets of a hostchain's contracts.
#[async_trait]
pub trait RelayerSetGovernance: Send + Sync {
    /// This relayer's address on the hostchain, in the adapter's canonical form.
    fn own_address(&self) -> String;

    /// The address under which `relayer` signs for these contracts (its hostchain key of this
    /// adapter's family), in the adapter's canonical form; a member without one is an error
    /// naming it.
    fn member_address(&self, relayer: &symbiote::tx::Relayer) -> AdapterResult<String>;

    /// The relayer set of every contract this adapter is configured with.
    async fn contract_relayers(&self) -> AdapterResult<Vec<ContractRelayers>>;

    /// The digest a rotation's signatures sign.
    async fn rotation_digest(&self, rotation: &Rotation) -> AdapterResult<[u8; 32]>;

    /// This relayer's signature of `rotation`.
    async fn sign_rotation(&self, rotation: &Rotation) -> AdapterResult<Vec<u8>>;

    /// Builds and signs the transaction that submits `rotation` with `signatures` (of the
    /// current set; extra or foreign ones are left out). Nothing is sent.
    async fn prepare_rotation(
        &self,
        rotation: &Rotation,
        signatures: &[Vec<u8>],
    ) -> AdapterResult<PreparedTx>;
}

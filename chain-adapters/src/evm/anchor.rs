//! Anchoring on an EVM chain: a call of the SymbioteAnchor contract's
//! `anchor(symbiote, sequence, root, fromHeight, toHeight, signatures)`.
//!
//! The contract accepts an anchor only with signatures of a threshold of its current relayer
//! set over the EIP-712 message
//! `Anchor(bytes32 symbiote,uint64 sequence,bytes32 root,uint64 fromHeight,uint64 toHeight)` in
//! the domain ("SymbioteAnchor", "1", chain id, contract address), ordered by strictly
//! ascending signer address. [`Anchorer::sign_anchor`] produces this relayer's signature for
//! the others to collect; [`Anchorer::prepare_anchor`] adds its own to the collected ones,
//! keeps those of current relayers, one per signer, in the order the contract wants, and
//! submits the call from the relayer's account.

use alloy::primitives::{Address, B256, Bytes, Signature};
use alloy::sol_types::{Eip712Domain, SolCall, SolStruct};
use async_trait::async_trait;
use symbiote::anchor::AnchorPayload;
use symbiote::hash::Hash;
use symbiote::types::{Sequence, SymbioteId};

use super::EvmAdapter;
use super::bindings::{ANCHOR_DOMAIN_NAME, DOMAIN_VERSION, SymbioteAnchor, typed};
use super::transactions::Purpose;
use crate::anchor::{AnchorReadBack, AnchorRequest, Anchorer, Inclusion, PreparedTx, TxStatus};
use crate::error::{AdapterResult, ErrorKind};

/// The EIP-712 domain of a symbiote contract named `name` at `contract` on `chain_id`.
pub fn domain(name: &'static str, chain_id: u64, contract: Address) -> Eip712Domain {
    Eip712Domain::new(
        Some(name.into()),
        Some(DOMAIN_VERSION.into()),
        Some(alloy::primitives::U256::from(chain_id)),
        Some(contract),
        None,
    )
}

/// The typed-data message of an anchor request.
pub fn anchor_message(request: &AnchorRequest) -> typed::Anchor {
    typed::Anchor {
        symbiote: B256::from(*request.symbiote.as_bytes()),
        sequence: request.payload.sequence.get(),
        root: B256::from(*request.payload.root.as_bytes()),
        fromHeight: request.from.get(),
        toHeight: request.to.get(),
    }
}

/// The signatures to submit with a call: those of `signatures` that are well-formed and were
/// made by a member of `members` over `digest`, one per signer, ordered by ascending signer
/// address, as RelayerSet's `_checkSignatures` requires. The others are dropped and logged
/// (the contract would revert on any of them).
pub fn ordered_signatures(
    digest: &B256,
    signatures: &[Vec<u8>],
    members: &[Address],
) -> Vec<Bytes> {
    let mut by_signer: Vec<(Address, Bytes)> = Vec::with_capacity(signatures.len());
    for bytes in signatures {
        let signer = Signature::try_from(bytes.as_slice())
            .ok()
            .and_then(|s| s.recover_address_from_prehash(digest).ok());
        match signer {
            Some(signer) if members.contains(&signer) => {
                if !by_signer.iter().any(|(s, _)| *s == signer) {
                    by_signer.push((signer, Bytes::copy_from_slice(bytes)));
                }
            }
            Some(signer) => {
                tracing::warn!(%signer, "dropping a signature of an address outside the relayer set");
            }
            None => tracing::warn!(
                len = bytes.len(),
                "dropping a signature that does not recover to an address"
            ),
        }
    }
    by_signer.sort_by_key(|(signer, _)| *signer);
    by_signer.into_iter().map(|(_, bytes)| bytes).collect()
}

impl EvmAdapter {
    /// The EIP-712 digest of `request` that the anchor contract checks (its `anchorDigest`).
    pub async fn anchor_digest(&self, request: &AnchorRequest) -> AdapterResult<B256> {
        let chain_id = self.chain_id().await?;
        let domain = domain(ANCHOR_DOMAIN_NAME, chain_id, self.config.anchor_contract);
        Ok(anchor_message(request).eip712_signing_hash(&domain))
    }

    /// This relayer's 65-byte signature of `digest`.
    pub(crate) fn sign_digest(&self, digest: &B256) -> AdapterResult<Vec<u8>> {
        self.key
            .sign_digest(digest)
            .map(|s| s.to_vec())
            .map_err(|e| self.err(ErrorKind::Config, e))
    }

    /// The current relayer set of the RelayerSet contract at `contract` (anchor or bridge).
    pub(crate) async fn relayer_set(&self, contract: Address) -> AdapterResult<Vec<Address>> {
        SymbioteAnchor::new(contract, &self.provider)
            .relayers()
            .call()
            .await
            .map_err(|e| self.contract_err("relayers()", &e))
    }

    /// Own signature plus `cosignatures`, ordered for the contract at `contract`.
    pub(crate) async fn authorization(
        &self,
        contract: Address,
        digest: &B256,
        cosignatures: &[Vec<u8>],
    ) -> AdapterResult<Vec<Bytes>> {
        let members = self.relayer_set(contract).await?;
        if !members.contains(&self.key.address()) {
            tracing::warn!(
                relayer = %self.key.address(),
                "this relayer is not in the contract's relayer set; only cosignatures count"
            );
        }
        let mut all = Vec::with_capacity(cosignatures.len().saturating_add(1));
        all.push(self.sign_digest(digest)?);
        all.extend(cosignatures.iter().cloned());
        Ok(ordered_signatures(digest, &all, &members))
    }

    /// The anchor in the transaction `id`, with where it is.
    async fn find_anchor(&self, id: &str) -> AdapterResult<(AnchorPayload, Inclusion, SymbioteId)> {
        let hash = super::parse_tx_hash(&self.hostchain, id)?;
        let receipt = self
            .receipt(hash)
            .await?
            .ok_or_else(|| self.err(ErrorKind::NotFound, format!("no mined transaction {id}")))?;
        let inclusion = self.inclusion(&receipt)?;
        let anchored = receipt
            .inner
            .logs()
            .iter()
            .filter(|log| log.address() == self.config.anchor_contract)
            .find_map(|log| log.log_decode::<SymbioteAnchor::Anchored>().ok())
            .ok_or_else(|| {
                self.err(
                    ErrorKind::NotFound,
                    format!(
                        "transaction {id} emitted no Anchored event of the anchor contract {}",
                        self.config.anchor_contract
                    ),
                )
            })?;
        let event = anchored.inner.data;
        let payload = AnchorPayload {
            sequence: Sequence::new(event.sequence),
            root: Hash(event.root.0),
        };
        let symbiote = SymbioteId::from_hash(Hash(event.symbiote.0));
        Ok((payload, inclusion, symbiote))
    }
}

#[async_trait]
impl Anchorer for EvmAdapter {
    async fn sign_anchor(&self, request: &AnchorRequest) -> AdapterResult<Option<Vec<u8>>> {
        let digest = self.anchor_digest(request).await?;
        self.sign_digest(&digest).map(Some)
    }

    async fn prepare_anchor(&self, request: &AnchorRequest) -> AdapterResult<PreparedTx> {
        let digest = self.anchor_digest(request).await?;
        let contract = self.config.anchor_contract;
        let signatures = self
            .authorization(contract, &digest, &request.cosignatures)
            .await?;
        let message = anchor_message(request);
        let call = SymbioteAnchor::anchorCall {
            symbiote: message.symbiote,
            sequence: message.sequence,
            root: message.root,
            fromHeight: message.fromHeight,
            toHeight: message.toHeight,
            signatures,
        };
        self.prepare_call(
            contract,
            call.abi_encode().into(),
            Purpose::Anchor {
                symbiote: request.symbiote.to_string(),
                sequence: request.payload.sequence.get(),
            },
        )
        .await
    }

    async fn broadcast(&self, tx: &PreparedTx) -> AdapterResult<()> {
        self.send(tx).await
    }

    async fn status(&self, tx: &PreparedTx, seen: Option<&Inclusion>) -> AdapterResult<TxStatus> {
        self.follow(tx, seen).await
    }

    async fn replace(&self, tx: &PreparedTx) -> AdapterResult<PreparedTx> {
        self.replacement(tx).await
    }

    /// Reads the first `Anchored` event that the configured anchor contract emitted in the
    /// transaction, with the symbiote it names, from a node on the configured chain.
    async fn read_anchor(&self, id: &str) -> AdapterResult<AnchorReadBack> {
        self.chain_id().await?;
        let (payload, inclusion, symbiote) = self.find_anchor(id).await?;
        let (confirmations, fin) = self.depth(inclusion.height).await?;
        Ok(AnchorReadBack {
            payload,
            inclusion,
            confirmations,
            fin,
            symbiote: Some(symbiote),
        })
    }
}

#[cfg(test)]
mod tests {
    use alloy::signers::SignerSync;
    use alloy::signers::local::PrivateKeySigner;

    use super::*;

    #[test]
    fn signatures_are_filtered_deduplicated_and_sorted_by_signer() {
        let digest = B256::repeat_byte(0x42);
        let keys: Vec<PrivateKeySigner> = (0..3).map(|_| PrivateKeySigner::random()).collect();
        let sign = |k: &PrivateKeySigner| k.sign_hash_sync(&digest).unwrap().as_bytes().to_vec();
        let outsider = PrivateKeySigner::random();
        let members: Vec<Address> = keys.iter().map(|k| k.address()).collect();
        let given = vec![
            sign(&keys[2]),
            sign(&outsider),
            sign(&keys[0]),
            vec![1, 2, 3],
            sign(&keys[2]),
            sign(&keys[1]),
        ];
        let ordered = ordered_signatures(&digest, &given, &members);
        let signers: Vec<Address> = ordered
            .iter()
            .map(|b| {
                Signature::try_from(b.as_ref())
                    .unwrap()
                    .recover_address_from_prehash(&digest)
                    .unwrap()
            })
            .collect();
        let mut expected = members.clone();
        expected.sort();
        assert_eq!(signers, expected);
    }
}

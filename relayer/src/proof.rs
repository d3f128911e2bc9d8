//! Anchor proofs: from a symbiote block to the hostchain transactions that anchor it.
//!
//! A proof document (JSON, `version` 1) holds the block's hash, the Merkle path to its batch's
//! commitment, the commitment (with the quorum certificate of its last block) and its path to
//! the aggregate root, the validator set that signed that certificate, and where the aggregate
//! root was anchored. [`verify`] checks it with nothing but the hostchains' RPC endpoints and
//! says exactly which step fails.

use chain_adapters::anchor::{AnchorReadBack, AnchorReader};
use serde::{Deserialize, Serialize};
use symbiote::block::Header;
use symbiote::certificate::QuorumCertificate;
use symbiote::client::NodeClient;
use symbiote::hash::Hash;
use symbiote::proof::AnchorProof;
use symbiote::state::{StateKey, StateProof};
use symbiote::types::{Height, HostchainId, Sequence, SymbioteId};
use symbiote::validators::ValidatorSet;

use crate::store::{AnchorState, Store, StoreError};

/// The proof format version this code writes and reads.
pub const PROOF_VERSION: u32 = 1;

/// Where an aggregate root was anchored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorLocation {
    /// The hostchain id.
    pub hostchain: HostchainId,
    /// The anchor's sequence number there.
    pub sequence: Sequence,
    /// The anchoring transaction.
    pub tx_id: String,
    /// The including block's height (slot on Solana) and hash when the proof was made.
    pub block_height: u64,
    pub block_hash: String,
}

/// A proof that a symbiote block is anchored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofDocument {
    /// Format version ([`PROOF_VERSION`]).
    pub version: u32,
    /// The symbiote.
    pub symbiote: SymbioteId,
    /// The block's height and hash.
    pub height: Height,
    pub block_hash: Hash,
    /// Block -> commitment -> aggregate root.
    pub proof: AnchorProof,
    /// The validator set that signed the commitment's last block.
    pub validators: ValidatorSet,
    /// Where the aggregate root is anchored (final anchors only).
    pub anchors: Vec<AnchorLocation>,
}

/// Why a proof cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("block {0} is not in any batch yet")]
    NotBatched(u64),
    #[error("block {0} has no final anchor yet")]
    NotAnchored(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("symbiote node: {0}")]
    Node(#[from] symbiote::client::ClientError),
    #[error("{0}")]
    Inconsistent(String),
}

/// Builds the proof of block `height` from the store (and the validator set from the node).
pub async fn build(
    store: &Store,
    node: &NodeClient,
    symbiote: SymbioteId,
    height: u64,
) -> Result<ProofDocument, BuildError> {
    let batch = store
        .batch_containing(height)
        .await?
        .ok_or(BuildError::NotBatched(height))?;
    let (commitment, aggregate) = store
        .batch_contents(batch.id)
        .await?
        .ok_or_else(|| BuildError::Inconsistent(format!("batch {} has no contents", batch.id)))?;
    let hashes = store
        .block_hashes(batch.from_height, batch.to_height)
        .await?;
    let block = commitment
        .prove_block(&hashes, Height::new(height))
        .map_err(|e| BuildError::Inconsistent(e.to_string()))?;
    let in_aggregate = aggregate
        .prove(&commitment)
        .map_err(|e| BuildError::Inconsistent(e.to_string()))?;
    let validators = node.validators_at(commitment.to).await?;
    if validators.hash() != commitment.validator_set_hash {
        return Err(BuildError::Inconsistent(
            "the node's validator set does not match the commitment".into(),
        ));
    }
    let anchors: Vec<AnchorLocation> = store
        .anchors(Some(batch.id), 100)
        .await?
        .into_iter()
        .filter(|a| a.state == AnchorState::Final)
        .filter_map(|a| {
            let inclusion = a.inclusion?;
            Some(AnchorLocation {
                hostchain: a.hostchain,
                sequence: a.sequence,
                tx_id: a.tx_id?,
                block_height: inclusion.height,
                block_hash: inclusion.block_hash,
            })
        })
        .collect();
    if anchors.is_empty() {
        return Err(BuildError::NotAnchored(height));
    }
    Ok(ProofDocument {
        version: PROOF_VERSION,
        symbiote,
        height: Height::new(height),
        block_hash: block.block_hash,
        proof: AnchorProof {
            block,
            commitment: in_aggregate,
            aggregate_root: aggregate.root(),
        },
        validators,
        anchors,
    })
}

/// One verification step and its outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// What was checked.
    pub step: String,
    /// Whether it holds.
    pub ok: bool,
    /// Why not, or what was found.
    pub detail: String,
}

impl Step {
    /// Step `step` with its outcome: the detail found, or why it fails.
    fn of(step: &str, result: Result<String, String>) -> Step {
        let (ok, detail) = match result {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        Step {
            step: step.to_string(),
            ok,
            detail,
        }
    }
}

/// The anchor readers `relayer verify` uses, by hostchain id.
pub type Readers = std::collections::BTreeMap<HostchainId, std::sync::Arc<dyn AnchorReader>>;

/// The anchor readers of those `hostchains` that `doc` lists anchors on (see
/// [`chain_adapters::registry::ReaderFactory`]): no key is read, nothing is sent, nothing is
/// logged.
pub async fn readers(
    doc: &ProofDocument,
    hostchains: &[crate::config::HostchainConfig],
) -> Result<Readers, chain_adapters::AdapterError> {
    let mut readers = Readers::new();
    let listed = |chain: &&crate::config::HostchainConfig| {
        doc.anchors.iter().any(|a| a.hostchain == chain.id)
    };
    for chain in hostchains.iter().filter(listed) {
        let reader =
            chain_adapters::registry::reader(&chain.kind, chain.id.clone(), chain.settings.clone())
                .await?;
        readers.insert(chain.id.clone(), reader);
    }
    Ok(readers)
}

/// Checks every step of `doc`: the block is in the commitment, the commitment is signed by a
/// quorum of the included validator set and is in the aggregate, and each listed hostchain
/// transaction carries the aggregate root and is final. Returns every step; the proof holds
/// when all are ok and at least one anchor verified.
pub async fn verify(doc: &ProofDocument, readers: &Readers) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut check = |step: &str, result: Result<String, String>| {
        steps.push(Step::of(step, result));
    };
    check(
        "format",
        if doc.version == PROOF_VERSION {
            Ok(format!("version {PROOF_VERSION}"))
        } else {
            Err(format!("unsupported version {}", doc.version))
        },
    );
    let block = &doc.proof.block;
    check(
        "block",
        if block.block_hash == doc.block_hash && block.height == doc.height {
            Ok(format!("block {} {}", doc.height, doc.block_hash))
        } else {
            Err(format!(
                "the proof is for block {} {}, not {} {}",
                block.height, block.block_hash, doc.height, doc.block_hash
            ))
        },
    );
    let commitment = &doc.proof.commitment.commitment;
    check(
        "symbiote",
        if commitment.symbiote == doc.symbiote {
            Ok(format!("symbiote {}", doc.symbiote))
        } else {
            Err(format!(
                "the commitment is of symbiote {}, the proof says {}",
                commitment.symbiote, doc.symbiote
            ))
        },
    );
    check(
        "commitment certificate",
        commitment
            .verify(&doc.validators)
            .map(|()| {
                format!(
                    "blocks {}..={} signed by a quorum of validator set {}",
                    commitment.from,
                    commitment.to,
                    doc.validators.hash()
                )
            })
            .map_err(|e| e.to_string()),
    );
    check(
        "block -> commitment -> aggregate",
        doc.proof
            .verify(&doc.proof.aggregate_root)
            .map(|()| format!("aggregate root {}", doc.proof.aggregate_root))
            .map_err(|e| e.to_string()),
    );
    for anchor in &doc.anchors {
        let name = format!("hostchain {} tx {}", anchor.hostchain, anchor.tx_id);
        let Some(reader) = readers.get(&anchor.hostchain) else {
            check(
                &name,
                Err(format!(
                    "no [hostchains.{}] section: give its kind, RPC endpoint and whose anchors \
                     count",
                    anchor.hostchain
                )),
            );
            continue;
        };
        let result = match reader.read_anchor(&anchor.tx_id).await {
            Err(e) => Err(e.to_string()),
            Ok(read) if read.payload.root != doc.proof.aggregate_root => Err(format!(
                "the transaction anchors root {}, not the proof's {}",
                read.payload.root, doc.proof.aggregate_root
            )),
            Ok(AnchorReadBack {
                symbiote: Some(named),
                ..
            }) if named != doc.symbiote => Err(format!(
                "the transaction anchors symbiote {named}, not the proof's {}",
                doc.symbiote
            )),
            Ok(read) if read.payload.sequence != anchor.sequence => Err(format!(
                "the transaction carries sequence {}, the proof says {}",
                read.payload.sequence, anchor.sequence
            )),
            Ok(read)
                if read.inclusion.height != anchor.block_height
                    || !read
                        .inclusion
                        .block_hash
                        .eq_ignore_ascii_case(&anchor.block_hash) =>
            {
                Err(format!(
                    "the transaction is in block {} {}, the proof says {} {}",
                    read.inclusion.height,
                    read.inclusion.block_hash,
                    anchor.block_height,
                    anchor.block_hash
                ))
            }
            Ok(read) if !read.fin => Err(format!(
                "included at {} but not final yet ({} confirmations)",
                read.inclusion.height, read.confirmations
            )),
            Ok(read) => Ok(format!(
                "final at {} {} ({} confirmations)",
                read.inclusion.height, read.inclusion.block_hash, read.confirmations
            )),
        };
        check(&name, result);
    }
    if doc.anchors.is_empty() {
        check(
            "anchors",
            Err("the proof lists no hostchain transaction".into()),
        );
    }
    steps
}

/// The `kind` of a state proof document.
pub const STATE_DOCUMENT_KIND: &str = "state";

/// A proof that, at a finalized height of a symbiote, state entries have the given values (or
/// none): the block's header with its quorum certificate and the validator set that signed it,
/// and each entry's proof against the header's state root.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateDocument {
    /// Format version ([`PROOF_VERSION`]).
    pub version: u32,
    /// [`STATE_DOCUMENT_KIND`].
    pub kind: String,
    /// The symbiote.
    pub symbiote: SymbioteId,
    /// The finalized block's header.
    pub header: Header,
    /// Its quorum certificate.
    pub certificate: QuorumCertificate,
    /// The validator set that signed it (its hash is the header's `validator_set_hash`).
    pub validators: ValidatorSet,
    /// The entries with their proofs.
    pub proofs: Vec<StateProof>,
}

/// Builds the proof of entries `keys` at finalized `height` from the node. Everything the node
/// answers is checked before it is written down.
pub async fn build_state(
    node: &NodeClient,
    symbiote: SymbioteId,
    height: Height,
    keys: &[StateKey],
) -> Result<StateDocument, BuildError> {
    let block = node.block(height).await?.ok_or_else(|| {
        BuildError::Inconsistent(format!("the node has no finalized block {height}"))
    })?;
    let validators = node.validators_at(height).await?;
    let reply = node.state_proofs(Some(height), keys).await?;
    let doc = StateDocument {
        version: PROOF_VERSION,
        kind: STATE_DOCUMENT_KIND.to_string(),
        symbiote,
        header: block.block.header,
        certificate: block.certificate,
        validators,
        proofs: reply.proofs,
    };
    if let Some(failed) = verify_state(&doc).into_iter().find(|s| !s.ok) {
        return Err(BuildError::Inconsistent(format!(
            "the node's answer does not verify: {}: {}",
            failed.step, failed.detail
        )));
    }
    Ok(doc)
}

/// Checks every claim of a state document: the header is of the symbiote and signed by a
/// quorum of the listed validator set (which is the one the header names), and each entry's
/// proof leads to the header's state root. Needs nothing but the document; the reader checks
/// the validator set's hash against the one it trusts (printed in the `validators` step).
pub fn verify_state(doc: &StateDocument) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut check = |step: &str, result: Result<String, String>| {
        steps.push(Step::of(step, result));
    };
    check(
        "format",
        if doc.version == PROOF_VERSION && doc.kind == STATE_DOCUMENT_KIND {
            Ok(format!("state proof, version {PROOF_VERSION}"))
        } else {
            Err(format!(
                "unsupported {} document version {}",
                doc.kind, doc.version
            ))
        },
    );
    let header = &doc.header;
    check(
        "header",
        if header.symbiote != doc.symbiote {
            Err(format!(
                "the header is of symbiote {}, the document says {}",
                header.symbiote, doc.symbiote
            ))
        } else if doc.certificate.symbiote != doc.symbiote
            || doc.certificate.height != header.height
            || doc.certificate.block_hash != header.hash()
        {
            Err(format!(
                "the certificate signs block {} {} of {}, not this header ({} {})",
                doc.certificate.height,
                doc.certificate.block_hash,
                doc.certificate.symbiote,
                header.height,
                header.hash()
            ))
        } else {
            Ok(format!("block {} {}", header.height, header.hash()))
        },
    );
    check(
        "validators",
        if doc.validators.hash() == header.validator_set_hash {
            Ok(format!("validator set {}", header.validator_set_hash))
        } else {
            Err(format!(
                "the listed set hashes to {}, the header names {}",
                doc.validators.hash(),
                header.validator_set_hash
            ))
        },
    );
    check(
        "certificate",
        doc.certificate
            .verify(&doc.validators)
            .map(|()| "signed by a quorum".to_string())
            .map_err(|e| e.to_string()),
    );
    for proof in &doc.proofs {
        let result = proof
            .verify(&header.state_root)
            .map_err(|e| e.to_string())
            .and_then(|entry| match entry {
                Some(entry) => serde_json::to_string(&entry).map_err(|e| e.to_string()),
                None => Ok("none".to_string()),
            });
        check(
            &format!("{} at height {}", proof.key, header.height),
            result,
        );
    }
    if doc.proofs.is_empty() {
        check("entries", Err("the document proves no entry".into()));
    }
    steps
}

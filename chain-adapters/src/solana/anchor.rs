//! Anchoring on Solana: an SPL Memo instruction whose text is the hex of the anchor payload,
//! signed and paid by the relayer key. Also the transaction plumbing that releases share:
//! building with a recent blockhash, sending idempotently, following a signature, and
//! re-submitting after the blockhash expired.

use std::str::FromStr;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use solana_client::rpc_config::{RpcBlockConfig, RpcSendTransactionConfig, RpcTransactionConfig};
use solana_commitment_config::{CommitmentConfig, CommitmentLevel};
use solana_compute_budget_interface::ComputeBudgetInstruction;
use solana_sdk::instruction::Instruction;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{Keypair, Signature, Signer};
use solana_sdk::transaction::{Transaction, TransactionError, VersionedTransaction};
use solana_transaction_status_client_types::{
    TransactionConfirmationStatus, TransactionDetails, UiTransactionEncoding,
};
use symbiote::anchor::AnchorPayload;

use super::SolanaAdapter;
use super::errors::transaction_error;
use crate::anchor::{AnchorReadBack, AnchorRequest, Anchorer, Inclusion, PreparedTx, TxStatus};
use crate::bridge::ReleaseOrder;
use crate::error::{AdapterResult, ErrorKind};

/// Compute units requested per transaction (memo, transfers, token account creation).
const COMPUTE_UNITS: u32 = 200_000;
/// The first priority fee a re-submission pays when the original paid none.
const MIN_BUMP_MICRO_LAMPORTS: u64 = 1_000;
/// Confirmations reported for a rooted (finalized) transaction, whose count the RPC omits.
const ROOTED_CONFIRMATIONS: u64 = 32;

/// What a prepared Solana transaction does; kept in [`PreparedTx::meta`] so that it can be
/// rebuilt with a fresh blockhash.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Purpose {
    /// An anchor memo.
    Anchor { payload: AnchorPayload },
    /// A release from the vault.
    Release { order: ReleaseOrder },
}

/// [`PreparedTx::meta`] of Solana transactions.
///
/// Persisted format (`v` = 1): stored by the relayer with the transaction.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Meta {
    /// Layout version.
    pub v: u8,
    /// The blockhash the transaction was signed with.
    pub blockhash: String,
    /// The last block height at which that blockhash is accepted.
    pub last_valid_block_height: u64,
    /// The priority fee paid, in micro-lamports per compute unit.
    pub priority_fee: u64,
    /// What the transaction does.
    #[serde(flatten)]
    pub purpose: Purpose,
}

/// The memo text of an anchor: the payload's bytes in hex (the Memo program only accepts UTF-8).
pub fn anchor_memo(payload: &AnchorPayload) -> String {
    hex::encode(payload.encode())
}

impl SolanaAdapter {
    pub(crate) fn meta(&self, tx: &PreparedTx) -> AdapterResult<Meta> {
        serde_json::from_value(tx.meta.clone()).map_err(|e| {
            self.err(
                ErrorKind::InvalidResponse,
                format!(
                    "prepared transaction {} has unreadable metadata: {e}",
                    tx.id
                ),
            )
        })
    }

    fn signature(&self, id: &str) -> AdapterResult<Signature> {
        Signature::from_str(id).map_err(|e| {
            self.err(
                ErrorKind::NotFound,
                format!("'{id}' is not a Solana signature ({e})"),
            )
        })
    }

    fn decode_tx(&self, tx: &PreparedTx) -> AdapterResult<Transaction> {
        bincode::deserialize(&tx.raw).map_err(|e| {
            self.err(
                ErrorKind::InvalidResponse,
                format!("prepared transaction {} does not decode: {e}", tx.id),
            )
        })
    }

    /// The instructions of `purpose`, after the compute budget ones.
    fn instructions(
        &self,
        purpose: &Purpose,
        priority_fee: u64,
    ) -> AdapterResult<Vec<Instruction>> {
        let mut instructions = vec![ComputeBudgetInstruction::set_compute_unit_limit(
            COMPUTE_UNITS,
        )];
        if priority_fee > 0 {
            instructions.push(ComputeBudgetInstruction::set_compute_unit_price(
                priority_fee,
            ));
        }
        match purpose {
            Purpose::Anchor { payload } => {
                let signer = self.key.pubkey();
                instructions.push(spl_memo_interface::instruction::build_memo(
                    &spl_memo_interface::v3::id(),
                    anchor_memo(payload).as_bytes(),
                    &[&signer],
                ));
            }
            Purpose::Release { order } => instructions.extend(self.release_instructions(order)?),
        }
        Ok(instructions)
    }

    /// Builds and signs a transaction for `purpose` with a fresh blockhash.
    pub(crate) async fn prepare(
        &self,
        purpose: Purpose,
        priority_fee: u64,
    ) -> AdapterResult<PreparedTx> {
        let instructions = self.instructions(&purpose, priority_fee)?;
        let (blockhash, last_valid_block_height) = self
            .rpc
            .get_latest_blockhash_with_commitment(CommitmentConfig::confirmed())
            .await
            .map_err(|e| self.rpc_err("getLatestBlockhash", &e))?;
        let payer = self.key.pubkey();
        let mut signers: Vec<&Keypair> = vec![&self.key];
        if let (Purpose::Release { .. }, Some(vault)) = (&purpose, &self.vault_key)
            && vault.pubkey() != payer
        {
            signers.push(vault);
        }
        let tx =
            Transaction::new_signed_with_payer(&instructions, Some(&payer), &signers, blockhash);
        let id = tx
            .signatures
            .first()
            .map(ToString::to_string)
            .ok_or_else(|| {
                self.err(
                    ErrorKind::InvalidResponse,
                    "signed transaction has no signature",
                )
            })?;
        let raw = bincode::serialize(&tx).map_err(|e| {
            self.err(
                ErrorKind::InvalidResponse,
                format!("cannot encode transaction: {e}"),
            )
        })?;
        let meta = Meta {
            v: 1,
            blockhash: blockhash.to_string(),
            last_valid_block_height,
            priority_fee,
            purpose,
        };
        Ok(PreparedTx {
            hostchain: self.hostchain.clone(),
            id,
            raw,
            meta: serde_json::to_value(meta)
                .map_err(|e| self.err(ErrorKind::InvalidResponse, e.to_string()))?,
        })
    }

    async fn block_height(&self) -> AdapterResult<u64> {
        self.rpc
            .get_block_height_with_commitment(CommitmentConfig::confirmed())
            .await
            .map_err(|e| self.rpc_err("getBlockHeight", &e))
    }

    /// The hash of the block at `slot`.
    async fn blockhash_of_slot(&self, slot: u64) -> AdapterResult<String> {
        let config = RpcBlockConfig {
            encoding: None,
            transaction_details: Some(TransactionDetails::None),
            rewards: Some(false),
            commitment: Some(CommitmentConfig::confirmed()),
            max_supported_transaction_version: Some(0),
        };
        self.rpc
            .get_block_with_config(slot, config)
            .await
            .map(|b| b.blockhash)
            .map_err(|e| self.rpc_err(&format!("getBlock {slot}"), &e))
    }

    /// The on-chain status of a signature: (slot, confirmations, finalized, error).
    async fn signature_status(
        &self,
        signature: &Signature,
    ) -> AdapterResult<Option<(u64, u64, bool, Option<TransactionError>)>> {
        let statuses = match self
            .rpc
            .get_signature_statuses_with_history(&[*signature])
            .await
        {
            Ok(statuses) => statuses,
            // A node without transaction history still knows recent signatures.
            Err(e) if is_history_unavailable(&e) => self
                .rpc
                .get_signature_statuses(&[*signature])
                .await
                .map_err(|e| self.rpc_err("getSignatureStatuses", &e))?,
            Err(e) => return Err(self.rpc_err("getSignatureStatuses", &e)),
        };
        Ok(statuses.value.into_iter().next().flatten().map(|status| {
            let finalized = matches!(
                status.confirmation_status,
                Some(TransactionConfirmationStatus::Finalized)
            );
            let confirmations = status.confirmations.map_or(ROOTED_CONFIRMATIONS, |c| {
                u64::try_from(c).unwrap_or(u64::MAX)
            });
            (status.slot, confirmations, finalized, status.err)
        }))
    }

    /// Sends a prepared transaction; a transaction that already landed is not an error.
    pub(crate) async fn send(&self, prepared: &PreparedTx) -> AdapterResult<()> {
        let tx = self.decode_tx(prepared)?;
        let config = RpcSendTransactionConfig {
            skip_preflight: false,
            preflight_commitment: Some(CommitmentLevel::Confirmed),
            encoding: Some(UiTransactionEncoding::Base64),
            max_retries: None,
            min_context_slot: None,
        };
        match self.rpc.send_transaction_with_config(&tx, config).await {
            Ok(_) => Ok(()),
            Err(e) => {
                if matches!(
                    transaction_error(&e),
                    Some(TransactionError::AlreadyProcessed)
                ) {
                    return Ok(());
                }
                // An expired blockhash also fails preflight for a transaction that landed.
                let signature = self.signature(&prepared.id)?;
                if let Some((_, _, _, None)) = self.signature_status(&signature).await? {
                    return Ok(());
                }
                Err(self.rpc_err("sendTransaction", &e))
            }
        }
    }

    /// Where a signature stands (see [`Anchorer::status`]).
    pub(crate) async fn follow(
        &self,
        prepared: &PreparedTx,
        seen: Option<&Inclusion>,
    ) -> AdapterResult<TxStatus> {
        let meta = self.meta(prepared)?;
        let signature = self.signature(&prepared.id)?;
        match self.signature_status(&signature).await? {
            Some((_, _, _, Some(error))) => Ok(TxStatus::Dropped {
                reason: format!("the transaction failed on chain: {error}"),
            }),
            Some((slot, confirmations, fin, None)) => {
                let block_hash = match seen {
                    Some(s) if s.height == slot && !s.block_hash.is_empty() => s.block_hash.clone(),
                    _ => match self.blockhash_of_slot(slot).await {
                        Ok(hash) => hash,
                        // A block just confirmed may not be served yet: until its hash is
                        // known the transaction counts as pending, so that no inclusion is
                        // ever stored without it.
                        Err(_) => return Ok(TxStatus::InMempool),
                    },
                };
                Ok(TxStatus::Included {
                    inclusion: Inclusion {
                        height: slot,
                        block_hash,
                    },
                    confirmations,
                    fin,
                })
            }
            None => {
                if let Some(previous) = seen {
                    return Ok(TxStatus::ReorgedOut {
                        previous: previous.clone(),
                    });
                }
                let height = self.block_height().await?;
                if height > meta.last_valid_block_height {
                    Ok(TxStatus::Dropped {
                        reason: format!(
                            "blockhash expired at block height {} before the transaction landed",
                            meta.last_valid_block_height
                        ),
                    })
                } else {
                    Ok(TxStatus::InMempool)
                }
            }
        }
    }

    /// A re-submission of `prepared` with a fresh blockhash and a higher priority fee, allowed
    /// only once the old blockhash has expired without the transaction landing, so that at most
    /// one of them can ever land.
    pub(crate) async fn resubmission(&self, prepared: &PreparedTx) -> AdapterResult<PreparedTx> {
        let meta = self.meta(prepared)?;
        let signature = self.signature(&prepared.id)?;
        if let Some((slot, ..)) = self.signature_status(&signature).await? {
            return Err(self.err(
                ErrorKind::Stale,
                format!(
                    "{} already landed at slot {slot}; nothing to replace",
                    prepared.id
                ),
            ));
        }
        let height = self.block_height().await?;
        if height <= meta.last_valid_block_height {
            return Err(self.err(
                ErrorKind::Stale,
                format!(
                    "{} may still land until block height {} (now {height}): broadcast it again instead",
                    prepared.id, meta.last_valid_block_height
                ),
            ));
        }
        let bumped = meta
            .priority_fee
            .saturating_mul(2)
            .max(MIN_BUMP_MICRO_LAMPORTS)
            .min(self.config.max_priority_fee_micro_lamports);
        self.prepare(meta.purpose, bumped).await
    }

    /// The transaction `signature` with its slot, decoded (confirmed or finalized).
    pub(crate) async fn fetch_transaction(
        &self,
        signature: &Signature,
        commitment: CommitmentConfig,
    ) -> AdapterResult<(
        u64,
        VersionedTransaction,
        Option<solana_transaction_status_client_types::UiTransactionStatusMeta>,
    )> {
        let config = RpcTransactionConfig {
            encoding: Some(UiTransactionEncoding::Base64),
            commitment: Some(commitment),
            max_supported_transaction_version: Some(0),
        };
        let confirmed = self
            .rpc
            .get_transaction_with_config(signature, config)
            .await
            .map_err(|e| self.rpc_err(&format!("getTransaction {signature}"), &e))?;
        let tx = confirmed.transaction.transaction.decode().ok_or_else(|| {
            self.err(
                ErrorKind::InvalidResponse,
                format!("transaction {signature} does not decode"),
            )
        })?;
        // The node must give the transaction asked for, signed as it says: its first signature
        // is its id, and every signature verifies over its message.
        if tx.signatures.first() != Some(signature) {
            return Err(self.err(
                ErrorKind::InvalidResponse,
                format!("asked for transaction {signature}, the node gave another one"),
            ));
        }
        if !tx.verify_with_results().iter().all(|ok| *ok) {
            return Err(self.err(
                ErrorKind::InvalidResponse,
                format!(
                    "the node gave transaction {signature} with a signature that does not verify"
                ),
            ));
        }
        Ok((confirmed.slot, tx, confirmed.transaction.meta))
    }
}

/// Whether the node answered that it keeps no transaction history (JSON-RPC error -32011).
fn is_history_unavailable(error: &solana_client::client_error::ClientError) -> bool {
    use solana_client::client_error::ClientErrorKind;
    use solana_client::rpc_request::RpcError;
    matches!(
        error.kind(),
        ClientErrorKind::RpcError(RpcError::RpcResponseError { code: -32011, .. })
    )
}

/// The memo instructions of a transaction whose listed signers all signed: (signers, text).
pub(crate) fn signed_memos(tx: &VersionedTransaction) -> Vec<(Vec<Pubkey>, Vec<u8>)> {
    let message = &tx.message;
    let keys = message.static_account_keys();
    let required = usize::from(message.header().num_required_signatures);
    let memo_programs = [spl_memo_interface::v3::id(), spl_memo_interface::v1::id()];
    let mut memos = Vec::new();
    for instruction in message.instructions() {
        let Some(program) = keys.get(usize::from(instruction.program_id_index)) else {
            continue;
        };
        if !memo_programs.contains(program) {
            continue;
        }
        let signers: Vec<Pubkey> = instruction
            .accounts
            .iter()
            .filter(|&&i| usize::from(i) < required)
            .filter_map(|&i| keys.get(usize::from(i)).copied())
            .collect();
        memos.push((signers, instruction.data.clone()));
    }
    memos
}

#[async_trait]
impl Anchorer for SolanaAdapter {
    async fn sign_anchor(&self, _request: &AnchorRequest) -> AdapterResult<Option<Vec<u8>>> {
        Ok(None)
    }

    async fn prepare_anchor(&self, request: &AnchorRequest) -> AdapterResult<PreparedTx> {
        self.prepare(
            Purpose::Anchor {
                payload: request.payload,
            },
            self.config.priority_fee_micro_lamports,
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
        self.resubmission(tx).await
    }

    async fn read_anchor(&self, id: &str) -> AdapterResult<AnchorReadBack> {
        let signature = self.signature(id)?;
        let (slot, tx, meta) = self
            .fetch_transaction(&signature, CommitmentConfig::confirmed())
            .await?;
        match meta {
            None => {
                return Err(self.err(
                    ErrorKind::InvalidResponse,
                    format!("the node gave transaction {id} without its status"),
                ));
            }
            Some(m) if m.err.is_some() => {
                return Err(self.err(
                    ErrorKind::NotFound,
                    format!("transaction {id} failed on chain"),
                ));
            }
            Some(_) => {}
        }
        let mut found = None;
        for (signers, data) in signed_memos(&tx) {
            if !signers.iter().any(|s| self.trusted_signers.contains(s)) {
                continue;
            }
            let Ok(text) = std::str::from_utf8(&data) else {
                continue;
            };
            let Ok(bytes) = hex::decode(text.trim()) else {
                continue;
            };
            if let Ok(payload) = AnchorPayload::decode(&bytes) {
                found = Some(payload);
                break;
            }
        }
        let payload = found.ok_or_else(|| {
            self.err(
                ErrorKind::NotFound,
                format!("transaction {id} has no anchor memo signed by a trusted relayer key"),
            )
        })?;
        let (confirmations, fin) = match self.signature_status(&signature).await? {
            Some((_, confirmations, fin, _)) => (confirmations, fin),
            None => (0, false),
        };
        Ok(AnchorReadBack {
            payload,
            inclusion: Inclusion {
                height: slot,
                block_hash: self.blockhash_of_slot(slot).await?,
            },
            confirmations,
            fin,
            symbiote: None,
        })
    }
}

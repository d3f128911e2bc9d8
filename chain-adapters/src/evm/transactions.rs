//! The transaction plumbing that anchors and releases share: building a contract call as a
//! capped, gas-estimated EIP-1559 transaction signed locally; sending it idempotently;
//! following it (receipt, depth, reorg, nonce taken); and replacing it with higher fees under
//! the same nonce.

use alloy::consensus::{Transaction as _, TxEnvelope};
use alloy::eips::{BlockNumberOrTag, Decodable2718, Encodable2718};
use alloy::network::{NetworkTransactionBuilder, TransactionBuilder};
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use serde::{Deserialize, Serialize};

use super::config::{Finality, MIN_REPLACE_BUMP_BPS};
use super::fees::{self, BumpError, Fees, Wei};
use super::{EvmAdapter, parse_tx_hash};
use crate::anchor::{Inclusion, PreparedTx, TxStatus};
use crate::error::{AdapterResult, ErrorKind};

/// The layout version of [`Meta`] this code writes.
const META_VERSION: u8 = 1;

/// What a prepared transaction does, for operators and logs; the call itself is in the signed
/// transaction.
///
/// Persisted (inside [`Meta`]): renaming a variant or field breaks stored transactions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Purpose {
    /// An anchor of `symbiote` (hex id) with this sequence number.
    Anchor { symbiote: String, sequence: u64 },
    /// The release of withdrawal order `nonce`.
    Release { nonce: u64 },
    /// The payment of withdrawal order `nonce`, queued by the bridge's limits.
    ExecuteQueued { nonce: u64 },
    /// A rotation of `contract`'s relayer set at rotation nonce `nonce`.
    Rotation { contract: String, nonce: u64 },
}

/// [`PreparedTx::meta`] of EVM transactions.
///
/// Persisted format (`v` = 1): stored by the relayer with the transaction, read back after a
/// restart; a new layout needs a new version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Layout version.
    pub v: u8,
    /// The sending account (the relayer's address when it was prepared).
    pub from: Address,
    /// The account nonce the transaction uses: a replacement keeps it, so at most one of them
    /// is ever included.
    pub nonce: u64,
    /// The chain id it is signed for.
    pub chain_id: u64,
    /// Its gas limit.
    pub gas_limit: u64,
    /// Its fees.
    #[serde(flatten)]
    pub fees: Fees,
    /// What it does.
    pub purpose: Purpose,
}

impl EvmAdapter {
    pub(crate) fn meta(&self, tx: &PreparedTx) -> AdapterResult<Meta> {
        if tx.hostchain != self.hostchain {
            return Err(self.err(
                ErrorKind::Config,
                format!(
                    "prepared transaction {} is for hostchain {}, not this one",
                    tx.id, tx.hostchain
                ),
            ));
        }
        let meta: Meta = serde_json::from_value(tx.meta.clone()).map_err(|e| {
            self.err(
                ErrorKind::InvalidResponse,
                format!(
                    "prepared transaction {} has unreadable metadata: {e}",
                    tx.id
                ),
            )
        })?;
        if meta.v != META_VERSION {
            return Err(self.err(
                ErrorKind::InvalidResponse,
                format!(
                    "prepared transaction {} has metadata version {}, this adapter reads {META_VERSION}",
                    tx.id, meta.v
                ),
            ));
        }
        if meta.from != self.key.address() {
            return Err(self.err(
                ErrorKind::Config,
                format!(
                    "prepared transaction {} was signed by {}, not by this relayer's key {}",
                    tx.id,
                    meta.from,
                    self.key.address()
                ),
            ));
        }
        Ok(meta)
    }

    /// The node's EIP-1559 fee estimate (from `eth_feeHistory`).
    async fn estimate_fees(&self) -> AdapterResult<Fees> {
        let estimate = self
            .provider
            .estimate_eip1559_fees()
            .await
            .map_err(|e| self.rpc_err("eth_feeHistory", &e, ErrorKind::InvalidResponse))?;
        Ok(Fees {
            max_fee_per_gas: Wei::new(estimate.max_fee_per_gas),
            max_priority_fee_per_gas: Wei::new(estimate.max_priority_fee_per_gas),
        })
    }

    /// The gas limit for `request`: the node's estimate plus the configured margin, at most
    /// `max_gas`. A call that reverts is `Rejected` with the decoded reason.
    async fn gas_limit(&self, request: &TransactionRequest) -> AdapterResult<u64> {
        let estimate = self
            .provider
            .estimate_gas(request.clone())
            .await
            .map_err(|e| self.rpc_err("eth_estimateGas", &e, ErrorKind::Rejected))?;
        if estimate > self.config.max_gas {
            return Err(self.err(
                ErrorKind::Rejected,
                format!(
                    "the call needs {estimate} gas, more than max_gas ({})",
                    self.config.max_gas
                ),
            ));
        }
        let margin = estimate.saturating_mul(u64::from(self.config.gas_margin_percent)) / 100;
        Ok(estimate.saturating_add(margin).min(self.config.max_gas))
    }

    /// Builds, estimates and signs a call of `to` with `input`, with the next nonce. Nothing is
    /// sent.
    pub(crate) async fn prepare_call(
        &self,
        to: Address,
        input: Bytes,
        purpose: Purpose,
    ) -> AdapterResult<PreparedTx> {
        let chain_id = self.chain_id().await?;
        let from = self.key.address();
        let fees = Fees::initial(self.estimate_fees().await?, self.config.max_fee_per_gas);
        let request = TransactionRequest::default()
            .with_from(from)
            .with_to(to)
            .with_input(input)
            .with_chain_id(chain_id);
        // Estimated before a nonce is taken, so that a call that would revert uses none; and
        // without fees, so that the node does not cap the estimate by the balance (which it
        // reports in words only): the balance is checked below instead.
        let gas_limit = self.gas_limit(&request).await?;
        self.check_balance(from, gas_limit, fees).await?;
        let request = request
            .with_gas_limit(gas_limit)
            .with_max_fee_per_gas(fees.max_fee_per_gas.get())
            .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas.get());

        let mut lease = self.nonces.lease().await;
        let pending = self
            .provider
            .get_transaction_count(from)
            .pending()
            .await
            .map_err(|e| self.rpc_err("eth_getTransactionCount", &e, ErrorKind::InvalidResponse))?;
        let nonce = lease
            .next(pending)
            .ok_or_else(|| self.err(ErrorKind::Rejected, "the account nonce is exhausted"))?;
        let prepared = self
            .sign(
                request.with_nonce(nonce),
                Meta {
                    v: META_VERSION,
                    from,
                    nonce,
                    chain_id,
                    gas_limit,
                    fees,
                    purpose,
                },
            )
            .await?;
        lease.record(nonce);
        Ok(prepared)
    }

    /// Fails with `InsufficientFunds` unless `from` can pay `gas_limit` at the maximum fee,
    /// which is what nodes require to accept the transaction.
    async fn check_balance(&self, from: Address, gas_limit: u64, fees: Fees) -> AdapterResult<()> {
        let balance = self
            .provider
            .get_balance(from)
            .await
            .map_err(|e| self.rpc_err("eth_getBalance", &e, ErrorKind::InvalidResponse))?;
        let needed = U256::from(gas_limit).saturating_mul(U256::from(fees.max_fee_per_gas.get()));
        if balance < needed {
            return Err(self.err(
                ErrorKind::InsufficientFunds,
                format!(
                    "{from} holds {balance} wei; {gas_limit} gas at {} needs {needed} wei",
                    fees.max_fee_per_gas
                ),
            ));
        }
        Ok(())
    }

    /// Signs a complete request locally into a [`PreparedTx`].
    async fn sign(&self, request: TransactionRequest, meta: Meta) -> AdapterResult<PreparedTx> {
        let envelope: TxEnvelope = request.build(&self.key.wallet()).await.map_err(|e| {
            self.err(
                ErrorKind::InvalidResponse,
                format!("cannot build and sign the transaction: {e}"),
            )
        })?;
        let meta = serde_json::to_value(meta)
            .map_err(|e| self.err(ErrorKind::InvalidResponse, e.to_string()))?;
        Ok(PreparedTx {
            hostchain: self.hostchain.clone(),
            id: format!("{:#x}", envelope.tx_hash()),
            raw: envelope.encoded_2718(),
            meta,
        })
    }

    /// Whether the node knows the transaction (in its mempool or mined).
    async fn is_known(&self, hash: B256) -> AdapterResult<bool> {
        self.provider
            .get_transaction_by_hash(hash)
            .await
            .map(|tx| tx.is_some())
            .map_err(|e| self.rpc_err("eth_getTransactionByHash", &e, ErrorKind::InvalidResponse))
    }

    /// The receipt of `hash`, if it is mined.
    pub(crate) async fn receipt(&self, hash: B256) -> AdapterResult<Option<TransactionReceipt>> {
        self.provider
            .get_transaction_receipt(hash)
            .await
            .map_err(|e| self.rpc_err("eth_getTransactionReceipt", &e, ErrorKind::InvalidResponse))
    }

    /// The number of transactions of the relayer's account that are mined.
    async fn mined_nonce(&self, from: Address) -> AdapterResult<u64> {
        self.provider
            .get_transaction_count(from)
            .latest()
            .await
            .map_err(|e| self.rpc_err("eth_getTransactionCount", &e, ErrorKind::InvalidResponse))
    }

    /// The hash of the canonical block at `height`, if there is one.
    pub(crate) async fn block_hash_at(&self, height: u64) -> AdapterResult<Option<B256>> {
        self.provider
            .get_block_by_number(BlockNumberOrTag::Number(height))
            .await
            .map(|block| block.map(|b| b.header.hash))
            .map_err(|e| self.rpc_err("eth_getBlockByNumber", &e, ErrorKind::InvalidResponse))
    }

    /// The latest block number.
    pub(crate) async fn head(&self) -> AdapterResult<u64> {
        self.provider
            .get_block_number()
            .await
            .map_err(|e| self.rpc_err("eth_blockNumber", &e, ErrorKind::InvalidResponse))
    }

    /// The node's `finalized` block number (`None` before anything is finalized).
    pub(crate) async fn finalized(&self) -> AdapterResult<Option<u64>> {
        self.provider
            .get_block_by_number(BlockNumberOrTag::Finalized)
            .await
            .map(|block| block.map(|b| b.header.number))
            .map_err(|e| {
                self.rpc_err(
                    "eth_getBlockByNumber finalized",
                    &e,
                    ErrorKind::InvalidResponse,
                )
            })
    }

    /// Confirmations of a block at `height` (the block itself counts) and whether it is final.
    pub(crate) async fn depth(&self, height: u64) -> AdapterResult<(u64, bool)> {
        let head = self.head().await?;
        let confirmations = head.checked_sub(height).map_or(0, |d| d.saturating_add(1));
        let fin = match self.config.finality {
            Finality::Depth(depth) => confirmations >= depth,
            Finality::FinalizedTag => self.finalized().await?.is_some_and(|f| f >= height),
        };
        Ok((confirmations, fin))
    }

    /// Where a mined transaction is, from its receipt.
    pub(crate) fn inclusion(&self, receipt: &TransactionReceipt) -> AdapterResult<Inclusion> {
        match (receipt.block_number, receipt.block_hash) {
            (Some(height), Some(hash)) => Ok(Inclusion {
                height,
                block_hash: format!("{hash:#x}"),
            }),
            _ => Err(self.err(
                ErrorKind::InvalidResponse,
                format!("receipt of {:#x} has no block", receipt.transaction_hash),
            )),
        }
    }

    /// Sends a prepared transaction; one the node already has, pending or mined, is not an
    /// error. Also records its nonce, so that transactions prepared after a restart come after
    /// the stored ones.
    pub(crate) async fn send(&self, prepared: &PreparedTx) -> AdapterResult<()> {
        let meta = self.meta(prepared)?;
        let hash = parse_tx_hash(&self.hostchain, &prepared.id)?;
        self.nonces.record(meta.nonce).await;
        tracing::debug!(tx = %prepared.id, nonce = meta.nonce, "eth_sendRawTransaction");
        match self.provider.send_raw_transaction(&prepared.raw).await {
            Ok(_) => Ok(()),
            Err(e) => {
                // "already known", "nonce too low" for a transaction that is already mined:
                // decided by asking for the hash, not by the message.
                if self.is_known(hash).await.unwrap_or(false) {
                    return Ok(());
                }
                Err(self.rpc_err("eth_sendRawTransaction", &e, ErrorKind::Rejected))
            }
        }
    }

    /// Where a transaction stands (see [`crate::Anchorer::status`]).
    pub(crate) async fn follow(
        &self,
        prepared: &PreparedTx,
        seen: Option<&Inclusion>,
    ) -> AdapterResult<TxStatus> {
        let meta = self.meta(prepared)?;
        let hash = parse_tx_hash(&self.hostchain, &prepared.id)?;
        if let Some(receipt) = self.receipt(hash).await? {
            let inclusion = self.inclusion(&receipt)?;
            if !receipt.status() {
                return Ok(TxStatus::Dropped {
                    reason: format!("reverted in block {}", inclusion.height),
                });
            }
            let (confirmations, fin) = self.depth(inclusion.height).await?;
            return Ok(TxStatus::Included {
                inclusion,
                confirmations,
                fin,
            });
        }
        if let Some(previous) = seen {
            let canonical = self.block_hash_at(previous.height).await?;
            if canonical.map(|h| format!("{h:#x}")).as_deref() != Some(previous.block_hash.as_str())
            {
                return Ok(TxStatus::ReorgedOut {
                    previous: previous.clone(),
                });
            }
        }
        if self.is_known(hash).await? {
            return Ok(TxStatus::InMempool);
        }
        if self.mined_nonce(meta.from).await? > meta.nonce {
            return Ok(TxStatus::Dropped {
                reason: format!("nonce {} was used by another transaction", meta.nonce),
            });
        }
        Ok(TxStatus::Unknown)
    }

    /// A successor of `prepared` with the same nonce and call and both fee fields raised by
    /// `replace_bump_percent` (at least to the current estimate), under the fee cap.
    pub(crate) async fn replacement(&self, prepared: &PreparedTx) -> AdapterResult<PreparedTx> {
        let meta = self.meta(prepared)?;
        let hash = parse_tx_hash(&self.hostchain, &prepared.id)?;
        if let Some(receipt) = self.receipt(hash).await? {
            return Err(self.err(
                ErrorKind::Stale,
                format!(
                    "{} is already mined in block {}; nothing to replace",
                    prepared.id,
                    receipt.block_number.unwrap_or_default()
                ),
            ));
        }
        if self.mined_nonce(meta.from).await? > meta.nonce {
            return Err(self.err(
                ErrorKind::Stale,
                format!(
                    "nonce {} of {} is already used; nothing to replace",
                    meta.nonce, prepared.id
                ),
            ));
        }
        let envelope = TxEnvelope::decode_2718(&mut prepared.raw.as_slice()).map_err(|e| {
            self.err(
                ErrorKind::InvalidResponse,
                format!("prepared transaction {} does not decode: {e}", prepared.id),
            )
        })?;
        let TxEnvelope::Eip1559(signed) = envelope else {
            return Err(self.err(
                ErrorKind::InvalidResponse,
                format!(
                    "prepared transaction {} is not an EIP-1559 transaction",
                    prepared.id
                ),
            ));
        };
        let old = signed.tx();
        let fees = fees::replacement(
            meta.fees,
            self.estimate_fees().await?,
            self.config.replace_bump_bps,
            MIN_REPLACE_BUMP_BPS,
            self.config.max_fee_per_gas,
        )
        .map_err(|e| match e {
            BumpError::CapReached { .. } => self.err(
                ErrorKind::FeeCapReached,
                format!("replacing {}: {e} (max_fee_per_gas_gwei)", prepared.id),
            ),
            BumpError::Overflow => self.err(ErrorKind::Rejected, e.to_string()),
        })?;
        let mut request = TransactionRequest::default()
            .with_from(meta.from)
            .with_input(old.input().clone())
            .with_value(old.value())
            .with_chain_id(meta.chain_id)
            .with_nonce(meta.nonce)
            .with_gas_limit(old.gas_limit())
            .with_max_fee_per_gas(fees.max_fee_per_gas.get())
            .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas.get())
            .with_access_list(old.access_list.clone());
        if let Some(to) = old.to() {
            request = request.with_to(to);
        }
        self.nonces.record(meta.nonce).await;
        let successor = self.sign(request, Meta { fees, ..meta }).await?;
        tracing::info!(
            replaced = %prepared.id,
            by = %successor.id,
            nonce = meta.nonce,
            max_fee_per_gas = %fees.max_fee_per_gas,
            max_priority_fee_per_gas = %fees.max_priority_fee_per_gas,
            "replacement signed"
        );
        Ok(successor)
    }
}

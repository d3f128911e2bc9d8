//! Deposits on an EVM chain: `Deposited(nonce, token, from, amount, recipient)` events of the
//! SymbioteBridge contract, found with `eth_getLogs` by block range.
//!
//! The cursor is the next block to scan, as a decimal string (empty: `deposit_start_block`).
//! A scan covers `[cursor, min(cursor + deposit_range - 1, safe)]`, where `safe` is the newest
//! block that counts as final: `head - confirmations + 1`, or the node's `finalized` block with
//! `use_finalized_tag`. Only blocks at or below that depth are ever reported, so a reorg that
//! stays above it never produces a wrong deposit and nothing needs re-scanning; a reorg deeper
//! than the configured depth is outside what any confirmation rule can protect against.
//!
//! A deep reorg is detected and reported loudly: the cursor also records the hash of the last
//! scanned block (`<next block>:<hash of the block before it>`; a bare number, as older cursors
//! were, is accepted). Each scan first checks that this block still has that hash; if not, the
//! scan fails with a non-retryable error naming the block and both hashes, and logs it at error
//! level, because deposits already reported from the replaced blocks may no longer exist: an
//! operator must look before anything else is minted from this chain.
//!
//! A deposit is identified by (hostchain, transaction hash, position of the event among the
//! transaction's logs). The position inside the transaction, unlike the block-wide `logIndex`,
//! does not depend on which block the transaction landed in.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use alloy::primitives::{Address, B256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEvent;
use alloy::transports::RpcError;
use async_trait::async_trait;
use symbiote::crypto::PublicKey;
use symbiote::tx::DepositId;
use symbiote::types::{Amount, HostTxId, TokenId};

use super::EvmAdapter;
use super::bindings::SymbioteBridge;
use super::config::Finality;
use crate::bridge::{DepositCursor, DepositScan, DepositWatcher, ObservedDeposit};
use crate::error::{AdapterResult, ErrorKind};

/// The token id of an ERC-20 address, or `native` for address(0).
pub fn token_id(token: Address) -> TokenId {
    if token == Address::ZERO {
        return TokenId::native();
    }
    // A checksummed address (42 ASCII characters) is always a valid token id.
    TokenId::new(&token.to_checksum(None)).unwrap_or_else(|_| TokenId::native())
}

/// The symbiote account a deposit names: `None` if the 32 bytes are not a valid ed25519
/// public key (the deposit is then unroutable, kept for a refund).
pub fn recipient(bytes: &B256) -> Option<PublicKey> {
    PublicKey::from_bytes(&bytes.0).ok()
}

impl EvmAdapter {
    /// The newest block whose deposits count as final, if any.
    async fn safe_block(&self) -> AdapterResult<Option<u64>> {
        match self.config.finality {
            Finality::FinalizedTag => self.finalized().await,
            Finality::Depth(depth) => {
                let head = self.head().await?;
                Ok(head.checked_add(1).and_then(|h| h.checked_sub(depth)))
            }
        }
    }

    /// The next block to scan and, when the cursor records it, the hash the block before it had.
    fn parse_cursor(&self, cursor: &DepositCursor) -> AdapterResult<(u64, Option<B256>)> {
        let text = cursor.0.trim();
        if text.is_empty() {
            return Ok((self.config.deposit_start_block, None));
        }
        let bad = || {
            self.err(
                ErrorKind::Config,
                format!("deposit cursor '{text}' is not <block number>[:<block hash>]"),
            )
        };
        let (number, hash) = match text.split_once(':') {
            Some((number, hash)) => (number, Some(hash.parse::<B256>().map_err(|_| bad())?)),
            None => (text, None),
        };
        Ok((number.parse::<u64>().map_err(|_| bad())?, hash))
    }

    /// Fails loudly if the block before `next` no longer has the hash the cursor recorded.
    async fn check_no_deep_reorg(&self, next: u64, recorded: Option<B256>) -> AdapterResult<()> {
        let (Some(recorded), Some(previous)) = (recorded, next.checked_sub(1)) else {
            return Ok(());
        };
        let now = self.block_hash_at(previous).await?;
        if now == Some(recorded) {
            return Ok(());
        }
        let message = format!(
            "reorg deeper than the confirmation depth: block {previous} was {recorded:#x} when its deposits were reported, now {}; deposits reported from replaced blocks may not exist any more",
            now.map_or("missing".to_string(), |h| format!("{h:#x}"))
        );
        tracing::error!(hostchain = %self.hostchain, "{message}");
        Err(self.err(ErrorKind::InvalidResponse, message))
    }

    /// Positions of the logs of transaction `tx` (in block `block_hash`) by block-wide log index.
    async fn log_positions(&self, tx: B256, block_hash: B256) -> AdapterResult<HashMap<u64, u32>> {
        let receipt = self.receipt(tx).await?.ok_or_else(|| {
            self.err(
                ErrorKind::Unavailable,
                format!("no receipt yet for deposit transaction {tx:#x}"),
            )
        })?;
        if receipt.block_hash != Some(block_hash) {
            return Err(self.err(
                ErrorKind::Unavailable,
                format!("deposit transaction {tx:#x} moved to another block during the scan"),
            ));
        }
        let mut positions = HashMap::new();
        for (position, log) in receipt.inner.logs().iter().enumerate() {
            if let (Some(index), Ok(position)) = (log.log_index, u32::try_from(position)) {
                positions.insert(index, position);
            }
        }
        Ok(positions)
    }

    /// A `Deposited` log as an observed deposit; `None` (and an error log) if it cannot be one.
    fn observed(
        &self,
        log: &Log,
        positions: &HashMap<u64, u32>,
    ) -> AdapterResult<Option<ObservedDeposit>> {
        let missing = |what: &str| {
            self.err(
                ErrorKind::InvalidResponse,
                format!("eth_getLogs returned a log without {what}"),
            )
        };
        let tx = log
            .transaction_hash
            .ok_or_else(|| missing("transaction hash"))?;
        let block = log.block_number.ok_or_else(|| missing("block number"))?;
        let log_index = log.log_index.ok_or_else(|| missing("log index"))?;
        let index = *positions
            .get(&log_index)
            .ok_or_else(|| missing("a matching receipt entry"))?;
        let event = log
            .log_decode::<SymbioteBridge::Deposited>()
            .map_err(|e| {
                self.err(
                    ErrorKind::InvalidResponse,
                    format!("undecodable Deposited event in {tx:#x}: {e}"),
                )
            })?
            .inner
            .data;
        let Ok(amount) = u128::try_from(event.amount) else {
            // The symbiote's amounts are u128; such a deposit cannot be minted. It stays in the
            // bridge, and an operator sees it here.
            tracing::error!(
                tx = %format!("{tx:#x}"),
                amount = %event.amount,
                "deposit amount exceeds the symbiote's range; not reported"
            );
            return Ok(None);
        };
        let tx_id = HostTxId::new(&format!("{tx:#x}"))
            .map_err(|e| self.err(ErrorKind::InvalidResponse, e.to_string()))?;
        Ok(Some(ObservedDeposit {
            id: DepositId {
                hostchain: self.hostchain.clone(),
                tx: tx_id,
                index,
            },
            token: token_id(event.token),
            amount: Amount::new(amount),
            recipient: recipient(&event.recipient),
            raw_recipient: format!("{:#x}", event.recipient),
            depositor: event.from.to_checksum(None),
            block,
        }))
    }
}

impl EvmAdapter {
    /// The `Deposited` logs of blocks `from..=to`, and the last block they cover. A node that
    /// refuses the range (providers limit the blocks or results of one `eth_getLogs`, each
    /// with its own error) is asked again for the first half, down to a single block.
    async fn deposit_logs(
        &self,
        bridge: Address,
        from: u64,
        mut to: u64,
    ) -> AdapterResult<(u64, Vec<Log>)> {
        loop {
            let filter = Filter::new()
                .address(bridge)
                .event_signature(SymbioteBridge::Deposited::SIGNATURE_HASH)
                .from_block(from)
                .to_block(to);
            match self.provider.get_logs(&filter).await {
                Ok(logs) => return Ok((to, logs)),
                Err(RpcError::ErrorResp(payload)) if to > from => {
                    let half = from.saturating_add(to.saturating_sub(from) / 2);
                    tracing::debug!(from, to, half, error = %payload, "eth_getLogs refused the range; halving it");
                    to = half;
                }
                Err(e) => {
                    return Err(self.rpc_err("eth_getLogs", &e, ErrorKind::InvalidResponse));
                }
            }
        }
    }
}

#[async_trait]
impl DepositWatcher for EvmAdapter {
    async fn scan_deposits(&self, cursor: &DepositCursor) -> AdapterResult<DepositScan> {
        let bridge = self.bridge("scanning deposits")?;
        let (from, recorded) = self.parse_cursor(cursor)?;
        self.check_no_deep_reorg(from, recorded).await?;
        let unchanged = || DepositScan {
            deposits: Vec::new(),
            next: match recorded {
                Some(_) => cursor.clone(),
                None => DepositCursor(from.to_string()),
            },
        };
        let Some(safe) = self.safe_block().await? else {
            return Ok(unchanged());
        };
        if from > safe {
            return Ok(unchanged());
        }
        let to = from
            .saturating_add(self.config.deposit_range.saturating_sub(1))
            .min(safe);
        let (to, logs) = self.deposit_logs(bridge, from, to).await?;

        let mut positions: HashMap<B256, HashMap<u64, u32>> = HashMap::new();
        let mut deposits = Vec::with_capacity(logs.len());
        for log in logs.iter().filter(|log| !log.removed) {
            let (Some(tx), Some(block_hash)) = (log.transaction_hash, log.block_hash) else {
                return Err(self.err(
                    ErrorKind::InvalidResponse,
                    "eth_getLogs returned a log without its transaction or block",
                ));
            };
            let tx_positions = match positions.entry(tx) {
                Entry::Occupied(entry) => entry.into_mut(),
                Entry::Vacant(entry) => entry.insert(self.log_positions(tx, block_hash).await?),
            };
            if let Some(deposit) = self.observed(log, tx_positions)? {
                deposits.push(deposit);
            }
        }
        let next = to
            .checked_add(1)
            .ok_or_else(|| self.err(ErrorKind::InvalidResponse, "block numbers are exhausted"))?;
        let next = match self.block_hash_at(to).await? {
            Some(hash) => format!("{next}:{hash:#x}"),
            None => next.to_string(),
        };
        Ok(DepositScan {
            deposits,
            next: DepositCursor(next),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_and_erc20_token_ids() {
        assert!(token_id(Address::ZERO).is_native());
        let token: Address = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
            .parse()
            .unwrap();
        assert_eq!(
            token_id(token).as_str(),
            "0x5FbDB2315678afecb367f032d93F642f64180aa3"
        );
    }

    #[test]
    fn recipients_must_be_valid_keys() {
        let key = symbiote::crypto::Keypair::generate().public();
        assert_eq!(recipient(&B256::from(key.to_bytes())), Some(key));
        assert_eq!(recipient(&B256::ZERO), None);
    }
}

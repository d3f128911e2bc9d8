//! Deposits on Solana: SOL and SPL Token transfers to the bridge vault whose transaction carries
//! a memo naming the symbiote recipient (64 hex characters, optionally after `symbiote:`).
//!
//! Each watched address (the vault, and its associated token account of every accepted mint)
//! has its own cursor: the newest signature processed. A scan lists the finalized signatures
//! newer than the cursor with `getSignaturesForAddress`, processes them oldest first, and parses
//! each transaction's top-level instructions. A transfer is reported by the scan of the address
//! it paid, so a transaction paying both the vault and a token account is reported once per
//! transfer. Transfers made inside other programs (inner instructions) are not recognised.

use std::collections::BTreeMap;
use std::str::FromStr;

use async_trait::async_trait;
use solana_client::rpc_client::GetConfirmedSignaturesForAddress2Config;
use solana_commitment_config::CommitmentConfig;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::Signature;
use solana_sdk::transaction::VersionedTransaction;
use solana_system_interface::instruction::SystemInstruction;
use spl_token_interface::instruction::TokenInstruction;
use symbiote::crypto::PublicKey;
use symbiote::tx::DepositId;
use symbiote::types::{Amount, HostTxId, HostchainId, TokenId};

use super::anchor::signed_memos;
use super::{SolanaAdapter, TOKEN_PROGRAM};
use crate::bridge::{DepositCursor, DepositScan, DepositWatcher, ObservedDeposit};
use crate::error::{AdapterResult, ErrorKind};

/// Signatures fetched per `getSignaturesForAddress` page (the RPC's maximum).
const PAGE: usize = 1_000;

/// What a deposit transfer paid into: the vault itself (SOL) or one of its token accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Watched {
    /// The vault: SOL transfers.
    Vault,
    /// The vault's token account of this mint.
    TokenAccount { mint: Pubkey },
}

/// The memo text naming the recipient of a deposit, for depositors and tests.
pub fn recipient_memo(recipient: &PublicKey) -> String {
    format!("symbiote:{recipient}")
}

/// Reads the symbiote recipient from a memo's text.
pub fn parse_recipient(memo: &str) -> Option<PublicKey> {
    let text = memo.trim();
    let text = text.strip_prefix("symbiote:").unwrap_or(text).trim();
    PublicKey::from_str(text).ok()
}

/// The deposits `tx` (with signature `signature`, at `slot`) made into `address`.
pub fn parse_deposits(
    hostchain: &HostchainId,
    signature: &Signature,
    slot: u64,
    tx: &VersionedTransaction,
    address: &Pubkey,
    watched: Watched,
) -> Vec<ObservedDeposit> {
    let keys = tx.message.static_account_keys();
    let memo = signed_memos(tx)
        .into_iter()
        .find_map(|(_, data)| String::from_utf8(data).ok())
        .unwrap_or_default();
    let recipient = parse_recipient(&memo);
    let Ok(tx_id) = HostTxId::new(&signature.to_string()) else {
        return Vec::new();
    };
    let key = |i: &u8| keys.get(usize::from(*i)).copied();
    let mut deposits = Vec::new();
    for (index, instruction) in tx.message.instructions().iter().enumerate() {
        let Some(program) = key(&instruction.program_id_index) else {
            continue;
        };
        let accounts: Vec<Option<Pubkey>> = instruction.accounts.iter().map(key).collect();
        let account = |i: usize| accounts.get(i).copied().flatten();
        let transfer = match watched {
            Watched::Vault if program == solana_system_interface::program::ID => {
                match bincode::deserialize::<SystemInstruction>(&instruction.data) {
                    Ok(SystemInstruction::Transfer { lamports })
                        if account(1) == Some(*address) =>
                    {
                        account(0).map(|from| (TokenId::native(), u128::from(lamports), from))
                    }
                    _ => None,
                }
            }
            Watched::TokenAccount { mint } if program == TOKEN_PROGRAM => {
                match TokenInstruction::unpack(&instruction.data) {
                    // accounts: source, destination, authority
                    Ok(TokenInstruction::Transfer { amount }) if account(1) == Some(*address) => {
                        account(2).map(|authority| (token_id(&mint), u128::from(amount), authority))
                    }
                    // accounts: source, mint, destination, authority
                    Ok(TokenInstruction::TransferChecked { amount, .. })
                        if account(2) == Some(*address) && account(1) == Some(mint) =>
                    {
                        account(3).map(|authority| (token_id(&mint), u128::from(amount), authority))
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        let Some((token, amount, from)) = transfer else {
            continue;
        };
        let Ok(index) = u32::try_from(index) else {
            continue;
        };
        deposits.push(ObservedDeposit {
            id: DepositId {
                hostchain: hostchain.clone(),
                tx: tx_id.clone(),
                index,
            },
            token,
            amount: Amount::new(amount),
            recipient,
            raw_recipient: memo.clone(),
            depositor: from.to_string(),
            block: slot,
        });
    }
    deposits
}

fn token_id(mint: &Pubkey) -> TokenId {
    // A base58 address is always a valid token id (ASCII, at most 44 characters).
    TokenId::new(&mint.to_string()).unwrap_or_else(|_| TokenId::native())
}

/// The per-address cursors, as stored in a [`DepositCursor`] (JSON object address -> newest
/// signature processed).
fn read_cursor(cursor: &DepositCursor) -> BTreeMap<String, String> {
    serde_json::from_str(&cursor.0).unwrap_or_default()
}

impl SolanaAdapter {
    /// The addresses deposits are paid into.
    pub fn watched_addresses(&self) -> Vec<(Pubkey, Watched)> {
        let mut watched = vec![(self.vault, Watched::Vault)];
        for mint in &self.mints {
            watched.push((
                self.vault_token_account(mint),
                Watched::TokenAccount { mint: *mint },
            ));
        }
        watched
    }

    /// Finalized signatures of `address` newer than `until`, oldest first.
    async fn new_signatures(
        &self,
        address: &Pubkey,
        until: Option<Signature>,
    ) -> AdapterResult<Vec<(Signature, bool)>> {
        let mut all = Vec::new();
        let mut before = None;
        loop {
            let config = GetConfirmedSignaturesForAddress2Config {
                before,
                until,
                limit: Some(PAGE),
                commitment: Some(CommitmentConfig::finalized()),
            };
            let page = self
                .rpc
                .get_signatures_for_address_with_config(address, config)
                .await
                .map_err(|e| self.rpc_err("getSignaturesForAddress", &e))?;
            let full = page.len() == PAGE;
            let previous = before;
            for entry in page {
                let signature = Signature::from_str(&entry.signature).map_err(|e| {
                    self.err(
                        ErrorKind::InvalidResponse,
                        format!(
                            "getSignaturesForAddress returned '{}': {e}",
                            entry.signature
                        ),
                    )
                })?;
                all.push((signature, entry.err.is_none()));
                before = Some(signature);
            }
            if !full {
                break;
            }
            // A page that ends where the previous one did would be asked for again forever.
            if before == previous {
                return Err(self.err(
                    ErrorKind::InvalidResponse,
                    format!(
                        "getSignaturesForAddress of {address} does not advance: a full page \
                         ends at {} again",
                        before.map_or_else(|| "nothing".to_string(), |s| s.to_string())
                    ),
                ));
            }
        }
        all.reverse();
        Ok(all)
    }
}

#[async_trait]
impl DepositWatcher for SolanaAdapter {
    async fn scan_deposits(&self, cursor: &DepositCursor) -> AdapterResult<DepositScan> {
        let mut positions = read_cursor(cursor);
        let mut deposits = Vec::new();
        let mut budget = self.config.scan_limit;
        for (address, watched) in self.watched_addresses() {
            if budget == 0 {
                break;
            }
            let key = address.to_string();
            let until = positions
                .get(&key)
                .and_then(|s| Signature::from_str(s).ok());
            for (signature, succeeded) in self.new_signatures(&address, until).await? {
                if budget == 0 {
                    break;
                }
                budget -= 1;
                if succeeded {
                    let (slot, tx, _) = self
                        .fetch_transaction(&signature, CommitmentConfig::finalized())
                        .await?;
                    deposits.extend(parse_deposits(
                        &self.hostchain,
                        &signature,
                        slot,
                        &tx,
                        &address,
                        watched,
                    ));
                }
                positions.insert(key.clone(), signature.to_string());
            }
        }
        let next = serde_json::to_string(&positions)
            .map_err(|e| self.err(ErrorKind::InvalidResponse, e.to_string()))?;
        Ok(DepositScan {
            deposits,
            next: DepositCursor(next),
        })
    }
}

//! Releases on Solana: transfers of SOL or SPL tokens from the vault for a withdrawal order,
//! with the order's nonce in a memo (`symbiote-release:<nonce>`) signed by the vault, so that a
//! release can be recognised on chain and never paid twice.

use std::str::FromStr;

use async_trait::async_trait;
use solana_client::rpc_client::GetConfirmedSignaturesForAddress2Config;
use solana_commitment_config::CommitmentConfig;
use solana_sdk::instruction::Instruction;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::Signer;
use symbiote::types::Nonce;

use super::anchor::Purpose;
use super::{SolanaAdapter, TOKEN_PROGRAM};
use crate::anchor::PreparedTx;
use crate::bridge::{ReleaseOrder, Releaser};
use crate::error::{AdapterResult, ErrorKind};

/// The memo that marks the release of withdrawal order `nonce`.
pub fn release_memo(nonce: Nonce) -> String {
    format!("symbiote-release:{}", nonce.get())
}

impl SolanaAdapter {
    /// The instructions that pay out `order` from the vault.
    pub(crate) fn release_instructions(
        &self,
        order: &ReleaseOrder,
    ) -> AdapterResult<Vec<Instruction>> {
        let vault = self.vault_key.as_ref().ok_or_else(|| {
            self.err(
                ErrorKind::Config,
                "releases need vault_key_file or vault_key_env",
            )
        })?;
        let destination = Pubkey::from_str(order.destination.as_str()).map_err(|e| {
            self.err(
                ErrorKind::Rejected,
                format!(
                    "release {}: destination '{}' is not a Solana address ({e})",
                    order.nonce, order.destination
                ),
            )
        })?;
        let amount = u64::try_from(order.amount.get()).map_err(|_| {
            self.err(
                ErrorKind::Rejected,
                format!(
                    "release {}: amount {} exceeds u64",
                    order.nonce, order.amount
                ),
            )
        })?;
        let mut instructions = Vec::new();
        if order.token.is_native() {
            instructions.push(solana_system_interface::instruction::transfer(
                &vault.pubkey(),
                &destination,
                amount,
            ));
        } else {
            let mint = Pubkey::from_str(order.token.as_str()).map_err(|e| {
                self.err(
                    ErrorKind::Rejected,
                    format!(
                        "release {}: token '{}' is not a mint address ({e})",
                        order.nonce, order.token
                    ),
                )
            })?;
            if !self.mints.contains(&mint) {
                return Err(self.err(
                    ErrorKind::Rejected,
                    format!(
                        "release {}: token {mint} is not accepted by this bridge",
                        order.nonce
                    ),
                ));
            }
            let target = spl_associated_token_account_interface::address::get_associated_token_address_with_program_id(
                &destination,
                &mint,
                &TOKEN_PROGRAM,
            );
            instructions.push(
                spl_associated_token_account_interface::instruction::create_associated_token_account_idempotent(
                    &self.key.pubkey(),
                    &destination,
                    &mint,
                    &TOKEN_PROGRAM,
                ),
            );
            instructions.push(
                spl_token_interface::instruction::transfer(
                    &TOKEN_PROGRAM,
                    &self.vault_token_account(&mint),
                    &target,
                    &vault.pubkey(),
                    &[],
                    amount,
                )
                .map_err(|e| {
                    self.err(ErrorKind::Rejected, format!("release {}: {e}", order.nonce))
                })?,
            );
        }
        instructions.push(spl_memo_interface::instruction::build_memo(
            &spl_memo_interface::v3::id(),
            release_memo(order.nonce).as_bytes(),
            &[&vault.pubkey()],
        ));
        Ok(instructions)
    }
}

#[async_trait]
impl Releaser for SolanaAdapter {
    async fn sign_release(&self, _order: &ReleaseOrder) -> AdapterResult<Option<Vec<u8>>> {
        Ok(None)
    }

    async fn prepare_release(&self, order: &ReleaseOrder) -> AdapterResult<PreparedTx> {
        self.prepare(
            Purpose::Release {
                order: order.clone(),
            },
            self.config.priority_fee_micro_lamports,
        )
        .await
    }

    /// Searches the vault's latest `release_lookback` signatures (at `confirmed`) for a
    /// successful transaction with the release memo of `nonce`.
    async fn is_released(&self, nonce: Nonce) -> AdapterResult<bool> {
        let memo = release_memo(nonce);
        let config = GetConfirmedSignaturesForAddress2Config {
            before: None,
            until: None,
            limit: Some(self.config.release_lookback.clamp(1, 1_000)),
            commitment: Some(CommitmentConfig::confirmed()),
        };
        let signatures = self
            .rpc
            .get_signatures_for_address_with_config(&self.vault, config)
            .await
            .map_err(|e| self.rpc_err("getSignaturesForAddress", &e))?;
        // The RPC lists memos as "[<length>] <text>", several joined by "; ".
        Ok(signatures.iter().any(|entry| {
            entry.err.is_none()
                && entry.memo.as_deref().is_some_and(|m| {
                    m.split("; ")
                        .any(|part| part.rsplit_once("] ").map_or(part, |(_, text)| text) == memo)
                })
        }))
    }
}

//! The Solana scout: what a release destination's account is, read with one
//! `getMultipleAccounts` call.
//!
//! A wallet (no account yet, or a System Program account without data) is what a release should
//! go to. Anything else is a finding: a program (executable: whatever is sent to it is lost), a
//! token account or a mint instead of the wallet that owns one (a release would create a token
//! account owned by it, which nobody can sign for), a token account with a delegate or a close
//! authority, a Token-2022 mint with extensions that let someone else move or block tokens
//! ([`token`]), or an account of another program. The finding codes and their severities are
//! listed in [`crate::scout`].
//!
//! # Which slot
//!
//! Solana's RPC cannot read an account as it was at a past slot, only as it is now. The scout
//! therefore records the slot its answer came from (the response's context slot) as
//! [`Inspection::block`]; given a slot, it asks for an answer from at least that slot
//! (`minContextSlot`), and a node that is behind answers with a retryable error. Re-running a
//! report gives the same findings only while the inspected accounts have not changed since the
//! recorded slot; a reviewer who gets a different answer learns that the account changed, not
//! that the scout erred.
//!
//! The destination and, for an upgradeable program, its program data account (derived from the
//! program id) are read in the same call, so they come from the same slot. A program's code hash
//! is keccak256 of its executable (an upgradeable program's ELF without the program data header
//! and without the trailing zeros of an over-allocated account), 0x-hex.

mod token;

use std::str::FromStr;

use alloy::primitives::keccak256;
use async_trait::async_trait;
use serde_json::json;
use solana_client::rpc_config::{RpcAccountInfoConfig, UiAccountEncoding};
use solana_client::rpc_request::RpcRequest;
use solana_client::rpc_response::{Response, UiAccount};
use solana_sdk::account::Account;
use solana_sdk::pubkey;
use solana_sdk::pubkey::Pubkey;
use symbiote::types::HostAddress;

use super::{SolanaAdapter, TOKEN_PROGRAM};
use crate::error::{AdapterResult, ErrorKind};
use crate::scout::{Finding, Inspection, Scout, Severity};

/// The upgradeable BPF loader (loader v3): programs whose code lives in a program data account.
const UPGRADEABLE_LOADER: Pubkey = pubkey!("BPFLoaderUpgradeab1e11111111111111111111111");
/// The System Program: owner of every wallet.
const SYSTEM_PROGRAM: Pubkey = pubkey!("11111111111111111111111111111111");
/// The Token-2022 program.
const TOKEN_2022_PROGRAM: Pubkey = spl_token_2022_interface::ID;
/// Size of a program data account's header (state tag, deployment slot, optional upgrade
/// authority) before the ELF.
const PROGRAM_DATA_HEADER: usize = 45;
/// bincode tags of the upgradeable loader's account states.
const PROGRAM_TAG: [u8; 4] = [2, 0, 0, 0];
const PROGRAM_DATA_TAG: [u8; 4] = [3, 0, 0, 0];

/// The program data account of an upgradeable program, with what its header says.
struct ProgramData<'a> {
    /// The slot the program was last deployed in.
    slot: u64,
    /// Who may replace the code, if anyone.
    authority: Option<Pubkey>,
    /// The executable.
    elf: &'a [u8],
}

/// Parses the program data account `data`.
fn program_data(data: &[u8]) -> Option<ProgramData<'_>> {
    if data.get(..4)? != PROGRAM_DATA_TAG {
        return None;
    }
    let slot = u64::from_le_bytes(data.get(4..12)?.try_into().ok()?);
    let authority = match data.get(12)? {
        0 => None,
        1 => Some(Pubkey::try_from(data.get(13..45)?).ok()?),
        _ => return None,
    };
    Some(ProgramData {
        slot,
        authority,
        elf: data.get(PROGRAM_DATA_HEADER..)?,
    })
}

/// Where the upgradeable loader keeps the program data of the program `program` (derived from
/// the program id, so it can be read in the same call as the program).
fn derived_programdata(program: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(&[program.as_ref()], &UPGRADEABLE_LOADER).0
}

/// The program data address an upgradeable program account names.
fn programdata_address(program: &Account) -> Option<Pubkey> {
    if program.data.get(..4)? != PROGRAM_TAG {
        return None;
    }
    Pubkey::try_from(program.data.get(4..36)?).ok()
}

/// keccak256 of an executable without the zeros an over-allocated account pads it with.
fn executable_hash(elf: &[u8]) -> String {
    let end = elf.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    format!("{:#x}", keccak256(elf.get(..end).unwrap_or(elf)))
}

/// The findings and code hash of the executable account `program`, whose program data would be
/// at `derived` (read there as `data_account`).
fn program_findings(
    program: &Account,
    derived: &Pubkey,
    data_account: Option<&Account>,
) -> (Option<String>, Vec<Finding>) {
    let lost = |note: &str| {
        Finding::new(
            "program-account",
            Severity::Malicious,
            format!(
                "an executable program account (loader {}){note}: lamports and tokens sent to a \
                 program cannot be moved by anyone",
                program.owner
            ),
        )
    };
    if program.owner != UPGRADEABLE_LOADER {
        return (Some(executable_hash(&program.data)), vec![lost("")]);
    }
    let data = data_account
        .filter(|_| programdata_address(program) == Some(*derived))
        .and_then(|account| program_data(&account.data));
    let Some(data) = data else {
        let note = format!(", without program data at {derived} (closed)");
        return (None, vec![lost(&note)]);
    };
    let mut findings = vec![lost("")];
    if let Some(authority) = data.authority {
        findings.push(Finding::new(
            "program-upgradeable",
            Severity::Info,
            format!(
                "upgrade authority {authority} can replace the code (last deployed in slot {})",
                data.slot
            ),
        ));
    }
    (Some(executable_hash(data.elf)), findings)
}

impl SolanaAdapter {
    /// The destination and its would-be program data account at `programdata`, from one
    /// answer, with its slot.
    async fn accounts(
        &self,
        address: &Pubkey,
        programdata: &Pubkey,
        min_slot: Option<u64>,
    ) -> AdapterResult<(u64, Option<Account>, Option<Account>)> {
        let config = RpcAccountInfoConfig {
            encoding: Some(UiAccountEncoding::Base64),
            data_slice: None,
            commitment: Some(self.rpc.commitment()),
            min_context_slot: min_slot,
        };
        let keys = [address.to_string(), programdata.to_string()];
        let response: Response<Vec<Option<UiAccount>>> = self
            .rpc
            .send(RpcRequest::GetMultipleAccounts, json!([keys, config]))
            .await
            .map_err(|e| self.rpc_err("getMultipleAccounts", &e))?;
        let slot = response.context.slot;
        if let Some(min) = min_slot
            && slot < min
        {
            return Err(self.err(
                ErrorKind::InvalidResponse,
                format!(
                    "getMultipleAccounts: answered from slot {slot}, below minContextSlot {min}"
                ),
            ));
        }
        let [destination, data]: [Option<UiAccount>; 2] =
            response.value.try_into().map_err(|v: Vec<_>| {
                self.err(
                    ErrorKind::InvalidResponse,
                    format!("getMultipleAccounts: {} accounts for 2 addresses", v.len()),
                )
            })?;
        let decode = |key: &str, account: Option<UiAccount>| -> AdapterResult<Option<Account>> {
            account
                .map(|ui| {
                    ui.decode::<Account>().ok_or_else(|| {
                        self.err(
                            ErrorKind::InvalidResponse,
                            format!(
                                "getMultipleAccounts: account {key} has undecodable data or \
                                 owner (asked for base64)"
                            ),
                        )
                    })
                })
                .transpose()
        };
        Ok((
            slot,
            decode(&keys[0], destination)?,
            decode(&keys[1], data)?,
        ))
    }
}

#[async_trait]
impl Scout for SolanaAdapter {
    async fn inspect(
        &self,
        address: &HostAddress,
        block: Option<u64>,
    ) -> AdapterResult<Inspection> {
        let key = Pubkey::from_str(address.as_str()).map_err(|e| {
            self.err(
                ErrorKind::Rejected,
                format!("scout: '{address}' is not a Solana address ({e})"),
            )
        })?;
        let derived = derived_programdata(&key);
        let (slot, account, programdata) = self.accounts(&key, &derived, block).await?;
        let mut code_hash = None;
        let mut findings = Vec::new();
        let wallet_like = match &account {
            None => {
                findings.push(Finding::new(
                    "no-account",
                    Severity::Info,
                    "no account at this slot: a fresh address, created by what is sent to it",
                ));
                true
            }
            Some(account) if account.executable => {
                let (hash, found) = program_findings(account, &derived, programdata.as_ref());
                code_hash = hash;
                findings.extend(found);
                false
            }
            Some(account) if account.owner == SYSTEM_PROGRAM => {
                let data = if account.data.is_empty() {
                    String::new()
                } else {
                    format!(
                        " with {} bytes of data (a durable nonce account?)",
                        account.data.len()
                    )
                };
                findings.push(Finding::new(
                    "system-account",
                    Severity::Info,
                    format!("a System Program account{data}: a wallet"),
                ));
                true
            }
            Some(account) if account.owner == TOKEN_PROGRAM => {
                findings.extend(token::findings("SPL Token", &account.data));
                false
            }
            Some(account) if account.owner == TOKEN_2022_PROGRAM => {
                findings.extend(token::findings("Token-2022", &account.data));
                false
            }
            Some(account) => {
                findings.push(Finding::new(
                    "program-owned-account",
                    Severity::Suspicious,
                    format!(
                        "a data account of program {} ({} bytes): only that program can move \
                         what it receives",
                        account.owner,
                        account.data.len()
                    ),
                ));
                false
            }
        };
        if wallet_like && !key.is_on_curve() {
            findings.push(Finding::new(
                "off-curve-address",
                Severity::Info,
                "no private key exists for this address (a program-derived address): only the \
                 program that derived it can sign for it",
            ));
        }
        Ok(Inspection {
            address: address.clone(),
            block: slot,
            code_hash,
            followed: Vec::new(),
            findings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_data_header_is_parsed() {
        let authority = Pubkey::new_unique();
        let mut data = PROGRAM_DATA_TAG.to_vec();
        data.extend_from_slice(&42u64.to_le_bytes());
        data.push(1);
        data.extend_from_slice(authority.as_ref());
        data.extend_from_slice(b"\x7fELF rest");
        data.extend_from_slice(&[0; 16]);
        let parsed = program_data(&data).unwrap();
        assert_eq!((parsed.slot, parsed.authority), (42, Some(authority)));
        assert_eq!(
            executable_hash(parsed.elf),
            executable_hash(b"\x7fELF rest")
        );
        assert!(program_data(&data[..20]).is_none());
        data[12] = 7;
        assert!(program_data(&data).is_none());
    }
}

//! What an SPL Token or Token-2022 account is, read from its data: a mint, a token account
//! or a multisig, with the Token-2022 extensions that change who can move the tokens.
//!
//! Both programs share the base layouts (a mint is 82 bytes, a token account 165, a multisig
//! 355); Token-2022 appends an account-type byte and extensions (type-length-value) after
//! byte 165, which [`spl_token_2022_interface`] unpacks. A legacy Token account simply has no
//! extensions.

use solana_sdk::pubkey::Pubkey;
use spl_token_2022_interface::extension::default_account_state::DefaultAccountState;
use spl_token_2022_interface::extension::memo_transfer::MemoTransfer;
use spl_token_2022_interface::extension::mint_close_authority::MintCloseAuthority;
use spl_token_2022_interface::extension::pausable::PausableConfig;
use spl_token_2022_interface::extension::permanent_delegate::PermanentDelegate;
use spl_token_2022_interface::extension::transfer_fee::TransferFeeConfig;
use spl_token_2022_interface::extension::transfer_hook::TransferHook;
use spl_token_2022_interface::extension::{
    BaseStateWithExtensions, ExtensionType, StateWithExtensions,
};
use spl_token_2022_interface::state::{Account, AccountState, Mint};

use crate::scout::{Finding, Severity};

/// Length of a mint's base state.
const MINT_LEN: usize = 82;
/// Length of a token account's base state; Token-2022's account-type byte follows.
const ACCOUNT_LEN: usize = 165;
/// Length of a multisig account.
const MULTISIG_LEN: usize = 355;
/// Token-2022 account-type byte values.
const ACCOUNT_TYPE_MINT: u8 = 1;
const ACCOUNT_TYPE_ACCOUNT: u8 = 2;

/// What kind of token-program account some data is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Mint,
    Account,
    Multisig,
    Unknown,
}

fn kind(data: &[u8]) -> Kind {
    match data.len() {
        MINT_LEN => Kind::Mint,
        ACCOUNT_LEN => Kind::Account,
        MULTISIG_LEN => Kind::Multisig,
        len if len > ACCOUNT_LEN => match data.get(ACCOUNT_LEN) {
            Some(&ACCOUNT_TYPE_MINT) => Kind::Mint,
            Some(&ACCOUNT_TYPE_ACCOUNT) => Kind::Account,
            _ => Kind::Unknown,
        },
        _ => Kind::Unknown,
    }
}

/// The findings of an account owned by a token program (`program` names it for details).
pub fn findings(program: &str, data: &[u8]) -> Vec<Finding> {
    let unrecognised = |why: String| {
        vec![Finding::new(
            "program-owned-account",
            Severity::Suspicious,
            format!(
                "an account of the {program} program that is no mint, token account or multisig \
                 ({why}): only that program can move what it receives"
            ),
        )]
    };
    match kind(data) {
        Kind::Mint => match StateWithExtensions::<Mint>::unpack(data) {
            Ok(mint) => mint_findings(program, &mint),
            Err(e) => unrecognised(format!("mint data does not unpack: {e}")),
        },
        Kind::Account => match StateWithExtensions::<Account>::unpack(data) {
            Ok(account) => account_findings(program, &account),
            Err(e) => unrecognised(format!("token account data does not unpack: {e}")),
        },
        Kind::Multisig => vec![Finding::new(
            "token-multisig",
            Severity::Suspicious,
            format!(
                "a multisig account of the {program} program, not a wallet: tokens released to it land in an \
                 account nobody can sign for"
            ),
        )],
        Kind::Unknown => unrecognised(format!("{} bytes", data.len())),
    }
}

fn account_findings(program: &str, account: &StateWithExtensions<'_, Account>) -> Vec<Finding> {
    let base = &account.base;
    let mut findings = vec![Finding::new(
        "token-account",
        Severity::Suspicious,
        format!(
            "a token account of the {program} program (mint {}, owner {}), not a wallet: a release creates a \
             token account owned by this one, which nobody can sign for",
            base.mint, base.owner
        ),
    )];
    if let Some(delegate) = Option::<Pubkey>::from(base.delegate) {
        findings.push(Finding::new(
            "token-account-delegate",
            Severity::Suspicious,
            format!(
                "delegate {delegate} may move up to {} of its tokens",
                base.delegated_amount
            ),
        ));
    }
    if let Some(authority) = Option::<Pubkey>::from(base.close_authority) {
        let whose = if authority == base.owner {
            " (its owner)"
        } else {
            ""
        };
        findings.push(Finding::new(
            "token-account-close-authority",
            Severity::Suspicious,
            format!("close authority {authority}{whose} can close it and take its rent"),
        ));
    }
    if base.state == AccountState::Frozen {
        findings.push(Finding::new(
            "token-account-frozen",
            Severity::Suspicious,
            "the account is frozen: nothing moves in or out until the mint's freeze authority \
             thaws it",
        ));
    }
    for extension in account.get_extension_types().unwrap_or_default() {
        match extension {
            ExtensionType::MemoTransfer => {
                let required = account
                    .get_extension::<MemoTransfer>()
                    .is_ok_and(|m| bool::from(m.require_incoming_transfer_memos));
                if required {
                    findings.push(Finding::new(
                        "token2022-memo-required",
                        Severity::Suspicious,
                        "incoming transfers must carry a memo: a release without one fails",
                    ));
                }
            }
            other => findings.push(other_extension(other)),
        }
    }
    findings
}

fn mint_findings(program: &str, mint: &StateWithExtensions<'_, Mint>) -> Vec<Finding> {
    let mut findings = vec![Finding::new(
        "token-mint",
        Severity::Suspicious,
        format!(
            "a mint of the {program} program (supply {}, {} decimals), not a wallet: tokens sent to a mint are \
             a classic loss",
            mint.base.supply, mint.base.decimals
        ),
    )];
    for extension in mint.get_extension_types().unwrap_or_default() {
        let finding = match extension {
            ExtensionType::PermanentDelegate => {
                match mint
                    .get_extension::<PermanentDelegate>()
                    .ok()
                    .and_then(|p| Option::<Pubkey>::from(p.delegate))
                {
                    Some(delegate) => Finding::new(
                        "token2022-permanent-delegate",
                        Severity::Malicious,
                        format!(
                            "permanent delegate {delegate} can transfer or burn anyone's tokens \
                             of this mint"
                        ),
                    ),
                    None => other_extension(extension),
                }
            }
            ExtensionType::TransferHook => {
                let hook = mint.get_extension::<TransferHook>().ok();
                let program_id = hook.and_then(|h| Option::<Pubkey>::from(h.program_id));
                let authority = hook.and_then(|h| Option::<Pubkey>::from(h.authority));
                match (program_id, authority) {
                    (None, None) => other_extension(extension),
                    (program_id, authority) => Finding::new(
                        "token2022-transfer-hook",
                        Severity::Suspicious,
                        format!(
                            "every transfer calls hook program {} (authority {})",
                            describe(program_id),
                            describe(authority)
                        ),
                    ),
                }
            }
            ExtensionType::TransferFeeConfig => match mint.get_extension::<TransferFeeConfig>() {
                Ok(config) => {
                    let fee = &config.newer_transfer_fee;
                    let bps = u16::from(fee.transfer_fee_basis_points);
                    let authority = Option::<Pubkey>::from(config.transfer_fee_config_authority);
                    let severity = if bps > 0 || authority.is_some() {
                        Severity::Suspicious
                    } else {
                        Severity::Info
                    };
                    Finding::new(
                        "token2022-transfer-fee",
                        severity,
                        format!(
                            "transfer fee {bps} basis points (at most {}), fee authority {}",
                            u64::from(fee.maximum_fee),
                            describe(authority)
                        ),
                    )
                }
                Err(_) => other_extension(extension),
            },
            ExtensionType::NonTransferable => Finding::new(
                "token2022-non-transferable",
                Severity::Suspicious,
                "tokens of this mint cannot be transferred",
            ),
            ExtensionType::DefaultAccountState => {
                let frozen = mint
                    .get_extension::<DefaultAccountState>()
                    .is_ok_and(|d| d.state == AccountState::Frozen as u8);
                if frozen {
                    Finding::new(
                        "token2022-default-frozen",
                        Severity::Suspicious,
                        "new token accounts of this mint start frozen",
                    )
                } else {
                    other_extension(extension)
                }
            }
            ExtensionType::Pausable => {
                let paused = mint
                    .get_extension::<PausableConfig>()
                    .is_ok_and(|p| bool::from(p.paused));
                Finding::new(
                    "token2022-pausable",
                    Severity::Suspicious,
                    if paused {
                        "transfers can be paused by an authority, and are paused now"
                    } else {
                        "transfers can be paused by an authority"
                    },
                )
            }
            ExtensionType::MintCloseAuthority => {
                let authority = mint
                    .get_extension::<MintCloseAuthority>()
                    .ok()
                    .and_then(|m| Option::<Pubkey>::from(m.close_authority));
                Finding::new(
                    "token2022-mint-close-authority",
                    Severity::Info,
                    format!("close authority {}", describe(authority)),
                )
            }
            other => other_extension(other),
        };
        findings.push(finding);
    }
    findings
}

fn describe(key: Option<Pubkey>) -> String {
    key.map_or_else(|| "none".to_string(), |k| k.to_string())
}

fn other_extension(extension: ExtensionType) -> Finding {
    Finding::new(
        "token2022-extension",
        Severity::Info,
        format!("Token-2022 extension {extension:?}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_length_and_account_type() {
        assert_eq!(kind(&[0; MINT_LEN]), Kind::Mint);
        assert_eq!(kind(&[0; ACCOUNT_LEN]), Kind::Account);
        assert_eq!(kind(&[0; MULTISIG_LEN]), Kind::Multisig);
        let mut data = vec![0; 200];
        assert_eq!(kind(&data), Kind::Unknown);
        data[ACCOUNT_LEN] = ACCOUNT_TYPE_MINT;
        assert_eq!(kind(&data), Kind::Mint);
        data[ACCOUNT_LEN] = ACCOUNT_TYPE_ACCOUNT;
        assert_eq!(kind(&data), Kind::Account);
        assert_eq!(kind(&[]), Kind::Unknown);
    }

    #[test]
    fn garbage_is_a_finding_not_a_panic() {
        for data in [
            vec![0xff; MINT_LEN],
            vec![0; ACCOUNT_LEN],
            vec![7; 300],
            vec![],
        ] {
            let found = findings("SPL Token", &data);
            assert_eq!(found.len(), 1, "{found:?}");
            assert_eq!(found[0].severity, Severity::Suspicious);
        }
    }
}

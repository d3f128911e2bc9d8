//! Scouting: what a hostchain says about a release's destination, computed from the hostchain's
//! RPC alone at a named block so that anyone can recompute it.
//!
//! A scout reports *facts* ([`Finding`]s with a severity) and every address whose code it
//! followed ([`Followed`], with code hashes). Policy is not the scout's business: the relayer
//! applies its code-hash deny list and its address allow and deny lists on top of an
//! [`Inspection`], and turns it into a verdict (malicious if any finding is
//! [`Severity::Malicious`], suspicious if any is [`Severity::Suspicious`], else clean;
//! [`Inspection::severity`]).
//!
//! # Finding codes
//!
//! Codes are stable identifiers: reports are signed and stored, and policies and reviewers match
//! on them, so a code is never renamed or reused for something else. The `detail` of a finding
//! found in followed code starts with where that code came from (`EIP-7702 delegate 0x… of
//! 0x…: …`).
//!
//! | Chain  | Code                              | Severity   | Meaning |
//! |--------|-----------------------------------|------------|---------|
//! | All    | `invalid-address`                 | malicious  | The destination is not an address of its hostchain (the relayer checks it with the adapter before inspecting): nothing can be paid to it. |
//! | All    | `no-scout`                        | info       | The hostchain has no scout: nothing was inspected. |
//! | EVM    | `no-code`                         | info       | No code at the address at that block: an EOA (or nothing yet). |
//! | EVM    | `no-metadata`                     | info       | Code without solc's CBOR metadata (hand-written, stripped, or built without it). |
//! | EVM    | `function-inventory`              | info       | The function selectors found in the code, with known names. |
//! | EVM    | `analysis-failed`                 | suspicious | The function analysis (evmole) failed on the code: code that defeats analysis is not trusted. |
//! | EVM    | `eip7702-delegation`              | info       | An EOA delegating its code to another address (EIP-7702); the delegate is followed. |
//! | EVM    | `eip1967-proxy`                   | info       | An EIP-1967 proxy; the implementation is followed and its code judged. |
//! | EVM    | `eip1967-beacon-proxy`            | info       | An EIP-1967 beacon proxy; the beacon's implementation is followed. |
//! | EVM    | `eip1167-minimal-proxy`           | info       | An EIP-1167 minimal proxy (clone); its target is followed. |
//! | EVM    | `followed-code-missing`           | info / suspicious | A followed address has no code: info for a 7702 delegate (the account acts as an EOA), suspicious for a proxy implementation (what it receives is stuck until an upgrade). |
//! | EVM    | `delegation-chain`                | suspicious | Followed code is itself a 7702 designator: the EVM does not follow chains, every call reverts. |
//! | EVM    | `follow-limit`                    | suspicious | Proxies and delegations nest deeper than the scout follows, or loop. |
//! | EVM    | `admin-ownership`                 | info       | Ownership functions (`owner()`, `transferOwnership(address)`...). |
//! | EVM    | `admin-pause`                     | info       | Pause switches (`pause()`, `unpause()`). |
//! | EVM    | `admin-mint`                      | info       | Minting functions (`mint(address,uint256)`...). |
//! | EVM    | `admin-blacklist`                 | suspicious | Blacklist functions: someone can block chosen holders' transfers. |
//! | EVM    | `admin-trading-switch`            | suspicious | Trading switches and transfer limits (`setTradingEnabled(bool)`, `setMaxTxAmount(uint256)`...): the classic honeypot levers. |
//! | EVM    | `admin-fee-setter`                | suspicious | Owner-settable transfer fees (`setFee(uint256)`, `setTaxFee(uint256)`...): a sell tax can be raised to everything. |
//! | EVM    | `sweep-function`                  | suspicious | Functions that move what the contract holds elsewhere (`sweep(address)`, `forwardToken(address)`, `flushTokens(address)`...). |
//! | EVM    | `token-contract`                  | suspicious | The destination is itself a token (ERC-20, ERC-721 or ERC-1155 interface): tokens sent to a token contract are a classic loss. |
//! | EVM    | `token-transfer-reverts`          | suspicious | A simulated zero-amount `transfer` from an ordinary address reverts or returns false: holders cannot move the token (honeypot), or it is paused. |
//! | EVM    | `forwards-call-value`             | suspicious | A `CALL` passes the received value (`CALLVALUE`) on: whatever is sent here ends up elsewhere. |
//! | EVM    | `sweeps-balance`                  | suspicious | A `CALL` sends the contract's whole balance (`SELFBALANCE`) away: drainer-like. |
//! | EVM    | `callcode`                        | suspicious | `CALLCODE`: runs foreign code on this contract's storage; obsolete, no honest modern use. |
//! | EVM    | `delegatecall-variable-target`    | suspicious | `DELEGATECALL` to an address computed at run time (not a constant, not a followed proxy slot): anyone who controls it controls the contract. |
//! | EVM    | `selfdestruct`                    | malicious  | Reachable `SELFDESTRUCT`. |
//! | EVM    | `metamorphic-create2`             | malicious  | `CREATE2` and `SELFDESTRUCT` in the same code: a factory that can redeploy different code at the same address. |
//! | EVM    | `metamorphic-init-code`           | malicious  | The well-known metamorphic init code (copies the runtime code of another contract). |
//! | Solana | `no-account`                      | info       | No account at the address: a fresh wallet address. |
//! | Solana | `system-account`                  | info       | A wallet: owned by the System Program, no data. |
//! | Solana | `off-curve-address`               | info       | The address has no private key (a program-derived address): only its program can sign for it. |
//! | Solana | `program-account`                 | malicious  | An executable account: lamports and tokens sent to a program are lost. |
//! | Solana | `program-upgradeable`             | info       | The program's code can be replaced by its upgrade authority. |
//! | Solana | `program-owned-account`           | suspicious | A data account owned by a program other than the System Program: only that program can move what it receives. |
//! | Solana | `token-account`                   | suspicious | A token account, not a wallet: a release creates a token account owned by it, which nobody can sign for. |
//! | Solana | `token-account-delegate`          | suspicious | The token account has a delegate that can move its balance. |
//! | Solana | `token-account-close-authority`   | suspicious | The token account has a close authority (the detail says if it is the owner). |
//! | Solana | `token-account-frozen`            | suspicious | The token account is frozen. |
//! | Solana | `token-mint`                      | suspicious | The destination is itself a mint: a classic loss. |
//! | Solana | `token-multisig`                  | suspicious | The destination is an SPL multisig account, not a wallet. |
//! | Solana | `token2022-permanent-delegate`    | malicious  | A permanent delegate can move or burn anyone's tokens of this mint. |
//! | Solana | `token2022-transfer-hook`         | suspicious | Every transfer runs a program chosen by the mint's authority. |
//! | Solana | `token2022-transfer-fee`          | info / suspicious | A transfer fee: suspicious when above zero or when an authority can change it. |
//! | Solana | `token2022-non-transferable`      | suspicious | Tokens of this mint cannot be transferred. |
//! | Solana | `token2022-default-frozen`        | suspicious | New token accounts start frozen. |
//! | Solana | `token2022-pausable`              | suspicious | Transfers can be paused (the detail says whether they are now). |
//! | Solana | `token2022-mint-close-authority`  | info       | The mint can be closed by an authority. |
//! | Solana | `token2022-extension`             | info       | Any other Token-2022 extension, by name. |
//! | Solana | `token2022-memo-required`         | suspicious | Incoming transfers need a memo: a release without one fails. |

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use symbiote::types::HostAddress;

use crate::error::AdapterResult;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth recording, no reason to hold.
    Info,
    /// Unusual; held only if policy says so.
    Suspicious,
    /// A known-bad pattern: hold.
    Malicious,
}

/// One thing a scout found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// A stable identifier (`selfdestruct`, `eip1967-proxy`...); see the module documentation
    /// for the table of codes.
    pub code: String,
    /// How bad it is.
    pub severity: Severity,
    /// Details for a reviewer (addresses followed, offsets, selectors).
    pub detail: String,
}

impl Finding {
    /// A finding of `code` with `severity`.
    pub fn new(code: &str, severity: Severity, detail: impl Into<String>) -> Self {
        Finding {
            code: code.to_string(),
            severity,
            detail: detail.into(),
        }
    }
}

/// Why a scout looked at another address's code.
///
/// Stored in signed reports: renaming a variant changes their serialized form and breaks the
/// verification of reports already published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowedVia {
    /// The account's code is an EIP-7702 delegation designator naming this address.
    Eip7702Delegate,
    /// The EIP-1967 implementation slot of the account names this address.
    Eip1967Implementation,
    /// The EIP-1967 beacon slot names this address (a beacon: its code is hashed, not judged).
    Eip1967Beacon,
    /// The beacon's `implementation()` names this address.
    Eip1967BeaconImplementation,
    /// The account is an EIP-1167 minimal proxy delegating to this address.
    Eip1167Target,
}

/// An address whose code the scout followed, so that the relayer's code-hash deny list and
/// address lists also apply to what actually runs, not only to the front door.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Followed {
    /// The followed address.
    pub address: HostAddress,
    /// Hash of its code at the inspection's block (chain-specific, see [`Inspection`]); `None`
    /// when it has none.
    pub code_hash: Option<String>,
    /// Why it was followed.
    pub via: FollowedVia,
}

/// What a scout saw at one block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspection {
    /// The inspected address.
    pub address: HostAddress,
    /// The block (EVM block number, Solana slot) the answers are from: re-running at this block
    /// gives the same findings. On Solana, whose RPC cannot read past account state, it is the
    /// slot the answer came from, and re-running is exact only while the accounts are unchanged.
    pub block: u64,
    /// Hash of the code at the address, if any: keccak256 of the EVM code, or of a Solana
    /// program's executable (0x-hex).
    pub code_hash: Option<String>,
    /// Every address whose code was followed (delegates, implementations, beacons), in the
    /// order they were followed.
    #[serde(default)]
    pub followed: Vec<Followed>,
    /// Everything found, in a deterministic order: the inspected code first, then each followed
    /// code in turn.
    pub findings: Vec<Finding>,
}

impl Inspection {
    /// The highest severity among the findings (`Info` when there are none): what a verdict is
    /// made of before the relayer's own lists are applied.
    pub fn severity(&self) -> Severity {
        self.findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Info)
    }

    /// Whether a finding with `code` is present.
    pub fn has(&self, code: &str) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }
}

/// Inspects destinations on one hostchain.
///
/// Implementations answer from the hostchain's RPC alone and read everything at one block, so
/// that the same call with `Some(inspection.block)` gives the same [`Inspection`] (see
/// [`Inspection::block`] for Solana's limit). A call may be repeated and dropped at any time:
/// it only reads.
#[async_trait]
pub trait Scout: Send + Sync {
    /// Inspects `address` at the latest block (`block: None`) or at a given block.
    async fn inspect(&self, address: &HostAddress, block: Option<u64>)
    -> AdapterResult<Inspection>;
}

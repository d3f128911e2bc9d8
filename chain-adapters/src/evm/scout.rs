//! The EVM scout: what a release destination's code does, read over JSON-RPC at one block.
//!
//! Every call (`eth_getCode`, `eth_getStorageAt`, `eth_call`) names the same block number, the
//! latest one when none is given, so inspecting again at [`Inspection::block`] gives the same
//! findings on any archive-capable node. The walk starts at the destination and follows what
//! actually runs when something is sent to it:
//!
//! 1. no code: an EOA (`no-code`, info);
//! 2. an EIP-7702 designator (`0xef0100 ‖ address`): the delegate's code runs in the account,
//!    so it is followed and judged;
//! 3. an EIP-1167 minimal proxy: its target is followed;
//! 4. other code is judged ([`bytecode`] for opcodes and call operands, evmole and
//!    [`selectors`] for the function inventory, [`findings`] for what they mean); if it has a
//!    `DELEGATECALL` and the account's EIP-1967 implementation slot (or beacon slot, then the
//!    beacon's `implementation()`) names an address, that implementation is followed too.
//!    Storage is always read from the destination account, because delegated code runs on the
//!    destination's storage; code that names a slot that is set is that proxy, and its
//!    `DELEGATECALL`s are the followed ones, not a variable-target finding.
//!
//! At most [`MAX_FOLLOWS`] addresses are followed; a longer chain or a loop is itself a
//! finding. Each followed address is listed in [`Inspection::followed`] with its code hash, and
//! the findings of followed code name it at the start of their detail. Finally, if any of the
//! code implements a token standard, the destination is a token contract (`token-contract`),
//! and an ERC-20 is asked, by a simulated call from an ordinary address, whether a zero-amount
//! `transfer` goes through (`token-transfer-reverts` when it does not: the honeypot pattern).
//! The finding codes and their severities are listed in [`crate::scout`].

mod bytecode;
mod findings;
mod selectors;

use std::collections::BTreeSet;

use alloy::eips::BlockId;
use alloy::primitives::{Address, B256, Bytes, U256, address, b256, keccak256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol;
use alloy::sol_types::SolCall;
use async_trait::async_trait;
use evmole::{ContractInfoArgs, contract_info};
use symbiote::types::HostAddress;

use self::selectors::Selector;
use super::EvmAdapter;
use super::errors;
use crate::error::{AdapterResult, ErrorKind};
use crate::scout::{Finding, Followed, FollowedVia, Inspection, Scout, Severity};

/// `bytes32(uint256(keccak256("eip1967.proxy.implementation")) - 1)`.
pub const IMPLEMENTATION_SLOT: B256 =
    b256!("360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc");
/// `bytes32(uint256(keccak256("eip1967.proxy.beacon")) - 1)`.
pub const BEACON_SLOT: B256 =
    b256!("a3f0ad74e5423aebfd80d3ef4346578335a9a72aeaee59ff6cb3582b35133d50");
/// `bytes32(uint256(keccak256("eip1967.proxy.admin")) - 1)`.
pub const ADMIN_SLOT: B256 =
    b256!("b53127684a568b3173ae13b9f8a6016e243e63b6e8ee1178d6a717850b5d6103");

/// How many addresses one inspection follows to code that runs (delegates, implementations,
/// clone targets; a beacon is read, not counted). Real wallets and proxies need two at most (a
/// 7702 delegate that is a minimal proxy, say).
pub const MAX_FOLLOWS: usize = 4;

/// The holder a simulated token transfer comes from: an ordinary address nobody controls
/// (nothing special for any token, unlike the zero address or the token's owner).
const PROBE_HOLDER: Address = address!("5c0075c0075c0075c0075c0075c0075c0075c001");
/// The recipient of the simulated transfer.
const PROBE_RECIPIENT: Address = address!("5c0075c0075c0075c0075c0075c0075c0075c002");

/// EIP-7702 delegation designator prefix; the delegate's 20 bytes follow.
const DESIGNATOR_PREFIX: [u8; 3] = [0xef, 0x01, 0x00];
/// EIP-1167 minimal proxy code before and after the target's 20 bytes.
const MINIMAL_PROXY_PREFIX: [u8; 10] = [0x36, 0x3d, 0x3d, 0x37, 0x3d, 0x3d, 0x3d, 0x36, 0x3d, 0x73];
const MINIMAL_PROXY_SUFFIX: [u8; 15] = [
    0x5a, 0xf4, 0x3d, 0x82, 0x80, 0x3e, 0x90, 0x3d, 0x91, 0x60, 0x2b, 0x57, 0xfd, 0x5b, 0xf3,
];

sol! {
    /// The calls the scout simulates.
    interface ScoutCalls {
        function totalSupply() external view returns (uint256);
        function transfer(address to, uint256 amount) external returns (bool);
        function implementation() external view returns (address);
    }
}

/// The 0x-hex keccak256 of `code`.
fn code_hash(code: &[u8]) -> String {
    format!("{:#x}", keccak256(code))
}

/// The delegate an EIP-7702 designator names.
fn designator(code: &[u8]) -> Option<Address> {
    let delegate = code.strip_prefix(&DESIGNATOR_PREFIX)?;
    (delegate.len() == 20).then(|| Address::from_slice(delegate))
}

/// The target an EIP-1167 minimal proxy delegates to.
fn minimal_proxy_target(code: &[u8]) -> Option<Address> {
    let rest = code.strip_prefix(&MINIMAL_PROXY_PREFIX)?;
    let target = rest.strip_suffix(&MINIMAL_PROXY_SUFFIX)?;
    (target.len() == 20).then(|| Address::from_slice(target))
}

/// The address in the low 160 bits of a storage word, if any.
fn address_in(word: U256) -> Option<Address> {
    let address = Address::from_word(B256::from(word));
    (!address.is_zero()).then_some(address)
}

/// What evmole finds in `code`: whether it ends in CBOR metadata, where the executable part
/// ends, and the function selectors. evmole runs on a blocking thread: it executes the code
/// symbolically (bounded by its own gas limit), and the code is whatever the destination's
/// deployer chose, so a panic in it must end this analysis, not the caller's task.
async fn evmole_info(code: &Bytes) -> Result<(bool, usize, Vec<Selector>), String> {
    let code = code.clone();
    tokio::task::spawn_blocking(move || {
        let info = contract_info(
            ContractInfoArgs::new(&code)
                .with_selectors()
                .with_metadata(),
        );
        let code_end = info
            .metadata
            .as_ref()
            .map_or(code.len(), |m| m.bytecode_offset);
        let selectors = info
            .functions
            .unwrap_or_default()
            .iter()
            .map(|f| f.selector)
            .collect();
        (info.metadata.is_some(), code_end, selectors)
    })
    .await
    .map_err(|e| e.to_string())
}

/// One inspection in progress.
struct Walk {
    /// The destination: its storage is what delegated code runs on.
    account: Address,
    /// The block every call names.
    block: BlockId,
    /// Code hash of the destination itself.
    code_hash: Option<String>,
    /// Addresses followed so far.
    followed: Vec<Followed>,
    /// Findings so far, in the order found.
    findings: Vec<Finding>,
    /// Selectors of all judged code (a proxy's interface is its implementation's).
    selectors: BTreeSet<Selector>,
    /// The EIP-1967 slot of the destination that names an address (the implementation slot,
    /// else the beacon slot; `Some(None)` when neither does), once read. It is read once: all
    /// code in the walk runs on the destination's storage, so a UUPS implementation that
    /// manages the slot sees the same answer as its proxy did.
    proxy_slot: Option<Option<B256>>,
}

impl Walk {
    fn add(&mut self, origin: &str, code: &str, severity: Severity, detail: impl AsRef<str>) {
        findings::add(&mut self.findings, origin, code, severity, detail);
    }
}

/// Where followed code comes from, as the prefix of its findings' details.
fn origin(via: Option<FollowedVia>, address: Address) -> String {
    let what = match via {
        None => return String::new(),
        Some(FollowedVia::Eip7702Delegate) => "EIP-7702 delegate",
        Some(FollowedVia::Eip1967Implementation) => "EIP-1967 implementation",
        Some(FollowedVia::Eip1967Beacon) => "EIP-1967 beacon",
        Some(FollowedVia::Eip1967BeaconImplementation) => "EIP-1967 beacon implementation",
        Some(FollowedVia::Eip1167Target) => "EIP-1167 target",
    };
    format!("{what} {address}: ")
}

impl EvmAdapter {
    fn host_address(&self, address: Address) -> AdapterResult<HostAddress> {
        HostAddress::new(&address.to_checksum(None)).map_err(|e| {
            self.err(
                ErrorKind::InvalidResponse,
                format!("address {address}: {e}"),
            )
        })
    }

    async fn code_at(&self, address: Address, block: BlockId) -> AdapterResult<Bytes> {
        self.provider
            .get_code_at(address)
            .block_id(block)
            .await
            .map_err(|e| {
                self.rpc_err(
                    &format!("eth_getCode {address}"),
                    &e,
                    ErrorKind::InvalidResponse,
                )
            })
    }

    async fn slot_at(&self, address: Address, slot: B256, block: BlockId) -> AdapterResult<U256> {
        self.provider
            .get_storage_at(address, slot.into())
            .block_id(block)
            .await
            .map_err(|e| {
                let what = format!("eth_getStorageAt {address} {slot}");
                self.rpc_err(&what, &e, ErrorKind::InvalidResponse)
            })
    }

    /// Simulates `data` sent to `to` (from `from`) at `block`: the return data, or why the
    /// execution failed as `Err(reason)` (a revert, running out of gas: any error answer that is
    /// not about the node itself). A node that is down, lagging or refuses the method is an
    /// error.
    async fn simulate(
        &self,
        from: Option<Address>,
        to: Address,
        data: Vec<u8>,
        block: BlockId,
    ) -> AdapterResult<Result<Bytes, String>> {
        let mut request = TransactionRequest::default().to(to).input(data.into());
        if let Some(from) = from {
            request = request.from(from);
        }
        match self.provider.call(request).block(block).await {
            Ok(output) => Ok(Ok(output)),
            Err(e) if errors::rpc_kind(&e, ErrorKind::Rejected) == ErrorKind::Rejected => {
                Ok(Err(errors::describe(&e)))
            }
            Err(e) => Err(self.rpc_err(&format!("eth_call {to}"), &e, ErrorKind::InvalidResponse)),
        }
    }

    /// Judges `code` found at `address` (reached `via`), adds its findings, and returns the
    /// next address to follow.
    async fn judge(
        &self,
        walk: &mut Walk,
        address: Address,
        via: Option<FollowedVia>,
        code: &Bytes,
    ) -> AdapterResult<Option<(Address, FollowedVia)>> {
        let origin = origin(via, address);
        if code.is_empty() {
            match via {
                None => walk.add(
                    &origin,
                    "no-code",
                    Severity::Info,
                    "no code at this block: an externally owned account (or nothing deployed yet)",
                ),
                Some(FollowedVia::Eip7702Delegate) => walk.add(
                    &origin,
                    "followed-code-missing",
                    Severity::Info,
                    "the delegate has no code: calls run nothing, the account acts as an EOA",
                ),
                Some(_) => walk.add(
                    &origin,
                    "followed-code-missing",
                    Severity::Suspicious,
                    "the proxy delegates to an address without code: what it receives is stuck \
                     until it is upgraded",
                ),
            }
            return Ok(None);
        }
        if let Some(delegate) = designator(code) {
            if via.is_some() {
                walk.add(
                    &origin,
                    "delegation-chain",
                    Severity::Suspicious,
                    format!(
                        "followed code is itself an EIP-7702 designator (to {delegate}); the EVM \
                         does not follow it, so every call reverts"
                    ),
                );
                return Ok(None);
            }
            walk.add(
                &origin,
                "eip7702-delegation",
                Severity::Info,
                format!("the account delegates its code to {delegate} (EIP-7702)"),
            );
            return Ok(Some((delegate, FollowedVia::Eip7702Delegate)));
        }
        if let Some(target) = minimal_proxy_target(code) {
            walk.add(
                &origin,
                "eip1167-minimal-proxy",
                Severity::Info,
                format!("a minimal proxy (EIP-1167) delegating every call to {target}"),
            );
            return Ok(Some((target, FollowedVia::Eip1167Target)));
        }

        let (metadata, code_end, found) = match evmole_info(code).await {
            Ok(info) => info,
            Err(why) => {
                walk.add(
                    &origin,
                    "analysis-failed",
                    Severity::Suspicious,
                    format!(
                        "the function and metadata analysis of this code failed ({why}): code \
                         that defeats analysis is not trusted"
                    ),
                );
                (true, code.len(), Vec::new())
            }
        };
        let analysis = bytecode::analyse(code, code_end);
        let mut next = None;
        let mut proxy = false;
        if !analysis.delegatecalls.is_empty() {
            let slot = match walk.proxy_slot {
                Some(slot) => slot,
                None => {
                    let slot;
                    (next, slot) = self.proxy_slot(walk, &origin).await?;
                    walk.proxy_slot = Some(slot);
                    slot
                }
            };
            // Code that names the slot that is set is that proxy: its `DELEGATECALL`s go where
            // the slot says (and that was followed).
            proxy = slot.is_some_and(|slot| analysis.push32.contains(&slot));
        }
        if !metadata {
            walk.add(
                &origin,
                "no-metadata",
                Severity::Info,
                "no solc CBOR metadata: the code cannot be matched to published sources by its \
                 metadata hash",
            );
        }
        findings::opcodes(&mut walk.findings, &origin, &analysis, proxy);
        findings::inventory(&mut walk.findings, &origin, &found);
        walk.selectors.extend(found);
        Ok(next)
    }

    /// Reads the EIP-1967 slots of the destination for code that delegates: the address to
    /// follow, and which slot names an address (see [`Walk::proxy_slot`]).
    async fn proxy_slot(
        &self,
        walk: &mut Walk,
        origin: &str,
    ) -> AdapterResult<(Option<(Address, FollowedVia)>, Option<B256>)> {
        let implementation = self
            .slot_at(walk.account, IMPLEMENTATION_SLOT, walk.block)
            .await?;
        if let Some(implementation) = address_in(implementation) {
            let admin = self.slot_at(walk.account, ADMIN_SLOT, walk.block).await?;
            let admin = address_in(admin).map_or(String::new(), |a| format!(", admin {a}"));
            walk.add(
                origin,
                "eip1967-proxy",
                Severity::Info,
                format!(
                    "EIP-1967 implementation slot names {implementation}{admin}; the code can \
                     be replaced by upgrading"
                ),
            );
            return Ok((
                Some((implementation, FollowedVia::Eip1967Implementation)),
                Some(IMPLEMENTATION_SLOT),
            ));
        }
        let Some(beacon) = address_in(self.slot_at(walk.account, BEACON_SLOT, walk.block).await?)
        else {
            return Ok((None, None));
        };
        let beacon_code = self.code_at(beacon, walk.block).await?;
        walk.followed.push(Followed {
            address: self.host_address(beacon)?,
            code_hash: (!beacon_code.is_empty()).then(|| code_hash(&beacon_code)),
            via: FollowedVia::Eip1967Beacon,
        });
        let call = ScoutCalls::implementationCall {}.abi_encode();
        let answer = self.simulate(None, beacon, call, walk.block).await?;
        let implementation = answer.map_err(Some).and_then(|output| {
            ScoutCalls::implementationCall::abi_decode_returns(&output)
                .map_err(|_| None)
                .and_then(|a| if a.is_zero() { Err(None) } else { Ok(a) })
        });
        match implementation {
            Ok(implementation) => {
                walk.add(
                    origin,
                    "eip1967-beacon-proxy",
                    Severity::Info,
                    format!(
                        "EIP-1967 beacon {beacon} names the implementation {implementation}; the \
                         beacon's owner can replace it"
                    ),
                );
                Ok((
                    Some((implementation, FollowedVia::Eip1967BeaconImplementation)),
                    Some(BEACON_SLOT),
                ))
            }
            Err(reason) => {
                let reason = reason.unwrap_or_else(|| "no implementation address".to_string());
                walk.add(
                    origin,
                    "followed-code-missing",
                    Severity::Suspicious,
                    format!("EIP-1967 beacon {beacon} gives no implementation() ({reason})"),
                );
                Ok((None, Some(BEACON_SLOT)))
            }
        }
    }

    /// The token findings: whether the judged code implements a token standard, and whether an
    /// ERC-20's transfer works for an ordinary holder.
    async fn token_findings(&self, walk: &mut Walk) -> AdapterResult<()> {
        let selectors: Vec<Selector> = walk.selectors.iter().copied().collect();
        let standards = selectors::token_standards(&selectors);
        if standards.is_empty() {
            return Ok(());
        }
        let erc20 = standards.contains(&"ERC-20");
        let mut supply = String::new();
        if erc20 {
            let call = ScoutCalls::totalSupplyCall {}.abi_encode();
            supply = match self.simulate(None, walk.account, call, walk.block).await? {
                Ok(output) => match ScoutCalls::totalSupplyCall::abi_decode_returns(&output) {
                    Ok(total) => format!("; totalSupply() = {total}"),
                    Err(_) => "; totalSupply() answers no number".to_string(),
                },
                Err(reason) => format!("; totalSupply() reverts ({reason})"),
            };
        }
        walk.add(
            "",
            "token-contract",
            Severity::Suspicious,
            format!(
                "the destination is a token contract ({}){supply}: tokens sent to a token \
                 contract are usually lost",
                standards.join(", ")
            ),
        );
        if erc20 {
            let call = ScoutCalls::transferCall {
                to: PROBE_RECIPIENT,
                amount: U256::ZERO,
            }
            .abi_encode();
            let answer = self
                .simulate(Some(PROBE_HOLDER), walk.account, call, walk.block)
                .await?;
            let refused = match answer {
                // Tokens that return nothing (USDT and its kind) succeed by not reverting.
                Ok(output) if output.is_empty() => None,
                Ok(output) => match ScoutCalls::transferCall::abi_decode_returns(&output) {
                    Ok(true) => None,
                    Ok(false) => Some("returns false".to_string()),
                    Err(_) => Some(format!("returns {output} instead of a bool")),
                },
                Err(reason) => Some(format!("reverts: {reason}")),
            };
            if let Some(refused) = refused {
                walk.add(
                    "",
                    "token-transfer-reverts",
                    Severity::Suspicious,
                    format!(
                        "a zero-amount transfer(to, 0) from the ordinary address {PROBE_HOLDER} \
                         {refused}: holders cannot move this token (a honeypot), or it is paused"
                    ),
                );
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Scout for EvmAdapter {
    async fn inspect(
        &self,
        address: &HostAddress,
        block: Option<u64>,
    ) -> AdapterResult<Inspection> {
        let account: Address = address.as_str().parse().map_err(|e| {
            self.err(
                ErrorKind::Rejected,
                format!("scout: '{address}' is not an EVM address ({e})"),
            )
        })?;
        let head = self.head().await?;
        let number = match block {
            None => head,
            Some(number) if number <= head => number,
            // A node behind a load balancer may not have it yet: another may.
            Some(number) => {
                return Err(self.err(
                    ErrorKind::Unavailable,
                    format!("scout: block {number} is above the node's head {head}"),
                ));
            }
        };
        let mut walk = Walk {
            account,
            block: BlockId::number(number),
            code_hash: None,
            followed: Vec::new(),
            findings: Vec::new(),
            selectors: BTreeSet::new(),
            proxy_slot: None,
        };
        let mut visited = vec![account];
        let (mut current, mut via) = (account, None);
        loop {
            let code = self.code_at(current, walk.block).await?;
            let hash = (!code.is_empty()).then(|| code_hash(&code));
            match via {
                None => walk.code_hash = hash,
                Some(via) => walk.followed.push(Followed {
                    address: self.host_address(current)?,
                    code_hash: hash,
                    via,
                }),
            }
            let Some((next, next_via)) = self.judge(&mut walk, current, via, &code).await? else {
                break;
            };
            if visited.contains(&next) || visited.len() > MAX_FOLLOWS {
                walk.add(
                    &origin(via, current),
                    "follow-limit",
                    Severity::Suspicious,
                    format!(
                        "not following {next}: delegations and proxies loop or nest deeper than \
                         {MAX_FOLLOWS}"
                    ),
                );
                break;
            }
            visited.push(next);
            (current, via) = (next, Some(next_via));
        }
        self.token_findings(&mut walk).await?;
        Ok(Inspection {
            address: address.clone(),
            block: number,
            code_hash: walk.code_hash,
            followed: walk.followed,
            findings: walk.findings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn designators_and_minimal_proxies_are_recognised_exactly() {
        let target = Address::repeat_byte(0xab);
        let mut code = DESIGNATOR_PREFIX.to_vec();
        code.extend_from_slice(target.as_slice());
        assert_eq!(designator(&code), Some(target));
        code.push(0);
        assert_eq!(designator(&code), None);

        let mut clone = MINIMAL_PROXY_PREFIX.to_vec();
        clone.extend_from_slice(target.as_slice());
        clone.extend_from_slice(&MINIMAL_PROXY_SUFFIX);
        assert_eq!(clone.len(), 45);
        assert_eq!(minimal_proxy_target(&clone), Some(target));
        assert_eq!(minimal_proxy_target(&clone[..44]), None);
    }

    #[test]
    fn slots_are_the_eip1967_constants() {
        let slot =
            |label: &str| B256::from(U256::from_be_bytes(keccak256(label).0) - U256::from(1));
        assert_eq!(slot("eip1967.proxy.implementation"), IMPLEMENTATION_SLOT);
        assert_eq!(slot("eip1967.proxy.beacon"), BEACON_SLOT);
        assert_eq!(slot("eip1967.proxy.admin"), ADMIN_SLOT);
    }
}

//! The function inventory: the selectors evmole finds in deployed code, matched against a table
//! of signatures that matter when deciding where a release may go (token interfaces, admin
//! levers of scam tokens, functions that pass on what the contract receives).
//!
//! Selectors are computed from the signatures with keccak256 when the table is first used, so
//! the table reads as Solidity and cannot hold a mistyped selector.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use alloy::primitives::keccak256;

use crate::scout::Severity;

/// A 4-byte function selector.
pub type Selector = [u8; 4];

/// What a known function says about the contract that has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    /// Part of a token standard's interface (used to recognise tokens, no finding of its own).
    Token,
    /// Ownership administration.
    Ownership,
    /// A pause switch.
    Pause,
    /// Minting.
    Mint,
    /// Blocking chosen holders.
    Blacklist,
    /// Switching trading off or limiting transfers.
    TradingSwitch,
    /// Setting transfer fees.
    FeeSetter,
    /// Moving what the contract holds to someone else.
    Sweep,
}

impl Category {
    /// The finding code and severity of functions of this category; `None` for token
    /// interface functions, which are judged together by [`token_standards`].
    pub fn finding(self) -> Option<(&'static str, Severity)> {
        Some(match self {
            Category::Token => return None,
            Category::Ownership => ("admin-ownership", Severity::Info),
            Category::Pause => ("admin-pause", Severity::Info),
            Category::Mint => ("admin-mint", Severity::Info),
            Category::Blacklist => ("admin-blacklist", Severity::Suspicious),
            Category::TradingSwitch => ("admin-trading-switch", Severity::Suspicious),
            Category::FeeSetter => ("admin-fee-setter", Severity::Suspicious),
            Category::Sweep => ("sweep-function", Severity::Suspicious),
        })
    }
}

/// The known signatures by category.
const SIGNATURES: &[(Category, &[&str])] = &[
    (
        Category::Token,
        &[
            "totalSupply()",
            "balanceOf(address)",
            "transfer(address,uint256)",
            "transferFrom(address,address,uint256)",
            "approve(address,uint256)",
            "allowance(address,address)",
            "decimals()",
            "name()",
            "symbol()",
            "ownerOf(uint256)",
            "safeTransferFrom(address,address,uint256)",
            "safeTransferFrom(address,address,uint256,bytes)",
            "setApprovalForAll(address,bool)",
            "balanceOfBatch(address[],uint256[])",
            "safeTransferFrom(address,address,uint256,uint256,bytes)",
            "safeBatchTransferFrom(address,address,uint256[],uint256[],bytes)",
        ],
    ),
    (
        Category::Ownership,
        &[
            "owner()",
            "transferOwnership(address)",
            "renounceOwnership()",
            "acceptOwnership()",
        ],
    ),
    (
        Category::Pause,
        &["pause()", "unpause()", "setPaused(bool)"],
    ),
    (
        Category::Mint,
        &[
            "mint(address,uint256)",
            "mint(uint256)",
            "mintTo(address,uint256)",
            "issue(uint256)",
        ],
    ),
    (
        Category::Blacklist,
        &[
            "blacklist(address)",
            "unBlacklist(address)",
            "addToBlacklist(address)",
            "addBlackList(address)",
            "addToBlackList(address)",
            "removeFromBlacklist(address)",
            "setBlacklist(address,bool)",
            "blacklistAddress(address,bool)",
            "isBlacklisted(address)",
            "isBlackListed(address)",
            "setBot(address,bool)",
            "setBots(address[])",
            "addBots(address[])",
            "freezeAccount(address,bool)",
        ],
    ),
    (
        Category::TradingSwitch,
        &[
            "setTradingEnabled(bool)",
            "enableTrading()",
            "openTrading()",
            "setTrading(bool)",
            "setSwapEnabled(bool)",
            "setMaxTxAmount(uint256)",
            "setMaxWalletSize(uint256)",
            "setCooldownEnabled(bool)",
        ],
    ),
    (
        Category::FeeSetter,
        &[
            "setFee(uint256)",
            "setFees(uint256,uint256)",
            "setTaxFee(uint256)",
            "setTaxFeePercent(uint256)",
            "setLiquidityFeePercent(uint256)",
            "setBuyFee(uint256)",
            "setSellFee(uint256)",
            "updateFees(uint256,uint256)",
        ],
    ),
    (
        Category::Sweep,
        &[
            "sweep(address)",
            "sweepToken(address)",
            "sweepTokens(address)",
            "sweepToken(address,uint256,address)",
            "sweepNative()",
            "sweepETH()",
            "drain(address)",
            "drainToken(address)",
            "drainTokens(address)",
            "forward(address)",
            "forwardToken(address)",
            "flush()",
            "flushTokens(address)",
        ],
    ),
];

/// Known selectors with their signature and category (the first category listing a
/// signature wins).
static KNOWN: LazyLock<BTreeMap<Selector, (&'static str, Category)>> = LazyLock::new(|| {
    let mut known = BTreeMap::new();
    for (category, signatures) in SIGNATURES {
        for signature in *signatures {
            known
                .entry(selector(signature))
                .or_insert((*signature, *category));
        }
    }
    known
});

/// The selector of `signature` (the first four bytes of its keccak256).
pub fn selector(signature: &str) -> Selector {
    let hash = keccak256(signature.as_bytes());
    [hash[0], hash[1], hash[2], hash[3]]
}

/// The signature and category of a known selector.
pub fn known(selector: &Selector) -> Option<(&'static str, Category)> {
    KNOWN.get(selector).copied()
}

/// `0x`-hex of a selector, with its signature when known.
pub fn describe(selector: &Selector) -> String {
    match known(selector) {
        Some((signature, _)) => format!("0x{} {signature}", hex::encode(selector)),
        None => format!("0x{}", hex::encode(selector)),
    }
}

/// The token standards whose core functions are all among `selectors`, by name.
pub fn token_standards(selectors: &[Selector]) -> Vec<&'static str> {
    let has = |signature: &str| selectors.contains(&selector(signature));
    let mut standards = Vec::new();
    if has("transfer(address,uint256)")
        && has("balanceOf(address)")
        && (has("totalSupply()") || has("transferFrom(address,address,uint256)"))
    {
        standards.push("ERC-20");
    }
    if has("ownerOf(uint256)") && has("safeTransferFrom(address,address,uint256)") {
        standards.push("ERC-721");
    }
    if has("balanceOfBatch(address[],uint256[])")
        && has("safeTransferFrom(address,address,uint256,uint256,bytes)")
    {
        standards.push("ERC-1155");
    }
    standards
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_match_the_well_known_values() {
        assert_eq!(
            selector("transfer(address,uint256)"),
            [0xa9, 0x05, 0x9c, 0xbb]
        );
        assert_eq!(selector("balanceOf(address)"), [0x70, 0xa0, 0x82, 0x31]);
        assert_eq!(selector("totalSupply()"), [0x18, 0x16, 0x0d, 0xdd]);
        assert_eq!(selector("owner()"), [0x8d, 0xa5, 0xcb, 0x5b]);
        assert_eq!(
            known(&selector("blacklist(address)")),
            Some(("blacklist(address)", Category::Blacklist))
        );
        assert_eq!(describe(&[0, 0, 0, 0]), "0x00000000");
    }

    #[test]
    fn tokens_need_their_core_functions() {
        let erc20: Vec<Selector> = [
            "transfer(address,uint256)",
            "balanceOf(address)",
            "totalSupply()",
        ]
        .iter()
        .map(|s| selector(s))
        .collect();
        assert_eq!(token_standards(&erc20), vec!["ERC-20"]);
        assert!(token_standards(&erc20[..2]).is_empty());
    }
}

//! The devnet's EVM side on anvil: `SymbioteAnchor` and `SymbioteBridge` deployed with the
//! genesis relayer as their relayer set (threshold 1), the scout fixture the demo burns to,
//! and the demo user's deposit.
//!
//! Contracts are deployed from a fresh key funded with `anvil_setBalance`, so that no
//! development account's nonce is shared with anything else.

use std::path::Path;
use std::str::FromStr;

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, Result, bail};
use devnet::Anvil;

alloy::sol!(
    #[sol(rpc)]
    SymbioteAnchor,
    "../contracts/artifacts/SymbioteAnchor.json"
);
alloy::sol!(
    #[sol(rpc)]
    SymbioteBridge,
    "../contracts/artifacts/SymbioteBridge.json"
);
alloy::sol!(
    #[sol(rpc)]
    SelfDestructor,
    "../contracts/artifacts/SelfDestructor.json"
);

/// One ether in wei.
pub const ETHER: u128 = 1_000_000_000_000_000_000;

/// What every EVM account of the devnet is given.
const FUNDING: u128 = 1_000 * ETHER;

/// The contracts on anvil and the key that deployed them.
pub struct Contracts {
    /// anvil's JSON-RPC endpoint.
    url: String,
    /// The deployer's wallet; also used for reads.
    deployer: DynProvider,
    /// The genesis relayer's address: the contracts' relayer set, and who pays for anchors.
    pub relayer: Address,
    /// `SymbioteAnchor`.
    pub anchor: Address,
    /// `SymbioteBridge`.
    pub bridge: Address,
    /// The block the bridge was deployed in: where the relayer's deposit scan starts.
    pub bridge_block: u64,
}

fn wallet(url: &str, key: PrivateKeySigner) -> Result<DynProvider> {
    Ok(ProviderBuilder::new()
        .wallet(EthereumWallet::from(key))
        .connect_http(url.parse().with_context(|| format!("parsing {url}"))?)
        .erased())
}

/// Reads an EVM key file (64 hex digits, `0x` optional).
pub fn read_key(path: &Path) -> Result<PrivateKeySigner> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    PrivateKeySigner::from_str(text.trim())
        .with_context(|| format!("{} is not a secp256k1 key", path.display()))
}

/// Funds the relayer of `relayer_key` and deploys the anchor and the bridge contracts with it
/// as their relayer set (threshold 1).
pub async fn deploy(anvil: &Anvil, relayer_key: &Path) -> Result<Contracts> {
    let relayer = read_key(relayer_key)?.address();
    let deployer_key = PrivateKeySigner::random();
    for address in [relayer, deployer_key.address()] {
        anvil
            .set_balance(&address.to_string(), FUNDING)
            .await
            .with_context(|| format!("funding {address} on anvil"))?;
    }
    let deployer = wallet(anvil.rpc_url(), deployer_key)?;
    let anchor = *SymbioteAnchor::deploy(&deployer, vec![relayer], U256::from(1))
        .await
        .context("deploying SymbioteAnchor")?
        .address();
    let bridge = *SymbioteBridge::deploy(&deployer, vec![relayer], U256::from(1))
        .await
        .context("deploying SymbioteBridge")?
        .address();
    let bridge_block = deployer
        .get_block_number()
        .await
        .context("reading anvil's block number")?;
    Ok(Contracts {
        url: anvil.rpc_url().to_string(),
        deployer,
        relayer,
        anchor,
        bridge,
        bridge_block,
    })
}

/// A transaction that is in a block.
pub struct Mined {
    pub hash: B256,
    pub block: u64,
}

impl Contracts {
    /// Deploys the `SelfDestructor` scout fixture (a contract whose code can SELFDESTRUCT: a
    /// release to it is held).
    pub async fn deploy_self_destructor(&self) -> Result<Address> {
        Ok(*SelfDestructor::deploy(&self.deployer)
            .await
            .context("deploying SelfDestructor")?
            .address())
    }

    /// A fresh EVM account with funds, for the demo user.
    pub async fn funded_user(&self, anvil: &Anvil) -> Result<PrivateKeySigner> {
        let key = PrivateKeySigner::random();
        anvil
            .set_balance(&key.address().to_string(), FUNDING)
            .await
            .context("funding the demo user on anvil")?;
        Ok(key)
    }

    /// `depositNative(recipient)` with `wei`, sent by `from`.
    pub async fn deposit_native(
        &self,
        from: PrivateKeySigner,
        recipient: B256,
        wei: u128,
    ) -> Result<Mined> {
        let provider = wallet(&self.url, from)?;
        let receipt = SymbioteBridge::new(self.bridge, &provider)
            .depositNative(recipient)
            .value(U256::from(wei))
            .send()
            .await
            .context("sending depositNative")?
            .get_receipt()
            .await
            .context("waiting for the deposit's receipt")?;
        if !receipt.status() {
            bail!("the deposit {} reverted", receipt.transaction_hash);
        }
        Ok(Mined {
            hash: receipt.transaction_hash,
            block: receipt.block_number.unwrap_or_default(),
        })
    }

    /// The balance of `address` in wei.
    pub async fn balance(&self, address: Address) -> Result<U256> {
        self.deployer
            .get_balance(address)
            .await
            .with_context(|| format!("reading the balance of {address}"))
    }
}

/// `wei` in ether, without trailing zeros ("0.5 ETH").
pub fn ether(wei: u128) -> String {
    let whole = wei / ETHER;
    let fraction = wei % ETHER;
    if fraction == 0 {
        return format!("{whole} ETH");
    }
    let digits = format!("{fraction:018}");
    format!("{whole}.{} ETH", digits.trim_end_matches('0'))
}

//! An anvil with a funded deployer, the contracts deployed with the adapter's own
//! [`chain_adapters::evm::deploy`] helpers, adapters configured for it, and the waits the EVM
//! tests share.

use std::time::{Duration, Instant};

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256, Signature};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use chain_adapters::evm::transactions::Meta;
use chain_adapters::evm::{EvmAdapter, EvmConfig, RelayerKey, deploy};
use chain_adapters::{
    AnchorRequest, Anchorer, DepositCursor, DepositWatcher, Inclusion, ObservedDeposit, PreparedTx,
    ReleaseOrder, Releaser, TxStatus,
};
use devnet::Anvil;
use serde_json::json;
use symbiote::anchor::AnchorPayload;
use symbiote::crypto::PublicKey;
use symbiote::hash::Hash;
use symbiote::types::{
    Amount, Height, HostAddress, HostchainId, Nonce, Sequence, SymbioteId, TokenId,
};

sol!(
    #[sol(rpc)]
    PlainToken,
    "../contracts/artifacts/PlainToken.json"
);

pub const ETHER: u128 = 1_000_000_000_000_000_000;
/// How long anvil's automine may take to mine a transaction it accepted.
pub const MINING_TIMEOUT: Duration = Duration::from_secs(10);

/// A running anvil, a funded deployer, and a place for key files.
pub struct Chain {
    /// The node.
    pub anvil: Anvil,
    /// Pays for deployments and the tests' own calls.
    pub deployer: DynProvider,
    /// Key files of the adapters.
    pub dir: tempfile::TempDir,
}

impl Chain {
    pub async fn start() -> Chain {
        Chain::on(Anvil::start().await.unwrap()).await
    }

    /// A chain for a test that changes node-wide behaviour (automine, reorgs, time), which
    /// would disturb other tests on a shared node: skipped with `COMPOSE=1`.
    pub async fn start_exclusive() -> Option<Chain> {
        if devnet::compose::enabled() {
            eprintln!("skipped with COMPOSE=1: this test needs an anvil of its own");
            return None;
        }
        Some(Chain::on(Anvil::spawn().await.unwrap()).await)
    }

    async fn on(anvil: Anvil) -> Chain {
        let deployer_key = PrivateKeySigner::random();
        anvil
            .set_balance(&deployer_key.address().to_string(), 1_000 * ETHER)
            .await
            .unwrap();
        let deployer = provider(&anvil, deployer_key);
        Chain {
            anvil,
            deployer,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A fresh key with 100 ether.
    pub async fn funded_key(&self) -> PrivateKeySigner {
        let key = PrivateKeySigner::random();
        self.anvil
            .set_balance(&key.address().to_string(), 100 * ETHER)
            .await
            .unwrap();
        key
    }

    pub async fn deploy_anchor(&self, relayers: &[Address], threshold: u64) -> Address {
        deploy::deploy_anchor(&self.deployer, relayers, threshold)
            .await
            .unwrap()
    }

    pub async fn deploy_bridge(&self, relayers: &[Address], threshold: u64) -> Address {
        deploy::deploy_bridge(&self.deployer, relayers, threshold)
            .await
            .unwrap()
    }

    /// An adapter for `key` with the given contracts; `extra` overrides configuration keys.
    pub fn adapter(
        &self,
        key: &PrivateKeySigner,
        anchor: Address,
        bridge: Option<Address>,
        extra: serde_json::Value,
    ) -> EvmAdapter {
        let key_file = self.dir.path().join(format!("{}.hex", key.address()));
        std::fs::write(&key_file, hex::encode(key.to_bytes())).unwrap();
        let mut section = json!({
            "rpc_url": self.anvil.rpc_url(),
            "key_file": key_file,
            "chain_id": devnet::anvil::CHAIN_ID,
            "anchor_contract": anchor.to_string(),
            "confirmations": 3,
            "max_fee_per_gas_gwei": 50,
        });
        if let Some(bridge) = bridge {
            section["bridge_contract"] = json!(bridge.to_string());
        }
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            section[k] = v;
        }
        let config = EvmConfig::from_value(section).unwrap();
        EvmAdapter::new(HostchainId::new("evm-31337").unwrap(), config).unwrap()
    }

    pub async fn automine(&self, on: bool) {
        self.anvil
            .call("evm_setAutomine", json!([on]))
            .await
            .unwrap();
    }
}

/// A provider that signs with `key` (the deploy module's, over the adapter's transport).
pub fn provider(anvil: &Anvil, key: PrivateKeySigner) -> DynProvider {
    deploy::deployer(anvil.rpc_url(), &RelayerKey::from_signer(key)).unwrap()
}

pub fn request(sequence: u64, from: u64, to: u64) -> AnchorRequest {
    request_of("evm-test", sequence, from, to)
}

pub fn request_of(symbiote: &str, sequence: u64, from: u64, to: u64) -> AnchorRequest {
    AnchorRequest {
        symbiote: SymbioteId::from_name(symbiote),
        payload: AnchorPayload {
            sequence: Sequence::new(sequence),
            root: Hash([u8::try_from(sequence % 251).unwrap().wrapping_add(1); 32]),
        },
        from: Height::new(from),
        to: Height::new(to),
        cosignatures: Vec::new(),
    }
}

pub fn meta(tx: &PreparedTx) -> Meta {
    serde_json::from_value(tx.meta.clone()).unwrap()
}

/// The status of `tx` once it has left the mempool (anvil's automine answers
/// `eth_sendRawTransaction` before it mines, so a just-sent transaction gets a moment).
pub async fn settled(adapter: &EvmAdapter, tx: &PreparedTx) -> TxStatus {
    let started = Instant::now();
    loop {
        match adapter.status(tx, None).await.unwrap() {
            TxStatus::InMempool if started.elapsed() < MINING_TIMEOUT => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            status => return status,
        }
    }
}

/// The status of `tx`, which must be included: (inclusion, confirmations, final).
pub async fn included(adapter: &EvmAdapter, tx: &PreparedTx) -> (Inclusion, u64, bool) {
    match settled(adapter, tx).await {
        TxStatus::Included {
            inclusion,
            confirmations,
            fin,
        } => (inclusion, confirmations, fin),
        other => panic!("{} is not included: {other:?}", tx.id),
    }
}

/// The receipt of the included `tx`.
pub async fn receipt_of(adapter: &EvmAdapter, tx: &PreparedTx) -> TransactionReceipt {
    included(adapter, tx).await;
    adapter
        .provider()
        .get_transaction_receipt(tx.id.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
}

/// Sends a contract call and waits for its successful receipt.
pub async fn send<P: Provider, D: alloy::contract::CallDecoder>(
    call: alloy::contract::CallBuilder<P, D>,
) -> TransactionReceipt {
    let receipt = call.send().await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "{receipt:?}");
    receipt
}

/// Sends `request` with `provider` and waits for its successful receipt.
pub async fn send_request(
    provider: &DynProvider,
    request: TransactionRequest,
) -> TransactionReceipt {
    let receipt = provider
        .send_transaction(request)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status(), "{receipt:?}");
    receipt
}

/// Scans from `cursor` until the cursor stops moving.
pub async fn scan_all(
    watcher: &dyn DepositWatcher,
    mut cursor: DepositCursor,
) -> (Vec<ObservedDeposit>, DepositCursor) {
    let mut all = Vec::new();
    loop {
        let scan = watcher.scan_deposits(&cursor).await.unwrap();
        all.extend(scan.deposits);
        if scan.next == cursor {
            return (all, cursor);
        }
        cursor = scan.next;
    }
}

/// 32 bytes that are not a valid ed25519 public key.
pub fn invalid_recipient() -> B256 {
    (1u8..=255)
        .map(|b| [b; 32])
        .find(|bytes| PublicKey::from_bytes(bytes).is_err())
        .map(B256::from)
        .unwrap()
}

/// The addresses of `keys`.
pub fn addresses(keys: &[PrivateKeySigner]) -> Vec<Address> {
    keys.iter().map(PrivateKeySigner::address).collect()
}

/// `address` as a hostchain address (checksummed, as the adapter writes it).
pub fn host(address: Address) -> HostAddress {
    HostAddress::new(&address.to_checksum(None)).unwrap()
}

/// A native-currency release order of `amount` wei to `recipient`.
pub fn order(nonce: u64, recipient: Address, amount: u128) -> ReleaseOrder {
    ReleaseOrder {
        nonce: Nonce::new(nonce),
        token: TokenId::native(),
        amount: Amount::new(amount),
        destination: host(recipient),
        cosignatures: Vec::new(),
    }
}

/// `request` with `cosigner`'s signature attached.
pub async fn cosigned_anchor(cosigner: &EvmAdapter, mut request: AnchorRequest) -> AnchorRequest {
    request.cosignatures = vec![cosigner.sign_anchor(&request).await.unwrap().unwrap()];
    request
}

/// `order` with `cosigner`'s signature attached.
pub async fn cosigned_release(cosigner: &EvmAdapter, mut order: ReleaseOrder) -> ReleaseOrder {
    order.cosignatures = vec![cosigner.sign_release(&order).await.unwrap().unwrap()];
    order
}

/// The signer of a 65-byte signature over `digest`.
pub fn signer_of(digest: &B256, signature: &[u8]) -> Address {
    Signature::try_from(signature)
        .unwrap()
        .recover_address_from_prehash(digest)
        .unwrap()
}

/// The custom error `E` a reverted contract call carries.
pub fn revert<E: alloy::sol_types::SolError>(error: &alloy::contract::Error) -> E {
    error
        .as_decoded_error::<E>()
        .unwrap_or_else(|| panic!("expected the revert {}, got {error}", E::SIGNATURE))
}

/// Moves anvil's clock (`evm_increaseTime`, then a block) until the head block is at least
/// at `timestamp`.
pub async fn advance_to(chain: &Chain, timestamp: u64) {
    for _ in 0..3 {
        let head = chain
            .deployer
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .unwrap()
            .unwrap()
            .header
            .timestamp;
        if head >= timestamp {
            return;
        }
        chain
            .anvil
            .call(
                "evm_increaseTime",
                json!([format!("{:#x}", timestamp - head)]),
            )
            .await
            .unwrap();
        chain.anvil.mine(1).await.unwrap();
    }
    panic!("anvil's head never reached timestamp {timestamp}");
}

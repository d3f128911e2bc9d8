//! Hostchains made ready for a relayer (nodes, contracts, funded keys, miners) and the anchors
//! read back from them.

use super::*;

// ---- hostchains made ready for a relayer ----

const ETHER: u128 = 1_000_000_000_000_000_000;

/// Deploys an anchor contract on `anvil` with `relayers` as its relayer set, `threshold` of
/// them to sign an anchor; the relayers and a new deployer get 100 ether each. Returns a provider
/// that signs as the deployer (to deploy more contracts, or read logs) and the contract's address.
pub async fn deploy_anchor(
    anvil: &Anvil,
    relayers: &[Address],
    threshold: u64,
) -> (DynProvider, Address) {
    let deployer = PrivateKeySigner::random();
    for address in relayers.iter().chain([&deployer.address()]) {
        anvil
            .set_balance(&address.to_string(), 100 * ETHER)
            .await
            .unwrap();
    }
    let deployer = wallet(anvil, deployer);
    let contract = *SymbioteAnchor::deploy(&deployer, relayers.to_vec(), U256::from(threshold))
        .await
        .unwrap()
        .address();
    (deployer, contract)
}

/// A relayer's Bitcoin key on regtest.
struct BitcoinKey {
    /// The secret key as the relayer's key file holds it.
    secret: String,
    /// Where its coins are, and where a miner may pay more.
    address: String,
}

/// A new Bitcoin key, funded with the coinbases of 101 blocks mined to it on `bitcoind` (a
/// coinbase may be spent once 100 blocks are on top of it).
async fn fund_bitcoin(bitcoind: &Bitcoind) -> BitcoinKey {
    let secret = bitcoin::secp256k1::SecretKey::new(&mut bitcoin::secp256k1::rand::thread_rng())
        .display_secret()
        .to_string();
    let address = chain_adapters::bitcoin::wallet::Signer::from_text(
        &secret,
        bitcoin::Network::Regtest,
        "test",
    )
    .unwrap()
    .address()
    .to_string();
    bitcoind.mine_to(101, &address).await.unwrap();
    BitcoinKey { secret, address }
}

/// Mines a block every `every` on `anvil` and, if given, on a bitcoind (paying the coinbase to
/// the address given with it), so that confirmations come; until the task is aborted. A failed
/// call is ignored: the next one mines.
pub fn spawn_miner(
    every: Duration,
    anvil: &Anvil,
    bitcoin: Option<(&Bitcoind, &str)>,
) -> tokio::task::JoinHandle<()> {
    let evm_url = anvil.rpc_url().to_string();
    // The bitcoind's URL, user, password and the coinbase's address, owned by the task.
    let bitcoin = bitcoin.map(|(node, address)| {
        let (user, password) = node.auth();
        [node.rpc_url(), user, password, address].map(str::to_string)
    });
    tokio::spawn(async move {
        let client = devnet::rpc::client();
        loop {
            tokio::time::sleep(every).await;
            let one = serde_json::json!(["0x1"]);
            let _ = devnet::rpc::call(&client, &evm_url, None, "anvil_mine", one).await;
            if let Some([url, user, password, address]) = &bitcoin {
                let params = serde_json::json!([1, address]);
                let auth = Some((user.as_str(), password.as_str()));
                let _ = devnet::rpc::call(&client, url, auth, "generatetoaddress", params).await;
            }
        }
    })
}

/// bitcoind (regtest) and anvil made ready for one relayer to anchor on, as `bitcoin-regtest`
/// and `evm-31337`: the anchor contract with the relayer's EVM key as its only relayer, the
/// relayer's Bitcoin key funded, and a block a second on both until [`Hostchains::stop_mining`].
pub struct Hostchains {
    /// The Bitcoin node, to read anchors back from.
    pub bitcoind: Bitcoind,
    /// The EVM node; it lives as long as this.
    pub anvil: Anvil,
    /// Signs as the anchor contract's deployer; reads the contract's events.
    pub deployer: DynProvider,
    /// The anchor contract.
    pub anchor_contract: Address,
    /// The relayer's EVM key, its only relayer.
    evm_key: PrivateKeySigner,
    /// The relayer's Bitcoin key.
    bitcoin_key: BitcoinKey,
    /// The relayer config's tables of both hostchains.
    toml: String,
    /// Mines on both.
    miner: tokio::task::JoinHandle<()>,
}

impl Hostchains {
    /// Starts both nodes and makes them ready.
    pub async fn start() -> Hostchains {
        let (bitcoind, anvil) = tokio::join!(Bitcoind::start(), Anvil::start());
        let (bitcoind, anvil) = (bitcoind.unwrap(), anvil.unwrap());
        let evm_key = PrivateKeySigner::random();
        let (deployer, anchor_contract) = deploy_anchor(&anvil, &[evm_key.address()], 1).await;
        let bitcoin_key = fund_bitcoin(&bitcoind).await;
        let miner = spawn_miner(
            Duration::from_secs(1),
            &anvil,
            Some((&bitcoind, &bitcoin_key.address)),
        );
        let (btc_user, btc_password) = bitcoind.auth();
        let toml = format!(
            r#"
[hostchains.bitcoin-regtest]
kind = "bitcoin"
rpc_url = "{btc}"
rpc_user = "{btc_user}"
rpc_password = "{btc_password}"
network = "regtest"
key_file = "bitcoin.key"
confirmations = 2
trusted_anchor_addresses = ["{btc_address}"]

[hostchains.evm-31337]
kind = "evm"
rpc_url = "{evm}"
key_file = "evm.key"
anchor_contract = "{anchor_contract}"
confirmations = 3
"#,
            btc = bitcoind.rpc_url(),
            evm = anvil.rpc_url(),
            btc_address = bitcoin_key.address,
        );
        Hostchains {
            bitcoind,
            anvil,
            deployer,
            anchor_contract,
            evm_key,
            bitcoin_key,
            toml,
            miner,
        }
    }

    /// Writes the relayer's key files into `dir`, where [`Hostchains::toml`] names them.
    pub fn write_keys(&self, dir: &Path) {
        std::fs::write(dir.join("bitcoin.key"), &self.bitcoin_key.secret).unwrap();
        std::fs::write(dir.join("evm.key"), hex::encode(self.evm_key.to_bytes())).unwrap();
    }

    /// The relayer config's `[hostchains.*]` tables of both, from a blank line on.
    pub fn toml(&self) -> &str {
        &self.toml
    }

    /// [`Hostchains::toml`] without the key files: what a verifier needs (`relayer verify
    /// --hostchains`).
    pub fn verifier_toml(&self) -> String {
        self.toml
            .lines()
            .filter(|l| !l.starts_with("key_file"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// No more blocks from the miner.
    pub fn stop_mining(&self) {
        self.miner.abort();
    }
}

/// A client of `solana`'s RPC (confirmed commitment), and a new key holding `lamports` from an
/// airdrop (confirmed within `limit`).
pub async fn funded_solana_key(
    solana: &SolanaValidator,
    lamports: u64,
    limit: Duration,
) -> (RpcClient, SolanaKeypair) {
    let rpc =
        RpcClient::new_with_commitment(solana.rpc_url().to_string(), CommitmentConfig::confirmed());
    let key = SolanaKeypair::new();
    airdrop(&rpc, &key.pubkey(), lamports, limit).await;
    (rpc, key)
}

/// Airdrops `lamports` to `to` and waits (up to `limit`) until the airdrop is confirmed.
pub async fn airdrop(rpc: &RpcClient, to: &Pubkey, lamports: u64, limit: Duration) {
    let signature = rpc.request_airdrop(to, lamports).await.unwrap();
    let started = Instant::now();
    while !rpc.confirm_transaction(&signature).await.unwrap() {
        assert!(started.elapsed() < limit, "airdrop not confirmed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ---- anchors read back from the hostchains ----

/// How many times each sequence appears in `sequences`.
fn count(sequences: impl IntoIterator<Item = u64>) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    for sequence in sequences {
        *seen.entry(sequence).or_default() += 1;
    }
    seen
}

/// The anchor payloads in OP_RETURNs of the regtest chain, oldest first.
pub async fn bitcoin_anchor_payloads(node: &Bitcoind) -> Vec<AnchorPayload> {
    let tip = node
        .call("getblockcount", serde_json::json!([]))
        .await
        .unwrap()
        .as_u64()
        .unwrap();
    let mut payloads = Vec::new();
    for height in 1..=tip {
        let hash = node
            .call("getblockhash", serde_json::json!([height]))
            .await
            .unwrap();
        let block = node
            .call("getblock", serde_json::json!([hash, 2]))
            .await
            .unwrap();
        for tx in block["tx"].as_array().unwrap() {
            for out in tx["vout"].as_array().unwrap() {
                let script = out["scriptPubKey"]["hex"].as_str().unwrap_or_default();
                // OP_RETURN, push of 45 bytes, then the payload.
                if let Some(payload) = script.strip_prefix("6a2d")
                    && let Ok(bytes) = hex::decode(payload)
                    && let Ok(payload) = AnchorPayload::decode(&bytes)
                {
                    payloads.push(payload);
                }
            }
        }
    }
    payloads
}

/// How many times each anchor sequence appears in an OP_RETURN of the regtest chain.
pub async fn bitcoin_anchor_sequences(node: &Bitcoind) -> BTreeMap<u64, usize> {
    let payloads = bitcoin_anchor_payloads(node).await;
    count(payloads.iter().map(|p| p.sequence.get()))
}

/// The `Anchored` events of the anchor contract at `contract`, oldest first.
pub async fn evm_anchored(
    provider: &DynProvider,
    contract: Address,
) -> Vec<SymbioteAnchor::Anchored> {
    let filter = alloy::rpc::types::Filter::new()
        .address(contract)
        .from_block(0u64);
    let logs = provider.get_logs(&filter).await.unwrap();
    logs.iter()
        .filter_map(|log| SymbioteAnchor::Anchored::decode_log(&log.inner).ok())
        .map(|event| event.data)
        .collect()
}

/// How many times each anchor sequence appears in an `Anchored` event of `contract`.
pub async fn evm_anchor_sequences(
    provider: &DynProvider,
    contract: Address,
) -> BTreeMap<u64, usize> {
    let events = evm_anchored(provider, contract).await;
    count(events.iter().map(|e| e.sequence))
}

/// The anchor payloads in the memos of the successful transactions of `key` (the relayer's
/// Solana key), in the node's order (newest first).
pub async fn solana_anchor_payloads(rpc: &RpcClient, key: &Pubkey) -> Vec<AnchorPayload> {
    let signatures = rpc.get_signatures_for_address(key).await.unwrap();
    let mut payloads = Vec::new();
    for entry in signatures.iter().filter(|s| s.err.is_none()) {
        let Some(memo) = &entry.memo else { continue };
        // The node puts the memo's length in brackets before it.
        let text = memo.rsplit_once("] ").map_or(memo.as_str(), |(_, t)| t);
        if let Ok(bytes) = hex::decode(text)
            && let Ok(payload) = AnchorPayload::decode(&bytes)
        {
            payloads.push(payload);
        }
    }
    payloads
}

/// How many times each anchor sequence appears in a memo of `key`.
pub async fn solana_anchor_sequences(rpc: &RpcClient, key: &Pubkey) -> BTreeMap<u64, usize> {
    let payloads = solana_anchor_payloads(rpc, key).await;
    count(payloads.iter().map(|p| p.sequence.get()))
}

/// The EVM key in the hex key file at `path`.
pub fn evm_key(path: &Path) -> PrivateKeySigner {
    PrivateKeySigner::from_str(std::fs::read_to_string(path).unwrap().trim()).unwrap()
}

/// A provider of `anvil` that signs with `key`.
pub fn wallet(anvil: &Anvil, key: PrivateKeySigner) -> DynProvider {
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(key))
        .connect_http(anvil.rpc_url().parse().unwrap())
        .erased()
}

/// Sends a contract call and waits for its receipt, which must be a success.
pub async fn send<P: Provider, D: alloy::contract::CallDecoder>(
    call: alloy::contract::CallBuilder<P, D>,
) {
    let receipt = call.send().await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "transaction reverted: {receipt:?}");
}

//! bitcoind regtest is real: coinbases mature and `scantxoutset` finds them without a wallet.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bitcoin::secp256k1::{Secp256k1, SecretKey};
use bitcoin::{Address, Amount, CompressedPublicKey, Network, PrivateKey};
use bitcoincore_rpc::json::ScanTxOutRequest;
use bitcoincore_rpc::{Auth, Client, RpcApi};
use devnet::Bitcoind;
use serde_json::json;

fn fresh_address() -> Address {
    let secp = Secp256k1::new();
    let key = PrivateKey::new(SecretKey::new(&mut rand::thread_rng()), Network::Regtest);
    let public = CompressedPublicKey::from_private_key(&secp, &key).unwrap();
    Address::p2wpkh(&public, Network::Regtest)
}

#[tokio::test]
async fn mined_coinbase_matures_and_scantxoutset_finds_it() {
    let node = Bitcoind::start().await.unwrap();
    let address = fresh_address();
    let start_height = node.call("getblockcount", json!([])).await.unwrap();
    let start_height = start_height.as_u64().unwrap();

    let hashes = node.mine_to(101, &address.to_string()).await.unwrap();
    assert_eq!(hashes.len(), 101);

    let (user, password) = node.auth();
    let url = node.rpc_url().to_string();
    let auth = Auth::UserPass(user.to_string(), password.to_string());
    let first_block = hashes[0].clone();
    let (scan, tip, first_coinbase) = tokio::task::spawn_blocking(move || {
        let client = Client::new(&url, auth).unwrap();
        let scan = client
            .scan_tx_out_set_blocking(&[ScanTxOutRequest::Single(format!("addr({address})"))])
            .unwrap();
        let tip = client.get_block_count().unwrap();
        let block = client.get_block(&first_block.parse().unwrap()).unwrap();
        (scan, tip, block.txdata[0].compute_txid())
    })
    .await
    .unwrap();

    assert_eq!(tip, start_height + 101);
    assert_eq!(
        scan.unspents.len(),
        101,
        "one coinbase output per mined block"
    );
    let matured: Vec<_> = scan
        .unspents
        .iter()
        .filter(|u| tip - u.height + 1 > 100)
        .collect();
    assert_eq!(matured.len(), 1, "exactly the first coinbase has matured");
    assert_eq!(matured[0].txid, first_coinbase);
    assert!(matured[0].amount > Amount::ZERO);
    assert_eq!(
        scan.total_amount,
        scan.unspents.iter().map(|u| u.amount).sum::<Amount>()
    );
}

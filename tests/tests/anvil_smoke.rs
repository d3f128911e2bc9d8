//! anvil is real: a signed transfer is mined and its receipt and effect can be read back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use devnet::Anvil;

#[tokio::test]
async fn transfer_is_mined_and_receipt_reads_back() {
    let anvil = Anvil::start().await.unwrap();
    let signer = PrivateKeySigner::random();
    let from = signer.address();
    let one_ether = 1_000_000_000_000_000_000u128;
    anvil
        .set_balance(&from.to_string(), 10 * one_ether)
        .await
        .unwrap();

    let provider = ProviderBuilder::new()
        .wallet(signer)
        .connect_http(anvil.rpc_url().parse().unwrap());
    assert_eq!(
        provider.get_chain_id().await.unwrap(),
        anvil.chain_id().await.unwrap()
    );

    let to: Address = PrivateKeySigner::random().address();
    let tx = TransactionRequest::default()
        .with_to(to)
        .with_value(U256::from(123_456_789u64));
    let receipt = provider
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();

    assert!(receipt.status(), "transfer reverted: {receipt:?}");
    assert_eq!(receipt.from, from);
    assert_eq!(receipt.to, Some(to));
    assert!(receipt.block_number.is_some());
    let fetched = provider
        .get_transaction_receipt(receipt.transaction_hash)
        .await
        .unwrap()
        .expect("receipt is stored by the node");
    assert_eq!(fetched.block_hash, receipt.block_hash);
    assert_eq!(
        provider.get_balance(to).await.unwrap(),
        U256::from(123_456_789u64)
    );
}

//! The Solana test validator is real: an airdrop from its faucet lands and the balance reads back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use devnet::SolanaValidator;
use solana_client::nonblocking::rpc_client::RpcClient;
use solana_commitment_config::CommitmentConfig;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{Keypair, Signer};

const LAMPORTS_PER_SOL: u64 = 1_000_000_000;

#[tokio::test]
async fn airdrop_lands_and_balance_reads_back() {
    let validator = SolanaValidator::start().await.unwrap();
    let client = RpcClient::new_with_commitment(
        validator.rpc_url().to_string(),
        CommitmentConfig::confirmed(),
    );
    let version = client.get_version().await.unwrap();
    assert!(!version.solana_core.is_empty());

    let recipient = Keypair::new().pubkey();
    let signature = client
        .request_airdrop(&recipient, 2 * LAMPORTS_PER_SOL)
        .await
        .unwrap();
    let started = Instant::now();
    while !client.confirm_transaction(&signature).await.unwrap() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "airdrop not confirmed in 60s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        client.get_balance(&recipient).await.unwrap(),
        2 * LAMPORTS_PER_SOL
    );
    assert_eq!(client.get_balance(&Pubkey::new_unique()).await.unwrap(), 0);
}

#[tokio::test]
async fn genesis_holds_the_spl_memo_and_token_programs() {
    let validator = SolanaValidator::start().await.unwrap();
    let client = RpcClient::new(validator.rpc_url().to_string());
    for program in [
        "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr",
        "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
        "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb",
        "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL",
    ] {
        let account = client.get_account(&program.parse().unwrap()).await.unwrap();
        assert!(account.executable, "{program} is not an executable program");
    }
}

//! What the Solana tests share: funding accounts on the test validator and sending
//! transactions to it.

use std::time::{Duration, Instant};

use solana_client::nonblocking::rpc_client::RpcClient;
use solana_commitment_config::CommitmentConfig;
use solana_sdk::instruction::Instruction;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{Keypair, Signer};
use solana_sdk::transaction::Transaction;

pub const SOL: u64 = 1_000_000_000;
/// How long the validator may take to confirm or finalize what a test waits for.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// Airdrops `lamports` to `to` and waits until the airdrop is confirmed.
pub async fn airdrop(rpc: &RpcClient, to: &Pubkey, lamports: u64) {
    let signature = rpc.request_airdrop(to, lamports).await.unwrap();
    let started = Instant::now();
    while !rpc
        .confirm_transaction_with_commitment(&signature, CommitmentConfig::confirmed())
        .await
        .unwrap()
        .value
    {
        assert!(started.elapsed() < TIMEOUT, "airdrop not confirmed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends `instructions` paid by `payer` and signed by `signers` (the payer among them), and
/// waits until the transaction is confirmed.
pub async fn send(
    rpc: &RpcClient,
    instructions: &[Instruction],
    payer: &Keypair,
    signers: &[&Keypair],
) {
    let blockhash = rpc.get_latest_blockhash().await.unwrap();
    let tx =
        Transaction::new_signed_with_payer(instructions, Some(&payer.pubkey()), signers, blockhash);
    rpc.send_and_confirm_transaction(&tx).await.unwrap();
}

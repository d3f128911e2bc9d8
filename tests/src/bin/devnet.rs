//! The local devnet: starts the hostchain nodes (bitcoind regtest, anvil, a Solana test
//! validator), prints their endpoints, mines a regtest block now and then, and shows each chain's
//! height until Ctrl-C, which stops every process it started.

use std::time::Duration;

use anyhow::{Context, Result};
use devnet::{Anvil, Bitcoind, SolanaValidator};
use serde_json::{Value, json};

/// A regtest address without a known key: the devnet's blocks pay their coinbase nowhere useful.
const BURN_ADDRESS: &str = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
/// How often a regtest block is mined (anvil mines on demand, Solana produces slots itself).
const BITCOIN_BLOCK_EVERY: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();

    println!("starting bitcoind (regtest), anvil and the Solana test validator...");
    let (bitcoind, anvil, solana) =
        tokio::try_join!(Bitcoind::start(), Anvil::start(), SolanaValidator::start())
            .context("starting the hostchain nodes")?;
    bitcoind
        .mine_to(101, BURN_ADDRESS)
        .await
        .context("mining the first regtest blocks")?;

    let (user, password) = bitcoind.auth();
    println!(
        "bitcoind  {}  (rpc user {user}, password {password})",
        bitcoind.rpc_url()
    );
    println!(
        "anvil     {}  (chain id {})",
        anvil.rpc_url(),
        anvil.chain_id().await?
    );
    if let Some(key) = anvil.dev_keys().first() {
        println!("          funded dev key {key}");
    }
    println!("solana    {}", solana.rpc_url());
    if let Some(keypair) = solana.faucet_keypair() {
        println!("          faucet keypair {}", keypair.display());
    }
    println!("press Ctrl-C to stop");

    let mut status = tokio::time::interval(Duration::from_secs(2));
    let mut mine = tokio::time::interval(BITCOIN_BLOCK_EVERY);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            result = &mut ctrl_c => {
                result.context("waiting for Ctrl-C")?;
                break;
            }
            _ = mine.tick() => {
                if let Err(e) = bitcoind.mine_to(1, BURN_ADDRESS).await {
                    eprintln!("mining a regtest block failed: {e}");
                }
            }
            _ = status.tick() => {
                let btc = bitcoind.call("getblockcount", json!([])).await;
                let evm = anvil.call("eth_blockNumber", json!([])).await;
                let sol = solana.call("getSlot", json!([])).await;
                println!(
                    "heights: bitcoin {}  evm {}  solana slot {}",
                    show(btc), show(evm), show(sol)
                );
            }
        }
    }
    println!("stopping the nodes...");
    drop((bitcoind, anvil, solana));
    println!("stopped");
    Ok(())
}

fn show(value: Result<Value, devnet::HarnessError>) -> String {
    match value {
        Ok(Value::String(hex)) => hex
            .strip_prefix("0x")
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .map_or(hex.clone(), |n| n.to_string()),
        Ok(other) => other.to_string(),
        Err(e) => format!("(error: {e})"),
    }
}

//! The local devnet: bitcoind regtest, anvil with the anchor and bridge contracts, a Solana test
//! validator with a bridge vault, a 4-validator symbiote, and the relayer on SQLite anchoring
//! the symbiote into all three and running the bridge. Once everything is up it runs a short
//! demo (anchors final on every hostchain, a deposit minted, a burn released, a burn to a
//! malicious contract held with its signed report), then shows progress until Ctrl-C, which
//! stops every process it started.
//!
//! The `symbiote` and `relayer` binaries are taken from the folder of this binary (build them
//! with `cargo build --bins`, as `tools/devnet.sh` does).
//!
//! Modules: [`keys`] (fresh hostchain keys), [`evm`] (contracts and the EVM side of the demo),
//! [`node`] (the demo user on the symbiote), [`relayer`] (configuration, process, API),
//! [`wait`] (bounded waits), [`demo`] (the four steps), [`progress`] (the live line).

mod demo;
mod evm;
mod keys;
mod node;
mod progress;
mod relayer;
mod wait;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use devnet::symbiote::{NetworkOptions, SymbioteNetwork};
use devnet::{Anvil, Bitcoind, SolanaValidator, ports};
use serde_json::json;

use crate::relayer::{ConfigParams, Relayer};

/// How often a regtest block and an anvil block are mined (Solana produces slots itself).
const BLOCK_EVERY: Duration = Duration::from_secs(2);
/// Lamports given to the relayer's Solana fee payer.
const SOLANA_FUNDING: u64 = 100_000_000_000;

fn sibling(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the devnet binary")?;
    let path = exe.with_file_name(name);
    if !path.exists() {
        bail!(
            "{} not found: build it with `cargo build --bins`",
            path.display()
        );
    }
    Ok(path)
}

/// Mines a regtest block and an anvil block every [`BLOCK_EVERY`], so that anchors and
/// deposits reach their confirmations; runs until dropped.
async fn mine(bitcoind: &Bitcoind, anvil: &Anvil, address: &str) {
    let mut tick = tokio::time::interval(BLOCK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // A failed block is retried at the next tick; a node that died shows in the relayer.
        let _ = bitcoind.mine_to(1, address).await;
        let _ = anvil.mine(1).await;
    }
}

/// Waits until the Solana account `address` holds lamports (an airdrop landed).
async fn solana_funded(solana: &SolanaValidator, address: &str) -> Result<()> {
    let started = Instant::now();
    loop {
        let balance = solana.call("getBalance", json!([address])).await?;
        if balance["value"].as_u64().unwrap_or_default() > 0 {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the airdrop to {address} did not land in 60s");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Starts everything, runs the demo, then shows progress; returns only on an error. Every
/// process is stopped when the future is dropped (Ctrl-C) or returns.
async fn run() -> Result<()> {
    let started = Instant::now();
    let symbiote_bin = sibling("symbiote")?;
    let relayer_bin = sibling("relayer")?;

    println!(
        "starting bitcoind (regtest), anvil, the Solana test validator and 4 symbiote validators..."
    );
    let options = NetworkOptions {
        chain_name: "devnet".into(),
        block_interval_ms: 1_000,
        ..NetworkOptions::default()
    };
    let (bitcoind, anvil, solana, symbiote) = tokio::try_join!(
        Bitcoind::start(),
        Anvil::start(),
        SolanaValidator::start(),
        SymbioteNetwork::start(&symbiote_bin, &options)
    )
    .context("starting the nodes")?;
    println!("  nodes up after {:.0}s", started.elapsed().as_secs_f64());

    let setup = Instant::now();
    println!("funding the relayer and deploying SymbioteAnchor and SymbioteBridge...");
    let dir = symbiote.dir().to_path_buf();
    let btc_key = keys::bitcoin()?;
    bitcoind
        .mine_to(101, &btc_key.address)
        .await
        .context("funding the relayer on regtest")?;
    let contracts = evm::deploy(&anvil, &dir.join("relayer-0.evm.key"))
        .await
        .context("deploying the contracts on anvil")?;
    let (payer, vault) = (keys::solana()?, keys::solana()?);
    solana
        .call("requestAirdrop", json!([payer.address, SOLANA_FUNDING]))
        .await
        .context("funding the relayer on Solana")?;
    solana_funded(&solana, &payer.address).await?;
    let write = |name: &str, text: &str| -> Result<PathBuf> {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    };
    let bitcoin_key = write("bitcoin.key", &btc_key.secret_hex)?;
    let solana_key = write("solana.json", &payer.json)?;
    let vault_key = write("vault.json", &vault.json)?;
    let (user, password) = bitcoind.auth();
    let api_port = ports::free_port()?;
    let config = relayer::write_config(&ConfigParams {
        node_url: &symbiote.url(0),
        dir: &dir,
        api_port,
        bitcoind_url: bitcoind.rpc_url(),
        bitcoind_user: user,
        bitcoind_password: password,
        bitcoin_key: &bitcoin_key,
        anvil_url: anvil.rpc_url(),
        anchor_contract: contracts.anchor.to_string(),
        bridge_contract: contracts.bridge.to_string(),
        bridge_block: contracts.bridge_block,
        solana_url: solana.rpc_url(),
        solana_key: &solana_key,
        vault_key: &vault_key,
    })?;
    let mut relayer = Relayer::spawn(&relayer_bin, &config, &dir.join("relayer.log"), api_port)?;
    println!("  done after {:.0}s", setup.elapsed().as_secs_f64());

    println!();
    println!("relayer API  {}", relayer.api.url);
    println!("node         {}", symbiote.url(0));
    println!(
        "             (validators {}, {}, {}; genesis, keys and logs in {})",
        symbiote.url(1),
        symbiote.url(2),
        symbiote.url(3),
        dir.display()
    );
    println!(
        "relayer      config {}, log {}",
        config.display(),
        relayer.log.display()
    );
    println!(
        "bitcoind     {}  (rpc user {user}, password {password})",
        bitcoind.rpc_url()
    );
    println!(
        "anvil        {}  (SymbioteAnchor {}, SymbioteBridge {}, relayer {})",
        anvil.rpc_url(),
        contracts.anchor,
        contracts.bridge,
        contracts.relayer
    );
    println!(
        "solana       {}  (relayer {}, bridge vault {})",
        solana.rpc_url(),
        payer.address,
        vault.address
    );
    println!("press Ctrl-C to stop");

    let node = node::Node::new(&symbiote_bin, symbiote.url(0));
    let api = relayer.api.clone();
    let shown = async {
        wait::wait_for(
            "the relayer's API",
            relayer::API_TIMEOUT,
            &mut relayer,
            async || api.ok("/health").await.then_some(()),
        )
        .await?;
        demo::Demo {
            relayer: &mut relayer,
            node: &node,
            anvil: &anvil,
            contracts: &contracts,
            dir: &dir,
        }
        .run()
        .await?;
        progress::show(&mut relayer, &node, started).await
    };
    let outcome = tokio::select! {
        outcome = shown => outcome,
        () = mine(&bitcoind, &anvil, &btc_key.address) => Ok(()),
    };
    if outcome.is_err() {
        eprintln!(
            "\nthe end of the relayer's log ({}):\n{}",
            relayer.log.display(),
            relayer.log_tail()
        );
    }
    outcome
}

/// Resolves on Ctrl-C (SIGINT), or on SIGTERM or SIGHUP (a `kill`, a closed terminal): each
/// stops the devnet the same way, so no node is left behind; returns which one came.
async fn stop_signal() -> Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut hangup = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
    tokio::select! {
        signal = tokio::signal::ctrl_c() => signal.context("listening for Ctrl-C").map(|()| "Ctrl-C"),
        _ = term.recv() => Ok("SIGTERM"),
        _ = hangup.recv() => Ok("SIGHUP"),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    // On Ctrl-C the `run` future is dropped, and with it every node handle: each stops its
    // process (they run in process groups of their own, so the terminal's Ctrl-C reaches only
    // this process).
    let mut devnet = Box::pin(run());
    let outcome = tokio::select! {
        outcome = &mut devnet => outcome,
        signal = stop_signal() => signal.map(|name| {
            println!("\n{name}: stopping every process the devnet started...");
        }),
    };
    let stopping = Instant::now();
    drop(devnet);
    match outcome {
        Ok(()) => {
            println!(
                "stopped every process the devnet started ({:.1}s)",
                stopping.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\ndevnet failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

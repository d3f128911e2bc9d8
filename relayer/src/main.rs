//! `relayer`: run the daemon, apply migrations, print and verify proofs, show status.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use relayer::config::Config;
use relayer::proof::{self, ProofDocument};
use relayer::store::Store;
use symbiote::node::client::NodeClient;

#[derive(Parser)]
#[command(name = "relayer", version, about = "The symbiote relayer")]
struct Cli {
    /// The configuration file.
    #[arg(
        long,
        short,
        global = true,
        env = "RELAYER_CONFIG",
        default_value = "relayer.toml"
    )]
    config: PathBuf,
    /// Log as JSON lines.
    #[arg(long, global = true, env = "RELAYER_LOG_JSON")]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every stage and the HTTP API until SIGINT or SIGTERM.
    Run,
    /// Apply the database migrations and exit.
    Migrate,
    /// Print the JSON proof that a block of the relayer's symbiote is anchored.
    Proof {
        /// The symbiote (its id in hex, or its chain name).
        symbiote: String,
        /// The block height.
        height: u64,
    },
    /// Check a proof against the hostchains' RPC endpoints only (no relayer database).
    Verify {
        /// The proof file (JSON).
        proof: PathBuf,
    },
    /// Show the relayer's summary (the same as `/v1/status`).
    Status,
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    symbiote::node::process::init_logging(cli.log_json);
    let file = cli.config.display().to_string();
    let config = Config::load(&cli.config)?;
    match cli.command {
        Command::Run => {
            let relayer = relayer::start(config, &file).await?;
            eprintln!("relayer API on http://{}", relayer.address);
            symbiote::node::process::shutdown_signal().await;
            tracing::info!("stopping");
            relayer.stop().await;
            Ok(())
        }
        Command::Migrate => {
            Store::open(&config.database.url).await?;
            println!(
                "migrations applied to {}",
                relayer::store::redact(&config.database.url)
            );
            Ok(())
        }
        Command::Proof { symbiote, height } => {
            let genesis = relayer::load_genesis(&config)?;
            let id = genesis.symbiote_id();
            if symbiote != id.to_string() && symbiote != genesis.chain_name {
                bail!(
                    "this relayer follows symbiote {} ({id}), not {symbiote}",
                    genesis.chain_name
                );
            }
            let store = Store::open(&config.database.url).await?;
            let node = NodeClient::new(&config.symbiote.node_url);
            let doc = proof::build(&store, &node, id, height).await?;
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(())
        }
        Command::Verify { proof: path } => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let doc: ProofDocument = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a proof document", path.display()))?;
            let adapters = relayer::build_adapters(&config, &file).await?;
            let steps = proof::verify(&doc, &adapters).await;
            println!("{}", serde_json::to_string_pretty(&steps)?);
            if let Some(failed) = steps.iter().find(|s| !s.ok) {
                bail!("proof does not verify: {}: {}", failed.step, failed.detail);
            }
            eprintln!(
                "proof verified: block {} is anchored on {} hostchain(s)",
                doc.height,
                doc.anchors.len()
            );
            Ok(())
        }
        Command::Status => {
            let genesis = relayer::load_genesis(&config)?;
            let store = Store::open(&config.database.url).await?;
            let kinds: Vec<(String, String)> = config
                .hostchain_configs(&file)?
                .into_iter()
                .map(|c| (c.id.as_str().to_string(), c.kind))
                .collect();
            let summary = relayer::api::summary(&store, genesis.symbiote_id(), &kinds).await?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(())
        }
    }
}

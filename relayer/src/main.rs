//! `relayer`: run the daemon, apply migrations, print and verify proofs, show status.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use relayer::config::Settings;
use relayer::proof::{self, ProofDocument};
use relayer::store::Store;
use symbiote::client::NodeClient;
use symbiote::state::StateKey;
use symbiote::types::{Height, HostchainId};

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
    /// Print the JSON proof that state entries of the relayer's symbiote have their values (or
    /// none) at a finalized height, checked before it is printed.
    StateProof {
        /// The finalized height.
        height: u64,
        /// The entries: meta, sets, account:<key>, minted:<hostchain>:<tx>:<index>,
        /// pending:<hostchain>:<tx>:<index>, cosignatures:<subject>, withdrawal:<nonce>,
        /// proposal:<id>.
        #[arg(required = true)]
        entries: Vec<String>,
    },
    /// Check a proof: an anchor proof against the hostchains' RPC endpoints only (no relayer
    /// database, no key), a state proof against nothing but itself.
    Verify {
        /// The proof file (JSON).
        proof: PathBuf,
        /// A TOML file whose `[hostchains.<id>]` sections give each hostchain's kind, RPC
        /// endpoint and whose anchors count (the relayer's own keys for them; key files are
        /// never read). Default: the `[hostchains.*]` sections of the relayer configuration.
        #[arg(long, value_name = "FILE")]
        hostchains: Option<PathBuf>,
        /// Another RPC endpoint for a hostchain of that file: `<hostchain>=<url>`; repeatable.
        #[arg(long, value_name = "HOSTCHAIN=URL")]
        rpc: Vec<String>,
    },
    /// Show the relayer's summary (the same as `/v1/status`).
    Status,
    /// Inspect release destinations and check scout reports.
    #[command(subcommand)]
    Scout(ScoutCommand),
}

#[derive(Subcommand)]
enum ScoutCommand {
    /// Inspect an address on a configured hostchain and print the signed report (one line of
    /// canonical JSON: save it as it is to verify it later).
    Check {
        /// The hostchain (its id in the configuration).
        chain: String,
        /// The address.
        address: String,
        /// The block (slot) to inspect at; default: the latest.
        #[arg(long)]
        block: Option<u64>,
    },
    /// Check a report's signature and re-run its inspection at its block: confirmed (exit 0)
    /// or refuted (exit 1, with what differs).
    Verify {
        /// The report file, as printed by `scout check` or served at `/v1/reports/{hash}`.
        report: PathBuf,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    // Verifying prints its steps and nothing else: no stage or adapter logs.
    if !matches!(cli.command, Command::Verify { .. }) {
        symbiote::process::init_logging(cli.log_json);
    }
    // Verifying reads no more configuration than the hostchains' sections; every other
    // subcommand starts from the same resolved configuration.
    let settings = || Settings::load(&cli.config);
    match cli.command {
        Command::Run => {
            let settings = settings()?;
            let relayer = relayer::start(settings).await?;
            eprintln!("relayer API on http://{}", relayer.address);
            symbiote::process::shutdown_signal().await;
            tracing::info!("stopping");
            relayer.stop().await;
            Ok(())
        }
        Command::Migrate => {
            let settings = settings()?;
            Store::connect(&settings.database).await?;
            println!("migrations applied to {}", settings.database);
            Ok(())
        }
        Command::Proof { symbiote, height } => {
            let settings = settings()?;
            let genesis = settings.genesis()?;
            let id = genesis.symbiote_id();
            if symbiote != id.to_string() && symbiote != genesis.chain_name {
                bail!(
                    "this relayer follows symbiote {} ({id}), not {symbiote}",
                    genesis.chain_name
                );
            }
            let store = Store::connect(&settings.database).await?;
            let node = NodeClient::new(&settings.config.symbiote.node_url);
            let doc = proof::build(&store, &node, id, height).await?;
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(())
        }
        Command::StateProof { height, entries } => {
            let settings = settings()?;
            let genesis = settings.genesis()?;
            let keys = entries
                .iter()
                .map(|e| e.parse::<StateKey>().map_err(anyhow::Error::msg))
                .collect::<Result<Vec<_>>>()?;
            let node = NodeClient::new(&settings.config.symbiote.node_url);
            let doc = proof::build_state(&node, genesis.symbiote_id(), Height::new(height), &keys)
                .await?;
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(())
        }
        Command::Verify {
            proof,
            hostchains,
            rpc,
        } => verify(&proof, hostchains.as_deref(), &cli.config, &rpc).await,
        Command::Scout(ScoutCommand::Check {
            chain,
            address,
            block,
        }) => {
            let settings = settings()?;
            let key = settings.relayer_key()?.context(
                "a scout report is signed with the relayer's key: set [bridge] key_file or key_env",
            )?;
            let genesis = settings.genesis()?;
            let adapters = relayer::build_adapters(&settings).await?;
            let chain = HostchainId::new(&chain)
                .with_context(|| format!("'{chain}' is not a hostchain id"))?;
            let adapter = adapters
                .get(&chain)
                .with_context(|| format!("hostchain '{chain}' is not configured"))?;
            let scout = adapter
                .scout()
                .with_context(|| format!("hostchain '{chain}' has no scout"))?;
            let address = adapter.canonical_address(&address)?;
            let inspection = scout.inspect(&address, block).await?;
            let report = relayer::scout::ScoutReport::build(
                genesis.symbiote_id(),
                &chain,
                inspection,
                &settings.scout_policy(&adapters)?,
                None,
                &key,
            )?;
            println!("{}", report.to_text()?);
            eprintln!(
                "{}: {} at block {} (report {})",
                report.body.address(),
                report.body.verdict,
                report.body.block(),
                report.hash
            );
            Ok(())
        }
        Command::Scout(ScoutCommand::Verify { report: path }) => {
            let settings = settings()?;
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let report = relayer::scout::ScoutReport::from_bytes(&bytes)
                .with_context(|| format!("{} is refuted", path.display()))?;
            let adapters = relayer::build_adapters(&settings).await?;
            let chain = &report.body.hostchain;
            let scout = adapters
                .get(chain)
                .and_then(|a| a.scout())
                .with_context(|| {
                    format!("the report is about hostchain '{chain}', which has no scout here")
                })?;
            let result = relayer::scout::reverify(&report, scout).await?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            if !result.confirmed {
                bail!(
                    "refuted: at block {} {}",
                    report.body.block(),
                    result.differences.join("; ")
                );
            }
            eprintln!(
                "confirmed: {} is {} at block {} (signed by {})",
                report.body.address(),
                report.body.verdict,
                report.body.block(),
                report.body.scout
            );
            Ok(())
        }
        Command::Status => {
            let settings = settings()?;
            // The running relayer's own answer when it is up (it knows which stages this
            // replica runs); the store's summary otherwise.
            if let Some(summary) = running_status(&settings).await {
                println!("{}", serde_json::to_string_pretty(&summary)?);
                return Ok(());
            }
            eprintln!(
                "the relayer's API at {} does not answer: showing the summary from its database",
                settings.config.api.listen
            );
            if let Some(path) = settings.database.sqlite_path()
                && !std::path::Path::new(path).exists()
            {
                bail!(
                    "no relayer database at {path} (database.url in {})",
                    settings.file
                );
            }
            let genesis = settings.genesis()?;
            let store = Store::connect(&settings.database).await?;
            let kinds: Vec<(HostchainId, String)> = settings
                .hostchains
                .iter()
                .map(|c| (c.id.clone(), c.kind.clone()))
                .collect();
            let summary = relayer::api::summary(&store, genesis.symbiote_id(), &kinds).await?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(())
        }
    }
}

/// `/v1/status` of the relayer running with this configuration, if it answers.
async fn running_status(settings: &Settings) -> Option<serde_json::Value> {
    let mut address = settings.config.api.listen;
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()
        .ok()?;
    let response = client
        .get(format!("http://{address}/v1/status"))
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    symbiote::client::read_json(response, &address.to_string())
        .await
        .ok()
}

/// `relayer verify`: the proof at `path`, an anchor proof checked against the hostchains of
/// the `[hostchains.*]` sections of the verifier file `hostchains` or else of the relayer
/// configuration `config` (with the `rpc` endpoints given instead).
async fn verify(
    path: &Path,
    hostchains: Option<&Path>,
    config: &Path,
    rpc: &[String],
) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let steps = if value["kind"] == proof::STATE_DOCUMENT_KIND {
        let doc: proof::StateDocument = serde_json::from_value(value)
            .with_context(|| format!("{} is not a state proof", path.display()))?;
        proof::verify_state(&doc)
    } else {
        let doc: ProofDocument = serde_json::from_value(value)
            .with_context(|| format!("{} is not a proof document", path.display()))?;
        // A verifier's own file is taken as it is; the relayer's configuration with the
        // environment's overrides, as the relayer reads it.
        let file = hostchains.unwrap_or(config);
        let mut sections =
            relayer::config::settings::hostchain_sections(file, hostchains.is_none())
                .with_context(|| {
                    if hostchains.is_none() {
                        "verifying reads the hostchains' sections of the relayer configuration; \
                         give --hostchains <file> to use a verifier's own file"
                    } else {
                        "reading the verifier's file"
                    }
                })?;
        let mut given_ids = std::collections::BTreeSet::new();
        for given in rpc {
            let (id, url) = given
                .split_once('=')
                .with_context(|| format!("--rpc {given}: write it as <hostchain>=<url>"))?;
            if !given_ids.insert(id) {
                bail!("--rpc {id}=…: given twice");
            }
            let section = sections
                .iter_mut()
                .find(|s| s.id.as_str() == id)
                .with_context(|| {
                    format!(
                        "--rpc {id}=…: {} has no [hostchains.{id}] section (its kind and whose \
                         anchors count)",
                        file.display()
                    )
                })?;
            section.settings["rpc_url"] = serde_json::Value::String(url.to_string());
        }
        let readers = proof::readers(&doc, &sections)
            .await
            .with_context(|| format!("a [hostchains.*] section of {}", file.display()))?;
        proof::verify(&doc, &readers).await
    };
    println!("{}", serde_json::to_string_pretty(&steps)?);
    if let Some(failed) = steps.iter().find(|s| !s.ok) {
        bail!("proof does not verify: {}: {}", failed.step, failed.detail);
    }
    eprintln!("proof verified");
    Ok(())
}

//! `symbiote`: create a genesis, run a validator, and send transactions.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use symbiote::client::NodeClient;
use symbiote::crypto::{Keypair, PublicKey};
use symbiote::genesis::Genesis;
use symbiote::keyfile;
use symbiote::tx::{
    Asset, GovernanceChange, ProposalId, Relayer, RelayerSet, SignedTransaction, Transaction,
};
use symbiote::types::{Amount, Height, HostAddress, HostchainId, TokenId};
use symbiote::validators::{Validator, ValidatorSet};
use symbiote::wire::TxStatusReply;
use symbiote_node::{self as node, NodeConfig};

#[derive(Parser)]
#[command(
    name = "symbiote",
    version,
    about = "A symbiote chain: genesis, validators, transactions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a genesis file with fresh validator and relayer keys.
    Genesis(GenesisArgs),
    /// Create a key file and print its public key.
    Keygen {
        /// Where to write the key (created with mode 600).
        #[arg(long)]
        out: PathBuf,
    },
    /// Run a validator (or, without a key, a node that follows the chain).
    Run(RunArgs),
    /// Transfer native coins or wrapped tokens.
    Transfer {
        #[command(flatten)]
        sender: SenderArgs,
        /// The receiving account (hex public key).
        #[arg(long)]
        to: PublicKey,
        /// Amount in the smallest unit.
        #[arg(long)]
        amount: Amount,
        /// For a wrapped token: its hostchain (with --token).
        #[arg(long, requires = "token")]
        hostchain: Option<HostchainId>,
        /// For a wrapped token: the token on its hostchain.
        #[arg(long, requires = "hostchain")]
        token: Option<TokenId>,
    },
    /// Burn wrapped tokens and order their release on the hostchain.
    Burn {
        #[command(flatten)]
        sender: SenderArgs,
        /// The hostchain to release on.
        #[arg(long)]
        hostchain: HostchainId,
        /// The token on that hostchain (`native` for its coin).
        #[arg(long)]
        token: TokenId,
        /// Amount in the smallest unit.
        #[arg(long)]
        amount: Amount,
        /// The receiving address on the hostchain.
        #[arg(long)]
        destination: HostAddress,
    },
    /// Propose a governance change (validators only).
    Propose {
        #[command(flatten)]
        sender: SenderArgs,
        /// The first height at which the change is in force.
        #[arg(long)]
        activation: u64,
        #[command(subcommand)]
        change: ChangeArgs,
    },
    /// Vote on a governance proposal (validators only).
    Vote {
        #[command(flatten)]
        sender: SenderArgs,
        /// The proposal id.
        #[arg(long)]
        proposal: u64,
        /// Vote against instead of for.
        #[arg(long)]
        reject: bool,
    },
    /// Show the sets in force (hostchains, relayers, validators), the approved changes
    /// waiting for their activation height, and the open proposals.
    Governance {
        /// The node's API URL.
        #[arg(long, env = "SYMBIOTE_NODE", default_value = "http://127.0.0.1:7000")]
        node: String,
    },
    /// Show a node's head and governance state.
    Status {
        /// The node's API URL.
        #[arg(long, env = "SYMBIOTE_NODE", default_value = "http://127.0.0.1:7000")]
        node: String,
    },
}

#[derive(Args)]
struct GenesisArgs {
    /// The symbiote's name (its id derives from it).
    #[arg(long)]
    chain_name: String,
    /// How many validators (equal weight).
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// The hostchains to anchor into, e.g. bitcoin-regtest, evm-31337, solana-local.
    #[arg(long = "hostchain")]
    hostchains: Vec<HostchainId>,
    /// How many relayers.
    #[arg(long, default_value_t = 1)]
    relayers: usize,
    /// How many relayer signatures are needed.
    #[arg(long, default_value_t = 1)]
    relayer_threshold: u16,
    /// Native coins given to each validator and relayer account.
    #[arg(long, default_value = "1000000000")]
    fund: Amount,
    /// Folder for genesis.json and the key files.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct RunArgs {
    /// The genesis file.
    #[arg(long, env = "SYMBIOTE_GENESIS")]
    genesis: PathBuf,
    /// This validator's key file (or set SYMBIOTE_KEY to the hex seed); none: follow only.
    #[arg(long, env = "SYMBIOTE_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// The SQLite database file.
    #[arg(long, env = "SYMBIOTE_DB")]
    db: PathBuf,
    /// Where the HTTP API listens.
    #[arg(long, env = "SYMBIOTE_LISTEN", default_value = "127.0.0.1:7000")]
    listen: SocketAddr,
    /// Another validator's API URL (repeat for each).
    #[arg(long = "peer", env = "SYMBIOTE_PEERS", value_delimiter = ',')]
    peers: Vec<String>,
    /// How often the proposer proposes a block.
    #[arg(long, env = "SYMBIOTE_BLOCK_INTERVAL_MS", default_value_t = 1000)]
    block_interval_ms: u64,
    /// Log as JSON lines.
    #[arg(long, env = "SYMBIOTE_LOG_JSON")]
    log_json: bool,
}

#[derive(Args)]
struct SenderArgs {
    /// The node's API URL.
    #[arg(
        long,
        global = true,
        env = "SYMBIOTE_NODE",
        default_value = "http://127.0.0.1:7000"
    )]
    node: String,
    /// The sender's key file (or set SYMBIOTE_KEY to the hex seed).
    #[arg(long, global = true, env = "SYMBIOTE_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// Seconds to wait for the transaction to be final (0: do not wait).
    #[arg(long, global = true, default_value_t = 30)]
    wait: u64,
}

#[derive(Subcommand)]
enum ChangeArgs {
    /// Replace the hostchain set.
    Hostchains {
        /// The new set, comma separated.
        #[arg(long, value_delimiter = ',', required = true)]
        set: Vec<HostchainId>,
    },
    /// Replace the relayer set with the one in a JSON file ({"members": [...], "threshold": n}).
    Relayers {
        #[arg(long)]
        file: PathBuf,
    },
    /// Replace the validator set with the one in a JSON file ([{"key": ..., "weight": n}]).
    Validators {
        #[arg(long)]
        file: PathBuf,
    },
    /// Lift a scout's hold of a withdrawal order: the relayers release it.
    ReleaseHold {
        /// The withdrawal order's nonce.
        #[arg(long)]
        order: u64,
    },
    /// Refund a held withdrawal order to its burner on the symbiote; it is never released.
    RefundHold {
        /// The withdrawal order's nonce.
        #[arg(long)]
        order: u64,
    },
}

fn load_key(file: Option<&Path>) -> Result<Option<Keypair>> {
    let env = std::env::var_os("SYMBIOTE_KEY").map(|_| "SYMBIOTE_KEY".to_string());
    let source =
        symbiote::secret::SecretSource::from_settings("key", file.map(Path::to_path_buf), env)
            .map_err(|_| {
                anyhow::anyhow!("give --key-file (SYMBIOTE_KEY_FILE) or SYMBIOTE_KEY, not both")
            })?;
    source
        .map(|source| keyfile::load(&source))
        .transpose()
        .map_err(Into::into)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn genesis(args: GenesisArgs) -> Result<()> {
    if args.validators == 0 {
        bail!("--validators must be at least 1");
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut validators = Vec::new();
    let mut balances = Vec::new();
    for i in 0..args.validators {
        let key = Keypair::generate();
        keyfile::write(&args.out.join(format!("validator-{i}.key")), &key)?;
        validators.push(Validator {
            key: key.public(),
            weight: 1,
        });
        balances.push((key.public(), args.fund));
    }
    let mut members = Vec::new();
    for i in 0..args.relayers {
        let key = Keypair::generate();
        keyfile::write(&args.out.join(format!("relayer-{i}.key")), &key)?;
        let evm = k256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
        keyfile::write_secret(
            &args.out.join(format!("relayer-{i}.evm.key")),
            &hex::encode(evm.to_bytes()),
        )?;
        members.push(
            Relayer::new(key.public(), [("evm", &evm_address(&evm)[..])])
                .map_err(|e| anyhow::anyhow!("relayer {i}: {e}"))?,
        );
        balances.push((key.public(), args.fund));
    }
    let genesis = Genesis {
        chain_name: args.chain_name,
        timestamp: node::consensus::now(),
        validators: ValidatorSet::new(validators)?,
        hostchains: args.hostchains,
        relayers: RelayerSet {
            members,
            threshold: args.relayer_threshold,
        },
        balances,
    };
    genesis
        .validate()
        .map_err(|e| anyhow::anyhow!("invalid genesis: {e}"))?;
    let path = args.out.join("genesis.json");
    std::fs::write(&path, serde_json::to_string_pretty(&genesis)?)
        .with_context(|| format!("writing {}", path.display()))?;
    println!(
        "{}",
        json!({"genesis": path, "symbiote": genesis.symbiote_id(), "validators": args.validators, "relayers": args.relayers})
    );
    Ok(())
}

/// The Ethereum address of a secp256k1 key: the last 20 bytes of keccak256 of the
/// uncompressed public key without its prefix byte.
fn evm_address(key: &k256::ecdsa::SigningKey) -> [u8; 20] {
    use sha3::Digest;
    let point = key.verifying_key().to_encoded_point(false);
    let digest = sha3::Keccak256::digest(point.as_bytes().get(1..).unwrap_or_default());
    let mut address = [0u8; 20];
    address.copy_from_slice(digest.get(12..).unwrap_or(&[0u8; 20]));
    address
}

async fn run(args: RunArgs) -> Result<()> {
    symbiote::process::init_logging(args.log_json);
    let genesis: Genesis = read_json(&args.genesis)?;
    let key = load_key(args.key_file.as_deref())?;
    let config = NodeConfig {
        genesis,
        key,
        database: args.db,
        listen: args.listen,
        peers: args.peers,
        block_interval: Duration::from_millis(args.block_interval_ms.max(10)),
        sync_interval: Duration::from_millis(500),
    };
    let node = node::start(config).await?;
    println!("listening on http://{}", node.address);
    node.run_until(symbiote::process::shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
}

async fn send(sender: SenderArgs, body: Transaction) -> Result<()> {
    let key = load_key(sender.key_file.as_deref())?
        .context("no key: give --key-file or set SYMBIOTE_KEY")?;
    let client = NodeClient::new(&sender.node);
    let info = client.node_info().await?;
    let account = client.account(&key.public()).await?;
    let tx = SignedTransaction::sign(&key, info.symbiote, account.nonce, body);
    let reply = client.submit(&tx).await?;
    if sender.wait == 0 {
        println!("{}", json!({"hash": reply.hash, "status": "submitted"}));
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs(sender.wait);
    loop {
        match client.tx_status(&reply.hash).await? {
            TxStatusReply::Included { height } => {
                println!(
                    "{}",
                    json!({"hash": reply.hash, "status": "final", "height": height})
                );
                return Ok(());
            }
            TxStatusReply::Unknown => bail!("transaction {} was dropped by the node", reply.hash),
            TxStatusReply::Pending if Instant::now() > deadline => {
                bail!(
                    "transaction {} not final after {}s",
                    reply.hash,
                    sender.wait
                )
            }
            TxStatusReply::Pending => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn status(node: &str) -> Result<()> {
    let client = NodeClient::new(node);
    let info = client.node_info().await?;
    let head = client.head().await?;
    let governance = client.governance().await?;
    println!(
        "{}",
        serde_json::to_string_pretty(
            &json!({"node": info, "head": head, "governance": governance})
        )?
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Genesis(args) => genesis(args),
        Command::Keygen { out } => {
            let key = Keypair::generate();
            keyfile::write(&out, &key)?;
            println!("{}", key.public());
            Ok(())
        }
        Command::Run(args) => run(args).await,
        Command::Transfer {
            sender,
            to,
            amount,
            hostchain,
            token,
        } => {
            let asset = match (hostchain, token) {
                (Some(hostchain), Some(token)) => Asset::Wrapped { hostchain, token },
                _ => Asset::Native,
            };
            send(sender, Transaction::Transfer { to, asset, amount }).await
        }
        Command::Burn {
            sender,
            hostchain,
            token,
            amount,
            destination,
        } => {
            send(
                sender,
                Transaction::Burn {
                    hostchain,
                    token,
                    amount,
                    destination,
                },
            )
            .await
        }
        Command::Propose {
            sender,
            activation,
            change,
        } => {
            let change = match change {
                ChangeArgs::Hostchains { set } => GovernanceChange::Hostchains(set),
                ChangeArgs::Relayers { file } => GovernanceChange::Relayers(read_json(&file)?),
                ChangeArgs::Validators { file } => {
                    let validators: Vec<Validator> = read_json(&file)?;
                    GovernanceChange::Validators(ValidatorSet::new(validators)?)
                }
                ChangeArgs::ReleaseHold { order } => {
                    GovernanceChange::ReleaseHold(symbiote::types::Nonce::new(order))
                }
                ChangeArgs::RefundHold { order } => {
                    GovernanceChange::RefundHold(symbiote::types::Nonce::new(order))
                }
            };
            send(
                sender,
                Transaction::Propose {
                    change,
                    activation: Height::new(activation),
                },
            )
            .await
        }
        Command::Vote {
            sender,
            proposal,
            reject,
        } => {
            send(
                sender,
                Transaction::Vote {
                    proposal: ProposalId(proposal),
                    approve: !reject,
                },
            )
            .await
        }
        Command::Status { node } => status(&node).await,
        Command::Governance { node } => {
            let summary = NodeClient::new(&node).governance().await?.summary();
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(())
        }
    }
}

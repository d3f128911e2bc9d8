//! A local Solana test network for the symbiote relayer: a single validator from
//! `solana-test-validator` with JSON-RPC, a faucet for `requestAirdrop`, and the genesis programs
//! (SPL Memo, Token, Token-2022, Associated Token) that Agave's test validator ships, with
//! transaction history enabled.
//!
//! Every port is given on the command line so that several networks can run side by side:
//!
//! ```text
//! symbiote-solana-validator --ledger DIR --rpc-port P --faucet-port F \
//!     --gossip-port G --dynamic-port-range A-B [--bind-address 0.0.0.0]
//! ```
//!
//! Services bind to 127.0.0.1 unless `--bind-address` says otherwise (0.0.0.0 in a container).
//!
//! The RPC pubsub service listens on `P + 1`. Once the validator answers, one line
//! `ready rpc=http://127.0.0.1:P faucet=127.0.0.1:F mint=<pubkey>` is printed on stdout, and the
//! mint (faucet) keypair is written to `DIR/faucet-keypair.json` in the Solana CLI's format.
//! The process runs until it is killed.

use std::{
    io::Write,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
    process::ExitCode,
};

#[allow(deprecated)]
use solana_faucet::faucet::run_local_faucet_with_port;
use solana_keypair::Keypair;
use solana_rpc::rpc::JsonRpcConfig;
use solana_signer::Signer;
use solana_streamer::socket::SocketAddrSpace;
use solana_test_validator::TestValidatorGenesis;

struct Args {
    ledger: PathBuf,
    rpc_port: u16,
    faucet_port: u16,
    gossip_port: u16,
    dynamic_port_range: (u16, u16),
    bind_address: IpAddr,
}

const USAGE: &str = "usage: symbiote-solana-validator --ledger DIR --rpc-port P --faucet-port F \
                     --gossip-port G --dynamic-port-range A-B [--bind-address IP]";

fn parse_port(flag: &str, value: &str) -> Result<u16, String> {
    value
        .parse::<u16>()
        .map_err(|e| format!("{flag}: '{value}' is not a port number ({e})"))
}

fn parse_args() -> Result<Args, String> {
    let mut ledger = None;
    let mut rpc_port = None;
    let mut faucet_port = None;
    let mut gossip_port = None;
    let mut range = None;
    let mut bind_address = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--ledger" => ledger = Some(PathBuf::from(value)),
            "--rpc-port" => rpc_port = Some(parse_port(&flag, &value)?),
            "--faucet-port" => faucet_port = Some(parse_port(&flag, &value)?),
            "--gossip-port" => gossip_port = Some(parse_port(&flag, &value)?),
            "--dynamic-port-range" => {
                let (a, b) = value
                    .split_once('-')
                    .ok_or_else(|| format!("{flag}: expected A-B, got '{value}'"))?;
                let (a, b) = (parse_port(&flag, a)?, parse_port(&flag, b)?);
                if b <= a || b - a < 25 {
                    return Err(format!("{flag}: the range {a}-{b} must span at least 25 ports"));
                }
                range = Some((a, b));
            }
            "--bind-address" => {
                bind_address = value
                    .parse()
                    .map_err(|e| format!("{flag}: '{value}' is not an IP address ({e})"))?;
            }
            other => return Err(format!("unknown option '{other}'\n{USAGE}")),
        }
    }
    Ok(Args {
        ledger: ledger.ok_or_else(|| format!("--ledger is required\n{USAGE}"))?,
        rpc_port: rpc_port.ok_or_else(|| format!("--rpc-port is required\n{USAGE}"))?,
        faucet_port: faucet_port.ok_or_else(|| format!("--faucet-port is required\n{USAGE}"))?,
        gossip_port: gossip_port.ok_or_else(|| format!("--gossip-port is required\n{USAGE}"))?,
        dynamic_port_range: range
            .ok_or_else(|| format!("--dynamic-port-range is required\n{USAGE}"))?,
        bind_address,
    })
}

fn run(args: Args) -> Result<(), String> {
    std::fs::create_dir_all(&args.ledger)
        .map_err(|e| format!("cannot create ledger directory {}: {e}", args.ledger.display()))?;

    let mint = Keypair::new();
    let mint_pubkey = mint.pubkey();
    let keypair_path = args.ledger.join("faucet-keypair.json");
    let keypair_json = format!(
        "[{}]",
        mint.to_bytes()
            .iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    std::fs::write(&keypair_path, keypair_json)
        .map_err(|e| format!("cannot write {}: {e}", keypair_path.display()))?;

    let (sender, receiver) = crossbeam_channel::unbounded();
    // The replacement (`run_local_faucet_with_config`) is only built with a development
    // feature that would rebuild half of Agave; this is the same faucet on a chosen port.
    #[allow(deprecated)]
    run_local_faucet_with_port(
        mint.insecure_clone(),
        sender,
        None,
        None,
        None,
        args.faucet_port,
    );
    let faucet_addr = receiver
        .recv()
        .map_err(|e| format!("faucet did not start: {e}"))?
        .map_err(|e| format!("faucet did not start on port {}: {e}", args.faucet_port))?;

    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    // Transaction history on, as on the RPC nodes relayers use: getTransaction,
    // getSignaturesForAddress and getSignatureStatuses with history.
    let rpc_config = JsonRpcConfig {
        enable_rpc_transaction_history: true,
        enable_extended_tx_metadata_storage: true,
        ..JsonRpcConfig::default_for_test()
    };
    let validator = TestValidatorGenesis::default()
        .rpc_config(rpc_config)
        .ledger_path(&args.ledger)
        .rpc_port(args.rpc_port)
        .bind_ip_addr(args.bind_address)
        .gossip_host(localhost)
        .gossip_port(args.gossip_port)
        .port_range(args.dynamic_port_range)
        .faucet_addr(Some(SocketAddr::new(localhost, faucet_addr.port())))
        .start_with_mint_address(mint_pubkey, SocketAddrSpace::new(true))
        .map_err(|e| format!("validator did not start: {e}"))?;

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "ready rpc={} faucet=127.0.0.1:{} mint={}",
        validator.rpc_url(),
        faucet_addr.port(),
        mint_pubkey
    )
    .and_then(|()| out.flush())
    .map_err(|e| format!("cannot write to stdout: {e}"))?;
    drop(out);

    validator.join();
    Ok(())
}

fn main() -> ExitCode {
    match parse_args().and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("symbiote-solana-validator: {e}");
            ExitCode::FAILURE
        }
    }
}

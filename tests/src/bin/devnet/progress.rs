//! The live progress line shown after the demo, until Ctrl-C.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::Value;

use crate::demo::HOSTCHAINS;
use crate::node::Node;
use crate::relayer::Relayer;

/// How often a line is printed.
const EVERY: Duration = Duration::from_secs(5);
/// How long the symbiote may go without a new block before the line says so (blocks come
/// every second).
const STALLED: Duration = Duration::from_secs(30);

/// Prints a status line every few seconds; returns only if the relayer exits.
pub async fn show(relayer: &mut Relayer, node: &Node, started: Instant) -> Result<()> {
    println!(
        "\nlive progress (every {}s; Ctrl-C stops the devnet):",
        EVERY.as_secs()
    );
    // The last height seen and since when: a symbiote that stops finalizing is pointed out.
    let mut last: Option<(u64, Instant)> = None;
    loop {
        // A pause after each line, not a fixed rate: a slow answer on a loaded machine delays
        // the next line instead of causing a burst of them.
        tokio::time::sleep(EVERY).await;
        relayer.check_running()?;
        let height = match node.height().await {
            Some(h) => {
                let since = match last {
                    Some((previous, since)) if previous == h => since,
                    _ => Instant::now(),
                };
                last = Some((h, since));
                let still = since.elapsed();
                if still > STALLED {
                    format!("{h} (no new block for {}s)", still.as_secs())
                } else {
                    h.to_string()
                }
            }
            None => "? (the node does not answer)".to_string(),
        };
        let relayer_part = match relayer.api.get("/v1/status").await {
            Some(status) => format!(
                "anchors final: {} | deposits minted {} | releases paid {} | holds {}",
                anchors_final(&status),
                bridge_count(&status["bridge"]["deposits"], &["minted"]),
                bridge_count(&status["bridge"]["releases"], &["released"]),
                bridge_count(&status["bridge"]["releases"], &["holding", "held"]),
            ),
            None => "the relayer's /v1/status does not answer".to_string(),
        };
        println!(
            "[+{}s] symbiote height {height} | {relayer_part}",
            started.elapsed().as_secs()
        );
    }
}

/// "bitcoin-regtest 4, evm-31337 5, solana-local 3": final anchors per hostchain.
fn anchors_final(status: &Value) -> String {
    let chains = status["hostchains"].as_array();
    HOSTCHAINS
        .iter()
        .map(|id| {
            let n = chains
                .into_iter()
                .flatten()
                .find(|c| c["hostchain"] == *id)
                .and_then(|c| c["anchors"]["final"].as_u64())
                .unwrap_or(0);
            format!("{id} {n}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The number of rows in `states`, summed over hostchains (`{hostchain: {state: n}}`).
fn bridge_count(by_hostchain: &Value, states: &[&str]) -> u64 {
    by_hostchain
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
        .flat_map(|counts| states.iter().filter_map(|s| counts[*s].as_u64()))
        .sum()
}

//! The live progress line shown after the demo, until Ctrl-C.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::Value;

use crate::demo::HOSTCHAINS;
use crate::node::Node;
use crate::relayer::Relayer;

/// How often a line is printed.
const EVERY: Duration = Duration::from_secs(5);

/// Prints a status line every few seconds; returns only if the relayer exits.
pub async fn show(relayer: &mut Relayer, node: &Node, started: Instant) -> Result<()> {
    println!(
        "\nlive progress (every {}s; Ctrl-C stops the devnet):",
        EVERY.as_secs()
    );
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tick.tick().await;
        relayer.check_running()?;
        let status = relayer.api.get("/v1/status").await.unwrap_or_default();
        let height = node
            .height()
            .await
            .map_or_else(|| "?".to_string(), |h| h.to_string());
        println!(
            "[+{}s] symbiote height {height} | anchors final: {} | deposits minted {} | releases paid {} | holds {}",
            started.elapsed().as_secs(),
            anchors_final(&status),
            bridge_count(&status["bridge"]["deposits"], &["minted"]),
            bridge_count(&status["bridge"]["releases"], &["released"]),
            bridge_count(&status["bridge"]["releases"], &["holding", "held"]),
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

//! Switching the hostchain set from {Bitcoin, EVM} to {EVM, Solana} in the middle of a run,
//! against a 4-validator symbiote and real hostchain nodes: every batch has a final anchor on
//! each hostchain of the set active at its last block, every height is anchored on every
//! hostchain active at it, Bitcoin keeps being anchored after the activation exactly until
//! Solana has a final anchor reaching it, and the Bitcoin anchors from before the switch still
//! verify. Checked on the relayer's API and on the three hostchains themselves.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Deref;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chain_adapters::solana::keys;
use devnet::symbiote::{NetworkOptions, SymbioteNetwork};
use devnet::{Bitcoind, SolanaValidator};
use serde_json::Value;
use solana_client::nonblocking::rpc_client::RpcClient;
use solana_sdk::signature::Signer;
use support::{
    Hostchains, RelayerProcess, bitcoin_anchor_payloads, evm_anchored, funded_solana_key, govern,
    relayer_toml_head, solana_anchor_payloads, sqlite_url, symbiote_bin,
};
use symbiote::client::NodeClient;
use symbiote::governance::{History, ProposalStatus};
use symbiote::tx::GovernanceChange;
use symbiote::types::{Height, HostchainId};

// Generous: on a loaded 2-core machine, four validators and three hostchain nodes crawl.
const TIMEOUT: Duration = Duration::from_secs(480);
const BITCOIN: &str = "bitcoin-regtest";
const EVM: &str = "evm-31337";
const SOLANA: &str = "solana-local";
/// How far ahead of the head the switch activates, in blocks.
const ACTIVATION_DELAY: u64 = 45;
/// The batcher decides a batch's hostchains a moment before it stamps the batch, and the
/// anchorer stamps a final transition a moment before it commits it: a batch stamped this long
/// after Solana's first final anchor must no longer go to Bitcoin.
const DECISION_SLACK_MS: i64 = 2_000;

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// The relayer, and what its API says of batches and anchors.
struct Relayer(RelayerProcess);

impl Deref for Relayer {
    type Target = RelayerProcess;

    fn deref(&self) -> &RelayerProcess {
        &self.0
    }
}

impl Relayer {
    /// Every batch, oldest first, with its anchors if `anchors`.
    async fn batches(&self, anchors: bool) -> Vec<Batch> {
        let mut rows = Vec::new();
        loop {
            let path = format!("/v1/batches?limit=500&offset={}", rows.len());
            let page = self.get(&path).await.unwrap();
            let page = page.as_array().unwrap();
            rows.extend(page.iter().cloned());
            if page.len() < 500 {
                break;
            }
        }
        let mut batches = Vec::new();
        for row in rows {
            let detail = if anchors {
                self.get(&format!("/v1/batches/{}", row["id"]))
                    .await
                    .unwrap()
            } else {
                Value::Null
            };
            let anchors = detail["anchors"].as_array().cloned().unwrap_or_default();
            batches.push(Batch {
                id: row["id"].as_i64().unwrap(),
                from: row["from_height"].as_u64().unwrap(),
                to: row["to_height"].as_u64().unwrap(),
                root: row["aggregate_root"].as_str().unwrap().to_string(),
                state: row["state"].as_str().unwrap().to_string(),
                created_at: row["created_at"].as_i64().unwrap(),
                anchors: anchors
                    .iter()
                    .map(|a| Anchor {
                        id: a["id"].as_i64().unwrap(),
                        hostchain: a["hostchain"].as_str().unwrap().to_string(),
                        sequence: a["sequence"].as_u64().unwrap(),
                        state: a["state"].as_str().unwrap().to_string(),
                    })
                    .collect(),
            });
        }
        batches.sort_by_key(|b| b.id);
        batches
    }

    /// Final anchors by hostchain, and whether every listed anchor is final.
    async fn finals(&self) -> (BTreeMap<String, usize>, bool) {
        let anchors = self.get("/v1/anchors?limit=500").await.unwrap();
        let anchors = anchors.as_array().unwrap();
        assert!(anchors.len() < 500, "too many anchors to list them all");
        let mut finals = BTreeMap::new();
        for a in anchors.iter().filter(|a| a["state"] == "final") {
            *finals
                .entry(a["hostchain"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        let all = anchors.iter().all(|a| a["state"] == "final");
        (finals, all)
    }

    /// When anchor `id` became final (ms since the epoch).
    async fn final_at(&self, id: i64) -> i64 {
        let detail = self.get(&format!("/v1/anchors/{id}")).await.unwrap();
        detail["history"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["to"] == "final")
            .unwrap_or_else(|| panic!("anchor {id} never became final: {detail}"))["at"]
            .as_i64()
            .unwrap()
    }
}

#[derive(Debug)]
struct Batch {
    id: i64,
    from: u64,
    to: u64,
    root: String,
    state: String,
    created_at: i64,
    anchors: Vec<Anchor>,
}

impl Batch {
    fn anchor(&self, chain: &str) -> Option<&Anchor> {
        self.anchors.iter().find(|a| a.hostchain == chain)
    }

    fn final_on(&self, chain: &str) -> bool {
        self.anchor(chain).is_some_and(|a| a.state == "final")
    }
}

#[derive(Debug)]
struct Anchor {
    id: i64,
    hostchain: String,
    sequence: u64,
    state: String,
}

/// Validator 0 proposes the hostchain set {EVM, Solana} from `activation`; 1 and 2 approve.
async fn switch_hostchains(net: &SymbioteNetwork, node: &NodeClient, activation: u64) {
    let change = GovernanceChange::Hostchains(vec![
        HostchainId::new(EVM).unwrap(),
        HostchainId::new(SOLANA).unwrap(),
    ]);
    let (id, included) = govern(net, node, change, activation, TIMEOUT).await;
    let governance = node.governance().await.unwrap();
    let proposal = governance.proposals.iter().find(|p| p.id == id).unwrap();
    assert_eq!(
        proposal.status,
        ProposalStatus::Approved,
        "the switch is not approved before its activation (votes in block {included}): {proposal:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn switching_bitcoin_evm_to_evm_solana_mid_run_leaves_no_height_unanchored() {
    let bin = symbiote_bin();
    let options = NetworkOptions {
        hostchains: vec![BITCOIN.into(), EVM.into()],
        ..NetworkOptions::default()
    };
    // Bitcoin and the EVM with the anchor contract (the relayer's EVM key its only relayer),
    // the relayer's Bitcoin key funded by mined coinbases, a block every second from then on
    // on both.
    let (net, solana, hostchains) = tokio::join!(
        SymbioteNetwork::start(&bin, &options),
        SolanaValidator::start(),
        Hostchains::start()
    );
    let (mut net, solana) = (net.unwrap(), solana.unwrap());
    let (rpc, solana_key) = funded_solana_key(&solana, 10_000_000_000, TIMEOUT).await;

    // One relayer configured for all three hostchains, Solana not active yet.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("solana.json"), keys::to_json(&solana_key)).unwrap();
    hostchains.write_keys(dir.path());
    let mut relayer = RelayerProcess::configured(dir.path(), "relayer.toml", |port| {
        format!(
            r#"{head}
[batch]
every_blocks = 10
every_seconds = 2
max_blocks = 50

[anchoring]
poll_interval_ms = 300

[hostchains.{SOLANA}]
kind = "solana"
rpc_url = "{solana}"
key_file = "solana.json"
trusted_anchor_signers = ["{solana_key}"]
{hostchains}"#,
            head = relayer_toml_head(&net, 0, &sqlite_url(dir.path()), port),
            solana = solana.rpc_url(),
            solana_key = solana_key.pubkey(),
            hostchains = hostchains.toml(),
        )
    });
    relayer.start();
    let relayer = Relayer(relayer);
    let started = Instant::now();
    while relayer.get("/v1/status").await.is_none() {
        assert!(started.elapsed() < TIMEOUT, "API not up: {}", relayer.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A few batches final on the genesis set first.
    let started = Instant::now();
    loop {
        let (finals, _) = relayer.finals().await;
        let on = |chain: &str| finals.get(chain).copied().unwrap_or_default();
        if on(BITCOIN) >= 3 && on(EVM) >= 3 {
            break;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "final anchors before the switch: {} on Bitcoin, {} on the EVM; log:\n{}",
            on(BITCOIN),
            on(EVM),
            relayer.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The validators switch the set to {EVM, Solana}.
    let node = NodeClient::new(&net.url(0));
    let activation = node.head().await.unwrap().height.get() + ACTIVATION_DELAY;
    switch_hostchains(&net, &node, activation).await;
    net.wait_height(0, activation, TIMEOUT).await.unwrap();
    let activated_at = now_ms();

    // Run until Solana has a final anchor, then until batches are cut well after it.
    let started = Instant::now();
    let solana_seen_at = loop {
        if relayer.finals().await.0.contains_key(SOLANA) {
            break now_ms();
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "no final anchor on Solana; log:\n{}",
            relayer.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let started = Instant::now();
    loop {
        let batches = relayer.batches(false).await;
        let later = batches
            .iter()
            .filter(|b| b.created_at > solana_seen_at + DECISION_SLACK_MS)
            .count();
        let last = batches.last().map_or(0, |b| b.to);
        if later >= 3 && last >= activation + 60 {
            break;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "{later} batches after Solana's first final anchor, last height {last}; log:\n{}",
            relayer.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Proofs of a block early in the run and of the last block before the activation, made
    // while the symbiote is up (a proof carries the validator set), once their batches are final.
    let proved = [5, activation - 1];
    let started = Instant::now();
    loop {
        let batches = relayer.batches(false).await;
        let done = proved.iter().all(|h| {
            batches
                .iter()
                .any(|b| b.from <= *h && *h <= b.to && b.state == "anchored")
        });
        if done {
            break;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "batches of {proved:?} not anchored"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let name = node.node_info().await.unwrap().chain_name;
    let mut proofs = Vec::new();
    for height in proved {
        let (ok, proof, err) = relayer.cli(&["proof", &name, &height.to_string()]);
        assert!(ok, "relayer proof {height} failed: {err}");
        proofs.push((height, proof));
    }
    let history: History<Vec<HostchainId>> = node.governance().await.unwrap().hostchains;

    // Stop the symbiote; the relayer finishes anchoring what it has cut.
    for i in 0..net.len() {
        net.kill(i);
    }
    let started = Instant::now();
    loop {
        let (finals, all_final) = relayer.finals().await;
        let batches = relayer.batches(false).await;
        if all_final && batches.iter().all(|b| b.state == "anchored") {
            break;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "not every anchor is final ({finals:?} are): {batches:?}\n{}",
            relayer.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    hostchains.stop_mining();
    let batches = relayer.batches(true).await;
    let (finals, _) = relayer.finals().await;
    let total: usize = batches.iter().map(|b| b.anchors.len()).sum();
    assert_eq!(
        finals.values().sum::<usize>(),
        total,
        "final anchors listed vs anchors of the batches"
    );

    // The symbiote's hostchain history: genesis {Bitcoin, EVM}, {EVM, Solana} from activation.
    let chains = |names: &[&str]| -> Vec<HostchainId> {
        names.iter().map(|n| HostchainId::new(n).unwrap()).collect()
    };
    assert_eq!(history.genesis, chains(&[BITCOIN, EVM]));
    assert_eq!(
        history.changes,
        vec![(Height::new(activation), chains(&[EVM, SOLANA]))]
    );

    // Batches cover every height from 1 to the last, without gaps or overlaps.
    assert_eq!(batches[0].from, 1, "{batches:?}");
    for pair in batches.windows(2) {
        assert_eq!(pair[1].from, pair[0].to + 1, "gap or overlap: {pair:?}");
    }
    let last = batches.last().unwrap().to;
    assert!(last >= activation + 60, "last batched height {last}");

    // Every batch is final on each hostchain of the set active at its last block; every height
    // is final on every hostchain active at that height (so on at least one).
    for batch in &batches {
        for chain in history.at(Height::new(batch.to)) {
            assert!(
                batch.final_on(chain.as_str()),
                "batch {}..={} has no final anchor on {chain}: {batch:?}",
                batch.from,
                batch.to
            );
        }
        for height in batch.from..=batch.to {
            let active = history.at(Height::new(height));
            let finals = active.iter().filter(|c| batch.final_on(c.as_str())).count();
            assert!(finals >= 1, "height {height} is final on no active chain");
            assert_eq!(
                finals,
                active.len(),
                "height {height} is not final on every chain of {active:?}: {batch:?}"
            );
        }
    }

    // Solana: no anchor of a batch ending before the activation.
    for batch in batches.iter().filter(|b| b.to < activation) {
        assert!(
            batch.anchor(SOLANA).is_none(),
            "Solana anchors batch {}..={}, before the activation {activation}",
            batch.from,
            batch.to
        );
    }

    // Bitcoin: after the activation, exactly the batches cut before Solana's first final anchor
    // reaching the activation (a prefix of them), none cut later.
    let switching: Vec<&Batch> = batches.iter().filter(|b| b.to >= activation).collect();
    let mut solana_final = i64::MAX;
    for batch in &switching {
        let anchor = batch.anchor(SOLANA).unwrap();
        solana_final = solana_final.min(relayer.final_at(anchor.id).await);
    }
    let to_bitcoin: Vec<&&Batch> = switching
        .iter()
        .filter(|b| b.anchor(BITCOIN).is_some())
        .collect();
    assert!(
        !to_bitcoin.is_empty(),
        "no batch reaching the activation went to Bitcoin"
    );
    assert!(
        switching
            .iter()
            .take(to_bitcoin.len())
            .all(|b| b.anchor(BITCOIN).is_some()),
        "Bitcoin anchors after the activation are not the first batches: {to_bitcoin:?}"
    );
    for batch in &switching {
        if batch.created_at < solana_final {
            assert!(
                batch.anchor(BITCOIN).is_some(),
                "batch {}..={} cut during the switch has no Bitcoin anchor",
                batch.from,
                batch.to
            );
        }
    }
    let after: Vec<&&Batch> = switching
        .iter()
        .filter(|b| b.created_at > solana_final + DECISION_SLACK_MS)
        .collect();
    assert!(after.len() >= 3, "too few batches after the switch");
    for batch in after {
        assert!(
            batch.anchor(BITCOIN).is_none(),
            "batch {}..={} cut {} ms after Solana's first final anchor went to Bitcoin",
            batch.from,
            batch.to,
            batch.created_at - solana_final
        );
    }

    // On the hostchains themselves: each chain carries exactly the anchors the relayer lists for
    // it, each sequence once, with its batch's aggregate root (and heights on the EVM).
    let expected = |chain: &str, heights: bool| -> BTreeMap<u64, Vec<String>> {
        let mut map = BTreeMap::new();
        for batch in &batches {
            if let Some(a) = batch.anchor(chain) {
                let mut entry = batch.root.clone();
                if heights {
                    entry = format!("{entry} {}..={}", batch.from, batch.to);
                }
                map.insert(a.sequence, vec![entry]);
            }
        }
        map
    };
    let on_bitcoin = bitcoin_anchors(&hostchains.bitcoind).await;
    assert_eq!(on_bitcoin, expected(BITCOIN, false), "anchors on Bitcoin");
    let on_evm = evm_anchors(&hostchains.deployer, hostchains.anchor_contract).await;
    assert_eq!(on_evm, expected(EVM, true), "anchors on the EVM");
    let on_solana = solana_anchors(&rpc, &solana_key.pubkey()).await;
    assert_eq!(on_solana, expected(SOLANA, false), "anchors on Solana");

    // The Bitcoin anchors of blocks before the activation still verify.
    for (height, proof) in &proofs {
        let doc: Value = serde_json::from_str(proof).unwrap();
        let listed: BTreeSet<&str> = doc["anchors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["hostchain"].as_str().unwrap())
            .collect();
        assert!(listed.contains(BITCOIN), "proof of {height}: {listed:?}");
        let file = dir.path().join(format!("proof-{height}.json"));
        std::fs::write(&file, proof).unwrap();
        let (ok, out, err) = relayer.cli(&["verify", file.to_str().unwrap()]);
        assert!(ok, "verify refused the proof of {height}: {out}\n{err}");
        assert!(err.contains("proof verified"), "{err}");
        assert!(out.contains(&format!("hostchain {BITCOIN}")), "{out}");
        println!("proof of height {height} verified on {listed:?}");
    }

    let first = switching[0];
    println!(
        "activation height {activation}; {} of {} batches reaching it went to Bitcoin too \
         ({} of them starting at or after it), the last one ending at {}; switch took {} ms from the first batch reaching the activation to Solana's first \
         final anchor ({} ms from the symbiote reaching the activation); {} batches, {} \
         anchors on Bitcoin, {} on the EVM, {} on Solana",
        to_bitcoin.len(),
        switching.len(),
        to_bitcoin.iter().filter(|b| b.from >= activation).count(),
        to_bitcoin.last().unwrap().to,
        solana_final - first.created_at,
        solana_final - activated_at,
        batches.len(),
        on_bitcoin.len(),
        on_evm.len(),
        on_solana.len()
    );
}

/// Entries by sequence, in the order given.
fn by_sequence(entries: impl IntoIterator<Item = (u64, String)>) -> BTreeMap<u64, Vec<String>> {
    let mut seen: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for (sequence, entry) in entries {
        seen.entry(sequence).or_default().push(entry);
    }
    seen
}

/// The anchor payloads in OP_RETURNs of the regtest chain: aggregate roots by sequence.
async fn bitcoin_anchors(node: &Bitcoind) -> BTreeMap<u64, Vec<String>> {
    let payloads = bitcoin_anchor_payloads(node).await;
    by_sequence(
        payloads
            .iter()
            .map(|p| (p.sequence.get(), p.root.to_string())),
    )
}

/// The contract's `Anchored` events: "root from..=to" by sequence.
async fn evm_anchors(
    provider: &alloy::providers::DynProvider,
    contract: alloy::primitives::Address,
) -> BTreeMap<u64, Vec<String>> {
    let events = evm_anchored(provider, contract).await;
    by_sequence(events.iter().map(|e| {
        let entry = format!("{} {}..={}", hex::encode(e.root), e.fromHeight, e.toHeight);
        (e.sequence, entry)
    }))
}

/// The anchor payloads in memos of the relayer's Solana key: aggregate roots by sequence.
async fn solana_anchors(
    rpc: &RpcClient,
    key: &solana_sdk::pubkey::Pubkey,
) -> BTreeMap<u64, Vec<String>> {
    let payloads = solana_anchor_payloads(rpc, key).await;
    by_sequence(
        payloads
            .iter()
            .map(|p| (p.sequence.get(), p.root.to_string())),
    )
}

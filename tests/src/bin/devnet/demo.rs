//! The demo the devnet runs once everything is up: anchors final on the three hostchains, a
//! deposit on the EVM bridge minted on the symbiote, a burn released to a fresh EOA, and a burn
//! to a malicious contract held by the scout with its signed report.

use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, Result};
use devnet::Anvil;
use serde_json::Value;

use crate::evm::{Contracts, ETHER, ether};
use crate::node::{Account, Node};
use crate::relayer::Relayer;
use crate::wait::wait_for;

/// The longest any step may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(300);
/// The hostchains of the devnet's genesis.
pub const HOSTCHAINS: [&str; 3] = ["bitcoin-regtest", "evm-31337", "solana-local"];
/// The hostchain of the demo's bridge transfers.
const EVM: &str = "evm-31337";
/// The demo user's deposit.
const DEPOSIT: u128 = 2 * ETHER;
/// The burn released to an EOA.
const TO_EOA: u128 = ETHER / 2;
/// The burn held on its way to a malicious contract.
const TO_CONTRACT: u128 = ETHER / 10;

/// What the demo works with.
pub struct Demo<'a> {
    pub relayer: &'a mut Relayer,
    pub node: &'a Node,
    pub anvil: &'a Anvil,
    pub contracts: &'a Contracts,
    /// The symbiote's folder, where the demo user's key and the report are written.
    pub dir: &'a Path,
}

fn step(number: usize, title: &str) {
    println!("\n[{number}/4] {title}");
}

impl Demo<'_> {
    /// Runs the four steps; prints how long each took.
    pub async fn run(&mut self) -> Result<()> {
        let started = Instant::now();
        let mut took = Vec::new();

        step(1, "anchors on three chains");
        let t = Instant::now();
        self.anchors().await.context("step 1 (anchors)")?;
        took.push(("anchors final on three chains", t.elapsed()));

        step(2, "a deposit minted");
        let t = Instant::now();
        let user = self.deposit().await.context("step 2 (deposit)")?;
        took.push(("deposit minted", t.elapsed()));

        step(3, "a burn released");
        let t = Instant::now();
        self.release(&user).await.context("step 3 (release)")?;
        took.push(("burn released", t.elapsed()));

        step(4, "a release to a malicious contract held");
        let t = Instant::now();
        self.hold(&user).await.context("step 4 (hold)")?;
        took.push(("release held", t.elapsed()));

        let phases: Vec<String> = took
            .iter()
            .map(|(what, d)| format!("{what} {:.0}s", d.as_secs_f64()))
            .collect();
        println!(
            "\ndemo complete in {:.0}s ({})",
            started.elapsed().as_secs_f64(),
            phases.join(", ")
        );
        Ok(())
    }

    /// Waits until each hostchain has a final anchor.
    async fn anchors(&mut self) -> Result<()> {
        let api = self.relayer.api.clone();
        let mut reported = BTreeSet::new();
        wait_for(
            &format!(
                "a final anchor on each of {} (relayer {}/v1/anchors)",
                HOSTCHAINS.join(", "),
                api.url
            ),
            STEP_TIMEOUT,
            self.relayer,
            async || {
                let anchors = api.get("/v1/anchors?limit=500").await?;
                for row in anchors.as_array()?.iter().rev() {
                    let chain = row["hostchain"].as_str().unwrap_or_default();
                    if row["state"] == "final" && reported.insert(chain.to_string()) {
                        println!(
                            "  {chain}: anchor {} of batch {} final, tx {}",
                            row["sequence"],
                            row["batch_id"],
                            row["tx_id"].as_str().unwrap_or("?")
                        );
                    }
                }
                (reported.len() == HOSTCHAINS.len()).then_some(())
            },
        )
        .await
    }

    /// A native deposit on the EVM bridge for a fresh symbiote account, minted on the symbiote.
    async fn deposit(&mut self) -> Result<Account> {
        let api = self.relayer.api.clone();
        let node = self.node;
        let user = node.keygen(&self.dir.join("demo-user.key")).await?;
        let evm_user = self.contracts.funded_user(self.anvil).await?;
        let depositor = evm_user.address();
        println!(
            "  demo user: symbiote account {} (key {}), EVM account {depositor}",
            user.public,
            user.key_file.display()
        );
        let recipient = B256::from_str(&user.public)
            .with_context(|| format!("{} is not a 32-byte public key", user.public))?;
        let mined = self
            .contracts
            .deposit_native(evm_user, recipient, DEPOSIT)
            .await?;
        println!(
            "  depositNative({}) with {} on the bridge {}: tx {} in block {}",
            user.public,
            ether(DEPOSIT),
            self.contracts.bridge,
            mined.hash,
            mined.block
        );
        let minted = wait_for(
            &format!(
                "the wrapped {EVM}:native balance of the demo user on the symbiote (node {}/v1/accounts/{})",
                node.url, user.public
            ),
            STEP_TIMEOUT,
            self.relayer,
            async || {
                let balance = node.wrapped_balance(&user, EVM, "native").await?;
                (balance >= DEPOSIT).then_some(balance)
            },
        )
        .await?;
        println!(
            "  minted: the demo user holds {} of {EVM}:native on the symbiote",
            ether(minted)
        );
        let tx = mined.hash.to_string();
        let row = wait_for(
            &format!(
                "the deposit recorded as minted (relayer {}/v1/deposits)",
                api.url
            ),
            STEP_TIMEOUT,
            self.relayer,
            async || {
                let rows = api.get("/v1/deposits?state=minted").await?;
                rows.as_array()?
                    .iter()
                    .find(|d| {
                        d["tx"]
                            .as_str()
                            .is_some_and(|t| t.eq_ignore_ascii_case(&tx))
                    })
                    .cloned()
            },
        )
        .await?;
        println!(
            "  relayer /v1/deposits: deposit {} minted, attested in symbiote tx {}",
            row["id"],
            row["attest_tx"].as_str().unwrap_or("?")
        );
        Ok(user)
    }

    /// A burn to a fresh EOA, paid by the bridge on anvil.
    async fn release(&mut self, user: &Account) -> Result<()> {
        let api = self.relayer.api.clone();
        let contracts = self.contracts;
        let eoa = PrivateKeySigner::random().address();
        let nonce = self
            .node
            .burn(user, EVM, "native", TO_EOA, &eoa.to_string())
            .await?;
        println!(
            "  burned {} of {EVM}:native to the fresh EOA {eoa}: withdrawal order {nonce}",
            ether(TO_EOA)
        );
        let detail = wait_for(
            &format!(
                "{} at {eoa} on anvil, and release {nonce} `released` (relayer {}/v1/releases/{nonce})",
                ether(TO_EOA),
                api.url
            ),
            STEP_TIMEOUT,
            self.relayer,
            async || {
                let paid = contracts.balance(eoa).await.ok()?;
                if paid < U256::from(TO_EOA) {
                    return None;
                }
                let detail = api.get(&format!("/v1/releases/{nonce}")).await?;
                (detail["release"]["state"] == "released").then_some(detail)
            },
        )
        .await?;
        let paid = contracts.balance(eoa).await?;
        println!(
            "  released: {eoa} holds {} on anvil; release tx {}, scout verdict {}",
            ether(u128::try_from(paid).unwrap_or(u128::MAX)),
            detail["release"]["tx_id"].as_str().unwrap_or("?"),
            detail["release"]["verdict"].as_str().unwrap_or("?")
        );
        Ok(())
    }

    /// A burn to the `SelfDestructor` fixture, held by the scout with a signed report that
    /// `relayer scout verify` confirms.
    async fn hold(&mut self, user: &Account) -> Result<()> {
        let api = self.relayer.api.clone();
        let target: Address = self.contracts.deploy_self_destructor().await?;
        println!("  deployed the SelfDestructor fixture at {target}");
        let nonce = self
            .node
            .burn(user, EVM, "native", TO_CONTRACT, &target.to_string())
            .await?;
        println!(
            "  burned {} of {EVM}:native to {target}: withdrawal order {nonce}",
            ether(TO_CONTRACT)
        );
        let hold = wait_for(
            &format!(
                "release {nonce} held by the scout (relayer {}/v1/holds)",
                api.url
            ),
            STEP_TIMEOUT,
            self.relayer,
            async || {
                let holds = api.get("/v1/holds").await?;
                holds
                    .as_array()?
                    .iter()
                    .find(|h| h["release"]["nonce"] == nonce && h["release"]["state"] == "held")
                    .cloned()
            },
        )
        .await?;
        let hash = hold["release"]["report_hash"]
            .as_str()
            .context("the hold has no report hash")?
            .to_string();
        println!(
            "  held: verdict {}, findings {}; nothing paid to {target} ({})",
            hold["release"]["verdict"].as_str().unwrap_or("?"),
            finding_codes(&hold["report"]).join(", "),
            ether(u128::try_from(self.contracts.balance(target).await?).unwrap_or(u128::MAX))
        );
        let report = api.text(&format!("/v1/reports/{hash}")).await?;
        let file = self.dir.join(format!("report-{nonce}.json"));
        std::fs::write(&file, &report).with_context(|| format!("writing {}", file.display()))?;
        println!("  the signed report: {}/v1/reports/{hash}", api.url);
        println!(
            "  check it:  curl -s {}/v1/reports/{hash} > report.json && relayer --config {} scout verify report.json",
            api.url,
            self.relayer.config.display()
        );
        let (confirmed, output) = self.relayer.verify_report(&file).await?;
        let last = output.lines().last().unwrap_or_default();
        if !confirmed {
            anyhow::bail!("relayer scout verify {} failed: {output}", file.display());
        }
        println!("  relayer scout verify {}: {last}", file.display());
        Ok(())
    }
}

/// The codes of a report's findings and of the policy applied on top of them.
fn finding_codes(report: &Value) -> Vec<String> {
    let body = &report["body"];
    body["inspection"]["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(body["policy"].as_array().into_iter().flatten())
        .filter_map(|f| f["code"].as_str().map(str::to_string))
        .collect()
}

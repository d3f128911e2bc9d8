//! A relayer whose symbiote node lies. A tampering proxy (a real HTTP server, `devnet::tamper`)
//! sits between one operator of a 2-of-2 relayer set and a 4-validator symbiote; anvil holds
//! the bridge contract and the Solana test validator the vault. While the proxy hides a block's
//! transactions, changes withdrawal orders' amounts or destinations, invents an order paying
//! the whole vault to an attacker, reports a relayer set of one, answers from another height or
//! hides the operator's own approvals, the operator publishes nothing on the symbiote (its
//! nonce stands still), pays nothing on either hostchain, says what was false in its log and
//! its metrics, and is not ready. A node that stops showing newer blocks makes it not ready
//! either. Once the proxy turns honest, the same releases are paid.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use chain_adapters::evm::bindings::{SymbioteAnchor, SymbioteBridge};
use chain_adapters::solana::keys;
use devnet::symbiote::{NetworkOptions, SymbioteNetwork};
use devnet::tamper::{Tamper, TamperingProxy};
use devnet::{Anvil, SolanaValidator};
use solana_client::nonblocking::rpc_client::RpcClient;
use solana_commitment_config::CommitmentConfig;
use solana_sdk::signature::{Keypair as SolKeypair, Signer};
use support::{
    RelayerProcess, airdrop, evm_key, relayer_toml_head, sqlite_url, submit, symbiote_bin,
    wait_for, wallet,
};
use symbiote::client::NodeClient;
use symbiote::crypto::{Keypair, PublicKey};
use symbiote::tx::{Deposit, DepositId, Transaction};
use symbiote::types::{Amount, HostAddress, HostTxId, HostchainId, Nonce, TokenId};

const TIMEOUT: Duration = Duration::from_secs(240);
const POLL: Duration = Duration::from_millis(300);
const ETHER: u128 = 1_000_000_000_000_000_000;
const SOL: u64 = 1_000_000_000;
const EVM: &str = "evm-31337";
const SOLANA: &str = "solana-local";

/// The value of the metric `name` (without labels) in `relayer`'s `/metrics`.
async fn metric(relayer: &RelayerProcess, name: &str) -> f64 {
    let text = relayer.text("/metrics").await;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// The HTTP status of `relayer`'s `/ready`.
async fn ready_status(relayer: &RelayerProcess) -> u16 {
    reqwest::get(format!("{}/ready", relayer.api))
        .await
        .map_or(0, |r| r.status().as_u16())
}

async fn nonce(node: &NodeClient, key: &PublicKey) -> Nonce {
    node.account(key).await.unwrap().nonce
}

const FALSE_ANSWERS: &str = "relayer_node_false_answers_total";

/// Waits until `relayer`'s `/ready` is 200.
async fn wait_ready(relayer: &RelayerProcess) {
    wait_for("the relayer ready", TIMEOUT, POLL, &[relayer], || async {
        (ready_status(relayer).await == 200).then_some(())
    })
    .await;
}

/// Has `proxy` tell `lie` to `relayer` until the relayer has found two of its answers false;
/// the operator `operator` has still published nothing on the symbiote past nonce `published`,
/// and the relayer is not ready.
async fn lie_refused(
    proxy: &TamperingProxy,
    relayer: &RelayerProcess,
    (node, operator, published): (&NodeClient, &PublicKey, Nonce),
    lie: Tamper,
) {
    proxy.set(lie.clone());
    let (false_before, tampered_before) = (metric(relayer, FALSE_ANSWERS).await, proxy.tampered());
    wait_for(
        &format!("the relayer to find {lie:?} false, twice"),
        TIMEOUT,
        POLL,
        &[relayer],
        || async {
            let found = metric(relayer, FALSE_ANSWERS).await;
            (found >= false_before + 2.0 && proxy.tampered() >= tampered_before + 2).then_some(())
        },
    )
    .await;
    assert_eq!(ready_status(relayer).await, 503, "{lie:?}");
    assert_eq!(
        nonce(node, operator).await,
        published,
        "{lie:?}: the operator published on the symbiote\n{}",
        relayer.log()
    );
}

/// Mints `amount` of `hostchain`'s native token to `user` with both genesis relayers' keys
/// (the relayer set is 2 of 2), before any relayer process runs.
async fn mint(
    node: &NodeClient,
    relayers: &[Keypair],
    user: &Keypair,
    hostchain: &str,
    amount: u128,
) {
    let deposit = Deposit {
        id: DepositId {
            hostchain: HostchainId::new(hostchain).unwrap(),
            tx: HostTxId::new(&format!("0xfunding-{hostchain}")).unwrap(),
            index: 0,
        },
        token: TokenId::native(),
        amount: Amount::new(amount),
        recipient: user.public(),
    };
    for key in relayers {
        let body = Transaction::Attest {
            deposits: vec![deposit.clone()],
        };
        submit(node, key, body, TIMEOUT).await;
    }
}

async fn burn(node: &NodeClient, user: &Keypair, hostchain: &str, amount: u128, to: &str) {
    let body = Transaction::Burn {
        hostchain: HostchainId::new(hostchain).unwrap(),
        token: TokenId::native(),
        amount: Amount::new(amount),
        destination: HostAddress::new(to).unwrap(),
    };
    submit(node, user, body, TIMEOUT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lying_node_gets_no_signature_and_no_payment() {
    let options = NetworkOptions {
        hostchains: vec![EVM.into(), SOLANA.into()],
        relayers: 2,
        relayer_threshold: 2,
        ..NetworkOptions::default()
    };
    let bin = symbiote_bin();
    let (net, anvil, solana) = tokio::join!(
        SymbioteNetwork::start(&bin, &options),
        Anvil::start(),
        SolanaValidator::start()
    );
    let (net, anvil, solana) = (net.unwrap(), anvil.unwrap(), solana.unwrap());
    let node = NodeClient::new(&net.url(0));
    let relayer_keys: Vec<Keypair> = (0..2)
        .map(|i| symbiote::keyfile::read(&net.dir().join(format!("relayer-{i}.key"))).unwrap())
        .collect();

    // ---- EVM: a 2-of-2 bridge holding 10 ETH.
    let relayer_evm: Vec<PrivateKeySigner> = (0..2)
        .map(|i| evm_key(&net.dir().join(format!("relayer-{i}.evm.key"))))
        .collect();
    let deployer_key = PrivateKeySigner::random();
    for address in relayer_evm
        .iter()
        .map(|k| k.address())
        .chain([deployer_key.address()])
    {
        anvil
            .set_balance(&address.to_string(), 1_000 * ETHER)
            .await
            .unwrap();
    }
    let deployer = wallet(&anvil, deployer_key);
    let members: Vec<Address> = relayer_evm.iter().map(|k| k.address()).collect();
    let bridge = *SymbioteBridge::deploy(&deployer, members.clone(), U256::from(2))
        .await
        .unwrap()
        .address();
    anvil
        .set_balance(&bridge.to_string(), 10 * ETHER)
        .await
        .unwrap();
    // The anchor contract holds the symbiote's relayer set already: no rotation to sign.
    let anchor = *SymbioteAnchor::deploy(&deployer, members.clone(), U256::from(2))
        .await
        .unwrap()
        .address();
    let start_block = deployer.get_block_number().await.unwrap();
    let miner = support::spawn_miner(Duration::from_millis(700), &anvil, None);

    // ---- Solana: a vault holding 20 SOL (its key held by both operators), fee payers.
    let rpc =
        RpcClient::new_with_commitment(solana.rpc_url().to_string(), CommitmentConfig::confirmed());
    let vault = SolKeypair::new();
    let payers = [SolKeypair::new(), SolKeypair::new()];
    for key in payers.iter().chain([&vault]) {
        airdrop(&rpc, &key.pubkey(), 20 * SOL, TIMEOUT).await;
    }
    let vault_before = rpc.get_balance(&vault.pubkey()).await.unwrap();

    // ---- A user holding wrapped ETH and SOL on the symbiote.
    let user = Keypair::generate();
    mint(&node, &relayer_keys, &user, EVM, 3 * ETHER).await;
    mint(&node, &relayer_keys, &user, SOLANA, u128::from(10 * SOL)).await;

    // ---- Operator 0 behind the proxy; operator 1 (on an honest node) joins at the end.
    let proxy = TamperingProxy::start(&net.url(0)).await.unwrap();
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut relayers = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        std::fs::write(dir.path().join("solana.json"), keys::to_json(&payers[i])).unwrap();
        std::fs::write(dir.path().join("vault.json"), keys::to_json(&vault)).unwrap();
        relayers.push(RelayerProcess::configured(
            dir.path(),
            "relayer.toml",
            |port| {
                let mut head = relayer_toml_head(&net, i, &sqlite_url(dir.path()), port).replace(
                    "poll_interval_ms = 200",
                    "poll_interval_ms = 200\nmax_head_age_seconds = 5",
                );
                if i == 0 {
                    head = head.replace(&net.url(0), &proxy.url());
                }
                format!(
                    r#"{head}
[batch]
every_blocks = 50
every_seconds = 5

[anchoring]
max_backoff_seconds = 3

[bridge]
enabled = true
key_file = "{key}"
poll_interval_ms = 300

[hostchains.evm-31337]
kind = "evm"
rpc_url = "{evm}"
key_file = "{evm_key}"
anchor_contract = "{anchor}"
bridge_contract = "{bridge}"
confirmations = 2
deposit_start_block = {start_block}

[hostchains.solana-local]
kind = "solana"
rpc_url = "{solana}"
key_file = "solana.json"
vault_key_file = "vault.json"
"#,
                    key = net.dir().join(format!("relayer-{i}.key")).display(),
                    evm = anvil.rpc_url(),
                    evm_key = net.dir().join(format!("relayer-{i}.evm.key")).display(),
                    solana = solana.rpc_url(),
                )
            },
        ));
    }
    let operator = relayer_keys[0].public();
    let published = nonce(&node, &operator).await;

    // The node hides blocks' transactions from the start: the follower stores nothing past
    // the first block with transactions, so the burns below are never seen.
    proxy.set(Tamper::HideBlockTxs);
    relayers[0].start();
    let eoa = PrivateKeySigner::random().address();
    let sol_wallet = SolKeypair::new().pubkey();
    burn(&node, &user, EVM, ETHER / 2, &eoa.to_string()).await;
    burn(
        &node,
        &user,
        SOLANA,
        u128::from(SOL),
        &sol_wallet.to_string(),
    )
    .await;

    let attacker_evm = PrivateKeySigner::random().address();
    let attacker_sol = SolKeypair::new().pubkey();
    let nothing_paid = || async {
        assert_eq!(deployer.get_balance(eoa).await.unwrap(), U256::ZERO);
        assert_eq!(
            deployer.get_balance(attacker_evm).await.unwrap(),
            U256::ZERO
        );
        assert_eq!(
            deployer.get_balance(bridge).await.unwrap(),
            U256::from(10 * ETHER)
        );
        assert_eq!(rpc.get_balance(&sol_wallet).await.unwrap(), 0);
        assert_eq!(rpc.get_balance(&attacker_sol).await.unwrap(), 0);
        assert_eq!(
            rpc.get_balance(&vault.pubkey()).await.unwrap(),
            vault_before
        );
    };
    let lies = [
        Tamper::HideBlockTxs,
        Tamper::ChangeAmount,
        Tamper::ChangeDestination(vec![
            (
                HostchainId::new(EVM).unwrap(),
                HostAddress::new(&attacker_evm.to_string()).unwrap(),
            ),
            (
                HostchainId::new(SOLANA).unwrap(),
                HostAddress::new(&attacker_sol.to_string()).unwrap(),
            ),
        ]),
        Tamper::InventOrder {
            hostchain: HostchainId::new(SOLANA).unwrap(),
            destination: HostAddress::new(&attacker_sol.to_string()).unwrap(),
            amount: Amount::new(u128::from(vault_before)),
        },
        Tamper::RelayerSetOfOne,
        Tamper::OtherHeight,
    ];
    for lie in lies {
        lie_refused(&proxy, &relayers[0], (&node, &operator, published), lie).await;
        nothing_paid().await;
    }

    // Honest: the operator approves both orders (its nonce moves), but alone it is not a
    // threshold of 2, so nothing is paid yet.
    proxy.set(Tamper::Honest);
    wait_for(
        "the operator's approvals of both orders",
        TIMEOUT,
        POLL,
        &[&relayers[0]],
        || async {
            let orders = node
                .withdrawals_of(&[Nonce::new(1), Nonce::new(2)])
                .await
                .ok()?;
            (orders.len() == 2 && orders.iter().all(|o| o.approvals.contains_key(&operator)))
                .then_some(())
        },
    )
    .await;
    wait_ready(&relayers[0]).await;
    nothing_paid().await;

    // The node hides the operator's approvals: it does not approve again.
    let published = nonce(&node, &operator).await;
    let operator_state = (&node, &operator, published);
    lie_refused(&proxy, &relayers[0], operator_state, Tamper::HideApproval).await;
    nothing_paid().await;

    // The node stops showing newer blocks (its answers true, but ever older): once the last
    // verified block is older than `max_head_age_seconds`, the relayer is not ready.
    proxy.set(Tamper::FreezeHead);
    wait_for(
        "the relayer to see its head stale",
        TIMEOUT,
        POLL,
        &[&relayers[0]],
        || async {
            let ready = reqwest::get(format!("{}/ready", relayers[0].api))
                .await
                .ok()?;
            let status = ready.status().as_u16();
            let body: serde_json::Value = ready.json().await.ok()?;
            (status == 503 && body["verified_head_fresh"] == false).then_some(())
        },
    )
    .await;

    // Each kind of lie is named in the log.
    let log = std::fs::read_to_string(relayers[0].log_file()).unwrap();
    for said in [
        "served a false block",
        "withdrawal order",
        "the chain's counters",
        "the validator, hostchain and relayer sets",
        "is false",
    ] {
        assert!(log.contains(said), "the log does not say {said:?}:\n{log}");
    }

    // Honest again, and the second operator joins: both releases are paid, to the right
    // destinations and amounts, and nothing to the attacker.
    proxy.set(Tamper::Honest);
    relayers[1].start();
    wait_for(
        "both releases paid",
        TIMEOUT,
        POLL,
        &[&relayers[0], &relayers[1]],
        || async {
            let evm_paid = deployer.get_balance(eoa).await.ok()? == U256::from(ETHER / 2);
            let sol_paid = rpc.get_balance(&sol_wallet).await.ok()? == SOL;
            (evm_paid && sol_paid).then_some(())
        },
    )
    .await;
    assert_eq!(
        deployer.get_balance(attacker_evm).await.unwrap(),
        U256::ZERO
    );
    assert_eq!(rpc.get_balance(&attacker_sol).await.unwrap(), 0);
    wait_ready(&relayers[0]).await;
    drop(miner);
}

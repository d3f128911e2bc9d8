//! The bridge end to end with two relayer operators (separate keys and databases, a 2-of-2
//! relayer set) against a 4-validator symbiote, anvil with the bridge contract, and the Solana
//! test validator with a vault:
//!
//! - native and ERC-20 deposits on the EVM bridge and a SOL deposit to the vault are minted
//!   once, also across a SIGKILL and restart; a replayed mint is refused; a deposit without a
//!   recipient is listed for refund;
//! - burns are released to an EOA on anvil and to a wallet on Solana, each with approvals of
//!   both operators collected from symbiote state; a replayed release is refused by the
//!   bridge;
//! - releases to the honeypot token, the self-destructing contract, the proxy to unverified
//!   logic, a forwarder and an EOA delegating to the forwarder (EIP-7702) are held with the
//!   right findings; an allow-listed contract and a plain EOA pass;
//! - governance lifts one hold (the release is paid) and refunds another (the burner is
//!   credited back);
//! - a report re-verified at its block gives the same verdict; one changed byte fails it;
//! - a large Solana release waits in the relayer's queue for its delay, visibly, then is paid.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use chain_adapters::evm::bindings::{SymbioteAnchor, SymbioteBridge, typed};
use chain_adapters::evm::{EvmAdapter, EvmConfig};
use chain_adapters::solana::deposits::recipient_memo;
use chain_adapters::solana::keys;
use devnet::symbiote::{NetworkOptions, SymbioteNetwork};
use devnet::{Anvil, SolanaValidator};
use serde_json::Value;
use solana_client::nonblocking::rpc_client::RpcClient;
use solana_commitment_config::CommitmentConfig;
use solana_sdk::signature::{Keypair as SolKeypair, Signer};
use support::{
    RelayerProcess, airdrop, evm_key, govern, relayer_toml_head, send, spawn_miner, sqlite_url,
    submit, symbiote_bin, wait_for, wallet,
};
use symbiote::client::NodeClient;
use symbiote::crypto::Keypair;
use symbiote::state::WithdrawalStatus;
use symbiote::tx::{Asset, GovernanceChange, SignedTransaction, Transaction};
use symbiote::types::{Amount, HostAddress, HostchainId, Nonce, TokenId};

sol!(
    #[sol(rpc)]
    PlainToken,
    "../contracts/artifacts/PlainToken.json"
);
sol!(
    #[sol(rpc)]
    HoneypotToken,
    "../contracts/artifacts/HoneypotToken.json"
);
sol!(
    #[sol(rpc)]
    SelfDestructor,
    "../contracts/artifacts/SelfDestructor.json"
);
sol!(
    #[sol(rpc)]
    ProxyToUnverified,
    "../contracts/artifacts/ProxyToUnverified.json"
);
sol!(
    #[sol(rpc)]
    UnverifiedLogic,
    "../contracts/artifacts/UnverifiedLogic.json"
);
sol!(
    #[sol(rpc)]
    Forwarder,
    "../contracts/artifacts/Forwarder.json"
);

const TIMEOUT: Duration = Duration::from_secs(300);
/// How often a wait polls the relayers, the symbiote and the hostchains.
const POLL: Duration = Duration::from_millis(300);
const ETHER: u128 = 1_000_000_000_000_000_000;
const SOL: u64 = 1_000_000_000;
const EVM: &str = "evm-31337";
const SOLANA: &str = "solana-local";

async fn balance(node: &NodeClient, key: &Keypair, hostchain: &str, token: &str) -> Amount {
    let wanted = Asset::Wrapped {
        hostchain: HostchainId::new(hostchain).unwrap(),
        token: TokenId::new(token).unwrap(),
    };
    node.account(&key.public())
        .await
        .unwrap()
        .balances
        .into_iter()
        .find(|b| b.asset == wanted)
        .map_or(Amount::ZERO, |b| b.amount)
}

/// A burn of `amount` of `token` to `destination`; returns the withdrawal order's nonce.
async fn burn(
    node: &NodeClient,
    user: &Keypair,
    hostchain: &str,
    token: &str,
    amount: u128,
    destination: impl std::fmt::Display,
) -> Nonce {
    let before = node.withdrawals(Nonce::new(1), 1_000).await.unwrap().len();
    let body = Transaction::Burn {
        hostchain: HostchainId::new(hostchain).unwrap(),
        token: TokenId::new(token).unwrap(),
        amount: Amount::new(amount),
        destination: HostAddress::new(&destination.to_string()).unwrap(),
    };
    submit(node, user, body, TIMEOUT).await;
    let orders = node.withdrawals(Nonce::new(1), 1_000).await.unwrap();
    assert_eq!(orders.len(), before + 1);
    orders.last().unwrap().nonce
}

async fn order_status(node: &NodeClient, nonce: Nonce) -> WithdrawalStatus {
    node.withdrawals(nonce, 1).await.unwrap()[0].status
}

/// What `relayer`'s API says of the release of `nonce`; `None` until it knows it.
async fn release_detail(relayer: &RelayerProcess, nonce: Nonce) -> Option<Value> {
    relayer.get(&format!("/v1/releases/{}", nonce.get())).await
}

async fn release_state(relayer: &RelayerProcess, nonce: Nonce) -> Option<String> {
    let detail = release_detail(relayer, nonce).await?;
    detail["release"]["state"].as_str().map(str::to_string)
}

/// The states a release moved to, from its detail, oldest first.
fn history_states(detail: &Value) -> Vec<&str> {
    detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["to"].as_str().unwrap())
        .collect()
}

/// Waits until `to` holds `amount` on the EVM: a release to it is paid (`what`).
async fn wait_evm_paid(
    what: &str,
    relayers: &[RelayerProcess],
    evm: &DynProvider,
    to: Address,
    amount: U256,
) {
    let logs_of: Vec<&RelayerProcess> = relayers.iter().collect();
    wait_for(what, TIMEOUT, POLL, &logs_of, || async {
        (evm.get_balance(to).await.ok()? == amount).then_some(())
    })
    .await;
}

/// Waits until each of `relayers` in turn shows the release of `nonce` in `state`.
async fn wait_release_state(relayers: &[RelayerProcess], nonce: Nonce, state: &str) {
    for relayer in relayers {
        wait_for(
            &format!("release {nonce} {state}"),
            TIMEOUT,
            POLL,
            &[relayer],
            || async { (release_state(relayer, nonce).await? == state).then_some(()) },
        )
        .await;
    }
}

fn finding_codes(detail: &Value) -> Vec<String> {
    let body = &detail["report"]["body"];
    body["inspection"]["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(body["policy"].as_array().into_iter().flatten())
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_operators_mint_release_and_hold_across_evm_and_solana() {
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
    let symbiote_id = node.node_info().await.unwrap().symbiote;

    // ---- EVM: the relayers' keys from the genesis, the bridge with both (2 of 2), an anchor
    // contract per relayer, and the scout fixtures.
    let relayer_evm: Vec<PrivateKeySigner> = (0..2)
        .map(|i| evm_key(&net.dir().join(format!("relayer-{i}.evm.key"))))
        .collect();
    let deployer_key = PrivateKeySigner::random();
    let user_evm_key = PrivateKeySigner::random();
    for address in relayer_evm
        .iter()
        .map(|k| k.address())
        .chain([deployer_key.address(), user_evm_key.address()])
    {
        anvil
            .set_balance(&address.to_string(), 1_000 * ETHER)
            .await
            .unwrap();
    }
    let deployer = wallet(&anvil, deployer_key.clone());
    let relayer_addresses: Vec<Address> = relayer_evm.iter().map(|k| k.address()).collect();
    let bridge = *SymbioteBridge::deploy(&deployer, relayer_addresses.clone(), U256::from(2))
        .await
        .unwrap()
        .address();
    let mut anchors = Vec::new();
    for address in &relayer_addresses {
        anchors.push(
            *SymbioteAnchor::deploy(&deployer, vec![*address], U256::from(1))
                .await
                .unwrap()
                .address(),
        );
    }
    let user_evm = wallet(&anvil, user_evm_key.clone());
    let token = PlainToken::deploy(&user_evm, "Plain".into(), "PLN".into())
        .await
        .unwrap();
    let honeypot = *HoneypotToken::deploy(&deployer, U256::from(1_000_000))
        .await
        .unwrap()
        .address();
    let destructor = *SelfDestructor::deploy(&deployer).await.unwrap().address();
    let logic = *UnverifiedLogic::deploy(&deployer, deployer_key.address())
        .await
        .unwrap()
        .address();
    let proxy = *ProxyToUnverified::deploy(&deployer, logic)
        .await
        .unwrap()
        .address();
    let forwarder = *Forwarder::deploy(&deployer, deployer_key.address())
        .await
        .unwrap()
        .address();
    let allowed = *Forwarder::deploy(&deployer, user_evm_key.address())
        .await
        .unwrap()
        .address();
    // An EOA that delegates its code to the forwarder (EIP-7702 designator).
    let delegating = PrivateKeySigner::random().address();
    let mut designator = vec![0xef, 0x01, 0x00];
    designator.extend_from_slice(forwarder.as_slice());
    anvil
        .call(
            "anvil_setCode",
            serde_json::json!([
                delegating.to_string(),
                format!("0x{}", hex::encode(&designator))
            ]),
        )
        .await
        .unwrap();
    let start_block = deployer.get_block_number().await.unwrap();

    // ---- Solana: a vault (its key held by both operators) and each operator's fee payer.
    let rpc =
        RpcClient::new_with_commitment(solana.rpc_url().to_string(), CommitmentConfig::confirmed());
    let vault = SolKeypair::new();
    let payers = [SolKeypair::new(), SolKeypair::new()];
    let depositor = SolKeypair::new();
    for key in payers.iter().chain([&depositor]) {
        airdrop(&rpc, &key.pubkey(), 20 * SOL, TIMEOUT).await;
    }

    // Blocks often on anvil, so that confirmations come.
    let miner = spawn_miner(Duration::from_millis(700), &anvil, None);

    // ---- The two operators.
    let mut relayers = Vec::new();
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    for (i, dir) in dirs.iter().enumerate() {
        std::fs::write(dir.path().join("solana.json"), keys::to_json(&payers[i])).unwrap();
        std::fs::write(dir.path().join("vault.json"), keys::to_json(&vault)).unwrap();
        let mut relayer = RelayerProcess::configured(dir.path(), "relayer.toml", |port| {
            format!(
                r#"{head}
[batch]
every_blocks = 50
every_seconds = 5

[bridge]
enabled = true
key_file = "{key}"
poll_interval_ms = 300
takeover_seconds = 15

[bridge.limits."solana-local:native"]
large_transfer = "{large}"
delay_seconds = 4

[scout]
allow = ["evm-31337:{allowed}"]

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
                head = relayer_toml_head(&net, i, &sqlite_url(dir.path()), port),
                key = net.dir().join(format!("relayer-{i}.key")).display(),
                large = 5 * SOL,
                evm = anvil.rpc_url(),
                evm_key = net.dir().join(format!("relayer-{i}.evm.key")).display(),
                anchor = anchors[i],
                solana = solana.rpc_url(),
            )
        });
        relayer.start();
        relayers.push(relayer);
    }

    // ---- Deposits: native and ERC-20 on the EVM bridge, SOL to the vault, and one deposit
    // that names no valid account.
    let user = Keypair::generate();
    let recipient = B256::from(user.public().to_bytes());
    let user_bridge = SymbioteBridge::new(bridge, &user_evm);
    send(
        user_bridge
            .depositNative(recipient)
            .value(U256::from(3 * ETHER)),
    )
    .await;
    send(token.mint(user_evm_key.address(), U256::from(1_000))).await;
    send(token.approve(bridge, U256::from(1_000))).await;
    send(user_bridge.depositToken(*token.address(), U256::from(1_000), recipient)).await;
    // 32 bytes that are not an ed25519 public key: no account can receive this deposit.
    let nobody = (1u8..=255)
        .map(|b| [b; 32])
        .find(|bytes| symbiote::crypto::PublicKey::from_bytes(bytes).is_err())
        .map(B256::from)
        .unwrap();
    send(user_bridge.depositNative(nobody).value(U256::from(5u64))).await;
    {
        let ixs = vec![
            solana_system_interface::instruction::transfer(
                &depositor.pubkey(),
                &vault.pubkey(),
                10 * SOL,
            ),
            spl_memo_interface::instruction::build_memo(
                &spl_memo_interface::v3::id(),
                recipient_memo(&user.public()).as_bytes(),
                &[&depositor.pubkey()],
            ),
        ];
        let blockhash = rpc.get_latest_blockhash().await.unwrap();
        let tx = solana_sdk::transaction::Transaction::new_signed_with_payer(
            &ixs,
            Some(&depositor.pubkey()),
            &[&depositor],
            blockhash,
        );
        rpc.send_and_confirm_transaction(&tx).await.unwrap();
    }
    let token_id = wait_for(
        "the ERC-20 token's id on the symbiote",
        TIMEOUT,
        POLL,
        &[&relayers[0]],
        || async {
            let account = node.account(&user.public()).await.ok()?;
            account.balances.iter().find_map(|b| match &b.asset {
                Asset::Wrapped { hostchain, token }
                    if hostchain.as_str() == EVM && !token.is_native() =>
                {
                    Some(token.as_str().to_string())
                }
                _ => None,
            })
        },
    )
    .await;
    wait_for(
        "the three deposits minted",
        TIMEOUT,
        POLL,
        &[&relayers[0], &relayers[1]],
        || async {
            let eth = balance(&node, &user, EVM, "native").await;
            let erc = balance(&node, &user, EVM, &token_id).await;
            let sol = balance(&node, &user, SOLANA, "native").await;
            (eth == Amount::new(3 * ETHER)
                && erc == Amount::new(1_000)
                && sol == Amount::new(u128::from(10 * SOL)))
            .then_some(())
        },
    )
    .await;

    // Exactly once: a SIGKILL and restart of one operator, more blocks, same balances.
    relayers[0].kill();
    relayers[0].start();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        balance(&node, &user, EVM, "native").await,
        Amount::new(3 * ETHER)
    );
    assert_eq!(
        balance(&node, &user, EVM, &token_id).await,
        Amount::new(1_000)
    );
    // The deposit without a recipient is listed for refund by both operators.
    for relayer in &relayers {
        let unroutable = wait_for(
            "the unroutable deposit listed",
            TIMEOUT,
            POLL,
            &[relayer],
            || async {
                let rows = relayer.get("/v1/deposits?state=unroutable").await?;
                rows.as_array()?
                    .iter()
                    .find(|d| d["hostchain"] == EVM)
                    .cloned()
            },
        )
        .await;
        assert_eq!(unroutable["amount"], "5");
        assert_eq!(
            unroutable["depositor"].as_str().unwrap().to_lowercase(),
            user_evm_key.address().to_string().to_lowercase()
        );
    }
    // A replayed mint of a minted deposit is refused by the symbiote.
    let minted = relayers[0].get("/v1/deposits?state=minted").await.unwrap();
    let first = &minted.as_array().unwrap()[0];
    let deposit = symbiote::tx::Deposit {
        id: symbiote::tx::DepositId {
            hostchain: HostchainId::new(first["hostchain"].as_str().unwrap()).unwrap(),
            tx: symbiote::types::HostTxId::new(first["tx"].as_str().unwrap()).unwrap(),
            index: first["event_index"].as_u64().unwrap() as u32,
        },
        token: TokenId::new(first["token"].as_str().unwrap()).unwrap(),
        amount: first["amount"].as_str().unwrap().parse().unwrap(),
        recipient: user.public(),
    };
    let relayer_keys: Vec<Keypair> = (0..2)
        .map(|i| symbiote::keyfile::read(&net.dir().join(format!("relayer-{i}.key"))).unwrap())
        .collect();
    let replay = SignedTransaction::sign(
        &relayer_keys[0],
        symbiote_id,
        node.account(&relayer_keys[0].public()).await.unwrap().nonce,
        Transaction::Mint {
            attestations: vec![
                (0, deposit.attest(symbiote_id, &relayer_keys[0])),
                (1, deposit.attest(symbiote_id, &relayer_keys[1])),
            ],
            deposit,
        },
    );
    let refused = node.submit(&replay).await.unwrap_err().to_string();
    assert!(refused.contains("already minted"), "{refused}");

    // ---- Releases.
    let eoa = PrivateKeySigner::random().address();
    let to_eoa = burn(&node, &user, EVM, "native", ETHER / 2, eoa).await;
    let to_allowed = burn(&node, &user, EVM, "native", ETHER / 10, allowed).await;
    let to_honeypot = burn(&node, &user, EVM, &token_id, 100, honeypot).await;
    let to_destructor = burn(&node, &user, EVM, "native", ETHER / 10, destructor).await;
    let to_proxy = burn(&node, &user, EVM, "native", ETHER / 10, proxy).await;
    let to_forwarder = burn(&node, &user, EVM, "native", ETHER / 10, forwarder).await;
    let to_delegating = burn(&node, &user, EVM, "native", ETHER / 10, delegating).await;
    let sol_wallet = SolKeypair::new().pubkey();
    let to_sol = burn(&node, &user, SOLANA, "native", u128::from(SOL), sol_wallet).await;
    let sol_large = SolKeypair::new().pubkey();
    let large = burn(
        &node,
        &user,
        SOLANA,
        "native",
        u128::from(6 * SOL),
        sol_large,
    )
    .await;

    // The EOA, the allow-listed contract and the Solana wallet are paid.
    let paid = U256::from(ETHER / 2);
    wait_evm_paid(
        "the release to the EOA paid",
        &relayers,
        &deployer,
        eoa,
        paid,
    )
    .await;
    for nonce in [to_eoa, to_allowed, to_sol] {
        wait_release_state(&relayers, nonce, "released").await;
    }
    assert_eq!(
        rpc.get_balance(&sol_wallet).await.unwrap(),
        SOL,
        "the Solana wallet got its release once"
    );
    // The allow-listed forwarder passed its release on to its owner's balance path; its
    // report says why it passed.
    let detail = release_detail(&relayers[0], to_allowed).await.unwrap();
    assert_eq!(detail["release"]["verdict"], "clean");
    assert!(
        finding_codes(&detail).contains(&"allow-listed".to_string()),
        "{detail}"
    );
    let detail = release_detail(&relayers[0], to_eoa).await.unwrap();
    assert_eq!(detail["release"]["verdict"], "clean", "{detail}");

    // Both operators' approvals are on the symbiote, each with its own signature.
    let order = node.withdrawals(to_eoa, 1).await.unwrap().remove(0);
    assert_eq!(order.approvals.len(), 2);
    let signatures: Vec<&Vec<u8>> = order.approvals.values().map(|a| &a.signature).collect();
    assert_ne!(signatures[0], signatures[1]);

    // A replayed release is refused by the bridge.
    let adapter = chain_adapters::build(
        "evm",
        HostchainId::new(EVM).unwrap(),
        serde_json::json!({
            "rpc_url": anvil.rpc_url(),
            "key_file": net.dir().join("relayer-0.evm.key"),
            "anchor_contract": anchors[0].to_string(),
            "bridge_contract": bridge.to_string(),
        }),
    )
    .await
    .unwrap();
    let cosignature = order.approvals[&relayer_keys[1].public()].signature.clone();
    let replayed = adapter
        .releaser()
        .unwrap()
        .prepare_release(&chain_adapters::ReleaseOrder {
            nonce: to_eoa,
            token: TokenId::native(),
            amount: Amount::new(ETHER / 2),
            destination: HostAddress::new(&eoa.to_string()).unwrap(),
            cosignatures: vec![cosignature],
        })
        .await
        .unwrap_err();
    assert_eq!(
        replayed.kind,
        chain_adapters::ErrorKind::Rejected,
        "{replayed}"
    );
    assert!(
        replayed.to_string().contains("NonceAlreadyUsed"),
        "{replayed}"
    );

    // ---- Holds, with the findings that explain them.
    let expected: [(Nonce, &[&str]); 5] = [
        (to_honeypot, &["token-contract"]),
        (to_destructor, &["selfdestruct"]),
        (to_proxy, &["eip1967-proxy"]),
        (to_forwarder, &["forwards-call-value"]),
        (
            to_delegating,
            &["eip7702-delegation", "forwards-call-value"],
        ),
    ];
    for (nonce, codes) in expected {
        wait_release_state(&relayers, nonce, "held").await;
        let detail = release_detail(&relayers[0], nonce).await.unwrap();
        let found = finding_codes(&detail);
        for code in codes {
            assert!(
                found.iter().any(|f| f == code),
                "release {nonce}: no {code} in {found:?}"
            );
        }
        assert_ne!(detail["release"]["verdict"], "clean", "{detail}");
        assert_eq!(order_status(&node, nonce).await, WithdrawalStatus::Held);
    }
    let holds = relayers[1].get("/v1/holds").await.unwrap();
    assert_eq!(holds.as_array().unwrap().len(), 5, "{holds}");
    assert!(holds[0]["report"]["signature"].is_string(), "{holds}");
    let metrics = relayers[0].text("/metrics").await;
    assert!(
        metrics.contains("relayer_releases_held_total 5"),
        "{metrics}"
    );

    // ---- A report re-verified at its block is confirmed; a changed byte refutes it.
    let detail = release_detail(&relayers[0], to_destructor).await.unwrap();
    let hash = detail["release"]["report_hash"].as_str().unwrap();
    let report = relayers[0].text(&format!("/v1/reports/{hash}")).await;
    let file = relayers[0].dir.join("report.json");
    std::fs::write(&file, &report).unwrap();
    let (ok, out, err) = relayers[1].cli(&["scout", "verify", file.to_str().unwrap()]);
    assert!(ok, "verify failed: {out}\n{err}");
    assert!(err.contains("confirmed"), "{err}");
    let tampered = report.replacen("selfdestruct", "selfdestrucT", 1);
    assert_ne!(tampered, report);
    std::fs::write(&file, &tampered).unwrap();
    let (ok, _, err) = relayers[1].cli(&["scout", "verify", file.to_str().unwrap()]);
    assert!(!ok && err.contains("refuted"), "{err}");
    // The report's hash rides in a batch's aggregate, anchored like the blocks.
    let report_hash = hash.to_string();
    wait_for(
        "the report carried in an anchored batch",
        TIMEOUT,
        POLL,
        &[&relayers[0]],
        || async {
            let detail = release_detail(&relayers[0], to_destructor).await?;
            let id = detail["report_batch"].as_i64()?;
            let batch = relayers[0].get(&format!("/v1/batches/{id}")).await?;
            let carried = batch["aggregate"]
                .as_array()?
                .iter()
                .any(|h| h.as_str() == Some(report_hash.as_str()));
            let anchored = batch["anchors"]
                .as_array()?
                .iter()
                .any(|a| a["state"] == "final");
            (carried && anchored).then_some(())
        },
    )
    .await;
    // `scout check` prints a report for any address; a plain EOA is clean.
    let (ok, out, err) = relayers[0].cli(&[
        "scout",
        "check",
        EVM,
        &PrivateKeySigner::random().address().to_string(),
    ]);
    assert!(ok, "{err}");
    std::fs::write(&file, &out).unwrap();
    assert!(err.contains("clean"), "{err}");
    let (ok, _, err) = relayers[1].cli(&["scout", "verify", file.to_str().unwrap()]);
    assert!(ok, "{err}");

    // ---- Governance: lift the hold on the self-destructing contract (paid), refund the
    // honeypot release (credited back on the symbiote).
    let before = balance(&node, &user, EVM, &token_id).await;
    let head = node.head().await.unwrap().height.get();
    let lift = GovernanceChange::ReleaseHold(to_destructor);
    govern(&net, &node, lift, head + 40, TIMEOUT).await;
    let head = node.head().await.unwrap().height.get();
    let refund = GovernanceChange::RefundHold(to_honeypot);
    govern(&net, &node, refund, head + 40, TIMEOUT).await;
    wait_for(
        "the honeypot release refunded",
        TIMEOUT,
        POLL,
        &[&relayers[0]],
        || async {
            (order_status(&node, to_honeypot).await == WithdrawalStatus::Refunded).then_some(())
        },
    )
    .await;
    assert_eq!(
        balance(&node, &user, EVM, &token_id).await,
        before.checked_add(Amount::new(100)).unwrap()
    );
    let paid = U256::from(ETHER / 10);
    wait_evm_paid(
        "the lifted release paid",
        &relayers,
        &deployer,
        destructor,
        paid,
    )
    .await;
    wait_release_state(&relayers, to_honeypot, "refunded").await;
    wait_release_state(&relayers, to_destructor, "released").await;

    // ---- The large Solana release waited in the queue for its delay, then was paid once.
    wait_for(
        "the large release paid",
        TIMEOUT,
        POLL,
        &[&relayers[0], &relayers[1]],
        || async { (rpc.get_balance(&sol_large).await.ok()? == 6 * SOL).then_some(()) },
    )
    .await;
    let detail = release_detail(&relayers[0], large).await.unwrap();
    let submitter = if history_states(&detail).contains(&"queued") {
        0
    } else {
        1
    };
    let detail = release_detail(&relayers[submitter], large).await.unwrap();
    assert!(
        history_states(&detail).contains(&"queued"),
        "the large release was not queued: {detail}"
    );

    // ---- EVM limits: the bridge's large-transfer rule queues a release; the relayers see it
    // queued (visible in the API) and pay it with `executeQueued` once its delay has passed.
    let admins: Vec<EvmAdapter> = (0..2)
        .map(|i| {
            let config = EvmConfig::from_value(serde_json::json!({
                "rpc_url": anvil.rpc_url(),
                "key_file": net.dir().join(format!("relayer-{i}.evm.key")),
                "anchor_contract": anchors[i].to_string(),
                "bridge_contract": bridge.to_string(),
            }))
            .unwrap();
            EvmAdapter::new(HostchainId::new(EVM).unwrap(), config).unwrap()
        })
        .collect();
    let limit = typed::SetLimit {
        token: Address::ZERO,
        dailyCap: U256::ZERO,
        largeTransferThreshold: U256::from(ETHER / 5),
        delaySeconds: U256::from(3_600),
        nonce: admins[0].admin_nonce().await.unwrap(),
    };
    let digest = admins[0].bridge_admin_digest(&limit).await.unwrap();
    let mut signatures = Vec::new();
    for admin in &admins {
        signatures.push(admin.sign_bridge_admin(&limit).await.unwrap());
    }
    let ordered =
        chain_adapters::evm::anchor::ordered_signatures(&digest, &signatures, &relayer_addresses);
    send(SymbioteBridge::new(bridge, &deployer).setLimit(
        limit.token,
        limit.dailyCap,
        limit.largeTransferThreshold,
        limit.delaySeconds,
        limit.nonce,
        ordered,
    ))
    .await;
    let patient = PrivateKeySigner::random().address();
    let big = burn(&node, &user, EVM, "native", 3 * ETHER / 10, patient).await;
    let queued = wait_for(
        "the large EVM release queued by the bridge",
        TIMEOUT,
        POLL,
        &[&relayers[0], &relayers[1]],
        || async {
            let rows = relayers[0].get("/v1/queued").await?;
            rows.as_array()?
                .iter()
                .find(|r| r["release"]["nonce"] == big.get())
                .cloned()
        },
    )
    .await;
    assert_eq!(queued["release"]["state"], "queued_on_chain", "{queued}");
    assert!(
        queued["release"]["release_after"].as_i64().unwrap() > 0,
        "{queued}"
    );
    assert_eq!(deployer.get_balance(patient).await.unwrap(), U256::ZERO);
    anvil
        .call("evm_increaseTime", serde_json::json!([3_601]))
        .await
        .unwrap();
    let paid = U256::from(3 * ETHER / 10);
    wait_evm_paid(
        "the queued EVM release paid",
        &relayers,
        &deployer,
        patient,
        paid,
    )
    .await;
    wait_release_state(&relayers, big, "released").await;

    // `relayer status` shows what the API shows (it asks the running relayer).
    let (ok, out, err) = relayers[1].cli(&["status"]);
    assert!(ok, "{err}");
    let cli: Value = serde_json::from_str(&out).unwrap();
    let api = relayers[1].get("/v1/status").await.unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&cli), keys(&api));
    assert_eq!(cli["bridge"], api["bridge"]);
    assert_eq!(cli["replica"], api["replica"]);
    assert!(
        cli["bridge"]["releases"][EVM]["released"].as_u64().unwrap() >= 4,
        "{cli}"
    );

    miner.abort();
    drop(net);
}

//! The EVM deposit watcher against a real anvil: bridge deposits reported once past the
//! confirmation depth, a deposit that a reorg removes before its depth (never reported), and
//! deposits reported exactly once across restarts of the watcher, and a reorg deeper than the
//! depth reported loudly. The setup shared with the other EVM test files is in `common/evm.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use alloy::consensus::TxEnvelope;
use alloy::eips::Encodable2718;
use alloy::network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use chain_adapters::evm::EvmAdapter;
use chain_adapters::evm::bindings::SymbioteBridge;
use chain_adapters::{DepositCursor, DepositScan, DepositWatcher, ObservedDeposit};
use common::evm::{Chain, ETHER, PlainToken, invalid_recipient, provider, scan_all, send};
use serde_json::json;
use symbiote::crypto::Keypair as SymbioteKey;
use symbiote::types::{Amount, TokenId};

/// A bridge (with the anchor contract an adapter needs) whose set is one relayer, and a funded
/// depositor.
struct Deployment {
    relayer: PrivateKeySigner,
    depositor_key: PrivateKeySigner,
    /// Sends as the depositor.
    depositor: DynProvider,
    anchor: Address,
    bridge: Address,
    /// The head once the contracts are deployed: where the watchers start.
    start: u64,
}

impl Deployment {
    async fn new(chain: &Chain) -> Deployment {
        let relayer = chain.funded_key().await;
        let depositor_key = chain.funded_key().await;
        let anchor = chain.deploy_anchor(&[relayer.address()], 1).await;
        let bridge = chain.deploy_bridge(&[relayer.address()], 1).await;
        let start = chain.deployer.get_block_number().await.unwrap();
        Deployment {
            depositor: provider(&chain.anvil, depositor_key.clone()),
            relayer,
            depositor_key,
            anchor,
            bridge,
            start,
        }
    }

    /// A new adapter of the relayer that watches from `start`; `extra` adds configuration.
    fn adapter(&self, chain: &Chain, mut extra: serde_json::Value) -> EvmAdapter {
        extra["deposit_start_block"] = json!(self.start);
        chain.adapter(&self.relayer, self.anchor, Some(self.bridge), extra)
    }

    /// The bridge, called by the depositor.
    fn as_depositor(&self) -> SymbioteBridge::SymbioteBridgeInstance<&DynProvider> {
        SymbioteBridge::new(self.bridge, &self.depositor)
    }
}

#[tokio::test]
async fn deposits_are_reported_once_past_the_confirmation_depth() {
    let chain = Chain::start().await;
    let deployment = Deployment::new(&chain).await;
    let adapter = deployment.adapter(&chain, json!({ "deposit_range": 2 }));
    let watcher = chain_adapters::HostchainAdapter::deposits(&adapter).unwrap();

    let depositor_key = &deployment.depositor_key;
    let token = PlainToken::deploy(
        &deployment.depositor,
        "Plain".to_string(),
        "PLN".to_string(),
    )
    .await
    .unwrap();
    let bridge_as_depositor = deployment.as_depositor();
    send(token.mint(depositor_key.address(), U256::from(1_000))).await;
    send(token.approve(deployment.bridge, U256::from(1_000))).await;

    let alice = SymbioteKey::generate().public();
    let bad = invalid_recipient();
    let receipts = vec![
        send(
            bridge_as_depositor
                .depositNative(B256::from(alice.to_bytes()))
                .value(U256::from(ETHER)),
        )
        .await,
        send(bridge_as_depositor.depositToken(
            *token.address(),
            U256::from(500),
            B256::from(alice.to_bytes()),
        ))
        .await,
        send(bridge_as_depositor.depositNative(bad).value(U256::from(7))).await,
    ];

    // Reported as each reaches 3 confirmations (head >= block + 2), never before: one block
    // is mined at a time until all three are in. The head is read after each scan, so the
    // check also holds when something else mines on the same node.
    let mut cursor = DepositCursor::default();
    let mut seen: Vec<ObservedDeposit> = Vec::new();
    let mut scans_with_pending = 0;
    while seen.len() < receipts.len() {
        let (found, next) = scan_all(watcher, cursor.clone()).await;
        let head = chain.deployer.get_block_number().await.unwrap();
        for deposit in &found {
            assert!(
                deposit.block + 2 <= head,
                "{deposit:?} reported at head {head}"
            );
        }
        seen.extend(found);
        cursor = next;
        if seen.len() < receipts.len() {
            scans_with_pending += 1;
            chain.anvil.mine(1).await.unwrap();
        }
    }
    assert!(
        scans_with_pending >= 2,
        "the last deposits were never held back"
    );

    let alice_text = format!("{:#x}", B256::from(alice.to_bytes()));
    for (deposit, receipt) in seen.iter().zip(&receipts) {
        assert_eq!(
            deposit.id.tx.as_str(),
            format!("{:#x}", receipt.transaction_hash)
        );
        assert_eq!(deposit.block, receipt.block_number.unwrap());
        assert_eq!(deposit.depositor, depositor_key.address().to_checksum(None));
    }
    // The token deposit's event comes after the token's Transfer in its transaction.
    assert_eq!(
        seen.iter().map(|d| d.id.index).collect::<Vec<_>>(),
        vec![0, 1, 0]
    );
    assert_eq!(seen[0].token, TokenId::native());
    assert_eq!(seen[0].amount, Amount::new(ETHER));
    assert_eq!(seen[0].recipient, Some(alice));
    assert_eq!(seen[0].raw_recipient, alice_text);
    assert_eq!(seen[1].token.as_str(), token.address().to_checksum(None));
    assert_eq!(seen[1].amount, Amount::new(500));
    assert_eq!(seen[2].recipient, None, "an invalid key is unroutable");
    assert_eq!(seen[2].raw_recipient, format!("{bad:#x}"));
    assert_eq!(seen[2].amount, Amount::new(7));

    // The contract numbered them 1, 2, 3 in the order they are reported.
    let nonces: Vec<U256> = receipts
        .iter()
        .flat_map(|r| r.inner.logs().to_vec())
        .filter_map(|log| log.log_decode::<SymbioteBridge::Deposited>().ok())
        .map(|log| log.inner.data.nonce)
        .collect();
    assert_eq!(nonces, vec![U256::from(1), U256::from(2), U256::from(3)]);
    assert_eq!(
        SymbioteBridge::Deposited::SIGNATURE,
        "Deposited(uint256,address,address,uint256,bytes32)"
    );

    // From the stored cursor nothing is reported again, now or later.
    let (again, _) = scan_all(watcher, cursor.clone()).await;
    assert!(again.is_empty(), "{again:?}");
    chain.anvil.mine(5).await.unwrap();
    let (again, _) = scan_all(watcher, cursor).await;
    assert!(again.is_empty(), "{again:?}");
}

#[tokio::test]
async fn deposit_reorged_out_before_its_depth_is_never_reported() {
    let Some(chain) = Chain::start_exclusive().await else {
        return;
    };
    let deployment = Deployment::new(&chain).await;
    // The tests' depth: 3 confirmations.
    let adapter = deployment.adapter(&chain, json!({}));
    let watcher = chain_adapters::HostchainAdapter::deposits(&adapter).unwrap();
    let depositor_key = &deployment.depositor_key;
    let bridge_as_depositor = deployment.as_depositor();
    let alice = B256::from(SymbioteKey::generate().public().to_bytes());
    let bob = SymbioteKey::generate().public();

    let doomed = send(
        bridge_as_depositor
            .depositNative(alice)
            .value(U256::from(ETHER)),
    )
    .await;
    let height = doomed.block_number.unwrap();
    // One confirmation of three: the scan stops below the deposit's block.
    let (found, cursor) = scan_all(watcher, DepositCursor::default()).await;
    assert!(found.is_empty(), "{found:?}");
    let next: u64 = cursor.0.split(':').next().unwrap().parse().unwrap();
    assert!(next <= height, "{cursor:?}");

    // The deposit's block is replaced by one with another deposit from the same account nonce
    // (2 ether for bob): the two cannot both exist.
    let replacement = bridge_as_depositor
        .depositNative(B256::from(bob.to_bytes()))
        .value(U256::from(2 * ETHER))
        .into_transaction_request()
        .with_from(depositor_key.address())
        .with_nonce(0)
        .with_chain_id(devnet::anvil::CHAIN_ID)
        .with_gas_limit(200_000)
        .with_max_fee_per_gas(100_000_000_000)
        .with_max_priority_fee_per_gas(1_000_000_000);
    let replacement: TxEnvelope = replacement
        .build(&EthereumWallet::from(depositor_key.clone()))
        .await
        .unwrap();
    let raw = format!("0x{}", hex::encode(replacement.encoded_2718()));
    chain
        .anvil
        .call("anvil_reorg", json!([1, [[raw, 0]]]))
        .await
        .unwrap();
    let gone = chain
        .deployer
        .get_transaction_receipt(doomed.transaction_hash)
        .await
        .unwrap();
    assert!(gone.is_none(), "{gone:?}");
    let landed = chain
        .deployer
        .get_transaction_receipt(*replacement.tx_hash())
        .await
        .unwrap()
        .expect("the replacement deposit is not in the new chain");
    assert_eq!(landed.block_number, Some(height));

    // Past the depth, only what the new chain holds is reported, once.
    chain.anvil.mine(5).await.unwrap();
    let (found, cursor) = scan_all(watcher, cursor).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0].id.tx.as_str(),
        format!("{:#x}", replacement.tx_hash())
    );
    assert_eq!(found[0].block, height);
    assert_eq!(found[0].recipient, Some(bob));
    assert_eq!(found[0].amount, Amount::new(2 * ETHER));
    let (again, _) = scan_all(watcher, cursor).await;
    assert!(again.is_empty(), "{again:?}");
}

/// One scan by a new adapter, as after a restart: nothing but the stored cursor text survives.
async fn scan_after_restart(
    chain: &Chain,
    deployment: &Deployment,
    config: &serde_json::Value,
    stored: &str,
) -> DepositScan {
    let adapter = deployment.adapter(chain, config.clone());
    adapter
        .scan_deposits(&DepositCursor(stored.to_string()))
        .await
        .unwrap()
}

#[tokio::test]
async fn deposits_are_reported_exactly_once_across_watcher_restarts() {
    let chain = Chain::start().await;
    let deployment = Deployment::new(&chain).await;
    // One block per scan, so that restarts fall between deposits.
    let config = json!({ "deposit_range": 1 });
    let bridge_as_depositor = &deployment.as_depositor();
    let alice = B256::from(SymbioteKey::generate().public().to_bytes());
    let deposit = |wei: u64| async move {
        send(
            bridge_as_depositor
                .depositNative(alice)
                .value(U256::from(wei)),
        )
        .await
    };

    let mut receipts = vec![deposit(1).await, deposit(2).await];
    let mut stored = String::new();
    let mut reported: Vec<ObservedDeposit> = Vec::new();
    let (mut scans, mut rescans) = (0, 0);
    while reported.len() < 4 {
        let scan = scan_after_restart(&chain, &deployment, &config, &stored).await;
        // A crash after the scan but before its cursor is stored: the next process scans the
        // same range again and finds the same deposits with the same ids, which the relayer's
        // store then recognises. (On a node shared with other tests the head may move between
        // the two scans and let the second one cover a block more; those are not compared.)
        let rescan = scan_after_restart(&chain, &deployment, &config, &stored).await;
        if rescan.next == scan.next {
            assert_eq!(rescan.deposits, scan.deposits);
            rescans += 1;
        }

        reported.extend(scan.deposits);
        stored = scan.next.0;
        scans += 1;
        if scans == 3 {
            // More deposits arrive between restarts.
            receipts.push(deposit(3).await);
            receipts.push(deposit(4).await);
        }
        chain.anvil.mine(1).await.unwrap();
        assert!(
            scans < 100,
            "only {} deposits after {scans} scans",
            reported.len()
        );
    }

    assert!(rescans > 0, "no repeated scan covered the same range");

    // From the final cursor, new processes report nothing more, now or later.
    chain.anvil.mine(5).await.unwrap();
    loop {
        let scan = scan_after_restart(&chain, &deployment, &config, &stored).await;
        assert!(scan.deposits.is_empty(), "{:?}", scan.deposits);
        if scan.next.0 == stored {
            break;
        }
        stored = scan.next.0;
    }

    let amounts: Vec<Amount> = reported.iter().map(|d| d.amount).collect();
    assert_eq!(amounts, (1..=4).map(Amount::new).collect::<Vec<_>>());
    let txs: Vec<String> = reported
        .iter()
        .map(|d| d.id.tx.as_str().to_string())
        .collect();
    let expected: Vec<String> = receipts
        .iter()
        .map(|r| format!("{:#x}", r.transaction_hash))
        .collect();
    assert_eq!(txs, expected);
}

#[tokio::test]
async fn a_reorg_deeper_than_the_depth_is_reported_loudly() {
    let chain = Chain::start().await;
    let deployment = Deployment::new(&chain).await;
    let adapter = deployment.adapter(&chain, json!({}));
    let watcher = chain_adapters::HostchainAdapter::deposits(&adapter).unwrap();
    let alice = SymbioteKey::generate().public();
    send(
        deployment
            .as_depositor()
            .depositNative(B256::from(alice.to_bytes()))
            .value(U256::from(ETHER)),
    )
    .await;
    chain.anvil.mine(3).await.unwrap();
    let (found, cursor) = scan_all(watcher, DepositCursor::default()).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        cursor.0.contains(':'),
        "the cursor records the last block's hash: {cursor:?}"
    );

    // Replace the last 5 blocks: deeper than the 3 confirmations, below the cursor.
    chain
        .anvil
        .call("anvil_reorg", json!([5, []]))
        .await
        .unwrap();
    let err = watcher.scan_deposits(&cursor).await.unwrap_err();
    assert_eq!(err.kind, chain_adapters::ErrorKind::InvalidResponse);
    assert!(!err.is_retryable());
    assert!(
        err.message
            .contains("reorg deeper than the confirmation depth"),
        "{err}"
    );
}

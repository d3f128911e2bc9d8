//! The EVM adapter against a real anvil: threshold-signed anchors (round trip, 2 of 3,
//! restart with stored nonces, fee-bumped replacement, reorg), finality, and releases the bridge
//! never pays twice. The contracts are deployed from the committed artifacts
//! (`contracts/artifacts`) with the adapter's deploy helpers. The deposit watcher is tested in
//! `evm_deposit_watcher.rs`, rotation and release limits in `evm_governance.rs`; the setup they
//! share is in `common/evm.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use alloy::primitives::{Address, B256, Signature, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use chain_adapters::evm::EvmAdapter;
use chain_adapters::evm::bindings::{SymbioteAnchor, SymbioteBridge};
use chain_adapters::evm::fees::Wei;
use chain_adapters::{Anchorer, ErrorKind, PreparedTx, TxStatus};
use common::evm::{Chain, ETHER, included, meta, order, request, request_of, settled};
use serde_json::json;
use symbiote::types::HostchainId;

/// The status of included `tx`, checked against the head read around it: confirmations are
/// `head - height + 1` and the anchor is final from 3 on (the tests' configured depth).
async fn depth_checked(
    chain: &Chain,
    adapter: &EvmAdapter,
    tx: &PreparedTx,
) -> (chain_adapters::Inclusion, bool) {
    let before = chain.deployer.get_block_number().await.unwrap();
    let (inclusion, confirmations, fin) = included(adapter, tx).await;
    let after = chain.deployer.get_block_number().await.unwrap();
    let lowest = (before + 1).saturating_sub(inclusion.height);
    assert!(
        (lowest..=after + 1 - inclusion.height).contains(&confirmations),
        "{confirmations} confirmations at height {} between heads {before} and {after}",
        inclusion.height
    );
    assert_eq!(fin, confirmations >= 3);
    (inclusion, fin)
}

#[tokio::test]
async fn anchor_round_trip_is_idempotent_and_reads_back() {
    let chain = Chain::start().await;
    let relayer = chain.funded_key().await;
    let anchor = chain.deploy_anchor(&[relayer.address()], 1).await;
    let adapter = chain.adapter(&relayer, anchor, None, json!({}));
    let req = request(1, 0, 9);

    // The EIP-712 digest is the contract's own, and the signature recovers to the relayer.
    let digest = adapter.anchor_digest(&req).await.unwrap();
    let contract = SymbioteAnchor::new(anchor, &chain.deployer);
    let on_chain = contract
        .anchorDigest(
            B256::from(*req.symbiote.as_bytes()),
            1,
            B256::from(req.payload.root.0),
            0,
            9,
        )
        .call()
        .await
        .unwrap();
    assert_eq!(digest, on_chain);
    let signature = adapter.sign_anchor(&req).await.unwrap().unwrap();
    assert_eq!(signature.len(), 65);
    assert_eq!(
        Signature::try_from(signature.as_slice())
            .unwrap()
            .recover_address_from_prehash(&digest)
            .unwrap(),
        relayer.address()
    );

    // Stored as JSON before broadcast, as the relayer does.
    let prepared = adapter.prepare_anchor(&req).await.unwrap();
    let stored = serde_json::to_string(&prepared).unwrap();
    let prepared: PreparedTx = serde_json::from_str(&stored).unwrap();
    assert_eq!(meta(&prepared).nonce, 0);
    assert_eq!(
        adapter.status(&prepared, None).await.unwrap(),
        TxStatus::Unknown
    );

    adapter.broadcast(&prepared).await.unwrap();
    adapter.broadcast(&prepared).await.unwrap();
    let (inclusion, _) = depth_checked(&chain, &adapter, &prepared).await;
    chain.anvil.mine(1).await.unwrap();
    depth_checked(&chain, &adapter, &prepared).await;
    chain.anvil.mine(1).await.unwrap();
    let (again, fin) = depth_checked(&chain, &adapter, &prepared).await;
    assert_eq!((again, fin), (inclusion.clone(), true));
    // Broadcasting a mined transaction is still harmless.
    adapter.broadcast(&prepared).await.unwrap();

    let read = adapter.read_anchor(&prepared.id).await.unwrap();
    assert_eq!(read.payload, req.payload);
    assert_eq!(read.inclusion, inclusion);
    assert!(read.fin);
    assert_eq!(read.symbiote, Some(req.symbiote), "the event's symbiote");
    let stored = contract
        .anchorOf(B256::from(*req.symbiote.as_bytes()), 1)
        .call()
        .await
        .unwrap();
    assert_eq!(stored.root, B256::from(req.payload.root.0));
    assert_eq!(stored.blockNumber, inclusion.height);

    // The same sequence again is refused before anything is signed with a nonce.
    let err = adapter.prepare_anchor(&req).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
    assert!(err.message.contains("SequenceNotIncreasing"), "{err}");
}

#[tokio::test]
async fn two_of_three_needs_a_cosignature() {
    let chain = Chain::start().await;
    let relayer = chain.funded_key().await;
    let second = PrivateKeySigner::random();
    let third = PrivateKeySigner::random();
    let members = [relayer.address(), second.address(), third.address()];
    let anchor = chain.deploy_anchor(&members, 2).await;
    let adapter = chain.adapter(&relayer, anchor, None, json!({}));
    let mut req = request(1, 0, 9);

    let err = adapter.prepare_anchor(&req).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
    assert!(err.message.contains("InsufficientSignatures"), "{err}");

    // Another relayer's signature, plus noise the adapter must drop: a duplicate of our own,
    // a signature of an outsider, and bytes that are no signature at all.
    let cosigner = chain.adapter(&second, anchor, None, json!({}));
    let outsider = chain.adapter(&PrivateKeySigner::random(), anchor, None, json!({}));
    req.cosignatures = vec![
        adapter.sign_anchor(&req).await.unwrap().unwrap(),
        outsider.sign_anchor(&req).await.unwrap().unwrap(),
        vec![0xde, 0xad],
        cosigner.sign_anchor(&req).await.unwrap().unwrap(),
    ];
    let prepared = adapter.prepare_anchor(&req).await.unwrap();
    // The nonce of the failed attempt was not used up.
    assert_eq!(meta(&prepared).nonce, 0);
    adapter.broadcast(&prepared).await.unwrap();
    included(&adapter, &prepared).await;
    let last = SymbioteAnchor::new(anchor, &chain.deployer)
        .lastSequence(B256::from(*req.symbiote.as_bytes()))
        .call()
        .await
        .unwrap();
    assert_eq!(last, 1);
}

#[tokio::test]
async fn unfunded_relayer_is_told_to_fund_its_account() {
    let chain = Chain::start().await;
    let relayer = PrivateKeySigner::random();
    let anchor = chain.deploy_anchor(&[relayer.address()], 1).await;
    let adapter = chain.adapter(&relayer, anchor, None, json!({}));
    let err = adapter.prepare_anchor(&request(1, 0, 9)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InsufficientFunds, "{err}");
    assert!(err.is_retryable());

    chain
        .anvil
        .set_balance(&relayer.address().to_string(), ETHER)
        .await
        .unwrap();
    let prepared = adapter.prepare_anchor(&request(1, 0, 9)).await.unwrap();
    assert_eq!(meta(&prepared).nonce, 0);
}

#[tokio::test]
async fn restart_rebroadcasts_stored_anchors_with_their_nonces() {
    let chain = Chain::start().await;
    let relayer = chain.funded_key().await;
    let anchor = chain.deploy_anchor(&[relayer.address()], 1).await;

    let stored: Vec<String> = {
        let before = chain.adapter(&relayer, anchor, None, json!({}));
        // Prepared concurrently (anchors of two symbiotes, so that either may land first):
        // the nonce book hands out distinct nonces.
        let (one, two) = (request(1, 0, 9), request_of("other", 1, 0, 9));
        let (first, second) =
            tokio::join!(before.prepare_anchor(&one), before.prepare_anchor(&two));
        let (mut first, mut second) = (first.unwrap(), second.unwrap());
        if meta(&first).nonce > meta(&second).nonce {
            std::mem::swap(&mut first, &mut second);
        }
        assert_eq!((meta(&first).nonce, meta(&second).nonce), (0, 1));
        vec![
            serde_json::to_string(&first).unwrap(),
            serde_json::to_string(&second).unwrap(),
        ]
        // The process dies here: nothing was broadcast.
    };

    let after = chain.adapter(&relayer, anchor, None, json!({}));
    let stored: Vec<PreparedTx> = stored
        .iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect();
    for tx in &stored {
        after.broadcast(tx).await.unwrap();
    }
    for tx in &stored {
        included(&after, tx).await;
    }
    let third = after.prepare_anchor(&request(3, 20, 29)).await.unwrap();
    assert_eq!(meta(&third).nonce, 2);
    after.broadcast(&third).await.unwrap();
    included(&after, &third).await;
}

#[tokio::test]
async fn stuck_anchor_is_replaced_with_higher_fees_under_the_cap() {
    let Some(chain) = Chain::start_exclusive().await else {
        return;
    };
    let relayer = chain.funded_key().await;
    let anchor = chain.deploy_anchor(&[relayer.address()], 1).await;
    let adapter = chain.adapter(&relayer, anchor, None, json!({}));
    chain.automine(false).await;

    let original = adapter.prepare_anchor(&request(1, 0, 9)).await.unwrap();
    adapter.broadcast(&original).await.unwrap();
    assert_eq!(
        adapter.status(&original, None).await.unwrap(),
        TxStatus::InMempool
    );

    let replacement = adapter.replace(&original).await.unwrap();
    let (old, new) = (meta(&original), meta(&replacement));
    assert_ne!(replacement.id, original.id);
    assert_eq!(new.nonce, old.nonce);
    assert!(new.fees.max_fee_per_gas >= old.fees.max_fee_per_gas.bumped(1_500).unwrap());
    assert!(
        new.fees.max_priority_fee_per_gas
            >= old.fees.max_priority_fee_per_gas.bumped(1_500).unwrap()
    );
    adapter.broadcast(&replacement).await.unwrap();
    // The replacement took the original's place in the node's pool: sending the original
    // again is refused as underpriced, which says "replace or follow the successor".
    let err = adapter.broadcast(&original).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Stale, "{err}");

    chain.anvil.mine(1).await.unwrap();
    included(&adapter, &replacement).await;
    assert_eq!(
        adapter.status(&original, None).await.unwrap(),
        TxStatus::Dropped {
            reason: "nonce 0 was used by another transaction".into()
        }
    );
    let err = adapter.replace(&replacement).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Stale, "{err}");

    // With a cap 20% above the first fee, one +15% replacement fits and the next does not.
    let stuck = adapter.prepare_anchor(&request(2, 10, 19)).await.unwrap();
    adapter.broadcast(&stuck).await.unwrap();
    let first_fee = meta(&stuck).fees.max_fee_per_gas.get();
    let cap_gwei = (first_fee as f64) * 1.2 / 1e9;
    let capped = chain.adapter(
        &relayer,
        anchor,
        None,
        json!({ "max_fee_per_gas_gwei": cap_gwei }),
    );
    let bumped = capped.replace(&stuck).await.unwrap();
    capped.broadcast(&bumped).await.unwrap();
    let cap = Wei::new(first_fee * 12 / 10);
    assert!(meta(&bumped).fees.max_fee_per_gas <= cap);
    let err = capped.replace(&bumped).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::FeeCapReached, "{err}");

    chain.automine(true).await;
    chain.anvil.mine(1).await.unwrap();
    included(&adapter, &bumped).await;
    assert!(matches!(
        adapter.status(&stuck, None).await.unwrap(),
        TxStatus::Dropped { .. }
    ));
}

#[tokio::test]
async fn reorged_out_anchor_is_reported_and_lands_again() {
    let Some(chain) = Chain::start_exclusive().await else {
        return;
    };
    let relayer = chain.funded_key().await;
    let anchor = chain.deploy_anchor(&[relayer.address()], 1).await;
    let adapter = chain.adapter(&relayer, anchor, None, json!({}));

    for depth in [1u64, 2] {
        let prepared = adapter
            .prepare_anchor(&request(depth, depth * 10, depth * 10 + 9))
            .await
            .unwrap();
        adapter.broadcast(&prepared).await.unwrap();
        let (seen, _, _) = included(&adapter, &prepared).await;
        // Bury it under depth - 1 blocks, then replace the last `depth` blocks with empty ones.
        chain.anvil.mine(depth - 1).await.unwrap();
        chain
            .anvil
            .call("anvil_reorg", json!([depth, []]))
            .await
            .unwrap();

        assert_eq!(
            adapter.status(&prepared, Some(&seen)).await.unwrap(),
            TxStatus::ReorgedOut {
                previous: seen.clone()
            }
        );
        // anvil forgets a reorged-out transaction entirely (no receipt, not in its pool, the
        // account nonce goes back): without `seen` it is simply unknown.
        assert_eq!(
            adapter.status(&prepared, None).await.unwrap(),
            TxStatus::Unknown
        );

        adapter.broadcast(&prepared).await.unwrap();
        let (again, _, _) = included(&adapter, &prepared).await;
        assert_ne!(again.block_hash, seen.block_hash);
        let read = adapter.read_anchor(&prepared.id).await.unwrap();
        assert_eq!(read.inclusion, again);
    }
}

#[tokio::test]
async fn finalized_tag_decides_finality_when_configured() {
    let chain = Chain::start().await;
    let relayer = chain.funded_key().await;
    let anchor = chain.deploy_anchor(&[relayer.address()], 1).await;
    let adapter = chain.adapter(
        &relayer,
        anchor,
        None,
        json!({ "confirmations": null, "use_finalized_tag": true }),
    );
    let prepared = adapter.prepare_anchor(&request(1, 0, 9)).await.unwrap();
    adapter.broadcast(&prepared).await.unwrap();
    let (inclusion, _, fin) = included(&adapter, &prepared).await;
    assert!(!fin);
    // anvil moves its `finalized` block along behind the head; the anchor is final exactly
    // when that block reaches it, however many confirmations that takes.
    let finalized = || async {
        adapter
            .provider()
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Finalized)
            .await
            .unwrap()
            .map_or(0, |b| b.header.number)
    };
    let mut mined = 0;
    loop {
        let before = finalized().await;
        let (_, _, fin) = included(&adapter, &prepared).await;
        let after = finalized().await;
        if fin {
            assert!(
                after >= inclusion.height,
                "final above finalized block {after}"
            );
            break;
        }
        assert!(
            before < inclusion.height,
            "not final at finalized block {before}"
        );
        chain.anvil.mine(1).await.unwrap();
        mined += 1;
        assert!(
            mined < 1_000,
            "anvil never finalized block {}",
            inclusion.height
        );
    }
}

#[tokio::test]
async fn release_pays_once_and_the_bridge_refuses_the_nonce_again() {
    let chain = Chain::start().await;
    let relayer = chain.funded_key().await;
    let anchor = chain.deploy_anchor(&[relayer.address()], 1).await;
    let bridge = chain.deploy_bridge(&[relayer.address()], 1).await;
    chain
        .anvil
        .set_balance(&bridge.to_string(), 10 * ETHER)
        .await
        .unwrap();
    let adapter = chain.adapter(&relayer, anchor, Some(bridge), json!({}));
    let releaser = chain_adapters::HostchainAdapter::releaser(&adapter).unwrap();
    let recipient = PrivateKeySigner::random().address();
    let order = order(7, recipient, 2 * ETHER);

    let digest = adapter.release_digest(&order).await.unwrap();
    let on_chain = SymbioteBridge::new(bridge, &chain.deployer)
        .releaseDigest(
            U256::from(7),
            Address::ZERO,
            recipient,
            U256::from(2 * ETHER),
        )
        .call()
        .await
        .unwrap();
    assert_eq!(digest, on_chain);
    assert_eq!(
        releaser.sign_release(&order).await.unwrap().unwrap().len(),
        65
    );

    assert!(!releaser.is_released(order.nonce).await.unwrap());
    let first = releaser.prepare_release(&order).await.unwrap();
    // A second transaction for the same order, prepared before the first lands.
    let twin = releaser.prepare_release(&order).await.unwrap();
    adapter.broadcast(&first).await.unwrap();
    included(&adapter, &first).await;
    assert!(releaser.is_released(order.nonce).await.unwrap());
    assert_eq!(
        chain.deployer.get_balance(recipient).await.unwrap(),
        U256::from(2 * ETHER)
    );

    // Prepared again: the gas estimate runs the call and the bridge refuses the nonce.
    let err = releaser.prepare_release(&order).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
    assert!(err.message.contains("NonceAlreadyUsed"), "{err}");
    // The twin, signed before, is mined but reverts: dropped, and nothing is paid twice.
    adapter.broadcast(&twin).await.unwrap();
    assert!(matches!(
        settled(&adapter, &twin).await,
        TxStatus::Dropped { reason } if reason.starts_with("reverted")
    ));
    assert_eq!(
        chain.deployer.get_balance(recipient).await.unwrap(),
        U256::from(2 * ETHER)
    );
}

#[tokio::test]
async fn registry_builds_the_evm_adapter_from_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("relayer.hex");
    std::fs::write(
        &key_file,
        hex::encode(PrivateKeySigner::random().to_bytes()),
    )
    .unwrap();
    let section = json!({
        "rpc_url": "http://127.0.0.1:1",
        "key_file": key_file,
        "anchor_contract": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "use_finalized_tag": true,
    });
    let id = HostchainId::new("evm-1").unwrap();
    let adapter = chain_adapters::build("evm", id.clone(), section.clone())
        .await
        .unwrap();
    assert!(adapter.deposits().is_none() && adapter.releaser().is_none());
    assert!(adapter.scout().is_none());

    let mut with_bridge = section.clone();
    with_bridge["bridge_contract"] = json!("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512");
    let adapter = chain_adapters::build("evm", id.clone(), with_bridge)
        .await
        .unwrap();
    assert!(adapter.deposits().is_some() && adapter.releaser().is_some());

    // A node that is down is a retryable error, not a panic or a hang.
    let err = adapter
        .anchorer()
        .status(
            &PreparedTx {
                hostchain: id.clone(),
                id: format!("{:#x}", B256::ZERO),
                raw: Vec::new(),
                meta: json!({}),
            },
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidResponse, "{err}");
    let err = adapter
        .anchorer()
        .read_anchor(&format!("{:#x}", B256::ZERO))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");

    let mut typo = section;
    typo["max_fee_per_gas_gwi"] = json!(1);
    let err = chain_adapters::build("evm", id, typo).await.err().unwrap();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(err.message.contains("max_fee_per_gas_gwi"), "{err}");
}

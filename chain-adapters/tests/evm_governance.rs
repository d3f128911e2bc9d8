//! The EVM adapter's governance against a real anvil: the deploy helpers, rotation of the
//! relayer set (signed in Rust by the old set, after which only the new set's anchors and
//! releases count), the governance digests, and the bridge's daily cap and release queue driven
//! from Rust. The setup shared with the other EVM test files is in `common/evm.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use chain_adapters::evm::anchor::ordered_signatures;
use chain_adapters::evm::bindings::{SymbioteAnchor, SymbioteBridge, typed};
use chain_adapters::evm::deploy::{self, deployer};
use chain_adapters::evm::governance::RelayerSetContract;
use chain_adapters::evm::release::ReleaseStatus;
use chain_adapters::evm::{EvmAdapter, RelayerKey};
use chain_adapters::{Anchorer, ErrorKind, ReleaseOrder, Releaser};
use common::evm::{
    Chain, ETHER, addresses, advance_to, cosigned_anchor, cosigned_release, included, order,
    provider, receipt_of, request, revert, send, signer_of,
};
use serde_json::json;
use symbiote::types::Nonce;

#[tokio::test]
async fn deploy_helpers_deploy_from_the_artifacts_and_decode_refused_sets() {
    let chain = Chain::start().await;
    let members = addresses(&[
        PrivateKeySigner::random(),
        PrivateKeySigner::random(),
        PrivateKeySigner::random(),
    ]);
    let anchor = deploy::deploy_anchor(&chain.deployer, &members, 2)
        .await
        .unwrap();
    let bridge = deploy::deploy_bridge(&chain.deployer, &members, 2)
        .await
        .unwrap();
    assert_ne!(anchor, bridge);
    for address in [anchor, bridge] {
        // Both inherit RelayerSet: the anchor binding reads either.
        let contract = SymbioteAnchor::new(address, &chain.deployer);
        assert_eq!(contract.relayers().call().await.unwrap(), members);
        assert_eq!(contract.threshold().call().await.unwrap(), U256::from(2));
        assert_eq!(contract.relayerSetNonce().call().await.unwrap(), U256::ZERO);
    }
    let bridge_contract = SymbioteBridge::new(bridge, &chain.deployer);
    assert!(!bridge_contract.paused().call().await.unwrap());
    assert_eq!(
        bridge_contract.adminNonce().call().await.unwrap(),
        U256::ZERO
    );

    // The constructor's refusals come back decoded, before anything is sent.
    let key = chain.funded_key().await;
    let refused = provider(&chain.anvil, key.clone());
    let twice = vec![members[0], members[0]];
    for (relayers, threshold, expected) in [
        (members.clone(), 4, "InvalidThreshold"),
        (members.clone(), 0, "InvalidThreshold"),
        (Vec::new(), 1, "EmptyRelayerSet"),
        (twice, 1, "DuplicateRelayer"),
        (vec![Address::ZERO], 1, "InvalidRelayer"),
    ] {
        for result in [
            deploy::deploy_anchor(&refused, &relayers, threshold).await,
            deploy::deploy_bridge(&refused, &relayers, threshold).await,
        ] {
            let err = result.unwrap_err();
            assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
            assert!(err.message.contains(expected), "{err}");
            assert!(!err.is_retryable());
        }
    }
    let sent = refused.get_transaction_count(key.address()).await.unwrap();
    assert_eq!(sent, 0, "a refused deployment was sent");

    // A node that is down is worth retrying; a URL that is none is not.
    let key = RelayerKey::from_signer(PrivateKeySigner::random());
    let down = deployer("http://127.0.0.1:1", &key).unwrap();
    let err = deploy::deploy_anchor(&down, &members, 2).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
    assert!(err.is_retryable());
    let err = deployer("not a url", &key).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config, "{err}");
}

#[tokio::test]
async fn rotation_signed_by_the_old_set_hands_anchors_and_releases_to_the_new_set() {
    let chain = Chain::start().await;
    let old_keys = [
        chain.funded_key().await,
        PrivateKeySigner::random(),
        PrivateKeySigner::random(),
    ];
    let new_keys = [
        chain.funded_key().await,
        PrivateKeySigner::random(),
        PrivateKeySigner::random(),
    ];
    let (old_set, new_set) = (addresses(&old_keys), addresses(&new_keys));
    let anchor = chain.deploy_anchor(&old_set, 2).await;
    let bridge = chain.deploy_bridge(&old_set, 2).await;
    chain
        .anvil
        .set_balance(&bridge.to_string(), 10 * ETHER)
        .await
        .unwrap();
    let adapters = |keys: &[PrivateKeySigner]| -> Vec<EvmAdapter> {
        keys.iter()
            .map(|k| chain.adapter(k, anchor, Some(bridge), json!({})))
            .collect()
    };
    let (old, new) = (adapters(&old_keys), adapters(&new_keys));

    // Before the rotation the old set anchors (2 of 3).
    let first = cosigned_anchor(&old[1], request(1, 0, 9)).await;
    let prepared = old[0].prepare_anchor(&first).await.unwrap();
    old[0].broadcast(&prepared).await.unwrap();
    included(&old[0], &prepared).await;

    for contract in [RelayerSetContract::Anchor, RelayerSetContract::Bridge] {
        let address = match contract {
            RelayerSetContract::Anchor => anchor,
            RelayerSetContract::Bridge => bridge,
        };
        // Both inherit RelayerSet: the anchor binding calls either.
        let set = SymbioteAnchor::new(address, &chain.deployer);
        let nonce = old[0].relayer_set_nonce(contract).await.unwrap();
        assert_eq!(nonce, U256::ZERO);
        let update = typed::RelayerSetUpdate {
            relayers: new_set.clone(),
            threshold: U256::from(2),
            nonce,
        };
        let digest = old[0]
            .relayer_set_update_digest(contract, &update)
            .await
            .unwrap();
        let on_chain = set
            .relayerSetUpdateDigest(new_set.clone(), U256::from(2), nonce)
            .call()
            .await
            .unwrap();
        assert_eq!(digest, on_chain, "{contract:?}");

        let mut by_old = Vec::new();
        for signer in [&old[2], &old[1]] {
            let signature = signer
                .sign_relayer_set_update(contract, &update)
                .await
                .unwrap();
            assert_eq!(signer_of(&digest, &signature), signer.relayer_address());
            by_old.push(signature);
        }
        let by_old = ordered_signatures(&digest, &by_old, &old_set);
        let mut by_new = Vec::new();
        for signer in &new[..2] {
            by_new.push(
                signer
                    .sign_relayer_set_update(contract, &update)
                    .await
                    .unwrap(),
            );
        }
        let by_new = ordered_signatures(&digest, &by_new, &new_set);
        let rotate = |signatures: Vec<Bytes>| {
            set.updateRelayers(new_set.clone(), U256::from(2), nonce, signatures)
        };

        // One old signature is not a threshold, and the new set cannot appoint itself.
        let err = rotate(by_old[..1].to_vec()).call().await.unwrap_err();
        let short = revert::<SymbioteAnchor::InsufficientSignatures>(&err);
        assert_eq!(
            (short.given, short.threshold),
            (U256::from(1), U256::from(2))
        );
        let err = rotate(by_new.clone()).call().await.unwrap_err();
        let outsider = revert::<SymbioteAnchor::NotRelayer>(&err);
        assert_eq!(outsider.signer, *new_set[..2].iter().min().unwrap());

        // Two of the old set rotate it; anyone (here the deployer) submits.
        let receipt = send(rotate(by_old.clone())).await;
        let event = receipt
            .inner
            .logs()
            .iter()
            .find_map(|log| log.log_decode::<SymbioteAnchor::RelayerSetUpdated>().ok())
            .unwrap()
            .inner
            .data;
        assert_eq!(
            (event.nonce, event.relayers, event.threshold),
            (U256::from(1), new_set.clone(), U256::from(2))
        );
        assert_eq!(set.relayers().call().await.unwrap(), new_set);
        assert!(!set.isRelayer(old_set[0]).call().await.unwrap());
        assert_eq!(
            old[0].relayer_set_nonce(contract).await.unwrap(),
            U256::from(1)
        );
        // The same signatures cannot rotate again.
        let err = rotate(by_old).call().await.unwrap_err();
        let replay = revert::<SymbioteAnchor::WrongRelayerSetNonce>(&err);
        assert_eq!((replay.expected, replay.given), (U256::from(1), U256::ZERO));
    }

    // Anchors: the adapter keeps only signatures of the current set, so the old set's request
    // has none left; submitted directly, the contract names an old signer.
    let second = cosigned_anchor(&old[1], request(2, 10, 19)).await;
    let err = old[0].prepare_anchor(&second).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
    assert!(
        err.message.contains("InsufficientSignatures") && err.message.contains("given: 0"),
        "{err}"
    );
    let digest = old[0].anchor_digest(&second).await.unwrap();
    let old_signatures = vec![
        old[0].sign_anchor(&second).await.unwrap().unwrap(),
        second.cosignatures[0].clone(),
    ];
    let old_signatures = ordered_signatures(&digest, &old_signatures, &old_set);
    assert_eq!(old_signatures.len(), 2);
    let anchor_contract = SymbioteAnchor::new(anchor, &chain.deployer);
    let err = anchor_contract
        .anchor(
            B256::from(*second.symbiote.as_bytes()),
            2,
            B256::from(second.payload.root.0),
            10,
            19,
            old_signatures,
        )
        .call()
        .await
        .unwrap_err();
    let refused = revert::<SymbioteAnchor::NotRelayer>(&err);
    assert_eq!(refused.signer, *old_set[..2].iter().min().unwrap());

    let second = cosigned_anchor(&new[1], request(2, 10, 19)).await;
    let prepared = new[0].prepare_anchor(&second).await.unwrap();
    new[0].broadcast(&prepared).await.unwrap();
    included(&new[0], &prepared).await;
    let last = anchor_contract
        .lastSequence(B256::from(*second.symbiote.as_bytes()))
        .call()
        .await
        .unwrap();
    assert_eq!(last, 2);

    // Releases: the same for the bridge.
    let recipient = PrivateKeySigner::random().address();
    let by_old = cosigned_release(&old[1], order(1, recipient, ETHER)).await;
    let err = old[0].prepare_release(&by_old).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
    assert!(err.message.contains("InsufficientSignatures"), "{err}");
    let by_new = cosigned_release(&new[1], order(1, recipient, ETHER)).await;
    let prepared = new[0].prepare_release(&by_new).await.unwrap();
    new[0].broadcast(&prepared).await.unwrap();
    included(&new[0], &prepared).await;
    assert_eq!(
        new[0].release_status(Nonce::new(1)).await.unwrap(),
        ReleaseStatus::Released
    );
    assert_eq!(
        chain.deployer.get_balance(recipient).await.unwrap(),
        U256::from(ETHER)
    );
}

#[tokio::test]
async fn governance_digests_are_the_contracts_own_and_bound_to_one_contract() {
    let chain = Chain::start().await;
    let relayer = PrivateKeySigner::random();
    let members = [relayer.address()];
    let anchor = chain.deploy_anchor(&members, 1).await;
    let bridge = chain.deploy_bridge(&members, 1).await;
    let adapter = chain.adapter(&relayer, anchor, Some(bridge), json!({}));
    let contract = SymbioteBridge::new(bridge, &chain.deployer);

    let limit = typed::SetLimit {
        token: Address::repeat_byte(0x11),
        dailyCap: U256::from(5),
        largeTransferThreshold: U256::from(3),
        delaySeconds: U256::from(60),
        nonce: U256::from(7),
    };
    let on_chain = contract
        .setLimitDigest(
            limit.token,
            U256::from(5),
            U256::from(3),
            U256::from(60),
            U256::from(7),
        )
        .call()
        .await
        .unwrap();
    assert_eq!(adapter.bridge_admin_digest(&limit).await.unwrap(), on_chain);

    let pause = typed::SetPaused {
        paused: true,
        nonce: U256::from(3),
    };
    let on_chain = contract
        .setPausedDigest(true, U256::from(3))
        .call()
        .await
        .unwrap();
    assert_eq!(adapter.bridge_admin_digest(&pause).await.unwrap(), on_chain);
    let signature = adapter.sign_bridge_admin(&pause).await.unwrap();
    assert_eq!(signer_of(&on_chain, &signature), relayer.address());

    let cancel = typed::CancelQueued {
        releaseNonce: U256::from(9),
        nonce: U256::from(4),
    };
    let on_chain = contract
        .cancelQueuedDigest(U256::from(9), U256::from(4))
        .call()
        .await
        .unwrap();
    assert_eq!(
        adapter.bridge_admin_digest(&cancel).await.unwrap(),
        on_chain
    );

    // A rotation signed for the anchor authorizes nothing on the bridge.
    let update = typed::RelayerSetUpdate {
        relayers: vec![Address::repeat_byte(0x22)],
        threshold: U256::from(1),
        nonce: U256::ZERO,
    };
    let for_anchor = adapter
        .relayer_set_update_digest(RelayerSetContract::Anchor, &update)
        .await
        .unwrap();
    let for_bridge = adapter
        .relayer_set_update_digest(RelayerSetContract::Bridge, &update)
        .await
        .unwrap();
    assert_ne!(for_anchor, for_bridge);
    let signature = adapter
        .sign_relayer_set_update(RelayerSetContract::Anchor, &update)
        .await
        .unwrap();
    let err = contract
        .updateRelayers(
            update.relayers.clone(),
            U256::from(1),
            U256::ZERO,
            vec![signature.into()],
        )
        .call()
        .await
        .unwrap_err();
    let refused = revert::<SymbioteBridge::NotRelayer>(&err);
    assert_ne!(refused.signer, relayer.address());

    // Without a configured bridge there is nothing to sign for.
    let anchor_only = chain.adapter(&relayer, anchor, None, json!({}));
    let err = anchor_only.sign_bridge_admin(&pause).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config, "{err}");
}

#[tokio::test]
async fn daily_cap_queues_a_release_until_the_delay_has_passed() {
    let Some(chain) = Chain::start_exclusive().await else {
        return;
    };
    let keys = [
        chain.funded_key().await,
        PrivateKeySigner::random(),
        PrivateKeySigner::random(),
    ];
    let members = addresses(&keys);
    let anchor = chain.deploy_anchor(&members, 2).await;
    let bridge = chain.deploy_bridge(&members, 2).await;
    chain
        .anvil
        .set_balance(&bridge.to_string(), 10 * ETHER)
        .await
        .unwrap();
    let relayers: Vec<EvmAdapter> = keys
        .iter()
        .map(|k| chain.adapter(k, anchor, Some(bridge), json!({})))
        .collect();
    let (relayer, cosigner) = (&relayers[0], &relayers[1]);
    let contract = SymbioteBridge::new(bridge, &chain.deployer);
    const DELAY: u64 = 3_600;

    // A cap of 1 ether a day on the native currency, signed by two relayers.
    let limit = typed::SetLimit {
        token: Address::ZERO,
        dailyCap: U256::from(ETHER),
        largeTransferThreshold: U256::ZERO,
        delaySeconds: U256::from(DELAY),
        nonce: relayer.admin_nonce().await.unwrap(),
    };
    let digest = relayer.bridge_admin_digest(&limit).await.unwrap();
    let on_chain = contract
        .setLimitDigest(
            Address::ZERO,
            limit.dailyCap,
            limit.largeTransferThreshold,
            limit.delaySeconds,
            limit.nonce,
        )
        .call()
        .await
        .unwrap();
    assert_eq!(digest, on_chain);
    let signatures = vec![
        relayers[2].sign_bridge_admin(&limit).await.unwrap(),
        relayer.sign_bridge_admin(&limit).await.unwrap(),
    ];
    send(contract.setLimit(
        Address::ZERO,
        limit.dailyCap,
        limit.largeTransferThreshold,
        limit.delaySeconds,
        limit.nonce,
        ordered_signatures(&digest, &signatures, &members),
    ))
    .await;
    let set = contract.limitOf(Address::ZERO).call().await.unwrap();
    assert_eq!(
        (set.dailyCap, set.delaySeconds),
        (U256::from(ETHER), U256::from(DELAY))
    );
    assert_eq!(relayer.admin_nonce().await.unwrap(), U256::from(1));

    // Under the cap: paid at once.
    let recipient = PrivateKeySigner::random().address();
    let balance = || async { chain.deployer.get_balance(recipient).await.unwrap() };
    let release = |order: ReleaseOrder| async move {
        let order = cosigned_release(cosigner, order).await;
        let prepared = relayer.prepare_release(&order).await.unwrap();
        relayer.broadcast(&prepared).await.unwrap();
        receipt_of(relayer, &prepared).await
    };
    release(order(1, recipient, 4 * ETHER / 10)).await;
    assert_eq!(balance().await, U256::from(4 * ETHER / 10));
    assert_eq!(
        relayer.release_status(Nonce::new(1)).await.unwrap(),
        ReleaseStatus::Released
    );

    // 0.4 + 0.8 is over the cap: the bridge queues it, pays nothing and consumes the nonce,
    // so `is_released` is true while only `release_status` tells that it waits.
    let receipt = release(order(2, recipient, 8 * ETHER / 10)).await;
    let queued = receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| log.log_decode::<SymbioteBridge::Queued>().ok())
        .expect("no Queued event")
        .inner
        .data;
    let block = chain
        .deployer
        .get_block_by_number(receipt.block_number.unwrap().into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (queued.nonce, queued.recipient, queued.amount),
        (U256::from(2), recipient, U256::from(8 * ETHER / 10))
    );
    assert_eq!(
        queued.releaseAfter,
        U256::from(block.header.timestamp + DELAY)
    );
    assert!(
        receipt
            .inner
            .logs()
            .iter()
            .all(|log| log.log_decode::<SymbioteBridge::Released>().is_err())
    );
    assert_eq!(balance().await, U256::from(4 * ETHER / 10));
    assert!(relayer.is_released(Nonce::new(2)).await.unwrap());
    assert_eq!(
        relayer.release_status(Nonce::new(2)).await.unwrap(),
        ReleaseStatus::Queued
    );
    let again = cosigned_release(cosigner, order(2, recipient, 8 * ETHER / 10)).await;
    let err = relayer.prepare_release(&again).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
    assert!(err.message.contains("NonceAlreadyUsed"), "{err}");

    // Before the delay nobody can execute it.
    let err = contract
        .executeQueued(U256::from(2))
        .call()
        .await
        .unwrap_err();
    let early = revert::<SymbioteBridge::QueuedReleaseNotReady>(&err);
    assert_eq!(early.releaseAfter, queued.releaseAfter);
    assert!(early.blockTimestamp < early.releaseAfter);

    // Another one over the cap, cancelled by the relayers while it waits.
    release(order(3, recipient, 2 * ETHER)).await;
    let cancel = typed::CancelQueued {
        releaseNonce: U256::from(3),
        nonce: relayer.admin_nonce().await.unwrap(),
    };
    let digest = relayer.bridge_admin_digest(&cancel).await.unwrap();
    let signatures = vec![
        relayer.sign_bridge_admin(&cancel).await.unwrap(),
        cosigner.sign_bridge_admin(&cancel).await.unwrap(),
    ];
    send(contract.cancelQueued(
        U256::from(3),
        cancel.nonce,
        ordered_signatures(&digest, &signatures, &members),
    ))
    .await;
    assert_eq!(
        relayer.release_status(Nonce::new(3)).await.unwrap(),
        ReleaseStatus::Cancelled
    );

    // Once the delay has passed, anyone executes the queued release and it pays.
    let release_after = u64::try_from(queued.releaseAfter).unwrap();
    advance_to(&chain, release_after).await;
    let receipt = send(contract.executeQueued(U256::from(2))).await;
    assert!(
        receipt
            .inner
            .logs()
            .iter()
            .any(|log| log.log_decode::<SymbioteBridge::Released>().is_ok())
    );
    assert_eq!(balance().await, U256::from(12 * ETHER / 10));
    assert_eq!(
        relayer.release_status(Nonce::new(2)).await.unwrap(),
        ReleaseStatus::Released
    );
    let err = contract
        .executeQueued(U256::from(3))
        .call()
        .await
        .unwrap_err();
    let status = revert::<SymbioteBridge::NotQueued>(&err).status;
    assert_eq!(
        ReleaseStatus::from_contract(status),
        Some(ReleaseStatus::Cancelled)
    );
    let err = contract
        .executeQueued(U256::from(2))
        .call()
        .await
        .unwrap_err();
    let status = revert::<SymbioteBridge::NotQueued>(&err).status;
    assert_eq!(
        ReleaseStatus::from_contract(status),
        Some(ReleaseStatus::Released)
    );
}

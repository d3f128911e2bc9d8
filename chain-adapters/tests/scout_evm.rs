//! The EVM scout against a real anvil: the scout fixtures of `contracts/src/scout` (deployed from
//! the committed artifacts) are each flagged for what they do, a plain EOA is clean, proxies and
//! EIP-7702 delegations are followed to the code that runs, and an inspection depends only on
//! its block: the same block gives the same findings, an earlier one what was there then.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use alloy::eips::eip7702::Authorization;
use alloy::primitives::{Address, B256, U256, b256, keccak256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use chain_adapters::evm::EvmAdapter;
use chain_adapters::scout::{Followed, FollowedVia};
use chain_adapters::{ErrorKind, HostchainAdapter, Inspection, Severity};
use common::evm::{Chain, ETHER, PlainToken, host, send_request};
use common::scout::{codes, finding};
use serde_json::json;
use symbiote::types::HostAddress;

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

const IMPLEMENTATION_SLOT: B256 =
    b256!("360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc");
const BEACON_SLOT: B256 = b256!("a3f0ad74e5423aebfd80d3ef4346578335a9a72aeaee59ff6cb3582b35133d50");

/// EIP-1167 clone code delegating to `target`.
fn minimal_proxy(target: Address) -> Vec<u8> {
    let mut code = hex::decode("363d3d373d3d3d363d73").unwrap();
    code.extend_from_slice(target.as_slice());
    code.extend_from_slice(&hex::decode("5af43d82803e903d91602b57fd5bf3").unwrap());
    code
}

/// An anvil and an adapter whose scout inspects on it (a bridge is configured, so the adapter
/// offers a scout; the contracts themselves are not needed for scouting).
struct Scene {
    chain: Chain,
    adapter: EvmAdapter,
}

impl Scene {
    async fn start() -> Scene {
        let chain = Chain::start().await;
        let key = PrivateKeySigner::random();
        let adapter = chain.adapter(
            &key,
            Address::repeat_byte(0xa1),
            Some(Address::repeat_byte(0xb1)),
            json!({}),
        );
        assert!(
            adapter.scout().is_some(),
            "an adapter with a bridge has a scout"
        );
        Scene { chain, adapter }
    }

    async fn inspect(&self, address: Address) -> Inspection {
        self.inspect_at(address, None).await
    }

    async fn inspect_at(&self, address: Address, block: Option<u64>) -> Inspection {
        let scout = self.adapter.scout().unwrap();
        scout.inspect(&host(address), block).await.unwrap()
    }

    async fn set_code(&self, address: Address, code: &[u8]) {
        self.chain
            .anvil
            .call(
                "anvil_setCode",
                json!([address.to_string(), format!("0x{}", hex::encode(code))]),
            )
            .await
            .unwrap();
    }

    /// Sets storage `slot` of `account` to the address `value`.
    async fn set_storage(&self, account: Address, slot: B256, value: Address) {
        self.chain
            .anvil
            .call(
                "anvil_setStorageAt",
                json!([
                    account.to_string(),
                    slot.to_string(),
                    value.into_word().to_string()
                ]),
            )
            .await
            .unwrap();
    }

    /// keccak256 of the code at `address`, as the scout writes it.
    async fn code_hash(&self, address: Address) -> String {
        let code = self.chain.deployer.get_code_at(address).await.unwrap();
        format!("{:#x}", keccak256(&code))
    }
}

/// The inspection's severity is `severity`, or a failure that shows the whole inspection.
fn assert_severity(inspection: &Inspection, severity: Severity) {
    assert_eq!(inspection.severity(), severity, "{inspection:#?}");
}

fn assert_lacks(inspection: &Inspection, code: &str) {
    assert!(
        !inspection.has(code),
        "unexpected `{code}` in {inspection:#?}"
    );
}

#[tokio::test]
async fn a_plain_eoa_is_clean() {
    let scene = Scene::start().await;
    // An EOA that has sent a transaction, and an address nothing ever touched.
    let sender = scene.chain.funded_key().await;
    let sender_address = sender.address();
    send_request(
        &common::evm::provider(&scene.chain.anvil, sender),
        TransactionRequest::default()
            .to(Address::repeat_byte(0x43))
            .value(U256::from(1)),
    )
    .await;
    for address in [Address::repeat_byte(0x42), sender_address] {
        let inspection = scene.inspect(address).await;
        assert_eq!(codes(&inspection), vec!["no-code"], "{inspection:#?}");
        assert_eq!(inspection.severity(), Severity::Info);
        assert_eq!(inspection.code_hash, None);
        assert!(inspection.followed.is_empty());
        assert_eq!(inspection.address, host(address));
    }
}

#[tokio::test]
async fn selfdestructor_is_malicious() {
    let scene = Scene::start().await;
    let contract = *SelfDestructor::deploy(&scene.chain.deployer)
        .await
        .unwrap()
        .address();
    let inspection = scene.inspect(contract).await;
    assert_severity(&inspection, Severity::Malicious);
    let selfdestruct = finding(&inspection, "selfdestruct");
    assert_eq!(selfdestruct.severity, Severity::Malicious);
    assert!(selfdestruct.detail.contains("pc "), "{selfdestruct:?}");
    assert_eq!(inspection.code_hash, Some(scene.code_hash(contract).await));
    // Not a token, nothing followed, no creation: only what is there.
    assert_lacks(&inspection, "token-contract");
    assert_lacks(&inspection, "metamorphic-create2");
    assert!(inspection.followed.is_empty());

    // An EIP-1167 clone of it is followed to the same code and the same verdict.
    let clone = Address::repeat_byte(0xc1);
    scene.set_code(clone, &minimal_proxy(contract)).await;
    let inspection = scene.inspect(clone).await;
    assert_eq!(
        inspection.followed,
        vec![Followed {
            address: host(contract),
            code_hash: Some(scene.code_hash(contract).await),
            via: FollowedVia::Eip1167Target,
        }]
    );
    assert_eq!(
        finding(&inspection, "eip1167-minimal-proxy").severity,
        Severity::Info
    );
    let selfdestruct = finding(&inspection, "selfdestruct");
    assert!(
        selfdestruct
            .detail
            .starts_with(&format!("EIP-1167 target {contract}: ")),
        "{selfdestruct:?}"
    );
}

#[tokio::test]
async fn honeypot_token_is_held_and_plain_token_only_as_a_token() {
    let scene = Scene::start().await;
    let honey = *HoneypotToken::deploy(&scene.chain.deployer, U256::from(1_000_000))
        .await
        .unwrap()
        .address();
    let inspection = scene.inspect(honey).await;
    assert_severity(&inspection, Severity::Suspicious);
    let token = finding(&inspection, "token-contract");
    assert!(token.detail.contains("ERC-20"), "{token:?}");
    assert!(
        token.detail.contains("totalSupply() = 1000000"),
        "{token:?}"
    );
    // The generic honeypot signal: an ordinary holder's transfer reverts (here with the
    // fixture's TransferBlocked(address) error, shown as raw revert data).
    let blocked = finding(&inspection, "token-transfer-reverts");
    assert_eq!(blocked.severity, Severity::Suspicious);
    assert!(blocked.detail.contains("reverts"), "{blocked:?}");
    let selector = &hex::encode(keccak256("TransferBlocked(address)"))[..8];
    assert!(blocked.detail.contains(selector), "{blocked:?}");
    let inventory = finding(&inspection, "function-inventory");
    assert!(
        inventory.detail.contains("transfer(address,uint256)"),
        "{inventory:?}"
    );

    // A plain token is a token destination too, but its transfers work.
    let plain = *PlainToken::deploy(&scene.chain.deployer, "Plain".into(), "PLN".into())
        .await
        .unwrap()
        .address();
    let inspection = scene.inspect(plain).await;
    assert_eq!(
        finding(&inspection, "token-contract").severity,
        Severity::Suspicious
    );
    assert_lacks(&inspection, "token-transfer-reverts");
    let mint = finding(&inspection, "admin-mint");
    assert_eq!(
        (mint.severity, mint.detail.as_str()),
        (Severity::Info, "mint(address,uint256)")
    );
}

#[tokio::test]
async fn proxy_is_followed_to_the_drainer_logic() {
    let scene = Scene::start().await;
    let collector = Address::repeat_byte(0xc0);
    let logic = *UnverifiedLogic::deploy(&scene.chain.deployer, collector)
        .await
        .unwrap()
        .address();
    let proxy = *ProxyToUnverified::deploy(&scene.chain.deployer, logic)
        .await
        .unwrap()
        .address();
    let inspection = scene.inspect(proxy).await;
    assert_severity(&inspection, Severity::Suspicious);
    assert_eq!(inspection.code_hash, Some(scene.code_hash(proxy).await));
    assert_eq!(
        inspection.followed,
        vec![Followed {
            address: host(logic),
            code_hash: Some(scene.code_hash(logic).await),
            via: FollowedVia::Eip1967Implementation,
        }]
    );
    let proxy_finding = finding(&inspection, "eip1967-proxy");
    assert_eq!(proxy_finding.severity, Severity::Info);
    assert!(
        proxy_finding.detail.contains(&logic.to_string()),
        "{proxy_finding:?}"
    );
    // The proxy's own DELEGATECALL is the followed slot, not a variable target.
    assert_lacks(&inspection, "delegatecall-variable-target");
    // The implementation's sweeps, named as the implementation's.
    let from_logic = format!("EIP-1967 implementation {logic}: ");
    let sweep = finding(&inspection, "sweep-function");
    assert!(sweep.detail.starts_with(&from_logic), "{sweep:?}");
    assert!(sweep.detail.contains("sweep(address)"), "{sweep:?}");
    assert!(sweep.detail.contains("sweepNative()"), "{sweep:?}");
    let balance = finding(&inspection, "sweeps-balance");
    assert!(balance.detail.starts_with(&from_logic), "{balance:?}");
    assert!(
        balance.detail.contains(&collector.to_string()),
        "{balance:?}"
    );
}

#[tokio::test]
async fn forwarder_and_an_eoa_delegating_to_it_are_suspicious() {
    let scene = Scene::start().await;
    let owner = Address::repeat_byte(0x0e);
    let forwarder = *Forwarder::deploy(&scene.chain.deployer, owner)
        .await
        .unwrap()
        .address();
    let inspection = scene.inspect(forwarder).await;
    assert_severity(&inspection, Severity::Suspicious);
    let forwards = finding(&inspection, "forwards-call-value");
    assert!(
        forwards.detail.contains(&format!("to {owner}")),
        "{forwards:?}"
    );
    assert!(
        finding(&inspection, "sweep-function")
            .detail
            .contains("forwardToken(address)")
    );

    // An EOA signs an EIP-7702 authorization to the forwarder; someone else sends it.
    let eoa = PrivateKeySigner::random();
    let chain_id = scene.chain.deployer.get_chain_id().await.unwrap();
    let authorization = Authorization {
        chain_id: U256::from(chain_id),
        address: forwarder,
        nonce: 0,
    };
    let signature = eoa.sign_hash_sync(&authorization.signature_hash()).unwrap();
    let mut request = TransactionRequest::default().to(eoa.address());
    request.authorization_list = Some(vec![authorization.into_signed(signature)]);
    send_request(&scene.chain.deployer, request).await;

    let inspection = scene.inspect(eoa.address()).await;
    assert_severity(&inspection, Severity::Suspicious);
    let delegation = finding(&inspection, "eip7702-delegation");
    assert_eq!(delegation.severity, Severity::Info);
    assert!(delegation.detail.contains(&forwarder.to_string()));
    assert_eq!(
        inspection.followed,
        vec![Followed {
            address: host(forwarder),
            code_hash: Some(scene.code_hash(forwarder).await),
            via: FollowedVia::Eip7702Delegate,
        }]
    );
    let forwards = finding(&inspection, "forwards-call-value");
    assert!(
        forwards
            .detail
            .starts_with(&format!("EIP-7702 delegate {forwarder}: ")),
        "{forwards:?}"
    );
    // And it is what happens: ether sent to the EOA lands with the forwarder's owner.
    let send = TransactionRequest::default()
        .to(eoa.address())
        .value(U256::from(ETHER));
    send_request(&scene.chain.deployer, send).await;
    assert_eq!(
        scene.chain.deployer.get_balance(owner).await.unwrap(),
        U256::from(ETHER)
    );
    assert_eq!(
        scene
            .chain
            .deployer
            .get_balance(eoa.address())
            .await
            .unwrap(),
        U256::ZERO
    );
}

#[tokio::test]
async fn hand_written_code_with_dangerous_opcodes() {
    let scene = Scene::start().await;
    for (code, expected, severity) in [
        // PUSH0 x4, CREATE2, POP, CALLER, SELFDESTRUCT
        (
            "5f5f5f5ff55033ff",
            &["selfdestruct", "metamorphic-create2"][..],
            Severity::Malicious,
        ),
        // DELEGATECALL to an address read from storage slot 0.
        (
            "5f5f5f5f5f545af400",
            &["delegatecall-variable-target"][..],
            Severity::Suspicious,
        ),
        // CALLCODE to the caller.
        (
            "5f5f5f5f5f335af200",
            &["callcode"][..],
            Severity::Suspicious,
        ),
        // DELEGATECALL to a constant (a linked library): nothing to report but the metadata.
        (
            "5f5f5f5f73aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa5af400",
            &[][..],
            Severity::Info,
        ),
        // The bytes ff and f4 only as PUSH data, and after STOP: nothing.
        ("61fff400fff4", &[][..], Severity::Info),
    ] {
        let address = Address::from_slice(&keccak256(code)[..20]);
        scene.set_code(address, &hex::decode(code).unwrap()).await;
        let inspection = scene.inspect(address).await;
        let mut found = codes(&inspection);
        found.retain(|c| *c != "no-metadata");
        assert_eq!(found, expected, "{code}: {inspection:#?}");
        assert_eq!(inspection.severity(), severity, "{code}");
    }
}

#[tokio::test]
async fn beacon_proxies_are_followed_through_the_beacon_and_loops_stop() {
    let scene = Scene::start().await;
    let implementation = *SelfDestructor::deploy(&scene.chain.deployer)
        .await
        .unwrap()
        .address();
    // A beacon that answers every call (implementation() included) with the implementation.
    let beacon = Address::repeat_byte(0xbe);
    let answer = format!("73{}5f5260205ff3", hex::encode(implementation));
    scene.set_code(beacon, &hex::decode(answer).unwrap()).await;
    // A proxy that reads the beacon slot and delegates to an address it computes.
    let proxy = Address::repeat_byte(0xb0);
    let code = format!("7f{}54505f5f5f5f5f545af400", hex::encode(BEACON_SLOT));
    scene.set_code(proxy, &hex::decode(code).unwrap()).await;
    scene.set_storage(proxy, BEACON_SLOT, beacon).await;

    let inspection = scene.inspect(proxy).await;
    let vias: Vec<(HostAddress, FollowedVia)> = inspection
        .followed
        .iter()
        .map(|f| (f.address.clone(), f.via))
        .collect();
    assert_eq!(
        vias,
        vec![
            (host(beacon), FollowedVia::Eip1967Beacon),
            (
                host(implementation),
                FollowedVia::Eip1967BeaconImplementation
            ),
        ]
    );
    assert_eq!(
        inspection.followed[0].code_hash,
        Some(scene.code_hash(beacon).await)
    );
    assert!(
        finding(&inspection, "eip1967-beacon-proxy")
            .detail
            .contains(&beacon.to_string())
    );
    assert_lacks(&inspection, "delegatecall-variable-target");
    let selfdestruct = finding(&inspection, "selfdestruct");
    assert!(
        selfdestruct.detail.starts_with(&format!(
            "EIP-1967 beacon implementation {implementation}: "
        )),
        "{selfdestruct:?}"
    );

    // Two clones of each other: followed once, then the loop is a finding.
    let (a, b) = (Address::repeat_byte(0xa0), Address::repeat_byte(0xa1));
    scene.set_code(a, &minimal_proxy(b)).await;
    scene.set_code(b, &minimal_proxy(a)).await;
    let inspection = scene.inspect(a).await;
    assert_eq!(
        codes(&inspection),
        vec![
            "eip1167-minimal-proxy",
            "eip1167-minimal-proxy",
            "follow-limit"
        ]
    );
    assert_eq!(inspection.followed.len(), 1);
    assert_eq!(inspection.severity(), Severity::Suspicious);
}

#[tokio::test]
async fn same_block_same_findings_and_earlier_blocks_see_earlier_code() {
    let scene = Scene::start().await;
    let before = scene.chain.deployer.get_block_number().await.unwrap();
    let logic = *UnverifiedLogic::deploy(&scene.chain.deployer, Address::repeat_byte(0xc0))
        .await
        .unwrap()
        .address();
    let proxy = *ProxyToUnverified::deploy(&scene.chain.deployer, logic)
        .await
        .unwrap()
        .address();
    let first = scene.inspect(proxy).await;
    assert!(first.block > before);

    // The proxy is pointed at other code later (as an upgrade would): the latest block sees
    // the new implementation, the first block still the old one, byte for byte.
    let destructor = *SelfDestructor::deploy(&scene.chain.deployer)
        .await
        .unwrap()
        .address();
    scene
        .set_storage(proxy, IMPLEMENTATION_SLOT, destructor)
        .await;
    scene.chain.anvil.mine(2).await.unwrap();
    let latest = scene.inspect(proxy).await;
    assert!(latest.block > first.block);
    assert_severity(&latest, Severity::Malicious);
    assert_eq!(latest.followed[0].address, host(destructor));

    let again = scene.inspect_at(proxy, Some(first.block)).await;
    assert_eq!(again, first);
    assert_eq!(
        serde_json::to_vec(&again).unwrap(),
        serde_json::to_vec(&first).unwrap()
    );

    // Before the deployment there was nothing at the address.
    let earlier = scene.inspect_at(proxy, Some(before)).await;
    assert_eq!(earlier.block, before);
    assert_eq!(codes(&earlier), vec!["no-code"]);
    assert_eq!(earlier.code_hash, None);
    assert_ne!(earlier.findings, first.findings);
}

#[tokio::test]
async fn bad_requests_are_clear_errors() {
    let scene = Scene::start().await;
    let scout = scene.adapter.scout().unwrap();
    let err = scout
        .inspect(&HostAddress::new("not-an-address").unwrap(), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
    assert!(err.message.contains("not-an-address"), "{err}");

    let head = scene.chain.deployer.get_block_number().await.unwrap();
    let err = scout
        .inspect(&host(Address::repeat_byte(1)), Some(head + 1000))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
    assert!(err.message.contains("above the node's head"), "{err}");
}

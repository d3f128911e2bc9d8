//! The Bitcoin adapter against a real regtest bitcoind (no wallet, `-txindex=1`): anchors that
//! reach their confirmation depth and read back, idempotent broadcasts, restarts that re-send
//! the stored transaction, chained anchors, replace-by-fee up to the cap, reorgs, and
//! configuration and key errors that name the field but never the secret.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use bitcoin::consensus::encode::{deserialize, serialize_hex};
use bitcoin::secp256k1::{SecretKey, rand};
use bitcoin::{Network, OutPoint, PrivateKey, Transaction};
use chain_adapters::bitcoin::fees::FeeRate;
use chain_adapters::bitcoin::meta::MetaV1;
use chain_adapters::bitcoin::wallet::Signer;
use chain_adapters::bitcoin::{BitcoinAdapter, BitcoinConfig};
use chain_adapters::{
    AdapterError, AnchorRequest, Anchorer, ErrorKind, HostchainAdapter, Inclusion, PreparedTx,
    TxStatus,
};
use devnet::Bitcoind;
use serde_json::{Value, json};
use symbiote::anchor::AnchorPayload;
use symbiote::hash::Hash;
use symbiote::types::{Height, HostchainId, Sequence, SymbioteId};

/// A relayer key in a file, and the node funded for it.
struct Setup {
    node: Bitcoind,
    /// Holds the key file.
    _dir: tempfile::TempDir,
    key_file: std::path::PathBuf,
    /// The key as written to the file, to check that it never leaks.
    key_hex: String,
    address: String,
}

fn hostchain() -> HostchainId {
    HostchainId::new("bitcoin-regtest").unwrap()
}

fn fresh_key() -> String {
    let secret = SecretKey::new(&mut rand::thread_rng());
    secret.display_secret().to_string()
}

/// Starts bitcoind and writes a fresh key; with `funded`, mines 101 blocks to its address so
/// that its first coinbase outputs are mature.
async fn setup(funded: bool) -> Setup {
    let node = Bitcoind::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key_hex = fresh_key();
    let key_file = dir.path().join("bitcoin.key");
    std::fs::write(&key_file, format!("{key_hex}\n")).unwrap();
    let address = Signer::from_text(&key_hex, Network::Regtest, "test")
        .unwrap()
        .address()
        .to_string();
    if funded {
        node.mine_to(101, &address).await.unwrap();
    }
    Setup {
        node,
        _dir: dir,
        key_file,
        key_hex,
        address,
    }
}

impl Setup {
    /// The configuration section, with `overrides` applied.
    fn config(&self, overrides: Value) -> Value {
        let (user, password) = self.node.auth();
        let mut section = json!({
            "rpc_url": self.node.rpc_url(),
            "rpc_user": user,
            "rpc_password": password,
            "network": "regtest",
            "key_file": self.key_file,
        });
        for (key, value) in overrides.as_object().unwrap() {
            if value.is_null() {
                section.as_object_mut().unwrap().remove(key);
            } else {
                section[key] = value.clone();
            }
        }
        section
    }

    async fn adapter(&self, overrides: Value) -> BitcoinAdapter {
        let config = BitcoinConfig::from_value(self.config(overrides)).unwrap();
        BitcoinAdapter::connect(hostchain(), config).await.unwrap()
    }

    async fn mine(&self, blocks: u64) -> Vec<String> {
        self.node.mine_to(blocks, &self.address).await.unwrap()
    }

    async fn mempool(&self) -> Vec<String> {
        let value = self.node.call("getrawmempool", json!([])).await.unwrap();
        serde_json::from_value(value).unwrap()
    }

    async fn call(&self, method: &str, params: Value) -> Value {
        self.node.call(method, params).await.unwrap()
    }
}

fn request(sequence: u64) -> AnchorRequest {
    AnchorRequest {
        symbiote: SymbioteId::from_name("bitcoin-test"),
        payload: payload(sequence),
        from: Height::new(1),
        to: Height::new(10),
        cosignatures: vec![],
    }
}

fn payload(sequence: u64) -> AnchorPayload {
    AnchorPayload {
        sequence: Sequence::new(sequence),
        root: Hash([sequence as u8 ^ 0x5a; 32]),
    }
}

fn decode(prepared: &PreparedTx) -> Transaction {
    deserialize(&prepared.raw).unwrap()
}

fn meta(prepared: &PreparedTx) -> MetaV1 {
    MetaV1::from_value(&prepared.meta).unwrap()
}

fn included(status: &TxStatus) -> (Inclusion, u64, bool) {
    match status {
        TxStatus::Included {
            inclusion,
            confirmations,
            fin,
        } => (inclusion.clone(), *confirmations, *fin),
        other => panic!("expected Included, got {other:?}"),
    }
}

#[tokio::test]
async fn anchor_round_trip_reaches_final_depth_and_reads_back() {
    let setup = setup(true).await;
    // Through the registry, as the relayer builds it.
    let adapter: Arc<dyn HostchainAdapter> =
        chain_adapters::build("bitcoin", hostchain(), setup.config(json!({})))
            .await
            .unwrap();
    assert!(adapter.deposits().is_none() && adapter.releaser().is_none());
    assert!(adapter.scout().is_none());
    let anchorer = adapter.anchorer();

    let prepared = anchorer.prepare_anchor(&request(1)).await.unwrap();
    let tx = decode(&prepared);
    assert_eq!(prepared.id, tx.compute_txid().to_string());
    assert_eq!(tx.output.len(), 2);
    let op_return = tx.output[0].script_pubkey.as_bytes();
    assert_eq!(op_return[0], 0x6a, "output 0 is OP_RETURN");
    assert_eq!(op_return[1], 45, "a single 45-byte push");
    assert_eq!(&op_return[2..], payload(1).encode());
    assert_eq!(tx.output[1].script_pubkey.to_hex_string(), {
        let info = setup.call("validateaddress", json!([setup.address])).await;
        info["scriptPubKey"].as_str().unwrap().to_string()
    });
    assert!(tx.input.iter().all(|input| input.sequence.is_rbf()));
    // Standard policy accepts it, as the node itself says.
    let accept = setup
        .call("testmempoolaccept", json!([[serialize_hex(&tx)]]))
        .await;
    assert_eq!(accept[0]["allowed"], json!(true), "{accept}");
    // Nothing is sent by prepare.
    assert_eq!(
        anchorer.status(&prepared, None).await.unwrap(),
        TxStatus::Unknown
    );

    anchorer.broadcast(&prepared).await.unwrap();
    assert_eq!(
        anchorer.status(&prepared, None).await.unwrap(),
        TxStatus::InMempool
    );
    let err = anchorer.read_anchor(&prepared.id).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");

    let block = setup.mine(1).await.remove(0);
    let (inclusion, confirmations, fin) =
        included(&anchorer.status(&prepared, None).await.unwrap());
    assert_eq!(inclusion.block_hash, block);
    assert_eq!(inclusion.height, 102);
    assert_eq!((confirmations, fin), (1, false));

    setup.mine(4).await;
    let (_, confirmations, fin) =
        included(&anchorer.status(&prepared, Some(&inclusion)).await.unwrap());
    assert_eq!((confirmations, fin), (5, false));
    setup.mine(1).await;
    let (again, confirmations, fin) =
        included(&anchorer.status(&prepared, Some(&inclusion)).await.unwrap());
    assert_eq!(again, inclusion);
    assert_eq!(
        (confirmations, fin),
        (6, true),
        "final at the default depth of 6"
    );

    let read = anchorer.read_anchor(&prepared.id).await.unwrap();
    assert_eq!(read.payload, payload(1));
    assert_eq!(read.inclusion, inclusion);
    assert_eq!((read.confirmations, read.fin), (6, true));
}

#[tokio::test]
async fn read_anchor_explains_what_is_wrong() {
    let setup = setup(true).await;
    let adapter = setup.adapter(json!({})).await;

    let err = adapter.read_anchor("not-a-txid").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    let err = adapter.read_anchor(&"11".repeat(32)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.message.contains("not found"), "{err}");

    // A coinbase transaction carries the witness commitment in an OP_RETURN, not a payload.
    let block = setup.call("getblockhash", json!([1])).await;
    let block = setup.call("getblock", block_param(&block)).await;
    let coinbase = block["tx"][0].as_str().unwrap();
    let err = adapter.read_anchor(coinbase).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.message.contains("no anchor payload"), "{err}");
    assert!(err.message.contains("output 1"), "{err}");
}

/// Anyone can write an anchor payload into an OP_RETURN: a stranger copies ours from their own
/// coins. Only anchors spending a trusted address's coins count, and a reader that verifies
/// them needs no key, only the addresses whose anchors count.
#[tokio::test]
async fn a_strangers_op_return_is_no_anchor_and_a_reader_needs_no_key() {
    let setup = setup(true).await;
    let ours = setup.adapter(json!({})).await;
    let dir = tempfile::tempdir().unwrap();
    let stranger_key = dir.path().join("stranger.key");
    let stranger_hex = fresh_key();
    std::fs::write(&stranger_key, &stranger_hex).unwrap();
    let stranger_address = Signer::from_text(&stranger_hex, Network::Regtest, "test")
        .unwrap()
        .address()
        .to_string();
    setup.node.mine_to(101, &stranger_address).await.unwrap();
    let stranger = setup.adapter(json!({ "key_file": stranger_key })).await;

    let genuine = ours.prepare_anchor(&request(1)).await.unwrap();
    ours.broadcast(&genuine).await.unwrap();
    // The stranger anchors the very same payload.
    let copy = stranger.prepare_anchor(&request(1)).await.unwrap();
    stranger.broadcast(&copy).await.unwrap();
    setup.mine(1).await;

    assert_eq!(
        ours.read_anchor(&genuine.id).await.unwrap().payload,
        payload(1)
    );
    let err = ours.read_anchor(&copy.id).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.message.contains("trusted anchor address"), "{err}");

    // A reader reads no key: without the addresses to trust it refuses to start, naming them.
    let keyless = |trusted: Value| {
        setup.config(json!({ "key_file": null, "trusted_anchor_addresses": trusted }))
    };
    let err = chain_adapters::registry::reader("bitcoin", hostchain(), keyless(json!(null)))
        .await
        .err()
        .expect("a reader without trusted addresses");
    assert_eq!(err.kind, ErrorKind::Config, "{err}");
    assert!(err.message.contains("trusted_anchor_addresses"), "{err}");
    let err = chain_adapters::registry::reader(
        "bitcoin",
        hostchain(),
        keyless(json!(["bc1qnotregtest"])),
    )
    .await
    .err()
    .expect("a reader with a bad address");
    assert!(err.message.contains("bc1qnotregtest"), "{err}");

    let reader =
        chain_adapters::registry::reader("bitcoin", hostchain(), keyless(json!([setup.address])))
            .await
            .unwrap();
    assert_eq!(
        reader.read_anchor(&genuine.id).await.unwrap().payload,
        payload(1)
    );
    assert!(reader.read_anchor(&copy.id).await.is_err());
    // Trusting the stranger's address instead turns it around.
    let reader = chain_adapters::registry::reader(
        "bitcoin",
        hostchain(),
        keyless(json!([stranger_address])),
    )
    .await
    .unwrap();
    assert_eq!(
        reader.read_anchor(&copy.id).await.unwrap().payload,
        payload(1)
    );
    assert!(reader.read_anchor(&genuine.id).await.is_err());
}

fn block_param(hash: &Value) -> Value {
    json!([hash.as_str().unwrap()])
}

#[tokio::test]
async fn broadcast_is_idempotent_before_and_after_mining() {
    let setup = setup(true).await;
    let adapter = setup.adapter(json!({})).await;
    let first = adapter.prepare_anchor(&request(1)).await.unwrap();
    adapter.broadcast(&first).await.unwrap();
    adapter.broadcast(&first).await.unwrap();
    assert_eq!(setup.mempool().await, vec![first.id.clone()]);

    // Mined: its change is in the UTXO set.
    setup.mine(1).await;
    adapter.broadcast(&first).await.unwrap();
    assert!(setup.mempool().await.is_empty());

    // Mined and its change spent by the next anchor: its outputs are all gone.
    let second = adapter.prepare_anchor(&request(2)).await.unwrap();
    assert_eq!(
        decode(&second).input[0].previous_output,
        OutPoint::new(first.id.parse().unwrap(), 1)
    );
    adapter.broadcast(&second).await.unwrap();
    setup.mine(1).await;
    adapter.broadcast(&first).await.unwrap();
    adapter.broadcast(&second).await.unwrap();
    assert!(setup.mempool().await.is_empty());
    let (_, confirmations, _) = included(&adapter.status(&first, None).await.unwrap());
    assert_eq!(confirmations, 2);
}

#[tokio::test]
async fn restart_rebroadcasts_the_same_anchor_tx() {
    let setup = setup(true).await;
    let stored = {
        let adapter = setup.adapter(json!({})).await;
        let prepared = adapter.prepare_anchor(&request(7)).await.unwrap();
        // The relayer stores it before anything leaves the process, then crashes.
        serde_json::to_string(&prepared).unwrap()
    };
    assert!(setup.mempool().await.is_empty());

    let adapter = setup.adapter(json!({})).await;
    let prepared: PreparedTx = serde_json::from_str(&stored).unwrap();
    adapter.broadcast(&prepared).await.unwrap();
    assert_eq!(setup.mempool().await, vec![prepared.id.clone()]);
    assert_eq!(
        adapter.status(&prepared, None).await.unwrap(),
        TxStatus::InMempool
    );

    // The new instance learnt what the re-sent transaction spends: the next anchor chains on
    // its change instead of conflicting with it.
    let next = adapter.prepare_anchor(&request(8)).await.unwrap();
    assert_eq!(
        decode(&next).input[0].previous_output,
        OutPoint::new(prepared.id.parse().unwrap(), 1)
    );
    adapter.broadcast(&next).await.unwrap();
    let mut mempool = setup.mempool().await;
    mempool.sort();
    let mut expected = vec![prepared.id.clone(), next.id.clone()];
    expected.sort();
    assert_eq!(mempool, expected);

    // A third instance, started while both are unconfirmed, does not spend their coins again.
    let third = setup.adapter(json!({})).await;
    let other = third.prepare_anchor(&request(9)).await.unwrap();
    let spent: Vec<OutPoint> = decode(&prepared)
        .input
        .iter()
        .map(|i| i.previous_output)
        .collect();
    assert!(
        decode(&other)
            .input
            .iter()
            .all(|i| !spent.contains(&i.previous_output))
    );
    third.broadcast(&other).await.unwrap();
    assert_eq!(setup.mempool().await.len(), 3);
}

#[tokio::test]
async fn chained_anchors_confirm_together() {
    let setup = setup(true).await;
    let adapter = setup.adapter(json!({})).await;
    let first = adapter.prepare_anchor(&request(1)).await.unwrap();
    adapter.broadcast(&first).await.unwrap();
    let second = adapter.prepare_anchor(&request(2)).await.unwrap();
    let second_tx = decode(&second);
    assert_eq!(second_tx.input.len(), 1);
    assert_eq!(
        second_tx.input[0].previous_output,
        OutPoint::new(first.id.parse().unwrap(), 1),
        "the second anchor spends the first one's change"
    );
    assert_eq!(meta(&second).chain_depth, 2);
    adapter.broadcast(&second).await.unwrap();
    assert_eq!(setup.mempool().await.len(), 2);

    // The first now has a descendant: replacing it would invalidate the second.
    let err = adapter.replace(&first).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Stale, "{err}");
    assert!(err.message.contains(&second.id), "{err}");

    let block = setup.mine(1).await.remove(0);
    for prepared in [&first, &second] {
        let (inclusion, confirmations, _) =
            included(&adapter.status(prepared, None).await.unwrap());
        assert_eq!(
            (inclusion.block_hash.as_str(), confirmations),
            (block.as_str(), 1)
        );
    }
    let read = adapter.read_anchor(&second.id).await.unwrap();
    assert_eq!(read.payload, payload(2));
}

#[tokio::test]
async fn replacement_pays_more_and_evicts_the_original_until_the_cap() {
    let setup = setup(true).await;
    let adapter = setup
        .adapter(json!({"fallback_fee_rate_sat_vb": 1, "max_fee_rate_sat_vb": 2}))
        .await;
    let info = setup.call("getmempoolinfo", json!([])).await;
    let incremental = FeeRate::from_btc_per_kvb(
        bitcoin::Amount::from_btc(info["incrementalrelayfee"].as_f64().unwrap()).unwrap(),
    );

    let original = adapter.prepare_anchor(&request(1)).await.unwrap();
    assert_eq!(
        meta(&original).fee_rate_sat_kvb,
        FeeRate::from_sat_per_kvb(1_000)
    );
    adapter.broadcast(&original).await.unwrap();

    let mut current = original.clone();
    let mut replacements = 0;
    let err: AdapterError = loop {
        let next = match adapter.replace(&current).await {
            Ok(next) => next,
            Err(err) => break err,
        };
        let (old, new) = (meta(&current), meta(&next));
        assert_eq!(new.replaces, Some(current.id.parse().unwrap()));
        // Same inputs, same payload.
        assert_eq!(new.inputs, old.inputs);
        assert_eq!(
            decode(&next).output[0].script_pubkey,
            decode(&current).output[0].script_pubkey
        );
        // BIP125: the old fee plus the incremental relay fee for its own size, a higher rate,
        // never above the cap.
        let increment = incremental.fee_at_least(new.vsize).unwrap();
        assert!(new.fee_sat >= old.fee_sat + increment, "{old:?} -> {new:?}");
        assert!(new.fee_rate_sat_kvb > old.fee_rate_sat_kvb);
        assert!(new.fee_rate_sat_kvb <= FeeRate::from_sat_per_kvb(2_000));

        adapter.broadcast(&next).await.unwrap();
        assert_eq!(
            setup.mempool().await,
            vec![next.id.clone()],
            "the successor replaced it"
        );
        match adapter.status(&current, None).await.unwrap() {
            TxStatus::Dropped { reason } => assert!(reason.contains(&next.id), "{reason}"),
            other => panic!("the replaced transaction is {other:?}"),
        }
        // Sending the replaced one again does not bring it back.
        let again = adapter.broadcast(&current).await.unwrap_err();
        assert_eq!(again.kind, ErrorKind::Stale, "{again}");

        current = next;
        replacements += 1;
        assert!(replacements < 10, "the cap should stop the bumps");
    };
    assert!(replacements >= 2, "bumped {replacements} times");
    assert_eq!(err.kind, ErrorKind::FeeCapReached, "{err}");
    assert_eq!(setup.mempool().await, vec![current.id.clone()]);

    setup.mine(1).await;
    included(&adapter.status(&current, None).await.unwrap());
    assert!(matches!(
        adapter.status(&original, None).await.unwrap(),
        TxStatus::Dropped { .. }
    ));
    // Nothing to replace once it is mined.
    let err = adapter.replace(&current).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected, "{err}");
}

#[tokio::test]
async fn reorg_puts_the_anchor_back_and_it_is_included_again() {
    let setup = setup(true).await;
    let adapter = setup.adapter(json!({})).await;
    let anchor = adapter.prepare_anchor(&request(1)).await.unwrap();
    adapter.broadcast(&anchor).await.unwrap();
    let block = setup.mine(1).await.remove(0);
    let (seen, _, _) = included(&adapter.status(&anchor, None).await.unwrap());
    assert_eq!(seen.block_hash, block);

    // Bitcoin Core v31 returns the transactions of a disconnected block to its mempool: the
    // anchor is pending again, and nothing needs to be re-sent.
    setup.call("invalidateblock", json!([block])).await;
    assert_eq!(setup.mempool().await, vec![anchor.id.clone()]);
    assert_eq!(
        adapter.status(&anchor, Some(&seen)).await.unwrap(),
        TxStatus::InMempool
    );
    setup.call("reconsiderblock", json!([block])).await;
    let (inclusion, confirmations, _) =
        included(&adapter.status(&anchor, Some(&seen)).await.unwrap());
    assert_eq!((&inclusion, confirmations), (&seen, 1));

    // Disconnected again, and this time a conflicting transaction takes its inputs in another
    // block: it was reorged out and is nowhere else.
    setup.call("invalidateblock", json!([block])).await;
    let conflict = adapter.replace(&anchor).await.unwrap();
    adapter.broadcast(&conflict).await.unwrap();
    let other_block = setup.mine(1).await.remove(0);
    assert_eq!(
        adapter.status(&anchor, Some(&seen)).await.unwrap(),
        TxStatus::ReorgedOut {
            previous: seen.clone()
        }
    );
    let (elsewhere, _, _) = included(&adapter.status(&conflict, None).await.unwrap());
    assert_eq!(elsewhere.block_hash, other_block);

    // Back to the original chain: the anchor is included where it was, its replacement is not.
    setup.call("invalidateblock", json!([other_block])).await;
    setup.call("reconsiderblock", json!([block])).await;
    let (inclusion, _, _) = included(&adapter.status(&anchor, Some(&seen)).await.unwrap());
    assert_eq!(inclusion, seen);
    assert!(matches!(
        adapter.status(&conflict, None).await.unwrap(),
        TxStatus::Dropped { .. }
    ));
    // And a new block on top confirms it further.
    setup.mine(1).await;
    let (_, confirmations, _) = included(&adapter.status(&anchor, Some(&seen)).await.unwrap());
    assert_eq!(confirmations, 2);
}

#[tokio::test]
async fn unfunded_relayer_reports_insufficient_funds_until_funded() {
    let setup = setup(false).await;
    let adapter = setup.adapter(json!({})).await;
    let err = adapter.prepare_anchor(&request(1)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InsufficientFunds, "{err}");
    assert!(err.is_retryable());

    // Immature coinbase outputs do not count.
    setup.mine(99).await;
    let err = adapter.prepare_anchor(&request(1)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InsufficientFunds, "{err}");
    assert!(err.message.contains("immature"), "{err}");

    // Funded while running: prepare scans the UTXO set again by itself.
    setup.mine(1).await;
    let prepared = adapter.prepare_anchor(&request(1)).await.unwrap();
    adapter.broadcast(&prepared).await.unwrap();
}

/// Checks that none of `secrets` appears in `text`.
fn assert_hides(text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!text.contains(secret), "{text:?} reveals a secret");
    }
}

async fn build_error(config: Value) -> AdapterError {
    match chain_adapters::build("bitcoin", hostchain(), config).await {
        Ok(_) => panic!("the configuration was accepted"),
        Err(err) => err,
    }
}

#[tokio::test]
async fn bad_config_and_bad_key_name_the_field_and_never_the_secret() {
    let setup = setup(false).await;
    let (_, password) = setup.node.auth();
    let secret: SecretKey = setup.key_hex.parse().unwrap();
    let wif = PrivateKey::new(secret, Network::Regtest).to_wif();
    let secrets = [setup.key_hex.as_str(), wif.as_str(), password];

    let cases = [
        (json!({"confirmation": 6}), "confirmation"),
        (json!({"rpc_password": null}), "rpc_password"),
        (json!({"network": "mainnet"}), "network"),
        (json!({"confirmations": "six"}), "confirmations"),
        (json!({"max_fee_rate_sat_vb": 0.5}), "max_fee_rate_sat_vb"),
        (json!({"key_file": null}), "key_file"),
        (json!({"key_file": "/nonexistent/bitcoin.key"}), "key_file"),
        (
            json!({"key_file": null, "key_env": "SYMBIOTE_TEST_UNSET_BITCOIN_KEY"}),
            "key_env",
        ),
        // Set, but not a key: the error names the variable, never its value.
        (json!({"key_file": null, "key_env": "PATH"}), "key_env"),
        // A regtest node for a signet configuration.
        (json!({"network": "signet"}), "network"),
    ];
    for (overrides, field) in cases {
        let err = build_error(setup.config(overrides.clone())).await;
        assert_eq!(err.kind, ErrorKind::Config, "{overrides}: {err}");
        assert!(err.to_string().contains(field), "{overrides}: {err}");
        assert_hides(&err.to_string(), &secrets);
        assert_hides(&format!("{err:?}"), &secrets);
    }
    let path = std::env::var("PATH").unwrap();
    let err = build_error(setup.config(json!({"key_file": null, "key_env": "PATH"}))).await;
    assert_hides(&err.to_string(), &[&path]);

    // Key files with something that is almost a key: named by path, content never shown.
    let dir = tempfile::tempdir().unwrap();
    let almost = format!("{}zz", &setup.key_hex[..62]);
    let mainnet_wif = PrivateKey::new(secret, Network::Bitcoin).to_wif();
    for (name, content) in [
        ("short.key", almost.as_str()),
        ("mainnet.key", mainnet_wif.as_str()),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, content).unwrap();
        let err = build_error(setup.config(json!({ "key_file": file }))).await;
        assert_eq!(err.kind, ErrorKind::Config, "{err}");
        assert!(
            err.to_string().contains("key_file") && err.to_string().contains(name),
            "{err}"
        );
        assert_hides(&err.to_string(), &[content, secrets[0], secrets[1]]);
    }

    // A wrong RPC password is a configuration error, and is not shown either.
    let err = build_error(setup.config(json!({"rpc_password": "wrong-password-123"}))).await;
    assert_eq!(err.kind, ErrorKind::Config, "{err}");
    assert_hides(&err.to_string(), &["wrong-password-123", password]);

    // A WIF key in the file works like the hex one, and Debug output shows neither.
    let wif_file = dir.path().join("wif.key");
    std::fs::write(&wif_file, &wif).unwrap();
    let adapter = setup.adapter(json!({ "key_file": wif_file })).await;
    assert_eq!(adapter.address().to_string(), setup.address);
    let debug = format!("{adapter:?}");
    assert!(debug.contains(&setup.address), "{debug}");
    assert_hides(&debug, &secrets);
    assert_hides(&format!("{:?}", adapter.config()), &secrets);
    assert_eq!(adapter.rbf_after_blocks(), 3);
    assert_eq!(adapter.confirmations(), 6);
}

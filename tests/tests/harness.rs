//! The harness itself: nodes run side by side without colliding, and stop when dropped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use devnet::{Anvil, Bitcoind, Postgres, compose};
use serde_json::json;

#[tokio::test]
async fn nodes_of_one_kind_run_side_by_side() {
    if compose::enabled() {
        return; // One shared service per kind under COMPOSE=1: nothing to prove here.
    }
    let (a, b) = tokio::join!(Anvil::spawn(), Anvil::spawn());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.rpc_url(), b.rpc_url());
    a.mine(5).await.unwrap();
    let height = |v: serde_json::Value| {
        u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    };
    assert_eq!(
        height(a.call("eth_blockNumber", json!([])).await.unwrap()),
        5
    );
    assert_eq!(
        height(b.call("eth_blockNumber", json!([])).await.unwrap()),
        0
    );

    let (x, y) = tokio::join!(Bitcoind::spawn(), Bitcoind::spawn());
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_ne!(x.rpc_url(), y.rpc_url());
    x.mine_to(3, "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080")
        .await
        .unwrap();
    assert_eq!(x.call("getblockcount", json!([])).await.unwrap(), json!(3));
    assert_eq!(y.call("getblockcount", json!([])).await.unwrap(), json!(0));

    let (p, q) = tokio::join!(Postgres::spawn(), Postgres::spawn());
    assert_ne!(p.unwrap().url(), q.unwrap().url());
}

#[tokio::test]
async fn dropping_a_node_stops_it() {
    if compose::enabled() {
        return; // The harness does not own compose services.
    }
    let anvil = Anvil::spawn().await.unwrap();
    let url = anvil.rpc_url().to_string();
    let log = anvil.log_path().unwrap().to_path_buf();
    assert!(anvil.call("eth_chainId", json!([])).await.is_ok());
    drop(anvil);
    let client = devnet::rpc::client();
    let after = devnet::rpc::call(&client, &url, None, "eth_chainId", json!([])).await;
    assert!(
        after.is_err(),
        "anvil still answers after its handle was dropped"
    );
    assert!(!log.exists(), "the data directory is removed with the node");
}

#[test]
fn a_missing_tool_is_named_in_the_error() {
    let err = devnet::tools::find("no-such-tool-symbiote").unwrap_err();
    let message = err.to_string();
    assert!(message.contains("no-such-tool-symbiote"), "{message}");
    assert!(message.contains("tools/install.sh"), "{message}");
}

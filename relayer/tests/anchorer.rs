//! The anchorer's decisions, driven by a small in-memory fake behind the adapter traits:
//! a stuck transaction is replaced (and the replacement stored before it is sent), a reorged-out
//! anchor is sent again, a dropped one is prepared anew, and an anchor becomes final only when
//! its adapter says so.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chain_adapters::{
    AdapterResult, AnchorReadBack, AnchorRequest, Anchorer, HostchainAdapter, Inclusion,
    PreparedTx, TxStatus,
};
use relayer::config::AnchoringSection;
use relayer::metrics::Metrics;
use relayer::pipeline::anchorer::HostchainAnchorer;
use relayer::store::{AnchorState, Store};
use symbiote::certificate::QuorumCertificate;
use symbiote::commitment::{Aggregate, Commitment};
use symbiote::hash::Hash;
use symbiote::types::{Height, HostchainId, SymbioteId};

/// What the fake hostchain answers, and what it was asked.
#[derive(Default)]
struct Script {
    /// The status every transaction reports now.
    status: Option<TxStatus>,
    prepared: usize,
    broadcasts: Vec<String>,
    replaced: Vec<String>,
}

struct Fake {
    id: HostchainId,
    script: Arc<Mutex<Script>>,
}

#[async_trait]
impl Anchorer for Fake {
    async fn sign_anchor(&self, _: &AnchorRequest) -> AdapterResult<Option<Vec<u8>>> {
        Ok(None)
    }
    async fn prepare_anchor(&self, request: &AnchorRequest) -> AdapterResult<PreparedTx> {
        let mut script = self.script.lock().unwrap();
        script.prepared += 1;
        Ok(PreparedTx {
            hostchain: self.id.clone(),
            id: format!("tx-{}-{}", request.payload.sequence, script.prepared),
            raw: vec![],
            meta: serde_json::json!({}),
        })
    }
    async fn broadcast(&self, tx: &PreparedTx) -> AdapterResult<()> {
        self.script.lock().unwrap().broadcasts.push(tx.id.clone());
        Ok(())
    }
    async fn status(&self, _: &PreparedTx, _: Option<&Inclusion>) -> AdapterResult<TxStatus> {
        Ok(self
            .script
            .lock()
            .unwrap()
            .status
            .clone()
            .unwrap_or(TxStatus::InMempool))
    }
    async fn replace(&self, tx: &PreparedTx) -> AdapterResult<PreparedTx> {
        let mut script = self.script.lock().unwrap();
        script.replaced.push(tx.id.clone());
        Ok(PreparedTx {
            id: format!("{}-bumped", tx.id),
            ..tx.clone()
        })
    }
    async fn read_anchor(&self, id: &str) -> AdapterResult<AnchorReadBack> {
        Err(chain_adapters::AdapterError::new(
            chain_adapters::ErrorKind::NotFound,
            &self.id,
            id.to_string(),
        ))
    }
}

impl HostchainAdapter for Fake {
    fn hostchain(&self) -> &HostchainId {
        &self.id
    }
    fn anchorer(&self) -> &dyn Anchorer {
        self
    }
}

fn included(height: u64, fin: bool) -> TxStatus {
    TxStatus::Included {
        inclusion: Inclusion {
            height,
            block_hash: format!("block-{height}"),
        },
        confirmations: if fin { 6 } else { 1 },
        fin,
    }
}

#[tokio::test]
async fn stuck_replaced_reorged_resent_dropped_reprepared_then_final() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("r.sqlite").display()
    ))
    .await
    .unwrap();
    let own = SymbioteId::from_name("anchorer-test");
    let chain = HostchainId::new("fake-chain").unwrap();
    let commitment = Commitment {
        symbiote: own,
        from: Height::new(1),
        to: Height::new(5),
        blocks_root: Hash([1; 32]),
        validator_set_hash: Hash([2; 32]),
        certificate: QuorumCertificate {
            symbiote: own,
            height: Height::new(5),
            block_hash: Hash([3; 32]),
            signatures: vec![],
        },
    };
    let aggregate = Aggregate {
        commitments: vec![commitment.hash()],
    };
    let batch = store
        .create_batch(
            &commitment,
            &aggregate,
            &[],
            &[],
            std::slice::from_ref(&chain),
        )
        .await
        .unwrap();
    let script = Arc::new(Mutex::new(Script::default()));
    let anchorer = HostchainAnchorer {
        hostchain: chain.as_str().to_string(),
        adapter: Arc::new(Fake {
            id: chain.clone(),
            script: script.clone(),
        }),
        store: store.clone(),
        // Replace as soon as a transaction is not included.
        config: AnchoringSection {
            poll_interval_ms: 10,
            replace_after_seconds: 0,
            max_backoff_seconds: 1,
        },
        symbiote: own,
        metrics: Metrics::new(),
    };
    let anchor = || async { store.anchors(Some(batch), 10).await.unwrap().remove(0) };

    // Prepared, stored, sent.
    anchorer.step().await.unwrap();
    assert_eq!(anchor().await.state, AnchorState::Broadcast);
    assert_eq!(script.lock().unwrap().broadcasts, vec!["tx-1-1"]);

    // Not included: sent again (harmless) and replaced, the replacement stored and sent.
    anchorer.step().await.unwrap();
    let a = anchor().await;
    assert_eq!(script.lock().unwrap().replaced, vec!["tx-1-1"]);
    assert_eq!(a.tx_id.as_deref(), Some("tx-1-1-bumped"));
    assert_eq!(store.anchor_txs(a.id).await.unwrap().len(), 2);
    assert_eq!(a.state, AnchorState::Broadcast);

    // Included, not final yet.
    script.lock().unwrap().status = Some(included(10, false));
    anchorer.step().await.unwrap();
    let a = anchor().await;
    assert_eq!(a.state, AnchorState::Included);
    assert_eq!(a.inclusion.unwrap().height, 10);

    // Reorged out: sent again, back to broadcast.
    let sends = script.lock().unwrap().broadcasts.len();
    script.lock().unwrap().status = Some(TxStatus::ReorgedOut {
        previous: Inclusion {
            height: 10,
            block_hash: "block-10".into(),
        },
    });
    anchorer.step().await.unwrap();
    assert_eq!(anchor().await.state, AnchorState::Broadcast);
    assert!(script.lock().unwrap().broadcasts.len() > sends);

    // Every transaction dropped: prepared anew.
    script.lock().unwrap().status = Some(TxStatus::Dropped {
        reason: "evicted".into(),
    });
    anchorer.step().await.unwrap();
    assert_eq!(anchor().await.state, AnchorState::Pending);
    script.lock().unwrap().status = Some(TxStatus::InMempool);
    anchorer.step().await.unwrap();
    assert_eq!(script.lock().unwrap().prepared, 2);

    // Included past the depth: final, and the batch is anchored.
    script.lock().unwrap().status = Some(included(12, true));
    anchorer.step().await.unwrap();
    let a = anchor().await;
    assert_eq!(a.state, AnchorState::Final);
    assert_eq!(store.batch(batch).await.unwrap().unwrap().state, "anchored");
    let history: Vec<String> = store
        .transitions("anchor", a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.to)
        .collect();
    assert_eq!(
        history,
        vec![
            "pending",
            "prepared",
            "broadcast",
            "prepared",
            "broadcast",
            "included",
            "broadcast",
            "pending",
            "prepared",
            "broadcast",
            "final"
        ]
    );
}

//! A small in-memory hostchain behind the adapter traits, for tests of the relayer's own
//! decisions (the anchorer's and the release stage's): it answers what the test scripts and
//! records what it was asked.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chain_adapters::{
    AdapterError, AdapterResult, AnchorReadBack, AnchorRequest, Anchorer, ErrorKind, Finding,
    HostchainAdapter, Inclusion, Inspection, KeyBalance, PreparedTx, ReleaseOrder, ReleaseState,
    Releaser, Scout, Severity, TxStatus, Wallet,
};
use symbiote::types::{HostAddress, HostchainId, Nonce};

/// What the fake hostchain answers, and what it was asked.
#[derive(Default)]
pub struct Script {
    /// The status every transaction reports now (default: in the mempool)...
    pub status: Option<TxStatus>,
    /// ...unless it has one of its own here, by transaction id.
    pub statuses: BTreeMap<String, TxStatus>,
    /// Transactions prepared (anchors and releases).
    pub prepared: usize,
    /// Ids of the transactions sent, in order.
    pub broadcasts: Vec<String>,
    /// Ids of the transactions replaced, in order.
    pub replaced: Vec<String>,
    /// What the bridge did with each release nonce (default: unused).
    pub releases: BTreeMap<Nonce, ReleaseState>,
    /// Release orders prepared, with the cosignatures they carried.
    pub release_orders: Vec<ReleaseOrder>,
    /// Destinations the scout finds malicious.
    pub malicious: Vec<String>,
}

/// The fake hostchain.
pub struct Fake {
    pub id: HostchainId,
    pub script: Arc<Mutex<Script>>,
}

impl Fake {
    pub fn new(id: &str) -> (Arc<Fake>, Arc<Mutex<Script>>) {
        let script = Arc::new(Mutex::new(Script::default()));
        let fake = Arc::new(Fake {
            id: HostchainId::new(id).unwrap(),
            script: script.clone(),
        });
        (fake, script)
    }

    fn tx(&self, id: String) -> PreparedTx {
        PreparedTx {
            hostchain: self.id.clone(),
            id,
            raw: vec![],
            meta: serde_json::json!({}),
        }
    }
}

/// An inclusion at `height`, final or not.
pub fn included(height: u64, fin: bool) -> TxStatus {
    TxStatus::Included {
        inclusion: Inclusion {
            height,
            block_hash: format!("block-{height}"),
        },
        confirmations: if fin { 6 } else { 1 },
        fin,
    }
}

#[async_trait]
impl Anchorer for Fake {
    async fn sign_anchor(&self, _: &AnchorRequest) -> AdapterResult<Option<Vec<u8>>> {
        Ok(None)
    }
    async fn prepare_anchor(&self, request: &AnchorRequest) -> AdapterResult<PreparedTx> {
        let mut script = self.script.lock().unwrap();
        script.prepared += 1;
        Ok(self.tx(format!(
            "tx-{}-{}",
            request.payload.sequence, script.prepared
        )))
    }
    async fn broadcast(&self, tx: &PreparedTx) -> AdapterResult<()> {
        self.script.lock().unwrap().broadcasts.push(tx.id.clone());
        Ok(())
    }
    async fn status(&self, tx: &PreparedTx, _: Option<&Inclusion>) -> AdapterResult<TxStatus> {
        let script = self.script.lock().unwrap();
        Ok(script
            .statuses
            .get(&tx.id)
            .or(script.status.as_ref())
            .cloned()
            .unwrap_or(TxStatus::InMempool))
    }
    async fn replace(&self, tx: &PreparedTx) -> AdapterResult<PreparedTx> {
        self.script.lock().unwrap().replaced.push(tx.id.clone());
        Ok(PreparedTx {
            id: format!("{}-bumped", tx.id),
            ..tx.clone()
        })
    }
    async fn read_anchor(&self, id: &str) -> AdapterResult<AnchorReadBack> {
        Err(AdapterError::new(ErrorKind::NotFound, &self.id, id))
    }
}

#[async_trait]
impl Releaser for Fake {
    async fn sign_release(&self, order: &ReleaseOrder) -> AdapterResult<Option<Vec<u8>>> {
        let nonce = u8::try_from(order.nonce.get()).unwrap_or(u8::MAX);
        Ok(Some(vec![nonce; 65]))
    }
    async fn prepare_release(&self, order: &ReleaseOrder) -> AdapterResult<PreparedTx> {
        let mut script = self.script.lock().unwrap();
        script.prepared += 1;
        script.release_orders.push(order.clone());
        Ok(self.tx(format!("release-{}-{}", order.nonce, script.prepared)))
    }
    async fn is_released(&self, nonce: Nonce) -> AdapterResult<bool> {
        Ok(self.release_state(nonce).await? != ReleaseState::Unused)
    }
    async fn release_state(&self, nonce: Nonce) -> AdapterResult<ReleaseState> {
        let script = self.script.lock().unwrap();
        Ok(script
            .releases
            .get(&nonce)
            .copied()
            .unwrap_or(ReleaseState::Unused))
    }
}

#[async_trait]
impl Scout for Fake {
    async fn inspect(
        &self,
        address: &HostAddress,
        block: Option<u64>,
    ) -> AdapterResult<Inspection> {
        let bad = self
            .script
            .lock()
            .unwrap()
            .malicious
            .iter()
            .any(|m| m == address.as_str());
        let finding = if bad {
            Finding::new("selfdestruct", Severity::Malicious, "the test says so")
        } else {
            Finding::new("no-code", Severity::Info, "the test says so")
        };
        Ok(Inspection {
            address: address.clone(),
            block: block.unwrap_or(1),
            code_hash: None,
            followed: vec![],
            findings: vec![finding],
        })
    }
}

#[async_trait]
impl Wallet for Fake {
    async fn balances(&self) -> AdapterResult<Vec<KeyBalance>> {
        Ok(vec![KeyBalance {
            key: "relayer".into(),
            address: "fake".into(),
            balance: 1,
        }])
    }
}

impl HostchainAdapter for Fake {
    fn hostchain(&self) -> &HostchainId {
        &self.id
    }
    fn canonical_address(&self, address: &str) -> AdapterResult<HostAddress> {
        HostAddress::new(&address.to_lowercase())
            .map_err(|e| AdapterError::new(ErrorKind::Config, &self.id, e.to_string()))
    }
    fn releaser(&self) -> Option<&dyn Releaser> {
        Some(self)
    }
    fn scout(&self) -> Option<&dyn Scout> {
        Some(self)
    }
}

//! Scouting: what a hostchain says about a release's destination, computed from the hostchain's
//! RPC alone at a named block so that anyone can recompute it.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use symbiote::types::HostAddress;

use crate::error::AdapterResult;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth recording, no reason to hold.
    Info,
    /// Unusual; held only if policy says so.
    Suspicious,
    /// A known-bad pattern: hold.
    Malicious,
}

/// One thing a scout found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// A stable identifier (`selfdestruct`, `eip1967-proxy`, `deny-listed-code`...).
    pub code: String,
    /// How bad it is.
    pub severity: Severity,
    /// Details for a reviewer (addresses followed, offsets, selectors).
    pub detail: String,
}

/// What a scout saw at one block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspection {
    /// The inspected address.
    pub address: HostAddress,
    /// The block the answers are from: re-running at this block gives the same findings.
    pub block: u64,
    /// Hash of the code at the address (hex), if any.
    pub code_hash: Option<String>,
    /// Everything found, in a deterministic order.
    pub findings: Vec<Finding>,
}

/// Inspects destinations on one hostchain.
#[async_trait]
pub trait Scout: Send + Sync {
    /// Inspects `address` at the latest block (`block: None`) or at a given block.
    async fn inspect(&self, address: &HostAddress, block: Option<u64>)
    -> AdapterResult<Inspection>;
}

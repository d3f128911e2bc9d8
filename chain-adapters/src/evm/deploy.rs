//! Deploying the symbiote contracts from the bytecode of the committed artifacts (see
//! [`super::bindings`]), for the integration tests, the devnet and operators' scripts.
//!
//! The deployer signs and pays through any alloy provider with a wallet; [`deployer`] builds
//! one over this crate's HTTP transport. A constructor that refuses its arguments (empty set,
//! threshold out of range, duplicate or zero relayer, too many relayers) fails the gas estimate,
//! so nothing is sent, and the error names the contract's custom error with its arguments.

use std::time::Duration;

use alloy::contract::{CallBuilder, CallDecoder};
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, PendingTransactionError, Provider, ProviderBuilder};
use alloy::rpc::client::RpcClient;

use super::bindings::{SymbioteAnchor, SymbioteBridge};
use super::errors::{describe, rpc_kind};
use super::keys::RelayerKey;
use super::transport::HttpTransport;
use crate::error::ErrorKind;

/// How long a deployment may wait for its receipt before giving up (the transaction may still
/// be mined later; a retry deploys another copy).
pub const RECEIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// Time limit of each JSON-RPC call of a [`deployer`].
pub const RPC_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a deployment failed.
#[derive(Debug, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct DeployError {
    /// How the caller should react (a refused constructor is `Rejected`, a node that is down
    /// `Unavailable`, a bad URL `Config`).
    pub kind: ErrorKind,
    /// What happened, with the contract's decoded error if it reverted.
    pub message: String,
}

impl DeployError {
    fn new(kind: ErrorKind, message: impl Into<String>) -> DeployError {
        DeployError {
            kind,
            message: message.into(),
        }
    }

    /// Whether trying the same deployment again later can help.
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }
}

/// A provider at `rpc_url` that signs and pays with `key`. It fills gas, chain id and the
/// nonce, reading the nonce from the node for every transaction (no cache), so that it stays
/// right when the same key also sends from elsewhere or the node rewinds (devnet reorgs).
pub fn deployer(rpc_url: &str, key: &RelayerKey) -> Result<DynProvider, DeployError> {
    let url = rpc_url
        .parse()
        .map_err(|e| DeployError::new(ErrorKind::Config, format!("rpc_url: not a URL ({e})")))?;
    let transport =
        HttpTransport::new(url, RPC_TIMEOUT).map_err(|e| DeployError::new(ErrorKind::Config, e))?;
    let is_local = transport.is_local();
    let provider = ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(key.wallet())
        .connect_client(RpcClient::new(transport, is_local));
    Ok(provider.erased())
}

/// Deploys a SymbioteAnchor whose relayer set is `relayers` with `threshold`, and returns its
/// address once the deployment is mined.
pub async fn deploy_anchor<P: Provider>(
    deployer: &P,
    relayers: &[Address],
    threshold: u64,
) -> Result<Address, DeployError> {
    let builder =
        SymbioteAnchor::deploy_builder(deployer, relayers.to_vec(), U256::from(threshold));
    deploy("SymbioteAnchor", builder).await
}

/// Deploys a SymbioteBridge whose relayer set is `relayers` with `threshold`, and returns its
/// address once the deployment is mined. It starts unpaused and without release limits.
pub async fn deploy_bridge<P: Provider>(
    deployer: &P,
    relayers: &[Address],
    threshold: u64,
) -> Result<Address, DeployError> {
    let builder =
        SymbioteBridge::deploy_builder(deployer, relayers.to_vec(), U256::from(threshold));
    deploy("SymbioteBridge", builder).await
}

/// Sends a deployment and waits for its receipt.
async fn deploy<P: Provider, D: CallDecoder>(
    name: &str,
    builder: CallBuilder<P, D>,
) -> Result<Address, DeployError> {
    let pending = builder.send().await.map_err(|e| {
        let (kind, detail) = match &e {
            alloy::contract::Error::TransportError(rpc) => {
                (rpc_kind(rpc, ErrorKind::Rejected), describe(rpc))
            }
            other => (ErrorKind::InvalidResponse, other.to_string()),
        };
        DeployError::new(kind, format!("deploying {name}: {detail}"))
    })?;
    let tx = *pending.tx_hash();
    let receipt = pending
        .with_timeout(Some(RECEIPT_TIMEOUT))
        .get_receipt()
        .await
        .map_err(|e| {
            let kind = match &e {
                PendingTransactionError::TransportError(rpc) => {
                    rpc_kind(rpc, ErrorKind::InvalidResponse)
                }
                _ => ErrorKind::Unavailable,
            };
            DeployError::new(
                kind,
                format!("deploying {name}: no receipt for {tx:#x}: {e}"),
            )
        })?;
    if !receipt.status() {
        let block = receipt
            .block_number
            .map_or_else(String::new, |b| format!(" in block {b}"));
        return Err(DeployError::new(
            ErrorKind::Rejected,
            format!("deploying {name}: transaction {tx:#x} reverted{block}"),
        ));
    }
    receipt.contract_address.ok_or_else(|| {
        DeployError::new(
            ErrorKind::InvalidResponse,
            format!("deploying {name}: the receipt of {tx:#x} names no contract address"),
        )
    })
}

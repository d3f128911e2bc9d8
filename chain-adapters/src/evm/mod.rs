//! The EVM hostchain adapter (alloy 2).
//!
//! - Anchors are calls of the SymbioteAnchor contract's `anchor(...)`, authorized by EIP-712
//!   signatures of a threshold of the registered relayer set and paid for by this relayer's key
//!   ([`anchor`]).
//! - Every transaction is an EIP-1559 transaction built, fee-capped, gas-estimated and signed
//!   locally; its nonce survives restarts because it travels in the stored
//!   [`crate::PreparedTx`] ([`transactions`], [`nonce`], [`fees`]).
//! - Deposits are `Deposited` events of the SymbioteBridge contract, scanned by block range
//!   from a cursor and reported only once they are past the confirmation depth (or the
//!   `finalized` block), so a reorg above that depth never produces a wrong deposit
//!   ([`deposits`]).
//! - Releases are calls of the bridge's `release(...)` with the relayers' EIP-712 signatures;
//!   the contract refuses a release nonce twice ([`release`]).
//! - Rotations of the relayer set and the bridge's administration (limits, pause, cancelling a
//!   queued release) are EIP-712 messages that a threshold of the current set signs
//!   ([`governance`]).
//! - [`deploy`] deploys the contracts from the committed artifacts (tests, devnet, tools).
//!
//! Contract bindings are generated from the committed artifacts in [`bindings`]; RPC errors
//! are classified in [`errors`]; JSON-RPC goes over HTTP(S) through [`transport`];
//! configuration is in [`config`] and the key in [`keys`].

pub mod anchor;
pub mod bindings;
pub mod config;
pub mod deploy;
pub mod deposits;
pub mod errors;
pub mod fees;
pub mod governance;
pub mod keys;
pub mod nonce;
pub mod release;
mod rotation;
mod scout;
pub mod transactions;
pub mod transport;

use std::sync::Arc;

use alloy::primitives::{Address, B256};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::client::RpcClient;
use alloy::transports::TransportError;
use symbiote::types::{HostAddress, HostchainId};
use tokio::sync::OnceCell;

use crate::anchor::AnchorReader;
use crate::bridge::{DepositWatcher, Releaser};
use crate::error::{AdapterError, AdapterResult, ErrorKind};
use crate::registry::{BuildFuture, HostchainAdapter, ReaderFuture};
use crate::scout::Scout;

pub use config::EvmConfig;
pub use keys::RelayerKey;

/// The EVM adapter.
pub struct EvmAdapter {
    /// Which hostchain this is.
    hostchain: HostchainId,
    /// JSON-RPC client, without fillers: the adapter sets every field itself.
    provider: RootProvider,
    /// The relayer key: pays gas, signs transactions and EIP-712 messages.
    key: RelayerKey,
    /// The settings.
    config: EvmConfig,
    /// The node's chain id, read once (and checked against `config.chain_id`).
    chain_id: OnceCell<u64>,
    /// Nonces handed out by this process.
    nonces: nonce::NonceBook,
}

impl std::fmt::Debug for EvmAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvmAdapter")
            .field("hostchain", &self.hostchain)
            .field("relayer", &self.key.address())
            .field("anchor_contract", &self.config.anchor_contract)
            .field("bridge_contract", &self.config.bridge_contract)
            .finish_non_exhaustive()
    }
}

impl EvmAdapter {
    /// Builds the adapter from its configuration, reading the key from where it says. Nothing
    /// is sent to the node until the adapter is used.
    pub fn new(hostchain: HostchainId, config: EvmConfig) -> AdapterResult<Self> {
        let key = config
            .key
            .as_ref()
            .ok_or_else(|| "missing: give key_file or key_env".to_string())
            .and_then(RelayerKey::load)
            .map_err(|e| AdapterError::new(ErrorKind::Config, &hostchain, format!("key: {e}")))?;
        Self::with_key(hostchain, config, key)
    }

    /// Builds the adapter with a key already loaded (tests and tools).
    pub fn with_key(
        hostchain: HostchainId,
        config: EvmConfig,
        key: RelayerKey,
    ) -> AdapterResult<Self> {
        let config_err =
            |message: String| AdapterError::new(ErrorKind::Config, &hostchain, message);
        let url = config
            .rpc_url
            .parse()
            .map_err(|e| config_err(format!("rpc_url: not a URL ({e})")))?;
        let transport =
            transport::HttpTransport::new(url, config.rpc_timeout).map_err(config_err)?;
        let is_local = transport.is_local();
        let provider = RootProvider::new(RpcClient::new(transport, is_local));
        Ok(EvmAdapter {
            hostchain,
            provider,
            key,
            config,
            chain_id: OnceCell::new(),
            nonces: nonce::NonceBook::default(),
        })
    }

    /// The relayer's address (the account that pays gas).
    pub fn relayer_address(&self) -> Address {
        self.key.address()
    }

    /// The JSON-RPC provider.
    pub fn provider(&self) -> &RootProvider {
        &self.provider
    }

    /// The settings.
    pub fn config(&self) -> &EvmConfig {
        &self.config
    }

    /// The node's chain id, checked against the configured one the first time.
    pub async fn chain_id(&self) -> AdapterResult<u64> {
        self.chain_id
            .get_or_try_init(|| async {
                let id = self
                    .provider
                    .get_chain_id()
                    .await
                    .map_err(|e| self.rpc_err("eth_chainId", &e, ErrorKind::InvalidResponse))?;
                match self.config.chain_id {
                    Some(expected) if expected != id => Err(self.err(
                        ErrorKind::Config,
                        format!("chain_id: the node at rpc_url is on chain {id}, not {expected}"),
                    )),
                    _ => Ok(id),
                }
            })
            .await
            .copied()
    }

    fn err(&self, kind: ErrorKind, message: impl Into<String>) -> AdapterError {
        AdapterError::new(kind, &self.hostchain, message)
    }

    fn rpc_err(&self, what: &str, error: &TransportError, fallback: ErrorKind) -> AdapterError {
        errors::classify(&self.hostchain, what, error, fallback)
    }

    fn contract_err(&self, what: &str, error: &alloy::contract::Error) -> AdapterError {
        errors::classify_contract(&self.hostchain, what, error)
    }

    /// The bridge contract, or a configuration error naming what needed it.
    fn bridge(&self, what: &str) -> AdapterResult<Address> {
        self.config.bridge_contract.ok_or_else(|| {
            self.err(
                ErrorKind::Config,
                format!("{what} needs bridge_contract in the configuration"),
            )
        })
    }
}

/// Parses a transaction hash given as text (`0x` and 64 hex digits).
fn parse_tx_hash(hostchain: &HostchainId, id: &str) -> AdapterResult<B256> {
    id.parse::<B256>().map_err(|e| {
        AdapterError::new(
            ErrorKind::NotFound,
            hostchain,
            format!("'{id}' is not an EVM transaction hash ({e})"),
        )
    })
}

impl HostchainAdapter for EvmAdapter {
    fn hostchain(&self) -> &HostchainId {
        &self.hostchain
    }

    /// `0x` and 40 lower-case hex digits (mixed-case input is accepted with or without a valid
    /// EIP-55 checksum: a wrong checksum is refused).
    fn canonical_address(&self, address: &str) -> AdapterResult<HostAddress> {
        let parsed = Address::parse_checksummed(address, None)
            .or_else(|e| {
                let digits = address.strip_prefix("0x").unwrap_or(address);
                let lower = digits.chars().all(|c| !c.is_ascii_uppercase());
                let upper = digits.chars().all(|c| !c.is_ascii_lowercase());
                if lower || upper {
                    address.parse::<Address>().map_err(|e| e.to_string())
                } else {
                    Err(e.to_string())
                }
            })
            .map_err(|e| {
                self.err(
                    ErrorKind::Config,
                    format!("'{address}' is not an EVM address ({e})"),
                )
            })?;
        HostAddress::new(&format!("{parsed:#x}"))
            .map_err(|e| self.err(ErrorKind::Config, e.to_string()))
    }

    fn deposits(&self) -> Option<&dyn DepositWatcher> {
        self.config
            .bridge_contract
            .map(|_| self as &dyn DepositWatcher)
    }

    fn releaser(&self) -> Option<&dyn Releaser> {
        self.config.bridge_contract.map(|_| self as &dyn Releaser)
    }

    /// The scout inspects release destinations, so it is there where releases are.
    fn scout(&self) -> Option<&dyn Scout> {
        self.config.bridge_contract.map(|_| self as &dyn Scout)
    }

    /// The anchor contract's relayer set, and the bridge's when one is configured.
    fn relayer_sets(&self) -> Option<&dyn crate::relayer_set::RelayerSetGovernance> {
        Some(self)
    }
}

#[async_trait::async_trait]
impl crate::wallet::Wallet for EvmAdapter {
    /// The relayer key's balance at the latest block, in wei.
    async fn balances(&self) -> AdapterResult<Vec<crate::wallet::KeyBalance>> {
        let address = self.key.address();
        let balance = self
            .provider
            .get_balance(address)
            .await
            .map_err(|e| self.rpc_err("eth_getBalance", &e, ErrorKind::InvalidResponse))?;
        Ok(vec![crate::wallet::KeyBalance {
            key: "relayer".into(),
            address: format!("{address:#x}"),
            balance: u128::try_from(balance).unwrap_or(u128::MAX),
        }])
    }
}

/// The key family of EVM chains: a relayer's `evm` key is its 20-byte address.
pub const KEY_FAMILY: &str = "evm";

/// The registry's factory of anchor readers for `kind = "evm"` (`relayer verify`): the
/// section's RPC endpoint, anchor contract and finality; no key is read.
pub fn reader(hostchain: HostchainId, config: serde_json::Value) -> ReaderFuture {
    Box::pin(async move {
        let config = EvmConfig::for_reading(config)
            .map_err(|e| AdapterError::new(ErrorKind::Config, &hostchain, e.to_string()))?;
        // Reading anchors back signs nothing: a throwaway key fills the adapter's slot.
        let key = RelayerKey::from_signer(alloy::signers::local::PrivateKeySigner::random());
        let reader: Arc<dyn AnchorReader> = Arc::new(EvmAdapter::with_key(hostchain, config, key)?);
        Ok(reader)
    })
}

/// The registry's factory for `kind = "evm"`.
pub fn build(hostchain: HostchainId, config: serde_json::Value) -> BuildFuture {
    Box::pin(async move {
        let config = EvmConfig::from_value(config)
            .map_err(|e| AdapterError::new(ErrorKind::Config, &hostchain, e.to_string()))?;
        let adapter: Arc<dyn HostchainAdapter> = Arc::new(EvmAdapter::new(hostchain, config)?);
        Ok(adapter)
    })
}

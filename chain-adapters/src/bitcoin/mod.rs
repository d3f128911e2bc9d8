//! The Bitcoin hostchain adapter: anchors in `OP_RETURN` outputs, paid from the relayer's own
//! key, through a bitcoind without a wallet.
//!
//! - [`config`]: the configuration section (`kind = "bitcoin"`), validated, secrets redacted;
//! - [`wallet`]: the key (file or environment, hex or WIF), our P2WPKH address, and signing of
//!   anchor transactions (one `OP_RETURN` with the 45-byte payload, one change output);
//! - [`coins`]: our UTXOs (`scantxoutset` at start, then tracked), reservations and coin
//!   selection, chaining each anchor on the previous anchor's change;
//! - [`fees`]: fee rates (`estimatesmartfee`, fallback, cap) and BIP125 replacement rules;
//! - [`meta`]: the versioned metadata stored with each prepared transaction;
//! - [`rpc`]: bitcoind's JSON-RPC on the blocking pool, errors with the node's codes;
//! - `anchoring` (prepare, broadcast, replace) and `status` (status, read back): the
//!   [`Anchorer`] implementation.
//!
//! Bitcoin has no bridge here: deposits, releases and scouting are `None`.
//!
//! # Contract with the caller
//! - Store every [`crate::PreparedTx`] before broadcasting it. After a restart, broadcast the
//!   stored, unfinished ones again before preparing new anchors: that re-broadcasts the same
//!   transactions and teaches the new adapter instance which coins they spend.
//! - Broadcast an anchor before preparing the next one if the next one should chain on its
//!   change: the adapter spends only coins the node confirms exist (in a block or its mempool).
//! - Replace only the most recent transaction of a chain of unconfirmed anchors: replacing a
//!   transaction whose change is spent by a later anchor would invalidate that anchor, so
//!   [`Anchorer::replace`] refuses it with [`ErrorKind::Stale`]. Raising the fee of the last
//!   anchor also pulls its unconfirmed parents into a block (miners select by package).
//! - When `status` reports [`TxStatus::Dropped`] for a replaced transaction, its successor is
//!   the one to follow.

mod anchoring;
pub mod coins;
pub mod config;
pub mod fees;
pub mod meta;
pub mod rpc;
mod status;
pub mod wallet;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bitcoin::{Address, Network, OutPoint};
use symbiote::types::{HostAddress, HostchainId};
use tokio::sync::Mutex;

use crate::anchor::{
    AnchorReadBack, AnchorReader, AnchorRequest, Anchorer, Inclusion, PreparedTx, TxStatus,
};
use crate::error::{AdapterError, AdapterResult, ErrorKind};
use crate::registry::{BuildFuture, HostchainAdapter, ReaderFuture};

pub use config::BitcoinConfig;

use coins::{Coin, Coins, Origin};
use rpc::Rpc;
use wallet::Signer;

/// The Bitcoin adapter.
pub struct BitcoinAdapter {
    /// Which hostchain this is.
    hostchain: HostchainId,
    /// The settings.
    config: BitcoinConfig,
    /// The node.
    rpc: Rpc,
    /// The relayer's key and address.
    signer: Signer,
    /// The scripts of the addresses whose anchors count when one is read back.
    trusted_scripts: Vec<bitcoin::ScriptBuf>,
    /// Our coins. Held across the RPC calls of one prepare or replace, so that two of them
    /// never choose the same coin.
    coins: Mutex<Coins>,
}

impl fmt::Debug for BitcoinAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BitcoinAdapter")
            .field("hostchain", &self.hostchain)
            .field("address", &self.signer.address().to_string())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Builds the adapter from its configuration section; the factory in [`crate::registry::KINDS`].
pub fn build(hostchain: HostchainId, config: serde_json::Value) -> BuildFuture {
    Box::pin(async move {
        let config = BitcoinConfig::from_value(config)
            .map_err(|e| AdapterError::new(e.kind(), &hostchain, e.to_string()))?;
        let adapter = BitcoinAdapter::connect(hostchain, config).await?;
        Ok(Arc::new(adapter) as Arc<dyn HostchainAdapter>)
    })
}

/// The registry's factory of anchor readers for `kind = "bitcoin"`
/// ([`BitcoinAdapter::reader`]).
pub fn reader(hostchain: HostchainId, config: serde_json::Value) -> ReaderFuture {
    Box::pin(async move {
        let config = BitcoinConfig::for_reading(config)
            .map_err(|e| AdapterError::new(e.kind(), &hostchain, e.to_string()))?;
        let reader = BitcoinAdapter::reader(hostchain, config).await?;
        Ok(Arc::new(reader) as Arc<dyn AnchorReader>)
    })
}

/// An error of this module that knows its [`ErrorKind`].
trait Classified: fmt::Display {
    fn error_kind(&self) -> ErrorKind;
}

macro_rules! classified {
    ($($t:ty),*) => {
        $(impl Classified for $t {
            fn error_kind(&self) -> ErrorKind {
                <$t>::kind(self)
            }
        })*
    };
}
classified!(
    rpc::RpcError,
    wallet::WalletError,
    coins::CoinError,
    fees::FeeError,
    config::ConfigError
);

impl Classified for meta::MetaError {
    fn error_kind(&self) -> ErrorKind {
        // Stored data this adapter cannot use: resending or retrying does not change it.
        ErrorKind::Rejected
    }
}

/// Whether bitcoind's `chain` name is the configured network.
fn chain_matches(network: Network, chain: &str) -> bool {
    match network {
        Network::Bitcoin => chain == "main",
        Network::Testnet => chain == "test",
        Network::Testnet4 => chain == "testnet4",
        Network::Signet => chain == "signet",
        Network::Regtest => chain == "regtest",
    }
}

impl BitcoinAdapter {
    /// Loads the key, checks that the node is on the configured network and finds our coins.
    pub async fn connect(
        hostchain: HostchainId,
        config: BitcoinConfig,
    ) -> AdapterResult<BitcoinAdapter> {
        let config_error =
            |e: &dyn Classified| AdapterError::new(e.error_kind(), &hostchain, e.to_string());
        let source = config.key.as_ref().ok_or_else(|| {
            AdapterError::new(
                ErrorKind::Config,
                &hostchain,
                "`key_file`: missing: give key_file or key_env",
            )
        })?;
        let signer = Signer::load(source, config.network).map_err(|e| config_error(&e))?;
        let mut adapter = Self::with_signer(hostchain, config, signer).await?;
        // The relayer's own anchors always count.
        let own = adapter.signer.script_pubkey().clone();
        if !adapter.trusted_scripts.contains(&own) {
            adapter.trusted_scripts.push(own);
        }
        {
            let mut coins = adapter.coins.lock().await;
            adapter.rescan(&mut coins).await?;
        }
        tracing::info!(
            hostchain = %adapter.hostchain,
            address = %adapter.signer.address(),
            "bitcoin adapter ready"
        );
        Ok(adapter)
    }

    /// An adapter that only reads anchors back (`relayer verify`): no key is read and no coin
    /// is looked at, so the addresses whose anchors count must be listed in
    /// `trusted_anchor_addresses`.
    pub async fn reader(
        hostchain: HostchainId,
        config: BitcoinConfig,
    ) -> AdapterResult<BitcoinAdapter> {
        if config.trusted_anchor_addresses.is_empty() {
            return Err(AdapterError::new(
                ErrorKind::Config,
                &hostchain,
                "`trusted_anchor_addresses`: missing: list the relayer addresses whose anchors \
                 count (reading anchors back reads no key)",
            ));
        }
        // Nothing is signed: a throwaway key fills the adapter's slot.
        let secret =
            bitcoin::secp256k1::SecretKey::new(&mut bitcoin::secp256k1::rand::thread_rng());
        let signer = Signer::from_secret(secret, config.network);
        Self::with_signer(hostchain, config, signer).await
    }

    /// The adapter with `signer`, once the node is found on the configured network.
    async fn with_signer(
        hostchain: HostchainId,
        config: BitcoinConfig,
        signer: Signer,
    ) -> AdapterResult<BitcoinAdapter> {
        let rpc = Rpc::new(&config).map_err(|e| {
            AdapterError::new(ErrorKind::Config, &hostchain, format!("`rpc_url`: {e}"))
        })?;
        let chain = rpc
            .chain()
            .await
            .map_err(|e| AdapterError::new(e.error_kind(), &hostchain, e.to_string()))?;
        if !chain_matches(config.network, &chain) {
            return Err(AdapterError::new(
                ErrorKind::Config,
                &hostchain,
                format!(
                    "`network`: configured {} but the node at {} is on '{chain}'",
                    config.network, config.rpc_url
                ),
            ));
        }
        let trusted_scripts = config
            .trusted_anchor_addresses
            .iter()
            .map(Address::script_pubkey)
            .collect();
        Ok(BitcoinAdapter {
            hostchain,
            config,
            rpc,
            signer,
            trusted_scripts,
            coins: Mutex::new(Coins::default()),
        })
    }

    /// The relayer's address on this hostchain: fund it to pay for anchors.
    pub fn address(&self) -> &Address {
        self.signer.address()
    }

    /// The settings in use (secrets redacted in `Debug`).
    pub fn config(&self) -> &BitcoinConfig {
        &self.config
    }

    /// Confirmations after which an anchor is final.
    pub fn confirmations(&self) -> u64 {
        self.config.confirmations
    }

    /// After how many blocks in the mempool the caller should [`Anchorer::replace`] an anchor.
    /// The adapter schedules nothing itself.
    pub fn rbf_after_blocks(&self) -> u64 {
        self.config.rbf_after_blocks
    }

    /// Reads our confirmed coins from the UTXO set again (`scantxoutset`). Needed only after
    /// funds arrived while the adapter runs; prepare does it by itself when short of funds.
    pub async fn refresh_coins(&self) -> AdapterResult<()> {
        let mut coins = self.coins.lock().await;
        self.rescan(&mut coins).await
    }

    async fn rescan(&self, coins: &mut Coins) -> AdapterResult<()> {
        let scanned = self
            .rpc
            .scan(self.signer.script_pubkey())
            .await
            .map_err(|e| self.fail(e))?;
        tracing::debug!(hostchain = %self.hostchain, outputs = scanned.len(), "scanned our coins");
        coins.set_confirmed(scanned.into_iter().map(|out| {
            (
                OutPoint::new(out.txid, out.vout),
                Coin {
                    amount: out.amount,
                    origin: Origin::Confirmed {
                        height: out.height,
                        coinbase: out.coinbase,
                    },
                    change_order: None,
                },
            )
        }));
        Ok(())
    }

    /// An adapter error from a classified error.
    fn fail(&self, error: impl Classified) -> AdapterError {
        AdapterError::new(error.error_kind(), &self.hostchain, error.to_string())
    }

    /// An adapter error of `kind`.
    fn error(&self, kind: ErrorKind, message: impl Into<String>) -> AdapterError {
        AdapterError::new(kind, &self.hostchain, message)
    }
}

impl HostchainAdapter for BitcoinAdapter {
    fn hostchain(&self) -> &HostchainId {
        &self.hostchain
    }

    /// The address as its network encodes it (bech32 in lower case); one of another network is
    /// refused.
    fn canonical_address(&self, address: &str) -> AdapterResult<HostAddress> {
        let parsed = address
            .parse::<bitcoin::Address<bitcoin::address::NetworkUnchecked>>()
            .map_err(|e| {
                self.error(
                    ErrorKind::Config,
                    format!("'{address}' is not a Bitcoin address ({e})"),
                )
            })?
            .require_network(self.config.network)
            .map_err(|e| {
                self.error(
                    ErrorKind::Config,
                    format!(
                        "'{address}' is not an address of {} ({e})",
                        self.config.network
                    ),
                )
            })?;
        HostAddress::new(&parsed.to_string())
            .map_err(|e| self.error(ErrorKind::Config, e.to_string()))
    }
}

#[async_trait]
impl crate::wallet::Wallet for BitcoinAdapter {
    /// The relayer key's coins as this adapter tracks them (confirmed and its own unconfirmed
    /// change, less what its pending transactions spend).
    async fn balances(&self) -> AdapterResult<Vec<crate::wallet::KeyBalance>> {
        let total = self.coins.lock().await.unspent_total();
        Ok(vec![crate::wallet::KeyBalance {
            key: "relayer".into(),
            address: self.signer.address().to_string(),
            balance: u128::from(total.to_sat()),
        }])
    }
}

#[async_trait]
impl Anchorer for BitcoinAdapter {
    /// The transaction's own signature is the anchor's authorization.
    async fn sign_anchor(&self, _request: &AnchorRequest) -> AdapterResult<Option<Vec<u8>>> {
        Ok(None)
    }

    async fn prepare_anchor(&self, request: &AnchorRequest) -> AdapterResult<PreparedTx> {
        self.prepare(request).await
    }

    async fn broadcast(&self, tx: &PreparedTx) -> AdapterResult<()> {
        self.send(tx).await
    }

    async fn status(&self, tx: &PreparedTx, seen: Option<&Inclusion>) -> AdapterResult<TxStatus> {
        self.follow(tx, seen).await
    }

    async fn replace(&self, tx: &PreparedTx) -> AdapterResult<PreparedTx> {
        self.bump(tx).await
    }

    async fn read_anchor(&self, id: &str) -> AdapterResult<AnchorReadBack> {
        self.read_back(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_chain_names() {
        assert!(chain_matches(Network::Regtest, "regtest"));
        assert!(chain_matches(Network::Bitcoin, "main"));
        assert!(chain_matches(Network::Testnet, "test"));
        assert!(!chain_matches(Network::Bitcoin, "regtest"));
    }
}

//! The one place that knows which hostchain kinds exist: it builds adapters from configuration.
//! Adding a hostchain means adding its module and one line to [`KINDS`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use symbiote::types::HostchainId;

use crate::anchor::{AnchorReader, Anchorer};
use crate::bridge::{DepositWatcher, Releaser};
use crate::error::{AdapterError, AdapterResult, ErrorKind};
use crate::scout::Scout;

/// Everything an adapter offers for one hostchain. Anchoring and the wallet are mandatory
/// (supertraits, reached through `anchorer()` and `wallet()` on `dyn HostchainAdapter`); the
/// rest is optional.
pub trait HostchainAdapter: Anchorer + crate::wallet::Wallet + Send + Sync {
    /// The hostchain this adapter serves.
    fn hostchain(&self) -> &HostchainId;
    /// `address` in this hostchain's canonical form: the one form in which the relayer
    /// compares, stores and prints it (lower-case hex on EVM chains, base58 on Solana, the
    /// network's encoding on Bitcoin). Anything that is not an address of this hostchain is a
    /// [`ErrorKind::Config`] error naming it.
    fn canonical_address(&self, address: &str) -> AdapterResult<symbiote::types::HostAddress>;
    /// The bridge's deposits, if this hostchain has a bridge.
    fn deposits(&self) -> Option<&dyn DepositWatcher> {
        None
    }
    /// Releases, if this hostchain has a bridge.
    fn releaser(&self) -> Option<&dyn Releaser> {
        None
    }
    /// Destination inspection, if this hostchain has a scout.
    fn scout(&self) -> Option<&dyn Scout> {
        None
    }
    /// Rotation of relayer sets held by hostchain contracts, if the hostchain has such
    /// contracts.
    fn relayer_sets(&self) -> Option<&dyn crate::relayer_set::RelayerSetGovernance> {
        None
    }
}

impl dyn HostchainAdapter + '_ {
    /// Anchoring.
    pub fn anchorer(&self) -> &dyn Anchorer {
        self
    }

    /// The balances of the keys this adapter spends from.
    pub fn wallet(&self) -> &dyn crate::wallet::Wallet {
        self
    }
}

/// The future a factory returns.
pub type BuildFuture =
    Pin<Box<dyn Future<Output = AdapterResult<Arc<dyn HostchainAdapter>>> + Send>>;

/// Builds an adapter for `hostchain` from its configuration section (the kind's own keys).
pub type Factory = fn(HostchainId, serde_json::Value) -> BuildFuture;

/// The future a reader factory returns.
pub type ReaderFuture = Pin<Box<dyn Future<Output = AdapterResult<Arc<dyn AnchorReader>>> + Send>>;

/// Builds an anchor reader for `hostchain` from its configuration section: only what reading
/// an anchor back needs (the RPC endpoint and whose anchors count); no key is read, and
/// nothing is ever sent.
pub type ReaderFactory = fn(HostchainId, serde_json::Value) -> ReaderFuture;

/// The names of the hostchain kinds (`kind = "..."` in configuration).
pub fn kind_names() -> Vec<&'static str> {
    KINDS.iter().map(|(name, _, _)| *name).collect()
}

/// Whether `kind` names a hostchain kind.
pub fn is_kind(kind: &str) -> bool {
    KINDS.iter().any(|(name, _, _)| *name == kind)
}

/// The hostchain kinds, by the name used in configuration (`kind = "..."`), with the
/// factories of their adapters and of their anchor readers.
pub const KINDS: &[(&str, Factory, ReaderFactory)] = &[
    ("bitcoin", crate::bitcoin::build, crate::bitcoin::reader),
    ("solana", crate::solana::build, crate::solana::reader),
    ("evm", crate::evm::build, crate::evm::reader),
];

/// The factories of `kind`, or an error naming the known kinds.
fn kind(kind: &str, hostchain: &HostchainId) -> AdapterResult<(Factory, ReaderFactory)> {
    KINDS
        .iter()
        .find(|(name, _, _)| *name == kind)
        .map(|(_, build, reader)| (*build, *reader))
        .ok_or_else(|| {
            AdapterError::new(
                ErrorKind::Config,
                hostchain,
                format!(
                    "unknown hostchain kind '{kind}' (known: {})",
                    kind_names().join(", ")
                ),
            )
        })
}

/// Builds the adapter of kind `kind` for `hostchain`.
pub async fn build(
    kind_name: &str,
    hostchain: HostchainId,
    config: serde_json::Value,
) -> AdapterResult<Arc<dyn HostchainAdapter>> {
    let (factory, _) = kind(kind_name, &hostchain)?;
    factory(hostchain, config).await
}

/// Builds the anchor reader of kind `kind` for `hostchain` (see [`ReaderFactory`]).
pub async fn reader(
    kind_name: &str,
    hostchain: HostchainId,
    config: serde_json::Value,
) -> AdapterResult<Arc<dyn AnchorReader>> {
    let (_, factory) = kind(kind_name, &hostchain)?;
    factory(hostchain, config).await
}

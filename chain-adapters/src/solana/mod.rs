//! The Solana hostchain adapter (solana-client 3.x).
//!
//! - Anchors are SPL Memo instructions carrying the hex of the anchor payload, signed and paid
//!   by the relayer key; watched at `confirmed`, counted only when `finalized`; re-submitted with
//!   a fresh blockhash (and a higher priority fee) once the old blockhash has expired without
//!   the transaction landing ([`anchor`]).
//! - Deposits are SOL and SPL Token transfers to the bridge vault (its address and its
//!   associated token accounts) whose transaction carries a memo naming the symbiote recipient;
//!   found with `getSignaturesForAddress` from a stored cursor, parsed from the transactions,
//!   identified by (signature, instruction index), reported only when finalized ([`deposits`]).
//! - Releases transfer from the vault with the withdrawal order's nonce in a memo, so a release
//!   can be recognised and never sent twice ([`release`]). The vault here is a single key; a
//!   multisig vault would need a program (e.g. Squads) and signatures collected like the EVM
//!   bridge's.

pub mod anchor;
pub mod config;
pub mod deposits;
pub mod errors;
pub mod keys;
pub mod release;
mod scout;
pub mod sender;

use std::str::FromStr;
use std::sync::Arc;

use solana_client::nonblocking::rpc_client::RpcClient;
use solana_client::rpc_client::RpcClientConfig;

/// The time-out of one RPC call.
const RPC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
use solana_commitment_config::CommitmentConfig;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{Keypair, Signer};
use symbiote::types::{HostAddress, HostchainId};

use crate::anchor::AnchorReader;
use crate::bridge::{DepositWatcher, Releaser};
use crate::error::{AdapterError, AdapterResult, ErrorKind};
use crate::registry::{BuildFuture, HostchainAdapter, ReaderFuture};
use crate::scout::Scout;

pub use config::SolanaConfig;

/// The SPL Token program.
pub const TOKEN_PROGRAM: Pubkey = spl_token_interface::ID;

/// The Solana adapter.
pub struct SolanaAdapter {
    /// Which hostchain this is.
    hostchain: HostchainId,
    /// JSON-RPC client (default commitment: confirmed).
    rpc: RpcClient,
    /// The relayer key: pays fees, signs anchors.
    key: Keypair,
    /// The vault key, for releases.
    vault_key: Option<Keypair>,
    /// The vault's address.
    vault: Pubkey,
    /// Accepted SPL mints.
    mints: Vec<Pubkey>,
    /// Keys whose memos count as anchors when reading back.
    trusted_signers: Vec<Pubkey>,
    /// The settings.
    config: SolanaConfig,
}

impl std::fmt::Debug for SolanaAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SolanaAdapter")
            .field("hostchain", &self.hostchain)
            .field("relayer", &self.key.pubkey())
            .field("vault", &self.vault)
            .finish_non_exhaustive()
    }
}

fn parse_pubkey(hostchain: &HostchainId, field: &str, text: &str) -> AdapterResult<Pubkey> {
    Pubkey::from_str(text).map_err(|e| {
        AdapterError::new(
            ErrorKind::Config,
            hostchain,
            format!("{field}: '{text}' is not a Solana address ({e})"),
        )
    })
}

impl SolanaAdapter {
    /// Builds the adapter from its configuration section.
    pub fn new(hostchain: HostchainId, config: SolanaConfig) -> AdapterResult<Self> {
        let config_err =
            |message: String| AdapterError::new(ErrorKind::Config, &hostchain, message);
        let key = keys::load(
            "key",
            config.key_file.as_deref(),
            config.key_env.as_deref(),
            "key",
        )
        .map_err(config_err)?
        .ok_or_else(|| config_err("key_file or key_env is required".into()))?;
        let vault_key = keys::load(
            "vault_key",
            config.vault_key_file.as_deref(),
            config.vault_key_env.as_deref(),
            "vault key",
        )
        .map_err(config_err)?;
        let mut adapter = Self::with_keys(hostchain, config, key, vault_key)?;
        // The relayer's own anchors always count.
        let own = adapter.key.pubkey();
        if !adapter.trusted_signers.contains(&own) {
            adapter.trusted_signers.push(own);
        }
        Ok(adapter)
    }

    /// An adapter that only reads anchors back (`relayer verify`): no key is read, so the keys
    /// whose memos count must be listed in `trusted_anchor_signers`.
    pub fn reader(hostchain: HostchainId, mut config: SolanaConfig) -> AdapterResult<Self> {
        if config.trusted_anchor_signers.is_empty() {
            return Err(AdapterError::new(
                ErrorKind::Config,
                &hostchain,
                "trusted_anchor_signers: missing: list the relayer keys whose memos count as \
                 anchors (reading anchors back reads no key)",
            ));
        }
        config.vault_key_file = None;
        config.vault_key_env = None;
        // Nothing is signed: a throwaway key fills the adapter's slot.
        Self::with_keys(hostchain, config, Keypair::new(), None)
    }

    fn with_keys(
        hostchain: HostchainId,
        config: SolanaConfig,
        key: Keypair,
        vault_key: Option<Keypair>,
    ) -> AdapterResult<Self> {
        let config_err =
            |message: String| AdapterError::new(ErrorKind::Config, &hostchain, message);
        let vault = match (&vault_key, &config.vault_address) {
            (Some(k), Some(address)) => {
                let given = parse_pubkey(&hostchain, "vault_address", address)?;
                if given != k.pubkey() {
                    return Err(config_err(format!(
                        "vault_address {given} is not the vault key's address {}",
                        k.pubkey()
                    )));
                }
                given
            }
            (Some(k), None) => k.pubkey(),
            (None, Some(address)) => parse_pubkey(&hostchain, "vault_address", address)?,
            (None, None) => key.pubkey(),
        };
        let mints = config
            .tokens
            .iter()
            .map(|m| parse_pubkey(&hostchain, "tokens", m))
            .collect::<AdapterResult<Vec<_>>>()?;
        let trusted_signers = config
            .trusted_anchor_signers
            .iter()
            .map(|m| parse_pubkey(&hostchain, "trusted_anchor_signers", m))
            .collect::<AdapterResult<Vec<_>>>()?;
        if config.scan_limit == 0 {
            return Err(config_err("scan_limit must be at least 1".into()));
        }
        let sender =
            sender::BoundedSender::new(&config.rpc_url, RPC_TIMEOUT).map_err(config_err)?;
        let rpc = RpcClient::new_sender(
            sender,
            RpcClientConfig::with_commitment(CommitmentConfig::confirmed()),
        );
        Ok(SolanaAdapter {
            hostchain,
            rpc,
            key,
            vault_key,
            vault,
            mints,
            trusted_signers,
            config,
        })
    }

    /// The relayer's address.
    pub fn relayer_address(&self) -> Pubkey {
        self.key.pubkey()
    }

    /// The vault's address.
    pub fn vault_address(&self) -> Pubkey {
        self.vault
    }

    /// The vault's associated token account for `mint`.
    pub fn vault_token_account(&self, mint: &Pubkey) -> Pubkey {
        spl_associated_token_account_interface::address::get_associated_token_address_with_program_id(
            &self.vault,
            mint,
            &TOKEN_PROGRAM,
        )
    }

    /// The RPC client.
    pub fn rpc(&self) -> &RpcClient {
        &self.rpc
    }

    fn err(&self, kind: ErrorKind, message: impl Into<String>) -> AdapterError {
        AdapterError::new(kind, &self.hostchain, message)
    }

    fn rpc_err(
        &self,
        what: &str,
        error: &solana_client::client_error::ClientError,
    ) -> AdapterError {
        errors::classify(&self.hostchain, what, error)
    }
}

impl HostchainAdapter for SolanaAdapter {
    fn hostchain(&self) -> &HostchainId {
        &self.hostchain
    }

    /// The base58 text of a 32-byte public key (on or off the curve).
    fn canonical_address(&self, address: &str) -> AdapterResult<HostAddress> {
        let key = address.parse::<Pubkey>().map_err(|e| {
            self.err(
                ErrorKind::Config,
                format!("'{address}' is not a Solana address ({e})"),
            )
        })?;
        HostAddress::new(&key.to_string()).map_err(|e| self.err(ErrorKind::Config, e.to_string()))
    }

    fn deposits(&self) -> Option<&dyn DepositWatcher> {
        Some(self)
    }

    /// Any relayer of the bridge approves releases and sees whether they were paid; sending
    /// one needs the vault's key (`prepare_release` says so without it).
    fn releaser(&self) -> Option<&dyn Releaser> {
        Some(self)
    }

    /// The scout needs nothing but RPC: any relayer of the bridge can inspect destinations.
    fn scout(&self) -> Option<&dyn Scout> {
        Some(self)
    }
}

#[async_trait::async_trait]
impl crate::wallet::Wallet for SolanaAdapter {
    /// The lamports of the relayer key (which pays every fee) and, when this relayer holds it,
    /// of the vault key.
    async fn balances(&self) -> AdapterResult<Vec<crate::wallet::KeyBalance>> {
        let mut keys = vec![("relayer", self.key.pubkey())];
        if let Some(vault) = &self.vault_key {
            keys.push(("vault", vault.pubkey()));
        }
        let mut out = Vec::new();
        for (name, key) in keys {
            let lamports = self
                .rpc
                .get_balance(&key)
                .await
                .map_err(|e| self.rpc_err("getBalance", &e))?;
            out.push(crate::wallet::KeyBalance {
                key: name.into(),
                address: key.to_string(),
                balance: u128::from(lamports),
            });
        }
        Ok(out)
    }
}

/// The section, parsed; an error names what is wrong.
fn parse_config(hostchain: &HostchainId, config: serde_json::Value) -> AdapterResult<SolanaConfig> {
    serde_json::from_value(config).map_err(|e| {
        AdapterError::new(
            ErrorKind::Config,
            hostchain,
            format!("invalid solana configuration: {e}"),
        )
    })
}

/// The registry's factory for `kind = "solana"`.
pub fn build(hostchain: HostchainId, config: serde_json::Value) -> BuildFuture {
    Box::pin(async move {
        let config = parse_config(&hostchain, config)?;
        let adapter: Arc<dyn HostchainAdapter> = Arc::new(SolanaAdapter::new(hostchain, config)?);
        Ok(adapter)
    })
}

/// The registry's factory of anchor readers for `kind = "solana"` ([`SolanaAdapter::reader`]).
pub fn reader(hostchain: HostchainId, config: serde_json::Value) -> ReaderFuture {
    Box::pin(async move {
        let config = parse_config(&hostchain, config)?;
        let reader: Arc<dyn AnchorReader> = Arc::new(SolanaAdapter::reader(hostchain, config)?);
        Ok(reader)
    })
}

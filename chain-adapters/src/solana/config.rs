//! Configuration of the Solana adapter (the `[hostchains.<id>]` section with `kind = "solana"`).

use serde::Deserialize;

/// The Solana adapter's settings. Unknown keys are refused, so a typo is an error that names
/// the key, not a silently ignored setting.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolanaConfig {
    /// JSON-RPC endpoint.
    pub rpc_url: String,
    /// The relayer's keypair file (Solana CLI format: a JSON array of 64 bytes). It pays fees
    /// and signs anchors.
    #[serde(default)]
    pub key_file: Option<String>,
    /// Or: the environment variable holding that JSON array.
    #[serde(default)]
    pub key_env: Option<String>,
    /// The bridge vault's keypair file, needed to perform releases. Without it the adapter only
    /// anchors and watches deposits.
    #[serde(default)]
    pub vault_key_file: Option<String>,
    /// Or: the environment variable holding it.
    #[serde(default)]
    pub vault_key_env: Option<String>,
    /// The vault's address, when its key is not given (deposit watching only).
    #[serde(default)]
    pub vault_address: Option<String>,
    /// SPL Token mints the bridge accepts (deposits go to the vault's associated token
    /// accounts of these mints).
    #[serde(default)]
    pub tokens: Vec<String>,
    /// Keys whose memos count as anchors when reading back (default: the relayer's own key).
    #[serde(default)]
    pub trusted_anchor_signers: Vec<String>,
    /// Priority fee of a first submission, in micro-lamports per compute unit.
    #[serde(default)]
    pub priority_fee_micro_lamports: u64,
    /// The highest priority fee a re-submission may pay.
    #[serde(default = "default_max_priority_fee")]
    pub max_priority_fee_micro_lamports: u64,
    /// At most this many signatures are processed per deposit scan step.
    #[serde(default = "default_scan_limit")]
    pub scan_limit: usize,
    /// How many of the vault's latest signatures are searched for an earlier release.
    #[serde(default = "default_release_lookback")]
    pub release_lookback: usize,
}

fn default_max_priority_fee() -> u64 {
    1_000_000
}

fn default_scan_limit() -> usize {
    500
}

fn default_release_lookback() -> usize {
    1_000
}

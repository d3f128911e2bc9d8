//! Adapter errors: every error carries a kind that says whether retrying can help, so that
//! callers never decide by reading messages.

use symbiote::types::HostchainId;

/// What went wrong, as far as the caller's reaction is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The RPC endpoint is down, timed out, rate limited or answered 5xx: retry with backoff.
    Unavailable,
    /// The relayer's account cannot pay: retry once it is funded.
    InsufficientFunds,
    /// A transaction or its fee must be rebuilt (expired blockhash, nonce taken, fee too low):
    /// prepare again or replace.
    Stale,
    /// The hostchain refused the transaction for good (invalid, policy): do not resend it.
    Rejected,
    /// A replacement would exceed the configured fee cap.
    FeeCapReached,
    /// The RPC answered something that does not make sense (malformed, inconsistent).
    InvalidResponse,
    /// The adapter's configuration or key is wrong.
    Config,
    /// What was asked for does not exist (no such transaction, no payload in it).
    NotFound,
}

impl ErrorKind {
    /// Whether the same call may succeed later without anything else changing.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Unavailable | ErrorKind::InsufficientFunds)
    }

    /// A short label for metrics (`rpc_errors_total{kind=...}`).
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::InsufficientFunds => "insufficient_funds",
            ErrorKind::Stale => "stale",
            ErrorKind::Rejected => "rejected",
            ErrorKind::FeeCapReached => "fee_cap_reached",
            ErrorKind::InvalidResponse => "invalid_response",
            ErrorKind::Config => "config",
            ErrorKind::NotFound => "not_found",
        }
    }
}

/// An error from a hostchain adapter. Messages never contain keys.
#[derive(Debug, thiserror::Error)]
#[error("{hostchain}: {kind:?}: {message}")]
pub struct AdapterError {
    /// How the caller should react.
    pub kind: ErrorKind,
    /// Which hostchain.
    pub hostchain: HostchainId,
    /// What happened, for operators.
    pub message: String,
}

impl AdapterError {
    /// An error of `kind` on `hostchain`.
    pub fn new(kind: ErrorKind, hostchain: &HostchainId, message: impl Into<String>) -> Self {
        AdapterError {
            kind,
            hostchain: hostchain.clone(),
            message: message.into(),
        }
    }

    /// Whether retrying the same call later can help.
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }
}

/// Results of adapter calls.
pub type AdapterResult<T> = Result<T, AdapterError>;

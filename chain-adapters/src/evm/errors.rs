//! Classifies alloy transport and JSON-RPC errors into adapter error kinds, and decodes revert
//! data into the contracts' custom errors.
//!
//! Structure first: transport failures (connection, timeout, HTTP 5xx/429) are `Unavailable`;
//! a JSON-RPC error with revert data or code 3 is a revert (`Rejected`); rate-limit codes are
//! `Unavailable`. Transaction-pool refusals carry no distinguishing code on the nodes we know
//! (geth answers -32000 and anvil -32003 for all of them: insufficient funds, nonce too low,
//! replacement underpriced, already known), so for those, and only those, the message decides.
//! Callers that can check a fact directly (is the transaction already known by its hash?) do
//! that instead of relying on the message.

use alloy::contract::Error as ContractError;
use alloy::rpc::json_rpc::ErrorPayload;
use alloy::sol_types::{SolInterface, decode_revert_reason};
use alloy::transports::{RpcError, TransportError, TransportErrorKind};
use symbiote::types::HostchainId;

use super::bindings::{SymbioteAnchor, SymbioteBridge};
use crate::error::{AdapterError, ErrorKind};

/// JSON-RPC code of a reverted call (`eth_call`, `eth_estimateGas`) on geth, anvil, reth,
/// erigon and nethermind.
const EXECUTION_REVERTED: i64 = 3;
/// JSON-RPC "method not found".
const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC "internal error": the node failed, not the request.
const INTERNAL_ERROR: i64 = -32603;

/// A readable name of revert `data`: a custom error of the anchor or bridge contract with its
/// arguments, an `Error(string)` reason or a `Panic` code, else the raw hex.
pub fn revert_reason(data: &[u8]) -> String {
    if let Ok(error) = SymbioteAnchor::SymbioteAnchorErrors::abi_decode(data) {
        return format!("{error:?}");
    }
    if let Ok(error) = SymbioteBridge::SymbioteBridgeErrors::abi_decode(data) {
        return format!("{error:?}");
    }
    // alloy reads bytes it cannot decode as UTF-8 text; unprintable text shows as hex instead.
    match decode_revert_reason(data) {
        Some(reason) if !reason.trim().is_empty() && !reason.chars().any(char::is_control) => {
            reason
        }
        _ => format!("0x{}", hex::encode(data)),
    }
}

/// Transaction-pool refusals, recognised by message because nodes give them no code of their
/// own (see the module documentation). Lowercase fragments.
const INSUFFICIENT_FUNDS: &[&str] = &["insufficient funds"];
const STALE: &[&str] = &[
    "nonce too low",
    "already known",
    "already imported",
    "known transaction",
    "replacement transaction underpriced",
    "transaction underpriced",
    "max fee per gas less than block base fee",
    "fee cap less than block base fee",
];
/// Nodes behind a load balancer that have not seen a block yet; message-only as well.
const LAGGING: &[&str] = &["header not found", "unknown block"];

/// The kind of a JSON-RPC error response; `fallback` when nothing identifies it.
pub fn payload_kind(payload: &ErrorPayload, fallback: ErrorKind) -> ErrorKind {
    if payload.code == EXECUTION_REVERTED || payload.as_revert_data().is_some() {
        return ErrorKind::Rejected;
    }
    if payload.is_retry_err() || payload.code == INTERNAL_ERROR {
        return ErrorKind::Unavailable;
    }
    if payload.code == METHOD_NOT_FOUND {
        return ErrorKind::InvalidResponse;
    }
    let message = payload.message.to_lowercase();
    let has = |fragments: &[&str]| fragments.iter().any(|f| message.contains(f));
    if has(INSUFFICIENT_FUNDS) {
        ErrorKind::InsufficientFunds
    } else if has(STALE) {
        ErrorKind::Stale
    } else if has(LAGGING) {
        ErrorKind::Unavailable
    } else if message.contains("execution reverted") || message.contains("revert") {
        ErrorKind::Rejected
    } else {
        fallback
    }
}

/// The kind of a transport-level failure.
fn transport_kind(error: &TransportErrorKind) -> ErrorKind {
    match error {
        TransportErrorKind::HttpError(http) if matches!(http.status, 401 | 403) => {
            // Credentials in the URL are wrong or missing: retrying will not help.
            ErrorKind::Config
        }
        _ => ErrorKind::Unavailable,
    }
}

/// The kind of an RPC error; `fallback` for an error response nothing identifies.
pub fn rpc_kind(error: &TransportError, fallback: ErrorKind) -> ErrorKind {
    match error {
        RpcError::ErrorResp(payload) => payload_kind(payload, fallback),
        RpcError::Transport(kind) => transport_kind(kind),
        RpcError::NullResp
        | RpcError::SerError(_)
        | RpcError::DeserError { .. }
        | RpcError::UnsupportedFeature(_) => ErrorKind::InvalidResponse,
        RpcError::LocalUsageError(_) => ErrorKind::Config,
    }
}

/// A readable description of an RPC error, with revert data decoded.
pub fn describe(error: &TransportError) -> String {
    if let RpcError::ErrorResp(payload) = error
        && let Some(data) = payload.as_revert_data()
    {
        return format!("execution reverted: {}", revert_reason(&data));
    }
    error.to_string()
}

/// An adapter error for a failed RPC call `what`.
pub fn classify(
    hostchain: &HostchainId,
    what: &str,
    error: &TransportError,
    fallback: ErrorKind,
) -> AdapterError {
    AdapterError::new(
        rpc_kind(error, fallback),
        hostchain,
        format!("{what}: {}", describe(error)),
    )
}

/// An adapter error for a failed contract call (`eth_call` of a view) `what`.
pub fn classify_contract(
    hostchain: &HostchainId,
    what: &str,
    error: &ContractError,
) -> AdapterError {
    match error {
        ContractError::TransportError(e) => {
            classify(hostchain, what, e, ErrorKind::InvalidResponse)
        }
        ContractError::ZeroData(..) => AdapterError::new(
            ErrorKind::Config,
            hostchain,
            format!("{what}: no contract answers at the configured address ({error})"),
        ),
        _ => AdapterError::new(
            ErrorKind::InvalidResponse,
            hostchain,
            format!("{what}: {error}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use alloy::sol_types::SolError;
    use serde_json::value::RawValue;

    use super::*;

    fn payload(code: i64, message: &str, data: Option<&str>) -> ErrorPayload {
        ErrorPayload {
            code,
            message: Cow::Owned(message.to_string()),
            data: data.map(|d| RawValue::from_string(d.to_string()).unwrap()),
        }
    }

    #[test]
    fn anvil_and_geth_pool_refusals() {
        let fallback = ErrorKind::Rejected;
        for (code, message, kind) in [
            (
                -32003,
                "Insufficient funds for gas * price + value",
                ErrorKind::InsufficientFunds,
            ),
            (
                -32000,
                "insufficient funds for gas * price + value: balance 0",
                ErrorKind::InsufficientFunds,
            ),
            (-32003, "nonce too low", ErrorKind::Stale),
            (
                -32000,
                "nonce too low: next nonce 5, tx nonce 4",
                ErrorKind::Stale,
            ),
            (
                -32003,
                "replacement transaction underpriced",
                ErrorKind::Stale,
            ),
            (-32003, "transaction already imported", ErrorKind::Stale),
            (-32000, "already known", ErrorKind::Stale),
            (429, "Too many requests", ErrorKind::Unavailable),
            (-32000, "intrinsic gas too low", ErrorKind::Rejected),
            (
                -32601,
                "the method eth_foo does not exist",
                ErrorKind::InvalidResponse,
            ),
        ] {
            assert_eq!(
                payload_kind(&payload(code, message, None), fallback),
                kind,
                "{message}"
            );
        }
    }

    #[test]
    fn reverts_are_rejected_and_decoded() {
        let data = SymbioteAnchor::InsufficientSignatures {
            given: alloy::primitives::U256::from(1),
            threshold: alloy::primitives::U256::from(2),
        }
        .abi_encode();
        let hex = format!("\"0x{}\"", hex::encode(&data));
        let error: TransportError =
            RpcError::ErrorResp(payload(3, "execution reverted: custom error", Some(&hex)));
        assert_eq!(
            rpc_kind(&error, ErrorKind::InvalidResponse),
            ErrorKind::Rejected
        );
        let text = describe(&error);
        assert!(text.contains("InsufficientSignatures"), "{text}");
        let unknown = revert_reason(&[1, 2, 3]);
        assert!(unknown.contains("010203"), "{unknown}");
    }
}

//! Classifies solana-client errors into adapter error kinds, from the error's structure (RPC
//! error codes and transaction errors), not its text.

use solana_client::client_error::{ClientError, ClientErrorKind};
use solana_client::rpc_request::{RpcError, RpcResponseErrorData};
use solana_sdk::transaction::TransactionError;
use symbiote::types::HostchainId;

use crate::error::{AdapterError, ErrorKind};

/// The kind of a transaction error.
pub fn transaction_error_kind(error: &TransactionError) -> ErrorKind {
    match error {
        TransactionError::BlockhashNotFound => ErrorKind::Stale,
        TransactionError::AlreadyProcessed => ErrorKind::Stale,
        // A fee payer without an account has no funds at all.
        TransactionError::InsufficientFundsForFee | TransactionError::AccountNotFound => {
            ErrorKind::InsufficientFunds
        }
        // The fee payer (account 0) would drop below rent exemption: it needs funds. Any other
        // account: the transfer itself is too small for its recipient, which no retry fixes.
        TransactionError::InsufficientFundsForRent { account_index: 0 } => {
            ErrorKind::InsufficientFunds
        }
        TransactionError::InsufficientFundsForRent { .. } => ErrorKind::Rejected,
        TransactionError::InstructionError(_, instruction) => {
            use solana_sdk::instruction::InstructionError;
            match instruction {
                // System program: "insufficient lamports"; token program: "insufficient funds".
                InstructionError::Custom(1) | InstructionError::InsufficientFunds => {
                    ErrorKind::InsufficientFunds
                }
                _ => ErrorKind::Rejected,
            }
        }
        _ => ErrorKind::Rejected,
    }
}

/// The transaction error inside a client error, if the node refused a transaction.
pub fn transaction_error(error: &ClientError) -> Option<TransactionError> {
    if let Some(e) = error.get_transaction_error() {
        return Some(e);
    }
    match error.kind() {
        ClientErrorKind::RpcError(RpcError::RpcResponseError {
            data: RpcResponseErrorData::SendTransactionPreflightFailure(result),
            ..
        }) => result.err.clone().map(Into::into),
        _ => None,
    }
}

/// An adapter error for a failed RPC call.
pub fn classify(hostchain: &HostchainId, what: &str, error: &ClientError) -> AdapterError {
    let kind = if let Some(tx) = transaction_error(error) {
        transaction_error_kind(&tx)
    } else {
        match error.kind() {
            ClientErrorKind::Io(_)
            | ClientErrorKind::Reqwest(_)
            | ClientErrorKind::Middleware(_) => ErrorKind::Unavailable,
            // Node behind, unhealthy, or rate limited: try again.
            ClientErrorKind::RpcError(RpcError::RpcResponseError {
                code: -32005 | -32004 | -32007 | -32014 | -32016 | 429,
                ..
            }) => ErrorKind::Unavailable,
            ClientErrorKind::RpcError(RpcError::RpcResponseError { .. }) => {
                ErrorKind::InvalidResponse
            }
            ClientErrorKind::RpcError(RpcError::ForUser(_)) => ErrorKind::InvalidResponse,
            ClientErrorKind::RpcError(_) => ErrorKind::Unavailable,
            ClientErrorKind::SerdeJson(_) => ErrorKind::InvalidResponse,
            ClientErrorKind::TransactionError(e) => transaction_error_kind(e),
            _ => ErrorKind::InvalidResponse,
        }
    };
    AdapterError::new(kind, hostchain, format!("{what}: {error}"))
}

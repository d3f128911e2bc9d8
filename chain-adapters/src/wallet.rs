//! The balances of the keys an adapter spends from, for the relayer's `wallet_balance` metric:
//! an operator funds each of its hostchain keys and is warned before one runs dry.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::AdapterResult;

/// What one key holds, in the hostchain's smallest unit of its native coin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyBalance {
    /// Which key, in a word (`relayer`: the key that pays fees; `vault`...).
    pub key: String,
    /// Its address, for the operator who funds it.
    pub address: String,
    /// The balance (satoshis, wei, lamports).
    pub balance: u128,
}

/// The keys an adapter spends from.
#[async_trait]
pub trait Wallet: Send + Sync {
    /// The balance of every key this adapter spends from. Reads only.
    async fn balances(&self) -> AdapterResult<Vec<KeyBalance>>;
}

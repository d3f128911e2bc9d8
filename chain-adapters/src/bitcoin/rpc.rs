//! bitcoind's JSON-RPC over reqwest (async), every reply read up to a size limit before it is
//! parsed.
//!
//! bitcoincore-rpc's result types are used where they parse Bitcoin Core v31's answers
//! (`getblockheader`, `gettxout`, `estimatesmartfee`, `testmempoolaccept`). The others are
//! read into small structs of our own, because
//! the library's types no longer match v31: `getmempoolentry` (the library requires
//! `bip125-replaceable`, which v31 dropped), `scantxoutset` (the library's result has no
//! `coinbase` flag, needed for maturity), `getrawtransaction` (the library's output-type enum
//! lacks newer script types and would fail on any transaction carrying one),
//! `getblockchaininfo`, `getmempoolinfo`, `gettxspendingprevout`, and `sendrawtransaction`
//! (to pass `maxfeerate`).
//!
//! Errors keep the node's error code ([`RpcError::Node`]) so that callers decide on codes, not
//! on messages. Credentials never appear in errors or in `Debug` output.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::{Amount, BlockHash, OutPoint, ScriptBuf, Transaction, Txid};
use bitcoincore_rpc::json::{
    EstimateMode, EstimateSmartFeeResult, GetBlockHeaderResult, GetTxOutResult,
    TestMempoolAcceptResult,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::config::{BitcoinConfig, Secret};
use super::fees::{FeeRate, RelayPolicy};
use crate::error::ErrorKind;

/// Bitcoin Core's RPC error codes that this adapter reacts to (`src/rpc/protocol.h`).
pub mod codes {
    /// No such transaction, block or key (`RPC_INVALID_ADDRESS_OR_KEY`).
    pub const NOT_FOUND: i32 = -5;
    /// Invalid parameter, also "scan already in progress" (`RPC_INVALID_PARAMETER`).
    pub const INVALID_PARAMETER: i32 = -8;
    /// General error during transaction submission, e.g. missing inputs (`RPC_VERIFY_ERROR`).
    pub const VERIFY_ERROR: i32 = -25;
    /// Rejected by network rules or policy (`RPC_VERIFY_REJECTED`).
    pub const VERIFY_REJECTED: i32 = -26;
    /// The transaction's outputs are already in the UTXO set, i.e. it is mined
    /// (`RPC_VERIFY_ALREADY_IN_UTXO_SET`).
    pub const ALREADY_IN_UTXO_SET: i32 = -27;
    /// The node is still starting (`RPC_IN_WARMUP`).
    pub const IN_WARMUP: i32 = -28;
    /// The node does not know the method (JSON-RPC "method not found").
    pub const METHOD_NOT_FOUND: i32 = -32601;
}

/// How long a `scantxoutset` may take: it reads the whole UTXO set (minutes on mainnet).
const SCAN_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// A failed RPC call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// The node could not be reached or did not answer in time.
    #[error("{method}: bitcoind unreachable: {reason}")]
    Unavailable {
        /// The RPC method.
        method: &'static str,
        /// Transport error.
        reason: String,
    },
    /// The node refused the credentials.
    #[error("{method}: bitcoind refused the RPC credentials (HTTP {status})")]
    Unauthorized {
        /// The RPC method.
        method: &'static str,
        /// The HTTP status.
        status: u16,
    },
    /// The node answered with an error.
    #[error("{method}: bitcoind error {code}: {message}")]
    Node {
        /// The RPC method.
        method: &'static str,
        /// Bitcoin Core's error code (see [`codes`]).
        code: i32,
        /// Its message.
        message: String,
    },
    /// The answer could not be read.
    #[error("{method}: unexpected answer: {reason}")]
    Decode {
        /// The RPC method.
        method: &'static str,
        /// What did not parse.
        reason: String,
    },
}

impl RpcError {
    /// How the caller should react, if it has no better knowledge of the call.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RpcError::Unavailable { .. } => ErrorKind::Unavailable,
            RpcError::Unauthorized { .. } => ErrorKind::Config,
            RpcError::Decode { .. } => ErrorKind::InvalidResponse,
            RpcError::Node { code, .. } => match *code {
                codes::IN_WARMUP => ErrorKind::Unavailable,
                codes::NOT_FOUND => ErrorKind::NotFound,
                codes::VERIFY_ERROR => ErrorKind::Stale,
                codes::VERIFY_REJECTED | codes::ALREADY_IN_UTXO_SET => ErrorKind::Rejected,
                codes::METHOD_NOT_FOUND => ErrorKind::Config,
                _ => ErrorKind::InvalidResponse,
            },
        }
    }

    /// The node's error code, if the node answered with an error.
    pub fn code(&self) -> Option<i32> {
        match self {
            RpcError::Node { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// A node error code check that reads well at call sites.
fn is_code<T>(result: &Result<T, RpcError>, code: i32) -> bool {
    matches!(result, Err(e) if e.code() == Some(code))
}

/// A client for one bitcoind: JSON-RPC 1.0 over HTTP with basic authentication, every reply
/// read up to [`crate::MAX_RPC_REPLY_BYTES`] before it is parsed.
#[derive(Clone)]
pub struct Rpc {
    /// For ordinary calls, with the configured timeout.
    client: reqwest::Client,
    /// For `scantxoutset`, with a long timeout.
    scan_client: reqwest::Client,
    /// The endpoint (it holds no credentials: the configuration refuses them there).
    url: String,
    /// RPC user and password.
    user: String,
    password: Secret,
    /// The id of the next request.
    next_id: Arc<AtomicU64>,
}

impl fmt::Debug for Rpc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rpc")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn http_client(timeout: Duration) -> Result<reqwest::Client, RpcError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| RpcError::Unavailable {
            method: "connect",
            reason: e.to_string(),
        })
}

/// A JSON-RPC reply: Bitcoin Core answers errors with HTTP 500 (404 for an unknown method) and
/// the error in the body.
#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    result: Value,
    #[serde(default)]
    error: Option<ReplyError>,
}

#[derive(Deserialize)]
struct ReplyError {
    code: i32,
    message: String,
}

impl Rpc {
    /// A client for the configured node; nothing is sent yet.
    pub fn new(config: &BitcoinConfig) -> Result<Rpc, RpcError> {
        reqwest::Url::parse(&config.rpc_url).map_err(|e| RpcError::Unavailable {
            method: "connect",
            reason: format!("rpc_url: {e}"),
        })?;
        Ok(Rpc {
            client: http_client(config.rpc_timeout)?,
            scan_client: http_client(SCAN_TIMEOUT.max(config.rpc_timeout))?,
            url: config.rpc_url.clone(),
            user: config.rpc_user.clone(),
            password: config.rpc_password.clone(),
            next_id: Arc::new(AtomicU64::new(1)),
        })
    }

    /// Calls `method` and reads its result into `T`; with `scan`, with the long timeout.
    async fn request<T>(
        &self,
        method: &'static str,
        params: Vec<Value>,
        scan: bool,
    ) -> Result<T, RpcError>
    where
        T: DeserializeOwned,
    {
        let unavailable = |reason: String| RpcError::Unavailable { method, reason };
        let client = if scan {
            &self.scan_client
        } else {
            &self.client
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({ "jsonrpc": "1.0", "id": id, "method": method, "params": params });
        let response = client
            .post(&self.url)
            .basic_auth(&self.user, Some(self.password.expose()))
            .json(&body)
            .send()
            .await
            .map_err(|e| unavailable(e.without_url().to_string()))?;
        let status = response.status();
        if matches!(status.as_u16(), 401 | 403) {
            return Err(RpcError::Unauthorized {
                method,
                status: status.as_u16(),
            });
        }
        let bytes = symbiote::client::read_limited(response, crate::MAX_RPC_REPLY_BYTES)
            .await
            .map_err(|e| match e {
                symbiote::client::BodyError::TooLong { limit } => RpcError::Decode {
                    method,
                    reason: format!("the reply is longer than {limit} bytes"),
                },
                symbiote::client::BodyError::Http(e) => unavailable(e.without_url().to_string()),
            })?;
        let reply: Reply = match serde_json::from_slice(&bytes) {
            Ok(reply) => reply,
            // An error status without a JSON-RPC body: a proxy, a rate limiter, an outage.
            Err(_) if !status.is_success() => return Err(unavailable(format!("HTTP {status}"))),
            Err(e) => {
                return Err(RpcError::Decode {
                    method,
                    reason: format!("not a JSON-RPC reply: {e}"),
                });
            }
        };
        if let Some(error) = reply.error {
            return Err(RpcError::Node {
                method,
                code: error.code,
                message: error.message,
            });
        }
        if !status.is_success() {
            return Err(unavailable(format!("HTTP {status}")));
        }
        serde_json::from_value(reply.result).map_err(|e| RpcError::Decode {
            method,
            reason: e.to_string(),
        })
    }

    /// A call whose answer is read into `T`.
    async fn call<T>(&self, method: &'static str, params: Vec<Value>) -> Result<T, RpcError>
    where
        T: DeserializeOwned,
    {
        self.request(method, params, false).await
    }

    /// The node's chain name (`main`, `test`, `testnet4`, `signet`, `regtest`).
    pub async fn chain(&self) -> Result<String, RpcError> {
        #[derive(Deserialize)]
        struct Info {
            chain: String,
        }
        let info: Info = self.call("getblockchaininfo", vec![]).await?;
        Ok(info.chain)
    }

    /// The height of the tip.
    pub async fn block_count(&self) -> Result<u64, RpcError> {
        self.call("getblockcount", vec![]).await
    }

    /// The hash of the main-chain block at `height`.
    pub async fn block_hash(&self, height: u64) -> Result<BlockHash, RpcError> {
        self.call("getblockhash", vec![json!(height)]).await
    }

    /// A block's height and confirmations (-1 when it is not on the main chain); `None` if
    /// the node does not know the block.
    pub async fn block_header(&self, hash: BlockHash) -> Result<Option<HeaderInfo>, RpcError> {
        let result = self
            .call::<GetBlockHeaderResult>("getblockheader", vec![json!(hash), json!(true)])
            .await;
        if is_code(&result, codes::NOT_FOUND) {
            return Ok(None);
        }
        let header = result?;
        Ok(Some(HeaderInfo {
            height: header.height as u64,
            confirmations: i64::from(header.confirmations),
        }))
    }

    /// The mempool's fee floor and incremental relay fee.
    pub async fn relay_policy(&self) -> Result<RelayPolicy, RpcError> {
        #[derive(Deserialize)]
        struct Info {
            #[serde(with = "bitcoin::amount::serde::as_btc")]
            mempoolminfee: Amount,
            #[serde(with = "bitcoin::amount::serde::as_btc")]
            minrelaytxfee: Amount,
            #[serde(with = "bitcoin::amount::serde::as_btc")]
            incrementalrelayfee: Amount,
        }
        let info: Info = self.call("getmempoolinfo", vec![]).await?;
        Ok(RelayPolicy {
            min_rate: FeeRate::from_btc_per_kvb(info.mempoolminfee.max(info.minrelaytxfee)),
            incremental: FeeRate::from_btc_per_kvb(info.incrementalrelayfee),
        })
    }

    /// `estimatesmartfee` for `target` blocks (conservative mode); `None` when the node has no
    /// estimate (regtest, a fresh node).
    pub async fn estimate_fee(&self, target: u16) -> Result<Option<FeeRate>, RpcError> {
        let result: EstimateSmartFeeResult = self
            .call(
                "estimatesmartfee",
                vec![json!(target), json!(EstimateMode::Conservative)],
            )
            .await?;
        Ok(result.fee_rate.map(FeeRate::from_btc_per_kvb))
    }

    /// The confirmed outputs paying to `script` (`scantxoutset`).
    pub async fn scan(&self, script: &ScriptBuf) -> Result<Vec<ScannedOutput>, RpcError> {
        #[derive(Deserialize)]
        struct Scan {
            success: bool,
            unspents: Vec<ScannedOutput>,
        }
        let descriptor = format!("raw({})", script.to_hex_string());
        let params = vec![json!("start"), json!([descriptor])];
        let scan: Scan = self.request("scantxoutset", params, true).await?;
        if !scan.success {
            return Err(RpcError::Unavailable {
                method: "scantxoutset",
                reason: "the scan was aborted".into(),
            });
        }
        Ok(scan.unspents)
    }

    /// An unspent output, from the UTXO set or (with `include_mempool`) the mempool; `None` if
    /// it is spent or does not exist.
    pub async fn tx_out(
        &self,
        outpoint: OutPoint,
        include_mempool: bool,
    ) -> Result<Option<TxOutInfo>, RpcError> {
        let params = vec![
            json!(outpoint.txid),
            json!(outpoint.vout),
            json!(include_mempool),
        ];
        let out: Option<GetTxOutResult> = self.call("gettxout", params).await?;
        Ok(out.map(|out| TxOutInfo {
            confirmations: u64::from(out.confirmations),
            value: out.value,
            script_pubkey: ScriptBuf::from_bytes(out.script_pub_key.hex),
            coinbase: out.coinbase,
        }))
    }

    /// The mempool's entry for `txid`; `None` if it is not in the mempool.
    pub async fn mempool_entry(&self, txid: Txid) -> Result<Option<MempoolEntry>, RpcError> {
        let result = self
            .call::<MempoolEntry>("getmempoolentry", vec![json!(txid)])
            .await;
        if is_code(&result, codes::NOT_FOUND) {
            return Ok(None);
        }
        result.map(Some)
    }

    /// `getrawtransaction` (verbose), looked up in `block` if given, else in the mempool and
    /// the transaction index; `None` if the node does not find it.
    pub async fn raw_tx(
        &self,
        txid: Txid,
        block: Option<BlockHash>,
    ) -> Result<Option<RawTxInfo>, RpcError> {
        let mut params = vec![json!(txid), json!(true)];
        if let Some(block) = block {
            params.push(json!(block));
        }
        let result = self.call::<RawTxInfo>("getrawtransaction", params).await;
        if is_code(&result, codes::NOT_FOUND) || is_code(&result, codes::INVALID_PARAMETER) {
            return Ok(None);
        }
        result.map(Some)
    }

    /// The mempool transaction spending `outpoint`, if any.
    pub async fn mempool_spender(&self, outpoint: OutPoint) -> Result<Option<Txid>, RpcError> {
        #[derive(Deserialize)]
        struct Spending {
            spendingtxid: Option<Txid>,
        }
        let params = vec![json!([{"txid": outpoint.txid, "vout": outpoint.vout}])];
        let answer: Vec<Spending> = self.call("gettxspendingprevout", params).await?;
        Ok(answer.into_iter().find_map(|s| s.spendingtxid))
    }

    /// `testmempoolaccept` for one transaction.
    pub async fn test_accept(&self, tx: &Transaction) -> Result<TestMempoolAcceptResult, RpcError> {
        let results: Vec<TestMempoolAcceptResult> = self
            .call("testmempoolaccept", vec![json!([serialize_hex(tx)])])
            .await?;
        results.into_iter().next().ok_or(RpcError::Decode {
            method: "testmempoolaccept",
            reason: "no result for the transaction".into(),
        })
    }

    /// `sendrawtransaction`, refusing a fee rate above `max_rate`.
    pub async fn send(&self, tx: &Transaction, max_rate: FeeRate) -> Result<Txid, RpcError> {
        let params = vec![json!(serialize_hex(tx)), json!(max_rate.per_kvb().to_btc())];
        self.call("sendrawtransaction", params).await
    }
}

/// A block header's place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderInfo {
    /// Its height.
    pub height: u64,
    /// Confirmations; -1 if the block is not on the main chain.
    pub confirmations: i64,
}

/// An output found by `scantxoutset`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ScannedOutput {
    /// Its transaction.
    pub txid: Txid,
    /// Its index.
    pub vout: u32,
    /// Its value.
    #[serde(with = "bitcoin::amount::serde::as_btc")]
    pub amount: Amount,
    /// Whether it is a coinbase output (Bitcoin Core 25 and later report it).
    #[serde(default)]
    pub coinbase: bool,
    /// The including block's height.
    pub height: u64,
}

/// An unspent output, from `gettxout`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxOutInfo {
    /// 0 in the mempool.
    pub confirmations: u64,
    /// Its value.
    pub value: Amount,
    /// Its script.
    pub script_pubkey: ScriptBuf,
    /// Whether it is a coinbase output.
    pub coinbase: bool,
}

/// The parts of `getmempoolentry` this adapter uses.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct MempoolEntry {
    /// Mempool transactions spending its outputs.
    #[serde(rename = "spentby", default)]
    pub spent_by: Vec<Txid>,
}

/// The parts of verbose `getrawtransaction` this adapter uses.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct RawTxInfo {
    /// The serialized transaction.
    pub hex: String,
    /// The including block, if it is in one (possibly a block no longer on the main chain).
    #[serde(default)]
    pub blockhash: Option<BlockHash>,
    /// Confirmations; 0 or absent in the mempool or in a block off the main chain.
    #[serde(default)]
    pub confirmations: Option<u64>,
}

//! The Solana JSON-RPC transport: `solana-client`'s requests over the workspace's `reqwest`
//! client, with every reply read up to a size limit before it is parsed (a hostile or broken
//! endpoint cannot make the relayer read an endless body), and the same error values as the
//! crate's own HTTP sender, so that error kinds are told apart the same way.

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Deserialize;
use solana_client::client_error::{ClientError, ClientErrorKind, Result};
use solana_client::rpc_custom_error::{
    JSON_RPC_SERVER_ERROR_NODE_UNHEALTHY, JSON_RPC_SERVER_ERROR_SEND_TRANSACTION_PREFLIGHT_FAILURE,
    NodeUnhealthyErrorData,
};
use solana_client::rpc_request::{RpcError, RpcRequest, RpcResponseErrorData};
use solana_client::rpc_response::RpcSimulateTransactionResult;
use solana_client::rpc_sender::{RpcSender, RpcTransportStats};

/// Retries of a call the endpoint refused with 429 (too many requests).
const RATE_LIMIT_RETRIES: u32 = 5;

/// An HTTP(S) Solana JSON-RPC endpoint.
pub struct BoundedSender {
    client: reqwest::Client,
    /// The endpoint; may hold a provider's API key.
    url: String,
    next_id: AtomicU64,
    stats: RwLock<RpcTransportStats>,
}

impl BoundedSender {
    /// A sender to `url` whose calls give up after `timeout`.
    pub fn new(url: &str, timeout: Duration) -> std::result::Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", e.without_url()))?;
        Ok(BoundedSender {
            client,
            url: url.to_string(),
            next_id: AtomicU64::new(0),
            stats: RwLock::new(RpcTransportStats::default()),
        })
    }

    fn count(&self, started: Instant, rate_limited: Duration) {
        if let Ok(mut stats) = self.stats.write() {
            stats.request_count += 1;
            stats.elapsed_time += started.elapsed();
            stats.rate_limited_time += rate_limited;
        }
    }
}

fn custom(message: String) -> ClientError {
    ClientError::from(ClientErrorKind::Custom(message))
}

/// A JSON-RPC error object.
#[derive(Deserialize)]
struct ErrorObject {
    code: i64,
    message: String,
}

/// The error a reply's `error` member describes.
fn rpc_error(error: &serde_json::Value) -> ClientError {
    let Ok(object) = ErrorObject::deserialize(error) else {
        return RpcError::RpcRequestError(format!("malformed RPC error: {error}")).into();
    };
    let data = match object.code {
        JSON_RPC_SERVER_ERROR_SEND_TRANSACTION_PREFLIGHT_FAILURE => {
            RpcSimulateTransactionResult::deserialize(&error["data"])
                .map_or(RpcResponseErrorData::Empty, |r| {
                    RpcResponseErrorData::SendTransactionPreflightFailure(r)
                })
        }
        JSON_RPC_SERVER_ERROR_NODE_UNHEALTHY => NodeUnhealthyErrorData::deserialize(&error["data"])
            .map_or(RpcResponseErrorData::Empty, |d| {
                RpcResponseErrorData::NodeUnhealthy {
                    num_slots_behind: d.num_slots_behind,
                }
            }),
        _ => RpcResponseErrorData::Empty,
    };
    RpcError::RpcResponseError {
        code: object.code,
        message: object.message,
        data,
    }
    .into()
}

#[async_trait]
impl RpcSender for BoundedSender {
    async fn send(
        &self,
        request: RpcRequest,
        params: serde_json::Value,
    ) -> Result<serde_json::Value> {
        let started = Instant::now();
        let mut rate_limited = Duration::ZERO;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = request.build_request_json(id, params).to_string();
        let mut retries = RATE_LIMIT_RETRIES;
        let result = loop {
            let response = match self
                .client
                .post(&self.url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await
            {
                Ok(response) => response,
                Err(e) => break Err(ClientError::from(e.without_url())),
            };
            let status = response.status();
            if status == reqwest::StatusCode::TOO_MANY_REQUESTS && retries > 0 {
                retries -= 1;
                let wait = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                    .filter(|s| *s < 120)
                    .map_or(Duration::from_millis(500), Duration::from_secs);
                tokio::time::sleep(wait).await;
                rate_limited += wait;
                continue;
            }
            if let Err(e) = response.error_for_status_ref() {
                break Err(ClientError::from(e.without_url()));
            }
            let bytes =
                match symbiote::client::read_limited(response, crate::MAX_RPC_REPLY_BYTES).await {
                    Ok(bytes) => bytes,
                    Err(symbiote::client::BodyError::Http(e)) => {
                        break Err(ClientError::from(e.without_url()));
                    }
                    Err(too_long) => break Err(custom(format!("{request}: {too_long}"))),
                };
            let mut reply: serde_json::Value = match serde_json::from_slice(&bytes) {
                Ok(reply) => reply,
                Err(e) => break Err(ClientError::from(e)),
            };
            if reply["error"].is_object() {
                break Err(rpc_error(&reply["error"]));
            }
            break Ok(reply["result"].take());
        };
        self.count(started, rate_limited);
        result
    }

    fn get_transport_stats(&self) -> RpcTransportStats {
        self.stats.read().map(|s| s.clone()).unwrap_or_default()
    }

    fn url(&self) -> String {
        // The URL may hold an API key: only its host is told.
        reqwest::Url::parse(&self.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_errors_keep_their_kind_and_data() {
        let error = serde_json::json!({
            "code": JSON_RPC_SERVER_ERROR_NODE_UNHEALTHY,
            "message": "behind",
            "data": {"numSlotsBehind": 42}
        });
        match rpc_error(&error).kind() {
            ClientErrorKind::RpcError(RpcError::RpcResponseError { code, data, .. }) => {
                assert_eq!(*code, JSON_RPC_SERVER_ERROR_NODE_UNHEALTHY);
                assert!(matches!(
                    data,
                    RpcResponseErrorData::NodeUnhealthy {
                        num_slots_behind: Some(42)
                    }
                ));
            }
            other => panic!("{other:?}"),
        }
        let malformed = rpc_error(&serde_json::json!({"code": "x"}));
        assert!(malformed.to_string().contains("malformed"), "{malformed}");
    }

    #[test]
    fn the_url_shown_is_only_the_host() {
        let sender =
            BoundedSender::new("https://rpc.example/v1/secret-key", Duration::from_secs(1))
                .unwrap();
        assert_eq!(sender.url(), "rpc.example");
    }
}

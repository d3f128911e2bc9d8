//! A minimal JSON-RPC 2.0 client, used only to tell whether a node is up and to drive test
//! nodes (mine blocks, fund accounts). Product code uses the chains' own client libraries.

use serde_json::{Value, json};

use crate::HarnessError;

/// Calls `method` with `params` on `url`, with HTTP basic auth if given; returns `result`.
pub async fn call(
    client: &reqwest::Client,
    url: &str,
    auth: Option<(&str, &str)>,
    method: &str,
    params: Value,
) -> Result<Value, HarnessError> {
    let err = |reason: String| HarnessError::Rpc {
        url: url.to_string(),
        method: method.to_string(),
        reason,
    };
    let mut request = client
        .post(url)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}));
    if let Some((user, password)) = auth {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await.map_err(|e| err(e.to_string()))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|e| err(format!("HTTP {status}, body is not JSON: {e}")))?;
    match body.get("error") {
        Some(error) if !error.is_null() => Err(err(error.to_string())),
        _ => body
            .get("result")
            .cloned()
            .ok_or_else(|| err(format!("HTTP {status}, no result in {body}"))),
    }
}

/// An HTTP client with short time-outs, for readiness checks and test calls.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap_or_default()
}

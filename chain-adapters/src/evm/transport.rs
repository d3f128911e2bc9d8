//! The JSON-RPC transport: alloy's request and response packets over the workspace's
//! `reqwest` 0.12 client (rustls with ring), with a timeout per call.
//!
//! alloy's own HTTP transport uses reqwest 0.13, whose only TLS option alloy exposes pulls in
//! aws-lc-rs (a C build); this one reaches `https://` endpoints with the TLS stack the workspace
//! already builds. Errors never carry the URL, which often holds a provider's API key.

use std::task::{Context, Poll};
use std::time::Duration;

use alloy::rpc::json_rpc::{RequestPacket, ResponsePacket};
use alloy::transports::{TransportError, TransportErrorKind, TransportFut};

/// An HTTP(S) JSON-RPC endpoint.
#[derive(Clone)]
pub struct HttpTransport {
    /// The client (connection pool, timeout).
    client: reqwest::Client,
    /// The endpoint; may contain an API key, so it is never printed.
    url: reqwest::Url,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("host", &self.url.host_str())
            .finish_non_exhaustive()
    }
}

impl HttpTransport {
    /// A transport to `url` whose calls give up after `timeout`.
    pub fn new(url: reqwest::Url, timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", e.without_url()))?;
        Ok(HttpTransport { client, url })
    }

    /// Whether the endpoint is on this machine (alloy then polls more often).
    pub fn is_local(&self) -> bool {
        match self.url.host_str() {
            Some("localhost") => true,
            Some(host) => host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback()),
            None => false,
        }
    }

    async fn post(self, request: RequestPacket) -> Result<ResponsePacket, TransportError> {
        let response = self
            .client
            .post(self.url)
            .json(&request)
            .send()
            .await
            .map_err(|e| TransportErrorKind::custom(e.without_url()))?;
        let status = response.status();
        let body = symbiote::client::read_limited(response, crate::MAX_RPC_REPLY_BYTES)
            .await
            .map_err(|e| match e {
                symbiote::client::BodyError::Http(e) => TransportErrorKind::custom(e.without_url()),
                too_long => TransportErrorKind::custom_str(&too_long.to_string()),
            })?;
        match serde_json::from_slice::<ResponsePacket>(&body) {
            Ok(packet) => Ok(packet),
            // An error status without a JSON-RPC body (proxy, rate limiter, outage).
            Err(_) if !status.is_success() => Err(TransportErrorKind::http_error(
                status.as_u16(),
                String::from_utf8_lossy(&body).into_owned(),
            )),
            Err(e) => Err(TransportError::deser_err(e, String::from_utf8_lossy(&body))),
        }
    }
}

impl tower_service::Service<RequestPacket> for HttpTransport {
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // reqwest queues requests itself.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: RequestPacket) -> Self::Future {
        Box::pin(self.clone().post(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_endpoints_and_debug_without_the_url() {
        let transport =
            |url: &str| HttpTransport::new(url.parse().unwrap(), Duration::from_secs(1)).unwrap();
        assert!(transport("http://127.0.0.1:8545").is_local());
        assert!(transport("http://[::1]:8545").is_local());
        assert!(transport("http://localhost:8545").is_local());
        let remote = transport("https://rpc.example/v3/secret-api-key");
        assert!(!remote.is_local());
        assert!(!format!("{remote:?}").contains("secret-api-key"));
    }
}

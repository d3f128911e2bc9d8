//! An HTTP client for a symbiote node's API: used by the CLI, by the relayer, and (with the
//! peer calls the node adds on top) by other validators.

use std::time::Duration;

use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::codec::{Canonical, CodecError};
use crate::crypto::PublicKey;
use crate::hash::Hash;
use crate::state::WithdrawalOrder;
use crate::tx::{DepositId, SignedTransaction};
use crate::types::{Height, Nonce};
use crate::validators::ValidatorSet;

use crate::block::ChainBlock;
use crate::wire::{
    AccountReply, CommitmentReply, DepositReply, ErrorReply, GovernanceReply, HeadInfo, NodeInfo,
    SubmitReply, SubmitRequest, TxStatusReply,
};

/// Why a call to a node failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{url}: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url}: HTTP {status}: {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url}: {source}")]
    Decode {
        url: String,
        #[source]
        source: CodecError,
    },
    #[error("{url}: the reply does not parse: {reason}")]
    Json { url: String, reason: String },
    #[error("{url}: the reply is longer than {limit} bytes")]
    TooLong { url: String, limit: usize },
}

impl ClientError {
    /// Whether trying again later can help: the node was unreachable, timed out or failed
    /// internally, as opposed to refusing the request.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Http { .. } => true,
            ClientError::Status { status, .. } => *status >= 500 || *status == 429,
            ClientError::Decode { .. } | ClientError::Json { .. } | ClientError::TooLong { .. } => {
                false
            }
        }
    }

    /// The HTTP status the node answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A client of one node.
#[derive(Clone, Debug)]
pub struct NodeClient {
    /// The node's base URL, without a trailing slash.
    base: String,
    /// Shared connection pool.
    http: reqwest::Client,
}

/// The longest reply read from a node: a block of [`crate::block::MAX_BLOCK_LEN`] as JSON with
/// its certificate, or a page of proofs, fits with room to spare.
pub const MAX_REPLY_BYTES: usize = 4 * crate::block::MAX_BLOCK_LEN;

/// Why a reply's body could not be read whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the reply is longer than {limit} bytes")]
    TooLong { limit: usize },
    #[error(transparent)]
    Http(reqwest::Error),
}

/// Reads a reply's body, refusing one longer than `limit` bytes before reading it whole (by
/// its announced length, then as it arrives). Errors name no URL: callers add it where it may
/// be shown.
pub async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|len| usize::try_from(len).map_or(true, |len| len > limit))
    {
        return Err(BodyError::TooLong { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Http)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLong { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// [`read_limited`], its errors naming `url`.
pub async fn read_body(
    response: reqwest::Response,
    url: &str,
    limit: usize,
) -> Result<Vec<u8>, ClientError> {
    read_limited(response, limit).await.map_err(|e| match e {
        BodyError::TooLong { limit } => ClientError::TooLong {
            url: url.to_string(),
            limit,
        },
        BodyError::Http(source) => ClientError::Http {
            url: url.to_string(),
            source,
        },
    })
}

/// Reads a JSON reply of at most [`MAX_REPLY_BYTES`].
pub async fn read_json<T: DeserializeOwned>(
    response: reqwest::Response,
    url: &str,
) -> Result<T, ClientError> {
    let body = read_body(response, url, MAX_REPLY_BYTES).await?;
    serde_json::from_slice(&body).map_err(|e| ClientError::Json {
        url: url.to_string(),
        reason: e.to_string(),
    })
}

/// The time-out of one request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap_or_default()
}

impl NodeClient {
    /// A client of the node at `base` (for example `http://127.0.0.1:7000`).
    pub fn new(base: &str) -> Self {
        NodeClient {
            base: base.trim_end_matches('/').to_string(),
            http: http_client(),
        }
    }

    /// The node's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::Response, ClientError> {
        let response = request.send().await.map_err(|source| ClientError::Http {
            url: url.to_string(),
            source,
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let body = read_body(response, url, 64 * 1024)
            .await
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&body).into_owned();
        let message = serde_json::from_str::<ErrorReply>(&text)
            .map(|e| e.error)
            .unwrap_or(text);
        Err(ClientError::Status {
            url: url.to_string(),
            status,
            message,
        })
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let response = self.send(self.http.get(&url), &url).await?;
        read_json(response, &url).await
    }

    /// POSTs a JSON body to `path` and decodes the JSON reply.
    pub async fn post_json<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let response = self.send(self.http.post(&url).json(body), &url).await?;
        read_json(response, &url).await
    }

    async fn get_optional_bytes(&self, path: &str) -> Result<Option<Vec<u8>>, ClientError> {
        let url = format!("{}{path}", self.base);
        match self.send(self.http.get(&url), &url).await {
            Ok(response) => Ok(Some(read_body(response, &url, MAX_REPLY_BYTES).await?)),
            Err(ClientError::Status { status, .. }) if status == StatusCode::NOT_FOUND.as_u16() => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// POSTs raw bytes to `path`.
    pub async fn post_bytes(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> Result<reqwest::Response, ClientError> {
        let url = format!("{}{path}", self.base);
        let request = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body);
        self.send(request, &url).await
    }

    /// Who the node is.
    pub async fn node_info(&self) -> Result<NodeInfo, ClientError> {
        self.get_json("/v1/node").await
    }

    /// The finalized head.
    pub async fn head(&self) -> Result<HeadInfo, ClientError> {
        self.get_json("/v1/head").await
    }

    /// The finalized block at `height`, or `None` if the node has none there yet. The block is
    /// decoded but not verified: callers check it against the validator set they trust.
    pub async fn block(&self, height: Height) -> Result<Option<ChainBlock>, ClientError> {
        let path = format!("/v1/blocks/{}/raw", height.get());
        match self.get_optional_bytes(&path).await? {
            Some(bytes) => {
                ChainBlock::decode(&bytes)
                    .map(Some)
                    .map_err(|source| ClientError::Decode {
                        url: format!("{}{path}", self.base),
                        source,
                    })
            }
            None => Ok(None),
        }
    }

    /// Submits a signed transaction.
    pub async fn submit(&self, tx: &SignedTransaction) -> Result<SubmitReply, ClientError> {
        let url = format!("{}/v1/transactions", self.base);
        let body = SubmitRequest {
            tx: hex::encode(tx.encode()),
        };
        let response = self.send(self.http.post(&url).json(&body), &url).await?;
        read_json(response, &url).await
    }

    /// Where a transaction stands.
    pub async fn tx_status(&self, hash: &Hash) -> Result<TxStatusReply, ClientError> {
        self.get_json(&format!("/v1/transactions/{hash}")).await
    }

    /// An account's nonce and balances.
    pub async fn account(&self, key: &PublicKey) -> Result<AccountReply, ClientError> {
        self.get_json(&format!("/v1/accounts/{key}")).await
    }

    /// Withdrawal orders from nonce `from`, at most `limit`.
    pub async fn withdrawals(
        &self,
        from: Nonce,
        limit: usize,
    ) -> Result<Vec<WithdrawalOrder>, ClientError> {
        self.get_json(&format!(
            "/v1/withdrawals?from={}&limit={limit}",
            from.get()
        ))
        .await
    }

    /// Governance: every set's history and every proposal.
    pub async fn governance(&self) -> Result<GovernanceReply, ClientError> {
        self.get_json("/v1/governance").await
    }

    /// The validator set that signs block `height`.
    pub async fn validators_at(&self, height: Height) -> Result<ValidatorSet, ClientError> {
        self.get_json(&format!("/v1/validators?height={}", height.get()))
            .await
    }

    /// A commitment over blocks `from..=to` with the proof of block `height` in it.
    pub async fn commitment(
        &self,
        from: Height,
        to: Height,
        height: Height,
    ) -> Result<CommitmentReply, ClientError> {
        self.get_json(&format!(
            "/v1/proofs/commitment?from={}&to={}&height={}",
            from.get(),
            to.get(),
            height.get()
        ))
        .await
    }

    /// Whether a deposit has been minted.
    pub async fn deposit_minted(&self, id: &DepositId) -> Result<bool, ClientError> {
        Ok(self.deposit(id).await?.minted)
    }

    /// The relayers' signatures of the hostchain message with digest `subject`.
    pub async fn cosignatures(
        &self,
        subject: &Hash,
    ) -> Result<crate::wire::CosignaturesReply, ClientError> {
        self.get_json(&format!("/v1/cosignatures/{subject}")).await
    }

    /// [`Self::deposit`] of several deposits in one request, in the order given.
    pub async fn deposits(&self, ids: &[DepositId]) -> Result<Vec<DepositReply>, ClientError> {
        self.post_json(
            "/v1/deposits/query",
            &crate::wire::DepositsQuery { ids: ids.to_vec() },
        )
        .await
    }

    /// The withdrawal orders with these nonces (those that exist), by nonce, in one request.
    pub async fn withdrawals_of(
        &self,
        nonces: &[Nonce],
    ) -> Result<Vec<WithdrawalOrder>, ClientError> {
        self.post_json(
            "/v1/withdrawals/query",
            &crate::wire::WithdrawalsQuery {
                nonces: nonces.to_vec(),
            },
        )
        .await
    }

    /// Entries `keys` (at most [`crate::wire::MAX_PROOF_ENTRIES`]) with their proofs against
    /// the state root at finalized `height` (default: the node's head). The reply is the node's
    /// word: check it with [`crate::verified::VerifiedView`].
    pub async fn state_proofs(
        &self,
        height: Option<Height>,
        keys: &[crate::state::StateKey],
    ) -> Result<crate::wire::StateProofsReply, ClientError> {
        self.post_json(
            "/v1/state/proofs",
            &crate::wire::StateProofsQuery {
                height,
                keys: keys.to_vec(),
            },
        )
        .await
    }

    /// Whether a deposit has been minted, and its attestations while it is not.
    pub async fn deposit(&self, id: &DepositId) -> Result<DepositReply, ClientError> {
        self.get_json(&format!(
            "/v1/deposits/{}/{}/{}",
            id.hostchain, id.tx, id.index
        ))
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Serves one HTTP reply with `head` (status line and headers) and `body` to whoever
    /// connects; returns the URL.
    async fn serve_once(head: &'static str, body: Vec<u8>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&body).await;
        });
        url
    }

    async fn read(head: &'static str, body: Vec<u8>, limit: usize) -> Result<Vec<u8>, BodyError> {
        let url = serve_once(head, body).await;
        let response = reqwest::get(&url).await.unwrap();
        read_limited(response, limit).await
    }

    #[tokio::test]
    async fn a_reply_longer_than_the_limit_is_refused_announced_or_not() {
        let body = vec![b'x'; 1000];
        let announced = "HTTP/1.1 200 OK\r\ncontent-length: 1000\r\nconnection: close\r\n\r\n";
        assert!(matches!(
            read(announced, body.clone(), 999).await,
            Err(BodyError::TooLong { limit: 999 })
        ));
        assert_eq!(read(announced, body.clone(), 1000).await.unwrap(), body);
        // No length announced: the body is cut off as it arrives.
        let streamed = "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n";
        assert!(matches!(
            read(streamed, body.clone(), 999).await,
            Err(BodyError::TooLong { limit: 999 })
        ));
        assert_eq!(read(streamed, body.clone(), 1000).await.unwrap(), body);
    }
}

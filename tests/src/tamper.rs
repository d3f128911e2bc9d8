//! A tampering proxy: a real HTTP server between a relayer and its symbiote node that forwards
//! every request and, when told to, rewrites the node's answers the way a compromised node
//! would: it invents a withdrawal order, changes an order's amount or destination, reports a
//! relayer set of one, hides approvals, hides a block's transactions, or answers a state query
//! from another height. Used by the tests that show a relayer acts on none of it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use symbiote::block::ChainBlock;
use symbiote::codec::Canonical;
use symbiote::crypto::Keypair;
use symbiote::state::{Entry, Meta, StateKey, WithdrawalOrder, WithdrawalStatus};
use symbiote::tx::RelayerSet;
use symbiote::types::{Amount, HostAddress, HostchainId, Nonce, TokenId};
use symbiote::wire::{StateProofsQuery, StateProofsReply};

use crate::HarnessError;

/// What the proxy does to the node's answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tamper {
    /// Forwards everything unchanged.
    Honest,
    /// Counts one more withdrawal order than exist and answers the missing one with an order
    /// paying `amount` of `hostchain`'s native token to `destination`.
    InventOrder {
        hostchain: HostchainId,
        destination: HostAddress,
        amount: Amount,
    },
    /// Multiplies every withdrawal order's amount.
    ChangeAmount,
    /// Sends every withdrawal order of a hostchain to the given destination instead.
    ChangeDestination(Vec<(HostchainId, HostAddress)>),
    /// Reports the relayer set as its first member alone, with a threshold of one.
    RelayerSetOfOne,
    /// Removes every approval from withdrawal orders.
    HideApproval,
    /// Answers block requests with the block's transactions removed.
    HideBlockTxs,
    /// Answers state queries with the state of height 1, claiming the height asked.
    OtherHeight,
    /// Answers `/v1/head` with the head it had when this mode began: true but ever older, so
    /// the relayer sees no newer block.
    FreezeHead,
}

struct Shared {
    upstream: String,
    http: reqwest::Client,
    mode: Mutex<Tamper>,
    tampered: AtomicU64,
    /// The head answer kept while [`Tamper::FreezeHead`].
    frozen_head: Mutex<Option<Vec<u8>>>,
}

/// The running proxy; stops when dropped.
pub struct TamperingProxy {
    address: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TamperingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TamperingProxy {
    /// Starts a proxy to the node at `upstream` on a free loopback port, honest at first.
    pub async fn start(upstream: &str) -> Result<TamperingProxy, HarnessError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| HarnessError::io("tampering proxy", e))?;
        let address = listener
            .local_addr()
            .map_err(|e| HarnessError::io("tampering proxy", e))?;
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
            mode: Mutex::new(Tamper::Honest),
            tampered: AtomicU64::new(0),
            frozen_head: Mutex::new(None),
        });
        let app = Router::new().fallback(forward).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(TamperingProxy {
            address,
            shared,
            task,
        })
    }

    /// The proxy's base URL, to give the relayer as its node.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// From now on, tampers like `mode`.
    pub fn set(&self, mode: Tamper) {
        *self
            .shared
            .frozen_head
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        *self.shared.mode.lock().unwrap_or_else(|e| e.into_inner()) = mode;
    }

    /// How many answers the proxy has changed so far.
    pub fn tampered(&self) -> u64 {
        self.shared.tampered.load(Ordering::SeqCst)
    }
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request<Body>) -> Response {
    let mode = shared
        .mode
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let (parts, body) = request.into_parts();
    let Ok(mut body) = axum::body::to_bytes(body, 64 * 1024 * 1024).await else {
        return (StatusCode::BAD_REQUEST, "body too long").into_response();
    };
    let path = parts.uri.path().to_string();
    let state_query = parts.method == Method::POST && path == "/v1/state/proofs";
    // Another height: ask the node for height 1's state instead.
    let mut asked = None;
    if state_query
        && mode == Tamper::OtherHeight
        && let Ok(mut query) = serde_json::from_slice::<StateProofsQuery>(&body)
    {
        asked = query.height;
        query.height = Some(symbiote::types::Height::new(1));
        body = Bytes::from(serde_json::to_vec(&query).unwrap_or_default());
    }
    let (status, content_type, mut answer) =
        match send(&shared, &parts.method, &parts.uri, body).await {
            Ok(answer) => answer,
            Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
        };
    if status.is_success() {
        let changed = if state_query {
            tamper_state(&mode, &mut answer, asked)
        } else if mode == Tamper::FreezeHead && path == "/v1/head" {
            let mut frozen = shared.frozen_head.lock().unwrap_or_else(|e| e.into_inner());
            let kept = frozen.get_or_insert_with(|| answer.clone());
            let changed = *kept != answer;
            answer = kept.clone();
            changed
        } else if mode == Tamper::HideBlockTxs
            && path.starts_with("/v1/blocks/")
            && path.ends_with("/raw")
        {
            hide_transactions(&mut answer)
        } else {
            false
        };
        if changed {
            shared.tampered.fetch_add(1, Ordering::SeqCst);
        }
    }
    let mut response = (status, answer).into_response();
    if let Some(value) = content_type {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, value);
    }
    response
}

async fn send(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    body: Bytes,
) -> Result<(StatusCode, Option<axum::http::HeaderValue>, Vec<u8>), reqwest::Error> {
    let target = format!(
        "{}{}",
        shared.upstream,
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let method =
        reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap_or(reqwest::Method::GET);
    let response = shared
        .http
        .request(method, target)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await?;
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::OK);
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| axum::http::HeaderValue::from_bytes(v.as_bytes()).ok());
    let bytes = response.bytes().await?.to_vec();
    Ok((status, content_type, bytes))
}

/// Removes the transactions of a raw block; whether there were any.
fn hide_transactions(answer: &mut Vec<u8>) -> bool {
    let Ok(mut block) = ChainBlock::decode(answer) else {
        return false;
    };
    if block.block.transactions.is_empty() {
        return false;
    }
    block.block.transactions.clear();
    *answer = block.encode();
    true
}

/// Rewrites a state proof answer by `mode`; whether it changed anything.
fn tamper_state(
    mode: &Tamper,
    answer: &mut Vec<u8>,
    asked: Option<symbiote::types::Height>,
) -> bool {
    let Ok(mut reply) = serde_json::from_slice::<StateProofsReply>(answer) else {
        return false;
    };
    let mut changed = false;
    if let Some(height) = asked {
        reply.height = height;
        changed = true;
    }
    for proof in &mut reply.proofs {
        let entry = proof
            .value
            .as_ref()
            .and_then(|bytes| Entry::decode(&proof.key, bytes).ok());
        let new = match (mode, &proof.key, entry) {
            (Tamper::InventOrder { .. }, StateKey::Meta, Some(Entry::Meta(meta))) => {
                let next = Nonce::new(meta.next_withdrawal.get() + 1);
                borsh::to_vec(&Meta {
                    next_withdrawal: next,
                    ..meta
                })
                .ok()
            }
            (
                Tamper::InventOrder {
                    hostchain,
                    destination,
                    amount,
                },
                StateKey::Withdrawal(nonce),
                None,
            ) => borsh::to_vec(&WithdrawalOrder {
                nonce: *nonce,
                hostchain: hostchain.clone(),
                token: TokenId::native(),
                amount: *amount,
                destination: destination.clone(),
                burner: Keypair::generate().public(),
                height: symbiote::types::Height::new(1),
                status: WithdrawalStatus::Open,
                approvals: Default::default(),
                holds: Default::default(),
            })
            .ok(),
            (Tamper::ChangeAmount, _, Some(Entry::Withdrawal(order))) => {
                borsh::to_vec(&WithdrawalOrder {
                    amount: Amount::new(order.amount.get().saturating_mul(1_000)),
                    ..order
                })
                .ok()
            }
            (Tamper::ChangeDestination(to), _, Some(Entry::Withdrawal(order))) => to
                .iter()
                .find(|(chain, _)| *chain == order.hostchain)
                .and_then(|(_, destination)| {
                    borsh::to_vec(&WithdrawalOrder {
                        destination: destination.clone(),
                        ..order
                    })
                    .ok()
                }),
            (Tamper::HideApproval, _, Some(Entry::Withdrawal(order)))
                if !order.approvals.is_empty() =>
            {
                borsh::to_vec(&WithdrawalOrder {
                    approvals: Default::default(),
                    ..order
                })
                .ok()
            }
            (Tamper::RelayerSetOfOne, _, Some(Entry::Sets(mut sets))) => {
                let current = sets.relayers.current().clone();
                let one = RelayerSet {
                    members: current.members.into_iter().take(1).collect(),
                    threshold: 1,
                };
                match sets.relayers.changes.last_mut() {
                    Some((_, last)) => *last = one,
                    None => sets.relayers.genesis = one,
                }
                borsh::to_vec(&sets).ok()
            }
            _ => None,
        };
        if let Some(bytes) = new {
            proof.value = Some(bytes);
            changed = true;
        }
    }
    if changed && let Ok(bytes) = serde_json::to_vec(&reply) {
        *answer = bytes;
    }
    changed
}

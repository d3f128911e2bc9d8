//! The node's HTTP API (axum).
//!
//! Public: `/health`, `/v1/node`, `/v1/head`, `/v1/blocks/{height}` (JSON) and
//! `/v1/blocks/{height}/raw` (canonical bytes), `/v1/headers/{height}`,
//! `/v1/certificates/{height}`, `/v1/stream/blocks?from=H` (server-sent events, one per
//! finalized block), `POST /v1/transactions`, `/v1/transactions/{hash}`,
//! `/v1/accounts/{key}`, `/v1/withdrawals?from&limit`, `/v1/governance`,
//! `/v1/validators?height=H`, `/v1/deposits/{hostchain}/{tx}/{index}`,
//! `/v1/proofs/commitment?from&to&height`, `POST /v1/state/proofs` (state entries with their
//! proofs against a finalized height's state root: what a reader that trusts no node uses;
//! the other state reads are conveniences for people).
//! Between validators: `POST /v1/consensus/proposal` and `POST /v1/consensus/commit` with
//! canonical bytes.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::Stream;
use serde::Deserialize;
use serde_json::json;

use symbiote::block::{Block, MAX_BLOCK_LEN};
use symbiote::codec::Canonical;
use symbiote::commitment::Commitment;
use symbiote::crypto::PublicKey;
use symbiote::hash::Hash;
use symbiote::tx::{DepositId, SignedTransaction};
use symbiote::types::{Height, HostTxId, HostchainId, Nonce};

use crate::chain::{Chain, ChainError, SubmitError, TxStatus};
use crate::consensus::{Consensus, ConsensusError};
use crate::peers::Peers;
use symbiote::block::ChainBlock;
use symbiote::wire::{
    AccountReply, Balance, CommitmentReply, CosignaturesReply, Cosigned, DepositReply,
    DepositsQuery, ErrorReply, GovernanceReply, HeadInfo, MAX_PAGE, NodeInfo, StateProofsQuery,
    StateProofsReply, SubmitReply, SubmitRequest, TxStatusReply, WithdrawalsQuery,
};

/// The most blocks one commitment proof request may span.
pub const MAX_COMMITMENT_BLOCKS: u64 = 100_000;
/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The ledger.
    pub chain: Arc<Chain>,
    /// The consensus engine, for messages from other validators.
    pub consensus: Arc<dyn Consensus>,
    /// Peers, to forward transactions to.
    pub peers: Peers,
    /// The symbiote's name.
    pub chain_name: String,
    /// This node's validator key.
    pub validator: Option<PublicKey>,
}

/// An error reply: a status and a message that names what is wrong.
pub struct ApiError(StatusCode, String);

impl ApiError {
    fn bad_request(message: impl Into<String>) -> Self {
        ApiError(StatusCode::BAD_REQUEST, message.into())
    }
    fn not_found(message: impl Into<String>) -> Self {
        ApiError(StatusCode::NOT_FOUND, message.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorReply { error: self.1 })).into_response()
    }
}

impl From<ChainError> for ApiError {
    fn from(e: ChainError) -> Self {
        match e {
            ChainError::Store(_)
            | ChainError::Task(_)
            | ChainError::State(symbiote::state::StateError::Storage(_)) => {
                ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
            ChainError::NotYetFinal { .. } => ApiError::not_found(e.to_string()),
            ChainError::TooManyEntries { .. }
            | ChainError::RepeatedEntry(_)
            | ChainError::ReplyTooLarge { .. } => ApiError::bad_request(e.to_string()),
            _ => ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        }
    }
}

impl From<symbiote::state::StateError> for ApiError {
    fn from(e: symbiote::state::StateError) -> Self {
        ChainError::State(e).into()
    }
}

impl From<ConsensusError> for ApiError {
    fn from(e: ConsensusError) -> Self {
        if e.is_retryable() {
            ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        } else {
            ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The router of the whole API.
pub fn router(state: AppState) -> Router {
    let consensus = Router::new()
        .route("/v1/consensus/proposal", post(consensus_proposal))
        .route("/v1/consensus/commit", post(consensus_commit))
        .layer(DefaultBodyLimit::max(MAX_BLOCK_LEN + 1024));
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/v1/node", get(node_info))
        .route("/v1/head", get(head))
        .route("/v1/blocks/{height}", get(block_json))
        .route("/v1/blocks/{height}/raw", get(block_raw))
        .route("/v1/headers/{height}", get(header))
        .route("/v1/certificates/{height}", get(certificate))
        .route("/v1/stream/blocks", get(stream_blocks))
        .route("/v1/transactions", post(submit))
        .route("/v1/transactions/{hash}", get(tx_status))
        .route("/v1/accounts/{key}", get(account))
        .route("/v1/withdrawals", get(withdrawals))
        .route("/v1/withdrawals/query", post(withdrawals_query))
        .route("/v1/governance", get(governance))
        .route("/v1/validators", get(validators))
        .route("/v1/deposits/{hostchain}/{tx}/{index}", get(deposit))
        .route("/v1/deposits/query", post(deposits_query))
        .route("/v1/cosignatures/{subject}", get(cosignatures))
        .route("/v1/proofs/commitment", get(commitment_proof))
        .route("/v1/state/proofs", post(state_proofs))
        .merge(consensus)
        .with_state(state)
}

async fn node_info(State(app): State<AppState>) -> Json<NodeInfo> {
    let head = app.chain.head().await;
    Json(NodeInfo {
        chain_name: app.chain_name.clone(),
        symbiote: head.symbiote,
        validator: app.validator,
        height: head.height,
        mempool: app.chain.mempool_len().await,
    })
}

async fn head(State(app): State<AppState>) -> Json<HeadInfo> {
    let header = app.chain.head().await;
    Json(HeadInfo {
        height: header.height,
        hash: header.hash(),
        header,
    })
}

async fn finalized(app: &AppState, height: u64) -> ApiResult<ChainBlock> {
    app.chain
        .block(Height::new(height))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no finalized block at height {height}")))
}

async fn block_json(
    State(app): State<AppState>,
    Path(height): Path<u64>,
) -> ApiResult<Json<ChainBlock>> {
    finalized(&app, height).await.map(Json)
}

async fn block_raw(State(app): State<AppState>, Path(height): Path<u64>) -> ApiResult<Response> {
    let bytes = app
        .chain
        .block_bytes(Height::new(height))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no finalized block at height {height}")))?;
    Ok(([("content-type", "application/octet-stream")], bytes).into_response())
}

async fn header(State(app): State<AppState>, Path(height): Path<u64>) -> ApiResult<Response> {
    let block = finalized(&app, height).await?;
    Ok(Json(block.block.header).into_response())
}

async fn certificate(State(app): State<AppState>, Path(height): Path<u64>) -> ApiResult<Response> {
    let block = finalized(&app, height).await?;
    Ok(Json(block.certificate).into_response())
}

#[derive(Deserialize)]
struct FromQuery {
    /// The first height to stream; default: the next block.
    from: Option<u64>,
}

/// Finalized blocks from `from` on, as server-sent events named `block` whose data is
/// `{"height", "hash", "block": hex of the canonical FinalizedBlock}`; past blocks first, then
/// each new one as it is finalized.
async fn stream_blocks(
    State(app): State<AppState>,
    Query(query): Query<FromQuery>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = app.chain.subscribe();
    let first = query
        .from
        .unwrap_or_else(|| receiver.borrow().get().saturating_add(1))
        .max(1);
    let stream = futures::stream::unfold(
        (app.chain.clone(), receiver, first),
        |(chain, mut receiver, next)| async move {
            loop {
                let head = *receiver.borrow_and_update();
                if head.get() >= next {
                    let bytes = chain.block_bytes(Height::new(next)).await.ok().flatten()?;
                    let block = ChainBlock::decode(&bytes).ok()?;
                    let data = json!({
                        "height": next,
                        "hash": block.block.header.hash(),
                        "block": hex::encode(&bytes),
                    });
                    let event = Event::default().event("block").data(data.to_string());
                    return Some((Ok(event), (chain, receiver, next.saturating_add(1))));
                }
                receiver.changed().await.ok()?;
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[derive(Deserialize)]
struct SubmitQuery {
    /// Set by a peer forwarding the transaction: do not forward it again.
    #[serde(default)]
    forwarded: bool,
}

async fn submit(
    State(app): State<AppState>,
    Query(query): Query<SubmitQuery>,
    Json(request): Json<SubmitRequest>,
) -> ApiResult<Json<SubmitReply>> {
    let bytes = hex::decode(request.tx.trim())
        .map_err(|e| ApiError::bad_request(format!("tx is not hex: {e}")))?;
    let tx = SignedTransaction::decode(&bytes).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let (hash, added) = app.chain.submit(tx.clone()).await.map_err(|e| match e {
        SubmitError::MempoolFull(_) | SubmitError::SenderFull { .. } => {
            ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
        SubmitError::State(e) => e.into(),
        SubmitError::Refused(_)
        | SubmitError::UnknownSender(_)
        | SubmitError::NonceTooFarAhead { .. } => ApiError::bad_request(e.to_string()),
    })?;
    if added && !query.forwarded {
        let peers = app.peers.clone();
        tokio::spawn(async move { peers.forward(&tx).await });
    }
    Ok(Json(SubmitReply { hash, added }))
}

async fn tx_status(
    State(app): State<AppState>,
    Path(hash): Path<String>,
) -> ApiResult<Json<TxStatusReply>> {
    let hash: Hash = hash
        .parse()
        .map_err(|e| ApiError::bad_request(format!("transaction hash: {e}")))?;
    Ok(Json(match app.chain.tx_status(&hash).await? {
        TxStatus::Pending => TxStatusReply::Pending,
        TxStatus::Included(height) => TxStatusReply::Included { height },
        TxStatus::Unknown => TxStatusReply::Unknown,
    }))
}

async fn account(
    State(app): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Json<AccountReply>> {
    let key: PublicKey = key
        .parse()
        .map_err(|e| ApiError::bad_request(format!("account key: {e}")))?;
    let account = app.chain.with_state(|s| s.account(&key)).await?;
    Ok(Json(AccountReply {
        key,
        nonce: account.nonce,
        balances: account
            .balances
            .into_iter()
            .map(|(asset, amount)| Balance { asset, amount })
            .collect(),
    }))
}

#[derive(Deserialize)]
struct PageQuery {
    from: Option<u64>,
    limit: Option<usize>,
}

async fn withdrawals(
    State(app): State<AppState>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Vec<symbiote::state::WithdrawalOrder>>> {
    let from = Nonce::new(page.from.unwrap_or(1));
    let limit = page.limit.unwrap_or(100).min(MAX_PAGE);
    Ok(Json(
        app.chain.with_state(|s| s.withdrawals(from, limit)).await?,
    ))
}

async fn governance(State(app): State<AppState>) -> ApiResult<Json<GovernanceReply>> {
    let reply = app
        .chain
        .with_state(|s| {
            let sets = s.set_history();
            Ok::<_, symbiote::state::StateError>(GovernanceReply {
                height: s.height(),
                hostchains: sets.hostchains.clone(),
                relayers: sets.relayers.clone(),
                validators: sets.validators.clone(),
                proposals: governance_proposals(s)?,
            })
        })
        .await?;
    Ok(Json(reply))
}

/// The proposals still open or waiting for their activation, and the newest others: at most
/// [`MAX_PAGE`] besides the open ones, oldest first.
fn governance_proposals(
    state: &symbiote::state::ChainState,
) -> Result<Vec<symbiote::state::Proposal>, symbiote::state::StateError> {
    let next = state.meta().next_proposal.0;
    let newest = next.saturating_sub(MAX_PAGE as u64).max(1);
    let mut ids: std::collections::BTreeSet<u64> = (newest..next).collect();
    ids.extend(state.meta().open_proposals.iter().map(|id| id.0));
    let mut proposals = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(proposal) = state.proposal(symbiote::tx::ProposalId(id))? {
            proposals.push(proposal);
        }
    }
    Ok(proposals)
}

#[derive(Deserialize)]
struct HeightQuery {
    height: u64,
}

async fn validators(
    State(app): State<AppState>,
    Query(q): Query<HeightQuery>,
) -> ApiResult<Response> {
    let height = Height::new(q.height);
    let set = app
        .chain
        .with_state(|s| {
            // Known for every height up to the next block; later sets may still change.
            (height <= s.height().next().unwrap_or(s.height()))
                .then(|| s.set_history().validators_at(height).clone())
        })
        .await
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "the validator set of height {height} is not known yet"
            ))
        })?;
    Ok(Json(set).into_response())
}

async fn deposit(
    State(app): State<AppState>,
    Path((hostchain, tx, index)): Path<(String, String, u32)>,
) -> ApiResult<Json<DepositReply>> {
    let id = DepositId {
        hostchain: HostchainId::new(&hostchain)
            .map_err(|e| ApiError::bad_request(e.to_string()))?,
        tx: HostTxId::new(&tx).map_err(|e| ApiError::bad_request(e.to_string()))?,
        index,
    };
    Ok(Json(app.chain.with_state(|s| deposit_reply(s, &id)).await?))
}

fn deposit_reply(
    state: &symbiote::state::ChainState,
    id: &DepositId,
) -> Result<DepositReply, symbiote::state::StateError> {
    Ok(DepositReply {
        minted: state.is_minted(id)?,
        pending: state.pending_mint(id)?,
    })
}

fn check_query_len(len: usize) -> Result<(), ApiError> {
    if len > MAX_PAGE {
        return Err(ApiError::bad_request(format!(
            "{len} entries asked at once; at most {MAX_PAGE}"
        )));
    }
    Ok(())
}

/// `POST /v1/deposits/query`: the state of several deposits at once, in the order asked.
async fn deposits_query(
    State(app): State<AppState>,
    Json(query): Json<DepositsQuery>,
) -> ApiResult<Json<Vec<DepositReply>>> {
    check_query_len(query.ids.len())?;
    Ok(Json(
        app.chain
            .with_state(|s| {
                query
                    .ids
                    .iter()
                    .map(|id| deposit_reply(s, id))
                    .collect::<Result<_, _>>()
            })
            .await?,
    ))
}

/// `POST /v1/withdrawals/query`: the withdrawal orders with these nonces (those that exist),
/// by nonce.
async fn withdrawals_query(
    State(app): State<AppState>,
    Json(query): Json<WithdrawalsQuery>,
) -> ApiResult<Json<Vec<symbiote::state::WithdrawalOrder>>> {
    check_query_len(query.nonces.len())?;
    let mut nonces = query.nonces;
    nonces.sort();
    nonces.dedup();
    Ok(Json(
        app.chain
            .with_state(|s| {
                nonces
                    .iter()
                    .filter_map(|n| s.withdrawal(*n).transpose())
                    .collect::<Result<_, _>>()
            })
            .await?,
    ))
}

async fn cosignatures(
    State(app): State<AppState>,
    Path(subject): Path<String>,
) -> ApiResult<Json<CosignaturesReply>> {
    let subject: Hash = subject
        .trim_start_matches("0x")
        .parse()
        .map_err(|e| ApiError::bad_request(format!("subject: {e}")))?;
    let signatures = app.chain.with_state(|s| s.cosignatures(&subject)).await?;
    Ok(Json(CosignaturesReply {
        subject,
        signatures: signatures
            .into_iter()
            .map(|(relayer, signature)| Cosigned { relayer, signature })
            .collect(),
    }))
}

#[derive(Deserialize)]
struct CommitmentQuery {
    from: u64,
    to: u64,
    height: u64,
}

async fn commitment_proof(
    State(app): State<AppState>,
    Query(q): Query<CommitmentQuery>,
) -> ApiResult<Json<CommitmentReply>> {
    let head = app.chain.head().await.height.get();
    if q.from == 0 || q.from > q.to || q.to > head || q.height < q.from || q.height > q.to {
        return Err(ApiError::bad_request(format!(
            "need 1 <= from <= height <= to <= {head} (the finalized head), got from={} height={} to={}",
            q.from, q.height, q.to
        )));
    }
    if q.to - q.from >= MAX_COMMITMENT_BLOCKS {
        return Err(ApiError::bad_request(format!(
            "a commitment spans at most {MAX_COMMITMENT_BLOCKS} blocks"
        )));
    }
    let (from, to) = (Height::new(q.from), Height::new(q.to));
    let hashes = app
        .chain
        .store()
        .block_hashes(from, to)
        .await
        .map_err(ChainError::from)?;
    let last = finalized(&app, q.to).await?;
    let header = &last.block.header;
    let commitment = Commitment::build(
        header.symbiote,
        from,
        &hashes,
        header.validator_set_hash,
        last.certificate.clone(),
    )
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let block = commitment
        .prove_block(&hashes, Height::new(q.height))
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(CommitmentReply { commitment, block }))
}

/// `POST /v1/state/proofs`: entries of a finalized height's state with their proofs.
async fn state_proofs(
    State(app): State<AppState>,
    Json(query): Json<StateProofsQuery>,
) -> ApiResult<Json<StateProofsReply>> {
    let (header, proofs) = app.chain.prove(query.height, query.keys).await?;
    Ok(Json(StateProofsReply {
        height: header.height,
        state_root: header.state_root,
        proofs,
    }))
}

async fn consensus_proposal(State(app): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let block = Block::<SignedTransaction>::decode(&body)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let vote = app.consensus.on_proposal(block).await?;
    Ok(Json(vote).into_response())
}

async fn consensus_commit(State(app): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let block = ChainBlock::decode(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    // In a task of its own: a caller that gives up (its request timed out) must not cancel a
    // commit halfway, between the database and the node's memory.
    let consensus = app.consensus.clone();
    tokio::spawn(async move { consensus.on_commit(block).await })
        .await
        .map_err(|e| {
            ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("commit task: {e}"),
            )
        })??;
    Ok(StatusCode::NO_CONTENT.into_response())
}

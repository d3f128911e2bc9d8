//! The relayer's HTTP API (axum): `/health`, `/ready`, `/metrics`, `/v1/status`,
//! `/v1/batches[/{id}]`, `/v1/anchors[/{id}]` (each with its status history),
//! `/v1/proofs/{height}`, `/v1/replicas` (which replica runs which stage), and
//! `POST /v1/commitments` (foreign commitments; admin token).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use symbiote::client::NodeClient;
use symbiote::codec::Canonical;
use symbiote::commitment::Commitment;
use symbiote::secret::Secret;
use symbiote::types::{HostchainId, SymbioteId};

use crate::leader::{Leases, RoleState};
use crate::metrics::{ChainLabels, Metrics};
use crate::proof;
use crate::store::{AnchorId, AnchorState, BatchId, Entity, Store, StoreError, now_ms};

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub node: NodeClient,
    pub symbiote: SymbioteId,
    pub metrics: Metrics,
    /// Configured hostchains: (id, kind).
    pub hostchains: Arc<Vec<(HostchainId, String)>>,
    /// Token required by admin calls; `None`: admin calls are refused.
    pub admin_token: Option<Arc<Secret>>,
    /// This replica's leases: which stages it runs.
    pub leases: Leases,
    /// The hostchain adapters, by hostchain id (for what the hostchains' contracts hold).
    pub adapters: Arc<crate::config::Adapters>,
    /// `/ready` fails while the last verified block is older than this.
    pub max_head_age: Option<std::time::Duration>,
}

/// An error reply with a message that names what is wrong.
pub struct ApiError(StatusCode, String);

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError(status, message.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Whether `given` equals `secret`, in a time that does not depend on where they differ.
fn same_secret(given: &[u8], secret: &[u8]) -> bool {
    let mut differ = u8::from(given.len() != secret.len());
    for (i, s) in secret.iter().enumerate() {
        differ |= given.get(i).copied().unwrap_or(!s) ^ s;
    }
    differ == 0
}

/// The router.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/v1/status", get(status))
        .route("/v1/batches", get(batches))
        .route("/v1/batches/{id}", get(batch))
        .route("/v1/anchors", get(anchors))
        .route("/v1/anchors/{id}", get(anchor))
        .route("/v1/proofs/{height}", get(proof_of))
        .route("/v1/replicas", get(replicas))
        .route("/v1/governance", get(governance))
        .route("/v1/commitments", post(submit_commitment))
        .merge(crate::bridge::api::routes())
        .with_state(state)
}

async fn ready(State(app): State<ApiState>) -> Response {
    let store = app.store.ping().await;
    let node = app.node.head().await.is_ok();
    // A node caught answering falsely keeps the relayer from being ready until it answers
    // truly again.
    let honest = !app.metrics.node_lying();
    // The age of the last verified block: a stalled chain, or a node hiding newer blocks.
    let age_ms = match app.store.follower_state().await {
        Ok(Some((header, _))) => Some(
            crate::store::now_ms()
                .saturating_sub(i64::try_from(header.timestamp.get()).unwrap_or(i64::MAX)),
        ),
        _ => None,
    };
    let fresh = match (app.max_head_age, age_ms) {
        (Some(max), Some(age)) => age <= i64::try_from(max.as_millis()).unwrap_or(i64::MAX),
        _ => true,
    };
    let status = if store && node && honest && fresh {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "store": store,
            "symbiote_node": node,
            "symbiote_node_honest": honest,
            "verified_head_age_ms": age_ms,
            "verified_head_fresh": fresh,
        })),
    )
        .into_response()
}

/// Refreshes the gauges that mirror the store.
async fn refresh(app: &ApiState) -> Result<(), StoreError> {
    let followed = app.store.head_height().await?;
    app.metrics
        .followed_height
        .set(i64::try_from(followed).unwrap_or(i64::MAX));
    app.metrics
        .batches
        .set(i64::try_from(app.store.batch_count().await?).unwrap_or(i64::MAX));
    for (hostchain, _) in app.hostchains.iter() {
        for state in AnchorState::ALL {
            Metrics::set_count(&app.metrics.anchors, hostchain, state.as_str(), 0);
        }
        let covered = app.store.final_height(hostchain).await?;
        app.metrics
            .confirmation_lag_blocks
            .get_or_create(&ChainLabels {
                hostchain: hostchain.to_string(),
            })
            .set(i64::try_from(followed.saturating_sub(covered)).unwrap_or(i64::MAX));
    }
    for (hostchain, state, n) in app.store.deposit_counts().await? {
        Metrics::set_count(&app.metrics.deposits, &hostchain, state.as_str(), n);
    }
    for (hostchain, state, n) in app.store.release_counts().await? {
        Metrics::set_count(&app.metrics.releases, &hostchain, state.as_str(), n);
    }
    for (hostchain, state, n) in app.store.anchor_counts().await? {
        Metrics::set_count(&app.metrics.anchors, &hostchain, state.as_str(), n);
    }
    Ok(())
}

async fn metrics(State(app): State<ApiState>) -> ApiResult<Response> {
    refresh(&app).await?;
    Ok((
        [("content-type", crate::metrics::CONTENT_TYPE)],
        app.metrics.render(),
    )
        .into_response())
}

/// The summary shown by `/v1/status` and `relayer status`.
pub async fn summary(
    store: &Store,
    symbiote: SymbioteId,
    hostchains: &[(HostchainId, String)],
) -> Result<Value, StoreError> {
    let followed = store.head_height().await?;
    let counts = store.anchor_counts().await?;
    let mut chains = Vec::new();
    for (id, kind) in hostchains {
        let states: serde_json::Map<String, Value> = counts
            .iter()
            .filter(|(h, _, _)| h == id)
            .map(|(_, s, n)| (s.to_string(), json!(n)))
            .collect();
        let covered = store.final_height(id).await?;
        chains.push(json!({
            "hostchain": id,
            "kind": kind,
            "anchored_through_height": covered,
            "lag_blocks": followed.saturating_sub(covered),
            "anchors": states,
        }));
    }
    Ok(json!({
        "symbiote": symbiote,
        "followed_height": followed,
        "batched_height": store.last_batched_height().await?,
        "batches": store.batch_count().await?,
        "hostchains": chains,
        "workers": workers(store).await?,
        "bridge": crate::bridge::api::summary(store).await?,
    }))
}

/// Which replica runs each stage, as recorded in the store (by the holders of the stages'
/// locks), with the age of each holder's last lease check by this process's clock.
async fn workers(store: &Store) -> Result<Vec<Value>, StoreError> {
    let now = now_ms();
    Ok(store
        .workers()
        .await?
        .into_iter()
        .map(|w| {
            json!({
                "role": w.role,
                "replica": w.replica,
                "active_since": w.since,
                "heartbeat": w.heartbeat,
                "heartbeat_age_ms": now.saturating_sub(w.heartbeat),
            })
        })
        .collect())
}

/// The sets in force on the symbiote and the changes scheduled, with the relayer set each
/// hostchain contract holds (which a rotation brings in line with the symbiote's).
async fn governance(State(app): State<ApiState>) -> ApiResult<Json<Value>> {
    let summary = app
        .node
        .governance()
        .await
        .map_err(|e| ApiError(StatusCode::BAD_GATEWAY, format!("symbiote node: {e}")))?
        .summary();
    let mut contracts = serde_json::Map::new();
    for (hostchain, adapter) in app.adapters.iter() {
        if let Some(sets) = adapter.relayer_sets() {
            contracts.insert(
                hostchain.to_string(),
                match sets.contract_relayers().await {
                    Ok(list) => json!(list),
                    Err(e) => json!({"error": e.to_string()}),
                },
            );
        }
    }
    Ok(Json(json!({"symbiote": summary, "contracts": contracts})))
}

/// This replica's own view of its roles: the truth about whether its stages run.
fn own_roles(leases: &Leases) -> Vec<Value> {
    leases
        .roles()
        .into_iter()
        .map(|(role, state)| match state {
            RoleState::Active { since } => {
                json!({"role": role, "state": "active", "active_since": since})
            }
            RoleState::Standby => json!({"role": role, "state": "standby"}),
        })
        .collect()
}

async fn status(State(app): State<ApiState>) -> ApiResult<Json<Value>> {
    let mut summary = summary(&app.store, app.symbiote, &app.hostchains).await?;
    if let Value::Object(fields) = &mut summary {
        fields.insert("replica".into(), json!(app.leases.replica()));
        fields.insert("roles".into(), json!(own_roles(&app.leases)));
    }
    Ok(Json(summary))
}

/// `/v1/replicas`: this replica and its roles (from its own leases), the replica recorded for
/// every role, and every replica recorded as running (active or standing by).
async fn replicas(State(app): State<ApiState>) -> ApiResult<Json<Value>> {
    let now = now_ms();
    let workers = workers(&app.store).await?;
    let replicas: Vec<Value> = app
        .store
        .replicas()
        .await?
        .into_iter()
        .map(|r| {
            let active: Vec<&Value> = workers
                .iter()
                .filter(|w| w["replica"] == r.replica.as_str())
                .map(|w| &w["role"])
                .collect();
            json!({
                "replica": r.replica,
                "started_at": r.started_at,
                "heartbeat": r.heartbeat,
                "heartbeat_age_ms": now.saturating_sub(r.heartbeat),
                "active_roles": active,
            })
        })
        .collect();
    Ok(Json(json!({
        "replica": app.leases.replica(),
        "election": if app.leases.elected() { "postgres_advisory_locks" } else { "single_process" },
        "lease_check_ms": app.leases.check().as_millis(),
        "roles": own_roles(&app.leases),
        "workers": workers,
        "replicas": replicas,
    })))
}

#[derive(Deserialize)]
struct Page {
    limit: Option<i64>,
    offset: Option<i64>,
    batch: Option<i64>,
}

/// Parses a numeric id from a path: a clear 400 otherwise.
fn path_id(what: &str, text: &str) -> ApiResult<i64> {
    text.parse::<i64>().map_err(|_| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("'{text}' is not a {what} id"),
        )
    })
}

impl Page {
    /// The page's size: 50 unless asked, at most 500.
    fn size(&self) -> i64 {
        self.limit.unwrap_or(50).clamp(1, 500)
    }
}

async fn batches(State(app): State<ApiState>, Query(page): Query<Page>) -> ApiResult<Json<Value>> {
    let offset = page.offset.unwrap_or(0).max(0);
    Ok(Json(json!(app.store.batches(page.size(), offset).await?)))
}

async fn batch(State(app): State<ApiState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = BatchId(path_id("batch", &id)?);
    let row = app
        .store
        .batch(id)
        .await?
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no batch {id}")))?;
    let anchors = app.store.anchors(Some(id), 100).await?;
    let history = app.store.transitions(Entity::Batch, id.0).await?;
    let aggregate = app
        .store
        .batch_contents(id)
        .await?
        .map(|(_, aggregate)| aggregate.commitments)
        .unwrap_or_default();
    Ok(Json(json!({
        "batch": row,
        "aggregate": aggregate,
        "anchors": anchors,
        "history": history,
    })))
}

async fn anchors(State(app): State<ApiState>, Query(page): Query<Page>) -> ApiResult<Json<Value>> {
    let batch = page.batch.map(BatchId);
    Ok(Json(json!(app.store.anchors(batch, page.size()).await?)))
}

async fn anchor(State(app): State<ApiState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = AnchorId(path_id("anchor", &id)?);
    let row = app
        .store
        .anchor(id)
        .await?
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no anchor {id}")))?;
    let txs: Vec<String> = app
        .store
        .anchor_txs(&row)
        .await?
        .into_iter()
        .map(|t| t.tx.id)
        .collect();
    let history = app.store.transitions(Entity::Anchor, id.0).await?;
    Ok(Json(
        json!({"anchor": row, "transactions": txs, "history": history}),
    ))
}

async fn proof_of(State(app): State<ApiState>, Path(height): Path<u64>) -> ApiResult<Json<Value>> {
    match proof::build(&app.store, &app.node, app.symbiote, height).await {
        Ok(doc) => Ok(Json(json!(doc))),
        Err(e @ (proof::BuildError::NotBatched(_) | proof::BuildError::NotAnchored(_))) => {
            Err(ApiError(StatusCode::NOT_FOUND, e.to_string()))
        }
        Err(e) => Err(ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

#[derive(Deserialize)]
struct CommitmentBody {
    /// Hex of the canonical encoding of a foreign symbiote's commitment.
    commitment: String,
}

async fn submit_commitment(
    State(app): State<ApiState>,
    headers: HeaderMap,
    Json(body): Json<CommitmentBody>,
) -> ApiResult<Json<Value>> {
    let Some(token) = &app.admin_token else {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "admin calls are disabled: no admin token configured".into(),
        ));
    };
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|given| !given.is_empty());
    if !given.is_some_and(|given| same_secret(given.as_bytes(), token.expose().as_bytes())) {
        return Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "missing or wrong admin token".into(),
        ));
    }
    let bytes = hex::decode(body.commitment.trim()).map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("commitment is not hex: {e}"),
        )
    })?;
    let commitment =
        Commitment::decode(&bytes).map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))?;
    commitment
        .check_consistency()
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))?;
    if commitment.symbiote == app.symbiote {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "that is this relayer's own symbiote".into(),
        ));
    }
    let added = app.store.add_foreign(&commitment).await?;
    Ok(Json(json!({"hash": commitment.hash(), "added": added})))
}

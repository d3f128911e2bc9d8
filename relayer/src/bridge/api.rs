//! The bridge's part of the HTTP API: `/v1/deposits` (`?state=unroutable` lists deposits to
//! refund), `/v1/releases[/{nonce}]` (with the transition history and the scout report),
//! `/v1/holds` (held releases with their signed reports), `/v1/queued` (releases waiting for
//! the release limits) and `/v1/reports/{hash}` (a report's canonical bytes, as signed).

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use symbiote::hash::Hash;
use symbiote::types::{HostchainId, Nonce};

use crate::api::{ApiError, ApiState};
use crate::store::{DepositState, ReleaseRow, ReleaseStep, Store, StoreError};

/// The bridge's routes.
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/deposits", get(deposits))
        .route("/v1/releases", get(releases))
        .route("/v1/releases/{nonce}", get(release))
        .route("/v1/holds", get(holds))
        .route("/v1/queued", get(queued))
        .route("/v1/reports/{hash}", get(report))
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

impl ListQuery {
    fn page(&self) -> (i64, i64) {
        (
            self.limit.unwrap_or(100).clamp(1, 1_000),
            self.offset.unwrap_or(0).max(0),
        )
    }
}

fn bad(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

async fn deposits(
    State(app): State<ApiState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    // An unknown state is named with the known ones.
    let state = q
        .state
        .as_deref()
        .map(DepositState::parse)
        .transpose()
        .map_err(bad)?;
    let (limit, offset) = q.page();
    Ok(Json(json!(app.store.deposits(state, limit, offset).await?)))
}

fn parse_steps(text: Option<&str>) -> Result<Vec<ReleaseStep>, ApiError> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(|s| ReleaseStep::parse(s.trim()).map_err(bad))
        .collect()
}

async fn releases(
    State(app): State<ApiState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let states = parse_steps(q.state.as_deref())?;
    let (limit, offset) = q.page();
    Ok(Json(json!(
        app.store.releases(&states, limit, offset).await?
    )))
}

/// A release with its history and report.
async fn detail(store: &Store, row: ReleaseRow) -> Result<Value, StoreError> {
    let history = store.release_history(row.nonce).await?;
    let report_batch = match &row.report_hash {
        Some(hash) => store.report_batch(hash).await?,
        None => None,
    };
    let report = match &row.report_hash {
        Some(hash) => store
            .report(hash)
            .await?
            .and_then(|r| serde_json::from_str::<Value>(&r.report).ok()),
        None => None,
    };
    Ok(json!({
        "release": row,
        "history": history,
        "report": report,
        "report_batch": report_batch,
    }))
}

async fn release(
    State(app): State<ApiState>,
    Path(nonce): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let nonce: u64 = nonce
        .parse()
        .map_err(|_| bad(format!("'{nonce}' is not a withdrawal order nonce")))?;
    let row = app
        .store
        .release(Nonce::new(nonce))
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no release {nonce}")))?;
    Ok(Json(detail(&app.store, row).await?))
}

async fn listed(app: &ApiState, states: &[ReleaseStep]) -> Result<Json<Value>, ApiError> {
    let mut out = Vec::new();
    for row in app.store.releases(states, 1_000, 0).await? {
        out.push(detail(&app.store, row).await?);
    }
    Ok(Json(json!(out)))
}

async fn holds(State(app): State<ApiState>) -> Result<Json<Value>, ApiError> {
    listed(&app, &[ReleaseStep::Holding, ReleaseStep::Held]).await
}

async fn queued(State(app): State<ApiState>) -> Result<Json<Value>, ApiError> {
    listed(&app, &[ReleaseStep::Queued, ReleaseStep::QueuedOnChain]).await
}

async fn report(
    State(app): State<ApiState>,
    Path(hash): Path<String>,
) -> Result<Response, ApiError> {
    let hash: Hash = hash
        .trim_start_matches("0x")
        .parse()
        .map_err(|e| bad(format!("'{hash}' is not a report hash: {e}")))?;
    let row = app
        .store
        .report(&hash)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no report {hash}")))?;
    Ok(([("content-type", "application/json")], row.report).into_response())
}

/// The bridge's part of the status summary.
pub async fn summary(store: &Store) -> Result<Value, StoreError> {
    fn group<S: std::fmt::Display>(counts: Vec<(HostchainId, S, u64)>) -> Value {
        let mut out = serde_json::Map::new();
        for (hostchain, state, n) in counts {
            let entry = out
                .entry(hostchain.to_string())
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            if let Value::Object(map) = entry {
                map.insert(state.to_string(), json!(n));
            }
        }
        Value::Object(out)
    }
    Ok(json!({
        "deposits": group(store.deposit_counts().await?),
        "releases": group(store.release_counts().await?),
    }))
}

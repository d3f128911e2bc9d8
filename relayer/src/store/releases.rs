//! Releases of the symbiote's withdrawal orders (`releases`), by the order's nonce, driven
//! through [`ReleaseStep`] by the release stage. Their transactions are in `host_txs`.

use chain_adapters::PreparedTx;
use serde::{Deserialize, Serialize};
use symbiote::crypto::PublicKey;
use symbiote::hash::Hash;
use symbiote::state::WithdrawalOrder;
use symbiote::types::{Amount, Height, HostAddress, HostchainId, Nonce, TokenId};

use super::host_txs::{self, StoredTx, TxPurpose};
use super::states::{Entity, ReleaseStep, ScoutDecision};
use super::transitions::{Change, Transition};
use super::{Cells, Store, StoreError, int, now_ms};

/// One release as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRow {
    pub nonce: Nonce,
    pub hostchain: HostchainId,
    pub token: TokenId,
    pub amount: Amount,
    pub destination: HostAddress,
    pub burner: PublicKey,
    pub order_height: Height,
    pub state: ReleaseStep,
    /// Why it is approved or held; `None` until scouted.
    #[serde(rename = "verdict")]
    pub decision: Option<ScoutDecision>,
    /// This relayer's scout report on the destination; `None` until scouted, or when governance
    /// lifted a hold before.
    pub report_hash: Option<Hash>,
    /// Unix seconds from which a queued release may be paid.
    pub release_after: Option<i64>,
    pub tx_id: Option<String>,
    pub last_error: Option<String>,
    pub attempts: u64,
    pub next_attempt_at: i64,
    /// When this relayer first saw a threshold of approvals (ms).
    pub ready_since: Option<i64>,
    pub released_at: Option<i64>,
    pub state_since: i64,
    pub created_at: i64,
}

impl ReleaseRow {
    /// The same release in `state`.
    pub fn with_state(&self, state: ReleaseStep) -> ReleaseRow {
        ReleaseRow {
            state,
            ..self.clone()
        }
    }
}

const COLUMNS: &str = "nonce, hostchain, token, amount, destination, burner, \
     order_height, state, verdict, report_hash, release_after, tx_id, last_error, attempts, \
     next_attempt_at, ready_since, released_at, state_since, created_at";

impl Store {
    /// Records a withdrawal order of the symbiote to be released (once; later calls change
    /// nothing). Returns whether it was new.
    pub async fn add_release(&self, order: &WithdrawalOrder) -> Result<bool, StoreError> {
        let now = now_ms();
        let nonce = int("release nonce", order.nonce.get())?;
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query(
            "INSERT INTO releases (nonce, hostchain, token, amount, destination, burner, \
             order_height, state, state_since, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (nonce) DO NOTHING",
        )
        .bind(nonce)
        .bind(order.hostchain.as_str())
        .bind(order.token.as_str())
        .bind(order.amount.to_string())
        .bind(order.destination.as_str())
        .bind(order.burner.to_string())
        .bind(int("order height", order.height.get())?)
        .bind(ReleaseStep::Scouting.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let added = result.rows_affected() == 1;
        if added {
            let change = Change::new(Entity::Release, nonce, None, ReleaseStep::Scouting);
            let reason = format!("withdrawal order of block {}", order.height);
            change.record(&mut tx, &reason, now).await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// One release.
    pub async fn release(&self, nonce: Nonce) -> Result<Option<ReleaseRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM releases WHERE nonce = $1");
        let query = sqlx::query(&sql).bind(int("release nonce", nonce.get())?);
        self.first_with(("releases", "nonce"), query, |c| c.read())
            .await
    }

    /// The releases of `hostchain` still in progress, oldest first.
    pub async fn open_releases(
        &self,
        hostchain: &HostchainId,
    ) -> Result<Vec<ReleaseRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM releases WHERE hostchain = $1 \
             AND state NOT IN ($2, $3, $4) ORDER BY nonce"
        );
        let query = sqlx::query(&sql)
            .bind(hostchain.as_str())
            .bind(ReleaseStep::Released.as_str())
            .bind(ReleaseStep::Refunded.as_str())
            .bind(ReleaseStep::Failed.as_str());
        self.rows_with("releases", "nonce", query, |c| c.read())
            .await
    }

    /// Releases, newest first, optionally in some states.
    pub async fn releases(
        &self,
        states: &[ReleaseStep],
        limit: i64,
        offset: i64,
    ) -> Result<Vec<ReleaseRow>, StoreError> {
        let filter = if states.is_empty() {
            String::new()
        } else {
            // The states are this enum's own constants, never user text.
            let list: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
            format!("WHERE state IN ({})", list.join(", "))
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM releases {filter} ORDER BY nonce DESC LIMIT $1 OFFSET $2"
        );
        let query = sqlx::query(&sql).bind(limit).bind(offset);
        self.rows_with("releases", "nonce", query, |c| c.read())
            .await
    }

    /// Writes `next` over `current` (only if the stored row is still in `current.state`),
    /// recording the transition when the state changes. Returns whether it was written.
    pub async fn save_release(
        &self,
        current: &ReleaseRow,
        next: &ReleaseRow,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let written = save_in(&mut tx, current, next, reason, now_ms()).await?;
        tx.commit().await?;
        Ok(written)
    }

    /// Stores a transaction prepared for a release (for `purpose`: the release, or the payment
    /// of a queued one) and moves the release to `next` (which names it), atomically: the
    /// transaction is stored before it is sent.
    pub async fn record_release_tx(
        &self,
        current: &ReleaseRow,
        next: &ReleaseRow,
        purpose: &TxPurpose,
        prepared: &PreparedTx,
        reason: &str,
    ) -> Result<(), StoreError> {
        // One time for both: the release's state_since is never after its transaction's.
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        host_txs::insert(&mut tx, purpose, prepared, now).await?;
        if !save_in(&mut tx, current, next, reason, now).await? {
            return Err(StoreError::Conflict(format!(
                "release {} changed while its transaction was stored",
                current.nonce
            )));
        }
        if current.state == next.state {
            // A replacement: the state stays, the history still says why.
            let nonce = int("release nonce", current.nonce.get())?;
            let change = Change::new(Entity::Release, nonce, Some(current.state), next.state);
            change.record(&mut tx, reason, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The transactions prepared for a release on `hostchain` (not the payments of a queued
    /// one), newest first.
    pub async fn release_txs(
        &self,
        hostchain: &HostchainId,
        nonce: Nonce,
    ) -> Result<Vec<StoredTx>, StoreError> {
        self.host_txs(hostchain, &TxPurpose::Release(nonce)).await
    }

    /// What this relayer released of `token` on `hostchain` since `since_ms`, for the release
    /// limits it enforces itself.
    pub async fn released_since(
        &self,
        hostchain: &HostchainId,
        token: &TokenId,
        since_ms: i64,
    ) -> Result<Amount, StoreError> {
        let rows = sqlx::query(
            "SELECT nonce, amount FROM releases WHERE hostchain = $1 AND token = $2 \
             AND released_at IS NOT NULL AND released_at >= $3",
        )
        .bind(hostchain.as_str())
        .bind(token.as_str())
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        let mut total = Amount::ZERO;
        for r in &rows {
            let amount: Amount = Cells::new(r, "releases", "nonce").parsed("amount")?;
            total = total.checked_add(amount).unwrap_or(Amount::new(u128::MAX));
        }
        Ok(total)
    }

    /// Every state change of a release, oldest first.
    pub async fn release_history(&self, nonce: Nonce) -> Result<Vec<Transition>, StoreError> {
        self.transitions(Entity::Release, int("release nonce", nonce.get())?)
            .await
    }

    /// Release counts by (hostchain, state).
    pub async fn release_counts(&self) -> Result<Vec<(HostchainId, ReleaseStep, u64)>, StoreError> {
        self.state_counts("releases", ReleaseStep::parse).await
    }
}

async fn save_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    current: &ReleaseRow,
    next: &ReleaseRow,
    reason: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = current.state != next.state;
    let since = if changed { now } else { current.state_since };
    let nonce = int("release nonce", current.nonce.get())?;
    let result = sqlx::query(
        "UPDATE releases SET state = $1, verdict = $2, report_hash = $3, \
         release_after = $4, tx_id = $5, last_error = $6, attempts = $7, \
         next_attempt_at = $8, ready_since = $9, released_at = $10, state_since = $11 \
         WHERE nonce = $12 AND state = $13",
    )
    .bind(next.state.as_str())
    .bind(next.decision.map(ScoutDecision::as_str))
    .bind(next.report_hash.map(|h| h.to_string()))
    .bind(next.release_after)
    .bind(next.tx_id.as_deref())
    .bind(next.last_error.as_deref())
    .bind(int("attempts", next.attempts)?)
    .bind(next.next_attempt_at)
    .bind(next.ready_since)
    .bind(next.released_at)
    .bind(since)
    .bind(nonce)
    .bind(current.state.as_str())
    .execute(&mut **tx)
    .await?;
    let written = result.rows_affected() == 1;
    if written && changed {
        let change = Change::new(Entity::Release, nonce, Some(current.state), next.state);
        change.record(tx, reason, now).await?;
    }
    Ok(written)
}

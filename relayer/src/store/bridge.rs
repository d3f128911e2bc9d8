//! The bridge's tables: deposits and their scan cursors, releases of withdrawal orders with
//! their transactions, and scout reports (`migrations/relayer/*/0004_bridge.sql`).
//!
//! Persisted states: `deposits.state` holds [`DepositState::as_str`] and `releases.state`
//! holds [`ReleaseStep::as_str`]. Renaming a state breaks stored data.

use chain_adapters::{ObservedDeposit, PreparedTx};
use serde::Serialize;
use sqlx::Row;
use symbiote::crypto::PublicKey;
use symbiote::state::WithdrawalOrder;
use symbiote::tx::{Deposit, DepositId};
use symbiote::types::{Amount, HostTxId, HostchainId, Nonce, TokenId};

use super::{Store, StoreError, Transition, int, now_ms, record, uint};

/// Where a deposit stands. Persisted: see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DepositState {
    /// Past its depth on the hostchain; this relayer has not attested it yet.
    Seen,
    /// This relayer's attestation is on the symbiote; waiting for the others.
    Attested,
    /// Minted on the symbiote: done.
    Minted,
    /// It names no valid symbiote account: kept for a refund.
    Unroutable,
}

impl DepositState {
    pub const ALL: [DepositState; 4] = [
        DepositState::Seen,
        DepositState::Attested,
        DepositState::Minted,
        DepositState::Unroutable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DepositState::Seen => "seen",
            DepositState::Attested => "attested",
            DepositState::Minted => "minted",
            DepositState::Unroutable => "unroutable",
        }
    }

    pub fn parse(text: &str) -> Result<Self, StoreError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown deposit state '{text}'")))
    }
}

/// One deposit as stored.
#[derive(Clone, Debug, Serialize)]
pub struct DepositRow {
    pub id: i64,
    pub hostchain: String,
    pub tx: String,
    pub event_index: u32,
    pub token: String,
    pub amount: Amount,
    pub recipient: Option<PublicKey>,
    pub raw_recipient: String,
    pub depositor: String,
    pub block: u64,
    pub state: DepositState,
    pub attest_tx: Option<String>,
    pub seen_at: i64,
    pub state_since: i64,
}

impl DepositRow {
    /// The deposit's identity on the symbiote.
    pub fn deposit_id(&self) -> Result<DepositId, StoreError> {
        Ok(DepositId {
            hostchain: HostchainId::new(&self.hostchain).map_err(corrupt)?,
            tx: HostTxId::new(&self.tx).map_err(corrupt)?,
            index: self.event_index,
        })
    }

    /// The deposit to attest; `None` when it is unroutable.
    pub fn deposit(&self) -> Result<Option<Deposit>, StoreError> {
        let Some(recipient) = self.recipient else {
            return Ok(None);
        };
        Ok(Some(Deposit {
            id: self.deposit_id()?,
            token: TokenId::new(&self.token).map_err(corrupt)?,
            amount: self.amount,
            recipient,
        }))
    }
}

/// Where a release stands, as this relayer drives it. Persisted: see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseStep {
    /// Known; the destination is not scouted yet.
    Scouting,
    /// Scouted clean (or released by governance): this relayer's approval is to be published.
    Approving,
    /// Scouted suspicious or malicious: this relayer's hold is to be published.
    Holding,
    /// Held on the symbiote: waiting for governance to lift it or refund the order.
    Held,
    /// This relayer's approval is on the symbiote: waiting for a threshold, then submission
    /// (by the designated relayer, or by any after the takeover delay).
    Approved,
    /// Held back by the release limits until `release_after`.
    Queued,
    /// A release transaction is stored and sent: followed until final.
    Submitted,
    /// Accepted by the bridge into its own queue: payable from `release_after`.
    QueuedOnChain,
    /// The payment of a bridge-queued release is stored and sent: followed until final.
    Executing,
    /// Paid on the hostchain: done.
    Released,
    /// Refunded on the symbiote by governance: done, never released.
    Refunded,
    /// Refused for good (the bridge cancelled it, or a hard error): needs an operator.
    Failed,
}

impl ReleaseStep {
    pub const ALL: [ReleaseStep; 12] = [
        ReleaseStep::Scouting,
        ReleaseStep::Approving,
        ReleaseStep::Holding,
        ReleaseStep::Held,
        ReleaseStep::Approved,
        ReleaseStep::Queued,
        ReleaseStep::Submitted,
        ReleaseStep::QueuedOnChain,
        ReleaseStep::Executing,
        ReleaseStep::Released,
        ReleaseStep::Refunded,
        ReleaseStep::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseStep::Scouting => "scouting",
            ReleaseStep::Approving => "approving",
            ReleaseStep::Holding => "holding",
            ReleaseStep::Held => "held",
            ReleaseStep::Approved => "approved",
            ReleaseStep::Queued => "queued",
            ReleaseStep::Submitted => "submitted",
            ReleaseStep::QueuedOnChain => "queued_on_chain",
            ReleaseStep::Executing => "executing",
            ReleaseStep::Released => "released",
            ReleaseStep::Refunded => "refunded",
            ReleaseStep::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Result<Self, StoreError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown release state '{text}'")))
    }

    /// Whether nothing more happens to it.
    pub fn is_done(self) -> bool {
        matches!(
            self,
            ReleaseStep::Released | ReleaseStep::Refunded | ReleaseStep::Failed
        )
    }
}

/// One release as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReleaseRow {
    pub nonce: Nonce,
    pub hostchain: String,
    pub token: String,
    pub amount: Amount,
    pub destination: String,
    pub burner: String,
    pub order_height: u64,
    pub state: ReleaseStep,
    pub verdict: Option<String>,
    pub report_hash: Option<String>,
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

/// A stored scout report with where it applies.
#[derive(Clone, Debug, Serialize)]
pub struct ReportRow {
    pub hash: String,
    pub hostchain: String,
    pub address: String,
    pub block: u64,
    pub verdict: String,
    pub nonce: Option<u64>,
    /// The report's canonical JSON.
    pub report: String,
    pub created_at: i64,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn amount(text: &str) -> Result<Amount, StoreError> {
    text.parse().map_err(corrupt)
}

const DEPOSIT_COLUMNS: &str = "id, hostchain, tx, event_index, token, amount, recipient, \
     raw_recipient, depositor, block, state, attest_tx, seen_at, state_since";

const RELEASE_COLUMNS: &str = "nonce, hostchain, token, amount, destination, burner, \
     order_height, state, verdict, report_hash, release_after, tx_id, last_error, attempts, \
     next_attempt_at, ready_since, released_at, state_since, created_at";

fn deposit_row(r: &sqlx::any::AnyRow) -> Result<DepositRow, StoreError> {
    let recipient: Option<String> = r.try_get("recipient")?;
    Ok(DepositRow {
        id: r.try_get("id")?,
        hostchain: r.try_get("hostchain")?,
        tx: r.try_get("tx")?,
        event_index: u32::try_from(r.try_get::<i64, _>("event_index")?).map_err(corrupt)?,
        token: r.try_get("token")?,
        amount: amount(&r.try_get::<String, _>("amount")?)?,
        recipient: recipient
            .map(|k| k.parse::<PublicKey>().map_err(corrupt))
            .transpose()?,
        raw_recipient: r.try_get("raw_recipient")?,
        depositor: r.try_get("depositor")?,
        block: uint(r.try_get("block")?)?,
        state: DepositState::parse(&r.try_get::<String, _>("state")?)?,
        attest_tx: r.try_get("attest_tx")?,
        seen_at: r.try_get("seen_at")?,
        state_since: r.try_get("state_since")?,
    })
}

fn release_row(r: &sqlx::any::AnyRow) -> Result<ReleaseRow, StoreError> {
    Ok(ReleaseRow {
        nonce: Nonce::new(uint(r.try_get("nonce")?)?),
        hostchain: r.try_get("hostchain")?,
        token: r.try_get("token")?,
        amount: amount(&r.try_get::<String, _>("amount")?)?,
        destination: r.try_get("destination")?,
        burner: r.try_get("burner")?,
        order_height: uint(r.try_get("order_height")?)?,
        state: ReleaseStep::parse(&r.try_get::<String, _>("state")?)?,
        verdict: r.try_get("verdict")?,
        report_hash: r.try_get("report_hash")?,
        release_after: r.try_get("release_after")?,
        tx_id: r.try_get("tx_id")?,
        last_error: r.try_get("last_error")?,
        attempts: uint(r.try_get("attempts")?)?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        ready_since: r.try_get("ready_since")?,
        released_at: r.try_get("released_at")?,
        state_since: r.try_get("state_since")?,
        created_at: r.try_get("created_at")?,
    })
}

async fn write_cursor(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    key: &str,
    value: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO deposit_cursors (hostchain, cursor, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (hostchain) DO UPDATE SET cursor = excluded.cursor, \
         updated_at = excluded.updated_at",
    )
    .bind(key)
    .bind(value)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    // ---- deposits ----

    /// Where the deposit scan of `hostchain` resumes (or the cursor named `hostchain` that
    /// [`Store::set_cursor`] stored).
    pub async fn deposit_cursor(&self, hostchain: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT cursor FROM deposit_cursors WHERE hostchain = $1")
            .bind(hostchain)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("cursor")).transpose()?)
    }

    /// Stores a scan's deposits (each once, ever) with the cursor after them, atomically.
    /// Returns how many were new.
    pub async fn record_scan(
        &self,
        hostchain: &str,
        deposits: &[ObservedDeposit],
        next: &str,
    ) -> Result<u64, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let mut added = 0;
        for d in deposits {
            let state = if d.recipient.is_some() {
                DepositState::Seen
            } else {
                DepositState::Unroutable
            };
            let result = sqlx::query(
                "INSERT INTO deposits (hostchain, tx, event_index, token, amount, recipient, \
                 raw_recipient, depositor, block, state, seen_at, state_since) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
                 ON CONFLICT (hostchain, tx, event_index) DO NOTHING",
            )
            .bind(hostchain)
            .bind(d.id.tx.as_str())
            .bind(i64::from(d.id.index))
            .bind(d.token.as_str())
            .bind(d.amount.to_string())
            .bind(d.recipient.map(|k| k.to_string()))
            .bind(&d.raw_recipient)
            .bind(&d.depositor)
            .bind(int(d.block)?)
            .bind(state.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            added += result.rows_affected();
        }
        write_cursor(&mut tx, hostchain, next, now).await?;
        tx.commit().await?;
        Ok(added)
    }

    /// Stores the cursor named `key` (a scan position that is not a deposit scan's, such as
    /// the next withdrawal order to take).
    pub async fn set_cursor(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        write_cursor(&mut tx, key, value, now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deposits of `hostchain` in `state`, oldest first, at most `limit`.
    pub async fn deposits_in(
        &self,
        hostchain: &str,
        state: DepositState,
        limit: i64,
    ) -> Result<Vec<DepositRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DEPOSIT_COLUMNS} FROM deposits WHERE hostchain = $1 AND state = $2 \
             ORDER BY id LIMIT $3"
        ))
        .bind(hostchain)
        .bind(state.as_str())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(deposit_row).collect()
    }

    /// Deposits, newest first, optionally in one state.
    pub async fn deposits(
        &self,
        state: Option<DepositState>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<DepositRow>, StoreError> {
        let rows = match state {
            Some(state) => {
                sqlx::query(&format!(
                    "SELECT {DEPOSIT_COLUMNS} FROM deposits WHERE state = $1 \
                     ORDER BY id DESC LIMIT $2 OFFSET $3"
                ))
                .bind(state.as_str())
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {DEPOSIT_COLUMNS} FROM deposits ORDER BY id DESC LIMIT $1 OFFSET $2"
                ))
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(deposit_row).collect()
    }

    /// Moves deposits to `to` (only those still in `from`), with the symbiote transaction that
    /// attested them, and records the transitions.
    pub async fn move_deposits(
        &self,
        ids: &[i64],
        from: DepositState,
        to: DepositState,
        attest_tx: Option<&str>,
        reason: &str,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        for id in ids {
            let moved = sqlx::query(
                "UPDATE deposits SET state = $1, attest_tx = COALESCE($2, attest_tx), \
                 state_since = $3 WHERE id = $4 AND state = $5",
            )
            .bind(to.as_str())
            .bind(attest_tx)
            .bind(now)
            .bind(*id)
            .bind(from.as_str())
            .execute(&mut *tx)
            .await?;
            if moved.rows_affected() == 1 {
                record(
                    &mut tx,
                    "deposit",
                    *id,
                    Some(from.as_str()),
                    to.as_str(),
                    reason,
                    now,
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deposit counts by (hostchain, state).
    pub async fn deposit_counts(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        self.state_counts("deposits").await
    }

    // ---- releases ----

    /// Records a withdrawal order of the symbiote to be released (once; later calls change
    /// nothing). Returns whether it was new.
    pub async fn add_release(&self, order: &WithdrawalOrder) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query(
            "INSERT INTO releases (nonce, hostchain, token, amount, destination, burner, \
             order_height, state, state_since, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (nonce) DO NOTHING",
        )
        .bind(int(order.nonce.get())?)
        .bind(order.hostchain.as_str())
        .bind(order.token.as_str())
        .bind(order.amount.to_string())
        .bind(order.destination.as_str())
        .bind(order.burner.to_string())
        .bind(int(order.height.get())?)
        .bind(ReleaseStep::Scouting.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let added = result.rows_affected() == 1;
        if added {
            record(
                &mut tx,
                "release",
                int(order.nonce.get())?,
                None,
                ReleaseStep::Scouting.as_str(),
                &format!("withdrawal order of block {}", order.height),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// The highest withdrawal nonce recorded for `hostchain` (0: none).
    pub async fn last_release_nonce(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(nonce), 0) AS n FROM releases")
            .fetch_one(&self.pool)
            .await?;
        uint(row.try_get("n")?)
    }

    /// One release.
    pub async fn release(&self, nonce: Nonce) -> Result<Option<ReleaseRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {RELEASE_COLUMNS} FROM releases WHERE nonce = $1"
        ))
        .bind(int(nonce.get())?)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(release_row).transpose()
    }

    /// The releases of `hostchain` still in progress, oldest first.
    pub async fn open_releases(&self, hostchain: &str) -> Result<Vec<ReleaseRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {RELEASE_COLUMNS} FROM releases WHERE hostchain = $1 \
             AND state NOT IN ('released', 'refunded', 'failed') ORDER BY nonce"
        ))
        .bind(hostchain)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(release_row).collect()
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
        let rows = sqlx::query(&format!(
            "SELECT {RELEASE_COLUMNS} FROM releases {filter} ORDER BY nonce DESC \
             LIMIT $1 OFFSET $2"
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(release_row).collect()
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
        let written = self.save_release_in(&mut tx, current, next, reason).await?;
        tx.commit().await?;
        Ok(written)
    }

    async fn save_release_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        current: &ReleaseRow,
        next: &ReleaseRow,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let changed = current.state != next.state;
        let since = if changed { now } else { current.state_since };
        let result = sqlx::query(
            "UPDATE releases SET state = $1, verdict = $2, report_hash = $3, \
             release_after = $4, tx_id = $5, last_error = $6, attempts = $7, \
             next_attempt_at = $8, ready_since = $9, released_at = $10, state_since = $11 \
             WHERE nonce = $12 AND state = $13",
        )
        .bind(next.state.as_str())
        .bind(next.verdict.as_deref())
        .bind(next.report_hash.as_deref())
        .bind(next.release_after)
        .bind(next.tx_id.as_deref())
        .bind(next.last_error.as_deref())
        .bind(int(next.attempts)?)
        .bind(next.next_attempt_at)
        .bind(next.ready_since)
        .bind(next.released_at)
        .bind(since)
        .bind(int(current.nonce.get())?)
        .bind(current.state.as_str())
        .execute(&mut **tx)
        .await?;
        let written = result.rows_affected() == 1;
        if written && changed {
            record(
                tx,
                "release",
                int(current.nonce.get())?,
                Some(current.state.as_str()),
                next.state.as_str(),
                reason,
                now,
            )
            .await?;
        }
        Ok(written)
    }

    /// Stores a transaction prepared for a release and moves the release to `next` (which
    /// names it), atomically: the transaction is stored before it is sent.
    pub async fn record_release_tx(
        &self,
        current: &ReleaseRow,
        next: &ReleaseRow,
        prepared: &PreparedTx,
        reason: &str,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(prepared).map_err(corrupt)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO release_txs (nonce, tx_id, prepared, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (nonce, tx_id) DO NOTHING",
        )
        .bind(int(current.nonce.get())?)
        .bind(&prepared.id)
        .bind(text)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        if !self.save_release_in(&mut tx, current, next, reason).await? {
            return Err(StoreError::Corrupt(format!(
                "release {} changed while its transaction was stored",
                current.nonce
            )));
        }
        if current.state == next.state {
            // A replacement: the state stays, the history still says why.
            record(
                &mut tx,
                "release",
                int(current.nonce.get())?,
                Some(current.state.as_str()),
                next.state.as_str(),
                reason,
                now_ms(),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The transactions prepared for a release, newest first.
    pub async fn release_txs(&self, nonce: Nonce) -> Result<Vec<PreparedTx>, StoreError> {
        let rows =
            sqlx::query("SELECT prepared FROM release_txs WHERE nonce = $1 ORDER BY id DESC")
                .bind(int(nonce.get())?)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| serde_json::from_str(&r.try_get::<String, _>("prepared")?).map_err(corrupt))
            .collect()
    }

    /// When the newest transaction of a release was stored (ms), if it has one.
    pub async fn latest_release_tx_at(&self, nonce: Nonce) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "SELECT created_at FROM release_txs WHERE nonce = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(int(nonce.get())?)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get("created_at")).transpose()?)
    }

    /// What this relayer released of `token` on `hostchain` since `since_ms`, for the release
    /// limits it enforces itself.
    pub async fn released_since(
        &self,
        hostchain: &str,
        token: &str,
        since_ms: i64,
    ) -> Result<Amount, StoreError> {
        let rows = sqlx::query(
            "SELECT amount FROM releases WHERE hostchain = $1 AND token = $2 \
             AND released_at IS NOT NULL AND released_at >= $3",
        )
        .bind(hostchain)
        .bind(token)
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        let mut total = Amount::ZERO;
        for r in &rows {
            total = total
                .checked_add(amount(&r.try_get::<String, _>("amount")?)?)
                .unwrap_or(Amount::new(u128::MAX));
        }
        Ok(total)
    }

    /// Every state change of a release, oldest first.
    pub async fn release_history(&self, nonce: Nonce) -> Result<Vec<Transition>, StoreError> {
        self.transitions("release", int(nonce.get())?).await
    }

    /// Release counts by (hostchain, state).
    pub async fn release_counts(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        self.state_counts("releases").await
    }

    // ---- scout reports ----

    /// Stores a signed report (once per hash).
    pub async fn add_report(&self, row: &ReportRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO scout_reports (hash, hostchain, address, block, verdict, nonce, report, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (hash) DO NOTHING",
        )
        .bind(&row.hash)
        .bind(&row.hostchain)
        .bind(&row.address)
        .bind(int(row.block)?)
        .bind(&row.verdict)
        .bind(row.nonce.map(int).transpose()?)
        .bind(&row.report)
        .bind(row.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Hashes of reports no batch carries yet, oldest first (at most `limit`).
    pub async fn unbatched_reports(&self, limit: i64) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT hash FROM scout_reports WHERE batch_id IS NULL ORDER BY created_at, hash \
             LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>("hash")?))
            .collect()
    }

    /// The batch whose aggregate carries report `hash`, if one does yet.
    pub async fn report_batch(&self, hash: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT batch_id FROM scout_reports WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| r.try_get::<Option<i64>, _>("batch_id"))
            .transpose()?
            .flatten())
    }

    /// A report by its hash (0x-hex or hex).
    pub async fn report(&self, hash: &str) -> Result<Option<ReportRow>, StoreError> {
        let row = sqlx::query(
            "SELECT hash, hostchain, address, block, verdict, nonce, report, created_at \
             FROM scout_reports WHERE hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(ReportRow {
                hash: r.try_get("hash")?,
                hostchain: r.try_get("hostchain")?,
                address: r.try_get("address")?,
                block: uint(r.try_get("block")?)?,
                verdict: r.try_get("verdict")?,
                nonce: r
                    .try_get::<Option<i64>, _>("nonce")?
                    .map(uint)
                    .transpose()?,
                report: r.try_get("report")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }

    // ---- hostchain switches ----

    /// Whether `hostchain` has a final anchor of a batch that reaches `height`.
    pub async fn has_final_anchor_reaching(
        &self,
        hostchain: &str,
        height: u64,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM anchors a JOIN batches b ON a.batch_id = b.id \
             WHERE a.hostchain = $1 AND a.state = 'final' AND b.to_height >= $2",
        )
        .bind(hostchain)
        .bind(int(height)?)
        .fetch_one(&self.pool)
        .await?;
        Ok(uint(row.try_get("n")?)? > 0)
    }
}

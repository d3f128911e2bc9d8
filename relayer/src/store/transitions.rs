//! The history of every state change (`transitions`): what moved, from which state to which,
//! why and when. Each table family records its own moves in the same database transaction as
//! the move itself.

use serde::Serialize;

use super::{Cells, Store, StoreError};
use crate::persisted_enum;

persisted_enum!(
    /// What a transition is about (`transitions.entity`); its id is the row's key in its table
    /// (a batch or anchor id, a deposit's row id, a release's nonce).
    Entity, "entity" {
        Batch = "batch",
        Anchor = "anchor",
        Deposit = "deposit",
        Release = "release",
        Rotation = "rotation",
    }
);

/// One recorded state change.
#[derive(Clone, Debug, Serialize)]
pub struct Transition {
    /// The state before (none when the entity was created).
    pub from: Option<String>,
    /// The state after.
    pub to: String,
    /// Why, for operators.
    pub reason: String,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
}

/// Records one transition inside the caller's database transaction.
pub(crate) async fn record(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    entity: Entity,
    id: i64,
    from: Option<&str>,
    to: &str,
    reason: &str,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO transitions (entity, entity_id, from_state, to_state, reason, at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(entity.as_str())
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(reason)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Every state change of one entity, oldest first.
    pub async fn transitions(
        &self,
        entity: Entity,
        id: i64,
    ) -> Result<Vec<Transition>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, from_state, to_state, reason, at FROM transitions \
             WHERE entity = $1 AND entity_id = $2 ORDER BY id",
        )
        .bind(entity.as_str())
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let cells = Cells::new(r, "transitions", "id");
                Ok(Transition {
                    from: cells.get("from_state")?,
                    to: cells.get("to_state")?,
                    reason: cells.get("reason")?,
                    at: cells.get("at")?,
                })
            })
            .collect()
    }
}

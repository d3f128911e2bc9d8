//! The history of every state change (`transitions`): what moved, from which state to which,
//! why and when. Each table family records its own moves in the same database transaction as
//! the move itself.

use serde::{Deserialize, Serialize};

use super::states::Entity;
use super::{Cells, Store, StoreError};

/// One recorded state change.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Transition {
    /// The state before (none when the entity was created).
    #[serde(alias = "from_state")]
    pub from: Option<String>,
    /// The state after.
    #[serde(alias = "to_state")]
    pub to: String,
    /// Why, for operators.
    pub reason: String,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
}

/// A state a table stores as text (the enums of [`super::states`]).
pub trait Stored: Copy {
    /// The stored name.
    fn stored(self) -> &'static str;
}

/// One state change of one row, to record in `transitions`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Change {
    entity: Entity,
    id: i64,
    from: Option<&'static str>,
    to: &'static str,
}

impl Change {
    /// `entity` `id` moved from `from` (none: it was created) to `to`.
    pub(crate) fn new<S: Stored>(entity: Entity, id: i64, from: Option<S>, to: S) -> Change {
        Change {
            entity,
            id,
            from: from.map(Stored::stored),
            to: to.stored(),
        }
    }

    /// Records it inside the caller's database transaction, with why and when.
    pub(crate) async fn record(
        self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        reason: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO transitions (entity, entity_id, from_state, to_state, reason, at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(self.entity.as_str())
        .bind(self.id)
        .bind(self.from)
        .bind(self.to)
        .bind(reason)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
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
            .map(|r| Cells::new(r, "transitions", "id").read())
            .collect()
    }
}

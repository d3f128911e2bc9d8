//! Verified finalized blocks of the followed symbiote (`blocks`) and the follower's light-client
//! state after the last one (`follower`), written together.

use symbiote::block::{ChainBlock, Header};
use symbiote::codec::Canonical;
use symbiote::hash::Hash;
use symbiote::validators::ValidatorSet;

use super::{Cells, Store, StoreError, int, now_ms};

impl Store {
    /// The follower's light-client state: last verified header and the set signing the next.
    pub async fn follower_state(&self) -> Result<Option<(Header, ValidatorSet)>, StoreError> {
        let query = sqlx::query("SELECT id, header, validators FROM follower WHERE id = 1");
        self.first_with(("follower", "id"), query, |c| {
            Ok((c.decoded("header")?, c.decoded("validators")?))
        })
        .await
    }

    /// Stores a verified block with the light-client state after it, atomically.
    pub async fn store_block(
        &self,
        block: &ChainBlock,
        head: &Header,
        trusted: &ValidatorSet,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO blocks (height, hash, finalized, received_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(int("block height", block.block.header.height.get())?)
        .bind(block.block.header.hash().as_bytes().to_vec())
        .bind(block.encode())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM follower WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO follower (id, header, validators) VALUES (1, $1, $2)")
            .bind(head.encode())
            .bind(trusted.encode())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The highest stored block height (0: none).
    pub async fn head_height(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(height), 0) AS h FROM blocks")
            .fetch_one(&self.pool)
            .await?;
        Cells::new(&row, "blocks", "max").uint("h")
    }

    /// A stored block.
    pub async fn block(&self, height: u64) -> Result<Option<ChainBlock>, StoreError> {
        let query = sqlx::query("SELECT height, finalized FROM blocks WHERE height = $1")
            .bind(int("block height", height)?);
        self.first_with(("blocks", "height"), query, |c| c.decoded("finalized"))
            .await
    }

    /// The hashes of stored blocks `from..=to`, in order.
    pub async fn block_hashes(&self, from: u64, to: u64) -> Result<Vec<Hash>, StoreError> {
        let query = sqlx::query(
            "SELECT height, hash FROM blocks WHERE height >= $1 AND height <= $2 ORDER BY height",
        )
        .bind(int("block height", from)?)
        .bind(int("block height", to)?);
        self.rows_with("blocks", "height", query, |c| c.hash("hash"))
            .await
    }

    /// When block `height` was received (ms), if stored.
    pub async fn received_at(&self, height: u64) -> Result<Option<i64>, StoreError> {
        let query = sqlx::query("SELECT height, received_at FROM blocks WHERE height = $1")
            .bind(int("block height", height)?);
        self.first_with(("blocks", "height"), query, |c| c.get("received_at"))
            .await
    }
}

//! PostgreSQL is real: a table is created, written and read back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use devnet::Postgres;
use sqlx::Row;

#[tokio::test]
async fn table_round_trip() {
    let pg = Postgres::start().await.unwrap();
    let pool = sqlx::PgPool::connect(pg.url()).await.unwrap();
    sqlx::query("CREATE TABLE anchors (sequence BIGINT PRIMARY KEY, root BYTEA NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    for (sequence, root) in [(1i64, vec![1u8; 32]), (2, vec![2u8; 32])] {
        sqlx::query("INSERT INTO anchors (sequence, root) VALUES ($1, $2)")
            .bind(sequence)
            .bind(root)
            .execute(&pool)
            .await
            .unwrap();
    }
    let rows = sqlx::query("SELECT sequence, root FROM anchors ORDER BY sequence")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].get::<i64, _>("sequence"), 2);
    assert_eq!(rows[1].get::<Vec<u8>, _>("root"), vec![2u8; 32]);
    let duplicate = sqlx::query("INSERT INTO anchors (sequence, root) VALUES (1, $1)")
        .bind(vec![9u8; 32])
        .execute(&pool)
        .await;
    assert!(
        duplicate.is_err(),
        "the primary key must refuse a second row 1"
    );
}

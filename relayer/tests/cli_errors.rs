//! The relayer refuses to start with a clear error, naming what is wrong, when its
//! configuration is bad, an RPC endpoint is unreachable at start, or its database was migrated
//! by a newer version.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

const RELAYER: &str = env!("CARGO_BIN_EXE_relayer");

fn relayer(config: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(RELAYER)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A genesis made with the symbiote binary next to this one.
fn genesis(dir: &Path) {
    let symbiote = Path::new(RELAYER).with_file_name("symbiote");
    assert!(
        symbiote.exists(),
        "build the symbiote binary first: {}",
        symbiote.display()
    );
    let status = Command::new(symbiote)
        .args([
            "genesis",
            "--chain-name",
            "errors",
            "--validators",
            "1",
            "--out",
        ])
        .arg(dir)
        .output()
        .unwrap()
        .status;
    assert!(status.success());
}

fn config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("relayer.toml");
    std::fs::write(
        &path,
        format!(
            "[symbiote]\nnode_url = \"http://127.0.0.1:1\"\ngenesis_file = \"genesis.json\"\n\n[database]\nurl = \"sqlite://{}\"\n\n[api]\nlisten = \"127.0.0.1:0\"\n{extra}",
            dir.join("relayer.sqlite").display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn a_bad_configuration_names_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), "\n[batch]\nevery_blocks = \"ten\"\n");
    let (ok, err) = relayer(&path, &["status"]);
    assert!(!ok);
    assert!(
        err.contains("relayer.toml") && err.contains("batch.every_blocks"),
        "{err}"
    );

    let path = config(dir.path(), "\n[batch]\nevry_blocks = 3\n");
    let (ok, err) = relayer(&path, &["status"]);
    assert!(!ok);
    assert!(err.contains("evry_blocks"), "{err}");

    let (ok, err) = relayer(&dir.path().join("missing.toml"), &["status"]);
    assert!(!ok);
    assert!(err.contains("missing.toml"), "{err}");

    // No relayer running and no database: said so, and no empty database is created.
    let path = config(dir.path(), "");
    let (ok, err) = relayer(&path, &["status"]);
    assert!(!ok);
    assert!(err.contains("no relayer database"), "{err}");
    assert!(!dir.path().join("relayer.sqlite").exists());
}

#[test]
fn an_unreachable_rpc_at_start_is_named() {
    // The Bitcoin adapter discovers its coins when it starts: with bitcoind unreachable the
    // relayer stops at once, naming the hostchain and saying it is unavailable.
    let dir = tempfile::tempdir().unwrap();
    genesis(dir.path());
    std::fs::write(dir.path().join("bitcoin.key"), "11".repeat(32)).unwrap();
    let path = config(
        dir.path(),
        "\n[hostchains.bitcoin-regtest]\nkind = \"bitcoin\"\nrpc_url = \"http://127.0.0.1:1\"\nrpc_user = \"u\"\nrpc_password = \"p\"\nnetwork = \"regtest\"\nkey_file = \"bitcoin.key\"\nrpc_timeout_secs = 5\n",
    );
    let (ok, err) = relayer(&path, &["run"]);
    assert!(!ok, "started without its RPC endpoint");
    assert!(err.contains("bitcoin-regtest"), "{err}");
    assert!(err.contains("Unavailable"), "{err}");
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    genesis(dir.path());
    let path = config(dir.path(), "");
    let (ok, err) = relayer(&path, &["migrate"]);
    assert!(ok, "{err}");
    // A newer relayer would have applied a migration this one does not know.
    let url = format!("sqlite://{}", dir.path().join("relayer.sqlite").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (99990101000000, 'from the future', TRUE, X'00', 0)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (ok, err) = relayer(&path, &["migrate"]);
    assert!(!ok);
    assert!(
        err.contains("newer relayer") && err.contains("99990101000000"),
        "{err}"
    );
}

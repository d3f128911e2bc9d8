//! A throw-away PostgreSQL cluster (`initdb` + `postgres` on a free port), or with `COMPOSE=1` a
//! fresh database on the compose service.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use sqlx::Connection;
use tempfile::TempDir;

use crate::process::NodeProcess;
use crate::{HarnessError, compose, ports, tools};

/// A PostgreSQL database that exists while this handle lives.
pub struct Postgres {
    /// Connection URL of the database.
    url: String,
    /// The server process and its data directory; `None` with `COMPOSE=1`.
    node: Option<(NodeProcess, TempDir)>,
}

impl Postgres {
    /// Starts a throw-away cluster, or with `COMPOSE=1` creates a fresh database on the compose
    /// service (tests share that server, so each gets its own database).
    pub async fn start() -> Result<Self, HarnessError> {
        if compose::enabled() {
            return Self::fresh_database(&compose::get(compose::POSTGRES_URL)).await;
        }
        Self::spawn().await
    }

    async fn fresh_database(base_url: &str) -> Result<Self, HarnessError> {
        let sql_err = |what: &str, e: sqlx::Error| HarnessError::Rpc {
            url: base_url.to_string(),
            method: what.to_string(),
            reason: e.to_string(),
        };
        let mut conn = sqlx::PgConnection::connect(base_url)
            .await
            .map_err(|e| sql_err("connect", e))?;
        let name = format!("t_{:016x}", rand::random::<u64>());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .map_err(|e| sql_err("CREATE DATABASE", e))?;
        let (server, _) = base_url.rsplit_once('/').ok_or_else(|| HarnessError::Env {
            name: compose::POSTGRES_URL.0.into(),
            reason: format!("'{base_url}' has no database name"),
        })?;
        Ok(Postgres {
            url: format!("{server}/{name}"),
            node: None,
        })
    }

    /// Starts a new cluster on a free port. PostgreSQL refuses to run as root, so as root the
    /// cluster runs as the `postgres` user (or `nobody` where there is none).
    pub async fn spawn() -> Result<Self, HarnessError> {
        // Resolved to the real files: the unprivileged user may not traverse the folder that
        // holds the links (a home directory under /root, say).
        let initdb = resolve(tools::find("initdb")?);
        let postgres = resolve(tools::find("postgres")?);
        let dir = tempfile::Builder::new()
            .prefix("postgres-")
            .tempdir()
            .map_err(|e| HarnessError::io("create PostgreSQL data directory", e))?;
        let owner = if is_root() {
            unprivileged_user()?
        } else {
            None
        };
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .map_err(|e| HarnessError::io(format!("chown {}", dir.path().display()), e))?;
        }
        let data = dir.path().join("data");

        let mut command = Command::new(&initdb);
        command.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        run_as(&mut command, owner);
        let output = command.output().map_err(|source| HarnessError::Spawn {
            what: "initdb".into(),
            source,
        })?;
        if !output.status.success() {
            return Err(HarnessError::NotReady {
                what: "initdb".into(),
                reason: format!("exited with {}", output.status),
                log_path: data.clone(),
                log: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }

        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = ports::free_port()?;
            let mut command = Command::new(&postgres);
            command
                .arg("-D")
                .arg(&data)
                .arg("-p")
                .arg(port.to_string())
                .arg("-k")
                .arg(dir.path())
                .args(["-c", "listen_addresses=127.0.0.1"])
                .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
                .args(["-c", "full_page_writes=off", "-c", "max_connections=200"]);
            run_as(&mut command, owner);
            let mut process =
                NodeProcess::spawn("postgres", command, &dir.path().join("postgres.log"))?;
            let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
            let ready = process
                .wait_ready(Duration::from_secs(60), || async {
                    let conn =
                        sqlx::PgConnection::connect(&url)
                            .await
                            .map_err(|e| HarnessError::Rpc {
                                url: url.clone(),
                                method: "connect".into(),
                                reason: e.to_string(),
                            })?;
                    let _ = conn.close().await;
                    Ok(())
                })
                .await;
            match ready {
                Ok(()) => {
                    return Ok(Postgres {
                        url,
                        node: Some((process, dir)),
                    });
                }
                Err(_) if attempt < 3 && process.lost_port_race() => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Connection URL of the database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's log file, if the harness spawned it.
    pub fn log_path(&self) -> Option<&Path> {
        self.node.as_ref().map(|(p, _)| p.log_path())
    }
}

fn run_as(command: &mut Command, owner: Option<(u32, u32)>) {
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid).current_dir("/");
    }
}

fn resolve(path: std::path::PathBuf) -> std::path::PathBuf {
    std::fs::canonicalize(&path).unwrap_or(path)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// uid and gid of `postgres`, else `nobody`, from /etc/passwd.
fn unprivileged_user() -> Result<Option<(u32, u32)>, HarnessError> {
    let passwd = std::fs::read_to_string("/etc/passwd")
        .map_err(|e| HarnessError::io("read /etc/passwd", e))?;
    let lookup = |name: &str| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            match fields.as_slice() {
                [user, _, uid, gid, ..] if *user == name => {
                    Some((uid.parse().ok()?, gid.parse().ok()?))
                }
                _ => None,
            }
        })
    };
    match lookup("postgres").or_else(|| lookup("nobody")) {
        Some(ids) => Ok(Some(ids)),
        None => Err(HarnessError::Env {
            name: "USER".into(),
            reason: "running as root and neither a `postgres` nor a `nobody` user exists; \
                     PostgreSQL refuses to run as root"
                .into(),
        }),
    }
}

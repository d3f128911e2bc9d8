//! What the project's daemons (`symbiote run`, `relayer run`) share as processes: logging set
//! up the same way, and the same shutdown signals.

/// Logs with `tracing` to stderr: human-readable on a terminal, JSON lines with `json`. The
/// filter comes from `RUST_LOG` (default: info, with sqlx's statement logs at warn).
pub fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM, the signals a terminal or a service manager sends
/// to stop a daemon gracefully.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

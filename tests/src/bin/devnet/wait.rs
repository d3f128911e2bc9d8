//! Waiting for the demo's steps: each wait says what it waits for, gives up after a timeout,
//! and fails at once if the relayer has exited (the caller shows the relayer's log).

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::relayer::Relayer;

/// How often a condition is checked.
const POLL: Duration = Duration::from_millis(500);

/// Calls `check` until it gives a value, the relayer exits, or `timeout` passes.
pub async fn wait_for<T>(
    what: &str,
    timeout: Duration,
    relayer: &mut Relayer,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> Result<T> {
    println!("  waiting for {what} (up to {}s)", timeout.as_secs());
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            println!("  ... after {:.1}s", started.elapsed().as_secs_f64());
            return Ok(value);
        }
        relayer.check_running()?;
        if started.elapsed() > timeout {
            bail!("timed out after {}s waiting for {what}", timeout.as_secs());
        }
        tokio::time::sleep(POLL).await;
    }
}

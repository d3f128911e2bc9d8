//! What the relayer's benches share: the timings and the result block of the adapter benches
//! (one copy, in `chain-adapters/benches/support`), and where the project's binaries and a
//! process's memory are found.

// Compiled into each bench crate, which may not use every helper.
#![allow(dead_code)]

// The adapter benches' timing helpers, included from their file so that every bench of the
// workspace prints the same result block.
#[path = "../../../chain-adapters/benches/support/mod.rs"]
mod timing;

pub use timing::{Report, Timings};

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The `symbiote` binary of this workspace, looked up in the target directory of the running
/// bench (release first, then debug). `cargo bench -p relayer` does not build it.
pub fn symbiote_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the bench's own path");
    // <target>/<profile>/deps/<bench>-<hash>
    let target = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .expect("the bench runs from <target>/<profile>/deps");
    let candidates = [
        target.join("release").join("symbiote"),
        target.join("debug").join("symbiote"),
    ];
    for candidate in &candidates {
        if candidate.is_file() {
            return candidate.clone();
        }
    }
    panic!(
        "this bench runs a symbiote network and needs the symbiote binary, which `cargo bench -p \
         relayer` does not build; build it first with `cargo build --release -p symbiote-node` \
         (looked for {} and {})",
        candidates[0].display(),
        candidates[1].display()
    );
}

/// A field of `/proc/<pid>/status` given in kB (`VmRSS`, `VmHWM`), in KiB.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Microseconds since the Unix epoch: the clock of the relayer's stored timestamps (which are
/// in milliseconds), with more precision.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// A non-negative span between two microsecond timestamps (clock readings taken in the wrong
/// order by less than the stored milliseconds' rounding count as zero).
pub fn span_us(from: i64, to: i64) -> Duration {
    Duration::from_micros(u64::try_from(to.saturating_sub(from)).unwrap_or_default())
}

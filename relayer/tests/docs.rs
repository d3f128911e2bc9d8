//! The operator documentation stays in sync with the code:
//!
//! - `docs/configuration.md` has one table row per configuration key ([`configuration`]). The
//!   relayer's own keys come from the JSON schema of `relayer::config::Config` (`schemars`),
//!   with their types, defaults and doc comments; each hostchain kind's keys come from its
//!   adapter, which refuses an unknown key by listing the keys it knows. A key added, removed or
//!   renamed in the code without the same change in the document fails here, with the rows to
//!   write.
//! - `docs/grafana/relayer.json` queries only metrics that the relayer exports ([`dashboard`]).
//! - `tools/compose/relayer.toml`, the docker-compose relayer's configuration, is valid, and
//!   `docker-compose.yml` publishes the endpoints the tests use with `COMPOSE=1` ([`compose`]).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// The test's parts, in `tests/docs/` (beside this crate root, where Cargo does not look for
// test targets of their own).
#[path = "docs/compose.rs"]
mod compose;
#[path = "docs/configuration.rs"]
mod configuration;
#[path = "docs/dashboard.rs"]
mod dashboard;

use std::path::PathBuf;

/// A file of the repository.
fn repo_file(path: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join(path)
}

/// The text of a file of the repository.
fn read(path: &str) -> String {
    let full = repo_file(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()))
}

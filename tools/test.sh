#!/usr/bin/env bash
# Runs every test of the project on this machine: installs what is missing (tools/install.sh),
# checks formatting and lints, validates docker-compose.yml, builds and tests the contracts with
# forge (and checks that the committed contracts/artifacts match the sources), and runs the Rust
# tests (unit and integration, against real local nodes).
#
# COMPOSE=1 runs the integration tests against the services of docker-compose.yml instead of
# spawning local nodes (see tests/src/compose.rs for the endpoint variables).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TOOLS=${SYMBIOTE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/symbiote-relayer}
export PATH=$TOOLS/bin:$PATH

step() { printf '\n==> %s\n' "$*"; }
started=$(date +%s)

step "installing tools (cached in $TOOLS)"
tools/install.sh

step "docker-compose.yml syntax"
docker-compose -f docker-compose.yml config --quiet

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "contracts: forge build, forge test and artifacts up to date"
(cd contracts && forge build && forge test)
artifacts_tmp=$(mktemp -d)
contracts/export-artifacts.sh "$artifacts_tmp"
if ! diff -r "$artifacts_tmp" contracts/artifacts >/dev/null; then
  diff -rq "$artifacts_tmp" contracts/artifacts || true
  rm -rf "$artifacts_tmp"
  echo "contracts/artifacts is stale: run contracts/export-artifacts.sh" >&2
  exit 1
fi
rm -rf "$artifacts_tmp"

step "Rust tests"
# The test runner's summary is the last thing printed: doc tests (none yet) run first.
if cargo nextest --version >/dev/null 2>&1; then
  cargo test --workspace --locked --doc
  echo "(tools/test.sh: every step before the Rust tests passed after $(($(date +%s) - started))s)"
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

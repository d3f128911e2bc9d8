#!/usr/bin/env bash
# Starts the local devnet with one command: installs what is missing (tools/install.sh: anvil,
# bitcoind, the Solana test validator), builds the binaries, then runs local hostchain nodes
# (bitcoind regtest; anvil with SymbioteAnchor and SymbioteBridge, the genesis relayer as their
# relayer set; a Solana test validator with a bridge vault), a 4-validator symbiote and the
# relayer on SQLite with the bridge enabled. It runs a short demo (anchors final on the three
# hostchains, a deposit minted, a burn released, a burn to a malicious contract held with its
# signed report) and shows progress until Ctrl-C, which stops every process it started.
# Arguments are passed to the devnet binary (target/debug/devnet).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TOOLS=${SYMBIOTE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/symbiote-relayer}
export PATH=$TOOLS/bin:$PATH

command -v cargo >/dev/null || {
  echo "devnet: cargo is not installed; install Rust (https://rustup.rs), then run $0 again" >&2
  exit 1
}
# Only the tools the devnet runs: the contracts' artifacts are committed, PostgreSQL and
# docker-compose are for the tests.
tools/install.sh foundry bitcoind solana
echo "[devnet] cargo build --locked --bins (the first build takes several minutes)" >&2
cargo build --locked --bins
exec target/debug/devnet "$@"

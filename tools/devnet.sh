#!/usr/bin/env bash
# Starts the local devnet: installs what is missing (tools/install.sh), then runs local hostchain
# nodes (bitcoind regtest, anvil with the anchor contract, a Solana test validator), a
# 4-validator symbiote and the relayer on SQLite anchoring into all three, and shows progress
# until Ctrl-C, which stops every process it started.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TOOLS=${SYMBIOTE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/symbiote-relayer}
export PATH=$TOOLS/bin:$PATH

tools/install.sh
cargo build --locked --bins
exec target/debug/devnet "$@"

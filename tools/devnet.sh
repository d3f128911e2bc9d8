#!/usr/bin/env bash
# Starts the local devnet: installs what is missing (tools/install.sh), then runs local hostchain
# nodes (bitcoind regtest, anvil, a Solana test validator) and shows their progress until Ctrl-C,
# which stops every process it started.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TOOLS=${SYMBIOTE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/symbiote-relayer}
export PATH=$TOOLS/bin:$PATH

tools/install.sh
cargo build --locked -p devnet --bin devnet
exec target/debug/devnet "$@"

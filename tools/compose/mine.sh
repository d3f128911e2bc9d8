#!/bin/sh
# The `miner` service of docker-compose.yml: regtest and anvil produce blocks only when asked,
# so that anchors get confirmations, this mines one block on each every $BLOCK_SECONDS (the
# Bitcoin block's reward goes to the relayer's address, written by the `init` service).
set -eu

STATE=${STATE:-/state}
BLOCK_SECONDS=${BLOCK_SECONDS:-5}
BITCOIND_URL=${BITCOIND_URL:-http://bitcoind:18443}
BITCOIND_AUTH=${BITCOIND_AUTH:-symbiote:symbiote}
ANVIL_URL=${ANVIL_URL:-http://anvil:8545}

# call URL METHOD PARAMS-JSON [CURL-OPTIONS...]
call() {
  url=$1 method=$2 params=$3
  shift 3
  curl -sS --fail --max-time 30 "$@" -H 'content-type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$method\",\"params\":$params}" "$url" >/dev/null
}

address=$(cat "$STATE/bitcoin.address")
echo "miner: a block every ${BLOCK_SECONDS}s on $BITCOIND_URL (to $address) and $ANVIL_URL"
trap 'exit 0' TERM INT
while :; do
  # A node that is down for a moment is not a reason to stop.
  call "$BITCOIND_URL" generatetoaddress "[1,\"$address\"]" --user "$BITCOIND_AUTH" || true
  call "$ANVIL_URL" evm_mine '[]' || true
  sleep "$BLOCK_SECONDS" &
  wait $!
done

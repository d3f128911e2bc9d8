#!/bin/sh
# The `init` service of docker-compose.yml: creates, once, everything the symbiote validators and
# the relayer need, in the shared state volume ($STATE):
#
#   genesis.json, validator-<i>.key, relayer-0.key, relayer-0.evm.key   (`symbiote genesis`)
#   bitcoin.key, bitcoin.address          the relayer's Bitcoin key (hex) and its P2WPKH address
#   solana.json, solana.address           the relayer's Solana keypair (Solana CLI format)
#   admin.token                           the relayer API's admin token
#   evm.env                               the anchor and bridge contract addresses, as the
#                                         relayer's environment overrides
#
# and, on the hostchain nodes: the `relayer` database in PostgreSQL, the SymbioteAnchor and
# SymbioteBridge contracts on anvil (relayer set and threshold from the genesis), and funds for
# the relayer's addresses on every hostchain. It runs at every `docker compose up` and does only
# what is missing, so a hostchain node that was recreated (and lost its chain) is set up again.
#
# Tools: the `symbiote` binary, curl, jq, psql, awk, od and basenc (the image's `init` target).
set -eu

STATE=${STATE:-/state}
ARTIFACTS=${ARTIFACTS:-/artifacts}
CHAIN_NAME=${CHAIN_NAME:-compose}
BITCOIND_URL=${BITCOIND_URL:-http://bitcoind:18443}
BITCOIND_AUTH=${BITCOIND_AUTH:-symbiote:symbiote}
ANVIL_URL=${ANVIL_URL:-http://anvil:8545}
SOLANA_URL=${SOLANA_URL:-http://solana:8899}
RELAYER_DATABASE=${RELAYER_DATABASE:-relayer}
# psql reads PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE from the environment.

say() { printf 'init: %s\n' "$*"; }
die() { printf 'init: error: %s\n' "$*" >&2; exit 1; }

# Writes standard input to $1 readable only by its owner, atomically.
write_secret() {
  (umask 077 && cat >"$1.tmp") && mv "$1.tmp" "$1"
}

# 32 random bytes, hex.
random_hex() {
  od -An -N32 -tx1 /dev/urandom | tr -d ' \n'
}

# JSON-RPC call: rpc URL METHOD PARAMS-JSON [CURL-OPTIONS...]; prints the result (compact JSON).
rpc() {
  url=$1 method=$2 params=$3
  shift 3
  reply=$(curl -sS --fail-with-body --max-time 60 "$@" -H 'content-type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$method\",\"params\":$params}" "$url") \
    || die "$method on $url: ${reply:-no answer}"
  if [ "$(printf '%s' "$reply" | jq -c '.error')" != "null" ]; then
    die "$method on $url: $(printf '%s' "$reply" | jq -c '.error')"
  fi
  printf '%s' "$reply" | jq -c '.result'
}
bitcoin() { rpc "$BITCOIND_URL" "$1" "$2" --user "$BITCOIND_AUTH"; }
evm() { rpc "$ANVIL_URL" "$1" "$2"; }
solana() { rpc "$SOLANA_URL" "$1" "$2"; }

# Base58 of a hex string (Bitcoin's alphabet, as Solana addresses and WIF keys use it).
base58() {
  printf '%s' "$1" | awk '
    function nibble(c) { return index("0123456789abcdef", tolower(c)) - 1 }
    {
      alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
      n = length($0) / 2
      for (i = 0; i < n; i++) bytes[i] = nibble(substr($0, 2 * i + 1, 1)) * 16 + nibble(substr($0, 2 * i + 2, 1))
      zeros = 0
      while (zeros < n && bytes[zeros] == 0) zeros++
      digits = 0
      for (i = zeros; i < n; i++) {
        carry = bytes[i]
        for (j = 0; j < digits; j++) { carry += d[j] * 256; d[j] = carry % 58; carry = int(carry / 58) }
        while (carry > 0) { d[digits++] = carry % 58; carry = int(carry / 58) }
      }
      out = ""
      for (i = 0; i < zeros; i++) out = out "1"
      for (j = digits - 1; j >= 0; j--) out = out substr(alphabet, d[j] + 1, 1)
      print out
    }'
}

# SHA-256 of the bytes a hex string stands for, hex.
sha256_hex() {
  printf '%s' "$1" | tr 'a-f' 'A-F' | basenc --base16 -d | sha256sum | cut -c1-64
}

# The WIF of a hex secp256k1 key for test networks, with a compressed public key.
wif() {
  payload="ef${1}01"
  checksum=$(sha256_hex "$(sha256_hex "$payload")" | cut -c1-8)
  base58 "$payload$checksum"
}

# A hex string as a JSON array of its bytes.
hex_to_json_bytes() {
  printf '%s' "$1" | awk '
    function nibble(c) { return index("0123456789abcdef", tolower(c)) - 1 }
    {
      out = "["
      for (i = 1; i < length($0); i += 2) {
        out = out (i > 1 ? "," : "") (nibble(substr($0, i, 1)) * 16 + nibble(substr($0, i + 1, 1)))
      }
      print out "]"
    }'
}

# A 32-byte ABI word of a hex value (without 0x) or of a decimal number.
word_hex() { printf '%064s' "$1" | tr ' ' 0; }
word_dec() { printf '%064x' "$1"; }

# ---- the symbiote -------------------------------------------------------------------------

if [ ! -f "$STATE/genesis.json" ]; then
  say "creating the genesis of symbiote '$CHAIN_NAME' (4 validators, 1 relayer)"
  symbiote genesis --chain-name "$CHAIN_NAME" --validators 4 \
    --hostchain bitcoin-regtest --hostchain evm-31337 --hostchain solana-local --out "$STATE"
fi

# ---- the relayer's keys -------------------------------------------------------------------

if [ ! -f "$STATE/bitcoin.key" ]; then
  say "creating the relayer's Bitcoin key"
  random_hex | write_secret "$STATE/bitcoin.key"
fi
if [ ! -f "$STATE/solana.json" ]; then
  say "creating the relayer's Solana key"
  # An ed25519 key: `symbiote keygen` writes its seed and prints its public key; the Solana CLI
  # format is the 64 bytes of both.
  public=$(symbiote keygen --out "$STATE/solana.seed")
  seed=$(tr -d ' \n' <"$STATE/solana.seed")
  hex_to_json_bytes "$seed$public" | write_secret "$STATE/solana.json"
  base58 "$public" >"$STATE/solana.address"
  rm -f "$STATE/solana.seed"
fi
if [ ! -f "$STATE/admin.token" ]; then
  random_hex | write_secret "$STATE/admin.token"
fi

# ---- PostgreSQL -----------------------------------------------------------------------------

exists=$(psql -tAc "SELECT 1 FROM pg_database WHERE datname = '$RELAYER_DATABASE'")
if [ -z "$exists" ]; then
  say "creating database $RELAYER_DATABASE"
  psql -qc "CREATE DATABASE \"$RELAYER_DATABASE\""
fi

# ---- EVM (anvil): contracts and funds -------------------------------------------------------

# The contracts' constructor(address[] relayers, uint256 threshold), from the genesis.
constructor_args() {
  members=$(jq -r '.relayers.members[].evm_address' "$STATE/genesis.json")
  count=$(printf '%s\n' "$members" | grep -c .)
  threshold=$(jq -r '.relayers.threshold' "$STATE/genesis.json")
  printf '%s%s%s' "$(word_dec 64)" "$(word_dec "$threshold")" "$(word_dec "$count")"
  for member in $members; do
    word_hex "${member#0x}"
  done
}

# Deploys contracts/artifacts/$1.json from anvil's first (unlocked) account; prints its address.
deploy() {
  bytecode=$(jq -r '.bytecode' "$ARTIFACTS/$1.json")
  from=$(evm eth_accounts '[]' | jq -r '.[0]')
  tx=$(evm eth_sendTransaction \
    "[{\"from\":\"$from\",\"data\":\"$bytecode$(constructor_args)\",\"gas\":\"0x1000000\"}]" | jq -r .)
  for _ in $(seq 1 100); do
    receipt=$(evm eth_getTransactionReceipt "[\"$tx\"]")
    if [ "$receipt" != "null" ]; then
      [ "$(printf '%s' "$receipt" | jq -r .status)" = "0x1" ] || die "deploying $1: $receipt"
      printf '%s' "$receipt" | jq -r .contractAddress
      return
    fi
    sleep 0.2
  done
  die "deploying $1: transaction $tx not mined"
}

has_code() {
  [ -n "$1" ] && [ "$(evm eth_getCode "[\"$1\",\"latest\"]" | jq -r .)" != "0x" ]
}

ANCHOR_CONTRACT= BRIDGE_CONTRACT=
if [ -f "$STATE/evm.env" ]; then
  ANCHOR_CONTRACT=$(sed -n 's/.*ANCHOR_CONTRACT=//p' "$STATE/evm.env")
  BRIDGE_CONTRACT=$(sed -n 's/.*BRIDGE_CONTRACT=//p' "$STATE/evm.env")
fi
if ! has_code "$ANCHOR_CONTRACT" || ! has_code "$BRIDGE_CONTRACT"; then
  say "deploying SymbioteAnchor and SymbioteBridge on $ANVIL_URL"
  ANCHOR_CONTRACT=$(deploy SymbioteAnchor)
  BRIDGE_CONTRACT=$(deploy SymbioteBridge)
  printf 'export RELAYER__HOSTCHAINS__EVM_31337__ANCHOR_CONTRACT=%s\nexport RELAYER__HOSTCHAINS__EVM_31337__BRIDGE_CONTRACT=%s\n' \
    "$ANCHOR_CONTRACT" "$BRIDGE_CONTRACT" >"$STATE/evm.env.tmp"
  mv "$STATE/evm.env.tmp" "$STATE/evm.env"
fi
for member in $(jq -r '.relayers.members[].evm_address' "$STATE/genesis.json"); do
  if [ "$(evm eth_getBalance "[\"$member\",\"latest\"]" | jq -r .)" = "0x0" ]; then
    say "funding relayer $member with 100 ETH"
    from=$(evm eth_accounts '[]' | jq -r '.[0]')
    evm eth_sendTransaction "[{\"from\":\"$from\",\"to\":\"$member\",\"value\":\"0x56bc75e2d63100000\"}]" >/dev/null
  fi
done

# ---- Bitcoin (regtest): the relayer's address and mature coins ------------------------------

descriptor="wpkh($(wif "$(tr -d ' \n' <"$STATE/bitcoin.key")"))"
checksum=$(bitcoin getdescriptorinfo "[\"$descriptor\"]" | jq -r .checksum)
address=$(bitcoin deriveaddresses "[\"$descriptor#$checksum\"]" | jq -r '.[0]')
printf '%s\n' "$address" >"$STATE/bitcoin.address"
funds=$(bitcoin scantxoutset "[\"start\",[\"addr($address)\"]]" | jq -r .total_amount)
if [ "$funds" = "0" ] || [ "$funds" = "0.0" ] || [ "$funds" = "0.00000000" ]; then
  say "mining 101 regtest blocks to the relayer's address $address"
  bitcoin generatetoaddress "[101,\"$address\"]" >/dev/null
fi

# ---- Solana: lamports for fees ---------------------------------------------------------------

solana_address=$(cat "$STATE/solana.address")
if [ "$(solana getBalance "[\"$solana_address\"]" | jq -r .value)" -lt 1000000000 ]; then
  say "airdropping 100 SOL to the relayer's address $solana_address"
  solana requestAirdrop "[\"$solana_address\",100000000000]" >/dev/null
  for _ in $(seq 1 120); do
    [ "$(solana getBalance "[\"$solana_address\"]" | jq -r .value)" -gt 0 ] && break
    sleep 0.5
  done
fi

say "symbiote $(jq -r .chain_name "$STATE/genesis.json"); relayer addresses: bitcoin $address, solana $solana_address, evm $(jq -r '.relayers.members[0].evm_address' "$STATE/genesis.json"); anchor contract $ANCHOR_CONTRACT, bridge contract $BRIDGE_CONTRACT"

#!/usr/bin/env bash
# Builds the contracts with forge and exports, for every contract that Rust bindings or tests
# deploy, a stable minimal JSON `{"abi": [...], "bytecode": "0x...", "deployedBytecode": "0x..."}`
# as <Name>.json into OUT_DIR (default: contracts/artifacts, which is committed). The output is
# deterministic (foundry.toml: bytecode_hash = "none", cbor_metadata = false), so
# tools/test.sh exports into a temporary folder and fails if contracts/artifacts differs.
#
# Usage: contracts/export-artifacts.sh [OUT_DIR]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=${1:-$HERE/artifacts}
TOOLS=${SYMBIOTE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/symbiote-relayer}
export PATH=$TOOLS/bin:$PATH

# source file (under src/) : contract name
CONTRACTS=(
  SymbioteAnchor.sol:SymbioteAnchor
  SymbioteBridge.sol:SymbioteBridge
  scout/PlainToken.sol:PlainToken
  scout/HoneypotToken.sol:HoneypotToken
  scout/SelfDestructor.sol:SelfDestructor
  scout/ProxyToUnverified.sol:ProxyToUnverified
  scout/ProxyToUnverified.sol:UnverifiedLogic
  scout/Forwarder.sol:Forwarder
)

say() { printf '[export-artifacts] %s\n' "$*" >&2; }
die() { printf '[export-artifacts] error: %s\n' "$*" >&2; exit 1; }

command -v forge >/dev/null || die "forge not found: run tools/install.sh foundry"
cd "$HERE"
forge build >&2 || die "forge build failed"

# extract FORGE_ARTIFACT DEST: the minimal JSON, pretty-printed with two-space indentation.
if command -v jq >/dev/null; then
  extract() {
    jq --indent 2 '{abi: .abi, bytecode: .bytecode.object, deployedBytecode: .deployedBytecode.object}' "$1" >"$2"
  }
else
  command -v node >/dev/null || die "neither jq nor node is installed"
  extract() {
    node -e '
      const fs = require("fs");
      const a = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
      const out = {abi: a.abi, bytecode: a.bytecode.object, deployedBytecode: a.deployedBytecode.object};
      fs.writeFileSync(process.argv[2], JSON.stringify(out, null, 2) + "\n");
    ' "$1" "$2"
  }
fi

mkdir -p "$OUT_DIR"
rm -f "$OUT_DIR"/*.json
for entry in "${CONTRACTS[@]}"; do
  file=${entry%%:*}
  name=${entry##*:}
  artifact=out/$(basename "$file")/$name.json
  [ -f "$artifact" ] || die "no forge artifact $artifact for $name (src/$file)"
  extract "$artifact" "$OUT_DIR/$name.json"
  grep -q '"bytecode": "0x[0-9a-f]' "$OUT_DIR/$name.json" || die "$name has no bytecode (abstract or interface?)"
done
say "exported ${#CONTRACTS[@]} artifacts into $OUT_DIR"

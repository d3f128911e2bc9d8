#!/usr/bin/env bash
# Installs the tools that the symbiote relayer's tests and devnet run against:
#   anvil, forge, cast        npm prebuilt packages of foundry
#   solc (solcjs)             npm package `solc`, wrapped for forge (contracts/solc)
#   contracts dependencies    npm package @openzeppelin/contracts, linked as contracts/node_modules
#   bitcoind, bitcoin-cli     built from the Bitcoin Core source inside the crates.io crate
#                             libbitcoinkernel-sys (no wallet: the relayer holds its own key)
#   symbiote-solana-validator tools/solana-validator, around solana-test-validator
#   PostgreSQL binaries       Debian's packages, for throw-away test clusters
#   promtool                  Debian's prometheus package, to check the relayer's /metrics
#
# Idempotent: every tool is cached outside the checkout under $SYMBIOTE_TOOLS_DIR (default
# ~/.cache/symbiote-relayer) in a folder keyed by its version, and $SYMBIOTE_TOOLS_DIR/bin holds
# links to the versions this checkout wants. A warm run only checks and finishes in seconds.
#
# Usage: tools/install.sh [all|foundry|solc|contracts|bitcoind|solana|postgres|compose|promtool]...   (default: all)
set -euo pipefail

FOUNDRY_VERSION=1.7.1
SOLC_VERSION=0.8.30
OPENZEPPELIN_VERSION=5.4.0
KERNEL_SYS_VERSION=0.4.1
SOLANA_VERSION=3.1.12

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${SYMBIOTE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/symbiote-relayer}
BIN=$TOOLS/bin
JOBS=${SYMBIOTE_BUILD_JOBS:-$(nproc)}

say() { printf '[install] %s\n' "$*" >&2; }
die() { printf '[install] error: %s\n' "$*" >&2; exit 1; }

mkdir -p "$BIN" || die "cannot create $BIN (set SYMBIOTE_TOOLS_DIR to a writable folder)"

# Debian packages, installed only when a build needs them and they are missing.
apt_updated=0
need_debs() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing Debian packages: ${missing[*]} (and no apt-get to install them)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ $apt_updated -eq 0 ]; then
    say "apt-get update"
    $sudo apt-get update -qq >/dev/null || die "apt-get update failed"
    apt_updated=1
  fi
  say "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install failed for: ${missing[*]}"
}

need_cmd() {
  command -v "$1" >/dev/null || die "'$1' is not installed; it is needed to $2"
}

# link NAME TARGET: $BIN/NAME points at TARGET, which must be executable.
link() {
  [ -x "$2" ] || die "expected an executable at $2"
  ln -sfn "$2" "$BIN/$1"
}

npm_install() { # DIR PACKAGE@VERSION...
  local dir=$1; shift
  need_cmd npm "install $*"
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error "$@" >/dev/null 2>"$dir/npm.log" \
    || { cat "$dir/npm.log" >&2; die "npm install $* failed"; }
}

install_foundry() {
  local dir=$TOOLS/foundry-$FOUNDRY_VERSION
  local mods=$dir/node_modules/@foundry-rs
  if [ ! -x "$mods/forge-linux-amd64/bin/forge" ] || [ ! -x "$mods/anvil-linux-amd64/bin/anvil" ] \
     || [ ! -x "$mods/cast-linux-amd64/bin/cast" ]; then
    say "foundry $FOUNDRY_VERSION: npm install (anvil, forge, cast)"
    npm_install "$dir" "@foundry-rs/anvil-linux-amd64@$FOUNDRY_VERSION" \
      "@foundry-rs/forge-linux-amd64@$FOUNDRY_VERSION" "@foundry-rs/cast-linux-amd64@$FOUNDRY_VERSION"
  else
    say "foundry $FOUNDRY_VERSION: cached in $dir"
  fi
  for t in anvil forge cast; do link "$t" "$mods/$t-linux-amd64/bin/$t"; done
  "$BIN/anvil" --version | grep -q "$FOUNDRY_VERSION" || die "anvil in $dir is not version $FOUNDRY_VERSION"
}

install_solc() {
  local dir=$TOOLS/solc-$SOLC_VERSION
  if [ ! -f "$dir/node_modules/solc/solc.js" ]; then
    say "solc $SOLC_VERSION: npm install solc (solcjs, works offline)"
    npm_install "$dir" "solc@$SOLC_VERSION"
  else
    say "solc $SOLC_VERSION: cached in $dir"
  fi
  # forge calls the compiler named in contracts/foundry.toml: contracts/solc, which runs this.
  link solcjs "$dir/node_modules/solc/solc.js"
  node "$dir/node_modules/solc/solc.js" --version | grep -q "^$SOLC_VERSION+" \
    || die "solcjs in $dir does not report version $SOLC_VERSION"
}

# The Solidity libraries the contracts import (foundry.toml remaps @openzeppelin/contracts/ into
# contracts/node_modules, a link to this cached folder; the link is gitignored).
install_contracts() {
  local dir=$TOOLS/contracts-npm-$OPENZEPPELIN_VERSION
  local pkg=$dir/node_modules/@openzeppelin/contracts
  if [ -f "$pkg/package.json" ] && grep -q "\"version\": \"$OPENZEPPELIN_VERSION\"" "$pkg/package.json"; then
    say "contracts: @openzeppelin/contracts $OPENZEPPELIN_VERSION cached in $dir"
  else
    say "contracts: npm install @openzeppelin/contracts@$OPENZEPPELIN_VERSION"
    npm_install "$dir" "@openzeppelin/contracts@$OPENZEPPELIN_VERSION"
    grep -q "\"version\": \"$OPENZEPPELIN_VERSION\"" "$pkg/package.json" \
      || die "npm did not install @openzeppelin/contracts $OPENZEPPELIN_VERSION into $dir"
  fi
  local link=$ROOT/contracts/node_modules
  if [ -e "$link" ] && [ ! -L "$link" ]; then
    die "$link exists and is not a link: remove it, it is replaced by a link to $dir/node_modules"
  fi
  if [ "$(readlink "$link" 2>/dev/null || true)" != "$dir/node_modules" ]; then
    say "contracts: linking contracts/node_modules -> $dir/node_modules"
    ln -sfn "$dir/node_modules" "$link"
  fi
}

# Unpacks a crate from crates.io into DEST, through cargo (the registry client), not by URL.
fetch_crate() { # NAME VERSION DEST
  local name=$1 version=$2 dest=$3 tmp
  need_cmd cargo "download the $name crate"
  tmp=$(mktemp -d)
  mkdir -p "$tmp/src"
  printf '[package]\nname = "fetch-%s"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\n%s = "=%s"\n' \
    "$name" "$name" "$version" >"$tmp/Cargo.toml"
  : >"$tmp/src/lib.rs"
  (cd "$tmp" && cargo fetch --quiet) || die "cargo could not download $name $version"
  local crate
  crate=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/cache" -name "$name-$version.crate" | head -n 1)
  [ -n "$crate" ] || die "downloaded $name $version but cannot find its .crate file"
  mkdir -p "$dest"
  tar -xzf "$crate" -C "$dest" || die "cannot unpack $crate"
  rm -rf "$tmp"
}

install_bitcoind() {
  local dir=$TOOLS/bitcoind-kernel-sys-$KERNEL_SYS_VERSION
  if [ -x "$dir/bin/bitcoind" ] && [ -x "$dir/bin/bitcoin-cli" ]; then
    say "bitcoind: cached in $dir"
  else
    need_debs cmake g++ make pkg-config libboost-dev libevent-dev
    local work=$TOOLS/build/bitcoind-kernel-sys-$KERNEL_SYS_VERSION
    local src=$work/libbitcoinkernel-sys-$KERNEL_SYS_VERSION/bitcoin
    if [ ! -f "$src/CMakeLists.txt" ]; then
      say "bitcoind: fetching the Bitcoin Core source in crate libbitcoinkernel-sys $KERNEL_SYS_VERSION"
      rm -rf "$work"
      fetch_crate libbitcoinkernel-sys "$KERNEL_SYS_VERSION" "$work"
      [ -f "$src/CMakeLists.txt" ] || die "crate libbitcoinkernel-sys $KERNEL_SYS_VERSION has no bitcoin/CMakeLists.txt"
    fi
    say "bitcoind: building with cmake on $JOBS jobs (about 6 minutes on 2 cores; log in $work/build.log)"
    {
      cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
        -DBUILD_DAEMON=ON -DBUILD_CLI=ON -DENABLE_WALLET=OFF -DWITH_EMBEDDED_ASMAP=OFF \
        -DENABLE_IPC=OFF -DWITH_ZMQ=OFF -DBUILD_KERNEL_LIB=OFF -DBUILD_TESTS=OFF \
        -DBUILD_BENCH=OFF -DBUILD_GUI=OFF -DBUILD_TX=OFF -DBUILD_UTIL=OFF \
        -DBUILD_WALLET_TOOL=OFF -DBUILD_FUZZ_BINARY=OFF -DBUILD_UTIL_CHAINSTATE=OFF &&
      cmake --build "$work/build" -j "$JOBS" --target bitcoind bitcoin-cli
    } >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; die "building bitcoind failed (log: $work/build.log)"; }
    mkdir -p "$dir/bin"
    cp "$work/build/bin/bitcoind" "$work/build/bin/bitcoin-cli" "$dir/bin/"
    rm -rf "$work"
  fi
  link bitcoind "$dir/bin/bitcoind"
  link bitcoin-cli "$dir/bin/bitcoin-cli"
  "$BIN/bitcoind" -version | head -n 1 >&2 || die "$dir/bin/bitcoind does not run"
}

install_solana() {
  local project=$ROOT/tools/solana-validator
  local key
  key=$(cat "$project/Cargo.toml" "$project/Cargo.lock" "$project/src/main.rs" | sha256sum | cut -c1-12)
  local dir=$TOOLS/solana-validator-$SOLANA_VERSION-$key
  if [ -x "$dir/bin/symbiote-solana-validator" ]; then
    say "solana test validator $SOLANA_VERSION: cached in $dir"
  else
    need_cmd cargo "build the Solana test validator"
    need_debs clang libclang-dev libssl-dev libudev-dev protobuf-compiler pkg-config
    local target=$TOOLS/build/solana-validator
    say "solana test validator $SOLANA_VERSION: cargo build --release (about 22 minutes cold on 2 cores; log in $target.log)"
    mkdir -p "$TOOLS/build"
    (cd "$project" && cargo build --release --locked -j "$JOBS" --target-dir "$target") >"$target.log" 2>&1 \
      || { tail -n 40 "$target.log" >&2; die "building the Solana test validator failed (log: $target.log)"; }
    mkdir -p "$dir/bin"
    cp "$target/release/symbiote-solana-validator" "$dir/bin/"
  fi
  link symbiote-solana-validator "$dir/bin/symbiote-solana-validator"
}

install_postgres() {
  local initdb
  initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$initdb" ]; then
    need_debs postgresql
    initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$initdb" ] || die "installed Debian's postgresql but found no /usr/lib/postgresql/*/bin/initdb"
  fi
  local pgbin
  pgbin=$(dirname "$initdb")
  say "postgresql: $pgbin"
  for t in initdb pg_ctl postgres; do link "$t" "$pgbin/$t"; done
}

install_promtool() {
  # Checks the relayer's Prometheus exposition (relayer/tests/docs/metrics.rs).
  command -v promtool >/dev/null || need_debs prometheus
  local promtool
  promtool=$(command -v promtool) || die "installed Debian's prometheus but found no promtool"
  link promtool "$promtool"
  say "promtool: $promtool"
}

install_compose() {
  # Validates docker-compose.yml without a Docker engine (`docker-compose config`).
  command -v docker-compose >/dev/null || need_debs docker-compose
  say "docker-compose: $(command -v docker-compose)"
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(all)
start=$(date +%s)
for t in "${targets[@]}"; do
  case $t in
    all) install_foundry; install_solc; install_contracts; install_postgres; install_compose; install_promtool; install_bitcoind; install_solana ;;
    foundry) install_foundry ;;
    solc) install_solc ;;
    contracts) install_contracts ;;
    bitcoind) install_bitcoind ;;
    solana) install_solana ;;
    postgres) install_postgres ;;
    compose) install_compose ;;
    promtool) install_promtool ;;
    *) die "unknown tool '$t' (expected all, foundry, solc, contracts, bitcoind, solana, postgres, compose or promtool)" ;;
  esac
done
say "tools ready in $BIN ($(($(date +%s) - start))s)"

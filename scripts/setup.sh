#!/usr/bin/env bash
# Takes a fresh machine of this kind to ready: wasm32 target, trunk, wasm-bindgen-cli matching
# Cargo.lock, Debian's Chromium and ChromeDriver, and the npm packages of the end-to-end tests
# (playwright-core, and binaryen for wasm-opt). Every step checks first and skips what is already
# there, so a second run on a ready machine takes seconds.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

TRUNK_VERSION=0.21.14
say() { printf '[setup] %s\n' "$*"; }
export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# Debian's Chromium and ChromeDriver: the only browser that works offline here (Playwright's own
# download and Trunk's tool download both reach outside the registries and fail).
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  say "installing chromium and chromium-driver from Debian"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# trunk 0.22 needs a newer rustc than this machine's, so the version is pinned.
if ! trunk --version 2>/dev/null | grep -q " $TRUNK_VERSION"; then
  say "installing trunk $TRUNK_VERSION (about 5 minutes)"
  cargo install trunk --version "$TRUNK_VERSION" --locked --quiet
fi

# Trunk.toml sets `offline = true`, and Trunk then builds with `cargo build --offline`: download
# every crate of Cargo.lock, for every target, beforehand (a no-op when they are all there).
cargo fetch --quiet

# wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock exactly. Its own lockfile pins
# a crate that the registry no longer has, so it is installed without --locked.
wb_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)"
if [ -z "$wb_version" ]; then
  echo "[setup] could not read the wasm-bindgen version from Cargo.lock" >&2
  exit 1
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q " $wb_version\$"; then
  say "installing wasm-bindgen-cli $wb_version (about 2 minutes)"
  cargo install wasm-bindgen-cli --version "$wb_version" --quiet
fi

# npm packages of the end-to-end tests: playwright-core (driving Debian's Chromium, never
# downloading a browser) and binaryen, whose wasm-opt understands rustc 1.95's output.
if [ ! -x tests/e2e/node_modules/.bin/wasm-opt ] || [ ! -d tests/e2e/node_modules/playwright-core ] \
   || [ tests/e2e/package-lock.json -nt tests/e2e/node_modules/.package-lock.json ]; then
  say "installing the npm packages of tests/e2e"
  (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
fi

say "ready"

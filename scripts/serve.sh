#!/usr/bin/env bash
# Serves Kafka Playground at http://127.0.0.1:8080/ with a release build that Trunk rebuilds and
# reloads on every change. Takes a fresh machine to ready first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/setup.sh

# npm's wasm-opt (binaryen 132) must come before any other wasm-opt, e.g. Debian's binaryen.
export PATH="$PWD/tests/e2e/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# Trunk's update check calls a web API that these machines cannot reach.
export TRUNK_SKIP_VERSION_CHECK=true

exec trunk serve --release --address 127.0.0.1 --port 8080 "$@"

#!/usr/bin/env bash
# Every test layer of Kafka Playground, in order:
#   1. native unit and integration tests of the workspace (simulator core, CLI);
#   2. deterministic simulation testing: 1,000 random seeds (cluster, workload, faults) with the
#      invariants checked after every event, the history at the end, and each seed run twice;
#   3. browser component tests of the web crate (wasm-bindgen-test in headless Chromium);
#   4. the release bundle (trunk build --release into dist/);
#   5. the bundle-size budget and the end-to-end tests of dist/ in headless Chromium.
# The last lines printed are node's test summary. Takes a fresh machine to ready first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

header() { printf '\n==== %s ====\n' "$*"; }

header "setup (scripts/setup.sh)"
./scripts/setup.sh

# npm's wasm-opt (binaryen 132) must come before any other wasm-opt, e.g. Debian's binaryen.
export PATH="$PWD/tests/e2e/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# Trunk's update check calls a web API that these machines cannot reach.
export TRUNK_SKIP_VERSION_CHECK=true

header "1/5 native tests: cargo test --workspace"
cargo test --workspace

header "2/5 deterministic simulation testing: kafka-sim check --seeds 1000"
# Release build: the check runs about 42 million simulated events, which a debug build would take
# many minutes for. A failing seed prints the command that reproduces it.
cargo run --release -p kafka-sim-cli -- check --seeds 1000

header "3/5 browser component tests: cargo test -p kafka-playground --target wasm32-unknown-unknown --tests"
cargo test -p kafka-playground --target wasm32-unknown-unknown --tests

header "4/5 release bundle: trunk build --release"
trunk build --release

header "5/5 bundle size and end-to-end tests: node --test tests/e2e"
# Listed one by one: node 20 does not expand globs, and node 21+ reads arguments as globs only.
exec node --test --test-concurrency=1 --test-reporter=spec \
  tests/e2e/bundle-size.test.mjs tests/e2e/app.test.mjs

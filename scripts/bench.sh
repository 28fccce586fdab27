#!/usr/bin/env bash
# Benchmarks of BENCHMARKS.md, in one run so that their ratios are comparable on a noisy machine:
#   1. native: the benchmark cluster and the same read by two consumer groups
#      (core/examples/bench_cluster.rs), release build;
#   2. wasm: the same workloads in headless Chromium (web/tests/bench.rs), release build;
#   3. the page's frame time in headless Chromium (tests/e2e/frame-time.bench.mjs);
#   4. criterion benches of core, if any (cargo bench -p kafka-sim).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/setup.sh >/dev/null
export PATH="$PWD/tests/e2e/node_modules/.bin:$HOME/.cargo/bin:$PATH"
echo "== native (the benchmark cluster for 10 and 5 simulated seconds; with two groups for 5)"
cargo run -q --release -p kafka-sim --example bench_cluster -- 10000
cargo run -q --release -p kafka-sim --example bench_cluster -- 5000
cargo run -q --release -p kafka-sim --example bench_cluster -- 5000 groups
echo "== wasm in headless Chromium (the same, 5 simulated seconds each)"
cargo test --release -p kafka-playground --target wasm32-unknown-unknown --test bench -- --nocapture 2>&1 \
  | grep -E "wasm( groups)?:|test result" || true
echo "== native again, right after (the machine's noise shows in the spread)"
cargo run -q --release -p kafka-sim --example bench_cluster -- 5000
cargo run -q --release -p kafka-sim --example bench_cluster -- 5000 groups
echo "== the page in headless Chromium (frame time at 20x speed)"
TRUNK_SKIP_VERSION_CHECK=true trunk build --release >/dev/null 2>&1
node tests/e2e/frame-time.bench.mjs
if ls core/benches/*.rs >/dev/null 2>&1; then
  echo "== criterion"
  cargo bench -q -p kafka-sim
fi

//! Wasm half of the throughput benchmark, in headless Chromium: the same benchmark cluster as
//! `core/examples/bench_cluster.rs`, timed with `performance.now()`. `scripts/bench.sh` runs both
//! in one go and reports the ratio (BENCHMARKS.md). As a test it also checks that the run makes
//! progress: every record produced in the measured window is acknowledged.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

// Only in release builds (scripts/bench.sh): a debug build is an order of magnitude slower and
// would measure nothing useful.
#[cfg(not(debug_assertions))]
#[wasm_bindgen_test]
fn wasm_throughput_of_the_benchmark_cluster() {
    let performance = web_sys::window().unwrap().performance().unwrap();
    // A first, unmeasured run lets the browser finish compiling the module with its optimizing
    // tier; without it the number swings with how far tier-up got (0.4x to 0.8x of native).
    kafka_sim::builtin::run_benchmark(2_000, || performance.now() / 1_000.0);
    let r = kafka_sim::builtin::run_benchmark(5_000, || performance.now() / 1_000.0);
    console_log!(
        "wasm: {} simulated ms in {:.3} s wall = {:.1}x real time; {} records acknowledged; {} events",
        r.sim_ms,
        r.wall_s,
        r.speed(),
        r.acked,
        r.events
    );
    // 10,000 records/s for 5 s: allow for the batches in flight at either end of the window.
    assert!(
        r.acked > 45_000,
        "only {} records acknowledged in {} ms",
        r.acked,
        r.sim_ms
    );
}

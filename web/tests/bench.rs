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
    let sim_ms: u64 = 5_000;
    let mut run = kafka_sim::builtin::benchmark_cluster().start(1).unwrap();
    run.advance_to(kafka_sim::SimTime::from_ms(1_000));
    let acked_before: u64 = run.sim.producers().iter().map(|p| p.stats.acked).sum();
    let start = performance.now();
    run.advance_to(kafka_sim::SimTime::from_ms(1_000 + sim_ms));
    let wall_s = (performance.now() - start) / 1_000.0;
    let acked: u64 = run
        .sim
        .producers()
        .iter()
        .map(|p| p.stats.acked)
        .sum::<u64>()
        - acked_before;
    console_log!(
        "wasm: {} simulated ms in {:.3} s wall = {:.1}x real time; {} records acknowledged; {} events",
        sim_ms,
        wall_s,
        sim_ms as f64 / 1_000.0 / wall_s,
        acked,
        run.sim.steps()
    );
    // 10,000 records/s for 5 s: allow for the batches in flight at either end of the window.
    assert!(
        acked > 45_000,
        "only {acked} records acknowledged in {sim_ms} ms"
    );
}

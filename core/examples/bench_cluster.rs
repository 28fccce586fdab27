//! Native half of the throughput benchmark (scripts/bench.sh runs it next to the wasm half):
//! simulated seconds per wall second for `kafka_sim::builtin::benchmark_cluster`.

use std::time::Instant;

fn main() {
    let sim_ms: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let scenario = kafka_sim::builtin::benchmark_cluster();
    let mut run = scenario.start(1).expect("the benchmark cluster builds");
    // Warm up past topic creation and metadata, then measure.
    run.advance_to(kafka_sim::SimTime::from_ms(1_000));
    let acked_before: u64 = run.sim.producers().iter().map(|p| p.stats.acked).sum();
    let start = Instant::now();
    run.advance_to(kafka_sim::SimTime::from_ms(1_000 + sim_ms));
    let wall = start.elapsed().as_secs_f64();
    let acked: u64 = run
        .sim
        .producers()
        .iter()
        .map(|p| p.stats.acked)
        .sum::<u64>()
        - acked_before;
    println!(
        "native: {} simulated ms in {:.3} s wall = {:.1}x real time; {} records acknowledged ({:.0} records/s wall); {} events",
        sim_ms,
        wall,
        sim_ms as f64 / 1_000.0 / wall,
        acked,
        acked as f64 / wall,
        run.sim.steps()
    );
}

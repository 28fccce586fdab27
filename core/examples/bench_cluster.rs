//! Native half of the throughput benchmarks (scripts/bench.sh runs it next to the wasm half):
//! simulated seconds per wall second for `kafka_sim::builtin::benchmark_cluster` (issue 3's
//! floor), or with `groups` for `kafka_sim::builtin::benchmark_groups`, the same cluster read by
//! two consumer groups (issue 4's producer and consumer throughput).
//!
//! Each workload runs three times and the fastest run is reported, as the wasm half does.
//!
//! Run: `cargo run --release -p kafka-sim --example bench_cluster -- [SIM_MS] [groups]`.

use std::time::Instant;

// Native binaries run on mimalloc, as the CLI does (see the workspace's Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sim_ms: u64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(10_000);
    let groups = args.iter().any(|a| a == "groups");
    let origin = Instant::now();
    let clock = || origin.elapsed().as_secs_f64();
    let (label, r) = if groups {
        // Members join after the initial rebalance delay (3 s), so the measurement starts later.
        let scenario = kafka_sim::builtin::benchmark_groups();
        (
            "native groups",
            kafka_sim::builtin::best_of(3, || {
                kafka_sim::builtin::run_benchmark_of(&scenario, 6_000, sim_ms, clock)
            }),
        )
    } else {
        (
            "native",
            kafka_sim::builtin::best_of(3, || kafka_sim::builtin::run_benchmark(sim_ms, clock)),
        )
    };
    println!(
        "{label}: {} simulated ms in {:.3} s wall = {:.1}x real time; {} records acknowledged, {} consumed ({:.0} records/s wall); {} events",
        r.sim_ms,
        r.wall_s,
        r.speed(),
        r.acked,
        r.consumed,
        r.records_per_wall_second(),
        r.events
    );
}

//! Native half of the throughput benchmark (scripts/bench.sh runs it next to the wasm half):
//! simulated seconds per wall second for `kafka_sim::builtin::benchmark_cluster`.

use std::time::Instant;

// Native binaries run on mimalloc, as the CLI does (see the workspace's Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let sim_ms: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let origin = Instant::now();
    let r = kafka_sim::builtin::run_benchmark(sim_ms, || origin.elapsed().as_secs_f64());
    println!(
        "native: {} simulated ms in {:.3} s wall = {:.1}x real time; {} records acknowledged ({:.0} records/s wall); {} events",
        r.sim_ms,
        r.wall_s,
        r.speed(),
        r.acked,
        r.acked as f64 / r.wall_s,
        r.events
    );
}

//! How fast the simulator runs, natively (BENCHMARKS.md records the results).
//!
//! - `replication`: issue 3's workload exactly, `kafka_sim::builtin::benchmark_cluster`: 6 brokers,
//!   3 topics × 12 partitions × RF 3 (min.insync.replicas=2), two keyed acks=all producers writing
//!   10,000 records/s in total, no consumer (the example `bench_cluster` runs the same). Each
//!   iteration simulates 5 seconds from the same warm state (1 simulated second in); criterion's
//!   throughput is in simulated milliseconds per wall second, so "Kelem/s" reads directly as
//!   simulated seconds per wall second. The floor is 100× real time.
//! - `dst`: `kafka-sim check` on one thread: each iteration checks the same 4 seeds (generate,
//!   run with invariants after every event, check the history, run again and compare trace
//!   hashes); "elem/s" is seeds per second.
//!
//! Run: `cargo bench -p kafka-sim --bench throughput`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kafka_sim::dst::{check_seed, CheckOptions};
use kafka_sim::Simulation;
use std::hint::black_box;
use std::time::Duration;

// Native binaries run on mimalloc, as the CLI does (see the workspace's Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Simulated milliseconds per iteration of the replication benchmark.
const SIMULATED_MS: u64 = 5_000;

/// The benchmark cluster after 1 simulated second, as `builtin::run_benchmark` warms it: leaders
/// are known and the producers have metadata. The scenario has no timeline, so running its
/// simulation on is the same as running the scenario.
fn loaded_cluster() -> Simulation {
    let mut run = kafka_sim::builtin::benchmark_cluster()
        .start(1)
        .expect("the benchmark scenario is valid");
    run.advance_to(kafka_sim::SimTime::from_ms(1_000));
    run.sim
}

fn replication(c: &mut Criterion) {
    let warm = loaded_cluster();
    // The load must really flow, or the benchmark would time an idle cluster.
    let mut probe = warm.clone();
    probe.run_for_ms(SIMULATED_MS);
    let acked: u64 = probe.producers().iter().map(|p| p.stats.acked).sum();
    let before: u64 = warm.producers().iter().map(|p| p.stats.acked).sum();
    assert!(
        acked - before > 45_000,
        "only {} records acknowledged in {SIMULATED_MS} ms",
        acked - before
    );
    let mut group = c.benchmark_group("replication");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(SIMULATED_MS));
    group.bench_function(
        "6 brokers, 36 partitions RF 3, 10k records/s acks=all, 5 s",
        |b| {
            // By reference, so that dropping each iteration's world (36 × 3 logs) is not
            // timed: a running simulation is not thrown away every 5 simulated seconds.
            b.iter_batched_ref(
                || warm.clone(),
                |sim| {
                    sim.run_for_ms(SIMULATED_MS);
                    black_box(sim.steps())
                },
                BatchSize::PerIteration,
            )
        },
    );
    group.finish();
}

fn dst(c: &mut Criterion) {
    let options = CheckOptions::default();
    let mut group = c.benchmark_group("dst");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(4));
    group.bench_function("check seeds 0..4, one thread", |b| {
        b.iter(|| {
            for seed in 0..4 {
                let report = check_seed(seed, &options);
                assert!(report.passed(), "seed {seed}: {:?}", report.failures);
                black_box(report.steps);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, replication, dst);
criterion_main!(benches);

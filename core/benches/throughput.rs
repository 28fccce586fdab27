//! How fast the simulator runs, natively (BENCHMARKS.md records the results).
//!
//! - `replication`: a 6-broker cluster with 3 topics × 12 partitions × RF 3
//!   (min.insync.replicas=2), three keyed acks=all producers writing 10,000 records/s in total,
//!   and one consumer. Each iteration simulates 5 seconds from the same warm state; criterion's
//!   throughput is in simulated milliseconds per wall second, so "Kelem/s" reads directly as
//!   simulated seconds per wall second. The floor is 100× real time.
//! - `dst`: `kafka-sim check` on one thread: each iteration checks the same 4 seeds (generate,
//!   run with invariants after every event, check the history, run again and compare trace
//!   hashes); "elem/s" is seeds per second.
//!
//! Run: `cargo bench -p kafka-sim --bench throughput`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kafka_sim::config::{BrokerConfig, ConsumerConfig, ProducerConfig, TopicConfig};
use kafka_sim::consumer::ConsumerSpec;
use kafka_sim::dst::{check_seed, CheckOptions};
use kafka_sim::producer::ProducerSpec;
use kafka_sim::Simulation;
use std::hint::black_box;
use std::time::Duration;

// Native binaries run on mimalloc, as the CLI does (see the workspace's Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Simulated milliseconds per iteration of the replication benchmark.
const SIMULATED_MS: u64 = 5_000;

/// The loaded cluster, after 2 simulated seconds so that leaders are known, producers have
/// metadata and the consumer has its positions.
fn loaded_cluster() -> Simulation {
    let mut sim = Simulation::new(6, BrokerConfig::default(), 1).expect("6 brokers");
    for t in 0..3 {
        let config = TopicConfig {
            min_insync_replicas: Some(2),
            ..TopicConfig::default()
        };
        sim.create_topic(&format!("t{t}"), 12, 3, config)
            .expect("topic");
        sim.add_producer(ProducerSpec {
            client_id: format!("p{t}"),
            topic: format!("t{t}"),
            // 3,334 + 3,333 + 3,333 = 10,000 records per second in total.
            rate_per_sec: if t == 0 { 3_334 } else { 3_333 },
            keys: 1_000,
            record_bytes: 100,
            tombstone_per_mille: 0,
            hot_key_per_mille: 0,
            config: ProducerConfig::default(),
        })
        .expect("producer");
    }
    let mut config = ConsumerConfig::default();
    config.set("auto.offset.reset", "earliest").expect("valid");
    sim.add_consumer(ConsumerSpec {
        client_id: "c".to_string(),
        group: "g".to_string(),
        subscribe: false,
        topic: "t0".to_string(),
        config,
    })
    .expect("consumer");
    sim.run_for_ms(2_000);
    sim
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
            b.iter_batched(
                || warm.clone(),
                |mut sim| {
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

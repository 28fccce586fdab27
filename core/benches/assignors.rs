//! How long one assignor call takes for a large group: 1,000 partitions and 100 members
//! (BENCHMARKS.md records the results).
//!
//! Topics `t0`..`t9` have 100 partitions each; members `consumer000`..`consumer099`.
//! - `fresh`: every member subscribes to all ten topics and owns nothing (a group's first
//!   rebalance); the sticky assignors take their constrained path.
//! - `member_joins`: 99 members own the sticky assignment they had among themselves and
//!   `consumer099` joins with nothing (the sticky assignors' usual rebalance).
//! - `unequal`: member `i` subscribes to the five topics `t(i mod 10)`..`t(i+4 mod 10)` and owns
//!   nothing, so the sticky assignors take their general path (balance, then moves).
//!
//! Run: `cargo bench -p kafka-sim --bench assignors`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kafka_sim::assignor::{Assignor, GroupSubscription, MemberSubscription};
use std::hint::black_box;
use std::time::Duration;

// Native binaries run on mimalloc, as the CLI does (see the workspace's Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TOPICS: usize = 10;
const PARTITIONS_PER_TOPIC: u32 = 100;
const MEMBERS: usize = 100;

fn group(subscriptions: impl Fn(usize) -> Vec<String>) -> GroupSubscription {
    let mut group = GroupSubscription::default();
    for t in 0..TOPICS {
        group
            .partitions_per_topic
            .insert(format!("t{t}"), PARTITIONS_PER_TOPIC);
    }
    for m in 0..MEMBERS {
        group.members.push(MemberSubscription::new(
            format!("consumer{m:03}"),
            subscriptions(m),
        ));
    }
    group
}

fn all_topics(_: usize) -> Vec<String> {
    (0..TOPICS).map(|t| format!("t{t}")).collect()
}

fn half_of_the_topics(member: usize) -> Vec<String> {
    (0..5)
        .map(|k| format!("t{}", (member + k) % TOPICS))
        .collect()
}

/// The group after the 99 first members settled: each owns its sticky share, in generation 1.
fn member_joins() -> GroupSubscription {
    let mut group = group(all_topics);
    let newcomer = group.members.pop().expect("members");
    let settled = Assignor::Sticky.assign(&group).expect("assignment");
    for member in &mut group.members {
        member.owned_partitions = settled.assignment[&member.member_id].clone();
        member.generation = Some(1);
    }
    group.members.push(newcomer);
    group
}

fn bench(c: &mut Criterion, name: &str, group: &GroupSubscription, assignors: &[Assignor]) {
    let mut bench_group = c.benchmark_group(name);
    bench_group.sample_size(20);
    bench_group.warm_up_time(Duration::from_secs(1));
    bench_group.measurement_time(Duration::from_secs(3));
    // Throughput in partitions assigned per second.
    bench_group.throughput(Throughput::Elements(
        TOPICS as u64 * u64::from(PARTITIONS_PER_TOPIC),
    ));
    for &assignor in assignors {
        bench_group.bench_function(assignor.name(), |b| {
            b.iter(|| assignor.assign(black_box(group)).expect("assignment"))
        });
    }
    bench_group.finish();
}

fn assignors(c: &mut Criterion) {
    bench(c, "fresh", &group(all_topics), &Assignor::ALL);
    bench(
        c,
        "member_joins",
        &member_joins(),
        &[Assignor::Sticky, Assignor::CooperativeSticky],
    );
    bench(c, "unequal", &group(half_of_the_topics), &Assignor::ALL);
}

criterion_group!(benches, assignors);
criterion_main!(benches);

//! The built-in partitioner as Kafka's `BuiltInPartitioner` and `RecordAccumulator` run it
//! (KIP-480, KIP-794): when records without a key switch partition, how adaptive partitioning
//! weighs the next one, `partitioner.ignore.keys`, and the workload's hot key.

use kafka_sim::history::{Operation, SendOutcome};
use kafka_sim::partitioner::{partition_for_key, PartitionLoadStats, StickyPartitioner};
use kafka_sim::rng::SimRng;
use kafka_sim::scenario::{Scenario, ScenarioRun};
use kafka_sim::SimTime;

/// Three brokers and topic `t` with six single-replica partitions, two led by each broker (0 and 1
/// by broker 1, 2 and 3 by broker 2, 4 and 5 by broker 3), producer `p` with the given fields, and
/// `rest` (timeline entries) after it.
fn scenario(producer: &str, rest: &str) -> Scenario {
    let text = format!(
        r#"
version = 1
name = "partitioner"
[cluster]
brokers = 3
[[topics]]
name = "t"
partitions = 6
replication_factor = 1
assignment = [[1], [1], [2], [2], [3], [3]]
[[producers]]
client_id = "p"
topic = "t"
{producer}
{rest}
"#
    );
    Scenario::parse(&text).unwrap()
}

fn run(producer: &str, rest: &str, until_ms: u64) -> ScenarioRun {
    let mut run = scenario(producer, rest).start(1).unwrap();
    run.advance_to(SimTime::from_ms(until_ms));
    run
}

/// The partition of every record producer 0 created, in creation order, read from the
/// acknowledgements in the history. Every record created must have been acknowledged.
fn partitions_in_creation_order(run: &ScenarioRun) -> Vec<u32> {
    let mut sends: Vec<(u64, u32)> = run
        .sim
        .history()
        .operations()
        .iter()
        .filter_map(|op| match op {
            Operation::Send {
                producer: 0,
                partition,
                value,
                outcome: SendOutcome::Ok { .. },
            } => Some((*value, partition.partition)),
            _ => None,
        })
        .collect();
    sends.sort_unstable();
    let sent = run.sim.producers()[0].stats.sent;
    assert_eq!(sends.len() as u64, sent, "every record is acknowledged");
    // Producer 0's values are numbered from zero in creation order.
    assert!(sends.iter().enumerate().all(|(i, (v, _))| *v == i as u64));
    sends.into_iter().map(|(_, p)| p).collect()
}

/// The positions (record numbers) at which the partition changes.
fn changes(partitions: &[u32]) -> Vec<usize> {
    (1..partitions.len())
        .filter(|&i| partitions[i] != partitions[i - 1])
        .collect()
}

// ---- The partitioner on its own ----

#[test]
fn load_stats_weigh_partitions_by_the_inverse_of_their_queues() {
    // BuiltInPartitionerTest#adaptivePartitionsTest: queue sizes 5, 0, 3, 0, 1 give weights
    // 6 − size = 1, 6, 3, 6, 5, so 21 consecutive random numbers pick each that often.
    let stats = PartitionLoadStats::from_queue_sizes([(0, 5), (1, 0), (2, 3), (3, 0), (4, 1)], 5)
        .expect("unequal queues are weighed");
    assert_eq!(stats.total_weight(), 21);
    let mut picks = [0u32; 5];
    for random in 0..21 {
        picks[stats.pick(random) as usize] += 1;
    }
    assert_eq!(picks, [1, 6, 3, 6, 5]);
    // Partition ids need not be consecutive: those without a leader are simply absent.
    let stats = PartitionLoadStats::from_queue_sizes([(1, 0), (4, 2)], 6).unwrap();
    assert_eq!(stats.partitions(), &[1, 4]);
    assert_eq!(stats.total_weight(), 3 + 1);
    assert_eq!(
        (0..4).map(|r| stats.pick(r)).collect::<Vec<_>>(),
        [1, 1, 1, 4]
    );
}

#[test]
fn load_stats_are_left_out_where_kafka_leaves_them_out() {
    // Equal queues over every partition: uniform, no table.
    assert!(PartitionLoadStats::from_queue_sizes([(0, 2), (1, 2), (2, 2)], 3).is_none());
    // A topic with one partition.
    assert!(PartitionLoadStats::from_queue_sizes([(0, 4)], 1).is_none());
    // No partition may be chosen (none has a leader).
    assert!(PartitionLoadStats::from_queue_sizes([], 4).is_none());
    // Equal queues, but a partition is left out: the table keeps it from being chosen.
    let stats = PartitionLoadStats::from_queue_sizes([(0, 0), (2, 0)], 3).unwrap();
    assert_eq!((0..2).map(|r| stats.pick(r)).collect::<Vec<_>>(), [0, 2]);
}

#[test]
fn the_sticky_partition_switches_after_batch_size_only_when_the_batch_is_full() {
    let mut rng = SimRng::from_seed(3);
    let mut sticky = StickyPartitioner::default();
    let all = || (0..6).collect::<Vec<u32>>();
    let first = sticky.peek(&mut rng, 6, all);
    assert_eq!(sticky.current(), Some(first));
    // 600 + 600 bytes pass batch.size (1,000), but the partition's last batch is not full.
    assert!(!sticky.update(&mut rng, 600, 1_000, false, 6, all));
    assert!(!sticky.update(&mut rng, 600, 1_000, false, 6, all));
    assert_eq!(sticky.produced_bytes(), 1_200);
    // The accumulator's check before the next append finds the batch gone: the switch completes.
    assert!(sticky.update(&mut rng, 0, 1_000, true, 6, all));
    assert_eq!(sticky.produced_bytes(), 0);
    // Full batches but fewer than batch.size bytes: no switch.
    assert!(!sticky.update(&mut rng, 999, 1_000, true, 6, all));
    assert!(sticky.update(&mut rng, 1, 1_000, true, 6, all));
}

#[test]
fn the_sticky_partition_switches_at_twice_batch_size_whatever_the_batch() {
    let mut rng = SimRng::from_seed(4);
    let mut sticky = StickyPartitioner::default();
    let all = || (0..6).collect::<Vec<u32>>();
    sticky.peek(&mut rng, 6, all);
    assert!(!sticky.update(&mut rng, 1_999, 1_000, false, 6, all));
    assert!(sticky.update(&mut rng, 1, 1_000, false, 6, all));
}

#[test]
fn without_load_stats_the_next_partition_is_one_with_a_leader() {
    let mut rng = SimRng::from_seed(5);
    let mut sticky = StickyPartitioner::default();
    let mut seen = [0u32; 6];
    sticky.peek(&mut rng, 6, || vec![1, 3]);
    for _ in 0..1_000 {
        assert!(sticky.update(&mut rng, 10, 10, true, 6, || vec![1, 3]));
        seen[sticky.current().unwrap() as usize] += 1;
    }
    assert_eq!(seen[0] + seen[2] + seen[4] + seen[5], 0, "{seen:?}");
    assert!(seen[1] > 400 && seen[3] > 400, "{seen:?}");
    // With no partition led, any partition may be chosen.
    let mut any = [0u32; 6];
    for _ in 0..1_200 {
        sticky.update(&mut rng, 10, 10, true, 6, Vec::new);
        any[sticky.current().unwrap() as usize] += 1;
    }
    assert!(any.iter().all(|&n| n > 120), "{any:?}");
}

// ---- The switching rule in a running producer ----

/// Runs a producer of records without a key for 10 s at 200 records/s, then lets everything it
/// created be acknowledged, and returns the positions of its partition changes and the number of
/// records.
fn switches(record_bytes: u32, batch_size: u32, linger_ms: u32) -> (Vec<usize>, usize) {
    let producer = format!(
        "rate_per_sec = 200\nrecord_bytes = {record_bytes}\n\
         config = {{ \"batch.size\" = {batch_size}, \"linger.ms\" = {linger_ms} }}"
    );
    let pause = r#"
[[timeline]]
at_ms = 10000
action = "set-producer-rate"
producer = "p"
rate_per_sec = 0
"#;
    let run = run(&producer, pause, 10_000 + u64::from(linger_ms) + 5_000);
    let partitions = partitions_in_creation_order(&run);
    (changes(&partitions), partitions.len())
}

#[test]
fn records_without_a_key_switch_partition_after_each_full_batch() {
    // 100-byte records fill a 1,000-byte batch exactly: the tenth record fills it, and the
    // partition switches right after it.
    let (at, records) = switches(100, 1_000, 60_000);
    assert_eq!(records, 2_001);
    assert!(at.iter().all(|i| i % 10 == 0), "{at:?}");
    // 200 switches, each to one of six partitions: a few pick the partition they leave.
    assert!(at.len() >= 150, "{} changes", at.len());
}

#[test]
fn a_batch_that_is_not_full_holds_the_switch_back_up_to_twice_batch_size() {
    // 300-byte records: a 1,000-byte batch takes three (900 bytes) and is full only when the
    // fourth opens another. After four records (1,200 bytes) the new batch is open, so the switch
    // waits; with a long linger.ms it never goes out early, and the seventh record (2,100 bytes,
    // past 2 × batch.size) switches regardless.
    let (at, records) = switches(300, 1_000, 60_000);
    assert_eq!(records, 2_001);
    assert!(at.iter().all(|i| i % 7 == 0), "{at:?}");
    assert!(at.len() >= 200, "{} changes", at.len());
}

#[test]
fn a_held_back_switch_completes_once_the_open_batch_has_gone_out() {
    // As above, but with linger.ms=0 each record's batch goes out at once: after the fourth
    // record (1,200 bytes) the queue is empty before the fifth, so the fifth switches.
    let (at, records) = switches(300, 1_000, 0);
    assert_eq!(records, 2_001);
    assert!(at.iter().all(|i| i % 4 == 0), "{at:?}");
    assert!(at.len() >= 350, "{} changes", at.len());
}

// ---- Adaptive partitioning ----

/// The share (per mille) of the records of a 4,000 records/s producer without keys that went to
/// broker 3's partitions (4 and 5) while broker 3 answers `latency_ms` late each way, with the
/// given producer configs.
fn slow_broker_share(latency_ms: u64, config: &str) -> u64 {
    let producer = format!(
        "rate_per_sec = 4000\nrecord_bytes = 100\n\
         config = {{ \"batch.size\" = 1000, \"linger.ms\" = 5{config} }}"
    );
    let faults = format!(
        r#"
[[timeline]]
at_ms = 1000
action = "set-latency"
node = "broker-3"
ms = {latency_ms}
[[timeline]]
at_ms = 6000
action = "set-producer-rate"
producer = "p"
rate_per_sec = 0
[[timeline]]
at_ms = 6000
action = "set-latency"
node = "broker-3"
ms = 0
"#
    );
    let run = run(&producer, &faults, 20_000);
    let partitions = partitions_in_creation_order(&run);
    // Only the records created while broker 3 was slow count.
    let slow = &partitions[4_000..];
    let on_broker_3 = slow.iter().filter(|&&p| p >= 4).count() as u64;
    on_broker_3 * 1_000 / slow.len() as u64
}

#[test]
fn adaptive_partitioning_sends_fewer_records_to_a_slow_leader() {
    let adaptive = slow_broker_share(100, "");
    let uniform = slow_broker_share(
        100,
        ", \"partitioner.adaptive.partitioning.enable\" = false",
    );
    // Uniform switches give broker 3 about a third of the records; weighing by queue sizes gives
    // it far fewer, because its batches wait while the others' go out at once.
    assert!(
        (280..=390).contains(&uniform),
        "uniform: {uniform} per mille"
    );
    assert!(
        adaptive * 2 < uniform,
        "adaptive: {adaptive}, uniform: {uniform} per mille"
    );
}

#[test]
fn the_availability_timeout_leaves_out_a_leader_that_cannot_take_batches() {
    let adaptive = slow_broker_share(500, "");
    let timeout = slow_broker_share(500, ", \"partitioner.availability.timeout.ms\" = 50");
    // At 500 ms each way, broker 3 often has batches ready and all five request slots taken
    // for longer than the timeout; its partitions with batches waiting are then not chosen at
    // all, where adaptive weighting alone still gives them a weight of one.
    assert!(
        timeout * 4 < adaptive * 3,
        "timeout: {timeout}, adaptive: {adaptive} per mille"
    );
}

// ---- Keys ----

/// `(records, records whose partition is their key's murmur2 partition)` over every leader's log.
fn records_on_their_key_partition(run: &ScenarioRun) -> (u64, u64) {
    let mut total = 0;
    let mut on_key = 0;
    for broker in run.sim.brokers() {
        for (tp, replica) in &broker.replicas {
            for record in replica.log.records() {
                let key = record.key.as_deref().expect("keyed records");
                total += 1;
                if partition_for_key(key.as_bytes(), 6) == Some(tp.partition) {
                    on_key += 1;
                }
            }
        }
    }
    (total, on_key)
}

#[test]
fn partitioner_ignore_keys_partitions_keyed_records_as_records_without_a_key() {
    let by_key = run("rate_per_sec = 1000\nkeys = 100", "", 5_000);
    let (total, on_key) = records_on_their_key_partition(&by_key);
    assert!(total > 4_000);
    assert_eq!(on_key, total, "by default a key decides its partition");

    let ignored = run(
        "rate_per_sec = 1000\nkeys = 100\nconfig = { \"partitioner.ignore.keys\" = true }",
        "",
        5_000,
    );
    let (total, on_key) = records_on_their_key_partition(&ignored);
    assert!(total > 4_000);
    // Sticky partitioning puts about one record in six on its key's partition, by chance.
    assert!(
        on_key * 4 < total,
        "{on_key} of {total} on their key's partition"
    );
    // And it sticks: the records come in runs of a batch (16,384 bytes of 100-byte records).
    let partitions = partitions_in_creation_order_acked(&ignored);
    let runs = changes(&partitions).len() + 1;
    assert!(
        partitions.len() / runs >= 100,
        "{} records in {runs} runs",
        partitions.len()
    );
}

/// As [`partitions_in_creation_order`], for a run still in progress: only the acknowledged
/// prefix of records.
fn partitions_in_creation_order_acked(run: &ScenarioRun) -> Vec<u32> {
    let mut sends: Vec<(u64, u32)> = run
        .sim
        .history()
        .operations()
        .iter()
        .filter_map(|op| match op {
            Operation::Send {
                producer: 0,
                partition,
                value,
                outcome: SendOutcome::Ok { .. },
            } => Some((*value, partition.partition)),
            _ => None,
        })
        .collect();
    sends.sort_unstable();
    let prefix = sends
        .iter()
        .enumerate()
        .take_while(|(i, (v, _))| *v == *i as u64)
        .count();
    sends.truncate(prefix);
    sends.into_iter().map(|(_, p)| p).collect()
}

/// The share (per mille) of keyed records with key `key-0`, from every leader's log.
fn key_0_share(run: &ScenarioRun) -> (u64, u64) {
    let mut total = 0;
    let mut hot = 0;
    for broker in run.sim.brokers() {
        for replica in broker.replicas.values() {
            for record in replica.log.records() {
                total += 1;
                if record.key.as_deref() == Some("key-0") {
                    hot += 1;
                }
            }
        }
    }
    (hot * 1_000 / total.max(1), total)
}

#[test]
fn a_hot_key_takes_its_share_of_keyed_records() {
    // 800 per mille hot, the rest uniform over 10 keys: key-0's share is 800 + 200 / 10 = 820 per
    // mille. Over 10,000 records its standard deviation is sqrt(0.82 × 0.18 / 10,000), about 3.8
    // per mille, so ±20 is more than five of them.
    let hot = run(
        "rate_per_sec = 2000\nkeys = 10\nhot_key_per_mille = 800",
        "",
        5_000,
    );
    let (share, total) = key_0_share(&hot);
    assert!(total >= 9_000, "{total} records");
    assert!(
        (800..=840).contains(&share),
        "key-0 share {share} per mille"
    );

    let uniform = run("rate_per_sec = 2000\nkeys = 10", "", 5_000);
    let (share, _) = key_0_share(&uniform);
    assert!((80..=120).contains(&share), "key-0 share {share} per mille");
}

#[test]
fn an_all_hot_producer_writes_one_partition() {
    let hot = run(
        "rate_per_sec = 1000\nkeys = 50\nhot_key_per_mille = 1000",
        "",
        3_000,
    );
    let key_0 = partition_for_key(b"key-0", 6).unwrap();
    let partitions = partitions_in_creation_order_acked(&hot);
    assert!(partitions.len() > 2_000);
    assert!(partitions.iter().all(|&p| p == key_0));
}

// ---- Bad values ----

/// The error a scenario with this producer gets (they are found when the file is read).
fn start_error(producer: &str) -> String {
    let text = format!(
        "version = 1\nname = \"bad\"\n[cluster]\nbrokers = 1\n[[topics]]\nname = \"t\"\n\
         partitions = 2\nreplication_factor = 1\n[[producers]]\nclient_id = \"p\"\n\
         topic = \"t\"\n{producer}\n"
    );
    Scenario::parse(&text)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

#[test]
fn bad_partitioner_settings_are_refused_naming_the_field() {
    let too_hot = start_error("rate_per_sec = 1\nkeys = 10\nhot_key_per_mille = 1001");
    assert!(too_hot.contains("producers[0]"), "{too_hot}");
    assert!(too_hot.contains("hot_key_per_mille"), "{too_hot}");
    assert!(too_hot.contains("1001"), "{too_hot}");

    let no_keys = start_error("rate_per_sec = 1\nhot_key_per_mille = 500");
    assert!(no_keys.contains("hot_key_per_mille"), "{no_keys}");
    assert!(no_keys.contains("keys"), "{no_keys}");

    let negative =
        start_error("rate_per_sec = 1\nconfig = { \"partitioner.availability.timeout.ms\" = -1 }");
    assert!(
        negative.contains("partitioner.availability.timeout.ms"),
        "{negative}"
    );

    let not_bool =
        start_error("rate_per_sec = 1\nconfig = { \"partitioner.ignore.keys\" = \"maybe\" }");
    assert!(not_bool.contains("partitioner.ignore.keys"), "{not_bool}");

    let not_bool = start_error(
        "rate_per_sec = 1\nconfig = { \"partitioner.adaptive.partitioning.enable\" = 1 }",
    );
    assert!(
        not_bool.contains("partitioner.adaptive.partitioning.enable"),
        "{not_bool}"
    );
}

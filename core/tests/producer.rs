//! The producer client as Kafka's behaves: one request per broker, the connection's in-flight
//! limit, non-retriable errors, idempotence defaults and the broker's sequence checks.

use kafka_sim::config::{Acks, ProducerConfig};
use kafka_sim::history::{Operation, SendOutcome};
use kafka_sim::network::{NodeId, Payload};
use kafka_sim::scenario::{Scenario, ScenarioRun};
use kafka_sim::{Command, SimTime};

fn start(text: &str) -> ScenarioRun {
    Scenario::parse(text).unwrap().start(1).unwrap()
}

/// Three brokers, topic `t` with two single-replica partitions on each (0 and 1 on broker 1, 2
/// and 3 on broker 2, 4 and 5 on broker 3), and producer `p` with the given settings.
fn cluster(producer: &str) -> String {
    format!(
        r#"
version = 1
name = "producer"
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
"#
    )
}

#[test]
fn one_request_per_broker_carries_a_batch_for_each_partition_it_leads() {
    let mut run = start(&cluster("rate_per_sec = 0\nkeys = 100"));
    run.advance_to(SimTime::from_ms(1_000));
    run.sim
        .apply(Command::Produce {
            producer: "p".to_string(),
            records: 300,
        })
        .unwrap();
    let leader_of = |partition: u32| 1 + (partition / 2) as i32;
    let mut requests = 0;
    let mut with_two_batches = 0;
    while run.sim.now() < SimTime::from_ms(2_000) && run.sim.step() {
        for m in run.sim.messages_in_flight() {
            if let (NodeId::Broker(to), Payload::Produce { batches, .. }) = (m.to, &m.payload) {
                requests += 1;
                let mut partitions: Vec<u32> = batches.iter().map(|b| b.tp.partition).collect();
                assert!(
                    partitions.iter().all(|&q| leader_of(q) == to),
                    "a request to broker {to} carries a batch for a partition it does not lead: {partitions:?}"
                );
                partitions.dedup();
                assert_eq!(partitions.len(), batches.len(), "one batch per partition");
                if batches.len() == 2 {
                    with_two_batches += 1;
                }
            }
        }
    }
    assert!(requests > 0);
    assert!(
        with_two_batches > 0,
        "300 records over 6 partitions fill both partitions of a broker at once"
    );
    let p = &run.sim.producers()[0];
    assert_eq!(p.stats.acked, 300);
}

/// The most produce requests the producer had unanswered to broker 1 at any step, running 5
/// simulated seconds at 2,000 records/s into broker 1's two partitions.
fn most_in_flight_to_broker_1(max_in_flight: u32) -> u32 {
    let text = format!(
        r#"
version = 1
name = "in flight"
[cluster]
brokers = 1
[[topics]]
name = "t"
partitions = 2
replication_factor = 1
[[producers]]
client_id = "p"
topic = "t"
rate_per_sec = 2000
keys = 50
config = {{ "linger.ms" = 0, "max.in.flight.requests.per.connection" = {max_in_flight} }}
"#
    );
    let mut run = start(&text);
    let mut most = 0;
    while run.sim.now() < SimTime::from_ms(5_000) && run.sim.step() {
        most = most.max(run.sim.producers()[0].requests_in_flight(1));
    }
    assert!(run.sim.producers()[0].stats.acked > 5_000);
    most
}

#[test]
fn requests_in_flight_to_a_broker_stay_within_the_connection_limit() {
    assert_eq!(most_in_flight_to_broker_1(1), 1);
    assert_eq!(most_in_flight_to_broker_1(2), 2);
    // With the default of 5, new batches go out while earlier requests wait for the acks,
    // several per partition.
    let most = most_in_flight_to_broker_1(5);
    assert!((3..=5).contains(&most), "{most} requests in flight");
}

#[test]
fn a_record_the_log_refuses_fails_at_once_without_retries() {
    // A compacted topic refuses records without a key: INVALID_RECORD is not retriable.
    let text = r#"
version = 1
name = "compacted"
[cluster]
brokers = 1
[[topics]]
name = "t"
partitions = 1
replication_factor = 1
config = { "cleanup.policy" = "compact" }
[[producers]]
client_id = "p"
topic = "t"
rate_per_sec = 10
keys = 0
"#;
    let mut run = start(text);
    run.advance_to(SimTime::from_ms(5_000));
    let p = &run.sim.producers()[0];
    assert_eq!(p.stats.acked, 0);
    assert!(p.stats.failed >= 40, "failed {}", p.stats.failed);
    // Every failure is a first attempt: as many errors as batches, none retried, and nothing
    // waits for the 120 s delivery timeout.
    let errors = p
        .stats
        .errors_by_name
        .get("INVALID_RECORD")
        .copied()
        .unwrap_or(0);
    assert_eq!(errors, p.stats.errors);
    assert!(p.pending() <= 1, "pending {}", p.pending());
    let outcomes: Vec<&SendOutcome> = run
        .sim
        .history()
        .operations()
        .iter()
        .filter_map(|op| match op {
            Operation::Send { outcome, .. } => Some(outcome),
            _ => None,
        })
        .collect();
    assert!(!outcomes.is_empty());
    assert!(
        outcomes.iter().all(|o| **o == SendOutcome::Fail),
        "refused before the append: definitely not written"
    );
    assert!(run
        .sim
        .events()
        .iter()
        .any(|e| e.narrate().contains("INVALID_RECORD is not retriable")));
}

#[test]
fn idempotence_left_at_its_default_gives_way_to_conflicting_settings() {
    let mut config = ProducerConfig::default();
    assert!(config.idempotent());
    config.set("acks", "1").unwrap();
    assert_eq!(config.acks, Acks::Leader);
    assert!(config.validate().is_ok());
    assert!(
        !config.idempotent(),
        "acks=1 quietly turns default idempotence off"
    );

    let mut config = ProducerConfig::default();
    config
        .set("max.in.flight.requests.per.connection", "6")
        .unwrap();
    assert!(config.validate().is_ok());
    assert!(!config.idempotent());

    // Set explicitly, the same conflicts are errors, as in Kafka.
    let mut config = ProducerConfig::default();
    config.set("enable.idempotence", "true").unwrap();
    config.set("acks", "1").unwrap();
    let error = config.validate().unwrap_err();
    assert!(error.to_string().contains("acks to all"), "{error}");
    config.set("acks", "all").unwrap();
    config
        .set("max.in.flight.requests.per.connection", "6")
        .unwrap();
    let error = config.validate().unwrap_err();
    assert!(
        error
            .to_string()
            .contains("max.in.flight.requests.per.connection"),
        "{error}"
    );
    assert!(config
        .set("max.in.flight.requests.per.connection", "0")
        .is_err());
}

#[test]
fn a_leader_that_lost_acknowledged_sequences_refuses_the_next_batch_as_out_of_order() {
    // Trace T2 with an idempotent producer: broker 1 crashes without the last five records on
    // disk, comes back as the leader, and the producer's next sequence is five past what broker 1
    // has. Kafka answers OUT_OF_ORDER_SEQUENCE_NUMBER; the producer fails that batch, bumps its
    // epoch and goes on from sequence 0.
    let text = include_str!("../../scenarios/t2-divergence-after-crashes.toml")
        .replace(r#"config = { "enable.idempotence" = false }"#, "");
    let scenario = Scenario::parse(&text).unwrap();
    let mut run = scenario.start(2).unwrap();
    run.advance_to(SimTime::from_ms(27_000));
    let p = &run.sim.producers()[0];
    assert_eq!(
        p.stats.errors_by_name.get("OUT_OF_ORDER_SEQUENCE_NUMBER"),
        Some(&1),
        "{:?}",
        p.stats.errors_by_name
    );
    assert_eq!(p.stats.acked, 10);
    assert_eq!(p.stats.failed, 9);
    run.sim
        .apply(Command::Produce {
            producer: "writer".to_string(),
            records: 4,
        })
        .unwrap();
    run.advance_to(SimTime::from_ms(29_000));
    assert_eq!(
        run.sim.producers()[0].stats.acked,
        14,
        "the new epoch starts afresh"
    );
}

#[test]
fn a_lost_produce_request_breaks_the_connection_so_no_later_one_overtakes_it() {
    // Half of the producer's messages are lost for 10 s. On TCP a later request never arrives
    // after an earlier one was lost, so the broker never sees a sequence gap: no
    // OUT_OF_ORDER_SEQUENCE_NUMBER, no duplicate and no reordering, however many requests were in
    // flight. The producer learns of each break at its request timeout and retries on a new
    // connection.
    let text = cluster(
        r#"rate_per_sec = 400
keys = 100
config = { "request.timeout.ms" = 2000 }
[[timeline]]
at_ms = 1000
action = "drop-messages"
node = "p"
per_mille = 500
[[timeline]]
at_ms = 11000
action = "drop-messages"
node = "p"
per_mille = 0"#,
    );
    let mut run = start(&text);
    run.advance_to(SimTime::from_ms(25_000));
    run.sim.drain_history();
    let p = &run.sim.producers()[0];
    let errors = &p.stats.errors_by_name;
    assert!(
        errors.get("REQUEST_TIMED_OUT").is_some_and(|&n| n > 0),
        "{errors:?}"
    );
    assert_eq!(
        errors.get("OUT_OF_ORDER_SEQUENCE_NUMBER"),
        None,
        "{errors:?}"
    );
    assert_eq!(p.stats.failed, 0);
    let report = run.sim.history().check();
    assert!(report.is_valid(), "{:?}", report.anomalies);
    assert!(
        report.acknowledged_sends > 9_000,
        "{}",
        report.acknowledged_sends
    );
}

//! Simulator bugs that `kafka-sim check` found under strong settings (RF 3 or 2,
//! min.insync.replicas 2, acks=all, idempotence, no unclean election), each replayed as a small
//! scenario that lost acknowledged records, or wrote one twice, before its fix. (The seeds that
//! found them came from an earlier version of the generator and no longer replay the same runs.)

use kafka_sim::history::AnomalyKind;
use kafka_sim::scenario::Scenario;

/// One partition on brokers 1, 2 (and 3), broker 1 leading, an idempotent acks=all producer and a
/// consumer reading from the start, run for `duration_ms`; `extra` adds producers and the
/// timeline.
fn scenario(duration_ms: u64, replicas: &str, cluster: &str, extra: &str) -> Scenario {
    Scenario::parse(&format!(
        r#"
version = 1
name = "regression"
duration_ms = {duration_ms}
[cluster]
brokers = 3
config = {{ {cluster} }}
[[topics]]
name = "t"
partitions = 1
replication_factor = {rf}
assignment = [[{replicas}]]
config = {{ "min.insync.replicas" = 2 }}
[[producers]]
client_id = "a"
topic = "t"
rate_per_sec = 50
config = {{ acks = "all", "enable.idempotence" = true, "request.timeout.ms" = 1000 }}
[[consumers]]
client_id = "c"
group = "g"
topic = "t"
config = {{ "auto.offset.reset" = "earliest" }}
{extra}
"#,
        rf = replicas.split(',').count(),
    ))
    .unwrap()
}

fn anomalies(scenario: &Scenario, kind: AnomalyKind) -> (usize, u64, String) {
    let (outcome, _) = scenario.start(3).unwrap().finish(scenario);
    let found: Vec<String> = outcome
        .history
        .of_kind(kind)
        .take(3)
        .map(|a| a.explain())
        .collect();
    assert!(
        outcome.violations.is_empty(),
        "{:?}",
        outcome.violations.first()
    );
    (
        outcome.history.count(kind),
        outcome.history.acknowledged_sends,
        found.join("\n"),
    )
}

/// The leader crashes and loses its unflushed suffix, acknowledged records
/// included, and restarts before the controller's session timeout fences it. The controller must
/// treat the new incarnation as fenced (Kafka's `handleBrokerShutdown` on re-registration) and
/// elect another ISR member; before the fix the restarted broker kept leading the same epoch with
/// the shorter log, and the followers truncated the acknowledged records away.
#[test]
fn a_leader_back_from_a_lossy_crash_before_its_session_expires_is_not_leader_any_more() {
    let s = scenario(
        20000,
        "1, 2, 3",
        r#""sim.os.writeback.interval.ms" = 600000"#,
        r#"
[[timeline]]
at_ms = 5000
action = "crash-broker"
broker = 1
[[timeline]]
at_ms = 5500
action = "restart-broker"
broker = 1
"#,
    );
    let (lost, acked, first) = anomalies(&s, AnomalyKind::LostWrite);
    assert!(acked > 500, "only {acked} sends were acknowledged");
    assert_eq!(lost, 0, "{first}");
    let (_, sim) = s.start(3).unwrap().finish(&s);
    let state = sim.metadata().partitions().next().unwrap().1.clone();
    assert_ne!(state.leader, Some(1), "{state:?}");
}

/// The follower's fetches are lost, so the leader's acks=all batches wait; the
/// producer times out and retries the same batch, which the leader recognises as a duplicate.
/// It must answer only once the original is committed; before the fix it answered at once, and
/// the records it acknowledged existed on the leader alone, which then died while the follower,
/// still in the ISR, took over.
#[test]
fn a_retried_acks_all_batch_is_acknowledged_only_once_committed() {
    let s = scenario(
        35000,
        "1, 2",
        r#""replica.lag.time.max.ms" = 30000"#,
        r#"
[[timeline]]
at_ms = 3000
action = "cut-link"
from = "broker-2"
to = "broker-1"
[[timeline]]
at_ms = 6000
action = "kill-broker"
broker = 1
[[timeline]]
at_ms = 6000
action = "heal"
[[timeline]]
at_ms = 20000
action = "restart-broker"
broker = 1
"#,
    );
    let (lost, acked, first) = anomalies(&s, AnomalyKind::LostWrite);
    assert!(acked > 500, "only {acked} sends were acknowledged");
    assert_eq!(lost, 0, "{first}");
}

/// Producer `a`'s responses are lost while producer `b` writes thousands of
/// records to the same partition; `a`'s retry must still be recognised as a duplicate. Before
/// the fix the leader looked back only 2,000 records and wrote the batch a second time.
#[test]
fn an_idempotent_retry_is_recognised_however_many_records_came_since() {
    let s = scenario(
        8000,
        "1, 2, 3",
        "",
        r#"
[[producers]]
client_id = "b"
topic = "t"
rate_per_sec = 1500
[[timeline]]
at_ms = 2000
action = "cut-link"
from = "broker-1"
to = "a"
[[timeline]]
at_ms = 4500
action = "heal"
"#,
    );
    let (duplicates, acked, first) = anomalies(&s, AnomalyKind::Duplicate);
    assert!(acked > 5_000, "only {acked} sends were acknowledged");
    assert_eq!(duplicates, 0, "{first}");
}

/// A consumer whose position is out of range must reset it by `auto.offset.reset`, as Kafka's
/// fetcher does, and keep consuming. `kafka-sim check` found it going back to its committed
/// offset instead, re-reading records it had already returned with no seek the application
/// could see (a nonmonotonic poll), after a stale leader cut off from the controller answered
/// OFFSET_OUT_OF_RANGE; here an unclean election to a shorter log does the same. Before the fix
/// the consumer also stalled whenever it restored a position from the committed offset, because
/// it sent no fetch for it. The settings are weak on purpose (acks=1, unclean election), so only
/// the consumer's own behaviour is asserted.
///
/// Since KIP-320 the consumer validates its position with the new leader after the election and
/// finds the truncation before it fetches, so the position goes out of range only under the
/// pre-KIP-320 rule (`sim.legacy.unfenced.fetch`), which this test therefore sets; the next test
/// runs the same story under the current rules.
#[test]
fn an_out_of_range_position_is_reset_by_policy_not_to_the_committed_offset() {
    let (outcome, sim) = unclean_election_under_a_consumer(true);
    let resets = sim
        .events()
        .iter()
        .filter(|e| {
            e.narrate()
                .contains("auto.offset.reset=earliest puts it at offset")
        })
        .count();
    let first = outcome
        .history
        .of_kind(AnomalyKind::NonmonotonicPoll)
        .next()
        .map(|a| a.explain());
    assert_eq!(first, None);
    assert!(
        resets >= 2,
        "the position was never out of range: {resets} reset(s)"
    );
    assert!(sim.consumers()[0].consumed > 1_000);
}

/// KIP-320 for consumers: after the unclean election the consumer asks the new leader where the
/// epoch of its last record ends (OffsetsForLeaderEpoch), learns that the log was truncated
/// below its position, and reads again from the first offset known to diverge, announced as a
/// seek, so that no poll goes backwards unannounced and nothing is skipped.
#[test]
fn a_consumer_detects_truncation_after_a_leader_change() {
    let (outcome, sim) = unclean_election_under_a_consumer(false);
    let detected: Vec<String> = sim
        .events()
        .iter()
        .map(|e| e.narrate())
        .filter(|n| n.contains("the log was truncated, and it reads again from offset"))
        .collect();
    assert!(!detected.is_empty(), "no truncation was detected");
    for kind in [AnomalyKind::NonmonotonicPoll, AnomalyKind::PollSkip] {
        let first = outcome.history.of_kind(kind).next().map(|a| a.explain());
        assert_eq!(first, None, "{detected:?}");
    }
    assert!(sim.consumers()[0].consumed > 1_000);
}

/// Broker 2 falls behind, broker 1 (the leader) dies, and broker 2 is elected uncleanly with a
/// shorter log while the consumer reads at 100 records/s.
fn unclean_election_under_a_consumer(
    legacy: bool,
) -> (kafka_sim::scenario::Outcome, kafka_sim::Simulation) {
    let text = r#"
version = 1
name = "out of range"
duration_ms = 20000
[cluster]
brokers = 2
config = { "replica.lag.time.max.ms" = 1000, "broker.session.timeout.ms" = 2000, "broker.heartbeat.interval.ms" = 500, "unclean.leader.election.enable" = true, "sim.legacy.unfenced.fetch" = LEGACY }
[[topics]]
name = "t"
partitions = 1
replication_factor = 2
assignment = [[1, 2]]
[[producers]]
client_id = "a"
topic = "t"
rate_per_sec = 100
config = { acks = "1", "enable.idempotence" = false }
[[consumers]]
client_id = "c"
group = "g"
topic = "t"
config = { "auto.offset.reset" = "earliest", "auto.commit.interval.ms" = 5000 }
[[timeline]]
at_ms = 2000
action = "cut-link"
from = "broker-2"
to = "broker-1"
[[timeline]]
at_ms = 6500
action = "kill-broker"
broker = 1
"#
    .replace("LEGACY", if legacy { "true" } else { "false" });
    let s = Scenario::parse(&text).unwrap();
    s.start(3).unwrap().finish(&s)
}

/// A leader's pending AlterPartition must not outlive a change the controller made. Broker 1
/// leads with ISR [1, 3, 2]; broker 3 is cut off, so broker 1 asks to shrink the ISR to [1, 2],
/// but its link to the controller is cut and the request stays pending. Broker 2 then shuts
/// down (the controller removes it) and broker 3 is fenced: the ISR is [1], below
/// min.insync.replicas=2, so the high watermark must stay where it was. `kafka-sim check` found
/// broker 1 counting broker 2, a member of its stale request, as a pending addition and
/// acknowledging records only it held.
#[test]
fn a_pending_isr_change_does_not_outlive_the_controllers_change() {
    let s = Scenario::parse(
        r#"
version = 1
name = "stale pending ISR"
duration_ms = 20000
[cluster]
brokers = 3
config = { "replica.lag.time.max.ms" = 1000 }
[[topics]]
name = "t"
partitions = 1
replication_factor = 3
assignment = [[1, 3, 2]]
config = { "min.insync.replicas" = 2 }
[[producers]]
client_id = "p"
topic = "t"
rate_per_sec = 50
# acks=1 keeps records coming whatever the ISR, so that there is always something to commit.
config = { acks = "1", "enable.idempotence" = false }
[[timeline]]
at_ms = 2000
action = "isolate"
node = "broker-3"
[[timeline]]
at_ms = 2200
action = "cut-link"
from = "broker-1"
to = "controller"
[[timeline]]
at_ms = 4000
action = "shutdown-broker"
broker = 2
"#,
    )
    .unwrap();
    let tp = kafka_sim::metadata::TopicPartition::new("t", 0);
    let mut run = s.start(1).unwrap();
    let leader_hw = |run: &kafka_sim::scenario::ScenarioRun| {
        run.sim.brokers()[0]
            .replicas
            .get(&tp)
            .unwrap()
            .log
            .high_watermark()
    };
    run.advance_to(kafka_sim::time::SimTime::from_ms(5_000));
    let before = leader_hw(&run);
    run.advance_to(kafka_sim::time::SimTime::from_ms(20_000));
    let state = run.sim.metadata().partition(&tp).unwrap().clone();
    assert_eq!(
        state.isr,
        vec![1],
        "the story needs the ISR to shrink to [1]"
    );
    let log = &run.sim.brokers()[0].replicas.get(&tp).unwrap().log;
    assert!(
        log.log_end_offset() > before + 100,
        "broker 1 kept appending"
    );
    assert_eq!(
        log.high_watermark(),
        before,
        "the high watermark moved while the ISR was below min.insync.replicas"
    );
}

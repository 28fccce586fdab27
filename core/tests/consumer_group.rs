//! Consumer groups end to end: consumers that subscribe find their coordinator (the leader of
//! the group's `__consumer_offsets` partition), join, get their share from the leader's
//! assignor, read it, and commit to the coordinator.

use kafka_sim::consumer_group::MemberState;
use kafka_sim::coordinator::partition_for_group;
use kafka_sim::group::GroupState;
use kafka_sim::group_coordinator::OFFSETS_TOPIC;
use kafka_sim::history::{AnomalyKind, Operation};
use kafka_sim::scenario::{Scenario, ScenarioRun};
use kafka_sim::SimTime;

fn start(text: &str, seed: u64) -> ScenarioRun {
    Scenario::parse(text).unwrap().start(seed).unwrap()
}

/// Three brokers, topic `orders` with 6 partitions, a producer, and the given consumers.
fn cluster(consumers: &str) -> String {
    format!(
        r#"
version = 1
name = "groups"
[cluster]
brokers = 3
[[topics]]
name = "orders"
partitions = 6
replication_factor = 3
[[producers]]
client_id = "p"
topic = "orders"
rate_per_sec = 200
keys = 50
{consumers}
"#
    )
}

fn member(name: &str, extra: &str) -> String {
    format!(
        r#"
[[consumers]]
client_id = "{name}"
group = "app"
topic = "orders"
subscribe = true
config = {{ "auto.offset.reset" = "earliest"{extra} }}
"#
    )
}

#[test]
fn two_members_share_the_partitions_and_commit_to_the_coordinator() {
    let mut run = start(&cluster(&(member("a", "") + &member("b", ""))), 3);
    run.advance_to(SimTime::from_ms(15_000));
    let sim = &run.sim;
    // __consumer_offsets was created on the first FindCoordinator, with 50 partitions.
    let offsets_topic = &sim.metadata().topics[OFFSETS_TOPIC];
    assert_eq!(offsets_topic.partitions.len(), 50);
    let p = partition_for_group("app", 50).unwrap();
    let coordinator = offsets_topic.partitions[p as usize].leader.unwrap();
    let broker = sim.brokers().iter().find(|b| b.id == coordinator).unwrap();
    let group = &broker.coordinator.groups["app"];
    assert_eq!(group.state, GroupState::Stable);
    assert_eq!(
        group.generation_id, 1,
        "one rebalance: both joined in the initial delay"
    );
    assert_eq!(group.protocol_name.as_deref(), Some("range"));
    assert_eq!(group.members.len(), 2);
    let mut all = Vec::new();
    for c in sim.consumers() {
        let m = c.membership.as_ref().unwrap();
        assert_eq!(m.state, MemberState::Stable);
        assert_eq!(m.coordinator, Some(coordinator));
        assert_eq!(m.generation_id, 1);
        assert_eq!(
            m.assigned.len(),
            3,
            "range gives each of two members 3 of 6"
        );
        assert!(c.consumed > 0, "{} read nothing", c.spec.client_id);
        for &p in &m.assigned {
            assert!(c.positions.contains_key(&p));
        }
        all.extend(m.assigned.iter().copied());
    }
    all.sort();
    assert_eq!(all, vec![0, 1, 2, 3, 4, 5]);
    // Auto-commit (every 5 s) reached the coordinator and __consumer_offsets.
    let committed = &broker.coordinator.offsets["app"];
    assert_eq!(committed.len(), 6);
    let log_end = broker
        .replicas
        .get(&kafka_sim::metadata::TopicPartition::new(OFFSETS_TOPIC, p))
        .unwrap()
        .log
        .log_end_offset();
    assert!(
        log_end >= 2,
        "group metadata and commits are records: {log_end}"
    );
}

/// Consumers a and b from the start, c started at 15 s; returns the run at 25 s.
fn third_member_joins(strategy: &str) -> ScenarioRun {
    let extra = format!(r#", "partition.assignment.strategy" = "{strategy}""#);
    let text = cluster(&(member("a", &extra) + &member("b", &extra) + &member("c", &extra)))
        + r#"
[[timeline]]
at_ms = 0
action = "stop-consumer"
consumer = "c"
[[timeline]]
at_ms = 15000
action = "start-consumer"
consumer = "c"
"#;
    let mut run = start(&text, 1);
    run.advance_to(SimTime::from_ms(14_000));
    for c in &run.sim.consumers()[..2] {
        assert_eq!(c.membership.as_ref().unwrap().assigned.len(), 3);
    }
    run
}

fn assigned(run: &ScenarioRun, consumer: usize) -> Vec<u32> {
    run.sim.consumers()[consumer]
        .membership
        .as_ref()
        .unwrap()
        .assigned
        .iter()
        .copied()
        .collect()
}

#[test]
fn an_eager_rebalance_takes_every_partition_away_then_deals_them_again() {
    let mut run = third_member_joins("range");
    let before: Vec<Vec<u32>> = (0..2).map(|i| assigned(&run, i)).collect();
    // Step until the rebalance begins: both old members give up everything before rejoining.
    let mut everyone_idle = false;
    while run.sim.now() < SimTime::from_ms(25_000) {
        run.advance_to(run.sim.now().plus_ms(1));
        if assigned(&run, 0).is_empty() && assigned(&run, 1).is_empty() {
            everyone_idle = true;
        }
    }
    assert!(everyone_idle, "eager members revoke all their partitions");
    assert_eq!(before, vec![vec![0, 1, 2], vec![3, 4, 5]]);
    // One rebalance: range deals 2 partitions to each member in member-id order.
    for i in 0..3 {
        let m = run.sim.consumers()[i].membership.as_ref().unwrap();
        assert_eq!(m.generation_id, 2);
        assert_eq!(m.assigned.len(), 2);
    }
}

#[test]
fn a_cooperative_rebalance_moves_only_what_the_new_member_gets() {
    let mut run = third_member_joins("cooperative-sticky");
    let before: Vec<Vec<u32>> = (0..2).map(|i| assigned(&run, i)).collect();
    // Step through the rebalances: an old member never drops below the 2 partitions it keeps.
    let mut fewest = usize::MAX;
    while run.sim.now() < SimTime::from_ms(25_000) {
        run.advance_to(run.sim.now().plus_ms(1));
        fewest = fewest
            .min(assigned(&run, 0).len())
            .min(assigned(&run, 1).len());
    }
    assert_eq!(fewest, 2, "cooperative members keep what does not move");
    for (i, kept) in before.iter().enumerate() {
        let now = assigned(&run, i);
        assert_eq!(now.len(), 2);
        assert!(now.iter().all(|p| kept.contains(p)), "{now:?} ⊂ {kept:?}");
    }
    assert_eq!(assigned(&run, 2).len(), 2);
    // Two rebalances: the first takes partitions away, the second hands them to c.
    for i in 0..3 {
        assert_eq!(
            run.sim.consumers()[i]
                .membership
                .as_ref()
                .unwrap()
                .generation_id,
            3
        );
    }
    assert!(run.sim.consumers()[2].consumed > 0);
}

#[test]
fn more_members_than_partitions_leave_some_idle() {
    let text = r#"
version = 1
name = "idle"
[cluster]
brokers = 3
[[topics]]
name = "orders"
partitions = 2
replication_factor = 3
[[producers]]
client_id = "p"
topic = "orders"
rate_per_sec = 100
keys = 10
"#
    .to_string()
        + &member("a", "")
        + &member("b", "")
        + &member("c", "");
    let mut run = start(&text, 2);
    run.advance_to(SimTime::from_ms(15_000));
    let sizes: Vec<usize> = (0..3).map(|i| assigned(&run, i).len()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 2);
    assert_eq!(sizes.iter().filter(|&&n| n == 0).count(), 1, "{sizes:?}");
    let idle = sizes.iter().position(|&n| n == 0).unwrap();
    assert_eq!(run.sim.consumers()[idle].consumed, 0);
    // The idle member is still a member: it heartbeats and stays in the group.
    let m = run.sim.consumers()[idle].membership.as_ref().unwrap();
    assert_eq!(m.state, MemberState::Stable);
}

#[test]
fn a_static_member_restarting_within_its_session_keeps_its_partitions_without_a_rebalance() {
    let extra = r#", "group.instance.id" = "INSTANCE", "session.timeout.ms" = 30000"#;
    let text = cluster(
        &(member("a", &extra.replace("INSTANCE", "host-a"))
            + &member("b", &extra.replace("INSTANCE", "host-b"))),
    ) + r#"
[[timeline]]
at_ms = 15000
action = "stop-consumer"
consumer = "a"
[[timeline]]
at_ms = 25000
action = "start-consumer"
consumer = "a"
"#;
    let mut run = start(&text, 4);
    run.advance_to(SimTime::from_ms(14_000));
    let before = assigned(&run, 0);
    let generation = run.sim.consumers()[0]
        .membership
        .as_ref()
        .unwrap()
        .generation_id;
    run.advance_to(SimTime::from_ms(35_000));
    let m = run.sim.consumers()[0].membership.as_ref().unwrap();
    assert_eq!(m.generation_id, generation, "no rebalance");
    assert_eq!(assigned(&run, 0), before);
    assert!(!run.sim.events().iter().any(
        |e| e.time > SimTime::from_ms(15_000) && e.narrate().contains("preparing a rebalance")
    ));
}

#[test]
fn a_static_member_gone_longer_than_its_session_is_removed() {
    let extra = r#", "group.instance.id" = "INSTANCE", "session.timeout.ms" = 10000"#;
    let text = cluster(
        &(member("a", &extra.replace("INSTANCE", "host-a"))
            + &member("b", &extra.replace("INSTANCE", "host-b"))),
    ) + r#"
[[timeline]]
at_ms = 15000
action = "stop-consumer"
consumer = "a"
"#;
    let mut run = start(&text, 4);
    run.advance_to(SimTime::from_ms(30_000));
    assert_eq!(assigned(&run, 1).len(), 6, "b took over everything");
    assert!(run.sim.events().iter().any(|e| e
        .narrate()
        .contains("no heartbeat within session.timeout.ms")));
}

#[test]
fn when_the_coordinator_dies_the_group_finds_the_new_one_and_keeps_its_generation() {
    // Kafka's new coordinator loads the group from __consumer_offsets; the members find it and
    // heartbeat in the same generation, so there is no rebalance.
    let base = cluster(&(member("a", "") + &member("b", "")));
    let mut run = start(&base, 3);
    run.advance_to(SimTime::from_ms(12_000));
    let p = partition_for_group("app", 50).unwrap() as usize;
    let old = run.sim.metadata().topics[OFFSETS_TOPIC].partitions[p]
        .leader
        .unwrap();
    let generation = run.sim.consumers()[0]
        .membership
        .as_ref()
        .unwrap()
        .generation_id;
    run.sim.apply(kafka_sim::Command::KillBroker(old)).unwrap();
    run.advance_to(SimTime::from_ms(40_000));
    let new = run.sim.metadata().topics[OFFSETS_TOPIC].partitions[p]
        .leader
        .unwrap();
    assert_ne!(new, old);
    for c in run.sim.consumers() {
        let m = c.membership.as_ref().unwrap();
        assert_eq!(m.coordinator, Some(new), "{}", c.spec.client_id);
        assert_eq!(m.state, MemberState::Stable);
        assert_eq!(m.generation_id, generation);
    }
    let broker = run.sim.brokers().iter().find(|b| b.id == new).unwrap();
    assert_eq!(broker.coordinator.groups["app"].state, GroupState::Stable);
    assert_eq!(
        broker.coordinator.offsets["app"].len(),
        6,
        "commits survived in the log"
    );
}

#[test]
fn a_busy_application_leaves_its_group_after_max_poll_interval_and_rejoins_when_it_polls() {
    let slow = r#", "max.poll.interval.ms" = 10000, "sim.processing.ms.per.record" = 20"#;
    let text = cluster(&(member("a", "") + &member("b", slow)));
    let mut run = start(&text, 6);
    run.advance_to(SimTime::from_ms(8_000));
    assert_eq!(assigned(&run, 1).len(), 3);
    // b's first polls return hundreds of records at 20 ms each: it stops polling for longer
    // than 10 s, and its heartbeat thread gives up the membership.
    let mut left_at = None;
    while run.sim.now() < SimTime::from_ms(60_000) {
        run.advance_to(run.sim.now().plus_ms(100));
        let b = &run.sim.consumers()[1];
        if left_at.is_none() && b.membership.as_ref().unwrap().assigned.is_empty() {
            left_at = Some(run.sim.now());
            assert!(
                b.busy_until.is_some_and(|t| t > run.sim.now()),
                "still busy"
            );
        }
        if left_at.is_some() && assigned(&run, 1).len() == 3 {
            break;
        }
    }
    let left_at = left_at.expect("b lost its partitions");
    assert!(
        run.sim
            .events()
            .iter()
            .any(|e| e.narrate().contains("b has not called poll()")),
        "the poll timeout is narrated"
    );
    // Once it polls again it rejoins: the group is back to two members sharing 3 and 3.
    assert!(run.sim.now() > left_at);
    assert_eq!(assigned(&run, 1).len(), 3, "b rejoined after polling again");
    assert!(
        run.sim.consumers()[1]
            .membership
            .as_ref()
            .unwrap()
            .generation_id
            >= 3
    );
}

/// The group's committed offsets as its coordinator (the leader of its `__consumer_offsets`
/// partition) holds them, by partition number.
fn committed(run: &ScenarioRun) -> std::collections::BTreeMap<u32, u64> {
    let sim = &run.sim;
    let p = partition_for_group("app", 50).unwrap() as usize;
    let leader = sim.metadata().topics[OFFSETS_TOPIC].partitions[p]
        .leader
        .unwrap();
    let broker = sim.brokers().iter().find(|b| b.id == leader).unwrap();
    broker.coordinator.offsets["app"]
        .iter()
        .map(|(tp, o)| (tp.partition, *o))
        .collect()
}

/// a and b (`session.timeout.ms` 10 s, auto-commit every 5 s) share orders; at 12.5 s b is
/// closed or killed by `action`. Returns the run at 12.5 s, with b's positions then.
fn b_goes_away(action: &str) -> (ScenarioRun, std::collections::BTreeMap<u32, u64>) {
    let extra = r#", "session.timeout.ms" = 10000"#;
    let text = cluster(&(member("a", extra) + &member("b", extra)))
        + &format!("[[timeline]]\nat_ms = 12500\naction = \"{action}\"\nconsumer = \"b\"\n");
    let mut run = start(&text, 1);
    run.advance_to(SimTime::from_ms(12_500));
    let b = &run.sim.consumers()[1];
    assert!(b.stopped);
    assert_eq!(assigned(&run, 1).len(), 3);
    let positions = b.positions.clone();
    assert_eq!(positions.len(), 3, "b was reading its three partitions");
    (run, positions)
}

#[test]
fn a_crashed_member_commits_nothing_and_is_removed_only_when_its_session_runs_out() {
    let (mut run, read) = b_goes_away("crash-consumer");
    run.advance_to(SimTime::from_ms(20_000));
    // No LeaveGroup: 7.5 s later the coordinator still counts b as a member...
    assert_eq!(run.sim.group("app").unwrap().members.len(), 2);
    assert_eq!(assigned(&run, 0).len(), 3);
    // ...and what b read after its last auto-commit (at 10 s) was never committed.
    let committed = committed(&run);
    for (p, position) in &read {
        assert!(
            committed[p] < *position,
            "orders-{p}: {committed:?} {read:?}"
        );
    }
    run.advance_to(SimTime::from_ms(30_000));
    assert!(run.sim.events().iter().any(|e| e
        .narrate()
        .contains("no heartbeat within session.timeout.ms")));
    assert_eq!(run.sim.group("app").unwrap().members.len(), 1);
    assert_eq!(assigned(&run, 0).len(), 6, "a took b's partitions over");
    // a started b's partitions at the older commit: it read again what b had read, and the
    // checker says so, without calling it an error.
    let report = run.sim.history().check();
    let again: Vec<_> = report.of_kind(AnomalyKind::DuplicateDelivery).collect();
    let partitions: Vec<u32> = again.iter().map(|a| a.partition.partition).collect();
    let mut b_partitions: Vec<u32> = read.keys().copied().collect();
    b_partitions.sort();
    assert_eq!(partitions, b_partitions);
    for a in &again {
        assert_eq!(a.client, Some(0), "a read them again");
        assert_eq!(a.earlier_readers, vec![1], "b had read them");
        assert_eq!(a.group.as_deref(), Some("app"));
        let p = a.partition.partition;
        assert_eq!(a.offsets[0], committed[&p], "from the last commit");
        assert_eq!(a.offsets[1] + 1, read[&p], "up to where b had read");
    }
    assert!(report.is_valid());
}

#[test]
fn a_closed_member_commits_its_positions_before_it_leaves() {
    let (mut run, read) = b_goes_away("stop-consumer");
    run.advance_to(SimTime::from_ms(20_000));
    // close() committed exactly where b stopped, then sent LeaveGroup: the group did not wait
    // for b's session, and a took over at b's positions.
    assert_eq!(run.sim.group("app").unwrap().members.len(), 1);
    assert_eq!(assigned(&run, 0).len(), 6);
    let committed = committed(&run);
    for (p, position) in &read {
        assert!(
            committed[p] >= *position,
            "orders-{p}: {committed:?} {read:?}"
        );
    }
    let after_close = |text: &str| {
        run.sim
            .events()
            .iter()
            .position(|e| e.time >= SimTime::from_ms(12_500) && e.narrate().contains(text))
            .unwrap_or_else(|| panic!("no event '{text}' after the close"))
    };
    assert!(
        after_close("b committed offsets") < after_close("left the group (LeaveGroup)"),
        "the commit is answered before b leaves"
    );
    let report = run.sim.history().check();
    assert_eq!(report.count(AnomalyKind::DuplicateDelivery), 0);
    assert!(report.is_valid());
}

#[test]
fn an_eager_member_joins_only_once_its_commit_before_the_rebalance_is_answered() {
    // Slow followers make every commit take hundreds of milliseconds to replicate. a, alone
    // after b leaves, rejoins at its next heartbeat: Kafka's onJoinPrepare waits for the commit
    // of a's positions before the JoinGroup, so the offsets a fetches for its partitions after
    // the rebalance are the ones it just committed, and it reads nothing twice.
    let mut text = cluster(&(member("a", "") + &member("b", "")));
    for broker in 1..=3 {
        text += &format!(
            "[[timeline]]\nat_ms = 11000\naction = \"slow-follower\"\nbroker = {broker}\nms = 200\n"
        );
    }
    text += "[[timeline]]\nat_ms = 12500\naction = \"stop-consumer\"\nconsumer = \"b\"\n";
    let mut run = start(&text, 1);
    run.advance_to(SimTime::from_ms(20_000));
    assert_eq!(assigned(&run, 0).len(), 6);
    let events: Vec<&kafka_sim::Event> = run.sim.events().iter().collect();
    let joined = events
        .iter()
        .position(|e| {
            e.narrate()
                .contains("completed the join phase of generation 2")
        })
        .expect("a second generation");
    let commit = events[..joined]
        .iter()
        .rposition(|e| e.narrate().starts_with("a committed offsets"))
        .expect("a committed before the join completed");
    // The commit answered is the one sent when the rebalance began, not an earlier one.
    assert!(events[commit].time > SimTime::from_ms(12_500));
    let report = run.sim.history().check();
    assert_eq!(report.count(AnomalyKind::DuplicateDelivery), 0);
}

#[test]
fn a_group_without_commits_starts_every_partition_over_after_a_rebalance() {
    // Nothing is committed (enable.auto.commit = false, and the simulated application never
    // calls commitSync), so whenever a member starts on a partition, at its first assignment
    // or after a rebalance, auto.offset.reset = earliest puts it at offset 0. When b arrives,
    // a's eager rebalance takes every partition away; a gets three back and b the other three,
    // and both read them from the start again.
    let no_commits = r#", "enable.auto.commit" = false"#;
    let text = cluster(&(member("a", no_commits) + &member("b", no_commits)))
        + "[[timeline]]\nat_ms = 0\naction = \"stop-consumer\"\nconsumer = \"b\"\n"
        + "[[timeline]]\nat_ms = 15000\naction = \"start-consumer\"\nconsumer = \"b\"\n";
    let mut run = start(&text, 1);
    run.advance_to(SimTime::from_ms(25_000));
    assert_eq!(assigned(&run, 0).len(), 3);
    assert_eq!(assigned(&run, 1).len(), 3);
    // The first read of each partition after each fresh start begins at offset 0.
    let mut fresh: std::collections::BTreeSet<(u32, u32)> = std::collections::BTreeSet::new();
    let mut starts = 0;
    for op in run.sim.history().operations() {
        match op {
            Operation::Rebalance { consumer } | Operation::Subscribe { consumer, .. } => {
                fresh.retain(|(c, _)| c != consumer);
                for p in 0..6 {
                    fresh.insert((*consumer, p));
                }
            }
            Operation::Poll {
                consumer,
                partition,
                records,
            } if fresh.remove(&(*consumer, partition.partition)) => {
                starts += 1;
                assert_eq!(records[0].0, 0, "consumer {consumer} in {partition}");
            }
            _ => {}
        }
    }
    // a's first assignment (6 partitions), then a's three and b's three after b joined.
    assert_eq!(starts, 12);
    // The checker counts each partition's records as delivered twice: the three a kept, by a
    // itself, and the three a gave up, by b.
    let report = run.sim.history().check();
    let by = |c: u32, earlier: u32| {
        report
            .of_kind(AnomalyKind::DuplicateDelivery)
            .filter(|a| a.client == Some(c) && a.offsets[0] == 0)
            .filter(|a| a.earlier_readers == vec![earlier])
            .count()
    };
    assert_eq!((by(0, 0), by(1, 0)), (3, 3));
    assert!(report.is_valid());
}

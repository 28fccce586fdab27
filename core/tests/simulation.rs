//! Behaviour of the simulated cluster: determinism, failover, invariants and bad input.

use kafka_sim::invariants::InvariantChecker;
use kafka_sim::scenario::Scenario;
use kafka_sim::view::{BrokerState, ReplicaRole};
use kafka_sim::{Command, ErrorKind, SimTime};

const QUICKSTART: &str = include_str!("../../scenarios/quickstart.toml");

fn base(extra: &str) -> String {
    format!(
        r#"
version = 1
name = "test"
[cluster]
brokers = 3
[[topics]]
name = "orders"
partitions = 3
replication_factor = 3
config = {{ "min.insync.replicas" = 2 }}
[[producers]]
client_id = "p"
topic = "orders"
rate_per_sec = 50
keys = 10
[[consumers]]
client_id = "c"
group = "g"
topic = "orders"
config = {{ "auto.offset.reset" = "earliest" }}
{extra}
"#
    )
}

fn trace(seed: u64) -> (u64, Vec<String>) {
    let scenario = Scenario::parse(QUICKSTART).unwrap();
    let mut run = scenario.start(seed).unwrap();
    run.advance_to(scenario.duration());
    let events = run
        .sim
        .events()
        .iter()
        .map(|e| format!("{} {}", e.time, e.narrate()))
        .collect();
    (run.sim.trace_hash(), events)
}

#[test]
fn same_seed_gives_the_same_trace() {
    let (h1, e1) = trace(7);
    let (h2, e2) = trace(7);
    assert_eq!(e1, e2);
    assert_eq!(h1, h2);
    let (h3, _) = trace(8);
    assert_ne!(
        h1, h3,
        "a different seed should change network jitter and so the trace"
    );
}

#[test]
fn killing_a_leader_moves_leadership_after_the_session_timeout_and_loses_nothing() {
    let scenario = Scenario::parse(&base("")).unwrap();
    let mut run = scenario.start(3).unwrap();
    let mut checker = InvariantChecker::new();
    run.advance_to(SimTime::from_ms(3_000));
    let views = run.sim.partition_views();
    let victim = views[0].leader.expect("orders-0 has a leader");
    run.sim.apply(Command::KillBroker(victim)).unwrap();
    let killed_at = run.sim.now();
    assert_eq!(run.sim.broker_state(victim), Some(BrokerState::Dead));
    assert!(
        run.sim.metadata().is_unfenced(victim),
        "the controller has not noticed yet"
    );
    // Before broker.session.timeout.ms (9 s) passes the controller keeps the dead leader.
    run.advance_to(killed_at.plus_ms(8_000));
    assert_eq!(run.sim.partition_views()[0].leader, Some(victim));
    let mut t = killed_at.plus_ms(8_000);
    while t < killed_at.plus_ms(12_000) {
        t = t.plus_ms(50);
        run.advance_to(t);
        let violations = checker.check(&run.sim);
        assert!(violations.is_empty(), "{violations:?}");
    }
    assert!(
        !run.sim.metadata().is_unfenced(victim),
        "fenced after broker.session.timeout.ms"
    );
    let after = &run.sim.partition_views()[0];
    let new_leader = after.leader.expect("a new leader from the ISR");
    assert_ne!(new_leader, victim);
    assert!(!after.isr.contains(&victim));
    let role = after
        .replica_views
        .iter()
        .find(|r| r.broker == victim)
        .unwrap()
        .role;
    assert_eq!(role, ReplicaRole::Offline);
    assert!(run
        .sim
        .events()
        .iter()
        .any(|e| e.narrate().contains(&format!(
            "Broker {new_leader} was elected leader of orders-0"
        ))));

    // Restart: the broker comes back, is unfenced and rejoins the ISR.
    run.sim.apply(Command::RestartBroker(victim)).unwrap();
    run.advance_to(t.plus_ms(10_000));
    assert_eq!(run.sim.broker_state(victim), Some(BrokerState::Alive));
    for view in run.sim.partition_views() {
        assert_eq!(view.isr.len(), 3, "{} ISR {:?}", view.tp, view.isr);
    }
    // Stop producing and let everything drain: with acks=all and min.insync.replicas=2 every
    // acknowledged record is consumed, and nothing is consumed twice.
    run.sim
        .apply(Command::SetProducerRate {
            producer: "p".into(),
            rate_per_sec: 0,
        })
        .unwrap();
    run.advance_to(run.sim.now().plus_ms(10_000));
    let p = &run.sim.producers()[0];
    let c = &run.sim.consumers()[0];
    assert!(p.stats.acked > 500, "acked {}", p.stats.acked);
    assert_eq!(p.stats.failed, 0);
    assert_eq!(c.consumed, p.stats.acked, "consumed = acknowledged");
    assert!(checker.check(&run.sim).is_empty());
}

#[test]
fn offsets_advance_and_high_watermark_trails_log_end() {
    let scenario = Scenario::parse(&base("")).unwrap();
    let mut run = scenario.start(1).unwrap();
    run.advance_to(SimTime::from_ms(2_000));
    let total: u64 = run
        .sim
        .partition_views()
        .iter()
        .map(|p| p.log_end_offset)
        .sum();
    assert!(total >= 90, "about 100 records in 2 s at 50/s, got {total}");
    for p in run.sim.partition_views() {
        assert!(p.high_watermark <= p.log_end_offset);
        for r in &p.replica_views {
            assert_eq!(r.role == ReplicaRole::Leader, Some(r.broker) == p.leader);
        }
    }
    let c = &run.sim.consumers()[0];
    assert!(c.consumed > 0);
}

#[test]
fn acks_all_below_min_isr_is_rejected_with_not_enough_replicas() {
    let scenario = Scenario::parse(&base(
        r#"
[[timeline]]
at_ms = 1000
action = "kill-broker"
broker = 1
[[timeline]]
at_ms = 1000
action = "kill-broker"
broker = 2
"#,
    ))
    .unwrap();
    let mut run = scenario.start(5).unwrap();
    // The produce request in flight to broker 3 when the others died waits in its purgatory for
    // followers that never come (the high watermark is frozen below min.insync.replicas), and
    // broker 3 reads nothing else from the producer's connection meanwhile; it times out after
    // request.timeout.ms (30 s), and only then do the retries meet NOT_ENOUGH_REPLICAS.
    run.advance_to(SimTime::from_ms(20_000));
    assert_eq!(
        run.sim.producers()[0].stats.last_error.as_deref(),
        Some("NETWORK_EXCEPTION")
    );
    run.advance_to(SimTime::from_ms(40_000));
    let p = &run.sim.producers()[0];
    assert_eq!(
        p.stats.last_error.as_deref(),
        Some("NOT_ENOUGH_REPLICAS"),
        "{:?}",
        p.stats
    );
    for view in run.sim.partition_views() {
        assert_eq!(view.leader, Some(3));
        assert_eq!(view.isr, vec![3]);
    }
}

#[test]
fn bad_scenarios_name_the_problem() {
    let cases = [
        ("version = 2\nname = \"x\"\n[cluster]\nbrokers = 3\n", "version"),
        ("version = 1\nname = \"x\"\n[cluster]\nbrokers = 0\n", "cluster.brokers"),
        ("version = 1\nname = \"x\"\n[cluster]\nbrokers = 3\n[[topics]]\nname = \"t\"\npartitions = 1\nreplication_factor = 4\n", "only 3 broker(s) are registered"),
        ("version = 1\nname = \"x\"\n[cluster]\nbrokers = 3\nracks = [\"a\", \"b\"]\n", "cluster.racks: Give one rack per broker"),
        ("version = 1\nname = \"x\"\n[cluster]\nbrokers = 3\n[[timeline]]\nat_ms = 1\naction = \"partition\"\nbetween = [\"broker-1\"]\n", "timeline[0].between"),
        ("version = 1\nname = \"x\"\n[cluster]\nbrokers = 3\n[[timeline]]\nat_ms = 1\naction = \"cut-link\"\nfrom = \"broker-1\"\nto = \"broker-7\"\n", "timeline[0].to: there is no broker-7"),
        ("version = 1\nname = \"x\"\n[cluster]\nbrokers = 3\n[[timeline]]\nat_ms = 1\naction = \"isolate\"\n", "timeline[0].node: is required for isolate"),
        ("version = 1\nname = \"x\"\n[cluster]\nbrokers = 3\n[[timeline]]\nat_ms = 1\naction = \"drop-messages\"\nper_mille = 2000\n", "between 0 and 1000"),
        ("version = 1\nname = \"x\"\n[cluster]\nbrokers = 3\n[[timeline]]\nat_ms = 1\naction = \"alter-config\"\nname = \"sim.legacy.follower.truncation\"\nvalue = \"sometimes\"\n", "leader-epoch (current Kafka)"),
        ("version = 1\nname = \"x\"\n[cluster]\nbrokers = 3\n[[topics]]\nname = \"t\"\npartitions = 1\nreplication_factor = 1\nconfig = { \"min.insync.replicas\" = 0 }\n", "topics[0].config.\"min.insync.replicas\""),
        ("version = 1\nname = \"x\"\n[cluster]\nbrokers = 3\nbogus = 1\n", "line 5"),
        ("version = 1\nname = \"x\"\n[cluster]\nbrokers = 3\n[[timeline]]\nat_ms = 1\naction = \"explode\"\n", "unknown action 'explode'"),
        ("version = 1\nname = \"x\"\n[cluster]\nbrokers = 3\n[[timeline]]\nat_ms = 1\naction = \"kill-broker\"\nbroker = 9\n", "timeline[0].broker"),
        ("version = 1\nname = \"x\"\n[cluster]\nbrokers = 3\n[[producers]]\nclient_id = \"p\"\ntopic = \"missing\"\nrate_per_sec = 1\n", "does not exist"),
        ("not toml at all [", "line 1"),
        // A misspelt invariant would never break, so the expectation would always hold.
        ("version = 1\nname = \"x\"\n[cluster]\nbrokers = 3\n[[expect]]\nkind = \"invariant\"\nname = \"StrongISR\"\n", "expect[0].name: name an invariant (LeaderInIsr"),
        // A range expectation with no bound, or with bounds no offset fits, checks nothing.
        ("version = 1\nname = \"x\"\n[cluster]\nbrokers = 3\n[[expect]]\nkind = \"leader-log-end-offset\"\ntopic = \"t\"\npartition = 0\n", "expect[0].at_least: leader-log-end-offset needs at_least, at_most or both"),
        ("version = 1\nname = \"x\"\n[cluster]\nbrokers = 3\n[[expect]]\nkind = \"leader-log-end-offset\"\ntopic = \"t\"\npartition = 0\nat_least = 10\nat_most = 5\n", "expect[0].at_most: 5 is below at_least (10)"),
        ("version = 1\nname = \"x\"\n[cluster]\nbrokers = 3\n[[expect]]\nkind = \"group\"\ngeneration = 1\n", "expect[0].group: is required for group"),
        ("version = 1\nname = \"x\"\n[cluster]\nbrokers = 3\n[[expect]]\nkind = \"group\"\ngroup = \"g\"\n", "expect[0].generation: group needs generation, members, state"),
        ("version = 1\nname = \"x\"\n[cluster]\nbrokers = 3\n[[expect]]\nkind = \"group\"\ngroup = \"g\"\nstate = \"Rebalancing\"\n", "expect[0].state: 'Rebalancing' is no group state"),
        ("version = 1\nname = \"x\"\n[cluster]\nbrokers = 3\n[[expect]]\nkind = \"assignment\"\nconsumer = \"c\"\n", "expect[0].count: is required for assignment"),
        ("version = 1\nname = \"x\"\n[cluster]\nbrokers = 3\n[[timeline]]\nat_ms = 1\naction = \"stop-consumer\"\nconsumer = \"nobody\"\n", "timeline[0].consumer: must name one of the scenario's consumers"),
        ("version = 1\nname = \"x\"\n[cluster]\nbrokers = 3\n[[topics]]\nname = \"t\"\npartitions = 1\nreplication_factor = 1\n[[consumers]]\nclient_id = \"c\"\ngroup = \"g\"\ntopic = \"t\"\nsubscribe = true\nconfig = { \"partition.assignment.strategy\" = \"fastest\" }\n", "partition.assignment.strategy"),
    ];
    for (text, needle) in cases {
        let err = Scenario::parse(text).expect_err(needle);
        assert_eq!(err.kind(), ErrorKind::Scenario);
        assert!(
            err.message().contains(needle),
            "expected '{needle}' in '{}'",
            err.message()
        );
    }
}

#[test]
fn invalid_commands_leave_the_simulation_unchanged() {
    let scenario = Scenario::parse(&base("")).unwrap();
    let mut run = scenario.start(2).unwrap();
    run.advance_to(SimTime::from_ms(1_000));
    let before = run.sim.trace_hash();
    assert_eq!(
        run.sim.apply(Command::KillBroker(42)).unwrap_err().kind(),
        ErrorKind::UnknownBroker
    );
    assert_eq!(
        run.sim.apply(Command::RestartBroker(1)).unwrap_err().kind(),
        ErrorKind::InvalidState
    );
    let err = run
        .sim
        .apply(Command::SetProducerRate {
            producer: "nobody".into(),
            rate_per_sec: 1,
        })
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownClient);
    assert_eq!(run.sim.trace_hash(), before);
}

#[test]
fn the_world_serializes() {
    // Faults in force and client connections held by the brokers are in the world too.
    let scenario = Scenario::parse(&base(
        r#"
[[timeline]]
at_ms = 100
action = "set-latency"
node = "p"
ms = 3
[[timeline]]
at_ms = 100
action = "drop-messages"
node = "c"
per_mille = 10
"#,
    ))
    .unwrap();
    let mut run = scenario.start(2).unwrap();
    run.advance_to(SimTime::from_ms(500));
    let json = serde_json::to_string(&run.sim).expect("the whole world is Serialize");
    assert!(json.contains("orders-0"));
    assert!(
        json.contains(r#""delay_ms":[[{"Producer":0},3]]"#),
        "{json}"
    );
}

#[test]
fn a_follower_rejoining_the_isr_completes_waiting_acks_all_writes_without_error() {
    // Both followers die; writes appended while the ISR still listed two members wait in the
    // purgatory. When broker 2 returns and catches up, the leader counts it in the maximal ISR
    // (KIP-497), so those writes succeed instead of failing NOT_ENOUGH_REPLICAS_AFTER_APPEND.
    let scenario = Scenario::parse(&base(
        r#"
[[timeline]]
at_ms = 3000
action = "kill-broker"
broker = 2
[[timeline]]
at_ms = 5000
action = "kill-broker"
broker = 1
[[timeline]]
at_ms = 19000
action = "restart-broker"
broker = 2
"#,
    ))
    .unwrap();
    let mut run = scenario.start(11).unwrap();
    run.advance_to(SimTime::from_ms(30_000));
    let errors: Vec<String> = run
        .sim
        .events()
        .iter()
        .map(|e| e.narrate())
        .filter(|n| n.contains("got NOT_ENOUGH"))
        .collect();
    assert!(
        errors.iter().any(|n| n.contains("NOT_ENOUGH_REPLICAS ")),
        "writes were refused while the ISR was one: {errors:?}"
    );
    assert!(
        !errors.iter().any(|n| n.contains("AFTER_APPEND")),
        "{errors:?}"
    );
    for view in run.sim.partition_views() {
        assert!(view.isr.contains(&2), "{} ISR {:?}", view.tp, view.isr);
    }
}

#[test]
fn a_dead_follower_makes_partitions_under_replicated_once_fenced() {
    let scenario = Scenario::parse(&base(
        "[[timeline]]\nat_ms = 1000\naction = \"kill-broker\"\nbroker = 3\n",
    ))
    .unwrap();
    let mut run = scenario.start(4).unwrap();
    run.advance_to(SimTime::from_ms(5_000));
    assert!(
        run.sim
            .partition_views()
            .iter()
            .all(|p| !p.is_under_replicated()),
        "not fenced yet"
    );
    run.advance_to(SimTime::from_ms(12_000));
    assert!(run
        .sim
        .partition_views()
        .iter()
        .all(|p| p.is_under_replicated()));
}

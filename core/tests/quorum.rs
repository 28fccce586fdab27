//! The KRaft controller quorum inside the simulation: the cluster starts with an active
//! controller, a failed active controller is replaced by election, metadata reaches brokers only
//! once a majority of controllers has it, and without a majority nothing changes.

use kafka_sim::config::{BrokerConfig, TopicConfig};
use kafka_sim::event::EventKind;
use kafka_sim::metadata::TopicPartition;
use kafka_sim::network::NodeId;
use kafka_sim::raft::RoleKind;
use kafka_sim::sim::{Command, Simulation};

fn cluster(seed: u64) -> Simulation {
    let mut sim = Simulation::new(3, BrokerConfig::default(), seed).unwrap();
    sim.create_topic("orders", 3, 3, TopicConfig::default())
        .unwrap();
    sim
}

fn leader_of(sim: &Simulation, partition: u32) -> Option<i32> {
    sim.metadata()
        .partition(&TopicPartition::new("orders", partition))
        .and_then(|p| p.leader)
}

#[test]
fn the_cluster_starts_with_an_elected_quorum_and_commits_a_topic_within_milliseconds() {
    let mut sim = cluster(1);
    assert_eq!(sim.active_controller(), Some(100));
    assert_eq!(sim.controllers().len(), 3);
    // Topics created before the run starts are part of the formatted cluster.
    assert!(sim.metadata().topics.contains_key("orders"));
    sim.run_for_ms(100);
    sim.create_topic("payments", 2, 3, TopicConfig::default())
        .unwrap();
    // Proposed, not yet committed: brokers and describe do not see the topic yet.
    assert!(sim.proposed_metadata().topics.contains_key("payments"));
    assert!(!sim.metadata().topics.contains_key("payments"));
    let offset_before = sim.metadata().offset;
    sim.run_for_ms(200);
    assert!(sim.metadata().topics.contains_key("payments"));
    assert!(sim.metadata().offset > offset_before);
    // Followers learn the high watermark from their next fetch response, which the leader may
    // hold for up to 500 ms when it has nothing new.
    sim.run_for_ms(800);
    for node in sim.controllers() {
        assert_eq!(node.epoch(), 1, "controller {}", node.node_id());
        assert!(
            node.high_watermark() >= 2,
            "controller {} HW {}",
            node.node_id(),
            node.high_watermark()
        );
    }
    // Every broker acts on the committed image: each partition has a leader replica.
    for p in 0..3 {
        assert!(leader_of(&sim, p).is_some());
    }
}

#[test]
fn killing_the_active_controller_elects_another_which_then_fences_a_dead_broker() {
    let mut sim = cluster(2);
    sim.run_for_ms(1_000);
    sim.apply(Command::KillController(100)).unwrap();
    assert_eq!(sim.active_controller(), None);
    // An admin request without an active controller is refused and changes nothing.
    let before = sim.proposed_metadata().clone();
    let err = sim
        .create_topic("payments", 1, 3, TopicConfig::default())
        .unwrap_err();
    assert!(
        err.message().contains("NOT_CONTROLLER"),
        "{}",
        err.message()
    );
    assert_eq!(sim.proposed_metadata(), &before);
    // The followers miss the leader's fetch responses for controller.quorum.fetch.timeout.ms
    // (2 s), then one stands and wins.
    sim.run_for_ms(6_000);
    let active = sim.active_controller().expect("a new active controller");
    assert_ne!(active, 100);
    let node = &sim.controllers()[sim
        .controllers()
        .iter()
        .position(|n| n.node_id() == active)
        .unwrap()];
    assert_eq!(node.role(), RoleKind::Leader);
    assert!(node.epoch() >= 2);
    assert!(sim.events().iter().any(|e| matches!(e.kind, EventKind::ControllerActivated { controller, .. } if controller == active)));

    // The new active controller does the controller's work: a killed broker is fenced after
    // broker.session.timeout.ms and loses its leaderships.
    let led_by_1: Vec<u32> = (0..3).filter(|&p| leader_of(&sim, p) == Some(1)).collect();
    assert!(!led_by_1.is_empty(), "broker 1 leads nothing to move");
    sim.apply(Command::KillBroker(1)).unwrap();
    sim.run_for_ms(12_000);
    assert!(sim.metadata().brokers[&1].fenced);
    for p in led_by_1 {
        let leader = leader_of(&sim, p);
        assert!(
            leader.is_some() && leader != Some(1),
            "orders-{p} leader {leader:?}"
        );
    }
    assert!(sim
        .events()
        .iter()
        .any(|e| matches!(e.kind, EventKind::BrokerFenced { broker: 1, .. })));
}

#[test]
fn without_a_majority_of_controllers_nothing_is_decided_until_one_returns() {
    let mut sim = cluster(3);
    sim.run_for_ms(1_000);
    sim.apply(Command::KillController(101)).unwrap();
    sim.apply(Command::KillController(102)).unwrap();
    sim.apply(Command::KillBroker(2)).unwrap();
    // Controller 100 hears no Fetch from a majority within 1.5 × the fetch timeout and resigns
    // (check-quorum), so broker 2 is never fenced while only one controller runs.
    sim.run_for_ms(20_000);
    assert_eq!(sim.active_controller(), None);
    assert!(!sim.metadata().brokers[&2].fenced);
    assert!(sim.events().iter().any(|e| matches!(
        e.kind,
        EventKind::ControllerDeactivated {
            controller: 100,
            ..
        }
    )));
    // One controller back makes a majority again: an election, then the fencing.
    sim.apply(Command::RestartController(101)).unwrap();
    sim.run_for_ms(20_000);
    assert!(sim.active_controller().is_some());
    assert!(sim.metadata().brokers[&2].fenced);
}

#[test]
fn an_isolated_active_controller_is_replaced_and_brokers_follow_the_new_one() {
    let mut sim = cluster(4);
    sim.run_for_ms(1_000);
    sim.apply(Command::Isolate(NodeId::Controller(100)))
        .unwrap();
    sim.run_for_ms(10_000);
    let active = sim.active_controller().expect("a new active controller");
    assert_ne!(active, 100);
    // Brokers found the new controller: their heartbeats keep them unfenced, and a broker
    // killed now is fenced by the new controller.
    assert!(sim.metadata().brokers.values().all(|b| !b.fenced));
    assert!(
        sim.brokers().iter().all(|b| b.controller == active),
        "{:?}",
        sim.brokers()
            .iter()
            .map(|b| b.controller)
            .collect::<Vec<_>>()
    );
    sim.apply(Command::KillBroker(3)).unwrap();
    sim.run_for_ms(12_000);
    assert!(sim.metadata().brokers[&3].fenced);
    // Healed, the old leader learns the new epoch and follows.
    sim.apply(Command::HealNetwork).unwrap();
    sim.run_for_ms(5_000);
    // Without pre-vote (KIP-996) the isolated controller kept standing in ever newer epochs,
    // so its return may force one more election; either way it ends up in the quorum's epoch
    // with the active controller as its leader.
    let active = sim
        .active_controller()
        .expect("an active controller after healing");
    let old = &sim.controllers()[0];
    assert_eq!(old.leader_id(), Some(active));
    if active != 100 {
        assert_eq!(old.role(), RoleKind::Follower);
    }
}

#[test]
fn controller_commands_name_bad_targets_and_leave_the_simulation_unchanged() {
    let mut sim = cluster(5);
    let hash = sim.trace_hash();
    for (command, text) in [
        (Command::KillController(7), "no controller 7"),
        (Command::RestartController(100), "already running"),
    ] {
        let err = sim.apply(command).unwrap_err();
        assert!(err.message().contains(text), "{}", err.message());
    }
    assert_eq!(sim.trace_hash(), hash);
    sim.apply(Command::KillController(101)).unwrap();
    let err = sim.apply(Command::CrashController(101)).unwrap_err();
    assert!(
        err.message().contains("already stopped"),
        "{}",
        err.message()
    );
}

#[test]
fn the_same_seed_gives_the_same_failover() {
    let run = |seed| {
        let mut sim = cluster(seed);
        sim.run_for_ms(500);
        sim.apply(Command::CrashController(100)).unwrap();
        sim.run_for_ms(5_000);
        sim.apply(Command::RestartController(100)).unwrap();
        sim.run_for_ms(5_000);
        (sim.trace_hash(), sim.active_controller())
    };
    assert_eq!(run(9), run(9));
}

//! ZooKeeper mode: the controller is a broker elected through the ephemeral znode /controller,
//! brokers are declared dead when their ZooKeeper session expires, and a clean shutdown closes
//! the session at once.

use kafka_sim::config::{BrokerConfig, TopicConfig};
use kafka_sim::event::EventKind;
use kafka_sim::metadata::TopicPartition;
use kafka_sim::network::NodeId;
use kafka_sim::sim::{Command, Simulation};

fn cluster(seed: u64) -> Simulation {
    let mut config = BrokerConfig::default();
    config.set("sim.metadata.mode", "zookeeper").unwrap();
    let mut sim = Simulation::new(3, config, seed).unwrap();
    sim.create_topic_with(
        "orders",
        3,
        3,
        Some(vec![vec![1, 2, 3], vec![2, 3, 1], vec![3, 1, 2]]),
        TopicConfig::default(),
    )
    .unwrap();
    sim.run_for_ms(1_000);
    sim
}

fn leader(sim: &Simulation, p: u32) -> Option<i32> {
    sim.metadata()
        .partition(&TopicPartition::new("orders", p))
        .and_then(|s| s.leader)
}

#[test]
fn broker_one_is_the_controller_and_there_is_no_quorum() {
    let sim = cluster(1);
    assert!(sim.zookeeper_mode());
    assert!(sim.controllers().is_empty());
    assert_eq!(sim.active_controller(), Some(1));
    let zk = sim.zookeeper().unwrap();
    assert_eq!(zk.controller, Some(1));
    assert_eq!(zk.controller_epoch, 1);
    assert_eq!(zk.registered().len(), 3);
    // Metadata changes reach brokers without a quorum commit: the topic is there at once.
    assert_eq!(leader(&sim, 1), Some(2));
}

#[test]
fn a_dead_broker_is_noticed_only_when_its_session_expires() {
    let mut sim = cluster(2);
    sim.apply(Command::KillBroker(2)).unwrap();
    // Past KRaft's 9 s broker.session.timeout.ms, but within ZooKeeper's 18 s session.
    sim.run_for_ms(12_000);
    assert_eq!(leader(&sim, 1), Some(2));
    sim.run_for_ms(10_000);
    let moved = leader(&sim, 1);
    assert!(
        moved.is_some() && moved != Some(2),
        "orders-1 led by {moved:?}"
    );
    assert!(sim.events().iter().any(|e| matches!(
        e.kind,
        EventKind::ZkSessionEnded { broker: 2, silent_ms: Some(ms), was_controller: false } if ms > 18_000
    )));
    // The controller did not change: only its watch on /brokers/ids fired.
    assert_eq!(sim.active_controller(), Some(1));
}

#[test]
fn killing_the_controller_broker_waits_for_its_session_then_another_broker_wins_the_race() {
    let mut sim = cluster(3);
    sim.apply(Command::KillBroker(1)).unwrap();
    assert_eq!(sim.active_controller(), None);
    // A quick restart cannot register: the old session still owns /brokers/ids/1.
    sim.run_for_ms(3_000);
    sim.apply(Command::RestartBroker(1)).unwrap();
    sim.run_for_ms(3_000);
    assert!(sim
        .events()
        .iter()
        .any(|e| matches!(e.kind, EventKind::ZkRegistrationRefused { broker: 1 })));
    assert_eq!(sim.active_controller(), None);
    sim.run_for_ms(16_000);
    let zk = sim.zookeeper().unwrap();
    let new = zk.controller.expect("a new controller");
    assert_ne!(new, 1);
    assert_eq!(zk.controller_epoch, 2);
    assert_eq!(sim.active_controller(), Some(new));
    // After the expiry, broker 1 registered with its new session.
    assert!(sim
        .events()
        .iter()
        .any(|e| matches!(e.kind, EventKind::ZkBrokerRegistered { broker: 1 })));
}

#[test]
fn a_clean_shutdown_closes_the_session_and_moves_leadership_at_once() {
    let mut sim = cluster(4);
    assert_eq!(leader(&sim, 2), Some(3));
    sim.apply(Command::ShutdownBroker(3)).unwrap();
    // The controlled shutdown goes to the controller broker at the next ping (a third of the
    // session timeout at most); no session has to expire.
    sim.run_for_ms(7_000);
    assert_ne!(leader(&sim, 2), Some(3));
    assert!(sim.events().iter().any(|e| matches!(
        e.kind,
        EventKind::ZkSessionEnded {
            broker: 3,
            silent_ms: None,
            ..
        }
    )));
}

#[test]
fn a_controller_cut_off_from_zookeeper_loses_the_controllership() {
    let mut sim = cluster(5);
    sim.apply(Command::PartitionNetwork {
        a: NodeId::Broker(1),
        b: NodeId::ZooKeeper,
    })
    .unwrap();
    sim.run_for_ms(25_000);
    let active = sim.active_controller();
    assert!(active.is_some() && active != Some(1), "active {active:?}");
    assert_eq!(sim.zookeeper().unwrap().controller, active);
}

#[test]
fn the_mode_is_fixed_once_the_cluster_exists_and_the_same_seed_replays() {
    let mut sim = cluster(6);
    let err = sim
        .apply(Command::AlterConfig {
            topic: None,
            name: "sim.metadata.mode".into(),
            value: "kraft".into(),
        })
        .unwrap_err();
    assert!(
        err.message().contains("sim.metadata.mode"),
        "{}",
        err.message()
    );
    assert!(sim.zookeeper_mode());
    let run = || {
        let mut sim = cluster(7);
        sim.apply(Command::KillBroker(1)).unwrap();
        sim.run_for_ms(30_000);
        sim.trace_hash()
    };
    assert_eq!(run(), run());
}

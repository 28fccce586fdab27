//! Maps the simulation to what the page draws. No Kafka logic lives here: roles, offsets and
//! leaders all come from `kafka_sim::view` (architecture invariant 7).

use kafka_sim::view::{BrokerState, PartitionView, ReplicaRole};
use kafka_sim::{BrokerId, Simulation};

/// One replica chip inside a broker card.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicaChip {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: u32,
    /// Role.
    pub role: ReplicaRole,
    /// This replica's log end offset.
    pub log_end_offset: u64,
    /// This replica's high watermark.
    pub high_watermark: u64,
}

impl ReplicaChip {
    /// A symbol per role, so that roles differ without relying on colour.
    pub fn glyph(&self) -> &'static str {
        match self.role {
            ReplicaRole::Leader => "★",
            ReplicaRole::Follower => "●",
            ReplicaRole::OutOfSync => "◐",
            ReplicaRole::Offline => "✕",
        }
    }

    /// The role in words.
    pub fn role_label(&self) -> &'static str {
        match self.role {
            ReplicaRole::Leader => "leader",
            ReplicaRole::Follower => "in-sync follower",
            ReplicaRole::OutOfSync => "out-of-sync follower",
            ReplicaRole::Offline => "offline",
        }
    }
}

/// A broker card.
#[derive(Clone, Debug, PartialEq)]
pub struct BrokerCard {
    /// `node.id`.
    pub id: BrokerId,
    /// Alive, fenced or dead.
    pub state: BrokerState,
    /// Its replicas, by topic and partition.
    pub replicas: Vec<ReplicaChip>,
    /// How many partitions it leads.
    pub leaders: usize,
}

/// A consumer's position in one partition.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsumerPosition {
    /// Partition number.
    pub partition: u32,
    /// Next offset to read, if known.
    pub offset: Option<u64>,
    /// Committed offset of its group.
    pub committed: Option<u64>,
    /// Records behind the leader's high watermark.
    pub lag: Option<u64>,
}

/// A consumer panel.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsumerPanel {
    /// `client.id`.
    pub client_id: String,
    /// `group.id`.
    pub group: String,
    /// Topic read.
    pub topic: String,
    /// Records consumed.
    pub consumed: u64,
    /// Position per partition.
    pub positions: Vec<ConsumerPosition>,
    /// The last records received, newest first.
    pub recent: Vec<String>,
}

/// A producer panel.
#[derive(Clone, Debug, PartialEq)]
pub struct ProducerPanel {
    /// `client.id`.
    pub client_id: String,
    /// Topic written.
    pub topic: String,
    /// Settings worth showing.
    pub settings: String,
    /// Counters.
    pub stats: kafka_sim::producer::ProducerStats,
    /// Records waiting or in flight.
    pub pending: usize,
}

/// One voter of the controller quorum as the page draws it.
#[derive(Clone, Debug, PartialEq)]
pub struct ControllerCard {
    /// Its `node.id`.
    pub id: BrokerId,
    /// Whether its process runs.
    pub running: bool,
    /// Whether it is the active controller.
    pub active: bool,
    /// Its Raft role, in Kafka's words (Leader, Follower, Candidate, Voted, Unattached,
    /// Resigned).
    pub role: String,
    /// Its quorum epoch.
    pub epoch: u32,
    /// The end of its metadata log.
    pub log_end_offset: u64,
    /// Its high watermark: entries below are committed.
    pub high_watermark: u64,
}

/// Everything the page draws for one frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// Simulated time in ms.
    pub time_ms: u64,
    /// The active controller's id, if the quorum has one.
    pub controller_id: Option<BrokerId>,
    /// The voters of the controller quorum.
    pub controllers: Vec<ControllerCard>,
    /// Whether the cluster runs in ZooKeeper mode (a controller broker, no quorum).
    pub zookeeper_mode: bool,
    /// Broker cards in id order.
    pub brokers: Vec<BrokerCard>,
    /// Every partition.
    pub partitions: Vec<PartitionView>,
    /// Producers.
    pub producers: Vec<ProducerPanel>,
    /// Consumers.
    pub consumers: Vec<ConsumerPanel>,
    /// Recent narrated events, newest first.
    pub events: Vec<String>,
    /// Messages on the wire, by API name and count.
    pub in_flight: Vec<(&'static str, usize)>,
    /// The network faults in force, in words.
    pub network_faults: Vec<String>,
    /// Brokers cut off from every node.
    pub isolated: Vec<BrokerId>,
}

/// How many events the log shows.
pub const EVENTS_SHOWN: usize = 40;

impl Frame {
    /// Projects the simulation for drawing.
    pub fn of(sim: &Simulation) -> Frame {
        let partitions = sim.partition_views();
        let brokers = sim
            .brokers()
            .iter()
            .map(|b| {
                let replicas: Vec<ReplicaChip> = partitions
                    .iter()
                    .flat_map(|p| {
                        p.replica_views
                            .iter()
                            .filter(|r| r.broker == b.id)
                            .map(|r| ReplicaChip {
                                topic: p.tp.topic.to_string(),
                                partition: p.tp.partition,
                                role: r.role,
                                log_end_offset: r.log_end_offset,
                                high_watermark: r.high_watermark,
                            })
                    })
                    .collect();
                BrokerCard {
                    id: b.id,
                    state: sim.broker_state(b.id).unwrap_or(BrokerState::Dead),
                    leaders: partitions.iter().filter(|p| p.leader == Some(b.id)).count(),
                    replicas,
                }
            })
            .collect();
        let producers = sim
            .producers()
            .iter()
            .map(|p| ProducerPanel {
                client_id: p.spec.client_id.clone(),
                topic: p.spec.topic.clone(),
                settings: format!(
                    "{} rec/s, {} keys, acks={}, linger.ms={}, enable.idempotence={}",
                    p.spec.rate_per_sec,
                    if p.spec.keys == 0 {
                        "null".to_string()
                    } else {
                        p.spec.keys.to_string()
                    },
                    p.spec.config.acks.as_str(),
                    p.spec.config.linger_ms,
                    p.spec.config.idempotent()
                ),
                stats: p.stats.clone(),
                pending: p.pending(),
            })
            .collect();
        let consumers = sim
            .consumers()
            .iter()
            .map(|c| {
                let committed = sim.committed_offsets(&c.spec.group);
                let count = sim
                    .metadata()
                    .topics
                    .get(c.spec.topic.as_str())
                    .map_or(0, |t| t.partitions.len() as u32);
                ConsumerPanel {
                    client_id: c.spec.client_id.clone(),
                    group: c.spec.group.clone(),
                    topic: c.spec.topic.clone(),
                    consumed: c.consumed,
                    positions: (0..count)
                        .map(|p| ConsumerPosition {
                            partition: p,
                            offset: c.positions.get(&p).copied(),
                            committed: committed
                                .and_then(|m| {
                                    m.get(&kafka_sim::metadata::TopicPartition::new(
                                        c.spec.topic.clone(),
                                        p,
                                    ))
                                })
                                .copied(),
                            lag: c.lag(p),
                        })
                        .collect(),
                    recent: c
                        .recent
                        .iter()
                        .rev()
                        .take(5)
                        .map(|r| {
                            format!(
                                "p{}@{} {}={}",
                                r.partition,
                                r.offset,
                                r.key.as_deref().unwrap_or("null"),
                                r.value
                            )
                        })
                        .collect(),
                }
            })
            .collect();
        let mut in_flight: Vec<(&'static str, usize)> = Vec::new();
        for m in sim.messages_in_flight() {
            let api = m.payload.api_name();
            match in_flight.iter_mut().find(|(a, _)| *a == api) {
                Some((_, n)) => *n += 1,
                None => in_flight.push((api, 1)),
            }
        }
        in_flight.sort();
        Frame {
            time_ms: sim.now().as_ms(),
            controller_id: sim.controller_id(),
            zookeeper_mode: sim.zookeeper_mode(),
            controllers: sim
                .controllers()
                .iter()
                .map(|n| ControllerCard {
                    id: n.node_id(),
                    running: n.is_running(),
                    active: sim.controller_id() == Some(n.node_id()),
                    role: format!("{:?}", n.role()),
                    epoch: n.epoch(),
                    log_end_offset: n.log_end_offset(),
                    high_watermark: n.high_watermark(),
                })
                .collect(),
            brokers,
            partitions,
            producers,
            consumers,
            events: sim
                .events()
                .iter()
                .rev()
                .take(EVENTS_SHOWN)
                .map(|e| format!("{} {}", e.time, e.narrate()))
                .collect(),
            in_flight,
            network_faults: sim.network_faults().describe(),
            isolated: sim
                .brokers()
                .iter()
                .map(|b| b.id)
                .filter(|&id| {
                    sim.network_faults()
                        .is_isolated(kafka_sim::network::NodeId::Broker(id))
                })
                .collect(),
        }
    }
}

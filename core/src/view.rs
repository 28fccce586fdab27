//! Read-only projections of the world that the page, the terminal and the CLI share, so that none
//! of them re-derives Kafka logic (architecture invariants 4 and 7).

use crate::metadata::TopicPartition;
use crate::sim::Simulation;
use crate::BrokerId;
use serde::Serialize;

/// A broker's state as a monitoring tool would report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum BrokerState {
    /// Running and unfenced.
    Alive,
    /// Running but fenced by the controller (just restarted, or its heartbeats are not arriving).
    Fenced,
    /// The process is not running.
    Dead,
}

impl BrokerState {
    /// Lower-case name, as the page's `data-state` uses it.
    pub fn as_str(self) -> &'static str {
        match self {
            BrokerState::Alive => "alive",
            BrokerState::Fenced => "fenced",
            BrokerState::Dead => "dead",
        }
    }
}

/// The role of one replica as the diagram draws it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ReplicaRole {
    /// The partition leader.
    Leader,
    /// A follower in the ISR.
    Follower,
    /// A follower outside the ISR (lagging, or catching up after a restart).
    OutOfSync,
    /// The replica's broker is dead or fenced.
    Offline,
}

impl ReplicaRole {
    /// Lower-case name with dashes, as the page's `data-role` uses it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicaRole::Leader => "leader",
            ReplicaRole::Follower => "follower",
            ReplicaRole::OutOfSync => "out-of-sync",
            ReplicaRole::Offline => "offline",
        }
    }
}

/// One replica of a partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReplicaView {
    /// Its broker.
    pub broker: BrokerId,
    /// Its role.
    pub role: ReplicaRole,
    /// Its log end offset.
    pub log_end_offset: u64,
    /// Its high watermark.
    pub high_watermark: u64,
}

/// One partition, as the partitions table and the diagram show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PartitionView {
    /// The partition.
    pub tp: TopicPartition,
    /// The leader, from the controller.
    pub leader: Option<BrokerId>,
    /// The leader epoch.
    pub leader_epoch: u32,
    /// Assigned replicas, preferred leader first.
    pub replicas: Vec<BrokerId>,
    /// In-sync replicas.
    pub isr: Vec<BrokerId>,
    /// The leader's log start offset (Kafka UIs' "First Offset"), or 0 when offline.
    pub log_start_offset: u64,
    /// The leader's log end offset ("Next Offset"), or the highest among replicas when offline.
    pub log_end_offset: u64,
    /// The leader's high watermark, or the highest among replicas when offline.
    pub high_watermark: u64,
    /// Each replica in assignment order.
    pub replica_views: Vec<ReplicaView>,
}

impl PartitionView {
    /// Kafka's `UnderReplicatedPartitions` condition: fewer in-sync replicas than assigned ones.
    pub fn is_under_replicated(&self) -> bool {
        self.isr.len() < self.replicas.len()
    }
}

/// A message in flight with how far along it is, for animation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MessageView {
    /// Sender.
    pub from: crate::network::NodeId,
    /// Receiver.
    pub to: crate::network::NodeId,
    /// Kafka API name.
    pub api: &'static str,
    /// Whether it is a response.
    pub response: bool,
    /// 0.0 at send, 1.0 at delivery.
    pub progress: f64,
}

impl Simulation {
    /// A broker's state.
    pub fn broker_state(&self, id: BrokerId) -> Option<BrokerState> {
        let broker = self.brokers().iter().find(|b| b.id == id)?;
        Some(if !broker.alive {
            BrokerState::Dead
        } else if self.metadata().is_unfenced(id) {
            BrokerState::Alive
        } else {
            BrokerState::Fenced
        })
    }

    /// Every partition of every topic.
    pub fn partition_views(&self) -> Vec<PartitionView> {
        self.metadata()
            .partitions()
            .map(|(tp, state)| {
                let replica_views: Vec<ReplicaView> = state
                    .replicas
                    .iter()
                    .map(|&b| {
                        let log = self
                            .brokers()
                            .iter()
                            .find(|x| x.id == b)
                            .and_then(|x| x.replicas.get(&tp))
                            .map(|r| &r.log);
                        let role = if self.broker_state(b) != Some(BrokerState::Alive)
                            && state.leader != Some(b)
                        {
                            ReplicaRole::Offline
                        } else if state.leader == Some(b) {
                            ReplicaRole::Leader
                        } else if state.isr.contains(&b) {
                            ReplicaRole::Follower
                        } else {
                            ReplicaRole::OutOfSync
                        };
                        ReplicaView {
                            broker: b,
                            role,
                            log_end_offset: log.map_or(0, |l| l.log_end_offset()),
                            high_watermark: log.map_or(0, |l| l.high_watermark()),
                        }
                    })
                    .collect();
                let leader_log = state
                    .leader
                    .and_then(|l| self.brokers().iter().find(|x| x.id == l))
                    .and_then(|x| x.replicas.get(&tp))
                    .map(|r| &r.log);
                let (log_start_offset, log_end_offset, high_watermark) = match leader_log {
                    Some(l) => (l.log_start_offset(), l.log_end_offset(), l.high_watermark()),
                    None => (
                        0,
                        replica_views
                            .iter()
                            .map(|r| r.log_end_offset)
                            .max()
                            .unwrap_or(0),
                        replica_views
                            .iter()
                            .map(|r| r.high_watermark)
                            .max()
                            .unwrap_or(0),
                    ),
                };
                PartitionView {
                    leader: state.leader,
                    leader_epoch: state.leader_epoch,
                    replicas: state.replicas.clone(),
                    isr: state.isr.clone(),
                    log_start_offset,
                    log_end_offset,
                    high_watermark,
                    replica_views,
                    tp,
                }
            })
            .collect()
    }

    /// Messages in flight with their progress at the current time.
    pub fn message_views(&self) -> Vec<MessageView> {
        let now = self.now().0 as f64;
        self.messages_in_flight()
            .map(|m| {
                let span = (m.deliver_at.0.saturating_sub(m.sent_at.0)).max(1) as f64;
                MessageView {
                    from: m.from,
                    to: m.to,
                    api: m.payload.api_name(),
                    response: m.payload.is_response(),
                    progress: ((now - m.sent_at.0 as f64) / span).clamp(0.0, 1.0),
                }
            })
            .collect()
    }

    /// `kafka-topics.sh --describe` output for one topic, in Kafka's format.
    pub fn describe_topic(&self, topic: &str) -> Option<String> {
        let meta = self.metadata().topics.get(topic)?;
        let join = |ids: &[BrokerId]| {
            ids.iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let rf = meta.partitions.first().map_or(0, |p| p.replicas.len());
        let mut out = format!(
            "Topic: {topic}\tTopicId: {}\tPartitionCount: {}\tReplicationFactor: {rf}\tConfigs: {}\n",
            meta.topic_id,
            meta.partitions.len(),
            meta.config.describe().join(",")
        );
        // kafka-topics.sh prints N/A for the ELR columns while the feature is off. LastKnownElr
        // is not modelled and printed empty.
        let elr_on = self.broker_config().eligible_leader_replicas;
        for (p, state) in meta.partitions.iter().enumerate() {
            let leader = state.leader.map_or("none".to_string(), |l| l.to_string());
            let (elr, last_known) = if elr_on {
                (join(&state.elr), String::new())
            } else {
                ("N/A".to_string(), "N/A".to_string())
            };
            out.push_str(&format!(
                "\tTopic: {topic}\tPartition: {p}\tLeader: {leader}\tReplicas: {}\tIsr: {}\tElr: {elr}\tLastKnownElr: {last_known}\n",
                join(&state.replicas),
                join(&state.isr)
            ));
        }
        Some(out)
    }
}

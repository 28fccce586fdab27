//! Everything that happens in the cluster, as narrated events (architecture invariant 4). The
//! page, the CLI timeline and the tests all read this one stream.

use crate::metadata::TopicPartition;
use crate::time::SimTime;
use crate::BrokerId;
use serde::{Deserialize, Serialize};

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// A topic was created by the controller.
    TopicCreated {
        /// Topic name.
        topic: String,
        /// Partition count.
        partitions: u32,
        /// Replication factor.
        replication_factor: u32,
    },
    /// A broker process was killed (hard kill: it stops answering at once).
    BrokerKilled {
        /// The broker.
        broker: BrokerId,
    },
    /// A broker process was started again.
    BrokerRestarted {
        /// The broker.
        broker: BrokerId,
    },
    /// The controller registered a (re)started broker, fenced until it heartbeats again.
    BrokerRegistered {
        /// The broker.
        broker: BrokerId,
    },
    /// The controller unfenced a broker: it may lead partitions and join ISRs.
    BrokerUnfenced {
        /// The broker.
        broker: BrokerId,
    },
    /// The controller fenced a broker whose heartbeats stopped.
    BrokerFenced {
        /// The broker.
        broker: BrokerId,
        /// Milliseconds since its last heartbeat.
        silent_ms: u64,
    },
    /// The controller changed a partition's leader.
    LeaderChanged {
        /// The partition.
        tp: TopicPartition,
        /// The previous leader.
        previous: Option<BrokerId>,
        /// The new leader, `None` when the partition went offline.
        leader: Option<BrokerId>,
        /// The new leader epoch.
        leader_epoch: u32,
        /// Why.
        reason: String,
    },
    /// The controller changed a partition's ISR.
    IsrChanged {
        /// The partition.
        tp: TopicPartition,
        /// The ISR before.
        from: Vec<BrokerId>,
        /// The ISR after.
        to: Vec<BrokerId>,
        /// Why.
        reason: String,
    },
    /// A follower discarded the end of its log to match the leader's.
    Truncated {
        /// The follower.
        broker: BrokerId,
        /// The partition.
        tp: TopicPartition,
        /// Its log end offset before.
        from_offset: u64,
        /// Its log end offset after.
        to_offset: u64,
    },
    /// A produce request failed; the producer will retry unless the delivery timeout passed.
    ProduceFailed {
        /// The producer's client id.
        producer: String,
        /// The partition.
        tp: TopicPartition,
        /// Kafka's error name.
        error: String,
        /// Whether the records were given up (delivery timeout) rather than retried.
        gave_up: bool,
    },
    /// A consumer committed its positions.
    OffsetsCommitted {
        /// The consumer's client id.
        consumer: String,
        /// The group.
        group: String,
        /// Committed offsets.
        offsets: Vec<(TopicPartition, u64)>,
    },
    /// A consumer set its position from `auto.offset.reset`.
    OffsetReset {
        /// The consumer's client id.
        consumer: String,
        /// The partition.
        tp: TopicPartition,
        /// The new position.
        offset: u64,
        /// earliest or latest.
        policy: String,
    },
}

/// An event with the simulated time it happened at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When.
    pub time: SimTime,
    /// What.
    pub kind: EventKind,
}

fn ids(list: &[BrokerId]) -> String {
    list.iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

impl Event {
    /// One sentence that says what happened and why, for the timeline and the page.
    pub fn narrate(&self) -> String {
        match &self.kind {
            EventKind::TopicCreated { topic, partitions, replication_factor } => format!(
                "Created topic {topic} with {partitions} partition(s) and replication factor {replication_factor}."
            ),
            EventKind::BrokerKilled { broker } => format!(
                "Broker {broker} was killed. Its process stopped; the controller will notice only when its heartbeats stop arriving."
            ),
            EventKind::BrokerRestarted { broker } => format!("Broker {broker} was restarted and registers with the controller."),
            EventKind::BrokerRegistered { broker } => {
                format!("The controller registered broker {broker}; it stays fenced until its next heartbeat.")
            }
            EventKind::BrokerUnfenced { broker } => {
                format!("The controller unfenced broker {broker}: it may lead partitions and rejoin ISRs again.")
            }
            EventKind::BrokerFenced { broker, silent_ms } => format!(
                "The controller fenced broker {broker}: no heartbeat for {silent_ms} ms (broker.session.timeout.ms)."
            ),
            EventKind::LeaderChanged { tp, previous, leader, leader_epoch, reason } => match (leader, previous) {
                (Some(l), _) => format!("Broker {l} was elected leader of {tp} in epoch {leader_epoch} because {reason}."),
                (None, Some(p)) => format!(
                    "{tp} is offline (no leader) in epoch {leader_epoch}: broker {p} stopped leading because {reason}."
                ),
                (None, None) => format!("{tp} is offline (no leader) in epoch {leader_epoch} because {reason}."),
            },
            EventKind::IsrChanged { tp, from, to, reason } => {
                format!("ISR of {tp} changed from [{}] to [{}] because {reason}.", ids(from), ids(to))
            }
            EventKind::Truncated { broker, tp, from_offset, to_offset } => format!(
                "Broker {broker} truncated its copy of {tp} from offset {from_offset} to {to_offset} to match the leader's log (leader-epoch lookup)."
            ),
            EventKind::ProduceFailed { producer, tp, error, gave_up } => {
                if *gave_up {
                    format!("{producer} gave up a batch for {tp} after {error}: delivery.timeout.ms passed.")
                } else {
                    format!("{producer} got {error} from {tp}; it refreshes metadata and retries.")
                }
            }
            EventKind::OffsetsCommitted { consumer, group, offsets } => format!(
                "{consumer} committed offsets for group {group}: {}.",
                offsets.iter().map(|(tp, o)| format!("{tp}@{o}")).collect::<Vec<_>>().join(", ")
            ),
            EventKind::OffsetReset { consumer, tp, offset, policy } => format!(
                "{consumer} has no committed offset for {tp}; auto.offset.reset={policy} puts it at offset {offset}."
            ),
        }
    }
}

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
    /// Retention deleted a partition's oldest segments on its leader.
    SegmentsDeleted {
        /// The leader.
        broker: BrokerId,
        /// The partition.
        tp: TopicPartition,
        /// The new log start offset.
        log_start_offset: u64,
    },
    /// The log cleaner compacted a partition on its leader.
    LogCompacted {
        /// The leader.
        broker: BrokerId,
        /// The partition.
        tp: TopicPartition,
        /// Records removed.
        removed: u64,
    },
    /// A topic was deleted.
    TopicDeleted {
        /// Topic name.
        topic: String,
    },
    /// Partitions were added to a topic.
    PartitionsAdded {
        /// Topic name.
        topic: String,
        /// Partition count before.
        from: u32,
        /// Partition count after.
        to: u32,
    },
    /// A partition reassignment started.
    ReassignmentStarted {
        /// The partition.
        tp: TopicPartition,
        /// The replicas before.
        from: Vec<BrokerId>,
        /// The target replicas.
        to: Vec<BrokerId>,
    },
    /// A partition reassignment completed.
    ReassignmentCompleted {
        /// The partition.
        tp: TopicPartition,
        /// The replicas now.
        replicas: Vec<BrokerId>,
    },
    /// A broker process was killed (hard kill: it stops answering at once).
    BrokerKilled {
        /// The broker.
        broker: BrokerId,
    },
    /// A broker's machine crashed: the process stopped and the unflushed suffix of its logs is
    /// gone (a lossy hard kill).
    BrokerCrashed {
        /// The broker.
        broker: BrokerId,
        /// Records lost per partition (only partitions that lost some).
        lost: Vec<(TopicPartition, u64)>,
    },
    /// A broker asked the controller for a controlled shutdown.
    BrokerShuttingDown {
        /// The broker.
        broker: BrokerId,
    },
    /// A broker finished its controlled shutdown: logs flushed, process stopped.
    BrokerShutDown {
        /// The broker.
        broker: BrokerId,
    },
    /// A network fault was injected.
    NetworkFault {
        /// What now goes wrong, in words.
        description: String,
    },
    /// A config was changed while the cluster runs.
    ConfigChanged {
        /// The topic, or `None` for a cluster-wide config.
        topic: Option<String>,
        /// The config's name.
        name: String,
        /// Its new value.
        value: String,
    },
    /// Every network cut and isolation was removed.
    NetworkHealed,
    /// A broker process was started again.
    BrokerRestarted {
        /// The broker.
        broker: BrokerId,
    },
    /// A controller (a voter of the KRaft quorum) won an election and became the active
    /// controller.
    ControllerActivated {
        /// The controller's `node.id`.
        controller: BrokerId,
        /// The quorum epoch it leads.
        epoch: u32,
        /// How many metadata log entries it holds, committed or not.
        log_end_offset: u64,
    },
    /// The active controller stopped being active.
    ControllerDeactivated {
        /// The controller.
        controller: BrokerId,
        /// The epoch it led.
        epoch: u32,
        /// Why.
        reason: String,
    },
    /// A controller's election timeout or fetch timeout passed and it stood for election.
    ControllerCandidate {
        /// The controller.
        controller: BrokerId,
        /// The epoch it stands in.
        epoch: u32,
    },
    /// A controller process stopped (`lossy` when its machine lost power and the unflushed end
    /// of its metadata log).
    ControllerKilled {
        /// The controller.
        controller: BrokerId,
        /// Whether unflushed log entries were lost.
        lossy: bool,
    },
    /// A controller process was started again.
    ControllerRestarted {
        /// The controller.
        controller: BrokerId,
    },
    /// ZooKeeper mode: a broker created `/controller` and is the controller.
    ZkControllerElected {
        /// The controller broker.
        broker: BrokerId,
        /// `/controller_epoch`.
        epoch: u32,
    },
    /// ZooKeeper mode: a controller broker found it no longer holds `/controller`.
    ZkControllerResigned {
        /// The broker.
        broker: BrokerId,
        /// Why.
        reason: String,
    },
    /// ZooKeeper mode: a restarted broker could not register because its previous session's
    /// znode still exists (`NodeExists`).
    ZkRegistrationRefused {
        /// The broker.
        broker: BrokerId,
    },
    /// ZooKeeper mode: a broker opened a session and created `/brokers/ids/N`.
    ZkBrokerRegistered {
        /// The broker.
        broker: BrokerId,
    },
    /// ZooKeeper mode: a broker's session ended (expired, or closed by a clean shutdown) and
    /// its ephemeral znodes were deleted.
    ZkSessionEnded {
        /// The broker.
        broker: BrokerId,
        /// Milliseconds without a ping, when it expired; `None` when it was closed.
        silent_ms: Option<u64>,
        /// Whether the broker held `/controller`.
        was_controller: bool,
    },
    /// ZooKeeper mode: the controller saw a broker's znode disappear.
    ZkBrokerOffline {
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
        /// The truncation rule in force.
        rule: crate::config::FollowerTruncation,
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
    /// A consumer found (or found again) its group's coordinator.
    CoordinatorFound {
        /// The consumer's client id.
        consumer: String,
        /// The group.
        group: String,
        /// The coordinator.
        broker: BrokerId,
    },
    /// A consumer's application did not call poll() within max.poll.interval.ms.
    PollTimeout {
        /// The consumer's client id.
        consumer: String,
        /// The group.
        group: String,
        /// How long since its last poll().
        since_poll_ms: u64,
        /// `max.poll.interval.ms`.
        max_poll_interval_ms: u64,
    },
    /// A consumer was closed.
    ConsumerStopped {
        /// The consumer's client id.
        consumer: String,
    },
    /// A consumer's process was killed: it neither committed nor left its group.
    ConsumerCrashed {
        /// The consumer's client id.
        consumer: String,
    },
    /// A stopped consumer was started again.
    ConsumerStarted {
        /// The consumer's client id.
        consumer: String,
    },
    /// A group member received its assignment.
    ConsumerAssigned {
        /// The consumer's client id.
        consumer: String,
        /// The group.
        group: String,
        /// The generation.
        generation_id: i32,
        /// Its partitions.
        partitions: Vec<TopicPartition>,
    },
    /// A consumer group changed at its coordinator.
    GroupChanged {
        /// `group.id`.
        group: String,
        /// The coordinating broker.
        coordinator: BrokerId,
        /// What happened.
        change: crate::group::GroupChange,
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
    /// A consumer validating its position after a leader change (KIP-320) found that the new
    /// leader's log diverges below it: records it read are gone.
    ConsumerTruncationDetected {
        /// The consumer's client id.
        consumer: String,
        /// The partition.
        tp: TopicPartition,
        /// The position it had.
        position: u64,
        /// The first offset known to diverge, where it reads again; `None` when the leader has
        /// none of the consumer's epochs and `auto.offset.reset` decides.
        diverging_at: Option<u64>,
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
            // Builds without consumer groups never emit these; answering them first lets the
            // compiler drop their texts from the page's download.
            EventKind::GroupChanged { .. }
            | EventKind::ConsumerAssigned { .. }
            | EventKind::CoordinatorFound { .. }
            | EventKind::PollTimeout { .. }
                if !cfg!(feature = "groups") =>
            {
                String::new()
            }
            EventKind::TopicCreated { topic, partitions, replication_factor } => format!(
                "Created topic {topic} with {partitions} partition(s) and replication factor {replication_factor}."
            ),
            EventKind::SegmentsDeleted { broker, tp, log_start_offset } => format!(
                "Retention deleted the oldest segments of {tp} on broker {broker}: the log now starts at offset {log_start_offset}."
            ),
            EventKind::LogCompacted { broker, tp, removed } => format!(
                "The log cleaner on broker {broker} compacted {tp}: {removed} records superseded by a later record with the same key were removed."
            ),
            EventKind::TopicDeleted { topic } => format!("Deleted topic {topic}; brokers remove its replicas as they see the change."),
            EventKind::PartitionsAdded { topic, from, to } => format!(
                "Topic {topic} grew from {from} to {to} partitions; keys now hash modulo {to}, so keyed records may land in other partitions than before."
            ),
            EventKind::ReassignmentStarted { tp, from, to } => format!(
                "Reassigning {tp} from [{}] to [{}]: new replicas copy the log and must join the ISR before old ones leave.",
                ids(from), ids(to)
            ),
            EventKind::ReassignmentCompleted { tp, replicas } => {
                format!("The reassignment of {tp} completed: its replicas are now [{}].", ids(replicas))
            }
            EventKind::BrokerKilled { broker } => format!(
                "Broker {broker} was killed. Its process stopped; the controller will notice only when its heartbeats stop arriving."
            ),
            EventKind::BrokerCrashed { broker, lost } => {
                if lost.is_empty() {
                    format!("Broker {broker}'s machine crashed; every record it held was already on disk, so nothing was lost locally.")
                } else {
                    format!(
                        "Broker {broker}'s machine crashed and lost records that were only in the page cache: {}.",
                        lost.iter().map(|(tp, n)| format!("{n} of {tp}")).collect::<Vec<_>>().join(", ")
                    )
                }
            }
            EventKind::BrokerShuttingDown { broker } => format!(
                "Broker {broker} asked the controller for a controlled shutdown: its leaderships move away first."
            ),
            EventKind::BrokerShutDown { broker } => {
                format!("Broker {broker} completed its controlled shutdown, flushed its logs and stopped.")
            }
            EventKind::NetworkFault { description } => format!("Network fault: {description}."),
            EventKind::ConfigChanged { topic: Some(t), name, value } => format!("Topic {t}: {name} is now {value}."),
            EventKind::ConfigChanged { topic: None, name, value } => format!("Cluster config {name} is now {value}."),
            EventKind::NetworkHealed => "The network was healed: every cut link works again.".to_string(),
            EventKind::BrokerRestarted { broker } => format!("Broker {broker} was restarted and registers again."),
            EventKind::ControllerActivated { controller, epoch, log_end_offset } => format!(
                "Controller {controller} won the election for epoch {epoch} of the controller quorum and is now the active controller; it replayed the {log_end_offset} entries of its metadata log and starts every broker's session afresh."
            ),
            EventKind::ControllerDeactivated { controller, epoch, reason } => format!(
                "Controller {controller} is no longer the active controller (epoch {epoch}) because {reason}; until a new leader is elected no broker is fenced and no leader changes."
            ),
            EventKind::ControllerCandidate { controller, epoch } => format!(
                "Controller {controller} heard from no leader in time and stands for election in epoch {epoch}, asking the other voters for their vote."
            ),
            EventKind::ControllerKilled { controller, lossy: false } => format!(
                "Controller {controller} was killed; what it wrote to its metadata log is on disk."
            ),
            EventKind::ControllerKilled { controller, lossy: true } => format!(
                "Controller {controller}'s machine crashed and lost the unflushed end of its metadata log."
            ),
            EventKind::ControllerRestarted { controller } => format!(
                "Controller {controller} was restarted: it reads its election state and metadata log from disk and rejoins the quorum."
            ),
            EventKind::ZkControllerElected { broker, epoch } => format!(
                "Broker {broker} created the ephemeral znode /controller first and is the controller (controller epoch {epoch}); it reads the cluster state from ZooKeeper and sends it to every broker."
            ),
            EventKind::ZkControllerResigned { broker, reason } => {
                format!("Broker {broker} is no longer the controller: {reason}.")
            }
            EventKind::ZkRegistrationRefused { broker } => format!(
                "Broker {broker} could not register: /brokers/ids/{broker} still belongs to its previous ZooKeeper session (NodeExists); it retries until that session expires."
            ),
            EventKind::ZkBrokerRegistered { broker } => format!(
                "Broker {broker} opened a ZooKeeper session and registered /brokers/ids/{broker}."
            ),
            EventKind::ZkSessionEnded { broker, silent_ms, was_controller } => {
                let how = match silent_ms {
                    Some(ms) => format!("expired after {ms} ms without a ping (zookeeper.session.timeout.ms)"),
                    None => "was closed by its clean shutdown".to_string(),
                };
                let controller = if *was_controller { " and /controller" } else { "" };
                format!("Broker {broker}'s ZooKeeper session {how}: ZooKeeper deleted /brokers/ids/{broker}{controller}.")
            }
            EventKind::ZkBrokerOffline { broker } => format!(
                "The controller's watch on /brokers/ids fired: broker {broker} is gone, so its leaderships move and it leaves the ISRs."
            ),
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
            EventKind::Truncated { broker, tp, from_offset, to_offset, rule } => {
                let why = match rule {
                    crate::config::FollowerTruncation::LeaderEpoch => "to match the leader's log (leader-epoch lookup, KIP-279)",
                    crate::config::FollowerTruncation::Kip101 => "to the offset the leader gave for its last epoch (legacy KIP-101 lookup)",
                    crate::config::FollowerTruncation::HighWatermark => "to its own high watermark (legacy rule before KIP-101; committed records may go)",
                };
                format!("Broker {broker} truncated its copy of {tp} from offset {from_offset} to {to_offset} {why}.")
            }
            EventKind::ProduceFailed { producer, tp, error, gave_up } => {
                if *gave_up && NOT_RETRIABLE.contains(&error.as_str()) {
                    format!("{producer} failed a batch for {tp}: {error} is not retriable.")
                } else if *gave_up {
                    format!("{producer} gave up a batch for {tp} after {error}: delivery.timeout.ms passed.")
                } else {
                    format!("{producer} got {error} from {tp}; it refreshes metadata and retries.")
                }
            }
            EventKind::CoordinatorFound { consumer, group, broker } => format!(
                "{consumer} found the coordinator of group {group} (FindCoordinator): broker {broker}, the leader of the group's __consumer_offsets partition."
            ),
            EventKind::PollTimeout { consumer, group, since_poll_ms, max_poll_interval_ms } => format!(
                "{consumer} has not called poll() for {since_poll_ms} ms, more than max.poll.interval.ms={max_poll_interval_ms}: its heartbeat thread gives up its membership of group {group} (a dynamic member sends LeaveGroup), and it rejoins at its next poll()."
            ),
            EventKind::ConsumerStopped { consumer } => format!(
                "{consumer} was closed and stops reading."
            ),
            EventKind::ConsumerCrashed { consumer } => format!(
                "{consumer}'s process was killed: it stops reading without committing what it read since its last commit or leaving its group, which notices only when its session times out."
            ),
            EventKind::ConsumerStarted { consumer } => format!(
                "{consumer} was started again as a new process."
            ),
            EventKind::ConsumerAssigned { consumer, group, generation_id, partitions } => {
                if partitions.is_empty() {
                    format!("{consumer} joined generation {generation_id} of group {group} with no partitions: it stays idle.")
                } else {
                    format!(
                        "{consumer} joined generation {generation_id} of group {group} and reads {}.",
                        partitions.iter().map(|tp| tp.to_string()).collect::<Vec<_>>().join(", ")
                    )
                }
            }
            EventKind::GroupChanged { group, coordinator, change } => match change {
                crate::group::GroupChange::RebalanceStarted { reason } => format!(
                    "Group {group} (coordinator: broker {coordinator}) is preparing a rebalance because {reason}; every member must rejoin."
                ),
                crate::group::GroupChange::GenerationCompleted { generation_id, members: 0, .. } => format!(
                    "Group {group} completed generation {generation_id} with no members: it is empty."
                ),
                crate::group::GroupChange::GenerationCompleted { generation_id, members, protocol, leader } => format!(
                    "Group {group} completed the join phase of generation {generation_id} with {members} member(s); assignor {}, leader {}. The leader computes the assignment.",
                    protocol.as_deref().unwrap_or("none"),
                    leader.as_deref().unwrap_or("none")
                ),
                crate::group::GroupChange::Stabilized { generation_id } => format!(
                    "Group {group} is stable in generation {generation_id}: the leader's assignment reached every member."
                ),
                crate::group::GroupChange::MemberRemoved { member_id, reason } => format!(
                    "Group {group} removed member {member_id}: {reason}."
                ),
            },
            EventKind::OffsetsCommitted { consumer, group, offsets } => format!(
                "{consumer} committed offsets for group {group}: {}.",
                offsets.iter().map(|(tp, o)| format!("{tp}@{o}")).collect::<Vec<_>>().join(", ")
            ),
            EventKind::OffsetReset { consumer, tp, offset, policy } => format!(
                "{consumer} has no committed offset for {tp}; auto.offset.reset={policy} puts it at offset {offset}."
            ),
            EventKind::ConsumerTruncationDetected { consumer, tp, position, diverging_at: Some(at) } => format!(
                "{consumer} checked its position {position} in {tp} with the new leader (OffsetsForLeaderEpoch): the log was truncated, and it reads again from offset {at}, the first known to diverge."
            ),
            EventKind::ConsumerTruncationDetected { consumer, tp, position, diverging_at: None } => format!(
                "{consumer} checked its position {position} in {tp} with the new leader (OffsetsForLeaderEpoch): the leader has none of the epochs it read, so auto.offset.reset decides where it reads."
            ),
        }
    }
}

/// Errors after which a producer fails a batch at once instead of retrying it.
const NOT_RETRIABLE: [&str; 4] = [
    "INVALID_RECORD",
    "INVALID_REQUEST",
    "INVALID_PRODUCER_EPOCH",
    "OUT_OF_ORDER_SEQUENCE_NUMBER",
];

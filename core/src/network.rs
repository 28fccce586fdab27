//! Simulated network: every request and response between nodes is a message with a send and a
//! receive time, so the page can animate it in flight and faults can act on it (invariant 5).

use crate::log::Record;
use crate::metadata::{MetadataImage, TopicPartition};
use crate::time::SimTime;
use crate::{BrokerId, KafkaError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

/// A node that sends or receives messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum NodeId {
    /// A broker, by its `node.id`.
    Broker(BrokerId),
    /// A controller, by its `node.id`.
    Controller(BrokerId),
    /// The ZooKeeper ensemble (ZooKeeper mode only).
    ZooKeeper,
    /// A producer client, by its index in the simulation.
    Producer(u32),
    /// A consumer client, by its index in the simulation.
    Consumer(u32),
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeId::Broker(id) => write!(f, "broker {id}"),
            NodeId::Controller(id) => write!(f, "controller {id}"),
            NodeId::ZooKeeper => write!(f, "ZooKeeper"),
            NodeId::Producer(i) => write!(f, "producer #{i}"),
            NodeId::Consumer(i) => write!(f, "consumer #{i}"),
        }
    }
}

/// Where a consumer wants to start reading (`ListOffsets`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The high watermark.
    Latest,
}

/// One partition in a fetch request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchPartition {
    /// The partition.
    pub tp: TopicPartition,
    /// The first offset wanted; for a follower this is also its log end offset.
    pub fetch_offset: u64,
    /// The epoch of the fetcher's last record, used by the leader to detect divergence.
    pub last_fetched_epoch: Option<u32>,
    /// The leader epoch the fetcher believes is current.
    pub current_leader_epoch: u32,
}

/// What the leader answers for one partition of a fetch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FetchResult {
    /// Records (possibly none) and the leader's high watermark and log start offset.
    Records {
        /// The records, in offset order.
        records: Vec<Record>,
        /// The leader's high watermark.
        high_watermark: u64,
        /// The leader's log start offset.
        log_start_offset: u64,
    },
    /// The follower's log diverged: it must truncate to at most `end_offset` of `epoch`.
    Diverging {
        /// The largest epoch the leader has at or below the follower's last fetched epoch.
        epoch: Option<u32>,
        /// Where that epoch ends in the leader's log.
        end_offset: u64,
    },
    /// The request failed for this partition.
    Error(KafkaError),
}

/// One partition's batch in a produce request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProduceBatch {
    /// The partition.
    pub tp: TopicPartition,
    /// The records, in order; offsets are assigned by the leader.
    pub records: Vec<Record>,
}

/// The body of a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payload {
    /// A broker's periodic liveness signal to the controller (`BrokerHeartbeat`).
    BrokerHeartbeat {
        /// Changes every time the broker process restarts, like Kafka's broker epoch.
        incarnation: u32,
        /// The offset of the metadata image the broker holds (`currentMetadataOffset`), so that
        /// the controller re-sends an image the broker missed.
        metadata_offset: u64,
        /// The broker asks for a controlled shutdown (`wantShutDown`).
        want_shut_down: bool,
        /// Whether the process's previous run ended in a clean shutdown (KIP-966 sends the
        /// previous broker epoch only then).
        previous_shutdown_clean: bool,
    },
    /// The controller's answer to a heartbeat.
    BrokerHeartbeatResponse {
        /// Whether the controller currently fences this broker.
        fenced: bool,
        /// The controlled shutdown is complete: the broker leads nothing and may stop.
        should_shut_down: bool,
    },
    /// Traffic between the voters of the controller quorum (Vote, BeginQuorumEpoch,
    /// EndQuorumEpoch, Fetch and their responses).
    Raft(Box<crate::raft::RaftMessage<crate::metadata_record::MetadataRecord>>),
    /// A controller that is not the active one refusing a broker's request, naming the leader
    /// it knows (`NOT_CONTROLLER`).
    NotController {
        /// The active controller as the responder knows it.
        leader: Option<BrokerId>,
    },
    /// A broker's ZooKeeper session ping; it also creates the session and the broker's znode
    /// `/brokers/ids/N` when there is none.
    ZkPing {
        /// The broker process incarnation (stands for the session id).
        incarnation: u32,
    },
    /// A broker closing its ZooKeeper session at the end of a clean shutdown.
    ZkCloseSession {
        /// The incarnation whose session ends.
        incarnation: u32,
    },
    /// A broker trying to create `/controller` after its watch fired.
    ZkCreateController,
    /// ZooKeeper telling a broker who holds `/controller` (the watch on it, or the answer to a
    /// ping). The winner of an election also gets `/brokers/ids`.
    ZkControllerChanged {
        /// The controller broker, `None` when the znode was deleted.
        controller: Option<BrokerId>,
        /// `/controller_epoch`.
        epoch: u32,
        /// The registered brokers and their incarnations, for a new controller; else empty.
        brokers: Vec<(BrokerId, u32)>,
    },
    /// ZooKeeper telling the controller that `/brokers/ids` changed, with its children.
    ZkBrokersChanged {
        /// The registered brokers and their incarnations.
        brokers: Vec<(BrokerId, u32)>,
    },
    /// The controller publishing its metadata to a broker.
    MetadataUpdate {
        /// The full image; brokers ignore images older than the one they hold.
        image: Box<MetadataImage>,
    },
    /// A partition leader asking the controller to change the ISR (`AlterPartition`).
    AlterPartition {
        /// The partition.
        tp: TopicPartition,
        /// The leader epoch the leader is in.
        leader_epoch: u32,
        /// The partition epoch the change is based on.
        partition_epoch: u32,
        /// The ISR the leader wants.
        new_isr: Vec<BrokerId>,
    },
    /// The controller's answer to `AlterPartition`.
    AlterPartitionResponse {
        /// The partition.
        tp: TopicPartition,
        /// `None` when the change was applied.
        error: Option<KafkaError>,
    },
    /// A fetch from a follower (`replica` set) or a consumer.
    Fetch {
        /// Matches the response to the request.
        request_id: u64,
        /// The follower broker, or `None` for a consumer.
        replica: Option<BrokerId>,
        /// The partitions wanted.
        partitions: Vec<FetchPartition>,
        /// `replica.fetch.wait.max.ms` or `fetch.max.wait.ms`.
        max_wait_ms: u64,
    },
    /// The answer to a fetch.
    FetchResponse {
        /// The request answered.
        request_id: u64,
        /// One result per requested partition.
        partitions: Vec<(TopicPartition, FetchResult)>,
    },
    /// A producer's request to one broker: at most one batch for each of the partitions it
    /// leads, drained from the accumulator together, as Kafka's sender does.
    Produce {
        /// Matches the response to the request.
        request_id: u64,
        /// The producer's `acks`.
        acks: crate::config::Acks,
        /// `request.timeout.ms`, which is also the produce purgatory's timeout.
        timeout_ms: u64,
        /// One batch per partition; offsets are assigned by the leader.
        batches: Vec<ProduceBatch>,
    },
    /// The answer to a produce request, once every partition in it has a result.
    ProduceResponse {
        /// The request answered.
        request_id: u64,
        /// Per partition: the base offset of its batch, or the error.
        results: Vec<(TopicPartition, Result<u64, KafkaError>)>,
    },
    /// A client asking any broker for partition leaders.
    Metadata {
        /// Matches the response to the request.
        request_id: u64,
    },
    /// A broker's answer from its metadata image.
    MetadataResponse {
        /// The request answered.
        request_id: u64,
        /// The image the broker holds.
        image: Box<MetadataImage>,
    },
    /// A consumer asking a leader for the earliest or latest offset.
    ListOffsets {
        /// Matches the response to the request.
        request_id: u64,
        /// The partition.
        tp: TopicPartition,
        /// Earliest or latest.
        spec: OffsetSpec,
    },
    /// The answer to `ListOffsets`.
    ListOffsetsResponse {
        /// The request answered.
        request_id: u64,
        /// The partition.
        tp: TopicPartition,
        /// The offset, or the error.
        result: Result<u64, KafkaError>,
    },
    /// A consumer validating its position after a leader change (`OffsetsForLeaderEpoch`,
    /// KIP-320): where does `leader_epoch`, the epoch of the last record it read, end in the
    /// leader's log?
    OffsetsForLeaderEpoch {
        /// Matches the response to the request.
        request_id: u64,
        /// The partition.
        tp: TopicPartition,
        /// The leader epoch the consumer knows, fenced like a fetch's.
        current_leader_epoch: u32,
        /// The epoch whose end offset is asked for.
        leader_epoch: u32,
    },
    /// The answer to `OffsetsForLeaderEpoch`.
    OffsetsForLeaderEpochResponse {
        /// The request answered.
        request_id: u64,
        /// The partition.
        tp: TopicPartition,
        /// The largest epoch at or below the one asked for and where it ends, `None` when the
        /// leader holds no such epoch (Kafka's `UNDEFINED_EPOCH`), or the error.
        result: Result<Option<(u32, u64)>, KafkaError>,
    },
    /// A consumer asking any broker which broker coordinates its group.
    FindCoordinator {
        /// Matches the response to the request.
        request_id: u64,
        /// `group.id`.
        group: String,
    },
    /// The coordinator, or why there is none yet.
    FindCoordinatorResponse {
        /// The request answered.
        request_id: u64,
        /// The leader of the group's `__consumer_offsets` partition, or the error.
        result: Result<BrokerId, KafkaError>,
    },
    /// A member joining its group (or rejoining for a rebalance).
    JoinGroup {
        /// Matches the response to the request.
        request_id: u64,
        /// `group.id`.
        group: String,
        /// The request's fields.
        join: Box<crate::group::JoinRequest>,
    },
    /// The answer to `JoinGroup`, once the join phase completes.
    JoinGroupResponse {
        /// The request answered.
        request_id: u64,
        /// The generation joined, or the error (with the member id to use, for
        /// `MEMBER_ID_REQUIRED`).
        result: Box<crate::group::JoinResult>,
    },
    /// A member asking for its assignment; the leader's carries everyone's.
    SyncGroup {
        /// Matches the response to the request.
        request_id: u64,
        /// `group.id`.
        group: String,
        /// The member.
        member_id: String,
        /// Its generation.
        generation_id: i32,
        /// From the leader: every member's partitions.
        assignment: Option<BTreeMap<String, Vec<TopicPartition>>>,
    },
    /// The member's partitions for the generation.
    SyncGroupResponse {
        /// The request answered.
        request_id: u64,
        /// The partitions, or the error.
        result: Result<Vec<TopicPartition>, KafkaError>,
    },
    /// A member's heartbeat.
    Heartbeat {
        /// Matches the response to the request.
        request_id: u64,
        /// `group.id`.
        group: String,
        /// The member.
        member_id: String,
        /// Its generation.
        generation_id: i32,
    },
    /// The answer to a heartbeat.
    HeartbeatResponse {
        /// The request answered.
        request_id: u64,
        /// `None`, or the error telling the member to rejoin.
        error: Option<KafkaError>,
    },
    /// A member leaving its group.
    LeaveGroup {
        /// Matches the response to the request.
        request_id: u64,
        /// `group.id`.
        group: String,
        /// The member.
        member_id: String,
    },
    /// The answer to `LeaveGroup`.
    LeaveGroupResponse {
        /// The request answered.
        request_id: u64,
        /// `None`, or the error.
        error: Option<KafkaError>,
    },
    /// A consumer committing offsets (the next offset to read, per partition).
    OffsetCommit {
        /// Matches the response to the request.
        request_id: u64,
        /// `group.id`.
        group: String,
        /// The member, or empty for a consumer outside the group protocol.
        member_id: String,
        /// Its generation, or -1.
        generation_id: i32,
        /// The offsets.
        offsets: Vec<(TopicPartition, u64)>,
    },
    /// The answer to `OffsetCommit`, once the commit is replicated.
    OffsetCommitResponse {
        /// The request answered.
        request_id: u64,
        /// `None`, or the error.
        error: Option<KafkaError>,
    },
    /// A consumer asking for its group's committed offsets.
    OffsetFetch {
        /// Matches the response to the request.
        request_id: u64,
        /// `group.id`.
        group: String,
        /// The partitions asked about.
        partitions: Vec<TopicPartition>,
    },
    /// The committed offsets (partitions without one are left out).
    OffsetFetchResponse {
        /// The request answered.
        request_id: u64,
        /// The offsets, or the error.
        result: Result<Vec<(TopicPartition, u64)>, KafkaError>,
    },
    /// The connection to the destination failed (the process is gone); delivered back to the
    /// sender of `request_id`.
    Disconnected {
        /// The request that failed.
        request_id: u64,
    },
}

impl Payload {
    /// The Kafka API name of this message, as the page labels it.
    pub fn api_name(&self) -> &'static str {
        match self {
            Payload::BrokerHeartbeat { .. } | Payload::BrokerHeartbeatResponse { .. } => {
                "BrokerHeartbeat"
            }
            Payload::MetadataUpdate { .. } => "MetadataUpdate",
            Payload::Raft(message) => message.name().trim_end_matches("Response"),
            Payload::NotController { .. } => "NotController",
            Payload::ZkPing { .. }
            | Payload::ZkCloseSession { .. }
            | Payload::ZkCreateController
            | Payload::ZkControllerChanged { .. }
            | Payload::ZkBrokersChanged { .. } => "ZooKeeper",
            Payload::AlterPartition { .. } | Payload::AlterPartitionResponse { .. } => {
                "AlterPartition"
            }
            Payload::Fetch { .. } | Payload::FetchResponse { .. } => "Fetch",
            Payload::Produce { .. } | Payload::ProduceResponse { .. } => "Produce",
            Payload::Metadata { .. } | Payload::MetadataResponse { .. } => "Metadata",
            Payload::ListOffsets { .. } | Payload::ListOffsetsResponse { .. } => "ListOffsets",
            Payload::OffsetsForLeaderEpoch { .. }
            | Payload::OffsetsForLeaderEpochResponse { .. } => "OffsetsForLeaderEpoch",
            Payload::FindCoordinator { .. } | Payload::FindCoordinatorResponse { .. } => {
                "FindCoordinator"
            }
            Payload::JoinGroup { .. } | Payload::JoinGroupResponse { .. } => "JoinGroup",
            Payload::SyncGroup { .. } | Payload::SyncGroupResponse { .. } => "SyncGroup",
            Payload::Heartbeat { .. } | Payload::HeartbeatResponse { .. } => "Heartbeat",
            Payload::LeaveGroup { .. } | Payload::LeaveGroupResponse { .. } => "LeaveGroup",
            Payload::OffsetCommit { .. } | Payload::OffsetCommitResponse { .. } => "OffsetCommit",
            Payload::OffsetFetch { .. } | Payload::OffsetFetchResponse { .. } => "OffsetFetch",
            Payload::Disconnected { .. } => "Disconnect",
        }
    }

    /// The request a broker's response answers: every client request gets one (or a
    /// `Disconnected`), which frees its connection for the next request.
    pub fn answers_request(&self) -> Option<u64> {
        match self {
            Payload::FetchResponse { request_id, .. }
            | Payload::ProduceResponse { request_id, .. }
            | Payload::MetadataResponse { request_id, .. }
            | Payload::ListOffsetsResponse { request_id, .. }
            | Payload::OffsetsForLeaderEpochResponse { request_id, .. }
            | Payload::Disconnected { request_id } => Some(*request_id),
            _ => None,
        }
    }

    /// Whether this is a response (travelling back to the requester).
    pub fn is_response(&self) -> bool {
        matches!(
            self,
            Payload::BrokerHeartbeatResponse { .. }
                | Payload::NotController { .. }
                | Payload::AlterPartitionResponse { .. }
                | Payload::FetchResponse { .. }
                | Payload::ProduceResponse { .. }
                | Payload::MetadataResponse { .. }
                | Payload::ListOffsetsResponse { .. }
                | Payload::OffsetsForLeaderEpochResponse { .. }
                | Payload::FindCoordinatorResponse { .. }
                | Payload::JoinGroupResponse { .. }
                | Payload::SyncGroupResponse { .. }
                | Payload::HeartbeatResponse { .. }
                | Payload::LeaveGroupResponse { .. }
                | Payload::OffsetCommitResponse { .. }
                | Payload::OffsetFetchResponse { .. }
                | Payload::Disconnected { .. }
        ) || matches!(self, Payload::Raft(m) if !m.is_request())
    }
}

/// A message in flight.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Unique per simulation, in send order.
    pub id: u64,
    /// The sender.
    pub from: NodeId,
    /// The receiver.
    pub to: NodeId,
    /// When it left the sender.
    pub sent_at: SimTime,
    /// When it reaches the receiver.
    pub deliver_at: SimTime,
    /// What it carries.
    pub payload: Payload,
}

/// Messages in flight, by id.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Network {
    next_id: u64,
    /// The id of the message at the front of `in_flight`.
    first_id: u64,
    /// Every message from `first_id` to `next_id`, at index `id - first_id`; `None` once
    /// delivered. Ids are handed out in send order and most messages arrive within a few
    /// milliseconds, so the front empties quickly: this costs O(1) per message where a map by id
    /// moved entries around on every removal, a few per cent of the whole simulation.
    in_flight: VecDeque<Option<Message>>,
    /// The faults in force.
    pub(crate) faults: crate::fault::NetworkFaults,
    /// Messages lost to faults so far.
    pub(crate) dropped: u64,
    /// The latest delivery time scheduled on each link, so that a link delivers in send order
    /// as a TCP connection does: jitter delays a message but never lets it overtake an earlier
    /// one to the same node.
    #[serde(skip)]
    link_clock: HashMap<u128, SimTime, BuildHasherDefault<LinkHasher>>,
    /// Producer connections, as `(producer, broker)`, on which a message was lost: TCP never
    /// delivers a later message after losing an earlier one, so a loss breaks the connection and
    /// every later message on it, either way, is lost too until the producer reconnects.
    #[serde(default)]
    broken: BTreeSet<(u32, BrokerId)>,
    /// The first request id of each producer connection's current incarnation: answers to older
    /// requests belonged to a connection that is closed and go nowhere.
    #[serde(default)]
    connection_start: BTreeMap<u32, BTreeMap<BrokerId, u64>>,
}

/// A link as one integer, the key of [`Network::in_order`]'s map: every message looks its link up,
/// and comparing two enums field by field cost more than a few per cent of the simulation.
fn link_key(from: NodeId, to: NodeId) -> u128 {
    fn code(node: NodeId) -> u64 {
        let (kind, id) = match node {
            NodeId::Broker(id) => (0, id as u32),
            NodeId::Controller(id) => (1, id as u32),
            NodeId::ZooKeeper => (2, 0),
            NodeId::Producer(i) => (3, i),
            NodeId::Consumer(i) => (4, i),
        };
        (kind << 32) | u64::from(id)
    }
    (u128::from(code(from)) << 64) | u128::from(code(to))
}

/// The hasher of [`Network::in_order`]'s map, whose keys are [`link_key`]s.
///
/// Every message looks its link up. In a `BTreeMap` that cost a dozen 128-bit comparisons, about
/// 2 % of the simulation's instructions under load; one multiplication mixes a key's two halves well enough for
/// the few hundred links a cluster has. The map is only ever looked up, never iterated, so its
/// order cannot leak into the simulation.
#[derive(Default)]
pub(crate) struct LinkHasher(u64);

impl Hasher for LinkHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u128` is used; this keeps the hasher correct for any other key.
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_u128(&mut self, key: u128) {
        // The halves are the two nodes' codes; turning one around keeps both ids apart, and
        // folding the product's high half down spreads them over the low bits that pick a bucket.
        let mixed = (key as u64) ^ ((key >> 64) as u64).rotate_left(32);
        let h = mixed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 32);
    }
}

/// The producer connection a message travels on, as `(producer, broker)`, if any.
///
/// Only producers pipeline requests that must not be reordered or skipped (up to
/// `max.in.flight.requests.per.connection` produce requests); consumers retry each request on its
/// own timeout, so for them a lost message is modelled as just that.
pub(crate) fn producer_connection(from: NodeId, to: NodeId) -> Option<(u32, BrokerId)> {
    match (from, to) {
        (NodeId::Producer(p), NodeId::Broker(b)) | (NodeId::Broker(b), NodeId::Producer(p)) => {
            Some((p, b))
        }
        _ => None,
    }
}

impl Network {
    /// Whether a message on producer connection `connection` is lost because the connection
    /// broke earlier, or because it answers a request of a connection the producer has closed.
    pub(crate) fn connection_lost(
        &self,
        connection: (u32, BrokerId),
        request_id: Option<u64>,
    ) -> bool {
        self.broken.contains(&connection)
            || request_id.is_some_and(|id| id < self.connection_start(connection))
    }

    /// A message on producer connection `connection` was lost: the connection is broken.
    pub(crate) fn break_connection(&mut self, connection: (u32, BrokerId)) {
        self.broken.insert(connection);
    }

    /// The producer closed its connection to a broker and opens a new one whose first request
    /// will be `first_request_id`.
    pub(crate) fn reconnect(&mut self, connection: (u32, BrokerId), first_request_id: u64) {
        self.broken.remove(&connection);
        self.connection_start
            .entry(connection.0)
            .or_default()
            .insert(connection.1, first_request_id);
    }

    /// The first request id of producer connection `connection`'s current incarnation.
    pub(crate) fn connection_start(&self, connection: (u32, BrokerId)) -> u64 {
        self.connection_start
            .get(&connection.0)
            .and_then(|brokers| brokers.get(&connection.1))
            .copied()
            .unwrap_or(0)
    }
    /// When a message sent now on `from → to` and due at `due` is delivered: no earlier than any
    /// message sent before it on the link.
    pub(crate) fn in_order(&mut self, from: NodeId, to: NodeId, due: SimTime) -> SimTime {
        let last = self.link_clock.entry(link_key(from, to)).or_insert(due);
        if *last < due {
            *last = due;
        }
        *last
    }

    /// Registers a message and returns its id; the caller schedules its delivery.
    pub(crate) fn send(
        &mut self,
        from: NodeId,
        to: NodeId,
        sent_at: SimTime,
        deliver_at: SimTime,
        payload: Payload,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        if self.in_flight.is_empty() {
            self.first_id = id;
        }
        self.in_flight.push_back(Some(Message {
            id,
            from,
            to,
            sent_at,
            deliver_at,
            payload,
        }));
        id
    }

    /// Removes a message on delivery.
    pub(crate) fn take(&mut self, id: u64) -> Option<Message> {
        let index = usize::try_from(id.checked_sub(self.first_id)?).ok()?;
        let message = self.in_flight.get_mut(index)?.take();
        while let Some(None) = self.in_flight.front() {
            self.in_flight.pop_front();
            self.first_id += 1;
        }
        message
    }

    /// Messages in flight, in send order.
    pub fn in_flight(&self) -> impl Iterator<Item = &Message> {
        self.in_flight.iter().flatten()
    }
}

/// Serde for maps keyed by [`NodeId`]: JSON object keys must be strings, so such a map is
/// written as a list of `[node, value]` pairs (use with `#[serde(with = "node_keyed")]`).
pub(crate) mod node_keyed {
    use super::NodeId;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub(crate) fn serialize<V: Serialize, S: Serializer>(
        map: &BTreeMap<NodeId, V>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(map.iter())
    }

    pub(crate) fn deserialize<'de, V: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<NodeId, V>, D::Error> {
        Ok(Vec::<(NodeId, V)>::deserialize(deserializer)?
            .into_iter()
            .collect())
    }
}

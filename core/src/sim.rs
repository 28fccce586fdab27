//! The simulated world: one value holding every node, the network and the event queue, advanced
//! only by [`Simulation::step`] (architecture invariant 2).

use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::consumer::Consumer;
use crate::controller::Controller;
use crate::error::{Error, ErrorKind, Result};
use crate::event::{Event, EventKind};
use crate::network::{Message, Network, NodeId, Payload};
use crate::producer::Producer;
use crate::rng::SimRng;
use crate::time::SimTime;
use crate::BrokerId;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// How many narrated events are kept for the page and the timeline (invariant 8).
pub const MAX_EVENTS: usize = 2_000;
/// The node id of the first controller, the active one when a simulation starts.
pub const CONTROLLER_ID: BrokerId = crate::quorum::FIRST_CONTROLLER_ID;
/// How many controllers (quorum voters) a simulation has unless told otherwise, as in Kafka's
/// recommended production setup.
pub const DEFAULT_CONTROLLERS: u32 = 3;
/// Most brokers a simulation may have.
pub const MAX_BROKERS: u32 = 12;

/// A timer that fires at a simulated time. Timers of a broker carry its incarnation, so that
/// timers set before a restart are ignored after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Timer {
    BrokerHeartbeat {
        broker: BrokerId,
        incarnation: u32,
    },
    BrokerIsrCheck {
        broker: BrokerId,
        incarnation: u32,
    },
    BrokerFetchBackoff {
        broker: BrokerId,
        incarnation: u32,
        leader: BrokerId,
    },
    /// The earliest max wait of a broker's parked fetches ends (one timer per broker, as
    /// Kafka's purgatory cancels the timeout of an operation it completes early).
    BrokerFetchWait {
        broker: BrokerId,
        incarnation: u32,
    },
    BrokerProduceTimeout {
        broker: BrokerId,
        incarnation: u32,
        request_id: u64,
    },
    BrokerFetchTimeout {
        broker: BrokerId,
        incarnation: u32,
        request_id: u64,
    },
    BrokerWriteback {
        broker: BrokerId,
        incarnation: u32,
    },
    BrokerLogRetention {
        broker: BrokerId,
        incarnation: u32,
    },
    BrokerLogCleaner {
        broker: BrokerId,
        incarnation: u32,
    },
    /// A client connection's current request was answered and another waits on it.
    BrokerNextRequest {
        broker: BrokerId,
        incarnation: u32,
        client: NodeId,
    },
    /// A group's join phase may complete (initial delay or rebalance timeout).
    GroupJoin {
        broker: BrokerId,
        incarnation: u32,
        group: String,
        join_epoch: u64,
    },
    /// A group member's session may have expired.
    GroupMemberExpiry {
        broker: BrokerId,
        incarnation: u32,
        group: String,
        member_id: String,
    },
    /// A generation's members that never synced are removed.
    GroupSyncExpiry {
        broker: BrokerId,
        incarnation: u32,
        group: String,
        generation_id: i32,
    },
    ControllerFenceCheck,
    ControllerLeaderRebalance,
    Quorum {
        controller: BrokerId,
        timer: crate::raft::RaftTimer,
    },
    ZkSessionCheck,
    ProducerTick {
        producer: u32,
    },
    ProducerWake {
        producer: u32,
    },
    ProducerRequestTimeout {
        producer: u32,
        request_id: u64,
    },
    ConsumerWake {
        consumer: u32,
    },
    ConsumerRequestTimeout {
        consumer: u32,
        request_id: u64,
    },
    ConsumerAutoCommit {
        consumer: u32,
    },
    ConsumerHeartbeat {
        consumer: u32,
        incarnation: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Task {
    Deliver(u64),
    Timer(Timer),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Scheduled {
    time: SimTime,
    seq: u64,
    task: Task,
}

// The queue is a max-heap; invert so that the earliest (time, sequence) comes out first.
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Most lanes a [`TaskQueue`] keeps; tasks of other delays go to its heap.
const MAX_LANES: usize = 16;

/// The queue of tasks, which runs them in `(time, sequence)` order.
///
/// Most pending tasks are timeouts set a fixed delay ahead (30 s request and socket timeouts),
/// and a single heap holding all of them made every step sift through tens of thousands of
/// entries. Timers set a fixed delay ahead go to a lane per delay instead: the clock never goes
/// back and sequence numbers grow, so each lane is already in order and costs O(1) per task. The
/// next task is the earliest of the heap's top and the lanes' fronts, so the order is exactly
/// that of one heap.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct TaskQueue {
    heap: BinaryHeap<Scheduled>,
    /// Each lane's delay in microseconds and its tasks, earliest first.
    lanes: Vec<(u64, VecDeque<Scheduled>)>,
    /// The lane with the earliest front (`Some(None)`: every lane is empty), or `None` when it
    /// must be found again. Most tasks come off the heap while the lanes' fronts (timeouts tens
    /// of seconds ahead) stay put, so comparing every lane's front on every step was wasted:
    /// only a push to an empty lane or a pop from this lane can change it.
    #[serde(skip)]
    front_lane: std::cell::Cell<Option<Option<usize>>>,
}

impl TaskQueue {
    /// Queues a task; `delay_us` is how far ahead of the current time it was set, when that is a
    /// fixed delay worth a lane.
    fn push(&mut self, task: Scheduled, delay_us: Option<u64>) {
        if let Some(delay) = delay_us {
            let lane = match self.lanes.iter().position(|(d, _)| *d == delay) {
                Some(lane) => Some(lane),
                // A lane left empty is taken over by another delay.
                None => match self.lanes.iter().position(|(_, q)| q.is_empty()) {
                    Some(lane) => {
                        self.lanes[lane].0 = delay;
                        Some(lane)
                    }
                    None if self.lanes.len() < MAX_LANES => {
                        self.lanes.push((delay, VecDeque::new()));
                        Some(self.lanes.len() - 1)
                    }
                    None => None,
                },
            };
            if let Some(lane) = lane {
                let queue = &mut self.lanes[lane].1;
                // The lane stays sorted only if no task in it is later than this one.
                if queue.back().is_none_or(|last| last.time <= task.time) {
                    if queue.is_empty() {
                        self.front_lane.set(None);
                    }
                    queue.push_back(task);
                    return;
                }
            }
        }
        self.heap.push(task);
    }

    /// The lane with the earliest front, if any lane has a task.
    fn front_lane(&self) -> Option<usize> {
        if let Some(known) = self.front_lane.get() {
            return known;
        }
        let mut best: Option<(usize, &Scheduled)> = None;
        for (i, (_, queue)) in self.lanes.iter().enumerate() {
            if let Some(front) = queue.front() {
                // `Scheduled` orders the earliest as the greatest.
                if best.is_none_or(|(_, b)| front > b) {
                    best = Some((i, front));
                }
            }
        }
        let lane = best.map(|(i, _)| i);
        self.front_lane.set(Some(lane));
        lane
    }

    /// The lane whose front comes before the heap's top, if any.
    fn earliest_lane(&self) -> Option<usize> {
        let lane = self.front_lane()?;
        let front = self.lanes[lane].1.front()?;
        match self.heap.peek() {
            Some(top) if top > front => None,
            _ => Some(lane),
        }
    }

    /// Removes and returns the next task if it is due at or before `until`.
    fn pop_until(&mut self, until: SimTime) -> Option<Scheduled> {
        match self.earliest_lane() {
            Some(lane) => {
                let queue = &mut self.lanes[lane].1;
                queue.front().filter(|s| s.time <= until)?;
                self.front_lane.set(None);
                queue.pop_front()
            }
            None => {
                self.heap.peek().filter(|s| s.time <= until)?;
                self.heap.pop()
            }
        }
    }

    fn peek_time(&self) -> Option<SimTime> {
        match self.earliest_lane() {
            Some(lane) => self.lanes[lane].1.front().map(|s| s.time),
            None => self.heap.peek().map(|s| s.time),
        }
    }
}

/// A user intent on the running simulation (from the page, a scenario timeline or the CLI).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Hard-kill a broker process (`kill -9`): it stops at once, but what it wrote is in the
    /// operating system's page cache and survives.
    KillBroker(BrokerId),
    /// Close a consumer (`consumer.close()`): a dynamic group member leaves its group, a static
    /// one stays a member until its session times out.
    StopConsumer(String),
    /// Kill a consumer's process (`kill -9`): unlike `StopConsumer` it commits nothing and sends
    /// no LeaveGroup, so what it read since its last auto-commit is uncommitted and its group
    /// removes it only when its `session.timeout.ms` runs out.
    CrashConsumer(String),
    /// Start a stopped consumer again, as a new process with the same configs.
    StartConsumer(String),
    /// Lossy hard kill: the broker's machine loses power, and every record not yet written back
    /// to disk is gone (`acks=all` is not fsync, `RELIABILITY.md` §B.9).
    CrashBroker(BrokerId),
    /// Clean shutdown: controlled shutdown moves the broker's leaderships away and removes it from
    /// ISRs first, then the broker flushes its logs and stops.
    ShutdownBroker(BrokerId),
    /// Start a stopped broker again.
    RestartBroker(BrokerId),
    /// Hard-kill a controller process: its flushed metadata log and election state survive.
    /// Killing the active controller makes the quorum elect another.
    KillController(BrokerId),
    /// Lossy hard kill of a controller: its machine loses power and the unflushed end of its
    /// metadata log.
    CrashController(BrokerId),
    /// Start a stopped controller again.
    RestartController(BrokerId),
    /// Lose every message from one node to another (one direction).
    CutLink {
        /// The sender whose messages are lost.
        from: NodeId,
        /// The receiver that no longer hears from `from`.
        to: NodeId,
    },
    /// Cut both directions between two nodes.
    PartitionNetwork {
        /// One side.
        a: NodeId,
        /// The other side.
        b: NodeId,
    },
    /// Cut a node off from every other node.
    Isolate(NodeId),
    /// Remove every cut and isolation.
    HealNetwork,
    /// Add latency to every message to or from a node (0 removes it).
    SetLatency {
        /// The node.
        node: NodeId,
        /// Extra one-way milliseconds.
        ms: u64,
    },
    /// Make a broker a slow follower: it waits before sending each fetch (0 removes it).
    SlowFollower {
        /// The broker.
        broker: BrokerId,
        /// Milliseconds of delay per fetch.
        ms: u64,
    },
    /// Lose messages at random: per mille of those to or from `node`, or of all messages.
    SetDropRate {
        /// The node, or `None` for every message.
        node: Option<NodeId>,
        /// Chance per mille (0 to 1000).
        per_mille: u32,
    },
    /// Change a producer's rate in records per second (0 pauses it).
    SetProducerRate {
        /// The producer's client id.
        producer: String,
        /// Records per second.
        rate_per_sec: u32,
    },
    /// Have a producer create `records` records at once (a burst), on top of its rate.
    Produce {
        /// The producer's client id.
        producer: String,
        /// How many records.
        records: u32,
    },
    /// Delete a topic (`kafka-topics.sh --delete`).
    DeleteTopic(String),
    /// Grow a topic to `partitions` partitions (`kafka-topics.sh --alter --partitions`).
    AddPartitions {
        /// The topic.
        topic: String,
        /// The new total.
        partitions: u32,
    },
    /// Preferred leader election (`kafka-leader-election.sh --election-type PREFERRED`), for one
    /// topic or all.
    ElectPreferredLeaders(Option<String>),
    /// Move a partition to other brokers (`kafka-reassign-partitions.sh --execute`).
    Reassign {
        /// The partition.
        tp: crate::metadata::TopicPartition,
        /// The target replicas, the first being the preferred leader.
        replicas: Vec<BrokerId>,
    },
    /// Change a topic's config (`kafka-configs.sh --alter --entity-type topics`), or a
    /// cluster-wide broker config when `topic` is `None`.
    AlterConfig {
        /// The topic, or `None` for the cluster default.
        topic: Option<String>,
        /// The config's Kafka name.
        name: String,
        /// The new value.
        value: String,
    },
}

/// The whole simulated world.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Simulation {
    pub(crate) now: SimTime,
    pub(crate) seed: u64,
    pub(crate) rng: SimRng,
    queue: TaskQueue,
    next_seq: u64,
    pub(crate) next_request_id: u64,
    pub(crate) network: Network,
    pub(crate) config: BrokerConfig,
    pub(crate) controller: Controller,
    /// The ZooKeeper ensemble, in ZooKeeper mode.
    #[serde(default)]
    pub(crate) zookeeper: Option<crate::zookeeper::ZooKeeper>,
    pub(crate) brokers: Vec<Broker>,
    pub(crate) producers: Vec<Producer>,
    pub(crate) consumers: Vec<Consumer>,
    pub(crate) committed: std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<crate::metadata::TopicPartition, u64>,
    >,
    pub(crate) history: crate::history::History,
    events: VecDeque<Event>,
    event_count: u64,
    steps: u64,
    trace_hash: u64,
    /// Spare record lists for requests and responses (memory reuse only, not state).
    #[serde(skip)]
    pub(crate) record_buffers: crate::log::RecordBuffers,
}

/// FNV-1a over bytes: a stable, platform-independent digest of the trace.
fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// FNV-1a's step applied to a whole 64-bit word, for the per-step digest.
fn fnv1a_word(hash: u64, word: u64) -> u64 {
    (hash ^ word).wrapping_mul(0x0000_0100_0000_01b3)
}

impl Simulation {
    /// An empty cluster of `brokers` brokers (ids 1..=n) and a quorum of
    /// [`DEFAULT_CONTROLLERS`] controllers (ids 100, 101, …), seeded.
    pub fn new(brokers: u32, config: BrokerConfig, seed: u64) -> Result<Simulation> {
        Simulation::with_controllers(brokers, DEFAULT_CONTROLLERS, config, seed)
    }

    /// An empty cluster of `brokers` brokers (ids 1..=n) and `controllers` controllers (ids
    /// 100, 101, …) forming the KRaft quorum, seeded. The quorum starts with controller 100
    /// elected in epoch 1.
    pub fn with_controllers(
        brokers: u32,
        controllers: u32,
        config: BrokerConfig,
        seed: u64,
    ) -> Result<Simulation> {
        let zookeeper_mode = config.metadata_mode == crate::config::MetadataMode::ZooKeeper;
        if zookeeper_mode && config.eligible_leader_replicas {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                "eligible.leader.replicas.enable needs KRaft: Kafka never offered eligible leader replicas with ZooKeeper.",
            ));
        }
        // In ZooKeeper mode there is no quorum: the controller is a broker.
        let quorum = if zookeeper_mode {
            Vec::new()
        } else {
            crate::quorum::new_quorum(controllers)?
        };
        if brokers == 0 || brokers > MAX_BROKERS {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!("A cluster needs between 1 and {MAX_BROKERS} brokers; {brokers} were asked for."),
            ));
        }
        let ids: Vec<BrokerId> = (1..=brokers as BrokerId).collect();
        let mut sim = Simulation {
            now: SimTime::ZERO,
            seed,
            rng: SimRng::from_seed(seed),
            queue: TaskQueue::default(),
            next_seq: 0,
            next_request_id: 1,
            network: Network::default(),
            config,
            controller: Controller::new(quorum, &ids),
            zookeeper: zookeeper_mode.then(|| crate::zookeeper::ZooKeeper::bootstrap(&ids, ids[0])),
            brokers: ids.iter().map(|&id| Broker::new(id)).collect(),
            producers: Vec::new(),
            consumers: Vec::new(),
            committed: Default::default(),
            history: crate::history::History::new(),
            record_buffers: crate::log::RecordBuffers::default(),
            events: VecDeque::new(),
            event_count: 0,
            steps: 0,
            trace_hash: 0xcbf2_9ce4_8422_2325,
        };
        if !zookeeper_mode {
            sim.schedule(
                SimTime::from_ms(500),
                Task::Timer(Timer::ControllerFenceCheck),
            );
        }
        let rebalance = sim.config.leader_imbalance_check_interval_seconds * 1_000;
        sim.schedule(
            SimTime::from_ms(rebalance),
            Task::Timer(Timer::ControllerLeaderRebalance),
        );
        sim.start_quorum();
        sim.start_zookeeper();
        for id in ids {
            sim.start_broker(id);
        }
        Ok(sim)
    }

    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The seed the simulation was created with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// How many queued tasks (deliveries and timers) have run.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// A digest of everything that has happened so far: every task run and every event. Two
    /// runs with the same seed and commands have the same digest, natively and in wasm.
    pub fn trace_hash(&self) -> u64 {
        self.trace_hash
    }

    /// The most recent events, oldest first (at most [`MAX_EVENTS`]).
    pub fn events(&self) -> &VecDeque<Event> {
        &self.events
    }

    /// How many events happened in total, including those no longer kept.
    pub fn event_count(&self) -> u64 {
        self.event_count
    }

    /// Messages currently in flight.
    pub fn messages_in_flight(&self) -> impl Iterator<Item = &Message> {
        self.network.in_flight()
    }

    /// The active controller's id, if the quorum has one.
    pub fn controller_id(&self) -> Option<BrokerId> {
        self.controller.active
    }

    /// Cluster-wide broker settings.
    pub fn broker_config(&self) -> &BrokerConfig {
        &self.config
    }

    pub(crate) fn schedule(&mut self, time: SimTime, task: Task) {
        self.schedule_at(time, task, None);
    }

    fn schedule_at(&mut self, time: SimTime, task: Task, delay_us: Option<u64>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push(Scheduled { time, seq, task }, delay_us);
    }

    pub(crate) fn schedule_in_ms(&mut self, ms: u64, timer: Timer) {
        let time = self.now.plus_ms(ms);
        self.schedule_at(time, Task::Timer(timer), Some(ms.saturating_mul(1_000)));
    }

    pub(crate) fn request_id(&mut self) -> u64 {
        let id = self.next_request_id;
        self.next_request_id += 1;
        id
    }

    /// Sends a message; it arrives after the network latency plus random jitter and any delay a
    /// fault adds, unless a fault drops it.
    pub(crate) fn send(&mut self, from: NodeId, to: NodeId, payload: Payload) {
        let jitter = self.rng.below(self.config.network_jitter_us + 1);
        let faults = &self.network.faults;
        let extra_us = faults.extra_delay_ms(from, to, &payload) * 1_000;
        let chance = faults.drop_chance(from, to);
        // The broker has answered even if the answer is lost on the way, so its connection takes
        // the next request either way.
        if let (NodeId::Broker(broker), Some(request_id)) = (from, payload.answers_request()) {
            self.broker_answered(broker, to, request_id);
        }
        let connection = crate::network::producer_connection(from, to);
        if connection.is_some_and(|c| self.network.connection_lost(c, payload.answers_request())) {
            return;
        }
        // The drop roll draws from the generator only while a drop rate is set, so that runs
        // without faults keep the same trace as before faults existed.
        if chance > 0 && self.rng.below(1_000) < u64::from(chance) {
            self.network.dropped += 1;
            if let Some(connection) = connection {
                self.network.break_connection(connection);
            }
            return;
        }
        let due = self
            .now
            .plus_us(self.config.network_latency_us + jitter + extra_us);
        let deliver_at = self.network.in_order(from, to, due);
        let id = self.network.send(from, to, self.now, deliver_at, payload);
        self.schedule(deliver_at, Task::Deliver(id));
    }

    /// Every send and poll so far, for the history checker (`RELIABILITY.md` §A).
    pub fn history(&self) -> &crate::history::History {
        &self.history
    }

    /// The name of a value the history checker reports, as its producer wrote it
    /// (`client-id-n`), or the number when no producer of this simulation wrote it.
    pub fn value_name(&self, id: crate::history::ValueId) -> String {
        match self.producers.get((id >> 40) as usize) {
            Some(p) => format!("{}-{}", p.spec.client_id, id & ((1 << 40) - 1)),
            None => id.to_string(),
        }
    }

    /// The name of a consumer the history checker reports: its `client.id`, or the number when
    /// this simulation has no such consumer.
    pub fn consumer_name(&self, index: u32) -> String {
        match self.consumers.get(index as usize) {
            Some(c) => c.spec.client_id.clone(),
            None => index.to_string(),
        }
    }

    /// The checker's final read: for every partition with a live leader, what a consumer that
    /// seeks to the beginning would read, recorded as a `Drain`. Call it after healing the
    /// cluster; partitions without a live leader are left out rather than reported as lost.
    pub fn drain_history(&mut self) {
        let mut drains = Vec::new();
        for (tp, state) in self.controller.image.partitions() {
            // Internal topics hold the brokers' own records, not the history's sends.
            if tp.topic.starts_with("__") {
                continue;
            }
            let Some(leader) = state.leader else { continue };
            let Some(b) = self.broker_index(leader).filter(|&i| self.brokers[i].alive) else {
                continue;
            };
            let Some(replica) = self.brokers[b].replicas.get(&tp) else {
                continue;
            };
            let log = &replica.log;
            let records: Vec<(u64, u64)> = log
                .read(log.log_start_offset(), log.high_watermark(), usize::MAX)
                .iter()
                .map(|r| (r.offset, r.value_id))
                .collect();
            drains.push((tp, log.log_start_offset(), records));
        }
        for (tp, start, records) in drains {
            self.history.record_drain(tp, start, records);
        }
    }

    /// The network faults in force.
    pub fn network_faults(&self) -> &crate::fault::NetworkFaults {
        &self.network.faults
    }

    /// How many messages faults have lost so far.
    pub fn messages_dropped(&self) -> u64 {
        self.network.dropped
    }

    pub(crate) fn emit(&mut self, kind: EventKind) {
        let event = Event {
            time: self.now,
            kind,
        };
        // The narration carries every field a learner sees; hashing it rather than the Debug form
        // keeps the derived Debug code of every event type out of the page's download.
        self.trace_hash = fnv1a(self.trace_hash, &event.time.0.to_le_bytes());
        self.trace_hash = fnv1a(self.trace_hash, event.narrate().as_bytes());
        self.event_count += 1;
        if self.events.len() == MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    /// Checks that a node named in a command exists.
    pub(crate) fn require_node(&self, node: NodeId) -> Result<()> {
        let exists = match node {
            NodeId::Broker(id) => self.broker_index(id).is_some(),
            NodeId::Controller(id) => self.controller_index(id).is_some(),
            NodeId::ZooKeeper => self.zookeeper.is_some(),
            NodeId::Producer(i) => (i as usize) < self.producers.len(),
            NodeId::Consumer(i) => (i as usize) < self.consumers.len(),
        };
        if exists {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::UnknownBroker,
                format!("There is no {node} in this cluster."),
            ))
        }
    }

    pub(crate) fn broker_index(&self, id: BrokerId) -> Option<usize> {
        self.brokers.iter().position(|b| b.id == id)
    }

    /// Runs the next queued task. Returns false when nothing is left to do.
    pub fn step(&mut self) -> bool {
        self.step_until(SimTime(u64::MAX))
    }

    /// Runs the next queued task if it is due at or before `until`; returns whether one ran.
    fn step_until(&mut self, until: SimTime) -> bool {
        let Some(next) = self.queue.pop_until(until) else {
            return false;
        };
        self.now = next.time;
        self.steps += 1;
        // Every step folds its time and sequence number in, a word at a time (FNV-1a's step on
        // 64-bit words): bytewise hashing of both cost more than the queue itself.
        self.trace_hash = fnv1a_word(self.trace_hash, next.time.0);
        self.trace_hash = fnv1a_word(self.trace_hash, next.seq);
        match next.task {
            Task::Deliver(id) => {
                if let Some(message) = self.network.take(id) {
                    // A link cut while the message was in flight loses it too.
                    if self.network.faults.blocks(message.from, message.to) {
                        self.network.dropped += 1;
                    } else {
                        self.deliver(message);
                    }
                }
            }
            Task::Timer(timer) => self.fire(timer),
        }
        true
    }

    /// When the next queued task runs, if any.
    pub fn next_task_time(&self) -> Option<SimTime> {
        self.queue.peek_time()
    }

    /// Runs every task up to and including `until`, then sets the clock to `until`.
    pub fn run_until(&mut self, until: SimTime) {
        while self.step_until(until) {}
        if until > self.now {
            self.now = until;
        }
    }

    /// Runs for `ms` more simulated milliseconds.
    pub fn run_for_ms(&mut self, ms: u64) {
        self.run_until(self.now.plus_ms(ms));
    }

    /// Applies a user command. On error the simulation is unchanged.
    pub fn apply(&mut self, command: Command) -> Result<()> {
        match command {
            Command::KillBroker(id) => self.kill_broker(id),
            Command::CrashBroker(id) => self.crash_broker(id),
            Command::ShutdownBroker(id) => self.shutdown_broker(id),
            Command::RestartBroker(id) => self.restart_broker(id),
            Command::KillController(id) => self.kill_controller(id, false),
            Command::CrashController(id) => self.kill_controller(id, true),
            Command::RestartController(id) => self.restart_controller(id),
            Command::CutLink { from, to } => {
                self.require_node(from)?;
                self.require_node(to)?;
                self.network.faults.cut_link(from, to)?;
                self.emit(EventKind::NetworkFault {
                    description: format!("messages from {from} to {to} are lost"),
                });
                Ok(())
            }
            Command::PartitionNetwork { a, b } => {
                self.require_node(a)?;
                self.require_node(b)?;
                let mut faults = self.network.faults.clone();
                faults.partition(a, b)?;
                self.network.faults = faults;
                self.emit(EventKind::NetworkFault {
                    description: format!("{a} and {b} cannot reach each other"),
                });
                Ok(())
            }
            Command::Isolate(node) => {
                self.require_node(node)?;
                self.network.faults.isolate(node)?;
                self.emit(EventKind::NetworkFault {
                    description: format!("{node} is cut off from every other node"),
                });
                Ok(())
            }
            Command::HealNetwork => {
                self.network.faults.heal();
                self.emit(EventKind::NetworkHealed);
                Ok(())
            }
            Command::SetLatency { node, ms } => {
                self.require_node(node)?;
                crate::config::check_range("latency ms", ms, 0, 60_000)?;
                self.network.faults.set_delay(node, ms)?;
                self.emit(EventKind::NetworkFault {
                    description: format!("{ms} ms added to every message to or from {node}"),
                });
                Ok(())
            }
            Command::SlowFollower { broker, ms } => {
                self.require_broker(broker)?;
                crate::config::check_range("slow follower ms", ms, 0, 60_000)?;
                self.network
                    .faults
                    .set_slow_fetch(NodeId::Broker(broker), ms)?;
                self.emit(EventKind::NetworkFault {
                    description: format!(
                        "broker {broker} waits {ms} ms before each fetch (a slow follower)"
                    ),
                });
                Ok(())
            }
            Command::SetDropRate { node, per_mille } => {
                if let Some(n) = node {
                    self.require_node(n)?;
                }
                self.network.faults.set_drop_rate(node, per_mille)?;
                let target = node.map_or("all messages".to_string(), |n| {
                    format!("messages to or from {n}")
                });
                self.emit(EventKind::NetworkFault {
                    description: format!("{per_mille}‰ of {target} are lost"),
                });
                Ok(())
            }
            Command::SetProducerRate {
                producer,
                rate_per_sec,
            } => self.set_producer_rate(&producer, rate_per_sec),
            Command::Produce { producer, records } => self.produce_burst(&producer, records),
            Command::StopConsumer(consumer) => self.stop_consumer(&consumer, true),
            Command::CrashConsumer(consumer) => self.stop_consumer(&consumer, false),
            Command::StartConsumer(consumer) => self.start_consumer(&consumer),
            Command::AlterConfig { topic, name, value } => self.alter_config(topic, &name, &value),
            Command::DeleteTopic(topic) => self.delete_topic(&topic),
            Command::AddPartitions { topic, partitions } => self.add_partitions(&topic, partitions),
            Command::ElectPreferredLeaders(topic) => {
                self.elect_preferred_leaders(topic.as_deref()).map(|_| ())
            }
            Command::Reassign { tp, replicas } => self.reassign_partition(&tp, replicas),
        }
    }

    /// Applies a config change; an invalid name or value changes nothing.
    fn alter_config(&mut self, topic: Option<String>, name: &str, value: &str) -> Result<()> {
        match &topic {
            Some(t) => {
                self.require_active_controller()?;
                let Some(meta) = self.controller.image.topics.get(t.as_str()) else {
                    return Err(Error::new(
                        ErrorKind::UnknownTopic,
                        format!("There is no topic '{t}'."),
                    ));
                };
                let mut config = meta.config.clone();
                config.set(name, value)?;
                if let Some(meta) = self.controller.image.topics.get_mut(t.as_str()) {
                    meta.config = config;
                }
                self.publish_metadata();
            }
            None => {
                let mut config = self.config.clone();
                config.set(name, value)?;
                if config.metadata_mode != self.config.metadata_mode {
                    return Err(Error::new(
                        ErrorKind::InvalidConfig,
                        "sim.metadata.mode can only be chosen when the cluster is created.",
                    ));
                }
                self.config = config;
            }
        }
        self.emit(EventKind::ConfigChanged {
            topic,
            name: name.to_string(),
            value: value.to_string(),
        });
        Ok(())
    }

    fn deliver(&mut self, message: Message) {
        match message.to {
            NodeId::Controller(id) => self.quorum_receive(id, message),
            NodeId::ZooKeeper => self.zk_receive(message),
            NodeId::Broker(id) => {
                let alive = self.broker_index(id).is_some_and(|i| self.brokers[i].alive);
                if alive {
                    self.broker_receive(id, message);
                } else if let Some(request_id) = crate::broker::request_id_of(&message.payload) {
                    // A dead process refuses the connection: the sender learns at once.
                    self.send(
                        message.to,
                        message.from,
                        Payload::Disconnected { request_id },
                    );
                }
            }
            NodeId::Producer(i) => self.producer_receive(i, message),
            NodeId::Consumer(i) => self.consumer_receive(i, message),
        }
    }

    fn fire(&mut self, timer: Timer) {
        match timer {
            Timer::ControllerFenceCheck => self.controller_fence_check(),
            Timer::ControllerLeaderRebalance => self.controller_leader_rebalance(),
            Timer::Quorum { controller, timer } => self.quorum_timer(controller, timer),
            Timer::ZkSessionCheck => self.zk_session_check(),
            Timer::BrokerHeartbeat {
                broker,
                incarnation,
            }
            | Timer::BrokerIsrCheck {
                broker,
                incarnation,
            }
            | Timer::BrokerFetchBackoff {
                broker,
                incarnation,
                ..
            }
            | Timer::BrokerFetchWait {
                broker,
                incarnation,
            }
            | Timer::BrokerProduceTimeout {
                broker,
                incarnation,
                ..
            }
            | Timer::BrokerFetchTimeout {
                broker,
                incarnation,
                ..
            }
            | Timer::BrokerWriteback {
                broker,
                incarnation,
            }
            | Timer::BrokerLogRetention {
                broker,
                incarnation,
            }
            | Timer::BrokerLogCleaner {
                broker,
                incarnation,
            }
            | Timer::BrokerNextRequest {
                broker,
                incarnation,
                ..
            }
            | Timer::GroupJoin {
                broker,
                incarnation,
                ..
            }
            | Timer::GroupMemberExpiry {
                broker,
                incarnation,
                ..
            }
            | Timer::GroupSyncExpiry {
                broker,
                incarnation,
                ..
            } => {
                let current = self
                    .broker_index(broker)
                    .filter(|&i| self.brokers[i].alive)
                    .map(|i| self.brokers[i].incarnation);
                if current != Some(incarnation) {
                    return;
                }
                match timer {
                    Timer::GroupJoin { .. }
                    | Timer::GroupMemberExpiry { .. }
                    | Timer::GroupSyncExpiry { .. } => self.group_timer(timer),
                    _ => self.broker_timer(broker, timer),
                }
            }
            Timer::ProducerTick { .. }
            | Timer::ProducerWake { .. }
            | Timer::ProducerRequestTimeout { .. } => self.producer_timer(timer),
            Timer::ConsumerWake { .. }
            | Timer::ConsumerRequestTimeout { .. }
            | Timer::ConsumerAutoCommit { .. }
            | Timer::ConsumerHeartbeat { .. } => self.consumer_timer(timer),
        }
    }
}

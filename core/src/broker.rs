//! A broker: its replicas' logs, the leader side (produce, fetch, high watermark, ISR changes)
//! and the follower side (the fetch loop and truncation), `SEMANTICS.md` §3.

use crate::config::{Acks, FollowerTruncation};
use crate::event::EventKind;
use crate::log::{Record, ReplicaLog};
use crate::metadata::{MetadataImage, TopicPartition};
use crate::network::{
    FetchPartition, FetchResult, Message, NodeId, OffsetSpec, Payload, ProduceBatch,
};
use crate::sim::{Simulation, Timer};
use crate::time::SimTime;
use crate::{BrokerId, KafkaError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

mod followers;
pub use followers::FollowerStates;

/// `replica.fetch.backoff.ms`: a follower's pause after a failed fetch.
const REPLICA_FETCH_BACKOFF_MS: u64 = 1_000;
/// Most records one follower fetch returns per partition (stands in for `replica.fetch.max.bytes`).
const REPLICA_FETCH_MAX_RECORDS: usize = 1_000;

/// What the leader knows about one follower (`Replica.scala`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowerState {
    /// The follower's log end offset, learnt from its fetch offset.
    pub log_end_offset: u64,
    last_fetch: SimTime,
    last_fetch_leader_leo: u64,
    /// The last time the follower was caught up with the leader's log end offset.
    pub last_caught_up: SimTime,
}

/// One replica of a partition on this broker.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Replica {
    /// The replica's log.
    pub log: ReplicaLog,
    /// The leader epoch this broker believes is current.
    pub leader_epoch: u32,
    /// The leader this broker believes is current.
    pub leader: Option<BrokerId>,
    /// The ISR as this broker last received it from the controller.
    pub isr: Vec<BrokerId>,
    partition_epoch: u32,
    /// On the leader: what it knows of each follower.
    pub followers: FollowerStates,
    /// On the leader: an ISR change sent to the controller and not yet applied.
    pending_isr: Option<Vec<BrokerId>>,
    /// When the pending ISR change was sent, so that a request lost on the way is sent again.
    #[serde(default)]
    pending_isr_since: SimTime,
    /// On a follower under `sim.legacy.unfenced.fetch`: it has looked up its divergence from the
    /// current leader, so its fetches no longer carry its last epoch.
    #[serde(default)]
    reconciled: bool,
}

impl Replica {
    /// The ISR size and the high watermark the leader `me` may move to, over the maximal ISR, or
    /// over the committed ISR alone under the legacy rule `hw_ignores_pending_isr`.
    fn hw_candidate(&self, me: BrokerId, hw_ignores_pending_isr: bool) -> (usize, u64) {
        // Trace T6: counting only the committed ISR lets the HW pass a replica whose addition
        // the controller is about to apply, and that replica may then be elected without the
        // records.
        if hw_ignores_pending_isr {
            self.hw_over(&self.isr, me)
        } else {
            self.hw_over_maximal_isr(me)
        }
    }

    /// The size of the ISR plus any pending additions (KIP-497's "maximal ISR"), and the high
    /// watermark it allows the leader `me`.
    fn hw_over_maximal_isr(&self, me: BrokerId) -> (usize, u64) {
        let (isr_len, isr_hw) = self.hw_over(&self.isr, me);
        let Some(pending) = &self.pending_isr else {
            return (isr_len, isr_hw);
        };
        // Pending members not in the ISR (nor earlier in the pending list) are added.
        let added: Vec<BrokerId> = pending
            .iter()
            .enumerate()
            .filter(|&(k, b)| !self.isr.contains(b) && !pending[..k].contains(b))
            .map(|(_, &b)| b)
            .collect();
        let (added_len, added_hw) = self.hw_over(&added, me);
        (isr_len + added_len, isr_hw.min(added_hw))
    }

    /// The size of `isr` and the high watermark it allows the leader `me`: the lowest log end
    /// offset over its members, the leader's own included.
    fn hw_over(&self, isr: &[BrokerId], me: BrokerId) -> (usize, u64) {
        let mut hw = self.log.log_end_offset();
        for b in isr.iter().filter(|&&b| b != me) {
            hw = hw.min(self.followers.get(b).map_or(0, |f| f.log_end_offset));
        }
        (isr.len(), hw)
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Fetcher {
    in_flight: Option<u64>,
    backing_off: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct ParkedFetch {
    from: NodeId,
    request_id: u64,
    /// When the fetch's max wait ends and it is answered with whatever there is.
    #[serde(default)]
    deadline: SimTime,
    replica: Option<BrokerId>,
    partitions: Vec<FetchPartition>,
}

/// One client's connection to a broker. Kafka's network layer reads the next request of a
/// connection only once the current one is answered (it mutes the channel meanwhile), so a
/// client's requests to one broker are handled and answered in the order they were sent, however
/// many it has in flight.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct ClientConnection {
    /// The request being handled.
    serving: Option<u64>,
    /// Requests received behind it, in order.
    waiting: VecDeque<Message>,
}

/// A produce request with `acks=all` waiting for its batches to be committed (Kafka's
/// `DelayedProduce`): it is answered once every partition has a result.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct PendingProduce {
    from: NodeId,
    request_id: u64,
    partitions: Vec<PendingPartition>,
    /// What the answer is: a produce response, or an offset commit's.
    #[serde(default)]
    reply: Reply,
}

/// What a write to a leader's log answers when it completes.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) enum Reply {
    /// A client's produce request.
    #[default]
    Produce,
    /// A group coordinator's write of committed offsets to `__consumer_offsets`: once
    /// replicated they become the group's committed offsets, and the commit is answered.
    OffsetCommit {
        group: String,
        offsets: Vec<(TopicPartition, u64)>,
    },
}

/// One partition of a waiting produce request.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct PendingPartition {
    tp: TopicPartition,
    base_offset: u64,
    /// The high watermark must reach this offset (the batch's end) for the batch to be committed.
    end_offset: u64,
    result: Option<Result<u64, KafkaError>>,
}

impl PendingProduce {
    fn is_complete(&self) -> bool {
        self.partitions.iter().all(|p| p.result.is_some())
    }

    /// The response: every partition's result, a missing one counted as a timeout.
    fn into_response(self) -> Payload {
        let request_id = self.request_id;
        let results = self
            .partitions
            .into_iter()
            .map(|p| (p.tp, p.result.unwrap_or(Err(KafkaError::RequestTimedOut))));
        match self.reply {
            Reply::Produce => Payload::ProduceResponse {
                request_id,
                results: results.collect(),
            },
            Reply::OffsetCommit { .. } => Payload::OffsetCommitResponse {
                request_id,
                error: results
                    .filter_map(|(_, r)| r.err())
                    .next()
                    .map(crate::group_coordinator::commit_error),
            },
        }
    }
}

/// What a leader did with one batch of a produce request.
enum BatchOutcome {
    /// Answered at once: the base offset or an error.
    Done(Result<u64, KafkaError>),
    /// Written (or found already written) and waiting for the high watermark to reach `end`.
    Waiting { base: u64, end: u64 },
}

/// A broker process and what it stores.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Broker {
    /// `node.id`.
    pub id: BrokerId,
    /// Whether the process runs.
    pub alive: bool,
    /// Increases at every start, like Kafka's broker epoch.
    pub incarnation: u32,
    /// The broker asked for a controlled shutdown and waits for the controller's go.
    pub shutting_down: bool,
    /// Whether the last stop was a completed controlled shutdown (logs flushed).
    #[serde(default)]
    pub stopped_cleanly: bool,
    pub(crate) image: MetadataImage,
    /// The controller this broker sends heartbeats and AlterPartition requests to: the active
    /// controller as far as it knows.
    #[serde(default)]
    pub controller: BrokerId,
    /// Whether the last heartbeat got an answer; if not, the next goes to another voter.
    #[serde(default)]
    heartbeat_answered: bool,
    /// `NOT_CONTROLLER` redirects followed since the last periodic heartbeat, to stop two
    /// voters with stale knowledge from bouncing a broker between them.
    #[serde(default)]
    redirects: u8,
    /// Replicas by partition. Logs survive a kill (they are on disk).
    pub replicas: HostedReplicas,
    fetchers: BTreeMap<BrokerId, Fetcher>,
    parked: Vec<ParkedFetch>,
    /// Client connections with a request being handled, and the requests waiting behind it.
    #[serde(default, with = "crate::network::node_keyed")]
    connections: BTreeMap<NodeId, ClientConnection>,
    /// The groups it coordinates and their committed offsets.
    #[serde(default)]
    pub coordinator: crate::group_coordinator::CoordinatorState,
    /// When the one pending [`Timer::BrokerFetchWait`] fires, if one is set.
    #[serde(default)]
    fetch_wait_at: Option<SimTime>,
    pending_produces: Vec<PendingProduce>,
}

impl Replica {
    /// The pending ISR change as an AlterPartition to send (again), if there is one; it counts
    /// as sent now.
    fn pending_isr_request(&mut self, tp: &TopicPartition, now: SimTime) -> Option<Payload> {
        let pending = self.pending_isr.clone()?;
        self.pending_isr_since = now;
        Some(Payload::AlterPartition {
            tp: tp.clone(),
            leader_epoch: self.leader_epoch,
            partition_epoch: self.partition_epoch,
            new_isr: pending,
        })
    }
}

impl Broker {
    pub(crate) fn new(id: BrokerId) -> Broker {
        Broker {
            id,
            alive: false,
            incarnation: 0,
            shutting_down: false,
            stopped_cleanly: true,
            image: MetadataImage::default(),
            controller: crate::sim::CONTROLLER_ID,
            heartbeat_answered: true,
            redirects: 0,
            replicas: HostedReplicas::default(),
            fetchers: BTreeMap::new(),
            parked: Vec::new(),
            connections: BTreeMap::new(),
            coordinator: Default::default(),
            fetch_wait_at: None,
            pending_produces: Vec::new(),
        }
    }
}

/// The request id of a request payload, so that a refused connection can be reported back.
pub(crate) fn request_id_of(payload: &Payload) -> Option<u64> {
    match payload {
        Payload::Fetch { request_id, .. }
        | Payload::Produce { request_id, .. }
        | Payload::Metadata { request_id }
        | Payload::ListOffsets { request_id, .. }
        | Payload::OffsetsForLeaderEpoch { request_id, .. }
        | Payload::FindCoordinator { request_id, .. }
        | Payload::JoinGroup { request_id, .. }
        | Payload::SyncGroup { request_id, .. }
        | Payload::Heartbeat { request_id, .. }
        | Payload::LeaveGroup { request_id, .. }
        | Payload::OffsetCommit { request_id, .. }
        | Payload::OffsetFetch { request_id, .. } => Some(*request_id),
        _ => None,
    }
}

impl Simulation {
    /// The brokers, by id order.
    pub fn brokers(&self) -> &[crate::broker::Broker] {
        &self.brokers
    }

    pub(crate) fn start_broker(&mut self, id: BrokerId) {
        let Some(i) = self.broker_index(id) else {
            return;
        };
        let active = self.controller.active;
        let broker = &mut self.brokers[i];
        broker.alive = true;
        broker.shutting_down = false;
        broker.incarnation += 1;
        broker.image = MetadataImage::default();
        // Simplification: a KRaft broker learns the quorum leader by fetching the metadata log
        // as an observer; here it starts with the leader the quorum knows.
        broker.controller = active.unwrap_or(broker.controller);
        broker.heartbeat_answered = true;
        broker.fetchers.clear();
        broker.parked.clear();
        broker.connections.clear();
        // A restarted process remembers no groups; it loads them again from the log when it
        // leads their partitions.
        broker.coordinator = Default::default();
        broker.fetch_wait_at = None;
        broker.pending_produces.clear();
        for replica in broker.replicas.values_mut() {
            replica.leader = None;
            replica.followers.clear();
            replica.pending_isr = None;
        }
        let incarnation = broker.incarnation;
        self.broker_timer(
            id,
            Timer::BrokerHeartbeat {
                broker: id,
                incarnation,
            },
        );
        let check = self.config.replica_lag_time_max_ms / 2;
        self.schedule_in_ms(
            check,
            Timer::BrokerIsrCheck {
                broker: id,
                incarnation,
            },
        );
        let writeback = self.config.os_writeback_interval_ms;
        self.schedule_in_ms(
            writeback,
            Timer::BrokerWriteback {
                broker: id,
                incarnation,
            },
        );
        let retention = self.config.log_retention_check_interval_ms;
        self.schedule_in_ms(
            retention,
            Timer::BrokerLogRetention {
                broker: id,
                incarnation,
            },
        );
        let cleaner = self.config.log_cleaner_backoff_ms;
        self.schedule_in_ms(
            cleaner,
            Timer::BrokerLogCleaner {
                broker: id,
                incarnation,
            },
        );
    }

    /// A machine crash: the process stops and each log loses its unflushed suffix.
    pub(crate) fn crash_broker(&mut self, id: BrokerId) -> crate::Result<()> {
        let i = self.require_broker(id)?;
        self.require_alive(i)?;
        let mut lost = Vec::new();
        for (tp, replica) in self.brokers[i].replicas.iter_mut() {
            let n = replica.log.lose_unflushed();
            if n > 0 {
                lost.push((tp.clone(), n));
            }
        }
        self.stop_broker(i);
        self.emit(EventKind::BrokerCrashed { broker: id, lost });
        Ok(())
    }

    /// Starts a controlled shutdown: the broker tells the controller at once and stops when the
    /// controller answers that it leads nothing any more.
    pub(crate) fn shutdown_broker(&mut self, id: BrokerId) -> crate::Result<()> {
        let i = self.require_broker(id)?;
        self.require_alive(i)?;
        if self.brokers[i].shutting_down {
            return Err(crate::Error::new(
                crate::ErrorKind::InvalidState,
                format!("Broker {id} is already shutting down."),
            ));
        }
        self.brokers[i].shutting_down = true;
        self.emit(EventKind::BrokerShuttingDown { broker: id });
        self.broker_send_heartbeat(i);
        Ok(())
    }

    fn require_alive(&self, i: usize) -> crate::Result<()> {
        if self.brokers[i].alive {
            Ok(())
        } else {
            Err(crate::Error::new(
                crate::ErrorKind::InvalidState,
                format!("Broker {} is already stopped.", self.brokers[i].id),
            ))
        }
    }

    fn broker_send_heartbeat(&mut self, i: usize) {
        let broker = &self.brokers[i];
        let payload = Payload::BrokerHeartbeat {
            incarnation: broker.incarnation,
            metadata_offset: broker.image.offset,
            want_shut_down: broker.shutting_down,
            previous_shutdown_clean: broker.stopped_cleanly,
        };
        let me = NodeId::Broker(broker.id);
        let controller = self.controller_node(broker.controller);
        self.send(me, controller, payload);
    }

    /// Stops the process: requests it holds fail, timers it set are ignored from now on.
    fn stop_broker(&mut self, i: usize) {
        let id = self.brokers[i].id;
        if self.zookeeper.is_some() {
            self.zk_resign(
                id,
                "its process stopped; /controller stays in ZooKeeper until its session expires, and until then no broker is the controller",
            );
        }
        let broker = &mut self.brokers[i];
        broker.alive = false;
        broker.shutting_down = false;
        broker.stopped_cleanly = false;
        // Requests held by the process die with it; their clients see the connection close.
        let mut closed: Vec<(NodeId, u64)> = broker
            .parked
            .drain(..)
            .map(|p| (p.from, p.request_id))
            .collect();
        closed.extend(
            broker
                .pending_produces
                .drain(..)
                .map(|p| (p.from, p.request_id)),
        );
        // Parked joins and syncs of the groups it coordinated fail the same way.
        let mut groups = std::mem::take(&mut broker.coordinator);
        for group in groups
            .groups
            .values_mut()
            .filter(|_| cfg!(feature = "groups"))
        {
            for member in group.members.values_mut() {
                for parked in [member.awaiting_join.take(), member.awaiting_sync.take()]
                    .into_iter()
                    .flatten()
                {
                    closed.push((parked.client, parked.request_id));
                }
            }
        }
        for (client, connection) in std::mem::take(&mut broker.connections) {
            closed.extend(
                connection
                    .waiting
                    .iter()
                    .filter_map(|m| request_id_of(&m.payload))
                    .map(|r| (client, r)),
            );
        }
        for (to, request_id) in closed {
            self.send(NodeId::Broker(id), to, Payload::Disconnected { request_id });
        }
    }

    /// A topic's retention and compaction settings as this broker's metadata has them.
    pub(crate) fn broker_log_policy(
        &self,
        i: usize,
        topic: &std::sync::Arc<str>,
    ) -> crate::log::LogPolicy {
        self.brokers[i]
            .image
            .topic(topic)
            .map(|t| t.config.log_policy())
            .unwrap_or_default()
    }

    /// A topic's `segment.bytes` as this broker's metadata has it: what
    /// [`Simulation::broker_log_policy`] says, without resolving every other setting (followers
    /// ask for it with every fetch response that carries records).
    fn broker_segment_bytes(&self, i: usize, topic: &std::sync::Arc<str>) -> u64 {
        let default = crate::log::LogPolicy::default().segment_bytes;
        self.brokers[i]
            .image
            .topic(topic)
            .map_or(default, |t| t.config.segment_bytes_or(default))
    }

    /// Deletes segments past retention, or compacts, on every replica of this broker; leaders
    /// narrate what changed.
    fn broker_log_maintenance(&mut self, i: usize, compact: bool) {
        let id = self.brokers[i].id;
        let now_ms = self.now.as_ms();
        let tps: Vec<TopicPartition> = self.brokers[i].replicas.keys().cloned().collect();
        let mut events = Vec::new();
        for tp in tps {
            let policy = self.broker_log_policy(i, &tp.topic);
            let Some(replica) = self.brokers[i].replicas.get_mut(&tp) else {
                continue;
            };
            let leads = replica.leader == Some(id);
            if compact {
                let removed = replica.log.clean(now_ms, &policy);
                if removed > 0 && leads {
                    events.push(EventKind::LogCompacted {
                        broker: id,
                        tp: tp.clone(),
                        removed,
                    });
                }
            } else if let Some(start) = replica.log.delete_old_segments(now_ms, &policy) {
                if leads {
                    events.push(EventKind::SegmentsDeleted {
                        broker: id,
                        tp: tp.clone(),
                        log_start_offset: start,
                    });
                }
            }
        }
        for e in events {
            self.emit(e);
        }
    }

    /// Flushes every log whose unflushed records reached `log.flush.interval.messages`.
    fn maybe_flush(&mut self, i: usize, tp: &TopicPartition) {
        let every = self.config.log_flush_interval_messages;
        if let Some(r) = self.brokers[i].replicas.get_mut(tp) {
            r.log.flush_if_due(every);
        }
    }

    pub(crate) fn kill_broker(&mut self, id: BrokerId) -> crate::Result<()> {
        let i = self.require_broker(id)?;
        self.require_alive(i)?;
        self.emit(EventKind::BrokerKilled { broker: id });
        self.stop_broker(i);
        Ok(())
    }

    pub(crate) fn restart_broker(&mut self, id: BrokerId) -> crate::Result<()> {
        let i = self.require_broker(id)?;
        if self.brokers[i].alive {
            return Err(crate::Error::new(
                crate::ErrorKind::InvalidState,
                format!("Broker {id} is already running."),
            ));
        }
        self.emit(EventKind::BrokerRestarted { broker: id });
        self.start_broker(id);
        Ok(())
    }

    pub(crate) fn require_broker(&self, id: BrokerId) -> crate::Result<usize> {
        self.broker_index(id).ok_or_else(|| {
            crate::Error::new(
                crate::ErrorKind::UnknownBroker,
                format!(
                    "There is no broker {id}; the brokers are {}.",
                    self.brokers
                        .iter()
                        .map(|b| b.id.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
    }

    pub(crate) fn broker_timer(&mut self, id: BrokerId, timer: Timer) {
        let Some(i) = self.broker_index(id) else {
            return;
        };
        match timer {
            // Periodic work reschedules the same timer (same broker and incarnation).
            Timer::BrokerHeartbeat { .. } if self.zookeeper.is_some() => {
                // ZooKeeper mode: liveness is the ZooKeeper session; the controller hears only
                // a controlled shutdown request.
                self.zk_ping(i);
                if self.brokers[i].shutting_down {
                    self.broker_send_heartbeat(i);
                }
                self.schedule_in_ms(self.zk_ping_interval_ms(), timer);
            }
            Timer::BrokerHeartbeat { .. } => {
                // An unanswered heartbeat means the controller is gone or cut off: try the next
                // voter, as Kafka's controller channel does after a disconnection.
                if !self.brokers[i].heartbeat_answered {
                    let next = self.next_controller_after(self.brokers[i].controller);
                    self.brokers[i].controller = next;
                }
                self.brokers[i].heartbeat_answered = false;
                self.brokers[i].redirects = 0;
                self.broker_send_heartbeat(i);
                self.schedule_in_ms(self.config.broker_heartbeat_interval_ms, timer);
            }
            Timer::BrokerIsrCheck { .. } => {
                self.leader_shrink_isr(i);
                self.schedule_in_ms(self.config.replica_lag_time_max_ms / 2, timer);
            }
            Timer::BrokerFetchBackoff { leader, .. } => {
                self.brokers[i]
                    .fetchers
                    .entry(leader)
                    .or_default()
                    .backing_off = false;
                self.follower_maybe_fetch(i);
            }
            Timer::BrokerNextRequest { client, .. } => {
                let connection = self.brokers[i].connections.get_mut(&client);
                if let Some(connection) = connection.filter(|c| c.serving.is_none()) {
                    if let Some(next) = connection.waiting.pop_front() {
                        self.broker_receive(id, next);
                    }
                }
            }
            Timer::BrokerFetchWait { .. } => {
                let now = self.now;
                if self.brokers[i].fetch_wait_at == Some(now) {
                    self.brokers[i].fetch_wait_at = None;
                }
                // Every fetch whose wait is over is answered, in the order they were parked.
                let mut expired = Vec::new();
                let parked = &mut self.brokers[i].parked;
                let mut k = 0;
                while k < parked.len() {
                    if parked[k].deadline <= now {
                        expired.push(parked.remove(k));
                    } else {
                        k += 1;
                    }
                }
                for parked in expired {
                    self.leader_answer_fetch(i, parked);
                }
                self.broker_arm_fetch_wait(i);
            }
            Timer::BrokerWriteback { .. } => {
                for replica in self.brokers[i].replicas.values_mut() {
                    replica.log.flush();
                }
                self.schedule_in_ms(self.config.os_writeback_interval_ms, timer);
            }
            Timer::BrokerLogRetention { .. } => {
                self.broker_log_maintenance(i, false);
                self.schedule_in_ms(self.config.log_retention_check_interval_ms, timer);
            }
            Timer::BrokerLogCleaner { .. } => {
                self.broker_log_maintenance(i, true);
                self.schedule_in_ms(self.config.log_cleaner_backoff_ms, timer);
            }
            Timer::BrokerFetchTimeout { request_id, .. } => {
                // The response never came (a cut link or a lost message): give up on the request
                // as Kafka's replica fetcher does after replica.socket.timeout.ms.
                let leader = self.brokers[i]
                    .fetchers
                    .iter()
                    .find(|(_, f)| f.in_flight == Some(request_id))
                    .map(|(&leader, _)| leader);
                if let Some(leader) = leader {
                    self.follower_backoff(i, leader);
                }
            }
            Timer::BrokerProduceTimeout { request_id, .. } => {
                if let Some(pos) = self.brokers[i]
                    .pending_produces
                    .iter()
                    .position(|p| p.request_id == request_id)
                {
                    // The partitions not yet committed answer REQUEST_TIMED_OUT.
                    let p = self.brokers[i].pending_produces.remove(pos);
                    self.finish_write(i, p);
                }
            }
            _ => {}
        }
    }

    pub(crate) fn broker_receive(&mut self, id: BrokerId, message: Message) {
        let Some(i) = self.broker_index(id) else {
            return;
        };
        let me = NodeId::Broker(id);
        if crate::group_coordinator::is_group_request(&message.payload) {
            self.group_receive(i, message);
            return;
        }
        if let Some(request_id) = request_id_of(&message.payload) {
            // acks=0 produces get no answer, so they never hold the connection.
            let answered = !matches!(
                message.payload,
                Payload::Produce {
                    acks: Acks::None,
                    ..
                }
            );
            // A request of a newer connection than the one being served means the client closed
            // the old one: what was in progress or waiting on it is abandoned, as Kafka's broker
            // drops a closed channel's requests.
            let start = match crate::network::producer_connection(message.from, me) {
                Some(c) => self.network.connection_start(c),
                None => 0,
            };
            let connection = self.brokers[i].connections.entry(message.from).or_default();
            if connection.serving.is_some_and(|serving| serving < start) {
                connection.serving = None;
                connection
                    .waiting
                    .retain(|m| request_id_of(&m.payload).is_some_and(|id| id >= start));
            }
            if connection.serving.is_some() {
                connection.waiting.push_back(message);
                return;
            }
            if answered {
                connection.serving = Some(request_id);
            }
        }
        if self.zookeeper.is_some() {
            if message.from == NodeId::ZooKeeper {
                self.zk_broker_receive(i, &message);
                return;
            }
            // The controller broker handles controller requests.
            let for_controller = matches!(
                message.payload,
                Payload::AlterPartition { .. } | Payload::BrokerHeartbeat { .. }
            );
            if for_controller {
                if self.controller.active == Some(id) {
                    self.controller_receive(message);
                }
                return;
            }
        }
        if let NodeId::Controller(c) = message.from {
            match &message.payload {
                Payload::BrokerHeartbeatResponse { .. } => {
                    self.brokers[i].heartbeat_answered = true
                }
                // Only the active controller publishes, so a newer image names it.
                Payload::MetadataUpdate { image }
                    if image.offset > self.brokers[i].image.offset =>
                {
                    self.brokers[i].controller = c
                }
                _ => {}
            }
        }
        match message.payload {
            Payload::MetadataUpdate { image } => self.broker_apply_metadata(i, *image),
            Payload::Metadata { request_id } => {
                let image = Box::new(self.brokers[i].image.clone());
                self.send(
                    me,
                    message.from,
                    Payload::MetadataResponse { request_id, image },
                );
            }
            Payload::Produce {
                request_id,
                acks,
                timeout_ms,
                batches,
            } => self.leader_produce(i, message.from, request_id, acks, timeout_ms, batches),
            Payload::Fetch {
                request_id,
                replica,
                partitions,
                max_wait_ms,
            } => self.leader_fetch(
                i,
                message.from,
                request_id,
                replica,
                partitions,
                max_wait_ms,
            ),
            Payload::FetchResponse {
                request_id,
                partitions,
            } => self.follower_fetch_response(i, message.from, request_id, partitions),
            Payload::ListOffsets {
                request_id,
                tp,
                spec,
            } => {
                let result = match self.brokers[i].replicas.get(&tp) {
                    Some(r) if r.leader == Some(id) => Ok(match spec {
                        OffsetSpec::Earliest => r.log.log_start_offset(),
                        OffsetSpec::Latest => r.log.high_watermark(),
                    }),
                    _ => Err(KafkaError::NotLeaderOrFollower),
                };
                self.send(
                    me,
                    message.from,
                    Payload::ListOffsetsResponse {
                        request_id,
                        tp,
                        result,
                    },
                );
            }
            Payload::OffsetsForLeaderEpoch {
                request_id,
                tp,
                current_leader_epoch,
                leader_epoch,
            } => {
                let result =
                    self.leader_offsets_for_epoch(i, &tp, current_leader_epoch, leader_epoch);
                self.send(
                    me,
                    message.from,
                    Payload::OffsetsForLeaderEpochResponse {
                        request_id,
                        tp,
                        result,
                    },
                );
            }
            Payload::BrokerHeartbeatResponse {
                should_shut_down: true,
                ..
            } if self.brokers[i].shutting_down => {
                for replica in self.brokers[i].replicas.values_mut() {
                    replica.log.flush();
                }
                let incarnation = self.brokers[i].incarnation;
                self.stop_broker(i);
                self.brokers[i].stopped_cleanly = true;
                self.emit(EventKind::BrokerShutDown { broker: id });
                if self.zookeeper.is_some() {
                    // A clean shutdown closes the ZooKeeper session: the znode goes at once.
                    self.send(
                        me,
                        NodeId::ZooKeeper,
                        Payload::ZkCloseSession { incarnation },
                    );
                }
            }
            Payload::NotController { leader } => {
                let NodeId::Controller(from) = message.from else {
                    return;
                };
                let broker = &mut self.brokers[i];
                if broker.controller != from {
                    // An answer from a controller this broker has already moved away from.
                    return;
                }
                match leader {
                    Some(l) if broker.redirects < 3 => {
                        broker.controller = l;
                        broker.redirects += 1;
                        self.broker_send_heartbeat(i);
                        // Pending ISR changes stay pending (the old controller may have accepted
                        // them before it lost leadership) and go again to the new one, as
                        // Kafka's AlterPartitionManager retries on NOT_CONTROLLER.
                        self.leader_resend_pending_isr(i);
                    }
                    // No leader known (an election is under way): try another voter at the
                    // next heartbeat rather than at once, so as not to flood the quorum.
                    _ => broker.heartbeat_answered = false,
                }
            }
            Payload::AlterPartitionResponse {
                tp,
                error: Some(error),
            } => {
                // A stale epoch means the controller has a newer state of the partition, which
                // may include this very change (a retried request): the pending state stays
                // until that state arrives in the metadata, as Kafka's Partition waits for it.
                // Other refusals are final.
                let awaits_metadata = matches!(
                    error,
                    KafkaError::FencedLeaderEpoch | KafkaError::InvalidUpdateVersion
                );
                if let Some(r) = self.brokers[i].replicas.get_mut(&tp) {
                    if !awaits_metadata {
                        r.pending_isr = None;
                    }
                }
            }
            Payload::Disconnected { request_id } => {
                let fetcher = self.brokers[i]
                    .fetchers
                    .iter()
                    .find(|(_, f)| f.in_flight == Some(request_id))
                    .map(|(&leader, _)| leader);
                if let Some(leader) = fetcher {
                    self.follower_backoff(i, leader);
                }
            }
            _ => {}
        }
    }

    /// The leader's answer to `OffsetsForLeaderEpoch`: fenced by leader epoch as a fetch is, then
    /// the end of the largest epoch at or below `leader_epoch` (KIP-279's lookup).
    fn leader_offsets_for_epoch(
        &self,
        i: usize,
        tp: &TopicPartition,
        current_leader_epoch: u32,
        leader_epoch: u32,
    ) -> Result<Option<(u32, u64)>, KafkaError> {
        let id = self.brokers[i].id;
        let replica = match self.brokers[i].replicas.get(tp) {
            Some(r) if r.leader == Some(id) => r,
            _ => return Err(KafkaError::NotLeaderOrFollower),
        };
        if current_leader_epoch < replica.leader_epoch {
            return Err(KafkaError::FencedLeaderEpoch);
        }
        if current_leader_epoch > replica.leader_epoch {
            return Err(KafkaError::UnknownLeaderEpoch);
        }
        Ok(replica.log.end_offset_for_epoch(leader_epoch))
    }

    /// Becomes leader or follower as the controller's image says.
    fn broker_apply_metadata(&mut self, i: usize, image: MetadataImage) {
        let id = self.brokers[i].id;
        if image.offset <= self.brokers[i].image.offset {
            return;
        }
        let now = self.now;
        let legacy_hw = self.config.follower_truncation == FollowerTruncation::HighWatermark;
        let mut hw_truncations = Vec::new();
        let mut changed_leaderships = Vec::new();
        for (tp, state) in image.partitions() {
            if !state.replicas.contains(&id) {
                continue;
            }
            let replica = self.brokers[i].replicas.get_or_insert_default(&tp);
            let new_leadership =
                replica.leader != state.leader || replica.leader_epoch != state.leader_epoch;
            // Any change the controller made (a new partition epoch) replaces the ISR a pending
            // AlterPartition was computed from, as Kafka's leader then drops its pending state
            // for the committed one. Kept, the request's members counted as pending additions:
            // a broker the controller had just removed (controlled shutdown) let the high
            // watermark advance while the ISR was below min.insync.replicas (found by
            // `kafka-sim check`).
            let changed = replica.partition_epoch != state.partition_epoch;
            replica.isr = state.isr.clone();
            replica.partition_epoch = state.partition_epoch;
            if changed
                || replica
                    .pending_isr
                    .as_ref()
                    .is_some_and(|p| *p == state.isr)
                || new_leadership
            {
                replica.pending_isr = None;
            }
            if new_leadership {
                replica.leader = state.leader;
                replica.leader_epoch = state.leader_epoch;
                replica.followers.clear();
                replica.reconciled = false;
                if legacy_hw && state.leader.is_some_and(|l| l != id) {
                    // Pre-KIP-101 makeFollower: everything above the local high watermark is
                    // discarded, committed or not (traces T1 and T2).
                    let before = replica.log.log_end_offset();
                    replica.log.truncate_to(replica.log.high_watermark());
                    let after = replica.log.log_end_offset();
                    if after < before {
                        hw_truncations.push((tp.clone(), before, after));
                    }
                }
                if state.leader == Some(id) {
                    replica.log.begin_epoch(state.leader_epoch);
                    // On election, in-sync followers count as caught up now, others never.
                    for &b in state.replicas.iter().filter(|&&b| b != id) {
                        let caught_up = if state.isr.contains(&b) {
                            now
                        } else {
                            SimTime::ZERO
                        };
                        replica.followers.insert(
                            b,
                            FollowerState {
                                last_caught_up: caught_up,
                                ..FollowerState::default()
                            },
                        );
                    }
                }
                changed_leaderships.push(tp.clone());
            }
        }
        // Replicas of deleted topics, or moved away by a reassignment, are deleted from disk.
        self.brokers[i].replicas.retain(|tp, _| {
            image
                .partition(tp)
                .is_some_and(|state| state.replicas.contains(&id))
        });
        self.brokers[i].image = image;
        for (tp, from_offset, to_offset) in hw_truncations {
            self.emit(EventKind::Truncated {
                broker: id,
                tp,
                from_offset,
                to_offset,
                rule: FollowerTruncation::HighWatermark,
            });
        }
        // A deposed leader answers its waiting produce requests with NOT_LEADER_OR_FOLLOWER for
        // the partitions it no longer leads.
        for p in &mut self.brokers[i].pending_produces {
            for part in &mut p.partitions {
                if part.result.is_none() && changed_leaderships.contains(&part.tp) {
                    part.result = Some(Err(KafkaError::NotLeaderOrFollower));
                }
            }
        }
        self.leader_answer_complete_produces(i);
        let led: Vec<TopicPartition> = self.brokers[i]
            .replicas
            .iter()
            .filter(|(_, r)| r.leader == Some(id))
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in led {
            self.leader_maybe_advance_hw(i, &tp);
        }
        self.coordinator_after_metadata(i);
        self.follower_maybe_fetch(i);
    }

    /// A produce request: each batch is checked and appended, then the high watermarks move
    /// and waiting fetches wake once for the whole request, as Kafka completes delayed fetches
    /// after the request's appends.
    fn leader_produce(
        &mut self,
        i: usize,
        from: NodeId,
        request_id: u64,
        acks: Acks,
        timeout_ms: u64,
        batches: Vec<ProduceBatch>,
    ) {
        self.leader_produce_with(
            i,
            from,
            request_id,
            acks,
            timeout_ms,
            batches,
            Reply::Produce,
        );
    }

    /// [`Simulation::leader_produce`], answering with `reply` (a produce response, or a group
    /// coordinator's offset commit response).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn leader_produce_with(
        &mut self,
        i: usize,
        from: NodeId,
        request_id: u64,
        acks: Acks,
        timeout_ms: u64,
        batches: Vec<ProduceBatch>,
        reply: Reply,
    ) {
        let id = self.brokers[i].id;
        let mut partitions = Vec::with_capacity(batches.len());
        let mut appended = Vec::with_capacity(batches.len());
        for batch in batches {
            let (outcome, wrote) = self.leader_append_batch(i, acks, &batch.tp, batch.records);
            if wrote {
                appended.push(batch.tp.clone());
            }
            let (base_offset, end_offset, result) = match outcome {
                BatchOutcome::Done(result) => (0, 0, Some(result)),
                BatchOutcome::Waiting { base, end } => match acks {
                    Acks::All => (base, end, None),
                    Acks::None | Acks::Leader => (base, end, Some(Ok(base))),
                },
            };
            partitions.push(PendingPartition {
                tp: batch.tp,
                base_offset,
                end_offset,
                result,
            });
        }
        let pending = PendingProduce {
            from,
            request_id,
            partitions,
            reply,
        };
        if acks == Acks::None {
            // Nobody waits for an answer.
        } else if pending.is_complete() {
            self.finish_write(i, pending);
        } else {
            self.brokers[i].pending_produces.push(pending);
            let incarnation = self.brokers[i].incarnation;
            self.schedule_in_ms(
                timeout_ms,
                Timer::BrokerProduceTimeout {
                    broker: id,
                    incarnation,
                    request_id,
                },
            );
        }
        for tp in &appended {
            self.leader_maybe_advance_hw(i, tp);
        }
        for tp in &appended {
            self.leader_wake_parked(i, tp);
        }
    }

    /// Checks and appends one batch of a produce request. Returns what became of it, and
    /// whether records were appended.
    fn leader_append_batch(
        &mut self,
        i: usize,
        acks: Acks,
        tp: &TopicPartition,
        records: Vec<Record>,
    ) -> (BatchOutcome, bool) {
        let id = self.brokers[i].id;
        let refuse = |error| (BatchOutcome::Done(Err(error)), false);
        let min_isr = self.effective_min_isr(&tp.topic) as usize;
        let policy = self.broker_log_policy(i, &tp.topic);
        // A compacted topic keeps the latest record per key, so it refuses records without one.
        if policy.compact && records.iter().any(|r| r.key.is_none()) {
            return refuse(KafkaError::InvalidRecord);
        }
        let Some(replica) = self.brokers[i].replicas.get_mut(tp) else {
            return refuse(KafkaError::NotLeaderOrFollower);
        };
        if replica.leader != Some(id) {
            return refuse(KafkaError::NotLeaderOrFollower);
        }
        if acks == Acks::All && replica.isr.len() < min_isr {
            return refuse(KafkaError::NotEnoughReplicas);
        }
        if let Some(first) = records.first().filter(|r| r.producer_id >= 0) {
            match idempotent_check(&replica.log, first) {
                SequenceCheck::Append => {}
                SequenceCheck::Refuse(error) => return refuse(error),
                SequenceCheck::Duplicate(offset) => {
                    // A retried batch already in the log is acknowledged with its original
                    // offset instead of being written twice. With acks=all it is answered only
                    // once the original batch is committed, as Kafka's delayed produce waits for
                    // the original's last offset: answering at once acknowledged records that a
                    // deposed leader held alone (found by `kafka-sim check`).
                    let end = offset + records.len() as u64;
                    if acks != Acks::All || replica.log.high_watermark() >= end {
                        return (BatchOutcome::Done(Ok(offset)), false);
                    }
                    return (BatchOutcome::Waiting { base: offset, end }, false);
                }
            }
        }
        let epoch = replica.leader_epoch;
        let base = replica.log.log_end_offset();
        let mut records = records;
        for mut record in records.drain(..) {
            record.leader_epoch = epoch;
            record.offset = replica.log.log_end_offset();
            replica.log.append_at(record, policy.segment_bytes);
        }
        self.record_buffers.give(records);
        let end = replica.log.log_end_offset();
        self.maybe_flush(i, tp);
        (BatchOutcome::Waiting { base, end }, true)
    }

    /// Answers a write whose partitions all have a result (or timed out). Offsets a coordinator
    /// wrote become the group's committed offsets once replicated, as Kafka's coordinator
    /// updates its cache only when the append completes.
    fn finish_write(&mut self, i: usize, pending: PendingProduce) {
        let me = NodeId::Broker(self.brokers[i].id);
        let from = pending.from;
        let commit = match &pending.reply {
            Reply::OffsetCommit { group, offsets } if cfg!(feature = "groups") => {
                Some((group, offsets))
            }
            _ => None,
        };
        if let Some((group, offsets)) = commit {
            let ok = pending
                .partitions
                .iter()
                .all(|p| matches!(p.result, Some(Ok(_))));
            let coordinator = &mut self.brokers[i].coordinator;
            if ok && coordinator.groups.contains_key(group) {
                coordinator
                    .offsets
                    .entry(group.clone())
                    .or_default()
                    .extend(offsets.iter().cloned());
            }
        }
        self.send(me, from, pending.into_response());
    }

    /// Appends a record the broker itself writes (a group coordinator's metadata) to a partition
    /// it leads, without waiting for replication.
    pub(crate) fn leader_append_internal(&mut self, i: usize, tp: &TopicPartition, record: Record) {
        let (_, wrote) = self.leader_append_batch(i, Acks::Leader, tp, vec![record]);
        if wrote {
            self.leader_maybe_advance_hw(i, tp);
            self.leader_wake_parked(i, tp);
        }
    }

    /// Sends the answers of waiting produce requests whose partitions all have a result.
    fn leader_answer_complete_produces(&mut self, i: usize) {
        if !self.brokers[i]
            .pending_produces
            .iter()
            .any(PendingProduce::is_complete)
        {
            return;
        }
        let done: Vec<PendingProduce> = self.brokers[i]
            .pending_produces
            .extract_if(.., |p| p.is_complete())
            .collect();
        for p in done {
            self.finish_write(i, p);
        }
    }

    /// Kafka's `maybeIncrementLeaderHW`: the minimum log end offset over the leader and the
    /// maximal ISR, never decreasing, and frozen while the ISR is below min.insync.replicas.
    fn leader_maybe_advance_hw(&mut self, i: usize, tp: &TopicPartition) {
        let id = self.brokers[i].id;
        let legacy_isr = self.config.hw_ignores_pending_isr;
        let Some(replica) = self.brokers[i].replicas.get(tp) else {
            return;
        };
        if replica.leader != Some(id) {
            return;
        }
        let (isr_len, hw) = replica.hw_candidate(id, legacy_isr);
        // This runs after every append and follower fetch and mostly finds nothing to do, so the
        // topic's min.insync.replicas is looked up only once the high watermark would move.
        if hw <= replica.log.high_watermark() {
            return;
        }
        let min_isr = self.effective_min_isr(&tp.topic) as usize;
        if isr_len < min_isr {
            return;
        }
        let Some(replica) = self.brokers[i].replicas.get_mut(tp) else {
            return;
        };
        if !replica.log.set_high_watermark(hw) {
            return;
        }
        let hw = replica.log.high_watermark();
        // Kafka's checkEnoughReplicasReachOffset counts the maximal ISR (committed plus pending
        // additions), the same set the high watermark was computed over.
        for p in &mut self.brokers[i].pending_produces {
            for part in &mut p.partitions {
                if part.result.is_none() && &part.tp == tp && part.end_offset <= hw {
                    part.result = Some(if isr_len < min_isr {
                        Err(KafkaError::NotEnoughReplicasAfterAppend)
                    } else {
                        Ok(part.base_offset)
                    });
                }
            }
        }
        self.leader_answer_complete_produces(i);
        // Consumers read up to the high watermark: their waiting fetches may now have data.
        self.leader_wake_parked(i, tp);
    }

    #[allow(clippy::too_many_arguments)]
    fn leader_fetch(
        &mut self,
        i: usize,
        from: NodeId,
        request_id: u64,
        replica_id: Option<BrokerId>,
        partitions: Vec<FetchPartition>,
        max_wait_ms: u64,
    ) {
        // A follower's fetch offset tells the leader its log end offset (§3.1).
        if let Some(follower) = replica_id {
            let rule = self.config.follower_truncation;
            let unfenced = self.config.unfenced_fetch;
            let legacy_isr = self.config.hw_ignores_pending_isr;
            let now = self.now;
            let me = self.brokers[i].id;
            for fp in &partitions {
                let Some(replica) = self.brokers[i].replicas.get_mut(&fp.tp) else {
                    continue;
                };
                // KIP-320: only a follower fetching in the leader's own epoch counts towards the
                // HW and the ISR. Before it, a follower still in an older epoch counted too
                // (trace T5).
                if replica.leader != Some(me)
                    || (!unfenced && fp.current_leader_epoch != replica.leader_epoch)
                {
                    continue;
                }
                if !leader_accepts_position(&replica.log, fp, rule) {
                    continue;
                }
                let leader_leo = replica.log.log_end_offset();
                let state = replica.followers.get_or_insert_default(follower);
                if fp.fetch_offset >= leader_leo {
                    state.last_caught_up = state.last_caught_up.max(now);
                } else if fp.fetch_offset >= state.last_fetch_leader_leo {
                    state.last_caught_up = state.last_caught_up.max(state.last_fetch);
                }
                state.log_end_offset = fp.fetch_offset;
                state.last_fetch = now;
                state.last_fetch_leader_leo = leader_leo;
                // Each partition's ISR and HW depend on its own followers only, so handling it
                // before the next partition's position changes nothing. Mostly the follower is
                // in the ISR already and the high watermark stays: both are tested here, on the
                // replica at hand, before the calls that would look it up again to find so.
                let may_join = replica.pending_isr.is_none() && !replica.isr.contains(&follower);
                if !may_join
                    && replica.hw_candidate(me, legacy_isr).1 <= replica.log.high_watermark()
                {
                    continue;
                }
                self.leader_maybe_expand_isr(i, &fp.tp, follower);
                self.leader_maybe_advance_hw(i, &fp.tp);
            }
        }
        let parked = ParkedFetch {
            from,
            request_id,
            deadline: self.now.plus_ms(max_wait_ms),
            replica: replica_id,
            partitions,
        };
        if self.fetch_has_something(i, &parked) || max_wait_ms == 0 {
            self.leader_answer_fetch(i, parked);
        } else {
            self.brokers[i].parked.push(parked);
            self.broker_arm_fetch_wait(i);
        }
    }

    /// A broker answered a client's request: its connection takes the next request waiting on
    /// it, in a task of its own so that the answer's handler finishes first.
    pub(crate) fn broker_answered(&mut self, id: BrokerId, client: NodeId, request_id: u64) {
        let Some(i) = self.broker_index(id) else {
            return;
        };
        let Some(connection) = self.brokers[i].connections.get_mut(&client) else {
            return;
        };
        if connection.serving != Some(request_id) {
            return;
        }
        connection.serving = None;
        if connection.waiting.is_empty() {
            return;
        }
        let incarnation = self.brokers[i].incarnation;
        self.schedule(
            self.now,
            crate::sim::Task::Timer(Timer::BrokerNextRequest {
                broker: id,
                incarnation,
                client,
            }),
        );
    }

    /// Makes sure a [`Timer::BrokerFetchWait`] fires when the earliest parked fetch's wait ends.
    ///
    /// One timer per broker stands for the timeouts of all its parked fetches: most fetches are
    /// answered early by new data, and a timer per fetch would then fire for nothing (Kafka's
    /// purgatory cancels those). A timer already set for a later time stays and finds nothing.
    fn broker_arm_fetch_wait(&mut self, i: usize) {
        let Some(earliest) = self.brokers[i].parked.iter().map(|p| p.deadline).min() else {
            return;
        };
        if self.brokers[i]
            .fetch_wait_at
            .is_some_and(|at| at <= earliest)
        {
            return;
        }
        self.brokers[i].fetch_wait_at = Some(earliest);
        let broker = self.brokers[i].id;
        let incarnation = self.brokers[i].incarnation;
        self.schedule(
            earliest,
            crate::sim::Task::Timer(Timer::BrokerFetchWait {
                broker,
                incarnation,
            }),
        );
    }

    fn fetch_result(
        &mut self,
        i: usize,
        replica_id: Option<BrokerId>,
        fp: &FetchPartition,
        max_records: usize,
    ) -> FetchResult {
        let mut records = self.record_buffers.take();
        let result = match self.fetch_position(i, replica_id, fp) {
            Ok((log, upto)) => {
                log.read_into(fp.fetch_offset, upto, max_records, &mut records);
                return FetchResult::Records {
                    records,
                    high_watermark: log.high_watermark(),
                    log_start_offset: log.log_start_offset(),
                };
            }
            Err(answer) => answer,
        };
        self.record_buffers.give(records);
        result
    }

    /// Where a fetch may read: the leader's log and the offset to read up to, or the error or
    /// divergence to answer instead. Split from [`Simulation::fetch_result`] so that a parked
    /// fetch can be tested for data without copying records.
    ///
    /// Inlined into its two callers: it runs for every partition of every fetch, often twice,
    /// and returning its result through memory cost as much as the tests themselves.
    #[inline(always)]
    fn fetch_position(
        &self,
        i: usize,
        replica_id: Option<BrokerId>,
        fp: &FetchPartition,
    ) -> Result<(&ReplicaLog, u64), FetchResult> {
        let id = self.brokers[i].id;
        let Some(replica) = self.brokers[i].replicas.get(&fp.tp) else {
            return Err(FetchResult::Error(KafkaError::NotLeaderOrFollower));
        };
        if replica.leader != Some(id) {
            return Err(FetchResult::Error(KafkaError::NotLeaderOrFollower));
        }
        // KIP-320: followers and consumers name the leader epoch they know, and a broker in
        // another epoch refuses to serve them, so a stale leader cannot feed anyone.
        if !self.config.unfenced_fetch {
            if fp.current_leader_epoch < replica.leader_epoch {
                return Err(FetchResult::Error(KafkaError::FencedLeaderEpoch));
            }
            if fp.current_leader_epoch > replica.leader_epoch {
                return Err(FetchResult::Error(KafkaError::UnknownLeaderEpoch));
            }
        }
        if replica_id.is_some() {
            match self.config.follower_truncation {
                FollowerTruncation::LeaderEpoch => {}
                FollowerTruncation::Kip101 => {
                    if let Some(last) = fp.last_fetched_epoch {
                        let end = kip101_end_offset(&replica.log, last);
                        if end < fp.fetch_offset {
                            return Err(FetchResult::Diverging {
                                epoch: None,
                                end_offset: end,
                            });
                        }
                    }
                }
                FollowerTruncation::HighWatermark => {
                    // Before leader epochs a follower ahead of the leader learnt the leader's
                    // log end offset (ListOffsets) and truncated to it; this answer stands for
                    // that exchange.
                    if fp.fetch_offset > replica.log.log_end_offset() {
                        return Err(FetchResult::Diverging {
                            epoch: None,
                            end_offset: replica.log.log_end_offset(),
                        });
                    }
                }
            }
            if let (FollowerTruncation::LeaderEpoch, Some(last)) =
                (self.config.follower_truncation, fp.last_fetched_epoch)
            {
                match replica.log.end_offset_for_epoch(last) {
                    Some((epoch, end)) if epoch == last && end >= fp.fetch_offset => {}
                    Some((epoch, end)) => {
                        return Err(FetchResult::Diverging {
                            epoch: Some(epoch),
                            end_offset: end,
                        })
                    }
                    None => {
                        return Err(FetchResult::Diverging {
                            epoch: None,
                            end_offset: replica.log.log_start_offset(),
                        })
                    }
                }
            }
        }
        let log = &replica.log;
        if fp.fetch_offset < log.log_start_offset() || fp.fetch_offset > log.log_end_offset() {
            return Err(FetchResult::Error(KafkaError::OffsetOutOfRange));
        }
        // Followers read to the log end; consumers only what is committed.
        let upto = if replica_id.is_some() {
            log.log_end_offset()
        } else {
            log.high_watermark()
        };
        Ok((log, upto))
    }

    /// Whether a fetch should be answered now rather than held: it has records to return, or
    /// an error or divergence to report. Otherwise the leader holds it (long polling) until data
    /// arrives or the fetch's max wait passes, and the follower learns a new high watermark then.
    fn fetch_has_something(&self, i: usize, parked: &ParkedFetch) -> bool {
        parked
            .partitions
            .iter()
            .any(|fp| self.fetch_partition_has_something(i, parked.replica, fp))
    }

    /// [`Simulation::fetch_has_something`] for one partition of the fetch.
    fn fetch_partition_has_something(
        &self,
        i: usize,
        replica_id: Option<BrokerId>,
        fp: &FetchPartition,
    ) -> bool {
        match self.fetch_position(i, replica_id, fp) {
            Ok((log, upto)) => log.has_records(fp.fetch_offset, upto),
            Err(_) => true,
        }
    }

    fn leader_answer_fetch(&mut self, i: usize, parked: ParkedFetch) {
        let max = if parked.replica.is_some() {
            REPLICA_FETCH_MAX_RECORDS
        } else {
            500
        };
        // The request's partition names move into the response rather than being copied.
        let partitions: Vec<(TopicPartition, FetchResult)> = parked
            .partitions
            .into_iter()
            .map(|fp| {
                let result = self.fetch_result(i, parked.replica, &fp, max);
                (fp.tp, result)
            })
            .collect();
        let me = NodeId::Broker(self.brokers[i].id);
        self.send(
            me,
            parked.from,
            Payload::FetchResponse {
                request_id: parked.request_id,
                partitions,
            },
        );
    }

    fn leader_wake_parked(&mut self, i: usize, tp: &TopicPartition) {
        // Each fetch is answered as soon as it is found ready: the tests only read the logs and
        // answering changes no parked fetch, so the order of answers is that of the list.
        let mut k = 0;
        while k < self.brokers[i].parked.len() {
            let p = &self.brokers[i].parked[k];
            // The partition that changed most likely has something, so it is tested first; the
            // tests read only, so their order does not matter.
            let wake = p
                .partitions
                .iter()
                .find(|fp| &fp.tp == tp)
                .is_some_and(|fp| {
                    self.fetch_partition_has_something(i, p.replica, fp)
                        || self.fetch_has_something(i, p)
                });
            if wake {
                let parked = self.brokers[i].parked.remove(k);
                self.leader_answer_fetch(i, parked);
            } else {
                k += 1;
            }
        }
    }

    /// Adds a follower to the ISR once it reached the HW and the start of the leader's epoch.
    fn leader_maybe_expand_isr(&mut self, i: usize, tp: &TopicPartition, follower: BrokerId) {
        let id = self.brokers[i].id;
        let broker = &mut self.brokers[i];
        let Some(replica) = broker.replicas.get_mut(tp) else {
            return;
        };
        if replica.pending_isr.is_some()
            || replica.isr.contains(&follower)
            || !broker.image.is_unfenced(follower)
        {
            return;
        }
        let Some(state) = replica.followers.get(&follower) else {
            return;
        };
        // A follower joins only once it holds everything of the previous leaders (the start
        // of this leader's epoch); before KIP-320 reaching the HW was enough (trace T5).
        let epoch_start = if self.config.unfenced_fetch {
            0
        } else {
            replica.log.epochs().last().map_or(0, |e| e.start_offset)
        };
        if state.log_end_offset < replica.log.high_watermark() || state.log_end_offset < epoch_start
        {
            return;
        }
        let mut new_isr = replica.isr.clone();
        new_isr.push(follower);
        replica.pending_isr = Some(new_isr.clone());
        replica.pending_isr_since = self.now;
        let payload = Payload::AlterPartition {
            tp: tp.clone(),
            leader_epoch: replica.leader_epoch,
            partition_epoch: replica.partition_epoch,
            new_isr,
        };
        let controller = self.controller_node(self.brokers[i].controller);
        self.send(NodeId::Broker(id), controller, payload);
    }

    /// Sends every pending ISR change of the partitions this broker leads again, to the
    /// controller it now knows.
    fn leader_resend_pending_isr(&mut self, i: usize) {
        let id = self.brokers[i].id;
        let now = self.now;
        let mut requests = Vec::new();
        for (tp, replica) in self.brokers[i].replicas.iter_mut() {
            if replica.leader == Some(id) {
                requests.extend(replica.pending_isr_request(tp, now));
            }
        }
        let controller = self.controller_node(self.brokers[i].controller);
        for payload in requests {
            self.send(NodeId::Broker(id), controller, payload);
        }
    }

    /// Removes followers that have not caught up within `replica.lag.time.max.ms`.
    fn leader_shrink_isr(&mut self, i: usize) {
        let id = self.brokers[i].id;
        let now = self.now;
        let lag_max = self.config.replica_lag_time_max_ms;
        let mut requests = Vec::new();
        let retry_after = self.config.replica_socket_timeout_ms;
        for (tp, replica) in self.brokers[i].replicas.iter_mut() {
            // An AlterPartition that got no answer (lost on a cut link) is sent again after the
            // socket timeout. It stays pending: the controller may have applied it and lost only
            // the answer, so the high watermark must still count the replicas it adds.
            if replica.leader == Some(id) && now.ms_since(replica.pending_isr_since) > retry_after {
                requests.extend(replica.pending_isr_request(tp, now));
            }
            if replica.leader != Some(id) || replica.pending_isr.is_some() {
                continue;
            }
            let leo = replica.log.log_end_offset();
            let lagging: Vec<BrokerId> = replica
                .isr
                .iter()
                .copied()
                .filter(|&b| b != id)
                .filter(|b| {
                    replica.followers.get(b).is_none_or(|f| {
                        f.log_end_offset != leo && now.ms_since(f.last_caught_up) > lag_max
                    })
                })
                .collect();
            if lagging.is_empty() {
                continue;
            }
            let new_isr: Vec<BrokerId> = replica
                .isr
                .iter()
                .copied()
                .filter(|b| !lagging.contains(b))
                .collect();
            replica.pending_isr = Some(new_isr.clone());
            replica.pending_isr_since = now;
            requests.push(Payload::AlterPartition {
                tp: tp.clone(),
                leader_epoch: replica.leader_epoch,
                partition_epoch: replica.partition_epoch,
                new_isr,
            });
        }
        let controller = self.controller_node(self.brokers[i].controller);
        for payload in requests {
            self.send(NodeId::Broker(id), controller, payload);
        }
    }

    /// Sends one fetch to each leader this broker follows, unless one is already out.
    pub(crate) fn follower_maybe_fetch(&mut self, i: usize) {
        let (mut idle, idle_count) = self.follower_idle_leaders(i);
        let idle = &mut idle[..idle_count];
        // One request per idle leader, in leader order.
        idle.sort_unstable();
        for &leader in idle.iter() {
            self.follower_send_fetch(i, leader);
        }
    }

    /// The leaders this broker follows that have no fetch out and are not backing off, in the
    /// order first met.
    ///
    /// One pass finds them: a broker follows at most one leader per other broker, so fixed
    /// tables hold them, and the map of fetchers is looked up once per leader rather than once
    /// per partition.
    fn follower_idle_leaders(
        &self,
        i: usize,
    ) -> ([BrokerId; crate::sim::MAX_BROKERS as usize], usize) {
        let id = self.brokers[i].id;
        let broker = &self.brokers[i];
        let mut seen = [0 as BrokerId; crate::sim::MAX_BROKERS as usize];
        let mut seen_count = 0;
        let mut idle = [0 as BrokerId; crate::sim::MAX_BROKERS as usize];
        let mut idle_count = 0;
        for replica in broker.replicas.values() {
            let Some(leader) = replica.leader.filter(|&l| l != id) else {
                continue;
            };
            if seen[..seen_count].contains(&leader) || seen_count == seen.len() {
                continue;
            }
            seen[seen_count] = leader;
            seen_count += 1;
            // A leader with a fetch out or backing off gets no request now.
            let busy = broker
                .fetchers
                .get(&leader)
                .is_some_and(|f| f.in_flight.is_some() || f.backing_off);
            if !busy {
                idle[idle_count] = leader;
                idle_count += 1;
            }
        }
        (idle, idle_count)
    }

    /// The next fetch from `leader`, whose answer just came in, as [`Simulation::follower_maybe_fetch`]
    /// would send it.
    ///
    /// Every change that leaves a leader idle (an answer, the end of a backoff, new metadata, a
    /// restart's first metadata) is followed by `follower_maybe_fetch` in the same step, so
    /// between steps every leader this broker follows is busy, and after an answer `leader` is
    /// the only idle one. Sending to it alone skips the pass over every replica that finds the
    /// idle leaders, which ran after every fetch response. Debug builds (every test) check the
    /// claim.
    fn follower_fetch_again(&mut self, i: usize, leader: BrokerId) {
        #[cfg(debug_assertions)]
        {
            let (idle, idle_count) = self.follower_idle_leaders(i);
            debug_assert!(
                idle[..idle_count].iter().all(|&l| l == leader),
                "broker {} has idle leaders {:?} besides {leader}",
                self.brokers[i].id,
                &idle[..idle_count]
            );
        }
        self.follower_send_fetch(i, leader);
    }

    /// Sends a fetch to `leader` for every partition it leads here, if any.
    fn follower_send_fetch(&mut self, i: usize, leader: BrokerId) {
        let id = self.brokers[i].id;
        if leader == id {
            return;
        }
        // Before KIP-101 fetches carried no epoch: the follower trusted its high watermark.
        let legacy_hw = self.config.follower_truncation == FollowerTruncation::HighWatermark;
        let unfenced = self.config.unfenced_fetch;
        let wait = self.config.replica_fetch_wait_max_ms;
        let broker = &self.brokers[i];
        // Room for every replica here: more than a fetch needs, but never a regrowth.
        let mut partitions = Vec::with_capacity(broker.replicas.len());
        for (tp, replica) in &broker.replicas {
            if replica.leader != Some(leader) {
                continue;
            }
            partitions.push(FetchPartition {
                tp: tp.clone(),
                fetch_offset: replica.log.log_end_offset(),
                // Before KIP-320 the follower looked its divergence up once, when it began
                // to follow this leader, and then fetched by offset alone.
                last_fetched_epoch: if legacy_hw || (unfenced && replica.reconciled) {
                    None
                } else {
                    replica.log.latest_epoch()
                },
                current_leader_epoch: replica.leader_epoch,
            });
        }
        if partitions.is_empty() {
            return;
        }
        let request_id = self.next_request_id;
        self.next_request_id += 1;
        self.brokers[i]
            .fetchers
            .entry(leader)
            .or_default()
            .in_flight = Some(request_id);
        self.send(
            NodeId::Broker(id),
            NodeId::Broker(leader),
            Payload::Fetch {
                request_id,
                replica: Some(id),
                partitions,
                max_wait_ms: wait,
            },
        );
        let incarnation = self.brokers[i].incarnation;
        self.schedule_in_ms(
            self.config.replica_socket_timeout_ms,
            Timer::BrokerFetchTimeout {
                broker: id,
                incarnation,
                request_id,
            },
        );
    }

    fn follower_backoff(&mut self, i: usize, leader: BrokerId) {
        let fetcher = self.brokers[i].fetchers.entry(leader).or_default();
        fetcher.in_flight = None;
        fetcher.backing_off = true;
        let broker = self.brokers[i].id;
        let incarnation = self.brokers[i].incarnation;
        self.schedule_in_ms(
            REPLICA_FETCH_BACKOFF_MS,
            Timer::BrokerFetchBackoff {
                broker,
                incarnation,
                leader,
            },
        );
    }

    fn follower_fetch_response(
        &mut self,
        i: usize,
        from: NodeId,
        request_id: u64,
        partitions: Vec<(TopicPartition, FetchResult)>,
    ) {
        let NodeId::Broker(leader) = from else { return };
        let id = self.brokers[i].id;
        if self.brokers[i]
            .fetchers
            .get(&leader)
            .and_then(|f| f.in_flight)
            != Some(request_id)
        {
            return;
        }
        let mut errors = false;
        let mut truncations = Vec::new();
        let flush_every = self.config.log_flush_interval_messages;
        for (tp, result) in partitions {
            // Only records to append need the topic's segment size.
            let segment_bytes = match &result {
                FetchResult::Records { records, .. } if !records.is_empty() => {
                    self.broker_segment_bytes(i, &tp.topic)
                }
                _ => 0,
            };
            let Some(replica) = self.brokers[i].replicas.get_mut(&tp) else {
                continue;
            };
            if replica.leader != Some(leader) {
                continue;
            }
            match result {
                FetchResult::Records {
                    records,
                    high_watermark,
                    log_start_offset,
                } => {
                    // Records at or past the log end are taken (compaction leaves gaps); anything
                    // else is left to the next fetch, whose offset tells the leader where this
                    // replica stands.
                    let mut records = records;
                    for record in records.drain(..) {
                        if record.offset >= replica.log.log_end_offset() {
                            replica.log.append_at(record, segment_bytes);
                        }
                    }
                    self.record_buffers.give(records);
                    replica.log.set_high_watermark(high_watermark);
                    replica.reconciled = true;
                    // A follower follows the leader's log start offset (retention on the leader).
                    replica.log.delete_below(log_start_offset);
                    replica.log.flush_if_due(flush_every);
                }
                FetchResult::Diverging { epoch, end_offset } => {
                    // KIP-279: truncate to where both logs agree; if the follower does not know
                    // the leader's epoch, cut to its own end of the largest smaller epoch and ask
                    // again with the next fetch.
                    let before = replica.log.log_end_offset();
                    let target = match epoch.and_then(|e| replica.log.end_offset_for_epoch(e)) {
                        Some((mine, my_end)) if Some(mine) == epoch => end_offset.min(my_end),
                        Some((_, my_end)) => my_end.min(end_offset),
                        None => end_offset.min(before),
                    };
                    replica.log.truncate_to(target.min(before));
                    let after = replica.log.log_end_offset();
                    if after < before {
                        truncations.push((tp.clone(), before, after));
                    }
                }
                FetchResult::Error(KafkaError::OffsetOutOfRange) => {
                    replica.log.truncate_fully_and_start_at(0);
                    errors = true;
                }
                FetchResult::Error(_) => errors = true,
            }
        }
        for (tp, from_offset, to_offset) in truncations {
            self.emit(EventKind::Truncated {
                broker: id,
                tp,
                from_offset,
                to_offset,
                rule: self.config.follower_truncation,
            });
        }
        if errors {
            self.follower_backoff(i, leader);
        } else {
            self.brokers[i]
                .fetchers
                .entry(leader)
                .or_default()
                .in_flight = None;
            self.follower_fetch_again(i, leader);
        }
    }
}

/// Whether a follower's fetch position is one the leader can count as its log end offset: it
/// must not be ahead of the leader, and its last epoch must match the leader's log (under the
/// rule in force).
fn leader_accepts_position(
    log: &ReplicaLog,
    fp: &FetchPartition,
    rule: FollowerTruncation,
) -> bool {
    if fp.fetch_offset > log.log_end_offset() {
        return false;
    }
    match (rule, fp.last_fetched_epoch) {
        (_, None) | (FollowerTruncation::HighWatermark, _) => true,
        (FollowerTruncation::Kip101, Some(last)) => kip101_end_offset(log, last) >= fp.fetch_offset,
        (FollowerTruncation::LeaderEpoch, Some(last)) => {
            matches!(log.end_offset_for_epoch(last), Some((e, end)) if e == last && end >= fp.fetch_offset)
        }
    }
}

/// KIP-101's `OffsetsForLeaderEpoch` answer: the start offset of the first epoch after
/// `requested`, or the log end offset when there is none. Unlike KIP-279 it does not say which
/// epoch the offset belongs to, so a follower that never had the leader's epochs keeps records
/// the leader does not have (trace T4).
fn kip101_end_offset(log: &ReplicaLog, requested: u32) -> u64 {
    log.epochs()
        .iter()
        .find(|e| e.epoch > requested)
        .map_or(log.log_end_offset(), |e| e.start_offset)
}

/// The replicas a broker hosts, by partition and in partition order (topic name, then number),
/// as Kafka's `ReplicaManager` keeps its hosted partitions.
///
/// It answers like the `BTreeMap<TopicPartition, Replica>` it replaces, but finds a partition
/// through its topic: every message a broker handles looks partitions up several times, and in a
/// `BTreeMap` each lookup compared the topic names of about five keys (a call to memcmp each),
/// a fifth of the simulator's instructions under load. Here a lookup compares names with the few
/// topics the broker hosts and then indexes by partition number.
#[derive(Clone, Debug, Default)]
pub struct HostedReplicas {
    /// The replicas, sorted by partition.
    entries: Vec<(TopicPartition, Replica)>,
    /// Each hosted topic's name and, by partition number, the index of its entry (`u32::MAX`
    /// where this broker hosts no replica); rebuilt when replicas are added or removed, which
    /// only metadata changes do.
    topics: Vec<(std::sync::Arc<str>, Vec<u32>)>,
}

impl HostedReplicas {
    /// Where `tp` is in `entries`, or where it would be inserted. Brokers look replicas up
    /// several times per message, so the common case is inlined: the name is the metadata
    /// image's shared string for the topic, and the pointers decide.
    #[inline]
    fn find(&self, tp: &TopicPartition) -> Result<usize, usize> {
        for (name, slots) in &self.topics {
            if std::sync::Arc::ptr_eq(name, &tp.topic) {
                return match slots.get(tp.partition as usize) {
                    Some(&k) if k != u32::MAX => Ok(k as usize),
                    _ => Err(self.insertion_point(tp)),
                };
            }
        }
        self.find_by_name(tp)
    }

    /// [`HostedReplicas::find`] for a name that is not the shared string: names of the same
    /// length are told apart by their first byte before memcmp is called to confirm a match.
    #[cold]
    fn find_by_name(&self, tp: &TopicPartition) -> Result<usize, usize> {
        for (name, slots) in &self.topics {
            let (a, b) = (name.as_bytes(), tp.topic.as_bytes());
            if a.len() != b.len() || a.first() != b.first() || a != b {
                continue;
            }
            match slots.get(tp.partition as usize) {
                Some(&k) if k != u32::MAX => return Ok(k as usize),
                _ => break,
            }
        }
        Err(self.insertion_point(tp))
    }

    /// Where `tp` would be inserted to keep `entries` sorted.
    #[cold]
    fn insertion_point(&self, tp: &TopicPartition) -> usize {
        self.entries.partition_point(|(t, _)| t < tp)
    }

    fn reindex(&mut self) {
        self.topics.clear();
        for (k, (tp, _)) in self.entries.iter().enumerate() {
            if self.topics.last().is_none_or(|(name, _)| *name != tp.topic) {
                self.topics.push((tp.topic.clone(), Vec::new()));
            }
            if let Some((_, slots)) = self.topics.last_mut() {
                let p = tp.partition as usize;
                if slots.len() <= p {
                    slots.resize(p + 1, u32::MAX);
                }
                slots[p] = k as u32;
            }
        }
    }

    /// The replica of `tp`, if hosted.
    pub fn get(&self, tp: &TopicPartition) -> Option<&Replica> {
        self.find(tp).ok().map(|k| &self.entries[k].1)
    }

    /// Whether the replica of `tp` is hosted.
    pub fn contains_key(&self, tp: &TopicPartition) -> bool {
        self.find(tp).is_ok()
    }

    /// The replica of `tp`, if hosted, to change.
    pub fn get_mut(&mut self, tp: &TopicPartition) -> Option<&mut Replica> {
        self.find(tp).ok().map(|k| &mut self.entries[k].1)
    }

    /// The replica of `tp`, created empty if not hosted yet.
    pub fn get_or_insert_default(&mut self, tp: &TopicPartition) -> &mut Replica {
        let k = match self.find(tp) {
            Ok(k) => k,
            Err(k) => {
                self.entries.insert(k, (tp.clone(), Replica::default()));
                self.reindex();
                k
            }
        };
        &mut self.entries[k].1
    }

    /// Keeps only the replicas for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&TopicPartition, &mut Replica) -> bool) {
        self.entries.retain_mut(|(tp, r)| keep(tp, r));
        self.reindex();
    }

    /// How many replicas are hosted.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no replica is hosted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The replicas with their partitions, in partition order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&TopicPartition, &Replica)> {
        self.entries.iter().map(|(tp, r)| (tp, r))
    }

    /// The replicas with their partitions, in partition order, to change.
    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = (&TopicPartition, &mut Replica)> {
        self.entries.iter_mut().map(|(tp, r)| (&*tp, r))
    }

    /// The hosted partitions, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &TopicPartition> {
        self.entries.iter().map(|(tp, _)| tp)
    }

    /// The replicas, in partition order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Replica> {
        self.entries.iter().map(|(_, r)| r)
    }

    /// The replicas, in partition order, to change.
    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut Replica> {
        self.entries.iter_mut().map(|(_, r)| r)
    }
}

impl<'a> IntoIterator for &'a HostedReplicas {
    type Item = (&'a TopicPartition, &'a Replica);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (TopicPartition, Replica)>,
        fn(&'a (TopicPartition, Replica)) -> (&'a TopicPartition, &'a Replica),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(tp, r)| (tp, r))
    }
}

// Serialized as the map it stands for, as before.
impl Serialize for HostedReplicas {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for HostedReplicas {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<TopicPartition, Replica>::deserialize(deserializer)?;
        let mut replicas = HostedReplicas {
            entries: map.into_iter().collect(),
            topics: Vec::new(),
        };
        replicas.reindex();
        Ok(replicas)
    }
}

/// What a leader's producer state says of an idempotent batch, given its first record.
enum SequenceCheck {
    /// The batch follows the producer's last one (or the leader knows nothing of the producer).
    Append,
    /// The batch is already in the log at this offset: a retry whose first attempt was written.
    Duplicate(u64),
    /// Refused before the append.
    Refuse(KafkaError),
}

/// Kafka's `ProducerAppendInfo` checks, with the producer's state read from the log: the newest
/// record of the producer id gives its epoch and last sequence.
///
/// Simplification (ARCHITECTURE.md): Kafka remembers the last five batches of each producer,
/// and a retry older than those is refused as out of order; here any earlier batch still in the
/// log is recognised. A producer's sequences grow along the log, so the search for a duplicate
/// stops at its newest record at or below the batch's first sequence however far back that is.
fn idempotent_check(log: &ReplicaLog, first: &Record) -> SequenceCheck {
    let mut newest: Option<&Record> = None;
    for r in log.records().rev() {
        if r.producer_id != first.producer_id {
            continue;
        }
        if newest.is_none() {
            newest = Some(r);
        }
        if r.producer_epoch != first.producer_epoch || r.sequence <= first.sequence {
            if r.producer_epoch == first.producer_epoch && r.sequence == first.sequence {
                return SequenceCheck::Duplicate(r.offset);
            }
            break;
        }
    }
    let Some(last) = newest else {
        // No state for the producer (a new one, or its records are gone): any sequence goes.
        return SequenceCheck::Append;
    };
    if first.producer_epoch < last.producer_epoch {
        return SequenceCheck::Refuse(KafkaError::InvalidProducerEpoch);
    }
    let expected = if first.producer_epoch > last.producer_epoch {
        0
    } else {
        ((i64::from(last.sequence) + 1) % (i64::from(i32::MAX) + 1)) as i32
    };
    if first.sequence == expected {
        SequenceCheck::Append
    } else {
        SequenceCheck::Refuse(KafkaError::OutOfOrderSequenceNumber)
    }
}

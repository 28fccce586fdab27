//! A consumer client reading every partition of one topic from the partition leaders, up to the
//! high watermark, and committing its positions (`SEMANTICS.md` §4, §6).
//!
//! Simplification (shown in the page and ARCHITECTURE.md): the consumer is assigned every
//! partition directly, as `assign()` does, rather than joining a group through a coordinator; its
//! commits are kept by the simulation instead of the `__consumer_offsets` topic. Consumer groups,
//! the coordinator and the assignors come with the consumer-group work.

use crate::config::{ConsumerConfig, OffsetReset};
use crate::error::{Error, ErrorKind, Result};
use crate::event::EventKind;
use crate::metadata::{ClientMetadata, TopicPartition};
use crate::network::{FetchPartition, FetchResult, Message, NodeId, OffsetSpec, Payload};
use crate::sim::{Simulation, Timer};
use crate::{BrokerId, KafkaError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// How many consumed records a consumer remembers for display.
pub const MAX_RECENT_RECORDS: usize = 100;
/// Most consumers per simulation.
pub const MAX_CONSUMERS: usize = 16;

/// What a consumer reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerSpec {
    /// `client.id`.
    pub client_id: String,
    /// `group.id`, under which offsets are committed.
    pub group: String,
    /// Whether it subscribes to its topic through the group protocol (`subscribe()`), rather
    /// than being assigned every partition (`assign()`).
    #[serde(default)]
    pub subscribe: bool,
    /// The topic read.
    pub topic: String,
    /// Consumer configs.
    pub config: ConsumerConfig,
}

/// One record as the consumer received it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumedRecord {
    /// The partition number.
    pub partition: u32,
    /// The offset.
    pub offset: u64,
    /// The key.
    pub key: Option<std::sync::Arc<str>>,
    /// The value.
    pub value: crate::log::RecordValue,
}

/// A consumer client.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Consumer {
    /// What it reads.
    pub spec: ConsumerSpec,
    /// The next offset to read per partition, once known.
    pub positions: BTreeMap<u32, u64>,
    /// The leader's high watermark per partition, from the last fetch response.
    pub high_watermarks: BTreeMap<u32, u64>,
    /// Records consumed in total.
    pub consumed: u64,
    /// The most recent records consumed, oldest first.
    pub recent: VecDeque<ConsumedRecord>,
    pub(crate) metadata: Option<ClientMetadata>,
    metadata_request: Option<u64>,
    pub(crate) bootstrap_cursor: u64,
    pub(crate) list_offsets: BTreeMap<u32, u64>,
    fetches: BTreeMap<BrokerId, u64>,
    waking: bool,
    /// Partitions whose position was out of range: the next position comes from
    /// `auto.offset.reset`, as Kafka's fetcher resets it, never from the committed offset.
    #[serde(default)]
    pub(crate) out_of_range: BTreeSet<u32>,
    /// Per partition, the leader epoch of the last record read (Kafka's `offsetEpoch` of the
    /// fetch position); unknown after a reset, which leaves nothing to validate.
    #[serde(default)]
    pub(crate) position_epochs: BTreeMap<u32, u32>,
    /// Per partition, the leader epoch the position was last validated for (Kafka's
    /// `currentLeader` of the fetch position). A newer epoch in the metadata means a new leader,
    /// whose log may have been truncated below the position (KIP-320).
    #[serde(default)]
    pub(crate) leader_epochs: BTreeMap<u32, u32>,
    /// `OffsetsForLeaderEpoch` requests in flight: partition → (request id, leader epoch asked
    /// in).
    #[serde(default)]
    pub(crate) validations: BTreeMap<u32, (u64, u32)>,
    /// Its membership in its group, when it subscribes.
    #[serde(default)]
    pub membership: Option<crate::consumer_group::Membership>,
    /// Closed by `stop-consumer`: it sends nothing and ignores what arrives.
    #[serde(default)]
    pub stopped: bool,
    /// Bumped by every start, so that timers of an earlier run of the process are ignored.
    #[serde(default)]
    pub(crate) incarnation: u32,
    /// While the application processes what the last `poll()` returned
    /// (`sim.processing.ms.per.record`), the time it will poll again.
    #[serde(default)]
    pub busy_until: Option<crate::time::SimTime>,
    /// When the application last called `poll()`; the heartbeat thread compares it with
    /// `max.poll.interval.ms`.
    #[serde(default)]
    pub(crate) last_poll: crate::time::SimTime,
}

impl Consumer {
    /// Records behind the high watermark per partition (the lag a monitoring tool shows).
    pub fn lag(&self, partition: u32) -> Option<u64> {
        let position = self.positions.get(&partition)?;
        Some(
            self.high_watermarks
                .get(&partition)?
                .saturating_sub(*position),
        )
    }

    /// The partition's leader and leader epoch, as the consumer's metadata has them.
    fn leader(&self, partition: u32) -> Option<(BrokerId, u32)> {
        self.metadata.as_ref()?.leader(partition)
    }

    fn partition_count(&self) -> u32 {
        self.metadata
            .as_ref()
            .and_then(|m| m.partition_count())
            .unwrap_or(0)
    }
}

impl Simulation {
    /// The consumers, in creation order.
    pub fn consumers(&self) -> &[Consumer] {
        &self.consumers
    }

    /// Committed offsets of a group, by partition.
    pub fn committed_offsets(&self, group: &str) -> Option<&BTreeMap<TopicPartition, u64>> {
        self.committed.get(group)
    }

    /// Adds a consumer that starts reading at once.
    pub fn add_consumer(&mut self, spec: ConsumerSpec) -> Result<()> {
        if self.consumers.len() >= MAX_CONSUMERS {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!("The simulator allows at most {MAX_CONSUMERS} consumers."),
            ));
        }
        if self
            .consumers
            .iter()
            .any(|c| c.spec.client_id == spec.client_id)
        {
            return Err(Error::new(
                ErrorKind::InvalidState,
                format!("A consumer named '{}' already exists.", spec.client_id),
            ));
        }
        if !self
            .controller
            .image
            .topics
            .contains_key(spec.topic.as_str())
        {
            return Err(Error::new(
                ErrorKind::UnknownTopic,
                format!(
                    "Consumer '{}' reads topic '{}', which does not exist.",
                    spec.client_id, spec.topic
                ),
            ));
        }
        if spec.subscribe && !cfg!(feature = "groups") {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                format!(
                    "Consumer '{}' subscribes to a group, but this build leaves consumer groups out (the page's consumers are assigned every partition; use the CLI).",
                    spec.client_id
                ),
            ));
        }
        let index = self.consumers.len() as u32;
        let auto_commit = spec
            .config
            .enable_auto_commit
            .then_some(spec.config.auto_commit_interval_ms);
        self.consumers.push(Consumer {
            spec,
            positions: BTreeMap::new(),
            high_watermarks: BTreeMap::new(),
            consumed: 0,
            recent: VecDeque::new(),
            metadata: None,
            metadata_request: None,
            bootstrap_cursor: u64::from(index) + 1,
            list_offsets: BTreeMap::new(),
            fetches: BTreeMap::new(),
            waking: false,
            out_of_range: BTreeSet::new(),
            position_epochs: BTreeMap::new(),
            leader_epochs: BTreeMap::new(),
            validations: BTreeMap::new(),
            membership: None,
            stopped: false,
            incarnation: 0,
            busy_until: None,
            last_poll: self.now,
        });
        let c = &mut self.consumers[index as usize];
        if c.spec.subscribe {
            c.membership = Some(crate::consumer_group::Membership::new());
            // The history checker needs to know which consumers share a group's work to tell a
            // record the group delivered twice from two groups each reading it once.
            let group = c.spec.group.clone();
            self.history.record_subscribe(index, group);
        }
        if let Some(interval) = auto_commit {
            self.schedule_in_ms(interval, Timer::ConsumerAutoCommit { consumer: index });
        }
        self.consumer_progress(index);
        Ok(())
    }

    pub(crate) fn consumer_wake_later(&mut self, index: u32) {
        let c = &mut self.consumers[index as usize];
        if !c.waking {
            c.waking = true;
            let backoff = c.spec.config.retry_backoff_ms;
            self.schedule_in_ms(backoff, Timer::ConsumerWake { consumer: index });
        }
    }

    /// Asks for metadata, positions or records, whichever is missing.
    pub(crate) fn consumer_progress(&mut self, index: u32) {
        let me = NodeId::Consumer(index);
        let now = self.now;
        let c = &mut self.consumers[index as usize];
        if c.stopped {
            return;
        }
        // The application is still busy with the records of its last poll(): no poll, so no
        // fetch and no group work until it is done.
        if c.busy_until.is_some_and(|until| until > now) {
            return;
        }
        c.busy_until = None;
        c.last_poll = now;
        let c = &self.consumers[index as usize];
        let timeout = c.spec.config.request_timeout_ms;
        if c.metadata.is_none() {
            if c.metadata_request.is_none() {
                let target =
                    self.brokers[(c.bootstrap_cursor % self.brokers.len() as u64) as usize].id;
                let request_id = self.request_id();
                let c = &mut self.consumers[index as usize];
                c.bootstrap_cursor += 1;
                c.metadata_request = Some(request_id);
                self.send(me, NodeId::Broker(target), Payload::Metadata { request_id });
                self.schedule_in_ms(
                    timeout,
                    Timer::ConsumerRequestTimeout {
                        consumer: index,
                        request_id,
                    },
                );
            }
            return;
        }
        if c.membership.is_some() {
            self.member_progress(index);
        }
        let c = &self.consumers[index as usize];
        // A member reads only its assignment, once it knows its committed offsets.
        let partitions: Vec<u32> = match &c.membership {
            Some(m) if m.state == crate::consumer_group::MemberState::Stable => m
                .assigned
                .iter()
                .filter(|p| m.committed.contains_key(p))
                .copied()
                .collect(),
            Some(_) => Vec::new(),
            None => (0..c.partition_count()).collect(),
        };
        // The metadata's shared name, so that naming each partition below copies no string and
        // the leaders compare names by pointer.
        let topic: std::sync::Arc<str> = match c.metadata.as_ref().and_then(|m| m.topic_name()) {
            Some(name) => name.clone(),
            None => std::sync::Arc::from(c.spec.topic.as_str()),
        };
        // One fetch per leader without one out, sent in leader order; a list rather than a map,
        // as this runs after every response and usually finds one leader to fetch from.
        let mut by_leader: Vec<(BrokerId, Vec<FetchPartition>)> = Vec::new();
        let wanted = partitions.len();
        let mut missing_leader = false;
        // Before KIP-320 consumers neither named the leader epoch nor validated positions.
        let fenced = !self.config.unfenced_fetch;
        for partition in partitions {
            let c = &self.consumers[index as usize];
            let Some((leader, leader_epoch)) = c.leader(partition) else {
                missing_leader = true;
                continue;
            };
            // A partition with a position whose leader has a fetch out needs nothing now; this
            // runs after every response, so skipping it before naming it saves most of the work.
            if c.fetches.contains_key(&leader) && c.positions.contains_key(&partition) {
                continue;
            }
            let tp = TopicPartition::new(topic.clone(), partition);
            // A position restored from the committed offset is fetched from at once: nothing
            // else would wake the consumer to do it.
            let committed = (!c.out_of_range.contains(&partition))
                .then(|| match &c.membership {
                    Some(m) => m.committed.get(&partition).copied().flatten(),
                    None => self
                        .committed
                        .get(&c.spec.group)
                        .and_then(|g| g.get(&tp))
                        .copied(),
                })
                .flatten();
            if let Some(position) = c.positions.get(&partition).copied().or(committed) {
                // KIP-320: after a leader change the position is validated with the new leader
                // before the next fetch (SubscriptionState's AWAIT_VALIDATION), when the epoch
                // of the last record read is known.
                let validated = c.leader_epochs.get(&partition).copied();
                let offset_epoch = c.position_epochs.get(&partition).copied();
                if let (true, Some(known), Some(epoch)) = (fenced, validated, offset_epoch) {
                    if known < leader_epoch {
                        if !c.validations.contains_key(&partition) {
                            self.consumer_validate(index, tp, leader, leader_epoch, epoch);
                        }
                        continue;
                    }
                }
                let c = &mut self.consumers[index as usize];
                c.positions.insert(partition, position);
                let known = validated.unwrap_or(leader_epoch).max(leader_epoch);
                c.leader_epochs.insert(partition, known);
                let k = match by_leader.iter().position(|(l, _)| *l == leader) {
                    Some(k) => k,
                    None => {
                        by_leader.push((leader, Vec::with_capacity(wanted)));
                        by_leader.len() - 1
                    }
                };
                by_leader[k].1.push(FetchPartition {
                    tp,
                    fetch_offset: position,
                    last_fetched_epoch: None,
                    current_leader_epoch: leader_epoch,
                });
                continue;
            }
            if c.list_offsets.contains_key(&partition) {
                continue;
            }
            let spec = match c.spec.config.auto_offset_reset {
                OffsetReset::Earliest => OffsetSpec::Earliest,
                OffsetReset::Latest => OffsetSpec::Latest,
            };
            let request_id = self.request_id();
            self.consumers[index as usize]
                .list_offsets
                .insert(partition, request_id);
            self.send(
                me,
                NodeId::Broker(leader),
                Payload::ListOffsets {
                    request_id,
                    tp,
                    spec,
                },
            );
            self.schedule_in_ms(
                timeout,
                Timer::ConsumerRequestTimeout {
                    consumer: index,
                    request_id,
                },
            );
        }
        let wait = self.consumers[index as usize].spec.config.fetch_max_wait_ms;
        by_leader.sort_unstable_by_key(|(leader, _)| *leader);
        for (leader, partitions) in by_leader {
            if self.consumers[index as usize].fetches.contains_key(&leader) {
                continue;
            }
            let request_id = self.request_id();
            self.consumers[index as usize]
                .fetches
                .insert(leader, request_id);
            self.send(
                me,
                NodeId::Broker(leader),
                Payload::Fetch {
                    request_id,
                    replica: None,
                    partitions,
                    max_wait_ms: wait,
                },
            );
            self.schedule_in_ms(
                timeout,
                Timer::ConsumerRequestTimeout {
                    consumer: index,
                    request_id,
                },
            );
        }
        if missing_leader {
            self.consumer_refresh_metadata(index);
        }
    }

    /// Sends `OffsetsForLeaderEpoch` for one partition: where does `epoch`, the epoch of the
    /// last record read, end in the log of the leader of `leader_epoch`?
    fn consumer_validate(
        &mut self,
        index: u32,
        tp: TopicPartition,
        leader: BrokerId,
        leader_epoch: u32,
        epoch: u32,
    ) {
        let request_id = self.request_id();
        let c = &mut self.consumers[index as usize];
        c.validations
            .insert(tp.partition, (request_id, leader_epoch));
        let timeout = c.spec.config.request_timeout_ms;
        self.send(
            NodeId::Consumer(index),
            NodeId::Broker(leader),
            Payload::OffsetsForLeaderEpoch {
                request_id,
                tp,
                current_leader_epoch: leader_epoch,
                leader_epoch: epoch,
            },
        );
        self.schedule_in_ms(
            timeout,
            Timer::ConsumerRequestTimeout {
                consumer: index,
                request_id,
            },
        );
    }

    /// Kafka's `SubscriptionState.maybeCompleteValidation` with an `auto.offset.reset` policy: a
    /// leader whose epoch ends below the position truncated records the consumer read, so it
    /// reads again from there; a leader with none of the consumer's epochs leaves the position
    /// to `auto.offset.reset`.
    fn consumer_validated(
        &mut self,
        index: u32,
        tp: TopicPartition,
        leader_epoch: u32,
        answer: Option<(u32, u64)>,
    ) {
        let c = &mut self.consumers[index as usize];
        let p = tp.partition;
        c.leader_epochs.insert(p, leader_epoch);
        let Some(position) = c.positions.get(&p).copied() else {
            return;
        };
        let diverging_at = match answer {
            Some((_, end)) if end >= position => return,
            Some((epoch, end)) => {
                c.positions.insert(p, end);
                c.position_epochs.insert(p, epoch);
                self.history.record_seek(index, tp.clone(), end);
                Some(end)
            }
            None => {
                c.positions.remove(&p);
                c.position_epochs.remove(&p);
                c.out_of_range.insert(p);
                None
            }
        };
        let consumer = self.consumers[index as usize].spec.client_id.clone();
        self.emit(EventKind::ConsumerTruncationDetected {
            consumer,
            tp,
            position,
            diverging_at,
        });
    }

    fn consumer_refresh_metadata(&mut self, index: u32) {
        let c = &mut self.consumers[index as usize];
        if c.metadata.is_some() {
            c.metadata = None;
        }
        self.consumer_wake_later(index);
    }

    fn consumer_named(&self, client_id: &str) -> Result<u32> {
        self.consumers
            .iter()
            .position(|c| c.spec.client_id == client_id)
            .map(|i| i as u32)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::UnknownClient,
                    format!("There is no consumer named '{client_id}'."),
                )
            })
    }

    /// Stops a consumer. `consumer.close()` (`clean`) commits the positions when auto-commit is
    /// on (`ConsumerCoordinator.close` commits synchronously) and a dynamic member then leaves
    /// its group. A killed process (not `clean`) does neither: what it read since its last
    /// commit is uncommitted, and its group learns it is gone only when its session times out.
    pub(crate) fn stop_consumer(&mut self, client_id: &str, clean: bool) -> Result<()> {
        let index = self.consumer_named(client_id)?;
        if self.consumers[index as usize].stopped {
            return Err(Error::new(
                ErrorKind::InvalidState,
                format!("Consumer '{client_id}' is already stopped."),
            ));
        }
        if clean {
            self.member_commit(index, true);
            // close() leaves the group only once its commit is answered, so that whoever takes
            // the partitions over finds the offsets committed (see `consumer_receive`).
            match self.consumers[index as usize].membership.as_mut() {
                Some(m) if m.commit_request_pending() => m.leave_after_commit = true,
                _ => self.member_leave(index),
            }
        }
        let c = &mut self.consumers[index as usize];
        c.stopped = true;
        let consumer = client_id.to_string();
        self.emit(if clean {
            EventKind::ConsumerStopped { consumer }
        } else {
            EventKind::ConsumerCrashed { consumer }
        });
        Ok(())
    }

    /// Starts a stopped consumer as a new process: it forgets its positions, and a member joins
    /// its group afresh (a static one with its `group.instance.id`).
    pub(crate) fn start_consumer(&mut self, client_id: &str) -> Result<()> {
        let index = self.consumer_named(client_id)?;
        let c = &mut self.consumers[index as usize];
        if !c.stopped {
            return Err(Error::new(
                ErrorKind::InvalidState,
                format!("Consumer '{client_id}' is running."),
            ));
        }
        c.stopped = false;
        c.incarnation += 1;
        c.positions.clear();
        c.busy_until = None;
        c.last_poll = self.now;
        c.position_epochs.clear();
        c.leader_epochs.clear();
        c.list_offsets.clear();
        c.validations.clear();
        c.out_of_range.clear();
        c.fetches.clear();
        c.metadata = None;
        c.metadata_request = None;
        c.waking = false;
        if c.spec.subscribe {
            c.membership = Some(crate::consumer_group::Membership::new());
        }
        self.history.record_rebalance(index);
        self.emit(EventKind::ConsumerStarted {
            consumer: client_id.to_string(),
        });
        self.consumer_progress(index);
        Ok(())
    }

    pub(crate) fn consumer_timer(&mut self, timer: Timer) {
        match timer {
            Timer::ConsumerWake { consumer } | Timer::ConsumerRequestTimeout { consumer, .. }
                if self.consumers[consumer as usize].stopped => {}
            Timer::ConsumerWake { consumer } => {
                self.consumers[consumer as usize].waking = false;
                self.consumer_progress(consumer);
            }
            Timer::ConsumerRequestTimeout {
                consumer,
                request_id,
            } => self.consumer_request_failed(consumer, request_id),
            Timer::ConsumerHeartbeat {
                consumer,
                incarnation,
            } => {
                let c = &self.consumers[consumer as usize];
                if !c.stopped && c.incarnation == incarnation {
                    self.member_heartbeat(consumer);
                }
            }
            Timer::ConsumerAutoCommit { consumer } if self.consumers[consumer as usize].stopped => {
                // A closed consumer commits nothing; the timer keeps its rhythm for a restart.
                let interval = self.consumers[consumer as usize]
                    .spec
                    .config
                    .auto_commit_interval_ms;
                self.schedule_in_ms(interval, Timer::ConsumerAutoCommit { consumer });
            }
            Timer::ConsumerAutoCommit { consumer }
                if self.consumers[consumer as usize].membership.is_some() =>
            {
                self.member_commit(consumer, false);
                let interval = self.consumers[consumer as usize]
                    .spec
                    .config
                    .auto_commit_interval_ms;
                self.schedule_in_ms(interval, Timer::ConsumerAutoCommit { consumer });
            }
            Timer::ConsumerAutoCommit { consumer } => {
                let c = &self.consumers[consumer as usize];
                let group = c.spec.group.clone();
                let client = c.spec.client_id.clone();
                let interval = c.spec.config.auto_commit_interval_ms;
                let offsets: Vec<(TopicPartition, u64)> = c
                    .positions
                    .iter()
                    .map(|(&p, &o)| (TopicPartition::new(c.spec.topic.clone(), p), o))
                    .filter(|(tp, o)| self.committed.get(&group).and_then(|g| g.get(tp)) != Some(o))
                    .collect();
                if !offsets.is_empty() {
                    let store = self.committed.entry(group.clone()).or_default();
                    for (tp, o) in &offsets {
                        store.insert(tp.clone(), *o);
                    }
                    self.emit(EventKind::OffsetsCommitted {
                        consumer: client,
                        group,
                        offsets,
                    });
                }
                self.schedule_in_ms(interval, Timer::ConsumerAutoCommit { consumer });
            }
            _ => {}
        }
    }

    /// A request that timed out or whose connection failed: forget it and retry after backoff.
    fn consumer_request_failed(&mut self, index: u32, request_id: u64) {
        if self.member_request_failed(index, request_id) {
            return;
        }
        let c = &mut self.consumers[index as usize];
        let mut failed = false;
        if c.metadata_request == Some(request_id) {
            c.metadata_request = None;
            failed = true;
        }
        let before = c.fetches.len() + c.list_offsets.len() + c.validations.len();
        c.fetches.retain(|_, id| *id != request_id);
        c.list_offsets.retain(|_, id| *id != request_id);
        c.validations.retain(|_, (id, _)| *id != request_id);
        if failed || c.fetches.len() + c.list_offsets.len() + c.validations.len() != before {
            self.consumer_refresh_metadata(index);
        }
    }

    pub(crate) fn consumer_receive(&mut self, index: u32, message: Message) {
        if self.consumers[index as usize].stopped {
            // A consumer being closed still hears its last commit's answer, then leaves its
            // group (see `stop_consumer`); everything else is ignored.
            let closing = self.consumers[index as usize]
                .membership
                .as_ref()
                .is_some_and(|m| m.leave_after_commit);
            if closing && matches!(message.payload, Payload::OffsetCommitResponse { .. }) {
                self.member_receive(index, &message.payload);
                if let Some(m) = self.consumers[index as usize].membership.as_mut() {
                    if !m.commit_request_pending() {
                        m.leave_after_commit = false;
                        self.member_leave(index);
                    }
                }
            }
            return;
        }
        if self.consumers[index as usize].membership.is_some()
            && self.member_receive(index, &message.payload)
        {
            return;
        }
        match message.payload {
            Payload::MetadataResponse { request_id, image } => {
                let c = &mut self.consumers[index as usize];
                if c.metadata_request != Some(request_id) {
                    return;
                }
                c.metadata_request = None;
                let metadata = ClientMetadata::new(*image, &c.spec.topic);
                if metadata.partition_count().is_some() {
                    c.metadata = Some(metadata);
                    self.consumer_progress(index);
                } else {
                    self.consumer_wake_later(index);
                }
            }
            Payload::ListOffsetsResponse {
                request_id,
                tp,
                result,
            } => {
                let c = &mut self.consumers[index as usize];
                if c.list_offsets.get(&tp.partition) != Some(&request_id) {
                    return;
                }
                // A partition given up meanwhile (a rebalance) is not read from.
                if c.membership
                    .as_ref()
                    .is_some_and(|m| !m.assigned.contains(&tp.partition))
                {
                    c.list_offsets.remove(&tp.partition);
                    return;
                }
                c.list_offsets.remove(&tp.partition);
                match result {
                    Ok(offset) => {
                        c.out_of_range.remove(&tp.partition);
                        c.positions.insert(tp.partition, offset);
                        // A reset position has no epoch to validate.
                        c.position_epochs.remove(&tp.partition);
                        let policy = match c.spec.config.auto_offset_reset {
                            OffsetReset::Earliest => "earliest",
                            OffsetReset::Latest => "latest",
                        };
                        let consumer = c.spec.client_id.clone();
                        self.history.record_seek(index, tp.clone(), offset);
                        self.emit(EventKind::OffsetReset {
                            consumer,
                            tp,
                            offset,
                            policy: policy.to_string(),
                        });
                        self.consumer_progress(index);
                    }
                    Err(_) => self.consumer_refresh_metadata(index),
                }
            }
            Payload::FetchResponse {
                request_id,
                partitions,
            } => {
                let c = &mut self.consumers[index as usize];
                let Some(leader) = c
                    .fetches
                    .iter()
                    .find(|(_, id)| **id == request_id)
                    .map(|(&l, _)| l)
                else {
                    return;
                };
                c.fetches.remove(&leader);
                let mut failed = false;
                let mut returned = 0u64;
                for (tp, result) in partitions {
                    match result {
                        FetchResult::Records {
                            records,
                            high_watermark,
                            ..
                        } => {
                            c.high_watermarks.insert(tp.partition, high_watermark);
                            let mut polled = Vec::new();
                            let mut records = records;
                            for r in records.drain(..) {
                                // Offsets may skip (compaction, retention): any record at or
                                // past the position is the next one.
                                if c.positions.get(&tp.partition).is_none_or(|&p| r.offset < p) {
                                    continue;
                                }
                                polled.push((r.offset, r.value_id));
                                c.positions.insert(tp.partition, r.offset + 1);
                                c.position_epochs.insert(tp.partition, r.leader_epoch);
                                c.consumed += 1;
                                if c.recent.len() == MAX_RECENT_RECORDS {
                                    c.recent.pop_front();
                                }
                                c.recent.push_back(ConsumedRecord {
                                    partition: tp.partition,
                                    offset: r.offset,
                                    key: r.key,
                                    value: r.value,
                                });
                            }
                            self.record_buffers.give(records);
                            returned += polled.len() as u64;
                            if !polled.is_empty() {
                                self.history.record_poll(index, tp.clone(), polled);
                            }
                        }
                        FetchResult::Error(KafkaError::OffsetOutOfRange) => {
                            // Going back to the committed offset would re-read records already
                            // returned with no seek the application could see (a nonmonotonic
                            // poll that `kafka-sim check` found after a stale leader answered).
                            c.positions.remove(&tp.partition);
                            c.out_of_range.insert(tp.partition);
                            failed = true;
                        }
                        _ => failed = true,
                    }
                }
                // The application processes what this poll returned before it polls again.
                let per_record = c.spec.config.processing_ms_per_record;
                if per_record > 0 && returned > 0 {
                    // Records of fetches that were already under way are processed after the
                    // ones before them, as the next poll() would return them.
                    let start = c.busy_until.map_or(self.now, |t| t.max(self.now));
                    let until = start.plus_ms(per_record * returned);
                    c.busy_until = Some(until);
                    let wait = until.as_ms() - self.now.as_ms();
                    self.schedule_in_ms(wait, Timer::ConsumerWake { consumer: index });
                }
                if failed {
                    self.consumer_refresh_metadata(index);
                } else {
                    self.consumer_progress(index);
                }
            }
            Payload::OffsetsForLeaderEpochResponse {
                request_id,
                tp,
                result,
            } => {
                let c = &mut self.consumers[index as usize];
                let Some(&(id, leader_epoch)) = c.validations.get(&tp.partition) else {
                    return;
                };
                if id != request_id {
                    return;
                }
                c.validations.remove(&tp.partition);
                match result {
                    Ok(answer) => {
                        self.consumer_validated(index, tp, leader_epoch, answer);
                        self.consumer_progress(index);
                    }
                    // A fenced, unknown or moved epoch: the metadata is stale; refresh it and
                    // validate again with the leader it names.
                    Err(_) => self.consumer_refresh_metadata(index),
                }
            }
            Payload::Disconnected { request_id } => self.consumer_request_failed(index, request_id),
            _ => {}
        }
    }
}

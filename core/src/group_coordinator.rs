//! The group coordinator inside every broker (`SEMANTICS.md` §4.1–4.2): a broker coordinates the
//! groups whose `__consumer_offsets` partition it leads, keeps their state ([`ClassicGroup`]) and
//! committed offsets in memory, and writes both to that partition, from which the next leader
//! loads them after a failover.
//!
//! Group requests travel on the consumer's separate coordinator connection, as Kafka's consumer
//! opens one, so a JoinGroup parked for seconds never holds up its fetches; the broker therefore
//! does not queue them behind the client's other requests.
//!
//! Simplifications (ARCHITECTURE.md): the broker that first hears of a group creates
//! `__consumer_offsets` with the controller directly rather than through a CreateTopics request;
//! a new coordinator loads its groups the moment it becomes leader (Kafka answers
//! COORDINATOR_LOAD_IN_PROGRESS while it reads the log); the group's metadata record is written
//! without waiting for replication, where Kafka answers SyncGroup only once it is committed.

use crate::config::Acks;
use crate::coordinator::partition_for_group;
use crate::group::{ClassicGroup, GroupEffect, GroupRecord, GroupSettings, Parked};
use crate::log::Record;
use crate::metadata::TopicPartition;
use crate::network::{Message, NodeId, Payload, ProduceBatch};
use crate::sim::{Simulation, Timer};
use crate::KafkaError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The internal topic holding committed offsets and group metadata.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// What one broker holds as a group coordinator.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CoordinatorState {
    /// The groups it coordinates, by `group.id`.
    pub groups: BTreeMap<String, ClassicGroup>,
    /// Their committed offsets.
    pub offsets: BTreeMap<String, BTreeMap<TopicPartition, u64>>,
    /// The `__consumer_offsets` partitions loaded, with the leader epoch they were loaded in.
    loaded: BTreeMap<u32, u32>,
}

/// What a `__consumer_offsets` record is about, read back from its key.
#[derive(Debug, PartialEq, Eq)]
enum OffsetsKey {
    /// A committed offset (Kafka's `OffsetCommitKey`).
    Offset { group: String, tp: TopicPartition },
    /// A group's metadata (Kafka's `GroupMetadataKey`).
    Group { group: String },
}

// The records are text, written as Kafka's console formatter for this topic shows them
// (`[group,topic,partition]`-style keys and a value naming its fields), so a learner can read
// them. Free-form strings (group and member ids) are percent-escaped where they could be taken
// for a separator; topic names cannot contain any separator used here.

/// Escapes the characters the formats below use as separators.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' | ',' | ';' | '=' | '[' | ']' | '|' | ' ' => {
                out.push_str(&format!("%{:02X}", c as u32));
            }
            _ => out.push(c),
        }
    }
    out
}

/// Undoes [`esc`]; `None` for a malformed escape.
fn unesc(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            let hex: String = chars.by_ref().take(2).collect();
            out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn offset_key(group: &str, tp: &TopicPartition) -> String {
    format!(
        "OffsetCommitKey[group={},topic={},partition={}]",
        esc(group),
        tp.topic,
        tp.partition
    )
}

fn group_key(group: &str) -> String {
    format!("GroupMetadataKey[group={}]", esc(group))
}

fn parse_key(key: &str) -> Option<OffsetsKey> {
    if let Some(body) = key
        .strip_prefix("OffsetCommitKey[group=")
        .and_then(|k| k.strip_suffix(']'))
    {
        let (rest, partition) = body.rsplit_once(",partition=")?;
        let (group, topic) = rest.rsplit_once(",topic=")?;
        return Some(OffsetsKey::Offset {
            group: unesc(group)?,
            tp: TopicPartition::new(topic, partition.parse().ok()?),
        });
    }
    let group = key
        .strip_prefix("GroupMetadataKey[group=")?
        .strip_suffix(']')?;
    Some(OffsetsKey::Group {
        group: unesc(group)?,
    })
}

fn offset_value(offset: u64) -> String {
    format!("OffsetCommitValue[offset={offset}]")
}

fn parse_offset_value(value: &str) -> Option<u64> {
    value
        .strip_prefix("OffsetCommitValue[offset=")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

fn partitions_text(partitions: &[TopicPartition]) -> String {
    partitions
        .iter()
        .map(|tp| tp.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn parse_partitions(text: &str) -> Option<Vec<TopicPartition>> {
    text.split(' ')
        .filter(|t| !t.is_empty())
        .map(|t| {
            let (topic, partition) = t.rsplit_once('-')?;
            Some(TopicPartition::new(topic, partition.parse().ok()?))
        })
        .collect()
}

/// A group's metadata as text: generation, assignor, leader, then each member's id, instance
/// id, client id, timeouts, assignor with its subscribed topics, and assignment.
fn group_value(record: &GroupRecord) -> String {
    let members: Vec<String> = record
        .members
        .iter()
        .map(|m| {
            let (protocol, topics) = m
                .protocols
                .first()
                .map(|p| (p.name.clone(), p.subscription.topics.join(" ")))
                .unwrap_or_default();
            format!(
                "{},{},{},{},{},{},{},{}",
                esc(&m.member_id),
                esc(m.group_instance_id.as_deref().unwrap_or("")),
                esc(&m.client_id),
                m.session_timeout_ms,
                m.rebalance_timeout_ms,
                esc(&protocol),
                esc(&topics),
                esc(&partitions_text(&m.assignment)),
            )
        })
        .collect();
    format!(
        "GroupMetadataValue[generation={};protocol={};leader={};members={}]",
        record.generation_id,
        esc(record.protocol_name.as_deref().unwrap_or("")),
        esc(record.leader_id.as_deref().unwrap_or("")),
        members.join("|")
    )
}

fn parse_group_value(value: &str) -> Option<GroupRecord> {
    let body = value
        .strip_prefix("GroupMetadataValue[")?
        .strip_suffix(']')?;
    let mut fields = body.splitn(4, ';');
    let mut field = |name: &str| -> Option<String> {
        fields
            .next()?
            .strip_prefix(name)?
            .strip_prefix('=')
            .map(str::to_string)
    };
    let generation_id = field("generation")?.parse().ok()?;
    let optional = |text: String| -> Option<Option<String>> {
        let text = unesc(&text)?;
        Some((!text.is_empty()).then_some(text))
    };
    let protocol_name = optional(field("protocol")?)?;
    let leader_id = optional(field("leader")?)?;
    let members_text = field("members")?;
    let mut members = Vec::new();
    for m in members_text.split('|').filter(|m| !m.is_empty()) {
        let parts: Vec<&str> = m.split(',').collect();
        let [id, instance, client, session, rebalance, protocol, topics, assignment] =
            parts.as_slice()
        else {
            return None;
        };
        let member_id = unesc(id)?;
        let topics: Vec<String> = unesc(topics)?
            .split(' ')
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
        let mut subscription = crate::assignor::MemberSubscription::new(member_id.clone(), topics);
        subscription.group_instance_id = optional(instance.to_string())?;
        members.push(crate::group::GroupMember {
            member_id,
            group_instance_id: subscription.group_instance_id.clone(),
            client_id: unesc(client)?,
            session_timeout_ms: session.parse().ok()?,
            rebalance_timeout_ms: rebalance.parse().ok()?,
            protocols: vec![crate::group::JoinProtocol {
                name: unesc(protocol)?,
                subscription,
            }],
            assignment: parse_partitions(&unesc(assignment)?)?,
            awaiting_join: None,
            awaiting_sync: None,
            is_new: false,
            last_heartbeat_ms: 0,
        });
    }
    Some(GroupRecord {
        generation_id,
        protocol_name,
        leader_id,
        members,
    })
}

/// Whether a message is a group coordinator request.
pub(crate) fn is_group_request(payload: &Payload) -> bool {
    matches!(
        payload,
        Payload::FindCoordinator { .. }
            | Payload::JoinGroup { .. }
            | Payload::SyncGroup { .. }
            | Payload::Heartbeat { .. }
            | Payload::LeaveGroup { .. }
            | Payload::OffsetCommit { .. }
            | Payload::OffsetFetch { .. }
    )
}

/// An error for a group request whose answer type is chosen by the request.
fn error_response(payload: &Payload, error: KafkaError) -> Option<Payload> {
    Some(match payload {
        Payload::JoinGroup { request_id, .. } => Payload::JoinGroupResponse {
            request_id: *request_id,
            result: Box::new(Err((error, String::new()))),
        },
        Payload::SyncGroup { request_id, .. } => Payload::SyncGroupResponse {
            request_id: *request_id,
            result: Err(error),
        },
        Payload::Heartbeat { request_id, .. } => Payload::HeartbeatResponse {
            request_id: *request_id,
            error: Some(error),
        },
        Payload::LeaveGroup { request_id, .. } => Payload::LeaveGroupResponse {
            request_id: *request_id,
            error: Some(error),
        },
        Payload::OffsetCommit { request_id, .. } => Payload::OffsetCommitResponse {
            request_id: *request_id,
            error: Some(error),
        },
        Payload::OffsetFetch { request_id, .. } => Payload::OffsetFetchResponse {
            request_id: *request_id,
            result: Err(error),
        },
        _ => return None,
    })
}

/// Kafka's mapping of a failed offsets-topic append to the error an OffsetCommit answers with
/// (`GroupMetadataManager`'s `appendRecords` callback).
pub(crate) fn commit_error(error: KafkaError) -> KafkaError {
    match error {
        KafkaError::NotLeaderOrFollower => KafkaError::NotCoordinator,
        KafkaError::NotEnoughReplicas
        | KafkaError::NotEnoughReplicasAfterAppend
        | KafkaError::RequestTimedOut => KafkaError::CoordinatorNotAvailable,
        other => other,
    }
}

impl Simulation {
    /// A group as its coordinator holds it: the live broker leading the group's
    /// `__consumer_offsets` partition.
    pub fn group(&self, group: &str) -> Option<&ClassicGroup> {
        let topic = self.metadata().topics.get(OFFSETS_TOPIC)?;
        let p = partition_for_group(group, topic.partitions.len() as u32)?;
        let leader = topic.partitions.get(p as usize)?.leader?;
        self.brokers
            .iter()
            .find(|b| b.id == leader && b.alive)?
            .coordinator
            .groups
            .get(group)
    }

    /// The coordinator's settings, from the cluster config.
    fn group_settings(&self) -> GroupSettings {
        GroupSettings {
            initial_rebalance_delay_ms: self.config.group_initial_rebalance_delay_ms,
            min_session_timeout_ms: self.config.group_min_session_timeout_ms,
            max_session_timeout_ms: self.config.group_max_session_timeout_ms,
        }
    }

    /// Handles a group request at broker `i`.
    pub(crate) fn group_receive(&mut self, i: usize, message: Message) {
        // Without consumer groups in the build nothing reaches here at run time; the early
        // return lets the compiler leave the protocol out of the page's download.
        if !cfg!(feature = "groups") {
            return;
        }
        let me = NodeId::Broker(self.brokers[i].id);
        let from = message.from;
        if let Payload::FindCoordinator { request_id, group } = &message.payload {
            let result = self.find_coordinator(i, group);
            self.send(
                me,
                from,
                Payload::FindCoordinatorResponse {
                    request_id: *request_id,
                    result,
                },
            );
            return;
        }
        let group = match &message.payload {
            Payload::JoinGroup { group, .. }
            | Payload::SyncGroup { group, .. }
            | Payload::Heartbeat { group, .. }
            | Payload::LeaveGroup { group, .. }
            | Payload::OffsetCommit { group, .. }
            | Payload::OffsetFetch { group, .. } => group.clone(),
            _ => return,
        };
        let tp = match self.coordinated_partition(i, &group) {
            Ok(tp) => tp,
            Err(error) => {
                if let Some(answer) = error_response(&message.payload, error) {
                    self.send(me, from, answer);
                }
                return;
            }
        };
        let now_ms = self.now.as_ms();
        let settings = self.group_settings();
        match message.payload {
            Payload::JoinGroup {
                request_id, join, ..
            } => {
                let parked = Parked {
                    client: from,
                    request_id,
                };
                // The group is taken out while it runs so that its member ids can draw their
                // UUIDs from the simulation's generator.
                let mut state = self.brokers[i]
                    .coordinator
                    .groups
                    .remove(&group)
                    .unwrap_or_else(|| ClassicGroup::new(group.clone()));
                let rng = &mut self.rng;
                let effects = state.join(parked, *join, now_ms, &settings, &mut |prefix| {
                    format!("{prefix}-{}", uuid(rng))
                });
                self.brokers[i]
                    .coordinator
                    .groups
                    .insert(group.clone(), state);
                self.group_apply(i, &group, &tp, effects);
            }
            Payload::SyncGroup {
                request_id,
                member_id,
                generation_id,
                assignment,
                ..
            } => {
                let parked = Parked {
                    client: from,
                    request_id,
                };
                let effects = match self.brokers[i].coordinator.groups.get_mut(&group) {
                    Some(g) => g.sync(parked, &member_id, generation_id, assignment, now_ms),
                    None => vec![GroupEffect::Sync {
                        to: parked,
                        result: Err(KafkaError::UnknownMemberId),
                    }],
                };
                self.group_apply(i, &group, &tp, effects);
            }
            Payload::Heartbeat {
                request_id,
                member_id,
                generation_id,
                ..
            } => {
                let result = match self.brokers[i].coordinator.groups.get_mut(&group) {
                    Some(g) => g.heartbeat(&member_id, generation_id, now_ms),
                    None => Err(KafkaError::UnknownMemberId),
                };
                self.send(
                    me,
                    from,
                    Payload::HeartbeatResponse {
                        request_id,
                        error: result.err(),
                    },
                );
            }
            Payload::LeaveGroup {
                request_id,
                member_id,
                ..
            } => {
                let result = match self.brokers[i].coordinator.groups.get_mut(&group) {
                    Some(g) => g.leave(&member_id, &settings),
                    None => Err(KafkaError::UnknownMemberId),
                };
                let error = match result {
                    Ok(effects) => {
                        self.group_apply(i, &group, &tp, effects);
                        None
                    }
                    Err(error) => Some(error),
                };
                self.send(me, from, Payload::LeaveGroupResponse { request_id, error });
            }
            Payload::OffsetCommit {
                request_id,
                member_id,
                generation_id,
                offsets,
                ..
            } => {
                let groups = &mut self.brokers[i].coordinator.groups;
                // A commit from outside the group protocol creates an empty ("simple") group.
                let valid = match groups.get(&group) {
                    Some(g) => g.validate_commit(&member_id, generation_id),
                    None if generation_id < 0 && member_id.is_empty() => {
                        groups.insert(group.clone(), ClassicGroup::new(group.clone()));
                        Ok(())
                    }
                    None => Err(KafkaError::IllegalGeneration),
                };
                if let Err(error) = valid {
                    self.send(
                        me,
                        from,
                        Payload::OffsetCommitResponse {
                            request_id,
                            error: Some(error),
                        },
                    );
                    return;
                }
                let records = offsets
                    .iter()
                    .map(|(committed, offset)| {
                        self.offsets_record(offset_key(&group, committed), offset_value(*offset))
                    })
                    .collect();
                let reply = crate::broker::Reply::OffsetCommit { group, offsets };
                self.leader_produce_with(
                    i,
                    from,
                    request_id,
                    Acks::All,
                    self.config.offsets_commit_timeout_ms,
                    vec![ProduceBatch { tp, records }],
                    reply,
                );
            }
            Payload::OffsetFetch {
                request_id,
                partitions,
                ..
            } => {
                let committed = self.brokers[i].coordinator.offsets.get(&group);
                let offsets = partitions
                    .into_iter()
                    .filter_map(|p| committed.and_then(|c| c.get(&p)).map(|&o| (p, o)))
                    .collect();
                self.send(
                    me,
                    from,
                    Payload::OffsetFetchResponse {
                        request_id,
                        result: Ok(offsets),
                    },
                );
            }
            _ => {}
        }
    }

    fn offsets_record(&self, key: String, value: String) -> Record {
        let size = (key.len() + value.len()) as u32;
        Record {
            offset: 0,
            leader_epoch: 0,
            timestamp_ms: self.now.as_ms(),
            key: Some(Arc::from(key)),
            value: value.into(),
            size_bytes: size,
            producer_id: -1,
            producer_epoch: 0,
            sequence: -1,
            value_id: 0,
            tombstone: false,
        }
    }

    /// Which broker coordinates `group`, as broker `i` knows: the leader of its offsets
    /// partition. The first request for any group creates `__consumer_offsets`.
    fn find_coordinator(&mut self, i: usize, group: &str) -> Result<crate::BrokerId, KafkaError> {
        let image = &self.brokers[i].image;
        let Some(topic) = image.topics.get(OFFSETS_TOPIC) else {
            self.create_offsets_topic();
            return Err(KafkaError::CoordinatorNotAvailable);
        };
        let partitions = topic.partitions.len() as u32;
        let p =
            partition_for_group(group, partitions).ok_or(KafkaError::CoordinatorNotAvailable)?;
        topic
            .partitions
            .get(p as usize)
            .and_then(|s| s.leader)
            .ok_or(KafkaError::CoordinatorNotAvailable)
    }

    /// Kafka's auto-creation of `__consumer_offsets` with `offsets.topic.num.partitions` and
    /// `offsets.topic.replication.factor`, compacted. It fails (and is retried by the next
    /// FindCoordinator) while fewer brokers are registered than the replication factor.
    fn create_offsets_topic(&mut self) {
        if self.controller.image.topics.contains_key(OFFSETS_TOPIC) {
            return;
        }
        let config = crate::config::TopicConfig {
            cleanup_policy: Some("compact".to_string()),
            ..crate::config::TopicConfig::default()
        };
        let _ = self.create_topic(
            OFFSETS_TOPIC,
            self.config.offsets_topic_num_partitions,
            self.config.offsets_topic_replication_factor,
            config,
        );
    }

    /// The offsets partition of `group` if broker `i` leads it (loading its groups if it has not
    /// yet in this leader epoch), else NOT_COORDINATOR.
    fn coordinated_partition(
        &mut self,
        i: usize,
        group: &str,
    ) -> Result<TopicPartition, KafkaError> {
        let id = self.brokers[i].id;
        let partitions = self.brokers[i]
            .image
            .topics
            .get(OFFSETS_TOPIC)
            .map(|t| t.partitions.len() as u32)
            .ok_or(KafkaError::NotCoordinator)?;
        let p = partition_for_group(group, partitions).ok_or(KafkaError::NotCoordinator)?;
        let tp = TopicPartition::new(OFFSETS_TOPIC, p);
        let epoch = match self.brokers[i].replicas.get(&tp) {
            Some(r) if r.leader == Some(id) => r.leader_epoch,
            _ => return Err(KafkaError::NotCoordinator),
        };
        if self.brokers[i].coordinator.loaded.get(&p) != Some(&epoch) {
            self.load_offsets_partition(i, p, epoch);
        }
        Ok(tp)
    }

    /// After a metadata change at broker `i`: unloads the groups of offsets partitions it no
    /// longer leads and loads those it newly leads.
    pub(crate) fn coordinator_after_metadata(&mut self, i: usize) {
        // Without consumer groups in the build nothing reaches here at run time; the early
        // return lets the compiler leave the protocol out of the page's download.
        if !cfg!(feature = "groups") {
            return;
        }
        let id = self.brokers[i].id;
        let Some(topic) = self.brokers[i].image.topics.get(OFFSETS_TOPIC) else {
            return;
        };
        let partitions = topic.partitions.len() as u32;
        let mut led = BTreeMap::new();
        for p in 0..partitions {
            let tp = TopicPartition::new(OFFSETS_TOPIC, p);
            if let Some(r) = self.brokers[i].replicas.get(&tp) {
                if r.leader == Some(id) {
                    led.insert(p, r.leader_epoch);
                }
            }
        }
        let stale: Vec<u32> = self.brokers[i]
            .coordinator
            .loaded
            .iter()
            .filter(|(p, epoch)| led.get(p) != Some(epoch))
            .map(|(p, _)| *p)
            .collect();
        for p in stale {
            self.unload_offsets_partition(i, p, partitions);
        }
        for (p, epoch) in led {
            if self.brokers[i].coordinator.loaded.get(&p) != Some(&epoch) {
                self.load_offsets_partition(i, p, epoch);
            }
        }
    }

    fn unload_offsets_partition(&mut self, i: usize, p: u32, partitions: u32) {
        let me = NodeId::Broker(self.brokers[i].id);
        let state = &mut self.brokers[i].coordinator;
        state.loaded.remove(&p);
        let gone: Vec<String> = state
            .groups
            .keys()
            .filter(|g| partition_for_group(g, partitions) == Some(p))
            .cloned()
            .collect();
        let mut answers = Vec::new();
        for g in gone {
            state.offsets.remove(&g);
            if let Some(mut group) = state.groups.remove(&g) {
                answers.extend(group.unload());
            }
        }
        for effect in answers {
            if let Some((to, payload)) = answer_of(effect) {
                self.send(me, to, payload);
            }
        }
    }

    /// Kafka's coordinator loading: replays the partition's log, the latest record per key
    /// winning, into groups and committed offsets.
    fn load_offsets_partition(&mut self, i: usize, p: u32, epoch: u32) {
        let tp = TopicPartition::new(OFFSETS_TOPIC, p);
        let partitions = self.brokers[i]
            .image
            .topics
            .get(OFFSETS_TOPIC)
            .map_or(0, |t| t.partitions.len() as u32);
        self.unload_offsets_partition(i, p, partitions);
        let mut offsets: BTreeMap<String, BTreeMap<TopicPartition, u64>> = BTreeMap::new();
        let mut groups: BTreeMap<String, GroupRecord> = BTreeMap::new();
        if let Some(replica) = self.brokers[i].replicas.get(&tp) {
            for record in replica.log.records() {
                let Some(key) = record.key.as_deref().and_then(parse_key) else {
                    continue;
                };
                match key {
                    OffsetsKey::Offset { group, tp } => {
                        if let Some(offset) = parse_offset_value(&record.value.text()) {
                            offsets.entry(group).or_default().insert(tp, offset);
                        }
                    }
                    OffsetsKey::Group { group } => {
                        if let Some(value) = parse_group_value(&record.value.text()) {
                            groups.insert(group, value);
                        }
                    }
                }
            }
        }
        let now_ms = self.now.as_ms();
        let state = &mut self.brokers[i].coordinator;
        state.loaded.insert(p, epoch);
        state.offsets.extend(offsets);
        let mut timers = Vec::new();
        for (group_id, record) in groups {
            let (group, effects) = ClassicGroup::from_record(group_id.clone(), record, now_ms);
            state.groups.insert(group_id.clone(), group);
            timers.push((group_id, effects));
        }
        for (group_id, effects) in timers {
            self.group_apply(i, &group_id, &tp, effects);
        }
    }

    /// Carries out what a group request or timer released at broker `i`.
    fn group_apply(
        &mut self,
        i: usize,
        group: &str,
        tp: &TopicPartition,
        effects: Vec<GroupEffect>,
    ) {
        let broker = self.brokers[i].id;
        let incarnation = self.brokers[i].incarnation;
        let me = NodeId::Broker(broker);
        for effect in effects {
            match effect {
                GroupEffect::ScheduleJoin {
                    after_ms,
                    join_epoch,
                } => self.schedule_in_ms(
                    after_ms,
                    Timer::GroupJoin {
                        broker,
                        incarnation,
                        group: group.to_string(),
                        join_epoch,
                    },
                ),
                GroupEffect::ScheduleExpiry {
                    member_id,
                    after_ms,
                } => self.schedule_in_ms(
                    after_ms,
                    Timer::GroupMemberExpiry {
                        broker,
                        incarnation,
                        group: group.to_string(),
                        member_id,
                    },
                ),
                GroupEffect::ScheduleSyncExpiry {
                    generation_id,
                    after_ms,
                } => self.schedule_in_ms(
                    after_ms,
                    Timer::GroupSyncExpiry {
                        broker,
                        incarnation,
                        group: group.to_string(),
                        generation_id,
                    },
                ),
                GroupEffect::Persist => self.persist_group(i, group, tp),
                GroupEffect::Narrate(change) => self.emit(crate::event::EventKind::GroupChanged {
                    group: group.to_string(),
                    coordinator: broker,
                    change,
                }),
                answer => {
                    if let Some((to, payload)) = answer_of(answer) {
                        self.send(me, to, payload);
                    }
                }
            }
        }
    }

    /// Writes the group's metadata record to its offsets partition.
    fn persist_group(&mut self, i: usize, group: &str, tp: &TopicPartition) {
        let Some(record) = self.brokers[i]
            .coordinator
            .groups
            .get(group)
            .map(ClassicGroup::record)
        else {
            return;
        };
        let key = group_key(group);
        let value = group_value(&record);
        let record = self.offsets_record(key, value);
        self.leader_append_internal(i, tp, record);
    }

    /// A group timer fired at its broker (whose incarnation the caller checked).
    pub(crate) fn group_timer(&mut self, timer: Timer) {
        // Without consumer groups in the build nothing reaches here at run time; the early
        // return lets the compiler leave the protocol out of the page's download.
        if !cfg!(feature = "groups") {
            return;
        }
        let (broker, group) = match &timer {
            Timer::GroupJoin { broker, group, .. }
            | Timer::GroupMemberExpiry { broker, group, .. }
            | Timer::GroupSyncExpiry { broker, group, .. } => (*broker, group.clone()),
            _ => return,
        };
        let Some(i) = self.broker_index(broker) else {
            return;
        };
        // A broker that stopped coordinating the group has unloaded it; nothing to do.
        let Ok(tp) = self.coordinated_partition(i, &group) else {
            return;
        };
        let now_ms = self.now.as_ms();
        let settings = self.group_settings();
        let Some(g) = self.brokers[i].coordinator.groups.get_mut(&group) else {
            return;
        };
        let effects = match timer {
            Timer::GroupJoin { join_epoch, .. } => g.complete_join(join_epoch),
            Timer::GroupMemberExpiry { member_id, .. } => {
                g.expire_member(&member_id, now_ms, &settings)
            }
            Timer::GroupSyncExpiry { generation_id, .. } => g.expire_sync(generation_id, &settings),
            _ => Vec::new(),
        };
        self.group_apply(i, &group, &tp, effects);
    }
}

/// A random UUID in its text form, from the simulation's generator.
fn uuid(rng: &mut crate::rng::SimRng) -> String {
    let hi = rng.next_u64();
    let lo = rng.next_u64();
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

/// The client and message of an answer effect.
fn answer_of(effect: GroupEffect) -> Option<(NodeId, Payload)> {
    match effect {
        GroupEffect::Join { to, result } => Some((
            to.client,
            Payload::JoinGroupResponse {
                request_id: to.request_id,
                result: Box::new(result),
            },
        )),
        GroupEffect::Sync { to, result } => Some((
            to.client,
            Payload::SyncGroupResponse {
                request_id: to.request_id,
                result,
            },
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assignor::MemberSubscription;
    use crate::group::{GroupMember, JoinProtocol};

    #[test]
    fn records_read_back_as_written_even_with_separators_in_ids() {
        let tp = TopicPartition::new("orders.v2-eu", 12);
        let key = offset_key("g,roup=[1];%", &tp);
        assert_eq!(
            parse_key(&key),
            Some(OffsetsKey::Offset {
                group: "g,roup=[1];%".to_string(),
                tp
            })
        );
        assert_eq!(parse_offset_value(&offset_value(42)), Some(42));
        assert_eq!(
            parse_key(&group_key("a b|c")),
            Some(OffsetsKey::Group {
                group: "a b|c".to_string()
            })
        );
        let record = GroupRecord {
            generation_id: 7,
            protocol_name: Some("range".to_string()),
            leader_id: Some("c-1,x".to_string()),
            members: vec![GroupMember {
                member_id: "c-1,x".to_string(),
                group_instance_id: Some("i|1".to_string()),
                client_id: "c 1".to_string(),
                session_timeout_ms: 45_000,
                rebalance_timeout_ms: 300_000,
                protocols: vec![JoinProtocol {
                    name: "range".to_string(),
                    subscription: {
                        let mut s = MemberSubscription::new("c-1,x", ["orders", "pay-ments"]);
                        s.group_instance_id = Some("i|1".to_string());
                        s
                    },
                }],
                assignment: vec![
                    TopicPartition::new("orders", 0),
                    TopicPartition::new("pay-ments", 3),
                ],
                awaiting_join: None,
                awaiting_sync: None,
                is_new: false,
                last_heartbeat_ms: 0,
            }],
        };
        assert_eq!(parse_group_value(&group_value(&record)), Some(record));
        let empty = GroupRecord {
            generation_id: 2,
            protocol_name: None,
            leader_id: None,
            members: Vec::new(),
        };
        assert_eq!(parse_group_value(&group_value(&empty)), Some(empty));
        assert_eq!(parse_key("something else"), None);
        assert_eq!(parse_group_value("GroupMetadataValue[generation=x]"), None);
    }
}

//! A consumer's side of the classic group protocol (Kafka's `AbstractCoordinator` and
//! `ConsumerCoordinator`, `SEMANTICS.md` §4.2): finding the coordinator, joining (with the
//! MEMBER_ID_REQUIRED round trip), running the assignor as the leader, syncing, heartbeating,
//! rebalancing eagerly or cooperatively, and committing offsets to the coordinator.

use crate::assignor::{
    rebalance_protocol, Assignor, GroupSubscription, MemberSubscription, RebalanceProtocol,
};
use crate::event::EventKind;
use crate::group::{JoinProtocol, JoinRequest, JoinResult};
use crate::metadata::TopicPartition;
use crate::network::{NodeId, Payload};
use crate::sim::{Simulation, Timer};
use crate::{BrokerId, KafkaError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Where a member is in the protocol (Kafka's `MemberState`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberState {
    /// Not in the group: it must (re)join.
    #[default]
    Unjoined,
    /// A JoinGroup or SyncGroup is under way.
    PreparingRebalance,
    /// Joined and assigned.
    Stable,
}

/// A consumer's membership in its group.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Membership {
    /// Where it is in the protocol.
    pub state: MemberState,
    /// The coordinator, once found.
    pub coordinator: Option<BrokerId>,
    /// Its member id; empty before the coordinator gives it one.
    pub member_id: String,
    /// Its generation, or -1.
    pub generation_id: i32,
    /// The assignor of the generation.
    pub protocol: Option<String>,
    /// Whether it leads the generation.
    pub leader: bool,
    /// The partitions of its topic it owns.
    pub assigned: BTreeSet<u32>,
    /// Committed offsets fetched for owned partitions: `None` when the group has none.
    pub committed: BTreeMap<u32, Option<u64>>,
    /// Rebalances it took part in.
    pub rebalances: u32,
    find_request: Option<u64>,
    join_request: Option<u64>,
    sync_request: Option<u64>,
    heartbeat_request: Option<u64>,
    offset_fetch_request: Option<u64>,
    commit_request: Option<(u64, Vec<(TopicPartition, u64)>)>,
    heartbeat_armed: bool,
    /// The coordinator last found, to tell a learner when it moves.
    last_coordinator: Option<BrokerId>,
    /// The consumer was closed while its last commit was under way: it sends LeaveGroup once
    /// that commit is answered, as `KafkaConsumer.close()` commits synchronously first.
    #[serde(default)]
    pub(crate) leave_after_commit: bool,
}

impl Membership {
    /// A member before its first join.
    pub fn new() -> Membership {
        Membership {
            generation_id: -1,
            ..Membership::default()
        }
    }

    /// Whether an OffsetCommit of the member awaits its answer.
    pub(crate) fn commit_request_pending(&self) -> bool {
        self.commit_request.is_some()
    }

    fn owns_request(&self, request_id: u64) -> bool {
        [
            self.find_request,
            self.join_request,
            self.sync_request,
            self.heartbeat_request,
            self.offset_fetch_request,
            self.commit_request.as_ref().map(|(id, _)| *id),
        ]
        .contains(&Some(request_id))
    }
}

impl Simulation {
    /// The member's next protocol step, if one is due: find the coordinator, then join.
    /// Returns whether it may fetch (it has a coordinator-independent assignment to read).
    pub(crate) fn member_progress(&mut self, index: u32) {
        // Without consumer groups in the build nothing reaches here at run time; the early
        // return lets the compiler leave the protocol out of the page's download.
        if !cfg!(feature = "groups") {
            return;
        }
        let c = &self.consumers[index as usize];
        let Some(m) = &c.membership else {
            return;
        };
        if m.find_request.is_some() || m.join_request.is_some() || m.sync_request.is_some() {
            return;
        }
        let Some(coordinator) = m.coordinator else {
            self.member_find_coordinator(index);
            return;
        };
        if m.state == MemberState::Unjoined {
            self.member_join(index, coordinator);
        } else if m.state == MemberState::Stable && !m.heartbeat_armed {
            self.member_arm_heartbeat(index);
        }
        let m = self.consumers[index as usize].membership.as_ref();
        if let Some(m) = m {
            let missing: Vec<u32> = m
                .assigned
                .iter()
                .filter(|p| !m.committed.contains_key(p))
                .copied()
                .collect();
            if m.state == MemberState::Stable
                && !missing.is_empty()
                && m.offset_fetch_request.is_none()
            {
                self.member_fetch_offsets(index, coordinator, missing);
            }
        }
    }

    fn member_send(
        &mut self,
        index: u32,
        to: BrokerId,
        payload: impl FnOnce(u64) -> Payload,
    ) -> u64 {
        let request_id = self.request_id();
        let timeout = self.consumers[index as usize]
            .spec
            .config
            .request_timeout_ms;
        self.send(
            NodeId::Consumer(index),
            NodeId::Broker(to),
            payload(request_id),
        );
        self.schedule_in_ms(
            timeout,
            Timer::ConsumerRequestTimeout {
                consumer: index,
                request_id,
            },
        );
        request_id
    }

    fn member_find_coordinator(&mut self, index: u32) {
        let c = &mut self.consumers[index as usize];
        let target = self.brokers[(c.bootstrap_cursor % self.brokers.len() as u64) as usize].id;
        c.bootstrap_cursor += 1;
        let group = c.spec.group.clone();
        let id = self.member_send(index, target, |request_id| Payload::FindCoordinator {
            request_id,
            group,
        });
        if let Some(m) = self.consumers[index as usize].membership.as_mut() {
            m.find_request = Some(id);
        }
    }

    /// Kafka's `onJoinPrepare` then JoinGroup. Every member commits its positions first if
    /// auto-commit is on; an eager one then gives up every partition, a cooperative one keeps
    /// them and names them.
    fn member_join(&mut self, index: u32, coordinator: BrokerId) {
        let eager = self.member_protocol(index) == RebalanceProtocol::Eager;
        if !self.member_assigned(index).is_empty() {
            self.member_commit(index, true);
        }
        if eager && !self.member_assigned(index).is_empty() {
            // Revoked at once, so that no record fetched after the commit reaches the
            // application (Kafka marks the partitions pending revocation for this). A
            // cooperative member reads on; what it reads of a partition it then loses is
            // uncommitted, as in Kafka, which commits nothing when it revokes after SyncGroup.
            let revoked = self.member_assigned(index);
            self.member_revoke(index, &revoked);
        }
        let c = &self.consumers[index as usize];
        let Some(m) = &c.membership else {
            return;
        };
        // `onJoinPrepare` waits for its commit's answer before the member joins: the new owners
        // of its partitions fetch their committed offsets once the rebalance is over, and must
        // find this commit there, not an older one. The answer calls this again.
        if m.commit_request.is_some() {
            return;
        }
        let topic = c.spec.topic.clone();
        let owned: Vec<TopicPartition> = m
            .assigned
            .iter()
            .map(|&p| TopicPartition::new(topic.as_str(), p))
            .collect();
        let protocols = c
            .spec
            .config
            .partition_assignment_strategy
            .iter()
            .map(|a| {
                let mut subscription =
                    MemberSubscription::new(m.member_id.clone(), [topic.clone()]);
                subscription.group_instance_id = c.spec.config.group_instance_id.clone();
                subscription.owned_partitions = owned.clone();
                subscription.generation = (m.generation_id >= 0).then_some(m.generation_id);
                JoinProtocol {
                    name: a.name().to_string(),
                    subscription,
                }
            })
            .collect();
        let join = JoinRequest {
            member_id: m.member_id.clone(),
            group_instance_id: c.spec.config.group_instance_id.clone(),
            client_id: c.spec.client_id.clone(),
            session_timeout_ms: c.spec.config.session_timeout_ms,
            rebalance_timeout_ms: c.spec.config.max_poll_interval_ms,
            protocols,
        };
        let group = c.spec.group.clone();
        // The join may wait for the whole rebalance timeout at the coordinator, so its timeout
        // is that plus the request timeout, as Kafka's consumer sets it.
        let timeout = c.spec.config.request_timeout_ms + c.spec.config.max_poll_interval_ms;
        let request_id = self.request_id();
        self.send(
            NodeId::Consumer(index),
            NodeId::Broker(coordinator),
            Payload::JoinGroup {
                request_id,
                group,
                join: Box::new(join),
            },
        );
        self.schedule_in_ms(
            timeout,
            Timer::ConsumerRequestTimeout {
                consumer: index,
                request_id,
            },
        );
        if let Some(m) = self.consumers[index as usize].membership.as_mut() {
            m.join_request = Some(request_id);
            m.state = MemberState::PreparingRebalance;
        }
    }

    fn member_protocol(&self, index: u32) -> RebalanceProtocol {
        rebalance_protocol(
            &self.consumers[index as usize]
                .spec
                .config
                .partition_assignment_strategy,
        )
        .unwrap_or(RebalanceProtocol::Eager)
    }

    fn member_assigned(&self, index: u32) -> Vec<u32> {
        self.consumers[index as usize]
            .membership
            .as_ref()
            .map(|m| m.assigned.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Gives up partitions: their positions and fetched committed offsets are forgotten, and
    /// records still arriving for them are dropped.
    fn member_revoke(&mut self, index: u32, partitions: &[u32]) {
        if partitions.is_empty() {
            return;
        }
        let c = &mut self.consumers[index as usize];
        for p in partitions {
            c.positions.remove(p);
            c.position_epochs.remove(p);
            c.leader_epochs.remove(p);
            c.list_offsets.remove(p);
            c.validations.remove(p);
            c.out_of_range.remove(p);
        }
        if let Some(m) = c.membership.as_mut() {
            for p in partitions {
                m.assigned.remove(p);
                m.committed.remove(p);
            }
        }
        self.history.record_rebalance(index);
    }

    /// Commits the positions of the owned partitions to the coordinator (auto-commit, or the
    /// commit before a rebalance when `before_rebalance`).
    pub(crate) fn member_commit(&mut self, index: u32, before_rebalance: bool) {
        // Without consumer groups in the build nothing reaches here at run time; the early
        // return lets the compiler leave the protocol out of the page's download.
        if !cfg!(feature = "groups") {
            return;
        }
        let c = &self.consumers[index as usize];
        if !c.spec.config.enable_auto_commit {
            return;
        }
        let Some(m) = &c.membership else {
            return;
        };
        let Some(coordinator) = m.coordinator else {
            return;
        };
        if m.commit_request.is_some() && !before_rebalance {
            return;
        }
        let offsets: Vec<(TopicPartition, u64)> = m
            .assigned
            .iter()
            .filter_map(|p| c.positions.get(p).map(|&o| (p, o)))
            .filter(|(p, o)| m.committed.get(p) != Some(&Some(*o)))
            .map(|(p, o)| (TopicPartition::new(c.spec.topic.as_str(), *p), o))
            .collect();
        if offsets.is_empty() {
            return;
        }
        let group = c.spec.group.clone();
        let member_id = m.member_id.clone();
        let generation_id = m.generation_id;
        let sent = offsets.clone();
        let id = self.member_send(index, coordinator, |request_id| Payload::OffsetCommit {
            request_id,
            group,
            member_id,
            generation_id,
            offsets: sent,
        });
        if let Some(m) = self.consumers[index as usize].membership.as_mut() {
            m.commit_request = Some((id, offsets));
        }
    }

    fn member_fetch_offsets(&mut self, index: u32, coordinator: BrokerId, partitions: Vec<u32>) {
        let c = &self.consumers[index as usize];
        let group = c.spec.group.clone();
        let tps = partitions
            .iter()
            .map(|&p| TopicPartition::new(c.spec.topic.as_str(), p))
            .collect();
        let id = self.member_send(index, coordinator, |request_id| Payload::OffsetFetch {
            request_id,
            group,
            partitions: tps,
        });
        if let Some(m) = self.consumers[index as usize].membership.as_mut() {
            m.offset_fetch_request = Some(id);
        }
    }

    fn member_arm_heartbeat(&mut self, index: u32) {
        let c = &mut self.consumers[index as usize];
        let interval = c.spec.config.heartbeat_interval_ms;
        let incarnation = c.incarnation;
        if let Some(m) = c.membership.as_mut() {
            m.heartbeat_armed = true;
        }
        self.schedule_in_ms(
            interval,
            Timer::ConsumerHeartbeat {
                consumer: index,
                incarnation,
            },
        );
    }

    /// The heartbeat thread's tick: a stable member heartbeats to its coordinator.
    pub(crate) fn member_heartbeat(&mut self, index: u32) {
        // Without consumer groups in the build nothing reaches here at run time; the early
        // return lets the compiler leave the protocol out of the page's download.
        if !cfg!(feature = "groups") {
            return;
        }
        let c = &mut self.consumers[index as usize];
        let Some(m) = c.membership.as_mut() else {
            return;
        };
        m.heartbeat_armed = false;
        if m.state != MemberState::Stable {
            return;
        }
        // The heartbeat thread's poll check: an application that has not called poll() for
        // max.poll.interval.ms is presumed stuck, and its member leaves the group so that its
        // partitions go to others (KIP-62).
        let since_poll = self.now.as_ms().saturating_sub(c.last_poll.as_ms());
        if since_poll > c.spec.config.max_poll_interval_ms {
            self.member_poll_timeout(index, since_poll);
            return;
        }
        let Some(coordinator) = m.coordinator else {
            return;
        };
        if m.heartbeat_request.is_none() {
            let group = c.spec.group.clone();
            let member_id = m.member_id.clone();
            let generation_id = m.generation_id;
            let id = self.member_send(index, coordinator, |request_id| Payload::Heartbeat {
                request_id,
                group,
                member_id,
                generation_id,
            });
            if let Some(m) = self.consumers[index as usize].membership.as_mut() {
                m.heartbeat_request = Some(id);
            }
        }
        self.member_arm_heartbeat(index);
    }

    /// The coordinator is gone or moved: find it again (Kafka's `markCoordinatorUnknown`).
    fn member_lost_coordinator(&mut self, index: u32) {
        if let Some(m) = self.consumers[index as usize].membership.as_mut() {
            m.coordinator = None;
            m.heartbeat_request = None;
            m.offset_fetch_request = None;
            m.commit_request = None;
            if m.state == MemberState::PreparingRebalance {
                m.state = MemberState::Unjoined;
                m.join_request = None;
                m.sync_request = None;
            }
        }
        self.consumer_wake_later(index);
    }

    /// The member must rejoin: after an error, or (cooperative) after giving partitions up.
    fn member_rejoin(&mut self, index: u32, reset_member_id: bool) {
        if let Some(m) = self.consumers[index as usize].membership.as_mut() {
            m.state = MemberState::Unjoined;
            m.join_request = None;
            m.sync_request = None;
            m.heartbeat_request = None;
            if reset_member_id {
                m.member_id.clear();
                m.generation_id = -1;
            }
        }
        self.consumer_progress(index);
    }

    /// A request of the member failed (timeout or lost connection).
    pub(crate) fn member_request_failed(&mut self, index: u32, request_id: u64) -> bool {
        // Without consumer groups in the build nothing reaches here at run time; the early
        // return lets the compiler leave the protocol out of the page's download.
        if !cfg!(feature = "groups") {
            return false;
        }
        let owned = self.consumers[index as usize]
            .membership
            .as_ref()
            .is_some_and(|m| m.owns_request(request_id));
        if !owned {
            return false;
        }
        let m = self.consumers[index as usize].membership.as_mut();
        if let Some(m) = m {
            if m.find_request == Some(request_id) {
                m.find_request = None;
                self.consumer_wake_later(index);
                return true;
            }
        }
        self.member_lost_coordinator(index);
        true
    }

    /// Handles a group response; returns whether it was one.
    pub(crate) fn member_receive(&mut self, index: u32, payload: &Payload) -> bool {
        // Without consumer groups in the build nothing reaches here at run time; the early
        // return lets the compiler leave the protocol out of the page's download.
        if !cfg!(feature = "groups") {
            return false;
        }
        match payload {
            Payload::FindCoordinatorResponse { request_id, result } => {
                let Some(m) = self.consumers[index as usize].membership.as_mut() else {
                    return true;
                };
                if m.find_request != Some(*request_id) {
                    return true;
                }
                m.find_request = None;
                match result {
                    Ok(broker) => {
                        m.coordinator = Some(*broker);
                        if m.last_coordinator != Some(*broker) {
                            m.last_coordinator = Some(*broker);
                            let c = &self.consumers[index as usize];
                            let consumer = c.spec.client_id.clone();
                            let group = c.spec.group.clone();
                            self.emit(EventKind::CoordinatorFound {
                                consumer,
                                group,
                                broker: *broker,
                            });
                        }
                        self.consumer_progress(index);
                    }
                    Err(_) => self.consumer_wake_later(index),
                }
            }
            Payload::JoinGroupResponse { request_id, result } => {
                let Some(m) = self.consumers[index as usize].membership.as_mut() else {
                    return true;
                };
                if m.join_request != Some(*request_id) {
                    return true;
                }
                m.join_request = None;
                self.member_joined(index, result);
            }
            Payload::SyncGroupResponse { request_id, result } => {
                let Some(m) = self.consumers[index as usize].membership.as_mut() else {
                    return true;
                };
                if m.sync_request != Some(*request_id) {
                    return true;
                }
                m.sync_request = None;
                match result {
                    Ok(partitions) => self.member_synced(index, partitions),
                    Err(error) => self.member_error(index, *error),
                }
            }
            Payload::HeartbeatResponse { request_id, error } => {
                let Some(m) = self.consumers[index as usize].membership.as_mut() else {
                    return true;
                };
                if m.heartbeat_request != Some(*request_id) {
                    return true;
                }
                m.heartbeat_request = None;
                if let Some(error) = error {
                    self.member_error(index, *error);
                }
            }
            Payload::OffsetFetchResponse { request_id, result } => {
                let Some(m) = self.consumers[index as usize].membership.as_mut() else {
                    return true;
                };
                if m.offset_fetch_request != Some(*request_id) {
                    return true;
                }
                m.offset_fetch_request = None;
                match result {
                    Ok(offsets) => {
                        let found: BTreeMap<u32, u64> =
                            offsets.iter().map(|(tp, o)| (tp.partition, *o)).collect();
                        let owned: Vec<u32> = m.assigned.iter().copied().collect();
                        for p in owned {
                            m.committed.entry(p).or_insert(found.get(&p).copied());
                        }
                        self.consumer_progress(index);
                    }
                    Err(error) => self.member_error(index, *error),
                }
            }
            Payload::OffsetCommitResponse { request_id, error } => {
                let c = &mut self.consumers[index as usize];
                let Some(m) = c.membership.as_mut() else {
                    return true;
                };
                let Some((id, offsets)) = m.commit_request.take() else {
                    return true;
                };
                if id != *request_id {
                    m.commit_request = Some((id, offsets));
                    return true;
                }
                match error {
                    None => {
                        for (tp, o) in &offsets {
                            if m.assigned.contains(&tp.partition) {
                                m.committed.insert(tp.partition, Some(*o));
                            }
                        }
                        // A member waiting to join (see `member_join`) may go on now.
                        let waiting = m.state == MemberState::Unjoined;
                        let consumer = c.spec.client_id.clone();
                        let group = c.spec.group.clone();
                        self.emit(EventKind::OffsetsCommitted {
                            consumer,
                            group,
                            offsets,
                        });
                        if waiting {
                            self.consumer_progress(index);
                        }
                    }
                    Some(error) => self.member_error(index, *error),
                }
            }
            Payload::LeaveGroupResponse { .. } => {}
            _ => return false,
        }
        true
    }

    /// Kafka's reaction to a group error: rejoin, start over, or find the coordinator.
    fn member_error(&mut self, index: u32, error: KafkaError) {
        match error {
            KafkaError::NotCoordinator
            | KafkaError::CoordinatorNotAvailable
            | KafkaError::CoordinatorLoadInProgress => self.member_lost_coordinator(index),
            KafkaError::UnknownMemberId | KafkaError::FencedInstanceId => {
                self.member_rejoin(index, true)
            }
            KafkaError::IllegalGeneration => self.member_rejoin(index, true),
            KafkaError::RebalanceInProgress => self.member_rejoin(index, false),
            _ => self.member_rejoin(index, false),
        }
    }

    fn member_joined(&mut self, index: u32, result: &JoinResult) {
        match result {
            Err((KafkaError::MemberIdRequired, member_id)) => {
                if let Some(m) = self.consumers[index as usize].membership.as_mut() {
                    m.member_id = member_id.clone();
                    m.state = MemberState::Unjoined;
                }
                self.consumer_progress(index);
            }
            Err((error, _)) => self.member_error(index, *error),
            Ok(response) => {
                let assignment = if response.members.is_empty() || response.skip_assignment {
                    None
                } else {
                    self.member_assign(index, &response.protocol_name, &response.members)
                };
                let c = &mut self.consumers[index as usize];
                let Some(m) = c.membership.as_mut() else {
                    return;
                };
                m.member_id = response.member_id.clone();
                m.generation_id = response.generation_id;
                m.protocol = Some(response.protocol_name.clone());
                m.leader = response.leader == response.member_id;
                let Some(coordinator) = m.coordinator else {
                    return;
                };
                let group = c.spec.group.clone();
                let member_id = m.member_id.clone();
                let generation_id = m.generation_id;
                let id = self.member_send(index, coordinator, |request_id| Payload::SyncGroup {
                    request_id,
                    group,
                    member_id,
                    generation_id,
                    assignment,
                });
                if let Some(m) = self.consumers[index as usize].membership.as_mut() {
                    m.sync_request = Some(id);
                }
            }
        }
    }

    /// The leader runs the group's assignor over every member's subscription, with partition
    /// counts from its metadata.
    fn member_assign(
        &self,
        index: u32,
        protocol: &str,
        members: &[MemberSubscription],
    ) -> Option<BTreeMap<String, Vec<TopicPartition>>> {
        // Without the assignors no consumer subscribes (`add_consumer` refuses it).
        if !cfg!(feature = "groups") {
            return None;
        }
        let assignor = Assignor::from_name(protocol)?;
        let c = &self.consumers[index as usize];
        let metadata = &c.metadata.as_ref()?.image;
        let topics: BTreeSet<&String> = members.iter().flat_map(|m| m.topics.iter()).collect();
        let partitions_per_topic = topics
            .into_iter()
            .filter_map(|t| {
                let n = metadata.topics.get(t.as_str())?.partitions.len() as u32;
                (n > 0).then(|| (t.clone(), n))
            })
            .collect();
        let subscription = GroupSubscription {
            members: members.to_vec(),
            partitions_per_topic,
            partition_racks: BTreeMap::new(),
            prefer_rack_aware_logic: false,
        };
        assignor.assign(&subscription).ok().map(|a| a.assignment)
    }

    /// The assignment arrived. An eager member owns exactly it; a cooperative one gives up what
    /// it lost and, if it gave up anything, rejoins at once so that those partitions can move.
    fn member_synced(&mut self, index: u32, partitions: &[TopicPartition]) {
        let topic = self.consumers[index as usize].spec.topic.clone();
        let new: BTreeSet<u32> = partitions
            .iter()
            .filter(|tp| *tp.topic == *topic)
            .map(|tp| tp.partition)
            .collect();
        let old: BTreeSet<u32> = self.member_assigned(index).into_iter().collect();
        let revoked: Vec<u32> = old.difference(&new).copied().collect();
        self.member_revoke(index, &revoked);
        let c = &mut self.consumers[index as usize];
        let Some(m) = c.membership.as_mut() else {
            return;
        };
        let added: Vec<u32> = new.difference(&old).copied().collect();
        m.assigned = new;
        m.state = MemberState::Stable;
        m.rebalances += 1;
        let generation_id = m.generation_id;
        let assigned: Vec<TopicPartition> = m
            .assigned
            .iter()
            .map(|&p| TopicPartition::new(topic.as_str(), p))
            .collect();
        let consumer = c.spec.client_id.clone();
        let group = c.spec.group.clone();
        if !added.is_empty() {
            self.history.record_rebalance(index);
        }
        self.emit(EventKind::ConsumerAssigned {
            consumer,
            group,
            generation_id,
            partitions: assigned,
        });
        let cooperative = self.member_protocol(index) == RebalanceProtocol::Cooperative;
        if cooperative && !revoked.is_empty() {
            self.member_rejoin(index, false);
            return;
        }
        self.member_arm_heartbeat(index);
        self.consumer_progress(index);
    }

    /// Kafka's `maybeLeaveGroup("consumer poll timeout has expired")`: a dynamic member sends
    /// LeaveGroup; every member forgets its generation and partitions, and rejoins at its next
    /// poll().
    fn member_poll_timeout(&mut self, index: u32, since_poll: u64) {
        let c = &self.consumers[index as usize];
        let consumer = c.spec.client_id.clone();
        let group = c.spec.group.clone();
        let max_poll_interval_ms = c.spec.config.max_poll_interval_ms;
        self.emit(EventKind::PollTimeout {
            consumer,
            group,
            since_poll_ms: since_poll,
            max_poll_interval_ms,
        });
        self.member_leave(index);
        let revoked = self.member_assigned(index);
        self.member_revoke(index, &revoked);
        if let Some(m) = self.consumers[index as usize].membership.as_mut() {
            m.state = MemberState::Unjoined;
            m.heartbeat_request = None;
            if self.consumers[index as usize]
                .spec
                .config
                .group_instance_id
                .is_none()
            {
                let m = self.consumers[index as usize].membership.as_mut().unwrap();
                m.member_id.clear();
                m.generation_id = -1;
            }
        }
    }

    /// The consumer closes: a dynamic member leaves its group at once (a static one does not,
    /// and only its session timeout removes it).
    pub(crate) fn member_leave(&mut self, index: u32) {
        // Without consumer groups in the build nothing reaches here at run time; the early
        // return lets the compiler leave the protocol out of the page's download.
        if !cfg!(feature = "groups") {
            return;
        }
        let c = &self.consumers[index as usize];
        let Some(m) = &c.membership else {
            return;
        };
        if c.spec.config.group_instance_id.is_some() || m.member_id.is_empty() {
            return;
        }
        let Some(coordinator) = m.coordinator else {
            return;
        };
        let group = c.spec.group.clone();
        let member_id = m.member_id.clone();
        self.member_send(index, coordinator, |request_id| Payload::LeaveGroup {
            request_id,
            group,
            member_id,
        });
    }
}

//! A consumer group as its coordinator keeps it under the classic protocol (`SEMANTICS.md` §4.2):
//! Kafka's `ClassicGroup` with the join, sync, heartbeat and leave handling of
//! `GroupMetadataManager`.
//!
//! This module is the state machine alone, without the network: each request returns the
//! answers it releases and the timers it needs as [`GroupEffect`]s, and the broker that
//! coordinates the group sends and schedules them. Keeping it pure lets the tests drive every
//! transition directly, and lets a new coordinator rebuild a group from the `__consumer_offsets`
//! log after a failover.

use crate::assignor::MemberSubscription;
use crate::metadata::TopicPartition;
use crate::network::NodeId;
use crate::KafkaError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// `group.initial.rebalance.delay.ms`: how long a group that was empty waits for more members
/// before its first rebalance completes.
pub const DEFAULT_INITIAL_REBALANCE_DELAY_MS: u64 = 3_000;
/// `group.min.session.timeout.ms`.
pub const DEFAULT_MIN_SESSION_TIMEOUT_MS: u64 = 6_000;
/// `group.max.session.timeout.ms`.
pub const DEFAULT_MAX_SESSION_TIMEOUT_MS: u64 = 1_800_000;
/// How long a new member may stay parked in a join before it counts as gone (Kafka's
/// `NewMemberJoinTimeoutMs`, 5 minutes), so that a client that vanished mid-join does not hold
/// the rebalance up to the whole rebalance timeout.
pub const NEW_MEMBER_JOIN_TIMEOUT_MS: u64 = 300_000;

/// The states of a classic group (`ClassicGroupState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum GroupState {
    /// No members; committed offsets may remain.
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Joined: waiting for the leader's assignment in SyncGroup.
    CompletingRebalance,
    /// Every member has its assignment.
    Stable,
    /// The group is gone (its offsets partition moved away).
    Dead,
}

impl GroupState {
    /// The name Kafka's tools print (`kafka-consumer-groups.sh --describe --state`).
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

impl fmt::Display for GroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A request waiting for its answer: who sent it and its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Parked {
    /// The client.
    pub client: NodeId,
    /// Its request id.
    pub request_id: u64,
}

/// One assignor a member offers, with its subscription (JoinGroup's protocol list).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinProtocol {
    /// The assignor's name, e.g. `range` or `cooperative-sticky`.
    pub name: String,
    /// What the member subscribes to and owns, for that assignor.
    pub subscription: MemberSubscription,
}

/// A JoinGroup request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    /// Empty for a member joining for the first time.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
    /// `client.id`, the prefix of a new member id.
    pub client_id: String,
    /// `session.timeout.ms`.
    pub session_timeout_ms: u64,
    /// `max.poll.interval.ms`, which the classic protocol uses as the rebalance timeout.
    pub rebalance_timeout_ms: u64,
    /// The assignors the member supports, in its order of preference.
    pub protocols: Vec<JoinProtocol>,
}

/// A successful JoinGroup answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinResponse {
    /// The generation the rebalance completed.
    pub generation_id: i32,
    /// The chosen assignor.
    pub protocol_name: String,
    /// The leader's member id.
    pub leader: String,
    /// The member's own id.
    pub member_id: String,
    /// For the leader only: every member's subscription under the chosen assignor, ordered by
    /// member id.
    pub members: Vec<MemberSubscription>,
    /// Set for a static leader rejoining a stable group: the assignment stands, so it must not
    /// compute a new one (KIP-814).
    pub skip_assignment: bool,
}

/// A JoinGroup answer: the generation joined, or an error with, for `MEMBER_ID_REQUIRED`, the
/// member id to rejoin with (empty otherwise).
pub type JoinResult = Result<JoinResponse, (KafkaError, String)>;

/// What a request or a timer releases.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupEffect {
    /// Answer a JoinGroup. `Err((error, member_id))` carries the id a new member must rejoin
    /// with when the error is `MEMBER_ID_REQUIRED`, and is empty otherwise.
    Join {
        /// The request answered.
        to: Parked,
        /// The answer.
        result: JoinResult,
    },
    /// Answer a SyncGroup with the member's partitions.
    Sync {
        /// The request answered.
        to: Parked,
        /// The answer.
        result: Result<Vec<TopicPartition>, KafkaError>,
    },
    /// Call [`ClassicGroup::complete_join`] at this time, with this `join_epoch`.
    ScheduleJoin {
        /// Milliseconds from now.
        after_ms: u64,
        /// The epoch the completion belongs to; a later rebalance makes it stale.
        join_epoch: u64,
    },
    /// Call [`ClassicGroup::expire_member`] for this member after this long.
    ScheduleExpiry {
        /// The member.
        member_id: String,
        /// Milliseconds from now.
        after_ms: u64,
    },
    /// Call [`ClassicGroup::expire_sync`] after this long, for this generation.
    ScheduleSyncExpiry {
        /// The generation waiting for its SyncGroups.
        generation_id: i32,
        /// Milliseconds from now.
        after_ms: u64,
    },
    /// The group's metadata changed (generation, leader, assignment): write it to
    /// `__consumer_offsets`.
    Persist,
    /// Something a learner should see, for the event log.
    Narrate(GroupChange),
}

/// Why a group changed, for the narration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupChange {
    /// A rebalance began.
    RebalanceStarted {
        /// Why, in words (e.g. "member c-1 joined").
        reason: String,
    },
    /// A join phase completed with a new generation.
    GenerationCompleted {
        /// The new generation.
        generation_id: i32,
        /// The members.
        members: usize,
        /// The chosen assignor, if any member remained.
        protocol: Option<String>,
        /// The leader, if any.
        leader: Option<String>,
    },
    /// The leader's assignment arrived: the group is stable.
    Stabilized {
        /// The generation.
        generation_id: i32,
    },
    /// A member was removed.
    MemberRemoved {
        /// The member.
        member_id: String,
        /// Why, in words.
        reason: String,
    },
}

/// One member of a classic group (`ClassicGroupMember`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    /// Its id.
    pub member_id: String,
    /// `group.instance.id`, for a static member.
    pub group_instance_id: Option<String>,
    /// `client.id`.
    pub client_id: String,
    /// `session.timeout.ms`.
    pub session_timeout_ms: u64,
    /// `max.poll.interval.ms`.
    pub rebalance_timeout_ms: u64,
    /// The assignors it supports, in its order of preference.
    pub protocols: Vec<JoinProtocol>,
    /// Its partitions in the current generation.
    pub assignment: Vec<TopicPartition>,
    /// Its parked JoinGroup, while the group waits for everyone to join.
    pub awaiting_join: Option<Parked>,
    /// Its parked SyncGroup, while the group waits for the leader's assignment.
    pub awaiting_sync: Option<Parked>,
    /// Joined but not yet through a completed join phase.
    pub is_new: bool,
    /// When it last proved alive, in simulated milliseconds.
    pub last_heartbeat_ms: u64,
}

impl GroupMember {
    /// Kafka's `shouldKeepAlive`: whether the member still counts as alive at `now_ms`.
    fn keep_alive(&self, now_ms: u64) -> bool {
        if self.awaiting_join.is_some() {
            // Existing members parked in a join wait for the join phase; a new member only for
            // a while, in case it disconnected.
            return !self.is_new || self.last_heartbeat_ms + NEW_MEMBER_JOIN_TIMEOUT_MS > now_ms;
        }
        if self.awaiting_sync.is_some() {
            return true;
        }
        self.last_heartbeat_ms + self.session_timeout_ms > now_ms
    }

    fn subscription(&self, protocol: &str) -> Option<&MemberSubscription> {
        self.protocols
            .iter()
            .find(|p| p.name == protocol)
            .map(|p| &p.subscription)
    }
}

/// The coordinator's settings for its groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSettings {
    /// `group.initial.rebalance.delay.ms`.
    pub initial_rebalance_delay_ms: u64,
    /// `group.min.session.timeout.ms`.
    pub min_session_timeout_ms: u64,
    /// `group.max.session.timeout.ms`.
    pub max_session_timeout_ms: u64,
}

impl Default for GroupSettings {
    fn default() -> Self {
        GroupSettings {
            initial_rebalance_delay_ms: DEFAULT_INITIAL_REBALANCE_DELAY_MS,
            min_session_timeout_ms: DEFAULT_MIN_SESSION_TIMEOUT_MS,
            max_session_timeout_ms: DEFAULT_MAX_SESSION_TIMEOUT_MS,
        }
    }
}

/// Kafka's `InitialDelayedJoin`: the wait of a join phase that started from an empty group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct InitialDelay {
    /// `group.initial.rebalance.delay.ms`.
    configured_ms: u64,
    /// The length of the wait under way.
    delay_ms: u64,
    /// What remains of the rebalance timeout after it.
    remaining_ms: u64,
}

/// A classic consumer group at its coordinator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassicGroup {
    /// `group.id`.
    pub group_id: String,
    /// Where it is in the protocol.
    pub state: GroupState,
    /// Bumped by every completed join phase; 0 before the first.
    pub generation_id: i32,
    /// The assignor of the current generation.
    pub protocol_name: Option<String>,
    /// The leader's member id.
    pub leader_id: Option<String>,
    /// The members, by id.
    pub members: BTreeMap<String, GroupMember>,
    /// Member ids handed out with MEMBER_ID_REQUIRED and not yet used to join (KIP-394).
    pub pending_members: BTreeSet<String>,
    /// Static members: `group.instance.id` → member id.
    pub static_members: BTreeMap<String, String>,
    /// Members that have a join response of the current generation but have not synced.
    pub pending_sync: BTreeSet<String>,
    /// Whether a member joined during the current initial delay (which then extends it).
    new_member_added: bool,
    /// The initial delay under way, if the current join phase started from an empty group.
    initial_delay: Option<InitialDelay>,
    /// Counts join phases, so that a stale completion timer is ignored.
    join_epoch: u64,
    /// The order members were added in: the first is the leader, and a leader that leaves or
    /// does not rejoin hands over to the next in this order.
    join_order: Vec<String>,
}

impl ClassicGroup {
    /// A new, empty group.
    pub fn new(group_id: impl Into<String>) -> ClassicGroup {
        ClassicGroup {
            group_id: group_id.into(),
            state: GroupState::Empty,
            generation_id: 0,
            protocol_name: None,
            leader_id: None,
            members: BTreeMap::new(),
            pending_members: BTreeSet::new(),
            static_members: BTreeMap::new(),
            pending_sync: BTreeSet::new(),
            new_member_added: false,
            initial_delay: None,
            join_epoch: 0,
            join_order: Vec::new(),
        }
    }

    /// The rebalance timeout: the largest of the members'.
    pub fn rebalance_timeout_ms(&self) -> u64 {
        self.members
            .values()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0)
    }

    /// Handles a JoinGroup received at `now_ms`. `new_member_id` gives the id a new member gets
    /// (`client.id` or `group.instance.id`, a dash and a UUID); it is called only when needed.
    pub fn join(
        &mut self,
        from: Parked,
        request: JoinRequest,
        now_ms: u64,
        settings: &GroupSettings,
        new_member_id: &mut dyn FnMut(&str) -> String,
    ) -> Vec<GroupEffect> {
        let mut effects = Vec::new();
        let fail = |error: KafkaError| GroupEffect::Join {
            to: from,
            result: Err((error, String::new())),
        };
        if self.state == GroupState::Dead {
            return vec![fail(KafkaError::CoordinatorNotAvailable)];
        }
        if request.session_timeout_ms < settings.min_session_timeout_ms
            || request.session_timeout_ms > settings.max_session_timeout_ms
        {
            return vec![fail(KafkaError::InvalidSessionTimeout)];
        }
        if request.protocols.is_empty() || !self.supports(&request.protocols) {
            return vec![fail(KafkaError::InconsistentGroupProtocol)];
        }
        if request.member_id.is_empty() {
            self.join_unknown(from, request, now_ms, settings, new_member_id, &mut effects);
        } else {
            self.join_known(from, request, now_ms, settings, &mut effects);
        }
        effects
    }

    /// Whether a member offering `protocols` shares at least one with every current member.
    fn supports(&self, protocols: &[JoinProtocol]) -> bool {
        if self.members.is_empty() {
            return true;
        }
        protocols.iter().any(|p| {
            self.members
                .values()
                .all(|m| m.subscription(&p.name).is_some())
        })
    }

    fn join_unknown(
        &mut self,
        from: Parked,
        request: JoinRequest,
        now_ms: u64,
        settings: &GroupSettings,
        new_member_id: &mut dyn FnMut(&str) -> String,
        effects: &mut Vec<GroupEffect>,
    ) {
        if let Some(instance) = request.group_instance_id.clone() {
            let member_id = new_member_id(&instance);
            match self.static_members.get(&instance).cloned() {
                Some(old_id) if self.members.contains_key(&old_id) => {
                    self.replace_static_member(
                        from, &old_id, member_id, request, now_ms, settings, effects,
                    );
                }
                _ => {
                    // An unknown static member joins straight away: its instance id already
                    // identifies it, so no MEMBER_ID_REQUIRED round trip.
                    self.static_members.insert(instance, member_id.clone());
                    self.add_member_and_rebalance(
                        from, member_id, request, now_ms, settings, effects,
                    );
                }
            }
            return;
        }
        // KIP-394: a dynamic member first gets its id, and becomes a member only when it joins
        // with it, so that a client retrying a lost join response does not leave ghosts behind.
        let member_id = new_member_id(&request.client_id);
        self.pending_members.insert(member_id.clone());
        effects.push(GroupEffect::ScheduleExpiry {
            member_id: member_id.clone(),
            after_ms: request.session_timeout_ms,
        });
        effects.push(GroupEffect::Join {
            to: from,
            result: Err((KafkaError::MemberIdRequired, member_id)),
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn replace_static_member(
        &mut self,
        from: Parked,
        old_id: &str,
        member_id: String,
        request: JoinRequest,
        now_ms: u64,
        settings: &GroupSettings,
        effects: &mut Vec<GroupEffect>,
    ) {
        let Some(mut member) = self.members.remove(old_id) else {
            return;
        };
        // The old incarnation's parked requests are fenced.
        if let Some(parked) = member.awaiting_join.take() {
            effects.push(GroupEffect::Join {
                to: parked,
                result: Err((KafkaError::FencedInstanceId, String::new())),
            });
        }
        if let Some(parked) = member.awaiting_sync.take() {
            effects.push(GroupEffect::Sync {
                to: parked,
                result: Err(KafkaError::FencedInstanceId),
            });
        }
        let metadata_changed = member.protocols != request.protocols;
        member.member_id = member_id.clone();
        member.client_id = request.client_id.clone();
        member.session_timeout_ms = request.session_timeout_ms;
        member.rebalance_timeout_ms = request.rebalance_timeout_ms;
        member.protocols = request.protocols.clone();
        member.last_heartbeat_ms = now_ms;
        for id in &mut self.join_order {
            if id == old_id {
                *id = member_id.clone();
            }
        }
        if self.leader_id.as_deref() == Some(old_id) {
            self.leader_id = Some(member_id.clone());
        }
        self.pending_sync.remove(old_id);
        if let Some(instance) = &request.group_instance_id {
            self.static_members
                .insert(instance.clone(), member_id.clone());
        }
        self.members.insert(member_id.clone(), member);
        effects.push(GroupEffect::ScheduleExpiry {
            member_id: member_id.clone(),
            after_ms: request.session_timeout_ms,
        });
        match self.state {
            GroupState::Stable if !metadata_changed => {
                // KIP-345: a static member coming back with the same subscription keeps its
                // assignment, and the group does not rebalance.
                let is_leader = self.leader_id.as_deref() == Some(member_id.as_str());
                effects.push(GroupEffect::Persist);
                effects.push(GroupEffect::Join {
                    to: from,
                    result: Ok(JoinResponse {
                        generation_id: self.generation_id,
                        protocol_name: self.protocol_name.clone().unwrap_or_default(),
                        leader: self.leader_id.clone().unwrap_or_default(),
                        member_id,
                        members: if is_leader {
                            self.member_subscriptions()
                        } else {
                            Vec::new()
                        },
                        skip_assignment: is_leader,
                    }),
                });
            }
            GroupState::PreparingRebalance => {
                if let Some(m) = self.members.get_mut(&member_id) {
                    m.awaiting_join = Some(from);
                }
                self.maybe_complete_join_now(effects);
            }
            _ => {
                if let Some(m) = self.members.get_mut(&member_id) {
                    m.awaiting_join = Some(from);
                }
                self.prepare_rebalance(
                    format!("static member {member_id} rejoined with a changed subscription"),
                    settings,
                    effects,
                );
            }
        }
    }

    fn join_known(
        &mut self,
        from: Parked,
        request: JoinRequest,
        now_ms: u64,
        settings: &GroupSettings,
        effects: &mut Vec<GroupEffect>,
    ) {
        let member_id = request.member_id.clone();
        if self.pending_members.remove(&member_id) {
            self.add_member_and_rebalance(from, member_id, request, now_ms, settings, effects);
            return;
        }
        if let Some(instance) = &request.group_instance_id {
            if self.static_members.get(instance) != Some(&member_id) {
                effects.push(GroupEffect::Join {
                    to: from,
                    result: Err((KafkaError::FencedInstanceId, String::new())),
                });
                return;
            }
        }
        let Some(member) = self.members.get_mut(&member_id) else {
            effects.push(GroupEffect::Join {
                to: from,
                result: Err((KafkaError::UnknownMemberId, String::new())),
            });
            return;
        };
        member.last_heartbeat_ms = now_ms;
        let changed = member.protocols != request.protocols;
        match self.state {
            GroupState::Empty | GroupState::Dead => effects.push(GroupEffect::Join {
                to: from,
                result: Err((KafkaError::UnknownMemberId, String::new())),
            }),
            GroupState::PreparingRebalance => {
                member.protocols = request.protocols;
                member.session_timeout_ms = request.session_timeout_ms;
                member.rebalance_timeout_ms = request.rebalance_timeout_ms;
                member.awaiting_join = Some(from);
                self.maybe_complete_join_now(effects);
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                let is_leader = self.leader_id.as_deref() == Some(member_id.as_str());
                if !changed && (self.state == GroupState::CompletingRebalance || !is_leader) {
                    // A follower that did not change anything gets the current generation again
                    // (it probably missed the answer); no rebalance.
                    effects.push(GroupEffect::Join {
                        to: from,
                        result: Ok(self.join_response(&member_id)),
                    });
                    return;
                }
                member.protocols = request.protocols;
                member.awaiting_join = Some(from);
                let reason = if changed {
                    format!("member {member_id} rejoined with a changed subscription")
                } else {
                    format!("the leader {member_id} rejoined")
                };
                self.prepare_rebalance(reason, settings, effects);
            }
        }
    }

    fn add_member_and_rebalance(
        &mut self,
        from: Parked,
        member_id: String,
        request: JoinRequest,
        now_ms: u64,
        settings: &GroupSettings,
        effects: &mut Vec<GroupEffect>,
    ) {
        let member = GroupMember {
            member_id: member_id.clone(),
            group_instance_id: request.group_instance_id.clone(),
            client_id: request.client_id.clone(),
            session_timeout_ms: request.session_timeout_ms,
            rebalance_timeout_ms: request.rebalance_timeout_ms,
            protocols: request.protocols,
            assignment: Vec::new(),
            awaiting_join: Some(from),
            awaiting_sync: None,
            is_new: true,
            last_heartbeat_ms: now_ms,
        };
        if self.leader_id.is_none() {
            self.leader_id = Some(member_id.clone());
        }
        self.join_order.push(member_id.clone());
        self.members.insert(member_id.clone(), member);
        self.new_member_added = true;
        effects.push(GroupEffect::ScheduleExpiry {
            member_id: member_id.clone(),
            after_ms: request.session_timeout_ms,
        });
        if self.state == GroupState::PreparingRebalance {
            self.maybe_complete_join_now(effects);
        } else {
            self.prepare_rebalance(format!("member {member_id} joined"), settings, effects);
        }
    }

    /// Kafka's `prepareRebalance`: answers parked syncs with REBALANCE_IN_PROGRESS and starts a
    /// join phase, delayed by `group.initial.rebalance.delay.ms` if the group was empty.
    fn prepare_rebalance(
        &mut self,
        reason: String,
        settings: &GroupSettings,
        effects: &mut Vec<GroupEffect>,
    ) {
        if self.state == GroupState::CompletingRebalance {
            for member in self.members.values_mut() {
                if let Some(parked) = member.awaiting_sync.take() {
                    effects.push(GroupEffect::Sync {
                        to: parked,
                        result: Err(KafkaError::RebalanceInProgress),
                    });
                }
            }
        }
        self.pending_sync.clear();
        let was_empty = self.state == GroupState::Empty;
        self.state = GroupState::PreparingRebalance;
        self.join_epoch += 1;
        effects.push(GroupEffect::Narrate(GroupChange::RebalanceStarted {
            reason,
        }));
        let timeout = self.rebalance_timeout_ms();
        if was_empty {
            let delay = settings.initial_rebalance_delay_ms.min(timeout);
            self.new_member_added = false;
            self.initial_delay = Some(InitialDelay {
                configured_ms: settings.initial_rebalance_delay_ms,
                delay_ms: delay,
                remaining_ms: timeout.saturating_sub(delay),
            });
            effects.push(GroupEffect::ScheduleJoin {
                after_ms: delay,
                join_epoch: self.join_epoch,
            });
        } else {
            self.initial_delay = None;
            effects.push(GroupEffect::ScheduleJoin {
                after_ms: timeout,
                join_epoch: self.join_epoch,
            });
        }
    }

    /// Completes the join phase early when every member has rejoined, except during an initial
    /// delay, which always runs its course.
    fn maybe_complete_join_now(&mut self, effects: &mut Vec<GroupEffect>) {
        if self.state != GroupState::PreparingRebalance || self.initial_delay.is_some() {
            return;
        }
        if self.pending_members.is_empty()
            && self.members.values().all(|m| m.awaiting_join.is_some())
        {
            self.finish_join(effects);
        }
    }

    /// The join-completion timer of `join_epoch` fired: the initial delay ended or the
    /// rebalance timeout passed.
    pub fn complete_join(&mut self, join_epoch: u64) -> Vec<GroupEffect> {
        let mut effects = Vec::new();
        if join_epoch != self.join_epoch || self.state != GroupState::PreparingRebalance {
            return effects;
        }
        if let Some(wait) = self.initial_delay {
            // Kafka's InitialDelayedJoin: while members keep arriving, wait again, each time at
            // most the configured delay and in total at most the rebalance timeout.
            if self.new_member_added && wait.remaining_ms > 0 {
                let delay = wait.configured_ms.min(wait.remaining_ms);
                self.new_member_added = false;
                self.initial_delay = Some(InitialDelay {
                    configured_ms: wait.configured_ms,
                    delay_ms: delay,
                    remaining_ms: wait.remaining_ms.saturating_sub(wait.delay_ms),
                });
                effects.push(GroupEffect::ScheduleJoin {
                    after_ms: delay,
                    join_epoch,
                });
                return effects;
            }
            self.initial_delay = None;
        }
        self.finish_join(&mut effects);
        effects
    }

    /// Kafka's `completeClassicGroupJoin`: drops dynamic members that did not rejoin, starts the
    /// next generation and answers every parked join (the leader's with the subscriptions).
    fn finish_join(&mut self, effects: &mut Vec<GroupEffect>) {
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none() && m.group_instance_id.is_none())
            .map(|m| m.member_id.clone())
            .collect();
        for member_id in gone {
            self.remove_member(&member_id);
            effects.push(GroupEffect::Narrate(GroupChange::MemberRemoved {
                member_id,
                reason: "it did not rejoin within the rebalance timeout".to_string(),
            }));
        }
        self.pending_members.clear();
        // A leader that did not rejoin hands over to the first member that did.
        let leader_joined = self
            .leader_id
            .as_ref()
            .and_then(|l| self.members.get(l))
            .is_some_and(|m| m.awaiting_join.is_some());
        if !leader_joined {
            self.leader_id = self
                .join_order
                .iter()
                .find(|id| {
                    self.members
                        .get(*id)
                        .is_some_and(|m| m.awaiting_join.is_some())
                })
                .cloned();
        }
        if !self.members.is_empty() && self.leader_id.is_none() {
            // Only static members that have not rejoined remain: wait for them again.
            return;
        }
        self.generation_id += 1;
        self.join_epoch += 1;
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.protocol_name = None;
            self.leader_id = None;
        } else {
            self.state = GroupState::CompletingRebalance;
            self.protocol_name = self.select_protocol();
        }
        effects.push(GroupEffect::Narrate(GroupChange::GenerationCompleted {
            generation_id: self.generation_id,
            members: self.members.len(),
            protocol: self.protocol_name.clone(),
            leader: self.leader_id.clone(),
        }));
        effects.push(GroupEffect::Persist);
        if self.members.is_empty() {
            return;
        }
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for member_id in ids {
            let response = self.join_response(&member_id);
            let Some(member) = self.members.get_mut(&member_id) else {
                continue;
            };
            member.is_new = false;
            if let Some(parked) = member.awaiting_join.take() {
                effects.push(GroupEffect::Join {
                    to: parked,
                    result: Ok(response),
                });
            }
            self.pending_sync.insert(member_id.clone());
            effects.push(GroupEffect::ScheduleExpiry {
                after_ms: member.session_timeout_ms,
                member_id,
            });
        }
        effects.push(GroupEffect::ScheduleSyncExpiry {
            generation_id: self.generation_id,
            after_ms: self.rebalance_timeout_ms(),
        });
    }

    /// Kafka's `selectProtocol`: among the assignors every member supports, each member votes
    /// for its first choice; the most votes win, ties going to the name that sorts first.
    fn select_protocol(&self) -> Option<String> {
        let candidates: BTreeSet<&str> = self
            .members
            .values()
            .next()?
            .protocols
            .iter()
            .map(|p| p.name.as_str())
            .filter(|name| {
                self.members
                    .values()
                    .all(|m| m.subscription(name).is_some())
            })
            .collect();
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for member in self.members.values() {
            if let Some(choice) = member
                .protocols
                .iter()
                .find(|p| candidates.contains(p.name.as_str()))
            {
                *votes.entry(choice.name.as_str()).or_default() += 1;
            }
        }
        let most = votes.values().copied().max()?;
        votes
            .into_iter()
            .find(|&(_, n)| n == most)
            .map(|(name, _)| name.to_string())
    }

    fn member_subscriptions(&self) -> Vec<MemberSubscription> {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        self.members
            .values()
            .filter_map(|m| {
                let mut s = m.subscription(&protocol)?.clone();
                s.member_id = m.member_id.clone();
                s.group_instance_id = m.group_instance_id.clone();
                Some(s)
            })
            .collect()
    }

    fn join_response(&self, member_id: &str) -> JoinResponse {
        let is_leader = self.leader_id.as_deref() == Some(member_id);
        JoinResponse {
            generation_id: self.generation_id,
            protocol_name: self.protocol_name.clone().unwrap_or_default(),
            leader: self.leader_id.clone().unwrap_or_default(),
            member_id: member_id.to_string(),
            members: if is_leader {
                self.member_subscriptions()
            } else {
                Vec::new()
            },
            skip_assignment: false,
        }
    }

    /// Handles a SyncGroup. The leader's carries the assignment of every member.
    pub fn sync(
        &mut self,
        from: Parked,
        member_id: &str,
        generation_id: i32,
        assignment: Option<BTreeMap<String, Vec<TopicPartition>>>,
        now_ms: u64,
    ) -> Vec<GroupEffect> {
        let mut effects = Vec::new();
        let reply = |result| GroupEffect::Sync { to: from, result };
        if self.state == GroupState::Dead {
            return vec![reply(Err(KafkaError::CoordinatorNotAvailable))];
        }
        let Some(member) = self.members.get_mut(member_id) else {
            return vec![reply(Err(KafkaError::UnknownMemberId))];
        };
        if generation_id != self.generation_id {
            return vec![reply(Err(KafkaError::IllegalGeneration))];
        }
        member.last_heartbeat_ms = now_ms;
        self.pending_sync.remove(member_id);
        match self.state {
            GroupState::Empty | GroupState::Dead => {
                effects.push(reply(Err(KafkaError::UnknownMemberId)));
            }
            GroupState::PreparingRebalance => {
                effects.push(reply(Err(KafkaError::RebalanceInProgress)));
            }
            GroupState::Stable => {
                effects.push(reply(Ok(member.assignment.clone())));
            }
            GroupState::CompletingRebalance => {
                member.awaiting_sync = Some(from);
                let is_leader = self.leader_id.as_deref() == Some(member_id);
                if let (true, Some(assignment)) = (is_leader, assignment) {
                    for (id, m) in &mut self.members {
                        m.assignment = assignment.get(id).cloned().unwrap_or_default();
                    }
                    self.state = GroupState::Stable;
                    self.pending_sync.clear();
                    effects.push(GroupEffect::Persist);
                    effects.push(GroupEffect::Narrate(GroupChange::Stabilized {
                        generation_id: self.generation_id,
                    }));
                    for m in self.members.values_mut() {
                        if let Some(parked) = m.awaiting_sync.take() {
                            effects.push(GroupEffect::Sync {
                                to: parked,
                                result: Ok(m.assignment.clone()),
                            });
                        }
                    }
                }
            }
        }
        effects
    }

    /// The sync deadline of `generation_id` passed: members that never synced are removed, and
    /// the group rebalances without them.
    pub fn expire_sync(
        &mut self,
        generation_id: i32,
        settings: &GroupSettings,
    ) -> Vec<GroupEffect> {
        let mut effects = Vec::new();
        if generation_id != self.generation_id
            || !matches!(
                self.state,
                GroupState::CompletingRebalance | GroupState::Stable
            )
            || self.pending_sync.is_empty()
        {
            return effects;
        }
        let late: Vec<String> = std::mem::take(&mut self.pending_sync).into_iter().collect();
        for member_id in &late {
            self.remove_member(member_id);
            effects.push(GroupEffect::Narrate(GroupChange::MemberRemoved {
                member_id: member_id.clone(),
                reason: "it did not send SyncGroup within the rebalance timeout".to_string(),
            }));
        }
        self.after_removal(late.join(", "), settings, &mut effects);
        effects
    }

    /// Handles a Heartbeat at `now_ms`.
    pub fn heartbeat(
        &mut self,
        member_id: &str,
        generation_id: i32,
        now_ms: u64,
    ) -> Result<(), KafkaError> {
        if self.state == GroupState::Dead {
            return Err(KafkaError::CoordinatorNotAvailable);
        }
        if self.state == GroupState::Empty {
            return Err(KafkaError::UnknownMemberId);
        }
        let Some(member) = self.members.get_mut(member_id) else {
            return Err(KafkaError::UnknownMemberId);
        };
        if generation_id != self.generation_id {
            return Err(KafkaError::IllegalGeneration);
        }
        member.last_heartbeat_ms = now_ms;
        if self.state == GroupState::PreparingRebalance {
            return Err(KafkaError::RebalanceInProgress);
        }
        Ok(())
    }

    /// The session timer of `member_id` fired at `now_ms`: if it has not proved alive since, it
    /// is removed (or, for a pending member id, forgotten). Returns the effects and, when the
    /// member is still alive, when to check again.
    pub fn expire_member(
        &mut self,
        member_id: &str,
        now_ms: u64,
        settings: &GroupSettings,
    ) -> Vec<GroupEffect> {
        let mut effects = Vec::new();
        if self.pending_members.remove(member_id) {
            // A new member that never came back with its id.
            self.maybe_complete_join_now(&mut effects);
            return effects;
        }
        let Some(member) = self.members.get(member_id) else {
            return effects;
        };
        if member.keep_alive(now_ms) {
            let next = if member.awaiting_join.is_some() || member.awaiting_sync.is_some() {
                member.session_timeout_ms
            } else {
                member.last_heartbeat_ms + member.session_timeout_ms - now_ms
            };
            effects.push(GroupEffect::ScheduleExpiry {
                member_id: member_id.to_string(),
                after_ms: next.max(1),
            });
            return effects;
        }
        let mut member = self.remove_member(member_id);
        if let Some(parked) = member.as_mut().and_then(|m| m.awaiting_join.take()) {
            effects.push(GroupEffect::Join {
                to: parked,
                result: Err((KafkaError::UnknownMemberId, String::new())),
            });
        }
        effects.push(GroupEffect::Narrate(GroupChange::MemberRemoved {
            member_id: member_id.to_string(),
            reason: "no heartbeat within session.timeout.ms".to_string(),
        }));
        self.after_removal(member_id.to_string(), settings, &mut effects);
        effects
    }

    /// Handles a LeaveGroup.
    pub fn leave(
        &mut self,
        member_id: &str,
        settings: &GroupSettings,
    ) -> Result<Vec<GroupEffect>, KafkaError> {
        if self.state == GroupState::Dead {
            return Err(KafkaError::CoordinatorNotAvailable);
        }
        let mut effects = Vec::new();
        if self.pending_members.remove(member_id) {
            self.maybe_complete_join_now(&mut effects);
            return Ok(effects);
        }
        let Some(mut member) = self.remove_member(member_id) else {
            return Err(KafkaError::UnknownMemberId);
        };
        if let Some(parked) = member.awaiting_join.take() {
            effects.push(GroupEffect::Join {
                to: parked,
                result: Err((KafkaError::UnknownMemberId, String::new())),
            });
        }
        effects.push(GroupEffect::Narrate(GroupChange::MemberRemoved {
            member_id: member_id.to_string(),
            reason: "it left the group (LeaveGroup)".to_string(),
        }));
        self.after_removal(member_id.to_string(), settings, &mut effects);
        Ok(effects)
    }

    /// Kafka's `removeMemberAndUpdateClassicGroup`: a stable or completing group rebalances; a
    /// preparing one may now be complete.
    fn after_removal(
        &mut self,
        who: String,
        settings: &GroupSettings,
        effects: &mut Vec<GroupEffect>,
    ) {
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                if self.members.is_empty() {
                    // Nobody left to rebalance: the next generation is empty.
                    self.state = GroupState::PreparingRebalance;
                    self.join_epoch += 1;
                    self.initial_delay = None;
                    self.finish_join(effects);
                } else {
                    self.prepare_rebalance(format!("member {who} left"), settings, effects);
                }
            }
            GroupState::PreparingRebalance => {
                if self.members.is_empty() && self.initial_delay.is_none() {
                    self.finish_join(effects);
                } else {
                    self.maybe_complete_join_now(effects);
                }
            }
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    fn remove_member(&mut self, member_id: &str) -> Option<GroupMember> {
        let member = self.members.remove(member_id)?;
        self.join_order.retain(|id| id != member_id);
        self.pending_sync.remove(member_id);
        if let Some(instance) = &member.group_instance_id {
            if self.static_members.get(instance).map(String::as_str) == Some(member_id) {
                self.static_members.remove(instance);
            }
        }
        if self.leader_id.as_deref() == Some(member_id) {
            self.leader_id = self.join_order.first().cloned();
        }
        Some(member)
    }

    /// Kafka's `validateOffsetCommit`: whether a commit from `member_id` in `generation_id` is
    /// accepted. A commit with generation −1 and no member id comes from a consumer outside the
    /// group protocol (`assign()`), and is accepted while the group is empty.
    pub fn validate_commit(&self, member_id: &str, generation_id: i32) -> Result<(), KafkaError> {
        match self.state {
            GroupState::Dead => Err(KafkaError::CoordinatorNotAvailable),
            _ if generation_id < 0 && member_id.is_empty() => {
                if self.state == GroupState::Empty {
                    Ok(())
                } else {
                    Err(KafkaError::UnknownMemberId)
                }
            }
            GroupState::Empty => Err(KafkaError::UnknownMemberId),
            _ if !self.members.contains_key(member_id) => Err(KafkaError::UnknownMemberId),
            _ if generation_id != self.generation_id => Err(KafkaError::IllegalGeneration),
            GroupState::CompletingRebalance => Err(KafkaError::RebalanceInProgress),
            _ => Ok(()),
        }
    }
}

/// A group's metadata as written to `__consumer_offsets` (Kafka's `GroupMetadataValue`): what a
/// new coordinator needs to take the group over after a failover.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    /// The generation.
    pub generation_id: i32,
    /// The assignor of the generation.
    pub protocol_name: Option<String>,
    /// The leader.
    pub leader_id: Option<String>,
    /// The members with their assignments, without the state of requests in progress (parked
    /// requests, `is_new`, the time of the last heartbeat), which a record does not keep.
    pub members: Vec<GroupMember>,
}

impl ClassicGroup {
    /// The record that persists this group.
    pub fn record(&self) -> GroupRecord {
        GroupRecord {
            generation_id: self.generation_id,
            protocol_name: self.protocol_name.clone(),
            leader_id: self.leader_id.clone(),
            members: self
                .join_order
                .iter()
                .filter_map(|id| self.members.get(id))
                .map(|m| GroupMember {
                    awaiting_join: None,
                    awaiting_sync: None,
                    is_new: false,
                    last_heartbeat_ms: 0,
                    ..m.clone()
                })
                .collect(),
        }
    }

    /// The group as a new coordinator loads it from its latest record at `now_ms`: stable with
    /// its members if it has any, every member's session starting afresh, as Kafka's loader
    /// schedules each member's heartbeat expiration on load. Returns the timers to set too.
    pub fn from_record(
        group_id: impl Into<String>,
        record: GroupRecord,
        now_ms: u64,
    ) -> (ClassicGroup, Vec<GroupEffect>) {
        let mut group = ClassicGroup::new(group_id);
        let mut effects = Vec::new();
        group.generation_id = record.generation_id;
        group.protocol_name = record.protocol_name;
        group.leader_id = record.leader_id;
        for m in record.members {
            if let Some(instance) = &m.group_instance_id {
                group
                    .static_members
                    .insert(instance.clone(), m.member_id.clone());
            }
            effects.push(GroupEffect::ScheduleExpiry {
                member_id: m.member_id.clone(),
                after_ms: m.session_timeout_ms,
            });
            group.join_order.push(m.member_id.clone());
            group.members.insert(
                m.member_id.clone(),
                GroupMember {
                    last_heartbeat_ms: now_ms,
                    ..m
                },
            );
        }
        group.state = if group.members.is_empty() {
            GroupState::Empty
        } else {
            GroupState::Stable
        };
        (group, effects)
    }

    /// The group is unloaded from a broker that stopped coordinating it: every parked request
    /// is answered NOT_COORDINATOR, so that its member finds the new coordinator.
    pub fn unload(&mut self) -> Vec<GroupEffect> {
        let mut effects = Vec::new();
        for member in self.members.values_mut() {
            if let Some(parked) = member.awaiting_join.take() {
                effects.push(GroupEffect::Join {
                    to: parked,
                    result: Err((KafkaError::NotCoordinator, String::new())),
                });
            }
            if let Some(parked) = member.awaiting_sync.take() {
                effects.push(GroupEffect::Sync {
                    to: parked,
                    result: Err(KafkaError::NotCoordinator),
                });
            }
        }
        self.state = GroupState::Dead;
        effects
    }
}

//! One member of the controller quorum as a pure state machine (Kafka's `KafkaRaftClient` and
//! `QuorumState`, without threads, sockets or clocks).

use super::log::{LogEntry, OffsetAndEpoch, RaftLog, RaftRecord};
use super::message::RaftMessage;
use super::state::{
    CandidateState, ElectionState, FollowerState, LeaderState, ParkedFetch, ReplicaProgress,
    ResignReason, ResignedState, RoleKind, RoleState,
};
use super::{
    NotLeader, Proposal, RaftConfig, RaftOutput, RaftTimer, ReplicaId, TimerKind,
    RETRY_BACKOFF_BASE_MS,
};
use crate::error::{Error, ErrorKind, Result};
use crate::rng::SimRng;
use crate::time::SimTime;
use crate::KafkaError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

/// A timer this node has asked the simulator to fire, by kind. Only the newest timer of a kind
/// is live; one that fires with another id is stale and ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct ArmedTimer {
    kind: TimerKind,
    at: SimTime,
    id: u64,
}

/// How a response was dealt with by the handling common to every response type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Common {
    /// Nothing more to do with it (stale, or it moved this node to a new epoch).
    Handled,
    /// The response is for this node's current epoch; the type's own handling follows.
    Continue,
}

/// One member (voter) of the KRaft controller quorum.
///
/// The node performs no I/O: every method takes the current simulated time and returns what the
/// simulator must do — messages to send, timers to schedule, and events to narrate. Randomness
/// (election timeouts and backoffs) is drawn only from the [`SimRng`] passed in, so a seed
/// reproduces a run. See the [module documentation](super) for the protocol.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RaftNode<R> {
    id: ReplicaId,
    config: RaftConfig,
    running: bool,
    /// Written to disk on every durable transition; survives crashes.
    election: ElectionState,
    /// The flushed part survives crashes.
    log: RaftLog<R>,
    role: RoleState,
    /// The largest high watermark this node has learned since it started; entries below it are
    /// committed. Not persisted: a restarted node learns it again from the leader.
    high_watermark: u64,
    /// At most one per kind. A list rather than a map keyed by kind, because a JSON map
    /// needs string keys and the world must serialize to JSON.
    armed: Vec<ArmedTimer>,
    /// Never reset, not even by a crash, so that a timer or response from before a restart can
    /// never be mistaken for a current one.
    next_timer_id: u64,
    next_request_id: u64,
}

impl<R: Clone + Debug + PartialEq> RaftNode<R> {
    /// A stopped member with an empty log in epoch zero. Call [`RaftNode::start`] to run it.
    ///
    /// Fails when `config` is invalid or `id` is not one of its voters (this quorum has no
    /// observers).
    pub fn new(id: ReplicaId, config: RaftConfig) -> Result<RaftNode<R>> {
        let config = config.validated()?;
        if !config.voters.contains(&id) {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                format!(
                    "Controller {id} is not one of the quorum voters {:?}; only voters are simulated.",
                    config.voters
                ),
            ));
        }
        Ok(RaftNode {
            id,
            config,
            running: false,
            election: ElectionState::default(),
            log: RaftLog::new(),
            role: RoleState::Unattached {
                election_deadline: SimTime::ZERO,
            },
            high_watermark: 0,
            armed: Vec::new(),
            next_timer_id: 1,
            next_request_id: 1,
        })
    }

    // ----- Accessors -----

    /// This member's `node.id`.
    pub fn node_id(&self) -> ReplicaId {
        self.id
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &RaftConfig {
        &self.config
    }

    /// The voter set, in increasing id order.
    pub fn voters(&self) -> &[ReplicaId] {
        &self.config.voters
    }

    /// Whether the process is up (started and not crashed).
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// The current role.
    pub fn role(&self) -> RoleKind {
        self.role.kind()
    }

    /// The current role with its data (votes received, replication progress, deadlines).
    pub fn state(&self) -> &RoleState {
        &self.role
    }

    /// The current epoch.
    pub fn epoch(&self) -> u32 {
        self.election.epoch
    }

    /// The leader of the current epoch, when known. A member that resigned, or restarted after
    /// leading, still names itself: no one else can lead that epoch.
    pub fn leader_id(&self) -> Option<ReplicaId> {
        self.election.leader
    }

    /// The candidate this member voted for in the current epoch (itself if it stood).
    pub fn voted_for(&self) -> Option<ReplicaId> {
        self.election.voted_for
    }

    /// The election state as persisted on disk.
    pub fn election_state(&self) -> &ElectionState {
        &self.election
    }

    /// Entries below this offset are committed (Kafka's high watermark is an end offset).
    pub fn high_watermark(&self) -> u64 {
        self.high_watermark
    }

    /// The offset the next entry will get.
    pub fn log_end_offset(&self) -> u64 {
        self.log.end_offset()
    }

    /// Entries below this offset are on disk.
    pub fn flushed_end_offset(&self) -> u64 {
        self.log.flushed_end_offset()
    }

    /// The epoch of the last log entry, zero when the log is empty.
    pub fn last_epoch(&self) -> u32 {
        self.log.last_epoch()
    }

    /// The metadata log.
    pub fn log(&self) -> &RaftLog<R> {
        &self.log
    }

    /// Every log entry with its offset and epoch, committed or not.
    pub fn entries(&self) -> &[LogEntry<R>] {
        self.log.entries()
    }

    /// The entries below the high watermark.
    pub fn committed_entries(&self) -> &[LogEntry<R>] {
        let end = self.high_watermark.min(self.log.end_offset()) as usize;
        &self.log.entries()[..end]
    }

    fn majority(&self) -> usize {
        self.config.voters.len() / 2 + 1
    }

    fn others(&self) -> Vec<ReplicaId> {
        self.config
            .voters
            .iter()
            .copied()
            .filter(|&v| v != self.id)
            .collect()
    }

    // ----- Lifecycle -----

    /// Starts the process: it resumes from its persisted election state as Kafka's
    /// `QuorumState.initialize` does. A member that led its epoch comes back resigned in it;
    /// one that stood comes back a candidate in the same epoch; one that voted, still voted; one
    /// that followed, a follower; otherwise unattached. A single voter elects itself at once.
    /// Does nothing if it is already running.
    pub fn start(&mut self, now: SimTime, rng: &mut SimRng) -> Vec<RaftOutput<R>> {
        let mut out = Vec::new();
        if self.running {
            return out;
        }
        self.running = true;
        self.high_watermark = 0;
        self.armed.clear();
        let stored = self.election;
        if stored.epoch < self.log.last_epoch() {
            // The log is ahead of the election state (never the case when both are written as
            // here, but Kafka guards against it): trust the log's epoch.
            self.persist(ElectionState {
                epoch: self.log.last_epoch(),
                voted_for: None,
                leader: None,
            });
            let election_deadline = now.plus_ms(self.random_election_timeout(rng));
            self.set_role(RoleState::Unattached { election_deadline }, &mut out);
            self.arm(TimerKind::Election, election_deadline, &mut out);
        } else if stored.leader == Some(self.id) {
            // Resigned rather than leader, so that it cannot write a second entry with an
            // (offset, epoch) it may already have used before losing unflushed data.
            self.become_resigned(now, ResignReason::Restarted, Vec::new(), rng, &mut out);
        } else if let Some(leader) = stored.leader {
            self.enter_follower(now, leader, &mut out);
        } else if stored.voted_for == Some(self.id) {
            self.enter_candidate(now, 1, rng, &mut out);
        } else if let Some(candidate) = stored.voted_for {
            let election_deadline = now.plus_ms(self.random_election_timeout(rng));
            self.set_role(
                RoleState::Voted {
                    candidate,
                    election_deadline,
                },
                &mut out,
            );
            self.arm(TimerKind::Election, election_deadline, &mut out);
        } else {
            let election_deadline = now.plus_ms(self.random_election_timeout(rng));
            self.set_role(RoleState::Unattached { election_deadline }, &mut out);
            self.arm(TimerKind::Election, election_deadline, &mut out);
        }
        if self.config.voters.len() == 1 && !matches!(self.role, RoleState::Candidate(_)) {
            self.become_candidate(now, rng, &mut out);
        }
        out
    }

    /// Starts a member of a quorum whose first election is already decided: epoch 1, led by
    /// `leader`, which every voter voted for. The simulator uses it so that a cluster begins
    /// with an elected quorum, as one that has been running for a while, instead of every page
    /// load opening with an election. The leader writes its `LeaderChange` record and sends
    /// BeginQuorumEpoch; the others follow it and fetch. A member that is not fresh (it has
    /// an epoch or a log already) starts as [`RaftNode::start`] does.
    pub fn start_bootstrapped(
        &mut self,
        now: SimTime,
        leader: ReplicaId,
        rng: &mut SimRng,
    ) -> Vec<RaftOutput<R>> {
        let fresh = self.election.epoch == 0 && self.log.end_offset() == 0;
        if self.running || !fresh || !self.config.voters.contains(&leader) {
            return self.start(now, rng);
        }
        let mut out = Vec::new();
        self.running = true;
        self.high_watermark = 0;
        self.armed.clear();
        if leader == self.id {
            self.persist(ElectionState {
                epoch: 1,
                voted_for: Some(self.id),
                leader: None,
            });
            self.set_role(
                RoleState::Candidate(CandidateState {
                    retries: 1,
                    granted: self.config.voters.iter().copied().collect(),
                    rejected: BTreeSet::new(),
                    election_deadline: now,
                    backoff_until: None,
                }),
                &mut out,
            );
            self.become_leader(now, &mut out);
        } else {
            self.persist(ElectionState {
                epoch: 1,
                voted_for: Some(leader),
                leader: Some(leader),
            });
            self.enter_follower(now, leader, &mut out);
        }
        out
    }

    /// Starts the process again after [`RaftNode::crash`]; the same as [`RaftNode::start`].
    pub fn restart(&mut self, now: SimTime, rng: &mut SimRng) -> Vec<RaftOutput<R>> {
        self.start(now, rng)
    }

    /// Kills the process. What is on disk survives: the persisted election state and the
    /// flushed log. With `lose_unflushed` the machine lost power and the unflushed suffix of the
    /// log is gone; without it only the process died and the operating system still writes its
    /// page cache out. All volatile state (role, high watermark, timers) is lost; timers and
    /// responses already scheduled become stale. Messages to a crashed member are ignored.
    pub fn crash(&mut self, lose_unflushed: bool) {
        if !self.running {
            return;
        }
        self.running = false;
        if lose_unflushed {
            self.log.drop_unflushed();
        } else {
            self.log.flush();
        }
        self.role = RoleState::Unattached {
            election_deadline: SimTime::ZERO,
        };
        self.armed.clear();
        self.high_watermark = 0;
    }

    /// Asks the leader to step down gracefully: it resigns and sends EndQuorumEpoch so that the
    /// most caught-up voter stands at once. Does nothing on a member that is not leader.
    pub fn resign(&mut self, now: SimTime, rng: &mut SimRng) -> Vec<RaftOutput<R>> {
        let mut out = Vec::new();
        if self.running && matches!(self.role, RoleState::Leader(_)) {
            let successors = self.preferred_successors();
            self.become_resigned(now, ResignReason::Requested, successors, rng, &mut out);
        }
        out
    }

    /// Appends `records` to the log if this member is the leader. The records get consecutive
    /// offsets from the returned [`Proposal::offset`]; they are flushed after
    /// `append_linger_ms` and committed once a majority of voters has them on disk (watch for
    /// [`RaftOutput::Committed`]). A leader that loses leadership before committing them may
    /// lose them.
    pub fn propose(
        &mut self,
        now: SimTime,
        records: Vec<R>,
    ) -> std::result::Result<Proposal<R>, NotLeader> {
        if !self.running || !matches!(self.role, RoleState::Leader(_)) {
            return Err(NotLeader {
                epoch: self.election.epoch,
                leader: self.election.leader.filter(|&l| l != self.id),
            });
        }
        let offset = self.log.end_offset();
        let mut outputs = Vec::new();
        if records.is_empty() {
            return Ok(Proposal { offset, outputs });
        }
        let epoch = self.election.epoch;
        for record in records {
            self.log.append(epoch, RaftRecord::Data(record));
        }
        if self.config.append_linger_ms == 0 {
            self.flush_leader(&mut outputs);
        } else {
            // Kafka's batch accumulator lingers so that records proposed together are written
            // and fsynced once; an armed earlier linger timer is kept, so the first record of a
            // batch decides when it is written.
            let at = now.plus_ms(self.config.append_linger_ms);
            self.arm(TimerKind::Linger, at, &mut outputs);
        }
        Ok(Proposal { offset, outputs })
    }

    // ----- Timers -----

    /// Handles a timer this node set with [`RaftOutput::SetTimer`]. Stale timers (superseded,
    /// or set before a transition or a crash) are recognised by their id and ignored.
    pub fn on_timer(
        &mut self,
        now: SimTime,
        timer: RaftTimer,
        rng: &mut SimRng,
    ) -> Vec<RaftOutput<R>> {
        let mut out = Vec::new();
        let Some(index) = self.armed.iter().position(|a| a.kind == timer.kind) else {
            return out;
        };
        if !self.running || self.armed[index].id != timer.id {
            return out;
        }
        self.armed.remove(index);
        match timer.kind {
            TimerKind::Election => self.on_election_timer(now, rng, &mut out),
            TimerKind::ElectionBackoff => {
                if let RoleState::Candidate(c) = &self.role {
                    match c.backoff_until {
                        Some(until) if now >= until => self.become_candidate(now, rng, &mut out),
                        Some(until) => self.arm(TimerKind::ElectionBackoff, until, &mut out),
                        None => {}
                    }
                }
            }
            TimerKind::FetchTimeout => {
                if let RoleState::Follower(f) = &self.role {
                    let deadline = f.fetch_deadline;
                    if now >= deadline {
                        self.become_candidate(now, rng, &mut out);
                    } else {
                        self.arm(TimerKind::FetchTimeout, deadline, &mut out);
                    }
                }
            }
            TimerKind::FetchBackoff => {
                if matches!(&self.role, RoleState::Follower(f) if f.in_flight.is_none()) {
                    self.send_fetch(&mut out);
                }
            }
            TimerKind::CheckQuorum => {
                if let RoleState::Leader(l) = &self.role {
                    let deadline = l.check_quorum_deadline;
                    if now >= deadline {
                        let successors = self.preferred_successors();
                        self.become_resigned(
                            now,
                            ResignReason::CheckQuorumFailed,
                            successors,
                            rng,
                            &mut out,
                        );
                    } else {
                        self.arm(TimerKind::CheckQuorum, deadline, &mut out);
                    }
                }
            }
            TimerKind::BeginQuorumEpoch => {
                if matches!(self.role, RoleState::Leader(_)) {
                    self.send_begin_quorum_epoch(now, &mut out);
                }
            }
            TimerKind::Linger => {
                if matches!(self.role, RoleState::Leader(_)) {
                    self.flush_leader(&mut out);
                }
            }
            TimerKind::FetchWait { replica } => {
                let parked = match &self.role {
                    RoleState::Leader(l) => l.parked_fetches.get(&replica).cloned(),
                    _ => None,
                };
                match parked {
                    Some(p) if now >= p.deadline => {
                        if let RoleState::Leader(l) = &mut self.role {
                            l.parked_fetches.remove(&replica);
                        }
                        // Nothing new arrived within the fetch's wait: answer with no entries,
                        // which still carries the current high watermark.
                        let hw = self.leader_high_watermark();
                        let message = self.fetch_response(p.request_id, None, Vec::new(), hw);
                        out.push(RaftOutput::Send {
                            to: replica,
                            message,
                        });
                    }
                    Some(p) => self.arm(TimerKind::FetchWait { replica }, p.deadline, &mut out),
                    None => {}
                }
            }
        }
        out
    }

    fn on_election_timer(&mut self, now: SimTime, rng: &mut SimRng, out: &mut Vec<RaftOutput<R>>) {
        match &self.role {
            RoleState::Unattached { election_deadline }
            | RoleState::Voted {
                election_deadline, ..
            } => {
                let deadline = *election_deadline;
                if now >= deadline {
                    self.become_candidate(now, rng, out);
                } else {
                    self.arm(TimerKind::Election, deadline, out);
                }
            }
            RoleState::Resigned(r) => {
                let deadline = r.election_deadline;
                if now >= deadline {
                    self.become_candidate(now, rng, out);
                } else {
                    self.arm(TimerKind::Election, deadline, out);
                }
            }
            RoleState::Candidate(c) => {
                let deadline = c.election_deadline;
                if c.backoff_until.is_some() {
                    // Already lost and backing off; the backoff timer takes over.
                } else if now >= deadline {
                    self.start_backoff(now, rng, out);
                } else {
                    self.arm(TimerKind::Election, deadline, out);
                }
            }
            RoleState::Leader(_) | RoleState::Follower(_) => {}
        }
    }

    // ----- Messages -----

    /// Handles a message from another voter. Messages from non-voters, and any message while
    /// the process is down, are ignored.
    pub fn on_message(
        &mut self,
        now: SimTime,
        from: ReplicaId,
        message: RaftMessage<R>,
        rng: &mut SimRng,
    ) -> Vec<RaftOutput<R>> {
        let mut out = Vec::new();
        if !self.running || from == self.id || !self.config.voters.contains(&from) {
            return out;
        }
        match message {
            RaftMessage::VoteRequest {
                candidate_epoch,
                last_epoch,
                end_offset,
            } => self.on_vote_request(
                now,
                from,
                candidate_epoch,
                OffsetAndEpoch {
                    offset: end_offset,
                    epoch: last_epoch,
                },
                rng,
                &mut out,
            ),
            RaftMessage::VoteResponse {
                epoch,
                leader,
                vote_granted,
                error,
            } => {
                if self.on_common_response(now, epoch, leader, error, rng, &mut out)
                    == Common::Continue
                    && error.is_none()
                {
                    self.on_vote_response(now, from, epoch, vote_granted, rng, &mut out);
                }
            }
            RaftMessage::BeginQuorumEpochRequest { epoch } => {
                if epoch < self.election.epoch {
                    let message = RaftMessage::BeginQuorumEpochResponse {
                        epoch: self.election.epoch,
                        leader: self.election.leader,
                        error: Some(KafkaError::FencedLeaderEpoch),
                    };
                    out.push(RaftOutput::Send { to: from, message });
                } else {
                    self.maybe_transition(now, Some(from), epoch, rng, &mut out);
                    let message = RaftMessage::BeginQuorumEpochResponse {
                        epoch: self.election.epoch,
                        leader: self.election.leader,
                        error: None,
                    };
                    out.push(RaftOutput::Send { to: from, message });
                }
            }
            RaftMessage::BeginQuorumEpochResponse {
                epoch,
                leader,
                error,
            } => {
                // The leader's only use of the answer is to learn of a newer epoch; it keeps
                // announcing itself on its timer anyway.
                self.on_common_response(now, epoch, leader, error, rng, &mut out);
            }
            RaftMessage::EndQuorumEpochRequest {
                epoch,
                preferred_successors,
            } => self.on_end_quorum_epoch_request(
                now,
                from,
                epoch,
                &preferred_successors,
                rng,
                &mut out,
            ),
            RaftMessage::EndQuorumEpochResponse {
                epoch,
                leader,
                error,
            } => {
                if self.on_common_response(now, epoch, leader, error, rng, &mut out)
                    == Common::Continue
                    && error.is_none()
                {
                    if let RoleState::Resigned(r) = &mut self.role {
                        r.unacknowledged.remove(&from);
                    }
                }
            }
            RaftMessage::FetchRequest {
                request_id,
                epoch,
                fetch_offset,
                last_fetched_epoch,
            } => self.on_fetch_request(
                now,
                from,
                request_id,
                epoch,
                fetch_offset,
                last_fetched_epoch,
                &mut out,
            ),
            RaftMessage::FetchResponse {
                request_id,
                epoch,
                leader,
                error,
                entries,
                high_watermark,
                diverging_epoch,
            } => self.on_fetch_response(
                now,
                from,
                request_id,
                (epoch, leader, error),
                entries,
                high_watermark,
                diverging_epoch,
                rng,
                &mut out,
            ),
        }
        out
    }

    /// A voter's side of an election (Kafka's `handleVoteRequest`).
    fn on_vote_request(
        &mut self,
        now: SimTime,
        from: ReplicaId,
        candidate_epoch: u32,
        candidate_end: OffsetAndEpoch,
        rng: &mut SimRng,
        out: &mut Vec<RaftOutput<R>>,
    ) {
        let error = if candidate_end.epoch >= candidate_epoch {
            // A candidate's last entry is always from an older epoch than the one it stands in.
            Some(KafkaError::InvalidRequest)
        } else if candidate_epoch < self.election.epoch {
            Some(KafkaError::FencedLeaderEpoch)
        } else {
            None
        };
        if error.is_some() {
            let message = RaftMessage::VoteResponse {
                epoch: self.election.epoch,
                leader: self.election.leader,
                vote_granted: false,
                error,
            };
            out.push(RaftOutput::Send { to: from, message });
            return;
        }
        if candidate_epoch > self.election.epoch {
            // Without pre-vote any higher epoch moves this voter on, even a leader: it steps
            // down to unattached in the candidate's epoch before deciding on its vote.
            self.become_unattached(now, candidate_epoch, rng, out);
        }
        let up_to_date = candidate_end >= self.log.end_offset_and_epoch();
        let grant = match &self.role {
            RoleState::Unattached { .. } => up_to_date,
            // Asking again (a lost response, a restarted candidate) gets the same answer.
            RoleState::Voted { candidate, .. } => *candidate == from,
            // A candidate voted for itself; a leader, follower or resigned leader knows the
            // epoch's leader already.
            RoleState::Candidate(_)
            | RoleState::Leader(_)
            | RoleState::Follower(_)
            | RoleState::Resigned(_) => false,
        };
        if grant && matches!(self.role, RoleState::Unattached { .. }) {
            self.become_voted(now, from, rng, out);
        }
        let message = RaftMessage::VoteResponse {
            epoch: self.election.epoch,
            leader: self.election.leader,
            vote_granted: grant,
            error: None,
        };
        out.push(RaftOutput::Send { to: from, message });
    }

    /// A candidate counting an answer (Kafka's `handleVoteResponse`).
    fn on_vote_response(
        &mut self,
        now: SimTime,
        from: ReplicaId,
        epoch: u32,
        granted: bool,
        rng: &mut SimRng,
        out: &mut Vec<RaftOutput<R>>,
    ) {
        if epoch != self.election.epoch {
            return;
        }
        let majority = self.majority();
        let voters = self.config.voters.len();
        let RoleState::Candidate(c) = &mut self.role else {
            return;
        };
        if granted {
            if !c.rejected.contains(&from) {
                c.granted.insert(from);
            }
            if c.granted.len() >= majority {
                self.become_leader(now, out);
            }
        } else {
            if !c.granted.contains(&from) {
                c.rejected.insert(from);
            }
            let unrecorded = voters - c.granted.len() - c.rejected.len();
            // Lost for certain: back off now rather than wait for the election timeout, so that
            // a gridlocked vote is retried sooner.
            if c.granted.len() + unrecorded < majority && c.backoff_until.is_none() {
                self.start_backoff(now, rng, out);
            }
        }
    }

    /// A voter told that the leader resigned (Kafka's `handleEndQuorumEpochRequest`).
    fn on_end_quorum_epoch_request(
        &mut self,
        now: SimTime,
        from: ReplicaId,
        epoch: u32,
        preferred_successors: &[ReplicaId],
        rng: &mut SimRng,
        out: &mut Vec<RaftOutput<R>>,
    ) {
        if epoch < self.election.epoch {
            let message = RaftMessage::EndQuorumEpochResponse {
                epoch: self.election.epoch,
                leader: self.election.leader,
                error: Some(KafkaError::FencedLeaderEpoch),
            };
            out.push(RaftOutput::Send { to: from, message });
            return;
        }
        self.maybe_transition(now, Some(from), epoch, rng, out);
        let backoff = self.end_epoch_election_backoff(preferred_successors);
        if let RoleState::Follower(f) = &mut self.role {
            if f.leader == from && epoch == self.election.epoch {
                // Instead of waiting for the fetch timeout, stand after a backoff that is zero
                // for the most caught-up successor and grows with the position in the list.
                f.fetch_deadline = now.plus_ms(backoff);
                let at = f.fetch_deadline;
                self.arm(TimerKind::FetchTimeout, at, out);
            }
        }
        let message = RaftMessage::EndQuorumEpochResponse {
            epoch: self.election.epoch,
            leader: self.election.leader,
            error: None,
        };
        out.push(RaftOutput::Send { to: from, message });
    }

    /// The leader serving a follower's Fetch (Kafka's `handleFetchRequest`).
    #[allow(clippy::too_many_arguments)]
    fn on_fetch_request(
        &mut self,
        now: SimTime,
        from: ReplicaId,
        request_id: u64,
        epoch: u32,
        fetch_offset: u64,
        last_fetched_epoch: u32,
        out: &mut Vec<RaftOutput<R>>,
    ) {
        let error = if epoch < self.election.epoch {
            Some(KafkaError::FencedLeaderEpoch)
        } else if epoch > self.election.epoch {
            Some(KafkaError::UnknownLeaderEpoch)
        } else if !matches!(self.role, RoleState::Leader(_)) {
            Some(KafkaError::NotLeaderOrFollower)
        } else if last_fetched_epoch > epoch {
            Some(KafkaError::InvalidRequest)
        } else {
            None
        };
        if error.is_some() {
            let message = self.fetch_response(request_id, error, Vec::new(), None);
            out.push(RaftOutput::Send { to: from, message });
            return;
        }
        if let Err(diverging) = self
            .log
            .validate_offset_and_epoch(fetch_offset, last_fetched_epoch)
        {
            let mut message =
                self.fetch_response(request_id, None, Vec::new(), self.leader_high_watermark());
            if let RaftMessage::FetchResponse {
                diverging_epoch, ..
            } = &mut message
            {
                *diverging_epoch = Some(diverging);
            }
            out.push(RaftOutput::Send { to: from, message });
            return;
        }
        let majority = self.majority();
        let fetch_timeout = self.config.fetch_timeout_ms;
        if let RoleState::Leader(l) = &mut self.role {
            let progress = l.voters.entry(from).or_default();
            progress.end_offset = Some(fetch_offset);
            progress.last_fetch = Some(now);
            // Check-quorum: the leader counts itself, so it needs Fetches from a majority less
            // one of the others within each period.
            l.fetched_voters.insert(from);
            if l.fetched_voters.len() + 1 >= majority {
                l.fetched_voters.clear();
                l.check_quorum_deadline = now.plus_ms(check_quorum_timeout_ms(fetch_timeout));
            }
            // Any earlier fetch of this follower is superseded: it only awaits this one.
            l.parked_fetches.remove(&from);
        }
        self.update_leader_high_watermark(out);
        let entries = self.read_for_fetch(fetch_offset);
        if entries.is_empty() && self.config.fetch_max_wait_ms > 0 {
            let deadline = now.plus_ms(self.config.fetch_max_wait_ms);
            if let RoleState::Leader(l) = &mut self.role {
                l.parked_fetches.insert(
                    from,
                    ParkedFetch {
                        request_id,
                        fetch_offset,
                        deadline,
                    },
                );
            }
            self.arm(TimerKind::FetchWait { replica: from }, deadline, out);
        } else {
            let hw = self.leader_high_watermark();
            let message = self.fetch_response(request_id, None, entries, hw);
            out.push(RaftOutput::Send { to: from, message });
        }
    }

    /// A follower handling the leader's answer (Kafka's `handleFetchResponse`).
    #[allow(clippy::too_many_arguments)]
    fn on_fetch_response(
        &mut self,
        now: SimTime,
        from: ReplicaId,
        request_id: u64,
        (epoch, leader, error): (u32, Option<ReplicaId>, Option<KafkaError>),
        entries: Vec<LogEntry<R>>,
        high_watermark: Option<u64>,
        diverging_epoch: Option<OffsetAndEpoch>,
        rng: &mut SimRng,
        out: &mut Vec<RaftOutput<R>>,
    ) {
        let current = match &mut self.role {
            RoleState::Follower(f) if f.leader == from && f.in_flight == Some(request_id) => {
                f.in_flight = None;
                true
            }
            _ => false,
        };
        if self.on_common_response(now, epoch, leader, error, rng, out) == Common::Handled {
            // If this answered the fetch in flight and the node still follows the same leader
            // (a transition would have sent a new fetch), fetch again; after an error, only
            // after the retry backoff so that a resigned leader is not asked in a tight loop.
            if current && matches!(&self.role, RoleState::Follower(f) if f.in_flight.is_none()) {
                if error.is_some() {
                    let at = now.plus_ms(self.config.retry_backoff_ms);
                    self.arm(TimerKind::FetchBackoff, at, out);
                } else {
                    self.send_fetch(out);
                }
            }
            return;
        }
        if !current {
            // An answer to a fetch that is no longer the one in flight.
            return;
        }
        if error.is_some() {
            let at = now.plus_ms(self.config.retry_backoff_ms);
            self.arm(TimerKind::FetchBackoff, at, out);
            return;
        }
        if let Some(diverging) = diverging_epoch {
            let before = self.log.end_offset();
            let after = self.log.truncate_to_end_offset(diverging);
            if after < before {
                out.push(RaftOutput::Truncated {
                    from_end: before,
                    to: after,
                });
            }
        } else {
            let appended = entries.is_empty() || self.log.append_replicated(entries);
            // A voter flushes before its next Fetch tells the leader it has the entries: the
            // leader counts them toward the high watermark on that word.
            self.log.flush();
            // The leader validated this log up to the fetch offset, so below its end it holds
            // the leader's entries, and the leader's high watermark applies to them.
            if let (true, Some(hw)) = (appended, high_watermark) {
                self.advance_high_watermark(hw.min(self.log.end_offset()), out);
            }
        }
        let fetch_timeout = self.config.fetch_timeout_ms;
        if let RoleState::Follower(f) = &mut self.role {
            f.fetch_deadline = now.plus_ms(fetch_timeout);
        }
        self.send_fetch(out);
    }

    /// Handling common to every response (Kafka's `maybeHandleCommonResponse`).
    fn on_common_response(
        &mut self,
        now: SimTime,
        epoch: u32,
        leader: Option<ReplicaId>,
        error: Option<KafkaError>,
        rng: &mut SimRng,
        out: &mut Vec<RaftOutput<R>>,
    ) -> Common {
        if epoch < self.election.epoch || error == Some(KafkaError::UnknownLeaderEpoch) {
            // This node is in a newer epoch than the responder: the answer is stale.
            Common::Handled
        } else if epoch > self.election.epoch
            || matches!(
                error,
                Some(KafkaError::FencedLeaderEpoch | KafkaError::NotLeaderOrFollower)
            )
        {
            self.maybe_transition(now, leader, epoch, rng, out);
            Common::Handled
        } else if let (Some(l), None) = (leader, self.election.leader) {
            if l == self.id {
                return Common::Handled;
            }
            // The responder knows this epoch's leader and this node does not yet.
            self.become_follower(now, epoch, l, out);
            if error.is_none() {
                Common::Continue
            } else {
                Common::Handled
            }
        } else {
            Common::Continue
        }
    }

    /// Moves to a newer epoch, or learns the current epoch's leader (Kafka's `maybeTransition`).
    fn maybe_transition(
        &mut self,
        now: SimTime,
        leader: Option<ReplicaId>,
        epoch: u32,
        rng: &mut SimRng,
        out: &mut Vec<RaftOutput<R>>,
    ) {
        if leader == Some(self.id) {
            // Only this node can say it leads an epoch; a message saying so is about an epoch
            // it already knows (Kafka treats any other case as an illegal state).
            return;
        }
        if epoch > self.election.epoch {
            match leader {
                Some(l) => self.become_follower(now, epoch, l, out),
                None => self.become_unattached(now, epoch, rng, out),
            }
        } else if epoch == self.election.epoch && self.election.leader.is_none() {
            if let Some(l) = leader {
                self.become_follower(now, epoch, l, out);
            }
        }
    }

    // ----- Transitions -----

    /// Replaces the role, invalidating every armed timer. A leader that steps down answers its
    /// parked fetches with NOT_LEADER_OR_FOLLOWER and drops the entries it had not yet written,
    /// as Kafka drops its batch accumulator.
    fn set_role(&mut self, role: RoleState, out: &mut Vec<RaftOutput<R>>) {
        let from = self.role.kind();
        let old = std::mem::replace(&mut self.role, role);
        self.armed.clear();
        out.push(RaftOutput::Transitioned {
            from,
            to: self.role.kind(),
            epoch: self.election.epoch,
            leader: self.election.leader,
            voted_for: self.election.voted_for,
        });
        if let RoleState::Leader(l) = old {
            for (replica, parked) in l.parked_fetches {
                let message = self.fetch_response(
                    parked.request_id,
                    Some(KafkaError::NotLeaderOrFollower),
                    Vec::new(),
                    None,
                );
                out.push(RaftOutput::Send {
                    to: replica,
                    message,
                });
            }
            let before = self.log.end_offset();
            self.log.drop_unflushed();
            if self.log.end_offset() < before {
                out.push(RaftOutput::Truncated {
                    from_end: before,
                    to: self.log.end_offset(),
                });
            }
        }
    }

    fn persist(&mut self, election: ElectionState) {
        debug_assert!(
            election.epoch >= self.election.epoch,
            "epochs never go back"
        );
        self.election = election;
    }

    fn become_unattached(
        &mut self,
        now: SimTime,
        epoch: u32,
        rng: &mut SimRng,
        out: &mut Vec<RaftOutput<R>>,
    ) {
        // A candidate or unattached member keeps its running election timer, so that a stream of
        // higher epochs cannot postpone its own candidacy forever.
        let election_deadline = match &self.role {
            RoleState::Candidate(c) => c.election_deadline,
            RoleState::Unattached { election_deadline } => *election_deadline,
            _ => now.plus_ms(self.random_election_timeout(rng)),
        };
        self.persist(ElectionState {
            epoch,
            voted_for: None,
            leader: None,
        });
        self.set_role(RoleState::Unattached { election_deadline }, out);
        self.arm(TimerKind::Election, election_deadline.max(now), out);
    }

    fn become_voted(
        &mut self,
        now: SimTime,
        candidate: ReplicaId,
        rng: &mut SimRng,
        out: &mut Vec<RaftOutput<R>>,
    ) {
        // The vote is on disk before the answer leaves, so a restart cannot vote twice. The
        // election timer restarts: the candidate has as good a chance as this voter.
        self.persist(ElectionState {
            epoch: self.election.epoch,
            voted_for: Some(candidate),
            leader: None,
        });
        let election_deadline = now.plus_ms(self.random_election_timeout(rng));
        self.set_role(
            RoleState::Voted {
                candidate,
                election_deadline,
            },
            out,
        );
        self.arm(TimerKind::Election, election_deadline, out);
    }

    fn become_follower(
        &mut self,
        now: SimTime,
        epoch: u32,
        leader: ReplicaId,
        out: &mut Vec<RaftOutput<R>>,
    ) {
        let voted_for = if epoch == self.election.epoch {
            self.election.voted_for
        } else {
            None
        };
        self.persist(ElectionState {
            epoch,
            voted_for,
            leader: Some(leader),
        });
        self.enter_follower(now, leader, out);
    }

    fn enter_follower(&mut self, now: SimTime, leader: ReplicaId, out: &mut Vec<RaftOutput<R>>) {
        let fetch_deadline = now.plus_ms(self.config.fetch_timeout_ms);
        self.set_role(
            RoleState::Follower(FollowerState {
                leader,
                fetch_deadline,
                in_flight: None,
            }),
            out,
        );
        self.arm(TimerKind::FetchTimeout, fetch_deadline, out);
        self.send_fetch(out);
    }

    fn become_candidate(&mut self, now: SimTime, rng: &mut SimRng, out: &mut Vec<RaftOutput<R>>) {
        let retries = match &self.role {
            RoleState::Candidate(c) => c.retries + 1,
            _ => 1,
        };
        self.persist(ElectionState {
            epoch: self.election.epoch + 1,
            voted_for: Some(self.id),
            leader: None,
        });
        self.enter_candidate(now, retries, rng, out);
    }

    /// Stands in the current (already persisted) epoch.
    fn enter_candidate(
        &mut self,
        now: SimTime,
        retries: u32,
        rng: &mut SimRng,
        out: &mut Vec<RaftOutput<R>>,
    ) {
        let election_deadline = now.plus_ms(self.random_election_timeout(rng));
        self.set_role(
            RoleState::Candidate(CandidateState {
                retries,
                granted: BTreeSet::from([self.id]),
                rejected: BTreeSet::new(),
                election_deadline,
                backoff_until: None,
            }),
            out,
        );
        if self.majority() <= 1 {
            self.become_leader(now, out);
            return;
        }
        let end = self.log.end_offset_and_epoch();
        for to in self.others() {
            out.push(RaftOutput::Send {
                to,
                message: RaftMessage::VoteRequest {
                    candidate_epoch: self.election.epoch,
                    last_epoch: end.epoch,
                    end_offset: end.offset,
                },
            });
        }
        self.arm(TimerKind::Election, election_deadline, out);
    }

    fn start_backoff(&mut self, now: SimTime, rng: &mut SimRng, out: &mut Vec<RaftOutput<R>>) {
        let RoleState::Candidate(c) = &self.role else {
            return;
        };
        let backoff =
            binary_exponential_backoff_ms(c.retries, self.config.election_backoff_max_ms, rng);
        let until = now.plus_ms(backoff);
        if let RoleState::Candidate(c) = &mut self.role {
            c.backoff_until = Some(until);
        }
        self.arm(TimerKind::ElectionBackoff, until, out);
    }

    fn become_leader(&mut self, now: SimTime, out: &mut Vec<RaftOutput<R>>) {
        let RoleState::Candidate(c) = &self.role else {
            return;
        };
        let granting_voters: Vec<ReplicaId> = c.granted.iter().copied().collect();
        let epoch = self.election.epoch;
        self.persist(ElectionState {
            epoch,
            voted_for: Some(self.id),
            leader: Some(self.id),
        });
        let epoch_start_offset = self.log.end_offset();
        let check_quorum_deadline =
            now.plus_ms(check_quorum_timeout_ms(self.config.fetch_timeout_ms));
        let voters = self
            .others()
            .into_iter()
            .map(|v| (v, ReplicaProgress::default()))
            .collect();
        self.set_role(
            RoleState::Leader(LeaderState {
                epoch_start_offset,
                high_watermark: None,
                voters,
                granting_voters: granting_voters.clone(),
                fetched_voters: BTreeSet::new(),
                check_quorum_deadline,
                parked_fetches: BTreeMap::new(),
            }),
            out,
        );
        out.push(RaftOutput::BecameLeader { epoch });
        // The LeaderChange record gives the epoch an entry of its own at once: the high
        // watermark may only pass the epoch start once such an entry is on a majority.
        self.log.append(
            epoch,
            RaftRecord::LeaderChange {
                leader: self.id,
                voters: self.config.voters.clone(),
                granting_voters,
            },
        );
        self.log.flush();
        self.send_begin_quorum_epoch(now, out);
        if self.config.voters.len() > 1 {
            self.arm(TimerKind::CheckQuorum, check_quorum_deadline, out);
        }
        self.update_leader_high_watermark(out);
    }

    fn become_resigned(
        &mut self,
        now: SimTime,
        reason: ResignReason,
        preferred_successors: Vec<ReplicaId>,
        rng: &mut SimRng,
        out: &mut Vec<RaftOutput<R>>,
    ) {
        // Resigning is not persisted: the member stays the epoch's leader on disk, and a
        // restart brings it back resigned anyway.
        let election_deadline = now.plus_ms(self.random_election_timeout(rng));
        let others = self.others();
        self.set_role(
            RoleState::Resigned(ResignedState {
                reason,
                election_deadline,
                unacknowledged: others.iter().copied().collect(),
            }),
            out,
        );
        out.push(RaftOutput::Resigned {
            epoch: self.election.epoch,
            reason,
        });
        for to in others {
            out.push(RaftOutput::Send {
                to,
                message: RaftMessage::EndQuorumEpochRequest {
                    epoch: self.election.epoch,
                    preferred_successors: preferred_successors.clone(),
                },
            });
        }
        self.arm(TimerKind::Election, election_deadline, out);
    }

    // ----- Leader helpers -----

    fn leader_high_watermark(&self) -> Option<u64> {
        match &self.role {
            RoleState::Leader(l) => l.high_watermark,
            _ => None,
        }
    }

    /// The other voters, most caught up first (Kafka's `nonLeaderVotersByDescendingFetchOffset`).
    fn preferred_successors(&self) -> Vec<ReplicaId> {
        let RoleState::Leader(l) = &self.role else {
            return Vec::new();
        };
        let mut voters: Vec<(Option<u64>, ReplicaId)> =
            l.voters.iter().map(|(&v, p)| (p.end_offset, v)).collect();
        // Descending end offset (unknown last), ties broken by increasing id.
        voters.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        voters.into_iter().map(|(_, v)| v).collect()
    }

    fn send_begin_quorum_epoch(&mut self, now: SimTime, out: &mut Vec<RaftOutput<R>>) {
        // Kafka repeats BeginQuorumEpoch to every voter each half fetch timeout, so that a
        // voter that missed the election (or restarted) learns the leader without standing.
        for to in self.others() {
            out.push(RaftOutput::Send {
                to,
                message: RaftMessage::BeginQuorumEpochRequest {
                    epoch: self.election.epoch,
                },
            });
        }
        if self.config.voters.len() > 1 {
            let at = now.plus_ms((self.config.fetch_timeout_ms / 2).max(1));
            self.arm(TimerKind::BeginQuorumEpoch, at, out);
        }
    }

    /// The leader's high watermark is the largest offset on the disks of a majority of voters
    /// (its own counted by what it has flushed). It only moves forward, and only once it passes
    /// the epoch start, i.e. once the leader's own LeaderChange entry is on a majority: entries
    /// of earlier epochs are committed only together with one of the current epoch.
    fn update_leader_high_watermark(&mut self, out: &mut Vec<RaftOutput<R>>) {
        let flushed = self.log.flushed_end_offset();
        let RoleState::Leader(l) = &mut self.role else {
            return;
        };
        let mut ends: Vec<u64> = l
            .voters
            .values()
            .map(|p| p.end_offset.unwrap_or(0))
            .collect();
        ends.push(flushed);
        ends.sort_unstable_by(|a, b| b.cmp(a));
        let candidate = ends[ends.len() / 2];
        if candidate > l.epoch_start_offset && l.high_watermark.is_none_or(|hw| candidate > hw) {
            l.high_watermark = Some(candidate);
            self.advance_high_watermark(candidate, out);
            // As Kafka's leader does on a new high watermark, answer every parked fetch at once,
            // so that followers learn what is committed without waiting out the fetch wait.
            self.complete_parked_fetches(|_| true, out);
        }
    }

    fn advance_high_watermark(&mut self, hw: u64, out: &mut Vec<RaftOutput<R>>) {
        if hw > self.high_watermark {
            self.high_watermark = hw;
            out.push(RaftOutput::Committed { up_to: hw });
        }
    }

    /// Writes and flushes the leader's pending entries, then answers the parked fetches that can
    /// now get some.
    fn flush_leader(&mut self, out: &mut Vec<RaftOutput<R>>) {
        self.log.flush();
        self.update_leader_high_watermark(out);
        let flushed = self.log.flushed_end_offset();
        self.complete_parked_fetches(|p| p.fetch_offset < flushed, out);
    }

    /// Answers the parked fetches that `ready` selects with what the log holds for them.
    fn complete_parked_fetches(
        &mut self,
        ready: impl Fn(&ParkedFetch) -> bool,
        out: &mut Vec<RaftOutput<R>>,
    ) {
        let ready: Vec<(ReplicaId, ParkedFetch)> = match &mut self.role {
            RoleState::Leader(l) => {
                let ids: Vec<ReplicaId> = l
                    .parked_fetches
                    .iter()
                    .filter(|(_, p)| ready(p))
                    .map(|(&r, _)| r)
                    .collect();
                ids.into_iter()
                    .filter_map(|r| l.parked_fetches.remove(&r).map(|p| (r, p)))
                    .collect()
            }
            _ => Vec::new(),
        };
        let hw = self.leader_high_watermark();
        for (replica, parked) in ready {
            let entries = self.read_for_fetch(parked.fetch_offset);
            let message = self.fetch_response(parked.request_id, None, entries, hw);
            out.push(RaftOutput::Send {
                to: replica,
                message,
            });
        }
    }

    /// Entries a follower gets from `fetch_offset`: only flushed ones, as Kafka's leader only
    /// exposes what its accumulator has written to the log.
    fn read_for_fetch(&self, fetch_offset: u64) -> Vec<LogEntry<R>> {
        self.log.read(
            fetch_offset,
            self.log.flushed_end_offset(),
            self.config.fetch_max_entries as usize,
        )
    }

    fn fetch_response(
        &self,
        request_id: u64,
        error: Option<KafkaError>,
        entries: Vec<LogEntry<R>>,
        high_watermark: Option<u64>,
    ) -> RaftMessage<R> {
        RaftMessage::FetchResponse {
            request_id,
            epoch: self.election.epoch,
            leader: self.election.leader,
            error,
            entries,
            high_watermark,
            diverging_epoch: None,
        }
    }

    // ----- Follower helpers -----

    fn send_fetch(&mut self, out: &mut Vec<RaftOutput<R>>) {
        let request_id = self.next_request_id;
        let epoch = self.election.epoch;
        let end = self.log.end_offset_and_epoch();
        let RoleState::Follower(f) = &mut self.role else {
            return;
        };
        self.next_request_id += 1;
        f.in_flight = Some(request_id);
        out.push(RaftOutput::Send {
            to: f.leader,
            message: RaftMessage::FetchRequest {
                request_id,
                epoch,
                fetch_offset: end.offset,
                last_fetched_epoch: end.epoch,
            },
        });
    }

    /// Kafka's `endEpochElectionBackoff`: zero for the first preferred successor, then a strict
    /// exponential backoff by position, the maximum for a voter not in the list.
    fn end_epoch_election_backoff(&self, preferred_successors: &[ReplicaId]) -> u64 {
        let position = preferred_successors
            .iter()
            .position(|&c| c == self.id)
            .unwrap_or(preferred_successors.len());
        let total = preferred_successors.len();
        let max = self.config.election_backoff_max_ms;
        if position == 0 {
            0
        } else if position >= total {
            max
        } else {
            let base = max >> (total - 1).min(63);
            max.min(base << (position - 1).min(63))
        }
    }

    // ----- Timers and randomness -----

    /// Kafka's `randomElectionTimeoutMs`: the configured timeout plus a uniform jitter below it,
    /// so that voters rarely time out together and split the vote.
    fn random_election_timeout(&self, rng: &mut SimRng) -> u64 {
        let timeout = self.config.election_timeout_ms;
        timeout + rng.below(timeout)
    }

    /// Asks for a timer of `kind` at `at`, unless one of that kind is already armed no later:
    /// deadlines that only move later (the fetch timeout, check-quorum) are then re-checked when
    /// the earlier timer fires, instead of scheduling a timer on every reset.
    fn arm(&mut self, kind: TimerKind, at: SimTime, out: &mut Vec<RaftOutput<R>>) {
        let existing = self.armed.iter().position(|a| a.kind == kind);
        if let Some(i) = existing {
            if self.armed[i].at <= at {
                return;
            }
            self.armed.remove(i);
        }
        let id = self.next_timer_id;
        self.next_timer_id += 1;
        self.armed.push(ArmedTimer { kind, at, id });
        out.push(RaftOutput::SetTimer {
            at,
            timer: RaftTimer { kind, id },
        });
    }
}

/// KIP-595 check-quorum: 1.5 × the fetch timeout, leaving room for a slow network.
fn check_quorum_timeout_ms(fetch_timeout_ms: u64) -> u64 {
    fetch_timeout_ms + fetch_timeout_ms / 2
}

/// Kafka's `binaryExponentialElectionBackoffMs`: 100 ms times a random integer below
/// 2^retries, capped at `controller.quorum.election.backoff.max.ms`.
fn binary_exponential_backoff_ms(retries: u32, max_ms: u64, rng: &mut SimRng) -> u64 {
    let exponent = retries.saturating_sub(1).min(20);
    let slots = 2u64 << exponent;
    (RETRY_BACKOFF_BASE_MS * rng.below(slots)).min(max_ms)
}

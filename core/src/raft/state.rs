//! The roles a quorum member can be in (Kafka's `EpochState` implementations) and the election
//! state it persists (Kafka's `quorum-state` file).

use super::ReplicaId;
use crate::time::SimTime;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The role of a quorum member, without the role's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RoleKind {
    /// Knows an epoch but neither its leader nor a candidate it voted for.
    Unattached,
    /// Has voted for a candidate in its epoch and waits for the result.
    Voted,
    /// Stands for election in its epoch.
    Candidate,
    /// Leads its epoch: accepts proposals and serves fetches.
    Leader,
    /// Fetches from the leader of its epoch.
    Follower,
    /// Was the leader of its epoch and stepped down; accepts no writes and grants no votes in
    /// that epoch.
    Resigned,
}

impl RoleKind {
    /// The role's name as Kafka's logs print it.
    pub fn name(self) -> &'static str {
        match self {
            RoleKind::Unattached => "Unattached",
            RoleKind::Voted => "Voted",
            RoleKind::Candidate => "Candidate",
            RoleKind::Leader => "Leader",
            RoleKind::Follower => "Follower",
            RoleKind::Resigned => "Resigned",
        }
    }
}

impl fmt::Display for RoleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a member writes to disk on every durable transition, so that after a restart it neither
/// votes twice in an epoch nor goes back to an older epoch (Kafka's `ElectionState`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElectionState {
    /// The latest epoch the member has seen.
    pub epoch: u32,
    /// The candidate it voted for in that epoch (itself when it stood).
    pub voted_for: Option<ReplicaId>,
    /// The leader of that epoch, when known.
    pub leader: Option<ReplicaId>,
}

/// Why a leader gave up leadership.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResignReason {
    /// It asked to (a graceful shutdown or an operator's request).
    Requested,
    /// Check-quorum: no Fetch from a majority of the voters within 1.5 × the fetch timeout, so
    /// it may be cut off from a majority that has elected someone else.
    CheckQuorumFailed,
    /// It restarted after leading the epoch; it comes back resigned in that epoch.
    Restarted,
}

/// How far the leader knows a voter to have replicated.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaProgress {
    /// The voter's log end offset, as its last valid Fetch said; `None` before its first.
    pub end_offset: Option<u64>,
    /// When that Fetch arrived.
    pub last_fetch: Option<SimTime>,
}

/// A Fetch the leader holds until it has new entries or the fetch's wait expires (Kafka's
/// fetch purgatory). Holding it is what makes pull-based replication cheap when idle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedFetch {
    /// The request to answer.
    pub request_id: u64,
    /// The offset the follower asked for.
    pub fetch_offset: u64,
    /// When to answer with no entries.
    pub deadline: SimTime,
}

/// The data of the leader role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderState {
    /// The log end offset when this member became leader, where its `LeaderChange` record is.
    /// The high watermark must pass it before it can be exposed.
    pub epoch_start_offset: u64,
    /// The high watermark of this epoch; `None` until an entry of this epoch is on a majority.
    pub high_watermark: Option<u64>,
    /// Replication progress of the other voters.
    pub voters: BTreeMap<ReplicaId, ReplicaProgress>,
    /// The voters that granted the vote that made this member leader.
    pub granting_voters: Vec<ReplicaId>,
    /// Voters that fetched since the check-quorum timer was last reset.
    pub fetched_voters: BTreeSet<ReplicaId>,
    /// When the leader resigns unless a majority has fetched by then.
    pub check_quorum_deadline: SimTime,
    /// Fetches held until there is something to send, by follower.
    pub parked_fetches: BTreeMap<ReplicaId, ParkedFetch>,
}

/// The data of the candidate role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateState {
    /// How many elections in a row this member has stood in (1 for the first).
    pub retries: u32,
    /// Voters that granted their vote, this member included.
    pub granted: BTreeSet<ReplicaId>,
    /// Voters that refused.
    pub rejected: BTreeSet<ReplicaId>,
    /// When the election times out.
    pub election_deadline: SimTime,
    /// Set once the election is lost (timed out, or refused by enough voters): when to stand
    /// again in a new epoch.
    pub backoff_until: Option<SimTime>,
}

/// The data of the follower role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowerState {
    /// The leader of the epoch.
    pub leader: ReplicaId,
    /// When the follower stands for election unless a Fetch succeeds first.
    pub fetch_deadline: SimTime,
    /// The Fetch in flight, by request id.
    pub in_flight: Option<u64>,
}

/// The data of the resigned role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResignedState {
    /// Why it resigned.
    pub reason: ResignReason,
    /// When it stands for election itself if no one else has been elected.
    pub election_deadline: SimTime,
    /// Voters that have not acknowledged EndQuorumEpoch yet.
    pub unacknowledged: BTreeSet<ReplicaId>,
}

/// A quorum member's role and the data that goes with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoleState {
    /// Knows an epoch but no leader and has not voted in it.
    Unattached {
        /// When it stands for election itself.
        election_deadline: SimTime,
    },
    /// Voted for `candidate` in its epoch.
    Voted {
        /// The candidate it voted for.
        candidate: ReplicaId,
        /// When it stands for election itself if no leader has appeared.
        election_deadline: SimTime,
    },
    /// Stands for election.
    Candidate(CandidateState),
    /// Leads.
    Leader(LeaderState),
    /// Follows a leader.
    Follower(FollowerState),
    /// Stepped down from leading its epoch.
    Resigned(ResignedState),
}

impl RoleState {
    /// The role without its data.
    pub fn kind(&self) -> RoleKind {
        match self {
            RoleState::Unattached { .. } => RoleKind::Unattached,
            RoleState::Voted { .. } => RoleKind::Voted,
            RoleState::Candidate(_) => RoleKind::Candidate,
            RoleState::Leader(_) => RoleKind::Leader,
            RoleState::Follower(_) => RoleKind::Follower,
            RoleState::Resigned(_) => RoleKind::Resigned,
        }
    }
}

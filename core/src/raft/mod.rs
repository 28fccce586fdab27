//! The KRaft controller quorum: Kafka's Raft protocol (KIP-595) as a pure, sans-IO state
//! machine that the simulator drives.
//!
//! Each member is a [`RaftNode`]. The simulator hands it the current [`SimTime`] and the
//! simulation's [`SimRng`] on every call, and carries out the [`RaftOutput`]s it returns:
//! messages to deliver to other members, timers to fire later, and events to narrate. The node
//! never reads a clock, draws no other randomness and iterates no hash map, so a seed
//! reproduces a run.
//!
//! # The protocol, as Kafka implements it
//!
//! * **Roles.** Unattached, Voted, Candidate, Leader, Follower and Resigned ([`RoleKind`]).
//!   Every member starts unattached in epoch zero.
//! * **Elections.** An unattached or voted member that hears nothing for a randomized election
//!   timeout (`controller.quorum.election.timeout.ms` plus a jitter below it) becomes a
//!   candidate in the next epoch and sends Vote requests carrying its epoch and the epoch and
//!   offset at the end of its log. A voter grants at most one vote per epoch, persisted before
//!   it answers, and only to a candidate whose log is at least as up to date (compared by last
//!   epoch, then end offset). A candidate that times out or is refused by enough voters backs
//!   off for a binary exponential random time capped by
//!   `controller.quorum.election.backoff.max.ms` before standing again.
//! * **Leadership.** The winner sends BeginQuorumEpoch to every voter (and repeats it every half
//!   fetch timeout) and appends a `LeaderChange` control record in its new epoch.
//! * **Replication is pull-based.** Followers send Fetch with their log end offset and the epoch
//!   of their last entry. The leader answers with entries and its high watermark, or with a
//!   diverging epoch — the end of the largest epoch at or below the follower's last one, looked
//!   up in its leader-epoch cache as in KIP-279 — to which the follower truncates. A fetch with
//!   nothing to return is held by the leader for up to `fetch_max_wait_ms`.
//! * **Commitment.** The high watermark is the largest offset on the disks of a majority of
//!   voters; it never goes back, and only advances once an entry of the leader's own epoch (its
//!   `LeaderChange` record) is on a majority. Followers learn it from fetch responses.
//! * **Failure detection.** A follower that has had no successful fetch for
//!   `controller.quorum.fetch.timeout.ms` becomes a candidate. A leader that has not received a
//!   Fetch from a majority of the voters within 1.5 × the fetch timeout resigns (check-quorum);
//!   so does a leader asked to. A resigned leader sends EndQuorumEpoch, naming the voters most
//!   caught up first so that the first stands at once.
//! * **Epochs fence.** Every message carries an epoch; a member receiving a newer epoch moves to
//!   it, and a stale request is answered with an error, the current epoch and the leader, from
//!   which the sender learns.
//! * **Crashes.** A member persists its election state (epoch, vote, leader) on every durable
//!   transition and keeps its flushed log; see [`RaftNode::crash`].
//!
//! # Not modelled
//!
//! No pre-vote (KIP-996) and no `Prospective` role: a partitioned voter keeps raising its epoch
//! and disrupts the quorum when it returns. No observers (every member is a voter), no dynamic
//! voter changes (KIP-853), no snapshots or log compaction (FetchSnapshot), no request timeouts
//! (a lost request is recovered by the fetch or election timeout), and EndQuorumEpoch is sent
//! once rather than retried.
//!
//! [`SimTime`]: crate::time::SimTime
//! [`SimRng`]: crate::rng::SimRng

pub mod log;
pub mod message;
mod node;
pub mod state;

pub use log::{LogEntry, OffsetAndEpoch, RaftLog, RaftRecord};
pub use message::RaftMessage;
pub use node::RaftNode;
pub use state::{ElectionState, ResignReason, RoleKind, RoleState};

use crate::error::{Error, ErrorKind, Result};
use crate::time::SimTime;
use serde::{Deserialize, Serialize};

/// A quorum member's `node.id`.
pub type ReplicaId = crate::BrokerId;

/// Kafka's `RETRY_BACKOFF_BASE_MS`: the unit of the election backoff after a lost election.
pub const RETRY_BACKOFF_BASE_MS: u64 = 100;

/// The voters of a quorum built with [`RaftConfig::default`]: three controllers, numbered from
/// the simulator's controller id.
pub const DEFAULT_VOTERS: [ReplicaId; 3] = [100, 101, 102];

/// Configuration of the quorum, with Kafka's names and defaults (`QuorumConfig`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftConfig {
    /// `controller.quorum.voters`: the ids of the voters. Kept sorted and without repeats.
    pub voters: Vec<ReplicaId>,
    /// `controller.quorum.election.timeout.ms` (1000): the base of the randomized time an
    /// unattached member waits before standing; the jitter added is below this value.
    pub election_timeout_ms: u64,
    /// `controller.quorum.fetch.timeout.ms` (2000): how long a follower goes without a
    /// successful fetch before standing. Check-quorum uses 1.5 times this.
    pub fetch_timeout_ms: u64,
    /// `controller.quorum.election.backoff.max.ms` (1000): the cap of the backoff after a lost
    /// election, and the backoff of a voter not among a resigned leader's preferred successors.
    pub election_backoff_max_ms: u64,
    /// `controller.quorum.retry.backoff.ms` (20): the pause before fetching again after an
    /// error response.
    pub retry_backoff_ms: u64,
    /// `controller.quorum.append.linger.ms` (25): how long the leader gathers proposals before
    /// writing and flushing them as one batch.
    pub append_linger_ms: u64,
    /// How long the leader holds a Fetch that has nothing to return (Kafka's
    /// `MAX_FETCH_WAIT_MS`, 500).
    pub fetch_max_wait_ms: u64,
    /// Most entries in one fetch response (Kafka bounds bytes instead).
    pub fetch_max_entries: u32,
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig {
            voters: DEFAULT_VOTERS.to_vec(),
            election_timeout_ms: 1_000,
            fetch_timeout_ms: 2_000,
            election_backoff_max_ms: 1_000,
            retry_backoff_ms: 20,
            append_linger_ms: 25,
            fetch_max_wait_ms: 500,
            fetch_max_entries: 100,
        }
    }
}

impl RaftConfig {
    /// The default configuration with the given voters.
    pub fn with_voters(voters: impl IntoIterator<Item = ReplicaId>) -> RaftConfig {
        RaftConfig {
            voters: voters.into_iter().collect(),
            ..RaftConfig::default()
        }
    }

    /// The configuration with sorted voters, or an error naming the invalid value.
    pub(crate) fn validated(mut self) -> Result<RaftConfig> {
        self.voters.sort_unstable();
        self.voters.dedup();
        if self.voters.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                "controller.quorum.voters must name at least one voter.",
            ));
        }
        if self.election_timeout_ms == 0 || self.fetch_timeout_ms == 0 {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                "controller.quorum.election.timeout.ms and controller.quorum.fetch.timeout.ms must be positive.",
            ));
        }
        if self.fetch_max_entries == 0 {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                "fetch_max_entries must be positive.",
            ));
        }
        Ok(self)
    }
}

/// What a timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TimerKind {
    /// Unattached, voted or resigned: stand for election. Candidate: the election timed out.
    Election,
    /// A candidate that lost stands again in a new epoch.
    ElectionBackoff,
    /// A follower without a successful fetch for the fetch timeout stands for election.
    FetchTimeout,
    /// A follower fetches again after an error response.
    FetchBackoff,
    /// The leader resigns unless a majority of voters fetched in the last period.
    CheckQuorum,
    /// The leader repeats BeginQuorumEpoch to every voter.
    BeginQuorumEpoch,
    /// The leader writes and flushes the proposals gathered during the linger time.
    Linger,
    /// The leader answers a held fetch of `replica` with no entries.
    FetchWait {
        /// The follower whose fetch is held.
        replica: ReplicaId,
    },
}

/// A timer the simulator schedules and hands back to [`RaftNode::on_timer`] when it fires.
///
/// The id tells a live timer from a stale one: a node keeps one live timer per kind, and any
/// transition or crash makes all earlier ones stale. The simulator need not cancel anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RaftTimer {
    /// What the timer is for.
    pub kind: TimerKind,
    /// Unique for the node's lifetime, crashes included.
    pub id: u64,
}

/// What a node asks the simulator to do, or tells it happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RaftOutput<R> {
    /// Deliver `message` to member `to`.
    Send {
        /// The receiving member.
        to: ReplicaId,
        /// The message.
        message: RaftMessage<R>,
    },
    /// Call [`RaftNode::on_timer`] with `timer` at time `at`.
    SetTimer {
        /// When to fire it.
        at: SimTime,
        /// What to hand back.
        timer: RaftTimer,
    },
    /// The node changed role (possibly to the same role in a newer epoch).
    Transitioned {
        /// The role it left.
        from: RoleKind,
        /// The role it is in now.
        to: RoleKind,
        /// Its epoch now.
        epoch: u32,
        /// The leader it knows for that epoch.
        leader: Option<ReplicaId>,
        /// The candidate it voted for in that epoch.
        voted_for: Option<ReplicaId>,
    },
    /// The node won the election of `epoch`.
    BecameLeader {
        /// The epoch it leads.
        epoch: u32,
    },
    /// The node stopped leading `epoch`.
    Resigned {
        /// The epoch it led.
        epoch: u32,
        /// Why.
        reason: ResignReason,
    },
    /// The node's high watermark rose: every entry below `up_to` is committed.
    Committed {
        /// The new high watermark.
        up_to: u64,
    },
    /// The node removed entries from the end of its log: a follower whose log diverged from
    /// the leader's, or a leader dropping entries it never wrote when it lost leadership.
    Truncated {
        /// The log end offset before.
        from_end: u64,
        /// The log end offset after.
        to: u64,
    },
}

/// A proposal was refused because the node is not the leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotLeader {
    /// The node's epoch.
    pub epoch: u32,
    /// The leader it knows, to redirect the proposal to.
    pub leader: Option<ReplicaId>,
}

/// The result of an accepted proposal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal<R> {
    /// The offset of the first proposed record; the others follow without gaps.
    pub offset: u64,
    /// What the simulator must do (typically arm the linger timer).
    pub outputs: Vec<RaftOutput<R>>,
}

//! The messages quorum members exchange (KIP-595's Vote, BeginQuorumEpoch, EndQuorumEpoch and
//! Fetch). The sender and receiver are not part of a message: the simulator's network carries
//! them, as the connection does in Kafka.
//!
//! Every response carries the responder's current epoch and the leader it knows, so that a
//! sender with a stale epoch learns the newer epoch and its leader from any answer.

use super::log::{LogEntry, OffsetAndEpoch};
use super::ReplicaId;
use crate::KafkaError;
use serde::{Deserialize, Serialize};

/// A message between two members of the controller quorum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RaftMessage<R> {
    /// A candidate asking a voter for its vote.
    VoteRequest {
        /// The epoch the candidate is standing in.
        candidate_epoch: u32,
        /// The epoch of the candidate's last log entry.
        last_epoch: u32,
        /// The candidate's log end offset.
        end_offset: u64,
    },
    /// A voter's answer to a vote request.
    VoteResponse {
        /// The voter's epoch after handling the request.
        epoch: u32,
        /// The leader the voter knows for that epoch.
        leader: Option<ReplicaId>,
        /// Whether the voter granted its vote.
        vote_granted: bool,
        /// `FencedLeaderEpoch` when the candidate's epoch was older than the voter's.
        error: Option<KafkaError>,
    },
    /// A new leader announcing itself to the voters, and repeating it while it leads.
    BeginQuorumEpochRequest {
        /// The leader's epoch.
        epoch: u32,
    },
    /// A voter's answer to BeginQuorumEpoch.
    BeginQuorumEpochResponse {
        /// The voter's epoch after handling the request.
        epoch: u32,
        /// The leader the voter knows for that epoch.
        leader: Option<ReplicaId>,
        /// `FencedLeaderEpoch` when the announced epoch was older than the voter's.
        error: Option<KafkaError>,
    },
    /// A leader that resigned telling the voters, so that one of them stands at once instead of
    /// waiting for its fetch timeout.
    EndQuorumEpochRequest {
        /// The epoch being ended.
        epoch: u32,
        /// The other voters, most caught up first: the first stands for election at once, the
        /// others after a backoff that grows with their position.
        preferred_successors: Vec<ReplicaId>,
    },
    /// A voter's answer to EndQuorumEpoch.
    EndQuorumEpochResponse {
        /// The voter's epoch after handling the request.
        epoch: u32,
        /// The leader the voter knows for that epoch.
        leader: Option<ReplicaId>,
        /// `FencedLeaderEpoch` when the ended epoch was older than the voter's.
        error: Option<KafkaError>,
    },
    /// A follower pulling entries from the leader. Replication in KRaft is pull-based: the
    /// fetch offset also tells the leader how far the follower has replicated.
    FetchRequest {
        /// Matches the response to the request; a follower has one fetch in flight at a time.
        request_id: u64,
        /// The epoch the follower is in.
        epoch: u32,
        /// The follower's log end offset: the first offset it wants.
        fetch_offset: u64,
        /// The epoch of the follower's last entry, to detect divergence.
        last_fetched_epoch: u32,
    },
    /// The leader's answer to a Fetch.
    FetchResponse {
        /// The request this answers.
        request_id: u64,
        /// The responder's epoch.
        epoch: u32,
        /// The leader the responder knows for that epoch.
        leader: Option<ReplicaId>,
        /// `FencedLeaderEpoch`, `UnknownLeaderEpoch` or `NotLeaderOrFollower` when the
        /// responder could not serve the fetch.
        error: Option<KafkaError>,
        /// Entries from the fetch offset, possibly none.
        entries: Vec<LogEntry<R>>,
        /// The leader's high watermark; `None` until it has committed an entry of its epoch.
        high_watermark: Option<u64>,
        /// Set when the follower's log diverged: the largest epoch at or below the follower's
        /// last fetched epoch and where it ends in the leader's log. The follower truncates and
        /// fetches again.
        diverging_epoch: Option<OffsetAndEpoch>,
    },
}

impl<R> RaftMessage<R> {
    /// The message's Kafka API name, for narration.
    pub fn name(&self) -> &'static str {
        match self {
            RaftMessage::VoteRequest { .. } => "Vote",
            RaftMessage::VoteResponse { .. } => "VoteResponse",
            RaftMessage::BeginQuorumEpochRequest { .. } => "BeginQuorumEpoch",
            RaftMessage::BeginQuorumEpochResponse { .. } => "BeginQuorumEpochResponse",
            RaftMessage::EndQuorumEpochRequest { .. } => "EndQuorumEpoch",
            RaftMessage::EndQuorumEpochResponse { .. } => "EndQuorumEpochResponse",
            RaftMessage::FetchRequest { .. } => "Fetch",
            RaftMessage::FetchResponse { .. } => "FetchResponse",
        }
    }

    /// Whether this is a request (as opposed to a response).
    pub fn is_request(&self) -> bool {
        matches!(
            self,
            RaftMessage::VoteRequest { .. }
                | RaftMessage::BeginQuorumEpochRequest { .. }
                | RaftMessage::EndQuorumEpochRequest { .. }
                | RaftMessage::FetchRequest { .. }
        )
    }
}

//! # kafka-sim
//!
//! A deterministic, in-memory simulator of an Apache Kafka cluster: brokers, a controller,
//! topics and partitions, replication with leader epochs and the ISR, producers and consumers.
//!
//! The whole world is one [`Simulation`] value advanced by a seeded event queue. It performs no
//! I/O, reads no clock and draws randomness only from its own seeded generator, so the same seed
//! and commands give the same trace natively and in WebAssembly. Everything that happens is an
//! [`Event`] with a narration a learner can read.
//!
//! ```
//! use kafka_sim::scenario::Scenario;
//! let scenario = Scenario::parse(r#"
//! version = 1
//! name = "tiny"
//! [cluster]
//! brokers = 3
//! [[topics]]
//! name = "orders"
//! partitions = 3
//! replication_factor = 3
//! "#).unwrap();
//! let mut sim = scenario.build(7).unwrap();
//! sim.run_for_ms(1_000);
//! assert_eq!(sim.metadata().topics["orders"].partitions.len(), 3);
//! ```
#![warn(missing_docs)]

pub mod admin;
pub mod assignor;
pub mod broker;
pub mod builtin;
pub mod config;
pub mod consumer;
pub mod consumer_group;
pub mod controller;
pub mod coordinator;
pub mod dst;
pub mod error;
pub mod event;
pub mod expect;
pub mod fault;
pub mod group;
pub mod group_coordinator;
pub mod history;
pub mod invariants;
pub mod java;
pub mod log;
pub mod metadata;
pub mod metadata_record;
pub mod network;
pub mod partitioner;
pub mod placement;
pub mod producer;
pub mod quorum;
pub mod raft;
pub mod rng;
pub mod scenario;
pub mod sim;
pub mod time;
pub mod view;
pub mod zookeeper;

pub use error::{Error, ErrorKind, Result};
pub use event::{Event, EventKind};
pub use sim::{Command, Simulation};
pub use time::SimTime;

use serde::{Deserialize, Serialize};

/// A broker's (or controller's) `node.id`.
pub type BrokerId = i32;

/// Kafka protocol errors that the simulated brokers return, by their Kafka names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KafkaError {
    /// The broker is not the leader of the partition (stale client metadata).
    NotLeaderOrFollower,
    /// acks=all and the ISR is smaller than min.insync.replicas: nothing was written.
    NotEnoughReplicas,
    /// acks=all, written, but the ISR shrank below min.insync.replicas before it was committed.
    NotEnoughReplicasAfterAppend,
    /// No response within the request's timeout.
    RequestTimedOut,
    /// The connection to the broker failed.
    NetworkException,
    /// The request carries an older leader epoch than the broker's.
    FencedLeaderEpoch,
    /// The request carries a newer leader epoch than the broker knows.
    UnknownLeaderEpoch,
    /// The fetch offset is outside the log.
    OffsetOutOfRange,
    /// An AlterPartition based on a stale partition epoch.
    InvalidUpdateVersion,
    /// An AlterPartition adding a fenced or unknown broker.
    IneligibleReplica,
    /// A malformed request.
    InvalidRequest,
    /// A record the log refuses, e.g. one without a key for a compacted topic.
    InvalidRecord,
    /// An idempotent producer's batch does not follow the last sequence the broker has for it.
    OutOfOrderSequenceNumber,
    /// An idempotent producer's epoch is older than the one the broker has seen (fenced).
    InvalidProducerEpoch,
    /// The group's coordinator is not available (its offsets partition has no leader, or the
    /// group is being unloaded).
    CoordinatorNotAvailable,
    /// The broker asked is not the group's coordinator.
    NotCoordinator,
    /// The coordinator is still loading the group from `__consumer_offsets`.
    CoordinatorLoadInProgress,
    /// `session.timeout.ms` outside the broker's `group.min.session.timeout.ms` ..
    /// `group.max.session.timeout.ms`.
    InvalidSessionTimeout,
    /// The member's assignors share none with the group's members.
    InconsistentGroupProtocol,
    /// A new member must rejoin with the member id in the answer (KIP-394).
    MemberIdRequired,
    /// Another member with the same `group.instance.id` replaced this one.
    FencedInstanceId,
    /// The coordinator does not know this member (it was removed, or the group is empty).
    UnknownMemberId,
    /// The group is rebalancing: rejoin.
    RebalanceInProgress,
    /// The request's generation is not the group's.
    IllegalGeneration,
}

impl KafkaError {
    /// The error's name as Kafka's clients log it.
    pub fn name(self) -> &'static str {
        match self {
            KafkaError::NotLeaderOrFollower => "NOT_LEADER_OR_FOLLOWER",
            KafkaError::NotEnoughReplicas => "NOT_ENOUGH_REPLICAS",
            KafkaError::NotEnoughReplicasAfterAppend => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
            KafkaError::RequestTimedOut => "REQUEST_TIMED_OUT",
            KafkaError::NetworkException => "NETWORK_EXCEPTION",
            KafkaError::FencedLeaderEpoch => "FENCED_LEADER_EPOCH",
            KafkaError::UnknownLeaderEpoch => "UNKNOWN_LEADER_EPOCH",
            KafkaError::OffsetOutOfRange => "OFFSET_OUT_OF_RANGE",
            KafkaError::InvalidUpdateVersion => "INVALID_UPDATE_VERSION",
            KafkaError::IneligibleReplica => "INELIGIBLE_REPLICA",
            KafkaError::InvalidRequest => "INVALID_REQUEST",
            KafkaError::InvalidRecord => "INVALID_RECORD",
            KafkaError::OutOfOrderSequenceNumber => "OUT_OF_ORDER_SEQUENCE_NUMBER",
            KafkaError::InvalidProducerEpoch => "INVALID_PRODUCER_EPOCH",
            KafkaError::CoordinatorNotAvailable => "COORDINATOR_NOT_AVAILABLE",
            KafkaError::NotCoordinator => "NOT_COORDINATOR",
            KafkaError::CoordinatorLoadInProgress => "COORDINATOR_LOAD_IN_PROGRESS",
            KafkaError::InvalidSessionTimeout => "INVALID_SESSION_TIMEOUT",
            KafkaError::InconsistentGroupProtocol => "INCONSISTENT_GROUP_PROTOCOL",
            KafkaError::MemberIdRequired => "MEMBER_ID_REQUIRED",
            KafkaError::FencedInstanceId => "FENCED_INSTANCE_ID",
            KafkaError::UnknownMemberId => "UNKNOWN_MEMBER_ID",
            KafkaError::RebalanceInProgress => "REBALANCE_IN_PROGRESS",
            KafkaError::IllegalGeneration => "ILLEGAL_GENERATION",
        }
    }

    /// Whether a client retries after this error (Kafka's `RetriableException` subclasses).
    /// The others fail the batch at once.
    pub fn is_retriable(self) -> bool {
        !matches!(
            self,
            KafkaError::InvalidRecord
                | KafkaError::InvalidRequest
                | KafkaError::InvalidProducerEpoch
                | KafkaError::OutOfOrderSequenceNumber
                | KafkaError::InvalidSessionTimeout
                | KafkaError::InconsistentGroupProtocol
                | KafkaError::MemberIdRequired
                | KafkaError::FencedInstanceId
                | KafkaError::UnknownMemberId
                | KafkaError::RebalanceInProgress
                | KafkaError::IllegalGeneration
        )
    }

    /// Whether the error means the client's metadata is stale (Kafka's
    /// `InvalidMetadataException` subclasses), so that it asks for fresh metadata.
    pub fn invalidates_metadata(self) -> bool {
        matches!(
            self,
            KafkaError::NotLeaderOrFollower
                | KafkaError::NetworkException
                | KafkaError::FencedLeaderEpoch
                | KafkaError::UnknownLeaderEpoch
        )
    }
}

//! The library's error type: every failure a learner can cause, with a message that says what
//! went wrong and how to fix it.

use std::fmt;

/// What kind of mistake an [`Error`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A scenario file could not be parsed, or a field in it is missing or invalid.
    Scenario,
    /// A configuration value is unknown, of the wrong type or out of its allowed range.
    InvalidConfig,
    /// A command named a broker id that the cluster does not have.
    UnknownBroker,
    /// A command or client named a topic that does not exist.
    UnknownTopic,
    /// A command or client named a producer or consumer that does not exist.
    UnknownClient,
    /// A topic asked for more replicas than there are brokers, or for none.
    InvalidReplicationFactor,
    /// A topic asked for zero partitions, or more than the simulator allows.
    InvalidPartitions,
    /// Rack-aware placement was asked for while some brokers have a rack and others do not
    /// (Kafka's `AdminOperationException` from `AdminUtils.assignReplicasToBrokers`).
    IncompleteRackInformation,
    /// A command cannot apply in the current state (e.g. killing a broker that is already dead).
    InvalidState,
    /// A request would exceed one of the simulator's resource limits.
    LimitExceeded,
    /// A consumer group's input to an assignor is inconsistent (e.g. a member id appears
    /// twice), or the assignor reached a state where Kafka's throws an exception.
    InvalidAssignment,
}

/// An error with a learner-readable message. The simulation is unchanged when a command fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// A new error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// What kind of mistake this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without a kind prefix.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Shorthand for results of this library.
pub type Result<T> = std::result::Result<T, Error>;

//! The history checker of `RELIABILITY.md` §A: what the simulated clients did, and the anomalies
//! that history shows.
//!
//! The model follows Jepsen's Kafka workload (`jepsen-io/jepsen`,
//! `jepsen/src/jepsen/tests/kafka.clj`): producers send unique values to partitions and learn an
//! offset (or a definite failure, or nothing), consumers poll `(offset, value)` pairs, and at the
//! end a drain reads every partition from its start. [`check`] then looks only at the recorded
//! [`History`], never at the simulator's state, so it judges the simulated Kafka the way Jepsen
//! judges a real one: from what clients could observe.
//!
//! This module is pure: it performs no I/O, and every map is a `BTreeMap` or `BTreeSet`, so the
//! report's order never depends on hashing.
//!
//! ```
//! use kafka_sim::history::{check, AnomalyKind, History, SendOutcome};
//! use kafka_sim::metadata::TopicPartition;
//!
//! let tp = TopicPartition::new("orders", 0);
//! let mut history = History::new();
//! history.record_send(1, tp.clone(), 10, SendOutcome::Ok { offset: 0 });
//! history.record_send(1, tp.clone(), 11, SendOutcome::Ok { offset: 1 });
//! history.record_send(1, tp.clone(), 12, SendOutcome::Ok { offset: 2 });
//! // The consumer reads past offset 1 without ever seeing value 11.
//! history.record_poll(7, tp.clone(), vec![(0, 10)]);
//! history.record_rebalance(7);
//! history.record_poll(7, tp.clone(), vec![(2, 12)]);
//!
//! let report = check(&history);
//! assert_eq!(report.anomalies.len(), 1);
//! assert_eq!(report.anomalies[0].kind, AnomalyKind::LostWrite);
//! assert_eq!(report.anomalies[0].values, vec![11]);
//! ```

use crate::metadata::TopicPartition;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A value a producer sends. The checker relies on every value being sent once: that is what lets
/// it tell a duplicate, a lost write and an aborted read apart.
pub type ValueId = u64;

/// One record a consumer read: its offset and its value.
pub type ReadRecord = (u64, ValueId);

/// How many items a [`History`] records by default before it stops: every operation counts one,
/// and a poll or drain counts one more per record it carries, so the bound holds however large
/// the polls are.
pub const DEFAULT_HISTORY_LIMIT: usize = 200_000;

/// What a producer learned about one send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SendOutcome {
    /// Acknowledged: the broker says the value is at this offset.
    Ok {
        /// The offset in the acknowledgement.
        offset: u64,
    },
    /// Definitely not written, for example `NOT_ENOUGH_REPLICAS` (checked before the append) or
    /// another non-retriable error. `NOT_ENOUGH_REPLICAS_AFTER_APPEND` is not a `Fail`: the value
    /// was appended and may still be read, so it is `Info`.
    Fail,
    /// Unknown: for example the delivery timeout expired. The value may or may not be in the log.
    Info,
}

/// One client operation, recorded when it completed in simulated time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    /// A producer's send of one value to one partition.
    Send {
        /// The producer.
        producer: u32,
        /// The partition the value was sent to.
        partition: TopicPartition,
        /// The value, unique in the whole history.
        value: ValueId,
        /// What the producer learned.
        outcome: SendOutcome,
    },
    /// What one poll of one consumer returned for one partition, in the order returned. A poll
    /// covering several partitions is recorded as one `Poll` per partition.
    Poll {
        /// The consumer.
        consumer: u32,
        /// The partition.
        partition: TopicPartition,
        /// The records, as `(offset, value)`.
        records: Vec<ReadRecord>,
    },
    /// The consumer joined `group` as a member (`KafkaConsumer.subscribe`): from then on the
    /// group hands it its partitions, and a record it reads that the group had already delivered
    /// to a member is a duplicate delivery. A consumer that only assigns itself partitions
    /// (`KafkaConsumer.assign`) never records this, whatever `group.id` it commits under: it is
    /// no member, and what it reads again is its own choice, not the group's.
    Subscribe {
        /// The consumer.
        consumer: u32,
        /// Its `group.id`.
        group: String,
    },
    /// The consumer's assignment changed through its group: it may now start anywhere in any
    /// partition, so the next poll is not compared with the previous one.
    Rebalance {
        /// The consumer.
        consumer: u32,
    },
    /// The consumer assigned itself these partitions (`KafkaConsumer.assign`). As in Jepsen, its
    /// position is kept in the partitions it still has and forgotten in the others.
    Assign {
        /// The consumer.
        consumer: u32,
        /// The new assignment.
        partitions: Vec<TopicPartition>,
    },
    /// The consumer moved its position in one partition (an explicit seek, or an
    /// `auto.offset.reset`): the next poll of that partition may start anywhere.
    Seek {
        /// The consumer.
        consumer: u32,
        /// The partition.
        partition: TopicPartition,
        /// The offset it moved to; recorded for the learner, not used by the checker.
        offset: u64,
    },
    /// The checker's final read of one partition: everything from the log start until a poll
    /// returned nothing. Record it only once the cluster has healed and the partition has a
    /// leader, because after a drain every acknowledged value it does not hold counts as lost.
    Drain {
        /// The partition.
        partition: TopicPartition,
        /// The log start offset when the drain began. Values acknowledged below it may have been
        /// removed by retention, so the drain says nothing about them.
        log_start: u64,
        /// Every record read, as `(offset, value)`.
        records: Vec<ReadRecord>,
    },
}

impl Operation {
    /// How much of the history's bound this operation uses: one for the operation and one for
    /// every record or partition it carries.
    fn weight(&self) -> usize {
        1 + match self {
            Operation::Poll { records, .. } | Operation::Drain { records, .. } => records.len(),
            Operation::Assign { partitions, .. } => partitions.len(),
            Operation::Send { .. }
            | Operation::Subscribe { .. }
            | Operation::Rebalance { .. }
            | Operation::Seek { .. } => 0,
        }
    }
}

/// The operations of one run in the order they completed, bounded.
///
/// Once an operation would take the history past its limit, that operation and every later one
/// are dropped and [`History::truncated`] is set. Recording stops for good rather than skipping
/// one large poll and going on, so that the kept operations are always a prefix: the exact
/// history of the run cut at that moment, which the checker can judge soundly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    operations: Vec<Operation>,
    limit: usize,
    used: usize,
    truncated: bool,
}

impl Default for History {
    fn default() -> History {
        History::new()
    }
}

impl History {
    /// An empty history bounded by [`DEFAULT_HISTORY_LIMIT`].
    pub fn new() -> History {
        History::with_limit(DEFAULT_HISTORY_LIMIT)
    }

    /// An empty history that records at most `limit` items (see [`DEFAULT_HISTORY_LIMIT`]).
    pub fn with_limit(limit: usize) -> History {
        History {
            operations: Vec::new(),
            limit,
            used: 0,
            truncated: false,
        }
    }

    /// Records a completed send.
    pub fn record_send(
        &mut self,
        producer: u32,
        partition: TopicPartition,
        value: ValueId,
        outcome: SendOutcome,
    ) {
        self.record(Operation::Send {
            producer,
            partition,
            value,
            outcome,
        });
    }

    /// Records what one poll returned for one partition. An empty poll is not recorded: it
    /// changes nothing the checker looks at, and skipping it keeps idle consumers from filling
    /// the history.
    pub fn record_poll(
        &mut self,
        consumer: u32,
        partition: TopicPartition,
        records: Vec<ReadRecord>,
    ) {
        self.record(Operation::Poll {
            consumer,
            partition,
            records,
        });
    }

    /// Records that a consumer joined `group` as a member (see [`Operation::Subscribe`]).
    pub fn record_subscribe(&mut self, consumer: u32, group: impl Into<String>) {
        self.record(Operation::Subscribe {
            consumer,
            group: group.into(),
        });
    }

    /// Records that a consumer's group assignment changed.
    pub fn record_rebalance(&mut self, consumer: u32) {
        self.record(Operation::Rebalance { consumer });
    }

    /// Records that a consumer assigned itself `partitions`.
    pub fn record_assign(&mut self, consumer: u32, partitions: Vec<TopicPartition>) {
        self.record(Operation::Assign {
            consumer,
            partitions,
        });
    }

    /// Records that a consumer's position in `partition` moved to `offset`.
    pub fn record_seek(&mut self, consumer: u32, partition: TopicPartition, offset: u64) {
        self.record(Operation::Seek {
            consumer,
            partition,
            offset,
        });
    }

    /// Records the final drain of `partition` (see [`Operation::Drain`]).
    pub fn record_drain(
        &mut self,
        partition: TopicPartition,
        log_start: u64,
        records: Vec<ReadRecord>,
    ) {
        self.record(Operation::Drain {
            partition,
            log_start,
            records,
        });
    }

    /// Records any operation; returns whether it was kept. It is not kept when it is an empty
    /// poll (which carries no information) or when the history is full.
    pub fn record(&mut self, operation: Operation) -> bool {
        if matches!(&operation, Operation::Poll { records, .. } if records.is_empty()) {
            return false;
        }
        if self.truncated {
            return false;
        }
        let weight = operation.weight();
        if weight > self.limit.saturating_sub(self.used) {
            self.truncated = true;
            return false;
        }
        self.used += weight;
        self.operations.push(operation);
        true
    }

    /// The recorded operations, in completion order.
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// How many operations were recorded.
    pub fn len(&self) -> usize {
        self.operations.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    /// How many items the history may hold.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Whether operations were dropped because the history was full.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Checks this history; the same as [`check`].
    pub fn check(&self) -> HistoryReport {
        check(self)
    }
}

/// The kinds of anomaly of `RELIABILITY.md` §A, in the order a report lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AnomalyKind {
    /// One (partition, offset) was observed holding two different values.
    InconsistentOffsets,
    /// One value was observed at two different places.
    Duplicate,
    /// A record consumed by a group more than once: after a rebalance its new owner started from
    /// the last committed offset, below what the previous owner had already read. This is
    /// at-least-once delivery, Kafka's documented default, so it is reported but is no error.
    DuplicateDelivery,
    /// An acknowledged value that reads went past, or that the final drain did not find.
    LostWrite,
    /// An acknowledged value no read has reached yet; only a drain can say whether it is lost.
    Unseen,
    /// A read of a value whose send definitely failed (G1a).
    AbortedRead,
    /// A consumer's reads jumped forward over offsets.
    PollSkip,
    /// A consumer's reads went back or repeated an offset.
    NonmonotonicPoll,
    /// A producer's acknowledged send landed at or before one it sent earlier (in the order the
    /// application called `send()`) to the same partition.
    NonmonotonicSend,
}

impl AnomalyKind {
    /// Every kind, in report order.
    pub const ALL: [AnomalyKind; 9] = [
        AnomalyKind::InconsistentOffsets,
        AnomalyKind::Duplicate,
        AnomalyKind::DuplicateDelivery,
        AnomalyKind::LostWrite,
        AnomalyKind::Unseen,
        AnomalyKind::AbortedRead,
        AnomalyKind::PollSkip,
        AnomalyKind::NonmonotonicPoll,
        AnomalyKind::NonmonotonicSend,
    ];

    /// The name Jepsen's checker uses.
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::InconsistentOffsets => "inconsistent-offsets",
            AnomalyKind::Duplicate => "duplicate",
            AnomalyKind::DuplicateDelivery => "duplicate-delivery",
            AnomalyKind::LostWrite => "lost-write",
            AnomalyKind::Unseen => "unseen",
            AnomalyKind::AbortedRead => "aborted-read",
            AnomalyKind::PollSkip => "poll-skip",
            AnomalyKind::NonmonotonicPoll => "nonmonotonic-poll",
            AnomalyKind::NonmonotonicSend => "nonmonotonic-send",
        }
    }

    /// Whether this kind is a violation. `Unseen` is not: it only says that the reads so far have
    /// not reached a value, which is normal before the final drain. `DuplicateDelivery` is not
    /// either: a group that reads records again after a rebalance, because their offsets were not
    /// committed, gets the at-least-once delivery Kafka promises, from a cluster that did
    /// nothing wrong.
    pub fn is_error(self) -> bool {
        !matches!(self, AnomalyKind::Unseen | AnomalyKind::DuplicateDelivery)
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One anomaly, with the facts a learner needs to see it.
///
/// What `offsets` and `values` hold depends on the kind:
/// - `InconsistentOffsets`: the offset, and every value observed there (sorted).
/// - `Duplicate`: the value's offsets in `partition` (the first partition it was seen in), the
///   value, and in `elsewhere` its places in other partitions.
/// - `LostWrite`, `Unseen`: the acknowledged offset and the value; `read_bound` and `drained`
///   say why it is lost or only unseen.
/// - `AbortedRead`: the offset and the value read; `client` is the first consumer that read it.
/// - `PollSkip`, `NonmonotonicPoll`: the two successive offsets read and their values; `client`
///   is the consumer, or `None` for the final drain.
/// - `NonmonotonicSend`: the earlier send's offset and value, then the later send's; `client` is
///   the producer.
/// - `DuplicateDelivery`: one run of records a consumer read again, in the order it read them:
///   the first and last offsets, the first and last values, `redelivered` how many records;
///   `client` is the consumer that read them again, `group` its group, and `earlier_readers`
///   the members that had read them before.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Anomaly {
    /// What went wrong.
    pub kind: AnomalyKind,
    /// Where.
    pub partition: TopicPartition,
    /// The offsets involved (see the type's documentation).
    pub offsets: Vec<u64>,
    /// The values involved (see the type's documentation).
    pub values: Vec<ValueId>,
    /// The producer or consumer involved, if one is.
    pub client: Option<u32>,
    /// For a duplicate spread over partitions: its places outside `partition`.
    pub elsewhere: Vec<(TopicPartition, u64)>,
    /// For a lost or unseen write: the highest offset any consumer's poll read in `partition`.
    pub read_bound: Option<u64>,
    /// For a lost write: whether the final drain covered its offset and did not find it.
    pub drained: bool,
    /// For a duplicate delivery: the group the records were delivered to twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// For a duplicate delivery: the members that had read the records before, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_readers: Vec<u32>,
    /// For a duplicate delivery: how many records were read again.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub redelivered: u64,
}

/// Whether a count is zero; fields that only one kind uses are left out of the JSON of others.
fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Anomaly {
    fn new(
        kind: AnomalyKind,
        partition: TopicPartition,
        offsets: Vec<u64>,
        values: Vec<ValueId>,
    ) -> Anomaly {
        Anomaly {
            kind,
            partition,
            offsets,
            values,
            client: None,
            elsewhere: Vec::new(),
            read_bound: None,
            drained: false,
            group: None,
            earlier_readers: Vec::new(),
            redelivered: 0,
        }
    }

    /// One sentence saying what happened, for a learner.
    pub fn explain(&self) -> String {
        self.explain_with(&|v: ValueId| v.to_string())
    }

    /// [`Anomaly::explain`] with values written by `name` (the simulator names them as the
    /// producer wrote them, e.g. `producer-1-17`).
    pub fn explain_with(&self, name: &dyn Fn(ValueId) -> String) -> String {
        self.explain_named(name, &|consumer: u32| consumer.to_string())
    }

    /// [`Anomaly::explain_with`] with consumers, too, called by `consumer` (the simulator calls
    /// them by their `client.id`) rather than by their number in the history.
    pub fn explain_named(
        &self,
        name: &dyn Fn(ValueId) -> String,
        consumer: &dyn Fn(u32) -> String,
    ) -> String {
        let p = &self.partition;
        let offset = |i: usize| self.offsets.get(i).copied().unwrap_or_default();
        let value = |i: usize| name(self.values.get(i).copied().unwrap_or_default());
        let reader = match self.client {
            Some(c) => format!("Consumer {}", consumer(c)),
            None => "The final drain".to_string(),
        };
        match self.kind {
            AnomalyKind::InconsistentOffsets => format!(
                "Offset {} of {p} was observed holding different values ({}), so copies of the \
                 log disagree about what is stored there.",
                offset(0),
                self.values
                    .iter()
                    .map(|v| name(*v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            AnomalyKind::Duplicate => {
                let mut places: Vec<String> = self
                    .offsets
                    .iter()
                    .map(|o| format!("offset {o} of {p}"))
                    .collect();
                places.extend(
                    self.elsewhere
                        .iter()
                        .map(|(q, o)| format!("offset {o} of {q}")),
                );
                format!(
                    "Value {} appears at {} ({}), so a single send was written more than once.",
                    value(0),
                    if places.len() == 2 {
                        "two places"
                    } else {
                        "several places"
                    },
                    places.join(", ")
                )
            }
            AnomalyKind::DuplicateDelivery => self.explain_delivery(name, consumer),
            AnomalyKind::LostWrite => match self.read_bound {
                Some(bound) if offset(0) <= bound => format!(
                    "Value {} was acknowledged at offset {} of {p}, but no read ever saw it \
                     although consumers read {p} up to offset {bound}: an acknowledged write was \
                     lost.",
                    value(0),
                    offset(0)
                ),
                _ => format!(
                    "Value {} was acknowledged at offset {} of {p}, but no poll saw it and the \
                     final drain of {p} did not find it: an acknowledged write was lost.",
                    value(0),
                    offset(0)
                ),
            },
            AnomalyKind::Unseen => format!(
                "Value {} was acknowledged at offset {} of {p} but no read has reached it ({}), \
                 so only a final drain can tell whether it was lost.",
                value(0),
                offset(0),
                match self.read_bound {
                    Some(bound) => format!("consumers read {p} only up to offset {bound}"),
                    None => format!("no consumer read {p}"),
                }
            ),
            AnomalyKind::AbortedRead => format!(
                "{reader} read value {} at offset {} of {p}, although the send of that value \
                 definitely failed: an aborted read.",
                value(0),
                offset(0)
            ),
            AnomalyKind::PollSkip => format!(
                "{reader} read offset {} of {p} (value {}) and next offset {} (value {}), skipping \
                 {} offset(s) with no rebalance in between.",
                offset(0),
                value(0),
                offset(1),
                value(1),
                offset(1).saturating_sub(offset(0)).saturating_sub(1)
            ),
            AnomalyKind::NonmonotonicPoll => format!(
                "{reader} read offset {} of {p} (value {}) and next offset {} (value {}), going \
                 back instead of forward with no rebalance in between.",
                offset(0),
                value(0),
                offset(1),
                value(1)
            ),
            AnomalyKind::NonmonotonicSend => format!(
                "Producer {}'s send of value {} was acknowledged at offset {} of {p}, not after \
                 offset {} where its earlier send of value {} landed.",
                self.client.unwrap_or_default(),
                value(1),
                offset(1),
                offset(0),
                value(0)
            ),
        }
    }
}

impl Anomaly {
    /// The explanation of a duplicate delivery: which group, who read the records first, who
    /// read them again, where, and why that is at-least-once delivery rather than a fault.
    fn explain_delivery(
        &self,
        name: &dyn Fn(ValueId) -> String,
        consumer: &dyn Fn(u32) -> String,
    ) -> String {
        let p = &self.partition;
        let group = self.group.as_deref().unwrap_or("?");
        let reader = match self.client {
            Some(c) => consumer(c),
            None => "?".to_string(),
        };
        let first = self.offsets.first().copied().unwrap_or_default();
        let last = self.offsets.last().copied().unwrap_or_default();
        let first_value = name(self.values.first().copied().unwrap_or_default());
        let last_value = name(self.values.last().copied().unwrap_or_default());
        let what = if self.redelivered <= 1 {
            format!("offset {first} of {p} (value {first_value})")
        } else {
            format!("offsets {first} to {last} of {p} (values {first_value} to {last_value})")
        };
        // The members that had read the records, the re-reader itself named as such.
        let before: Vec<String> = self
            .earlier_readers
            .iter()
            .map(|&c| {
                if Some(c) == self.client {
                    "it itself".to_string()
                } else {
                    format!("consumer {}", consumer(c))
                }
            })
            .collect();
        let before = if before.is_empty() {
            "a member".to_string()
        } else {
            before.join(" and ")
        };
        format!(
            "Group {group} delivered {} record(s) twice: consumer {reader} read {what}, which \
             {before} had already read. {reader} started on {p} from the group's last committed \
             offset (or from auto.offset.reset if the group had none), below what had been \
             read, because those reads were not committed before the partition changed hands \
             or its reader restarted: at-least-once delivery, Kafka's default, not a fault of \
             the cluster.",
            self.redelivered.max(1),
        )
    }
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.explain())
    }
}

/// The checker's verdict on a history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryReport {
    /// Every anomaly, sorted by kind, then partition, offsets and values.
    pub anomalies: Vec<Anomaly>,
    /// How many operations the history holds.
    pub operations: u64,
    /// Sends that were acknowledged with an offset.
    pub acknowledged_sends: u64,
    /// Sends that definitely failed.
    pub failed_sends: u64,
    /// Sends whose outcome is unknown.
    pub unknown_sends: u64,
    /// Distinct values read by consumers' polls and the final drain.
    pub distinct_values_read: u64,
    /// Whether the history stopped recording at its limit. The verdict is then about the run up
    /// to that moment, and a drain after it was not recorded.
    pub truncated: bool,
}

impl HistoryReport {
    /// The anomalies of one kind.
    pub fn of_kind(&self, kind: AnomalyKind) -> impl Iterator<Item = &Anomaly> {
        self.anomalies.iter().filter(move |a| a.kind == kind)
    }

    /// How many anomalies of one kind there are.
    pub fn count(&self, kind: AnomalyKind) -> usize {
        self.of_kind(kind).count()
    }

    /// Whether the history shows no violation (`Unseen` values are not violations).
    pub fn is_valid(&self) -> bool {
        self.anomalies.iter().all(|a| !a.kind.is_error())
    }
}

/// One (partition, offset).
type Place = (TopicPartition, u64);

/// What the checker gathers in one pass over the history.
#[derive(Default)]
struct Scan {
    /// Every value observed at each place, from acknowledgements and reads.
    values_at: BTreeMap<Place, BTreeSet<ValueId>>,
    /// Every place each value was observed at, from acknowledgements and reads.
    places_of: BTreeMap<ValueId, BTreeSet<Place>>,
    /// Each value read, where, and the first consumer that read it there (`None`: the drain).
    readers: BTreeMap<(ValueId, Place), Option<u32>>,
    /// Every value read by a poll or a drain.
    read: BTreeSet<ValueId>,
    /// Values with a `Fail` send, and values with any other send. A value is definitely
    /// unwritten only if every send of it failed, which matters only if a caller broke the rule
    /// that values are unique.
    failed: BTreeSet<ValueId>,
    not_failed: BTreeSet<ValueId>,
    /// Acknowledged sends, in history order.
    acked: Vec<(TopicPartition, u64, ValueId)>,
    /// The highest offset any consumer's poll read, per partition.
    poll_bound: BTreeMap<TopicPartition, u64>,
    /// The log start of the latest drain, per drained partition.
    drain_start: BTreeMap<TopicPartition, u64>,
    /// Each consumer's last read per partition, forgotten at a rebalance.
    last_read: BTreeMap<(u32, TopicPartition), ReadRecord>,
    /// Each producer's acknowledged sends per partition, as (value, offset).
    sends: BTreeMap<(u32, TopicPartition), Vec<(ValueId, u64)>>,
    /// The group of each consumer that subscribed, as an index into `group_names`.
    member_of: BTreeMap<u32, usize>,
    /// Every group a consumer subscribed to, in the order first seen.
    group_names: Vec<String>,
    /// What each group's members have read: per group and place, the value read there and the
    /// member that read it last.
    delivered: BTreeMap<(usize, Place), (ValueId, u32)>,
    /// Runs of records read again, one anomaly per run, not yet sorted into the report.
    redeliveries: Vec<Anomaly>,
    /// The run a consumer is in the middle of, per partition, as an index into `redeliveries`.
    /// It ends when the consumer reads a record its group had not delivered before, goes back,
    /// or starts afresh (a rebalance, an assignment, a seek).
    rereading: BTreeMap<(u32, TopicPartition), usize>,
    /// The consumers that went back in a partition since they last started afresh there.
    went_back: BTreeSet<(u32, TopicPartition)>,
    report: HistoryReport,
}

impl Scan {
    fn observe(&mut self, partition: &TopicPartition, offset: u64, value: ValueId) {
        let place = (partition.clone(), offset);
        self.values_at
            .entry(place.clone())
            .or_default()
            .insert(value);
        self.places_of.entry(value).or_default().insert(place);
    }

    fn send(
        &mut self,
        producer: u32,
        partition: &TopicPartition,
        value: ValueId,
        outcome: SendOutcome,
    ) {
        match outcome {
            SendOutcome::Ok { offset } => {
                self.report.acknowledged_sends += 1;
                self.not_failed.insert(value);
                self.observe(partition, offset, value);
                self.acked.push((partition.clone(), offset, value));
                // "Later" is send order, the order the application called send() in, which is
                // the order of a producer's value ids: compared once every send is in (see
                // `finish`), since a pipelined producer learns its offsets in any order.
                self.sends
                    .entry((producer, partition.clone()))
                    .or_default()
                    .push((value, offset));
            }
            SendOutcome::Fail => {
                self.report.failed_sends += 1;
                self.failed.insert(value);
            }
            SendOutcome::Info => {
                self.report.unknown_sends += 1;
                self.not_failed.insert(value);
            }
        }
    }

    /// Records a read: what was seen where, and whether the reader moved straight on from its
    /// previous read. `previous` is the reader's last record before this read, if it counts.
    fn read(
        &mut self,
        reader: Option<u32>,
        partition: &TopicPartition,
        previous: Option<ReadRecord>,
        records: &[ReadRecord],
    ) {
        for &(offset, value) in records {
            self.observe(partition, offset, value);
            self.read.insert(value);
            self.readers
                .entry((value, (partition.clone(), offset)))
                .or_insert(reader);
        }
        // Each record must directly follow the one read before it: the previous poll's last
        // record for the first, and its predecessor in the same poll for the others.
        let afters = records.iter().skip(usize::from(previous.is_none()));
        let pairs = previous.iter().chain(records.iter()).zip(afters);
        for (&(before, before_value), &(after, after_value)) in pairs {
            let kind = if after > before.saturating_add(1) {
                AnomalyKind::PollSkip
            } else if after <= before {
                AnomalyKind::NonmonotonicPoll
            } else {
                continue;
            };
            let mut anomaly = Anomaly::new(
                kind,
                partition.clone(),
                vec![before, after],
                vec![before_value, after_value],
            );
            anomaly.client = reader;
            self.report.anomalies.push(anomaly);
        }
    }

    /// Records what a group member read, and extends or starts a run of records read again.
    /// `previous` is the consumer's last read of the partition since it started afresh there (a
    /// subscription, rebalance, assignment or seek), as for `Scan::read`. A consumer that
    /// goes back without starting afresh is a `nonmonotonic-poll`, a fault of the client or the
    /// cluster rather than the at-least-once delivery this anomaly is about, so what it reads
    /// again after that is not counted until it starts afresh.
    fn deliver(
        &mut self,
        consumer: u32,
        partition: &TopicPartition,
        previous: Option<ReadRecord>,
        records: &[ReadRecord],
    ) {
        let Some(&group) = self.member_of.get(&consumer) else {
            return;
        };
        let key = (consumer, partition.clone());
        let mut last = previous.map(|(offset, _)| offset);
        for &(offset, value) in records {
            if last.is_some_and(|l| offset <= l) {
                self.went_back.insert(key.clone());
                self.rereading.remove(&key);
            }
            last = Some(offset);
            let place = (partition.clone(), offset);
            let before = self.delivered.insert((group, place), (value, consumer));
            // A different value at an offset the group read before is no second delivery of
            // a record but a log that changed under it: `inconsistent-offsets` reports that.
            let Some((_, earlier)) = before.filter(|&(v, _)| v == value) else {
                self.rereading.remove(&key);
                continue;
            };
            if self.went_back.contains(&key) {
                continue;
            }
            match self.rereading.get(&key) {
                Some(&i) => {
                    let run = &mut self.redeliveries[i];
                    run.offsets[1] = offset;
                    run.values[1] = value;
                    run.redelivered += 1;
                    if let Err(at) = run.earlier_readers.binary_search(&earlier) {
                        run.earlier_readers.insert(at, earlier);
                    }
                }
                None => {
                    let mut run = Anomaly::new(
                        AnomalyKind::DuplicateDelivery,
                        partition.clone(),
                        vec![offset, offset],
                        vec![value, value],
                    );
                    run.client = Some(consumer);
                    run.group = Some(self.group_names[group].clone());
                    run.earlier_readers = vec![earlier];
                    run.redelivered = 1;
                    self.rereading.insert(key.clone(), self.redeliveries.len());
                    self.redeliveries.push(run);
                }
            }
        }
    }

    fn operation(&mut self, operation: &Operation) {
        match operation {
            Operation::Send {
                producer,
                partition,
                value,
                outcome,
            } => self.send(*producer, partition, *value, *outcome),
            Operation::Poll {
                consumer,
                partition,
                records,
            } => {
                let key = (*consumer, partition.clone());
                let previous = self.last_read.get(&key).copied();
                self.read(Some(*consumer), partition, previous, records);
                self.deliver(*consumer, partition, previous, records);
                if let Some(&last) = records.last() {
                    self.last_read.insert(key, last);
                }
                if let Some(high) = records.iter().map(|&(offset, _)| offset).max() {
                    let bound = self.poll_bound.entry(partition.clone()).or_insert(high);
                    *bound = (*bound).max(high);
                }
            }
            Operation::Subscribe { consumer, group } => {
                let index = match self.group_names.iter().position(|g| g == group) {
                    Some(i) => i,
                    None => {
                        self.group_names.push(group.clone());
                        self.group_names.len() - 1
                    }
                };
                self.member_of.insert(*consumer, index);
                self.last_read.retain(|(c, _), _| c != consumer);
                self.rereading.retain(|(c, _), _| c != consumer);
                self.went_back.retain(|(c, _)| c != consumer);
            }
            Operation::Rebalance { consumer } => {
                self.last_read.retain(|(c, _), _| c != consumer);
                self.rereading.retain(|(c, _), _| c != consumer);
                self.went_back.retain(|(c, _)| c != consumer);
            }
            Operation::Assign {
                consumer,
                partitions,
            } => {
                self.last_read
                    .retain(|(c, tp), _| c != consumer || partitions.contains(tp));
                self.rereading
                    .retain(|(c, tp), _| c != consumer || partitions.contains(tp));
                self.went_back
                    .retain(|(c, tp)| c != consumer || partitions.contains(tp));
            }
            Operation::Seek {
                consumer,
                partition,
                ..
            } => {
                self.last_read.remove(&(*consumer, partition.clone()));
                self.rereading.remove(&(*consumer, partition.clone()));
                self.went_back.remove(&(*consumer, partition.clone()));
            }
            Operation::Drain {
                partition,
                log_start,
                records,
            } => {
                self.read(None, partition, None, records);
                self.drain_start.insert(partition.clone(), *log_start);
            }
        }
    }

    fn finish(mut self) -> HistoryReport {
        // Every send must land after all of the same producer's earlier sends to the partition;
        // a send at or below the highest earlier offset is reported against that one.
        for ((producer, partition), sends) in &mut self.sends {
            sends.sort_unstable();
            let mut highest: Option<(u64, ValueId)> = None;
            for &(value, offset) in sends.iter() {
                match highest {
                    Some((high, high_value)) if offset <= high => {
                        let mut anomaly = Anomaly::new(
                            AnomalyKind::NonmonotonicSend,
                            partition.clone(),
                            vec![high, offset],
                            vec![high_value, value],
                        );
                        anomaly.client = Some(*producer);
                        self.report.anomalies.push(anomaly);
                    }
                    _ => highest = Some((offset, value)),
                }
            }
        }
        for (&(ref partition, offset), values) in &self.values_at {
            if values.len() > 1 {
                self.report.anomalies.push(Anomaly::new(
                    AnomalyKind::InconsistentOffsets,
                    partition.clone(),
                    vec![offset],
                    values.iter().copied().collect(),
                ));
            }
        }
        for (&value, places) in &self.places_of {
            if places.len() > 1 {
                let Some((first, _)) = places.first() else {
                    continue;
                };
                let (here, elsewhere): (Vec<&Place>, Vec<&Place>) =
                    places.iter().partition(|(tp, _)| tp == first);
                let mut anomaly = Anomaly::new(
                    AnomalyKind::Duplicate,
                    first.clone(),
                    here.iter().map(|(_, offset)| *offset).collect(),
                    vec![value],
                );
                anomaly.elsewhere = elsewhere.into_iter().cloned().collect();
                self.report.anomalies.push(anomaly);
            }
        }
        for (partition, offset, value) in &self.acked {
            if self.read.contains(value) {
                continue;
            }
            let read_bound = self.poll_bound.get(partition).copied();
            let drained = self
                .drain_start
                .get(partition)
                .is_some_and(|start| offset >= start);
            let passed = read_bound.is_some_and(|bound| *offset <= bound);
            let kind = if passed || drained {
                AnomalyKind::LostWrite
            } else {
                AnomalyKind::Unseen
            };
            let mut anomaly = Anomaly::new(kind, partition.clone(), vec![*offset], vec![*value]);
            anomaly.read_bound = read_bound;
            anomaly.drained = drained;
            self.report.anomalies.push(anomaly);
        }
        for (&(value, (ref partition, offset)), &reader) in &self.readers {
            if self.failed.contains(&value) && !self.not_failed.contains(&value) {
                let mut anomaly = Anomaly::new(
                    AnomalyKind::AbortedRead,
                    partition.clone(),
                    vec![offset],
                    vec![value],
                );
                anomaly.client = reader;
                self.report.anomalies.push(anomaly);
            }
        }
        self.report.anomalies.append(&mut self.redeliveries);
        self.report.distinct_values_read = self.read.len() as u64;
        self.report.anomalies.sort();
        self.report.anomalies.dedup();
        self.report
    }
}

/// Checks a history for every anomaly of `RELIABILITY.md` §A.
///
/// The definitions, exactly:
/// - **inconsistent-offsets**: one (partition, offset) observed with two different values, by
///   acknowledgements (value v acknowledged at offset o) and reads together.
/// - **duplicate**: one value observed at two different places, in one partition or in several,
///   again by acknowledgements and reads together.
/// - **lost-write**: an acknowledged value that no poll or drain ever read, whose offset is at
///   or below the highest offset any consumer's poll read in its partition, or at or above the
///   log start of a final drain of its partition.
/// - **unseen**: an acknowledged value never read that is not a lost write.
/// - **aborted-read**: a poll or drain read a value whose send definitely failed.
/// - **poll-skip** / **nonmonotonic-poll**: a consumer read offset a and then offset b of one
///   partition, either as the last record of one poll and the first of its next poll of that
///   partition, or as neighbours in one poll, and b > a + 1 (skip) or b ≤ a (nonmonotonic). A
///   rebalance of the consumer, an assignment without the partition or a seek in it makes the
///   next poll start afresh. Records within the final drain are checked the same way.
/// - **nonmonotonic-send**: a producer's acknowledged send to a partition landed at or below the
///   highest offset of its earlier acknowledged sends there. Each such send is reported once,
///   against that highest earlier send.
/// - **duplicate-delivery**: a poll of a consumer that subscribed to a group
///   ([`Operation::Subscribe`]) returned a record, the same value at the same offset of the
///   same partition, that a poll of a member of the same group had returned before (itself
///   included). Records one consumer reads again one after the other form one anomaly; the run
///   ends at a record the group had not read before, or when the consumer goes back or starts
///   afresh (its subscription, or a rebalance, assignment or seek). Once a consumer went back
///   without starting afresh (a nonmonotonic poll, a fault rather than at-least-once
///   delivery), what it reads again is not counted until it starts afresh. Reads of consumers that never subscribed (`assign()`, which choose their
///   own positions), reads by another group, and the final drain are not deliveries of any
///   group. Not an error: see [`AnomalyKind::is_error`].
pub fn check(history: &History) -> HistoryReport {
    let mut scan = Scan::default();
    for operation in history.operations() {
        scan.operation(operation);
    }
    scan.report.operations = history.len() as u64;
    scan.report.truncated = history.truncated();
    scan.finish()
}

//! The properties that must hold after every event (`RELIABILITY.md` §B), as one checker run by
//! the tests after each step. Weak settings are expected to break some of them; that is reported,
//! not hidden.
//!
//! | invariant | holds under | what it says |
//! |---|---|---|
//! | `LeaderInIsr` | any settings | a partition's leader is in its ISR |
//! | `LeaderEpochMonotonic` | any settings | leader epochs only increase |
//! | `OneLeaderPerEpoch` | any settings | at most one leader per leader epoch |
//! | `HighWatermarkBelowLogEnd` | any settings | HW ≤ LEO on every replica |
//! | `LogMatching` | strong settings | two replicas agree below the smaller of their HWs |
//! | `StrongIsr` | strong settings | every live, registered member of the controller's ISR holds the records of every replica presuming leadership, below that replica's HW |
//! | `LeaderCompleteness` | strong settings | the controller's leader has a log end offset at least the true HW (the highest HW a leader of the partition has reached) and holds every acknowledged record |
//!
//! `StrongIsr` and `LeaderCompleteness` follow `StrongIsr` of `hachikuji/kafka-specification`
//! (`KafkaReplication.tla`, `Kip320.tla`) and the leader completeness of Raft. A dead broker, or
//! one that restarted and has not yet registered again, is left out of both: its log is what its
//! disk kept, and KRaft takes a re-registering broker out of every ISR (and, after an unclean
//! shutdown, out of every ELR) before it can serve, so a lossy crash alone breaks neither. Under
//! weak settings both are expected to break: an unclean election, acks=1, a lossy crash without
//! eligible leader replicas, and every `sim.legacy.*` rule lose acknowledged records through a
//! leader that lacks them. `kafka-sim check` judges them only for strong seeds (`crate::dst`).
//!
//! These two report a problem once, when it appears, rather than after every later event: a
//! lost record stays lost, and reporting it again after each of thousands of events would only
//! cost time.

use crate::history::{Operation, SendOutcome, ValueId};
use crate::log::ReplicaLog;
use crate::metadata::TopicPartition;
use crate::sim::Simulation;
use crate::BrokerId;
use std::collections::BTreeMap;

/// Every invariant's name, as `Violation::invariant` and scenario expectations write it.
pub const NAMES: &[&str] = &[
    "LeaderInIsr",
    "LeaderEpochMonotonic",
    "OneLeaderPerEpoch",
    "HighWatermarkBelowLogEnd",
    "LogMatching",
    "StrongIsr",
    "LeaderCompleteness",
];

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// The invariant's name, as in `RELIABILITY.md`.
    pub invariant: &'static str,
    /// What was seen.
    pub detail: String,
}

/// Checks invariants, remembering what it needs across steps (leader per epoch).
#[derive(Clone, Debug, Default)]
pub struct InvariantChecker {
    /// What was learnt about each partition, by topic name and then partition number. Keyed by
    /// the name rather than a `TopicPartition` so that a check, run after every event, looks
    /// partitions up without allocating.
    partitions: BTreeMap<String, Vec<PartitionMemory>>,
    /// Each topic's name as a shared string, made once, for the lookup key of its replicas.
    names: BTreeMap<String, std::sync::Arc<str>>,
    /// What was learnt about the controller quorum.
    quorum: crate::quorum::QuorumMemory,
    /// How many operations of the simulation's history have been read for acknowledged sends.
    history_read: usize,
}

/// What the checker remembers about one partition.
#[derive(Clone, Debug, Default)]
struct PartitionMemory {
    /// The highest leader epoch seen so far, once seen.
    latest_epoch: Option<u32>,
    /// The leader seen in each epoch.
    leaders_by_epoch: BTreeMap<u32, Option<BrokerId>>,
    /// For each pair of brokers: the offset up to which their logs were found to match, and both
    /// logs' truncation counts then. Only offsets above it are compared again, unless one of the
    /// logs was truncated since, so checking after every event stays cheap.
    matched: BTreeMap<(BrokerId, BrokerId), (u64, u64, u64)>,
    /// StrongIsr, per (replica presuming leadership, ISR member): the offset up to which the
    /// member was found to hold the leader's records (or up to which a difference was already
    /// reported), and both logs' truncation counts then.
    isr_matched: BTreeMap<(BrokerId, BrokerId), (u64, u64, u64)>,
    /// The true high watermark: the highest HW the controller's leader of the partition has had.
    true_hw: u64,
    /// Acknowledged sends, as (offset, value), in the order the producers learnt of them.
    acked: Vec<(u64, ValueId)>,
    /// How many of `acked` were checked against the leader `acked_leader` names.
    acked_checked: usize,
    /// The leader the acknowledged records were checked against: broker, incarnation, leader
    /// epoch and the log's truncation count. Any change checks every record again.
    acked_leader: Option<(BrokerId, u32, u32, u64)>,
    /// The leader, leader epoch and true HW at which a leader short of the true HW was last
    /// reported, so that a shortfall is reported once per leader epoch, not at every append
    /// while the leader catches up.
    short_reported: Option<(BrokerId, u32, u64)>,
}

impl InvariantChecker {
    /// A checker with no history.
    pub fn new() -> InvariantChecker {
        InvariantChecker::default()
    }

    /// Every violation in the current state.
    pub fn check(&mut self, sim: &Simulation) -> Vec<Violation> {
        let mut out = Vec::new();
        sim.quorum_violations(&mut self.quorum, &mut out);
        let topics = &sim.metadata().topics;
        // A deleted topic's memory goes, so that a topic created again under its name starts
        // with no history (its epochs and offsets start from zero again).
        if self.partitions.len() > topics.len() {
            self.partitions
                .retain(|name, _| topics.contains_key(name.as_str()));
            self.names
                .retain(|name, _| topics.contains_key(name.as_str()));
        }
        self.read_acknowledgements(sim);
        // One key reused for every replica lookup, so that no name is copied per partition.
        let mut key = TopicPartition::new(String::new(), 0);
        let mut replicas: Vec<(BrokerId, &crate::broker::Broker, &crate::broker::Replica)> =
            Vec::new();
        for (name, topic) in topics {
            if !self.partitions.contains_key(&**name) {
                self.partitions.insert(name.to_string(), Vec::new());
            }
            let Some(memories) = self.partitions.get_mut(&**name) else {
                continue;
            };
            if memories.len() < topic.partitions.len() {
                memories.resize_with(topic.partitions.len(), PartitionMemory::default);
            }
            if !self.names.contains_key(&**name) {
                self.names.insert(name.to_string(), name.clone());
            }
            if let Some(shared) = self.names.get(&**name) {
                key.topic = shared.clone();
            }
            for (p, (state, memory)) in topic.partitions.iter().zip(memories.iter_mut()).enumerate()
            {
                key.partition = p as u32;
                let tp = &key;
                // LeaderInIsr.
                if let Some(leader) = state.leader {
                    if !state.isr.contains(&leader) {
                        out.push(Violation {
                            invariant: "LeaderInIsr",
                            detail: format!("{tp}: leader {leader} is not in ISR {:?}", state.isr),
                        });
                    }
                }
                // Leader epochs only increase; at most one leader per epoch.
                let latest = memory.latest_epoch.get_or_insert(state.leader_epoch);
                if state.leader_epoch < *latest {
                    out.push(Violation {
                        invariant: "LeaderEpochMonotonic",
                        detail: format!(
                            "{tp}: leader epoch went from {latest} to {}",
                            state.leader_epoch
                        ),
                    });
                }
                *latest = (*latest).max(state.leader_epoch);
                let seen = memory
                    .leaders_by_epoch
                    .entry(state.leader_epoch)
                    .or_insert(state.leader);
                if *seen != state.leader {
                    out.push(Violation {
                        invariant: "OneLeaderPerEpoch",
                        detail: format!(
                            "{tp}: epoch {} had leader {:?} and now {:?}",
                            state.leader_epoch, seen, state.leader
                        ),
                    });
                }
                // HW ≤ LEO on every replica, and LogMatching below the smaller of two HWs.
                replicas.clear();
                replicas.extend(
                    sim.brokers()
                        .iter()
                        .filter_map(|b| b.replicas.get(tp).map(|r| (b.id, b, r))),
                );
                for (b, _, r) in &replicas {
                    let log = &r.log;
                    if log.high_watermark() > log.log_end_offset() {
                        out.push(Violation {
                            invariant: "HighWatermarkBelowLogEnd",
                            detail: format!(
                                "{tp} on broker {b}: HW {} > LEO {}",
                                log.high_watermark(),
                                log.log_end_offset()
                            ),
                        });
                    }
                }
                for (x, (bx, _, rx)) in replicas.iter().enumerate() {
                    for (by, _, ry) in replicas.iter().skip(x + 1) {
                        let (lx, ly) = (&rx.log, &ry.log);
                        let upto = lx.high_watermark().min(ly.high_watermark());
                        let mut from = lx.log_start_offset().max(ly.log_start_offset());
                        let generations = (lx.truncations(), ly.truncations());
                        // One search of the map per pair and event, which also updates it.
                        let memo = memory.matched.entry((*bx, *by)).or_insert((
                            0,
                            generations.0,
                            generations.1,
                        ));
                        if (memo.1, memo.2) == generations {
                            from = from.max(memo.0);
                        }
                        let mut matched = true;
                        for offset in from..upto {
                            let (a, b) = (lx.record_at(offset), ly.record_at(offset));
                            if let (Some(a), Some(b)) = (a, b) {
                                if a.value != b.value || a.leader_epoch != b.leader_epoch {
                                    out.push(Violation {
                                        invariant: "LogMatching",
                                        detail: format!("{tp} offset {offset}: broker {bx} has {}, broker {by} has {}", a.value, b.value),
                                    });
                                    matched = false;
                                    break;
                                }
                            }
                        }
                        if matched {
                            *memo = (upto.max(from), generations.0, generations.1);
                        }
                    }
                }
                // Only brokers that run, in the incarnation the controller registered, take part
                // in StrongIsr and LeaderCompleteness (see the module documentation).
                let registered = |b: BrokerId, broker: &crate::broker::Broker| {
                    broker.alive
                        && sim.metadata().brokers.get(&b).map(|r| r.incarnation)
                            == Some(broker.incarnation)
                };
                strong_isr(tp, state, memory, &replicas, &registered, &mut out);
                leader_completeness(tp, state, memory, &replicas, &registered, &mut out);
            }
        }
        out
    }

    /// Reads the sends acknowledged since the last check into their partitions' memories.
    fn read_acknowledgements(&mut self, sim: &Simulation) {
        let operations = sim.history().operations();
        let new = operations.get(self.history_read..).unwrap_or_default();
        for operation in new {
            let Operation::Send {
                partition,
                value,
                outcome: SendOutcome::Ok { offset },
                ..
            } = operation
            else {
                continue;
            };
            let Some(topic) = sim.metadata().topics.get(&*partition.topic) else {
                continue;
            };
            if !self.partitions.contains_key(&*partition.topic) {
                self.partitions
                    .insert(partition.topic.to_string(), Vec::new());
            }
            let Some(memories) = self.partitions.get_mut(&*partition.topic) else {
                continue;
            };
            if memories.len() < topic.partitions.len() {
                memories.resize_with(topic.partitions.len(), PartitionMemory::default);
            }
            if let Some(memory) = memories.get_mut(partition.partition as usize) {
                memory.acked.push((*offset, *value));
            }
        }
        self.history_read = operations.len();
    }
}

/// One broker's replica of the partition being checked.
type ReplicaOf<'a> = (
    BrokerId,
    &'a crate::broker::Broker,
    &'a crate::broker::Replica,
);

/// StrongIsr: below the HW of every replica that presumes leadership, every registered member of
/// the controller's ISR holds the same records. Each (leader, member) pair is compared
/// incrementally from where the last check stopped, unless either log was truncated since.
fn strong_isr(
    tp: &TopicPartition,
    state: &crate::metadata::PartitionState,
    memory: &mut PartitionMemory,
    replicas: &[ReplicaOf<'_>],
    registered: &dyn Fn(BrokerId, &crate::broker::Broker) -> bool,
    out: &mut Vec<Violation>,
) {
    for &(leader, leader_broker, leader_replica) in replicas {
        if leader_replica.leader != Some(leader) || !leader_broker.alive {
            continue;
        }
        let lead = &leader_replica.log;
        let hw = lead.high_watermark();
        for &member in state.isr.iter().filter(|&&m| m != leader) {
            let Some(&(_, member_broker, member_replica)) =
                replicas.iter().find(|(b, _, _)| *b == member)
            else {
                continue;
            };
            if !registered(member, member_broker) {
                continue;
            }
            let log = &member_replica.log;
            let pair = (leader, member);
            let generations = (lead.truncations(), log.truncations());
            let mut from = lead.log_start_offset().max(log.log_start_offset());
            if let Some(&(done, gl, gm)) = memory.isr_matched.get(&pair) {
                if (gl, gm) == generations {
                    from = from.max(done);
                }
            }
            if from >= hw {
                continue;
            }
            if let Some(detail) = first_difference(lead, log, from, hw) {
                out.push(Violation {
                    invariant: "StrongIsr",
                    detail: format!(
                        "{tp}: broker {leader} leads (epoch {}) with HW {hw}, but ISR member {member} {detail}",
                        leader_replica.leader_epoch
                    ),
                });
            }
            memory
                .isr_matched
                .insert(pair, (hw, generations.0, generations.1));
        }
    }
}

/// Where `member` fails to hold `leader`'s records in `from..upto`, if anywhere. Offsets one of
/// them no longer holds (retention, compaction) are skipped; a member whose log ends early does
/// not hold what lies past its end.
fn first_difference(
    leader: &ReplicaLog,
    member: &ReplicaLog,
    from: u64,
    upto: u64,
) -> Option<String> {
    if member.log_end_offset() < upto {
        return Some(format!("ends at offset {}", member.log_end_offset()));
    }
    for offset in from..upto {
        if let (Some(a), Some(b)) = (leader.record_at(offset), member.record_at(offset)) {
            if a.value_id != b.value_id || a.leader_epoch != b.leader_epoch {
                return Some(format!(
                    "has {} (epoch {}) at offset {offset} where the leader has {} (epoch {})",
                    b.value, b.leader_epoch, a.value, a.leader_epoch
                ));
            }
        }
    }
    None
}

/// LeaderCompleteness: the controller's leader, once it runs in the leader epoch the controller
/// gave it, ends at or past the true HW and holds every acknowledged record.
fn leader_completeness(
    tp: &TopicPartition,
    state: &crate::metadata::PartitionState,
    memory: &mut PartitionMemory,
    replicas: &[ReplicaOf<'_>],
    registered: &dyn Fn(BrokerId, &crate::broker::Broker) -> bool,
    out: &mut Vec<Violation>,
) {
    let Some(leader) = state.leader else {
        return;
    };
    let Some(&(_, broker, replica)) = replicas.iter().find(|(b, _, _)| *b == leader) else {
        return;
    };
    if !registered(leader, broker)
        || replica.leader != Some(leader)
        || replica.leader_epoch != state.leader_epoch
    {
        return;
    }
    let log = &replica.log;
    memory.true_hw = memory.true_hw.max(log.high_watermark());
    let leo = log.log_end_offset();
    if leo < memory.true_hw {
        let seen = (leader, state.leader_epoch, memory.true_hw);
        if memory.short_reported != Some(seen) {
            memory.short_reported = Some(seen);
            out.push(Violation {
                invariant: "LeaderCompleteness",
                detail: format!(
                    "{tp}: leader {leader} (epoch {}) ends at offset {leo}, below the true HW {}",
                    state.leader_epoch, memory.true_hw
                ),
            });
        }
    }
    let current = Some((
        leader,
        broker.incarnation,
        state.leader_epoch,
        log.truncations(),
    ));
    if memory.acked_leader != current {
        memory.acked_leader = current;
        memory.acked_checked = 0;
    }
    let start = log.log_start_offset();
    for &(offset, value) in memory.acked.get(memory.acked_checked..).unwrap_or_default() {
        // Below the log start, retention removed the record; a gap below the log end is a
        // record compaction removed. Neither is a loss.
        let found = match log.record_at(offset) {
            _ if offset < start => continue,
            Some(r) if r.value_id == value => continue,
            None if offset < leo => continue,
            Some(r) => format!("holds {} there", r.value),
            None => format!("ends at offset {leo}"),
        };
        out.push(Violation {
            invariant: "LeaderCompleteness",
            detail: format!(
                "{tp}: a record acknowledged at offset {offset} is not in the log of leader {leader} (epoch {}), which {found}",
                state.leader_epoch
            ),
        });
        // One report per leader state is enough to show the loss.
        break;
    }
    memory.acked_checked = memory.acked.len();
}

//! The properties that must hold after every event (`RELIABILITY.md` §B), as one checker run by
//! the tests after each step. Weak settings are expected to break some of them; that is reported,
//! not hidden.

use crate::metadata::TopicPartition;
use crate::sim::Simulation;
use crate::BrokerId;
use std::collections::BTreeMap;

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
    /// What was learnt about the controller quorum.
    quorum: crate::quorum::QuorumMemory,
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
        // One key reused for every replica lookup, so that no name is copied per partition.
        let mut key = TopicPartition::new(String::new(), 0);
        let mut replicas: Vec<(BrokerId, &crate::log::ReplicaLog)> = Vec::new();
        for (name, topic) in &sim.metadata().topics {
            if !self.partitions.contains_key(name.as_str()) {
                self.partitions.insert(name.clone(), Vec::new());
            }
            let Some(memories) = self.partitions.get_mut(name.as_str()) else {
                continue;
            };
            if memories.len() < topic.partitions.len() {
                memories.resize_with(topic.partitions.len(), PartitionMemory::default);
            }
            key.topic.clear();
            key.topic.push_str(name);
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
                        .filter_map(|b| b.replicas.get(tp).map(|r| (b.id, &r.log))),
                );
                for (b, log) in &replicas {
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
                for (x, (bx, lx)) in replicas.iter().enumerate() {
                    for (by, ly) in replicas.iter().skip(x + 1) {
                        let upto = lx.high_watermark().min(ly.high_watermark());
                        let mut from = lx.log_start_offset().max(ly.log_start_offset());
                        let pair = (*bx, *by);
                        let generations = (lx.truncations(), ly.truncations());
                        if let Some(&(done, gx, gy)) = memory.matched.get(&pair) {
                            if (gx, gy) == generations {
                                from = from.max(done);
                            }
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
                            memory
                                .matched
                                .insert(pair, (upto.max(from), generations.0, generations.1));
                        }
                    }
                }
            }
        }
        out
    }
}

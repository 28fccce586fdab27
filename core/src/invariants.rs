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
    leaders_by_epoch: BTreeMap<(TopicPartition, u32), Option<BrokerId>>,
    latest_epoch: BTreeMap<TopicPartition, u32>,
    /// For each partition and pair of brokers: the offset up to which their logs were found to
    /// match, and both logs' truncation counts then. Only offsets above it are compared again,
    /// unless one of the logs was truncated since, so checking after every event stays cheap.
    matched: BTreeMap<(TopicPartition, BrokerId, BrokerId), (u64, u64, u64)>,
}

impl InvariantChecker {
    /// A checker with no history.
    pub fn new() -> InvariantChecker {
        InvariantChecker::default()
    }

    /// Every violation in the current state.
    pub fn check(&mut self, sim: &Simulation) -> Vec<Violation> {
        let mut out = Vec::new();
        for (tp, state) in sim.metadata().partitions() {
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
            let latest = self
                .latest_epoch
                .entry(tp.clone())
                .or_insert(state.leader_epoch);
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
            let seen = self
                .leaders_by_epoch
                .entry((tp.clone(), state.leader_epoch))
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
            let replicas: Vec<(BrokerId, &crate::log::ReplicaLog)> = sim
                .brokers()
                .iter()
                .filter_map(|b| b.replicas.get(&tp).map(|r| (b.id, &r.log)))
                .collect();
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
                    let key = (tp.clone(), *bx, *by);
                    let generations = (lx.truncations(), ly.truncations());
                    if let Some(&(done, gx, gy)) = self.matched.get(&key) {
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
                        self.matched
                            .insert(key, (upto.max(from), generations.0, generations.1));
                    }
                }
            }
        }
        out
    }
}

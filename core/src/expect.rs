//! Scenario expectations (`[[expect]]` in a scenario file): what must be true when a run ends,
//! checked against the final state, the invariants seen after every event and the history
//! checker's report. A lesson states its claim ("acks=1 loses acknowledged records here") and the
//! test command proves it.

use crate::error::{Error, ErrorKind, Result};
use crate::history::{AnomalyKind, HistoryReport};
use crate::invariants::Violation;
use crate::metadata::TopicPartition;
use crate::sim::Simulation;
use crate::BrokerId;
use serde::{Deserialize, Serialize};

/// Every expectation kind a scenario may use.
pub const KINDS: &[&str] = &[
    "leader",
    "offline",
    "isr",
    "replicas",
    "logs-match",
    "invariant",
    "anomaly",
    "produce-error",
    "log-end-offset",
    "leader-log-end-offset",
    "log-start-offset",
    "record-count",
    "active-controller",
    "group",
    "assignment",
    "consumed",
];

/// One `[[expect]]` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// What is checked (see [`KINDS`]).
    pub kind: String,
    /// The topic, for partition expectations.
    pub topic: Option<String>,
    /// The partition, for partition expectations.
    pub partition: Option<u32>,
    /// The broker: the expected leader, or whose log end offset is checked.
    pub broker: Option<BrokerId>,
    /// The expected ISR, in any order.
    pub brokers: Option<Vec<BrokerId>>,
    /// The invariant (`LogMatching`, …, or `any`), anomaly (`lost-write`, …, or `any-error`)
    /// or produce error (`NOT_ENOUGH_REPLICAS`, …) named.
    pub name: Option<String>,
    /// For `logs-match` and `invariant`: whether it holds (default true).
    pub holds: Option<bool>,
    /// For `anomaly` and `produce-error`: whether it occurs (default true).
    pub present: Option<bool>,
    /// For `log-end-offset`: the expected offset; for `log-start-offset`: the least expected.
    pub offset: Option<u64>,
    /// For `record-count`: the most records the leader's log may hold.
    pub count: Option<u64>,
    /// For `leader-log-end-offset`: the least log end offset expected.
    #[serde(default)]
    pub at_least: Option<u64>,
    /// For `leader-log-end-offset`: the greatest log end offset expected.
    #[serde(default)]
    pub at_most: Option<u64>,
    /// For `active-controller`: the controller expected to be active; omit it to accept any.
    #[serde(default)]
    pub controller: Option<BrokerId>,
    /// For `group`: the `group.id`.
    #[serde(default)]
    pub group: Option<String>,
    /// For `group`: the expected generation.
    #[serde(default)]
    pub generation: Option<i32>,
    /// For `group`: the expected number of members.
    #[serde(default)]
    pub members: Option<usize>,
    /// For `group`: the expected state (`Stable`, `Empty`, …).
    #[serde(default)]
    pub state: Option<String>,
    /// For `assignment` and `consumed`: the consumer's client id.
    #[serde(default)]
    pub consumer: Option<String>,
    /// When to check, in simulated milliseconds; omitted means at the end of the run. The
    /// history is checked without the final drain at an earlier time.
    pub at_ms: Option<u64>,
}

/// What a finished run offers for checking.
pub struct RunResult<'a> {
    /// The simulation at the end.
    pub sim: &'a Simulation,
    /// Every invariant violation seen after any event.
    pub violations: &'a [Violation],
    /// The history checker's report, after the final drain.
    pub history: &'a HistoryReport,
}

fn bad(field: &str, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Scenario, format!("{field}: {}", message.into()))
}

impl Expectation {
    /// Checks the fields this kind needs, naming the first one missing or wrong.
    pub fn validate(&self, field: &str) -> Result<()> {
        let need_tp = || -> Result<()> {
            if self.topic.is_none() {
                return Err(bad(
                    &format!("{field}.topic"),
                    format!("is required for {}.", self.kind),
                ));
            }
            if self.partition.is_none() {
                return Err(bad(
                    &format!("{field}.partition"),
                    format!("is required for {}.", self.kind),
                ));
            }
            Ok(())
        };
        match self.kind.as_str() {
            "leader" => {
                need_tp()?;
                if self.broker.is_none() {
                    return Err(bad(&format!("{field}.broker"), "is required for leader."));
                }
            }
            "offline" | "logs-match" => need_tp()?,
            "isr" | "replicas" => {
                need_tp()?;
                if self.brokers.is_none() {
                    return Err(bad(
                        &format!("{field}.brokers"),
                        format!("is required for {}.", self.kind),
                    ));
                }
            }
            "log-end-offset" => {
                need_tp()?;
                if self.broker.is_none() || self.offset.is_none() {
                    return Err(bad(field, "log-end-offset needs broker and offset."));
                }
            }
            "leader-log-end-offset" => {
                need_tp()?;
                if self.at_least.is_none() && self.at_most.is_none() {
                    return Err(bad(
                        &format!("{field}.at_least"),
                        "leader-log-end-offset needs at_least, at_most or both.",
                    ));
                }
                if let (Some(low), Some(high)) = (self.at_least, self.at_most) {
                    if low > high {
                        return Err(bad(
                            &format!("{field}.at_most"),
                            format!("{high} is below at_least ({low}), so nothing could hold."),
                        ));
                    }
                }
            }
            "log-start-offset" => {
                need_tp()?;
                if self.offset.is_none() {
                    return Err(bad(
                        &format!("{field}.offset"),
                        "is required for log-start-offset.",
                    ));
                }
            }
            "record-count" => {
                need_tp()?;
                if self.count.is_none() {
                    return Err(bad(
                        &format!("{field}.count"),
                        "is required for record-count.",
                    ));
                }
            }
            "invariant" => match self.name.as_deref() {
                Some("any") => {}
                Some(n) if crate::invariants::NAMES.contains(&n) => {}
                // A misspelt name would never be violated, so the expectation would hold
                // whatever happened.
                _ => {
                    return Err(bad(
                        &format!("{field}.name"),
                        format!(
                            "name an invariant ({}) or any.",
                            crate::invariants::NAMES.join(", ")
                        ),
                    ));
                }
            },
            "anomaly" => match self.name.as_deref() {
                Some("any-error") => {}
                Some(n) if AnomalyKind::ALL.iter().any(|k| k.name() == n) => {}
                other => {
                    return Err(bad(
                        &format!("{field}.name"),
                        format!(
                            "'{}' is no anomaly; use any-error or one of {}.",
                            other.unwrap_or(""),
                            AnomalyKind::ALL
                                .iter()
                                .map(|k| k.name())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ))
                }
            },
            "active-controller" => {
                if self.present == Some(false) && self.controller.is_some() {
                    return Err(bad(
                        &format!("{field}.controller"),
                        "names a controller, but present = false expects none to be active.",
                    ));
                }
            }
            "group" => {
                if self.group.is_none() {
                    return Err(bad(&format!("{field}.group"), "is required for group."));
                }
                if self.generation.is_none() && self.members.is_none() && self.state.is_none() {
                    return Err(bad(
                        &format!("{field}.generation"),
                        "group needs generation, members, state or several of them.",
                    ));
                }
                if let Some(state) = &self.state {
                    let known = [
                        "Empty",
                        "PreparingRebalance",
                        "CompletingRebalance",
                        "Stable",
                        "Dead",
                    ];
                    if !known.contains(&state.as_str()) {
                        return Err(bad(
                            &format!("{field}.state"),
                            format!(
                                "'{state}' is no group state; use one of {}.",
                                known.join(", ")
                            ),
                        ));
                    }
                }
            }
            "assignment" | "consumed" => {
                if self.consumer.is_none() {
                    return Err(bad(
                        &format!("{field}.consumer"),
                        format!("is required for {}.", self.kind),
                    ));
                }
                if self.kind == "assignment" && self.count.is_none() {
                    return Err(bad(
                        &format!("{field}.count"),
                        "is required for assignment.",
                    ));
                }
                if self.kind == "consumed" && self.at_least.is_none() && self.at_most.is_none() {
                    return Err(bad(
                        &format!("{field}.at_least"),
                        "consumed needs at_least, at_most or both.",
                    ));
                }
            }
            "produce-error" => {
                if self.name.is_none() {
                    return Err(bad(
                        &format!("{field}.name"),
                        "name a Kafka error, e.g. NOT_ENOUGH_REPLICAS.",
                    ));
                }
            }
            other => {
                return Err(bad(
                    &format!("{field}.kind"),
                    format!(
                        "unknown expectation '{other}'; use one of {}.",
                        KINDS.join(", ")
                    ),
                ))
            }
        }
        Ok(())
    }

    fn tp(&self) -> TopicPartition {
        TopicPartition::new(
            self.topic.clone().unwrap_or_default(),
            self.partition.unwrap_or(0),
        )
    }

    /// A one-line statement of the expectation, for reports.
    pub fn describe(&self) -> String {
        match self.at_ms {
            Some(t) => format!("at {} ms, {}", t, self.describe_claim()),
            None => self.describe_claim(),
        }
    }

    fn describe_claim(&self) -> String {
        let tp = self.tp();
        let not = |b: Option<bool>| if b.unwrap_or(true) { "" } else { "no " };
        match self.kind.as_str() {
            "leader" => format!("the leader of {tp} is broker {}", self.broker.unwrap_or(-1)),
            "offline" if self.present == Some(false) => format!("{tp} has a leader"),
            "offline" => format!("{tp} has no leader"),
            "isr" => format!(
                "the ISR of {tp} is {:?}",
                self.brokers.clone().unwrap_or_default()
            ),
            "replicas" => format!(
                "the replicas of {tp} are {:?}, and only those brokers hold a copy",
                self.brokers.clone().unwrap_or_default()
            ),
            "logs-match" => format!(
                "the replicas of {tp} {} identical logs",
                if self.holds.unwrap_or(true) {
                    "end with"
                } else {
                    "do not end with"
                }
            ),
            "log-start-offset" => format!(
                "the leader's log of {tp} starts at offset {} or later",
                self.offset.unwrap_or(0)
            ),
            "record-count" => format!(
                "the leader's log of {tp} holds at most {} records",
                self.count.unwrap_or(0)
            ),
            "leader-log-end-offset" => match (self.at_least, self.at_most) {
                (Some(low), Some(high)) => {
                    format!("the leader's log end offset of {tp} is between {low} and {high}")
                }
                (Some(low), None) => {
                    format!("the leader's log end offset of {tp} is at least {low}")
                }
                (None, high) => format!(
                    "the leader's log end offset of {tp} is at most {}",
                    high.unwrap_or(0)
                ),
            },
            "log-end-offset" => format!(
                "broker {}'s log end offset of {tp} is {}",
                self.broker.unwrap_or(-1),
                self.offset.unwrap_or(0)
            ),
            "invariant" => format!(
                "invariant {} {}",
                self.name.clone().unwrap_or_default(),
                if self.holds.unwrap_or(true) {
                    "holds after every event"
                } else {
                    "is broken at least once"
                }
            ),
            "anomaly" => format!(
                "{}{} anomaly in the history",
                not(self.present),
                self.name.clone().unwrap_or_default()
            ),
            "active-controller" => match (self.present.unwrap_or(true), self.controller) {
                (false, _) => "no controller is active".to_string(),
                (true, Some(c)) => format!("controller {c} is the active controller"),
                (true, None) => "some controller is active".to_string(),
            },
            "group" => {
                let mut parts = Vec::new();
                if let Some(s) = &self.state {
                    parts.push(format!("is {s}"));
                }
                if let Some(g) = self.generation {
                    parts.push(format!("is in generation {g}"));
                }
                if let Some(m) = self.members {
                    parts.push(format!("has {m} member(s)"));
                }
                format!(
                    "group {} {}",
                    self.group.clone().unwrap_or_default(),
                    parts.join(" and ")
                )
            }
            "assignment" => format!(
                "{} owns {} partition(s)",
                self.consumer.clone().unwrap_or_default(),
                self.count.unwrap_or(0)
            ),
            "consumed" => format!(
                "{} consumed {} records",
                self.consumer.clone().unwrap_or_default(),
                match (self.at_least, self.at_most) {
                    (Some(l), Some(h)) => format!("between {l} and {h}"),
                    (Some(l), None) => format!("at least {l}"),
                    (None, h) => format!("at most {}", h.unwrap_or(0)),
                }
            ),
            "produce-error" => format!(
                "{}{} error seen by a producer",
                not(self.present),
                self.name.clone().unwrap_or_default()
            ),
            other => other.to_string(),
        }
    }

    /// Whether the expectation is met; the error says what was found instead.
    pub fn check(&self, run: &RunResult<'_>) -> std::result::Result<(), String> {
        let tp = self.tp();
        let state = run.sim.metadata().partition(&tp).cloned();
        let found = |ok: bool, what: String| if ok { Ok(()) } else { Err(what) };
        match self.kind.as_str() {
            "leader" => {
                let leader = state.and_then(|s| s.leader);
                found(leader == self.broker, format!("the leader is {leader:?}"))
            }
            "group" => {
                let id = self.group.clone().unwrap_or_default();
                let Some(group) = run.sim.group(&id) else {
                    return Err(format!("no broker coordinates group {id}"));
                };
                let ok = self.generation.is_none_or(|g| g == group.generation_id)
                    && self.members.is_none_or(|m| m == group.members.len())
                    && self
                        .state
                        .as_deref()
                        .is_none_or(|s| s == group.state.name());
                found(
                    ok,
                    format!(
                        "it is {} in generation {} with {} member(s)",
                        group.state,
                        group.generation_id,
                        group.members.len()
                    ),
                )
            }
            "assignment" | "consumed" => {
                let name = self.consumer.clone().unwrap_or_default();
                let Some(c) = run
                    .sim
                    .consumers()
                    .iter()
                    .find(|c| c.spec.client_id == name)
                else {
                    return Err(format!("there is no consumer {name}"));
                };
                if self.kind == "assignment" {
                    let owned = c.membership.as_ref().map_or(0, |m| m.assigned.len() as u64);
                    found(Some(owned) == self.count, format!("it owns {owned}"))
                } else {
                    let n = c.consumed;
                    let ok =
                        self.at_least.is_none_or(|l| n >= l) && self.at_most.is_none_or(|h| n <= h);
                    found(ok, format!("it consumed {n}"))
                }
            }
            "active-controller" => {
                let active = run.sim.active_controller();
                let ok = match (self.present.unwrap_or(true), self.controller) {
                    (false, _) => active.is_none(),
                    (true, Some(c)) => active == Some(c),
                    (true, None) => active.is_some(),
                };
                found(ok, format!("the active controller is {active:?}"))
            }
            "offline" => {
                let leader = state.as_ref().and_then(|s| s.leader);
                let want_offline = self.present.unwrap_or(true);
                let exists = state.is_some();
                found(
                    exists && leader.is_none() == want_offline,
                    format!("the leader is {leader:?}"),
                )
            }
            "isr" => {
                let mut isr = state.map(|s| s.isr).unwrap_or_default();
                isr.sort_unstable();
                let mut want = self.brokers.clone().unwrap_or_default();
                want.sort_unstable();
                found(isr == want, format!("the ISR is {isr:?}"))
            }
            "replicas" => {
                let assigned = state.map(|s| s.replicas).unwrap_or_default();
                let mut holding: Vec<BrokerId> = run
                    .sim
                    .brokers()
                    .iter()
                    .filter(|b| b.replicas.contains_key(&tp))
                    .map(|b| b.id)
                    .collect();
                holding.sort_unstable();
                let mut want = self.brokers.clone().unwrap_or_default();
                let ok = assigned == want && {
                    want.sort_unstable();
                    holding == want
                };
                found(
                    ok,
                    format!("the replicas are {assigned:?} and brokers {holding:?} hold a copy"),
                )
            }
            "log-start-offset" | "record-count" | "leader-log-end-offset" => {
                let leader = state.and_then(|s| s.leader);
                let log = run
                    .sim
                    .brokers()
                    .iter()
                    .find(|b| Some(b.id) == leader)
                    .and_then(|b| b.replicas.get(&tp))
                    .map(|r| &r.log);
                let Some(log) = log else {
                    return Err("the partition has no leader holding a log".to_string());
                };
                if self.kind == "leader-log-end-offset" {
                    let end = log.log_end_offset();
                    let ok = self.at_least.is_none_or(|low| end >= low)
                        && self.at_most.is_none_or(|high| end <= high);
                    found(ok, format!("it is {end}"))
                } else if self.kind == "log-start-offset" {
                    let start = log.log_start_offset();
                    found(
                        start >= self.offset.unwrap_or(0),
                        format!("it starts at {start}"),
                    )
                } else {
                    let n = log.records().len() as u64;
                    found(n <= self.count.unwrap_or(0), format!("it holds {n}"))
                }
            }
            "log-end-offset" => {
                let leo = run
                    .sim
                    .brokers()
                    .iter()
                    .find(|b| Some(b.id) == self.broker)
                    .and_then(|b| b.replicas.get(&tp))
                    .map(|r| r.log.log_end_offset());
                found(leo == self.offset, format!("it is {leo:?}"))
            }
            "logs-match" => {
                let logs: Vec<(BrokerId, Vec<(u64, u64)>)> = run
                    .sim
                    .brokers()
                    .iter()
                    .filter_map(|b| {
                        let r = b.replicas.get(&tp)?;
                        Some((
                            b.id,
                            r.log.records().map(|x| (x.offset, x.value_id)).collect(),
                        ))
                    })
                    .collect();
                // Logs match when they agree on every offset both hold: a follower that is merely
                // behind still matches, one that kept other records at the same offsets does not.
                let first_difference = logs.iter().enumerate().find_map(|(i, (bx, lx))| {
                    logs[i + 1..].iter().find_map(|(by, ly)| {
                        let y: std::collections::BTreeMap<u64, u64> = ly.iter().copied().collect();
                        lx.iter()
                            .find(|(o, v)| y.get(o).is_some_and(|w| w != v))
                            .map(|(o, _)| {
                                format!(
                                    "brokers {bx} and {by} hold different records at offset {o}"
                                )
                            })
                    })
                });
                let holds = first_difference.is_none();
                found(
                    holds == self.holds.unwrap_or(true),
                    first_difference.unwrap_or_else(|| "the logs agree".to_string()),
                )
            }
            "invariant" => {
                let name = self.name.as_deref().unwrap_or("any");
                let broken: Vec<&Violation> = run
                    .violations
                    .iter()
                    .filter(|v| name == "any" || v.invariant == name)
                    .collect();
                let holds = broken.is_empty();
                found(
                    holds == self.holds.unwrap_or(true),
                    match broken.first() {
                        Some(v) => format!(
                            "{} violation(s), first: {}: {}",
                            broken.len(),
                            v.invariant,
                            v.detail
                        ),
                        None => "it was never violated".to_string(),
                    },
                )
            }
            "anomaly" => {
                let name = self.name.as_deref().unwrap_or("any-error");
                let seen: Vec<_> = run
                    .history
                    .anomalies
                    .iter()
                    .filter(|a| {
                        if name == "any-error" {
                            a.kind.is_error()
                        } else {
                            a.kind.name() == name
                        }
                    })
                    .collect();
                let present = !seen.is_empty();
                found(
                    present == self.present.unwrap_or(true),
                    match seen.first() {
                        Some(a) => format!(
                            "{} found, first: {}",
                            seen.len(),
                            a.explain_named(&|v| run.sim.value_name(v), &|c| run
                                .sim
                                .consumer_name(c))
                        ),
                        None => "none found".to_string(),
                    },
                )
            }
            "produce-error" => {
                let name = self.name.as_deref().unwrap_or("");
                let count: u64 = run
                    .sim
                    .producers()
                    .iter()
                    .map(|p| p.stats.errors_by_name.get(name).copied().unwrap_or(0))
                    .sum();
                found(
                    (count > 0) == self.present.unwrap_or(true),
                    format!("{count} seen"),
                )
            }
            other => Err(format!("unknown expectation '{other}'")),
        }
    }
}

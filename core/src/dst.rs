//! Deterministic simulation testing (`RELIABILITY.md` §D): from a seed, a random cluster, a random
//! workload and a random fault schedule, run with the invariants checked after every event and
//! the history checked at the end, twice, with the two trace hashes compared.
//!
//! This is the engine of `kafka-sim check`. It builds nothing of its own: a seed becomes a
//! [`Workload`] (cluster size, broker, topic, producer and consumer configs by their Kafka names,
//! and a timeline of [`Command`]s), the workload becomes a [`Simulation`], and the run is judged by
//! the [`InvariantChecker`] and the history checker ([`crate::history`]). Every random choice
//! draws from a [`SimRng`] seeded with the seed, so `kafka-sim check --start S --seeds 1` replays
//! seed `S` exactly, on any host.
//!
//! # What a run looks like
//!
//! - 0 s: 3 to 5 brokers, one or two topics (1 to 6 partitions, replication factor 2 or 3), one or
//!   two producers (20 to 60 records/s, keyed or not), one consumer reading from the earliest
//!   offset. `replica.lag.time.max.ms` is small (0.5 to 4 s) so that ISRs shrink and grow under
//!   the faults, and sockets time out within seconds so that fetchers recover after a heal.
//!   About a third of the seeds turn eligible leader replicas (KIP-966) on.
//! - From 1.5 to 4 s, in about a third of the seeds: one targeted pattern, a known-bug trace of
//!   `RELIABILITY.md` §C aimed at one partition's leader and followers (see
//!   `Workload::targeted_pattern`), so that every legacy rule shows its anomaly in some seeds.
//! - From then until [`FAULT_WINDOW_END_MS`]: random faults: kills, lossy crashes, clean
//!   shutdowns, restarts, two-way partitions, one-way cuts, isolation, latency, message drops,
//!   slow followers, bursts of records and changes of `replica.lag.time.max.ms`. Most faults are
//!   undone a few seconds later.
//! - [`FAULT_WINDOW_END_MS`]: everything is healed, every latency, drop rate and slow follower
//!   cleared, and every stopped broker restarted (again every 2 s, for brokers whose controlled
//!   shutdown was still under way).
//! - [`TRAFFIC_END_MS`]: the producers stop, so that what they have in flight completes.
//! - [`DRAIN_AT_MS`]: the final drain reads every partition from its start
//!   ([`Simulation::drain_history`]) and the history is checked. A cluster that has not settled
//!   by then (a partition without a live leader, or whose leader's high watermark is below its
//!   log end, as when a ZooKeeper session of up to 24 s keeps a restarted broker out of the ISR
//!   and `min.insync.replicas` freezes the high watermark) gets another second at a time, up to
//!   [`DRAIN_DEADLINE_MS`]: an acknowledged record that is merely not yet readable is not lost.
//!
//! # Which checks must hold
//!
//! A seed is *strong* when every row of this table holds for the whole run, and *weak* otherwise
//! ([`Workload::classify`] gives the reasons):
//!
//! | setting | strong | why |
//! |---|---|---|
//! | `min.insync.replicas`, capped at the replication factor | ≥ 2 for every topic | an acknowledged record is on at least two replicas |
//! | producer `acks` | `all` for every producer | `acks=1` acknowledges what only the leader has (`RELIABILITY.md` §B.3, §B.4) |
//! | `enable.idempotence` | `true` for every producer | without it a retry after a lost response writes a duplicate |
//! | `unclean.leader.election.enable` | `false`, for the cluster and every topic | an unclean leader truncates acknowledged records away (§B.5) |
//! | `sim.legacy.follower.truncation` | `leader-epoch` (KIP-279) | the older rules lose or diverge committed records (traces T1, T2, T4) |
//! | `sim.legacy.hw.ignores.pending.isr` | `false` (maximal ISR) | trace T6 |
//! | `sim.legacy.unfenced.fetch` | `false` (KIP-320) | trace T5: a follower in an old epoch counts towards the HW |
//! | crashes ([`Command::CrashBroker`]) | none, unless `log.flush.interval.messages=1`, or `eligible.leader.replicas.enable=true` with at most `min.insync.replicas − 1` crashes and not `sim.legacy.quick.restart.keeps.isr` | a crash loses the unflushed suffix, acknowledged records included; see below |
//! | controller kills and crashes, `sim.metadata.mode` | any: KRaft controllers are killed or crashed and restarted, and about one seed in eight runs in ZooKeeper mode (never with ELR) | the quorum flushes before it acknowledges and commits on a majority, and a ZooKeeper controller writes only while it holds `/controller`; failovers cost availability, not data |
//!
//! Under strong settings everything must hold:
//! - every invariant of [`InvariantChecker`] after every event: LeaderInIsr,
//!   LeaderEpochMonotonic, OneLeaderPerEpoch, HighWatermarkBelowLogEnd, LogMatching, StrongIsr
//!   (the ISR holds what every presumed leader counts as committed) and LeaderCompleteness (the
//!   leader reaches the true high watermark and holds every acknowledged record);
//! - no anomaly in the history (`history::HistoryReport::is_valid`): no lost write, no
//!   inconsistent offsets, no duplicate, no aborted read, no skipped or repeated poll, no
//!   non-monotonic send (a group's `duplicate-delivery` is at-least-once delivery, no error,
//!   and the workload's consumer assigns itself its partitions, so it never shows one);
//! - every partition has a live leader at the final drain, so that no acknowledged value stays
//!   unseen.
//!
//! Under weak settings only the invariants that no setting may break must hold: LeaderInIsr,
//! LeaderEpochMonotonic, OneLeaderPerEpoch and HighWatermarkBelowLogEnd ([`ALWAYS_TRUE`]). Lost
//! writes, divergence and duplicates are what those settings are known to allow, and so are
//! broken LogMatching, StrongIsr and LeaderCompleteness: `RELIABILITY.md` §B wants weak settings
//! to show those breaks, not hide them, so a weak seed reports them as findings
//! ([`SeedReport::findings`]), and `kafka-sim check` counts them, without failing.
//!
//! Both kinds must be deterministic: a second run of the same seed (without the checks, which
//! only read the world) must end with the same [`Simulation::trace_hash`].
//!
//! ## Lossy crashes and eligible leader replicas
//!
//! `RELIABILITY.md` §B.9 sets the target of zero committed loss with up to
//! `min.insync.replicas − 1` lossy crashes, *with eligible leader replicas* (KIP-966). With them
//! the leader advances the high watermark only while the ISR has at least
//! `min.insync.replicas` members, so every committed record is on that many replicas, each in
//! the ISR or, once it left the ISR below that size, in the ELR; a replica that restarts after
//! an unclean shutdown (a crash or a kill) leaves the ISR and the ELR when it registers again,
//! so it is never elected with a log it may have lost records of. With at most
//! `min.insync.replicas − 1` crashes, a replica holding every committed record therefore stays
//! electable, and a seed with ELR and that many crashes is strong. Seeds with ELR draw it in
//! seven of ten workloads aimed at strong settings, and the first thousand seeds lose nothing.
//! ELR pays in availability instead: when the ISR and the ELR have both emptied, the partition
//! stays offline (the simulator does not model `LastKnownElr` or unclean recovery), which a
//! seed reports as a finding, not a failure (`RunOutcome::eligible_leader_replicas`). More
//! crashes than that, or `sim.legacy.quick.restart.keeps.isr` (a crashed broker that restarts
//! keeps its ISR membership), make a seed weak.
//!
//! Without ELR, trace T7 applies: once a replica has lost its unflushed suffix, the other ISR
//! members can leave the ISR (a controlled shutdown, a fast bounce, a fence) before the
//! controller notices the crash, the crashed replica is left as the only ISR member, it is
//! elected when it returns, and the others truncate the acknowledged records away. One lossy
//! crash is enough, so such a seed is weak. The scenario `t7-last-replica-standing.toml`
//! (variant `without-elr`) shows the loss; random faults rarely line it up (none of the first
//! 1,000 seeds fails with `--expect strong` for that reason alone), so the classification
//! rests on the trace rather than on a seed.
//! Strong workloads that set `log.flush.interval.messages=1` crash brokers too: their crashes
//! lose nothing, so they stay strong.

use crate::config::TopicConfig;
use crate::config::{Acks, BrokerConfig, ConsumerConfig, FollowerTruncation, ProducerConfig};
use crate::consumer::ConsumerSpec;
use crate::error::Result;
use crate::event::Event;
use crate::history::{AnomalyKind, HistoryReport};
use crate::invariants::{InvariantChecker, Violation};
use crate::network::NodeId;
use crate::producer::ProducerSpec;
use crate::rng::SimRng;
use crate::sim::{Command, Simulation, CONTROLLER_ID};
use crate::time::SimTime;
use crate::BrokerId;
use serde::Serialize;
use std::fmt;

/// When the last random fault may happen; at this time everything is healed and restarted.
pub const FAULT_WINDOW_END_MS: u64 = 48_000;
/// When the producers stop.
pub const TRAFFIC_END_MS: u64 = 60_000;
/// When the final drain reads every partition and the history is checked.
pub const DRAIN_AT_MS: u64 = 72_000;
/// The latest time the final drain waits for the cluster to settle (see [`DRAIN_AT_MS`]).
pub const DRAIN_DEADLINE_MS: u64 = 120_000;
/// The invariants that must hold under any settings.
pub const ALWAYS_TRUE: &[&str] = &[
    "LeaderInIsr",
    "LeaderEpochMonotonic",
    "OneLeaderPerEpoch",
    "HighWatermarkBelowLogEnd",
];

/// Which checks a run must pass (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Strength {
    /// Nothing acknowledged may be lost and every invariant must hold.
    Strong,
    /// Only the invariants in [`ALWAYS_TRUE`] must hold.
    Weak,
}

impl fmt::Display for Strength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strength::Strong => "strong",
            Strength::Weak => "weak",
        })
    }
}

/// A generated topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TopicPlan {
    /// The topic's name.
    pub name: String,
    /// Its partition count.
    pub partitions: u32,
    /// Its replication factor.
    pub replication_factor: u32,
    /// Topic configs by Kafka name, in the order they are set.
    pub config: Vec<(String, String)>,
}

/// A generated producer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProducerPlan {
    /// Its `client.id`.
    pub client_id: String,
    /// The topic it writes.
    pub topic: String,
    /// Records per simulated second.
    pub rate_per_sec: u32,
    /// Number of distinct keys; 0 for null keys.
    pub keys: u32,
    /// Producer configs by Kafka name, in the order they are set.
    pub config: Vec<(String, String)>,
}

/// Everything one seed runs: the cluster, its clients and the timeline of commands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Workload {
    /// The seed it was generated from; the simulation is seeded with it too.
    pub seed: u64,
    /// Number of brokers (ids 1..=n).
    pub brokers: u32,
    /// Cluster configs by Kafka name, in the order they are set.
    pub broker_config: Vec<(String, String)>,
    /// The topics.
    pub topics: Vec<TopicPlan>,
    /// The producers.
    pub producers: Vec<ProducerPlan>,
    /// The topic the one consumer reads.
    pub consumer_topic: String,
    /// Consumer configs by Kafka name.
    pub consumer_config: Vec<(String, String)>,
    /// Commands and when to apply them, in time order (equal times keep their order).
    pub timeline: Vec<(SimTime, Command)>,
}

/// A uniform choice from a non-empty slice. The index is drawn as a `u64` below the slice's
/// length, never as a `usize`, so that 32-bit and 64-bit hosts draw the same stream.
fn pick<T: Copy>(rng: &mut SimRng, items: &[T]) -> T {
    items[rng.below(items.len() as u64) as usize]
}

/// True with a chance of `per_cent` in a hundred.
fn chance(rng: &mut SimRng, per_cent: u64) -> bool {
    rng.below(100) < per_cent
}

fn pair(name: &str, value: impl ToString) -> (String, String) {
    (name.to_string(), value.to_string())
}

impl Workload {
    /// The workload of `seed`. Three seeds in five draw settings meant to be strong and the rest
    /// draw any valid settings, so that both kinds are exercised; [`Workload::classify`] then
    /// judges the settings actually drawn.
    pub fn generate(seed: u64) -> Workload {
        // A generator of its own, separate from the simulation's: the workload is fixed before
        // the simulation draws anything, and the same seed gives the same workload.
        let mut rng = SimRng::from_seed(seed ^ 0x6473_745f_776f_726b);
        let aim_strong = chance(&mut rng, 60);
        let brokers = rng.between(3, 5) as u32;

        let lag_ms = rng.between(500, 4_000);
        let heartbeat_ms = pick(&mut rng, &[250, 500, 1_000, 2_000]);
        let session_ms = heartbeat_ms * rng.between(3, 6);
        let fetch_wait_ms = rng.between(50, 500);
        let socket_ms = rng.between(1_500, 6_000);
        let mut broker_config = vec![
            pair("replica.lag.time.max.ms", lag_ms),
            pair("broker.heartbeat.interval.ms", heartbeat_ms),
            pair("broker.session.timeout.ms", session_ms),
            pair("replica.fetch.wait.max.ms", fetch_wait_ms),
            pair("replica.socket.timeout.ms", socket_ms),
            pair("sim.os.writeback.interval.ms", rng.between(500, 5_000)),
            pair("sim.network.latency.us", rng.between(200, 3_000)),
            pair("sim.network.jitter.us", rng.between(0, 2_000)),
        ];
        if !aim_strong && chance(&mut rng, 30) {
            broker_config.push(pair("unclean.leader.election.enable", "true"));
        }
        // Some strong workloads fsync every record, so that their crashes lose nothing and the
        // crash path is exercised under strong expectations too.
        if aim_strong && chance(&mut rng, 30) {
            broker_config.push(pair("log.flush.interval.messages", 1));
        }
        // Eligible leader replicas (KIP-966) in some seeds: with them, lossy crashes within
        // min.insync.replicas − 1 are a strong setting (see the module documentation).
        if chance(&mut rng, 35) {
            broker_config.push(pair("eligible.leader.replicas.enable", "true"));
        } else if chance(&mut rng, 20) {
            // ZooKeeper mode in some seeds (Kafka never had ELR with ZooKeeper), with a session
            // timeout scaled like the KRaft one so that failures are noticed within the run.
            broker_config.push(pair("sim.metadata.mode", "zookeeper"));
            broker_config.push(pair("zookeeper.session.timeout.ms", session_ms * 2));
        }

        let topic_count = rng.between(1, 2);
        let mut topics = Vec::new();
        for t in 0..topic_count {
            let replication_factor = if aim_strong && chance(&mut rng, 80) {
                3
            } else {
                rng.between(2, 3) as u32
            };
            let min_isr = if aim_strong {
                rng.between(2, u64::from(replication_factor))
            } else {
                rng.between(1, 3)
            };
            let mut config = vec![pair("min.insync.replicas", min_isr)];
            if !aim_strong && chance(&mut rng, 30) {
                config.push(pair("unclean.leader.election.enable", "true"));
            }
            topics.push(TopicPlan {
                name: format!("t{t}"),
                partitions: rng.between(1, 6) as u32,
                replication_factor,
                config,
            });
        }

        let producer_count = rng.between(1, 2);
        let mut producers = Vec::new();
        for p in 0..producer_count {
            let acks_all = aim_strong || chance(&mut rng, 40);
            let request_timeout_ms = rng.between(1_000, 10_000);
            let config = vec![
                pair("acks", if acks_all { "all" } else { "1" }),
                pair("enable.idempotence", acks_all),
                pair("linger.ms", rng.between(0, 20)),
                pair("request.timeout.ms", request_timeout_ms),
                pair("retry.backoff.ms", rng.between(50, 500)),
            ];
            // At most 120 records/s in total for 60 s, plus bursts, stays below the 10,000
            // records a replica keeps even when every record goes to one partition: retention
            // must never delete what the consumer has not read, or the history would count it
            // lost. (A partition offline for 40 s and then flooded with the producers' backlog
            // did exactly that at up to 300 records/s.)
            producers.push(ProducerPlan {
                client_id: format!("p{p}"),
                topic: format!("t{}", rng.below(topic_count)),
                rate_per_sec: rng.between(20, 60) as u32,
                keys: pick(&mut rng, &[0, 1, 4, 16]),
                config,
            });
        }
        let consumer_topic = format!("t{}", rng.below(topic_count));
        let consumer_config = vec![
            pair("auto.offset.reset", "earliest"),
            pair("fetch.max.wait.ms", rng.between(50, 500)),
            pair("request.timeout.ms", rng.between(2_000, 10_000)),
            pair("retry.backoff.ms", rng.between(50, 500)),
        ];

        let mut workload = Workload {
            seed,
            brokers,
            broker_config,
            topics,
            producers,
            consumer_topic,
            consumer_config,
            timeline: Vec::new(),
        };
        workload.timeline = workload.faults(&mut rng, aim_strong);
        workload
    }

    /// The random fault schedule, then the recovery: heal, clear, restart, stop producing.
    fn faults(&self, rng: &mut SimRng, aim_strong: bool) -> Vec<(SimTime, Command)> {
        let brokers: Vec<BrokerId> = (1..=self.brokers as BrokerId).collect();
        let mut nodes: Vec<NodeId> = brokers.iter().map(|&b| NodeId::Broker(b)).collect();
        let zookeeper = self
            .broker_config
            .iter()
            .any(|(n, v)| n == "sim.metadata.mode" && v == "zookeeper");
        // The quorum's voters, or the ZooKeeper ensemble, are network nodes faults may hit.
        let controllers: Vec<BrokerId> = if zookeeper {
            nodes.push(NodeId::ZooKeeper);
            Vec::new()
        } else {
            let ids: Vec<BrokerId> = (0..crate::sim::DEFAULT_CONTROLLERS as BrokerId)
                .map(|i| CONTROLLER_ID + i)
                .collect();
            nodes.extend(ids.iter().map(|&c| NodeId::Controller(c)));
            ids
        };
        let producers = self.producers.len() as u32;
        let clients: Vec<NodeId> = (0..producers)
            .map(NodeId::Producer)
            .chain([NodeId::Consumer(0)])
            .collect();
        let any_node: Vec<NodeId> = nodes.iter().chain(&clients).copied().collect();
        // Workloads aimed at strong settings crash at most min.insync.replicas − 1 brokers, the
        // budget RELIABILITY.md §B.9 sets for a cluster with eligible leader replicas. Without
        // ELR even one lossy crash can lose acknowledged records, so such a seed is judged weak;
        // `--expect strong` shows the loss (see the module documentation).
        let min_isr = self
            .topics
            .iter()
            .map(|t| {
                let configured = t
                    .config
                    .iter()
                    .find(|(n, _)| n == "min.insync.replicas")
                    .and_then(|(_, v)| v.parse::<u32>().ok())
                    .unwrap_or(1);
                configured.min(t.replication_factor)
            })
            .min()
            .unwrap_or(1);
        let fsync_every_record = self
            .broker_config
            .iter()
            .any(|(n, v)| n == "log.flush.interval.messages" && v == "1");
        let elr = self
            .broker_config
            .iter()
            .any(|(n, v)| n == "eligible.leader.replicas.enable" && v == "true");
        let mut lossy_budget = if fsync_every_record {
            u64::MAX
        } else if aim_strong {
            // Eligible leader replicas are meant to survive these crashes, so seeds with them
            // crash more often.
            if chance(rng, if elr { 70 } else { 30 }) {
                u64::from(min_isr.saturating_sub(1))
            } else {
                0
            }
        } else if chance(rng, 60) {
            u64::MAX
        } else {
            0
        };

        let mut out: Vec<(SimTime, Command)> = Vec::new();
        // Brokers this schedule has stopped and not yet restarted, so that stops pick running
        // brokers and at least one broker is always meant to run.
        let mut down: Vec<BrokerId> = Vec::new();
        let mut delayed: Vec<NodeId> = Vec::new();
        let mut dropping: Vec<NodeId> = Vec::new();
        let mut slowed: Vec<BrokerId> = Vec::new();
        let mut t = rng.between(1_500, 4_000);
        // Some seeds begin with a pattern aimed at one partition's leaders, which random faults
        // rarely line up; random faults follow once it is over.
        if chance(rng, 35) {
            if let Some(end) = self.targeted_pattern(rng, &mut out, t, &mut lossy_budget) {
                t = end;
            }
        }
        while t < FAULT_WINDOW_END_MS - 1_000 {
            let at = SimTime::from_ms(t);
            let undo_at = |rng: &mut SimRng| {
                SimTime::from_ms((t + rng.between(500, 12_000)).min(FAULT_WINDOW_END_MS))
            };
            match rng.below(100) {
                // Stop a broker: kill -9, a lossy crash, or a clean shutdown.
                0..=34 => {
                    let up: Vec<BrokerId> = brokers
                        .iter()
                        .copied()
                        .filter(|b| !down.contains(b))
                        .collect();
                    if up.len() > 1 {
                        let b = pick(rng, &up);
                        let command = match rng.below(10) {
                            0..=3 => Command::KillBroker(b),
                            4..=5 if lossy_budget > 0 => {
                                lossy_budget -= 1;
                                Command::CrashBroker(b)
                            }
                            _ => Command::ShutdownBroker(b),
                        };
                        out.push((at, command));
                        down.push(b);
                        // Most stopped brokers come back soon, some before the controller has
                        // even noticed (a fast bounce).
                        if chance(rng, 85) {
                            let back = SimTime::from_ms(
                                (t + pick(rng, &[300, 1_000, 3_000, 8_000, 15_000]))
                                    .min(FAULT_WINDOW_END_MS),
                            );
                            out.push((back, Command::RestartBroker(b)));
                            down.retain(|&x| x != b);
                        }
                    }
                }
                35..=49 => {
                    let a = pick(rng, &nodes);
                    let b = pick(rng, &nodes);
                    if a != b {
                        out.push((at, Command::PartitionNetwork { a, b }));
                        out.push((undo_at(rng), Command::HealNetwork));
                    }
                }
                50..=59 => {
                    let from = pick(rng, &any_node);
                    let to = pick(rng, &nodes);
                    if from != to {
                        out.push((at, Command::CutLink { from, to }));
                        out.push((undo_at(rng), Command::HealNetwork));
                    }
                }
                60..=66 => {
                    let node = pick(rng, &nodes);
                    out.push((at, Command::Isolate(node)));
                    out.push((undo_at(rng), Command::HealNetwork));
                }
                67..=74 => {
                    let node = pick(rng, &any_node);
                    let ms = pick(rng, &[5, 20, 100, 400, 1_500]);
                    out.push((at, Command::SetLatency { node, ms }));
                    out.push((undo_at(rng), Command::SetLatency { node, ms: 0 }));
                    delayed.push(node);
                }
                75..=81 => {
                    let node = chance(rng, 70).then(|| pick(rng, &any_node));
                    let per_mille = pick(rng, &[10, 50, 200, 500]);
                    out.push((at, Command::SetDropRate { node, per_mille }));
                    out.push((undo_at(rng), Command::SetDropRate { node, per_mille: 0 }));
                    if let Some(n) = node {
                        dropping.push(n);
                    }
                }
                82..=87 => {
                    let broker = pick(rng, &brokers);
                    let ms = pick(rng, &[100, 500, 2_000, 6_000]);
                    out.push((at, Command::SlowFollower { broker, ms }));
                    out.push((undo_at(rng), Command::SlowFollower { broker, ms: 0 }));
                    slowed.push(broker);
                }
                // Kill or crash a controller (KRaft), and bring it back: the active one fails
                // over; two down at once leave the quorum without a majority for a while.
                88..=90 if !controllers.is_empty() => {
                    let c = pick(rng, &controllers);
                    let command = if chance(rng, 50) {
                        Command::KillController(c)
                    } else {
                        Command::CrashController(c)
                    };
                    out.push((at, command));
                    let back = SimTime::from_ms(
                        (t + pick(rng, &[300, 2_000, 8_000])).min(FAULT_WINDOW_END_MS),
                    );
                    out.push((back, Command::RestartController(c)));
                }
                88..=93 => {
                    let p = rng.below(u64::from(producers)) as usize;
                    out.push((
                        at,
                        Command::Produce {
                            producer: self.producers[p].client_id.clone(),
                            records: rng.between(10, 300) as u32,
                        },
                    ));
                }
                94..=96 if !down.is_empty() => {
                    let b = pick(rng, &down);
                    out.push((at, Command::RestartBroker(b)));
                    down.retain(|&x| x != b);
                }
                _ => {
                    out.push((
                        at,
                        Command::AlterConfig {
                            topic: None,
                            name: "replica.lag.time.max.ms".to_string(),
                            value: rng.between(300, 5_000).to_string(),
                        },
                    ));
                }
            }
            t += rng.between(500, 5_000);
        }

        // Recovery: the cluster gets every chance to heal before the final drain.
        let heal = SimTime::from_ms(FAULT_WINDOW_END_MS);
        out.push((heal, Command::HealNetwork));
        out.push((
            heal,
            Command::SetDropRate {
                node: None,
                per_mille: 0,
            },
        ));
        for node in dropping {
            out.push((
                heal,
                Command::SetDropRate {
                    node: Some(node),
                    per_mille: 0,
                },
            ));
        }
        for node in delayed {
            out.push((heal, Command::SetLatency { node, ms: 0 }));
        }
        for broker in slowed {
            out.push((heal, Command::SlowFollower { broker, ms: 0 }));
        }
        // A broker in controlled shutdown stops only when the controller lets it, so restarts
        // are tried again; restarting a running broker is refused and changes nothing.
        for k in 0..5 {
            let at = heal.plus_ms(k * 2_000);
            for &b in &brokers {
                out.push((at, Command::RestartBroker(b)));
            }
        }
        for &c in &controllers {
            out.push((heal, Command::RestartController(c)));
        }
        for p in &self.producers {
            out.push((
                SimTime::from_ms(TRAFFIC_END_MS),
                Command::SetProducerRate {
                    producer: p.client_id.clone(),
                    rate_per_sec: 0,
                },
            ));
        }
        // Stable: commands at the same time keep the order they were drawn in.
        out.sort_by_key(|(at, _)| *at);
        out
    }

    /// A fault pattern aimed at one partition written to, starting at `t0`, before any random
    /// fault: its replicas in placement order are r0 (the leader at time zero), r1 and r2, and
    /// the controller elects the first live replica of the ISR in that order. Each pattern is one
    /// of the known-bug traces of `RELIABILITY.md` §C, timed from the drawn heartbeat and session
    /// settings, so that the legacy rule it targets shows its anomaly in some seeds (§D):
    ///
    /// - T3, the leader moves twice while r2 cannot fetch: r2 truncates to its lagging high
    ///   watermark under `sim.legacy.follower.truncation=high-watermark` and is elected.
    /// - T4, two fast elections: r1, a slow follower, leads briefly and writes what r2 never gets;
    ///   r2 leads next, and under KIP-101's lookup r1 keeps its records when it returns.
    /// - T5, a stale follower: r2 hears nothing from the controller while r1 and then r0 lead;
    ///   under `sim.legacy.unfenced.fetch` r0 counts r2's fetches in epoch 0 towards its HW.
    /// - B9 and T1, a lossy crash right after a burst of records: of r1, which restarts at once
    ///   and under `sim.legacy.quick.restart.keeps.isr` stays in the ISR and is elected when r0
    ///   dies; or of the leader r0, which eligible leader replicas must survive.
    ///
    /// Returns when the pattern is over, with every broker it stopped restarted and every cut
    /// healed, or `None` when the drawn partition has too few replicas for the drawn pattern.
    fn targeted_pattern(
        &self,
        rng: &mut SimRng,
        out: &mut Vec<(SimTime, Command)>,
        t0: u64,
        lossy_budget: &mut u64,
    ) -> Option<u64> {
        let setting = |name: &str, default: u64| {
            self.broker_config
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| v.parse::<u64>().ok())
                .unwrap_or(default)
        };
        let session = setting("broker.session.timeout.ms", 9_000);
        let heartbeat = setting("broker.heartbeat.interval.ms", 2_000);
        let producer = &self.producers[rng.below(self.producers.len() as u64) as usize];
        let topic = self.topics.iter().find(|t| t.name == producer.topic)?;
        let partition = rng.below(u64::from(topic.partitions)) as u32;
        // The placement is the simulation's own, so the workload is built once to read it.
        let sim = self.build().ok()?;
        let tp = crate::metadata::TopicPartition::new(topic.name.clone(), partition);
        let replicas = sim.metadata().partition(&tp)?.replicas.clone();
        let (r0, r1) = (*replicas.first()?, *replicas.get(1)?);
        let r2 = replicas.get(2).copied();
        let at = SimTime::from_ms;
        let broker = NodeId::Broker;
        let end = match rng.below(4) {
            0 => {
                let r2 = r2?;
                out.push((
                    at(t0),
                    Command::CutLink {
                        from: broker(r1),
                        to: broker(r2),
                    },
                ));
                let t1 = t0 + rng.between(200, 2_000);
                // A controlled shutdown moves the leadership at once; a kill only once the
                // session expires.
                let t2 = if chance(rng, 50) {
                    out.push((at(t1), Command::ShutdownBroker(r0)));
                    t1 + pick(rng, &[5, 20, 100, 500])
                } else {
                    out.push((at(t1), Command::KillBroker(r0)));
                    t1 + session + pick(rng, &[100, 500, 1_500])
                };
                out.push((at(t2), Command::KillBroker(r1)));
                out.push((
                    at(t2 + pick(rng, &[300, 1_000, 3_000])),
                    Command::RestartBroker(r0),
                ));
                let t3 = t2 + session + pick(rng, &[500, 2_000, 5_000]);
                out.push((at(t3), Command::HealNetwork));
                out.push((at(t3), Command::RestartBroker(r1)));
                t3 + 1_000
            }
            1 => {
                let r2 = r2?;
                out.push((
                    at(t0),
                    Command::SlowFollower {
                        broker: r1,
                        ms: pick(rng, &[1_000, 2_000]),
                    },
                ));
                let t1 = t0 + rng.between(1_500, 3_000);
                out.push((
                    at(t1),
                    Command::CutLink {
                        from: broker(r1),
                        to: broker(r2),
                    },
                ));
                out.push((at(t1), Command::ShutdownBroker(r0)));
                out.push((at(t1), Command::SlowFollower { broker: r1, ms: 0 }));
                let t2 = t1 + pick(rng, &[300, 1_000, 2_000]);
                out.push((at(t2), Command::KillBroker(r1)));
                let t3 = t2 + session + pick(rng, &[500, 1_500]);
                out.push((at(t3), Command::RestartBroker(r1)));
                out.push((at(t3), Command::RestartBroker(r0)));
                let t4 = t3 + pick(rng, &[1_000, 3_000]);
                out.push((at(t4), Command::HealNetwork));
                t4 + 500
            }
            2 => {
                let r2 = r2?;
                out.push((
                    at(t0),
                    Command::CutLink {
                        from: NodeId::Controller(CONTROLLER_ID),
                        to: broker(r2),
                    },
                ));
                out.push((
                    at(t0),
                    Command::SlowFollower {
                        broker: r1,
                        ms: pick(rng, &[500, 2_000]),
                    },
                ));
                let t1 = t0 + rng.between(1_000, 3_000);
                out.push((at(t1), Command::KillBroker(r0)));
                // Back before its session expires: registering again hands the leadership to r1
                // at once, and r0 follows it.
                let t2 = t1 + 300;
                out.push((at(t2), Command::RestartBroker(r0)));
                out.push((at(t2), Command::SlowFollower { broker: r1, ms: 0 }));
                let t3 = t2 + 2 * heartbeat + pick(rng, &[200, 1_000, 2_000]);
                out.push((at(t3), Command::KillBroker(r1)));
                let t4 = t3 + session + pick(rng, &[500, 1_500, 3_000]);
                out.push((at(t4), Command::HealNetwork));
                out.push((at(t4), Command::RestartBroker(r1)));
                t4 + 1_000
            }
            _ => {
                out.push((
                    at(t0),
                    Command::Produce {
                        producer: producer.client_id.clone(),
                        records: rng.between(50, 300) as u32,
                    },
                ));
                let (crashed, other) = if chance(rng, 50) { (r1, r0) } else { (r0, r1) };
                let t1 = t0 + pick(rng, &[20, 100, 300]);
                let stop = if *lossy_budget > 0 {
                    *lossy_budget -= 1;
                    Command::CrashBroker(crashed)
                } else {
                    Command::KillBroker(crashed)
                };
                out.push((at(t1), stop));
                let t2 = t1 + pick(rng, &[300, 1_000]);
                out.push((at(t2), Command::RestartBroker(crashed)));
                let t3 = t2 + pick(rng, &[200, 1_000, 3_000]);
                out.push((at(t3), Command::KillBroker(other)));
                let t4 = t3 + session + pick(rng, &[500, 2_000]);
                out.push((at(t4), Command::RestartBroker(other)));
                t4 + 500
            }
        };
        Some(end.min(FAULT_WINDOW_END_MS - 1_000))
    }

    /// Sets a cluster config on top of the generated ones (for example a legacy rule), so that
    /// the same seeds can be run under it.
    pub fn with_broker_config(mut self, name: &str, value: &str) -> Workload {
        self.broker_config.push(pair(name, value));
        self
    }

    /// The workload `kafka-sim check` runs for `seed`: the generated one with the options'
    /// cluster configs set on top.
    pub fn for_check(seed: u64, options: &CheckOptions) -> Workload {
        let mut workload = Workload::generate(seed);
        for (name, value) in &options.broker_config {
            workload = workload.with_broker_config(name, value);
        }
        workload
    }

    /// The cluster config as built, or the error of the first config that does not apply.
    pub fn cluster_config(&self) -> Result<BrokerConfig> {
        let mut config = BrokerConfig::default();
        for (name, value) in &self.broker_config {
            config.set(name, value)?;
        }
        Ok(config)
    }

    /// Whether the settings are strong, and if not, every reason why (see the module
    /// documentation's table).
    pub fn classify(&self) -> (Strength, Vec<String>) {
        let mut reasons = Vec::new();
        let mut cluster = match self.cluster_config() {
            Ok(c) => c,
            Err(e) => return (Strength::Weak, vec![e.message().to_string()]),
        };
        // Settings may change during the run: every state the timeline passes through counts.
        let mut states = vec![cluster.clone()];
        for (_, command) in &self.timeline {
            if let Command::AlterConfig {
                topic: None,
                name,
                value,
            } = command
            {
                if cluster.set(name, value).is_ok() {
                    states.push(cluster.clone());
                }
            }
        }
        for c in &states {
            if c.follower_truncation != FollowerTruncation::LeaderEpoch {
                reasons.push(format!(
                    "sim.legacy.follower.truncation={}",
                    c.follower_truncation.as_str()
                ));
            }
            if c.hw_ignores_pending_isr {
                reasons.push("sim.legacy.hw.ignores.pending.isr=true".to_string());
            }
            if c.unfenced_fetch {
                reasons.push("sim.legacy.unfenced.fetch=true".to_string());
            }
        }
        for topic in &self.topics {
            let mut config = TopicConfig::default();
            for (name, value) in &topic.config {
                let _ = config.set(name, value);
            }
            for c in &states {
                let min_isr = config
                    .min_insync_replicas
                    .unwrap_or(c.min_insync_replicas)
                    .min(topic.replication_factor);
                if min_isr < 2 {
                    reasons.push(format!(
                        "topic {}: effective min.insync.replicas={min_isr}",
                        topic.name
                    ));
                }
                if config
                    .unclean_leader_election_enable
                    .unwrap_or(c.unclean_leader_election_enable)
                {
                    reasons.push(format!(
                        "topic {}: unclean.leader.election.enable=true",
                        topic.name
                    ));
                }
            }
        }
        for p in &self.producers {
            let mut config = ProducerConfig::default();
            for (name, value) in &p.config {
                let _ = config.set(name, value);
            }
            if config.acks != Acks::All {
                reasons.push(format!(
                    "producer {}: acks={}",
                    p.client_id,
                    config.acks.as_str()
                ));
            }
            if !config.idempotent() {
                reasons.push(format!(
                    "producer {}: enable.idempotence=false",
                    p.client_id
                ));
            }
        }
        let crashes = self
            .timeline
            .iter()
            .filter(|(_, c)| matches!(c, Command::CrashBroker(_)))
            .count();
        // The smallest effective min.insync.replicas of any topic in any state of the run.
        let min_isr = self
            .topics
            .iter()
            .flat_map(|topic| {
                let mut config = TopicConfig::default();
                for (name, value) in &topic.config {
                    let _ = config.set(name, value);
                }
                states.iter().map(move |c| {
                    config
                        .min_insync_replicas
                        .unwrap_or(c.min_insync_replicas)
                        .min(topic.replication_factor)
                })
            })
            .min()
            .unwrap_or(1);
        if crashes > 0 && states.iter().any(|c| c.log_flush_interval_messages > 1) {
            if states.iter().any(|c| !c.eligible_leader_replicas) {
                reasons.push(format!(
                    "{crashes} lossy crash(es) and no eligible leader replicas (trace T7)"
                ));
            } else if crashes as u64 > u64::from(min_isr.saturating_sub(1)) {
                reasons.push(format!(
                    "{crashes} lossy crash(es), more than the min.insync.replicas − 1 = {} that eligible leader replicas cover (RELIABILITY.md §B.9)",
                    min_isr.saturating_sub(1)
                ));
            }
            if states.iter().any(|c| c.quick_restart_keeps_isr) {
                reasons.push(
                    "sim.legacy.quick.restart.keeps.isr=true with lossy crashes: a crashed broker that restarts keeps its ISR membership"
                        .to_string(),
                );
            }
        }
        reasons.dedup();
        if reasons.is_empty() {
            (Strength::Strong, reasons)
        } else {
            (Strength::Weak, reasons)
        }
    }

    /// The simulation at time zero: cluster, topics and clients created, nothing run yet.
    pub fn build(&self) -> Result<Simulation> {
        let mut sim = Simulation::new(self.brokers, self.cluster_config()?, self.seed)?;
        for topic in &self.topics {
            let mut config = TopicConfig::default();
            for (name, value) in &topic.config {
                config.set(name, value)?;
            }
            sim.create_topic(
                &topic.name,
                topic.partitions,
                topic.replication_factor,
                config,
            )?;
        }
        for p in &self.producers {
            let mut config = ProducerConfig::default();
            for (name, value) in &p.config {
                config.set(name, value)?;
            }
            sim.add_producer(ProducerSpec {
                client_id: p.client_id.clone(),
                topic: p.topic.clone(),
                rate_per_sec: p.rate_per_sec,
                keys: p.keys,
                record_bytes: 100,
                tombstone_per_mille: 0,
                hot_key_per_mille: 0,
                config,
            })?;
        }
        let mut config = ConsumerConfig::default();
        for (name, value) in &self.consumer_config {
            config.set(name, value)?;
        }
        sim.add_consumer(ConsumerSpec {
            client_id: "c0".to_string(),
            group: "dst".to_string(),
            subscribe: false,
            topic: self.consumer_topic.clone(),
            config,
        })?;
        Ok(sim)
    }

    /// A readable account of the workload: settings, clients and the whole timeline.
    pub fn describe(&self) -> String {
        let list = |pairs: &[(String, String)]| {
            pairs
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut out = format!("seed {}: {} brokers\n", self.seed, self.brokers);
        out += &format!("  cluster: {}\n", list(&self.broker_config));
        for t in &self.topics {
            out += &format!(
                "  topic {}: {} partition(s), RF {}, {}\n",
                t.name,
                t.partitions,
                t.replication_factor,
                list(&t.config)
            );
        }
        for p in &self.producers {
            out += &format!(
                "  producer {} -> {}: {} records/s, {} keys, {}\n",
                p.client_id,
                p.topic,
                p.rate_per_sec,
                p.keys,
                list(&p.config)
            );
        }
        out += &format!(
            "  consumer c0 <- {}: {}\n  timeline:\n",
            self.consumer_topic,
            list(&self.consumer_config)
        );
        for (at, command) in &self.timeline {
            out += &format!("    {at} {command:?}\n");
        }
        out
    }
}

/// What one run of a workload produced.
#[derive(Clone, Debug, Serialize)]
pub struct RunOutcome {
    /// The trace hash at the end.
    pub trace_hash: u64,
    /// Queued tasks run (each one an event after which the invariants were checked).
    pub steps: u64,
    /// Invariant violations, with their times (at most [`crate::scenario::MAX_VIOLATIONS`]);
    /// empty when the run did not check invariants.
    pub violations: Vec<(SimTime, Violation)>,
    /// The history checker's report after the final drain.
    pub history: HistoryReport,
    /// Partitions that had no live leader at the final drain.
    pub undrained: Vec<String>,
    /// Timeline commands the simulation refused (for example restarting a running broker).
    pub refused_commands: u64,
    /// Whether eligible leader replicas were on. KIP-966 then keeps a partition offline when
    /// its ISR and ELR have emptied, for example after every replica shut down uncleanly (a
    /// kill or a crash), rather than elect a replica that may lack committed records; the
    /// simulator does not model `LastKnownElr` or unclean recovery, so such a partition stays
    /// offline, and that is unavailability, not loss.
    pub eligible_leader_replicas: bool,
}

/// Runs a workload to the final drain. With `checked`, the invariants are checked after every
/// event, as in [`crate::scenario::ScenarioRun`], and the history after the drain; without, the
/// run is the same but faster (its report has no violations and an empty history verdict), which
/// is all the determinism check's second run needs: the checks only read the world.
pub fn run(workload: &Workload, checked: bool) -> Result<RunOutcome> {
    run_observed(workload, checked, &mut |_| {})
}

/// [`run`], showing `on_event` every narrated event as it happens (`kafka-sim check --events`).
pub fn run_observed(
    workload: &Workload,
    checked: bool,
    on_event: &mut dyn FnMut(&Event),
) -> Result<RunOutcome> {
    let mut sim = workload.build()?;
    let mut checker = checked.then(InvariantChecker::new);
    let mut violations = Vec::new();
    let mut refused = 0;
    let mut shown = 0;
    // The simulation keeps only its latest events, so new ones are shown after every step.
    let mut show = |sim: &Simulation, on_event: &mut dyn FnMut(&Event)| {
        let new = (sim.event_count() - shown) as usize;
        let events = sim.events();
        for event in events.iter().skip(events.len().saturating_sub(new)) {
            on_event(event);
        }
        shown = sim.event_count();
    };
    show(&sim, on_event);
    let mut advance = |sim: &mut Simulation, until: SimTime, on_event: &mut dyn FnMut(&Event)| {
        while sim.next_task_time().is_some_and(|t| t <= until) {
            sim.step();
            show(sim, on_event);
            if let Some(checker) = checker.as_mut() {
                for v in checker.check(sim) {
                    if violations.len() < crate::scenario::MAX_VIOLATIONS {
                        violations.push((sim.now(), v));
                    }
                }
            }
        }
        sim.run_until(until);
    };
    for (at, command) in &workload.timeline {
        advance(&mut sim, *at, on_event);
        if sim.apply(command.clone()).is_err() {
            refused += 1;
        }
    }
    advance(&mut sim, SimTime::from_ms(DRAIN_AT_MS), on_event);
    while !settled(&sim) && sim.now() < SimTime::from_ms(DRAIN_DEADLINE_MS) {
        let next = sim.now().plus_ms(1000);
        advance(&mut sim, next, on_event);
    }
    sim.drain_history();
    let history = if checked {
        sim.history().check()
    } else {
        HistoryReport::default()
    };
    let undrained = sim
        .metadata()
        .partitions()
        .filter(|(_, state)| {
            state.leader.is_none_or(|l| {
                sim.brokers()
                    .iter()
                    .find(|b| b.id == l)
                    .is_none_or(|b| !b.alive)
            })
        })
        .map(|(tp, _)| tp.to_string())
        .collect();
    Ok(RunOutcome {
        trace_hash: sim.trace_hash(),
        steps: sim.steps(),
        violations,
        history,
        undrained,
        refused_commands: refused,
        eligible_leader_replicas: workload
            .cluster_config()
            .is_ok_and(|c| c.eligible_leader_replicas),
    })
}

/// Whether every partition has a live leader whose high watermark has reached its log end, so
/// that the final drain reads everything the cluster will ever make readable.
fn settled(sim: &Simulation) -> bool {
    sim.metadata().partitions().all(|(tp, state)| {
        state.leader.is_some_and(|leader| {
            sim.brokers().iter().any(|b| {
                b.id == leader
                    && b.alive
                    && b.replicas
                        .get(&tp)
                        .is_some_and(|r| r.log.high_watermark() == r.log.log_end_offset())
            })
        })
    })
}

/// How `kafka-sim check` runs seeds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Cluster configs set on every seed's workload after generation (see
    /// [`Workload::with_broker_config`]).
    pub broker_config: Vec<(String, String)>,
    /// Judge every seed by these expectations instead of its own classification, to prove that
    /// a setting known to be unsafe is caught.
    pub expect: Option<Strength>,
}

/// The verdict on one seed.
#[derive(Clone, Debug, Serialize)]
pub struct SeedReport {
    /// The seed.
    pub seed: u64,
    /// The expectations it was judged by.
    pub strength: Strength,
    /// Why the settings are weak (empty when strong).
    pub weak_because: Vec<String>,
    /// Events checked in the first run.
    pub steps: u64,
    /// Both runs' trace hashes.
    pub trace_hashes: (u64, u64),
    /// What failed, one line per broken invariant or kind of anomaly; empty when the seed
    /// passed.
    pub failures: Vec<String>,
    /// What broke that the seed's settings are known to allow: the names of invariants (such as
    /// `StrongIsr`) and anomaly kinds (such as `lost-write`) a weak seed showed, and partitions
    /// left offline by eligible leader replicas (see [`RunOutcome::eligible_leader_replicas`]).
    pub findings: Vec<String>,
}

impl SeedReport {
    /// Whether every check the seed's strength requires held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Every legacy rule of the simulator as the cluster config that turns it on. `RELIABILITY.md` §D
/// asks that each shows its anomaly in some seed of `kafka-sim check`.
pub const LEGACY_RULES: &[(&str, &str)] = &[
    ("sim.legacy.follower.truncation", "high-watermark"),
    ("sim.legacy.follower.truncation", "kip-101"),
    ("sim.legacy.hw.ignores.pending.isr", "true"),
    ("sim.legacy.quick.restart.keeps.isr", "true"),
    ("sim.legacy.unfenced.fetch", "true"),
];

/// The seeds of `range` whose own settings are strong but that fail under `rule`: where the
/// checker catches that legacy rule.
pub fn caught_by(rule: (&str, &str), range: std::ops::Range<u64>) -> Vec<u64> {
    let options = CheckOptions {
        broker_config: vec![(rule.0.to_string(), rule.1.to_string())],
        expect: Some(Strength::Strong),
    };
    range
        .filter(|&s| Workload::generate(s).classify().0 == Strength::Strong)
        .filter(|&s| shows_loss(&check_seed(s, &options)))
        .collect()
}

/// The failures that show a legacy rule's anomaly: committed records lost or diverging.
pub const LOSS_FAILURES: [&str; 5] = [
    "lost-write",
    "inconsistent-offsets",
    "LogMatching",
    "StrongIsr",
    "LeaderCompleteness",
];

/// Whether a report has one of the [`LOSS_FAILURES`] (another failure, such as a partition left
/// without a leader, does not show the anomaly a legacy rule is about).
pub fn shows_loss(report: &SeedReport) -> bool {
    report
        .failures
        .iter()
        .any(|f| LOSS_FAILURES.iter().any(|kind| f.contains(kind)))
}

/// Generates, runs and judges one seed: the checked run, then a second run whose trace hash must
/// equal the first's.
pub fn check_seed(seed: u64, options: &CheckOptions) -> SeedReport {
    let workload = Workload::for_check(seed, options);
    let (classified, weak_because) = workload.classify();
    let strength = options.expect.unwrap_or(classified);
    let mut report = SeedReport {
        seed,
        strength,
        weak_because,
        steps: 0,
        trace_hashes: (0, 0),
        failures: Vec::new(),
        findings: Vec::new(),
    };
    let first = match run(&workload, true) {
        Ok(outcome) => outcome,
        Err(e) => {
            report
                .failures
                .push(format!("the workload does not build: {e}"));
            return report;
        }
    };
    let second = run(&workload, false);
    report.steps = first.steps;
    report.trace_hashes = (
        first.trace_hash,
        second.as_ref().map_or(0, |o| o.trace_hash),
    );
    report.failures = judge(&first, strength);
    report.findings = findings(&first, strength);
    if report.trace_hashes.0 != report.trace_hashes.1 {
        report.failures.insert(
            0,
            format!(
                "nondeterminism: two runs of the same seed ended with trace hashes {:016x} and {:016x}",
                report.trace_hashes.0, report.trace_hashes.1
            ),
        );
    }
    report
}

/// The failures a run shows under `strength`'s expectations: one line per broken invariant and
/// per kind of anomaly, with how often it happened and its first occurrence.
pub fn judge(outcome: &RunOutcome, strength: Strength) -> Vec<String> {
    let mut failures = Vec::new();
    let mut invariants: Vec<&'static str> = Vec::new();
    for (_, v) in &outcome.violations {
        let required = strength == Strength::Strong || ALWAYS_TRUE.contains(&v.invariant);
        if required && !invariants.contains(&v.invariant) {
            invariants.push(v.invariant);
        }
    }
    for name in invariants {
        let mut broken = outcome
            .violations
            .iter()
            .filter(|(_, v)| v.invariant == name);
        let count = broken.clone().count();
        if let Some((at, first)) = broken.next() {
            failures.push(format!(
                "invariant {name} broken after {count} event(s), first at {at}: {}",
                first.detail
            ));
        }
    }
    if strength == Strength::Weak {
        return failures;
    }
    for kind in AnomalyKind::ALL.into_iter().filter(|k| k.is_error()) {
        let count = outcome.history.count(kind);
        if let Some(first) = outcome.history.of_kind(kind).next() {
            failures.push(format!(
                "{kind}: {count} anomal{}, first: {}",
                if count == 1 { "y" } else { "ies" },
                first.explain()
            ));
        }
    }
    if !outcome.undrained.is_empty() && !outcome.eligible_leader_replicas {
        let unseen = outcome.history.count(AnomalyKind::Unseen);
        failures.push(format!(
            "no live leader at the final drain for {} ({unseen} acknowledged value(s) unseen)",
            outcome.undrained.join(", ")
        ));
    }
    failures
}

/// The breaks a run shows that `strength` allows (see [`SeedReport::findings`]): each broken
/// invariant outside [`ALWAYS_TRUE`] and each kind of anomaly, by name, once.
pub fn findings(outcome: &RunOutcome, strength: Strength) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    if !outcome.undrained.is_empty() && outcome.eligible_leader_replicas {
        found.push("offline under eligible leader replicas".to_string());
    }
    if strength == Strength::Strong {
        return found;
    }
    for (_, v) in &outcome.violations {
        if !ALWAYS_TRUE.contains(&v.invariant) && !found.iter().any(|f| f == v.invariant) {
            found.push(v.invariant.to_string());
        }
    }
    for kind in AnomalyKind::ALL.into_iter().filter(|k| k.is_error()) {
        if outcome.history.count(kind) > 0 {
            found.push(kind.name().to_string());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_gives_the_same_workload() {
        assert_eq!(Workload::generate(7), Workload::generate(7));
        assert_ne!(Workload::generate(7), Workload::generate(8));
    }

    #[test]
    fn generated_workloads_stay_within_the_documented_ranges() {
        for seed in 0..200 {
            let w = Workload::generate(seed);
            assert!((3..=5).contains(&w.brokers), "seed {seed}");
            assert!((1..=2).contains(&w.topics.len()), "seed {seed}");
            assert!((1..=2).contains(&w.producers.len()), "seed {seed}");
            for t in &w.topics {
                assert!((1..=6).contains(&t.partitions), "seed {seed}");
                assert!((2..=3).contains(&t.replication_factor), "seed {seed}");
            }
            assert!(w.build().is_ok(), "seed {seed}: {}", w.describe());
            let windows = w.timeline.windows(2);
            assert!(windows.into_iter().all(|p| p[0].0 <= p[1].0), "seed {seed}");
            assert!(w
                .timeline
                .iter()
                .all(|(at, _)| *at <= SimTime::from_ms(TRAFFIC_END_MS)));
        }
    }

    #[test]
    fn both_kinds_of_settings_are_generated() {
        let strong = (0..100)
            .filter(|&s| Workload::generate(s).classify().0 == Strength::Strong)
            .count();
        assert!((20..=80).contains(&strong), "{strong} strong seeds of 100");
    }

    #[test]
    fn weak_settings_are_named() {
        let w = Workload::generate(1)
            .with_broker_config("sim.legacy.follower.truncation", "high-watermark");
        let (strength, reasons) = w.classify();
        assert_eq!(strength, Strength::Weak);
        assert!(
            reasons
                .iter()
                .any(|r| r == "sim.legacy.follower.truncation=high-watermark"),
            "{reasons:?}"
        );
        let w = Workload::generate(1).with_broker_config("sim.legacy.unfenced.fetch", "true");
        let (strength, reasons) = w.classify();
        assert_eq!(strength, Strength::Weak);
        assert!(
            reasons
                .iter()
                .any(|r| r == "sim.legacy.unfenced.fetch=true"),
            "{reasons:?}"
        );
    }

    #[test]
    fn only_always_true_invariants_fail_a_weak_seed() {
        let violation = |name: &'static str| {
            (
                SimTime::ZERO,
                Violation {
                    invariant: name,
                    detail: String::new(),
                },
            )
        };
        let outcome = RunOutcome {
            trace_hash: 0,
            steps: 0,
            violations: vec![violation("LogMatching")],
            history: HistoryReport::default(),
            undrained: vec!["t0-0".to_string()],
            refused_commands: 0,
            eligible_leader_replicas: false,
        };
        assert!(judge(&outcome, Strength::Weak).is_empty());
        assert_eq!(judge(&outcome, Strength::Strong).len(), 2);
        // What a weak seed may break is still reported, as a finding.
        assert_eq!(findings(&outcome, Strength::Weak), vec!["LogMatching"]);
        assert!(findings(&outcome, Strength::Strong).is_empty());
        // With eligible leader replicas an offline partition is KIP-966's unavailability, a
        // finding rather than a failure.
        let elr = RunOutcome {
            violations: Vec::new(),
            eligible_leader_replicas: true,
            ..outcome.clone()
        };
        assert!(judge(&elr, Strength::Strong).is_empty());
        assert_eq!(
            findings(&elr, Strength::Strong),
            vec!["offline under eligible leader replicas"]
        );
        let outcome = RunOutcome {
            violations: vec![violation("LeaderInIsr"), violation("LeaderInIsr")],
            ..outcome
        };
        let failures = judge(&outcome, Strength::Weak);
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(
            failures[0].contains("broken after 2 event(s)"),
            "{failures:?}"
        );
    }
}

//! The KRaft quorum (`kafka_sim::raft`) driven by a small deterministic harness, modeled on
//! Kafka's `RaftEventSimulationTest`: one seeded event queue, an in-memory router that can drop
//! messages, partition nodes and cut links one way, crashes and restarts that may lose the
//! unflushed suffix of the log, and a workload that proposes records to whoever is leader.
//!
//! The safety invariants are checked after every event: ElectionSafety, LogMatching,
//! LeaderCompleteness and committed-entry durability, and monotonic high watermark and epoch per
//! node. A failing seed can be replayed with `RAFT_TRACE=1` to print every event.

use kafka_sim::raft::{
    LogEntry, RaftConfig, RaftMessage, RaftNode, RaftOutput, RaftRecord, RaftTimer, ReplicaId,
    ResignReason, RoleKind,
};
use kafka_sim::rng::SimRng;
use kafka_sim::SimTime;
use std::collections::{BTreeMap, BTreeSet};

type Rec = u64;
type Node = RaftNode<Rec>;

const ELECTION_MS: u64 = 1_000;
const FETCH_MS: u64 = 2_000;

#[derive(Clone, Debug)]
enum Fault {
    Restart {
        node: ReplicaId,
    },
    SetDropPerMille(u64),
    Heal,
    /// Draws the next random fault and schedules it and the one after.
    Chaos,
}

#[derive(Clone, Debug)]
enum Event {
    Deliver {
        from: ReplicaId,
        to: ReplicaId,
        message: RaftMessage<Rec>,
    },
    Timer {
        node: ReplicaId,
        timer: RaftTimer,
    },
    Propose,
    Fault(Fault),
}

/// FNV-1a, as the simulator's trace hash.
fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The epoch and record of a log entry, to recognise it again.
type Fingerprint = (u32, RaftRecord<Rec>);

/// A violated safety property, with what was seen.
#[derive(Debug)]
struct Violation(String);

/// The safety checker, incremental so that it can run after every event.
#[derive(Default)]
struct Checker {
    leader_of_epoch: BTreeMap<u32, ReplicaId>,
    last_epoch: BTreeMap<ReplicaId, u32>,
    last_hw: BTreeMap<ReplicaId, u64>,
    /// Every (offset, epoch) ever seen in any log, with its record and the epoch of the entry
    /// before it: LogMatching holds iff this is a function, by induction on the offset.
    seen: BTreeMap<(u64, u32), (RaftRecord<Rec>, u32)>,
    /// Per node, how much of its log was checked, and the last checked entry's (epoch, record)
    /// to notice a truncation that was followed by appends.
    log_checked: BTreeMap<ReplicaId, (usize, Option<Fingerprint>)>,
    /// Every committed entry, with the epoch in which it was first seen committed.
    committed: Vec<(LogEntry<Rec>, u32)>,
    hw_checked: BTreeMap<ReplicaId, u64>,
    leader_checked: BTreeMap<(ReplicaId, u32), usize>,
}

impl Checker {
    fn on_restart(&mut self, node: ReplicaId) {
        // The high watermark is volatile: a restarted node learns it again from zero.
        self.last_hw.insert(node, 0);
        self.hw_checked.insert(node, 0);
        self.log_checked.insert(node, (0, None));
    }

    fn check(&mut self, nodes: &BTreeMap<ReplicaId, Node>) -> Result<(), Violation> {
        for (&id, n) in nodes {
            let epoch = n.epoch();
            let last = self.last_epoch.entry(id).or_insert(0);
            if epoch < *last {
                return Err(Violation(format!(
                    "MonotonicEpoch: node {id} went from epoch {last} to {epoch}"
                )));
            }
            *last = epoch;
            self.check_log(id, n)?;
            if !n.is_running() {
                continue;
            }
            let hw = n.high_watermark();
            let last_hw = self.last_hw.entry(id).or_insert(0);
            if hw < *last_hw {
                return Err(Violation(format!(
                    "MonotonicHighWatermark: node {id} went from {last_hw} to {hw}"
                )));
            }
            *last_hw = hw;
            if n.role() == RoleKind::Leader {
                let leader = *self.leader_of_epoch.entry(epoch).or_insert(id);
                if leader != id {
                    return Err(Violation(format!(
                        "ElectionSafety: nodes {leader} and {id} both led epoch {epoch}"
                    )));
                }
            }
            self.check_committed(id, n)?;
            if n.role() == RoleKind::Leader {
                self.check_leader_completeness(id, n)?;
            }
        }
        Ok(())
    }

    fn check_log(&mut self, id: ReplicaId, n: &Node) -> Result<(), Violation> {
        let entries = n.entries();
        let (mut from, fingerprint) = self.log_checked.get(&id).cloned().unwrap_or((0, None));
        if from > entries.len()
            || (from > 0
                && fingerprint.as_ref()
                    != Some(&(entries[from - 1].epoch, entries[from - 1].record.clone())))
        {
            from = 0;
        }
        for (i, entry) in entries.iter().enumerate().skip(from) {
            if entry.offset != i as u64 {
                return Err(Violation(format!(
                    "node {id} has offset {} at index {i}",
                    entry.offset
                )));
            }
            let prev = if i == 0 { 0 } else { entries[i - 1].epoch };
            if prev > entry.epoch {
                return Err(Violation(format!(
                    "node {id}: epochs decrease at offset {i}"
                )));
            }
            match self.seen.get(&(i as u64, entry.epoch)) {
                Some((record, p)) if record != &entry.record || *p != prev => {
                    return Err(Violation(format!(
                        "LogMatching: node {id} has {:?} after epoch {prev} at offset {i} epoch {}, \
                         another log had {:?} after epoch {p}",
                        entry.record, entry.epoch, record
                    )));
                }
                Some(_) => {}
                None => {
                    self.seen
                        .insert((i as u64, entry.epoch), (entry.record.clone(), prev));
                }
            }
        }
        let fingerprint = entries.last().map(|e| (e.epoch, e.record.clone()));
        self.log_checked.insert(id, (entries.len(), fingerprint));
        Ok(())
    }

    fn check_committed(&mut self, id: ReplicaId, n: &Node) -> Result<(), Violation> {
        let hw = n.high_watermark();
        let entries = n.entries();
        if hw > entries.len() as u64 {
            return Err(Violation(format!(
                "node {id} has high watermark {hw} beyond its log end {}",
                entries.len()
            )));
        }
        let from = self.hw_checked.get(&id).copied().unwrap_or(0);
        for i in from..hw {
            let entry = &entries[i as usize];
            match self.committed.get(i as usize) {
                Some((c, _)) if c != entry => {
                    return Err(Violation(format!(
                        "Durability: node {id} committed {entry:?} at offset {i}, \
                         but {c:?} was committed there before"
                    )));
                }
                Some(_) => {}
                None => self.committed.push((entry.clone(), n.epoch())),
            }
        }
        self.hw_checked.insert(id, hw);
        Ok(())
    }

    fn check_leader_completeness(&mut self, id: ReplicaId, n: &Node) -> Result<(), Violation> {
        let epoch = n.epoch();
        let checked = self.leader_checked.entry((id, epoch)).or_insert(0);
        for (i, (entry, committed_in)) in self.committed.iter().enumerate().skip(*checked) {
            if *committed_in <= epoch && n.entries().get(i) != Some(entry) {
                return Err(Violation(format!(
                    "LeaderCompleteness: leader {id} of epoch {epoch} lacks committed {entry:?}, \
                     has {:?}",
                    n.entries().get(i)
                )));
            }
        }
        *checked = self.committed.len();
        Ok(())
    }
}

/// A quorum, its network and its workload, advanced one event at a time.
struct Cluster {
    seed: u64,
    now: SimTime,
    rng: SimRng,
    nodes: BTreeMap<ReplicaId, Node>,
    queue: BTreeMap<(SimTime, u64), Event>,
    seq: u64,
    drop_per_mille: u64,
    cut: BTreeSet<(ReplicaId, ReplicaId)>,
    propose_every_ms: Option<u64>,
    next_value: u64,
    /// Which node and epoch each proposed value went to.
    proposed: BTreeMap<Rec, (ReplicaId, u32)>,
    checker: Checker,
    /// A digest of every output, when `hash_trace` is set (formatting every output is the
    /// harness's most expensive step, so only the determinism test pays for it).
    trace_hash: u64,
    hash_trace: bool,
    events: u64,
    /// Events in a row at the current instant, to catch a livelock that stops time.
    events_at_now: u64,
    became_leader: Vec<(SimTime, ReplicaId, u32)>,
    resigned: Vec<(SimTime, ReplicaId, ResignReason)>,
    crashes: u64,
    truncations: u64,
    trace: bool,
}

impl Cluster {
    fn new(seed: u64, voters: u32) -> Cluster {
        let ids: Vec<ReplicaId> = (1..=voters as ReplicaId).collect();
        let config = RaftConfig::with_voters(ids.iter().copied());
        assert_eq!(config.election_timeout_ms, ELECTION_MS);
        assert_eq!(config.fetch_timeout_ms, FETCH_MS);
        let nodes = ids
            .iter()
            .map(|&id| (id, Node::new(id, config.clone()).unwrap()))
            .collect();
        let mut cluster = Cluster {
            seed,
            now: SimTime::ZERO,
            rng: SimRng::from_seed(seed),
            nodes,
            queue: BTreeMap::new(),
            seq: 0,
            drop_per_mille: 0,
            cut: BTreeSet::new(),
            propose_every_ms: None,
            next_value: 1,
            proposed: BTreeMap::new(),
            checker: Checker::default(),
            trace_hash: 0xcbf2_9ce4_8422_2325,
            hash_trace: false,
            events: 0,
            events_at_now: 0,
            became_leader: Vec::new(),
            resigned: Vec::new(),
            crashes: 0,
            truncations: 0,
            trace: std::env::var_os("RAFT_TRACE").is_some(),
        };
        for id in ids {
            let out = {
                let (node, rng) = (cluster.nodes.get_mut(&id).unwrap(), &mut cluster.rng);
                node.start(SimTime::ZERO, rng)
            };
            cluster.apply(id, out);
        }
        cluster.check();
        cluster
    }

    fn schedule(&mut self, at: SimTime, event: Event) {
        self.seq += 1;
        self.queue.insert((at, self.seq), event);
    }

    /// Proposes one record every `ms` to every node that believes it leads.
    fn with_workload(mut self, ms: u64) -> Cluster {
        self.propose_every_ms = Some(ms);
        self.schedule(self.now.plus_ms(ms), Event::Propose);
        self
    }

    fn apply(&mut self, node: ReplicaId, outputs: Vec<RaftOutput<Rec>>) {
        if outputs.is_empty() {
            return;
        }
        if self.hash_trace {
            self.trace_hash = fnv1a(self.trace_hash, &self.now.0.to_le_bytes());
            self.trace_hash = fnv1a(self.trace_hash, &node.to_le_bytes());
            self.trace_hash = fnv1a(self.trace_hash, format!("{outputs:?}").as_bytes());
        }
        for output in outputs {
            if self.trace {
                eprintln!("{} node {node}: {output:?}", self.now);
            }
            match output {
                RaftOutput::Send { to, message } => {
                    // Random loss is decided when sent; partitions when delivered, so that a
                    // partition also cuts the messages already on the wire.
                    if self.drop_per_mille > 0 && self.rng.below(1000) < self.drop_per_mille {
                        continue;
                    }
                    let latency_us = self.rng.between(500, 5_000);
                    let at = self.now.plus_us(latency_us);
                    self.schedule(
                        at,
                        Event::Deliver {
                            from: node,
                            to,
                            message,
                        },
                    );
                }
                RaftOutput::SetTimer { at, timer } => {
                    assert!(at >= self.now, "timer set in the past");
                    self.schedule(at, Event::Timer { node, timer });
                }
                RaftOutput::BecameLeader { epoch } => {
                    self.became_leader.push((self.now, node, epoch));
                }
                RaftOutput::Resigned { reason, .. } => {
                    self.resigned.push((self.now, node, reason));
                }
                RaftOutput::Truncated { .. } => self.truncations += 1,
                RaftOutput::Transitioned { .. } | RaftOutput::Committed { .. } => {}
            }
        }
    }

    fn check(&mut self) {
        if let Err(Violation(v)) = self.checker.check(&self.nodes) {
            panic!(
                "seed {}: {v} at {} after {} events (replay with RAFT_TRACE=1)",
                self.seed, self.now, self.events
            );
        }
    }

    fn step(&mut self) -> bool {
        let Some(((at, _), event)) = self.queue.pop_first() else {
            return false;
        };
        self.events_at_now = if at == self.now {
            self.events_at_now + 1
        } else {
            0
        };
        assert!(
            self.events_at_now < 10_000,
            "seed {}: livelock, simulated time stopped at {}",
            self.seed,
            at
        );
        self.now = at;
        self.events += 1;
        if self.trace {
            eprintln!("{at} EVENT {event:?}");
        }
        match event {
            Event::Deliver { from, to, message } => {
                if !self.cut.contains(&(from, to)) {
                    let node = self.nodes.get_mut(&to).unwrap();
                    let out = node.on_message(at, from, message, &mut self.rng);
                    self.apply(to, out);
                }
            }
            Event::Timer { node, timer } => {
                let n = self.nodes.get_mut(&node).unwrap();
                let out = n.on_timer(at, timer, &mut self.rng);
                self.apply(node, out);
            }
            Event::Propose => {
                let leaders: Vec<ReplicaId> = self
                    .nodes
                    .iter()
                    .filter(|(_, n)| n.is_running() && n.role() == RoleKind::Leader)
                    .map(|(&id, _)| id)
                    .collect();
                for id in leaders {
                    let value = self.next_value;
                    self.next_value += 1;
                    let n = self.nodes.get_mut(&id).unwrap();
                    let epoch = n.epoch();
                    let proposal = n.propose(at, vec![value]).expect("a leader accepts");
                    self.proposed.insert(value, (id, epoch));
                    self.apply(id, proposal.outputs);
                }
                if let Some(ms) = self.propose_every_ms {
                    self.schedule(at.plus_ms(ms), Event::Propose);
                }
            }
            Event::Fault(fault) => self.fault(fault),
        }
        self.check();
        true
    }

    fn fault(&mut self, fault: Fault) {
        match fault {
            Fault::Restart { node } => self.restart(node),
            Fault::SetDropPerMille(p) => self.drop_per_mille = p,
            Fault::Heal => self.heal(),
            Fault::Chaos => self.chaos(),
        }
    }

    /// One random fault, healed or undone a little later, then the next one.
    fn chaos(&mut self) {
        let ids: Vec<ReplicaId> = self.nodes.keys().copied().collect();
        let pick = |rng: &mut SimRng| ids[rng.below(ids.len() as u64) as usize];
        let now = self.now;
        match self.rng.below(5) {
            0 => {
                let node = pick(&mut self.rng);
                if self.nodes[&node].is_running() {
                    let lose_unflushed = self.rng.below(2) == 0;
                    self.crash(node, lose_unflushed);
                    let back = now.plus_ms(self.rng.between(100, 5_000));
                    self.schedule(back, Event::Fault(Fault::Restart { node }));
                }
            }
            1 => {
                let node = pick(&mut self.rng);
                self.isolate(node);
                let heal = now.plus_ms(self.rng.between(500, 8_000));
                self.schedule(heal, Event::Fault(Fault::Heal));
            }
            2 => {
                let from = pick(&mut self.rng);
                let to = pick(&mut self.rng);
                if from != to {
                    self.cut.insert((from, to));
                    let heal = now.plus_ms(self.rng.between(500, 6_000));
                    self.schedule(heal, Event::Fault(Fault::Heal));
                }
            }
            3 => {
                self.drop_per_mille = self.rng.between(10, 200);
                let end = now.plus_ms(self.rng.between(500, 5_000));
                self.schedule(end, Event::Fault(Fault::SetDropPerMille(0)));
            }
            _ => {
                // A quiet spell, so that the quorum also gets to make progress.
            }
        }
        let next = now.plus_ms(self.rng.between(200, 3_000));
        self.schedule(next, Event::Fault(Fault::Chaos));
    }

    fn crash(&mut self, node: ReplicaId, lose_unflushed: bool) {
        if self.trace {
            eprintln!(
                "{} CRASH node {node} lose_unflushed={lose_unflushed}",
                self.now
            );
        }
        self.trace_hash = fnv1a(self.trace_hash, format!("crash {node}").as_bytes());
        self.crashes += 1;
        self.nodes.get_mut(&node).unwrap().crash(lose_unflushed);
    }

    fn restart(&mut self, node: ReplicaId) {
        if self.nodes[&node].is_running() {
            return;
        }
        if self.trace {
            eprintln!("{} RESTART node {node}", self.now);
        }
        self.checker.on_restart(node);
        let out = {
            let n = self.nodes.get_mut(&node).unwrap();
            n.restart(self.now, &mut self.rng)
        };
        self.apply(node, out);
    }

    fn isolate(&mut self, node: ReplicaId) {
        for &other in self.nodes.keys() {
            if other != node {
                self.cut.insert((node, other));
                self.cut.insert((other, node));
            }
        }
    }

    fn heal(&mut self) {
        self.cut.clear();
    }

    fn run_until(&mut self, until: SimTime) {
        while self
            .queue
            .first_key_value()
            .is_some_and(|((t, _), _)| *t <= until)
        {
            self.step();
        }
        self.now = self.now.max(until);
    }

    fn run_for_ms(&mut self, ms: u64) {
        self.run_until(self.now.plus_ms(ms));
    }

    /// Runs until `done` holds (checked after every event) or `limit_ms` passes; returns when.
    fn run_until_cond(
        &mut self,
        limit_ms: u64,
        mut done: impl FnMut(&Cluster) -> bool,
    ) -> Option<SimTime> {
        let limit = self.now.plus_ms(limit_ms);
        loop {
            if done(self) {
                return Some(self.now);
            }
            if self
                .queue
                .first_key_value()
                .is_none_or(|((t, _), _)| *t > limit)
            {
                self.now = self.now.max(limit);
                return None;
            }
            self.step();
        }
    }

    fn propose_to(&mut self, id: ReplicaId) -> Result<u64, kafka_sim::raft::NotLeader> {
        let value = self.next_value;
        let now = self.now;
        let n = self.nodes.get_mut(&id).unwrap();
        let proposal = n.propose(now, vec![value])?;
        self.next_value += 1;
        self.apply(id, proposal.outputs);
        Ok(proposal.offset)
    }

    /// The running node in the Leader role with the highest epoch.
    fn leader(&self) -> Option<ReplicaId> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.is_running() && n.role() == RoleKind::Leader)
            .max_by_key(|(_, n)| n.epoch())
            .map(|(&id, _)| id)
    }

    /// A leader whose epoch has committed entries: elected and established.
    fn established_leader(&self) -> Option<ReplicaId> {
        self.leader().filter(|id| {
            let n = &self.nodes[id];
            n.high_watermark() > 0
                && n.committed_entries()
                    .last()
                    .is_some_and(|e| e.epoch == n.epoch())
        })
    }

    /// Data records committed anywhere so far.
    fn committed_values(&self) -> BTreeSet<Rec> {
        self.checker
            .committed
            .iter()
            .filter_map(|(e, _)| match e.record {
                RaftRecord::Data(v) => Some(v),
                RaftRecord::LeaderChange { .. } => None,
            })
            .collect()
    }

    /// The full (non-incremental) LogMatching check over every pair of logs.
    fn check_logs_pairwise(&self) {
        let nodes: Vec<&Node> = self.nodes.values().collect();
        for (i, a) in nodes.iter().enumerate() {
            for b in &nodes[i + 1..] {
                let (ea, eb) = (a.entries(), b.entries());
                let common = ea.len().min(eb.len());
                if let Some(last_match) = (0..common).rev().find(|&k| ea[k].epoch == eb[k].epoch) {
                    assert_eq!(
                        ea[..=last_match],
                        eb[..=last_match],
                        "seed {}: logs of {} and {} disagree below offset {last_match}",
                        self.seed,
                        a.node_id(),
                        b.node_id()
                    );
                }
            }
        }
    }
}

/// The seeds of a property: `range`, or only `RAFT_SEED` when set, to replay one.
fn seeds(range: std::ops::Range<u64>) -> Vec<u64> {
    match std::env::var("RAFT_SEED") {
        Ok(s) => vec![s.parse().expect("RAFT_SEED is a number")],
        Err(_) => range.collect(),
    }
}

// ----- Properties -----

#[test]
fn a_leader_is_elected_from_a_cold_start_for_every_seed() {
    let mut worst = 0;
    for seed in seeds(0..250) {
        let mut c = Cluster::new(seed, 3);
        let at = c
            .run_until_cond(10_000, |c| c.established_leader().is_some())
            .unwrap_or_else(|| panic!("seed {seed}: no leader within 10 s of a cold start"));
        worst = worst.max(at.as_ms());
        // Every voter learns the leader within a fetch wait: BeginQuorumEpoch is sent at once.
        let leader = c.established_leader().unwrap();
        c.run_for_ms(100);
        for n in c.nodes.values() {
            assert_eq!(
                n.leader_id(),
                Some(leader),
                "seed {seed}: node {}",
                n.node_id()
            );
        }
    }
    println!("cold start: slowest election {worst} ms");
    // Elections start after at most twice the election timeout; one split vote may add a
    // backoff and another timeout.
    assert!(
        worst <= 2 * ELECTION_MS + 2_500,
        "slowest election took {worst} ms"
    );
}

#[test]
fn five_voters_and_a_single_voter_elect_and_commit() {
    for seed in seeds(0..20) {
        let mut c = Cluster::new(seed, 5).with_workload(50);
        c.run_for_ms(8_000);
        let leader = c.established_leader().expect("five voters elect a leader");
        assert!(c.nodes[&leader].high_watermark() > 20, "seed {seed}");
    }
    let mut c = Cluster::new(1, 1).with_workload(50);
    c.run_for_ms(1_000);
    assert_eq!(c.established_leader(), Some(1));
    assert!(c.committed_values().len() >= 15);
}

#[test]
fn killing_the_leader_elects_another_and_keeps_committed_entries() {
    let mut worst = 0;
    for seed in seeds(0..60) {
        let mut c = Cluster::new(seed, 3).with_workload(20);
        c.run_until_cond(10_000, |c| c.established_leader().is_some())
            .expect("initial leader");
        c.run_for_ms(2_000);
        let old = c.leader().unwrap();
        let old_epoch = c.nodes[&old].epoch();
        let committed_before = c.committed_values();
        assert!(
            committed_before.len() > 50,
            "seed {seed}: the workload commits"
        );
        // Lose the leader's unflushed batch too: it was never acknowledged.
        c.crash(old, true);
        let crashed_at = c.now;
        let at = c
            .run_until_cond(20_000, |c| {
                c.established_leader()
                    .is_some_and(|l| l != old && c.nodes[&l].epoch() > old_epoch)
            })
            .unwrap_or_else(|| panic!("seed {seed}: no new leader after the leader crashed"));
        let took = at.as_ms() - crashed_at.as_ms();
        worst = worst.max(took);
        let new = c.leader().unwrap();
        let values: BTreeSet<Rec> = c.nodes[&new]
            .entries()
            .iter()
            .filter_map(|e| match e.record {
                RaftRecord::Data(v) => Some(v),
                RaftRecord::LeaderChange { .. } => None,
            })
            .collect();
        assert!(
            committed_before.is_subset(&values),
            "seed {seed}: the new leader lost committed records"
        );
        // The old leader comes back resigned in its epoch and catches up.
        c.restart(old);
        // It comes back resigned in the epoch it led, from its persisted election state, so
        // it can neither lead that epoch again nor vote in it.
        assert_eq!(
            (c.nodes[&old].role(), c.nodes[&old].epoch()),
            (RoleKind::Resigned, old_epoch),
            "seed {seed}"
        );
        assert_eq!(
            c.resigned.last().map(|r| (r.1, r.2)),
            Some((old, ResignReason::Restarted))
        );
        c.run_for_ms(3_000);
        let hw = c.nodes[&new].high_watermark();
        assert!(
            c.nodes[&old].high_watermark() + 60 >= hw,
            "seed {seed}: the restarted node catches up"
        );
        c.check_logs_pairwise();
    }
    println!("leader crash: slowest failover {worst} ms");
    // Followers notice after the fetch timeout and stand at once; a split vote between the two
    // costs a backoff and at most one more election timeout.
    assert!(
        worst <= FETCH_MS + 2 * ELECTION_MS + 1_000,
        "slowest failover took {worst} ms"
    );
}

#[test]
fn an_isolated_leader_cannot_commit_steps_down_and_the_majority_moves_on() {
    for seed in seeds(0..40) {
        let mut c = Cluster::new(seed, 3).with_workload(20);
        c.run_until_cond(10_000, |c| c.established_leader().is_some())
            .expect("initial leader");
        c.run_for_ms(1_000);
        let old = c.leader().unwrap();
        let old_epoch = c.nodes[&old].epoch();
        c.isolate(old);
        let cut_at = c.now;
        let hw_at_cut = c.nodes[&old].high_watermark();
        let first_value_after_cut = c.next_value;

        // While it still believes it leads, the old leader takes proposals but commits none.
        let stepped_down = c
            .run_until_cond(10_000, |c| c.nodes[&old].role() != RoleKind::Leader)
            .expect("the isolated leader steps down");
        assert_eq!(
            c.nodes[&old].high_watermark(),
            hw_at_cut,
            "seed {seed}: a minority leader advanced its high watermark"
        );
        // Check-quorum: 1.5 × the fetch timeout since the last majority of fetches.
        let took = stepped_down.as_ms() - cut_at.as_ms();
        assert!(
            took <= FETCH_MS * 3 / 2 + 10,
            "seed {seed}: stepped down after {took} ms"
        );
        assert!(c
            .resigned
            .iter()
            .any(|&(_, n, r)| n == old && r == ResignReason::CheckQuorumFailed));

        // The majority elects a leader of a newer epoch and commits.
        c.run_until_cond(10_000, |c| {
            c.established_leader()
                .is_some_and(|l| l != old && c.nodes[&l].epoch() > old_epoch)
        })
        .unwrap_or_else(|| panic!("seed {seed}: the majority elects no leader"));
        let new = c.leader().unwrap();
        let hw = c.nodes[&new].high_watermark();
        c.run_for_ms(2_000);
        assert!(c.nodes[&new].high_watermark() > hw + 20, "seed {seed}");

        // After healing, the old leader rejoins; progress continues and logs converge.
        c.heal();
        c.run_for_ms(8_000);
        let leader = c.established_leader().expect("a leader after healing");
        let hw = c.nodes[&leader].high_watermark();
        c.run_for_ms(2_000);
        assert!(c.nodes[&leader].high_watermark() > hw + 20, "seed {seed}");
        for n in c.nodes.values() {
            assert!(
                n.high_watermark() + 60 >= c.nodes[&leader].high_watermark(),
                "seed {seed}: node {} lags after healing",
                n.node_id()
            );
        }
        // Nothing proposed to the isolated leader while it was cut off was ever committed.
        let committed = c.committed_values();
        let lost: Vec<Rec> = c
            .proposed
            .iter()
            .filter(|(&v, &(node, epoch))| {
                v >= first_value_after_cut && node == old && epoch == old_epoch
            })
            .map(|(&v, _)| v)
            .collect();
        assert!(
            !lost.is_empty(),
            "seed {seed}: the workload reached the old leader"
        );
        assert!(
            lost.iter().all(|v| !committed.contains(v)),
            "seed {seed}: a record proposed to a minority leader was committed"
        );
        c.check_logs_pairwise();
    }
}

#[test]
fn an_isolated_follower_cannot_commit_and_catches_up_after_healing() {
    for seed in seeds(0..30) {
        let mut c = Cluster::new(seed, 3).with_workload(20);
        c.run_until_cond(10_000, |c| c.established_leader().is_some())
            .expect("initial leader");
        let leader = c.leader().unwrap();
        let follower = *c.nodes.keys().find(|&&id| id != leader).unwrap();
        c.isolate(follower);
        let hw = c.nodes[&follower].high_watermark();
        c.run_for_ms(6_000);
        // Alone it keeps standing for election (no pre-vote) but never leads or commits.
        assert_eq!(c.nodes[&follower].high_watermark(), hw, "seed {seed}");
        assert_ne!(c.nodes[&follower].role(), RoleKind::Leader);
        assert!(
            c.nodes[&follower].epoch() > c.nodes[&leader].epoch(),
            "seed {seed}"
        );
        // The majority keeps committing meanwhile.
        assert!(c.nodes[&leader].high_watermark() > hw + 100, "seed {seed}");
        c.heal();
        // Its higher epoch disrupts the leader once; the quorum recovers and it catches up.
        c.run_for_ms(10_000);
        let l = c.established_leader().expect("a leader after healing");
        let lhw = c.nodes[&l].high_watermark();
        assert!(
            c.nodes[&follower].high_watermark() + 60 >= lhw,
            "seed {seed}: follower at {} leader at {lhw}",
            c.nodes[&follower].high_watermark()
        );
    }
}

#[test]
fn a_one_way_cut_from_the_leader_settles_on_a_leader_both_can_reach() {
    let mut worst = 0;
    for seed in seeds(0..30) {
        let mut c = Cluster::new(seed, 3).with_workload(20);
        c.run_until_cond(10_000, |c| c.established_leader().is_some())
            .expect("initial leader");
        let cut_off = c.leader().unwrap();
        let follower = *c.nodes.keys().find(|&&id| id != cut_off).unwrap();
        let other = *c
            .nodes
            .keys()
            .find(|&&id| id != cut_off && id != follower)
            .unwrap();
        // The follower's fetches still reach the leader but it never hears back: it stands
        // after the fetch timeout. Without pre-vote its ever higher epochs depose any leader
        // that cannot reach it, until the third voter, which can, is elected.
        c.cut.insert((cut_off, follower));
        let start = c.now;
        let at = c
            .run_until_cond(60_000, |c| {
                c.established_leader() == Some(other)
                    && c.nodes[&follower].leader_id() == Some(other)
            })
            .unwrap_or_else(|| panic!("seed {seed}: never settled on node {other}"));
        worst = worst.max(at.as_ms() - start.as_ms());
        let hw = c.nodes[&other].high_watermark();
        c.run_for_ms(3_000);
        assert_eq!(
            c.leader(),
            Some(other),
            "seed {seed}: the settled leader stays"
        );
        assert!(
            c.nodes[&other].high_watermark() > hw + 50,
            "seed {seed}: progress resumes"
        );
        assert!(
            c.nodes[&follower].high_watermark() + 60 >= c.nodes[&other].high_watermark(),
            "seed {seed}: the cut-off follower replicates from the new leader"
        );
    }
    println!("one-way cut settled within {worst} ms");
}

#[test]
fn a_graceful_resignation_hands_over_quickly() {
    let mut fast = 0;
    let mut worst = 0;
    let all = seeds(0..40);
    for &seed in &all {
        let mut c = Cluster::new(seed, 3).with_workload(20);
        c.run_until_cond(10_000, |c| c.established_leader().is_some())
            .expect("initial leader");
        c.run_for_ms(500);
        let old = c.leader().unwrap();
        let out = {
            let n = c.nodes.get_mut(&old).unwrap();
            n.resign(c.now, &mut c.rng)
        };
        c.apply(old, out);
        assert_eq!(c.nodes[&old].role(), RoleKind::Resigned);
        assert!(
            c.propose_to(old).is_err(),
            "a resigned leader takes no writes"
        );
        let start = c.now;
        let at = c
            .run_until_cond(10_000, |c| c.established_leader().is_some_and(|l| l != old))
            .unwrap_or_else(|| panic!("seed {seed}: no successor"));
        let took = at.as_ms() - start.as_ms();
        worst = worst.max(took);
        if took < 100 {
            fast += 1;
        }
    }
    println!(
        "graceful hand-over: {fast} of {} within 100 ms, slowest {worst} ms",
        all.len()
    );
    // EndQuorumEpoch makes the most caught-up voter stand at once. When the leader's view of
    // "most caught up" is a fetch behind, that voter is refused and the election falls back
    // to the election timeout of the others.
    assert!(fast * 2 > all.len(), "most hand-overs skip the timeouts");
    assert!(
        worst <= 2 * ELECTION_MS + 1_000,
        "slowest hand-over took {worst} ms"
    );
}

#[test]
fn random_faults_never_break_safety_and_the_quorum_recovers_after_healing() {
    let (mut elections, mut crashes, mut truncations, mut committed, mut resigns) = (0, 0, 0, 0, 0);
    for seed in seeds(0..40) {
        let voters = if seed % 4 == 3 { 5 } else { 3 };
        let mut c = Cluster::new(1_000 + seed, voters).with_workload(25);
        c.schedule(c.now.plus_ms(1_500), Event::Fault(Fault::Chaos));
        c.run_for_ms(40_000);
        // Undo every fault, stop injecting new ones, and require progress.
        c.queue.retain(|_, e| !matches!(e, Event::Fault(_)));
        c.heal();
        c.drop_per_mille = 0;
        let ids: Vec<ReplicaId> = c.nodes.keys().copied().collect();
        for id in ids {
            c.restart(id);
        }
        let before = c.committed_values().len();
        c.run_until_cond(30_000, |c| c.committed_values().len() > before + 20)
            .unwrap_or_else(|| panic!("seed {}: no progress after healing", c.seed));
        c.run_for_ms(5_000);
        let leader = c.established_leader().expect("a leader at the end");
        for n in c.nodes.values() {
            assert!(
                n.high_watermark() + 100 >= c.nodes[&leader].high_watermark(),
                "seed {}: node {} lags",
                c.seed,
                n.node_id()
            );
        }
        c.check_logs_pairwise();
        assert!(
            c.checker.leader_of_epoch.len() >= 2,
            "seed {}: faults caused elections",
            c.seed
        );
        elections += c.checker.leader_of_epoch.len();
        crashes += c.crashes;
        truncations += c.truncations;
        committed += c.checker.committed.len();
        resigns += c.resigned.len();
    }
    println!(
        "random faults: {elections} leaders elected, {resigns} resignations, {crashes} crashes, \
         {truncations} truncations, {committed} entries committed"
    );
    // The faults must actually have exercised elections, crashes and log repair.
    assert!(crashes > 0 && truncations > 0 && resigns > 0);
}

#[test]
fn crashes_that_lose_unflushed_entries_keep_every_committed_entry() {
    // The leader is crashed repeatedly right after proposals, while its batch is still
    // lingering unflushed, and followers are crashed too; the checker verifies after each
    // event that no committed entry disappears from any later leader.
    let mut lost_unflushed = 0;
    for seed in seeds(0..30) {
        let mut c = Cluster::new(2_000 + seed, 3).with_workload(5);
        for round in 0..6 {
            c.run_until_cond(15_000, |c| c.established_leader().is_some())
                .unwrap_or_else(|| panic!("seed {seed} round {round}: no leader"));
            let wait = c.rng.between(100, 1_000);
            c.run_for_ms(wait);
            let victim = if round % 2 == 0 {
                c.leader().unwrap()
            } else {
                *c.nodes.keys().find(|&&id| Some(id) != c.leader()).unwrap()
            };
            let n = &c.nodes[&victim];
            lost_unflushed += n.log_end_offset() - n.flushed_end_offset();
            c.crash(victim, true);
            let down = c.rng.between(0, 3_000);
            c.run_for_ms(down);
            c.restart(victim);
        }
        c.run_for_ms(5_000);
        c.check_logs_pairwise();
        assert!(c.committed_values().len() > 100, "seed {seed}");
    }
    assert!(lost_unflushed > 0, "some crash lost unflushed entries");
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    let run = |seed: u64| {
        let mut c = Cluster::new(seed, 3).with_workload(30);
        c.hash_trace = true;
        c.schedule(c.now.plus_ms(2_000), Event::Fault(Fault::Chaos));
        c.run_for_ms(20_000);
        (c.trace_hash, c.events, c.checker.committed.len())
    };
    for seed in [1, 7, 42] {
        assert_eq!(run(seed), run(seed), "seed {seed}");
    }
    assert_ne!(run(1).0, run(2).0, "the trace depends on the seed");
}

#[test]
fn node_state_survives_a_serde_round_trip_mid_run() {
    // The simulator's world is one Serialize + Clone value: a node saved mid-run and loaded
    // again must be the same node, and must go on to do the same things.
    let mut c = Cluster::new(5, 3).with_workload(20);
    c.run_for_ms(4_000);
    for n in c.nodes.values() {
        let json = serde_json::to_string(n).unwrap();
        let back: Node = serde_json::from_str(&json).unwrap();
        assert_eq!(format!("{back:?}"), format!("{n:?}"));
        let mut a = n.clone();
        let mut b = back;
        let (mut ra, mut rb) = (SimRng::from_seed(3), SimRng::from_seed(3));
        let later = c.now.plus_ms(10_000);
        let timer = RaftTimer {
            kind: kafka_sim::raft::TimerKind::Election,
            id: 0,
        };
        assert_eq!(
            a.on_timer(later, timer, &mut ra),
            b.on_timer(later, timer, &mut rb)
        );
        assert_eq!(a.resign(later, &mut ra), b.resign(later, &mut rb));
    }
}

// ----- Direct checks of single rules -----

fn node(id: ReplicaId) -> (Node, SimRng) {
    let mut rng = SimRng::from_seed(9);
    let mut n = Node::new(id, RaftConfig::with_voters([1, 2, 3])).unwrap();
    n.start(SimTime::ZERO, &mut rng);
    (n, rng)
}

fn vote(n: &mut Node, rng: &mut SimRng, from: ReplicaId, epoch: u32, last: u32, end: u64) -> bool {
    let out = n.on_message(
        SimTime::from_ms(1),
        from,
        RaftMessage::VoteRequest {
            candidate_epoch: epoch,
            last_epoch: last,
            end_offset: end,
        },
        rng,
    );
    out.iter()
        .find_map(|o| match o {
            RaftOutput::Send {
                to,
                message: RaftMessage::VoteResponse { vote_granted, .. },
            } if *to == from => Some(*vote_granted),
            _ => None,
        })
        .expect("a vote response")
}

#[test]
fn a_voter_grants_one_vote_per_epoch_even_across_a_restart() {
    let (mut n, mut rng) = node(1);
    assert!(vote(&mut n, &mut rng, 2, 1, 0, 0));
    assert_eq!(n.role(), RoleKind::Voted);
    assert!(
        !vote(&mut n, &mut rng, 3, 1, 0, 0),
        "second candidate, same epoch"
    );
    assert!(
        vote(&mut n, &mut rng, 2, 1, 0, 0),
        "the same candidate asking again"
    );
    n.crash(true);
    n.restart(SimTime::from_ms(5), &mut rng);
    assert_eq!(
        (n.role(), n.epoch(), n.voted_for()),
        (RoleKind::Voted, 1, Some(2))
    );
    assert!(
        !vote(&mut n, &mut rng, 3, 1, 0, 0),
        "the vote survived the restart"
    );
    assert!(
        vote(&mut n, &mut rng, 3, 2, 0, 0),
        "a new epoch allows a new vote"
    );
    assert!(
        !vote(&mut n, &mut rng, 2, 1, 0, 0),
        "a stale epoch is fenced"
    );
}

#[test]
fn a_voter_refuses_a_candidate_whose_log_is_behind() {
    // Make node 1 a follower with entries of epoch 2, then ask it for votes.
    let (mut n, mut rng) = node(1);
    let entries: Vec<LogEntry<Rec>> = (0..3)
        .map(|i| LogEntry {
            offset: i,
            epoch: 2,
            record: RaftRecord::Data(i),
        })
        .collect();
    n.on_message(
        SimTime::from_ms(1),
        2,
        RaftMessage::BeginQuorumEpochRequest { epoch: 2 },
        &mut rng,
    );
    assert_eq!((n.role(), n.leader_id()), (RoleKind::Follower, Some(2)));
    let fetch_id = match &n.state() {
        kafka_sim::raft::RoleState::Follower(f) => f.in_flight.unwrap(),
        s => panic!("{s:?}"),
    };
    n.on_message(
        SimTime::from_ms(2),
        2,
        RaftMessage::FetchResponse {
            request_id: fetch_id,
            epoch: 2,
            leader: Some(2),
            error: None,
            entries,
            high_watermark: Some(2),
            diverging_epoch: None,
        },
        &mut rng,
    );
    assert_eq!((n.log_end_offset(), n.high_watermark()), (3, 2));
    assert!(
        !vote(&mut n, &mut rng, 3, 3, 1, 10),
        "older last epoch, longer log"
    );
    assert!(
        !vote(&mut n, &mut rng, 3, 4, 2, 2),
        "same last epoch, shorter log"
    );
    assert!(vote(&mut n, &mut rng, 3, 5, 2, 3), "as up to date");
}

#[test]
fn stale_timers_are_ignored() {
    let (mut n, mut rng) = node(1);
    let mut out = n.start(SimTime::ZERO, &mut rng);
    assert!(out.is_empty(), "start is idempotent");
    n.crash(false);
    out = n.restart(SimTime::ZERO, &mut rng);
    let timer = out
        .iter()
        .find_map(|o| match o {
            RaftOutput::SetTimer { timer, at } => Some((*timer, *at)),
            _ => None,
        })
        .unwrap();
    // A vote moves the node to Voted, which re-arms its election timer: the old one is stale.
    assert!(vote(&mut n, &mut rng, 2, 1, 0, 0));
    assert!(n.on_timer(timer.1, timer.0, &mut rng).is_empty());
    assert_eq!(n.role(), RoleKind::Voted);
}

/// Fires every timer of `kind` among `outputs` and returns what the node did.
fn fire(
    n: &mut Node,
    rng: &mut SimRng,
    outputs: &[RaftOutput<Rec>],
    kind: kafka_sim::raft::TimerKind,
) -> Vec<RaftOutput<Rec>> {
    let mut out = Vec::new();
    for o in outputs {
        if let RaftOutput::SetTimer { at, timer } = o {
            if timer.kind == kind {
                out.extend(n.on_timer(*at, *timer, rng));
            }
        }
    }
    out
}

#[test]
fn a_new_leader_commits_old_entries_only_with_one_of_its_own_epoch() {
    use kafka_sim::raft::TimerKind;
    let (mut n, mut rng) = node(1);
    let t = SimTime::from_ms;
    // Follow node 2 in epoch 1 and replicate three entries that are not committed yet.
    let out = n.on_message(
        t(1),
        2,
        RaftMessage::BeginQuorumEpochRequest { epoch: 1 },
        &mut rng,
    );
    let fetch_id = out
        .iter()
        .find_map(|o| match o {
            RaftOutput::Send {
                message: RaftMessage::FetchRequest { request_id, .. },
                ..
            } => Some(*request_id),
            _ => None,
        })
        .unwrap();
    let entries = (0..3)
        .map(|i| LogEntry {
            offset: i,
            epoch: 1,
            record: RaftRecord::Data(i),
        })
        .collect();
    n.on_message(
        t(2),
        2,
        RaftMessage::FetchResponse {
            request_id: fetch_id,
            epoch: 1,
            leader: Some(2),
            error: None,
            entries,
            high_watermark: Some(0),
            diverging_epoch: None,
        },
        &mut rng,
    );
    assert_eq!((n.log_end_offset(), n.high_watermark()), (3, 0));
    // Node 2 resigns naming node 1 first: node 1 stands at once and node 3 votes for it.
    let out = n.on_message(
        t(3),
        2,
        RaftMessage::EndQuorumEpochRequest {
            epoch: 1,
            preferred_successors: vec![1, 3],
        },
        &mut rng,
    );
    fire(&mut n, &mut rng, &out, TimerKind::FetchTimeout);
    assert_eq!((n.role(), n.epoch()), (RoleKind::Candidate, 2));
    n.on_message(
        t(4),
        3,
        RaftMessage::VoteResponse {
            epoch: 2,
            leader: None,
            vote_granted: true,
            error: None,
        },
        &mut rng,
    );
    assert_eq!(n.role(), RoleKind::Leader);
    assert!(matches!(
        n.entries()[3].record,
        RaftRecord::LeaderChange { leader: 1, .. }
    ));
    // Node 3 has the three old entries but not the LeaderChange record: offset 3 is on a
    // majority, yet the leader must not commit it, because only an entry of its own epoch on a
    // majority guarantees that every future leader has it.
    let fetch = |request_id, fetch_offset, last_fetched_epoch| RaftMessage::FetchRequest {
        request_id,
        epoch: 2,
        fetch_offset,
        last_fetched_epoch,
    };
    let out = n.on_message(t(5), 3, fetch(1, 3, 1), &mut rng);
    assert_eq!(n.high_watermark(), 0);
    assert!(out.iter().any(|o| matches!(
        o,
        RaftOutput::Send {
            to: 3,
            message: RaftMessage::FetchResponse {
                high_watermark: None,
                ..
            }
        }
    )));
    // Once node 3 has the LeaderChange record, everything up to it commits at once.
    let out = n.on_message(t(6), 3, fetch(2, 4, 2), &mut rng);
    assert_eq!(n.high_watermark(), 4);
    assert!(out.contains(&RaftOutput::Committed { up_to: 4 }));
    // A stale fetch from the old epoch is fenced with the current epoch and leader.
    let out = n.on_message(
        t(7),
        2,
        RaftMessage::FetchRequest {
            request_id: 9,
            epoch: 1,
            fetch_offset: 3,
            last_fetched_epoch: 1,
        },
        &mut rng,
    );
    assert!(out.iter().any(|o| matches!(
        o,
        RaftOutput::Send {
            to: 2,
            message: RaftMessage::FetchResponse {
                epoch: 2,
                leader: Some(1),
                error: Some(kafka_sim::KafkaError::FencedLeaderEpoch),
                ..
            }
        }
    )));
}

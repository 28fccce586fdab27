//! The KRaft controller quorum in the simulation: the voters as network nodes running
//! [`RaftNode`]s, which of them is the active controller, and how metadata changes travel from
//! the active controller's decision to the brokers (`SEMANTICS.md` §2).
//!
//! The path of a change: the controller logic (`crate::controller`, `crate::admin`) edits the
//! active controller's in-memory image; `Simulation::publish_metadata` proposes the difference
//! as metadata records ([`crate::metadata_record`]) to the quorum leader's log; the leader
//! replicates the log to the other voters over the simulated network; once a majority has the
//! records on disk the leader's high watermark passes them, and only then is the new image sent
//! to the brokers. A controller that loses leadership before that loses its uncommitted
//! changes, and the next leader starts from its own log.
//!
//! Simplifications (shown in the page and ARCHITECTURE.md): brokers receive the committed image
//! pushed by the active controller rather than fetching the metadata log as observers; they
//! find the active controller through `NOT_CONTROLLER` answers and by trying the next voter
//! when a heartbeat goes unanswered; the log has no snapshots.

use crate::error::{Error, ErrorKind, Result};
use crate::event::EventKind;
use crate::metadata_record::{apply, diff, MetadataRecord};
use crate::network::{Message, NodeId, Payload};
use crate::raft::{
    RaftConfig, RaftNode, RaftOutput, RaftRecord, RaftTimer, ResignReason, RoleKind,
};
use crate::sim::{Simulation, Task, Timer};
use crate::BrokerId;

/// The node id of the first controller; the others follow it.
pub const FIRST_CONTROLLER_ID: BrokerId = 100;
/// Most voters a quorum may have.
pub const MAX_CONTROLLERS: u32 = 5;

/// Builds the stopped voters of a quorum of `count` controllers, numbered from
/// [`FIRST_CONTROLLER_ID`].
pub(crate) fn new_quorum(count: u32) -> Result<Vec<RaftNode<MetadataRecord>>> {
    if count == 0 || count > MAX_CONTROLLERS {
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            format!("A controller quorum needs between 1 and {MAX_CONTROLLERS} voters; {count} were asked for."),
        ));
    }
    let voters: Vec<BrokerId> = (0..count as BrokerId)
        .map(|i| FIRST_CONTROLLER_ID + i)
        .collect();
    let config = RaftConfig::with_voters(voters.clone());
    voters
        .iter()
        .map(|&id| RaftNode::new(id, config.clone()))
        .collect()
}

/// What the invariant checker remembers about the quorum between steps.
#[derive(Clone, Debug, Default)]
pub(crate) struct QuorumMemory {
    /// The leader seen in each quorum epoch.
    leaders_by_epoch: std::collections::BTreeMap<u32, BrokerId>,
    /// The offset of the newest committed image seen.
    published_offset: u64,
}

impl Simulation {
    /// The KRaft quorum's invariants (`RELIABILITY.md` §B, the quorum part): at most one leader
    /// per epoch (ElectionSafety), the active controller is a running quorum leader, and the
    /// committed metadata the brokers get never goes back.
    pub(crate) fn quorum_violations(
        &self,
        memory: &mut QuorumMemory,
        out: &mut Vec<crate::invariants::Violation>,
    ) {
        use crate::invariants::Violation;
        for node in &self.controller.quorum {
            if node.is_running() && node.role() == RoleKind::Leader {
                let id = node.node_id();
                let seen = *memory.leaders_by_epoch.entry(node.epoch()).or_insert(id);
                if seen != id {
                    out.push(Violation {
                        invariant: "ElectionSafety",
                        detail: format!(
                            "controllers {seen} and {id} both led quorum epoch {}",
                            node.epoch()
                        ),
                    });
                }
            }
        }
        if let Some(active) = self.controller.active {
            // In ZooKeeper mode the active controller is a live broker holding /controller.
            // In ZooKeeper mode a controller broker whose session expired believes it is the
            // controller until ZooKeeper's notification reaches it (Kafka's zombie controller);
            // its writes are refused meanwhile, so only being alive is required here.
            let leads = match &self.zookeeper {
                Some(_) => self
                    .broker_index(active)
                    .is_some_and(|i| self.brokers[i].alive),
                None => self
                    .controller_index(active)
                    .map(|i| &self.controller.quorum[i])
                    .is_some_and(|n| n.is_running() && n.role() == RoleKind::Leader),
            };
            if !leads {
                out.push(Violation {
                    invariant: "ActiveControllerLeads",
                    detail: format!(
                        "controller {active} is active but not a running quorum leader (with ZooKeeper: a live broker)"
                    ),
                });
            }
        }
        let published = self.controller.published.offset;
        if published < memory.published_offset {
            out.push(Violation {
                invariant: "CommittedMetadataMonotonic",
                detail: format!(
                    "the committed metadata went back from offset {} to {published}",
                    memory.published_offset
                ),
            });
        }
        memory.published_offset = memory.published_offset.max(published);
    }

    /// The voters of the controller quorum, in id order.
    pub fn controllers(&self) -> &[RaftNode<MetadataRecord>] {
        &self.controller.quorum
    }

    /// The active controller, if the quorum has one.
    pub fn active_controller(&self) -> Option<BrokerId> {
        self.controller.active
    }

    /// The active controller's in-memory metadata: the committed image plus what it has
    /// proposed and the quorum has not yet committed.
    pub fn proposed_metadata(&self) -> &crate::metadata::MetadataImage {
        &self.controller.image
    }

    pub(crate) fn controller_index(&self, id: BrokerId) -> Option<usize> {
        self.controller
            .quorum
            .iter()
            .position(|n| n.node_id() == id)
    }

    /// Starts every voter with the first election already decided, so that the cluster begins
    /// with an active controller.
    pub(crate) fn start_quorum(&mut self) {
        let Some(leader) = self.controller.quorum.first().map(|n| n.node_id()) else {
            return;
        };
        for i in 0..self.controller.quorum.len() {
            let mut out =
                self.controller.quorum[i].start_bootstrapped(self.now, leader, &mut self.rng);
            // The decided election is not narrated as a candidacy: nobody stood.
            out.retain(|o| !matches!(o, RaftOutput::Transitioned { .. }));
            self.quorum_outputs(i, out);
        }
    }

    /// Errors unless a controller is active: Kafka answers admin requests with
    /// `NOT_CONTROLLER` while the quorum has no leader.
    pub(crate) fn require_active_controller(&self) -> Result<()> {
        if self.controller.active.is_some() {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::InvalidState,
                "NOT_CONTROLLER: the controller quorum has no leader right now (an election is under way); try again once a controller is active.",
            ))
        }
    }

    /// Proposes what the active controller changed since its last proposal as metadata
    /// records. Brokers see the change once the quorum commits it.
    pub(crate) fn publish_metadata(&mut self) {
        if self.zookeeper.is_some() {
            self.zk_publish();
            return;
        }
        let Some(i) = self
            .controller
            .active
            .and_then(|id| self.controller_index(id))
        else {
            // Nobody may change metadata without an active controller; undo the edit.
            self.controller.image = self.controller.proposed.clone();
            return;
        };
        if self.steps() == 0 {
            // Set-up before the simulation starts (topics, racks) belongs to the cluster as it
            // was formatted: it joins the image every member's storage starts from, so that a
            // run begins with its topics in place rather than a commit later.
            let offset = self.controller.published.offset + 1;
            self.controller.image.offset = offset;
            self.controller.bootstrap = self.controller.image.clone();
            self.controller.proposed = self.controller.image.clone();
            self.controller.published = self.controller.image.clone();
            self.controller.pending.clear();
            let from = NodeId::Controller(self.controller.quorum[i].node_id());
            let targets: Vec<BrokerId> = self.controller.image.brokers.keys().copied().collect();
            for b in targets {
                let image = Box::new(self.controller.published.clone());
                self.send(from, NodeId::Broker(b), Payload::MetadataUpdate { image });
            }
            return;
        }
        let records = diff(&self.controller.proposed, &self.controller.image);
        if records.is_empty() {
            return;
        }
        match self.controller.quorum[i].propose(self.now, records) {
            Ok(proposal) => {
                self.controller.image.offset =
                    self.metadata_offset(self.controller.quorum[i].log_end_offset());
                self.controller.proposed = self.controller.image.clone();
                self.controller
                    .pending
                    .push_back(self.controller.image.clone());
                self.quorum_outputs(i, proposal.outputs);
            }
            Err(_) => {
                self.controller.image = self.controller.proposed.clone();
            }
        }
    }

    /// Carries out what a voter asked for and reacts to what it reports.
    pub(crate) fn quorum_outputs(&mut self, i: usize, outputs: Vec<RaftOutput<MetadataRecord>>) {
        let id = self.controller.quorum[i].node_id();
        for output in outputs {
            match output {
                RaftOutput::Send { to, message } => self.send(
                    NodeId::Controller(id),
                    NodeId::Controller(to),
                    Payload::Raft(Box::new(message)),
                ),
                RaftOutput::SetTimer { at, timer } => self.schedule(
                    at,
                    Task::Timer(Timer::Quorum {
                        controller: id,
                        timer,
                    }),
                ),
                RaftOutput::Transitioned { to, epoch, .. } => {
                    // A resignation is narrated with its reason by `Resigned`, which follows.
                    let resigning = to == RoleKind::Resigned;
                    if to != RoleKind::Leader && !resigning && self.controller.active == Some(id) {
                        self.deactivate_controller(
                            id,
                            &format!("it saw epoch {epoch} and became {to:?}"),
                        );
                    }
                    if to == RoleKind::Candidate {
                        self.emit(EventKind::ControllerCandidate {
                            controller: id,
                            epoch,
                        });
                    }
                }
                RaftOutput::BecameLeader { epoch } => self.activate_controller(i, epoch),
                RaftOutput::Resigned { epoch, reason } => {
                    if self.controller.active == Some(id) {
                        let why = match reason {
                            ResignReason::CheckQuorumFailed => format!(
                                "no Fetch reached it from a majority of the voters for 1.5 × controller.quorum.fetch.timeout.ms, so it resigned epoch {epoch} (check-quorum)"
                            ),
                            ResignReason::Requested => format!("it resigned epoch {epoch} when asked to"),
                            ResignReason::Restarted => format!("it restarted after leading epoch {epoch}"),
                        };
                        self.deactivate_controller(id, &why);
                    }
                }
                RaftOutput::Committed { up_to } => {
                    if self.controller.active == Some(id) {
                        self.quorum_committed(up_to);
                    }
                }
                RaftOutput::Truncated { .. } => {}
            }
        }
    }

    /// A voter won an election: it replays its whole log (every entry of a leader's log is
    /// committed or will be by its own epoch's first entry) and becomes the active controller.
    fn activate_controller(&mut self, i: usize, epoch: u32) {
        let node = &self.controller.quorum[i];
        let id = node.node_id();
        let mut image = self.controller.bootstrap.clone();
        for entry in node.entries() {
            if let RaftRecord::Data(record) = &entry.record {
                apply(&mut image, record);
            }
        }
        let log_end_offset = node.log_end_offset();
        image.offset = self.controller.bootstrap.offset + log_end_offset;
        self.controller.active = Some(id);
        self.controller.proposed = image.clone();
        self.controller.pending.clear();
        if image.offset > self.controller.published.offset {
            self.controller.pending.push_back(image.clone());
        }
        self.controller.image = image;
        // Kafka's new active controller gives every registered broker a full session from now.
        let now = self.now;
        let brokers: Vec<BrokerId> = self.controller.image.brokers.keys().copied().collect();
        self.controller.last_heartbeat = brokers.into_iter().map(|b| (b, now)).collect();
        self.emit(EventKind::ControllerActivated {
            controller: id,
            epoch,
            log_end_offset,
        });
    }

    fn deactivate_controller(&mut self, id: BrokerId, reason: &str) {
        let epoch = self
            .controller_index(id)
            .map_or(0, |i| self.controller.quorum[i].epoch());
        self.controller.active = None;
        self.controller.pending.clear();
        // Requests whose records may never commit go unanswered; brokers retry them.
        self.controller.deferred.clear();
        self.controller.proposed = self.controller.image.clone();
        self.emit(EventKind::ControllerDeactivated {
            controller: id,
            epoch,
            reason: reason.to_string(),
        });
    }

    /// Answers a broker once everything the active controller has decided so far is committed,
    /// as Kafka's controller completes a request only when its records are: a broker must not
    /// act on a decision a failover could still undo.
    pub(crate) fn controller_respond(&mut self, from: NodeId, to: NodeId, payload: Payload) {
        let offset = self.controller.image.offset;
        if offset <= self.controller.published.offset {
            self.send(from, to, payload);
        } else {
            self.controller.deferred.push((offset, from, to, payload));
        }
    }

    /// The active controller's high watermark rose: publish the newest image it covers.
    /// The offset of the image after the metadata log's first `raft_offset` entries: offsets
    /// continue those of the bootstrap image, so that brokers always see them grow.
    fn metadata_offset(&self, raft_offset: u64) -> u64 {
        self.controller.bootstrap.offset + raft_offset
    }

    fn quorum_committed(&mut self, up_to: u64) {
        let up_to = self.metadata_offset(up_to);
        let mut newest = None;
        while self
            .controller
            .pending
            .front()
            .is_some_and(|image| image.offset <= up_to)
        {
            newest = self.controller.pending.pop_front();
        }
        let Some(image) = newest else { return };
        if image.offset <= self.controller.published.offset {
            return;
        }
        self.controller.published = image;
        let committed = self.controller.published.offset;
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.controller.deferred)
            .into_iter()
            .partition(|(offset, ..)| *offset <= committed);
        self.controller.deferred = waiting;
        let Some(active) = self.controller.active else {
            return;
        };
        let from = NodeId::Controller(active);
        let targets: Vec<BrokerId> = self.controller.published.brokers.keys().copied().collect();
        for b in targets {
            let image = Box::new(self.controller.published.clone());
            self.send(from, NodeId::Broker(b), Payload::MetadataUpdate { image });
        }
        for (_, from, to, payload) in ready {
            self.send(from, to, payload);
        }
    }

    /// Fires a voter's timer.
    pub(crate) fn quorum_timer(&mut self, controller: BrokerId, timer: RaftTimer) {
        let Some(i) = self.controller_index(controller) else {
            return;
        };
        if !self.controller.quorum[i].is_running() {
            return;
        }
        let out = self.controller.quorum[i].on_timer(self.now, timer, &mut self.rng);
        self.quorum_outputs(i, out);
    }

    /// Delivers a message to a controller: quorum traffic to its Raft node, broker requests to
    /// the controller logic if it is active, and `NOT_CONTROLLER` otherwise.
    pub(crate) fn quorum_receive(&mut self, controller: BrokerId, message: Message) {
        let Some(i) = self.controller_index(controller) else {
            return;
        };
        let running = self.controller.quorum[i].is_running();
        match message.payload {
            Payload::Raft(raft) => {
                let NodeId::Controller(from) = message.from else {
                    return;
                };
                if running {
                    let out =
                        self.controller.quorum[i].on_message(self.now, from, *raft, &mut self.rng);
                    self.quorum_outputs(i, out);
                }
            }
            _ if running && self.controller.active == Some(controller) => {
                self.controller_receive(message)
            }
            Payload::BrokerHeartbeat { .. } | Payload::AlterPartition { .. } => {
                // A stopped process refuses the connection; a running voter that is not the
                // active controller names the leader it knows.
                let leader = if running {
                    self.controller.quorum[i]
                        .leader_id()
                        .filter(|&l| l != controller)
                } else {
                    None
                };
                self.send(message.to, message.from, Payload::NotController { leader });
            }
            _ => {}
        }
    }

    /// Kills a controller process; `lossy` also loses the unflushed end of its metadata log.
    pub(crate) fn kill_controller(&mut self, id: BrokerId, lossy: bool) -> Result<()> {
        let i = self.require_controller(id)?;
        if !self.controller.quorum[i].is_running() {
            return Err(Error::new(
                ErrorKind::InvalidState,
                format!("Controller {id} is already stopped."),
            ));
        }
        self.controller.quorum[i].crash(lossy);
        self.emit(EventKind::ControllerKilled {
            controller: id,
            lossy,
        });
        if self.controller.active == Some(id) {
            self.deactivate_controller(id, "its process stopped");
        }
        Ok(())
    }

    /// Starts a stopped controller again.
    pub(crate) fn restart_controller(&mut self, id: BrokerId) -> Result<()> {
        let i = self.require_controller(id)?;
        if self.controller.quorum[i].is_running() {
            return Err(Error::new(
                ErrorKind::InvalidState,
                format!("Controller {id} is already running."),
            ));
        }
        self.emit(EventKind::ControllerRestarted { controller: id });
        let out = self.controller.quorum[i].restart(self.now, &mut self.rng);
        self.quorum_outputs(i, out);
        Ok(())
    }

    /// The voter after `id` in id order, wrapping around: where a broker turns when its
    /// controller does not answer.
    pub(crate) fn next_controller_after(&self, id: BrokerId) -> BrokerId {
        let voters = &self.controller.quorum;
        let next = voters
            .iter()
            .position(|n| n.node_id() == id)
            .map_or(0, |i| (i + 1) % voters.len());
        voters.get(next).map_or(id, |n| n.node_id())
    }

    fn require_controller(&self, id: BrokerId) -> Result<usize> {
        self.controller_index(id).ok_or_else(|| {
            Error::new(
                ErrorKind::UnknownBroker,
                format!("There is no controller {id} in this cluster."),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::BrokerConfig;
    use crate::invariants::InvariantChecker;
    use crate::sim::Simulation;

    fn names(sim: &Simulation, checker: &mut InvariantChecker) -> Vec<&'static str> {
        checker
            .check(sim)
            .into_iter()
            .map(|v| v.invariant)
            .collect()
    }

    #[test]
    fn the_checker_catches_a_follower_posing_as_active_and_committed_metadata_going_back() {
        let mut sim = Simulation::new(3, BrokerConfig::default(), 1).unwrap();
        sim.run_for_ms(1_000);
        let mut checker = InvariantChecker::new();
        assert!(names(&sim, &mut checker).is_empty());
        // A follower named active, as a bug in the failover would leave it.
        sim.controller.active = Some(101);
        assert_eq!(names(&sim, &mut checker), ["ActiveControllerLeads"]);
        sim.controller.active = Some(100);
        // Committed metadata going back, as publishing an older image would.
        sim.controller.published.offset = 0;
        assert_eq!(names(&sim, &mut checker), ["CommittedMetadataMonotonic"]);
    }
}

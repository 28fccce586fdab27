//! The active controller: broker registration, heartbeats and fencing, topic creation, leader
//! election and ISR changes (`SEMANTICS.md` §2, §3.2, §3.6).
//!
//! The logic here is the active controller's. It changes the controller's in-memory image and
//! then calls `Simulation::publish_metadata`, which proposes the difference to the controller
//! quorum as metadata records; brokers learn the change only once the quorum commits it
//! (`crate::quorum`). Which member is active, and what happens when it fails, is in the quorum
//! module.

use crate::config::TopicConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::event::EventKind;
use crate::metadata::{
    elect_leader, BrokerRegistration, Election, MetadataImage, PartitionState, TopicMetadata,
    TopicPartition,
};
use crate::metadata_record::MetadataRecord;
use crate::network::{Message, NodeId, Payload};
use crate::placement::{striped_placement, UsableBroker};
use crate::raft::RaftNode;
use crate::sim::{Simulation, Timer};
use crate::time::SimTime;
use crate::{BrokerId, KafkaError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Most partitions per topic.
pub const MAX_PARTITIONS: u32 = 64;
/// Most topics.
pub const MAX_TOPICS: usize = 16;

/// The controller quorum and the active controller's state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Controller {
    /// The voters of the quorum, in id order. Each runs KRaft's Raft protocol.
    pub(crate) quorum: Vec<RaftNode<MetadataRecord>>,
    /// The voter that is the active controller: the quorum leader, once it has loaded the log.
    pub(crate) active: Option<BrokerId>,
    /// The active controller's in-memory image, including records proposed but not yet
    /// committed (Kafka's controller applies a record when it proposes it, and reverts to the
    /// log when it loses leadership). With no active controller, the last one's image.
    pub(crate) image: MetadataImage,
    /// The image as of the last proposal: what the next proposal is a difference from.
    pub(crate) proposed: MetadataImage,
    /// Images after each proposal not yet committed; each image's offset is the log end offset
    /// after its records.
    pub(crate) pending: VecDeque<MetadataImage>,
    /// The newest committed image, as published to brokers.
    pub(crate) published: MetadataImage,
    /// The image every member's storage starts from (offset 0 of the metadata log): the
    /// brokers and topics of the cluster as set up before the simulation starts.
    pub(crate) bootstrap: MetadataImage,
    /// When each broker last heartbeated to the active controller. A new active controller
    /// starts every broker's session afresh, as Kafka's `BrokerHeartbeatManager` does.
    pub(crate) last_heartbeat: BTreeMap<BrokerId, SimTime>,
    /// Responses to brokers held until the records they depend on are committed: (the log end
    /// offset they wait for, sender, receiver, response).
    pub(crate) deferred: Vec<(u64, NodeId, NodeId, Payload)>,
}

impl Controller {
    pub(crate) fn new(quorum: Vec<RaftNode<MetadataRecord>>, brokers: &[BrokerId]) -> Controller {
        let mut image = MetadataImage::default();
        // Brokers present when the simulation starts are registered and unfenced, as in a cluster
        // that has been up for a while.
        for &b in brokers {
            image.brokers.insert(
                b,
                BrokerRegistration {
                    fenced: false,
                    rack: None,
                    incarnation: 1,
                },
            );
        }
        Controller {
            quorum,
            active: None,
            proposed: image.clone(),
            pending: VecDeque::new(),
            published: image.clone(),
            bootstrap: image.clone(),
            image,
            last_heartbeat: brokers.iter().map(|&b| (b, SimTime::ZERO)).collect(),
            deferred: Vec::new(),
        }
    }
}

impl Simulation {
    /// The metadata the controller quorum has committed: topics, partitions, leaders, ISRs,
    /// fenced brokers. This is what brokers act on and what `kafka-topics.sh --describe` shows;
    /// changes the active controller has proposed but the quorum has not yet committed are not
    /// in it.
    pub fn metadata(&self) -> &MetadataImage {
        &self.controller.published
    }

    /// Creates a topic, placing replicas as the KRaft controller's `StripedReplicaPlacer` does, with
    /// the simulation's seeded generator in place of Java's `Random`.
    pub fn create_topic(
        &mut self,
        name: &str,
        partitions: u32,
        replication_factor: u32,
        config: TopicConfig,
    ) -> Result<()> {
        self.create_topic_with(name, partitions, replication_factor, None, config)
    }

    /// Creates a topic with a manual replica assignment (`kafka-topics.sh --create
    /// --replica-assignment`): one broker list per partition, the first being the preferred
    /// leader. `None` places replicas as [`Simulation::create_topic`] does.
    pub fn create_topic_with(
        &mut self,
        name: &str,
        partitions: u32,
        replication_factor: u32,
        assignment: Option<Vec<Vec<BrokerId>>>,
        config: TopicConfig,
    ) -> Result<()> {
        self.require_active_controller()?;
        let valid_name = !name.is_empty()
            && name.len() <= 249
            && name != "."
            && name != ".."
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-');
        if !valid_name {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                format!("Topic name '{name}' is illegal: use up to 249 of the characters ASCII alphanumerics, '.', '_' and '-'."),
            ));
        }
        if self.controller.image.topics.contains_key(name) {
            return Err(Error::new(
                ErrorKind::InvalidState,
                format!("Topic '{name}' already exists."),
            ));
        }
        if self.controller.image.topics.len() >= MAX_TOPICS {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!("The simulator allows at most {MAX_TOPICS} topics."),
            ));
        }
        if partitions > MAX_PARTITIONS {
            return Err(Error::new(
                ErrorKind::InvalidPartitions,
                format!("The simulator allows at most {MAX_PARTITIONS} partitions per topic; {partitions} were asked for."),
            ));
        }
        // The KRaft controller's StripedReplicaPlacer, over registered brokers in id order.
        let usable = self.controller_usable_brokers();
        let assignment = match assignment {
            Some(manual) => {
                self.check_manual_assignment(&manual)?;
                manual
            }
            None => striped_placement(&usable, partitions, replication_factor, &mut self.rng)?,
        };
        let partition_states = self.controller_new_partitions(assignment);
        let topic_id = format!(
            "{:016x}{:06x}",
            self.rng.next_u64(),
            self.controller.image.topics.len()
        );
        self.controller.image.topics.insert(
            name.into(),
            TopicMetadata {
                topic_id,
                config,
                partitions: partition_states,
            },
        );
        self.emit(EventKind::TopicCreated {
            topic: name.to_string(),
            partitions,
            replication_factor,
        });
        self.publish_metadata();
        Ok(())
    }

    /// Registered brokers, in id order, as the replica placer sees them.
    pub(crate) fn controller_usable_brokers(&self) -> Vec<UsableBroker> {
        self.controller
            .image
            .brokers
            .iter()
            .map(|(&id, reg)| UsableBroker {
                id,
                rack: reg.rack.clone(),
                fenced: reg.fenced,
            })
            .collect()
    }

    /// New partitions for these replica lists: the unfenced replicas form the ISR and the first
    /// of them leads, in epoch 0.
    pub(crate) fn controller_new_partitions(
        &self,
        assignment: Vec<Vec<BrokerId>>,
    ) -> Vec<PartitionState> {
        let image = &self.controller.image;
        assignment
            .into_iter()
            .map(|replicas| {
                let isr: Vec<BrokerId> = replicas
                    .iter()
                    .copied()
                    .filter(|&b| image.is_unfenced(b))
                    .collect();
                PartitionState {
                    leader: isr.first().copied(),
                    isr: if isr.is_empty() {
                        replicas.clone()
                    } else {
                        isr
                    },
                    replicas,
                    leader_epoch: 0,
                    partition_epoch: 0,
                    elr: Vec::new(),
                    adding: Vec::new(),
                    removing: Vec::new(),
                }
            })
            .collect()
    }

    /// Kafka's checks of a manual assignment: every partition has the same number of distinct,
    /// registered brokers.
    fn check_manual_assignment(&self, manual: &[Vec<BrokerId>]) -> Result<()> {
        let Some(first) = manual.first() else {
            return Err(Error::new(
                ErrorKind::InvalidPartitions,
                "A replica assignment needs at least one partition.",
            ));
        };
        if manual.len() as u32 > MAX_PARTITIONS {
            return Err(Error::new(
                ErrorKind::InvalidPartitions,
                format!("The simulator allows at most {MAX_PARTITIONS} partitions per topic."),
            ));
        }
        for (p, replicas) in manual.iter().enumerate() {
            if replicas.is_empty() || replicas.len() != first.len() {
                return Err(Error::new(
                    ErrorKind::InvalidReplicationFactor,
                    format!("Partition {p} has {} replica(s); every partition of a replica assignment needs the same number ({}).", replicas.len(), first.len()),
                ));
            }
            for (j, b) in replicas.iter().enumerate() {
                if replicas[..j].contains(b) {
                    return Err(Error::new(
                        ErrorKind::InvalidReplicationFactor,
                        format!("Partition {p} lists broker {b} twice."),
                    ));
                }
                if !self.controller.image.brokers.contains_key(b) {
                    return Err(Error::new(
                        ErrorKind::UnknownBroker,
                        format!("Partition {p} names broker {b}, which is not registered."),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The effective `min.insync.replicas` of a topic: its own, else the broker default, capped
    /// at the replication factor as Kafka's `effectiveMinIsr` does.
    pub fn effective_min_isr(&self, topic: &std::sync::Arc<str>) -> u32 {
        let Some(t) = self.controller.image.topic(topic) else {
            return self.config.min_insync_replicas;
        };
        let configured = t
            .config
            .min_insync_replicas
            .unwrap_or(self.config.min_insync_replicas);
        let replicas = t.partitions.first().map_or(1, |p| p.replicas.len() as u32);
        configured.min(replicas)
    }

    pub(crate) fn controller_receive(&mut self, message: Message) {
        let NodeId::Broker(broker) = message.from else {
            return;
        };
        match message.payload {
            Payload::BrokerHeartbeat {
                incarnation,
                metadata_offset,
                want_shut_down,
                previous_shutdown_clean,
            } => self.controller_heartbeat(
                message.to,
                broker,
                incarnation,
                metadata_offset,
                want_shut_down,
                previous_shutdown_clean,
            ),
            Payload::AlterPartition {
                tp,
                leader_epoch,
                partition_epoch,
                new_isr,
            } => {
                let error = self.controller_alter_partition(
                    broker,
                    &tp,
                    leader_epoch,
                    partition_epoch,
                    new_isr,
                );
                self.controller_respond(
                    message.to,
                    message.from,
                    Payload::AlterPartitionResponse { tp, error },
                );
            }
            _ => {}
        }
    }

    fn controller_heartbeat(
        &mut self,
        message_to: NodeId,
        broker: BrokerId,
        incarnation: u32,
        metadata_offset: u64,
        want_shut_down: bool,
        previous_shutdown_clean: bool,
    ) {
        self.controller.last_heartbeat.insert(broker, self.now);
        let offset_before = self.controller.image.offset;
        let known = self
            .controller
            .image
            .brokers
            .get(&broker)
            .map(|reg| reg.incarnation);
        if known != Some(incarnation) {
            // A restarted broker registers anew (a new `RegisterBrokerRecord`) and stays fenced
            // until it heartbeats again.
            if let Some(reg) = self.controller.image.brokers.get_mut(&broker) {
                reg.incarnation = incarnation;
                reg.fenced = true;
            }
            self.emit(EventKind::BrokerRegistered { broker });
            // Kafka 4's registerBroker handles a new incarnation as if the broker had been fenced
            // (ReplicationControlManager.handleBrokerShutdown): a broker back before its session
            // expired leaves its ISRs and leaderships, because a lossy crash may have cut its log
            // below what it acknowledged. With ELR, KIP-966 also drops a broker whose previous
            // run did not end in a clean shutdown from every ELR. The ZooKeeper-era legacy rule
            // (`sim.legacy.quick.restart.keeps.isr`) only moves its leaderships: a follower that
            // restarted within its ZooKeeper session stayed in the ISR (traces T1 and T3).
            let keeps_isr = self.config.quick_restart_keeps_isr;
            let unclean = self.config.eligible_leader_replicas && !previous_shutdown_clean;
            let affected: Vec<TopicPartition> = self
                .controller
                .image
                .partitions()
                .filter(|(_, p)| {
                    p.leader == Some(broker)
                        || (!keeps_isr && (p.isr.contains(&broker) || p.elr.contains(&broker)))
                })
                .map(|(tp, _)| tp)
                .collect();
            let reason = if unclean {
                format!(
                    "broker {broker} restarted after an unclean shutdown and may have lost records"
                )
            } else {
                format!("broker {broker} restarted")
            };
            for tp in affected {
                self.controller_change_partition(&tp, Some(broker), unclean, &reason);
            }
            self.publish_metadata();
        } else if want_shut_down {
            self.controller_controlled_shutdown(broker);
        } else if self
            .controller
            .image
            .brokers
            .get(&broker)
            .is_some_and(|b| b.fenced)
        {
            self.controller_set_fenced(broker, false);
            self.emit(EventKind::BrokerUnfenced { broker });
            self.controller_broker_available(broker, &format!("broker {broker} was unfenced"));
            self.publish_metadata();
        }
        let fenced = self
            .controller
            .image
            .brokers
            .get(&broker)
            .is_none_or(|b| b.fenced);
        let me = message_to;
        // A broker that missed an image (lost on a cut link, or published while it was down)
        // gets the newest committed one again, as a KRaft broker catches up by fetching the
        // metadata log.
        let published = self.controller.published.offset;
        if self.controller.image.offset == offset_before && metadata_offset < published {
            let image = Box::new(self.controller.published.clone());
            self.send(
                me,
                NodeId::Broker(broker),
                Payload::MetadataUpdate { image },
            );
        }
        let should_shut_down = want_shut_down && self.controller_leads_nothing(broker);
        self.controller_respond(
            me,
            NodeId::Broker(broker),
            Payload::BrokerHeartbeatResponse {
                fenced,
                should_shut_down,
            },
        );
    }

    pub(crate) fn controller_set_fenced(&mut self, broker: BrokerId, fenced: bool) {
        if let Some(reg) = self.controller.image.brokers.get_mut(&broker) {
            reg.fenced = fenced;
        }
    }

    /// Sets each broker's `broker.rack` (in broker id order), as the brokers would register it.
    pub fn set_broker_racks(&mut self, racks: &[String]) -> Result<()> {
        if racks.len() != self.controller.image.brokers.len() {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                format!(
                    "Give one rack per broker: {} racks for {} brokers.",
                    racks.len(),
                    self.controller.image.brokers.len()
                ),
            ));
        }
        self.require_active_controller()?;
        for (reg, rack) in self.controller.image.brokers.values_mut().zip(racks) {
            reg.rack = Some(rack.clone());
        }
        self.publish_metadata();
        Ok(())
    }

    fn controller_leads_nothing(&self, broker: BrokerId) -> bool {
        self.controller
            .image
            .partitions()
            .all(|(_, p)| p.leader != Some(broker))
    }

    /// KRaft's controlled shutdown: the broker leaves every ISR it can leave, its leaderships
    /// move to other in-sync replicas, and it is fenced so that nothing moves back to it.
    fn controller_controlled_shutdown(&mut self, broker: BrokerId) {
        if self
            .controller
            .image
            .brokers
            .get(&broker)
            .is_none_or(|b| b.fenced)
        {
            return;
        }
        self.controller_broker_gone(
            broker,
            &format!("broker {broker} is in controlled shutdown"),
        );
        self.controller_set_fenced(broker, true);
        self.publish_metadata();
    }

    pub(crate) fn controller_fence_check(&mut self) {
        if self.controller.active.is_none() {
            self.schedule_in_ms(500, Timer::ControllerFenceCheck);
            return;
        }
        let timeout = self.config.broker_session_timeout_ms;
        let stale: Vec<(BrokerId, u64)> = self
            .controller
            .image
            .brokers
            .iter()
            .filter(|(_, reg)| !reg.fenced)
            .filter_map(|(&b, _)| {
                let silent = self.now.ms_since(*self.controller.last_heartbeat.get(&b)?);
                (silent > timeout).then_some((b, silent))
            })
            .collect();
        for (broker, silent_ms) in &stale {
            self.controller_set_fenced(*broker, true);
            self.emit(EventKind::BrokerFenced {
                broker: *broker,
                silent_ms: *silent_ms,
            });
            self.controller_broker_gone(*broker, &format!("broker {broker} was fenced"));
        }
        if !stale.is_empty() {
            self.publish_metadata();
        }
        self.schedule_in_ms(500, Timer::ControllerFenceCheck);
    }

    /// A broker may no longer lead or stay in ISRs (fenced in KRaft, its znode gone in
    /// ZooKeeper mode): it leaves every ISR it can leave and its leaderships move. The caller
    /// marks it and publishes.
    pub(crate) fn controller_broker_gone(&mut self, broker: BrokerId, reason: &str) {
        let affected: Vec<TopicPartition> = self
            .controller
            .image
            .partitions()
            .filter(|(_, p)| p.isr.contains(&broker) || p.leader == Some(broker))
            .map(|(tp, _)| tp)
            .collect();
        for tp in affected {
            self.controller_elect(&tp, Some(broker), reason);
        }
    }

    /// A broker may lead again (unfenced, or registered in ZooKeeper mode): partitions left
    /// without a leader whose ISR still lists it get it back. The caller publishes.
    pub(crate) fn controller_broker_available(&mut self, broker: BrokerId, reason: &str) {
        let offline: Vec<TopicPartition> = self
            .controller
            .image
            .partitions()
            .filter(|(_, p)| p.leader.is_none() && p.replicas.contains(&broker))
            .map(|(tp, _)| tp)
            .collect();
        for tp in offline {
            self.controller_elect(&tp, None, reason);
        }
    }

    /// Removes `removed` from the partition's ISR and re-elects the leader if needed, emitting
    /// events for what changed. The caller publishes.
    ///
    /// Without eligible leader replicas the ISR is never emptied (KRaft keeps the last member
    /// listed). With them (KIP-966) the ISR may become empty, and a replica that leaves an ISR
    /// already below `min.insync.replicas` joins the ELR, unless it `lost_data` in an unclean
    /// shutdown; an ELR member may be elected when no ISR member can lead.
    fn controller_elect(&mut self, tp: &TopicPartition, removed: Option<BrokerId>, reason: &str) {
        self.controller_change_partition(tp, removed, false, reason);
    }

    fn controller_change_partition(
        &mut self,
        tp: &TopicPartition,
        removed: Option<BrokerId>,
        lost_data: bool,
        reason: &str,
    ) {
        let unclean_enabled = self
            .controller
            .image
            .topics
            .get(&*tp.topic)
            .and_then(|t| t.config.unclean_leader_election_enable)
            .unwrap_or(self.config.unclean_leader_election_enable);
        let elr_enabled = self.config.eligible_leader_replicas;
        let min_isr = self.effective_min_isr(&tp.topic) as usize;
        let image = &self.controller.image;
        let Some(state) = image.partition(tp).cloned() else {
            return;
        };
        let mut isr = state.isr.clone();
        let mut elr = state.elr.clone();
        if let Some(b) = removed {
            if elr_enabled {
                isr.retain(|&x| x != b);
                if lost_data {
                    // An unclean shutdown may have lost what it held: no longer eligible.
                    elr.retain(|&x| x != b);
                } else if state.isr.contains(&b) && isr.len() < min_isr && !elr.contains(&b) {
                    elr.push(b);
                }
            } else if isr.len() > 1 {
                isr.retain(|&x| x != b);
            }
        }
        let acceptable = |b: BrokerId| image.is_unfenced(b) && Some(b) != removed;
        let election = if unclean_enabled {
            Election::Unclean
        } else {
            Election::Online
        };
        let mut result = elect_leader(&state.replicas, &isr, state.leader, acceptable, election);
        let mut from_elr = false;
        if elr_enabled && isr.is_empty() {
            // KIP-966: with the ISR empty, an unfenced ELR member (in assignment order) is
            // elected before any unclean choice, and becomes the ISR.
            if let Some(&b) = state
                .replicas
                .iter()
                .find(|&&b| elr.contains(&b) && acceptable(b))
            {
                result.leader = Some(b);
                result.unclean = false;
                from_elr = true;
                isr = vec![b];
                elr.retain(|&x| x != b);
            }
        }
        if result.unclean {
            isr = result.leader.into_iter().collect();
            elr.clear();
        }
        if isr.len() >= min_isr {
            elr.clear();
        }
        let mut new_state = state.clone();
        new_state.isr = isr.clone();
        new_state.elr = elr;
        if result.leader != state.leader {
            new_state.leader = result.leader;
            new_state.leader_epoch += 1;
        }
        if new_state == state {
            return;
        }
        new_state.partition_epoch += 1;
        if let Some(t) = self.controller.image.topics.get_mut(&*tp.topic) {
            t.partitions[tp.partition as usize] = new_state.clone();
        }
        if new_state.isr != state.isr || new_state.elr != state.elr {
            self.emit(EventKind::IsrChanged {
                tp: tp.clone(),
                from: state.isr.clone(),
                to: new_state.isr.clone(),
                reason: if new_state.elr.is_empty() {
                    reason.to_string()
                } else {
                    format!(
                        "{reason}; eligible leader replicas are now [{}]",
                        list(&new_state.elr)
                    )
                },
            });
        }
        if new_state.leader != state.leader {
            let why = match (result.leader, result.unclean) {
                (Some(l), true) => format!(
                    "{reason}, no in-sync replica could lead and unclean.leader.election.enable=true let out-of-sync broker {l} take over (records may be lost)"
                ),
                (Some(l), false) if from_elr => format!(
                    "{reason}, the ISR was empty and {l} is an eligible leader replica (KIP-966): it left the ISR after the high watermark stopped, so it holds every committed record"
                ),
                (Some(l), false) => format!("{reason} and {l} is the first live replica in the ISR"),
                (None, _) => format!("{reason} and no live replica is in the ISR [{}]", list(&new_state.isr)),
            };
            self.emit(EventKind::LeaderChanged {
                tp: tp.clone(),
                previous: state.leader,
                leader: new_state.leader,
                leader_epoch: new_state.leader_epoch,
                reason: why,
            });
        }
    }

    fn controller_alter_partition(
        &mut self,
        from: BrokerId,
        tp: &TopicPartition,
        leader_epoch: u32,
        partition_epoch: u32,
        new_isr: Vec<BrokerId>,
    ) -> Option<KafkaError> {
        let image = &self.controller.image;
        let state = image.partition(tp)?.clone();
        if state.leader != Some(from) || state.leader_epoch != leader_epoch {
            return Some(KafkaError::FencedLeaderEpoch);
        }
        if state.partition_epoch != partition_epoch {
            return Some(KafkaError::InvalidUpdateVersion);
        }
        if new_isr
            .iter()
            .any(|b| !state.isr.contains(b) && !image.is_unfenced(*b))
        {
            return Some(KafkaError::IneligibleReplica);
        }
        if new_isr.is_empty() || !new_isr.contains(&from) {
            return Some(KafkaError::InvalidRequest);
        }
        let grew = new_isr.len() > state.isr.len();
        let min_isr = self.effective_min_isr(&tp.topic) as usize;
        let mut new_state = state.clone();
        if self.config.eligible_leader_replicas {
            // Replicas leaving an ISR that is below min.insync.replicas keep every committed
            // record (the high watermark no longer moves), so they become eligible leaders.
            for b in &state.isr {
                if !new_isr.contains(b) && new_isr.len() < min_isr && !new_state.elr.contains(b) {
                    new_state.elr.push(*b);
                }
            }
            new_state.elr.retain(|b| !new_isr.contains(b));
            if new_isr.len() >= min_isr {
                new_state.elr.clear();
            }
        }
        new_state.isr = new_isr;
        new_state.partition_epoch += 1;
        if let Some(t) = self.controller.image.topics.get_mut(&*tp.topic) {
            t.partitions[tp.partition as usize] = new_state.clone();
        }
        let reason = if grew {
            "the leader saw the follower catch up to its high watermark".to_string()
        } else {
            format!(
                "the leader found followers that had not caught up for replica.lag.time.max.ms={} ms",
                self.config.replica_lag_time_max_ms
            )
        };
        self.emit(EventKind::IsrChanged {
            tp: tp.clone(),
            from: state.isr,
            to: new_state.isr,
            reason,
        });
        if grew {
            self.controller_maybe_complete_reassignment(tp);
        }
        self.publish_metadata();
        None
    }
}

fn list(ids: &[BrokerId]) -> String {
    ids.iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

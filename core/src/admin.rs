//! Topic administration on a running cluster, as Kafka's Admin API does it through the
//! controller: DeleteTopics, CreatePartitions, ElectLeaders (preferred), the periodic preferred
//! leader rebalance, and AlterPartitionReassignments (`SEMANTICS.md` §2, §3.6, §3.7).

use crate::error::{Error, ErrorKind, Result};
use crate::event::EventKind;
use crate::metadata::{elect_leader, Election, PartitionState, TopicPartition};
use crate::placement::striped_placement;
use crate::sim::{Simulation, Timer};
use crate::BrokerId;

/// Most preferred elections one rebalance pass runs, as KRaft's `maybeBalancePartitionLeaders`.
const MAX_ELECTIONS_PER_PASS: usize = 1_000;

impl Simulation {
    fn require_topic(&self, topic: &str) -> Result<()> {
        if self.controller.image.topics.contains_key(topic) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::UnknownTopic,
                format!("Topic '{topic}' does not exist."),
            ))
        }
    }

    /// `kafka-topics.sh --delete`: the topic leaves the metadata, and brokers delete its replicas
    /// when they see that.
    pub fn delete_topic(&mut self, topic: &str) -> Result<()> {
        self.require_active_controller()?;
        self.require_topic(topic)?;
        self.controller.image.topics.remove(topic);
        self.emit(EventKind::TopicDeleted {
            topic: topic.to_string(),
        });
        self.publish_metadata();
        Ok(())
    }

    /// `kafka-topics.sh --alter --partitions N`: grows the topic to `total` partitions. Kafka
    /// never removes partitions, and keyed records move to other partitions afterwards because
    /// the partitioner takes the count modulo.
    pub fn add_partitions(&mut self, topic: &str, total: u32) -> Result<()> {
        self.require_active_controller()?;
        self.require_topic(topic)?;
        let meta = &self.controller.image.topics[topic];
        let current = meta.partitions.len() as u32;
        if total <= current {
            return Err(Error::new(
                ErrorKind::InvalidPartitions,
                format!("Topic currently has {current} partitions, which is higher than the requested {total}."),
            ));
        }
        if total > crate::controller::MAX_PARTITIONS {
            return Err(Error::new(
                ErrorKind::InvalidPartitions,
                format!(
                    "The simulator allows at most {} partitions per topic.",
                    crate::controller::MAX_PARTITIONS
                ),
            ));
        }
        let rf = meta
            .partitions
            .first()
            .map_or(1, |p| p.replicas.len() as u32);
        let usable = self.controller_usable_brokers();
        let assignment = striped_placement(&usable, total - current, rf, &mut self.rng)?;
        let added = self.controller_new_partitions(assignment);
        if let Some(t) = self.controller.image.topics.get_mut(topic) {
            t.partitions.extend(added);
        }
        self.emit(EventKind::PartitionsAdded {
            topic: topic.to_string(),
            from: current,
            to: total,
        });
        self.publish_metadata();
        Ok(())
    }

    /// `kafka-leader-election.sh --election-type PREFERRED`: moves leadership back to each
    /// partition's first replica where it is in the ISR and unfenced. Returns how many moved.
    pub fn elect_preferred_leaders(&mut self, topic: Option<&str>) -> Result<usize> {
        self.require_active_controller()?;
        if let Some(t) = topic {
            self.require_topic(t)?;
        }
        let candidates: Vec<TopicPartition> = self
            .controller
            .image
            .partitions()
            .filter(|(tp, p)| {
                topic.is_none_or(|t| &*tp.topic == t) && p.leader != p.replicas.first().copied()
            })
            .map(|(tp, _)| tp)
            .take(MAX_ELECTIONS_PER_PASS)
            .collect();
        let mut moved = 0;
        for tp in candidates {
            let image = &self.controller.image;
            let Some(state) = image.partition(&tp).cloned() else {
                continue;
            };
            let result = elect_leader(
                &state.replicas,
                &state.isr,
                state.leader,
                |b| image.is_unfenced(b),
                Election::Preferred,
            );
            if result.leader == state.leader {
                continue;
            }
            let mut new_state = state.clone();
            new_state.leader = result.leader;
            new_state.leader_epoch += 1;
            new_state.partition_epoch += 1;
            self.set_partition(&tp, new_state.clone());
            self.emit(EventKind::LeaderChanged {
                tp: tp.clone(),
                previous: state.leader,
                leader: new_state.leader,
                leader_epoch: new_state.leader_epoch,
                reason: "a preferred leader election moved leadership back to the first replica"
                    .to_string(),
            });
            moved += 1;
        }
        if moved > 0 {
            self.publish_metadata();
        }
        Ok(moved)
    }

    /// `auto.leader.rebalance.enable`: every `leader.imbalance.check.interval.seconds` the KRaft
    /// controller runs a preferred election for every partition not led by its first replica
    /// (it does not use `leader.imbalance.per.broker.percentage`).
    pub(crate) fn controller_leader_rebalance(&mut self) {
        if self.config.auto_leader_rebalance_enable && self.controller.active.is_some() {
            // Cannot fail without a topic filter while a controller is active.
            let _ = self.elect_preferred_leaders(None);
        }
        let interval = self.config.leader_imbalance_check_interval_seconds * 1_000;
        self.schedule_in_ms(interval, Timer::ControllerLeaderRebalance);
    }

    /// `kafka-reassign-partitions.sh --execute` for one partition: the target replicas are added,
    /// catch up and join the ISR; then the replicas not in the target are removed and, if the
    /// leader is one of them, a target replica in the ISR takes over.
    pub fn reassign_partition(&mut self, tp: &TopicPartition, target: Vec<BrokerId>) -> Result<()> {
        self.require_active_controller()?;
        let state = self
            .controller
            .image
            .partition(tp)
            .cloned()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::UnknownTopic,
                    format!("There is no partition {tp}."),
                )
            })?;
        if target.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidReplicationFactor,
                "A reassignment needs at least one replica.",
            ));
        }
        for (j, b) in target.iter().enumerate() {
            if target[..j].contains(b) {
                return Err(Error::new(
                    ErrorKind::InvalidReplicationFactor,
                    format!("The target lists broker {b} twice."),
                ));
            }
            if !self.controller.image.brokers.contains_key(b) {
                return Err(Error::new(
                    ErrorKind::UnknownBroker,
                    format!("Broker {b} is not registered."),
                ));
            }
        }
        if !state.adding.is_empty() || !state.removing.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidState,
                format!("A reassignment of {tp} is already in progress."),
            ));
        }
        let mut new_state = state.clone();
        new_state.adding = target
            .iter()
            .copied()
            .filter(|b| !state.replicas.contains(b))
            .collect();
        new_state.removing = state
            .replicas
            .iter()
            .copied()
            .filter(|b| !target.contains(b))
            .collect();
        // During the move the replica set is the union: target first, then those leaving.
        new_state.replicas = target.clone();
        new_state
            .replicas
            .extend(new_state.removing.iter().copied());
        new_state.partition_epoch += 1;
        self.set_partition(tp, new_state);
        self.emit(EventKind::ReassignmentStarted {
            tp: tp.clone(),
            from: state.replicas.clone(),
            to: target,
        });
        self.controller_maybe_complete_reassignment(tp);
        self.publish_metadata();
        Ok(())
    }

    /// Completes a reassignment once every target replica is in the ISR. The caller publishes.
    pub(crate) fn controller_maybe_complete_reassignment(&mut self, tp: &TopicPartition) {
        let Some(state) = self.controller.image.partition(tp).cloned() else {
            return;
        };
        if state.adding.is_empty() && state.removing.is_empty() {
            return;
        }
        let target: Vec<BrokerId> = state
            .replicas
            .iter()
            .copied()
            .filter(|b| !state.removing.contains(b))
            .collect();
        if !target.iter().all(|b| state.isr.contains(b)) {
            return;
        }
        let mut new_state = state.clone();
        new_state.replicas = target.clone();
        new_state.isr.retain(|b| target.contains(b));
        new_state.elr.retain(|b| target.contains(b));
        new_state.adding.clear();
        new_state.removing.clear();
        if state.leader.is_none_or(|l| !target.contains(&l)) {
            let image = &self.controller.image;
            let result = elect_leader(
                &new_state.replicas,
                &new_state.isr,
                None,
                |b| image.is_unfenced(b),
                Election::Online,
            );
            new_state.leader = result.leader;
            new_state.leader_epoch += 1;
        }
        new_state.partition_epoch += 1;
        self.set_partition(tp, new_state.clone());
        self.emit(EventKind::ReassignmentCompleted {
            tp: tp.clone(),
            replicas: target,
        });
        if new_state.leader != state.leader {
            self.emit(EventKind::LeaderChanged {
                tp: tp.clone(),
                previous: state.leader,
                leader: new_state.leader,
                leader_epoch: new_state.leader_epoch,
                reason: "the reassignment removed the old leader".to_string(),
            });
        }
    }

    fn set_partition(&mut self, tp: &TopicPartition, state: PartitionState) {
        if let Some(t) = self.controller.image.topics.get_mut(&*tp.topic) {
            if let Some(slot) = t.partitions.get_mut(tp.partition as usize) {
                *slot = state;
            }
        }
    }
}

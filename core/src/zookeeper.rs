//! ZooKeeper mode (`sim.metadata.mode=zookeeper`): the cluster as Kafka ran it before KRaft.
//!
//! There is no controller quorum. One broker is the controller: the first to create the
//! ephemeral znode `/controller`, which bumps `/controller_epoch`. Brokers keep a ZooKeeper
//! session alive by pinging; each registers the ephemeral znode `/brokers/ids/N`. When a
//! session goes silent for `zookeeper.session.timeout.ms` (18 s by default, against KRaft's 9 s
//! `broker.session.timeout.ms`), ZooKeeper expires it and deletes its znodes; the controller's
//! watch on `/brokers/ids` fires and it moves the broker's leaderships and ISR memberships. If
//! the expired session was the controller's, `/controller` goes too, its watch fires on every
//! broker, and they race to create it again: the first request to arrive wins. The new
//! controller reads the cluster state from ZooKeeper and sends it to every broker.
//!
//! What differs from KRaft, and shows in the event log: failures are noticed later (the longer
//! session timeout), a controller failover waits for the dead controller's session to expire,
//! a broker restarted before its old session expired cannot register (`NodeExists`) until it
//! does, and a clean shutdown closes the session so the znode goes at once.
//!
//! Simplifications (ARCHITECTURE.md and the page): the ensemble is one always-available node
//! (its own quorum is not simulated), a write to ZooKeeper by the controller is applied at once
//! if the controller can reach ZooKeeper and still holds `/controller`, the controller reads the
//! state instantly on failover, and brokers learn of controller changes from a notification to
//! every session rather than from their individual watches.

use crate::event::EventKind;
use crate::network::{Message, NodeId, Payload};
use crate::sim::{Simulation, Timer};
use crate::time::SimTime;
use crate::BrokerId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How often the ensemble looks for expired sessions, in milliseconds.
const SESSION_CHECK_MS: u64 = 200;

/// A broker's ZooKeeper session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZkSession {
    /// The broker process incarnation that opened it (stands for the session id).
    pub incarnation: u32,
    /// When its last ping arrived.
    pub last_ping: SimTime,
}

/// The ZooKeeper ensemble's data as Kafka uses it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZooKeeper {
    /// Live sessions, each owning the broker's ephemeral `/brokers/ids/N`.
    pub sessions: BTreeMap<BrokerId, ZkSession>,
    /// The broker owning `/controller`, if any.
    pub controller: Option<BrokerId>,
    /// `/controller_epoch`.
    pub controller_epoch: u32,
    /// Brokers already told their registration was refused, so that it is narrated once per
    /// attempt rather than at every ping.
    refused: BTreeMap<BrokerId, u32>,
}

impl ZooKeeper {
    /// Every broker registered with a session opened at time zero, and broker `controller` the
    /// controller in epoch 1: a cluster that has been up for a while.
    pub(crate) fn bootstrap(brokers: &[BrokerId], controller: BrokerId) -> ZooKeeper {
        ZooKeeper {
            sessions: brokers
                .iter()
                .map(|&b| {
                    (
                        b,
                        ZkSession {
                            incarnation: 1,
                            last_ping: SimTime::ZERO,
                        },
                    )
                })
                .collect(),
            controller: Some(controller),
            controller_epoch: 1,
            refused: BTreeMap::new(),
        }
    }

    /// `/brokers/ids`: the registered brokers and the incarnations that registered them.
    pub fn registered(&self) -> Vec<(BrokerId, u32)> {
        self.sessions
            .iter()
            .map(|(&b, s)| (b, s.incarnation))
            .collect()
    }
}

impl Simulation {
    /// Whether the cluster runs in ZooKeeper mode.
    pub fn zookeeper_mode(&self) -> bool {
        self.zookeeper.is_some()
    }

    /// The ZooKeeper ensemble's data, in ZooKeeper mode.
    pub fn zookeeper(&self) -> Option<&ZooKeeper> {
        self.zookeeper.as_ref()
    }

    /// Starts ZooKeeper mode: broker 1 is the controller of epoch 1, and the ensemble checks
    /// sessions periodically.
    pub(crate) fn start_zookeeper(&mut self) {
        let Some(zk) = &self.zookeeper else { return };
        let Some(controller) = zk.controller else {
            return;
        };
        self.controller.active = Some(controller);
        self.schedule_in_ms(SESSION_CHECK_MS, Timer::ZkSessionCheck);
        self.emit(EventKind::ZkControllerElected {
            broker: controller,
            epoch: 1,
        });
    }

    /// The node a broker sends controller requests to: a controller process in KRaft mode, the
    /// controller broker in ZooKeeper mode.
    pub(crate) fn controller_node(&self, controller: BrokerId) -> NodeId {
        if self.zookeeper.is_some() {
            NodeId::Broker(controller)
        } else {
            NodeId::Controller(controller)
        }
    }

    /// A broker's periodic ZooKeeper ping, which also registers it when it has no session.
    pub(crate) fn zk_ping(&mut self, i: usize) {
        let broker = &self.brokers[i];
        let payload = Payload::ZkPing {
            incarnation: broker.incarnation,
        };
        self.send(NodeId::Broker(broker.id), NodeId::ZooKeeper, payload);
    }

    /// The interval of a broker's pings: a third of the session timeout, as ZooKeeper's client
    /// pings when a third of it has passed without traffic.
    pub(crate) fn zk_ping_interval_ms(&self) -> u64 {
        (self.config.zookeeper_session_timeout_ms / 3).max(1)
    }

    /// The ensemble receives a message.
    pub(crate) fn zk_receive(&mut self, message: Message) {
        let NodeId::Broker(broker) = message.from else {
            return;
        };
        let now = self.now;
        let Some(zk) = self.zookeeper.as_mut() else {
            return;
        };
        match message.payload {
            Payload::ZkPing { incarnation } => {
                let mut registered_now = false;
                let mut refused = false;
                match zk.sessions.get_mut(&broker) {
                    Some(s) if s.incarnation == incarnation => s.last_ping = now,
                    Some(_) => {
                        refused = zk.refused.insert(broker, incarnation) != Some(incarnation)
                    }
                    None => {
                        zk.sessions.insert(
                            broker,
                            ZkSession {
                                incarnation,
                                last_ping: now,
                            },
                        );
                        zk.refused.remove(&broker);
                        registered_now = true;
                    }
                }
                let controller = zk.controller;
                let epoch = zk.controller_epoch;
                if refused {
                    self.emit(EventKind::ZkRegistrationRefused { broker });
                }
                if registered_now {
                    self.emit(EventKind::ZkBrokerRegistered { broker });
                    self.zk_notify_controller();
                }
                // The answer tells the broker the controller, as its watch on /controller would.
                self.send(
                    NodeId::ZooKeeper,
                    message.from,
                    Payload::ZkControllerChanged {
                        controller,
                        epoch,
                        brokers: Vec::new(),
                    },
                );
            }
            Payload::ZkCloseSession { incarnation }
                if zk
                    .sessions
                    .get(&broker)
                    .is_some_and(|s| s.incarnation == incarnation) =>
            {
                self.zk_expire(broker, None);
            }
            Payload::ZkCreateController => {
                let registered = zk.sessions.contains_key(&broker);
                if zk.controller.is_none() && registered {
                    zk.controller = Some(broker);
                    zk.controller_epoch += 1;
                    let epoch = zk.controller_epoch;
                    let brokers = zk.registered();
                    let targets: Vec<BrokerId> = zk.sessions.keys().copied().collect();
                    for b in targets {
                        let brokers = if b == broker {
                            brokers.clone()
                        } else {
                            Vec::new()
                        };
                        self.send(
                            NodeId::ZooKeeper,
                            NodeId::Broker(b),
                            Payload::ZkControllerChanged {
                                controller: Some(broker),
                                epoch,
                                brokers,
                            },
                        );
                    }
                }
            }
            _ => {}
        }
    }

    /// Tells the controller that `/brokers/ids` changed (its watch fired), with the children as
    /// it would read them.
    fn zk_notify_controller(&mut self) {
        let Some(zk) = &self.zookeeper else { return };
        let Some(controller) = zk.controller else {
            return;
        };
        let brokers = zk.registered();
        self.send(
            NodeId::ZooKeeper,
            NodeId::Broker(controller),
            Payload::ZkBrokersChanged { brokers },
        );
    }

    /// Deletes a session and its ephemeral znodes; `silent_ms` is set when it expired rather
    /// than being closed.
    fn zk_expire(&mut self, broker: BrokerId, silent_ms: Option<u64>) {
        let Some(zk) = self.zookeeper.as_mut() else {
            return;
        };
        zk.sessions.remove(&broker);
        let was_controller = zk.controller == Some(broker);
        if was_controller {
            zk.controller = None;
        }
        let epoch = zk.controller_epoch;
        let targets: Vec<BrokerId> = zk.sessions.keys().copied().collect();
        self.emit(EventKind::ZkSessionEnded {
            broker,
            silent_ms,
            was_controller,
        });
        if was_controller {
            // Every broker's watch on /controller fires; they race to create it.
            for b in targets {
                self.send(
                    NodeId::ZooKeeper,
                    NodeId::Broker(b),
                    Payload::ZkControllerChanged {
                        controller: None,
                        epoch,
                        brokers: Vec::new(),
                    },
                );
            }
        } else {
            self.zk_notify_controller();
        }
    }

    /// The ensemble's periodic check: sessions silent for `zookeeper.session.timeout.ms` expire.
    pub(crate) fn zk_session_check(&mut self) {
        let timeout = self.config.zookeeper_session_timeout_ms;
        let now = self.now;
        let expired: Vec<(BrokerId, u64)> = self
            .zookeeper
            .iter()
            .flat_map(|zk| zk.sessions.iter())
            .filter_map(|(&b, s)| {
                let silent = now.ms_since(s.last_ping);
                (silent > timeout).then_some((b, silent))
            })
            .collect();
        for (broker, silent) in expired {
            self.zk_expire(broker, Some(silent));
        }
        self.schedule_in_ms(SESSION_CHECK_MS, Timer::ZkSessionCheck);
    }

    /// A broker receives a notification from the ensemble. Returns true when it was one.
    pub(crate) fn zk_broker_receive(&mut self, i: usize, message: &Message) -> bool {
        let id = self.brokers[i].id;
        match &message.payload {
            Payload::ZkControllerChanged {
                controller,
                epoch,
                brokers,
            } => {
                let (controller, epoch) = (*controller, *epoch);
                match controller {
                    None => {
                        if self.controller.active == Some(id) {
                            self.zk_resign(id, "its /controller znode was deleted");
                        }
                        // The watch fired: try to become the controller.
                        self.send(
                            NodeId::Broker(id),
                            NodeId::ZooKeeper,
                            Payload::ZkCreateController,
                        );
                    }
                    Some(c) => {
                        self.brokers[i].controller = c;
                        if c == id && self.controller.active != Some(id) && !brokers.is_empty() {
                            self.zk_become_controller(id, epoch, brokers.clone());
                        } else if c != id && self.controller.active == Some(id) {
                            self.zk_resign(
                                id,
                                &format!(
                                    "broker {c} holds /controller in controller epoch {epoch}"
                                ),
                            );
                        }
                    }
                }
                true
            }
            Payload::ZkBrokersChanged { brokers } => {
                if self.controller.active == Some(id) {
                    self.zk_sync_brokers(brokers.clone());
                    self.publish_metadata();
                }
                true
            }
            _ => false,
        }
    }

    /// A broker won `/controller`: it reads the cluster state from ZooKeeper (the last image
    /// written there) and handles the brokers that came and went.
    fn zk_become_controller(&mut self, id: BrokerId, epoch: u32, brokers: Vec<(BrokerId, u32)>) {
        self.controller.active = Some(id);
        self.controller.image = self.controller.published.clone();
        self.controller.proposed = self.controller.published.clone();
        self.controller.pending.clear();
        self.controller.deferred.clear();
        self.emit(EventKind::ZkControllerElected { broker: id, epoch });
        self.zk_sync_brokers(brokers);
        // The new controller sends the whole state to every broker (UpdateMetadata), even when
        // nothing changed.
        self.controller.image.offset += 1;
        self.publish_metadata();
    }

    pub(crate) fn zk_resign(&mut self, id: BrokerId, reason: &str) {
        if self.controller.active != Some(id) {
            return;
        }
        self.controller.active = None;
        self.controller.image = self.controller.published.clone();
        self.controller.proposed = self.controller.published.clone();
        self.emit(EventKind::ZkControllerResigned {
            broker: id,
            reason: reason.to_string(),
        });
    }

    /// The controller compares `/brokers/ids` with what it knows: brokers whose znode is gone
    /// lose their leaderships and ISR memberships, brokers that registered may lead again.
    fn zk_sync_brokers(&mut self, registered: Vec<(BrokerId, u32)>) {
        let known: Vec<(BrokerId, bool, u32)> = self
            .controller
            .image
            .brokers
            .iter()
            .map(|(&b, r)| (b, r.fenced, r.incarnation))
            .collect();
        for (broker, offline, incarnation) in known {
            let now = registered
                .iter()
                .find(|(b, _)| *b == broker)
                .map(|&(_, inc)| inc);
            match now {
                None if !offline => {
                    self.controller_set_fenced(broker, true);
                    self.emit(EventKind::ZkBrokerOffline { broker });
                    self.controller_broker_gone(
                        broker,
                        &format!("the znode /brokers/ids/{broker} was deleted"),
                    );
                }
                Some(inc) if offline || inc != incarnation => {
                    if let Some(reg) = self.controller.image.brokers.get_mut(&broker) {
                        reg.fenced = false;
                        reg.incarnation = inc;
                    }
                    self.controller_broker_available(
                        broker,
                        &format!("broker {broker} registered /brokers/ids/{broker} again"),
                    );
                }
                _ => {}
            }
        }
    }

    /// ZooKeeper mode's write path: the controller writes its changes to ZooKeeper, which
    /// succeeds only while it can reach the ensemble and still holds `/controller`; then it sends
    /// the new state to every registered broker (LeaderAndIsr and UpdateMetadata).
    pub(crate) fn zk_publish(&mut self) {
        let Some(active) = self.controller.active else {
            self.controller.image = self.controller.proposed.clone();
            return;
        };
        let holds = self
            .zookeeper
            .as_ref()
            .is_some_and(|zk| zk.controller == Some(active));
        let reachable = !self
            .network
            .faults
            .blocks(NodeId::Broker(active), NodeId::ZooKeeper);
        if !holds || !reachable {
            // The conditional write on the controller epoch fails (or cannot be sent): the
            // decision is lost, as a zombie controller's writes are.
            self.controller.image = self.controller.proposed.clone();
            if !holds {
                self.zk_resign(
                    active,
                    "its write to ZooKeeper was rejected: another broker holds /controller",
                );
            }
            return;
        }
        if self.controller.image == self.controller.proposed {
            return;
        }
        self.controller.image.offset = self
            .controller
            .image
            .offset
            .max(self.controller.published.offset)
            + 1;
        self.controller.proposed = self.controller.image.clone();
        self.controller.published = self.controller.image.clone();
        let from = NodeId::Broker(active);
        let targets: Vec<BrokerId> = self
            .zookeeper
            .iter()
            .flat_map(|zk| zk.sessions.keys().copied())
            .collect();
        for b in targets {
            let image = Box::new(self.controller.published.clone());
            self.send(from, NodeId::Broker(b), Payload::MetadataUpdate { image });
        }
    }
}

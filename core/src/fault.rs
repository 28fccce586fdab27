//! Network faults a learner or a scenario injects: cut links, isolated nodes, added latency,
//! random message loss and slow followers (`RELIABILITY.md` §D: an in-memory router with drop and
//! partition filters, as in Kafka's own `RaftEventSimulationTest`).
//!
//! A cut link loses messages silently, as a real network partition does: the sender hears
//! nothing and only its request timeout tells it. A dead process on a live machine is different:
//! its connection is refused at once (see `Simulation::deliver`).

use crate::network::{NodeId, Payload};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Most links, isolated nodes, delays and drop rates that may be set at once, so that a crafted
/// scenario or link cannot grow the fault table without bound.
pub const MAX_FAULT_ENTRIES: usize = 256;

/// The network faults in force.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkFaults {
    /// One-way cuts: messages from the first node to the second are lost.
    cut: BTreeSet<(NodeId, NodeId)>,
    /// Nodes cut off from every other node, in both directions.
    isolated: BTreeSet<NodeId>,
    /// Extra one-way latency, in milliseconds, on every message to or from a node.
    #[serde(with = "crate::network::node_keyed")]
    delay_ms: BTreeMap<NodeId, u64>,
    /// Extra delay, in milliseconds, before a slow follower's fetch requests leave it.
    #[serde(with = "crate::network::node_keyed")]
    slow_fetch_ms: BTreeMap<NodeId, u64>,
    /// Per mille of messages to or from a node that are lost at random.
    #[serde(with = "crate::network::node_keyed")]
    drop_per_mille: BTreeMap<NodeId, u32>,
    /// Per mille of all messages lost at random.
    global_drop_per_mille: u32,
}

impl NetworkFaults {
    /// Whether no fault is in force.
    pub fn is_empty(&self) -> bool {
        *self == NetworkFaults::default()
    }

    fn entries(&self) -> usize {
        self.cut.len()
            + self.isolated.len()
            + self.delay_ms.len()
            + self.slow_fetch_ms.len()
            + self.drop_per_mille.len()
    }

    fn check_room(&self) -> crate::Result<()> {
        if self.entries() >= MAX_FAULT_ENTRIES {
            return Err(crate::Error::new(
                crate::ErrorKind::LimitExceeded,
                format!("At most {MAX_FAULT_ENTRIES} network faults may be in force at once; heal some first."),
            ));
        }
        Ok(())
    }

    /// Loses every message from `from` to `to` (one direction only).
    pub fn cut_link(&mut self, from: NodeId, to: NodeId) -> crate::Result<()> {
        if from == to {
            return Err(crate::Error::new(
                crate::ErrorKind::InvalidState,
                format!("A link joins two different nodes; {from} was given twice."),
            ));
        }
        self.check_room()?;
        self.cut.insert((from, to));
        Ok(())
    }

    /// Cuts both directions between `a` and `b`.
    pub fn partition(&mut self, a: NodeId, b: NodeId) -> crate::Result<()> {
        self.cut_link(a, b)?;
        self.cut_link(b, a)
    }

    /// Cuts `node` off from every other node.
    pub fn isolate(&mut self, node: NodeId) -> crate::Result<()> {
        self.check_room()?;
        self.isolated.insert(node);
        Ok(())
    }

    /// Adds `ms` of latency to every message to or from `node` (0 removes it).
    pub fn set_delay(&mut self, node: NodeId, ms: u64) -> crate::Result<()> {
        if ms == 0 {
            self.delay_ms.remove(&node);
        } else {
            self.check_room()?;
            self.delay_ms.insert(node, ms);
        }
        Ok(())
    }

    /// Makes broker `node` wait `ms` before each fetch it sends as a follower (0 removes it).
    pub fn set_slow_fetch(&mut self, node: NodeId, ms: u64) -> crate::Result<()> {
        if ms == 0 {
            self.slow_fetch_ms.remove(&node);
        } else {
            self.check_room()?;
            self.slow_fetch_ms.insert(node, ms);
        }
        Ok(())
    }

    /// Loses `per_mille`/1000 of the messages to or from `node`, or of all messages when `node`
    /// is `None`.
    pub fn set_drop_rate(&mut self, node: Option<NodeId>, per_mille: u32) -> crate::Result<()> {
        if per_mille > 1000 {
            return Err(crate::Error::new(
                crate::ErrorKind::InvalidConfig,
                format!("A drop rate is per mille, between 0 and 1000; {per_mille} was given."),
            ));
        }
        match node {
            None => self.global_drop_per_mille = per_mille,
            Some(n) if per_mille == 0 => {
                self.drop_per_mille.remove(&n);
            }
            Some(n) => {
                self.check_room()?;
                self.drop_per_mille.insert(n, per_mille);
            }
        }
        Ok(())
    }

    /// Removes every cut and isolation (latency, slowness and drop rates stay).
    pub fn heal(&mut self) {
        self.cut.clear();
        self.isolated.clear();
    }

    /// Removes every fault.
    pub fn clear(&mut self) {
        *self = NetworkFaults::default();
    }

    /// Whether `node` is cut off from every other node.
    pub fn is_isolated(&self, node: NodeId) -> bool {
        self.isolated.contains(&node)
    }

    /// Whether a message from `from` to `to` is lost because the link is cut.
    pub fn blocks(&self, from: NodeId, to: NodeId) -> bool {
        self.isolated.contains(&from)
            || self.isolated.contains(&to)
            || self.cut.contains(&(from, to))
    }

    /// Extra delay, in milliseconds, for this message.
    pub fn extra_delay_ms(&self, from: NodeId, to: NodeId, payload: &Payload) -> u64 {
        let mut ms = self.delay_ms.get(&from).copied().unwrap_or(0)
            + self.delay_ms.get(&to).copied().unwrap_or(0);
        if matches!(
            payload,
            Payload::Fetch {
                replica: Some(_),
                ..
            }
        ) {
            ms += self.slow_fetch_ms.get(&from).copied().unwrap_or(0);
        }
        ms
    }

    /// The chance, per mille, that this message is lost at random.
    pub fn drop_chance(&self, from: NodeId, to: NodeId) -> u32 {
        let node = |n: NodeId| self.drop_per_mille.get(&n).copied().unwrap_or(0);
        self.global_drop_per_mille.max(node(from)).max(node(to))
    }

    /// One line per fault in force, for the page and the CLI.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for &(a, b) in &self.cut {
            if self.cut.contains(&(b, a)) {
                if seen.insert((b, a)) && seen.insert((a, b)) {
                    out.push(format!("{a} and {b} cannot reach each other"));
                }
            } else {
                out.push(format!("messages from {a} to {b} are lost"));
            }
        }
        for n in &self.isolated {
            out.push(format!("{n} is cut off from every node"));
        }
        for (n, ms) in &self.delay_ms {
            out.push(format!("{ms} ms added to every message to or from {n}"));
        }
        for (n, ms) in &self.slow_fetch_ms {
            out.push(format!("{n} is a slow follower: {ms} ms before each fetch"));
        }
        for (n, p) in &self.drop_per_mille {
            out.push(format!("{p}‰ of messages to or from {n} are lost"));
        }
        if self.global_drop_per_mille > 0 {
            out.push(format!(
                "{}‰ of all messages are lost",
                self.global_drop_per_mille
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_way_cut_blocks_only_its_direction() {
        let mut f = NetworkFaults::default();
        f.cut_link(NodeId::Broker(1), NodeId::Broker(2)).unwrap();
        assert!(f.blocks(NodeId::Broker(1), NodeId::Broker(2)));
        assert!(!f.blocks(NodeId::Broker(2), NodeId::Broker(1)));
        assert_eq!(
            f.describe(),
            vec!["messages from broker 1 to broker 2 are lost"]
        );
        f.heal();
        assert!(f.is_empty());
    }

    #[test]
    fn isolation_blocks_every_link_of_the_node() {
        let mut f = NetworkFaults::default();
        f.isolate(NodeId::Broker(3)).unwrap();
        assert!(f.blocks(NodeId::Broker(3), NodeId::Controller(100)));
        assert!(f.blocks(NodeId::Producer(0), NodeId::Broker(3)));
        assert!(!f.blocks(NodeId::Broker(1), NodeId::Broker(2)));
    }

    #[test]
    fn bad_fault_parameters_are_refused_and_change_nothing() {
        let mut f = NetworkFaults::default();
        assert!(f.cut_link(NodeId::Broker(1), NodeId::Broker(1)).is_err());
        assert!(f.set_drop_rate(None, 1001).is_err());
        assert!(f.is_empty());
        for i in 0..MAX_FAULT_ENTRIES as u32 {
            f.set_delay(NodeId::Producer(i), 1).unwrap();
        }
        assert!(f.isolate(NodeId::Broker(1)).is_err());
    }
}

//! The sticky assignor's record of partition moves during one general assignment
//! (`AbstractStickyAssignor.PartitionMovements`).
//!
//! When a partition is about to move from member A to member B while another partition of the
//! same topic already moved from B to A, Kafka moves that one back instead, so that no two
//! members swap partitions of one topic. Which of those partitions it takes is the first of a
//! Java `HashSet`, so the set's iteration order is replayed with [`JavaHashTable`].

use super::Prepared;
use crate::java::JavaHashTable;
use std::collections::BTreeMap;

/// A move from one member to another (`ConsumerPair`): (source, destination).
type Pair = (usize, usize);

#[derive(Default)]
pub(crate) struct PartitionMovements {
    /// Per topic, the partitions moved per pair, in a replayed `HashSet`.
    by_topic: BTreeMap<usize, BTreeMap<Pair, JavaHashTable<usize>>>,
    /// Per partition, its move (original owner, current destination).
    moves: BTreeMap<usize, Pair>,
}

impl PartitionMovements {
    fn remove_record(&mut self, prepared: &Prepared<'_>, partition: usize) -> Option<Pair> {
        let pair = self.moves.remove(&partition)?;
        let topic = prepared.partitions[partition].0;
        if let Some(pairs) = self.by_topic.get_mut(&topic) {
            if let Some(set) = pairs.get_mut(&pair) {
                set.remove(&partition);
                if set.is_empty() {
                    pairs.remove(&pair);
                }
            }
            if pairs.is_empty() {
                self.by_topic.remove(&topic);
            }
        }
        Some(pair)
    }

    fn add_record(&mut self, prepared: &Prepared<'_>, partition: usize, pair: Pair) {
        self.moves.insert(partition, pair);
        let topic = prepared.partitions[partition].0;
        self.by_topic
            .entry(topic)
            .or_default()
            .entry(pair)
            .or_insert_with(JavaHashTable::new)
            .insert(partition, prepared.partition_hash_code(partition));
    }

    /// Records that `partition` moves from `old` to `new`; a move back to where it started
    /// cancels the record.
    pub(crate) fn move_partition(
        &mut self,
        prepared: &Prepared<'_>,
        partition: usize,
        old: usize,
        new: usize,
    ) {
        match self.remove_record(prepared, partition) {
            Some((source, _)) => {
                if source != new {
                    self.add_record(prepared, partition, (source, new));
                }
            }
            None => self.add_record(prepared, partition, (old, new)),
        }
    }

    /// The partition to move instead of `partition` from `old` to `new`: one of the same topic
    /// that earlier moved the opposite way, if any (`getTheActualPartitionToBeMoved`).
    pub(crate) fn partition_to_move(
        &self,
        prepared: &Prepared<'_>,
        partition: usize,
        old: usize,
        new: usize,
    ) -> usize {
        let topic = prepared.partitions[partition].0;
        let Some(pairs) = self.by_topic.get(&topic) else {
            return partition;
        };
        // A partition that already moved counts from its original owner.
        let old = self
            .moves
            .get(&partition)
            .map_or(old, |&(source, _)| source);
        pairs
            .get(&(new, old))
            .and_then(JavaHashTable::first)
            .copied()
            .unwrap_or(partition)
    }
}

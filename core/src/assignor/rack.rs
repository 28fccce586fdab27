//! Rack awareness shared by the range and sticky assignors (KIP-881).
//!
//! A consumer that reads from a replica in its own rack (KIP-392) saves cross-rack traffic, so
//! since Kafka 3.5 the range and sticky assignors try to give each consumer partitions with a
//! replica on its rack. They do so only when it can make a difference: some consumer has a rack
//! that some replica is on, and not every partition has replicas on the same set of racks.

use super::{GroupAssignment, GroupSubscription, Prepared};
use std::collections::{BTreeMap, BTreeSet};

/// `AbstractPartitionAssignor.useRackAwareAssignment`.
///
/// `consumer_racks` and `partition_racks` are the racks of the consumers and of all replicas
/// concerned, `per_partition` each partition's replica racks. `prefer` is Kafka's test-only
/// switch that skips the last condition.
pub(crate) fn use_rack_aware_assignment<'r>(
    consumer_racks: &BTreeSet<&str>,
    partition_racks: &BTreeSet<&str>,
    mut per_partition: impl Iterator<Item = &'r BTreeSet<&'r str>>,
    prefer: bool,
) -> bool {
    if consumer_racks.is_disjoint(partition_racks) {
        // This covers consumers without racks too: an empty set is disjoint from any other.
        false
    } else if prefer {
        true
    } else {
        // Rack-aware assignment only helps if some partition misses some rack.
        !per_partition.all(|racks| racks == partition_racks)
    }
}

/// The sticky assignors' view of racks (`AbstractStickyAssignor.RackInfo`).
pub(crate) struct RackInfo<'a> {
    /// Each member's rack when rack-aware assignment is used; all `None` otherwise.
    pub(crate) consumer_racks: Vec<Option<&'a str>>,
    /// Whether rack-aware assignment is used.
    pub(crate) enabled: bool,
    /// For each partition, how many consumers sit on the racks of its replicas, summed over
    /// those racks; empty when no consumer has a rack. Kafka computes it even when rack-aware
    /// assignment is off, and then still sorts unassigned partitions by it.
    pub(crate) consumers_by_partition: Vec<usize>,
}

impl<'a> RackInfo<'a> {
    pub(crate) fn new(prepared: &Prepared<'a>) -> RackInfo<'a> {
        let mut consumers_by_rack: BTreeMap<&str, usize> = BTreeMap::new();
        for rack in prepared.racks.iter().flatten() {
            *consumers_by_rack.entry(rack).or_default() += 1;
        }
        let members = prepared.member_count();
        if consumers_by_rack.is_empty() {
            return RackInfo {
                consumer_racks: vec![None; members],
                enabled: false,
                consumers_by_partition: Vec::new(),
            };
        }
        let all_partition_racks: BTreeSet<&str> = prepared
            .replica_racks
            .iter()
            .flat_map(|racks| racks.iter().copied())
            .collect();
        let consumer_rack_set: BTreeSet<&str> = consumers_by_rack.keys().copied().collect();
        let enabled = use_rack_aware_assignment(
            &consumer_rack_set,
            &all_partition_racks,
            prepared.replica_racks.iter(),
            prepared.group.prefer_rack_aware_logic,
        );
        let consumers_by_partition = prepared
            .replica_racks
            .iter()
            .map(|racks| {
                racks
                    .iter()
                    .map(|rack| consumers_by_rack.get(rack).copied().unwrap_or(0))
                    .sum()
            })
            .collect();
        RackInfo {
            consumer_racks: if enabled {
                prepared.racks.clone()
            } else {
                vec![None; members]
            },
            enabled,
            consumers_by_partition,
        }
    }

    /// `racksMismatch`: the member has a rack (and rack-aware assignment is on) and no replica
    /// of the partition is on it.
    pub(crate) fn mismatch(
        &self,
        prepared: &Prepared<'_>,
        member: usize,
        partition: usize,
    ) -> bool {
        match self.consumer_racks[member] {
            Some(rack) => !prepared.replica_racks[partition].contains(rack),
            None => false,
        }
    }

    /// `nextRackConsumer`: from `first` on, circularly, the first position in `members` of a
    /// member on one of the partition's replica racks.
    pub(crate) fn next_rack_consumer(
        &self,
        prepared: &Prepared<'_>,
        partition: usize,
        members: &[usize],
        first: usize,
    ) -> Option<usize> {
        let racks = &prepared.replica_racks[partition];
        if racks.is_empty() || members.is_empty() {
            return None;
        }
        (0..members.len())
            .map(|i| (first + i) % members.len())
            .find(|&index| {
                self.consumer_racks[members[index]].is_some_and(|rack| racks.contains(rack))
            })
    }

    /// Sorts partitions by `consumers_by_partition`, stably, as `sortPartitionsByRackConsumers`.
    pub(crate) fn sort_by_rack_consumers(&self, partitions: &mut [usize]) {
        if !self.consumers_by_partition.is_empty() {
            partitions.sort_by_key(|&p| self.consumers_by_partition[p]);
        }
    }
}

/// How many assigned partitions have no replica on their consumer's rack, counting only
/// consumers with a rack (as Kafka's tests count them).
pub fn rack_mismatches(group: &GroupSubscription, assignment: &GroupAssignment) -> usize {
    let racks: BTreeMap<&str, &str> = group
        .members
        .iter()
        .filter_map(|m| Some((m.member_id.as_str(), m.rack.as_deref()?)))
        .collect();
    assignment
        .assignment
        .iter()
        .filter_map(|(member, partitions)| Some((racks.get(member.as_str())?, partitions)))
        .map(|(rack, partitions)| {
            partitions
                .iter()
                .filter(|tp| {
                    !group
                        .partition_racks
                        .get(tp)
                        .is_some_and(|replicas| replicas.iter().any(|r| r == rack))
                })
                .count()
        })
        .sum()
}

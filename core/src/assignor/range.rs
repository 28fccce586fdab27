//! `RangeAssignor`: each topic's partitions in contiguous ranges over its subscribers.
//!
//! Per topic, the subscribers are sorted (static members by instance id first, then by member
//! id); with `P` partitions and `N` subscribers each gets `P / N`, and the first `P % N` one more.
//! Topics are independent, so members early in the order get the extra partition of every
//! topic.
//!
//! Rack-aware variant (Kafka 3.5): when some topic needs it, a first pass hands out partitions
//! only to members on a rack holding a replica, within each member's quota of the topic; topics
//! with the same subscribers and partition count stay co-partitioned (partition `p` of all of
//! them goes to one member, which must match racks for all). The plain range pass then fills in
//! the rest, so balance and co-partitioning come before rack alignment.

use super::rack::use_rack_aware_assignment;
use super::Prepared;
use std::collections::{BTreeMap, BTreeSet};

/// One topic's progress (`RangeAssignor.TopicAssignmentState`).
struct TopicState {
    topic: usize,
    /// Subscribers in `MemberInfo` order.
    consumers: Vec<usize>,
    /// Whether any subscriber has a rack; only then are replica racks looked at.
    has_consumer_racks: bool,
    needs_rack_aware: bool,
    /// Partition numbers not yet assigned, ascending.
    unassigned: BTreeSet<usize>,
    assigned_count: BTreeMap<usize, usize>,
    per_consumer: usize,
    remaining_with_extra: isize,
}

impl TopicState {
    fn new(prepared: &Prepared<'_>, topic: usize) -> TopicState {
        let consumers = prepared.members_by_member_info(|m| prepared.subscribes(m, topic));
        let partitions = prepared.topics[topic].partitions;
        let consumer_racks: BTreeSet<&str> = consumers
            .iter()
            .filter_map(|&m| prepared.racks[m])
            .collect();
        let first = prepared.topics[topic].first;
        let replica_racks = || prepared.replica_racks[first..first + partitions].iter();
        let needs_rack_aware = !consumer_racks.is_empty() && {
            let all: BTreeSet<&str> = replica_racks().flatten().copied().collect();
            use_rack_aware_assignment(
                &consumer_racks,
                &all,
                replica_racks(),
                prepared.group.prefer_rack_aware_logic,
            )
        };
        let n = consumers.len();
        TopicState {
            topic,
            has_consumer_racks: !consumer_racks.is_empty(),
            needs_rack_aware,
            unassigned: (0..partitions).collect(),
            assigned_count: consumers.iter().map(|&c| (c, 0)).collect(),
            per_consumer: partitions.checked_div(n).unwrap_or(0),
            // Partition counts are bounded by MAX_PARTITIONS, far below isize::MAX.
            remaining_with_extra: partitions.checked_rem(n).unwrap_or(0) as isize,
            consumers,
        }
    }

    /// The number of partitions counted when grouping co-partitioned topics: Kafka groups by the
    /// size of the replica-rack map, which is empty when no subscriber has a rack.
    fn rack_map_size(&self, prepared: &Prepared<'_>) -> usize {
        if self.has_consumer_racks {
            prepared.topics[self.topic].partitions
        } else {
            0
        }
    }

    /// `racksMatch`: a member without a rack matches every partition.
    fn racks_match(&self, prepared: &Prepared<'_>, member: usize, number: usize) -> bool {
        match prepared.racks[member] {
            None => true,
            Some(rack) => {
                self.has_consumer_racks
                    && prepared.replica_racks[prepared.topics[self.topic].first + number]
                        .contains(rack)
            }
        }
    }

    fn max_assignable(&self, member: usize) -> usize {
        let quota = self.per_consumer + usize::from(self.remaining_with_extra > 0);
        quota.saturating_sub(self.assigned_count.get(&member).copied().unwrap_or(0))
    }

    fn on_assigned(&mut self, member: usize, numbers: &[usize]) {
        let count = self.assigned_count.entry(member).or_insert(0);
        *count += numbers.len();
        if *count > self.per_consumer {
            self.remaining_with_extra -= 1;
        }
        for number in numbers {
            self.unassigned.remove(number);
        }
    }
}

/// Assigns partitions to the member and records it in the topic's state.
fn give(
    prepared: &Prepared<'_>,
    state: &mut TopicState,
    member: usize,
    numbers: &[usize],
    owners: &mut [Vec<usize>],
) {
    let first = prepared.topics[state.topic].first;
    owners[member].extend(numbers.iter().map(|n| first + n));
    state.on_assigned(member, numbers);
}

/// `assignRanges`: each member in order takes the next unassigned partitions it may have, up to
/// its quota.
fn assign_ranges(
    prepared: &Prepared<'_>,
    state: &mut TopicState,
    rack_matching: bool,
    owners: &mut [Vec<usize>],
) {
    for member in state.consumers.clone() {
        if state.unassigned.is_empty() {
            break;
        }
        let numbers: Vec<usize> = state
            .unassigned
            .iter()
            .copied()
            .filter(|&n| !rack_matching || state.racks_match(prepared, member, n))
            .take(state.max_assignable(member))
            .collect();
        if !numbers.is_empty() {
            give(prepared, state, member, &numbers, owners);
        }
    }
}

/// `assignCoPartitionedWithRackMatching`: partition `p` of every topic in the group goes to the
/// first member that matches racks for all of them and still has room in all of them.
fn assign_co_partitioned(
    prepared: &Prepared<'_>,
    states: &mut [&mut TopicState],
    partitions: usize,
    owners: &mut [Vec<usize>],
) {
    let mut remaining: Vec<usize> = states[0].consumers.clone();
    for p in 0..partitions {
        let found = remaining.iter().copied().find(|&c| {
            states
                .iter()
                .all(|t| t.racks_match(prepared, c, p) && t.max_assignable(c) > 0)
        });
        let Some(member) = found else { continue };
        for state in states.iter_mut() {
            give(prepared, state, member, &[p], owners);
        }
        if states.iter().all(|t| t.max_assignable(member) == 0) {
            remaining.retain(|&c| c != member);
            if remaining.is_empty() {
                break;
            }
        }
    }
}

/// The range assignment: for each member, its partitions as global indexes.
pub(crate) fn assign(prepared: &Prepared<'_>) -> Vec<Vec<usize>> {
    let mut owners = vec![Vec::new(); prepared.member_count()];
    let mut states: Vec<TopicState> = (0..prepared.topics.len())
        .map(|t| TopicState::new(prepared, t))
        .collect();
    if states.iter().any(|t| t.needs_rack_aware) {
        // Kafka groups topics by subscriber list, then by the size of their replica-rack map;
        // the groups touch disjoint topics, so the order in which they are visited does not
        // matter.
        let mut groups: BTreeMap<(Vec<usize>, usize), Vec<usize>> = BTreeMap::new();
        for (index, state) in states.iter().enumerate() {
            let mut members = state.consumers.clone();
            members.sort_unstable();
            groups
                .entry((members, state.rack_map_size(prepared)))
                .or_default()
                .push(index);
        }
        for ((_, partitions), indexes) in groups {
            if indexes.len() > 1 {
                let mut group: Vec<&mut TopicState> = states
                    .iter_mut()
                    .enumerate()
                    .filter(|(i, _)| indexes.contains(i))
                    .map(|(_, s)| s)
                    .collect();
                assign_co_partitioned(prepared, &mut group, partitions, &mut owners);
            } else if states[indexes[0]].needs_rack_aware {
                assign_ranges(prepared, &mut states[indexes[0]], true, &mut owners);
            }
        }
    }
    for state in &mut states {
        assign_ranges(prepared, state, false, &mut owners);
    }
    owners
}

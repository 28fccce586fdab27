//! The sticky assignors' algorithm when subscriptions differ
//! (`AbstractStickyAssignor.GeneralAssignmentBuilder`).
//!
//! 1. Every member keeps its valid owned partitions, except those of topics it no longer
//!    subscribes to and, with rack-aware assignment, those without a replica on its rack.
//! 2. Each unassigned partition, topics ordered by how few members can take them (then by name),
//!    goes to the least loaded member that can take it (ties by member id); with rack-aware
//!    assignment a first pass considers only members on a matching rack.
//! 3. Partitions then move from a member to another subscribed member with at least two fewer,
//!    preferring to move a partition back to its owner of an older generation, until the
//!    assignment is balanced. If that did not lower the balance score (the sum of the
//!    differences in partition count over all pairs of members), the moves are undone, unless
//!    the assignment started from nothing.
//!
//! Kafka fails with a `NullPointerException` in a few states that valid groups do not reach
//! (e.g. an older owner that no longer subscribes to anything movable); those return errors.

use super::movements::PartitionMovements;
use super::rack::RackInfo;
use super::sticky::{remove_first, Ownership, DEFAULT_GENERATION};
use super::Prepared;
use crate::error::{Error, ErrorKind, Result};
use std::collections::BTreeSet;

/// A state where Kafka's code throws; `what` says which lookup failed.
fn broken(what: &str) -> Error {
    Error::new(
        ErrorKind::InvalidAssignment,
        format!("the sticky assignor's general algorithm failed (Kafka throws here): {what}"),
    )
}

struct Builder<'p, 'a> {
    prepared: &'p Prepared<'a>,
    racks: &'p RackInfo<'a>,
    /// Per topic, the members subscribed to it, in hash order (`topic2AllPotentialConsumers`).
    topic_consumers: Vec<Vec<usize>>,
    /// Per member, its partitions (`currentAssignment`).
    assignment: Vec<Vec<usize>>,
    /// Members set aside because nothing of theirs can move.
    fixed: Vec<bool>,
    /// Per partition, the member whose list holds it.
    holder: Vec<Option<usize>>,
    /// Per partition, its current consumer as Kafka tracks it (`currentPartitionConsumer`);
    /// it keeps a partition's old owner until the partition is given to someone else.
    current: Vec<Option<usize>>,
    /// Members ordered by (partition count, member id) (`sortedCurrentSubscriptions`).
    sorted: BTreeSet<(usize, usize)>,
    /// Member by rank of its id in Java string order.
    by_rank: Vec<usize>,
    revocation_required: bool,
    movements: PartitionMovements,
}

/// Runs the general algorithm; returns each member's partitions.
pub(crate) fn assign(
    prepared: &Prepared<'_>,
    racks: &RackInfo<'_>,
    ownership: Ownership,
) -> Result<Vec<Vec<usize>>> {
    let members = prepared.member_count();
    let total = prepared.partitions.len();
    let mut topic_consumers = vec![Vec::new(); prepared.topics.len()];
    for &member in &prepared.hash_order {
        for &topic in &prepared.member_topics[member] {
            topic_consumers[topic].push(member);
        }
    }
    let mut by_rank = vec![0; members];
    for member in 0..members {
        by_rank[prepared.id_rank[member]] = member;
    }
    let mut builder = Builder {
        prepared,
        racks,
        topic_consumers,
        assignment: ownership.owned,
        fixed: vec![false; members],
        holder: vec![None; total],
        current: vec![None; total],
        sorted: BTreeSet::new(),
        by_rank,
        revocation_required: false,
        movements: PartitionMovements::default(),
    };
    for (member, partitions) in builder.assignment.iter().enumerate() {
        for &p in partitions {
            builder.holder[p] = Some(member);
            builder.current[p] = Some(member);
        }
    }
    // Topics with fewer potential consumers first, then by name; partitions in order.
    let mut topics: Vec<usize> = (0..prepared.topics.len()).collect();
    topics.sort_by_key(|&t| (builder.topic_consumers[t].len(), t));
    let sorted_all: Vec<usize> = topics
        .iter()
        .flat_map(|&t| {
            let topic = &prepared.topics[t];
            topic.first..topic.first + topic.partitions
        })
        .collect();
    let previous = builder.previous_assignment(ownership.max_generation);
    builder.assign_owned_partitions();
    let unassigned: Vec<usize> = sorted_all
        .iter()
        .copied()
        .filter(|&p| builder.holder[p].is_none())
        .collect();
    for member in 0..members {
        builder.sorted_insert(member);
    }
    builder.balance(&previous, sorted_all, unassigned)?;
    Ok(builder.assignment)
}

impl Builder<'_, '_> {
    /// `prepopulateCurrentAssignments`: for each partition, its owner of the highest generation
    /// below the current maximum (the first such claim in hash order wins a tie).
    fn previous_assignment(&self, max_generation: i32) -> Vec<Option<(usize, i32)>> {
        let prepared = self.prepared;
        let mut previous: Vec<Option<(usize, i32)>> = vec![None; prepared.partitions.len()];
        for &member in &prepared.hash_order {
            let claim = match prepared.group.members[member].generation {
                Some(g) if g < max_generation => Some(g),
                None if max_generation > DEFAULT_GENERATION => Some(DEFAULT_GENERATION),
                _ => None,
            };
            let Some(claimed) = claim else { continue };
            for &p in &prepared.owned[member] {
                match previous[p] {
                    Some((_, g)) if claimed <= g => {}
                    _ => previous[p] = Some((member, claimed)),
                }
            }
        }
        previous
    }

    /// Drops owned partitions of topics no longer subscribed, and with rack-aware assignment
    /// those without a replica on the member's rack.
    fn assign_owned_partitions(&mut self) {
        let prepared = self.prepared;
        for member in 0..prepared.member_count() {
            let owned = std::mem::take(&mut self.assignment[member]);
            for p in owned {
                let topic = prepared.partitions[p].0;
                if !prepared.subscribes(member, topic) || self.racks.mismatch(prepared, member, p) {
                    // Kafka leaves the partition's current consumer as it was.
                    self.holder[p] = None;
                    self.revocation_required = true;
                } else {
                    self.assignment[member].push(p);
                }
            }
        }
    }

    /// A member's partition count; Kafka throws for a member it set aside.
    fn size(&self, member: usize) -> Result<usize> {
        if self.fixed[member] {
            return Err(broken(&format!(
                "member {} was set aside but is needed for a move",
                self.prepared.member_id(member)
            )));
        }
        Ok(self.assignment[member].len())
    }

    fn sorted_key(&self, member: usize) -> (usize, usize) {
        (self.assignment[member].len(), self.prepared.id_rank[member])
    }

    fn sorted_insert(&mut self, member: usize) {
        self.sorted.insert(self.sorted_key(member));
    }

    fn sorted_remove(&mut self, member: usize) {
        self.sorted.remove(&self.sorted_key(member));
    }

    /// The most partitions a member could have: all of its subscribed topics'.
    fn max_assignment_size(&self, member: usize) -> usize {
        let prepared = self.prepared;
        prepared.member_topics[member]
            .iter()
            .map(|&t| prepared.topics[t].partitions)
            .sum()
    }

    /// `maybeAssignPartition`: gives the partition to the least loaded member subscribed to its
    /// topic (on a matching rack if `rack_matching`).
    fn maybe_assign_partition(&mut self, partition: usize, rack_matching: bool) -> bool {
        let prepared = self.prepared;
        let topic = prepared.partitions[partition].0;
        let chosen = self
            .sorted
            .iter()
            .map(|&(_, rank)| self.by_rank[rank])
            .find(|&m| {
                prepared.subscribes(m, topic)
                    && !(rack_matching && self.racks.mismatch(prepared, m, partition))
            });
        let Some(member) = chosen else { return false };
        self.sorted_remove(member);
        self.assignment[member].push(partition);
        self.holder[partition] = Some(member);
        self.current[partition] = Some(member);
        self.sorted_insert(member);
        true
    }

    fn can_topic_participate(&self, topic: usize) -> bool {
        self.topic_consumers[topic].len() >= 2
    }

    fn can_member_participate(&self, member: usize) -> bool {
        self.assignment[member].len() < self.max_assignment_size(member)
            || self.assignment[member]
                .iter()
                .any(|&p| self.can_topic_participate(self.prepared.partitions[p].0))
    }

    /// `getBalanceScore` over the members not set aside: the sum over pairs of the difference
    /// in partition count, computed from the sorted counts.
    fn balance_score(&self, assignment: &[Vec<usize>]) -> i64 {
        let mut sizes: Vec<i64> = (0..assignment.len())
            .filter(|&m| !self.fixed[m])
            .map(|m| assignment[m].len() as i64)
            .collect();
        sizes.sort_unstable();
        let n = sizes.len() as i64;
        sizes
            .iter()
            .enumerate()
            .map(|(i, &s)| s * (2 * i as i64 - (n - 1)))
            .sum()
    }

    fn balance(
        &mut self,
        previous: &[Option<(usize, i32)>],
        mut sorted_all: Vec<usize>,
        mut unassigned: Vec<usize>,
    ) -> Result<()> {
        let prepared = self.prepared;
        let initializing = self.sorted.last().is_none_or(|&(size, _)| size == 0);
        if self.racks.enabled {
            let mut left = Vec::new();
            for &p in &unassigned {
                if !self.maybe_assign_partition(p, true) {
                    left.push(p);
                }
            }
            for p in left {
                self.maybe_assign_partition(p, false);
            }
        } else {
            for &p in &unassigned {
                self.maybe_assign_partition(p, false);
            }
        }
        // Only partitions of topics with two or more potential consumers can move.
        let movable = |p: &usize| self.can_topic_participate(prepared.partitions[*p].0);
        sorted_all.retain(movable);
        unassigned.retain(movable);
        // Only members with something that can move take part.
        for member in 0..prepared.member_count() {
            if !self.can_member_participate(member) {
                self.sorted_remove(member);
                self.fixed[member] = true;
            }
        }
        let before = (
            self.assignment.clone(),
            self.holder.clone(),
            self.current.clone(),
        );
        if !self.revocation_required {
            // First try to balance by moving only the newly assigned partitions.
            self.perform_reassignments(&unassigned, previous)?;
        }
        let performed = self.perform_reassignments(&sorted_all, previous)?;
        if !initializing
            && performed
            && self.balance_score(&self.assignment) >= self.balance_score(&before.0)
        {
            (self.assignment, self.holder, self.current) = before;
        }
        self.fixed.fill(false);
        Ok(())
    }

    /// `isBalanced`: counts differ by at most one, or no member could take a partition from a
    /// member with at least two more.
    fn is_balanced(&self) -> Result<bool> {
        let (Some(&(min, _)), Some(&(max, _))) = (self.sorted.first(), self.sorted.last()) else {
            return Ok(true);
        };
        if min + 1 >= max {
            return Ok(true);
        }
        let prepared = self.prepared;
        for &(count, rank) in &self.sorted {
            let member = self.by_rank[rank];
            if count == self.max_assignment_size(member) {
                continue;
            }
            for &topic in &prepared.member_topics[member] {
                let first = prepared.topics[topic].first;
                for p in first..first + prepared.topics[topic].partitions {
                    if self.holder[p] == Some(member) {
                        continue;
                    }
                    let other = self.holder[p]
                        .filter(|&o| !self.fixed[o])
                        .ok_or_else(|| broken("a partition without a current consumer"))?;
                    if count + 1 < self.assignment[other].len() {
                        return Ok(false);
                    }
                }
            }
        }
        Ok(true)
    }

    fn perform_reassignments(
        &mut self,
        partitions: &[usize],
        previous: &[Option<(usize, i32)>],
    ) -> Result<bool> {
        let prepared = self.prepared;
        let mut performed = false;
        loop {
            let mut modified = false;
            for &p in partitions {
                if self.is_balanced()? {
                    break;
                }
                let consumer =
                    self.current[p].ok_or_else(|| broken("a partition to move has no consumer"))?;
                let size = self.size(consumer)?;
                if let Some((owner, _)) = previous[p] {
                    if size > self.size(owner)? + 1 {
                        self.reassign_partition_to(p, owner)?;
                        performed = true;
                        modified = true;
                        continue;
                    }
                }
                // Kafka first looks among members on a rack of the partition, then among all;
                // both searches end in the same move, so one search over all members suffices.
                let topic = prepared.partitions[p].0;
                let mut better = false;
                for &other in &self.topic_consumers[topic] {
                    if size > self.size(other)? + 1 {
                        better = true;
                        break;
                    }
                }
                if better {
                    self.reassign_partition(p)?;
                    performed = true;
                    modified = true;
                }
            }
            if !modified {
                return Ok(performed);
            }
        }
    }

    /// Moves a partition to the least loaded member subscribed to its topic.
    fn reassign_partition(&mut self, partition: usize) -> Result<()> {
        let topic = self.prepared.partitions[partition].0;
        let new = self
            .sorted
            .iter()
            .map(|&(_, rank)| self.by_rank[rank])
            .find(|&m| self.prepared.subscribes(m, topic))
            .ok_or_else(|| broken("no member can take the partition"))?;
        self.reassign_partition_to(partition, new)
    }

    fn reassign_partition_to(&mut self, partition: usize, new: usize) -> Result<()> {
        let old =
            self.current[partition].ok_or_else(|| broken("a partition to move has no consumer"))?;
        let moved = self
            .movements
            .partition_to_move(self.prepared, partition, old, new);
        self.process_partition_movement(moved, new)
    }

    fn process_partition_movement(&mut self, partition: usize, new: usize) -> Result<()> {
        let old =
            self.current[partition].ok_or_else(|| broken("a partition to move has no consumer"))?;
        self.size(old)?;
        self.size(new)?;
        self.sorted_remove(old);
        self.sorted_remove(new);
        self.movements
            .move_partition(self.prepared, partition, old, new);
        remove_first(&mut self.assignment[old], partition);
        self.assignment[new].push(partition);
        self.holder[partition] = Some(new);
        self.current[partition] = Some(new);
        self.sorted_insert(new);
        self.sorted_insert(old);
        Ok(())
    }
}

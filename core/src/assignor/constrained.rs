//! The sticky assignors' algorithm when every member subscribes to the same topics
//! (`AbstractStickyAssignor.ConstrainedAssignmentBuilder`).
//!
//! With `T` partitions and `N` members, every member gets `minQuota = ⌊T/N⌋` or
//! `maxQuota = ⌈T/N⌉` partitions, and exactly `T mod N` members get `maxQuota`.
//! 1. Members, in hash order, keep owned partitions (sorted by partition number, then topic):
//!    all of them if fewer than `minQuota`; `maxQuota` if they own that many and a `maxQuota` slot
//!    is left; `minQuota` otherwise. With rack-aware assignment, owned partitions without a
//!    replica on the member's rack are given up first.
//! 2. The partitions left, in topic and partition order (then, when any consumer has a rack, by
//!    how many consumers share their replicas' racks), go round-robin first to members under
//!    `minQuota` on a matching rack, then to those at `minQuota` on a matching rack (rack-aware
//!    only), and finally round-robin to members under `minQuota`, then to those at `minQuota`.
//!
//! A partition that ends up with another member than the one that owned it is recorded as
//! transferring ownership.

use super::rack::RackInfo;
use super::sticky::{remove_first, Ownership, StickyResult};
use super::Prepared;
use crate::error::{Error, ErrorKind, Result};
use std::collections::{BTreeMap, VecDeque};

/// Kafka throws `IllegalStateException` at these points; they mean the counts went wrong.
fn broken(what: &str) -> Error {
    Error::new(
        ErrorKind::InvalidAssignment,
        format!("the sticky assignor's constrained algorithm failed: {what}"),
    )
}

struct Builder<'p, 'a> {
    prepared: &'p Prepared<'a>,
    racks: &'p RackInfo<'a>,
    ownership: Ownership,
    /// Partition → the member that gave it up (`maybeRevokedPartitions`).
    maybe_revoked: Vec<Option<usize>>,
    /// Members still under `minQuota`.
    under_min: Vec<usize>,
    /// Members at `minQuota` that may still grow to `maxQuota`.
    at_min: VecDeque<usize>,
    min_quota: usize,
    max_quota: usize,
    expected_over_min: usize,
    current_over_min: usize,
    assignment: Vec<Vec<usize>>,
    assigned: Vec<bool>,
    transferring: BTreeMap<usize, usize>,
}

/// Runs the constrained algorithm; returns the assignment and the partitions transferring
/// ownership. `ownership.owned` must have an entry per member, and there must be members.
pub(crate) fn assign(
    prepared: &Prepared<'_>,
    racks: &RackInfo<'_>,
    ownership: Ownership,
) -> Result<StickyResult> {
    let members = prepared.member_count();
    let total = prepared.partitions.len();
    let mut builder = Builder {
        prepared,
        racks,
        ownership,
        maybe_revoked: vec![None; total],
        under_min: Vec::new(),
        at_min: VecDeque::new(),
        min_quota: total / members,
        max_quota: total.div_ceil(members),
        expected_over_min: total % members,
        current_over_min: 0,
        assignment: vec![Vec::new(); members],
        assigned: vec![false; total],
        transferring: BTreeMap::new(),
    };
    builder.assign_owned_partitions();
    let mut unassigned: Vec<usize> = (0..total).filter(|&p| !builder.assigned[p]).collect();
    // Both lists by member id, as Java strings compare.
    builder.under_min.sort_by_key(|&m| prepared.id_rank[m]);
    builder
        .at_min
        .make_contiguous()
        .sort_by_key(|&m| prepared.id_rank[m]);
    racks.sort_by_rack_consumers(&mut unassigned);
    if racks.enabled {
        unassigned = builder.assign_rack_aware_round_robin(unassigned);
    }
    builder.assign_round_robin(&unassigned)?;
    builder.verify_unfilled_members()?;
    Ok(StickyResult {
        assignment: builder.assignment,
        transferring: Some(builder.transferring),
    })
}

impl Builder<'_, '_> {
    /// Step 1: keep owned partitions up to the member's quota.
    fn assign_owned_partitions(&mut self) {
        let prepared = self.prepared;
        for &member in &prepared.hash_order {
            let mut owned: Vec<usize> = Vec::new();
            for &p in &self.ownership.owned[member] {
                if self.racks.mismatch(prepared, member, p) {
                    self.maybe_revoked[p] = Some(member);
                } else {
                    owned.push(p);
                }
            }
            // By partition number, then topic; the global index orders topics as Java does.
            owned.sort_by_key(|&p| (prepared.partitions[p].1, prepared.partitions[p].0));
            for &p in &self.ownership.multiple_previous_owners {
                remove_first(&mut owned, p);
            }
            let keep = if owned.len() < self.min_quota {
                self.under_min.push(member);
                owned.len()
            } else if owned.len() >= self.max_quota
                && self.current_over_min < self.expected_over_min
            {
                self.current_over_min += 1;
                if self.current_over_min == self.expected_over_min {
                    self.at_min.clear();
                }
                self.max_quota
            } else {
                if self.current_over_min < self.expected_over_min {
                    self.at_min.push_back(member);
                }
                self.min_quota
            };
            for &p in &owned[keep..] {
                self.maybe_revoked[p] = Some(member);
            }
            for &p in &owned[..keep] {
                self.assigned[p] = true;
            }
            self.assignment[member].extend_from_slice(&owned[..keep]);
        }
    }

    /// Gives a partition to a member and notes when it changes owner (`assignNewPartition`).
    fn assign_new_partition(&mut self, partition: usize, member: usize) -> usize {
        self.assignment[member].push(partition);
        let revoked_elsewhere = self.maybe_revoked[partition].is_some_and(|m| m != member);
        if revoked_elsewhere || self.ownership.multiple_previous_owners.contains(&partition) {
            self.transferring.insert(partition, member);
        }
        self.assignment[member].len()
    }

    /// Step 2a: round-robin within racks; returns the partitions it could not place.
    fn assign_rack_aware_round_robin(&mut self, unassigned: Vec<usize>) -> Vec<usize> {
        let prepared = self.prepared;
        let mut left = Vec::new();
        let mut next_index = 0;
        for partition in unassigned {
            let mut chosen = None;
            if let Some(mut index) =
                self.racks
                    .next_rack_consumer(prepared, partition, &self.under_min, next_index)
            {
                let member = self.under_min[index];
                chosen = Some(member);
                let count = self.assignment[member].len() + 1;
                if count >= self.min_quota {
                    self.under_min.remove(index);
                    // At minQuota it may still take one more, if a maxQuota slot is left.
                    if count < self.max_quota && self.current_over_min < self.expected_over_min {
                        self.at_min.push_back(member);
                    }
                } else {
                    index += 1;
                }
                next_index = if self.under_min.is_empty() {
                    0
                } else {
                    index % self.under_min.len()
                };
            } else if !self.at_min.is_empty() {
                let candidates: Vec<usize> = self.at_min.iter().copied().collect();
                if let Some(first) =
                    self.racks
                        .next_rack_consumer(prepared, partition, &candidates, 0)
                {
                    let member = candidates[first];
                    chosen = Some(member);
                    if self.assignment[member].len() + 1 == self.max_quota {
                        self.at_min.remove(first);
                        self.current_over_min += 1;
                        if self.current_over_min == self.expected_over_min {
                            self.at_min.clear();
                        }
                    }
                }
            }
            match chosen {
                Some(member) => {
                    self.assign_new_partition(partition, member);
                }
                None => left.push(partition),
            }
        }
        left
    }

    /// Step 2b: round-robin over members under `minQuota`, then those at `minQuota`.
    ///
    /// Kafka walks the under-`minQuota` list with an iterator that removes members reaching
    /// `minQuota` and restarts from the head when it runs out; `cursor` and `last` replay it.
    fn assign_round_robin(&mut self, unassigned: &[usize]) -> Result<()> {
        let mut cursor = 0;
        let mut last: Option<usize> = None;
        for &partition in unassigned {
            let member = if cursor < self.under_min.len() {
                last = Some(cursor);
                cursor += 1;
                self.under_min[cursor - 1]
            } else if self.under_min.is_empty() && self.at_min.is_empty() {
                return Err(broken("no more unfilled members to assign to"));
            } else if self.under_min.is_empty() {
                self.at_min
                    .pop_front()
                    .ok_or_else(|| broken("no member at minQuota"))?
            } else {
                last = Some(0);
                cursor = 1;
                self.under_min[0]
            };
            let count = self.assign_new_partition(partition, member);
            if count == self.min_quota {
                let index = last
                    .take()
                    .ok_or_else(|| broken("a member reached minQuota outside the round"))?;
                self.under_min.remove(index);
                cursor = index;
                self.at_min.push_back(member);
            } else if count == self.max_quota {
                self.current_over_min += 1;
            }
        }
        Ok(())
    }

    /// Checks that members left under `minQuota` are in fact at it (`verifyUnfilledMembers`).
    fn verify_unfilled_members(&self) -> Result<()> {
        if self.under_min.is_empty() {
            return Ok(());
        }
        if self.current_over_min != self.expected_over_min {
            return Err(broken(
                "fewer members than expected reached maxQuota, and no partitions are left",
            ));
        }
        for &member in &self.under_min {
            if self.assignment[member].len() != self.min_quota {
                return Err(broken(&format!(
                    "member {} does not reach minQuota and no partitions are left",
                    self.prepared.member_id(member)
                )));
            }
        }
        Ok(())
    }
}

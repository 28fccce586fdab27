//! `AbstractStickyAssignor`, shared by the `sticky` and `cooperative-sticky` assignors.
//!
//! Goals, in order: a balanced assignment (partition counts differ by at most one among members
//! with equal subscriptions), then as few partitions moving as possible, and (Kafka 3.5) rack
//! alignment on a best-effort basis.
//!
//! First, ownership claims are cleaned up: owned partitions of topics no longer subscribed are
//! dropped; if two members claim a partition, the higher generation keeps it, and with the same
//! generation neither does (it is treated as unowned). Then one of two algorithms runs:
//! * when all members subscribe to the same topics, the constrained one
//!   (`constrained.rs`): keep owned partitions up to the quota, deal the rest round-robin;
//! * otherwise the general one (`general.rs`): keep every valid owned partition, give each
//!   unassigned partition to the least loaded eligible member, then move partitions until no
//!   move improves the balance.
//!
//! Members are visited in the iteration order of Java's `HashMap` of member ids, which decides
//! ties such as which member keeps a contested maximum quota (see the module documentation of
//! [`crate::assignor`]).

use super::rack::RackInfo;
use super::{constrained, general, Prepared};
use crate::error::Result;
use std::collections::{BTreeMap, BTreeSet};

/// Kafka's `DEFAULT_GENERATION`: a member that reports no generation.
pub const DEFAULT_GENERATION: i32 = -1;

/// A sticky assignment: partitions per member, and where Kafka tracks it, the partitions given
/// to a new owner (partition → member).
pub(crate) struct StickyResult {
    pub(crate) assignment: Vec<Vec<usize>>,
    pub(crate) transferring: Option<BTreeMap<usize, usize>>,
}

/// The cleaned-up claims (`allSubscriptionsEqual`).
pub(crate) struct Ownership {
    /// Whether every member subscribes to the same topics.
    pub(crate) all_subscriptions_equal: bool,
    /// Each member's still valid owned partitions (`consumerToOwnedPartitions`).
    pub(crate) owned: Vec<Vec<usize>>,
    /// Partitions claimed by two members of the same generation.
    pub(crate) multiple_previous_owners: BTreeSet<usize>,
    /// The highest generation reported.
    pub(crate) max_generation: i32,
}

/// A member's generation, `DEFAULT_GENERATION` when it reports none.
pub(crate) fn generation(prepared: &Prepared<'_>, member: usize) -> i32 {
    prepared.group.members[member]
        .generation
        .unwrap_or(DEFAULT_GENERATION)
}

/// Removes the first occurrence of `partition`, as Java's `List.remove(Object)` does.
pub(crate) fn remove_first(list: &mut Vec<usize>, partition: usize) {
    if let Some(position) = list.iter().position(|&p| p == partition) {
        list.remove(position);
    }
}

/// Checks whether all subscriptions are equal and settles conflicting ownership claims, visiting
/// members in hash order as Kafka does (the first claimant of a partition is the reference).
pub(crate) fn ownership(prepared: &Prepared<'_>) -> Ownership {
    let members = prepared.member_count();
    let mut result = Ownership {
        all_subscriptions_equal: true,
        owned: vec![Vec::new(); members],
        multiple_previous_owners: BTreeSet::new(),
        max_generation: DEFAULT_GENERATION,
    };
    let mut subscribed: BTreeSet<&str> = BTreeSet::new();
    let mut claimed_by: Vec<Option<usize>> = vec![None; prepared.partitions.len()];
    for &member in &prepared.hash_order {
        let topics = &prepared.member_topic_names[member];
        // Kafka takes the first non-empty subscription as the reference, so a member without
        // topics visited first does not make the subscriptions unequal.
        if subscribed.is_empty() {
            subscribed.extend(topics.iter().copied());
        } else if result.all_subscriptions_equal && *topics != subscribed {
            result.all_subscriptions_equal = false;
        }
        let generation = generation(prepared, member);
        result.max_generation = result.max_generation.max(generation);
        for &partition in &prepared.owned[member] {
            match claimed_by[partition] {
                None => {
                    result.owned[member].push(partition);
                    claimed_by[partition] = Some(member);
                }
                Some(other) => {
                    let other_generation = self::generation(prepared, other);
                    if generation == other_generation {
                        // Two owners in one generation: neither keeps it.
                        result.multiple_previous_owners.insert(partition);
                        remove_first(&mut result.owned[other], partition);
                        claimed_by[partition] = Some(member);
                    } else if generation > other_generation {
                        result.owned[member].push(partition);
                        remove_first(&mut result.owned[other], partition);
                        claimed_by[partition] = Some(member);
                    }
                }
            }
        }
    }
    result
}

/// Runs `AbstractStickyAssignor.assignPartitions`.
pub(crate) fn assign(prepared: &Prepared<'_>) -> Result<StickyResult> {
    if prepared.member_count() == 0 {
        // Kafka divides by the member count here; an empty group simply gets nothing.
        return Ok(StickyResult {
            assignment: Vec::new(),
            transferring: Some(BTreeMap::new()),
        });
    }
    let racks = RackInfo::new(prepared);
    let ownership = ownership(prepared);
    if ownership.all_subscriptions_equal {
        constrained::assign(prepared, &racks, ownership)
    } else {
        Ok(StickyResult {
            assignment: general::assign(prepared, &racks, ownership)?,
            transferring: None,
        })
    }
}

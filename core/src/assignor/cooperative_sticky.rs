//! `CooperativeStickyAssignor`: the sticky assignment, minus the partitions that change owner.
//!
//! In the cooperative protocol members keep their partitions through a rebalance, so a
//! partition may not go to its new owner before the old one has revoked it. One assignor call
//! therefore withholds every partition that moves: the old owner sees it missing from its
//! assignment, revokes it and rejoins, and the follow-up rebalance hands it to the new owner.
//! When all subscriptions are equal the sticky algorithm records the moving partitions itself;
//! otherwise they are the partitions assigned to a member that did not report owning them and
//! reported as owned by a member that does not get them.

use super::sticky::{self, StickyResult};
use super::Prepared;
use crate::error::Result;
use std::collections::{BTreeMap, BTreeSet};

/// Runs the cooperative assignor: each member's partitions for this round, and the partitions
/// withheld with the member that will get them.
pub(crate) fn assign(prepared: &Prepared<'_>) -> Result<StickyResult> {
    let StickyResult {
        mut assignment,
        transferring,
    } = sticky::assign(prepared)?;
    let transferring = match transferring {
        Some(map) => map,
        None => transferring_ownership(prepared, &assignment),
    };
    for (&partition, &member) in &transferring {
        if let Some(list) = assignment.get_mut(member) {
            list.retain(|&p| p != partition);
        }
    }
    Ok(StickyResult {
        assignment,
        transferring: Some(transferring),
    })
}

/// `computePartitionsTransferringOwnership`: partitions newly assigned to a member that some
/// member reported owning and no longer gets. Reported ownership is taken as is here, whatever
/// the generation.
fn transferring_ownership(
    prepared: &Prepared<'_>,
    assignment: &[Vec<usize>],
) -> BTreeMap<usize, usize> {
    let mut added = BTreeMap::new();
    let mut revoked = BTreeSet::new();
    for (member, assigned) in assignment.iter().enumerate() {
        let owned: BTreeSet<usize> = prepared.owned[member].iter().copied().collect();
        let assigned_set: BTreeSet<usize> = assigned.iter().copied().collect();
        for &p in assigned {
            if !owned.contains(&p) {
                added.insert(p, member);
            }
        }
        revoked.extend(owned.difference(&assigned_set).copied());
    }
    added.retain(|p, _| revoked.contains(p));
    added
}

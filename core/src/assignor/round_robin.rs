//! `RoundRobinAssignor`: every partition of every subscribed topic dealt in turn.
//!
//! Topics are sorted by name and expanded to their partitions; one circular cursor walks the
//! members (static first by instance id, then by member id). Each partition goes to the next
//! member subscribed to its topic, and the cursor moves past that member. With unequal
//! subscriptions this can leave members unbalanced; it ignores racks.

use super::Prepared;

/// The round-robin assignment: for each member, its partitions as global indexes.
pub(crate) fn assign(prepared: &Prepared<'_>) -> Vec<Vec<usize>> {
    let mut owners = vec![Vec::new(); prepared.member_count()];
    let members = prepared.members_by_member_info(|_| true);
    let mut cursor = 0;
    // Topics are already in Java string order, each with its partitions in numeric order, and
    // every one of them has a subscriber.
    for (partition, &(topic, _)) in prepared.partitions.iter().enumerate() {
        // A full turn without a subscriber cannot happen, but bounding the search keeps a
        // malformed input from looping forever.
        let Some(step) = (0..members.len())
            .find(|&step| prepared.subscribes(members[(cursor + step) % members.len()], topic))
        else {
            continue;
        };
        let member = members[(cursor + step) % members.len()];
        owners[member].push(partition);
        cursor = (cursor + step + 1) % members.len();
    }
    owners
}

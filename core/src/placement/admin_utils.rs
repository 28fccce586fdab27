//! Kafka's legacy placement, `AdminUtils.assignReplicasToBrokers` (`SEMANTICS.md` §2.1).
//!
//! ZooKeeper-era Kafka placed new topics with this algorithm, and `kafka-reassign-partitions
//! --generate` still does. Leaders go round-robin over the brokers from a start index; followers
//! sit at a shifting distance from their leader so that the same pairs do not repeat. When every
//! broker has a rack, the brokers are first interleaved rack by rack, and followers skip brokers
//! whose rack already holds a replica until every rack holds one.

use std::collections::{BTreeMap, BTreeSet};

use super::java_random::PlacementRandom;
use crate::error::{Error, ErrorKind, Result};
use crate::java::compare_java_strings;
use crate::BrokerId;

/// A broker as `AdminUtils` sees it: its id and, if configured, its `broker.rack`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerMetadata {
    /// The broker's `node.id`.
    pub id: BrokerId,
    /// The broker's rack, `None` when `broker.rack` is unset.
    pub rack: Option<String>,
}

/// Where the round-robin starts: Kafka's `fixedStartIndex`, or its two random draws.
pub enum StartIndex<'a> {
    /// Kafka's `fixedStartIndex ≥ 0`: the first leader's index and the initial follower shift
    /// are both this value. Kafka's tests use it to make assignments predictable.
    Fixed(u64),
    /// Both values chosen by the caller, standing for Kafka's two independent draws in
    /// `[0, number of brokers)`: first the start index, then the initial follower shift.
    Drawn {
        /// The index, in the broker list, of the first partition's leader.
        start_index: u64,
        /// The initial distance pattern of followers from their leader.
        replica_shift: u64,
    },
    /// Draw the two values from a generator, after validation, as Kafka's `RAND.nextInt` does.
    Random(&'a mut dyn PlacementRandom),
}

impl StartIndex<'_> {
    /// The start index and initial follower shift over `broker_count` brokers.
    fn resolve(self, broker_count: usize) -> (u64, u64) {
        match self {
            StartIndex::Fixed(index) => (index, index),
            StartIndex::Drawn {
                start_index,
                replica_shift,
            } => (start_index, replica_shift),
            StartIndex::Random(random) => {
                let bound = i32::try_from(broker_count).expect("broker count fits in an i32");
                // Kafka draws the start index first and the shift second.
                let start = random.next_int(bound);
                let shift = random.next_int(bound);
                // Draws from 0..bound are never negative.
                (start.unsigned_abs().into(), shift.unsigned_abs().into())
            }
        }
    }
}

/// The index of follower `j` of a leader at `first`: `(first + 1 + (shift + j) mod (n − 1)) mod n`.
///
/// The `+ 1` keeps followers off their leader, and the shift spreads them: partitions whose leaders
/// are neighbours do not get the same followers.
fn replica_index(first: u64, shift: u64, j: u64, n: u64) -> usize {
    let index = (first + 1 + (shift + j) % (n - 1)) % n;
    // The index is below n, the length of a broker list in memory.
    usize::try_from(index).expect("an index below the broker count fits in a usize")
}

/// Kafka's `AdminUtils.assignReplicasToBrokers`: a replica list for each of `partitions` new
/// partitions, keyed by partition id from `start_partition_id` on.
///
/// `brokers` is used in the given order; Kafka's callers sort it by id. `start_partition_id` is
/// the first new partition's id: 0 for a new topic (Kafka's −1), the current partition count when
/// partitions are added. Errors, checked in Kafka's order before any random draw:
/// [`ErrorKind::InvalidPartitions`] when `partitions` is 0; [`ErrorKind::InvalidReplicationFactor`]
/// when `replication_factor` is 0 or exceeds the number of brokers;
/// [`ErrorKind::IncompleteRackInformation`] when some brokers have a rack and others do not.
pub fn assign_replicas_to_brokers(
    brokers: &[BrokerMetadata],
    partitions: u32,
    replication_factor: u32,
    start: StartIndex<'_>,
    start_partition_id: u32,
) -> Result<BTreeMap<u32, Vec<BrokerId>>> {
    if partitions == 0 {
        return Err(Error::new(
            ErrorKind::InvalidPartitions,
            "Number of partitions must be larger than 0.",
        ));
    }
    if start_partition_id.checked_add(partitions).is_none() {
        // Kafka would overflow its int partition ids here; refuse instead of wrapping.
        return Err(Error::new(
            ErrorKind::InvalidPartitions,
            format!("Partition ids from {start_partition_id} for {partitions} partitions do not fit in 32 bits."),
        ));
    }
    if replication_factor == 0 {
        return Err(Error::new(
            ErrorKind::InvalidReplicationFactor,
            "Replication factor must be larger than 0.",
        ));
    }
    if replication_factor as usize > brokers.len() {
        return Err(Error::new(
            ErrorKind::InvalidReplicationFactor,
            format!(
                "Replication factor: {replication_factor} larger than available brokers: {}.",
                brokers.len()
            ),
        ));
    }
    if brokers.iter().all(|b| b.rack.is_none()) {
        let ids: Vec<BrokerId> = brokers.iter().map(|b| b.id).collect();
        return Ok(rack_unaware(
            &ids,
            partitions,
            replication_factor,
            start,
            start_partition_id,
        ));
    }
    let mut racks = BTreeMap::new();
    for broker in brokers {
        match &broker.rack {
            Some(rack) => {
                racks.insert(broker.id, rack.clone());
            }
            None => {
                return Err(Error::new(
                    ErrorKind::IncompleteRackInformation,
                    format!(
                        "Not all brokers have rack information for replica rack aware assignment: broker {} has no broker.rack. Set a rack on every broker or on none.",
                        broker.id
                    ),
                ))
            }
        }
    }
    Ok(rack_aware(
        &racks,
        partitions,
        replication_factor,
        start,
        start_partition_id,
    ))
}

/// The rack-unaware branch: round-robin leaders, followers at a shift that grows by one after
/// every full round of leaders.
fn rack_unaware(
    brokers: &[BrokerId],
    partitions: u32,
    replication_factor: u32,
    start: StartIndex<'_>,
    start_partition_id: u32,
) -> BTreeMap<u32, Vec<BrokerId>> {
    let n = brokers.len() as u64;
    let (start_index, mut shift) = start.resolve(brokers.len());
    let mut out = BTreeMap::new();
    for partition in (start_partition_id..).take(partitions as usize) {
        let p = u64::from(partition);
        if p > 0 && p % n == 0 {
            shift += 1;
        }
        let first = (p + start_index) % n;
        let mut replicas = Vec::with_capacity(replication_factor as usize);
        replicas.push(brokers[first as usize]);
        for j in 0..u64::from(replication_factor) - 1 {
            replicas.push(brokers[replica_index(first, shift, j, n)]);
        }
        out.insert(partition, replicas);
    }
    out
}

/// The rack-aware branch: the same round-robin over the rack-alternated list, with followers
/// that skip brokers on racks (and brokers) that already hold a replica while others do not.
fn rack_aware(
    racks: &BTreeMap<BrokerId, String>,
    partitions: u32,
    replication_factor: u32,
    start: StartIndex<'_>,
    start_partition_id: u32,
) -> BTreeMap<u32, Vec<BrokerId>> {
    let rack_count = racks.values().collect::<BTreeSet<_>>().len() as u64;
    let arranged = rack_alternated_broker_list(racks);
    let n = arranged.len() as u64;
    let (start_index, mut shift) = start.resolve(arranged.len());
    let mut out = BTreeMap::new();
    for partition in (start_partition_id..).take(partitions as usize) {
        let p = u64::from(partition);
        if p > 0 && p % n == 0 {
            shift += 1;
        }
        let first = (p + start_index) % n;
        let leader = arranged[first as usize];
        let mut replicas = vec![leader];
        let mut racks_used = BTreeSet::from([&racks[&leader]]);
        let mut brokers_used = BTreeSet::from([leader]);
        // `k` walks the candidate positions and, as in Kafka, keeps counting across followers.
        let mut k = 0u64;
        for _ in 1..replication_factor {
            // The candidates cycle through every position but the leader's, and a replication
            // factor no larger than the broker count leaves an acceptable one, so this ends.
            loop {
                let broker = arranged[replica_index(first, shift * rack_count, k, n)];
                let rack = &racks[&broker];
                k += 1;
                let rack_ok = !racks_used.contains(rack) || racks_used.len() as u64 == rack_count;
                let broker_ok = !brokers_used.contains(&broker) || brokers_used.len() as u64 == n;
                if rack_ok && broker_ok {
                    replicas.push(broker);
                    racks_used.insert(rack);
                    brokers_used.insert(broker);
                    break;
                }
            }
        }
        out.insert(partition, replicas);
    }
    out
}

/// Kafka's `AdminUtils.getRackAlternatedBrokerList`: brokers interleaved rack by rack.
///
/// Racks are taken in name order (Java string order) and each rack's brokers in id order; the
/// list takes the next broker of each rack in turn, skipping racks that have run out. With
/// `{0: r1, 1: r3, 2: r3, 3: r2, 4: r2, 5: r1}` it is `[0, 3, 1, 5, 4, 2]`.
pub fn rack_alternated_broker_list(broker_racks: &BTreeMap<BrokerId, String>) -> Vec<BrokerId> {
    // The map iterates by broker id, so each rack's list comes out sorted by id.
    let mut by_rack: Vec<(&str, Vec<BrokerId>)> = Vec::new();
    for (&id, rack) in broker_racks {
        match by_rack.iter_mut().find(|(name, _)| *name == rack.as_str()) {
            Some((_, ids)) => ids.push(id),
            None => by_rack.push((rack.as_str(), vec![id])),
        }
    }
    by_rack.sort_by(|(a, _), (b, _)| compare_java_strings(a, b));
    let mut result = Vec::with_capacity(broker_racks.len());
    for round in 0.. {
        if result.len() == broker_racks.len() {
            break;
        }
        for (_, ids) in &by_rack {
            if let Some(&id) = ids.get(round) {
                result.push(id);
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::java_random::MockRandom;

    fn with_racks(racks: &[(BrokerId, &str)]) -> Vec<BrokerMetadata> {
        racks
            .iter()
            .map(|&(id, rack)| BrokerMetadata {
                id,
                rack: Some(rack.to_string()),
            })
            .collect()
    }

    /// Kafka's guarantee: with a replication factor of at least the rack count every rack holds
    /// a replica, otherwise no rack holds two; and the replicas are distinct brokers.
    #[test]
    fn rack_aware_spreads_over_racks_for_every_draw() {
        let brokers = with_racks(&[
            (0, "a"),
            (1, "a"),
            (2, "b"),
            (3, "b"),
            (4, "c"),
            (5, "c"),
            (6, "c"),
        ]);
        let rack_of: BTreeMap<BrokerId, &str> = brokers
            .iter()
            .map(|b| (b.id, b.rack.as_deref().unwrap()))
            .collect();
        for seed in 0..200u64 {
            let mut random = MockRandom::new(seed);
            let rf = 1 + (seed % 7) as u32;
            let assignment = assign_replicas_to_brokers(
                &brokers,
                20,
                rf,
                StartIndex::Random(&mut random),
                (seed % 5) as u32,
            )
            .unwrap();
            assert_eq!(assignment.len(), 20);
            for replicas in assignment.values() {
                let distinct: BTreeSet<_> = replicas.iter().collect();
                assert_eq!(distinct.len(), rf as usize, "seed {seed}: {replicas:?}");
                let racks: BTreeSet<_> = replicas.iter().map(|b| rack_of[b]).collect();
                assert_eq!(
                    racks.len(),
                    (rf as usize).min(3),
                    "seed {seed}: {replicas:?}"
                );
            }
        }
    }

    /// Leaders go round-robin, so over a multiple of the broker count each broker leads equally.
    #[test]
    fn leaders_are_spread_evenly_for_every_draw() {
        let brokers = with_racks(&[(0, "x"), (1, "y"), (2, "z"), (3, "x"), (4, "y"), (5, "z")]);
        let plain: Vec<BrokerMetadata> =
            (0..6).map(|id| BrokerMetadata { id, rack: None }).collect();
        for seed in 0..100u64 {
            for list in [&brokers, &plain] {
                let mut random = MockRandom::new(seed);
                let assignment =
                    assign_replicas_to_brokers(list, 18, 3, StartIndex::Random(&mut random), 0)
                        .unwrap();
                let mut leaders = BTreeMap::new();
                for replicas in assignment.values() {
                    *leaders.entry(replicas[0]).or_insert(0) += 1;
                }
                assert!(
                    leaders.values().all(|&c| c == 3),
                    "seed {seed}: {leaders:?}"
                );
            }
        }
    }

    #[test]
    fn errors_come_before_draws() {
        let mut random = MockRandom::default();
        let brokers = with_racks(&[(0, "a")]);
        let err = assign_replicas_to_brokers(&brokers, 1, 2, StartIndex::Random(&mut random), 0)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidReplicationFactor);
        assert_eq!(random, MockRandom::default());
    }
}

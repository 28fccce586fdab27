//! Replica placement at topic creation (`SEMANTICS.md` §2), faithful to Kafka.
//!
//! Two algorithms, each a port of Kafka's own:
//! * [`admin_utils`]: `AdminUtils.assignReplicasToBrokers`, the ZooKeeper-era placement, rack
//!   aware or not. The simulator's controller uses its rack-unaware form through
//!   [`assign_replicas`].
//! * [`striped`]: the KRaft controller's `StripedReplicaPlacer`, entered through
//!   [`striped_placement`].
//!
//! Both draw randomness through [`PlacementRandom`], so Kafka's test vectors can be replayed with
//! Kafka's [`MockRandom`] while the simulator uses its seeded [`SimRng`](crate::rng::SimRng).

pub mod admin_utils;
pub mod java_random;
pub mod striped;

pub use admin_utils::{
    assign_replicas_to_brokers, rack_alternated_broker_list, BrokerMetadata, StartIndex,
};
pub use java_random::{shuffle, MockRandom, PlacementRandom};
pub use striped::{striped_placement, BrokerList, RackList, UsableBroker};

use crate::error::Result;
use crate::BrokerId;

/// Assigns `partitions` partitions of `replication_factor` replicas over `brokers` (sorted by id),
/// ignoring racks.
///
/// `start_index` and `replica_shift` are Kafka's two random draws in `[0, n)` (fixed in tests).
/// This is [`assign_replicas_to_brokers`] for a new topic whose brokers have no rack, returning
/// the replica lists in partition order.
pub fn assign_replicas(
    brokers: &[BrokerId],
    partitions: u32,
    replication_factor: u32,
    start_index: usize,
    replica_shift: usize,
) -> Result<Vec<Vec<BrokerId>>> {
    let brokers: Vec<BrokerMetadata> = brokers
        .iter()
        .map(|&id| BrokerMetadata { id, rack: None })
        .collect();
    let start = StartIndex::Drawn {
        // usize is at most 64 bits on every supported target, so these conversions are exact.
        start_index: start_index as u64,
        replica_shift: replica_shift as u64,
    };
    let assignment =
        assign_replicas_to_brokers(&brokers, partitions, replication_factor, start, 0)?;
    Ok(assignment.into_values().collect())
}

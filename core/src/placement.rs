//! Replica placement at topic creation (`SEMANTICS.md` §2).
//!
//! This is the rack-unaware branch of Kafka's `AdminUtils.assignReplicasToBrokers`: leaders
//! round-robin over the brokers from a random start, followers at a shifting offset so that pairs
//! do not repeat. The KRaft controller's `StripedReplicaPlacer` and rack awareness are a later step;
//! ARCHITECTURE.md lists this simplification.

use crate::error::{Error, ErrorKind, Result};
use crate::BrokerId;

/// `(first + 1 + (shift + j) % (n − 1)) % n`: the broker index of follower `j`.
fn replica_index(first: usize, shift: usize, j: usize, n: usize) -> usize {
    (first + 1 + (shift + j) % (n - 1)) % n
}

/// Assigns `partitions` partitions of `replication_factor` replicas over `brokers` (sorted by id).
///
/// `start_index` and `replica_shift` are Kafka's two random draws in `[0, n)` (fixed in tests).
pub fn assign_replicas(
    brokers: &[BrokerId],
    partitions: u32,
    replication_factor: u32,
    start_index: usize,
    replica_shift: usize,
) -> Result<Vec<Vec<BrokerId>>> {
    let n = brokers.len();
    if partitions == 0 {
        return Err(Error::new(
            ErrorKind::InvalidPartitions,
            "Number of partitions must be larger than 0.",
        ));
    }
    if replication_factor == 0 {
        return Err(Error::new(
            ErrorKind::InvalidReplicationFactor,
            "Replication factor must be larger than 0.",
        ));
    }
    if replication_factor as usize > n {
        return Err(Error::new(
            ErrorKind::InvalidReplicationFactor,
            format!("Replication factor: {replication_factor} larger than available brokers: {n}."),
        ));
    }
    let mut shift = replica_shift;
    let mut out = Vec::with_capacity(partitions as usize);
    for p in 0..partitions as usize {
        if p > 0 && p % n == 0 {
            shift += 1;
        }
        let first = (p + start_index) % n;
        let mut replicas = vec![brokers[first]];
        for j in 0..replication_factor as usize - 1 {
            replicas.push(brokers[replica_index(first, shift, j, n)]);
        }
        out.push(replicas);
    }
    Ok(out)
}

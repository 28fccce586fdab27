//! How a producer chooses a partition: Kafka's murmur2 for keyed records and the built-in sticky
//! partitioner for records without a key (`SEMANTICS.md` §1).

use crate::rng::SimRng;
use serde::{Deserialize, Serialize};

/// Kafka's `Utils.murmur2`: 32-bit MurmurHash2 with seed `0x9747b28c`, as a signed int32.
///
/// All arithmetic wraps on `u32` with logical shifts, which is what Java's `int` with `>>>` does.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len() as u32;
    let mut h = SEED ^ length;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    // Java's switch falls through from the highest remaining byte down, and multiplies once.
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`: clears the sign bit. This is not the absolute value, and the
/// difference changes the partition of about half of all keys.
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition of a keyed record: `toPositive(murmur2(key)) % partitions`, over all partitions
/// of the topic whether or not they currently have a leader. Returns `None` for zero partitions.
pub fn partition_for_key(key: &[u8], partitions: u32) -> Option<u32> {
    if partitions == 0 {
        return None;
    }
    Some(to_positive(murmur2(key)) as u32 % partitions)
}

/// The built-in sticky partitioner for records with a null key (KIP-480, KIP-794).
///
/// It keeps sending to one partition until at least `batch.size` bytes went there, then picks a new
/// one at random among partitions that have a leader. Simplification: Kafka also waits for the
/// current batch to fill before switching (up to 2 × `batch.size`) and weights the random choice by
/// queue sizes (adaptive partitioning); this model switches at exactly `batch.size` with a uniform
/// choice, as Kafka does when no load statistics are available.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StickyPartitioner {
    current: Option<u32>,
    produced_bytes: u64,
}

impl StickyPartitioner {
    /// The partition for the next null-key record of `record_bytes` bytes. `available` lists the
    /// partitions that have a leader; when it is empty, any of the `partitions` may be chosen.
    pub fn partition(
        &mut self,
        rng: &mut SimRng,
        partitions: u32,
        available: &[u32],
        record_bytes: u64,
        batch_size: u64,
    ) -> u32 {
        let current = match self.current {
            Some(p) if p < partitions => p,
            _ => {
                let p = if available.is_empty() {
                    rng.below(u64::from(partitions.max(1))) as u32
                } else {
                    available[rng.below(available.len() as u64) as usize]
                };
                self.current = Some(p);
                self.produced_bytes = 0;
                p
            }
        };
        self.produced_bytes += record_bytes;
        if self.produced_bytes >= batch_size {
            self.current = None;
        }
        current
    }
}

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

/// Kafka's `PartitionLoadStats` (KIP-794's adaptive partitioning): a cumulative frequency table
/// over the partitions that have a leader, in which a partition's weight is the longest queue plus
/// one minus its own queue, so that a partition whose batches pile up (its leader is slow) is
/// chosen less often, and one with the longest queue still keeps a weight of one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionLoadStats {
    /// Running sums of the weights, in the order of `partition_ids`.
    cumulative_frequency: Vec<u64>,
    /// The partition each entry of the table stands for.
    partition_ids: Vec<u32>,
}

impl PartitionLoadStats {
    /// Kafka's `BuiltInPartitioner#updatePartitionLoadStats`: `queues` lists `(partition, queue
    /// size)` for the partitions that may be chosen (they have a leader and, with
    /// `partitioner.availability.timeout.ms`, their leader is not lagging), and `all_partitions`
    /// counts every partition the accumulator has a queue for. Returns `None` when Kafka goes
    /// without load statistics: fewer than two partitions in all, none that may be chosen, or
    /// every partition may be chosen and all queues are equally long (the weighting would be
    /// uniform anyway).
    pub fn from_queue_sizes(
        queues: impl IntoIterator<Item = (u32, u32)>,
        all_partitions: usize,
    ) -> Option<PartitionLoadStats> {
        let mut stats = PartitionLoadStats::default();
        stats.rebuild(queues, all_partitions).then_some(stats)
    }

    /// Rebuilds the table in place, reusing its memory (the sender does this at every readiness
    /// check); returns whether the statistics are to be used, as in
    /// [`PartitionLoadStats::from_queue_sizes`].
    fn rebuild(
        &mut self,
        queues: impl IntoIterator<Item = (u32, u32)>,
        all_partitions: usize,
    ) -> bool {
        self.cumulative_frequency.clear();
        self.partition_ids.clear();
        for (partition, size) in queues {
            self.partition_ids.push(partition);
            self.cumulative_frequency.push(u64::from(size));
        }
        let length = self.partition_ids.len();
        if length == 0 || all_partitions < 2 {
            return false;
        }
        let first = self.cumulative_frequency[0];
        let all_equal = self.cumulative_frequency.iter().all(|&s| s == first);
        // With some partitions left out, the weighting still matters even if the queues that
        // remain are equal: it is what keeps the left-out partitions from being chosen.
        if all_equal && length == all_partitions {
            return false;
        }
        let max_plus_one = self.cumulative_frequency.iter().copied().max().unwrap_or(0) + 1;
        let mut running = 0;
        for entry in &mut self.cumulative_frequency {
            running += max_plus_one - *entry;
            *entry = running;
        }
        true
    }

    /// The sum of all weights: a uniform random number below it picks a partition.
    pub fn total_weight(&self) -> u64 {
        self.cumulative_frequency.last().copied().unwrap_or(0)
    }

    /// The partition that a random number in `0..total_weight()` stands for: the first entry of
    /// the table strictly greater than it, as Kafka's binary search finds.
    pub fn pick(&self, random: u64) -> u32 {
        let index = self.cumulative_frequency.partition_point(|&c| c <= random);
        let last = self.partition_ids.len().saturating_sub(1);
        self.partition_ids
            .get(index.min(last))
            .copied()
            .unwrap_or(0)
    }

    /// The partitions that may be chosen, in table order.
    pub fn partitions(&self) -> &[u32] {
        &self.partition_ids
    }
}

/// Kafka's `BuiltInPartitioner` (KIP-480, KIP-794): the partition for records that have no key
/// (or whose key is ignored, `partitioner.ignore.keys`), one per producer since a simulated
/// producer writes one topic.
///
/// The producer sticks to one partition and counts the bytes appended to it. After an append
/// (and before one, to finish a switch that was held back) it switches once at least `batch.size`
/// bytes went there and the partition's last batch is full, or whenever at least
/// 2 × `batch.size` bytes went there, so that switches land on batch boundaries without letting
/// a slowly filling batch hold the producer forever. The next partition is drawn at once: weighted
/// by the load statistics when the sender computed some ([`PartitionLoadStats`]), otherwise
/// uniformly among the partitions with a leader, or among all of them when none has one.
///
/// Simplification: sizes are the records' `record_bytes`, without the record and batch headers
/// Kafka also counts.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StickyPartitioner {
    current: Option<u32>,
    produced_bytes: u64,
    /// The statistics from the sender's last readiness check, used only when `adaptive` says so
    /// (kept either way so that its memory is reused).
    #[serde(default)]
    load_stats: PartitionLoadStats,
    /// Whether the next switch is weighted by `load_stats`; otherwise it is uniform.
    #[serde(default)]
    adaptive: bool,
}

impl StickyPartitioner {
    /// The current sticky partition, if one was chosen.
    pub fn current(&self) -> Option<u32> {
        self.current
    }

    /// Bytes appended to the current sticky partition since it was chosen.
    pub fn produced_bytes(&self) -> u64 {
        self.produced_bytes
    }

    /// The load statistics the next switch will use, if any.
    pub fn load_stats(&self) -> Option<&PartitionLoadStats> {
        self.adaptive.then_some(&self.load_stats)
    }

    /// Kafka's `peekCurrentPartitionInfo`: the current sticky partition, chosen now if there is
    /// none yet (or the one kept is not a partition of the topic). `available` lists the
    /// partitions that have a leader; it is asked for only when a partition is chosen.
    pub fn peek(
        &mut self,
        rng: &mut SimRng,
        partitions: u32,
        available: impl FnOnce() -> Vec<u32>,
    ) -> u32 {
        match self.current {
            Some(p) if p < partitions => p,
            _ => self.switch(rng, partitions, &available()),
        }
    }

    /// Kafka's `updatePartitionInfo`: counts `appended_bytes` towards the current partition and
    /// switches to a new one when at least `batch_size` bytes went there and `enable_switch` (the
    /// partition's batches are all full), or when at least twice `batch_size` went there. Returns
    /// whether it switched.
    pub fn update(
        &mut self,
        rng: &mut SimRng,
        appended_bytes: u64,
        batch_size: u64,
        enable_switch: bool,
        partitions: u32,
        available: impl FnOnce() -> Vec<u32>,
    ) -> bool {
        if self.current.is_none() {
            return false;
        }
        self.produced_bytes += appended_bytes;
        let enough = self.produced_bytes >= batch_size && enable_switch;
        if enough || self.produced_bytes >= batch_size.saturating_mul(2) {
            self.switch(rng, partitions, &available());
            return true;
        }
        false
    }

    /// Kafka's `nextPartition`, made the current partition with nothing produced to it yet.
    fn switch(&mut self, rng: &mut SimRng, partitions: u32, available: &[u32]) -> u32 {
        let stats = &self.load_stats;
        let next = match self.adaptive {
            true if stats.total_weight() > 0 => stats.pick(rng.below(stats.total_weight())),
            _ if available.is_empty() => rng.below(u64::from(partitions.max(1))) as u32,
            _ => available[rng.below(available.len() as u64) as usize],
        };
        self.current = Some(next);
        self.produced_bytes = 0;
        next
    }

    /// Kafka's `updatePartitionLoadStats`, called at every readiness check of the sender with the
    /// queues of the partitions that may be chosen (see [`PartitionLoadStats::from_queue_sizes`]).
    pub fn update_load_stats(
        &mut self,
        queues: impl IntoIterator<Item = (u32, u32)>,
        all_partitions: usize,
    ) {
        self.adaptive = self.load_stats.rebuild(queues, all_partitions);
    }

    /// Forgets the load statistics: the next switch is uniform (adaptive partitioning is off, or
    /// not every partition has had a batch yet).
    pub fn clear_load_stats(&mut self) {
        self.adaptive = false;
    }
}

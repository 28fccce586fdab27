//! A replica's log: records with offsets, the log start offset, log end offset and high
//! watermark, and the leader-epoch cache used to find where two replicas' logs diverge
//! (KIP-101, KIP-279; `SEMANTICS.md` §3.5 and §6).

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// How many records one replica keeps. Older records below the high watermark are deleted, as
/// retention would, so that a long session cannot exhaust memory (architecture invariant 8).
pub const MAX_RETAINED_RECORDS: usize = 10_000;

/// One record as stored in a partition's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Position in the partition, assigned by the leader.
    pub offset: u64,
    /// Leader epoch of the leader that appended it.
    pub leader_epoch: u32,
    /// `CreateTime`: when the producer created the record, in simulated milliseconds.
    pub timestamp_ms: u64,
    /// The record key; `None` is Kafka's null key.
    pub key: Option<String>,
    /// The record value. Values written by the simulator's producers are unique, so a history
    /// checker can follow each one.
    pub value: String,
    /// Size in bytes that this record counts for in batching and throughput.
    pub size_bytes: u32,
    /// Idempotent producer id, or -1 when idempotence is off.
    pub producer_id: i64,
    /// Producer epoch of an idempotent producer.
    pub producer_epoch: u16,
    /// Sequence number of this record for its producer and partition, or -1.
    pub sequence: i32,
    /// The simulator's unique id of the value (not part of Kafka's format), so that the history
    /// checker can follow each write without parsing `value`.
    #[serde(default)]
    pub value_id: u64,
}

/// An entry of the leader-epoch cache: `epoch` started at `start_offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochEntry {
    /// The leader epoch.
    pub epoch: u32,
    /// The first offset written in that epoch.
    pub start_offset: u64,
}

/// One replica's copy of a partition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaLog {
    records: VecDeque<Record>,
    log_start_offset: u64,
    log_end_offset: u64,
    high_watermark: u64,
    epochs: Vec<EpochEntry>,
    /// Records below this offset are on disk (fsynced or written back by the operating system);
    /// the rest live only in the page cache and are lost if the machine crashes.
    #[serde(default)]
    flushed_offset: u64,
    /// How many times records were removed from the end, so that a checker can tell that a
    /// prefix it already compared may have changed.
    #[serde(default)]
    truncations: u64,
}

impl ReplicaLog {
    /// An empty log.
    pub fn new() -> ReplicaLog {
        ReplicaLog::default()
    }

    /// The first offset still held.
    pub fn log_start_offset(&self) -> u64 {
        self.log_start_offset
    }

    /// The offset the next appended record will get.
    pub fn log_end_offset(&self) -> u64 {
        self.log_end_offset
    }

    /// Records below this offset are committed and visible to consumers.
    pub fn high_watermark(&self) -> u64 {
        self.high_watermark
    }

    /// Records below this offset survive a machine crash; the rest are only in the page cache.
    pub fn flushed_offset(&self) -> u64 {
        self.flushed_offset
    }

    /// Makes every record durable (an fsync, the operating system's write-back, or the flush of
    /// a clean shutdown).
    pub fn flush(&mut self) {
        self.flushed_offset = self.log_end_offset;
    }

    /// A machine crash: the unflushed suffix is gone. Returns how many records were lost.
    pub fn lose_unflushed(&mut self) -> u64 {
        let before = self.log_end_offset;
        self.truncate_to(self.flushed_offset);
        before - self.log_end_offset
    }

    /// How many times the end of this log was cut off (truncation or crash).
    pub fn truncations(&self) -> u64 {
        self.truncations
    }

    /// The leader-epoch cache, oldest first.
    pub fn epochs(&self) -> &[EpochEntry] {
        &self.epochs
    }

    /// The records held, oldest first.
    pub fn records(&self) -> impl DoubleEndedIterator<Item = &Record> + ExactSizeIterator {
        self.records.iter()
    }

    /// The record at `offset`, if held.
    pub fn record_at(&self, offset: u64) -> Option<&Record> {
        let first = self.records.front()?.offset;
        let index = offset.checked_sub(first)? as usize;
        self.records.get(index).filter(|r| r.offset == offset)
    }

    /// The epoch of the newest entry of the epoch cache.
    pub fn latest_epoch(&self) -> Option<u32> {
        self.epochs.last().map(|e| e.epoch)
    }

    /// Kafka's `endOffsetFor(epoch)`: the largest epoch at or below `requested` and the offset at
    /// which it ended (the start of the next higher epoch, or the log end offset for the latest).
    /// `None` when every known epoch is above `requested`.
    pub fn end_offset_for_epoch(&self, requested: u32) -> Option<(u32, u64)> {
        let index = self.epochs.iter().rposition(|e| e.epoch <= requested)?;
        let end = self
            .epochs
            .get(index + 1)
            .map(|next| next.start_offset)
            .unwrap_or(self.log_end_offset);
        Some((self.epochs[index].epoch, end))
    }

    /// Records that a new leader epoch starts at the current log end offset. Called when this
    /// replica becomes leader, so that followers can find divergence even before it appends.
    pub fn begin_epoch(&mut self, epoch: u32) {
        if self.latest_epoch().is_none_or(|latest| epoch > latest) {
            // An epoch that starts where the previous one started left no records: drop the
            // empty one, as Kafka's cache assigns each start offset to one epoch.
            if self
                .epochs
                .last()
                .is_some_and(|e| e.start_offset == self.log_end_offset)
            {
                self.epochs.pop();
            }
            self.epochs.push(EpochEntry {
                epoch,
                start_offset: self.log_end_offset,
            });
        }
    }

    /// Appends a record at the log end offset, with the record's own epoch. The offset field of
    /// `record` is overwritten; returns the offset assigned.
    pub fn append(&mut self, mut record: Record) -> u64 {
        let offset = self.log_end_offset;
        record.offset = offset;
        self.begin_epoch(record.leader_epoch);
        self.records.push_back(record);
        self.log_end_offset += 1;
        self.apply_retention();
        offset
    }

    /// Discards every record at or above `offset` (a follower removing a diverged suffix).
    pub fn truncate_to(&mut self, offset: u64) {
        if offset >= self.log_end_offset {
            // Kafka's `UnifiedLog.truncateTo` trims the epoch cache even when no record goes: a
            // replica that became leader and was deposed before appending keeps an empty epoch
            // entry at its log end, which no other replica has. Left in place, the follower keeps
            // sending it as its last fetched epoch, the new leader never accepts its position,
            // and it can never rejoin the ISR.
            let end = self.log_end_offset;
            self.epochs.retain(|e| e.start_offset < end);
            return;
        }
        let offset = offset.max(self.log_start_offset);
        self.truncations += 1;
        while self.records.back().is_some_and(|r| r.offset >= offset) {
            self.records.pop_back();
        }
        self.log_end_offset = offset;
        self.epochs.retain(|e| e.start_offset < offset);
        self.high_watermark = self.high_watermark.min(offset);
        self.flushed_offset = self.flushed_offset.min(offset);
    }

    /// Empties the log and restarts it at `offset` (a follower whose fetch offset fell below the
    /// leader's log start offset).
    pub fn truncate_fully_and_start_at(&mut self, offset: u64) {
        self.truncations += 1;
        self.records.clear();
        self.epochs.clear();
        self.log_start_offset = offset;
        self.log_end_offset = offset;
        self.high_watermark = offset;
        self.flushed_offset = offset;
    }

    /// Sets the high watermark, clamped to `[log start, log end]` as `UnifiedLog` does. Returns
    /// whether it changed.
    pub fn set_high_watermark(&mut self, hw: u64) -> bool {
        let clamped = hw.clamp(self.log_start_offset, self.log_end_offset);
        let changed = clamped != self.high_watermark;
        self.high_watermark = clamped;
        if changed {
            self.apply_retention();
        }
        changed
    }

    /// Up to `max_records` records from `from`, stopping before `upto`.
    pub fn read(&self, from: u64, upto: u64, max_records: usize) -> Vec<Record> {
        let Some(first) = self.records.front().map(|r| r.offset) else {
            return Vec::new();
        };
        let start = from.saturating_sub(first) as usize;
        self.records
            .iter()
            .skip(start)
            .take_while(|r| r.offset < upto)
            .take(max_records)
            .cloned()
            .collect()
    }

    /// Drops the oldest committed records beyond [`MAX_RETAINED_RECORDS`].
    fn apply_retention(&mut self) {
        while self.records.len() > MAX_RETAINED_RECORDS
            && self
                .records
                .front()
                .is_some_and(|r| r.offset < self.high_watermark)
        {
            self.records.pop_front();
            self.log_start_offset = self
                .records
                .front()
                .map_or(self.log_end_offset, |r| r.offset);
        }
        // Epoch entries wholly below the log start are no longer needed, but the one covering the
        // log start must stay so that end_offset_for_epoch still answers for it.
        while self.epochs.len() > 1 && self.epochs[1].start_offset <= self.log_start_offset {
            self.epochs.remove(0);
        }
    }
}

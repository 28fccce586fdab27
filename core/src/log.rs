//! A replica's log: records with offsets, the log start offset, log end offset and high
//! watermark, and the leader-epoch cache used to find where two replicas' logs diverge
//! (KIP-101, KIP-279; `SEMANTICS.md` §3.5 and §6).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

mod chunks;
use chunks::RecordChunks;

/// Spare record lists, reused for produce requests and fetch responses.
///
/// Every produce request and every fetch response carries its records in a list of its own, and
/// allocating those lists was a large share of the simulator's allocations, the more so in the
/// browser, where the allocator is slower. A list whose records were appended to a log comes
/// back here empty and is handed out for the next request or response. Reuse changes no
/// behaviour: only where the records live in memory.
#[derive(Clone, Debug, Default)]
pub(crate) struct RecordBuffers {
    spare: Vec<Vec<Record>>,
}

impl RecordBuffers {
    /// Most spare lists kept.
    const MAX_SPARE: usize = 256;
    /// Lists that grew larger than this (a catch-up read) are let go rather than kept.
    const MAX_CAPACITY: usize = 1_024;

    /// An empty list, with room from an earlier use when there is one.
    pub(crate) fn take(&mut self) -> Vec<Record> {
        self.spare.pop().unwrap_or_default()
    }

    /// Takes back a list whose records were used (it is emptied here).
    pub(crate) fn give(&mut self, mut records: Vec<Record>) {
        let capacity = records.capacity();
        if capacity == 0 || capacity > Self::MAX_CAPACITY || self.spare.len() >= Self::MAX_SPARE {
            return;
        }
        records.clear();
        self.spare.push(records);
    }
}

/// A record's value, as text.
///
/// A simulated producer's values are numbered (`client-id-n`); they are kept as the two parts,
/// because formatting the text cost an allocation for every record produced, about a quarter of
/// all the simulator's allocations under load. Either way the value reads, compares, prints and
/// serializes as its text.
#[derive(Clone, Debug)]
pub enum RecordValue {
    /// Text stored as written (the group coordinator's records, scenario and test records).
    Text(Arc<str>),
    /// `prefix-n`.
    Numbered(Arc<str>, u64),
}

impl RecordValue {
    /// The value's text.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            RecordValue::Text(text) => Cow::Borrowed(text),
            RecordValue::Numbered(..) => Cow::Owned(self.to_string()),
        }
    }
}

impl fmt::Display for RecordValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordValue::Text(text) => f.write_str(text),
            RecordValue::Numbered(prefix, n) => write!(f, "{prefix}-{n}"),
        }
    }
}

impl PartialEq for RecordValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (RecordValue::Text(a), RecordValue::Text(b)) => a == b,
            (RecordValue::Numbered(a, m), RecordValue::Numbered(b, n)) => m == n && a == b,
            _ => self.text() == other.text(),
        }
    }
}

impl Eq for RecordValue {}

impl From<&str> for RecordValue {
    fn from(text: &str) -> Self {
        RecordValue::Text(Arc::from(text))
    }
}

impl From<String> for RecordValue {
    fn from(text: String) -> Self {
        RecordValue::Text(Arc::from(text))
    }
}

impl Serialize for RecordValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text())
    }
}

impl<'de> Deserialize<'de> for RecordValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(RecordValue::from(String::deserialize(deserializer)?))
    }
}

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
    /// The record key; `None` is Kafka's null key. Shared (`Arc`), because every fetch copies
    /// records to followers and consumers and a copy must not cost an allocation.
    pub key: Option<Arc<str>>,
    /// The record value. Values written by the simulator's producers are unique, so a history
    /// checker can follow each one.
    pub value: RecordValue,
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
    /// A tombstone: Kafka's null value, which deletes its key from a compacted topic.
    #[serde(default)]
    pub tombstone: bool,
}

/// One segment of a log: where it starts, how many bytes it holds, its largest record
/// timestamp, and (after a cleaning pass) when its tombstones may be dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// The offset of its first record (its file name in Kafka).
    pub base_offset: u64,
    /// Bytes of the records it holds.
    pub bytes: u64,
    /// The largest record timestamp in it, which time-based retention compares.
    pub max_timestamp_ms: u64,
}

/// The retention and compaction settings of one topic, resolved from its configs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogPolicy {
    /// `segment.bytes`.
    pub segment_bytes: u64,
    /// `retention.ms`, `None` for -1 (keep forever).
    pub retention_ms: Option<u64>,
    /// `retention.bytes`, `None` for -1.
    pub retention_bytes: Option<u64>,
    /// `cleanup.policy` contains `delete`.
    pub delete: bool,
    /// `cleanup.policy` contains `compact`.
    pub compact: bool,
    /// `delete.retention.ms`: how long tombstones survive a cleaning pass.
    pub delete_retention_ms: u64,
    /// `min.cleanable.dirty.ratio`, in per mille.
    pub min_cleanable_dirty_per_mille: u64,
}

impl Default for LogPolicy {
    fn default() -> Self {
        LogPolicy {
            segment_bytes: 1_073_741_824,
            retention_ms: Some(604_800_000),
            retention_bytes: None,
            delete: true,
            compact: false,
            delete_retention_ms: 86_400_000,
            min_cleanable_dirty_per_mille: 500,
        }
    }
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
    records: RecordChunks,
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
    /// The segments, oldest first; the last is the active one. Empty until the first append.
    #[serde(default)]
    segments: Vec<Segment>,
    /// Offsets below this were cleaned by compaction; the rest is dirty.
    #[serde(default)]
    cleaned_upto: u64,
    /// Tombstones below `.0` may be dropped from simulated time `.1` on (the delete horizon a
    /// cleaning pass records).
    #[serde(default)]
    tombstone_horizon: Option<(u64, u64)>,
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

    /// Flushes once `every` or more records are unflushed (`log.flush.interval.messages`).
    pub fn flush_if_due(&mut self, every: u64) {
        if self.log_end_offset - self.flushed_offset >= every {
            self.flush();
        }
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
        // Compaction leaves gaps, so the position of an offset is found by binary search.
        let index = self.records.partition_point(|r| r.offset < offset);
        self.records.get(index).filter(|r| r.offset == offset)
    }

    /// The segments, oldest first; the last is the active one.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Bytes held in all segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
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
        self.append_at(record, u64::MAX);
        offset
    }

    /// Appends a record at its own offset, which must be at or past the log end offset (a
    /// follower copying a compacted leader sees gaps). `segment_bytes` rolls a new segment when
    /// the active one would grow past it.
    pub fn append_at(&mut self, record: Record, segment_bytes: u64) {
        if record.offset < self.log_end_offset {
            return;
        }
        self.begin_epoch(record.leader_epoch);
        let size = u64::from(record.size_bytes);
        let roll = self
            .segments
            .last()
            .is_none_or(|s| s.bytes > 0 && s.bytes + size > segment_bytes);
        if roll {
            self.segments.push(Segment {
                base_offset: record.offset,
                bytes: 0,
                max_timestamp_ms: 0,
            });
        }
        if let Some(active) = self.segments.last_mut() {
            active.bytes += size;
            active.max_timestamp_ms = active.max_timestamp_ms.max(record.timestamp_ms);
        }
        self.log_end_offset = record.offset + 1;
        self.records.push_back(record);
        self.apply_retention();
    }

    /// Time- and size-based retention (`cleanup.policy` with `delete`): deletes the oldest
    /// segments while they are older than `retention.ms` or the log is over `retention.bytes`,
    /// only below the high watermark. Returns the new log start offset if it moved.
    pub fn delete_old_segments(&mut self, now_ms: u64, policy: &LogPolicy) -> Option<u64> {
        if !policy.delete {
            return None;
        }
        let before = self.log_start_offset;
        while let Some(first) = self.segments.first().copied() {
            let end = self
                .segments
                .get(1)
                .map_or(self.log_end_offset, |s| s.base_offset);
            if end > self.high_watermark || first.bytes == 0 {
                break;
            }
            let too_old = policy
                .retention_ms
                .is_some_and(|r| now_ms.saturating_sub(first.max_timestamp_ms) > r);
            let too_big = policy
                .retention_bytes
                .is_some_and(|r| self.size_bytes() - first.bytes >= r);
            if !(too_old || too_big) {
                break;
            }
            self.delete_below(end);
        }
        (self.log_start_offset != before).then_some(self.log_start_offset)
    }

    /// Moves the log start offset up to `offset` (at most the high watermark), deleting what is
    /// below: retention, or a follower following its leader's log start offset.
    pub fn delete_below(&mut self, offset: u64) {
        let offset = offset.min(self.high_watermark);
        if offset <= self.log_start_offset {
            return;
        }
        while self.records.front().is_some_and(|r| r.offset < offset) {
            self.records.pop_front();
        }
        self.log_start_offset = offset;
        while self.segments.len() > 1 && self.segments[1].base_offset <= offset {
            self.segments.remove(0);
        }
        if let Some(first) = self.segments.first_mut() {
            if first.base_offset < offset {
                // A partly deleted segment (a follower following the leader's start, or the
                // active segment): recount what it still holds.
                first.base_offset = offset;
                let next = self.segments.get(1).map_or(u64::MAX, |s| s.base_offset);
                let (bytes, ts) = self
                    .records
                    .iter()
                    .take_while(|r| r.offset < next)
                    .fold((0, 0), |(b, t), r| {
                        (b + u64::from(r.size_bytes), t.max(r.timestamp_ms))
                    });
                self.segments[0].bytes = bytes;
                self.segments[0].max_timestamp_ms = ts;
            }
        }
        while self.epochs.len() > 1 && self.epochs[1].start_offset <= self.log_start_offset {
            self.epochs.remove(0);
        }
    }

    /// One pass of the log cleaner (`cleanup.policy` with `compact`): in the cleanable range -
    /// from the log start up to the active segment and the high watermark - only the latest
    /// record of each key stays. Tombstones stay until `delete.retention.ms` after the pass that
    /// first cleaned them. Runs only when the dirty share reaches `min.cleanable.dirty.ratio`.
    /// Returns how many records were removed.
    pub fn clean(&mut self, now_ms: u64, policy: &LogPolicy) -> u64 {
        if !policy.compact {
            return 0;
        }
        let active_base = self
            .segments
            .last()
            .map_or(self.log_end_offset, |s| s.base_offset);
        let uncleanable = active_base.min(self.high_watermark);
        let (mut clean_bytes, mut dirty_bytes) = (0u64, 0u64);
        for r in self.records.iter().take_while(|r| r.offset < uncleanable) {
            if r.offset < self.cleaned_upto {
                clean_bytes += u64::from(r.size_bytes);
            } else {
                dirty_bytes += u64::from(r.size_bytes);
            }
        }
        let total = clean_bytes + dirty_bytes;
        let dirty_enough =
            dirty_bytes > 0 && dirty_bytes * 1_000 >= total * policy.min_cleanable_dirty_per_mille;
        // KIP-534: a log whose tombstones passed their delete horizon is cleaned even when it is
        // not dirty enough, so that deleted keys do disappear.
        let horizon_due = matches!(self.tombstone_horizon, Some((_, from)) if now_ms >= from);
        if !dirty_enough && !horizon_due {
            return 0;
        }
        // The latest offset of each key in the cleanable range (Kafka's offset map).
        let mut latest: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
        for r in self.records.iter().take_while(|r| r.offset < uncleanable) {
            if let Some(k) = r.key.as_deref() {
                latest.insert(k, r.offset);
            }
        }
        let drop_tombstones_below = match self.tombstone_horizon {
            Some((upto, from)) if now_ms >= from => upto,
            _ => 0,
        };
        let keep: Vec<bool> = self
            .records
            .iter()
            .map(|r| {
                if r.offset >= uncleanable {
                    return true;
                }
                let newest = r.key.as_deref().and_then(|k| latest.get(k)) == Some(&r.offset);
                newest && !(r.tombstone && r.offset < drop_tombstones_below)
            })
            .collect();
        let before = self.records.len();
        let mut flags = keep.into_iter();
        self.records.retain(|_| flags.next().unwrap_or(true));
        let removed = (before - self.records.len()) as u64;
        // Tombstones first cleaned in this pass may go delete.retention.ms from now.
        self.tombstone_horizon = if dirty_bytes > 0 {
            Some((uncleanable, now_ms + policy.delete_retention_ms))
        } else {
            None
        };
        self.cleaned_upto = uncleanable;
        self.recount_segments();
        removed
    }

    /// Recomputes each segment's bytes and largest timestamp from the records it holds.
    fn recount_segments(&mut self) {
        let bases: Vec<u64> = self.segments.iter().map(|s| s.base_offset).collect();
        for (i, seg) in self.segments.iter_mut().enumerate() {
            let next = bases.get(i + 1).copied().unwrap_or(u64::MAX);
            let (bytes, ts) = self
                .records
                .iter()
                .filter(|r| r.offset >= seg.base_offset && r.offset < next)
                .fold((0, 0), |(b, t), r| {
                    (b + u64::from(r.size_bytes), t.max(r.timestamp_ms))
                });
            seg.bytes = bytes;
            seg.max_timestamp_ms = ts;
        }
    }

    /// Discards every record at or above `offset` (a follower removing a diverged suffix).
    pub fn truncate_to(&mut self, offset: u64) {
        if offset >= self.log_end_offset {
            // Nothing to remove, but epochs that start at or after `offset` hold no records and
            // must go, as UnifiedLog.truncateTo does: otherwise a follower keeps announcing an
            // empty epoch the leader never had, and every fetch reports the same divergence
            // (found by trace T3 and by `kafka-sim check`).
            self.epochs.retain(|e| e.start_offset < offset);
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
        self.cleaned_upto = self.cleaned_upto.min(offset);
        self.segments.retain(|s| s.base_offset < offset);
        self.recount_segments();
    }

    /// Empties the log and restarts it at `offset` (a follower whose fetch offset fell below the
    /// leader's log start offset).
    pub fn truncate_fully_and_start_at(&mut self, offset: u64) {
        self.truncations += 1;
        self.segments.clear();
        self.cleaned_upto = offset;
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

    /// The index of the first record at or after `from`: with compaction's gaps that may be a
    /// later one.
    fn position(&self, from: u64) -> usize {
        // Every record held is below the log end offset, and fetches mostly ask for it.
        if from >= self.log_end_offset {
            return self.records.len();
        }
        self.records.position_of(from)
    }

    /// Whether a read from `from` stopping before `upto` would return any record.
    pub fn has_records(&self, from: u64, upto: u64) -> bool {
        from < self.log_end_offset
            && self
                .records
                .first_from(from)
                .is_some_and(|r| r.offset < upto)
    }

    /// Up to `max_records` records from `from`, stopping before `upto`.
    pub fn read(&self, from: u64, upto: u64, max_records: usize) -> Vec<Record> {
        let mut records = Vec::new();
        self.read_into(from, upto, max_records, &mut records);
        records
    }

    /// [`ReplicaLog::read`] into a list given, appending to what it holds.
    pub fn read_into(&self, from: u64, upto: u64, max_records: usize, out: &mut Vec<Record>) {
        let start = self.position(from);
        // Offsets grow along the log, so the records before `upto` end where `upto` would start.
        let end = self
            .position(upto)
            .max(start)
            .min(start.saturating_add(max_records));
        self.records.clone_range_into(start, end, out);
    }

    /// Drops the oldest committed records beyond [`MAX_RETAINED_RECORDS`].
    fn apply_retention(&mut self) {
        while self.records.len() > MAX_RETAINED_RECORDS
            && self
                .records
                .front()
                .is_some_and(|r| r.offset < self.high_watermark)
        {
            let dropped = self.records.pop_front();
            self.log_start_offset = self
                .records
                .front()
                .map_or(self.log_end_offset, |r| r.offset);
            if let (Some(r), Some(first)) = (dropped, self.segments.first_mut()) {
                first.bytes = first.bytes.saturating_sub(u64::from(r.size_bytes));
                first.base_offset = self.log_start_offset;
                if first.bytes == 0 && self.segments.len() > 1 {
                    self.segments.remove(0);
                }
            }
        }
        // Epoch entries wholly below the log start are no longer needed, but the one covering the
        // log start must stay so that end_offset_for_epoch still answers for it.
        while self.epochs.len() > 1 && self.epochs[1].start_offset <= self.log_start_offset {
            self.epochs.remove(0);
        }
    }
}

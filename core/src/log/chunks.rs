//! Where a replica's records live in memory: fixed-size chunks rather than one growing buffer.
//!
//! A log of one buffer copies every record it holds each time the buffer doubles. Under the
//! benchmark's load that copying was a twentieth of all the simulator's work, and each copy
//! walked through memory that no longer fit the cache. Chunks never move once filled: a new
//! record goes to the last chunk, or to a new one when that is full, and retention frees whole
//! chunks from the front. This changes no behaviour, only the memory layout, so the log keeps the
//! same order, offsets and serialized form.

use super::Record;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::VecDeque;
use std::fmt;

/// Records per chunk: about 100 KB of records, the room a log used to make at its first append.
pub(crate) const CHUNK: usize = 1_024;

/// A log's records, oldest first, in chunks of at most [`CHUNK`] records.
///
/// No chunk is empty. Chunks other than the last are usually full, but compaction and retention
/// may leave some partly filled, so a position is found by walking the chunks' lengths (a log
/// holds at most about ten chunks).
#[derive(Clone, Default)]
pub(crate) struct RecordChunks {
    chunks: VecDeque<VecDeque<Record>>,
    len: usize,
}

impl RecordChunks {
    /// How many records are held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The oldest record.
    pub(crate) fn front(&self) -> Option<&Record> {
        self.chunks.front().and_then(|c| c.front())
    }

    /// The newest record.
    pub(crate) fn back(&self) -> Option<&Record> {
        self.chunks.back().and_then(|c| c.back())
    }

    /// The chunk holding the record at `index`, and the record's index in it.
    fn locate(&self, mut index: usize) -> Option<(usize, usize)> {
        if index >= self.len {
            return None;
        }
        for (c, chunk) in self.chunks.iter().enumerate() {
            if index < chunk.len() {
                return Some((c, index));
            }
            index -= chunk.len();
        }
        None
    }

    /// The record at `index` (0 is the oldest).
    pub(crate) fn get(&self, index: usize) -> Option<&Record> {
        let (c, i) = self.locate(index)?;
        self.chunks[c].get(i)
    }

    /// Adds a record after the newest.
    pub(crate) fn push_back(&mut self, record: Record) {
        match self.chunks.back_mut() {
            Some(last) if last.len() < CHUNK => last.push_back(record),
            _ => {
                // The whole chunk is allocated at once, so that it never grows by copying.
                let mut chunk = VecDeque::with_capacity(CHUNK);
                chunk.push_back(record);
                self.chunks.push_back(chunk);
            }
        }
        self.len += 1;
    }

    /// Removes the oldest record.
    pub(crate) fn pop_front(&mut self) -> Option<Record> {
        let first = self.chunks.front_mut()?;
        let record = first.pop_front();
        if first.is_empty() {
            self.chunks.pop_front();
        }
        self.len -= 1;
        record
    }

    /// Removes the newest record.
    pub(crate) fn pop_back(&mut self) -> Option<Record> {
        let last = self.chunks.back_mut()?;
        let record = last.pop_back();
        if last.is_empty() {
            self.chunks.pop_back();
        }
        self.len -= 1;
        record
    }

    /// Removes every record.
    pub(crate) fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }

    /// The records, oldest first.
    pub(crate) fn iter(&self) -> Iter<'_> {
        Iter {
            inner: self.chunks.iter().flatten(),
            remaining: self.len,
        }
    }

    /// Keeps only the records for which `keep` is true, in order, then packs the survivors into
    /// full chunks again so that repeated cleaning does not leave many small ones.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&Record) -> bool) {
        let old = std::mem::take(self);
        for chunk in old.chunks {
            for record in chunk {
                if keep(&record) {
                    self.push_back(record);
                }
            }
        }
    }

    /// The number of records for which `before` holds, given that it holds for a prefix of the
    /// log (a binary search, as `VecDeque::partition_point`).
    pub(crate) fn partition_point(&self, mut before: impl FnMut(&Record) -> bool) -> usize {
        let mut skipped = 0;
        for chunk in &self.chunks {
            // A chunk whose newest record is still before the point is passed whole.
            if chunk.back().is_some_and(&mut before) {
                skipped += chunk.len();
                continue;
            }
            return skipped + chunk.partition_point(before);
        }
        skipped
    }

    /// The index of the first record at or after `offset` (the length when there is none).
    pub(crate) fn position_of(&self, offset: u64) -> usize {
        self.find(offset).map_or(self.len, |(_, _, index)| index)
    }

    /// The first record at or after `offset`.
    pub(crate) fn first_from(&self, offset: u64) -> Option<&Record> {
        let (c, i, _) = self.find(offset)?;
        self.chunks[c].get(i)
    }

    /// Where the first record at or after `offset` is: its chunk, its index in the chunk and its
    /// index in the log.
    ///
    /// Reads mostly ask for offsets near the log end, so the chunks are searched from the newest.
    /// Within a chunk without gaps the record sits at its distance from the chunk's first one;
    /// only a compacted chunk needs the binary search.
    fn find(&self, offset: u64) -> Option<(usize, usize, usize)> {
        let mut end = self.len;
        for (c, chunk) in self.chunks.iter().enumerate().rev() {
            let start = end - chunk.len();
            let first = chunk.front().map_or(0, |r| r.offset);
            if first <= offset {
                let guess = (offset - first) as usize;
                let i = if chunk.get(guess).is_some_and(|r| r.offset == offset) {
                    guess
                } else {
                    chunk.partition_point(|r| r.offset < offset)
                };
                // Past this chunk's newest record, the first one at or after is the next
                // chunk's first (or none).
                return if i < chunk.len() {
                    Some((c, i, start + i))
                } else if c + 1 < self.chunks.len() {
                    Some((c + 1, 0, end))
                } else {
                    None
                };
            }
            end = start;
        }
        (self.len > 0).then_some((0, 0, 0))
    }

    /// Appends clones of the records at indexes `start..end` to `out`.
    pub(crate) fn clone_range_into(&self, start: usize, end: usize, out: &mut Vec<Record>) {
        if start >= end {
            return;
        }
        let Some((mut c, mut i)) = self.locate(start) else {
            return;
        };
        let mut left = end.min(self.len) - start;
        out.reserve(left);
        while left > 0 {
            let chunk = &self.chunks[c];
            let take = left.min(chunk.len() - i);
            out.extend(chunk.range(i..i + take).cloned());
            left -= take;
            c += 1;
            i = 0;
        }
    }
}

/// An iterator over a log's records, oldest first, that knows how many are left.
pub(crate) struct Iter<'a> {
    inner: std::iter::Flatten<std::collections::vec_deque::Iter<'a, VecDeque<Record>>>,
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Record;

    fn next(&mut self) -> Option<&'a Record> {
        let record = self.inner.next()?;
        self.remaining -= 1;
        Some(record)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let record = self.inner.next_back()?;
        self.remaining -= 1;
        Some(record)
    }
}

impl ExactSizeIterator for Iter<'_> {}

// Equality, printing and the serialized form are those of the record sequence, whatever the
// chunks: the same log reads the same however its memory is laid out.

impl PartialEq for RecordChunks {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for RecordChunks {}

impl fmt::Debug for RecordChunks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for RecordChunks {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for RecordChunks {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let records = Vec::<Record>::deserialize(deserializer)?;
        let mut chunks = RecordChunks::default();
        for record in records {
            chunks.push_back(record);
        }
        Ok(chunks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(offset: u64) -> Record {
        Record {
            offset,
            leader_epoch: 0,
            timestamp_ms: 0,
            key: None,
            value: super::super::RecordValue::from(format!("v{offset}")),
            size_bytes: 1,
            producer_id: -1,
            producer_epoch: 0,
            sequence: -1,
            value_id: offset,
            tombstone: false,
        }
    }

    fn offsets(chunks: &RecordChunks) -> Vec<u64> {
        chunks.iter().map(|r| r.offset).collect()
    }

    /// A log of several chunks behaves as one list: reads across chunk boundaries, removal at
    /// both ends, and a search for a position, checked against a plain `VecDeque`.
    #[test]
    fn chunks_behave_as_one_list() {
        let mut chunks = RecordChunks::default();
        let mut model: VecDeque<u64> = VecDeque::new();
        for offset in 0..(3 * CHUNK as u64 + 17) {
            chunks.push_back(record(offset));
            model.push_back(offset);
        }
        for _ in 0..(CHUNK + 5) {
            assert_eq!(chunks.pop_front().map(|r| r.offset), model.pop_front());
        }
        for _ in 0..20 {
            assert_eq!(chunks.pop_back().map(|r| r.offset), model.pop_back());
        }
        assert_eq!(chunks.len(), model.len());
        assert_eq!(offsets(&chunks), Vec::from(model.clone()));
        assert_eq!(chunks.iter().len(), model.len());
        assert_eq!(
            chunks.iter().rev().map(|r| r.offset).collect::<Vec<_>>(),
            model.iter().rev().copied().collect::<Vec<_>>()
        );
        for index in [
            0,
            1,
            CHUNK - 6,
            CHUNK - 5,
            CHUNK,
            2 * CHUNK,
            model.len() - 1,
        ] {
            assert_eq!(
                chunks.get(index).map(|r| r.offset),
                model.get(index).copied()
            );
        }
        assert!(chunks.get(model.len()).is_none());
        for target in [
            0,
            CHUNK as u64 + 5,
            2 * CHUNK as u64,
            3 * CHUNK as u64,
            u64::MAX,
        ] {
            let expected = model.partition_point(|&o| o < target);
            assert_eq!(chunks.partition_point(|r| r.offset < target), expected);
            assert_eq!(chunks.position_of(target), expected);
            assert_eq!(
                chunks.first_from(target).map(|r| r.offset),
                model.get(expected).copied()
            );
        }
        // A range that crosses from the first chunk (1,019 records left) into the second.
        let (start, end) = (CHUNK - 100, 2 * CHUNK - 48);
        let mut out = Vec::new();
        chunks.clone_range_into(start, end, &mut out);
        let read: Vec<u64> = out.iter().map(|r| r.offset).collect();
        assert_eq!(read, model.range(start..end).copied().collect::<Vec<_>>());
    }

    /// Retaining repacks the survivors in order and keeps equality and the serialized form those
    /// of the record sequence.
    #[test]
    fn retain_repacks_and_equality_ignores_layout() {
        let mut chunks = RecordChunks::default();
        for offset in 0..(2 * CHUNK as u64 + 3) {
            chunks.push_back(record(offset));
        }
        chunks.retain(|r| r.offset % 3 == 0);
        let expected: Vec<u64> = (0..(2 * CHUNK as u64 + 3)).filter(|o| o % 3 == 0).collect();
        assert_eq!(offsets(&chunks), expected);
        assert_eq!(chunks.chunks.len(), 1, "683 survivors fit one chunk");
        // With gaps, a position is the first record at or after the offset asked for.
        assert_eq!(chunks.position_of(0), 0);
        assert_eq!(chunks.position_of(1), 1);
        assert_eq!(chunks.position_of(3), 1);
        assert_eq!(chunks.position_of(4), 2);
        assert_eq!(chunks.position_of(u64::MAX), expected.len());

        // The same records pushed fresh compare equal and serialize the same.
        let mut fresh = RecordChunks::default();
        for &offset in &expected {
            fresh.push_back(record(offset));
        }
        assert_eq!(chunks, fresh);
        let json = serde_json::to_string(&chunks).unwrap();
        assert_eq!(json, serde_json::to_string(&fresh).unwrap());
        let back: RecordChunks = serde_json::from_str(&json).unwrap();
        assert_eq!(back, chunks);
        fresh.pop_back();
        assert_ne!(chunks, fresh);
    }

    /// Emptying the last chunk removes it, so a full log that loses its newest records and takes
    /// new ones again never holds an empty chunk.
    #[test]
    fn no_empty_chunk_is_kept() {
        let mut chunks = RecordChunks::default();
        for offset in 0..(CHUNK as u64 + 1) {
            chunks.push_back(record(offset));
        }
        assert_eq!(chunks.chunks.len(), 2);
        chunks.pop_back();
        assert_eq!(chunks.chunks.len(), 1);
        chunks.push_back(record(CHUNK as u64));
        assert_eq!(chunks.chunks.len(), 2);
        while chunks.pop_front().is_some() {}
        assert_eq!(chunks.len(), 0);
        assert!(chunks.chunks.is_empty());
        assert!(chunks.front().is_none() && chunks.back().is_none());
    }
}

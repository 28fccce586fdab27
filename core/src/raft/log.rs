//! The replicated metadata log of one quorum member (Kafka's `ReplicatedLog` and
//! `KafkaMetadataLog`): entries with offsets and epochs, the flushed end offset, and the
//! leader-epoch cache used to find where two logs diverge (KIP-101, KIP-279, KIP-595).

use super::ReplicaId;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// An offset paired with the epoch of the entry just before it, as Kafka's `OffsetAndEpoch`.
///
/// Ordered by epoch first and offset second: this is the order KIP-595 uses to decide whether a
/// candidate's log is at least as up to date as a voter's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetAndEpoch {
    /// An end offset: the offset after the last entry considered.
    pub offset: u64,
    /// The epoch of the last entry considered; zero for an empty log.
    pub epoch: u32,
}

impl Ord for OffsetAndEpoch {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.epoch, self.offset).cmp(&(other.epoch, other.offset))
    }
}

impl PartialOrd for OffsetAndEpoch {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// What one log entry holds: a control record written by the quorum itself, or a record
/// proposed by the state machine above it (the controller's metadata records).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RaftRecord<R> {
    /// The `LeaderChange` control record a new leader appends at the start of its epoch. The
    /// high watermark cannot advance until an entry of the leader's own epoch is on a majority,
    /// so writing one at once lets the leader commit the previous epochs' entries without
    /// waiting for the first proposal.
    LeaderChange {
        /// The new leader.
        leader: ReplicaId,
        /// The voter set of the epoch.
        voters: Vec<ReplicaId>,
        /// The voters that granted the leader their vote.
        granting_voters: Vec<ReplicaId>,
    },
    /// A record proposed by the state machine.
    Data(R),
}

/// One entry of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry<R> {
    /// The entry's position; offsets start at zero and have no gaps (this log has no snapshots).
    pub offset: u64,
    /// The epoch of the leader that appended the entry.
    pub epoch: u32,
    /// The entry's content.
    pub record: RaftRecord<R>,
}

/// An entry of the leader-epoch cache: `epoch` started at `start_offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochStart {
    /// The epoch.
    pub epoch: u32,
    /// The offset of the first entry written in it.
    pub start_offset: u64,
}

/// A quorum member's copy of the metadata log.
///
/// Entries at or above [`RaftLog::flushed_end_offset`] are only in memory: a crash that loses
/// the page cache loses them. A voter flushes before it tells the leader how far it has
/// replicated, and the leader counts only its own flushed entries toward the high watermark, so
/// that a committed entry is always on the disks of a majority.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftLog<R> {
    entries: Vec<LogEntry<R>>,
    flushed_end: u64,
    epochs: Vec<EpochStart>,
}

impl<R> Default for RaftLog<R> {
    fn default() -> Self {
        RaftLog {
            entries: Vec::new(),
            flushed_end: 0,
            epochs: Vec::new(),
        }
    }
}

impl<R: Clone> RaftLog<R> {
    /// An empty log.
    pub fn new() -> RaftLog<R> {
        RaftLog::default()
    }

    /// The offset the next appended entry will get.
    pub fn end_offset(&self) -> u64 {
        self.entries.len() as u64
    }

    /// Entries below this offset are on disk.
    pub fn flushed_end_offset(&self) -> u64 {
        self.flushed_end
    }

    /// The epoch of the last entry, zero when the log is empty.
    pub fn last_epoch(&self) -> u32 {
        self.entries.last().map_or(0, |e| e.epoch)
    }

    /// The log end offset and the epoch of the last entry, as sent in Vote and Fetch requests.
    pub fn end_offset_and_epoch(&self) -> OffsetAndEpoch {
        OffsetAndEpoch {
            offset: self.end_offset(),
            epoch: self.last_epoch(),
        }
    }

    /// Every entry, in offset order (the entry at index `i` has offset `i`).
    pub fn entries(&self) -> &[LogEntry<R>] {
        &self.entries
    }

    /// The entry at `offset`, if the log has one.
    pub fn entry(&self, offset: u64) -> Option<&LogEntry<R>> {
        usize::try_from(offset)
            .ok()
            .and_then(|i| self.entries.get(i))
    }

    /// The leader-epoch cache, oldest first.
    pub fn epochs(&self) -> &[EpochStart] {
        &self.epochs
    }

    /// Appends `record` in `epoch` at the log end offset without flushing it; returns its offset.
    pub fn append(&mut self, epoch: u32, record: RaftRecord<R>) -> u64 {
        let offset = self.end_offset();
        debug_assert!(epoch >= self.last_epoch(), "epochs in a log never decrease");
        if self.epochs.last().is_none_or(|e| e.epoch < epoch) {
            self.epochs.push(EpochStart {
                epoch,
                start_offset: offset,
            });
        }
        self.entries.push(LogEntry {
            offset,
            epoch,
            record,
        });
        offset
    }

    /// Appends entries replicated from the leader. They must start at the log end offset;
    /// returns false (appending nothing) when they do not, which only a stale response can cause.
    pub fn append_replicated(&mut self, entries: Vec<LogEntry<R>>) -> bool {
        if entries
            .first()
            .is_some_and(|first| first.offset != self.end_offset())
        {
            return false;
        }
        for entry in entries {
            self.append(entry.epoch, entry.record);
        }
        true
    }

    /// Makes every entry durable (an fsync).
    pub fn flush(&mut self) {
        self.flushed_end = self.end_offset();
    }

    /// Discards every entry at or above `offset`.
    pub fn truncate_to(&mut self, offset: u64) {
        if offset >= self.end_offset() {
            return;
        }
        self.entries.truncate(offset as usize);
        self.epochs.retain(|e| e.start_offset < offset);
        self.flushed_end = self.flushed_end.min(offset);
    }

    /// Discards the entries that were never flushed (a crash that loses the page cache).
    pub fn drop_unflushed(&mut self) {
        self.truncate_to(self.flushed_end);
    }

    /// Kafka's `endOffsetForEpoch`: the largest epoch at or below `requested` and the offset at
    /// which it ends (the start of the next higher epoch, or the log end offset for the latest).
    /// When every epoch in the log is above `requested` the answer is offset zero in epoch zero,
    /// the point before the first entry.
    pub fn end_offset_for_epoch(&self, requested: u32) -> OffsetAndEpoch {
        let Some(index) = self.epochs.iter().rposition(|e| e.epoch <= requested) else {
            return OffsetAndEpoch {
                offset: 0,
                epoch: 0,
            };
        };
        let offset = self
            .epochs
            .get(index + 1)
            .map_or(self.end_offset(), |next| next.start_offset);
        OffsetAndEpoch {
            offset,
            epoch: self.epochs[index].epoch,
        }
    }

    /// Kafka's `validateOffsetAndEpoch`, run by the leader on a Fetch: whether the follower's
    /// log, ending at `fetch_offset` with an entry of `last_fetched_epoch`, is a prefix of this
    /// one. When it is not, the error holds the diverging epoch: the largest epoch at or below
    /// the follower's and where it ends here, down to which the follower must truncate.
    pub fn validate_offset_and_epoch(
        &self,
        fetch_offset: u64,
        last_fetched_epoch: u32,
    ) -> Result<(), OffsetAndEpoch> {
        if fetch_offset == 0 {
            return Ok(());
        }
        let end = self.end_offset_for_epoch(last_fetched_epoch);
        if end.epoch != last_fetched_epoch || end.offset < fetch_offset {
            Err(end)
        } else {
            Ok(())
        }
    }

    /// Kafka's `truncateToEndOffset`, run by a follower on a diverging-epoch answer: truncates
    /// to the end of the leader's diverging epoch in this log, and returns the new end offset.
    pub fn truncate_to_end_offset(&mut self, leader: OffsetAndEpoch) -> u64 {
        let offset = if leader.epoch == 0 {
            leader.offset.min(self.end_offset())
        } else {
            let local = self.end_offset_for_epoch(leader.epoch);
            if local.epoch == leader.epoch {
                local.offset.min(leader.offset)
            } else {
                // This log does not have the leader's epoch: cut back to the end of its own
                // largest lower epoch; the next Fetch checks again from there.
                local.offset
            }
        };
        self.truncate_to(offset);
        self.end_offset()
    }

    /// Up to `max` entries from `from`, stopping before `upto`.
    pub fn read(&self, from: u64, upto: u64, max: usize) -> Vec<LogEntry<R>> {
        let upto = upto.min(self.end_offset());
        if from >= upto {
            return Vec::new();
        }
        let count = ((upto - from) as usize).min(max);
        self.entries[from as usize..from as usize + count].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_with(epochs: &[u32]) -> RaftLog<u64> {
        let mut log = RaftLog::new();
        for (i, &e) in epochs.iter().enumerate() {
            log.append(e, RaftRecord::Data(i as u64));
        }
        log.flush();
        log
    }

    #[test]
    fn end_offset_for_epoch_uses_the_epoch_cache() {
        let log = log_with(&[1, 1, 3, 3, 3, 4]);
        assert_eq!(
            log.end_offset_for_epoch(0),
            OffsetAndEpoch {
                offset: 0,
                epoch: 0
            }
        );
        assert_eq!(
            log.end_offset_for_epoch(1),
            OffsetAndEpoch {
                offset: 2,
                epoch: 1
            }
        );
        assert_eq!(
            log.end_offset_for_epoch(2),
            OffsetAndEpoch {
                offset: 2,
                epoch: 1
            }
        );
        assert_eq!(
            log.end_offset_for_epoch(3),
            OffsetAndEpoch {
                offset: 5,
                epoch: 3
            }
        );
        assert_eq!(
            log.end_offset_for_epoch(9),
            OffsetAndEpoch {
                offset: 6,
                epoch: 4
            }
        );
    }

    #[test]
    fn a_diverged_follower_truncates_to_the_common_prefix() {
        let leader = log_with(&[1, 1, 3, 3]);
        let mut follower = log_with(&[1, 1, 2, 2, 2]);
        let diverging = leader
            .validate_offset_and_epoch(follower.end_offset(), follower.last_epoch())
            .unwrap_err();
        assert_eq!(
            diverging,
            OffsetAndEpoch {
                offset: 2,
                epoch: 1
            }
        );
        assert_eq!(follower.truncate_to_end_offset(diverging), 2);
        assert!(leader
            .validate_offset_and_epoch(follower.end_offset(), follower.last_epoch())
            .is_ok());
    }

    #[test]
    fn crash_loses_only_the_unflushed_suffix() {
        let mut log = log_with(&[1, 1]);
        log.append(1, RaftRecord::Data(7));
        assert_eq!((log.end_offset(), log.flushed_end_offset()), (3, 2));
        log.drop_unflushed();
        assert_eq!(log.end_offset(), 2);
        assert_eq!(log.epochs().len(), 1);
    }
}

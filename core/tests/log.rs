//! The log and its leader-epoch cache.

use kafka_sim::log::{LogPolicy, Record, ReplicaLog};

fn record(epoch: u32, value: &str) -> Record {
    Record {
        value_id: 0,
        tombstone: false,
        offset: 0,
        leader_epoch: epoch,
        timestamp_ms: 0,
        key: None,
        value: value.into(),
        size_bytes: 10,
        producer_id: -1,
        producer_epoch: 0,
        sequence: -1,
    }
}

#[test]
fn end_offset_for_epoch_follows_kip_279() {
    let mut log = ReplicaLog::new();
    log.append(record(1, "r1"));
    log.append(record(1, "r2"));
    log.begin_epoch(3);
    log.append(record(3, "r4"));
    // Epoch 2 is unknown here: the answer is the largest epoch below it and where it ended.
    assert_eq!(log.end_offset_for_epoch(2), Some((1, 2)));
    assert_eq!(log.end_offset_for_epoch(3), Some((3, 3)));
    assert_eq!(log.end_offset_for_epoch(0), None);
}

#[test]
fn truncation_drops_records_epochs_and_clamps_the_high_watermark() {
    let mut log = ReplicaLog::new();
    for i in 0..5 {
        log.append(record(if i < 3 { 0 } else { 2 }, &format!("v{i}")));
    }
    assert!(log.set_high_watermark(4));
    log.truncate_to(3);
    assert_eq!(log.log_end_offset(), 3);
    assert_eq!(log.high_watermark(), 3);
    assert_eq!(log.latest_epoch(), Some(0));
    assert!(log.record_at(3).is_none());
    assert_eq!(log.record_at(2).unwrap().value.text(), "v2");
}

#[test]
fn retention_keeps_memory_bounded_but_only_below_the_high_watermark() {
    let mut log = ReplicaLog::new();
    for i in 0..(kafka_sim::log::MAX_RETAINED_RECORDS + 50) {
        log.append(record(0, &format!("v{i}")));
    }
    assert_eq!(
        log.log_start_offset(),
        0,
        "nothing committed, nothing deleted"
    );
    log.set_high_watermark(log.log_end_offset());
    assert_eq!(log.records().len(), kafka_sim::log::MAX_RETAINED_RECORDS);
    assert_eq!(log.log_start_offset(), 50);
}

fn sized(key: &str, bytes: u32, ts: u64) -> Record {
    Record {
        key: Some(key.into()),
        size_bytes: bytes,
        timestamp_ms: ts,
        ..record(0, key)
    }
}

#[test]
fn segments_roll_at_segment_bytes_and_time_retention_deletes_whole_old_segments() {
    let mut log = ReplicaLog::new();
    for i in 0..10u64 {
        let mut r = sized("k", 400, i * 1_000);
        r.offset = log.log_end_offset();
        log.append_at(r, 1_000);
    }
    // Two 400-byte records fit in a 1,000-byte segment; the third rolls a new one.
    let bases: Vec<u64> = log.segments().iter().map(|s| s.base_offset).collect();
    assert_eq!(bases, vec![0, 2, 4, 6, 8]);
    log.set_high_watermark(10);
    let policy = LogPolicy {
        retention_ms: Some(5_500),
        ..LogPolicy::default()
    };
    // At 10 s, segments whose newest record is older than 5.5 s go: [0,2) (1 s) and [2,4) (3 s);
    // [4,6) holds a record from 5 s, only 5 s old, and stops the deletion.
    assert_eq!(log.delete_old_segments(10_000, &policy), Some(4));
    assert_eq!(log.log_start_offset(), 4);
    assert_eq!(log.records().next().map(|r| r.offset), Some(4));
}

#[test]
fn retention_never_deletes_past_the_high_watermark_and_size_retention_keeps_the_newest() {
    let mut log = ReplicaLog::new();
    for i in 0..8u64 {
        let mut r = sized("k", 500, i);
        r.offset = log.log_end_offset();
        log.append_at(r, 1_000);
    }
    let policy = LogPolicy {
        retention_ms: None,
        retention_bytes: Some(1_500),
        ..LogPolicy::default()
    };
    log.set_high_watermark(2);
    assert_eq!(log.delete_old_segments(0, &policy), Some(2));
    // Only the first segment ended at or below the HW.
    assert_eq!(log.log_start_offset(), 2);
    log.set_high_watermark(8);
    log.delete_old_segments(0, &policy);
    // 3,000 bytes left in 1,000-byte segments: delete while the total minus the oldest segment
    // is at least 1,500, which leaves two segments.
    assert_eq!(log.size_bytes(), 2_000);
    assert_eq!(log.log_start_offset(), 4);
}

#[test]
fn compaction_keeps_the_latest_record_per_key_outside_the_active_segment() {
    let mut log = ReplicaLog::new();
    for (i, key) in ["a", "b", "a", "c", "a", "b", "c", "a"].iter().enumerate() {
        let mut r = sized(key, 400, i as u64);
        r.offset = log.log_end_offset();
        log.append_at(r, 1_000);
    }
    log.set_high_watermark(8);
    let policy = LogPolicy {
        compact: true,
        delete: false,
        ..LogPolicy::default()
    };
    let removed = log.clean(0, &policy);
    // The active segment [6, 8) is untouched; below it only the last a (4), b (5) remain, and c
    // at 3 stays because its newer copy (6) is in the uncleanable active segment.
    let kept: Vec<u64> = log.records().map(|r| r.offset).collect();
    assert_eq!(kept, vec![3, 4, 5, 6, 7]);
    assert_eq!(removed, 3);
    // Reads skip the gaps: from offset 1 the next record is 3.
    assert_eq!(log.read(1, 8, 10).first().map(|r| r.offset), Some(3));
    assert_eq!(
        log.record_at(4).map(|r| r.key.clone()),
        Some(Some("a".into()))
    );
    assert!(log.record_at(2).is_none());
}

#[test]
fn tombstones_outlive_the_cleaning_pass_by_delete_retention_ms() {
    let mut log = ReplicaLog::new();
    for (key, tomb) in [("a", false), ("a", true), ("b", false), ("b", false)] {
        let mut r = sized(key, 600, 0);
        r.tombstone = tomb;
        r.offset = log.log_end_offset();
        log.append_at(r, 1_000);
    }
    log.set_high_watermark(4);
    let policy = LogPolicy {
        compact: true,
        delete: false,
        delete_retention_ms: 1_000,
        min_cleanable_dirty_per_mille: 0,
        ..LogPolicy::default()
    };
    log.clean(0, &policy);
    assert!(
        log.record_at(1).is_some_and(|r| r.tombstone),
        "the tombstone survives its first pass"
    );
    log.clean(500, &policy);
    assert!(
        log.record_at(1).is_some(),
        "still within delete.retention.ms"
    );
    log.clean(1_000, &policy);
    assert!(
        log.record_at(1).is_none(),
        "dropped once the delete horizon passed"
    );
}

/// Regression found by `kafka-sim check`: broker 1 led epoch 1 without appending, was
/// deposed, and followed the epoch-2 leader with an empty epoch-1 entry at its log end. The
/// leader's divergence answer (epoch 0 ends at 79) truncates nothing, and that must still drop the
/// empty entry, or the follower asks again with epoch 1 forever and never rejoins the ISR.
#[test]
fn truncating_at_the_log_end_drops_an_empty_trailing_epoch() {
    let mut log = ReplicaLog::new();
    log.append(record(0, "r0"));
    log.append(record(0, "r1"));
    log.begin_epoch(1);
    assert_eq!(log.latest_epoch(), Some(1));
    log.truncate_to(2);
    assert_eq!(log.latest_epoch(), Some(0));
    assert_eq!(log.log_end_offset(), 2);
    assert_eq!(log.end_offset_for_epoch(0), Some((0, 2)));
    // An epoch that holds records is kept by a truncation at the log end.
    log.append(record(3, "r2"));
    log.truncate_to(3);
    assert_eq!(log.latest_epoch(), Some(3));
    assert_eq!(log.log_end_offset(), 3);
}

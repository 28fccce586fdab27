//! The log and its leader-epoch cache.

use kafka_sim::log::{Record, ReplicaLog};

fn record(epoch: u32, value: &str) -> Record {
    Record {
        value_id: 0,
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
    assert_eq!(log.record_at(2).unwrap().value, "v2");
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

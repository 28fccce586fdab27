//! The history checker (`RELIABILITY.md` §A): for every anomaly kind, a history that must show it
//! and a near-identical one that must not.

use kafka_sim::history::{
    check, Anomaly, AnomalyKind, History, HistoryReport, Operation, SendOutcome, ValueId,
    DEFAULT_HISTORY_LIMIT,
};
use kafka_sim::metadata::TopicPartition;

fn tp(partition: u32) -> TopicPartition {
    TopicPartition::new("orders", partition)
}

/// Producer 1 sends `values[i]` to `partition`, acknowledged at offset `first + i`.
fn acked(history: &mut History, partition: u32, first: u64, values: &[ValueId]) {
    for (i, &value) in values.iter().enumerate() {
        history.record_send(
            1,
            tp(partition),
            value,
            SendOutcome::Ok {
                offset: first + i as u64,
            },
        );
    }
}

fn anomaly(kind: AnomalyKind, partition: u32, offsets: &[u64], values: &[ValueId]) -> Anomaly {
    Anomaly {
        kind,
        partition: tp(partition),
        offsets: offsets.to_vec(),
        values: values.to_vec(),
        client: None,
        elsewhere: Vec::new(),
        read_bound: None,
        drained: false,
        group: None,
        earlier_readers: Vec::new(),
        redelivered: 0,
    }
}

fn with_client(mut anomaly: Anomaly, client: u32) -> Anomaly {
    anomaly.client = Some(client);
    anomaly
}

fn lost_or_unseen(
    kind: AnomalyKind,
    partition: u32,
    offset: u64,
    value: ValueId,
    bound: Option<u64>,
    drained: bool,
) -> Anomaly {
    let mut anomaly = anomaly(kind, partition, &[offset], &[value]);
    anomaly.read_bound = bound;
    anomaly.drained = drained;
    anomaly
}

fn of_kind(report: &HistoryReport, kind: AnomalyKind) -> Vec<Anomaly> {
    report.of_kind(kind).cloned().collect()
}

#[test]
fn a_clean_history_has_no_anomalies() {
    let mut history = History::new();
    acked(&mut history, 0, 0, &[10, 11, 12]);
    acked(&mut history, 1, 0, &[20, 21]);
    history.record_send(2, tp(1), 22, SendOutcome::Fail);
    history.record_send(2, tp(1), 23, SendOutcome::Info);
    history.record_poll(7, tp(0), vec![(0, 10), (1, 11)]);
    history.record_poll(7, tp(1), vec![(0, 20)]);
    // An empty poll is not recorded and breaks nothing.
    history.record_poll(7, tp(0), vec![]);
    history.record_poll(7, tp(0), vec![(2, 12)]);
    history.record_poll(7, tp(1), vec![(1, 21)]);
    // A second consumer reading the same partition from the start is independent.
    history.record_poll(8, tp(0), vec![(0, 10), (1, 11), (2, 12)]);
    history.record_drain(tp(0), 0, vec![(0, 10), (1, 11), (2, 12)]);
    history.record_drain(tp(1), 0, vec![(0, 20), (1, 21)]);

    let report = check(&history);
    assert_eq!(report.anomalies, vec![]);
    assert!(report.is_valid());
    assert_eq!(report.acknowledged_sends, 5);
    assert_eq!(report.failed_sends, 1);
    assert_eq!(report.unknown_sends, 1);
    assert_eq!(report.distinct_values_read, 5);
    assert_eq!(report.operations, 14);
    assert!(!report.truncated);
}

#[test]
fn an_ack_and_a_poll_disagreeing_about_an_offset_is_inconsistent() {
    let mut history = History::new();
    acked(&mut history, 0, 0, &[10, 11]);
    history.record_send(2, tp(0), 12, SendOutcome::Info);
    // Offset 1 was acknowledged as 11, but the log now holds 12 there.
    history.record_poll(7, tp(0), vec![(0, 10), (1, 12)]);
    let report = check(&history);
    assert_eq!(
        of_kind(&report, AnomalyKind::InconsistentOffsets),
        vec![anomaly(
            AnomalyKind::InconsistentOffsets,
            0,
            &[1],
            &[11, 12]
        )]
    );
    // The acknowledged 11 is gone although the consumer read past it.
    assert_eq!(
        of_kind(&report, AnomalyKind::LostWrite),
        vec![lost_or_unseen(
            AnomalyKind::LostWrite,
            0,
            1,
            11,
            Some(1),
            false
        )]
    );
    assert_eq!(report.anomalies.len(), 2);
    assert!(report.anomalies[0]
        .explain()
        .contains("Offset 1 of orders-0"));

    // The same history where the poll agrees with the acknowledgement.
    let mut history = History::new();
    acked(&mut history, 0, 0, &[10, 11]);
    history.record_send(2, tp(0), 12, SendOutcome::Info);
    history.record_poll(7, tp(0), vec![(0, 10), (1, 11)]);
    assert_eq!(check(&history).anomalies, vec![]);
}

#[test]
fn two_polls_disagreeing_about_an_offset_is_inconsistent() {
    let mut history = History::new();
    history.record_send(1, tp(0), 10, SendOutcome::Info);
    history.record_send(2, tp(0), 20, SendOutcome::Info);
    history.record_poll(7, tp(0), vec![(0, 10)]);
    history.record_poll(8, tp(0), vec![(0, 20)]);
    let report = check(&history);
    assert_eq!(
        report.anomalies,
        vec![anomaly(
            AnomalyKind::InconsistentOffsets,
            0,
            &[0],
            &[10, 20]
        )]
    );

    // The same offset in two different partitions is no conflict.
    let mut history = History::new();
    history.record_send(1, tp(0), 10, SendOutcome::Info);
    history.record_send(2, tp(1), 20, SendOutcome::Info);
    history.record_poll(7, tp(0), vec![(0, 10)]);
    history.record_poll(8, tp(1), vec![(0, 20)]);
    assert_eq!(check(&history).anomalies, vec![]);
}

#[test]
fn one_value_at_two_offsets_is_a_duplicate() {
    let mut history = History::new();
    // A retried send without idempotence: written twice, acknowledged once (at the second).
    history.record_send(1, tp(0), 10, SendOutcome::Ok { offset: 1 });
    history.record_poll(7, tp(0), vec![(0, 10), (1, 10)]);
    let report = check(&history);
    assert_eq!(
        report.anomalies,
        vec![anomaly(AnomalyKind::Duplicate, 0, &[0, 1], &[10])]
    );
    assert!(report.anomalies[0]
        .explain()
        .contains("offset 0 of orders-0, offset 1 of orders-0"));

    // The same history with two distinct values.
    let mut history = History::new();
    history.record_send(1, tp(0), 9, SendOutcome::Ok { offset: 0 });
    history.record_send(1, tp(0), 10, SendOutcome::Ok { offset: 1 });
    history.record_poll(7, tp(0), vec![(0, 9), (1, 10)]);
    assert_eq!(check(&history).anomalies, vec![]);
}

#[test]
fn an_ack_at_one_offset_and_a_read_at_another_is_a_duplicate() {
    let mut history = History::new();
    history.record_send(1, tp(0), 10, SendOutcome::Ok { offset: 0 });
    history.record_send(1, tp(0), 11, SendOutcome::Info);
    // The consumer sees 10 at offset 1; offset 0 holds 11.
    history.record_poll(7, tp(0), vec![(0, 11), (1, 10)]);
    let report = check(&history);
    assert_eq!(
        of_kind(&report, AnomalyKind::Duplicate),
        vec![anomaly(AnomalyKind::Duplicate, 0, &[0, 1], &[10])]
    );
    assert_eq!(
        of_kind(&report, AnomalyKind::InconsistentOffsets),
        vec![anomaly(
            AnomalyKind::InconsistentOffsets,
            0,
            &[0],
            &[10, 11]
        )]
    );
    assert_eq!(report.anomalies.len(), 2);
}

#[test]
fn one_value_in_two_partitions_is_a_duplicate() {
    let mut history = History::new();
    history.record_send(1, tp(0), 10, SendOutcome::Ok { offset: 0 });
    history.record_poll(7, tp(0), vec![(0, 10)]);
    history.record_poll(7, tp(1), vec![(4, 10)]);
    let report = check(&history);
    let mut expected = anomaly(AnomalyKind::Duplicate, 0, &[0], &[10]);
    expected.elsewhere = vec![(tp(1), 4)];
    assert_eq!(report.anomalies, vec![expected]);
    assert!(report.anomalies[0]
        .explain()
        .contains("offset 0 of orders-0, offset 4 of orders-1"));

    // Reading it in its own partition only, twice, by two consumers, is fine.
    let mut history = History::new();
    history.record_send(1, tp(0), 10, SendOutcome::Ok { offset: 0 });
    history.record_poll(7, tp(0), vec![(0, 10)]);
    history.record_poll(8, tp(0), vec![(0, 10)]);
    assert_eq!(check(&history).anomalies, vec![]);
}

#[test]
fn an_acked_value_that_reads_went_past_is_lost() {
    let mut history = History::new();
    acked(&mut history, 0, 0, &[10, 11, 12]);
    history.record_poll(7, tp(0), vec![(0, 10)]);
    // After a rebalance the consumer starts at offset 2: no skip, but 11 at offset 1 was passed.
    history.record_rebalance(7);
    history.record_poll(7, tp(0), vec![(2, 12)]);
    let report = check(&history);
    assert_eq!(
        report.anomalies,
        vec![lost_or_unseen(
            AnomalyKind::LostWrite,
            0,
            1,
            11,
            Some(2),
            false
        )]
    );
    assert!(!report.is_valid());
    assert_eq!(
        report.anomalies[0].explain(),
        "Value 11 was acknowledged at offset 1 of orders-0, but no read ever saw it although \
         consumers read orders-0 up to offset 2: an acknowledged write was lost."
    );

    // The same, but 11 (from another producer, so that its place after 12 is no reordering)
    // was acknowledged above everything read: unseen, not lost.
    let mut history = History::new();
    acked(&mut history, 0, 0, &[10]);
    acked(&mut history, 0, 2, &[12]);
    history.record_send(2, tp(0), 11, SendOutcome::Ok { offset: 3 });
    history.record_poll(7, tp(0), vec![(0, 10)]);
    history.record_rebalance(7);
    history.record_poll(7, tp(0), vec![(2, 12)]);
    let report = check(&history);
    assert_eq!(
        report.anomalies,
        vec![lost_or_unseen(
            AnomalyKind::Unseen,
            0,
            3,
            11,
            Some(2),
            false
        )]
    );
    assert!(report.is_valid());
}

#[test]
fn an_acked_value_no_read_reached_is_unseen() {
    let mut history = History::new();
    acked(&mut history, 0, 0, &[10, 11]);
    acked(&mut history, 1, 0, &[20]);
    history.record_poll(7, tp(0), vec![(0, 10)]);
    let report = check(&history);
    assert_eq!(
        report.anomalies,
        vec![
            lost_or_unseen(AnomalyKind::Unseen, 0, 1, 11, Some(0), false),
            lost_or_unseen(AnomalyKind::Unseen, 1, 0, 20, None, false),
        ]
    );
    assert!(report.anomalies[1]
        .explain()
        .contains("no consumer read orders-1"));

    // The same history where the consumer keeps reading.
    let mut history = History::new();
    acked(&mut history, 0, 0, &[10, 11]);
    acked(&mut history, 1, 0, &[20]);
    history.record_poll(7, tp(0), vec![(0, 10)]);
    history.record_poll(7, tp(0), vec![(1, 11)]);
    history.record_poll(7, tp(1), vec![(0, 20)]);
    assert_eq!(check(&history).anomalies, vec![]);
}

#[test]
fn the_final_drain_turns_unseen_into_lost_or_seen() {
    let unseen = || {
        let mut history = History::new();
        acked(&mut history, 0, 0, &[10, 11, 12]);
        history.record_poll(7, tp(0), vec![(0, 10)]);
        history
    };
    let before = check(&unseen());
    assert_eq!(
        before.anomalies,
        vec![
            lost_or_unseen(AnomalyKind::Unseen, 0, 1, 11, Some(0), false),
            lost_or_unseen(AnomalyKind::Unseen, 0, 2, 12, Some(0), false),
        ]
    );

    // The drain finds 12 but not 11: 11 is lost, 12 is seen.
    let mut history = unseen();
    history.record_drain(tp(0), 0, vec![(0, 10), (1, 12)]);
    let report = check(&history);
    assert_eq!(
        of_kind(&report, AnomalyKind::LostWrite),
        vec![lost_or_unseen(
            AnomalyKind::LostWrite,
            0,
            1,
            11,
            Some(0),
            true
        )]
    );
    assert_eq!(report.count(AnomalyKind::Unseen), 0);
    assert!(of_kind(&report, AnomalyKind::LostWrite)[0]
        .explain()
        .contains("the final drain of orders-0 did not find it"));
    // 12 acknowledged at 2 but drained at 1: the log disagrees with the acknowledgement.
    assert_eq!(
        of_kind(&report, AnomalyKind::Duplicate),
        vec![anomaly(AnomalyKind::Duplicate, 0, &[1, 2], &[12])]
    );
    assert_eq!(
        of_kind(&report, AnomalyKind::InconsistentOffsets),
        vec![anomaly(
            AnomalyKind::InconsistentOffsets,
            0,
            &[1],
            &[11, 12]
        )]
    );
    assert_eq!(report.anomalies.len(), 3);

    // The drain finds everything: nothing left to report.
    let mut history = unseen();
    history.record_drain(tp(0), 0, vec![(0, 10), (1, 11), (2, 12)]);
    assert_eq!(check(&history).anomalies, vec![]);

    // Retention removed offsets below 2 before the drain: the drain says nothing about 11.
    let mut history = unseen();
    history.record_drain(tp(0), 2, vec![(2, 12)]);
    assert_eq!(
        check(&history).anomalies,
        vec![lost_or_unseen(
            AnomalyKind::Unseen,
            0,
            1,
            11,
            Some(0),
            false
        )]
    );

    // A drain of another partition does not settle this one.
    let mut history = unseen();
    history.record_drain(tp(1), 0, vec![]);
    assert_eq!(check(&history).anomalies, before.anomalies);
}

#[test]
fn reading_a_definitely_failed_send_is_an_aborted_read() {
    let mut history = History::new();
    history.record_send(1, tp(0), 10, SendOutcome::Fail);
    history.record_poll(7, tp(0), vec![(0, 10)]);
    history.record_drain(tp(0), 0, vec![(0, 10)]);
    let report = check(&history);
    assert_eq!(
        report.anomalies,
        vec![with_client(
            anomaly(AnomalyKind::AbortedRead, 0, &[0], &[10]),
            7
        )]
    );
    assert!(report.anomalies[0]
        .explain()
        .starts_with("Consumer 7 read value 10"));
    assert_eq!(report.failed_sends, 1);

    // The same history where the outcome was unknown: reading it is fine.
    let mut history = History::new();
    history.record_send(1, tp(0), 10, SendOutcome::Info);
    history.record_poll(7, tp(0), vec![(0, 10)]);
    history.record_drain(tp(0), 0, vec![(0, 10)]);
    assert_eq!(check(&history).anomalies, vec![]);

    // A failed send nobody reads is no anomaly either, even after a drain.
    let mut history = History::new();
    history.record_send(1, tp(0), 10, SendOutcome::Fail);
    history.record_drain(tp(0), 0, vec![]);
    assert_eq!(check(&history).anomalies, vec![]);
}

#[test]
fn the_final_drain_reading_a_failed_send_is_an_aborted_read() {
    let mut history = History::new();
    history.record_send(1, tp(0), 10, SendOutcome::Fail);
    history.record_drain(tp(0), 0, vec![(0, 10)]);
    let report = check(&history);
    assert_eq!(
        report.anomalies,
        vec![anomaly(AnomalyKind::AbortedRead, 0, &[0], &[10])]
    );
    assert!(report.anomalies[0]
        .explain()
        .starts_with("The final drain read value 10"));
}

/// Offsets 0..4 hold values 10..14; consumer 8 reads them all so that nothing is lost.
fn five_acked() -> History {
    let mut history = History::new();
    acked(&mut history, 0, 0, &[10, 11, 12, 13, 14]);
    history.record_poll(8, tp(0), vec![(0, 10), (1, 11), (2, 12), (3, 13), (4, 14)]);
    history
}

#[test]
fn a_consumer_jumping_forward_between_polls_is_a_poll_skip() {
    let mut history = five_acked();
    history.record_poll(7, tp(0), vec![(0, 10), (1, 11)]);
    history.record_poll(7, tp(0), vec![(3, 13), (4, 14)]);
    let report = check(&history);
    assert_eq!(
        report.anomalies,
        vec![with_client(
            anomaly(AnomalyKind::PollSkip, 0, &[1, 3], &[11, 13]),
            7
        )]
    );
    assert_eq!(
        report.anomalies[0].explain(),
        "Consumer 7 read offset 1 of orders-0 (value 11) and next offset 3 (value 13), skipping \
         1 offset(s) with no rebalance in between."
    );

    // The same with a rebalance in between: allowed.
    let mut history = five_acked();
    history.record_poll(7, tp(0), vec![(0, 10), (1, 11)]);
    history.record_rebalance(7);
    history.record_poll(7, tp(0), vec![(3, 13), (4, 14)]);
    assert_eq!(check(&history).anomalies, vec![]);

    // A rebalance of another consumer does not excuse consumer 7.
    let mut history = five_acked();
    history.record_poll(7, tp(0), vec![(0, 10), (1, 11)]);
    history.record_rebalance(8);
    history.record_poll(7, tp(0), vec![(3, 13), (4, 14)]);
    assert_eq!(check(&history).count(AnomalyKind::PollSkip), 1);

    // A seek in the partition excuses it; an assignment that keeps the partition does not;
    // one that drops it does.
    let mut history = five_acked();
    history.record_poll(7, tp(0), vec![(0, 10), (1, 11)]);
    history.record_seek(7, tp(0), 3);
    history.record_poll(7, tp(0), vec![(3, 13), (4, 14)]);
    assert_eq!(check(&history).anomalies, vec![]);

    let mut history = five_acked();
    history.record_poll(7, tp(0), vec![(0, 10), (1, 11)]);
    history.record_assign(7, vec![tp(0), tp(1)]);
    history.record_poll(7, tp(0), vec![(3, 13), (4, 14)]);
    assert_eq!(check(&history).count(AnomalyKind::PollSkip), 1);

    let mut history = five_acked();
    history.record_poll(7, tp(0), vec![(0, 10), (1, 11)]);
    history.record_assign(7, vec![tp(1)]);
    history.record_poll(7, tp(0), vec![(3, 13), (4, 14)]);
    assert_eq!(check(&history).anomalies, vec![]);

    // Successive polls of different partitions are not compared with each other.
    let mut history = five_acked();
    acked(&mut history, 1, 0, &[20]);
    history.record_poll(7, tp(0), vec![(0, 10), (1, 11)]);
    history.record_poll(7, tp(1), vec![(0, 20)]);
    history.record_poll(7, tp(0), vec![(2, 12)]);
    assert_eq!(check(&history).anomalies, vec![]);
}

#[test]
fn a_gap_inside_one_poll_is_a_poll_skip() {
    let mut history = five_acked();
    history.record_poll(7, tp(0), vec![(0, 10), (2, 12)]);
    assert_eq!(
        check(&history).anomalies,
        vec![with_client(
            anomaly(AnomalyKind::PollSkip, 0, &[0, 2], &[10, 12]),
            7
        )]
    );

    let mut history = five_acked();
    history.record_poll(7, tp(0), vec![(0, 10), (1, 11), (2, 12)]);
    assert_eq!(check(&history).anomalies, vec![]);
}

#[test]
fn a_consumer_going_back_between_polls_is_a_nonmonotonic_poll() {
    let mut history = five_acked();
    history.record_poll(7, tp(0), vec![(0, 10), (1, 11), (2, 12)]);
    history.record_poll(7, tp(0), vec![(1, 11), (2, 12), (3, 13)]);
    let report = check(&history);
    assert_eq!(
        report.anomalies,
        vec![with_client(
            anomaly(AnomalyKind::NonmonotonicPoll, 0, &[2, 1], &[12, 11]),
            7
        )]
    );
    assert!(report.anomalies[0].explain().contains("going back"));

    // Repeating the last offset is nonmonotonic too.
    let mut history = five_acked();
    history.record_poll(7, tp(0), vec![(0, 10), (1, 11)]);
    history.record_poll(7, tp(0), vec![(1, 11)]);
    assert_eq!(
        check(&history).anomalies,
        vec![with_client(
            anomaly(AnomalyKind::NonmonotonicPoll, 0, &[1, 1], &[11, 11]),
            7
        )]
    );

    // The same with a rebalance in between: allowed (the consumer resumed from a commit).
    let mut history = five_acked();
    history.record_poll(7, tp(0), vec![(0, 10), (1, 11), (2, 12)]);
    history.record_rebalance(7);
    history.record_poll(7, tp(0), vec![(1, 11), (2, 12), (3, 13)]);
    assert_eq!(check(&history).anomalies, vec![]);
}

#[test]
fn records_out_of_order_inside_one_poll_are_nonmonotonic() {
    let mut history = five_acked();
    history.record_poll(7, tp(0), vec![(1, 11), (0, 10)]);
    assert_eq!(
        check(&history).anomalies,
        vec![with_client(
            anomaly(AnomalyKind::NonmonotonicPoll, 0, &[1, 0], &[11, 10]),
            7
        )]
    );

    let mut history = five_acked();
    history.record_poll(7, tp(0), vec![(0, 10), (1, 11)]);
    assert_eq!(check(&history).anomalies, vec![]);
}

#[test]
fn a_producer_landing_at_or_before_its_earlier_send_is_nonmonotonic() {
    let mut history = History::new();
    history.record_send(1, tp(0), 10, SendOutcome::Ok { offset: 5 });
    history.record_send(1, tp(0), 11, SendOutcome::Ok { offset: 3 });
    // Still at or below 5: reported against the highest earlier send.
    history.record_send(1, tp(0), 12, SendOutcome::Ok { offset: 5 });
    // Past it: fine again.
    history.record_send(1, tp(0), 13, SendOutcome::Ok { offset: 6 });
    let report = check(&history);
    assert_eq!(
        of_kind(&report, AnomalyKind::NonmonotonicSend),
        vec![
            with_client(
                anomaly(AnomalyKind::NonmonotonicSend, 0, &[5, 3], &[10, 11]),
                1
            ),
            with_client(
                anomaly(AnomalyKind::NonmonotonicSend, 0, &[5, 5], &[10, 12]),
                1
            ),
        ]
    );
    assert_eq!(
        of_kind(&report, AnomalyKind::NonmonotonicSend)[0].explain(),
        "Producer 1's send of value 11 was acknowledged at offset 3 of orders-0, not after offset \
         5 where its earlier send of value 10 landed."
    );
    // Two values acknowledged at offset 5 are also inconsistent offsets.
    assert_eq!(
        of_kind(&report, AnomalyKind::InconsistentOffsets),
        vec![anomaly(
            AnomalyKind::InconsistentOffsets,
            0,
            &[5],
            &[10, 12]
        )]
    );

    // The same sends by two producers, or to two partitions, are fine.
    let mut history = History::new();
    history.record_send(1, tp(0), 10, SendOutcome::Ok { offset: 5 });
    history.record_send(2, tp(0), 11, SendOutcome::Ok { offset: 3 });
    history.record_send(1, tp(1), 12, SendOutcome::Ok { offset: 3 });
    let report = check(&history);
    assert_eq!(report.count(AnomalyKind::NonmonotonicSend), 0);

    // Later is send order, not the order acknowledgements arrive in: a pipelined producer may
    // learn of its later send first (as after a leader change), and that is fine...
    let mut history = History::new();
    history.record_send(1, tp(0), 21, SendOutcome::Ok { offset: 8 });
    history.record_send(1, tp(0), 20, SendOutcome::Ok { offset: 7 });
    assert_eq!(check(&history).count(AnomalyKind::NonmonotonicSend), 0);
    // ...while a retried earlier send landing after a later one is the reordering idempotence
    // prevents, although its acknowledgement came last.
    let mut history = History::new();
    history.record_send(1, tp(0), 21, SendOutcome::Ok { offset: 7 });
    history.record_send(1, tp(0), 20, SendOutcome::Ok { offset: 8 });
    assert_eq!(
        of_kind(&check(&history), AnomalyKind::NonmonotonicSend),
        vec![with_client(
            anomaly(AnomalyKind::NonmonotonicSend, 0, &[8, 7], &[20, 21]),
            1
        )]
    );

    // Failed and unknown sends have no offset and are not compared.
    let mut history = History::new();
    history.record_send(1, tp(0), 10, SendOutcome::Ok { offset: 5 });
    history.record_send(1, tp(0), 11, SendOutcome::Fail);
    history.record_send(1, tp(0), 12, SendOutcome::Info);
    history.record_send(1, tp(0), 13, SendOutcome::Ok { offset: 6 });
    assert_eq!(check(&history).count(AnomalyKind::NonmonotonicSend), 0);
}

#[test]
fn anomalies_are_sorted_by_kind_then_partition() {
    let mut history = History::new();
    // A nonmonotonic send in partition 0, lost and unseen values in partitions 1 and 0.
    history.record_send(1, tp(0), 10, SendOutcome::Ok { offset: 5 });
    history.record_send(1, tp(0), 11, SendOutcome::Ok { offset: 4 });
    acked(&mut history, 1, 0, &[20, 21]);
    history.record_poll(7, tp(1), vec![(1, 21)]);
    let report = check(&history);
    let kinds: Vec<(AnomalyKind, u32)> = report
        .anomalies
        .iter()
        .map(|a| (a.kind, a.partition.partition))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (AnomalyKind::LostWrite, 1),
            (AnomalyKind::Unseen, 0),
            (AnomalyKind::Unseen, 0),
            (AnomalyKind::NonmonotonicSend, 0),
        ]
    );
    assert_eq!(report.anomalies[1].offsets, vec![4]);
    assert_eq!(report.anomalies[2].offsets, vec![5]);
    // Checking twice gives the same report.
    assert_eq!(check(&history), report);
}

#[test]
fn the_bound_stops_recording_and_sets_truncated() {
    let mut history = History::with_limit(6);
    acked(&mut history, 0, 0, &[10, 11, 12]);
    // Weight 3: one for the poll and one per record, so it fits exactly.
    history.record_poll(7, tp(0), vec![(0, 10), (1, 11)]);
    assert_eq!(history.len(), 4);
    assert!(!history.truncated());
    // Anything more is dropped, and so is everything after it, even if small.
    history.record_poll(7, tp(0), vec![(2, 12)]);
    assert!(history.truncated());
    assert!(!history.record(Operation::Rebalance { consumer: 7 }));
    assert_eq!(history.len(), 4);
    let report = check(&history);
    assert!(report.truncated);
    assert_eq!(report.operations, 4);
    // The kept prefix is judged as the run up to that moment.
    assert_eq!(
        report.anomalies,
        vec![lost_or_unseen(
            AnomalyKind::Unseen,
            0,
            2,
            12,
            Some(1),
            false
        )]
    );

    // The default bound holds without panicking.
    let mut history = History::new();
    assert_eq!(history.limit(), DEFAULT_HISTORY_LIMIT);
    for value in 0..=DEFAULT_HISTORY_LIMIT as u64 {
        history.record_send(1, tp(0), value, SendOutcome::Info);
    }
    assert!(history.truncated());
    assert_eq!(history.len(), DEFAULT_HISTORY_LIMIT);
    assert_eq!(check(&history).unknown_sends, DEFAULT_HISTORY_LIMIT as u64);

    // An untruncated history says so.
    assert!(!check(&five_acked()).truncated);
}

#[test]
fn a_history_and_its_report_round_trip_through_json() {
    let mut history = five_acked();
    history.record_send(2, tp(1), 30, SendOutcome::Fail);
    history.record_poll(7, tp(0), vec![(0, 10), (2, 12)]);
    history.record_rebalance(7);
    history.record_assign(7, vec![tp(0)]);
    history.record_seek(7, tp(0), 0);
    // A member of a group reads a record another member had read: a duplicate delivery, whose
    // group and readers must survive the round trip too.
    history.record_subscribe(8, "billing");
    history.record_subscribe(9, "billing");
    history.record_poll(8, tp(0), vec![(0, 10)]);
    history.record_poll(9, tp(0), vec![(0, 10)]);
    history.record_drain(tp(0), 0, vec![(0, 10), (1, 11)]);
    let json = serde_json::to_string(&history).unwrap();
    let back: History = serde_json::from_str(&json).unwrap();
    assert_eq!(back, history);
    let report = check(&history);
    assert_eq!(report.count(AnomalyKind::DuplicateDelivery), 1);
    let json = serde_json::to_string(&report).unwrap();
    let back: HistoryReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
    assert_eq!(history.check(), report);
}

#[test]
fn every_kind_has_a_name_and_an_explanation() {
    for kind in AnomalyKind::ALL {
        let a = anomaly(kind, 0, &[1, 2], &[10, 11]);
        let text = a.explain();
        assert!(text.ends_with('.'), "{text}");
        assert!(text.contains("orders-0"), "{text}");
        assert!(a.to_string().starts_with(kind.name()));
    }
    assert_eq!(AnomalyKind::LostWrite.name(), "lost-write");
    assert_eq!(AnomalyKind::DuplicateDelivery.name(), "duplicate-delivery");
    assert!(!AnomalyKind::Unseen.is_error());
    // At-least-once delivery is what Kafka promises by default: reported, but no violation.
    assert!(!AnomalyKind::DuplicateDelivery.is_error());
    assert!(AnomalyKind::Duplicate.is_error());
}

/// Consumers 7 and 8 subscribe to group `billing`; producer 1's values 10 to 15 are at offsets
/// 0 to 5 of orders-0, and 7 reads offsets 0 to 4.
fn billing_reads_up_to_4() -> History {
    let mut history = History::new();
    history.record_subscribe(7, "billing");
    history.record_subscribe(8, "billing");
    acked(&mut history, 0, 0, &[10, 11, 12, 13, 14, 15]);
    history.record_poll(7, tp(0), vec![(0, 10), (1, 11), (2, 12)]);
    history.record_poll(7, tp(0), vec![(3, 13), (4, 14)]);
    history.record_rebalance(7);
    history
}

fn delivery(
    partition: u32,
    offsets: [u64; 2],
    values: [ValueId; 2],
    client: u32,
    earlier: &[u32],
    redelivered: u64,
) -> Anomaly {
    let mut a = with_client(
        anomaly(AnomalyKind::DuplicateDelivery, partition, &offsets, &values),
        client,
    );
    a.group = Some("billing".to_string());
    a.earlier_readers = earlier.to_vec();
    a.redelivered = redelivered;
    a
}

#[test]
fn a_new_owner_reading_from_an_older_commit_is_a_duplicate_delivery() {
    let mut history = billing_reads_up_to_4();
    // The partition moves to 8, which starts at the last committed offset, 2: offsets 2 to 4
    // are delivered to the group a second time, then 5 is new.
    history.record_rebalance(8);
    history.record_poll(8, tp(0), vec![(2, 12), (3, 13)]);
    history.record_poll(8, tp(0), vec![(4, 14), (5, 15)]);
    history.record_drain(
        tp(0),
        0,
        vec![(0, 10), (1, 11), (2, 12), (3, 13), (4, 14), (5, 15)],
    );
    let report = check(&history);
    assert_eq!(
        report.anomalies,
        vec![delivery(0, [2, 4], [12, 14], 8, &[7], 3)]
    );
    // It is at-least-once delivery, not a fault: the history is still valid.
    assert!(report.is_valid());
    let text = report.anomalies[0].explain_named(&|v| format!("v{v}"), &|c| format!("c{c}"));
    for part in [
        "Group billing",
        "3 record(s)",
        "consumer c8",
        "consumer c7",
        "offsets 2 to 4 of orders-0",
        "v12",
        "v14",
        "at-least-once",
    ] {
        assert!(text.contains(part), "{part} missing from: {text}");
    }
    // Without the consumer names the numbers stand in, as for the other kinds.
    assert!(report.anomalies[0].explain().contains("consumer 8"));
}

#[test]
fn a_member_reading_its_own_records_again_after_a_restart_is_a_duplicate_delivery() {
    let mut history = billing_reads_up_to_4();
    // 7 restarts (recorded as a rebalance) and starts at the committed offset 3.
    history.record_poll(7, tp(0), vec![(3, 13), (4, 14), (5, 15)]);
    let report = check(&history);
    assert_eq!(
        of_kind(&report, AnomalyKind::DuplicateDelivery),
        vec![delivery(0, [3, 4], [13, 14], 7, &[7], 2)]
    );
    assert!(report.anomalies[0].explain().contains("it itself"));
    // A single record read again is one anomaly too.
    let mut history = billing_reads_up_to_4();
    history.record_poll(7, tp(0), vec![(4, 14), (5, 15)]);
    let found = of_kind(&check(&history), AnomalyKind::DuplicateDelivery);
    assert_eq!(found, vec![delivery(0, [4, 4], [14, 14], 7, &[7], 1)]);
    assert!(found[0]
        .explain()
        .contains("offset 4 of orders-0 (value 14)"));
}

#[test]
fn a_commit_that_covered_every_read_leaves_nothing_to_deliver_twice() {
    let mut history = billing_reads_up_to_4();
    // 7 committed offset 5 before giving the partition up; 8 starts there.
    history.record_rebalance(8);
    history.record_poll(8, tp(0), vec![(5, 15)]);
    assert_eq!(check(&history).count(AnomalyKind::DuplicateDelivery), 0);
}

#[test]
fn a_consumer_in_assign_mode_reading_again_after_a_seek_is_no_duplicate_delivery() {
    // Consumer 3 never subscribes: it assigned itself the partition, and seeking back is its
    // application's own choice.
    let reads = |history: &mut History| {
        acked(history, 0, 0, &[10, 11, 12]);
        history.record_assign(3, vec![tp(0)]);
        history.record_poll(3, tp(0), vec![(0, 10), (1, 11), (2, 12)]);
        history.record_seek(3, tp(0), 0);
        history.record_poll(3, tp(0), vec![(0, 10), (1, 11), (2, 12)]);
    };
    let mut history = History::new();
    reads(&mut history);
    let report = check(&history);
    assert_eq!(report.anomalies, vec![]);
    // The same reads by a member of a group are the group's records delivered twice.
    let mut history = History::new();
    history.record_subscribe(3, "billing");
    reads(&mut history);
    assert_eq!(
        of_kind(&check(&history), AnomalyKind::DuplicateDelivery),
        vec![delivery(0, [0, 2], [10, 12], 3, &[3], 3)]
    );
}

#[test]
fn two_groups_reading_the_same_partition_is_no_duplicate_delivery() {
    let reads = |second_group: &str| {
        let mut history = History::new();
        history.record_subscribe(7, "billing");
        history.record_subscribe(8, second_group);
        acked(&mut history, 0, 0, &[10, 11, 12]);
        history.record_poll(7, tp(0), vec![(0, 10), (1, 11), (2, 12)]);
        history.record_poll(8, tp(0), vec![(0, 10), (1, 11), (2, 12)]);
        check(&history)
    };
    // Each group gets every record once: that is what separate groups are for.
    let report = reads("audit");
    assert_eq!(report.anomalies, vec![]);
    // Within one group the second member's reads are a second delivery.
    assert_eq!(
        of_kind(&reads("billing"), AnomalyKind::DuplicateDelivery),
        vec![delivery(0, [0, 2], [10, 12], 8, &[7], 3)]
    );
}

#[test]
fn going_back_without_a_rebalance_is_a_nonmonotonic_poll_not_a_duplicate_delivery() {
    let mut history = billing_reads_up_to_4();
    history.record_poll(8, tp(0), vec![(4, 14)]);
    // Without starting afresh, 8 goes back to offset 3 and reads on: a fault of the client or
    // the cluster, which at-least-once delivery does not excuse.
    history.record_poll(8, tp(0), vec![(3, 13), (4, 14)]);
    let report = check(&history);
    assert_eq!(report.count(AnomalyKind::NonmonotonicPoll), 1);
    assert!(!report.is_valid());
    // 8's first read, of offset 4, followed its start in the group: that one is a delivery.
    assert_eq!(
        of_kind(&report, AnomalyKind::DuplicateDelivery),
        vec![delivery(0, [4, 4], [14, 14], 8, &[7], 1)]
    );
}

#[test]
fn records_read_again_after_new_ones_since_a_fresh_start_are_a_duplicate_delivery() {
    let mut history = History::new();
    history.record_subscribe(7, "billing");
    history.record_subscribe(8, "billing");
    acked(&mut history, 0, 0, &[10, 11, 12, 13, 14, 15]);
    // 8 started where the log ended then (auto.offset.reset = latest) and read 3 and 4.
    history.record_seek(8, tp(0), 3);
    history.record_poll(8, tp(0), vec![(3, 13), (4, 14)]);
    history.record_rebalance(8);
    // 7 gets the partition with offset 1 committed: 1 and 2 are new to the group, 3 and 4 are
    // delivered to it a second time, 5 is new again.
    history.record_rebalance(7);
    history.record_poll(7, tp(0), vec![(1, 11), (2, 12), (3, 13)]);
    history.record_poll(7, tp(0), vec![(4, 14), (5, 15)]);
    assert_eq!(
        of_kind(&check(&history), AnomalyKind::DuplicateDelivery),
        vec![delivery(0, [3, 4], [13, 14], 7, &[8], 2)]
    );
}

#[test]
fn a_different_value_at_an_offset_read_before_is_no_duplicate_delivery() {
    let mut history = billing_reads_up_to_4();
    history.record_send(2, tp(0), 20, SendOutcome::Info);
    // After an unclean election offset 4 holds another value: the log changed, nothing was
    // delivered twice.
    history.record_rebalance(8);
    history.record_poll(8, tp(0), vec![(4, 20)]);
    let report = check(&history);
    assert_eq!(report.count(AnomalyKind::DuplicateDelivery), 0);
    assert_eq!(report.count(AnomalyKind::InconsistentOffsets), 1);
}

#[test]
fn each_run_of_records_read_again_is_one_anomaly_naming_every_earlier_reader() {
    let mut history = History::new();
    for consumer in [7, 8, 9] {
        history.record_subscribe(consumer, "billing");
    }
    acked(&mut history, 0, 0, &[10, 11, 12, 13, 14]);
    acked(&mut history, 1, 0, &[20, 21]);
    // 7 reads offsets 0 and 1, then 8 takes over from offset 2 (it committed 2 first).
    history.record_poll(7, tp(0), vec![(0, 10), (1, 11)]);
    history.record_rebalance(7);
    history.record_rebalance(8);
    history.record_poll(8, tp(0), vec![(2, 12), (3, 13)]);
    history.record_poll(8, tp(1), vec![(0, 20), (1, 21)]);
    history.record_rebalance(8);
    // 9 gets both partitions and starts from nothing committed: everything again.
    history.record_rebalance(9);
    history.record_poll(9, tp(0), vec![(0, 10), (1, 11), (2, 12), (3, 13), (4, 14)]);
    history.record_poll(9, tp(1), vec![(0, 20)]);
    // A rebalance of 9 ends its run in orders-1: reading offset 1 after it is another run.
    history.record_rebalance(9);
    history.record_poll(9, tp(1), vec![(1, 21)]);
    // The final drain is the checker's own read, no delivery to the group.
    history.record_drain(tp(0), 0, vec![(0, 10), (1, 11), (2, 12), (3, 13), (4, 14)]);
    let report = check(&history);
    assert_eq!(
        of_kind(&report, AnomalyKind::DuplicateDelivery),
        vec![
            delivery(0, [0, 3], [10, 13], 9, &[7, 8], 4),
            delivery(1, [0, 0], [20, 20], 9, &[8], 1),
            delivery(1, [1, 1], [21, 21], 9, &[8], 1),
        ]
    );
    assert!(report.anomalies[0]
        .explain()
        .contains("which consumer 7 and consumer 8 had already read"));
}

#[test]
fn a_subscription_costs_one_item_of_the_bound() {
    let mut history = History::with_limit(2);
    history.record_subscribe(7, "billing");
    history.record_rebalance(7);
    assert_eq!(history.len(), 2);
    assert!(!history.truncated());
    history.record_subscribe(8, "billing");
    assert!(history.truncated());
    assert_eq!(history.len(), 2);
}

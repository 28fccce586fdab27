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
    history.record_drain(tp(0), 0, vec![(0, 10), (1, 11)]);
    let json = serde_json::to_string(&history).unwrap();
    let back: History = serde_json::from_str(&json).unwrap();
    assert_eq!(back, history);
    let report = check(&history);
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
    assert!(!AnomalyKind::Unseen.is_error());
}

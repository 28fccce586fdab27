//! Deterministic simulation testing through the same code path as `kafka-sim check`: random
//! seeds pass and replay identically, and a setting known to lose data is caught.

use kafka_sim::dst::{check_seed, CheckOptions, SeedReport, Strength, Workload};

fn failures(reports: &[SeedReport]) -> String {
    reports
        .iter()
        .filter(|r| !r.passed())
        .map(|r| {
            format!(
                "seed {} ({}): {}\n  reproduce: kafka-sim check --start {} --seeds 1",
                r.seed,
                r.strength,
                r.failures.join("\n  "),
                r.seed
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn twenty_seeds_pass_and_replay_with_the_same_trace_hash() {
    let options = CheckOptions::default();
    let reports: Vec<SeedReport> = (0..20).map(|seed| check_seed(seed, &options)).collect();
    assert!(
        reports.iter().all(SeedReport::passed),
        "{}",
        failures(&reports)
    );
    for r in &reports {
        assert_eq!(r.trace_hashes.0, r.trace_hashes.1, "seed {}", r.seed);
        assert!(
            r.steps > 10_000,
            "seed {} ran only {} events",
            r.seed,
            r.steps
        );
    }
    let strong = reports
        .iter()
        .filter(|r| r.strength == Strength::Strong)
        .count();
    assert!(
        (3..=17).contains(&strong),
        "{strong} of 20 seeds are strong: both kinds must be exercised"
    );
    // A seed checked again, in a fresh simulation, ends with the same hash: nothing outside the
    // seed (addresses, hashing, time) leaks into the run.
    let again = check_seed(7, &options);
    assert_eq!(again.trace_hashes, reports[7].trace_hashes);
    // Different seeds explore different runs.
    let mut hashes: Vec<u64> = reports.iter().map(|r| r.trace_hashes.0).collect();
    hashes.sort_unstable();
    hashes.dedup();
    assert_eq!(hashes.len(), reports.len());
}

#[test]
fn truncating_to_the_high_watermark_is_caught_under_strong_expectations() {
    // Seeds whose generated settings are strong pass as generated (the test above and CI's
    // `kafka-sim check` prove it); under the pre-KIP-101 rule (traces T1, T2), at least one of
    // them must lose or diverge acknowledged records, and the checker must say so. Random faults
    // rarely line up the two fast elections T1 needs (2 strong seeds of the first 600), so the
    // range is one known to hold such a seed (313); after a change to the generator, find another
    // with `kafka-sim check --seeds 300 --set sim.legacy.follower.truncation=high-watermark
    // --expect strong`.
    let strong: Vec<u64> = (300..320)
        .filter(|&s| Workload::generate(s).classify().0 == Strength::Strong)
        .collect();
    assert!(strong.len() >= 5, "only {} strong seeds", strong.len());
    let legacy = CheckOptions {
        broker_config: vec![(
            "sim.legacy.follower.truncation".to_string(),
            "high-watermark".to_string(),
        )],
        expect: Some(Strength::Strong),
    };
    let reports: Vec<SeedReport> = strong.iter().map(|&s| check_seed(s, &legacy)).collect();
    let caught: Vec<&SeedReport> = reports.iter().filter(|r| !r.passed()).collect();
    assert!(
        !caught.is_empty(),
        "no seed of {strong:?} was caught under the legacy rule"
    );
    for r in &caught {
        assert!(
            r.failures.iter().any(|f| f.contains("lost-write")
                || f.contains("inconsistent-offsets")
                || f.contains("LogMatching")),
            "seed {}: {:?}",
            r.seed,
            r.failures
        );
        // Judged by its own settings the legacy rule makes the seed weak, so the same run is
        // then not a failure unless an always-true invariant broke.
        let (strength, reasons) = Workload::generate(r.seed)
            .with_broker_config("sim.legacy.follower.truncation", "high-watermark")
            .classify();
        assert_eq!(strength, Strength::Weak);
        assert!(reasons.iter().any(|x| x.contains("high-watermark")));
    }
}

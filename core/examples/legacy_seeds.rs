//! Lists, for each legacy rule, the seeds of `kafka-sim check` whose own settings are strong but
//! that fail once the rule is set: where the checker catches it. Use it to choose the seeds of
//! `core/tests/dst.rs` after a change to the workload generator.
//!
//! `cargo run --release -p kafka-sim --example legacy_seeds -- 300` (the first 300 seeds).

use kafka_sim::dst::{caught_by, LEGACY_RULES};

fn main() {
    let seeds: u64 = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 200,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!("usage: legacy_seeds [NUMBER_OF_SEEDS]");
            std::process::exit(2);
        }
    };
    for &rule in LEGACY_RULES {
        let caught = caught_by(rule, 0..seeds);
        println!("{}={}: {} seeds: {caught:?}", rule.0, rule.1, caught.len());
    }
}

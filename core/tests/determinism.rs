//! The quickstart scenario's trace hash on this host equals the golden hash, which the wasm test
//! in `web/tests/components.rs` also checks in Chromium: the same seed gives the same trace on both.
//! After an intended change of behaviour, regenerate with
//! `UPDATE_GOLDEN=1 cargo test -p kafka-sim --test determinism`.

use kafka_sim::scenario::Scenario;

#[test]
fn native_trace_matches_the_golden_hash() {
    let scenario = Scenario::parse(include_str!("../../scenarios/quickstart.toml")).unwrap();
    let mut run = scenario.start(42).unwrap();
    run.advance_to(scenario.duration());
    let hash = format!("{:016x}", run.sim.trace_hash());
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/golden/quickstart-seed42.hash"
    );
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, format!("{hash}\n")).unwrap();
    }
    let golden = std::fs::read_to_string(path).expect("golden hash present");
    assert_eq!(hash, golden.trim());
}

//! Every scenario in `scenarios/`, every variant, run to its end with invariants checked after
//! every event: each expectation the file states must hold. This is how the lessons' claims
//! (legacy rules lose data, current rules do not) are proven by the test command.

use kafka_sim::scenario::Scenario;
use std::path::PathBuf;

fn scenario_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_scenario_meets_its_expectations() {
    let files = scenario_files();
    assert!(
        files.len() >= 2,
        "expected the built-in scenarios, found {files:?}"
    );
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let scenario = Scenario::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for name in scenario.variant_names() {
            let s = match &name {
                Some(n) => scenario.variant(n).unwrap(),
                None => scenario.clone(),
            };
            let run = s.start(s.seed_or(None)).unwrap();
            let (outcome, _) = run.finish(&s);
            for (what, result) in &outcome.expectations {
                checked += 1;
                if let Err(found) = result {
                    failures.push(format!(
                        "{} [{:?}]: expected {what}, but {found}",
                        file.display(),
                        name
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} expectations failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 0);
}

#[test]
fn the_built_in_quickstart_equals_its_file() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/quickstart.toml");
    let parsed = Scenario::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(parsed, kafka_sim::builtin::quickstart());
}

//! Replica placement vectors (`shared/conformance/placement.json`) run through the library.
//!
//! Every case of both sections is checked; a section's test fails if any case mismatches, and
//! names every case that did. The shape of each case (which fields it has) decides what is run, never its name.

use std::collections::{BTreeMap, BTreeSet};

use kafka_sim::placement::{
    assign_replicas_to_brokers, rack_alternated_broker_list, striped_placement, BrokerList,
    BrokerMetadata, MockRandom, RackList, StartIndex, UsableBroker,
};
use kafka_sim::{BrokerId, ErrorKind};
use serde_json::{Map, Value};

fn vectors() -> Value {
    let name = "placement.json";
    // The vectors are vendored under tests/conformance so that CI, which has no ../shared, runs them.
    let local = format!("{}/../tests/conformance/{name}", env!("CARGO_MANIFEST_DIR"));
    let shared = format!(
        "{}/../../shared/conformance/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&local)
        .or_else(|_| std::fs::read_to_string(&shared))
        .unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
    serde_json::from_str(&text).expect("valid JSON")
}

fn section(name: &str) -> Vec<Value> {
    vectors()[name]
        .as_array()
        .unwrap_or_else(|| panic!("section {name} is missing"))
        .clone()
}

fn name(case: &Value) -> &str {
    case["name"].as_str().expect("every case has a name")
}

fn id(value: &Value) -> BrokerId {
    BrokerId::try_from(value.as_i64().expect("broker id")).expect("broker id fits in an i32")
}

fn ids(value: &Value) -> Vec<BrokerId> {
    value
        .as_array()
        .expect("a list of ids")
        .iter()
        .map(id)
        .collect()
}

fn lists(value: &Value) -> Vec<Vec<BrokerId>> {
    value
        .as_array()
        .expect("a list of lists")
        .iter()
        .map(ids)
        .collect()
}

/// A non-negative count from the file. Kafka rejects zero and negative counts alike, so a negative
/// value is passed as 0, which the library rejects with the same error kind.
fn count(value: &Value) -> u32 {
    u32::try_from(value.as_i64().expect("a number")).unwrap_or(0)
}

/// The library's error kind for a Kafka exception class named in the file.
fn kind_of(exception: &str) -> ErrorKind {
    match exception {
        "InvalidReplicationFactorException" => ErrorKind::InvalidReplicationFactor,
        "InvalidPartitionsException" => ErrorKind::InvalidPartitions,
        "AdminOperationException" => ErrorKind::IncompleteRackInformation,
        other => panic!("no error kind for {other}"),
    }
}

/// Checks an expected error (kind and, when given, message) against `result`.
fn check_error<T: std::fmt::Debug>(case: &Value, result: kafka_sim::Result<T>) {
    let case_name = name(case);
    let expected = case["expected_error"].as_str().unwrap();
    let error = match result {
        Ok(value) => panic!("{case_name}: expected {expected}, got {value:?}"),
        Err(error) => error,
    };
    assert_eq!(error.kind(), kind_of(expected), "{case_name}: {error}");
    if let Some(message) = case["expected_message"].as_str() {
        assert_eq!(error.message(), message, "{case_name}");
    }
}

fn rack_map(racks: &Map<String, Value>) -> BTreeMap<BrokerId, Option<String>> {
    racks
        .iter()
        .map(|(k, v)| {
            let broker: BrokerId = k.parse().expect("broker id key");
            (broker, v.as_str().map(str::to_string))
        })
        .collect()
}

/// Runs one legacy case; returns a short description of what was checked.
fn run_legacy(case: &Value) -> &'static str {
    let case_name = name(case);
    if let Some(expected) = case.get("expected_rack_alternated_list") {
        let racks: BTreeMap<BrokerId, String> = rack_map(case["broker_racks"].as_object().unwrap())
            .into_iter()
            .map(|(b, r)| (b, r.expect("a rack for every broker")))
            .collect();
        assert_eq!(
            rack_alternated_broker_list(&racks),
            ids(expected),
            "{case_name}"
        );
        return "rack-alternated list";
    }
    assert_eq!(
        case["algorithm"], "AdminUtils.assignReplicasToBrokers",
        "{case_name}: unknown case shape"
    );
    let racks = case["broker_racks"]
        .as_object()
        .map(rack_map)
        .unwrap_or_default();
    let brokers: Vec<BrokerMetadata> = ids(&case["brokers"])
        .into_iter()
        .map(|b| BrokerMetadata {
            id: b,
            rack: racks.get(&b).cloned().flatten(),
        })
        .collect();
    let partitions = count(&case["num_partitions"]);
    let rf = count(&case["replication_factor"]);
    // Kafka's start partition id −1 means "from 0".
    let start_partition = case["start_partition_id"]
        .as_i64()
        .map_or(0, |p| u32::try_from(p.max(0)).unwrap());
    // Without a fixed start index Kafka draws from its own Random; the error cases, which fail
    // before any draw, are the only ones without one.
    let mut random = MockRandom::default();
    let start = match case["fixed_start_index"].as_i64() {
        Some(index) if index >= 0 => StartIndex::Fixed(index as u64),
        _ => StartIndex::Random(&mut random),
    };
    let result = assign_replicas_to_brokers(&brokers, partitions, rf, start, start_partition);
    if case.get("expected_error").is_some() {
        check_error(case, result);
        return "error";
    }
    let assignment = result.unwrap_or_else(|e| panic!("{case_name}: {e}"));
    let expected: BTreeMap<u32, Vec<BrokerId>> = case["expected"]
        .as_object()
        .unwrap_or_else(|| panic!("{case_name}: no expectation"))
        .iter()
        .map(|(p, replicas)| (p.parse().unwrap(), ids(replicas)))
        .collect();
    assert_eq!(assignment, expected, "{case_name}");
    if let Some(properties) = case.get("properties") {
        check_properties(case_name, &assignment, &racks, properties);
    }
    "assignment"
}

/// Checks the properties that Kafka's tests assert on a rack-aware assignment.
fn check_properties(
    case_name: &str,
    assignment: &BTreeMap<u32, Vec<BrokerId>>,
    racks: &BTreeMap<BrokerId, Option<String>>,
    properties: &Value,
) {
    let mut distinct_racks = BTreeSet::new();
    let mut leaders: BTreeMap<BrokerId, u64> = BTreeMap::new();
    let mut replicas_per_broker: BTreeMap<BrokerId, u64> = BTreeMap::new();
    for replicas in assignment.values() {
        let partition_racks: BTreeSet<_> = replicas.iter().map(|b| &racks[b]).collect();
        distinct_racks.insert(partition_racks.len() as u64);
        *leaders.entry(replicas[0]).or_default() += 1;
        for &b in replicas {
            *replicas_per_broker.entry(b).or_default() += 1;
        }
    }
    let counts = |value: &Value| -> BTreeMap<BrokerId, u64> {
        value
            .as_object()
            .unwrap()
            .iter()
            .map(|(b, c)| (b.parse().unwrap(), c.as_u64().unwrap()))
            .collect()
    };
    for (key, value) in properties.as_object().unwrap() {
        match key.as_str() {
            "distinct_racks_per_partition" => {
                let expected: BTreeSet<u64> = value
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap())
                    .collect();
                assert_eq!(distinct_racks, expected, "{case_name}: {key}");
            }
            "leader_count_per_broker" => assert_eq!(leaders, counts(value), "{case_name}: {key}"),
            "replica_count_per_broker" => {
                assert_eq!(replicas_per_broker, counts(value), "{case_name}: {key}")
            }
            other => panic!("{case_name}: unknown property {other}"),
        }
    }
}

fn usable_brokers(case: &Value) -> Vec<UsableBroker> {
    case["usable_brokers_in_iteration_order"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no brokers", name(case)))
        .iter()
        .map(|b| UsableBroker {
            id: id(&b["id"]),
            rack: b["rack"].as_str().map(str::to_string),
            fenced: b["fenced"].as_bool().expect("fenced flag"),
        })
        .collect()
}

/// Runs one KRaft case with a fresh `MockRandom` (seed 17); returns what was checked.
fn run_kraft(case: &Value) -> &'static str {
    let case_name = name(case);
    let mut random = MockRandom::default();
    if let Some(calls) = case.get("calls") {
        let offset = case["offset"]
            .as_u64()
            .map_or(0, |o| u32::try_from(o).unwrap());
        let mut list = BrokerList::with_offset(ids(&case["brokers"]), offset);
        let got: Vec<BrokerId> = calls
            .as_array()
            .unwrap()
            .iter()
            .map(|call| {
                assert_eq!(call[0], "next", "{case_name}: unknown call {call}");
                let epoch = u32::try_from(call[1].as_u64().unwrap()).unwrap();
                // Kafka's BrokerList returns −1 when the epoch has handed out every broker.
                list.next(epoch).unwrap_or(-1)
            })
            .collect();
        assert_eq!(got, ids(&case["expected"]), "{case_name}");
        return "broker list";
    }
    let brokers = usable_brokers(case);
    let rf = count(&case["replication_factor"]);
    if let Some(sequence) = case.get("expected_sequence") {
        let mut rack_list = RackList::new(&brokers, &mut random);
        if let Some(names) = case.get("rack_names_sorted") {
            let expected: Vec<Option<&str>> = names
                .as_array()
                .unwrap()
                .iter()
                .map(Value::as_str)
                .collect();
            assert_eq!(rack_list.rack_names(), expected, "{case_name}: rack names");
        }
        for (i, expected) in lists(sequence).into_iter().enumerate() {
            let got = rack_list
                .place(rf, &mut random)
                .unwrap_or_else(|e| panic!("{case_name}: call {i}: {e}"));
            assert_eq!(got, expected, "{case_name}: call {i}");
        }
        return "rack list sequence";
    }
    let partitions = count(&case["num_partitions"]);
    let result = striped_placement(&brokers, partitions, rf, &mut random);
    if case.get("expected_error").is_some() {
        check_error(case, result);
        return "error";
    }
    let assignment = result.unwrap_or_else(|e| panic!("{case_name}: {e}"));
    let mut checked = false;
    if let Some(expected) = case.get("expected") {
        assert_eq!(assignment, lists(expected), "{case_name}");
        checked = true;
    }
    if let Some(prefix) = case.get("expected_first_12_partitions_computed_by_port") {
        let prefix = lists(prefix);
        assert_eq!(
            assignment[..prefix.len()],
            prefix[..],
            "{case_name}: first partitions"
        );
        checked = true;
    }
    if let Some(counts) = case.get("expected_replica_list_counts") {
        let mut got: BTreeMap<String, u64> = BTreeMap::new();
        for replicas in &assignment {
            let key: Vec<String> = replicas.iter().map(ToString::to_string).collect();
            *got.entry(key.join(",")).or_default() += 1;
        }
        let expected: BTreeMap<String, u64> = counts
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect();
        assert_eq!(got, expected, "{case_name}: replica list counts");
        checked = true;
    }
    assert!(checked, "{case_name}: unknown case shape");
    "placement"
}

/// Runs every case of a section, then fails naming each case that mismatched (a case's own
/// panic message, printed above, says how).
fn run_section(section_name: &str, minimum: usize, run: fn(&Value) -> &'static str) {
    let cases = section(section_name);
    assert!(
        cases.len() >= minimum,
        "the {section_name} section shrank to {} cases",
        cases.len()
    );
    let mut failed = Vec::new();
    for case in &cases {
        match std::panic::catch_unwind(|| run(case)) {
            Ok(what) => println!("{section_name} ok ({what}): {}", name(case)),
            Err(_) => failed.push(name(case).to_string()),
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} {section_name} vectors failed: {failed:#?}",
        failed.len(),
        cases.len()
    );
    println!("all {} {section_name} vectors pass", cases.len());
}

#[test]
fn legacy_admin_utils_vectors_match_kafka() {
    run_section("legacy", 11, run_legacy);
}

#[test]
fn kraft_striped_vectors_match_kafka() {
    run_section("kraft", 15, run_kraft);
}

#[test]
fn simulator_rng_places_like_kafka_would_with_another_seed() {
    // The simulator's generator plugs into the same placer: same rules, its own draws.
    let brokers: Vec<UsableBroker> = (0..6)
        .map(|id| UsableBroker {
            id,
            rack: Some(format!("r{}", id % 3)),
            fenced: false,
        })
        .collect();
    let mut a = kafka_sim::rng::SimRng::from_seed(5);
    let mut b = kafka_sim::rng::SimRng::from_seed(5);
    let first = striped_placement(&brokers, 12, 3, &mut a).unwrap();
    assert_eq!(first, striped_placement(&brokers, 12, 3, &mut b).unwrap());
    for replicas in &first {
        let racks: BTreeSet<_> = replicas.iter().map(|b| b % 3).collect();
        assert_eq!(racks.len(), 3, "{replicas:?}");
    }
}

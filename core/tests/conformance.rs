//! Vectors from Kafka's own tests (`shared/conformance/`), run through the library.

use kafka_sim::metadata::{elect_leader, Election};
use kafka_sim::partitioner::{murmur2, partition_for_key, to_positive};
use serde_json::Value;

fn vectors(name: &str) -> Value {
    let path = format!(
        "{}/../../shared/conformance/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    // The vectors are vendored under tests/conformance so that CI, which has no ../shared, runs them.
    let local = format!("{}/../tests/conformance/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&local)
        .or_else(|_| std::fs::read_to_string(&path))
        .unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
    serde_json::from_str(&text).expect("valid JSON")
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn murmur2_vectors_match_kafka() {
    let cases = vectors("murmur2.json");
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 20);
    for case in cases {
        let key = hex(case["key_hex"].as_str().unwrap());
        let expected = case["murmur2"].as_i64().unwrap() as i32;
        assert_eq!(murmur2(&key), expected, "murmur2 of {}", case["key_hex"]);
        assert_eq!(
            i64::from(to_positive(expected)),
            case["to_positive"].as_i64().unwrap()
        );
        if let (Some(n), Some(p)) = (case["partitions"].as_u64(), case["partition"].as_u64()) {
            assert_eq!(
                partition_for_key(&key, n as u32),
                Some(p as u32),
                "partition of {}",
                case["key_hex"]
            );
        }
        for (n, p) in case["derived_partition_for_n"].as_object().unwrap() {
            let n: u32 = n.parse().unwrap();
            assert_eq!(partition_for_key(&key, n), Some(p.as_u64().unwrap() as u32));
        }
    }
}

#[test]
fn empty_key_hash_is_kafkas() {
    assert_eq!(murmur2(b""), 275_646_681);
    assert_eq!(partition_for_key(b"21", 3), Some(0), "toPositive, not abs");
}

#[test]
fn election_vectors_match_kafka() {
    let file = vectors("election.json");
    let cases = file["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for case in cases {
        let ids = |v: &Value| -> Vec<i32> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_i64().unwrap() as i32)
                .collect()
        };
        let replicas = ids(&case["replicas"]);
        let isr = if case.get("target_isr").is_some() {
            ids(&case["target_isr"])
        } else {
            ids(&case["isr"])
        };
        let current = case["current_leader"].as_i64().unwrap() as i32;
        let acceptable_text = case["acceptable_leaders"].as_str().unwrap().to_string();
        let acceptable = move |b: i32| -> bool {
            if acceptable_text == "all" {
                true
            } else if let Some(rest) = acceptable_text.strip_prefix("all except ") {
                rest.split(',')
                    .all(|x| x.trim().parse::<i32>().unwrap() != b)
            } else if let Some(rest) = acceptable_text.strip_prefix("only ") {
                rest.split(',')
                    .any(|x| x.trim().parse::<i32>().unwrap() == b)
            } else {
                panic!("unknown acceptable_leaders {acceptable_text}")
            }
        };
        let election = match case["election"].as_str().unwrap() {
            "ONLINE" => Election::Online,
            "UNCLEAN" => Election::Unclean,
            "PREFERRED" => Election::Preferred,
            other => panic!("unknown election {other}"),
        };
        let result = elect_leader(
            &replicas,
            &isr,
            (current >= 0).then_some(current),
            acceptable,
            election,
        );
        let expected = case["expected_leader"].as_i64().unwrap() as i32;
        assert_eq!(
            result.leader,
            (expected >= 0).then_some(expected),
            "{}",
            case["name"]
        );
        assert_eq!(
            result.unclean,
            case["expected_unclean"].as_bool().unwrap(),
            "{}",
            case["name"]
        );
    }
}

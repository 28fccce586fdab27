//! The consumer assignors against Kafka's vectors (`tests/conformance/assignors.json`), the
//! coordinator lookup against `coordinator.json`, and properties that must hold on any input.

use kafka_sim::assignor::rack::rack_mismatches;
use kafka_sim::assignor::{
    rebalance_protocol, Assignor, GroupAssignment, GroupSubscription, MemberSubscription,
    RebalanceProtocol, DEFAULT_ASSIGNORS,
};
use kafka_sim::coordinator::partition_for_group;
use kafka_sim::java::{string_hash_code, utils_abs};
use kafka_sim::metadata::TopicPartition;
use kafka_sim::rng::SimRng;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn vectors(name: &str) -> Value {
    let path = format!("{}/../tests/conformance/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("vector file")).expect("JSON")
}

fn tp(text: &str) -> TopicPartition {
    TopicPartition::parse(text).expect("topic-partition")
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// A vector case as the library's input.
fn group_of(case: &Value) -> GroupSubscription {
    let members = case["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| MemberSubscription {
            member_id: m["id"].as_str().expect("id").to_string(),
            group_instance_id: m["group_instance_id"].as_str().map(String::from),
            rack: m["rack"].as_str().map(String::from),
            topics: strings(&m["topics"]),
            owned_partitions: strings(&m["owned"]).iter().map(|s| tp(s)).collect(),
            generation: m["generation"].as_i64().map(|g| g as i32),
        })
        .collect();
    let partitions_per_topic = case["partitions_per_topic"]
        .as_object()
        .expect("partitions_per_topic")
        .iter()
        .map(|(t, n)| (t.clone(), n.as_u64().expect("count") as u32))
        .collect();
    let partition_racks = case["partition_replica_racks"]
        .as_object()
        .map(|racks| racks.iter().map(|(p, r)| (tp(p), strings(r))).collect())
        .unwrap_or_default();
    GroupSubscription {
        members,
        partitions_per_topic,
        partition_racks,
        prefer_rack_aware_logic: case["prefer_rack_aware_logic_test_hook"]
            .as_bool()
            .unwrap_or(false),
    }
}

fn as_sets(assignment: &GroupAssignment) -> BTreeMap<String, BTreeSet<String>> {
    assignment
        .assignment
        .iter()
        .map(|(m, ps)| (m.clone(), ps.iter().map(|p| p.to_string()).collect()))
        .collect()
}

/// Checks one case; returns a description of the first difference.
fn check_case(case: &Value) -> Result<(), String> {
    let assignor = Assignor::from_name(case["assignor"].as_str().unwrap_or_default())
        .ok_or("unknown assignor")?;
    let group = group_of(case);
    let result = assignor.assign(&group).map_err(|e| e.to_string())?;
    let actual = as_sets(&result);
    let partial = case["expected_is_partial"].as_bool().unwrap_or(false);
    let expected = case["expected"].as_object().ok_or("expected")?;
    if !partial && actual.len() != group.members.len() {
        return Err(format!("{} members in the result", actual.len()));
    }
    for (member, partitions) in expected {
        let want: BTreeSet<String> = strings(partitions).into_iter().collect();
        let got = actual.get(member).cloned().unwrap_or_default();
        if want != got {
            return Err(format!("{member}: expected {want:?}, got {got:?}"));
        }
    }
    if let Some(want) = case["partitions_transferring_ownership"].as_object() {
        let want: BTreeMap<String, String> = want
            .iter()
            .map(|(p, m)| (p.clone(), m.as_str().unwrap_or_default().to_string()))
            .collect();
        let got: BTreeMap<String, String> = result
            .partitions_transferring_ownership
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|(p, m)| (p.to_string(), m))
            .collect();
        if want != got {
            return Err(format!("transferring: expected {want:?}, got {got:?}"));
        }
    }
    if let Some(want) = case["expected_rack_mismatches"].as_i64() {
        let got = rack_mismatches(&group, &result) as i64;
        if want >= 0 && want != got {
            return Err(format!("rack mismatches: expected {want}, got {got}"));
        }
    }
    Ok(())
}

#[test]
fn every_assignor_vector_passes() {
    let cases = vectors("assignors.json");
    let cases = cases.as_array().expect("array");
    let mut passed: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for case in cases {
        let name = format!("{} / {}", case["assignor"], case["name"]);
        match check_case(case) {
            Ok(()) => *passed.entry(case["assignor"].to_string()).or_default() += 1,
            Err(why) => failures.push(format!("{name}: {why}")),
        }
    }
    println!("passed per assignor: {passed:?}");
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(passed.values().sum::<usize>(), cases.len());
}

#[test]
fn coordinator_vectors_pass() {
    let file = vectors("coordinator.json");
    let cases = file["cases"].as_array().expect("cases");
    assert!(!cases.is_empty());
    for case in cases {
        let group = case["group_id"].as_str().expect("group id");
        let hash = string_hash_code(group);
        assert_eq!(
            i64::from(hash),
            case["java_string_hashcode"].as_i64().unwrap(),
            "{group}"
        );
        assert_eq!(
            i64::from(utils_abs(hash)),
            case["utils_abs"].as_i64().unwrap(),
            "{group}"
        );
        for (n, key) in [(50, "partition_of_50"), (10, "partition_of_10")] {
            let want = case[key].as_u64().unwrap();
            assert_eq!(
                partition_for_group(group, n).map(u64::from),
                Some(want),
                "{group} % {n}"
            );
        }
    }
    // Utils.abs(Integer.MIN_VALUE) is 0, so this group lands on partition 0 of any topic.
    assert_eq!(partition_for_group("polygenelubricants", 50), Some(0));
}

#[test]
fn default_strategy_is_range_then_cooperative_sticky_and_eager() {
    assert_eq!(
        DEFAULT_ASSIGNORS.map(Assignor::name),
        ["range", "cooperative-sticky"]
    );
    assert_eq!(
        rebalance_protocol(&DEFAULT_ASSIGNORS),
        Some(RebalanceProtocol::Eager)
    );
    assert_eq!(
        rebalance_protocol(&[Assignor::CooperativeSticky]),
        Some(RebalanceProtocol::Cooperative)
    );
    for assignor in Assignor::ALL {
        assert_eq!(Assignor::from_name(assignor.name()), Some(assignor));
        assert!(assignor
            .supported_protocols()
            .contains(&RebalanceProtocol::Eager));
    }
    assert_eq!(Assignor::from_name("uniform"), None);
}

#[test]
fn a_repeated_member_id_is_an_error_not_a_panic() {
    let mut group = GroupSubscription::default();
    group.partitions_per_topic.insert("t".into(), 2);
    group.members.push(MemberSubscription::new("a", ["t"]));
    group.members.push(MemberSubscription::new("a", ["t"]));
    for assignor in Assignor::ALL {
        let error = assignor.assign(&group).unwrap_err();
        assert!(error.message().contains("\"a\""), "{error}");
    }
    // No members, no topics, unknown topics and owned partitions out of range are fine.
    group.members.clear();
    for assignor in Assignor::ALL {
        assert!(assignor.assign(&group).unwrap().assignment.is_empty());
    }
    let mut member = MemberSubscription::new("a", ["t", "nope"]);
    member.owned_partitions = vec![tp("t-7"), tp("nope-0")];
    member.generation = Some(3);
    group.members.push(member);
    for assignor in Assignor::ALL {
        let result = assignor.assign(&group).unwrap();
        assert_eq!(
            result.assignment["a"],
            vec![tp("t-0"), tp("t-1")],
            "{assignor:?}"
        );
    }
}

/// A random group: up to 8 members over up to 4 topics, some owning partitions (from an earlier
/// assignment, possibly stale), some with racks.
fn random_group(rng: &mut SimRng, equal_subscriptions: bool) -> GroupSubscription {
    let topics: Vec<String> = (0..1 + rng.below(4)).map(|t| format!("t{t}")).collect();
    let mut group = GroupSubscription::default();
    for t in &topics {
        group
            .partitions_per_topic
            .insert(t.clone(), rng.below(9) as u32);
    }
    let members = 1 + rng.below(8);
    for m in 0..members {
        let subscribed: Vec<String> = if equal_subscriptions {
            topics.clone()
        } else {
            let picked: Vec<String> = topics
                .iter()
                .filter(|_| rng.below(2) == 0)
                .cloned()
                .collect();
            if picked.is_empty() {
                vec![topics[0].clone()]
            } else {
                picked
            }
        };
        let mut member = MemberSubscription::new(format!("consumer{m}"), subscribed);
        member.generation = Some(1 + rng.below(2) as i32);
        group.members.push(member);
    }
    // Ownership of about two thirds of the partitions, each by one of its topic's subscribers,
    // in either generation. (Kafka's general algorithm may move a partition back to an owner of
    // an older generation that no longer subscribes to its topic; members report ownership only
    // under their current subscription here, so that every result must respect subscriptions.)
    for (t, &n) in &group.partitions_per_topic {
        let subscribers: Vec<usize> = (0..group.members.len())
            .filter(|&m| group.members[m].topics.contains(t))
            .collect();
        for p in 0..n {
            if !subscribers.is_empty() && rng.below(3) > 0 {
                let owner = subscribers[rng.below(subscribers.len() as u64) as usize];
                group.members[owner]
                    .owned_partitions
                    .push(TopicPartition::new(t.clone(), p));
            }
        }
    }
    group
}

/// `count` random groups from `seed`, each with equal or unequal subscriptions at random.
fn random_groups(seed: u64, count: usize) -> Vec<(bool, GroupSubscription)> {
    let mut rng = SimRng::from_seed(seed);
    (0..count)
        .map(|_| {
            let equal = rng.below(2) == 0;
            (equal, random_group(&mut rng, equal))
        })
        .collect()
}

/// Every partition of a subscribed topic is assigned exactly once, and only to a subscriber.
fn assert_valid(group: &GroupSubscription, result: &GroupAssignment, complete: bool) {
    let mut seen = BTreeSet::new();
    for member in &group.members {
        for tp in &result.assignment[&member.member_id] {
            assert!(
                member.topics.iter().any(|t| **t == *tp.topic),
                "{tp} to a non-subscriber"
            );
            assert!(seen.insert(tp.clone()), "{tp} assigned twice");
        }
    }
    if complete {
        let subscribed: BTreeSet<&String> = group.members.iter().flat_map(|m| &m.topics).collect();
        let all: usize = group
            .partitions_per_topic
            .iter()
            .filter(|(t, _)| subscribed.contains(t))
            .map(|(_, &n)| n as usize)
            .sum();
        assert_eq!(seen.len(), all, "some partitions were not assigned");
    }
}

#[test]
fn every_subscribed_partition_is_assigned_exactly_once() {
    let mut rng = SimRng::from_seed(11);
    for round in 0..400 {
        let group = random_group(&mut rng, round % 2 == 0);
        for assignor in [Assignor::Range, Assignor::RoundRobin, Assignor::Sticky] {
            let result = assignor
                .assign(&group)
                .unwrap_or_else(|e| panic!("{assignor:?}: {e}"));
            assert_valid(&group, &result, true);
        }
        // Cooperative-sticky withholds what changes owner, so it may leave partitions out, but
        // never gives one away twice, and what it withholds is exactly what moves.
        let result = Assignor::CooperativeSticky.assign(&group).unwrap();
        assert_valid(&group, &result, false);
        let withheld = result.partitions_transferring_ownership.clone().unwrap();
        let sticky = Assignor::Sticky.assign(&group).unwrap();
        for (tp, member) in &withheld {
            assert!(
                sticky.assignment[member].contains(tp),
                "{tp} withheld from {member}"
            );
        }
    }
}

#[test]
fn sticky_balances_equal_subscriptions_within_one() {
    let mut rng = SimRng::from_seed(5);
    for _ in 0..300 {
        let group = random_group(&mut rng, true);
        for assignor in [Assignor::Sticky, Assignor::Range, Assignor::RoundRobin] {
            let result = assignor.assign(&group).unwrap();
            let sizes: Vec<usize> = result.assignment.values().map(Vec::len).collect();
            let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            // Range balances per topic, so over several topics it may differ by more.
            if assignor != Assignor::Range || group.partitions_per_topic.len() == 1 {
                assert!(max - min <= 1, "{assignor:?}: sizes {sizes:?}");
            }
        }
    }
}

/// Members report the assignment they received as owned, in `generation`.
fn report_ownership(group: &mut GroupSubscription, result: &GroupAssignment, generation: i32) {
    for member in &mut group.members {
        member.owned_partitions = result.assignment[&member.member_id].clone();
        member.generation = Some(generation);
    }
}

#[test]
fn sticky_keeps_owned_partitions_when_already_balanced() {
    for (equal, mut group) in random_groups(23, 200) {
        // Start from a fresh sticky assignment and report it as owned: a second run changes
        // nothing, and cooperative-sticky has nothing to withhold.
        for member in &mut group.members {
            member.owned_partitions.clear();
            member.generation = None;
        }
        let first = Assignor::Sticky.assign(&group).unwrap();
        report_ownership(&mut group, &first, 1);
        let again = Assignor::Sticky.assign(&group).unwrap();
        assert_eq!(
            first.assignment, again.assignment,
            "a balanced assignment moved"
        );
        let cooperative = Assignor::CooperativeSticky.assign(&group).unwrap();
        assert_eq!(first.assignment, cooperative.assignment);
        assert!(cooperative
            .partitions_transferring_ownership
            .unwrap()
            .is_empty());
        // With equal subscriptions, a member joining with nothing takes partitions only from
        // members above the new quota: everyone keeps at least min(owned, ⌊T/N⌋).
        if equal {
            let topics = group.members[0].topics.clone();
            group
                .members
                .push(MemberSubscription::new("newcomer", topics));
            let total: usize = first.assignment.values().map(Vec::len).sum();
            let quota = total / group.members.len();
            let joined = Assignor::Sticky.assign(&group).unwrap();
            for (member, owned) in &first.assignment {
                let kept = owned
                    .iter()
                    .filter(|p| joined.assignment[member].contains(p))
                    .count();
                assert!(
                    kept >= owned.len().min(quota),
                    "{member} kept {kept} of {owned:?}"
                );
            }
        }
    }
}

#[test]
fn cooperative_second_round_completes_what_the_first_withheld() {
    for (_, mut group) in random_groups(31, 200) {
        for member in &mut group.members {
            member.generation = Some(1);
        }
        let first = Assignor::CooperativeSticky.assign(&group).unwrap();
        // Members revoke what they lost and report what they were given, one generation on.
        report_ownership(&mut group, &first, 2);
        let second = Assignor::CooperativeSticky.assign(&group).unwrap();
        assert_valid(&group, &second, true);
    }
}

/// Kafka's general sticky algorithm moves a partition back to its owner of an older generation
/// without checking that the owner still subscribes to the topic (the consumer then finds the
/// assignment does not match its subscription and rejoins). The port keeps that behaviour.
#[test]
fn sticky_may_return_a_partition_to_an_older_owner_that_no_longer_subscribes() {
    let mut group = GroupSubscription::default();
    group.partitions_per_topic.insert("x".into(), 4);
    group.partitions_per_topic.insert("y".into(), 2);
    let mut a = MemberSubscription::new("a", ["x"]);
    a.owned_partitions = (0..4).map(|p| TopicPartition::new("x", p)).collect();
    a.generation = Some(2);
    let mut b = MemberSubscription::new("b", ["x"]);
    b.generation = Some(2);
    let mut c = MemberSubscription::new("c", ["y"]);
    c.owned_partitions = vec![tp("x-0")];
    c.generation = Some(1);
    let mut d = MemberSubscription::new("d", ["y"]);
    d.generation = Some(2);
    group.members = vec![a, b, c, d];
    let result = Assignor::Sticky.assign(&group).unwrap();
    assert_eq!(result.assignment["c"], vec![tp("x-0"), tp("y-0")]);
    assert_eq!(result.assignment["a"], vec![tp("x-2"), tp("x-3")]);
    assert_eq!(result.assignment["b"], vec![tp("x-1")]);
}

/// One call of Kafka's `verifyRackAssignment` (AbstractPartitionAssignorTest): consumers
/// `consumer0..`, partition `i` of a topic starting at broker index `next` has replicas on
/// brokers `(i + j + next) % brokers` for `j < rf`, topics laid out in the order given.
struct RackCase<'t> {
    topics: &'t [(&'t str, u32)],
    rf: usize,
    broker_racks: Vec<Option<&'t str>>,
    consumer_racks: Vec<Option<&'t str>>,
    consumer_topics: Vec<Vec<&'t str>>,
    prefer: bool,
}

fn racks(n: usize) -> Vec<Option<&'static str>> {
    ["a", "b", "c", "d", "e", "f"]
        .iter()
        .take(n)
        .map(|r| Some(*r))
        .collect()
}

fn null_racks(n: usize) -> Vec<Option<&'static str>> {
    vec![None; n]
}

impl RackCase<'_> {
    fn group(&self, owned: Option<&[&str]>) -> GroupSubscription {
        let mut group = GroupSubscription {
            prefer_rack_aware_logic: self.prefer,
            ..GroupSubscription::default()
        };
        let mut next = 0;
        for &(topic, n) in self.topics {
            group.partitions_per_topic.insert(topic.to_string(), n);
            for i in 0..n as usize {
                let racks: Vec<String> = (0..self.rf)
                    .filter_map(|j| self.broker_racks[(i + j + next) % self.broker_racks.len()])
                    .map(String::from)
                    .collect();
                group
                    .partition_racks
                    .insert(TopicPartition::new(topic, i as u32), racks);
            }
            next += n as usize;
        }
        for (i, topics) in self.consumer_topics.iter().enumerate() {
            let mut member = MemberSubscription::new(format!("consumer{i}"), topics.clone());
            member.rack = self.consumer_racks[i].map(String::from);
            if let Some(owned) = owned {
                member.owned_partitions = owned[i]
                    .split(", ")
                    .filter(|s| !s.is_empty())
                    .map(tp)
                    .collect();
            }
            group.members.push(member);
        }
        group
    }

    /// Runs the assignor and compares with the expected lists and mismatch count (−1: unchecked).
    fn check(
        &self,
        assignor: Assignor,
        owned: Option<&[&str]>,
        expected: &[&str],
        mismatches: i64,
    ) {
        let group = self.group(owned);
        let result = assignor.assign(&group).unwrap();
        for (i, want) in expected.iter().enumerate() {
            let got: Vec<String> = result.assignment[&format!("consumer{i}")]
                .iter()
                .map(|p| p.to_string())
                .collect();
            assert_eq!(
                got.join(", "),
                *want,
                "{assignor:?} consumer{i}, owned {owned:?}"
            );
        }
        if mismatches >= 0 {
            assert_eq!(
                rack_mismatches(&group, &result) as i64,
                mismatches,
                "{assignor:?}"
            );
        }
    }

    /// `verifyUniformSubscription` / `verifyNonEqualSubscription`: without ownership, then
    /// owning the expected result.
    fn check_twice(&self, assignor: Assignor, expected: &[&str], mismatches: i64) {
        self.check(assignor, None, expected, mismatches);
        self.check(assignor, Some(expected), expected, mismatches);
    }
}

/// The topics of Kafka's sticky rack tests, laid out in this order over the brokers.
const RACK_TEST_TOPICS: [(&str, u32); 3] = [("t1", 6), ("t2", 7), ("t3", 2)];

/// The owned partitions of those tests' "misaligned" cases (rf 1: mostly on other racks).
const MISALIGNED_OWNED: [&str; 3] = [
    "t1-0, t1-1, t1-2, t1-3, t1-4",
    "t1-5, t2-0, t2-1, t2-2, t2-3",
    "t2-4, t2-5, t2-6, t3-0, t3-1",
];

/// A case of those tests for given subscriptions: (rf, broker racks, consumer racks, hook).
fn sticky_rack_case(
    consumer_topics: Vec<Vec<&'static str>>,
) -> impl Fn(usize, Vec<Option<&'static str>>, Vec<Option<&'static str>>, bool) -> RackCase<'static>
{
    move |rf, broker_racks, consumer_racks, prefer| RackCase {
        topics: &RACK_TEST_TOPICS,
        rf,
        broker_racks,
        consumer_racks,
        consumer_topics: consumer_topics.clone(),
        prefer,
    }
}

/// The combinations of Kafka's sticky rack tests whose result is the non-rack-aware one: no
/// broker racks, no consumer racks, every partition on every rack (with and without the test
/// hook), consumers on racks without replicas, and a consumer without a rack.
fn check_where_racks_change_nothing<'t>(
    case: &impl Fn(usize, Vec<Option<&'t str>>, Vec<Option<&'t str>>, bool) -> RackCase<'t>,
    assignor: Assignor,
    expected: &[&str],
) {
    case(3, null_racks(3), racks(3), false).check_twice(assignor, expected, -1);
    case(3, racks(3), null_racks(3), false).check_twice(assignor, expected, -1);
    case(3, racks(3), racks(3), true).check_twice(assignor, expected, 0);
    case(4, racks(4), racks(3), true).check_twice(assignor, expected, 0);
    case(3, racks(3), racks(3), false).check_twice(assignor, expected, 0);
    let def = vec![Some("d"), Some("e"), Some("f")];
    case(3, racks(3), def, false).check_twice(assignor, expected, -1);
    let nef = vec![None, Some("e"), Some("f")];
    case(3, racks(3), nef, false).check_twice(assignor, expected, -1);
}

/// AbstractStickyAssignorTest.testRackAwareAssignmentWithUniformSubscription, both assignors.
#[test]
fn sticky_rack_aware_uniform_subscription_matches_kafka_tests() {
    let all = vec!["t1", "t2", "t3"];
    let expected = [
        "t1-0, t1-3, t2-0, t2-3, t2-6",
        "t1-1, t1-4, t2-1, t2-4, t3-0",
        "t1-2, t1-5, t2-2, t2-5, t3-1",
    ];
    for assignor in [Assignor::Sticky, Assignor::CooperativeSticky] {
        let case = sticky_rack_case(vec![all.clone(), all.clone(), all.clone()]);
        check_where_racks_change_nothing(&case, assignor, &expected);
        case(1, racks(3), racks(3), false).check_twice(assignor, &expected, 0);
        case(2, racks(3), racks(3), false).check_twice(assignor, &expected, 0);
        case(3, racks(2), racks(3), false).check_twice(assignor, &expected, 5);
        let misaligned = case(1, racks(3), racks(3), false);
        if assignor == Assignor::CooperativeSticky {
            let first = ["t1-0, t1-3", "t2-1", "t2-5, t3-1"];
            misaligned.check(assignor, Some(&MISALIGNED_OWNED), &first, 0);
        } else {
            misaligned.check(assignor, Some(&MISALIGNED_OWNED), &expected, 0);
        }
        case(3, racks(3), racks(3), true).check(assignor, Some(&expected), &expected, 0);
    }
}

/// AbstractStickyAssignorTest.testRackAwareAssignmentWithNonEqualSubscription, both assignors.
#[test]
fn sticky_rack_aware_non_equal_subscription_matches_kafka_tests() {
    let all = vec!["t1", "t2", "t3"];
    let non_rack_aware = [
        "t1-5, t2-0, t2-2, t2-4, t2-6",
        "t1-3, t2-1, t2-3, t2-5, t3-0",
        "t1-0, t1-1, t1-2, t1-4, t3-1",
    ];
    let rf1 = [
        "t1-3, t2-0, t2-2, t2-3, t2-6",
        "t1-4, t2-1, t2-4, t2-5, t3-0",
        "t1-0, t1-1, t1-2, t1-5, t3-1",
    ];
    let rf2 = [
        "t1-3, t2-0, t2-2, t2-5, t2-6",
        "t1-0, t2-1, t2-3, t2-4, t3-0",
        "t1-1, t1-2, t1-4, t1-5, t3-1",
    ];
    for assignor in [Assignor::Sticky, Assignor::CooperativeSticky] {
        let case = sticky_rack_case(vec![all.clone(), all.clone(), vec!["t1", "t3"]]);
        check_where_racks_change_nothing(&case, assignor, &non_rack_aware);
        case(1, racks(3), racks(3), false).check_twice(assignor, &rf1, 4);
        case(2, racks(3), racks(3), false).check_twice(assignor, &rf2, 0);
        case(3, racks(2), racks(3), false).check_twice(assignor, &non_rack_aware, 5);
        let misaligned = case(1, racks(3), racks(3), false);
        if assignor == Assignor::Sticky {
            misaligned.check(assignor, Some(&MISALIGNED_OWNED), &rf1, 4);
            for prefer in [false, true] {
                let matching = case(3, racks(3), racks(3), prefer);
                matching.check(assignor, Some(&MISALIGNED_OWNED), &non_rack_aware, 0);
            }
        } else {
            let first = ["t1-3", "t2-1", "t3-1"];
            misaligned.check(assignor, Some(&MISALIGNED_OWNED), &first, 0);
            misaligned.check(assignor, Some(&first), &rf1, 4);
            let first = ["t1-2, t1-3, t1-4", "t2-0, t2-1, t2-2, t2-3", "t3-0, t3-1"];
            let second = [
                "t1-2, t1-3, t1-4, t2-4, t2-5",
                "t2-0, t2-1, t2-2, t2-3, t2-6",
                "t1-0, t1-1, t1-5, t3-0, t3-1",
            ];
            for prefer in [false, true] {
                let matching = case(3, racks(3), racks(3), prefer);
                matching.check(assignor, Some(&MISALIGNED_OWNED), &first, 0);
                matching.check(assignor, Some(&first), &second, 0);
            }
        }
    }
}

/// RangeAssignorTest's rack-aware tests (`verifyRackAssignment` calls).
#[test]
fn range_rack_aware_matches_kafka_tests() {
    let range = Assignor::Range;
    let t15 = [("t1", 6), ("t2", 7), ("t3", 2)];
    let t555 = [("t1", 5), ("t2", 5), ("t3", 5)];
    let all = vec!["t1", "t2", "t3"];
    let uniform = vec![all.clone(), all.clone(), all.clone()];
    let non_equal = vec![all.clone(), all.clone(), vec!["t1", "t3"]];
    let case = |topics, rf, brokers, consumer_topics: &Vec<Vec<&'static str>>| RackCase {
        topics,
        rf,
        broker_racks: brokers,
        consumer_racks: racks(3),
        consumer_topics: consumer_topics.clone(),
        prefer: false,
    };
    case(&t15, 1, racks(3), &uniform).check(
        range,
        None,
        &[
            "t1-0, t1-3, t2-0, t2-3, t2-6",
            "t1-1, t1-4, t2-1, t2-4, t3-0",
            "t1-2, t1-5, t2-2, t2-5, t3-1",
        ],
        0,
    );
    case(&t15, 2, racks(3), &uniform).check(
        range,
        None,
        &[
            "t1-0, t1-2, t2-0, t2-2, t2-3, t3-1",
            "t1-1, t1-3, t2-1, t2-4, t3-0",
            "t1-4, t1-5, t2-5, t2-6",
        ],
        1,
    );
    case(&t15, 3, racks(2), &uniform).check(
        range,
        None,
        &[
            "t1-0, t1-1, t2-0, t2-1, t2-2, t3-0",
            "t1-2, t1-3, t2-3, t2-4, t3-1",
            "t1-4, t1-5, t2-5, t2-6",
        ],
        4,
    );
    case(&t15, 1, racks(3), &non_equal).check(
        range,
        None,
        &[
            "t1-0, t1-3, t2-0, t2-2, t2-3, t2-6",
            "t1-1, t1-4, t2-1, t2-4, t2-5, t3-0",
            "t1-2, t1-5, t3-1",
        ],
        2,
    );
    case(&t15, 2, racks(3), &non_equal).check(
        range,
        None,
        &[
            "t1-0, t1-2, t2-0, t2-2, t2-3, t2-5, t3-1",
            "t1-1, t1-3, t2-1, t2-4, t2-6, t3-0",
            "t1-4, t1-5",
        ],
        0,
    );
    case(&t15, 3, racks(2), &non_equal).check(
        range,
        None,
        &[
            "t1-0, t1-1, t2-0, t2-1, t2-2, t2-3, t3-0",
            "t1-2, t1-3, t2-4, t2-5, t2-6, t3-1",
            "t1-4, t1-5",
        ],
        2,
    );
    let co_partitioned = [
        "t1-0, t1-1, t2-0, t2-1, t3-0, t3-1",
        "t1-2, t1-3, t2-2, t2-3, t3-2, t3-3",
        "t1-4, t2-4, t3-4",
    ];
    case(&t555, 1, racks(3), &uniform).check(range, None, &co_partitioned, 10);
    case(&t555, 2, racks(3), &uniform).check(range, None, &co_partitioned, 5);
    case(&t555, 3, racks(2), &uniform).check(range, None, &co_partitioned, 3);
    case(&t555, 1, racks(3), &non_equal).check(
        range,
        None,
        &[
            "t1-0, t1-1, t2-0, t2-1, t2-4, t3-0, t3-1",
            "t1-2, t1-3, t2-2, t2-3, t3-2, t3-3",
            "t1-4, t3-4",
        ],
        9,
    );
    case(&t555, 2, racks(3), &non_equal).check(
        range,
        None,
        &[
            "t1-2, t2-0, t2-1, t2-3, t3-2",
            "t1-0, t1-3, t2-2, t2-4, t3-0, t3-3",
            "t1-1, t1-4, t3-1, t3-4",
        ],
        0,
    );
    case(&t555, 3, racks(2), &non_equal).check(
        range,
        None,
        &[
            "t1-0, t1-1, t2-0, t2-1, t2-2, t3-0, t3-1",
            "t1-2, t1-3, t2-3, t2-4, t3-2, t3-3",
            "t1-4, t3-4",
        ],
        2,
    );

    let t6622 = [("t1", 6), ("t2", 6), ("t3", 2), ("t4", 2)];
    let abba = vec![Some("a"), Some("b"), Some("b"), Some("a")];
    let pairs = vec![
        vec!["t1", "t2"],
        vec!["t1", "t2"],
        vec!["t3", "t4"],
        vec!["t3", "t4"],
    ];
    let four = vec!["t1", "t2", "t3", "t4"];
    let everyone = vec![four.clone(), four.clone(), four.clone(), four.clone()];
    let co = |rf, brokers, consumer_topics: &Vec<Vec<&'static str>>| RackCase {
        topics: &t6622,
        rf,
        broker_racks: brokers,
        consumer_racks: abba.clone(),
        consumer_topics: consumer_topics.clone(),
        prefer: false,
    };
    // Per subscription layout: without rack alignment (rf 3 and 2 on two racks), then aligned
    // (rf 1), co-partitioning kept either way.
    let layouts = [
        (
            &pairs,
            [
                "t1-0, t1-1, t1-2, t2-0, t2-1, t2-2",
                "t1-3, t1-4, t1-5, t2-3, t2-4, t2-5",
                "t3-0, t4-0",
                "t3-1, t4-1",
            ],
            [
                "t1-0, t1-2, t1-4, t2-0, t2-2, t2-4",
                "t1-1, t1-3, t1-5, t2-1, t2-3, t2-5",
                "t3-1, t4-1",
                "t3-0, t4-0",
            ],
        ),
        (
            &everyone,
            [
                "t1-0, t1-1, t2-0, t2-1, t3-0, t4-0",
                "t1-2, t1-3, t2-2, t2-3, t3-1, t4-1",
                "t1-4, t2-4",
                "t1-5, t2-5",
            ],
            [
                "t1-0, t1-2, t2-0, t2-2, t3-0, t4-0",
                "t1-1, t1-3, t2-1, t2-3, t3-1, t4-1",
                "t1-5, t2-5",
                "t1-4, t2-4",
            ],
        ),
    ];
    for (subscriptions, plain, aligned) in layouts {
        co(3, racks(2), subscriptions).check(range, None, &plain, -1);
        co(2, racks(2), subscriptions).check(range, None, &plain, 0);
        co(1, racks(2), subscriptions).check(range, None, &aligned, 0);
    }
    co(1, racks(3), &everyone).check(
        range,
        None,
        &[
            "t1-0, t1-3, t2-0, t2-3, t3-0, t4-0",
            "t1-1, t1-4, t2-1, t2-4, t3-1, t4-1",
            "t1-2, t2-2",
            "t1-5, t2-5",
        ],
        6,
    );

    // testCoPartitionedAssignmentWithSameSubscription: topics t7..t9 have no metadata.
    let t6 = [
        ("t1", 6),
        ("t2", 6),
        ("t3", 2),
        ("t4", 2),
        ("t5", 4),
        ("t6", 4),
    ];
    let nine: Vec<&str> = vec!["t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9"];
    let same = |rf, brokers, prefer| RackCase {
        topics: &t6,
        rf,
        broker_racks: brokers,
        consumer_racks: racks(3),
        consumer_topics: vec![nine.clone(), nine.clone(), nine.clone()],
        prefer,
    };
    let plain = [
        "t1-0, t1-1, t2-0, t2-1, t3-0, t4-0, t5-0, t5-1, t6-0, t6-1",
        "t1-2, t1-3, t2-2, t2-3, t3-1, t4-1, t5-2, t6-2",
        "t1-4, t1-5, t2-4, t2-5, t5-3, t6-3",
    ];
    same(3, null_racks(3), false).check(range, None, &plain, -1);
    same(3, racks(3), true).check(range, None, &plain, 0);
    same(2, racks(3), true).check(
        range,
        None,
        &[
            "t1-0, t1-2, t2-0, t2-2, t3-0, t4-0, t5-1, t6-1",
            "t1-1, t1-3, t2-1, t2-3, t3-1, t4-1, t5-2, t6-2",
            "t1-4, t1-5, t2-4, t2-5, t5-0, t5-3, t6-0, t6-3",
        ],
        0,
    );
}

/// A member of StickyAssignorTest's generation scenarios (`buildSubscriptionV2Above`).
fn owning(
    id: &str,
    topics: &[&str],
    owned: &[TopicPartition],
    generation: i32,
) -> MemberSubscription {
    let mut member = MemberSubscription::new(id, topics.iter().copied());
    member.owned_partitions = owned.to_vec();
    member.generation = Some(generation);
    member
}

fn counts(group: &GroupSubscription, result: &GroupAssignment) -> Vec<usize> {
    group
        .members
        .iter()
        .map(|m| result.assignment[&m.member_id].len())
        .collect()
}

fn contains_all(outer: &[TopicPartition], inner: &[TopicPartition]) -> bool {
    inner.iter().all(|p| outer.contains(p))
}

/// StickyAssignorTest.testAssignmentWithMultipleGenerations1, equal and unequal subscriptions.
#[test]
fn sticky_multiple_generations_1() {
    for equal in [true, false] {
        let all = ["topic", "topic2"];
        let second: &[&str] = if equal { &all } else { &["topic"] };
        let mut group = GroupSubscription::default();
        group.partitions_per_topic.insert("topic".into(), 6);
        group.partitions_per_topic.insert("topic2".into(), 6);
        group.members = vec![
            MemberSubscription::new("consumer1", all),
            MemberSubscription::new("consumer2", second.iter().copied()),
            MemberSubscription::new("consumer3", all),
        ];
        let r1 = Assignor::Sticky.assign(&group).unwrap();
        assert_eq!(counts(&group, &r1), [4, 4, 4]);
        let (p1, p2, p3) = (
            &r1.assignment["consumer1"],
            &r1.assignment["consumer2"],
            &r1.assignment["consumer3"],
        );
        group.members = vec![
            owning("consumer1", &all, p1, 1),
            owning("consumer2", second, p2, 1),
        ];
        let r2 = Assignor::Sticky.assign(&group).unwrap();
        assert_eq!(counts(&group, &r2), [6, 6]);
        let (q1, q2) = (&r2.assignment["consumer1"], &r2.assignment["consumer2"]);
        if equal {
            assert!(contains_all(q1, p1));
        }
        assert!(contains_all(q2, p2));
        assert!(q2.iter().any(|p| p3.contains(p)));
        group.members = vec![
            owning("consumer2", second, q2, 2),
            owning("consumer3", &all, p3, 1),
        ];
        let r3 = Assignor::Sticky.assign(&group).unwrap();
        assert_eq!(counts(&group, &r3), [6, 6]);
        assert_valid(&group, &r3, true);
    }
}

/// StickyAssignorTest.testAssignmentWithMultipleGenerations2 and
/// testAssignmentWithConflictingPreviousGenerations, equal and unequal subscriptions.
#[test]
fn sticky_multiple_and_conflicting_generations() {
    let all = ["topic", "topic2", "topic3"];
    for equal in [true, false] {
        let first: &[&str] = if equal { &all } else { &["topic"] };
        let third: &[&str] = if equal { &all } else { &["topic", "topic2"] };
        let mut group = GroupSubscription::default();
        for t in all {
            group.partitions_per_topic.insert(t.into(), 4);
        }
        group.members = vec![
            MemberSubscription::new("consumer1", first.iter().copied()),
            MemberSubscription::new("consumer2", all),
            MemberSubscription::new("consumer3", third.iter().copied()),
        ];
        let r1 = Assignor::Sticky.assign(&group).unwrap();
        assert_eq!(counts(&group, &r1), [4, 4, 4]);
        let (p1, p2, p3) = (
            &r1.assignment["consumer1"],
            &r1.assignment["consumer2"],
            &r1.assignment["consumer3"],
        );
        let alone = GroupSubscription {
            members: vec![owning("consumer2", &all, p2, 1)],
            ..group.clone()
        };
        let r2 = Assignor::Sticky.assign(&alone).unwrap();
        let q2 = &r2.assignment["consumer2"];
        assert_eq!(q2.len(), 12);
        group.members = vec![
            owning("consumer1", first, p1, 1),
            owning("consumer2", &all, q2, 2),
            owning("consumer3", third, p3, 1),
        ];
        let r3 = Assignor::Sticky.assign(&group).unwrap();
        assert_eq!(counts(&group, &r3), [4, 4, 4]);
        assert_valid(&group, &r3, true);

        // Conflicting claims: consumer1 (generation 1) claims partitions that the others own in
        // generation 2; the newer owners keep what they can.
        let second: &[&str] = if equal { &all } else { &["topic", "topic2"] };
        let c1: Vec<TopicPartition> = if equal {
            [
                "topic-0", "topic-1", "topic-2", "topic2-2", "topic2-3", "topic3-0",
            ]
            .map(tp)
            .to_vec()
        } else {
            ["topic-0", "topic-1", "topic-2", "topic-3"]
                .map(tp)
                .to_vec()
        };
        let c2 = [
            "topic-0", "topic-1", "topic2-0", "topic2-1", "topic2-2", "topic2-3",
        ]
        .map(tp);
        let c3 = [
            "topic-2", "topic-3", "topic3-0", "topic3-1", "topic3-2", "topic3-3",
        ]
        .map(tp);
        group.members = vec![
            owning("consumer1", first, &c1, 1),
            owning("consumer2", second, &c2, 2),
            owning("consumer3", &all, &c3, 2),
        ];
        let result = Assignor::Sticky.assign(&group).unwrap();
        assert_eq!(counts(&group, &result), [4, 4, 4]);
        assert!(contains_all(&c2, &result.assignment["consumer2"]));
        assert!(contains_all(&c3, &result.assignment["consumer3"]));
        assert_valid(&group, &result, true);
    }
}

/// CooperativeStickyAssignorTest.testUniformSubscriptionTransferOwnershipListIsRight: with
/// rf 1 on racks a, b, a, b, each member owns one partition on the other rack; both move.
#[test]
fn cooperative_rack_moves_are_withheld() {
    let mut group = GroupSubscription::default();
    group.partitions_per_topic.insert("topic1".into(), 4);
    for p in 0..4u32 {
        let rack = if p % 2 == 0 { "a" } else { "b" };
        group
            .partition_racks
            .insert(TopicPartition::new("topic1", p), vec![rack.to_string()]);
    }
    for (id, rack, owned) in [
        ("c0", "a", ["topic1-0", "topic1-1"]),
        ("c1", "b", ["topic1-2", "topic1-3"]),
    ] {
        let mut member = owning(id, &["topic1"], &owned.map(tp), 1);
        member.rack = Some(rack.to_string());
        group.members.push(member);
    }
    let result = Assignor::CooperativeSticky.assign(&group).unwrap();
    let moving = result.partitions_transferring_ownership.unwrap();
    let moving: Vec<(String, &str)> = moving
        .iter()
        .map(|(p, m)| (p.to_string(), m.as_str()))
        .collect();
    assert_eq!(
        moving,
        [
            ("topic1-1".to_string(), "c1"),
            ("topic1-2".to_string(), "c0")
        ]
    );
    assert_eq!(result.assignment["c0"], [tp("topic1-0")]);
    assert_eq!(result.assignment["c1"], [tp("topic1-3")]);
}

fn set_of(partitions: &[TopicPartition]) -> BTreeSet<String> {
    partitions.iter().map(|p| p.to_string()).collect()
}

fn strs(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// AbstractStickyAssignorTest: owned partitions claimed with stale or multiple generations, and
/// a partition claimed twice in one generation; both sticky assignors.
#[test]
fn sticky_generation_claims_match_kafka_tests() {
    let both = ["topic", "topic2"];
    let mut group = GroupSubscription::default();
    group.partitions_per_topic.insert("topic".into(), 3);
    group.partitions_per_topic.insert("topic2".into(), 3);
    for assignor in [Assignor::Sticky, Assignor::CooperativeSticky] {
        // testOwnedPartitionsAreInvalidatedForConsumerWithStaleGeneration: generations 10 and 9.
        // testOwnedPartitionsAreInvalidatedForConsumerWithMultipleGeneration: 10 and 8.
        let cases = [
            (
                ["topic-0", "topic-2", "topic2-1"],
                ["topic-0", "topic-2", "topic2-1"],
                9,
                ["topic-1", "topic2-0", "topic2-2"],
            ),
            (
                ["topic-0", "topic2-1", "topic-1"],
                ["topic-0", "topic2-1", "topic2-2"],
                8,
                ["topic-2", "topic2-2", "topic2-0"],
            ),
        ];
        for (first, second, generation, expected) in cases {
            group.members = vec![
                owning("consumer1", &both, &first.map(tp), 10),
                owning("consumer2", &both, &second.map(tp), generation),
            ];
            let result = assignor.assign(&group).unwrap();
            assert_eq!(set_of(&result.assignment["consumer1"]), strs(&first));
            assert_eq!(set_of(&result.assignment["consumer2"]), strs(&expected));
            assert!(result.partitions_transferring_ownership.unwrap().is_empty());
        }
    }
    // testPartitionsTransferringOwnershipIncludeThePartitionClaimedByMultipleConsumersInSameGeneration
    let mut group = GroupSubscription::default();
    group.partitions_per_topic.insert("topic".into(), 3);
    group.members = vec![
        owning("consumer1", &["topic"], &[tp("topic-0"), tp("topic-1")], 1),
        owning("consumer2", &["topic"], &[tp("topic-0"), tp("topic-2")], 1),
        owning("consumer3", &["topic"], &[], 1),
    ];
    let result = Assignor::Sticky.assign(&group).unwrap();
    let moving = result.partitions_transferring_ownership.unwrap();
    assert_eq!(
        moving,
        BTreeMap::from([(tp("topic-0"), "consumer3".to_string())])
    );
    assert_eq!(result.assignment["consumer1"], [tp("topic-1")]);
    assert_eq!(result.assignment["consumer2"], [tp("topic-2")]);
    assert_eq!(result.assignment["consumer3"], [tp("topic-0")]);
}

/// AbstractStickyAssignorTest.testMoveExistingAssignments: unequal subscriptions take the
/// general path, where the eager assignor keeps no transferring map; six one-partition topics.
#[test]
fn sticky_general_path_has_no_transferring_map() {
    let mut group = GroupSubscription::default();
    for t in 1..=6 {
        group.partitions_per_topic.insert(format!("topic{t}"), 1);
    }
    group.members = vec![
        owning("consumer1", &["topic1", "topic2"], &[tp("topic1-0")], 1),
        owning(
            "consumer2",
            &["topic1", "topic2", "topic3", "topic4"],
            &[tp("topic2-0"), tp("topic3-0")],
            1,
        ),
        owning(
            "consumer3",
            &["topic2", "topic3", "topic4", "topic5", "topic6"],
            &[tp("topic4-0"), tp("topic5-0"), tp("topic6-0")],
            1,
        ),
    ];
    let result = Assignor::Sticky.assign(&group).unwrap();
    assert_eq!(result.partitions_transferring_ownership, None);
    assert_valid(&group, &result, true);
    assert_eq!(counts(&group, &result), [1, 2, 3]);
}

/// RangeAssignorTest: static members sort by instance id, before dynamic ones, whatever their
/// member ids (testTwoStaticConsumersTwoTopicsSixPartitions and its one-static variant).
#[test]
fn range_orders_static_members_by_instance_id() {
    for both_static in [true, false] {
        let mut group = GroupSubscription::default();
        group.partitions_per_topic.insert("topic1".into(), 3);
        group.partitions_per_topic.insert("topic2".into(), 3);
        let mut low = MemberSubscription::new("consumer-b", ["topic1", "topic2"]);
        low.group_instance_id = Some("instance1".into());
        let mut high = MemberSubscription::new("consumer-a", ["topic1", "topic2"]);
        if both_static {
            high.group_instance_id = Some("instance2".into());
        }
        group.members = vec![low, high];
        for assignor in [Assignor::Range, Assignor::RoundRobin] {
            let result = assignor.assign(&group).unwrap();
            let expected = if assignor == Assignor::Range {
                ["topic1-0", "topic1-1", "topic2-0", "topic2-1"].as_slice()
            } else {
                ["topic1-0", "topic1-2", "topic2-1"].as_slice()
            };
            assert_eq!(
                set_of(&result.assignment["consumer-b"]),
                strs(expected),
                "{assignor:?}"
            );
        }
    }
}

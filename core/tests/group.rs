//! The classic group state machine at the coordinator (`SEMANTICS.md` §4.2), driven request by
//! request: member ids (KIP-394), the initial delay, join and sync phases, heartbeats, leaving,
//! session expiry, static membership (KIP-345), protocol selection and commit validation.

use kafka_sim::assignor::MemberSubscription;
use kafka_sim::group::{
    ClassicGroup, GroupEffect, GroupSettings, GroupState, JoinProtocol, JoinRequest, JoinResult,
    Parked,
};
use kafka_sim::metadata::TopicPartition;
use kafka_sim::network::NodeId;
use kafka_sim::KafkaError;
use std::collections::BTreeMap;

const SESSION_MS: u64 = 45_000;
const REBALANCE_MS: u64 = 300_000;

fn parked(client: u32, request_id: u64) -> Parked {
    Parked {
        client: NodeId::Consumer(client),
        request_id,
    }
}

fn request(member_id: &str, client: &str, assignors: &[&str]) -> JoinRequest {
    JoinRequest {
        member_id: member_id.to_string(),
        group_instance_id: None,
        client_id: client.to_string(),
        session_timeout_ms: SESSION_MS,
        rebalance_timeout_ms: REBALANCE_MS,
        protocols: assignors
            .iter()
            .map(|name| JoinProtocol {
                name: name.to_string(),
                subscription: MemberSubscription::new("", ["orders"]),
            })
            .collect(),
    }
}

/// Member ids as the coordinator makes them, with a counter standing in for the UUID.
fn ids() -> impl FnMut(&str) -> String {
    let mut n = 0;
    move |prefix: &str| {
        n += 1;
        format!("{prefix}-{n}")
    }
}

fn joins(effects: &[GroupEffect]) -> Vec<(Parked, JoinResult)> {
    effects
        .iter()
        .filter_map(|e| match e {
            GroupEffect::Join { to, result } => Some((*to, result.clone())),
            _ => None,
        })
        .collect()
}

fn syncs(effects: &[GroupEffect]) -> Vec<(Parked, Result<Vec<TopicPartition>, KafkaError>)> {
    effects
        .iter()
        .filter_map(|e| match e {
            GroupEffect::Sync { to, result } => Some((*to, result.clone())),
            _ => None,
        })
        .collect()
}

fn scheduled_joins(effects: &[GroupEffect]) -> Vec<(u64, u64)> {
    effects
        .iter()
        .filter_map(|e| match e {
            GroupEffect::ScheduleJoin {
                after_ms,
                join_epoch,
            } => Some((*after_ms, *join_epoch)),
            _ => None,
        })
        .collect()
}

fn tp(partition: u32) -> TopicPartition {
    TopicPartition::new("orders", partition)
}

/// A member joins a group for the first time: MEMBER_ID_REQUIRED, then a join with that id.
/// Returns its member id and the effects of the second join.
fn join_new(
    group: &mut ClassicGroup,
    client: u32,
    now_ms: u64,
    new_id: &mut dyn FnMut(&str) -> String,
) -> (String, Vec<GroupEffect>) {
    let settings = GroupSettings::default();
    let name = format!("c{client}");
    let first = group.join(
        parked(client, 1),
        request("", &name, &["range", "cooperative-sticky"]),
        now_ms,
        &settings,
        new_id,
    );
    let answers = joins(&first);
    assert_eq!(answers.len(), 1);
    let Err((KafkaError::MemberIdRequired, member_id)) = &answers[0].1 else {
        panic!("expected MEMBER_ID_REQUIRED, got {:?}", answers[0].1)
    };
    assert!(member_id.starts_with(&format!("{name}-")));
    assert!(group.pending_members.contains(member_id));
    assert!(!group.members.contains_key(member_id));
    let second = group.join(
        parked(client, 2),
        request(member_id, &name, &["range", "cooperative-sticky"]),
        now_ms,
        &settings,
        new_id,
    );
    (member_id.clone(), second)
}

/// Two members through the initial delay and the leader's sync: a stable group in generation 1.
fn stable_pair() -> (ClassicGroup, String, String) {
    let mut new_id = ids();
    let mut group = ClassicGroup::new("g");
    let (a, effects) = join_new(&mut group, 0, 0, &mut new_id);
    let (_, epoch) = scheduled_joins(&effects)[0];
    let (b, _) = join_new(&mut group, 1, 100, &mut new_id);
    // The delay is extended once because b arrived, then the join completes.
    let again = group.complete_join(epoch);
    assert_eq!(scheduled_joins(&again), vec![(3_000, epoch)]);
    let done = group.complete_join(epoch);
    assert_eq!(joins(&done).len(), 2);
    let assignment = BTreeMap::from([(a.clone(), vec![tp(0), tp(1)]), (b.clone(), vec![tp(2)])]);
    group.sync(parked(1, 3), &b, 1, None, 3_100);
    let synced = group.sync(parked(0, 3), &a, 1, Some(assignment), 3_100);
    assert_eq!(syncs(&synced).len(), 2);
    assert_eq!(group.state, GroupState::Stable);
    (group, a, b)
}

#[test]
fn a_new_member_gets_its_id_first_then_waits_out_the_initial_delay() {
    let settings = GroupSettings::default();
    let mut new_id = ids();
    let mut group = ClassicGroup::new("g");
    let (a, effects) = join_new(&mut group, 0, 0, &mut new_id);
    assert_eq!(group.state, GroupState::PreparingRebalance);
    assert!(group.members.contains_key(&a));
    assert!(group.pending_members.is_empty());
    // The group was empty: the join waits group.initial.rebalance.delay.ms, and nobody is
    // answered yet even though every member has joined.
    let scheduled = scheduled_joins(&effects);
    assert_eq!(scheduled.len(), 1);
    assert_eq!(scheduled[0].0, settings.initial_rebalance_delay_ms);
    assert!(joins(&effects).is_empty());
    // No one else came: the join phase completes with generation 1 and a as leader.
    let done = group.complete_join(scheduled[0].1);
    assert_eq!(group.state, GroupState::CompletingRebalance);
    assert_eq!(group.generation_id, 1);
    assert_eq!(group.leader_id.as_deref(), Some(a.as_str()));
    assert_eq!(group.protocol_name.as_deref(), Some("range"));
    let answers = joins(&done);
    assert_eq!(answers.len(), 1);
    let response = answers[0].1.clone().unwrap();
    assert_eq!(response.generation_id, 1);
    assert_eq!(response.leader, a);
    assert_eq!(
        response.members.len(),
        1,
        "the leader gets the subscriptions"
    );
    assert_eq!(response.members[0].member_id, a);
    assert!(done.contains(&GroupEffect::Persist));
    // A stale timer of the finished join phase changes nothing.
    assert!(group.complete_join(scheduled[0].1).is_empty());
}

#[test]
fn members_arriving_during_the_initial_delay_extend_it_up_to_the_rebalance_timeout() {
    let mut new_id = ids();
    let mut group = ClassicGroup::new("g");
    let (_, effects) = join_new(&mut group, 0, 0, &mut new_id);
    let (_, epoch) = scheduled_joins(&effects)[0];
    let mut waits = 0;
    // A new member arrives in every window: each time the group waits another 3 s, and the
    // windows end once they add up to the rebalance timeout (300 s: 100 windows).
    for client in 1..200 {
        join_new(&mut group, client, 0, &mut new_id);
        let next = group.complete_join(epoch);
        if group.state != GroupState::PreparingRebalance {
            break;
        }
        assert_eq!(scheduled_joins(&next), vec![(3_000, epoch)]);
        waits += 1;
    }
    assert_eq!(waits, 99, "the first window and 99 more make 300 s");
    assert_eq!(group.state, GroupState::CompletingRebalance);
}

#[test]
fn followers_wait_in_sync_until_the_leader_sends_the_assignment() {
    let mut new_id = ids();
    let mut group = ClassicGroup::new("g");
    let (a, effects) = join_new(&mut group, 0, 0, &mut new_id);
    let (_, epoch) = scheduled_joins(&effects)[0];
    let (b, _) = join_new(&mut group, 1, 10, &mut new_id);
    group.complete_join(epoch);
    let done = group.complete_join(epoch);
    let answers = joins(&done);
    let leader_view = answers
        .iter()
        .find(|(to, _)| to.client == NodeId::Consumer(0))
        .unwrap()
        .1
        .clone()
        .unwrap();
    let follower_view = answers
        .iter()
        .find(|(to, _)| to.client == NodeId::Consumer(1))
        .unwrap()
        .1
        .clone()
        .unwrap();
    assert_eq!(leader_view.members.len(), 2);
    assert!(follower_view.members.is_empty());
    assert_eq!(follower_view.leader, a);

    // The follower syncs first and is parked.
    let parked_sync = group.sync(parked(1, 9), &b, 1, None, 20);
    assert!(syncs(&parked_sync).is_empty());
    assert_eq!(group.state, GroupState::CompletingRebalance);
    // A sync of another generation is refused.
    let stale = group.sync(parked(1, 10), &b, 0, None, 20);
    assert_eq!(syncs(&stale)[0].1, Err(KafkaError::IllegalGeneration));
    // The leader's assignment makes the group stable and answers both.
    let assignment = BTreeMap::from([(a.clone(), vec![tp(0), tp(1)]), (b.clone(), vec![tp(2)])]);
    let synced = group.sync(parked(0, 11), &a, 1, Some(assignment), 30);
    assert_eq!(group.state, GroupState::Stable);
    let mut answers = syncs(&synced);
    answers.sort_by_key(|(to, _)| *to);
    assert_eq!(
        answers,
        vec![
            (parked(0, 11), Ok(vec![tp(0), tp(1)])),
            (parked(1, 9), Ok(vec![tp(2)])),
        ]
    );
    // A late sync in the stable group gets the stored assignment at once.
    let again = group.sync(parked(1, 12), &b, 1, None, 40);
    assert_eq!(syncs(&again), vec![(parked(1, 12), Ok(vec![tp(2)]))]);
}

#[test]
fn heartbeats_tell_members_about_rebalances_and_stale_generations() {
    let settings = GroupSettings::default();
    let (mut group, a, b) = stable_pair();
    assert_eq!(group.heartbeat(&a, 1, 4_000), Ok(()));
    assert_eq!(
        group.heartbeat(&a, 0, 4_000),
        Err(KafkaError::IllegalGeneration)
    );
    assert_eq!(
        group.heartbeat("nobody", 1, 4_000),
        Err(KafkaError::UnknownMemberId)
    );
    // b leaves: a's next heartbeat says to rejoin.
    let left = group.leave(&b, &settings).unwrap();
    assert_eq!(group.state, GroupState::PreparingRebalance);
    assert!(!group.members.contains_key(&b));
    assert_eq!(
        group.heartbeat(&a, 1, 5_000),
        Err(KafkaError::RebalanceInProgress)
    );
    // Not an initial rebalance: it waits up to the rebalance timeout, but completes as soon as
    // a (the only member) rejoins.
    assert_eq!(scheduled_joins(&left)[0].0, REBALANCE_MS);
    let rejoin = group.join(
        parked(0, 20),
        request(&a, "c0", &["range", "cooperative-sticky"]),
        5_100,
        &settings,
        &mut ids(),
    );
    assert_eq!(group.state, GroupState::CompletingRebalance);
    assert_eq!(group.generation_id, 2);
    assert_eq!(joins(&rejoin)[0].1.as_ref().unwrap().generation_id, 2);
    assert_eq!(
        group.leave("nobody", &settings),
        Err(KafkaError::UnknownMemberId)
    );
}

#[test]
fn a_member_without_heartbeats_for_its_session_timeout_is_removed() {
    let settings = GroupSettings::default();
    let (mut group, a, b) = stable_pair();
    // a keeps heartbeating; b's last sign of life was its sync at 3.1 s.
    assert_eq!(group.heartbeat(&a, 1, 40_000), Ok(()));
    let early = group.expire_member(&a, 45_000, &settings);
    assert!(group.members.contains_key(&a));
    assert!(
        early
            .iter()
            .any(|e| matches!(e, GroupEffect::ScheduleExpiry { member_id, after_ms } if member_id == &a && *after_ms == 40_000)),
        "checked again when a's session would end: {early:?}"
    );
    let expired = group.expire_member(&b, 3_100 + SESSION_MS, &settings);
    assert!(!group.members.contains_key(&b));
    assert_eq!(group.state, GroupState::PreparingRebalance);
    assert!(expired
        .iter()
        .any(|e| matches!(e, GroupEffect::ScheduleJoin { .. })));
}

#[test]
fn a_dynamic_member_that_does_not_rejoin_is_dropped_when_the_join_phase_times_out() {
    let settings = GroupSettings::default();
    let (mut group, a, b) = stable_pair();
    // a changes its subscription, which starts a rebalance; b never rejoins.
    let mut changed = request(&a, "c0", &["range", "cooperative-sticky"]);
    changed.protocols[0]
        .subscription
        .topics
        .push("payments".to_string());
    let effects = group.join(parked(0, 30), changed, 10_000, &settings, &mut ids());
    assert_eq!(group.state, GroupState::PreparingRebalance);
    let (after, epoch) = scheduled_joins(&effects)[0];
    assert_eq!(after, REBALANCE_MS);
    let done = group.complete_join(epoch);
    assert!(!group.members.contains_key(&b));
    assert_eq!(group.members.len(), 1);
    assert_eq!(group.generation_id, 2);
    assert_eq!(joins(&done).len(), 1);
}

#[test]
fn a_static_member_coming_back_keeps_its_assignment_without_a_rebalance() {
    let settings = GroupSettings::default();
    let mut new_id = ids();
    let mut group = ClassicGroup::new("g");
    let mut join = request("", "c0", &["range"]);
    join.group_instance_id = Some("instance-a".to_string());
    // A static member joins without the MEMBER_ID_REQUIRED round trip.
    let effects = group.join(parked(0, 1), join.clone(), 0, &settings, &mut new_id);
    assert!(joins(&effects).is_empty());
    let a = group.static_members["instance-a"].clone();
    assert_eq!(a, "instance-a-1");
    let (_, epoch) = scheduled_joins(&effects)[0];
    group.complete_join(epoch);
    let assignment = BTreeMap::from([(a.clone(), vec![tp(0), tp(1), tp(2)])]);
    group.sync(parked(0, 2), &a, 1, Some(assignment), 3_000);
    assert_eq!(group.state, GroupState::Stable);

    // The process restarts and joins again with the same instance id and no member id.
    let back = group.join(parked(0, 3), join, 20_000, &settings, &mut new_id);
    assert_eq!(group.state, GroupState::Stable, "no rebalance");
    assert_eq!(group.generation_id, 1);
    let new_a = group.static_members["instance-a"].clone();
    assert_ne!(new_a, a);
    let response = joins(&back)[0].1.clone().unwrap();
    assert_eq!(response.member_id, new_a);
    assert_eq!(response.generation_id, 1);
    assert!(
        response.skip_assignment,
        "it was the leader: the assignment stands"
    );
    let synced = group.sync(parked(0, 4), &new_a, 1, None, 20_010);
    assert_eq!(syncs(&synced)[0].1, Ok(vec![tp(0), tp(1), tp(2)]));
    // The old incarnation is fenced.
    assert_eq!(
        group.heartbeat(&a, 1, 20_020),
        Err(KafkaError::UnknownMemberId)
    );
    let mut old = request(&a, "c0", &["range"]);
    old.group_instance_id = Some("instance-a".to_string());
    let fenced = group.join(parked(0, 5), old, 20_030, &settings, &mut new_id);
    assert_eq!(
        joins(&fenced)[0].1,
        Err((KafkaError::FencedInstanceId, String::new()))
    );
}

#[test]
fn the_group_chooses_the_assignor_most_members_prefer_among_those_all_support() {
    let settings = GroupSettings::default();
    let mut new_id = ids();
    let mut group = ClassicGroup::new("g");
    let first = group.join(
        parked(0, 1),
        request("", "c0", &["range", "cooperative-sticky"]),
        0,
        &settings,
        &mut new_id,
    );
    let Err((_, a)) = &joins(&first)[0].1 else {
        panic!()
    };
    let effects = group.join(
        parked(0, 2),
        request(a, "c0", &["range", "cooperative-sticky"]),
        0,
        &settings,
        &mut new_id,
    );
    let (_, epoch) = scheduled_joins(&effects)[0];
    // The second member supports only cooperative-sticky: the only common choice.
    let second = group.join(
        parked(1, 1),
        request("", "c1", &["cooperative-sticky"]),
        0,
        &settings,
        &mut new_id,
    );
    let Err((_, b)) = &joins(&second)[0].1 else {
        panic!()
    };
    group.join(
        parked(1, 2),
        request(b, "c1", &["cooperative-sticky"]),
        0,
        &settings,
        &mut new_id,
    );
    // A third supporting only roundrobin shares nothing with them.
    let third = group.join(
        parked(2, 1),
        request("", "c2", &["roundrobin"]),
        0,
        &settings,
        &mut new_id,
    );
    assert_eq!(
        joins(&third)[0].1,
        Err((KafkaError::InconsistentGroupProtocol, String::new()))
    );
    group.complete_join(epoch);
    group.complete_join(epoch);
    assert_eq!(group.protocol_name.as_deref(), Some("cooperative-sticky"));
}

#[test]
fn a_session_timeout_outside_the_brokers_bounds_is_refused() {
    let settings = GroupSettings::default();
    let mut group = ClassicGroup::new("g");
    let mut join = request("", "c0", &["range"]);
    join.session_timeout_ms = 1_000;
    let effects = group.join(parked(0, 1), join, 0, &settings, &mut ids());
    assert_eq!(
        joins(&effects)[0].1,
        Err((KafkaError::InvalidSessionTimeout, String::new()))
    );
    assert_eq!(group.state, GroupState::Empty);
    assert!(group.pending_members.is_empty());
}

#[test]
fn commits_are_checked_against_the_generation_and_the_members() {
    let settings = GroupSettings::default();
    let empty = ClassicGroup::new("g");
    // A consumer outside the group protocol commits with generation -1 and no member id.
    assert_eq!(empty.validate_commit("", -1), Ok(()));
    assert_eq!(
        empty.validate_commit("m", 1),
        Err(KafkaError::UnknownMemberId)
    );
    let (mut group, a, b) = stable_pair();
    assert_eq!(group.validate_commit(&a, 1), Ok(()));
    assert_eq!(
        group.validate_commit(&a, 0),
        Err(KafkaError::IllegalGeneration)
    );
    assert_eq!(
        group.validate_commit("nobody", 1),
        Err(KafkaError::UnknownMemberId)
    );
    assert_eq!(
        group.validate_commit("", -1),
        Err(KafkaError::UnknownMemberId)
    );
    // While the group prepares a rebalance, commits of the current generation still succeed
    // (members commit what they processed before rejoining).
    group.leave(&b, &settings).unwrap();
    assert_eq!(group.state, GroupState::PreparingRebalance);
    assert_eq!(group.validate_commit(&a, 1), Ok(()));
}

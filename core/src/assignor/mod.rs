//! Kafka's client-side partition assignors (`SEMANTICS.md` §5), faithful to the Java client.
//!
//! In the classic group protocol the group leader, a consumer, computes everyone's partitions:
//! the coordinator hands it every member's subscription and it runs the assignor the group
//! agreed on. These are ports of the four built-in ones:
//! * [`range`]: per topic, contiguous ranges over the members in order (rack-aware since 3.5);
//! * [`round_robin`]: all partitions dealt over all members in turn;
//! * [`sticky`]: Kafka's `AbstractStickyAssignor`, balanced and keeping owned partitions, used
//!   eagerly by `sticky` and by [`cooperative_sticky`], which withholds partitions changing owner
//!   for one rebalance.
//!
//! Where Java's result depends on the iteration order of a `HashMap` of members (which member
//! keeps a contested maximum quota, which claim wins a tie), the order is replayed by
//! [`crate::java`]: members are taken as put into a fresh `HashMap` in the order given in
//! [`GroupSubscription::members`], which is how the group leader fills it from the JoinGroup
//! response.
//!
//! Where this port departs from Kafka, it is on input Kafka's clients do not produce or where
//! Kafka fails:
//! * owned partitions beyond a topic's partition count are ignored (Kafka keeps them, and its
//!   merge of owned and unassigned partitions can then hand a partition out twice);
//! * a group without members gets an empty assignment (Kafka divides by the member count);
//! * where Kafka's code throws (`IllegalStateException`, or a `NullPointerException` in the
//!   sticky general path), [`Assignor::assign`] returns an [`ErrorKind::InvalidAssignment`];
//! * Kafka's sticky assignor object remembers the highest generation it has seen across calls;
//!   each call here starts afresh, which only differs if generations go backwards.
//!
//! ```
//! use kafka_sim::assignor::{Assignor, GroupSubscription, MemberSubscription};
//! let mut group = GroupSubscription::default();
//! group.partitions_per_topic.insert("orders".to_string(), 3);
//! for id in ["c1", "c2"] {
//!     group.members.push(MemberSubscription::new(id, ["orders"]));
//! }
//! let result = Assignor::Range.assign(&group).unwrap();
//! let c1: Vec<String> = result.assignment["c1"].iter().map(|tp| tp.to_string()).collect();
//! assert_eq!(c1, ["orders-0", "orders-1"]);
//! ```

mod constrained;
pub mod cooperative_sticky;
mod general;
mod movements;
pub mod rack;
pub mod range;
pub mod round_robin;
pub mod sticky;

use crate::error::{Error, ErrorKind, Result};
use crate::java::{compare_java_strings, hash_map_iteration_order, string_hash_code};
use crate::metadata::TopicPartition;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// At most this many partitions over all subscribed topics, so that a mistyped count cannot
/// make the assignor allocate without bound.
pub const MAX_PARTITIONS: u64 = 1_000_000;

/// One member's part of a JoinGroup: what it subscribes to and what it owns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSubscription {
    /// The member id the coordinator gave it.
    pub member_id: String,
    /// `group.instance.id` of a static member; static members sort before dynamic ones.
    pub group_instance_id: Option<String>,
    /// `client.rack`; an empty rack counts as none, as in Kafka.
    pub rack: Option<String>,
    /// The subscribed topics (a set: order and repetition do not matter).
    pub topics: Vec<String>,
    /// The partitions it owned in its last generation (cooperative protocol fields, or the
    /// sticky assignor's user data). Partitions of topics that are not subscribed by anyone, or
    /// beyond a topic's partition count, are ignored.
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation of that ownership; `None` behaves as Kafka's `DEFAULT_GENERATION` (−1),
    /// with one difference: the eager `sticky` assignor reads ownership from its user data,
    /// which a member sends (with its generation) only once it has had an assignment, so for
    /// it a member without a generation owns nothing.
    pub generation: Option<i32>,
}

impl MemberSubscription {
    /// A dynamic member without a rack, owning nothing.
    pub fn new<T: Into<String>>(
        member_id: impl Into<String>,
        topics: impl IntoIterator<Item = T>,
    ) -> MemberSubscription {
        MemberSubscription {
            member_id: member_id.into(),
            topics: topics.into_iter().map(Into::into).collect(),
            ..MemberSubscription::default()
        }
    }
}

/// Everything an assignor sees: the members and the metadata of their topics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSubscription {
    /// The members, in the order the leader received them.
    pub members: Vec<MemberSubscription>,
    /// Partition count per topic. Topics nobody subscribes to, and topics with no partitions,
    /// are left out, as Kafka's leader does with its metadata.
    pub partitions_per_topic: BTreeMap<String, u32>,
    /// The racks of each partition's replicas. A partition missing here has replicas without
    /// racks. Only rack-aware assignment reads it.
    pub partition_racks: BTreeMap<TopicPartition, Vec<String>>,
    /// Kafka's test-only switch (`preferRackAwareLogic`) that uses the rack-aware algorithms even
    /// when every partition has replicas on every rack. Off in real clients.
    pub prefer_rack_aware_logic: bool,
}

/// What the group leader sends back in SyncGroup.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupAssignment {
    /// Every member's partitions, sorted by topic (as Java orders strings) and partition.
    pub assignment: BTreeMap<String, Vec<TopicPartition>>,
    /// The partitions the sticky assignors give to a member other than their current owner,
    /// with the new owner. Kafka tracks this for the sticky assignors only when all
    /// subscriptions are equal (and `cooperative-sticky` computes it otherwise); `None` where
    /// Kafka has no such map.
    pub partitions_transferring_ownership: Option<BTreeMap<TopicPartition, String>>,
}

/// The rebalance protocols of the classic consumer group (`ConsumerPartitionAssignor`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RebalanceProtocol {
    /// Every member revokes all its partitions before rejoining.
    Eager,
    /// Members keep their partitions through a rebalance and revoke only what moves away.
    Cooperative,
}

impl fmt::Display for RebalanceProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RebalanceProtocol::Eager => "EAGER",
            RebalanceProtocol::Cooperative => "COOPERATIVE",
        })
    }
}

/// The built-in assignors of `partition.assignment.strategy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Assignor {
    /// `RangeAssignor`.
    Range,
    /// `RoundRobinAssignor`.
    RoundRobin,
    /// `StickyAssignor` (eager).
    Sticky,
    /// `CooperativeStickyAssignor`.
    CooperativeSticky,
}

/// Kafka's default `partition.assignment.strategy`: range first, so a group of default clients
/// votes for range and rebalances eagerly, and cooperative-sticky listed to allow a rolling
/// upgrade to it.
pub const DEFAULT_ASSIGNORS: [Assignor; 2] = [Assignor::Range, Assignor::CooperativeSticky];

impl Assignor {
    /// All built-in assignors.
    pub const ALL: [Assignor; 4] = [
        Assignor::Range,
        Assignor::RoundRobin,
        Assignor::Sticky,
        Assignor::CooperativeSticky,
    ];

    /// The protocol name members advertise in JoinGroup (`ConsumerPartitionAssignor.name()`).
    pub fn name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundrobin",
            Assignor::Sticky => "sticky",
            Assignor::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// The assignor with this protocol name.
    pub fn from_name(name: &str) -> Option<Assignor> {
        Assignor::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The rebalance protocols it supports, in Kafka's order.
    pub fn supported_protocols(self) -> &'static [RebalanceProtocol] {
        match self {
            Assignor::CooperativeSticky => {
                &[RebalanceProtocol::Cooperative, RebalanceProtocol::Eager]
            }
            _ => &[RebalanceProtocol::Eager],
        }
    }

    /// Computes the group's assignment, as the leader's call of this assignor would.
    pub fn assign(self, group: &GroupSubscription) -> Result<GroupAssignment> {
        let prepared = Prepared::new(group, self)?;
        let (owners, transferring) = match self {
            Assignor::Range => (range::assign(&prepared), None),
            Assignor::RoundRobin => (round_robin::assign(&prepared), None),
            Assignor::Sticky => {
                let result = sticky::assign(&prepared)?;
                (result.assignment, result.transferring)
            }
            Assignor::CooperativeSticky => {
                let result = cooperative_sticky::assign(&prepared)?;
                (result.assignment, result.transferring)
            }
        };
        Ok(prepared.result(owners, transferring))
    }
}

/// The rebalance protocol a consumer with these assignors uses: the highest one that all of
/// them support (`ConsumerCoordinator`), or `None` if they share none.
pub fn rebalance_protocol(assignors: &[Assignor]) -> Option<RebalanceProtocol> {
    let mut common: BTreeSet<RebalanceProtocol> =
        [RebalanceProtocol::Eager, RebalanceProtocol::Cooperative].into();
    for assignor in assignors {
        common.retain(|p| assignor.supported_protocols().contains(p));
    }
    common.last().copied()
}

/// A topic that some member subscribes to and that has partitions.
#[derive(Clone, Debug)]
pub(crate) struct Topic {
    pub(crate) name: String,
    /// Its number of partitions (at least one).
    pub(crate) partitions: usize,
    /// The index of its partition 0 in [`Prepared::partitions`].
    pub(crate) first: usize,
}

/// The input, validated and indexed: members by position, partitions by a global index in
/// Kafka's `TopicPartition` order (topic as Java compares strings, then partition number).
pub(crate) struct Prepared<'a> {
    pub(crate) group: &'a GroupSubscription,
    /// Subscribed topics with partitions, in Java string order.
    pub(crate) topics: Vec<Topic>,
    /// For each partition, the index of its topic in `topics` and its number.
    pub(crate) partitions: Vec<(usize, usize)>,
    /// Each member's subscribed topics that exist, as indexes into `topics`, ascending.
    pub(crate) member_topics: Vec<Vec<usize>>,
    /// Each member's subscribed topic names, deduplicated (existing or not).
    pub(crate) member_topic_names: Vec<BTreeSet<&'a str>>,
    /// Each member's valid owned partitions in the order given.
    pub(crate) owned: Vec<Vec<usize>>,
    /// Each member's rack, empty racks removed.
    pub(crate) racks: Vec<Option<&'a str>>,
    /// Member indexes in the iteration order of Java's `HashMap` of member ids.
    pub(crate) hash_order: Vec<usize>,
    /// The distinct racks of each partition's replicas; filled only when some member has a
    /// rack, since only then can rack-aware assignment apply.
    pub(crate) replica_racks: Vec<BTreeSet<&'a str>>,
    /// Each member's rank when member ids are sorted as Java strings.
    pub(crate) id_rank: Vec<usize>,
    /// All members in `MemberInfo` order; equal ones (a repeated instance id) stay in hash
    /// order, as Java's stable sort of a list built from the member map leaves them.
    pub(crate) by_member_info: Vec<usize>,
}

impl<'a> Prepared<'a> {
    fn new(group: &'a GroupSubscription, assignor: Assignor) -> Result<Prepared<'a>> {
        let invalid = |message: String| Error::new(ErrorKind::InvalidAssignment, message);
        let mut seen = BTreeSet::new();
        for member in &group.members {
            if !seen.insert(member.member_id.as_str()) {
                return Err(invalid(format!(
                    "member id {:?} appears twice in the group",
                    member.member_id
                )));
            }
        }
        let subscribed: BTreeSet<&str> = group
            .members
            .iter()
            .flat_map(|m| m.topics.iter().map(String::as_str))
            .collect();
        let mut names: Vec<(&String, u32)> = group
            .partitions_per_topic
            .iter()
            .filter(|(name, &count)| count > 0 && subscribed.contains(name.as_str()))
            .map(|(name, &count)| (name, count))
            .collect();
        names.sort_by(|a, b| compare_java_strings(a.0, b.0));
        let total: u64 = names.iter().map(|(_, count)| u64::from(*count)).sum();
        if total > MAX_PARTITIONS {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!("the subscribed topics have {total} partitions; the assignors accept at most {MAX_PARTITIONS}"),
            ));
        }
        let mut topics = Vec::with_capacity(names.len());
        let mut partitions = Vec::new();
        for (index, (name, count)) in names.into_iter().enumerate() {
            // At most MAX_PARTITIONS in total, so every count fits in a usize.
            let count = count as usize;
            topics.push(Topic {
                name: name.clone(),
                partitions: count,
                first: partitions.len(),
            });
            partitions.extend((0..count).map(|p| (index, p)));
        }
        let mut prepared = Prepared {
            group,
            topics,
            partitions,
            member_topics: Vec::new(),
            member_topic_names: Vec::new(),
            owned: Vec::new(),
            racks: Vec::new(),
            hash_order: Vec::new(),
            replica_racks: Vec::new(),
            id_rank: vec![0; group.members.len()],
            by_member_info: Vec::new(),
        };
        for member in &group.members {
            let names: BTreeSet<&str> = member.topics.iter().map(String::as_str).collect();
            let mut topics: Vec<usize> = names
                .iter()
                .filter_map(|name| prepared.topic_index(name))
                .collect();
            topics.sort_unstable();
            // The eager sticky assignor has no user data from a member that reports no
            // generation, hence no ownership.
            let has_user_data = assignor != Assignor::Sticky || member.generation.is_some();
            let owned = member
                .owned_partitions
                .iter()
                .filter(|_| has_user_data)
                .filter_map(|tp| prepared.partition_index(tp))
                .collect();
            prepared.member_topics.push(topics);
            prepared.member_topic_names.push(names);
            prepared.owned.push(owned);
            prepared
                .racks
                .push(member.rack.as_deref().filter(|rack| !rack.is_empty()));
        }
        if prepared.racks.iter().any(Option::is_some) {
            prepared.replica_racks = vec![BTreeSet::new(); prepared.partitions.len()];
            for (tp, racks) in &group.partition_racks {
                if let Some(p) = prepared.partition_index(tp) {
                    prepared.replica_racks[p] = racks.iter().map(String::as_str).collect();
                }
            }
        }
        let hashes: Vec<i32> = group
            .members
            .iter()
            .map(|m| string_hash_code(&m.member_id))
            .collect();
        prepared.hash_order = hash_map_iteration_order(&hashes);
        let mut by_id: Vec<usize> = (0..group.members.len()).collect();
        by_id.sort_by(|&a, &b| prepared.compare_ids(a, b));
        for (rank, member) in by_id.into_iter().enumerate() {
            prepared.id_rank[member] = rank;
        }
        let mut by_member_info = prepared.hash_order.clone();
        by_member_info.sort_by(|&a, &b| prepared.compare_member_info(a, b));
        prepared.by_member_info = by_member_info;
        Ok(prepared)
    }

    /// The number of members.
    pub(crate) fn member_count(&self) -> usize {
        self.group.members.len()
    }

    /// A member's id.
    pub(crate) fn member_id(&self, member: usize) -> &'a str {
        &self.group.members[member].member_id
    }

    /// Orders two members by id as Java's `String.compareTo` does.
    fn compare_ids(&self, a: usize, b: usize) -> Ordering {
        compare_java_strings(self.member_id(a), self.member_id(b))
    }

    /// `AbstractPartitionAssignor.MemberInfo` order: static members first, by instance id, then
    /// dynamic members by member id.
    pub(crate) fn compare_member_info(&self, a: usize, b: usize) -> Ordering {
        let instance = |m: usize| self.group.members[m].group_instance_id.as_deref();
        match (instance(a), instance(b)) {
            (Some(x), Some(y)) => compare_java_strings(x, y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => self.id_rank[a].cmp(&self.id_rank[b]),
        }
    }

    /// The members that `include` selects, in `MemberInfo` order.
    pub(crate) fn members_by_member_info(&self, include: impl Fn(usize) -> bool) -> Vec<usize> {
        self.by_member_info
            .iter()
            .copied()
            .filter(|&m| include(m))
            .collect()
    }

    /// The index of a topic in `topics`, if it is subscribed and has partitions.
    pub(crate) fn topic_index(&self, name: &str) -> Option<usize> {
        self.topics
            .binary_search_by(|t| compare_java_strings(&t.name, name))
            .ok()
    }

    /// The global index of a partition, if its topic is known and the number is in range.
    pub(crate) fn partition_index(&self, tp: &TopicPartition) -> Option<usize> {
        let topic = &self.topics[self.topic_index(&tp.topic)?];
        let number = usize::try_from(tp.partition).ok()?;
        (number < topic.partitions).then_some(topic.first + number)
    }

    /// The `TopicPartition` of a global index.
    pub(crate) fn topic_partition(&self, partition: usize) -> TopicPartition {
        let (topic, number) = self.partitions[partition];
        // Partition numbers come from u32 counts.
        TopicPartition::new(self.topics[topic].name.clone(), number as u32)
    }

    /// Java's `TopicPartition.hashCode`: `31 · (31 + partition) + topic.hashCode()`, wrapping.
    pub(crate) fn partition_hash_code(&self, partition: usize) -> i32 {
        let (topic, number) = self.partitions[partition];
        let number = number as i32;
        31i32
            .wrapping_mul(31i32.wrapping_add(number))
            .wrapping_add(string_hash_code(&self.topics[topic].name))
    }

    /// Whether a member subscribes to a topic (by index).
    pub(crate) fn subscribes(&self, member: usize, topic: usize) -> bool {
        self.member_topics[member].binary_search(&topic).is_ok()
    }

    /// Turns per-member partition lists into the public result.
    fn result(
        &self,
        owners: Vec<Vec<usize>>,
        transferring: Option<BTreeMap<usize, usize>>,
    ) -> GroupAssignment {
        let assignment = owners
            .into_iter()
            .enumerate()
            .map(|(member, mut partitions)| {
                // The global index order is Kafka's TopicPartition order.
                partitions.sort_unstable();
                let list = partitions
                    .into_iter()
                    .map(|p| self.topic_partition(p))
                    .collect();
                (self.member_id(member).to_string(), list)
            })
            .collect();
        let partitions_transferring_ownership = transferring.map(|map| {
            map.into_iter()
                .map(|(p, member)| (self.topic_partition(p), self.member_id(member).to_string()))
                .collect()
        });
        GroupAssignment {
            assignment,
            partitions_transferring_ownership,
        }
    }
}

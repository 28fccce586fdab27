//! Cluster metadata as the controller records it: topics, partitions, their replicas, ISR, leader
//! and epochs, and the pure leader-election rule (`SEMANTICS.md` §3.6).

use crate::config::TopicConfig;
use crate::BrokerId;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A topic name and partition number, written `topic-partition` as Kafka prints it.
///
/// The name is shared (`Arc<str>`): partition names travel in every request, response and
/// purgatory entry, and a copy must cost neither an allocation nor, when two names are the same
/// allocation, a comparison of their bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    /// The topic name.
    pub topic: Arc<str>,
    /// The partition number.
    pub partition: u32,
}

impl TopicPartition {
    /// `topic`-`partition`.
    pub fn new(topic: impl Into<Arc<str>>, partition: u32) -> TopicPartition {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }

    /// Parses `topic-partition`; the partition is after the last dash.
    pub fn parse(text: &str) -> Option<TopicPartition> {
        let (topic, partition) = text.rsplit_once('-')?;
        if topic.is_empty() {
            return None;
        }
        Some(TopicPartition::new(topic, partition.parse().ok()?))
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

// As a string, so that maps keyed by partition serialize to JSON objects.
impl Serialize for TopicPartition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TopicPartition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        TopicPartition::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("'{text}' is not of the form topic-partition"))
        })
    }
}

/// The controller's record of one partition (`PartitionRegistration`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionState {
    /// The assigned replicas; the first is the preferred leader.
    pub replicas: Vec<BrokerId>,
    /// The in-sync replicas. Without eligible leader replicas Kafka never empties it: the last
    /// member stays listed while its broker is down.
    pub isr: Vec<BrokerId>,
    /// The leader, or `None` when the partition is offline.
    pub leader: Option<BrokerId>,
    /// Bumped on every leader change.
    pub leader_epoch: u32,
    /// Bumped on every change of this record.
    pub partition_epoch: u32,
    /// Eligible leader replicas (KIP-966): replicas that left an ISR smaller than
    /// `min.insync.replicas` and still hold every committed record, so they may be elected when
    /// the ISR is empty. Always empty while the feature is off.
    #[serde(default)]
    pub elr: Vec<BrokerId>,
    /// Replicas being added by a reassignment (`addingReplicas`).
    #[serde(default)]
    pub adding: Vec<BrokerId>,
    /// Replicas being removed by a reassignment (`removingReplicas`).
    #[serde(default)]
    pub removing: Vec<BrokerId>,
}

/// A topic in the metadata image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicMetadata {
    /// A stable id, as Kafka's `TopicId` (here derived from the seed, base64-like).
    pub topic_id: String,
    /// Per-topic configs.
    pub config: TopicConfig,
    /// Partitions by number.
    pub partitions: Vec<PartitionState>,
}

/// A broker as the controller sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerRegistration {
    /// Whether the controller fences the broker (it may not lead or join ISRs).
    pub fenced: bool,
    /// `broker.rack`, used for rack-aware replica placement.
    #[serde(default)]
    pub rack: Option<String>,
    /// The process incarnation that registered (Kafka's `incarnationId`): a heartbeat from
    /// another incarnation is a restarted broker, which must register again.
    #[serde(default)]
    pub incarnation: u32,
}

/// What the controller has committed, as published to brokers and through them to clients.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataImage {
    /// Increases with every change, like the offset of the metadata log.
    pub offset: u64,
    /// Registered brokers.
    pub brokers: BTreeMap<BrokerId, BrokerRegistration>,
    /// Topics by name. A topic's name is one shared string for as long as the topic exists, so
    /// that every [`TopicPartition`] made from this map points at it and comparing two of them
    /// is mostly a pointer comparison.
    pub topics: BTreeMap<Arc<str>, TopicMetadata>,
}

/// A client's copy of the cluster metadata, with the partitions of the one topic it reads or
/// writes looked up once when the copy arrives.
///
/// Producers and consumers ask for a partition's leader several times per record batch; looking
/// the topic up by name in the image's map each time compared strings and cost several per cent
/// of a busy simulation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMetadata {
    /// The image as the broker that answered held it.
    pub image: MetadataImage,
    /// The client's topic's partitions, by number, as `(leader, leader epoch)`; `None` when the
    /// image does not have the topic.
    leaders: Option<Vec<(Option<BrokerId>, u32)>>,
    /// The image's shared name of the client's topic, for the partitions the client names.
    topic: Option<Arc<str>>,
}

impl ClientMetadata {
    /// Keeps `image` for a client of `topic`.
    pub fn new(image: MetadataImage, topic: &str) -> ClientMetadata {
        let entry = image.topics.get_key_value(topic);
        let leaders = entry.map(|(_, t)| {
            t.partitions
                .iter()
                .map(|p| (p.leader, p.leader_epoch))
                .collect()
        });
        let topic = entry.map(|(name, _)| name.clone());
        ClientMetadata {
            image,
            leaders,
            topic,
        }
    }

    /// The client's topic's name as the image shares it, if the image has the topic.
    pub fn topic_name(&self) -> Option<&Arc<str>> {
        self.topic.as_ref()
    }

    /// The leader and leader epoch of partition `partition` of the client's topic.
    pub fn leader(&self, partition: u32) -> Option<(BrokerId, u32)> {
        let &(leader, epoch) = self.leaders.as_ref()?.get(partition as usize)?;
        Some((leader?, epoch))
    }

    /// How many partitions the client's topic has, `None` if the image does not have it.
    pub fn partition_count(&self) -> Option<u32> {
        self.leaders.as_ref().map(|l| l.len() as u32)
    }
}

impl MetadataImage {
    /// One partition's record.
    pub fn partition(&self, tp: &TopicPartition) -> Option<&PartitionState> {
        self.topic(&tp.topic)?.partitions.get(tp.partition as usize)
    }

    /// A topic, by its shared name.
    ///
    /// Brokers look a partition's topic up several times per message (its min.insync.replicas,
    /// its segment size). A name from a [`TopicPartition`] is usually this map's own string, so
    /// the few keys are first compared by pointer; only a name from elsewhere, or a cluster with
    /// many topics, pays for comparing text.
    #[inline]
    pub fn topic(&self, name: &Arc<str>) -> Option<&TopicMetadata> {
        const POINTER_SCAN_TOPICS: usize = 8;
        if self.topics.len() <= POINTER_SCAN_TOPICS {
            if let Some((_, topic)) = self.topics.iter().find(|(k, _)| Arc::ptr_eq(k, name)) {
                return Some(topic);
            }
        }
        self.topics.get(&**name)
    }

    /// Every partition, in topic then partition order.
    pub fn partitions(&self) -> impl Iterator<Item = (TopicPartition, &PartitionState)> {
        self.topics.iter().flat_map(|(name, topic)| {
            topic
                .partitions
                .iter()
                .enumerate()
                .map(move |(p, state)| (TopicPartition::new(name.clone(), p as u32), state))
        })
    }

    /// Whether `broker` is registered and not fenced.
    pub fn is_unfenced(&self, broker: BrokerId) -> bool {
        self.brokers.get(&broker).is_some_and(|b| !b.fenced)
    }
}

/// Which rule a leader election follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Election {
    /// The default: only an in-sync replica may lead.
    Online,
    /// Topic has `unclean.leader.election.enable=true`: if no in-sync replica can lead, any live
    /// replica may, and the ISR becomes just that replica.
    Unclean,
    /// Preferred-leader election: move leadership back to the first assigned replica.
    Preferred,
}

/// The outcome of [`elect_leader`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElectionResult {
    /// The elected leader, or `None` when no replica qualifies.
    pub leader: Option<BrokerId>,
    /// True when the leader was not in the ISR (an unclean election, which may lose data).
    pub unclean: bool,
}

/// KRaft's `PartitionChangeBuilder.electLeader` without eligible leader replicas.
///
/// `acceptable` says whether a broker may lead: registered, unfenced and not shutting down.
/// Online keeps a current leader that is still in the ISR and acceptable, else takes the first
/// replica in assignment order that is both. Unclean adds a last resort: the first acceptable
/// replica in assignment order. Preferred takes the first replica if it qualifies, else keeps the
/// current leader if it still qualifies, else the first qualifying replica after it.
pub fn elect_leader(
    replicas: &[BrokerId],
    isr: &[BrokerId],
    current_leader: Option<BrokerId>,
    acceptable: impl Fn(BrokerId) -> bool,
    election: Election,
) -> ElectionResult {
    let valid = |b: BrokerId| isr.contains(&b) && acceptable(b);
    let clean = |leader| ElectionResult {
        leader,
        unclean: false,
    };
    let current_valid = current_leader.filter(|&b| valid(b));
    match election {
        Election::Preferred => {
            if let Some(&first) = replicas.first().filter(|&&b| valid(b)) {
                return clean(Some(first));
            }
            if current_valid.is_some() {
                return clean(current_valid);
            }
            clean(replicas.iter().skip(1).copied().find(|&b| valid(b)))
        }
        Election::Online | Election::Unclean => {
            if current_valid.is_some() {
                return clean(current_valid);
            }
            if let Some(b) = replicas.iter().copied().find(|&b| valid(b)) {
                return clean(Some(b));
            }
            if election == Election::Unclean {
                if let Some(b) = replicas.iter().copied().find(|&b| acceptable(b)) {
                    return ElectionResult {
                        leader: Some(b),
                        unclean: true,
                    };
                }
            }
            clean(None)
        }
    }
}

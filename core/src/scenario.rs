//! Scenario files (format version 1): a cluster, topics, clients and a timeline of actions, in
//! TOML. `scenarios/README.md` documents the format. Bad files get an error that names the line
//! or the field.

use crate::config::{BrokerConfig, ConsumerConfig, ProducerConfig, TopicConfig};
use crate::consumer::ConsumerSpec;
use crate::error::{Error, ErrorKind, Result};
use crate::expect::Expectation;
#[cfg(feature = "checks")]
use crate::expect::RunResult;
#[cfg(feature = "checks")]
use crate::history::HistoryReport;
#[cfg(feature = "checks")]
use crate::invariants::{InvariantChecker, Violation};
use crate::network::NodeId;
use crate::producer::ProducerSpec;
use crate::sim::{Command, Simulation};
use crate::time::SimTime;
use crate::BrokerId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The only format version this build reads.
pub const FORMAT_VERSION: u32 = 1;
/// Longest scenario text accepted, in bytes (scenarios can come from shared links).
pub const MAX_SCENARIO_BYTES: usize = 64 * 1024;
/// Most timeline entries.
pub const MAX_TIMELINE: usize = 1_000;
/// Longest simulated duration a scenario may ask for: one day.
pub const MAX_DURATION_MS: u64 = 86_400_000;

/// The `[cluster]` table.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// Number of brokers (ids 1..=n).
    pub brokers: u32,
    /// Number of controllers, the voters of the KRaft quorum (ids 100, 101, …); 3 if omitted.
    #[serde(default)]
    pub controllers: Option<u32>,
    /// Broker configs by Kafka name.
    #[serde(default)]
    pub config: BTreeMap<String, toml::Value>,
    /// `broker.rack` of each broker, in id order (rack-aware placement); omit for no racks.
    #[serde(default)]
    pub racks: Option<Vec<String>>,
}

/// A `[[topics]]` entry.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TopicSpec {
    /// Topic name.
    pub name: String,
    /// Partition count.
    pub partitions: u32,
    /// Replication factor.
    pub replication_factor: u32,
    /// A manual replica assignment, one broker list per partition (the first is the preferred
    /// leader), as `kafka-topics.sh --replica-assignment`; omit it for Kafka's placement.
    #[serde(default)]
    pub assignment: Option<Vec<Vec<BrokerId>>>,
    /// Topic configs by Kafka name.
    #[serde(default)]
    pub config: BTreeMap<String, toml::Value>,
}

/// A `[[producers]]` entry.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProducerEntry {
    /// `client.id`.
    pub client_id: String,
    /// Topic written to.
    pub topic: String,
    /// Records per second.
    pub rate_per_sec: u32,
    /// Number of distinct keys; 0 for null keys.
    #[serde(default)]
    pub keys: u32,
    /// Bytes per record.
    #[serde(default = "default_record_bytes")]
    pub record_bytes: u32,
    /// Per mille of keyed records sent as tombstones (for compacted topics).
    #[serde(default)]
    pub tombstone_per_mille: u32,
    /// Per mille of keyed records that use the hot key `key-0` (the rest are uniform over all
    /// keys); 0 to 1000, and only with `keys` > 0.
    #[serde(default)]
    pub hot_key_per_mille: u32,
    /// Producer configs by Kafka name.
    #[serde(default)]
    pub config: BTreeMap<String, toml::Value>,
}

fn default_record_bytes() -> u32 {
    100
}

/// A `[[consumers]]` entry.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConsumerEntry {
    /// `client.id`.
    pub client_id: String,
    /// `group.id`.
    pub group: String,
    /// Topic read.
    pub topic: String,
    /// Whether it joins its group and reads what the group assigns it (`subscribe()`), rather
    /// than reading every partition (`assign()`, the default).
    #[serde(default)]
    pub subscribe: bool,
    /// Consumer configs by Kafka name.
    #[serde(default)]
    pub config: BTreeMap<String, toml::Value>,
}

/// A `[[timeline]]` entry: an action at a simulated time. `scenarios/README.md` lists which
/// fields each action takes.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TimelineEntry {
    /// When, in simulated milliseconds from the start.
    pub at_ms: u64,
    /// What to do (see [`ACTIONS`]).
    pub action: String,
    /// The broker, for broker actions and `slow-follower`.
    pub broker: Option<BrokerId>,
    /// The controller's id (100, 101, …), for controller actions.
    #[serde(default)]
    pub controller: Option<BrokerId>,
    /// The producer's client id, for `set-producer-rate` and `produce`.
    pub producer: Option<String>,
    /// The consumer's client id, for `stop-consumer`, `crash-consumer` and `start-consumer`.
    pub consumer: Option<String>,
    /// The new rate, for `set-producer-rate`.
    pub rate_per_sec: Option<u32>,
    /// How many records, for `produce`.
    pub records: Option<u32>,
    /// The sending node, for `cut-link` (`broker-1`, `controller`, or a client id).
    pub from: Option<String>,
    /// The receiving node, for `cut-link`.
    pub to: Option<String>,
    /// The node, for `isolate`, `set-latency` and `drop-messages`.
    pub node: Option<String>,
    /// The two sides, for `partition`.
    pub between: Option<Vec<String>>,
    /// Milliseconds, for `set-latency` and `slow-follower`.
    pub ms: Option<u64>,
    /// Chance per mille, for `drop-messages`.
    pub per_mille: Option<u32>,
    /// The topic, for `alter-config` on a topic (omit it for a cluster-wide config).
    pub topic: Option<String>,
    /// The config name, for `alter-config`.
    pub name: Option<String>,
    /// The config value, for `alter-config`.
    pub value: Option<toml::Value>,
    /// The new partition count, for `add-partitions`.
    pub partitions: Option<u32>,
    /// The partition, for `reassign`.
    pub partition: Option<u32>,
    /// The target replicas, for `reassign`.
    pub replicas: Option<Vec<BrokerId>>,
}

/// Every timeline action a scenario may use.
pub const ACTIONS: &[&str] = &[
    "kill-broker",
    "crash-broker",
    "shutdown-broker",
    "restart-broker",
    "kill-controller",
    "crash-controller",
    "restart-controller",
    "cut-link",
    "partition",
    "isolate",
    "heal",
    "set-latency",
    "slow-follower",
    "drop-messages",
    "set-producer-rate",
    "produce",
    "stop-consumer",
    "crash-consumer",
    "start-consumer",
    "alter-config",
    "delete-topic",
    "add-partitions",
    "elect-leaders",
    "reassign",
];

/// A parsed, validated scenario.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Format version; must be 1.
    pub version: u32,
    /// Short title.
    pub name: String,
    /// What it shows.
    #[serde(default)]
    pub description: String,
    /// Seed used when the caller does not give one.
    #[serde(default)]
    pub seed: Option<u64>,
    /// How long `run` simulates, in ms; defaults to 10 s after the last timeline action.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// The cluster.
    pub cluster: ClusterSpec,
    /// Topics created at the start.
    #[serde(default)]
    pub topics: Vec<TopicSpec>,
    /// Producers started at the start.
    #[serde(default)]
    pub producers: Vec<ProducerEntry>,
    /// Consumers started at the start.
    #[serde(default)]
    pub consumers: Vec<ConsumerEntry>,
    /// Actions over time.
    #[serde(default)]
    pub timeline: Vec<TimelineEntry>,
    /// What must be true when the run ends (read only with the `checks` feature).
    #[serde(default)]
    #[cfg_attr(not(feature = "checks"), serde(deserialize_with = "ignored"))]
    pub expect: Vec<Expectation>,
    /// Named variants: the same timeline under other cluster configs (for example a legacy rule
    /// against the current one), each with its own expectations.
    #[serde(default)]
    #[cfg_attr(not(feature = "checks"), serde(deserialize_with = "ignored"))]
    pub variants: Vec<Variant>,
}

/// Accepts and skips a section the build does not use, so that a file with expectations still
/// loads where the checkers are compiled out.
#[cfg(not(feature = "checks"))]
fn ignored<'de, D: serde::Deserializer<'de>, T>(d: D) -> std::result::Result<Vec<T>, D::Error> {
    serde::de::IgnoredAny::deserialize(d)?;
    Ok(Vec::new())
}

/// A `[[variants]]` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// The variant's name, given to `kafka-sim run --variant`.
    pub name: String,
    /// What this variant shows.
    #[serde(default)]
    pub description: String,
    /// Cluster configs set on top of `[cluster] config`.
    #[serde(default)]
    pub config: BTreeMap<String, toml::Value>,
    /// Topic configs set on every topic.
    #[serde(default)]
    pub topic_config: BTreeMap<String, toml::Value>,
    /// Producer configs set on every producer.
    #[serde(default)]
    pub producer_config: BTreeMap<String, toml::Value>,
    /// Consumer configs set on every consumer.
    #[serde(default)]
    pub consumer_config: BTreeMap<String, toml::Value>,
    /// Expectations added to the scenario's own.
    #[serde(default)]
    pub expect: Vec<Expectation>,
}

fn scenario_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Scenario, message)
}

fn value_text(field: &str, value: &toml::Value) -> Result<String> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(scenario_error(format!(
            "{field}: expected a string, integer or boolean, found a {}.",
            other.type_str()
        ))),
    }
}

fn apply_configs(
    field: &str,
    configs: &BTreeMap<String, toml::Value>,
    mut set: impl FnMut(&str, &str) -> Result<()>,
) -> Result<()> {
    for (name, value) in configs {
        let path = format!("{field}.\"{name}\"");
        let text = value_text(&path, value)?;
        set(name, &text).map_err(|e| scenario_error(format!("{path}: {}", e.message())))?;
    }
    Ok(())
}

impl Scenario {
    /// Parses and validates scenario text.
    pub fn parse(text: &str) -> Result<Scenario> {
        if text.len() > MAX_SCENARIO_BYTES {
            return Err(scenario_error(format!(
                "The scenario is {} bytes; at most {MAX_SCENARIO_BYTES} are accepted.",
                text.len()
            )));
        }
        let scenario: Scenario = toml::from_str(text).map_err(|e| {
            let location = e
                .span()
                .map(|span| {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    format!("line {line}: ")
                })
                .unwrap_or_default();
            scenario_error(format!("{location}{}", e.message()))
        })?;
        scenario.validate()?;
        #[cfg(feature = "checks")]
        for (i, v) in scenario.variants.iter().enumerate() {
            if scenario.variants[..i].iter().any(|w| w.name == v.name) {
                return Err(scenario_error(format!(
                    "variants[{i}].name: '{}' is used twice.",
                    v.name
                )));
            }
            scenario.variant(&v.name)?.validate().map_err(|e| {
                scenario_error(format!("variants[{i}] ({}): {}", v.name, e.message()))
            })?;
        }
        Ok(scenario)
    }

    /// The names of the variants, or just `None` (the scenario as written) when it has none.
    pub fn variant_names(&self) -> Vec<Option<String>> {
        if self.variants.is_empty() {
            vec![None]
        } else {
            self.variants.iter().map(|v| Some(v.name.clone())).collect()
        }
    }

    /// The scenario as a variant sees it: its configs applied and its expectations added.
    pub fn variant(&self, name: &str) -> Result<Scenario> {
        let v = self
            .variants
            .iter()
            .find(|v| v.name == name)
            .ok_or_else(|| {
                scenario_error(format!(
                    "no variant '{name}'; this scenario has {}.",
                    if self.variants.is_empty() {
                        "none".to_string()
                    } else {
                        self.variants
                            .iter()
                            .map(|v| v.name.clone())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ))
            })?;
        let mut out = self.clone();
        out.variants.clear();
        out.name = format!("{} [{}]", self.name, v.name);
        out.cluster.config.extend(v.config.clone());
        for t in &mut out.topics {
            t.config.extend(v.topic_config.clone());
        }
        for p in &mut out.producers {
            p.config.extend(v.producer_config.clone());
        }
        for c in &mut out.consumers {
            c.config.extend(v.consumer_config.clone());
        }
        out.expect.extend(v.expect.clone());
        Ok(out)
    }

    fn validate(&self) -> Result<()> {
        if self.version != FORMAT_VERSION {
            return Err(scenario_error(format!(
                "version: this build reads scenario format {FORMAT_VERSION}, the file says {}.",
                self.version
            )));
        }
        if self.timeline.len() > MAX_TIMELINE {
            return Err(scenario_error(format!(
                "timeline: at most {MAX_TIMELINE} entries are allowed."
            )));
        }
        if self.duration_ms.is_some_and(|d| d > MAX_DURATION_MS) {
            return Err(scenario_error(format!(
                "duration_ms: at most {MAX_DURATION_MS} (one day) is allowed."
            )));
        }
        for (i, entry) in self.timeline.iter().enumerate() {
            self.command_for(i, entry)?;
        }
        #[cfg(feature = "checks")]
        for (i, e) in self.expect.iter().enumerate() {
            let field = format!("expect[{i}]");
            e.validate(&field)?;
            if let Some(t) = &e.topic {
                let topic = self.topics.iter().find(|x| &x.name == t).ok_or_else(|| {
                    scenario_error(format!(
                        "{field}.topic: '{t}' is not one of the scenario's topics."
                    ))
                })?;
                // The timeline may add partitions; the largest count it reaches counts.
                let most = self
                    .timeline
                    .iter()
                    .filter(|x| x.action == "add-partitions" && x.topic.as_ref() == Some(t))
                    .filter_map(|x| x.partitions)
                    .fold(topic.partitions, u32::max);
                if e.partition.is_some_and(|p| p >= most) {
                    return Err(scenario_error(format!(
                        "{field}.partition: topic {t} has partitions 0 to {}.",
                        most.saturating_sub(1)
                    )));
                }
            }
        }
        // Building with a fixed seed checks every config, topic and client reference.
        self.build(0).map(|_| ())
    }

    fn command_for(&self, i: usize, entry: &TimelineEntry) -> Result<Command> {
        let field = format!("timeline[{i}]");
        if entry.at_ms > MAX_DURATION_MS {
            return Err(scenario_error(format!(
                "{field}.at_ms: at most {MAX_DURATION_MS} is allowed."
            )));
        }
        let broker = || {
            entry
                .broker
                .filter(|b| *b >= 1 && *b <= self.cluster.brokers as BrokerId)
                .ok_or_else(|| {
                    scenario_error(format!(
                        "{field}.broker: '{}' needs a broker id between 1 and {}.",
                        entry.action, self.cluster.brokers
                    ))
                })
        };
        let controllers = self
            .cluster
            .controllers
            .unwrap_or(crate::sim::DEFAULT_CONTROLLERS);
        let controller = || {
            let first = crate::sim::CONTROLLER_ID;
            let last = first + controllers as BrokerId - 1;
            entry
                .controller
                .filter(|c| *c >= first && *c <= last)
                .ok_or_else(|| {
                    scenario_error(format!(
                        "{field}.controller: '{}' needs a controller id between {first} and {last}.",
                        entry.action
                    ))
                })
        };
        let action = entry.action.as_str();
        let required =
            |name: &str| scenario_error(format!("{field}.{name}: is required for {action}."));
        let node = |name: &str, text: &Option<String>| -> Result<NodeId> {
            let text = text.as_ref().ok_or_else(|| required(name))?;
            self.node(text)
                .map_err(|e| scenario_error(format!("{field}.{name}: {}", e.message())))
        };
        let producer = || {
            entry
                .producer
                .clone()
                .filter(|p| self.producers.iter().any(|e| &e.client_id == p))
                .ok_or_else(|| {
                    scenario_error(format!(
                        "{field}.producer: must name one of the scenario's producers."
                    ))
                })
        };
        let consumer = || {
            entry
                .consumer
                .clone()
                .filter(|c| self.consumers.iter().any(|e| &e.client_id == c))
                .ok_or_else(|| {
                    scenario_error(format!(
                        "{field}.consumer: must name one of the scenario's consumers."
                    ))
                })
        };
        let ms = || {
            let ms = entry.ms.ok_or_else(|| required("ms"))?;
            if ms > 60_000 {
                return Err(scenario_error(format!(
                    "{field}.ms: at most 60000 ms is allowed; {ms} was given."
                )));
            }
            Ok(ms)
        };
        match action {
            "kill-broker" => Ok(Command::KillBroker(broker()?)),
            "crash-broker" => Ok(Command::CrashBroker(broker()?)),
            "shutdown-broker" => Ok(Command::ShutdownBroker(broker()?)),
            "restart-broker" => Ok(Command::RestartBroker(broker()?)),
            "kill-controller" => Ok(Command::KillController(controller()?)),
            "crash-controller" => Ok(Command::CrashController(controller()?)),
            "restart-controller" => Ok(Command::RestartController(controller()?)),
            "cut-link" => Ok(Command::CutLink {
                from: node("from", &entry.from)?,
                to: node("to", &entry.to)?,
            }),
            "partition" => match entry.between.as_deref() {
                Some([a, b]) => Ok(Command::PartitionNetwork {
                    a: node("between[0]", &Some(a.clone()))?,
                    b: node("between[1]", &Some(b.clone()))?,
                }),
                _ => Err(scenario_error(format!(
                    "{field}.between: partition needs exactly two nodes, e.g. between = [\"broker-1\", \"broker-2\"]."
                ))),
            },
            "isolate" => Ok(Command::Isolate(node("node", &entry.node)?)),
            "heal" => Ok(Command::HealNetwork),
            "set-latency" => Ok(Command::SetLatency {
                node: node("node", &entry.node)?,
                ms: ms()?,
            }),
            "slow-follower" => Ok(Command::SlowFollower {
                broker: broker()?,
                ms: ms()?,
            }),
            "drop-messages" => Ok(Command::SetDropRate {
                node: match &entry.node {
                    Some(_) => Some(node("node", &entry.node)?),
                    None => None,
                },
                per_mille: match entry.per_mille {
                    None => return Err(required("per_mille")),
                    Some(p) if p > 1000 => {
                        return Err(scenario_error(format!(
                            "{field}.per_mille: a drop rate is between 0 and 1000 per mille; {p} was given."
                        )))
                    }
                    Some(p) => p,
                },
            }),
            "stop-consumer" => Ok(Command::StopConsumer(consumer()?)),
            "crash-consumer" => Ok(Command::CrashConsumer(consumer()?)),
            "start-consumer" => Ok(Command::StartConsumer(consumer()?)),
            "set-producer-rate" => Ok(Command::SetProducerRate {
                producer: producer()?,
                rate_per_sec: entry.rate_per_sec.ok_or_else(|| required("rate_per_sec"))?,
            }),
            "produce" => Ok(Command::Produce {
                producer: producer()?,
                records: entry.records.ok_or_else(|| required("records"))?,
            }),
            "alter-config" => {
                let name = entry.name.clone().ok_or_else(|| required("name"))?;
                let value = entry.value.as_ref().ok_or_else(|| required("value"))?;
                let value = value_text(&format!("{field}.value"), value)?;
                // The value is checked against the config's rules now, so that a bad file fails
                // before it runs rather than in the middle of its timeline.
                let checked = match &entry.topic {
                    Some(t) => {
                        if !self.topics.iter().any(|x| &x.name == t) {
                            return Err(scenario_error(format!(
                                "{field}.topic: '{t}' is not one of the scenario's topics."
                            )));
                        }
                        TopicConfig::default().set(&name, &value)
                    }
                    None => BrokerConfig::default().set(&name, &value),
                };
                checked.map_err(|e| scenario_error(format!("{field}: {}", e.message())))?;
                Ok(Command::AlterConfig {
                    topic: entry.topic.clone(),
                    name,
                    value,
                })
            }
            "delete-topic" => Ok(Command::DeleteTopic(self.topic_field(&field, entry)?)),
            "add-partitions" => Ok(Command::AddPartitions {
                topic: self.topic_field(&field, entry)?,
                partitions: entry.partitions.ok_or_else(|| required("partitions"))?,
            }),
            "elect-leaders" => Ok(Command::ElectPreferredLeaders(match &entry.topic {
                Some(_) => Some(self.topic_field(&field, entry)?),
                None => None,
            })),
            "reassign" => Ok(Command::Reassign {
                tp: crate::metadata::TopicPartition::new(
                    self.topic_field(&field, entry)?,
                    entry.partition.ok_or_else(|| required("partition"))?,
                ),
                replicas: entry.replicas.clone().ok_or_else(|| required("replicas"))?,
            }),
            other => Err(scenario_error(format!(
                "{field}.action: unknown action '{other}'; use one of {}.",
                ACTIONS.join(", ")
            ))),
        }
    }

    fn topic_field(&self, field: &str, entry: &TimelineEntry) -> Result<String> {
        let t = entry.topic.clone().ok_or_else(|| {
            scenario_error(format!("{field}.topic: is required for {}.", entry.action))
        })?;
        if !self.topics.iter().any(|x| x.name == t) {
            return Err(scenario_error(format!(
                "{field}.topic: '{t}' is not one of the scenario's topics."
            )));
        }
        Ok(t)
    }

    /// A node named in a scenario: `broker-N`, `controller`, or a producer's or consumer's
    /// client id.
    pub fn node(&self, text: &str) -> Result<NodeId> {
        if let Some(n) = text.strip_prefix("broker-") {
            let id: BrokerId = n.parse().map_err(|_| {
                scenario_error(format!(
                    "'{text}' is not a broker; write broker-1, broker-2, …"
                ))
            })?;
            if id < 1 || id > self.cluster.brokers as BrokerId {
                return Err(scenario_error(format!(
                    "there is no {text}; the brokers are broker-1 to broker-{}.",
                    self.cluster.brokers
                )));
            }
            return Ok(NodeId::Broker(id));
        }
        if text == "zookeeper" {
            return Ok(NodeId::ZooKeeper);
        }
        // `controller` is the first controller, the active one when the simulation starts.
        if text == "controller" {
            return Ok(NodeId::Controller(crate::sim::CONTROLLER_ID));
        }
        if let Some(n) = text.strip_prefix("controller-") {
            let controllers = self
                .cluster
                .controllers
                .unwrap_or(crate::sim::DEFAULT_CONTROLLERS);
            let first = crate::sim::CONTROLLER_ID;
            let last = first + controllers as BrokerId - 1;
            return match n.parse::<BrokerId>() {
                Ok(id) if id >= first && id <= last => Ok(NodeId::Controller(id)),
                _ => Err(scenario_error(format!(
                    "there is no {text}; the controllers are controller-{first} to controller-{last}."
                ))),
            };
        }
        if let Some(i) = self.producers.iter().position(|p| p.client_id == text) {
            return Ok(NodeId::Producer(i as u32));
        }
        if let Some(i) = self.consumers.iter().position(|c| c.client_id == text) {
            return Ok(NodeId::Consumer(i as u32));
        }
        Err(scenario_error(format!(
            "'{text}' names no node; use broker-N, controller-N (controller alone is controller-100), or a producer's or consumer's client_id."
        )))
    }

    /// The seed to use: the caller's, else the file's, else 1.
    pub fn seed_or(&self, seed: Option<u64>) -> u64 {
        seed.or(self.seed).unwrap_or(1)
    }

    /// How long a headless run lasts.
    pub fn duration(&self) -> SimTime {
        let last = self.timeline.iter().map(|t| t.at_ms).max().unwrap_or(0);
        SimTime::from_ms(self.duration_ms.unwrap_or(last + 10_000))
    }

    /// The simulation at time zero: cluster, topics and clients created.
    pub fn build(&self, seed: u64) -> Result<Simulation> {
        let mut broker_config = BrokerConfig::default();
        apply_configs("cluster.config", &self.cluster.config, |k, v| {
            broker_config.set(k, v)
        })?;
        let controllers = self
            .cluster
            .controllers
            .unwrap_or(crate::sim::DEFAULT_CONTROLLERS);
        if controllers == 0 || controllers > crate::quorum::MAX_CONTROLLERS {
            return Err(scenario_error(format!(
                "cluster.controllers: a quorum needs between 1 and {} controllers; {controllers} were asked for.",
                crate::quorum::MAX_CONTROLLERS
            )));
        }
        let mut sim =
            Simulation::with_controllers(self.cluster.brokers, controllers, broker_config, seed)
                .map_err(|e| scenario_error(format!("cluster.brokers: {}", e.message())))?;
        if let Some(racks) = &self.cluster.racks {
            sim.set_broker_racks(racks)
                .map_err(|e| scenario_error(format!("cluster.racks: {}", e.message())))?;
        }
        for (i, topic) in self.topics.iter().enumerate() {
            let mut config = TopicConfig::default();
            apply_configs(&format!("topics[{i}].config"), &topic.config, |k, v| {
                config.set(k, v)
            })?;
            if let Some(a) = &topic.assignment {
                if a.len() as u32 != topic.partitions
                    || a.iter().any(|r| r.len() as u32 != topic.replication_factor)
                {
                    return Err(scenario_error(format!(
                        "topics[{i}].assignment: give {} list(s) of {} broker(s), one per partition.",
                        topic.partitions, topic.replication_factor
                    )));
                }
            }
            sim.create_topic_with(
                &topic.name,
                topic.partitions,
                topic.replication_factor,
                topic.assignment.clone(),
                config,
            )
            .map_err(|e| scenario_error(format!("topics[{i}]: {}", e.message())))?;
        }
        for (i, p) in self.producers.iter().enumerate() {
            let mut config = ProducerConfig::default();
            apply_configs(&format!("producers[{i}].config"), &p.config, |k, v| {
                config.set(k, v)
            })?;
            sim.add_producer(ProducerSpec {
                client_id: p.client_id.clone(),
                topic: p.topic.clone(),
                rate_per_sec: p.rate_per_sec,
                keys: p.keys,
                record_bytes: p.record_bytes.clamp(1, 1_048_576),
                tombstone_per_mille: p.tombstone_per_mille.min(1_000),
                hot_key_per_mille: p.hot_key_per_mille,
                config,
            })
            .map_err(|e| scenario_error(format!("producers[{i}]: {}", e.message())))?;
        }
        for (i, c) in self.consumers.iter().enumerate() {
            let mut config = ConsumerConfig::default();
            apply_configs(&format!("consumers[{i}].config"), &c.config, |k, v| {
                config.set(k, v)
            })?;
            sim.add_consumer(ConsumerSpec {
                client_id: c.client_id.clone(),
                group: c.group.clone(),
                subscribe: c.subscribe,
                topic: c.topic.clone(),
                config,
            })
            .map_err(|e| scenario_error(format!("consumers[{i}]: {}", e.message())))?;
        }
        Ok(sim)
    }

    /// A run of this scenario: the simulation plus its pending timeline.
    pub fn start(&self, seed: u64) -> Result<ScenarioRun> {
        let sim = self.build(seed)?;
        let mut timeline = Vec::with_capacity(self.timeline.len());
        for (i, entry) in self.timeline.iter().enumerate() {
            timeline.push((SimTime::from_ms(entry.at_ms), self.command_for(i, entry)?));
        }
        // Stable sort: actions at the same time keep their file order.
        timeline.sort_by_key(|(t, _)| *t);
        Ok(ScenarioRun {
            sim,
            timeline,
            next: 0,
            #[cfg(feature = "checks")]
            checker: None,
            #[cfg(feature = "checks")]
            violations: Vec::new(),
        })
    }
}

/// Most invariant violations a run keeps (the first ones tell the story).
pub const MAX_VIOLATIONS: usize = 1_000;

/// A simulation driven by a scenario's timeline.
#[derive(Clone, Debug)]
pub struct ScenarioRun {
    /// The simulation.
    pub sim: Simulation,
    timeline: Vec<(SimTime, Command)>,
    next: usize,
    #[cfg(feature = "checks")]
    checker: Option<InvariantChecker>,
    #[cfg(feature = "checks")]
    violations: Vec<(SimTime, Violation)>,
}

#[cfg(feature = "checks")]
/// How a scenario run ended: every invariant violation seen, the history checker's report and
/// each expectation's result.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// Violations seen after any event, with their times (at most [`MAX_VIOLATIONS`]).
    pub violations: Vec<(SimTime, Violation)>,
    /// The history checker's report after the final drain.
    pub history: HistoryReport,
    /// Each expectation, and `Err` with what was found when it failed.
    pub expectations: Vec<(String, std::result::Result<(), String>)>,
    /// Timeline actions that could not apply.
    pub action_errors: Vec<String>,
}

#[cfg(feature = "checks")]
impl Outcome {
    /// Whether every expectation was met.
    pub fn passed(&self) -> bool {
        self.expectations.iter().all(|(_, r)| r.is_ok())
    }
}

impl ScenarioRun {
    /// Checks invariants after every event from now on (`RELIABILITY.md` §B).
    #[cfg(feature = "checks")]
    pub fn check_invariants(&mut self) {
        self.checker.get_or_insert_with(InvariantChecker::new);
    }

    /// Violations seen so far.
    #[cfg(feature = "checks")]
    pub fn violations(&self) -> &[(SimTime, Violation)] {
        &self.violations
    }

    #[cfg(not(feature = "checks"))]
    fn run_until(&mut self, until: SimTime) {
        self.sim.run_until(until);
    }

    #[cfg(feature = "checks")]
    fn run_until(&mut self, until: SimTime) {
        let Some(checker) = self.checker.as_mut() else {
            self.sim.run_until(until);
            return;
        };
        while self.sim.next_task_time().is_some_and(|t| t <= until) {
            self.sim.step();
            for v in checker.check(&self.sim) {
                if self.violations.len() < MAX_VIOLATIONS {
                    self.violations.push((self.sim.now(), v));
                }
            }
        }
        self.sim.run_until(until);
    }

    /// One expectation against the run as it stands, with `history` checked by the caller.
    #[cfg(feature = "checks")]
    fn judge(
        &self,
        e: &Expectation,
        history: &HistoryReport,
    ) -> (String, std::result::Result<(), String>) {
        let flat: Vec<Violation> = self.violations.iter().map(|(_, v)| v.clone()).collect();
        let result = RunResult {
            sim: &self.sim,
            violations: &flat,
            history,
        };
        (e.describe(), e.check(&result))
    }

    /// Runs to the end of the scenario with invariants checked after every event, drains the
    /// history and checks every expectation.
    #[cfg(feature = "checks")]
    pub fn finish(mut self, scenario: &Scenario) -> (Outcome, Simulation) {
        self.check_invariants();
        let end = scenario.duration();
        let mut action_errors = Vec::new();
        let mut results: Vec<Option<(String, std::result::Result<(), String>)>> =
            vec![None; scenario.expect.len()];
        // Expectations with a time are checked when the run reaches it, against the state then.
        let mut timed: Vec<(SimTime, usize)> = scenario
            .expect
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.at_ms.map(|t| (SimTime::from_ms(t).min(end), i)))
            .collect();
        timed.sort();
        for (at, i) in timed {
            action_errors.extend(self.advance_to(at));
            let history = self.sim.history().check();
            results[i] = Some(self.judge(&scenario.expect[i], &history));
        }
        action_errors.extend(self.advance_to(end));
        let action_errors = action_errors
            .into_iter()
            .map(|(at, e)| format!("{at}: {e}"))
            .collect();
        self.sim.drain_history();
        let history = self.sim.history().check();
        let expectations = scenario
            .expect
            .iter()
            .zip(results)
            .map(|(e, done)| done.unwrap_or_else(|| self.judge(e, &history)))
            .collect();
        let outcome = Outcome {
            violations: self.violations,
            history,
            expectations,
            action_errors,
        };
        (outcome, self.sim)
    }

    /// Advances to `until`, applying timeline actions at their times. Returns the errors of
    /// actions that could not apply (for example killing a broker that is already dead).
    pub fn advance_to(&mut self, until: SimTime) -> Vec<(SimTime, Error)> {
        let mut errors = Vec::new();
        while let Some((at, command)) = self.timeline.get(self.next).cloned() {
            if at > until {
                break;
            }
            self.run_until(at);
            if let Err(e) = self.sim.apply(command) {
                errors.push((at, e));
            }
            self.next += 1;
        }
        self.run_until(until);
        errors
    }
}

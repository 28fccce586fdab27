//! Scenario files (format version 1): a cluster, topics, clients and a timeline of actions, in
//! TOML. `scenarios/README.md` documents the format. Bad files get an error that names the line
//! or the field.

use crate::config::{BrokerConfig, ConsumerConfig, ProducerConfig, TopicConfig};
use crate::consumer::ConsumerSpec;
use crate::error::{Error, ErrorKind, Result};
use crate::producer::ProducerSpec;
use crate::sim::{Command, Simulation};
use crate::time::SimTime;
use crate::BrokerId;
use serde::Deserialize;
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
    /// Broker configs by Kafka name.
    #[serde(default)]
    pub config: BTreeMap<String, toml::Value>,
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
    /// Consumer configs by Kafka name.
    #[serde(default)]
    pub config: BTreeMap<String, toml::Value>,
}

/// A `[[timeline]]` entry: an action at a simulated time.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TimelineEntry {
    /// When, in simulated milliseconds from the start.
    pub at_ms: u64,
    /// `kill-broker`, `restart-broker` or `set-producer-rate`.
    pub action: String,
    /// The broker, for broker actions.
    pub broker: Option<BrokerId>,
    /// The producer's client id, for `set-producer-rate`.
    pub producer: Option<String>,
    /// The new rate, for `set-producer-rate`.
    pub rate_per_sec: Option<u32>,
}

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
        Ok(scenario)
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
        match entry.action.as_str() {
            "kill-broker" => Ok(Command::KillBroker(broker()?)),
            "restart-broker" => Ok(Command::RestartBroker(broker()?)),
            "set-producer-rate" => {
                let producer = entry
                    .producer
                    .clone()
                    .filter(|p| self.producers.iter().any(|e| &e.client_id == p))
                    .ok_or_else(|| scenario_error(format!("{field}.producer: must name one of the scenario's producers.")))?;
                let rate_per_sec = entry
                    .rate_per_sec
                    .ok_or_else(|| scenario_error(format!("{field}.rate_per_sec: is required for set-producer-rate.")))?;
                Ok(Command::SetProducerRate { producer, rate_per_sec })
            }
            other => Err(scenario_error(format!(
                "{field}.action: unknown action '{other}'; use kill-broker, restart-broker or set-producer-rate."
            ))),
        }
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
        let mut sim = Simulation::new(self.cluster.brokers, broker_config, seed)
            .map_err(|e| scenario_error(format!("cluster.brokers: {}", e.message())))?;
        for (i, topic) in self.topics.iter().enumerate() {
            let mut config = TopicConfig::default();
            apply_configs(&format!("topics[{i}].config"), &topic.config, |k, v| {
                config.set(k, v)
            })?;
            sim.create_topic(
                &topic.name,
                topic.partitions,
                topic.replication_factor,
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
        })
    }
}

/// A simulation driven by a scenario's timeline.
#[derive(Clone, Debug)]
pub struct ScenarioRun {
    /// The simulation.
    pub sim: Simulation,
    timeline: Vec<(SimTime, Command)>,
    next: usize,
}

impl ScenarioRun {
    /// Advances to `until`, applying timeline actions at their times. Returns the errors of
    /// actions that could not apply (for example killing a broker that is already dead).
    pub fn advance_to(&mut self, until: SimTime) -> Vec<(SimTime, Error)> {
        let mut errors = Vec::new();
        while let Some((at, command)) = self.timeline.get(self.next).cloned() {
            if at > until {
                break;
            }
            self.sim.run_until(at);
            if let Err(e) = self.sim.apply(command) {
                errors.push((at, e));
            }
            self.next += 1;
        }
        self.sim.run_until(until);
        errors
    }
}

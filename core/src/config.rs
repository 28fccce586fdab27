//! Kafka's configuration names and defaults, for the cluster, topics and clients.
//!
//! Names are Kafka's own (`min.insync.replicas`, `linger.ms`, …) so that what a learner sets here
//! transfers to a real cluster. Defaults are those of Apache Kafka 4.0 (`SEMANTICS.md` §8).

use crate::error::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};

/// Parses `value` as an integer in `min..=max` for the config `name`.
fn int_in(name: &str, value: &str, min: i64, max: i64) -> Result<i64> {
    let parsed: i64 = value.trim().parse().map_err(|_| {
        Error::new(
            ErrorKind::InvalidConfig,
            format!("Invalid value '{value}' for configuration {name}: it must be an integer."),
        )
    })?;
    if parsed < min || parsed > max {
        return Err(Error::new(
            ErrorKind::InvalidConfig,
            format!("Invalid value {parsed} for configuration {name}: it must be between {min} and {max}."),
        ));
    }
    Ok(parsed)
}

/// Checks that a command's number lies in `min..=max`.
pub(crate) fn check_range(name: &str, value: u64, min: u64, max: u64) -> Result<()> {
    if value < min || value > max {
        return Err(Error::new(
            ErrorKind::InvalidConfig,
            format!("Invalid {name} {value}: it must be between {min} and {max}."),
        ));
    }
    Ok(())
}

fn bool_value(name: &str, value: &str) -> Result<bool> {
    match value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(Error::new(
            ErrorKind::InvalidConfig,
            format!("Invalid value '{other}' for configuration {name}: it must be true or false."),
        )),
    }
}

fn unknown(scope: &str, name: &str, known: &[&str]) -> Error {
    Error::new(
        ErrorKind::InvalidConfig,
        format!(
            "Unknown {scope} configuration '{name}'. The simulator supports: {}.",
            known.join(", ")
        ),
    )
}

/// Reads a ratio between 0 and 1 written in decimal (`0.5`, `1`, `.25`, `1.0`) as per mille,
/// rounding beyond three decimals. Parsed by hand rather than as an `f64` so that the page does
/// not ship the float parser and printer for this one config.
fn ratio_per_mille(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut per_mille = whole.checked_mul(1_000)?;
    let mut scale = 100;
    for (i, b) in fraction.bytes().enumerate() {
        let d = u64::from(b - b'0');
        if i < 3 {
            per_mille += d * scale;
            scale /= 10;
        } else {
            // Round half up on the first dropped digit.
            if i == 3 && d >= 5 {
                per_mille += 1;
            }
            break;
        }
    }
    (per_mille <= 1_000).then_some(per_mille)
}

/// Writes per mille as the shortest decimal ratio (`500` → `0.5`, `1000` → `1`).
fn per_mille_text(per_mille: u64) -> String {
    let whole = per_mille / 1_000;
    let fraction = per_mille % 1_000;
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:03}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Cluster-wide broker and controller settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerConfig {
    /// `replica.lag.time.max.ms`: a follower that has not caught up for this long leaves the ISR.
    pub replica_lag_time_max_ms: u64,
    /// `broker.session.timeout.ms`: the controller fences a broker whose heartbeats stop this long.
    pub broker_session_timeout_ms: u64,
    /// `broker.heartbeat.interval.ms`: how often a broker heartbeats to the controller.
    pub broker_heartbeat_interval_ms: u64,
    /// `replica.fetch.wait.max.ms`: how long a leader holds a follower's fetch that finds no data.
    pub replica_fetch_wait_max_ms: u64,
    /// `min.insync.replicas` for topics that do not set their own.
    pub min_insync_replicas: u32,
    /// `unclean.leader.election.enable` for topics that do not set their own.
    pub unclean_leader_election_enable: bool,
    /// Simulator setting (not a Kafka config): one-way network latency between any two nodes, in
    /// microseconds.
    pub network_latency_us: u64,
    /// Simulator setting: random extra latency added to each message, up to this many microseconds.
    pub network_jitter_us: u64,
    /// `log.flush.interval.messages`: fsync a log after this many unflushed records. Kafka's
    /// default (`Long.MAX_VALUE`) never fsyncs and leaves durability to replication.
    pub log_flush_interval_messages: u64,
    /// Simulator setting: how often the operating system writes the page cache back to disk
    /// (Linux's flusher thread wakes every 5 s). A lossy hard kill loses what is not yet written.
    pub os_writeback_interval_ms: u64,
    /// `replica.socket.timeout.ms`: how long a follower waits for a fetch response before it gives
    /// up on the request and backs off.
    pub replica_socket_timeout_ms: u64,
    /// Whether eligible leader replicas (KIP-966) are on: Kafka enables them with the feature
    /// `eligible.leader.replicas.version=1`.
    pub eligible_leader_replicas: bool,
    /// How a follower finds where its log diverges from a new leader's; older rules are kept so
    /// that lessons can replay the bugs that made Kafka change.
    pub follower_truncation: FollowerTruncation,
    /// Legacy rule for teaching: the leader's high watermark counts only the committed ISR and
    /// ignores replicas whose addition is pending (before KIP-497's maximal ISR, trace T6).
    pub hw_ignores_pending_isr: bool,
    /// Legacy rule for teaching (ZooKeeper era): a broker that restarts quickly keeps its ISR
    /// memberships as a follower; KRaft removes it from every ISR when it registers again.
    pub quick_restart_keeps_isr: bool,
    /// Legacy rule for teaching (before KIP-320, Kafka 2.1): fetches are not fenced by leader
    /// epoch. A leader serves a follower or consumer that names an older or newer epoch, counts
    /// a follower still fetching in an older epoch towards its high watermark and ISR, and adds
    /// a follower to the ISR before it reaches the start of the leader's epoch; a follower looks
    /// its divergence up only once, when it starts following a leader (trace T5).
    #[serde(default)]
    pub unfenced_fetch: bool,
    /// `auto.leader.rebalance.enable`: the controller periodically moves leadership back to each
    /// partition's preferred (first) replica.
    pub auto_leader_rebalance_enable: bool,
    /// `leader.imbalance.check.interval.seconds`: how often it does so.
    pub leader_imbalance_check_interval_seconds: u64,
    /// `log.retention.check.interval.ms`: how often brokers delete segments past retention.
    pub log_retention_check_interval_ms: u64,
    /// `log.cleaner.backoff.ms`: how often the log cleaner looks for logs to compact.
    pub log_cleaner_backoff_ms: u64,
    /// Simulator setting `sim.metadata.mode`: a KRaft controller quorum, or ZooKeeper with a
    /// controller broker (Kafka 3.x and earlier). Chosen when the cluster is created.
    #[serde(default)]
    pub metadata_mode: MetadataMode,
    /// `zookeeper.session.timeout.ms` (ZooKeeper mode): a broker whose ZooKeeper session is
    /// silent this long is declared dead.
    #[serde(default = "default_zk_session_timeout")]
    pub zookeeper_session_timeout_ms: u64,
    /// `group.initial.rebalance.delay.ms`: how long a group that was empty waits for more
    /// members before its first rebalance completes.
    #[serde(default = "default_group_initial_rebalance_delay")]
    pub group_initial_rebalance_delay_ms: u64,
    /// `group.min.session.timeout.ms`: the shortest `session.timeout.ms` a member may ask for.
    #[serde(default = "default_group_min_session_timeout")]
    pub group_min_session_timeout_ms: u64,
    /// `group.max.session.timeout.ms`: the longest `session.timeout.ms` a member may ask for.
    #[serde(default = "default_group_max_session_timeout")]
    pub group_max_session_timeout_ms: u64,
    /// `offsets.topic.num.partitions`: partitions of `__consumer_offsets` when it is created.
    #[serde(default = "default_offsets_partitions")]
    pub offsets_topic_num_partitions: u32,
    /// `offsets.topic.replication.factor`: its replication factor; creation waits until this
    /// many brokers are registered.
    #[serde(default = "default_offsets_replication")]
    pub offsets_topic_replication_factor: u32,
    /// `offsets.commit.timeout.ms`: how long an offset commit waits for replication.
    #[serde(default = "default_offsets_commit_timeout")]
    pub offsets_commit_timeout_ms: u64,
}

fn default_group_initial_rebalance_delay() -> u64 {
    crate::group::DEFAULT_INITIAL_REBALANCE_DELAY_MS
}
fn default_group_min_session_timeout() -> u64 {
    crate::group::DEFAULT_MIN_SESSION_TIMEOUT_MS
}
fn default_group_max_session_timeout() -> u64 {
    crate::group::DEFAULT_MAX_SESSION_TIMEOUT_MS
}
fn default_offsets_partitions() -> u32 {
    crate::coordinator::DEFAULT_OFFSETS_PARTITIONS
}
fn default_offsets_replication() -> u32 {
    3
}
fn default_offsets_commit_timeout() -> u64 {
    5_000
}

fn default_zk_session_timeout() -> u64 {
    18_000
}

/// Where the cluster keeps its metadata and how it elects its controller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetadataMode {
    /// A quorum of controllers running Raft over the metadata log (Kafka 4.0's only mode).
    #[default]
    KRaft,
    /// ZooKeeper holds the metadata and one broker is the controller (`zookeeper.connect`).
    ZooKeeper,
}

/// The rule a follower uses to discard a diverged log suffix (`SEMANTICS.md` §3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FollowerTruncation {
    /// Current Kafka (KIP-279, fetch-based since 2.7): the largest common epoch and its end.
    LeaderEpoch,
    /// KIP-101 alone (Kafka 0.11 to 1.x): the leader answers the start of the next higher epoch
    /// when it never had the requested one, which lets logs diverge after fast elections (T4).
    Kip101,
    /// Before KIP-101: truncate to the follower's own high watermark, which can drop committed
    /// records (T1) and let logs diverge (T2).
    HighWatermark,
}

impl FollowerTruncation {
    /// The value as written in a scenario.
    pub fn as_str(self) -> &'static str {
        match self {
            FollowerTruncation::LeaderEpoch => "leader-epoch",
            FollowerTruncation::Kip101 => "kip-101",
            FollowerTruncation::HighWatermark => "high-watermark",
        }
    }
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            replica_lag_time_max_ms: 30_000,
            broker_session_timeout_ms: 9_000,
            broker_heartbeat_interval_ms: 2_000,
            replica_fetch_wait_max_ms: 500,
            min_insync_replicas: 1,
            unclean_leader_election_enable: false,
            network_latency_us: 1_000,
            network_jitter_us: 500,
            log_flush_interval_messages: i64::MAX as u64,
            os_writeback_interval_ms: 5_000,
            replica_socket_timeout_ms: 30_000,
            eligible_leader_replicas: false,
            follower_truncation: FollowerTruncation::LeaderEpoch,
            hw_ignores_pending_isr: false,
            quick_restart_keeps_isr: false,
            unfenced_fetch: false,
            auto_leader_rebalance_enable: true,
            leader_imbalance_check_interval_seconds: 300,
            log_retention_check_interval_ms: 300_000,
            log_cleaner_backoff_ms: 15_000,
            metadata_mode: MetadataMode::KRaft,
            zookeeper_session_timeout_ms: default_zk_session_timeout(),
            group_initial_rebalance_delay_ms: default_group_initial_rebalance_delay(),
            group_min_session_timeout_ms: default_group_min_session_timeout(),
            group_max_session_timeout_ms: default_group_max_session_timeout(),
            offsets_topic_num_partitions: default_offsets_partitions(),
            offsets_topic_replication_factor: default_offsets_replication(),
            offsets_commit_timeout_ms: default_offsets_commit_timeout(),
        }
    }
}

impl BrokerConfig {
    const KNOWN: &'static [&'static str] = &[
        "replica.lag.time.max.ms",
        "broker.session.timeout.ms",
        "broker.heartbeat.interval.ms",
        "replica.fetch.wait.max.ms",
        "min.insync.replicas",
        "unclean.leader.election.enable",
        "sim.network.latency.us",
        "sim.network.jitter.us",
        "log.flush.interval.messages",
        "sim.os.writeback.interval.ms",
        "replica.socket.timeout.ms",
        "eligible.leader.replicas.enable",
        "sim.legacy.follower.truncation",
        "sim.legacy.hw.ignores.pending.isr",
        "sim.legacy.quick.restart.keeps.isr",
        "sim.legacy.unfenced.fetch",
        "auto.leader.rebalance.enable",
        "leader.imbalance.check.interval.seconds",
        "log.retention.check.interval.ms",
        "log.cleaner.backoff.ms",
        "sim.metadata.mode",
        "zookeeper.session.timeout.ms",
        "group.initial.rebalance.delay.ms",
        "group.min.session.timeout.ms",
        "group.max.session.timeout.ms",
        "offsets.topic.num.partitions",
        "offsets.topic.replication.factor",
        "offsets.commit.timeout.ms",
    ];

    /// Sets one config by its Kafka name, validating the value.
    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        match name {
            "replica.lag.time.max.ms" => {
                self.replica_lag_time_max_ms = int_in(name, value, 100, 3_600_000)? as u64
            }
            "broker.session.timeout.ms" => {
                self.broker_session_timeout_ms = int_in(name, value, 100, 3_600_000)? as u64
            }
            "broker.heartbeat.interval.ms" => {
                self.broker_heartbeat_interval_ms = int_in(name, value, 10, 600_000)? as u64
            }
            "replica.fetch.wait.max.ms" => {
                self.replica_fetch_wait_max_ms = int_in(name, value, 1, 60_000)? as u64
            }
            "min.insync.replicas" => self.min_insync_replicas = int_in(name, value, 1, 32)? as u32,
            "unclean.leader.election.enable" => {
                self.unclean_leader_election_enable = bool_value(name, value)?
            }
            "sim.network.latency.us" => {
                self.network_latency_us = int_in(name, value, 0, 10_000_000)? as u64
            }
            "sim.network.jitter.us" => {
                self.network_jitter_us = int_in(name, value, 0, 10_000_000)? as u64
            }
            "log.flush.interval.messages" => {
                self.log_flush_interval_messages = int_in(name, value, 1, i64::MAX)? as u64
            }
            "sim.os.writeback.interval.ms" => {
                self.os_writeback_interval_ms = int_in(name, value, 10, 3_600_000)? as u64
            }
            "replica.socket.timeout.ms" => {
                self.replica_socket_timeout_ms = int_in(name, value, 100, 3_600_000)? as u64
            }
            "eligible.leader.replicas.enable" => {
                self.eligible_leader_replicas = bool_value(name, value)?
            }
            "sim.metadata.mode" => {
                self.metadata_mode = match value {
                    "kraft" => MetadataMode::KRaft,
                    "zookeeper" => MetadataMode::ZooKeeper,
                    _ => {
                        return Err(Error::new(
                            ErrorKind::InvalidConfig,
                            format!("Invalid value '{value}' for sim.metadata.mode: use kraft or zookeeper."),
                        ))
                    }
                }
            }
            "zookeeper.session.timeout.ms" => {
                self.zookeeper_session_timeout_ms = int_in(name, value, 100, 3_600_000)? as u64
            }
            "group.initial.rebalance.delay.ms" => {
                self.group_initial_rebalance_delay_ms = int_in(name, value, 0, 3_600_000)? as u64
            }
            "group.min.session.timeout.ms" => {
                self.group_min_session_timeout_ms = int_in(name, value, 1, 3_600_000)? as u64
            }
            "group.max.session.timeout.ms" => {
                self.group_max_session_timeout_ms = int_in(name, value, 1, 3_600_000)? as u64
            }
            "offsets.topic.num.partitions" => {
                self.offsets_topic_num_partitions =
                    int_in(name, value, 1, i64::from(crate::controller::MAX_PARTITIONS))? as u32
            }
            "offsets.topic.replication.factor" => {
                self.offsets_topic_replication_factor = int_in(name, value, 1, 32)? as u32
            }
            "offsets.commit.timeout.ms" => {
                self.offsets_commit_timeout_ms = int_in(name, value, 1, 3_600_000)? as u64
            }
            "sim.legacy.follower.truncation" => {
                self.follower_truncation = match value {
                    "leader-epoch" => FollowerTruncation::LeaderEpoch,
                    "kip-101" => FollowerTruncation::Kip101,
                    "high-watermark" => FollowerTruncation::HighWatermark,
                    _ => {
                        return Err(Error::new(
                            ErrorKind::InvalidConfig,
                            format!("{name} must be leader-epoch (current Kafka), kip-101 or high-watermark; '{value}' is none of them."),
                        ))
                    }
                }
            }
            "sim.legacy.hw.ignores.pending.isr" => {
                self.hw_ignores_pending_isr = bool_value(name, value)?
            }
            "sim.legacy.quick.restart.keeps.isr" => {
                self.quick_restart_keeps_isr = bool_value(name, value)?
            }
            "sim.legacy.unfenced.fetch" => self.unfenced_fetch = bool_value(name, value)?,
            "auto.leader.rebalance.enable" => {
                self.auto_leader_rebalance_enable = bool_value(name, value)?
            }
            "log.retention.check.interval.ms" => {
                self.log_retention_check_interval_ms = int_in(name, value, 100, 86_400_000)? as u64
            }
            "log.cleaner.backoff.ms" => {
                self.log_cleaner_backoff_ms = int_in(name, value, 100, 86_400_000)? as u64
            }
            "leader.imbalance.check.interval.seconds" => {
                self.leader_imbalance_check_interval_seconds = int_in(name, value, 1, 86_400)? as u64
            }
            _ => return Err(unknown("broker", name, Self::KNOWN)),
        }
        if self.broker_heartbeat_interval_ms >= self.broker_session_timeout_ms {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                "broker.heartbeat.interval.ms must be lower than broker.session.timeout.ms, or every broker would be fenced.",
            ));
        }
        Ok(())
    }
}

/// Per-topic overrides; `None` means the broker's default applies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicConfig {
    /// `min.insync.replicas`: acks=all writes need at least this many in-sync replicas.
    pub min_insync_replicas: Option<u32>,
    /// `unclean.leader.election.enable`: may an out-of-sync replica become leader?
    pub unclean_leader_election_enable: Option<bool>,
    /// `retention.ms` (-1 keeps forever; default 7 days).
    #[serde(default)]
    pub retention_ms: Option<i64>,
    /// `retention.bytes` (-1, the default, means no size limit).
    #[serde(default)]
    pub retention_bytes: Option<i64>,
    /// `segment.bytes` (default 1 GiB, at least 1 MiB since Kafka 4.0).
    #[serde(default)]
    pub segment_bytes: Option<i64>,
    /// `cleanup.policy`: `delete`, `compact` or `compact,delete`.
    #[serde(default)]
    pub cleanup_policy: Option<String>,
    /// `delete.retention.ms`: how long tombstones outlive the cleaning pass that saw them.
    #[serde(default)]
    pub delete_retention_ms: Option<i64>,
    /// `min.cleanable.dirty.ratio`, kept in per mille (0.5 → 500).
    #[serde(default)]
    pub min_cleanable_dirty_per_mille: Option<u64>,
}

impl TopicConfig {
    const KNOWN: &'static [&'static str] = &[
        "min.insync.replicas",
        "unclean.leader.election.enable",
        "retention.ms",
        "retention.bytes",
        "segment.bytes",
        "cleanup.policy",
        "delete.retention.ms",
        "min.cleanable.dirty.ratio",
    ];

    /// `segment.bytes`, or `default` when the topic does not set it.
    pub(crate) fn segment_bytes_or(&self, default: u64) -> u64 {
        self.segment_bytes.map_or(default, |v| v as u64)
    }

    /// The log settings these configs give, Kafka's defaults filling the rest.
    pub fn log_policy(&self) -> crate::log::LogPolicy {
        let d = crate::log::LogPolicy::default();
        // Brokers resolve this for every produced batch; the default needs no parsing.
        let (delete, compact) = match self.cleanup_policy.as_deref() {
            None => (true, false),
            Some(policy) => (
                policy.split(',').any(|p| p == "delete"),
                policy.split(',').any(|p| p == "compact"),
            ),
        };
        let positive = |v: Option<i64>, default: Option<u64>| match v {
            Some(x) if x < 0 => None,
            Some(x) => Some(x as u64),
            None => default,
        };
        crate::log::LogPolicy {
            segment_bytes: self.segment_bytes_or(d.segment_bytes),
            retention_ms: positive(self.retention_ms, d.retention_ms),
            retention_bytes: positive(self.retention_bytes, d.retention_bytes),
            delete,
            compact,
            delete_retention_ms: self
                .delete_retention_ms
                .map_or(d.delete_retention_ms, |v| v as u64),
            min_cleanable_dirty_per_mille: self
                .min_cleanable_dirty_per_mille
                .unwrap_or(d.min_cleanable_dirty_per_mille),
        }
    }

    /// Sets one topic config by its Kafka name, validating the value.
    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        match name {
            "min.insync.replicas" => {
                self.min_insync_replicas = Some(int_in(name, value, 1, 32)? as u32)
            }
            "unclean.leader.election.enable" => {
                self.unclean_leader_election_enable = Some(bool_value(name, value)?)
            }
            "retention.ms" => self.retention_ms = Some(int_in(name, value, -1, i64::MAX)?),
            "retention.bytes" => self.retention_bytes = Some(int_in(name, value, -1, i64::MAX)?),
            "segment.bytes" => {
                self.segment_bytes = Some(int_in(name, value, 1_048_576, i32::MAX as i64)?)
            }
            "delete.retention.ms" => {
                self.delete_retention_ms = Some(int_in(name, value, 0, i64::MAX)?)
            }
            "cleanup.policy" => {
                let v = value.trim().replace(' ', "");
                if !matches!(
                    v.as_str(),
                    "delete" | "compact" | "compact,delete" | "delete,compact"
                ) {
                    return Err(Error::new(
                        ErrorKind::InvalidConfig,
                        format!("Invalid value '{value}' for configuration cleanup.policy: it must be delete, compact or compact,delete."),
                    ));
                }
                self.cleanup_policy = Some(v);
            }
            "min.cleanable.dirty.ratio" => {
                let per_mille = ratio_per_mille(value.trim()).ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidConfig,
                        format!("Invalid value '{value}' for configuration min.cleanable.dirty.ratio: it must be a number between 0 and 1."),
                    )
                })?;
                self.min_cleanable_dirty_per_mille = Some(per_mille);
            }
            _ => return Err(unknown("topic", name, Self::KNOWN)),
        }
        Ok(())
    }

    /// The non-default configs as `name=value` pairs, as `kafka-topics.sh --describe` lists them.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(v) = self.min_insync_replicas {
            out.push(format!("min.insync.replicas={v}"));
        }
        if let Some(v) = self.unclean_leader_election_enable {
            out.push(format!("unclean.leader.election.enable={v}"));
        }
        if let Some(v) = &self.cleanup_policy {
            out.push(format!("cleanup.policy={v}"));
        }
        if let Some(v) = self.retention_ms {
            out.push(format!("retention.ms={v}"));
        }
        if let Some(v) = self.retention_bytes {
            out.push(format!("retention.bytes={v}"));
        }
        if let Some(v) = self.segment_bytes {
            out.push(format!("segment.bytes={v}"));
        }
        if let Some(v) = self.delete_retention_ms {
            out.push(format!("delete.retention.ms={v}"));
        }
        if let Some(v) = self.min_cleanable_dirty_per_mille {
            out.push(format!("min.cleanable.dirty.ratio={}", per_mille_text(v)));
        }
        out
    }
}

/// The producer's `acks` setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Acks {
    /// `acks=0`: the producer does not wait for any response.
    None,
    /// `acks=1`: the leader answers after its own append.
    Leader,
    /// `acks=all` (or -1): the leader answers once every in-sync replica has the batch.
    All,
}

impl Acks {
    /// The value as Kafka prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        }
    }
}

/// Producer settings (`ProducerConfig`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerConfig {
    /// `acks` (default `all` since Kafka 3.0).
    pub acks: Acks,
    /// `batch.size` in bytes.
    pub batch_size: u64,
    /// `linger.ms` (5 since Kafka 4.0, KIP-1030).
    pub linger_ms: u64,
    /// `request.timeout.ms`.
    pub request_timeout_ms: u64,
    /// `delivery.timeout.ms`: a record not acknowledged within this time fails.
    pub delivery_timeout_ms: u64,
    /// `retry.backoff.ms`: the first retry's backoff, doubled per attempt (KIP-580).
    pub retry_backoff_ms: u64,
    /// `retry.backoff.max.ms`: the longest retry backoff (KIP-580, Kafka 3.7).
    #[serde(default = "default_retry_backoff_max_ms")]
    pub retry_backoff_max_ms: u64,
    /// `max.in.flight.requests.per.connection`: produce requests a producer may have
    /// outstanding to one broker.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight_requests_per_connection: u32,
    /// `enable.idempotence` (default true since Kafka 3.0).
    pub enable_idempotence: bool,
    /// Whether `enable.idempotence` was set rather than left at its default: only then do
    /// conflicting settings fail; otherwise they quietly turn idempotence off, as in Kafka.
    #[serde(default)]
    pub enable_idempotence_set: bool,
    /// `partitioner.adaptive.partitioning.enable` (default true): records without a key go less
    /// often to partitions whose batches queue up (KIP-794).
    #[serde(default = "default_true")]
    pub partitioner_adaptive_partitioning_enable: bool,
    /// `partitioner.availability.timeout.ms` (default 0, off): with adaptive partitioning, a
    /// partition whose leader has had batches ready but could not take them for longer than this
    /// is left out when records without a key switch partition.
    #[serde(default)]
    pub partitioner_availability_timeout_ms: u64,
    /// `partitioner.ignore.keys` (default false): when true, keyed records are partitioned as
    /// records without a key are, by the sticky partitioner, instead of by their key's hash.
    #[serde(default)]
    pub partitioner_ignore_keys: bool,
}

fn default_true() -> bool {
    true
}

fn default_retry_backoff_max_ms() -> u64 {
    1_000
}

fn default_max_in_flight() -> u32 {
    5
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            acks: Acks::All,
            batch_size: 16_384,
            linger_ms: 5,
            request_timeout_ms: 30_000,
            delivery_timeout_ms: 120_000,
            retry_backoff_ms: 100,
            retry_backoff_max_ms: default_retry_backoff_max_ms(),
            max_in_flight_requests_per_connection: default_max_in_flight(),
            enable_idempotence: true,
            enable_idempotence_set: false,
            partitioner_adaptive_partitioning_enable: true,
            partitioner_availability_timeout_ms: 0,
            partitioner_ignore_keys: false,
        }
    }
}

impl ProducerConfig {
    const KNOWN: &'static [&'static str] = &[
        "acks",
        "batch.size",
        "linger.ms",
        "request.timeout.ms",
        "delivery.timeout.ms",
        "retry.backoff.ms",
        "retry.backoff.max.ms",
        "max.in.flight.requests.per.connection",
        "enable.idempotence",
        "partitioner.adaptive.partitioning.enable",
        "partitioner.availability.timeout.ms",
        "partitioner.ignore.keys",
    ];

    /// Sets one producer config by its Kafka name, validating the value.
    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        match name {
            "acks" => {
                self.acks = match value.trim() {
                    "0" => Acks::None,
                    "1" => Acks::Leader,
                    "all" | "-1" => Acks::All,
                    other => {
                        return Err(Error::new(
                            ErrorKind::InvalidConfig,
                            format!("Invalid value '{other}' for configuration acks: it must be 0, 1, all or -1."),
                        ))
                    }
                }
            }
            "batch.size" => self.batch_size = int_in(name, value, 1, 16_777_216)? as u64,
            "linger.ms" => self.linger_ms = int_in(name, value, 0, 60_000)? as u64,
            "request.timeout.ms" => self.request_timeout_ms = int_in(name, value, 1, 3_600_000)? as u64,
            "delivery.timeout.ms" => self.delivery_timeout_ms = int_in(name, value, 1, 86_400_000)? as u64,
            "retry.backoff.ms" => self.retry_backoff_ms = int_in(name, value, 0, 60_000)? as u64,
            "retry.backoff.max.ms" => self.retry_backoff_max_ms = int_in(name, value, 0, 60_000)? as u64,
            "max.in.flight.requests.per.connection" => {
                self.max_in_flight_requests_per_connection = int_in(name, value, 1, 1_000)? as u32
            }
            "enable.idempotence" => {
                self.enable_idempotence = bool_value(name, value)?;
                self.enable_idempotence_set = true;
            }
            "partitioner.adaptive.partitioning.enable" => {
                self.partitioner_adaptive_partitioning_enable = bool_value(name, value)?
            }
            "partitioner.availability.timeout.ms" => {
                self.partitioner_availability_timeout_ms = int_in(name, value, 0, 86_400_000)? as u64
            }
            "partitioner.ignore.keys" => self.partitioner_ignore_keys = bool_value(name, value)?,
            _ => return Err(unknown("producer", name, Self::KNOWN)),
        }
        Ok(())
    }

    /// Whether the producer is idempotent: `enable.idempotence`, unless it was left at its
    /// default and `acks` or `max.in.flight.requests.per.connection` conflict with it, which
    /// quietly turns it off (`ProducerConfig#postProcessAndValidateIdempotenceConfigs`).
    pub fn idempotent(&self) -> bool {
        self.enable_idempotence && self.idempotence_conflict().is_none()
    }

    fn idempotence_conflict(&self) -> Option<&'static str> {
        if self.acks != Acks::All {
            Some("Must set acks to all in order to use the idempotent producer. Set enable.idempotence=false to use acks=0 or acks=1.")
        } else if self.max_in_flight_requests_per_connection > 5 {
            Some("Must set max.in.flight.requests.per.connection to at most 5 when using the idempotent producer.")
        } else {
            None
        }
    }

    /// Kafka's client-side check: an explicitly enabled idempotence needs `acks=all` and at most
    /// 5 requests in flight per connection, and `delivery.timeout.ms` must cover
    /// `linger.ms + request.timeout.ms`.
    pub fn validate(&self) -> Result<()> {
        if self.enable_idempotence && self.enable_idempotence_set {
            if let Some(conflict) = self.idempotence_conflict() {
                return Err(Error::new(ErrorKind::InvalidConfig, conflict));
            }
        }
        if self.delivery_timeout_ms < self.linger_ms + self.request_timeout_ms {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                "delivery.timeout.ms should be equal to or larger than linger.ms + request.timeout.ms.",
            ));
        }
        Ok(())
    }
}

/// Where a consumer starts when it has no committed offset (`auto.offset.reset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OffsetReset {
    /// Start at the log start offset.
    Earliest,
    /// Start at the high watermark: only records produced from now on.
    Latest,
}

/// Consumer settings (`ConsumerConfig`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerConfig {
    /// `auto.offset.reset` (default latest).
    pub auto_offset_reset: OffsetReset,
    /// `enable.auto.commit`.
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms`.
    pub auto_commit_interval_ms: u64,
    /// `fetch.max.wait.ms`: how long a broker holds a fetch that finds no data.
    pub fetch_max_wait_ms: u64,
    /// `max.poll.records`: most records one fetch returns per partition in this model.
    pub max_poll_records: u32,
    /// `request.timeout.ms`.
    pub request_timeout_ms: u64,
    /// `retry.backoff.ms`.
    pub retry_backoff_ms: u64,
    /// `session.timeout.ms`: the coordinator removes a member silent this long.
    #[serde(default = "default_session_timeout")]
    pub session_timeout_ms: u64,
    /// `heartbeat.interval.ms`.
    #[serde(default = "default_heartbeat_interval")]
    pub heartbeat_interval_ms: u64,
    /// `max.poll.interval.ms`, also the classic protocol's rebalance timeout.
    #[serde(default = "default_max_poll_interval")]
    pub max_poll_interval_ms: u64,
    /// `group.instance.id`: set for a static member (KIP-345).
    #[serde(default)]
    pub group_instance_id: Option<String>,
    /// `partition.assignment.strategy`, in order of preference.
    #[serde(default = "default_assignors")]
    pub partition_assignment_strategy: Vec<crate::assignor::Assignor>,
    /// `sim.processing.ms.per.record` (simulator only): how long the application takes per
    /// record a `poll()` returned before it polls again; 0 polls again at once.
    #[serde(default)]
    pub processing_ms_per_record: u64,
}

fn default_session_timeout() -> u64 {
    45_000
}
fn default_heartbeat_interval() -> u64 {
    3_000
}
fn default_max_poll_interval() -> u64 {
    300_000
}
fn default_assignors() -> Vec<crate::assignor::Assignor> {
    crate::assignor::DEFAULT_ASSIGNORS.to_vec()
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            auto_offset_reset: OffsetReset::Latest,
            enable_auto_commit: true,
            auto_commit_interval_ms: 5_000,
            fetch_max_wait_ms: 500,
            max_poll_records: 500,
            request_timeout_ms: 30_000,
            retry_backoff_ms: 100,
            session_timeout_ms: default_session_timeout(),
            heartbeat_interval_ms: default_heartbeat_interval(),
            max_poll_interval_ms: default_max_poll_interval(),
            group_instance_id: None,
            partition_assignment_strategy: default_assignors(),
            processing_ms_per_record: 0,
        }
    }
}

impl ConsumerConfig {
    const KNOWN: &'static [&'static str] = &[
        "auto.offset.reset",
        "enable.auto.commit",
        "auto.commit.interval.ms",
        "fetch.max.wait.ms",
        "max.poll.records",
        "request.timeout.ms",
        "retry.backoff.ms",
        "session.timeout.ms",
        "heartbeat.interval.ms",
        "max.poll.interval.ms",
        "group.instance.id",
        "partition.assignment.strategy",
        "sim.processing.ms.per.record",
    ];

    /// Sets one consumer config by its Kafka name, validating the value.
    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        match name {
            "auto.offset.reset" => {
                self.auto_offset_reset = match value.trim() {
                    "earliest" => OffsetReset::Earliest,
                    "latest" => OffsetReset::Latest,
                    other => {
                        return Err(Error::new(
                            ErrorKind::InvalidConfig,
                            format!("Invalid value '{other}' for configuration auto.offset.reset: it must be earliest or latest."),
                        ))
                    }
                }
            }
            "enable.auto.commit" => self.enable_auto_commit = bool_value(name, value)?,
            "auto.commit.interval.ms" => self.auto_commit_interval_ms = int_in(name, value, 1, 86_400_000)? as u64,
            "fetch.max.wait.ms" => self.fetch_max_wait_ms = int_in(name, value, 0, 60_000)? as u64,
            "max.poll.records" => self.max_poll_records = int_in(name, value, 1, 100_000)? as u32,
            "request.timeout.ms" => self.request_timeout_ms = int_in(name, value, 1, 3_600_000)? as u64,
            "retry.backoff.ms" => self.retry_backoff_ms = int_in(name, value, 0, 60_000)? as u64,
            "session.timeout.ms" => self.session_timeout_ms = int_in(name, value, 1, 3_600_000)? as u64,
            "heartbeat.interval.ms" => self.heartbeat_interval_ms = int_in(name, value, 1, 3_600_000)? as u64,
            "max.poll.interval.ms" => self.max_poll_interval_ms = int_in(name, value, 1, 3_600_000)? as u64,
            "sim.processing.ms.per.record" => {
                self.processing_ms_per_record = int_in(name, value, 0, 60_000)? as u64
            }
            "group.instance.id" | "partition.assignment.strategy" if !cfg!(feature = "groups") => {
                return Err(Error::new(
                    ErrorKind::InvalidConfig,
                    format!("{name} is for consumer groups, which this build leaves out; use the CLI."),
                ));
            }
            "group.instance.id" => {
                let id = value.trim();
                if id.is_empty() || id.len() > 249 {
                    return Err(Error::new(
                        ErrorKind::InvalidConfig,
                        "Invalid value for configuration group.instance.id: it must be 1 to 249 characters.".to_string(),
                    ));
                }
                self.group_instance_id = Some(id.to_string());
            }
            "partition.assignment.strategy" => {
                let mut assignors = Vec::new();
                for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    // Kafka accepts the class names as well as the short names.
                    let short = name
                        .rsplit('.')
                        .next()
                        .map(|class| match class {
                            "RangeAssignor" => "range",
                            "RoundRobinAssignor" => "roundrobin",
                            "StickyAssignor" => "sticky",
                            "CooperativeStickyAssignor" => "cooperative-sticky",
                            _ => name,
                        })
                        .unwrap_or(name);
                    let Some(assignor) = crate::assignor::Assignor::from_name(short) else {
                        return Err(Error::new(
                            ErrorKind::InvalidConfig,
                            format!("Invalid value '{name}' for configuration partition.assignment.strategy: the assignors are range, roundrobin, sticky and cooperative-sticky."),
                        ));
                    };
                    if !assignors.contains(&assignor) {
                        assignors.push(assignor);
                    }
                }
                if assignors.is_empty() {
                    return Err(Error::new(
                        ErrorKind::InvalidConfig,
                        "Invalid value for configuration partition.assignment.strategy: name at least one assignor.".to_string(),
                    ));
                }
                if crate::assignor::rebalance_protocol(&assignors).is_none() {
                    return Err(Error::new(
                        ErrorKind::InvalidConfig,
                        "Invalid value for configuration partition.assignment.strategy: the assignors share no rebalance protocol.".to_string(),
                    ));
                }
                self.partition_assignment_strategy = assignors;
            }
            _ => return Err(unknown("consumer", name, Self::KNOWN)),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirty_ratios_read_and_print_like_kafka_doubles() {
        for (text, per_mille) in [
            ("0.5", 500),
            ("1", 1_000),
            (".25", 250),
            ("1.0", 1_000),
            ("0", 0),
            ("0.0005", 1),
            ("0.12349", 123),
        ] {
            assert_eq!(ratio_per_mille(text), Some(per_mille), "{text}");
        }
        for bad in ["", ".", "1.5", "-0.1", "abc", "0.5x", "2"] {
            assert_eq!(ratio_per_mille(bad), None, "{bad}");
        }
        assert_eq!(per_mille_text(500), "0.5");
        assert_eq!(per_mille_text(1_000), "1");
        assert_eq!(per_mille_text(125), "0.125");
        assert_eq!(per_mille_text(50), "0.05");
    }
}

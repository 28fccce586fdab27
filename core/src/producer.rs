//! A producer client: keyed partitioning, batching by `batch.size` and `linger.ms`, `acks`,
//! retries within `delivery.timeout.ms`, and idempotent sequence numbers (`SEMANTICS.md` §1, §7).
//!
//! It follows Kafka's `RecordAccumulator` and `Sender`: records join their partition's last
//! batch; a batch is ready when full, lingered or retried after its backoff; each send drains the
//! ready batches of every partition led by one broker into one produce request per broker, up to
//! `max.in.flight.requests.per.connection` requests in flight per broker (a partition is muted
//! only when that is 1). Failed batches go back to the front of their queue in sequence order.
//!
//! Simplification (shown in the page and ARCHITECTURE.md): the accumulator holds up to
//! [`MAX_QUEUED_RECORDS`] records rather than `buffer.memory` bytes.

use crate::config::{Acks, ProducerConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::event::EventKind;
use crate::history::SendOutcome;
use crate::log::Record;
use crate::metadata::{ClientMetadata, TopicPartition};
use crate::network::{Message, NodeId, Payload, ProduceBatch};
use crate::partitioner::{partition_for_key, StickyPartitioner};
use crate::sim::{Simulation, Timer};
use crate::time::SimTime;
use crate::{BrokerId, KafkaError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// Most records a producer keeps waiting in its accumulator (stands in for `buffer.memory`).
pub const MAX_QUEUED_RECORDS: usize = 20_000;
/// Most producers per simulation.
pub const MAX_PRODUCERS: usize = 16;
/// Most records per second one producer generates.
pub const MAX_RATE_PER_SEC: u32 = 100_000;

/// What a producer workload writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerSpec {
    /// `client.id`.
    pub client_id: String,
    /// The topic written to.
    pub topic: String,
    /// Records generated per simulated second.
    pub rate_per_sec: u32,
    /// Keys are `key-0` … `key-(n-1)`, drawn uniformly (but see `hot_key_per_mille`); 0 means
    /// null keys (sticky partitioning).
    pub keys: u32,
    /// Per mille of keyed records that use the hot key `key-0`; the others draw uniformly from
    /// all keys (`key-0` included), so `key-0`'s share is `h + (1000 − h) / keys` per mille.
    /// 0 (the default) draws no extra random number, so existing runs keep their traces.
    #[serde(default)]
    pub hot_key_per_mille: u32,
    /// Size of each record in bytes.
    pub record_bytes: u32,
    /// Per mille of keyed records sent as tombstones (null values), which delete their key from
    /// a compacted topic.
    #[serde(default)]
    pub tombstone_per_mille: u32,
    /// Producer configs.
    pub config: ProducerConfig,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct PendingRecord {
    key: Option<std::sync::Arc<str>>,
    value: crate::log::RecordValue,
    #[serde(default)]
    value_id: u64,
    #[serde(default)]
    tombstone: bool,
    created: SimTime,
    size: u32,
}

/// A batch of records for one partition (Kafka's `ProducerBatch`): filled in the accumulator up
/// to `batch.size`, drained into a request, and put back at the front of its queue to retry.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct ProducerBatch {
    records: Vec<PendingRecord>,
    bytes: u64,
    created: SimTime,
    /// Retries so far; a retry waits until `retry_at`.
    attempts: u32,
    retry_at: SimTime,
    /// The first record's sequence number, assigned when the batch is first drained by an
    /// idempotent producer and kept by every retry, so that the broker can spot duplicates;
    /// -1 until then.
    base_sequence: i32,
    /// The producer epoch the sequence belongs to.
    producer_epoch: u16,
    /// An earlier attempt may have been written (its answer was lost, or the leader failed
    /// after the append), so a failure of this batch is not a definite one.
    maybe_written: bool,
}

impl ProducerBatch {
    /// Whether records may still join the batch: one that was sent once is closed, so that a
    /// retry carries exactly what it carried.
    fn open(&self) -> bool {
        self.attempts == 0 && self.base_sequence < 0
    }
}

/// The accumulator's queue of batches for one partition, and what the sender knows of it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct PartitionQueue {
    batches: VecDeque<ProducerBatch>,
    /// Batches of this partition in requests not yet answered.
    in_flight: u32,
    /// The next sequence number to give out (idempotent producers).
    next_sequence: i32,
    /// The last sequence the broker acknowledged in this epoch, -1 for none.
    #[serde(default = "no_sequence")]
    last_acked: i32,
    /// A record was appended here at least once: Kafka's accumulator then has a queue for the
    /// partition, and it weighs partitions by load only once every partition has one.
    #[serde(default)]
    appended: bool,
}

fn no_sequence() -> i32 {
    -1
}

impl Default for PartitionQueue {
    fn default() -> Self {
        PartitionQueue {
            batches: VecDeque::new(),
            in_flight: 0,
            next_sequence: 0,
            last_acked: no_sequence(),
            appended: false,
        }
    }
}

/// A produce request sent to a broker and not yet answered.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct InFlightRequest {
    request_id: u64,
    node: BrokerId,
    /// The batches it carries, with their partition numbers.
    batches: Vec<(u32, ProducerBatch)>,
}

/// Counters a producer keeps, as its metrics would show.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerStats {
    /// Records handed to `send()`.
    pub sent: u64,
    /// Records acknowledged (with acks=0: handed to the network).
    pub acked: u64,
    /// Records given up after `delivery.timeout.ms`.
    pub failed: u64,
    /// Produce requests that came back with an error.
    pub errors: u64,
    /// The last error seen.
    pub last_error: Option<String>,
    /// Failed attempts by Kafka error name.
    #[serde(default)]
    pub errors_by_name: BTreeMap<String, u64>,
}

/// A producer client.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Producer {
    /// What it writes.
    pub spec: ProducerSpec,
    /// Counters.
    pub stats: ProducerStats,
    producer_id: i64,
    producer_epoch: u16,
    metadata: Option<ClientMetadata>,
    metadata_request: Option<u64>,
    /// An error said the metadata is stale: fresh metadata is asked for while sending goes on
    /// with what the producer has, as Kafka's `Metadata#requestUpdate`.
    #[serde(default)]
    metadata_stale: bool,
    bootstrap_cursor: u64,
    /// The accumulator, by partition number.
    partitions: Vec<PartitionQueue>,
    /// Produce requests in flight, oldest first.
    requests: Vec<InFlightRequest>,
    /// Where the next drain for each broker starts among the partitions it leads, so that every
    /// partition gets its turn when a request fills up (Kafka's `nodesDrainIndex`).
    drain_index: BTreeMap<BrokerId, usize>,
    sticky: StickyPartitioner,
    /// For `partitioner.availability.timeout.ms`: per broker, when the sender last found it with
    /// batches ready and when it last could send them (Kafka's `NodeLatencyStats`).
    #[serde(default)]
    node_latency: BTreeMap<BrokerId, NodeLatency>,
    wake_at: Option<SimTime>,
    /// The topic's name as a shared string, made once (a cache: not part of the state).
    #[serde(skip)]
    topic_name: Option<Arc<str>>,
    /// The client id as a shared string, the prefix of every value (a cache, as `topic_name`).
    #[serde(skip)]
    client_name: Option<Arc<str>>,
    /// When the next workload tick runs: a wake-up due no earlier is left to the tick.
    #[serde(default)]
    next_tick: SimTime,
    next_value: u64,
    /// Records owed by the rate but not yet generated, in millionths of a record.
    #[serde(default)]
    rate_carry: u64,
    /// The keys written so far, by number, so that each is formatted and allocated once rather
    /// than per record (a cache: not part of the state, rebuilt on demand).
    #[serde(skip)]
    key_names: Vec<Option<Arc<str>>>,
    /// No batch waiting in the accumulator was created before this time, so none can reach
    /// `delivery.timeout.ms` before it has passed since then: the sender's expiry scan, which
    /// runs at every readiness check, is skipped until then. A bound, not part of the state: the
    /// zero it starts from (or is read back as) only makes the next check scan.
    #[serde(skip)]
    oldest_batch_floor: SimTime,
    /// The partitions one drain walks (see [`Simulation::producer_drain`]), kept between drains
    /// so that each does not allocate a list of its own. Empty between drains.
    #[serde(skip)]
    drain_scratch: Vec<u32>,
}

/// Kafka's `NodeLatencyStats`: the gap between the two times says how long a broker has had data
/// waiting that the producer could not send it (its connection had no free request slot).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct NodeLatency {
    ready_ms: u64,
    drain_ms: u64,
}

/// The leader `metadata` names for a partition of `topic`: as `MetadataImage::partition`, without
/// building a `TopicPartition` to ask it.
fn leader_in(metadata: Option<&ClientMetadata>, partition: u32) -> Option<BrokerId> {
    Some(metadata?.leader(partition)?.0)
}

/// Most keys a producer remembers in its cache of key names (architecture invariant 8).
const MAX_CACHED_KEYS: u64 = 10_000;

/// `prefix` followed by `separator` and `n` in decimal, as a shared string.
///
/// This runs for every record produced. Written out by hand rather than with `format!`, whose
/// machinery cost more than the rest of generating a record, and assembled on the stack when it
/// fits, so that the shared string is the only allocation.
fn numbered(prefix: &str, separator: u8, mut n: u64) -> Arc<str> {
    let mut digits = [0u8; 20];
    let mut k = digits.len();
    loop {
        k -= 1;
        digits[k] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let digits = &digits[k..];
    let mut buffer = [0u8; 96];
    let len = prefix.len() + 1 + digits.len();
    let Some(out) = buffer.get_mut(..len) else {
        let mut text = String::with_capacity(len);
        text.push_str(prefix);
        text.push(char::from(separator));
        text.extend(digits.iter().map(|&d| char::from(d)));
        return Arc::from(text);
    };
    out[..prefix.len()].copy_from_slice(prefix.as_bytes());
    out[prefix.len()] = separator;
    out[prefix.len() + 1..].copy_from_slice(digits);
    // Only ASCII was added to a valid string, so this cannot fail.
    Arc::from(std::str::from_utf8(out).unwrap_or(prefix))
}

impl Producer {
    /// The partition leader this producer currently believes in.
    pub fn known_leader(&self, partition: u32) -> Option<BrokerId> {
        leader_in(self.metadata.as_ref(), partition)
    }

    /// The partitions this producer knows to have a leader, in order (Kafka's
    /// `availablePartitionsForTopic`).
    fn available_partitions(&self, partitions: u32) -> Vec<u32> {
        (0..partitions)
            .filter(|&q| self.known_leader(q).is_some())
            .collect()
    }

    /// Kafka's `RecordAccumulator#allBatchesFull`: the partition's last batch, the only one that
    /// may take more records, is full (or closed, having been sent once), or there is none.
    fn all_batches_full(&self, partition: u32) -> bool {
        let batch_size = self.spec.config.batch_size;
        self.partitions
            .get(partition as usize)
            .and_then(|q| q.batches.back())
            .is_none_or(|b| !b.open() || b.bytes >= batch_size)
    }

    /// Records waiting in the accumulator or in flight.
    pub fn pending(&self) -> usize {
        let queued: usize = self
            .partitions
            .iter()
            .flat_map(|q| q.batches.iter())
            .map(|b| b.records.len())
            .sum();
        let in_flight: usize = self
            .requests
            .iter()
            .flat_map(|r| r.batches.iter())
            .map(|(_, b)| b.records.len())
            .sum();
        queued + in_flight
    }

    /// One of the topic's partitions, named without copying the topic's name.
    fn topic_partition(&mut self, partition: u32) -> TopicPartition {
        // The metadata's name is the one the brokers' replicas share, which makes their lookups
        // pointer comparisons.
        if let Some(name) = self.metadata.as_ref().and_then(|m| m.topic_name()) {
            return TopicPartition::new(name.clone(), partition);
        }
        let spec = &self.spec;
        let name = self
            .topic_name
            .get_or_insert_with(|| Arc::from(spec.topic.as_str()));
        TopicPartition::new(name.clone(), partition)
    }

    /// Produce requests sent to this broker and not yet answered.
    pub fn requests_in_flight(&self, node: BrokerId) -> u32 {
        self.requests.iter().filter(|r| r.node == node).count() as u32
    }

    /// The lowest sequence among the partition's batches in flight or waiting to be retried
    /// (Kafka's `TransactionManager#firstInFlightSequence`).
    fn first_in_flight_sequence(&self, partition: u32) -> Option<i32> {
        let in_requests = self
            .requests
            .iter()
            .flat_map(|r| r.batches.iter())
            .filter(|(q, _)| *q == partition)
            .map(|(_, b)| b.base_sequence);
        let retrying = self
            .partitions
            .get(partition as usize)
            .into_iter()
            .flat_map(|q| q.batches.iter())
            .filter(|b| b.attempts > 0)
            .map(|b| b.base_sequence);
        in_requests.chain(retrying).filter(|&s| s >= 0).min()
    }

    /// Kafka's `RecordAccumulator#updateNodeLatencyStats`, kept only when
    /// `partitioner.availability.timeout.ms` is set: the broker had batches ready now, and
    /// `can_send` says whether its connection could take them.
    fn note_node_latency(&mut self, node: BrokerId, now_ms: u64, can_send: bool) {
        if self.spec.config.partitioner_availability_timeout_ms == 0 {
            return;
        }
        let stats = self.node_latency.entry(node).or_insert(NodeLatency {
            ready_ms: now_ms,
            drain_ms: now_ms,
        });
        if can_send {
            stats.drain_ms = now_ms;
        }
        stats.ready_ms = now_ms;
    }

    /// Whether the producer sends idempotently (it has a producer id).
    fn idempotent(&self) -> bool {
        self.producer_id >= 0
    }
}

impl Simulation {
    /// The producers, in creation order.
    pub fn producers(&self) -> &[Producer] {
        &self.producers
    }

    /// Adds a producer that starts sending at once.
    pub fn add_producer(&mut self, spec: ProducerSpec) -> Result<()> {
        spec.config.validate()?;
        if self.producers.len() >= MAX_PRODUCERS {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!("The simulator allows at most {MAX_PRODUCERS} producers."),
            ));
        }
        if self
            .producers
            .iter()
            .any(|p| p.spec.client_id == spec.client_id)
        {
            return Err(Error::new(
                ErrorKind::InvalidState,
                format!("A producer named '{}' already exists.", spec.client_id),
            ));
        }
        if spec.rate_per_sec > MAX_RATE_PER_SEC {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!("A producer may send at most {MAX_RATE_PER_SEC} records per second; {} were asked for.", spec.rate_per_sec),
            ));
        }
        if spec.hot_key_per_mille > 1_000 {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                format!(
                    "hot_key_per_mille must be between 0 and 1000; {} was given.",
                    spec.hot_key_per_mille
                ),
            ));
        }
        if spec.hot_key_per_mille > 0 && spec.keys == 0 {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                "hot_key_per_mille needs keys > 0: records without a key have no hot key.",
            ));
        }
        if !self
            .controller
            .image
            .topics
            .contains_key(spec.topic.as_str())
        {
            return Err(Error::new(
                ErrorKind::UnknownTopic,
                format!(
                    "Producer '{}' writes to topic '{}', which does not exist.",
                    spec.client_id, spec.topic
                ),
            ));
        }
        let index = self.producers.len() as u32;
        let producer_id = if spec.config.idempotent() {
            1000 + i64::from(index)
        } else {
            -1
        };
        self.producers.push(Producer {
            spec,
            stats: ProducerStats::default(),
            producer_id,
            producer_epoch: 0,
            metadata: None,
            metadata_request: None,
            metadata_stale: false,
            bootstrap_cursor: u64::from(index),
            partitions: Vec::new(),
            requests: Vec::new(),
            drain_index: BTreeMap::new(),
            sticky: StickyPartitioner::default(),
            node_latency: BTreeMap::new(),
            wake_at: None,
            topic_name: None,
            client_name: None,
            next_tick: SimTime::ZERO,
            next_value: 0,
            rate_carry: 0,
            key_names: Vec::new(),
            oldest_batch_floor: SimTime::ZERO,
            drain_scratch: Vec::new(),
        });
        self.producer_request_metadata(index);
        self.schedule_in_ms(0, Timer::ProducerTick { producer: index });
        Ok(())
    }

    pub(crate) fn set_producer_rate(&mut self, client_id: &str, rate: u32) -> Result<()> {
        if rate > MAX_RATE_PER_SEC {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!("A producer may send at most {MAX_RATE_PER_SEC} records per second."),
            ));
        }
        let producer = self
            .producers
            .iter_mut()
            .find(|p| p.spec.client_id == client_id)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::UnknownClient,
                    format!("There is no producer named '{client_id}'."),
                )
            })?;
        producer.spec.rate_per_sec = rate;
        Ok(())
    }

    /// Creates `records` records at once, as an application calling `send()` in a loop would.
    pub(crate) fn produce_burst(&mut self, client_id: &str, records: u32) -> Result<()> {
        let index = self
            .producers
            .iter()
            .position(|p| p.spec.client_id == client_id)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::UnknownClient,
                    format!("There is no producer named '{client_id}'."),
                )
            })? as u32;
        if records as usize > MAX_QUEUED_RECORDS {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!("A burst may create at most {MAX_QUEUED_RECORDS} records."),
            ));
        }
        self.producer_generate(index, u64::from(records));
        self.producer_try_send(index);
        Ok(())
    }

    fn producer_request_metadata(&mut self, index: u32) {
        let brokers: Vec<BrokerId> = self.brokers.iter().map(|b| b.id).collect();
        let p = &mut self.producers[index as usize];
        if p.metadata_request.is_some() || brokers.is_empty() {
            return;
        }
        let target = brokers[(p.bootstrap_cursor % brokers.len() as u64) as usize];
        p.bootstrap_cursor += 1;
        let request_id = self.request_id();
        let p = &mut self.producers[index as usize];
        p.metadata_request = Some(request_id);
        let timeout = p.spec.config.request_timeout_ms;
        self.send(
            NodeId::Producer(index),
            NodeId::Broker(target),
            Payload::Metadata { request_id },
        );
        self.schedule_in_ms(
            timeout,
            Timer::ProducerRequestTimeout {
                producer: index,
                request_id,
            },
        );
    }

    pub(crate) fn producer_timer(&mut self, timer: Timer) {
        match timer {
            Timer::ProducerTick { producer } => {
                let rate = u64::from(self.producers[producer as usize].spec.rate_per_sec);
                let next = if let Some(per_record_us) = 1_000_000u64.checked_div(rate) {
                    // Records are created in ticks of at least 1 ms (one record per tick below
                    // 1,000 records/s), all those due in the tick at once: fast producers then
                    // cost one event per millisecond rather than one per record.
                    let interval_us = per_record_us.max(1_000);
                    let p = &mut self.producers[producer as usize];
                    p.rate_carry += rate * interval_us;
                    let due = p.rate_carry / 1_000_000;
                    p.rate_carry %= 1_000_000;
                    self.producer_generate(producer, due);
                    self.now.plus_us(interval_us)
                } else {
                    // Paused: look again in a second in case the rate was raised.
                    self.now.plus_ms(1_000)
                };
                self.producers[producer as usize].next_tick = next;
                self.schedule(
                    next,
                    crate::sim::Task::Timer(Timer::ProducerTick { producer }),
                );
                self.producer_try_send(producer);
            }
            Timer::ProducerWake { producer } => {
                let p = &mut self.producers[producer as usize];
                if p.wake_at == Some(self.now) {
                    p.wake_at = None;
                }
                self.producer_try_send(producer);
            }
            Timer::ProducerRequestTimeout {
                producer,
                request_id,
            } => {
                let p = &mut self.producers[producer as usize];
                if p.metadata_request == Some(request_id) {
                    p.metadata_request = None;
                    self.producer_request_metadata(producer);
                    return;
                }
                // Kafka's network client closes a connection whose request timed out, so every
                // other request in flight on it fails too (with NETWORK_EXCEPTION) and is retried
                // in order: otherwise a later batch could be acknowledged before an earlier one.
                let node = p
                    .requests
                    .iter()
                    .find(|r| r.request_id == request_id)
                    .map(|r| r.node);
                let Some(node) = node else {
                    return;
                };
                let first_request_id = self.next_request_id;
                self.network.reconnect((producer, node), first_request_id);
                let others: Vec<u64> = p
                    .requests
                    .iter()
                    .filter(|r| r.node == node && r.request_id != request_id)
                    .map(|r| r.request_id)
                    .collect();
                // All of them are back in the accumulator before anything is sent again.
                self.producer_request_failed(producer, request_id, KafkaError::RequestTimedOut);
                for other in others {
                    self.producer_request_failed(producer, other, KafkaError::NetworkException);
                }
                self.producer_try_send(producer);
            }
            _ => {}
        }
    }

    /// Creates up to `count` records, as an application calling `send()` would, while the
    /// accumulator has room, and appends each to its partition's last batch if it fits there
    /// (`RecordAccumulator#append`).
    fn producer_generate(&mut self, index: u32, count: u64) {
        let now = self.now;
        let partitions = self
            .controller
            .image
            .topics
            .get(self.producers[index as usize].spec.topic.as_str())
            .map_or(0, |t| t.partitions.len() as u32);
        let p = &self.producers[index as usize];
        if partitions == 0 {
            return;
        }
        // Counted once rather than per record (it sums every queue): in this loop only the
        // records created here add to it.
        let pending = p.pending() as u64;
        // Partition counts come from the client's own metadata once it has it.
        let known = p
            .metadata
            .as_ref()
            .and_then(|m| m.partition_count())
            .unwrap_or(partitions);
        for created in 0..count {
            if pending + created >= MAX_QUEUED_RECORDS as u64 {
                return;
            }
            let p = &self.producers[index as usize];
            let (keys, hot) = (p.spec.keys, p.spec.hot_key_per_mille);
            // The hot-key roll draws only when a hot key is asked for, so other runs keep their
            // traces.
            let key_number = (keys > 0).then(|| {
                if hot > 0 && self.rng.below(1_000) < u64::from(hot) {
                    0
                } else {
                    self.rng.below(u64::from(keys))
                }
            });
            let p = &mut self.producers[index as usize];
            let key = key_number.map(|n| {
                if n >= MAX_CACHED_KEYS {
                    return numbered("key", b'-', n);
                }
                if p.key_names.len() <= n as usize {
                    p.key_names.resize(n as usize + 1, None);
                }
                p.key_names[n as usize]
                    .get_or_insert_with(|| numbered("key", b'-', n))
                    .clone()
            });
            let spec = &p.spec;
            let client = p
                .client_name
                .get_or_insert_with(|| Arc::from(spec.client_id.as_str()));
            let value = crate::log::RecordValue::Numbered(client.clone(), p.next_value);
            // Unique across producers: the producer's index in the high bits.
            let value_id = (u64::from(index) << 40) | p.next_value;
            p.next_value += 1;
            // `KafkaProducer#partition`: a key decides, unless `partitioner.ignore.keys`;
            // otherwise the accumulator's built-in sticky partitioner does.
            let sticky = key.is_none() || p.spec.config.partitioner_ignore_keys;
            let partition = match &key {
                Some(k) if !sticky => partition_for_key(k.as_bytes(), known).unwrap_or(0),
                _ => self.producer_sticky_partition(index, known),
            };
            let p = &mut self.producers[index as usize];
            let size = p.spec.record_bytes;
            // The roll draws only when tombstones are asked for, so other runs keep their traces.
            let per_mille = p.spec.tombstone_per_mille;
            let tombstone =
                key.is_some() && per_mille > 0 && self.rng.below(1_000) < u64::from(per_mille);
            let p = &mut self.producers[index as usize];
            let batch_size = p.spec.config.batch_size;
            if p.partitions.len() <= partition as usize {
                p.partitions
                    .resize_with(partition as usize + 1, PartitionQueue::default);
            }
            let queue = &mut p.partitions[partition as usize].batches;
            let record = PendingRecord {
                key,
                value,
                value_id,
                tombstone,
                created: now,
                size,
            };
            match queue.back_mut() {
                Some(last) if last.open() && last.bytes + u64::from(size) <= batch_size => {
                    last.bytes += u64::from(size);
                    last.records.push(record);
                }
                _ => queue.push_back(ProducerBatch {
                    records: {
                        // Room for a few records: most batches here get more than one.
                        let mut records = Vec::with_capacity(4);
                        records.push(record);
                        records
                    },
                    bytes: u64::from(size),
                    created: now,
                    attempts: 0,
                    retry_at: now,
                    base_sequence: -1,
                    producer_epoch: 0,
                    maybe_written: false,
                }),
            }
            p.partitions[partition as usize].appended = true;
            p.stats.sent += 1;
            if sticky {
                self.producer_sticky_appended(index, partition, known, u64::from(size));
            }
        }
    }

    /// Kafka's `BuiltInPartitioner#peekCurrentPartitionInfo` followed by the accumulator's
    /// `partitionChanged` check: the current sticky partition, after completing a switch that an
    /// incomplete batch held back if that batch has filled up or gone out since.
    fn producer_sticky_partition(&mut self, index: u32, known: u32) -> u32 {
        let p = &mut self.producers[index as usize];
        let batch_size = p.spec.config.batch_size;
        // Taken out for the call, so that the partitioner can read the producer's metadata.
        let mut sticky = std::mem::take(&mut p.sticky);
        let producer = &self.producers[index as usize];
        let available = || producer.available_partitions(known);
        let mut current = sticky.peek(&mut self.rng, known, available);
        if producer.all_batches_full(current)
            && sticky.update(&mut self.rng, 0, batch_size, true, known, available)
        {
            current = sticky.current().unwrap_or(current);
        }
        self.producers[index as usize].sticky = sticky;
        current
    }

    /// Kafka's `BuiltInPartitioner#updatePartitionInfo` after an append to the sticky partition:
    /// a switch is allowed only when the partition's batches are all full, so that it does not
    /// leave a half-filled batch behind (up to 2 × `batch.size`).
    fn producer_sticky_appended(&mut self, index: u32, partition: u32, known: u32, bytes: u64) {
        let p = &mut self.producers[index as usize];
        let batch_size = p.spec.config.batch_size;
        let mut sticky = std::mem::take(&mut p.sticky);
        let producer = &self.producers[index as usize];
        let enable_switch = producer.all_batches_full(partition);
        sticky.update(
            &mut self.rng,
            bytes,
            batch_size,
            enable_switch,
            known,
            || producer.available_partitions(known),
        );
        self.producers[index as usize].sticky = sticky;
    }

    /// Kafka's `Sender#sendProducerData`: finds the brokers that lead a partition with a batch
    /// ready (full, lingered `linger.ms`, or a retry past its backoff), and sends each of them
    /// with a free connection slot one request holding the first batch of every partition it
    /// leads (`RecordAccumulator#ready` and `#drain`).
    fn producer_try_send(&mut self, index: u32) {
        let now = self.now;
        // Kafka's sender computes the load statistics in its readiness check, before it expires
        // batches.
        self.producer_update_load_stats(index);
        self.producer_expire_batches(index);
        let p = &self.producers[index as usize];
        let config = &p.spec.config;
        let mut next_wake: Option<SimTime> = None;
        let mut needs_metadata = p.metadata_stale;
        // The brokers with a batch ready, at most one entry per broker (a fixed table: this runs
        // at every tick and answer, and a list allocated each time was a tenth of its cost).
        let mut ready = [0 as BrokerId; crate::sim::MAX_BROKERS as usize];
        let mut ready_count = 0;
        let guarantee_order = config.max_in_flight_requests_per_connection == 1;
        for (partition, queue) in p.partitions.iter().enumerate() {
            let Some(first) = queue.batches.front() else {
                continue;
            };
            // A batch waiting in the accumulator fails when its delivery timeout passes.
            let expiry = first.created.plus_ms(config.delivery_timeout_ms);
            next_wake = Some(next_wake.map_or(expiry, |w| w.min(expiry)));
            // With one request per connection, order is kept by muting a partition while it has
            // a batch in flight (Kafka's `guaranteeMessageOrder`).
            if guarantee_order && queue.in_flight > 0 {
                continue;
            }
            let Some(leader) = p.known_leader(partition as u32) else {
                needs_metadata = true;
                continue;
            };
            if ready[..ready_count].contains(&leader) {
                continue;
            }
            let (wait_until, backing_off) = if first.attempts > 0 {
                (first.retry_at, now < first.retry_at)
            } else {
                (first.created.plus_ms(config.linger_ms), false)
            };
            let full = queue.batches.len() > 1 || first.bytes >= config.batch_size;
            if (full || now >= wait_until) && !backing_off {
                // Leaders are brokers of the cluster, so the table never overflows; a stale
                // metadata entry naming more would only wait for the next check.
                if ready_count < ready.len() {
                    ready[ready_count] = leader;
                    ready_count += 1;
                }
            } else {
                next_wake = Some(next_wake.map_or(wait_until, |w| w.min(wait_until)));
            }
        }
        let ready = &mut ready[..ready_count];
        ready.sort_unstable();
        for &node in ready.iter() {
            let p = &mut self.producers[index as usize];
            let can_send =
                p.requests_in_flight(node) < p.spec.config.max_in_flight_requests_per_connection;
            p.note_node_latency(node, now.as_ms(), can_send);
            if !can_send {
                // The answer to one of the requests out frees the slot and sends again.
                continue;
            }
            let batches = self.producer_drain(index, node);
            if !batches.is_empty() {
                self.producer_send_request(index, node, batches);
            }
        }
        if needs_metadata {
            self.producer_request_metadata(index);
        }
        if let Some(at) = next_wake {
            let p = &mut self.producers[index as usize];
            // The workload tick sends too, so a wake-up due no earlier than it is not needed.
            let tick_first = p.spec.rate_per_sec > 0 && p.next_tick <= at;
            if !tick_first && p.wake_at.is_none_or(|w| at < w) {
                p.wake_at = Some(at);
                self.schedule(
                    at,
                    crate::sim::Task::Timer(Timer::ProducerWake { producer: index }),
                );
            }
        }
    }

    /// The queue-size half of Kafka's `RecordAccumulator#partitionReady`: with adaptive
    /// partitioning on and a queue made for every partition of the topic, the sticky partitioner
    /// gets the number of batches waiting for each partition that has a leader, leaving out (with
    /// `partitioner.availability.timeout.ms`) those with batches waiting for a leader that has not
    /// taken any for longer than the timeout. Otherwise its next switch is uniform.
    fn producer_update_load_stats(&mut self, index: u32) {
        let p = &mut self.producers[index as usize];
        // Every record of a keyed workload is placed by its key unless keys are ignored, so the
        // sticky partitioner, the statistics' only reader, never runs: building them (once per
        // readiness check) would change nothing. Keys and this setting are fixed at creation.
        if p.spec.keys > 0 && !p.spec.config.partitioner_ignore_keys {
            return;
        }
        let Producer {
            spec,
            metadata,
            partitions,
            sticky,
            node_latency,
            ..
        } = p;
        let known = metadata
            .as_ref()
            .and_then(|m| m.partition_count())
            .map(|n| n as usize);
        let queues_made = partitions.iter().filter(|q| q.appended).count();
        // Kafka builds the sizes from its map of queues, so a partition without a queue would
        // never be chosen: until each has one, switches stay uniform.
        let every_queue_made = known.is_some_and(|n| queues_made >= n);
        if !spec.config.partitioner_adaptive_partitioning_enable || !every_queue_made {
            sticky.clear_load_stats();
            return;
        }
        let timeout = spec.config.partitioner_availability_timeout_ms;
        let metadata = metadata.as_ref();
        let queues = partitions
            .iter()
            .enumerate()
            .filter(|(_, q)| q.appended)
            .filter_map(|(partition, q)| {
                let partition = partition as u32;
                let leader = leader_in(metadata, partition)?;
                let size = q.batches.len() as u32;
                // As in Kafka, only a partition with batches waiting can be left out.
                let lagging = size > 0
                    && timeout > 0
                    && node_latency
                        .get(&leader)
                        .is_some_and(|n| n.ready_ms.saturating_sub(n.drain_ms) > timeout);
                (!lagging).then_some((partition, size))
            });
        sticky.update_load_stats(queues, queues_made);
    }

    /// Takes the first batch of every partition `node` leads, starting where the last drain for
    /// it stopped, until `max.request.size` (`RecordAccumulator#drainBatchesForOneNode`).
    fn producer_drain(&mut self, index: u32, node: BrokerId) -> Vec<(u32, ProducerBatch)> {
        let now = self.now;
        let p = &mut self.producers[index as usize];
        let mut led = std::mem::take(&mut p.drain_scratch);
        led.clear();
        led.extend((0..p.partitions.len() as u32).filter(|&q| p.known_leader(q) == Some(node)));
        if led.is_empty() {
            p.drain_scratch = led;
            return Vec::new();
        }
        let mut drained = Vec::with_capacity(led.len());
        let start = p.drain_index.get(&node).copied().unwrap_or(0) % led.len();
        let guarantee_order = p.spec.config.max_in_flight_requests_per_connection == 1;
        let mut bytes = 0u64;
        // Where this drain stopped, so that the next one for the node starts there (written once
        // after the loop: the value is the same as writing it on every turn).
        let mut stopped_at = start;
        for k in 0..led.len() {
            let at = (start + k) % led.len();
            stopped_at = at;
            let partition = led[at];
            let idempotent = p.idempotent();
            let epoch = p.producer_epoch;
            // Only a batch that already has a sequence (a retry) needs the partition's first
            // sequence in flight, which scans every request out; new batches skip the scan.
            let retried_sequence = p.partitions[partition as usize]
                .batches
                .front()
                .map_or(-1, |b| b.base_sequence);
            let first_in_flight = if idempotent && retried_sequence >= 0 {
                p.first_in_flight_sequence(partition)
            } else {
                None
            };
            let queue = &mut p.partitions[partition as usize];
            if guarantee_order && queue.in_flight > 0 {
                continue;
            }
            let Some(first) = queue.batches.front() else {
                continue;
            };
            if first.attempts > 0 && now < first.retry_at {
                continue;
            }
            if !drained.is_empty() && bytes + first.bytes > MAX_REQUEST_SIZE {
                break;
            }
            // A retried batch goes out only as the partition's oldest batch in flight, so that
            // the broker sees sequences in order (`shouldStopDrainBatchesForPartition`).
            if idempotent
                && first.base_sequence >= 0
                && first_in_flight.is_some_and(|seq| seq != first.base_sequence)
            {
                break;
            }
            let Some(mut batch) = queue.batches.pop_front() else {
                continue;
            };
            if idempotent && batch.base_sequence < 0 {
                batch.base_sequence = queue.next_sequence;
                batch.producer_epoch = epoch;
                queue.next_sequence = add_sequence(queue.next_sequence, batch.records.len());
            }
            bytes += batch.bytes;
            drained.push((partition, batch));
        }
        p.drain_index.insert(node, stopped_at);
        p.drain_scratch = led;
        drained
    }

    fn producer_send_request(
        &mut self,
        index: u32,
        node: BrokerId,
        batches: Vec<(u32, ProducerBatch)>,
    ) {
        let request_id = self.request_id();
        let p = &mut self.producers[index as usize];
        let config = &p.spec.config;
        let (acks, timeout_ms) = (config.acks, config.request_timeout_ms);
        let topic = p.topic_partition(0).topic;
        let buffers = &mut self.record_buffers;
        let wire: Vec<ProduceBatch> = batches
            .iter()
            .map(|(partition, batch)| ProduceBatch {
                tp: TopicPartition::new(topic.clone(), *partition),
                records: {
                    let mut records = buffers.take();
                    records.extend(batch.records.iter().enumerate().map(|(i, r)| Record {
                        offset: 0,
                        leader_epoch: 0,
                        timestamp_ms: r.created.as_ms(),
                        key: r.key.clone(),
                        value: r.value.clone(),
                        size_bytes: r.size,
                        producer_id: p.producer_id,
                        producer_epoch: batch.producer_epoch,
                        sequence: if batch.base_sequence < 0 {
                            -1
                        } else {
                            add_sequence(batch.base_sequence, i)
                        },
                        value_id: r.value_id,
                        tombstone: r.tombstone,
                    }));
                    records
                },
            })
            .collect();
        if acks == Acks::None {
            // Nobody waits for an answer: the records count as sent once on the wire.
            let sent: usize = batches.iter().map(|(_, b)| b.records.len()).sum();
            p.stats.acked += sent as u64;
        } else {
            for (partition, _) in &batches {
                p.partitions[*partition as usize].in_flight += 1;
            }
            p.requests.push(InFlightRequest {
                request_id,
                node,
                batches,
            });
            self.schedule_in_ms(
                timeout_ms,
                Timer::ProducerRequestTimeout {
                    producer: index,
                    request_id,
                },
            );
        }
        self.send(
            NodeId::Producer(index),
            NodeId::Broker(node),
            Payload::Produce {
                request_id,
                acks,
                timeout_ms,
                batches: wire,
            },
        );
    }

    /// Fails the batches waiting in the accumulator whose `delivery.timeout.ms` has passed
    /// (`RecordAccumulator#expiredBatches`).
    fn producer_expire_batches(&mut self, index: u32) {
        let now = self.now;
        let timeout = self.producers[index as usize]
            .spec
            .config
            .delivery_timeout_ms;
        let p = &mut self.producers[index as usize];
        if now.ms_since(p.oldest_batch_floor) < timeout {
            return;
        }
        let mut expired = Vec::new();
        let mut oldest = now;
        for (partition, queue) in p.partitions.iter_mut().enumerate() {
            while queue
                .batches
                .front()
                .is_some_and(|b| now.ms_since(b.created) >= timeout)
            {
                if let Some(batch) = queue.batches.pop_front() {
                    expired.push((partition as u32, batch));
                }
            }
            // Retries go back ahead of newer batches but not always in creation order, so the
            // new bound looks at every batch left, not only the first of each queue.
            for batch in &queue.batches {
                oldest = oldest.min(batch.created);
            }
        }
        p.oldest_batch_floor = oldest;
        for (partition, batch) in expired {
            self.producer_give_up(index, partition, batch, KafkaError::RequestTimedOut);
        }
    }

    pub(crate) fn producer_receive(&mut self, index: u32, message: Message) {
        match message.payload {
            Payload::MetadataResponse { request_id, image } => {
                let p = &mut self.producers[index as usize];
                if p.metadata_request != Some(request_id) {
                    return;
                }
                p.metadata_request = None;
                p.metadata_stale = false;
                let metadata = ClientMetadata::new(*image, &p.spec.topic);
                let complete = metadata.partition_count().is_some();
                p.metadata = Some(metadata);
                if !complete {
                    // A freshly started broker may not have the topic yet: ask another.
                    self.producer_backoff_metadata(index);
                }
                self.producer_try_send(index);
            }
            Payload::ProduceResponse {
                request_id,
                results,
            } => {
                let p = &mut self.producers[index as usize];
                let Some(pos) = p.requests.iter().position(|r| r.request_id == request_id) else {
                    return;
                };
                let request = p.requests.remove(pos);
                for (partition, batch) in request.batches {
                    let p = &mut self.producers[index as usize];
                    p.partitions[partition as usize].in_flight -= 1;
                    let result = results
                        .iter()
                        .find(|(tp, _)| tp.partition == partition)
                        .map_or(Err(KafkaError::InvalidRequest), |(_, r)| *r);
                    match result {
                        Ok(base_offset) => {
                            p.stats.acked += batch.records.len() as u64;
                            if batch.base_sequence >= 0 && batch.producer_epoch == p.producer_epoch
                            {
                                let last =
                                    add_sequence(batch.base_sequence, batch.records.len() - 1);
                                p.partitions[partition as usize].last_acked = last;
                            }
                            let tp = p.topic_partition(partition);
                            for (i, r) in batch.records.iter().enumerate() {
                                let outcome = SendOutcome::Ok {
                                    offset: base_offset + i as u64,
                                };
                                self.history
                                    .record_send(index, tp.clone(), r.value_id, outcome);
                            }
                        }
                        Err(error) => self.producer_failed_batch(index, partition, batch, error),
                    }
                }
                self.producer_try_send(index);
            }
            Payload::Disconnected { request_id } => {
                let p = &mut self.producers[index as usize];
                if p.metadata_request == Some(request_id) {
                    p.metadata_request = None;
                    self.producer_backoff_metadata(index);
                    return;
                }
                self.producer_request_failed(index, request_id, KafkaError::NetworkException);
                self.producer_try_send(index);
            }
            _ => {}
        }
    }

    /// A request got no answer (a timeout or a lost connection): every batch in it failed. The
    /// caller sends again once every failed request is back in the accumulator.
    fn producer_request_failed(&mut self, index: u32, request_id: u64, error: KafkaError) {
        let p = &mut self.producers[index as usize];
        let Some(pos) = p.requests.iter().position(|r| r.request_id == request_id) else {
            return;
        };
        let request = p.requests.remove(pos);
        for (partition, batch) in request.batches {
            self.producers[index as usize].partitions[partition as usize].in_flight -= 1;
            self.producer_failed_batch(index, partition, batch, error);
        }
    }

    fn producer_backoff_metadata(&mut self, index: u32) {
        let backoff = self.producers[index as usize].spec.config.retry_backoff_ms;
        // The next wake retries metadata because partitions without a known leader ask for it.
        let p = &mut self.producers[index as usize];
        p.metadata = None;
        let at = self.now.plus_ms(backoff);
        if p.wake_at.is_none_or(|w| at < w) {
            p.wake_at = Some(at);
            self.schedule(
                at,
                crate::sim::Task::Timer(Timer::ProducerWake { producer: index }),
            );
        }
    }

    /// A batch came back with an error: it is retried after a backoff, at the front of its
    /// partition's queue, unless the error is not retriable or `delivery.timeout.ms` passed.
    fn producer_failed_batch(
        &mut self,
        index: u32,
        partition: u32,
        mut batch: ProducerBatch,
        error: KafkaError,
    ) {
        let now = self.now;
        let p = &mut self.producers[index as usize];
        p.stats.errors += 1;
        p.stats.last_error = Some(error.name().to_string());
        *p.stats
            .errors_by_name
            .entry(error.name().to_string())
            .or_insert(0) += 1;
        if error.invalidates_metadata() || error == KafkaError::RequestTimedOut {
            p.metadata_stale = true;
        }
        // Only errors raised before the append say for sure that nothing was written.
        let before_append = matches!(
            error,
            KafkaError::NotEnoughReplicas
                | KafkaError::InvalidRecord
                | KafkaError::InvalidProducerEpoch
                | KafkaError::OutOfOrderSequenceNumber
        );
        if !before_append {
            batch.maybe_written = true;
        }
        let timed_out = now.ms_since(batch.created) >= p.spec.config.delivery_timeout_ms;
        let queue = &p.partitions[partition as usize];
        let sequence_error = matches!(
            error,
            KafkaError::OutOfOrderSequenceNumber | KafkaError::InvalidProducerEpoch
        );
        // A sequence error is retried when it is only the echo of an earlier batch's failure:
        // the batch is not the next one the broker expects (`TransactionManager#canRetry`), or
        // it still carries an epoch the producer has since bumped.
        let stale_epoch = batch.base_sequence >= 0 && batch.producer_epoch != p.producer_epoch;
        let retriable = if sequence_error {
            stale_epoch || batch.base_sequence != add_sequence(queue.last_acked, 1)
        } else {
            error.is_retriable()
        };
        if timed_out || !retriable {
            self.producer_give_up(index, partition, batch, error);
            return;
        }
        batch.attempts += 1;
        let backoff = self.producer_retry_backoff(index, batch.attempts);
        batch.retry_at = now.plus_ms(backoff);
        let p = &mut self.producers[index as usize];
        if batch.producer_epoch != p.producer_epoch {
            // The epoch was bumped since this batch got its sequence: it gets a new one.
            batch.base_sequence = -1;
        }
        // Retries wait in sequence order ahead of new batches (`RecordAccumulator#reenqueue`).
        p.oldest_batch_floor = p.oldest_batch_floor.min(batch.created);
        let queue = &mut p.partitions[partition as usize].batches;
        let at = if batch.base_sequence < 0 {
            0
        } else {
            queue
                .iter()
                .position(|b| b.base_sequence < 0 || b.base_sequence > batch.base_sequence)
                .unwrap_or(queue.len())
        };
        queue.insert(at, batch);
        let tp = p.topic_partition(partition);
        let producer = p.spec.client_id.clone();
        self.emit_produce_failed(producer, tp, error, false);
    }

    /// `retry.backoff.ms` doubled per earlier retry up to `retry.backoff.max.ms`, with ±20 %
    /// jitter (KIP-580's `ExponentialBackoff`). Simplification: Kafka draws the jitter at every
    /// readiness check; here once per retry.
    fn producer_retry_backoff(&mut self, index: u32, attempts: u32) -> u64 {
        let config = &self.producers[index as usize].spec.config;
        let (base, max) = (config.retry_backoff_ms, config.retry_backoff_max_ms);
        if max <= base {
            return base;
        }
        let per_mille = 800 + self.rng.below(401);
        exponential_backoff_ms(base, max, attempts, per_mille)
    }

    /// The batch fails for good: not retriable, or past `delivery.timeout.ms`.
    fn producer_give_up(
        &mut self,
        index: u32,
        partition: u32,
        batch: ProducerBatch,
        error: KafkaError,
    ) {
        let p = &mut self.producers[index as usize];
        p.stats.failed += batch.records.len() as u64;
        let tp = p.topic_partition(partition);
        // An earlier attempt of this batch may have been written, so its fate may be unknown.
        let outcome = if batch.maybe_written {
            SendOutcome::Info
        } else {
            SendOutcome::Fail
        };
        for r in &batch.records {
            self.history
                .record_send(index, tp.clone(), r.value_id, outcome);
        }
        let p = &mut self.producers[index as usize];
        if p.idempotent() && batch.base_sequence >= 0 {
            // A sequence number went unused, so the broker would refuse the next batch as out of
            // order: Kafka bumps the producer epoch, and sequences restart at zero.
            p.producer_epoch += 1;
            for queue in &mut p.partitions {
                queue.next_sequence = 0;
                queue.last_acked = no_sequence();
                for waiting in &mut queue.batches {
                    waiting.base_sequence = -1;
                }
            }
        }
        let producer = p.spec.client_id.clone();
        self.emit_produce_failed(producer, tp, error, true);
    }

    fn emit_produce_failed(
        &mut self,
        producer: String,
        tp: TopicPartition,
        error: KafkaError,
        gave_up: bool,
    ) {
        let previous = self.events().back().cloned();
        let kind = EventKind::ProduceFailed {
            producer,
            tp,
            error: error.name().to_string(),
            gave_up,
        };
        // One line per streak of identical failures keeps the timeline readable.
        if previous.map(|e| e.kind) != Some(kind.clone()) {
            self.emit(kind);
        }
    }
}

/// Kafka's `ExponentialBackoff` with multiplier 2: `base · 2^(attempts − 1)`, at most `max`,
/// scaled by the jitter (`per_mille` / 1000, drawn from 800 to 1200) and capped at `max` again.
/// A `max` not above `base` turns the doubling and the jitter off.
fn exponential_backoff_ms(base: u64, max: u64, attempts: u32, per_mille: u64) -> u64 {
    if max <= base {
        return base;
    }
    let doublings = attempts.saturating_sub(1).min(32);
    let term = base.saturating_mul(1u64 << doublings).min(max);
    (term * per_mille / 1_000).min(max)
}

/// Largest produce request (`max.request.size`, 1 MB).
const MAX_REQUEST_SIZE: u64 = 1_048_576;

/// `sequence + n`, wrapping from `i32::MAX` to 0 as Kafka's `DefaultRecordBatch.incrementSequence`.
fn add_sequence(sequence: i32, n: usize) -> i32 {
    let sum = i64::from(sequence) + n as i64;
    (sum % (i64::from(i32::MAX) + 1)) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_backoff_doubles_up_to_the_maximum_with_jitter() {
        // retry.backoff.ms=100, retry.backoff.max.ms=1000, no jitter (factor 1.0).
        let no_jitter: Vec<u64> = (1..=6)
            .map(|a| exponential_backoff_ms(100, 1_000, a, 1_000))
            .collect();
        assert_eq!(no_jitter, [100, 200, 400, 800, 1_000, 1_000]);
        // ±20 % jitter, never beyond the maximum.
        assert_eq!(exponential_backoff_ms(100, 1_000, 1, 800), 80);
        assert_eq!(exponential_backoff_ms(100, 1_000, 1, 1_200), 120);
        assert_eq!(exponential_backoff_ms(100, 1_000, 5, 1_200), 1_000);
        // A maximum not above the base: the base, without jitter.
        assert_eq!(exponential_backoff_ms(500, 100, 3, 1_200), 500);
    }

    #[test]
    fn sequences_wrap_from_the_largest_int_to_zero() {
        assert_eq!(add_sequence(5, 3), 8);
        assert_eq!(add_sequence(i32::MAX, 1), 0);
        assert_eq!(add_sequence(i32::MAX - 1, 3), 1);
    }
}

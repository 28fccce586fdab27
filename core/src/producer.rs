//! A producer client: keyed partitioning, batching by `batch.size` and `linger.ms`, `acks`,
//! retries within `delivery.timeout.ms`, and idempotent sequence numbers (`SEMANTICS.md` §1, §7).
//!
//! Simplification (shown in the page and ARCHITECTURE.md): at most one batch per partition is in
//! flight, as with `max.in.flight.requests.per.connection=1`; Kafka's default allows five.

use crate::config::{Acks, ProducerConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::event::EventKind;
use crate::history::SendOutcome;
use crate::log::Record;
use crate::metadata::{MetadataImage, TopicPartition};
use crate::network::{Message, NodeId, Payload};
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
    /// Keys are `key-0` … `key-(n-1)`, drawn uniformly; 0 means null keys (sticky partitioning).
    pub keys: u32,
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
    value: std::sync::Arc<str>,
    #[serde(default)]
    value_id: u64,
    #[serde(default)]
    tombstone: bool,
    created: SimTime,
    size: u32,
    sequence: i32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct InFlight {
    request_id: u64,
    records: Vec<PendingRecord>,
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
    metadata: Option<MetadataImage>,
    metadata_request: Option<u64>,
    bootstrap_cursor: u64,
    queues: BTreeMap<u32, VecDeque<PendingRecord>>,
    retries: BTreeMap<u32, Vec<PendingRecord>>,
    in_flight: BTreeMap<u32, InFlight>,
    backoff_until: BTreeMap<u32, SimTime>,
    next_sequence: BTreeMap<u32, i32>,
    sticky: StickyPartitioner,
    wake_at: Option<SimTime>,
    next_value: u64,
    /// Records owed by the rate but not yet generated, in millionths of a record.
    #[serde(default)]
    rate_carry: u64,
    /// The keys written so far, by number, so that each is formatted and allocated once rather
    /// than per record (a cache: not part of the state, rebuilt on demand).
    #[serde(skip)]
    key_names: Vec<Option<Arc<str>>>,
}

/// Most keys a producer remembers in its cache of key names (architecture invariant 8).
const MAX_CACHED_KEYS: u64 = 10_000;

/// Appends `n` in decimal, as `format!("{n}")` would, without the formatting machinery, which
/// cost more than the rest of generating a record.
fn push_decimal(out: &mut String, mut n: u64) {
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
    for &d in &digits[k..] {
        out.push(char::from(d));
    }
}

/// `prefix` followed by `n` in decimal, as a shared string.
fn numbered(prefix: &str, separator: char, n: u64) -> Arc<str> {
    let mut text = String::with_capacity(prefix.len() + 21);
    text.push_str(prefix);
    text.push(separator);
    push_decimal(&mut text, n);
    Arc::from(text)
}

impl Producer {
    /// The partition leader this producer currently believes in.
    pub fn known_leader(&self, partition: u32) -> Option<BrokerId> {
        // As `MetadataImage::partition`, without building a `TopicPartition` to ask it.
        let image = self.metadata.as_ref()?;
        image
            .topics
            .get(&self.spec.topic)?
            .partitions
            .get(partition as usize)?
            .leader
    }

    /// Records waiting in the accumulator or in flight.
    pub fn pending(&self) -> usize {
        self.queues.values().map(VecDeque::len).sum::<usize>()
            + self.retries.values().map(Vec::len).sum::<usize>()
            + self
                .in_flight
                .values()
                .map(|f| f.records.len())
                .sum::<usize>()
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
        if !self.controller.image.topics.contains_key(&spec.topic) {
            return Err(Error::new(
                ErrorKind::UnknownTopic,
                format!(
                    "Producer '{}' writes to topic '{}', which does not exist.",
                    spec.client_id, spec.topic
                ),
            ));
        }
        let index = self.producers.len() as u32;
        let producer_id = if spec.config.enable_idempotence {
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
            bootstrap_cursor: u64::from(index),
            queues: BTreeMap::new(),
            retries: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            backoff_until: BTreeMap::new(),
            next_sequence: BTreeMap::new(),
            sticky: StickyPartitioner::default(),
            wake_at: None,
            next_value: 0,
            rate_carry: 0,
            key_names: Vec::new(),
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
                if let Some(per_record_us) = 1_000_000u64.checked_div(rate) {
                    // Records are created in ticks of at least 1 ms (one record per tick below
                    // 1,000 records/s), all those due in the tick at once: fast producers then
                    // cost one event per millisecond rather than one per record.
                    let interval_us = per_record_us.max(1_000);
                    let p = &mut self.producers[producer as usize];
                    p.rate_carry += rate * interval_us;
                    let due = p.rate_carry / 1_000_000;
                    p.rate_carry %= 1_000_000;
                    self.producer_generate(producer, due);
                    let at = self.now.plus_us(interval_us);
                    self.schedule(
                        at,
                        crate::sim::Task::Timer(Timer::ProducerTick { producer }),
                    );
                } else {
                    // Paused: look again in a second in case the rate was raised.
                    self.schedule_in_ms(1_000, Timer::ProducerTick { producer });
                }
                self.producer_try_send(producer);
            }
            Timer::ProducerWake { producer } => {
                self.producers[producer as usize].wake_at = None;
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
                let partition = p
                    .in_flight
                    .iter()
                    .find(|(_, f)| f.request_id == request_id)
                    .map(|(&k, _)| k);
                if let Some(partition) = partition {
                    self.producer_failed_batch(producer, partition, KafkaError::RequestTimedOut);
                }
            }
            _ => {}
        }
    }

    /// Creates up to `count` records, as an application calling `send()` would, while the
    /// accumulator has room.
    fn producer_generate(&mut self, index: u32, count: u64) {
        let now = self.now;
        let partitions = self
            .controller
            .image
            .topics
            .get(&self.producers[index as usize].spec.topic)
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
            .and_then(|m| m.topics.get(&p.spec.topic))
            .map_or(partitions, |t| t.partitions.len() as u32);
        for created in 0..count {
            if pending + created >= MAX_QUEUED_RECORDS as u64 {
                return;
            }
            let p = &self.producers[index as usize];
            let key_number = (p.spec.keys > 0).then(|| self.rng.below(u64::from(p.spec.keys)));
            let p = &mut self.producers[index as usize];
            let key = key_number.map(|n| {
                if n >= MAX_CACHED_KEYS {
                    return numbered("key", '-', n);
                }
                if p.key_names.len() <= n as usize {
                    p.key_names.resize(n as usize + 1, None);
                }
                p.key_names[n as usize]
                    .get_or_insert_with(|| numbered("key", '-', n))
                    .clone()
            });
            let value = numbered(&p.spec.client_id, '-', p.next_value);
            // Unique across producers: the producer's index in the high bits.
            let value_id = (u64::from(index) << 40) | p.next_value;
            p.next_value += 1;
            let partition = match &key {
                Some(k) => partition_for_key(k.as_bytes(), known).unwrap_or(0),
                None => {
                    let available: Vec<u32> = (0..known)
                        .filter(|&q| p.known_leader(q).is_some())
                        .collect();
                    let (batch, size) = (p.spec.config.batch_size, u64::from(p.spec.record_bytes));
                    p.sticky
                        .partition(&mut self.rng, known, &available, size, batch)
                }
            };
            let size = p.spec.record_bytes;
            // The roll draws only when tombstones are asked for, so other runs keep their traces.
            let per_mille = p.spec.tombstone_per_mille;
            let tombstone =
                key.is_some() && per_mille > 0 && self.rng.below(1_000) < u64::from(per_mille);
            let p = &mut self.producers[index as usize];
            p.queues
                .entry(partition)
                .or_default()
                .push_back(PendingRecord {
                    key,
                    value,
                    value_id,
                    tombstone,
                    created: now,
                    size,
                    sequence: -1,
                });
            p.stats.sent += 1;
        }
    }

    /// Sends every batch that is ready: full, lingered long enough, or a retry past its backoff.
    fn producer_try_send(&mut self, index: u32) {
        let now = self.now;
        let mut next_wake: Option<SimTime> = None;
        let mut needs_metadata = false;
        let partitions: Vec<u32> = {
            let p = &self.producers[index as usize];
            // Sized up front: collecting a filtered chain grew the Vec several times per call.
            let mut partitions = Vec::with_capacity(p.queues.len() + p.retries.len());
            partitions.extend(
                p.queues
                    .iter()
                    .filter(|(_, q)| !q.is_empty())
                    .map(|(&k, _)| k)
                    .chain(p.retries.keys().copied()),
            );
            partitions
        };
        for partition in partitions {
            let p = &mut self.producers[index as usize];
            if p.in_flight.contains_key(&partition) {
                continue;
            }
            if let Some(&until) = p.backoff_until.get(&partition) {
                if until > now {
                    next_wake = Some(next_wake.map_or(until, |w| w.min(until)));
                    continue;
                }
            }
            let Some(leader) = p.known_leader(partition) else {
                needs_metadata = true;
                continue;
            };
            let config = p.spec.config.clone();
            let records = if let Some(retry) = p.retries.remove(&partition) {
                // A retry resends exactly the same batch, sequence numbers included, so that the
                // broker can recognise a duplicate.
                retry
            } else {
                let queue = p.queues.entry(partition).or_default();
                let queued_bytes: u64 = queue.iter().map(|r| u64::from(r.size)).sum();
                let oldest = queue.front().map_or(now, |r| r.created);
                let linger_done = now.ms_since(oldest) >= config.linger_ms;
                if queued_bytes < config.batch_size && !linger_done {
                    let at = oldest.plus_ms(config.linger_ms);
                    next_wake = Some(next_wake.map_or(at, |w| w.min(at)));
                    continue;
                }
                // The batch takes records from the front while they fit (at least one), counted
                // first so that they move into a Vec of the right size.
                let mut taken = 0;
                let mut bytes = 0u64;
                for r in queue.iter() {
                    if taken > 0 && bytes + u64::from(r.size) > config.batch_size {
                        break;
                    }
                    bytes += u64::from(r.size);
                    taken += 1;
                }
                let mut batch: Vec<PendingRecord> = queue.drain(..taken).collect();
                if p.producer_id >= 0 {
                    let seq = p.next_sequence.entry(partition).or_insert(0);
                    for r in &mut batch {
                        r.sequence = *seq;
                        *seq = seq.wrapping_add(1).max(0);
                    }
                }
                batch
            };
            if records.is_empty() {
                continue;
            }
            let request_id = self.request_id();
            let p = &mut self.producers[index as usize];
            let tp = TopicPartition::new(p.spec.topic.clone(), partition);
            let wire: Vec<Record> = records
                .iter()
                .map(|r| Record {
                    offset: 0,
                    leader_epoch: 0,
                    timestamp_ms: r.created.as_ms(),
                    key: r.key.clone(),
                    value: r.value.clone(),
                    size_bytes: r.size,
                    producer_id: p.producer_id,
                    producer_epoch: p.producer_epoch,
                    sequence: r.sequence,
                    value_id: r.value_id,
                    tombstone: r.tombstone,
                })
                .collect();
            if config.acks == Acks::None {
                // Nobody waits for an answer: the records count as sent once on the wire.
                p.stats.acked += records.len() as u64;
            } else {
                p.in_flight.insert(
                    partition,
                    InFlight {
                        request_id,
                        records,
                    },
                );
                self.schedule_in_ms(
                    config.request_timeout_ms,
                    Timer::ProducerRequestTimeout {
                        producer: index,
                        request_id,
                    },
                );
            }
            self.send(
                NodeId::Producer(index),
                NodeId::Broker(leader),
                Payload::Produce {
                    request_id,
                    tp,
                    acks: config.acks,
                    timeout_ms: config.request_timeout_ms,
                    records: wire,
                },
            );
        }
        if needs_metadata {
            self.producer_request_metadata(index);
        }
        if let Some(at) = next_wake {
            let p = &mut self.producers[index as usize];
            if p.wake_at.is_none_or(|w| at < w) {
                p.wake_at = Some(at);
                self.schedule(
                    at,
                    crate::sim::Task::Timer(Timer::ProducerWake { producer: index }),
                );
            }
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
                let complete = image.topics.contains_key(&p.spec.topic);
                p.metadata = Some(*image);
                if !complete {
                    // A freshly started broker may not have the topic yet: ask another.
                    self.producer_backoff_metadata(index);
                }
                self.producer_try_send(index);
            }
            Payload::ProduceResponse {
                request_id,
                tp,
                result,
            } => {
                let p = &mut self.producers[index as usize];
                if p.in_flight.get(&tp.partition).map(|f| f.request_id) != Some(request_id) {
                    return;
                }
                match result {
                    Ok(base_offset) => {
                        let batch = p.in_flight.remove(&tp.partition).expect("checked above");
                        p.stats.acked += batch.records.len() as u64;
                        for (i, r) in batch.records.iter().enumerate() {
                            let outcome = SendOutcome::Ok {
                                offset: base_offset + i as u64,
                            };
                            self.history
                                .record_send(index, tp.clone(), r.value_id, outcome);
                        }
                        self.producer_try_send(index);
                    }
                    Err(error) => self.producer_failed_batch(index, tp.partition, error),
                }
            }
            Payload::Disconnected { request_id } => {
                let p = &mut self.producers[index as usize];
                if p.metadata_request == Some(request_id) {
                    p.metadata_request = None;
                    self.producer_backoff_metadata(index);
                    return;
                }
                let partition = p
                    .in_flight
                    .iter()
                    .find(|(_, f)| f.request_id == request_id)
                    .map(|(&k, _)| k);
                if let Some(partition) = partition {
                    self.producer_failed_batch(index, partition, KafkaError::NetworkException);
                }
            }
            _ => {}
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

    /// A failed batch is retried after `retry.backoff.ms` with fresh metadata, unless its oldest
    /// record is older than `delivery.timeout.ms`.
    fn producer_failed_batch(&mut self, index: u32, partition: u32, error: KafkaError) {
        let now = self.now;
        let p = &mut self.producers[index as usize];
        let Some(batch) = p.in_flight.remove(&partition) else {
            return;
        };
        p.stats.errors += 1;
        p.stats.last_error = Some(error.name().to_string());
        *p.stats
            .errors_by_name
            .entry(error.name().to_string())
            .or_insert(0) += 1;
        let oldest = batch.records.first().map_or(now, |r| r.created);
        let gave_up = now.ms_since(oldest) >= p.spec.config.delivery_timeout_ms;
        let tp = TopicPartition::new(p.spec.topic.clone(), partition);
        let client = p.spec.client_id.clone();
        if gave_up {
            p.stats.failed += batch.records.len() as u64;
            // An earlier attempt of this batch may have been written, so its fate is unknown.
            for r in &batch.records {
                self.history
                    .record_send(index, tp.clone(), r.value_id, SendOutcome::Info);
            }
            let p = &mut self.producers[index as usize];
            if p.producer_id >= 0 {
                // Kafka bumps the producer epoch so that sequences restart cleanly at zero.
                p.producer_epoch += 1;
                p.next_sequence.clear();
                for retry in p.retries.values_mut() {
                    for r in retry.iter_mut() {
                        r.sequence = -1;
                    }
                }
                let stale: Vec<(u32, Vec<PendingRecord>)> =
                    std::mem::take(&mut p.retries).into_iter().collect();
                for (q, records) in stale {
                    let queue = p.queues.entry(q).or_default();
                    for r in records.into_iter().rev() {
                        queue.push_front(r);
                    }
                }
            }
        } else {
            p.retries.insert(partition, batch.records);
            let backoff = p.spec.config.retry_backoff_ms;
            p.backoff_until.insert(partition, now.plus_ms(backoff));
            p.metadata = None;
        }
        let previous = self.events().back().cloned();
        let kind = EventKind::ProduceFailed {
            producer: client,
            tp,
            error: error.name().to_string(),
            gave_up,
        };
        // One line per streak of identical failures keeps the timeline readable.
        if previous.map(|e| e.kind) != Some(kind.clone()) {
            self.emit(kind);
        }
        self.producer_try_send(index);
    }
}

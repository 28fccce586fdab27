//! The records of KRaft's metadata log (`__cluster_metadata`): what the active controller
//! proposes to the quorum and every member replays into a [`MetadataImage`].
//!
//! Kafka's controller writes one record per change: `RegisterBrokerRecord` when a broker
//! registers, `BrokerRegistrationChangeRecord` when it is fenced or unfenced, `TopicRecord` and
//! one `PartitionRecord` per partition at creation, `PartitionChangeRecord` for a new leader or
//! ISR, `ConfigRecord` for a topic config and `RemoveTopicRecord` at deletion. The simulator
//! keeps those kinds and names. Simplification: a `PartitionChangeRecord` here carries the whole
//! new partition state instead of only the fields that changed, and a topic's configs travel as
//! one record rather than one per key.
//!
//! The controller's logic changes its in-memory image directly; [`diff`] turns the difference
//! between the image before and after into these records, and [`apply`] replays them. Replaying
//! the difference onto the old image gives the new one (tested below), so a member that replays
//! the log holds exactly what the active controller decided.

use crate::config::TopicConfig;
use crate::metadata::{BrokerRegistration, MetadataImage, PartitionState, TopicMetadata};
use crate::BrokerId;
use serde::{Deserialize, Serialize};

/// One record of the metadata log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetadataRecord {
    /// `RegisterBrokerRecord`: a broker (re)registered.
    RegisterBroker {
        /// The broker's `node.id`.
        broker: BrokerId,
        /// The registration as the controller keeps it.
        registration: BrokerRegistration,
    },
    /// `BrokerRegistrationChangeRecord`: a broker was fenced or unfenced.
    BrokerRegistrationChange {
        /// The broker.
        broker: BrokerId,
        /// Whether it is fenced now.
        fenced: bool,
    },
    /// `TopicRecord`, with the topic's configs (Kafka writes those as `ConfigRecord`s).
    Topic {
        /// The topic's name.
        name: String,
        /// Its id.
        topic_id: String,
        /// Its configs.
        config: TopicConfig,
    },
    /// `PartitionRecord`: a new partition.
    Partition {
        /// The topic.
        topic: String,
        /// The partition number.
        partition: u32,
        /// Its registration.
        state: PartitionState,
    },
    /// `PartitionChangeRecord`: a partition's leader, ISR, ELR or replicas changed.
    PartitionChange {
        /// The topic.
        topic: String,
        /// The partition number.
        partition: u32,
        /// The whole new registration (Kafka writes only the changed fields).
        state: PartitionState,
    },
    /// `ConfigRecord`: a topic's configs changed.
    Config {
        /// The topic.
        topic: String,
        /// Its configs now.
        config: TopicConfig,
    },
    /// `RemoveTopicRecord`: a topic was deleted.
    RemoveTopic {
        /// The topic's name.
        name: String,
    },
}

impl MetadataRecord {
    /// Kafka's name of the record type, as the page shows it.
    pub fn kind(&self) -> &'static str {
        match self {
            MetadataRecord::RegisterBroker { .. } => "RegisterBrokerRecord",
            MetadataRecord::BrokerRegistrationChange { .. } => "BrokerRegistrationChangeRecord",
            MetadataRecord::Topic { .. } => "TopicRecord",
            MetadataRecord::Partition { .. } => "PartitionRecord",
            MetadataRecord::PartitionChange { .. } => "PartitionChangeRecord",
            MetadataRecord::Config { .. } => "ConfigRecord",
            MetadataRecord::RemoveTopic { .. } => "RemoveTopicRecord",
        }
    }
}

/// The records that turn `old` into `new`, in the order Kafka's controller would write them:
/// brokers first, then topics by name with their partitions.
pub fn diff(old: &MetadataImage, new: &MetadataImage) -> Vec<MetadataRecord> {
    let mut records = Vec::new();
    for (&broker, registration) in &new.brokers {
        match old.brokers.get(&broker) {
            None => records.push(MetadataRecord::RegisterBroker {
                broker,
                registration: registration.clone(),
            }),
            Some(before) if before == registration => {}
            Some(before)
                if before.rack == registration.rack
                    && before.incarnation == registration.incarnation =>
            {
                records.push(MetadataRecord::BrokerRegistrationChange {
                    broker,
                    fenced: registration.fenced,
                })
            }
            Some(_) => records.push(MetadataRecord::RegisterBroker {
                broker,
                registration: registration.clone(),
            }),
        }
    }
    for name in old.topics.keys() {
        if !new.topics.contains_key(name) {
            records.push(MetadataRecord::RemoveTopic {
                name: name.to_string(),
            });
        }
    }
    for (name, topic) in &new.topics {
        let before = match old.topics.get(name) {
            // A topic deleted and created again under the same name has a new id.
            Some(t) if t.topic_id == topic.topic_id => Some(t),
            Some(_) => {
                records.push(MetadataRecord::RemoveTopic {
                    name: name.to_string(),
                });
                None
            }
            None => None,
        };
        match before {
            None => records.push(MetadataRecord::Topic {
                name: name.to_string(),
                topic_id: topic.topic_id.clone(),
                config: topic.config.clone(),
            }),
            Some(t) if t.config != topic.config => records.push(MetadataRecord::Config {
                topic: name.to_string(),
                config: topic.config.clone(),
            }),
            Some(_) => {}
        }
        for (p, state) in topic.partitions.iter().enumerate() {
            let partition = p as u32;
            match before.and_then(|t| t.partitions.get(p)) {
                None => records.push(MetadataRecord::Partition {
                    topic: name.to_string(),
                    partition,
                    state: state.clone(),
                }),
                Some(old_state) if old_state != state => {
                    records.push(MetadataRecord::PartitionChange {
                        topic: name.to_string(),
                        partition,
                        state: state.clone(),
                    })
                }
                Some(_) => {}
            }
        }
    }
    records
}

/// Replays one record onto an image. A record naming a topic the image does not have changes
/// nothing, as Kafka's image builder ignores changes to deleted topics.
pub fn apply(image: &mut MetadataImage, record: &MetadataRecord) {
    match record {
        MetadataRecord::RegisterBroker {
            broker,
            registration,
        } => {
            image.brokers.insert(*broker, registration.clone());
        }
        MetadataRecord::BrokerRegistrationChange { broker, fenced } => {
            if let Some(reg) = image.brokers.get_mut(broker) {
                reg.fenced = *fenced;
            }
        }
        MetadataRecord::Topic {
            name,
            topic_id,
            config,
        } => {
            image.topics.insert(
                name.as_str().into(),
                TopicMetadata {
                    topic_id: topic_id.clone(),
                    config: config.clone(),
                    partitions: Vec::new(),
                },
            );
        }
        MetadataRecord::Partition {
            topic,
            partition,
            state,
        }
        | MetadataRecord::PartitionChange {
            topic,
            partition,
            state,
        } => {
            if let Some(t) = image.topics.get_mut(topic.as_str()) {
                let p = *partition as usize;
                if p < t.partitions.len() {
                    t.partitions[p] = state.clone();
                } else if p == t.partitions.len() {
                    t.partitions.push(state.clone());
                }
            }
        }
        MetadataRecord::Config { topic, config } => {
            if let Some(t) = image.topics.get_mut(topic.as_str()) {
                t.config = config.clone();
            }
        }
        MetadataRecord::RemoveTopic { name } => {
            image.topics.remove(name.as_str());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::TopicMetadata;

    fn partition(replicas: &[BrokerId], leader: BrokerId, epoch: u32) -> PartitionState {
        PartitionState {
            replicas: replicas.to_vec(),
            isr: replicas.to_vec(),
            leader: Some(leader),
            leader_epoch: epoch,
            partition_epoch: epoch,
            elr: Vec::new(),
            adding: Vec::new(),
            removing: Vec::new(),
        }
    }

    fn image() -> MetadataImage {
        let mut image = MetadataImage::default();
        for b in 1..=3 {
            image.brokers.insert(
                b,
                BrokerRegistration {
                    fenced: false,
                    rack: None,
                    incarnation: 1,
                },
            );
        }
        image.topics.insert(
            "orders".into(),
            TopicMetadata {
                topic_id: "a".into(),
                config: TopicConfig::default(),
                partitions: vec![partition(&[1, 2, 3], 1, 0), partition(&[2, 3, 1], 2, 0)],
            },
        );
        image
    }

    fn replay(old: &MetadataImage, records: &[MetadataRecord]) -> MetadataImage {
        let mut image = old.clone();
        for r in records {
            apply(&mut image, r);
        }
        image
    }

    #[test]
    fn a_leader_change_is_one_partition_change_record() {
        let old = image();
        let mut new = old.clone();
        new.topics.get_mut("orders").unwrap().partitions[1] = partition(&[2, 3, 1], 3, 1);
        let records = diff(&old, &new);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].kind(), "PartitionChangeRecord");
        assert_eq!(replay(&old, &records), new);
    }

    #[test]
    fn fencing_a_broker_is_a_registration_change_and_a_restart_registers_again() {
        let old = image();
        let mut new = old.clone();
        new.brokers.get_mut(&2).unwrap().fenced = true;
        let records = diff(&old, &new);
        assert_eq!(
            records,
            vec![MetadataRecord::BrokerRegistrationChange {
                broker: 2,
                fenced: true
            }]
        );
        let mut restarted = new.clone();
        restarted.brokers.get_mut(&2).unwrap().incarnation = 2;
        let records = diff(&new, &restarted);
        assert_eq!(records[0].kind(), "RegisterBrokerRecord");
        assert_eq!(replay(&new, &records), restarted);
    }

    #[test]
    fn create_grow_configure_delete_and_recreate_replay_exactly() {
        let old = image();
        let mut new = old.clone();
        new.topics.get_mut("orders").unwrap().config.retention_ms = Some(1_000);
        new.topics
            .get_mut("orders")
            .unwrap()
            .partitions
            .push(partition(&[3, 1, 2], 3, 0));
        new.topics.insert(
            "payments".into(),
            TopicMetadata {
                topic_id: "b".into(),
                config: TopicConfig::default(),
                partitions: vec![partition(&[1, 2], 1, 0)],
            },
        );
        let records = diff(&old, &new);
        let kinds: Vec<&str> = records.iter().map(|r| r.kind()).collect();
        assert_eq!(
            kinds,
            [
                "ConfigRecord",
                "PartitionRecord",
                "TopicRecord",
                "PartitionRecord"
            ]
        );
        assert_eq!(replay(&old, &records), new);

        // Deleted, then created again with another id and fewer partitions.
        let mut again = new.clone();
        again.topics.insert(
            "orders".into(),
            TopicMetadata {
                topic_id: "c".into(),
                config: TopicConfig::default(),
                partitions: vec![partition(&[1, 2, 3], 1, 0)],
            },
        );
        again.topics.remove("payments");
        let records = diff(&new, &again);
        assert_eq!(replay(&new, &records), again);
        assert!(records
            .iter()
            .any(|r| matches!(r, MetadataRecord::RemoveTopic { name } if name == "payments")));
    }

    #[test]
    fn identical_images_need_no_record() {
        assert!(diff(&image(), &image()).is_empty());
    }
}

//! Reading `kafka-sim assign` input: one JSON object shaped like a case of
//! `tests/conformance/assignors.json`. Every error names the field it is about, so that a user
//! can find the mistake in a file of many members; fields the command does not use (`expected`,
//! `name`, `note`, …) are ignored.

use kafka_sim::assignor::{Assignor, GroupSubscription, MemberSubscription};
use kafka_sim::metadata::TopicPartition;
use serde_json::{Map, Value};

/// The assignor to run and its input.
pub struct AssignInput {
    pub assignor: Assignor,
    pub group: GroupSubscription,
}

/// Parses the text of an input file.
pub fn parse(text: &str) -> Result<AssignInput, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let top = value
        .as_object()
        .ok_or("expected one JSON object with `assignor`, `members` and `partitions_per_topic`")?;
    let name = required(top, "assignor", "")?
        .as_str()
        .ok_or("assignor: expected a string")?;
    let assignor = Assignor::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Assignor::ALL.iter().map(|a| a.name()).collect();
        format!(
            "assignor: unknown assignor {name:?} (expected one of {})",
            names.join(", ")
        )
    })?;
    let members = required(top, "members", "")?
        .as_array()
        .ok_or("members: expected an array of members")?
        .iter()
        .enumerate()
        .map(|(i, m)| member(m, &format!("members[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let counts = required(top, "partitions_per_topic", "")?
        .as_object()
        .ok_or("partitions_per_topic: expected an object of topic: partition count")?;
    let mut partitions_per_topic = std::collections::BTreeMap::new();
    for (topic, count) in counts {
        let count = count
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("partitions_per_topic.{topic}: expected a partition count (a non-negative integer)"))?;
        partitions_per_topic.insert(topic.clone(), count);
    }
    let mut partition_racks = std::collections::BTreeMap::new();
    if let Some(racks) = optional(top, "partition_replica_racks") {
        let racks = racks.as_object().ok_or(
            "partition_replica_racks: expected an object of \"topic-partition\": [replica racks]",
        )?;
        for (key, list) in racks {
            let field = format!("partition_replica_racks.{key}");
            let tp = topic_partition(key, &field)?;
            let list = list
                .as_array()
                .ok_or_else(|| format!("{field}: expected an array of rack names"))?;
            // A replica whose broker has no rack is written as null and contributes no rack.
            let names = list
                .iter()
                .filter(|r| !r.is_null())
                .map(|r| r.as_str().map(String::from))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("{field}: expected an array of rack names"))?;
            partition_racks.insert(tp, names);
        }
    }
    let prefer_rack_aware_logic = match optional(top, "prefer_rack_aware_logic_test_hook") {
        None => false,
        Some(v) => v
            .as_bool()
            .ok_or("prefer_rack_aware_logic_test_hook: expected true or false")?,
    };
    Ok(AssignInput {
        assignor,
        group: GroupSubscription {
            members,
            partitions_per_topic,
            partition_racks,
            prefer_rack_aware_logic,
        },
    })
}

/// A field that must be present; `prefix` is the path of the object holding it.
fn required<'v>(
    object: &'v Map<String, Value>,
    key: &str,
    prefix: &str,
) -> Result<&'v Value, String> {
    object
        .get(key)
        .ok_or_else(|| format!("{prefix}{key}: missing"))
}

/// A field that may be absent or null.
fn optional<'v>(object: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    object.get(key).filter(|v| !v.is_null())
}

/// An optional string field (absent or null is `None`).
fn optional_string(
    object: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<String>, String> {
    optional(object, key)
        .map(|v| {
            v.as_str()
                .map(String::from)
                .ok_or_else(|| format!("{path}.{key}: expected a string or null"))
        })
        .transpose()
}

/// `topic-partition`, the partition after the last dash.
fn topic_partition(text: &str, field: &str) -> Result<TopicPartition, String> {
    TopicPartition::parse(text).ok_or_else(|| {
        format!("{field}: expected \"topic-partition\" (e.g. \"orders-0\"), got {text:?}")
    })
}

fn member(value: &Value, path: &str) -> Result<MemberSubscription, String> {
    let object = value
        .as_object()
        .ok_or_else(|| format!("{path}: expected an object with `id` and `topics`"))?;
    let prefix = format!("{path}.");
    let member_id = required(object, "id", &prefix)?
        .as_str()
        .ok_or_else(|| format!("{path}.id: expected a string"))?
        .to_string();
    let topics = required(object, "topics", &prefix)?
        .as_array()
        .and_then(|topics| {
            topics
                .iter()
                .map(|t| t.as_str().map(String::from))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| format!("{path}.topics: expected an array of strings"))?;
    let mut owned_partitions = Vec::new();
    if let Some(owned) = optional(object, "owned") {
        let owned = owned.as_array().ok_or_else(|| {
            format!("{path}.owned: expected an array of \"topic-partition\" strings")
        })?;
        for (i, tp) in owned.iter().enumerate() {
            let field = format!("{path}.owned[{i}]");
            let text = tp
                .as_str()
                .ok_or_else(|| format!("{field}: expected a \"topic-partition\" string"))?;
            owned_partitions.push(topic_partition(text, &field)?);
        }
    }
    let generation = optional(object, "generation")
        .map(|g| {
            g.as_i64()
                .and_then(|g| i32::try_from(g).ok())
                .ok_or_else(|| format!("{path}.generation: expected an integer (-1 for none)"))
        })
        .transpose()?;
    Ok(MemberSubscription {
        member_id,
        group_instance_id: optional_string(object, "group_instance_id", path)?,
        rack: optional_string(object, "rack", path)?,
        topics,
        owned_partitions,
        generation,
    })
}

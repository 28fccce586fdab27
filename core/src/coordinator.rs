//! Which broker coordinates a consumer group (`SEMANTICS.md` §4.1).
//!
//! A group's state lives in one partition of `__consumer_offsets`, chosen from the group id
//! alone, and the leader of that partition is the group's coordinator. Transactional ids are
//! placed the same way over `__transaction_state`.

use crate::java::{string_hash_code, utils_abs};

/// The default of `offsets.topic.num.partitions` (and of `transaction.state.log.num.partitions`).
pub const DEFAULT_OFFSETS_PARTITIONS: u32 = 50;

/// The `__consumer_offsets` partition of a group: `Utils.abs(groupId.hashCode()) % partitions`.
///
/// Java's `String.hashCode` over UTF-16 code units, then `Utils.abs`, which maps
/// `Integer.MIN_VALUE` to 0 rather than leaving it negative. Returns `None` for zero partitions,
/// which Kafka's configuration does not allow.
pub fn partition_for_group(group_id: &str, partitions: u32) -> Option<u32> {
    if partitions == 0 {
        return None;
    }
    // `utils_abs` is never negative, so the conversion is exact.
    let hash = utils_abs(string_hash_code(group_id)) as u32;
    Some(hash % partitions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_value_hash_goes_to_partition_zero() {
        // Its hash is Integer.MIN_VALUE: abs gives 0, where `& 0x7fffffff` would also give 0 but
        // a plain absolute value would overflow.
        assert_eq!(partition_for_group("polygenelubricants", 50), Some(0));
        assert_eq!(partition_for_group("foo", 10), Some(4));
        assert_eq!(partition_for_group("foo", 0), None);
    }
}

//! The few behaviours of Java's standard library that Kafka's results depend on.
//!
//! Kafka leaves some choices to the iteration order of a `HashMap` or `HashSet`: the striped
//! replica placer walks a map of racks while drawing random numbers, and the sticky consumer
//! assignors visit members, and pick partitions to move back, in hash order. The simulator has no
//! `HashMap` (its results must not depend on hashing), so this module computes the order Java
//! would use, and the rest of the code follows it explicitly. It also holds the string hash and
//! comparison Kafka uses for group ids, member ids and topic names, and `Utils.abs`.

use std::cmp::Ordering;

/// `java.lang.String#hashCode`: `s[0]·31^(n−1) + … + s[n−1]` over UTF-16 code units, wrapping.
pub fn string_hash_code(text: &str) -> i32 {
    text.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// Kafka's `Utils.abs`: the absolute value, except that `Integer.MIN_VALUE` (whose absolute value
/// does not fit in an `int`) becomes 0. The group coordinator lookup uses it, where the producer
/// uses [`to_positive`](crate::partitioner::to_positive) instead.
pub fn utils_abs(n: i32) -> i32 {
    if n == i32::MIN {
        0
    } else {
        n.abs()
    }
}

/// `java.util.Optional#hashCode` of an optional rack name: the string's hash, or 0 when absent.
pub(crate) fn optional_string_hash_code(text: Option<&str>) -> i32 {
    text.map_or(0, string_hash_code)
}

/// `java.lang.String#compareTo`: lexicographic over UTF-16 code units.
///
/// Rust orders strings by UTF-8 bytes, which is code point order; the two disagree only when a
/// character beyond U+FFFF meets one in U+E000..U+FFFF, but Kafka's order is the one to follow.
pub fn compare_java_strings(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Kafka's `OptionalStringComparator`: the absent rack sorts first, then names as Java strings.
pub(crate) fn compare_optional_java_strings(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => compare_java_strings(a, b),
    }
}

/// `HashMap`'s default initial table size.
const INITIAL_CAPACITY: u32 = 16;
/// A bucket holding this many entries is turned into a tree (or the table grows instead).
const TREEIFY_THRESHOLD: usize = 8;
/// Tables smaller than this grow instead of turning a crowded bucket into a tree.
const MIN_TREEIFY_CAPACITY: u32 = 64;
/// Java never grows a table beyond 2^30 buckets.
const MAXIMUM_CAPACITY: u32 = 1 << 30;

/// `HashMap.hash`: the key's hash with its high half folded into the low half.
fn spread(hash: i32) -> u32 {
    let h = hash as u32;
    h ^ (h >> 16)
}

/// The iteration order of a default-constructed `java.util.HashMap` or `HashSet`, replayed
/// through its puts and removals.
///
/// Java iterates the table bucket by bucket, and a bucket's entries in the order they were
/// appended; resizing splits each bucket without reordering it, and a removal unlinks one entry.
/// So the order is: by bucket index under the current table size, then by insertion. The only
/// state to replay is how the table grew: it doubles when the entry count exceeds three quarters
/// of its size, and also when a put makes a bucket reach nine entries while the table is smaller
/// than 64. It never shrinks.
///
/// Not emulated: once a table of 64 or more buckets has a bucket of nine entries, Java turns that
/// bucket into a red-black tree whose later insertions no longer append. That needs dozens of
/// keys whose hashes agree in their low six bits; such a table is iterated here in the order
/// described above, which may differ from Java's but is still deterministic.
#[derive(Clone, Debug)]
pub(crate) struct JavaHashTable<T> {
    /// The table size; 0 until the first put allocates it, as in Java.
    capacity: u32,
    /// The entries present: the key, its spread hash and its insertion sequence number.
    entries: Vec<(T, u32, u64)>,
    next_sequence: u64,
}

impl<T: PartialEq> JavaHashTable<T> {
    /// An empty table, as `new HashMap<>()` makes.
    pub(crate) fn new() -> JavaHashTable<T> {
        JavaHashTable {
            capacity: 0,
            entries: Vec::new(),
            next_sequence: 0,
        }
    }

    /// `put`/`add` of a key with Java hash code `hash`. The key must not be present (callers
    /// know their keys are new; checking would cost a scan per insertion).
    pub(crate) fn insert(&mut self, key: T, hash: i32) {
        if self.capacity == 0 {
            self.capacity = INITIAL_CAPACITY;
        }
        let bucket_hash = spread(hash);
        // Only a table below 64 buckets grows for a crowded bucket, and such a table holds at
        // most 48 entries, so counting the bucket stays cheap.
        if self.capacity < MIN_TREEIFY_CAPACITY {
            let mask = self.capacity - 1;
            let already_in_bucket = self
                .entries
                .iter()
                .filter(|(_, other, _)| other & mask == bucket_hash & mask)
                .count();
            // Java checks the bucket while appending: the new entry is the ninth or later.
            if already_in_bucket >= TREEIFY_THRESHOLD {
                self.capacity *= 2;
            }
        }
        self.entries.push((key, bucket_hash, self.next_sequence));
        self.next_sequence += 1;
        // Then `++size > threshold`, where the threshold is three quarters of the table size.
        if self.entries.len() > (self.capacity as usize) / 4 * 3 && self.capacity < MAXIMUM_CAPACITY
        {
            self.capacity *= 2;
        }
    }

    /// `remove`: the other entries keep their order and the table keeps its size.
    pub(crate) fn remove(&mut self, key: &T) {
        self.entries.retain(|(k, _, _)| k != key);
    }

    /// Whether no entry is present.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The bucket index and insertion sequence that order an entry.
    fn position(&self, entry: &(T, u32, u64)) -> (u32, u64) {
        (entry.1 & self.capacity.wrapping_sub(1), entry.2)
    }

    /// The first key of an iteration (`iterator().next()`), if any.
    pub(crate) fn first(&self) -> Option<&T> {
        self.entries
            .iter()
            .min_by_key(|entry| self.position(entry))
            .map(|(key, _, _)| key)
    }

    /// All keys in iteration order.
    pub(crate) fn iteration_order(&self) -> Vec<&T> {
        let mut entries: Vec<&(T, u32, u64)> = self.entries.iter().collect();
        entries.sort_by_key(|entry| self.position(entry));
        entries.into_iter().map(|(key, _, _)| key).collect()
    }
}

/// The order in which a fresh `java.util.HashMap` iterates keys with these hash codes, when the
/// keys are distinct and were put in the given order with no removals.
///
/// Returns insertion indices in iteration order (see [`JavaHashTable`]).
pub(crate) fn hash_map_iteration_order(hashes: &[i32]) -> Vec<usize> {
    let mut table = JavaHashTable::new();
    for (index, &hash) in hashes.iter().enumerate() {
        table.insert(index, hash);
    }
    table.iteration_order().into_iter().copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_hashes_match_java() {
        // "hello world".hashCode() is 1794106052 in Java; the others follow the same definition.
        assert_eq!(string_hash_code(""), 0);
        assert_eq!(string_hash_code("a"), 97);
        assert_eq!(string_hash_code("rack1"), 108_269_626);
        assert_eq!(string_hash_code("hello world"), 1_794_106_052);
        // Overflow wraps, as Java's int arithmetic does.
        assert_eq!(
            string_hash_code("the quick brown fox jumps over the lazy dog"),
            -2_082_818_701
        );
        assert_eq!(optional_string_hash_code(None), 0);
    }

    #[test]
    fn java_string_order_uses_utf16_units() {
        // U+1F600 is the surrogate pair D83D DE00, which sorts before U+FF21 in UTF-16 but after
        // it in UTF-8.
        assert_eq!(
            compare_java_strings("\u{1F600}", "\u{FF21}"),
            Ordering::Less
        );
        assert_eq!(
            compare_optional_java_strings(None, Some("")),
            Ordering::Less
        );
    }

    #[test]
    fn iteration_follows_buckets_then_insertion() {
        // Twelve keys fit in 16 buckets: hashes 16 and 0 share bucket 0, in insertion order.
        let twelve: Vec<i32> = [16, 0].into_iter().chain(1..=10).collect();
        let expected: Vec<usize> = (0..12).collect();
        assert_eq!(hash_map_iteration_order(&twelve), expected);
        // A thirteenth key grows the table to 32 buckets, which moves hash 16 after hash 11.
        let thirteen: Vec<i32> = [16, 0].into_iter().chain(1..=11).collect();
        let expected: Vec<usize> = (1..13).chain([0]).collect();
        assert_eq!(hash_map_iteration_order(&thirteen), expected);
    }

    #[test]
    fn a_crowded_bucket_grows_a_small_table() {
        // Nine keys in bucket 0 of 16: the ninth put doubles the table instead of making a tree,
        // and under 32 buckets the multiples of 16 that are odd multiples move to bucket 16.
        let hashes: Vec<i32> = (0..9).map(|i| i * 16).collect();
        assert_eq!(
            hash_map_iteration_order(&hashes),
            vec![0, 2, 4, 6, 8, 1, 3, 5, 7]
        );
        // Eight keys stay in one bucket of 16.
        assert_eq!(
            hash_map_iteration_order(&hashes[..8]),
            (0..8).collect::<Vec<_>>()
        );
    }

    #[test]
    fn utils_abs_maps_min_value_to_zero() {
        assert_eq!(utils_abs(-5), 5);
        assert_eq!(utils_abs(7), 7);
        assert_eq!(utils_abs(i32::MIN), 0);
        // "polygenelubricants" is the classic string whose hash is Integer.MIN_VALUE.
        assert_eq!(string_hash_code("polygenelubricants"), i32::MIN);
    }

    #[test]
    fn removals_keep_order_and_table_size() {
        let mut table = JavaHashTable::new();
        // Thirteen keys grow the table to 32 buckets; removing one does not shrink it, so 16
        // stays after 11 (bucket 16 of 32), as in Java.
        for h in [16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] {
            table.insert(h, h);
        }
        table.remove(&11);
        assert_eq!(table.first(), Some(&0));
        assert_eq!(table.iteration_order().last(), Some(&&16));
        table.remove(&0);
        assert_eq!(table.first(), Some(&1));
        assert!(!table.is_empty());
    }

    #[test]
    fn high_bits_are_folded_in() {
        // 0x10000 spreads to 0x10001, bucket 1; so it follows hash 0 and precedes hash 2.
        assert_eq!(hash_map_iteration_order(&[2, 0x10000, 0]), vec![2, 1, 0]);
    }
}

//! The few `java.lang.String` and `java.util.HashMap` behaviours that placement depends on.
//!
//! The striped placer keeps its racks in a `HashMap<Optional<String>, Rack>` and walks that map
//! twice while drawing random numbers: once to pick each broker list's start offset and once to
//! reshuffle. The order of that walk decides which draw goes to which rack, so reproducing
//! Kafka's placements needs the map's iteration order. The simulator has no `HashMap`; this
//! module computes the order Java would use and the rest of the code follows it explicitly.

use std::cmp::Ordering;

/// `java.lang.String#hashCode`: `s[0]·31^(n−1) + … + s[n−1]` over UTF-16 code units, wrapping.
pub(crate) fn string_hash_code(text: &str) -> i32 {
    text.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// `java.util.Optional#hashCode` of an optional rack name: the string's hash, or 0 when absent.
pub(crate) fn optional_string_hash_code(text: Option<&str>) -> i32 {
    text.map_or(0, string_hash_code)
}

/// `java.lang.String#compareTo`: lexicographic over UTF-16 code units.
///
/// Rust orders strings by UTF-8 bytes, which is code point order; the two disagree only when a
/// character beyond U+FFFF meets one in U+E000..U+FFFF, but Kafka's order is the one to follow.
pub(crate) fn compare_java_strings(a: &str, b: &str) -> Ordering {
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

/// `HashMap.hash`: the key's hash with its high half folded into the low half.
fn spread(hash: i32) -> u32 {
    let h = hash as u32;
    h ^ (h >> 16)
}

/// The order in which a fresh `java.util.HashMap` iterates keys with these hash codes, when the
/// keys are distinct and were put in the given order with no removals.
///
/// Returns insertion indices in iteration order. Java iterates the table bucket by bucket, and a
/// bucket's entries in the order they were appended; resizing splits each bucket without
/// reordering it. So the order is the insertion order stably sorted by bucket index under the final
/// table size, and the only state to replay is how the table grew: it doubles when the entry count
/// exceeds three quarters of its size, and also when a put makes a bucket reach nine entries
/// while the table is smaller than 64.
///
/// Not emulated: once a table of 64 or more buckets has a bucket of nine entries, Java turns that
/// bucket into a red-black tree whose later insertions no longer append. That needs dozens of rack
/// names or nine names whose hashes agree in their low six bits; such a map is iterated here in
/// the order described above, which may differ from Kafka's but is still deterministic.
pub(crate) fn hash_map_iteration_order(hashes: &[i32]) -> Vec<usize> {
    let buckets: Vec<u32> = hashes.iter().map(|&h| spread(h)).collect();
    let mut capacity = INITIAL_CAPACITY;
    for (size, &bucket_hash) in buckets.iter().enumerate() {
        let mask = capacity - 1;
        let already_in_bucket = buckets[..size]
            .iter()
            .filter(|&&other| other & mask == bucket_hash & mask)
            .count();
        // Java checks the bucket while appending: the new entry is the ninth or later.
        if already_in_bucket >= TREEIFY_THRESHOLD && capacity < MIN_TREEIFY_CAPACITY {
            capacity *= 2;
        }
        // Then `++size > threshold`, where the threshold is three quarters of the table size.
        let entries = u32::try_from(size + 1).expect("rack count fits in a u32");
        if entries > capacity / 4 * 3 {
            capacity *= 2;
        }
    }
    let mask = capacity - 1;
    let mut order: Vec<usize> = (0..hashes.len()).collect();
    // A stable sort keeps insertion order within a bucket, as Java's bucket lists do.
    order.sort_by_key(|&i| buckets[i] & mask);
    order
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
    fn high_bits_are_folded_in() {
        // 0x10000 spreads to 0x10001, bucket 1; so it follows hash 0 and precedes hash 2.
        assert_eq!(hash_map_iteration_order(&[2, 0x10000, 0]), vec![2, 1, 0]);
    }
}

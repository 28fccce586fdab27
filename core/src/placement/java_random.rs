//! The randomness seam of replica placement, with `java.util.Random` semantics where they matter.
//!
//! Kafka's placers draw from a `java.util.Random`: `nextInt(bound)` for start offsets and
//! `Collections.shuffle` for the striped placer's periodic reshuffle. To reproduce Kafka's own test
//! vectors exactly, the placers here draw through [`PlacementRandom`], and [`shuffle`] performs the
//! same swaps as `Collections.shuffle`. Tests plug in [`MockRandom`], the generator of Kafka's
//! tests; the simulator plugs in its seeded [`SimRng`].

use crate::rng::SimRng;

/// A source of bounded random integers, shaped like `java.util.Random#nextInt(int)`.
///
/// Only `i32` values are drawn: a platform-width integer would make a wasm32 run and a 64-bit run
/// of the same seed diverge.
pub trait PlacementRandom {
    /// A uniformly distributed integer in `0..bound`.
    ///
    /// `bound` must be positive; the placers never ask otherwise (Java throws in that case, and
    /// implementations may panic).
    fn next_int(&mut self, bound: i32) -> i32;
}

/// Shuffles `items` in place exactly as `java.util.Collections.shuffle(list, random)` does.
///
/// Java walks the list from the end, swapping position `i − 1` with a position drawn by
/// `nextInt(i)`, for `i` from the length down to 2. Lists of length 0 or 1 draw nothing, which
/// matters because every draw shifts the rest of the random stream.
pub fn shuffle<T>(items: &mut [T], random: &mut dyn PlacementRandom) {
    for i in (2..=items.len()).rev() {
        // Placement lists hold at most a few thousand brokers, so the length fits in an i32.
        let bound = i32::try_from(i).expect("list length fits in an i32");
        let j = random.next_int(bound);
        // `next_int` returns a value in 0..bound, so the index is in range and non-negative.
        items.swap(i - 1, j as usize);
    }
}

/// The multiplier of `MockRandom`'s 64-bit linear congruential step.
const MOCK_MULTIPLIER: u64 = 2_862_933_555_777_941_757;
/// The increment of `MockRandom`'s 64-bit linear congruential step.
const MOCK_INCREMENT: u64 = 3_037_000_493;

/// Kafka's test generator `org.apache.kafka.server.util.MockRandom`.
///
/// It overrides `java.util.Random#next(bits)` with a plain 64-bit linear congruential step and
/// inherits `nextInt(bound)` from `java.util.Random`. Kafka's `StripedReplicaPlacerTest` uses it
/// with its default seed 17, so the placement vectors can only be reproduced with this exact
/// stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MockRandom {
    state: u64,
}

impl MockRandom {
    /// The seed that Kafka's `new MockRandom()` uses.
    pub const DEFAULT_SEED: u64 = 17;

    /// A generator whose state starts at `seed` (Kafka's `new MockRandom(seed)`).
    pub fn new(seed: u64) -> MockRandom {
        MockRandom { state: seed }
    }

    /// `Random#next(bits)`: advances the state and returns its top `bits` bits (1 to 32).
    pub fn next_bits(&mut self, bits: u32) -> i32 {
        debug_assert!((1..=32).contains(&bits));
        self.state = self
            .state
            .wrapping_mul(MOCK_MULTIPLIER)
            .wrapping_add(MOCK_INCREMENT);
        // Java narrows the shifted long to an int, keeping the low 32 bits.
        (self.state >> (64 - bits)) as u32 as i32
    }
}

impl Default for MockRandom {
    fn default() -> MockRandom {
        MockRandom::new(MockRandom::DEFAULT_SEED)
    }
}

impl PlacementRandom for MockRandom {
    /// `java.util.Random#nextInt(int bound)` on top of [`MockRandom::next_bits`].
    fn next_int(&mut self, bound: i32) -> i32 {
        assert!(bound > 0, "bound must be positive, got {bound}");
        let r = self.next_bits(31);
        let m = bound - 1;
        if bound & m == 0 {
            // A power of two: Java scales the 31 random bits instead of taking a remainder, so it
            // uses the high bits, which are the better ones of a linear congruential generator.
            return ((i64::from(bound) * i64::from(r)) >> 31) as i32;
        }
        // Otherwise Java rejects the draws that fall in the final, incomplete block of `bound`
        // values (the int subtraction overflows to negative exactly then) to avoid modulo bias.
        let mut u = r;
        loop {
            let candidate = u % bound;
            if u.wrapping_sub(candidate).wrapping_add(m) >= 0 {
                return candidate;
            }
            u = self.next_bits(31);
        }
    }
}

impl PlacementRandom for SimRng {
    /// A uniform integer in `0..bound` from the simulator's own stream.
    ///
    /// This draws 64-bit words through [`SimRng::below`], never a `usize`, so a seed places
    /// replicas identically on every platform. It does not reproduce Java's stream, and need not:
    /// only the distribution matters for the simulator.
    fn next_int(&mut self, bound: i32) -> i32 {
        assert!(bound > 0, "bound must be positive, got {bound}");
        let value = self.below(bound.unsigned_abs().into());
        // `below` returns a value under `bound`, which is an i32, so the conversion cannot fail.
        i32::try_from(value).expect("a value below an i32 bound fits in an i32")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_of_two_bounds_take_the_high_bits() {
        // A power-of-two bound scales the top 31 bits of the first state after seed 17.
        let mut a = MockRandom::default();
        let state = 17u64
            .wrapping_mul(MOCK_MULTIPLIER)
            .wrapping_add(MOCK_INCREMENT);
        let bits = (state >> 33) as i32;
        assert_eq!(a.next_int(8), ((8i64 * i64::from(bits)) >> 31) as i32);
    }

    #[test]
    fn next_int_stays_in_bounds() {
        let mut mock = MockRandom::new(99);
        let mut sim = SimRng::from_seed(99);
        for bound in 1..50 {
            for _ in 0..20 {
                assert!((0..bound).contains(&mock.next_int(bound)));
                assert!((0..bound).contains(&sim.next_int(bound)));
            }
        }
    }

    #[test]
    fn shuffle_of_short_lists_draws_nothing() {
        let mut a = MockRandom::default();
        let mut one = [5];
        shuffle(&mut one, &mut a);
        let mut empty: [i32; 0] = [];
        shuffle(&mut empty, &mut a);
        assert_eq!(a, MockRandom::default());
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut a = MockRandom::default();
        let mut items: Vec<i32> = (0..10).collect();
        shuffle(&mut items, &mut a);
        let mut sorted = items.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
    }
}

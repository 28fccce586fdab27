//! The simulation's one source of randomness.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

/// A seeded ChaCha8 generator owned by the simulated world.
///
/// Every random decision (network jitter, record keys, placement start index) draws from this one
/// stream, so a seed and a list of user actions reproduce a run exactly. Only fixed-width integers
/// are drawn: `usize` differs between wasm32 and 64-bit hosts and would make the two diverge.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SimRng(ChaCha8Rng);

impl SimRng {
    /// A generator whose whole stream is determined by `seed`.
    pub fn from_seed(seed: u64) -> SimRng {
        SimRng(ChaCha8Rng::seed_from_u64(seed))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A uniform integer in `0..bound`; zero when `bound` is zero.
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            return 0;
        }
        // Rejection sampling removes the modulo bias, so small ranges are exactly uniform.
        let zone = u64::MAX - (u64::MAX % bound);
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % bound;
            }
        }
    }

    /// A uniform integer in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        low + self.below(high - low + 1)
    }
}

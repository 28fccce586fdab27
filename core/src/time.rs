//! Simulated time. Nothing in the simulator reads a clock: time only moves when the event queue
//! hands out the next event.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A point in simulated time, in microseconds since the simulation started.
///
/// Microseconds rather than milliseconds so that network latency below a millisecond can be
/// modelled; Kafka's own configs keep their `*.ms` units and are converted with [`SimTime::from_ms`].
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct SimTime(pub u64);

impl SimTime {
    /// The start of every simulation.
    pub const ZERO: SimTime = SimTime(0);

    /// A time (or duration) of `ms` milliseconds.
    pub const fn from_ms(ms: u64) -> SimTime {
        SimTime(ms.saturating_mul(1000))
    }

    /// Whole milliseconds, rounded down.
    pub const fn as_ms(self) -> u64 {
        self.0 / 1000
    }

    /// This time plus `ms` milliseconds.
    pub const fn plus_ms(self, ms: u64) -> SimTime {
        SimTime(self.0.saturating_add(ms.saturating_mul(1000)))
    }

    /// This time plus `us` microseconds.
    pub const fn plus_us(self, us: u64) -> SimTime {
        SimTime(self.0.saturating_add(us))
    }

    /// Milliseconds elapsed from `earlier` to `self` (zero if `earlier` is later).
    pub const fn ms_since(self, earlier: SimTime) -> u64 {
        self.0.saturating_sub(earlier.0) / 1000
    }
}

impl fmt::Display for SimTime {
    /// Formats as seconds with millisecond precision, e.g. `12.345s`, as the narrated timeline shows it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.as_ms();
        write!(f, "{}.{:03}s", ms / 1000, ms % 1000)
    }
}

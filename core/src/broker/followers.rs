//! What a partition leader knows of each follower, kept as a short list sorted by broker id.
//!
//! The leader reads these states for every partition of every follower fetch (the high watermark
//! is the lowest log end offset over the ISR). A partition has at most a few followers, and a
//! `BTreeMap` lookup cost more than the rest of that computation; a search of a short sorted
//! list does not. It reads, prints and serializes as the map it replaces.

use super::FollowerState;
use crate::BrokerId;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// The followers' states by broker id, in id order.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct FollowerStates {
    entries: Vec<(BrokerId, FollowerState)>,
}

impl FollowerStates {
    /// Where `broker` is, or where it would go.
    #[inline]
    fn position(&self, broker: BrokerId) -> Result<usize, usize> {
        // A linear search: the list holds a partition's followers, rarely more than four.
        for (k, (b, _)) in self.entries.iter().enumerate() {
            if *b == broker {
                return Ok(k);
            }
            if *b > broker {
                return Err(k);
            }
        }
        Err(self.entries.len())
    }

    /// The state of `broker`, if the leader has one.
    #[inline]
    pub fn get(&self, broker: &BrokerId) -> Option<&FollowerState> {
        let k = self.position(*broker).ok()?;
        Some(&self.entries[k].1)
    }

    /// The state of `broker`, made empty if the leader had none.
    pub fn get_or_insert_default(&mut self, broker: BrokerId) -> &mut FollowerState {
        let k = match self.position(broker) {
            Ok(k) => k,
            Err(k) => {
                self.entries.insert(k, (broker, FollowerState::default()));
                k
            }
        };
        &mut self.entries[k].1
    }

    /// Sets the state of `broker`.
    pub fn insert(&mut self, broker: BrokerId, state: FollowerState) {
        match self.position(broker) {
            Ok(k) => self.entries[k].1 = state,
            Err(k) => self.entries.insert(k, (broker, state)),
        }
    }

    /// Forgets every follower.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Every follower and its state, in broker id order.
    pub fn iter(&self) -> impl Iterator<Item = (&BrokerId, &FollowerState)> {
        self.entries.iter().map(|(b, s)| (b, s))
    }
}

impl fmt::Debug for FollowerStates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for FollowerStates {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for FollowerStates {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<BrokerId, FollowerState>::deserialize(deserializer)?;
        Ok(FollowerStates {
            entries: map.into_iter().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(leo: u64) -> FollowerState {
        FollowerState {
            log_end_offset: leo,
            ..FollowerState::default()
        }
    }

    /// Insertions in any order read back by id, as a `BTreeMap` would, and serialize the same.
    #[test]
    fn reads_and_serializes_as_the_map() {
        let mut states = FollowerStates::default();
        let mut map = BTreeMap::new();
        for (b, leo) in [(5, 50), (2, 20), (9, 90), (2, 21), (7, 70)] {
            states.insert(b, state(leo));
            map.insert(b, state(leo));
        }
        states.get_or_insert_default(3).log_end_offset = 30;
        map.entry(3)
            .or_insert_with(FollowerState::default)
            .log_end_offset = 30;
        states.get_or_insert_default(9).log_end_offset += 1;
        map.get_mut(&9).unwrap().log_end_offset += 1;
        for b in 0..11 {
            assert_eq!(states.get(&b), map.get(&b), "broker {b}");
        }
        let ids: Vec<BrokerId> = states.iter().map(|(b, _)| *b).collect();
        assert_eq!(ids, vec![2, 3, 5, 7, 9]);
        let json = serde_json::to_string(&states).unwrap();
        assert_eq!(json, serde_json::to_string(&map).unwrap());
        let back: FollowerStates = serde_json::from_str(&json).unwrap();
        assert_eq!(back, states);
        assert_eq!(format!("{states:?}"), format!("{map:?}"));
        states.clear();
        assert!(states.get(&2).is_none() && states.iter().next().is_none());
    }
}

//! The KRaft controller's placement, `StripedReplicaPlacer` (`SEMANTICS.md` §2.2).
//!
//! Racks are visited round-robin from a rack offset that advances with every partition, and each
//! rack hands out its brokers round-robin from an offset that advances with every "epoch" (every
//! partition, until as many partitions as there are unfenced brokers have been placed; then the
//! racks and brokers are reshuffled and the epoch restarts). Leaders are always unfenced; fenced
//! brokers are handed out only once a rack's unfenced brokers have run out for the epoch.
//!
//! The structure follows Kafka's: a [`RackList`] of racks, each holding a [`BrokerList`] of
//! unfenced and one of fenced brokers. Every random draw happens at the same point and in the same
//! order as in Kafka, so with Kafka's `MockRandom` the placements are Kafka's, vector for vector.

use super::java_random::{shuffle, PlacementRandom};
use crate::error::{Error, ErrorKind, Result};
use crate::java::{
    compare_optional_java_strings, hash_map_iteration_order, optional_string_hash_code,
};
use crate::BrokerId;

/// A broker the controller may place replicas on: registered and not in controlled shutdown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsableBroker {
    /// The broker's `node.id`.
    pub id: BrokerId,
    /// The broker's `broker.rack`, `None` when unset. Brokers without a rack form one rack.
    pub rack: Option<String>,
    /// Whether the broker is fenced (registered but not heartbeating as active).
    pub fenced: bool,
}

/// Kafka's `BrokerList`: brokers handed out round-robin, each at most once per epoch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BrokerList {
    brokers: Vec<BrokerId>,
    /// How many brokers this epoch has handed out so far.
    index: u32,
    /// Added to `index` (modulo the length) to find the broker to hand out.
    offset: u32,
    /// The epoch of the last request; a request for another epoch starts a new round.
    epoch: u32,
}

impl BrokerList {
    /// A list of `brokers` in the given order, with offset 0 and epoch 0.
    pub fn new(brokers: Vec<BrokerId>) -> BrokerList {
        BrokerList::with_offset(brokers, 0)
    }

    /// A list of `brokers` in the given order whose first round starts at `offset`.
    pub fn with_offset(brokers: Vec<BrokerId>, offset: u32) -> BrokerList {
        let mut list = BrokerList {
            brokers,
            ..BrokerList::default()
        };
        list.offset = if list.brokers.is_empty() {
            0
        } else {
            offset % list.len_u32()
        };
        list
    }

    /// The number of brokers in the list.
    pub fn len(&self) -> usize {
        self.brokers.len()
    }

    /// Whether the list has no broker.
    pub fn is_empty(&self) -> bool {
        self.brokers.is_empty()
    }

    fn len_u32(&self) -> u32 {
        u32::try_from(self.brokers.len()).expect("broker count fits in a u32")
    }

    /// Kafka's `initialize(Random)`: sorts the brokers by id and draws the start offset.
    ///
    /// An empty list draws nothing, which keeps the random stream aligned with Kafka's.
    fn initialize(&mut self, random: &mut dyn PlacementRandom) {
        if !self.brokers.is_empty() {
            self.brokers.sort_unstable();
            let bound = i32::try_from(self.brokers.len()).expect("broker count fits in an i32");
            // A draw in 0..bound is never negative.
            self.offset = random.next_int(bound).unsigned_abs();
        }
    }

    /// Kafka's `shuffle`: reorders the brokers as `Collections.shuffle` would, keeping the
    /// index, offset and epoch.
    fn shuffle(&mut self, random: &mut dyn PlacementRandom) {
        shuffle(&mut self.brokers, random);
    }

    /// Kafka's `next(epoch)`: the next broker of this epoch, or `None` (Kafka's −1) once every
    /// broker has been handed out in this epoch.
    ///
    /// A request for an epoch other than the last one restarts the round and moves the offset
    /// on by one, so consecutive epochs start at consecutive brokers.
    pub fn next(&mut self, epoch: u32) -> Option<BrokerId> {
        if self.brokers.is_empty() {
            return None;
        }
        let len = self.len_u32();
        if self.epoch != epoch {
            self.epoch = epoch;
            self.index = 0;
            self.offset = (self.offset + 1) % len;
        }
        if self.index >= len {
            return None;
        }
        let broker = self.brokers[((self.index + self.offset) % len) as usize];
        self.index += 1;
        Some(broker)
    }
}

/// Kafka's `Rack`: the unfenced and fenced brokers of one rack.
#[derive(Clone, Debug)]
struct Rack {
    name: Option<String>,
    fenced: BrokerList,
    unfenced: BrokerList,
}

impl Rack {
    /// The next broker of the epoch, unfenced ones first.
    fn next(&mut self, epoch: u32) -> Option<BrokerId> {
        self.unfenced
            .next(epoch)
            .or_else(|| self.fenced.next(epoch))
    }
}

/// Kafka's `RackList`: the state of one placement call, which may place many partitions.
///
/// Kafka keeps the racks in a `HashMap` keyed by rack name and walks it when drawing offsets and
/// when reshuffling. Here the racks sit in a `Vec` in the order that Java's `HashMap` would
/// iterate them (see `crate::java`), and the rack-name list is a list of indexes into it.
#[derive(Clone, Debug)]
pub struct RackList {
    /// The racks in Java `HashMap` iteration order of their names.
    racks: Vec<Rack>,
    /// Kafka's `rackNames`: indexes into `racks`, sorted by name at first, shuffled later.
    rack_names: Vec<usize>,
    total_brokers: u32,
    unfenced_brokers: u32,
    /// Counts the partitions placed since the last reshuffle.
    epoch: u32,
    /// The position in `rack_names` where the next partition starts looking.
    offset: u32,
}

impl RackList {
    /// Groups `brokers` into racks and draws the start offsets, as Kafka's constructor does.
    ///
    /// `brokers` must be in the order the controller iterates its usable brokers: that order
    /// decides how Java's `HashMap` of racks is filled, hence which rack gets which draw when
    /// two rack names share a hash bucket.
    pub fn new(brokers: &[UsableBroker], random: &mut dyn PlacementRandom) -> RackList {
        let mut by_insertion: Vec<Rack> = Vec::new();
        let mut total_brokers = 0u32;
        let mut unfenced_brokers = 0u32;
        for broker in brokers {
            let position = match by_insertion.iter().position(|r| r.name == broker.rack) {
                Some(position) => position,
                None => {
                    by_insertion.push(Rack {
                        name: broker.rack.clone(),
                        fenced: BrokerList::default(),
                        unfenced: BrokerList::default(),
                    });
                    by_insertion.len() - 1
                }
            };
            let rack = &mut by_insertion[position];
            if broker.fenced {
                rack.fenced.brokers.push(broker.id);
            } else {
                rack.unfenced.brokers.push(broker.id);
                unfenced_brokers += 1;
            }
            total_brokers += 1;
        }
        let hashes: Vec<i32> = by_insertion
            .iter()
            .map(|rack| optional_string_hash_code(rack.name.as_deref()))
            .collect();
        let mut slots: Vec<Option<Rack>> = by_insertion.into_iter().map(Some).collect();
        let mut racks: Vec<Rack> = hash_map_iteration_order(&hashes)
            .into_iter()
            .filter_map(|i| slots[i].take())
            .collect();
        // Kafka initialises the racks in map order, each rack's fenced list before its unfenced
        // list; every non-empty list consumes one draw.
        for rack in &mut racks {
            rack.fenced.initialize(random);
            rack.unfenced.initialize(random);
        }
        let mut rack_names: Vec<usize> = (0..racks.len()).collect();
        rack_names.sort_by(|&a, &b| {
            compare_optional_java_strings(racks[a].name.as_deref(), racks[b].name.as_deref())
        });
        let offset = if rack_names.is_empty() {
            0
        } else {
            let bound = i32::try_from(rack_names.len()).expect("rack count fits in an i32");
            random.next_int(bound).unsigned_abs()
        };
        RackList {
            racks,
            rack_names,
            total_brokers,
            unfenced_brokers,
            epoch: 0,
            offset,
        }
    }

    /// The number of usable brokers, fenced or not.
    pub fn num_total_brokers(&self) -> u32 {
        self.total_brokers
    }

    /// The number of unfenced brokers.
    pub fn num_unfenced_brokers(&self) -> u32 {
        self.unfenced_brokers
    }

    /// The rack names in their current order (`None` is the rack of brokers without a rack).
    pub fn rack_names(&self) -> Vec<Option<&str>> {
        self.rack_names
            .iter()
            .map(|&i| self.racks[i].name.as_deref())
            .collect()
    }

    /// Kafka's `RackList.place`: the replicas of one more partition, leader first.
    ///
    /// Errors ([`ErrorKind::InvalidReplicationFactor`], with Kafka's messages): a replication
    /// factor of 0, more replicas than usable brokers, or no unfenced broker to lead. Kafka would
    /// loop forever if the brokers still available in the epoch could not fill the partition;
    /// this returns an error of the same kind instead, leaving the list in a partly advanced state.
    pub fn place(
        &mut self,
        replication_factor: u32,
        random: &mut dyn PlacementRandom,
    ) -> Result<Vec<BrokerId>> {
        check_positive(replication_factor)?;
        check_enough_brokers(replication_factor, self.total_brokers)?;
        check_some_unfenced(self.unfenced_brokers)?;
        // After as many partitions as there are unfenced brokers, reshuffle so that the next
        // round does not repeat the same replica sets. With one unfenced broker there is nothing
        // to vary, and resetting the epoch would stop that broker's list from restarting.
        if self.epoch == self.unfenced_brokers && self.unfenced_brokers > 1 {
            shuffle(&mut self.rack_names, random);
            // Kafka walks its rack map here, so the racks reshuffle in map order.
            for rack in &mut self.racks {
                rack.fenced.shuffle(random);
                rack.unfenced.shuffle(random);
            }
            self.epoch = 0;
        }
        let rack_count = self.rack_names.len();
        if self.offset as usize == rack_count {
            self.offset = 0;
        }
        let epoch = self.epoch;
        let start = self.offset as usize;

        // The leader: the first rack from the offset that still has an unfenced broker.
        let mut leader_rack = start;
        let mut leader = None;
        for _ in 0..rack_count {
            if let Some(broker) = self.racks[self.rack_names[leader_rack]]
                .unfenced
                .next(epoch)
            {
                leader = Some(broker);
                break;
            }
            leader_rack = (leader_rack + 1) % rack_count;
        }
        let Some(leader) = leader else {
            return Err(stuck(replication_factor));
        };
        let mut replicas = Vec::with_capacity(replication_factor as usize);
        replicas.push(leader);

        // Followers: racks round-robin from the offset again, passing over the leader's rack
        // once, taking unfenced brokers before fenced ones.
        let mut rack_index = start;
        let mut skip = Some(leader_rack);
        for _ in 1..replication_factor {
            // Asking a rack that has run out for this epoch changes nothing, so once every rack
            // was asked (the skip can cost one more lap) without an answer, none will come.
            let mut misses = 0;
            let follower = loop {
                let here = rack_index;
                rack_index = (rack_index + 1) % rack_count;
                if skip == Some(here) {
                    skip = None;
                } else if let Some(broker) = self.racks[self.rack_names[here]].next(epoch) {
                    break broker;
                }
                misses += 1;
                if misses > 2 * rack_count + 1 {
                    return Err(stuck(replication_factor));
                }
            };
            replicas.push(follower);
        }
        self.epoch = self.epoch.wrapping_add(1);
        self.offset += 1;
        Ok(replicas)
    }
}

fn check_positive(replication_factor: u32) -> Result<()> {
    if replication_factor == 0 {
        return Err(Error::new(
            ErrorKind::InvalidReplicationFactor,
            format!(
                "Invalid replication factor {replication_factor}: the replication factor must be positive."
            ),
        ));
    }
    Ok(())
}

fn check_some_unfenced(unfenced_brokers: u32) -> Result<()> {
    if unfenced_brokers == 0 {
        return Err(Error::new(
            ErrorKind::InvalidReplicationFactor,
            "All brokers are currently fenced.",
        ));
    }
    Ok(())
}

fn check_enough_brokers(replication_factor: u32, total_brokers: u32) -> Result<()> {
    if replication_factor > total_brokers {
        return Err(Error::new(
            ErrorKind::InvalidReplicationFactor,
            format!(
                "The target replication factor of {replication_factor} cannot be reached because only {total_brokers} broker(s) are registered."
            ),
        ));
    }
    Ok(())
}

/// The error for a partition that the brokers left in this epoch cannot fill.
fn stuck(replication_factor: u32) -> Error {
    Error::new(
        ErrorKind::InvalidReplicationFactor,
        format!(
            "Cannot place {replication_factor} replicas: the brokers still available in this placement round run out (Kafka's placer would not terminate here)."
        ),
    )
}

/// Kafka's `StripedReplicaPlacer.place`: replicas for `partitions` new partitions, each list
/// leader first.
///
/// `brokers` are the usable brokers in the controller's iteration order. One [`RackList`] serves
/// the whole call, so consecutive partitions stripe across racks and brokers. Its construction
/// draws from `random` before the checks, as Kafka's does. Errors
/// ([`ErrorKind::InvalidReplicationFactor`], with Kafka's messages, in Kafka's order): a
/// replication factor of 0; no unfenced broker ("All brokers are currently fenced."); more
/// replicas than usable brokers.
pub fn striped_placement(
    brokers: &[UsableBroker],
    partitions: u32,
    replication_factor: u32,
    random: &mut dyn PlacementRandom,
) -> Result<Vec<Vec<BrokerId>>> {
    let mut rack_list = RackList::new(brokers, random);
    check_positive(replication_factor)?;
    check_some_unfenced(rack_list.num_unfenced_brokers())?;
    check_enough_brokers(replication_factor, rack_list.num_total_brokers())?;
    (0..partitions)
        .map(|_| rack_list.place(replication_factor, random))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::java_random::MockRandom;
    use crate::rng::SimRng;
    use std::collections::{BTreeMap, BTreeSet};

    fn broker(id: BrokerId, rack: Option<&str>, fenced: bool) -> UsableBroker {
        UsableBroker {
            id,
            rack: rack.map(str::to_string),
            fenced,
        }
    }

    /// A cluster drawn from `rng`: 1 to 12 brokers over up to 4 racks (or none), some fenced.
    fn random_cluster(rng: &mut SimRng) -> Vec<UsableBroker> {
        let count = 1 + rng.below(12) as BrokerId;
        let racks = rng.below(5);
        let mut brokers: Vec<UsableBroker> = (0..count)
            .map(|id| {
                let rack = (racks > 0).then(|| format!("rack-{}", rng.below(racks)));
                let fenced = rng.below(4) == 0;
                UsableBroker { id, rack, fenced }
            })
            .collect();
        // The controller's iteration order is arbitrary; vary it too.
        shuffle(&mut brokers, rng);
        brokers
    }

    /// Every placement has distinct replicas and an unfenced leader, and in a single rack uses a
    /// fenced broker only when the unfenced ones cannot fill the partition. None of these runs
    /// reaches the state in which Kafka's loop would not terminate.
    #[test]
    fn replicas_are_distinct_and_leaders_unfenced() {
        for seed in 0..500u64 {
            let mut rng = SimRng::from_seed(seed);
            let brokers = random_cluster(&mut rng);
            let fenced: BTreeSet<BrokerId> =
                brokers.iter().filter(|b| b.fenced).map(|b| b.id).collect();
            let unfenced = brokers.len() - fenced.len();
            let single_rack = brokers.iter().all(|b| b.rack == brokers[0].rack);
            let rf = 1 + rng.below(brokers.len() as u64) as u32;
            let partitions = 1 + rng.below(40) as u32;
            let result = striped_placement(&brokers, partitions, rf, &mut rng);
            if unfenced == 0 {
                assert!(result.is_err(), "seed {seed}");
                continue;
            }
            let assignment = result.unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            assert_eq!(assignment.len(), partitions as usize);
            for replicas in &assignment {
                let distinct: BTreeSet<_> = replicas.iter().collect();
                assert_eq!(distinct.len(), rf as usize, "seed {seed}: {replicas:?}");
                assert!(!fenced.contains(&replicas[0]), "seed {seed}: {replicas:?}");
                // Within one rack, fenced brokers come only after the unfenced ones. (Across
                // racks Kafka prefers another rack's fenced broker to a second unfenced broker in
                // the same rack, so the count is not bounded there.)
                if !single_rack {
                    continue;
                }
                let fenced_used = replicas.iter().filter(|b| fenced.contains(b)).count();
                assert!(
                    fenced_used <= (rf as usize).saturating_sub(unfenced),
                    "seed {seed}: {replicas:?} uses a fenced broker needlessly"
                );
            }
        }
    }

    /// With equal racks and every broker unfenced, each partition touches as many racks as it
    /// can, and over whole rounds every broker leads equally often.
    #[test]
    fn racks_are_covered_and_leaders_even() {
        let brokers: Vec<UsableBroker> = (0..9)
            .map(|id| broker(id, Some(["a", "b", "c"][id as usize % 3]), false))
            .collect();
        let rack_of: BTreeMap<BrokerId, &str> = brokers
            .iter()
            .map(|b| (b.id, b.rack.as_deref().unwrap()))
            .collect();
        for seed in 0..200u64 {
            let mut random = MockRandom::new(seed);
            for rf in 1..=4u32 {
                let assignment = striped_placement(&brokers, 27, rf, &mut random).unwrap();
                for replicas in &assignment {
                    let racks: BTreeSet<_> = replicas.iter().map(|b| rack_of[b]).collect();
                    assert_eq!(
                        racks.len(),
                        (rf as usize).min(3),
                        "seed {seed}: {replicas:?}"
                    );
                }
            }
            // Without racks, one round of nine partitions gives each broker one leadership.
            let plain: Vec<UsableBroker> = (0..9).map(|id| broker(id, None, false)).collect();
            let assignment = striped_placement(&plain, 27, 3, &mut random).unwrap();
            let mut leaders: BTreeMap<BrokerId, u32> = BTreeMap::new();
            for replicas in &assignment {
                *leaders.entry(replicas[0]).or_default() += 1;
            }
            assert_eq!(leaders.len(), 9, "seed {seed}: {leaders:?}");
            assert!(
                leaders.values().all(|&c| c == 3),
                "seed {seed}: {leaders:?}"
            );
        }
    }

    #[test]
    fn a_single_unfenced_broker_leads_every_partition() {
        let brokers = [broker(0, None, false), broker(1, None, true)];
        let mut random = MockRandom::default();
        let assignment = striped_placement(&brokers, 5, 2, &mut random).unwrap();
        assert!(assignment.iter().all(|r| r == &vec![0, 1]));
    }
}

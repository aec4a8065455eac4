//! Hash maps that grow without stalling the engine task (docs/DESIGN.md §7: engine latency
//! p99 under 1 ms at 1,000 calls/s).
//!
//! A `std::collections::HashMap` grows by doubling: one insert allocates a table twice the
//! size and moves every entry into it. The engine's tables are large: at 1,000 calls/s about
//! 130,000 transactions are live, because a finished transaction stays 64·T1 = 32 s to
//! absorb retransmissions (RFC 3261 §17.2.2 Timer J, §17.1.2.2 Timer K, RFC 6026 §8.7
//! Timers L and M), and a finished call's record lingers as long (stray requests). The
//! insert that doubled such a table took 10–40 ms of the single engine task, and every
//! datagram waiting behind it inherited the delay (measured with the `engine-1000cps` load
//! scenario, BENCHMARKS.md). hashbrown also rehashes a table in place when deletions leave
//! too many tombstones, which happens under steady insert/remove churn at constant size.
//!
//! [`ShardedMap`] spreads the entries over [`SHARDS`] independent `HashMap`s, choosing the
//! shard with a second, independently keyed hash of the key. Each resize or in-place rehash
//! moves about 1/64 of the entries, and because shard sizes drift apart randomly, shards
//! cross their growth thresholds at different times instead of all at once (sequential
//! engine ids are spread by the hash, not by `id % 64`, for that reason). Cost: one more
//! hash of the key per operation. `benches/map_growth.rs` measures both maps in one run.

use std::borrow::Borrow;
use std::collections::hash_map::{self, HashMap, RandomState};
use std::hash::{BuildHasher, Hash};

/// log2 of [`SHARDS`].
const SHARD_BITS: u32 = 6;
/// Independent maps per [`ShardedMap`].
pub const SHARDS: usize = 1 << SHARD_BITS;

/// A hash map of `K → V` split over [`SHARDS`] `HashMap<K, V, S>`s (see the module docs).
/// `S` hashes keys inside a shard (SipHash `RandomState` for network-chosen keys, so hash
/// flooding stays impossible); the shard itself is picked by a separate `RandomState`.
/// Iteration order is unspecified, as for `HashMap`.
pub struct ShardedMap<K, V, S = RandomState> {
    shards: Box<[HashMap<K, V, S>]>,
    pick: RandomState,
    len: usize,
}

impl<K, V, S: Default> Default for ShardedMap<K, V, S> {
    fn default() -> Self {
        ShardedMap {
            shards: (0..SHARDS)
                .map(|_| HashMap::with_hasher(S::default()))
                .collect(),
            pick: RandomState::new(),
            len: 0,
        }
    }
}

impl<K, V, S> std::fmt::Debug for ShardedMap<K, V, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardedMap")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl<K: Hash + Eq, V, S: BuildHasher + Default> ShardedMap<K, V, S> {
    /// An empty map (allocates only the shard headers, no tables).
    pub fn new() -> Self {
        Self::default()
    }
}

impl<K: Hash + Eq, V, S: BuildHasher> ShardedMap<K, V, S> {
    fn shard_of<Q: Hash + ?Sized>(&self, key: &Q) -> usize {
        // The top bits of an independently keyed SipHash: unrelated to where the key sits
        // inside its shard (which uses `S`).
        (self.pick.hash_one(key) >> (64 - SHARD_BITS)) as usize
    }

    /// Entries in the map.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value for `key`, if any.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shards.get(self.shard_of(key))?.get(key)
    }

    /// The value for `key`, mutably, if any.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.shard_of(key);
        self.shards.get_mut(i)?.get_mut(key)
    }

    /// Whether `key` has a value.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(key).is_some()
    }

    /// Sets `key` to `value`; returns the value it replaced, if any (as `HashMap::insert`).
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let i = self.shard_of(&key);
        let old = self.shards.get_mut(i)?.insert(key, value);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Removes `key`; returns its value, if it had one.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let i = self.shard_of(key);
        let old = self.shards.get_mut(i)?.remove(key);
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// Every entry, in unspecified order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.shards.iter().flat_map(HashMap::iter)
    }

    /// Every value, in unspecified order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.shards.iter().flat_map(HashMap::values)
    }

    /// Every value, mutably, in unspecified order.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.shards.iter_mut().flat_map(HashMap::values_mut)
    }

    /// Every key, in unspecified order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.shards.iter().flat_map(HashMap::keys)
    }
}

impl<'a, K, V, S> IntoIterator for &'a ShardedMap<K, V, S> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::FlatMap<
        std::slice::Iter<'a, HashMap<K, V, S>>,
        hash_map::Iter<'a, K, V>,
        fn(&'a HashMap<K, V, S>) -> hash_map::Iter<'a, K, V>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.shards.iter().flat_map(HashMap::iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16, u32),
        Remove(u16),
        Get(u16),
        Bump(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u16..512, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            (0u16..512).prop_map(Op::Remove),
            (0u16..512).prop_map(Op::Get),
            (0u16..512).prop_map(Op::Bump),
        ]
    }

    proptest! {
        /// Every operation returns what a plain `HashMap` returns; length and contents agree.
        #[test]
        fn behaves_like_a_hash_map(ops in proptest::collection::vec(op(), 0..2000)) {
            let mut m: ShardedMap<String, u32> = ShardedMap::new();
            let mut model: HashMap<String, u32> = HashMap::new();
            for o in ops {
                match o {
                    Op::Insert(k, v) => prop_assert_eq!(
                        m.insert(format!("z9hG4bK{k}"), v),
                        model.insert(format!("z9hG4bK{k}"), v)
                    ),
                    Op::Remove(k) => {
                        let k = format!("z9hG4bK{k}");
                        prop_assert_eq!(m.remove(k.as_str()), model.remove(&k));
                    }
                    Op::Get(k) => {
                        let k = format!("z9hG4bK{k}");
                        prop_assert_eq!(m.get(k.as_str()), model.get(&k));
                        prop_assert_eq!(m.contains_key(k.as_str()), model.contains_key(&k));
                    }
                    Op::Bump(k) => {
                        let k = format!("z9hG4bK{k}");
                        if let Some(v) = m.get_mut(k.as_str()) {
                            *v = v.wrapping_add(1);
                        }
                        if let Some(v) = model.get_mut(&k) {
                            *v = v.wrapping_add(1);
                        }
                    }
                }
                prop_assert_eq!(m.len(), model.len());
                prop_assert_eq!(m.is_empty(), model.is_empty());
            }
            let mut all: Vec<(String, u32)> = m.iter().map(|(k, v)| (k.clone(), *v)).collect();
            let mut want: Vec<(String, u32)> = model.into_iter().collect();
            all.sort();
            want.sort();
            prop_assert_eq!(all.len(), m.values().count());
            prop_assert_eq!(all.len(), m.keys().count());
            prop_assert_eq!(all, want);
        }
    }

    #[test]
    fn sequential_ids_spread_over_every_shard_unevenly() {
        // Sequential engine ids must not fill the shards in lockstep (that would make them
        // all resize on the same few inserts): the pick hash spreads them like random keys.
        let mut m: ShardedMap<u64, ()> = ShardedMap::new();
        for id in 0..64_000u64 {
            m.insert(id, ());
        }
        let sizes: Vec<usize> = m.shards.iter().map(HashMap::len).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 64_000);
        assert!(sizes.iter().all(|&n| n > 800 && n < 1200), "{sizes:?}");
        let distinct: std::collections::HashSet<usize> = sizes.iter().copied().collect();
        assert!(distinct.len() > 16, "shards too even: {sizes:?}");
        for v in m.values_mut() {
            *v = ();
        }
        assert_eq!((&m).into_iter().count(), 64_000);
    }
}

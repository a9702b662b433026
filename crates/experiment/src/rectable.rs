//! The engine's live connection records, found by connection id.
//!
//! Ids are handed out in arrival order and most connections end within a few round trips, so
//! the live ids form a sliding window. A table indexed by `id & mask` therefore finds a record
//! with one load and no hashing, and records of connections that arrived together sit next to
//! each other in memory: the few thousand connections in their handshake or teardown at any
//! instant share cache lines instead of each owning a line of a hash table. An old id that a
//! newer one lands on (a connection alive for longer than `capacity` arrivals) moves to an
//! overflow hash map, so correctness never depends on the window; the table doubles when more
//! than half of it is in use, so it stays at most four times the peak number of live records.

use rustc_hash::FxHashMap;

const EMPTY: u32 = u32::MAX;
const MIN_CAPACITY: usize = 64;

struct Entry<T> {
    id: u32,
    val: T,
}

pub(crate) struct RecTable<T> {
    direct: Vec<Entry<T>>,
    /// Records in `direct`.
    direct_len: usize,
    /// Records displaced from `direct` by a newer id with the same index.
    overflow: FxHashMap<u32, T>,
}

impl<T: Default> RecTable<T> {
    pub(crate) fn new() -> Self {
        RecTable {
            direct: (0..MIN_CAPACITY)
                .map(|_| Entry {
                    id: EMPTY,
                    val: T::default(),
                })
                .collect(),
            direct_len: 0,
            overflow: FxHashMap::default(),
        }
    }

    fn mask(&self) -> usize {
        self.direct.len() - 1
    }

    /// Adds the record of `id`, which must not be live (ids are never reused) and not be
    /// `u32::MAX`.
    #[cfg(test)]
    pub(crate) fn insert(&mut self, id: u32, val: T) {
        *self.insert_slot(id) = val;
    }

    /// Makes `id` live (it must not be, and not be `u32::MAX`) and returns its slot for the
    /// caller to fill. The slot holds whatever a discarded record left there: writing the
    /// new record straight into it spares moving a record built elsewhere into the table.
    #[inline]
    pub(crate) fn insert_slot(&mut self, id: u32) -> &mut T {
        debug_assert!(id != EMPTY && self.get_mut(id).is_none());
        if (self.direct_len + 1) * 2 > self.direct.len() {
            self.grow();
        }
        let i = id as usize & self.mask();
        let e = &mut self.direct[i];
        if e.id == EMPTY {
            self.direct_len += 1;
        } else {
            displace(&mut self.overflow, e);
        }
        e.id = id;
        &mut e.val
    }

    fn place(&mut self, id: u32, val: T) {
        let i = id as usize & self.mask();
        let e = &mut self.direct[i];
        if e.id == EMPTY {
            self.direct_len += 1;
        } else {
            let old = std::mem::take(&mut e.val);
            self.overflow.insert(e.id, old);
        }
        e.id = id;
        e.val = val;
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let cap = self.direct.len() * 2;
        let old = std::mem::replace(
            &mut self.direct,
            (0..cap)
                .map(|_| Entry {
                    id: EMPTY,
                    val: T::default(),
                })
                .collect(),
        );
        self.direct_len = 0;
        for e in old.into_iter().filter(|e| e.id != EMPTY) {
            self.place(e.id, e.val);
        }
    }

    /// Starts loading the slot of `id` into the cache (a hint).
    #[inline]
    pub(crate) fn prefetch(&self, id: u32) {
        tcp_model::hint::prefetch(&self.direct[id as usize & self.mask()]);
    }

    pub(crate) fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        let i = id as usize & self.mask();
        if self.direct[i].id == id {
            return Some(&mut self.direct[i].val);
        }
        if self.overflow.is_empty() {
            return None;
        }
        self.overflow.get_mut(&id)
    }

    /// Reads the record of `id` in place with `f`, if live, and forgets it without moving it
    /// out (the slot keeps the stale record until reused): one search for both.
    #[inline]
    pub(crate) fn discard_with<R>(&mut self, id: u32, f: impl FnOnce(&T) -> R) -> Option<R> {
        let i = id as usize & self.mask();
        let e = &mut self.direct[i];
        if e.id == id {
            let r = f(&e.val);
            e.id = EMPTY;
            self.direct_len -= 1;
            return Some(r);
        }
        self.overflow.remove(&id).map(|v| f(&v))
    }

    pub(crate) fn remove(&mut self, id: u32) -> Option<T> {
        let i = id as usize & self.mask();
        let e = &mut self.direct[i];
        if e.id == id {
            e.id = EMPTY;
            self.direct_len -= 1;
            return Some(std::mem::take(&mut e.val));
        }
        self.overflow.remove(&id)
    }

    /// Every live id, ascending.
    pub(crate) fn ids_sorted(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .direct
            .iter()
            .filter(|e| e.id != EMPTY)
            .map(|e| e.id)
            .chain(self.overflow.keys().copied())
            .collect();
        ids.sort_unstable();
        ids
    }
}

/// Moves a record displaced from the direct table by a newer id to the overflow map: rare,
/// so out of line.
#[cold]
#[inline(never)]
fn displace<T: Default>(overflow: &mut FxHashMap<u32, T>, e: &mut Entry<T>) {
    overflow.insert(e.id, std::mem::take(&mut e.val));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Random inserts (ascending ids, like arrivals) and removes (mostly recent, sometimes
    /// very old ids) against a BTreeMap.
    #[test]
    fn matches_a_map_under_sliding_and_long_lived_ids() {
        let mut t = RecTable::<u64>::new();
        let mut m: BTreeMap<u32, u64> = BTreeMap::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = 0u32;
        let mut peak = 0;
        for step in 0..60_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // About 100 short-lived records at a time, plus every 997th id living on.
            let long_lived = m.keys().filter(|&&id| id.is_multiple_of(997)).count();
            if m.len() - long_lived < 100 || x.is_multiple_of(2) {
                t.insert(next, next as u64 * 7);
                m.insert(next, next as u64 * 7);
                next += 1;
            } else {
                // Remove among the 200 newest, but leave every 997th id alive (until a
                // rare sweep takes one).
                let lo = next.saturating_sub(200);
                let id = lo + (x >> 32) as u32 % (next - lo);
                if !id.is_multiple_of(997) || step.is_multiple_of(5000) {
                    if x & 4 == 0 {
                        assert_eq!(t.remove(id), m.remove(&id), "remove {id}");
                    } else if x & 8 == 0 {
                        let got = t.discard_with(id, |v| *v);
                        assert_eq!(got, m.remove(&id), "discard_with {id}");
                        assert_eq!(t.get_mut(id), None, "discard_with {id}");
                    } else {
                        // A discarded record's stale value must not show through.
                        t.discard_with(id, |_| ());
                        m.remove(&id);
                        assert_eq!(t.get_mut(id), None, "discard {id}");
                    }
                }
            }
            peak = peak.max(m.len());
            if step % 1000 == 0 {
                let probe = (x >> 16) as u32 % (next + 10);
                assert_eq!(t.get_mut(probe).copied(), m.get(&probe).copied());
            }
        }
        assert_eq!(t.ids_sorted(), m.keys().copied().collect::<Vec<_>>());
        for (id, v) in &m {
            assert_eq!(t.get_mut(*id), Some(&mut v.clone()));
        }
        assert!(
            !t.overflow.is_empty(),
            "long-lived ids went to the overflow"
        );
        assert!(t.direct.len() <= 4 * peak.max(MIN_CAPACITY));
    }
}

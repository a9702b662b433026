//! The event queue: a hierarchical timing wheel (Varghese & Lauck, "Hashed and Hierarchical
//! Timing Wheels", SOSP 1987; the same shape as the Linux kernel's and tokio's timer wheels).
//!
//! # Layout
//!
//! Time is a `u64` count of nanoseconds. The wheel has [`LEVELS`] levels of 64 slots; level `l`
//! looks at bits `6l .. 6l+6` of an event's time. An event at time `t` lives at the level of the
//! highest bit in which `t` differs from the wheel's cursor (the time of the last popped event),
//! in the slot given by `t`'s bits at that level. So level 0 holds events in the cursor's current
//! 64 ns block, one exact time per slot, and level `l` slots each cover `2^(6l)` ns. Because an
//! entry shares all higher bits with the cursor, every occupied slot lies at or after the
//! cursor's own slot at that level: the wheel never wraps, and the next non-empty slot of a level
//! is simply the lowest set bit of its 64-bit occupancy word.
//!
//! Entries sit in one slab (`Vec`) with a free list and per-entry generations, linked into
//! intrusive doubly-linked lists (u32 indices) per slot, so schedule and cancel are O(1) and,
//! once the slab has grown to the peak number of pending events, nothing is allocated.
//!
//! Popping takes the lowest non-empty level. At level 0 the head of the first occupied slot is
//! the answer. At a higher level the first occupied slot is *cascaded*: the cursor jumps to the
//! start of that slot's range and its entries are relinked at their (lower) levels relative to
//! the new cursor; then the search repeats. An event is relinked at most once per level, so a
//! pop costs amortised O(levels) = O(1).
//!
//! # Why equal times pop in insertion order, even across cascades
//!
//! Invariant: for two pending entries `a` and `b` with the same time `T`, `a` scheduled first,
//! either `a` sits at a strictly higher level than `b`, or both are in the same slot list with
//! `a` ahead of `b`.
//!
//! 1. *Insert.* An entry's level is fixed by the highest bit where `T` differs from the cursor at
//!    the moment it is linked. The cursor only moves forward and never past a pending time, and
//!    every number between the cursor and `T` shares their common prefix, so a later link of the
//!    same `T` lands at the same or a lower level than an earlier one. At the same level it is the
//!    same slot (the slot is `T`'s own bits) and it is appended at the tail, behind `a`.
//! 2. *Cascade.* The cursor can only enter the range of a level-`L` slot by cascading that very
//!    slot: pops serve the lowest non-empty level first, and everything below level `L` lies in
//!    the cursor's current level-`L` slot, never in a later one. So before any newer insert of `T`
//!    can be placed below level `L`, the older entries for that range have already been moved
//!    down. A cascade walks its list head to tail and appends each entry to its new list, and the
//!    levels it fills are empty at that moment (it is always the lowest non-empty level that is
//!    cascaded), so the moved entries keep their relative order and every later insert lands
//!    behind them.
//! 3. *Pop.* All entries of a level-0 slot share one time, and no entry with that time can be at a
//!    higher level (it would have to differ from the cursor above bit 6, while the level-0 entry
//!    agrees with it there). So the head of the slot is the oldest event with the earliest time.
//!
//! Cancel unlinks from the middle of a list, which keeps the order of the rest.
//!
//! # Invariant used by cancel
//!
//! Every pending entry sits at `level_for(cursor, time)`: a pop at level 0 or a cascade at level
//! `L` moves the cursor only within bits that every higher-level entry does not share with it, so
//! their computed level does not change. Cancel therefore recomputes an entry's list from its
//! time instead of storing the level in the entry.
//!
//! Between public calls the cursor equals [`EventQueue::now`]: a cascade moves it to a slot start
//! only inside [`EventQueue::pop`], which always ends by popping an event at or after that start.
//! [`EventQueue::peek_time`] and a [`EventQueue::pop_until`] that pops nothing never cascade (a
//! cascade would move the cursor past `now`, and an event scheduled in between would then have no
//! valid place); when they need the exact minimum of a higher-level slot they scan it and cache
//! the result.

use std::fmt;

use sim_time::{SimDuration, SimTime};

mod heap;
pub use heap::HeapQueue;

/// Bits of time resolved per level: 64 slots, so one level's occupancy fits in one `u64`.
const LEVEL_BITS: u32 = 6;
const SLOTS: usize = 1 << LEVEL_BITS;
const SLOT_MASK: u64 = SLOTS as u64 - 1;
/// ceil(64 / 6): enough levels to place any `u64` nanosecond time, including `SimTime::MAX`.
/// The top level uses only 4 of its 6 bits.
const LEVELS: usize = (u64::BITS as usize).div_ceil(LEVEL_BITS as usize);
/// "No entry" in the intrusive lists; also why the slab can hold at most `u32::MAX` entries.
const NIL: u32 = u32::MAX;

/// Default bound on pending events for [`EventQueue::new`] and [`HeapQueue::new`].
///
/// 2^30 (about 1.07 billion) is far above any planned experiment (the largest has ~6 million
/// connections alive, each with a handful of pending timers) and well inside the `u32` index
/// space of the slab. Its job is to turn a runaway feedback loop (an event that schedules two
/// more) into a typed [`ScheduleError::TooManyPending`] instead of an unbounded slab: note that
/// 2^30 entries of 40 bytes are 40 GiB, more than the machines we run on, so a caller that wants
/// a memory bound rather than a sanity bound should pass a smaller limit to `with_limit`.
pub const DEFAULT_MAX_PENDING: usize = 1 << 30;

/// The largest pending limit the slab can index (`NIL` is reserved).
const MAX_LIMIT: usize = NIL as usize;

/// Names one scheduled event, for cancelling it. Stale handles are harmless: once the event has
/// been popped or cancelled, the handle's generation no longer matches its slab entry.
///
/// The generation is 32 bits, so a handle kept across 2^32 reuses of the same slab entry could in
/// principle alias a newer event; no timer in tcpsim lives that long.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventHandle {
    index: u32,
    generation: u32,
}

/// Why an event was not scheduled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("event scheduled in the past: at {at:?} but now is {now:?}")]
    InPast { at: SimTime, now: SimTime },
    #[error("more than {limit} events pending")]
    TooManyPending { limit: usize },
}

/// One slab entry. For `E = u64` it is 40 bytes: `time_ns` 8, `next`/`prev`/`generation` 12,
/// `Option<u64>` 16 (payload 8 + tag, padded), i.e. 32 bytes of overhead plus the payload. For an
/// event enum with a spare niche, `Option<E>` costs nothing over `E`, and the overhead is 24.
struct Entry<E> {
    time_ns: u64,
    /// Next in the slot list, or next free entry when the entry is free.
    next: u32,
    prev: u32,
    /// Bumped whenever the entry is freed, so that old handles stop matching.
    generation: u32,
    /// `Some` while pending; `None` while on the free list.
    event: Option<E>,
}

#[derive(Clone, Copy)]
struct SlotList {
    head: u32,
    tail: u32,
}

const EMPTY_LIST: SlotList = SlotList {
    head: NIL,
    tail: NIL,
};

/// The level at which an event at `t_ns` belongs while the cursor is at `cursor_ns`:
/// the 6-bit group holding the highest bit where the two differ (level 0 if equal).
#[inline]
fn level_for(cursor_ns: u64, t_ns: u64) -> usize {
    let diff = (cursor_ns ^ t_ns) | SLOT_MASK;
    ((u64::BITS - 1 - diff.leading_zeros()) / LEVEL_BITS) as usize
}

#[inline]
fn slot_for(t_ns: u64, level: usize) -> usize {
    ((t_ns >> (level as u32 * LEVEL_BITS)) & SLOT_MASK) as usize
}

/// Mask of the bits below level `level` (the offset within one of its slots).
#[inline]
fn low_mask(level: usize) -> u64 {
    u64::MAX
        .checked_shl(level as u32 * LEVEL_BITS)
        .map_or(u64::MAX, |m| !m)
}

/// First instant covered by slot `slot` of level `level` while the cursor is at `cursor_ns`.
#[inline]
fn slot_start(cursor_ns: u64, level: usize, slot: usize) -> u64 {
    (cursor_ns & !low_mask(level + 1)) | ((slot as u64) << (level as u32 * LEVEL_BITS))
}

/// A priority queue of events ordered by (time, insertion order); see the module docs.
pub struct EventQueue<E> {
    slab: Vec<Entry<E>>,
    free_head: u32,
    /// Boxed so that moving the queue copies a pointer rather than 5.6 KiB of list heads.
    lists: Box<[[SlotList; SLOTS]; LEVELS]>,
    /// Bit `s` of `occupied[l]` is set iff slot `s` of level `l` is non-empty.
    occupied: [u64; LEVELS],
    /// Bit `l` is set iff `occupied[l] != 0`.
    levels_occupied: u16,
    /// Time of the last popped event; also the wheel cursor between public calls.
    now_ns: u64,
    len: usize,
    max_pending: usize,
    scheduled_total: u64,
    popped_total: u64,
    /// Exact earliest pending time, when known. Saves `peek_time`/`pop_until` from rescanning
    /// a higher-level slot; any change that could raise the minimum clears it.
    min_cache_ns: Option<u64>,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> fmt::Debug for EventQueue<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventQueue")
            .field("now", &self.now())
            .field("len", &self.len)
            .field("max_pending", &self.max_pending)
            .field("capacity", &self.slab.capacity())
            .field("scheduled_total", &self.scheduled_total)
            .field("popped_total", &self.popped_total)
            .finish()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue at time zero with the [`DEFAULT_MAX_PENDING`] limit.
    pub fn new() -> Self {
        Self::with_limit(DEFAULT_MAX_PENDING)
    }

    /// An empty queue that refuses to hold more than `max_pending` events at once.
    /// Limits above `u32::MAX - 1` are lowered to it, the most the slab's `u32` indices can name.
    pub fn with_limit(max_pending: usize) -> Self {
        EventQueue {
            slab: Vec::new(),
            free_head: NIL,
            lists: Box::new([[EMPTY_LIST; SLOTS]; LEVELS]),
            occupied: [0; LEVELS],
            levels_occupied: 0,
            now_ns: 0,
            len: 0,
            max_pending: max_pending.min(MAX_LIMIT),
            scheduled_total: 0,
            popped_total: 0,
            min_cache_ns: None,
        }
    }

    /// Time of the last popped event (`SimTime::ZERO` before the first pop).
    pub fn now(&self) -> SimTime {
        SimTime::from_nanos(self.now_ns)
    }

    /// Number of pending (scheduled, not yet popped or cancelled) events.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The pending-event limit in force (after clamping).
    pub fn max_pending(&self) -> usize {
        self.max_pending
    }

    /// Slab entries allocated so far: the high-water mark of pending events, rounded up by
    /// `Vec` growth. Constant in steady state.
    pub fn capacity(&self) -> usize {
        self.slab.capacity()
    }

    /// Events ever scheduled (successfully).
    pub fn scheduled_total(&self) -> u64 {
        self.scheduled_total
    }

    /// Events ever popped.
    pub fn popped_total(&self) -> u64 {
        self.popped_total
    }

    /// Schedules `ev` at `at`, which must not be before [`now`](Self::now). Events at equal
    /// times pop in the order they were scheduled.
    pub fn schedule(&mut self, at: SimTime, ev: E) -> Result<EventHandle, ScheduleError> {
        let at_ns = at.as_nanos();
        if at_ns < self.now_ns {
            return Err(ScheduleError::InPast {
                at,
                now: self.now(),
            });
        }
        if self.len >= self.max_pending {
            return Err(ScheduleError::TooManyPending {
                limit: self.max_pending,
            });
        }
        let index = if self.free_head != NIL {
            let index = self.free_head;
            let entry = &mut self.slab[index as usize];
            self.free_head = entry.next;
            entry.time_ns = at_ns;
            entry.event = Some(ev);
            index
        } else {
            // len < max_pending <= u32::MAX and every slab entry is pending when the free list
            // is empty, so the new index is below u32::MAX (= NIL).
            let index = self.slab.len() as u32;
            self.slab.push(Entry {
                time_ns: at_ns,
                next: NIL,
                prev: NIL,
                generation: 0,
                event: Some(ev),
            });
            index
        };
        self.link(index);
        self.len += 1;
        self.scheduled_total += 1;
        if let Some(min_ns) = self.min_cache_ns {
            if at_ns < min_ns {
                self.min_cache_ns = Some(at_ns);
            }
        }
        Ok(EventHandle {
            index,
            generation: self.slab[index as usize].generation,
        })
    }

    /// Schedules `ev` at `now + delay` (saturating at `SimTime::MAX`).
    pub fn schedule_in(&mut self, delay: SimDuration, ev: E) -> Result<EventHandle, ScheduleError> {
        self.schedule(self.now() + delay, ev)
    }

    /// Removes the event named by `h` and returns it, in O(1). Returns `None` if it was already
    /// popped or cancelled, including when its slab entry has since been reused.
    pub fn cancel(&mut self, h: EventHandle) -> Option<E> {
        let entry = self.slab.get_mut(h.index as usize)?;
        if entry.generation != h.generation {
            return None;
        }
        let ev = entry.event.take()?;
        let time_ns = entry.time_ns;
        let level = level_for(self.now_ns, time_ns);
        self.unlink(level, slot_for(time_ns, level), h.index);
        self.release(h.index);
        if self.min_cache_ns == Some(time_ns) {
            self.min_cache_ns = None;
        }
        Some(ev)
    }

    /// Removes and returns the earliest event (ties: earliest scheduled), advancing `now` to its
    /// time.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        loop {
            if self.levels_occupied == 0 {
                return None;
            }
            let level = self.levels_occupied.trailing_zeros() as usize;
            let slot = self.occupied[level].trailing_zeros() as usize;
            if level > 0 {
                self.cascade(level, slot);
                continue;
            }
            let index = self.lists[0][slot].head;
            self.unlink(0, slot, index);
            let entry = &mut self.slab[index as usize];
            let time_ns = entry.time_ns;
            let ev = entry.event.take();
            self.release(index);
            self.now_ns = time_ns;
            self.popped_total += 1;
            self.min_cache_ns = None;
            // A linked entry always holds its event; `map` only avoids a panic path.
            return ev.map(|ev| (SimTime::from_nanos(time_ns), ev));
        }
    }

    /// Like [`pop`](Self::pop), but only if the earliest event is at or before `limit`;
    /// otherwise returns `None` and leaves `now` and the pending events as they were.
    pub fn pop_until(&mut self, limit: SimTime) -> Option<(SimTime, E)> {
        let limit_ns = limit.as_nanos();
        if self.levels_occupied == 0 {
            return None;
        }
        if let Some(min_ns) = self.min_cache_ns {
            if min_ns > limit_ns {
                return None;
            }
            return self.pop();
        }
        let level = self.levels_occupied.trailing_zeros() as usize;
        let slot = self.occupied[level].trailing_zeros() as usize;
        let start_ns = slot_start(self.now_ns, level, slot);
        if start_ns > limit_ns {
            return None;
        }
        // If the whole slot is within the limit, so is its minimum: cascade without scanning.
        // Only the one slot that straddles the limit needs its exact minimum.
        if (start_ns | low_mask(level)) > limit_ns && self.first_time_ns()? > limit_ns {
            return None;
        }
        self.pop()
    }

    /// Time of the earliest pending event, without removing it. Exact; O(1) unless the earliest
    /// event is still in a higher-level slot, which is then scanned once and the answer cached.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.first_time_ns().map(SimTime::from_nanos)
    }

    fn first_time_ns(&mut self) -> Option<u64> {
        if self.levels_occupied == 0 {
            return None;
        }
        if let Some(min_ns) = self.min_cache_ns {
            return Some(min_ns);
        }
        let level = self.levels_occupied.trailing_zeros() as usize;
        let slot = self.occupied[level].trailing_zeros() as usize;
        let min_ns = if level == 0 {
            slot_start(self.now_ns, 0, slot)
        } else {
            // The lowest non-empty slot holds the global minimum: everything at higher levels,
            // or in later slots of this level, starts after this slot ends.
            let mut min_ns = u64::MAX;
            let mut cur = self.lists[level][slot].head;
            while cur != NIL {
                let entry = &self.slab[cur as usize];
                min_ns = min_ns.min(entry.time_ns);
                cur = entry.next;
            }
            min_ns
        };
        self.min_cache_ns = Some(min_ns);
        Some(min_ns)
    }

    /// Moves every entry of (`level` > 0, `slot`) to the lower levels, after moving the cursor to
    /// the slot's start. Only ever called on the lowest non-empty level, so the levels below are
    /// empty and the list order is preserved (see the module docs on FIFO).
    fn cascade(&mut self, level: usize, slot: usize) {
        let list = std::mem::replace(&mut self.lists[level][slot], EMPTY_LIST);
        self.clear_occupied(level, slot);
        self.now_ns = slot_start(self.now_ns, level, slot);
        let mut cur = list.head;
        while cur != NIL {
            let next = self.slab[cur as usize].next;
            self.link(cur);
            cur = next;
        }
    }

    /// Appends entry `index` to the tail of the list its time belongs to.
    #[inline]
    fn link(&mut self, index: u32) {
        let time_ns = self.slab[index as usize].time_ns;
        let level = level_for(self.now_ns, time_ns);
        let slot = slot_for(time_ns, level);
        let list = &mut self.lists[level][slot];
        let tail = list.tail;
        list.tail = index;
        if tail == NIL {
            list.head = index;
            self.occupied[level] |= 1 << slot;
            self.levels_occupied |= 1 << level;
        } else {
            self.slab[tail as usize].next = index;
        }
        let entry = &mut self.slab[index as usize];
        entry.prev = tail;
        entry.next = NIL;
    }

    #[inline]
    fn unlink(&mut self, level: usize, slot: usize, index: u32) {
        let entry = &self.slab[index as usize];
        let (prev, next) = (entry.prev, entry.next);
        let list = &mut self.lists[level][slot];
        if prev == NIL {
            list.head = next;
        } else {
            self.slab[prev as usize].next = next;
        }
        if next == NIL {
            list.tail = prev;
        } else {
            self.slab[next as usize].prev = prev;
        }
        if list.head == NIL {
            self.clear_occupied(level, slot);
        }
    }

    #[inline]
    fn clear_occupied(&mut self, level: usize, slot: usize) {
        self.occupied[level] &= !(1 << slot);
        if self.occupied[level] == 0 {
            self.levels_occupied &= !(1 << level);
        }
    }

    /// Puts an unlinked entry (event already taken) on the free list.
    #[inline]
    fn release(&mut self, index: u32) {
        let entry = &mut self.slab[index as usize];
        entry.generation = entry.generation.wrapping_add(1);
        entry.next = self.free_head;
        entry.prev = NIL;
        self.free_head = index;
        self.len -= 1;
    }
}

/// When [`run`] must stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunLimits {
    /// Events later than this are left pending.
    pub until: SimTime,
    /// Most events to hand to the handler in this call.
    pub max_events: u64,
}

impl RunLimits {
    /// No limit: run until the queue is empty.
    pub const UNLIMITED: RunLimits = RunLimits {
        until: SimTime::MAX,
        max_events: u64::MAX,
    };

    /// Stop after the last event at or before `until`.
    pub const fn until(until: SimTime) -> RunLimits {
        RunLimits {
            until,
            max_events: u64::MAX,
        }
    }
}

/// Why [`run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// No events left.
    Exhausted,
    /// The next event is later than `limits.until` (it stays pending; `now` is the time of the
    /// last handled event, not `until`).
    TimeLimit,
    /// `limits.max_events` events were handled in this call and more are pending.
    EventLimit,
}

/// Pops and hands events to `handler` (which may schedule/cancel more) until a limit or the queue
/// is empty. If the queue is empty the answer is `Exhausted` even when a limit was also reached.
pub fn run<E>(
    q: &mut EventQueue<E>,
    limits: RunLimits,
    mut handler: impl FnMut(&mut EventQueue<E>, SimTime, E),
) -> StopReason {
    let mut handled: u64 = 0;
    loop {
        if q.is_empty() {
            return StopReason::Exhausted;
        }
        if handled >= limits.max_events {
            return StopReason::EventLimit;
        }
        match q.pop_until(limits.until) {
            Some((t, ev)) => {
                handled += 1;
                handler(q, t, ev);
            }
            None => return StopReason::TimeLimit,
        }
    }
}

#[cfg(test)]
mod tests;

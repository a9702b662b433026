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
//! Entries sit in one slab (`Vec`) with a free list, linked into intrusive doubly-linked lists
//! (u32 indices) per slot, so schedule and cancel are O(1) and, once the slab has grown to the
//! peak number of pending events, nothing is allocated. Each entry stores its insertion sequence
//! number `seq`, which also serves as the handle check (it is never reused, unlike a generation).
//!
//! Popping takes the lowest non-empty level. At level 0 the head of the first occupied slot is
//! the answer. At a higher level the first occupied slot holds the minimum: it is found by a scan
//! of the slot (unless a peek already cached it, or the slot holds one entry), unlinked and
//! returned, the cursor jumps to its time, and the rest of the slot is *cascaded*: relinked at
//! their (lower) levels relative to the new cursor. That is the state a cascade to the minimum
//! followed by a level-0 pop would leave, without relinking the popped event only to unlink it
//! again (most higher-level slots hold one entry when they come up: timers are spread out). An
//! event is relinked at most once per level, so a pop costs amortised O(levels) = O(1). Jumping
//! to the minimum rather than to the slot's start puts every other entry at the same or a lower
//! level (it shares at least as many high bits with the cursor): 7-10 % fewer instructions per
//! pop, paid for with a pass over the slot's entries.
//!
//! # Keys, `seq`, and merging with external FIFOs
//!
//! The order is by key `(time, seq)`, where `seq` is a queue-wide counter taken by every
//! successful `schedule`. [`EventQueue::reserve_seq`] takes a number from the same counter
//! without scheduling anything, so a caller can keep entries outside the queue (the engine's
//! per-link delivery FIFOs, whose times never decrease) and still interleave them exactly as if
//! each had been scheduled at the moment it was stamped: compare the FIFO head's `(time, seq)`
//! with [`EventQueue::peek_key`], or let [`EventQueue::pop_before`] pop the queue's minimum only
//! if its key is strictly below the head's. Keys are unique, so there are no ties to break. The
//! wheel never compares seqs internally (its lists are FIFO, see below); `seq` is what it reports.
//!
//! `peek_key` is meant to be called after every event, so the minimum (its slab index) is
//! cached: a schedule updates it (the new seq is the largest, so the new event is the minimum
//! only if strictly earlier), a cancel of another event keeps it, popping an external entry does
//! not touch the queue at all, and only a pop or the cancel (or `reschedule`, a cancel and a
//! schedule in one) of the minimum itself clears it. An uncached minimum costs O(1) at level 0
//! and one scan of the slot at a higher level, which the following pop reuses. Beside it the queue keeps a *floor*, a lower bound on the earliest
//! time (exact while the minimum is cached), so that [`EventQueue::pop_before`] with a bound
//! before it answers with one comparison: that is most calls, as the engine asks before every
//! delivery from its FIFOs. A pop sets the floor to the popped time, an earlier schedule lowers
//! it, and a conditional pop that had to look at the first occupied slot raises it to that
//! slot's start even when it did not scan the slot.
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
//!    slot (it lands on the slot's minimum, never after any of its entries): pops serve the
//!    lowest non-empty level first, and everything below level `L` lies in the cursor's current
//!    level-`L` slot, never in a later one. So before any newer insert of `T`
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
//! `L` moves the cursor only within bits that every higher-level entry does not share with it
//! (a cascade stays inside the cascaded slot's range, which is inside the cursor's current
//! level-`L+1` block), so their computed level does not change. Cancel therefore recomputes an entry's list from its
//! time instead of storing the level in the entry.
//!
//! Between public calls the cursor equals [`EventQueue::now`]: a cascade moves it to the
//! minimum's time only inside a pop, which pops that very event. [`EventQueue::peek_time`],
//! [`EventQueue::peek_key`], and a [`EventQueue::pop_until`] / [`EventQueue::pop_before`] that
//! pops nothing never cascade (a cascade would move the cursor past `now`, and an event scheduled
//! in between would then have no valid place); when they need the exact minimum of a
//! higher-level slot they scan it and cache the result.

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
/// been popped or cancelled, its slab entry is free or holds an event with another sequence
/// number, and the handle no longer matches.
///
/// The handle carries the event's full 64-bit insertion sequence number, which is never reused,
/// so a stale handle can never alias a newer event. It is split into two `u32`s so that the
/// handle is 12 bytes with 4-byte alignment rather than 16. The sequence number comes first:
/// `new` then writes it as one 8-byte store, and a copy of the handle reads it back as one
/// 8-byte load. With the index first, a handle just returned by `reschedule` was copied by a
/// load straddling two of its stores, which waited for them to retire (store-to-load
/// forwarding serves a load from one store only; `perf annotate` on bench-a: ~3 % of the run).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventHandle {
    seq_lo: u32,
    seq_hi: u32,
    index: u32,
}

impl EventHandle {
    #[inline]
    fn new(index: u32, seq: u64) -> Self {
        EventHandle {
            index,
            seq_lo: seq as u32,
            seq_hi: (seq >> 32) as u32,
        }
    }

    /// The event's insertion sequence number: with its time, the key it pops by (see
    /// [`EventQueue::peek_key`]).
    #[inline]
    pub fn seq(&self) -> u64 {
        (u64::from(self.seq_hi) << 32) | u64::from(self.seq_lo)
    }
}

/// Why an event was not scheduled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("event scheduled in the past: at {at:?} but now is {now:?}")]
    InPast { at: SimTime, now: SimTime },
    #[error("more than {limit} events pending")]
    TooManyPending { limit: usize },
}

/// One slab entry. For `E = u64` it is 40 bytes: `time_ns` 8, `seq` 8, `next`/`prev` 8,
/// `Option<u64>` 16 (payload 8 + tag, padded), i.e. 32 bytes of overhead plus the payload. For an
/// event enum with a spare niche, `Option<E>` costs nothing over `E`, and the overhead is 24.
///
/// `seq` doubles as the handle check: it is unique for the queue's life, so no separate
/// generation counter is needed (which is what keeps the entry at its old size).
struct Entry<E> {
    time_ns: u64,
    /// Insertion sequence number while pending (the tie-break among equal times); kept while
    /// the entry is free, where `event` being `None` is what makes old handles miss.
    seq: u64,
    /// Next in the slot list, or next free entry when the entry is free.
    next: u32,
    prev: u32,
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

#[cfg(test)]
fn slot_for(t_ns: u64, level: usize) -> usize {
    ((t_ns >> (level as u32 * LEVEL_BITS)) & SLOT_MASK) as usize
}

/// Level and first bit of the level, by bit position: `(b / 6, b / 6 * 6)`. Two table loads
/// instead of a division by 6 and a multiplication back, on every schedule and cancel.
const LEVEL_OF_BIT: [(u8, u8); 64] = {
    let mut table = [(0, 0); 64];
    let mut bit = 0;
    while bit < 64 {
        let level = bit as u32 / LEVEL_BITS;
        table[bit] = (level as u8, (level * LEVEL_BITS) as u8);
        bit += 1;
    }
    table
};

/// `(level_for(cursor_ns, t_ns), slot_for(t_ns, level))`.
#[inline]
fn place(cursor_ns: u64, t_ns: u64) -> (usize, usize) {
    let diff = (cursor_ns ^ t_ns) | SLOT_MASK;
    let (level, shift) = LEVEL_OF_BIT[(u64::BITS - 1 - diff.leading_zeros()) as usize];
    (level as usize, ((t_ns >> shift) & SLOT_MASK) as usize)
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
    /// Events ever cancelled. The number pending is `scheduled_total - popped_total -
    /// cancelled_total`: counters that schedule and pop keep anyway, so neither has to
    /// maintain a separate length as well.
    cancelled_total: u64,
    max_pending: usize,
    /// The next insertion sequence number, shared by `schedule` and `reserve_seq`.
    next_seq: u64,
    scheduled_total: u64,
    popped_total: u64,
    /// Slab index of the earliest pending event, when known (`NIL` otherwise). Saves `peek_key`
    /// and the conditional pops from rescanning a higher-level slot, and lets a pop take the
    /// minimum straight out of its slot; kept across schedules, cleared by a pop or by
    /// cancelling the minimum.
    min_index: u32,
    /// A lower bound on the earliest pending time: exactly that time while `min_index` is
    /// known. Lets the conditional pops answer "not yet" with one comparison while the bound
    /// they are given lies before it, which is most calls (the engine asks before every lane
    /// delivery). Lowered by an earlier schedule, set by a pop to the popped time, raised to
    /// the start of the first occupied slot when a conditional pop had to look at it.
    floor_ns: u64,
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
            .field("len", &self.len())
            .field("max_pending", &self.max_pending)
            .field("capacity", &self.slab.capacity())
            .field("next_seq", &self.next_seq)
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
            cancelled_total: 0,
            max_pending: max_pending.min(MAX_LIMIT),
            next_seq: 0,
            scheduled_total: 0,
            popped_total: 0,
            min_index: NIL,
            floor_ns: 0,
        }
    }

    /// Time of the last popped event (`SimTime::ZERO` before the first pop).
    pub fn now(&self) -> SimTime {
        SimTime::from_nanos(self.now_ns)
    }

    /// Number of pending (scheduled, not yet popped or cancelled) events.
    pub fn len(&self) -> usize {
        (self.scheduled_total - self.popped_total - self.cancelled_total) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

    /// Events ever scheduled (successfully). Sequence numbers taken by
    /// [`reserve_seq`](Self::reserve_seq) are not events and are not counted.
    pub fn scheduled_total(&self) -> u64 {
        self.scheduled_total
    }

    /// Events ever popped.
    pub fn popped_total(&self) -> u64 {
        self.popped_total
    }

    /// Takes the next insertion sequence number without scheduling anything, so that an entry
    /// kept outside the queue (a FIFO of deliveries on a fixed-delay link) and stamped with
    /// `(time, seq)` sorts exactly where an event scheduled at `time` at this moment would: merge
    /// it with the queue through [`peek_key`](Self::peek_key) / [`pop_before`](Self::pop_before).
    /// [`schedule`](Self::schedule) draws from the same counter. Not counted in
    /// [`scheduled_total`](Self::scheduled_total).
    ///
    /// The counter is a `u64` bumped once per call or schedule: it would take 584 years at a
    /// billion a second to wrap, so wrapping is not handled.
    #[inline]
    pub fn reserve_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Schedules `ev` at `at`, which must not be before [`now`](Self::now). Events at equal
    /// times pop in the order they were scheduled (by insertion sequence number, see
    /// [`reserve_seq`](Self::reserve_seq)). A failed schedule takes no sequence number.
    #[inline]
    pub fn schedule(&mut self, at: SimTime, ev: E) -> Result<EventHandle, ScheduleError> {
        let at_ns = at.as_nanos();
        if at_ns < self.now_ns {
            return Err(self.in_past(at));
        }
        let index = self.free_head;
        if index == NIL {
            return self.schedule_grow(at_ns, ev);
        }
        // A free entry means `len < slab.len() <= max_pending` (the slab only grows while
        // `len < max_pending`), so the limit needs no check on this path.
        let seq = self.reserve_seq();
        let entry = &mut self.slab[index as usize];
        self.free_head = entry.next;
        entry.time_ns = at_ns;
        entry.seq = seq;
        entry.event = Some(ev);
        self.link(index, at_ns);
        self.note_scheduled(index, at_ns);
        Ok(EventHandle::new(index, seq))
    }

    #[cold]
    #[inline(never)]
    fn in_past(&self, at: SimTime) -> ScheduleError {
        ScheduleError::InPast {
            at,
            now: self.now(),
        }
    }

    /// `schedule` with an empty free list: the slab grows by one entry, up to the limit. Out
    /// of line because it only runs until the slab reaches the peak number of pending events.
    #[inline(never)]
    fn schedule_grow(&mut self, at_ns: u64, ev: E) -> Result<EventHandle, ScheduleError> {
        if self.len() >= self.max_pending {
            return Err(ScheduleError::TooManyPending {
                limit: self.max_pending,
            });
        }
        let seq = self.reserve_seq();
        // len < max_pending <= u32::MAX and every slab entry is pending when the free list
        // is empty, so the new index is below u32::MAX (= NIL).
        let index = self.slab.len() as u32;
        self.slab.push(Entry {
            time_ns: at_ns,
            seq,
            next: NIL,
            prev: NIL,
            event: Some(ev),
        });
        self.link(index, at_ns);
        self.note_scheduled(index, at_ns);
        Ok(EventHandle::new(index, seq))
    }

    #[inline]
    fn note_scheduled(&mut self, index: u32, at_ns: u64) {
        // Strictly before the floor is strictly before every pending event: the new minimum.
        // Otherwise a known minimum (whose time is the floor) stays the minimum, as the new
        // seq is the largest.
        if at_ns < self.floor_ns {
            self.floor_ns = at_ns;
            self.min_index = index;
        }
        self.scheduled_total += 1;
    }

    /// Schedules `ev` at `now + delay` (saturating at `SimTime::MAX`).
    pub fn schedule_in(&mut self, delay: SimDuration, ev: E) -> Result<EventHandle, ScheduleError> {
        self.schedule(self.now() + delay, ev)
    }

    /// Removes the event named by `h` and returns it, in O(1). Returns `None` if it was already
    /// popped or cancelled, including when its slab entry has since been reused.
    #[inline(always)]
    pub fn cancel(&mut self, h: EventHandle) -> Option<E> {
        let seq = h.seq();
        let entry = self.slab.get_mut(h.index as usize)?;
        if entry.seq != seq {
            return None;
        }
        let ev = entry.event.take()?;
        let time_ns = entry.time_ns;
        let (level, slot) = place(self.now_ns, time_ns);
        self.unlink(level, slot, h.index);
        self.release(h.index);
        self.cancelled_total += 1;
        // The floor stays a lower bound: the minimum can only have grown.
        if self.min_index == h.index {
            self.min_index = NIL;
        }
        Some(ev)
    }

    /// Moves the event named by `h` to `at`, with `ev` in place of its old event: the same as
    /// [`cancel`](Self::cancel) of `h` followed by [`schedule`](Self::schedule) of `ev` at
    /// `at`, including the new sequence number (the event orders as one freshly scheduled, after
    /// every event already pending at `at`), the counters, and the result when `h` is stale
    /// (`ev` is simply scheduled) or `at` is in the past (`h` is cancelled all the same). A
    /// pending event keeps its slab entry: it is relinked, not freed and taken again. Always
    /// inlined, like `cancel`: it runs in a driver's inner loop, where a call costs more.
    #[inline(always)]
    pub fn reschedule(
        &mut self,
        h: EventHandle,
        at: SimTime,
        ev: E,
    ) -> Result<EventHandle, ScheduleError> {
        let at_ns = at.as_nanos();
        let index = h.index;
        let pending = self
            .slab
            .get(index as usize)
            .is_some_and(|e| e.seq == h.seq() && e.event.is_some());
        if !pending || at_ns < self.now_ns {
            return self.reschedule_slow(h, at, ev);
        }
        let (level, slot) = place(self.now_ns, self.slab[index as usize].time_ns);
        self.unlink(level, slot, index);
        self.cancelled_total += 1;
        // As in `cancel`: the floor stays a lower bound, and `note_scheduled` caches the
        // entry again if its new time is the earliest.
        if self.min_index == index {
            self.min_index = NIL;
        }
        // The end of `schedule`, repeated: a shared inline helper made LLVM index the slab
        // twice on `schedule`'s path (+0.4 M to +1.9 M instructions on the reference run).
        let seq = self.reserve_seq();
        let entry = &mut self.slab[index as usize];
        entry.time_ns = at_ns;
        entry.seq = seq;
        entry.event = Some(ev);
        self.link(index, at_ns);
        self.note_scheduled(index, at_ns);
        Ok(EventHandle::new(index, seq))
    }

    /// [`reschedule`](Self::reschedule) of a stale handle or to a time in the past, spelt out.
    #[cold]
    #[inline(never)]
    fn reschedule_slow(
        &mut self,
        h: EventHandle,
        at: SimTime,
        ev: E,
    ) -> Result<EventHandle, ScheduleError> {
        self.cancel(h);
        self.schedule(at, ev)
    }

    /// Removes and returns the earliest event (ties: earliest scheduled), advancing `now` to its
    /// time.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.pop_entry()
            .map(|(time_ns, _, ev)| (SimTime::from_nanos(time_ns), ev))
    }

    /// Like [`pop`](Self::pop), but also returns the event's insertion sequence number.
    pub fn pop_keyed(&mut self) -> Option<(SimTime, u64, E)> {
        self.pop_entry()
            .map(|(time_ns, seq, ev)| (SimTime::from_nanos(time_ns), seq, ev))
    }

    /// Like [`pop`](Self::pop), but only if the earliest event is at or before `limit`;
    /// otherwise returns `None` and leaves `now` and the pending events as they were.
    pub fn pop_until(&mut self, limit: SimTime) -> Option<(SimTime, E)> {
        // Every pending seq is below `u64::MAX` (the counter cannot get there), so "key below
        // (limit, MAX)" is "time at or before limit".
        self.pop_below(limit.as_nanos(), u64::MAX)
            .map(|(time_ns, _, ev)| (SimTime::from_nanos(time_ns), ev))
    }

    /// Like [`pop`](Self::pop), but only if the earliest event's key (time, seq) is strictly
    /// below `(time, seq)`; otherwise returns `None` and leaves `now` and the pending events as
    /// they were. This is the merge step against an external FIFO whose head carries the key
    /// `(time, seq)` from [`reserve_seq`](Self::reserve_seq): `None` means the FIFO head goes
    /// first (or the queue is empty).
    pub fn pop_before(&mut self, time: SimTime, seq: u64) -> Option<(SimTime, E)> {
        self.pop_below(time.as_nanos(), seq)
            .map(|(time_ns, _, ev)| (SimTime::from_nanos(time_ns), ev))
    }

    /// Time of the earliest pending event, without removing it. Exact; O(1) unless the earliest
    /// event is still in a higher-level slot, which is then scanned once and the answer cached.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.first_key()
            .map(|(time_ns, _)| SimTime::from_nanos(time_ns))
    }

    /// Key (time, insertion sequence number) of the event [`pop`](Self::pop) would return next,
    /// without removing it or moving the cursor. Same cost as [`peek_time`](Self::peek_time): the
    /// answer is cached and survives schedules, pops of external entries (which do not touch the
    /// queue) and cancels of other events.
    pub fn peek_key(&mut self) -> Option<(SimTime, u64)> {
        self.first_key()
            .map(|(time_ns, seq)| (SimTime::from_nanos(time_ns), seq))
    }

    /// The first occupied (level, slot): the earliest pending event is in it. At least one
    /// level must be occupied.
    #[inline(always)]
    fn first_slot(&self) -> (usize, usize) {
        let level = self.levels_occupied.trailing_zeros() as usize;
        (level, self.occupied[level].trailing_zeros() as usize)
    }

    /// Pops the minimum if its key is below `(bound_ns, bound_seq)`.
    #[inline]
    fn pop_below(&mut self, bound_ns: u64, bound_seq: u64) -> Option<(u64, u64, E)> {
        if bound_ns < self.floor_ns {
            return None;
        }
        let index = match self.min_index {
            NIL => {
                if self.levels_occupied == 0 {
                    return None;
                }
                let (level, slot) = self.first_slot();
                let start = slot_start(self.now_ns, level, slot);
                if start > bound_ns {
                    // Whole slot after the bound: no need to scan it for its exact minimum
                    // (yet), but nothing pending is earlier than its start.
                    self.floor_ns = start;
                    return None;
                }
                self.find_min(level, slot)
            }
            index => index,
        };
        let entry = &self.slab[index as usize];
        if (entry.time_ns, entry.seq) >= (bound_ns, bound_seq) {
            return None;
        }
        Some(self.pop_min(index))
    }

    fn pop_entry(&mut self) -> Option<(u64, u64, E)> {
        // Every pending key is below (MAX, MAX): pending seqs never reach u64::MAX.
        self.pop_below(u64::MAX, u64::MAX)
    }

    /// Removes the earliest pending event, at slab index `index`, and moves the cursor to it.
    /// It sits in the first occupied slot of the lowest occupied level; if that level is above
    /// 0, the rest of its slot is cascaded with the cursor on the popped time, exactly as if the
    /// slot had been cascaded first and the event then popped from level 0 (see the module
    /// docs): the popped event is not relinked only to be unlinked again.
    #[inline]
    fn pop_min(&mut self, index: u32) -> (u64, u64, E) {
        let (level, slot) = self.first_slot();
        // The cached minimum lies in the first occupied slot; were it elsewhere, `unlink` would
        // corrupt that slot's list silently.
        debug_assert_eq!(
            place(self.now_ns, self.slab[index as usize].time_ns),
            (level, slot)
        );
        self.unlink(level, slot, index);
        let entry = &mut self.slab[index as usize];
        let time_ns = entry.time_ns;
        let seq = entry.seq;
        let ev = entry.event.take();
        self.release(index);
        self.now_ns = time_ns;
        self.floor_ns = time_ns;
        self.min_index = NIL;
        self.popped_total += 1;
        if level > 0 && self.lists[level][slot].head != NIL {
            self.cascade(level, slot);
        }
        match ev {
            Some(ev) => (time_ns, seq, ev),
            None => unreachable!("a linked entry holds its event"),
        }
    }

    fn first_key(&mut self) -> Option<(u64, u64)> {
        let index = match self.min_index {
            NIL => {
                if self.levels_occupied == 0 {
                    return None;
                }
                let (level, slot) = self.first_slot();
                self.find_min(level, slot)
            }
            index => index,
        };
        let entry = &self.slab[index as usize];
        Some((entry.time_ns, entry.seq))
    }

    /// Finds and caches the earliest pending event, which is in list (`level`, `slot`), the
    /// first occupied slot of the lowest occupied level: everything at higher levels, or in
    /// later slots of this level, starts after this slot ends. A level-0 slot holds one time,
    /// in insertion order, so its head is the answer; so is the head of a one-entry list.
    fn find_min(&mut self, level: usize, slot: usize) -> u32 {
        let list = self.lists[level][slot];
        let mut best = list.head;
        if level > 0 && list.head != list.tail {
            let head = &self.slab[best as usize];
            let mut key = (head.time_ns, head.seq);
            let mut cur = head.next;
            while cur != NIL {
                let entry = &self.slab[cur as usize];
                if (entry.time_ns, entry.seq) < key {
                    key = (entry.time_ns, entry.seq);
                    best = cur;
                }
                cur = entry.next;
            }
        }
        self.min_index = best;
        self.floor_ns = self.slab[best as usize].time_ns;
        best
    }

    /// Moves every entry of (`level` > 0, `slot`) to the lower levels, relative to the cursor,
    /// which the caller has just put on the slot's earliest time (the event it popped from
    /// it). From there every entry lands at the same or a lower level than it would from the
    /// slot's start (it shares at least as many high bits with the cursor), so fewer entries
    /// are cascaded again later. Only ever called on the lowest non-empty level, so the levels
    /// below are empty and the list order is preserved (see the module docs on FIFO).
    fn cascade(&mut self, level: usize, slot: usize) {
        let list = std::mem::replace(&mut self.lists[level][slot], EMPTY_LIST);
        self.clear_occupied(level, slot);
        debug_assert!(level_for(self.now_ns, self.slab[list.head as usize].time_ns) < level);
        let mut cur = list.head;
        while cur != NIL {
            let entry = &self.slab[cur as usize];
            let (next, time_ns) = (entry.next, entry.time_ns);
            self.link(cur, time_ns);
            cur = next;
        }
    }

    /// Appends entry `index`, whose time is `time_ns`, to the tail of the list it belongs to.
    #[inline]
    fn link(&mut self, index: u32, time_ns: u64) {
        let (level, slot) = place(self.now_ns, time_ns);
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

    #[inline(always)]
    fn unlink(&mut self, level: usize, slot: usize, index: u32) {
        let entry = &self.slab[index as usize];
        let (prev, next) = (entry.prev, entry.next);
        let list = &mut self.lists[level][slot];
        // Four cases rather than two independent ones, so that emptying a list is known
        // without reading the head back. The head is by far the most common (timers are
        // cancelled or popped in about the order they were set).
        match (prev == NIL, next == NIL) {
            (true, false) => {
                list.head = next;
                self.slab[next as usize].prev = NIL;
            }
            (true, true) => {
                *list = EMPTY_LIST;
                self.clear_occupied(level, slot);
            }
            (false, true) => {
                list.tail = prev;
                self.slab[prev as usize].next = NIL;
            }
            (false, false) => {
                self.slab[prev as usize].next = next;
                self.slab[next as usize].prev = prev;
            }
        }
    }

    #[inline]
    fn clear_occupied(&mut self, level: usize, slot: usize) {
        self.occupied[level] &= !(1 << slot);
        if self.occupied[level] == 0 {
            self.levels_occupied &= !(1 << level);
        }
    }

    /// Puts an unlinked entry (event already taken) on the free list. Its `seq` stays, but with
    /// `event` gone no handle matches it, and the next schedule gives it a new one.
    #[inline]
    fn release(&mut self, index: u32) {
        let entry = &mut self.slab[index as usize];
        entry.next = self.free_head;
        entry.prev = NIL;
        self.free_head = index;
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

#[cfg(test)]
mod model_tests;

//! The reference model: a binary heap keyed by (time, insertion sequence), with lazy
//! cancellation. Simple enough to be obviously right, so tests compare the wheel against it;
//! also the baseline in the workspace benchmarks.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;

use sim_time::{SimDuration, SimTime};

use super::{EventHandle, ScheduleError, DEFAULT_MAX_PENDING, MAX_LIMIT};

/// Heap key. Derived `Ord` compares fields in order; `seq` is unique, so `index` never decides.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    time_ns: u64,
    seq: u64,
    index: u32,
}

struct Slot<E> {
    /// Sequence number of the event last stored here: a key or handle for this slot is live iff
    /// its seq matches and the event is still present.
    seq: u64,
    event: Option<E>,
}

impl<E> Slot<E> {
    fn is_live(&self, seq: u64) -> bool {
        self.seq == seq && self.event.is_some()
    }
}

/// Same methods and semantics as [`EventQueue`](super::EventQueue), on `std`'s `BinaryHeap`.
/// Cancel is O(1) (the heap key goes stale and is skipped when it surfaces); stale keys are
/// purged whenever they outnumber live ones, so memory stays bounded under schedule/cancel churn.
pub struct HeapQueue<E> {
    heap: BinaryHeap<Reverse<Key>>,
    slots: Vec<Slot<E>>,
    free: Vec<u32>,
    now_ns: u64,
    len: usize,
    max_pending: usize,
    next_seq: u64,
    scheduled_total: u64,
    popped_total: u64,
}

impl<E> Default for HeapQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> fmt::Debug for HeapQueue<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeapQueue")
            .field("now", &self.now())
            .field("len", &self.len)
            .field("max_pending", &self.max_pending)
            .field("heap_len", &self.heap.len())
            .finish()
    }
}

/// Stale keys tolerated before a purge, beyond one per live event: keeps purges rare for small
/// queues.
const STALE_SLACK: usize = 1024;

impl<E> HeapQueue<E> {
    pub fn new() -> Self {
        Self::with_limit(DEFAULT_MAX_PENDING)
    }

    pub fn with_limit(max_pending: usize) -> Self {
        HeapQueue {
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            now_ns: 0,
            len: 0,
            max_pending: max_pending.min(MAX_LIMIT),
            next_seq: 0,
            scheduled_total: 0,
            popped_total: 0,
        }
    }

    pub fn now(&self) -> SimTime {
        SimTime::from_nanos(self.now_ns)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn max_pending(&self) -> usize {
        self.max_pending
    }

    /// Events ever scheduled; reserved sequence numbers are not counted.
    pub fn scheduled_total(&self) -> u64 {
        self.scheduled_total
    }

    pub fn popped_total(&self) -> u64 {
        self.popped_total
    }

    pub fn reserve_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

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
        let seq = self.reserve_seq();
        let index = match self.free.pop() {
            Some(index) => {
                let slot = &mut self.slots[index as usize];
                slot.seq = seq;
                slot.event = Some(ev);
                index
            }
            None => {
                // Bounded by max_pending <= u32::MAX, as in EventQueue.
                let index = self.slots.len() as u32;
                self.slots.push(Slot {
                    seq,
                    event: Some(ev),
                });
                index
            }
        };
        self.heap.push(Reverse(Key {
            time_ns: at_ns,
            seq,
            index,
        }));
        self.len += 1;
        self.scheduled_total += 1;
        Ok(EventHandle::new(index, seq))
    }

    pub fn schedule_in(&mut self, delay: SimDuration, ev: E) -> Result<EventHandle, ScheduleError> {
        self.schedule(self.now() + delay, ev)
    }

    pub fn cancel(&mut self, h: EventHandle) -> Option<E> {
        let slot = self.slots.get_mut(h.index as usize)?;
        if slot.seq != h.seq() {
            return None;
        }
        let ev = slot.event.take()?;
        self.release(h.index);
        if self.heap.len() > 2 * self.len + STALE_SLACK {
            let slots = &self.slots;
            self.heap
                .retain(|Reverse(k)| slots[k.index as usize].is_live(k.seq));
        }
        Some(ev)
    }

    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.pop_keyed().map(|(at, _, ev)| (at, ev))
    }

    pub fn pop_keyed(&mut self) -> Option<(SimTime, u64, E)> {
        while let Some(Reverse(key)) = self.heap.pop() {
            let slot = &mut self.slots[key.index as usize];
            if slot.seq != key.seq {
                continue;
            }
            let Some(ev) = slot.event.take() else {
                continue;
            };
            self.release(key.index);
            self.now_ns = key.time_ns;
            self.popped_total += 1;
            return Some((SimTime::from_nanos(key.time_ns), key.seq, ev));
        }
        None
    }

    pub fn pop_until(&mut self, limit: SimTime) -> Option<(SimTime, E)> {
        if self.peek_time()? > limit {
            return None;
        }
        self.pop()
    }

    pub fn pop_before(&mut self, time: SimTime, seq: u64) -> Option<(SimTime, E)> {
        if self.peek_key()? >= (time, seq) {
            return None;
        }
        self.pop()
    }

    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.peek_key().map(|(at, _)| at)
    }

    pub fn peek_key(&mut self) -> Option<(SimTime, u64)> {
        while let Some(Reverse(key)) = self.heap.peek() {
            if self.slots[key.index as usize].is_live(key.seq) {
                return Some((SimTime::from_nanos(key.time_ns), key.seq));
            }
            self.heap.pop();
        }
        None
    }

    fn release(&mut self, index: u32) {
        self.free.push(index);
        self.len -= 1;
    }
}

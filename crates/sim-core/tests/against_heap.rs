//! The timing wheel must be observably identical to the binary-heap reference model under any
//! sequence of schedule / cancel / pop / pop_until / peek.

use proptest::prelude::*;
use sim_core::{EventHandle, EventQueue, HeapQueue, SimDuration, SimRng, SimTime};

const HOUR_NS: u64 = 3_600_000_000_000;

#[derive(Debug, Clone)]
enum Op {
    /// At now + delay (saturating at never).
    Schedule(u64),
    /// At an absolute time, often in the past by now.
    ScheduleAt(u64),
    /// The handle at this index (modulo the number issued), live or stale.
    Cancel(usize),
    Pop,
    /// Limit at now + delay.
    PopUntil(u64),
    Peek,
}

/// Delays from 0 ns to hours, concentrated on a few values so that equal times are common.
fn delay_ns() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => Just(0u64),
        3 => 0..64u64,
        2 => 0..4096u64,
        2 => (0..16u64).prop_map(|k| k << 20),
        2 => (0..8u64).prop_map(|k| k * 1_000_000_000),
        2 => 0..4 * HOUR_NS,
        1 => (0..4u64).prop_map(|k| k * HOUR_NS),
        1 => Just(u64::MAX),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => delay_ns().prop_map(Op::Schedule),
        1 => (0..32u64).prop_map(|k| Op::ScheduleAt(k * 250_000_000)),
        2 => any::<usize>().prop_map(Op::Cancel),
        3 => Just(Op::Pop),
        2 => delay_ns().prop_map(Op::PopUntil),
        1 => Just(Op::Peek),
    ]
}

struct Pair {
    wheel: EventQueue<u64>,
    heap: HeapQueue<u64>,
    handles: Vec<(EventHandle, EventHandle)>,
    next_id: u64,
}

impl Pair {
    fn new(limit: usize) -> Self {
        Pair {
            wheel: EventQueue::with_limit(limit),
            heap: HeapQueue::with_limit(limit),
            handles: Vec::new(),
            next_id: 0,
        }
    }

    fn apply(&mut self, op: &Op) {
        let now = self.wheel.now();
        match *op {
            Op::Schedule(d) => self.schedule(now + SimDuration::from_nanos(d)),
            Op::ScheduleAt(at) => self.schedule(SimTime::from_nanos(at)),
            Op::Cancel(i) => {
                if !self.handles.is_empty() {
                    let (hw, hh) = self.handles[i % self.handles.len()];
                    assert_eq!(self.wheel.cancel(hw), self.heap.cancel(hh), "{op:?}");
                }
            }
            Op::Pop => assert_eq!(self.wheel.pop(), self.heap.pop(), "{op:?}"),
            Op::PopUntil(d) => {
                let limit = now + SimDuration::from_nanos(d);
                assert_eq!(
                    self.wheel.pop_until(limit),
                    self.heap.pop_until(limit),
                    "{op:?}"
                );
            }
            Op::Peek => assert_eq!(self.wheel.peek_time(), self.heap.peek_time()),
        }
        self.check_counters();
    }

    fn schedule(&mut self, at: SimTime) {
        let id = self.next_id;
        self.next_id += 1;
        match (self.wheel.schedule(at, id), self.heap.schedule(at, id)) {
            (Ok(hw), Ok(hh)) => self.handles.push((hw, hh)),
            (w, h) => assert_eq!(w.unwrap_err(), h.unwrap_err()),
        }
    }

    fn check_counters(&self) {
        assert_eq!(self.wheel.now(), self.heap.now());
        assert_eq!(self.wheel.len(), self.heap.len());
        assert_eq!(self.wheel.is_empty(), self.heap.is_empty());
        assert_eq!(self.wheel.scheduled_total(), self.heap.scheduled_total());
        assert_eq!(self.wheel.popped_total(), self.heap.popped_total());
    }

    fn drain_and_compare(&mut self) {
        loop {
            let w = self.wheel.pop();
            assert_eq!(w, self.heap.pop());
            self.check_counters();
            if w.is_none() {
                break;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn wheel_matches_heap(ops in proptest::collection::vec(op(), 1..400)) {
        let mut pair = Pair::new(1 << 20);
        for op in &ops {
            pair.apply(op);
        }
        pair.drain_and_compare();
    }

    #[test]
    fn wheel_matches_heap_under_a_small_limit(ops in proptest::collection::vec(op(), 1..200)) {
        let mut pair = Pair::new(8);
        for op in &ops {
            pair.apply(op);
        }
        pair.drain_and_compare();
    }
}

/// A long seeded run, with a few thousand events pending at a time: deeper cascades and more
/// slab reuse than the short proptest sequences reach.
#[test]
fn long_random_workload_matches_heap() {
    let mut rng = SimRng::stream(2024, 0, 0, 0);
    let mut pair = Pair::new(1 << 20);
    let delays = [0u64, 1, 63, 64, 4_095, 1_000_000, 1_000_000_000, HOUR_NS];
    for step in 0..200_000u64 {
        let d = match rng.below(3) {
            0 => delays[rng.below(delays.len() as u64) as usize],
            1 => rng.below(200_000_000),
            _ => rng.below(2 * HOUR_NS),
        };
        // Drift from growing to shrinking so the pending count sweeps up and down.
        let grow = if (step / 20_000) % 2 == 0 { 6 } else { 3 };
        let op = match rng.below(10) {
            k if k < grow => Op::Schedule(d),
            6 | 7 => Op::Cancel(rng.below(u64::MAX) as usize),
            8 => Op::PopUntil(d),
            _ => Op::Pop,
        };
        pair.apply(&op);
        // Keep the handle list from growing without bound; old handles are stale anyway.
        if pair.handles.len() > 50_000 {
            pair.handles.drain(..25_000);
        }
    }
    assert!(pair.wheel.popped_total() > 50_000);
    pair.drain_and_compare();
}

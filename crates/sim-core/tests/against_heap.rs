//! The timing wheel must be observably identical to the binary-heap reference model under any
//! sequence of schedule / cancel / pop / pop_until / peek, and both must agree with a plain sorted
//! map of (time, seq) keys when external FIFOs stamped by `reserve_seq` are merged in by key, as
//! the engine does with its delivery lanes.

use std::collections::{BTreeMap, VecDeque};

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
    PeekKey,
    /// Append to lane A at max(its last time, now) + delay, stamped with a seq reserved now.
    PushA(u64),
    /// Append to lane B at max(its last time, now) + delay; its seq is reserved when it becomes
    /// the lane's head (pushed onto an empty lane, or its predecessor popped), which is how the
    /// engine stamps its lanes today.
    PushB(u64),
    /// Pop whichever is first by key: the queue (through `pop_before`) or a lane head.
    PopMerged,
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
        1 => Just(Op::PeekKey),
        2 => delay_ns().prop_map(Op::PushA),
        2 => delay_ns().prop_map(Op::PushB),
        3 => Just(Op::PopMerged),
    ]
}

/// Where a key in the sorted model came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Queue(u64),
    LaneA(u64),
    LaneB(u64),
}

/// A lane entry: arrival time, seq once stamped, id.
type LaneEntry = (SimTime, Option<u64>, u64);

struct Pair {
    wheel: EventQueue<u64>,
    heap: HeapQueue<u64>,
    /// Both queues' handles and the key the model gave the event.
    handles: Vec<(EventHandle, EventHandle, (SimTime, u64))>,
    next_id: u64,
    /// The reference order: every queued event and every stamped lane entry by (time, seq).
    model: BTreeMap<(SimTime, u64), Item>,
    /// The model's own count of seqs handed out, to check the queues' numbering.
    model_seq: u64,
    model_scheduled: u64,
    lane_a: VecDeque<LaneEntry>,
    lane_b: VecDeque<LaneEntry>,
}

impl Pair {
    fn new(limit: usize) -> Self {
        Pair {
            wheel: EventQueue::with_limit(limit),
            heap: HeapQueue::with_limit(limit),
            handles: Vec::new(),
            next_id: 0,
            model: BTreeMap::new(),
            model_seq: 0,
            model_scheduled: 0,
            lane_a: VecDeque::new(),
            lane_b: VecDeque::new(),
        }
    }

    /// The earliest queued (not lane) event in the model.
    fn model_first_queued(&self) -> Option<((SimTime, u64), u64)> {
        self.model.iter().find_map(|(&k, &item)| match item {
            Item::Queue(id) => Some((k, id)),
            _ => None,
        })
    }

    /// Checks a pop from the queues against the model and removes the event from it.
    fn model_take_queued(&mut self, popped: Option<(SimTime, u64)>) {
        if let Some((at, id)) = popped {
            let (key, want) = self.model_first_queued().expect("model has a queued event");
            assert_eq!((key.0, want), (at, id));
            self.model.remove(&key);
        }
    }

    fn reserve(&mut self) -> u64 {
        let (sw, sh) = (self.wheel.reserve_seq(), self.heap.reserve_seq());
        assert_eq!((sw, sh), (self.model_seq, self.model_seq));
        self.model_seq += 1;
        sw
    }

    fn push_lane(&mut self, which_b: bool, d: u64) {
        let id = self.next_id;
        self.next_id += 1;
        let lane = if which_b { &self.lane_b } else { &self.lane_a };
        let floor = lane
            .back()
            .map_or(self.wheel.now(), |&(t, _, _)| t.max(self.wheel.now()));
        let at = floor + SimDuration::from_nanos(d);
        // Lane A stamps every entry; lane B only the one that becomes its head.
        let stamp = !which_b || self.lane_b.is_empty();
        let seq = stamp.then(|| self.reserve());
        if let Some(seq) = seq {
            let item = if which_b {
                Item::LaneB(id)
            } else {
                Item::LaneA(id)
            };
            self.model.insert((at, seq), item);
        }
        let lane = if which_b {
            &mut self.lane_b
        } else {
            &mut self.lane_a
        };
        lane.push_back((at, seq, id));
    }

    /// The smaller head key of the two lanes, and whether it is lane B's.
    fn lane_min(&self) -> Option<((SimTime, u64), bool)> {
        let key = |l: &VecDeque<LaneEntry>| {
            l.front()
                .map(|&(t, s, _)| (t, s.expect("a lane head is stamped")))
        };
        match (key(&self.lane_a), key(&self.lane_b)) {
            (Some(a), Some(b)) => Some(if b < a { (b, true) } else { (a, false) }),
            (Some(a), None) => Some((a, false)),
            (None, Some(b)) => Some((b, true)),
            (None, None) => None,
        }
    }

    /// One step of the engine's merged loop. Returns false when everything is empty.
    fn pop_merged(&mut self) -> bool {
        let Some((key, is_b)) = self.lane_min() else {
            let w = self.wheel.pop();
            assert_eq!(w, self.heap.pop());
            self.model_take_queued(w);
            return w.is_some();
        };
        let w = self.wheel.pop_before(key.0, key.1);
        assert_eq!(w, self.heap.pop_before(key.0, key.1));
        if w.is_some() {
            let (mkey, item) = self.model.pop_first().expect("model not empty");
            assert_eq!(
                w,
                Some((
                    mkey.0,
                    match item {
                        Item::Queue(id) => id,
                        other => panic!("queue popped {w:?} but the model's first is {other:?}"),
                    }
                ))
            );
            assert!(mkey < key);
            return true;
        }
        let lane = if is_b {
            &mut self.lane_b
        } else {
            &mut self.lane_a
        };
        let (at, _, id) = lane.pop_front().expect("lane_min came from a head");
        let want = if is_b {
            Item::LaneB(id)
        } else {
            Item::LaneA(id)
        };
        assert_eq!(self.model.pop_first(), Some((key, want)));
        assert_eq!(key.0, at);
        // The queue's own minimum, if any, sorts after the lane head that beat it.
        if let Some(qk) = self.wheel.peek_key() {
            assert!(qk > key, "{qk:?} vs lane {key:?}");
        }
        if is_b && !self.lane_b.is_empty() {
            let seq = self.reserve();
            let head = self.lane_b.front_mut().expect("non-empty");
            head.1 = Some(seq);
            self.model.insert((head.0, seq), Item::LaneB(head.2));
        }
        true
    }

    fn apply(&mut self, op: &Op) {
        let now = self.wheel.now();
        match *op {
            Op::Schedule(d) => self.schedule(now + SimDuration::from_nanos(d)),
            Op::ScheduleAt(at) => self.schedule(SimTime::from_nanos(at)),
            Op::Cancel(i) => {
                if !self.handles.is_empty() {
                    let (hw, hh, key) = self.handles[i % self.handles.len()];
                    let w = self.wheel.cancel(hw);
                    assert_eq!(w, self.heap.cancel(hh), "{op:?}");
                    match w {
                        Some(id) => assert_eq!(self.model.remove(&key), Some(Item::Queue(id))),
                        None => assert_eq!(self.model.get(&key), None),
                    }
                }
            }
            Op::Pop => {
                let w = self.wheel.pop();
                assert_eq!(w, self.heap.pop(), "{op:?}");
                self.model_take_queued(w);
            }
            Op::PopUntil(d) => {
                let limit = now + SimDuration::from_nanos(d);
                let w = self.wheel.pop_until(limit);
                assert_eq!(w, self.heap.pop_until(limit), "{op:?}");
                self.model_take_queued(w);
            }
            Op::Peek => assert_eq!(self.wheel.peek_time(), self.heap.peek_time()),
            Op::PeekKey => {
                let w = self.wheel.peek_key();
                assert_eq!(w, self.heap.peek_key());
                assert_eq!(w, self.model_first_queued().map(|(k, _)| k));
            }
            Op::PushA(d) => self.push_lane(false, d),
            Op::PushB(d) => self.push_lane(true, d),
            Op::PopMerged => {
                self.pop_merged();
            }
        }
        self.check_counters();
    }

    fn schedule(&mut self, at: SimTime) {
        let id = self.next_id;
        self.next_id += 1;
        match (self.wheel.schedule(at, id), self.heap.schedule(at, id)) {
            (Ok(hw), Ok(hh)) => {
                assert_eq!((hw.seq(), hh.seq()), (self.model_seq, self.model_seq));
                let key = (at, self.model_seq);
                self.model_seq += 1;
                self.model_scheduled += 1;
                self.model.insert(key, Item::Queue(id));
                self.handles.push((hw, hh, key));
            }
            (w, h) => assert_eq!(w.unwrap_err(), h.unwrap_err()),
        }
    }

    fn check_counters(&self) {
        assert_eq!(self.wheel.now(), self.heap.now());
        assert_eq!(self.wheel.len(), self.heap.len());
        assert_eq!(self.wheel.is_empty(), self.heap.is_empty());
        assert_eq!(self.wheel.scheduled_total(), self.heap.scheduled_total());
        assert_eq!(self.wheel.scheduled_total(), self.model_scheduled);
        assert_eq!(self.wheel.popped_total(), self.heap.popped_total());
    }

    /// Empties the queues and lanes through the merged loop; the model must end empty too.
    fn drain_and_compare(&mut self) {
        while self.pop_merged() {
            self.check_counters();
        }
        assert!(self.lane_a.is_empty() && self.lane_b.is_empty());
        assert!(self.model.is_empty(), "{:?}", self.model);
        self.check_counters();
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

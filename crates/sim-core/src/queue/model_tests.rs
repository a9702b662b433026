//! The queue against a model: a `BTreeMap` keyed by (time, seq), driven by random
//! interleavings of every operation (schedules near and far, in the past, at `u64::MAX`;
//! cancels and reschedules of live and stale handles; pops, conditional pops, peeks, reserved
//! sequence numbers), with the wheel's internal invariants checked after each step. Written to
//! review the queue's fast paths (direct pop from a higher level, the floor, inlined schedule
//! and cancel); each of several deliberate breakages of them was caught within 300 cases.
//! `TCPSIM_QUEUE_CASES=30000` runs it harder.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

impl<E> EventQueue<E> {
    /// Full structural check.
    fn check(&self) {
        let mut pending = 0usize;
        let mut min: Option<(u64, u64, u32)> = None;
        let mut seen = vec![false; self.slab.len()];
        let mut lv_occ = 0u16;
        for l in 0..LEVELS {
            let mut occ = 0u64;
            for s in 0..SLOTS {
                let list = self.lists[l][s];
                if list.head == NIL {
                    assert_eq!(list.tail, NIL);
                    continue;
                }
                occ |= 1 << s;
                let mut prev = NIL;
                let mut cur = list.head;
                let mut last_by_time: BTreeMap<u64, u64> = BTreeMap::new();
                while cur != NIL {
                    let e = &self.slab[cur as usize];
                    assert!(e.event.is_some(), "linked entry without event");
                    assert_eq!(e.prev, prev, "prev link");
                    assert_eq!(
                        place(self.now_ns, e.time_ns),
                        (l, s),
                        "entry at wrong place"
                    );
                    assert!(e.time_ns >= self.now_ns);
                    assert!(!seen[cur as usize]);
                    seen[cur as usize] = true;
                    // FIFO within a slot for equal times
                    if let Some(&ps) = last_by_time.get(&e.time_ns) {
                        assert!(ps < e.seq, "fifo in slot");
                    }
                    last_by_time.insert(e.time_ns, e.seq);
                    pending += 1;
                    let k = (e.time_ns, e.seq, cur);
                    if min.is_none_or(|m| (k.0, k.1) < (m.0, m.1)) {
                        min = Some(k);
                    }
                    prev = cur;
                    cur = e.next;
                }
                assert_eq!(list.tail, prev);
            }
            assert_eq!(occ, self.occupied[l]);
            if occ != 0 {
                lv_occ |= 1 << l;
            }
        }
        assert_eq!(lv_occ, self.levels_occupied);
        assert_eq!(pending, self.len());
        // free list
        let mut cur = self.free_head;
        let mut free = 0;
        while cur != NIL {
            assert!(!seen[cur as usize], "free entry is linked");
            seen[cur as usize] = true;
            assert!(self.slab[cur as usize].event.is_none());
            free += 1;
            cur = self.slab[cur as usize].next;
        }
        assert_eq!(free + pending, self.slab.len());
        assert!(self.slab.len() <= self.max_pending);
        if let Some((mt, _, mi)) = min {
            assert!(
                self.floor_ns <= mt,
                "floor {} above min {}",
                self.floor_ns,
                mt
            );
            if self.min_index != NIL {
                assert_eq!(self.min_index, mi, "cached min wrong");
                assert_eq!(self.floor_ns, mt, "floor not exact with cached min");
            }
        } else {
            assert_eq!(self.min_index, NIL);
        }
        assert!(self.floor_ns >= self.now_ns);
    }
}

#[derive(Debug, Clone)]
enum Op {
    Sched(u64),
    SchedAbs(u64),
    Cancel(usize),
    Resched(usize, u64),
    Pop,
    PopBefore(u64, u64),
    PopBeforeAbs(u64, u64),
    PopUntil(u64),
    PeekKey,
    Reserve,
}

fn delta() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => Just(0u64),
        2 => 0..64u64,
        3 => (0..11u32, 0..3u64).prop_map(|(l, k)| (1u64 << (6 * l)).saturating_mul(k + 1)),
        2 => (0..11u32, any::<u64>()).prop_map(|(l, r)| {
            let base = 1u64 << (6 * l);
            base.wrapping_sub(1).wrapping_add(r % 3)
        }),
        2 => (0..64u32, any::<u64>()).prop_map(|(b, r)| r >> b),
        1 => Just(u64::MAX),
        1 => (0..4u64).prop_map(|k| u64::MAX - k),
    ]
}

fn abs_time() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        (0..4u64).prop_map(|k| u64::MAX - k),
        (0..16u64, 0..3u64).prop_map(|(s, k)| (s << 60).wrapping_add(k)),
        (0..16u64, 0..3u64).prop_map(|(s, k)| (s << 60).wrapping_sub(k)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => delta().prop_map(Op::Sched),
        1 => abs_time().prop_map(Op::SchedAbs),
        3 => any::<usize>().prop_map(Op::Cancel),
        3 => (any::<usize>(), delta()).prop_map(|(i, d)| Op::Resched(i, d)),
        3 => Just(Op::Pop),
        3 => (delta(), any::<u64>()).prop_map(|(d, s)| Op::PopBefore(d, s)),
        1 => (abs_time(), any::<u64>()).prop_map(|(d, s)| Op::PopBeforeAbs(d, s)),
        1 => delta().prop_map(Op::PopUntil),
        1 => Just(Op::PeekKey),
        1 => Just(Op::Reserve),
    ]
}

/// Checks what scheduling an event at `at` returned (a reschedule, once its old entry has left
/// the model) against what the model says it must: the error, or a handle with the next
/// sequence number, which it returns.
fn expect_scheduled(
    r: Result<EventHandle, ScheduleError>,
    at: u64,
    now: u64,
    pending: usize,
    limit: usize,
    next_seq: u64,
) -> Option<EventHandle> {
    if at < now {
        let want = ScheduleError::InPast {
            at: SimTime::from_nanos(at),
            now: SimTime::from_nanos(now),
        };
        assert_eq!(r, Err(want));
        None
    } else if pending >= limit.min(MAX_LIMIT) {
        let want = ScheduleError::TooManyPending {
            limit: limit.min(MAX_LIMIT),
        };
        assert_eq!(r, Err(want));
        None
    } else {
        let h = r.expect("scheduled");
        assert_eq!(h.seq(), next_seq);
        Some(h)
    }
}

fn run_ops(ops: &[Op], limit: usize) {
    let mut q: EventQueue<u64> = EventQueue::with_limit(limit);
    let mut model: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    let mut handles: Vec<(EventHandle, u64, u64)> = Vec::new();
    let mut next_seq = 0u64;
    let mut sched = 0u64;
    let mut popped = 0u64;
    let mut now = 0u64;
    let mut id = 0u64;
    let pop_model = |model: &mut BTreeMap<(u64, u64), u64>, bound: (u64, u64)| {
        let (&k, _) = model.iter().next()?;
        if k < bound {
            model.remove(&k).map(|v| (k, v))
        } else {
            None
        }
    };
    for op in ops {
        match *op {
            Op::Sched(_) | Op::SchedAbs(_) => {
                let at = match *op {
                    Op::Sched(d) => now.saturating_add(d),
                    Op::SchedAbs(a) => a,
                    _ => unreachable!(),
                };
                id += 1;
                let r = q.schedule(SimTime::from_nanos(at), id);
                if let Some(h) = expect_scheduled(r, at, now, model.len(), limit, next_seq) {
                    model.insert((at, next_seq), id);
                    handles.push((h, at, next_seq));
                    next_seq += 1;
                    sched += 1;
                }
            }
            Op::Cancel(i) => {
                if !handles.is_empty() {
                    let (h, at, s) = handles[i % handles.len()];
                    let got = q.cancel(h);
                    assert_eq!(got, model.remove(&(at, s)));
                }
            }
            Op::Resched(i, d) => {
                // cancel + schedule, in the model.
                if !handles.is_empty() {
                    let k = i % handles.len();
                    let (h, old_at, old_s) = handles[k];
                    // Now and then into the past.
                    let at = if d % 7 == 3 {
                        now.wrapping_sub(1)
                    } else {
                        now.saturating_add(d)
                    };
                    id += 1;
                    let r = q.reschedule(h, SimTime::from_nanos(at), id);
                    model.remove(&(old_at, old_s));
                    if let Some(h) = expect_scheduled(r, at, now, model.len(), limit, next_seq) {
                        model.insert((at, next_seq), id);
                        handles.push((h, at, next_seq));
                        next_seq += 1;
                        sched += 1;
                    }
                }
            }
            Op::Pop => {
                let got = q.pop_keyed();
                let want = pop_model(&mut model, (u64::MAX, u64::MAX));
                assert_eq!(got.map(|(t, s, e)| ((t.as_nanos(), s), e)), want);
                if let Some(((t, _), _)) = want {
                    now = t;
                    popped += 1;
                }
            }
            Op::PopBefore(..) | Op::PopBeforeAbs(..) | Op::PopUntil(_) => {
                let (bt, bs) = match *op {
                    Op::PopBefore(d, s) => (now.saturating_add(d), s % (next_seq + 3)),
                    Op::PopBeforeAbs(a, s) => (a, s % (next_seq + 3)),
                    Op::PopUntil(d) => (now.saturating_add(d), u64::MAX),
                    _ => unreachable!(),
                };
                let got = if bs == u64::MAX {
                    q.pop_until(SimTime::from_nanos(bt))
                } else {
                    q.pop_before(SimTime::from_nanos(bt), bs)
                };
                let want = pop_model(&mut model, (bt, bs));
                assert_eq!(
                    got.map(|(t, e)| (t.as_nanos(), e)),
                    want.map(|((t, _), e)| (t, e)),
                    "{op:?}"
                );
                if let Some(((t, _), _)) = want {
                    now = t;
                    popped += 1;
                }
            }
            Op::PeekKey => {
                let got = q.peek_key().map(|(t, s)| (t.as_nanos(), s));
                assert_eq!(got, model.keys().next().copied());
                assert_eq!(
                    q.peek_time().map(|t| t.as_nanos()),
                    model.keys().next().map(|k| k.0)
                );
            }
            Op::Reserve => {
                assert_eq!(q.reserve_seq(), next_seq);
                next_seq += 1;
            }
        }
        q.check();
        assert_eq!(q.len(), model.len());
        assert_eq!(q.now().as_nanos(), now);
        assert_eq!(q.scheduled_total(), sched);
        assert_eq!(q.popped_total(), popped);
    }
    // drain
    while let Some((t, s, e)) = q.pop_keyed() {
        let want = pop_model(&mut model, (u64::MAX, u64::MAX));
        assert_eq!(Some(((t.as_nanos(), s), e)), want);
        q.check();
    }
    assert!(model.is_empty());
    assert_eq!(q.reserve_seq(), next_seq);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("TCPSIM_QUEUE_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(256), ..ProptestConfig::default() })]
    #[test]
    fn matches_a_sorted_map(ops in proptest::collection::vec(op(), 1..300)) {
        run_ops(&ops, 1 << 20);
    }
    #[test]
    fn matches_a_sorted_map_under_small_limits(ops in proptest::collection::vec(op(), 1..200), limit in 0usize..6) {
        run_ops(&ops, limit);
    }
}

#[test]
fn matches_a_sorted_map_over_a_long_seeded_run() {
    let mut rng = crate::SimRng::stream(99, 1, 2, 3);
    let mut ops = Vec::new();
    for step in 0..60_000u64 {
        let grow = if (step / 5_000) % 2 == 0 { 7 } else { 3 };
        let l = rng.below(11) as u32;
        let d = match rng.below(4) {
            0 => 0,
            1 => rng.below(64),
            2 => (1u64 << (6 * l)).saturating_mul(1 + rng.below(3)),
            _ => rng.next_u64() >> rng.below(64),
        };
        let k = rng.below(12);
        ops.push(if k < grow {
            Op::Sched(d)
        } else {
            match k {
                7 | 8 => Op::Cancel(rng.next_u64() as usize),
                9 => Op::PopBefore(d, rng.next_u64()),
                10 => Op::PeekKey,
                _ => Op::Pop,
            }
        });
    }
    run_ops(&ops, 1 << 20);
}

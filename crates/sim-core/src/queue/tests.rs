use super::*;
use crate::SimRng;

fn t(ns: u64) -> SimTime {
    SimTime::from_nanos(ns)
}

fn drain<E>(q: &mut EventQueue<E>) -> Vec<(u64, E)> {
    let mut out = Vec::new();
    while let Some((at, ev)) = q.pop() {
        out.push((at.as_nanos(), ev));
    }
    out
}

#[test]
fn entry_is_32_bytes_plus_payload() {
    assert_eq!(std::mem::size_of::<Entry<u64>>(), 40);
    assert_eq!(std::mem::size_of::<EventHandle>(), 12);
    assert_eq!(std::mem::align_of::<EventHandle>(), 4);
    #[allow(dead_code)]
    enum Ev {
        A(u32),
        B(u32),
    }
    // An event enum's spare niche absorbs the Option tag.
    assert_eq!(std::mem::size_of::<Entry<Ev>>(), 32);
}

#[test]
fn level_and_slot_arithmetic() {
    assert_eq!(level_for(0, 0), 0);
    assert_eq!(level_for(0, 63), 0);
    assert_eq!(level_for(0, 64), 1);
    assert_eq!(level_for(63, 64), 1);
    assert_eq!(level_for(0, u64::MAX), LEVELS - 1);
    assert_eq!(slot_for(u64::MAX, LEVELS - 1), 15);
    assert_eq!(slot_start(0, 1, 3), 3 * 64);
    assert_eq!(slot_start(5, 0, 9), 9);
    assert_eq!(slot_start(123, LEVELS - 1, 15), 15 << 60);
    assert_eq!(low_mask(0), 0);
    assert_eq!(low_mask(1), 63);
    assert_eq!(low_mask(LEVELS), u64::MAX);
}

#[test]
fn place_agrees_with_level_and_slot() {
    let mut rng = SimRng::stream(7, 0, 0, 0);
    for i in 0..100_000u64 {
        let cursor = rng.next_u64() >> (i % 64);
        let t = cursor.saturating_add(rng.next_u64() >> (rng.next_u64() % 64));
        for (c, t) in [(cursor, t), (0, t), (t, t), (cursor, u64::MAX)] {
            let level = level_for(c, t);
            assert_eq!(place(c, t), (level, slot_for(t, level)), "{c} {t}");
        }
    }
}

#[test]
fn equal_times_pop_fifo_across_levels_and_cascades() {
    let mut q = EventQueue::new();
    // The same far-future instant scheduled from several cursor positions, so the copies sit at
    // different levels and are cascaded at different moments.
    let target = 5_000_000_000u64;
    let mut id = 0u32;
    let mut expected = Vec::new();
    for step in [
        0u64,
        1_000,
        4_000_000,
        4_999_999_000,
        4_999_999_990,
        target - 1,
    ] {
        // A marker event moves the cursor to `step`.
        q.schedule(t(step), u32::MAX).unwrap();
        assert_eq!(q.pop_until(t(step)), Some((t(step), u32::MAX)));
        assert_eq!(q.pop_until(t(step)), None);
        for _ in 0..3 {
            q.schedule(t(target), id).unwrap();
            expected.push(id);
            id += 1;
        }
    }
    let got: Vec<u32> = drain(&mut q).into_iter().map(|(_, e)| e).collect();
    assert_eq!(got, expected);
}

#[test]
fn scheduling_at_now_is_allowed_and_fifo() {
    let mut q = EventQueue::new();
    q.schedule(t(10), 0).unwrap();
    assert_eq!(q.pop(), Some((t(10), 0)));
    q.schedule(t(10), 1).unwrap();
    q.schedule_in(SimDuration::ZERO, 2).unwrap();
    assert_eq!(q.pop(), Some((t(10), 1)));
    assert_eq!(q.pop(), Some((t(10), 2)));
    assert_eq!(q.pop(), None);
    assert_eq!(q.now(), t(10));
}

#[test]
fn scheduling_in_the_past_is_an_error() {
    let mut q = EventQueue::new();
    q.schedule(t(100), ()).unwrap();
    q.pop();
    let err = q.schedule(t(99), ()).unwrap_err();
    assert_eq!(
        err,
        ScheduleError::InPast {
            at: t(99),
            now: t(100)
        }
    );
    assert!(err.to_string().contains("in the past"), "{err}");
    assert_eq!(q.len(), 0);
    assert_eq!(q.scheduled_total(), 1);
}

#[test]
fn pending_limit_is_enforced_and_frees_up() {
    let mut q = EventQueue::with_limit(2);
    let a = q.schedule(t(1), 'a').unwrap();
    q.schedule(t(2), 'b').unwrap();
    assert_eq!(
        q.schedule(t(3), 'c'),
        Err(ScheduleError::TooManyPending { limit: 2 })
    );
    q.cancel(a);
    q.schedule(t(3), 'c').unwrap();
    assert_eq!(q.len(), 2);
    // The free list is empty again, so the limit is checked on the slab-growing path; a
    // refusal takes no sequence number.
    let seq = q.reserve_seq();
    assert_eq!(
        q.schedule(t(4), 'd'),
        Err(ScheduleError::TooManyPending { limit: 2 })
    );
    assert_eq!(q.reserve_seq(), seq + 1);
    assert_eq!(
        EventQueue::<()>::with_limit(usize::MAX).max_pending(),
        MAX_LIMIT
    );
    assert_eq!(EventQueue::<()>::new().max_pending(), DEFAULT_MAX_PENDING);
}

#[test]
fn cancel_returns_the_event_once() {
    let mut q = EventQueue::new();
    let a = q.schedule(t(5), "a").unwrap();
    let b = q.schedule(t(5), "b").unwrap();
    let c = q.schedule(t(1 << 40), "c").unwrap();
    assert_eq!(q.cancel(a), Some("a"));
    assert_eq!(q.cancel(a), None);
    assert_eq!(q.cancel(c), Some("c"));
    assert_eq!(q.len(), 1);
    assert_eq!(q.pop(), Some((t(5), "b")));
    assert_eq!(q.cancel(b), None, "popped events cannot be cancelled");
    assert!(q.is_empty());
}

#[test]
fn stale_handle_after_slot_reuse_returns_none() {
    let mut q = EventQueue::new();
    let old = q.schedule(t(7), 1).unwrap();
    assert_eq!(q.cancel(old), Some(1));
    let new = q.schedule(t(8), 2).unwrap();
    assert_eq!(new.index, old.index, "the freed entry is reused");
    assert_ne!(new, old);
    assert_eq!(q.cancel(old), None);
    assert_eq!(q.len(), 1);
    assert_eq!(q.pop(), Some((t(8), 2)));
    // A handle from nowhere is harmless too.
    let bogus = EventHandle::new(12345, 0);
    assert_eq!(q.cancel(bogus), None);
}

#[test]
fn cancel_in_a_higher_level_slot_keeps_the_rest_in_order() {
    let mut q = EventQueue::new();
    let hs: Vec<_> = (0..10u64)
        .map(|i| q.schedule(t(1_000_000 + i % 3), i).unwrap())
        .collect();
    q.cancel(hs[0]);
    q.cancel(hs[4]);
    q.cancel(hs[9]);
    let got = drain(&mut q);
    assert_eq!(
        got,
        vec![
            (1_000_000, 3),
            (1_000_000, 6),
            (1_000_001, 1),
            (1_000_001, 7),
            (1_000_002, 2),
            (1_000_002, 5),
            (1_000_002, 8),
        ]
    );
}

#[test]
fn pop_until_leaves_later_events_and_changes_nothing() {
    let mut q = EventQueue::new();
    q.schedule(t(10), 'a').unwrap();
    q.schedule(t(1_000_000), 'b').unwrap();
    q.schedule(t(1_000_000_000), 'c').unwrap();
    assert_eq!(q.pop_until(t(9)), None);
    assert_eq!(q.now(), SimTime::ZERO);
    assert_eq!(q.pop_until(t(10)), Some((t(10), 'a')));
    // The limit falls inside b's higher-level slot, before b itself.
    assert_eq!(q.pop_until(t(999_999)), None);
    assert_eq!(q.pop_until(t(999_999)), None);
    assert_eq!(q.now(), t(10));
    assert_eq!(q.len(), 2);
    // Nothing moved: an event between now and the probed slot is still accepted and first.
    q.schedule(t(11), 'd').unwrap();
    assert_eq!(q.peek_time(), Some(t(11)));
    assert_eq!(q.pop_until(t(1_000_000)), Some((t(11), 'd')));
    assert_eq!(q.pop_until(t(1_000_000)), Some((t(1_000_000), 'b')));
    assert_eq!(q.pop_until(t(1_000_000)), None);
    assert_eq!(q.pop_until(SimTime::MAX), Some((t(1_000_000_000), 'c')));
    assert_eq!(q.pop_until(SimTime::MAX), None);
    assert_eq!(q.popped_total(), 4);
}

#[test]
fn peek_time_is_exact_and_tracks_schedule_and_cancel() {
    let mut q = EventQueue::new();
    assert_eq!(q.peek_time(), None);
    let far = q.schedule(t(3_600_000_000_123), 0).unwrap();
    assert_eq!(q.peek_time(), Some(t(3_600_000_000_123)));
    let near = q.schedule(t(3_600_000_000_000), 1).unwrap();
    assert_eq!(q.peek_time(), Some(t(3_600_000_000_000)));
    q.cancel(near);
    assert_eq!(q.peek_time(), Some(t(3_600_000_000_123)));
    q.cancel(far);
    assert_eq!(q.peek_time(), None);
    assert_eq!(q.now(), SimTime::ZERO);
}

#[test]
fn never_is_a_valid_time() {
    let mut q = EventQueue::new();
    q.schedule(SimTime::MAX, 'z').unwrap();
    q.schedule_in(SimDuration::MAX, 'y').unwrap();
    q.schedule(t(u64::MAX - 1), 'x').unwrap();
    assert_eq!(q.pop(), Some((t(u64::MAX - 1), 'x')));
    assert_eq!(q.pop(), Some((SimTime::MAX, 'z')));
    assert_eq!(q.pop(), Some((SimTime::MAX, 'y')));
    assert_eq!(q.now(), SimTime::MAX);
    q.schedule_in(SimDuration::from_secs(1), 'w').unwrap();
    assert_eq!(q.pop(), Some((SimTime::MAX, 'w')));
}

#[test]
fn run_stops_at_each_limit() {
    // Each event schedules the next one 1 ms later, forever.
    let tick = |q: &mut EventQueue<u32>, _at: SimTime, n: u32| {
        q.schedule_in(SimDuration::from_millis(1), n + 1).unwrap();
    };

    let mut q = EventQueue::new();
    q.schedule(SimTime::ZERO, 0).unwrap();
    let limits = RunLimits {
        until: SimTime::MAX,
        max_events: 5,
    };
    assert_eq!(run(&mut q, limits, tick), StopReason::EventLimit);
    assert_eq!(q.popped_total(), 5);
    assert_eq!(q.now(), SimTime::ZERO + SimDuration::from_millis(4));

    let stop = run(&mut q, RunLimits::until(t(10_500_000)), tick);
    assert_eq!(stop, StopReason::TimeLimit);
    assert_eq!(q.now(), t(10_000_000));
    assert_eq!(q.peek_time(), Some(t(11_000_000)));

    let mut q = EventQueue::new();
    for i in 0..3 {
        q.schedule(t(i), i as u32).unwrap();
    }
    let mut seen = Vec::new();
    let stop = run(&mut q, RunLimits::UNLIMITED, |_, at, ev| {
        seen.push((at.as_nanos(), ev))
    });
    assert_eq!(stop, StopReason::Exhausted);
    assert_eq!(seen, vec![(0, 0), (1, 1), (2, 2)]);
    // Empty wins over a limit that is also reached.
    let limits = RunLimits {
        until: SimTime::ZERO,
        max_events: 0,
    };
    assert_eq!(run(&mut q, limits, |_, _, _| {}), StopReason::Exhausted);
}

#[test]
fn run_handler_may_cancel() {
    let mut q = EventQueue::new();
    let victim = q.schedule(t(50), "victim").unwrap();
    q.schedule(t(10), "killer").unwrap();
    let mut seen = Vec::new();
    run(&mut q, RunLimits::UNLIMITED, |q, _, ev| {
        seen.push(ev);
        if ev == "killer" {
            assert_eq!(q.cancel(victim), Some("victim"));
        }
    });
    assert_eq!(seen, vec!["killer"]);
}

#[test]
fn steady_state_does_not_grow_the_slab() {
    let mut q = EventQueue::new();
    let mut rng = SimRng::stream(1, 0, 0, 0);
    for i in 0..10_000u64 {
        q.schedule(t(rng.below(1_000_000_000)), i).unwrap();
    }
    // Warm up so the slab reaches its steady size, then check it stays put.
    let mut churn = |q: &mut EventQueue<u64>, rounds: u64| {
        for i in 0..rounds {
            let (_, ev) = q.pop().unwrap();
            let h = q
                .schedule_in(SimDuration::from_nanos(rng.below(1_000_000_000)), ev)
                .unwrap();
            if i % 3 == 0 {
                q.cancel(h);
                q.schedule_in(SimDuration::from_nanos(rng.below(1_000)), ev)
                    .unwrap();
            }
        }
    };
    churn(&mut q, 1_000);
    let capacity = q.capacity();
    churn(&mut q, 50_000);
    assert_eq!(q.capacity(), capacity);
    assert_eq!(q.len(), 10_000);
}

/// Schedules `n` events at random times (many duplicates), interleaved with pops, and checks
/// that the output is sorted by (time, schedule order) and complete.
fn bulk_order_check(n: u64, seed: u64) {
    let mut q = EventQueue::new();
    let mut rng = SimRng::stream(seed, 0, 0, 0);
    let mut next_id = 0u64;
    let mut add = |q: &mut EventQueue<u64>, rng: &mut SimRng| {
        let delay_ns = match rng.below(4) {
            0 => rng.below(64),
            1 => rng.below(1_000_000),
            2 => rng.below(20) * 1_000_000_000,
            _ => rng.below(3_600_000_000_000),
        };
        q.schedule_in(SimDuration::from_nanos(delay_ns), next_id)
            .unwrap();
        next_id += 1;
    };
    for _ in 0..n {
        add(&mut q, &mut rng);
    }
    assert_eq!(q.len() as u64, n);
    let mut last = (0u64, 0u64);
    let mut popped = 0u64;
    // Half-way, keep the queue full for a while: every pop schedules a new event.
    for _ in 0..n / 2 {
        let (at, id) = q.pop().unwrap();
        assert!(
            (at.as_nanos(), id) > last || popped == 0,
            "{last:?} then {at:?},{id}"
        );
        last = (at.as_nanos(), id);
        popped += 1;
        add(&mut q, &mut rng);
    }
    while let Some((at, id)) = q.pop() {
        let now = (at.as_nanos(), id);
        // Equal times must come out in id (= schedule) order.
        assert!(now > last, "{last:?} then {now:?}");
        last = now;
        popped += 1;
    }
    assert_eq!(popped, n + n / 2);
    assert_eq!(q.popped_total(), popped);
}

#[test]
fn two_hundred_thousand_pending_events_pop_in_order() {
    bulk_order_check(200_000, 7);
}

#[test]
#[ignore = "about 6 s in debug, 2 s in release; run with --ignored"]
fn two_million_pending_events_pop_in_order() {
    bulk_order_check(2_000_000, 8);
}

#[test]
fn reserve_seq_shares_the_counter_but_is_not_an_event() {
    let mut q = EventQueue::new();
    let a = q.schedule(t(5), 'a').unwrap();
    assert_eq!(q.reserve_seq(), 1);
    let b = q.schedule(t(5), 'b').unwrap();
    assert_eq!(q.reserve_seq(), 3);
    assert_eq!((a.seq(), b.seq()), (0, 2));
    assert_eq!(q.scheduled_total(), 2);
    assert_eq!(q.len(), 2);
    // A refused schedule takes no number.
    let mut small = EventQueue::with_limit(0);
    assert!(small.schedule(t(1), ()).is_err());
    assert_eq!(small.reserve_seq(), 0);
    assert_eq!(q.pop_keyed(), Some((t(5), 0, 'a')));
    assert_eq!(q.pop_keyed(), Some((t(5), 2, 'b')));
    assert_eq!(q.pop_keyed(), None);
}

/// An external FIFO entry and a queued event at the same instant, in both stamping orders, for
/// an instant in the cursor's level-0 block and one far enough to sit in a higher-level slot.
#[test]
fn ties_with_an_external_entry_go_by_seq() {
    for at_ns in [7u64, 3_600_000_000_007] {
        // External entry stamped first: it goes first, then the event.
        let mut q = EventQueue::new();
        let ext = q.reserve_seq();
        q.schedule(t(at_ns), 'q').unwrap();
        assert_eq!(q.pop_before(t(at_ns), ext), None, "at {at_ns}");
        assert_eq!(q.now(), SimTime::ZERO, "a refused pop moves nothing");
        assert_eq!(q.peek_key(), Some((t(at_ns), 1)));
        assert_eq!(q.pop_before(SimTime::MAX, u64::MAX), Some((t(at_ns), 'q')));

        // Event scheduled first: it goes first, even though the external key has the same time.
        let mut q = EventQueue::new();
        q.schedule(t(at_ns), 'q').unwrap();
        let ext = q.reserve_seq();
        assert_eq!(
            q.pop_before(t(at_ns), ext),
            Some((t(at_ns), 'q')),
            "at {at_ns}"
        );
        assert_eq!(q.pop_before(t(at_ns), ext), None);

        // Same on the reference model.
        let mut h = HeapQueue::new();
        let ext = h.reserve_seq();
        h.schedule(t(at_ns), 'q').unwrap();
        assert_eq!(h.pop_before(t(at_ns), ext), None);
        assert_eq!(h.peek_key(), Some((t(at_ns), 1)));
        let ext = h.reserve_seq();
        assert_eq!(h.pop_before(t(at_ns), ext), Some((t(at_ns), 'q')));
    }
}

#[test]
fn pop_before_is_strict_and_exact_inside_a_higher_level_slot() {
    let mut q = EventQueue::new();
    // Both in one level-3 slot (2^18 ns wide), so the bound straddles the slot.
    let a = q.schedule(t(1_000_100), 'a').unwrap();
    q.schedule(t(1_000_000), 'b').unwrap();
    assert_eq!(
        q.pop_before(t(1_000_000), 1),
        None,
        "equal key is not below"
    );
    assert_eq!(q.pop_before(t(999_999), u64::MAX), None);
    assert_eq!(q.pop_before(t(1_000_000), 2), Some((t(1_000_000), 'b')));
    assert_eq!(q.peek_key(), Some((t(1_000_100), a.seq())));
    // The whole slot below the bound.
    assert_eq!(q.pop_before(t(1 << 40), 0), Some((t(1_000_100), 'a')));
    assert_eq!(q.pop_before(SimTime::MAX, u64::MAX), None);
}

/// peek_key on an event in a higher-level slot must not move the cursor: events scheduled
/// afterwards between now and the peeked time, including inside the same slot, still come first.
#[test]
fn peek_key_leaves_room_for_earlier_schedules() {
    let mut q = EventQueue::new();
    q.schedule(t(10), 'x').unwrap();
    assert_eq!(q.pop(), Some((t(10), 'x')));
    let far = q.schedule(t(5_000_000_000), 'f').unwrap();
    assert_eq!(q.peek_key(), Some((t(5_000_000_000), far.seq())));
    let mid = q.schedule(t(4_999_999_999), 'm').unwrap();
    assert_eq!(q.peek_key(), Some((t(4_999_999_999), mid.seq())));
    let near = q.schedule(t(11), 'n').unwrap();
    assert_eq!(q.peek_key(), Some((t(11), near.seq())));
    // Cancelling the cached minimum falls back to the next one.
    assert_eq!(q.cancel(near), Some('n'));
    assert_eq!(q.peek_key(), Some((t(4_999_999_999), mid.seq())));
    assert_eq!(q.now(), t(10));
    q.schedule(t(10), 'z').unwrap();
    let got = drain(&mut q);
    assert_eq!(
        got,
        vec![(10, 'z'), (4_999_999_999, 'm'), (5_000_000_000, 'f')]
    );
}

/// A pop cascades onto the cached minimum rather than the slot start; everything else in the
/// slot, and later schedules into its range, must still come out in (time, seq) order.
#[test]
fn cascade_onto_the_minimum_keeps_order() {
    let mut q = EventQueue::new();
    let base = 1u64 << 30;
    let times = [
        base + 900,
        base + 5,
        base + 900,
        base + 64,
        base + 5,
        base + 70_000,
    ];
    for (i, &at) in times.iter().enumerate() {
        q.schedule(t(at), i).unwrap();
    }
    assert_eq!(q.peek_time(), Some(t(base + 5)));
    assert_eq!(q.pop(), Some((t(base + 5), 1)));
    // Between the cursor and entries the cascade placed above level 0.
    q.schedule(t(base + 6), 6).unwrap();
    q.schedule(t(base + 900), 7).unwrap();
    q.schedule(t(base + 5), 8).unwrap();
    let got = drain(&mut q);
    assert_eq!(
        got,
        vec![
            (base + 5, 4),
            (base + 5, 8),
            (base + 6, 6),
            (base + 64, 3),
            (base + 900, 0),
            (base + 900, 2),
            (base + 900, 7),
            (base + 70_000, 5),
        ]
    );
}

/// The floor (a lower bound on the earliest time) answers conditional pops that come too early;
/// schedules before it, at it, and after a cancelled minimum must still pop in key order.
#[test]
fn floor_tracks_schedules_cancels_and_conditional_pops() {
    let mut q = EventQueue::new();
    let base = 1u64 << 30;
    let a = q.schedule(t(base + 1000), 'a').unwrap();
    q.schedule(t(base + 2000), 'b').unwrap();
    // Too early: the floor rises to the start of the slot holding both.
    assert_eq!(q.pop_before(t(10), u64::MAX), None);
    // Before the floor, so the new minimum; equal keys are not "below".
    let c = q.schedule(t(20), 'c').unwrap();
    assert_eq!(q.pop_before(t(20), c.seq()), None);
    assert_eq!(q.pop_before(t(20), c.seq() + 1), Some((t(20), 'c')));
    // The minimum is cached (and the floor is its time) ...
    assert_eq!(q.peek_key(), Some((t(base + 1000), a.seq())));
    assert_eq!(q.pop_before(t(base + 999), u64::MAX), None);
    // ... then cancelled: the floor stays below everything left, including newcomers at it
    // and just after it.
    assert_eq!(q.cancel(a), Some('a'));
    let d = q.schedule(t(base + 1000), 'd').unwrap();
    q.schedule(t(base + 1001), 'e').unwrap();
    assert_eq!(q.pop_before(t(base + 1000), d.seq()), None);
    q.schedule(t(base + 999), 'f').unwrap();
    assert_eq!(
        q.pop_before(t(base + 1000), d.seq()),
        Some((t(base + 999), 'f'))
    );
    assert_eq!(q.pop_before(t(base + 1000), d.seq()), None);
    assert_eq!(q.pop_until(t(base + 1000)), Some((t(base + 1000), 'd')));
    assert_eq!(drain(&mut q), vec![(base + 1001, 'e'), (base + 2000, 'b')]);
    assert_eq!(q.pop_before(SimTime::MAX, u64::MAX), None);
    q.schedule(t(base + 3000), 'g').unwrap();
    assert_eq!(
        q.pop_before(t(base + 3000), u64::MAX),
        Some((t(base + 3000), 'g'))
    );
}

/// A rescheduled event orders as one scheduled at that moment: behind every event already
/// pending at its new time, ahead of those scheduled later; it keeps its slab entry; the old
/// handle goes stale; and the counters read as a cancel plus a schedule.
#[test]
fn reschedule_orders_as_a_fresh_schedule() {
    let mut q = EventQueue::new();
    let a = q.schedule(t(1 << 30), "a").unwrap();
    q.schedule(t(500), "b").unwrap();
    let moved = q.reschedule(a, t(500), "a2").unwrap();
    assert_eq!(moved.index, a.index, "the entry is reused");
    assert!(moved.seq() > a.seq());
    q.schedule(t(500), "c").unwrap();
    assert_eq!(q.cancel(a), None, "the old handle is stale");
    assert_eq!((q.len(), q.scheduled_total()), (3, 4));
    assert_eq!(q.peek_key(), Some((t(500), 1)));
    assert_eq!(drain(&mut q), vec![(500, "b"), (500, "a2"), (500, "c")]);

    // Moving the cached minimum later, and another event earlier than everything.
    let mut q = EventQueue::new();
    let x = q.schedule(t(100), 1).unwrap();
    let y = q.schedule(t(1 << 20), 2).unwrap();
    assert_eq!(q.peek_time(), Some(t(100)));
    let x = q.reschedule(x, t(1 << 21), 3).unwrap();
    assert_eq!(q.peek_time(), Some(t(1 << 20)));
    q.reschedule(y, t(7), 4).unwrap();
    assert_eq!(q.pop_until(t(6)), None);
    assert_eq!(drain(&mut q), vec![(7, 4), (1 << 21, 3)]);
    assert_eq!(q.cancel(x), None);
}

/// With a stale handle it schedules the event; into the past it still cancels.
#[test]
fn reschedule_of_a_stale_handle_or_into_the_past() {
    let mut q = EventQueue::new();
    let a = q.schedule(t(10), "a").unwrap();
    assert_eq!(q.pop(), Some((t(10), "a")));
    let b = q.reschedule(a, t(20), "b").unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(
        q.reschedule(b, t(5), "c"),
        Err(ScheduleError::InPast {
            at: t(5),
            now: t(10)
        })
    );
    assert!(
        q.is_empty(),
        "the event is cancelled as by cancel + schedule"
    );
    assert_eq!(q.pop(), None);
}

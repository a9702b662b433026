//! A fixed, deterministic queue workload for instruction-level profiling (callgrind), shaped
//! like the engine's: with `PENDING` events queued, pop the earliest and schedule a replacement
//! (half of them ~10 ms ahead like a link delivery, the rest timer-like up to a minute), and
//! re-arm (schedule + cancel) a quarter of the time, as a retransmission timer does.
//!
//! `cargo build --release -p sim-core --example queue_hold` then
//! `valgrind --tool=callgrind target/release/examples/queue_hold [ops] [pending]`; the `#[inline(never)]`
//! wrappers give per-call inclusive costs of `pop`, `schedule` and `cancel`.

use std::hint::black_box;

use sim_core::{EventHandle, EventQueue, SimDuration, SimRng, SimTime};

/// Default number of pending events; the second argument overrides it.
const PENDING: u64 = 20_000;

fn delay(rng: &mut SimRng) -> SimDuration {
    match rng.below(4) {
        0 | 1 => SimDuration::from_nanos(10_000_000 + rng.below(1_000)),
        2 => SimDuration::from_millis(200 + rng.below(800)),
        _ => SimDuration::from_nanos(1_000 + rng.below(60_000_000_000)),
    }
}

#[inline(never)]
fn do_pop(q: &mut EventQueue<u64>) -> Option<(SimTime, u64)> {
    q.pop()
}

#[inline(never)]
fn do_schedule(q: &mut EventQueue<u64>, at: SimTime, ev: u64) -> EventHandle {
    q.schedule(at, ev).expect("within limits")
}

#[inline(never)]
fn do_cancel(q: &mut EventQueue<u64>, h: EventHandle) -> Option<u64> {
    q.cancel(h)
}

fn main() {
    let ops: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let pending: u64 = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(PENDING);
    let mut rng = SimRng::stream(42, 0, 0, 0);
    let mut q = EventQueue::new();
    for i in 0..pending {
        let at = SimTime::ZERO + delay(&mut rng);
        do_schedule(&mut q, at, i);
    }
    let mut sum = 0u64;
    for i in 0..ops {
        let (t, ev) = do_pop(&mut q).expect("the queue stays full");
        sum = sum.wrapping_add(ev);
        if i % 4 == 0 {
            let h = do_schedule(&mut q, t + delay(&mut rng), ev);
            black_box(do_cancel(&mut q, h));
        }
        do_schedule(&mut q, t + delay(&mut rng), ev);
    }
    println!("{} {} {}", q.now().as_nanos(), q.len(), black_box(sum));
}

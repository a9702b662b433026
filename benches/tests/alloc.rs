//! Issue 4: no heap allocation per event in steady state. Counts the allocations one whole
//! `engine::run` makes (`allocation_counter`'s global allocator, which counts per thread so
//! parallel tests do not mix) at N, 2N and 4N connections of a steady-state workload: short
//! TIME-WAIT, so the number of connections alive at once, and with it every table, stops
//! growing after the first ~50 ms of simulated time. What remains is set-up (constant) and the
//! amortised doubling of the per-run sample vectors (logarithmic), so the extra allocations of
//! 2N more connections must be a tiny fraction of one per connection. One allocation per event
//! would be ~10 per connection.

use std::hint::black_box;

use tcpsim_benches::{bench_a, run};

/// Allocations made by one run of `n` connections, and the events it processed.
fn run_counted(n: u64) -> (u64, u64) {
    // 100k arrivals/s with a 10 ms TIME-WAIT (and a 10 ms link): ~5k connections alive once
    // the first have closed, reached after ~5k connections.
    let cfg = bench_a(n, "5ms");
    let mut out = None;
    let used = allocation_counter::measure(|| out = Some(run(&cfg))).count_total;
    let out = out.expect("measured the run");
    assert_eq!(out.summary.completed(), n, "{:?}", out.summary);
    (used, black_box(out).summary.events)
}

/// Amortised growth allowed, in allocations per extra connection: one per 100 connections,
/// i.e. about one per 1,000 events. Doubling of a few tables gives far less.
const MAX_ALLOCS_PER_CONNECTION: f64 = 0.01;

#[test]
fn engine_does_not_allocate_per_event() {
    const N: u64 = 20_000;
    let (a1, e1) = run_counted(N);
    let (a2, e2) = run_counted(2 * N);
    let (a4, e4) = run_counted(4 * N);
    eprintln!(
        "allocations: {a1} for {N} connections ({e1} events), {a2} for {} ({e2}), {a4} for {} ({e4})",
        2 * N,
        4 * N
    );
    assert!(a1 <= a2 && a2 <= a4, "{a1} {a2} {a4}");
    assert!(e4 > 3 * e2 / 2, "more connections, more events: {e2} {e4}");
    let per_conn = (a4 - a2) as f64 / (2 * N) as f64;
    let per_event = (a4 - a2) as f64 / (e4 - e2) as f64;
    eprintln!("growth from 2N to 4N: {per_conn:.5} per connection, {per_event:.6} per event");
    assert!(
        per_conn < MAX_ALLOCS_PER_CONNECTION,
        "{} allocations for {} more connections ({} more events): {per_conn:.4} per connection",
        a4 - a2,
        2 * N,
        e4 - e2
    );
}

/// The counter sees allocations made on this thread: the check above could fail.
#[test]
fn allocations_are_counted() {
    let mut boxes = Vec::new();
    let used = allocation_counter::measure(|| {
        boxes = (0..1_000u64).map(|i| Box::new(black_box(i))).collect();
    })
    .count_total;
    assert!(used >= 1_000, "{used}");
    assert_eq!(boxes.iter().map(|b| **b).sum::<u64>(), 999 * 1_000 / 2);
}

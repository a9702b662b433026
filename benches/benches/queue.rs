//! The event queue under the "hold" model: with N events pending, pop the earliest and
//! schedule a replacement a random distance ahead, so the queue size stays N. Also the cost
//! of schedule + cancel, which is what re-arming a timer costs.
//!
//! The timing wheel (`sim_core::EventQueue`) against the reference binary heap
//! (`sim_core::HeapQueue`), from 1k to 10M pending events. Each queue is filled once per size,
//! outside the timed closure (criterion calls that closure once per sample, and filling 10M
//! events takes seconds), and only one queue is alive at a time: 10M wheel entries are
//! 16M slots x 40 bytes = 640 MB after `Vec` doubling, the heap about the same.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sim_core::{EventQueue, HeapQueue, SimDuration, SimRng, SimTime};

const SIZES: &[usize] = &[1_000, 10_000, 100_000, 1_000_000, 10_000_000];

/// Delays between 1 µs and ~1 min: timer-like spread, many levels of the wheel.
fn delay(rng: &mut SimRng) -> SimDuration {
    SimDuration::from_nanos(1_000 + rng.below(60_000_000_000))
}

fn wheel(n: usize, seed: u64) -> (EventQueue<u64>, SimRng) {
    let mut rng = SimRng::stream(seed, 0, 0, 0);
    let mut q = EventQueue::new();
    for i in 0..n {
        q.schedule(SimTime::ZERO + delay(&mut rng), i as u64)
            .unwrap();
    }
    (q, rng)
}

fn heap(n: usize, seed: u64) -> (HeapQueue<u64>, SimRng) {
    let mut rng = SimRng::stream(seed, 0, 0, 0);
    let mut q = HeapQueue::new();
    for i in 0..n {
        q.schedule(SimTime::ZERO + delay(&mut rng), i as u64)
            .unwrap();
    }
    (q, rng)
}

fn configure(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, n: usize) {
    // Ten samples are enough for a ~1% median at the largest size, whose cache misses make
    // every operation slow and whose setup dominates the group's time.
    g.sample_size(if n >= 1_000_000 { 10 } else { 30 });
}

fn hold(c: &mut Criterion) {
    let mut g = c.benchmark_group("queue_hold");
    g.throughput(Throughput::Elements(1));
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    for &n in SIZES {
        configure(&mut g, n);
        {
            let (mut q, mut rng) = wheel(n, 1);
            g.bench_function(BenchmarkId::new("timing_wheel", n), |b| {
                b.iter(|| {
                    let (t, ev) = q.pop().unwrap();
                    q.schedule(t + delay(&mut rng), black_box(ev)).unwrap();
                });
            });
            assert_eq!(q.len(), n);
        }
        {
            let (mut q, mut rng) = heap(n, 1);
            g.bench_function(BenchmarkId::new("binary_heap", n), |b| {
                b.iter(|| {
                    let (t, ev) = q.pop().unwrap();
                    q.schedule(t + delay(&mut rng), black_box(ev)).unwrap();
                });
            });
            assert_eq!(q.len(), n);
        }
    }
    g.finish();
}

/// Schedule one event and cancel it at once, with N others pending: O(1) on both queues, so
/// the cost should stay flat as N grows (apart from cache effects on the bigger tables).
fn schedule_cancel(c: &mut Criterion) {
    let mut g = c.benchmark_group("queue_schedule_cancel");
    g.throughput(Throughput::Elements(1));
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(1));
    for &n in SIZES {
        configure(&mut g, n);
        {
            let (mut q, mut rng) = wheel(n, 2);
            g.bench_function(BenchmarkId::new("timing_wheel", n), |b| {
                b.iter(|| {
                    let h = q.schedule(q.now() + delay(&mut rng), 7u64).unwrap();
                    black_box(q.cancel(h));
                });
            });
            assert_eq!(q.len(), n);
        }
        {
            let (mut q, mut rng) = heap(n, 2);
            g.bench_function(BenchmarkId::new("binary_heap", n), |b| {
                b.iter(|| {
                    let h = q.schedule(q.now() + delay(&mut rng), 7u64).unwrap();
                    black_box(q.cancel(h));
                });
            });
            assert_eq!(q.len(), n);
        }
    }
    g.finish();
}

criterion_group!(benches, hold, schedule_cancel);
criterion_main!(benches);

//! The event queue under the "hold" model: with N events pending, pop the earliest and
//! schedule a replacement a random distance ahead, so the queue size stays N. Also the cost
//! of schedule + cancel, which is what re-arming a timer costs.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sim_core::{EventQueue, HeapQueue, SimDuration, SimRng, SimTime};

const SIZES: &[usize] = &[1_000, 10_000, 100_000, 1_000_000];

/// Delays between 1 µs and ~1 min: timer-like spread, many levels of the wheel.
fn delay(rng: &mut SimRng) -> SimDuration {
    SimDuration::from_nanos(1_000 + rng.below(60_000_000_000))
}

fn hold(c: &mut Criterion) {
    let mut g = c.benchmark_group("queue_hold");
    g.throughput(Throughput::Elements(1));
    for &n in SIZES {
        g.bench_with_input(BenchmarkId::new("timing_wheel", n), &n, |b, &n| {
            let mut rng = SimRng::stream(1, 0, 0, 0);
            let mut q = EventQueue::new();
            for i in 0..n {
                q.schedule(SimTime::ZERO + delay(&mut rng), i as u64)
                    .unwrap();
            }
            b.iter(|| {
                let (t, ev) = q.pop().unwrap();
                q.schedule(t + delay(&mut rng), black_box(ev)).unwrap();
            });
        });
        g.bench_with_input(BenchmarkId::new("binary_heap", n), &n, |b, &n| {
            let mut rng = SimRng::stream(1, 0, 0, 0);
            let mut q = HeapQueue::new();
            for i in 0..n {
                q.schedule(SimTime::ZERO + delay(&mut rng), i as u64)
                    .unwrap();
            }
            b.iter(|| {
                let (t, ev) = q.pop().unwrap();
                q.schedule(t + delay(&mut rng), black_box(ev)).unwrap();
            });
        });
    }
    g.finish();
}

fn schedule_cancel(c: &mut Criterion) {
    let mut g = c.benchmark_group("queue_schedule_cancel");
    g.throughput(Throughput::Elements(1));
    for &n in SIZES {
        g.bench_with_input(BenchmarkId::new("timing_wheel", n), &n, |b, &n| {
            let mut rng = SimRng::stream(2, 0, 0, 0);
            let mut q = EventQueue::new();
            for i in 0..n {
                q.schedule(SimTime::ZERO + delay(&mut rng), i as u64)
                    .unwrap();
            }
            b.iter(|| {
                let h = q.schedule(q.now() + delay(&mut rng), 7u64).unwrap();
                black_box(q.cancel(h));
            });
        });
    }
    g.finish();
}

criterion_group!(benches, hold, schedule_cancel);
criterion_main!(benches);

//! The whole engine: `experiment::engine::run` on a small experiment of the bench-a shape
//! (7-segment lifecycles over a 10 ms link, Poisson arrivals at 100k/s, client TIME-WAIT),
//! i.e. everything `tcpsim run` does per run except writing files. Throughput is in
//! connections (full lifecycles).
//!
//! Two TIME-WAIT settings: `tw60s` is bench-a's real 60 s, so every connection is still in
//! TIME-WAIT when the last one arrives (the population grows to N); `tw100ms` keeps only
//! ~10k alive at once, a steady state.

use std::time::Duration;

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use tcpsim_benches::{bench_a, run};

fn engine(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine");
    // One run is 10-200 ms: time whole runs, the same number per sample.
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(4));
    for &(label, msl) in &[("tw60s", "30s"), ("tw100ms", "50ms")] {
        for &n in &[10_000u64, 100_000] {
            let cfg = bench_a(n, msl);
            let out = run(&cfg);
            assert_eq!(out.summary.completed(), n, "every lifecycle completes");
            g.throughput(Throughput::Elements(n));
            g.bench_function(BenchmarkId::new(label, n), |b| {
                b.iter(|| run(&cfg));
            });
        }
    }
    g.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);

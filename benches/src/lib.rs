//! Shared pieces of the tcpsim benchmarks and the allocation test. The benchmarks themselves
//! live in `benches/`; run them with `cargo bench -p tcpsim-benches`.

use std::path::Path;

use experiment::engine::{self, RunOutput};
use experiment::{parse, Overrides, RunConfig};

/// An experiment of the `experiments/bench-a.toml` shape (7-segment open/close lifecycles,
/// no data, `linux` profile, 10 ms link, client closes first, Poisson arrivals at 100k/s,
/// 64 server ports) with `connections` connections and the given MSL (TIME-WAIT = 2 × MSL;
/// the `linux` profile's 30 s gives bench-a's 60 s).
pub fn bench_a_text(connections: u64, msl: &str) -> String {
    format!(
        r#"
[experiment]
name = "bench"
seed = 1
[link]
delay = "10ms"
[tcp]
profile = "linux"
msl = "{msl}"
[workload]
connections = {connections}
arrival = "poisson"
rate = 100000.0
request_bytes = 0
response_bytes = 0
close_first = "client"
server_ports = 64
"#
    )
}

/// The resolved configuration of [`bench_a_text`]'s only sweep point.
pub fn bench_a(connections: u64, msl: &str) -> RunConfig {
    let text = bench_a_text(connections, msl);
    let exp = parse(Path::new("bench.toml"), &text, &Overrides::default())
        .expect("the bench experiment is valid");
    exp.points[0].config.clone()
}

/// One run of `cfg` (seed 1, point 0, replication 0); panics on an engine error, which a
/// benchmark cannot report otherwise.
pub fn run(cfg: &RunConfig) -> RunOutput {
    engine::run(cfg, 1, 0, 0).expect("engine run")
}

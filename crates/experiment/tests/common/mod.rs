//! The small experiment the engine tests share: three connections one second apart over
//! a 10 ms link, a 100-byte request and a 1000-byte response each, seed 5.

use std::path::Path;

use experiment::{parse, Experiment, Overrides};

/// That experiment named `name`, with `extra` TOML appended (faults, overrides of tables
/// not given here such as `[output]` or `[tcp]`) and `set` as `--set` overrides.
pub fn three_connections(name: &str, extra: &str, set: &[&str]) -> Experiment {
    let text = format!(
        r#"
[experiment]
name = "{name}"
seed = 5
[link]
delay = "10ms"
[workload]
connections = 3
arrival = "uniform"
rate = 1.0
request_bytes = 100
response_bytes = 1000
{extra}
"#
    );
    let o = Overrides {
        set: set.iter().map(|s| s.to_string()).collect(),
        seed: None,
    };
    parse(Path::new(&format!("{name}.toml")), &text, &o).expect("valid test experiment")
}

/// `experiments/stale-segments.toml` set up for an ACK storm: every segment duplicated 2 s
/// late, one connection with a 5000-byte response, the client's TIME-WAIT 60 s, and at
/// most 100k events a run. The late copy of the SYN opens a ghost connection on the server
/// after the real one closed, at the zero-ISN points; the client's TIME-WAIT and the ghost
/// each find the other's ACKs unacceptable. `rfc`: both answer as RFC 9293 does
/// (`unsent_ack = "ack"`, `tw_restart = "fin"`) instead of as Linux does.
#[allow(dead_code)] // not every test file uses it
pub fn ack_storm(rfc: bool) -> Experiment {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../experiments/stale-segments.toml"
    );
    let mut set: Vec<String> = [
        "link.duplicate=1.0",
        "link.duplicate_delay=\"2s\"",
        "workload.response_bytes=5000",
        "tcp.client.msl=\"30s\"",
        "workload.connections=1",
        "experiment.replications=1",
        // ~300 events a point; unlimited, the storm reached this in a tenth of a second.
        "experiment.max_events=100000",
    ]
    .map(String::from)
    .to_vec();
    if rfc {
        set.extend([
            "tcp.unsent_ack=\"ack\"".into(),
            "tcp.tw_restart=\"fin\"".into(),
        ]);
    }
    experiment::load(Path::new(path), &Overrides { set, seed: None }).expect("valid overrides")
}

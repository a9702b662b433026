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

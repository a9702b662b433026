//! Experiment files: raw TOML → overrides → sweep expansion → typed, validated [`Experiment`].
//!
//! The file is read once into a `toml::Table`. Command-line `--set` overrides and each sweep
//! point's assignments are applied to that table by dotted key, then every point is
//! deserialized (unknown keys rejected, with the key's path) and validated. All points are
//! validated before anything runs, so bad input never leaves a half-written result.

use std::fmt;
use std::path::{Path, PathBuf};

use link::{Fault, LinkConfig};
use serde::{Deserialize, Serialize};
use sim_core::SimDuration;
use tcp_model::TcpConfig;
use toml::{Table, Value};

use crate::error::ExperimentError;

/// Upper bound on sweep points × replications: a limit on everything, and a typo like
/// `replications = 1000000` fails fast instead of running for a week.
pub const MAX_RUNS: u64 = 100_000;
/// Upper bound on connections per run (the queue and tables are sized in u32).
pub const MAX_CONNECTIONS: u64 = 1 << 31;

/// The `[experiment]` table.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSection {
    /// Names the output directory `results/<name>/`.
    pub name: String,
    /// What question the experiment answers (free text, copied to run.json).
    #[serde(default)]
    pub description: String,
    /// Base seed; every random stream derives from (seed, sweep point, replication, component).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Independent runs per sweep point, each with its own random streams.
    #[serde(default = "default_replications")]
    pub replications: u32,
    /// A run stops at this simulated time even if connections are still alive; they are
    /// reported as `unfinished`. 1 h covers every default timer (the longest, a SYN's
    /// 6 retries with backoff, is 127 s; TIME-WAIT is 60 s).
    #[serde(default = "default_max_sim_time")]
    pub max_sim_time: SimDuration,
    /// A run stops after this many events (a limit on everything: a runaway run ends).
    #[serde(default = "default_max_events")]
    pub max_events: u64,
}

fn default_seed() -> u64 {
    1
}
fn default_replications() -> u32 {
    1
}
fn default_max_sim_time() -> SimDuration {
    SimDuration::from_secs(3600)
}
fn default_max_events() -> u64 {
    10_000_000_000
}

/// How connections arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// Exponential inter-arrival times with mean 1/rate (an open-loop Poisson process).
    Poisson,
    /// Exactly 1/rate apart.
    Uniform,
    /// All connections at time zero.
    Burst,
}

/// Which side calls close() first once the exchange is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseFirst {
    /// The client closes after the last response; it goes through TIME-WAIT.
    Client,
    /// The server closes right after sending the last response; it goes through TIME-WAIT.
    Server,
    /// Both applications close at the same instant (when the client has the last response):
    /// the FINs cross and both sides go through CLOSING (simultaneous close).
    Both,
}

/// How each connection opens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenMode {
    /// The server listens on its ports and the client connects: the three-way handshake.
    #[default]
    Listen,
    /// Nobody listens: the client connects from an ephemeral port to the server's port and
    /// the server connects from that port back to the client's (`open_skew` later), as two
    /// peers that know each other's address do. When the SYNs cross, both ends go SYN-SENT ->
    /// SYN-RECEIVED -> ESTABLISHED (RFC 9293 §3.5, Figure 8); when one arrives before the other
    /// end has connected, it finds no socket and is refused with a RST.
    Simultaneous,
}

/// Longest `workload.open_skew`.
pub const MAX_OPEN_SKEW: SimDuration = SimDuration::from_secs(3600);

/// The `[workload]` table.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkloadConfig {
    /// Connections per run.
    pub connections: u64,
    pub arrival: Arrival,
    /// Arrivals per simulated second (poisson and uniform).
    pub rate: f64,
    /// Bytes the client sends per request (0: no request; the server answers on accept).
    pub request_bytes: u64,
    /// Bytes the server sends per response.
    pub response_bytes: u64,
    /// Server application delay between a complete request and its response.
    pub think_time: SimDuration,
    pub close_first: CloseFirst,
    /// Request/response exchanges per connection (connection pooling when > 1).
    pub requests_per_connection: u32,
    /// The client shuts its sending side (close) right after its last request, and the
    /// server, in CLOSE-WAIT, still sends every response owed: the half-close of RFC 9293
    /// §3.6, with the client receiving and ACKing data in FIN-WAIT-2.
    pub half_close: bool,
    /// Whether the server application closes when it reads end-of-file (the client's FIN)
    /// and owes nothing more. `false` models an application that never calls close(): the
    /// server stays in CLOSE-WAIT and the client in FIN-WAIT-2 until `fin_timeout`.
    pub server_close_on_eof: bool,
    /// The server's listening port.
    pub server_port: u16,
    /// The server listens on `server_ports` consecutive ports from `server_port`, and
    /// connection `i` goes to `server_port + i % server_ports`. One client address toward one
    /// server port can hold only as many 4-tuples as it has ephemeral ports (28,232 with
    /// Linux's range), live or in TIME-WAIT; more ports let a run keep millions alive.
    pub server_ports: u16,
    /// How connections open: `listen` (the server listens) or `simultaneous` (both connect).
    pub open: OpenMode,
    /// With `open = "simultaneous"`: how long after the client's connect() the server's
    /// comes. Below the one-way delay the SYNs cross; above it the client's SYN arrives first.
    pub open_skew: SimDuration,
}

impl Default for WorkloadConfig {
    /// A small HTTP/1.0-like exchange: one 100-byte request, one 1000-byte response, then
    /// the client closes; 1000 connections at 1000/s.
    fn default() -> Self {
        WorkloadConfig {
            connections: 1000,
            arrival: Arrival::Poisson,
            rate: 1000.0,
            request_bytes: 100,
            response_bytes: 1000,
            think_time: SimDuration::ZERO,
            close_first: CloseFirst::Client,
            requests_per_connection: 1,
            half_close: false,
            server_close_on_eof: true,
            server_port: 80,
            server_ports: 1,
            open: OpenMode::Listen,
            open_skew: SimDuration::ZERO,
        }
    }
}

/// The `[output]` table.
#[derive(Clone, Debug, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// Also write `connections.csv`, one row per connection.
    pub connections: bool,
    /// Also write `timeseries.csv`: every this much simulated time, the connections in each
    /// state on each host and the segments sent and dropped in the interval. Default none.
    pub timeseries: Option<SimDuration>,
}

/// Upper bound on `timeseries.csv` rows per run (a limit on everything).
pub const MAX_TIMESERIES_ROWS: u64 = 1_000_000;

/// The `[flood]` table: a SYN flood from spoofed addresses toward the server's first port.
/// The SYNs come from addresses in 198.18.0.0/15 (RFC 2544's benchmarking range) that never
/// answer, so each one leaves a half-open connection on the server (or a SYN cookie).
#[derive(Clone, Debug, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FloodConfig {
    /// Spoofed SYNs per simulated second, evenly spaced; 0 (the default) is no flood.
    pub rate: f64,
    /// When the flood starts.
    pub start: SimDuration,
    /// How long it lasts.
    pub duration: SimDuration,
}

/// One link direction's configuration after `[link]` and `[link.<direction>]` are merged.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Links {
    pub client_to_server: LinkConfig,
    pub server_to_client: LinkConfig,
}

/// Each host's TCP configuration after `[tcp]` and `[tcp.client]`/`[tcp.server]` are merged.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Hosts {
    pub client: TcpConfig,
    pub server: TcpConfig,
}

/// Everything one run needs: the fully resolved configuration of one sweep point.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunConfig {
    pub experiment: ExperimentSection,
    pub link: Links,
    pub tcp: Hosts,
    pub workload: WorkloadConfig,
    pub output: OutputConfig,
    pub flood: FloodConfig,
    pub fault: Vec<Fault>,
}

/// One value of one swept key.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    pub key: String,
    pub value: Value,
}

impl fmt::Display for Assignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.key, value_text(&self.value))
    }
}

/// A value as it appears in a CSV cell: strings without quotes, everything else as TOML.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One point of the sweep: its assignments and resolved configuration.
#[derive(Clone, Debug)]
pub struct SweepPoint {
    pub index: usize,
    pub assignments: Vec<Assignment>,
    pub config: RunConfig,
}

/// A validated experiment, ready to run.
#[derive(Clone, Debug)]
pub struct Experiment {
    pub path: PathBuf,
    pub name: String,
    pub seed: u64,
    pub replications: u32,
    /// Swept keys in file order (the CSV columns after `point`).
    pub sweep_keys: Vec<String>,
    pub points: Vec<SweepPoint>,
    /// The overrides given on the command line, for run.json.
    pub overrides: Vec<String>,
    /// The figures `tcpsim plot` draws from the results (`[[plot]]`).
    pub plots: Vec<plot::PlotSpec>,
}

impl Experiment {
    pub fn runs(&self) -> u64 {
        self.points.len() as u64 * self.replications as u64
    }
    pub fn total_connections(&self) -> u64 {
        self.points
            .iter()
            .map(|p| p.config.workload.connections * self.replications as u64)
            .sum()
    }
}

/// Command-line changes to an experiment file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `key=value` pairs; the value is read as TOML, and as a plain string if it is not
    /// valid TOML (so `--set tcp.msl=5s` works without quotes).
    pub set: Vec<String>,
    pub seed: Option<u64>,
}

/// Reads, overrides, expands and validates an experiment file.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Experiment, ExperimentError> {
    let text = std::fs::read_to_string(path).map_err(|e| ExperimentError::Read {
        path: path.to_path_buf(),
        io: e,
    })?;
    parse(path, &text, overrides)
}

/// Like [`load`], from text already in memory (`path` is used in messages only).
pub fn parse(
    path: &Path,
    text: &str,
    overrides: &Overrides,
) -> Result<Experiment, ExperimentError> {
    let err = |key: &str, message: String| ExperimentError::Invalid {
        path: path.to_path_buf(),
        key: key.to_string(),
        message,
    };
    let mut table: Table = text
        .parse()
        .map_err(|e: toml::de::Error| ExperimentError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;

    let mut override_list = Vec::new();
    for kv in &overrides.set {
        let (key, raw) = kv.split_once('=').ok_or_else(|| {
            err(
                kv,
                "--set needs key=value, e.g. --set link.loss=0.01".into(),
            )
        })?;
        let key = key.trim();
        check_key(key).map_err(|m| err(key, m))?;
        set_dotted(&mut table, key, parse_cli_value(raw.trim())).map_err(|m| err(key, m))?;
        override_list.push(format!("{key}={}", raw.trim()));
    }
    if let Some(seed) = overrides.seed {
        // A TOML integer is an i64: a larger seed could not be written in the file either.
        let Ok(seed_i64) = i64::try_from(seed) else {
            return Err(err(
                "experiment.seed",
                format!("seed {seed} is out of range; allowed: 0 to {}", i64::MAX),
            ));
        };
        let exp = table
            .entry("experiment")
            .or_insert_with(|| Value::Table(Table::new()));
        match exp {
            Value::Table(t) => {
                t.insert("seed".into(), Value::Integer(seed_i64));
            }
            _ => return Err(err("experiment", "must be a table ([experiment])".into())),
        }
        override_list.push(format!("experiment.seed={seed}"));
    }

    let plots: Vec<plot::PlotSpec> = match table.remove("plot") {
        None => Vec::new(),
        Some(v) => de(path, "plot", &v)?,
    };
    let sweep = match table.remove("sweep") {
        None => Vec::new(),
        Some(Value::Table(t)) => flatten_sweep(&t, "").map_err(|(k, m)| err(&k, m))?,
        Some(_) => return Err(err("sweep", "must be a table of key = [values]".into())),
    };
    // `"link.loss" = [..]` and `link.loss = [..]` (as `--set sweep.link.loss=..` writes it)
    // name the same axis: the later one replaces the earlier, keeping its column position.
    let mut axes: Vec<SweepAxis> = Vec::with_capacity(sweep.len());
    for (key, values) in sweep {
        match axes.iter_mut().find(|(k, _)| *k == key) {
            Some(axis) => axis.1 = values,
            None => axes.push((key, values)),
        }
    }
    let sweep = axes;
    for (key, _) in &sweep {
        if key == "experiment.seed" || key == "experiment.name" || key == "experiment.replications"
        {
            return Err(err(
                &format!("sweep.{key}"),
                "cannot be swept: use replications for independent seeds (each replication has its own streams)".into(),
            ));
        }
        // An override of a swept key would be silently replaced by the sweep's values.
        if let Some(o) = override_list
            .iter()
            .find(|o| o.split('=').next() == Some(key.as_str()))
        {
            return Err(err(
                key,
                format!("is swept, so `--set {o}` would have no effect; use --set sweep.{key}=[..] instead"),
            ));
        }
    }
    let n_points = sweep
        .iter()
        .try_fold(1u64, |acc, (_, v)| acc.checked_mul(v.len() as u64))
        .filter(|&n| n <= MAX_RUNS)
        .ok_or_else(|| {
            err(
                "sweep",
                format!("more than {MAX_RUNS} sweep points (the product of the list lengths)"),
            )
        })?;

    let mut points = Vec::new();
    let mut first: Option<RunConfig> = None;
    for index in 0..n_points.max(1) as usize {
        // Row-major: the first swept key varies slowest, so the CSV reads in file order.
        let mut rest = index;
        let mut assignments = Vec::with_capacity(sweep.len());
        for (i, (key, values)) in sweep.iter().enumerate() {
            let inner: usize = sweep[i + 1..].iter().map(|(_, v)| v.len()).product();
            let pick = rest / inner;
            rest %= inner;
            assignments.push(Assignment {
                key: key.clone(),
                value: values[pick].clone(),
            });
        }
        let mut t = table.clone();
        for a in &assignments {
            set_dotted(&mut t, &a.key, a.value.clone())
                .map_err(|m| err(&format!("sweep.{}", a.key), m))?;
        }
        let config = resolve(path, &t).map_err(|e| match (e, assignments.is_empty()) {
            (e, true) => e,
            (ExperimentError::Invalid { path, key, message }, false) => ExperimentError::Invalid {
                path,
                key,
                message: format!(
                    "{message} (in sweep point {index}: {})",
                    assignments
                        .iter()
                        .map(|a| a.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
            (e, false) => e,
        })?;
        if let Some(f) = &first {
            if f.experiment.name != config.experiment.name
                || f.experiment.replications != config.experiment.replications
            {
                return Err(err(
                    "sweep",
                    "experiment.name and experiment.replications cannot be swept".into(),
                ));
            }
        } else {
            first = Some(config.clone());
        }
        points.push(SweepPoint {
            index,
            assignments,
            config,
        });
    }
    let first = first.expect("at least one point");
    let runs = points.len() as u64 * first.experiment.replications as u64;
    if runs > MAX_RUNS {
        return Err(err(
            "sweep",
            format!("{runs} runs (points × replications) is more than the limit of {MAX_RUNS}"),
        ));
    }
    Experiment {
        path: path.to_path_buf(),
        name: first.experiment.name.clone(),
        seed: first.experiment.seed,
        replications: first.experiment.replications,
        sweep_keys: sweep.into_iter().map(|(k, _)| k).collect(),
        points,
        overrides: override_list,
        plots,
    }
    .with_checked_plots()
}

impl Experiment {
    /// The columns of each result file this experiment writes, for `[[plot]]` checks.
    pub fn columns(&self, file: plot::ResultFile) -> Option<Vec<String>> {
        let mut cols: Vec<String> = vec!["point".into()];
        cols.extend(self.sweep_keys.iter().cloned());
        match file {
            plot::ResultFile::Summary => {
                cols.extend(
                    crate::stats::RunSummary::header()
                        .iter()
                        .map(|s| s.to_string()),
                );
            }
            plot::ResultFile::Connections => {
                if !self.points.iter().any(|p| p.config.output.connections) {
                    return None;
                }
                cols.push("replication".into());
                cols.extend(crate::stats::CONN_HEADER.iter().map(|s| s.to_string()));
            }
            plot::ResultFile::Timeseries => {
                if !self
                    .points
                    .iter()
                    .any(|p| p.config.output.timeseries.is_some())
                {
                    return None;
                }
                cols.push("replication".into());
                cols.extend(crate::timeseries::header());
            }
        }
        Some(cols)
    }

    fn with_checked_plots(self) -> Result<Experiment, ExperimentError> {
        let invalid = |i: usize, key: &str, message: String| ExperimentError::Invalid {
            path: self.path.clone(),
            key: format!("plot[{i}].{key}"),
            message,
        };
        for (i, spec) in self.plots.iter().enumerate() {
            if self.plots[..i].iter().any(|p| p.name == spec.name) {
                return Err(invalid(
                    i,
                    "name",
                    format!("`{}` is used by an earlier plot", spec.name),
                ));
            }
            let Some(cols) = self.columns(spec.file) else {
                return Err(invalid(
                    i,
                    "file",
                    format!(
                        "`{}` is not written by this experiment: set [output] {} first",
                        spec.file.file_name(),
                        match spec.file {
                            plot::ResultFile::Connections => "connections = true",
                            _ => "timeseries = \"100ms\" (an interval)",
                        }
                    ),
                ));
            };
            let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
            plot::validate(spec, &cols).map_err(|e| {
                let key = match &e {
                    plot::PlotError::InvalidName { .. } => "name".to_string(),
                    plot::PlotError::YCount { .. } => "y".to_string(),
                    plot::PlotError::UnknownColumn { key, .. } => key.clone(),
                    plot::PlotError::CategoricalLogAxis { .. } => "x_log".to_string(),
                    _ => "x".to_string(),
                };
                invalid(i, &key, e.to_string())
            })?;
        }
        Ok(self)
    }
}

const TOP_KEYS: &[&str] = &[
    "experiment",
    "link",
    "tcp",
    "workload",
    "output",
    "flood",
    "fault",
    "sweep",
    "plot",
];

/// The sections a sweep can vary. Not `fault` or `plot`, which are arrays of tables (a dotted
/// key cannot name one element), and `plot` does not change a run anyway; not `sweep` itself.
const SWEEPABLE: &[&str] = &["experiment", "link", "tcp", "workload", "output", "flood"];

fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.split('.').any(|p| p.trim().is_empty()) {
        return Err("empty key; use a dotted key such as link.loss".into());
    }
    Ok(())
}

/// Reads a command-line value as TOML, falling back to a plain string.
fn parse_cli_value(raw: &str) -> Value {
    let doc = format!("v = {raw}");
    match doc.parse::<Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| Value::String(raw.to_string())),
        Err(_) => Value::String(raw.to_string()),
    }
}

/// Sets `a.b.c = value`, creating intermediate tables.
fn set_dotted(table: &mut Table, key: &str, value: Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').map(str::trim).collect();
    if !TOP_KEYS.contains(&parts[0]) {
        return Err(format!(
            "unknown section `{}`; allowed: {}",
            parts[0],
            TOP_KEYS.join(", ")
        ));
    }
    let mut cur = table;
    for (i, p) in parts[..parts.len() - 1].iter().enumerate() {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        cur = match entry {
            Value::Table(t) => t,
            _ => return Err(format!("`{}` is not a table", parts[..=i].join("."))),
        };
    }
    cur.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

/// `[sweep]` with dotted keys, quoted (`"link.loss" = [..]`) or nested (`link.loss = [..]`).
/// A swept key and its values, in file order.
type SweepAxis = (String, Vec<Value>);
/// An error at a key: (key, message).
type KeyError = (String, String);

fn flatten_sweep(t: &Table, prefix: &str) -> Result<Vec<SweepAxis>, KeyError> {
    let mut out = Vec::new();
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Table(sub) => out.extend(flatten_sweep(sub, &key)?),
            Value::Array(values) if values.is_empty() => {
                return Err((
                    format!("sweep.{key}"),
                    "empty list; give at least one value to sweep".into(),
                ))
            }
            Value::Array(values) => {
                check_key(&key).map_err(|m| (format!("sweep.{key}"), m))?;
                let top = key.split('.').next().unwrap_or_default();
                if !SWEEPABLE.contains(&top) {
                    return Err((
                        format!("sweep.{key}"),
                        format!(
                            "cannot sweep `{key}`; swept keys start with one of: {}",
                            SWEEPABLE.join(", ")
                        ),
                    ));
                }
                out.push((key, values.clone()));
            }
            _ => {
                return Err((
                    format!("sweep.{key}"),
                    "a swept key takes a list of values, e.g. [0.0, 0.01, 0.05]".into(),
                ))
            }
        }
    }
    Ok(out)
}

/// Deserializes one fully assigned table into a validated [`RunConfig`].
fn resolve(path: &Path, t: &Table) -> Result<RunConfig, ExperimentError> {
    let invalid = |key: String, message: String| ExperimentError::Invalid {
        path: path.to_path_buf(),
        key,
        message,
    };
    for k in t.keys() {
        if !TOP_KEYS.contains(&k.as_str()) {
            return Err(invalid(
                k.clone(),
                format!("unknown section; allowed: {}", TOP_KEYS.join(", ")),
            ));
        }
    }
    let experiment: ExperimentSection = match t.get("experiment") {
        Some(v) => de(path, "experiment", v)?,
        None => {
            return Err(invalid(
                "experiment".into(),
                "missing [experiment] table (it needs at least `name`)".into(),
            ))
        }
    };
    if experiment.name.is_empty()
        || !experiment
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        || experiment.name.starts_with('.')
    {
        return Err(invalid(
            "experiment.name".into(),
            format!(
                "{:?} must be non-empty and use only letters, digits, '-', '_' and '.' (it names a directory)",
                experiment.name
            ),
        ));
    }
    if experiment.replications == 0 {
        return Err(invalid(
            "experiment.replications".into(),
            "must be at least 1".into(),
        ));
    }
    if experiment.max_sim_time.is_zero() {
        return Err(invalid(
            "experiment.max_sim_time".into(),
            "must be longer than 0s".into(),
        ));
    }
    if experiment.max_events == 0 {
        return Err(invalid(
            "experiment.max_events".into(),
            "must be at least 1".into(),
        ));
    }

    let (c2s, s2c) = split_sides(
        path,
        t,
        "link",
        ["client_to_server", "server_to_client"],
        |p, key, v| {
            let c: LinkConfig = de(p, key, v)?;
            c.validate()
                .map_err(|e| invalid(format!("{key}.{}", e.field), e.message))?;
            Ok(c)
        },
    )?;
    let (client, server) = split_sides(path, t, "tcp", ["client", "server"], |p, key, v| {
        let c: TcpConfig = de(p, key, v)?;
        c.validate()
            .map_err(|e| invalid(format!("{key}.{}", e.field), e.message))?;
        Ok(c)
    })?;

    let workload: WorkloadConfig = match t.get("workload") {
        Some(v) => de(path, "workload", v)?,
        None => WorkloadConfig::default(),
    };
    validate_workload(&workload).map_err(|(k, m)| invalid(format!("workload.{k}"), m))?;
    let output: OutputConfig = match t.get("output") {
        Some(v) => de(path, "output", v)?,
        None => OutputConfig::default(),
    };
    if let Some(iv) = output.timeseries {
        if iv < SimDuration::from_micros(1) {
            return Err(invalid(
                "output.timeseries".into(),
                "must be an interval of at least 1us, e.g. \"100ms\"".into(),
            ));
        }
        let rows = experiment.max_sim_time.as_nanos() / iv.as_nanos();
        if rows > MAX_TIMESERIES_ROWS {
            return Err(invalid(
                "output.timeseries".into(),
                format!(
                    "would write {rows} rows per run (experiment.max_sim_time / interval); the limit is {MAX_TIMESERIES_ROWS}: use a longer interval or a shorter max_sim_time"
                ),
            ));
        }
    }
    let flood: FloodConfig = match t.get("flood") {
        Some(v) => de(path, "flood", v)?,
        None => FloodConfig::default(),
    };
    if !(flood.rate.is_finite() && (0.0..=1e8).contains(&flood.rate)) {
        return Err(invalid(
            "flood.rate".into(),
            format!(
                "must be spoofed SYNs per second in [0, 1e8], got {}",
                flood.rate
            ),
        ));
    }
    let fault: Vec<Fault> = match t.get("fault") {
        Some(v) => de(path, "fault", v)?,
        None => Vec::new(),
    };
    for (dir, name) in [
        (link::Direction::ClientToServer, "client_to_server"),
        (link::Direction::ServerToClient, "server_to_client"),
    ] {
        let n = fault.iter().filter(|f| f.direction == dir).count();
        if n > link::MAX_FAULTS_PER_DIRECTION {
            return Err(invalid(
                "fault".to_string(),
                format!(
                    "{n} faults have direction = \"{name}\"; at most {} per direction are allowed",
                    link::MAX_FAULTS_PER_DIRECTION
                ),
            ));
        }
    }
    for (i, f) in fault.iter().enumerate() {
        f.validate()
            .map_err(|e| invalid(format!("fault[{i}].{}", e.field), e.message))?;
        if let Some(c) = f.connection {
            if c >= workload.connections {
                return Err(invalid(
                    format!("fault[{i}].connection"),
                    format!(
                        "connection {c} does not exist; connections are numbered 0..{} (workload.connections)",
                        workload.connections
                    ),
                ));
            }
        }
    }
    Ok(RunConfig {
        experiment,
        link: Links {
            client_to_server: c2s,
            server_to_client: s2c,
        },
        tcp: Hosts { client, server },
        workload,
        output,
        flood,
        fault,
    })
}

/// `[link]` (or `[tcp]`) applies to both sides; `[link.<side>]` overrides keys for one side.
/// The base table is checked on its own first, so an error in it is reported as `link.loss`
/// rather than as the side it was merged into.
fn split_sides<T>(
    path: &Path,
    t: &Table,
    section: &str,
    sides: [&str; 2],
    build: impl Fn(&Path, &str, &Value) -> Result<T, ExperimentError>,
) -> Result<(T, T), ExperimentError> {
    let mut base = match t.get(section) {
        None => Table::new(),
        Some(Value::Table(b)) => b.clone(),
        Some(_) => {
            return Err(ExperimentError::Invalid {
                path: path.to_path_buf(),
                key: section.into(),
                message: "must be a table".into(),
            })
        }
    };
    let mut side_tables = Vec::new();
    for side in sides {
        match base.remove(side) {
            None => side_tables.push(Table::new()),
            Some(Value::Table(s)) => side_tables.push(s),
            Some(_) => {
                return Err(ExperimentError::Invalid {
                    path: path.to_path_buf(),
                    key: format!("{section}.{side}"),
                    message: "must be a table".into(),
                })
            }
        }
    }
    build(path, section, &Value::Table(base.clone()))?;
    let mut out = Vec::new();
    for (side, over) in sides.iter().zip(side_tables) {
        let mut merged = base.clone();
        for (k, v) in over {
            merged.insert(k, v);
        }
        out.push(build(
            path,
            &format!("{section}.{side}"),
            &Value::Table(merged),
        )?);
    }
    let b = out.pop().expect("two sides");
    let a = out.pop().expect("two sides");
    Ok((a, b))
}

/// Deserializes `v` (found at `key`) naming the exact failing key path in the error.
/// serde names the Rust type it wanted ("expected u32", "expected struct WorkloadConfig");
/// a user wrote TOML, so say what TOML value fits instead.
fn plain_types(message: &str) -> String {
    const NAMES: [(&str, &str); 6] = [
        (
            "expected u64",
            "expected a whole number from 0 to 9223372036854775807",
        ),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected f64", "expected a number"),
        ("expected a boolean", "expected true or false"),
    ];
    let mut m = message.to_string();
    for (rust, toml) in NAMES {
        if let Some(i) = m.find(rust) {
            let end = i + rust.len();
            // Only whole words: "expected u16" must not rewrite "expected u160".
            if !m[end..].starts_with(|c: char| c.is_ascii_alphanumeric()) {
                m.replace_range(i..end, toml);
            }
        }
    }
    if let Some(i) = m.find("expected struct ") {
        let name_end = m[i + 16..]
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .map_or(m.len(), |n| i + 16 + n);
        m.replace_range(i..name_end, "expected a table");
    }
    m
}

fn de<T: serde::de::DeserializeOwned>(
    path: &Path,
    key: &str,
    v: &Value,
) -> Result<T, ExperimentError> {
    let d = v.clone();
    serde_path_to_error::deserialize(d).map_err(|e: serde_path_to_error::Error<toml::de::Error>| {
        let inner = e.path().to_string();
        let full = if inner.is_empty() || inner == "." {
            key.to_string()
        } else if inner.starts_with('[') {
            format!("{key}{inner}")
        } else {
            format!("{key}.{inner}")
        };
        ExperimentError::Invalid {
            path: path.to_path_buf(),
            key: full,
            message: plain_types(e.into_inner().message()),
        }
    })
}

fn validate_workload(w: &WorkloadConfig) -> Result<(), (&'static str, String)> {
    if w.connections == 0 || w.connections > MAX_CONNECTIONS {
        return Err((
            "connections",
            format!("must be in 1..={MAX_CONNECTIONS}, got {}", w.connections),
        ));
    }
    if w.arrival != Arrival::Burst && !(w.rate.is_finite() && w.rate > 0.0 && w.rate <= 1e9) {
        return Err((
            "rate",
            format!(
                "must be a number of arrivals per second in (0, 1e9], got {}",
                w.rate
            ),
        ));
    }
    if w.requests_per_connection == 0 {
        return Err(("requests_per_connection", "must be at least 1".into()));
    }
    if w.requests_per_connection > 1 && w.request_bytes == 0 {
        // With no request bytes the server cannot tell one request from the next.
        return Err((
            "requests_per_connection",
            "more than 1 needs request_bytes > 0 (the server answers each complete request)".into(),
        ));
    }
    const MAX_BYTES: u64 = 1 << 40;
    if w.request_bytes > MAX_BYTES {
        return Err((
            "request_bytes",
            format!("must be at most {MAX_BYTES} (1 TiB)"),
        ));
    }
    if w.response_bytes > MAX_BYTES {
        return Err((
            "response_bytes",
            format!("must be at most {MAX_BYTES} (1 TiB)"),
        ));
    }
    if w.server_port == 0 {
        return Err(("server_port", "must be a port in 1..=65535".into()));
    }
    if w.open_skew > MAX_OPEN_SKEW {
        return Err((
            "open_skew",
            format!("must be at most {MAX_OPEN_SKEW}, got {}", w.open_skew),
        ));
    }
    if !w.open_skew.is_zero() && w.open != OpenMode::Simultaneous {
        return Err((
            "open_skew",
            "applies only with open = \"simultaneous\" (the server connects too)".into(),
        ));
    }
    if w.server_ports == 0 || w.server_port as u32 + w.server_ports as u32 - 1 > 65535 {
        return Err((
            "server_ports",
            format!(
                "must be at least 1, with server_port + server_ports - 1 <= 65535 \
                 (server_port is {})",
                w.server_port
            ),
        ));
    }
    Ok(())
}

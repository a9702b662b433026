//! `tcpsim`: run, check and inspect TCP connection-lifecycle experiments.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use experiment::config::value_text;
use experiment::output;
use experiment::stats::Outcome;
use experiment::{Experiment, ExperimentError, Overrides};

#[derive(Parser)]
#[command(
    name = "tcpsim",
    version,
    about = "Deterministic simulator of TCP connection lifecycles"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an experiment and write results/<name>/summary.csv (and connections.csv, run.json).
    Run {
        #[command(flatten)]
        exp: ExpArgs,
        /// Directory for the result files (default: results/<experiment name>).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Worker threads for sweep points and replications (default: one per core).
        /// The output is byte-identical for any value.
        #[arg(long, value_name = "N", default_value_t = 0)]
        threads: usize,
    },
    /// Validate an experiment file (and overrides) without running it.
    Check {
        #[command(flatten)]
        exp: ExpArgs,
    },
    /// Re-run one (point, replication) and print every event of one connection: segments
    /// sent, dropped, duplicated and delivered, and both ends' state changes with their cause.
    Trace {
        #[command(flatten)]
        exp: ExpArgs,
        /// The workload connection to trace (0-based).
        #[arg(long, value_name = "N")]
        connection: u64,
        /// The sweep point to re-run.
        #[arg(long, value_name = "P", default_value_t = 0)]
        point: usize,
        /// The replication to re-run.
        #[arg(long, value_name = "R", default_value_t = 0)]
        replication: u32,
        /// `text`: a readable timeline; `csv`: one row per event.
        #[arg(long, value_enum, default_value_t = TraceFormat::Text)]
        format: TraceFormat,
        /// Write to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum TraceFormat {
    Text,
    Csv,
}

/// A command-line value that is out of range for the experiment: exit status 2, like bad
/// input in the file.
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for UsageError {}

#[derive(Args)]
struct ExpArgs {
    /// The experiment file (TOML).
    file: PathBuf,
    /// Override the experiment's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override a key, e.g. --set link.loss=0.01 --set tcp.msl=5s (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

impl ExpArgs {
    fn load(&self) -> Result<Experiment, ExperimentError> {
        experiment::load(
            &self.file,
            &Overrides {
                set: self.set.clone(),
                seed: self.seed,
            },
        )
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { exp } => check(&exp),
        Command::Run { exp, out, threads } => run(&exp, out, threads),
        Command::Trace {
            exp,
            connection,
            point,
            replication,
            format,
            out,
        } => trace(&exp, connection, point, replication, format, out.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            // 2: the input is wrong (nothing was run or written); 1: a run or write failed.
            if e.downcast_ref::<ExperimentError>()
                .is_some_and(|e| !matches!(e, ExperimentError::Write { .. }))
                || e.downcast_ref::<UsageError>().is_some()
            {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn check(args: &ExpArgs) -> anyhow::Result<()> {
    let exp = args.load()?;
    println!(
        "{}: ok — experiment `{}`, {} sweep point(s) × {} replication(s) = {} runs, {} connections",
        exp.path.display(),
        exp.name,
        exp.points.len(),
        exp.replications,
        exp.runs(),
        exp.total_connections()
    );
    Ok(())
}

fn run(args: &ExpArgs, out: Option<PathBuf>, threads: usize) -> anyhow::Result<()> {
    let exp = args.load()?;
    let dir = out.unwrap_or_else(|| PathBuf::from("results").join(&exp.name));
    let tty = std::io::stderr().is_terminal();
    let progress = move |done: u64, total: u64, conns: u64| {
        if tty {
            eprint!("\r  run {done}/{total}, {conns} connections");
        }
    };
    let results = output::execute(&exp, threads, &progress)?;
    if tty {
        eprintln!();
    }
    let files = output::write_all(&dir, &exp, &results)
        .with_context(|| format!("writing results of `{}`", exp.name))?;
    print_table(&exp, &results);
    let (c, e, w) = (
        results.connections(),
        results.events(),
        results.wall_s.max(1e-9),
    );
    eprintln!(
        "{} connections, {} events in {:.3} s wall on {} thread(s): {:.0} connections/s, {:.0} events/s",
        c,
        e,
        results.wall_s,
        results.threads,
        c as f64 / w,
        e as f64 / w
    );
    for f in files {
        eprintln!("wrote {}", f.display());
    }
    Ok(())
}

fn trace(
    args: &ExpArgs,
    connection: u64,
    point: usize,
    replication: u32,
    format: TraceFormat,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let exp = args.load()?;
    let usage = |m: String| anyhow::Error::new(UsageError(m));
    let Some(p) = exp.points.get(point) else {
        return Err(usage(format!(
            "--point {point} is out of range: experiment `{}` has {} sweep point(s), numbered from 0",
            exp.name,
            exp.points.len()
        )));
    };
    if replication >= exp.replications {
        return Err(usage(format!(
            "--replication {replication} is out of range: experiment `{}` has {} replication(s), numbered from 0",
            exp.name, exp.replications
        )));
    }
    let n = p.config.workload.connections;
    if connection >= n {
        return Err(usage(format!(
            "--connection {connection} is out of range: sweep point {point} of experiment `{}` has {n} connection(s), numbered from 0",
            exp.name
        )));
    }
    let (_, trace) =
        experiment::engine::run_traced(&p.config, exp.seed, point, replication, connection)?;
    let mut buf = Vec::new();
    match format {
        TraceFormat::Text => trace.write_text(&mut buf)?,
        TraceFormat::Csv => trace.write_csv(&mut buf)?,
    }
    match out {
        Some(path) => {
            // Written to a temporary name and renamed, like the result files: never half a file.
            let mut tmp = path.as_os_str().to_owned();
            tmp.push(".tmp");
            let tmp = PathBuf::from(tmp);
            std::fs::write(&tmp, &buf)
                .and_then(|()| std::fs::rename(&tmp, path))
                .with_context(|| format!("cannot write the trace to {}", path.display()))?;
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            match stdout.write_all(&buf).and_then(|()| stdout.flush()) {
                // `tcpsim trace … | head` is not an error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                r => r.context("cannot write the trace to stdout")?,
            }
        }
    }
    Ok(())
}

/// A short table per sweep point, summed over replications.
fn print_table(exp: &Experiment, results: &output::Results) {
    let mut header = vec!["point".to_string()];
    header.extend(exp.sweep_keys.iter().cloned());
    header.extend(
        [
            "conns",
            "completed",
            "conn_timeout",
            "reset",
            "port_exh",
            "other",
            "hs_p50_ms",
            "hs_p99_ms",
            "tw_peak",
        ]
        .map(String::from),
    );
    let mut rows = vec![header];
    for p in &exp.points {
        let runs: Vec<_> = results.runs.iter().filter(|r| r.point == p.index).collect();
        let sum = |f: &dyn Fn(&experiment::stats::RunSummary) -> u64| -> u64 {
            runs.iter().map(|r| f(&r.output.summary)).sum()
        };
        let conns = sum(&|s| s.connections);
        let completed = sum(&|s| s.count(Outcome::Completed));
        let timeout = sum(&|s| s.count(Outcome::ConnectTimeout));
        let reset = sum(&|s| s.count(Outcome::Reset));
        let exh = sum(&|s| s.count(Outcome::PortExhausted));
        let other = conns - completed - timeout - reset - exh;
        // The mean over replications of each run's own p50/p99 (samples are not pooled across runs).
        let mean_of = |f: &dyn Fn(&experiment::stats::Dist) -> u64| -> String {
            let v: Vec<f64> = runs
                .iter()
                .filter_map(|r| {
                    r.output
                        .summary
                        .handshake
                        .as_ref()
                        .map(|d| f(d) as f64 / 1e6)
                })
                .collect();
            if v.is_empty() {
                "-".into()
            } else {
                format!("{:.3}", v.iter().sum::<f64>() / v.len() as f64)
            }
        };
        let tw = runs
            .iter()
            .map(|r| {
                r.output
                    .summary
                    .time_wait_peak_client
                    .max(r.output.summary.time_wait_peak_server)
            })
            .max()
            .unwrap_or(0);
        let mut row = vec![p.index.to_string()];
        row.extend(p.assignments.iter().map(|a| value_text(&a.value)));
        row.extend([
            conns.to_string(),
            completed.to_string(),
            timeout.to_string(),
            reset.to_string(),
            exh.to_string(),
            other.to_string(),
            mean_of(&|d| d.p50_ns),
            mean_of(&|d| d.p99_ns),
            tw.to_string(),
        ]);
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:>w$}"))
            .collect();
        println!("{}", line.join("  "));
    }
}

//! `tcpsim`: run, check and inspect TCP connection-lifecycle experiments.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use experiment::config::value_text;
use experiment::current::{RunContext, RunScope};
use experiment::engine::Side;
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
    /// Draw the figures an experiment declares ([[plot]]) from its results, as SVG and PNG
    /// next to the CSV files.
    Plot {
        /// The experiment file, or a results directory (its run.json names the file).
        target: PathBuf,
        /// The results directory to read and write (default: results/<experiment name>, or
        /// TARGET itself when it is a directory).
        #[arg(long, value_name = "DIR")]
        results: Option<PathBuf>,
    },
    /// Re-run every experiment in a directory (default: experiments/, except the bench-*
    /// speed workloads) and regenerate its CSV files and figures in results/.
    Reproduce {
        /// Where the experiment files are.
        #[arg(long, value_name = "DIR", default_value = "experiments")]
        experiments: PathBuf,
        /// Where the results go (one directory per experiment name).
        #[arg(long, value_name = "DIR", default_value = "results")]
        results: PathBuf,
        /// Also run the bench-* speed workloads (minutes, and large).
        #[arg(long)]
        include_bench: bool,
        /// Worker threads per experiment (default: one per core).
        #[arg(long, value_name = "N", default_value_t = 0)]
        threads: usize,
    },
    /// Validate an experiment file (and overrides) without running it.
    Check {
        #[command(flatten)]
        exp: ExpArgs,
    },
    /// Re-run one (point, replication) and print every event of one connection: segments
    /// sent, dropped, duplicated, delivered and discarded by the receiver (with the reason),
    /// and both ends' state changes with their cause.
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
        /// `text`: a readable timeline; `csv`: one row per event; `ladder`: a client/server
        /// sequence diagram (≤ 100 columns).
        #[arg(long, value_enum, default_value_t = TraceFormat::Text)]
        format: TraceFormat,
        /// Write to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Also write the connection's packets to FILE as a pcap capture (Wireshark, tshark).
        #[arg(long, value_name = "FILE")]
        pcap: Option<PathBuf>,
        /// The host the pcap capture is taken on: what it sends and what reaches it.
        #[arg(long, value_enum, value_name = "SIDE", default_value_t = CaptureAt::Client, requires = "pcap")]
        capture_at: CaptureAt,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum TraceFormat {
    Text,
    Csv,
    Ladder,
}

#[derive(Clone, Copy, ValueEnum)]
enum CaptureAt {
    Client,
    Server,
}

impl CaptureAt {
    fn side(self) -> Side {
        match self {
            CaptureAt::Client => Side::Client,
            CaptureAt::Server => Side::Server,
        }
    }
}

/// Where `tcpsim trace` writes.
struct TraceOutputs<'a> {
    format: TraceFormat,
    out: Option<&'a Path>,
    pcap: Option<(&'a Path, CaptureAt)>,
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
    /// Override the experiment's seed: 0 to 9223372036854775807, the range of a TOML integer
    /// (so that any seed can also be written in the file).
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
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
    // A panic is a bug: after the usual message, say which run it was in and how to repeat
    // that run alone (TigerBeetle's rule: every failure prints the seed that reproduces it).
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        if let Some(run) = experiment::current::current_run() {
            eprintln!("{}", run.reproduce_hint());
        }
    }));
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { exp } => check(&exp),
        Command::Run { exp, out, threads } => run(&exp, out, threads).map(|_| ()),
        Command::Plot { target, results } => plot_cmd(&target, results.as_deref()),
        Command::Reproduce {
            experiments,
            results,
            include_bench,
            threads,
        } => reproduce(&experiments, &results, include_bench, threads),
        Command::Trace {
            exp,
            connection,
            point,
            replication,
            format,
            out,
            pcap,
            capture_at,
        } => trace(
            &exp,
            connection,
            point,
            replication,
            &TraceOutputs {
                format,
                out: out.as_deref(),
                pcap: pcap.as_deref().map(|p| (p, capture_at)),
            },
        ),
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

/// `tcpsim plot`: the experiment and its results directory from either one.
fn plot_cmd(target: &Path, results: Option<&Path>) -> anyhow::Result<()> {
    let (exp, dir) = if target.is_dir() {
        let json = target.join("run.json");
        let text = std::fs::read_to_string(&json).map_err(|e| {
            UsageError(format!(
                "{}: cannot read {} to find the experiment file: {e}",
                target.display(),
                json.display()
            ))
        })?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| UsageError(format!("{}: not a tcpsim run.json: {e}", json.display())))?;
        let file = v["file"].as_str().ok_or_else(|| {
            UsageError(format!(
                "{}: has no \"file\" naming the experiment",
                json.display()
            ))
        })?;
        let exp = experiment::load(Path::new(file), &Overrides::default())?;
        (exp, results.unwrap_or(target).to_path_buf())
    } else {
        let exp = experiment::load(target, &Overrides::default())?;
        let dir = results.map_or_else(
            || PathBuf::from("results").join(&exp.name),
            Path::to_path_buf,
        );
        (exp, dir)
    };
    for f in draw_plots(&exp, &dir)? {
        eprintln!("wrote {}", f.display());
    }
    Ok(())
}

/// Draws every `[[plot]]` of `exp` from the CSV files in `dir`.
fn draw_plots(exp: &Experiment, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    // Every input is checked before the first figure is drawn: a usage error writes nothing.
    for spec in &exp.plots {
        let csv = dir.join(spec.file.file_name());
        if !csv.is_file() {
            return Err(UsageError(format!(
                "plot `{}`: {} does not exist; run the experiment first (tcpsim run {})",
                spec.name,
                csv.display(),
                exp.path.display()
            ))
            .into());
        }
    }
    let mut written = Vec::new();
    for spec in &exp.plots {
        let csv = dir.join(spec.file.file_name());
        written.extend(
            plot::render(spec, &csv, dir)
                .with_context(|| format!("drawing plot `{}` of `{}`", spec.name, exp.name))?,
        );
    }
    Ok(written)
}

/// `tcpsim reproduce`: every experiment, its CSV files and its figures.
fn reproduce(
    experiments: &Path,
    results: &Path,
    include_bench: bool,
    threads: usize,
) -> anyhow::Result<()> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(experiments)
        .map_err(|e| UsageError(format!("{}: {e}", experiments.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| {
            include_bench
                || !p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("bench-"))
        })
        .collect();
    // Sorted, so the order (and the log) is the same on every machine.
    files.sort();
    // Check every file before running any: a typo fails in seconds, not after an hour.
    let exps = files
        .iter()
        .map(|f| experiment::load(f, &Overrides::default()))
        .collect::<Result<Vec<_>, _>>()?;
    for exp in &exps {
        eprintln!("== {} ({})", exp.name, exp.path.display());
        let dir = results.join(&exp.name);
        run_loaded(exp, &dir, threads)?;
        for f in draw_plots(exp, &dir)? {
            eprintln!("wrote {}", f.display());
        }
    }
    eprintln!(
        "reproduced {} experiment(s) into {}",
        exps.len(),
        results.display()
    );
    Ok(())
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

/// A progress bar on stderr when it is a terminal: runs done, connections/s, ETA.
fn progress_bar(exp: &Experiment) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(exp.total_connections());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{bar:30}] runs {msg}  {human_pos}/{human_len} connections, {per_sec}, ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(format!("0/{}", exp.runs()));
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    Some(bar)
}

fn run(args: &ExpArgs, out: Option<PathBuf>, threads: usize) -> anyhow::Result<PathBuf> {
    let exp = args.load()?;
    let dir = out.unwrap_or_else(|| PathBuf::from("results").join(&exp.name));
    run_loaded(&exp, &dir, threads)?;
    Ok(dir)
}

fn run_loaded(exp: &Experiment, dir: &Path, threads: usize) -> anyhow::Result<()> {
    let bar = progress_bar(exp);
    let progress = |done: u64, total: u64, conns: u64| {
        if let Some(b) = &bar {
            b.set_position(conns);
            b.set_message(format!("{done}/{total}"));
        }
    };
    let results = output::execute(exp, threads, &progress)?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let files = output::write_all(dir, exp, &results)
        .with_context(|| format!("writing results of `{}`", exp.name))?;
    print_table(exp, &results);
    std::io::stdout().flush().ok();
    let (c, e, w) = (
        results.connections(),
        results.events(),
        results.wall_s.max(1e-9),
    );
    eprintln!(
        "{} connections, {} events in {:.3} s wall on {} thread(s): {:.0} connections/s, {:.0} events/s{}",
        c,
        e,
        results.wall_s,
        results.threads,
        c as f64 / w,
        e as f64 / w,
        if experiment::PGO_BUILD { "" } else { " (built without the PGO profile)" }
    );
    for f in files {
        eprintln!("wrote {}", f.display());
    }
    Ok(())
}

/// A file `tcpsim trace` is to write must be creatable: checked before running, so that a
/// typo in a path is bad input (exit 2, nothing run or written) rather than a failure after
/// the run.
fn check_output_path(flag: &str, path: &Path) -> Result<(), UsageError> {
    if path.is_dir() {
        return Err(UsageError(format!(
            "{flag} {}: is a directory, expected a file name",
            path.display()
        )));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(UsageError(format!(
            "{flag} {}: directory {} does not exist",
            path.display(),
            parent.display()
        )));
    }
    Ok(())
}

/// Writes `path` through a temporary name and a rename, like the result files: never half a
/// file under the real name.
fn write_atomically(
    path: &Path,
    what: &str,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let result = std::fs::File::create(&tmp)
        .map_err(anyhow::Error::from)
        .and_then(|f| {
            let mut w = std::io::BufWriter::new(f);
            write(&mut w)?;
            w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            Ok(())
        })
        .and_then(|()| Ok(std::fs::rename(&tmp, path)?));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write the {what} to {}", path.display()))
}

fn trace(
    args: &ExpArgs,
    connection: u64,
    point: usize,
    replication: u32,
    outputs: &TraceOutputs<'_>,
) -> anyhow::Result<()> {
    let exp = args.load()?;
    let usage = |m: String| anyhow::Error::new(UsageError(m));
    if let Some(path) = outputs.out {
        check_output_path("--out", path)?;
    }
    if let Some((path, _)) = outputs.pcap {
        check_output_path("--pcap", path)?;
        if outputs.out == Some(path) {
            return Err(usage(format!(
                "--out and --pcap are both {}: give them different files",
                path.display()
            )));
        }
    }
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
    let (_, trace) = {
        let _scope = RunScope::enter(RunContext::of(&exp, point, replication));
        experiment::engine::run_traced(&p.config, exp.seed, point, replication, connection)?
    };
    if let Some((path, at)) = outputs.pcap {
        write_atomically(path, "pcap capture", |w| {
            experiment::capture::write_pcap(&trace, at.side(), w)?;
            Ok(())
        })?;
    }
    let mut buf = Vec::new();
    match outputs.format {
        TraceFormat::Text => trace.write_text(&mut buf)?,
        TraceFormat::Csv => trace.write_csv(&mut buf)?,
        TraceFormat::Ladder => experiment::ladder::write_ladder(&trace, &mut buf)?,
    }
    match outputs.out {
        Some(path) => write_atomically(path, "trace", |w| Ok(w.write_all(&buf)?))?,
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

//! Running every (sweep point, replication) of an experiment and writing its result files.
//!
//! `summary.csv` and `connections.csv` depend only on the experiment and its seed; wall-clock
//! figures go to `run.json` (and stderr) only. Files are written to a temporary name and
//! renamed into place, so a reader never sees half a file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::config::{value_text, Experiment, RunConfig};
use crate::current::{RunContext, RunScope};
use crate::engine::{self, RunError, RunOutput};
use crate::error::ExperimentError;
use crate::stats::{RunSummary, CONN_HEADER};

/// The outcome of one (point, replication).
#[derive(Debug, Clone)]
pub struct RunResult {
    pub point: usize,
    pub replication: u32,
    pub output: RunOutput,
}

/// All runs of an experiment, in (point, replication) order whatever the thread count.
#[derive(Debug, Clone)]
pub struct Results {
    pub runs: Vec<RunResult>,
    pub threads: usize,
    pub wall_s: f64,
}

impl Results {
    pub fn connections(&self) -> u64 {
        self.runs.iter().map(|r| r.output.summary.connections).sum()
    }
    pub fn events(&self) -> u64 {
        self.runs.iter().map(|r| r.output.summary.events).sum()
    }
}

/// Runs every point × replication on `threads` worker threads (0 = one per core).
/// `progress` is called after each run with (runs done, runs total, connections done).
pub fn execute(
    exp: &Experiment,
    threads: usize,
    progress: &(dyn Fn(u64, u64, u64) + Sync),
) -> Result<Results, RunError> {
    let jobs: Vec<(usize, u32)> = exp
        .points
        .iter()
        .flat_map(|p| (0..exp.replications).map(move |r| (p.index, r)))
        .collect();
    let total = jobs.len() as u64;
    let done = std::sync::atomic::AtomicU64::new(0);
    let conns = std::sync::atomic::AtomicU64::new(0);
    // More workers than runs would only idle (and a huge --threads would fail to spawn):
    // run.json reports the threads that could work.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let wanted = if threads == 0 { cores } else { threads };
    let threads = wanted.min(jobs.len()).max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| RunError {
            seed: exp.seed,
            point: 0,
            replication: 0,
            message: format!("cannot start {threads} worker threads: {e}"),
        })?;
    let threads = pool.current_num_threads();
    let start = Instant::now();
    // The failure reported is the first in (point, replication) order, whatever the thread
    // count: a run is skipped only when one before it in that order has failed.
    let first_failed = std::sync::atomic::AtomicUsize::new(usize::MAX);
    let outcomes = pool.install(|| {
        jobs.par_iter()
            .enumerate()
            .map(|(k, &(point, replication))| {
                if k > first_failed.load(std::sync::atomic::Ordering::Relaxed) {
                    return None;
                }
                let cfg: &RunConfig = &exp.points[point].config;
                let output = {
                    let _scope = RunScope::enter(RunContext::of(exp, point, replication));
                    engine::run(cfg, exp.seed, point, replication)
                };
                let output = match output {
                    Ok(o) => o,
                    Err(e) => {
                        first_failed.fetch_min(k, std::sync::atomic::Ordering::Relaxed);
                        return Some(Err(e));
                    }
                };
                let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                let c = conns.fetch_add(
                    output.summary.connections,
                    std::sync::atomic::Ordering::Relaxed,
                ) + output.summary.connections;
                progress(d, total, c);
                Some(Ok(RunResult {
                    point,
                    replication,
                    output,
                }))
            })
            .collect::<Vec<Option<Result<RunResult, RunError>>>>()
    });
    let mut runs = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        match outcome {
            Some(Ok(run)) => runs.push(run),
            Some(Err(e)) => return Err(e),
            None => unreachable!("a run is skipped only after an earlier one failed"),
        }
    }
    Ok(Results {
        runs,
        threads,
        wall_s: start.elapsed().as_secs_f64(),
    })
}

/// `summary.csv`: one row per (point, replication).
pub fn summary_csv(exp: &Experiment, results: &Results) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = vec!["point".into()];
    header.extend(exp.sweep_keys.iter().cloned());
    header.extend(RunSummary::header().iter().map(|s| s.to_string()));
    w.write_record(&header).expect("writing to memory");
    for r in &results.runs {
        let mut rec = vec![r.point.to_string()];
        rec.extend(
            exp.points[r.point]
                .assignments
                .iter()
                .map(|a| value_text(&a.value)),
        );
        rec.extend(r.output.summary.record());
        w.write_record(&rec).expect("writing to memory");
    }
    w.into_inner().expect("flushing memory")
}

/// `connections.csv`: one row per connection of the points that asked for it.
pub fn connections_csv(results: &Results) -> Option<Vec<u8>> {
    if results.runs.iter().all(|r| r.output.connections.is_empty()) {
        return None;
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["point", "replication"];
    header.extend(CONN_HEADER);
    w.write_record(&header).expect("writing to memory");
    for r in &results.runs {
        for c in &r.output.connections {
            let mut rec = vec![r.point.to_string(), r.replication.to_string()];
            rec.extend(c.record());
            w.write_record(&rec).expect("writing to memory");
        }
    }
    Some(w.into_inner().expect("flushing memory"))
}

/// `timeseries.csv`: the samples of the points that asked for them.
pub fn timeseries_csv(exp: &Experiment, results: &Results) -> Option<Vec<u8>> {
    if results.runs.iter().all(|r| r.output.timeseries.is_empty()) {
        return None;
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = vec!["point".into()];
    header.extend(exp.sweep_keys.iter().cloned());
    header.push("replication".into());
    header.extend(crate::timeseries::header());
    w.write_record(&header).expect("writing to memory");
    for r in &results.runs {
        let mut prefix = vec![r.point.to_string()];
        prefix.extend(
            exp.points[r.point]
                .assignments
                .iter()
                .map(|a| value_text(&a.value)),
        );
        prefix.push(r.replication.to_string());
        for s in &r.output.timeseries {
            let mut rec = prefix.clone();
            rec.extend(s.record());
            w.write_record(&rec).expect("writing to memory");
        }
    }
    Some(w.into_inner().expect("flushing memory"))
}

#[derive(Serialize)]
struct RunJson<'a> {
    tool: &'static str,
    version: &'static str,
    experiment: &'a str,
    file: String,
    seed: u64,
    replications: u32,
    overrides: &'a [String],
    threads: usize,
    runs: usize,
    connections: u64,
    events: u64,
    wall_s: f64,
    connections_per_s: f64,
    events_per_s: f64,
    /// Built with the committed PGO profile ([`crate::PGO_BUILD`]).
    pgo: bool,
    points: Vec<PointJson<'a>>,
}

#[derive(Serialize)]
struct PointJson<'a> {
    point: usize,
    assignments: serde_json::Map<String, serde_json::Value>,
    config: &'a RunConfig,
}

/// `run.json`: the tool version, the exact parameters of every point, and wall-clock speed.
pub fn run_json(exp: &Experiment, results: &Results) -> Vec<u8> {
    let points = exp
        .points
        .iter()
        .map(|p| PointJson {
            point: p.index,
            assignments: p
                .assignments
                .iter()
                .map(|a| {
                    (
                        a.key.clone(),
                        serde_json::to_value(&a.value).unwrap_or(serde_json::Value::Null),
                    )
                })
                .collect(),
            config: &p.config,
        })
        .collect();
    let (c, e, w) = (
        results.connections(),
        results.events(),
        results.wall_s.max(1e-9),
    );
    let j = RunJson {
        tool: "tcpsim",
        version: env!("CARGO_PKG_VERSION"),
        experiment: &exp.name,
        file: exp.path.display().to_string(),
        seed: exp.seed,
        replications: exp.replications,
        overrides: &exp.overrides,
        threads: results.threads,
        runs: results.runs.len(),
        connections: c,
        events: e,
        wall_s: results.wall_s,
        connections_per_s: c as f64 / w,
        events_per_s: e as f64 / w,
        pgo: crate::PGO_BUILD,
        points,
    };
    let mut v = serde_json::to_vec_pretty(&j).expect("serializable");
    v.push(b'\n');
    v
}

/// Writes every result file of `results` into `dir`, each atomically. Returns the paths.
pub fn write_all(
    dir: &Path,
    exp: &Experiment,
    results: &Results,
) -> Result<Vec<PathBuf>, ExperimentError> {
    let mut files = vec![("summary.csv", summary_csv(exp, results))];
    let mut absent = Vec::new();
    match connections_csv(results) {
        Some(c) => files.push(("connections.csv", c)),
        None => absent.push("connections.csv"),
    }
    match timeseries_csv(exp, results) {
        Some(c) => files.push(("timeseries.csv", c)),
        None => absent.push("timeseries.csv"),
    }
    files.push(("run.json", run_json(exp, results)));
    let written = write_files(dir, &files)?;
    // A file an earlier run wrote here and this one did not would be read as this run's.
    for name in absent {
        let path = dir.join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(ExperimentError::Write { path, io: e })
            }
            _ => {}
        }
    }
    Ok(written)
}

/// Writes each (name, bytes) to `dir/name` via a temporary file and a rename. All files are
/// staged before the first rename, so a write that fails (a full disk) leaves every old file
/// as it was; on any failure the temporary files are removed.
pub fn write_files(dir: &Path, files: &[(&str, Vec<u8>)]) -> Result<Vec<PathBuf>, ExperimentError> {
    let werr = |path: &Path, io| ExperimentError::Write {
        path: path.to_path_buf(),
        io,
    };
    std::fs::create_dir_all(dir).map_err(|e| werr(dir, e))?;
    let tmp_of = |name: &str| dir.join(format!(".{name}.tmp"));
    let result = (|| {
        for (name, bytes) in files {
            let tmp = tmp_of(name);
            let mut f = std::fs::File::create(&tmp).map_err(|e| werr(&tmp, e))?;
            f.write_all(bytes).map_err(|e| werr(&tmp, e))?;
            f.sync_all().map_err(|e| werr(&tmp, e))?;
        }
        let mut out = Vec::new();
        for (name, _) in files {
            let path = dir.join(name);
            std::fs::rename(tmp_of(name), &path).map_err(|e| werr(&path, e))?;
            out.push(path);
        }
        // The renames live in the directory: without this a crash could bring back the old
        // files (or none) even though each new file's bytes reached the disk.
        #[cfg(unix)]
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| werr(dir, e))?;
        Ok(out)
    })();
    if result.is_err() {
        for (name, _) in files {
            // Already renamed, or never created: nothing to remove.
            let _ = std::fs::remove_file(tmp_of(name));
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_keeps_the_old_files_and_leaves_no_temporary_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        write_files(
            dir,
            &[("a.csv", b"old a".to_vec()), ("b.json", b"old b".to_vec())],
        )
        .unwrap();
        // A directory where b.json's temporary file goes: its staging fails after a.csv's.
        std::fs::create_dir(dir.join(".b.json.tmp")).unwrap();
        let e = write_files(
            dir,
            &[("a.csv", b"new a".to_vec()), ("b.json", b"new b".to_vec())],
        )
        .unwrap_err();
        assert!(e.to_string().contains(".b.json.tmp"), "{e}");
        assert_eq!(std::fs::read(dir.join("a.csv")).unwrap(), b"old a");
        assert_eq!(std::fs::read(dir.join("b.json")).unwrap(), b"old b");
        assert!(
            !dir.join(".a.csv.tmp").exists(),
            "a temporary file was left"
        );
        std::fs::remove_dir(dir.join(".b.json.tmp")).unwrap();
        write_files(
            dir,
            &[("a.csv", b"new a".to_vec()), ("b.json", b"new b".to_vec())],
        )
        .unwrap();
        assert_eq!(std::fs::read(dir.join("a.csv")).unwrap(), b"new a");
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["a.csv", "b.json"]);
    }
}

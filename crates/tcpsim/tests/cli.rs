//! The `tcpsim` binary on the shipped experiment files: determinism, thread-count
//! independence, seeds, and bad input that writes nothing.

use std::path::{Path, PathBuf};

mod common;
use common::{ok, repo, tcpsim};

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{}/{name}: {e}", dir.display()))
}

fn experiment_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("experiments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    assert!(v.len() >= 3, "experiments/ holds at least three files");
    v
}

#[test]
fn every_shipped_experiment_checks() {
    for f in experiment_files() {
        let out = ok(&["check", f.to_str().unwrap()]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
    }
}

#[test]
fn repeated_runs_and_thread_counts_give_identical_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = ["a", "b", "c", "d"]
        .iter()
        .map(|d| tmp.path().join(d))
        .collect();
    let small = [
        "--set",
        "workload.connections=300",
        "--set",
        "link.loss=0.05",
    ];
    for (dir, threads) in dirs.iter().zip(["1", "1", "2", "64"]) {
        let mut args = vec![
            "run",
            "experiments/basic.toml",
            "--threads",
            threads,
            "--out",
            dir.to_str().unwrap(),
        ];
        args.extend(small);
        ok(&args);
    }
    for name in ["summary.csv", "connections.csv"] {
        let a = read(&dirs[0], name);
        assert!(!a.is_empty());
        assert_eq!(a, read(&dirs[1], name), "{name}: a repeated run differs");
        assert_eq!(a, read(&dirs[2], name), "{name}: 1 vs 2 threads differ");
        assert_eq!(a, read(&dirs[3], name), "{name}: 1 vs 64 threads differ");
    }
    // basic.toml is 3 runs: more workers than that would only idle.
    let json: serde_json::Value = serde_json::from_slice(&read(&dirs[3], "run.json")).unwrap();
    assert_eq!(json["threads"], 3);
    let json: serde_json::Value = serde_json::from_slice(&read(&dirs[2], "run.json")).unwrap();
    assert_eq!(json["threads"], 2);
    assert_eq!(json["connections"], 900);
    assert!(json["connections_per_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_different_seed_gives_different_results_under_loss() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for (dir, seed) in [(&a, "1"), (&b, "2")] {
        ok(&[
            "run",
            "experiments/loss-sweep.toml",
            "--seed",
            seed,
            "--set",
            "workload.connections=200",
            "--set",
            "experiment.replications=1",
            "--set",
            "sweep.link.loss=[0.1]",
            "--out",
            dir.to_str().unwrap(),
        ]);
    }
    // Compare the results only: the seed column alone would make the files differ.
    let results = |dir: &Path| -> Vec<String> {
        let bytes = read(dir, "summary.csv");
        let mut r = csv::Reader::from_reader(&bytes[..]);
        let h = r.headers().unwrap().clone();
        let keep: Vec<usize> = [
            "completed",
            "handshake_mean_ms",
            "rtx_syn",
            "rtx_data",
            "segments_dropped",
            "events",
        ]
        .iter()
        .map(|c| h.iter().position(|x| x == *c).unwrap())
        .collect();
        let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
        assert_eq!(rows.len(), 1, "one sweep point, one replication");
        keep.iter().map(|&i| rows[0][i].to_string()).collect()
    };
    assert_ne!(
        results(&a),
        results(&b),
        "seeds 1 and 2 gave the same results"
    );
    let c = tmp.path().join("c");
    ok(&[
        "run",
        "experiments/loss-sweep.toml",
        "--seed",
        "1",
        "--set",
        "workload.connections=200",
        "--set",
        "experiment.replications=1",
        "--set",
        "sweep.link.loss=[0.1]",
        "--out",
        c.to_str().unwrap(),
    ]);
    assert_eq!(
        results(&a),
        results(&c),
        "the same seed gave different results"
    );
}

#[test]
fn basic_experiment_results_make_sense() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("basic");
    ok(&[
        "run",
        "experiments/basic.toml",
        "--set",
        "workload.connections=200",
        "--out",
        d.to_str().unwrap(),
    ]);
    let bytes = read(&d, "summary.csv");
    let mut r = csv::Reader::from_reader(&bytes[..]);
    let h = r.headers().unwrap().clone();
    let col = |row: &csv::StringRecord, name: &str| {
        row[h.iter().position(|x| x == name).unwrap()].to_string()
    };
    let rows: Vec<_> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 3, "three replications");
    for row in &rows {
        assert_eq!(col(row, "completed"), "200");
        // One round trip on a 10 ms link, exactly.
        assert_eq!(col(row, "handshake_p50_ms"), "20.000000");
        assert_eq!(col(row, "handshake_max_ms"), "20.000000");
        assert_eq!(col(row, "time_wait_peak_server"), "0");
        assert_eq!(col(row, "stop"), "done");
    }
}

#[test]
fn bad_input_exits_nonzero_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let o = out_dir.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["run", "experiments/nope.toml", "--out", o],
            "nope.toml",
        ),
        (
            vec![
                "run",
                "experiments/basic.toml",
                "--set",
                "link.loss=1.5",
                "--out",
                o,
            ],
            "link.loss",
        ),
        (
            vec![
                "run",
                "experiments/basic.toml",
                "--set",
                "tcp.msl=30",
                "--out",
                o,
            ],
            "tcp.msl",
        ),
        (
            vec![
                "run",
                "experiments/basic.toml",
                "--set",
                "sweep.link.loss=[]",
                "--out",
                o,
            ],
            "empty",
        ),
        (
            vec![
                "check",
                "experiments/basic.toml",
                "--set",
                "link.nonsense=1",
            ],
            "nonsense",
        ),
    ];
    for (args, needle) in cases {
        let out = tcpsim(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: {err:?} should mention {needle:?}"
        );
        assert!(!out_dir.exists(), "{args:?} wrote {}", out_dir.display());
    }
}

/// A panic is a bug; it must still name its run and seed, print a command that repeats the
/// run alone, and leave no result file behind. `TCPSIM_INJECT_PANIC` makes one run panic.
#[test]
fn a_panic_names_its_run_and_the_command_that_repeats_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let bin = env!("CARGO_BIN_EXE_tcpsim");
    let run = |args: &[&str], inject: Option<&str>| {
        let mut cmd = std::process::Command::new(bin);
        cmd.args(args).current_dir(repo());
        match inject {
            Some(v) => cmd.env(experiment::current::INJECT_PANIC_ENV, v),
            None => cmd.env_remove(experiment::current::INJECT_PANIC_ENV),
        };
        cmd.output().expect("tcpsim runs")
    };
    let args = [
        "run",
        "experiments/basic.toml",
        "--set",
        "workload.connections=20",
        "--threads",
        "2",
        "--out",
        out_dir.to_str().unwrap(),
    ];
    let out = run(&args, Some("0,2"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // 101: Rust's exit code for a panic, not an input (2) or run (1) error.
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    assert!(stderr.contains("panics on purpose"), "{stderr}");
    assert!(
        stderr.contains("sweep point 0, replication 2 of experiments/basic.toml (seed 1)"),
        "{stderr}"
    );
    assert!(!out_dir.exists(), "a panicked run wrote {out_dir:?}");

    // The printed command repeats exactly that run: with the same injection it panics in
    // the same place, and without it it runs.
    let line = stderr
        .lines()
        .skip_while(|l| !l.contains("To reproduce it alone:"))
        .nth(1)
        .unwrap_or_else(|| panic!("no command in:\n{stderr}"));
    let repeat = line
        .trim()
        .strip_prefix("tcpsim ")
        .expect("a tcpsim command");
    assert!(
        repeat.contains("--set 'workload.connections=20'"),
        "{repeat}"
    );
    let via_shell = |inject: Option<&str>| {
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c")
            .arg(format!("\"{bin}\" {repeat} --format text"))
            .current_dir(repo());
        match inject {
            Some(v) => cmd.env(experiment::current::INJECT_PANIC_ENV, v),
            None => cmd.env_remove(experiment::current::INJECT_PANIC_ENV),
        };
        cmd.output().expect("sh runs")
    };
    let again = via_shell(Some("0,2"));
    let again_err = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(101), "{again_err}");
    assert!(
        again_err.contains("sweep point 0, replication 2 of experiments/basic.toml (seed 1)"),
        "{again_err}"
    );
    let clean = via_shell(None);
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    // Another run's injection leaves this one alone.
    assert!(run(&args, Some("0,7")).status.success());
}

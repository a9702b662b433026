//! `tcpsim reproduce` regenerates exactly what is committed in `results/`.

mod common;

use common::ok;

/// Every CSV, SVG and PNG under `results/` (run.json holds wall-clock speed and is skipped)
/// must be what a fresh `reproduce` writes, and `reproduce` must write nothing that is not
/// committed. Figures are compared too: they are part of what a user puts in a report.
#[test]
fn reproduce_matches_the_committed_results() {
    let out = tempfile::tempdir().expect("temp dir");
    let out_s = out.path().to_str().expect("utf-8 temp path");
    ok(&["reproduce", "--results", out_s, "--threads", "2"]);
    let committed = common::repo().join("results");
    let mut compared = 0;
    for exp in std::fs::read_dir(out.path()).expect("results written") {
        let exp = exp.expect("entry").path();
        let name = exp.file_name().expect("name").to_owned();
        for f in std::fs::read_dir(&exp).expect("experiment dir") {
            let f = f.expect("entry").path();
            let file = f.file_name().expect("name").to_owned();
            if file == "run.json" {
                continue;
            }
            let theirs = committed.join(&name).join(&file);
            let fresh = std::fs::read(&f).expect("fresh file");
            let old = std::fs::read(&theirs).unwrap_or_else(|_| {
                panic!(
                    "{} is produced by `tcpsim reproduce` but not committed",
                    theirs.display()
                )
            });
            assert!(
                fresh == old,
                "{} differs from what `tcpsim reproduce` writes: rerun it and commit",
                theirs.display()
            );
            compared += 1;
        }
    }
    assert!(compared >= 30, "only {compared} files compared");
}

/// `plot` finds the experiment from a results directory's run.json, and refuses a results
/// directory without the CSV it needs (exit 2, naming the file).
#[test]
fn plot_from_a_results_directory_and_missing_csv() {
    let out = tempfile::tempdir().expect("temp dir");
    let dir = out.path().join("lfa");
    let dir_s = dir.to_str().expect("utf-8");
    ok(&["run", "experiments/lost-final-ack.toml", "--out", dir_s]);
    ok(&["plot", dir_s]);
    assert!(dir.join("server-resets.svg").is_file() && dir.join("server-resets.png").is_file());
    std::fs::remove_file(dir.join("summary.csv")).expect("remove");
    let o = common::tcpsim(&[
        "plot",
        "experiments/lost-final-ack.toml",
        "--results",
        dir_s,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("summary.csv does not exist"));
}

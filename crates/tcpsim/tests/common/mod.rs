//! Running the built `tcpsim` binary from the repository root, shared by the CLI tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn tcpsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tcpsim"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("tcpsim runs")
}

/// Runs `tcpsim`, insisting on success; returns its output.
pub fn ok(args: &[&str]) -> Output {
    let out = tcpsim(args);
    assert!(
        out.status.success(),
        "tcpsim {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

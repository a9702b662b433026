//! The PGO set-up (README "Speed"): `.cargo/pgo-rustc` adds the committed profile to
//! optimized builds made with the LLVM that wrote it, and to nothing else; a binary says in
//! run.json whether it got it.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{ok, repo};

/// The host target the fake rustc reports.
const HOST: &str = "x86_64-fake-linux";

/// A stand-in for rustc: answers `-vV` with host [`HOST`] and LLVM `llvm`, and otherwise
/// prints its arguments, one per line, so the test sees what the wrapper passed on.
fn fake_rustc(dir: &Path, llvm: &str) -> PathBuf {
    let path = dir.join(format!("rustc-{llvm}"));
    let script = format!(
        "#!/bin/sh\nif [ \"$1\" = -vV ]; then printf 'rustc 0.0.0\\nhost: {HOST}\\nLLVM version: {llvm}\\n'; exit 0; fi\n\
         for a in \"$@\"; do echo \"$a\"; done\n"
    );
    std::fs::write(&path, script).unwrap();
    let mut perm = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&path, perm).unwrap();
    path
}

/// The arguments the wrapper hands to `rustc`, given `args`, with `TCPSIM_NO_PGO` set or not.
fn wrapped(rustc: &Path, args: &[&str], no_pgo: bool) -> Vec<String> {
    let mut cmd = Command::new(repo().join(".cargo/pgo-rustc"));
    cmd.arg(rustc).args(args).env_remove("TCPSIM_NO_PGO");
    if no_pgo {
        cmd.env("TCPSIM_NO_PGO", "1");
    }
    let out = cmd.output().expect("running .cargo/pgo-rustc");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn has_profile(args: &[String]) -> bool {
    // The wrapper names the profile by its absolute, symlink-free path.
    let profile = repo()
        .canonicalize()
        .unwrap()
        .join("benches/pgo/tcpsim.profdata");
    let flag = format!("-Cprofile-use={}", profile.display());
    let used = args.contains(&flag);
    // The cfg comes with the profile, never alone: it is what run.json's `pgo` reports.
    assert_eq!(used, args.iter().any(|a| a == "tcpsim_pgo"), "{args:?}");
    used
}

#[test]
fn the_wrapper_adds_the_profile_to_optimized_host_builds_of_its_llvm_only() {
    let llvm = std::fs::read_to_string(repo().join("benches/pgo/llvm-version"))
        .expect("benches/pgo/llvm-version is committed beside the profile");
    let llvm = llvm.trim();
    assert!(!llvm.is_empty());
    let tmp = tempfile::tempdir().unwrap();
    let same = fake_rustc(tmp.path(), llvm);
    let other = fake_rustc(tmp.path(), "1.0.0");
    let release = ["--crate-name", "x", "-C", "opt-level=3", "src/lib.rs"];
    let joined = ["--crate-name", "x", "-Copt-level=2", "src/lib.rs"];
    let debug = ["--crate-name", "x", "-C", "debuginfo=2", "src/lib.rs"];
    let host = ["--target", HOST, "-C", "opt-level=3", "src/lib.rs"];
    let host_joined = [
        "--target=x86_64-fake-linux",
        "-C",
        "opt-level=3",
        "src/lib.rs",
    ];
    let cross = [
        "--target",
        "aarch64-fake-linux",
        "-C",
        "opt-level=3",
        "src/lib.rs",
    ];
    let cross_joined = [
        "--target=aarch64-fake-linux",
        "-C",
        "opt-level=3",
        "src/lib.rs",
    ];

    let args = wrapped(&same, &release, false);
    assert!(has_profile(&args), "{args:?}");
    // Everything cargo passed goes through, in order, before what the wrapper adds.
    assert_eq!(args[..release.len()], release.map(String::from));
    for a in [&joined[..], &host[..], &host_joined[..]] {
        assert!(has_profile(&wrapped(&same, a, false)), "{a:?}");
    }

    // Not optimized, turned off, another LLVM (which may not read the file), or another
    // target (whose code the profile does not describe): unchanged.
    for (rustc, a, off) in [
        (&same, &debug[..], false),
        (&same, &release[..], true),
        (&other, &release[..], false),
        (&same, &cross[..], false),
        (&same, &cross_joined[..], false),
    ] {
        let args = wrapped(rustc, a, off);
        assert!(!has_profile(&args), "{args:?}");
        assert_eq!(args, a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    }
}

/// The symbol hashes a profile is keyed by come from `-C metadata`: the wrapper makes it a
/// function of the crate's name, kind and features, so that cargo's value (which depends on
/// the checkout's path and the build's features) does not decide whether the profile fits.
#[test]
fn the_wrapper_fixes_the_metadata_of_optimized_host_builds() {
    let llvm = std::fs::read_to_string(repo().join("benches/pgo/llvm-version")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let rustc = fake_rustc(tmp.path(), llvm.trim());
    let unit = |name: &str, feature: &str, metadata: &str, opt: &str| {
        let args = [
            "--crate-name",
            name,
            "--crate-type",
            "lib",
            "--cfg",
            feature,
            "-C",
            opt,
            "-C",
            metadata,
            "src/lib.rs",
        ];
        let out = wrapped(&rustc, &args, false);
        let at = out.iter().position(|a| a.starts_with("metadata=")).unwrap();
        assert_eq!(out[at - 1], "-C");
        out[at].clone()
    };
    let o3 = "opt-level=3";
    let here = unit("tcp_model", "feature=\"std\"", "metadata=1a2b3c", o3);
    let there = unit("tcp_model", "feature=\"std\"", "metadata=9f8e7d", o3);
    assert_eq!(here, there, "another checkout, the same symbols");
    assert!(here.starts_with("metadata=tcpsim-"), "{here}");
    assert_ne!(
        here,
        unit("sim_core", "feature=\"std\"", "metadata=1a2b3c", o3)
    );
    assert_ne!(
        here,
        unit("tcp_model", "feature=\"x\"", "metadata=1a2b3c", o3)
    );
    // A debug build keeps cargo's value.
    let debug = unit(
        "tcp_model",
        "feature=\"std\"",
        "metadata=1a2b3c",
        "debuginfo=2",
    );
    assert_eq!(debug, "metadata=1a2b3c");
}

/// CI sets `TCPSIM_REQUIRE_PGO=1`: its toolchain is the profile's, so its tests must run a
/// binary built with it. Elsewhere a build without it is allowed, and run.json must say so.
#[test]
fn run_json_says_whether_the_build_used_the_profile() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    ok(&[
        "run",
        "experiments/basic.toml",
        "--set",
        "workload.connections=10",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap();
    let pgo = json["pgo"].as_bool().expect("run.json has a boolean `pgo`");
    if std::env::var_os("TCPSIM_REQUIRE_PGO").is_some() {
        assert!(
            pgo,
            "TCPSIM_REQUIRE_PGO is set but tcpsim was built without benches/pgo/tcpsim.profdata"
        );
    }
}

//! `tcpsim trace`: one connection's timeline from a shipped experiment file, as text or CSV,
//! byte-identical on every run; out-of-range choices exit with status 2.

mod common;
use common::tcpsim;

fn ok(args: &[&str]) -> String {
    String::from_utf8(common::ok(args).stdout).expect("utf-8")
}

#[test]
fn text_trace_starts_with_the_clients_syn_and_ends_closed() {
    let text = ok(&["trace", "experiments/basic.toml", "--connection", "3"]);
    let first = text.lines().next().expect("a first line");
    let fields: Vec<&str> = first.split_whitespace().collect();
    assert_eq!(
        &fields[1..6],
        ["client", "SYN_SENT", "-->", "SYN", "seq=0"],
        "{first}"
    );
    assert!(first.ends_with("mss=1460"), "{first}");
    assert!(
        text.contains("server  LISTEN -> SYN_RECEIVED (rcvd SYN seq=0)"),
        "{text}"
    );
    assert!(
        text.contains("server  SYN_RECEIVED --> SYN|ACK seq=0 ack=1"),
        "{text}"
    );
    let last = text.lines().last().unwrap();
    assert!(
        last.contains("client  TIME_WAIT -> CLOSED (timer time_wait)"),
        "{last}"
    );
    // Same file, same seed: the same bytes.
    assert_eq!(
        text,
        ok(&["trace", "experiments/basic.toml", "--connection", "3"])
    );
}

#[test]
fn csv_trace_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trace.csv");
    let f = file.to_str().unwrap();
    let args = [
        "trace",
        "experiments/basic.toml",
        "--connection",
        "7",
        "--replication",
        "2",
        "--format",
        "csv",
        "--out",
        f,
    ];
    assert_eq!(ok(&args), "", "nothing on stdout with --out");
    let a = std::fs::read(&file).unwrap();
    let mut r = csv::Reader::from_reader(a.as_slice());
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "time_ns",
            "side",
            "event",
            "direction",
            "flags",
            "seq",
            "ack",
            "rel_seq",
            "rel_ack",
            "len",
            "window",
            "options",
            "from_state",
            "to_state",
            "cause",
            "detail"
        ]
    );
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert!(rows.len() > 20);
    assert_eq!(
        (&rows[0][1], &rows[0][2], &rows[0][4]),
        ("client", "send", "SYN")
    );
    ok(&args);
    assert_eq!(a, std::fs::read(&file).unwrap(), "byte-identical");
    // Another replication is another run: another trace.
    let other = ok(&[
        "trace",
        "experiments/basic.toml",
        "--connection",
        "7",
        "--format",
        "csv",
    ]);
    assert_ne!(other.as_bytes(), a.as_slice());
}

#[test]
fn seed_and_set_change_the_run() {
    let base = ok(&["trace", "experiments/basic.toml", "--connection", "0"]);
    let seeded = ok(&[
        "trace",
        "experiments/basic.toml",
        "--connection",
        "0",
        "--seed",
        "9",
    ]);
    assert_ne!(base, seeded, "another seed, other arrival times");
    let lossy = ok(&[
        "trace",
        "experiments/basic.toml",
        "--connection",
        "0",
        "--set",
        "link.loss=0.4",
        "--seed",
        "3",
    ]);
    assert!(lossy.contains("DROPPED (loss)"), "{lossy}");
}

#[test]
fn out_of_range_choices_exit_2_with_a_message() {
    for (args, needle) in [
        (
            vec!["--connection", "1000"],
            "--connection 1000 is out of range",
        ),
        (
            vec!["--connection", "0", "--point", "1"],
            "--point 1 is out of range",
        ),
        (
            vec!["--connection", "0", "--replication", "3"],
            "--replication 3 is out of range",
        ),
    ] {
        let mut all = vec!["trace", "experiments/basic.toml"];
        all.extend(args);
        let out = tcpsim(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {err}");
        assert!(err.contains(needle), "{err}");
        assert!(out.stdout.is_empty());
    }
    let out = tcpsim(&["trace", "experiments/basic.toml"]);
    assert_eq!(out.status.code(), Some(2), "--connection is required");
}

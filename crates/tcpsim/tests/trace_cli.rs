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

#[test]
fn ladder_format_draws_the_lifecycle_within_100_columns() {
    let args = [
        "trace",
        "experiments/basic.toml",
        "--connection",
        "3",
        "--format",
        "ladder",
    ];
    let text = ok(&args);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].trim_start().starts_with("time ms  client") && lines[0].ends_with("server"),
        "{text}"
    );
    assert!(lines[1].contains("| CLOSED") && lines[1].ends_with("| LISTEN"));
    for l in &lines {
        assert!(l.len() <= 100 && l.is_ascii(), "{l:?}");
    }
    let syn = lines
        .iter()
        .find(|l| l.contains(" SYN seq=0 mss=1460 "))
        .unwrap();
    assert!(
        syn.contains("|---") && syn.contains("-->| arrives "),
        "{syn}"
    );
    assert!(
        text.contains("|<") && text.contains(" SYN|ACK seq=0 ack=1 mss=1460 "),
        "{text}"
    );
    assert!(
        lines
            .last()
            .unwrap()
            .ends_with("| TIME_WAIT -> CLOSED (2MSL timer) closed: normal        |"),
        "{text}"
    );
    assert_eq!(text, ok(&args), "byte-identical");
}

/// The pcap records' (timestamp ns, TCP flags byte), read with a minimal parser.
fn pcap_records(file: &[u8]) -> Vec<(u64, u8)> {
    let le = |at: usize| u32::from_le_bytes(file[at..at + 4].try_into().unwrap());
    assert_eq!(le(0), 0xa1b2_3c4d, "pcap with nanosecond timestamps");
    let mut at = 24;
    let mut out = Vec::new();
    while at < file.len() {
        let ts = u64::from(le(at)) * 1_000_000_000 + u64::from(le(at + 4));
        let caplen = le(at + 8) as usize;
        // LINKTYPE_RAW: IPv4 header (20 bytes), then TCP; flags are TCP byte 13.
        out.push((ts, file[at + 16 + 20 + 13]));
        at += 16 + caplen;
    }
    assert_eq!(at, file.len());
    out
}

#[test]
fn pcap_is_written_alongside_the_other_output() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("c3.pcap");
    let csv_path = dir.path().join("c3.csv");
    let (p, c) = (pcap.to_str().unwrap(), csv_path.to_str().unwrap());
    let base = ["trace", "experiments/basic.toml", "--connection", "3"];
    let mut args = base.to_vec();
    args.extend(["--format", "csv", "--out", c, "--pcap", p]);
    assert_eq!(ok(&args), "", "nothing on stdout");
    let bytes = std::fs::read(&pcap).unwrap();
    let recs = pcap_records(&bytes);
    // A capture on the client: its sends at their send time, deliveries at arrival.
    let csv_bytes = std::fs::read(&csv_path).unwrap();
    let mut r = csv::Reader::from_reader(csv_bytes.as_slice());
    let want: Vec<(u64, String)> = r
        .records()
        .map(|x| x.unwrap())
        .filter(|row| &row[1] == "client" && (&row[2] == "send" || &row[2] == "deliver"))
        .map(|row| (row[0].parse().unwrap(), row[4].to_string()))
        .collect();
    let flag_names = |f: u8| {
        let names: Vec<&str> = [
            (0x02, "SYN"),
            (0x04, "RST"),
            (0x01, "FIN"),
            (0x08, "PSH"),
            (0x10, "ACK"),
        ]
        .iter()
        .filter(|(b, _)| f & b != 0)
        .map(|(_, n)| *n)
        .collect();
        names.join("|")
    };
    let got: Vec<(u64, String)> = recs.iter().map(|&(t, f)| (t, flag_names(f))).collect();
    assert_eq!(got, want);
    assert_eq!(
        got[..3].iter().map(|g| g.1.as_str()).collect::<Vec<_>>(),
        ["SYN", "SYN|ACK", "ACK"]
    );
    assert!(!dir.path().join("c3.pcap.tmp").exists());
    // Same run, same bytes; the server's capture is another file.
    ok(&args);
    assert_eq!(bytes, std::fs::read(&pcap).unwrap());
    let mut server = base.to_vec();
    server.extend(["--pcap", p, "--capture-at", "server"]);
    let text = ok(&server);
    assert!(
        text.contains("SYN_SENT     --> SYN seq=0"),
        "text still on stdout"
    );
    let srecs = pcap_records(&std::fs::read(&pcap).unwrap());
    assert_eq!(srecs.len(), recs.len());
    assert!(
        srecs[0].0 > recs[0].0,
        "the server sees the SYN one delay later"
    );
}

#[test]
fn bad_output_paths_exit_2_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/x.pcap");
    let out = dir.path().join("trace.txt");
    let (m, o, d) = (
        missing.to_str().unwrap(),
        out.to_str().unwrap(),
        dir.path().to_str().unwrap(),
    );
    let base = ["trace", "experiments/basic.toml", "--connection", "0"];
    for (extra, needle) in [
        (vec!["--pcap", m], "does not exist"),
        (vec!["--out", o, "--pcap", m], "does not exist"),
        (vec!["--pcap", d], "is a directory"),
        (vec!["--out", m], "does not exist"),
        (vec!["--out", o, "--pcap", o], "give them different files"),
    ] {
        let mut args = base.to_vec();
        args.extend(&extra);
        let r = tcpsim(&args);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(err.contains("--pcap") || err.contains("--out"), "{err}");
        assert!(r.stdout.is_empty());
        assert!(!out.exists(), "nothing written");
    }
    // --capture-at means nothing without --pcap.
    let mut args = base.to_vec();
    args.extend(["--capture-at", "server"]);
    assert_eq!(tcpsim(&args).status.code(), Some(2));
}

/// A locked-out client of experiments/syn-flood.toml (point 6: cookies off, 100 spoofed
/// SYNs/s; connection 1500 arrives at 15.2 s, as `tcpsim trace` shows): the server discards
/// its SYN and each retransmission, and the trace says why, right after each delivery. With
/// cookies off the `tcp_max_syn_backlog` clause drops it first (193 of 256 half-open);
/// with a larger `syn_backlog` the SYN queue itself (256 = `accept_backlog`) is full.
#[test]
fn a_syn_flood_victims_dropped_syns_say_why() {
    let base = [
        "trace",
        "experiments/syn-flood.toml",
        "--point",
        "6",
        "--connection",
        "1500",
    ];
    for (set, reason) in [
        (None, "SYN backlog (tcp_max_syn_backlog)"),
        (Some("tcp.server.syn_backlog=4096"), "SYN queue full"),
    ] {
        let mut args = base.to_vec();
        if let Some(s) = set {
            args.extend(["--set", s]);
        }
        let text = ok(&args);
        let lines: Vec<&str> = text.lines().collect();
        let delivered: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].contains("server  [deliver]        SYN seq=0 "))
            .collect();
        // The SYN and its 6 retransmissions (1, 3, 7, 15, 31, 63 s later) reach the server;
        // only the last finds room.
        assert_eq!(delivered.len(), 7, "{text}");
        for &i in &delivered[..6] {
            let next = lines[i + 1];
            assert!(
                next.ends_with(&format!("server  [discard]        {reason}")),
                "{text}"
            );
            assert_eq!(next[..13], lines[i][..13], "same instant: {next}");
        }
        let answered = lines[delivered[6] + 1];
        assert!(answered.contains("SYN_RECEIVED --> SYN|ACK"), "{text}");
        assert_eq!(text.matches("[discard]").count(), 6, "{text}");
    }

    let mut args = base.to_vec();
    args.extend(["--format", "csv"]);
    let csv_text = ok(&args);
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    let first = rows
        .iter()
        .position(|r| &r[2] == "discard")
        .expect("a discard row");
    let (deliver, discard) = (&rows[first - 1], &rows[first]);
    assert_eq!((&deliver[1], &deliver[2]), ("server", "deliver"));
    assert_eq!(
        (&discard[1], &discard[3], &discard[4], &discard[7]),
        ("server", "c2s", "SYN", "0"),
        "the discarded segment's columns: {discard:?}"
    );
    assert_eq!(&discard[0], &deliver[0]);
    assert_eq!(&discard[15], "SYN backlog (tcp_max_syn_backlog)");

    let mut args = base.to_vec();
    args.extend(["--format", "ladder"]);
    let ladder = ok(&args);
    for l in ladder.lines() {
        assert!(l.len() <= 100 && l.is_ascii(), "{l:?}");
    }
    assert_eq!(ladder.matches("| SYN not accepted:").count(), 6, "{ladder}");
    assert_eq!(
        ladder.matches("| (tcp_max_syn_backlog)").count(),
        6,
        "{ladder}"
    );

    // A capture has no place for a discard: the server's shows the 7 SYNs that reached it.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("server.pcap");
    let mut args = base.to_vec();
    args.extend(["--pcap", file.to_str().unwrap(), "--capture-at", "server"]);
    ok(&args);
    let records = pcap_records(&std::fs::read(&file).unwrap());
    let syns = records.iter().filter(|&&(_, flags)| flags == 0x02).count();
    assert_eq!(syns, 7, "{records:?}");
}

/// A port reused while the server still holds its 4-tuple in TIME-WAIT
/// (experiments/port-exhaustion.toml, point 26: the server closes first, 400 arrivals/s over
/// 1000 ports, so connection 1000 takes port 40000 again at 2.4 s, 7.6 s before that
/// TIME-WAIT ends). With reopening refused and the RFC's answers, the TIME-WAIT answers the
/// SYN with a challenge ACK (RFC 5961 §4), and the trace says so after the delivery; the
/// client resets it (which kills the TIME-WAIT, RFC 9293's default) and its retransmitted SYN
/// gets in. Linux's TIME-WAIT answers it with a plain ACK: "not acceptable". With Linux's
/// reopening rule the newer SYN reopens the 4-tuple at once: no discard.
#[test]
fn a_syn_refused_by_a_time_wait_says_challenge_ack() {
    let base = [
        "trace",
        "experiments/port-exhaustion.toml",
        "--point",
        "26",
        "--connection",
        "1000",
    ];
    let syn_at = |lines: &[&str]| {
        lines
            .iter()
            .position(|l| l.contains("server  [deliver]        SYN seq=0 "))
            .expect("the SYN reaches the server")
    };
    let mut linux = base.to_vec();
    linux.extend(["--set", "tcp.server.tw_reopen=refuse"]);
    let text = ok(&linux);
    let lines: Vec<&str> = text.lines().collect();
    let reason = lines[syn_at(&lines) + 1];
    assert!(
        reason.ends_with("server  [discard]        not acceptable"),
        "{text}"
    );
    let mut args = linux.clone();
    args.extend(["--set", "tcp.server.tw_acks=rfc9293"]);
    let text = ok(&args);
    let lines: Vec<&str> = text.lines().collect();
    let syn = syn_at(&lines);
    assert!(
        lines[syn + 1].ends_with("server  [discard]        challenge ACK sent"),
        "{text}"
    );
    assert_eq!(lines[syn + 1][..13], lines[syn][..13], "same instant");
    // The ACK is connection 0's (its TIME-WAIT holds the 4-tuple), shown as its answer with
    // absolute numbers; the client's RST takes its number from that ACK, absolute too.
    let ack = lines[syn + 2];
    assert!(
        ack.contains("server  TIME_WAIT    --> ACK seq=")
            && ack.contains("(abs) ack=")
            && ack.ends_with("[of connection 0]"),
        "{text}"
    );
    let acked = ack
        .split(" ack=")
        .nth(1)
        .unwrap()
        .split('(')
        .next()
        .unwrap();
    assert!(
        lines[syn + 3].contains("client  [deliver]        ACK seq="),
        "{text}"
    );
    assert!(
        lines[syn + 4].ends_with("client  [discard]        not acceptable"),
        "{text}"
    );
    assert!(
        lines[syn + 5].contains(&format!("client  SYN_SENT     --> RST seq={acked}(abs) ")),
        "{text}"
    );
    let mut ladder = args.clone();
    ladder.extend(["--format", "ladder"]);
    let ladder = ok(&ladder);
    assert!(ladder.contains("| TIME_WAIT of connection 0"), "{ladder}");
    // At 5.0 s connection 2000 takes the port again and meets this connection's own
    // TIME-WAIT at the server, whose challenge ACK the client (in SYN-SENT for connection
    // 2000) does not accept.
    assert_eq!(text.matches("[discard]").count(), 3, "{text}");
    let tw_ack = lines
        .iter()
        .rposition(|l| l.contains("server  TIME_WAIT    --> ACK "))
        .expect("the TIME-WAIT's challenge ACK (the first such line is its final ACK)");
    assert!(
        lines[tw_ack + 2].ends_with("client  [discard]        not acceptable"),
        "{text}"
    );
    assert!(
        text.contains("SYN seq=0 win=65535 mss=1460 (retransmission)")
            && text.contains("server  LISTEN -> SYN_RECEIVED"),
        "{text}"
    );
    let linux = ok(&base);
    assert!(!linux.contains("[discard]"), "{linux}");
    assert!(!linux.contains("(retransmission)"), "{linux}");
}

//! `ladder::write_ladder`: a trace as a client/server sequence diagram. The golden test shows
//! the whole diagram of a clean lifecycle, so any change of layout or of the engine's story
//! shows up as a diff; the others check the markers of the loss stories.

mod common;

use experiment::engine;
use experiment::ladder::{write_ladder, LADDER_MAX_WIDTH};
use experiment::trace::Trace;

/// The configuration of tests/trace.rs: 10 ms each way, 100-byte request, 1000-byte response.
fn trace(extra: &str, connection: u64) -> Trace {
    let exp = common::three_connections("trace", extra, &[]);
    engine::run_traced(&exp.points[0].config, exp.seed, 0, 0, connection)
        .expect("traced run")
        .1
}

fn ladder(t: &Trace) -> String {
    let mut v = Vec::new();
    write_ladder(t, &mut v).unwrap();
    let s = String::from_utf8(v).expect("utf-8");
    for line in s.lines() {
        assert!(line.len() <= LADDER_MAX_WIDTH, "too wide: {line:?}");
        assert!(line.is_ascii(), "not ASCII: {line:?}");
        assert_eq!(line, line.trim_end(), "trailing spaces: {line:?}");
    }
    s
}

const DROP_SYN: &str = r#"
[[fault]]
direction = "client_to_server"
connection = 0
action = "drop"
flags = "SYN"
"#;

const LOST_FINAL_ACK: &str = r#"
[[fault]]
direction = "client_to_server"
connection = 0
action = "drop"
flags = "ACK"
payload = "empty"
after_fin = true
"#;

/// The lines of `s` containing `needle`, with their index.
fn lines_with<'a>(s: &'a str, needle: &str) -> Vec<(usize, &'a str)> {
    s.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .collect()
}

#[test]
fn clean_lifecycle_golden() {
    let got = ladder(&trace("", 0));
    let want = r"  time ms  client                                                   server
           | CLOSED                                                 | LISTEN
           |                                                        |
    0.000  |----------------- SYN seq=0 mss=1460 ------------------>| arrives 10.000
           | CLOSED -> SYN_SENT (connect)                           |
           |                                                        |
   10.000  |<------------ SYN|ACK seq=0 ack=1 mss=1460 -------------| arrives 20.000
           |                                                        | LISTEN -> SYN_RECEIVED
           |                                                        | (rcvd SYN)
           |                                                        |
   20.000  |------------------- ACK seq=1 ack=1 ------------------->| arrives 30.000
           | SYN_SENT -> ESTABLISHED (rcvd SYN|ACK)                 |
           | app sends 100 bytes                                    |
           |------------- PSH|ACK seq=1 ack=1 len=100 ------------->| arrives 30.000
           |                                                        |
   30.000  |                                                        | SYN_RECEIVED -> ESTABLISHED
           |                                                        | (rcvd ACK)
           |<------------------ ACK seq=1 ack=101 ------------------| arrives 40.000
           |                                                        | app sends 1000 bytes
           |<----------- PSH|ACK seq=1 ack=101 len=1000 ------------| arrives 40.000
           |                                                        |
   40.000  |---------------- ACK seq=101 ack=1001 ----------------->| arrives 50.000
           | ESTABLISHED -> FIN_WAIT_1 (close)                      |
           |-------------- FIN|ACK seq=101 ack=1001 --------------->| arrives 50.000
           |                                                        |
   50.000  |<---------------- ACK seq=1001 ack=102 -----------------| arrives 60.000
           |                                                        | ESTABLISHED -> CLOSE_WAIT
           |                                                        | (rcvd FIN|ACK)
           |                                                        | CLOSE_WAIT -> LAST_ACK (close)
           |<-------------- FIN|ACK seq=1001 ack=102 ---------------| arrives 60.000
           |                                                        |
   60.000  | FIN_WAIT_1 -> FIN_WAIT_2 (rcvd ACK)                    |
           |---------------- ACK seq=102 ack=1002 ----------------->| arrives 70.000
           | FIN_WAIT_2 -> TIME_WAIT (rcvd FIN|ACK)                 |
           |                                                        |
   70.000  |                                                        | LAST_ACK -> CLOSED (rcvd ACK)
           |                                                        | closed: normal
           |                                                        |
60060.000  | TIME_WAIT -> CLOSED (2MSL timer) closed: normal        |
";
    if got != want {
        panic!("ladder changed; got:\n{got}\nwanted:\n{want}");
    }
}

#[test]
fn dropped_syn_ends_in_x_and_is_retransmitted_after_the_initial_rto() {
    let s = ladder(&trace(DROP_SYN, 0));
    let lost = lines_with(&s, "LOST (fault)");
    assert_eq!(lost.len(), 1, "{s}");
    let (i, line) = lost[0];
    // The arrow starts at the client's lifeline and stops short of the server's, in an X.
    assert!(line.starts_with("    0.000  |---"), "{line}");
    assert!(line.contains(" SYN seq=0 mss=1460 "), "{line}");
    let x = line.find('X').unwrap();
    assert!(line[x + 1..].starts_with("   "), "{line}");
    assert!(!line.contains('>'), "{line}");
    // RFC 6298 §2.1: the SYN goes again after the 1 s initial RTO, this time all the way.
    let rto = lines_with(&s, "RTO timer fires");
    assert_eq!(rto.len(), 1, "{s}");
    assert!(
        rto[0].0 > i && rto[0].1.starts_with(" 1000.000  | RTO"),
        "{s}"
    );
    let rtx = lines_with(&s, "(retransmission)");
    assert_eq!(rtx.len(), 1, "{s}");
    assert_eq!(rtx[0].0, rto[0].0 + 1, "{s}");
    assert!(
        rtx[0].1.ends_with("-->| arrives 1010.000")
            && rtx[0].1.contains("SYN seq=0 mss=1460 (retransmission)"),
        "{s}"
    );
    assert!(
        s.contains(" 1010.000  |<"),
        "the SYN|ACK answers at 1010 ms:\n{s}"
    );
    assert!(s.contains("61060.000  | TIME_WAIT -> CLOSED (2MSL timer) closed: normal"));
}

#[test]
fn lost_final_ack_ends_in_x_and_the_server_retransmits_its_fin() {
    let s = ladder(&trace(LOST_FINAL_ACK, 0));
    let lost = lines_with(&s, "LOST (fault)");
    assert_eq!(lost.len(), 1, "{s}");
    let (i, line) = lost[0];
    // At 60 ms, right after the client's FIN-WAIT-1 -> FIN-WAIT-2 line, same instant.
    assert!(line.starts_with("           |---"), "{line}");
    assert_eq!(
        s.lines().nth(i - 1),
        Some("   60.000  | FIN_WAIT_1 -> FIN_WAIT_2 (rcvd ACK)                    |"),
        "{s}"
    );
    assert!(
        line.contains(" ACK seq=102 ack=1002 ---") && line.contains("-X "),
        "{line}"
    );
    // The client enters TIME-WAIT right after sending it; the server sits in LAST-ACK until
    // its RTO (SRTT + TCP_RTO_MIN = 220 ms on this 20 ms RTT, as Linux's) retransmits the FIN
    // from the server's lifeline.
    let next: Vec<&str> = s.lines().skip(i + 1).collect();
    assert!(
        next[0].contains("| FIN_WAIT_2 -> TIME_WAIT (rcvd FIN|ACK)"),
        "{s}"
    );
    let rto = lines_with(&s, "| RTO timer fires");
    assert_eq!(rto.len(), 1, "{s}");
    assert!(rto[0].1.starts_with("  270.000  |  "), "{s}");
    let rtx = lines_with(&s, "(retransmission)");
    assert_eq!(rtx.len(), 1, "{s}");
    assert_eq!(rtx[0].0, rto[0].0 + 1);
    assert!(
        rtx[0].1.contains("|<--")
            && rtx[0]
                .1
                .contains(" FIN|ACK seq=1001 ack=102 (retransmission) ")
            && rtx[0].1.ends_with("-| arrives 280.000"),
        "{s}"
    );
    // TIME-WAIT answers the retransmitted FIN; that ACK gets through and closes the server.
    let reack = lines_with(&s, "  280.000  |---");
    assert_eq!(reack.len(), 1, "{s}");
    assert!(
        reack[0].1.contains(" ACK seq=102 ack=1002 ") && reack[0].1.ends_with(">| arrives 290.000")
    );
    assert!(s.contains("  290.000  |"), "{s}");
    assert!(s.contains("| LAST_ACK -> CLOSED (rcvd ACK)\n"), "{s}");
}

#[test]
fn a_lost_syn_ack_ends_in_x_near_the_client() {
    let s = ladder(&trace(
        "[[fault]]\ndirection = \"server_to_client\"\nconnection = 0\naction = \"drop\"\nflags = \"SYN|ACK\"",
        0,
    ));
    let lost = lines_with(&s, "LOST (fault)");
    assert_eq!(lost.len(), 1, "{s}");
    let line = lost[0].1;
    // Drawn from the server's lifeline leftwards, stopping short of the client's in an X.
    assert!(line.starts_with("   10.000  |   "), "{line}");
    assert!(
        line.contains(" X--- SYN|ACK seq=0 ack=1 mss=1460 ---"),
        "{line}"
    );
    assert!(
        line.ends_with("-| LOST (fault)") && !line.contains('<'),
        "{line}"
    );
    // Both ends time out: the client's SYN at 1 s, the server's SYN|ACK at 1 s after its own.
    assert_eq!(lines_with(&s, "RTO timer fires").len(), 2, "{s}");
    assert!(lines_with(&s, "(retransmission)").len() >= 2, "{s}");
}

#[test]
fn simultaneous_open_shows_two_syns_and_two_syn_acks_none_a_retransmission() {
    let s = ladder(&trace("open = \"simultaneous\"\nopen_skew = \"5ms\"", 0));
    // Both SYNs cross, each side answers with a SYN-ACK repeating its own SYN's number.
    assert_eq!(lines_with(&s, "-- SYN seq=0 mss=1460 --").len(), 2, "{s}");
    assert_eq!(
        lines_with(&s, "SYN|ACK seq=0 ack=1 mss=1460 --").len(),
        2,
        "{s}"
    );
    assert_eq!(lines_with(&s, "SYN_SENT -> SYN_RECEIVED").len(), 2, "{s}");
    assert_eq!(
        lines_with(&s, "SYN_RECEIVED -> ESTABLISHED").len(),
        2,
        "{s}"
    );
    assert!(lines_with(&s, "(retransmission)").is_empty(), "{s}");
    assert!(lines_with(&s, "LISTEN").is_empty(), "nobody listens: {s}");
    // And the server's column starts CLOSED, where the client's SYN finds no socket.
    let refused = ladder(&trace("open = \"simultaneous\"\nopen_skew = \"11ms\"", 0));
    assert!(lines_with(&refused, "LISTEN").is_empty(), "{refused}");
    let head = refused.lines().nth(1).unwrap_or_default();
    assert_eq!(head.matches("| CLOSED").count(), 2, "{refused}");
}

#[test]
fn duplicates_are_marked_with_both_arrivals() {
    let s = ladder(&trace(
        "[link.client_to_server]\nduplicate = 1.0\n[link.server_to_client]\ndelay = \"10ms\"",
        0,
    ));
    let dups = lines_with(&s, "(duplicated)");
    assert!(dups.len() >= 4, "{s}");
    assert!(dups.iter().all(|(_, l)| l.contains("-->|")), "{s}");
    assert!(
        dups[0].1.contains(" SYN seq=0 mss=1460 (duplicated) ")
            && dups[0].1.ends_with("| arrives 10.000 and 10.000"),
        "{s}"
    );
    assert!(
        !s.contains("<-- SYN|ACK seq=0 ack=1 mss=1460 (duplicated)"),
        "{s}"
    );
}

#[test]
fn long_runs_widen_the_time_margin_and_stay_within_the_width() {
    // Uniform arrivals 1/0.0003 s apart: connection 2 starts at 6666.666… s.
    let exp_text = r#"
[experiment]
name = "slow"
seed = 5
max_sim_time = "10h"
[link]
delay = "10ms"
[workload]
connections = 3
arrival = "uniform"
rate = 0.0003
request_bytes = 100
response_bytes = 1000
"#;
    let exp = experiment::parse(
        std::path::Path::new("slow.toml"),
        exp_text,
        &experiment::Overrides::default(),
    )
    .expect("valid");
    let (_, t) = engine::run_traced(&exp.points[0].config, exp.seed, 0, 0, 2).unwrap();
    let s = ladder(&t);
    assert!(s.lines().any(|l| l.starts_with("6666666.666  |")), "{s}");
}

#[test]
fn the_same_trace_gives_the_same_bytes() {
    let extra = "[link.client_to_server]\nloss = 0.3\njitter = \"5ms\"\nduplicate = 0.2";
    assert_eq!(ladder(&trace(extra, 2)), ladder(&trace(extra, 2)));
}

//! Whole-engine stories with exact timings: a scripted fault must produce the retransmission
//! at the instant RFC 6298 and RFC 9293 predict. Link delay is 10 ms each way (RTT 20 ms).

mod common;

use experiment::engine::{self, RunOutput};
use experiment::stats::{ConnRow, Outcome, ServerOutcome};

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;

fn run(extra: &str) -> RunOutput {
    run_set(extra, &[])
}

fn run_set(extra: &str, set: &[&str]) -> RunOutput {
    let exp = common::three_connections(
        "scenario",
        &format!("[output]\nconnections = true\n{extra}"),
        set,
    );
    engine::run(&exp.points[0].config, exp.seed, 0, 0).expect("run")
}

fn conn(out: &RunOutput, id: u32) -> &ConnRow {
    out.connections.iter().find(|c| c.id == id).expect("row")
}

#[test]
fn clean_lifecycle_timings() {
    let out = run("");
    for c in &out.connections {
        assert_eq!(c.outcome, Outcome::Completed, "{c:?}");
        assert_eq!(c.server_outcome, Some(ServerOutcome::Closed));
        assert_eq!(c.handshake_ns, Some(20 * MS));
        // TIME-WAIT lasts exactly 2 × MSL (MSL 30 s by default).
        assert_eq!(
            c.client_closed_ns.unwrap() - c.time_wait_ns.unwrap(),
            60 * S
        );
        assert_eq!(c.rtx, [0, 0, 0, 0]);
    }
    assert_eq!(out.summary.completed(), 3);
    assert_eq!(out.summary.time_wait_peak_client, 3);
    assert_eq!(out.summary.time_wait_peak_server, 0);
}

#[test]
fn lost_syn_is_retransmitted_after_the_initial_rto() {
    let out = run(r#"
[[fault]]
direction = "client_to_server"
connection = 1
action = "drop"
flags = "SYN"
"#);
    let c = conn(&out, 1);
    // The SYN goes at t0, is lost, and goes again at t0 + 1 s (RFC 6298 §2.1 initial RTO).
    assert_eq!(c.handshake_ns, Some(S + 20 * MS));
    assert_eq!(c.rtx[0], 1);
    assert_eq!(c.outcome, Outcome::Completed);
    assert_eq!(
        conn(&out, 0).handshake_ns,
        Some(20 * MS),
        "other connections untouched"
    );
}

#[test]
fn two_lost_syns_back_off_exponentially() {
    let out = run(r#"
[[fault]]
direction = "client_to_server"
connection = 0
action = "drop"
flags = "SYN"
count = 2
"#);
    // Retransmissions at 1 s and 1 + 2 s (RFC 6298 §5.5 doubles the RTO).
    assert_eq!(conn(&out, 0).handshake_ns, Some(3 * S + 20 * MS));
    assert_eq!(conn(&out, 0).rtx[0], 2);
}

#[test]
fn syn_retries_exhausted_is_a_connect_timeout() {
    let out = run(r#"
[tcp.client]
syn_retries = 2
[[fault]]
direction = "client_to_server"
connection = 2
action = "drop"
flags = "SYN"
count = 10
"#);
    let c = conn(&out, 2);
    assert_eq!(c.outcome, Outcome::ConnectTimeout);
    assert_eq!(c.rtx[0], 2);
    // SYN at 0, 1 s, 3 s; the connection gives up when the third RTO (4 s) expires: t = 7 s.
    assert_eq!(c.client_closed_ns.unwrap() - c.connect_ns, 7 * S);
    assert_eq!(out.summary.count(Outcome::ConnectTimeout), 1);
}

#[test]
fn lost_syn_ack_is_recovered_one_rto_later() {
    let out = run(r#"
[[fault]]
direction = "server_to_client"
connection = 0
action = "drop"
flags = "SYN|ACK"
"#);
    let c = conn(&out, 0);
    // The SYN-ACK leaves at 10 ms and is lost. At 1 s the client's SYN retransmission and at
    // 1.010 s the server's SYN-ACK retransmission are due; either way the next SYN-ACK reaches
    // the client at 1.020 s.
    assert_eq!(c.handshake_ns, Some(S + 20 * MS));
    // The client's SYN again at 1 s; the server's SYN-ACK again at 1.010 s on its RTO, and
    // once more in answer to that duplicate SYN arriving the same instant.
    assert_eq!((c.rtx[0], c.rtx[1]), (1, 2), "{c:?}");
    assert_eq!(c.outcome, Outcome::Completed);
}

#[test]
fn lost_final_ack_fin_is_retransmitted_and_time_wait_reacks_it() {
    let out = run(r#"
[[fault]]
direction = "client_to_server"
connection = 0
action = "drop"
flags = "ACK"
payload = "empty"
after_fin = true
"#);
    let c = conn(&out, 0);
    let t_close = c.first_close_ns.unwrap();
    assert_eq!(c.rtx[3], 1, "the server retransmits its FIN once: {c:?}");
    assert_eq!(c.outcome, Outcome::Completed);
    assert_eq!(
        c.server_outcome,
        Some(ServerOutcome::Closed),
        "TIME-WAIT's re-ACK closes the server"
    );
    // The client's TIME-WAIT starts when the server's FIN arrives (close + 20 ms) and restarts
    // when the retransmitted FIN arrives, so it ends 2×MSL after that, not after the first.
    let server_rto = c.server_closed_ns.unwrap() - t_close - 30 * MS;
    // RTT samples of 20 ms give Linux's RTO of SRTT + rttvar = 20 + 200 ms (rttvar is never
    // below rto_min); RFC 6298 would give 60 ms, raised to rto_min = 200 ms.
    assert_eq!(server_rto, 220 * MS);
    assert_eq!(c.time_wait_ns, Some(t_close + 20 * MS));
    assert_eq!(
        c.client_closed_ns.unwrap(),
        t_close + 20 * MS + server_rto + 60 * S
    );
}

#[test]
fn time_wait_shorter_than_the_peers_rto_turns_the_retransmitted_fin_into_a_reset() {
    let out = run(r#"
[tcp.client]
msl = "20ms"
[[fault]]
direction = "client_to_server"
connection = 0
action = "drop"
flags = "ACK"
payload = "empty"
after_fin = true
"#);
    let c = conn(&out, 0);
    // TIME-WAIT is 40 ms, gone long before the server's FIN retransmission (>= 200 ms), which
    // then meets no connection and is answered with RST (RFC 9293 §3.10.7.1).
    assert_eq!(c.outcome, Outcome::Completed);
    assert_eq!(c.server_outcome, Some(ServerOutcome::Reset));
    assert_eq!(
        c.client_closed_ns.unwrap() - c.time_wait_ns.unwrap(),
        40 * MS
    );
    assert!(out.summary.rst_sent >= 1);
    assert_eq!(out.summary.server_reset, 1);
}

#[test]
fn ports_in_time_wait_cannot_be_reused() {
    let out = run_set(
        "",
        &[
            "tcp.client.ephemeral_ports=[40000, 40001]",
            "workload.connections=5",
            "workload.arrival=burst",
        ],
    );
    // Two ports: two connections get one each and then hold it through TIME-WAIT (60 s),
    // so the other three, all arriving at t = 0, find none.
    assert_eq!(out.summary.completed(), 2);
    assert_eq!(out.summary.count(Outcome::PortExhausted), 3);
    let ports: Vec<u16> = out
        .connections
        .iter()
        .filter(|c| c.outcome == Outcome::Completed)
        .map(|c| c.client_port)
        .collect();
    assert_eq!(ports.len(), 2);
    assert_ne!(ports[0], ports[1]);
}

#[test]
fn a_port_is_reused_once_its_time_wait_has_expired() {
    let out = run_set(
        "",
        &[
            "tcp.client.ephemeral_ports=[40000, 40001]",
            "tcp.client.msl=100ms",
            "workload.connections=3",
        ],
    );
    // One arrival per second and a 200 ms TIME-WAIT: every connection finds a free port, and
    // with two ports the third connection must reuse one of the first two.
    assert_eq!(out.summary.completed(), 3);
    let p: Vec<u16> = out.connections.iter().map(|c| c.client_port).collect();
    assert!(p.iter().all(|&x| x == 40000 || x == 40001), "{p:?}");
    assert!(p[2] == p[0] || p[2] == p[1]);
}

#[test]
fn server_closing_first_puts_the_server_in_time_wait() {
    let out = run_set("", &["workload.close_first=server"]);
    for c in &out.connections {
        assert_eq!(c.outcome, Outcome::Completed, "{c:?}");
        assert_eq!(c.server_outcome, Some(ServerOutcome::Closed));
        // The server's TIME-WAIT ends last: 2×MSL after it began.
        assert_eq!(
            c.server_closed_ns.unwrap() - c.time_wait_ns.unwrap(),
            60 * S
        );
        assert!(c.client_closed_ns.unwrap() < c.server_closed_ns.unwrap());
    }
    assert_eq!(out.summary.time_wait_peak_server, 3);
    assert_eq!(out.summary.time_wait_peak_client, 0);
}

#[test]
fn both_closing_at_once_is_a_simultaneous_close() {
    let out = run_set("", &["workload.close_first=both"]);
    for c in &out.connections {
        assert_eq!(c.outcome, Outcome::Completed, "{c:?}");
        assert_eq!(c.server_outcome, Some(ServerOutcome::Closed));
        // The FINs cross (CLOSING on both sides) and each side's FIN is ACKed one RTT after
        // the close: both enter TIME-WAIT, so both close 2×MSL later.
        assert_eq!(c.close_ns, Some(20 * MS), "{c:?}");
        assert_eq!(c.client_closed_ns, c.server_closed_ns);
    }
    assert_eq!(out.summary.time_wait_peak_client, 3);
    assert_eq!(out.summary.time_wait_peak_server, 3);
}

#[test]
fn pooling_reuses_one_handshake_for_several_exchanges() {
    let out = run_set("", &["workload.requests_per_connection=3"]);
    for c in &out.connections {
        assert_eq!(c.outcome, Outcome::Completed, "{c:?}");
        // Three request/response exchanges of one RTT each before the client closes.
        assert_eq!(
            c.first_close_ns.unwrap() - c.established_ns.unwrap(),
            3 * 20 * MS
        );
    }
    assert_eq!(out.summary.completed(), 3);
}

#[test]
fn think_time_delays_the_response() {
    let out = run_set("", &["workload.think_time=250ms"]);
    for c in &out.connections {
        assert_eq!(
            c.first_close_ns.unwrap() - c.established_ns.unwrap(),
            20 * MS + 250 * MS
        );
    }
}

#[test]
fn large_responses_span_many_segments() {
    let out = run_set(
        "",
        &["workload.response_bytes=100000", "link.bandwidth=10Mbps"],
    );
    for c in &out.connections {
        assert_eq!(c.outcome, Outcome::Completed, "{c:?}");
    }
    // 100 kB in 1460-byte segments is 69 data segments per connection from the server.
    assert!(
        out.summary.segments_s2c >= 3 * 69,
        "{}",
        out.summary.segments_s2c
    );
}

#[test]
fn every_outcome_is_accounted_for_under_heavy_loss() {
    let out = run_set(
        "",
        &[
            "link.loss=0.3",
            "workload.connections=200",
            "workload.rate=50.0",
        ],
    );
    let total: u64 = out.summary.outcomes.iter().sum();
    assert_eq!(total, 200);
    assert!(out.summary.rtx.iter().sum::<u64>() > 0);
    assert!(out.summary.completed() > 100, "{:?}", out.summary.outcomes);
}

#[test]
fn a_run_with_nothing_left_to_happen_but_open_connections_is_stalled() {
    // The server never closes and the client's FIN-WAIT-2 never times out (RFC 9293): once
    // the last ACK is delivered no event remains, yet every connection is still open.
    let stuck = run_set(
        "",
        &[
            "workload.server_close_on_eof=false",
            "tcp.client.fin_timeout=\"none\"",
        ],
    );
    assert_eq!(stuck.summary.stop, engine::StopReason::Stalled);
    assert_eq!(stuck.summary.stop.as_str(), "stalled");
    assert!(stuck
        .connections
        .iter()
        .all(|c| c.outcome == Outcome::Unfinished));
    // Each server end sits in CLOSE-WAIT, and summary.csv says so.
    assert_eq!(stuck.summary.server_unfinished, 3);
    // A server that closes on EOF lets the same FIN-WAIT-2 end: every connection finishes.
    let ends = run_set("", &["tcp.client.fin_timeout=\"none\""]);
    assert_eq!(ends.summary.stop, engine::StopReason::Done);
    assert_eq!(ends.summary.server_unfinished, 0);
}

#[test]
fn a_peer_that_crashes_mid_connection_leaves_the_other_end_half_open() {
    // The server thinks for 2 s before answering; at 1 s the path goes down for good. The
    // response of connection 0 is lost, and the server retransmits it until it gives up;
    // the client has nothing outstanding, so it waits in ESTABLISHED for ever (no keepalive).
    // Connections 1 and 2 arrive after the crash: their SYNs time out.
    let out = run_set(
        "",
        &[
            "workload.think_time=\"2s\"",
            "link.outages=[{ from = \"1s\" }]",
        ],
    );
    let c0 = conn(&out, 0);
    assert_eq!(c0.outcome, Outcome::Unfinished, "{c0:?}");
    assert_eq!(c0.server_outcome, Some(ServerOutcome::Timeout));
    assert!(c0.rtx[2] >= 10, "the response was retransmitted: {c0:?}");
    for id in [1, 2] {
        assert_eq!(conn(&out, id).outcome, Outcome::ConnectTimeout);
    }
    assert_eq!(out.summary.stop, engine::StopReason::Stalled);
    assert!(out.summary.dropped_c2s > 0 && out.summary.dropped_s2c > 0);
}

#[test]
fn simultaneous_open_crosses_below_the_one_way_delay_and_is_refused_above_it() {
    // Both ends connect; the server 5 ms after the client: the SYNs cross (10 ms delay).
    let out = run_set(
        "",
        &[
            "workload.open=\"simultaneous\"",
            "workload.open_skew=\"5ms\"",
        ],
    );
    assert_eq!(out.summary.completed(), 3, "{:?}", out.summary.outcomes);
    for c in &out.connections {
        assert_eq!(c.server_outcome, Some(ServerOutcome::Closed));
        // The peer's SYN-ACK, sent when our SYN reached it (10 ms), is back at 20 ms.
        assert_eq!(c.handshake_ns, Some(20 * MS));
    }
    // Nobody listened: no SYN found a listener, none was refused.
    assert_eq!(out.summary.rst_sent, 0);
    // 11 ms: the client's SYN arrives 1 ms before the server's connect() and finds no
    // socket: RST, refused at 20 ms; the server's SYN then finds the client's port closed.
    let out = run_set(
        "",
        &[
            "workload.open=\"simultaneous\"",
            "workload.open_skew=\"11ms\"",
        ],
    );
    for c in &out.connections {
        assert_eq!(c.outcome, Outcome::Reset, "{c:?}");
        assert_eq!(c.server_outcome, Some(ServerOutcome::Reset));
        assert_eq!(c.client_closed_ns.unwrap() - c.connect_ns, 20 * MS);
    }
    assert_eq!(out.summary.rst_sent, 6);
}

#[test]
fn simultaneous_open_whose_four_tuple_is_still_in_time_wait_on_the_server_fails_there() {
    // One client port, and the server closes first, so it holds the 4-tuple in TIME-WAIT
    // (60 s) when the next connection comes from the same port 1 s later: the server's
    // connect() is refused (EADDRNOTAVAIL). The client's SYN meets the TIME-WAIT record,
    // which, with no listener to reopen into, only ACKs it (Linux: TCP_TW_SYN falls through
    // to TCP_TW_ACK); the client answers that ACK with a RST, which ends TIME-WAIT. Its SYN
    // retransmitted after the 1 s RTO then finds no socket: refused at 1.020 s. Meanwhile
    // the third connection found the only port still taken.
    let out = run_set(
        "",
        &[
            "workload.open=\"simultaneous\"",
            "workload.close_first=\"server\"",
            "tcp.client.ephemeral_ports=[40000, 40000]",
        ],
    );
    assert_eq!(out.summary.server_open_failed, 1);
    assert_eq!(out.summary.time_wait_killed, 1);
    let first = conn(&out, 0);
    assert_eq!(first.outcome, Outcome::Completed);
    assert_eq!(first.server_outcome, Some(ServerOutcome::Closed));
    let c = conn(&out, 1);
    assert_eq!(c.server_outcome, Some(ServerOutcome::OpenFailed), "{c:?}");
    assert_eq!(c.outcome, Outcome::Reset);
    assert_eq!(c.rtx[0], 1, "one SYN retransmission");
    assert_eq!(c.client_closed_ns.unwrap() - c.connect_ns, S + 20 * MS);
    assert_eq!(conn(&out, 2).outcome, Outcome::PortExhausted);
}

#[test]
fn open_skew_needs_a_simultaneous_open() {
    let exp = experiment::parse(
        std::path::Path::new("skew.toml"),
        "[experiment]\nname = \"skew\"\n[workload]\nopen_skew = \"5ms\"\n",
        &experiment::Overrides::default(),
    );
    let msg = exp.unwrap_err().to_string();
    assert!(msg.contains("skew.toml"), "{msg}");
    assert!(msg.contains("open_skew"), "{msg}");
    assert!(msg.contains("simultaneous"), "{msg}");
    let bad = experiment::parse(
        std::path::Path::new("open.toml"),
        "[experiment]\nname = \"open\"\n[workload]\nopen = \"both\"\n",
        &experiment::Overrides::default(),
    );
    let msg = bad.unwrap_err().to_string();
    assert!(
        msg.contains("listen") && msg.contains("simultaneous"),
        "{msg}"
    );
    let long = experiment::parse(
        std::path::Path::new("long.toml"),
        "[experiment]\nname = \"long\"\n[workload]\nopen = \"simultaneous\"\nopen_skew = \"2h\"\n",
        &experiment::Overrides::default(),
    );
    let msg = long.unwrap_err().to_string();
    assert!(
        msg.contains("open_skew") && msg.contains("at most 1h"),
        "{msg}"
    );
}

#[test]
fn simultaneous_open_outcomes_when_the_handshake_times_out_or_the_run_ends_first() {
    // Every SYN-ACK and ACK toward the client lost: the SYNs cross, nothing of the server's
    // answer arrives, and the client gives up in SYN-RECEIVED: a connect() that never
    // completed, like one in SYN-SENT.
    let out = run_set(
        "[[fault]]\ndirection = \"server_to_client\"\naction = \"drop\"\nflags = \"SYN|ACK\"\ncount = 100\n\
         [[fault]]\ndirection = \"server_to_client\"\naction = \"drop\"\nflags = \"ACK\"\ncount = 100\n",
        &["workload.open=\"simultaneous\""],
    );
    for c in &out.connections {
        assert_eq!(c.outcome, Outcome::ConnectTimeout, "{c:?}");
        assert!(c.rtx[1] > 0, "the client retransmitted its SYN-ACK: {c:?}");
    }
    // A server whose connect() would come after the run's end is unfinished, not absent.
    let out = run_set(
        "",
        &[
            "workload.open=\"simultaneous\"",
            "workload.open_skew=\"30s\"",
            "experiment.max_sim_time=\"10s\"",
        ],
    );
    for c in &out.connections {
        assert_eq!(c.server_outcome, Some(ServerOutcome::Unfinished), "{c:?}");
    }
    assert_eq!(out.summary.server_unfinished, 3);
}

#[test]
fn a_fin_that_overtakes_data_is_held_and_the_close_is_late_by_the_delay_only() {
    // A 2000-byte response is two segments, the FIN on the second. The first is held back
    // 5 ms on connection 0, so the FIN arrives before it: held, and taken with the data.
    let out = run_set(
        r#"
[[fault]]
direction = "server_to_client"
connection = 0
action = "delay"
delay = "5ms"
payload = "data"
"#,
        &[
            "workload.response_bytes=2000",
            "workload.close_first=\"server\"",
        ],
    );
    assert_eq!(out.summary.completed(), 3, "{:?}", out.summary.outcomes);
    for c in &out.connections {
        assert_eq!(c.server_outcome, Some(ServerOutcome::Closed));
        assert_eq!(c.rtx, [0, 0, 0, 0], "nothing is resent: {c:?}");
    }
    assert_eq!(out.summary.fins_held, 1);
    assert_eq!(out.summary.out_of_order, 1);
    let (late, on_time) = (conn(&out, 0), conn(&out, 1));
    assert_eq!(
        late.close_ns.unwrap(),
        on_time.close_ns.unwrap() + 5 * MS,
        "{late:?} vs {on_time:?}"
    );
}

#[test]
fn an_old_connections_time_wait_and_a_ghost_on_its_four_tuple_do_not_ack_each_other_forever() {
    // stale-segments.toml with every segment duplicated 2 s late and ISNs all 0: the copy of
    // the SYN opens a ghost connection on the server after the real one closed, and the
    // client's TIME-WAIT and the ghost each find the other's ACKs unacceptable. Unlimited,
    // each answer crossed a duplicating link and was answered twice: 2 M segments in 7 s of
    // simulated time, and the run never ended.
    // - linux profile: the ghost drops ACKs of data it never sent without answering, so
    //   the exchange dies out; the ghost, idle in ESTABLISHED with no keepalive, is left
    //   alone, and the run stops `Stalled` where it has one.
    // - With the RFC's answers (`unsent_ack = "ack"`, `tw_restart = "fin"`) both ends
    //   answer, at most every 500 ms, until TIME-WAIT ends.
    for rfc in [false, true] {
        let exp = common::ack_storm(rfc);
        let mut limited = 0;
        for p in &exp.points {
            let out = engine::run(&p.config, exp.seed, p.index, 0).expect("run");
            let s = &out.summary;
            let what = format!("rfc {rfc}, point {}: {:?}", p.index, s.stop);
            assert!(
                matches!(
                    s.stop,
                    engine::StopReason::Done | engine::StopReason::Stalled
                ),
                "{what}"
            );
            let segments = s.segments_c2s + s.segments_s2c;
            assert!(segments < 500, "{what}: {segments} segments");
            assert_eq!(s.completed(), 1, "{what}");
            limited += s.acks_rate_limited;
        }
        if rfc {
            assert!(limited > 0, "the rate limit was reached");
        }
    }
}

//! `engine::run_traced`: one connection's segments, link verdicts and state changes, with
//! relative sequence numbers, as text and CSV, identical on every run.

mod common;

use experiment::engine::{self, Side};
use experiment::trace::{AppCall, Cause, DiscardReason, Trace, TraceKind, CSV_COLUMNS};
use link::DropReason;
use tcp_model::{Flags, State};

const MS: u64 = 1_000_000;

const LOST_FINAL_ACK: &str = r#"
[[fault]]
direction = "client_to_server"
connection = 0
action = "drop"
flags = "ACK"
payload = "empty"
after_fin = true
"#;

fn config(extra: &str) -> experiment::Experiment {
    common::three_connections("trace", extra, &[])
}

fn trace(extra: &str, connection: u64) -> Trace {
    let exp = config(extra);
    let (out, t) =
        engine::run_traced(&exp.points[0].config, exp.seed, 0, 0, connection).expect("traced run");
    let plain = engine::run(&exp.points[0].config, exp.seed, 0, 0).expect("run");
    assert_eq!(
        format!("{:?}", out.summary),
        format!("{:?}", plain.summary),
        "tracing changes nothing"
    );
    t
}

fn text(t: &Trace) -> String {
    let mut v = Vec::new();
    t.write_text(&mut v).unwrap();
    String::from_utf8(v).unwrap()
}

fn csv(t: &Trace) -> Vec<u8> {
    let mut v = Vec::new();
    t.write_csv(&mut v).unwrap();
    v
}

/// The index of the first event at or after `from` that satisfies `f`.
fn find(t: &Trace, from: usize, f: impl Fn(&experiment::trace::TraceEvent) -> bool) -> usize {
    (from..t.events.len())
        .find(|&i| f(&t.events[i]))
        .unwrap_or_else(|| panic!("no such event after #{from} in\n{}", text(t)))
}

fn is_send(e: &experiment::trace::TraceEvent, side: Side, flags: Flags) -> bool {
    e.side == side && matches!(e.kind, TraceKind::Send { seg, .. } if seg.flags == flags)
}

#[test]
fn lost_final_ack_shows_the_drop_the_fin_retransmission_and_the_time_wait_reack() {
    let t = trace(LOST_FINAL_ACK, 0);
    let fin_ack = Flags::FIN | Flags::ACK;
    // The client's TIME-WAIT ACK of the server's FIN is dropped by the scripted fault.
    let tw = find(&t, 0, |e| {
        e.side == Side::Client
            && matches!(e.kind, TraceKind::State { to: State::TimeWait, cause: Cause::Rcvd(seg), .. }
                if seg.flags == fin_ack)
    });
    let ack = find(&t, 0, |e| {
        is_send(e, Side::Client, Flags::ACK) && e.time == t.events[tw].time
    });
    assert!(matches!(
        t.events[ack].kind,
        TraceKind::Send {
            state: State::TimeWait,
            retransmission: false,
            ..
        }
    ));
    assert!(
        matches!(
            t.events[ack + 1].kind,
            TraceKind::Drop { reason: DropReason::Fault, seg } if seg.flags == Flags::ACK
        ),
        "the drop follows its send:\n{}",
        text(&t)
    );
    // The server, still in LAST-ACK, retransmits its FIN after one RTO (>= rto_min 200 ms)...
    let timer = find(&t, ack, |e| {
        e.side == Side::Server && matches!(e.kind, TraceKind::Timer { .. })
    });
    let rtx = find(&t, timer, |e| is_send(e, Side::Server, fin_ack));
    assert!(matches!(
        t.events[rtx].kind,
        TraceKind::Send {
            state: State::LastAck,
            retransmission: true,
            ..
        }
    ));
    assert!(t.events[rtx].time.as_nanos() - t.events[ack].time.as_nanos() >= 190 * MS);
    // ...which TIME-WAIT receives 10 ms later and ACKs again; that ACK closes the server.
    let dl = find(&t, rtx, |e| {
        e.side == Side::Client
            && matches!(e.kind, TraceKind::Deliver { seg } if seg.flags == fin_ack)
    });
    assert_eq!(
        t.events[dl].time.as_nanos(),
        t.events[rtx].time.as_nanos() + 10 * MS
    );
    let reack = find(&t, dl, |e| is_send(e, Side::Client, Flags::ACK));
    assert!(matches!(
        t.events[reack].kind,
        TraceKind::Send {
            state: State::TimeWait,
            ..
        }
    ));
    assert!(
        !matches!(t.events[reack + 1].kind, TraceKind::Drop { .. }),
        "only the first is dropped"
    );
    let closed = find(&t, reack, |e| {
        e.side == Side::Server
            && matches!(
                e.kind,
                TraceKind::State {
                    from: State::LastAck,
                    to: State::Closed,
                    cause: Cause::Rcvd(_),
                    closed: Some(_)
                }
            )
    });
    assert_eq!(
        t.events[closed].time.as_nanos(),
        t.events[reack].time.as_nanos() + 10 * MS
    );
    // The trace ends with TIME-WAIT expiring on its timer.
    let last = t.events.last().unwrap();
    assert!(
        matches!(
            last.kind,
            TraceKind::State {
                from: State::TimeWait,
                to: State::Closed,
                cause: Cause::Timer(experiment::trace::TimerKind::TimeWait),
                ..
            }
        ),
        "{last:?}"
    );
    let txt = text(&t);
    assert!(txt.contains("c2s DROPPED (fault)"), "{txt}");
    assert!(txt.contains("(retransmission)"), "{txt}");
    assert!(
        txt.contains("TIME_WAIT -> CLOSED (timer time_wait) closed: normal"),
        "{txt}"
    );
}

#[test]
fn every_event_is_the_traced_connections_and_in_time_order() {
    for id in 0..3u32 {
        let t = trace("", id as u64);
        assert_eq!(t.connection, id);
        assert!(!t.truncated);
        for w in t.events.windows(2) {
            assert!(w[0].time <= w[1].time, "{:?} before {:?}", w[0], w[1]);
        }
        for e in &t.events {
            if let TraceKind::Send { seg, .. } | TraceKind::Deliver { seg } = e.kind {
                assert_eq!(seg.incarnation, id);
            }
        }
        // Both ends walk the whole lifecycle, every step with a cause.
        let states: Vec<(Side, State, State)> = t
            .events
            .iter()
            .filter_map(|e| match e.kind {
                TraceKind::State {
                    from, to, cause, ..
                } => {
                    assert_ne!(cause, Cause::Unknown, "{e:?}");
                    Some((e.side, from, to))
                }
                _ => None,
            })
            .collect();
        use State::*;
        let client: Vec<_> = states
            .iter()
            .filter(|s| s.0 == Side::Client)
            .map(|s| (s.1, s.2))
            .collect();
        let server: Vec<_> = states
            .iter()
            .filter(|s| s.0 == Side::Server)
            .map(|s| (s.1, s.2))
            .collect();
        assert_eq!(
            client,
            [
                (Closed, SynSent),
                (SynSent, Established),
                (Established, FinWait1),
                (FinWait1, FinWait2),
                (FinWait2, TimeWait),
                (TimeWait, Closed)
            ]
        );
        assert_eq!(
            server,
            [
                (Listen, SynReceived),
                (SynReceived, Established),
                (Established, CloseWait),
                (CloseWait, LastAck),
                (LastAck, Closed)
            ]
        );
    }
}

#[test]
fn causes_name_the_app_call_the_segment_and_the_timer() {
    let t = trace("", 1);
    let cause = |side: Side, to: State| {
        t.events
            .iter()
            .find_map(|e| match e.kind {
                TraceKind::State { to: t2, cause, .. } if e.side == side && t2 == to => Some(cause),
                _ => None,
            })
            .unwrap()
    };
    assert_eq!(
        cause(Side::Client, State::SynSent),
        Cause::App(AppCall::Connect)
    );
    assert_eq!(
        cause(Side::Client, State::FinWait1),
        Cause::App(AppCall::Close)
    );
    assert_eq!(
        cause(Side::Server, State::LastAck),
        Cause::App(AppCall::Close)
    );
    assert!(
        matches!(cause(Side::Server, State::CloseWait), Cause::Rcvd(s) if s.flags.contains(Flags::FIN))
    );
    assert!(
        matches!(cause(Side::Client, State::Established), Cause::Rcvd(s) if s.flags == Flags::SYN | Flags::ACK)
    );
    // Sends carry the state the sender was in right after the input that made it send.
    let syn = t
        .events
        .iter()
        .find(|e| is_send(e, Side::Client, Flags::SYN))
        .unwrap();
    assert!(matches!(
        syn.kind,
        TraceKind::Send {
            state: State::SynSent,
            ..
        }
    ));
    let synack = t
        .events
        .iter()
        .find(|e| is_send(e, Side::Server, Flags::SYN | Flags::ACK))
        .unwrap();
    assert!(matches!(
        synack.kind,
        TraceKind::Send {
            state: State::SynReceived,
            ..
        }
    ));
    assert!(t.events.iter().any(|e| matches!(
        e.kind,
        TraceKind::App {
            call: AppCall::Send { bytes: 100 },
            failed: false
        }
    )));
}

#[test]
fn sequence_numbers_are_relative_to_each_sides_isn() {
    let t = trace("", 0);
    let (c, s) = (t.isn[0].unwrap(), t.isn[1].unwrap());
    assert_ne!(
        c.0, 0,
        "random ISNs, so relative numbers are not the absolute ones"
    );
    let first = &t.events[0];
    let TraceKind::Send { seg, .. } = first.kind else {
        panic!("the trace starts with the client's SYN: {first:?}")
    };
    assert_eq!(
        (first.side, seg.flags, seg.seq),
        (Side::Client, Flags::SYN, c)
    );
    assert_eq!(t.rel_seq(Side::Client, &seg), Some(0));
    assert_eq!(t.rel_ack(Side::Client, &seg), None);
    let synack = t
        .events
        .iter()
        .find(|e| is_send(e, Side::Server, Flags::SYN | Flags::ACK))
        .unwrap();
    let TraceKind::Send { seg, .. } = synack.kind else {
        unreachable!()
    };
    assert_eq!(seg.seq, s);
    assert_eq!(
        (t.rel_seq(Side::Server, &seg), t.rel_ack(Side::Server, &seg)),
        (Some(0), Some(1))
    );
    let txt = text(&t);
    let first_line = txt.lines().next().unwrap();
    assert_eq!(
        first_line, "  0.000000000 client  SYN_SENT     --> SYN seq=0 win=65535 mss=1460",
        "uniform arrivals: connection 0 at t = 0"
    );
    assert!(
        txt.contains("SYN|ACK seq=0 ack=1 win=65535 mss=1460"),
        "{txt}"
    );
    assert!(txt.contains("--> ACK seq=1 ack=1 win=65535"), "{txt}");
    assert!(
        txt.contains("PSH|ACK seq=1 ack=1 win=65535 len=100"),
        "{txt}"
    );
}

#[test]
fn csv_has_the_header_and_one_parsable_row_per_event() {
    let t = trace(LOST_FINAL_ACK, 0);
    let bytes = csv(&t);
    let mut r = csv::Reader::from_reader(bytes.as_slice());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, CSV_COLUMNS);
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), t.events.len());
    let events = [
        "send",
        "drop",
        "duplicate",
        "deliver",
        "discard",
        "state",
        "app",
        "timer",
    ];
    let mut last = 0u64;
    for (row, e) in rows.iter().zip(&t.events) {
        assert_eq!(row.len(), 16);
        let ns: u64 = row[0].parse().unwrap();
        assert!(ns >= last);
        last = ns;
        assert_eq!(ns, e.time.as_nanos());
        assert!(["client", "server"].contains(&&row[1]));
        assert!(events.contains(&&row[2]), "{row:?}");
        if &row[2] == "send" {
            let seq: u32 = row[5].parse().unwrap();
            let rel: u32 = row[7].parse().unwrap();
            let side = if &row[1] == "client" { 0 } else { 1 };
            assert_eq!(seq.wrapping_sub(t.isn[side].unwrap().0), rel);
            assert!(["c2s", "s2c"].contains(&&row[3]));
        }
    }
    let drop = rows.iter().find(|r| &r[2] == "drop").expect("a drop row");
    assert_eq!((&drop[3], &drop[4], &drop[15]), ("c2s", "ACK", "fault"));
    let first = &rows[0];
    assert_eq!(
        (&first[1], &first[2], &first[4], &first[7], &first[11]),
        ("client", "send", "SYN", "0", "mss=1460")
    );
    let tw = rows
        .iter()
        .find(|r| &r[2] == "state" && &r[13] == "time_wait")
        .unwrap();
    assert_eq!(
        (&tw[12], &tw[14], &tw[4]),
        ("fin_wait_2", "rcvd", "FIN|ACK")
    );
    let end = rows.last().unwrap();
    assert_eq!(
        (&end[12], &end[13], &end[14], &end[15]),
        ("time_wait", "closed", "timer", "time_wait;closed=normal")
    );
}

#[test]
fn same_file_and_seed_give_byte_identical_traces() {
    let extra = "[link.client_to_server]\nloss = 0.3\njitter = \"5ms\"\nduplicate = 0.2";
    let a = trace(extra, 2);
    let b = trace(extra, 2);
    assert_eq!(text(&a), text(&b));
    assert_eq!(csv(&a), csv(&b));
    assert!(a.events.len() > 10);
}

#[test]
fn duplicated_segments_are_delivered_twice() {
    let t = trace("[link.client_to_server]\nduplicate = 1.0", 0);
    let sends = t
        .events
        .iter()
        .filter(|e| e.side == Side::Client && matches!(e.kind, TraceKind::Send { .. }))
        .count();
    let dups = t
        .events
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Duplicate { .. }))
        .count();
    let delivered = t
        .events
        .iter()
        .filter(|e| e.side == Side::Server && matches!(e.kind, TraceKind::Deliver { .. }))
        .count();
    assert!(sends >= 4);
    assert_eq!(dups, sends);
    assert_eq!(delivered, 2 * sends);
    assert!(text(&t).contains("c2s DUPLICATED: copies arrive at"));
}

#[test]
fn random_loss_names_its_reason() {
    let t = trace("[link.server_to_client]\nloss = 0.5", 1);
    assert!(
        t.events.iter().any(|e| matches!(
            e.kind,
            TraceKind::Drop {
                reason: DropReason::Loss,
                ..
            }
        )),
        "{}",
        text(&t)
    );
}

#[test]
fn a_connection_that_does_not_exist_is_an_error() {
    let exp = config("");
    let e = engine::run_traced(&exp.points[0].config, exp.seed, 0, 0, 3).unwrap_err();
    assert!(
        e.message.contains("connection 3 does not exist") && e.message.contains("3 connection(s)"),
        "{e}"
    );
}

/// An application that writes its last bytes and closes at once sends its FIN on the last
/// data segment (RFC 9293 §3.10.4: the FIN is queued after the data), whether it is the
/// server closing after its response or a half-closing client after its request.
#[test]
fn fin_rides_on_the_last_data_segment() {
    let data_fins = |t: &Trace, side: Side| {
        t.events
            .iter()
            .filter(|e| {
                e.side == side
                    && matches!(e.kind, TraceKind::Send { seg, .. }
                        if seg.payload_len > 0 && seg.flags.contains(Flags::FIN))
            })
            .count()
    };
    let server_first = trace("close_first = \"server\"\n", 1);
    assert_eq!(data_fins(&server_first, Side::Server), 1);
    let half = trace("half_close = true\n", 1);
    assert_eq!(data_fins(&half, Side::Client), 1);
    // The plain client-first close sends its FIN alone, after the response arrived.
    let plain = trace("", 1);
    assert_eq!(
        data_fins(&plain, Side::Client) + data_fins(&plain, Side::Server),
        0
    );
}

/// The final ACK is lost and the client's TIME-WAIT (2 × 10 ms) is over before the server's
/// FIN retransmission arrives: the client has no connection for it any more, says so right
/// after the delivery, and answers with a RST.
#[test]
fn a_segment_for_no_connection_is_discarded_and_answered_with_a_reset() {
    let t = trace(
        &format!("{LOST_FINAL_ACK}\n[tcp.client]\nmsl = \"10ms\"\n"),
        0,
    );
    let fin_ack = Flags::FIN | Flags::ACK;
    let i = find(&t, 0, |e| {
        e.side == Side::Client
            && matches!(e.kind, TraceKind::Deliver { seg } if seg.flags == fin_ack)
    });
    // The first FIN is taken (FIN_WAIT_2 -> TIME_WAIT), not discarded.
    assert!(
        !matches!(t.events[i + 1].kind, TraceKind::Discard { .. }),
        "{}",
        text(&t)
    );
    let again = find(&t, i + 1, |e| {
        e.side == Side::Client
            && matches!(e.kind, TraceKind::Deliver { seg } if seg.flags == fin_ack)
    });
    let TraceKind::Deliver { seg: fin } = t.events[again].kind else {
        unreachable!("found as a delivery");
    };
    let d = &t.events[again + 1];
    assert_eq!(
        (d.time, d.side, d.kind),
        (
            t.events[again].time,
            Side::Client,
            TraceKind::Discard {
                seg: fin,
                reason: DiscardReason::NoConnection
            }
        ),
        "{}",
        text(&t)
    );
    assert!(
        is_send(&t.events[again + 2], Side::Client, Flags::RST),
        "{}",
        text(&t)
    );
    if let TraceKind::Send { state, .. } = t.events[again + 2].kind {
        assert_eq!(state, State::Closed);
    }
    let discards = t
        .events
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Discard { .. }))
        .count();
    assert_eq!(discards, 1, "{}", text(&t));
    let txt = text(&t);
    let lines: Vec<&str> = txt.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.ends_with("client  [discard]        no connection"))
        .expect("a discard line");
    assert!(
        lines[at - 1].contains("client  [deliver]        FIN|ACK"),
        "{txt}"
    );
    assert!(
        lines[at + 1].contains("client  CLOSED       --> RST"),
        "{txt}"
    );
    let bytes = csv(&t);
    let mut r = csv::Reader::from_reader(bytes.as_slice());
    let row = r
        .records()
        .map(|x| x.unwrap())
        .find(|r| &r[2] == "discard")
        .expect("a discard row");
    assert_eq!((&row[1], &row[3], &row[4]), ("client", "s2c", "FIN|ACK"));
    assert_eq!(&row[15], "no connection");
}

/// The run stops right after a delivery the host discards (its time limit falls on it): the
/// discard is judged at the end of the run, since no next event comes to judge it. (Its line
/// goes before the RST the client answered with, as always.)
#[test]
fn a_discard_that_is_the_runs_last_event_is_still_shown() {
    let extra = format!("{LOST_FINAL_ACK}\n[tcp.client]\nmsl = \"10ms\"\n");
    let full = trace(&extra, 0);
    let fin_ack = Flags::FIN | Flags::ACK;
    let delivered_to_client = |t: &Trace, from: usize| {
        find(t, from, |e| {
            e.side == Side::Client
                && matches!(e.kind, TraceKind::Deliver { seg } if seg.flags == fin_ack)
        })
    };
    // The FIN retransmission that finds no connection at the client (as in the test above).
    let again = delivered_to_client(&full, delivered_to_client(&full, 0) + 1);
    let at = full.events[again].time;
    let limit = format!("experiment.max_sim_time={}ns", at.as_nanos());
    let exp = common::three_connections("trace", &extra, &[&limit]);
    let (_, t) = engine::run_traced(&exp.points[0].config, exp.seed, 0, 0, 0).expect("run");
    // Nothing after the limit ran: the client's RST was sent but never arrived.
    assert!(t.events.iter().all(|e| e.time <= at), "{}", text(&t));
    let d = delivered_to_client(&t, delivered_to_client(&t, 0) + 1);
    assert_eq!(t.events[d].time, at);
    assert!(
        matches!(
            t.events[d + 1].kind,
            TraceKind::Discard {
                reason: DiscardReason::NoConnection,
                ..
            }
        ),
        "{}",
        text(&t)
    );
    assert!(
        is_send(&t.events[d + 2], Side::Client, Flags::RST),
        "{}",
        text(&t)
    );
    assert_eq!(d + 3, t.events.len(), "{}", text(&t));
}

#[test]
fn a_rst_refusing_a_syn_before_connect_is_unnumbered_and_no_retransmission_mark() {
    // Simultaneous open with the server's connect() after the client's SYN has arrived: the
    // server refuses that SYN from CLOSED (RST|ACK, seq 0), then sends its own first SYN.
    let exp = common::three_connections(
        "trace",
        "",
        &[
            "workload.open=\"simultaneous\"",
            "workload.open_skew=\"15ms\"",
        ],
    );
    for connection in 0..3 {
        let (_, t) = engine::run_traced(&exp.points[0].config, exp.seed, 0, 0, connection)
            .expect("traced run");
        let rst = find(&t, 0, |e| is_send(e, Side::Server, Flags::RST | Flags::ACK));
        let syn = find(&t, rst, |e| is_send(e, Side::Server, Flags::SYN));
        let (
            TraceKind::Send { seg: rst_seg, .. },
            TraceKind::Send {
                seg: syn_seg,
                retransmission,
                ..
            },
        ) = (t.events[rst].kind, t.events[syn].kind)
        else {
            unreachable!()
        };
        assert!(
            !retransmission,
            "connection {connection}: the server's first SYN is marked a retransmission:\n{}",
            text(&t)
        );
        // The RST's <SEQ=0> is in no sequence space of the server's: shown as it is, not
        // relative to the ISN the server picks a moment later; the SYN is relative 0.
        assert_eq!(rst_seg.seq.0, 0);
        assert_eq!(t.rel_seq(Side::Server, &rst_seg), None, "{}", text(&t));
        assert_eq!(t.rel_seq(Side::Server, &syn_seg), Some(0));
        assert!(
            text(&t).contains("RST|ACK seq=0(abs) ack=1"),
            "{}",
            text(&t)
        );
    }
}

/// The ACK-loop guard: a TIME-WAIT that answered an unacceptable segment less than 500 ms
/// ago lets the next go unanswered, and the trace says so after `not acceptable`.
#[test]
fn an_answer_held_back_by_the_rate_limit_is_shown_after_not_acceptable() {
    // The storm set-up with RFC answers (see common::ack_storm): the client's TIME-WAIT
    // meets a ghost connection's ACKs.
    let exp = common::ack_storm(true);
    let p = exp
        .points
        .iter()
        .find(|p| p.config.tcp.client.isn == tcp_model::IsnPolicy::Zero)
        .expect("a zero-ISN point");
    let (_, t) = engine::run_traced(&p.config, exp.seed, p.index, 0, 0).expect("traced run");
    let held = |e: &experiment::trace::TraceEvent| {
        matches!(
            e.kind,
            TraceKind::Discard {
                reason: DiscardReason::AckRateLimited,
                ..
            }
        )
    };
    let i = t.events.iter().position(held).expect("an answer held back");
    assert_eq!(t.events[i].side, Side::Client, "{}", text(&t));
    assert!(
        matches!(
            t.events[i - 1].kind,
            TraceKind::Discard {
                reason: DiscardReason::NotAcceptable,
                ..
            }
        ),
        "{}",
        text(&t)
    );
    // Nothing was sent for that segment: the next line is another segment's.
    assert!(
        !matches!(t.events.get(i + 1).map(|e| (e.side, e.kind)), Some((Side::Client, TraceKind::Send { .. })) if t.events[i + 1].time == t.events[i].time),
        "{}",
        text(&t)
    );
    assert!(text(&t).contains("answer held back (one per 500 ms)"));
}

//! Random segments, losses and application calls: nothing panics, queues stay bounded, and
//! the hosts' connection counts and listen queues agree with the events they reported.

mod common;

use std::collections::{HashMap, HashSet};

use common::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tcp_model::*;

#[derive(Clone, Debug)]
enum Op {
    Connect,
    Wait(u16),
    /// A crafted segment to host 0 or 1, from the other host's address and a used port.
    Garbage {
        to: usize,
        flags: u8,
        seq_delta: i32,
        ack_delta: i32,
        len: u32,
        window: u16,
        inc: u32,
    },
    Close(usize),
    Abort(usize),
    /// SYNs to the server from `n` spoofed addresses: their SYN-ACKs reach no one (the
    /// client drops them as misaddressed), so they stay half-open and time out, crowding
    /// the SYN queue enough to be pruned.
    Flood(u8),
    Send(usize, u16),
    /// The server application accepts (Manual listeners).
    Accept,
}

/// The server's listen queue must be what its events say: SYN-RECEIVED passive connections,
/// and (Manual) established ones not accepted and not closed. Both counts are unsigned, so
/// an underflow would show up as a huge number here.
fn check_listen_queue(
    net: &Net,
    accepted: &HashSet<ConnId>,
    manual: bool,
) -> Result<(), TestCaseError> {
    let mut state: HashMap<ConnId, State> = HashMap::new();
    for &(_, h, e) in &net.events {
        match e {
            HostEvent::Incoming { conn, .. } if h == S => {
                state.insert(conn, State::Listen);
            }
            HostEvent::Conn {
                conn,
                event: Event::StateChanged { to, .. },
                ..
            } if h == S => {
                if let Some(s) = state.get_mut(&conn) {
                    *s = to;
                }
            }
            _ => {}
        }
    }
    let syn = state.values().filter(|&&s| s == State::SynReceived).count();
    let waiting = state
        .iter()
        .filter(|(c, s)| {
            manual
                && !accepted.contains(c)
                && !matches!(
                    s,
                    State::Listen | State::SynReceived | State::Closed | State::TimeWait
                )
        })
        .count();
    let q = net.hosts[S].listen_queue(PORT).unwrap();
    prop_assert_eq!(q.syn_received as usize, syn);
    prop_assert!(q.syn_received_old <= q.syn_received);
    prop_assert_eq!(q.unaccepted as usize, waiting);
    Ok(())
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Connect),
        3 => (0u16..3000).prop_map(Op::Wait),
        6 => (0usize..2, 0u8..32, prop_oneof![-70_000i32..70_000, any::<i32>()], prop_oneof![-5i32..5, any::<i32>()],
              prop_oneof![0u32..3000, any::<u32>()], any::<u16>(), 0u32..4)
            .prop_map(|(to, flags, seq_delta, ack_delta, len, window, inc)| Op::Garbage { to, flags, seq_delta, ack_delta, len, window, inc }),
        1 => (0usize..8).prop_map(Op::Close),
        1 => (0usize..8).prop_map(Op::Abort),
        1 => (0usize..8, any::<u16>()).prop_map(|(i, b)| Op::Send(i, b)),
        1 => Just(Op::Accept),
        1 => (1u8..16).prop_map(Op::Flood),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn hosts_survive_anything(ops in proptest::collection::vec(op(), 1..40), loss in 0u32..4, tw in 0u8..4,
                              lq in (any::<bool>(), 0usize..3, prop_oneof![3 => 1u32..4, 1 => Just(12u32)], 1u32..6)) {
        let (manual, cookies, backlog, syn_backlog) = lq;
        let cfg = TcpConfig {
            syn_cookies: [SynCookies::Off, SynCookies::OnOverflow, SynCookies::Always][cookies],
            accept_backlog: backlog,
            syn_backlog,
            isn: if tw & 1 == 0 { IsnPolicy::Zero } else { IsnPolicy::Random },
            tw_reopen: if tw & 2 == 0 { TwReopen::Linux } else { TwReopen::Refuse },
            ephemeral_ports: [40000, 40003],
            msl: SimDuration::from_secs(2),
            retries2: 4,
            ..TcpConfig::default()
        };
        let mode = if manual { AcceptMode::Manual } else { AcceptMode::Immediate };
        let mut net = Net::with_accept_mode(cfg, mode);
        let mut accepted = HashSet::new();
        let mut n = 0u32;
        net.lose = Box::new(move |_, _, _| { n = n.wrapping_add(1); loss > 0 && n.checked_rem(loss + 2) == Some(0) });
        net.app = request_response(2000, 5000, true);
        let mut conns = Vec::new();
        let mut flooded = 0u32;
        let mut inc = 0;
        for op in ops {
            match op {
                Op::Connect => {
                    inc += 1;
                    if let Ok(c) = net.hosts[C].connect(net.now, SERVER, inc, inc as u64) { conns.push(c); }
                    net.drain(C);
                }
                Op::Wait(t) => { let t = net.now + SimDuration::from_millis(t as u64); net.run_until(t); }
                Op::Flood(n) => {
                    for k in 0..n as u32 {
                        flooded += 1;
                        let syn = Segment {
                            src: Addr::new(0x0b00_0000 + flooded, 1024),
                            dst: SERVER,
                            seq: SeqNum(flooded.wrapping_mul(7919)),
                            ack: SeqNum(0),
                            flags: Flags::SYN,
                            window: 65535,
                            mss: 1460,
                            payload_len: 0,
                            incarnation: 1_000_000 + flooded + k,
                        };
                        net.inject(S, syn);
                    }
                }
                Op::Garbage { to, flags, seq_delta, ack_delta, len, window, inc } => {
                    // Aim near the numbers in use: the last segment the other side sent.
                    let from = 1 - to;
                    let base = net.sent.iter().rev().find(|s| s.1 == from).map(|s| s.2);
                    let Some(b) = base else { continue };
                    let seg = Segment {
                        src: b.src, dst: b.dst,
                        seq: SeqNum(b.seq.0.wrapping_add(seq_delta as u32)),
                        ack: SeqNum(b.ack.0.wrapping_add(ack_delta as u32)),
                        flags: Flags(flags), window, mss: if flags & 2 != 0 { 536 } else { 0 },
                        payload_len: len, incarnation: inc,
                    };
                    net.inject(to, seg);
                }
                Op::Close(i) => if let Some(&c) = conns.get(i) { net.hosts[C].close(net.now, c); net.drain(C); },
                Op::Abort(i) => if let Some(&c) = conns.get(i) { net.hosts[C].abort(net.now, c); net.drain(C); },
                Op::Send(i, b) => if let Some(&c) = conns.get(i) { net.hosts[C].send(net.now, c, b as u64); net.drain(C); },
                Op::Accept => if let Some(c) = net.hosts[S].accept(PORT) { accepted.insert(c); },
            }
            check_listen_queue(&net, &accepted, manual)?;
            for h in [C, S] {
                net.hosts[h].check_demux().map_err(|e| TestCaseError::fail(format!("host {h}: {e}")))?;
            }
        }
        net.run_until(net.now + SimDuration::from_secs(400));
        check_listen_queue(&net, &accepted, manual)?;
        let q = net.hosts[S].listen_queue(PORT).unwrap();
        prop_assert_eq!((q.syn_received, q.syn_received_old), (0, 0), "SYN-RECEIVED times out");
        prop_assert!(net.sent.len() < 100_000);
        for h in [C, S] {
            let opened = net.events.iter().filter(|e| e.1 == h && matches!(e.2,
                HostEvent::Conn { event: Event::StateChanged { from: State::Closed | State::Listen, .. }, .. })).count();
            let closed = net.closes(h).len();
            prop_assert_eq!(net.hosts[h].connections(), opened - closed, "host {}", h);
            prop_assert_eq!(net.hosts[h].stats().closed.total() as usize, closed);
        }
        // Every connection still open after 400 quiet seconds is waiting on its peer or its
        // application forever (ESTABLISHED and CLOSE-WAIT wait for the application).
        for h in [C, S] {
            prop_assert_eq!(net.hosts[h].time_wait_count(), 0);
        }
    }
}

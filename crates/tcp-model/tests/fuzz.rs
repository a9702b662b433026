//! Random segments, losses and application calls: nothing panics, queues stay bounded, and
//! the hosts' connection counts agree with the events they reported.

mod common;

use common::*;
use proptest::prelude::*;
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
    Send(usize, u16),
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
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn hosts_survive_anything(ops in proptest::collection::vec(op(), 1..40), loss in 0u32..4, tw in 0u8..4) {
        let cfg = TcpConfig {
            isn: if tw & 1 == 0 { IsnPolicy::Zero } else { IsnPolicy::Random },
            tw_reopen: if tw & 2 == 0 { TwReopen::Linux } else { TwReopen::Refuse },
            ephemeral_ports: [40000, 40003],
            msl: SimDuration::from_secs(2),
            retries2: 4,
            ..TcpConfig::default()
        };
        let mut net = Net::new(cfg);
        let mut n = 0u32;
        net.lose = Box::new(move |_, _, _| { n = n.wrapping_add(1); loss > 0 && n.checked_rem(loss + 2) == Some(0) });
        net.app = request_response(2000, 5000, true);
        let mut conns = Vec::new();
        let mut inc = 0;
        for op in ops {
            match op {
                Op::Connect => {
                    inc += 1;
                    if let Ok(c) = net.hosts[C].connect(net.now, SERVER, inc, inc as u64) { conns.push(c); }
                    net.drain(C);
                }
                Op::Wait(t) => { let t = net.now + SimDuration::from_millis(t as u64); net.run_until(t); }
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
            }
        }
        net.run_until(net.now + SimDuration::from_secs(400));
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

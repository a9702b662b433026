//! Throughput of the model alone: N request/response lifecycles between two hosts, the
//! server closing first (so it holds TIME-WAIT), in a minimal event loop (segments in a FIFO,
//! since the delay is fixed; timers in a heap).
//!
//! `cargo run --release -p tcp-model --example lifecycles -- 1000000`
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Instant;

use tcp_model::*;

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let cfg = TcpConfig::default();
    let mut hosts = [Host::new(1, cfg.clone(), 1), Host::new(2, cfg, 2)];
    hosts[1].listen(80).unwrap();
    let server = Addr::new(2, 80);
    let delay = SimDuration::from_micros(100);
    let gap = SimDuration::from_micros(10); // 100k new connections per simulated second
    let mut segs: VecDeque<(SimTime, usize, Segment)> = VecDeque::new();
    let mut timers: BinaryHeap<Reverse<(SimTime, u64, usize, TimerToken)>> = BinaryHeap::new();
    let (mut next_conn, mut now, mut done, mut seqno, mut wakeups) =
        (0u32, SimTime::ZERO, 0u32, 0u64, 0u64);
    let start = Instant::now();
    loop {
        let next_open = if next_conn < n {
            SimTime::ZERO + gap.saturating_mul(next_conn as u64)
        } else {
            SimTime::MAX
        };
        let next_seg = segs.front().map(|s| s.0).unwrap_or(SimTime::MAX);
        let next_timer = timers.peek().map(|Reverse(t)| t.0).unwrap_or(SimTime::MAX);
        let first = next_open.min(next_seg).min(next_timer);
        if first == SimTime::MAX {
            break;
        }
        now = first;
        let h = if next_open == first {
            hosts[0]
                .connect(now, server, next_conn, next_conn as u64)
                .expect("ports");
            next_conn += 1;
            0
        } else if next_seg == first {
            let (_, h, s) = segs.pop_front().unwrap();
            hosts[h].handle_segment(now, &s);
            h
        } else {
            let Reverse((_, _, h, token)) = timers.pop().unwrap();
            wakeups += 1;
            hosts[h].handle_timeout(now, token);
            h
        };
        while let Some(ev) = hosts[h].poll_event() {
            match ev {
                HostEvent::Timer { token, at } => {
                    seqno += 1;
                    timers.push(Reverse((at, seqno, h, token)));
                }
                HostEvent::Conn { conn, event, .. } => match (h, event) {
                    (0, Event::Connected) => hosts[0].send(now, conn, 100),
                    (1, Event::Received { .. }) => {
                        hosts[1].send(now, conn, 1000);
                        hosts[1].close(now, conn);
                    }
                    (0, Event::PeerFin) => hosts[0].close(now, conn),
                    (_, Event::Closed { .. }) => done += 1,
                    _ => {}
                },
                HostEvent::Incoming { .. } | HostEvent::TimerCancelled { .. } => {}
            }
        }
        while let Some(seg) = hosts[h].poll_transmit() {
            segs.push_back((now + delay, 1 - h, seg));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} lifecycles ({done} closes, {wakeups} wake-ups) in {secs:.2} s = {:.0} lifecycles/s; server TIME-WAIT peak {}, reopened {}; end {now}",
        n as f64 / secs,
        hosts[1].stats().time_wait_peak,
        hosts[1].stats().time_wait_reopened,
    );
}

//! Throughput of the model alone, without the engine: N connection lifecycles between two
//! hosts over a fixed delay, in a minimal event loop (segments in a FIFO, since the delay is
//! fixed; timers in a `BTreeMap`, cancelled when the host says so, as the engine does).
//!
//! The defaults are `experiments/bench-a.toml`'s: 100k arrivals per simulated second (evenly
//! spaced), 10 ms one way, the server on 64 ports (connection `i` to port `80 + i % 64`), no
//! data, the client closes first as soon as it is connected, the server when it sees the FIN,
//! and the client holds each 4-tuple in TIME-WAIT for 60 s, so 1 M connections leave about
//! 1 M TIME-WAIT records alive at the peak.
//!
//! ```text
//! cargo run --release -p tcp-model --example lifecycles -- 1000000
//!   [--rate 100000] [--delay-us 10000] [--ports 64] [--msl-ms 30000]
//!   [--bytes 0] [--server-closes] [--digest]
//! ```
//!
//! `--digest` folds every segment, every event (in order, with the time and the host) and the
//! final counters into one 64-bit number: two builds of the model that print the same digest
//! behaved the same. It formats each item, so it is slow; leave it off to measure.
//! `--server-closes --bytes 100 --delay-us 100 --ports 1` is the request/response variant
//! (the client sends, the server answers 10× as much and closes first, and holds TIME-WAIT).
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::time::Instant;

use tcp_model::*;

struct Opts {
    n: u32,
    rate: f64,
    delay_us: u64,
    ports: u16,
    msl_ms: u64,
    bytes: u64,
    server_closes: bool,
    digest: bool,
}

fn opts() -> Opts {
    let mut o = Opts {
        n: 200_000,
        rate: 100_000.0,
        delay_us: 10_000,
        ports: 64,
        msl_ms: 30_000,
        bytes: 0,
        server_closes: false,
        digest: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || -> String { args.next().unwrap_or_default() };
        match a.as_str() {
            "--rate" => o.rate = val().parse().expect("--rate"),
            "--delay-us" => o.delay_us = val().parse().expect("--delay-us"),
            "--ports" => o.ports = val().parse().expect("--ports"),
            "--msl-ms" => o.msl_ms = val().parse().expect("--msl-ms"),
            "--bytes" => o.bytes = val().parse().expect("--bytes"),
            "--server-closes" => o.server_closes = true,
            "--digest" => o.digest = true,
            n => o.n = n.parse().expect("N, or an option"),
        }
    }
    o
}

/// FNV-1a over the formatted items: slow, but only for `--digest`.
struct Digest {
    h: u64,
    buf: String,
}

impl Digest {
    fn add(&mut self, item: std::fmt::Arguments<'_>) {
        self.buf.clear();
        self.buf.write_fmt(item).expect("format");
        for b in self.buf.bytes() {
            self.h = (self.h ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
}

fn main() {
    let o = opts();
    let cfg = TcpConfig {
        msl: SimDuration::from_millis(o.msl_ms),
        ..TcpConfig::default()
    };
    cfg.validate().expect("configuration");
    let mut hosts = [Host::new(1, cfg.clone(), 1), Host::new(2, cfg, 2)];
    for p in 0..o.ports {
        hosts[1].listen(80 + p).unwrap();
    }
    let delay = SimDuration::from_micros(o.delay_us);
    let gap_ns = 1e9 / o.rate;
    let mut segs: VecDeque<(SimTime, usize, Segment)> = VecDeque::new();
    // (time, seq) -> (host, token); per host, a live connection's outstanding wake-up by slot.
    let mut timers: BTreeMap<(SimTime, u64), (usize, TimerToken)> = BTreeMap::new();
    let mut by_slot: [Vec<Option<(SimTime, u64)>>; 2] = [Vec::new(), Vec::new()];
    let (mut next_conn, mut now, mut done, mut seqno, mut wakeups) =
        (0u32, SimTime::ZERO, 0u32, 0u64, 0u64);
    let mut digest = o.digest.then(|| Digest {
        h: 0xcbf2_9ce4_8422_2325,
        buf: String::new(),
    });
    let start = Instant::now();
    loop {
        let next_open = if next_conn < o.n {
            SimTime::from_nanos((next_conn as f64 * gap_ns) as u64)
        } else {
            SimTime::MAX
        };
        let next_seg = segs.front().map(|s| s.0).unwrap_or(SimTime::MAX);
        let next_timer = timers.first_key_value().map_or(SimTime::MAX, |(k, _)| k.0);
        let first = next_open.min(next_seg).min(next_timer);
        if first == SimTime::MAX {
            break;
        }
        now = first;
        let h = if next_open == first {
            let server = Addr::new(2, 80 + (next_conn % o.ports as u32) as u16);
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
            let (_, (h, token)) = timers.pop_first().unwrap();
            if let Some(s) = token.slot() {
                by_slot[h][s as usize] = None;
            }
            wakeups += 1;
            hosts[h].handle_timeout(now, token);
            h
        };
        while let Some(ev) = hosts[h].poll_event() {
            if let Some(d) = digest.as_mut() {
                d.add(format_args!("{now} {h} {ev:?}"));
            }
            if let HostEvent::TimerMoved { token, .. } | HostEvent::TimerCancelled { token } = ev {
                let s = token
                    .slot()
                    .expect("only live connections' wake-ups are cancelled or moved");
                if let Some(k) = by_slot[h].get_mut(s as usize).and_then(Option::take) {
                    timers.remove(&k);
                }
            }
            match ev {
                // (This driver leaves `report_moved_timers` off, so that its digest stays
                // what it was; a move would be the cancellation above and a new wake-up.)
                HostEvent::Timer { token, at } | HostEvent::TimerMoved { token, at } => {
                    seqno += 1;
                    timers.insert((at, seqno), (h, token));
                    if let Some(s) = token.slot() {
                        let v = &mut by_slot[h];
                        if v.len() <= s as usize {
                            v.resize(s as usize + 1, None);
                        }
                        v[s as usize] = Some((at, seqno));
                    }
                }
                HostEvent::TimerCancelled { .. } => {}
                HostEvent::Conn { conn, event, .. } => match (h, event, o.server_closes) {
                    (0, Event::Connected, false) if o.bytes == 0 => hosts[0].close(now, conn),
                    (0, Event::Connected, false) => hosts[0].send_and_close(now, conn, o.bytes),
                    (0, Event::Connected, true) if o.bytes > 0 => hosts[0].send(now, conn, o.bytes),
                    (1, Event::Received { .. }, true) => {
                        hosts[1].send_and_close(now, conn, 10 * o.bytes)
                    }
                    (1, Event::Connected, true) if o.bytes == 0 => hosts[1].close(now, conn),
                    (0, Event::PeerFin, true) | (1, Event::PeerFin, false) => {
                        hosts[h].close(now, conn)
                    }
                    (_, Event::Closed { .. }, _) => done += 1,
                    _ => {}
                },
                HostEvent::Incoming { .. } => {}
            }
        }
        while let Some(seg) = hosts[h].poll_transmit() {
            if let Some(d) = digest.as_mut() {
                d.add(format_args!("{now} {h} {seg}"));
            }
            segs.push_back((now + delay, 1 - h, seg));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} lifecycles ({done} closes, {wakeups} wake-ups) in {secs:.2} s = {:.0} lifecycles/s; \
         TIME-WAIT peak {} + {}; end {now}",
        o.n,
        o.n as f64 / secs,
        hosts[0].stats().time_wait_peak,
        hosts[1].stats().time_wait_peak,
    );
    if let Some(mut d) = digest {
        for (i, h) in hosts.iter().enumerate() {
            d.add(format_args!("{i} {:?}", h.stats()));
        }
        println!("digest {:016x}", d.h);
    }
}

//! One full connection lifecycle through `tcp-model` alone: two `Host`s and a minimal driver
//! (no links, no workload records, no statistics), so the figure is the protocol model's own
//! cost per lifecycle plus a FIFO push/pop per segment and a timing-wheel entry per timer.
//!
//! Lifecycle: the client connects, closes as soon as it is connected, the server closes on the
//! client's FIN; the client holds TIME-WAIT and the lifecycle ends when it reaches CLOSED.
//! Connections arrive every microsecond of simulated time for as long as the benchmark runs,
//! so the number in TIME-WAIT at once is TIME-WAIT / 1 µs; the parameter sets it through `msl`
//! (TIME-WAIT = 2 × MSL, RFC 9293 §3.6). The driver is filled to that steady state before
//! anything is timed.

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sim_core::{EventHandle, EventQueue};
use tcp_model::{
    Addr, Event, Host, HostEvent, Segment, SimDuration, SimTime, TcpConfig, TimerToken,
};

/// Simulated time between connection arrivals.
const GAP: SimDuration = SimDuration::from_micros(1);
/// One-way delay: fixed, so segments arrive in the order they were sent and one FIFO holds
/// them all.
const DELAY: SimDuration = SimDuration::from_micros(10);
const SERVER_PORT: u16 = 80;
/// Listening ports: one client address toward one server port has only 28,232 ephemeral ports
/// (Linux's range) for its TIME-WAIT 4-tuples; 16 ports hold 450k.
const SERVER_PORTS: u16 = 16;

struct Driver {
    hosts: [Host; 2],
    /// (arrival time, receiving host, segment).
    segs: VecDeque<(SimTime, usize, Segment)>,
    timers: EventQueue<(usize, TimerToken)>,
    /// Per host, by `TimerToken::slot`: the queued wake-up of that live connection, so that
    /// `TimerCancelled` and `TimerMoved` can remove it (otherwise each lifecycle leaves its
    /// 1 s SYN RTO queued).
    handles: [Vec<Option<(TimerToken, EventHandle)>>; 2],
    now: SimTime,
    opened: u64,
    closed: u64,
}

impl Driver {
    /// Queues the wake-up `token` asked for, keeping a live connection's handle.
    fn wake_at(&mut self, h: usize, token: TimerToken, at: SimTime) {
        let handle = self.timers.schedule(at, (h, token)).expect("future");
        if let Some(slot) = token.slot() {
            let v = &mut self.handles[h];
            let i = slot as usize;
            if i >= v.len() {
                v.resize(i + 1, None);
            }
            v[i] = Some((token, handle));
        }
    }

    /// Takes the wake-up of `token` out of the queue, if it is still there.
    fn cancel(&mut self, h: usize, token: TimerToken) {
        if let Some(slot) = token.slot() {
            if let Some(p) = self.handles[h].get_mut(slot as usize) {
                if let Some((_, handle)) = p.take_if(|(t, _)| *t == token) {
                    self.timers.cancel(handle);
                }
            }
        }
    }

    fn new(time_wait_population: u64) -> Driver {
        let msl = SimDuration::from_nanos(GAP.as_nanos() * time_wait_population / 2);
        let cfg = TcpConfig {
            msl,
            ..TcpConfig::default()
        };
        cfg.validate().expect("valid config");
        let mut server = Host::new(2, cfg.clone(), 2);
        for p in 0..SERVER_PORTS {
            server.listen(SERVER_PORT + p).expect("listen");
        }
        // One event for a moved wake-up instead of a cancellation and a request.
        server.report_moved_timers(true);
        let mut client = Host::new(1, cfg, 1);
        client.report_moved_timers(true);
        Driver {
            hosts: [client, server],
            segs: VecDeque::new(),
            timers: EventQueue::new(),
            handles: [Vec::new(), Vec::new()],
            now: SimTime::ZERO,
            opened: 0,
            closed: 0,
        }
    }

    /// Runs until `n` more lifecycles have ended (connections keep arriving meanwhile).
    fn run(&mut self, n: u64) {
        let target = self.closed + n;
        while self.closed < target {
            self.step();
        }
    }

    fn step(&mut self) {
        let next_open = SimTime::ZERO + GAP.saturating_mul(self.opened);
        let next_seg = self.segs.front().map_or(SimTime::MAX, |s| s.0);
        let next_timer = self.timers.peek_time().unwrap_or(SimTime::MAX);
        let first = next_open.min(next_seg).min(next_timer);
        self.now = first;
        let now = first;
        let h = if next_seg == first {
            let (_, h, s) = self.segs.pop_front().expect("peeked");
            self.hosts[h].handle_segment(now, &s);
            h
        } else if next_timer == first {
            let (_, (h, token)) = self.timers.pop().expect("peeked");
            if let Some(slot) = token.slot() {
                if let Some(p) = self.handles[h].get_mut(slot as usize) {
                    p.take_if(|(t, _)| *t == token);
                }
            }
            self.hosts[h].handle_timeout(now, token);
            h
        } else {
            let id = self.opened;
            let server = Addr::new(2, SERVER_PORT + (id % SERVER_PORTS as u64) as u16);
            self.hosts[0]
                .connect(now, server, id as u32, id)
                .expect("ephemeral ports");
            self.opened += 1;
            0
        };
        while let Some(ev) = self.hosts[h].poll_event() {
            match ev {
                HostEvent::TimerMoved { token, at } => {
                    self.cancel(h, token);
                    self.wake_at(h, token, at);
                }
                HostEvent::Timer { token, at } => self.wake_at(h, token, at),
                HostEvent::TimerCancelled { token } => self.cancel(h, token),
                HostEvent::Conn { conn, event, .. } => match (h, event) {
                    (0, Event::Connected) => self.hosts[0].close(now, conn),
                    (1, Event::PeerFin) => self.hosts[1].close(now, conn),
                    (0, Event::Closed { .. }) => self.closed += 1,
                    _ => {}
                },
                HostEvent::Incoming { .. } => {}
            }
        }
        while let Some(seg) = self.hosts[h].poll_transmit() {
            self.segs.push_back((now + DELAY, 1 - h, seg));
        }
    }
}

fn lifecycle(c: &mut Criterion) {
    let mut g = c.benchmark_group("lifecycle");
    g.throughput(Throughput::Elements(1));
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));
    g.sample_size(30);
    for &tw in &[100u64, 10_000, 100_000] {
        let mut d = Driver::new(tw);
        // Steady state: the first TIME-WAITs have expired and been replaced.
        d.run(2 * tw + 1_000);
        let in_tw = d.hosts[0].time_wait_count() as u64;
        assert!(
            in_tw + 100 >= tw && in_tw <= tw + 100,
            "{in_tw} in TIME-WAIT, wanted about {tw}"
        );
        g.bench_function(BenchmarkId::new("time_wait_alive", tw), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                d.run(iters);
                black_box(&d.closed);
                start.elapsed()
            });
        });
        let s = d.hosts[0].stats();
        assert_eq!(s.port_exhausted, 0);
        assert_eq!(d.hosts[1].stats().rst_sent, 0, "every lifecycle is clean");
        assert!(
            d.timers.len() < 4 * tw as usize + 1_000,
            "cancelled wake-ups leave"
        );
    }
    g.finish();
}

criterion_group!(benches, lifecycle);
criterion_main!(benches);

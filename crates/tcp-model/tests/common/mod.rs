//! Two hosts wired back to back with a fixed delay, driven by a BTreeMap event loop.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};

use tcp_model::*;

pub const CLIENT_IP: u32 = 0x0a00_0001;
pub const SERVER_IP: u32 = 0x0a00_0002;
pub const PORT: u16 = 80;
pub const SERVER: Addr = Addr {
    ip: SERVER_IP,
    port: PORT,
};
pub const C: usize = 0;
pub const S: usize = 1;

pub fn ms(t: u64) -> SimTime {
    SimTime::from_nanos(t * 1_000_000)
}

enum Item {
    Seg(Segment),
    Timer(TimerToken),
}

pub type LoseFn = Box<dyn FnMut(SimTime, usize, &Segment) -> bool>;
pub type AppFn = Box<dyn FnMut(&mut Host, usize, SimTime, &HostEvent)>;

pub struct Net {
    pub hosts: [Host; 2],
    pub now: SimTime,
    pub delay: SimDuration,
    queue: BTreeMap<(SimTime, u64), (usize, Item)>,
    n: u64,
    /// Every segment put on the wire: (time, sending host, segment, lost).
    pub sent: Vec<(SimTime, usize, Segment, bool)>,
    /// Every event but timers: (time, host, event).
    pub events: Vec<(SimTime, usize, HostEvent)>,
    /// Every event, timers included, in order: (time, host, event).
    pub log: Vec<(SimTime, usize, HostEvent)>,
    /// Returns true to lose a segment.
    pub lose: LoseFn,
    pub app: AppFn,
}

impl Net {
    /// Client host and server host (listening on 80), 10 ms one-way delay, no app.
    pub fn new(cfg: TcpConfig) -> Net {
        Net::with_accept_mode(cfg, AcceptMode::Immediate)
    }

    /// [`Net::new`] with the server's listener in `mode`.
    pub fn with_accept_mode(cfg: TcpConfig, mode: AcceptMode) -> Net {
        let mut server = Host::new(SERVER_IP, cfg.clone(), 2);
        server.listen_with(PORT, mode).unwrap();
        Net {
            hosts: [Host::new(CLIENT_IP, cfg, 1), server],
            now: SimTime::ZERO,
            delay: SimDuration::from_millis(10),
            queue: BTreeMap::new(),
            n: 0,
            sent: Vec::new(),
            events: Vec::new(),
            log: Vec::new(),
            lose: Box::new(|_, _, _| false),
            app: Box::new(|_, _, _, _| {}),
        }
    }

    pub fn connect(&mut self, inc: u32) -> ConnId {
        let c = self.hosts[C]
            .connect(self.now, SERVER, inc, inc as u64)
            .unwrap();
        self.drain(C);
        c
    }

    /// Moves everything host `h` queued onto the wire and into the logs.
    pub fn drain(&mut self, h: usize) {
        while let Some(ev) = self.hosts[h].poll_event() {
            self.log.push((self.now, h, ev));
            match ev {
                // Nothing is cancelled: a wake-up that was moved fires and finds nothing due.
                HostEvent::Timer { token, at } | HostEvent::TimerMoved { token, at } => {
                    assert!(at >= self.now, "timer in the past");
                    self.n += 1;
                    self.queue.insert((at, self.n), (h, Item::Timer(token)));
                }
                _ => {
                    self.events.push((self.now, h, ev));
                    (self.app)(&mut self.hosts[h], h, self.now, &ev);
                }
            }
        }
        while let Some(seg) = self.hosts[h].poll_transmit() {
            let to = if seg.dst.ip == SERVER_IP { S } else { C };
            let lost = (self.lose)(self.now, h, &seg);
            self.sent.push((self.now, h, seg, lost));
            if !lost {
                self.n += 1;
                self.queue
                    .insert((self.now + self.delay, self.n), (to, Item::Seg(seg)));
            }
        }
    }

    /// Injects a segment into host `h` now.
    pub fn inject(&mut self, h: usize, seg: Segment) {
        self.hosts[h].handle_segment(self.now, &seg);
        self.drain(h);
    }

    /// Runs every event up to and including `t`, then sets the clock to `t`.
    pub fn run_until(&mut self, t: SimTime) {
        self.drain(C);
        self.drain(S);
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > t {
                break;
            }
            let ((at, _), (h, item)) = entry.remove_entry();
            self.now = at;
            match item {
                Item::Seg(seg) => self.hosts[h].handle_segment(at, &seg),
                Item::Timer(tok) => self.hosts[h].handle_timeout(at, tok),
            }
            self.drain(h);
        }
        self.now = t;
    }

    pub fn run(&mut self) {
        self.run_until(SimTime::MAX);
    }

    /// (time, from, to) of host `h`'s state changes.
    pub fn states(&self, h: usize) -> Vec<(SimTime, State, State)> {
        self.events
            .iter()
            .filter(|e| e.1 == h)
            .filter_map(|&(t, _, e)| match e {
                HostEvent::Conn {
                    event: Event::StateChanged { from, to },
                    ..
                } => Some((t, from, to)),
                _ => None,
            })
            .collect()
    }

    pub fn conn_events(&self, h: usize) -> Vec<(SimTime, Event)> {
        self.events
            .iter()
            .filter(|e| e.1 == h)
            .filter_map(|&(t, _, e)| match e {
                HostEvent::Conn { event, .. } => Some((t, event)),
                _ => None,
            })
            .collect()
    }

    pub fn closes(&self, h: usize) -> Vec<(SimTime, CloseReason)> {
        self.conn_events(h)
            .into_iter()
            .filter_map(|(t, e)| match e {
                Event::Closed { reason } => Some((t, reason)),
                _ => None,
            })
            .collect()
    }

    /// The passive connections host `h` reported, in order (`HostEvent::Incoming`).
    pub fn incoming(&self, h: usize) -> Vec<ConnId> {
        self.events
            .iter()
            .filter(|e| e.1 == h)
            .filter_map(|e| match e.2 {
                HostEvent::Incoming { conn, .. } => Some(conn),
                _ => None,
            })
            .collect()
    }

    /// Segments sent by `h`: (time, flags, lost).
    pub fn sent_by(&self, h: usize) -> Vec<(SimTime, Flags, bool)> {
        self.sent
            .iter()
            .filter(|s| s.1 == h)
            .map(|s| (s.0, s.2.flags, s.3))
            .collect()
    }
}

/// Request/response application: the client sends `req` bytes once connected; the server
/// answers with `resp` bytes once it has the request; then the side named by
/// `client_closes_first` closes, and the other closes on the peer's FIN.
pub fn request_response(req: u64, resp: u64, client_closes_first: bool) -> AppFn {
    let mut got: HashMap<(usize, ConnId), u64> = HashMap::new();
    Box::new(move |host, h, now, ev| {
        let HostEvent::Conn { conn, event, .. } = *ev else {
            return;
        };
        match event {
            Event::Connected if h == C => {
                host.send(now, conn, req);
                if req == 0 && resp == 0 && client_closes_first {
                    host.close(now, conn);
                }
            }
            Event::Received { bytes } => {
                let total = got.entry((h, conn)).or_default();
                let before = *total;
                *total += bytes as u64;
                if h == S && before < req && *total >= req {
                    host.send(now, conn, resp);
                    if !client_closes_first {
                        host.close(now, conn);
                    }
                }
                if h == C && before < resp && *total >= resp && client_closes_first {
                    host.close(now, conn);
                }
            }
            Event::PeerFin => {
                let ours_first = (h == C) == client_closes_first;
                if !ours_first {
                    host.close(now, conn);
                }
            }
            _ => {}
        }
    })
}

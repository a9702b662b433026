//! A single connection on its own: the TCB plus a small event queue and counters.

use sim_time::{SimDuration, SimTime};

use crate::config::TcpConfig;
use crate::event::{EndpointStats, Event, Note, Sink, State};
use crate::tcb::{Tcb, TcbInit};
use crate::wire::{Addr, Segment, SeqNum};

/// Events an [`Endpoint`] holds until `poll_event`; more are dropped and counted. One input
/// produces at most 7, so polling after each call never loses any.
pub const EVENT_QUEUE_LEN: usize = 16;

#[derive(Clone, Debug)]
struct EventRing {
    buf: [Event; EVENT_QUEUE_LEN],
    head: u8,
    len: u8,
}

impl EventRing {
    const fn new() -> Self {
        EventRing {
            buf: [Event::Connected; EVENT_QUEUE_LEN],
            head: 0,
            len: 0,
        }
    }
    fn push(&mut self, e: Event) -> bool {
        if self.len as usize == EVENT_QUEUE_LEN {
            return false;
        }
        self.buf[(self.head as usize + self.len as usize) % EVENT_QUEUE_LEN] = e;
        self.len += 1;
        true
    }
    fn pop(&mut self) -> Option<Event> {
        if self.len == 0 {
            return None;
        }
        let e = self.buf[self.head as usize];
        self.head = ((self.head as usize + 1) % EVENT_QUEUE_LEN) as u8;
        self.len -= 1;
        Some(e)
    }
}

struct EndpointSink<'a> {
    events: &'a mut EventRing,
    stats: &'a mut EndpointStats,
}

impl Sink for EndpointSink<'_> {
    fn event(&mut self, e: Event) {
        self.stats.event(&e);
        if !self.events.push(e) {
            self.stats.events_dropped += 1;
        }
    }
    fn note(&mut self, n: Note) {
        self.stats.note(n);
    }
}

/// One TCP connection, sans-IO: feed it segments, application calls and timeouts with the
/// current time; take segments from [`poll_transmit`](Endpoint::poll_transmit) and events from
/// [`poll_event`](Endpoint::poll_event), and call
/// [`handle_timeout`](Endpoint::handle_timeout) at [`poll_timeout`](Endpoint::poll_timeout).
///
/// A [`crate::Host`] keeps only the inner TCB per connection (128 bytes); this wrapper adds
/// an event queue and counters for using one connection directly.
#[derive(Clone, Debug)]
pub struct Endpoint {
    tcb: Tcb,
    events: EventRing,
    stats: EndpointStats,
}

macro_rules! with_sink {
    ($self:ident, |$tcb:ident, $sink:ident| $body:expr) => {{
        let mut $sink = EndpointSink {
            events: &mut $self.events,
            stats: &mut $self.stats,
        };
        let $tcb = &mut $self.tcb;
        $body
    }};
}

impl Endpoint {
    /// Active open: CLOSED -> SYN-SENT; the SYN is the first `poll_transmit`.
    pub fn connect(
        cfg: &TcpConfig,
        now: SimTime,
        local: Addr,
        remote: Addr,
        iss: SeqNum,
        incarnation: u32,
    ) -> Endpoint {
        let mut events = EventRing::new();
        let mut stats = EndpointStats::default();
        let tcb = Tcb::connect(
            cfg,
            TcbInit::new(cfg),
            now,
            local,
            remote,
            iss,
            incarnation,
            &mut EndpointSink {
                events: &mut events,
                stats: &mut stats,
            },
        );
        Endpoint { tcb, events, stats }
    }

    /// LISTEN's answer to `syn`: -> SYN-RECEIVED; the SYN-ACK is the first `poll_transmit`.
    /// The connection adopts the SYN's incarnation.
    pub fn accept(
        cfg: &TcpConfig,
        now: SimTime,
        local: Addr,
        syn: &Segment,
        iss: SeqNum,
    ) -> Endpoint {
        let _ = now;
        let mut events = EventRing::new();
        let mut stats = EndpointStats::default();
        let tcb = Tcb::accept(
            cfg,
            TcbInit::new(cfg),
            local,
            syn,
            iss,
            &mut EndpointSink {
                events: &mut events,
                stats: &mut stats,
            },
        );
        Endpoint { tcb, events, stats }
    }

    pub fn handle_segment(&mut self, cfg: &TcpConfig, now: SimTime, seg: &Segment) {
        with_sink!(self, |tcb, sink| tcb
            .handle_segment(cfg, now, seg, &mut sink))
    }

    /// Fires whatever is due at `now` (RTO, TIME-WAIT expiry, FIN-WAIT-2 timeout, connect
    /// timeout, delayed ACK); otherwise does nothing.
    pub fn handle_timeout(&mut self, cfg: &TcpConfig, now: SimTime) {
        with_sink!(self, |tcb, sink| tcb.handle_timeout(cfg, now, &mut sink))
    }

    /// Queues `bytes` of application data; ignored (and counted) once closed.
    pub fn send(&mut self, cfg: &TcpConfig, now: SimTime, bytes: u64) {
        let _ = (cfg, now);
        with_sink!(self, |tcb, sink| tcb.send(bytes, &mut sink))
    }

    /// Application close: a FIN after the queued data.
    pub fn close(&mut self, cfg: &TcpConfig, now: SimTime) {
        let _ = (cfg, now);
        with_sink!(self, |tcb, sink| tcb.close(&mut sink))
    }

    /// Application abort: RST (in synchronized states) and CLOSED.
    pub fn abort(&mut self, cfg: &TcpConfig, now: SimTime) {
        let _ = (cfg, now);
        with_sink!(self, |tcb, sink| tcb.abort(&mut sink))
    }

    /// The next segment to send; call until `None`.
    pub fn poll_transmit(&mut self, cfg: &TcpConfig, now: SimTime) -> Option<Segment> {
        let may = self.tcb.may_transmit();
        let seg = self.tcb.poll_transmit(cfg, now);
        debug_assert!(may || seg.is_none(), "may_transmit said no, then {seg:?}");
        seg
    }

    /// The earliest time `handle_timeout` has something to do.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        self.tcb.poll_timeout()
    }

    /// Next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    pub fn state(&self) -> State {
        self.tcb.state
    }
    pub fn local(&self) -> Addr {
        self.tcb.local
    }
    pub fn remote(&self) -> Addr {
        self.tcb.remote
    }
    pub fn incarnation(&self) -> u32 {
        self.tcb.incarnation
    }
    pub fn stats(&self) -> &EndpointStats {
        &self.stats
    }
    /// SND.NXT and RCV.NXT.
    pub fn seq_numbers(&self) -> (SeqNum, SeqNum) {
        (self.tcb.snd_nxt, self.tcb.rcv_nxt)
    }
    /// SND.UNA: the oldest sequence number not yet acknowledged (RFC 9293 §3.3.1).
    pub fn snd_una(&self) -> SeqNum {
        self.tcb.snd_una()
    }
    /// SND.NXT: the next new sequence number to send (the SYN and FIN count).
    pub fn snd_nxt(&self) -> SeqNum {
        self.tcb.snd_nxt
    }
    /// RCV.NXT: the next sequence number expected from the peer; meaningless in SYN-SENT.
    pub fn rcv_nxt(&self) -> SeqNum {
        self.tcb.rcv_nxt
    }
    /// The current retransmission timeout.
    pub fn rto(&self) -> SimDuration {
        self.tcb.rto()
    }
    /// Smoothed RTT, once measured (in whole µs; `cfg` tells how the estimator keeps it).
    pub fn srtt(&self, cfg: &TcpConfig) -> Option<SimDuration> {
        self.tcb.srtt(cfg)
    }
    /// Effective send MSS: min(ours, the peer's or 536).
    pub fn send_mss(&self) -> u16 {
        self.tcb.send_mss()
    }
}

/// Size of the per-connection state a [`crate::Host`] keeps for a live connection.
pub const TCB_SIZE: usize = std::mem::size_of::<Tcb>();
const _: () = assert!(
    TCB_SIZE <= 128,
    "the per-connection state grew past 128 bytes"
);

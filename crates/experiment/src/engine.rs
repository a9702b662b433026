//! One simulation run: two hosts joined by two links, driven by the workload.
//!
//! The engine is the only place where tcp-model, link and sim-core meet. It owns the event
//! queue; hosts and links are pure functions of their inputs, so a run is a pure function of
//! its configuration and (seed, point, replication).

use link::{Direction, Link, PacketInfo, Verdict};

use sim_core::{EventHandle, EventQueue, ScheduleError, SimDuration, SimRng, SimTime};
use tcp_model::{
    Addr, CloseReason, ConnId, Event, Host, HostEvent, RtxKind, Segment, StaleKind, State,
    TimerToken,
};

use crate::config::{Arrival, CloseFirst, OpenMode, RunConfig, WorkloadConfig};
use crate::rectable::RecTable;
use crate::stats::{ConnRow, Outcome, RunSummary, ServerOutcome};
use crate::timeseries::{self, Sample};
use crate::trace::{AppCall, Cause, Trace, Tracer};

/// The incarnation flood SYNs carry: no workload connection has it (ids are below 2^31).
const FLOOD_INCARNATION: u32 = u32::MAX - 1;

/// 10.0.0.1 and 10.0.0.2: addresses appear in traces and pcaps, so make them look real.
pub const CLIENT_IP: u32 = 0x0a00_0001;
pub const SERVER_IP: u32 = 0x0a00_0002;

/// Random stream components: each consumer draws from its own stream, so adding draws to
/// one (say, jitter) never shifts another's (arrivals).
pub mod component {
    pub const CLIENT_HOST: u64 = 1;
    pub const SERVER_HOST: u64 = 2;
    pub const LINK_C2S: u64 = 3;
    pub const LINK_S2C: u64 = 4;
    pub const ARRIVALS: u64 = 5;
}

/// IPv4 (20) + TCP (20) header bytes; the MSS option adds 4.
const HEADER_BYTES: u32 = 40;

/// One end of the simulated connection; `Side as usize` indexes per-side arrays (client 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

// Most queue entries are timers: a segment in the event would double every entry's size.
const _: () = assert!(std::mem::size_of::<Ev>() <= 16, "Ev grew");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ev {
    Arrival {
        id: u32,
    },
    /// A segment that could not join its direction's delivery lane (it would arrive before
    /// the lane's last segment: jitter, reordering, a duplicate). The segment waits in
    /// `Engine::off_lane`, so that queue entries stay small: most of them are timers.
    Deliver {
        to: Side,
        slot: u32,
    },
    Timer {
        host: Side,
        token: TimerToken,
    },
    Respond {
        id: u32,
    },
    /// The server's connect() of a simultaneous open, `workload.open_skew` after the client's.
    PeerOpen {
        id: u32,
    },
    /// Take a `timeseries.csv` sample.
    Sample,
    /// Spoofed SYN number `k` of the `[flood]`.
    Flood {
        k: u64,
    },
}

/// An [`Ev`] as the queue holds it: two words computed in registers. The queue copies its
/// events whole; an `Ev` built field by field on the stack and then copied as one 16-byte
/// load stalls that load until the field stores have retired (the store-to-load forwarding
/// of Zen and most x86 cores serves a load from one store only): a timer's schedule stalled
/// so in `perf annotate`. Word `a` holds the variant's tag (never 0, so `Option<QueuedEv>`
/// stays 16 bytes) in bits 0-7, a side in bits 8-15 and a 32-bit field in bits 32-63; `b`
/// holds a 64-bit field.
#[derive(Clone, Copy)]
struct QueuedEv {
    a: std::num::NonZeroU64,
    b: u64,
}

impl Ev {
    #[inline(always)]
    fn pack(self) -> QueuedEv {
        let side = |s: Side| (s as u64) << 8;
        let (tag, a, b) = match self {
            Ev::Arrival { id } => (QueuedEv::ARRIVAL, u64::from(id) << 32, 0),
            Ev::Deliver { to, slot } => (QueuedEv::DELIVER, side(to) | u64::from(slot) << 32, 0),
            Ev::Timer { host, token } => {
                let (conn, tw) = token.to_bits();
                (QueuedEv::TIMER, side(host) | u64::from(tw) << 32, conn)
            }
            Ev::Respond { id } => (QueuedEv::RESPOND, u64::from(id) << 32, 0),
            Ev::PeerOpen { id } => (QueuedEv::PEER_OPEN, u64::from(id) << 32, 0),
            Ev::Sample => (QueuedEv::SAMPLE, 0, 0),
            Ev::Flood { k } => (QueuedEv::FLOOD, 0, k),
        };
        QueuedEv {
            // No tag is 0, so this never falls back (and compiles to nothing).
            a: std::num::NonZeroU64::new(u64::from(tag) | a).unwrap_or(std::num::NonZeroU64::MIN),
            b,
        }
    }
}

/// The main loop dispatches on the tag and reads only the fields its arm needs: going
/// through [`unpack`](QueuedEv::unpack) built the `Ev` on the stack and dispatched twice.
impl QueuedEv {
    const ARRIVAL: u8 = 1;
    const DELIVER: u8 = 2;
    const TIMER: u8 = 3;
    const RESPOND: u8 = 4;
    const PEER_OPEN: u8 = 5;
    const SAMPLE: u8 = 6;
    const FLOOD: u8 = 7;

    #[inline(always)]
    fn tag(self) -> u8 {
        self.a.get() as u8
    }

    /// An arrival's, a response's or a peer open's id; a delivery's off-lane slot.
    #[inline(always)]
    fn id(self) -> u32 {
        (self.a.get() >> 32) as u32
    }

    /// A delivery's destination; a timer's host.
    #[inline(always)]
    fn side(self) -> Side {
        if (self.a.get() >> 8) as u8 == Side::Server as u8 {
            Side::Server
        } else {
            Side::Client
        }
    }

    #[inline(always)]
    fn token(self) -> TimerToken {
        TimerToken::from_bits(self.b, self.id())
    }

    /// The `Ev` packed (for the tracer, which is out of line).
    fn unpack(self) -> Ev {
        match self.tag() {
            Self::ARRIVAL => Ev::Arrival { id: self.id() },
            Self::DELIVER => Ev::Deliver {
                to: self.side(),
                slot: self.id(),
            },
            Self::TIMER => Ev::Timer {
                host: self.side(),
                token: self.token(),
            },
            Self::RESPOND => Ev::Respond { id: self.id() },
            Self::PEER_OPEN => Ev::PeerOpen { id: self.id() },
            Self::SAMPLE => Ev::Sample,
            _ => Ev::Flood { k: self.b },
        }
    }
}

/// What the main loop handles next: a queue event, or the head of a delivery lane. The
/// lane's segment is handled where it lies and popped after: moving it out first would copy
/// 40 bytes per delivery.
#[derive(Clone, Copy)]
enum Step {
    Queued(QueuedEv),
    Lane(Side),
}

/// Segments in flight toward one side, in arrival order. On a link with a fixed delay every
/// segment arrives after the one sent before it, so one FIFO carries them all, outside the
/// event queue: the queue stays as small as the number of live timers, and a delivery costs
/// a FIFO push and pop instead of a trip through the wheel's levels. The main loop merges the
/// lanes' heads with the queue by key (see [`Engine::next_event`]).
struct Lane {
    segs: Ring<(SimTime, Segment)>,
    /// The head's arrival time and its sequence number in the queue's order, reserved when
    /// it became the head; `(SimTime::MAX, u64::MAX)` when the lane is empty (no reserved
    /// number is `u64::MAX`). Kept apart from `segs` so that picking the next event compares
    /// two keys without looking into either ring.
    head_at: SimTime,
    head_seq: u64,
    /// The last segment's arrival time; `SimTime::ZERO` when the lane is empty.
    back_at: SimTime,
}

impl Default for Lane {
    fn default() -> Self {
        Lane {
            segs: Ring::default(),
            head_at: SimTime::MAX,
            head_seq: u64::MAX,
            back_at: SimTime::ZERO,
        }
    }
}

/// How far ahead of its front a delivery lane is prefetched: 8 entries of 48 bytes, six
/// cache lines, a few events' worth of lead.
const LANE_LOOKAHEAD: usize = 8;

/// A FIFO in a ring buffer whose capacity is a power of two, so that an index wraps with a
/// mask (a `VecDeque` of any capacity wraps with a compare and a subtraction): a delivery
/// lane touches its ring several times per segment it carries (push, head reads, pop).
struct Ring<T> {
    /// `buf.len()` is the capacity: 0 or a power of two. Slots outside the `len` entries
    /// from `head` hold stale copies.
    buf: Vec<T>,
    /// The front's index, below `buf.len()` when the ring has entries.
    head: usize,
    len: usize,
}

impl<T> Default for Ring<T> {
    fn default() -> Self {
        Ring {
            buf: Vec::new(),
            head: 0,
            len: 0,
        }
    }
}

impl<T: Copy + Default> Ring<T> {
    fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn front(&self) -> Option<&T> {
        (self.len != 0).then(|| &self.buf[self.head])
    }

    /// Starts loading the entry `k` places behind the front, if there is one (a hint).
    #[inline]
    fn prefetch_ahead(&self, k: usize) {
        if k < self.len {
            tcp_model::hint::prefetch(&self.buf[(self.head + k) & (self.buf.len() - 1)]);
        }
    }

    #[inline]
    fn push_back(&mut self, v: T) {
        if self.len == self.buf.len() {
            self.grow();
        }
        let i = (self.head + self.len) & (self.buf.len() - 1);
        self.buf[i] = v;
        self.len += 1;
    }

    /// Drops the front entry; the ring must have one.
    #[inline]
    fn pop_front(&mut self) {
        debug_assert!(self.len > 0);
        self.head = (self.head + 1) & (self.buf.len() - 1);
        self.len -= 1;
    }

    /// Doubles the capacity (to 16 at first), the entries moved to the front in order.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let cap = (self.buf.len() * 2).max(16);
        let mut buf = vec![T::default(); cap];
        for (k, slot) in buf.iter_mut().take(self.len).enumerate() {
            *slot = self.buf[(self.head + k) & (self.buf.len() - 1)];
        }
        self.buf = buf;
        self.head = 0;
    }
}

/// A live connection's queued wake-up, so that it can be cancelled.
#[derive(Clone, Copy)]
struct PendingTimer {
    token: TimerToken,
    handle: EventHandle,
}

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Every connection finished.
    Done,
    /// `experiment.max_sim_time` was reached.
    TimeLimit,
    /// `experiment.max_events` was reached.
    EventLimit,
    /// Nothing was left to happen while a connection was still open: the event queue ran
    /// empty with, say, a FIN-WAIT-2 under `fin_timeout = "none"` whose peer never closes.
    /// The run is over, but not because every connection finished.
    Stalled,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Done => "done",
            StopReason::TimeLimit => "time_limit",
            StopReason::EventLimit => "event_limit",
            StopReason::Stalled => "stalled",
        }
    }
}

/// What a run hands back: its summary row and (if asked) one row per connection.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub summary: RunSummary,
    pub connections: Vec<ConnRow>,
    /// `timeseries.csv` samples, when asked for.
    pub timeseries: Vec<Sample>,
}

/// A run failed in a way that is not a simulation outcome (a limit of the engine itself).
#[derive(Debug, thiserror::Error)]
#[error("run failed (seed {seed}, point {point}, replication {replication}): {message}")]
pub struct RunError {
    pub seed: u64,
    pub point: usize,
    pub replication: u32,
    pub message: String,
}

/// An instant that may not have happened yet: `Option<SimTime>` in 8 bytes instead of 16
/// (`SimTime::MAX` is "never", and no event happens then). A record holds seven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp(SimTime);

impl Default for Stamp {
    fn default() -> Self {
        Stamp(SimTime::MAX)
    }
}

impl Stamp {
    fn get(self) -> Option<SimTime> {
        (self.0 != SimTime::MAX).then_some(self.0)
    }
    fn is_some(self) -> bool {
        self.0 != SimTime::MAX
    }
    fn is_none(self) -> bool {
        self.0 == SimTime::MAX
    }
    fn set(&mut self, t: SimTime) {
        self.0 = t;
    }
    /// Sets it unless it is already set.
    fn get_or_insert(&mut self, t: SimTime) {
        if self.is_none() {
            self.0 = t;
        }
    }
}

/// The live state of one workload connection (both ends).
#[derive(Debug, Default)]
struct Rec {
    client: Option<ConnId>,
    server: Option<ConnId>,
    client_port: u16,
    t_connect: SimTime,
    t_established: Stamp,
    t_first_close: Stamp,
    t_time_wait: Stamp,
    /// When each side first reached TIME-WAIT or CLOSED: the end of its part of the teardown.
    t_teardown: [Stamp; 2],
    t_client_closed: Stamp,
    t_server_closed: Stamp,
    client_outcome: Option<Outcome>,
    server_outcome: Option<ServerOutcome>,
    rtx: [u32; 4],
    /// Requests the client has sent / responses it has fully received.
    requests_sent: u32,
    responses_received: u32,
    response_bytes_got: u64,
    /// Requests the server has fully received / responses it has sent.
    requests_received: u32,
    responses_sent: u32,
    request_bytes_got: u64,
    client_app_closed: bool,
    server_app_closed: bool,
    server_peer_fin: bool,
    /// Has the client (index 0) / server (1) sent a FIN yet: faults can match "after FIN".
    fin_sent: [bool; 2],
    /// Has the client (0) / server (1) entered TIME-WAIT.
    in_time_wait: [bool; 2],
    /// A simultaneous open whose server side has yet to connect: the record must wait for it.
    peer_open_pending: bool,
}

// A few thousand records are in use at once, and each host event touches one: keep them
// within three cache lines.
const _: () = assert!(std::mem::size_of::<Rec>() <= 152, "Rec grew");

struct Engine<'a> {
    cfg: &'a RunConfig,
    seed: u64,
    point: usize,
    replication: u32,
    q: EventQueue<QueuedEv>,
    client: Host,
    server: Host,
    c2s: Link,
    s2c: Link,
    arrivals_rng: SimRng,
    /// The mean gap between Poisson arrivals: one per connection, so computed once.
    arrival_mean: SimDuration,
    /// The first listening port; connection `id` goes to port `server_addr.port + id %
    /// server_ports`.
    server_addr: Addr,
    server_ports: u32,
    /// Live workload connections by id. Only looked up, never iterated except once,
    /// sorted, at the end.
    live: RecTable<Rec>,
    /// Some fault matches only segments after a FIN: track which sides sent one.
    track_fins: bool,
    /// Delivery lanes toward the client (0) and the server (1).
    lanes: [Lane; 2],
    /// Segments in flight outside the lanes (`Ev::Deliver`), and the free slots among them.
    off_lane: Vec<Segment>,
    off_lane_free: Vec<u32>,
    /// Per side, by [`TimerToken::slot`]: the wake-up queued for that live connection.
    timers: [Vec<Option<PendingTimer>>; 2],
    finished: u64,
    /// Events handled (queue pops and lane deliveries), and the time of the last one.
    events: u64,
    now: SimTime,
    samples: Vec<Sample>,
    /// Link packets / drops at the previous sample.
    sampled: (u64, u64),
    summary: RunSummary,
    rows: Vec<ConnRow>,
    keep_rows: bool,
    /// `Some` only in [`run_traced`]: checked once per event, nothing allocated when off.
    tracer: Option<Box<Tracer>>,
    /// Why the run halted, when it did (see [`Halt`]).
    failure: Option<RunError>,
    /// Set by every application call: see [`Engine::drain`].
    app_called: bool,
}

/// The error of the engine's inner functions: the run cannot go on, and the reason waits in
/// `Engine::failure`. Zero-sized, so the hot paths pass a flag instead of a `RunError`.
struct Halt;

/// An application call the workload makes on a live connection.
#[derive(Clone, Copy)]
enum AppOp {
    Send(u64),
    Close,
    /// Write the last bytes and close at once: the FIN rides on the last data segment.
    SendClose(u64),
}

/// Runs one (sweep point, replication) of an experiment.
pub fn run(
    cfg: &RunConfig,
    seed: u64,
    point: usize,
    replication: u32,
) -> Result<RunOutput, RunError> {
    run_with(cfg, seed, point, replication, None).map(|(out, _)| out)
}

/// Runs one (sweep point, replication) exactly as [`run`] does, recording every event of
/// workload connection `connection` (0-based): its segments, what the links did with them,
/// and both ends' state changes with their causes. The `RunOutput` equals `run`'s.
pub fn run_traced(
    cfg: &RunConfig,
    seed: u64,
    point: usize,
    replication: u32,
    connection: u64,
) -> Result<(RunOutput, Trace), RunError> {
    let n = cfg.workload.connections;
    if connection >= n {
        return Err(RunError {
            seed,
            point,
            replication,
            message: format!(
                "connection {connection} does not exist: the workload has {n} connection(s), \
                 numbered from 0"
            ),
        });
    }
    // Connection ids are u32 throughout the engine (segment incarnations).
    let id = u32::try_from(connection).map_err(|_| RunError {
        seed,
        point,
        replication,
        message: format!("connection {connection} is beyond the engine's u32 ids"),
    })?;
    let listens = cfg.workload.open == OpenMode::Listen;
    let (out, tracer) = run_with(
        cfg,
        seed,
        point,
        replication,
        Some(Box::new(Tracer::new(id, listens))),
    )?;
    let trace = match tracer {
        Some(t) => t.finish(),
        None => Tracer::new(id, listens).finish(),
    };
    Ok((out, trace))
}

fn run_with(
    cfg: &RunConfig,
    seed: u64,
    point: usize,
    replication: u32,
    tracer: Option<Box<Tracer>>,
) -> Result<(RunOutput, Option<Box<Tracer>>), RunError> {
    let stream = |c| SimRng::stream(seed, point as u64, replication as u64, c);
    let fail = |message: String| RunError {
        seed,
        point,
        replication,
        message,
    };
    let mut client_secret = stream(component::CLIENT_HOST);
    let mut server_secret = stream(component::SERVER_HOST);
    let client = Host::new(CLIENT_IP, cfg.tcp.client.clone(), client_secret.next_u64());
    let mut server = Host::new(SERVER_IP, cfg.tcp.server.clone(), server_secret.next_u64());
    let server_port = cfg.workload.server_port;
    // A simultaneous open has nobody listening: a SYN that arrives before the server's own
    // connect() finds no socket.
    let listening = cfg.workload.open == OpenMode::Listen;
    for port in (server_port..=server_port + (cfg.workload.server_ports - 1)).filter(|_| listening)
    {
        server
            .listen(port)
            .map_err(|e| fail(format!("server cannot listen on {port}: {e}")))?;
    }
    let c2s = Link::new(
        Direction::ClientToServer,
        cfg.link.client_to_server.clone(),
        &cfg.fault,
        stream(component::LINK_C2S),
    )
    .map_err(|e| fail(format!("link.client_to_server: {e}")))?;
    let s2c = Link::new(
        Direction::ServerToClient,
        cfg.link.server_to_client.clone(),
        &cfg.fault,
        stream(component::LINK_S2C),
    )
    .map_err(|e| fail(format!("link.server_to_client: {e}")))?;

    let (mut client, mut server) = (client, server);
    let closes = cfg.workload.close_first;
    client.reserve(expected_peak_connections(cfg, closes != CloseFirst::Server));
    server.reserve(expected_peak_connections(cfg, closes != CloseFirst::Client));
    if tracer.is_none() {
        // The workload only needs TIME-WAIT entries (the rest it learns from other events);
        // a trace shows every transition.
        client.report_state_changes(&[State::TimeWait]);
        server.report_state_changes(&[State::TimeWait]);
    }
    // A moved wake-up is cancelled and queued again all the same; one event says it.
    client.report_moved_timers(true);
    server.report_moved_timers(true);
    let mut e = Engine {
        cfg,
        seed,
        point,
        replication,
        q: EventQueue::new(),
        client,
        server,
        c2s,
        s2c,
        arrivals_rng: stream(component::ARRIVALS),
        arrival_mean: SimDuration::from_nanos((1e9 / cfg.workload.rate).round().max(1.0) as u64),
        server_addr: Addr {
            ip: SERVER_IP,
            port: server_port,
        },
        server_ports: cfg.workload.server_ports as u32,
        live: RecTable::new(),
        track_fins: cfg.fault.iter().any(|f| f.after_fin),
        lanes: Default::default(),
        off_lane: Vec::new(),
        off_lane_free: Vec::new(),
        timers: Default::default(),
        finished: 0,
        events: 0,
        now: SimTime::ZERO,
        samples: Vec::new(),
        sampled: (0, 0),
        summary: RunSummary::new(seed, replication, cfg.workload.connections),
        rows: Vec::new(),
        keep_rows: cfg.output.connections,
        tracer,
        failure: None,
        app_called: false,
    };
    match e.start().and_then(|()| e.main_loop()) {
        Ok(stop) => Ok(e.finish(stop)),
        Err(Halt) => Err(e
            .failure
            .take()
            .unwrap_or_else(|| e.err("run halted without a reason".to_string()))),
    }
}

impl Engine<'_> {
    /// Queues the first arrival, sample and flood SYN.
    fn start(&mut self) -> Result<(), Halt> {
        let cfg = self.cfg;
        let first = self.arrival_time(0, SimTime::ZERO);
        self.schedule(first, Ev::Arrival { id: 0 })?;
        if cfg.output.timeseries.is_some() {
            self.schedule(SimTime::ZERO, Ev::Sample)?;
        }
        if cfg.flood.rate > 0.0 && !cfg.flood.duration.is_zero() {
            self.schedule(SimTime::ZERO + cfg.flood.start, Ev::Flood { k: 0 })?;
        }
        Ok(())
    }

    fn err(&self, message: String) -> RunError {
        RunError {
            seed: self.seed,
            point: self.point,
            replication: self.replication,
            message,
        }
    }

    #[inline]
    fn schedule(&mut self, at: SimTime, ev: Ev) -> Result<EventHandle, Halt> {
        match self.q.schedule(at, ev.pack()) {
            Ok(h) => Ok(h),
            Err(e) => Err(self.halt(e)),
        }
    }

    /// Keeps the queue's refusal for [`run_with`] to report; out of line, since it never
    /// happens in a run that finishes.
    #[cold]
    #[inline(never)]
    fn halt(&mut self, e: ScheduleError) -> Halt {
        self.failure = Some(self.err(e.to_string()));
        Halt
    }

    /// When connection `id` arrives, given the previous arrival at `prev`.
    fn arrival_time(&mut self, id: u64, prev: SimTime) -> SimTime {
        let w = &self.cfg.workload;
        match w.arrival {
            Arrival::Burst => SimTime::ZERO,
            // Computed from the index, not by adding rounded gaps, so there is no drift.
            Arrival::Uniform => SimTime::from_nanos((id as f64 * 1e9 / w.rate).round() as u64),
            Arrival::Poisson => prev + self.arrivals_rng.exp_duration(self.arrival_mean),
        }
    }

    fn main_loop(&mut self) -> Result<StopReason, Halt> {
        let limit = SimTime::ZERO + self.cfg.experiment.max_sim_time;
        let max_events = self.cfg.experiment.max_events;
        let n = self.cfg.workload.connections;
        loop {
            if self.finished == n
                && self.client.connections() == 0
                && self.server.connections() == 0
            {
                // Every connection is accounted for and both hosts are empty: what is left in
                // the queue is stale timer wake-ups and segments to nowhere.
                return Ok(StopReason::Done);
            }
            if self.events >= max_events {
                return Ok(StopReason::EventLimit);
            }
            let Some((now, ev)) = self.next_event(limit) else {
                let idle = self.q.is_empty() && self.lanes.iter().all(|l| l.segs.is_empty());
                return Ok(if idle {
                    StopReason::Stalled
                } else {
                    StopReason::TimeLimit
                });
            };
            self.events += 1;
            self.now = now;
            if self.tracer.is_some() {
                self.trace_step(now, ev);
            }
            match ev {
                Step::Lane(to) => {
                    let l = &mut self.lanes[to as usize];
                    let (_, seg) = l.segs.front().expect("the lane has a head");
                    match to {
                        Side::Client => self.client.handle_segment(now, seg),
                        Side::Server => self.server.handle_segment(now, seg),
                    }
                    // Popped after its handling, which touches neither the lanes nor the
                    // queue: the next head's number is reserved before anything else is
                    // scheduled, as if it had been popped first.
                    l.segs.pop_front();
                    match l.segs.front() {
                        Some(&(at, ref next)) => {
                            l.head_at = at;
                            l.head_seq = self.q.reserve_seq();
                            // The new head is handled within a few events, and its connection's
                            // state, last touched a link delay ago, has likely left the cache:
                            // start loading it now (see `Host::prefetch_for`).
                            let slot = match to {
                                Side::Client => self.client.prefetch_for(next),
                                Side::Server => self.server.prefetch_for(next),
                            };
                            self.live.prefetch(next.incarnation);
                            // The lane was written a link delay ago; reading it in order is
                            // no pattern the hardware follows among everything else.
                            l.segs.prefetch_ahead(LANE_LOOKAHEAD);
                            if let Some(p) =
                                slot.and_then(|i| self.timers[to as usize].get(i as usize))
                            {
                                tcp_model::hint::prefetch(p);
                            }
                        }
                        None => {
                            l.head_at = SimTime::MAX;
                            l.head_seq = u64::MAX;
                            l.back_at = SimTime::ZERO;
                        }
                    }
                }
                Step::Queued(q) => match q.tag() {
                    QueuedEv::ARRIVAL => self.on_arrival(now, q.id())?,
                    QueuedEv::TIMER => match q.side() {
                        Side::Client => self.client.handle_timeout(now, q.token()),
                        Side::Server => self.server.handle_timeout(now, q.token()),
                    },
                    QueuedEv::RESPOND => self.respond(now, q.id()),
                    QueuedEv::PEER_OPEN => self.peer_open(now, q.id()),
                    QueuedEv::SAMPLE => self.sample(now)?,
                    QueuedEv::DELIVER => {
                        let slot = q.id();
                        let seg = &self.off_lane[slot as usize];
                        match q.side() {
                            Side::Client => self.client.handle_segment(now, seg),
                            Side::Server => self.server.handle_segment(now, seg),
                        }
                        self.off_lane_free.push(slot);
                    }
                    _ => self.flood(now, q.b)?,
                },
            }
            self.drain(now)?;
        }
    }

    /// Shows the tracer the event the main loop is about to handle. Out of line, and given
    /// the event by value: inlined, or given its address, it made the untraced main loop
    /// slower (callgrind on bench-a's shape: +0.3 % instructions) though it never ran.
    #[cold]
    #[inline(never)]
    fn trace_step(&mut self, now: SimTime, ev: Step) {
        let Some(t) = self.tracer.as_deref_mut() else {
            return;
        };
        // What the last delivery did is settled before anything else happens.
        t.resolve_answers([&self.client, &self.server]);
        t.settle([self.client.stats(), self.server.stats()]);
        let stats = |to: Side| match to {
            Side::Client => self.client.stats(),
            Side::Server => self.server.stats(),
        };
        let ev = match ev {
            Step::Queued(q) => Ok(q.unpack()),
            Step::Lane(to) => Err(to),
        };
        match ev {
            Ok(Ev::Arrival { .. }) => t.begin(Some((Side::Client, Cause::App(AppCall::Connect)))),
            Err(to) => {
                let (_, seg) = self.lanes[to as usize].segs.front().expect("a head");
                t.deliver(now, to, seg, stats(to))
            }
            Ok(Ev::Deliver { to, slot }) => {
                t.deliver(now, to, &self.off_lane[slot as usize], stats(to))
            }
            Ok(Ev::Timer { host, .. }) => t.timer(host),
            // Its calls are traced one by one (`app`).
            Ok(Ev::Respond { .. } | Ev::PeerOpen { .. } | Ev::Sample | Ev::Flood { .. }) => {
                t.begin(None)
            }
        }
    }

    /// The next event no later than `limit`: the queue's, or a lane head's if its key is
    /// smaller. A lane head's key is the sequence number reserved when it became the head, so
    /// the order is one total (time, seq) order, and exactly that of a queue holding one
    /// delivery event per lane, scheduled when its segment became the head (the design this
    /// replaced). It is not that of one event per segment scheduled when sent: a segment
    /// would then win ties at its arrival time against events scheduled while it waited.
    fn next_event(&mut self, limit: SimTime) -> Option<(SimTime, Step)> {
        let [c, v] = &self.lanes;
        // An empty lane's key is (MAX, MAX): it never wins against a lane with a head.
        let (to, l) = if (v.head_at, v.head_seq) < (c.head_at, c.head_seq) {
            (Side::Server, v)
        } else {
            (Side::Client, c)
        };
        let lane = (l.head_at <= limit && l.head_seq != u64::MAX).then_some(l.head_at);
        let (bound_time, bound_seq) = match lane {
            Some(at) => (at, l.head_seq),
            None => (limit, u64::MAX),
        };
        if let Some((at, ev)) = self.q.pop_before(bound_time, bound_seq) {
            return Some((at, Step::Queued(ev)));
        }
        lane.map(|at| (at, Step::Lane(to)))
    }

    fn sample(&mut self, now: SimTime) -> Result<(), Halt> {
        let (a, b) = (self.c2s.stats(), self.s2c.stats());
        let (sent, dropped) = (a.packets + b.packets, a.dropped() + b.dropped());
        self.samples.push(Sample {
            time_ns: now.as_nanos(),
            in_state: [
                timeseries::pick(&self.client.stats().in_state),
                timeseries::pick(&self.server.stats().in_state),
            ],
            segments_sent: sent - self.sampled.0,
            segments_dropped: dropped - self.sampled.1,
        });
        self.sampled = (sent, dropped);
        if let Some(iv) = self.cfg.output.timeseries {
            self.schedule(now + iv, Ev::Sample)?;
        }
        Ok(())
    }

    /// Sends spoofed SYN `k` and schedules the next. Addresses and numbers are a function of
    /// `k`, so the flood draws nothing from any random stream.
    fn flood(&mut self, now: SimTime, k: u64) -> Result<(), Halt> {
        let f = &self.cfg.flood;
        let next = f.start + SimDuration::from_nanos(((k + 1) as f64 * 1e9 / f.rate) as u64);
        if next < f.start + f.duration {
            self.schedule(SimTime::ZERO + next, Ev::Flood { k: k + 1 })?;
        }
        let syn = Segment {
            src: Addr {
                ip: 0xc612_0000 | (k % (1 << 17)) as u32,
                port: 1024 + ((k >> 17) % 64_000) as u16,
            },
            dst: self.server_addr,
            seq: tcp_model::SeqNum((k as u32).wrapping_mul(0x9e37_79b9)),
            ack: tcp_model::SeqNum(0),
            flags: tcp_model::Flags::SYN,
            window: 65535,
            mss: 1460,
            payload_len: 0,
            incarnation: FLOOD_INCARNATION,
        };
        self.summary.flood_syns += 1;
        self.transmit(now, Side::Client, syn)
    }

    fn on_arrival(&mut self, now: SimTime, id: u32) -> Result<(), Halt> {
        let n = self.cfg.workload.connections;
        if (id as u64) + 1 < n {
            let next = self.arrival_time(id as u64 + 1, now);
            self.schedule(next, Ev::Arrival { id: id + 1 })?;
            // The next arrival's record goes in the table slot after this one's, last
            // touched a table's length of arrivals ago: start loading it now, while the
            // events before that arrival run.
            self.live.prefetch(id + 1);
        }
        let remote = Addr {
            port: self.server_addr.port + (id % self.server_ports) as u16,
            ..self.server_addr
        };
        match self.client.connect(now, remote, id, id as u64) {
            Ok(conn) => {
                // Built in its table slot: a record built here and moved in costs a copy.
                *self.live.insert_slot(id) = Rec {
                    t_connect: now,
                    client: Some(conn),
                    ..Rec::default()
                };
                if self.cfg.workload.open == OpenMode::Simultaneous {
                    // The server connects back to the port the client's connect picked.
                    let port = self.client.local_addr(conn).map_or(0, |a| a.port);
                    let rec = self.rec(id);
                    rec.client_port = port;
                    rec.peer_open_pending = true;
                    let skew = self.cfg.workload.open_skew;
                    if skew.is_zero() {
                        self.peer_open(now, id);
                    } else {
                        self.schedule(now + skew, Ev::PeerOpen { id })?;
                    }
                }
            }
            Err(_) => {
                if let Some(t) = self.tracer.as_deref_mut().filter(|t| t.connection() == id) {
                    t.connect_failed(now, Side::Client);
                }
                let rec = Rec {
                    t_connect: now,
                    client_outcome: Some(Outcome::PortExhausted),
                    ..Rec::default()
                };
                self.finalize(conn_row(id, &rec));
            }
        }
        Ok(())
    }

    /// The server side of simultaneous open `id` connects from its port to the client's.
    fn peer_open(&mut self, now: SimTime, id: u32) {
        self.app_called = true;
        let local_port = self.server_addr.port + (id % self.server_ports) as u16;
        let Some(rec) = self.live.get_mut(id) else {
            return;
        };
        rec.peer_open_pending = false;
        let remote = Addr {
            ip: CLIENT_IP,
            port: rec.client_port,
        };
        let opened = self
            .server
            .connect_from(now, local_port, remote, id, id as u64);
        let rec = self.rec(id);
        match opened {
            Ok(conn) => rec.server = Some(conn),
            // The 4-tuple is still held on the server (TIME-WAIT of an earlier connection
            // between the same ports): Linux refuses connect() with EADDRNOTAVAIL.
            Err(_) => rec.server_outcome = Some(ServerOutcome::OpenFailed),
        }
        if let Some(t) = self.tracer.as_deref_mut().filter(|t| t.connection() == id) {
            match opened {
                Ok(conn) => t.app_call(
                    now,
                    Side::Server,
                    AppCall::Connect,
                    Some(State::Closed),
                    self.server.conn_state(conn),
                ),
                Err(_) => t.connect_failed(now, Side::Server),
            }
        }
        self.maybe_finalize(id);
    }

    /// Moves segments from hosts onto links and host events into the workload until quiet.
    ///
    /// Only an application call gives a host new output, and only host events lead to one:
    /// transmitting touches links and lanes, never a host. So a round without application
    /// calls leaves both hosts quiet, and no second round is needed to find that out.
    fn drain(&mut self, now: SimTime) -> Result<(), Halt> {
        loop {
            // Each queue is read in one pass and then cleared, not popped item by item.
            // Sending touches neither host; an event's handling may call into a host: its
            // new events are appended, so those of the host being read are read in this same
            // pass, as popping would, and those of the other host wait for the next round
            // if its pass is over (as before).
            let mut i = 0;
            while let Some(seg) = self.client.queued_segment(i) {
                self.transmit(now, Side::Client, seg)?;
                i += 1;
            }
            self.client.clear_transmit();
            let mut i = 0;
            while let Some(seg) = self.server.queued_segment(i) {
                self.transmit(now, Side::Server, seg)?;
                i += 1;
            }
            self.server.clear_transmit();
            self.app_called = false;
            let mut i = 0;
            while let Some(ev) = self.client.queued_event(i) {
                self.on_host_event(now, Side::Client, ev)?;
                i += 1;
            }
            self.client.clear_events();
            let mut i = 0;
            while let Some(ev) = self.server.queued_event(i) {
                self.on_host_event(now, Side::Server, ev)?;
                i += 1;
            }
            self.server.clear_events();
            if !self.app_called {
                return Ok(());
            }
        }
    }

    #[inline(always)]
    fn transmit(&mut self, now: SimTime, from: Side, seg: Segment) -> Result<(), Halt> {
        let dir = from as usize;
        let mut after_fin = false;
        // Only SYNs from the client (its port) and, with `after_fin` faults, FINs and what
        // follows them need the record: most segments skip the lookup.
        let is_client_syn = from == Side::Client && seg.flags.contains(tcp_model::Flags::SYN);
        let rec = if self.track_fins || is_client_syn {
            self.find(seg.incarnation)
        } else {
            None
        };
        if let Some(rec) = rec {
            after_fin = rec.fin_sent[dir];
            if seg.flags.contains(tcp_model::Flags::FIN) {
                rec.fin_sent[dir] = true;
            }
            if from == Side::Client && seg.flags.contains(tcp_model::Flags::SYN) {
                rec.client_port = seg.src.port;
            }
        }
        let info = PacketInfo {
            conn: seg.incarnation as u64,
            flags: seg.flags.0,
            payload_len: seg.payload_len,
            wire_len: seg.payload_len + HEADER_BYTES + if seg.mss != 0 { 4 } else { 0 },
            after_fin,
        };
        let (link, to) = match from {
            Side::Client => (&mut self.c2s, Side::Server),
            Side::Server => (&mut self.s2c, Side::Client),
        };
        let verdict = link.transmit(now, &info);
        if let Some(t) = self.tracer.as_deref_mut() {
            t.transmit(now, from, &seg, &verdict);
        }
        match verdict {
            Verdict::Drop(_) => Ok(()),
            Verdict::Deliver { at, duplicate_at } => {
                self.deliver_at(at, to, seg)?;
                if let Some(at2) = duplicate_at {
                    self.deliver_at(at2, to, seg)?;
                }
                Ok(())
            }
        }
    }

    /// Puts `seg` in flight to arrive at `to` at `at`: on the lane if it keeps it in order.
    #[inline(always)]
    fn deliver_at(&mut self, at: SimTime, to: Side, seg: Segment) -> Result<(), Halt> {
        let lane = &mut self.lanes[to as usize];
        if at < lane.back_at {
            let slot = match self.off_lane_free.pop() {
                Some(slot) => {
                    self.off_lane[slot as usize] = seg;
                    slot
                }
                None => {
                    self.off_lane.push(seg);
                    (self.off_lane.len() - 1) as u32
                }
            };
            self.schedule(at, Ev::Deliver { to, slot })?;
        } else {
            lane.back_at = at;
            if lane.head_seq == u64::MAX {
                lane.head_at = at;
                lane.head_seq = self.q.reserve_seq();
            }
            lane.segs.push_back((at, seg));
        }
        Ok(())
    }

    /// Every host event is handled inline in the main loop, connection events included:
    /// seven per lifecycle, and a call for each (saving and restoring the registers the
    /// loop keeps live) cost more than the code it adds (measured with callgrind on bench-a's shape, 40k lifecycles: 400.3 M -> 394.4 M
    /// instructions).
    #[inline(always)]
    fn on_host_event(&mut self, now: SimTime, side: Side, ev: HostEvent) -> Result<(), Halt> {
        match ev {
            HostEvent::Timer { token, at } => self.wake_at(side, token, at),
            HostEvent::TimerMoved { token, at } => self.move_wakeup(side, token, at),
            HostEvent::TimerCancelled { token } => {
                self.cancel_wakeup(side, token);
                Ok(())
            }
            HostEvent::Incoming { conn, tag, .. } => {
                self.on_incoming(conn, tag);
                Ok(())
            }
            HostEvent::Conn { conn, tag, event } => self.on_conn_event(now, side, conn, tag, event),
        }
    }

    /// Queues the wake-up `token` asked for, keeping its handle if it is a live
    /// connection's, so that it can be cancelled.
    #[inline(always)]
    fn wake_at(&mut self, side: Side, token: TimerToken, at: SimTime) -> Result<(), Halt> {
        let handle = self.schedule(at, Ev::Timer { host: side, token })?;
        if let Some(slot) = token.slot() {
            let v = &mut self.timers[side as usize];
            let i = slot as usize;
            match v.get_mut(i) {
                Some(p) => *p = Some(PendingTimer { token, handle }),
                None => grow_timers(v, i, PendingTimer { token, handle }),
            }
        }
        Ok(())
    }

    /// Moves the wake-up of `token` to `at`: its queue entry is rescheduled in place when it
    /// is still there (in the order a cancel and a new schedule would give it), otherwise
    /// queued as a new one.
    #[inline(always)]
    fn move_wakeup(&mut self, side: Side, token: TimerToken, at: SimTime) -> Result<(), Halt> {
        let ev = Ev::Timer { host: side, token }.pack();
        if let Some(slot) = token.slot() {
            if let Some(Some(p)) = self.timers[side as usize].get_mut(slot as usize) {
                if p.token == token {
                    match self.q.reschedule(p.handle, at, ev) {
                        Ok(handle) => {
                            p.handle = handle;
                            return Ok(());
                        }
                        Err(e) => return Err(self.halt(e)),
                    }
                }
            }
        }
        self.wake_at(side, token, at)
    }

    /// Takes the wake-up of `token` out of the queue, if it is still there.
    #[inline(always)]
    fn cancel_wakeup(&mut self, side: Side, token: TimerToken) {
        if let Some(slot) = token.slot() {
            if let Some(p) = self.timers[side as usize].get_mut(slot as usize) {
                if let Some(t) = p.take_if(|t| t.token == token) {
                    self.q.cancel(t.handle);
                }
            }
        }
    }

    /// Once per lifecycle; inlined like the other host events (a call cost more).
    #[inline(always)]
    fn on_incoming(&mut self, conn: ConnId, tag: u64) {
        let id = tag as u32;
        match self.find(id) {
            Some(rec) if rec.server.is_none() && tag <= u32::MAX as u64 => rec.server = Some(conn),
            // The flood's half-open connections are counted as such.
            _ if tag == FLOOD_INCARNATION as u64 => {}
            // A SYN from an older incarnation (or a duplicate) opened a connection no
            // workload connection owns: counted, and left to time out on its own.
            _ => self.summary.ghost_connections += 1,
        }
    }

    #[inline(always)]
    fn on_conn_event(
        &mut self,
        now: SimTime,
        side: Side,
        conn: ConnId,
        tag: u64,
        event: Event,
    ) -> Result<(), Halt> {
        if let Some(t) = self.tracer.as_deref_mut() {
            if tag == t.connection() as u64 {
                t.conn_event(now, side, event);
            }
        }
        let id = tag as u32;
        let early = !self.keep_rows;
        let Some(mut h) = self.handler(now, id) else {
            return Ok(());
        };
        let owned = match side {
            Side::Client => h.rec.client == Some(conn),
            Side::Server => h.rec.server == Some(conn),
        };
        if !owned {
            return Ok(());
        }
        let follow = match side {
            Side::Client => h.on_client(event),
            Side::Server => h.on_server(event),
        };
        let done = follow.check_finished && finished(h.rec, early);
        if follow.delayed > 0 {
            let at = now + self.cfg.workload.think_time;
            for _ in 0..follow.delayed {
                self.schedule(at, Ev::Respond { id })?;
            }
        }
        if done {
            self.retire(id);
        }
        Ok(())
    }

    /// The handler of an event of connection `id`, if it is live. It holds the record,
    /// looked up once, next to the hosts the application calls: the table is borrowed
    /// apart from them, so no step of the handling looks the record up again.
    #[inline(always)]
    fn handler(&mut self, now: SimTime, id: u32) -> Option<Handler<'_>> {
        let Engine {
            cfg,
            live,
            client,
            server,
            tracer,
            app_called,
            ..
        } = self;
        let rec = live.get_mut(id)?;
        Some(Handler {
            w: &cfg.workload,
            now,
            rec,
            client,
            server,
            tracer: tracer.as_deref_mut().filter(|t| t.connection() == id),
            app_called,
        })
    }

    /// The record of live connection `id`.
    fn find(&mut self, id: u32) -> Option<&mut Rec> {
        self.live.get_mut(id)
    }

    fn rec(&mut self, id: u32) -> &mut Rec {
        self.find(id).expect("caller checked the record is live")
    }

    /// Forgets live connection `id` and returns its record.
    fn take(&mut self, id: u32) -> Option<Rec> {
        self.live.remove(id)
    }

    /// A response whose think time is over.
    #[inline(never)]
    fn respond(&mut self, now: SimTime, id: u32) {
        if let Some(mut h) = self.handler(now, id) {
            h.respond();
        }
    }

    /// Finalizes connection `id` if the workload is done with it (see [`finished`]).
    fn maybe_finalize(&mut self, id: u32) {
        let early = !self.keep_rows;
        if self.live.get_mut(id).is_some_and(|r| finished(r, early)) {
            self.retire(id);
        }
    }

    /// Finalizes live connection `id`, which the workload is done with, and forgets it.
    fn retire(&mut self, id: u32) {
        if self.keep_rows {
            // The row is built from the record where it lies: moving 152 bytes out of the
            // table and into `finalize` would cost more than the rest of this.
            if let Some(row) = self.live.discard_with(id, |r| conn_row(id, r)) {
                self.finalize(row);
            }
        } else {
            // Without rows the summary is all a finished connection feeds, and it reads
            // five of a row's fields: take them from the record, with no row built.
            let summary = &mut self.summary;
            let found = self.live.discard_with(id, |r| {
                summary.add_parts(
                    r.client_outcome.unwrap_or(Outcome::Unfinished),
                    r.server_outcome,
                    handshake_ns(r),
                    close_ns(r),
                    r.rtx,
                )
            });
            if found.is_some() {
                self.count_finished(id);
            }
        }
    }

    fn finalize(&mut self, row: ConnRow) {
        self.count_finished(row.id);
        self.summary.add(&row);
        if self.keep_rows {
            self.rows.push(row);
        }
    }

    fn count_finished(&mut self, id: u32) {
        self.finished += 1;
        // Both ends are done: drop the links' per-connection fault counters, which would
        // otherwise grow by one entry per connection for faults that match every connection.
        self.c2s.forget_connection(id as u64);
        self.s2c.forget_connection(id as u64);
    }

    fn finish(mut self, stop: StopReason) -> (RunOutput, Option<Box<Tracer>>) {
        // Whatever is still alive at the limit is reported as unfinished, in id order.
        let left = self.live.ids_sorted();
        for id in left {
            let mut rec = self.take(id).expect("listed");
            if rec.client_outcome.is_none() {
                rec.client_outcome = Some(Outcome::Unfinished);
            }
            if (rec.server.is_some() || rec.peer_open_pending) && rec.server_outcome.is_none() {
                // (A simultaneous open's server that had yet to connect is unfinished too.)
                rec.server_outcome = Some(ServerOutcome::Unfinished);
            }
            self.finalize(conn_row(id, &rec));
        }
        // Connections whose arrival time lies beyond the limit never started: unfinished too.
        let never_started = self.cfg.workload.connections - self.finished;
        self.summary.outcomes[Outcome::ALL
            .iter()
            .position(|&o| o == Outcome::Unfinished)
            .expect("listed")] += never_started;
        self.rows.sort_unstable_by_key(|r| r.id);
        let s = &mut self.summary;
        s.stop = stop;
        s.sim_end_ns = self.now.as_nanos();
        s.events = self.events;
        let (c, v) = (self.client.stats(), self.server.stats());
        if let Some(t) = self.tracer.as_deref_mut() {
            // The last event may have been a delivery still to be judged.
            t.resolve_answers([&self.client, &self.server]);
            t.settle([c, v]);
        }
        s.time_wait_peak_client = c.time_wait_peak;
        s.time_wait_peak_server = v.time_wait_peak;
        s.rst_sent = c.rst_sent + v.rst_sent;
        s.acks_rate_limited = c.acks_rate_limited + v.acks_rate_limited;
        s.out_of_order = c.out_of_order + v.out_of_order;
        s.fins_held = c.fins_held + v.fins_held;
        s.listen = [
            v.syn_dropped_queue_full + v.syn_dropped_syn_backlog,
            v.syn_cookies_sent,
            v.syn_cookies_validated,
            v.accept_queue_overflows,
            v.syn_queue_pruned,
            v.retransmits.syn_ack,
        ];
        let w = &self.cfg.workload;
        let closer = match w.close_first {
            CloseFirst::Server => &self.cfg.tcp.server,
            _ => &self.cfg.tcp.client,
        };
        let tw_s = closer.time_wait().as_nanos() as f64 / 1e9;
        s.time_wait_s = [&self.cfg.tcp.client, &self.cfg.tcp.server]
            .map(|c| c.time_wait().as_nanos() as f64 / 1e9);
        let tuples = self.cfg.tcp.client.ephemeral_count() as f64 * w.server_ports as f64;
        s.port_limit_per_s = if tw_s > 0.0 {
            tuples / tw_s
        } else {
            f64::INFINITY
        };
        s.time_wait_little = match w.arrival {
            Arrival::Burst => w.connections as f64,
            _ => (w.rate * tw_s).min(w.connections as f64),
        };
        if w.arrival != Arrival::Burst {
            let span_s = w.connections as f64 / w.rate;
            s.completed_per_s = s.count(Outcome::Completed) as f64 / span_s;
            s.request_rate = w.rate * w.requests_per_connection as f64;
        }
        s.time_wait_killed =
            c.closed.get(CloseReason::TimeWaitKilled) + v.closed.get(CloseReason::TimeWaitKilled);
        s.stale_accepted = [
            StaleKind::Syn,
            StaleKind::Ack,
            StaleKind::Data,
            StaleKind::Fin,
            StaleKind::Rst,
        ]
        .map(|k| c.stale_accepted.get(k) + v.stale_accepted.get(k));
        let (a, b) = (self.c2s.stats(), self.s2c.stats());
        s.segments_c2s = a.packets;
        s.segments_s2c = b.packets;
        s.dropped_c2s = a.dropped();
        s.dropped_s2c = b.dropped();
        s.finalize_samples();
        (
            RunOutput {
                summary: self.summary,
                connections: self.rows,
                timeseries: self.samples,
            },
            self.tracer,
        )
    }
}

/// The workload's handling of one event of a live connection: its record and the hosts the
/// application calls (see [`Engine::handler`]). What needs the rest of the engine, it leaves
/// for the engine to do when it is done (a [`Follow`]).
struct Handler<'e> {
    w: &'e WorkloadConfig,
    now: SimTime,
    rec: &'e mut Rec,
    client: &'e mut Host,
    server: &'e mut Host,
    /// The tracer, when it traces this connection.
    tracer: Option<&'e mut Tracer>,
    app_called: &'e mut bool,
}

/// What a [`Handler`] leaves for the engine to do once it is done with the record: returned,
/// not kept in the handler, so that a handler costs fewer stores to set up.
#[derive(Clone, Copy, Default)]
struct Follow {
    /// Responses whose think time has begun, to queue.
    delayed: u32,
    /// An end closed or entered TIME-WAIT: finalize the connection if it is [`finished`].
    check_finished: bool,
}

impl Handler<'_> {
    fn on_client(&mut self, ev: Event) -> Follow {
        let mut follow = Follow::default();
        let now = self.now;
        let total = self.w.requests_per_connection;
        let rec = &mut *self.rec;
        match ev {
            Event::StateChanged { to, .. } => {
                if matches!(to, State::TimeWait | State::Closed)
                    && rec.t_teardown[0].is_none()
                    && rec.t_first_close.is_some()
                {
                    rec.t_teardown[0].set(now);
                }
                if to == State::TimeWait && rec.t_time_wait.is_none() {
                    rec.t_time_wait.set(now);
                }
                if to == State::TimeWait {
                    // The exchange is over and TIME-WAIT can only end normally or be killed,
                    // both a normal close for the workload: the outcome is known now.
                    let all_data = rec.responses_received == total;
                    rec.in_time_wait[0] = true;
                    rec.client_outcome = Some(if all_data {
                        Outcome::Completed
                    } else {
                        Outcome::Incomplete
                    });
                    follow.check_finished = true;
                }
            }
            Event::Connected => {
                rec.t_established.set(now);
                self.next_request();
            }
            Event::Received { bytes } => {
                let response_bytes = self.w.response_bytes;
                rec.response_bytes_got += bytes as u64;
                let mut progressed = false;
                while rec.responses_received < rec.requests_sent
                    && rec.response_bytes_got
                        >= response_bytes * (rec.responses_received as u64 + 1)
                {
                    rec.responses_received += 1;
                    progressed = true;
                }
                if progressed && rec.responses_received == rec.requests_sent {
                    self.next_request();
                }
            }
            Event::PeerFin => {
                if !rec.client_app_closed {
                    self.client_close();
                }
            }
            Event::Retransmit { kind } => rec.rtx[rtx_index(kind)] += 1,
            Event::Closed { reason } => {
                let all_data = rec.responses_received == total;
                rec.t_client_closed.set(now);
                if rec.t_teardown[0].is_none() && rec.t_first_close.is_some() {
                    rec.t_teardown[0].set(now);
                }
                rec.client_outcome = Some(match reason {
                    CloseReason::Normal | CloseReason::TimeWaitKilled if all_data => {
                        Outcome::Completed
                    }
                    CloseReason::Normal | CloseReason::TimeWaitKilled => Outcome::Incomplete,
                    CloseReason::Reset => Outcome::Reset,
                    // A client reaches SYN-RECEIVED only in a simultaneous open: running out of
                    // retries there is a connect() that never completed, as in SYN-SENT.
                    CloseReason::ConnectTimeout | CloseReason::HandshakeTimeout => {
                        Outcome::ConnectTimeout
                    }
                    // Retransmissions ran out after the handshake, the application aborted,
                    // or the peer's FIN never came (FIN-WAIT-2 timeout): no normal close.
                    _ => Outcome::Aborted,
                });
                follow.check_finished = true;
            }
            Event::StaleAccepted { .. } => {}
        }
        follow
    }

    /// The client sends its next request, or closes when all exchanges are done. With no
    /// response to wait for, an exchange is done once sent, and the next one follows at once.
    fn next_request(&mut self) {
        let now = self.now;
        let w = self.w;
        let (req_bytes, resp_bytes, total, close_first, half_close) = (
            w.request_bytes,
            w.response_bytes,
            w.requests_per_connection,
            w.close_first,
            w.half_close,
        );
        loop {
            let rec = &mut *self.rec;
            if rec.requests_sent >= total {
                break;
            }
            rec.requests_sent += 1;
            let conn = rec.client.expect("live client");
            if resp_bytes == 0 {
                // Nothing will come back to wait for: the exchange is done once sent.
                rec.responses_received = rec.requests_sent;
            }
            if half_close && rec_last(rec, total) && !rec.client_app_closed {
                // Shut the sending side: the FIN rides on the last request, and the
                // responses arrive in FIN-WAIT-2.
                rec.client_app_closed = true;
                rec.t_first_close.get_or_insert(now);
                let op = if req_bytes > 0 {
                    AppOp::SendClose(req_bytes)
                } else {
                    AppOp::Close
                };
                self.app(Side::Client, conn, op);
            } else if req_bytes > 0 {
                self.app(Side::Client, conn, AppOp::Send(req_bytes));
            }
            if resp_bytes > 0 {
                return;
            }
        }
        match close_first {
            CloseFirst::Client => self.client_close(),
            // The server closes after its last response; the client closes on the FIN.
            CloseFirst::Server => {}
            CloseFirst::Both => {
                self.client_close();
                if !self.rec.server_app_closed && self.rec.server.is_some() {
                    self.server_close();
                }
            }
        }
    }

    fn client_close(&mut self) {
        let rec = &mut *self.rec;
        if rec.client_app_closed {
            return;
        }
        rec.client_app_closed = true;
        rec.t_first_close.get_or_insert(self.now);
        let conn = rec.client.expect("live client");
        self.app(Side::Client, conn, AppOp::Close);
    }

    fn server_close(&mut self) {
        let rec = &mut *self.rec;
        if rec.server_app_closed {
            return;
        }
        rec.server_app_closed = true;
        rec.t_first_close.get_or_insert(self.now);
        let conn = rec.server.expect("live server");
        self.app(Side::Server, conn, AppOp::Close);
    }

    fn on_server(&mut self, ev: Event) -> Follow {
        let mut follow = Follow::default();
        let now = self.now;
        let (req_bytes, total) = (self.w.request_bytes, self.w.requests_per_connection);
        let rec = &mut *self.rec;
        match ev {
            Event::StateChanged { to, .. } => {
                if matches!(to, State::TimeWait | State::Closed)
                    && rec.t_teardown[1].is_none()
                    && rec.t_first_close.is_some()
                {
                    rec.t_teardown[1].set(now);
                }
                if to == State::TimeWait && rec.t_time_wait.is_none() {
                    rec.t_time_wait.set(now);
                }
                if to == State::TimeWait {
                    rec.in_time_wait[1] = true;
                    rec.server_outcome = Some(ServerOutcome::Closed);
                    follow.check_finished = true;
                }
            }
            Event::Connected => {
                if req_bytes == 0 {
                    // No request to wait for: answer as soon as the connection is accepted.
                    rec.requests_received = 1;
                    follow.delayed += self.request_complete();
                }
            }
            Event::Received { bytes } => {
                rec.request_bytes_got += bytes as u64;
                let mut complete = 0;
                while req_bytes > 0
                    && rec.requests_received < total
                    && rec.request_bytes_got >= req_bytes * (rec.requests_received as u64 + 1)
                {
                    rec.requests_received += 1;
                    complete += 1;
                }
                for _ in 0..complete {
                    follow.delayed += self.request_complete();
                }
            }
            Event::PeerFin => {
                let close_on_eof = self.w.server_close_on_eof;
                rec.server_peer_fin = true;
                // EOF: close once every response owed has been sent (half-close keeps
                // the server sending after the client's FIN).
                if close_on_eof
                    && rec.responses_sent >= rec.requests_received.min(total)
                    && !rec.server_app_closed
                {
                    self.server_close();
                }
            }
            Event::Retransmit { kind } => rec.rtx[rtx_index(kind)] += 1,
            Event::Closed { reason } => {
                rec.t_server_closed.set(now);
                if rec.t_teardown[1].is_none() && rec.t_first_close.is_some() {
                    rec.t_teardown[1].set(now);
                }
                rec.server_outcome = Some(match reason {
                    CloseReason::Normal | CloseReason::TimeWaitKilled => ServerOutcome::Closed,
                    CloseReason::Reset => ServerOutcome::Reset,
                    _ => ServerOutcome::Timeout,
                });
                follow.check_finished = true;
            }
            Event::StaleAccepted { .. } => {}
        }
        follow
    }

    /// The server has a whole request: it responds now, or after its think time (returns
    /// 1: a response for the engine to queue).
    fn request_complete(&mut self) -> u32 {
        if self.w.think_time.is_zero() {
            self.respond();
            0
        } else {
            1
        }
    }

    fn respond(&mut self) {
        let w = self.w;
        let (bytes, total, close_first) =
            (w.response_bytes, w.requests_per_connection, w.close_first);
        let rec = &mut *self.rec;
        let Some(conn) = rec.server else { return };
        if rec.server_outcome.is_some() {
            return;
        }
        rec.responses_sent += 1;
        let last = rec.responses_sent == total;
        let peer_fin = rec.server_peer_fin;
        let on_eof = peer_fin && w.server_close_on_eof;
        let closing = last && (close_first == CloseFirst::Server || on_eof);
        if closing && bytes > 0 && !rec.server_app_closed {
            rec.server_app_closed = true;
            rec.t_first_close.get_or_insert(self.now);
            self.app(Side::Server, conn, AppOp::SendClose(bytes));
            return;
        }
        if bytes > 0 {
            self.app(Side::Server, conn, AppOp::Send(bytes));
        }
        if closing {
            self.server_close();
        }
    }

    /// Every application call of the workload goes through here, so a trace sees each one
    /// with the state it found and left.
    #[inline]
    fn app(&mut self, side: Side, conn: ConnId, op: AppOp) {
        *self.app_called = true;
        if self.tracer.is_some() {
            return self.app_traced(side, conn, op);
        }
        let now = self.now;
        let host = match side {
            Side::Client => &mut *self.client,
            Side::Server => &mut *self.server,
        };
        match op {
            AppOp::Send(bytes) => host.send(now, conn, bytes),
            AppOp::Close => host.close(now, conn),
            AppOp::SendClose(bytes) => host.send_and_close(now, conn, bytes),
        }
    }

    /// [`Handler::app`] with the call traced: out of line, so that the untraced calls stay
    /// small enough to inline.
    #[inline(never)]
    fn app_traced(&mut self, side: Side, conn: ConnId, op: AppOp) {
        let now = self.now;
        let host = match side {
            Side::Client => &mut *self.client,
            Side::Server => &mut *self.server,
        };
        let tracer = self.tracer.as_deref_mut();
        let before = tracer.as_ref().and_then(|_| host.conn_state(conn));
        let call = match op {
            AppOp::Send(bytes) => {
                host.send(now, conn, bytes);
                AppCall::Send { bytes }
            }
            AppOp::Close => {
                host.close(now, conn);
                AppCall::Close
            }
            AppOp::SendClose(bytes) => {
                host.send_and_close(now, conn, bytes);
                if let Some(t) = tracer {
                    // Traced as the two calls the application made.
                    t.app_call(now, side, AppCall::Send { bytes }, before, before);
                    t.app_call(now, side, AppCall::Close, before, host.conn_state(conn));
                }
                return;
            }
        };
        if let Some(t) = tracer {
            t.app_call(now, side, call, before, host.conn_state(conn));
        }
    }
}

/// Whether the workload is done with both ends of a connection: each is CLOSED or, when
/// `early` (no connection rows kept), in TIME-WAIT. A row reports when each end reached
/// CLOSED, so with rows the record lives on through TIME-WAIT; without them, nothing the
/// summary reports can change any more, and dropping the record there is what keeps
/// millions of connections in TIME-WAIT affordable (the hosts' compact records remain).
fn finished(r: &Rec, early: bool) -> bool {
    let closed = [r.t_client_closed.is_some(), r.t_server_closed.is_some()];
    let end = |i: usize| closed[i] || (early && r.in_time_wait[i]);
    (end(0) || r.client_outcome == Some(Outcome::PortExhausted))
        && (r.server.is_none() || end(1))
        && !r.peer_open_pending
}

/// Stores a timer handle for a slot beyond the table: the table grows to the hosts' peak
/// number of live connections, so this happens only while a run ramps up.
#[cold]
#[inline(never)]
fn grow_timers(v: &mut Vec<Option<PendingTimer>>, i: usize, p: PendingTimer) {
    v.resize(i + 1, None);
    v[i] = Some(p);
}

/// The `connections.csv` row (and summary input) of a finished connection.
fn conn_row(id: u32, rec: &Rec) -> ConnRow {
    ConnRow {
        id,
        client_port: rec.client_port,
        outcome: rec.client_outcome.unwrap_or(Outcome::Unfinished),
        server_outcome: rec.server_outcome,
        connect_ns: rec.t_connect.as_nanos(),
        established_ns: rec.t_established.get().map(SimTime::as_nanos),
        first_close_ns: rec.t_first_close.get().map(SimTime::as_nanos),
        time_wait_ns: rec.t_time_wait.get().map(SimTime::as_nanos),
        client_closed_ns: rec.t_client_closed.get().map(SimTime::as_nanos),
        server_closed_ns: rec.t_server_closed.get().map(SimTime::as_nanos),
        handshake_ns: handshake_ns(rec),
        close_ns: close_ns(rec),
        rtx: rec.rtx,
    }
}

/// [`ConnRow::handshake_ns`] of a record.
fn handshake_ns(rec: &Rec) -> Option<u64> {
    rec.t_established
        .get()
        .map(|t| (t - rec.t_connect).as_nanos())
}

/// How many of the workload's connections a host may hold at once, open or in TIME-WAIT
/// (if it is the side that closes first, `time_wait`): every one for a burst, else those
/// arriving within its TIME-WAIT plus a second for the lifecycle itself (Little's law),
/// never more than the workload has. A sizing hint for [`Host::reserve`] only: an estimate
/// off either way costs growth or memory, never a different result. Too high costs more
/// than the control bytes: entries land all over the table, so every page of it is touched.
fn expected_peak_connections(cfg: &RunConfig, time_wait: bool) -> usize {
    let w = &cfg.workload;
    let all = usize::try_from(w.connections).unwrap_or(usize::MAX);
    if w.arrival == Arrival::Burst {
        return all;
    }
    let tw = if time_wait {
        let tcp = &cfg.tcp;
        tcp.client
            .time_wait()
            .max(tcp.server.time_wait())
            .as_nanos() as f64
            / 1e9
    } else {
        0.0
    };
    let within = (w.rate * (tw + 1.0)).ceil();
    if within.is_finite() && within < all as f64 {
        within as usize
    } else {
        all
    }
}

/// [`ConnRow::close_ns`] of a record.
fn close_ns(rec: &Rec) -> Option<u64> {
    match (rec.t_first_close.get(), rec.t_teardown.map(Stamp::get)) {
        (Some(start), [Some(a), Some(b)]) => Some((a.max(b) - start).as_nanos()),
        (Some(start), [Some(a), None]) if rec.server.is_none() => Some((a - start).as_nanos()),
        _ => None,
    }
}

/// Has the client sent its last request?
fn rec_last(rec: &Rec, total: u32) -> bool {
    rec.requests_sent == total
}

fn rtx_index(kind: RtxKind) -> usize {
    match kind {
        RtxKind::Syn => 0,
        RtxKind::SynAck => 1,
        RtxKind::Data => 2,
        RtxKind::Fin => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::{expected_peak_connections, Ev, QueuedEv, Ring, Side};
    use std::collections::VecDeque;
    use std::path::Path;
    use tcp_model::TimerToken;

    #[test]
    fn queued_events_unpack_to_what_was_packed() {
        let tokens = [
            (0, 0),
            (1, u32::MAX),
            (u64::MAX, 7),
            (0x1234_5678_9abc_def0, 0x8000_0000),
        ]
        .map(|(conn, tw)| TimerToken::from_bits(conn, tw));
        let mut evs = vec![Ev::Sample];
        for v in [0, 1, 0x7fff_ffff, u32::MAX] {
            evs.extend([
                Ev::Arrival { id: v },
                Ev::Respond { id: v },
                Ev::PeerOpen { id: v },
            ]);
            for side in [Side::Client, Side::Server] {
                evs.push(Ev::Deliver { to: side, slot: v });
            }
        }
        for k in [0, 1, u64::MAX] {
            evs.push(Ev::Flood { k });
        }
        for token in tokens {
            assert_eq!(
                TimerToken::from_bits(token.to_bits().0, token.to_bits().1),
                token
            );
            for host in [Side::Client, Side::Server] {
                evs.push(Ev::Timer { host, token });
            }
        }
        for ev in evs {
            assert_eq!(ev.pack().unpack(), ev);
        }
        assert_eq!(std::mem::size_of::<Option<QueuedEv>>(), 16);
    }
    #[test]
    fn the_peak_estimate_is_littles_law_capped_by_the_workload() {
        let peaks = |toml: &str| {
            let text = format!("[experiment]\nname = \"x\"\n{toml}");
            let e = crate::config::parse(Path::new("x.toml"), &text, &Default::default()).unwrap();
            let c = &e.points[0].config;
            [true, false].map(|tw| expected_peak_connections(c, tw))
        };
        // 100k/s for 61 s (TIME-WAIT 60 s + 1 s) caps at the 1 M connections; the side
        // without TIME-WAIT holds a second's worth.
        let bench = "[workload]\nconnections = 1000000\nrate = 100000.0\n";
        assert_eq!(peaks(bench), [1_000_000, 100_000]);
        // rate x (TIME-WAIT + 1 s), the longer TIME-WAIT of the two hosts.
        let msl = "[tcp.server]\nmsl = \"2s\"\n[workload]\nconnections = 1000000\nrate = 1000.0\n";
        assert_eq!(peaks(msl), [61_000, 1_000]);
        // A burst has every connection at once.
        let burst = "[workload]\nconnections = 5000\narrival = \"burst\"\n";
        assert_eq!(peaks(burst), [5000, 5000]);
    }

    #[test]
    fn a_ring_is_a_fifo_across_wraps_and_growth() {
        let (mut ring, mut model) = (Ring::default(), VecDeque::new());
        let mut next = 0u64;
        // Fill and drain by turns, more pushed than popped, so that the head wraps around
        // and the ring grows with entries on both sides of the wrap.
        for round in 0..200u64 {
            for _ in 0..round % 7 + 1 {
                ring.push_back(next);
                model.push_back(next);
                next += 1;
            }
            for _ in 0..round % 5 {
                assert_eq!(ring.front(), model.front());
                if model.pop_front().is_some() {
                    ring.pop_front();
                }
            }
            assert_eq!(ring.is_empty(), model.is_empty());
        }
        while let Some(v) = model.pop_front() {
            assert_eq!(ring.front(), Some(&v));
            ring.pop_front();
        }
        assert!(ring.is_empty() && ring.front().is_none());
        assert!(ring.buf.len().is_power_of_two());
    }
}

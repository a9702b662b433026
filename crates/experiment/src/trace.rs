//! Tracing one workload connection through a run: every segment it sends, what the link does
//! with it, what the receiving host does with it when it does not take it, and every state
//! change of either end with its cause.
//!
//! The engine owns an `Option<Box<Tracer>>`: `None` in ordinary runs (one branch per event,
//! nothing allocated), `Some` in [`crate::engine::run_traced`], which shares every line of
//! the engine with [`crate::engine::run`]. The tracer only watches; the run it traces is the
//! run `run` would have made, same summary, same random draws.
//!
//! Within one simulated instant, events are in the order the engine handled them: what
//! arrived (a delivered segment and its discard lines, a timer, an application call), the
//! segments the host sent in response (each followed by what the link did with it), then the
//! state changes the host reported for that input.

use std::io::{self, Write};

use link::{DropReason, Verdict};
use sim_core::SimTime;
use tcp_model::{CloseReason, Event, Flags, Host, HostStats, Segment, SeqNum, State};

use crate::engine::Side;

/// A trace stops recording after this many events (and says so): a limit on memory for a
/// connection that runs, say, a million request/response exchanges.
pub const MAX_TRACE_EVENTS: usize = 1 << 20;

/// Most RSTs sent with no connection that a trace keeps apart as unnumbered (a list searched
/// for every segment shown). Past it, later ones are shown relative like any other.
const MAX_UNNUMBERED: usize = 64;
/// Most segments of other connections a trace shows as answers to its own (see
/// `Tracer::adopted`).
const MAX_ADOPTED: usize = 64;

/// Which timer expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerKind {
    /// Retransmission timeout (RFC 6298).
    Rto,
    /// TIME-WAIT's 2×MSL (RFC 9293 §3.10.8).
    TimeWait,
    /// An orphaned FIN-WAIT-2 gave up waiting for the peer's FIN (Linux `tcp_fin_timeout`).
    FinWait2,
}

impl TimerKind {
    pub fn name(self) -> &'static str {
        match self {
            TimerKind::Rto => "rto",
            TimerKind::TimeWait => "time_wait",
            TimerKind::FinWait2 => "fin_wait_2",
        }
    }
}

/// An application call the workload made on the traced connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppCall {
    Connect,
    Send { bytes: u64 },
    Close,
}

impl AppCall {
    pub fn name(self) -> &'static str {
        match self {
            AppCall::Connect => "connect",
            AppCall::Send { .. } => "send",
            AppCall::Close => "close",
        }
    }
}

/// What made an endpoint change state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// A segment arrived. It may belong to another connection (its `incarnation` says which):
    /// an old duplicate, or a SYN reopening a 4-tuple in TIME-WAIT.
    Rcvd(Segment),
    Timer(TimerKind),
    App(AppCall),
    /// The engine could not tell (should not happen; kept rather than guessed).
    Unknown,
}

/// Why the receiving host discarded a delivered segment, or handled it without accepting it:
/// each names the [`HostStats`] counter that moved while the host handled the segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscardReason {
    /// `syn_dropped_queue_full`: the listener's SYN queue held `accept_backlog`
    /// connections and SYN cookies are off.
    SynQueueFull,
    /// `syn_dropped_syn_backlog`: the last quarter of `syn_backlog` is kept back (Linux
    /// `tcp_max_syn_backlog`, cookies off).
    SynBacklog,
    /// `accept_queue_overflows`: a SYN, handshake ACK or cookie ACK found the accept queue
    /// full.
    AcceptQueueFull,
    /// `syn_cookies_failed`: an ACK to a listener carried no valid cookie (a RST follows).
    CookieFailed,
    /// `segments_no_connection`: no connection, TIME-WAIT record or listener (a RST
    /// answers it unless it is one).
    NoConnection,
    /// `misaddressed`: not for this host's address.
    Misaddressed,
    /// `challenge_acks`: RFC 5961, answered with an ACK instead of acted on.
    ChallengeAck,
    /// `fins_held`: a FIN ahead of missing data, held until the data arrives.
    FinHeld,
    /// `out_of_order`: data or a FIN beyond RCV.NXT (kept in the out-of-order range when
    /// there is room for it, else dropped).
    OutOfOrder,
    /// `unexpected_segments`: not acceptable in the state it found (dropped, or answered
    /// with an ACK or RST).
    NotAcceptable,
    /// `acks_rate_limited`: the ACK it was owed was held back, since the connection or
    /// TIME-WAIT had sent one less than 500 ms before (the ACK-loop guard). Listed with
    /// `NotAcceptable`, which it qualifies.
    AckRateLimited,
}

impl DiscardReason {
    /// Every reason, in the order a trace lists those of one segment.
    pub const ALL: [DiscardReason; 11] = [
        DiscardReason::SynQueueFull,
        DiscardReason::SynBacklog,
        DiscardReason::AcceptQueueFull,
        DiscardReason::CookieFailed,
        DiscardReason::NoConnection,
        DiscardReason::Misaddressed,
        DiscardReason::ChallengeAck,
        DiscardReason::FinHeld,
        DiscardReason::OutOfOrder,
        DiscardReason::NotAcceptable,
        DiscardReason::AckRateLimited,
    ];

    /// The text, CSV `detail` and ladder wording: stable, for grep.
    pub fn name(self) -> &'static str {
        match self {
            DiscardReason::SynQueueFull => "SYN queue full",
            DiscardReason::SynBacklog => "SYN backlog (tcp_max_syn_backlog)",
            DiscardReason::AcceptQueueFull => "accept queue full",
            DiscardReason::CookieFailed => "bad SYN cookie",
            DiscardReason::NoConnection => "no connection",
            DiscardReason::Misaddressed => "misaddressed",
            DiscardReason::ChallengeAck => "challenge ACK sent",
            DiscardReason::FinHeld => "FIN held for missing data",
            DiscardReason::OutOfOrder => "out of order",
            DiscardReason::NotAcceptable => "not acceptable",
            DiscardReason::AckRateLimited => "answer held back (one per 500 ms)",
        }
    }

    fn counter(self, s: &HostStats) -> u64 {
        match self {
            DiscardReason::SynQueueFull => s.syn_dropped_queue_full,
            DiscardReason::SynBacklog => s.syn_dropped_syn_backlog,
            DiscardReason::AcceptQueueFull => s.accept_queue_overflows,
            DiscardReason::CookieFailed => s.syn_cookies_failed,
            DiscardReason::NoConnection => s.segments_no_connection,
            DiscardReason::Misaddressed => s.misaddressed,
            DiscardReason::ChallengeAck => s.challenge_acks,
            DiscardReason::FinHeld => s.fins_held,
            DiscardReason::OutOfOrder => s.out_of_order,
            DiscardReason::NotAcceptable => s.unexpected_segments,
            DiscardReason::AckRateLimited => s.acks_rate_limited,
        }
    }
}

/// The counters of [`DiscardReason::ALL`] on one host, before it handles a segment.
type DiscardCounters = [u64; DiscardReason::ALL.len()];

fn discard_counters(s: &HostStats) -> DiscardCounters {
    DiscardReason::ALL.map(|r| r.counter(s))
}

/// The reasons whose counters moved from `before` to `after`. `unexpected_segments` is the
/// host's catch-all and moves along with a more specific one (a failed cookie ACK is also
/// not acceptable to the listener): it is named only when nothing more specific moved
/// (a held-back answer is no more specific: it says what became of the refusal). The
/// others are listed each, since they say different things (a bare FIN ahead of missing data
/// is both out of order and held).
fn discard_reasons(before: &DiscardCounters, after: &DiscardCounters) -> Vec<DiscardReason> {
    let mut moved: Vec<DiscardReason> = DiscardReason::ALL
        .iter()
        .zip(before.iter().zip(after))
        .filter(|(_, (b, a))| a != b)
        .map(|(&r, _)| r)
        .collect();
    let specific = |r: &DiscardReason| {
        !matches!(
            r,
            DiscardReason::NotAcceptable | DiscardReason::AckRateLimited
        )
    };
    if moved.iter().any(specific) {
        moved.retain(|&r| r != DiscardReason::NotAcceptable);
    }
    moved
}

/// One line of a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceKind {
    /// The side sent `seg`, being in `state` right after the input that made it send.
    /// `retransmission`: it occupies sequence space this side had already sent.
    Send {
        seg: Segment,
        state: State,
        retransmission: bool,
    },
    /// The link dropped the segment just sent.
    Drop { seg: Segment, reason: DropReason },
    /// The link delivers the segment just sent twice, at these instants.
    Duplicate {
        seg: Segment,
        first_at: SimTime,
        second_at: SimTime,
    },
    /// A copy of a segment of this connection reached the side.
    Deliver { seg: Segment },
    /// The side discarded the segment just delivered, or handled it without accepting it
    /// (follows its `Deliver`, one line per reason).
    Discard { seg: Segment, reason: DiscardReason },
    /// The side changed state. `closed`: the reason, when `to` is CLOSED.
    State {
        from: State,
        to: State,
        cause: Cause,
        closed: Option<CloseReason>,
    },
    /// An application call that changed no state (a state-changing call is the `cause` of
    /// its state line instead). `failed`: `connect` failed (see [`connect_failure`]).
    App { call: AppCall, failed: bool },
    /// A timer that changed no state expired (an RTO retransmission follows).
    Timer { timer: TimerKind },
}

impl TraceKind {
    /// The CSV `event` column.
    pub fn name(&self) -> &'static str {
        match self {
            TraceKind::Send { .. } => "send",
            TraceKind::Drop { .. } => "drop",
            TraceKind::Duplicate { .. } => "duplicate",
            TraceKind::Deliver { .. } => "deliver",
            TraceKind::Discard { .. } => "discard",
            TraceKind::State { .. } => "state",
            TraceKind::App { .. } => "app",
            TraceKind::Timer { .. } => "timer",
        }
    }
}

/// One event: when, on which side (the sender for send/drop/duplicate, the receiver for
/// deliver), and what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceEvent {
    pub time: SimTime,
    pub side: Side,
    pub kind: TraceKind,
}

/// Why a traced `connect` on `side` failed: the client's picks an ephemeral port; the
/// server's (a simultaneous open) names its own, whose 4-tuple may still be held.
pub(crate) fn connect_failure(side: Side) -> &'static str {
    match side {
        Side::Client => "no ephemeral port",
        Side::Server => "4-tuple in use",
    }
}

/// Everything that happened to one workload connection, in simulated-time order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// The workload connection number (0-based).
    pub connection: u32,
    pub events: Vec<TraceEvent>,
    /// Each side's initial sequence number (index: [`Side`] as usize), from its first SYN;
    /// relative sequence numbers count from it.
    pub isn: [Option<SeqNum>; 2],
    /// [`MAX_TRACE_EVENTS`] was reached; later events are missing.
    pub truncated: bool,
    /// The server starts in LISTEN (`workload.open = "listen"`), else in CLOSED.
    pub server_listens: bool,
    /// RSTs a side sent with no connection in answer to a segment without ACK, as (side,
    /// seq, ack): their `<SEQ=0>` (RFC 9293 §3.10.7.1) lies in no sequence space of the side,
    /// so no relative number is given for it, even once the side has an ISN of its own.
    pub(crate) unnumbered: Vec<(Side, SeqNum, SeqNum)>,
}

/// The CSV header of [`Trace::write_csv`].
pub const CSV_COLUMNS: [&str; 16] = [
    "time_ns",
    "side",
    "event",
    "direction",
    "flags",
    "seq",
    "ack",
    "rel_seq",
    "rel_ack",
    "len",
    "window",
    "options",
    "from_state",
    "to_state",
    "cause",
    "detail",
];

pub fn drop_reason_name(r: DropReason) -> &'static str {
    match r {
        DropReason::Loss => "loss",
        DropReason::BurstLoss => "burst_loss",
        DropReason::QueueFull => "queue_full",
        DropReason::Expired => "expired",
        DropReason::Fault => "fault",
        DropReason::Outage => "outage",
    }
}

fn side_name(s: Side) -> &'static str {
    match s {
        Side::Client => "client",
        Side::Server => "server",
    }
}

pub(crate) fn other(s: Side) -> Side {
    match s {
        Side::Client => Side::Server,
        Side::Server => Side::Client,
    }
}

fn direction(from: Side) -> &'static str {
    match from {
        Side::Client => "c2s",
        Side::Server => "s2c",
    }
}

/// `SYN_SENT`, `FIN_WAIT_1`: the CSV name in capitals, one word for column alignment.
pub(crate) fn state_label(s: State) -> String {
    s.name().to_ascii_uppercase()
}

/// Seconds with nanosecond precision: `  1.020000000`.
fn seconds(t: SimTime) -> String {
    let ns = t.as_nanos();
    format!("{:>3}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

impl Trace {
    /// Is `seg` one of this connection's own segments (not an old duplicate of another)?
    fn own(&self, seg: &Segment) -> bool {
        seg.incarnation == self.connection
    }

    /// `seg.seq` relative to its sender's ISN (Wireshark style); `None` if that ISN is not
    /// known or the segment belongs to another connection.
    pub fn rel_seq(&self, from: Side, seg: &Segment) -> Option<u32> {
        let isn = self.isn[from as usize]?;
        let unnumbered =
            seg.flags.contains(Flags::RST) && self.unnumbered.contains(&(from, seg.seq, seg.ack));
        (self.own(seg) && !unnumbered).then(|| seg.seq.0.wrapping_sub(isn.0))
    }

    /// `seg.ack` relative to the receiver's ISN; `None` without ACK or as for `rel_seq`.
    pub fn rel_ack(&self, from: Side, seg: &Segment) -> Option<u32> {
        let isn = self.isn[other(from) as usize]?;
        (self.own(seg) && seg.flags.contains(Flags::ACK)).then(|| seg.ack.0.wrapping_sub(isn.0))
    }

    /// `FIN|ACK seq=1001 ack=102 win=65535 len=10`: relative numbers when known, else absolute
    /// ones marked `(abs)`; another connection's segment is named.
    fn seg_text(&self, from: Side, seg: &Segment) -> String {
        self.seg_text_with(from, seg, true)
    }

    /// `full`: with window and options; without, just what identifies the segment.
    fn seg_text_with(&self, from: Side, seg: &Segment, full: bool) -> String {
        let mut s = format!("{} seq=", seg.flags);
        match self.rel_seq(from, seg) {
            Some(r) => s.push_str(&r.to_string()),
            None => s.push_str(&format!("{}(abs)", seg.seq.0)),
        }
        if seg.flags.contains(Flags::ACK) {
            match self.rel_ack(from, seg) {
                Some(r) => s.push_str(&format!(" ack={r}")),
                None => s.push_str(&format!(" ack={}(abs)", seg.ack.0)),
            }
        }
        if full {
            s.push_str(&format!(" win={}", seg.window));
        }
        if seg.payload_len > 0 {
            s.push_str(&format!(" len={}", seg.payload_len));
        }
        if full && seg.mss != 0 {
            s.push_str(&format!(" mss={}", seg.mss));
        }
        if !self.own(seg) {
            s.push_str(&format!(" [of connection {}]", seg.incarnation));
        }
        s
    }

    fn cause_text(&self, side: Side, cause: &Cause) -> String {
        match cause {
            Cause::Rcvd(seg) => format!("rcvd {}", self.seg_text_with(other(side), seg, false)),
            Cause::Timer(t) => format!("timer {}", t.name()),
            Cause::App(a) => format!("app {}", a.name()),
            Cause::Unknown => "unknown".into(),
        }
    }

    /// One line per event: `  0.010000000 server  LISTEN -> SYN_RECEIVED (rcvd SYN seq=0 …)`.
    pub fn write_text<W: Write>(&self, w: &mut W) -> io::Result<()> {
        for e in &self.events {
            let body = match &e.kind {
                TraceKind::Send {
                    seg,
                    state,
                    retransmission,
                } => format!(
                    "{:<12} --> {}{}",
                    state_label(*state),
                    self.seg_text(e.side, seg),
                    if *retransmission {
                        " (retransmission)"
                    } else {
                        ""
                    }
                ),
                TraceKind::Drop { reason, .. } => format!(
                    "{:<12}     {} DROPPED ({})",
                    "[drop]",
                    direction(e.side),
                    drop_reason_name(*reason)
                ),
                TraceKind::Duplicate {
                    first_at,
                    second_at,
                    ..
                } => format!(
                    "{:<12}     {} DUPLICATED: copies arrive at {} and {}",
                    "[duplicate]",
                    direction(e.side),
                    seconds(*first_at).trim_start(),
                    seconds(*second_at).trim_start()
                ),
                TraceKind::Deliver { seg } => format!(
                    "{:<12}     {}",
                    "[deliver]",
                    self.seg_text(other(e.side), seg)
                ),
                TraceKind::Discard { reason, .. } => {
                    format!("{:<12}     {}", "[discard]", reason.name())
                }
                TraceKind::State {
                    from,
                    to,
                    cause,
                    closed,
                } => {
                    let mut s = format!(
                        "{} -> {} ({})",
                        state_label(*from),
                        state_label(*to),
                        self.cause_text(e.side, cause)
                    );
                    if let Some(r) = closed {
                        s.push_str(&format!(" closed: {}", r.name()));
                    }
                    s
                }
                TraceKind::App { call, failed } => {
                    let mut s = format!("{:<12}     {}", "[app]", call.name());
                    if let AppCall::Send { bytes } = call {
                        s.push_str(&format!(" {bytes} bytes"));
                    }
                    if *failed {
                        s.push_str(&format!(" failed: {}", connect_failure(e.side)));
                    }
                    s
                }
                TraceKind::Timer { timer } => format!("{:<12}     {}", "[timer]", timer.name()),
            };
            writeln!(w, "{} {:<7} {}", seconds(e.time), side_name(e.side), body)?;
        }
        if self.truncated {
            writeln!(w, "(trace truncated after {} events)", self.events.len())?;
        }
        Ok(())
    }

    /// The columns of [`CSV_COLUMNS`], one row per event. Segment columns hold the segment
    /// sent/dropped/delivered/discarded, or for a state change caused by a segment, that segment.
    pub fn write_csv<W: Write>(&self, w: W) -> Result<(), csv::Error> {
        let mut out = csv::Writer::from_writer(w);
        out.write_record(CSV_COLUMNS)?;
        for e in &self.events {
            let mut row: [String; 16] = Default::default();
            row[0] = e.time.as_nanos().to_string();
            row[1] = side_name(e.side).into();
            row[2] = e.kind.name().into();
            let put_seg = |row: &mut [String; 16], from: Side, seg: &Segment| {
                row[3] = direction(from).into();
                row[4] = seg.flags.to_string();
                row[5] = seg.seq.0.to_string();
                if seg.flags.contains(Flags::ACK) {
                    row[6] = seg.ack.0.to_string();
                }
                row[7] = self
                    .rel_seq(from, seg)
                    .map_or(String::new(), |v| v.to_string());
                row[8] = self
                    .rel_ack(from, seg)
                    .map_or(String::new(), |v| v.to_string());
                row[9] = seg.payload_len.to_string();
                row[10] = seg.window.to_string();
                if seg.mss != 0 {
                    row[11] = format!("mss={}", seg.mss);
                }
            };
            match &e.kind {
                TraceKind::Send {
                    seg,
                    state,
                    retransmission,
                } => {
                    put_seg(&mut row, e.side, seg);
                    row[12] = state.name().into();
                    row[13] = state.name().into();
                    if *retransmission {
                        row[15] = "retransmission".into();
                    }
                }
                TraceKind::Drop { seg, reason } => {
                    put_seg(&mut row, e.side, seg);
                    row[15] = drop_reason_name(*reason).into();
                }
                TraceKind::Duplicate {
                    seg,
                    first_at,
                    second_at,
                } => {
                    put_seg(&mut row, e.side, seg);
                    row[15] = format!(
                        "arrivals_ns={};{}",
                        first_at.as_nanos(),
                        second_at.as_nanos()
                    );
                }
                TraceKind::Deliver { seg } => put_seg(&mut row, other(e.side), seg),
                TraceKind::Discard { seg, reason } => {
                    put_seg(&mut row, other(e.side), seg);
                    row[15] = reason.name().into();
                }
                TraceKind::State {
                    from,
                    to,
                    cause,
                    closed,
                } => {
                    row[12] = from.name().into();
                    row[13] = to.name().into();
                    let mut detail = Vec::new();
                    row[14] = match cause {
                        Cause::Rcvd(seg) => {
                            put_seg(&mut row, other(e.side), seg);
                            if !self.own(seg) {
                                detail.push(format!("of_connection={}", seg.incarnation));
                            }
                            "rcvd".into()
                        }
                        Cause::Timer(t) => {
                            detail.push(t.name().to_string());
                            "timer".into()
                        }
                        Cause::App(a) => {
                            detail.push(a.name().to_string());
                            "app".into()
                        }
                        Cause::Unknown => "unknown".into(),
                    };
                    if let Some(r) = closed {
                        detail.push(format!("closed={}", r.name()));
                    }
                    row[15] = detail.join(";");
                }
                TraceKind::App { call, failed } => {
                    row[15] = match (call, failed) {
                        (_, true) => format!(
                            "{} failed={}",
                            call.name(),
                            match e.side {
                                Side::Client => "port_exhausted",
                                Side::Server => "addr_in_use",
                            }
                        ),
                        (AppCall::Send { bytes }, false) => format!("send bytes={bytes}"),
                        (c, false) => c.name().to_string(),
                    };
                }
                TraceKind::Timer { timer } => row[15] = timer.name().into(),
            }
            out.write_record(&row)?;
        }
        out.flush()?;
        Ok(())
    }
}

/// The engine's observer of one connection. Every method is called only when tracing is on.
#[derive(Debug)]
pub(crate) struct Tracer {
    trace: Trace,
    /// Each side's state as its events reported it so far.
    state: [State; 2],
    /// Each side's highest sequence number sent plus one: a segment ending at or below it is
    /// a retransmission.
    snd_max: [Option<SeqNum>; 2],
    /// Has this side sent a SYN-ACK yet. The first one of an active opener (simultaneous
    /// open) repeats its SYN's sequence number but is its answer to the peer's SYN, not a
    /// retransmission.
    synack_sent: [bool; 2],
    /// The side and cause of the host call the current engine event made (a segment
    /// delivered, a timer, `connect`).
    step: Option<(Side, Cause)>,
    /// A timer fired on this side and has not yet shown itself (by a send or a state change).
    timer_pending: Option<Side>,
    /// Transitions made by application calls during this step, not yet reported by the host:
    /// the host reports events in a FIFO, so a call's events may follow earlier ones still
    /// queued from the step's own input; matching (side, from, to) tells them apart.
    pending_app: Vec<(Side, State, State, AppCall)>,
    /// Send lines whose sender state is not known yet (the host reports it after sending).
    unresolved: [Vec<usize>; 2],
    last_state_line: [Option<usize>; 2],
    /// The segment last delivered, not yet judged: where its discard lines go (right after
    /// its deliver line), and the receiving host's counters before it handled it.
    verdict: Option<PendingVerdict>,
    /// Segments of other connections sent in answer to one of this connection's, and who
    /// sent them: a TIME-WAIT of an earlier connection on the 4-tuple answering its SYN with
    /// an ACK, say. They are traced like its own (sent, dropped, delivered, discarded) and
    /// named as another connection's. At most `MAX_ADOPTED`.
    adopted: Vec<(Side, Segment)>,
    /// Send lines of adopted answers whose sender state is not filled in yet.
    answers_unresolved: Vec<usize>,
}

/// See [`Tracer::verdict`].
#[derive(Debug)]
struct PendingVerdict {
    at: usize,
    time: SimTime,
    side: Side,
    seg: Segment,
    before: DiscardCounters,
}

impl Tracer {
    pub(crate) fn new(connection: u32, server_listens: bool) -> Tracer {
        Tracer {
            trace: Trace {
                connection,
                events: Vec::new(),
                isn: [None, None],
                unnumbered: Vec::new(),
                truncated: false,
                server_listens,
            },
            state: [
                State::Closed,
                if server_listens {
                    State::Listen
                } else {
                    State::Closed
                },
            ],
            snd_max: [None, None],
            synack_sent: [false; 2],
            step: None,
            timer_pending: None,
            pending_app: Vec::new(),
            unresolved: [Vec::new(), Vec::new()],
            last_state_line: [None, None],
            verdict: None,
            adopted: Vec::new(),
            answers_unresolved: Vec::new(),
        }
    }

    pub(crate) fn connection(&self) -> u32 {
        self.trace.connection
    }

    pub(crate) fn finish(mut self) -> Trace {
        self.end_step();
        self.trace
    }

    fn push(&mut self, time: SimTime, side: Side, kind: TraceKind) -> Option<usize> {
        if self.trace.events.len() >= MAX_TRACE_EVENTS {
            self.trace.truncated = true;
            return None;
        }
        self.trace.events.push(TraceEvent { time, side, kind });
        Some(self.trace.events.len() - 1)
    }

    /// Send lines of `side` so far were sent in state `state`.
    fn resolve(&mut self, side: Side, state: State) {
        for i in self.unresolved[side as usize].drain(..) {
            if let TraceKind::Send { state: s, .. } = &mut self.trace.events[i].kind {
                *s = state;
            }
        }
    }

    /// The previous engine event is fully handled: every host event was reported.
    fn end_step(&mut self) {
        for side in [Side::Client, Side::Server] {
            self.resolve(side, self.state[side as usize]);
        }
        self.pending_app.clear();
        self.step = None;
        self.timer_pending = None;
    }

    /// A new engine event whose host call is `step` (or none: a deferred response).
    pub(crate) fn begin(&mut self, step: Option<(Side, Cause)>) {
        self.end_step();
        self.step = step;
    }

    /// `seg` reaches `to`, whose counters are `stats` before it handles the segment.
    pub(crate) fn deliver(&mut self, now: SimTime, to: Side, seg: &Segment, stats: &HostStats) {
        self.begin(Some((to, Cause::Rcvd(*seg))));
        if self.trace.own(seg) || self.adopted.contains(&(other(to), *seg)) {
            if let Some(i) = self.push(now, to, TraceKind::Deliver { seg: *seg }) {
                self.verdict = Some(PendingVerdict {
                    at: i + 1,
                    time: now,
                    side: to,
                    seg: *seg,
                    before: discard_counters(stats),
                });
            }
        }
    }

    /// Judges the segment last delivered, if any, from the hosts' counters now (`stats`,
    /// indexed by [`Side`]). The engine calls it before the next event and at the end of the
    /// run, not right after the host's `handle_segment`: that would cost the untraced run a
    /// branch per segment, and until the next event nothing else moves these counters (the
    /// application calls made meanwhile move none of them). The lines the segment's handling
    /// produced meanwhile (answers sent, state changes) are already in the trace, so the
    /// discard lines are inserted after its deliver line, and the indices kept into the trace
    /// shifted.
    pub(crate) fn settle(&mut self, stats: [&HostStats; 2]) {
        let Some(v) = self.verdict.take() else {
            return;
        };
        let after = discard_counters(stats[v.side as usize]);
        let reasons = discard_reasons(&v.before, &after);
        if reasons.is_empty() {
            return;
        }
        let n = reasons.len();
        if self.trace.events.len() + n > MAX_TRACE_EVENTS {
            self.trace.truncated = true;
            return;
        }
        let lines = reasons.into_iter().map(|reason| TraceEvent {
            time: v.time,
            side: v.side,
            kind: TraceKind::Discard { seg: v.seg, reason },
        });
        self.trace.events.splice(v.at..v.at, lines);
        let shift = |i: &mut usize| {
            if *i >= v.at {
                *i += n;
            }
        };
        self.unresolved.iter_mut().flatten().for_each(shift);
        self.last_state_line.iter_mut().flatten().for_each(shift);
    }

    pub(crate) fn timer(&mut self, side: Side) {
        // The connection's state says which of its timers this is: one runs at a time.
        let kind = match self.state[side as usize] {
            State::TimeWait => TimerKind::TimeWait,
            State::FinWait2 => TimerKind::FinWait2,
            _ => TimerKind::Rto,
        };
        self.begin(Some((side, Cause::Timer(kind))));
        self.timer_pending = Some(side);
    }

    /// `seg` (of any connection) went onto the link and the link decided `verdict`.
    pub(crate) fn transmit(&mut self, now: SimTime, from: Side, seg: &Segment, verdict: &Verdict) {
        if !self.trace.own(seg) {
            self.transmit_answer(now, from, seg, verdict);
            return;
        }
        let f = from as usize;
        if self.timer_pending == Some(from) {
            self.timer_pending = None;
            if let Some((_, Cause::Timer(timer))) = self.step {
                self.push(now, from, TraceKind::Timer { timer });
            }
        }
        if seg.flags.contains(Flags::SYN) && self.trace.isn[f].is_none() {
            self.trace.isn[f] = Some(seg.seq);
        }
        // With no connection, a RST carries ACK only when it answers a segment without one,
        // and then its sequence number is the literal 0. A RST answering another
        // connection's ACK (<SEQ=SEG.ACK><CTL=RST>) takes its number from that connection.
        let unnumbered = (self.state[f] == State::Closed
            && seg.flags.contains(Flags::RST | Flags::ACK))
            || (seg.flags.contains(Flags::RST)
                && self.adopted.iter().any(|&(s, a)| {
                    s == other(from) && a.flags.contains(Flags::ACK) && a.ack == seg.seq
                }));
        if unnumbered
            && !self.trace.unnumbered.contains(&(from, seg.seq, seg.ack))
            && self.trace.unnumbered.len() < MAX_UNNUMBERED
        {
            self.trace.unnumbered.push((from, seg.seq, seg.ack));
        }
        let len = seg.seg_len();
        let end = seg.seq + len;
        let first_synack = seg.flags.contains(Flags::SYN | Flags::ACK)
            && !std::mem::replace(&mut self.synack_sent[f], true);
        let retransmission = len > 0 && !first_synack && self.snd_max[f].is_some_and(|m| end.le(m));
        // Only what occupies sequence space moves it: a RST the side sent with no connection
        // (refusing a SYN that came before its own connect) carries a number from outside its
        // space, which would make its first SYN look like a retransmission.
        if len > 0 {
            self.snd_max[f] = Some(self.snd_max[f].map_or(end, |m| m.max(end)));
        }
        let state = self.state[f];
        if let Some(i) = self.push(
            now,
            from,
            TraceKind::Send {
                seg: *seg,
                state,
                retransmission,
            },
        ) {
            self.unresolved[f].push(i);
        }
        self.link_verdict(now, from, seg, verdict);
    }

    /// A segment of another connection went out: traced if `from` sent it while handling one
    /// of this connection's segments (its answer). Its sender's state is filled in by
    /// [`resolve_answers`](Self::resolve_answers), which can ask the host.
    #[cold]
    fn transmit_answer(&mut self, now: SimTime, from: Side, seg: &Segment, verdict: &Verdict) {
        let answers_ours =
            matches!(self.step, Some((side, Cause::Rcvd(r))) if side == from && self.trace.own(&r));
        if !answers_ours || self.adopted.len() >= MAX_ADOPTED {
            return;
        }
        self.adopted.push((from, *seg));
        if let Some(i) = self.push(
            now,
            from,
            TraceKind::Send {
                seg: *seg,
                state: State::Closed,
                retransmission: false,
            },
        ) {
            self.answers_unresolved.push(i);
        }
        self.link_verdict(now, from, seg, verdict);
    }

    /// Fills in the sender's state of the answers sent since the last call (`hosts` indexed
    /// by [`Side`]): whatever holds the 4-tuple at the sender, a TIME-WAIT record say. The
    /// engine calls it before the next event and at the end of the run, before
    /// [`settle`](Self::settle), so that nothing has changed the sender yet and no line was
    /// inserted meanwhile.
    pub(crate) fn resolve_answers(&mut self, hosts: [&Host; 2]) {
        for i in self.answers_unresolved.drain(..) {
            let e = &mut self.trace.events[i];
            if let TraceKind::Send { seg, state, .. } = &mut e.kind {
                if let Some(s) = hosts[e.side as usize].state_of(seg.src.port, seg.dst) {
                    *state = s;
                }
            }
        }
    }

    /// The link's lines for a segment just sent: dropped, or duplicated.
    fn link_verdict(&mut self, now: SimTime, from: Side, seg: &Segment, verdict: &Verdict) {
        match *verdict {
            Verdict::Drop(reason) => {
                self.push(now, from, TraceKind::Drop { seg: *seg, reason });
            }
            Verdict::Deliver {
                at,
                duplicate_at: Some(second_at),
            } => {
                self.push(
                    now,
                    from,
                    TraceKind::Duplicate {
                        seg: *seg,
                        first_at: at,
                        second_at,
                    },
                );
            }
            Verdict::Deliver { .. } => {}
        }
    }

    /// A connection event with the traced connection's tag.
    pub(crate) fn conn_event(&mut self, now: SimTime, side: Side, ev: Event) {
        let s = side as usize;
        match ev {
            Event::StateChanged { from, to } => {
                let app = self
                    .pending_app
                    .iter()
                    .position(|&(sd, f, t, _)| sd == side && f == from && t == to);
                let cause = match (app, self.step) {
                    (Some(i), _) => Cause::App(self.pending_app.remove(i).3),
                    (None, Some((_, cause))) => cause,
                    (None, None) => Cause::Unknown,
                };
                if self.timer_pending == Some(side) {
                    // The state line names the timer; no line of its own.
                    self.timer_pending = None;
                }
                self.state[s] = to;
                self.last_state_line[s] = self.push(
                    now,
                    side,
                    TraceKind::State {
                        from,
                        to,
                        cause,
                        closed: None,
                    },
                );
            }
            Event::Closed { reason } => {
                if let Some(i) = self.last_state_line[s] {
                    if let TraceKind::State {
                        to: State::Closed,
                        closed: c @ None,
                        ..
                    } = &mut self.trace.events[i].kind
                    {
                        *c = Some(reason);
                    }
                }
            }
            _ => {}
        }
    }

    /// The workload called `call` on the traced connection's `side`; the host said the
    /// connection was in `before` / `after` (None: not a full TCB, so the call did nothing).
    pub(crate) fn app_call(
        &mut self,
        now: SimTime,
        side: Side,
        call: AppCall,
        before: Option<State>,
        after: Option<State>,
    ) {
        if let Some(b) = before {
            // Whatever this side sent before the call, it sent in the state the call found.
            self.resolve(side, b);
            // A call that frees the TCB can only have closed it (close in SYN-SENT).
            let a = after.unwrap_or(State::Closed);
            if a != b {
                self.pending_app.push((side, b, a, call));
                return;
            }
        }
        self.push(
            now,
            side,
            TraceKind::App {
                call,
                failed: false,
            },
        );
    }

    /// `connect` for the traced connection failed: the client found no ephemeral port, or
    /// the server of a simultaneous open found its 4-tuple in use.
    pub(crate) fn connect_failed(&mut self, now: SimTime, side: Side) {
        self.push(
            now,
            side,
            TraceKind::App {
                call: AppCall::Connect,
                failed: true,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(flags: Flags) -> Segment {
        Segment {
            flags,
            ..Segment::default()
        }
    }

    #[test]
    fn the_catch_all_counter_is_named_only_alone() {
        let before = discard_counters(&HostStats::default());
        let mut s = HostStats {
            unexpected_segments: 1,
            ..HostStats::default()
        };
        assert_eq!(
            discard_reasons(&before, &discard_counters(&s)),
            [DiscardReason::NotAcceptable]
        );
        s.syn_cookies_failed = 1;
        assert_eq!(
            discard_reasons(&before, &discard_counters(&s)),
            [DiscardReason::CookieFailed]
        );
        let s = HostStats {
            fins_held: 1,
            out_of_order: 1,
            ..HostStats::default()
        };
        assert_eq!(
            discard_reasons(&before, &discard_counters(&s)),
            [DiscardReason::FinHeld, DiscardReason::OutOfOrder]
        );
        assert!(discard_reasons(&before, &before).is_empty());
    }

    /// The discard line goes in after lines the segment's handling already added (an
    /// answer, a state change), and those lines keep what later events tell about them: the
    /// answer's sender state, resolved when the step ends.
    #[test]
    fn a_discard_is_inserted_after_its_delivery_and_indices_follow() {
        let t0 = SimTime::from_nanos(5);
        let mut t = Tracer::new(0, true);
        let quiet = HostStats::default();
        t.deliver(t0, Side::Server, &seg(Flags::ACK), &quiet);
        t.transmit(
            t0,
            Side::Server,
            &seg(Flags::RST),
            &Verdict::Deliver {
                at: t0,
                duplicate_at: None,
            },
        );
        t.conn_event(
            t0,
            Side::Server,
            Event::StateChanged {
                from: State::Listen,
                to: State::Closed,
            },
        );
        let moved = HostStats {
            out_of_order: 1,
            ..HostStats::default()
        };
        t.settle([&quiet, &moved]);
        t.conn_event(
            t0,
            Side::Server,
            Event::Closed {
                reason: CloseReason::Reset,
            },
        );
        let trace = t.finish();
        let kinds: Vec<&'static str> = trace.events.iter().map(|e| e.kind.name()).collect();
        assert_eq!(kinds, ["deliver", "discard", "send", "state"]);
        assert_eq!(
            trace.events[1].kind,
            TraceKind::Discard {
                seg: seg(Flags::ACK),
                reason: DiscardReason::OutOfOrder
            }
        );
        assert!(matches!(
            trace.events[2].kind,
            TraceKind::Send {
                state: State::Closed,
                ..
            }
        ));
        assert!(matches!(
            trace.events[3].kind,
            TraceKind::State {
                closed: Some(CloseReason::Reset),
                ..
            }
        ));
        // Settled once: a second call adds nothing.
        let mut again = Tracer::new(0, true);
        again.deliver(t0, Side::Server, &seg(Flags::ACK), &quiet);
        again.settle([&quiet, &moved]);
        again.settle([&quiet, &moved]);
        assert_eq!(again.finish().events.len(), 2);
    }
}

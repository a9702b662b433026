//! A host: listeners, ephemeral ports, demultiplexing, compact TIME-WAIT, and RST for
//! segments that match nothing.

use std::collections::VecDeque;

use hashbrown::hash_table::OccupiedEntry;
use hashbrown::HashTable;
use rustc_hash::FxHashMap;
use sim_time::{SimDuration, SimTime};

use crate::config::{PortSelection, SynCookies, TcpConfig, TwReopen, MAX_RETRIES};
use crate::demux::demux_hash;
use crate::event::{CloseCounts, Event, Note, RtxCounts, Sink, StaleCounts, State};
use crate::isn::{isn, isn_cached, splitmix64, SipKey, TupleHashCache};
use crate::syncookie::{self, COOKIE_MAX_AGE, COOKIE_PERIOD};
use crate::tcb::{
    time_wait_ack, time_wait_segment, time_wait_timeout, Tcb, TcbInit, TwCore, TwVerdict,
    TW_REOPEN_ISS_OFFSET,
};
use crate::wire::{reset_for, Addr, Flags, Segment, SeqNum};

/// In a demux entry: marks a TIME-WAIT record, whose index is in the low 31 bits; without it
/// the entry is a slot index.
const TW_BIT: u32 = 1 << 31;
const NONE: u32 = u32::MAX;
/// Slot indexes stay below 2^30 so that a TIME-WAIT record can keep one with two flags.
const MAX_SLOTS: u32 = 1 << 30;
const IDX_MASK: u32 = MAX_SLOTS - 1;
const TW_LIVE: u32 = 1 << 31;
const TW_ACTIVE: u32 = 1 << 30;
/// `TimerToken::tw` of the TIME-WAIT lane's wake-up (see [`Host`]'s `tw_lane`).
const TW_LANE: u32 = NONE - 1;
/// The token of the TIME-WAIT lane's wake-ups.
const LANE_TOKEN: TimerToken = TimerToken {
    conn: ConnId {
        index: NONE,
        gen: 0,
    },
    tw: TW_LANE,
};
/// A lane entry with this record index is no record: its delta is the high word of the next
/// entry's (see [`Host`]'s `tw_lane`). Record indexes stay below [`MAX_SLOTS`].
const LANE_GAP: u32 = NONE;
/// Entries of `Host::by_incarnation`: the connections of the last 16,384 incarnations, 164 ms
/// of arrivals at 100k new connections per second, longer than a handshake or a teardown
/// over `bench-a`'s 10 ms links. A connection whose entry was overwritten meanwhile only
/// misses the hint and goes through the demux table: a matter of speed, not of outcome.
const HINT_LEN: usize = 1 << 14;

/// A connection of a [`Host`]: a slot index and its generation, so a stale id is harmless.
/// A connection keeps its id for its whole life, TIME-WAIT included. Ordered (by slot, then
/// generation) so it can sit in ordered containers; the order means nothing else.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct ConnId {
    index: u32,
    gen: u32,
}

/// Names one wake-up request: the connection, and its TIME-WAIT record if it has one.
/// Ordered like [`ConnId`], e.g. for a `BinaryHeap` of `(SimTime, seq, TimerToken)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct TimerToken {
    conn: ConnId,
    /// TIME-WAIT record index, or NONE for a live connection.
    tw: u32,
}

impl TimerToken {
    /// For a live connection's wake-up, its slot: a small integer, dense over the host's live
    /// connections and reused after them, so a driver can keep its queue handles in a `Vec`
    /// indexed by it (only these wake-ups are ever [`HostEvent::TimerCancelled`] or
    /// [`HostEvent::TimerMoved`]). `None` for TIME-WAIT wake-ups.
    pub fn slot(&self) -> Option<u32> {
        (self.tw == NONE).then_some(self.conn.index)
    }

    /// The token as two integers, for a driver that packs its queue entries into machine
    /// words; [`from_bits`](Self::from_bits) gives it back.
    #[inline]
    pub fn to_bits(self) -> (u64, u32) {
        (
            u64::from(self.conn.index) | u64::from(self.conn.gen) << 32,
            self.tw,
        )
    }

    /// The token [`to_bits`](Self::to_bits) gave these integers for. Other integers name no
    /// wake-up a host asked for, which [`Host::handle_timeout`] ignores like any stale token.
    #[inline]
    pub fn from_bits(conn: u64, tw: u32) -> Self {
        TimerToken {
            conn: ConnId {
                index: conn as u32,
                gen: (conn >> 32) as u32,
            },
            tw,
        }
    }
}

/// What a [`Host`] reports, in order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HostEvent {
    /// Call [`Host::handle_timeout`] with `token` at `at`.
    ///
    /// The protocol: a host asks for a wake-up only when a connection's deadline becomes
    /// EARLIER than the wake-up already outstanding for it (or none is). When a deadline moves
    /// later (the RTO is re-armed on every ACK, TIME-WAIT restarts), nothing is emitted: the
    /// earlier wake-up fires, the host sees nothing due and asks for the real deadline then.
    /// So re-arming is O(1) and nothing is ever cancelled; a connection has one wake-up
    /// outstanding, plus one for each time its deadline moved earlier before the outstanding
    /// one fired (in a normal lifecycle: at most two). Tokens of connections that are gone,
    /// or that fire before anything is due, are ignored.
    Timer { token: TimerToken, at: SimTime },
    /// The wake-up asked for with `token` is not needed any more: its connection closed or
    /// entered TIME-WAIT (whose records share one wake-up), or an earlier one replaces it
    /// (then a `Timer` with the same token follows). A driver whose queue can cancel should:
    /// every lifecycle would otherwise leave wake-ups that fire to find nothing to do. One
    /// that cannot may ignore this, since stale tokens are harmless.
    TimerCancelled { token: TimerToken },
    /// The wake-up asked for with `token` moves earlier, to `at`: cancel the outstanding one
    /// and wake at `at` instead. Sent only to a driver that asked for it with
    /// [`Host::report_moved_timers`], in place of the `TimerCancelled` and `Timer` pair that
    /// says the same (the deadline of a connection that already has a wake-up outstanding
    /// moved earlier: in a normal lifecycle once per end, when its first data segment or, with no
    /// data, its FIN goes out). One event
    /// instead of two. A driver that cannot cancel treats it as a `Timer`.
    TimerMoved { token: TimerToken, at: SimTime },
    /// A SYN to a listener created a passive connection (now SYN-RECEIVED), or an ACK
    /// returning a valid SYN cookie did (it passes through SYN-RECEIVED to ESTABLISHED at
    /// once). Its tag is the SYN's (or the cookie ACK's) incarnation. The connection's own
    /// events follow. Under [`AcceptMode::Manual`], its [`Event::Connected`] means it joined
    /// the accept queue of its local port, from which [`Host::accept`] takes it.
    Incoming { conn: ConnId, tag: u64, peer: Addr },
    /// Something a connection reported, with the tag given to `connect` (or the incarnation,
    /// for a passive connection).
    Conn {
        conn: ConnId,
        tag: u64,
        event: Event,
    },
}

/// Why `connect` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// Every ephemeral port is in use toward this remote (live or in TIME-WAIT).
    #[error("no ephemeral port left toward {remote}")]
    PortExhausted { remote: Addr },
    #[error("cannot connect to port 0 ({remote})")]
    InvalidRemote { remote: Addr },
    /// `connect_from` with local port 0.
    #[error("cannot connect from port 0")]
    InvalidLocalPort,
    /// `connect_from` toward a 4-tuple this host already has, live or in TIME-WAIT.
    #[error("local port {local_port} toward {remote} is in use")]
    AddrInUse { local_port: u16, remote: Addr },
    /// 2^30 live connections in one host.
    #[error("too many connections in one host")]
    TooManyConnections,
}

/// Why `listen` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ListenError {
    #[error("already listening on port {port}")]
    AlreadyListening { port: u16 },
    #[error("cannot listen on port 0")]
    InvalidPort,
}

/// How a listener hands established connections to the application.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum AcceptMode {
    /// The application accepts every connection the moment it is established, so the accept
    /// queue never holds one and `accept_backlog` never refuses anything on its account (the
    /// SYN queue's limit still applies). What [`Host::listen`] gives.
    #[default]
    Immediate,
    /// Established connections wait in the listener's accept queue (Linux `sk_ack_backlog`)
    /// until [`Host::accept`] takes them, oldest first. While waiting they work as in Linux:
    /// data is received and acknowledged, a FIN is accepted; but the application holds no
    /// handle yet, so `send`, `close` and `abort` on them are ignored (and counted in
    /// `ignored_app_calls`).
    Manual,
}

/// Occupancy of one listener's queues ([`Host::listen_queue`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct ListenQueue {
    /// Passive connections in SYN-RECEIVED (Linux `inet_csk_reqsk_queue_len`).
    pub syn_received: u32,
    /// Of those, the ones whose SYN-ACK timer has fired (and the SYN-ACK gone out again).
    /// Linux calls the others young (`reqsk_queue_len_young`); see
    /// [`TcpConfig::syn_queue_prune`].
    pub syn_received_old: u32,
    /// Established connections not yet accepted (Linux `sk_ack_backlog`); always 0 under
    /// [`AcceptMode::Immediate`].
    pub unaccepted: u32,
}

/// Host-wide counters.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct HostStats {
    pub segments_received: u64,
    pub segments_sent: u64,
    /// Every RST sent: aborts, replies to bad ACKs, replies to segments for no connection.
    pub rst_sent: u64,
    /// Segments matching no connection and no listener (answered with a RST unless a RST).
    pub segments_no_connection: u64,
    /// Segments whose destination is not this host's address (dropped).
    pub misaddressed: u64,
    /// Segments dropped, or answered with an ACK or RST, without being accepted (by a
    /// connection, a TIME-WAIT record or a listener).
    pub unexpected_segments: u64,
    pub challenge_acks: u64,
    /// ACKs owed to unacceptable segments, and challenge ACKs, not sent because another went
    /// to the same connection or TIME-WAIT record less than
    /// [`OOW_ACK_INTERVAL`](crate::OOW_ACK_INTERVAL) before (Linux counts them in
    /// `TCPACKSkippedSeq`, `TCPACKSkippedChallenge` and `TCPACKSkippedTimeWait`).
    pub acks_rate_limited: u64,
    pub out_of_order: u64,
    /// FINs that arrived before data sent ahead of them and were held for it (the FIN
    /// overtook the data: reordering, or a loss ahead of it).
    pub fins_held: u64,
    pub ignored_app_calls: u64,
    pub retransmits: RtxCounts,
    pub stale_accepted: StaleCounts,
    pub closed: CloseCounts,
    pub active_opens: u64,
    pub passive_opens: u64,
    /// Connections that reached ESTABLISHED.
    pub established: u64,
    pub port_exhausted: u64,
    /// `connect_from` calls refused because the 4-tuple was in use.
    pub addr_in_use: u64,
    pub time_wait_entered: u64,
    /// TIME-WAIT records ended by a SYN that reopened the 4-tuple.
    pub time_wait_reopened: u64,
    pub time_wait_peak: u64,
    /// Peak of live connections plus TIME-WAIT records.
    pub connections_peak: u64,
    /// Timer tokens of connections that no longer exist.
    pub stale_timer_tokens: u64,
    /// SYN-ACKs sent with a SYN cookie as ISS instead of keeping state (Linux
    /// `SyncookiesSent`): every SYN under `syn_cookies = "always"`, SYNs finding the SYN
    /// queue full under `on_overflow`.
    pub syn_cookies_sent: u64,
    /// ACKs to a listener whose cookie checked out (Linux `SyncookiesRecv`). Each creates a
    /// connection, unless the accept queue is full (then also `accept_queue_overflows`).
    pub syn_cookies_validated: u64,
    /// ACKs to a listener that sent cookies within the last 2 minutes, matching no
    /// connection, whose cookie did not check out (Linux `SyncookiesFailed`); answered with
    /// a RST like any ACK to a listener.
    pub syn_cookies_failed: u64,
    /// SYNs dropped because the listener's SYN queue held `accept_backlog` connections and
    /// `syn_cookies` is off (Linux `TCPReqQFullDrop`).
    pub syn_dropped_queue_full: u64,
    /// SYNs dropped with `syn_cookies` off because fewer than a quarter of `syn_backlog` was
    /// left in the SYN queue (Linux `tcp_conn_request`, the `tcp_max_syn_backlog` clause;
    /// counted only in `ListenDrops` there).
    pub syn_dropped_syn_backlog: u64,
    /// SYNs, final handshake ACKs and cookie ACKs dropped because the accept queue was full
    /// (Linux `ListenOverflows`). Only [`AcceptMode::Manual`] listeners have one.
    pub accept_queue_overflows: u64,
    /// Passive connections in SYN-RECEIVED dropped before `synack_retries` ran out, because
    /// their listener's SYN queue was crowded with old ones (`TcpConfig::syn_queue_prune`,
    /// Linux `reqsk_timer_handler`). Also counted as handshake timeouts in `closed`.
    pub syn_queue_pruned: u64,
    /// Most passive connections ever in SYN-RECEIVED at one listener.
    pub syn_queue_peak: u64,
    /// Most unaccepted connections ever waiting at one listener.
    pub accept_queue_peak: u64,
    /// Connections in each state now, indexed by `State as usize` (TIME-WAIT records
    /// included). CLOSED and LISTEN count transitions through them, not connections: read
    /// them as meaningless.
    pub in_state: [u64; 11],
}

/// In `Slot::lq`: the connection is counted in its listener's SYN queue.
const LQ_SYN: u8 = 1;
/// In `Slot::lq`: the connection is counted in (and listed by) its listener's accept queue.
const LQ_ACCEPT: u8 = 2;
/// In `Slot::lq`: the listener is [`AcceptMode::Manual`] and the application has not accepted
/// the connection yet.
const LQ_MANUAL: u8 = 4;
/// In `Slot::lq`, with `LQ_SYN`: the SYN-ACK was retransmitted, so the connection is counted
/// in `Listener::syn_old` (Linux: not young, `req->num_timeout > 0`).
const LQ_OLD: u8 = 8;

/// A listening port and its two queues (Linux keeps both in the listener's
/// `icsk_accept_queue`). They live in a `Vec` in the order of `listen` calls, found by port
/// through `Host::listener_of`; the `listening` bitmap answers "is this port listening?".
#[derive(Clone, Debug)]
struct Listener {
    mode: AcceptMode,
    /// Passive connections in SYN-RECEIVED.
    syn_queued: u32,
    /// Those of them whose SYN-ACK was retransmitted (`LQ_OLD`); the others are Linux's
    /// "young" requests (`reqsk_queue_len_young`), which `syn_queue_prune` protects.
    syn_old: u32,
    /// Established connections waiting for [`Host::accept`].
    accept_queued: u32,
    /// The unaccepted connections, oldest first. An entry whose connection closed while
    /// waiting stays until it reaches the front or a compaction (see `Host::accept_fifo_gc`);
    /// `accept_queued` counts only the live ones.
    fifo: VecDeque<ConnId>,
    /// When the last SYN cookie went out (Linux `tcp_synq_overflow` stamps the listener);
    /// cookie ACKs are only checked within 2 minutes of it (`tcp_synq_no_recent_overflow`).
    last_cookie_at: Option<SimTime>,
}

impl Listener {
    /// Linux `sk_acceptq_is_full`: `sk_ack_backlog > sk_max_ack_backlog`. Greater, not
    /// greater or equal (commit 64a146513f8f keeps it so that a backlog of 0 admits one), so
    /// the queue holds `accept_backlog + 1` connections.
    fn accept_queue_full(&self, cfg: &TcpConfig) -> bool {
        self.mode == AcceptMode::Manual && self.accept_queued > cfg.accept_backlog
    }
}

/// A [`HostSink`] borrowing only the host's `out` (events, stats), so the caller can still
/// use its other fields (`cfg`, `slots`, `tw`) while the sink lives.
macro_rules! host_sink {
    ($host:expr, $conn:expr, $tag:expr) => {
        HostSink {
            out: &mut $host.out,
            conn: $conn,
            tag: $tag,
        }
    };
}

/// Routes a connection's events to the host queue, tagged, and counts them.
struct HostSink<'a> {
    out: &'a mut Out,
    conn: ConnId,
    tag: u64,
}

/// A [`Host`]'s events, counters and event filter: what a [`HostSink`] writes to, grouped
/// so that a sink borrows them with one pointer.
struct Out {
    events: Fifo<HostEvent>,
    stats: HostStats,
    /// Bit `s` set: report `StateChanged` events into state `s`
    /// ([`Host::report_state_changes`]).
    state_mask: u16,
    /// Report a wake-up moved earlier as one [`HostEvent::TimerMoved`]
    /// ([`Host::report_moved_timers`]).
    moved_timers: bool,
}

impl HostSink<'_> {
    #[inline]
    fn count_transition(&mut self, from: State, to: State) {
        let n = &mut self.out.stats.in_state;
        n[from as usize] = n[from as usize].saturating_sub(1);
        n[to as usize] += 1;
    }
    #[inline]
    fn push(&mut self, event: Event) {
        self.out.events.push_back(HostEvent::Conn {
            conn: self.conn,
            tag: self.tag,
            event,
        });
    }
}

impl Sink for HostSink<'_> {
    fn event(&mut self, event: Event) {
        match event {
            Event::Retransmit { kind } => self.out.stats.retransmits.add(kind),
            Event::StaleAccepted { kind } => self.out.stats.stale_accepted.add(kind),
            Event::Closed { reason } => self.out.stats.closed.add(reason),
            // Both come through `state_changed` from the TCB; kept for any direct caller.
            Event::Connected => self.out.stats.established += 1,
            Event::StateChanged { from, to } => {
                self.count_transition(from, to);
                if self.out.state_mask & 1 << to as u16 == 0 {
                    return;
                }
            }
            _ => {}
        }
        self.push(event);
    }
    #[inline(always)]
    fn state_changed(&mut self, from: State, to: State) {
        self.count_transition(from, to);
        if self.out.state_mask & 1 << to as u16 != 0 {
            self.push(Event::StateChanged { from, to });
        }
        if to == State::Established {
            self.out.stats.established += 1;
            self.push(Event::Connected);
        }
    }
    fn note(&mut self, n: Note) {
        match n {
            Note::Unexpected => self.out.stats.unexpected_segments += 1,
            Note::ChallengeAck => self.out.stats.challenge_acks += 1,
            Note::OutOfOrder => self.out.stats.out_of_order += 1,
            Note::FinHeld => self.out.stats.fins_held += 1,
            Note::IgnoredAppCall => self.out.stats.ignored_app_calls += 1,
            Note::AckRateLimited => self.out.stats.acks_rate_limited += 1,
        }
    }
}

/// A live connection.
#[derive(Clone, Debug)]
struct Slot {
    tcb: Tcb,
    tag: u64,
    /// The wake-up outstanding for this connection; MAX = none.
    requested: SimTime,
    gen: u32,
    live: bool,
    /// LQ_* bits: the listener queue this passive connection is counted in; 0 for active
    /// connections and accepted ones. Fits in what was padding.
    lq: u8,
    /// Counted in `Host::ports_toward` (see `Host::holds_ephemeral_port`); padding too.
    holds_port: bool,
    next_free: u32,
    /// Where the connection's demux entry was put (`HashTable` bucket index): a hint that
    /// saves re-hashing the 4-tuple to find the entry again when it turns into a TIME-WAIT
    /// record or goes. Checked before use (the bucket must still hold this slot's index),
    /// since the table moves entries when it grows; fits in what was padding.
    demux_bucket: u32,
}

const _: () = assert!(std::mem::size_of::<Slot>() == 160);

/// A connection in TIME-WAIT, like Linux's `inet_timewait_sock`: 40 bytes, the connection's
/// whole [`ConnId`] included (its slot went back to the free list).
#[derive(Clone, Copy, Debug)]
struct TwRecord {
    /// The demux key (remote address and local port); the next free index when free.
    key: u64,
    expires_at: SimTime,
    snd_nxt: SeqNum,
    rcv_nxt: SeqNum,
    incarnation: u32,
    /// TW_LIVE | TW_ACTIVE (holds an ephemeral port: see `Host::holds_ephemeral_port`) |
    /// slot index.
    conn: u32,
    /// The generation of the connection's [`ConnId`].
    gen: u32,
    /// Where the record's demux entry is (the bucket the slot had, see `Slot::demux_bucket`):
    /// a hint that saves re-hashing the 4-tuple when the record goes. Checked before use.
    /// The connection's tag is not kept here: it is the incarnation unless
    /// `Host::tw_odd_tags` has it (tcpsim tags every connection with its incarnation).
    demux_bucket: u32,
}

impl TwRecord {
    fn core(&self) -> TwCore {
        TwCore {
            snd_nxt: self.snd_nxt,
            rcv_nxt: self.rcv_nxt,
            expires_at: self.expires_at,
            incarnation: self.incarnation,
        }
    }
}

/// Size of a TIME-WAIT record. Its demux entry adds 5 bytes (a 4-byte index and the table's
/// control byte) per bucket, 1.15 to 2.3 buckets per entry, and its lane entry 8 bytes:
/// about 60 bytes per connection in TIME-WAIT in all, when the connection's tag is its
/// incarnation (tcpsim's always is); any other tag also takes an entry in
/// `Host::tw_odd_tags`.
pub const TIME_WAIT_RECORD_SIZE: usize = std::mem::size_of::<TwRecord>();
const _: () = assert!(
    TIME_WAIT_RECORD_SIZE <= 40,
    "the TIME-WAIT record grew past 40 bytes"
);
const _: () = assert!(std::mem::size_of::<LaneEntry>() == 8);

/// An entry of the TIME-WAIT lane: (record index or [`LANE_GAP`], nanoseconds after the
/// previous entry's expiry).
type LaneEntry = (u32, u32);

/// The demux key of a 4-tuple. The local address is always this host's, so the key is the
/// remote address and the local port, packed in 8 bytes.
fn conn_key(local_port: u16, remote: Addr) -> u64 {
    (remote.ip as u64) << 32 | (remote.port as u64) << 16 | local_port as u64
}
fn key_remote(key: u64) -> Addr {
    Addr {
        ip: (key >> 32) as u32,
        port: (key >> 16) as u16,
    }
}
fn key_local_port(key: u64) -> u16 {
    key as u16
}
fn addr_key(a: Addr) -> u64 {
    (a.ip as u64) << 16 | a.port as u64
}

/// The demux key of a table entry: a live slot's 4-tuple or a TIME-WAIT record's key.
/// A free function of the two arrays so that the table can hash its own entries while it
/// is borrowed mutably (when it grows).
#[inline(always)]
fn entry_key(slots: &[Slot], tw: &[TwRecord], v: u32) -> u64 {
    if v & TW_BIT != 0 {
        tw[(v & !TW_BIT) as usize].key
    } else {
        let t = &slots[v as usize].tcb;
        conn_key(t.local.port, t.remote)
    }
}

/// Both active opens refuse a remote port 0.
fn check_remote(remote: Addr) -> Result<(), ConnectError> {
    if remote.port == 0 {
        return Err(ConnectError::InvalidRemote { remote });
    }
    Ok(())
}

/// A host's output queue (segments, events): the host appends, the driver takes from the
/// front, and drivers take everything after each input. So it is a `Vec` and a read index,
/// emptied (both back to 0) when the last item is taken: a push is a `Vec` push, and
/// a queue with items always has its first one at `head`, so "empty" is `items.is_empty()`.
/// Cheaper than a ring buffer, whose every push and pop wraps an index. A driver that takes
/// items one at a time and never drains it completely is still bounded: when the `Vec` is
/// full and at least half of its items were taken, they are dropped instead of the `Vec`
/// growing, so the backlog, not the number of items ever queued, sets its size.
#[derive(Debug)]
struct Fifo<T> {
    items: Vec<T>,
    /// The front's index; `items[..head]` were taken.
    head: usize,
}

impl<T: Copy> Fifo<T> {
    fn new() -> Self {
        Fifo {
            items: Vec::new(),
            head: 0,
        }
    }
    #[inline]
    fn push_back(&mut self, v: T) {
        // The bound is kept where the `Vec` is full anyway, so it costs the hot paths
        // nothing: `push` makes the same test (and, after this one, need not repeat it).
        if self.items.len() == self.items.capacity() {
            self.compact();
        }
        self.items.push(v);
    }
    /// The `Vec` is full: drops the taken items if they are at least half of those held, so
    /// that the push which follows reuses their room instead of growing it. Each item is
    /// moved at most once per compaction it outlives, which is linear in all. Out of line:
    /// only a full `Vec` gets here, once per capacity's worth of pushes at most.
    #[cold]
    #[inline(never)]
    fn compact(&mut self) {
        if self.head > 0 && self.head * 2 >= self.items.len() {
            self.items.drain(..self.head);
            self.head = 0;
        }
    }
    #[inline]
    fn pop_front(&mut self) -> Option<T> {
        if self.items.is_empty() {
            return None;
        }
        let v = self.items[self.head];
        self.head += 1;
        if self.head == self.items.len() {
            self.items.clear();
            self.head = 0;
        }
        Some(v)
    }
    /// The `i`-th item not yet taken (0 is the front), for a driver that reads the whole
    /// queue in one pass and then [`clear`](Self::clear)s it instead of popping each item.
    #[inline]
    fn get(&self, i: usize) -> Option<T> {
        // Saturating: with a huge `i`, a wrapping sum would land on a taken item.
        self.items.get(self.head.saturating_add(i)).copied()
    }
    /// Takes every item.
    #[inline]
    fn clear(&mut self) {
        self.items.clear();
        self.head = 0;
    }
}

/// Most connections [`Host::reserve`] makes room for: 2^23 (8.4 M, beyond bench-6m's 6.1 M),
/// which takes 2^24 buckets of 5 bytes, 80 MiB. A hint beyond it is cut to it.
pub const MAX_RESERVE: usize = 1 << 23;

/// The SYN-ACK retry limit of a half-open connection whose timer fires while its listener's
/// SYN queue holds `qlen` connections, `young` of them never retransmitted (Linux
/// `reqsk_timer_handler`): when the queue is more than half of `max(8, backlog)`, one retry
/// fewer for each doubling of `2 * young` that is still at most `qlen`, but never below 2
/// ("we reserve half of room for young embrions; and abort old ones without pity").
fn pruned_synack_retries(synack_retries: u32, qlen: u32, young: u32, backlog: u32) -> u32 {
    let qlen = u64::from(qlen);
    if qlen * 2 <= u64::from(backlog.max(8)) {
        return synack_retries;
    }
    let (mut limit, mut young) = (synack_retries, u64::from(young) * 2);
    while limit > 2 && qlen >= young {
        limit -= 1;
        young = young.saturating_mul(2);
    }
    limit
}

/// Queues every segment `tcb` has to send, and counts them.
#[inline(always)]
fn transmit(
    tcb: &mut Tcb,
    cfg: &TcpConfig,
    now: SimTime,
    tx: &mut Fifo<Segment>,
    stats: &mut HostStats,
) {
    if let Some(ack) = tcb.take_bare_ack(cfg) {
        // Then nothing else is due (`may_transmit` would now say no).
        stats.segments_sent += 1;
        tx.push_back(ack);
        return;
    }
    while let Some(seg) = tcb.poll_transmit(cfg, now) {
        stats.segments_sent += 1;
        // A branch, not an add of the flag: the compiler pairs that add with the one above
        // in a vector register, which costs more than the branch on a flag that is rarely set.
        if seg.flags.contains(Flags::RST) {
            stats.rst_sent += 1;
        }
        tx.push_back(seg);
        if !tcb.may_transmit() {
            break;
        }
    }
}

/// Asks for a wake-up of live slot `i` if its deadline is now earlier than the one
/// outstanding (see [`HostEvent::Timer`]). Always inlined: the call cost more than it.
#[inline(always)]
fn request_wakeup(out: &mut Out, slot: &mut Slot, i: u32) {
    if let Some(at) = slot.tcb.poll_timeout() {
        if at < slot.requested {
            let conn = ConnId {
                index: i,
                gen: slot.gen,
            };
            let token = TimerToken { conn, tw: NONE };
            let outstanding = slot.requested != SimTime::MAX;
            slot.requested = at;
            if outstanding {
                if out.moved_timers {
                    out.events.push_back(HostEvent::TimerMoved { token, at });
                    return;
                }
                out.events.push_back(HostEvent::TimerCancelled { token });
            }
            out.events.push_back(HostEvent::Timer { token, at });
        }
    }
}

/// One host's TCP: listeners, connections, TIME-WAIT records, ports, and output queues.
///
/// Every input may queue segments ([`poll_transmit`](Host::poll_transmit)) and events
/// ([`poll_event`](Host::poll_event)); drain both after each call. Events include the
/// wake-up requests ([`HostEvent::Timer`]).
pub struct Host {
    ip: u32,
    cfg: TcpConfig,
    /// `cfg`'s values for new TCBs (`cfg` never changes after `new`).
    tcb_init: TcbInit,
    sip_key: SipKey,
    /// The ISN hash's state for the last address pair (see [`TupleHashCache`]).
    isn_cache: TupleHashCache,
    /// Keys the SYN cookies, separate from the ISN key.
    cookie_key: (u64, u64),
    rng: u64,
    listening: Vec<u64>,
    listeners: Vec<Listener>,
    /// Port -> index in `listeners` + 1 (0: not listening), allocated at the first `listen`.
    /// A host may listen on many ports (`bench-a`: 64), and every SYN and every input to a
    /// connection in a listen queue looks its listener up: one load instead of a scan.
    listener_of: Vec<u16>,
    listeners_in_range: u32,
    slots: Vec<Slot>,
    free_slot: u32,
    live: usize,
    tw: Vec<TwRecord>,
    free_tw: u32,
    tw_live: usize,
    /// Tags of the live TIME-WAIT records whose tag is not their incarnation.
    tw_odd_tags: FxHashMap<u32, u64>,
    /// When each live TIME-WAIT record that has answered an unacceptable segment last did
    /// (milliseconds + 1, as `Tcb::oow_ack_ms`): few records ever do, so they are kept apart
    /// rather than in every 40-byte record (Linux `tw_last_oow_ack_time`).
    tw_oow_ack_ms: FxHashMap<u32, u32>,
    /// TIME-WAIT expiries in time order: (record index, expiry as a delta from the previous
    /// entry's). TIME-WAIT always lasts the same 2×MSL, so records expire in the order they
    /// (re)started and one FIFO with one wake-up for its head replaces a timer per record:
    /// at 6 M records in TIME-WAIT that is 8 bytes each instead of a queue entry each, and no
    /// queue churn. Entries whose record has gone or restarted since are skipped when they
    /// reach the head (at their own time, which the deltas keep). A delta of 2^32 ns (4.3 s)
    /// or more takes a [`LANE_GAP`] entry before it for its high word.
    tw_lane: VecDeque<LaneEntry>,
    /// Expiry of the entry before the lane's head (the last one popped): the deltas count
    /// from it.
    tw_lane_base: SimTime,
    /// Expiry of the lane's last entry.
    tw_lane_back: SimTime,
    /// The lane's outstanding wake-up; MAX = none.
    tw_lane_requested: SimTime,
    /// 4-tuple -> slot index, or TW_BIT | TIME-WAIT record index. The keys are not stored:
    /// the slot or record an entry names has its 4-tuple, and a lookup that finds its entry
    /// reads that slot or record next anyway; 4 bytes and a control byte per bucket (with
    /// 8-byte keys and values, 16 + 1). Only looked up, never iterated. Hashed by
    /// [`demux_hash`], for locality of consecutive ephemeral ports.
    demux: HashTable<u32>,
    /// Incarnation (mod [`HINT_LEN`]) -> the slot of the connection that last had it. Both
    /// ends of a connection share its incarnation and stamp it on every segment, so a
    /// segment's incarnation names its connection almost always: checked against the slot's
    /// 4-tuple, a hit skips hashing and probing `demux`. A live slot holding the segment's
    /// 4-tuple is exactly what `demux` would have found (a 4-tuple has one entry, and a live
    /// slot always has its own), so a hint never changes the outcome; a miss (stale or
    /// foreign incarnation, reused slot, TIME-WAIT record) falls back to the table.
    by_incarnation: Box<[u32; HINT_LEN]>,
    /// Remote address -> ephemeral ports held toward it (live or TIME-WAIT), so that
    /// exhaustion is known without scanning the range.
    ports_toward: FxHashMap<u64, u32>,
    next_port: u16,
    tx: Fifo<Segment>,
    out: Out,
}

impl Host {
    /// A host at `ip`. `secret` keys the ISN hash (RFC 6528) and random port selection.
    /// `cfg` should have passed [`TcpConfig::validate`]; an invalid one does not panic but
    /// may make every `connect` fail.
    pub fn new(ip: u32, cfg: TcpConfig, secret: u64) -> Host {
        let mut s = secret;
        let k1 = splitmix64(&mut s);
        let rng = splitmix64(&mut s);
        // Drawn after the others, so that ISNs and ports stay what they were before cookies.
        let cookie_key = (splitmix64(&mut s), splitmix64(&mut s));
        let next_port = cfg.ephemeral_ports[0];
        let sip_key = SipKey::new(secret, k1);
        Host {
            ip,
            tcb_init: TcbInit::new(&cfg),
            cfg,
            sip_key,
            isn_cache: TupleHashCache::new(&sip_key),
            cookie_key,
            rng,
            listening: vec![0; 1024],
            listeners: Vec::new(),
            listener_of: Vec::new(),
            listeners_in_range: 0,
            slots: Vec::new(),
            free_slot: NONE,
            live: 0,
            tw: Vec::new(),
            free_tw: NONE,
            tw_live: 0,
            tw_odd_tags: FxHashMap::default(),
            tw_oow_ack_ms: FxHashMap::default(),
            tw_lane: VecDeque::new(),
            tw_lane_base: SimTime::ZERO,
            tw_lane_back: SimTime::ZERO,
            tw_lane_requested: SimTime::MAX,
            demux: HashTable::new(),
            by_incarnation: vec![NONE; HINT_LEN]
                .into_boxed_slice()
                .try_into()
                .expect("HINT_LEN entries"),
            ports_toward: FxHashMap::default(),
            next_port,
            tx: Fifo::new(),
            out: Out {
                events: Fifo::new(),
                stats: HostStats::default(),
                state_mask: u16::MAX,
                moved_timers: false,
            },
        }
    }

    pub fn ip(&self) -> u32 {
        self.ip
    }

    /// Makes room for `connections` connections at once (open or in TIME-WAIT, these
    /// included) in the 4-tuple table, at most [`MAX_RESERVE`], so that it does not grow
    /// while they come: each growth rehashes every entry, and at a million entries that is
    /// a few percent of a run. Linux likewise sizes its established hash once, at boot
    /// (`thash_entries`). Only a hint: the table still grows past it, and no lookup's
    /// outcome depends on it. Room reserved and never used still costs memory: the control
    /// bytes (1 per slot) at once, and the pages of entries that scattered inserts touch.
    pub fn reserve(&mut self, connections: usize) {
        let want = connections
            .min(MAX_RESERVE)
            .saturating_sub(self.demux.len());
        let (slots, tw) = (&self.slots, &self.tw);
        self.demux
            .reserve(want, |&e| demux_hash(entry_key(slots, tw, e)));
    }

    /// How many connections the 4-tuple table holds before it grows (see
    /// [`reserve`](Self::reserve)).
    pub fn demux_capacity(&self) -> usize {
        self.demux.capacity()
    }
    /// Reports [`Event::StateChanged`] only for transitions into the states listed (all of
    /// them by default). A driver that needs few of them saves an event per transition:
    /// a lifecycle makes about a dozen. Every other event is always reported.
    pub fn report_state_changes(&mut self, into: &[State]) {
        self.out.state_mask = into.iter().fold(0, |m, &s| m | 1 << s as u16);
    }
    /// Reports a connection's wake-up moved earlier as one [`HostEvent::TimerMoved`] instead
    /// of a [`HostEvent::TimerCancelled`] followed by a [`HostEvent::Timer`] with the same
    /// token (the default, for drivers written before `TimerMoved`). A driver that cancels
    /// wake-ups handles one event instead of two for each move.
    pub fn report_moved_timers(&mut self, on: bool) {
        self.out.moved_timers = on;
    }
    pub fn config(&self) -> &TcpConfig {
        &self.cfg
    }
    pub fn stats(&self) -> &HostStats {
        &self.out.stats
    }
    /// Connections that exist: live ones plus TIME-WAIT records.
    pub fn connections(&self) -> usize {
        self.live + self.tw_live
    }
    /// Checks the demux table against what it indexes: every live connection and TIME-WAIT
    /// record has exactly its own entry, and nothing else has one. The segment path trusts
    /// this without looking (a live slot holding a segment's 4-tuple is taken as the one the
    /// table would find: `by_incarnation`), so tests call it after every step. O(connections).
    #[doc(hidden)]
    pub fn check_demux(&self) -> Result<(), String> {
        let mut n = 0;
        for (i, slot) in self.slots.iter().enumerate().filter(|(_, s)| s.live) {
            let key = conn_key(slot.tcb.local.port, slot.tcb.remote);
            if self.demux_get(key) != Some(i as u32) {
                return Err(format!(
                    "live slot {i} ({key:#x}) has demux entry {:?}",
                    self.demux_get(key)
                ));
            }
            n += 1;
        }
        for (j, rec) in self.tw.iter().enumerate() {
            if rec.conn & TW_LIVE != 0 {
                if self.demux_get(rec.key) != Some(TW_BIT | j as u32) {
                    return Err(format!(
                        "TIME-WAIT record {j} ({:#x}) has demux entry {:?}",
                        rec.key,
                        self.demux_get(rec.key)
                    ));
                }
                n += 1;
            }
        }
        if n != self.demux.len() || n != self.connections() {
            return Err(format!(
                "{} demux entries, {n} connections indexed, {} counted",
                self.demux.len(),
                self.connections()
            ));
        }
        Ok(())
    }
    pub fn time_wait_count(&self) -> usize {
        self.tw_live
    }
    /// The local address of `conn` while it has a full TCB (its port: the one `connect`
    /// picked); `None` once it is in TIME-WAIT or gone, as for `conn_state`.
    pub fn local_addr(&self, conn: ConnId) -> Option<Addr> {
        let s = self.slots.get(conn.index as usize)?;
        (s.live && s.gen == conn.gen).then_some(s.tcb.local)
    }
    /// The state of `conn` while it has a full TCB; `None` once it is in TIME-WAIT (then a
    /// compact record, found only by 4-tuple) or gone.
    pub fn conn_state(&self, conn: ConnId) -> Option<State> {
        let s = self.slots.get(conn.index as usize)?;
        (s.live && s.gen == conn.gen).then_some(s.tcb.state)
    }
    /// The state of whatever holds the 4-tuple (`local_port`, `remote`): a connection, or a
    /// TIME-WAIT record; `None` if nothing does (a listener is not counted).
    pub fn state_of(&self, local_port: u16, remote: Addr) -> Option<State> {
        let v = self.demux_get(conn_key(local_port, remote))?;
        if v & TW_BIT != 0 {
            return Some(State::TimeWait);
        }
        Some(self.slots[v as usize].tcb.state)
    }
    /// The ISN this host would choose now for `local` -> `remote`.
    pub fn isn(&self, now: SimTime, local: Addr, remote: Addr) -> SeqNum {
        isn(&self.cfg, &self.sip_key, now, local, remote)
    }
    /// [`isn`](Host::isn) through the host's hash cache: the same value, cheaper.
    fn next_isn(&mut self, now: SimTime, local: Addr, remote: Addr) -> SeqNum {
        isn_cached(
            &self.cfg,
            &self.sip_key,
            &mut self.isn_cache,
            now,
            local,
            remote,
        )
    }

    /// The demux entry of `key`: a slot index, or TW_BIT | a TIME-WAIT record index.
    #[inline(always)]
    fn demux_get(&self, key: u64) -> Option<u32> {
        self.demux_find(key, demux_hash(key))
    }

    /// [`demux_get`](Host::demux_get) with the key's hash already computed: a lookup that
    /// finds nothing is often followed by an insert of the same key, which then reuses it.
    #[inline(always)]
    fn demux_find(&self, key: u64, hash: u64) -> Option<u32> {
        let (slots, tw) = (&self.slots, &self.tw);
        self.demux
            .find(hash, |&v| entry_key(slots, tw, v) == key)
            .copied()
    }

    /// Adds entry `v` (for `key`, whose hash is `hash`, which has none): its slot or record
    /// must hold `key` already. Returns the entry's bucket index (see `Slot::demux_bucket`).
    /// Inlined into `install` (once per connection); growing the table stays out of line.
    #[inline(always)]
    fn demux_insert(&mut self, key: u64, hash: u64, v: u32) -> u32 {
        debug_assert!(self.demux_get(key).is_none(), "a 4-tuple entered twice");
        debug_assert_eq!(hash, demux_hash(key));
        let (slots, tw) = (&self.slots, &self.tw);
        let b = self
            .demux
            .insert_unique(hash, v, |&e| demux_hash(entry_key(slots, tw, e)))
            .bucket_index();
        // Tables of 2^32 buckets are out of reach (slots and records stay below 2^30 each).
        b as u32
    }

    /// The demux entry of live slot `i` (whose 4-tuple is `key`), for an update or a removal:
    /// straight from the slot's bucket hint when it still holds `i`, else by hash.
    #[inline(always)]
    fn demux_slot_entry(&mut self, key: u64, i: u32) -> Option<OccupiedEntry<'_, u32>> {
        let b = self.slots[i as usize].demux_bucket as usize;
        if self.demux.get_bucket(b) == Some(&i) {
            return self.demux.get_bucket_entry(b).ok();
        }
        self.demux.find_entry(demux_hash(key), |&e| e == i).ok()
    }

    /// Removes entry `v` of `key`. Found by value: no slot or record is read.
    fn demux_remove(&mut self, key: u64, v: u32) {
        if let Ok(e) = self.demux.find_entry(demux_hash(key), |&e| e == v) {
            e.remove();
        }
    }

    fn is_listening(&self, port: u16) -> bool {
        self.listening[port as usize / 64] & (1 << (port % 64)) != 0
    }
    fn in_ephemeral_range(&self, port: u16) -> bool {
        let [lo, hi] = self.cfg.ephemeral_ports;
        (lo..=hi).contains(&port)
    }

    /// Accept SYNs to `port`, the application taking every connection as soon as it is
    /// established: [`listen_with`](Host::listen_with) with [`AcceptMode::Immediate`].
    pub fn listen(&mut self, port: u16) -> Result<(), ListenError> {
        self.listen_with(port, AcceptMode::Immediate)
    }

    /// Accept SYNs to `port`, handing established connections over as `mode` says. The SYN
    /// queue is limited by `accept_backlog` and `syn_backlog`, the accept queue by
    /// `accept_backlog`, with SYN cookies per `syn_cookies` (see [`TcpConfig`]). A listening
    /// port inside the ephemeral range is no longer used by `connect`.
    pub fn listen_with(&mut self, port: u16, mode: AcceptMode) -> Result<(), ListenError> {
        if port == 0 {
            return Err(ListenError::InvalidPort);
        }
        if self.is_listening(port) {
            return Err(ListenError::AlreadyListening { port });
        }
        self.listening[port as usize / 64] |= 1 << (port % 64);
        if self.in_ephemeral_range(port) {
            self.listeners_in_range += 1;
        }
        if self.listener_of.is_empty() {
            self.listener_of = vec![0; 1 << 16];
        }
        // At most 65535 ports can listen, so the index + 1 fits.
        self.listener_of[port as usize] = self.listeners.len() as u16 + 1;
        self.listeners.push(Listener {
            mode,
            syn_queued: 0,
            syn_old: 0,
            accept_queued: 0,
            fifo: VecDeque::new(),
            last_cookie_at: None,
        });
        Ok(())
    }

    /// Takes the oldest connection waiting in `port`'s accept queue (a
    /// [`AcceptMode::Manual`] listener), like `accept()`; from then on the application may
    /// `send`, `close` and `abort` it. `None` if nothing waits or `port` does not listen.
    /// Connections that closed while waiting are skipped (Linux would hand them over and let
    /// the first read report the reset).
    pub fn accept(&mut self, port: u16) -> Option<ConnId> {
        let l = self.listener_index(port)?;
        while let Some(conn) = self.listeners[l].fifo.pop_front() {
            match self.slots.get_mut(conn.index as usize) {
                Some(slot) if slot.live && slot.gen == conn.gen && slot.lq & LQ_ACCEPT != 0 => {
                    slot.lq = 0;
                    let listener = &mut self.listeners[l];
                    listener.accept_queued = listener.accept_queued.saturating_sub(1);
                    return Some(conn);
                }
                _ => {}
            }
        }
        None
    }

    /// How full `port`'s SYN and accept queues are; `None` if `port` does not listen.
    pub fn listen_queue(&self, port: u16) -> Option<ListenQueue> {
        let l = &self.listeners[self.listener_index(port)?];
        Some(ListenQueue {
            syn_received: l.syn_queued,
            syn_received_old: l.syn_old,
            unaccepted: l.accept_queued,
        })
    }

    fn listener_index(&self, port: u16) -> Option<usize> {
        let l = *self.listener_of.get(port as usize)?;
        (l != 0).then(|| l as usize - 1)
    }

    /// Active open toward `remote`: picks an ephemeral port, queues the SYN (the next
    /// `poll_transmit`) and its wake-up. `incarnation` goes on every segment; `tag` on every
    /// event.
    pub fn connect(
        &mut self,
        now: SimTime,
        remote: Addr,
        incarnation: u32,
        tag: u64,
    ) -> Result<ConnId, ConnectError> {
        check_remote(remote)?;
        let available = self
            .cfg
            .ephemeral_count()
            .saturating_sub(self.listeners_in_range);
        let held = self
            .ports_toward
            .get(&addr_key(remote))
            .copied()
            .unwrap_or(0);
        // O(1): with fewer ports held than exist, a free one is certain to be found.
        let port = if held < available {
            self.pick_port(remote)
        } else {
            None
        };
        let Some((port, hash)) = port else {
            self.out.stats.port_exhausted += 1;
            return Err(ConnectError::PortExhausted { remote });
        };
        self.open_active(now, port, hash, remote, incarnation, tag)
    }

    /// Active open from a chosen local port, as after `bind()`: the way two peers that
    /// know each other's address open toward each other at once (RFC 9293 §3.5, Figure 8,
    /// simultaneous open), whoever's SYN comes first. No listener is needed on either side;
    /// a listener on `local_port` does not stop it (the exact 4-tuple is matched before
    /// any listener). Fails if the 4-tuple is in use, live or in TIME-WAIT (Linux's
    /// `__inet_check_established` refuses it with EADDRNOTAVAIL unless `tcp_tw_reuse`
    /// applies, which is not modelled). A local port in the ephemeral range counts as
    /// held toward `remote` like one `connect` picked, unless it is listening (see
    /// `holds_ephemeral_port`).
    pub fn connect_from(
        &mut self,
        now: SimTime,
        local_port: u16,
        remote: Addr,
        incarnation: u32,
        tag: u64,
    ) -> Result<ConnId, ConnectError> {
        check_remote(remote)?;
        if local_port == 0 {
            return Err(ConnectError::InvalidLocalPort);
        }
        let key = conn_key(local_port, remote);
        let hash = demux_hash(key);
        if self.demux_find(key, hash).is_some() {
            self.out.stats.addr_in_use += 1;
            return Err(ConnectError::AddrInUse { local_port, remote });
        }
        self.open_active(now, local_port, hash, remote, incarnation, tag)
    }

    /// `hash`: the demux hash of the new 4-tuple, which the caller has just looked up.
    /// Always inlined: `connect` calls it once per connection (`connect_from`, the other
    /// caller, once per simultaneous open), and the call (with its seven arguments) cost
    /// more than the work it wraps.
    #[inline(always)]
    fn open_active(
        &mut self,
        now: SimTime,
        port: u16,
        hash: u64,
        remote: Addr,
        incarnation: u32,
        tag: u64,
    ) -> Result<ConnId, ConnectError> {
        let Some(conn) = self.next_slot() else {
            return Err(ConnectError::TooManyConnections);
        };
        let local = Addr { ip: self.ip, port };
        let iss = self.next_isn(now, local, remote);
        let mut sink = host_sink!(self, conn, tag);
        let tcb = Tcb::connect(
            &self.cfg,
            self.tcb_init,
            now,
            local,
            remote,
            iss,
            incarnation,
            &mut sink,
        );
        self.install(conn, tcb, tag, hash);
        if self.holds_ephemeral_port(port) {
            self.slots[conn.index as usize].holds_port = true;
            *self.ports_toward.entry(addr_key(remote)).or_insert(0) += 1;
        }
        self.out.stats.active_opens += 1;
        self.flush_opened(conn.index, now);
        Ok(conn)
    }

    /// Whether an active open from `port` counts in `ports_toward`: every `connect`, and a
    /// `connect_from` from a port of the ephemeral range that is not listening. A listening
    /// port there is already taken off the ports `connect` may use (`listeners_in_range`):
    /// counting it again would report exhaustion a port early. Decided once, at the open,
    /// and kept with the connection (`Slot::holds_port`, then `TW_ACTIVE`), so that its
    /// release undoes exactly what its open did. (A `listen` on a port that connections
    /// already hold counts those ports twice until they close: the estimate errs early, as
    /// before this rule, only in that order of calls.)
    fn holds_ephemeral_port(&self, port: u16) -> bool {
        self.in_ephemeral_range(port) && !self.is_listening(port)
    }

    /// Sequential: from the host's cursor; random: from a random port (RFC 6056 §3.3.1).
    /// Either way upwards with wrap, skipping listening ports and 4-tuples in use.
    /// Returns the port and the demux hash of its 4-tuple.
    fn pick_port(&mut self, remote: Addr) -> Option<(u16, u64)> {
        let [lo, _] = self.cfg.ephemeral_ports;
        let n = self.cfg.ephemeral_count();
        if n == 0 {
            return None;
        }
        let off = match self.cfg.port_selection {
            // The cursor is always lo + an offset below n (it is only ever set so), so the
            // division is never needed; it stays as a guard, skipped when it changes nothing.
            PortSelection::Sequential => match (self.next_port as u32).saturating_sub(lo as u32) {
                d if d < n => d,
                d => d % n,
            },
            PortSelection::Random => (splitmix64(&mut self.rng) % n as u64) as u32,
        };
        // The first candidate is almost always free: tried here, in line, so that the scan's
        // set-up (it keeps the tables' pointers on the stack across the probes) is paid only
        // when it is not.
        let port = (lo as u32 + off) as u16;
        if !self.is_listening(port) {
            let key = conn_key(port, remote);
            let hash = demux_hash(key);
            if self.demux_find(key, hash).is_none() {
                let next = if off + 1 == n { 0 } else { off + 1 };
                self.next_port = (lo as u32 + next) as u16;
                return Some((port, hash));
            }
        }
        self.pick_port_scan(remote, off)
    }

    /// [`pick_port`](Host::pick_port) from offset `off` of the range on, every port once.
    #[inline(never)]
    fn pick_port_scan(&mut self, remote: Addr, mut off: u32) -> Option<(u16, u64)> {
        let [lo, _] = self.cfg.ephemeral_ports;
        let n = self.cfg.ephemeral_count();
        for _ in 0..n {
            let port = (lo as u32 + off) as u16;
            // `off < n`: a compare instead of a division per probe.
            off = if off + 1 == n { 0 } else { off + 1 };
            if self.is_listening(port) {
                continue;
            }
            let key = conn_key(port, remote);
            let hash = demux_hash(key);
            if self.demux_find(key, hash).is_none() {
                self.next_port = (lo as u32 + off) as u16;
                return Some((port, hash));
            }
        }
        None
    }

    /// The id the next installed connection will get.
    fn next_slot(&self) -> Option<ConnId> {
        if self.free_slot != NONE {
            let i = self.free_slot;
            return Some(ConnId {
                index: i,
                gen: self.slots[i as usize].gen,
            });
        }
        let i = u32::try_from(self.slots.len())
            .ok()
            .filter(|&i| i < MAX_SLOTS)?;
        Some(ConnId { index: i, gen: 0 })
    }

    /// `hash`: the demux hash of the TCB's 4-tuple, which every caller has just looked up.
    ///
    /// Always inlined, like the TCB constructors, so that the new TCB is built straight in
    /// its slot instead of on the stack and then copied (128 bytes) into it.
    #[inline(always)]
    fn install(&mut self, conn: ConnId, tcb: Tcb, tag: u64, hash: u64) {
        let key = conn_key(tcb.local.port, tcb.remote);
        let slot = Slot {
            tcb,
            tag,
            requested: SimTime::MAX,
            gen: conn.gen,
            live: true,
            lq: 0,
            holds_port: false,
            next_free: NONE,
            demux_bucket: NONE,
        };
        if conn.index == self.free_slot {
            self.free_slot = self.slots[conn.index as usize].next_free;
            self.slots[conn.index as usize] = slot;
        } else {
            self.slots.push(slot);
        }
        let b = self.demux_insert(key, hash, conn.index);
        self.slots[conn.index as usize].demux_bucket = b;
        self.live += 1;
        self.out.stats.connections_peak = self
            .out
            .stats
            .connections_peak
            .max(self.connections() as u64);
    }

    /// After any input to slot `i`: queue its segments, then retire it if CLOSED, compact it
    /// if in TIME-WAIT, or ask for a wake-up if its deadline moved earlier.
    ///
    /// Called after every input, so the common case (a connection in no listen queue staying
    /// alive) is kept short: one slot lookup, and `poll_transmit` only if
    /// [`Tcb::may_transmit`] says it could return something.
    #[inline(always)]
    fn flush(&mut self, i: u32, now: SimTime) {
        self.flush_with(i, now, true);
    }

    /// [`flush`](Host::flush) for a connection just installed, whose SYN or SYN-ACK is due:
    /// that segment is taken inlined ([`Tcb::take_handshake`]) rather than through the call
    /// into `poll_transmit`. Once it is out, the connection (SYN-SENT, or SYN-RECEIVED) has
    /// nothing more to send and stays in the states `flush` leaves to the wake-up: only
    /// that is left to do.
    #[inline(always)]
    fn flush_opened(&mut self, i: u32, now: SimTime) {
        if let Some(seg) = self.slots[i as usize].tcb.take_handshake(&self.cfg, now) {
            self.out.stats.segments_sent += 1;
            self.tx.push_back(seg);
            self.flush_after_last_segment(i, now);
            return;
        }
        self.flush(i, now);
    }

    /// [`flush`](Host::flush) after the input's last segment has been taken, when the
    /// connection is neither CLOSED nor in TIME-WAIT, and in no listen queue that its state
    /// changes (`flush_slow`'s cases): the hint and the wake-up.
    #[inline(always)]
    fn flush_after_last_segment(&mut self, i: u32, now: SimTime) {
        let slot = &mut self.slots[i as usize];
        self.by_incarnation[slot.tcb.incarnation as usize % HINT_LEN] = i;
        debug_assert!(
            !slot.tcb.may_transmit() && slot.tcb.clone().poll_transmit(&self.cfg, now).is_none(),
            "a segment left behind"
        );
        debug_assert!(
            !matches!(slot.tcb.state, State::Closed | State::TimeWait)
                && (slot.lq == 0 || slot.tcb.state == State::SynReceived),
            "flush_slow's case"
        );
        request_wakeup(&mut self.out, slot, i);
    }

    /// [`flush`](Host::flush); `hint`: record the slot in `by_incarnation`. Every connection
    /// is flushed right after it is installed, before any segment for it can arrive, so the
    /// hint is there for the first one. Application calls and timeouts record it again (an
    /// entry overwritten since is restored); after a segment it is there already, or the
    /// segment's caller recorded it.
    #[inline(always)]
    fn flush_with(&mut self, i: u32, now: SimTime, hint: bool) {
        self.input_and_flush(i, now, hint, |_, _, _| {});
    }

    /// `input` on slot `i`'s TCB (with its sink), then the flush (see [`flush`](Host::flush)),
    /// on one borrow of the slot: after a call into the TCB, indexing `slots` again would
    /// reload the vector and repeat the bounds check.
    #[inline(always)]
    fn input_and_flush(
        &mut self,
        i: u32,
        now: SimTime,
        hint: bool,
        input: impl FnOnce(&mut Tcb, &TcpConfig, &mut HostSink<'_>),
    ) {
        let slot = &mut self.slots[i as usize];
        let conn = ConnId {
            index: i,
            gen: slot.gen,
        };
        input(
            &mut slot.tcb,
            &self.cfg,
            &mut host_sink!(self, conn, slot.tag),
        );
        if hint {
            self.by_incarnation[slot.tcb.incarnation as usize % HINT_LEN] = i;
        }
        if slot.tcb.may_transmit() {
            transmit(
                &mut slot.tcb,
                &self.cfg,
                now,
                &mut self.tx,
                &mut self.out.stats,
            );
        }
        debug_assert!(
            slot.tcb.clone().poll_transmit(&self.cfg, now).is_none(),
            "may_transmit said no to a segment"
        );
        let state = slot.tcb.state;
        // In SYN-RECEIVED a listen queue has nothing to update (see `update_listen_queue`):
        // a passive open's first flush stays on this path.
        if matches!(state, State::Closed | State::TimeWait)
            || (slot.lq != 0 && state != State::SynReceived)
        {
            if !hint && slot.lq == LQ_SYN && state == State::Established {
                // After a segment (the only caller passing `hint = false`): the final ACK of a
                // passive handshake under an Immediate listener, once per passive connection.
                // `update_listen_queue` would take it out of the SYN queue and out of any tie to
                // its listener; done here, it spares the call into `flush_slow`.
                let l = self.listener_of.get(slot.tcb.local.port as usize).copied();
                if let Some(l) = l.filter(|&l| l != 0) {
                    let q = &mut self.listeners[l as usize - 1].syn_queued;
                    *q = q.saturating_sub(1);
                }
                slot.lq = 0;
                request_wakeup(&mut self.out, slot, i);
                return;
            }
            self.flush_slow(i);
        } else {
            request_wakeup(&mut self.out, slot, i);
        }
    }

    /// The rest of [`flush`](Host::flush) for a connection in a listen queue, CLOSED, or in
    /// TIME-WAIT: at most a few times per connection.
    #[inline(never)]
    fn flush_slow(&mut self, i: u32) {
        if self.slots[i as usize].lq != 0 {
            self.update_listen_queue(i);
        }
        let state = self.slots[i as usize].tcb.state;
        if state == State::Closed {
            self.release_slot(i);
        } else if state != State::TimeWait || !self.compact_time_wait(i) {
            request_wakeup(&mut self.out, &mut self.slots[i as usize], i);
        }
    }

    /// Moves passive connection `i` through its listener's queues after any input: out of
    /// the SYN queue when it leaves SYN-RECEIVED (Linux `inet_csk_reqsk_queue_drop`: the
    /// request is established, reset or timed out), into the accept queue if established
    /// under [`AcceptMode::Manual`] (`inet_csk_reqsk_queue_add`), and out of it if it closes
    /// before being accepted. A connection in SYN-RECEIVED changes nothing here (`LQ_MANUAL`
    /// never stays alone in `lq`), so `flush` does not call it then.
    fn update_listen_queue(&mut self, i: u32) {
        let slot = &self.slots[i as usize];
        let (state, port, mut lq) = (slot.tcb.state, slot.tcb.local.port, slot.lq);
        let conn = ConnId {
            index: i,
            gen: slot.gen,
        };
        let Some(l) = self.listener_index(port) else {
            // Listeners are never removed, so a queued connection always has one.
            self.slots[i as usize].lq = 0;
            return;
        };
        let gone = matches!(state, State::Closed | State::TimeWait);
        if lq & LQ_SYN != 0 && state != State::SynReceived {
            let listener = &mut self.listeners[l];
            listener.syn_queued = listener.syn_queued.saturating_sub(1);
            if lq & LQ_OLD != 0 {
                listener.syn_old = listener.syn_old.saturating_sub(1);
            }
            lq &= !(LQ_SYN | LQ_OLD);
            if lq & LQ_MANUAL != 0 && !gone {
                self.join_accept_queue(l, conn);
                return;
            }
        }
        if lq & LQ_ACCEPT != 0 && gone {
            lq &= !LQ_ACCEPT;
            let listener = &mut self.listeners[l];
            listener.accept_queued = listener.accept_queued.saturating_sub(1);
            self.accept_fifo_gc(l);
        }
        // Out of both queues: accepted (Immediate) or closed; nothing ties it to the listener.
        if lq & (LQ_SYN | LQ_ACCEPT) == 0 {
            lq = 0;
        }
        self.slots[i as usize].lq = lq;
    }

    /// Established connection `conn` waits for [`Host::accept`] at listener `l`.
    fn join_accept_queue(&mut self, l: usize, conn: ConnId) {
        self.slots[conn.index as usize].lq = LQ_MANUAL | LQ_ACCEPT;
        let listener = &mut self.listeners[l];
        listener.accept_queued += 1;
        listener.fifo.push_back(conn);
        self.out.stats.accept_queue_peak = self
            .out
            .stats
            .accept_queue_peak
            .max(listener.accept_queued as u64);
    }

    /// Drops the entries of connections that closed while waiting once they outnumber the
    /// live ones (plus slack), so the FIFO stays within twice the accept queue and the cost
    /// is amortized O(1) per close.
    fn accept_fifo_gc(&mut self, l: usize) {
        let listener = &mut self.listeners[l];
        if listener.fifo.len() <= 2 * listener.accept_queued as usize + 16 {
            return;
        }
        let slots = &self.slots;
        listener.fifo.retain(|c| {
            slots
                .get(c.index as usize)
                .is_some_and(|s| s.live && s.gen == c.gen && s.lq & LQ_ACCEPT != 0)
        });
    }

    // Always inlined: once per connection on each host (its release or its TIME-WAIT
    // hand-over), and the call cost a third of the work.
    #[inline(always)]
    fn free_slot_index(&mut self, i: u32) {
        let slot = &mut self.slots[i as usize];
        if slot.requested != SimTime::MAX {
            let conn = ConnId {
                index: i,
                gen: slot.gen,
            };
            let token = TimerToken { conn, tw: NONE };
            self.out
                .events
                .push_back(HostEvent::TimerCancelled { token });
        }
        slot.live = false;
        slot.gen = slot.gen.wrapping_add(1);
        slot.requested = SimTime::MAX;
        slot.next_free = self.free_slot;
        self.free_slot = i;
        self.live -= 1;
    }

    /// A connection reached CLOSED: forget its 4-tuple and release its port.
    fn release_slot(&mut self, i: u32) {
        let slot = &self.slots[i as usize];
        let t = &slot.tcb;
        let (local, remote, held) = (t.local, t.remote, slot.holds_port);
        if let Some(e) = self.demux_slot_entry(conn_key(local.port, remote), i) {
            e.remove();
        }
        if held {
            self.release_port(remote);
        }
        self.free_slot_index(i);
    }

    fn release_port(&mut self, remote: Addr) {
        let k = addr_key(remote);
        if let Some(n) = self.ports_toward.get_mut(&k) {
            *n -= 1;
            if *n == 0 {
                self.ports_toward.remove(&k);
            }
        }
    }

    /// Replaces the full TCB of a connection that entered TIME-WAIT with a 40-byte record;
    /// the 4-tuple and the port stay held.
    /// Returns false, leaving the full TCB to run TIME-WAIT itself, in the unlikely case that
    /// 2^30 records exist.
    fn compact_time_wait(&mut self, i: u32) -> bool {
        if self.free_tw == NONE && self.tw.len() >= MAX_SLOTS as usize {
            return false;
        }
        let slot = &self.slots[i as usize];
        let t = &slot.tcb;
        let key = conn_key(t.local.port, t.remote);
        let conn = ConnId {
            index: i,
            gen: slot.gen,
        };
        let tag = slot.tag;
        let rec = TwRecord {
            key,
            expires_at: t.timer_at,
            snd_nxt: t.snd_nxt,
            rcv_nxt: t.rcv_nxt,
            incarnation: t.incarnation,
            conn: TW_LIVE | if slot.holds_port { TW_ACTIVE } else { 0 } | i,
            gen: conn.gen,
            demux_bucket: NONE,
        };
        let j = if self.free_tw != NONE {
            let j = self.free_tw;
            self.free_tw = self.tw[j as usize].key as u32;
            self.tw[j as usize] = rec;
            j
        } else {
            self.tw.push(rec);
            (self.tw.len() - 1) as u32
        };
        if tag != rec.incarnation as u64 {
            self.tw_odd_tags.insert(j, tag);
        }
        // The entry stays where it is and names the record instead of the slot.
        if let Some(mut e) = self.demux_slot_entry(key, i) {
            *e.get_mut() = TW_BIT | j;
            // Tables of 2^32 buckets are out of reach (see `demux_insert`).
            self.tw[j as usize].demux_bucket = e.bucket_index() as u32;
        }
        // The slot's generation moves on, so its next occupant gets a different id.
        self.free_slot_index(i);
        self.tw_live += 1;
        self.out.stats.time_wait_entered += 1;
        self.out.stats.time_wait_peak = self.out.stats.time_wait_peak.max(self.tw_live as u64);
        self.schedule_time_wait(conn, j, rec.expires_at);
        true
    }

    /// Makes sure TIME-WAIT record `j` (of `conn`) is woken at `at`: through the lane when
    /// `at` keeps it in time order, which is always the case with a constant 2×MSL, or else
    /// with a wake-up of its own. Inlined: once per connection, from `compact_time_wait`.
    #[inline(always)]
    fn schedule_time_wait(&mut self, conn: ConnId, j: u32, at: SimTime) {
        let was_empty = self.tw_lane.is_empty();
        if was_empty {
            self.tw_lane_base = at;
            self.tw_lane_back = at;
        } else if at < self.tw_lane_back {
            let token = TimerToken { conn, tw: j };
            self.out.events.push_back(HostEvent::Timer { token, at });
            return;
        }
        let delta_ns = (at - self.tw_lane_back).as_nanos();
        if delta_ns > u32::MAX as u64 {
            self.tw_lane.push_back((LANE_GAP, (delta_ns >> 32) as u32));
        }
        self.tw_lane.push_back((j, delta_ns as u32));
        self.tw_lane_back = at;
        // Appended behind a head whose wake-up is outstanding already (a lane with entries
        // always has one: see `on_lane_timeout`), there is nothing to ask for.
        if was_empty {
            self.request_lane_wakeup();
        }
    }

    /// The lane's head: its record index and expiry. Folds [`LANE_GAP`] entries into the
    /// base on the way.
    #[inline]
    fn lane_head(&mut self) -> Option<(u32, SimTime)> {
        loop {
            let &(j, delta_ns) = self.tw_lane.front()?;
            if j != LANE_GAP {
                let at = self.tw_lane_base + SimDuration::from_nanos(delta_ns as u64);
                return Some((j, at));
            }
            self.tw_lane_base += SimDuration::from_nanos((delta_ns as u64) << 32);
            self.tw_lane.pop_front();
        }
    }

    fn request_lane_wakeup(&mut self) {
        if let Some((_, at)) = self.lane_head() {
            if at < self.tw_lane_requested {
                self.tw_lane_requested = at;
                self.out.events.push_back(HostEvent::Timer {
                    token: LANE_TOKEN,
                    at,
                });
            }
        }
    }

    /// The lane's wake-up: expires every record due by `now`.
    fn on_lane_timeout(&mut self, now: SimTime) {
        if now < self.tw_lane_requested {
            // Superseded by an earlier wake-up, which has already rescheduled the lane.
            return;
        }
        self.tw_lane_requested = SimTime::MAX;
        while let Some((j, at)) = self.lane_head() {
            if at > now {
                // The new head's wake-up (`request_lane_wakeup` with nothing outstanding),
                // asked for with the head in hand rather than by looking it up again.
                self.tw_lane_requested = at;
                self.out.events.push_back(HostEvent::Timer {
                    token: LANE_TOKEN,
                    at,
                });
                return;
            }
            self.tw_lane.pop_front();
            self.tw_lane_base = at;
            let rec = &self.tw[j as usize];
            // Gone (reopened, killed by RST) or restarted (a later entry covers it). A reused
            // record with the very same expiry is due now anyway.
            if rec.conn & TW_LIVE == 0 || rec.expires_at != at {
                continue;
            }
            let conn = ConnId {
                index: rec.conn & IDX_MASK,
                gen: rec.gen,
            };
            self.expire_time_wait(now, j, conn);
        }
        // The lane is empty: nothing to wake up for.
    }

    /// The tag of live record `j`'s connection.
    #[inline]
    fn tw_tag(&self, j: u32) -> u64 {
        let inc = self.tw[j as usize].incarnation as u64;
        if self.tw_odd_tags.is_empty() {
            return inc;
        }
        self.tw_odd_tags.get(&j).copied().unwrap_or(inc)
    }

    /// TIME-WAIT record `j`'s timer, if it is due: report the close and free it. Inlined
    /// with what it calls (`time_wait_timeout`, `release_tw`) into the lane's wake-up, which
    /// runs it once per connection.
    #[inline(always)]
    fn expire_time_wait(&mut self, now: SimTime, j: u32, conn: ConnId) -> bool {
        let tag = self.tw_tag(j);
        let core = self.tw[j as usize].core();
        let mut sink = host_sink!(self, conn, tag);
        let expired = time_wait_timeout(&core, now, &mut sink);
        if expired {
            self.release_tw(j);
        }
        expired
    }

    /// The id of the connection TIME-WAIT record `j` belongs to, if the record is live.
    fn tw_conn(&self, j: u32) -> Option<ConnId> {
        let rec = self.tw.get(j as usize)?;
        (rec.conn & TW_LIVE != 0).then_some(ConnId {
            index: rec.conn & IDX_MASK,
            gen: rec.gen,
        })
    }

    #[inline(always)]
    fn release_tw(&mut self, j: u32) {
        let rec = self.tw[j as usize];
        let v = TW_BIT | j;
        // Straight from the record's bucket hint when it still holds the entry (the table
        // moves entries only when it grows), else by hash.
        let b = rec.demux_bucket as usize;
        if self.demux.get_bucket(b) == Some(&v) {
            if let Ok(e) = self.demux.get_bucket_entry(b) {
                e.remove();
            }
        } else {
            self.demux_remove(rec.key, v);
        }
        if rec.conn & TW_ACTIVE != 0 {
            self.release_port(key_remote(rec.key));
        }
        if !self.tw_odd_tags.is_empty() {
            self.tw_odd_tags.remove(&j);
        }
        if !self.tw_oow_ack_ms.is_empty() {
            self.tw_oow_ack_ms.remove(&j);
        }
        let r = &mut self.tw[j as usize];
        r.conn = 0;
        r.key = self.free_tw as u64;
        self.free_tw = j;
        self.tw_live -= 1;
    }

    /// Runs an application call on a live connection; ignored (and counted) otherwise.
    fn app_call(
        &mut self,
        now: SimTime,
        conn: ConnId,
        f: impl FnOnce(&mut Tcb, &mut HostSink<'_>),
    ) {
        match self.slots.get_mut(conn.index as usize) {
            // An unaccepted connection of a Manual listener is not the application's yet.
            Some(slot) if slot.live && slot.gen == conn.gen && slot.lq & LQ_MANUAL == 0 => {
                let mut sink = host_sink!(self, conn, slot.tag);
                f(&mut slot.tcb, &mut sink);
                // A close with nothing left to send: its FIN, taken inlined (see
                // `Tcb::take_fin`); `flush` then finds nothing more due.
                if let Some(fin) = slot.tcb.take_fin(&self.cfg, now) {
                    self.out.stats.segments_sent += 1;
                    self.tx.push_back(fin);
                    // The FIN is all there was to send, and leaves the connection in a
                    // synchronized state short of TIME-WAIT (FIN-WAIT-1, LAST-ACK or CLOSING).
                    if slot.lq == 0 {
                        self.flush_after_last_segment(conn.index, now);
                        return;
                    }
                }
                self.flush(conn.index, now);
            }
            _ => self.out.stats.ignored_app_calls += 1,
        }
    }

    /// Queues `bytes` of application data on `conn`.
    pub fn send(&mut self, now: SimTime, conn: ConnId, bytes: u64) {
        self.app_call(now, conn, |t, s| t.send(bytes, s));
    }
    /// `send` then `close` in one call: the FIN rides on the last data segment, as when an
    /// application writes its last bytes and closes before the stack transmits them.
    pub fn send_and_close(&mut self, now: SimTime, conn: ConnId, bytes: u64) {
        self.app_call(now, conn, |t, s| {
            t.send(bytes, s);
            t.close(s);
        });
    }
    /// Application close of `conn`: FIN after the queued data.
    pub fn close(&mut self, now: SimTime, conn: ConnId) {
        self.app_call(now, conn, |t, s| t.close(s));
    }
    /// Application abort of `conn`: RST, CLOSED.
    pub fn abort(&mut self, now: SimTime, conn: ConnId) {
        self.app_call(now, conn, |t, s| t.abort(s));
    }

    /// A segment arrives from the network.
    pub fn handle_segment(&mut self, now: SimTime, seg: &Segment) {
        self.out.stats.segments_received += 1;
        if seg.dst.ip != self.ip {
            self.out.stats.misaddressed += 1;
            return;
        }
        let i = match self.hinted_slot(seg) {
            Some(i) => i,
            None => match self.demux_segment(now, seg) {
                Some(i) => {
                    // The hint missed: a later connection took the entry, or the segment's
                    // incarnation is not the connection's. Put it back for the connection's own.
                    self.by_incarnation
                        [self.slots[i as usize].tcb.incarnation as usize % HINT_LEN] = i;
                    i
                }
                None => return,
            },
        };
        if self.slots[i as usize].lq & (LQ_SYN | LQ_MANUAL) == LQ_SYN | LQ_MANUAL
            && self.handshake_ack_overflows(i, seg)
        {
            return;
        }
        // The hint names slot `i` already (above).
        self.input_and_flush(i, now, false, |tcb, cfg, sink| {
            tcb.handle_segment(cfg, now, seg, sink)
        });
    }

    /// The live slot `by_incarnation` names for `seg`, if it holds `seg`'s 4-tuple.
    #[inline(always)]
    fn hinted_slot(&self, seg: &Segment) -> Option<u32> {
        let i = self.by_incarnation[seg.incarnation as usize % HINT_LEN];
        let slot = self.slots.get(i as usize)?;
        let t = &slot.tcb;
        let hit = slot.live && t.local.port == seg.dst.port && t.remote == seg.src;
        debug_assert!(
            !hit || self.demux_get(conn_key(seg.dst.port, seg.src)) == Some(i),
            "a live slot's 4-tuple without its demux entry"
        );
        hit.then_some(i)
    }

    /// A hint that `seg` will be handled soon: starts loading into the cache the slot of
    /// the connection that last had its incarnation (the one `handle_segment` looks at
    /// first), and returns that slot's index, the [`TimerToken::slot`] of its wake-ups, so
    /// that a driver can prefetch what it keeps by slot too. Changes nothing.
    ///
    /// A driver knows its segments a link delay before it hands them over: by then the
    /// connection's state has usually left the cache (bench-a keeps ~5,000 connections in
    /// their handshake or teardown, ~2.5 MB of state), and a load that misses stalls the
    /// handling for as long as the rest of it takes.
    #[inline]
    pub fn prefetch_for(&self, seg: &Segment) -> Option<u32> {
        let i = self.by_incarnation[seg.incarnation as usize % HINT_LEN];
        crate::hint::prefetch(self.slots.get(i as usize)?);
        Some(i)
    }

    /// `seg` through the demux table: the live slot it is for, or `None` once a TIME-WAIT
    /// record, a listener or the RST for no connection has taken it.
    #[inline(always)]
    fn demux_segment(&mut self, now: SimTime, seg: &Segment) -> Option<u32> {
        let key = conn_key(seg.dst.port, seg.src);
        let hash = demux_hash(key);
        match self.demux_find(key, hash) {
            Some(v) if v & TW_BIT != 0 => {
                let j = v & !TW_BIT;
                let rec = &self.tw[j as usize];
                let conn = ConnId {
                    index: rec.conn & IDX_MASK,
                    gen: rec.gen,
                };
                self.on_time_wait(now, j, conn, seg);
                None
            }
            Some(i) => Some(i),
            None if self.is_listening(seg.dst.port) => {
                self.on_listener(now, seg, hash, None, false);
                None
            }
            None => {
                self.out.stats.segments_no_connection += 1;
                self.reply_reset(seg);
                None
            }
        }
    }

    fn reply_reset(&mut self, seg: &Segment) {
        if let Some(r) = reset_for(seg) {
            self.out.stats.segments_sent += 1;
            self.out.stats.rst_sent += 1;
            self.tx.push_back(r);
        }
    }

    /// Would `seg` establish SYN-RECEIVED connection `i` of a Manual listener whose accept
    /// queue is full? Then Linux (`tcp_check_req`, `syn_recv_sock` failing on
    /// `sk_acceptq_is_full`, with `tcp_abort_on_overflow = 0`) drops it, data and FIN included,
    /// and leaves the connection in SYN-RECEIVED: the SYN-ACK is retransmitted on its timer and
    /// the peer's answering ACK tries again.
    fn handshake_ack_overflows(&mut self, i: u32, seg: &Segment) -> bool {
        let tcb = &self.slots[i as usize].tcb;
        let full = self
            .listener_index(tcb.local.port)
            .is_some_and(|l| self.listeners[l].accept_queue_full(&self.cfg));
        let drop = full && tcb.completes_handshake(&self.cfg, seg);
        if drop {
            self.out.stats.accept_queue_overflows += 1;
        }
        drop
    }

    /// RFC 9293 §3.10.7.2, LISTEN, with the listen queue of Linux `tcp_conn_request` and
    /// `cookie_v4_check`. `iss` is given when a SYN reopens a TIME-WAIT 4-tuple under
    /// `tw_reopen = "linux"`; `reopened` is true for any SYN coming from TIME-WAIT.
    /// `hash` is the demux hash of the segment's 4-tuple.
    fn on_listener(
        &mut self,
        now: SimTime,
        seg: &Segment,
        hash: u64,
        iss: Option<SeqNum>,
        reopened: bool,
    ) {
        let f = seg.flags;
        let Some(l) = self.listener_index(seg.dst.port) else {
            // Callers check `is_listening`; a bitmap bit always has its record.
            self.out.stats.unexpected_segments += 1;
            return;
        };
        if f.contains(Flags::RST) {
            // First: a RST to a listener is ignored.
            self.out.stats.unexpected_segments += 1;
        } else if f.contains(Flags::ACK) {
            // Linux tries a cookie on any ACK without SYN before the RFC's rule.
            if !f.contains(Flags::SYN) && self.on_cookie_ack(now, l, seg, hash) {
                return;
            }
            // Second: any other ACK is bad here: <SEQ=SEG.ACK><CTL=RST>.
            self.out.stats.unexpected_segments += 1;
            self.reply_reset(seg);
        } else if !f.contains(Flags::SYN) {
            // Fourth: anything else is dropped.
            self.out.stats.unexpected_segments += 1;
        } else {
            self.on_syn(now, l, seg, hash, iss, reopened);
        }
    }

    /// Third step of LISTEN, a SYN, through the admission checks of Linux `tcp_conn_request`,
    /// in its order. A SYN from TIME-WAIT skips the SYN-queue checks, as in Linux (they
    /// apply only `if (!isn)`, and the TIME-WAIT path passes an ISN).
    fn on_syn(
        &mut self,
        now: SimTime,
        l: usize,
        seg: &Segment,
        hash: u64,
        iss: Option<SeqNum>,
        reopened: bool,
    ) {
        let cookies = self.cfg.syn_cookies;
        let listener = &self.listeners[l];
        // `inet_csk_reqsk_queue_is_full`: the SYN queue is full at `sk_max_ack_backlog`
        // (the accept backlog) entries; `tcp_syncookies = 2` sends cookies regardless.
        let mut want_cookie = false;
        if !reopened
            && (cookies == SynCookies::Always || listener.syn_queued >= self.cfg.accept_backlog)
        {
            // `tcp_syn_flood_action`: a cookie if enabled, else drop.
            if cookies == SynCookies::Off {
                self.out.stats.syn_dropped_queue_full += 1;
                return;
            }
            want_cookie = true;
        }
        // `sk_acceptq_is_full`: no room for the connection even if it completes.
        if listener.accept_queue_full(&self.cfg) {
            self.out.stats.accept_queue_overflows += 1;
            return;
        }
        if want_cookie {
            self.send_cookie(now, l, seg);
            return;
        }
        // "Kill the following clause, if you dislike this way": without cookies, the last
        // quarter of `tcp_max_syn_backlog` is kept for peers proven alive (by TCP metrics
        // the model does not keep, so it is kept for nobody).
        let backlog = self.cfg.syn_backlog as i64;
        if !reopened
            && cookies == SynCookies::Off
            && backlog - (listener.syn_queued as i64) < backlog >> 2
        {
            self.out.stats.syn_dropped_syn_backlog += 1;
            return;
        }
        // Text and FIN on the SYN are not kept; the peer sends them again.
        let Some(conn) = self.next_slot() else {
            self.out.stats.unexpected_segments += 1;
            return;
        };
        let iss = match iss {
            Some(iss) => iss,
            None => self.next_isn(now, seg.dst, seg.src),
        };
        self.open_passive(conn, seg, hash, |cfg, init, sink| {
            Tcb::accept(cfg, init, seg.dst, seg, iss, sink)
        });
        let listener = &mut self.listeners[l];
        listener.syn_queued += 1;
        self.out.stats.syn_queue_peak = self
            .out
            .stats
            .syn_queue_peak
            .max(listener.syn_queued as u64);
        self.slots[conn.index as usize].lq = match listener.mode {
            AcceptMode::Immediate => LQ_SYN,
            AcceptMode::Manual => LQ_SYN | LQ_MANUAL,
        };
        self.out.stats.passive_opens += 1;
        self.flush_opened(conn.index, now);
    }

    /// A stateless SYN-ACK whose ISS is the cookie (Linux `cookie_v4_init_sequence`, which
    /// also stamps the listener, `tcp_synq_overflow`). It carries our MSS; the peer's is in
    /// the cookie, rounded down to an entry of [`syncookie::COOKIE_MSS`].
    fn send_cookie(&mut self, now: SimTime, l: usize, syn: &Segment) {
        let cookie = syncookie::encode(self.cookie_key, now, syn.dst, syn.src, syn.seq, syn.mss);
        self.listeners[l].last_cookie_at = Some(now);
        self.out.stats.syn_cookies_sent += 1;
        self.out.stats.segments_sent += 1;
        self.tx.push_back(Segment {
            src: syn.dst,
            dst: syn.src,
            seq: cookie,
            ack: syn.seq + 1,
            flags: Flags::SYN | Flags::ACK,
            window: self.cfg.window,
            mss: self.cfg.mss,
            payload_len: 0,
            incarnation: syn.incarnation,
        });
    }

    /// An ACK (no SYN, no RST) to listener `l` matching no connection: Linux
    /// `cookie_v4_check`. Returns true if it was taken (a connection made, or dropped for a
    /// full accept queue); false sends it on to the RFC's RST.
    fn on_cookie_ack(&mut self, now: SimTime, l: usize, seg: &Segment, hash: u64) -> bool {
        if self.cfg.syn_cookies == SynCookies::Off {
            return false;
        }
        // `tcp_synq_no_recent_overflow`: no cookie went out in the last TCP_SYNCOOKIE_VALID
        // (2 periods = 2 minutes), so none can be valid; not even checked (nor counted).
        let valid_for = COOKIE_PERIOD.saturating_mul(COOKIE_MAX_AGE as u64);
        let recent = self.listeners[l]
            .last_cookie_at
            .is_some_and(|t| now < t + valid_for);
        if !recent {
            return false;
        }
        let Some(mss) = syncookie::decode_ack(self.cookie_key, now, seg) else {
            self.out.stats.syn_cookies_failed += 1;
            return false;
        };
        self.out.stats.syn_cookies_validated += 1;
        if self.listeners[l].accept_queue_full(&self.cfg) {
            // `tcp_v4_syn_recv_sock` -> exit_overflow. No state was kept, so nothing is
            // retransmitted: the peer's next segment (its data, or the ACK of a
            // retransmitted request) carries the same cookie and tries again.
            self.out.stats.accept_queue_overflows += 1;
            return true;
        }
        let Some(conn) = self.next_slot() else {
            self.out.stats.unexpected_segments += 1;
            return true;
        };
        self.open_passive(conn, seg, hash, |cfg, init, sink| {
            Tcb::accept_cookie(cfg, init, now, seg.dst, seg, mss, sink)
        });
        if self.listeners[l].mode == AcceptMode::Manual {
            self.join_accept_queue(l, conn);
        }
        self.out.stats.passive_opens += 1;
        self.flush(conn.index, now);
        true
    }

    /// A passive connection `conn` for `seg` (a SYN, or an ACK carrying a valid cookie):
    /// announced as [`HostEvent::Incoming`] before its own events, tagged with the segment's
    /// incarnation, and installed with the TCB `make` builds.
    fn open_passive(
        &mut self,
        conn: ConnId,
        seg: &Segment,
        hash: u64,
        make: impl FnOnce(&TcpConfig, TcbInit, &mut HostSink<'_>) -> Tcb,
    ) {
        let tag = seg.incarnation as u64;
        self.out.events.push_back(HostEvent::Incoming {
            conn,
            tag,
            peer: seg.src,
        });
        let tcb = make(&self.cfg, self.tcb_init, &mut host_sink!(self, conn, tag));
        self.install(conn, tcb, tag, hash);
    }

    /// A segment for a TIME-WAIT record: the same function as an endpoint in TIME-WAIT.
    fn on_time_wait(&mut self, now: SimTime, j: u32, conn: ConnId, seg: &Segment) {
        let tag = self.tw_tag(j);
        let listening = self.is_listening(seg.dst.port);
        let rec = &mut self.tw[j as usize];
        let mut core = rec.core();
        // Few records ever answer a loop-prone segment: their last answer is kept apart.
        let mut oow_ack_ms = if self.tw_oow_ack_ms.is_empty() {
            0
        } else {
            self.tw_oow_ack_ms.get(&j).copied().unwrap_or(0)
        };
        let last_oow_ack_ms = oow_ack_ms;
        let mut sink = host_sink!(self, conn, tag);
        let verdict = time_wait_segment(
            &mut core,
            &self.cfg,
            now,
            seg,
            listening,
            &mut oow_ack_ms,
            &mut sink,
        );
        if oow_ack_ms != last_oow_ack_ms {
            self.tw_oow_ack_ms.insert(j, oow_ack_ms);
        }
        let restarted = core.expires_at != rec.expires_at;
        rec.expires_at = core.expires_at;
        match verdict {
            TwVerdict::Stay { ack } => {
                if restarted {
                    self.schedule_time_wait(conn, j, core.expires_at);
                }
                let rec = &self.tw[j as usize];
                if ack {
                    let local = Addr {
                        ip: self.ip,
                        port: key_local_port(rec.key),
                    };
                    let a = time_wait_ack(&core, &self.cfg, local, seg.src);
                    self.out.stats.segments_sent += 1;
                    self.tx.push_back(a);
                }
            }
            TwVerdict::Closed { reopen } => {
                self.release_tw(j);
                if reopen {
                    // Only with a listener (`listening` above): it takes the SYN. Linux
                    // numbers the new connection past the old one; RFC 6191 relies on the
                    // ISN generator (RFC 9293 §3.6.1 asks for an ISS above the old SND.NXT,
                    // which only a clock-driven generator gives).
                    self.out.stats.time_wait_reopened += 1;
                    let iss = (self.cfg.tw_reopen == TwReopen::Linux)
                        .then(|| core.snd_nxt + TW_REOPEN_ISS_OFFSET);
                    let hash = demux_hash(conn_key(seg.dst.port, seg.src));
                    self.on_listener(now, seg, hash, iss, true);
                }
            }
        }
    }

    /// A wake-up requested by [`HostEvent::Timer`] is due. Early, repeated or stale tokens do
    /// nothing harmful.
    pub fn handle_timeout(&mut self, now: SimTime, token: TimerToken) {
        if token.tw == TW_LANE {
            self.on_lane_timeout(now);
            return;
        }
        if token.tw != NONE {
            match self.tw_conn(token.tw) {
                // A record off the lane: a restart scheduled the later expiry already.
                Some(conn) if conn == token.conn => {
                    self.expire_time_wait(now, token.tw, conn);
                }
                _ => self.out.stats.stale_timer_tokens += 1,
            }
            return;
        }
        let conn = token.conn;
        match self.slots.get_mut(conn.index as usize) {
            Some(slot) if slot.live && slot.gen == conn.gen => {
                if now < slot.requested {
                    // An earlier wake-up superseded this one and is still the one that counts.
                    return;
                }
                slot.requested = SimTime::MAX;
                if slot.lq & LQ_SYN != 0 {
                    self.syn_queue_timeout(conn, now);
                    return;
                }
                let mut sink = host_sink!(self, conn, slot.tag);
                slot.tcb.handle_timeout(&self.cfg, now, &mut sink);
                self.flush(conn.index, now);
            }
            _ => self.out.stats.stale_timer_tokens += 1,
        }
    }

    /// [`handle_timeout`](Self::handle_timeout) of `conn`, a passive connection in its
    /// listener's SYN queue (so in SYN-RECEIVED): its SYN-ACK retry limit may be lowered for a
    /// crowded queue, and its first retransmission makes it old. Out of line: a connection
    /// whose handshake completes in time never gets here.
    #[cold]
    #[inline(never)]
    fn syn_queue_timeout(&mut self, conn: ConnId, now: SimTime) {
        let i = conn.index as usize;
        let configured = self.cfg.synack_retries;
        let l = self.listener_index(self.slots[i].tcb.local.port);
        let limit = match l {
            Some(l) if self.cfg.syn_queue_prune => {
                let q = &self.listeners[l];
                pruned_synack_retries(
                    configured,
                    q.syn_queued,
                    q.syn_queued.saturating_sub(q.syn_old),
                    self.cfg.accept_backlog,
                )
            }
            _ => configured,
        };
        let slot = &mut self.slots[i];
        let before = slot.tcb.retransmissions();
        let mut sink = host_sink!(self, conn, slot.tag);
        slot.tcb
            .handle_timeout_limited(&self.cfg, now, limit, &mut sink);
        if slot.tcb.state == State::Closed {
            // Out of retries: under the configured limit only because of the pruning.
            if before >= limit && before < configured.min(MAX_RETRIES) {
                self.out.stats.syn_queue_pruned += 1;
            }
        } else if slot.lq & LQ_OLD == 0 && slot.tcb.retransmissions() > 0 {
            slot.lq |= LQ_OLD;
            if let Some(l) = l {
                self.listeners[l].syn_old += 1;
            }
        }
        self.flush(conn.index, now);
    }

    /// Next segment to put on the network.
    pub fn poll_transmit(&mut self) -> Option<Segment> {
        self.tx.pop_front()
    }

    /// Next event, oldest first.
    pub fn poll_event(&mut self) -> Option<HostEvent> {
        self.out.events.pop_front()
    }

    /// The `i`-th segment [`poll_transmit`](Self::poll_transmit) would return (0: the next),
    /// without taking it. A driver that sends every segment queued reads them with this, in
    /// order, then takes them all with [`clear_transmit`](Self::clear_transmit): one pass
    /// and one reset, where `poll_transmit` moves the queue's front once per segment.
    #[inline]
    pub fn queued_segment(&self, i: usize) -> Option<Segment> {
        self.tx.get(i)
    }

    /// Takes every queued segment, as if `poll_transmit` were called until it returned `None`.
    #[inline]
    pub fn clear_transmit(&mut self) {
        self.tx.clear();
    }

    /// The `i`-th event [`poll_event`](Self::poll_event) would return (0: the next), without
    /// taking it. Events queued while the driver handles earlier ones (by calling into the
    /// host) are appended, so reading with growing `i` until `None` sees exactly what
    /// `poll_event` would return until `None`; then [`clear_events`](Self::clear_events)
    /// takes them all.
    #[inline]
    pub fn queued_event(&self, i: usize) -> Option<HostEvent> {
        self.out.events.get(i)
    }

    /// Takes every queued event, as if `poll_event` were called until it returned `None`.
    #[inline]
    pub fn clear_events(&mut self) {
        self.out.events.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruned_synack_retries_reserves_half_of_the_queue_for_young_entries() {
        // At most half of max(8, backlog): the configured limit.
        assert_eq!(pruned_synack_retries(5, 128, 0, 256), 5);
        assert_eq!(pruned_synack_retries(5, 4, 0, 1), 5);
        // More than half: one retry off per doubling of 2 * young that stays <= qlen.
        assert_eq!(pruned_synack_retries(5, 129, 65, 256), 5);
        assert_eq!(pruned_synack_retries(5, 193, 30, 256), 3); // 60, 120 <= 193 < 240
        assert_eq!(pruned_synack_retries(5, 193, 49, 256), 4); // 98 <= 193 < 196
        assert_eq!(pruned_synack_retries(5, 5, 0, 1), 2);
        // Never below 2, and never raised.
        assert_eq!(pruned_synack_retries(5, 1000, 0, 256), 2);
        assert_eq!(pruned_synack_retries(1, 1000, 0, 256), 1);
        // No overflow at the extremes.
        assert_eq!(pruned_synack_retries(127, u32::MAX, 1, 8), 127 - 31); // 2, 4, ..., 2^31
        assert_eq!(
            pruned_synack_retries(127, u32::MAX, u32::MAX, u32::MAX),
            127
        );
    }

    #[test]
    fn keys_round_trip() {
        let r = Addr::new(0xdead_beef, 4321);
        let k = conn_key(40000, r);
        assert_eq!(key_remote(k), r);
        assert_eq!(key_local_port(k), 40000);
        assert_ne!(conn_key(40001, r), k);
    }

    /// A driver that takes one item per item queued, never emptying the queue, keeps it at
    /// its backlog's size; taking everything resets it; order is first in, first out.
    #[test]
    fn fifo_stays_bounded_when_never_drained() {
        let mut q = Fifo::new();
        q.push_back(0u32);
        q.push_back(1);
        for i in 2..100_000u32 {
            q.push_back(i);
            assert_eq!(q.pop_front(), Some(i - 2));
        }
        // 100k items went through a two-item backlog: without compaction the Vec would hold
        // them all; with it, the taken items make room whenever the Vec is full, so it
        // stays at a few times the backlog.
        assert!(q.items.capacity() <= 64, "grew to {}", q.items.capacity());
        assert_eq!(q.pop_front(), Some(99_998));
        assert_eq!(q.pop_front(), Some(99_999));
        assert_eq!(q.pop_front(), None);
        assert_eq!((q.items.len(), q.head), (0, 0));
    }
}

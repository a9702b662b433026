//! Connection states, the events a connection reports, and their counters.

use std::fmt;

/// Connection states of RFC 9293 §3.3.2.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum State {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

impl State {
    pub const ALL: [State; 11] = [
        State::Closed,
        State::Listen,
        State::SynSent,
        State::SynReceived,
        State::Established,
        State::FinWait1,
        State::FinWait2,
        State::CloseWait,
        State::Closing,
        State::LastAck,
        State::TimeWait,
    ];

    /// The RFC's spelling: `SYN-SENT`, `FIN-WAIT-1`, `TIME-WAIT`.
    pub const fn rfc_name(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Listen => "LISTEN",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECEIVED",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
        }
    }

    /// A snake_case name for CSV columns: `syn_sent`, `fin_wait_1`, `time_wait`.
    pub const fn name(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Listen => "listen",
            State::SynSent => "syn_sent",
            State::SynReceived => "syn_received",
            State::Established => "established",
            State::FinWait1 => "fin_wait_1",
            State::FinWait2 => "fin_wait_2",
            State::CloseWait => "close_wait",
            State::Closing => "closing",
            State::LastAck => "last_ack",
            State::TimeWait => "time_wait",
        }
    }

    /// Position in [`State::ALL`], for per-state arrays.
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rfc_name())
    }
}

/// What a connection reports to its application and to observers, in the order it happened.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event {
    StateChanged {
        from: State,
        to: State,
    },
    /// The connection reached ESTABLISHED (either side).
    Connected,
    /// New in-order payload bytes delivered to the application.
    Received {
        bytes: u32,
    },
    /// The peer's FIN was accepted: end of its data.
    PeerFin,
    /// A segment is being sent again. `Syn`/`SynAck`/`Data`/`Fin` says what.
    Retransmit {
        kind: RtxKind,
    },
    /// The connection accepted a segment whose `incarnation` is not its own: an old duplicate
    /// from an earlier instance of the same 4-tuple got in. At most one per segment, with the
    /// most serious kind: Rst, Syn, Data, Fin, Ack.
    StaleAccepted {
        kind: StaleKind,
    },
    /// The connection reached CLOSED; always the last event of a connection.
    Closed {
        reason: CloseReason,
    },
}

/// What was retransmitted.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum RtxKind {
    Syn,
    SynAck,
    /// A segment carrying data (with or without FIN).
    Data,
    /// A FIN without new data.
    Fin,
}

/// What kind of stale segment was accepted.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum StaleKind {
    /// Payload accepted as in-order data.
    Data,
    /// FIN accepted (or a retransmitted FIN that restarted TIME-WAIT).
    Fin,
    /// An ACK that advanced SND.UNA.
    Ack,
    /// A RST that closed the connection.
    Rst,
    /// A SYN accepted in SYN-SENT.
    Syn,
}

/// Why a connection reached CLOSED.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum CloseReason {
    /// LAST-ACK got the ACK of its FIN, or TIME-WAIT expired.
    Normal,
    /// An acceptable RST arrived (outside TIME-WAIT).
    Reset,
    /// SYN-SENT ran out of `syn_retries`.
    ConnectTimeout,
    /// SYN-RECEIVED ran out of `synack_retries` (or, after a simultaneous open, `syn_retries`).
    HandshakeTimeout,
    /// Data or FIN ran out of `retries2`.
    RetriesExceeded,
    /// The application aborted (or closed while still in SYN-SENT, RFC 9293 §3.10.4).
    Aborted,
    /// A RST, or a SYN that reopened the 4-tuple, ended TIME-WAIT early.
    TimeWaitKilled,
    /// An orphaned connection waited `fin_timeout` in FIN-WAIT-2 for the peer's FIN and was
    /// dropped silently (Linux `tcp_fin_timeout`).
    FinWait2Timeout,
}

macro_rules! named_enum {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            pub const ALL: &'static [$t] = &[$(<$t>::$v),*];
            /// snake_case name for CSV.
            pub const fn name(self) -> &'static str {
                match self { $(<$t>::$v => $s),* }
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}
named_enum!(RtxKind { Syn => "syn", SynAck => "syn_ack", Data => "data", Fin => "fin" });
named_enum!(StaleKind { Data => "data", Fin => "fin", Ack => "ack", Rst => "rst", Syn => "syn" });
named_enum!(CloseReason {
    Normal => "normal",
    Reset => "reset",
    ConnectTimeout => "connect_timeout",
    HandshakeTimeout => "handshake_timeout",
    RetriesExceeded => "retries_exceeded",
    Aborted => "aborted",
    TimeWaitKilled => "time_wait_killed",
    FinWait2Timeout => "fin_wait_2_timeout",
});

/// Retransmissions by kind.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct RtxCounts {
    pub syn: u64,
    pub syn_ack: u64,
    pub data: u64,
    pub fin: u64,
}
impl RtxCounts {
    pub fn get(&self, k: RtxKind) -> u64 {
        match k {
            RtxKind::Syn => self.syn,
            RtxKind::SynAck => self.syn_ack,
            RtxKind::Data => self.data,
            RtxKind::Fin => self.fin,
        }
    }
    pub(crate) fn add(&mut self, k: RtxKind) {
        let c = match k {
            RtxKind::Syn => &mut self.syn,
            RtxKind::SynAck => &mut self.syn_ack,
            RtxKind::Data => &mut self.data,
            RtxKind::Fin => &mut self.fin,
        };
        *c += 1;
    }
    pub fn total(&self) -> u64 {
        self.syn + self.syn_ack + self.data + self.fin
    }
}

/// Stale segments accepted, by kind.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct StaleCounts {
    pub data: u64,
    pub fin: u64,
    pub ack: u64,
    pub rst: u64,
    pub syn: u64,
}
impl StaleCounts {
    pub fn get(&self, k: StaleKind) -> u64 {
        match k {
            StaleKind::Data => self.data,
            StaleKind::Fin => self.fin,
            StaleKind::Ack => self.ack,
            StaleKind::Rst => self.rst,
            StaleKind::Syn => self.syn,
        }
    }
    pub(crate) fn add(&mut self, k: StaleKind) {
        let c = match k {
            StaleKind::Data => &mut self.data,
            StaleKind::Fin => &mut self.fin,
            StaleKind::Ack => &mut self.ack,
            StaleKind::Rst => &mut self.rst,
            StaleKind::Syn => &mut self.syn,
        };
        *c += 1;
    }
    pub fn total(&self) -> u64 {
        self.data + self.fin + self.ack + self.rst + self.syn
    }
}

/// Connections closed, by reason.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct CloseCounts {
    counts: [u64; CloseReason::ALL.len()],
}
impl CloseCounts {
    pub fn get(&self, r: CloseReason) -> u64 {
        self.counts[r as usize]
    }
    pub(crate) fn add(&mut self, r: CloseReason) {
        self.counts[r as usize] += 1;
    }
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Things a connection does without an event of their own, for the counters.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Note {
    /// A segment dropped, or answered with an ACK or RST, without being accepted.
    Unexpected,
    /// An RFC 5961 challenge ACK (in-window RST or SYN).
    ChallengeAck,
    /// Data, or a FIN without data, beyond RCV.NXT (kept in the out-of-order record or
    /// dropped).
    OutOfOrder,
    /// The peer's FIN came beyond a gap and is held until the data before it arrives.
    FinHeld,
    /// `send` or `close` when the connection can no longer do it.
    IgnoredAppCall,
    /// An ACK owed to an unacceptable segment (or a challenge ACK) not sent: another went to
    /// the same connection less than [`OOW_ACK_INTERVAL`](crate::OOW_ACK_INTERVAL) ago.
    AckRateLimited,
}

/// Per-connection counters of a standalone [`crate::Endpoint`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct EndpointStats {
    /// Segments dropped, or answered with an ACK or RST, without being accepted.
    pub unexpected_segments: u64,
    /// RFC 5961 challenge ACKs sent.
    pub challenge_acks: u64,
    /// Segments with data, or a FIN, beyond RCV.NXT.
    pub out_of_order: u64,
    /// FINs that arrived before data sent ahead of them and were held for it.
    pub fins_held: u64,
    /// `send`/`close` calls the state did not allow.
    pub ignored_app_calls: u64,
    /// ACKs owed to unacceptable segments, and challenge ACKs, not sent because of the
    /// [`OOW_ACK_INTERVAL`](crate::OOW_ACK_INTERVAL) rate limit.
    pub acks_rate_limited: u64,
    pub retransmits: RtxCounts,
    pub stale_accepted: StaleCounts,
    /// Events lost because the application did not call `poll_event` (the queue holds 16).
    pub events_dropped: u64,
}

impl EndpointStats {
    pub(crate) fn note(&mut self, n: Note) {
        match n {
            Note::Unexpected => self.unexpected_segments += 1,
            Note::ChallengeAck => self.challenge_acks += 1,
            Note::OutOfOrder => self.out_of_order += 1,
            Note::FinHeld => self.fins_held += 1,
            Note::IgnoredAppCall => self.ignored_app_calls += 1,
            Note::AckRateLimited => self.acks_rate_limited += 1,
        }
    }
    pub(crate) fn event(&mut self, e: &Event) {
        match *e {
            Event::Retransmit { kind } => self.retransmits.add(kind),
            Event::StaleAccepted { kind } => self.stale_accepted.add(kind),
            _ => {}
        }
    }
}

/// Where a connection's events and notes go: the standalone [`crate::Endpoint`]'s queue, or
/// the [`crate::Host`]'s, tagged.
pub(crate) trait Sink {
    fn event(&mut self, e: Event);
    fn note(&mut self, n: Note);
    /// The events of a state change: `StateChanged`, then `Connected` on reaching
    /// ESTABLISHED. A sink that counts or filters them can take the pair in one call
    /// instead of building and matching two events (a lifecycle makes about a dozen).
    fn state_changed(&mut self, from: State, to: State) {
        self.event(Event::StateChanged { from, to });
        if to == State::Established {
            self.event(Event::Connected);
        }
    }
}

/// The events of a state change, in one place for the endpoint and the TIME-WAIT record.
pub(crate) fn transition_events<S: Sink>(sink: &mut S, from: State, to: State) {
    sink.state_changed(from, to);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(State::SynSent.to_string(), "SYN-SENT");
        assert_eq!(State::FinWait2.name(), "fin_wait_2");
        for (i, s) in State::ALL.iter().enumerate() {
            assert_eq!(s.index(), i);
        }
        assert_eq!(CloseReason::TimeWaitKilled.to_string(), "time_wait_killed");
        assert_eq!(RtxKind::SynAck.name(), "syn_ack");
        assert_eq!(StaleKind::ALL.len(), 5);
        let mut c = CloseCounts::default();
        c.add(CloseReason::Aborted);
        assert_eq!((c.get(CloseReason::Aborted), c.total()), (1, 1));
        c.add(CloseReason::FinWait2Timeout);
        assert_eq!(c.get(CloseReason::FinWait2Timeout), 1);
        for (i, r) in CloseReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i, "CloseCounts indexes by discriminant");
        }
    }
}

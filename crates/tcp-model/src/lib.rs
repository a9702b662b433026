//! Sans-IO model of TCP connection management (RFC 9293).
//!
//! No clock, sockets or threads: the caller feeds segments, application calls and the
//! current time, and takes back segments to send, events, and deadlines. Two layers:
//!
//! - [`Endpoint`]: one connection (a TCB) and its state machine: handshake, data in
//!   MSS-sized segments within the peer's window, cumulative ACKs, FIN, RST, one
//!   retransmission timer (RFC 6298), TIME-WAIT.
//! - [`Host`]: listeners, ephemeral ports, demultiplexing by 4-tuple, compact TIME-WAIT
//!   records, and RSTs for segments that match nothing. This is what a simulator drives.
//!
//! Payload is a byte count, not bytes. Segments carry the sender's `incarnation` (not on the
//! wire) so that old duplicates accepted by a newer connection on the same 4-tuple can be
//! counted ([`Event::StaleAccepted`]).
//!
//! [`syncookie`] holds SYN cookies (RFC 4987 §3.6, the Linux encoding) as pure functions for
//! the host's listen queue.
//!
//! Everything is deterministic: the only randomness (ISNs, random port selection) comes from
//! the host's secret.

mod config;
pub mod demux;
mod endpoint;
mod event;
pub mod hint;
mod host;
mod isn;
pub mod syncookie;
mod tcb;
mod wire;

pub use config::{
    ConfigError, IsnPolicy, PortSelection, Profile, RstInTimeWait, RtoEstimator, SynCookies,
    TcpConfig, TwAcks, TwReopen, TwRestart, UnsentAck, MAX_BACKLOG, MAX_DELAYED_ACK, MAX_DURATION,
    MAX_MSS, MAX_QUICK_ACKS, MAX_RETRIES, MIN_MSS,
};
pub use endpoint::{Endpoint, EVENT_QUEUE_LEN, TCB_SIZE};
pub use event::{
    CloseCounts, CloseReason, EndpointStats, Event, RtxCounts, RtxKind, StaleCounts, StaleKind,
    State,
};
pub use host::{
    AcceptMode, ConnId, ConnectError, Host, HostEvent, HostStats, ListenError, ListenQueue,
    TimerToken, MAX_RESERVE, TIME_WAIT_RECORD_SIZE,
};
pub use isn::{isn_clock, isn_clock_with_tick, siphash24};
pub use sim_time::{SimDuration, SimTime};
pub use tcb::{DEFAULT_MSS, MIN_SND_MSS, OOW_ACK_INTERVAL, RTO_FALLBACK, TW_REOPEN_ISS_OFFSET};
pub use wire::{reset_for, Addr, Flags, Segment, SeqNum};

/// The README's example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

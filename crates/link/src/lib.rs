//! Per-direction network link model for tcpsim.
//!
//! A [`Link`] is a function from packet to [`Verdict`]: dropped (with a [`DropReason`]) or
//! delivered at an instant. It models propagation delay, jitter, Bernoulli and
//! Gilbert-Elliott loss, reordering, duplication, a finite-rate FIFO wire with a drop-tail
//! queue, a network maximum segment lifetime, and scripted [`Fault`]s that hit chosen
//! segments. It knows nothing of TCP beyond the flag bit layout in [`flags`].
//!
//! Determinism: a link draws only from the [`sim_core::SimRng`] it is given, a fixed number
//! of draws per packet ([`DRAWS_PER_PACKET`]), and iterates no hash map.

mod bandwidth;
mod config;
mod fault;
mod flagset;
mod link;

/// TCP flag bits in wire layout, so the link can match faults without depending on tcp-model.
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

pub use bandwidth::{Bandwidth, ParseBandwidthError, BANDWIDTH_UNITS, BANDWIDTH_UNITS_HELP};
pub use config::{
    ConfigError, GilbertElliott, LinkConfig, Outage, DEFAULT_DELAY, DEFAULT_MAX_LIFETIME,
    MAX_OUTAGES, MAX_QUEUE_LIMIT_PACKETS,
};
pub use fault::{Direction, Fault, FaultAction, PayloadMatch, MAX_FAULTS_PER_DIRECTION};
pub use flagset::{FlagSet, ParseFlagSetError, FLAG_NAMES, FLAG_SET_HELP};
pub use link::{DropReason, Link, LinkStats, PacketInfo, Verdict, DRAWS_PER_PACKET};

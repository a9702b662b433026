//! Scripted faults: deterministic drop / duplicate / delay of chosen segments.

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;

use crate::config::ConfigError;
use crate::{flags, FlagSet};

/// Which way a packet travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

impl Direction {
    pub const fn reverse(self) -> Direction {
        match self {
            Direction::ClientToServer => Direction::ServerToClient,
            Direction::ServerToClient => Direction::ClientToServer,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    Drop,
    Duplicate,
    Delay,
}

/// Filter on the TCP payload length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadMatch {
    Any,
    /// Zero payload bytes (pure ACK, SYN, FIN without data, RST).
    Empty,
    /// At least one payload byte.
    Data,
}

impl PayloadMatch {
    pub const fn matches(self, payload_len: u32) -> bool {
        match self {
            PayloadMatch::Any => true,
            PayloadMatch::Empty => payload_len == 0,
            PayloadMatch::Data => payload_len > 0,
        }
    }
}

fn one() -> u32 {
    1
}
fn any() -> PayloadMatch {
    PayloadMatch::Any
}

/// A scripted fault: act on the `nth` (1-based) segment, among the segments of one connection in
/// one direction that match the filters, and on the `count - 1` matching segments after it.
///
/// Segments are counted as they are offered to the link, before any random loss, and
/// retransmissions count like any other segment. Each fault counts independently, so two faults
/// with the same filters see the same numbering even if one of them drops segments.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub direction: Direction,
    /// Workload connection index; `None` = count separately in every connection.
    #[serde(default)]
    pub connection: Option<u64>,
    pub action: FaultAction,
    #[serde(default = "one")]
    pub nth: u32,
    #[serde(default = "one")]
    pub count: u32,
    /// Exact match on the flag byte, ignoring PSH (whose presence depends on the sender's
    /// buffering, not on the segment's role). `None` = any flags.
    #[serde(default)]
    pub flags: Option<FlagSet>,
    #[serde(default = "any")]
    pub payload: PayloadMatch,
    /// Only segments sent after this direction's sender had already sent a FIN.
    #[serde(default)]
    pub after_fin: bool,
    /// Extra delay; required iff `action = "delay"`.
    #[serde(default)]
    pub delay: Option<SimDuration>,
}

/// Upper bound on faults per link direction: every packet is checked against each of them.
pub const MAX_FAULTS_PER_DIRECTION: usize = 1024;

impl Fault {
    /// A fault with every filter open (any connection, flags and payload; nth = count = 1).
    pub fn new(direction: Direction, action: FaultAction) -> Fault {
        Fault {
            direction,
            connection: None,
            action,
            nth: 1,
            count: 1,
            flags: None,
            payload: PayloadMatch::Any,
            after_fin: false,
            delay: None,
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.nth == 0 {
            return Err(ConfigError::new(
                "nth",
                "must be at least 1 (1 = the first matching segment), got 0",
            ));
        }
        if self.count == 0 {
            return Err(ConfigError::new(
                "count",
                "must be at least 1 (the number of consecutive matching segments to act on), got 0",
            ));
        }
        if let Some(f) = self.flags {
            if f.0 & flags::PSH != 0 {
                return Err(ConfigError::new(
                    "flags",
                    format!("PSH is ignored when matching, so it must not appear in a fault's flags (got \"{f}\"); e.g. use \"ACK\" for \"PSH|ACK\""),
                ));
            }
        }
        match (self.action, self.delay) {
            (FaultAction::Delay, None) => Err(ConfigError::new(
                "delay",
                "is required when action = \"delay\" (e.g. delay = \"200ms\")",
            )),
            (FaultAction::Delay, Some(d)) if d.is_zero() => Err(ConfigError::new(
                "delay",
                "must be a positive duration (e.g. \"200ms\") when action = \"delay\", got 0s",
            )),
            (FaultAction::Drop | FaultAction::Duplicate, Some(_)) => Err(ConfigError::new(
                "delay",
                format!(
                    "is only used with action = \"delay\"; remove it or change action (now \"{}\")",
                    match self.action {
                        FaultAction::Drop => "drop",
                        _ => "duplicate",
                    }
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Whether a segment passes the filters (direction and `nth`/`count` aside).
    pub fn matches(&self, pkt: &crate::PacketInfo) -> bool {
        let conn_ok = match self.connection {
            Some(c) => c == pkt.conn,
            None => true,
        };
        let flags_ok = match self.flags {
            Some(f) => (f.0 & !flags::PSH) == (pkt.flags & !flags::PSH),
            None => true,
        };
        conn_ok
            && flags_ok
            && self.payload.matches(pkt.payload_len)
            && (!self.after_fin || pkt.after_fin)
    }
}

//! `timeseries.csv`: a run sampled every `[output] timeseries` of simulated time.
//!
//! Each sample holds how many connections each host has in each state at that instant
//! (TIME-WAIT records included) and how many segments the links carried and dropped since
//! the previous sample, so a user can watch a TIME-WAIT population build up to rate × 2MSL
//! (Little's law) or FIN-WAIT-2 connections pile up when a peer never closes.

use tcp_model::State;

/// The states sampled: every state a connection can be in (CLOSED and LISTEN are not).
pub const STATES: [State; 9] = {
    // `State::ALL` without its first two, CLOSED and LISTEN.
    let mut s = [State::Closed; 9];
    let mut i = 0;
    while i < s.len() {
        s[i] = State::ALL[i + 2];
        i += 1;
    }
    s
};

/// One sample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    pub time_ns: u64,
    /// Connections per state in `STATES` order: client, then server.
    pub in_state: [[u64; 9]; 2],
    pub segments_sent: u64,
    pub segments_dropped: u64,
}

/// The columns after `point`, the sweep columns and `replication`.
pub fn header() -> Vec<String> {
    let mut h = vec!["time_s".to_string()];
    for side in ["client", "server"] {
        for s in STATES {
            h.push(format!("{side}_{}", s.name()));
        }
    }
    h.push("segments_sent".into());
    h.push("segments_dropped".into());
    h
}

impl Sample {
    pub fn record(&self) -> Vec<String> {
        let mut r = vec![format!("{:.9}", self.time_ns as f64 / 1e9)];
        for side in &self.in_state {
            r.extend(side.iter().map(|n| n.to_string()));
        }
        r.push(self.segments_sent.to_string());
        r.push(self.segments_dropped.to_string());
        r
    }
}

/// Picks the sampled states out of a host's per-state counts.
pub fn pick(in_state: &[u64; 11]) -> [u64; 9] {
    STATES.map(|s| in_state[s as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_record_line_up() {
        let s = Sample {
            time_ns: 1_500_000_000,
            in_state: [[1; 9], [2; 9]],
            segments_sent: 7,
            segments_dropped: 1,
        };
        assert_eq!(header().len(), s.record().len());
        assert_eq!(header()[1], "client_syn_sent");
        assert_eq!(header()[18], "server_time_wait");
        assert_eq!(s.record()[0], "1.500000000");
    }
}

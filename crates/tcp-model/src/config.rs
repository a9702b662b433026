//! The `[tcp]` table of an experiment: every knob of the model, with Linux-like defaults.

use serde::{Deserialize, Serialize};
use sim_time::SimDuration;

/// Parameters of the TCP model. Every default cites where it comes from; durations are
/// written with units in TOML (`"200ms"`, `"2min"`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TcpConfig {
    /// MSS we advertise and the largest payload we send: 1460 = Ethernet MTU 1500 minus 20
    /// bytes of IPv4 and 20 of TCP header (RFC 9293 §3.7.1 defines the option; a peer that
    /// sends none is assumed to accept 536).
    pub mss: u16,
    /// Receive window we advertise: 65535, the largest without window scaling (RFC 7323 is
    /// not modelled). The application consumes data at once, so the window never shrinks.
    pub window: u16,
    /// RTO before any RTT sample: 1 s, RFC 6298 §2.1 and Linux `TCP_TIMEOUT_INIT`.
    pub rto_initial: SimDuration,
    /// Floor of the computed RTO: 200 ms, Linux `TCP_RTO_MIN` (RFC 6298 §2.4 says 1 s).
    pub rto_min: SimDuration,
    /// Ceiling of the RTO and its backoff: 120 s, Linux `TCP_RTO_MAX` (RFC 6298 §2.5 allows
    /// any maximum of at least 60 s).
    pub rto_max: SimDuration,
    /// SYN retransmissions before `connect` gives up: 6, Linux `net.ipv4.tcp_syn_retries`
    /// (with a 1 s initial RTO: retransmissions at 1, 3, 7, 15, 31, 63 s, failure at 127 s).
    pub syn_retries: u32,
    /// SYN-ACK retransmissions before a passive connection is dropped: 5, Linux
    /// `net.ipv4.tcp_synack_retries`.
    pub synack_retries: u32,
    /// Retransmissions of data or FIN before the connection is aborted: 15, Linux
    /// `net.ipv4.tcp_retries2` (Linux turns it into a time budget; here it is a count).
    pub retries2: u32,
    /// Maximum segment lifetime: 30 s, so TIME-WAIT = 2 MSL = 60 s = Linux
    /// `TCP_TIMEWAIT_LEN` (RFC 9293 §3.4.1 suggests an MSL of 2 minutes).
    pub msl: SimDuration,
    /// Inclusive range of local ports `connect` picks from: Linux
    /// `net.ipv4.ip_local_port_range` default, 32768..=60999.
    pub ephemeral_ports: [u16; 2],
    /// How `connect` picks a port; see [`PortSelection`].
    pub port_selection: PortSelection,
    /// How initial sequence numbers are chosen; see [`IsnPolicy`].
    pub isn: IsnPolicy,
    /// What a SYN to a 4-tuple in TIME-WAIT does; see [`TwReopen`].
    pub tw_reopen: TwReopen,
    /// What an acceptable RST does to TIME-WAIT; see [`RstInTimeWait`].
    pub rst_in_time_wait: RstInTimeWait,
}

/// Ephemeral port selection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PortSelection {
    /// One cursor for the host, advanced past each port used and wrapping at the top of the
    /// range (the classic BSD allocator).
    #[default]
    Sequential,
    /// RFC 6056 §3.3.1 (Algorithm 1): start at a random port, then probe upwards with wrap.
    Random,
}

/// Initial sequence number selection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IsnPolicy {
    /// RFC 6528: a 4 µs clock plus a keyed hash (SipHash-2-4, keyed by the host secret) of the
    /// 4-tuple, as Linux `secure_tcp_seq` does.
    #[default]
    Random,
    /// RFC 793 §3.3: the 4 µs clock alone, the same for every 4-tuple.
    Clock,
    /// Always 0: makes packet traces easy to read in tests.
    Zero,
}

/// What a SYN arriving for a 4-tuple in TIME-WAIT does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TwReopen {
    /// Linux `tcp_timewait_state_process`: a SYN (without ACK) whose SEG.SEQ is after
    /// RCV.NXT ends TIME-WAIT and goes on to the listener, which answers with ISS =
    /// SND.NXT + 65537; any other SYN is answered with an ACK.
    #[default]
    Linux,
    /// Never reopen: every SYN is answered with an ACK (RFC 9293 §3.10.7.4 with RFC 5961 §4).
    Refuse,
}

/// What a RST whose SEG.SEQ equals RCV.NXT does to TIME-WAIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RstInTimeWait {
    /// Ends TIME-WAIT at once (RFC 9293 §3.10.7.4; Linux with `tcp_rfc1337 = 0`, its default).
    #[default]
    Kill,
    /// Ignored, as RFC 1337 §3 recommends against "TIME-WAIT assassination".
    Ignore,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            mss: 1460,
            window: 65535,
            rto_initial: SimDuration::from_secs(1),
            rto_min: SimDuration::from_millis(200),
            rto_max: SimDuration::from_secs(120),
            syn_retries: 6,
            synack_retries: 5,
            retries2: 15,
            msl: SimDuration::from_secs(30),
            ephemeral_ports: [32768, 60999],
            port_selection: PortSelection::Sequential,
            isn: IsnPolicy::Random,
            tw_reopen: TwReopen::Linux,
            rst_in_time_wait: RstInTimeWait::Kill,
        }
    }
}

/// A `[tcp]` value out of range: `field` is the key inside `[tcp]`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConfigError {
    pub field: &'static str,
    pub message: String,
}

/// Smallest MSS accepted: Linux `TCP_MIN_MSS`.
pub const MIN_MSS: u16 = 88;
/// Largest MSS accepted: the IPv4 maximum, 65535 - 40.
pub const MAX_MSS: u16 = 65495;
/// Largest retry count: Linux `MAX_TCP_SYNCNT` for SYNs; the same bound for the others keeps
/// the counters in a byte and a failing connection finite.
pub const MAX_RETRIES: u32 = 127;
/// Upper bound for `rto_max` and `msl`: far beyond any real stack, but finite.
pub const MAX_DURATION: SimDuration = SimDuration::from_secs(3600);

impl TcpConfig {
    /// Checks every field, naming the first one out of range and what it may be.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |field, message: String| Err(ConfigError { field, message });
        if !(MIN_MSS..=MAX_MSS).contains(&self.mss) {
            return err(
                "mss",
                format!(
                    "{} is out of range; allowed: {MIN_MSS}..={MAX_MSS} bytes",
                    self.mss
                ),
            );
        }
        if self.window == 0 {
            return err(
                "window",
                "0 is not allowed; allowed: 1..=65535 bytes".into(),
            );
        }
        if self.rto_max.is_zero() || self.rto_max > MAX_DURATION {
            return err(
                "rto_max",
                format!(
                    "{} is out of range; allowed: > 0s and <= {MAX_DURATION}",
                    self.rto_max
                ),
            );
        }
        if self.rto_min.is_zero() || self.rto_min > self.rto_max {
            return err(
                "rto_min",
                format!(
                    "{} is out of range; allowed: > 0s and <= rto_max ({})",
                    self.rto_min, self.rto_max
                ),
            );
        }
        if self.rto_initial < self.rto_min || self.rto_initial > self.rto_max {
            return err(
                "rto_initial",
                format!(
                    "{} is out of range; allowed: rto_min ({}) ..= rto_max ({})",
                    self.rto_initial, self.rto_min, self.rto_max
                ),
            );
        }
        for (field, v) in [
            ("syn_retries", self.syn_retries),
            ("synack_retries", self.synack_retries),
            ("retries2", self.retries2),
        ] {
            if v > MAX_RETRIES {
                return err(
                    field,
                    format!("{v} is out of range; allowed: 0..={MAX_RETRIES}"),
                );
            }
        }
        if self.msl > MAX_DURATION {
            return err(
                "msl",
                format!(
                    "{} is out of range; allowed: 0s ..= {MAX_DURATION}",
                    self.msl
                ),
            );
        }
        let [lo, hi] = self.ephemeral_ports;
        if lo == 0 || lo > hi {
            return err(
                "ephemeral_ports",
                format!("[{lo}, {hi}] is not a range; allowed: [low, high] with 1 <= low <= high <= 65535"),
            );
        }
        Ok(())
    }

    /// TIME-WAIT duration: 2 * MSL (RFC 9293 §3.6).
    pub fn time_wait(&self) -> SimDuration {
        self.msl.saturating_mul(2)
    }

    /// Number of ports in `ephemeral_ports`.
    pub fn ephemeral_count(&self) -> u32 {
        let [lo, hi] = self.ephemeral_ports;
        (hi as u32 + 1).saturating_sub(lo as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_linux_like() {
        let c = TcpConfig::default();
        c.validate().unwrap();
        assert_eq!(c.time_wait(), SimDuration::from_secs(60));
        assert_eq!(c.ephemeral_count(), 28232);
    }

    #[test]
    fn parses_toml_with_units_and_rejects_unknown_keys() {
        let c: TcpConfig = toml::from_str(
            "msl = \"2min\"\nrto_min = \"1s\"\nport_selection = \"random\"\nisn = \"zero\"\n\
             tw_reopen = \"refuse\"\nrst_in_time_wait = \"ignore\"\nephemeral_ports = [1000, 1009]\n",
        )
        .unwrap();
        assert_eq!(c.msl, SimDuration::from_secs(120));
        assert_eq!(c.port_selection, PortSelection::Random);
        assert_eq!(c.isn, IsnPolicy::Zero);
        assert_eq!(c.tw_reopen, TwReopen::Refuse);
        assert_eq!(c.rst_in_time_wait, RstInTimeWait::Ignore);
        assert_eq!(c.ephemeral_count(), 10);
        assert_eq!(c.mss, 1460, "unset keys keep their defaults");
        c.validate().unwrap();
        let e = toml::from_str::<TcpConfig>("msll = \"1s\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("msll"), "{e}");
        let e = toml::from_str::<TcpConfig>("isn = \"sometimes\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("random") && e.contains("clock"), "{e}");
        // Round trip through TOML.
        let back: TcpConfig = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn validate_names_the_field() {
        let bad = |f: fn(&mut TcpConfig)| {
            let mut c = TcpConfig::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert_eq!(bad(|c| c.mss = 10).field, "mss");
        assert_eq!(bad(|c| c.window = 0).field, "window");
        assert_eq!(bad(|c| c.rto_min = SimDuration::ZERO).field, "rto_min");
        assert_eq!(
            bad(|c| c.rto_initial = SimDuration::from_millis(1)).field,
            "rto_initial"
        );
        assert_eq!(
            bad(|c| c.rto_max = SimDuration::from_secs(7200)).field,
            "rto_max"
        );
        assert_eq!(bad(|c| c.retries2 = 1000).field, "retries2");
        assert_eq!(bad(|c| c.ephemeral_ports = [5, 4]).field, "ephemeral_ports");
        assert_eq!(bad(|c| c.msl = SimDuration::from_secs(7200)).field, "msl");
        let e = bad(|c| c.ephemeral_ports = [0, 4]);
        assert!(e.to_string().starts_with("ephemeral_ports: "), "{e}");
    }
}

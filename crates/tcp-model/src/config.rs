//! The `[tcp]` table of an experiment: every knob of the model, with Linux-like defaults.

use serde::{Deserialize, Serialize};
use sim_time::SimDuration;

/// Parameters of the TCP model. Every default cites where it comes from; durations are
/// written with units in TOML (`"200ms"`, `"2min"`), optional ones also as `"none"`.
///
/// `profile` picks the defaults of every other key ([`Profile`]); a key given explicitly
/// overrides its profile's value. Deserializing goes through a private struct of `Option`s
/// (unknown keys are rejected with the list of allowed ones); serializing writes the resolved
/// values and the profile name, so the output reads back to the same configuration.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(from = "RawTcpConfig")]
pub struct TcpConfig {
    /// The stack whose defaults the other keys take: `linux` (default) or `rfc9293`.
    pub profile: Profile,
    /// MSS we advertise and the largest payload we send: 1460 = Ethernet MTU 1500 minus 20
    /// bytes of IPv4 and 20 of TCP header (RFC 9293 §3.7.1 defines the option; a peer that
    /// sends none is assumed to accept 536). Both profiles.
    pub mss: u16,
    /// Receive window we advertise: 65535, the largest without window scaling (RFC 7323 is
    /// not modelled). The application consumes data at once, so the window never shrinks.
    /// Both profiles.
    pub window: u16,
    /// RTO before any RTT sample: 1 s in both profiles, RFC 6298 §2.1 and Linux
    /// `TCP_TIMEOUT_INIT`.
    pub rto_initial: SimDuration,
    /// Floor of the computed RTO: linux 200 ms (`TCP_RTO_MIN`); rfc9293 1 s (RFC 6298 §2.4).
    pub rto_min: SimDuration,
    /// Ceiling of the RTO and its backoff: linux 120 s (`TCP_RTO_MAX`); rfc9293 60 s, the
    /// smallest maximum RFC 6298 §2.5 allows.
    pub rto_max: SimDuration,
    /// How RTT samples become the RTO; see [`RtoEstimator`]. linux `linux` (Linux
    /// `tcp_rtt_estimator` and `tcp_set_rto`, net/ipv4/tcp_input.c); rfc9293 `rfc6298`
    /// (RFC 6298 §2 and §5.7).
    pub rto_estimator: RtoEstimator,
    /// SYN retransmissions before `connect` gives up. linux 6, `net.ipv4.tcp_syn_retries`
    /// (with a 1 s initial RTO: retransmissions at 1, 3, 7, 15, 31, 63 s, failure at 127 s).
    /// rfc9293 7: RFC 9293 §3.8.3 wants R2 for a SYN to be at least 3 minutes; with RTOs of
    /// 1, 2, 4, 8, 16, 32, 60, 60 s the 7th retransmission times out at 183 s.
    pub syn_retries: u32,
    /// SYN-ACK retransmissions before a passive connection is dropped. linux 5,
    /// `net.ipv4.tcp_synack_retries`; rfc9293 7, the SYN rule of §3.8.3 (183 s, as above).
    pub synack_retries: u32,
    /// Retransmissions of data or FIN before the connection is aborted (a count; Linux turns
    /// it into a time budget). linux 15, `net.ipv4.tcp_retries2`. rfc9293 6: RFC 9293 §3.8.3
    /// wants R2 to be at least 100 s; from the 1 s RTO floor, backoff 1, 2, 4, ..., 60 s makes
    /// the 6th retransmission time out at 123 s (5 would give up at 63 s).
    pub retries2: u32,
    /// Maximum segment lifetime; TIME-WAIT lasts 2 MSL. linux 30 s, so TIME-WAIT = 60 s =
    /// `TCP_TIMEWAIT_LEN`; rfc9293 2 min, RFC 9293 §3.4.1.
    pub msl: SimDuration,
    /// How long an orphaned connection (the application closed) may sit in FIN-WAIT-2 waiting
    /// for the peer's FIN before it is dropped silently (`CloseReason::FinWait2Timeout`).
    /// linux 60 s, `net.ipv4.tcp_fin_timeout` (`TCP_FIN_TIMEOUT`); rfc9293 `"none"`: the RFC
    /// waits for the FIN forever.
    #[serde(serialize_with = "ser_opt")]
    pub fin_timeout: Option<SimDuration>,
    /// Total time `connect` may take, from the first SYN to ESTABLISHED, on top of
    /// `syn_retries` (whichever comes first ends it with `CloseReason::ConnectTimeout`).
    /// `"none"` in both profiles: Linux has no such limit in the kernel (applications use
    /// `SO_SNDTIMEO` or poll), and RFC 9293 §3.8.3 leaves it to the application.
    #[serde(serialize_with = "ser_opt")]
    pub connect_timeout: Option<SimDuration>,
    /// Inclusive range of local ports `connect` picks from. linux 32768..=60999,
    /// `net.ipv4.ip_local_port_range`; rfc9293 49152..=65535, the dynamic range of RFC 6335
    /// §6.
    pub ephemeral_ports: [u16; 2],
    /// How `connect` picks a port; see [`PortSelection`]. linux `sequential` (the BSD
    /// allocator; Linux's own is a per-destination sequence, RFC 6056 Algorithm 4); rfc9293
    /// `random`, RFC 6056 §3.3.1, as RFC 9293 §3.4.1 defers to RFC 6056.
    pub port_selection: PortSelection,
    /// How initial sequence numbers are chosen; see [`IsnPolicy`]. `random` in both profiles
    /// (RFC 9293 §3.4.1 MUST-8 points to RFC 6528; Linux `secure_tcp_seq`).
    pub isn: IsnPolicy,
    /// Tick of the ISN clock used by `clock` and `random`: 4 µs in both profiles (RFC 793
    /// §3.3, RFC 9293 §3.4.1).
    pub isn_clock_tick: SimDuration,
    /// The ISN of every connection when `isn = "constant"`. 0 in both profiles.
    pub isn_constant: u32,
    /// What a SYN to a 4-tuple in TIME-WAIT does; see [`TwReopen`]. linux `linux`; rfc9293
    /// `refuse`: reopening is only a MAY (RFC 9293 §3.6.1) and §3.10.7.4 answers a SYN in
    /// TIME-WAIT with a challenge ACK.
    pub tw_reopen: TwReopen,
    /// What an acceptable RST does to TIME-WAIT; see [`RstInTimeWait`]. `kill` in both
    /// profiles (RFC 9293 §3.10.7.4; Linux `tcp_rfc1337 = 0`).
    pub rst_in_time_wait: RstInTimeWait,
    /// Which segments restart TIME-WAIT's 2×MSL; see [`TwRestart`]. linux `ack` (Linux
    /// `tcp_timewait_state_process`); rfc9293 `fin` (RFC 9293 §3.10.7.4).
    pub tw_restart: TwRestart,
    /// Which segments TIME-WAIT answers with an ACK; see [`TwAcks`]. linux `linux` (Linux
    /// `tcp_timewait_state_process`); rfc9293 `rfc9293` (RFC 9293 §3.10.7.4 with RFC 5961).
    pub tw_acks: TwAcks,
    /// What ESTABLISHED does with an ACK of data never sent; see [`UnsentAck`]. linux `drop`
    /// (`tcp_rcv_established`); rfc9293 `ack` (§3.10.7.4).
    pub unsent_ack: UnsentAck,
    /// Longest time the ACK of in-order data may wait for a segment of ours to ride on
    /// (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2); `"none"` ACKs every segment at once. It is
    /// sent at once anyway when more than one full-sized segment is unacknowledged, for
    /// out-of-order or duplicate data, for a FIN and in the handshake. linux 40 ms, the
    /// delayed-ACK timeout a connection starts with (`TCP_ATO_MIN` = `TCP_DELACK_MIN`; Linux
    /// then adapts it to the arrival pattern, up to `TCP_DELACK_MAX` 200 ms, which is not
    /// modelled). rfc9293 200 ms: the RFC only requires less than 0.5 s; 200 ms is the BSD
    /// delayed-ACK tick (`tcp_fasttimo`) and Linux's `TCP_DELACK_MAX`.
    #[serde(serialize_with = "ser_opt")]
    pub delayed_ack: Option<SimDuration>,
    /// How many ACKs of new data go out at once, without delay, at the start of a connection
    /// (Linux quick-ack mode): `min(window / (2 * MSS), quick_acks)`, at least 2 when that
    /// quotient is 0, as Linux `tcp_incr_quickack` computes on the first data received.
    /// linux 16 (`TCP_MAX_QUICKACKS`); rfc9293 0 (the RFC has no quick-ack mode). Only
    /// matters with `delayed_ack`.
    pub quick_acks: u32,
    /// Used by the host's listen queue. Linux `net.ipv4.tcp_max_syn_backlog`: with
    /// `syn_cookies = "off"`, a SYN is dropped once fewer than a quarter of this many slots
    /// are left in the listener's SYN queue, i.e. once it holds more than 3/4 of it (Linux
    /// keeps that last quarter for peers it has seen before, which the model does not track).
    /// Both profiles 1024: Linux sets `max(128, ehash_entries / 128)`, 1024 with the
    /// 131072-entry established hash of a server with a few GiB of memory (128 on small
    /// machines). RFC 9293 specifies no backlog, so rfc9293 keeps the same value.
    pub syn_backlog: u32,
    /// Used by the host's listen queue: the listen backlog, `listen()`'s argument as capped
    /// by Linux `net.core.somaxconn`. Connections that completed the handshake wait in the
    /// accept queue (only under `AcceptMode::Manual`); a SYN or handshake ACK finding it full
    /// is dropped. Full means more than this many, as in Linux `sk_acceptq_is_full`
    /// (`sk_ack_backlog > sk_max_ack_backlog`), so it holds `accept_backlog + 1`. As in Linux
    /// (`inet_csk_reqsk_queue_is_full`, `>=`), the SYN queue is full at this many entries,
    /// which is what makes `syn_cookies = "on_overflow"` send cookies. Both profiles 4096:
    /// `SOMAXCONN` since Linux 5.4 (128 before); RFC 9293 specifies no backlog.
    pub accept_backlog: u32,
    /// Used by the host's listen queue: when a listener answers a SYN with a SYN cookie
    /// instead of keeping state; see [`SynCookies`]. linux `on_overflow`
    /// (`net.ipv4.tcp_syncookies = 1`, its default); rfc9293 `off`: RFC 9293 has no SYN
    /// cookies (RFC 4987 §3.6, informational, describes them).
    pub syn_cookies: SynCookies,
    /// Used by the host's listen queue: whether the SYN-ACK retries of half-open connections
    /// shrink when the SYN queue is crowded with old ones. linux `true`: Linux
    /// `reqsk_timer_handler` (net/ipv4/inet_connection_sock.c) "reserves half of room for
    /// young embrions": when a SYN-ACK timer fires while the SYN queue holds more than
    /// `max(8, accept_backlog) / 2` entries, the retry limit `synack_retries` drops by one
    /// for each doubling of the young entries (those whose SYN-ACK was never retransmitted)
    /// that still stays at or below the queue length, down to 2 at the least; an entry out
    /// of retries under that limit is dropped (`syn_queue_pruned`). So under a SYN flood the
    /// half-open connections give up after 7 s (2 retries) instead of 63 s. rfc9293 `false`:
    /// the RFC has no such rule.
    pub syn_queue_prune: bool,
}

/// The stack whose defaults a [`TcpConfig`] starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// Linux defaults (sysctls and kernel constants as of 6.x).
    #[default]
    Linux,
    /// The numbers of RFC 9293 and the RFCs it cites (6298, 6335, 1122), where they give one.
    Rfc9293,
}

impl Profile {
    pub const ALL: [Profile; 2] = [Profile::Linux, Profile::Rfc9293];
    /// The TOML spelling: `linux`, `rfc9293`.
    pub const fn name(self) -> &'static str {
        match self {
            Profile::Linux => "linux",
            Profile::Rfc9293 => "rfc9293",
        }
    }
}

impl std::str::FromStr for Profile {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Profile, ConfigError> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| ConfigError {
                field: "profile",
                message: format!("unknown profile {s:?}; allowed: linux, rfc9293"),
            })
    }
}

/// `Option<SimDuration>` in TOML: a duration string, or `"none"`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct NoneOr(Option<SimDuration>);

impl<'de> Deserialize<'de> for NoneOr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<NoneOr, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = NoneOr;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(
                    f,
                    "\"none\" or a duration string with a unit: {}",
                    sim_time::DURATION_UNITS_HELP
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<NoneOr, E> {
                if v == "none" {
                    return Ok(NoneOr(None));
                }
                v.parse().map(|d| NoneOr(Some(d))).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<NoneOr, E> {
                Err(E::custom(format!(
                    "duration {v} has no unit; write \"none\" or a string with a unit: {}",
                    sim_time::DURATION_UNITS_HELP
                )))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<NoneOr, E> {
                self.visit_i64(v as i64)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<NoneOr, E> {
                Err(E::custom(format!(
                    "duration {v} has no unit; write \"none\" or a string with a unit: {}",
                    sim_time::DURATION_UNITS_HELP
                )))
            }
        }
        d.deserialize_any(V)
    }
}

fn ser_opt<S: serde::Serializer>(v: &Option<SimDuration>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(d) => s.collect_str(d),
        None => s.serialize_str("none"),
    }
}

/// What the `[tcp]` table holds before the profile fills the gaps: every key optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTcpConfig {
    profile: Option<Profile>,
    mss: Option<u16>,
    window: Option<u16>,
    rto_initial: Option<SimDuration>,
    rto_min: Option<SimDuration>,
    rto_max: Option<SimDuration>,
    rto_estimator: Option<RtoEstimator>,
    syn_retries: Option<u32>,
    synack_retries: Option<u32>,
    retries2: Option<u32>,
    msl: Option<SimDuration>,
    fin_timeout: Option<NoneOr>,
    connect_timeout: Option<NoneOr>,
    ephemeral_ports: Option<[u16; 2]>,
    port_selection: Option<PortSelection>,
    isn: Option<IsnPolicy>,
    isn_clock_tick: Option<SimDuration>,
    isn_constant: Option<u32>,
    tw_reopen: Option<TwReopen>,
    rst_in_time_wait: Option<RstInTimeWait>,
    tw_restart: Option<TwRestart>,
    tw_acks: Option<TwAcks>,
    unsent_ack: Option<UnsentAck>,
    delayed_ack: Option<NoneOr>,
    quick_acks: Option<u32>,
    syn_backlog: Option<u32>,
    accept_backlog: Option<u32>,
    syn_cookies: Option<SynCookies>,
    syn_queue_prune: Option<bool>,
}

impl From<RawTcpConfig> for TcpConfig {
    fn from(r: RawTcpConfig) -> TcpConfig {
        let d = TcpConfig::profile(r.profile.unwrap_or_default());
        TcpConfig {
            profile: d.profile,
            mss: r.mss.unwrap_or(d.mss),
            window: r.window.unwrap_or(d.window),
            rto_initial: r.rto_initial.unwrap_or(d.rto_initial),
            rto_min: r.rto_min.unwrap_or(d.rto_min),
            rto_max: r.rto_max.unwrap_or(d.rto_max),
            rto_estimator: r.rto_estimator.unwrap_or(d.rto_estimator),
            syn_retries: r.syn_retries.unwrap_or(d.syn_retries),
            synack_retries: r.synack_retries.unwrap_or(d.synack_retries),
            retries2: r.retries2.unwrap_or(d.retries2),
            msl: r.msl.unwrap_or(d.msl),
            fin_timeout: r.fin_timeout.map_or(d.fin_timeout, |v| v.0),
            connect_timeout: r.connect_timeout.map_or(d.connect_timeout, |v| v.0),
            ephemeral_ports: r.ephemeral_ports.unwrap_or(d.ephemeral_ports),
            port_selection: r.port_selection.unwrap_or(d.port_selection),
            isn: r.isn.unwrap_or(d.isn),
            isn_clock_tick: r.isn_clock_tick.unwrap_or(d.isn_clock_tick),
            isn_constant: r.isn_constant.unwrap_or(d.isn_constant),
            tw_reopen: r.tw_reopen.unwrap_or(d.tw_reopen),
            rst_in_time_wait: r.rst_in_time_wait.unwrap_or(d.rst_in_time_wait),
            tw_restart: r.tw_restart.unwrap_or(d.tw_restart),
            tw_acks: r.tw_acks.unwrap_or(d.tw_acks),
            unsent_ack: r.unsent_ack.unwrap_or(d.unsent_ack),
            delayed_ack: r.delayed_ack.map_or(d.delayed_ack, |v| v.0),
            quick_acks: r.quick_acks.unwrap_or(d.quick_acks),
            syn_backlog: r.syn_backlog.unwrap_or(d.syn_backlog),
            accept_backlog: r.accept_backlog.unwrap_or(d.accept_backlog),
            syn_cookies: r.syn_cookies.unwrap_or(d.syn_cookies),
            syn_queue_prune: r.syn_queue_prune.unwrap_or(d.syn_queue_prune),
        }
    }
}

/// How RTT samples become the RTO. Both take one sample at a time (a segment sent once,
/// Karn's rule), from the SYN-ACK on the active side and the handshake's final ACK on the
/// passive side, and both back off by doubling up to `rto_max`; they differ in how a sample
/// moves the RTO and in what a handshake without a sample leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RtoEstimator {
    /// Linux `tcp_rtt_estimator` and `tcp_set_rto`/`__tcp_set_rto` (net/ipv4/tcp_input.c,
    /// include/net/tcp.h), in its integer arithmetic: SRTT in 1/8 µs, the mean deviation
    /// `mdev` in 1/4 µs with a smaller gain when the RTT falls, and `rttvar`, which is never
    /// below `rto_min`, follows `mdev` up at once but down by a quarter of the gap once per
    /// RTT; RTO = SRTT + `rttvar`, at most `rto_max`. So on a short path the RTO is about
    /// SRTT + `rto_min` (220 ms on a 20 ms RTT). A handshake that leaves no sample (a
    /// retransmitted SYN or SYN-ACK, or a SYN cookie: tcpsim has no timestamps to measure
    /// it by) sets the RTO to 3 s (`tcp_init_metrics`, `TCP_TIMEOUT_FALLBACK`).
    #[default]
    Linux,
    /// RFC 6298 §2.2-2.4: SRTT and RTTVAR with gains 1/8 and 1/4, RTO = SRTT + 4·RTTVAR,
    /// at least `rto_min` and at most `rto_max`; after a handshake that had to retransmit,
    /// 3 s (§5.7).
    Rfc6298,
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
    /// RFC 793 §3.3: the ISN clock alone (one tick per `isn_clock_tick`, 4 µs by default),
    /// the same for every 4-tuple.
    Clock,
    /// Always 0: makes packet traces easy to read in tests.
    Zero,
    /// Always `isn_constant`: for tests of wrap-around and of reopening rules.
    Constant,
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
    /// RFC 6191 §2 without timestamps (the model has none), i.e. RFC 1122 §4.2.2.13: a SYN
    /// (without ACK) whose SEG.SEQ is greater than the old connection's final sequence number
    /// (RCV.NXT - 1, the peer's FIN) ends TIME-WAIT and goes on to the listener, which picks
    /// its ISS with the normal ISN generator; any other SYN is answered with an ACK.
    Rfc6191,
}

/// Which segments arriving in TIME-WAIT start its 2×MSL over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TwRestart {
    /// Only a retransmission of the peer's FIN, which says our last ACK was lost (RFC 9293
    /// §3.10.7.4: "The only thing that can arrive in this state is a retransmission of the
    /// remote FIN. Acknowledge it, and restart the 2 MSL timeout.").
    Fin,
    /// Every segment with ACK but no RST that does not reopen TIME-WAIT: an old duplicate,
    /// a stray ACK, the FIN again. Linux `tcp_timewait_state_process` calls
    /// `inet_twsk_reschedule(tw, TCP_TIMEWAIT_LEN)` for each ("In this case we must reset
    /// the TIMEWAIT timer"), so a peer that keeps sending keeps the 4-tuple held.
    #[default]
    Ack,
}

/// Which segments arriving in TIME-WAIT get an ACK. Under both, a SYN that does not reopen
/// the 4-tuple is answered (a newer one that finds no listener always, an old one as below),
/// the peer's retransmitted FIN is ACKed, and any other answer to a segment without data or
/// FIN (or with SYN) goes at most once per [`OOW_ACK_INTERVAL`](crate::OOW_ACK_INTERVAL).
/// Only the RFC's answer to an old SYN counts as a challenge ACK (RFC 5961 §4); Linux's is a
/// plain `TCP_TW_ACK`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TwAcks {
    /// RFC 9293 §3.10.7.4 with RFC 5961: an unacceptable segment is ACKed (first step); an
    /// acceptable one that is neither a FIN nor a SYN is not (text after the FIN is ignored);
    /// a RST in the window but not at RCV.NXT gets a challenge ACK (RFC 5961 §3.2).
    Rfc9293,
    /// Linux `tcp_timewait_state_process`: only a segment exactly at RCV.NXT with no data, no
    /// FIN and no SYN (a bare ACK) goes unanswered ("In window segment, it may be only reset
    /// or bare ack"); every other segment is ACKed ("Out of window segment. All the segments
    /// are ACKed immediately"), in the window or not, data included. A RST is never answered:
    /// one at RCV.NXT kills or is ignored (`rst_in_time_wait`), any other is dropped.
    #[default]
    Linux,
}

/// What an ESTABLISHED connection does with a segment whose ACK acknowledges data it never
/// sent (SEG.ACK > SND.NXT). FIN-WAIT-1 and -2, CLOSE-WAIT, CLOSING and LAST-ACK answer
/// with an ACK under both values, at most once per
/// [`OOW_ACK_INTERVAL`](crate::OOW_ACK_INTERVAL) (Linux `tcp_send_challenge_ack` from
/// `tcp_rcv_state_process`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum UnsentAck {
    /// "Send an ACK, drop the segment, and return" (RFC 9293 §3.10.7.4), at most once per
    /// `OOW_ACK_INTERVAL` (RFC 5961 §7).
    Ack,
    /// Drop it without an answer: Linux `tcp_rcv_established`, where `tcp_ack` returns
    /// `SKB_DROP_REASON_TCP_ACK_UNSENT_DATA` and the segment is discarded. With
    /// `tw_restart = "ack"`, answering would let an old connection's TIME-WAIT and a new
    /// connection on its 4-tuple keep each other alive forever.
    #[default]
    Drop,
}

/// When a listener answers a SYN with a SYN cookie ([`crate::syncookie`]) instead of keeping a
/// SYN-RECEIVED connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SynCookies {
    /// Never (`tcp_syncookies = 0`): a SYN finding the SYN queue full is dropped.
    Off,
    /// Only when the SYN queue is full (`tcp_syncookies = 1`, the Linux default).
    #[default]
    OnOverflow,
    /// For every SYN (`tcp_syncookies = 2`), so no SYN-RECEIVED state is ever kept.
    Always,
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
    /// The `linux` profile.
    fn default() -> Self {
        TcpConfig::profile(Profile::Linux)
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
/// `delayed_ack` must be below this: RFC 9293 §3.8.6.3 (and RFC 1122 §4.2.3.2) require the
/// delay to be less than 0.5 seconds.
pub const MAX_DELAYED_ACK: SimDuration = SimDuration::from_millis(500);
/// Largest `quick_acks`: Linux `TCP_MAX_QUICKACKS`, the most `tcp_incr_quickack` grants.
pub const MAX_QUICK_ACKS: u32 = 16;
/// Largest `syn_backlog` and `accept_backlog`: 2^20 queued connections is 128 MiB of TCBs in
/// one listener, far beyond Linux defaults but finite.
pub const MAX_BACKLOG: u32 = 1 << 20;

impl TcpConfig {
    /// The defaults of `profile`, every key documented on the field with its source.
    pub fn profile(profile: Profile) -> TcpConfig {
        let linux = TcpConfig {
            profile: Profile::Linux,
            mss: 1460,
            window: 65535,
            rto_initial: SimDuration::from_secs(1),
            rto_min: SimDuration::from_millis(200),
            rto_max: SimDuration::from_secs(120),
            rto_estimator: RtoEstimator::Linux,
            syn_retries: 6,
            synack_retries: 5,
            retries2: 15,
            msl: SimDuration::from_secs(30),
            fin_timeout: Some(SimDuration::from_secs(60)),
            connect_timeout: None,
            ephemeral_ports: [32768, 60999],
            port_selection: PortSelection::Sequential,
            isn: IsnPolicy::Random,
            isn_clock_tick: SimDuration::from_micros(4),
            isn_constant: 0,
            tw_reopen: TwReopen::Linux,
            rst_in_time_wait: RstInTimeWait::Kill,
            tw_restart: TwRestart::Ack,
            tw_acks: TwAcks::Linux,
            unsent_ack: UnsentAck::Drop,
            delayed_ack: Some(SimDuration::from_millis(40)),
            quick_acks: MAX_QUICK_ACKS,
            syn_backlog: 1024,
            accept_backlog: 4096,
            syn_cookies: SynCookies::OnOverflow,
            syn_queue_prune: true,
        };
        match profile {
            Profile::Linux => linux,
            Profile::Rfc9293 => TcpConfig {
                profile,
                rto_min: SimDuration::from_secs(1),
                rto_max: SimDuration::from_secs(60),
                rto_estimator: RtoEstimator::Rfc6298,
                syn_retries: 7,
                synack_retries: 7,
                retries2: 6,
                msl: SimDuration::from_secs(120),
                fin_timeout: None,
                ephemeral_ports: [49152, 65535],
                port_selection: PortSelection::Random,
                tw_reopen: TwReopen::Refuse,
                tw_restart: TwRestart::Fin,
                tw_acks: TwAcks::Rfc9293,
                unsent_ack: UnsentAck::Ack,
                delayed_ack: Some(SimDuration::from_millis(200)),
                quick_acks: 0,
                syn_cookies: SynCookies::Off,
                syn_queue_prune: false,
                ..linux
            },
        }
    }

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
        for (field, v) in [
            ("fin_timeout", self.fin_timeout),
            ("connect_timeout", self.connect_timeout),
        ] {
            if v.is_some_and(|d| d.is_zero() || d > MAX_DURATION) {
                return err(
                    field,
                    format!(
                        "{} is out of range; allowed: \"none\" or > 0s and <= {MAX_DURATION}",
                        v.unwrap_or_default()
                    ),
                );
            }
        }
        if self.isn_clock_tick.is_zero() || self.isn_clock_tick > SimDuration::from_secs(1) {
            return err(
                "isn_clock_tick",
                format!(
                    "{} is out of range; allowed: > 0s and <= 1s",
                    self.isn_clock_tick
                ),
            );
        }
        if self
            .delayed_ack
            .is_some_and(|d| d.is_zero() || d >= MAX_DELAYED_ACK)
        {
            return err(
                "delayed_ack",
                format!(
                    "{} is out of range; allowed: \"none\" or > 0s and < {MAX_DELAYED_ACK}",
                    self.delayed_ack.unwrap_or_default()
                ),
            );
        }
        if self.quick_acks > MAX_QUICK_ACKS {
            return err(
                "quick_acks",
                format!(
                    "{} is out of range; allowed: 0..={MAX_QUICK_ACKS}",
                    self.quick_acks
                ),
            );
        }
        for (field, v) in [
            ("syn_backlog", self.syn_backlog),
            ("accept_backlog", self.accept_backlog),
        ] {
            if v == 0 || v > MAX_BACKLOG {
                return err(
                    field,
                    format!("{v} is out of range; allowed: 1..={MAX_BACKLOG}"),
                );
            }
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
        assert_eq!(c, TcpConfig::profile(Profile::Linux));
        assert_eq!(c.time_wait(), SimDuration::from_secs(60));
        assert_eq!(c.ephemeral_count(), 28232);
        assert_eq!(c.fin_timeout, Some(SimDuration::from_secs(60)));
        assert_eq!((c.syn_retries, c.synack_retries, c.retries2), (6, 5, 15));
        assert_eq!(c.delayed_ack, Some(SimDuration::from_millis(40)));
        assert_eq!(c.quick_acks, 16);
        assert_eq!((c.syn_backlog, c.accept_backlog), (1024, 4096));
        assert_eq!(c.syn_cookies, SynCookies::OnOverflow);
        assert!(c.syn_queue_prune);
        assert_eq!(c.rto_estimator, RtoEstimator::Linux);
        // An empty table is the linux profile.
        assert_eq!(toml::from_str::<TcpConfig>("").unwrap(), c);
    }

    #[test]
    fn rfc9293_profile() {
        let c = TcpConfig::profile(Profile::Rfc9293);
        c.validate().unwrap();
        assert_eq!(c.time_wait(), SimDuration::from_secs(240));
        assert_eq!(c.rto_min, SimDuration::from_secs(1));
        assert_eq!(c.rto_max, SimDuration::from_secs(60));
        assert_eq!(c.ephemeral_ports, [49152, 65535]);
        assert_eq!(c.ephemeral_count(), 16384);
        assert_eq!(c.fin_timeout, None);
        assert_eq!(c.tw_reopen, TwReopen::Refuse);
        assert_eq!(c.tw_restart, TwRestart::Fin);
        assert_eq!(TcpConfig::default().tw_restart, TwRestart::Ack);
        assert_eq!(c.tw_acks, TwAcks::Rfc9293);
        assert_eq!(TcpConfig::default().tw_acks, TwAcks::Linux);
        assert_eq!(c.unsent_ack, UnsentAck::Ack);
        assert_eq!(TcpConfig::default().unsent_ack, UnsentAck::Drop);
        assert_eq!(c.delayed_ack, Some(SimDuration::from_millis(200)));
        assert_eq!(c.quick_acks, 0);
        assert_eq!((c.syn_backlog, c.accept_backlog), (1024, 4096));
        assert_eq!(c.syn_cookies, SynCookies::Off);
        assert!(!c.syn_queue_prune);
        assert_eq!(c.rto_estimator, RtoEstimator::Rfc6298);
        // R2 for a SYN >= 3 min and for data >= 100 s (RFC 9293 §3.8.3), from a 1 s RTO.
        let give_up = |retries: u32| {
            let mut rto = c.rto_initial;
            let mut t = SimDuration::ZERO;
            for _ in 0..=retries {
                t = t + rto;
                rto = rto.doubled_max(c.rto_max);
            }
            t
        };
        assert_eq!(give_up(c.syn_retries), SimDuration::from_secs(183));
        assert_eq!(give_up(c.synack_retries), SimDuration::from_secs(183));
        assert_eq!(give_up(c.retries2), SimDuration::from_secs(123));
        assert!(give_up(c.retries2 - 1) < SimDuration::from_secs(100));
        assert_eq!("rfc9293".parse::<Profile>().unwrap(), Profile::Rfc9293);
        assert_eq!("bsd".parse::<Profile>().unwrap_err().field, "profile");
    }

    #[test]
    fn profile_then_overrides() {
        let c: TcpConfig = toml::from_str(
            "profile = \"rfc9293\"\nmsl = \"30s\"\nfin_timeout = \"10s\"\nconnect_timeout = \"none\"\n",
        )
        .unwrap();
        let want = TcpConfig {
            msl: SimDuration::from_secs(30),
            fin_timeout: Some(SimDuration::from_secs(10)),
            ..TcpConfig::profile(Profile::Rfc9293)
        };
        assert_eq!(c, want);
        // Keys written in any order: the profile still only fills what is missing.
        let c: TcpConfig = toml::from_str("fin_timeout = \"none\"\nprofile = \"linux\"\n").unwrap();
        assert_eq!(c.fin_timeout, None);
        assert_eq!(c.rto_min, SimDuration::from_millis(200));
        // Serialization writes resolved values and the profile; it reads back the same.
        let text = toml::to_string(&want).unwrap();
        assert!(text.contains("profile = \"rfc9293\""), "{text}");
        assert!(text.contains("fin_timeout = \"10s\""), "{text}");
        assert_eq!(toml::from_str::<TcpConfig>(&text).unwrap(), want);
        // Unknown keys and profiles are still rejected, listing what is allowed.
        let e = toml::from_str::<TcpConfig>("profile = \"rfc9293\"\nfin_timout = \"1s\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("fin_timout") && e.contains("fin_timeout") && e.contains("rst_in_time_wait"),
            "{e}"
        );
        let e = toml::from_str::<TcpConfig>("profile = \"bsd\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("linux") && e.contains("rfc9293"), "{e}");
        let e = toml::from_str::<TcpConfig>("fin_timeout = 60")
            .unwrap_err()
            .to_string();
        assert!(e.contains("none") && e.contains("unit"), "{e}");
    }

    #[test]
    fn parses_toml_with_units_and_rejects_unknown_keys() {
        let c: TcpConfig = toml::from_str(
            "msl = \"2min\"\nrto_min = \"1s\"\nport_selection = \"random\"\nisn = \"zero\"\n\
             tw_reopen = \"refuse\"\nrst_in_time_wait = \"ignore\"\ntw_restart = \"fin\"\nunsent_ack = \"ack\"\n\
             tw_acks = \"rfc9293\"\n\
             ephemeral_ports = [1000, 1009]\n",
        )
        .unwrap();
        assert_eq!(c.msl, SimDuration::from_secs(120));
        assert_eq!(c.port_selection, PortSelection::Random);
        assert_eq!(c.isn, IsnPolicy::Zero);
        assert_eq!(c.tw_reopen, TwReopen::Refuse);
        assert_eq!(c.rst_in_time_wait, RstInTimeWait::Ignore);
        assert_eq!(c.tw_restart, TwRestart::Fin);
        assert_eq!(c.unsent_ack, UnsentAck::Ack);
        assert_eq!(c.tw_acks, TwAcks::Rfc9293);
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
    fn delayed_ack_and_listen_queue_keys() {
        let c: TcpConfig = toml::from_str(
            "delayed_ack = \"none\"\nquick_acks = 0\nsyn_backlog = 128\naccept_backlog = 10\n\
             syn_cookies = \"always\"\nsyn_queue_prune = false\n",
        )
        .unwrap();
        c.validate().unwrap();
        assert!(!c.syn_queue_prune);
        assert_eq!(c.delayed_ack, None);
        assert_eq!(c.quick_acks, 0);
        assert_eq!((c.syn_backlog, c.accept_backlog), (128, 10));
        assert_eq!(c.syn_cookies, SynCookies::Always);
        let text = toml::to_string(&c).unwrap();
        assert!(text.contains("delayed_ack = \"none\""), "{text}");
        assert_eq!(toml::from_str::<TcpConfig>(&text).unwrap(), c);
        let c: TcpConfig = toml::from_str(
            "profile = \"rfc9293\"\ndelayed_ack = \"100ms\"\nsyn_cookies = \"on_overflow\"",
        )
        .unwrap();
        assert_eq!(c.delayed_ack, Some(SimDuration::from_millis(100)));
        assert_eq!(c.syn_cookies, SynCookies::OnOverflow);
        assert_eq!(c.quick_acks, 0, "still the profile's");
        let e = toml::from_str::<TcpConfig>("syn_cookies = \"sometimes\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("off") && e.contains("on_overflow") && e.contains("always"),
            "{e}"
        );
        let e = toml::from_str::<TcpConfig>("delayed_ack = 40")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unit"), "{e}");
    }

    #[test]
    fn rto_estimator_key() {
        let c: TcpConfig = toml::from_str("rto_estimator = \"rfc6298\"").unwrap();
        assert_eq!(c.rto_estimator, RtoEstimator::Rfc6298);
        assert_eq!(
            c.rto_min,
            SimDuration::from_millis(200),
            "still the profile's"
        );
        let c: TcpConfig =
            toml::from_str("profile = \"rfc9293\"\nrto_estimator = \"linux\"").unwrap();
        assert_eq!(c.rto_estimator, RtoEstimator::Linux);
        let text = toml::to_string(&c).unwrap();
        assert!(text.contains("rto_estimator = \"linux\""), "{text}");
        assert_eq!(toml::from_str::<TcpConfig>(&text).unwrap(), c);
        let e = toml::from_str::<TcpConfig>("rto_estimator = \"bsd\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bsd") && e.contains("linux") && e.contains("rfc6298"),
            "{e}"
        );
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
        assert_eq!(
            bad(|c| c.fin_timeout = Some(SimDuration::ZERO)).field,
            "fin_timeout"
        );
        assert_eq!(
            bad(|c| c.connect_timeout = Some(SimDuration::from_secs(7200))).field,
            "connect_timeout"
        );
        assert_eq!(
            bad(|c| c.isn_clock_tick = SimDuration::ZERO).field,
            "isn_clock_tick"
        );
        assert_eq!(
            bad(|c| c.delayed_ack = Some(SimDuration::from_millis(500))).field,
            "delayed_ack"
        );
        assert_eq!(
            bad(|c| c.delayed_ack = Some(SimDuration::ZERO)).field,
            "delayed_ack"
        );
        assert_eq!(bad(|c| c.quick_acks = 17).field, "quick_acks");
        assert_eq!(bad(|c| c.syn_backlog = 0).field, "syn_backlog");
        assert_eq!(
            bad(|c| c.accept_backlog = MAX_BACKLOG + 1).field,
            "accept_backlog"
        );
        let e = bad(|c| c.ephemeral_ports = [0, 4]);
        assert!(e.to_string().starts_with("ephemeral_ports: "), "{e}");
    }
}

//! The transmission control block: one connection's state machine (RFC 9293 §3.3.2, §3.10).
//!
//! `Tcb` is what the host keeps per live connection, so it is a flat 128-byte struct with no
//! heap data; events and counters leave through a [`Sink`] at once instead of being queued
//! inside. TIME-WAIT lives in [`TwCore`] and the `time_wait_*` functions, which the host's
//! compact TIME-WAIT record runs too, so both behave the same by construction.

use sim_time::{SimDuration, SimTime};

use crate::config::{
    RstInTimeWait, RtoEstimator, TcpConfig, TwAcks, TwReopen, TwRestart, UnsentAck, MAX_RETRIES,
};
use crate::event::{transition_events, CloseReason, Event, Note, RtxKind, Sink, StaleKind, State};
use crate::wire::{reset_for, Addr, Flags, Segment, SeqNum};

/// MSS assumed when the peer sends no MSS option (RFC 9293 §3.7.1, RFC 1122 §4.2.2.6).
pub const DEFAULT_MSS: u16 = 536;

/// Least MSS this end sends with, whatever the peer's MSS option says: Linux
/// `__tcp_mtu_to_mss` floors the send MSS at 48 bytes, so that a peer announcing a tiny MSS
/// cannot make the sender cut its data into one-byte segments (the floor became the sysctl
/// `net.ipv4.tcp_min_snd_mss`, default `TCP_MIN_SND_MSS` = 48, with the fix for
/// CVE-2019-11479). Applied under both profiles: RFC 9293 sets no floor (§3.7.1 bounds the
/// send MSS by the peer's only), but tcpsim's hosts announce at least `MIN_MSS` (88), so
/// only a hand-made segment can announce less.
pub const MIN_SND_MSS: u16 = 48;

/// RTO after a handshake that had to retransmit, when `rto_initial` is smaller: RFC 6298 §5.7,
/// Linux `TCP_TIMEOUT_FALLBACK`.
pub const RTO_FALLBACK: SimDuration = SimDuration::from_secs(3);

/// ISS offset Linux uses when a SYN reopens a TIME-WAIT 4-tuple: SND.NXT + 65535 + 2
/// (`tcp_timewait_state_process`), so the new connection's numbers are past the old one's.
pub const TW_REOPEN_ISS_OFFSET: u32 = 65537;

/// Least time between two ACKs answering unacceptable pure ACKs on one connection: Linux
/// `net.ipv4.tcp_invalid_ratelimit` (500 ms), which breaks ACK loops between two ends that
/// each find the other's ACKs out of window (RFC 5961 §7 recommends the same for challenge
/// ACKs).
pub const OOW_ACK_INTERVAL: SimDuration = SimDuration::from_millis(500);

/// The rate limit of [`OOW_ACK_INTERVAL`] on one connection or TIME-WAIT record whose last
/// such ACK went at `*last_ms` (milliseconds + 1; 0: never): may another go `now`? If so it
/// is taken as sent. Milliseconds in a `u32` wrap after 49 days, as Linux's jiffies do.
pub(crate) fn oow_ack_allowed(last_ms: &mut u32, now: SimTime) -> bool {
    let now_ms = (now.as_nanos() / 1_000_000) as u32;
    let interval = (OOW_ACK_INTERVAL.as_nanos() / 1_000_000) as u32;
    if *last_ms != 0 && now_ms.wrapping_sub(*last_ms - 1) < interval {
        return false;
    }
    *last_ms = now_ms.wrapping_add(1).max(1);
    true
}

// Bits of `Tcb::bits`.
/// The application closed: a FIN goes after the queued data.
const FIN_QUEUED: u16 = 1 << 0;
/// The FIN has its sequence number: SND.NXT counts it.
const FIN_SENT: u16 = 1 << 1;
/// An ACK must go out at once (FIN, out-of-order or duplicate data, data past the delayed-ACK
/// rules, unacceptable segment, challenge ACK). A delayed ACK waits in `aux_at` instead.
const ACK_PENDING: u16 = 1 << 2;
/// ABORT: `<SEQ=SND.NXT><CTL=RST>` must go out (RFC 9293 §3.10.5).
const RST_PENDING: u16 = 1 << 3;
/// A reset answering a bad segment must go out: `<SEQ=reply_seq><CTL=RST>`, plus
/// `<ACK=reply_ack>` if `REPLY_WITH_ACK`.
const REPLY_RST: u16 = 1 << 4;
const REPLY_WITH_ACK: u16 = 1 << 5;
/// An RTT sample is being taken: `rtt_seq` was first sent at `rtt_start_us`.
const TIMING: u16 = 1 << 6;
/// With `RtoEstimator::Rfc6298`: SRTT and RTTVAR hold a measurement (RFC 6298 §2.2 has been
/// applied).
const HAVE_RTT: u16 = 1 << 7;
/// With `RtoEstimator::Linux` the same bit tells where Linux's `mdev_max_us` stands, which
/// is all that needs keeping of it (see [`Tcb::linux_rtt_sample`]): clear, it is still the
/// `rttvar_us` the first sample set; set, a later sample has closed an RTT window and reset
/// it to `rto_min`. Whether there is a measurement is `srtt_us != 0`, Linux's own test. The
/// bit is shared because `bits` is full and only one estimator runs on a connection.
const RTT_WINDOW_CLOSED: u16 = HAVE_RTT;
/// Opened by a SYN to a listener.
const PASSIVE: u16 = 1 << 8;
/// The SYN or SYN-ACK was sent more than once (RFC 6298 §5.7).
const HANDSHAKE_RTX: u16 = 1 << 9;
/// `ooo_start`/`ooo_len` hold a range of data received beyond RCV.NXT.
const OOO: u16 = 1 << 10;
/// Bits 11-15: ACKs of new data sent so far in quick-ack mode, saturating at 31 (Linux
/// `icsk_ack.quick`, counted up instead of down so that the limit can wait for the MSS).
const QUICK_SHIFT: u16 = 11;
const QUICK_MAX: u16 = 0x1f;

// `Tcb::retries` holds a count and one flag: the TCB is exactly 128 bytes and `bits` is full.
/// The retransmission count: at most `MAX_RETRIES` (127), so 7 bits.
const RETRIES_MASK: u8 = 0x7f;
/// The peer's FIN arrived beyond a gap and is held at the end of the out-of-order range
/// (`ooo_start + ooo_len`); once RCV.NXT reaches it (`OOO` cleared), it is due.
const FIN_HELD: u8 = 0x80;

/// State TIME-WAIT needs; shared by [`Tcb`] and the host's compact record.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct TwCore {
    pub snd_nxt: SeqNum,
    pub rcv_nxt: SeqNum,
    pub expires_at: SimTime,
    pub incarnation: u32,
}

/// What the owner of a TIME-WAIT must do after a segment.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum TwVerdict {
    /// Stay in TIME-WAIT; send [`time_wait_ack`] if `ack`.
    Stay { ack: bool },
    /// TIME-WAIT is over (events already reported); if `reopen`, the segment is a SYN that
    /// should go on to a listener.
    Closed { reopen: bool },
}

/// The ACK TIME-WAIT sends: `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>`.
pub(crate) fn time_wait_ack(tw: &TwCore, cfg: &TcpConfig, local: Addr, remote: Addr) -> Segment {
    Segment {
        src: local,
        dst: remote,
        seq: tw.snd_nxt,
        ack: tw.rcv_nxt,
        flags: Flags::ACK,
        window: cfg.window,
        mss: 0,
        payload_len: 0,
        incarnation: tw.incarnation,
    }
}

/// RFC 9293 §3.4: is a segment of `len` at `seq` acceptable to a receiver at `rcv_nxt` with
/// window `wnd`?
pub(crate) fn seq_acceptable(rcv_nxt: SeqNum, wnd: u16, seq: SeqNum, len: u32) -> bool {
    let wnd = wnd as u32;
    let in_window = |s: SeqNum| rcv_nxt.le(s) && s.lt(rcv_nxt + wnd);
    match (len, wnd) {
        (0, 0) => seq == rcv_nxt,
        (0, _) => in_window(seq),
        (_, 0) => false,
        _ => in_window(seq) || in_window(seq + (len - 1)),
    }
}

/// A duration in whole microseconds, rounded up (a nonzero duration stays nonzero) and
/// saturated at `u32::MAX` (71 minutes).
fn duration_us(d: SimDuration) -> u32 {
    d.as_nanos().div_ceil(1_000).min(u32::MAX as u64) as u32
}

/// `now` on a µs clock that wraps every 2^32 µs (71 minutes): what `rtt_start_us` holds.
#[inline(always)]
fn clock_us(now: SimTime) -> u32 {
    (now.as_nanos() / 1_000) as u32
}

/// Linux's RTT estimator state (`struct tcp_sock`): `srtt_us` is 8 × SRTT in µs (0 = no
/// sample yet), `mdev_us` 4 × the mean deviation, `mdev_max_us` the largest `mdev_us` of the
/// current RTT window (at least `tcp_rto_min`) and `rttvar_us` the deviation term of the
/// RTO, which follows `mdev_max_us` up at once and down by a quarter of the gap per window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LinuxRtt {
    pub srtt_us: u32,
    pub mdev_us: u32,
    pub mdev_max_us: u32,
    pub rttvar_us: u32,
}

impl LinuxRtt {
    /// Largest sample taken as it is: 8 × it still fits `srtt_us`'s u32 (Linux would
    /// overflow there; 536 s is far beyond any RTT but not beyond a configured `rto_max`).
    const MAX_SAMPLE_US: u32 = u32::MAX >> 3;

    /// Linux `tcp_rtt_estimator` with a sample of `m_us`. `window_ends`: Linux's
    /// `after(snd_una, rtt_seq)`, an ACK past what was sent when the RTT window opened.
    // Inlined into `rtt_sample` (a few dozen instructions, on most ACKs of new data).
    #[inline(always)]
    pub fn sample(&mut self, m_us: u32, window_ends: bool, rto_min_us: u32) {
        let m = m_us.min(Self::MAX_SAMPLE_US) as i64;
        let srtt = if self.srtt_us != 0 {
            // Jacobson's update on scaled values: the error moves SRTT by 1/8 and mdev by
            // 1/4 of |error| - mdev; an RTT below SRTT moves mdev by only 1/32, so that a
            // falling RTT does not inflate the RTO (Linux's Eifel-like rule).
            let err = m - (self.srtt_us >> 3) as i64;
            let srtt = self.srtt_us as i64 + err;
            let quarter = (self.mdev_us >> 2) as i64;
            let mut d = err.abs() - quarter;
            if err < 0 && d > 0 {
                d >>= 3;
            }
            // d >= -mdev/4, so mdev stays >= 0.
            self.mdev_us = (self.mdev_us as i64 + d) as u32;
            if self.mdev_us > self.mdev_max_us {
                self.mdev_max_us = self.mdev_us;
                self.rttvar_us = self.rttvar_us.max(self.mdev_max_us);
            }
            if window_ends {
                if self.mdev_max_us < self.rttvar_us {
                    self.rttvar_us -= (self.rttvar_us - self.mdev_max_us) >> 2;
                }
                self.mdev_max_us = rto_min_us;
            }
            srtt
        } else {
            // The first sample: RTO = 3 × it (SRTT + 2 × it), but rttvar at least rto_min.
            self.mdev_us = (m << 1) as u32;
            self.rttvar_us = self.mdev_us.max(rto_min_us);
            self.mdev_max_us = self.rttvar_us;
            m << 3
        };
        // Below 8 × MAX_SAMPLE_US + 8: the error term never takes SRTT past 8 × the sample.
        self.srtt_us = srtt.clamp(1, u32::MAX as i64) as u32;
    }

    /// Linux `__tcp_set_rto` and `tcp_bound_rto`: SRTT + rttvar, at most `rto_max_us`. No
    /// floor is needed: rttvar is never below `rto_min`. (Linux then rounds up to a jiffy,
    /// 1-4 ms by `CONFIG_HZ`; tcpsim keeps µs.)
    #[inline(always)]
    pub fn rto_us(&self, rto_max: SimDuration) -> u32 {
        let rto = (self.srtt_us >> 3) as u64 + self.rttvar_us as u64;
        // Compared in ns, so that the µs conversion (a division) is left to the rare clamp.
        if rto * 1_000 > rto_max.as_nanos() {
            duration_us(rto_max)
        } else {
            rto.min(u32::MAX as u64) as u32
        }
    }
}

/// How many ACKs of new data go out at once before delaying starts (Linux
/// `tcp_incr_quickack`): the window over two receive MSS, 2 if that is 0, at most
/// `quick_acks`.
fn quick_ack_limit(cfg: &TcpConfig, rcv_mss: u32) -> u32 {
    let q = cfg.window as u32 / (2 * rcv_mss.max(1));
    (if q == 0 { 2 } else { q }).min(cfg.quick_acks)
}

/// A segment arriving in TIME-WAIT (RFC 9293 §3.10.7.4 for TIME-WAIT, with RFC 5961 and the
/// Linux reopening rule; or Linux's answers, see [`TwAcks`]). Reports events through `sink`; the caller sends the ACK and, on
/// `Closed`, forgets the connection. `may_reopen`: something would take a reopening SYN
/// (a listener on the port); without one a SYN is only ACKed, as Linux's `tcp_v4_rcv`
/// falls through from `TCP_TW_SYN` to `TCP_TW_ACK` when no listener is found.
///
/// `oow_ack_ms`: when this record last answered a segment that could feed an ACK loop (see
/// [`oow_ack_allowed`]). Linux (`tcp_timewait_check_oow_rate_limit`) sends such an answer,
/// to anything but data or a FIN without SYN, at most once per [`OOW_ACK_INTERVAL`]; else
/// a TIME-WAIT and a new connection on its 4-tuple, each finding the other's ACKs
/// unacceptable, answer each other forever, and a duplicating link makes that a storm.
pub(crate) fn time_wait_segment<S: Sink>(
    tw: &mut TwCore,
    cfg: &TcpConfig,
    now: SimTime,
    seg: &Segment,
    may_reopen: bool,
    oow_ack_ms: &mut u32,
    sink: &mut S,
) -> TwVerdict {
    let (verdict, answer) = time_wait_verdict(tw, cfg, now, seg, may_reopen, sink);
    let loop_prone = seg.seg_len() == 0 || seg.flags.contains(Flags::SYN);
    match verdict {
        TwVerdict::Stay { ack: true } => {
            let sent =
                answer == TwAnswer::Always || !loop_prone || oow_ack_allowed(oow_ack_ms, now);
            if !sent {
                sink.note(Note::AckRateLimited);
            } else if answer == TwAnswer::Challenge {
                sink.note(Note::ChallengeAck);
            }
            TwVerdict::Stay { ack: sent }
        }
        v => v,
    }
}

/// What kind of answer a TIME-WAIT verdict's ACK is, for the rate limit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TwAnswer {
    /// An ACK to an unacceptable or unexpected segment.
    Plain,
    /// An RFC 5961 challenge ACK, counted as one when it goes.
    Challenge,
    /// Not limited: a SYN that would reopen the 4-tuple but finds no listener, which Linux's
    /// `tcp_v4_rcv` answers by falling through from `TCP_TW_SYN` to `TCP_TW_ACK`.
    Always,
}

/// [`time_wait_segment`] before the rate limit, with the kind of answer a `Stay { ack: true }`
/// is.
#[inline(always)]
fn time_wait_verdict<S: Sink>(
    tw: &mut TwCore,
    cfg: &TcpConfig,
    now: SimTime,
    seg: &Segment,
    may_reopen: bool,
    sink: &mut S,
) -> (TwVerdict, TwAnswer) {
    let f = seg.flags;
    let stale = seg.incarnation != tw.incarnation;
    let close = |sink: &mut S, reopen: bool| {
        transition_events(sink, State::TimeWait, State::Closed);
        sink.event(Event::Closed {
            reason: CloseReason::TimeWaitKilled,
        });
        TwVerdict::Closed { reopen }
    };
    let linux = cfg.tw_acks == TwAcks::Linux;
    if f.contains(Flags::RST) {
        // RFC 5961 §3.2: only an exact SEG.SEQ == RCV.NXT resets; in-window gets a challenge
        // ACK (not from Linux, which drops it); the rest is dropped. RFC 1337 ignores even
        // the exact one.
        let in_window = !linux && seq_acceptable(tw.rcv_nxt, cfg.window, seg.seq, 0);
        return match cfg.rst_in_time_wait {
            RstInTimeWait::Kill if seg.seq == tw.rcv_nxt => {
                if stale {
                    sink.event(Event::StaleAccepted {
                        kind: StaleKind::Rst,
                    });
                }
                (close(sink, false), TwAnswer::Plain)
            }
            RstInTimeWait::Kill if in_window => {
                (TwVerdict::Stay { ack: true }, TwAnswer::Challenge)
            }
            _ => {
                sink.note(Note::Unexpected);
                (TwVerdict::Stay { ack: false }, TwAnswer::Plain)
            }
        };
    }
    if f.contains(Flags::SYN) && !f.contains(Flags::ACK) {
        // A SYN numbered after this incarnation's data cannot be an old duplicate of it, so
        // the 4-tuple may be reused at once. Linux (tcp_timewait_state_process) wants SEG.SEQ
        // after RCV.NXT; RFC 6191 without timestamps (RFC 1122 §4.2.2.13) wants it after the
        // old connection's final sequence number, RCV.NXT - 1.
        let newer = match cfg.tw_reopen {
            TwReopen::Linux => seg.seq.gt(tw.rcv_nxt),
            TwReopen::Rfc6191 => seg.seq.ge(tw.rcv_nxt),
            TwReopen::Refuse => false,
        };
        if newer && may_reopen {
            return (close(sink, true), TwAnswer::Plain);
        }
        if newer {
            // No listener to take it: an ACK, never held back.
            return (TwVerdict::Stay { ack: true }, TwAnswer::Always);
        }
        // Otherwise RFC 5961 §4: answer with a challenge ACK and stay. Linux answers it as
        // any other segment it does not accept (TCP_TW_ACK), not counted as a challenge ACK.
        let answer = if linux {
            sink.note(Note::Unexpected);
            TwAnswer::Plain
        } else {
            TwAnswer::Challenge
        };
        return (TwVerdict::Stay { ack: true }, answer);
    }
    if f.contains(Flags::FIN) && seg.seq + seg.payload_len + 1 == tw.rcv_nxt {
        // The peer retransmitted its FIN, so our last ACK was lost: ACK again and restart
        // the 2 MSL timeout (RFC 9293 §3.10.7.4, fifth and eighth steps, TIME-WAIT).
        if stale {
            sink.event(Event::StaleAccepted {
                kind: StaleKind::Fin,
            });
        }
        tw.expires_at = now + cfg.time_wait();
        return (TwVerdict::Stay { ack: true }, TwAnswer::Plain);
    }
    sink.note(Note::Unexpected);
    if cfg.tw_restart == TwRestart::Ack && f.contains(Flags::ACK) {
        tw.expires_at = now + cfg.time_wait();
    }
    if linux {
        // Only the bare ACK at RCV.NXT goes unanswered: data, a FIN that is not the one
        // already received, a SYN-ACK, anything off RCV.NXT, in the window or not, is ACKed.
        let bare = seg.seq == tw.rcv_nxt && seg.seg_len() == 0;
        (TwVerdict::Stay { ack: !bare }, TwAnswer::Plain)
    } else if seq_acceptable(tw.rcv_nxt, cfg.window, seg.seq, seg.seg_len()) {
        // In window but nothing TIME-WAIT expects (text after the FIN is ignored, §3.10.7.4
        // seventh step; a SYN-ACK gets the RFC 5961 §4 challenge ACK).
        let ack = f.contains(Flags::SYN);
        (TwVerdict::Stay { ack }, TwAnswer::Plain)
    } else {
        // §3.10.7.4 first step: an unacceptable segment is answered with an ACK.
        (TwVerdict::Stay { ack: true }, TwAnswer::Plain)
    }
}

/// TIME-WAIT's timer (RFC 9293 §3.10.8): at `expires_at` the connection closes normally.
/// Returns true (events reported) if it expired.
#[inline(always)]
pub(crate) fn time_wait_timeout<S: Sink>(tw: &TwCore, now: SimTime, sink: &mut S) -> bool {
    if now < tw.expires_at {
        return false;
    }
    transition_events(sink, State::TimeWait, State::Closed);
    sink.event(Event::Closed {
        reason: CloseReason::Normal,
    });
    true
}

/// Whether payload `[seq, seq+len)`, before any clip to the window, goes beyond `at`
/// (compared as lengths, so nothing wraps).
fn data_runs_past(seq: SeqNum, len: u32, at: SeqNum) -> bool {
    len as i64 > (at - seq) as i64
}

/// One connection. Field names follow RFC 9293 §3.3.1.
#[derive(Clone, Debug)]
pub(crate) struct Tcb {
    pub local: Addr,
    pub remote: Addr,
    pub incarnation: u32,
    iss: SeqNum,
    snd_una: SeqNum,
    /// Highest sequence number sent so far, plus one (SND.NXT).
    pub snd_nxt: SeqNum,
    /// Next sequence number to put on the wire: SND.NXT, or behind it after an RTO while
    /// going back to SND.UNA.
    snd_rtx: SeqNum,
    snd_wl1: SeqNum,
    snd_wl2: SeqNum,
    pub rcv_nxt: SeqNum,
    rtt_seq: SeqNum,
    /// RCV.NXT when our last ACK left (Linux `rcv_wup`): RCV.NXT - RCV.WUP is what the peer
    /// has sent that we have not acknowledged yet.
    rcv_wup: SeqNum,
    ooo_start: SeqNum,
    /// At most the window (65535): the range is clipped to it.
    ooo_len: u16,
    reply_seq: SeqNum,
    reply_ack: SeqNum,
    /// Bytes the application queued that have no sequence numbers yet.
    snd_pending: u64,
    /// RTO deadline, TIME-WAIT expiry in TIME-WAIT, the orphan timeout in FIN-WAIT-2;
    /// `SimTime::MAX` = not running.
    pub timer_at: SimTime,
    /// The second timer: the `connect_timeout` deadline in SYN-SENT and an actively opened
    /// SYN-RECEIVED, the delayed ACK in the synchronized states; `SimTime::MAX` = not
    /// running.
    aux_at: SimTime,
    /// When the segment ending at `rtt_seq` was sent: the simulation clock in whole µs,
    /// modulo 2^32 (71 minutes, more than any RTO, so a sample's span never wraps twice).
    /// Linux times segments in µs too (`tcp_skb_timestamp_us`); 4 bytes instead of a
    /// `SimTime`'s 8 make room for `mdev_us`.
    rtt_start_us: u32,
    /// The estimator's state in microseconds, 4 bytes each (as Linux keeps `srtt_us`,
    /// `mdev_us` and `rttvar_us`), which keeps the TCB within 128 bytes. `Rfc6298`: SRTT and
    /// RTTVAR, `mdev_us` unused. `Linux`: `srtt_us` is 8 × SRTT (0 = no sample), `mdev_us`
    /// 4 × the mean deviation and `rttvar_us` Linux's `rttvar_us`, so RTO = `srtt_us` / 8 +
    /// `rttvar_us`.
    srtt_us: u32,
    rttvar_us: u32,
    mdev_us: u32,
    /// When the last ACK answering an unacceptable pure ACK left, in ms (+1; 0 = never), for
    /// the Linux `tcp_invalid_ratelimit` (see [`OOW_ACK_INTERVAL`]).
    oow_ack_ms: u32,
    /// The RTO in microseconds, as Linux keeps `icsk_rto` in a u32: 4 bytes instead of 8 make
    /// room for `rcv_wup`. At most `MAX_DURATION` (3600 s) < 2^32 µs, so nothing saturates
    /// with a validated configuration.
    rto_us: u32,
    snd_wnd: u16,
    max_snd_wnd: u16,
    send_mss: u16,
    bits: u16,
    pub state: State,
    /// Retransmissions since SND.UNA last advanced (`RETRIES_MASK`), and `FIN_HELD`.
    retries: u8,
}

/// What every new TCB takes from the configuration, converted once (a host keeps one)
/// rather than at every open: building a TCB is then copies and constants.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TcbInit {
    rto_us: u32,
    send_mss: u16,
}

impl TcbInit {
    pub fn new(cfg: &TcpConfig) -> TcbInit {
        TcbInit {
            rto_us: duration_us(cfg.rto_initial),
            send_mss: DEFAULT_MSS.min(cfg.mss),
        }
    }
}

impl Tcb {
    fn blank(init: TcbInit, local: Addr, remote: Addr, iss: SeqNum, incarnation: u32) -> Tcb {
        Tcb {
            local,
            remote,
            incarnation,
            iss,
            snd_una: iss,
            snd_nxt: iss + 1,
            snd_rtx: iss,
            snd_wl1: SeqNum(0),
            snd_wl2: SeqNum(0),
            rcv_nxt: SeqNum(0),
            rtt_seq: SeqNum(0),
            rcv_wup: SeqNum(0),
            ooo_start: SeqNum(0),
            ooo_len: 0,
            reply_seq: SeqNum(0),
            reply_ack: SeqNum(0),
            snd_pending: 0,
            timer_at: SimTime::MAX,
            aux_at: SimTime::MAX,
            rtt_start_us: 0,
            srtt_us: 0,
            rttvar_us: 0,
            mdev_us: 0,
            oow_ack_ms: 0,
            rto_us: init.rto_us,
            snd_wnd: 0,
            max_snd_wnd: 0,
            send_mss: init.send_mss,
            bits: 0,
            state: State::Closed,
            retries: 0,
        }
    }

    /// OPEN, active (RFC 9293 §3.10.1): SND.UNA = ISS, SND.NXT = ISS + 1, SYN-SENT; the SYN
    /// goes out on the next `poll_transmit`. Inlined (as `accept`) so that the host builds
    /// the TCB in place in its slot rather than copying it there.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn connect<S: Sink>(
        cfg: &TcpConfig,
        init: TcbInit,
        now: SimTime,
        local: Addr,
        remote: Addr,
        iss: SeqNum,
        incarnation: u32,
        sink: &mut S,
    ) -> Tcb {
        let mut t = Tcb::blank(init, local, remote, iss, incarnation);
        if let Some(d) = cfg.connect_timeout {
            t.aux_at = now + d;
        }
        t.set_state(State::SynSent, sink);
        t
    }

    /// LISTEN's answer to a SYN (RFC 9293 §3.10.7.2, third step): RCV.NXT = SEG.SEQ + 1,
    /// SYN-RECEIVED; the SYN-ACK goes out on the next `poll_transmit`.
    #[inline(always)]
    pub fn accept<S: Sink>(
        cfg: &TcpConfig,
        init: TcbInit,
        local: Addr,
        syn: &Segment,
        iss: SeqNum,
        sink: &mut S,
    ) -> Tcb {
        let mut t = Tcb::blank(init, local, syn.src, iss, syn.incarnation);
        t.state = State::Listen;
        t.bits |= PASSIVE;
        t.rcv_nxt = syn.seq + 1;
        t.rcv_wup = t.rcv_nxt;
        t.set_peer_mss(cfg, syn.mss);
        t.update_window(syn);
        t.set_state(State::SynReceived, sink);
        t
    }

    /// A listener's answer to an ACK that returned a valid SYN cookie (Linux `cookie_v4_check`
    /// then `tcp_get_cookie_sock`): the SYN-ACK went out statelessly, so the connection is
    /// rebuilt from the ACK alone. ISS = SEG.ACK - 1 (the cookie), IRS = SEG.SEQ - 1, RCV.NXT =
    /// SEG.SEQ, the peer's MSS is the one the cookie carried (`mss`), and the incarnation is
    /// the ACK's. It passes through SYN-RECEIVED (reported, like Linux's child socket that
    /// `tcp_create_openreq_child` makes in TCP_SYN_RECV) and the ACK is then processed as
    /// SYN-RECEIVED processes it: ESTABLISHED with SND.UNA = SND.NXT = SEG.ACK, and any data
    /// or FIN on the ACK is taken as usual.
    pub fn accept_cookie<S: Sink>(
        cfg: &TcpConfig,
        init: TcbInit,
        now: SimTime,
        local: Addr,
        ack: &Segment,
        mss: u16,
        sink: &mut S,
    ) -> Tcb {
        let iss = ack.ack - 1;
        let mut t = Tcb::blank(init, local, ack.src, iss, ack.incarnation);
        t.state = State::Listen;
        t.bits |= PASSIVE;
        t.rcv_nxt = ack.seq;
        t.rcv_wup = ack.seq;
        t.set_peer_mss(cfg, mss);
        // The SYN-ACK (the cookie) is already out: nothing to send or time for it.
        t.snd_rtx = iss + 1;
        t.set_state(State::SynReceived, sink);
        t.handle_segment(cfg, now, ack, sink);
        if t.state == State::SynReceived {
            // Only with an invalid zero window can the ACK be unacceptable; then behave like
            // a stateful SYN-RECEIVED whose SYN-ACK is due again, so it ends by timing out.
            t.timer_at = now + t.rto();
        }
        t
    }

    /// Would `seg` take this SYN-RECEIVED connection to ESTABLISHED (RFC 9293 §3.10.7.4:
    /// acceptable sequence number, no RST or SYN, SND.UNA < SEG.ACK =< SND.NXT)? The host asks
    /// before handing over the final ACK of a handshake, to drop it when the accept queue is
    /// full (Linux `tcp_check_req` -> `syn_recv_sock` failing on `sk_acceptq_is_full`).
    pub fn completes_handshake(&self, cfg: &TcpConfig, seg: &Segment) -> bool {
        let f = seg.flags;
        self.state == State::SynReceived
            && f.contains(Flags::ACK)
            && !f.contains(Flags::RST)
            && !f.contains(Flags::SYN)
            && seq_acceptable(self.rcv_nxt, cfg.window, seg.seq, seg.seg_len())
            && self.snd_una.lt(seg.ack)
            && seg.ack.le(self.snd_nxt)
    }

    /// The only place `state` changes (besides TIME-WAIT's shared closing path).
    fn set_state<S: Sink>(&mut self, to: State, sink: &mut S) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        if to == State::Established {
            // The connect deadline is met; the second timer now serves the delayed ACK.
            self.aux_at = SimTime::MAX;
        }
        transition_events(sink, from, to);
    }

    #[inline]
    fn close_with<S: Sink>(&mut self, reason: CloseReason, sink: &mut S) {
        self.set_state(State::Closed, sink);
        sink.event(Event::Closed { reason });
        self.timer_at = SimTime::MAX;
        self.aux_at = SimTime::MAX;
        self.snd_pending = 0;
        self.snd_rtx = self.snd_nxt;
        // Only an abort's RST may still leave.
        self.bits &= RST_PENDING | REPLY_RST | REPLY_WITH_ACK;
    }

    // Always inlined: once per active close, from segment handling; the call cost more.
    #[inline(always)]
    fn enter_time_wait<S: Sink>(&mut self, cfg: &TcpConfig, now: SimTime, sink: &mut S) {
        self.set_state(State::TimeWait, sink);
        // RFC 9293 §3.10.7.4: start the time-wait timer, turn off the other timers.
        self.timer_at = now + cfg.time_wait();
        self.aux_at = SimTime::MAX;
        self.snd_pending = 0;
        self.bits &= !(TIMING | OOO);
        self.retries &= !FIN_HELD;
        // Linux `tcp_time_wait`: `tw_last_oow_ack_time = 0`. The host's compact record
        // starts the same way.
        self.oow_ack_ms = 0;
    }

    pub fn time_wait_core(&self) -> TwCore {
        TwCore {
            snd_nxt: self.snd_nxt,
            rcv_nxt: self.rcv_nxt,
            expires_at: self.timer_at,
            incarnation: self.incarnation,
        }
    }

    fn set_peer_mss(&mut self, cfg: &TcpConfig, mss: u16) {
        // RFC 9293 §3.7.1: send at most the peer's MSS, 536 if it gave none; but never less
        // than Linux's floor, which overrides the peer's MSS below it (see `MIN_SND_MSS`;
        // our own `cfg.mss` is at least `MIN_MSS`, above the floor).
        let peer = if mss == 0 { DEFAULT_MSS } else { mss };
        self.send_mss = peer.min(cfg.mss).max(MIN_SND_MSS);
    }

    fn update_window(&mut self, seg: &Segment) {
        self.snd_wnd = seg.window;
        self.max_snd_wnd = self.max_snd_wnd.max(seg.window);
        self.snd_wl1 = seg.seq;
        self.snd_wl2 = seg.ack;
    }

    fn queue_reply_rst(&mut self, seq: SeqNum, ack: Option<SeqNum>) {
        self.reply_seq = seq;
        self.bits |= REPLY_RST;
        match ack {
            Some(a) => {
                self.reply_ack = a;
                self.bits |= REPLY_WITH_ACK;
            }
            None => self.bits &= !REPLY_WITH_ACK,
        }
    }

    /// An RFC 5961 challenge ACK, at most once per [`OOW_ACK_INTERVAL`] like any answer that
    /// could feed a loop (RFC 5961 §7; Linux `tcp_send_challenge_ack`).
    fn challenge_ack<S: Sink>(&mut self, now: SimTime, sink: &mut S) {
        if oow_ack_allowed(&mut self.oow_ack_ms, now) {
            sink.note(Note::ChallengeAck);
            self.bits |= ACK_PENDING;
        } else {
            sink.note(Note::AckRateLimited);
        }
    }

    /// Queues the ACK owed to an unacceptable segment unless one went less than
    /// [`OOW_ACK_INTERVAL`] ago (Linux `tcp_oow_rate_limited`).
    fn ack_rate_limited<S: Sink>(&mut self, now: SimTime, sink: &mut S) {
        if oow_ack_allowed(&mut self.oow_ack_ms, now) {
            self.bits |= ACK_PENDING;
        } else {
            sink.note(Note::AckRateLimited);
        }
    }

    fn fin_sent(&self) -> bool {
        self.bits & FIN_SENT != 0
    }

    /// End of the data that has sequence numbers (SND.NXT without the FIN).
    fn data_end(&self) -> SeqNum {
        self.snd_nxt - self.fin_sent() as u32
    }

    pub fn send_mss(&self) -> u16 {
        self.send_mss
    }
    pub fn snd_una(&self) -> SeqNum {
        self.snd_una
    }
    pub fn rto(&self) -> SimDuration {
        SimDuration::from_micros(self.rto_us as u64)
    }
    fn set_rto(&mut self, rto: SimDuration) {
        self.rto_us = duration_us(rto);
    }
    pub fn srtt(&self, cfg: &TcpConfig) -> Option<SimDuration> {
        let us = |v: u32| SimDuration::from_micros(v as u64);
        match cfg.rto_estimator {
            RtoEstimator::Rfc6298 => (self.bits & HAVE_RTT != 0).then_some(us(self.srtt_us)),
            // What Linux reports as `tcpi_rtt`.
            RtoEstimator::Linux => (self.srtt_us != 0).then_some(us(self.srtt_us >> 3)),
        }
    }
    pub fn is_passive(&self) -> bool {
        self.bits & PASSIVE != 0
    }
    /// Retransmissions since SND.UNA last advanced: in SYN-RECEIVED, of the SYN-ACK (Linux
    /// `req->num_timeout`).
    pub fn retransmissions(&self) -> u32 {
        (self.retries & RETRIES_MASK) as u32
    }

    // ---------------------------------------------------------------- application calls

    /// SEND (RFC 9293 §3.10.2): queue bytes; refused once the application has closed.
    pub fn send<S: Sink>(&mut self, bytes: u64, sink: &mut S) {
        match self.state {
            State::SynSent | State::SynReceived | State::Established | State::CloseWait
                if self.bits & FIN_QUEUED == 0 =>
            {
                self.snd_pending = self.snd_pending.saturating_add(bytes);
            }
            _ => sink.note(Note::IgnoredAppCall),
        }
    }

    /// CLOSE (RFC 9293 §3.10.4). Inlined into `Host::close`: every connection is closed by
    /// both ends, and the call cost as much as the work.
    #[inline(always)]
    pub fn close<S: Sink>(&mut self, sink: &mut S) {
        match self.state {
            // "Delete the TCB": nothing was synchronized, so this is an abort.
            State::SynSent => self.close_with(CloseReason::Aborted, sink),
            // The RFC lets the FIN wait for ESTABLISHED when it cannot go now; we always wait,
            // so no FIN is sequenced before our SYN is acknowledged.
            State::SynReceived if self.bits & FIN_QUEUED == 0 => self.bits |= FIN_QUEUED,
            // FIN after the queued data; FIN-WAIT-1 at once, as the RFC and Linux do.
            State::Established => {
                self.bits |= FIN_QUEUED;
                self.set_state(State::FinWait1, sink);
            }
            State::CloseWait => {
                self.bits |= FIN_QUEUED;
                self.set_state(State::LastAck, sink);
            }
            // "error: connection closing" / "connection does not exist".
            _ => sink.note(Note::IgnoredAppCall),
        }
    }

    /// ABORT (RFC 9293 §3.10.5).
    pub fn abort<S: Sink>(&mut self, sink: &mut S) {
        match self.state {
            // Synchronized states tell the peer: <SEQ=SND.NXT><CTL=RST>.
            State::SynReceived
            | State::Established
            | State::FinWait1
            | State::FinWait2
            | State::CloseWait => {
                self.bits |= RST_PENDING;
                self.close_with(CloseReason::Aborted, sink);
            }
            // Nothing to tell: just delete the TCB.
            State::SynSent | State::Closing | State::LastAck | State::TimeWait | State::Listen => {
                self.close_with(CloseReason::Aborted, sink)
            }
            State::Closed => sink.note(Note::IgnoredAppCall),
        }
    }

    // ---------------------------------------------------------------- segment arrives

    /// SEGMENT ARRIVES (RFC 9293 §3.10.7): one arm per state group.
    #[inline]
    pub fn handle_segment<S: Sink>(
        &mut self,
        cfg: &TcpConfig,
        now: SimTime,
        seg: &Segment,
        sink: &mut S,
    ) {
        match self.state {
            // §3.10.7.1: no connection; everything but a RST is answered with a RST.
            State::Closed => {
                if let Some(r) = reset_for(seg) {
                    self.queue_reply_rst(r.seq, r.flags.contains(Flags::ACK).then_some(r.ack));
                }
                sink.note(Note::Unexpected);
            }
            // §3.10.7.2 is the host's listener; a TCB never waits in LISTEN.
            State::Listen => sink.note(Note::Unexpected),
            // §3.10.7.3.
            State::SynSent => self.on_syn_sent(cfg, now, seg, sink),
            // §3.10.7.4 for TIME-WAIT, shared with the host's compact record.
            State::TimeWait => {
                let mut tw = self.time_wait_core();
                // A lone endpoint stands for the application that would take the 4-tuple again.
                match time_wait_segment(&mut tw, cfg, now, seg, true, &mut self.oow_ack_ms, sink) {
                    TwVerdict::Stay { ack } => {
                        self.timer_at = tw.expires_at;
                        if ack {
                            self.bits |= ACK_PENDING;
                        }
                    }
                    // A standalone endpoint has no listener to hand a reopening SYN to.
                    TwVerdict::Closed { .. } => {
                        self.state = State::Closed;
                        self.timer_at = SimTime::MAX;
                        self.bits = 0;
                    }
                }
            }
            // §3.10.7.4 for the others.
            State::SynReceived
            | State::Established
            | State::FinWait1
            | State::FinWait2
            | State::CloseWait
            | State::Closing
            | State::LastAck => self.on_other_states(cfg, now, seg, sink),
        }
    }

    /// RFC 9293 §3.10.7.3, SYN-SENT.
    fn on_syn_sent<S: Sink>(&mut self, cfg: &TcpConfig, now: SimTime, seg: &Segment, sink: &mut S) {
        let f = seg.flags;
        let has_ack = f.contains(Flags::ACK);
        // First: an ACK of something we never sent is reset (unless it is a RST itself).
        if has_ack && (seg.ack.le(self.iss) || seg.ack.gt(self.snd_nxt)) {
            if !f.contains(Flags::RST) {
                self.queue_reply_rst(seg.ack, None);
            }
            sink.note(Note::Unexpected);
            return;
        }
        // Second: a RST counts only if it acknowledges our SYN (RFC 5961 §3.2).
        if f.contains(Flags::RST) {
            if has_ack {
                self.report_stale(seg, StaleKind::Rst, sink);
                self.close_with(CloseReason::Reset, sink);
            } else {
                sink.note(Note::Unexpected);
            }
            return;
        }
        // Fourth: without a SYN there is nothing to synchronize with.
        if !f.contains(Flags::SYN) {
            sink.note(Note::Unexpected);
            return;
        }
        self.rcv_nxt = seg.seq + 1;
        self.rcv_wup = self.rcv_nxt;
        self.set_peer_mss(cfg, seg.mss);
        self.update_window(seg);
        if has_ack {
            // SYN-ACK: our SYN is acknowledged; ESTABLISHED, and ACK it.
            self.ack_advanced(cfg, now, seg.ack);
            self.finish_handshake(cfg);
            self.set_state(State::Established, sink);
            self.bits |= ACK_PENDING;
            // Data and FIN riding on the SYN-ACK: continue at the sixth step.
            // (A stale SYN-ACK reports Syn, whatever else it carried.)
            let mut kind = None;
            self.process_text_and_fin(cfg, now, seg, seg.seq + 1, false, &mut kind, sink);
            self.report_stale(seg, StaleKind::Syn, sink);
        } else {
            // Simultaneous open (§3.5 Figure 8): SYN-RECEIVED, answer with SYN-ACK. Text on
            // the SYN is not kept; the peer will send it again.
            if seg.payload_len > 0 || f.contains(Flags::FIN) {
                sink.note(Note::Unexpected);
            }
            self.set_state(State::SynReceived, sink);
            self.snd_rtx = self.iss;
            // Our SYN goes out again inside the SYN-ACK: whatever acknowledges it now may
            // answer either copy, so Karn's rule (RFC 6298 §3) allows no RTT sample of the
            // first one either.
            self.bits &= !TIMING;
            self.report_stale(seg, StaleKind::Syn, sink);
        }
    }

    /// RFC 9293 §3.10.7.4: SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1/2, CLOSE-WAIT, CLOSING,
    /// LAST-ACK (TIME-WAIT has its own function).
    #[inline]
    fn on_other_states<S: Sink>(
        &mut self,
        cfg: &TcpConfig,
        now: SimTime,
        seg: &Segment,
        sink: &mut S,
    ) {
        // First: sequence number. The rare unacceptable segment is handled out of line, so
        // that this function has no recursion and can be inlined into `handle_segment`.
        // A segment at RCV.NXT with an open window is acceptable whatever its length (its
        // first octet is in the window): the in-order segment, almost every one, is let
        // through without working out SEG.LEN.
        if (seg.seq == self.rcv_nxt && cfg.window != 0)
            || seq_acceptable(self.rcv_nxt, cfg.window, seg.seq, seg.seg_len())
        {
            self.on_acceptable(cfg, now, seg, sink);
        } else if let Some(ack) = self.on_unacceptable(now, seg, sink) {
            // RCV.NXT with no length is always acceptable: go on as if it had come.
            self.on_acceptable_out_of_line(cfg, now, &ack, sink);
        }
    }

    /// [`on_acceptable`](Tcb::on_acceptable) for the ACK `on_unacceptable` made up: a copy out
    /// of line, so that the inlined one reads the arriving segment, not a choice of two.
    #[inline(never)]
    #[cold]
    fn on_acceptable_out_of_line<S: Sink>(
        &mut self,
        cfg: &TcpConfig,
        now: SimTime,
        seg: &Segment,
        sink: &mut S,
    ) {
        self.on_acceptable(cfg, now, seg, sink);
    }

    /// Second to fifth steps of §3.10.7.4 for an acceptable segment with RST or SYN, or without
    /// ACK: it ends here.
    #[cold]
    #[inline(never)]
    fn on_control_or_no_ack<S: Sink>(&mut self, now: SimTime, seg: &Segment, sink: &mut S) {
        let f = seg.flags;
        // Second: RST (RFC 5961 §3.2 exact match; in-window otherwise gets a challenge ACK).
        if f.contains(Flags::RST) {
            if seg.seq == self.rcv_nxt {
                // SYN-RECEIVED from a passive open "returns to LISTEN": the host's listener
                // is separate, so this connection simply ends.
                self.report_stale(seg, StaleKind::Rst, sink);
                self.close_with(CloseReason::Reset, sink);
            } else {
                self.challenge_ack(now, sink);
            }
            return;
        }
        // Fourth: SYN.
        if f.contains(Flags::SYN) {
            if self.state == State::SynReceived && self.is_passive() {
                // §3.10.7.4: a passive SYN-RECEIVED returns to LISTEN (here: ends).
                sink.note(Note::Unexpected);
                self.close_with(CloseReason::Reset, sink);
            } else {
                // RFC 5961 §4: challenge ACK.
                self.challenge_ack(now, sink);
            }
            return;
        }
        // Fifth: no ACK (the caller sends nothing else here).
        debug_assert!(!f.contains(Flags::ACK));
        sink.note(Note::Unexpected);
    }

    /// §3.10.7.4 from the second step on, for a segment whose sequence number is acceptable.
    #[inline(always)]
    fn on_acceptable<S: Sink>(
        &mut self,
        cfg: &TcpConfig,
        now: SimTime,
        seg: &Segment,
        sink: &mut S,
    ) {
        // Second to fifth steps: almost every segment has ACK and neither RST nor SYN, which
        // one test tells; the others are handled out of line.
        let f = seg.flags;
        if f.0 & (Flags::RST.0 | Flags::SYN.0 | Flags::ACK.0) != Flags::ACK.0 {
            self.on_control_or_no_ack(now, seg, sink);
            return;
        }
        let mut stale: Option<StaleKind> = None;
        let handshake_ends = self.state == State::SynReceived;
        if handshake_ends {
            if !(self.snd_una.lt(seg.ack) && seg.ack.le(self.snd_nxt)) {
                // Not an ACK of our SYN: <SEQ=SEG.ACK><CTL=RST>.
                self.queue_reply_rst(seg.ack, None);
                sink.note(Note::Unexpected);
                return;
            }
            self.update_window(seg);
            self.set_state(State::Established, sink);
            if self.bits & FIN_QUEUED != 0 {
                // A CLOSE issued in SYN-RECEIVED takes effect now (§3.10.4).
                self.set_state(State::FinWait1, sink);
            }
        }
        if seg.ack.gt(self.snd_nxt) || seg.ack.lt(self.snd_una - self.max_snd_wnd as u32) {
            // Acknowledges something not yet sent, or (RFC 5961 §5.2) older than anything
            // the peer could still be acknowledging: ACK and drop. The ACK is rate-limited
            // like a challenge ACK (RFC 5961 §7; Linux `tcp_send_challenge_ack`, data or not):
            // a new connection on an old one's 4-tuple and the old one's TIME-WAIT each find
            // the other's ACKs beyond what they sent, and would answer each other forever.
            // Linux's ESTABLISHED drops an ACK of unsent data without answering
            // (`unsent_ack = "drop"`).
            sink.note(Note::Unexpected);
            if !(seg.ack.gt(self.snd_nxt)
                && self.state == State::Established
                && cfg.unsent_ack == UnsentAck::Drop)
            {
                self.ack_rate_limited(now, sink);
            }
            return;
        }
        if self.snd_una.lt(seg.ack) {
            self.ack_advanced(cfg, now, seg.ack);
            stale = Some(StaleKind::Ack);
        }
        if handshake_ends {
            // After the final ACK's sample, as Linux measures the SYN-ACK
            // (`tcp_synack_rtt_meas`) before `tcp_init_metrics` looks for a sample.
            self.finish_handshake(cfg);
        }
        // SND.WND update rule (§3.10.7.4, ESTABLISHED).
        if self.snd_wl1.lt(seg.seq) || (self.snd_wl1 == seg.seq && self.snd_wl2.le(seg.ack)) {
            self.update_window(seg);
        }
        let fin_acked = self.fin_sent() && self.snd_una == self.snd_nxt;
        match self.state {
            // FIN-WAIT-1 -> FIN-WAIT-2 waits until the FIN step: a FIN in this same segment
            // goes straight to TIME-WAIT.
            State::FinWait1 => {}
            State::Closing if fin_acked => {
                self.report_stale(seg, stale.unwrap_or(StaleKind::Ack), sink);
                self.enter_time_wait(cfg, now, sink);
                return;
            }
            State::LastAck if fin_acked => {
                self.report_stale(seg, stale.unwrap_or(StaleKind::Ack), sink);
                self.close_with(CloseReason::Normal, sink);
                return;
            }
            _ => {}
        }
        self.process_text_and_fin(cfg, now, seg, seg.seq, fin_acked, &mut stale, sink);
        if self.state == State::FinWait1 && fin_acked {
            self.set_state(State::FinWait2, sink);
            // Nothing is outstanding, so the RTO timer is free to run the orphan timeout
            // (Linux tcp_rcv_state_process, FIN-WAIT-1: `tcp_time_wait(sk, TCP_FIN_WAIT2,
            // tcp_fin_time(sk))`). `close` is the only way to FIN-WAIT-1 and the model's close
            // is Linux close(), so every connection here is an orphan.
            if let Some(d) = cfg.fin_timeout {
                self.timer_at = now + d;
            }
        }
        if let Some(kind) = stale {
            self.report_stale(seg, kind, sink);
        }
    }

    /// The first step of §3.10.7.4 for a segment whose sequence number is unacceptable.
    /// Returns the ACK to go on with when it is the SYN-ACK that completes a simultaneous
    /// open; `None` when the segment ends here.
    #[inline(never)]
    fn on_unacceptable<S: Sink>(
        &mut self,
        now: SimTime,
        seg: &Segment,
        sink: &mut S,
    ) -> Option<Segment> {
        let f = seg.flags;
        if f.contains(Flags::RST) {
            sink.note(Note::Unexpected);
            return None;
        }
        if self.state == State::SynReceived
            && !self.is_passive()
            && f.contains(Flags::SYN | Flags::ACK)
            && seg.seq + 1 == self.rcv_nxt
            && seg.ack == self.snd_nxt
        {
            // Simultaneous open: the peer's SYN-ACK, its SYN repeated with the ACK of
            // ours, completes the open (§3.5 Figure 8, line 6). Its SYN lies before
            // RCV.NXT, so the generic rule would ACK and drop it and the open would wait
            // for that ACK's answer, one more trip; Linux passes it too
            // (`tcp_validate_incoming`: SYN_RECV, `seq + 1 == rcv_nxt`, `ack_seq ==
            // snd_nxt`). Go on with the ACK it carries. Text on it is not kept, as on
            // the crossing SYN (the peer sends it again).
            if seg.payload_len > 0 || f.contains(Flags::FIN) {
                sink.note(Note::Unexpected);
            }
            // A stale one is a stale SYN, as in SYN-SENT; the ACK made of it carries our
            // incarnation so that it is not reported a second time, as an ACK.
            self.report_stale(seg, StaleKind::Syn, sink);
            let ack = Segment {
                seq: self.rcv_nxt,
                flags: Flags::ACK,
                payload_len: 0,
                incarnation: self.incarnation,
                ..*seg
            };
            return Some(ack);
        }
        if self.state == State::SynReceived
            && f.contains(Flags::SYN)
            && !f.contains(Flags::ACK)
            && seg.seq + 1 == self.rcv_nxt
        {
            // The peer sent its SYN again, so our SYN-ACK was lost: send it again
            // (Linux tcp_check_req -> inet_rtx_syn_ack). Karn: no RTT sample now.
            self.snd_rtx = self.iss;
            self.bits = (self.bits | HANDSHAKE_RTX) & !TIMING;
            sink.event(Event::Retransmit {
                kind: RtxKind::SynAck,
            });
            return None;
        }
        // Old duplicate (including a SYN-ACK retransmitted because our ACK was lost):
        // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>. Anything but data or a FIN without SYN gets
        // that at most once per OOW_ACK_INTERVAL (Linux `tcp_oow_rate_limited`; a SYN is a
        // challenge, `tcp_send_challenge_ack`), or two confused ends would ACK each other
        // forever.
        sink.note(Note::Unexpected);
        if seg.seg_len() > 0 && !seg.flags.contains(Flags::SYN) {
            self.bits |= ACK_PENDING;
        } else {
            self.ack_rate_limited(now, sink);
        }
        None
    }

    /// Steps six to eight of §3.10.7.4: payload starting at `data_seq`, then FIN.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn process_text_and_fin<S: Sink>(
        &mut self,
        cfg: &TcpConfig,
        now: SimTime,
        seg: &Segment,
        data_seq: SeqNum,
        fin_acked: bool,
        stale: &mut Option<StaleKind>,
        sink: &mut S,
    ) {
        // Seventh: segment text.
        if seg.payload_len > 0 {
            match self.state {
                State::Established | State::FinWait1 | State::FinWait2 => {
                    if self.receive_data(cfg, now, data_seq, seg.payload_len, sink) {
                        *stale = Some(StaleKind::Data);
                    }
                }
                // The peer's FIN came already: "ignore the segment text".
                _ => sink.note(Note::Unexpected),
            }
        }
        // Eighth: FIN, accepted only when everything before it has arrived: this segment's,
        // or one held until the data before it came (this segment filled the gap; then a
        // FIN of this segment's own lies before RCV.NXT and means nothing).
        let held_due = self.take_due_fin();
        if seg.flags.contains(Flags::FIN) && !held_due {
            let fin_seq = data_seq + seg.payload_len;
            if fin_seq != self.rcv_nxt {
                // A FIN beyond a gap: a duplicate ACK tells the peer where we are, and the
                // FIN is held (RFC 9293 §3.10.7.4: segments beyond RCV.NXT "may be held for
                // later processing"; Linux keeps it in the out-of-order queue), so that the
                // data it overtook closes the connection when it comes, without waiting
                // for the FIN's retransmission.
                if matches!(
                    self.state,
                    State::Established | State::FinWait1 | State::FinWait2
                ) {
                    self.bits |= ACK_PENDING;
                    self.hold_fin(cfg, fin_seq, seg.payload_len == 0, sink);
                }
                return;
            }
        } else if !held_due {
            return;
        }
        let next = match self.state {
            State::SynReceived | State::Established => State::CloseWait,
            State::FinWait1 if fin_acked => State::TimeWait,
            State::FinWait1 => State::Closing,
            State::FinWait2 => State::TimeWait,
            // CLOSE-WAIT, CLOSING, LAST-ACK already have the FIN; the sequence check has
            // turned duplicates away before this point.
            _ => return,
        };
        self.rcv_nxt += 1;
        self.bits |= ACK_PENDING;
        if *stale != Some(StaleKind::Data) && *stale != Some(StaleKind::Syn) {
            *stale = Some(StaleKind::Fin);
        }
        sink.event(Event::PeerFin);
        if next == State::TimeWait {
            self.enter_time_wait(cfg, now, sink);
        } else {
            self.set_state(next, sink);
        }
    }

    /// Holds the peer's FIN at `fin_seq`, beyond RCV.NXT, if it ends the out-of-order range
    /// (its data was kept there, just now or before) or there is no range yet (then it
    /// starts an empty one). A FIN elsewhere (after a second gap, or past data that was
    /// clipped to the window) is dropped and left to the peer's retransmission. `bare`: the
    /// FIN carried no data, so nothing has counted it as out of order yet.
    fn hold_fin<S: Sink>(&mut self, cfg: &TcpConfig, fin_seq: SeqNum, bare: bool, sink: &mut S) {
        if !fin_seq.gt(self.rcv_nxt) {
            // Before RCV.NXT: a FIN the data already delivered has overrun, not one to keep.
            return;
        }
        if bare {
            sink.note(Note::OutOfOrder);
        }
        if fin_seq - self.rcv_nxt >= cfg.window as i32 {
            // The FIN's own sequence number is past the window: nothing to keep.
            return;
        }
        if self.bits & OOO != 0 {
            if self.ooo_start + self.ooo_len as u32 != fin_seq {
                return;
            }
        } else {
            self.ooo_start = fin_seq;
            self.ooo_len = 0;
            self.bits |= OOO;
        }
        if self.retries & FIN_HELD == 0 {
            self.retries |= FIN_HELD;
            sink.note(Note::FinHeld);
        }
    }

    /// A held FIN that RCV.NXT has reached: taken (true) once.
    fn take_due_fin(&mut self) -> bool {
        let due = self.retries & FIN_HELD != 0 && self.bits & OOO == 0;
        if due {
            self.retries &= !FIN_HELD;
        }
        due
    }

    /// Accepts payload `[seq, seq+len)` (already known to overlap the window). Returns true if
    /// new bytes were delivered. Keeps one out-of-order range; data that would need a second
    /// one is dropped (the sender goes back to SND.UNA after its RTO anyway).
    fn receive_data<S: Sink>(
        &mut self,
        cfg: &TcpConfig,
        now: SimTime,
        seq: SeqNum,
        len: u32,
        sink: &mut S,
    ) -> bool {
        // Clip to the window by length, not by comparing `seq + len`: a length of 2^31 or more
        // would wrap past `seq` and escape the clip.
        let wnd_end = self.rcv_nxt + cfg.window as u32;
        let room = (wnd_end - seq).max(0) as u32;
        let end = seq + len.min(room);
        if seq.gt(self.rcv_nxt) {
            // Out of order: a duplicate ACK at once (RFC 5681 §4.2, RFC 9293 §3.10.7.4).
            self.bits |= ACK_PENDING;
            sink.note(Note::OutOfOrder);
            let (s, e) = (self.ooo_start, self.ooo_start + self.ooo_len as u32);
            if self.bits & OOO == 0 || (self.ooo_len == 0 && !(seq.le(e) && end.ge(s))) {
                // A new range. It replaces a range holding nothing but a bare FIN when it
                // does not touch it: data is worth more than a FIN the peer will resend.
                self.ooo_start = seq;
                self.ooo_len = (end - seq) as u16;
                self.bits |= OOO;
                self.retries &= !FIN_HELD;
            } else if seq.le(e) && end.ge(s) {
                // Merge when the ranges touch; otherwise keep the one we have.
                let ns = if seq.lt(s) { seq } else { s };
                let ne = end.max(e);
                if data_runs_past(seq, len, e) {
                    // Data past a held FIN (before any clip to the window): the FIN was
                    // not the end after all.
                    self.retries &= !FIN_HELD;
                }
                self.ooo_start = ns;
                self.ooo_len = (ne - ns) as u16;
            }
            return false;
        }
        if end.le(self.rcv_nxt) {
            // Nothing new (the peer retransmitted, so our ACK may be lost): ACK at once.
            self.bits |= ACK_PENDING;
            return false;
        }
        // Both distances are positive here; `gt` above guarantees it.
        let mut delivered = (end - self.rcv_nxt) as u32;
        self.rcv_nxt = end;
        let had_gap = self.bits & OOO != 0;
        if had_gap && self.ooo_start.le(self.rcv_nxt) {
            let ooo_end = self.ooo_start + self.ooo_len as u32;
            if ooo_end.gt(self.rcv_nxt) {
                delivered = delivered.saturating_add((ooo_end - self.rcv_nxt) as u32);
                self.rcv_nxt = ooo_end;
            }
            if ooo_end != self.rcv_nxt || data_runs_past(seq, len, ooo_end) {
                // In-order data ran past a held FIN's place: not a FIN to believe.
                self.retries &= !FIN_HELD;
            }
            self.bits &= !OOO;
        }
        if had_gap {
            // Data filling (part of) a gap is ACKed at once (RFC 5681 §4.2).
            self.bits |= ACK_PENDING;
        } else {
            self.ack_in_order_data(cfg, now);
        }
        sink.event(Event::Received { bytes: delivered });
        true
    }

    /// SND.UNA moves to `ack` (RFC 9293 §3.10.7.4 ESTABLISHED; RFC 6298 §5.2-5.3).
    #[inline(always)]
    fn ack_advanced(&mut self, cfg: &TcpConfig, now: SimTime, ack: SeqNum) {
        self.snd_una = ack;
        self.retries &= FIN_HELD;
        if self.snd_rtx.lt(ack) {
            self.snd_rtx = ack;
        }
        if self.bits & TIMING != 0 && ack.ge(self.rtt_seq) {
            self.bits &= !TIMING;
            self.rtt_sample(cfg, clock_us(now).wrapping_sub(self.rtt_start_us));
        }
        self.timer_at = if self.snd_una == self.snd_nxt {
            SimTime::MAX
        } else {
            now + self.rto()
        };
    }

    /// A sample of `r_us` µs moves the RTO, by `cfg.rto_estimator`.
    // Inlined: taken on most ACKs of new data, and too short to pay for a call (whose
    // argument set-up and reloads around it cost more than its own arithmetic).
    #[inline(always)]
    fn rtt_sample(&mut self, cfg: &TcpConfig, r_us: u32) {
        match cfg.rto_estimator {
            RtoEstimator::Linux => self.linux_rtt_sample(cfg, r_us),
            RtoEstimator::Rfc6298 => self.rfc6298_rtt_sample(cfg, r_us),
        }
    }

    /// RFC 6298 §2.2-2.5, in integer microseconds; G (clock granularity) is 1 µs.
    #[inline(always)]
    fn rfc6298_rtt_sample(&mut self, cfg: &TcpConfig, r_us: u32) {
        let r = r_us as u64;
        let (srtt, rttvar) = if self.bits & HAVE_RTT == 0 {
            self.bits |= HAVE_RTT;
            (r, r / 2)
        } else {
            // beta = 1/4, alpha = 1/8; RTTVAR uses the old SRTT.
            let (srtt, rttvar) = (self.srtt_us as u64, self.rttvar_us as u64);
            let delta = srtt.abs_diff(r);
            ((srtt * 7 + r) / 8, (rttvar * 3 + delta) / 4)
        };
        self.srtt_us = srtt as u32;
        self.rttvar_us = rttvar as u32;
        let rto_us = srtt + (rttvar * 4).max(1);
        self.set_rto(
            SimDuration::from_micros(rto_us)
                .max(cfg.rto_min)
                .min(cfg.rto_max),
        );
    }

    /// Linux `tcp_ack_update_rtt` -> `tcp_rtt_estimator` then `tcp_set_rto`.
    ///
    /// Linux closes an RTT window (`after(snd_una, rtt_seq)`, then `rtt_seq = snd_nxt`) on
    /// the first sample acknowledging something sent after the window opened. Here a sample
    /// times a segment sent after the previous sample was taken (one at a time), so the ACK
    /// that yields it is past the SND.NXT of that moment: every sample after the first closes
    /// the window, and `mdev_max_us` only ever enters the estimator as the first sample's
    /// `rttvar_us` (second sample) or as `rto_min` (later ones), which `RTT_WINDOW_CLOSED`
    /// tells apart. So neither Linux's `rtt_seq` nor `mdev_max_us` needs a field.
    #[inline(always)]
    fn linux_rtt_sample(&mut self, cfg: &TcpConfig, r_us: u32) {
        let rto_min_us = duration_us(cfg.rto_min);
        let first_window = self.bits & RTT_WINDOW_CLOSED == 0;
        let mut e = LinuxRtt {
            srtt_us: self.srtt_us,
            mdev_us: self.mdev_us,
            rttvar_us: self.rttvar_us,
            mdev_max_us: if first_window {
                self.rttvar_us
            } else {
                rto_min_us
            },
        };
        let had_sample = e.srtt_us != 0;
        e.sample(r_us, true, rto_min_us);
        if had_sample {
            self.bits |= RTT_WINDOW_CLOSED;
        }
        self.srtt_us = e.srtt_us;
        self.mdev_us = e.mdev_us;
        self.rttvar_us = e.rttvar_us;
        self.rto_us = e.rto_us(cfg.rto_max);
    }

    /// Entering ESTABLISHED, after the handshake's sample if there is one. `Rfc6298`: §5.7,
    /// 3 s when the handshake had to retransmit (Karn's rule left no sample). `Linux`:
    /// `tcp_init_metrics` sets 3 s (`TCP_TIMEOUT_FALLBACK`) whenever `srtt_us` is still 0:
    /// a retransmitted SYN or SYN-ACK (`tcp_synack_rtt_meas` skips a SYN-ACK sent more than
    /// once), or a SYN cookie's connection, which without timestamps has no send time to
    /// measure from.
    #[inline]
    fn finish_handshake(&mut self, cfg: &TcpConfig) {
        let unmeasured = match cfg.rto_estimator {
            RtoEstimator::Rfc6298 => self.bits & HANDSHAKE_RTX != 0 && self.bits & HAVE_RTT == 0,
            RtoEstimator::Linux => self.srtt_us == 0,
        };
        if unmeasured {
            self.set_rto(
                cfg.rto_initial
                    .max(RTO_FALLBACK)
                    .max(cfg.rto_min)
                    .min(cfg.rto_max),
            );
        }
    }

    fn report_stale<S: Sink>(&self, seg: &Segment, kind: StaleKind, sink: &mut S) {
        if seg.incarnation != self.incarnation {
            sink.event(Event::StaleAccepted { kind });
        }
    }

    // ---------------------------------------------------------------- timers

    /// The earliest deadline running (RTO, TIME-WAIT, FIN-WAIT-2, connect, delayed ACK).
    pub fn poll_timeout(&self) -> Option<SimTime> {
        let at = self.timer_at.min(self.aux_at);
        (at != SimTime::MAX).then_some(at)
    }

    /// Fires whatever is due at `now`; nothing if nothing is.
    pub fn handle_timeout<S: Sink>(&mut self, cfg: &TcpConfig, now: SimTime, sink: &mut S) {
        self.handle_timeout_limited(cfg, now, cfg.synack_retries, sink);
    }

    /// [`handle_timeout`](Self::handle_timeout) with `synack_retries` in place of the
    /// configured one for a passive connection in SYN-RECEIVED: the host lowers it for a
    /// crowded SYN queue (`TcpConfig::syn_queue_prune`), which a lone TCB cannot see.
    pub fn handle_timeout_limited<S: Sink>(
        &mut self,
        cfg: &TcpConfig,
        now: SimTime,
        synack_retries: u32,
        sink: &mut S,
    ) {
        if self.aux_at <= now {
            self.aux_at = SimTime::MAX;
            match self.state {
                // `connect_timeout`: the application gives up; nothing was synchronized from
                // its point of view, so no RST (as for CLOSE in SYN-SENT, §3.10.4).
                State::SynSent | State::SynReceived if !self.is_passive() => {
                    self.close_with(CloseReason::ConnectTimeout, sink);
                    return;
                }
                // The delayed ACK is due.
                _ => self.bits |= ACK_PENDING,
            }
        }
        if self.timer_at == SimTime::MAX || now < self.timer_at {
            return;
        }
        match self.state {
            // RFC 9293 §3.10.8, time-wait timeout.
            State::TimeWait => {
                if time_wait_timeout(&self.time_wait_core(), now, sink) {
                    self.state = State::Closed;
                    self.timer_at = SimTime::MAX;
                    self.bits = 0;
                }
            }
            // Retransmission timeout.
            State::SynSent
            | State::SynReceived
            | State::Established
            | State::FinWait1
            | State::CloseWait
            | State::Closing
            | State::LastAck => self.on_rto(cfg, now, synack_retries, sink),
            // The orphan's FIN-WAIT-2 timeout: dropped without a RST, as Linux's FIN_WAIT2
            // timewait socket is when `tcp_fin_timeout` <= TCP_TIMEWAIT_LEN.
            State::FinWait2 => self.close_with(CloseReason::FinWait2Timeout, sink),
            // Nothing is outstanding here.
            State::Closed | State::Listen => self.timer_at = SimTime::MAX,
        }
    }

    /// RFC 6298 §5.4-5.6: go back to SND.UNA, back off, restart; or give up.
    fn on_rto<S: Sink>(
        &mut self,
        cfg: &TcpConfig,
        now: SimTime,
        synack_retries: u32,
        sink: &mut S,
    ) {
        if self.snd_una == self.snd_nxt {
            self.timer_at = SimTime::MAX;
            return;
        }
        let (limit, reason, kind) = match self.state {
            State::SynSent => (cfg.syn_retries, CloseReason::ConnectTimeout, RtxKind::Syn),
            State::SynReceived if self.is_passive() => (
                synack_retries,
                CloseReason::HandshakeTimeout,
                RtxKind::SynAck,
            ),
            State::SynReceived => (
                cfg.syn_retries,
                CloseReason::HandshakeTimeout,
                RtxKind::SynAck,
            ),
            _ if self.snd_una.lt(self.data_end()) => {
                (cfg.retries2, CloseReason::RetriesExceeded, RtxKind::Data)
            }
            _ => (cfg.retries2, CloseReason::RetriesExceeded, RtxKind::Fin),
        };
        // The clamp keeps the count in its 7 bits even with a configuration that skipped
        // `TcpConfig::validate`.
        if (self.retries & RETRIES_MASK) as u32 >= limit.min(MAX_RETRIES) {
            self.close_with(reason, sink);
            return;
        }
        // Below `limit` <= 127 here, so the count stays within its 7 bits.
        self.retries += 1;
        if matches!(kind, RtxKind::Syn | RtxKind::SynAck) {
            self.bits |= HANDSHAKE_RTX;
        }
        // Karn's rule (RFC 6298 §3): no sample from a retransmitted segment.
        self.bits &= !TIMING;
        sink.event(Event::Retransmit { kind });
        self.set_rto(self.rto().doubled_max(cfg.rto_max));
        self.snd_rtx = self.snd_una;
        self.timer_at = now + self.rto();
    }

    // ---------------------------------------------------------------- output

    fn segment(&self, cfg: &TcpConfig, seq: SeqNum, flags: Flags, payload_len: u32) -> Segment {
        Segment {
            src: self.local,
            dst: self.remote,
            seq,
            ack: if flags.contains(Flags::ACK) {
                self.rcv_nxt
            } else {
                SeqNum(0)
            },
            flags,
            window: cfg.window,
            mss: if flags.contains(Flags::SYN) {
                cfg.mss
            } else {
                0
            },
            payload_len,
            incarnation: self.incarnation,
        }
    }

    /// Something occupying sequence space up to `end` goes on the wire at `now`; `fresh` if it
    /// was never sent before (only those may be timed, Karn's rule).
    // Inlined, with `ack_sent`: once per segment sent, a few instructions each.
    #[inline(always)]
    fn on_sent(&mut self, now: SimTime, end: SeqNum, fresh: bool) {
        // RFC 6298 §5.1: start the timer if it is not running.
        if self.timer_at == SimTime::MAX {
            self.timer_at = now + self.rto();
        }
        if fresh && self.bits & TIMING == 0 {
            self.bits |= TIMING;
            self.rtt_seq = end;
            self.rtt_start_us = clock_us(now);
        }
        self.ack_sent();
    }

    /// A segment carrying `<ACK=RCV.NXT>` leaves: whatever ACK was owed, at once or delayed,
    /// is paid (Linux `tcp_event_ack_sent`: it also stops the delayed-ACK timer).
    #[inline(always)]
    fn ack_sent(&mut self) {
        self.bits &= !ACK_PENDING;
        if self.rcv_wup != self.rcv_nxt {
            // An ACK of new data: one more of the quick-ack budget used.
            let used = (self.bits >> QUICK_SHIFT).saturating_add(1).min(QUICK_MAX);
            self.bits = (self.bits & !(QUICK_MAX << QUICK_SHIFT)) | (used << QUICK_SHIFT);
            self.rcv_wup = self.rcv_nxt;
        }
        if !matches!(self.state, State::SynSent | State::SynReceived) {
            // Synchronized: `aux_at` can only be the delayed ACK, now sent.
            self.aux_at = SimTime::MAX;
        }
    }

    /// In-order data was delivered: ACK it now or schedule the delayed ACK (RFC 9293
    /// §3.8.6.3, RFC 1122 §4.2.3.2; Linux `__tcp_ack_snd_check`, whose rule "more than one
    /// receive MSS unacknowledged" means an ACK for every second full-sized segment).
    fn ack_in_order_data(&mut self, cfg: &TcpConfig, now: SimTime) {
        let Some(delay) = cfg.delayed_ack else {
            self.bits |= ACK_PENDING;
            return;
        };
        // The peer sends at most min(its MSS, ours), which is our send MSS too (unless the
        // peer announced less than `MIN_SND_MSS`: then this errs toward more ACKs; Linux
        // floors its receive-MSS estimate at 88, `TCP_MIN_MSS`).
        let rcv_mss = self.send_mss as u32;
        let unacked = (self.rcv_nxt - self.rcv_wup).max(0) as u32;
        let quick = ((self.bits >> QUICK_SHIFT) as u32) < quick_ack_limit(cfg, rcv_mss);
        if quick || unacked > rcv_mss {
            self.bits |= ACK_PENDING;
        } else if self.aux_at == SimTime::MAX {
            // The first unacknowledged segment starts the timer; later ones do not push it
            // back (Linux keeps the earlier deadline too).
            self.aux_at = now + delay;
        }
    }

    /// Could [`poll_transmit`](Tcb::poll_transmit) return a segment? False only when it
    /// certainly returns `None`: after most inputs nothing is left to send, and this answers
    /// that from the bits and a few numbers, where `poll_transmit` would build its way through
    /// the state's output rules to the same `None` (a host calls it after every input).
    #[inline]
    pub fn may_transmit(&self) -> bool {
        if self.bits & (REPLY_RST | RST_PENDING | ACK_PENDING) != 0 {
            return true;
        }
        // With none of those bits, only the handshake segment and `transmit_data` remain.
        match self.state {
            State::Closed | State::Listen | State::TimeWait | State::FinWait2 => false,
            State::SynSent | State::SynReceived => self.snd_rtx == self.iss,
            State::Established
            | State::FinWait1
            | State::CloseWait
            | State::Closing
            | State::LastAck => {
                self.snd_rtx.lt(self.snd_nxt)
                    || self.snd_pending != 0
                    || self.bits & (FIN_QUEUED | FIN_SENT) == FIN_QUEUED
            }
        }
    }

    /// The bare ACK `poll_transmit` would return, when that is all it has to send (nothing to
    /// reset, no handshake segment, no data or FIN due), taken as `poll_transmit` takes it;
    /// `None` (and nothing changed) otherwise. Every host `transmit` tries this first (the ACK
    /// that answers a FIN or a SYN-ACK, delayed, challenge and data ACKs alike), inlined, without the call into `poll_transmit` and its dispatch
    /// on the state; whatever else there is to send goes through `poll_transmit`.
    #[inline(always)]
    pub fn take_bare_ack(&mut self, cfg: &TcpConfig) -> Option<Segment> {
        if self.bits & (REPLY_RST | RST_PENDING | ACK_PENDING) != ACK_PENDING {
            return None;
        }
        // `poll_transmit`'s arms, where they end in the bare ACK: TIME-WAIT's ACK is the same
        // segment (`time_wait_ack`), and `transmit_data` returns nothing if `may_transmit`
        // finds no data or FIN due (it may also return nothing when data waits for window:
        // then this declines, and `poll_transmit` decides).
        let only_ack = match self.state {
            State::Closed | State::Listen => false,
            State::FinWait2 | State::TimeWait => true,
            State::SynSent | State::SynReceived => self.snd_rtx != self.iss,
            State::Established
            | State::FinWait1
            | State::CloseWait
            | State::Closing
            | State::LastAck => {
                !(self.snd_rtx.lt(self.snd_nxt)
                    || self.snd_pending != 0
                    || self.bits & (FIN_QUEUED | FIN_SENT) == FIN_QUEUED)
            }
        };
        if !only_ack {
            return None;
        }
        self.ack_sent();
        Some(self.segment(cfg, self.snd_nxt, Flags::ACK, 0))
    }

    /// The SYN or SYN-ACK of a connection just opened, which is due (and the only segment
    /// due) then: what `poll_transmit` would return, taken as it takes it. The host sends
    /// it from here, inlined, without the call into `poll_transmit`; `None` (and nothing
    /// changed) if it is not due.
    #[inline(always)]
    pub fn take_handshake(&mut self, cfg: &TcpConfig, now: SimTime) -> Option<Segment> {
        let due = self.bits & (REPLY_RST | RST_PENDING) == 0
            && matches!(self.state, State::SynSent | State::SynReceived)
            && self.snd_rtx == self.iss;
        due.then(|| self.send_handshake(cfg, now))
    }

    /// `poll_transmit` in SYN-SENT or SYN-RECEIVED with SND.RTX = ISS: our SYN, or SYN-ACK.
    #[inline(always)]
    fn send_handshake(&mut self, cfg: &TcpConfig, now: SimTime) -> Segment {
        let flags = if self.state == State::SynSent {
            Flags::SYN
        } else {
            Flags::SYN | Flags::ACK
        };
        let s = self.segment(cfg, self.iss, flags, 0);
        self.snd_rtx = self.iss + 1;
        // An active end's SYN-ACK (simultaneous open) carries its SYN again: under RFC
        // 6298 not fresh, so not timed (Karn's rule, §3). Linux times it: `tcp_send_synack`
        // sends the SYN's own buffer again with ACK set, which stamps it anew without
        // marking it retransmitted, so the ACK of it yields a sample from the SYN-ACK.
        let resent = self.bits & HANDSHAKE_RTX != 0
            || (self.state == State::SynReceived
                && !self.is_passive()
                && cfg.rto_estimator == RtoEstimator::Rfc6298);
        self.on_sent(now, self.iss + 1, !resent);
        s
    }

    /// The FIN of a close with no data left to send, which is then due (and the only segment
    /// due): what `poll_transmit` would return (`transmit_data`'s new data of length 0 with
    /// the FIN), taken as it takes it. The host sends it from here, inlined, after an
    /// application call, without the call into `poll_transmit`; `None` (and nothing changed)
    /// if it is not due so.
    #[inline(always)]
    pub fn take_fin(&mut self, cfg: &TcpConfig, now: SimTime) -> Option<Segment> {
        let due = self.bits & (REPLY_RST | RST_PENDING | FIN_QUEUED | FIN_SENT) == FIN_QUEUED
            && self.snd_pending == 0
            && !self.snd_rtx.lt(self.snd_nxt)
            && matches!(
                self.state,
                State::Established
                    | State::FinWait1
                    | State::CloseWait
                    | State::Closing
                    | State::LastAck
            );
        due.then(|| self.send_new(cfg, now, 0, true))
    }

    /// The next segment to send, if any.
    pub fn poll_transmit(&mut self, cfg: &TcpConfig, now: SimTime) -> Option<Segment> {
        if self.bits & REPLY_RST != 0 {
            let with_ack = self.bits & REPLY_WITH_ACK != 0;
            self.bits &= !(REPLY_RST | REPLY_WITH_ACK);
            let flags = if with_ack {
                Flags::RST | Flags::ACK
            } else {
                Flags::RST
            };
            let mut s = self.segment(cfg, self.reply_seq, flags, 0);
            s.ack = if with_ack { self.reply_ack } else { SeqNum(0) };
            s.window = 0;
            return Some(s);
        }
        if self.bits & RST_PENDING != 0 {
            self.bits &= !RST_PENDING;
            let mut s = self.segment(cfg, self.snd_nxt, Flags::RST, 0);
            s.window = 0;
            return Some(s);
        }
        match self.state {
            State::Closed | State::Listen => None,
            State::TimeWait => self
                .take_ack()
                .then(|| time_wait_ack(&self.time_wait_core(), cfg, self.local, self.remote)),
            State::SynSent | State::SynReceived if self.snd_rtx == self.iss => {
                Some(self.send_handshake(cfg, now))
            }
            State::SynSent | State::SynReceived | State::FinWait2 => self.bare_ack(cfg),
            State::Established
            | State::FinWait1
            | State::CloseWait
            | State::Closing
            | State::LastAck => self.transmit_data(cfg, now).or_else(|| self.bare_ack(cfg)),
        }
    }

    fn take_ack(&mut self) -> bool {
        let pending = self.bits & ACK_PENDING != 0;
        if pending {
            self.ack_sent();
        }
        pending
    }

    fn bare_ack(&mut self, cfg: &TcpConfig) -> Option<Segment> {
        self.take_ack()
            .then(|| self.segment(cfg, self.snd_nxt, Flags::ACK, 0))
    }

    /// Data and FIN: first what an RTO sent us back for, then new data within the peer's
    /// window, MSS at a time, with the FIN on the last segment once the application closed.
    fn transmit_data(&mut self, cfg: &TcpConfig, now: SimTime) -> Option<Segment> {
        let mss = self.send_mss as u32;
        let wnd_end = self.snd_una + self.snd_wnd as u32;
        let room = |from: SeqNum| (wnd_end - from).max(0) as u32;
        if self.snd_rtx.lt(self.snd_nxt) {
            // Going back N after an RTO.
            let data_end = self.data_end();
            let avail = (data_end - self.snd_rtx).max(0) as u32;
            let len = mss.min(avail).min(room(self.snd_rtx));
            let fin = self.fin_sent() && self.snd_rtx + len == data_end;
            if len == 0 && !fin {
                return None;
            }
            let seq = self.snd_rtx;
            let s = self.data_segment(cfg, seq, len, fin, len > 0 && seq + len == data_end);
            self.snd_rtx = seq + len + fin as u32;
            self.on_sent(now, self.snd_rtx, false);
            return Some(s);
        }
        // New data.
        let len = (mss.min(room(self.snd_nxt)) as u64).min(self.snd_pending) as u32;
        let fin = self.bits & FIN_QUEUED != 0 && !self.fin_sent() && self.snd_pending == len as u64;
        if len == 0 && !fin {
            return None;
        }
        Some(self.send_new(cfg, now, len, fin))
    }

    /// `len` new bytes from SND.NXT, and the FIN after them if `fin`.
    #[inline(always)]
    fn send_new(&mut self, cfg: &TcpConfig, now: SimTime, len: u32, fin: bool) -> Segment {
        let seq = self.snd_nxt;
        self.snd_pending -= len as u64;
        let s = self.data_segment(cfg, seq, len, fin, len > 0 && self.snd_pending == 0);
        self.snd_nxt = seq + len + fin as u32;
        self.snd_rtx = self.snd_nxt;
        if fin {
            self.bits |= FIN_SENT;
        }
        self.on_sent(now, self.snd_nxt, true);
        s
    }

    fn data_segment(
        &self,
        cfg: &TcpConfig,
        seq: SeqNum,
        len: u32,
        fin: bool,
        push: bool,
    ) -> Segment {
        let mut flags = Flags::ACK;
        if fin {
            flags |= Flags::FIN;
        }
        if push {
            flags |= Flags::PSH;
        }
        self.segment(cfg, seq, flags, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_ack_limit_follows_tcp_incr_quickack() {
        let c = TcpConfig::default();
        assert_eq!(
            quick_ack_limit(&c, 1460),
            16,
            "65535 / 2920 = 22, capped at 16"
        );
        let small = TcpConfig {
            window: 3000,
            ..c.clone()
        };
        assert_eq!(quick_ack_limit(&small, 1460), 1);
        assert_eq!(quick_ack_limit(&small, 2000), 2, "a quotient of 0 gives 2");
        let none = TcpConfig { quick_acks: 0, ..c };
        assert_eq!(quick_ack_limit(&none, 1460), 0);
    }

    /// A TCB fed RTT samples directly, as the ACKs of timed segments would feed it.
    fn sampled(cfg: &TcpConfig, samples_us: &[u32]) -> Vec<u32> {
        let a = Addr::new(1, 1);
        let mut t = Tcb::blank(TcbInit::new(cfg), a, a, SeqNum(0), 0);
        samples_us
            .iter()
            .map(|&r| {
                t.rtt_sample(cfg, r);
                t.rto_us
            })
            .collect()
    }

    #[test]
    fn linux_estimator_follows_tcp_rtt_estimator() {
        // tcp_rtt_estimator by hand, in µs, rto_min = 200000, every sample after the first
        // closing an RTT window (as tcpsim's one-at-a-time samples do). srtt is 8 x SRTT,
        // RTO = srtt / 8 + rttvar.
        //  1. m = 20000, first: srtt = 160000, mdev = 40000, rttvar = max(40000, 200000) =
        //     200000 = mdev_max. RTO = 20000 + 200000 = 220000.
        //  2. m = 30000: err = 30000 - 20000 = 10000, srtt = 170000; mdev += 10000 - 40000/4
        //     = 0, stays 40000 < mdev_max. mdev_max (200000) is not below rttvar: no decay;
        //     mdev_max = 200000. RTO = 21250 + 200000 = 221250.
        //  3. m = 10000: err = 10000 - 21250 = -11250, srtt = 158750; |err| - 40000/4 = 1250
        //     > 0, so the falling RTT moves mdev by 1250 >> 3 = 156: 40156. RTO = 19843 +
        //     200000 = 219843.
        //  4. m = 300000: err = 300000 - 19843 = 280157, srtt = 438907; mdev += 280157 -
        //     40156/4 (10039) = 270118: 310274, above mdev_max, which takes it, and rttvar
        //     with it: 310274. RTO = 54863 + 310274 = 365137.
        //  5. m = 20000: err = 20000 - 54863 = -34863, srtt = 404044; |err| - 310274/4
        //     (77568) = -42705, not positive, so taken whole: mdev = 267569, above mdev_max
        //     (200000 since the reset) which takes it; rttvar stays 310274, then decays by a
        //     quarter of the gap: 310274 - (42705 >> 2) = 299598. RTO = 50505 + 299598 =
        //     350103.
        let cfg = TcpConfig::default();
        assert_eq!(cfg.rto_estimator, RtoEstimator::Linux);
        assert_eq!(
            sampled(&cfg, &[20_000, 30_000, 10_000, 300_000, 20_000]),
            [220_000, 221_250, 219_843, 365_137, 350_103]
        );
        // The first window's mdev_max is the first rttvar, not rto_min: on a 150 ms path
        // (rttvar = 2 * 150 ms = 300000) the second sample leaves rttvar alone and only the
        // third lets it decay, toward mdev_max = rto_min.
        //  1. srtt = 1200000, mdev = rttvar = mdev_max = 300000. RTO 450000.
        //  2. err = 0: mdev += 0 - 300000/4 = 225000; mdev_max 300000 = rttvar: no decay.
        //     RTO 150000 + 300000 = 450000.
        //  3. err = 0: mdev = 225000 - 56250 = 168750 < mdev_max (200000); rttvar -=
        //     (300000 - 200000) >> 2: 275000. RTO 425000.
        assert_eq!(
            sampled(&cfg, &[150_000, 150_000, 150_000]),
            [450_000, 450_000, 425_000]
        );
        // The ceiling: rto_max bounds SRTT + rttvar.
        let low_max = TcpConfig {
            rto_max: SimDuration::from_millis(300),
            ..cfg.clone()
        };
        assert_eq!(sampled(&low_max, &[150_000]), [300_000]);
        // A sample past 8 x SRTT's u32 (536 s) saturates instead of wrapping: 3 x 536 s,
        // within the largest rto_max.
        let high_max = TcpConfig {
            rto_max: crate::config::MAX_DURATION,
            ..cfg.clone()
        };
        assert_eq!(
            sampled(&high_max, &[u32::MAX]),
            [LinuxRtt::MAX_SAMPLE_US * 3]
        );
    }

    #[test]
    fn rfc6298_estimator_is_unchanged() {
        // RFC 6298 §2.2-2.3: SRTT 20000, RTTVAR 10000, RTO 60000 -> floor 1 s; then R = 30000:
        // RTTVAR = (3 * 10000 + 10000) / 4 = 10000, SRTT = (7 * 20000 + 30000) / 8 = 21250.
        let cfg = TcpConfig {
            rto_min: SimDuration::from_millis(1),
            ..TcpConfig::profile(crate::config::Profile::Rfc9293)
        };
        assert_eq!(sampled(&cfg, &[20_000, 30_000]), [60_000, 61_250]);
    }

    #[test]
    fn rto_is_kept_in_whole_microseconds() {
        assert_eq!(
            duration_us(SimDuration::from_nanos(1)),
            1,
            "rounded up, never 0"
        );
        assert_eq!(duration_us(SimDuration::from_secs(3600)), 3_600_000_000);
        assert_eq!(duration_us(SimDuration::from_secs(5000)), u32::MAX);
    }
}

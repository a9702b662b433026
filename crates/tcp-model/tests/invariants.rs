//! One `Endpoint` against a random peer: random segments (flags, sequence and ACK numbers near
//! the ones in use, far from them, and across 2^32), random application calls and random
//! waits. After every step the connection's bookkeeping must still make sense.

use proptest::prelude::*;
use tcp_model::*;

const LOCAL: Addr = Addr::new(0x0a00_0001, 49152);
const PEER: Addr = Addr::new(0x0a00_0002, 80);
/// More segments than this from one input would be a transmit loop: a whole window (at
/// most 65535 bytes: no window scaling) in segments of the least send MSS Linux allows, and
/// as many again for a retransmission going out with it (an RTO with a window just opened).
const MAX_SEGMENTS_PER_STEP: usize = 2 * (65535 / MIN_SND_MSS as usize + 1);

/// Where a sequence or acknowledgment number is aimed.
#[derive(Clone, Copy, Debug)]
enum Aim {
    /// The endpoint's RCV.NXT (for SEG.SEQ) or SND.NXT (for SEG.ACK), plus a delta.
    Next(i32),
    /// The peer's ISN (for SEG.SEQ) or SND.UNA (for SEG.ACK), plus a delta.
    Start(i32),
    /// Anywhere.
    Any(u32),
}

#[derive(Clone, Debug)]
enum Op {
    /// What a sane peer sends: SEG.SEQ = RCV.NXT and an ACK of all or half of what is
    /// outstanding.
    Good {
        flags: u8,
        len: u32,
        ack_all: bool,
    },
    Segment {
        flags: u8,
        seq: Aim,
        ack: Aim,
        len: u32,
        window: u16,
        mss: u16,
        stale: bool,
    },
    Send(u32),
    Close,
    Abort,
    /// Advance the clock by this many ms and fire what is due.
    Wait(u32),
    /// Jump to the next deadline and fire it.
    Fire,
}

fn delta() -> impl Strategy<Value = i32> {
    prop_oneof![
        4 => -3i32..=3,
        2 => -1500i32..=1500,
        1 => -70_000i32..=70_000,
        1 => any::<i32>(),
    ]
}

fn aim() -> impl Strategy<Value = Aim> {
    prop_oneof![
        6 => delta().prop_map(Aim::Next),
        2 => delta().prop_map(Aim::Start),
        1 => any::<u32>().prop_map(Aim::Any),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let flags = prop_oneof![
        // Mostly the combinations real stacks send; sometimes any bits at all.
        6 => prop::sample::select(vec![0x10u8, 0x18, 0x11, 0x19, 0x12, 0x02, 0x04, 0x14, 0x01]),
        1 => any::<u8>(),
    ];
    let len = prop_oneof![4 => Just(0u32), 3 => 1u32..3000, 1 => any::<u32>()];
    let window = prop_oneof![4 => Just(65535u16), 1 => any::<u16>()];
    let mss = prop_oneof![3 => Just(1460u16), 1 => any::<u16>()];
    let segment = (
        flags,
        aim(),
        aim(),
        len,
        window,
        mss,
        prop::bool::weighted(0.1),
    )
        .prop_map(|(flags, seq, ack, len, window, mss, stale)| Op::Segment {
            flags,
            seq,
            ack,
            len,
            window,
            mss,
            stale,
        });
    let good = (
        prop::sample::select(vec![0x10u8, 0x18, 0x11, 0x12, 0x02]),
        prop_oneof![2 => Just(0u32), 2 => 1u32..3000],
        prop::bool::weighted(0.8),
    )
        .prop_map(|(flags, len, ack_all)| Op::Good {
            flags,
            len,
            ack_all,
        });
    prop_oneof![
        20 => good,
        8 => segment,
        5 => prop_oneof![0u32..3000, any::<u32>()].prop_map(Op::Send),
        2 => Just(Op::Close),
        1 => Just(Op::Abort),
        4 => prop_oneof![0u32..300, 0u32..200_000].prop_map(Op::Wait),
        3 => Just(Op::Fire),
    ]
}

/// Configurations to run under: both profiles (delayed ACK 40 ms with quick-ack, 200 ms
/// without), plus small variations.
fn config(pick: u8) -> TcpConfig {
    let base = match pick % 2 {
        0 => TcpConfig::profile(Profile::Linux),
        _ => TcpConfig::profile(Profile::Rfc9293),
    };
    let mut c = match pick / 2 % 4 {
        0 => base,
        1 => TcpConfig { mss: 536, ..base },
        2 => TcpConfig {
            delayed_ack: None,
            ..base
        },
        _ => TcpConfig {
            window: 3000,
            retries2: 3,
            syn_retries: 2,
            synack_retries: 2,
            ..base
        },
    };
    // Short enough that a few Waits reach the end of TIME-WAIT and FIN-WAIT-2.
    c.msl = SimDuration::from_secs(5);
    c.fin_timeout = c.fin_timeout.map(|_| SimDuration::from_secs(7));
    c.validate().unwrap();
    c
}

struct Run {
    cfg: TcpConfig,
    ep: Endpoint,
    now: SimTime,
    iss: SeqNum,
    peer_iss: SeqNum,
    /// Bytes `send` accepted.
    queued: u64,
    /// RCV.NXT after the last step, once it means something (after SYN-SENT).
    last_rcv: Option<SeqNum>,
    closed_seen: bool,
    /// The ACK field of the last segment we sent with one.
    last_ack_sent: Option<SeqNum>,
    /// Since when RCV.NXT has been ahead of `last_ack_sent`.
    ack_owed_since: Option<SimTime>,
}

impl Run {
    fn segment_to_endpoint(&self, op: &Op) -> Segment {
        if let Op::Good {
            flags,
            len,
            ack_all,
        } = *op
        {
            let (una, nxt) = (self.ep.snd_una(), self.ep.snd_nxt());
            let seq = match self.ep.state() {
                State::SynSent => self.peer_iss,
                _ => self.ep.rcv_nxt(),
            };
            let syn = flags & Flags::SYN.0 != 0;
            return Segment {
                src: PEER,
                dst: LOCAL,
                seq,
                ack: if ack_all {
                    nxt
                } else {
                    una + ((nxt - una) / 2) as u32
                },
                flags: Flags(flags),
                window: 65535,
                mss: if syn { 1460 } else { 0 },
                payload_len: if syn { 0 } else { len },
                incarnation: 2,
            };
        }
        let Op::Segment {
            flags,
            seq,
            ack,
            len,
            window,
            mss,
            stale,
        } = *op
        else {
            unreachable!()
        };
        let seq = match seq {
            Aim::Next(d) if self.ep.state() != State::SynSent => self.ep.rcv_nxt() + d as u32,
            Aim::Next(d) | Aim::Start(d) => self.peer_iss + d as u32,
            Aim::Any(n) => SeqNum(n),
        };
        let ack = match ack {
            Aim::Next(d) => self.ep.snd_nxt() + d as u32,
            Aim::Start(d) => self.ep.snd_una() + d as u32,
            Aim::Any(n) => SeqNum(n),
        };
        Segment {
            src: PEER,
            dst: LOCAL,
            seq,
            ack,
            flags: Flags(flags),
            window,
            mss,
            payload_len: len,
            incarnation: if stale { 1 } else { 2 },
        }
    }

    /// Applies one operation, then takes every segment and event it produced.
    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let cfg = self.cfg.clone();
        match op {
            Op::Segment { .. } | Op::Good { .. } => {
                let seg = self.segment_to_endpoint(op);
                self.ep.handle_segment(&cfg, self.now, &seg);
            }
            Op::Send(n) => {
                let ignored = self.ep.stats().ignored_app_calls;
                self.ep.send(&cfg, self.now, *n as u64);
                if self.ep.stats().ignored_app_calls == ignored {
                    self.queued += *n as u64;
                }
            }
            Op::Close => self.ep.close(&cfg, self.now),
            Op::Abort => self.ep.abort(&cfg, self.now),
            Op::Wait(ms) => {
                self.now += SimDuration::from_millis(*ms as u64);
                self.ep.handle_timeout(&cfg, self.now);
            }
            Op::Fire => {
                if let Some(at) = self.ep.poll_timeout() {
                    self.now = at;
                    self.ep.handle_timeout(&cfg, self.now);
                }
            }
        }
        let mut n = 0;
        while let Some(seg) = self.ep.poll_transmit(&cfg, self.now) {
            n += 1;
            prop_assert!(n <= MAX_SEGMENTS_PER_STEP, "transmit loop after {op:?}");
            self.check_segment(&seg)?;
            if seg.flags.contains(Flags::ACK) && !seg.flags.contains(Flags::RST) {
                self.last_ack_sent = Some(seg.ack);
            }
        }
        while let Some(e) = self.ep.poll_event() {
            prop_assert!(!self.closed_seen, "{e:?} after Closed");
            if let Event::Closed { .. } = e {
                self.closed_seen = true;
            }
        }
        prop_assert_eq!(self.ep.stats().events_dropped, 0);
        self.check_state(op)
    }

    fn check_segment(&self, seg: &Segment) -> Result<(), TestCaseError> {
        prop_assert_eq!((seg.src, seg.dst), (LOCAL, PEER));
        let f = seg.flags;
        if f.contains(Flags::RST) {
            prop_assert_eq!(seg.payload_len, 0);
            prop_assert!(!f.contains(Flags::SYN) && !f.contains(Flags::FIN));
            return Ok(());
        }
        prop_assert!(
            !(f.contains(Flags::SYN) && f.contains(Flags::FIN)),
            "SYN|FIN: {}",
            seg
        );
        if !f.contains(Flags::SYN) {
            prop_assert!(f.contains(Flags::ACK), "no ACK on {}", seg);
        }
        if f.contains(Flags::ACK) {
            prop_assert_eq!(seg.ack, self.ep.rcv_nxt(), "ACK field of {}", seg);
        }
        // Nothing beyond what the application queued, plus SYN and FIN, ever has a number.
        let end = seg.seq + seg.seg_len();
        prop_assert!(
            ((end - self.iss) as u32 as u64) <= self.queued + 2,
            "{} ends past ISS + queued ({}) + 2",
            seg,
            self.queued
        );
        prop_assert!(seg.payload_len <= self.ep.send_mss() as u32);
        Ok(())
    }

    fn check_state(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let state = self.ep.state();
        prop_assert!(State::ALL.contains(&state));
        let (una, nxt, rcv) = (self.ep.snd_una(), self.ep.snd_nxt(), self.ep.rcv_nxt());
        // SND.UNA <= SND.NXT, and what lies between was queued (plus SYN and FIN).
        prop_assert!(
            una.le(nxt),
            "SND.UNA {} > SND.NXT {} after {:?}",
            una,
            nxt,
            op
        );
        prop_assert!(
            ((nxt - una) as u64) <= self.queued + 2,
            "SND.NXT - SND.UNA = {} > queued {} + 2",
            nxt - una,
            self.queued
        );
        prop_assert!(self.iss.lt(nxt) || self.iss + 1 == nxt);
        prop_assert!(((nxt - self.iss) as u64) <= self.queued + 2);
        // RCV.NXT moves forward only, by at most a window and a FIN per step.
        if state != State::SynSent {
            if let Some(prev) = self.last_rcv {
                prop_assert!(
                    prev.le(rcv),
                    "RCV.NXT went back {} -> {} on {:?}",
                    prev,
                    rcv,
                    op
                );
                prop_assert!((rcv - prev) as u32 <= self.cfg.window as u32 + 1);
            }
            self.last_rcv = Some(rcv);
        }
        // Closed exactly when the Closed event came.
        prop_assert_eq!(state == State::Closed, self.closed_seen, "{:?}", state);
        // Something unacknowledged, TIME-WAIT and FIN-WAIT-2 (with its timeout) need a timer.
        let timeout = self.ep.poll_timeout();
        let needs_timer = match state {
            State::Closed | State::Listen => false,
            State::TimeWait => true,
            State::FinWait2 => self.cfg.fin_timeout.is_some(),
            _ => una != nxt,
        };
        if needs_timer {
            prop_assert!(
                timeout.is_some(),
                "{:?} with {} unacked: no timer",
                state,
                nxt - una
            );
        }
        if state == State::Closed {
            prop_assert_eq!(timeout, None);
        }
        // Data or FIN received is acknowledged within `delayed_ack` (at once without it).
        let owed =
            !matches!(state, State::Closed | State::SynSent) && self.last_ack_sent != Some(rcv);
        if !owed {
            self.ack_owed_since = None;
        } else {
            let since = *self.ack_owed_since.get_or_insert(self.now);
            let Some(delay) = self.cfg.delayed_ack else {
                return Err(TestCaseError::fail(format!(
                    "{state:?}: ACK owed without delayed_ack"
                )));
            };
            prop_assert!(
                timeout.is_some_and(|t| t <= since + delay),
                "{:?}: ACK owed since {:?}, next deadline {:?}",
                state,
                since,
                timeout
            );
        }
        // Every deadline that has come was fired (the clock moves only in Wait and Fire).
        if let Some(t) = timeout {
            prop_assert!(
                t > self.now,
                "deadline {:?} not after now {:?}",
                t,
                self.now
            );
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn endpoint_invariants_hold_under_random_input(
        passive in any::<bool>(),
        // ISNs near 2^32 half the time, so the numbers wrap during the run.
        iss in prop_oneof![any::<u32>(), (u32::MAX - 5000)..=u32::MAX],
        peer_iss in prop_oneof![any::<u32>(), (u32::MAX - 5000)..=u32::MAX],
        pick in 0u8..8,
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let cfg = config(pick);
        let (iss, peer_iss) = (SeqNum(iss), SeqNum(peer_iss));
        let ep = if passive {
            let syn = Segment {
                src: PEER, dst: LOCAL, seq: peer_iss, flags: Flags::SYN, window: 65535,
                mss: 1460, incarnation: 2, ..Segment::default()
            };
            Endpoint::accept(&cfg, SimTime::ZERO, LOCAL, &syn, iss)
        } else {
            Endpoint::connect(&cfg, SimTime::ZERO, LOCAL, PEER, iss, 2)
        };
        let mut run = Run {
            cfg, ep, now: SimTime::ZERO, iss, peer_iss, queued: 0,
            last_rcv: None, closed_seen: false, last_ack_sent: None, ack_owed_since: None,
        };
        // The SYN or SYN-ACK goes out first.
        run.step(&Op::Wait(0))?;
        for op in &ops {
            run.step(op)?;
        }
        // Left alone, every connection ends or waits on its application or its peer forever:
        // nothing keeps firing timers without end.
        let mut fired = 0;
        while run.ep.poll_timeout().is_some() {
            run.step(&Op::Fire)?;
            fired += 1;
            prop_assert!(fired < 1000, "timers fire forever in {:?}", run.ep.state());
        }
        let (state, idle) = (run.ep.state(), run.ep.snd_una() == run.ep.snd_nxt());
        let quiet = match state {
            State::Closed | State::Established | State::CloseWait => true,
            State::FinWait2 => run.cfg.fin_timeout.is_none(),
            // A zero window with data still queued: no persist timer (a known gap).
            State::FinWait1 | State::LastAck => idle,
            _ => false,
        };
        prop_assert!(quiet, "{:?} left with no timer", state);
    }
}

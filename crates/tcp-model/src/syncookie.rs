//! SYN cookies (RFC 4987 §3.6) as pure functions, built the way Linux builds them
//! (`secure_tcp_syn_cookie` and `check_tcp_syn_cookie`, net/ipv4/syncookies.c).
//!
//! A listener that does not want to keep state for a SYN answers with a SYN-ACK whose ISS is
//! the cookie, and forgets the SYN. The peer's ACK returns the cookie plus one; if it checks
//! out, the listener creates the connection directly in ESTABLISHED, with the MSS the cookie
//! carried. The cookie is
//!
//! ```text
//! H(key, 4-tuple, 0, tag 0) + peer ISN + (count << 24) + ((H(key, 4-tuple, count, tag 1) + mss index) mod 2^24)
//! ```
//!
//! where `count` = now / 60 s counts minutes ([`COOKIE_PERIOD`]) and `mss index` picks one of
//! [`COOKIE_MSS`] (2 bits). Checking removes the first hash and the ISN, reads the count from
//! the top 8 bits, accepts it only if it is the current or the previous one
//! ([`COOKIE_MAX_AGE`]), and recovers the index from the low 24 bits, which must then be below
//! 4. A guessed cookie passes with probability about 2/256 * 4/2^24. As in Linux, the index is
//! added rather than hashed, so a cookie (or peer ISN) off by less than 4 in one direction
//! decodes to a neighbouring MSS; and the 8-bit counter repeats every 256 minutes.
//!
//! Linux keys the two hashes with two SipHash keys; here one key and a tag byte in the input
//! do the same job (SipHash is a PRF, so distinct inputs give independent outputs).

use sim_time::{SimDuration, SimTime};

use crate::isn::siphash24;
use crate::tcb::DEFAULT_MSS;
use crate::wire::{Addr, Segment, SeqNum};

/// How long one value of the cookie counter lasts: Linux `TCP_SYNCOOKIE_PERIOD` (60 s).
pub const COOKIE_PERIOD: SimDuration = SimDuration::from_secs(60);

/// Counter values a cookie stays valid for: Linux `MAX_SYNCOOKIE_AGE` (2), i.e. the period
/// it was made in and the next one; so a cookie lives between 60 and 120 s.
pub const COOKIE_MAX_AGE: u32 = 2;

/// The MSS values a cookie can carry: Linux's IPv4 `msstab` (536 is the RFC 9293 default,
/// 1300 and 1440 common tunnel and PPPoE sizes, 1460 Ethernet). A peer's MSS is rounded down
/// to the nearest entry.
pub const COOKIE_MSS: [u16; 4] = [536, 1300, 1440, 1460];

/// Bits of the cookie below the counter (Linux `COOKIEBITS`).
const COOKIE_BITS: u32 = 24;
const COOKIE_MASK: u32 = (1 << COOKIE_BITS) - 1;

/// The counter at `now`: minutes since time zero, as the 8 bits the cookie keeps.
fn counter(now: SimTime) -> u32 {
    (now.as_nanos() / COOKIE_PERIOD.as_nanos()) as u32
}

/// SipHash of the 4-tuple, the counter and a tag: Linux `cookie_hash(saddr, daddr, sport,
/// dport, count, c)`, where the source is the peer that sent the SYN.
fn cookie_hash(key: (u64, u64), local: Addr, remote: Addr, count: u32, tag: u8) -> u32 {
    let mut b = [0u8; 17];
    b[0..4].copy_from_slice(&remote.ip.to_be_bytes());
    b[4..8].copy_from_slice(&local.ip.to_be_bytes());
    b[8..10].copy_from_slice(&remote.port.to_be_bytes());
    b[10..12].copy_from_slice(&local.port.to_be_bytes());
    b[12..16].copy_from_slice(&count.to_be_bytes());
    b[16] = tag;
    siphash24(key.0, key.1, &b) as u32
}

/// Index into [`COOKIE_MSS`] of the largest entry not above `mss` (0, i.e. 536, for
/// anything smaller); an `mss` of 0 (no MSS option) counts as [`DEFAULT_MSS`].
fn mss_index(mss: u16) -> u32 {
    let mss = if mss == 0 { DEFAULT_MSS } else { mss };
    COOKIE_MSS.iter().rposition(|&m| mss >= m).unwrap_or(0) as u32
}

/// The MSS a cookie made for a peer advertising `mss` will carry back (what the connection
/// will use as the peer's MSS): `mss` rounded down to an entry of [`COOKIE_MSS`].
pub fn cookie_mss(mss: u16) -> u16 {
    COOKIE_MSS[mss_index(mss) as usize]
}

/// The ISS of a cookie SYN-ACK answering a SYN from `remote` to `local` with SEG.SEQ =
/// `peer_isn` and MSS option `mss` (0 = none), at `now`, under `key` (the host's secret).
/// Deterministic: the same arguments give the same cookie.
pub fn encode(
    key: (u64, u64),
    now: SimTime,
    local: Addr,
    remote: Addr,
    peer_isn: SeqNum,
    mss: u16,
) -> SeqNum {
    let count = counter(now);
    let fixed = cookie_hash(key, local, remote, 0, 0);
    let keyed =
        cookie_hash(key, local, remote, count, 1).wrapping_add(mss_index(mss)) & COOKIE_MASK;
    SeqNum(
        fixed
            .wrapping_add(peer_isn.0)
            .wrapping_add(count << COOKIE_BITS)
            .wrapping_add(keyed),
    )
}

/// Checks `cookie` (our ISS as the peer echoes it: SEG.ACK - 1 of its ACK) against the
/// 4-tuple and `peer_isn` (SEG.SEQ - 1 of that ACK) at `now`. Returns the MSS the cookie
/// carries if it was made by [`encode`] with the same key, addresses and ISN within the last
/// [`COOKIE_MAX_AGE`] counter periods; `None` otherwise.
pub fn decode(
    key: (u64, u64),
    now: SimTime,
    local: Addr,
    remote: Addr,
    peer_isn: SeqNum,
    cookie: SeqNum,
) -> Option<u16> {
    let count = counter(now);
    let c = cookie
        .0
        .wrapping_sub(cookie_hash(key, local, remote, 0, 0).wrapping_add(peer_isn.0));
    // The counter lives in the top 8 bits; a cookie from the future gives a huge age.
    let age = count.wrapping_sub(c >> COOKIE_BITS) & (u32::MAX >> COOKIE_BITS);
    if age >= COOKIE_MAX_AGE {
        return None;
    }
    let made = count.wrapping_sub(age);
    let index = c.wrapping_sub(cookie_hash(key, local, remote, made, 1)) & COOKIE_MASK;
    COOKIE_MSS.get(index as usize).copied()
}

/// [`decode`] for the segment that should complete a cookie handshake: an ACK (neither SYN
/// nor RST) from `ack.src` to `ack.dst`, whose SEG.SEQ - 1 is the peer's ISN and SEG.ACK - 1
/// our cookie (Linux `__cookie_v4_check`). Data or a FIN on it do not matter here.
pub fn decode_ack(key: (u64, u64), now: SimTime, ack: &Segment) -> Option<u16> {
    use crate::wire::Flags;
    let f = ack.flags;
    if !f.contains(Flags::ACK) || f.contains(Flags::SYN) || f.contains(Flags::RST) {
        return None;
    }
    decode(key, now, ack.dst, ack.src, ack.seq - 1, ack.ack - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isn::splitmix64;
    use crate::wire::Flags;

    const KEY: (u64, u64) = (0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);
    const LOCAL: Addr = Addr::new(0x0a00_0002, 80);
    const REMOTE: Addr = Addr::new(0x0a00_0001, 49152);

    fn secs(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }
    fn ns(n: u64) -> SimTime {
        SimTime::from_nanos(n)
    }

    #[test]
    fn round_trip_carries_the_mss_rounded_down() {
        let isn = SeqNum(123_456);
        for (mss, want) in [
            (1460, 1460),
            (9000, 1460),
            (1459, 1440),
            (1440, 1440),
            (1300, 1300),
            (1299, 536),
            (536, 536),
            (88, 536),
            (0, 536),
        ] {
            let c = encode(KEY, secs(5), LOCAL, REMOTE, isn, mss);
            assert_eq!(
                decode(KEY, secs(5), LOCAL, REMOTE, isn, c),
                Some(want),
                "mss {mss}"
            );
            assert_eq!(cookie_mss(mss), want);
        }
    }

    #[test]
    fn valid_for_the_current_and_the_previous_minute_only() {
        let isn = SeqNum(7);
        // Made at the very start of minute 0: good until the end of minute 1 (120 s).
        let c = encode(KEY, secs(0), LOCAL, REMOTE, isn, 1460);
        let at = |t: SimTime| decode(KEY, t, LOCAL, REMOTE, isn, c);
        assert_eq!(at(secs(59)), Some(1460));
        assert_eq!(at(secs(60)), Some(1460));
        assert_eq!(at(ns(120_000_000_000 - 1)), Some(1460));
        assert_eq!(at(secs(120)), None, "MAX_SYNCOOKIE_AGE = 2 periods");
        assert_eq!(at(secs(3600)), None);
        // Made at the end of minute 0: it lives a little over 60 s.
        let late = encode(KEY, ns(60_000_000_000 - 1), LOCAL, REMOTE, isn, 1460);
        assert_eq!(decode(KEY, secs(119), LOCAL, REMOTE, isn, late), Some(1460));
        assert_eq!(decode(KEY, secs(120), LOCAL, REMOTE, isn, late), None);
        // A cookie "from the future" (the clock cannot go back; a forged counter) fails.
        let future = encode(KEY, secs(600), LOCAL, REMOTE, isn, 1460);
        assert_eq!(decode(KEY, secs(540), LOCAL, REMOTE, isn, future), None);
        assert_eq!(
            decode(KEY, secs(600), LOCAL, REMOTE, isn, future),
            Some(1460)
        );
    }

    #[test]
    fn any_change_of_the_inputs_fails() {
        let isn = SeqNum(u32::MAX - 3);
        let t = secs(1000);
        // Index 0 (536), so that a change of -1 cannot land on another valid index.
        let c = encode(KEY, t, LOCAL, REMOTE, isn, 536);
        assert_eq!(decode(KEY, t, LOCAL, REMOTE, isn, c), Some(536));
        let other_port = Addr::new(REMOTE.ip, REMOTE.port + 1);
        let other_ip = Addr::new(REMOTE.ip + 1, REMOTE.port);
        let other_local = Addr::new(LOCAL.ip, 8080);
        assert_eq!(decode(KEY, t, LOCAL, other_port, isn, c), None);
        assert_eq!(decode(KEY, t, LOCAL, other_ip, isn, c), None);
        assert_eq!(decode(KEY, t, other_local, REMOTE, isn, c), None);
        assert_eq!(
            decode(KEY, t, REMOTE, LOCAL, isn, c),
            None,
            "direction matters"
        );
        assert_eq!(decode(KEY, t, LOCAL, REMOTE, isn + 1, c), None);
        assert_eq!(decode(KEY, t, LOCAL, REMOTE, isn + 1460, c), None);
        assert_eq!(decode((KEY.0, KEY.1 ^ 1), t, LOCAL, REMOTE, isn, c), None);
        for d in [u32::MAX, 4, 1 << 24, 1 << 31] {
            assert_eq!(
                decode(KEY, t, LOCAL, REMOTE, isn, c + d),
                None,
                "cookie + {d}"
            );
        }
        assert_ne!(
            encode(KEY, t, LOCAL, other_port, isn, 536),
            c,
            "the hash covers the port"
        );
    }

    /// As in Linux, the MSS index is added to the keyed hash, not hashed: numbers off by
    /// less than 4 in the right direction decode to a neighbouring MSS, and only the sum of
    /// ISN and cookie matters.
    #[test]
    fn the_mss_index_is_added_as_in_linux() {
        let (isn, t) = (SeqNum(1000), secs(10));
        let c = encode(KEY, t, LOCAL, REMOTE, isn, 536);
        assert_eq!(decode(KEY, t, LOCAL, REMOTE, isn, c + 1), Some(1300));
        assert_eq!(decode(KEY, t, LOCAL, REMOTE, isn, c + 3), Some(1460));
        assert_eq!(decode(KEY, t, LOCAL, REMOTE, isn + 1, c + 1), Some(536));
    }

    #[test]
    fn guessed_cookies_fail() {
        let mut rng = 42u64;
        let t = secs(90);
        let mut accepted = 0;
        for _ in 0..200_000 {
            let r = splitmix64(&mut rng);
            let isn = SeqNum(r as u32);
            if decode(KEY, t, LOCAL, REMOTE, isn, SeqNum((r >> 32) as u32)).is_some() {
                accepted += 1;
            }
        }
        // Expected about 200_000 * 2/256 * 4/2^24 = 0.0004.
        assert_eq!(accepted, 0);
    }

    #[test]
    fn decode_ack_reads_the_handshake_ack() {
        let t = secs(30);
        let isn = SeqNum(u32::MAX);
        let cookie = encode(KEY, t, LOCAL, REMOTE, isn, 1460);
        let ack = Segment {
            src: REMOTE,
            dst: LOCAL,
            seq: isn + 1,
            ack: cookie + 1,
            flags: Flags::ACK,
            window: 65535,
            ..Segment::default()
        };
        assert_eq!(
            decode_ack(KEY, t + SimDuration::from_millis(20), &ack),
            Some(1460)
        );
        // Data and FIN on it do not change the numbers.
        let data = Segment {
            flags: Flags::ACK | Flags::PSH | Flags::FIN,
            payload_len: 100,
            ..ack
        };
        assert_eq!(decode_ack(KEY, t, &data), Some(1460));
        for flags in [Flags::SYN | Flags::ACK, Flags::RST | Flags::ACK, Flags::FIN] {
            assert_eq!(
                decode_ack(KEY, t, &Segment { flags, ..ack }),
                None,
                "{flags}"
            );
        }
    }
}

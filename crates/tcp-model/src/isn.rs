//! Initial sequence numbers (RFC 6528) and the keyed hash and generator behind them.

use sim_time::{SimDuration, SimTime};

use crate::config::{IsnPolicy, TcpConfig};
use crate::wire::{Addr, SeqNum};

/// SipHash's initial state for key `(k0, k1)`.
#[inline(always)]
fn sip_init(k0: u64, k1: u64) -> [u64; 4] {
    [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ]
}

/// One SipRound.
#[inline(always)]
fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

/// Absorbs message word `m` with 2 SipRounds (the "2" of SipHash-2-4).
#[inline(always)]
fn sip_compress(v: &mut [u64; 4], m: u64) {
    v[3] ^= m;
    sip_round(v);
    sip_round(v);
    v[0] ^= m;
}

/// The 4 finalization SipRounds (the "4" of SipHash-2-4).
#[inline(always)]
fn sip_finish(mut v: [u64; 4]) -> u64 {
    v[2] ^= 0xff;
    for _ in 0..4 {
        sip_round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// SipHash-2-4 (Aumasson & Bernstein), the keyed PRF Linux uses for `secure_tcp_seq`. Written
/// out here (30 lines) rather than taken as a dependency; tested against the reference.
pub fn siphash24(k0: u64, k1: u64, data: &[u8]) -> u64 {
    let mut v = sip_init(k0, k1);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        sip_compress(&mut v, u64::from_le_bytes(b));
    }
    let mut last = (data.len() as u64) << 56;
    for (i, &x) in chunks.remainder().iter().enumerate() {
        last |= (x as u64) << (8 * i);
    }
    sip_compress(&mut v, last);
    sip_finish(v)
}

/// [`siphash24`] of the 12 bytes `w0 w1 w2` (each little-endian), without a byte buffer: the
/// first 8 bytes are one message word, the last 4 share the final word with the length, as in
/// Linux's `siphash_3u32`. The ISN hashes one per connection.
#[inline]
fn siphash24_3u32(key: &SipKey, w0: u32, w1: u32, w2: u32) -> u64 {
    let mut v = key.0;
    sip_compress(&mut v, w0 as u64 | (w1 as u64) << 32);
    sip_compress(&mut v, 12 << 56 | w2 as u64);
    sip_finish(v)
}

/// The RFC 6528 hash of a 4-tuple: SipHash-2-4 over local IP, remote IP, local port and
/// remote port, in network byte order (12 bytes). Each word is the little-endian reading of
/// those bytes, so the value is the same as hashing the byte string on any platform.
#[inline]
fn tuple_hash(key: &SipKey, local: Addr, remote: Addr) -> u64 {
    let ports = (local.port.swap_bytes() as u32) | (remote.port.swap_bytes() as u32) << 16;
    siphash24_3u32(key, local.ip.swap_bytes(), remote.ip.swap_bytes(), ports)
}

/// A SipHash-2-4 key `(k0, k1)` kept as the state it initializes: a host hashes every ISN
/// with one key, so the key schedule is done once, not per connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SipKey([u64; 4]);

impl SipKey {
    pub(crate) fn new(k0: u64, k1: u64) -> SipKey {
        SipKey(sip_init(k0, k1))
    }
}

/// [`tuple_hash`]'s state after its first message word (the two IP addresses), for the last
/// pair of addresses hashed. A host's local address never changes and its peers are few, so
/// consecutive ISNs mostly share the pair: their first two SipRounds are done once.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TupleHashCache {
    /// The first message word the state is for.
    ips: u64,
    v: [u64; 4],
}

impl TupleHashCache {
    pub(crate) fn new(key: &SipKey) -> TupleHashCache {
        let mut v = key.0;
        sip_compress(&mut v, 0);
        TupleHashCache { ips: 0, v }
    }
}

/// [`tuple_hash`] through `cache`: the same value.
#[inline]
fn tuple_hash_cached(key: &SipKey, cache: &mut TupleHashCache, local: Addr, remote: Addr) -> u64 {
    let ips = local.ip.swap_bytes() as u64 | (remote.ip.swap_bytes() as u64) << 32;
    if cache.ips != ips {
        let mut v = key.0;
        sip_compress(&mut v, ips);
        *cache = TupleHashCache { ips, v };
    }
    let ports = (local.port.swap_bytes() as u32) | (remote.port.swap_bytes() as u32) << 16;
    let mut v = cache.v;
    sip_compress(&mut v, 12 << 56 | ports as u64);
    sip_finish(v)
}

/// SplitMix64 step: a small, well-mixed deterministic generator (for port selection and for
/// deriving the second SipHash key from the host secret).
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The RFC 793 ISN clock: one tick every 4 microseconds, wrapping every ~4.77 hours.
pub fn isn_clock(now: SimTime) -> u32 {
    isn_clock_with_tick(now, SimDuration::from_micros(4))
}

/// The ISN clock with a tick of `tick` (a zero tick counts nanoseconds).
pub fn isn_clock_with_tick(now: SimTime, tick: SimDuration) -> u32 {
    (now.as_nanos() / tick.as_nanos().max(1)) as u32
}

/// ISN for a connection from `local` to `remote` at `now` under `cfg`: RFC 6528 `ISN = M +
/// F(4-tuple, secret)` for `Random`, `M` alone for `Clock`, 0 for `Zero`, `isn_constant` for
/// `Constant`; `M` ticks every `isn_clock_tick`.
pub(crate) fn isn(
    cfg: &TcpConfig,
    key: &SipKey,
    now: SimTime,
    local: Addr,
    remote: Addr,
) -> SeqNum {
    isn_with(cfg, now, || tuple_hash(key, local, remote))
}

/// [`isn`] with the hash's first round kept in `cache` (see [`TupleHashCache`]): the same
/// value. Inlined into the host's two opens (once per connection each).
#[inline(always)]
pub(crate) fn isn_cached(
    cfg: &TcpConfig,
    key: &SipKey,
    cache: &mut TupleHashCache,
    now: SimTime,
    local: Addr,
    remote: Addr,
) -> SeqNum {
    isn_with(cfg, now, || tuple_hash_cached(key, cache, local, remote))
}

/// The ISN under `cfg` at `now`, `hash` giving `F(4-tuple, secret)` (only called for
/// `Random`).
#[inline(always)]
fn isn_with(cfg: &TcpConfig, now: SimTime, hash: impl FnOnce() -> u64) -> SeqNum {
    let clock = || isn_clock_with_tick(now, cfg.isn_clock_tick);
    match cfg.isn {
        IsnPolicy::Zero => SeqNum(0),
        IsnPolicy::Constant => SeqNum(cfg.isn_constant),
        IsnPolicy::Clock => SeqNum(clock()),
        IsnPolicy::Random => SeqNum(clock().wrapping_add(hash() as u32)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siphash_matches_reference_vectors() {
        // Reference implementation's vectors: key 00..0f, message 00..(n-1).
        let (k0, k1) = (0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908);
        let msg: Vec<u8> = (0..64).collect();
        assert_eq!(siphash24(k0, k1, &msg[..0]), 0x726f_db47_dd0e_0e31);
        assert_eq!(siphash24(k0, k1, &msg[..1]), 0x74f8_39c5_93dc_67fd);
        // And std's (deprecated, still SipHash-2-4) implementation, for every length.
        #[allow(deprecated)]
        for n in 0..64 {
            use std::hash::Hasher;
            let mut h = std::hash::SipHasher::new_with_keys(k0 ^ n as u64, k1);
            h.write(&msg[..n]);
            assert_eq!(
                siphash24(k0 ^ n as u64, k1, &msg[..n]),
                h.finish(),
                "length {n}"
            );
        }
    }

    /// The byte string the ISN hash is defined on (RFC 6528 `F(localip, localport, remoteip,
    /// remoteport, secretkey)`, in the order Linux's `secure_tcp_seq` passes them).
    fn tuple_bytes(local: Addr, remote: Addr) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[0..4].copy_from_slice(&local.ip.to_be_bytes());
        b[4..8].copy_from_slice(&remote.ip.to_be_bytes());
        b[8..10].copy_from_slice(&local.port.to_be_bytes());
        b[10..12].copy_from_slice(&remote.port.to_be_bytes());
        b
    }

    #[test]
    fn tuple_hash_is_siphash_of_the_tuple_bytes() {
        let mut s = 7u64;
        for _ in 0..2000 {
            let r = splitmix64(&mut s);
            let key = (splitmix64(&mut s), splitmix64(&mut s));
            let local = Addr::new(r as u32, (r >> 32) as u16);
            let remote = Addr::new(splitmix64(&mut s) as u32, (r >> 48) as u16);
            assert_eq!(
                tuple_hash(&SipKey::new(key.0, key.1), local, remote),
                siphash24(key.0, key.1, &tuple_bytes(local, remote)),
                "{local:?} {remote:?}"
            );
        }
        // The cached form gives the same values, whether the address pair changes or not.
        let key = SipKey::new(5, 6);
        let mut cache = TupleHashCache::new(&key);
        let mut s = 11u64;
        for i in 0..2000u64 {
            let r = splitmix64(&mut s);
            let local = Addr::new((i % 3) as u32, r as u16);
            let remote = Addr::new(
                if i % 7 == 0 { r as u32 >> 16 } else { 0 },
                (r >> 16) as u16,
            );
            assert_eq!(
                tuple_hash_cached(&key, &mut cache, local, remote),
                tuple_hash(&key, local, remote),
                "{local:?} {remote:?}"
            );
        }
        // The byte order spelled out: addresses and ports in network order.
        let (a, b) = (Addr::new(0x0a00_0001, 49152), Addr::new(0x0a00_0002, 80));
        assert_eq!(
            tuple_hash(&SipKey::new(1, 2), a, b),
            siphash24(1, 2, &[10, 0, 0, 1, 10, 0, 0, 2, 0xc0, 0, 0, 80])
        );
    }

    #[test]
    fn isn_policies() {
        let a = Addr::new(1, 1000);
        let b = Addr::new(2, 80);
        let k12 = SipKey::new(1, 2);
        let t = SimTime::from_nanos(4_000 * 1000 + 3_999);
        let with = |isn: IsnPolicy| TcpConfig {
            isn,
            isn_constant: 0xffff_fff0,
            ..TcpConfig::default()
        };
        let (zero, clock, random) = (
            with(IsnPolicy::Zero),
            with(IsnPolicy::Clock),
            with(IsnPolicy::Random),
        );
        assert_eq!(isn(&zero, &k12, t, a, b), SeqNum(0));
        assert_eq!(isn(&clock, &k12, t, a, b), SeqNum(1000));
        assert_eq!(
            isn(&with(IsnPolicy::Constant), &k12, t, a, b),
            SeqNum(0xffff_fff0)
        );
        // A 1 ms tick: 4.003999 ms is tick 4.
        let slow = TcpConfig {
            isn_clock_tick: SimDuration::from_millis(1),
            ..clock
        };
        assert_eq!(isn(&slow, &k12, t, a, b), SeqNum(4));
        let r1 = isn(&random, &k12, t, a, b);
        assert_eq!(r1, isn(&random, &k12, t, a, b), "deterministic");
        assert_ne!(
            r1,
            isn(&random, &k12, t, Addr::new(1, 1001), b),
            "per 4-tuple"
        );
        assert_ne!(r1, isn(&random, &SipKey::new(3, 2), t, a, b), "per secret");
        // The clock part still advances: same tuple, 4 us later, exactly one more.
        let later = SimTime::from_nanos(t.as_nanos() + 4_000);
        assert_eq!(isn(&random, &k12, later, a, b), r1 + 1);
        // RFC 793: the clock wraps after 2^32 ticks (~4.77 h at 4 us).
        let wrap = SimTime::from_nanos((1u64 << 32) * 4_000 + 8_000);
        assert_eq!(isn(&clock, &k12, wrap, a, b), SeqNum(2));
    }
}

//! The hash of the host's demultiplexing table: spread like a good hash, but with locality for
//! the ephemeral ports that consecutive connections use.
//!
//! # Why not FxHash
//!
//! A host's demux table holds every connection, TIME-WAIT included: about 1 M entries (2 M
//! buckets) in `bench-a`. Only a few thousand of them are busy at any instant (in their
//! handshake or teardown), but FxHash puts the keys of consecutive ephemeral ports in random
//! buckets, so each of those lives in a cache line and a 4 KiB page of its own: every insert
//! of a new connection, every lookup of one that was active 10 ms ago, and every expiry of a
//! TIME-WAIT record 60 s later misses the caches and the TLB. perf showed these misses as
//! ~90 % of `Host::handle_segment`.
//!
//! # What this hash does instead
//!
//! hashbrown (std's `HashMap`) takes the bucket from the low bits of the hash (`hash & mask`)
//! and a 7-bit tag from its top bits (`hash >> 57`), compared 16 control bytes at a time. So:
//!
//! * **Low bits: a random tile base plus a small offset.** A tile is 2^[`PORT_BITS`] = 32
//!   values of the local port by 2^[`DIFF_BITS`] = 8 values of `remote port - local port`
//!   (mod 2^16); the hash is `mix(tile) + offset in the tile`, the local port's low bits
//!   first. tcpsim reaches a million connections only by spreading them over many server
//!   ports from one client address (`bench-a`: 64, `bench-6m`: 256; one port pair holds only
//!   28,232 ephemeral ports), so consecutive connections step BOTH ports by one: the client's
//!   ephemeral port and the server port they cycle over. On the client the local port is the
//!   ephemeral one, on the server the remote port is; either way the difference stays put, so
//!   consecutive connections land in consecutive buckets, 32 to a tile (512 bytes of entries,
//!   32 control bytes). A new connection finds its control bytes, its entry line and its page
//!   already cached by its predecessors; lookups of connections opened a few ms earlier touch
//!   a few hundred tiles instead of thousands of random lines and pages; TIME-WAIT records
//!   expire in the same order, sweeping tiles. Toward one server port (the difference steps
//!   too) neighbours are 31 buckets apart, 8 to a tile: page locality, not line locality.
//! * **Tiles are placed at random**, by a full 64-bit mix of everything else: the remote
//!   address and the two tile coordinates. So keys from many addresses (a SYN flood from 2^17
//!   sources, or one source port seen from many addresses) spread as with any good hash. A
//!   tile holds at most 256 keys in 256 buckets and is injective; tiles overlap one another at
//!   random, so the load of a 16-bucket group varies more than with a uniform hash and
//!   hashbrown probes a little more (callgrind: about 40 more instructions per operation at
//!   1 M entries); the cache and TLB misses saved are worth far more.
//! * **The tag still varies between neighbours**: the top 7 bits get a Fibonacci hash of the
//!   offset XORed in, so 16 neighbouring keys in one control group rarely share a tag and a
//!   lookup compares one key, not sixteen.
//!
//! Nothing observable depends on it: the table is only looked up, never iterated.
use std::hash::{BuildHasher, Hasher};

/// Bits of the local port in a tile's offset: runs of 2^5 = 32 consecutive ports per tile.
pub const PORT_BITS: u32 = 5;
/// Bits of `remote port - local port` in a tile's offset: tiles of 2^(5+3) = 256 buckets.
pub const DIFF_BITS: u32 = 3;
const TAG_MASK: u64 = 0x7f << 57;

/// The hash of a demux key `remote_ip << 32 | remote_port << 16 | local_port` (see the
/// module documentation).
#[inline]
pub fn demux_hash(key: u64) -> u64 {
    let ip = key >> 32;
    let (remote, local) = ((key >> 16) as u16, key as u16);
    let diff = remote.wrapping_sub(local);
    // ip: bits 32..64; the local port's tile: bits 16..32; the difference's: bits 0..16.
    let tile = ip << 32 | ((local >> PORT_BITS) as u64) << 16 | (diff >> DIFF_BITS) as u64;
    let off = (local & ((1 << PORT_BITS) - 1)) as u64
        | ((diff & ((1 << DIFF_BITS) - 1)) as u64) << PORT_BITS;
    // A carry from `+ off` reaches the tag only if bits 8..57 are all ones: harmless.
    mix64(tile).wrapping_add(off) ^ (off.wrapping_mul(0x9e37_79b9_7f4a_7c15) & TAG_MASK)
}

/// MurmurHash3's 64-bit finalizer: every input bit affects every output bit. (A single
/// folded multiply is cheaper but maps 2^17 consecutive addresses onto a quarter of the
/// buckets they should cover; `many_sources_spread_evenly` checks it.)
#[inline]
fn mix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ x >> 33
}

/// A [`BuildHasher`] for `HashMap<u64, V>` keyed as a [`crate::Host`] keys its connections
/// (remote address and local port, `remote_ip << 32 | remote_port << 16 | local_port`): see
/// [`demux_hash`]. Other key types work but get no locality (bytes are folded FxHash-style).
#[derive(Clone, Copy, Default, Debug)]
pub struct DemuxBuildHasher;

impl BuildHasher for DemuxBuildHasher {
    type Hasher = DemuxHasher;
    fn build_hasher(&self) -> DemuxHasher {
        DemuxHasher(0)
    }
}

/// The [`Hasher`] of [`DemuxBuildHasher`].
#[derive(Clone, Copy, Default, Debug)]
pub struct DemuxHasher(u64);

impl Hasher for DemuxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
    #[inline]
    fn write_u64(&mut self, key: u64) {
        self.0 = demux_hash(self.0 ^ key);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn key(ip: u32, remote_port: u16, local_port: u16) -> u64 {
        (ip as u64) << 32 | (remote_port as u64) << 16 | local_port as u64
    }

    /// Buckets between consecutive hashes (signed, in a 2^20-bucket table).
    fn gaps(hs: &[u64]) -> Vec<i64> {
        hs.windows(2)
            .map(|w| ((w[1].wrapping_sub(w[0]) & 0xfffff) as i64 + 0x80000) % 0x100000 - 0x80000)
            .collect()
    }

    #[test]
    fn cycling_over_server_ports_gives_consecutive_buckets() {
        // bench-a's client (local port and remote port step together) and its server (the
        // same, seen from the other end): 32-key runs one bucket apart.
        for (ip, remote, local) in [(2, 80, 40000), (1, 40000, 80)] {
            let hs: Vec<u64> = (0..256u16)
                .map(|i| demux_hash(key(ip, remote + i, local + i)))
                .collect();
            let g = gaps(&hs);
            let ones = g.iter().filter(|&&d| d == 1).count();
            assert!(ones >= 255 * 31 / 32 - 2, "{ones} of 255 adjacent");
            let tags: HashSet<u64> = hs[..32].iter().map(|h| h >> 57).collect();
            assert!(
                tags.len() >= 20,
                "only {} tags among 32 neighbours",
                tags.len()
            );
        }
    }

    #[test]
    fn one_server_port_gives_nearby_buckets() {
        for (remote, local, step_remote) in [(80, 40000, 0), (40000, 80, 1)] {
            let hs: Vec<u64> = (0..64u16)
                .map(|i| {
                    let (r, l) = (remote + i * step_remote, local + i * (1 - step_remote));
                    demux_hash(key(7, r, l))
                })
                .collect();
            let near = gaps(&hs).iter().filter(|d| d.abs() <= 32).count();
            assert!(near >= 50, "{near} of 63 within 32 buckets");
        }
    }

    #[test]
    fn many_sources_spread_evenly() {
        // 2^17 sources on one port to one listener, sequential addresses: the count per
        // bucket of a 2^18-bucket table must look uniform.
        let mut count = vec![0u8; 1 << 18];
        for ip in 0..1u32 << 17 {
            let b = demux_hash(key(0x0a00_0000 + ip, 12345, 80)) as usize & ((1 << 18) - 1);
            count[b] = count[b].saturating_add(1);
        }
        let max = *count.iter().max().unwrap();
        let empty = count.iter().filter(|&&c| c == 0).count() as f64 / (1 << 18) as f64;
        assert!(max <= 10, "max {max} per bucket");
        // Uniform at load 0.5: e^-0.5 = 0.607 of the buckets empty.
        assert!((empty - 0.607).abs() < 0.01, "empty {empty}");
        let tags: HashSet<u64> = (0..1024u32)
            .map(|ip| demux_hash(key(ip, 12345, 80)) >> 57)
            .collect();
        assert_eq!(tags.len(), 128);
    }

    #[test]
    fn distinct_keys_get_distinct_hashes() {
        let mut seen = HashSet::new();
        for p in 0..=u16::MAX {
            assert!(seen.insert(demux_hash(key(9, 80, p))));
            assert!(seen.insert(demux_hash(key(9, p, 80))) || p == 80);
        }
        let mut h = DemuxBuildHasher.build_hasher();
        h.write_u64(key(9, 80, 40000));
        assert_eq!(h.finish(), demux_hash(key(9, 80, 40000)));
    }
}

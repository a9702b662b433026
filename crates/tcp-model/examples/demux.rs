//! The demux table alone at scale: 1 M keys alive in a sliding window, hashed with FxHash
//! (what `Host` used before) and with [`tcp_model::demux::DemuxBuildHasher`].
//!
//! Each step opens connection `k` as `Host` does for `bench-a`'s client (a sequential
//! ephemeral port toward server port `80 + k % 64`, skipping 4-tuples in use), inserts it, looks
//! up the connections opened 1000, 2000 and 3000 steps earlier (their segments arriving 10, 20,
//! 30 ms later at 100k/s), rewrites the value of the one 4000 steps earlier (it enters
//! TIME-WAIT) and removes the one `alive` steps earlier (its TIME-WAIT ends). `--server` uses
//! the server's keys (the client's port is the remote one), `--flood` keys from random
//! addresses and ports (a SYN flood) toward one port. Each operation depends on the result of
//! the one before, as in a host: a CPU overlaps the cache misses of independent lookups,
//! which would flatter a hash without locality.
//!
//! `cargo run --release -p tcp-model --example demux -- [steps] [--alive N] [--server|--flood]
//! [--only fx|demux]`
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::time::Instant;

use rustc_hash::FxBuildHasher;
use tcp_model::demux::DemuxBuildHasher;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Client,
    Server,
    Flood,
}

fn key(ip: u32, remote_port: u16, local_port: u16) -> u64 {
    (ip as u64) << 32 | (remote_port as u64) << 16 | local_port as u64
}

fn run<S: BuildHasher + Default>(name: &str, steps: u64, alive: u64, kind: Kind) -> u64 {
    let mut map: HashMap<u64, u64, S> = HashMap::default();
    let mut ring = vec![0u64; alive as usize];
    let (lo, n) = (32768u32, 28232u32);
    let (mut cursor, mut rng, mut found, mut probes) = (0u32, 0x9e37_79b9u64, 0u64, 0u64);
    let start = Instant::now();
    for k in 0..steps {
        let sp = 80 + (k % 64) as u16;
        let new = match kind {
            Kind::Flood => {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                key(rng as u32, (rng >> 32) as u16, 80)
            }
            _ => loop {
                let p = (lo + cursor) as u16;
                cursor = (cursor + 1) % n;
                let k = match kind {
                    Kind::Client => key(2, sp, p),
                    _ => key(1, p, sp),
                };
                probes += 1;
                if !map.contains_key(&k) {
                    break k;
                }
            },
        };
        map.insert(new, k);
        ring[(k % alive) as usize] = new;
        // `dep` is always 0, but the CPU cannot know: each operation waits for the one
        // before, as in a host, where a segment's lookup leads to its connection and the
        // next input comes after a few hundred instructions, too far to overlap misses.
        let mut dep = 0u64;
        for back in [1000, 2000, 3000] {
            if k >= back {
                let v = map.get(&ring[((k - back + dep) % alive) as usize]);
                found += v.is_some() as u64;
                dep = v.map_or(0, |v| v >> 40);
            }
        }
        if k >= 4000 {
            map.insert(ring[((k - 4000 + dep) % alive) as usize], k | 1 << 31);
        }
        if k + 1 >= alive {
            let v = map.remove(&ring[((k + 1 - alive + dep) % alive) as usize]);
            cursor += v.map_or(0, |v| (v >> 40) as u32);
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / steps as f64;
    println!(
        "{name:>6}: {ns:6.1} ns/step ({} alive, {found} found, {:.2} port probes/step)",
        map.len(),
        probes as f64 / steps as f64
    );
    found
}

fn main() {
    let (mut steps, mut alive, mut kind) = (4_000_000u64, 1_000_000u64, Kind::Client);
    let mut only = String::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--alive" => alive = args.next().and_then(|v| v.parse().ok()).expect("--alive N"),
            "--server" => kind = Kind::Server,
            "--flood" => kind = Kind::Flood,
            "--only" => only = args.next().unwrap_or_default(),
            s => steps = s.parse().expect("steps, or an option"),
        }
    }
    let a = (only != "demux").then(|| run::<FxBuildHasher>("fx", steps, alive, kind));
    let b = (only != "fx").then(|| run::<DemuxBuildHasher>("demux", steps, alive, kind));
    if let (Some(a), Some(b)) = (a, b) {
        assert_eq!(a, b, "both tables must find the same keys");
    }
}

//! Byte-level checks of the pcap output against an independent parser and checksum written
//! here (not shared with the library), so a bug in the library's encoding cannot hide itself.

use pcap::{flags, PcapError, PcapWriter, TcpPacket};
use proptest::prelude::*;

/// RFC 1071 checksum, written independently of the library: byte pairs summed in a u64,
/// folded at the end.
fn rfc1071(parts: &[&[u8]]) -> u16 {
    let bytes: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
    let mut sum: u64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let hi = u64::from(bytes[i]);
        let lo = u64::from(*bytes.get(i + 1).unwrap_or(&0));
        sum += (hi << 8) | lo;
        i += 2;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[derive(Debug, PartialEq, Eq)]
struct Global {
    magic: u32,
    major: u16,
    minor: u16,
    snaplen: u32,
    linktype: u32,
}

#[derive(Debug)]
struct Record {
    ts_sec: u32,
    ts_nsec: u32,
    orig_len: u32,
    data: Vec<u8>,
}

fn u16le(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn u16be(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}
fn u32be(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn parse(file: &[u8]) -> (Global, Vec<Record>) {
    assert!(file.len() >= 24, "file shorter than the global header");
    let g = Global {
        magic: u32le(file, 0),
        major: u16le(file, 4),
        minor: u16le(file, 6),
        snaplen: u32le(file, 16),
        linktype: u32le(file, 20),
    };
    assert_eq!(u32le(file, 8), 0, "thiszone");
    assert_eq!(u32le(file, 12), 0, "sigfigs");
    let mut at = 24;
    let mut recs = Vec::new();
    while at < file.len() {
        let caplen = u32le(file, at + 8) as usize;
        let rec = Record {
            ts_sec: u32le(file, at),
            ts_nsec: u32le(file, at + 4),
            orig_len: u32le(file, at + 12),
            data: file[at + 16..at + 16 + caplen].to_vec(),
        };
        assert!(rec.ts_nsec < 1_000_000_000);
        at += 16 + caplen;
        recs.push(rec);
    }
    assert_eq!(at, file.len(), "trailing bytes");
    (g, recs)
}

/// Decodes a full (untruncated) record back into a TcpPacket, checking every fixed field and
/// both checksums along the way.
fn decode(rec: &Record) -> (TcpPacket, u16) {
    let d = &rec.data;
    assert_eq!(d.len() as u32, rec.orig_len);
    assert_eq!(d[0], 0x45, "version/IHL");
    assert_eq!(u16be(d, 2) as usize, d.len(), "IPv4 total length");
    assert_eq!(u16be(d, 6), 0x4000, "DF, no fragment offset");
    assert_eq!(d[8], 64, "TTL");
    assert_eq!(d[9], 6, "protocol");
    assert_eq!(rfc1071(&[&d[..20]]), 0, "IPv4 header checksum");
    let tcp = &d[20..];
    let doff = usize::from(tcp[12] >> 4) * 4;
    assert_eq!(tcp[12] & 0x0f, 0, "reserved bits");
    assert_eq!(u16be(tcp, 18), 0, "urgent pointer");
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&d[12..20]);
    pseudo.extend_from_slice(&[0, 6]);
    pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
    assert_eq!(rfc1071(&[&pseudo, tcp]), 0, "TCP checksum");
    let mss = match doff {
        20 => None,
        24 => {
            assert_eq!(&tcp[20..22], &[2, 4]);
            Some(u16be(tcp, 22))
        }
        other => panic!("unexpected data offset {other}"),
    };
    assert!(tcp[doff..].iter().all(|&b| b == 0), "payload is zeros");
    let p = TcpPacket {
        ts_ns: u64::from(rec.ts_sec) * 1_000_000_000 + u64::from(rec.ts_nsec),
        src_ip: u32be(d, 12),
        dst_ip: u32be(d, 16),
        src_port: u16be(tcp, 0),
        dst_port: u16be(tcp, 2),
        seq: u32be(tcp, 4),
        ack: u32be(tcp, 8),
        flags: tcp[13],
        window: u16be(tcp, 14),
        mss,
        payload_len: (tcp.len() - doff) as u32,
    };
    (p, u16be(d, 4))
}

fn syn() -> TcpPacket {
    TcpPacket {
        ts_ns: 1_500_000_123,
        src_ip: 0x0a00_0001,
        dst_ip: 0x0a00_0002,
        src_port: 40_000,
        dst_port: 80,
        seq: 0x0102_0304,
        ack: 0,
        flags: flags::SYN,
        window: 64_240,
        mss: Some(1460),
        payload_len: 0,
    }
}

#[test]
fn global_header_is_byte_exact() {
    let bytes = PcapWriter::new(Vec::new()).unwrap().finish().unwrap();
    assert_eq!(
        bytes,
        [
            0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 101, 0,
            0, 0
        ]
    );
}

#[test]
fn syn_with_mss_is_byte_exact() {
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    w.write(&syn()).unwrap();
    let bytes = w.finish().unwrap();
    let rec = &bytes[24..];

    #[rustfmt::skip]
    let mut ip: Vec<u8> = vec![
        0x45, 0x00, 0x00, 44,   // v4 IHL5, TOS, total length 20+24
        0x00, 0x00, 0x40, 0x00, // id 0, DF
        64, 6, 0, 0,            // TTL, TCP, checksum placeholder
        10, 0, 0, 1,
        10, 0, 0, 2,
    ];
    #[rustfmt::skip]
    let mut tcp: Vec<u8> = vec![
        0x9c, 0x40, 0x00, 0x50, // 40000 -> 80
        0x01, 0x02, 0x03, 0x04, // seq
        0, 0, 0, 0,             // ack
        0x60, 0x02, 0xfa, 0xf0, // doff 6, SYN, window 64240
        0, 0, 0, 0,             // checksum placeholder, urgent
        2, 4, 0x05, 0xb4,       // MSS 1460
    ];
    let ip_csum = rfc1071(&[&ip]);
    ip[10..12].copy_from_slice(&ip_csum.to_be_bytes());
    let pseudo = [10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0, 24];
    let tcp_csum = rfc1071(&[&pseudo, &tcp]);
    tcp[16..18].copy_from_slice(&tcp_csum.to_be_bytes());

    let mut expected = Vec::new();
    expected.extend_from_slice(&1u32.to_le_bytes());
    expected.extend_from_slice(&500_000_123u32.to_le_bytes());
    expected.extend_from_slice(&44u32.to_le_bytes());
    expected.extend_from_slice(&44u32.to_le_bytes());
    expected.extend_from_slice(&ip);
    expected.extend_from_slice(&tcp);
    assert_eq!(rec, &expected[..]);
    // Hand-computed values pin the independent checksum itself.
    assert_eq!(ip_csum, 0x26ca);
    assert_ne!(tcp_csum, 0);
}

#[test]
fn round_trip_of_a_short_exchange() {
    let a = syn();
    let b = TcpPacket {
        ts_ns: 1_600_000_000,
        src_ip: a.dst_ip,
        dst_ip: a.src_ip,
        src_port: a.dst_port,
        dst_port: a.src_port,
        seq: 0xdead_beef,
        ack: a.seq.wrapping_add(1),
        flags: flags::SYN | flags::ACK,
        window: 65_535,
        mss: Some(1400),
        payload_len: 0,
    };
    let c = TcpPacket {
        ts_ns: 1_700_000_000,
        seq: a.seq.wrapping_add(1),
        ack: b.seq.wrapping_add(1),
        flags: flags::ACK | flags::PSH,
        mss: None,
        payload_len: 1000,
        ..a
    };
    let sent = [a, b, c];
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    for p in &sent {
        w.write(p).unwrap();
    }
    let (g, recs) = parse(&w.finish().unwrap());
    assert_eq!(
        g,
        Global {
            magic: 0xa1b2_3c4d,
            major: 2,
            minor: 4,
            snaplen: 65_535,
            linktype: 101
        }
    );
    assert_eq!(recs.len(), 3);
    for (i, (rec, want)) in recs.iter().zip(&sent).enumerate() {
        let (got, ip_id) = decode(rec);
        assert_eq!(&got, want);
        assert_eq!(usize::from(ip_id), i, "per-writer identification counter");
    }
}

#[test]
fn snaplen_truncates_record_but_keeps_original_length() {
    let mut w = PcapWriter::with_snaplen(Vec::new(), 60).unwrap();
    let p = TcpPacket {
        payload_len: 1000,
        mss: None,
        ..syn()
    };
    w.write(&p).unwrap();
    let (g, recs) = parse(&w.finish().unwrap());
    assert_eq!(g.snaplen, 60);
    assert_eq!(recs[0].data.len(), 60);
    assert_eq!(recs[0].orig_len, 1040);
    assert_eq!(u16::from_be_bytes([recs[0].data[2], recs[0].data[3]]), 1040);
}

#[test]
fn oversized_payload_is_a_typed_error() {
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    let p = TcpPacket {
        payload_len: 70_000,
        ..syn()
    };
    match w.write(&p) {
        Err(PcapError::PacketTooLong {
            payload_len: 70_000,
            total_bytes: 70_044,
        }) => {}
        other => panic!("expected PacketTooLong, got {other:?}"),
    }
    assert_eq!(
        w.finish().unwrap().len(),
        24,
        "nothing written for a rejected packet"
    );
}

fn arb_packet() -> impl Strategy<Value = TcpPacket> {
    (
        (0u64..4_000_000_000_000_000_000, any::<u32>(), any::<u32>()),
        (any::<u16>(), any::<u16>(), any::<u32>(), any::<u32>()),
        (
            any::<u8>(),
            any::<u16>(),
            proptest::option::of(any::<u16>()),
        ),
        prop_oneof![0u32..100, 0u32..=(65_535 - 44)],
    )
        .prop_map(
            |((ts_ns, src_ip, dst_ip), (src_port, dst_port, seq, ack), (fl, window, mss), len)| {
                TcpPacket {
                    ts_ns,
                    src_ip,
                    dst_ip,
                    src_port,
                    dst_port,
                    seq,
                    ack,
                    flags: fl,
                    window,
                    mss,
                    payload_len: len,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_packets_round_trip_with_valid_checksums(
        pkts in proptest::collection::vec(arb_packet(), 1..4)
    ) {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        for p in &pkts {
            w.write(p).unwrap();
        }
        let (_, recs) = parse(&w.finish().unwrap());
        prop_assert_eq!(recs.len(), pkts.len());
        for (rec, want) in recs.iter().zip(&pkts) {
            let (got, _) = decode(rec);
            prop_assert_eq!(&got, want);
        }
    }
}

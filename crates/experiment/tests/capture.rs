//! `capture::write_pcap`: the traced connection as a capture on one host, parsed back here by
//! a small independent reader (not the pcap crate's code).

mod common;

use experiment::capture::write_pcap;
use experiment::engine::{self, Side};
use experiment::trace::{Trace, TraceKind};

const MS: u64 = 1_000_000;
const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const FIN: u8 = 0x01;
const PSH: u8 = 0x08;

fn trace(extra: &str) -> Trace {
    let exp = common::three_connections("capture", extra, &[]);
    engine::run_traced(&exp.points[0].config, exp.seed, 0, 0, 0)
        .expect("traced run")
        .1
}

#[derive(Debug, Clone, PartialEq)]
struct Pkt {
    ts_ns: u64,
    src: (u32, u16),
    dst: (u32, u16),
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    mss: Option<u16>,
    payload_len: u32,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn read_pcap(file: &[u8]) -> Vec<Pkt> {
    assert_eq!(le32(file, 0), 0xa1b2_3c4d, "nanosecond magic");
    assert_eq!(le32(file, 20), 101, "LINKTYPE_RAW");
    let mut at = 24;
    let mut out = Vec::new();
    while at < file.len() {
        let (sec, nsec) = (le32(file, at), le32(file, at + 4));
        let (caplen, len) = (le32(file, at + 8) as usize, le32(file, at + 12) as usize);
        assert_eq!(caplen, len, "whole packets under the default snaplen");
        let d = &file[at + 16..at + 16 + caplen];
        assert_eq!((d[0], d[9]), (0x45, 6), "IPv4 carrying TCP");
        assert_eq!(be16(d, 2) as usize, d.len());
        let t = &d[20..];
        let doff = usize::from(t[12] >> 4) * 4;
        out.push(Pkt {
            ts_ns: u64::from(sec) * 1_000_000_000 + u64::from(nsec),
            src: (be32(d, 12), be16(t, 0)),
            dst: (be32(d, 16), be16(t, 2)),
            seq: be32(t, 4),
            ack: be32(t, 8),
            flags: t[13],
            window: be16(t, 14),
            mss: (doff == 24 && t[20] == 2).then(|| be16(t, 22)),
            payload_len: (t.len() - doff) as u32,
        });
        at += 16 + caplen;
    }
    assert_eq!(at, file.len());
    out
}

fn capture(t: &Trace, at: Side) -> Vec<Pkt> {
    let mut v = Vec::new();
    let n = write_pcap(t, at, &mut v).expect("pcap");
    let pkts = read_pcap(&v);
    assert_eq!(n as usize, pkts.len());
    pkts
}

/// What the trace says the capture must hold: `at`'s sends and the deliveries to `at`.
fn expected(t: &Trace, at: Side) -> Vec<Pkt> {
    t.events
        .iter()
        .filter_map(|e| match e.kind {
            TraceKind::Send { seg, .. } | TraceKind::Deliver { seg } if e.side == at => Some(Pkt {
                ts_ns: e.time.as_nanos(),
                src: (seg.src.ip, seg.src.port),
                dst: (seg.dst.ip, seg.dst.port),
                seq: seg.seq.0,
                ack: seg.ack.0,
                flags: seg.flags.0,
                window: seg.window,
                mss: (seg.mss != 0).then_some(seg.mss),
                payload_len: seg.payload_len,
            }),
            _ => None,
        })
        .collect()
}

#[test]
fn client_capture_of_a_clean_lifecycle() {
    let t = trace("");
    let p = capture(&t, Side::Client);
    assert_eq!(p, expected(&t, Side::Client));
    let flags: Vec<u8> = p.iter().map(|p| p.flags).collect();
    assert_eq!(
        flags,
        [
            SYN,
            SYN | ACK,
            ACK,
            PSH | ACK,
            ACK,
            PSH | ACK,
            ACK,
            FIN | ACK,
            ACK,
            FIN | ACK,
            ACK
        ]
    );
    // Timestamps are the simulated instants: the client sends at 0 and receives 20 ms later.
    let ts: Vec<u64> = p.iter().map(|p| p.ts_ns / MS).collect();
    assert_eq!(ts, [0, 20, 20, 20, 40, 40, 40, 40, 60, 60, 60]);
    // Raw (absolute) numbers on the wire; the SYN carries its MSS option, others none.
    let (c, s) = (t.isn[0].unwrap().0, t.isn[1].unwrap().0);
    assert_eq!((p[0].seq, p[0].mss), (c, Some(1460)));
    assert_eq!((p[1].seq, p[1].ack), (s, c.wrapping_add(1)));
    assert!(p[2..].iter().all(|p| p.mss.is_none()));
    assert_eq!(p[3].payload_len, 100);
    assert_eq!(p[5].payload_len, 1000);
    // One 4-tuple, both ways.
    assert_eq!(p[0].src, p[1].dst);
    assert_eq!(p[0].dst, p[1].src);
    assert!(p.iter().all(|q| q.src == p[0].src || q.src == p[0].dst));
}

#[test]
fn server_capture_sees_its_side() {
    let t = trace("");
    let p = capture(&t, Side::Server);
    assert_eq!(p, expected(&t, Side::Server));
    assert_eq!(p.len(), 11);
    assert_eq!((p[0].flags, p[0].ts_ns), (SYN, 10 * MS));
    assert_eq!((p[1].flags, p[1].ts_ns), (SYN | ACK, 10 * MS));
    assert_eq!((p[10].flags, p[10].ts_ns), (ACK, 70 * MS));
}

#[test]
fn a_lost_segment_is_captured_only_on_the_sending_host() {
    let t = trace(
        r#"
[[fault]]
direction = "client_to_server"
connection = 0
action = "drop"
payload = "data"
"#,
    );
    let data = |p: &[Pkt]| -> Vec<u64> {
        p.iter()
            .filter(|p| p.payload_len == 100)
            .map(|p| p.ts_ns)
            .collect()
    };
    let client = capture(&t, Side::Client);
    assert_eq!(client, expected(&t, Side::Client));
    let sent = data(&client);
    assert_eq!(sent.len(), 2, "the original and its retransmission");
    assert!(sent[1] - sent[0] >= 200 * MS, "after an RTO: {sent:?}");
    let server = capture(&t, Side::Server);
    assert_eq!(
        data(&server),
        [sent[1] + 10 * MS],
        "only the copy that arrived"
    );
}

#[test]
fn duplicated_segments_are_captured_twice_at_the_receiver() {
    let t = trace("[link.client_to_server]\nduplicate = 1.0");
    let client = capture(&t, Side::Client);
    let server = capture(&t, Side::Server);
    let from_client = |p: &[Pkt]| p.iter().filter(|q| q.src == client[0].src).count();
    assert_eq!(from_client(&server), 2 * from_client(&client));
}

//! Classic pcap writer that turns simulated TCP segments into real IPv4 + TCP packets.
//!
//! The simulator never builds packet bytes; this crate does so only for capture files, so that
//! Wireshark/tshark can run their own TCP analysis (retransmissions, handshakes, options) on a
//! simulated run. The format is the classic libpcap file format with nanosecond timestamps
//! (magic `0xa1b23c4d`) and `LINKTYPE_RAW` (101): every record starts directly with an IPv4
//! header, so no fake Ethernet addresses are needed.
//!
//! All multi-byte pcap fields are written little-endian on every host, so the same packets give
//! byte-identical files on any machine. Packet fields (IPv4, TCP) are network byte order.
//!
//! No allocation happens per packet: headers are assembled in a stack array and the (all-zero)
//! payload is written from a static zero block.

use std::io::{self, Write};

/// TCP flag bits as they appear in byte 13 of the TCP header (RFC 9293 §3.1; CWR/ECE from
/// RFC 3168 §6.1).
pub mod flags {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronize sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push function.
    pub const PSH: u8 = 0x08;
    /// Acknowledgment field is significant.
    pub const ACK: u8 = 0x10;
    /// Urgent pointer field is significant.
    pub const URG: u8 = 0x20;
    /// ECN-Echo (RFC 3168).
    pub const ECE: u8 = 0x40;
    /// Congestion Window Reduced (RFC 3168).
    pub const CWR: u8 = 0x80;
}

/// Magic number of a classic pcap file whose record timestamps are in nanoseconds
/// (pcap-savefile(5); draft-ietf-opsawg-pcap §3).
pub const PCAP_MAGIC_NANOS: u32 = 0xa1b2_3c4d;
/// Classic pcap format version 2.4, the only version in use (pcap-savefile(5)).
pub const PCAP_VERSION: (u16, u16) = (2, 4);
/// `LINKTYPE_RAW`: records begin with a raw IPv4/IPv6 header (tcpdump.org link-layer types).
pub const LINKTYPE_RAW: u32 = 101;
/// Default snapshot length: the largest IPv4 datagram (RFC 791 total length is 16 bits), so
/// by default every packet is captured whole.
pub const DEFAULT_SNAPLEN: u32 = 65_535;
/// Upper bound on a configurable snaplen: libpcap's `MAXIMUM_SNAPLEN` (262144).
pub const MAX_SNAPLEN: u32 = 262_144;

/// IPv4 header length without options (RFC 791 §3.1, IHL = 5 words).
pub const IPV4_HEADER_BYTES: usize = 20;
/// TCP header length without options (RFC 9293 §3.1, data offset = 5 words).
pub const TCP_HEADER_BYTES: usize = 20;
/// Length of the MSS option: kind 2, length 4 (RFC 9293 §3.2).
pub const TCP_MSS_OPTION_BYTES: usize = 4;
/// Largest IPv4 total length (16-bit field, RFC 791 §3.1).
pub const IPV4_MAX_TOTAL_BYTES: u32 = 65_535;
/// Default TTL of Linux (`net.ipv4.ip_default_ttl` = 64, `IPDEFTTL`).
pub const IPV4_TTL: u8 = 64;
/// IP protocol number of TCP (RFC 790 / IANA).
pub const IPPROTO_TCP: u8 = 6;

const GLOBAL_HEADER_BYTES: usize = 24;
const RECORD_HEADER_BYTES: usize = 16;
const MAX_HEADERS_BYTES: usize =
    RECORD_HEADER_BYTES + IPV4_HEADER_BYTES + TCP_HEADER_BYTES + TCP_MSS_OPTION_BYTES;
/// "Don't Fragment" bit of the IPv4 flags/fragment-offset word (RFC 791 §3.1); set as Linux
/// does for TCP with path-MTU discovery on.
const IPV4_FLAG_DF: u16 = 0x4000;
const ZEROS: [u8; 4096] = [0; 4096];

/// One TCP segment to record. The payload is not carried: it is written as `payload_len` zero
/// bytes (truncated to the snaplen in the record, as a real capture would be).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpPacket {
    /// Timestamp in nanoseconds since the start of the capture (simulated time).
    pub ts_ns: u64,
    /// Source IPv4 address, host order (`0x0a000001` is 10.0.0.1).
    pub src_ip: u32,
    /// Destination IPv4 address, host order.
    pub dst_ip: u32,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    /// Flag bits, see [`flags`].
    pub flags: u8,
    pub window: u16,
    /// When set, an MSS option (kind 2) is appended and the data offset becomes 6.
    pub mss: Option<u16>,
    pub payload_len: u32,
}

impl TcpPacket {
    /// TCP header length in bytes, options included.
    pub fn tcp_header_bytes(&self) -> usize {
        TCP_HEADER_BYTES
            + if self.mss.is_some() {
                TCP_MSS_OPTION_BYTES
            } else {
                0
            }
    }

    /// IPv4 total length (IP header + TCP header + payload); may exceed 65535, which
    /// [`PcapWriter::write`] rejects.
    pub fn ip_total_bytes(&self) -> u64 {
        (IPV4_HEADER_BYTES + self.tcp_header_bytes()) as u64 + u64::from(self.payload_len)
    }
}

/// Errors of the pcap writer.
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    #[error("pcap I/O error: {0}")]
    Io(#[from] io::Error),
    #[error(
        "payload of {payload_len} bytes makes the IPv4 total length {total_bytes} exceed {max}",
        max = IPV4_MAX_TOTAL_BYTES
    )]
    PacketTooLong { payload_len: u32, total_bytes: u64 },
    #[error("timestamp {ts_ns} ns is beyond the 32-bit seconds field of classic pcap (year 2106)")]
    TimestampOverflow { ts_ns: u64 },
    #[error("snaplen {snaplen} is outside 1..={max}", max = MAX_SNAPLEN)]
    InvalidSnaplen { snaplen: u32 },
}

/// Writes a classic pcap stream. Buffering is the caller's choice (wrap a file in a
/// `BufWriter`); the writer issues a few small writes per packet.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    snaplen: u32,
    /// IPv4 identification field: one counter per writer, like a host's per-destination
    /// counter collapsed to one, so ids are distinct within any 65536-packet window.
    next_ip_id: u16,
    packets: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header with [`DEFAULT_SNAPLEN`].
    pub fn new(out: W) -> Result<Self, PcapError> {
        Self::with_snaplen(out, DEFAULT_SNAPLEN)
    }

    /// Writes the global header with a custom snaplen (e.g. 64 to keep only headers); records
    /// then carry at most `snaplen` bytes while their original length stays the real one.
    pub fn with_snaplen(mut out: W, snaplen: u32) -> Result<Self, PcapError> {
        if snaplen == 0 || snaplen > MAX_SNAPLEN {
            return Err(PcapError::InvalidSnaplen { snaplen });
        }
        let mut h = [0u8; GLOBAL_HEADER_BYTES];
        h[0..4].copy_from_slice(&PCAP_MAGIC_NANOS.to_le_bytes());
        h[4..6].copy_from_slice(&PCAP_VERSION.0.to_le_bytes());
        h[6..8].copy_from_slice(&PCAP_VERSION.1.to_le_bytes());
        // thiszone (8..12) and sigfigs (12..16) are 0: timestamps are UTC-free simulated time.
        h[16..20].copy_from_slice(&snaplen.to_le_bytes());
        h[20..24].copy_from_slice(&LINKTYPE_RAW.to_le_bytes());
        out.write_all(&h)?;
        Ok(Self {
            out,
            snaplen,
            next_ip_id: 0,
            packets: 0,
        })
    }

    /// Appends one packet record. On error nothing has been written for this packet, except
    /// for [`PcapError::Io`], after which the stream should be considered broken.
    pub fn write(&mut self, p: &TcpPacket) -> Result<(), PcapError> {
        let total_bytes = p.ip_total_bytes();
        if total_bytes > u64::from(IPV4_MAX_TOTAL_BYTES) {
            return Err(PcapError::PacketTooLong {
                payload_len: p.payload_len,
                total_bytes,
            });
        }
        let ts_sec = u32::try_from(p.ts_ns / 1_000_000_000)
            .map_err(|_| PcapError::TimestampOverflow { ts_ns: p.ts_ns })?;
        let ts_frac_ns = (p.ts_ns % 1_000_000_000) as u32;
        // Fits: checked against 65535 above.
        let total = total_bytes as u32;
        let caplen = total.min(self.snaplen);

        let mut buf = [0u8; MAX_HEADERS_BYTES];
        buf[0..4].copy_from_slice(&ts_sec.to_le_bytes());
        buf[4..8].copy_from_slice(&ts_frac_ns.to_le_bytes());
        buf[8..12].copy_from_slice(&caplen.to_le_bytes());
        buf[12..16].copy_from_slice(&total.to_le_bytes());

        let ip_id = self.next_ip_id;
        let headers_len = IPV4_HEADER_BYTES + p.tcp_header_bytes();
        let packet = &mut buf[RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + headers_len];
        encode_headers(p, ip_id, packet);

        let head_len = RECORD_HEADER_BYTES + headers_len.min(caplen as usize);
        self.out.write_all(&buf[..head_len])?;
        let mut zeros_left = (caplen as usize).saturating_sub(headers_len);
        while zeros_left > 0 {
            let n = zeros_left.min(ZEROS.len());
            self.out.write_all(&ZEROS[..n])?;
            zeros_left -= n;
        }
        self.next_ip_id = ip_id.wrapping_add(1);
        self.packets += 1;
        Ok(())
    }

    /// Number of packets written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(mut self) -> Result<W, PcapError> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Writes the IPv4 and TCP headers of `p` into `out`, which must be exactly
/// `20 + p.tcp_header_bytes()` long. The payload is all zeros, so it adds nothing to the TCP
/// checksum beyond its length in the pseudo-header.
fn encode_headers(p: &TcpPacket, ip_id: u16, out: &mut [u8]) {
    let tcp_len = p.tcp_header_bytes();
    let total = p.ip_total_bytes() as u16;
    let (ip, tcp) = out.split_at_mut(IPV4_HEADER_BYTES);

    ip[0] = 0x45; // version 4, IHL 5
    ip[1] = 0; // DSCP/ECN
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[4..6].copy_from_slice(&ip_id.to_be_bytes());
    ip[6..8].copy_from_slice(&IPV4_FLAG_DF.to_be_bytes());
    ip[8] = IPV4_TTL;
    ip[9] = IPPROTO_TCP;
    ip[10..12].copy_from_slice(&[0, 0]);
    ip[12..16].copy_from_slice(&p.src_ip.to_be_bytes());
    ip[16..20].copy_from_slice(&p.dst_ip.to_be_bytes());
    let ip_csum = internet_checksum(0, ip);
    ip[10..12].copy_from_slice(&ip_csum.to_be_bytes());

    tcp[0..2].copy_from_slice(&p.src_port.to_be_bytes());
    tcp[2..4].copy_from_slice(&p.dst_port.to_be_bytes());
    tcp[4..8].copy_from_slice(&p.seq.to_be_bytes());
    tcp[8..12].copy_from_slice(&p.ack.to_be_bytes());
    tcp[12] = ((tcp_len / 4) as u8) << 4;
    tcp[13] = p.flags;
    tcp[14..16].copy_from_slice(&p.window.to_be_bytes());
    tcp[16..20].copy_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    if let Some(mss) = p.mss {
        tcp[20] = 2; // kind: MSS
        tcp[21] = TCP_MSS_OPTION_BYTES as u8;
        tcp[22..24].copy_from_slice(&mss.to_be_bytes());
    }
    // Pseudo-header (RFC 9293 §3.1): source, destination, zero, protocol, TCP length.
    let tcp_total = u32::from(total) - IPV4_HEADER_BYTES as u32;
    let mut pseudo = [0u8; 12];
    pseudo[0..4].copy_from_slice(&p.src_ip.to_be_bytes());
    pseudo[4..8].copy_from_slice(&p.dst_ip.to_be_bytes());
    pseudo[9] = IPPROTO_TCP;
    pseudo[10..12].copy_from_slice(&(tcp_total as u16).to_be_bytes());
    let sum = ones_complement_sum(ones_complement_sum(0, &pseudo), tcp);
    let tcp_csum = !fold(sum);
    tcp[16..18].copy_from_slice(&tcp_csum.to_be_bytes());
}

/// Adds 16-bit big-endian words of `data` (odd length padded with a zero byte) to `acc`
/// without folding (RFC 1071 §4.1).
fn ones_complement_sum(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    // Headers here are < 100 bytes, so at most a few dozen words: no overflow before folding.
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// RFC 1071 Internet checksum of `data`, starting from a partial sum `acc`.
pub fn internet_checksum(acc: u32, data: &[u8]) -> u16 {
    !fold(ones_complement_sum(acc, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_checksum_matches_known_vector() {
        // Wikipedia "Internet checksum" / IPv4 header example: the checksum is 0xb861.
        let mut hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(internet_checksum(0, &hdr), 0xb861);
        hdr[10] = 0xb8;
        hdr[11] = 0x61;
        assert_eq!(internet_checksum(0, &hdr), 0);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(internet_checksum(0, &[0x12]), !0x1200);
        assert_eq!(internet_checksum(0, &[0x12, 0x00]), !0x1200);
    }

    #[test]
    fn rejects_oversized_packet_without_writing() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let p = TcpPacket {
            payload_len: 65_535 - 40 + 1,
            ..TcpPacket::default()
        };
        let err = w.write(&p).unwrap_err();
        assert!(matches!(
            err,
            PcapError::PacketTooLong {
                total_bytes: 65_536,
                ..
            }
        ));
        let max_ok = TcpPacket {
            payload_len: 65_535 - 40,
            ..TcpPacket::default()
        };
        w.write(&max_ok).unwrap();
        let with_mss = TcpPacket {
            mss: Some(1460),
            ..max_ok
        };
        assert!(w.write(&with_mss).is_err());
        let huge = TcpPacket {
            payload_len: u32::MAX,
            ..TcpPacket::default()
        };
        assert!(w.write(&huge).is_err());
        assert_eq!(w.packets(), 1);
        let bytes = w.finish().unwrap();
        assert_eq!(bytes.len(), 24 + 16 + 65_535);
    }

    #[test]
    fn rejects_bad_snaplen_and_timestamp() {
        assert!(matches!(
            PcapWriter::with_snaplen(Vec::new(), 0),
            Err(PcapError::InvalidSnaplen { snaplen: 0 })
        ));
        assert!(PcapWriter::with_snaplen(Vec::new(), MAX_SNAPLEN + 1).is_err());
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let p = TcpPacket {
            ts_ns: (u64::from(u32::MAX) + 1) * 1_000_000_000,
            ..TcpPacket::default()
        };
        assert!(matches!(
            w.write(&p),
            Err(PcapError::TimestampOverflow { .. })
        ));
        let last_ok = TcpPacket {
            ts_ns: (u64::from(u32::MAX) + 1) * 1_000_000_000 - 1,
            ..TcpPacket::default()
        };
        w.write(&last_ok).unwrap();
    }

    #[test]
    fn ip_id_wraps_instead_of_panicking() {
        let mut w = PcapWriter::with_snaplen(std::io::sink(), 40).unwrap();
        w.next_ip_id = u16::MAX;
        w.write(&TcpPacket::default()).unwrap();
        assert_eq!(w.next_ip_id, 0);
    }
}

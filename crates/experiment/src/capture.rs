//! A [`Trace`] as a pcap file, as a packet capture on one of the two hosts would record it.
//!
//! The capture point matters, as it does with a real `tcpdump`: on a host one sees every
//! segment the host sends (at its send instant, including those the link then loses) and every
//! copy delivered to it (at its arrival instant, a duplicated segment twice). Segments lost on
//! the way to the capture point never appear, so Wireshark sees a retransmission as one: the
//! original, then the same sequence range again later.
//!
//! Only the traced connection's own segments are in a trace (not an old duplicate of another
//! incarnation delivered to it), so only they are in the capture.

use std::io::Write;

use pcap::{PcapError, PcapWriter, TcpPacket};
use tcp_model::{Flags, Segment};

use crate::engine::Side;
use crate::trace::{Trace, TraceKind};

// `pcap::flags` and `tcp_model::Flags` both use the header's flag-byte bit values (RFC 9293
// §3.1), so the byte is copied as is; checked once here, at compile time.
const _: () = {
    assert!(Flags::FIN.0 == pcap::flags::FIN);
    assert!(Flags::SYN.0 == pcap::flags::SYN);
    assert!(Flags::RST.0 == pcap::flags::RST);
    assert!(Flags::PSH.0 == pcap::flags::PSH);
    assert!(Flags::ACK.0 == pcap::flags::ACK);
};

/// The packet `seg` makes on the wire at simulated instant `ts_ns`.
pub fn packet(ts_ns: u64, seg: &Segment) -> TcpPacket {
    TcpPacket {
        ts_ns,
        src_ip: seg.src.ip,
        dst_ip: seg.dst.ip,
        src_port: seg.src.port,
        dst_port: seg.dst.port,
        seq: seg.seq.0,
        ack: seg.ack.0,
        flags: seg.flags.0,
        window: seg.window,
        mss: (seg.mss != 0).then_some(seg.mss),
        payload_len: seg.payload_len,
    }
}

/// Writes what a capture on host `at` shows of `trace`: the segments `at` sends (timestamp:
/// send instant) and those delivered to it (timestamp: arrival instant), in trace order, which
/// is simulated-time order. Timestamps are simulated nanoseconds since the start of the run.
/// Returns the number of packets. `w` should be buffered (a `BufWriter`): the pcap writer
/// makes a few small writes per packet; it is flushed at the end.
pub fn write_pcap(trace: &Trace, at: Side, w: impl Write) -> Result<u64, PcapError> {
    let mut out = PcapWriter::new(w)?;
    for e in &trace.events {
        let seg = match &e.kind {
            TraceKind::Send { seg, .. } | TraceKind::Deliver { seg } if e.side == at => seg,
            _ => continue,
        };
        out.write(&packet(e.time.as_nanos(), seg))?;
    }
    let n = out.packets();
    out.finish()?;
    Ok(n)
}

//! What travels between hosts: sequence numbers, control flags, addresses and segments.

use std::fmt;
use std::ops::{Add, AddAssign, BitOr, BitOrAssign, Sub};

/// A 32-bit TCP sequence number. Arithmetic wraps modulo 2^32 and comparisons are made on the
/// signed distance `(a - b) as i32` (RFC 9293 §3.4: "all arithmetic dealing with sequence
/// numbers must be performed modulo 2**32"), so `SeqNum(5).gt(SeqNum(u32::MAX))` is true.
///
/// There is deliberately no `PartialOrd`: modular order is not transitive over the whole space,
/// and an accidental `<` on raw values is the classic wrap-around bug.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// `self < other` in sequence space.
    pub fn lt(self, other: SeqNum) -> bool {
        (self - other) < 0
    }
    /// `self <= other` in sequence space.
    pub fn le(self, other: SeqNum) -> bool {
        (self - other) <= 0
    }
    /// `self > other` in sequence space.
    pub fn gt(self, other: SeqNum) -> bool {
        (self - other) > 0
    }
    /// `self >= other` in sequence space.
    pub fn ge(self, other: SeqNum) -> bool {
        (self - other) >= 0
    }
    /// The later of the two in sequence space.
    pub fn max(self, other: SeqNum) -> SeqNum {
        if self.ge(other) {
            self
        } else {
            other
        }
    }
}

impl Add<u32> for SeqNum {
    type Output = SeqNum;
    fn add(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(n))
    }
}
impl AddAssign<u32> for SeqNum {
    fn add_assign(&mut self, n: u32) {
        *self = *self + n;
    }
}
impl Sub<u32> for SeqNum {
    type Output = SeqNum;
    fn sub(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(n))
    }
}
/// The signed distance `self - other` in sequence space (positive when `self` is later).
/// Only meaningful for numbers less than 2^31 apart, as everywhere in TCP.
impl Sub<SeqNum> for SeqNum {
    type Output = i32;
    fn sub(self, other: SeqNum) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }
}
impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// TCP control bits, with the values they have in the header's flags byte (RFC 9293 §3.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Flags(pub u8);

impl Flags {
    pub const NONE: Flags = Flags(0);
    pub const FIN: Flags = Flags(0x01);
    pub const SYN: Flags = Flags(0x02);
    pub const RST: Flags = Flags(0x04);
    pub const PSH: Flags = Flags(0x08);
    pub const ACK: Flags = Flags(0x10);

    /// Both sets of bits (a `const` `|`).
    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
    /// True if every bit of `other` is set in `self`.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}
impl BitOr for Flags {
    type Output = Flags;
    fn bitor(self, o: Flags) -> Flags {
        Flags(self.0 | o.0)
    }
}
impl BitOrAssign for Flags {
    fn bitor_assign(&mut self, o: Flags) {
        self.0 |= o.0;
    }
}
/// `SYN|ACK`, `FIN|PSH|ACK`, `RST`; `-` when no bit is set. Unknown bits print as hex.
impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(Flags, &str); 5] = [
            (Flags::SYN, "SYN"),
            (Flags::RST, "RST"),
            (Flags::FIN, "FIN"),
            (Flags::PSH, "PSH"),
            (Flags::ACK, "ACK"),
        ];
        if self.is_empty() {
            return f.write_str("-");
        }
        let mut first = true;
        let mut known = 0u8;
        for (flag, name) in NAMES {
            known |= flag.0;
            if self.contains(flag) {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        let rest = self.0 & !known;
        if rest != 0 {
            if !first {
                f.write_str("|")?;
            }
            write!(f, "{rest:#04x}")?;
        }
        Ok(())
    }
}

/// An IPv4 address and port.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord, Default)]
pub struct Addr {
    pub ip: u32,
    pub port: u16,
}

impl Addr {
    pub const fn new(ip: u32, port: u16) -> Addr {
        Addr { ip, port }
    }
}
/// Dotted quad and port: `10.0.0.1:80`.
impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.ip.to_be_bytes();
        write!(f, "{a}.{b}.{c}.{d}:{}", self.port)
    }
}

/// One TCP segment as the model sees it: the header fields connection management needs, the
/// payload as a byte count, and the sender's incarnation.
///
/// It is 40 bytes: the fields themselves need 33 (two 6-byte addresses padded to 8 each), so
/// the 32-byte goal would need a packed `Addr`, whose fields could then not be borrowed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Segment {
    pub src: Addr,
    pub dst: Addr,
    pub seq: SeqNum,
    /// Meaningful only when `flags` contains ACK; zero otherwise.
    pub ack: SeqNum,
    pub flags: Flags,
    /// The receive window the sender advertises, unscaled (no window scaling is modelled).
    pub window: u16,
    /// MSS option value (RFC 9293 §3.7.1); 0 = no option. Only sent on SYN and SYN-ACK.
    pub mss: u16,
    /// Payload bytes; the content is not modelled.
    pub payload_len: u32,
    /// Not on the wire: the id of the connection instance that sent the segment, so that a
    /// receiver can tell when it accepts an old duplicate from an earlier incarnation.
    pub incarnation: u32,
}

impl Segment {
    /// Sequence space the segment occupies: payload plus one for SYN and one for FIN
    /// (RFC 9293 §3.4, SEG.LEN).
    pub fn seg_len(&self) -> u32 {
        self.payload_len
            .saturating_add(self.flags.contains(Flags::SYN) as u32)
            .saturating_add(self.flags.contains(Flags::FIN) as u32)
    }
}

/// `10.0.0.1:49152 > 10.0.0.2:80 SYN|ACK seq=100 ack=301 win=65535 len=0 mss=1460 inc=7`
impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} > {} {} seq={}",
            self.src, self.dst, self.flags, self.seq
        )?;
        if self.flags.contains(Flags::ACK) {
            write!(f, " ack={}", self.ack)?;
        }
        write!(f, " win={} len={}", self.window, self.payload_len)?;
        if self.mss != 0 {
            write!(f, " mss={}", self.mss)?;
        }
        write!(f, " inc={}", self.incarnation)
    }
}

/// What a host with no connection for `seg` answers (RFC 9293 §3.10.7.1 and §3.5.2): nothing
/// to a RST; `<SEQ=SEG.ACK><CTL=RST>` if the segment has an ACK; otherwise
/// `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`. The reply carries the incarnation of the
/// segment it answers, so that a delayed RST can be traced to the instance that caused it.
pub fn reset_for(seg: &Segment) -> Option<Segment> {
    if seg.flags.contains(Flags::RST) {
        return None;
    }
    let mut rst = Segment {
        src: seg.dst,
        dst: seg.src,
        incarnation: seg.incarnation,
        ..Segment::default()
    };
    if seg.flags.contains(Flags::ACK) {
        rst.seq = seg.ack;
        rst.flags = Flags::RST;
    } else {
        rst.ack = seg.seq + seg.seg_len();
        rst.flags = Flags::RST | Flags::ACK;
    }
    Some(rst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_compare_wraps() {
        let a = SeqNum(u32::MAX - 1);
        let b = a + 10;
        assert_eq!(b, SeqNum(8));
        assert!(a.lt(b) && a.le(b) && b.gt(a) && b.ge(a) && !b.lt(a));
        assert_eq!(b - a, 10);
        assert_eq!(a - b, -10);
        assert_eq!(b - 10u32, a);
        assert!(a.le(a) && a.ge(a) && !a.lt(a));
        assert_eq!(a.max(b), b);
    }

    #[test]
    fn flags_display() {
        assert_eq!((Flags::SYN | Flags::ACK).to_string(), "SYN|ACK");
        assert_eq!(
            (Flags::FIN | Flags::PSH | Flags::ACK).to_string(),
            "FIN|PSH|ACK"
        );
        assert_eq!(Flags::RST.to_string(), "RST");
        assert_eq!(Flags::NONE.to_string(), "-");
        assert_eq!(Flags(0x42).to_string(), "SYN|0x40");
        assert!((Flags::SYN | Flags::ACK).contains(Flags::ACK));
        assert!(!Flags::SYN.contains(Flags::SYN | Flags::ACK));
    }

    #[test]
    fn seg_len_counts_syn_and_fin() {
        let mut s = Segment {
            payload_len: 10,
            ..Segment::default()
        };
        assert_eq!(s.seg_len(), 10);
        s.flags = Flags::SYN | Flags::FIN;
        assert_eq!(s.seg_len(), 12);
        assert_eq!(Addr::new(0x0a00_0001, 80).to_string(), "10.0.0.1:80");
    }
}

//! A set of TCP flags, written as in tcpdump-style prose: "SYN|ACK".

use std::fmt;
use std::str::FromStr;

use crate::flags;

/// Flag names in wire-bit order; [`FlagSet`]'s Display prints them in this order.
pub const FLAG_NAMES: &[(&str, u8)] = &[
    ("FIN", flags::FIN),
    ("SYN", flags::SYN),
    ("RST", flags::RST),
    ("PSH", flags::PSH),
    ("ACK", flags::ACK),
];

/// The allowed forms, for error messages.
pub const FLAG_SET_HELP: &str =
    "flag names FIN, SYN, RST, PSH, ACK (any case) joined by '|', '+' or ',', e.g. \"SYN|ACK\", or \"NONE\" for no flags";

/// A TCP flag byte in wire layout (see [`crate::flags`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FlagSet(pub u8);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseFlagSetError {
    #[error("empty flag set; expected {FLAG_SET_HELP}")]
    Empty,
    #[error("flag set {set:?} has an empty name between separators; expected {FLAG_SET_HELP}")]
    EmptyName { set: String },
    #[error("unknown TCP flag {name:?} in {set:?}; expected {FLAG_SET_HELP}")]
    UnknownFlag { set: String, name: String },
}

impl FlagSet {
    pub const fn contains(self, bits: u8) -> bool {
        self.0 & bits == bits
    }
}

impl FromStr for FlagSet {
    type Err = ParseFlagSetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.is_empty() {
            return Err(ParseFlagSetError::Empty);
        }
        if t.eq_ignore_ascii_case("none") {
            return Ok(FlagSet(0));
        }
        let mut bits = 0u8;
        for name in t.split(['|', '+', ',']) {
            let name = name.trim();
            if name.is_empty() {
                return Err(ParseFlagSetError::EmptyName { set: s.to_string() });
            }
            let bit = FLAG_NAMES
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|&(_, b)| b)
                .or_else(|| parse_hex_byte(name))
                .ok_or_else(|| ParseFlagSetError::UnknownFlag {
                    set: s.to_string(),
                    name: name.to_string(),
                })?;
            bits |= bit;
        }
        Ok(FlagSet(bits))
    }
}

/// Bits without a name (URG, ECE, CWR) print as hex, so Display round-trips for any byte.
fn parse_hex_byte(s: &str) -> Option<u8> {
    let hex = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    u8::from_str_radix(hex, 16).ok()
}

impl fmt::Display for FlagSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("NONE");
        }
        let mut first = true;
        let mut rest = self.0;
        for &(name, bit) in FLAG_NAMES {
            if self.0 & bit != 0 {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
                rest &= !bit;
            }
        }
        if rest != 0 {
            if !first {
                f.write_str("|")?;
            }
            write!(f, "0x{rest:02x}")?;
        }
        Ok(())
    }
}

impl serde::Serialize for FlagSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for FlagSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, Visitor};
        struct V;
        impl Visitor<'_> for V {
            type Value = FlagSet;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(FLAG_SET_HELP)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FlagSet, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::*;

    fn p(s: &str) -> Result<u8, ParseFlagSetError> {
        s.parse::<FlagSet>().map(|f| f.0)
    }

    #[test]
    fn parses_names_and_separators() {
        assert_eq!(p("SYN"), Ok(SYN));
        assert_eq!(p("SYN|ACK"), Ok(SYN | ACK));
        assert_eq!(p("fin+ack"), Ok(FIN | ACK));
        assert_eq!(p(" Rst , Ack "), Ok(RST | ACK));
        assert_eq!(p("ACK"), Ok(ACK));
        assert_eq!(p("PSH|ACK"), Ok(PSH | ACK));
        assert_eq!(p("none"), Ok(0));
        assert_eq!(p("ACK|0x40"), Ok(ACK | 0x40));
    }

    #[test]
    fn rejects_bad_flag_sets_with_reasons() {
        assert_eq!(p(""), Err(ParseFlagSetError::Empty));
        assert!(matches!(
            p("SYN||ACK"),
            Err(ParseFlagSetError::EmptyName { .. })
        ));
        assert!(matches!(
            p("SYN|"),
            Err(ParseFlagSetError::EmptyName { .. })
        ));
        let err = p("SYN|FOO").unwrap_err();
        assert!(matches!(&err, ParseFlagSetError::UnknownFlag { name, .. } if name == "FOO"));
        let msg = err.to_string();
        assert!(msg.contains("FIN, SYN, RST, PSH, ACK"), "{msg}");
    }

    #[test]
    fn display_round_trips_in_wire_bit_order() {
        assert_eq!(FlagSet(ACK | FIN).to_string(), "FIN|ACK");
        assert_eq!(FlagSet(SYN | ACK).to_string(), "SYN|ACK");
        assert_eq!(FlagSet(RST | ACK).to_string(), "RST|ACK");
        assert_eq!(FlagSet(0).to_string(), "NONE");
        assert_eq!(FlagSet(ACK | 0xc0).to_string(), "ACK|0xc0");
        for b in 0..=255u8 {
            assert_eq!(FlagSet(b).to_string().parse::<FlagSet>(), Ok(FlagSet(b)));
        }
    }
}

//! Link rate in bits per second, with unit-suffixed parsing ("100Mbps").

use std::fmt;
use std::str::FromStr;

use sim_core::SimDuration;

/// Decimal (SI) rate units accepted by [`Bandwidth::from_str`], matched case-insensitively.
/// Network rates are decimal by convention (IEEE 802.3: 1 Gb/s = 10^9 bit/s), never 2^30.
pub const BANDWIDTH_UNITS: &[(&str, u64)] = &[
    ("bps", 1),
    ("kbps", 1_000),
    ("Mbps", 1_000_000),
    ("Gbps", 1_000_000_000),
    ("Tbps", 1_000_000_000_000),
];

/// The allowed forms, for error messages.
pub const BANDWIDTH_UNITS_HELP: &str =
    "a positive number with a unit bps, kbps, Mbps, Gbps or Tbps (e.g. \"100Mbps\", \"1.5Gbps\"), or an integer number of bits per second";

/// Bits per second; always at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bandwidth(u64);

/// Why a bandwidth string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseBandwidthError {
    #[error("empty bandwidth; expected {BANDWIDTH_UNITS_HELP}")]
    Empty,
    #[error("bandwidth {0:?} has no unit; expected {BANDWIDTH_UNITS_HELP}")]
    MissingUnit(String),
    #[error("bandwidth {0:?} has an unknown unit; expected {BANDWIDTH_UNITS_HELP}")]
    UnknownUnit(String),
    #[error("bandwidth {0:?} does not start with a non-negative number; expected {BANDWIDTH_UNITS_HELP}")]
    BadNumber(String),
    #[error("bandwidth {0:?} is zero; a link must carry at least 1bps (omit `bandwidth` for an infinitely fast link)")]
    Zero(String),
    #[error("bandwidth {0:?} is too large (limit is about 18446744Tbps)")]
    Overflow(String),
    #[error("bandwidth {0:?} is finer than one bit per second")]
    TooPrecise(String),
}

impl Bandwidth {
    /// `None` for zero: a zero-rate link would never finish serializing anything.
    pub const fn from_bps(bps: u64) -> Option<Bandwidth> {
        if bps == 0 {
            None
        } else {
            Some(Bandwidth(bps))
        }
    }

    pub const fn as_bps(self) -> u64 {
        self.0
    }

    /// Time to clock `len_bytes` onto the wire, rounded up to a whole nanosecond so that a
    /// back-to-back train never finishes earlier than the rate allows.
    pub fn serialization_delay(self, len_bytes: u32) -> SimDuration {
        let bits = u64::from(len_bytes) * 8;
        // bits * 1e9 fits u64 for every packet below ~2.3 GB, so the u128 path is practically never taken.
        let ns = match bits.checked_mul(1_000_000_000) {
            Some(num) => num.div_ceil(self.0),
            None => {
                let q = (u128::from(bits) * 1_000_000_000).div_ceil(u128::from(self.0));
                u64::try_from(q).unwrap_or(u64::MAX)
            }
        };
        SimDuration::from_nanos(ns)
    }
}

impl FromStr for Bandwidth {
    type Err = ParseBandwidthError;

    /// `<number><unit>` with optional spaces between, or a bare integer meaning bits per second.
    /// Decimal fractions are converted exactly: `"1.5Mbps"` is 1,500,000 bps, `"1.5bps"` is an error.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.is_empty() {
            return Err(ParseBandwidthError::Empty);
        }
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = (&t[..split], t[split..].trim());
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(ParseBandwidthError::BadNumber(s.to_string()));
        }
        let scale = if unit.is_empty() {
            if num.contains('.') {
                return Err(ParseBandwidthError::MissingUnit(s.to_string()));
            }
            1
        } else {
            BANDWIDTH_UNITS
                .iter()
                .find(|(u, _)| u.eq_ignore_ascii_case(unit))
                .map(|&(_, k)| k)
                .ok_or_else(|| ParseBandwidthError::UnknownUnit(s.to_string()))?
        };
        let overflow = || ParseBandwidthError::Overflow(s.to_string());
        let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
        let int: u64 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| overflow())?
        };
        let mut bps = int.checked_mul(scale).ok_or_else(overflow)?;
        if !frac_part.is_empty() {
            // Units are at most 10^12, so more than 12 fractional digits can never be exact.
            if frac_part.len() > 12 {
                return Err(ParseBandwidthError::TooPrecise(s.to_string()));
            }
            let digits: u128 = frac_part
                .parse()
                .map_err(|_| ParseBandwidthError::BadNumber(s.to_string()))?;
            let denom = 10u128.pow(frac_part.len() as u32);
            let scaled = digits * u128::from(scale);
            if !scaled.is_multiple_of(denom) {
                return Err(ParseBandwidthError::TooPrecise(s.to_string()));
            }
            let add = u64::try_from(scaled / denom).map_err(|_| overflow())?;
            bps = bps.checked_add(add).ok_or_else(overflow)?;
        }
        Bandwidth::from_bps(bps).ok_or_else(|| ParseBandwidthError::Zero(s.to_string()))
    }
}

/// Largest unit that represents the rate exactly, so printing and parsing round-trip:
/// `1Gbps`, `100Mbps`, `56kbps`, `9600bps`, `1500kbps`.
impl fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &(unit, k) in BANDWIDTH_UNITS.iter().rev() {
            if self.0.is_multiple_of(k) {
                return write!(f, "{}{}", self.0 / k, unit);
            }
        }
        write!(f, "{}bps", self.0)
    }
}

impl serde::Serialize for Bandwidth {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Bandwidth {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, Visitor};
        struct V;
        impl Visitor<'_> for V {
            type Value = Bandwidth;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(BANDWIDTH_UNITS_HELP)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bandwidth, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Bandwidth, E> {
                Bandwidth::from_bps(v)
                    .ok_or_else(|| E::custom(ParseBandwidthError::Zero(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Bandwidth, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::custom(ParseBandwidthError::BadNumber(v.to_string()))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<u64, ParseBandwidthError> {
        s.parse::<Bandwidth>().map(Bandwidth::as_bps)
    }

    #[test]
    fn parses_units_and_integers() {
        assert_eq!(p("1Gbps"), Ok(1_000_000_000));
        assert_eq!(p("100Mbps"), Ok(100_000_000));
        assert_eq!(p("100mbps"), Ok(100_000_000));
        assert_eq!(p("56kbps"), Ok(56_000));
        assert_eq!(p("56Kbps"), Ok(56_000));
        assert_eq!(p("9600bps"), Ok(9_600));
        assert_eq!(p(" 10 Gbps "), Ok(10_000_000_000));
        assert_eq!(p("1.5Mbps"), Ok(1_500_000));
        assert_eq!(p(".5kbps"), Ok(500));
        assert_eq!(p("2Tbps"), Ok(2_000_000_000_000));
        assert_eq!(p("9600"), Ok(9_600));
    }

    #[test]
    fn rejects_bad_bandwidths_with_reasons() {
        assert!(matches!(p(""), Err(ParseBandwidthError::Empty)));
        assert!(matches!(p("1.5"), Err(ParseBandwidthError::MissingUnit(_))));
        assert!(matches!(
            p("10 furlongs"),
            Err(ParseBandwidthError::UnknownUnit(_))
        ));
        assert!(matches!(
            p("10MBps/s"),
            Err(ParseBandwidthError::UnknownUnit(_))
        ));
        assert!(matches!(
            p("-1Mbps"),
            Err(ParseBandwidthError::BadNumber(_))
        ));
        assert!(matches!(
            p("1.2.3Mbps"),
            Err(ParseBandwidthError::BadNumber(_))
        ));
        assert!(matches!(p("0Gbps"), Err(ParseBandwidthError::Zero(_))));
        assert!(matches!(p("0"), Err(ParseBandwidthError::Zero(_))));
        assert!(matches!(
            p("1.5bps"),
            Err(ParseBandwidthError::TooPrecise(_))
        ));
        assert!(matches!(
            p("99999999999Tbps"),
            Err(ParseBandwidthError::Overflow(_))
        ));
        let msg = p("10 furlongs").unwrap_err().to_string();
        assert!(msg.contains("Mbps") && msg.contains("Gbps"), "{msg}");
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "1Gbps", "100Mbps", "56kbps", "9600bps", "1500kbps", "7bps", "3Tbps",
        ] {
            let b: Bandwidth = s.parse().unwrap();
            assert_eq!(b.to_string(), s);
        }
        assert_eq!(
            "1000Mbps".parse::<Bandwidth>().unwrap().to_string(),
            "1Gbps"
        );
    }

    #[test]
    fn serialization_delay_rounds_up() {
        let gig = Bandwidth::from_bps(1_000_000_000).unwrap();
        // 1500 bytes at 1 Gbps = 12,000 bits = 12 us exactly.
        assert_eq!(gig.serialization_delay(1500).as_nanos(), 12_000);
        // 1 byte at 3 bps = 8/3 s = 2.666..s, rounded up.
        let slow = Bandwidth::from_bps(3).unwrap();
        assert_eq!(slow.serialization_delay(1).as_nanos(), 2_666_666_667);
        // The largest packet overflows u64 in bits * 1e9, takes the u128 path, and is still exact.
        let four = Bandwidth::from_bps(4).unwrap();
        assert_eq!(
            four.serialization_delay(u32::MAX).as_nanos(),
            u64::from(u32::MAX) * 2_000_000_000
        );
        // ...or saturates at "never" when even the result does not fit.
        let one = Bandwidth::from_bps(1).unwrap();
        assert_eq!(one.serialization_delay(u32::MAX), SimDuration::MAX);
        assert_eq!(gig.serialization_delay(0), SimDuration::ZERO);
    }
}

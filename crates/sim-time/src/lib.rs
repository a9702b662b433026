//! Integer-nanosecond simulated time.
//!
//! All simulated time in tcpsim is an integer count of nanoseconds, so that runs are exact and
//! identical on every machine (no floating point accumulates into the clock).

use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::str::FromStr;

/// An instant of simulated time: nanoseconds since the simulation started.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(u64);

/// A span of simulated time in nanoseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimDuration(u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    /// Stands for "never" in deadlines; arithmetic saturates at it.
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Self {
        SimTime(ns)
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// Time elapsed since `earlier`, or zero if `earlier` is later than `self`.
    pub const fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
    pub const fn checked_since(self, earlier: SimTime) -> Option<SimDuration> {
        match self.0.checked_sub(earlier.0) {
            Some(d) => Some(SimDuration(d)),
            None => None,
        }
    }
    pub const fn checked_add(self, d: SimDuration) -> Option<SimTime> {
        match self.0.checked_add(d.0) {
            Some(t) => Some(SimTime(t)),
            None => None,
        }
    }
    pub const fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us.saturating_mul(1_000))
    }
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms.saturating_mul(1_000_000))
    }
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s.saturating_mul(1_000_000_000))
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
    pub const fn saturating_mul(self, k: u64) -> SimDuration {
        SimDuration(self.0.saturating_mul(k))
    }
    pub const fn saturating_add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
    pub const fn saturating_sub(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_sub(d.0))
    }
    /// Doubling with a ceiling: the shape of every exponential backoff in TCP (RFC 6298 §5.5).
    pub fn doubled_max(self, max: SimDuration) -> SimDuration {
        self.saturating_mul(2).min(max)
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    /// Saturating: `SimTime::MAX` means "never", and never plus anything is still never.
    fn add(self, d: SimDuration) -> SimTime {
        self.saturating_add(d)
    }
}
impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}
impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    /// Saturating at zero: an interval never comes out negative.
    fn sub(self, earlier: SimTime) -> SimDuration {
        self.saturating_since(earlier)
    }
}
impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        self.saturating_add(d)
    }
}
impl Sub for SimDuration {
    type Output = SimDuration;
    fn sub(self, d: SimDuration) -> SimDuration {
        self.saturating_sub(d)
    }
}

/// Units accepted by [`SimDuration::from_str`], with their length in nanoseconds.
pub const DURATION_UNITS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("min", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// The allowed units, for error messages.
pub const DURATION_UNITS_HELP: &str = "ns, us, ms, s, min, h (e.g. \"250ms\", \"1.5s\", \"2min\")";

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseDurationError {
    Empty,
    MissingUnit(String),
    UnknownUnit(String),
    BadNumber(String),
    Overflow(String),
    /// More decimal places than the unit has nanoseconds for.
    TooPrecise(String),
}

impl fmt::Display for ParseDurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(
                f,
                "empty duration; expected a number and a unit: {DURATION_UNITS_HELP}"
            ),
            Self::MissingUnit(s) => write!(
                f,
                "duration {s:?} has no unit; allowed units: {DURATION_UNITS_HELP}"
            ),
            Self::UnknownUnit(s) => write!(
                f,
                "duration {s:?} has an unknown unit; allowed units: {DURATION_UNITS_HELP}"
            ),
            Self::BadNumber(s) => write!(
                f,
                "duration {s:?} does not start with a non-negative number; expected e.g. \"250ms\""
            ),
            Self::Overflow(s) => write!(f, "duration {s:?} is too long (limit is about 584 years)"),
            Self::TooPrecise(s) => write!(f, "duration {s:?} is finer than one nanosecond"),
        }
    }
}
impl std::error::Error for ParseDurationError {}

impl FromStr for SimDuration {
    type Err = ParseDurationError;

    /// Parses `<number><unit>` with optional spaces between, e.g. `"30s"`, `"1.5 ms"`, `"2min"`.
    /// Decimal fractions are converted exactly (no floating point), so `"0.1s"` is 100,000,000 ns.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.is_empty() {
            return Err(ParseDurationError::Empty);
        }
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = (&t[..split], t[split..].trim());
        if num.is_empty() || num.matches('.').count() > 1 || num == "." {
            return Err(ParseDurationError::BadNumber(s.to_string()));
        }
        if unit.is_empty() {
            return Err(ParseDurationError::MissingUnit(s.to_string()));
        }
        let scale = DURATION_UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|&(_, ns)| ns)
            .ok_or_else(|| ParseDurationError::UnknownUnit(s.to_string()))?;
        let (int_part, frac_part) = match num.split_once('.') {
            Some((i, f)) => (i, f),
            None => (num, ""),
        };
        let overflow = || ParseDurationError::Overflow(s.to_string());
        let int: u64 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| overflow())?
        };
        let mut total = int.checked_mul(scale).ok_or_else(overflow)?;
        // Exact decimal fraction: frac_digits / 10^len * scale must be a whole number of ns.
        if !frac_part.is_empty() {
            let mut frac_ns: u128 = 0;
            let mut denom: u128 = 1;
            for c in frac_part.chars() {
                frac_ns = frac_ns * 10 + (c as u8 - b'0') as u128;
                denom *= 10;
                if denom > 10u128.pow(30) {
                    return Err(ParseDurationError::TooPrecise(s.to_string()));
                }
            }
            let num = frac_ns * scale as u128;
            if !num.is_multiple_of(denom) {
                return Err(ParseDurationError::TooPrecise(s.to_string()));
            }
            let add = u64::try_from(num / denom).map_err(|_| overflow())?;
            total = total.checked_add(add).ok_or_else(overflow)?;
        }
        Ok(SimDuration(total))
    }
}

/// Prints in the largest unit that represents the value exactly, so that printing and
/// parsing round-trip: `60s`, `250ms`, `1500us`, `7ns`.
impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        for &(unit, ns) in DURATION_UNITS.iter().rev() {
            if unit == "µs" {
                continue;
            }
            if self.0.is_multiple_of(ns) {
                return write!(f, "{}{}", self.0 / ns, unit);
            }
        }
        write!(f, "{}ns", self.0)
    }
}
impl fmt::Debug for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
/// Prints as seconds with nanosecond precision, e.g. `t=1.000250000s`.
impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}s",
            self.0 / 1_000_000_000,
            self.0 % 1_000_000_000
        )
    }
}
impl fmt::Debug for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={self}")
    }
}

#[cfg(feature = "serde")]
mod serde_impl {
    use super::SimDuration;
    use serde::de::{self, Visitor};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::fmt;

    impl Serialize for SimDuration {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(self)
        }
    }

    impl<'de> Deserialize<'de> for SimDuration {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = SimDuration;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    write!(
                        f,
                        "a duration string with a unit: {}",
                        super::DURATION_UNITS_HELP
                    )
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<SimDuration, E> {
                    v.parse().map_err(E::custom)
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<SimDuration, E> {
                    Err(E::custom(format!(
                        "duration {v} has no unit; write it as a string with a unit: {}",
                        super::DURATION_UNITS_HELP
                    )))
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<SimDuration, E> {
                    self.visit_i64(v as i64)
                }
                fn visit_f64<E: de::Error>(self, v: f64) -> Result<SimDuration, E> {
                    Err(E::custom(format!(
                        "duration {v} has no unit; write it as a string with a unit: {}",
                        super::DURATION_UNITS_HELP
                    )))
                }
            }
            d.deserialize_any(V)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<u64, ParseDurationError> {
        s.parse::<SimDuration>().map(|d| d.as_nanos())
    }

    #[test]
    fn parses_every_unit() {
        assert_eq!(p("7ns"), Ok(7));
        assert_eq!(p("10us"), Ok(10_000));
        assert_eq!(p("10µs"), Ok(10_000));
        assert_eq!(p("250ms"), Ok(250_000_000));
        assert_eq!(p("30s"), Ok(30_000_000_000));
        assert_eq!(p("2min"), Ok(120_000_000_000));
        assert_eq!(p("1h"), Ok(3_600_000_000_000));
        assert_eq!(p(" 1.5 s "), Ok(1_500_000_000));
        assert_eq!(p("0.1s"), Ok(100_000_000));
        assert_eq!(p(".5ms"), Ok(500_000));
    }

    #[test]
    fn rejects_bad_durations_with_reasons() {
        assert!(matches!(p("30"), Err(ParseDurationError::MissingUnit(_))));
        assert!(matches!(
            p("30 parsecs"),
            Err(ParseDurationError::UnknownUnit(_))
        ));
        assert!(matches!(p("-3s"), Err(ParseDurationError::BadNumber(_))));
        assert!(matches!(p("1.2.3s"), Err(ParseDurationError::BadNumber(_))));
        assert!(matches!(p(""), Err(ParseDurationError::Empty)));
        assert!(matches!(p("0.5ns"), Err(ParseDurationError::TooPrecise(_))));
        assert!(matches!(
            p("99999999999h"),
            Err(ParseDurationError::Overflow(_))
        ));
        let msg = p("30").unwrap_err().to_string();
        assert!(msg.contains("ms") && msg.contains("min"), "{msg}");
    }

    #[test]
    fn display_round_trips() {
        for s in ["61s", "250ms", "1500us", "7ns", "2min", "1h", "0s"] {
            let d: SimDuration = s.parse().unwrap();
            assert_eq!(d.to_string(), s);
        }
        // 60 s prints as its largest exact unit, and still parses back to the same value.
        let d: SimDuration = "60s".parse().unwrap();
        assert_eq!(d.to_string(), "1min");
        assert_eq!(d.to_string().parse::<SimDuration>().unwrap(), d);
        assert_eq!(
            SimTime::from_nanos(1_000_250_000).to_string(),
            "1.000250000s"
        );
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(SimTime::MAX + SimDuration::from_secs(1), SimTime::MAX);
        assert_eq!(SimTime::ZERO - SimTime::from_nanos(5), SimDuration::ZERO);
        let rto = SimDuration::from_secs(1);
        assert_eq!(
            rto.doubled_max(SimDuration::from_secs(120)),
            SimDuration::from_secs(2)
        );
        assert_eq!(
            SimDuration::from_secs(100).doubled_max(SimDuration::from_secs(120)),
            SimDuration::from_secs(120)
        );
    }
}

//! Link parameters as written in an experiment's TOML, and their validation.

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;

use crate::Bandwidth;

/// A rejected setting. `field` is the TOML key relative to the link (or fault) table, e.g.
/// `"loss"` or `"burst.p"`; `message` says what is allowed and what was given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConfigError {
    pub field: &'static str,
    pub message: String,
}

impl ConfigError {
    pub fn new(field: &'static str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            field,
            message: message.into(),
        }
    }
}

pub(crate) fn check_probability(field: &'static str, p: f64) -> Result<(), ConfigError> {
    // `contains` is false for NaN, so NaN is rejected too.
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("must be a probability in [0, 1], got {p}"),
        ))
    }
}

/// Upper bound on `queue_limit_packets`. The queue keeps one timestamp per queued packet, so the
/// limit bounds its memory (8 MiB); Linux's default `txqueuelen` is 1000, three orders smaller.
pub const MAX_QUEUE_LIMIT_PACKETS: u32 = 1 << 20;

/// Two-state Gilbert-Elliott burst-loss channel. The state moves once per packet, then the
/// packet is lost with the new state's loss probability (the order Linux netem uses), so with
/// `loss_bad = 1, loss_good = 0` loss bursts have geometric length with mean `1 / r` and
/// the long-run fraction of time in the bad state is `p / (p + r)`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GilbertElliott {
    /// Probability of moving good -> bad at a packet. Default 0: never enters the bad state.
    pub p: f64,
    /// Probability of moving bad -> good at a packet. Default 1: a bad state lasts one packet.
    pub r: f64,
    /// Loss probability in the bad state. Default 1 (Gilbert's original model: bad loses all).
    pub loss_bad: f64,
    /// Loss probability in the good state. Default 0 (Gilbert's original model: good loses none).
    pub loss_good: f64,
}

impl Default for GilbertElliott {
    fn default() -> Self {
        GilbertElliott {
            p: 0.0,
            r: 1.0,
            loss_bad: 1.0,
            loss_good: 0.0,
        }
    }
}

impl GilbertElliott {
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_probability("burst.p", self.p)?;
        check_probability("burst.r", self.r)?;
        check_probability("burst.loss_bad", self.loss_bad)?;
        check_probability("burst.loss_good", self.loss_good)
    }
}

/// Upper bound on `outages` per direction: every packet is checked against each of them.
pub const MAX_OUTAGES: usize = 1024;

/// A window of simulated time, counted from the start of the run, during which a direction
/// of the link is down: every packet offered to it at `from <= t < until` is dropped. A peer
/// that crashes (or a path that breaks) mid-connection, and comes back at `until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    pub from: SimDuration,
    /// `"none"` (the default): the direction never comes back.
    #[serde(with = "none_or", default)]
    pub until: Option<SimDuration>,
}

impl Outage {
    /// Whether a packet offered `since_start` after the start of the run is dropped.
    pub fn contains(&self, since_start: SimDuration) -> bool {
        since_start >= self.from && self.until.is_none_or(|u| since_start < u)
    }
}

/// One direction of the path between client and server.
///
/// Jitter is drawn independently per packet, so a packet can overtake an earlier one whose
/// jitter was larger: jitter alone reorders (as with netem `delay X Y`). Use `jitter = "0s"`
/// and the `reorder` knob for reordering at a controlled rate.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkConfig {
    /// One-way propagation delay. Default 10 ms, the one-way delay of the ns-3 peer workload
    /// tcpsim's results are compared against (20 ms RTT).
    pub delay: SimDuration,
    /// Extra delay drawn uniformly from `[0, jitter]` per packet. Default 0.
    pub jitter: SimDuration,
    /// Independent (Bernoulli) loss probability per packet. Default 0.
    pub loss: f64,
    /// Burst loss, applied in addition to `loss`. Default none.
    pub burst: Option<GilbertElliott>,
    /// Probability that a packet is held back by an extra `reorder_delay`. Default 0.
    pub reorder: f64,
    /// Hold-back of a reordered packet. Default 0 (must be positive when `reorder > 0`).
    pub reorder_delay: SimDuration,
    /// Probability that a packet is delivered twice. Default 0.
    pub duplicate: f64,
    /// How much later than the original a duplicate arrives (also for `duplicate` faults).
    /// Default 0: at the same instant. A long one models the old duplicate that wandered in
    /// the network (RFC 9293 §3.4.1): it is still dropped if its whole time in the network
    /// exceeds `max_lifetime`.
    pub duplicate_delay: SimDuration,
    /// Serialization rate; `None` (the default, or `"none"`) is an infinitely fast link.
    /// Packets are serialized FIFO, each starting when the previous one has finished.
    #[serde(with = "none_or")]
    pub bandwidth: Option<Bandwidth>,
    /// Drop-tail limit on packets queued or serializing; requires `bandwidth`. Default none
    /// (unbounded queue). At most [`MAX_QUEUE_LIMIT_PACKETS`].
    pub queue_limit_packets: Option<u32>,
    /// Network maximum segment lifetime: a packet whose total time in the network
    /// (queueing + serialization + delay) would exceed it is dropped as expired.
    /// Default 2 min, the MSL of RFC 9293 §3.4.1 ("arbitrarily defined to be 2 minutes").
    /// `"none"` disables the check.
    #[serde(with = "none_or")]
    pub max_lifetime: Option<SimDuration>,
    /// Windows during which this direction is down (see [`Outage`]). Default none. A packet
    /// sent during an outage is dropped before anything else happens to it (faults do not
    /// count it), but it still takes its random draws, so the fate of every other packet is
    /// the same as without the outage.
    pub outages: Vec<Outage>,
}

/// RFC 9293 §3.4.1: "the Maximum Segment Lifetime (MSL) ... is arbitrarily defined to be 2 minutes".
pub const DEFAULT_MAX_LIFETIME: SimDuration = SimDuration::from_secs(120);

/// One-way delay of the ns-3 peer workload (20 ms RTT).
pub const DEFAULT_DELAY: SimDuration = SimDuration::from_millis(10);

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            delay: DEFAULT_DELAY,
            jitter: SimDuration::ZERO,
            loss: 0.0,
            burst: None,
            reorder: 0.0,
            reorder_delay: SimDuration::ZERO,
            duplicate: 0.0,
            duplicate_delay: SimDuration::ZERO,
            bandwidth: None,
            queue_limit_packets: None,
            max_lifetime: Some(DEFAULT_MAX_LIFETIME),
            outages: Vec::new(),
        }
    }
}

impl LinkConfig {
    /// A lossless link with exactly `delay` one way and nothing else (no lifetime check).
    pub fn fixed_delay(delay: SimDuration) -> LinkConfig {
        LinkConfig {
            delay,
            max_lifetime: None,
            ..LinkConfig::default()
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.outages.len() > MAX_OUTAGES {
            return Err(ConfigError::new(
                "outages",
                format!(
                    "at most {MAX_OUTAGES} outages per direction are allowed, got {}",
                    self.outages.len()
                ),
            ));
        }
        for o in &self.outages {
            if o.until.is_some_and(|u| u <= o.from) {
                return Err(ConfigError::new(
                    "outages",
                    format!(
                        "an outage must end after it starts (until > from), got from = \"{}\", until = \"{}\"",
                        o.from,
                        o.until.expect("checked")
                    ),
                ));
            }
        }
        check_probability("loss", self.loss)?;
        check_probability("reorder", self.reorder)?;
        check_probability("duplicate", self.duplicate)?;
        if let Some(ge) = &self.burst {
            ge.validate()?;
        }
        if self.reorder > 0.0 && self.reorder_delay.is_zero() {
            return Err(ConfigError::new(
                "reorder_delay",
                format!(
                    "must be a positive duration (e.g. \"5ms\") when reorder > 0 (reorder = {}); a zero hold-back reorders nothing",
                    self.reorder
                ),
            ));
        }
        if let Some(limit) = self.queue_limit_packets {
            if self.bandwidth.is_none() {
                return Err(ConfigError::new(
                    "queue_limit_packets",
                    "requires `bandwidth` (e.g. bandwidth = \"100Mbps\"): without a finite rate nothing ever queues",
                ));
            }
            if !(1..=MAX_QUEUE_LIMIT_PACKETS).contains(&limit) {
                return Err(ConfigError::new(
                    "queue_limit_packets",
                    format!("must be in [1, {MAX_QUEUE_LIMIT_PACKETS}] packets, got {limit}"),
                ));
            }
        }
        if self.max_lifetime == Some(SimDuration::ZERO) {
            return Err(ConfigError::new(
                "max_lifetime",
                "must be a positive duration (e.g. \"2min\"), or \"none\" to disable the lifetime check; got 0s",
            ));
        }
        Ok(())
    }

    /// True when some setting draws random numbers; false means the link is deterministic.
    pub fn is_random(&self) -> bool {
        self.loss > 0.0
            || self.burst.is_some()
            || !self.jitter.is_zero()
            || self.reorder > 0.0
            || self.duplicate > 0.0
    }
}

/// Serde for an optional value that TOML (which has no null) can switch off with `"none"`.
/// `None` serializes as `"none"` so that a non-default `None` survives a round trip.
pub(crate) mod none_or {
    use serde::de::{self, IntoDeserializer, Visitor};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::fmt;
    use std::marker::PhantomData;

    pub fn serialize<T: Serialize, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => v.serialize(s),
            None => s.serialize_str("none"),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Option<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value with a unit, or \"none\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<T>, E> {
                if v.trim().eq_ignore_ascii_case("none") {
                    Ok(None)
                } else {
                    T::deserialize(v.into_deserializer()).map(Some)
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<T>, E> {
                T::deserialize(v.into_deserializer()).map(Some)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<T>, E> {
                T::deserialize(v.into_deserializer()).map(Some)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<T>, E> {
                T::deserialize(v.into_deserializer()).map(Some)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
                Ok(None)
            }
            fn visit_none<E: de::Error>(self) -> Result<Option<T>, E> {
                Ok(None)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Option<T>, D2::Error> {
                T::deserialize(d).map(Some)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

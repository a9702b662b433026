//! The per-direction link: a function from packet to drop-or-deliver-at.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;
use sim_core::{SimDuration, SimRng, SimTime};

use crate::config::{ConfigError, LinkConfig};
use crate::fault::{Direction, Fault, FaultAction, MAX_FAULTS_PER_DIRECTION};
use crate::Bandwidth;

/// What the link needs to know about one packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketInfo {
    /// Workload connection index, for fault counting.
    pub conn: u64,
    /// TCP flag byte in wire layout ([`crate::flags`]).
    pub flags: u8,
    pub payload_len: u32,
    /// Bytes on the wire (headers included), for serialization delay.
    pub wire_len: u32,
    /// The sender of this direction had already sent a FIN before this packet.
    pub after_fin: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Bernoulli `loss`.
    Loss,
    /// Gilbert-Elliott `burst` loss.
    BurstLoss,
    /// Drop-tail: `queue_limit_packets` packets were already queued or serializing.
    QueueFull,
    /// Would have spent longer than `max_lifetime` in the network.
    Expired,
    /// A scripted fault with action `drop`.
    Fault,
    /// Sent while the direction was down (`outages`).
    Outage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Drop(DropReason),
    /// Arrives at the far end at `at`; a duplicate, if any, arrives at `duplicate_at`
    /// (currently always equal to `at`: the engine's FIFO event queue delivers it second).
    Deliver {
        at: SimTime,
        duplicate_at: Option<SimTime>,
    },
}

/// Counts of what the link did. `packets`/`bytes` count every packet offered; the effect
/// counters (`duplicated`, `reordered`, `delayed_fault`) count delivered packets only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub packets: u64,
    pub bytes: u64,
    pub dropped_loss: u64,
    pub dropped_burst: u64,
    pub dropped_queue: u64,
    pub dropped_expired: u64,
    pub dropped_fault: u64,
    pub dropped_outage: u64,
    pub duplicated: u64,
    /// Duplicates that would have outlived `max_lifetime` (their original was delivered;
    /// not counted in `dropped()`, which counts offered packets).
    pub duplicates_expired: u64,
    pub reordered: u64,
    pub delayed_fault: u64,
}

impl LinkStats {
    pub fn dropped(&self) -> u64 {
        self.dropped_loss
            + self.dropped_burst
            + self.dropped_queue
            + self.dropped_expired
            + self.dropped_fault
            + self.dropped_outage
    }

    pub fn delivered(&self) -> u64 {
        self.packets - self.dropped()
    }
}

/// Random draws (`SimRng::next_u64` calls) per packet on a link with any random setting.
///
/// The count is the same for every packet whatever the configuration and whatever happens to
/// the packet, so packet `i` always sees draws `4i..4i+4` of the link's stream: sweeping one
/// parameter (say `loss`) leaves the jitter, reorder and duplicate decisions of every packet
/// unchanged (common random numbers), and the sweep measures the parameter, not resampling noise.
/// A link with no random setting draws nothing; since each link owns its generator, that is
/// indistinguishable from drawing and ignoring the values.
///
/// Layout: draw 0 = loss (high 32 bits) | GE transition (low); draw 1 = GE loss | reorder;
/// draw 2 = duplicate | unused; draw 3 = jitter (all 64 bits). Probabilities therefore have a
/// resolution of 2^-32: anything below ~1.2e-10 acts as 0.
pub const DRAWS_PER_PACKET: usize = 4;

/// `p` as a threshold for a 32-bit uniform draw: P(draw < threshold) = threshold / 2^32,
/// so 0 never fires and 1 (= 2^32) always fires.
fn threshold(p: f64) -> u64 {
    const SCALE: f64 = 4_294_967_296.0;
    ((p * SCALE).round() as u64).min(1 << 32)
}

fn hi(x: u64) -> u64 {
    x >> 32
}
fn lo(x: u64) -> u64 {
    x & 0xffff_ffff
}

#[derive(Debug)]
struct GeState {
    to_bad: u64,
    to_good: u64,
    loss_bad: u64,
    loss_good: u64,
    bad: bool,
}

/// Per-connection counting only where needed: a fault pinned to one connection needs one counter.
#[derive(Debug)]
enum Counter {
    One(u32),
    PerConnection(FxHashMap<u64, u32>),
}

#[derive(Debug)]
struct FaultRule {
    fault: Fault,
    first: u64,
    last: u64,
    counter: Counter,
}

impl FaultRule {
    /// Counts a matching segment and says whether it falls in the `nth ..= nth+count-1` window.
    fn hit(&mut self, conn: u64) -> bool {
        let c = match &mut self.counter {
            Counter::One(c) => c,
            Counter::PerConnection(map) => map.entry(conn).or_insert(0),
        };
        *c = c.saturating_add(1);
        (self.first..=self.last).contains(&u64::from(*c))
    }
}

/// One direction of the path. Feed it every packet of that direction in send order.
pub struct Link {
    direction: Direction,
    cfg: LinkConfig,
    rng: SimRng,
    random: bool,
    /// No randomness, no finite rate, no faults, no outages, and `delay` within
    /// `max_lifetime`: every packet takes exactly `delay`, which this holds.
    fixed_delay: Option<SimDuration>,
    loss: u64,
    reorder: u64,
    duplicate: u64,
    ge: Option<GeState>,
    /// `jitter + 1` ns: the number of possible jitter values.
    jitter_span_ns: u128,
    bandwidth: Option<Bandwidth>,
    /// When the last accepted packet finishes serializing.
    busy_until: SimTime,
    /// Serialization finish times of packets still queued or serializing; kept only with a
    /// queue limit, and never longer than it.
    in_flight: VecDeque<SimTime>,
    queue_limit: usize,
    faults: Vec<FaultRule>,
    stats: LinkStats,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("direction", &self.direction)
            .field("cfg", &self.cfg)
            .field("busy_until", &self.busy_until)
            .field("queued", &self.in_flight.len())
            .field("faults", &self.faults)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Link {
    /// `faults`: all faults of the experiment; the link keeps those whose direction is `direction`.
    pub fn new(
        direction: Direction,
        cfg: LinkConfig,
        faults: &[Fault],
        rng: SimRng,
    ) -> Result<Link, ConfigError> {
        cfg.validate()?;
        let mut rules = Vec::new();
        for f in faults.iter().filter(|f| f.direction == direction) {
            f.validate()?;
            if rules.len() == MAX_FAULTS_PER_DIRECTION {
                return Err(ConfigError::new(
                    "faults",
                    format!("at most {MAX_FAULTS_PER_DIRECTION} faults per direction are allowed"),
                ));
            }
            rules.push(FaultRule {
                fault: f.clone(),
                first: u64::from(f.nth),
                last: u64::from(f.nth) + u64::from(f.count) - 1,
                counter: match f.connection {
                    Some(_) => Counter::One(0),
                    None => Counter::PerConnection(FxHashMap::default()),
                },
            });
        }
        let queue_limit = cfg.queue_limit_packets.map_or(0, |l| l as usize);
        Ok(Link {
            direction,
            random: cfg.is_random(),
            fixed_delay: (!cfg.is_random()
                && cfg.bandwidth.is_none()
                && rules.is_empty()
                && cfg.outages.is_empty()
                && cfg.max_lifetime.is_none_or(|max| cfg.delay <= max))
            .then_some(cfg.delay),
            loss: threshold(cfg.loss),
            reorder: threshold(cfg.reorder),
            duplicate: threshold(cfg.duplicate),
            ge: cfg.burst.as_ref().map(|g| GeState {
                to_bad: threshold(g.p),
                to_good: threshold(g.r),
                loss_bad: threshold(g.loss_bad),
                loss_good: threshold(g.loss_good),
                bad: false,
            }),
            jitter_span_ns: u128::from(cfg.jitter.as_nanos()) + 1,
            bandwidth: cfg.bandwidth,
            busy_until: SimTime::ZERO,
            // Grows to at most `queue_limit`; preallocating a small head keeps typical queues allocation-free.
            in_flight: VecDeque::with_capacity(queue_limit.min(1024)),
            queue_limit,
            faults: rules,
            stats: LinkStats::default(),
            cfg,
            rng,
        })
    }

    /// Decides the fate of one packet sent at `now`. Call in send order (`now` non-decreasing).
    ///
    /// Effects, in order:
    /// 1. random draws ([`DRAWS_PER_PACKET`], always all of them) and the Gilbert-Elliott
    ///    state step (every packet, so the burst process does not depend on other effects);
    ///    then, if the direction is in one of its `outages`, the packet is dropped;
    /// 2. scripted faults (count the segment in every matching fault; drop, or remember
    ///    duplicate / extra delay);
    /// 3. queue and serialization: drop-tail if full, else start when the previous packet
    ///    finished and occupy the wire for `wire_len * 8 / bandwidth`;
    /// 4. Bernoulli loss, then burst loss: after serialization, because a packet lost in
    ///    the network still occupied the sender's wire;
    /// 5. delivery time = end of serialization + delay + jitter (+ reorder_delay if held back)
    ///    (+ fault delay); a duplicate arrives `duplicate_delay` later (at the same instant,
    ///    after the original, by default), unless that makes it outlive `max_lifetime`;
    /// 6. lifetime: dropped as expired if the time in the network (queueing + serialization
    ///    + all delays) exceeds `max_lifetime`.
    ///
    /// With no random setting, no bandwidth and no faults, the link is an exact fixed delay.
    ///
    /// Inlined for that case, which is a few instructions and the usual one (seven calls per
    /// connection lifecycle): the rest is [`transmit_effects`](Self::transmit_effects).
    #[inline]
    pub fn transmit(&mut self, now: SimTime, pkt: &PacketInfo) -> Verdict {
        self.stats.packets += 1;
        self.stats.bytes += u64::from(pkt.wire_len);
        match self.fixed_delay {
            // A plain propagation delay skips the effect pipeline entirely; it gives the
            // same verdicts as the general path.
            Some(delay) => Verdict::Deliver {
                at: now + delay,
                duplicate_at: None,
            },
            None => self.transmit_effects(now, pkt),
        }
    }

    /// [`transmit`](Self::transmit) through every effect, once the packet is counted.
    #[inline(never)]
    fn transmit_effects(&mut self, now: SimTime, pkt: &PacketInfo) -> Verdict {
        let [d_loss, d_ge_reorder, d_dup, d_jitter] = if self.random {
            [
                self.rng.next_u64(),
                self.rng.next_u64(),
                self.rng.next_u64(),
                self.rng.next_u64(),
            ]
        } else {
            // Every threshold is 0 and jitter is 0, so these zeros trigger nothing.
            [0; DRAWS_PER_PACKET]
        };
        let ge_bad = match &mut self.ge {
            Some(ge) => {
                let u = lo(d_loss);
                ge.bad = if ge.bad {
                    u >= ge.to_good
                } else {
                    u < ge.to_bad
                };
                Some(ge.bad)
            }
            None => None,
        };

        // After the draws and the burst state's step, so that an outage leaves the fate of
        // every other packet as it would be without it.
        let since_start = now - SimTime::ZERO;
        if self.cfg.outages.iter().any(|o| o.contains(since_start)) {
            self.stats.dropped_outage += 1;
            return Verdict::Drop(DropReason::Outage);
        }

        let mut fault_dup = false;
        let mut fault_delay = SimDuration::ZERO;
        if !self.faults.is_empty() {
            let mut fault_drop = false;
            for rule in &mut self.faults {
                if rule.fault.matches(pkt) && rule.hit(pkt.conn) {
                    match rule.fault.action {
                        FaultAction::Drop => fault_drop = true,
                        FaultAction::Duplicate => fault_dup = true,
                        FaultAction::Delay => {
                            fault_delay =
                                fault_delay + rule.fault.delay.unwrap_or(SimDuration::ZERO)
                        }
                    }
                }
            }
            if fault_drop {
                self.stats.dropped_fault += 1;
                return Verdict::Drop(DropReason::Fault);
            }
        }

        let departs = match self.bandwidth {
            None => now,
            Some(bw) => {
                if self.queue_limit > 0 {
                    while self.in_flight.front().is_some_and(|&done| done <= now) {
                        self.in_flight.pop_front();
                    }
                    if self.in_flight.len() >= self.queue_limit {
                        self.stats.dropped_queue += 1;
                        return Verdict::Drop(DropReason::QueueFull);
                    }
                }
                let finish = self.busy_until.max(now) + bw.serialization_delay(pkt.wire_len);
                self.busy_until = finish;
                if self.queue_limit > 0 {
                    self.in_flight.push_back(finish);
                }
                finish
            }
        };

        if hi(d_loss) < self.loss {
            self.stats.dropped_loss += 1;
            return Verdict::Drop(DropReason::Loss);
        }
        if let (Some(bad), Some(ge)) = (ge_bad, &self.ge) {
            let p = if bad { ge.loss_bad } else { ge.loss_good };
            if hi(d_ge_reorder) < p {
                self.stats.dropped_burst += 1;
                return Verdict::Drop(DropReason::BurstLoss);
            }
        }

        // Uniform on [0, jitter] by multiply-shift: unbiased to within 2^-64 per value, one draw.
        let jitter_ns = ((u128::from(d_jitter) * self.jitter_span_ns) >> 64) as u64;
        let reordered = lo(d_ge_reorder) < self.reorder;
        let mut in_network = self.cfg.delay + SimDuration::from_nanos(jitter_ns) + fault_delay;
        if reordered {
            in_network = in_network + self.cfg.reorder_delay;
        }
        let at = departs + in_network;
        if let Some(max) = self.cfg.max_lifetime {
            // Summed as durations, so a time that saturates at "never" still counts as too old.
            if (departs - now) + in_network > max {
                self.stats.dropped_expired += 1;
                return Verdict::Drop(DropReason::Expired);
            }
        }

        let mut duplicate = fault_dup || hi(d_dup) < self.duplicate;
        let dup_delay = self.cfg.duplicate_delay;
        if duplicate && !dup_delay.is_zero() {
            if let Some(max) = self.cfg.max_lifetime {
                if (departs - now) + in_network + dup_delay > max {
                    // The copy outlives the network's maximum segment lifetime.
                    self.stats.duplicates_expired += 1;
                    duplicate = false;
                }
            }
        }
        self.stats.duplicated += u64::from(duplicate);
        self.stats.reordered += u64::from(reordered);
        self.stats.delayed_fault += u64::from(!fault_delay.is_zero());
        Verdict::Deliver {
            at,
            duplicate_at: duplicate.then_some(at + dup_delay),
        }
    }

    /// Forgets the fault counters of a finished connection, so that faults that apply to every
    /// connection do not keep one counter per connection ever seen. A later segment of the same
    /// connection would be counted from 1 again. No-op without faults.
    pub fn forget_connection(&mut self, conn: u64) {
        for rule in &mut self.faults {
            if let Counter::PerConnection(map) = &mut rule.counter {
                map.remove(&conn);
            }
        }
    }

    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }

    pub fn config(&self) -> &LinkConfig {
        &self.cfg
    }

    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The faults this link applies (those of its direction), in the order given.
    pub fn faults(&self) -> impl Iterator<Item = &Fault> {
        self.faults.iter().map(|r| &r.fault)
    }
}

//! Reproducible random-number streams.
//!
//! Every random draw in a simulation comes from a [`SimRng`] named by (seed, sweep point,
//! replication, component). Streams are independent ChaCha8 keys, so adding a component, or
//! drawing more from one, never shifts the numbers another component sees, and a sweep point
//! can be rerun alone with the same numbers it had inside the sweep.
//!
//! Everything here is defined by integer arithmetic and IEEE-754 basic operations (`+ - * /`,
//! which are exactly rounded everywhere): the key derivation is SplitMix64, ChaCha8 is
//! specified bit-for-bit, and the one transcendental function, the logarithm in
//! [`SimRng::exp_duration`], is a fixed polynomial ([`ln`]) rather than the platform's `libm`,
//! whose last bit differs between glibc, macOS and Windows. So a stream gives the same values on
//! every platform and in every release; the golden test pins that.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use sim_time::SimDuration;

/// Weyl increment of SplitMix64 (Steele, Lea & Flood, "Fast Splittable Pseudorandom Number
/// Generators", OOPSLA 2014): 2^64 / golden ratio, odd.
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// Separates tcpsim's key derivation from any other SplitMix64 use of the same numbers
/// ("tcpsim" in ASCII, version 1). Changing it changes every stream: never do.
const KEY_DOMAIN: u64 = 0x7463_7073_696d_0001;

/// SplitMix64's output function (Stafford's "Mix13" variant): a bijection on `u64` with full
/// avalanche.
#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The 32-byte ChaCha key of a stream. Each of the four key words is its own SplitMix64-style
/// chain over the four inputs, started from a different state; each step `mix64(state ^ x)` is a
/// bijection in `x`, so tuples that differ in one input always differ in every word, and
/// distinct tuples collide only by a 2^-256 accident. Words are laid out little-endian on every
/// platform.
fn stream_key(inputs: [u64; 4]) -> [u8; 32] {
    let mut key = [0u8; 32];
    for (word, chunk) in key.chunks_exact_mut(8).enumerate() {
        let mut state = KEY_DOMAIN.wrapping_add((word as u64 + 1).wrapping_mul(GOLDEN_GAMMA));
        for x in inputs {
            state = mix64(state ^ x).wrapping_add(GOLDEN_GAMMA);
        }
        chunk.copy_from_slice(&mix64(state).to_le_bytes());
    }
    key
}

/// One reproducible random stream; see the module docs.
#[derive(Clone, Debug)]
pub struct SimRng {
    inner: ChaCha8Rng,
}

/// 2^-53: spacing of the 53-bit grid that [`SimRng::next_f64`] draws from.
const F64_UNIT: f64 = 1.0 / (1u64 << 53) as f64;

impl SimRng {
    /// Independent stream for (seed, sweep point, replication, component). Identical on every
    /// platform and across releases: the 32-byte ChaCha8 key is mixed from the four values by
    /// SplitMix64 chains, and the first outputs of several streams are pinned in a golden test.
    pub fn stream(seed: u64, point: u64, replication: u64, component: u64) -> SimRng {
        SimRng {
            inner: ChaCha8Rng::from_seed(stream_key([seed, point, replication, component])),
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    pub fn next_u32(&mut self) -> u32 {
        self.inner.next_u32()
    }

    /// Uniform in [0, 1) on the grid of multiples of 2^-53, from the top 53 bits of one `u64`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * F64_UNIT
    }

    /// True with probability `p` (clamped to [0, 1]; NaN counts as 0). Always consumes exactly
    /// one `u64`, whatever `p`, so that sweeping a loss rate keeps every later draw aligned.
    pub fn bernoulli(&mut self, p: f64) -> bool {
        // u < 1 always, so p >= 1 is always true; p <= 0 or NaN is always false.
        self.next_f64() < p
    }

    /// Unbiased uniform integer in [0, n) by Lemire's multiply-and-reject ("Fast Random Integer
    /// Generation in an Interval", ACM TOMACS 2019). Usually one `u64`; rejection is rarer than
    /// n / 2^64. `n == 0` returns 0 without drawing.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            // 2^64 mod n: the low products below it belong to an over-represented bucket.
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (m >> 64) as u64
    }

    /// Uniform in [0, max], both ends included.
    pub fn uniform_duration(&mut self, max: SimDuration) -> SimDuration {
        let max_ns = max.as_nanos();
        let ns = match max_ns.checked_add(1) {
            Some(n) => self.below(n),
            None => self.next_u64(),
        };
        SimDuration::from_nanos(ns)
    }

    /// Exponentially distributed with the given mean, rounded to the nearest nanosecond
    /// (inverse transform, `-mean * ln(1 - u)`). Always consumes exactly one `u64`. The largest
    /// possible value is about 36.7 means (u = 1 - 2^-53); results saturate at `SimDuration::MAX`.
    pub fn exp_duration(&mut self, mean: SimDuration) -> SimDuration {
        let u = self.next_f64();
        // 1 - u is exact on the 2^-53 grid and lies in [2^-53, 1], so ln never sees 0.
        let x = -ln_inline(1.0 - u);
        SimDuration::from_nanos(round_to_u64(u64_to_f64(mean.as_nanos()) * x))
    }
}

/// `n as f64` (correctly rounded), by the one-instruction signed conversion when `n` fits
/// in an `i64`, which it always does for a duration below 292 years: the unsigned
/// conversion takes seven instructions on x86-64 without AVX-512.
#[inline(always)]
fn u64_to_f64(n: u64) -> f64 {
    if n <= i64::MAX as u64 {
        n as i64 as f64
    } else {
        n as f64
    }
}

/// `y.round() as u64` (half away from zero; saturating; NaN and negatives give 0), without
/// `f64::round`, which is a libm call on x86-64 without SSE4.1 (24 instructions per
/// `exp_duration`). Exact: below 2^63 the integer part `n` converts back exactly and
/// `y - n` is the exact fraction; from 2^52 on, `y` is an integer and the fraction 0.
#[inline(always)]
fn round_to_u64(y: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if y >= 0.5 {
        if y < TWO63 {
            let n = y as i64;
            n as u64 + u64::from(y - n as f64 >= 0.5)
        } else {
            y as u64
        }
    } else {
        // Rounds to 0 or -0, or is negative or NaN: `as` gives 0 for all of them.
        0
    }
}

/// Natural logarithm computed with IEEE basic operations only, so it is bit-identical on every
/// platform (the platform `ln` is not). This is the classic algorithm of fdlibm's `e_log.c`
/// (Sun Microsystems 1993; the same coefficients are in FreeBSD msun, musl and Java's
/// `StrictMath.log`): reduce `x = 2^k (1 + f)` with `sqrt(2)/2 < 1 + f < sqrt(2)`, then
/// `ln(1 + f) = 2s + s R(s^2)` with `s = f / (2 + f)` and a degree-14 minimax `R`; error below
/// 1 ulp. `x <= 0` gives -inf (0) or NaN (negative), matching `f64::ln`.
pub fn ln(x: f64) -> f64 {
    ln_inline(x)
}

/// [`ln`], inlined into [`SimRng::exp_duration`] (once per Poisson arrival), where the call
/// went through the GOT and cost more than the function's own branches.
#[inline(always)]
fn ln_inline(x: f64) -> f64 {
    const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000); // 6.93147180369123816490e-01
    const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76); // 1.90821492927058770002e-10
    const TWO54: f64 = f64::from_bits(0x4350_0000_0000_0000); // 2^54
    const ONE_THIRD: f64 = f64::from_bits(0x3FD5_5555_5555_5555);
    const LG1: f64 = f64::from_bits(0x3FE5_5555_5555_5593);
    const LG2: f64 = f64::from_bits(0x3FD9_9999_9997_FA04);
    const LG3: f64 = f64::from_bits(0x3FD2_4924_9422_9359);
    const LG4: f64 = f64::from_bits(0x3FCC_71C5_1D8E_78AF);
    const LG5: f64 = f64::from_bits(0x3FC7_4664_96CB_03DE);
    const LG6: f64 = f64::from_bits(0x3FC3_9A09_D078_C69F);
    const LG7: f64 = f64::from_bits(0x3FC2_F112_DF3E_5244);

    let mut x = x;
    let bits = x.to_bits();
    let mut hx = (bits >> 32) as u32 as i32;
    let lx = bits as u32;
    let mut k: i32 = 0;
    if hx < 0x0010_0000 {
        // Zero, negative, or subnormal.
        if ((hx & 0x7fff_ffff) as u32 | lx) == 0 {
            return f64::NEG_INFINITY;
        }
        if hx < 0 {
            return f64::NAN;
        }
        k -= 54;
        x *= TWO54;
        hx = (x.to_bits() >> 32) as u32 as i32;
    }
    if hx >= 0x7ff0_0000 {
        return x + x; // +inf or NaN
    }
    k += (hx >> 20) - 1023;
    hx &= 0x000f_ffff;
    // Pick x or x/2 so that the mantissa lands in [sqrt(2)/2, sqrt(2)).
    let i = (hx + 0x95f64) & 0x10_0000;
    let normalized_hi = (hx | (i ^ 0x3ff0_0000)) as u32 as u64;
    x = f64::from_bits((normalized_hi << 32) | (x.to_bits() & 0xffff_ffff));
    k += i >> 20;
    let f = x - 1.0;
    let dk = f64::from(k);
    if (0x000f_ffff & (2 + hx)) < 3 {
        // |f| < 2^-20: a short series is exact enough.
        if f == 0.0 {
            return if k == 0 {
                0.0
            } else {
                dk * LN2_HI + dk * LN2_LO
            };
        }
        let r = f * f * (0.5 - ONE_THIRD * f);
        return if k == 0 {
            f - r
        } else {
            dk * LN2_HI - ((r - dk * LN2_LO) - f)
        };
    }
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    let r = t2 + t1;
    let i = (hx - 0x6147a) | (0x6b851 - hx);
    if i > 0 {
        let hfsq = 0.5 * f * f;
        if k == 0 {
            f - (hfsq - s * (hfsq + r))
        } else {
            dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f)
        }
    } else if k == 0 {
        f - s * (f - r)
    } else {
        dk * LN2_HI - ((s * (f - r) - dk * LN2_LO) - f)
    }
}

#[cfg(test)]
mod tests;

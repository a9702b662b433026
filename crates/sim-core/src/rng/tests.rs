use super::*;

/// First outputs of a few streams, pinned. If this test fails, every published result changes:
/// do not "fix" the constants, fix the code. The `next_u64` values were cross-checked against an
/// independent implementation (the key chains and ChaCha8 written from the spec in Python).
#[test]
fn golden_streams() {
    let cases: [([u64; 4], [u64; 3]); 4] = [
        ([0, 0, 0, 0], GOLDEN_0),
        ([1, 0, 0, 0], GOLDEN_1),
        ([1, 2, 3, 4], GOLDEN_2),
        ([u64::MAX, u64::MAX, u64::MAX, u64::MAX], GOLDEN_3),
    ];
    for ([seed, point, rep, comp], want) in cases {
        let mut rng = SimRng::stream(seed, point, rep, comp);
        let got = [rng.next_u64(), rng.next_u64(), rng.next_u64()];
        assert_eq!(got, want, "stream ({seed}, {point}, {rep}, {comp})");
    }
    let key_0000 = "be0e4936b0a9a2cf9f90b453ee92426c602af8bb631dfba07c3e403940c4871c";
    let hex: String = stream_key([0; 4])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hex, key_0000);
    let mut rng = SimRng::stream(42, 1, 2, 3);
    assert_eq!(rng.next_u32(), GOLDEN_U32);
    assert_eq!(rng.below(1000), GOLDEN_BELOW);
    assert_eq!(
        rng.exp_duration(SimDuration::from_millis(100)).as_nanos(),
        GOLDEN_EXP
    );
    assert_eq!(rng.next_f64().to_bits(), GOLDEN_F64_BITS);
}

const GOLDEN_0: [u64; 3] = [
    6582816208652091775,
    6466744611697480822,
    6320004367605080798,
];
const GOLDEN_1: [u64; 3] = [
    1960017786161891365,
    4133021815041837952,
    1184414436874556094,
];
const GOLDEN_2: [u64; 3] = [
    7636912003024175013,
    7111733939762080235,
    7318943337405423861,
];
const GOLDEN_3: [u64; 3] = [
    8861348097843794075,
    14126012020673860877,
    11930738374893983001,
];
const GOLDEN_U32: u32 = 1393762556;
const GOLDEN_BELOW: u64 = 257;
const GOLDEN_EXP: u64 = 121788350;
const GOLDEN_F64_BITS: u64 = 0x3fea28bb83172869;

#[test]
fn each_coordinate_gives_a_different_stream() {
    let base = SimRng::stream(9, 9, 9, 9).next_u64();
    let variants = [
        SimRng::stream(10, 9, 9, 9),
        SimRng::stream(9, 10, 9, 9),
        SimRng::stream(9, 9, 10, 9),
        SimRng::stream(9, 9, 9, 10),
    ];
    let mut firsts: Vec<u64> = variants.into_iter().map(|mut r| r.next_u64()).collect();
    assert!(!firsts.contains(&base));
    firsts.sort_unstable();
    firsts.dedup();
    assert_eq!(firsts.len(), 4);
    // Swapped coordinates must not alias.
    assert_ne!(
        SimRng::stream(0, 1, 0, 0).next_u64(),
        SimRng::stream(1, 0, 0, 0).next_u64()
    );
    assert_ne!(
        SimRng::stream(0, 0, 1, 2).next_u64(),
        SimRng::stream(0, 0, 2, 1).next_u64()
    );
    // Same coordinates, same stream.
    let mut a = SimRng::stream(3, 1, 4, 1);
    let mut b = SimRng::stream(3, 1, 4, 1);
    for _ in 0..100 {
        assert_eq!(a.next_u64(), b.next_u64());
    }
}

#[test]
fn bernoulli_always_consumes_one_u64() {
    for p in [0.0, 1e-9, 0.3, 0.5, 1.0, 2.0, -1.0, f64::NAN] {
        let mut a = SimRng::stream(5, 0, 0, 0);
        let mut b = SimRng::stream(5, 0, 0, 0);
        for _ in 0..10 {
            a.bernoulli(p);
            b.next_u64();
        }
        assert_eq!(a.next_u64(), b.next_u64(), "p = {p}");
    }
    let mut r = SimRng::stream(5, 0, 0, 1);
    assert!((0..1000).all(|_| r.bernoulli(1.0)));
    assert!((0..1000).all(|_| !r.bernoulli(0.0)));
    assert!((0..1000).all(|_| !r.bernoulli(f64::NAN)));
    let hits = (0..100_000).filter(|_| r.bernoulli(0.25)).count();
    assert!((24_000..26_000).contains(&hits), "{hits}");
}

#[test]
fn next_f64_is_in_unit_interval() {
    let mut r = SimRng::stream(6, 0, 0, 0);
    let mut sum = 0.0;
    for _ in 0..100_000 {
        let u = r.next_f64();
        assert!((0.0..1.0).contains(&u));
        sum += u;
    }
    let mean = sum / 100_000.0;
    assert!((mean - 0.5).abs() < 0.01, "{mean}");
}

#[test]
fn below_is_in_range_and_roughly_uniform() {
    let mut r = SimRng::stream(7, 0, 0, 0);
    assert_eq!(r.below(0), 0);
    assert_eq!(r.below(1), 0);
    for n in [2u64, 3, 7, 1000, u64::MAX / 3 * 2, u64::MAX] {
        for _ in 0..1000 {
            assert!(r.below(n) < n);
        }
    }
    let mut counts = [0u32; 6];
    for _ in 0..60_000 {
        counts[r.below(6) as usize] += 1;
    }
    for c in counts {
        assert!((9_400..10_600).contains(&c), "{counts:?}");
    }
    // For n just above 2^63 half of all u64s are rejected: the top half of the range would be
    // hit twice as often if rejection were skipped.
    let n = (1u64 << 63) + 1;
    let upper = (0..10_000).filter(|_| r.below(n) >= n / 2).count();
    assert!((4_700..5_300).contains(&upper), "{upper}");
}

#[test]
fn uniform_duration_includes_both_ends() {
    let mut r = SimRng::stream(8, 0, 0, 0);
    let max = SimDuration::from_nanos(3);
    let mut seen = [false; 4];
    for _ in 0..1000 {
        let d = r.uniform_duration(max).as_nanos();
        seen[d as usize] = true;
    }
    assert_eq!(seen, [true; 4]);
    assert_eq!(r.uniform_duration(SimDuration::ZERO), SimDuration::ZERO);
    r.uniform_duration(SimDuration::MAX); // must not overflow
}

#[test]
fn exp_duration_has_the_right_mean_and_consumes_one_u64() {
    let mut r = SimRng::stream(9, 0, 0, 0);
    let mean = SimDuration::from_millis(10);
    let n = 100_000;
    let total: u64 = (0..n).map(|_| r.exp_duration(mean).as_nanos()).sum();
    let sample_mean = total as f64 / n as f64;
    // Standard error is mean / sqrt(n) = 0.3 % of the mean; allow about 4 of them.
    assert!((sample_mean / 1e7 - 1.0).abs() < 0.013, "{sample_mean}");

    let mut a = SimRng::stream(9, 1, 0, 0);
    let mut b = SimRng::stream(9, 1, 0, 0);
    a.exp_duration(SimDuration::ZERO);
    a.exp_duration(SimDuration::MAX);
    b.next_u64();
    b.next_u64();
    assert_eq!(a.next_u64(), b.next_u64());
    assert_eq!(r.exp_duration(SimDuration::ZERO), SimDuration::ZERO);
}

fn ulps_apart(a: f64, b: f64) -> u64 {
    (a.to_bits() as i64).abs_diff(b.to_bits() as i64)
}

#[test]
fn portable_ln_matches_the_platform_within_one_ulp() {
    let mut r = SimRng::stream(10, 0, 0, 0);
    for _ in 0..200_000 {
        // Exactly the arguments exp_duration uses, plus arbitrary positive doubles.
        let x = 1.0 - r.next_f64();
        assert!(ulps_apart(ln(x), x.ln()) <= 1, "ln({x:e})");
        let y = f64::from_bits(r.below(0x7ff0_0000_0000_0000));
        assert!(ulps_apart(ln(y), y.ln()) <= 1, "ln({y:e})");
    }
    assert_eq!(ln(1.0), 0.0);
    assert_eq!(ln(0.0), f64::NEG_INFINITY);
    assert!(ln(-1.0).is_nan());
    assert!(ln(f64::NAN).is_nan());
    assert_eq!(ln(f64::INFINITY), f64::INFINITY);
    assert_eq!(ln(std::f64::consts::E), 1.0);
    assert_eq!(ln(2.0), std::f64::consts::LN_2);
    assert!(ulps_apart(ln(f64::MIN_POSITIVE / 8.0), (f64::MIN_POSITIVE / 8.0).ln()) <= 1);
}

#[test]
fn round_to_u64_is_round_then_as() {
    let mut cases = vec![
        0.0,
        -0.0,
        0.49999999999999994,
        0.5,
        1.5,
        2.5,
        -0.5,
        -1.5,
        -7.3,
        4503599627370495.5,
        4503599627370496.0,
        9007199254740993.0,
        9.223372036854775e18,
        9_223_372_036_854_775_808.0,
        1.8446744073709552e19,
        1e300,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    let mut r = SimRng::stream(9, 0, 0, 0);
    for _ in 0..100_000 {
        let bits = r.next_u64();
        cases.push(f64::from_bits(bits));
        cases.push((bits >> 11) as f64 / 1024.0);
        cases.push((bits >> 40) as f64 + 0.5);
    }
    for y in cases {
        assert_eq!(round_to_u64(y), y.round() as u64, "{y:e}");
    }
    for n in [
        0,
        1,
        (1 << 53) + 1,
        i64::MAX as u64,
        i64::MAX as u64 + 1,
        u64::MAX,
    ] {
        assert_eq!(u64_to_f64(n).to_bits(), (n as f64).to_bits(), "{n}");
    }
}

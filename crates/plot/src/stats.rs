//! Mean and 95 % confidence interval over replications (Student t).
//!
//! Only polynomial arithmetic and `sqrt` (correctly rounded by IEEE 754) are used, so results
//! are bit-identical on every platform; no libm `ln`/`exp`, whose last bit may differ.

/// Two-sided 95 % Student t quantiles t(0.975, df) for df = 1..=30, computed with mpmath
/// (30 digits) from the regularized incomplete beta function; they agree with every printed
/// table (e.g. NIST/SEMATECH e-Handbook §1.3.6.7.2: 12.706, 4.303, 3.182, …, 2.042).
// The digits are mpmath's 17 significant ones, kept verbatim; the compiler rounds them.
#[allow(clippy::excessive_precision)]
const T975: [f64; 30] = [
    12.706_204_736_174_705,
    4.302_652_729_749_464,
    3.182_446_305_283_71,
    2.776_445_105_197_794_4,
    2.570_581_835_636_315_5,
    2.446_911_851_144_97,
    2.364_624_251_592_785_3,
    2.306_004_135_204_166_7,
    2.262_157_162_798_205_5,
    2.228_138_851_986_274_7,
    2.200_985_160_091_64,
    2.178_812_829_667_229,
    2.160_368_656_462_792_5,
    2.144_786_687_917_803_8,
    2.131_449_545_559_775_7,
    2.119_905_299_221_254_7,
    2.109_815_577_833_317,
    2.100_922_040_241_038_5,
    2.093_024_054_408_31,
    2.085_963_447_265_864_8,
    2.079_613_844_727_680_4,
    2.073_873_067_904_026,
    2.068_657_610_419_048_7,
    2.063_898_561_628_025_8,
    2.059_538_552_753_297_7,
    2.055_529_438_642_873,
    2.051_830_516_480_285_6,
    2.048_407_141_795_245,
    2.045_229_642_132_704_3,
    2.042_272_456_301_238_3,
];

/// z(0.975), the standard normal quantile.
const Z975: f64 = 1.959_963_984_540_054;

/// t(0.975, df): exact table up to 30 degrees of freedom, beyond that the Cornish-Fisher
/// expansion to order 1/df⁴ (Abramowitz & Stegun 26.7.5), whose error is below 3e-8 at df = 31
/// and shrinks with df. `df = 0` has no quantile and returns `None`.
pub fn t_975(df: u64) -> Option<f64> {
    match df {
        0 => None,
        1..=30 => Some(T975[(df - 1) as usize]),
        _ => {
            let v = df as f64;
            let z = Z975;
            let z2 = z * z;
            let z3 = z2 * z;
            let z5 = z3 * z2;
            let z7 = z5 * z2;
            let z9 = z7 * z2;
            let g1 = (z3 + z) / 4.0;
            let g2 = (5.0 * z5 + 16.0 * z3 + 3.0 * z) / 96.0;
            let g3 = (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / 384.0;
            let g4 = (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z) / 92_160.0;
            Some(z + g1 / v + g2 / (v * v) + g3 / (v * v * v) + g4 / (v * v * v * v))
        }
    }
}

/// Mean of `values` and the half-width of its 95 % confidence interval,
/// t(0.975, n-1) · s / √n with the sample standard deviation s (n-1 denominator).
/// One value gives no interval (`None`); no values give `None` overall.
pub fn mean_ci95(values: &[f64]) -> Option<(f64, Option<f64>)> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Some((mean, None));
    }
    let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    let s = (ss / (n - 1) as f64).sqrt();
    let t = t_975(n as u64 - 1)?;
    Some((mean, Some(t * s / (n as f64).sqrt())))
}

#[cfg(test)]
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_printed_three_decimal_values() {
        // NIST/SEMATECH e-Handbook, table of upper critical values of t, column 0.025.
        let printed = [
            (1, 12.706),
            (2, 4.303),
            (3, 3.182),
            (5, 2.571),
            (10, 2.228),
            (20, 2.086),
            (30, 2.042),
            (40, 2.021),
            (60, 2.000),
            (100, 1.984),
        ];
        for (df, t) in printed {
            let got = t_975(df).unwrap();
            assert!((got - t).abs() < 5e-4, "df {df}: {got} vs {t}");
        }
    }

    #[test]
    fn expansion_continues_the_table_smoothly() {
        // mpmath values: t(0.975, 31) = 2.0395134463964085, t(0.975, 1000) = 1.9623390808264085.
        assert!((t_975(31).unwrap() - 2.039_513_446_396_408_5).abs() < 3e-8);
        assert!((t_975(1000).unwrap() - 1.962_339_080_826_408_5).abs() < 1e-12);
        assert!(t_975(30).unwrap() > t_975(31).unwrap());
        assert!(t_975(u64::MAX).unwrap() >= Z975);
        assert_eq!(t_975(0), None);
    }

    #[test]
    fn ci_of_three_values_is_exact() {
        // 1, 2, 6: mean 3, s² = (4 + 1 + 9) / 2 = 7, half-width = 4.302652729749464·√7/√3.
        let (mean, hw) = mean_ci95(&[1.0, 2.0, 6.0]).unwrap();
        assert_eq!(mean, 3.0);
        let expected = 4.302_652_729_749_464 * (7.0f64 / 3.0).sqrt();
        assert!(
            (hw.unwrap() - expected).abs() < 1e-12,
            "{hw:?} vs {expected}"
        );
        // Computed separately in Python: 4.302652729749464 * sqrt(7 / 3).
        assert!((hw.unwrap() - 6.572_410_607_728_431).abs() < 1e-12);
    }

    #[test]
    fn degenerate_samples() {
        assert_eq!(mean_ci95(&[]), None);
        assert_eq!(mean_ci95(&[5.0]), Some((5.0, None)));
        assert_eq!(mean_ci95(&[2.0, 2.0]), Some((2.0, Some(0.0))));
    }
}

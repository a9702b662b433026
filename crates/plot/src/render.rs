//! Drawing a [`Figure`] with plotters onto the SVG and bitmap backends.

use crate::data::{Figure, Line};
use crate::spec::{LegendPosition, PlotKind, PlotSpec};
use plotters::coord::ranged1d::{
    AsRangedCoord, DefaultFormatting, KeyPointHint, Ranged, ValueFormatter,
};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use std::sync::OnceLock;

/// Figure size in pixels (SVG user units and PNG pixels alike).
pub const WIDTH_PX: u32 = 800;
pub const HEIGHT_PX: u32 = 500;

/// DejaVu Sans, embedded so text renders identically everywhere without system fonts.
static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// Tableau 10, a palette designed for distinguishable categorical lines.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0xba, 0xb0, 0xac),
];

/// Registers the embedded font with plotters' process-wide font table, once.
pub(crate) fn ensure_font() -> Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err("embedded font DejaVuSans.ttf failed to parse".into())
    }
}

/// Tick label text: plain decimals in a readable range, otherwise scientific, trailing zeros
/// trimmed so labels are short and identical across platforms.
pub(crate) fn tick_label(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        return "0".into();
    }
    if !(1e-3..1e6).contains(&a) {
        let s = format!("{v:.3e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = m.trim_end_matches('0').trim_end_matches('.');
        return format!("{m}e{e}");
    }
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Logarithmic axis with ticks at {1..9}, {1, 2, 5} or {1} × 10^k, whichever is densest
/// within plotters' label budget. plotters' own `log_scale()` emits the decade after 9 twice
/// (0.3.7), which draws overlapping labels.
#[derive(Debug, Clone)]
pub(crate) struct LogAxis {
    lo: f64,
    hi: f64,
    ln_lo: f64,
    ln_hi: f64,
}

impl LogAxis {
    /// `lo` and `hi` must be positive (guaranteed by the log-axis data check).
    pub(crate) fn new(lo: f64, hi: f64) -> Self {
        Self {
            lo,
            hi,
            ln_lo: lo.ln(),
            ln_hi: hi.ln(),
        }
    }

    /// `m × 10^k` for every mantissa and every `step`-th exponent, within the range, ascending.
    /// Values are parsed from decimal text so that e.g. 0.2 is the correctly rounded double.
    fn decade_points(&self, mantissas: &[u32], step: i32) -> Vec<f64> {
        // f64 spans 1e-324..1e308; the clamp also bounds the loop.
        let k_lo = (self.lo.log10().floor() as i32).clamp(-330, 310);
        let k_hi = (self.hi.log10().ceil() as i32).clamp(-330, 310);
        let mut out = Vec::new();
        let mut k = k_lo;
        while k <= k_hi {
            for m in mantissas {
                let v: f64 = format!("{m}e{k}").parse().unwrap_or(f64::NAN);
                if v >= self.lo && v <= self.hi {
                    out.push(v);
                }
            }
            k += step;
        }
        out
    }
}

impl Ranged for LogAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.ln_hi - self.ln_lo;
        if span == 0.0 {
            return (limit.0 + limit.1) / 2;
        }
        let t = (v.ln() - self.ln_lo) / span;
        let px = f64::from(limit.1 - limit.0) * t;
        // Same rounding as plotters' linear axes so grid and data line up.
        if limit.1 >= limit.0 {
            limit.0 + (px + 1e-3).floor() as i32
        } else {
            limit.0 + (px - 1e-3).ceil() as i32
        }
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        let max = hint.max_num_points();
        if max == 0 {
            return Vec::new();
        }
        const ALL: &[u32] = &[1, 2, 3, 4, 5, 6, 7, 8, 9];
        for mantissas in [ALL, &[1, 2, 5], &[1]] {
            let pts = self.decade_points(mantissas, 1);
            if pts.len() < 2 && mantissas == ALL {
                // Less than one decade: fall back to linear ticks.
                return RangedCoordf64::from(self.lo..self.hi).key_points(max);
            }
            if pts.len() <= max {
                return pts;
            }
        }
        let mut step = 2;
        loop {
            let pts = self.decade_points(&[1], step);
            if pts.len() <= max || step > 1000 {
                return pts;
            }
            step *= 2;
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

fn color_of(line: &Line) -> RGBColor {
    line.color.map_or(BLACK, |i| PALETTE[i % PALETTE.len()])
}

pub(crate) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    spec: &PlotSpec,
    fig: &Figure,
) -> Result<(), String> {
    let (x0, x1) = fig.x_range;
    let (y0, y1) = fig.y_range;
    match (spec.x_log, spec.y_log) {
        (false, false) => draw_on(root, spec, fig, x0..x1, y0..y1),
        (true, false) => draw_on(root, spec, fig, LogAxis::new(x0, x1), y0..y1),
        (false, true) => draw_on(root, spec, fig, x0..x1, LogAxis::new(y0, y1)),
        (true, true) => draw_on(root, spec, fig, LogAxis::new(x0, x1), LogAxis::new(y0, y1)),
    }
}

fn draw_on<DB, X, Y>(
    root: &DrawingArea<DB, Shift>,
    spec: &PlotSpec,
    fig: &Figure,
    x: X,
    y: Y,
) -> Result<(), String>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    root.fill(&WHITE).map_err(e)?;
    let mut chart = ChartBuilder::on(root)
        .caption(spec.title(), (FAMILY, 22))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x, y)
        .map_err(e)?;
    let fmt = |v: &f64| tick_label(*v);
    let y_label = spec.y_label();
    chart
        .configure_mesh()
        .x_desc(spec.x_label())
        .y_desc(y_label.as_str())
        .axis_desc_style((FAMILY, 16))
        .label_style((FAMILY, 13))
        .x_label_formatter(&fmt)
        .y_label_formatter(&fmt)
        // A few light lines between labelled ones; plotters' default (10) is too busy.
        .max_light_lines(4)
        .light_line_style(RGBColor(0xf0, 0xf0, 0xf0))
        .bold_line_style(RGBColor(0xcc, 0xcc, 0xcc))
        .draw()
        .map_err(e)?;

    for line in &fig.lines {
        let color = color_of(line);
        let pts: Vec<(f64, f64)> = line.points.iter().map(|p| (p.x, p.y)).collect();
        if line.reference {
            chart
                .draw_series(DashedLineSeries::new(
                    pts.iter().copied(),
                    6,
                    4,
                    color.stroke_width(2),
                ))
                .map_err(e)?;
            if line.in_legend {
                // The entry hangs on an empty series so that its sample is a dashed line;
                // black, as it stands for the reference of every series.
                chart
                    .draw_series(std::iter::empty::<Circle<(f64, f64), u32>>())
                    .map_err(e)?
                    .label(line.label.as_str())
                    .legend(|(x, y)| {
                        DashedPathElement::new(
                            vec![(x, y), (x + 20, y)],
                            5,
                            3,
                            BLACK.stroke_width(2),
                        )
                    });
            }
            continue;
        }
        if spec.kind == PlotKind::Line {
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .map_err(e)?;
        }
        if spec.error_bars {
            chart
                .draw_series(line.points.iter().filter_map(|p| {
                    p.bar.map(|(lo, hi)| {
                        ErrorBar::new_vertical(p.x, lo, p.y, hi, color.stroke_width(1), 8)
                    })
                }))
                .map_err(e)?;
        }
        let markers = chart
            .draw_series(
                pts.iter()
                    .map(|&(px, py)| Circle::new((px, py), 3, color.filled())),
            )
            .map_err(e)?;
        if line.in_legend {
            let anno = markers.label(line.label.as_str());
            match spec.kind {
                PlotKind::Line => anno.legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                }),
                PlotKind::Scatter => {
                    anno.legend(move |(x, y)| Circle::new((x + 10, y), 3, color.filled()))
                }
            };
        }
    }

    if fig.legend {
        let position = match spec.legend {
            LegendPosition::UpperRight => SeriesLabelPosition::UpperRight,
            LegendPosition::UpperLeft => SeriesLabelPosition::UpperLeft,
            LegendPosition::LowerRight => SeriesLabelPosition::LowerRight,
            LegendPosition::LowerLeft => SeriesLabelPosition::LowerLeft,
        };
        chart
            .configure_series_labels()
            .position(position)
            .label_font((FAMILY, 13))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(0x99, 0x99, 0x99))
            .draw()
            .map_err(e)?;
    }
    root.present().map_err(e)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::coord::ranged1d::BoldPoints;

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(tick_label(0.0), "0");
        assert_eq!(tick_label(2.5), "2.5");
        assert_eq!(tick_label(0.30000000000000004), "0.3");
        assert_eq!(tick_label(-1500.0), "-1500");
        assert_eq!(tick_label(2_000_000.0), "2e6");
        assert_eq!(tick_label(0.000_25), "2.5e-4");
    }

    #[test]
    fn log_ticks_are_unique_and_sorted() {
        for (lo, hi) in [
            (1.0, 30.0),
            (0.5, 2e5),
            (1e-9, 1e9),
            (3.1, 3.9),
            (1e-300, 1e300),
        ] {
            let axis = LogAxis::new(lo, hi);
            for max in [0, 1, 3, 10, 50] {
                for pts in [axis.key_points(BoldPoints(max)), axis.key_points(max)] {
                    assert!(pts.len() <= max.max(1) * 2, "{lo}..{hi} max {max}: {pts:?}");
                    assert!(pts.windows(2).all(|w| w[0] < w[1]), "{pts:?}");
                    assert!(pts.iter().all(|p| *p >= lo && *p <= hi), "{pts:?}");
                }
            }
        }
        let ticks = LogAxis::new(1.0, 30.0).key_points(BoldPoints(10));
        assert_eq!(ticks, [1.0, 2.0, 5.0, 10.0, 20.0]);
        assert_eq!(LogAxis::new(10.0, 1000.0).map(&100.0, (0, 100)), 50);
    }
}

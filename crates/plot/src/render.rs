//! Drawing a [`Figure`] with plotters onto the SVG and bitmap backends.

use crate::data::{Figure, Line, XAxis};
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

/// Longest category label, in characters: a longer x value shows its first 39 characters
/// and "…". Forty characters of 13 px DejaVu Sans are ~280 px, a third of the plotting area,
/// enough for a sweep value such as `[{ from = "20s", until = "80s" }]` (33).
pub const MAX_CATEGORY_LABEL_CHARS: usize = 40;
/// Fewest characters (ellipsis included) a label is cut to so that it fits its category's
/// slot; when even that does not fit, only every k-th category is labelled.
const MIN_CATEGORY_LABEL_CHARS: usize = 6;
/// Free pixels between neighbouring category labels.
const CATEGORY_LABEL_GAP_PX: f64 = 6.0;
/// Tick label size, also used to measure category labels.
const LABEL_PX: u32 = 13;

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

/// `value` cut to at most `max_chars` characters, the last being "…" when anything was cut.
/// Control characters (a CSV cell may hold newlines) become spaces so the label stays on
/// one line.
pub(crate) fn shorten_label(value: &str, max_chars: usize) -> String {
    let clean = |c: char| if c.is_control() { ' ' } else { c };
    if value.chars().count() <= max_chars {
        return value.chars().map(clean).collect();
    }
    let mut s: String = value
        .chars()
        .take(max_chars.saturating_sub(1))
        .map(clean)
        .collect();
    s.push('…');
    s
}

/// The longest shortening of `value` (at most [`MAX_CATEGORY_LABEL_CHARS`], at least
/// [`MIN_CATEGORY_LABEL_CHARS`]) whose measured width fits `room_px`; `None` if none does.
fn fit_label(value: &str, room_px: f64, measure: &dyn Fn(&str) -> u32) -> Option<String> {
    let fits = |chars: usize| f64::from(measure(&shorten_label(value, chars))) <= room_px;
    let full = value.chars().count().min(MAX_CATEGORY_LABEL_CHARS);
    if fits(full) {
        return Some(shorten_label(value, full));
    }
    let least = MIN_CATEGORY_LABEL_CHARS.min(full);
    if least == full || !fits(least) {
        return None;
    }
    // Width grows with the number of characters kept: bisect between fitting `lo` and
    // overflowing `hi`, a handful of measurements per label.
    let (mut lo, mut hi) = (least, full);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(shorten_label(value, lo))
}

/// Tick labels of a categorical axis whose categories are `slot_px` wide: every value
/// shortened to fit its slot; if some value cannot keep [`MIN_CATEGORY_LABEL_CHARS`], only
/// every k-th category is labelled (the others get ""), with the smallest such k.
pub(crate) fn fit_category_labels(
    values: &[String],
    slot_px: f64,
    measure: &dyn Fn(&str) -> u32,
) -> Vec<String> {
    let n = values.len();
    let mut out = vec![String::new(); n];
    for stride in 1..=n.max(1) {
        let room = stride as f64 * slot_px - CATEGORY_LABEL_GAP_PX;
        let mut all_fit = true;
        for i in (0..n).step_by(stride) {
            match fit_label(&values[i], room, measure) {
                Some(label) => out[i] = label,
                None => {
                    all_fit = false;
                    break;
                }
            }
        }
        if all_fit {
            return out;
        }
        out.iter_mut().for_each(String::clear);
    }
    // Not even one label fits the whole width: show the first, cut short.
    if let Some(first) = values.first() {
        out[0] = shorten_label(first, MIN_CATEGORY_LABEL_CHARS);
    }
    out
}

/// Categorical x axis: category `i` sits at `i`, in a slot from `i - 0.5` to `i + 0.5`; one
/// tick (and grid line) per category, whatever plotters asks for.
#[derive(Clone)]
pub(crate) struct CategoryAxis {
    count: usize,
    linear: RangedCoordf64,
}

impl CategoryAxis {
    pub(crate) fn new(count: usize, lo: f64, hi: f64) -> Self {
        Self {
            count,
            linear: (lo..hi).into(),
        }
    }
}

impl Ranged for CategoryAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        self.linear.map(v, limit)
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.max_num_points() == 0 {
            return Vec::new();
        }
        (0..self.count).map(|i| i as f64).collect()
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.linear.range()
    }
}

/// Linear axis for x values that are a few integers: plotters' ticks unchanged when they are
/// all integers, else ticks at integers only ({1, 2, 5} × 10^k apart), so no tick claims a
/// position such as 0.5 that no row has. Light grid lines then fall on the ticks.
#[derive(Clone)]
pub(crate) struct IntegerAxis(RangedCoordf64);

impl IntegerAxis {
    pub(crate) fn new(lo: f64, hi: f64) -> Self {
        Self((lo..hi).into())
    }
}

/// Integers within `lo..=hi`, at most `max` of them, spaced by the smallest step of
/// 1, 2, 5, 10, 20, 50, ... that keeps the count within `max`.
pub(crate) fn integer_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    let (first, last) = (lo.ceil(), hi.floor());
    if max == 0 || first > last {
        return Vec::new();
    }
    let mut step = 1.0f64;
    for factor in [2.0, 2.5, 2.0].iter().cycle() {
        let (a, b) = ((first / step).ceil(), (last / step).floor());
        let count = b - a + 1.0;
        // f64 tops out near 1e308, so the step stops growing long before the loop could.
        if count <= max as f64 || step > 1e300 {
            let count = count.clamp(0.0, max as f64) as usize;
            return (0..count).map(|k| (a + k as f64) * step).collect();
        }
        step *= factor;
    }
    Vec::new()
}

impl Ranged for IntegerAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        self.0.map(v, limit)
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        let bold = self.0.key_points(hint.bold_points());
        if bold.iter().all(|v| v.fract() == 0.0) {
            return self.0.key_points(hint.max_num_points());
        }
        let r = self.0.range();
        integer_ticks(r.start, r.end, hint.bold_points())
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.0.range()
    }
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
    match &fig.x_axis {
        XAxis::Category { labels } => with_y(
            root,
            spec,
            fig,
            CategoryAxis::new(labels.len(), x0, x1),
            Some(labels),
        ),
        XAxis::Numeric { .. } if spec.x_log => with_y(root, spec, fig, LogAxis::new(x0, x1), None),
        XAxis::Numeric {
            integer_ticks: true,
        } => with_y(root, spec, fig, IntegerAxis::new(x0, x1), None),
        XAxis::Numeric {
            integer_ticks: false,
        } => with_y(root, spec, fig, x0..x1, None),
    }
}

fn with_y<DB, X>(
    root: &DrawingArea<DB, Shift>,
    spec: &PlotSpec,
    fig: &Figure,
    x: X,
    categories: Option<&[String]>,
) -> Result<(), String>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let (y0, y1) = fig.y_range;
    if spec.y_log {
        draw_on(root, spec, fig, x, LogAxis::new(y0, y1), categories)
    } else {
        draw_on(root, spec, fig, x, y0..y1, categories)
    }
}

/// Tick label of position `v` on a categorical axis.
fn category_tick(labels: &[String], v: f64) -> String {
    let i = v.round();
    if i >= 0.0 && i < labels.len() as f64 {
        labels[i as usize].clone()
    } else {
        String::new()
    }
}

fn draw_on<DB, X, Y>(
    root: &DrawingArea<DB, Shift>,
    spec: &PlotSpec,
    fig: &Figure,
    x: X,
    y: Y,
    categories: Option<&[String]>,
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
    // Category labels are fitted once, measured with the embedded font that the PNG draws
    // with, so SVG and PNG show the same text.
    let x_ticks: Option<Vec<String>> = categories.map(|values| {
        let width_px = chart.plotting_area().dim_in_pixel().0;
        let style = TextStyle::from((FAMILY, LABEL_PX).into_font());
        let measure = |t: &str| root.estimate_text_size(t, &style).map_or(u32::MAX, |s| s.0);
        let slot_px = f64::from(width_px) / values.len().max(1) as f64;
        fit_category_labels(values, slot_px, &measure)
    });
    let x_fmt = |v: &f64| match &x_ticks {
        Some(labels) => category_tick(labels, *v),
        None => tick_label(*v),
    };
    let y_label = spec.y_label();
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(spec.x_label())
        .y_desc(y_label.as_str())
        .axis_desc_style((FAMILY, 16))
        .label_style((FAMILY, LABEL_PX))
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&fmt)
        // A few light lines between labelled ones; plotters' default (10) is too busy.
        .max_light_lines(4)
        .light_line_style(RGBColor(0xf0, 0xf0, 0xf0))
        .bold_line_style(RGBColor(0xcc, 0xcc, 0xcc));
    if let Some(ticks) = &x_ticks {
        // One tick per category; the axis ignores the count, plotters' mesh does not.
        mesh.x_labels(ticks.len().max(1));
    }
    mesh.draw().map_err(e)?;

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
    use plotters::coord::ranged1d::{BoldPoints, LightPoints};

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

    #[test]
    fn long_labels_are_cut_with_an_ellipsis() {
        let forty = "a".repeat(MAX_CATEGORY_LABEL_CHARS);
        assert_eq!(shorten_label(&forty, MAX_CATEGORY_LABEL_CHARS), forty);
        let cut = shorten_label(&format!("{forty}b"), MAX_CATEGORY_LABEL_CHARS);
        assert_eq!(cut.chars().count(), MAX_CATEGORY_LABEL_CHARS);
        assert_eq!(cut, format!("{}…", &forty[..39]));
        // Characters, not bytes: no panic inside a multi-byte character.
        assert_eq!(shorten_label(&"é".repeat(50), 3), "éé…");
        assert_eq!(shorten_label("a\nb\tc", 40), "a b c");
    }

    #[test]
    fn category_labels_fit_their_slots() {
        // 7 px per character stands in for the font.
        let measure = |t: &str| 7 * t.chars().count() as u32;
        let values: Vec<String> = ["short", &"x".repeat(60), "[{ from = \"20s\" }]"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        // Wide slots: only the 60-character value is cut, to the 40-character maximum.
        let wide = fit_category_labels(&values, 1000.0, &measure);
        assert_eq!(wide[0], "short");
        assert_eq!(wide[1], format!("{}…", "x".repeat(39)));
        assert_eq!(wide[2], values[2]);
        // 100 px slots leave 94 px: 13 characters.
        let narrow = fit_category_labels(&values, 100.0, &measure);
        assert_eq!(
            narrow,
            ["short", &format!("{}…", "x".repeat(12)), "[{ from = \"2…"]
        );
        // 20 px slots cannot hold 6 characters: every third category is labelled.
        let many: Vec<String> = (0..10).map(|i| format!("value-{i}")).collect();
        let sparse = fit_category_labels(&many, 20.0, &measure);
        let shown: Vec<usize> = (0..10).filter(|&i| !sparse[i].is_empty()).collect();
        assert_eq!(shown, [0, 3, 6, 9]);
        assert_eq!(sparse[3], "value-3");
        let sparse = fit_category_labels(&many, 16.0, &measure);
        assert_eq!(sparse[..4], ["value…", "", "", "value…"], "{sparse:?}");
    }

    #[test]
    fn integer_axis_ticks_integers_and_otherwise_matches_plotters() {
        assert_eq!(integer_ticks(-0.1, 2.1, 10), [0.0, 1.0, 2.0]);
        assert_eq!(integer_ticks(4.5, 5.5, 10), [5.0]);
        assert_eq!(
            integer_ticks(-1.0, 30.0, 10),
            [0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0]
        );
        assert_eq!(integer_ticks(0.2, 0.8, 10), Vec::<f64>::new());
        assert_eq!(integer_ticks(0.0, 3.0, 0), Vec::<f64>::new());
        let axis = IntegerAxis::new(-0.1, 2.1);
        let plain = RangedCoordf64::from(-0.1..2.1);
        assert!(plain
            .key_points(BoldPoints(10))
            .iter()
            .any(|v| v.fract() != 0.0));
        assert_eq!(axis.key_points(BoldPoints(10)), [0.0, 1.0, 2.0]);
        assert_eq!(axis.key_points(LightPoints::new(10, 40)), [0.0, 1.0, 2.0]);
        // Where plotters already ticks integers, light lines and all stay as they were.
        let (lo, hi) = (0.55, 10.45);
        let axis = IntegerAxis::new(lo, hi);
        let plain = RangedCoordf64::from(lo..hi);
        assert!(plain
            .key_points(BoldPoints(10))
            .iter()
            .all(|v| v.fract() == 0.0));
        assert_eq!(axis.key_points(BoldPoints(10)), plain.key_points(10));
        assert_eq!(
            axis.key_points(LightPoints::new(10, 40)),
            plain.key_points(40)
        );
        assert_eq!(axis.map(&3.0, (0, 700)), plain.map(&3.0, (0, 700)));
    }

    #[test]
    fn category_axis_ticks_every_category() {
        let axis = CategoryAxis::new(3, -0.5, 2.5);
        assert_eq!(axis.key_points(BoldPoints(3)), [0.0, 1.0, 2.0]);
        assert_eq!(axis.map(&1.0, (0, 300)), 150);
        assert_eq!(category_tick(&["a".into(), "b".into()], 1.0), "b");
        assert_eq!(category_tick(&["a".into()], 5.0), "");
    }
}

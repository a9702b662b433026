//! CSV -> lines of points, with filtering, grouping, aggregation and axis ranges.

use crate::spec::{validate, PlotSpec, XKind};
use crate::stats::mean_ci95;
use crate::PlotError;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::io::Read;

/// Most data rows read from one CSV; a bound on memory and on SVG size.
pub const MAX_ROWS: usize = 2_000_000;
/// Most lines (series × y columns, plus references) in one figure; more are unreadable and
/// exhaust the palette.
pub const MAX_LINES: usize = 24;
/// Most distinct values on a categorical x axis: 800 px leave ~7 px per category at 100,
/// the least that still separates markers; more is a column that should be numeric.
pub const MAX_CATEGORIES: usize = 100;
/// Numeric x axes whose values are all integers, with at most this many distinct ones, get
/// integer ticks only. Beyond a dozen values plotters' own ticks are integers anyway.
pub const MAX_INTEGER_TICK_VALUES: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Point {
    pub x: f64,
    pub y: f64,
    /// Confidence interval (low, high) when aggregated over ≥ 2 rows.
    pub bar: Option<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    pub label: String,
    /// Palette index; `None` is black (a reference line shared by all data lines).
    pub color: Option<usize>,
    pub reference: bool,
    /// Reference lines of all series share one legend entry: only the first has this set.
    pub in_legend: bool,
    pub points: Vec<Point>,
}

/// How the horizontal axis is drawn.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum XAxis {
    /// Linear or logarithmic (`x_log`) numbers. `integer_ticks`: every x is an integer and
    /// there are at most [`MAX_INTEGER_TICK_VALUES`] distinct ones, so ticks between them
    /// (0.5, 1.5) would label positions no row has.
    Numeric { integer_ticks: bool },
    /// Category `i` (its x is `i as f64`) is labelled `labels[i]`; labels are the distinct x
    /// cells in order of first appearance in the CSV.
    Category { labels: Vec<String> },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Figure {
    pub lines: Vec<Line>,
    pub x_axis: XAxis,
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
    /// Legend shown when there is more than one line or a reference line.
    pub legend: bool,
}

/// One kept row's x and y before the axis kind is known.
#[derive(Debug, Clone, Copy)]
struct RawPoint {
    /// The x cell as a number; NaN when it is not a finite number.
    x_num: f64,
    /// Category id of the x cell; `NO_CATEGORY` once the table overflowed (numeric x only).
    x_cat: u32,
    y: f64,
}

const NO_CATEGORY: u32 = u32::MAX;

/// Series values sort numerically when both parse as numbers (so 2 < 10), numbers first,
/// then by text.
fn series_order(a: &str, b: &str) -> Ordering {
    match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y).then_with(|| a.cmp(b)),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// Parses a cell; empty, NaN and infinite cells are missing values (`None`), anything else
/// non-numeric is an error.
fn number(spec: &PlotSpec, column: &str, line: u64, cell: &str) -> Result<Option<f64>, PlotError> {
    let t = cell.trim();
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        Ok(_) => Ok(None),
        Err(_) => Err(PlotError::NotNumeric {
            plot: spec.name.clone(),
            column: column.to_owned(),
            line,
            value: t.chars().take(40).collect(),
        }),
    }
}

fn check_log(
    spec: &PlotSpec,
    log: bool,
    axis: &'static str,
    column: &str,
    line: u64,
    v: f64,
) -> Result<(), PlotError> {
    if log && v <= 0.0 {
        return Err(PlotError::NonPositiveOnLogAxis {
            plot: spec.name.clone(),
            axis,
            column: column.to_owned(),
            line,
            value: v,
        });
    }
    Ok(())
}

/// Reads the CSV and builds the figure's lines and ranges.
pub(crate) fn load<R: Read>(spec: &PlotSpec, csv: R) -> Result<Figure, PlotError> {
    let csv_err = |e: csv::Error| PlotError::Csv {
        plot: spec.name.clone(),
        message: e.to_string(),
    };
    let mut reader = csv::ReaderBuilder::new().from_reader(csv);
    let headers = reader.headers().map_err(csv_err)?.clone();
    let columns: Vec<&str> = headers.iter().collect();
    validate(spec, &columns)?;
    let col = |name: &str| columns.iter().position(|c| *c == name).unwrap_or(0);
    let x_idx = col(&spec.x);
    let y_idx: Vec<usize> = spec.y.iter().map(|y| col(y)).collect();
    let series_idx = spec.series.as_deref().map(col);
    let ref_idx = spec.reference.as_ref().map(|r| col(&r.y));
    let filters: Vec<(usize, &crate::FilterValue)> =
        spec.filter.iter().map(|(k, v)| (col(k), v)).collect();

    // (column index, name, slot); slot y.len() is the reference.
    let mut slots: Vec<(usize, &str, usize)> = spec
        .y
        .iter()
        .zip(&y_idx)
        .enumerate()
        .map(|(slot, (name, &i))| (i, name.as_str(), slot))
        .collect();
    if let (Some(r), Some(i)) = (&spec.reference, ref_idx) {
        slots.push((i, r.y.as_str(), spec.y.len()));
    }
    let too_many = |count: usize| PlotError::TooManyLines {
        plot: spec.name.clone(),
        count,
        max: MAX_LINES,
    };
    // Series value -> id in order of appearance; (series id, slot) -> points in CSV order.
    let mut series_ids: BTreeMap<String, usize> = BTreeMap::new();
    let mut groups: BTreeMap<(usize, usize), Vec<RawPoint>> = BTreeMap::new();
    // Distinct x cells -> id in order of first appearance (the sweep order), and the reverse.
    // The BTreeMap is only looked up, never iterated, so its order cannot reach the figure.
    let mut category_ids: BTreeMap<String, u32> = BTreeMap::new();
    let mut categories: Vec<String> = Vec::new();
    // Set when an all-numeric x column (so far) has more distinct values than a categorical
    // axis may hold: it can only be numeric from then on, so ids are no longer recorded.
    let mut categories_overflowed = false;
    let mut categorical = spec.x_kind == XKind::Category;
    // The log check waits for the end: a later non-numeric cell makes the axis categorical,
    // which is the error to report then.
    let mut first_non_positive_x: Option<(u64, f64)> = None;
    let too_many_categories = || PlotError::TooManyCategories {
        plot: spec.name.clone(),
        column: spec.x.clone(),
        max: MAX_CATEGORIES,
    };
    let mut record = csv::StringRecord::new();
    let mut rows = 0usize;
    while reader.read_record(&mut record).map_err(csv_err)? {
        rows += 1;
        if rows > MAX_ROWS {
            return Err(PlotError::TooManyRows {
                plot: spec.name.clone(),
                max: MAX_ROWS,
            });
        }
        let line = record.position().map_or(rows as u64 + 1, |p| p.line());
        let cell = |i: usize| record.get(i).unwrap_or("");
        if !filters.iter().all(|(i, v)| v.matches(cell(*i))) {
            continue;
        }
        let x_cell = cell(x_idx).trim();
        let x_num = if spec.x_kind == XKind::Numeric {
            match number(spec, &spec.x, line, x_cell)? {
                Some(x) => x,
                None => continue,
            }
        } else {
            if x_cell.is_empty() {
                continue;
            }
            match x_cell.parse::<f64>() {
                Ok(v) if v.is_finite() => v,
                Ok(_) => f64::NAN,
                Err(_) => {
                    if spec.x_log {
                        return Err(PlotError::CategoricalLogAxis {
                            plot: spec.name.clone(),
                            column: spec.x.clone(),
                            why: format!(
                                "line {line}: {:?} is not a number",
                                x_cell.chars().take(40).collect::<String>()
                            ),
                        });
                    }
                    if categories_overflowed {
                        return Err(too_many_categories());
                    }
                    categorical = true;
                    f64::NAN
                }
            }
        };
        if spec.x_log && x_num <= 0.0 && first_non_positive_x.is_none() {
            first_non_positive_x = Some((line, x_num));
        }
        let x_cat = if spec.x_kind == XKind::Numeric || categories_overflowed {
            NO_CATEGORY
        } else if let Some(&id) = category_ids.get(x_cell) {
            id
        } else if categories.len() < MAX_CATEGORIES {
            let id = categories.len() as u32;
            category_ids.insert(x_cell.to_owned(), id);
            categories.push(x_cell.to_owned());
            id
        } else if categorical {
            return Err(too_many_categories());
        } else {
            categories_overflowed = true;
            category_ids = BTreeMap::new();
            categories = Vec::new();
            NO_CATEGORY
        };
        let series = series_idx.map_or("", cell);
        for &(i, name, slot) in &slots {
            let Some(y) = number(spec, name, line, cell(i))? else {
                continue;
            };
            check_log(spec, spec.y_log, "y", name, line, y)?;
            let sid = match series_ids.get(series) {
                Some(&sid) => sid,
                None => {
                    // Checked while reading so a column with a million distinct values
                    // fails fast instead of filling memory.
                    if series_ids.len() >= MAX_LINES {
                        return Err(too_many(series_ids.len() + 1));
                    }
                    let sid = series_ids.len();
                    series_ids.insert(series.to_owned(), sid);
                    sid
                }
            };
            groups
                .entry((sid, slot))
                .or_default()
                .push(RawPoint { x_num, x_cat, y });
        }
    }
    if !categorical {
        if let Some((line, value)) = first_non_positive_x {
            check_log(spec, true, "x", &spec.x, line, value)?;
        }
    }
    // Positions on the axis: the category id, or the number (rows whose x is NaN or infinite
    // are missing values on a numeric axis).
    let mut groups: BTreeMap<(usize, usize), Vec<(f64, f64)>> = groups
        .into_iter()
        .filter_map(|(key, raw)| {
            let points: Vec<(f64, f64)> = raw
                .iter()
                .filter_map(|p| {
                    let x = if categorical {
                        f64::from(p.x_cat)
                    } else {
                        p.x_num
                    };
                    x.is_finite().then_some((x, p.y))
                })
                .collect();
            (!points.is_empty()).then_some((key, points))
        })
        .collect();

    let mut series: Vec<(&String, usize)> = series_ids.iter().map(|(s, &i)| (s, i)).collect();
    series.sort_by(|a, b| series_order(a.0, b.0));
    let line_count = groups.len();
    if line_count > MAX_LINES {
        return Err(too_many(line_count));
    }
    let mut lines = Vec::with_capacity(line_count);
    let mut color = 0;
    for (s, sid) in series {
        let series_color = color;
        for slot in 0..=spec.y.len() {
            let Some(raw) = groups.get_mut(&(sid, slot)) else {
                continue;
            };
            let reference = slot == spec.y.len();
            let mut parts = Vec::new();
            if reference {
                parts.push(
                    spec.reference
                        .as_ref()
                        .map_or("", |r| r.label.as_str())
                        .to_owned(),
                );
            } else if spec.y.len() > 1 || spec.series.is_none() {
                parts.push(spec.y[slot].clone());
            }
            if let (Some(sc), false) = (&spec.series, reference) {
                parts.push(format!("{sc}={s}"));
            }
            // Stable: rows with equal x keep their CSV order, so sums are reproducible.
            raw.sort_by(|a, b| a.0.total_cmp(&b.0));
            let points = if spec.error_bars {
                aggregate(raw)
            } else {
                raw.iter()
                    .map(|&(x, y)| Point { x, y, bar: None })
                    .collect()
            };
            lines.push(Line {
                label: parts.join(", "),
                color: match (reference, &spec.series) {
                    (false, _) => Some(color),
                    (true, Some(_)) => Some(series_color),
                    (true, None) => None,
                },
                reference,
                in_legend: !reference || !lines.iter().any(|l: &Line| l.reference),
                points,
            });
            if !reference {
                color += 1;
            }
        }
        // A reference without data lines in its series still needs its own colour.
        if color == series_color {
            color += 1;
        }
    }
    // Legend lists data lines first, then the shared reference entry; stable sort keeps the
    // series order and the first reference as the one carrying the entry.
    lines.sort_by_key(|l| l.reference);
    if lines.is_empty() {
        return Err(PlotError::NoData {
            plot: spec.name.clone(),
        });
    }
    let x_axis = if categorical {
        XAxis::Category { labels: categories }
    } else {
        XAxis::Numeric {
            integer_ticks: !spec.x_log && few_integers(&lines),
        }
    };
    let (x_range, y_range) = ranges(spec, &x_axis, &mut lines);
    let finite = |r: (f64, f64)| r.0.is_finite() && r.1.is_finite() && r.0 < r.1;
    if !finite(x_range) || !finite(y_range) {
        return Err(PlotError::RangeOverflow {
            plot: spec.name.clone(),
        });
    }
    let legend = lines.len() > 1 || spec.reference.is_some();
    Ok(Figure {
        lines,
        x_axis,
        x_range,
        y_range,
        legend,
    })
}

/// Collapses runs of equal x (input sorted by x) into mean ± 95 % CI.
fn aggregate(raw: &[(f64, f64)]) -> Vec<Point> {
    let mut out = Vec::new();
    let mut ys = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let x = raw[i].0;
        ys.clear();
        while i < raw.len() && raw[i].0 == x {
            ys.push(raw[i].1);
            i += 1;
        }
        if let Some((mean, hw)) = mean_ci95(&ys) {
            out.push(Point {
                x,
                y: mean,
                bar: hw.map(|h| (mean - h, mean + h)),
            });
        }
    }
    out
}

fn padded(lo: f64, hi: f64, log: bool) -> (f64, f64) {
    if log {
        // Multiplicative padding keeps the range positive; plain arithmetic (no powf) keeps
        // it bit-identical across platforms.
        if lo == hi {
            (lo / 2.0, hi * 2.0)
        } else {
            (lo / 1.1, hi * 1.1)
        }
    } else if lo == hi {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() / 10.0 };
        (lo - pad, hi + pad)
    } else {
        let pad = (hi - lo) / 20.0;
        (lo - pad, hi + pad)
    }
}

/// Whether every x is an integer (exactly representable) and there are at most
/// [`MAX_INTEGER_TICK_VALUES`] distinct ones.
fn few_integers(lines: &[Line]) -> bool {
    // 2^53: beyond it f64 has no fractions, so the question is moot.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    let mut seen: Vec<f64> = Vec::new();
    for p in lines.iter().flat_map(|l| &l.points) {
        if p.x.fract() != 0.0 || p.x.abs() > EXACT {
            return false;
        }
        if !seen.contains(&p.x) {
            if seen.len() == MAX_INTEGER_TICK_VALUES {
                return false;
            }
            seen.push(p.x);
        }
    }
    true
}

fn ranges(spec: &PlotSpec, x_axis: &XAxis, lines: &mut [Line]) -> ((f64, f64), (f64, f64)) {
    let mut x = (f64::INFINITY, f64::NEG_INFINITY);
    let mut y = (f64::INFINITY, f64::NEG_INFINITY);
    let widen = |r: &mut (f64, f64), v: f64| {
        r.0 = r.0.min(v);
        r.1 = r.1.max(v);
    };
    for p in lines.iter().flat_map(|l| &l.points) {
        widen(&mut x, p.x);
        widen(&mut y, p.y);
        if let Some((lo, hi)) = p.bar {
            // On a log axis a bar reaching zero or below is clipped at the axis bottom
            // instead of stretching the axis to a meaningless floor.
            if !spec.y_log || lo > 0.0 {
                widen(&mut y, lo);
            }
            widen(&mut y, hi);
        }
    }
    let x = match x_axis {
        // Every category gets a slot of width 1 centred on its position, including categories
        // whose rows have no y value, so the axis shows every swept value.
        XAxis::Category { labels } => (-0.5, labels.len() as f64 - 0.5),
        XAxis::Numeric { .. } => padded(x.0, x.1, spec.x_log),
    };
    let y = padded(y.0, y.1, spec.y_log);
    for p in lines.iter_mut().flat_map(|l| &mut l.points) {
        if let Some((lo, hi)) = &mut p.bar {
            *lo = lo.max(y.0);
            *hi = hi.min(y.1);
        }
    }
    (x, y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(extra: &str) -> PlotSpec {
        #[derive(serde::Deserialize)]
        struct Doc {
            plot: PlotSpec,
        }
        let text = format!("[plot]\nname = \"t\"\nx = \"x\"\ny = \"y\"\n{extra}");
        toml::from_str::<Doc>(&text).unwrap().plot
    }

    #[test]
    fn error_bars_are_mean_and_student_t_interval() {
        let csv = "x,y,s\n1,1,a\n1,2,a\n1,6,a\n2,5,a\n1,10,b\n";
        let fig = load(&spec("error_bars = true\nseries = \"s\""), csv.as_bytes()).unwrap();
        assert_eq!(fig.lines.len(), 2);
        let a = &fig.lines[0];
        assert_eq!(a.label, "s=a");
        assert_eq!(a.points.len(), 2);
        let p = a.points[0];
        assert_eq!((p.x, p.y), (1.0, 3.0));
        let hw = 4.302_652_729_749_464 * (7.0f64 / 3.0).sqrt();
        let (lo, hi) = p.bar.unwrap();
        assert!((lo - (3.0 - hw)).abs() < 1e-12 && (hi - (3.0 + hw)).abs() < 1e-12);
        assert_eq!(
            a.points[1],
            Point {
                x: 2.0,
                y: 5.0,
                bar: None
            }
        );
        assert_eq!(
            fig.lines[1].points,
            vec![Point {
                x: 1.0,
                y: 10.0,
                bar: None
            }]
        );
        // The range covers the whole bar, padded by 5 %.
        assert!(fig.y_range.0 < 3.0 - hw && fig.y_range.1 > 10.0);
    }

    #[test]
    fn series_sort_numerically_and_references_come_last() {
        let csv = "x,y,r,s\n1,1,2,10\n1,1,2,9\n1,1,2,x\n";
        let s = spec("series = \"s\"\nreference = { label = \"lim\", y = \"r\" }");
        let fig = load(&s, csv.as_bytes()).unwrap();
        let labels: Vec<(&str, bool, bool)> = fig
            .lines
            .iter()
            .map(|l| (l.label.as_str(), l.reference, l.in_legend))
            .collect();
        assert_eq!(
            labels,
            [
                ("s=9", false, true),
                ("s=10", false, true),
                ("s=x", false, true),
                ("lim", true, true),
                ("lim", true, false),
                ("lim", true, false),
            ]
        );
        assert_eq!(
            fig.lines[3].color,
            Some(0),
            "reference takes its series colour"
        );
    }

    #[test]
    fn missing_cells_are_skipped_and_filters_compare_numbers() {
        let csv = "x,y,loss\n1,,0.010\n2,4,0.01\n3,NaN,0.01\n4,5,0.02\n";
        let fig = load(&spec("filter = { loss = 0.01 }"), csv.as_bytes()).unwrap();
        assert_eq!(
            fig.lines[0].points,
            vec![Point {
                x: 2.0,
                y: 4.0,
                bar: None
            }]
        );
        assert!(!fig.legend);
    }

    #[test]
    fn log_ranges_stay_positive() {
        let csv = "x,y\n1,1\n1,1000\n";
        let fig = load(
            &spec("x_log = true\ny_log = true\nerror_bars = true"),
            csv.as_bytes(),
        )
        .unwrap();
        // Mean 500.5 with a bar far below zero: clipped to the positive axis bottom.
        assert!(fig.x_range.0 > 0.0 && fig.y_range.0 > 0.0);
        let (lo, _) = fig.lines[0].points[0].bar.unwrap();
        assert_eq!(lo, fig.y_range.0);
    }

    fn categories(fig: &Figure) -> &[String] {
        match &fig.x_axis {
            XAxis::Category { labels } => labels,
            XAxis::Numeric { .. } => panic!("numeric axis: {:?}", fig.x_axis),
        }
    }

    fn xy(line: &Line) -> Vec<(f64, f64)> {
        line.points.iter().map(|p| (p.x, p.y)).collect()
    }

    #[test]
    fn x_with_any_non_number_is_categorical() {
        let fig = load(&spec(""), "x,y\n1,1\nfast,2\n2,3\n".as_bytes()).unwrap();
        assert_eq!(categories(&fig), ["1", "fast", "2"]);
        assert_eq!(fig.x_range, (-0.5, 2.5));
        // NaN and empty cells of a numeric column stay missing values, not categories.
        let fig = load(&spec(""), "x,y\n1,1\nNaN,2\n,4\n2,3\n".as_bytes()).unwrap();
        assert_eq!(
            fig.x_axis,
            XAxis::Numeric {
                integer_ticks: true
            }
        );
        assert_eq!(xy(&fig.lines[0]), [(1.0, 1.0), (2.0, 3.0)]);
        // Rows dropped by the filter do not make the axis categorical.
        let fig = load(
            &spec("filter = { k = 1 }"),
            "x,y,k\n0.5,1,1\nfast,2,0\n".as_bytes(),
        )
        .unwrap();
        assert_eq!(
            fig.x_axis,
            XAxis::Numeric {
                integer_ticks: false
            }
        );
        // Forced: numbers compared as text, in CSV order.
        let fig = load(
            &spec("x_kind = \"category\""),
            "x,y\n10,1\n2,2\n10.0,3\n".as_bytes(),
        )
        .unwrap();
        assert_eq!(categories(&fig), ["10", "2", "10.0"]);
    }

    #[test]
    fn categories_keep_order_of_first_appearance() {
        // Series b meets "alpha" first; the axis follows the whole CSV, never string order.
        let csv = "x,y,s\nzeta,1,a\nalpha,2,b\nmid,3,a\nalpha,4,a\nzeta,5,b\n10,6,a\n9,7,a\n";
        let fig = load(&spec("series = \"s\""), csv.as_bytes()).unwrap();
        assert_eq!(categories(&fig), ["zeta", "alpha", "mid", "10", "9"]);
        assert_eq!(
            xy(&fig.lines[0]),
            [(0.0, 1.0), (1.0, 4.0), (2.0, 3.0), (3.0, 6.0), (4.0, 7.0)]
        );
        assert_eq!(xy(&fig.lines[1]), [(0.0, 5.0), (1.0, 2.0)]);
    }

    #[test]
    fn error_bars_aggregate_per_series_and_category() {
        let outage = r#""[{ from = ""20s"" }]""#;
        let csv = format!(
            "x,y,s,r\nshort,1,a,9\n{outage},10,a,9\nshort,2,a,9\nshort,6,a,9\n{outage},20,b,9\n{outage},30,b,9\n"
        );
        let s = spec("series = \"s\"\nerror_bars = true\nreference = { label = \"r\", y = \"r\" }");
        let fig = load(&s, csv.as_bytes()).unwrap();
        assert_eq!(categories(&fig), ["short", "[{ from = \"20s\" }]"]);
        let a = &fig.lines[0];
        assert_eq!(a.label, "s=a");
        assert_eq!((a.points[0].x, a.points[0].y), (0.0, 3.0));
        let hw = 4.302_652_729_749_464 * (7.0f64 / 3.0).sqrt();
        let (lo, hi) = a.points[0].bar.unwrap();
        assert!((lo - (3.0 - hw)).abs() < 1e-12 && (hi - (3.0 + hw)).abs() < 1e-12);
        assert_eq!(
            a.points[1],
            Point {
                x: 1.0,
                y: 10.0,
                bar: None
            }
        );
        let b = &fig.lines[1];
        assert_eq!((b.points[0].x, b.points[0].y), (1.0, 25.0));
        let hw = 12.706_204_736_174_705 * 50.0f64.sqrt() / 2.0f64.sqrt();
        assert_eq!(b.points[0].bar, Some((25.0 - hw, 25.0 + hw)));
        // References ride on the same positions, one per series.
        let refs: Vec<_> = fig.lines.iter().filter(|l| l.reference).map(xy).collect();
        assert_eq!(refs, [vec![(0.0, 9.0), (1.0, 9.0)], vec![(1.0, 9.0)]]);
    }

    #[test]
    fn log_x_with_categories_is_rejected() {
        let err = load(&spec("x_log = true"), "x,y\n-1,1\nfast,2\n".as_bytes()).unwrap_err();
        assert!(
            matches!(err, PlotError::CategoricalLogAxis { ref plot, .. } if plot == "t"),
            "{err}"
        );
        assert!(err.to_string().contains("`x_log`"), "{err}");
        // Numeric with a non-positive value: the log error, found after the whole column.
        let err = load(&spec("x_log = true"), "x,y\n2,1\n-1,2\n".as_bytes()).unwrap_err();
        assert!(
            matches!(err, PlotError::NonPositiveOnLogAxis { line: 3, .. }),
            "{err}"
        );
    }

    #[test]
    fn category_count_is_bounded() {
        let many = |n: usize, last: &str| {
            (0..n).fold("x,y\n".to_owned(), |acc, i| acc + &format!("{i},1\n")) + last
        };
        // A long numeric column is fine in auto mode...
        let fig = load(&spec(""), many(MAX_CATEGORIES + 50, "").as_bytes()).unwrap();
        assert_eq!(
            fig.x_axis,
            XAxis::Numeric {
                integer_ticks: false
            }
        );
        // ...until a text cell makes it categorical.
        let err = load(&spec(""), many(MAX_CATEGORIES + 50, "z,1\n").as_bytes()).unwrap_err();
        assert!(
            matches!(
                err,
                PlotError::TooManyCategories {
                    max: MAX_CATEGORIES,
                    ..
                }
            ),
            "{err}"
        );
        let err = load(
            &spec("x_kind = \"category\""),
            many(MAX_CATEGORIES + 1, "").as_bytes(),
        )
        .unwrap_err();
        assert!(matches!(err, PlotError::TooManyCategories { .. }), "{err}");
        let fig = load(
            &spec("x_kind = \"category\""),
            many(MAX_CATEGORIES, "").as_bytes(),
        )
        .unwrap();
        assert_eq!(categories(&fig).len(), MAX_CATEGORIES);
    }

    #[test]
    fn integer_ticks_only_for_few_integer_values() {
        let axis = |extra: &str, csv: &str| load(&spec(extra), csv.as_bytes()).unwrap().x_axis;
        let int = XAxis::Numeric {
            integer_ticks: true,
        };
        let not = XAxis::Numeric {
            integer_ticks: false,
        };
        assert_eq!(axis("", "x,y\n0,1\n1,2\n2,3\n2,4\n"), int);
        assert_eq!(axis("", "x,y\n0,1\n1.5,2\n"), not);
        let twelve = (0..12).fold("x,y\n".to_owned(), |a, i| a + &format!("{i},1\n"));
        assert_eq!(axis("", &twelve), int);
        assert_eq!(axis("", &(twelve + "12,1\n")), not);
        assert_eq!(axis("x_log = true", "x,y\n1,1\n2,2\n"), not);
    }
}

//! CSV -> lines of points, with filtering, grouping, aggregation and axis ranges.

use crate::spec::{validate, PlotSpec};
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

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Figure {
    pub lines: Vec<Line>,
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
    /// Legend shown when there is more than one line or a reference line.
    pub legend: bool,
}

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
    // Series value -> id in order of appearance; (series id, slot) -> (x, y) in CSV order.
    let mut series_ids: BTreeMap<String, usize> = BTreeMap::new();
    let mut groups: BTreeMap<(usize, usize), Vec<(f64, f64)>> = BTreeMap::new();
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
        let Some(x) = number(spec, &spec.x, line, cell(x_idx))? else {
            continue;
        };
        check_log(spec, spec.x_log, "x", &spec.x, line, x)?;
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
            groups.entry((sid, slot)).or_default().push((x, y));
        }
    }

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
    let (x_range, y_range) = ranges(spec, &mut lines);
    let finite = |r: (f64, f64)| r.0.is_finite() && r.1.is_finite() && r.0 < r.1;
    if !finite(x_range) || !finite(y_range) {
        return Err(PlotError::RangeOverflow {
            plot: spec.name.clone(),
        });
    }
    let legend = lines.len() > 1 || spec.reference.is_some();
    Ok(Figure {
        lines,
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

fn ranges(spec: &PlotSpec, lines: &mut [Line]) -> ((f64, f64), (f64, f64)) {
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
    let x = padded(x.0, x.1, spec.x_log);
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
}

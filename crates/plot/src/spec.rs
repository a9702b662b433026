//! The `[[plot]]` table of an experiment file and its validation against a CSV header.

use crate::PlotError;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// Most y columns in one plot: beyond this the legend no longer fits an 800 px figure.
pub const MAX_Y_COLUMNS: usize = 12;
/// Longest plot name; names become file stems.
pub const MAX_NAME_CHARS: usize = 100;

/// One figure. Deserialized from a TOML `[[plot]]` table; unknown keys are rejected.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlotSpec {
    /// File stem of the outputs: `<name>.svg` and `<name>.png`.
    pub name: String,
    /// Figure title; the name when absent.
    #[serde(default)]
    pub title: Option<String>,
    /// Which CSV of the results directory to read.
    #[serde(default)]
    pub file: ResultFile,
    /// Column on the horizontal axis.
    pub x: String,
    /// How the x column is read: numbers on a linear or log axis, or categories (one evenly
    /// spaced position per distinct value). `auto` picks categories when any x cell is not
    /// a number.
    #[serde(default)]
    pub x_kind: XKind,
    /// Column(s) on the vertical axis: `y = "a"` or `y = ["a", "b"]`.
    #[serde(deserialize_with = "one_or_many")]
    pub y: Vec<String>,
    /// Column whose distinct values split the data into separate lines.
    #[serde(default)]
    pub series: Option<String>,
    #[serde(default)]
    pub kind: PlotKind,
    /// Logarithmic x axis; numeric x only (an error with a categorical x axis).
    #[serde(default)]
    pub x_log: bool,
    #[serde(default)]
    pub y_log: bool,
    /// Axis title, units included (e.g. "MSL (s)"); the column name when absent.
    #[serde(default)]
    pub x_label: Option<String>,
    #[serde(default)]
    pub y_label: Option<String>,
    /// Plot the mean of rows sharing (series, x) with a 95 % Student-t confidence bar.
    #[serde(default)]
    pub error_bars: bool,
    /// Another column drawn as a dashed line, e.g. an analytic limit computed by the experiment.
    #[serde(default)]
    pub reference: Option<Reference>,
    /// Keep only rows whose columns equal these values (all must match).
    #[serde(default)]
    pub filter: BTreeMap<String, FilterValue>,
    #[serde(default)]
    pub legend: LegendPosition,
}

/// The CSV files an experiment writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResultFile {
    /// One row per (point, replication).
    #[default]
    Summary,
    /// One row per connection.
    Connections,
    /// One row per sampling instant.
    Timeseries,
}

impl ResultFile {
    pub fn file_name(self) -> &'static str {
        match self {
            ResultFile::Summary => "summary.csv",
            ResultFile::Connections => "connections.csv",
            ResultFile::Timeseries => "timeseries.csv",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlotKind {
    /// Points joined in x order, with markers.
    #[default]
    Line,
    /// Markers only.
    Scatter,
}

/// `x_kind`: how the x column's cells are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum XKind {
    /// Categories when any kept, non-empty x cell is not a number, else numeric. Sweep
    /// columns such as `link.outages` (a list of tables) need no setting.
    #[default]
    Auto,
    /// Numbers only: a non-numeric x cell is an error, as before `x_kind` existed.
    Numeric,
    /// Categories even for numbers, e.g. rates 10, 100, 1000 drawn evenly spaced. Cells are
    /// compared as text, so "1" and "1.0" are two categories.
    Category,
}

/// Corner of the plotting area holding the legend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegendPosition {
    #[default]
    UpperRight,
    UpperLeft,
    LowerRight,
    LowerLeft,
}

/// `reference = { label = "2·MSL limit", y = "tw_limit" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    pub label: String,
    /// Column holding the reference values.
    pub y: String,
}

/// A filter value: TOML string, integer, float or boolean.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl FilterValue {
    /// Whether a CSV cell equals this value. Numbers compare numerically so `0.5` matches
    /// "0.50" and `3` matches "3.0"; strings compare exactly; booleans ignore case.
    pub fn matches(&self, cell: &str) -> bool {
        match self {
            FilterValue::Str(s) => cell == s,
            FilterValue::Bool(b) => {
                let c = cell.trim();
                c.eq_ignore_ascii_case(if *b { "true" } else { "false" })
            }
            FilterValue::Int(i) => match cell.trim().parse::<i64>() {
                Ok(c) => c == *i,
                Err(_) => cell.trim().parse::<f64>() == Ok(*i as f64),
            },
            FilterValue::Float(f) => cell.trim().parse::<f64>() == Ok(*f),
        }
    }
}

impl<'de> Deserialize<'de> for FilterValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = FilterValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<FilterValue, E> {
                Ok(FilterValue::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<FilterValue, E> {
                Ok(FilterValue::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FilterValue, E> {
                i64::try_from(v)
                    .map(FilterValue::Int)
                    .map_err(|_| E::custom("integer filter value exceeds i64"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<FilterValue, E> {
                Ok(FilterValue::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FilterValue, E> {
                Ok(FilterValue::Str(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a column name or a list of column names")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
            Ok(vec![v.to_owned()])
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(s) = seq.next_element::<String>()? {
                if out.len() == MAX_Y_COLUMNS {
                    return Err(de::Error::custom(format!(
                        "at most {MAX_Y_COLUMNS} y columns per plot"
                    )));
                }
                out.push(s);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

impl PlotSpec {
    pub fn title(&self) -> &str {
        self.title.as_deref().unwrap_or(&self.name)
    }

    pub fn x_label(&self) -> &str {
        self.x_label.as_deref().unwrap_or(&self.x)
    }

    /// The y-axis title: the given label, else the y column name(s).
    pub fn y_label(&self) -> String {
        match &self.y_label {
            Some(l) => l.clone(),
            None => self.y.join(", "),
        }
    }
}

/// Checks `spec` against the header of the CSV it will read: a usable name, at least one y
/// column, every referenced column present, and no `x_log` with `x_kind = "category"`. Errors name the offending key and list the
/// allowed values.
pub fn validate(spec: &PlotSpec, columns: &[&str]) -> Result<(), PlotError> {
    let name_ok = !spec.name.is_empty()
        && spec.name.chars().count() <= MAX_NAME_CHARS
        && !spec.name.starts_with('.')
        && spec
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !name_ok {
        return Err(PlotError::InvalidName {
            name: spec.name.clone(),
            max: MAX_NAME_CHARS,
        });
    }
    if spec.y.is_empty() || spec.y.len() > MAX_Y_COLUMNS {
        return Err(PlotError::YCount {
            plot: spec.name.clone(),
            count: spec.y.len(),
            max: MAX_Y_COLUMNS,
        });
    }
    let check = |key: String, column: &str| -> Result<(), PlotError> {
        if columns.contains(&column) {
            Ok(())
        } else {
            Err(PlotError::UnknownColumn {
                plot: spec.name.clone(),
                key,
                column: column.to_owned(),
                file: spec.file.file_name(),
                allowed: columns.join(", "),
            })
        }
    };
    check("x".into(), &spec.x)?;
    if spec.x_log && spec.x_kind == XKind::Category {
        return Err(PlotError::CategoricalLogAxis {
            plot: spec.name.clone(),
            column: spec.x.clone(),
            why: "x_kind = \"category\"".into(),
        });
    }
    for y in &spec.y {
        check("y".into(), y)?;
    }
    if let Some(s) = &spec.series {
        check("series".into(), s)?;
    }
    if let Some(r) = &spec.reference {
        check("reference.y".into(), &r.y)?;
    }
    for col in spec.filter.keys() {
        check(format!("filter.{col}"), col)?;
    }
    Ok(())
}

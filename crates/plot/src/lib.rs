//! Figures from tcpsim result CSVs, declared as `[[plot]]` tables in the experiment file.
//!
//! A [`PlotSpec`] names a CSV of the results directory, the x and y columns (x numeric or
//! categorical, see [`XKind`]), an optional series column, log axes, labels, a filter, a reference column drawn dashed, and whether
//! replications are averaged with 95 % confidence bars. [`render`] writes `<name>.svg` and
//! `<name>.png`; the same CSV always gives byte-identical files (embedded font, fixed palette,
//! no timestamps, deterministic ordering of series).

mod data;
mod render;
mod spec;
pub mod stats;

pub use data::{MAX_CATEGORIES, MAX_INTEGER_TICK_VALUES, MAX_LINES, MAX_ROWS};
pub use render::{HEIGHT_PX, MAX_CATEGORY_LABEL_CHARS, WIDTH_PX};
pub use spec::{
    validate, FilterValue, LegendPosition, PlotKind, PlotSpec, Reference, ResultFile, XKind,
    MAX_NAME_CHARS, MAX_Y_COLUMNS,
};

use plotters::prelude::{BitMapBackend, IntoDrawingArea, SVGBackend};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Errors of plot validation and rendering. Every variant names the plot.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error(
        "plot name {name:?} must be 1..={max} characters of A-Z a-z 0-9 _ - . and not start \
         with '.', since it becomes a file name"
    )]
    InvalidName { name: String, max: usize },
    #[error("plot `{plot}`: key `y` lists {count} columns; allowed: 1..={max}")]
    YCount {
        plot: String,
        count: usize,
        max: usize,
    },
    #[error(
        "plot `{plot}`: key `{key}` names column `{column}`, which {file} does not have; \
         allowed: {allowed}"
    )]
    UnknownColumn {
        plot: String,
        key: String,
        column: String,
        file: &'static str,
        allowed: String,
    },
    #[error("plot `{plot}`: column `{column}` line {line}: {value:?} is not a number")]
    NotNumeric {
        plot: String,
        column: String,
        line: u64,
        value: String,
    },
    #[error(
        "plot `{plot}`: {axis} axis is logarithmic but column `{column}` line {line} is \
         {value}; allowed: values > 0 (set {axis}_log = false or filter the rows)"
    )]
    NonPositiveOnLogAxis {
        plot: String,
        axis: &'static str,
        column: String,
        line: u64,
        value: f64,
    },
    #[error(
        "plot `{plot}`: key `x_log` = true needs a numeric x axis, but x column `{column}` is \
         categorical ({why}); allowed: x_log = false, or a numeric x column with \
         x_kind = \"auto\" or \"numeric\""
    )]
    CategoricalLogAxis {
        plot: String,
        column: String,
        /// What made the axis categorical: the `x_kind` setting or the first non-numeric cell.
        why: String,
    },
    #[error(
        "plot `{plot}`: categorical x column `{column}` has more than {max} distinct values; \
         allowed: at most {max} (filter the rows, or use a numeric column)"
    )]
    TooManyCategories {
        plot: String,
        column: String,
        max: usize,
    },
    #[error("plot `{plot}`: no plottable rows (check `filter` and empty cells)")]
    NoData { plot: String },
    #[error("plot `{plot}`: values span more than f64 can hold once padded; rescale the column")]
    RangeOverflow { plot: String },
    #[error("plot `{plot}`: more than {max} CSV rows")]
    TooManyRows { plot: String, max: usize },
    #[error(
        "plot `{plot}`: at least {count} lines (series values × y columns); allowed: at most {max}"
    )]
    TooManyLines {
        plot: String,
        count: usize,
        max: usize,
    },
    #[error("plot `{plot}`: reading CSV: {message}")]
    Csv { plot: String, message: String },
    #[error("plot `{plot}`: {path}: {source}")]
    Io {
        plot: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("plot `{plot}`: drawing: {message}")]
    Draw { plot: String, message: String },
}

/// Reads `csv_path`, renders the figure, and writes `<out_dir>/<name>.svg` and `.png`
/// (creating `out_dir`). Returns the written paths, SVG first.
pub fn render(spec: &PlotSpec, csv_path: &Path, out_dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let file = fs::File::open(csv_path).map_err(|source| PlotError::Io {
        plot: spec.name.clone(),
        path: csv_path.to_owned(),
        source,
    })?;
    render_csv(spec, std::io::BufReader::new(file), out_dir)
}

/// Like [`render`], from CSV bytes already in hand.
pub fn render_csv<R: Read>(
    spec: &PlotSpec,
    csv: R,
    out_dir: &Path,
) -> Result<Vec<PathBuf>, PlotError> {
    let (svg, png) = render_bytes(spec, csv)?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| PlotError::Io {
            plot: spec.name.clone(),
            path,
            source,
        }
    };
    fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    let svg_path = out_dir.join(format!("{}.svg", spec.name));
    let png_path = out_dir.join(format!("{}.png", spec.name));
    write_atomically(&svg_path, svg.as_bytes()).map_err(io(&svg_path))?;
    write_atomically(&png_path, &png).map_err(io(&png_path))?;
    Ok(vec![svg_path, png_path])
}

/// Writes `path` through a hidden temporary file in the same directory and a rename, like the
/// result files: a figure is never seen half written, and a failure leaves the old one.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let result = fs::write(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Renders to memory: (SVG text, PNG bytes).
pub fn render_bytes<R: Read>(spec: &PlotSpec, csv: R) -> Result<(String, Vec<u8>), PlotError> {
    let fig = data::load(spec, csv)?;
    let draw_err = |message: String| PlotError::Draw {
        plot: spec.name.clone(),
        message,
    };
    render::ensure_font().map_err(draw_err)?;

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
        render::draw(&root, spec, &fig).map_err(draw_err)?;
    }

    let mut rgb = vec![0u8; WIDTH_PX as usize * HEIGHT_PX as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH_PX, HEIGHT_PX)).into_drawing_area();
        render::draw(&root, spec, &fig).map_err(draw_err)?;
    }
    let png = encode_png(&rgb).map_err(|e| draw_err(format!("PNG encoding: {e}")))?;
    Ok((svg, png))
}

fn encode_png(rgb: &[u8]) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, WIDTH_PX, HEIGHT_PX);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    // Fixed settings: the output depends on the pixels only.
    enc.set_compression(png::Compression::Balanced);
    let mut w = enc.write_header()?;
    w.write_image_data(rgb)?;
    w.finish()?;
    Ok(out)
}

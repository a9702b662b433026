//! End-to-end: TOML spec + CSV in a tempdir -> SVG and PNG files.

use plot::{render, render_bytes, validate, PlotError, PlotSpec};
use std::path::Path;

#[derive(serde::Deserialize)]
struct Doc {
    plot: Vec<PlotSpec>,
}

fn specs(toml_text: &str) -> Vec<PlotSpec> {
    toml::from_str::<Doc>(toml_text).unwrap().plot
}

fn spec(toml_text: &str) -> PlotSpec {
    specs(toml_text).remove(0)
}

/// Three replications per (rate, msl) point, plus the analytic limit rate·2·MSL.
fn summary_csv() -> String {
    let mut s = String::from("variant,rate_per_s,msl_s,replication,tw_peak,tw_limit,note\n");
    for variant in ["linux", "rfc"] {
        for rate in [100u32, 20, 1000] {
            for msl in [1u32, 2, 5, 10, 30] {
                for rep in 0..3u32 {
                    let limit = f64::from(rate) * 2.0 * f64::from(msl);
                    let noise = f64::from((rep * 7 + msl * 3 + rate) % 11) / 100.0 - 0.05;
                    let tw = limit * (0.97 + noise);
                    s.push_str(&format!("{variant},{rate},{msl},{rep},{tw},{limit},\n"));
                }
            }
        }
    }
    s
}

const FULL: &str = r#"
[[plot]]
name = "tw_vs_msl"
title = "TIME-WAIT peak vs MSL"
x = "msl_s"
y = "tw_peak"
series = "rate_per_s"
x_log = true
y_log = true
x_label = "MSL (s)"
y_label = "TIME-WAIT peak (connections)"
error_bars = true
reference = { label = "rate x 2 MSL", y = "tw_limit" }
filter = { variant = "linux" }
legend = "upper_left"
"#;

/// Copies outputs to `$PLOT_KEEP_DIR` for looking at them by eye.
fn keep(files: &[std::path::PathBuf]) {
    if let Ok(dir) = std::env::var("PLOT_KEEP_DIR") {
        for f in files {
            std::fs::copy(f, Path::new(&dir).join(f.file_name().unwrap())).unwrap();
        }
    }
}

fn write_csv(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("summary.csv");
    std::fs::write(&p, summary_csv()).unwrap();
    p
}

#[test]
fn renders_svg_and_png() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path());
    let out = dir.path().join("figures");
    let files = render(&spec(FULL), &csv, &out).unwrap();
    assert_eq!(
        files,
        vec![out.join("tw_vs_msl.svg"), out.join("tw_vs_msl.png")]
    );
    keep(&files);
    let svg = std::fs::read_to_string(&files[0]).unwrap();
    assert!(svg.len() > 10_000, "svg is {} bytes", svg.len());
    for text in [
        "TIME-WAIT peak vs MSL",
        "MSL (s)",
        "TIME-WAIT peak (connections)",
        "rate_per_s=20",
        "rate_per_s=1000",
        "rate x 2 MSL",
    ] {
        assert!(svg.contains(text), "SVG lacks {text:?}");
    }
    let png = std::fs::read(&files[1]).unwrap();
    assert!(png.len() > 10_000, "png is {} bytes", png.len());
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

/// Figures are written through a temporary file and a rename: a write that fails leaves the
/// old figure whole and no temporary file behind.
#[test]
fn a_failed_write_leaves_the_old_figure() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path());
    let out = dir.path().join("figures");
    let files = render(&spec(FULL), &csv, &out).unwrap();
    let old_png = std::fs::read(&files[1]).unwrap();
    // A directory where the PNG's temporary file goes makes that write fail.
    std::fs::create_dir(out.join(".tw_vs_msl.png.tmp")).unwrap();
    let e = render(&spec(FULL), &csv, &out).unwrap_err();
    assert!(e.to_string().contains("tw_vs_msl.png"), "{e}");
    assert_eq!(std::fs::read(&files[1]).unwrap(), old_png);
    let mut names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [".tw_vs_msl.png.tmp", "tw_vs_msl.png", "tw_vs_msl.svg"]
    );
}

fn png_pixels(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut dec = png::Decoder::new(std::io::Cursor::new(png_bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; dec.output_buffer_size().unwrap()];
    let info = dec.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

#[test]
fn png_has_the_declared_size_and_real_content() {
    let (_, png) = render_bytes(&spec(FULL), summary_csv().as_bytes()).unwrap();
    let (w, h, px) = png_pixels(&png);
    assert_eq!((w, h), (800, 500));
    let non_white = px.chunks(3).filter(|c| c != &[255, 255, 255]).count();
    // Text, grid, three lines with bars: several percent of the pixels are drawn.
    assert!(non_white > 10_000, "only {non_white} drawn pixels");
    // Palette colour of the first series is present (lines are drawn, not only axes).
    assert!(px.chunks(3).any(|c| c == [0x4e, 0x79, 0xa7]));
}

#[test]
fn output_is_byte_identical_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path());
    for text in [FULL, LINEAR] {
        for s in specs(text) {
            let a = render(&s, &csv, &dir.path().join("a")).unwrap();
            let b = render(&s, &csv, &dir.path().join("b")).unwrap();
            for (fa, fb) in a.iter().zip(&b) {
                assert_eq!(
                    std::fs::read(fa).unwrap(),
                    std::fs::read(fb).unwrap(),
                    "{fa:?}"
                );
            }
        }
    }
    // A different CSV gives a different figure (the comparison above can fail).
    let (svg1, _) = render_bytes(&spec(FULL), summary_csv().as_bytes()).unwrap();
    let other = summary_csv() + "linux,20,1,3,5000,40,\n";
    let (svg2, _) = render_bytes(&spec(FULL), other.as_bytes()).unwrap();
    assert!(svg1 != svg2, "an extra replication must change the figure");
}

const LINEAR: &str = r#"
[[plot]]
name = "two_columns"
file = "summary"
x = "msl_s"
y = ["tw_peak", "tw_limit"]
kind = "scatter"
filter = { rate_per_s = 100, variant = "rfc" }

[[plot]]
name = "all_rates"
x = "rate_per_s"
y = "tw_peak"
series = "variant"
error_bars = true
"#;

#[test]
fn linear_scatter_and_multi_column_plots_render() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path());
    for s in specs(LINEAR) {
        let files = render(&s, &csv, dir.path()).unwrap();
        keep(&files);
        let svg = std::fs::read_to_string(&files[0]).unwrap();
        assert!(
            svg.contains(&format!(">\n{}\n<", s.name)),
            "title defaults to the name"
        );
        if s.name == "two_columns" {
            assert!(
                svg.contains("tw_peak") && svg.contains("tw_limit"),
                "legend entries"
            );
        } else {
            assert!(svg.contains("variant=linux") && svg.contains("variant=rfc"));
        }
    }
}

#[test]
fn validation_names_the_key_and_the_allowed_values() {
    let s = spec(FULL);
    let cols = ["variant", "rate_per_s", "msl_s", "tw_peak", "tw_limit"];
    assert!(validate(&s, &cols).is_ok());
    let err = validate(&s, &["variant", "msl_s", "tw_peak", "tw_limit"]).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, PlotError::UnknownColumn { ref key, .. } if key == "series"));
    assert!(
        msg.contains("`series`")
            && msg.contains("rate_per_s")
            && msg.contains("summary.csv")
            && msg.contains("allowed: variant, msl_s, tw_peak, tw_limit"),
        "{msg}"
    );
    let err = validate(&s, &["rate_per_s", "msl_s", "tw_peak", "tw_limit"]).unwrap_err();
    assert!(err.to_string().contains("`filter.variant`"), "{err}");
    let err = validate(&s, &["variant", "rate_per_s", "msl_s", "tw_peak"]).unwrap_err();
    assert!(err.to_string().contains("`reference.y`"), "{err}");

    let bad_name = PlotSpec {
        name: "../escape".into(),
        ..s.clone()
    };
    assert!(matches!(
        validate(&bad_name, &cols),
        Err(PlotError::InvalidName { .. })
    ));
    let no_y = PlotSpec { y: vec![], ..s };
    assert!(validate(&no_y, &cols)
        .unwrap_err()
        .to_string()
        .contains("`y`"));
}

#[test]
fn toml_errors_list_allowed_values() {
    let base = "[[plot]]\nname = \"p\"\nx = \"a\"\ny = \"b\"\n";
    let err = |extra: &str| {
        toml::from_str::<Doc>(&format!("{base}{extra}"))
            .err()
            .unwrap_or_else(|| panic!("{extra:?} accepted"))
            .to_string()
    };
    let e = err("file = \"sumary\"");
    assert!(
        e.contains("summary") && e.contains("connections") && e.contains("timeseries"),
        "{e}"
    );
    let e = err("kind = \"bar\"");
    assert!(e.contains("line") && e.contains("scatter"), "{e}");
    let e = err("colour = \"red\"");
    assert!(e.contains("colour") && e.contains("error_bars"), "{e}");
    let e = err("legend = \"middle\"");
    assert!(e.contains("upper_left"), "{e}");
    let e = err("reference = { label = \"l\", y = \"c\", style = 1 }");
    assert!(e.contains("style"), "{e}");
    let e = err("filter = { a = [1] }");
    assert!(e.contains("a string, number or boolean"), "{e}");
    let e = err("y_log = \"yes\"");
    assert!(e.contains("y_log") || e.contains("bool"), "{e}");
    // y accepts a string or a list.
    let two = toml::from_str::<Doc>(&base.replace("y = \"b\"", "y = [\"b\", \"c\"]")).unwrap();
    assert_eq!(two.plot[0].y, ["b", "c"]);
}

#[test]
fn non_positive_values_on_log_axes_are_errors() {
    let csv = "x,y\n1,2\n0,3\n";
    let s = spec("[[plot]]\nname = \"l\"\nx = \"x\"\ny = \"y\"\nx_log = true\n");
    let err = render_bytes(&s, csv.as_bytes()).unwrap_err();
    assert!(
        matches!(
            err,
            PlotError::NonPositiveOnLogAxis {
                axis: "x",
                line: 3,
                ..
            }
        ),
        "{err}"
    );
    let s = spec("[[plot]]\nname = \"l\"\nx = \"x\"\ny = \"y\"\ny_log = true\n");
    let err = render_bytes(&s, "x,y\n1,-2\n".as_bytes()).unwrap_err();
    assert!(err.to_string().contains("values > 0"), "{err}");
    // Same data on linear axes is fine.
    let s = spec("[[plot]]\nname = \"l\"\nx = \"x\"\ny = \"y\"\n");
    render_bytes(&s, csv.as_bytes()).unwrap();
}

#[test]
fn bad_data_gives_typed_errors() {
    let s = spec("[[plot]]\nname = \"d\"\nx = \"x\"\ny = \"y\"\nfilter = { k = \"z\" }\n");
    let err = render_bytes(&s, "x,y,k\n1,2,a\n".as_bytes()).unwrap_err();
    assert!(matches!(err, PlotError::NoData { .. }), "{err}");
    let err = render_bytes(&s, "x,y,k\n1,oops,z\n".as_bytes()).unwrap_err();
    assert!(
        matches!(err, PlotError::NotNumeric { ref column, line: 2, .. } if column == "y"),
        "{err}"
    );
    let err = render_bytes(&s, "x,y,k\n1,2,z,extra\n".as_bytes()).unwrap_err();
    assert!(matches!(err, PlotError::Csv { .. }), "{err}");
    let err = render(&s, Path::new("/nonexistent/summary.csv"), Path::new("/tmp")).unwrap_err();
    assert!(matches!(err, PlotError::Io { .. }), "{err}");
    let many = spec("[[plot]]\nname = \"m\"\nx = \"x\"\ny = \"y\"\nseries = \"s\"\n");
    let csv: String = (0..30).fold("x,y,s\n".into(), |acc, i| acc + &format!("1,2,{i}\n"));
    let err = render_bytes(&many, csv.as_bytes()).unwrap_err();
    assert!(
        matches!(err, PlotError::TooManyLines { max: 24, .. }),
        "{err}"
    );
    // A single point still renders (degenerate ranges are widened).
    render_bytes(&s, "x,y,k\n1,2,z\n".as_bytes()).unwrap();
}

#[test]
fn extreme_values_do_not_panic() {
    let s = spec("[[plot]]\nname = \"e\"\nx = \"x\"\ny = \"y\"\n");
    let err = render_bytes(&s, "x,y\n-1e308,1\n1e308,2\n".as_bytes()).unwrap_err();
    assert!(matches!(err, PlotError::RangeOverflow { .. }), "{err}");
    render_bytes(&s, "x,y\n1,1\n1.000000000000001,1\n".as_bytes()).unwrap();
    render_bytes(&s, "x,y\n-5e-300,-1e200\n5e-300,1e200\n".as_bytes()).unwrap();
    let log = spec("[[plot]]\nname = \"e\"\nx = \"x\"\ny = \"y\"\nx_log = true\ny_log = true\n");
    render_bytes(&log, "x,y\n1e-300,1\n1e300,1e-300\n".as_bytes()).unwrap();
}

/// Texts of the x-axis tick labels, left to right: centred 13 px labels below the axis
/// (the title and axis titles are larger, legend entries are start-anchored).
fn x_ticks(svg: &str) -> Vec<String> {
    svg.split("<text ")
        .skip(1)
        .filter(|t| {
            t.contains(r#"dy="0.76em" text-anchor="middle""#) && t.contains(r#"font-size="10.48"#)
        })
        .filter_map(|t| Some(t.split_once(">\n")?.1.split_once("\n<")?.0.to_owned()))
        .collect()
}

/// Like results/partition/summary.csv: a sweep column holding a list of tables, quoted,
/// two replications per point, and a status column.
fn partition_csv() -> String {
    let mut s = String::from("point,link.outages,replication,completed,aborted,connections,stop\n");
    let outages = [
        r#""[{ from = ""20s"", until = ""23s"" }]""#,
        r#""[{ from = ""20s"", until = ""80s"" }]""#,
        r#""[{ from = ""20s"" }]""#,
    ];
    for (point, outage) in outages.iter().enumerate() {
        for rep in 0..2 {
            let completed = 600 - point * 250 - rep * 10;
            let stop = if point == 2 { "time_limit" } else { "done" };
            s.push_str(&format!(
                "{point},{outage},{rep},{completed},{},600,{stop}\n",
                point * 3 + rep
            ));
        }
    }
    s
}

const CATEGORICAL: &str = r#"
[[plot]]
name = "outcomes"
x = "link.outages"
y = ["completed", "aborted"]
error_bars = true
reference = { label = "connections", y = "connections" }

[[plot]]
name = "by-stop"
x = "stop"
y = "completed"
series = "replication"
kind = "scatter"
filter = { replication = 1 }
"#;

#[test]
fn categorical_x_renders_labels_deterministically() {
    let csv = partition_csv();
    for s in specs(CATEGORICAL) {
        let (svg, png) = render_bytes(&s, csv.as_bytes()).unwrap();
        let (svg2, png2) = render_bytes(&s, csv.as_bytes()).unwrap();
        assert!(
            svg == svg2 && png == png2,
            "{}: output differs between runs",
            s.name
        );
        let labels: &[&str] = if s.name == "outcomes" {
            &[
                "[{ from = &quot;20s&quot;, until = &quot;23s&quot; }]",
                "[{ from = &quot;20s&quot;, until = &quot;80s&quot; }]",
                "[{ from = &quot;20s&quot; }]",
            ]
        } else {
            &["done", "time_limit"]
        };
        // One tick per category, in CSV order, and no numeric tick such as 0.5.
        assert_eq!(x_ticks(&svg), labels, "{}", s.name);
        if let Some(dir) = std::env::var_os("PLOT_KEEP_DIR") {
            std::fs::write(Path::new(&dir).join(format!("{}.svg", s.name)), &svg).unwrap();
            std::fs::write(Path::new(&dir).join(format!("{}.png", s.name)), &png).unwrap();
        }
    }
}

#[test]
fn x_kind_forces_categories_and_rejects_unknown_values() {
    let csv = "x,y\n1000,1\n10,2\n100,3\n";
    let s = spec("[[plot]]\nname = \"k\"\nx = \"x\"\ny = \"y\"\nx_kind = \"category\"\n");
    let (svg, _) = render_bytes(&s, csv.as_bytes()).unwrap();
    // In CSV order, not numeric order: 1000 left of 10.
    assert_eq!(x_ticks(&svg), ["1000", "10", "100"]);
    let e =
        toml::from_str::<Doc>("[[plot]]\nname = \"p\"\nx = \"a\"\ny = \"b\"\nx_kind = \"cat\"\n")
            .err()
            .unwrap()
            .to_string();
    assert!(
        e.contains("x_kind")
            && e.contains("auto")
            && e.contains("numeric")
            && e.contains("category"),
        "{e}"
    );
    // `numeric` keeps the old behaviour: a text cell is an error naming the column and line.
    let s = spec("[[plot]]\nname = \"n\"\nx = \"x\"\ny = \"y\"\nx_kind = \"numeric\"\n");
    let err = render_bytes(&s, "x,y\n1,2\nabc,3\n".as_bytes()).unwrap_err();
    assert!(
        matches!(err, PlotError::NotNumeric { ref column, line: 3, .. } if column == "x"),
        "{err}"
    );
}

#[test]
fn log_x_with_categories_is_an_error_naming_plot_and_key() {
    // Detected from the data, after a non-positive number that alone would be another error.
    let s = spec("[[plot]]\nname = \"cl\"\nx = \"x\"\ny = \"y\"\nx_log = true\n");
    let err = render_bytes(&s, "x,y\n0,1\n3,2\nfast,3\n".as_bytes()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, PlotError::CategoricalLogAxis { .. }), "{msg}");
    assert!(
        msg.contains("plot `cl`") && msg.contains("`x_log`") && msg.contains("line 4"),
        "{msg}"
    );
    // Forced by x_kind: caught by validate, before any data is read.
    let s = spec(
        "[[plot]]\nname = \"cf\"\nx = \"x\"\ny = \"y\"\nx_log = true\nx_kind = \"category\"\n",
    );
    let err = validate(&s, &["x", "y"]).unwrap_err();
    assert!(
        err.to_string().contains("plot `cf`") && err.to_string().contains("x_kind = \"category\""),
        "{err}"
    );
    assert!(render_bytes(&s, "x,y\n1,1\n".as_bytes()).is_err());
}

#[test]
fn few_integer_x_values_get_integer_ticks_only() {
    // The shape of a sweep-point axis: 0, 1, 2 (plotters alone labels 0, 0.5, 1, ...).
    let s = spec("[[plot]]\nname = \"i\"\nx = \"point\"\ny = \"completed\"\n");
    let (svg, _) = render_bytes(&s, partition_csv().as_bytes()).unwrap();
    assert_eq!(x_ticks(&svg), ["0", "1", "2"]);
    // Fractional data keeps plotters' fractional ticks.
    let s = spec("[[plot]]\nname = \"f\"\nx = \"x\"\ny = \"y\"\n");
    let (svg, _) = render_bytes(&s, "x,y\n0,1\n0.5,2\n2,3\n".as_bytes()).unwrap();
    let ticks = x_ticks(&svg);
    assert!(
        ticks.len() > 3 && ticks.iter().any(|t| t.contains('.')),
        "{ticks:?}"
    );
}

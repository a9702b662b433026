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

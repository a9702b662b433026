//! Bad experiment files fail with a message naming the file, the key and the allowed values.

use std::path::Path;

use experiment::{parse, ExperimentError, Overrides};

const BASE: &str = r#"
[experiment]
name = "t"
[workload]
connections = 10
"#;

fn err_of(text: &str) -> String {
    err_with(text, &Overrides::default())
}

fn err_with(text: &str, o: &Overrides) -> String {
    match parse(Path::new("exp.toml"), text, o) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn assert_mentions(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} should mention {p:?}");
    }
}

#[test]
fn missing_file_names_the_file() {
    let e = experiment::load(Path::new("no/such/file.toml"), &Overrides::default()).unwrap_err();
    assert!(matches!(e, ExperimentError::Read { .. }));
    assert_mentions(&e.to_string(), &["no/such/file.toml"]);
    // The OS error is said once, also by a caller printing the whole error chain.
    let chain = format!("{:#}", anyhow_like_chain(&e));
    assert_eq!(chain.matches("os error").count(), 1, "{chain}");
}

/// What a binary printing `{e:#}` through anyhow shows: the message, then each source.
fn anyhow_like_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(&format!(": {c}"));
        cur = c.source();
    }
    s
}

#[test]
fn type_errors_name_toml_values_not_rust_types() {
    for (text, key, want) in [
        (
            "[experiment]\nname = \"t\"\nseed = \"x\"\n",
            "experiment.seed",
            "a whole number from 0 to 9223372036854775807",
        ),
        (
            "[experiment]\nname = \"t\"\nreplications = 1.5\n",
            "experiment.replications",
            "a whole number from 0 to 4294967295",
        ),
        ("experiment = 3\n", "experiment", "a table"),
        (
            "[experiment]\nname = \"t\"\n[workload]\nhalf_close = 3\n",
            "workload.half_close",
            "true or false",
        ),
        (
            "[experiment]\nname = \"t\"\n[workload]\nrate = \"x\"\n",
            "workload.rate",
            "a number",
        ),
    ] {
        let msg = err_of(text);
        assert_mentions(&msg, &["exp.toml", key, want]);
        for rust in ["u64", "u32", "f64", "struct", "Config", "Section"] {
            assert!(!msg.contains(rust), "{msg:?} names the Rust type {rust}");
        }
    }
}

#[test]
fn syntax_error_names_file_and_line() {
    let msg = err_of("[experiment]\nname = \"t\"\nseed = = 3\n");
    assert_mentions(&msg, &["exp.toml", "syntax", "line 3"]);
}

#[test]
fn unknown_key_lists_allowed_keys() {
    let msg = err_of(&format!("{BASE}[link]\ndelya = \"10ms\"\n"));
    assert_mentions(&msg, &["exp.toml", "link", "delya", "delay", "jitter"]);
    let msg = err_of(&format!("{BASE}[tcp]\nmls = \"10s\"\n"));
    assert_mentions(&msg, &["tcp", "mls", "msl"]);
    let msg = err_of(&format!("{BASE}[workload2]\n"));
    assert_mentions(&msg, &["workload2", "allowed", "workload"]);
}

#[test]
fn loss_outside_unit_interval() {
    let msg = err_of(&format!("{BASE}[link]\nloss = 1.5\n"));
    assert_mentions(&msg, &["exp.toml", "link.loss", "[0, 1]", "1.5"]);
    let msg = err_of(&format!("{BASE}[link.server_to_client]\nloss = -0.1\n"));
    assert_mentions(&msg, &["link.server_to_client.loss", "[0, 1]"]);
}

#[test]
fn duration_without_unit() {
    let msg = err_of(&format!("{BASE}[tcp]\nmsl = 30\n"));
    assert_mentions(&msg, &["exp.toml", "tcp.msl", "unit", "ms", "min"]);
    let msg = err_of(&format!("{BASE}[link]\ndelay = \"10\"\n"));
    assert_mentions(&msg, &["link.delay", "unit"]);
}

#[test]
fn empty_sweep_list() {
    let msg = err_of(&format!("{BASE}[sweep]\n\"link.loss\" = []\n"));
    assert_mentions(&msg, &["exp.toml", "sweep.link.loss", "empty"]);
}

#[test]
fn bad_value_in_one_sweep_point_names_the_point() {
    let msg = err_of(&format!("{BASE}[sweep]\n\"link.loss\" = [0.1, 2.0]\n"));
    assert_mentions(&msg, &["link.loss", "sweep point 1", "link.loss = 2.0"]);
}

#[test]
fn enum_values_are_listed() {
    let msg = err_of("[experiment]\nname = \"t\"\n[workload]\nclose_first = \"nobody\"\n");
    assert_mentions(&msg, &["workload.close_first", "client", "server", "both"]);
    let msg = err_of(&format!("{BASE}[tcp]\nrto_estimator = \"bsd\"\n"));
    assert_mentions(
        &msg,
        &["exp.toml", "tcp.rto_estimator", "bsd", "linux", "rfc6298"],
    );
}

#[test]
fn missing_experiment_table() {
    let msg = err_of("[link]\nloss = 0.1\n");
    assert_mentions(&msg, &["experiment", "name"]);
}

#[test]
fn bad_set_override() {
    let o = Overrides {
        set: vec!["link.loss".into()],
        seed: None,
    };
    assert_mentions(&err_with(BASE, &o), &["key=value"]);
    let o = Overrides {
        set: vec!["linc.loss=0.1".into()],
        seed: None,
    };
    assert_mentions(&err_with(BASE, &o), &["linc", "allowed", "link"]);
    let o = Overrides {
        set: vec!["link.loss=7".into()],
        seed: None,
    };
    assert_mentions(&err_with(BASE, &o), &["link.loss", "[0, 1]"]);
}

#[test]
fn more_faults_than_a_direction_holds_are_refused_by_check() {
    let one = "[[fault]]\ndirection = \"server_to_client\"\naction = \"drop\"\nnth = 1\n";
    let ok = format!("{BASE}{}", one.repeat(1024));
    parse(Path::new("exp.toml"), &ok, &Overrides::default()).expect("1024 faults are allowed");
    let msg = err_of(&format!("{BASE}{}", one.repeat(1025)));
    assert_mentions(
        &msg,
        &[
            "exp.toml",
            "fault",
            "1025",
            "server_to_client",
            "at most 1024",
        ],
    );
}

#[test]
fn fault_for_missing_connection() {
    let msg = err_of(&format!(
        "{BASE}[[fault]]\ndirection = \"client_to_server\"\nconnection = 10\naction = \"drop\"\n"
    ));
    assert_mentions(&msg, &["fault[0].connection", "0..10"]);
}

#[test]
fn sweep_expands_row_major_with_overrides_applied() {
    let text = format!(
        "{BASE}[sweep]\n\"link.loss\" = [0.0, 0.5]\n\"tcp.msl\" = [\"1s\", \"2s\", \"3s\"]\n"
    );
    let o = Overrides {
        set: vec!["link.delay=3ms".into(), "experiment.replications=2".into()],
        seed: Some(9),
    };
    let exp = parse(Path::new("exp.toml"), &text, &o).unwrap();
    assert_eq!(exp.sweep_keys, vec!["link.loss", "tcp.msl"]);
    assert_eq!(exp.points.len(), 6);
    assert_eq!((exp.seed, exp.replications, exp.runs()), (9, 2, 12));
    let p4 = &exp.points[4].config;
    assert_eq!(p4.link.client_to_server.loss, 0.5);
    assert_eq!(p4.tcp.client.msl.to_string(), "2s");
    assert_eq!(p4.link.server_to_client.delay.to_string(), "3ms");
    assert_eq!(exp.points[4].assignments[1].to_string(), "tcp.msl = 2s");
}

#[test]
fn per_direction_link_and_per_host_tcp_overrides() {
    let text = format!(
        "{BASE}[link]\ndelay = \"10ms\"\nloss = 0.1\n[link.server_to_client]\nloss = 0.0\n[tcp]\nmsl = \"5s\"\n[tcp.server]\nmsl = \"1s\"\n"
    );
    let exp = parse(Path::new("exp.toml"), &text, &Overrides::default()).unwrap();
    let c = &exp.points[0].config;
    assert_eq!(
        (c.link.client_to_server.loss, c.link.server_to_client.loss),
        (0.1, 0.0)
    );
    assert_eq!(c.link.server_to_client.delay.to_string(), "10ms");
    assert_eq!(
        (
            c.tcp.client.msl.to_string().as_str(),
            c.tcp.server.msl.to_string().as_str()
        ),
        ("5s", "1s")
    );
}

#[test]
fn nested_sweep_tables_are_dotted_keys() {
    let text = format!("{BASE}[sweep]\nlink.loss = [0.0, 0.1]\n");
    let exp = parse(Path::new("exp.toml"), &text, &Overrides::default()).unwrap();
    assert_eq!(exp.sweep_keys, vec!["link.loss"]);
}

#[test]
fn set_sweep_replaces_the_axis_of_the_same_name() {
    let text = format!("{BASE}[sweep]\n\"link.loss\" = [0.0, 0.1, 0.2]\n");
    let o = Overrides {
        set: vec!["sweep.link.loss=[0.3]".into()],
        seed: None,
    };
    let exp = parse(Path::new("exp.toml"), &text, &o).unwrap();
    assert_eq!(exp.sweep_keys, vec!["link.loss"]);
    assert_eq!(exp.points.len(), 1);
    assert_eq!(exp.points[0].config.link.client_to_server.loss, 0.3);
}

#[test]
fn overriding_a_swept_key_is_an_error() {
    let text = format!("{BASE}[sweep]\n\"link.loss\" = [0.0, 0.1]\n");
    let o = Overrides {
        set: vec!["link.loss=0.5".into()],
        seed: None,
    };
    assert_mentions(
        &err_with(&text, &o),
        &["link.loss", "swept", "sweep.link.loss"],
    );
}

#[test]
fn seeds_cannot_be_swept() {
    let msg = err_of(&format!("{BASE}[sweep]\n\"experiment.seed\" = [1, 2]\n"));
    assert_mentions(&msg, &["sweep.experiment.seed", "replications"]);
}

/// `[[fault]]` and `[[plot]]` are arrays of tables, which a dotted key cannot name one entry
/// of; a swept `plot.*` used to be accepted and silently ignored.
#[test]
fn faults_and_plots_cannot_be_swept() {
    for (key, value) in [("plot.x", "[\"a\", \"b\"]"), ("fault.nth", "[1, 2]")] {
        let msg = err_of(&format!("{BASE}[sweep]\n\"{key}\" = {value}\n"));
        assert_mentions(
            &msg,
            &[
                "exp.toml",
                &format!("sweep.{key}"),
                "experiment, link, tcp, workload, output, flood",
            ],
        );
    }
    let msg = err_of(&format!("{BASE}[sweep]\n\"sweep.x\" = [1, 2]\n"));
    assert_mentions(&msg, &["sweep.sweep.x", "cannot sweep"]);
}

#[test]
fn huge_sweeps_are_rejected_before_they_are_built() {
    let list = format!(
        "[{}]",
        (0..100)
            .map(|i| format!("{i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut text = format!("{BASE}[sweep]\n");
    for k in [
        "mss",
        "window",
        "syn_retries",
        "synack_retries",
        "retries2",
        "isn_constant",
    ] {
        text.push_str(&format!("\"tcp.{k}\" = {list}\n"));
    }
    let start = std::time::Instant::now();
    assert_mentions(&err_of(&text), &["sweep", "more than 100000"]);
    assert!(
        start.elapsed().as_secs() < 5,
        "rejected without building 10^12 points"
    );
}

#[test]
fn plot_errors_name_the_plot_key_and_columns() {
    let msg = err_of(&format!(
        "{BASE}[[plot]]\nname = \"p\"\nx = \"no_such_column\"\ny = \"completed\"\n"
    ));
    assert_mentions(
        &msg,
        &["exp.toml", "plot[0].x", "no_such_column", "completed"],
    );
    let msg = err_of(&format!(
        "{BASE}[[plot]]\nname = \"p\"\nfile = \"timeseries\"\nx = \"time_s\"\ny = \"client_time_wait\"\n"
    ));
    assert_mentions(
        &msg,
        &["plot[0].file", "timeseries.csv", "[output] timeseries"],
    );
    let msg = err_of(&format!(
        "{BASE}[[plot]]\nname = \"p\"\nx = \"point\"\ny = \"completed\"\n[[plot]]\nname = \"p\"\nx = \"point\"\ny = \"reset\"\n"
    ));
    assert_mentions(&msg, &["plot[1].name", "earlier plot"]);
    let msg = err_of(&format!(
        "{BASE}[[plot]]\nname = \"p\"\nx = \"point\"\ny = \"completed\"\nkind = \"pie\"\n"
    ));
    assert_mentions(&msg, &["plot", "pie", "line", "scatter"]);
    let msg = err_of(&format!(
        "{BASE}[[plot]]\nname = \"p\"\nx = \"point\"\ny = \"completed\"\nx_kind = \"category\"\nx_log = true\n"
    ));
    assert_mentions(&msg, &["plot[0].x_log", "categorical"]);
    let msg = err_of(&format!(
        "{BASE}[[plot]]\nname = \"p\"\nx = \"point\"\ny = \"completed\"\nx_kind = \"words\"\n"
    ));
    assert_mentions(&msg, &["x_kind", "auto", "numeric", "category"]);
}

#[test]
fn timeseries_and_flood_limits() {
    let msg = err_of(&format!("{BASE}[output]\ntimeseries = \"1us\"\n"));
    assert_mentions(&msg, &["output.timeseries", "1000000"]);
    let msg = err_of(&format!("{BASE}[flood]\nrate = -1.0\n"));
    assert_mentions(&msg, &["flood.rate", "[0, 1e8]"]);
    let msg = err_of(&format!("{BASE}[flood]\nrat = 1.0\n"));
    assert_mentions(&msg, &["flood", "rat", "rate"]);
    let msg =
        err_of("[experiment]\nname = \"t\"\n[workload]\nserver_port = 65535\nserver_ports = 2\n");
    assert_mentions(&msg, &["workload.server_ports", "65535"]);
}

/// The binary's `--seed` stops at i64::MAX; a library caller passing more gets an error that
/// says so, not a wrapped negative seed.
#[test]
fn a_seed_beyond_a_toml_integer_is_an_error() {
    let o = Overrides {
        seed: Some(i64::MAX as u64 + 1),
        ..Overrides::default()
    };
    let msg = err_with(BASE, &o);
    assert_mentions(
        &msg,
        &["exp.toml", "experiment.seed", "9223372036854775807"],
    );
    let o = Overrides {
        seed: Some(i64::MAX as u64),
        ..Overrides::default()
    };
    let exp = parse(Path::new("exp.toml"), BASE, &o).unwrap();
    assert_eq!(exp.seed, i64::MAX as u64);
}

//! `tcpsim trace --pcap` read by an independent dissector: with the first data segment
//! dropped by a scripted fault, tshark must flag exactly the client's second copy as a
//! retransmission in a capture on the client, and nothing in one on the server (the lost copy
//! never reached it).
//!
//! Skipped (with a message) when `tshark` is not on PATH, unless `TCPSIM_REQUIRE_TSHARK=1`,
//! in which case a missing tshark fails the test.

mod common;

use std::process::Command;

const EXPERIMENT: &str = r#"
[experiment]
name = "rtx"
seed = 7
[link]
delay = "10ms"
[workload]
connections = 1
request_bytes = 100
response_bytes = 1000
[[fault]]
direction = "client_to_server"
connection = 0
action = "drop"
payload = "data"
"#;

fn tshark_available() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// One row per frame: (number, epoch time ns, tcp.len, retransmission flagged).
fn frames(pcap: &std::path::Path) -> Vec<(u32, u64, u32, bool)> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-T", "fields", "-E", "separator=,"])
        .args([
            "-e",
            "frame.number",
            "-e",
            "frame.time_epoch",
            "-e",
            "tcp.len",
        ])
        .args(["-e", "tcp.analysis.retransmission"])
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let (s, ns) = f[1].split_once('.').expect("seconds.nanoseconds");
            let ns = s.parse::<u64>().unwrap() * 1_000_000_000
                + format!("{ns:0<9}").parse::<u64>().unwrap();
            (
                f[0].parse().unwrap(),
                ns,
                f[2].parse().unwrap(),
                !f[3].is_empty(),
            )
        })
        .collect()
}

#[test]
fn tshark_flags_the_retransmitted_data_segment() {
    if !tshark_available() {
        if std::env::var("TCPSIM_REQUIRE_TSHARK").as_deref() == Ok("1") {
            panic!(
                "TCPSIM_REQUIRE_TSHARK=1 but `tshark` is not on PATH; install it with \
                 `DEBIAN_FRONTEND=noninteractive apt-get install -y tshark`"
            );
        }
        println!("skipped: tshark not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("rtx.toml");
    std::fs::write(&exp, EXPERIMENT).unwrap();
    let e = exp.to_str().unwrap();
    let client = dir.path().join("client.pcap");
    let server = dir.path().join("server.pcap");
    let csv = common::ok(&[
        "trace",
        e,
        "--connection",
        "0",
        "--format",
        "csv",
        "--pcap",
        client.to_str().unwrap(),
    ])
    .stdout;
    common::ok(&[
        "trace",
        e,
        "--connection",
        "0",
        "--pcap",
        server.to_str().unwrap(),
        "--capture-at",
        "server",
    ]);
    // The trace says when the client sent its request, and that the second send is the
    // retransmission.
    let mut r = csv::Reader::from_reader(csv.as_slice());
    let sends: Vec<(u64, String)> = r
        .records()
        .map(|x| x.unwrap())
        .filter(|row| &row[1] == "client" && &row[2] == "send" && &row[9] == "100")
        .map(|row| (row[0].parse().unwrap(), row[15].to_string()))
        .collect();
    assert_eq!(sends.len(), 2, "{sends:?}");
    assert_eq!(sends[1].1, "retransmission");

    let c = frames(&client);
    let data: Vec<_> = c.iter().filter(|f| f.2 == 100).collect();
    assert_eq!(data.len(), 2, "{c:?}");
    assert_eq!(
        (data[0].1, data[1].1),
        (sends[0].0, sends[1].0),
        "simulated ns"
    );
    assert!(!data[0].3, "the original is not a retransmission: {c:?}");
    assert!(data[1].3, "tshark flags the second copy: {c:?}");
    let flagged: Vec<u32> = c.iter().filter(|f| f.3).map(|f| f.0).collect();
    assert_eq!(flagged, [data[1].0], "exactly that frame: {c:?}");
    assert_eq!(
        data[1].0, 5,
        "SYN, SYN|ACK, ACK, lost data, its retransmission"
    );

    let s = frames(&server);
    assert_eq!(s.iter().filter(|f| f.2 == 100).count(), 1, "{s:?}");
    assert!(
        s.iter().all(|f| !f.3),
        "no retransmission seen on the server: {s:?}"
    );
}

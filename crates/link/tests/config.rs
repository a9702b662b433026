//! TOML form and validation of `LinkConfig` and `Fault`.

use link::flags::{ACK, FIN};
use link::*;
use sim_core::SimDuration;

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

#[test]
fn empty_table_gives_documented_defaults() {
    let cfg: LinkConfig = toml::from_str("").unwrap();
    assert_eq!(cfg, LinkConfig::default());
    assert_eq!(cfg.delay, ms(10));
    assert_eq!(cfg.max_lifetime, Some(SimDuration::from_secs(120)));
    assert_eq!((cfg.loss, cfg.reorder, cfg.duplicate), (0.0, 0.0, 0.0));
    assert_eq!(
        (cfg.bandwidth, cfg.queue_limit_packets, cfg.burst.clone()),
        (None, None, None)
    );
    assert!(!cfg.is_random());
    cfg.validate().unwrap();
}

#[test]
fn full_link_table_deserializes() {
    let cfg: LinkConfig = toml::from_str(
        r#"
        delay = "25ms"
        jitter = "2ms"
        loss = 0.01
        reorder = 0.05
        reorder_delay = "3ms"
        duplicate = 0.001
        bandwidth = "100Mbps"
        queue_limit_packets = 1000
        max_lifetime = "30s"
        [burst]
        p = 0.001
        r = 0.3
        "#,
    )
    .unwrap();
    assert_eq!(cfg.delay, ms(25));
    assert_eq!(cfg.jitter, ms(2));
    assert_eq!(cfg.bandwidth, Bandwidth::from_bps(100_000_000));
    assert_eq!(cfg.queue_limit_packets, Some(1000));
    assert_eq!(cfg.max_lifetime, Some(SimDuration::from_secs(30)));
    assert_eq!(
        cfg.burst,
        Some(GilbertElliott {
            p: 0.001,
            r: 0.3,
            loss_bad: 1.0,
            loss_good: 0.0
        })
    );
    cfg.validate().unwrap();
    // Serializing and reading back gives the same config.
    let text = toml::to_string(&cfg).unwrap();
    assert_eq!(toml::from_str::<LinkConfig>(&text).unwrap(), cfg);
}

#[test]
fn none_switches_off_optional_settings_and_round_trips() {
    let cfg: LinkConfig = toml::from_str("max_lifetime = \"none\"\nbandwidth = \"none\"").unwrap();
    assert_eq!((cfg.max_lifetime, cfg.bandwidth), (None, None));
    let text = toml::to_string(&cfg).unwrap();
    assert_eq!(toml::from_str::<LinkConfig>(&text).unwrap(), cfg);
    // An integer bandwidth is bits per second.
    let cfg: LinkConfig = toml::from_str("bandwidth = 9600").unwrap();
    assert_eq!(cfg.bandwidth, Bandwidth::from_bps(9600));
    // JSON null works too.
    let cfg: LinkConfig = serde_json::from_str(r#"{"max_lifetime": null}"#).unwrap();
    assert_eq!(cfg.max_lifetime, None);
}

#[test]
fn unknown_keys_and_bad_values_are_rejected_with_names() {
    let err = toml::from_str::<LinkConfig>("delay = \"10ms\"\nlos = 0.1")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown field") && err.contains("los"),
        "{err}"
    );
    let err = toml::from_str::<LinkConfig>("[burst]\nq = 0.1")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field") && err.contains('q'), "{err}");
    let err = toml::from_str::<LinkConfig>("delay = 10")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no unit"), "{err}");
    let err = toml::from_str::<LinkConfig>("bandwidth = \"10 furlongs\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("Mbps"), "{err}");
    let err = toml::from_str::<LinkConfig>("bandwidth = 0")
        .unwrap_err()
        .to_string();
    assert!(err.contains("zero"), "{err}");
    let err = toml::from_str::<LinkConfig>("max_lifetime = \"forever\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("forever"), "{err}");
}

fn field_of(cfg: LinkConfig) -> &'static str {
    cfg.validate().unwrap_err().field
}

#[test]
fn validation_names_the_field_and_the_allowed_values() {
    let d = LinkConfig::default;
    assert_eq!(field_of(LinkConfig { loss: 1.5, ..d() }), "loss");
    assert_eq!(
        field_of(LinkConfig {
            loss: f64::NAN,
            ..d()
        }),
        "loss"
    );
    assert_eq!(
        field_of(LinkConfig {
            reorder: -0.1,
            reorder_delay: ms(1),
            ..d()
        }),
        "reorder"
    );
    assert_eq!(
        field_of(LinkConfig {
            duplicate: 2.0,
            ..d()
        }),
        "duplicate"
    );
    let ge = GilbertElliott::default;
    assert_eq!(
        field_of(LinkConfig {
            burst: Some(GilbertElliott { p: 1.1, ..ge() }),
            ..d()
        }),
        "burst.p"
    );
    assert_eq!(
        field_of(LinkConfig {
            burst: Some(GilbertElliott { r: -1.0, ..ge() }),
            ..d()
        }),
        "burst.r"
    );
    assert_eq!(
        field_of(LinkConfig {
            burst: Some(GilbertElliott {
                loss_bad: 3.0,
                ..ge()
            }),
            ..d()
        }),
        "burst.loss_bad"
    );
    assert_eq!(
        field_of(LinkConfig {
            burst: Some(GilbertElliott {
                loss_good: 3.0,
                ..ge()
            }),
            ..d()
        }),
        "burst.loss_good"
    );
    assert_eq!(
        field_of(LinkConfig {
            reorder: 0.1,
            ..d()
        }),
        "reorder_delay"
    );
    assert_eq!(
        field_of(LinkConfig {
            queue_limit_packets: Some(10),
            ..d()
        }),
        "queue_limit_packets"
    );
    let bw = Bandwidth::from_bps(1_000_000);
    assert_eq!(
        field_of(LinkConfig {
            bandwidth: bw,
            queue_limit_packets: Some(0),
            ..d()
        }),
        "queue_limit_packets"
    );
    let huge = Some(MAX_QUEUE_LIMIT_PACKETS + 1);
    assert_eq!(
        field_of(LinkConfig {
            bandwidth: bw,
            queue_limit_packets: huge,
            ..d()
        }),
        "queue_limit_packets"
    );
    assert_eq!(
        field_of(LinkConfig {
            max_lifetime: Some(SimDuration::ZERO),
            ..d()
        }),
        "max_lifetime"
    );
    LinkConfig {
        bandwidth: bw,
        queue_limit_packets: Some(MAX_QUEUE_LIMIT_PACKETS),
        ..d()
    }
    .validate()
    .unwrap();

    let err = LinkConfig { loss: 1.5, ..d() }.validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        "loss: must be a probability in [0, 1], got 1.5"
    );
    let err = LinkConfig {
        reorder: 0.1,
        ..d()
    }
    .validate()
    .unwrap_err();
    assert!(err.message.contains("positive"), "{err}");
}

#[test]
fn fault_table_deserializes_with_defaults() {
    let f: Fault = toml::from_str(
        r#"
        direction = "client_to_server"
        action = "drop"
        flags = "ack"
        payload = "empty"
        after_fin = true
        "#,
    )
    .unwrap();
    assert_eq!(
        f,
        Fault {
            flags: Some(FlagSet(ACK)),
            payload: PayloadMatch::Empty,
            after_fin: true,
            ..Fault::new(Direction::ClientToServer, FaultAction::Drop)
        }
    );
    assert_eq!((f.nth, f.count, f.connection, f.delay), (1, 1, None, None));
    f.validate().unwrap();

    let f: Fault = toml::from_str(
        r#"
        direction = "server_to_client"
        connection = 3
        action = "delay"
        nth = 2
        count = 5
        flags = "FIN|ACK"
        delay = "300ms"
        "#,
    )
    .unwrap();
    assert_eq!(f.direction, Direction::ServerToClient);
    assert_eq!((f.connection, f.nth, f.count), (Some(3), 2, 5));
    assert_eq!(
        (f.flags, f.delay),
        (Some(FlagSet(FIN | ACK)), Some(ms(300)))
    );
    f.validate().unwrap();
    let text = toml::to_string(&f).unwrap();
    assert_eq!(toml::from_str::<Fault>(&text).unwrap(), f);
}

#[test]
fn fault_table_rejects_unknown_keys_and_bad_flags() {
    let base = "direction = \"client_to_server\"\naction = \"drop\"\n";
    let err = toml::from_str::<Fault>(&format!("{base}nht = 2"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown field") && err.contains("nht"),
        "{err}"
    );
    let err = toml::from_str::<Fault>(&format!("{base}flags = \"SYN|FOO\""))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("FOO") && err.contains("FIN, SYN, RST, PSH, ACK"),
        "{err}"
    );
    let err = toml::from_str::<Fault>("direction = \"sideways\"\naction = \"drop\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("client_to_server"), "{err}");
    assert!(
        toml::from_str::<Fault>("action = \"drop\"").is_err(),
        "direction is required"
    );
}

#[test]
fn fault_validation() {
    let drop = || Fault::new(Direction::ClientToServer, FaultAction::Drop);
    let field = |f: Fault| f.validate().unwrap_err().field;
    assert_eq!(field(Fault { nth: 0, ..drop() }), "nth");
    assert_eq!(field(Fault { count: 0, ..drop() }), "count");
    assert_eq!(
        field(Fault {
            delay: Some(ms(5)),
            ..drop()
        }),
        "delay"
    );
    assert_eq!(
        field(Fault {
            flags: Some("PSH|ACK".parse().unwrap()),
            ..drop()
        }),
        "flags"
    );
    let delay = || Fault::new(Direction::ClientToServer, FaultAction::Delay);
    assert_eq!(field(delay()), "delay");
    assert_eq!(
        field(Fault {
            delay: Some(SimDuration::ZERO),
            ..delay()
        }),
        "delay"
    );
    Fault {
        delay: Some(ms(5)),
        ..delay()
    }
    .validate()
    .unwrap();
    Fault {
        nth: u32::MAX,
        count: u32::MAX,
        ..drop()
    }
    .validate()
    .unwrap();
    let msg = delay().validate().unwrap_err().to_string();
    assert!(
        msg.starts_with("delay: is required when action = \"delay\""),
        "{msg}"
    );
}

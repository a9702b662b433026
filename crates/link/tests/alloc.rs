//! The per-packet path must not allocate in steady state. `allocation_counter` installs a
//! counting global allocator in this test binary and counts the allocations of this test's
//! own thread.

use link::flags::{ACK, FIN, SYN};
use link::*;
use sim_core::{SimDuration, SimRng, SimTime};

#[test]
fn transmit_does_not_allocate_in_steady_state() {
    let cfg = LinkConfig {
        jitter: SimDuration::from_millis(2),
        loss: 0.05,
        burst: Some(GilbertElliott {
            p: 0.01,
            r: 0.3,
            ..GilbertElliott::default()
        }),
        reorder: 0.1,
        reorder_delay: SimDuration::from_millis(1),
        duplicate: 0.01,
        bandwidth: Some("100Mbps".parse().unwrap()),
        queue_limit_packets: Some(64),
        ..LinkConfig::default()
    };
    let faults = [
        Fault {
            flags: Some(FlagSet(SYN)),
            ..Fault::new(Direction::ClientToServer, FaultAction::Drop)
        },
        Fault {
            connection: Some(3),
            nth: 5,
            count: 10,
            ..Fault::new(Direction::ClientToServer, FaultAction::Duplicate)
        },
    ];
    let mut l = Link::new(
        Direction::ClientToServer,
        cfg,
        &faults,
        SimRng::stream(9, 0, 0, 1),
    )
    .unwrap();
    let flags = [SYN, ACK, ACK | FIN, ACK];
    let send = |l: &mut Link, i: u64| {
        let p = PacketInfo {
            conn: i % 16,
            flags: flags[(i % 4) as usize],
            payload_len: 1000,
            wire_len: 1040,
            after_fin: false,
        };
        // 10 us apart: the 83 us serialization time keeps the queue full, so drop-tail is exercised.
        l.transmit(SimTime::from_nanos(i * 10_000), &p)
    };
    // Warm-up: every connection seen once, queue at its limit.
    for i in 0..10_000 {
        send(&mut l, i);
    }
    let steady = allocation_counter::measure(|| {
        for i in 10_000..110_000 {
            send(&mut l, i);
        }
    });
    assert_eq!(steady.count_total, 0, "{steady:?}");
    let s = l.stats();
    assert!(
        s.dropped_queue > 0 && s.dropped_fault > 0 && s.dropped_loss > 0 && s.duplicated > 0,
        "{s:?}"
    );
}

/// The counter sees allocations made on this thread: the check above could fail.
#[test]
fn allocations_are_counted() {
    let boxes = allocation_counter::measure(|| {
        let v: Vec<Box<u64>> = (0..1_000u64).map(Box::new).collect();
        std::hint::black_box(v);
    });
    assert!(boxes.count_total >= 1_000, "{boxes:?}");
}

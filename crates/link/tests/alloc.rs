//! The per-packet path must not allocate in steady state. Counts allocations made by this
//! test's own thread with a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use link::flags::{ACK, FIN, SYN};
use link::*;
use sim_core::{SimDuration, SimRng, SimTime};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

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
    let before = allocs();
    for i in 10_000..110_000 {
        send(&mut l, i);
    }
    assert_eq!(allocs() - before, 0);
    let s = l.stats();
    assert!(
        s.dropped_queue > 0 && s.dropped_fault > 0 && s.dropped_loss > 0 && s.duplicated > 0,
        "{s:?}"
    );
}

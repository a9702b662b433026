//! The deterministic core of tcpsim: an event queue and random-number streams.
//!
//! * [`queue`]: [`EventQueue`], a hierarchical timing wheel ordered by (time, insertion order),
//!   with O(1) schedule and cancel and no allocation per event in steady state; [`HeapQueue`],
//!   a binary-heap reference model with the same methods; and [`run`], the main event loop.
//! * [`rng`]: [`SimRng`], a ChaCha8 stream derived from (seed, sweep point, replication,
//!   component), identical on every platform.
//!
//! The crate knows nothing of TCP: events are an opaque type parameter `E`.

pub use sim_time::{SimDuration, SimTime};

pub mod queue;
pub mod rng;

pub use queue::{
    run, EventHandle, EventQueue, HeapQueue, RunLimits, ScheduleError, StopReason,
    DEFAULT_MAX_PENDING,
};
pub use rng::SimRng;

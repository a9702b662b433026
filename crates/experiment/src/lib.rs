//! tcpsim experiments: a TOML file becomes a validated [`Experiment`] (with its sweep expanded),
//! each (sweep point, replication) is simulated by [`engine::run`], and the results are written
//! as CSV by [`output`]. [`engine::run_traced`] re-runs one of them and records one
//! connection's every event ([`trace`]).

pub mod capture;
pub mod config;
pub mod current;
pub mod engine;
pub mod error;
pub mod ladder;
pub mod output;
mod rectable;
pub mod stats;
pub mod timeseries;
pub mod trace;

pub use config::{load, parse, Experiment, Overrides, RunConfig};

/// Whether this build used the committed profile of `benches/pgo/` (profile-guided
/// optimization, applied by `.cargo/pgo-rustc`). It changes speed only, never a result:
/// `run.json` records it next to the speed it explains.
pub const PGO_BUILD: bool = cfg!(tcpsim_pgo);
pub use error::ExperimentError;

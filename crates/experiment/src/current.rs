//! Which run the current thread is simulating.
//!
//! A run that fails cleanly says its seed in its [`RunError`](crate::engine::RunError). A
//! panic is a bug in tcpsim, and without this it would name neither the run nor the seed:
//! the runners ([`output::execute`](crate::output::execute), `tcpsim trace`) mark the run
//! they are in, and the binary's panic hook reads the mark to say how to reproduce it.

use std::cell::RefCell;
use std::fmt::Write;
use std::path::PathBuf;

use crate::Experiment;

/// One run of an experiment file: what reproduces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunContext {
    pub file: PathBuf,
    /// The `--set` overrides the experiment was loaded with.
    pub overrides: Vec<String>,
    pub seed: u64,
    pub point: usize,
    pub replication: u32,
}

impl RunContext {
    pub fn of(exp: &Experiment, point: usize, replication: u32) -> RunContext {
        RunContext {
            file: exp.path.clone(),
            overrides: exp.overrides.clone(),
            seed: exp.seed,
            point,
            replication,
        }
    }

    /// The commands that re-run this run alone: `tcpsim trace` simulates exactly the run
    /// (tracing one connection does not change it), on one thread.
    pub fn reproduce_hint(&self) -> String {
        let mut sets = String::new();
        // `--seed` is printed anyway; loading with it also recorded it as an override.
        for s in self
            .overrides
            .iter()
            .filter(|s| !s.starts_with("experiment.seed="))
        {
            let _ = write!(sets, " --set {}", shell_quote(s));
        }
        format!(
            "tcpsim: this is a bug in tcpsim. It happened in sweep point {p}, replication {r} \
             of {f} (seed {seed}). To reproduce it alone:\n  \
             tcpsim trace {f} --seed {seed} --point {p} --replication {r} --connection 0{sets}",
            p = self.point,
            r = self.replication,
            f = shell_quote(&self.file.display().to_string()),
            seed = self.seed,
        )
    }
}

/// `s` as one POSIX shell word: single-quoted, with each `'` written as `'\''`.
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

thread_local! {
    static CURRENT: RefCell<Option<RunContext>> = const { RefCell::new(None) };
}

/// The run this thread is inside, if any.
pub fn current_run() -> Option<RunContext> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Marks this thread as running one run until dropped, which restores the previous mark,
/// also when a panic unwinds through it (a rayon worker goes on to other runs).
#[must_use = "the mark lasts only as long as the scope value"]
pub struct RunScope {
    prev: Option<RunContext>,
    /// Not `Send`: the mark belongs to the thread that set it.
    _thread: std::marker::PhantomData<*const ()>,
}

/// Set to `POINT,REPLICATION` (say `1,0`), this makes that run panic as soon as it is marked:
/// a panic is a bug, so without this no test could check, end to end, that one names its run
/// and seed (`crates/tcpsim/tests/cli.rs`). Read once per run, never per event.
pub const INJECT_PANIC_ENV: &str = "TCPSIM_INJECT_PANIC";

impl RunScope {
    pub fn enter(run: RunContext) -> RunScope {
        let target = format!("{},{}", run.point, run.replication);
        let scope = RunScope {
            prev: CURRENT.with(|c| c.replace(Some(run))),
            _thread: std::marker::PhantomData,
        };
        if std::env::var_os(INJECT_PANIC_ENV).is_some_and(|v| v == target.as_str()) {
            panic!("{INJECT_PANIC_ENV}={target}: this run panics on purpose");
        }
        scope
    }
}

impl Drop for RunScope {
    fn drop(&mut self) {
        let prev = self.prev.take();
        CURRENT.with(|c| *c.borrow_mut() = prev);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seed: u64, point: usize) -> RunContext {
        RunContext {
            file: PathBuf::from("experiments/basic.toml"),
            overrides: vec!["link.loss=0.01".into()],
            seed,
            point,
            replication: 1,
        }
    }

    #[test]
    fn a_scope_marks_its_thread_and_restores_on_drop() {
        assert_eq!(current_run(), None);
        {
            let _a = RunScope::enter(run(7, 3));
            assert_eq!(current_run(), Some(run(7, 3)));
            {
                let _b = RunScope::enter(run(9, 0));
                assert_eq!(current_run(), Some(run(9, 0)));
            }
            assert_eq!(current_run(), Some(run(7, 3)));
            // Other threads are not marked.
            assert_eq!(std::thread::spawn(current_run).join().unwrap(), None);
        }
        assert_eq!(current_run(), None);
    }

    #[test]
    fn a_panic_sees_the_mark_and_unwinding_clears_it() {
        let seen = std::panic::catch_unwind(|| {
            let _a = RunScope::enter(run(7, 3));
            // What a panic hook sees: it runs before unwinding, with the mark still set.
            std::panic::resume_unwind(Box::new(current_run()));
        })
        .unwrap_err();
        assert_eq!(
            seen.downcast_ref::<Option<RunContext>>(),
            Some(&Some(run(7, 3)))
        );
        assert_eq!(current_run(), None);
    }

    #[test]
    fn the_hint_names_the_run_and_the_command_that_repeats_it() {
        let hint = run(7, 3).reproduce_hint();
        assert!(hint.contains("sweep point 3, replication 1"), "{hint}");
        assert!(hint.contains("seed 7"), "{hint}");
        assert!(
            hint.ends_with(
                "tcpsim trace experiments/basic.toml --seed 7 --point 3 --replication 1 \
                 --connection 0 --set 'link.loss=0.01'"
            ),
            "{hint}"
        );
    }

    /// The printed command must survive a shell: odd paths and values are quoted, and the
    /// seed appears once (loading with `--seed` also records it as an override).
    #[test]
    fn the_hint_quotes_for_the_shell_and_names_the_seed_once() {
        let ctx = RunContext {
            file: PathBuf::from("my exps/it's.toml"),
            overrides: vec!["experiment.seed=5".into(), "tcp.profile=it's".into()],
            seed: 5,
            point: 0,
            replication: 0,
        };
        let hint = ctx.reproduce_hint();
        assert!(
            hint.ends_with(
                "tcpsim trace 'my exps/it'\\''s.toml' --seed 5 --point 0 --replication 0 \
                 --connection 0 --set 'tcp.profile=it'\\''s'"
            ),
            "{hint}"
        );
        assert_eq!(hint.matches("5").count(), 2, "{hint}");
    }
}

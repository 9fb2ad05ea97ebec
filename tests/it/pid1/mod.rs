//! PID 1 black-box tests (IDs from PID1-TESTS.md): fnshim as the init of a fresh PID namespace, driven from the host.
//!
//! Every case of the plan, A1–E4, is here. Every run goes through
//! `unshare --pid --fork --mount-proc --kill-child fnshim …` (B7 alone runs the shim directly; E3
//! uses `--root` instead of `--mount-proc`; A7, A9 and E4 put a small wrapper before the shim
//! that sets up what it inherits, then execs it). Fixtures print `ready` once their handlers are installed; the harness waits
//! for that line before it signals. Bounds are generous for a loaded 2-core machine, and every wait
//! has a deadline plus a per-run watchdog, so no test can hang.

use std::fmt::Debug;
use std::ops::RangeBounds;
use std::thread;
use std::time::{Duration, Instant};

mod exit_codes;
mod harness;
mod reaping;
mod robustness;
mod shutdown;
mod signals;

use self::harness::{
    context_switches, cpu_ticks, descendants, fixture, get_in_background, ns, proc_stat,
    status_field, wait_refused, Proc, Shim, Spec, SHIM,
};

const SEC: Duration = Duration::from_secs(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Asserts that `at` came `bounds` after `from`, with the run's report on failure.
fn assert_took(
    shim: &Shim,
    what: &str,
    from: Instant,
    at: Instant,
    bounds: impl RangeBounds<Duration> + Debug,
) {
    let took = at.saturating_duration_since(from);
    assert!(
        bounds.contains(&took),
        "{what}: took {took:?}, expected {bounds:?}\n{}",
        shim.report()
    );
}

/// The plain-init run of one fixture script as PID 1.
fn run_fixture(name: &str, args: &[&str]) -> Spec {
    let path = fixture(name);
    let mut all = vec!["--", path.as_str()];
    all.extend_from_slice(args);
    ns(&all)
}

/// Proxy mode (PORT=0, JSON logs) with the given SHUTDOWN_TIMEOUT.
fn proxy_fixture(args: &[&str], shutdown: &str) -> Spec {
    let paths: Vec<String> = args.iter().map(|a| fixture(a)).collect();
    let mut all = vec!["--"];
    all.extend(paths.iter().map(String::as_str));
    ns(&all)
        .env("PORT", "0")
        .env("LOG_FORMAT", "json")
        .env("SHUTDOWN_TIMEOUT", shutdown)
}

/// Polls `cond` every few ms until it holds or `limit` passes; returns whether it held.
fn poll_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(ms(5));
    }
}

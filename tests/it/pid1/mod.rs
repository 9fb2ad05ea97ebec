//! PID 1 black-box tests (IDs from PID1-TESTS.md): fnshim as the init of a fresh PID namespace, driven from the host.
//!
//! Every case of the plan, A1–E4, is here. Every run goes through
//! `unshare --pid --fork --mount-proc --kill-child fnshim …` (B7 alone runs the shim directly; E3
//! uses `--root` instead of `--mount-proc`; A7, A9 and E4 put a small wrapper before the shim
//! that sets up what it inherits, then execs it). The runs are `crate::support`'s (`ShimCmd::pid1`);
//! this folder holds only the tests. Fixtures print `ready` once their handlers are installed; each
//! test waits for that line before it signals. Bounds are generous for a loaded 2-core machine, and every wait
//! has a deadline plus a per-run watchdog, so no test can hang.

use std::thread;
use std::time::{Duration, Instant};

mod exit_codes;
mod reaping;
mod robustness;
mod shutdown;
mod signals;

use crate::support::{
    context_switches, cpu_ticks, descendants, fixture, fnshim, get_in_background, proc_stat,
    python, status_field, wait_for, wait_refused, Function, Proc, ShimCmd, SHIM, STARTUP,
};

const SEC: Duration = Duration::from_secs(1);

/// How long a run may take to start, do what it was asked and exit, on a loaded machine: a wait
/// that fails only on a hang. The plan's short timings are asserted separately, with
/// `assert_took`, and even those bounds leave seconds for a busy scheduler.
const EXIT: Duration = Duration::from_secs(15);

/// The plan's "at once" (≤ 100 ms on an idle machine) with seconds to spare for a busy
/// scheduler: still far below what a missed signal costs (the 8 s default SHUTDOWN_TIMEOUT, or
/// a fixture's 30 s sleep).
const PROMPT: Duration = Duration::from_secs(3);

/// D8: no run may outlive this, whatever the fixture does.
const WATCHDOG: Duration = Duration::from_secs(40);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// fnshim with `args` as PID 1 of a fresh namespace, under the watchdog.
fn ns(args: &[&str]) -> ShimCmd {
    fnshim().pid1().watchdog(WATCHDOG).args(args)
}

/// The plain-init run of one `tests/fixtures/pid1` script as PID 1.
fn run_fixture(name: &str, args: &[&str]) -> ShimCmd {
    ns(&["--"]).arg(fixture(&format!("pid1/{name}"))).args(args)
}

/// Proxy mode (PORT=0) of `tests/fixtures/pid1` scripts, with the given
/// SHUTDOWN_TIMEOUT.
fn proxy_fixture(scripts: &[&str], shutdown: &str) -> ShimCmd {
    let paths = scripts.iter().map(|s| fixture(&format!("pid1/{s}")));
    ns(&["--"])
        .args(paths)
        .env("PORT", "0")
        .env("SHUTDOWN_TIMEOUT", shutdown)
}

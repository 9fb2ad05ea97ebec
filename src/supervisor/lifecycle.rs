//! The lifecycle engine's parts: one way to wait on a child (or any work) while obeying
//! [`Controls`], the one restart [`Backoff`], and the process [`Groups`] that signals are passed
//! on to. Plain init, the proxied worker, each handler slot and each install step are written with
//! these; the shutdown sequence of SPEC §7 is [`super::shutdown::run`].

use std::future::Future;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use libc::c_int;
use tokio::time::{sleep, timeout_at, Instant};

use super::control::{Control, Controls, Stop};
use super::process::Child;
use super::reaper::WaitStatus;
use super::signals;

/// What ended a [`run_child`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Exited(WaitStatus),
    Stop(Stop),
    Deadline,
}

/// Runs `work` until it completes or a stop arrives; signals to pass on go to `forward` meanwhile.
/// The stop is returned, not acted on: what it means depends on the caller's phase.
pub async fn until<F: Future>(
    work: F,
    controls: &mut Controls,
    mut forward: impl FnMut(c_int),
) -> Result<F::Output, Stop> {
    tokio::pin!(work);
    loop {
        tokio::select! {
            done = &mut work => return Ok(done),
            control = controls.recv() => match control {
                Control::Stop(stop) => return Err(stop),
                Control::Forward(sig) => forward(sig),
            },
        }
    }
}

/// The primitive: runs `child` until it exits, a stop arrives or `deadline` passes, passing
/// other signals on to its process group. The child is left as it is; the caller decides.
pub async fn run_child(
    child: &mut Child,
    controls: &mut Controls,
    deadline: Option<Instant>,
) -> Ended {
    let pid = child.pid;
    let exited = async {
        match deadline {
            Some(at) => timeout_at(at, child.wait()).await.ok(),
            None => Some(child.wait().await),
        }
    };
    match until(exited, controls, |sig| signals::kill_group(pid, sig)).await {
        Ok(Some(status)) => Ended::Exited(status),
        Ok(None) => Ended::Deadline,
        Err(stop) => Ended::Stop(stop),
    }
}

/// [`run_child`] without a deadline.
pub async fn wait_child(child: &mut Child, controls: &mut Controls) -> Result<WaitStatus, Stop> {
    let pid = child.pid;
    until(child.wait(), controls, |sig| signals::kill_group(pid, sig)).await
}

/// Waits out a restart delay; a stop ends it. There is no worker then, so nothing is passed on.
pub async fn pause(delay: Duration, controls: &mut Controls) -> Result<(), Stop> {
    until(sleep(delay), controls, |_| {}).await
}

/// Restart delays, for workers that fail while starting: 100 ms, doubling to 5 s. A worker that
/// served (was ready for at least a second) before it died is started again at once, and the
/// delays start over: an OOM-killed function under load must not wait longer after each
/// crash. Healthy time is measured from ready, not from start, so a slow start never counts.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    pub const FIRST: Duration = Duration::from_millis(100);
    pub const MAX: Duration = Duration::from_secs(5);
    /// Ready this long before it died: the worker served, and comes back at once.
    pub const SERVED_AFTER: Duration = Duration::from_secs(1);

    pub fn new() -> Backoff {
        Backoff { next: Self::FIRST }
    }

    /// The delay before the next start; the one after it is twice as long (at least
    /// [`Self::FIRST`]), up to [`Self::MAX`].
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).clamp(Self::FIRST, Self::MAX);
        delay
    }

    /// A worker died after being ready for `healthy`: one that served starts again at once.
    pub fn exited_after(&mut self, healthy: Duration) {
        if healthy >= Self::SERVED_AFTER {
            self.next = Duration::ZERO;
        }
    }
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff::new()
    }
}

/// The process groups of the workers, one place per worker (0 while it has none): where
/// signals are passed on to, and what a shutdown SIGKILLs.
#[derive(Clone, Debug)]
pub struct Groups(Arc<[AtomicI32]>);

impl Groups {
    pub fn new(places: usize) -> Groups {
        Groups((0..places).map(|_| AtomicI32::new(0)).collect())
    }

    /// One worker's group (none for 0).
    pub fn of(pid: i32) -> Groups {
        let groups = Groups::new(1);
        groups.set(0, pid);
        groups
    }

    pub fn set(&self, place: usize, pid: i32) {
        self.0[place].store(pid, Ordering::Release);
    }

    /// The worker in `place` (0: none).
    pub fn pid(&self, place: usize) -> i32 {
        self.0[place].load(Ordering::Acquire)
    }

    pub fn signal(&self, sig: c_int) {
        for pid in self.0.iter() {
            signals::kill_group(pid.load(Ordering::Acquire), sig);
        }
    }

    /// SIGKILLs every group; returns whether there was any.
    pub fn kill(&self) -> bool {
        self.signal(libc::SIGKILL);
        self.0.iter().any(|pid| pid.load(Ordering::Acquire) > 0)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::ffi::OsString;
    use std::sync::OnceLock;

    use super::*;
    use crate::supervisor::control::{ControlSender, TERMINATE};
    use crate::supervisor::process::{self, Spec};
    use crate::supervisor::reaper::Reaper;

    /// One reaper for every test of this binary, driven by a polling thread: the unit tests have
    /// no signal thread, and a `waitpid(-1)` per test would steal the others' children.
    pub(crate) fn reaper() -> &'static Reaper {
        static REAPER: OnceLock<&'static Reaper> = OnceLock::new();
        REAPER.get_or_init(|| {
            let reaper: &'static Reaper = Box::leak(Box::new(Reaper::new()));
            std::thread::spawn(move || loop {
                reaper.reap();
                std::thread::sleep(Duration::from_millis(2));
            });
            reaper
        })
    }

    /// Starts `sh -c script` in its own group, as every worker is.
    pub(crate) fn sh(script: &str) -> Child {
        let argv: Vec<OsString> = ["sh", "-c", script].map(OsString::from).to_vec();
        let spec = Spec {
            argv: &argv,
            cwd: None,
            env: Vec::new(),
            capture_output: false,
            take_terminal: false,
            worker_id: 0,
            tail: None,
        };
        process::spawn(reaper(), spec).expect("sh starts")
    }

    fn controls() -> (ControlSender, Controls) {
        Controls::channel()
    }

    #[tokio::test]
    async fn a_child_that_exits_ends_the_wait_with_its_status() {
        let (_tx, mut controls) = controls();
        let mut child = sh("exit 3");
        let ended = run_child(&mut child, &mut controls, None).await;
        assert_eq!(ended, Ended::Exited(WaitStatus(3 << 8)));
    }

    #[tokio::test]
    async fn a_stop_ends_the_wait_and_leaves_the_child_alone() {
        let (tx, mut controls) = controls();
        let mut child = sh("sleep 5");
        tx.stop();
        let ended = run_child(&mut child, &mut controls, None).await;
        assert!(matches!(
            ended,
            Ended::Stop(Stop {
                signal: TERMINATE,
                forced: false
            })
        ));
        assert_eq!(child.exited(), None);
        child.signal(libc::SIGKILL);
        assert_eq!(child.wait().await.signal(), Some(libc::SIGKILL));
    }

    #[tokio::test]
    async fn the_deadline_ends_the_wait() {
        let (_tx, mut controls) = controls();
        let mut child = sh("sleep 5");
        let begun = Instant::now();
        let deadline = Some(begun + Duration::from_millis(100));
        assert_eq!(
            run_child(&mut child, &mut controls, deadline).await,
            Ended::Deadline
        );
        assert!(begun.elapsed() < Duration::from_secs(2));
        child.signal(libc::SIGKILL);
        child.wait().await;
    }

    #[tokio::test]
    async fn a_forwarded_signal_reaches_the_child() {
        let (tx, mut controls) = controls();
        // The trap is set before `ready` is printed to the file, so the signal is not lost.
        let dir = tempfile::tempdir().unwrap();
        let ready = dir.path().join("ready");
        let script = format!(
            "trap 'exit 7' USR1; : > {}; while :; do sleep 0.01; done",
            ready.display()
        );
        let mut child = sh(&script);
        while !ready.exists() {
            sleep(Duration::from_millis(5)).await;
        }
        tx.send(Control::from_signal(libc::SIGUSR1));
        let ended = wait_child(&mut child, &mut controls).await;
        assert_eq!(ended, Ok(WaitStatus(7 << 8)));
    }

    #[tokio::test]
    async fn a_pause_passes_and_a_stop_cuts_it_short() {
        let (tx, mut controls) = controls();
        assert_eq!(
            pause(Duration::from_millis(10), &mut controls).await,
            Ok(())
        );
        tx.stop();
        let begun = Instant::now();
        assert!(pause(Duration::from_secs(5), &mut controls).await.is_err());
        assert!(begun.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn backoff_doubles_to_five_seconds() {
        let mut backoff = Backoff::new();
        let delays: Vec<u64> = (0..8)
            .map(|_| backoff.next_delay().as_millis() as u64)
            .collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    }

    #[test]
    fn a_worker_that_served_comes_back_at_once_and_the_delays_start_over() {
        let mut backoff = Backoff::new();
        for _ in 0..4 {
            backoff.next_delay();
        }
        backoff.exited_after(Duration::from_millis(999));
        assert_eq!(backoff.next_delay(), Duration::from_millis(1600));
        backoff.exited_after(Duration::from_secs(1));
        assert_eq!(backoff.next_delay(), Duration::ZERO);
        assert_eq!(backoff.next_delay(), Duration::from_millis(100));
        assert_eq!(backoff.next_delay(), Duration::from_millis(200));
    }

    #[tokio::test]
    async fn groups_signal_and_kill_what_they_hold() {
        assert!(!Groups::new(2).kill(), "no worker, nothing killed");
        let mut child = sh("sleep 5");
        let groups = Groups::new(2);
        groups.set(1, child.pid);
        assert!(groups.kill());
        assert_eq!(child.wait().await.signal(), Some(libc::SIGKILL));
    }
}

//! `Shim`, one running (or finished) fnshim and everything the test saw of it: its output
//! with timestamps, its exit, signals to it, HTTP to it, and a full report for failures.
//! Dropping it kills it and every descendant.

use std::fmt;
use std::fmt::Debug;
use std::io::{self, Write};
use std::ops::RangeBounds;
use std::os::fd::OwnedFd;
use std::process::{Child, ChildStdin, ExitStatus};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::lines::Lines;
use super::ns::{self, Watchdog};
use super::procs::{descendants, kill_tree};
use super::{wait_for, Conn, Request, Response, STARTUP};

pub struct Shim {
    /// What the test spawned: fnshim itself, or the `unshare` in front of it.
    child: Mutex<Child>,
    top: i32,
    in_ns: bool,
    cmdline: String,
    started: Instant,
    /// The exit status and when the test first saw it.
    exit: Mutex<Option<(ExitStatus, Instant)>>,
    host_pid: OnceLock<i32>,
    watchdog: Option<Watchdog>,
    stdin: Mutex<Option<ChildStdin>>,
    /// The read end of a `stderr_unread` pipe, held open until the run is dropped.
    _unread: Option<OwnedFd>,
    pub out: Lines,
    pub err: Lines,
}

impl Shim {
    pub(super) fn started(
        mut child: Child,
        cmdline: String,
        in_ns: bool,
        watchdog: Option<Duration>,
        unread: Option<OwnedFd>,
    ) -> Shim {
        let top = child.id() as i32;
        let err = match child.stderr.take() {
            Some(stderr) => Lines::pump(stderr),
            None => Lines::unread(),
        };
        Shim {
            out: Lines::pump(child.stdout.take().unwrap()),
            err,
            stdin: Mutex::new(child.stdin.take()),
            watchdog: watchdog.map(|limit| Watchdog::arm(top, limit)),
            _unread: unread,
            child: Mutex::new(child),
            top,
            in_ns,
            cmdline,
            started: Instant::now(),
            exit: Mutex::new(None),
            host_pid: OnceLock::new(),
        }
    }

    /// The shim's pid on the host: the only child of `unshare`, or the process spawned.
    pub fn host_pid(&self) -> i32 {
        if !self.in_ns {
            return self.top;
        }
        *self.host_pid.get_or_init(|| {
            ns::shim_pid(self.top)
                .unwrap_or_else(|| panic!("no child of unshare {}\n{self}", self.top))
        })
    }

    /// Sends `sig` from the host to the shim (as a platform does); returns when it was sent.
    pub fn signal(&self, sig: i32) -> Instant {
        let pid = self.host_pid();
        let at = Instant::now();
        // SAFETY: plain kill(2) on the shim this test started.
        let rc = unsafe { libc::kill(pid, sig) };
        let error = io::Error::last_os_error();
        assert_eq!(rc, 0, "kill({pid}, {sig}) failed: {error}\n{self}");
        at
    }

    /// Sends a signal to PID 1 from inside the namespace with `nsenter … kill`.
    pub fn nsenter_kill_1(&self, sig: &str) {
        assert!(self.in_ns, "nsenter_kill_1 on a shim outside a namespace");
        if let Err(out) = ns::nsenter_kill_1(self.top, sig) {
            panic!("nsenter kill {sig} 1: {out:?}\n{self}");
        }
    }

    pub fn send_stdin(&self, data: &[u8]) {
        let mut stdin = self.stdin.lock().unwrap();
        let pipe = stdin.as_mut().expect("spawned without .stdin()");
        let written = pipe.write_all(data).and_then(|()| pipe.flush());
        written.unwrap_or_else(|e| panic!("write stdin: {e}\n{self}"));
        *stdin = None;
    }

    /// Waits for an exact stdout line; returns when it arrived.
    pub fn wait_out(&self, line: &str, limit: Duration) -> Instant {
        let found = self.out.find(|l| l == line, Instant::now() + limit);
        found
            .map(|(at, _)| at)
            .unwrap_or_else(|| panic!("no stdout line {line:?} within {limit:?}\n{self}"))
    }

    pub fn stdout(&self) -> String {
        self.out.text()
    }

    pub fn stderr(&self) -> String {
        self.err.text()
    }

    /// The JSON log lines on stderr so far.
    pub fn logs(&self) -> Vec<Value> {
        let lines = self.err.lines();
        lines
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits for a JSON log line matching `pred`.
    pub fn wait_log(&self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        wait_for(timeout, || self.logs().into_iter().find(|v| pred(v)))
    }

    /// Asserts that `at` came `bounds` after `from`, with the report on failure.
    pub fn assert_took(
        &self,
        what: &str,
        from: Instant,
        at: Instant,
        bounds: impl RangeBounds<Duration> + Debug,
    ) {
        let took = at.saturating_duration_since(from);
        assert!(
            bounds.contains(&took),
            "{what}: took {took:?}, expected {bounds:?}\n{self}"
        );
    }
}

/// Exits: polling, waiting, asserting.
impl Shim {
    /// The exit status and when it came, if the run has ended (no waiting).
    fn exited(&self) -> Option<(ExitStatus, Instant)> {
        let mut exit = self.exit.lock().unwrap();
        if exit.is_none() {
            let status = self.child.lock().unwrap().try_wait().expect("try_wait");
            *exit = status.map(|s| (s, Instant::now()));
            if let (Some(_), Some(dog)) = (*exit, &self.watchdog) {
                dog.disarm();
            }
        }
        *exit
    }

    pub fn try_status(&self) -> Option<ExitStatus> {
        self.exited().map(|(status, _)| status)
    }

    /// The exit status and when it came, if the run ends within `limit` (no assertion, no kill).
    pub fn exit_within(&self, limit: Duration) -> Option<(ExitStatus, Instant)> {
        wait_for(limit, || self.exited())
    }

    /// Waits for the run to end and its output pipes to close. On timeout, kills the whole
    /// tree and fails with it and the report.
    pub fn wait_exit(&self, limit: Duration) -> ExitStatus {
        let Some((status, _)) = self.exit_within(limit) else {
            let tree = descendants(self.top);
            kill_tree(self.top);
            let status = self.child.lock().unwrap().wait().expect("wait");
            *self.exit.lock().unwrap() = Some((status, Instant::now()));
            panic!("did not exit within {limit:?}; killed with this tree: {tree:#?}\n{self}");
        };
        // Children in command mode may hold the pipes; do not wait on them for long.
        let deadline = Instant::now() + Duration::from_secs(2);
        self.out.wait_eof(deadline);
        self.err.wait_eof(deadline);
        status
    }

    /// The exit code; panics (with the report) if it died of a signal.
    pub fn wait_code(&self, limit: Duration) -> i32 {
        let status = self.wait_exit(limit);
        status
            .code()
            .unwrap_or_else(|| panic!("fnshim was killed by a signal\n{self}"))
    }

    /// Waits for the run to end and asserts its exit code; returns when it ended.
    pub fn expect_exit(&self, code: i32, limit: Duration) -> Instant {
        let status = self.wait_exit(limit);
        let fired = self.watchdog.as_ref().is_some_and(Watchdog::fired);
        assert!(!fired, "watchdog fired\n{self}");
        assert_eq!(status.code(), Some(code), "exit code\n{self}");
        self.exited().unwrap().1
    }
}

/// HTTP to a shim in proxy or handler mode.
impl Shim {
    /// The port from the "listening" log line; panics if the shim exits first.
    pub fn port(&self) -> u16 {
        let line = self
            .err
            .find(|l| listening_port(l).is_some(), Instant::now() + STARTUP);
        match line {
            Some((_, l)) => listening_port(&l).unwrap(),
            None => panic!("fnshim never logged a \"listening\" line with a port\n{self}"),
        }
    }

    /// Waits until GET /_/ready answers 200; returns the port.
    pub fn wait_ready(&self) -> u16 {
        let port = self.port();
        let ready = wait_for(STARTUP, || {
            if self.try_status().is_some() {
                panic!("fnshim exited before it was ready\n{self}");
            }
            let r = Conn::connect(port).and_then(|mut c| c.request(&Request::get("/_/ready")));
            r.ok().filter(|r| r.status == 200)
        });
        if ready.is_none() {
            panic!("GET /_/ready never answered 200\n{self}");
        }
        port
    }

    /// One request on a fresh connection; an I/O error fails the test with the report.
    pub fn send(&self, req: &Request) -> Response {
        let port = self.port();
        Conn::connect(port)
            .and_then(|mut c| c.request(req))
            .unwrap_or_else(|e| panic!("{} {}: {e}\n{self}", req.method, req.target))
    }

    pub fn get(&self, target: &str) -> Response {
        self.send(&Request::get(target))
    }
}

fn listening_port(line: &str) -> Option<u16> {
    let v: Value = serde_json::from_str(line).ok()?;
    if v["message"] != "listening" {
        return None;
    }
    v["port"].as_u64().and_then(|p| u16::try_from(p).ok())
}

impl Drop for Shim {
    fn drop(&mut self) {
        if self.try_status().is_none() {
            kill_tree(self.top);
            let _ = self.child.lock().unwrap().wait();
        } else if !self.in_ns {
            // The shim is gone but a buggy one may have left children behind (in a namespace
            // the kernel has killed them with PID 1).
            for p in descendants(self.top) {
                // SAFETY: kill(2) on processes descended from the shim this test started.
                unsafe { libc::kill(p.pid, libc::SIGKILL) };
            }
        }
    }
}

impl fmt::Display for Shim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.try_status();
        writeln!(f, "\n---- command\n{}", self.cmdline)?;
        let status = status.map_or("still running".into(), |s| s.to_string());
        writeln!(
            f,
            "---- status: {status} (after {:?})",
            self.started.elapsed()
        )?;
        if self.watchdog.as_ref().is_some_and(Watchdog::fired) {
            writeln!(f, "---- WATCHDOG FIRED")?;
        }
        writeln!(f, "---- stdout\n{}", clip_lines(&self.out.text()))?;
        writeln!(f, "---- stderr\n{}", clip_lines(&self.err.text()))
    }
}

/// Keeps reports readable when a test logs a 100 KB line.
fn clip_lines(text: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(|l| match l.char_indices().nth(600) {
            Some((i, _)) => format!("{}... [{} bytes]", &l[..i], l.len()),
            None => l.to_string(),
        })
        .collect();
    lines.join("\n")
}

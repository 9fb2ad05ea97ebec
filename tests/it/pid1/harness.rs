//! Namespace harness: spawns the shim under `unshare`, reads its output line by line with
//! timestamps, finds its host pid, walks the process table, and guards every run with a watchdog.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub const SHIM: &str = env!("CARGO_BIN_EXE_fnshim");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pid1");
const WATCHDOG: Duration = Duration::from_secs(40);
const POLL: Duration = Duration::from_millis(5);

pub fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

/// A run to start: the shim's own arguments, extra env, cwd, and whether stdin is a pipe.
pub struct Spec {
    pid1: bool,
    args: Vec<String>,
    env: Vec<(String, String)>,
    cwd: Option<PathBuf>,
    stdin: bool,
    via: Vec<String>,
    root: Option<PathBuf>,
    stderr_unread: bool,
}

/// The shim as PID 1 of a new PID namespace.
pub fn ns(shim_args: &[&str]) -> Spec {
    Spec {
        pid1: true,
        ..Spec::bare(shim_args)
    }
}

impl Spec {
    /// The shim run directly by the test (not PID 1).
    pub fn bare(shim_args: &[&str]) -> Spec {
        let args = shim_args.iter().map(|a| a.to_string()).collect();
        Spec {
            pid1: false,
            args,
            env: Vec::new(),
            cwd: None,
            stdin: false,
            via: Vec::new(),
            root: None,
            stderr_unread: false,
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Spec {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn cwd(mut self, dir: &Path) -> Spec {
        self.cwd = Some(dir.into());
        self
    }

    pub fn stdin(mut self) -> Spec {
        self.stdin = true;
        self
    }

    /// A program that is PID 1 first and then execs the shim (given as its first argument).
    pub fn via(mut self, wrapper: &[&str]) -> Spec {
        self.via = wrapper.iter().map(|a| a.to_string()).collect();
        self
    }

    /// Runs `/fnshim` with `dir` as the root directory (no /proc is mounted).
    pub fn root(mut self, dir: &Path) -> Spec {
        self.root = Some(dir.into());
        self
    }

    /// The shim's stderr is a pipe that the harness holds open and never reads.
    pub fn stderr_unread(mut self) -> Spec {
        self.stderr_unread = true;
        self
    }

    fn command(&self) -> Command {
        let mut cmd = if self.pid1 {
            let mut c = Command::new("unshare");
            c.args(["--pid", "--fork", "--kill-child"]);
            match &self.root {
                Some(dir) => c.arg(format!("--root={}", dir.display())),
                None => c.arg("--mount-proc"),
            };
            c.args(&self.via);
            c.arg(if self.root.is_some() { "/fnshim" } else { SHIM });
            c
        } else {
            Command::new(SHIM)
        };
        cmd.args(&self.args).process_group(0);
        // The shim inherits only stdio, whatever descriptors the test runner leaked to us.
        // SAFETY: close_range is async-signal-safe; CLOEXEC keeps std's own exec-error pipe.
        unsafe {
            cmd.pre_exec(|| {
                libc::close_range(3, u32::MAX, libc::CLOSE_RANGE_CLOEXEC as i32);
                Ok(())
            })
        };
        // Every fnshim setting is cleared, so the caller's environment cannot change a mode
        // (PATH and TMPDIR, the process's own, stay).
        for setting in fnshim::config::SETTINGS.iter().filter(|s| s.documented()) {
            cmd.env_remove(setting.name);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        let stdin = if self.stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        cmd.stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    pub fn spawn(self) -> Shim {
        let mut cmd = self.command();
        let unread = self.stderr_unread.then(|| {
            let (read, write) = pipe();
            cmd.stderr(write);
            read
        });
        let shown = format!("{cmd:?}");
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {shown}: {e}"));
        drop(cmd);
        let fired = Arc::new(AtomicBool::new(false));
        let top = child.id() as i32;
        let err = match child.stderr.take() {
            Some(stderr) => Lines::pump(stderr),
            None => Lines::default(),
        };
        Shim {
            out: Lines::pump(child.stdout.take().unwrap()),
            err,
            _unread: unread,
            stdin: child.stdin.take(),
            watchdog: Some(watchdog(top, fired.clone())),
            child,
            cmd: shown,
            pid1: self.pid1,
            started: Instant::now(),
            status: None,
            host_pid: None,
            fired,
        }
    }

    /// Spawns in proxy mode and waits until `/_/ready` answers 200; returns the public port.
    pub fn spawn_proxy(self) -> (Shim, u16) {
        let shim = self.spawn();
        let port = shim.listening_port(Duration::from_secs(10));
        shim.wait_http_ready(port, Duration::from_secs(10));
        (shim, port)
    }
}

/// A pipe (read end, write end), both close-on-exec.
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`, which we then own.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Kills the whole tree of the run if it is still going after WATCHDOG; dropping or
/// sending on the returned sender disarms it.
fn watchdog(top: i32, fired: Arc<AtomicBool>) -> Sender<()> {
    let (tx, rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        if let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(WATCHDOG) {
            fired.store(true, Ordering::SeqCst);
            kill_tree(top);
        }
    });
    tx
}

fn kill_tree(top: i32) {
    for p in descendants(top) {
        unsafe { libc::kill(p.pid, libc::SIGKILL) };
    }
    unsafe { libc::kill(-top, libc::SIGKILL) };
}

/// One running (or finished) shim and everything the harness saw of it.
pub struct Shim {
    child: Child,
    cmd: String,
    pid1: bool,
    started: Instant,
    status: Option<ExitStatus>,
    host_pid: Option<i32>,
    fired: Arc<AtomicBool>,
    watchdog: Option<Sender<()>>,
    stdin: Option<ChildStdin>,
    /// The read end of a `stderr_unread` pipe, held open until the run is dropped.
    _unread: Option<OwnedFd>,
    pub out: Lines,
    pub err: Lines,
}

impl Shim {
    /// What a failing test prints: command, exit status, stdout, stderr.
    pub fn report(&self) -> String {
        let status = match self.status {
            Some(s) => format!("{s:?}"),
            None => "still running".into(),
        };
        format!(
            "command: {}\nexit status: {status} (after {:?}){}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmd,
            self.started.elapsed(),
            if self.fired.load(Ordering::SeqCst) { "\nWATCHDOG FIRED" } else { "" },
            self.out.text(),
            self.err.text(),
        )
    }

    /// Waits for an exact stdout line; returns when it arrived.
    pub fn wait_out(&self, line: &str, limit: Duration) -> Instant {
        let found = self
            .out
            .find(|l| l == line, Instant::now() + limit)
            .map(|(at, _)| at);
        found.unwrap_or_else(|| {
            panic!(
                "no stdout line {line:?} within {limit:?}\n{}",
                self.report()
            )
        })
    }

    /// The shim's pid on the host: the only child of `unshare`, or the child itself.
    pub fn host_pid(&mut self) -> i32 {
        if let Some(pid) = self.host_pid {
            return pid;
        }
        let top = self.child.id() as i32;
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.pid1 && self.host_pid.is_none() && Instant::now() < deadline {
            self.host_pid = descendants(top)
                .iter()
                .find(|p| p.ppid == top)
                .map(|p| p.pid);
            thread::sleep(POLL);
        }
        let pid = if self.pid1 { self.host_pid } else { Some(top) };
        self.host_pid = pid;
        pid.unwrap_or_else(|| panic!("no child of unshare {top}\n{}", self.report()))
    }

    /// Sends `sig` from the host to the shim; returns when it was sent.
    pub fn signal(&mut self, sig: i32) -> Instant {
        let pid = self.host_pid();
        let at = Instant::now();
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig}) failed\n{}", self.report());
        at
    }

    /// Sends a signal to PID 1 from inside the namespace with `nsenter … kill`.
    pub fn nsenter_kill_1(&self, sig: &str) {
        let unshare = self.child.id();
        let out = Command::new("nsenter")
            .arg(format!("--target={unshare}"))
            .arg(format!("--pid=/proc/{unshare}/ns/pid_for_children"))
            .args(["kill", sig, "1"])
            .output()
            .expect("run nsenter");
        // `kill` runs inside the namespace, so when the signal makes PID 1 exit the kernel may
        // SIGKILL it before it has exited by itself: that outcome is a success too.
        let killed = out.status.signal() == Some(libc::SIGKILL);
        assert!(
            out.status.success() || killed,
            "nsenter kill {sig} 1: {out:?}\n{}",
            self.report()
        );
    }

    pub fn send_stdin(&mut self, data: &[u8]) {
        let mut stdin = self.stdin.take().expect("spec without .stdin()");
        stdin
            .write_all(data)
            .unwrap_or_else(|e| panic!("write stdin: {e}\n{}", self.report()));
    }

    /// Waits for the run to end and asserts its exit code; returns when it ended.
    pub fn expect_exit(&mut self, code: i32, limit: Duration) -> Instant {
        let at = self.wait_exit(limit);
        let status = self.status.unwrap();
        assert!(
            !self.fired.load(Ordering::SeqCst),
            "watchdog fired\n{}",
            self.report()
        );
        assert_eq!(status.code(), Some(code), "exit code\n{}", self.report());
        at
    }

    /// The exit status and when it came, if the run ends within `limit` (no assertion, no kill).
    pub fn exit_within(&mut self, limit: Duration) -> Option<(ExitStatus, Instant)> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.finish(status);
                return Some((status, Instant::now()));
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(POLL);
        }
    }

    fn wait_exit(&mut self, limit: Duration) -> Instant {
        if let Some((_, at)) = self.exit_within(limit) {
            return at;
        }
        let tree = descendants(self.child.id() as i32);
        kill_tree(self.child.id() as i32);
        let status = self.child.wait().expect("wait");
        self.finish(status);
        let tree = format!("{tree:#?}");
        panic!(
            "did not exit within {limit:?}; killed with this tree: {tree}\n{}",
            self.report()
        );
    }

    fn finish(&mut self, status: ExitStatus) {
        self.status = Some(status);
        if let Some(tx) = self.watchdog.take() {
            let _ = tx.send(());
        }
    }

    /// The public port from the shim's JSON `"message":"listening"` log line.
    fn listening_port(&self, limit: Duration) -> u16 {
        let port_of = |line: &str| -> Option<u16> {
            let v: serde_json::Value = serde_json::from_str(line).ok()?;
            (v["message"] == "listening")
                .then(|| v["port"].as_u64())??
                .try_into()
                .ok()
        };
        let line = self
            .err
            .find(|l| port_of(l).is_some(), Instant::now() + limit);
        let line = line.unwrap_or_else(|| panic!("no listening log line\n{}", self.report()));
        port_of(&line.1).unwrap()
    }

    fn wait_http_ready(&self, port: u16, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if matches!(http_get(port, "/_/ready"), Ok((200, _))) {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "GET /_/ready never gave 200 on port {port}\n{}",
            self.report()
        );
    }
}

impl Drop for Shim {
    fn drop(&mut self) {
        if self.status.is_none() {
            kill_tree(self.child.id() as i32);
            let _ = self.child.wait();
        }
    }
}

/// Lines of one output stream, each with the instant it was read.
#[derive(Clone, Default)]
pub struct Lines(Arc<(Mutex<Log>, Condvar)>);

#[derive(Default)]
struct Log {
    lines: Vec<(Instant, String)>,
    eof: bool,
}

impl Lines {
    fn pump(src: impl Read + Send + 'static) -> Lines {
        let lines = Lines::default();
        let shared = lines.clone();
        thread::spawn(move || {
            let mut reader = BufReader::new(src);
            let mut buf = Vec::new();
            while matches!(reader.read_until(b'\n', &mut buf), Ok(n) if n > 0) {
                shared.push(Some(String::from_utf8_lossy(&buf).into_owned()));
                buf.clear();
            }
            shared.push(None);
        });
        lines
    }

    fn push(&self, line: Option<String>) {
        let mut log = self.0 .0.lock().unwrap();
        match line {
            Some(l) => log.lines.push((Instant::now(), l)),
            None => log.eof = true,
        }
        self.0 .1.notify_all();
    }

    /// The first line (without its newline) matching `pred`, waiting until `deadline`.
    pub fn find(
        &self,
        pred: impl Fn(&str) -> bool,
        deadline: Instant,
    ) -> Option<(Instant, String)> {
        let mut log = self.0 .0.lock().unwrap();
        loop {
            let hit = log
                .lines
                .iter()
                .find(|(_, l)| pred(l.trim_end_matches('\n')));
            if let Some((at, l)) = hit {
                return Some((*at, l.trim_end_matches('\n').to_string()));
            }
            let now = Instant::now();
            if log.eof || now >= deadline {
                return None;
            }
            log = self.0 .1.wait_timeout(log, deadline - now).unwrap().0;
        }
    }

    /// When `line` first appeared, if it has.
    pub fn first(&self, line: &str) -> Option<Instant> {
        self.find(|l| l == line, Instant::now()).map(|(at, _)| at)
    }

    pub fn wait_eof(&self, deadline: Instant) -> bool {
        self.find(|_| false, deadline);
        self.0 .0.lock().unwrap().eof
    }

    pub fn lines(&self) -> Vec<String> {
        let log = self.0 .0.lock().unwrap();
        log.lines
            .iter()
            .map(|(_, l)| l.trim_end_matches('\n').to_string())
            .collect()
    }

    /// Everything read so far, byte for byte (lossy UTF-8).
    pub fn text(&self) -> String {
        self.0
             .0
            .lock()
            .unwrap()
            .lines
            .iter()
            .map(|(_, l)| l.as_str())
            .collect()
    }
}

/// One process as seen in `/proc/<pid>/stat` (and its cmdline; empty for zombies).
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: i32,
    pub ppid: i32,
    pub state: char,
    pub cmdline: Vec<String>,
}

pub fn proc_stat(pid: i32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    Some(Proc {
        pid,
        ppid,
        state,
        cmdline,
    })
}

/// A `/proc/<pid>/status` field in its unit (kB for memory), e.g. `VmRSS`.
pub fn status_field(pid: i32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?;
    line.split_whitespace().next()?.parse().ok()
}

/// utime + stime of the whole process, in clock ticks.
pub fn cpu_ticks(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Context switches of every thread of the process: each is one wake-up (or preemption).
pub fn context_switches(pid: i32) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    let tids = tasks.filter_map(|t| t.ok()?.file_name().to_str()?.parse::<i32>().ok());
    let per_task = |tid: i32| {
        let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status"));
        let status = status.unwrap_or_default();
        let count = |key: &str| -> u64 {
            let line = status.lines().find_map(|l| l.strip_prefix(key));
            line.and_then(|v| v.trim().parse().ok()).unwrap_or(0)
        };
        count("voluntary_ctxt_switches:") + count("nonvoluntary_ctxt_switches:")
    };
    tids.map(per_task).sum()
}

fn all_procs() -> Vec<Proc> {
    let dir = std::fs::read_dir("/proc").expect("read /proc");
    let pids = dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok());
    pids.filter_map(proc_stat).collect()
}

/// Every process below `root` in the host's process tree.
pub fn descendants(root: i32) -> Vec<Proc> {
    let all = all_procs();
    let mut found: Vec<Proc> = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for p in all.iter().filter(|p| p.ppid == parent) {
            frontier.push(p.pid);
            found.push(p.clone());
        }
    }
    found
}

/// A plain HTTP/1.1 GET with `Connection: close`; returns the status and the whole response.
pub fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    match text.split(' ').nth(1).and_then(|c| c.parse().ok()) {
        Some(status) => Ok((status, text)),
        None => Err(std::io::Error::new(ErrorKind::InvalidData, text)),
    }
}

pub type Response = (std::io::Result<(u16, String)>, Instant);

/// Runs `http_get` on a thread; the result carries when it completed.
pub fn get_in_background(port: u16, path: &str) -> JoinHandle<Response> {
    let path = path.to_string();
    thread::spawn(move || {
        let result = http_get(port, &path);
        (result, Instant::now())
    })
}

/// Whether connecting to `port` is refused before `deadline`.
pub fn wait_refused(port: u16, deadline: Instant) -> bool {
    while Instant::now() < deadline {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => return true,
            _ => thread::sleep(POLL),
        }
    }
    false
}

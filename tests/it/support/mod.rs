//! Test harness for the proxy side: start fnshim with an explicit environment, watch its
//! log, talk HTTP/1.1 to it over a plain `TcpStream`, and never leak a process.
//!
//! A failing check should say everything needed to reproduce it, so `Shim` and
//! `Response` implement `Display` as full reports (command, environment, exit status,
//! stdout, stderr / status, headers, body): `assert_eq!(r.status, 200, "{r}{shim}")`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

mod http;
pub use http::{chunk_bytes, Conn, Request, Response};

/// Generous bounds: the tests share a loaded two-core machine.
pub const STARTUP: Duration = Duration::from_secs(20);
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

const POLL: Duration = Duration::from_millis(10);

/// Polls `cond` until it yields a value or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut cond: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = cond() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(POLL);
    }
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The real python3 interpreter (not a version-manager shim that adds start-up time).
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 must be on PATH for the fixtures");
        assert!(out.status.success(), "python3 failed: {out:?}");
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

/// A custom-mode function: a temp dir holding an executable `bootstrap`.
pub struct Function {
    dir: tempfile::TempDir,
}

impl Function {
    /// A bootstrap that runs `tests/fixtures/upstream.py` with `env` exported.
    pub fn upstream(env: &[(&str, &str)]) -> Function {
        let mut script = String::from("#!/bin/sh\n");
        for (k, v) in env {
            script += &format!("export {k}='{v}'\n");
        }
        script += &format!(
            "exec '{}' -u '{}'\n",
            python().display(),
            fixture("upstream.py").display()
        );
        Function::with_bootstrap(&script, 0o755)
    }

    pub fn with_bootstrap(script: &str, mode: u32) -> Function {
        let f = Function::empty();
        f.write("bootstrap", script, mode);
        f
    }

    pub fn empty() -> Function {
        Function {
            dir: tempfile::Builder::new()
                .prefix("fnshim-fn-")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn write(&self, name: &str, content: &str, mode: u32) {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Builder for one fnshim process. The environment starts empty apart from PATH and
/// HOME, so the developer's own PORT or FUNCTION_* never leak into a test.
pub struct ShimCmd {
    env: BTreeMap<String, String>,
    args: Vec<String>,
    wrapper: Vec<String>,
}

pub fn fnshim() -> ShimCmd {
    let mut env = BTreeMap::new();
    for key in ["PATH", "HOME"] {
        if let Ok(v) = std::env::var(key) {
            env.insert(key.to_string(), v);
        }
    }
    env.insert("LOG_FORMAT".into(), "json".into());
    ShimCmd {
        env,
        args: vec![],
        wrapper: vec![],
    }
}

impl ShimCmd {
    pub fn env(mut self, key: &str, value: &str) -> ShimCmd {
        self.env.insert(key.into(), value.into());
        self
    }

    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> ShimCmd {
        self.args.push(arg.as_ref().to_string_lossy().into_owned());
        self
    }

    /// Runs fnshim as the last argument of `wrapper` (e.g. `unshare ... sh -c '...; exec "$@"'`),
    /// which must exec it so that the pid stays fnshim's.
    pub fn wrap(mut self, wrapper: &[&str]) -> ShimCmd {
        self.wrapper = wrapper.iter().map(|w| w.to_string()).collect();
        self
    }

    /// Custom mode on an ephemeral port.
    pub fn function(self, f: &Function) -> ShimCmd {
        self.env("FUNCTION_PATH", f.path().to_str().unwrap())
            .env("PORT", "0")
    }

    pub fn spawn(self) -> Shim {
        let bin = env!("CARGO_BIN_EXE_fnshim");
        let mut argv: Vec<&str> = self.wrapper.iter().map(String::as_str).collect();
        argv.push(bin);
        argv.extend(self.args.iter().map(String::as_str));
        let mut cmd = Command::new(argv[0]);
        cmd.env_clear().envs(&self.env).args(&argv[1..]);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let env: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let cmdline = format!("{} {}", env.join(" "), argv.join(" "));
        let shared = Arc::new(Shared::default());
        let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let s = shared.clone();
        thread::spawn(move || s.pump(out, false));
        let s = shared.clone();
        thread::spawn(move || s.pump(err, true));
        Shim {
            pid: child.id() as i32,
            child: Mutex::new(child),
            status: Mutex::new(None),
            cmdline,
            shared,
        }
    }

    /// Runs to completion (for configuration errors, `--help`, ...).
    pub fn run(self) -> Shim {
        let shim = self.spawn();
        shim.wait_exit(STARTUP);
        shim
    }
}

#[derive(Default)]
struct Shared {
    state: Mutex<Output>,
    changed: Condvar,
}

#[derive(Default)]
struct Output {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    port: Option<u16>,
    stdout_eof: bool,
    stderr_eof: bool,
}

impl Shared {
    /// Copies one pipe into the buffer line by line; on stderr also learns the port
    /// from the `"message":"listening"` log line.
    fn pump(&self, pipe: impl Read, is_stderr: bool) {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line).unwrap_or(0);
            let mut st = self.state.lock().unwrap();
            if n == 0 {
                if is_stderr {
                    st.stderr_eof = true
                } else {
                    st.stdout_eof = true
                }
                self.changed.notify_all();
                return;
            }
            if is_stderr {
                st.stderr.extend_from_slice(&line);
                if st.port.is_none() {
                    st.port = listening_port(&line);
                }
            } else {
                st.stdout.extend_from_slice(&line);
            }
            self.changed.notify_all();
        }
    }
}

fn listening_port(line: &[u8]) -> Option<u16> {
    let v: Value = serde_json::from_slice(line).ok()?;
    if v["message"] != "listening" {
        return None;
    }
    v["port"].as_u64().and_then(|p| u16::try_from(p).ok())
}

/// A running (or finished) fnshim. Dropping it kills it and every descendant.
pub struct Shim {
    pid: i32,
    child: Mutex<Child>,
    status: Mutex<Option<ExitStatus>>,
    cmdline: String,
    shared: Arc<Shared>,
}

impl Shim {
    /// The port from the "listening" log line; panics if the shim exits first.
    pub fn port(&self) -> u16 {
        let deadline = Instant::now() + STARTUP;
        let mut st = self.shared.state.lock().unwrap();
        loop {
            if let Some(p) = st.port {
                return p;
            }
            let now = Instant::now();
            if st.stderr_eof || now >= deadline {
                drop(st);
                panic!("fnshim never logged a \"listening\" line with a port\n{self}");
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap()
                .0;
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

    pub fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on the pid of the child we spawned and still own.
        let rc = unsafe { libc::kill(self.pid, sig) };
        assert_eq!(
            rc,
            0,
            "kill({}, {sig}) failed: {}",
            self.pid,
            io::Error::last_os_error()
        );
    }

    pub fn try_status(&self) -> Option<ExitStatus> {
        let mut status = self.status.lock().unwrap();
        if status.is_none() {
            *status = self.child.lock().unwrap().try_wait().unwrap();
        }
        *status
    }

    /// Waits for the shim to exit (and its output pipes to close); panics on timeout.
    pub fn wait_exit(&self, timeout: Duration) -> ExitStatus {
        let Some(status) = wait_for(timeout, || self.try_status()) else {
            panic!("fnshim did not exit within {timeout:?}\n{self}");
        };
        // Children in command mode may hold the pipes; do not wait on them for long.
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut st = self.shared.state.lock().unwrap();
        while !(st.stderr_eof && st.stdout_eof) && Instant::now() < deadline {
            st = self.shared.changed.wait_timeout(st, POLL * 10).unwrap().0;
        }
        status
    }

    /// The exit code; panics (with the report) if it died of a signal.
    pub fn wait_code(&self, timeout: Duration) -> i32 {
        let status = self.wait_exit(timeout);
        status
            .code()
            .unwrap_or_else(|| panic!("fnshim was killed by a signal\n{self}"))
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.shared.state.lock().unwrap().stderr).into_owned()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.shared.state.lock().unwrap().stdout).into_owned()
    }

    /// The JSON log lines on stderr so far.
    pub fn logs(&self) -> Vec<Value> {
        let st = self.shared.state.lock().unwrap();
        st.stderr
            .split(|b| *b == b'\n')
            .filter_map(|l| serde_json::from_slice(l).ok())
            .collect()
    }

    /// Waits for a JSON log line matching `pred`.
    pub fn wait_log(&self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        wait_for(timeout, || self.logs().into_iter().find(|v| pred(v)))
    }

    fn kill_tree(&self) {
        let mut pids = descendants(self.pid);
        pids.push(self.pid);
        for pid in pids {
            // SAFETY: kill(2) on processes descended from the shim this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

impl Drop for Shim {
    fn drop(&mut self) {
        if self.try_status().is_none() {
            self.kill_tree();
            let _ = self.child.lock().unwrap().wait();
        } else {
            // The shim is gone but a buggy one may have left children behind.
            for pid in descendants(self.pid) {
                // SAFETY: as above.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

/// Every live process below `root`, found through the ppid fields in /proc.
fn descendants(root: i32) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let (mut found, mut queue) = (vec![], VecDeque::from([root]));
    while let Some(p) = queue.pop_front() {
        for &c in children.get(&p).into_iter().flatten() {
            found.push(c);
            queue.push_back(c);
        }
    }
    found
}

impl fmt::Display for Shim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.try_status();
        let st = self.shared.state.lock().unwrap();
        writeln!(f, "\n---- command\n{}", self.cmdline)?;
        writeln!(
            f,
            "---- status: {}",
            status.map_or("still running".into(), |s| s.to_string())
        )?;
        writeln!(f, "---- stdout\n{}", clip_lines(&st.stdout))?;
        writeln!(f, "---- stderr\n{}", clip_lines(&st.stderr))
    }
}

/// Keeps reports readable when a test logs a 100 KB line.
fn clip_lines(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<String> = text
        .lines()
        .map(|l| match l.char_indices().nth(600) {
            Some((i, _)) => format!("{}... [{} bytes]", &l[..i], l.len()),
            None => l.to_string(),
        })
        .collect();
    lines.join("\n")
}

/// The sum over all label sets of a Prometheus metric (0 if absent).
pub fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|l| {
            l.rsplit_once(' ')
                .and_then(|(_, v)| v.trim().parse::<f64>().ok())
        })
        .sum()
}

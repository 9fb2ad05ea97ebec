//! `ShimCmd`, the one way to start fnshim in a test: a clean environment, arguments, cwd,
//! stdin, a wrapper program, and the PID 1 namespace mode, each an option of one builder.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::ns::Namespace;
use super::{Function, Shim, STARTUP};

pub const SHIM: &str = env!("CARGO_BIN_EXE_fnshim");

/// Builder for one fnshim process.
pub struct ShimCmd {
    env: BTreeMap<String, String>,
    args: Vec<String>,
    wrapper: Vec<String>,
    cwd: Option<PathBuf>,
    stdin: bool,
    ns: Option<Namespace>,
    watchdog: Option<Duration>,
    stderr_unread: bool,
}

/// A shim started with `clean_env()` and nothing else.
pub fn fnshim() -> ShimCmd {
    ShimCmd {
        env: clean_env(),
        args: vec![],
        wrapper: vec![],
        cwd: None,
        stdin: false,
        ns: None,
        watchdog: None,
        stderr_unread: false,
    }
}

/// The environment every shim starts from: of the caller's variables only those the settings
/// table marks as the process's own (PATH, TMPDIR) and HOME (for npm, pip and deno), then
/// LOG_FORMAT=json. No fnshim setting, nor anything else of the developer's, leaks into a test.
fn clean_env() -> BTreeMap<String, String> {
    let own = fnshim::config::SETTINGS.iter().filter(|s| !s.documented());
    let names = own.map(|s| s.name).chain(["HOME"]);
    let mut env: BTreeMap<String, String> = names
        .filter_map(|k| Some((k.to_string(), std::env::var(k).ok()?)))
        .collect();
    env.insert("LOG_FORMAT".into(), "json".into());
    if let Some(path) = super::path_first(env.get("PATH").cloned()) {
        env.insert("PATH".into(), path);
    }
    env
}

impl ShimCmd {
    pub fn env(mut self, key: &str, value: &str) -> ShimCmd {
        self.env.insert(key.into(), value.into());
        self
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> ShimCmd {
        self.args.push(arg.as_ref().to_string_lossy().into_owned());
        self
    }

    pub fn args<S: AsRef<OsStr>>(self, args: impl IntoIterator<Item = S>) -> ShimCmd {
        args.into_iter().fold(self, ShimCmd::arg)
    }

    /// Custom mode on an ephemeral port.
    pub fn function(self, f: &Function) -> ShimCmd {
        self.env("FUNCTION_PATH", f.path().to_str().unwrap())
            .env("PORT", "0")
    }

    pub fn cwd(mut self, dir: &Path) -> ShimCmd {
        self.cwd = Some(dir.into());
        self
    }

    /// stdin is a pipe (`Shim::send_stdin`), not /dev/null.
    pub fn stdin(mut self) -> ShimCmd {
        self.stdin = true;
        self
    }

    /// Runs fnshim as the last argument of `wrapper` (e.g. `unshare ... sh -c '...; exec "$@"'`),
    /// which must exec it so that the pid stays fnshim's. In a namespace the wrapper is PID 1
    /// first.
    pub fn wrap<S: AsRef<OsStr>>(mut self, wrapper: &[S]) -> ShimCmd {
        let wrapper = wrapper.iter().map(|w| w.as_ref().to_string_lossy());
        self.wrapper = wrapper.map(|w| w.into_owned()).collect();
        self
    }

    /// The shim as PID 1 of a new PID namespace with its own `/proc`.
    pub fn pid1(mut self) -> ShimCmd {
        self.ns.get_or_insert_with(Namespace::default);
        self
    }

    /// As PID 1 of a namespace whose root is `dir` (which holds `/fnshim`; no `/proc`).
    pub fn root(mut self, dir: &Path) -> ShimCmd {
        self.ns = Some(Namespace {
            root: Some(dir.into()),
        });
        self
    }

    /// Kills the whole run if it has not ended within `limit`; `expect_exit` then fails.
    pub fn watchdog(mut self, limit: Duration) -> ShimCmd {
        self.watchdog = Some(limit);
        self
    }

    /// The shim's stderr is a pipe that the test holds open and never reads.
    pub fn stderr_unread(mut self) -> ShimCmd {
        self.stderr_unread = true;
        self
    }

    pub fn spawn(self) -> Shim {
        let (mut cmd, shown) = self.command();
        let unread = self.stderr_unread.then(|| {
            let (read, write) = pipe();
            cmd.stderr(write);
            read
        });
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
        drop(cmd); // our copy of an unread pipe's write end
        Shim::started(child, shown, self.ns.is_some(), self.watchdog, unread)
    }

    /// Runs to completion (for configuration errors, `--help`, ...).
    pub fn run(self) -> Shim {
        let shim = self.spawn();
        shim.wait_exit(STARTUP);
        shim
    }

    /// The whole command line: unshare's part, the wrapper, the shim and its arguments.
    fn argv(&self) -> Vec<String> {
        let mut argv = self.ns.as_ref().map(Namespace::prefix).unwrap_or_default();
        argv.extend(self.wrapper.iter().cloned());
        argv.push(self.ns.as_ref().map_or(SHIM.into(), Namespace::shim));
        argv.extend(self.args.iter().cloned());
        argv
    }

    /// The command and how a report shows it.
    fn command(&self) -> (Command, String) {
        let argv = self.argv();
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]).env_clear().envs(&self.env);
        // A group of its own, so that a watchdog or a drop can kill the whole run.
        cmd.process_group(0);
        // The shim inherits only stdio, whatever descriptors the test runner leaked to us.
        // SAFETY: close_range is async-signal-safe; CLOEXEC keeps std's own exec-error pipe.
        unsafe {
            cmd.pre_exec(|| {
                libc::close_range(3, u32::MAX, libc::CLOSE_RANGE_CLOEXEC as i32);
                Ok(())
            })
        };
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
        let env: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let cwd = self.cwd.as_ref().map(|d| format!("(in {}) ", d.display()));
        let shown = format!(
            "{}{} {}",
            cwd.unwrap_or_default(),
            env.join(" "),
            argv.join(" ")
        );
        (cmd, shown)
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

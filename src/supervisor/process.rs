//! Starting a child in its own process group through the reaper, and relaying its output.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::oneshot;

use super::reaper::{Reaper, WaitStatus};
use super::signals;

/// How to start one child.
pub struct Spec<'a> {
    pub argv: &'a [OsString],
    pub cwd: Option<&'a PathBuf>,
    pub env: Vec<(String, String)>,
    /// Log stdout/stderr line by line instead of passing them through.
    pub capture_output: bool,
    /// Hand the terminal's foreground to the child's group (plain init on a TTY).
    pub take_terminal: bool,
    /// 1.. for workers; 0 for install and build steps.
    pub worker_id: u32,
    /// Keeps the last lines of the captured output, for an error message.
    pub tail: Option<Tail>,
}

/// The last lines a child wrote (stdout and stderr interleaved as they arrived).
pub type Tail = Arc<Mutex<VecDeque<String>>>;

/// How many lines a [`Tail`] keeps.
pub const TAIL_LINES: usize = 30;

/// A started child; its process group id equals its pid.
pub struct Child {
    pub pid: i32,
    exit: Option<oneshot::Receiver<WaitStatus>>,
    status: Option<WaitStatus>,
}

impl Child {
    /// Waits for the exit status; cancel-safe and callable again after it resolved.
    pub async fn wait(&mut self) -> WaitStatus {
        if let Some(status) = self.status {
            return status;
        }
        let receiver = self
            .exit
            .as_mut()
            .expect("exit receiver present until status is known");
        // The reaper never drops a registered sender without sending, so an error cannot happen;
        // treat it as an unknown failure rather than panic.
        let status = receiver.await.unwrap_or(WaitStatus(1 << 8));
        self.exit = None;
        self.status = Some(status);
        status
    }

    /// The exit status, if the child was waited for to its end.
    pub fn exited(&self) -> Option<WaitStatus> {
        self.status
    }

    /// Signals the child's whole process group.
    pub fn signal(&self, sig: libc::c_int) {
        signals::kill_group(self.pid, sig);
    }
}

pub fn spawn(reaper: &Reaper, spec: Spec<'_>) -> io::Result<Child> {
    let (program, args) = spec
        .argv
        .split_first()
        .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .process_group(0);
    if let Some(cwd) = spec.cwd {
        command.current_dir(cwd);
    }
    if spec.capture_output {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    }
    let take_terminal = spec.take_terminal;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            clean_signal_mask();
            if take_terminal {
                take_foreground();
            }
            Ok(())
        })
    };
    let (mut child, exit) = reaper.spawn(&mut command)?;
    let pid = child.id() as i32;
    let streams = [
        (child.stdout.take().map(OwnedFd::from), "stdout"),
        (child.stderr.take().map(OwnedFd::from), "stderr"),
    ];
    for (fd, stream) in streams {
        if let Some(fd) = fd {
            relay(fd, stream, spec.worker_id, pid, spec.tail.clone());
        }
    }
    Ok(Child {
        pid,
        exit: Some(exit),
        status: None,
    })
}

/// In the child: unblock every signal and give every one its default action. The shim blocks
/// the ones it handles and std keeps the mask across exec, so without this the function could
/// not be stopped by SIGTERM; and a SIG_IGN that fnshim inherited (say SIGTTOU or SIGXFSZ from
/// a Python parent) would survive the exec too (PID1-TESTS A7: the clean policy).
fn clean_signal_mask() {
    // SAFETY: async-signal-safe calls on local values; SIGKILL and SIGSTOP just fail (EINVAL).
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        // The raw system call: glibc's wrappers refuse 32 and 33, which it reserves, yet an
        // ignored 32 does come down from some parents (the test runner's, for one).
        let default = KernelSigaction {
            handler: libc::SIG_DFL,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        for sig in 1..=64 {
            let null = std::ptr::null_mut::<KernelSigaction>();
            libc::syscall(libc::SYS_rt_sigaction, sig, &default, null, 8usize);
        }
    }
}

/// The kernel's `struct sigaction` on x86_64 and aarch64 (fnshim's targets).
#[repr(C)]
struct KernelSigaction {
    handler: libc::sighandler_t,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

/// In the child: make its new group the terminal's foreground group, as tini does, so that an
/// interactive program can read the TTY. SIGTTOU is ignored around the call, then restored.
fn take_foreground() {
    // SAFETY: async-signal-safe libc calls.
    unsafe {
        libc::setpgid(0, 0);
        libc::signal(libc::SIGTTOU, libc::SIG_IGN);
        libc::tcsetpgrp(libc::STDIN_FILENO, libc::getpid());
        libc::signal(libc::SIGTTOU, libc::SIG_DFL);
    }
}

/// Forwards a pipe to the log, one event per line, however long the line is.
/// A line longer than this (a worker printing megabytes without a newline) is logged in
/// pieces of this size as they fill, not held until the worker exits.
const PIECE: usize = 1 << 20;

/// One line (or one piece of a longer one, numbered from 0) of a worker's output, to the log
/// and to the step's tail.
fn emit(
    line: &[u8],
    worker: u32,
    pid: i32,
    stream: &'static str,
    tail: &Option<Tail>,
    piece: Option<u32>,
) {
    let text = String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(line));
    let text = text.strip_suffix('\r').unwrap_or(&text);
    match piece {
        Some(piece) => tracing::info!(worker, pid, stream, piece, "{text}"),
        None => tracing::info!(worker, pid, stream, "{text}"),
    }
    if let Some(tail) = tail {
        let mut tail = tail.lock().unwrap_or_else(|p| p.into_inner());
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(text.to_owned());
    }
}

fn relay(fd: OwnedFd, stream: &'static str, worker: u32, pid: i32, tail: Option<Tail>) {
    let receiver = match tokio::net::unix::pipe::Receiver::from_owned_fd(fd) {
        Ok(receiver) => receiver,
        Err(error) => {
            tracing::warn!(%error, worker, stream, "cannot read the worker's output");
            return;
        }
    };
    tokio::spawn(async move {
        let mut reader = BufReader::new(receiver);
        let mut line = Vec::new();
        let mut piece = 0u32;
        loop {
            let (found, used) = match reader.fill_buf().await {
                Ok([]) | Err(_) => break,
                Ok(buf) => match buf.iter().position(|b| *b == b'\n') {
                    Some(end) => (true, end + 1),
                    None => (false, buf.len().min(PIECE - line.len().min(PIECE))),
                },
            };
            line.extend_from_slice(&reader.buffer()[..used]);
            reader.consume(used);
            if found || line.len() >= PIECE {
                emit(
                    &line,
                    worker,
                    pid,
                    stream,
                    &tail,
                    (!found || piece > 0).then_some(piece),
                );
                piece = if found { 0 } else { piece + 1 };
                line.clear();
            }
        }
        if !line.is_empty() {
            emit(
                &line,
                worker,
                pid,
                stream,
                &tail,
                (piece > 0).then_some(piece),
            );
        }
    });
}

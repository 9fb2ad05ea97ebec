//! The lifecycle of a proxied worker (custom `bootstrap` or `fnshim -- CMD` with PORT): start it
//! on a private port, wait until it listens, restart it with backoff when it dies, and run the
//! shutdown sequence (not ready, drain, signal the group, SIGKILL at the deadline, reap all).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use libc::c_int;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep, sleep_until, timeout_at, Instant};

use super::process::{self, Child, Spec};
use super::reaper::{Reaper, WaitStatus};
use super::{leftovers, signals};
use crate::exit::{self, StartError};
use crate::runtime::ProxyTarget;
use crate::server::state::Upstream;
use crate::server::App;

pub struct ProxyOptions {
    pub target: ProxyTarget,
    pub init_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub grace: Duration,
}

/// Everything the lifecycle needs, borrowed for the life of `run`.
pub struct Supervisor<'a> {
    pub reaper: &'a Reaper,
    pub app: Arc<App>,
    pub options: ProxyOptions,
    /// Turning this true makes the server close its listener and drain its connections.
    pub stop_server: watch::Sender<bool>,
    pub events: mpsc::UnboundedReceiver<c_int>,
}

struct Worker {
    child: Child,
    generation: u64,
    ready_at: Instant,
}

enum Launched {
    Ready(Worker),
    Failed(String),
    /// A stop signal arrived while the worker was starting.
    Stopped(c_int, Option<Child>),
}

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A worker that served this long before dying restarts without the accumulated backoff.
const STABLE_AFTER: Duration = Duration::from_secs(10);

impl Supervisor<'_> {
    pub async fn run(mut self) -> Result<i32, StartError> {
        let mut worker = match self.launch(1).await? {
            Launched::Ready(worker) => worker,
            Launched::Failed(why) => return Err(StartError::Load(why)),
            Launched::Stopped(sig, child) => return Ok(self.shutdown(child, sig).await),
        };
        let mut backoff = FIRST_BACKOFF;
        loop {
            tokio::select! {
                status = worker.child.wait() => {
                    if worker.ready_at.elapsed() >= STABLE_AFTER {
                        backoff = FIRST_BACKOFF;
                    }
                    match self.replace(&worker, status, &mut backoff).await? {
                        Ok(next) => worker = next,
                        Err((sig, child)) => return Ok(self.shutdown(child, sig).await),
                    }
                }
                Some(sig) = self.events.recv() => match sig {
                    libc::SIGTERM | libc::SIGINT => return Ok(self.shutdown(Some(worker.child), sig).await),
                    other => worker.child.signal(other),
                },
            }
        }
    }

    /// Restarts a dead worker until one is ready, or a stop signal arrives.
    async fn replace(
        &mut self,
        dead: &Worker,
        status: WaitStatus,
        backoff: &mut Duration,
    ) -> Result<Result<Worker, (c_int, Option<Child>)>, StartError> {
        tracing::warn!(pid = dead.child.pid, %status, "the worker exited; restarting it");
        dead.child.signal(libc::SIGKILL);
        self.app.metrics.worker_restarted();
        let mut generation = dead.generation;
        let mut reason = format!("the worker exited ({status})");
        loop {
            self.app.readiness.set(Upstream::Down {
                reason: reason.clone(),
                generation,
            });
            if let Some(sig) = self.pause(*backoff).await {
                return Ok(Err((sig, None)));
            }
            *backoff = (*backoff * 2).min(MAX_BACKOFF);
            generation += 1;
            match self.launch(generation).await? {
                Launched::Ready(worker) => return Ok(Ok(worker)),
                Launched::Stopped(sig, child) => return Ok(Err((sig, child))),
                Launched::Failed(why) => {
                    tracing::warn!(reason = why, "the restarted worker failed to start");
                    reason = why;
                }
            }
        }
    }

    /// Sleeps for `delay`, passing signals on; returns a stop signal if one arrives.
    async fn pause(&mut self, delay: Duration) -> Option<c_int> {
        let until = Instant::now() + delay;
        loop {
            tokio::select! {
                _ = sleep_until(until) => return None,
                Some(sig) = self.events.recv() => {
                    if matches!(sig, libc::SIGTERM | libc::SIGINT) {
                        return Some(sig);
                    }
                }
            }
        }
    }

    /// Spawns a worker on a fresh private port and waits until it accepts connections.
    async fn launch(&mut self, generation: u64) -> Result<Launched, StartError> {
        let target = &self.options.target;
        let started = Instant::now();
        let port = match free_port() {
            Ok(port) => port,
            Err(error) => return Ok(Launched::Failed(format!("no free private port: {error}"))),
        };
        let spec = Spec {
            argv: &target.argv,
            cwd: target.cwd.as_ref(),
            env: vec![
                ("PORT".into(), port.to_string()),
                ("FC_SERVER_PORT".into(), port.to_string()),
            ],
            capture_output: target.capture_output,
            take_terminal: false,
            worker_id: 1,
            tail: None,
        };
        let mut child = match process::spawn(self.reaper, spec) {
            Ok(child) => child,
            Err(source) if generation == 1 && target.command_mode => {
                let path = target.argv.first().cloned().unwrap_or_default().into();
                return Err(StartError::Exec { path, source });
            }
            Err(error) => {
                let path = target
                    .argv
                    .first()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                return Ok(Launched::Failed(format!("cannot execute {path}: {error}")));
            }
        };
        tracing::info!(
            pid = child.pid,
            private_port = port,
            generation,
            "worker started"
        );
        self.app.readiness.set(Upstream::Starting {
            reason: "waiting for the worker to listen".into(),
        });
        let listening = {
            let pid = child.pid;
            let wait = wait_listening(&mut child, port, self.options.init_timeout);
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    result = &mut wait => break Ok(result),
                    Some(sig) = self.events.recv() => match sig {
                        libc::SIGTERM | libc::SIGINT => break Err(sig),
                        other => signals::kill_group(pid, other),
                    },
                }
            }
        };
        match listening {
            Err(sig) => Ok(Launched::Stopped(sig, Some(child))),
            Ok(Err(why)) => {
                child.signal(libc::SIGKILL);
                Ok(Launched::Failed(why))
            }
            Ok(Ok(addr)) => {
                let took = started.elapsed();
                self.app.metrics.initialized(took);
                self.app.readiness.set(Upstream::Ready {
                    addr: Some(addr),
                    generation,
                });
                tracing::info!(
                    pid = child.pid,
                    init_ms = took.as_millis() as u64,
                    "worker ready"
                );
                Ok(Launched::Ready(Worker {
                    child,
                    generation,
                    ready_at: Instant::now(),
                }))
            }
        }
    }

    /// The shutdown sequence of SPEC §7; returns the exit code.
    async fn shutdown(mut self, child: Option<Child>, sig: c_int) -> i32 {
        let started = Instant::now();
        let kill_at = started + self.options.shutdown_timeout;
        let drain_until = kill_at - self.options.grace;
        tracing::info!(
            signal = signals::name(sig),
            in_flight = self.app.in_flight.current(),
            "shutting down"
        );
        self.app.readiness.set(Upstream::Draining);
        self.stop_server.send_replace(true);
        let Some(mut child) = child else {
            self.drain(drain_until).await;
            leftovers::stop_all(self.reaper, 0, self.options.grace).await;
            return exit::OK;
        };
        let mut killed = false;
        let pid = child.pid;
        let early = tokio::select! {
            status = child.wait() => Some(status),
            forced = self.drain_alongside(pid, drain_until) => { killed = forced; None }
        };
        let status = match early {
            Some(status) => {
                tracing::warn!(%status, "the worker exited during the drain");
                status
            }
            None => {
                if !killed {
                    child.signal(sig);
                }
                let (status, forced) = self.stop(&mut child, kill_at, killed).await;
                killed = forced;
                status
            }
        };
        let code = self.exit_code(status, early.is_some(), killed);
        leftovers::stop_all(self.reaper, child.pid, self.options.grace).await;
        tracing::info!(%status, exit_code = code, took_ms = started.elapsed().as_millis() as u64, "stopped");
        code
    }

    /// The drain, with signals passed on to the worker's group; SIGKILL on a second signal.
    async fn drain_alongside(&mut self, pid: i32, until: Instant) -> bool {
        let forced = super::drain(&self.app, &mut self.events, until, |sig| {
            signals::kill_group(pid, sig)
        })
        .await;
        if forced {
            signals::kill_group(pid, libc::SIGKILL);
        }
        forced
    }

    async fn drain(&mut self, until: Instant) {
        let _ = timeout_at(until, self.app.connections.idle()).await;
    }

    /// After the stop signal: wait for the worker, SIGKILL at `kill_at` or on a second signal.
    async fn stop(
        &mut self,
        child: &mut Child,
        kill_at: Instant,
        mut killed: bool,
    ) -> (WaitStatus, bool) {
        loop {
            tokio::select! {
                status = child.wait() => return (status, killed),
                _ = sleep_until(kill_at), if !killed => {
                    tracing::warn!(pid = child.pid, "the worker outlived SHUTDOWN_TIMEOUT; sending SIGKILL");
                    child.signal(libc::SIGKILL);
                    killed = true;
                }
                Some(sig) = self.events.recv() => {
                    let stop = matches!(sig, libc::SIGTERM | libc::SIGINT);
                    child.signal(if stop { libc::SIGKILL } else { sig });
                    killed |= stop;
                }
            }
        }
    }

    /// Command mode reports the child's own code; custom mode 0 for a worker that stopped when
    /// asked, its own code if it died on its own, 137 if it had to be killed.
    fn exit_code(&self, status: WaitStatus, died_on_its_own: bool, killed: bool) -> i32 {
        if self.options.target.command_mode || died_on_its_own {
            return status.code();
        }
        match killed {
            true => 128 + libc::SIGKILL,
            false => exit::OK,
        }
    }
}

/// A port nobody listens on now, for the worker's private server.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Polls until the worker accepts a connection on 127.0.0.1 or ::1, it exits, or time runs out.
async fn wait_listening(
    child: &mut Child,
    port: u16,
    limit: Duration,
) -> Result<SocketAddr, String> {
    let deadline = Instant::now() + limit;
    let candidates = [
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
    ];
    let mut delay = Duration::from_millis(1);
    loop {
        for addr in candidates {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(addr);
            }
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the worker did not listen on port {port} (its PORT) within INIT_TIMEOUT ({})",
                humantime::format_duration(limit)
            ));
        }
        tokio::select! {
            status = child.wait() => {
                return Err(format!("the worker exited before it listened on its PORT ({status})"));
            }
            _ = sleep(delay.min(deadline - Instant::now())) => {}
        }
        delay = (delay * 2).min(Duration::from_millis(10));
    }
}

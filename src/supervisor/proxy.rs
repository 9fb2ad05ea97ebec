//! The lifecycle of a proxied worker (custom `bootstrap` or `fnshim -- CMD` with PORT): start it
//! on a private port, wait until it listens, restart it with backoff when it dies; a stop runs
//! the shutdown sequence (`shutdown::run`). With a Runtime API to offer ([`Lambda`]) the first
//! start also watches for `/next`: a bootstrap that polls it before it listens is a Runtime API
//! client and is handed over to [`super::bootstraps`].

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{sleep, Instant};

use super::bootstraps::{self, Lambda};
use super::control::{Controls, Stop};
use super::leftovers;
use super::lifecycle::{pause, until, wait_child, Backoff};
use super::process::{self, Child, Spec};
use super::reaper::{Reaper, WaitStatus};
use super::shutdown::{self, OneWorker, Shutdown};
use super::signals;
use crate::backend::runtime_api::{Protocol, Started};
use crate::config::readiness::ReadinessCheck;
use crate::exit::StartError;
use crate::readiness::Upstream;
use crate::runtime::ProxyTarget;
use crate::server::App;

pub struct ProxyOptions {
    pub target: ProxyTarget,
    pub init_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub grace: Duration,
    /// READINESS_PATH's check, besides accepting connections.
    pub readiness: Option<ReadinessCheck>,
    /// An Azure custom handler: the bootstrap's FUNCTIONS_CUSTOMHANDLER_PORT is its private port.
    pub azure: bool,
}

/// Everything the lifecycle needs, borrowed for the life of `run`.
pub struct Supervisor<'a> {
    pub reaper: &'a Reaper,
    pub app: Arc<App>,
    pub options: ProxyOptions,
    /// Turning this true makes the server close its listener and drain its connections.
    pub stop_server: watch::Sender<bool>,
    pub controls: Controls,
    /// The Runtime API, unless FUNCTION_PROTOCOL=http: run as a client or detect.
    pub lambda: Option<Lambda>,
}

struct Worker {
    child: Child,
    generation: u64,
    ready_at: Instant,
}

enum Launched {
    Ready(Worker),
    Failed(String),
    /// A stop arrived while the worker was starting.
    Stopped(Stop, Option<Child>),
    /// It called `/next` first: a Runtime API client.
    Lambda(Child),
    /// A command (`fnshim -- CMD` with PORT) that exited on its own before it ever listened:
    /// a batch job, not a server. fnshim ends with its code, as a plain init would.
    Exited(Child),
}

/// What a starting bootstrap did first.
enum First {
    Listening(Result<SocketAddr, String>),
    Polled(Started),
}

/// A stop that ends the restarts, with the worker it found (none between two starts).
type Interrupted = (Stop, Option<Child>);

impl Supervisor<'_> {
    pub async fn run(mut self) -> Result<i32, StartError> {
        if self.decided() == Some(Protocol::Lambda) {
            return self.hand_over(None).await;
        }
        let mut worker = match self.launch(1).await? {
            Launched::Ready(worker) => worker,
            Launched::Lambda(child) => return self.hand_over(Some(child)).await,
            Launched::Failed(why) => return Err(StartError::Load(why)),
            Launched::Stopped(stop, child) => return Ok(self.shutdown(child, stop).await),
            Launched::Exited(child) => return Ok(self.ended_before_listening(child).await),
        };
        let mut backoff = Backoff::new();
        loop {
            let status = match wait_child(&mut worker.child, &mut self.controls).await {
                Ok(status) => status,
                Err(stop) => return Ok(self.shutdown(Some(worker.child), stop).await),
            };
            backoff.exited_after(worker.ready_at.elapsed());
            match self.replace(&worker, status, &mut backoff).await? {
                Ok(next) => worker = next,
                Err((stop, child)) => return Ok(self.shutdown(child, stop).await),
            }
        }
    }

    /// Restarts a dead worker until one is ready, or a stop arrives.
    async fn replace(
        &mut self,
        dead: &Worker,
        status: WaitStatus,
        backoff: &mut Backoff,
    ) -> Result<Result<Worker, Interrupted>, StartError> {
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
            if let Err(stop) = pause(backoff.next_delay(), &mut self.controls).await {
                return Ok(Err((stop, None)));
            }
            generation += 1;
            match self.launch(generation).await? {
                Launched::Ready(worker) => return Ok(Ok(worker)),
                Launched::Stopped(stop, child) => return Ok(Err((stop, child))),
                // Not offered after the first start (the protocol is decided then).
                Launched::Lambda(child) => {
                    child.signal(libc::SIGKILL);
                    reason = "the restarted worker called /next instead of listening".into();
                }
                Launched::Failed(why) => {
                    tracing::warn!(reason = why, "the restarted worker failed to start");
                    reason = why;
                }
                // Only a first start ends fnshim this way: this command had listened before.
                Launched::Exited(child) => {
                    let status = child.exited().map(|s| s.to_string()).unwrap_or_default();
                    reason = format!("the restarted worker exited before it listened ({status})");
                    tracing::warn!(reason, "the restarted worker failed to start");
                }
            }
        }
    }

    /// Spawns a worker on a fresh private port and waits until it accepts connections.
    async fn launch(&mut self, generation: u64) -> Result<Launched, StartError> {
        let started = Instant::now();
        let (mut child, port) = match self.spawn(generation)? {
            Ok(spawned) => spawned,
            Err(why) => return Ok(Launched::Failed(why)),
        };
        self.app.readiness.set(Upstream::Starting {
            reason: "waiting for the worker to listen".into(),
        });
        let pid = child.pid;
        let limit = self.options.init_timeout;
        let detect = self.lambda.as_ref().map(|l| l.api.clone());
        let detect = detect.filter(|api| api.protocol().is_none());
        let check = self
            .options
            .readiness
            .as_ref()
            .map(|c| (c, &*self.app.readiness));
        let first = async {
            let Some(api) = &detect else {
                return First::Listening(wait_serving(&mut child, port, limit, check).await);
            };
            tokio::select! {
                listening = wait_serving(&mut child, port, limit, check) => First::Listening(listening),
                said = api.started(0) => First::Polled(said),
            }
        };
        let forward = |sig| signals::kill_group(pid, sig);
        let first = match until(first, &mut self.controls, forward).await {
            Err(stop) => return Ok(Launched::Stopped(stop, Some(child))),
            Ok(first) => first,
        };
        let detecting = detect.is_some();
        let decide = |protocol| detect.iter().for_each(|api| api.decide(protocol));
        Ok(match first {
            First::Listening(Ok(addr)) => {
                decide(Protocol::Http);
                Launched::Ready(self.ready(child, addr, generation, started))
            }
            First::Polled(Started::Polled) => {
                decide(Protocol::Lambda);
                tracing::info!(pid, "the bootstrap called /next: a Runtime API client");
                Launched::Lambda(child)
            }
            other => self.not_started(other, child, generation, detecting),
        })
    }

    /// Why a worker did not start: its reason, or, for a command that exited on its own at
    /// its first start, that it ended (a batch job, not a server).
    fn not_started(
        &self,
        first: First,
        child: Child,
        generation: u64,
        detecting: bool,
    ) -> Launched {
        let why = match first {
            First::Listening(Err(_))
                if generation == 1
                    && self.options.target.command_mode
                    && child.exited().is_some() =>
            {
                return Launched::Exited(child);
            }
            First::Listening(Err(why)) if detecting => {
                format!("{why} (nor did it call /next on AWS_LAMBDA_RUNTIME_API)")
            }
            First::Listening(Err(why)) | First::Polled(Started::InitError(why)) => why,
            First::Polled(Started::Waiting) => "the Runtime API closed".into(),
            First::Listening(Ok(_)) | First::Polled(Started::Polled) => String::new(),
        };
        child.signal(libc::SIGKILL);
        Launched::Failed(why)
    }

    /// A command that exited before it listened: what it left behind is stopped, and its own
    /// code (128 + N for a signal) is fnshim's.
    async fn ended_before_listening(self, child: Child) -> i32 {
        let status = child.exited().unwrap_or(WaitStatus(0));
        tracing::info!(pid = child.pid, %status, "the command exited before it listened on PORT; ending with its code, as a plain init");
        self.app.readiness.set(Upstream::Draining);
        let _ = self.stop_server.send(true);
        leftovers::stop_all(self.reaper, child.pid, self.options.grace).await;
        status.code()
    }

    /// The protocol, when there is a Runtime API to offer and it is known (forced, or found at
    /// the first start).
    fn decided(&self) -> Option<Protocol> {
        self.lambda.as_ref().and_then(|l| l.api.protocol())
    }

    /// Hands the bootstrap over to the Runtime API supervisor (with slot 0's process when
    /// detection started it).
    async fn hand_over(self, first: Option<Child>) -> Result<i32, StartError> {
        let Some(lambda) = self.lambda else {
            let why = "a Runtime API client was found with no Runtime API offered";
            return Err(StartError::Load(why.into()));
        };
        bootstraps::run(
            lambda,
            self.app,
            self.options,
            self.stop_server,
            self.controls,
            first,
        )
        .await
    }

    /// Starts the worker's process on a free private port. A command that cannot be executed is
    /// fatal on the first start in command mode (126/127); otherwise a failed start.
    fn spawn(&self, generation: u64) -> Result<Result<(Child, u16), String>, StartError> {
        let target = &self.options.target;
        let port = match free_port() {
            Ok(port) => port,
            Err(error) => return Ok(Err(format!("no free private port: {error}"))),
        };
        let mut env = vec![
            ("PORT".into(), port.to_string()),
            ("FC_SERVER_PORT".into(), port.to_string()),
        ];
        if self.options.azure {
            env.push(("FUNCTIONS_CUSTOMHANDLER_PORT".into(), port.to_string()));
        }
        let mut tail = None;
        if let Some(lambda) = self.lambda.as_ref().filter(|_| generation == 1) {
            env.extend(lambda.env_for(0));
            tail = Some(lambda.api.output(0));
        }
        let spec = Spec {
            argv: &target.argv,
            cwd: target.cwd.as_ref(),
            env,
            capture_output: target.capture_output,
            take_terminal: false,
            worker_id: 1,
            tail,
        };
        let program = target.argv.first().cloned().unwrap_or_default();
        let child = match process::spawn(self.reaper, spec) {
            Ok(child) => child,
            Err(source) if generation == 1 && target.command_mode => {
                let path = program.into();
                return Err(StartError::Exec { path, source });
            }
            Err(error) => {
                let path = program.to_string_lossy().into_owned();
                return Ok(Err(format!("cannot execute {path}: {error}")));
            }
        };
        let pid = child.pid;
        tracing::info!(pid, private_port = port, generation, "worker started");
        Ok(Ok((child, port)))
    }

    /// Publishes a worker that listens at `addr`.
    fn ready(&self, child: Child, addr: SocketAddr, generation: u64, started: Instant) -> Worker {
        let took = started.elapsed();
        self.app.metrics.initialized(took);
        self.app.readiness.set(Upstream::Ready {
            addr: Some(addr),
            generation,
        });
        let init_ms = took.as_millis() as u64;
        tracing::info!(pid = child.pid, init_ms, "worker ready");
        Worker {
            child,
            generation,
            ready_at: Instant::now(),
        }
    }

    /// The shutdown sequence of SPEC §7; returns the exit code.
    async fn shutdown(mut self, child: Option<Child>, stop: Stop) -> i32 {
        let how = Shutdown {
            app: &self.app,
            stop_server: &self.stop_server,
            reaper: self.reaper,
            timeout: self.options.shutdown_timeout,
            grace: self.options.grace,
            own_code: self.options.target.command_mode,
        };
        shutdown::run(how, &mut self.controls, stop, &mut OneWorker(child)).await
    }
}

/// A port nobody listens on now, for the worker's private server.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Waits until the worker listens and, with READINESS_PATH, answers it as ready, all within
/// `limit`.
async fn wait_serving(
    child: &mut Child,
    port: u16,
    limit: Duration,
    check: Option<(&ReadinessCheck, &crate::readiness::Readiness)>,
) -> Result<SocketAddr, String> {
    let deadline = Instant::now() + limit;
    let addr = wait_listening(child, port, limit).await?;
    if let Some((check, readiness)) = check {
        let path = &check.path;
        let reason = format!("waiting for GET {path} to answer a READINESS_STATUS status");
        readiness.set(Upstream::Starting { reason });
        super::ready_check::wait_answering(child, addr, check, deadline).await?;
    }
    Ok(addr)
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

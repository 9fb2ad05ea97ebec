//! The lifecycle of handler workers: one task per worker slot starts its process, waits for the
//! protocol handshake (`hello`, then `ready` or `init_error`), attaches it to the pool and
//! restarts it with backoff when it dies; the coordinator passes signals on and runs the
//! shutdown (not ready, drain, close the workers' sockets, SIGKILL at the deadline, reap all).

use std::ffi::OsString;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use libc::c_int;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout_at, Instant};

use super::process::{self, Child, Spec};
use super::reaper::{Reaper, WaitStatus};
use super::{leftovers, signals};
use crate::exit::{self, StartError};
use crate::runtime::HandlerTarget;
use crate::server::state::Upstream;
use crate::server::App;
use crate::worker::{Connection, Hub, Lifecycle, Pool};

/// One function's workers: its target and the pool its slots attach to.
pub struct Group {
    pub target: HandlerTarget,
    pub pool: Arc<Pool>,
}

pub struct HandlerOptions {
    pub groups: Vec<Group>,
    pub event_format: crate::config::EventFormat,
    pub shutdown_timeout: Duration,
    pub grace: Duration,
}

/// What the slot tasks share.
struct Shared {
    reaper: Arc<Reaper>,
    hub: Arc<Hub>,
    app: Arc<App>,
    options: HandlerOptions,
    /// Every worker slot of every function: its group and its place in that group's pool.
    /// A slot's index here, plus one, is its worker id.
    slots: Vec<(usize, usize)>,
    pids: Vec<AtomicI32>,
}

impl Shared {
    fn new(reaper: Arc<Reaper>, hub: Arc<Hub>, app: Arc<App>, options: HandlerOptions) -> Shared {
        let slots: Vec<(usize, usize)> = options
            .groups
            .iter()
            .enumerate()
            .flat_map(|(group, g)| (0..g.target.workers).map(move |place| (group, place)))
            .collect();
        let pids = (0..slots.len()).map(|_| AtomicI32::new(0)).collect();
        Shared {
            reaper,
            hub,
            app,
            options,
            slots,
            pids,
        }
    }

    fn group(&self, index: usize) -> (&Group, usize) {
        let (group, place) = self.slots[index];
        (&self.options.groups[group], place)
    }
}

/// What a slot tells the coordinator.
enum SlotEvent {
    Ready(usize),
    Down(usize, String),
    /// The first start failed: fnshim cannot serve (exit 65).
    Failed(String),
}

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

pub struct HandlerSupervisor {
    pub reaper: Arc<Reaper>,
    pub hub: Arc<Hub>,
    pub app: Arc<App>,
    pub options: HandlerOptions,
    pub stop_server: watch::Sender<bool>,
    pub events: mpsc::UnboundedReceiver<c_int>,
}

impl HandlerSupervisor {
    pub async fn run(self) -> Result<i32, StartError> {
        let HandlerSupervisor {
            reaper,
            hub,
            app,
            options,
            stop_server,
            mut events,
        } = self;
        let shared = Arc::new(Shared::new(reaper, hub, app, options));
        let workers = shared.slots.len();
        let (stop_tx, stop_rx) = watch::channel(None);
        let (report_tx, mut reports) = mpsc::unbounded_channel();
        let mut slots = JoinSet::new();
        for index in 0..workers {
            slots.spawn(slot(
                shared.clone(),
                index,
                stop_rx.clone(),
                report_tx.clone(),
            ));
        }
        let mut ready = vec![false; workers];
        let mut started = false;
        loop {
            tokio::select! {
                Some(report) = reports.recv() => match report {
                    SlotEvent::Failed(why) => {
                        stop_tx.send_replace(Some(Instant::now()));
                        while slots.join_next().await.is_some() {}
                        return Err(StartError::Load(why));
                    }
                    SlotEvent::Ready(index) => ready[index] = true,
                    SlotEvent::Down(index, reason) => {
                        ready[index] = false;
                        if started && !every_function_ready(&shared, &ready) {
                            shared.app.readiness.set(Upstream::Down { reason, generation: 1 });
                        }
                    }
                },
                Some(sig) = events.recv() => match sig {
                    libc::SIGTERM | libc::SIGINT => {
                        let stopping = Stopping { stop: stop_tx, slots, stop_server, events };
                        return Ok(shutdown(&shared, sig, stopping).await);
                    }
                    other => forward(&shared, other),
                },
            }
            publish_ready(&shared, &ready, &mut started);
        }
    }
}

/// Ready as soon as one worker of every function is (a cold start serves without waiting for
/// the others), and afterwards while each function has one up.
fn publish_ready(shared: &Shared, ready: &[bool], started: &mut bool) {
    if !every_function_ready(shared, ready) {
        return;
    }
    if !*started {
        let runtime = shared.options.groups[0].target.runtime;
        tracing::info!(
            workers = shared.slots.len(),
            ?runtime,
            functions = shared.options.groups.len(),
            "first worker ready"
        );
    }
    *started = true;
    shared.app.readiness.set(Upstream::Ready {
        addr: None,
        generation: 1,
    });
}

fn every_function_ready(shared: &Shared, ready: &[bool]) -> bool {
    (0..shared.options.groups.len()).all(|group| {
        shared
            .slots
            .iter()
            .zip(ready)
            .any(|(&(g, _), &up)| g == group && up)
    })
}

/// What the shutdown takes over from the running coordinator.
struct Stopping {
    stop: watch::Sender<Option<Instant>>,
    slots: JoinSet<bool>,
    stop_server: watch::Sender<bool>,
    events: mpsc::UnboundedReceiver<c_int>,
}

async fn shutdown(shared: &Shared, sig: c_int, mut stopping: Stopping) -> i32 {
    let begun = Instant::now();
    let kill_at = begun + shared.options.shutdown_timeout;
    let app = &shared.app;
    tracing::info!(
        signal = signals::name(sig),
        in_flight = app.in_flight.current(),
        "shutting down"
    );
    app.readiness.set(Upstream::Draining);
    stopping.stop_server.send_replace(true);
    let drain_until = kill_at - shared.options.grace;
    let forced = super::drain(app, &mut stopping.events, drain_until, |s| {
        forward(shared, s)
    })
    .await;
    stopping
        .stop
        .send_replace(Some(if forced { Instant::now() } else { kill_at }));
    let mut killed = forced;
    while let Some(result) = stopping.slots.join_next().await {
        killed |= result.unwrap_or(true);
    }
    leftovers::stop_all(&shared.reaper, 0, shared.options.grace).await;
    let code = if killed {
        128 + libc::SIGKILL
    } else {
        exit::OK
    };
    tracing::info!(
        exit_code = code,
        took_ms = begun.elapsed().as_millis() as u64,
        "stopped"
    );
    code
}

fn forward(shared: &Shared, sig: c_int) {
    for pid in &shared.pids {
        signals::kill_group(pid.load(Ordering::Acquire), sig);
    }
}

/// One worker slot, for the life of fnshim. Returns whether its worker had to be SIGKILLed.
async fn slot(
    shared: Arc<Shared>,
    index: usize,
    mut stop: watch::Receiver<Option<Instant>>,
    report: mpsc::UnboundedSender<SlotEvent>,
) -> bool {
    let mut backoff = FIRST_BACKOFF;
    let mut first = true;
    loop {
        let started = Instant::now();
        let outcome = tokio::select! {
            outcome = start(&shared, index) => outcome,
            _ = stopped(&mut stop) => return false,
        };
        let (mut child, connection) = match outcome {
            Ok(running) => running,
            Err(why) if first => {
                let _ = report.send(SlotEvent::Failed(why));
                return false;
            }
            Err(why) => {
                tracing::warn!(
                    worker = index + 1,
                    reason = why,
                    "the restarted worker failed to start"
                );
                let _ = report.send(SlotEvent::Down(index, why));
                if pause(&mut stop, &mut backoff).await {
                    return false;
                }
                continue;
            }
        };
        first = false;
        shared.app.metrics.initialized(started.elapsed());
        let _ = report.send(SlotEvent::Ready(index));
        match attached(&shared, index, &mut child, &connection, &mut stop).await {
            Ok(kill_at) => return stop_worker(&mut child, &connection, kill_at).await,
            Err(status) => {
                tracing::warn!(worker = index + 1, pid = child.pid, %status, "the worker exited; restarting it");
                child.signal(libc::SIGKILL);
                shared.app.metrics.worker_restarted();
                let why = format!("the worker exited ({status})");
                let _ = report.send(SlotEvent::Down(index, why));
                // A worker that ran for a while starts again quickly.
                if started.elapsed() > Duration::from_secs(10) {
                    backoff = FIRST_BACKOFF;
                }
                if pause(&mut stop, &mut backoff).await {
                    return false;
                }
            }
        }
    }
}

/// Serves from a ready worker until it exits (`Err`, its status) or the coordinator asks the
/// slots to stop (`Ok`, the SIGKILL deadline).
async fn attached(
    shared: &Shared,
    index: usize,
    child: &mut Child,
    connection: &Arc<Connection>,
    stop: &mut watch::Receiver<Option<Instant>>,
) -> Result<Instant, WaitStatus> {
    let (group, place) = shared.group(index);
    group.pool.attach(place, Some(connection.clone()));
    let stopped = tokio::select! {
        status = child.wait() => Err(status),
        kill_at = stopped(stop) => Ok(kill_at),
    };
    group.pool.attach(place, None);
    stopped
}

/// Resolves with the SIGKILL deadline once the coordinator asks the slots to stop.
async fn stopped(stop: &mut watch::Receiver<Option<Instant>>) -> Instant {
    match stop.wait_for(Option::is_some).await {
        Ok(deadline) => deadline.unwrap_or_else(Instant::now),
        Err(_) => Instant::now(),
    }
}

/// Waits out the backoff (then doubles it); true if a stop arrived meanwhile.
async fn pause(stop: &mut watch::Receiver<Option<Instant>>, backoff: &mut Duration) -> bool {
    let delay = *backoff;
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
    tokio::select! {
        _ = sleep(delay) => false,
        _ = stopped(stop) => true,
    }
}

/// Closes the worker's socket (it exits at end of file), then SIGKILL at `kill_at`.
async fn stop_worker(child: &mut Child, connection: &Connection, kill_at: Instant) -> bool {
    connection.close();
    child.signal(libc::SIGTERM);
    if timeout_at(kill_at, child.wait()).await.is_ok() {
        return false;
    }
    tracing::warn!(
        pid = child.pid,
        "the worker outlived SHUTDOWN_TIMEOUT; sending SIGKILL"
    );
    child.signal(libc::SIGKILL);
    child.wait().await;
    true
}

/// Starts the worker of slot `index` and waits for `hello` and `ready` within INIT_TIMEOUT.
async fn start(shared: &Shared, index: usize) -> Result<(Child, Arc<Connection>), String> {
    let target = &shared.group(index).0.target;
    let worker = index as u32 + 1;
    let arrival = shared.hub.expect(worker);
    // The function's own environment (f.yml) first, so that the protocol's variables win.
    let mut env = target.env.clone();
    env.extend(
        [
            ("FNSHIM_SOCKET", shared.hub.path.display().to_string()),
            ("FNSHIM_WORKER", worker.to_string()),
            ("FNSHIM_ENTRY", target.entry.display().to_string()),
            ("FNSHIM_HANDLER", target.handler.clone()),
            (
                "FNSHIM_EVENT_FORMAT",
                format!("{:?}", shared.options.event_format).to_lowercase(),
            ),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    env.extend(target.protocol_env.iter().cloned());
    let spec = Spec {
        argv: &target.argv,
        cwd: Some(&target.folder),
        env,
        capture_output: true,
        take_terminal: false,
        worker_id: worker,
        tail: None,
    };
    let mut child = process::spawn(&shared.reaper, spec)
        .map_err(|e| format!("cannot start {}: {e}", program(&target.argv)))?;
    shared.pids[index].store(child.pid, Ordering::Release);
    tracing::info!(worker, pid = child.pid, runtime = ?target.runtime, function = target.name, "worker started");
    let deadline = Instant::now() + target.init_timeout;
    let result = handshake(&mut child, arrival, worker, deadline).await;
    if result.is_err() {
        child.signal(libc::SIGKILL);
    }
    result.map(|connection| (child, connection))
}

async fn handshake(
    child: &mut Child,
    mut arrival: tokio::sync::oneshot::Receiver<crate::worker::Arrival>,
    worker: u32,
    deadline: Instant,
) -> Result<Arc<Connection>, String> {
    let too_slow = || "the worker did not load the function within INIT_TIMEOUT".to_string();
    let mut exited = None;
    let arrived = tokio::select! {
        arrived = timeout_at(deadline, &mut arrival) => arrived.map_err(|_| too_slow())?.ok(),
        status = child.wait() => {
            exited = Some(status);
            settled(&mut arrival).await.and_then(Result::ok)
        }
    };
    let Some(arrived) = arrived else {
        let status = exited
            .map(|s| s.to_string())
            .unwrap_or_else(|| "socket closed".into());
        return Err(format!(
            "the worker exited ({status}) before it connected; see its output above"
        ));
    };
    let (lifecycle_tx, mut lifecycle) = mpsc::unbounded_channel();
    let connection = Connection::start(
        worker,
        child.pid,
        arrived.reader,
        arrived.writer,
        lifecycle_tx,
    );
    let said = match exited {
        Some(_) => settled(lifecycle.recv()).await.flatten(),
        None => tokio::select! {
            said = timeout_at(deadline, lifecycle.recv()) => said.map_err(|_| too_slow())?,
            status = child.wait() => {
                exited = Some(status);
                settled(lifecycle.recv()).await.flatten()
            }
        },
    };
    match (said, exited) {
        (Some(Lifecycle::Ready), None) => Ok(connection),
        (Some(Lifecycle::InitError(error)), _) => Err(describe(&error)),
        (_, Some(status)) => Err(format!(
            "the worker exited ({status}) while loading the function"
        )),
        _ => Err("the worker closed its socket while loading the function".into()),
    }
}

/// What a worker that just exited had already written: its last messages are still in the
/// socket, so a short wait keeps its `init_error` from being lost to the exit (a race).
async fn settled<F: std::future::Future>(pending: F) -> Option<F::Output> {
    tokio::time::timeout(Duration::from_millis(500), pending)
        .await
        .ok()
}

/// An init error in the language's own words: `Type: message` and its stack.
fn describe(error: &Value) -> String {
    let mut text = format!(
        "{}: {}",
        error["errorType"].as_str().unwrap_or("Error"),
        error["errorMessage"].as_str().unwrap_or("")
    );
    for line in error["stackTrace"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        text.push_str("\n    ");
        text.push_str(line.trim_end());
    }
    text
}

fn program(argv: &[OsString]) -> String {
    argv.first()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

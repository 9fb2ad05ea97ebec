//! The lifecycle of handler workers: one task per worker slot starts its process, waits for the
//! protocol handshake (`hello`, then `ready` or `init_error`), attaches it to the pool and
//! restarts it with backoff when it dies; the coordinator passes signals on, and a stop runs the
//! shutdown sequence (`shutdown::run`), in which each slot closes its worker's socket.

use std::ffi::OsString;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::time::{timeout_at, Instant};

use super::control::{Control, Controls, Stop, TERMINATE};
use super::lifecycle::{pause, until, wait_child, Backoff, Groups};
use super::process::{self, Child, Spec};
use super::reaper::Reaper;
use super::shutdown::{self, Shutdown, Workers};
use super::slots::Slots;
use crate::exit::StartError;
use crate::readiness::Upstream;
use crate::runtime::HandlerTarget;
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
    /// Each slot's worker, by slot index.
    groups: Groups,
    /// When the stop came: the workers' shutdown hooks must end before SHUTDOWN_TIMEOUT
    /// from then.
    stopped_at: std::sync::OnceLock<Instant>,
}

impl Shared {
    fn new(reaper: Arc<Reaper>, hub: Arc<Hub>, app: Arc<App>, options: HandlerOptions) -> Shared {
        let slots: Vec<(usize, usize)> = options
            .groups
            .iter()
            .enumerate()
            .flat_map(|(group, g)| (0..g.target.workers).map(move |place| (group, place)))
            .collect();
        let groups = Groups::new(slots.len());
        Shared {
            reaper,
            hub,
            app,
            options,
            slots,
            groups,
            stopped_at: std::sync::OnceLock::new(),
        }
    }

    /// How long a worker told to shut down now has until it must have exited: the SIGKILL
    /// comes at SHUTDOWN_TIMEOUT from the stop, half the grace after this (time for a worker
    /// that gave up on its hook to exit on its own).
    fn time_to_exit(&self) -> Duration {
        let options = &self.options;
        let stopped_at = *self.stopped_at.get_or_init(Instant::now);
        let kill_at = stopped_at + options.shutdown_timeout;
        kill_at
            .saturating_duration_since(Instant::now())
            .saturating_sub(options.grace / 2)
    }

    fn group(&self, index: usize) -> (&Group, usize) {
        let (group, place) = self.slots[index];
        (&self.options.groups[group], place)
    }

    /// Ready as soon as one worker of every function is (a cold start serves without waiting
    /// for the others), and afterwards while each function has one up.
    fn every_function_ready(&self, ready: &[bool]) -> bool {
        (0..self.options.groups.len()).all(|group| {
            self.slots
                .iter()
                .zip(ready)
                .any(|(&(g, _), &up)| g == group && up)
        })
    }
}

/// What a slot tells the coordinator.
enum SlotEvent {
    Ready(usize),
    Down(usize, String),
    /// The first start failed: fnshim cannot serve (exit 65).
    Failed(String),
}

pub struct HandlerSupervisor {
    pub reaper: Arc<Reaper>,
    pub hub: Arc<Hub>,
    pub app: Arc<App>,
    pub options: HandlerOptions,
    pub stop_server: watch::Sender<bool>,
    pub controls: Controls,
}

impl HandlerSupervisor {
    pub async fn run(self) -> Result<i32, StartError> {
        let HandlerSupervisor {
            reaper,
            hub,
            app,
            options,
            stop_server,
            mut controls,
        } = self;
        let shared = Arc::new(Shared::new(reaper, hub, app, options));
        let (report_tx, mut reports) = mpsc::unbounded_channel();
        let mut slots = start_slots(&shared, report_tx);
        let mut ready = Ready {
            up: vec![false; shared.slots.len()],
            started: false,
        };
        loop {
            tokio::select! {
                Some(report) = reports.recv() => {
                    if let Err(why) = ready.track(&shared, report) {
                        slots.tell(libc::SIGKILL);
                        slots.gone().await;
                        return Err(StartError::Load(why));
                    }
                }
                control = controls.recv() => match control {
                    Control::Stop(stop) => {
                        shared.stopped_at.get_or_init(Instant::now);
                        let code = shut_down(&shared, &stop_server, &mut controls, stop, slots);
                        return Ok(code.await);
                    }
                    Control::Forward(sig) => shared.groups.signal(sig),
                },
            }
        }
    }
}

/// Which slots have a ready worker, and whether fnshim has served yet.
struct Ready {
    up: Vec<bool>,
    started: bool,
}

impl Ready {
    /// Updates readiness from a slot's report; the first start's failure is returned.
    fn track(&mut self, shared: &Shared, report: SlotEvent) -> Result<(), String> {
        match report {
            SlotEvent::Failed(why) => return Err(why),
            SlotEvent::Ready(index) => self.up[index] = true,
            SlotEvent::Down(index, reason) => {
                self.up[index] = false;
                if self.started && !shared.every_function_ready(&self.up) {
                    shared.app.readiness.set(Upstream::Down {
                        reason,
                        generation: 1,
                    });
                }
            }
        }
        if shared.every_function_ready(&self.up) {
            if !self.started {
                tracing::info!(
                    workers = shared.slots.len(),
                    runtime = ?shared.options.groups[0].target.runtime,
                    functions = shared.options.groups.len(),
                    "first worker ready"
                );
            }
            self.started = true;
            shared.app.readiness.set(Upstream::Ready {
                addr: None,
                generation: 1,
            });
        }
        Ok(())
    }
}

async fn shut_down(
    shared: &Shared,
    stop_server: &watch::Sender<bool>,
    controls: &mut Controls,
    stop: Stop,
    mut slots: Slots,
) -> i32 {
    let how = Shutdown {
        app: &shared.app,
        stop_server,
        reaper: &shared.reaper,
        timeout: shared.options.shutdown_timeout,
        grace: shared.options.grace,
        own_code: false,
    };
    shutdown::run(how, controls, stop, &mut slots).await
}

/// One slot per worker process, all started now.
fn start_slots(shared: &Arc<Shared>, report: mpsc::UnboundedSender<SlotEvent>) -> Slots {
    // Handler workers get SIGTERM after their socket closes (languages/PROTOCOL.md), whichever
    // signal stopped fnshim.
    let mut slots = Slots::new(shared.groups.clone(), Some(TERMINATE));
    for index in 0..shared.slots.len() {
        let (shared, report) = (shared.clone(), report.clone());
        slots.spawn(move |controls| slot(shared, index, controls, report));
    }
    slots
}

/// One worker slot, for the life of fnshim: start, serve until the worker dies or a stop
/// arrives, restart after the backoff.
async fn slot(
    shared: Arc<Shared>,
    index: usize,
    mut controls: Controls,
    report: mpsc::UnboundedSender<SlotEvent>,
) {
    let mut backoff = Backoff::new();
    let mut first = true;
    loop {
        let started = Instant::now();
        let Ok(outcome) = until(start(&shared, index), &mut controls, |_| {}).await else {
            return;
        };
        match outcome {
            Ok((child, connection)) => {
                first = false;
                shared.app.metrics.initialized(started.elapsed());
                let served = serve(&shared, index, child, connection, &mut controls, &report);
                match served.await {
                    Some(healthy) => backoff.exited_after(healthy),
                    None => return,
                }
            }
            Err(why) if first => {
                let _ = report.send(SlotEvent::Failed(why));
                return;
            }
            Err(why) => {
                let worker = index + 1;
                tracing::warn!(worker, reason = why, "the restarted worker failed to start");
                let _ = report.send(SlotEvent::Down(index, why));
            }
        }
        if pause(backoff.next_delay(), &mut controls).await.is_err() {
            return;
        }
    }
}

/// A ready worker in the pool until it dies (returns how long it was healthy) or a stop arrives
/// (tells it to shut down, closes its socket, signals it and waits for it; the shutdown
/// SIGKILLs at the deadline).
async fn serve(
    shared: &Shared,
    index: usize,
    mut child: Child,
    connection: Arc<Connection>,
    controls: &mut Controls,
    report: &mpsc::UnboundedSender<SlotEvent>,
) -> Option<Duration> {
    let (group, place) = shared.group(index);
    group.pool.attach(place, Some(connection.clone()));
    let _ = report.send(SlotEvent::Ready(index));
    let ready_at = Instant::now();
    let ended = wait_child(&mut child, controls).await;
    group.pool.attach(place, None);
    let status = match ended {
        Ok(status) => status,
        Err(stop) => {
            // The worker waits for its calls and their background work, runs the function's
            // shutdown hook and exits; SIGKILL at SHUTDOWN_TIMEOUT if it does not.
            connection.shut_down(shared.time_to_exit());
            child.signal(stop.signal);
            child.wait().await;
            return None;
        }
    };
    let (worker, pid) = (index + 1, child.pid);
    tracing::warn!(worker, pid, %status, "the worker exited; restarting it");
    child.signal(libc::SIGKILL);
    shared.groups.set(index, 0);
    shared.app.metrics.worker_restarted();
    let reason = format!("the worker exited ({status})");
    let _ = report.send(SlotEvent::Down(index, reason));
    Some(ready_at.elapsed())
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
            ("FNSHIM_INITIALIZER", target.initializer.clone()),
            ("FNSHIM_FUNCTION_NAME", target.name.clone()),
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
    shared.groups.set(index, child.pid);
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
    let pid = child.pid;
    let kill = Box::new(move || super::signals::kill_group(pid, libc::SIGKILL));
    let connection = Connection::start(
        worker,
        child.pid,
        arrived.reader,
        arrived.writer,
        lifecycle_tx,
        kill,
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

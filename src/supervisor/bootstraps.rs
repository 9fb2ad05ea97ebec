//! Runtime API bootstraps: a Lambda-style bootstrap takes one invocation at a time, so
//! FUNCTION_WORKERS processes run it, each in a slot with its own `AWS_LAMBDA_RUNTIME_API`.
//! A slot starts its process, counts it ready at its first `/next` (or fails at `/init/error`,
//! an exit or INIT_TIMEOUT), and restarts it with backoff when it dies. The back end reports
//! invocations past their deadline; the coordinator kills that process, as Lambda resets a
//! sandbox, and its slot starts a new one. A stop runs the shutdown sequence.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};

use super::control::{Control, Controls};
use super::lifecycle::{pause, until, wait_child, Backoff, Groups};
use super::process::{self, Child, Spec};
use super::proxy::ProxyOptions;
use super::reaper::Reaper;
use super::shutdown::{self, Shutdown, Workers};
use super::slots::Slots;
use crate::backend::runtime_api::{RuntimeApi, Started, TimedOut};
use crate::exit::StartError;
use crate::readiness::Upstream;
use crate::server::App;

/// What runs the bootstraps as Runtime API clients.
pub struct Lambda {
    pub api: Arc<RuntimeApi>,
    pub timeouts: mpsc::UnboundedReceiver<TimedOut>,
    pub reaper: Arc<Reaper>,
    /// The function's Lambda variables (name, version, memory, handler, task root).
    pub env: Vec<(String, String)>,
}

impl Lambda {
    /// The environment of slot `slot`'s process.
    pub fn env_for(&self, slot: usize) -> Vec<(String, String)> {
        env_for(&self.env, &self.api, slot)
    }
}

fn env_for(env: &[(String, String)], api: &RuntimeApi, slot: usize) -> Vec<(String, String)> {
    let mut env = env.to_vec();
    env.push(("AWS_LAMBDA_RUNTIME_API".into(), api.endpoint(slot)));
    env
}

/// What the slot tasks share.
struct Shared {
    api: Arc<RuntimeApi>,
    reaper: Arc<Reaper>,
    env: Vec<(String, String)>,
    app: Arc<App>,
    options: ProxyOptions,
    groups: Groups,
}

enum SlotEvent {
    Ready(usize),
    Down(usize, String),
    Failed(String),
}

/// Runs the bootstraps until a stop; `first` is slot 0's process when detection started it
/// (it has called `/next` already).
pub async fn run(
    lambda: Lambda,
    app: Arc<App>,
    options: ProxyOptions,
    stop_server: watch::Sender<bool>,
    mut controls: Controls,
    first: Option<Child>,
) -> Result<i32, StartError> {
    let Lambda {
        api,
        mut timeouts,
        reaper,
        env,
    } = lambda;
    let groups = Groups::new(api.slots());
    let shared = Arc::new(Shared {
        api,
        reaper,
        env,
        app,
        options,
        groups,
    });
    let (report_tx, mut reports) = mpsc::unbounded_channel();
    let mut slots = start_slots(&shared, report_tx, first);
    let mut up = vec![false; shared.api.slots()];
    loop {
        tokio::select! {
            Some(report) = reports.recv() => {
                if let Err(why) = track(&shared, &mut up, report) {
                    slots.tell(libc::SIGKILL);
                    slots.gone().await;
                    return Err(StartError::Load(why));
                }
            }
            Some(timed_out) = timeouts.recv() => kill_timed_out(&shared, timed_out),
            control = controls.recv() => match control {
                Control::Stop(stop) => {
                    let how = Shutdown {
                        app: &shared.app,
                        stop_server: &stop_server,
                        reaper: &shared.reaper,
                        timeout: shared.options.shutdown_timeout,
                        grace: shared.options.grace,
                        own_code: false,
                    };
                    return Ok(shutdown::run(how, &mut controls, stop, &mut slots).await);
                }
                Control::Forward(sig) => shared.groups.signal(sig),
            },
        }
    }
}

/// Readiness from the slots' reports: ready while one process polls; the first start's
/// failure (exit 65) is returned.
fn track(shared: &Shared, up: &mut [bool], report: SlotEvent) -> Result<(), String> {
    let readiness = &shared.app.readiness;
    match report {
        SlotEvent::Failed(why) => return Err(why),
        SlotEvent::Ready(index) => {
            if !up.iter().any(|&u| u) {
                tracing::info!(workers = up.len(), "first bootstrap ready");
            }
            up[index] = true;
            readiness.set(Upstream::Ready {
                addr: None,
                generation: 1,
            });
        }
        SlotEvent::Down(index, reason) => {
            up[index] = false;
            if !up.iter().any(|&u| u) {
                readiness.set(Upstream::Down {
                    reason,
                    generation: 1,
                });
            }
        }
    }
    Ok(())
}

/// Kills the process that held an invocation past its deadline, unless it is gone already.
fn kill_timed_out(shared: &Shared, timed_out: TimedOut) {
    let pid = shared.groups.pid(timed_out.slot);
    if pid > 0 && (timed_out.pid == pid || timed_out.pid == 0) {
        let worker = timed_out.slot + 1;
        tracing::warn!(
            worker,
            pid,
            "an invocation timed out; restarting its bootstrap"
        );
        super::signals::kill_group(pid, libc::SIGKILL);
    }
}

/// One slot per worker process, all started now.
fn start_slots(
    shared: &Arc<Shared>,
    report: mpsc::UnboundedSender<SlotEvent>,
    mut first: Option<Child>,
) -> Slots {
    let mut slots = Slots::new(shared.groups.clone(), None);
    for index in 0..shared.api.slots() {
        let (shared, report, child) = (shared.clone(), report.clone(), first.take());
        slots.spawn(move |controls| slot(shared, index, controls, report, child));
    }
    slots
}

/// One slot for the life of fnshim: start, serve until the process dies or a stop arrives,
/// restart after the backoff.
async fn slot(
    shared: Arc<Shared>,
    index: usize,
    mut controls: Controls,
    report: mpsc::UnboundedSender<SlotEvent>,
    mut first: Option<Child>,
) {
    let mut backoff = Backoff::new();
    let mut initial = true;
    loop {
        let started = Instant::now();
        let outcome = match first.take() {
            Some(child) => Ok(child),
            None => match until(start(&shared, index), &mut controls, |_| {}).await {
                Ok(outcome) => outcome,
                Err(_) => return,
            },
        };
        match outcome {
            Ok(child) => {
                initial = false;
                shared.app.metrics.initialized(started.elapsed());
                match serve(&shared, index, child, &mut controls, &report).await {
                    Some(healthy) => backoff.exited_after(healthy),
                    None => return,
                }
            }
            Err(why) if initial => {
                let _ = report.send(SlotEvent::Failed(why));
                return;
            }
            Err(why) => {
                let worker = index + 1;
                tracing::warn!(
                    worker,
                    reason = why,
                    "the restarted bootstrap failed to start"
                );
                let _ = report.send(SlotEvent::Down(index, why));
            }
        }
        if pause(backoff.next_delay(), &mut controls).await.is_err() {
            return;
        }
    }
}

/// A polling process until it dies (returns how long it was healthy) or a stop arrives
/// (passes the stop's signal on and waits; the shutdown SIGKILLs at the deadline).
async fn serve(
    shared: &Shared,
    index: usize,
    mut child: Child,
    controls: &mut Controls,
    report: &mpsc::UnboundedSender<SlotEvent>,
) -> Option<Duration> {
    shared.groups.set(index, child.pid);
    shared.api.attach(index, child.pid);
    let _ = report.send(SlotEvent::Ready(index));
    let ready_at = Instant::now();
    let ended = wait_child(&mut child, controls).await;
    shared.api.detach(index);
    let status = match ended {
        Ok(status) => status,
        Err(stop) => {
            child.signal(stop.signal);
            child.wait().await;
            shared.groups.set(index, 0);
            return None;
        }
    };
    let (worker, pid) = (index + 1, child.pid);
    tracing::warn!(worker, pid, %status, "the bootstrap exited; restarting it");
    child.signal(libc::SIGKILL);
    shared.groups.set(index, 0);
    shared.app.metrics.worker_restarted();
    let reason = format!("the bootstrap exited ({status})");
    let _ = report.send(SlotEvent::Down(index, reason));
    Some(ready_at.elapsed())
}

/// Starts slot `index`'s process and waits for its first `/next` within INIT_TIMEOUT.
async fn start(shared: &Shared, index: usize) -> Result<Child, String> {
    let api = &shared.api;
    api.reset(index);
    let mut child = spawn(shared, index)?;
    shared.groups.set(index, child.pid);
    api.attach(index, child.pid);
    let limit = shared.options.init_timeout;
    let said = tokio::select! {
        said = api.started(index) => said,
        status = child.wait() => {
            shared.groups.set(index, 0);
            return Err(format!("the bootstrap exited ({status}) before it called /next"));
        }
        _ = sleep_until(Instant::now() + limit) => Started::Waiting,
    };
    let why = match said {
        Started::Polled => return Ok(child),
        Started::InitError(why) => why,
        Started::Waiting => format!(
            "the bootstrap did not call /next within INIT_TIMEOUT ({})",
            humantime::format_duration(limit)
        ),
    };
    child.signal(libc::SIGKILL);
    child.wait().await;
    shared.groups.set(index, 0);
    api.detach(index);
    Err(why)
}

fn spawn(shared: &Shared, index: usize) -> Result<Child, String> {
    let target = &shared.options.target;
    let spec = Spec {
        argv: &target.argv,
        cwd: target.cwd.as_ref(),
        env: env_for(&shared.env, &shared.api, index),
        capture_output: target.capture_output,
        take_terminal: false,
        worker_id: index as u32 + 1,
        tail: Some(shared.api.output(index)),
    };
    let child = process::spawn(&shared.reaper, spec).map_err(|error| {
        let program = target
            .argv
            .first()
            .map(|p| p.to_string_lossy().into_owned());
        format!("cannot execute {}: {error}", program.unwrap_or_default())
    })?;
    tracing::info!(worker = index + 1, pid = child.pid, "bootstrap started");
    Ok(child)
}

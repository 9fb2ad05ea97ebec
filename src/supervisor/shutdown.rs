//! The shutdown sequence of SPEC §7, once for every serving mode: not ready, close the listener,
//! drain until `SHUTDOWN_TIMEOUT − grace` (a worker that exits meanwhile ends the wait), ask the
//! workers to stop, SIGKILL at `SHUTDOWN_TIMEOUT`, a second stop SIGKILLs at once; then stop
//! what was left behind and return the exit code.

use std::time::Duration;

use libc::c_int;
use tokio::sync::watch;
use tokio::time::{sleep_until, timeout_at, Instant};

use super::control::{self, Control, Controls, Stop};
use super::leftovers;
use super::lifecycle::{until, Groups};
use super::process::Child;
use super::reaper::{Reaper, WaitStatus};
use crate::exit;
use crate::readiness::Upstream;
use crate::server::App;

/// What a shutdown stops: the proxied worker, or the slots of the handler workers.
pub(crate) trait Workers {
    /// Where signals are passed on to, and what a second stop or the deadline SIGKILLs.
    fn groups(&self) -> Groups;
    /// Resolves when the workers end on their own during the drain (a proxied worker that
    /// exits); never for handler slots, which restart their workers until asked to stop.
    async fn exited(&mut self) -> WaitStatus;
    /// Asks the workers to stop after the drain; `signal` is the stop's own.
    fn stop(&mut self, signal: c_int);
    /// Resolves once every worker is gone, with the proxied worker's status.
    async fn gone(&mut self) -> Option<WaitStatus>;
    /// The process group whose leftovers are stopped besides fnshim's own children.
    fn main_group(&self) -> i32;
}

/// What the shutdown needs besides the workers and the controls.
pub(crate) struct Shutdown<'a> {
    pub app: &'a App,
    /// Turning this true makes the server close its listener and drain its connections.
    pub stop_server: &'a watch::Sender<bool>,
    pub reaper: &'a Reaper,
    /// SHUTDOWN_TIMEOUT: SIGKILL this long after the stop.
    pub timeout: Duration,
    /// How long before the deadline the workers are asked to stop.
    pub grace: Duration,
    /// Command mode: exit with the worker's own code, however it ended.
    pub own_code: bool,
}

/// How the drain ended.
enum Drained {
    /// The connections are gone, or the drain deadline passed.
    Over,
    Exited(WaitStatus),
    Forced,
}

/// How the workers ended.
struct Outcome {
    status: Option<WaitStatus>,
    on_their_own: bool,
    killed: bool,
}

/// Runs the shutdown that `stop` began and returns fnshim's exit code.
pub(crate) async fn run(
    how: Shutdown<'_>,
    controls: &mut Controls,
    stop: Stop,
    workers: &mut impl Workers,
) -> i32 {
    let begun = Instant::now();
    let kill_at = begun + how.timeout;
    tracing::info!(
        signal = control::name(stop.signal),
        in_flight = how.app.in_flight.current(),
        "shutting down"
    );
    how.app.readiness.set(Upstream::Draining);
    how.stop_server.send_replace(true);
    let groups = workers.groups();
    let drained = match stop.forced {
        true => Drained::Forced,
        false => drain(how.app, controls, workers, &groups, kill_at - how.grace).await,
    };
    let outcome = match drained {
        Drained::Exited(status) => {
            tracing::warn!(%status, "the worker exited during the drain");
            Outcome {
                status: Some(status),
                on_their_own: true,
                killed: false,
            }
        }
        over => {
            let stop = Stop {
                forced: matches!(over, Drained::Forced),
                ..stop
            };
            stop_workers(controls, workers, &groups, stop, kill_at).await
        }
    };
    leftovers::stop_all(how.reaper, workers.main_group(), how.grace).await;
    let code = exit_code(&outcome, how.own_code);
    let status = outcome.status.map(tracing::field::display);
    let took_ms = begun.elapsed().as_millis() as u64;
    tracing::info!(status, exit_code = code, took_ms, "stopped");
    code
}

/// Waits until no client connection is open, `drain_until`, or the workers end; signals are
/// passed on meanwhile.
async fn drain(
    app: &App,
    controls: &mut Controls,
    workers: &mut impl Workers,
    groups: &Groups,
    drain_until: Instant,
) -> Drained {
    let connections = app.connections.clone();
    let drained = async {
        tokio::select! {
            status = workers.exited() => Some(status),
            idle = timeout_at(drain_until, connections.idle()) => {
                if idle.is_err() {
                    tracing::warn!(in_flight = app.in_flight.current(), "drain deadline reached");
                }
                None
            }
        }
    };
    match until(drained, controls, |sig| groups.signal(sig)).await {
        Ok(Some(status)) => Drained::Exited(status),
        Ok(None) => Drained::Over,
        Err(_) => Drained::Forced,
    }
}

/// Asks the workers to stop with the stop's signal and waits until they are gone: SIGKILL at
/// `kill_at`, or at once when the stop is forced or another one arrives.
async fn stop_workers(
    controls: &mut Controls,
    workers: &mut impl Workers,
    groups: &Groups,
    stop: Stop,
    kill_at: Instant,
) -> Outcome {
    // Asked first, so that a handler slot whose worker dies of the SIGKILL does not restart it.
    workers.stop(stop.signal);
    let mut killed = stop.forced && second_stop(groups);
    let mut deadline_passed = stop.forced;
    loop {
        tokio::select! {
            status = workers.gone() => return Outcome { status, on_their_own: false, killed },
            _ = sleep_until(kill_at), if !deadline_passed => {
                tracing::warn!("the worker outlived SHUTDOWN_TIMEOUT; sending SIGKILL");
                killed |= groups.kill();
                deadline_passed = true;
            }
            control = controls.recv() => match control {
                Control::Stop(_) => {
                    killed |= second_stop(groups);
                    deadline_passed = true;
                }
                Control::Forward(sig) => groups.signal(sig),
            },
        }
    }
}

fn second_stop(groups: &Groups) -> bool {
    tracing::warn!("second stop signal; sending SIGKILL");
    groups.kill()
}

/// Command mode reports the worker's own code, as does a worker that died during the drain;
/// otherwise 0 for workers that stopped when asked, 137 if one had to be SIGKILLed.
fn exit_code(outcome: &Outcome, own_code: bool) -> i32 {
    match outcome.status {
        Some(status) if own_code || outcome.on_their_own => status.code(),
        _ if outcome.killed => exit::KILLED,
        _ => exit::OK,
    }
}

/// The one worker of proxy mode, if a stop did not find it between two starts.
pub(crate) struct OneWorker(pub Option<Child>);

impl Workers for OneWorker {
    fn groups(&self) -> Groups {
        Groups::of(self.main_group())
    }

    async fn exited(&mut self) -> WaitStatus {
        match &mut self.0 {
            Some(child) => child.wait().await,
            None => std::future::pending().await,
        }
    }

    fn stop(&mut self, signal: c_int) {
        if let Some(child) = &self.0 {
            child.signal(signal);
        }
    }

    async fn gone(&mut self) -> Option<WaitStatus> {
        match &mut self.0 {
            Some(child) => Some(child.wait().await),
            None => None,
        }
    }

    fn main_group(&self) -> i32 {
        self.0.as_ref().map_or(0, |child| child.pid)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::backend::http::Upstream as Proxied;
    use crate::server::handler::Routes;
    use crate::server::{App, Backend};
    use crate::supervisor::control::{ControlSender, TERMINATE};
    use crate::supervisor::lifecycle::tests::{reaper, sh};

    struct Fixture {
        app: Arc<App>,
        stop_server: watch::Sender<bool>,
        tx: ControlSender,
        controls: Controls,
    }

    fn fixture() -> Fixture {
        let readiness = Arc::new(crate::readiness::Readiness::new());
        let in_flight = crate::readiness::InFlight::new(1);
        let timeout = Duration::from_secs(1);
        let upstream = Proxied::new(
            "test".into(),
            readiness.clone(),
            false,
            timeout,
            1024,
            in_flight.clone(),
        );
        let routes = Routes {
            router: None,
            format: crate::config::EventFormat::V1,
            trigger: crate::config::Trigger::Http,
            azure: None,
        };
        let backend = Backend::Http(upstream);
        let (tx, controls) = Controls::channel();
        Fixture {
            app: App::new(readiness, in_flight, timeout, 1024, backend, routes),
            stop_server: watch::channel(false).0,
            tx,
            controls,
        }
    }

    impl Fixture {
        /// Stops `child` as a first SIGTERM would, with SHUTDOWN_TIMEOUT `timeout` and a grace of
        /// a third of it; returns the exit code and how long the shutdown took.
        async fn shut_down(&mut self, child: Option<Child>, timeout: Duration) -> (i32, Duration) {
            self.tx.stop();
            let Control::Stop(stop) = self.controls.recv().await else {
                panic!("a stop was sent")
            };
            let how = Shutdown {
                app: &self.app,
                stop_server: &self.stop_server,
                reaper: reaper(),
                timeout,
                grace: timeout / 3,
                own_code: false,
            };
            let begun = Instant::now();
            let code = run(how, &mut self.controls, stop, &mut OneWorker(child)).await;
            (code, begun.elapsed())
        }
    }

    /// A worker that notes the SIGTERM in `marker` and goes on running.
    fn stubborn(marker: &std::path::Path) -> Child {
        sh(&format!(
            "trap ': > {}' TERM; while :; do sleep 0.02; done",
            marker.display()
        ))
    }

    #[tokio::test]
    async fn a_stop_drains_then_signals_then_kills_at_the_deadline() {
        let mut fixture = fixture();
        let connection = fixture.app.connections.try_acquire();
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("term");
        let child = stubborn(&marker);
        let timeout = Duration::from_millis(900);
        let early = {
            let marker = marker.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                marker.exists()
            })
        };
        let (code, took) = fixture.shut_down(Some(child), timeout).await;
        assert!(!early.await.unwrap(), "signalled during the drain");
        assert!(marker.exists(), "not signalled after the drain");
        assert_eq!(code, exit::KILLED);
        assert!(took >= timeout && took < timeout * 3, "took {took:?}");
        assert!(
            *fixture.stop_server.borrow(),
            "the server was not told to close"
        );
        assert!(matches!(
            fixture.app.readiness.current(),
            Upstream::Draining
        ));
        drop(connection);
    }

    #[tokio::test]
    async fn a_second_stop_kills_at_once() {
        let mut fixture = fixture();
        let _connection = fixture.app.connections.try_acquire();
        let child = sh("trap '' TERM; sleep 5");
        let tx = fixture.tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            tx.send(Control::from_signal(TERMINATE));
        });
        let (code, took) = fixture
            .shut_down(Some(child), Duration::from_secs(10))
            .await;
        assert_eq!(code, exit::KILLED);
        assert!(took < Duration::from_secs(2), "took {took:?}");
    }

    #[tokio::test]
    async fn a_worker_that_exits_during_the_drain_ends_the_wait() {
        let mut fixture = fixture();
        let _connection = fixture.app.connections.try_acquire();
        let child = sh("sleep 0.2; exit 3");
        let (code, took) = fixture
            .shut_down(Some(child), Duration::from_secs(10))
            .await;
        assert_eq!(code, 3);
        assert!(took < Duration::from_secs(2), "took {took:?}");
    }

    #[tokio::test]
    async fn the_drain_ends_with_the_last_connection_and_the_worker_stops_when_asked() {
        let mut fixture = fixture();
        let connection = fixture.app.connections.try_acquire();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            drop(connection);
        });
        let child = sh("sleep 5");
        let (code, took) = fixture
            .shut_down(Some(child), Duration::from_secs(10))
            .await;
        assert_eq!(code, exit::OK);
        assert!(took < Duration::from_secs(2), "took {took:?}");
    }

    #[tokio::test]
    async fn command_mode_reports_the_workers_own_code() {
        let mut fixture = fixture();
        let child = sh("sleep 5");
        let how = Shutdown {
            app: &fixture.app,
            stop_server: &fixture.stop_server,
            reaper: reaper(),
            timeout: Duration::from_secs(10),
            grace: Duration::from_secs(1),
            own_code: true,
        };
        let stop = Stop {
            signal: TERMINATE,
            forced: false,
        };
        let code = run(
            how,
            &mut fixture.controls,
            stop,
            &mut OneWorker(Some(child)),
        )
        .await;
        assert_eq!(code, 128 + TERMINATE);
    }

    #[tokio::test]
    async fn without_a_worker_the_stop_is_clean() {
        let mut fixture = fixture();
        let (code, _) = fixture.shut_down(None, Duration::from_secs(10)).await;
        assert_eq!(code, exit::OK);
    }
}

//! The AWS Lambda front end: with AWS_LAMBDA_RUNTIME_API set, fnshim polls the Runtime API
//! instead of listening on PORT. One poller per invocation slot takes an event from
//! `/invocation/next`, hands it to the back end as an [`Invocation`], and posts the result or
//! the error; init failures go to `/init/error` before fnshim exits.
//!
//! Architecture invariant: like every front end, this reaches back ends only through
//! `backend::Backend` and `invoke`.

pub mod client;
pub mod invocation;
mod stream;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::backend::workers::epoch_ms;
use crate::config::{Config, Lambda};
use crate::exit::{self, StartError};
use crate::invoke::{Failed, Invocation, Outcome, Payload};
use crate::local::Finish;
use crate::server::{metrics, App};
use client::{Next, RuntimeApi, Unreachable};
use invocation::Reply;

/// When `run` began (just after exec), for the time to the first `/next`.
pub static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// How often an invocation that found no worker tries again.
const RETRY_NOT_READY: Duration = Duration::from_millis(20);

/// How long `/init/error` may take: emulators hold it until an invocation arrives.
const INIT_ERROR_LIMIT: Duration = Duration::from_secs(3);

/// The front end's shared state: the API, the back end, and the one-time warnings.
struct Front {
    api: RuntimeApi,
    app: Arc<App>,
    function_timeout: Duration,
    warned_deadline: AtomicBool,
    started: std::time::Instant,
    polled: AtomicBool,
    /// AWS_LWA_INVOKE_MODE=response_stream: HTTP answers are streamed to `/response`.
    streaming: bool,
}

/// What the front end needs from the start-up: when fnshim started, how long the function
/// may take to become ready, and how to stop fnshim with a code.
pub struct Start {
    pub started: std::time::Instant,
    pub ready_limit: Duration,
    pub function_timeout: Duration,
    pub finish: Finish,
}

/// With AWS_LAMBDA_RUNTIME_API, starts the Runtime API client as the front end (in place of
/// the server on PORT).
pub fn start(config: &Config, app: Arc<App>, finish: Finish) {
    let Some(settings) = config.lambda.clone() else {
        return;
    };
    let start = Start {
        started: *STARTED.get_or_init(std::time::Instant::now),
        ready_limit: config.init_timeout + config.install_timeout,
        function_timeout: config.function_timeout,
        finish,
    };
    tokio::spawn(run(app, settings, start));
}

/// Waits until the function is ready, then polls with `max_concurrency` pollers until the
/// API is gone (exit 69) or fnshim stops.
pub async fn run(app: Arc<App>, lambda: Lambda, start: Start) {
    if app.readiness.wait_ready(start.ready_limit).await.is_err() {
        // The supervisor reports why (and posts the init error); nothing to poll for.
        return;
    }
    let front = Arc::new(Front {
        api: RuntimeApi::new(&lambda.runtime_api),
        app,
        function_timeout: start.function_timeout,
        warned_deadline: AtomicBool::new(false),
        started: start.started,
        polled: AtomicBool::new(false),
        streaming: lambda.streaming,
    });
    let mut pollers = tokio::task::JoinSet::new();
    for _ in 0..lambda.max_concurrency {
        pollers.spawn(poll(front.clone()));
    }
    if let Some(Ok(Err(gone))) = pollers.join_next().await {
        tracing::error!(
            address = gone.address,
            reason = gone.reason,
            exit_code = exit::UNAVAILABLE,
            "{gone}"
        );
        start
            .finish
            .code
            .store(exit::UNAVAILABLE, std::sync::atomic::Ordering::Release);
        start.finish.stop.stop();
    }
}

/// One invocation slot: next event, invoke, post; until the API is gone.
async fn poll(front: Arc<Front>) -> Result<(), Unreachable> {
    loop {
        if !front.polled.swap(true, Ordering::Relaxed) {
            let since_start = front.started.elapsed();
            tracing::info!(
                address = front.api.address(),
                since_start_us = since_start.as_micros() as u64,
                "polling the Lambda Runtime API"
            );
        }
        let next = front.api.next().await?;
        let request_id = next.request_id.clone();
        let started = Instant::now();
        let (invocation, shape, timeout) = front.invocation(next);
        let trace_id = invocation.context.get("traceId").cloned();
        let outcome = match front.invoke(invocation).await {
            Ok(Outcome::Stream(streamed)) => {
                front.stream(&request_id, streamed, started).await?;
                continue;
            }
            outcome => outcome,
        };
        let reply = invocation::reply(outcome, shape, timeout);
        let recorded = match &reply {
            Reply::Response(_) => metrics::Outcome::Success,
            Reply::Error(_) => metrics::Outcome::Error,
        };
        front.app.metrics.record(recorded, started.elapsed());
        tracing::info!(
            request_id,
            trace_id = trace_id.as_ref().and_then(|t| t.as_str()),
            error_type = match &reply {
                Reply::Error(e) => e["errorType"].as_str(),
                Reply::Response(_) => None,
            },
            duration_us = started.elapsed().as_micros() as u64,
            "invocation"
        );
        front.post(&request_id, reply).await?;
    }
}

impl Front {
    fn invocation(
        &self,
        next: Next,
    ) -> (Invocation, Option<crate::event::lambda::Shape>, Duration) {
        let (left, implausible) =
            invocation::time_left(&next.headers, epoch_ms(), self.function_timeout);
        if implausible && !self.warned_deadline.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                deadline_ms = next.headers.get("lambda-runtime-deadline-ms").and_then(|v| v.to_str().ok()),
                fallback_ms = self.function_timeout.as_millis() as u64,
                "Lambda-Runtime-Deadline-Ms is missing or not an epoch time in the next 15 minutes (an emulator?); using FUNCTION_TIMEOUT"
            );
        }
        let event = invocation::event_of(&next.body);
        let (kind, shape) = invocation::kind_of(&event);
        let invocation = Invocation {
            function: 0,
            kind,
            request_id: next.request_id,
            event: Payload::Json(event),
            context: invocation::context_of(&next.headers),
            trace: None,
            deadline: Instant::now() + left,
            stream: self.streaming && kind == crate::invoke::Kind::Http,
            logs: None,
        };
        (invocation, shape, left)
    }

    /// Posts a streamed answer as it arrives, then logs and counts it.
    async fn stream(
        &self,
        request_id: &str,
        streamed: crate::invoke::Streamed,
        started: Instant,
    ) -> Result<(), Unreachable> {
        let status = streamed.status;
        let accepted = self
            .api
            .respond_streaming(request_id, stream::body(streamed))
            .await?;
        let outcome = match accepted {
            true => metrics::Outcome::Success,
            false => metrics::Outcome::Error,
        };
        self.app.metrics.record(outcome, started.elapsed());
        tracing::info!(
            request_id,
            status,
            accepted,
            duration_us = started.elapsed().as_micros() as u64,
            "invocation (streamed)"
        );
        Ok(())
    }

    /// Runs the invocation; one that reached no worker (all restarting after a crash) is tried
    /// again until its deadline, since Lambda hands over the next event at once.
    async fn invoke(&self, invocation: Invocation) -> Result<Outcome, Failed> {
        loop {
            let deadline = invocation.deadline;
            let Some(attempt) = invocation.try_clone() else {
                return self.app.backend.invoke(invocation).await;
            };
            match self.app.backend.invoke(attempt).await {
                Err(Failed::NotReady) if Instant::now() + RETRY_NOT_READY < deadline => {
                    tokio::time::sleep(RETRY_NOT_READY).await
                }
                outcome => return outcome,
            }
        }
    }

    /// Posts the reply; a result the API refuses (too large, say) is posted as an error.
    async fn post(&self, request_id: &str, reply: Reply) -> Result<(), Unreachable> {
        let accepted = match &reply {
            Reply::Response(body) => self.api.respond(request_id, body.clone()).await?,
            Reply::Error(error) => self.api.fail(request_id, error).await?,
        };
        if !accepted {
            tracing::warn!(
                request_id,
                "the Runtime API refused the answer; posting an error"
            );
            let error = serde_json::json!({
                "errorType": "Runtime.InvalidResponse",
                "errorMessage": "the Runtime API refused the function's answer (too large, or not valid)",
                "stackTrace": [],
            });
            self.api.fail(request_id, &error).await?;
        }
        Ok(())
    }
}

/// Reports why fnshim cannot start; in Lambda, posts it to `/init/error` first (bounded; a
/// failure to post is logged). Returns the exit code.
pub async fn report(lambda: Option<&Lambda>, error: &StartError) -> i32 {
    if let Some(lambda) = lambda {
        let api = RuntimeApi::new(&lambda.runtime_api);
        let body = invocation::init_failure(error);
        match api.init_error(&body, INIT_ERROR_LIMIT).await {
            Ok(()) => tracing::info!(
                error_type = body["errorType"].as_str(),
                "posted the init error to the Lambda Runtime API"
            ),
            Err(reason) => tracing::warn!(
                address = api.address(),
                reason,
                "could not post the init error to the Lambda Runtime API"
            ),
        }
    }
    crate::report(error)
}

/// The served exit code, or the start-up error [`report`]ed.
pub async fn served(lambda: Option<&Lambda>, result: Result<i32, StartError>) -> i32 {
    match result {
        Ok(code) => code,
        Err(error) => report(lambda, &error).await,
    }
}

/// [`report`] before any async runtime exists.
pub fn report_now(lambda: Option<&Lambda>, error: &StartError) -> i32 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    match (lambda, runtime) {
        (Some(_), Ok(runtime)) => runtime.block_on(report(lambda, error)),
        _ => crate::report(error),
    }
}

/// Before anything else: notes the start, turns the client off for a local job (`check`,
/// `invoke`), and makes sure of a writable CACHE_DIR.
pub fn prepare(config: &mut Config, local_job: bool) {
    STARTED.get_or_init(std::time::Instant::now);
    if local_job {
        config.lambda = None;
    }
    if config.lambda.is_some() {
        writable_cache(config);
    }
}

/// In Lambda only /tmp is writable: a CACHE_DIR that cannot be written (the images' own
/// /var/cache/fnshim) is replaced by /tmp/fnshim, with a warning.
fn writable_cache(config: &mut Config) {
    if can_write(&config.cache_dir) {
        return;
    }
    let fallback = PathBuf::from("/tmp/fnshim");
    tracing::warn!(
        cache_dir = %config.cache_dir.display(),
        using = %fallback.display(),
        "CACHE_DIR is not writable (in Lambda only /tmp is); using /tmp"
    );
    config.cache_dir = fallback;
}

fn can_write(dir: &Path) -> bool {
    if std::fs::create_dir_all(dir).is_err() {
        return false;
    }
    let probe = dir.join(format!(".fnshim-write-{}", std::process::id()));
    let written = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unwritable_cache_dir_falls_back_to_tmp_in_lambda() {
        let env = crate::config::test_env(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("CACHE_DIR", "/proc/fnshim-cannot-exist"),
        ]);
        let mut config = Config::from_env(&env, None).unwrap();
        prepare(&mut config, false);
        assert_eq!(config.cache_dir, PathBuf::from("/tmp/fnshim"));
        let mut local = Config::from_env(&env, None).unwrap();
        prepare(&mut local, true);
        assert_eq!(local.lambda, None);
        assert_eq!(local.cache_dir, PathBuf::from("/proc/fnshim-cannot-exist"));
    }
}

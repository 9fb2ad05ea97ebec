//! fnshim: the ENTRYPOINT and PID 1 of serverless function containers.
//!
//! `main` blocks signals, parses the command line and the environment, and calls [`run`], which
//! resolves what to launch ([`runtime`]), starts the signal thread and the single reaper
//! ([`supervisor`]), and either runs a plain init or serves HTTP ([`server`]) in front of a worker.

#[cfg(test)]
mod architecture;
pub(crate) mod backend;
pub mod cli;
pub mod config;
pub(crate) mod event;
pub mod exit;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod install;
pub(crate) mod invoke;
pub(crate) mod json;
pub(crate) mod kept;
pub(crate) mod lambda;
pub mod local;
pub mod logging;
pub(crate) mod memory;
pub mod plan;
pub(crate) mod readiness;
pub(crate) mod runtime;
mod serve;
pub(crate) mod server;
pub mod supervisor;
pub(crate) mod trace;
pub(crate) mod trigger;
pub(crate) mod worker;

use std::sync::Arc;

use config::ConfigError;
use exit::StartError;
use plan::Plan;
use runtime::Launch;
use supervisor::control::Controls;
use supervisor::init::{self, InitOptions};
use supervisor::reaper::Reaper;
use supervisor::signals;

/// Runs the plan until `controls` stop it and returns the process exit code. `main` passes
/// [`Controls::from_signals`] (signals must already be blocked); a test injects its own stops.
pub fn run(plan: Plan, controls: Controls) -> i32 {
    run_job(plan, None, controls)
}

/// Runs the plan, optionally for one local job (`check`, `invoke`) that stops it when done
/// instead of serving until `controls` do; returns the exit code.
pub fn run_job(plan: Plan, job: Option<local::Job>, controls: Controls) -> i32 {
    let Plan { config, launch } = plan;
    let reaper = Arc::new(Reaper::new());
    if !supervisor::become_subreaper() {
        tracing::warn!("cannot become a child subreaper: orphans of the function are reaped by the host's init");
    }
    if let Err(error) = signals::start(reaper.clone(), controls.signal_feed()) {
        return report(&StartError::Unavailable(format!(
            "cannot start the signal thread: {error}"
        )));
    }
    match launch {
        Launch::Init { argv } => {
            let options = InitOptions {
                argv,
                shutdown_timeout: config.shutdown_timeout,
                grace: config.kill_grace(),
            };
            match async_runtime() {
                Ok(runtime) => runtime.block_on(init::run(&reaper, options, controls)),
                Err(error) => report(&error),
            }
        }
        served => {
            let job = job.map(|job| (job, controls.sender()));
            serve::serve(&config, served, reaper, controls, job)
        }
    }
}

/// The one-thread tokio runtime fnshim runs on (PID 1 needs no more).
fn async_runtime() -> Result<tokio::runtime::Runtime, StartError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| {
            StartError::Unavailable(format!("cannot start the async runtime: {error}"))
        })
}

/// Reports why fnshim cannot start; in Lambda (not for a local job) it is posted to the
/// Runtime API's `/init/error` first. Returns the exit code.
pub fn refuse(env: &dyn config::Env, local: bool, error: &StartError) -> i32 {
    let lambda = config::lambda_settings(env).filter(|_| !local);
    lambda::report_now(lambda.as_ref(), error)
}

/// Logs why fnshim cannot start (every bad key for configuration errors); returns the exit code.
pub fn report(error: &StartError) -> i32 {
    let code = error.exit_code();
    match error {
        StartError::Config(errors) => report_config(errors),
        other => tracing::error!(exit_code = code, "{other}"),
    }
    code
}

pub fn report_config(errors: &[ConfigError]) {
    for e in errors {
        tracing::error!(
            key = e.key,
            value = e.value,
            reason = e.reason,
            "invalid configuration: {e}"
        );
    }
}

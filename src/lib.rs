//! fnshim: the ENTRYPOINT and PID 1 of serverless function containers.
//!
//! `main` blocks signals, parses the command line and the environment, and calls [`run`], which
//! resolves what to launch ([`runtime`]), starts the signal thread and the single reaper
//! ([`supervisor`]), and either runs a plain init or serves HTTP ([`server`]) in front of a worker.

pub mod backend;
pub mod cli;
pub mod config;
pub mod event;
pub mod exit;
pub mod install;
pub mod invoke;
pub mod lambda;
pub mod local;
pub mod logging;
pub mod readiness;
pub mod runtime;
pub mod server;
pub mod supervisor;
pub mod trigger;
pub mod worker;

use std::sync::Arc;

use config::{Config, ConfigError, Trigger};
use exit::StartError;
use runtime::Launch;
use supervisor::handlers::{Group, HandlerOptions, HandlerSupervisor};
use supervisor::init::{self, InitOptions};
use supervisor::proxy::{ProxyOptions, Supervisor};
use supervisor::reaper::Reaper;
use supervisor::signals;

/// Runs fnshim to completion and returns the process exit code. Signals must already be blocked.
pub fn run(config: Config) -> i32 {
    run_job(config, None)
}

/// Runs fnshim, optionally for one local job (`check`, `invoke`) instead of serving until a
/// signal; returns the exit code.
pub fn run_job(mut config: Config, job: Option<local::Job>) -> i32 {
    lambda::prepare(&mut config, job.is_some());
    if job.is_some() {
        config.port = Some(0);
    }
    let launch = match runtime::resolve(&config).and_then(|launch| check_supported(&config, launch))
    {
        Ok(launch) => launch,
        Err(error) => return lambda::report_now(config.lambda.as_ref(), &error),
    };
    let reaper = Arc::new(Reaper::new());
    if !supervisor::become_subreaper() {
        tracing::warn!("cannot become a child subreaper: orphans of the function are reaped by the host's init");
    }
    let (stop, events) = match signals::start(reaper.clone()) {
        Ok(channel) => channel,
        Err(error) => {
            return report(&StartError::Unavailable(format!(
                "cannot start the signal thread: {error}"
            )))
        }
    };
    match launch {
        Launch::Init { argv } => {
            let options = InitOptions {
                argv,
                shutdown_timeout: config.shutdown_timeout,
                grace: config.kill_grace(),
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(runtime) => runtime.block_on(init::run(&reaper, options, events)),
                Err(error) => report(&StartError::Unavailable(format!(
                    "cannot start the async runtime: {error}"
                ))),
            }
        }
        served => serve(&config, served, reaper, events, job, stop),
    }
}

/// Serves HTTP in front of a proxied server or a pool of handler workers.
fn serve(
    config: &Config,
    launch: Launch,
    reaper: Arc<Reaper>,
    events: tokio::sync::mpsc::UnboundedReceiver<libc::c_int>,
    job: Option<local::Job>,
    stop: tokio::sync::mpsc::UnboundedSender<libc::c_int>,
) -> i32 {
    let port = config.port.unwrap_or(8080);
    let bound_to = match (&job, &config.lambda) {
        (None, Some(_)) => Ok(None), // a Runtime API client needs no listener
        (Some(_), _) => server::bind_loopback(port).map(Some),
        (None, None) => server::bind(port).map(Some),
    };
    let summary = local::describe(config, &launch);
    let job_code = Arc::new(std::sync::atomic::AtomicI32::new(-1));
    let listener = match bound_to {
        Ok(listener) => listener,
        Err(error) => return report(&error),
    };
    let bound = listener.as_ref().and_then(|l| l.local_addr().ok());
    let bound = bound.map_or(port, |a| a.port());
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return report(&StartError::Unavailable(format!(
                "cannot start the async runtime: {error}"
            )))
        }
    };
    runtime.block_on(async move {
        let (stop_server, stopped) = tokio::sync::watch::channel(false);
        let code = job_code.clone();
        let start_server = move |app: Arc<server::App>| {
            let Some(listener) = listener else {
                return lambda::start(config, app, local::Finish { code, stop });
            };
            tokio::spawn(server::serve(listener, app.clone(), stopped));
            tracing::info!(port = bound, "listening");
            if let Some(job) = job {
                let limit = config.init_timeout + config.install_timeout;
                let finish = local::Finish { code, stop };
                tokio::spawn(local::run(job, app, bound, summary, limit, finish));
            }
        };
        let result = match launch {
            Launch::Proxy(target) => {
                let concurrency = config
                    .concurrency
                    .unwrap_or(config::DEFAULT_PROXY_CONCURRENCY);
                let name = proxied_name(config, &target);
                let readiness = Arc::new(readiness::Readiness::new());
                let in_flight = readiness::InFlight::new(concurrency);
                let upstream = backend::http::Upstream::new(
                    name.clone(),
                    readiness.clone(),
                    config.trigger != Trigger::Http,
                    config.function_timeout,
                    config.max_body_size,
                    in_flight.clone(),
                );
                let app = server::App::new(
                    readiness,
                    in_flight,
                    config.function_timeout,
                    config.max_body_size,
                    server::Backend::Http(upstream),
                    routes(config, None),
                );
                start_server(app.clone());
                start_tickers(
                    config,
                    &app,
                    schedule(config, &name),
                    stop_server.subscribe(),
                );
                let options = ProxyOptions {
                    target,
                    init_timeout: config.init_timeout,
                    shutdown_timeout: config.shutdown_timeout,
                    grace: config.kill_grace(),
                };
                Supervisor {
                    reaper: &reaper,
                    app,
                    options,
                    stop_server,
                    events,
                }
                .run()
                .await
            }
            Launch::Handlers(target) => {
                run_handlers(config, target, reaper, events, stop_server, start_server).await
            }
            Launch::Init { .. } => unreachable!("a plain init does not serve HTTP"),
        };
        let served = lambda::served(config.lambda.as_ref(), result).await;
        match job_code.load(std::sync::atomic::Ordering::Acquire) {
            -1 => served,
            job => job,
        }
    })
}

async fn run_handlers(
    config: &Config,
    service: runtime::Service,
    reaper: Arc<Reaper>,
    events: tokio::sync::mpsc::UnboundedReceiver<libc::c_int>,
    stop_server: tokio::sync::watch::Sender<bool>,
    start_server: impl FnOnce(Arc<server::App>),
) -> Result<i32, StartError> {
    let (hub, socket) = worker::Hub::bind(&config.cache_dir).map_err(|error| {
        StartError::Config(vec![ConfigError {
            key: "CACHE_DIR".into(),
            value: config.cache_dir.display().to_string(),
            reason: format!("fnshim cannot create the worker socket there: {error}"),
        }])
    })?;
    tokio::spawn(hub.clone().serve(socket));
    let memory_limit = runtime::memory_limit_mb();
    let pools: Vec<_> = service
        .functions
        .iter()
        .map(|t| worker::Pool::new(t.workers, t.concurrency))
        .collect();
    let functions = service
        .functions
        .iter()
        .zip(&pools)
        .map(|(t, pool)| backend::workers::Function {
            name: t.name.clone(),
            pool: pool.clone(),
            timeout: t.timeout,
            memory_mb: t.memory_mb.or(memory_limit),
        })
        .collect();
    let readiness = Arc::new(readiness::Readiness::new());
    let workers = backend::workers::Workers {
        functions,
        function_version: config.function_version.clone(),
        readiness: readiness.clone(),
    };
    let app = server::App::new(
        readiness,
        readiness::InFlight::new(usize::MAX),
        config.function_timeout,
        config.max_body_size,
        server::Backend::Workers(workers),
        routes(config, service.router.clone()),
    );
    start_server(app.clone());
    let mut tickers = schedule(config, &service.functions[0].name);
    tickers.extend(service.timers.iter().map(|(function, timer)| Tick {
        function: *function,
        schedule: timer.schedule.clone(),
        name: timer.name.clone(),
        payload: timer.payload.clone(),
    }));
    start_tickers(config, &app, tickers, stop_server.subscribe());
    let mut events = events;
    let mut groups = Vec::new();
    let mut installed = Vec::new();
    for (target, pool) in service.functions.into_iter().zip(pools) {
        let prepared = prepare_workers(config, &reaper, &app, target, &mut events, &mut installed);
        let target = match prepared.await {
            Ok(target) => target,
            Err(install::StepError::Failed(error)) => return Err(error),
            Err(install::StepError::Stopped(_)) => return Ok(exit::OK),
        };
        groups.push(Group { target, pool });
    }
    let options = HandlerOptions {
        groups,
        event_format: config.http_event_format,
        dart_version: config.dart_version.clone(),
        shutdown_timeout: config.shutdown_timeout,
        grace: config.kill_grace(),
    };
    HandlerSupervisor {
        reaper,
        hub,
        app,
        options,
        stop_server,
        events,
    }
    .run()
    .await
}

/// How the HTTP front end turns requests into invocations.
fn routes(config: &Config, router: Option<config::fyml::Router>) -> server::handler::Routes {
    server::handler::Routes {
        router,
        format: config.http_event_format,
        trigger: config.trigger,
    }
}

/// The proxied function's name: FUNCTION_NAME, else its folder's, else the program's.
fn proxied_name(config: &Config, target: &runtime::ProxyTarget) -> String {
    let name = config.function_name.clone().or_else(|| {
        let folder = config.function_path.as_deref()?;
        Some(runtime::folder_name(folder))
    });
    name.unwrap_or_else(|| {
        let program = target
            .argv
            .first()
            .map(|p| p.to_string_lossy().into_owned());
        program.unwrap_or_default()
    })
}

/// A timer that invokes one function (the first, unless f.yml says otherwise).
struct Tick {
    function: usize,
    schedule: trigger::cron::Schedule,
    name: String,
    payload: String,
}

/// TRIGGER_TYPE=schedule's SCHEDULE, as a timer of the (first) function called `name`.
fn schedule(config: &Config, name: &str) -> Vec<Tick> {
    let (Trigger::Schedule, Some(schedule)) = (config.trigger, config.schedule.clone()) else {
        return Vec::new();
    };
    vec![Tick {
        function: 0,
        schedule,
        name: format!("{name}-schedule"),
        payload: config.schedule_payload.clone(),
    }]
}

/// Ticks each timer in the background until shutdown begins, in TZ's time (checked at start).
fn start_tickers(
    config: &Config,
    app: &Arc<server::App>,
    tickers: Vec<Tick>,
    stopping: tokio::sync::watch::Receiver<bool>,
) {
    let utc: trigger::schedule::Zone = Arc::new(|_| 0);
    let zone = config
        .tz
        .as_deref()
        .and_then(|tz| trigger::schedule::zone(tz).ok())
        .unwrap_or(utc);
    for tick in tickers {
        let target = app.clone();
        let function = tick.function;
        let fire: trigger::schedule::Fire = Arc::new(move |event| {
            let target = target.clone();
            Box::pin(async move {
                target
                    .deliver(function, invoke::Kind::Timer, event, Default::default())
                    .await
            })
        });
        tracing::info!(timer = tick.name, schedule = ?tick.schedule, "timer started");
        let ticker = trigger::schedule::Ticker {
            schedule: tick.schedule,
            name: tick.name,
            payload: tick.payload,
            zone: zone.clone(),
            app: app.clone(),
            fire,
        };
        tokio::spawn(ticker.run(stopping.clone()));
    }
}

/// A dependency install already done for a runtime in a folder: the f.yml functions of one
/// folder share it.
struct Installed {
    runtime: config::Runtime,
    from: std::path::PathBuf,
    /// Where the function runs now (a copy in CACHE_DIR when `from` is read-only).
    to: std::path::PathBuf,
    /// What the install added to the workers' environment.
    env: Vec<(String, String)>,
}

impl Installed {
    fn apply(&self, mut target: runtime::HandlerTarget) -> runtime::HandlerTarget {
        if let Ok(relative) = target.entry.strip_prefix(&self.from) {
            target.entry = self.to.join(relative);
        }
        target.folder = self.to.clone();
        target.env.extend(self.env.iter().cloned());
        target
    }
}

/// The steps before the first worker: dependencies (once per runtime and folder, skipped when
/// the stamp matches), the worker's command line for where the function now lives, and the
/// Dart AOT build.
async fn prepare_workers(
    config: &Config,
    reaper: &Reaper,
    app: &server::App,
    target: runtime::HandlerTarget,
    events: &mut tokio::sync::mpsc::UnboundedReceiver<libc::c_int>,
    installed: &mut Vec<Installed>,
) -> Result<runtime::HandlerTarget, install::StepError> {
    let settings = install::DepsSettings {
        mode: lambda::install_mode(config, &target),
        cache: &config.cache_dir,
        limit: config.install_timeout,
        search_path: config.search_path.as_deref(),
        npm_mirror: config.npm_mirror.as_deref(),
        pip_mirror: config.pip_mirror.as_deref(),
        pub_mirror: config.pub_mirror.as_deref(),
    };
    let announce = |reason: String| {
        app.readiness
            .set(server::state::Upstream::Starting { reason })
    };
    let done = installed
        .iter()
        .find(|i| i.runtime == target.runtime && i.from == target.folder);
    let mut target = match done {
        Some(done) => done.apply(target),
        None => {
            let (runtime, from, own) = (target.runtime, target.folder.clone(), target.env.len());
            let target =
                install::install_dependencies(reaper, &settings, target, events, announce).await?;
            installed.push(Installed {
                runtime,
                from,
                to: target.folder.clone(),
                env: target.env.get(own..).unwrap_or_default().to_vec(),
            });
            target
        }
    };
    runtime::refresh_argv(&config.cache_dir, &mut target).map_err(install::StepError::Failed)?;
    match (target.runtime, config.dart_aot) {
        (config::Runtime::Dart, true) => {
            announce("building the Dart worker (dart compile exe)".into());
            install::dart_aot(
                reaper,
                &config.cache_dir,
                target,
                config.install_timeout,
                events,
            )
            .await
        }
        (_, true) => {
            tracing::warn!("DART_AOT applies to Dart functions only; ignoring it");
            Ok(target)
        }
        _ => Ok(target),
    }
}

/// Refuses, or warns about, settings that belong to capabilities this version does not have,
/// so that nothing is silently ignored.
fn check_supported(config: &Config, launch: Launch) -> Result<Launch, StartError> {
    if config.trigger == Trigger::Schedule && matches!(launch, Launch::Init { .. }) {
        return Err(StartError::Config(vec![ConfigError {
            key: "TRIGGER_TYPE".into(),
            value: "schedule".into(),
            reason:
                "a schedule needs a function to invoke: set FUNCTION_PATH, or PORT with a command"
                    .into(),
        }]));
    }
    let timers = match &launch {
        Launch::Handlers(service) => !service.timers.is_empty(),
        _ => false,
    };
    if let (Some(tz), true) = (&config.tz, timers || config.trigger == Trigger::Schedule) {
        if let Err(why) = trigger::schedule::zone(tz) {
            return Err(StartError::Config(vec![ConfigError {
                key: "TZ".into(),
                value: tz.clone(),
                reason: format!("is not a time zone for the schedule ({why}): use a name under /usr/share/zoneinfo (the tzdata package), or a POSIX rule such as CST-8"),
            }]));
        }
    }
    if matches!(launch, Launch::Proxy(_)) && config.workers.is_some_and(|n| n > 1) {
        tracing::warn!(
            "FUNCTION_WORKERS applies to handler runtimes; a bootstrap or command runs once"
        );
    }
    Ok(launch)
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

//! The serving modes' wiring: the listener on PORT, a back end (a proxied server or handler
//! worker pools), its timers, the supervisor that runs it, and a local job (`check`,
//! `invoke`) when there is one.

use std::sync::Arc;

use crate::config::{self, Config, ConfigError, Trigger};
use crate::exit::{self, StartError};
use crate::runtime::{self, Launch};
use crate::supervisor::bootstraps::Lambda;
use crate::supervisor::control::{ControlSender, Controls};
use crate::supervisor::handlers::{Group, HandlerOptions, HandlerSupervisor};
use crate::supervisor::proxy::{ProxyOptions, Supervisor};
use crate::supervisor::reaper::Reaper;
use crate::{backend, install, local, readiness, server, trigger, worker};

/// Serves HTTP in front of a proxied server or a pool of handler workers.
pub(crate) fn serve(
    config: &Config,
    launch: Launch,
    reaper: Arc<Reaper>,
    controls: Controls,
    job: Option<(local::Job, ControlSender)>,
) -> i32 {
    let port = listen_port(config);
    let listener = match listener(config, job.is_some(), port) {
        Ok(listener) => listener,
        Err(error) => return crate::report(&error),
    };
    let summary = local::describe(config, &launch);
    let job_code = Arc::new(std::sync::atomic::AtomicI32::new(-1));
    let bound = listener.as_ref().and_then(|l| l.local_addr().ok());
    let bound = bound.map_or(port, |a| a.port());
    let runtime = match crate::async_runtime() {
        Ok(runtime) => runtime,
        Err(error) => return crate::report(&error),
    };
    runtime.block_on(async move {
        let (stop_server, stopped) = tokio::sync::watch::channel(false);
        let code = job_code.clone();
        let (stop, drain) = (controls.sender(), controls.sender());
        let start_server = move |app: Arc<server::App>| {
            let _ = app.stop.set(drain);
            let Some(listener) = listener else {
                let finish = local::Finish { code, stop };
                return crate::lambda::start(config, app, finish);
            };
            let limits = server::Connections {
                keepalive_timeout: config.keepalive_timeout,
                write_timeout: config.write_timeout,
                max: config.max_connections,
            };
            tokio::spawn(server::serve(listener, app.clone(), limits, stopped));
            tracing::info!(port = bound, "listening");
            if let Some((job, stop)) = job {
                let limit = config.init_timeout + config.install_timeout;
                let finish = local::Finish { code, stop };
                tokio::spawn(local::run(job, app, bound, summary, limit, finish));
            }
        };
        let result = match launch {
            Launch::Proxy(target) => {
                run_proxy(config, target, reaper, controls, stop_server, start_server).await
            }
            Launch::Handlers(target) => {
                run_handlers(config, target, reaper, controls, stop_server, start_server).await
            }
            Launch::Init { .. } => unreachable!("a plain init does not serve HTTP"),
        };
        let served = crate::lambda::served(config.lambda.as_ref(), result).await;
        match job_code.load(std::sync::atomic::Ordering::Acquire) {
            -1 => served,
            job => job,
        }
    })
}

/// FUNCTIONS_CUSTOMHANDLER_PORT for an Azure custom handler, else PORT.
fn listen_port(config: &Config) -> u16 {
    match config.platform {
        config::Platform::Azure { port } => port,
        _ => config.port.unwrap_or(config::DEFAULT_PORT),
    }
}

/// PORT on every interface; a loopback port for a local job; none for a Runtime API client.
fn listener(
    config: &Config,
    local: bool,
    port: u16,
) -> Result<Option<std::net::TcpListener>, StartError> {
    match (local, &config.lambda) {
        (false, Some(_)) => Ok(None),
        (true, _) => server::bind_loopback(port).map(Some),
        (false, None) => server::bind(port, config.listen_backlog).map(Some),
    }
}

/// Proxy mode: the server in front of one bootstrap or command, and its timer if any.
async fn run_proxy(
    config: &Config,
    target: runtime::ProxyTarget,
    reaper: Arc<Reaper>,
    controls: Controls,
    stop_server: tokio::sync::watch::Sender<bool>,
    start_server: impl FnOnce(Arc<server::App>),
) -> Result<i32, StartError> {
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
    let (backend, lambda) = match config.protocol {
        Some(config::Protocol::Http) => (server::Backend::Http(upstream), None),
        _ => {
            let lambda = runtime_api(config, &target, &name, &readiness, reaper.clone())?;
            let api = lambda.api.clone();
            let bootstrap = backend::bootstrap::Bootstrap { upstream, api };
            (server::Backend::Bootstrap(bootstrap), Some(lambda))
        }
    };
    let app = server::App::new(
        readiness,
        in_flight,
        config.function_timeout,
        config.max_body_size,
        backend,
        routes(config, None)?,
    );
    start_server(app.clone());
    let ticks = trigger::schedule(config, &name);
    trigger::start(config, &app, ticks, stop_server.subscribe());
    Supervisor {
        reaper: &reaper,
        app,
        options: proxy_options(config, target),
        stop_server,
        controls,
        lambda,
    }
    .run()
    .await
}

fn proxy_options(config: &Config, target: runtime::ProxyTarget) -> ProxyOptions {
    ProxyOptions {
        target,
        init_timeout: config.init_timeout,
        shutdown_timeout: config.shutdown_timeout,
        grace: config.kill_grace(),
        readiness: config.readiness.clone(),
        azure: matches!(config.platform, config::Platform::Azure { .. }),
    }
}

/// The Runtime API bootstraps may poll: FUNCTION_WORKERS endpoints (default: one per CPU), the
/// function's Lambda variables, and the protocol if FUNCTION_PROTOCOL forces it.
fn runtime_api(
    config: &Config,
    target: &runtime::ProxyTarget,
    name: &str,
    readiness: &Arc<readiness::Readiness>,
    reaper: Arc<Reaper>,
) -> Result<Lambda, StartError> {
    let slots = config.workers.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let memory_mb = config.memory_size.or_else(runtime::memory_limit_mb);
    let function = backend::runtime_api::FunctionInfo {
        name: name.to_owned(),
        version: config.function_version.clone(),
        memory_mb,
        timeout: config.function_timeout,
    };
    let forced = config
        .protocol
        .map(|_| backend::runtime_api::Protocol::Lambda);
    let (api, timeouts) =
        backend::runtime_api::RuntimeApi::start(slots, function, readiness.clone(), forced)
            .map_err(|error| StartError::Load(format!("cannot serve the Runtime API: {error}")))?;
    let task_root = target.cwd.clone().or_else(|| std::env::current_dir().ok());
    let mut env = vec![
        ("AWS_LAMBDA_FUNCTION_NAME".to_owned(), name.to_owned()),
        (
            "AWS_LAMBDA_FUNCTION_VERSION".into(),
            config.function_version.clone(),
        ),
        ("_HANDLER".into(), config.function_handler.clone()),
    ];
    if let Some(memory) = memory_mb {
        env.push(("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), memory.to_string()));
    }
    if let Some(root) = task_root {
        env.push(("LAMBDA_TASK_ROOT".into(), root.display().to_string()));
    }
    Ok(Lambda {
        api,
        timeouts,
        reaper,
        env,
    })
}

async fn run_handlers(
    config: &Config,
    service: runtime::Service,
    reaper: Arc<Reaper>,
    mut controls: Controls,
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
    let (app, pools) = handler_app(config, &service)?;
    start_server(app.clone());
    let mut ticks = trigger::schedule(config, &service.functions[0].name);
    ticks.extend(trigger::of_service(&service));
    trigger::start(config, &app, ticks, stop_server.subscribe());
    let mut groups = Vec::new();
    let mut installed = Vec::new();
    for (target, pool) in service.functions.into_iter().zip(pools) {
        let prepared = install::prepare_workers(
            config,
            &reaper,
            &app.readiness,
            target,
            &mut controls,
            &mut installed,
        );
        let target = match prepared.await {
            Ok(target) => target,
            Err(install::StepError::Failed(error)) => return Err(error),
            Err(install::StepError::Stopped) => return Ok(exit::OK),
        };
        groups.push(Group { target, pool });
    }
    let options = HandlerOptions {
        groups,
        event_format: config.http_event_format,
        shutdown_timeout: config.shutdown_timeout,
        grace: config.kill_grace(),
    };
    HandlerSupervisor {
        reaper,
        hub,
        app,
        options,
        stop_server,
        controls,
    }
    .run()
    .await
}

/// The HTTP side of handler mode: a worker pool per function, and the app that routes to them.
fn handler_app(
    config: &Config,
    service: &runtime::Service,
) -> Result<(Arc<server::App>, Vec<Arc<worker::Pool>>), StartError> {
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
        max_response_size: config.max_response_size,
    };
    let app = server::App::new(
        readiness,
        readiness::InFlight::new(usize::MAX),
        config.function_timeout,
        config.max_body_size,
        server::Backend::Workers(workers),
        routes(config, service.router.clone())?,
    );
    Ok((app, pools))
}

/// How the HTTP front end turns requests into invocations.
fn routes(
    config: &Config,
    router: Option<config::fyml::Router>,
) -> Result<server::handler::Routes, StartError> {
    Ok(server::handler::Routes {
        router,
        format: config.http_event_format,
        trigger: config.trigger,
        azure: azure_layout(config)?,
    })
}

/// With FUNCTIONS_CUSTOMHANDLER_PORT, the app's Azure layout (`<Name>/function.json`).
fn azure_layout(config: &Config) -> Result<Option<server::azure::Layout>, StartError> {
    if !matches!(config.platform, config::Platform::Azure { .. }) {
        return Ok(None);
    }
    let found = match config.function_path.as_deref() {
        Some(folder) => runtime::azure_layout(folder)?,
        None => Vec::new(),
    };
    let functions = found
        .iter()
        .map(|(name, json)| server::azure::layout_function(name, json))
        .collect();
    Ok(Some(server::azure::Layout { functions }))
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

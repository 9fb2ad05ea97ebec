//! The handler functions to serve: one [`HandlerTarget`] from the environment, or one per
//! function of an `f.yml`, each with its language's binary, worker command line and limits.

use std::path::{Path, PathBuf};

use super::detect::{extensions_shown, handler_file, runtime_of, split_handler};
use super::{adapters, folder_name, languages, HandlerTarget, Launch, Service};
use crate::config::fyml::{self, FunctionDef, Router};
use crate::config::{Config, ConfigError, Runtime};
use crate::exit::StartError;

/// The functions of an `f.yml`: each with its own entry, export, environment and limits;
/// FUNCTION_TIMEOUT and the other settings are the defaults of those that set nothing.
/// Every function's error at once: one `Load` (65) naming each, unless a configuration error
/// (64) is among them, which then lists the others too.
fn together(errors: impl Iterator<Item = StartError>) -> StartError {
    let (mut config, mut load) = (Vec::new(), Vec::new());
    for error in errors {
        match error {
            StartError::Config(more) => config.extend(more),
            StartError::Load(why) => load.push(why),
            other => load.push(other.to_string()),
        }
    }
    match config.is_empty() {
        true => StartError::Load(load.join("; ")),
        false => {
            config.extend(load.into_iter().map(|reason| ConfigError {
                key: "f.yml".into(),
                value: String::new(),
                reason,
            }));
            StartError::Config(config)
        }
    }
}

pub(super) fn from_descriptor(
    config: &Config,
    path: &Path,
    folder: PathBuf,
) -> Result<Launch, StartError> {
    let bad = |reason: String| {
        StartError::Config(vec![ConfigError {
            key: "f.yml".into(),
            value: path.display().to_string(),
            reason,
        }])
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot be read: {e}")))?;
    let descriptor = fyml::parse(&text).map_err(bad)?;
    if descriptor.functions.is_empty() {
        return Err(bad("declares no functions".into()));
    }
    if !descriptor.cloud_only.is_empty() {
        tracing::warn!(
            keys = descriptor.cloud_only.join(", "),
            "f.yml: these keys belong to a cloud platform and are not used here"
        );
    }
    service(config, &descriptor.functions, folder, Origin::Fyml)
}

/// Where a set of function definitions came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    Fyml,
    /// `<Name>/function.json` folders of an Azure Functions app.
    Azure,
}

/// The functions of an f.yml or an Azure layout, each its own `HandlerTarget` (and so its
/// own worker pool), with their routes and timers.
pub(super) fn service(
    config: &Config,
    defs: &[FunctionDef],
    folder: PathBuf,
    origin: Origin,
) -> Result<Launch, StartError> {
    let (functions, failed): (Vec<_>, Vec<_>) = defs
        .iter()
        .map(|def| function(config, &folder, def, origin))
        .partition(Result::is_ok);
    if !failed.is_empty() {
        return Err(together(failed.into_iter().filter_map(Result::err)));
    }
    let functions: Vec<HandlerTarget> = functions.into_iter().filter_map(Result::ok).collect();
    let timers = defs
        .iter()
        .enumerate()
        .flat_map(|(index, def)| def.timers.iter().map(move |t| (index, t.clone())))
        .filter(|(_, timer)| timer.enable)
        .collect();
    let routed = defs.iter().any(|def| !def.routes.is_empty());
    Ok(Launch::Handlers(Service {
        functions,
        // Without any http event the first function serves every path, as a single function.
        router: routed.then(|| Router::new(defs)),
        timers,
    }))
}

/// One function of an `f.yml` or an Azure layout.
fn function(
    config: &Config,
    folder: &Path,
    def: &FunctionDef,
    origin: Origin,
) -> Result<HandlerTarget, StartError> {
    let entry = handler_file(config, folder, &def.file).ok_or_else(|| {
        let (name, file, export) = (&def.name, &def.file, &def.export);
        let shown = extensions_shown();
        let folder = folder.display();
        StartError::Load(match origin {
            Origin::Fyml => format!(
                "f.yml: functions.{name} handler {file}.{export}: no {file}.{{{shown}}} in {folder}"
            ),
            Origin::Azure => format!(
                "{name}/function.json: its handler file {file} is not in {folder} (or not a {{{shown}}} file)"
            ),
        })
    })?;
    let runtime = runtime_of(config, &entry);
    let mut target = handlers(config, runtime, entry, folder.to_path_buf())?;
    target.name = def.name.clone();
    target.handler = def.export.clone();
    target.env = def.environment.clone();
    target.timeout = def.timeout.unwrap_or(target.timeout);
    target.init_timeout = def.init_timeout.unwrap_or(target.init_timeout);
    target.memory_mb = def.memory_mb.or(target.memory_mb);
    target.concurrency = def.concurrency.unwrap_or(target.concurrency);
    target.initializer = def.initializer.clone().unwrap_or(target.initializer);
    refresh_argv(&config.cache_dir, &mut target)?;
    Ok(target)
}

pub(super) fn handlers(
    config: &Config,
    runtime: Runtime,
    entry: PathBuf,
    folder: PathBuf,
) -> Result<HandlerTarget, StartError> {
    let Some(language) = languages::of(runtime) else {
        return Err(StartError::Unavailable(format!(
            "{}: FUNCTION_RUNTIME=custom runs a bootstrap, not a handler; unset FUNCTION_RUNTIME",
            entry.display()
        )));
    };
    let name = language.binary;
    let binary = adapters::find_on_path(name, config.search_path.as_deref()).ok_or_else(|| {
        StartError::Unavailable(format!(
            "{} needs the {name} runtime, which is not installed (not found on PATH); use the {name} image or set FUNCTION_RUNTIME",
            entry.display()
        ))
    })?;
    if let Some(check) = language.check {
        check(config, &binary)?;
    }
    let handler = split_handler(&config.function_handler).1.to_owned();
    let argv = adapters::worker_command(
        language,
        &config.cache_dir,
        &folder,
        &entry,
        &handler,
        binary.clone(),
    )?;
    let one_at_a_time = language.one_at_a_time;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(HandlerTarget {
        name: config
            .function_name
            .clone()
            .unwrap_or_else(|| folder_name(&folder)),
        runtime,
        binary,
        argv,
        env: functions_framework_env(config),
        protocol_env: (language.worker_env)(config),
        folder,
        entry,
        handler,
        initializer: config.function_initializer.clone(),
        workers: config
            .workers
            .unwrap_or(if one_at_a_time { cpus } else { 1 }),
        concurrency: config
            .concurrency
            .unwrap_or(if one_at_a_time { 1 } else { 64 }),
        timeout: config.function_timeout,
        init_timeout: config.init_timeout,
        memory_mb: config.memory_size,
    })
}

/// FNSHIM_FUNCTION_TARGET and FNSHIM_SIGNATURE_TYPE for a Functions Framework function.
fn functions_framework_env(config: &Config) -> Vec<(String, String)> {
    let Some(gcf) = &config.gcf else {
        return Vec::new();
    };
    vec![
        ("FNSHIM_FUNCTION_TARGET".into(), gcf.target.clone()),
        ("FNSHIM_SIGNATURE_TYPE".into(), gcf.signature.clone()),
    ]
}

/// Rebuilds the worker's command line after the install moved the function or created its
/// package configuration (Dart's `--packages`).
pub fn refresh_argv(cache: &Path, target: &mut HandlerTarget) -> Result<(), StartError> {
    let Some(language) = languages::of(target.runtime) else {
        return Ok(());
    };
    target.argv = adapters::worker_command(
        language,
        cache,
        &target.folder,
        &target.entry,
        &target.handler,
        target.binary.clone(),
    )?;
    Ok(())
}

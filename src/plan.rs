//! The start-up plan (ripgrep's lowargs → hiargs): the configuration (`config`, syntax only)
//! resolved against the world (the function folder, f.yml, the handler files: `runtime`) into
//! what to start. Every error it can find is reported together, before anything starts, with
//! the documented exit code.

use std::ffi::OsString;

use crate::config::{self, Config, ConfigError, Env, Trigger};
use crate::exit::StartError;
use crate::runtime::{self, Launch};

/// What fnshim will start, with the configuration it starts it with.
#[derive(Debug)]
pub struct Plan {
    pub config: Config,
    pub launch: Launch,
}

/// Resolves what to start from the settings (`env`: the environment with RUNTIME_CONFIG's
/// values under it, and the errors reading that file gave). `local`: a `check` or `invoke`
/// run, which serves on a loopback port of its own.
pub fn make(
    layered: &dyn Env,
    mut errors: Vec<ConfigError>,
    command: Option<Vec<OsString>>,
    local: bool,
) -> Result<Plan, StartError> {
    let has_command = command.is_some();
    let mut config = match Config::from_env(layered, command) {
        Ok(config) => config,
        Err(more) => {
            errors.extend(more);
            if !has_command {
                errors.extend(folder_error(layered));
            }
            return Err(StartError::Config(errors));
        }
    };
    if local {
        config.port = Some(0);
    }
    let launch = runtime::resolve(&config).and_then(|launch| check_supported(&config, launch));
    match (launch, errors.is_empty()) {
        (Ok(launch), true) => Ok(Plan { config, launch }),
        (Err(StartError::Config(more)), _) => Err(StartError::Config([errors, more].concat())),
        (Err(other), true) => Err(other),
        (_, false) => Err(StartError::Config(errors)),
    }
}

/// FUNCTION_PATH's own error when other settings are bad too, so that all are in one list.
fn folder_error(env: &dyn Env) -> Option<ConfigError> {
    match runtime::function_folder(config::function_path(env).as_deref()) {
        Err(StartError::Config(mut errors)) => errors.pop(),
        _ => None,
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
        if let Err(why) = crate::trigger::schedule::zone(tz) {
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

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
    crate::lambda::prepare(&mut config, local);
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
    let http_only = config.protocol == Some(crate::config::Protocol::Http);
    if matches!(launch, Launch::Proxy(_)) && http_only && config.workers.is_some_and(|n| n > 1) {
        tracing::warn!(
            "FUNCTION_WORKERS applies to handler runtimes and Runtime API bootstraps; an HTTP bootstrap runs once"
        );
    }
    Ok(launch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(pairs: &[(&str, &str)], command: Option<Vec<OsString>>) -> Result<Plan, StartError> {
        make(&config::test_env(pairs), Vec::new(), command, false)
    }

    fn keys(error: &StartError) -> Vec<&str> {
        match error {
            StartError::Config(errors) => errors.iter().map(|e| e.key.as_str()).collect(),
            other => panic!("not a configuration error: {other}"),
        }
    }

    #[test]
    fn a_missing_folder_is_in_the_same_list_as_the_other_bad_settings() {
        let error = plan(
            &[
                ("FUNCTION_PATH", "/no/such/folder"),
                ("PORT", "http"),
                ("FUNCTION_TIMEOUT", "soon"),
            ],
            None,
        )
        .unwrap_err();
        assert_eq!(keys(&error), ["PORT", "FUNCTION_TIMEOUT", "FUNCTION_PATH"]);
        assert_eq!(error.exit_code(), crate::exit::USAGE);
        let unset = plan(&[("PORT", "99999")], None).unwrap_err();
        assert_eq!(keys(&unset), ["PORT", "FUNCTION_PATH"]);
    }

    #[test]
    fn a_command_needs_no_folder() {
        let command = Some(vec![OsString::from("true")]);
        let error = plan(&[("PORT", "http")], command.clone()).unwrap_err();
        assert_eq!(keys(&error), ["PORT"]);
        let ok = plan(&[], command).unwrap();
        assert!(matches!(ok.launch, Launch::Init { .. }));
    }

    #[test]
    fn unsupported_combinations_are_configuration_errors() {
        let command = Some(vec![OsString::from("true")]);
        let schedule = [("TRIGGER_TYPE", "schedule"), ("SCHEDULE", "@every 1m")];
        let error = plan(&schedule, command).unwrap_err();
        assert_eq!(keys(&error), ["TRIGGER_TYPE"]);
    }

    #[test]
    fn every_missing_handler_file_of_an_fyml_is_named() {
        let folder = tempfile::tempdir().unwrap();
        let descriptor =
            "functions:\n  a:\n    handler: one.handler\n  b:\n    handler: two.handler\n";
        std::fs::write(folder.path().join("f.yml"), descriptor).unwrap();
        let path = folder.path().to_str().unwrap();
        let error = plan(&[("FUNCTION_PATH", path)], None).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("functions.a") && text.contains("functions.b"),
            "{text}"
        );
        assert_eq!(error.exit_code(), crate::exit::LOAD);
    }

    #[test]
    fn a_good_folder_is_a_plan_to_start_its_workers() {
        let folder = tempfile::tempdir().unwrap();
        let python = crate::runtime::languages::of(crate::config::Runtime::Python).unwrap();
        let entry = folder.path().join(python.entries[0]);
        std::fs::write(entry, "def handler(e, c):\n    return e\n").unwrap();
        let path = folder.path().to_str().unwrap();
        let plan = plan(
            &[
                ("FUNCTION_PATH", path),
                ("PATH", "/usr/bin:/bin:/usr/local/bin"),
            ],
            None,
        );
        match plan {
            Ok(plan) => assert!(matches!(plan.launch, Launch::Handlers(_))),
            Err(error) => panic!("{error}"),
        }
    }
}

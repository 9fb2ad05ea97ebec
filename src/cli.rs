//! Command-line syntax only (no environment, no files): options, and the command after `--`.

use std::ffi::OsString;

#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Run {
        command: Option<Vec<OsString>>,
    },
    /// `fnshim check`: load the function, print the resolved configuration, stop.
    Check,
    /// `fnshim invoke`: one invocation, printed. `event` is a file, `-` for stdin, or none.
    Invoke {
        event: Option<String>,
        http: Option<(String, String)>,
    },
    /// `fnshim health [--live]`: probe the fnshim serving on 127.0.0.1:$PORT (a HEALTHCHECK).
    Health {
        live: bool,
    },
    Help,
    Version,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// `fnshim [-h|--help] [-V|--version] [--] [CMD ARGS...]`; the first non-option starts CMD.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Action, UsageError> {
    let mut args = args.into_iter();
    if let Some(arg) = args.next() {
        match arg.to_str() {
            Some("-h" | "--help") => return Ok(Action::Help),
            Some("-V" | "--version") => return Ok(Action::Version),
            Some("--") => return Ok(run(args.collect())),
            Some("check") => return no_more(args).map(|()| Action::Check),
            Some("invoke") => return invoke(args),
            Some("health") => return health(args),
            Some(option) if option.starts_with('-') && option.len() > 1 => {
                return Err(UsageError(format!("unknown option {option:?}")))
            }
            _ => return Ok(run(std::iter::once(arg).chain(args).collect())),
        }
    }
    Ok(Action::Run { command: None })
}

fn no_more(mut args: impl Iterator<Item = OsString>) -> Result<(), UsageError> {
    match args.next() {
        Some(extra) => Err(UsageError(format!("unexpected argument {extra:?}"))),
        None => Ok(()),
    }
}

/// `invoke [--event FILE|-] [--http METHOD PATH]`
fn invoke(args: impl Iterator<Item = OsString>) -> Result<Action, UsageError> {
    let mut args = args.map(|a| a.to_string_lossy().into_owned());
    let (mut event, mut http) = (None, None);
    while let Some(arg) = args.next() {
        let mut value = |what: &str| {
            args.next()
                .ok_or_else(|| UsageError(format!("{arg} needs {what}")))
        };
        match arg.as_str() {
            "--event" => event = Some(value("a file, or - for standard input")?),
            "--http" => {
                let method = value("a method and a path")?.to_ascii_uppercase();
                let path = value("a method and a path")?;
                http = Some((method, path));
            }
            other => return Err(UsageError(format!("unknown option {other:?} for invoke"))),
        }
    }
    Ok(Action::Invoke { event, http })
}

/// `health [--live]`
fn health(args: impl Iterator<Item = OsString>) -> Result<Action, UsageError> {
    let mut live = false;
    for arg in args {
        match arg.to_str() {
            Some("--live") => live = true,
            _ => return Err(UsageError(format!("unknown option {arg:?} for health"))),
        }
    }
    Ok(Action::Health { live })
}

fn run(command: Vec<OsString>) -> Action {
    Action::Run {
        command: (!command.is_empty()).then_some(command),
    }
}

pub const USAGE: &str = "usage: fnshim [-h|--help] [-V|--version] [--] [CMD ARGS...]
       fnshim check | fnshim invoke [--event FILE|-] [--http METHOD PATH] | fnshim health [--live]";

pub const HELP: &str = "\
fnshim - the ENTRYPOINT and PID 1 of serverless function containers

usage:
  fnshim                 serve the function in $FUNCTION_PATH (a custom `bootstrap`)
  fnshim -- CMD ARGS     run CMD as a plain init (like tini), or, when PORT is set,
                         start it with PORT set to a private port and reverse-proxy to it
  fnshim check           load the function, print the resolved configuration, stop (exit 0 if it loads)
  fnshim invoke [--event FILE|-] [--http METHOD PATH]
                         run one invocation locally and print the answer (default: POST /invoke
                         with the event; --http sends it as an HTTP request instead)
  fnshim health [--live] ask the fnshim serving on 127.0.0.1:$PORT for /_/ready (--live: /_/health);
                         exit 0 on 200, else 1 with the reason (the images' HEALTHCHECK; 2 s bound)
  fnshim --help | --version

environment (every invalid value is reported, then exit 64):
  FUNCTION_PATH          folder holding the function code (required without CMD)
  FUNCTION_ENTRY         entry file, relative to FUNCTION_PATH (default: detected, `bootstrap` first)
  FUNCTION_HANDLER       exported handler name (default handler)
  FUNCTION_RUNTIME       dart | node | deno | python | custom (default: from the entry)
  TRIGGER_TYPE           http | event | schedule (default http)
  PORT                   listen port on all interfaces, 0 = any (default 8080; unset with CMD = plain init)
  LOG_LEVEL              debug | info | warn | error (default info)
  LOG_FORMAT             json | text (default json unless stdout is a terminal); logs go to stderr
  FUNCTION_TIMEOUT       per-invocation limit, e.g. 500ms, 30s, 2m (default 30s)
  INIT_TIMEOUT           limit for the worker to start listening (default 30s)
  INSTALL_TIMEOUT        limit for dependency install and build (default 10m)
  FUNCTION_CONCURRENCY   invocations in flight before 429 (default 256 for custom and CMD)
  FUNCTION_WORKERS       worker processes (default 1)
  MAX_BODY_SIZE          largest request body, e.g. 6MB (1 MB = 1 MiB) (default 6MB)
  SHUTDOWN_TIMEOUT       drain + stop budget after SIGTERM (default 8s)
  SCHEDULE               cron or @every for TRIGGER_TYPE=schedule
  SCHEDULE_PAYLOAD       payload of each timer event
  HTTP_EVENT_FORMAT      v1 | v2 (default v1)
  DART_VERSION           expected Dart SDK version
  PUB_MIRROR, NPM_MIRROR, PIP_MIRROR   package mirrors
  INSTALL_DEPS           auto | always | never (default auto)
  DART_AOT               true | false (default false)
  RUNTIME_CONFIG         YAML file with the same settings
  FUNCTION_NAME, FUNCTION_VERSION, MEMORY_SIZE   reported to the function
  AWS_LAMBDA_RUNTIME_API set by Lambda: poll the Runtime API instead of listening on PORT
  AWS_LAMBDA_MAX_CONCURRENCY   invocations taken at once in Lambda (default 1)

routes: /_/health, /_/ready, /_/metrics are the shim's own; everything else goes to the function.
exit codes: 0 clean shutdown, 64 bad configuration, 65 function could not be loaded,
  69 runtime unavailable; with CMD, the command's own code (128+N for signal N, 126/127 exec).
";

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn commands_with_and_without_the_separator() {
        let expected = Action::Run {
            command: Some(args(&["sh", "-c", "exit 3"])),
        };
        assert_eq!(parse(args(&["--", "sh", "-c", "exit 3"])), Ok(expected));
        let expected = Action::Run {
            command: Some(args(&["sh", "-c", "x"])),
        };
        assert_eq!(parse(args(&["sh", "-c", "x"])), Ok(expected));
        assert_eq!(parse(args(&[])), Ok(Action::Run { command: None }));
        assert_eq!(parse(args(&["--"])), Ok(Action::Run { command: None }));
    }

    #[test]
    fn options() {
        assert_eq!(parse(args(&["--help"])), Ok(Action::Help));
        assert_eq!(parse(args(&["-V"])), Ok(Action::Version));
        assert_eq!(
            parse(args(&["--bogus"])),
            Err(UsageError("unknown option \"--bogus\"".into()))
        );
        assert_eq!(parse(args(&["check"])), Ok(Action::Check));
        assert!(parse(args(&["check", "x"])).is_err());
        let invoke = Action::Invoke {
            event: Some("-".into()),
            http: Some(("GET".into(), "/a?b=1".into())),
        };
        assert_eq!(
            parse(args(&["invoke", "--event", "-", "--http", "get", "/a?b=1"])),
            Ok(invoke)
        );
        assert_eq!(
            parse(args(&["invoke"])),
            Ok(Action::Invoke {
                event: None,
                http: None
            })
        );
        assert!(parse(args(&["invoke", "--http", "GET"])).is_err());
        assert_eq!(parse(args(&["health"])), Ok(Action::Health { live: false }));
        assert_eq!(
            parse(args(&["health", "--live"])),
            Ok(Action::Health { live: true })
        );
        assert_eq!(
            parse(args(&["health", "--ready"])),
            Err(UsageError("unknown option \"--ready\" for health".into()))
        );
        let dash_in_command = Action::Run {
            command: Some(args(&["echo", "-n"])),
        };
        assert_eq!(parse(args(&["--", "echo", "-n"])), Ok(dash_in_command));
    }
}

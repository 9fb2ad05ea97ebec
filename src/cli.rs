//! Command-line syntax only (no environment, no files): options, and the command after `--`.

use std::ffi::OsString;
use std::fmt;

use crate::config::SETTINGS;

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

/// `fnshim --help`: the usage, then every setting of [`SETTINGS`] (name, what it does, the
/// values it takes, its default), then routes and exit codes.
pub const HELP: Help = Help;

pub struct Help;

const HELP_HEAD: &str = "\
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
";

const HELP_TAIL: &str = "
routes: /_/health, /_/ready, /_/metrics are the shim's own; everything else goes to the function.
exit codes: 0 clean shutdown, 64 bad configuration, 65 function could not be loaded,
  69 runtime unavailable; with CMD, the command's own code (128+N for signal N, 126/127 exec).
";

/// Where the settings' descriptions start, and where their lines end.
const NAME_WIDTH: usize = 25;
const LINE_WIDTH: usize = 100;

impl fmt::Display for Help {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(HELP_HEAD)?;
        for setting in SETTINGS.iter().filter(|s| s.documented()) {
            let default = setting.default.replace('`', "");
            let text = match setting.kind.syntax() {
                Some(syntax) => format!("{} ({syntax}; default: {default})", setting.about),
                None => format!("{} (default: {default})", setting.about),
            };
            write_wrapped(f, setting.name, &text)?;
        }
        f.write_str(HELP_TAIL)
    }
}

/// `  NAME   text`, the text wrapped at word boundaries under its first line.
fn write_wrapped(f: &mut fmt::Formatter<'_>, name: &str, text: &str) -> fmt::Result {
    let mut line = format!("  {name:<width$}", width = NAME_WIDTH - 3);
    for word in text.split(' ') {
        let fresh = line.len() < NAME_WIDTH;
        if !fresh && line.len() + 1 + word.len() > LINE_WIDTH {
            writeln!(f, "{line}")?;
            line = " ".repeat(NAME_WIDTH - 1);
        }
        line.push(' ');
        line.push_str(word);
    }
    writeln!(f, "{line}")
}

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

    #[test]
    fn help_prints_the_table_of_settings() {
        let help = HELP.to_string();
        for setting in SETTINGS {
            let line = help
                .lines()
                .find(|line| line.starts_with(&format!("  {} ", setting.name)));
            assert_eq!(line.is_some(), setting.documented(), "{}", setting.name);
        }
        let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains("FUNCTION_TIMEOUT time until the function's response headers (500ms, 30s, 2m or seconds; default: 30s)"), "{help}");
        let settings = help
            .strip_prefix(HELP_HEAD)
            .and_then(|rest| rest.strip_suffix(HELP_TAIL))
            .expect("the settings stand between the usage and the routes");
        assert!(settings
            .lines()
            .all(|line| line.chars().count() <= LINE_WIDTH));
    }
}

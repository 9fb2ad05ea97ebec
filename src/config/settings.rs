//! The one table of settings: every variable `Config::from_env` reads, with the kind of value
//! it takes, where it may come from, its default as users see it, and one line on what it does.
//! RUNTIME_CONFIG's keys, `fnshim --help`, `fnshim health` and the PID 1 tests' clean
//! environment are taken from here, and a test holds README.md's table to it.

use super::parse;

/// What a setting's value looks like, and so which parser of `parse.rs` reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any text: a path, a name, a version, a URL.
    Text,
    Duration,
    Size,
    Port,
    /// A whole number of at least 1.
    Count,
    Bool,
    /// One of these words, in any case.
    Choice(&'static [&'static str]),
    /// Cron fields or `@every`.
    Schedule,
    /// An HTTP path (`/health`).
    UrlPath,
    /// HTTP statuses: codes and ranges (`200-299,404`).
    Statuses,
}

impl Kind {
    /// Checks `value` with the parser `Config::from_env` uses for this kind.
    pub fn check(self, value: &str) -> Result<(), String> {
        match self {
            Kind::Text => Ok(()),
            Kind::Duration => parse::duration(value).map(drop),
            Kind::Size => parse::size(value).map(drop),
            Kind::Port => parse::port(value).map(drop),
            Kind::Count => parse::positive(value).map(drop),
            Kind::Bool => parse::boolean(value).map(drop),
            Kind::Choice(words) => parse::one_of(value, words).map(drop),
            Kind::Schedule => crate::config::cron::Schedule::parse(value).map(drop),
            Kind::UrlPath => super::readiness::url_path(value).map(drop),
            Kind::Statuses => super::readiness::statuses(value).map(drop),
        }
    }

    /// The values it takes, as `--help` shows them; `None` for free text.
    pub fn syntax(self) -> Option<String> {
        Some(match self {
            Kind::Text => return None,
            Kind::Duration => "500ms, 30s, 2m or seconds".into(),
            Kind::Size => "6MB, 512KB or bytes; 1 MB = 1 MiB".into(),
            Kind::Port => "0 to 65535".into(),
            Kind::Count => "1 or more".into(),
            Kind::Bool => "true | false".into(),
            Kind::Choice(words) => words.join(" | "),
            Kind::Schedule => "cron (5 or 6 fields) or @every 30s".into(),
            Kind::UrlPath => "a path: /health".into(),
            Kind::Statuses => "codes and ranges: 200-299,404".into(),
        })
    }
}

/// Where a setting may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The environment, or RUNTIME_CONFIG's file under it.
    Anywhere,
    /// The environment only: RUNTIME_CONFIG names the file itself, and TZ is also the zone of
    /// the C library and of the workers, which inherit the environment, not the file.
    Environment,
    /// The process's own environment (PATH, TMPDIR), not a fnshim setting: undocumented, not
    /// a file key, and left as inherited when tests clean the environment.
    Inherited,
}

/// One variable `Config::from_env` reads.
#[derive(Debug)]
pub struct Setting {
    pub name: &'static str,
    pub kind: Kind,
    pub source: Source,
    /// The default as README.md shows it (Markdown: code in backticks).
    pub default: &'static str,
    /// One line for `fnshim --help`.
    pub about: &'static str,
}

impl Setting {
    /// A fnshim setting (in README.md and `--help`), not the process's own environment.
    pub fn documented(&self) -> bool {
        self.source != Source::Inherited
    }

    /// Whether RUNTIME_CONFIG may hold it (under its name in lower case).
    pub fn in_file(&self) -> bool {
        self.source == Source::Anywhere
    }
}

pub(crate) const RUNTIMES: &[&str] = &["dart", "node", "deno", "python", "custom"];
pub(crate) const TRIGGERS: &[&str] = &["http", "event", "schedule"];
pub(crate) const LEVELS: &[&str] = &["debug", "info", "warn", "error"];
pub(crate) const LOG_FORMATS: &[&str] = &["json", "text"];
pub(crate) const EVENT_FORMATS: &[&str] = &["v1", "v2"];
pub(crate) const PROTOCOLS: &[&str] = &["lambda", "http"];
pub(crate) const INSTALL_MODES: &[&str] = &["auto", "always", "never"];
pub(crate) const SIGNATURES: &[&str] = &["http", "cloudevent"];
pub(crate) const INVOKE_MODES: &[&str] = &["buffered", "response_stream"];

const fn any(
    name: &'static str,
    kind: Kind,
    default: &'static str,
    about: &'static str,
) -> Setting {
    Setting {
        name,
        kind,
        source: Source::Anywhere,
        default,
        about,
    }
}

const fn from(source: Source, setting: Setting) -> Setting {
    Setting { source, ..setting }
}

/// Every setting, in the order of README.md's table.
#[rustfmt::skip]
pub static SETTINGS: &[Setting] = &[
    any("FUNCTION_PATH", Kind::Text, "required unless a command follows `--`",
        "folder holding the function code"),
    any("FUNCTION_ENTRY", Kind::Text,
        "detected: the first entry file of the runtimes' table (`fnshim check` shows it)",
        "entry file, relative to FUNCTION_PATH"),
    any("FUNCTION_HANDLER", Kind::Text, "`handler`",
        "exported handler name, or file.export (index.handler) naming the entry too"),
    any("FUNCTION_INITIALIZER", Kind::Text, "`initializer`",
        "export run once per worker before its first invocation (Function Compute's initializer)"),
    any("FUNCTION_TARGET", Kind::Text, "unset",
        "a Functions Framework function to run (its export or registered name), as Cloud Functions sets it"),
    any("FUNCTION_SIGNATURE_TYPE", Kind::Choice(SIGNATURES), "`http`",
        "with FUNCTION_TARGET: http ((req, res) / request) or cloudevent"),
    any("FUNCTION_RUNTIME", Kind::Choice(RUNTIMES),
        "from the entry's extension; no known extension = custom",
        "the language of the function"),
    any("TRIGGER_TYPE", Kind::Choice(TRIGGERS), "`http`",
        "what requests are: HTTP events, raw events (POST / and /invoke), or SCHEDULE's timer"),
    any("PORT", Kind::Port, "`8080`; with a command, unset = plain init",
        "listen port on all interfaces, 0 = any free one"),
    any("LOG_LEVEL", Kind::Choice(LEVELS), "`info`", "the least severe log lines kept"),
    any("LOG_FORMAT", Kind::Choice(LOG_FORMATS), "`json` when stdout is not a terminal",
        "how the log lines on stderr are written"),
    any("FUNCTION_TIMEOUT", Kind::Duration, "`30s`", "time until the function's response headers"),
    any("INIT_TIMEOUT", Kind::Duration, "`30s`", "time for a worker to load and start listening"),
    any("READINESS_PATH", Kind::UrlPath, "unset = TCP accept only",
        "a bootstrap is ready when a GET of this path answers a READINESS_STATUS status"),
    any("READINESS_STATUS", Kind::Statuses, "`200-499`",
        "the statuses of READINESS_PATH that mean ready"),
    any("READINESS_INTERVAL", Kind::Duration, "`50ms`",
        "the pause between two polls of READINESS_PATH"),
    any("INSTALL_TIMEOUT", Kind::Duration, "`10m`",
        "limit for each dependency install or build step"),
    any("FUNCTION_CONCURRENCY", Kind::Count,
        "64 for node/deno/dart, 1 for python, 256 for custom and command modes",
        "invocations in flight before 429 (per worker for handlers)"),
    any("FUNCTION_WORKERS", Kind::Count,
        "`1` (python and Runtime API bootstraps: number of CPUs)",
        "worker processes (handler runtimes, Runtime API bootstraps; an HTTP bootstrap runs once)"),
    any("FUNCTION_PROTOCOL", Kind::Choice(PROTOCOLS),
        "detected: the bootstrap's first move (calls /next, or listens on PORT)",
        "how a bootstrap is run: a Lambda Runtime API client or an HTTP server"),
    any("MAX_BODY_SIZE", Kind::Size, "`6MB`", "largest request body"),
    any("MAX_RESPONSE_SIZE", Kind::Size, "`20MB`",
        "largest streamed response body of a handler (the whole stream)"),
    any("SHUTDOWN_TIMEOUT", Kind::Duration, "`8s` (under Docker's 10 s)",
        "whole drain + stop budget after SIGTERM"),
    any("SCHEDULE", Kind::Schedule, "required then", "the timer of TRIGGER_TYPE=schedule"),
    from(Source::Environment, any("TZ", Kind::Text, "UTC",
        "the zone cron fields are read in: a zoneinfo name (Asia/Shanghai) or a POSIX rule (CST-8)")),
    any("SCHEDULE_PAYLOAD", Kind::Text, "empty", "the payload of each timer event"),
    any("HTTP_EVENT_FORMAT", Kind::Choice(EVENT_FORMATS), "`v1`",
        "the HTTP event's shape (handler runtimes)"),
    any("DART_VERSION", Kind::Text, "unset = any",
        "the Dart SDK the function expects (3.5 accepts any 3.5.x)"),
    any("DART_AOT", Kind::Bool, "`false`",
        "compile the Dart worker once with dart compile exe (cached) and run that"),
    any("PUB_MIRROR", Kind::Text, "unset", "package mirror for dart pub get"),
    any("NPM_MIRROR", Kind::Text, "unset", "package registry for npm"),
    any("PIP_MIRROR", Kind::Text, "unset", "package index for pip"),
    any("INSTALL_DEPS", Kind::Choice(INSTALL_MODES), "`auto`",
        "install dependencies when their stamp differs, at every start, or never"),
    from(Source::Environment, any("RUNTIME_CONFIG", Kind::Text,
        "`/app/runtime/config.yaml` when it exists",
        "a YAML file of these settings under lower-case keys; the environment wins")),
    any("KEEPALIVE_TIMEOUT", Kind::Duration, "`75s`",
        "an idle keep-alive connection (or one still sending its head) is closed after this"),
    any("WRITE_TIMEOUT", Kind::Duration, "`60s`",
        "a client that takes no part of its answer for this long is disconnected"),
    any("LISTEN_BACKLOG", Kind::Count, "`1024`",
        "connections the kernel queues on PORT before fnshim accepts them"),
    any("MAX_CONNECTIONS", Kind::Count, "`10000`",
        "client connections open at once; past it fnshim stops accepting until one closes"),
    any("CACHE_DIR", Kind::Text, "`$TMPDIR/fnshim` (`/tmp/fnshim`)",
        "fnshim's writable work folder: adapters, socket, dependencies, builds, copies"),
    any("FUNCTION_NAME", Kind::Text, "folder name", "the function's name, reported to it"),
    any("FUNCTION_VERSION", Kind::Text, "`$LATEST`", "the function's version, reported to it"),
    any("MEMORY_SIZE", Kind::Size, "cgroup limit", "the memory figure reported to the function"),
    from(Source::Environment, any("AWS_LAMBDA_RUNTIME_API", Kind::Text, "unset",
        "set by Lambda: host:port[/prefix] of the Runtime API; fnshim polls it instead of PORT")),
    from(Source::Environment, any("AWS_LAMBDA_MAX_CONCURRENCY", Kind::Count, "`1`",
        "with AWS_LAMBDA_RUNTIME_API: invocations taken at once (one poller each)")),
    from(Source::Environment, any("AWS_LWA_INVOKE_MODE", Kind::Choice(INVOKE_MODES), "`buffered`",
        "in Lambda: response_stream streams a bootstrap's HTTP answers (Function URL streaming)")),
    from(Source::Environment, any("AWS_LWA_READINESS_CHECK_PATH", Kind::UrlPath, "unset",
        "the Lambda Web Adapter's name for READINESS_PATH, used when that is unset")),
    from(Source::Environment, any("_HANDLER", Kind::Text, "unset",
        "set by Lambda: FUNCTION_HANDLER when that is unset")),
    from(Source::Environment, any("LAMBDA_TASK_ROOT", Kind::Text, "unset",
        "set by Lambda: FUNCTION_PATH when that is unset")),
    from(Source::Environment, any("AWS_LAMBDA_FUNCTION_NAME", Kind::Text, "unset",
        "set by Lambda: FUNCTION_NAME when that is unset")),
    from(Source::Environment, any("AWS_LAMBDA_FUNCTION_VERSION", Kind::Text, "unset",
        "set by Lambda: FUNCTION_VERSION when that is unset")),
    from(Source::Environment, any("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", Kind::Count, "unset",
        "set by Lambda: MEMORY_SIZE (in MB) when that is unset")),
    from(Source::Environment, any("FUNCTIONS_CUSTOMHANDLER_PORT", Kind::Port, "unset",
        "set by Azure Functions: fnshim listens there and speaks the custom-handler payloads")),
    from(Source::Environment, any("K_SERVICE", Kind::Text, "unset",
        "set by Knative and Cloud Run: FUNCTION_NAME when that is unset")),
    from(Source::Environment, any("K_CONFIGURATION", Kind::Text, "unset",
        "set by Knative and Cloud Run: FUNCTION_NAME when that and K_SERVICE are unset")),
    from(Source::Environment, any("K_REVISION", Kind::Text, "unset",
        "set by Knative and Cloud Run: FUNCTION_VERSION when that is unset")),
    from(Source::Inherited, any("TMPDIR", Kind::Text, "`/tmp`", "where CACHE_DIR goes by default")),
    from(Source::Inherited, any("PATH", Kind::Text, "unset",
        "where the language runtimes and installers are found")),
];

/// An environment of `pairs`, for tests.
#[cfg(test)]
pub(crate) fn test_env(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The setting of that name.
pub fn get(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|setting| setting.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Env};
    use std::cell::RefCell;
    use std::collections::BTreeSet;

    const README: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));

    /// README.md's table of variables: each row's names and default cells.
    fn readme_rows() -> Vec<(Vec<String>, String)> {
        let section = README
            .split("\n## Configuration\n")
            .nth(1)
            .expect("README.md has a Configuration section");
        let section = section.split("\n## ").next().unwrap();
        section
            .lines()
            .filter(|line| line.starts_with("| `"))
            .map(|line| {
                let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
                let names = cells[0]
                    .split(", ")
                    .map(|name| name.trim().trim_matches('`').to_string())
                    .collect();
                (names, cells[cells.len() - 1].trim().to_string())
            })
            .collect()
    }

    #[test]
    fn names_are_unique_and_upper_case() {
        let names: BTreeSet<&str> = SETTINGS.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), SETTINGS.len(), "a name twice in SETTINGS");
        for name in names {
            assert!(
                name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "{name}"
            );
        }
    }

    /// A row naming several settings holds one default for all, or one each (", " apart).
    #[test]
    fn readme_documents_every_setting_with_its_default() {
        let mut documented = BTreeSet::new();
        for (names, default) in readme_rows() {
            let defaults: Vec<&str> = default.split(", ").collect();
            for (i, name) in names.iter().enumerate() {
                let setting = get(name)
                    .filter(|s| s.documented())
                    .unwrap_or_else(|| panic!("README.md documents {name}, not a setting"));
                let expected = match defaults.len() == names.len() && names.len() > 1 {
                    true => defaults[i],
                    false => default.as_str(),
                };
                assert_eq!(setting.default, expected, "the default of {name}");
                assert!(documented.insert(name.clone()), "{name} twice in README.md");
            }
        }
        let missing: Vec<&str> = SETTINGS
            .iter()
            .filter(|s| s.documented() && !documented.contains(s.name))
            .map(|s| s.name)
            .collect();
        assert!(missing.is_empty(), "README.md lacks {missing:?}");
    }

    /// Remembers every key asked for.
    struct Recording(RefCell<BTreeSet<String>>);

    impl Env for Recording {
        fn get(&self, key: &str) -> Option<String> {
            self.0.borrow_mut().insert(key.to_string());
            None
        }
    }

    #[test]
    fn from_env_reads_exactly_the_table() {
        let env = Recording(RefCell::new(BTreeSet::new()));
        Config::from_env(&env, None).unwrap();
        let read = env.0.into_inner();
        let table: BTreeSet<String> = SETTINGS.iter().map(|s| s.name.to_string()).collect();
        assert_eq!(read, table);
    }

    fn config(pairs: &[(&str, &str)]) -> Result<Config, Vec<crate::config::ConfigError>> {
        let env = crate::config::test_env(pairs);
        Config::from_env(&env, None)
    }

    /// A default shown as one value (`30s`) is what an unset variable means.
    #[test]
    fn shown_defaults_are_the_defaults() {
        let unset = format!("{:?}", config(&[]).unwrap());
        let mut checked = 0;
        for setting in SETTINGS {
            let Some(value) = setting
                .default
                .strip_prefix('`')
                .and_then(|rest| rest.strip_suffix('`'))
                .filter(|value| !value.contains('`'))
            else {
                continue;
            };
            assert_eq!(setting.kind.check(value), Ok(()), "{}", setting.name);
            let set = format!("{:?}", config(&[(setting.name, value)]).unwrap());
            assert_eq!(set, unset, "{}={value}", setting.name);
            checked += 1;
        }
        assert!(checked >= 10, "{checked}");
    }

    /// The kind of each setting refuses what `from_env` refuses.
    #[test]
    fn kinds_check_as_from_env_parses() {
        for setting in SETTINGS {
            for value in ["bogus!", "0", "7"] {
                let refused = config(&[(setting.name, value)])
                    .err()
                    .is_some_and(|errors| errors.iter().any(|e| e.key == setting.name));
                assert_eq!(
                    refused,
                    setting.kind.check(value).is_err(),
                    "{}={value}",
                    setting.name
                );
            }
        }
    }
}

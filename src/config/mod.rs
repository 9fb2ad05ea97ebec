//! The typed configuration: read once from an [`Env`], every invalid variable reported together.
//!
//! Architecture invariant: this is the only module that reads environment variables; everything
//! else receives a [`Config`]. Tests pass a `HashMap` instead of touching the process environment.

pub(crate) mod cron;
pub(crate) mod file;
pub(crate) mod fyml;
mod lambda;
pub(crate) mod parse;
mod platform;
pub(crate) mod readiness;
pub mod settings;

pub use file::{layered, Layered};
pub use lambda::Lambda;
pub use platform::{Gcf, Platform};
#[cfg(test)]
pub(crate) use settings::test_env;
pub use settings::{Setting, SETTINGS};

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Where configuration values come from (the process environment, or a map in tests).
pub trait Env {
    fn get(&self, key: &str) -> Option<String>;
}

/// The real process environment. Non-UTF-8 values are kept lossily; an empty value counts as unset.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var_os(key).map(|v| v.to_string_lossy().into_owned())
    }
}

impl Env for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).cloned()
    }
}

/// One invalid variable: its key, the value it had, and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub value: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}: {}", self.key, self.value, self.reason)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Dart,
    Node,
    Deno,
    Python,
    Custom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Http,
    Event,
    Schedule,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFormat {
    V1,
    V2,
}

/// FUNCTION_PROTOCOL: what a bootstrap is, when it is not to be detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// A Lambda Runtime API client (it polls `AWS_LAMBDA_RUNTIME_API`).
    Lambda,
    /// An HTTP server on its PORT.
    Http,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallDeps {
    Auto,
    Always,
    Never,
}

/// Logging settings, needed before the rest of the configuration is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSettings {
    pub level: tracing::Level,
    /// `None`: JSON when stdout is not a terminal.
    pub format: Option<LogFormat>,
}

/// Everything SPEC §2 lets a user set, resolved to types and defaults.
#[derive(Debug, Clone)]
pub struct Config {
    pub function_path: Option<PathBuf>,
    pub function_entry: Option<PathBuf>,
    pub function_handler: String,
    pub function_runtime: Option<Runtime>,
    pub trigger: Trigger,
    /// `None` when PORT is unset: a command then runs as a plain init.
    pub port: Option<u16>,
    pub log: LogSettings,
    pub function_timeout: Duration,
    pub init_timeout: Duration,
    pub install_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub concurrency: Option<usize>,
    pub workers: Option<usize>,
    pub max_body_size: u64,
    pub max_response_size: u64,
    pub schedule: Option<crate::config::cron::Schedule>,
    pub schedule_payload: String,
    pub http_event_format: EventFormat,
    /// FUNCTION_PROTOCOL; `None`: detected.
    pub protocol: Option<Protocol>,
    pub dart_version: Option<String>,
    pub pub_mirror: Option<String>,
    pub npm_mirror: Option<String>,
    pub pip_mirror: Option<String>,
    pub install_deps: InstallDeps,
    pub dart_aot: bool,
    pub runtime_config: Option<PathBuf>,
    pub function_name: Option<String>,
    pub function_version: String,
    pub memory_size: Option<u64>,
    /// Writable work folder: adapters, the worker socket, later dependencies and builds.
    pub cache_dir: PathBuf,
    /// TZ: the zone cron fields are read in (checked at start when something is scheduled).
    pub tz: Option<String>,
    /// PATH, to find language runtimes (`node`, `deno`, `python3`, `dart`).
    pub search_path: Option<String>,
    /// `fnshim -- CMD ARGS`: command mode.
    pub command: Option<Vec<OsString>>,
    /// KEEPALIVE_TIMEOUT, WRITE_TIMEOUT, LISTEN_BACKLOG, MAX_CONNECTIONS: how client
    /// connections are kept.
    pub keepalive_timeout: Duration,
    pub write_timeout: Duration,
    pub listen_backlog: usize,
    pub max_connections: usize,
    pub readiness: Option<readiness::ReadinessCheck>,
    /// AWS_LAMBDA_RUNTIME_API is set: fnshim is a Lambda Runtime API client (`config::lambda`).
    pub lambda: Option<Lambda>,
    /// The platform, FUNCTION_INITIALIZER's export and FUNCTION_TARGET (`config::platform`).
    pub platform: Platform,
    pub function_initializer: String,
    pub gcf: Option<Gcf>,
}

/// Default in-flight limit for a proxied server (custom and command modes).
pub const DEFAULT_PROXY_CONCURRENCY: usize = 256;
/// The port served when PORT is unset (and no command makes it a plain init).
pub const DEFAULT_PORT: u16 = 8080;

impl Config {
    /// Parses every variable of [`SETTINGS`]; on failure returns all the errors, not just the first.
    pub fn from_env(
        env: &dyn Env,
        command: Option<Vec<OsString>>,
    ) -> Result<Config, Vec<ConfigError>> {
        use EventFormat::V1;
        let mut r = Reader::new(env);
        let mut config = Config {
            function_path: r.text("FUNCTION_PATH").map(PathBuf::from),
            function_entry: r.text("FUNCTION_ENTRY").map(PathBuf::from),
            function_handler: r.text_or("FUNCTION_HANDLER", "handler"),
            function_runtime: r.parsed("FUNCTION_RUNTIME", parse_runtime),
            trigger: r.parsed_or("TRIGGER_TYPE", parse_trigger, Trigger::Http),
            port: r.parsed("PORT", parse::port),
            log: r.log(),
            function_timeout: r.duration("FUNCTION_TIMEOUT", 30),
            init_timeout: r.duration("INIT_TIMEOUT", 30),
            install_timeout: r.duration("INSTALL_TIMEOUT", 600),
            shutdown_timeout: r.duration("SHUTDOWN_TIMEOUT", 8),
            concurrency: r.parsed("FUNCTION_CONCURRENCY", parse::positive),
            workers: r.parsed("FUNCTION_WORKERS", parse::positive),
            max_body_size: r.size("MAX_BODY_SIZE", 6 << 20),
            max_response_size: r.size("MAX_RESPONSE_SIZE", 20 << 20),
            schedule: r.parsed("SCHEDULE", crate::config::cron::Schedule::parse),
            schedule_payload: r.text("SCHEDULE_PAYLOAD").unwrap_or_default(),
            http_event_format: r.parsed_or("HTTP_EVENT_FORMAT", parse_event_format, V1),
            protocol: r.parsed("FUNCTION_PROTOCOL", parse_protocol),
            dart_version: r.text("DART_VERSION"),
            pub_mirror: r.text("PUB_MIRROR"),
            npm_mirror: r.text("NPM_MIRROR"),
            pip_mirror: r.text("PIP_MIRROR"),
            install_deps: r.parsed_or("INSTALL_DEPS", parse::install_deps, InstallDeps::Auto),
            dart_aot: r.parsed_or("DART_AOT", parse::boolean, false),
            runtime_config: r.text("RUNTIME_CONFIG").map(PathBuf::from),
            function_name: r.text("FUNCTION_NAME"),
            function_version: r.text_or("FUNCTION_VERSION", "$LATEST"),
            memory_size: r
                .parsed("MEMORY_SIZE", parse::size)
                .map(|bytes| bytes.div_ceil(1 << 20)),
            cache_dir: r.cache_dir(),
            search_path: r.text("PATH"),
            tz: r.text("TZ"),
            command,
            keepalive_timeout: r.duration("KEEPALIVE_TIMEOUT", 75),
            write_timeout: r.duration("WRITE_TIMEOUT", 60),
            listen_backlog: r.count("LISTEN_BACKLOG", 1024),
            max_connections: r.count("MAX_CONNECTIONS", 10_000),
            readiness: readiness::read(&mut r),
            lambda: None,
            platform: Platform::Http,
            function_initializer: String::new(),
            gcf: None,
        };
        platform::apply(&mut r, &mut config);
        r.check_schedule(&config);
        r.finish(config)
    }

    /// The SIGTERM-to-SIGKILL grace inside the shutdown budget: min(2 s, SHUTDOWN_TIMEOUT / 2).
    pub fn kill_grace(&self) -> Duration {
        (self.shutdown_timeout / 2).min(Duration::from_secs(2))
    }
}

/// FUNCTION_PATH alone, read as [`Config::from_env`] reads it (the plan checks the folder even
/// when other settings are bad, to report every error together).
pub fn function_path(env: &dyn Env) -> Option<PathBuf> {
    lambda::function_path(&mut Reader::new(env))
}

/// The Lambda Runtime API settings alone (to post an init error when the rest is bad).
pub fn lambda_settings(env: &dyn Env) -> Option<Lambda> {
    lambda::settings(&mut Reader::new(env))
}

/// PORT alone, read as [`Config::from_env`] reads it (`fnshim health` needs nothing else).
pub fn port(env: &dyn Env) -> Result<Option<u16>, ConfigError> {
    let mut r = Reader::new(env);
    let port = r.parsed("PORT", parse::port);
    match r.errors.pop() {
        Some(error) => Err(error),
        None => Ok(port),
    }
}

/// Lenient logging settings for before the configuration is validated (bad values fall back).
pub fn log_settings(env: &dyn Env) -> LogSettings {
    let read = |key: &str| env.get(key).filter(|v| !v.trim().is_empty());
    LogSettings {
        level: read("LOG_LEVEL")
            .and_then(|v| parse_level(&v).ok())
            .unwrap_or(tracing::Level::INFO),
        format: read("LOG_FORMAT").and_then(|v| parse_log_format(&v).ok()),
    }
}

/// Collects errors while reading, so that every bad key is reported in one go.
struct Reader<'a> {
    env: &'a dyn Env,
    errors: Vec<ConfigError>,
}

impl<'a> Reader<'a> {
    fn new(env: &'a dyn Env) -> Self {
        Reader {
            env,
            errors: Vec::new(),
        }
    }

    /// The value of a setting of the table; an empty value counts as unset.
    fn text(&self, key: &str) -> Option<String> {
        debug_assert!(settings::get(key).is_some(), "{key} is not in SETTINGS");
        self.env.get(key).filter(|v| !v.trim().is_empty())
    }

    fn parsed<T>(&mut self, key: &str, parse: impl Fn(&str) -> Result<T, String>) -> Option<T> {
        let value = self.text(key)?;
        match parse(&value) {
            Ok(parsed) => Some(parsed),
            Err(reason) => {
                self.errors.push(ConfigError {
                    key: key.into(),
                    value,
                    reason,
                });
                None
            }
        }
    }

    fn parsed_or<T>(&mut self, key: &str, parse: impl Fn(&str) -> Result<T, String>, or: T) -> T {
        self.parsed(key, parse).unwrap_or(or)
    }

    fn duration(&mut self, key: &str, default_secs: u64) -> Duration {
        self.parsed(key, parse::duration)
            .unwrap_or(Duration::from_secs(default_secs))
    }

    fn size(&mut self, key: &str, default: u64) -> u64 {
        self.parsed(key, parse::size).unwrap_or(default)
    }

    /// A count of 1 or more, or `default`.
    fn count(&mut self, key: &str, default: usize) -> usize {
        self.parsed(key, parse::positive).unwrap_or(default)
    }

    /// Text, or `default`.
    fn text_or(&mut self, key: &str, default: &str) -> String {
        self.text(key).unwrap_or_else(|| default.into())
    }

    fn log(&mut self) -> LogSettings {
        LogSettings {
            level: self
                .parsed("LOG_LEVEL", parse_level)
                .unwrap_or(tracing::Level::INFO),
            format: self.parsed("LOG_FORMAT", parse_log_format),
        }
    }

    fn cache_dir(&self) -> PathBuf {
        let cache_dir = self.text("CACHE_DIR").map(PathBuf::from);
        cache_dir.unwrap_or_else(|| {
            PathBuf::from(self.text("TMPDIR").unwrap_or_else(|| "/tmp".into())).join("fnshim")
        })
    }

    /// The configuration, or every error found.
    fn finish(self, config: Config) -> Result<Config, Vec<ConfigError>> {
        match self.errors.is_empty() {
            true => Ok(config),
            false => Err(self.errors),
        }
    }

    fn check_schedule(&mut self, config: &Config) {
        if config.trigger == Trigger::Schedule
            && config.schedule.is_none()
            && self.text("SCHEDULE").is_none()
        {
            self.errors.push(ConfigError {
                key: "SCHEDULE".into(),
                value: String::new(),
                reason: "is required when TRIGGER_TYPE=schedule".into(),
            });
        }
    }
}

fn parse_runtime(value: &str) -> Result<Runtime, String> {
    Ok(match parse::one_of(value, settings::RUNTIMES)? {
        "dart" => Runtime::Dart,
        "node" => Runtime::Node,
        "deno" => Runtime::Deno,
        "python" => Runtime::Python,
        _ => Runtime::Custom,
    })
}

fn parse_trigger(value: &str) -> Result<Trigger, String> {
    Ok(match parse::one_of(value, settings::TRIGGERS)? {
        "http" => Trigger::Http,
        "event" => Trigger::Event,
        _ => Trigger::Schedule,
    })
}

fn parse_level(value: &str) -> Result<tracing::Level, String> {
    Ok(match parse::one_of(value, settings::LEVELS)? {
        "debug" => tracing::Level::DEBUG,
        "info" => tracing::Level::INFO,
        "warn" => tracing::Level::WARN,
        _ => tracing::Level::ERROR,
    })
}

fn parse_log_format(value: &str) -> Result<LogFormat, String> {
    Ok(match parse::one_of(value, settings::LOG_FORMATS)? {
        "json" => LogFormat::Json,
        _ => LogFormat::Text,
    })
}

fn parse_event_format(value: &str) -> Result<EventFormat, String> {
    Ok(match parse::one_of(value, settings::EVENT_FORMATS)? {
        "v1" => EventFormat::V1,
        _ => EventFormat::V2,
    })
}

fn parse_protocol(value: &str) -> Result<Protocol, String> {
    Ok(match parse::one_of(value, settings::PROTOCOLS)? {
        "lambda" => Protocol::Lambda,
        _ => Protocol::Http,
    })
}

#[cfg(test)]
mod tests;

//! The AWS Lambda settings: `AWS_LAMBDA_RUNTIME_API` turns fnshim into a Runtime API client,
//! and Lambda's own variables stand in for fnshim's where those are not set.

use std::path::PathBuf;

use super::Reader;

/// How to reach the Runtime API, and how many invocations to take at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lambda {
    /// `host:port` with an optional path prefix (`127.0.0.1:9001/.rt`, as emulators serve it).
    pub runtime_api: String,
    /// AWS_LAMBDA_MAX_CONCURRENCY: one poller per slot (1 unless set).
    pub max_concurrency: usize,
    /// AWS_LWA_INVOKE_MODE=response_stream (the Lambda Web Adapter's setting): a bootstrap's
    /// answers to HTTP events are streamed to Lambda as they arrive.
    pub streaming: bool,
}

/// The Runtime API settings alone, when AWS_LAMBDA_RUNTIME_API is set (every Lambda variable
/// is read, and checked, either way).
pub(super) fn settings(r: &mut Reader<'_>) -> Option<Lambda> {
    let api = r.parsed("AWS_LAMBDA_RUNTIME_API", parse_runtime_api);
    let max_concurrency = r
        .parsed("AWS_LAMBDA_MAX_CONCURRENCY", super::parse::positive)
        .unwrap_or(1);
    let mode = r.parsed("AWS_LWA_INVOKE_MODE", |v| {
        super::parse::one_of(v, super::settings::INVOKE_MODES)
    });
    Some(Lambda {
        runtime_api: api?,
        max_concurrency,
        streaming: mode.is_some_and(|m| m == "response_stream"),
    })
}

/// FUNCTION_PATH, or in Lambda the task root when it is unset.
pub(super) fn function_path(r: &mut Reader<'_>) -> Option<PathBuf> {
    let own = r.text("FUNCTION_PATH").map(PathBuf::from);
    match r.text("AWS_LAMBDA_RUNTIME_API") {
        Some(_) => own.or_else(|| r.text("LAMBDA_TASK_ROOT").map(PathBuf::from)),
        None => own,
    }
}

/// Lambda's own variables, which stand in for fnshim's in Lambda.
struct Platform {
    task_root: Option<PathBuf>,
    handler: Option<String>,
    name: Option<String>,
    version: Option<String>,
    memory_mb: Option<u64>,
}

/// Reads the Lambda settings and, in Lambda, fills FUNCTION_* from Lambda's variables where
/// unset.
pub(super) fn apply(r: &mut Reader<'_>, config: &mut super::Config) {
    let lambda = settings(r);
    let platform = Platform {
        task_root: r.text("LAMBDA_TASK_ROOT").map(PathBuf::from),
        handler: r.text("_HANDLER"),
        name: r.text("AWS_LAMBDA_FUNCTION_NAME"),
        version: r.text("AWS_LAMBDA_FUNCTION_VERSION"),
        memory_mb: r.parsed("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", megabytes),
    };
    let Some(lambda) = lambda else {
        return;
    };
    config.lambda = Some(lambda);
    config.function_path = config.function_path.take().or(platform.task_root);
    if let (None, Some(handler)) = (r.text("FUNCTION_HANDLER"), platform.handler) {
        config.function_handler = handler;
    }
    config.function_name = config.function_name.take().or(platform.name);
    if let (None, Some(version)) = (r.text("FUNCTION_VERSION"), platform.version) {
        config.function_version = version;
    }
    config.memory_size = config.memory_size.or(platform.memory_mb);
}

/// `host:port[/prefix]`, also accepted with `http://` (as some emulators print it).
fn parse_runtime_api(value: &str) -> Result<String, String> {
    let trimmed = value.trim().trim_end_matches('/');
    let bare = trimmed.strip_prefix("http://").unwrap_or(trimmed);
    let host = bare.split('/').next().unwrap_or("");
    let valid = !host.is_empty()
        && !bare.contains("://")
        && format!("http://{bare}/").parse::<http::Uri>().is_ok();
    match valid {
        true => Ok(bare.to_owned()),
        false => Err("is not host:port with an optional path (127.0.0.1:9001)".into()),
    }
}

/// Lambda gives the memory size in MB, a bare number.
fn megabytes(value: &str) -> Result<u64, String> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|mb| *mb > 0)
        .ok_or_else(|| "is not a number of megabytes".into())
}

#[cfg(test)]
mod tests {
    use super::super::{Config, ConfigError};

    fn config(pairs: &[(&str, &str)]) -> Result<Config, Vec<ConfigError>> {
        let env = crate::config::test_env(pairs);
        Config::from_env(&env, None)
    }

    #[test]
    fn lambda_variables_stand_in_for_unset_ones() {
        let config = config(&[
            ("AWS_LAMBDA_RUNTIME_API", "http://127.0.0.1:9001/.rt/"),
            ("LAMBDA_TASK_ROOT", "/var/task"),
            ("_HANDLER", "app.main"),
            ("AWS_LAMBDA_FUNCTION_NAME", "orders"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "7"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
        ])
        .unwrap();
        let lambda = config.lambda.unwrap();
        assert_eq!(lambda.runtime_api, "127.0.0.1:9001/.rt");
        assert_eq!(lambda.max_concurrency, 1);
        assert_eq!(config.function_path.unwrap().to_str(), Some("/var/task"));
        assert_eq!(config.function_handler, "app.main");
        assert_eq!(config.function_name.as_deref(), Some("orders"));
        assert_eq!(config.function_version, "7");
        assert_eq!(config.memory_size, Some(512));
    }

    #[test]
    fn fnshim_variables_win_and_lambda_ones_need_the_runtime_api() {
        let config = config(&[
            ("AWS_LAMBDA_RUNTIME_API", "localhost:9001"),
            ("AWS_LAMBDA_MAX_CONCURRENCY", "4"),
            ("FUNCTION_PATH", "/app/function"),
            ("LAMBDA_TASK_ROOT", "/var/task"),
            ("FUNCTION_HANDLER", "index.handler"),
            ("_HANDLER", "app.main"),
        ])
        .unwrap();
        assert_eq!(config.lambda.unwrap().max_concurrency, 4);
        assert_eq!(
            config.function_path.unwrap().to_str(),
            Some("/app/function")
        );
        assert_eq!(config.function_handler, "index.handler");
        let outside =
            self::config(&[("_HANDLER", "app.main"), ("LAMBDA_TASK_ROOT", "/x")]).unwrap();
        assert_eq!((outside.lambda, outside.function_path), (None, None));
        assert_eq!(outside.function_handler, "handler");
    }

    #[test]
    fn bad_lambda_values_are_reported() {
        let errors = config(&[("AWS_LAMBDA_RUNTIME_API", "ftp://x")]).unwrap_err();
        assert_eq!(errors[0].key, "AWS_LAMBDA_RUNTIME_API");
        let errors = config(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_LAMBDA_MAX_CONCURRENCY", "0"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots"),
        ])
        .unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "AWS_LAMBDA_MAX_CONCURRENCY",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
            ]
        );
    }
}

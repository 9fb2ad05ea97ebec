//! Config::from_env: defaults, every setting's parsing, and the errors listed together.

use super::test_env as env;
use super::*;

#[test]
fn defaults_follow_the_spec() {
    let config = Config::from_env(&env(&[]), None).unwrap();
    assert_eq!(config.port, None);
    assert_eq!(config.function_timeout, Duration::from_secs(30));
    assert_eq!(config.init_timeout, Duration::from_secs(30));
    assert_eq!(config.install_timeout, Duration::from_secs(600));
    assert_eq!(config.shutdown_timeout, Duration::from_secs(8));
    assert_eq!(config.max_body_size, 6 * 1024 * 1024);
    assert_eq!(config.trigger, Trigger::Http);
    assert_eq!(config.function_handler, "handler");
    assert_eq!(config.function_version, "$LATEST");
    assert_eq!(config.log.level, tracing::Level::INFO);
    assert_eq!(config.kill_grace(), Duration::from_secs(2));
    assert_eq!(config.cache_dir, PathBuf::from("/tmp/fnshim"));
}

#[test]
fn values_are_typed() {
    let config = Config::from_env(
        &env(&[
            ("PORT", "9000"),
            ("FUNCTION_TIMEOUT", "500ms"),
            ("TRIGGER_TYPE", "Event"),
            ("FUNCTION_RUNTIME", "python"),
            ("MAX_BODY_SIZE", "1KB"),
            ("DART_AOT", "true"),
            ("LOG_FORMAT", "text"),
            ("MEMORY_SIZE", "512MB"),
            ("SHUTDOWN_TIMEOUT", "2s"),
        ]),
        None,
    )
    .unwrap();
    assert_eq!(config.port, Some(9000));
    assert_eq!(config.function_timeout, Duration::from_millis(500));
    assert_eq!(config.trigger, Trigger::Event);
    assert_eq!(config.function_runtime, Some(Runtime::Python));
    assert_eq!(config.max_body_size, 1024);
    assert!(config.dart_aot);
    assert_eq!(config.log.format, Some(LogFormat::Text));
    assert_eq!(config.memory_size, Some(512));
    assert_eq!(config.kill_grace(), Duration::from_secs(1));
}

#[test]
fn every_bad_key_is_reported_together() {
    let errors = Config::from_env(
        &env(&[
            ("PORT", "70000"),
            ("FUNCTION_TIMEOUT", "abc"),
            ("LOG_LEVEL", "loud"),
            ("FUNCTION_CONCURRENCY", "0"),
            ("TRIGGER_TYPE", "schedule"),
        ]),
        None,
    )
    .unwrap_err();
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "PORT",
            "LOG_LEVEL",
            "FUNCTION_TIMEOUT",
            "FUNCTION_CONCURRENCY",
            "SCHEDULE"
        ]
    );
    assert_eq!(errors[0].value, "70000");
    assert!(errors[0].to_string().starts_with("PORT=\"70000\": "));
}

#[test]
fn empty_values_count_as_unset() {
    let config = Config::from_env(&env(&[("PORT", ""), ("PUB_MIRROR", " ")]), None).unwrap();
    assert_eq!(config.port, None);
    assert_eq!(config.pub_mirror, None);
}

#[test]
fn lenient_log_settings_ignore_bad_values() {
    let settings = log_settings(&env(&[("LOG_LEVEL", "loud"), ("LOG_FORMAT", "json")]));
    assert_eq!(settings.level, tracing::Level::INFO);
    assert_eq!(settings.format, Some(LogFormat::Json));
}

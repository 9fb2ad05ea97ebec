//! RUNTIME_CONFIG: the same settings as the environment, in a YAML file under lower-case keys
//! (`function_timeout: 10s`), as the runtime image's `/app/runtime/config.yaml`. The
//! environment wins over the file; an unknown key or a malformed file is a configuration error
//! with the key, or the line and column.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

use super::{ConfigError, Env};

/// Where the runtime images put the file; read when it exists and RUNTIME_CONFIG is unset.
pub const DEFAULT_PATH: &str = "/app/runtime/config.yaml";

/// Whether a file may hold the setting `name` (upper case): the table's settings that are
/// not for the environment alone.
fn known(name: &str) -> bool {
    super::settings::get(name).is_some_and(|setting| setting.in_file())
}

/// The environment, with the file's settings under it.
pub struct Layered<'a> {
    env: &'a dyn Env,
    file: HashMap<String, String>,
}

impl Env for Layered<'_> {
    fn get(&self, key: &str) -> Option<String> {
        self.env
            .get(key)
            .filter(|v| !v.trim().is_empty())
            .or_else(|| self.file.get(key).cloned())
    }
}

/// Reads RUNTIME_CONFIG (or the default file, if present) under `env`. Errors are returned
/// with the environment alone, so that they can still be reported.
pub fn layered(env: &dyn Env) -> (Layered<'_>, Vec<ConfigError>) {
    let (path, explicit) = match env.get("RUNTIME_CONFIG").filter(|v| !v.trim().is_empty()) {
        Some(path) => (PathBuf::from(path), true),
        None => (PathBuf::from(DEFAULT_PATH), false),
    };
    let settings = match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text, &path),
        Err(_) if !explicit => Ok(HashMap::new()),
        Err(error) => Err(vec![bad(&path, format!("cannot be read: {error}"))]),
    };
    match settings {
        Ok(file) => (Layered { env, file }, Vec::new()),
        Err(errors) => (
            Layered {
                env,
                file: HashMap::new(),
            },
            errors,
        ),
    }
}

fn bad(path: &Path, reason: String) -> ConfigError {
    ConfigError {
        key: "RUNTIME_CONFIG".into(),
        value: path.display().to_string(),
        reason,
    }
}

/// The file's settings by variable name; every problem in it, not just the first.
pub fn parse(text: &str, path: &Path) -> Result<HashMap<String, String>, Vec<ConfigError>> {
    let documents = load_yaml(text).map_err(|why| vec![bad(path, why)])?;
    let map = match documents.into_iter().next() {
        None | Some(Yaml::Null) => return Ok(HashMap::new()),
        Some(Yaml::Hash(map)) => map,
        Some(_) => {
            return Err(vec![bad(
                path,
                "must be a mapping of settings (`function_timeout: 10s`)".into(),
            )])
        }
    };
    let mut settings = HashMap::new();
    let mut errors = Vec::new();
    for (key, value) in map {
        let Some(key) = key.as_str().map(str::to_owned) else {
            errors.push(bad(path, format!("{key:?} is not a setting name")));
            continue;
        };
        let name = key.to_ascii_uppercase();
        if !known(&name) {
            errors.push(bad(
                path,
                format!("unknown key {key:?} (keys are the variables of SPEC §2 in lower case)"),
            ));
            continue;
        }
        match scalar(&value) {
            Some(Some(text)) => {
                settings.insert(name, text);
            }
            Some(None) => {}
            None => errors.push(bad(
                path,
                format!("{key}: must be a single value, not a list or a mapping"),
            )),
        }
    }
    match errors.is_empty() {
        true => Ok(settings),
        false => Err(errors),
    }
}

/// A scalar as text; `Some(None)` for null (unset); `None` for lists and mappings.
fn scalar(value: &Yaml) -> Option<Option<String>> {
    match value {
        Yaml::Null => Some(None),
        other => scalar_text(other).map(Some),
    }
}

/// A YAML scalar (string, number, boolean) as the text an environment variable would hold.
pub(crate) fn scalar_text(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Parses YAML; a syntax error says its line and column.
pub(crate) fn load_yaml(text: &str) -> Result<Vec<Yaml>, String> {
    YamlLoader::load_from_str(text).map_err(|error| {
        let at = error.marker();
        format!(
            "line {}, column {}: {}",
            at.line(),
            at.col() + 1,
            error.info()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<HashMap<String, String>, Vec<ConfigError>> {
        parse(text, Path::new("/app/runtime/config.yaml"))
    }

    #[test]
    fn lower_case_keys_become_settings() {
        let settings = parsed("function_timeout: 10s\nport: 9000\ndart_aot: true\nschedule: '@every 1m'\npub_mirror: ~\n").unwrap();
        assert_eq!(settings["FUNCTION_TIMEOUT"], "10s");
        assert_eq!(settings["PORT"], "9000");
        assert_eq!(settings["DART_AOT"], "true");
        assert_eq!(settings["SCHEDULE"], "@every 1m");
        assert!(!settings.contains_key("PUB_MIRROR"));
        assert!(parsed("").unwrap().is_empty());
    }

    #[test]
    fn problems_name_the_key_or_the_place() {
        let errors =
            parsed("function_timeout: 10s\nfunction_timout: 5s\nport: [1, 2]\n").unwrap_err();
        assert_eq!(errors.len(), 2);
        assert!(
            errors[0].reason.contains("unknown key \"function_timout\""),
            "{}",
            errors[0]
        );
        assert!(
            errors[1].reason.contains("port: must be a single value"),
            "{}",
            errors[1]
        );
        let malformed = parsed("port: 9000\n  bad: [\n").unwrap_err();
        assert!(
            malformed[0].reason.starts_with("line 2, column"),
            "{}",
            malformed[0]
        );
        assert_eq!(malformed[0].key, "RUNTIME_CONFIG");
        assert!(parsed("- a\n- b\n").unwrap_err()[0]
            .reason
            .contains("mapping"));
    }

    #[test]
    fn keys_are_the_settings_a_file_may_hold() {
        let files = super::super::SETTINGS.iter().filter(|s| s.in_file());
        // Not a count, which every new setting would change: the known ones must be there.
        for name in [
            "PORT",
            "FUNCTION_TIMEOUT",
            "MAX_BODY_SIZE",
            "KEEPALIVE_TIMEOUT",
        ] {
            assert!(files.clone().any(|s| s.name == name), "{name}");
        }
        for setting in files {
            let key = setting.name.to_ascii_lowercase();
            assert!(parsed(&format!("{key}: x\n")).is_ok(), "{key}");
        }
        for key in ["tz", "runtime_config", "path", "tmpdir"] {
            let errors = parsed(&format!("{key}: x\n")).unwrap_err();
            assert!(errors[0].reason.contains("unknown key"), "{}", errors[0]);
        }
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.yaml");
        std::fs::write(&file, "function_timeout: 10s\nport: 9000\n").unwrap();
        let env: HashMap<String, String> =
            [("RUNTIME_CONFIG", file.to_str().unwrap()), ("PORT", "7000")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let (layered, errors) = layered(&env);
        assert!(errors.is_empty());
        assert_eq!(layered.get("PORT").as_deref(), Some("7000"));
        assert_eq!(layered.get("FUNCTION_TIMEOUT").as_deref(), Some("10s"));
        let missing: HashMap<String, String> = [(
            "RUNTIME_CONFIG".to_string(),
            "/nonexistent.yaml".to_string(),
        )]
        .into();
        assert_eq!(super::layered(&missing).1[0].key, "RUNTIME_CONFIG");
    }
}

//! An Azure Functions layout: each `<Name>/function.json` under the function folder is a
//! function of the app (its bindings say which output carries an HTTP answer). When the
//! folders hold their own code, each is a function with its own workers, as an f.yml's are:
//! the handler file is `function.json`'s `scriptFile` (relative to its folder), else
//! FUNCTION_HANDLER's file in the folder (`app.main` → `<Name>/app.py`), else the folder's
//! entry file (`index.js`, `main.py`, … as for FUNCTION_PATH); the export is `entryPoint`,
//! else FUNCTION_HANDLER's export (`handler`).

use std::path::Path;

use serde_json::Value;

use super::detect::{handler_file, split_handler};
use super::languages;
use crate::config::fyml::{FunctionDef, Route};
use crate::config::Config;
use crate::exit::StartError;

/// Every `<Name>/function.json` of `folder`, by name (sorted), as JSON; none without a layout.
pub fn azure_layout(folder: &Path) -> Result<Vec<(String, Value)>, StartError> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let file = entry.path().join("function.json");
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let json = serde_json::from_str(&text).map_err(|error| {
            StartError::Load(format!("{} is not valid JSON: {error}", file.display()))
        })?;
        found.push((entry.file_name().to_string_lossy().into_owned(), json));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// The layout's functions with their own code, as f.yml functions; `None` when no folder has
/// a handler file (one handler serves them all). Some with code and some without is an error.
pub(super) fn functions(
    config: &Config,
    folder: &Path,
) -> Result<Option<Vec<FunctionDef>>, StartError> {
    let layout = azure_layout(folder)?;
    let prefix = route_prefix(folder);
    let (with, without): (Vec<_>, Vec<_>) = layout
        .iter()
        .map(|(name, json)| (name, json, code_of(config, folder, name, json)))
        .partition(|(_, _, file)| file.is_some());
    if with.is_empty() {
        return Ok(None);
    }
    if !without.is_empty() {
        let names: Vec<&str> = without.iter().map(|(n, _, _)| n.as_str()).collect();
        return Err(StartError::Load(format!(
            "the Azure layout in {}: {} has its own code but {} has no handler file (function.json's scriptFile, or {}/{{{}}}): give every function its code, or none (one handler at the top serves them all)",
            folder.display(),
            with[0].0,
            names.join(", "),
            names[0],
            languages::entry_candidates().collect::<Vec<_>>().join(","),
        )));
    }
    let export = split_handler(&config.function_handler).1;
    let defs = with.into_iter().map(|(name, json, file)| FunctionDef {
        name: name.clone(),
        file: file.unwrap_or_default(),
        export: json["entryPoint"].as_str().unwrap_or(export).to_owned(),
        timeout: None,
        init_timeout: None,
        memory_mb: None,
        concurrency: None,
        initializer: None,
        environment: Vec::new(),
        routes: routes(name, json, &prefix),
        timers: Vec::new(),
    });
    Ok(Some(defs.collect()))
}

/// The function's handler file, relative to the app's folder: `scriptFile` as it is written
/// (a missing one is reported when the function is made), else the first file that exists.
fn code_of(config: &Config, folder: &Path, name: &str, json: &Value) -> Option<String> {
    if let Some(script) = json["scriptFile"].as_str() {
        return Some(format!("{name}/{script}"));
    }
    let named = split_handler(&config.function_handler).0;
    let candidates: Vec<String> = match named {
        Some(file) => vec![format!("{name}/{file}")],
        None => languages::entry_candidates()
            .map(|entry| format!("{name}/{entry}"))
            .collect(),
    };
    candidates
        .into_iter()
        .find(|file| handler_file(config, folder, file).is_some())
}

/// `host.json`'s `extensions.http.routePrefix` (`api` when unset).
fn route_prefix(folder: &Path) -> String {
    let host = std::fs::read_to_string(folder.join("host.json")).ok();
    let host: Value = host
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null);
    let prefix = host["extensions"]["http"]["routePrefix"].as_str();
    prefix.unwrap_or("api").trim_matches('/').to_owned()
}

/// An HTTP trigger's route, for requests the host forwards as they are
/// (`enableForwardingHttpRequest`): `/{prefix}/{route or Name}` with its `methods`; Azure's
/// `{id}` (`{id:int}`, `{id?}`) is a parameter, `{*rest}` the rest of the path.
fn routes(name: &str, json: &Value, prefix: &str) -> Vec<Route> {
    let bindings = json["bindings"].as_array().into_iter().flatten();
    bindings
        .filter(|b| b["type"] == "httpTrigger")
        .map(|b| {
            let route = b["route"].as_str().unwrap_or(name);
            let segments = route.split('/').filter(|s| !s.is_empty()).map(segment);
            let path: Vec<String> = [prefix.to_owned()]
                .into_iter()
                .filter(|p| !p.is_empty())
                .chain(segments)
                .collect();
            let methods = b["methods"].as_array().map(|methods| {
                let upper = methods.iter().filter_map(Value::as_str);
                upper.map(str::to_ascii_uppercase).collect()
            });
            Route {
                path: format!("/{}", path.join("/")),
                methods,
            }
        })
        .collect()
}

fn segment(part: &str) -> String {
    let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) else {
        return part.to_owned();
    };
    if inner.starts_with('*') {
        return "*".into();
    }
    let name = inner
        .split(':')
        .next()
        .unwrap_or(inner)
        .trim_end_matches('?');
    format!(":{name}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::from_env(&crate::config::test_env(pairs), None).unwrap()
    }

    #[test]
    fn each_folder_names_its_file_and_export_in_the_documented_order() {
        let dir = app(&[
            (
                "A/function.json",
                r#"{"scriptFile": "../shared.js", "entryPoint": "a"}"#,
            ),
            ("B/function.json", "{}"),
            ("B/index.js", ""),
            ("B/app.py", ""),
            ("C/function.json", "{}"),
            ("C/app.py", ""),
            ("C/main.py", ""),
            ("shared.js", ""),
        ]);
        let found = |pairs: &[(&str, &str)]| {
            let defs = functions(&config(pairs), dir.path()).unwrap().unwrap();
            defs.into_iter()
                .map(|d| (d.name, d.file, d.export))
                .collect::<Vec<_>>()
        };
        let shown = |v: &[(&str, &str, &str)]| {
            v.iter()
                .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            found(&[]),
            shown(&[
                ("A", "A/../shared.js", "a"),
                ("B", "B/index.js", "handler"),
                ("C", "C/main.py", "handler")
            ])
        );
        assert_eq!(
            found(&[("FUNCTION_HANDLER", "app.main")]),
            shown(&[
                ("A", "A/../shared.js", "a"),
                ("B", "B/app", "main"),
                ("C", "C/app", "main")
            ])
        );
        let bare = app(&[("A/function.json", "{}"), ("B/function.json", "{}")]);
        assert_eq!(functions(&config(&[]), bare.path()).unwrap(), None);
    }

    #[test]
    fn http_triggers_route_under_the_prefix_with_azure_parameters() {
        let binding = |route: Value| {
            json!({"bindings": [{"type": "httpTrigger", "direction": "in", "name": "req",
                                 "methods": ["get", "post"], "route": route},
                                {"type": "http", "direction": "out", "name": "res"}]})
        };
        let plain = routes("Hello", &binding(Value::Null), "api");
        assert_eq!(plain[0].path, "/api/Hello");
        assert_eq!(plain[0].methods, Some(vec!["GET".into(), "POST".into()]));
        let routed = routes("Users", &binding(json!("users/{id:int}/{*rest}")), "");
        assert_eq!(routed[0].path, "/users/:id/*");
        let timer = json!({"bindings": [{"type": "timerTrigger", "name": "t"}]});
        assert!(routes("Tick", &timer, "api").is_empty());
    }
}

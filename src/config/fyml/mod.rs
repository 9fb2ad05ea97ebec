//! `f.yml` (seed 004), pure: the functions of a service with their handler (`file.export`),
//! limits, environment (provider merged under function), HTTP routes and timers; and the
//! router that picks a function for a request path. Cloud-only keys are collected for one
//! warning; a malformed file is an error with its line and column.

use std::time::Duration;

use yaml_rust2::{yaml::Hash, Yaml};

use super::file::{load_yaml, scalar_text};
use super::parse;
use crate::config::cron::Schedule;

mod router;
pub use router::{Matched, Router};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub service: Option<String>,
    pub functions: Vec<FunctionDef>,
    /// Keys that only mean something to a cloud platform (role, vpcConfig, layers, …).
    pub cloud_only: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionDef {
    pub name: String,
    /// `entry.handler`: the entry file's stem and the export.
    pub file: String,
    pub export: String,
    pub timeout: Option<Duration>,
    pub init_timeout: Option<Duration>,
    pub memory_mb: Option<u64>,
    pub concurrency: Option<usize>,
    /// `initializer`: the export (of `file.export`) each worker runs once before invocations.
    pub initializer: Option<String>,
    pub environment: Vec<(String, String)>,
    pub routes: Vec<Route>,
    pub timers: Vec<Timer>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub path: String,
    /// `None`: every method.
    pub methods: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    pub name: String,
    pub schedule: Schedule,
    pub payload: String,
    pub enable: bool,
}

const CLOUD_ONLY: [&str; 22] = [
    "role",
    "region",
    "stage",
    "credentials",
    "vpcConfig",
    "internetAccess",
    "policies",
    "logConfig",
    "nasConfig",
    "serviceId",
    "description",
    "layers",
    "package",
    "plugins",
    "custom",
    "aggregation",
    "cors",
    "integratedResponse",
    "version",
    "vesion",
    "name",
    "runtime",
];

pub fn parse(text: &str) -> Result<Descriptor, String> {
    let documents = load_yaml(text)?;
    let root = documents.into_iter().next().unwrap_or(Yaml::Null);
    let root = root
        .as_hash()
        .ok_or("f.yml must be a mapping with `functions`")?;
    let mut cloud_only = Vec::new();
    let provider = root.get(&key("provider")).and_then(Yaml::as_hash);
    for (k, _) in provider.into_iter().flatten() {
        let k = k.as_str().unwrap_or_default();
        if !matches!(
            k,
            "environment" | "timeout" | "initTimeout" | "memorySize" | "concurrency"
        ) {
            cloud_only.push(format!("provider.{k}"));
        }
    }
    for top in ["layers", "package", "plugins", "custom", "aggregation"] {
        if root.contains_key(&key(top)) {
            cloud_only.push(top.to_owned());
        }
    }
    let functions = root
        .get(&key("functions"))
        .and_then(Yaml::as_hash)
        .ok_or("f.yml has no `functions` mapping")?;
    let mut defs = Vec::new();
    for (name, body) in functions {
        let name = name
            .as_str()
            .ok_or("a function name must be a string")?
            .to_owned();
        let body = body
            .as_hash()
            .ok_or(format!("functions.{name} must be a mapping"))?;
        defs.push(function(&name, body, provider, &mut cloud_only)?);
    }
    let service = match root.get(&key("service")) {
        Some(Yaml::String(s)) => Some(s.clone()),
        Some(Yaml::Hash(h)) => h
            .get(&key("name"))
            .and_then(Yaml::as_str)
            .map(str::to_owned),
        _ => None,
    };
    Ok(Descriptor {
        service,
        functions: defs,
        cloud_only,
    })
}

fn key(name: &str) -> Yaml {
    Yaml::String(name.to_owned())
}

fn function(
    name: &str,
    body: &Hash,
    provider: Option<&Hash>,
    cloud_only: &mut Vec<String>,
) -> Result<FunctionDef, String> {
    let at = |field: &str| format!("functions.{name}.{field}");
    let own = |field: &str| body.get(&key(field)).or_else(|| provider?.get(&key(field)));
    let handler = body
        .get(&key("handler"))
        .and_then(Yaml::as_str)
        .ok_or(format!("{} is required (`file.export`)", at("handler")))?;
    let (file, export) = handler.rsplit_once('.').ok_or(format!(
        "{} {handler:?} must be `file.export`",
        at("handler")
    ))?;
    let value = |field: &str, what: &'static str| Field {
        value: own(field),
        at: at(field),
        what,
    };
    let timeout = value("timeout", "a duration").parse(parse::duration)?;
    let init_timeout = value("initTimeout", "a duration").parse(parse::duration)?;
    let memory_mb = value("memorySize", "a size").parse(memory)?;
    let concurrency = value("concurrency", "a number").parse(parse::positive)?;
    let export_of = |t: &str| Ok(t.rsplit('.').next().unwrap_or_default().to_owned());
    let initializer = value("initializer", "a name").parse(export_of)?;
    let environment = environment(&at("environment"), provider, body)?;
    for (k, _) in body {
        let k = k.as_str().unwrap_or_default();
        if CLOUD_ONLY.contains(&k) {
            cloud_only.push(at(k));
        }
    }
    let (routes, timers) = events(name, body.get(&key("events")), cloud_only)?;
    Ok(FunctionDef {
        name: name.to_owned(),
        file: file.to_owned(),
        export: export.to_owned(),
        timeout,
        init_timeout,
        memory_mb,
        concurrency,
        initializer,
        environment,
        routes,
        timers,
    })
}

/// An optional scalar of a function (or the provider's default), where it is, what it must be.
struct Field<'a> {
    value: Option<&'a Yaml>,
    at: String,
    what: &'static str,
}

impl Field<'_> {
    fn parse<T>(self, parse: impl Fn(&str) -> Result<T, String>) -> Result<Option<T>, String> {
        let Some(value) = self.value else {
            return Ok(None);
        };
        let text = scalar_text(value).ok_or(format!("{} must be {}", self.at, self.what))?;
        parse(&text)
            .map(Some)
            .map_err(|e| format!("{}: {e}", self.at))
    }
}

/// The provider's environment with the function's own merged over it, in order.
fn environment(
    at: &str,
    provider: Option<&Hash>,
    body: &Hash,
) -> Result<Vec<(String, String)>, String> {
    let mut environment: Vec<(String, String)> = Vec::new();
    let sources = [
        provider.and_then(|p| p.get(&key("environment"))),
        body.get(&key("environment")),
    ];
    for source in sources.into_iter().flatten() {
        for (k, v) in source.as_hash().ok_or(format!("{at} must be a mapping"))? {
            let (k, v) = (
                k.as_str().unwrap_or_default().to_owned(),
                scalar_text(v).unwrap_or_default(),
            );
            environment.retain(|(existing, _)| *existing != k);
            environment.push((k, v));
        }
    }
    Ok(environment)
}

/// f.yml sizes are megabytes as a bare number (`memorySize: 512`), or with a unit.
fn memory(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(mb) if mb > 0 => Ok(mb),
        _ => parse::size(text).map(|bytes| bytes.div_ceil(1 << 20)),
    }
}

fn events(
    name: &str,
    events: Option<&Yaml>,
    cloud_only: &mut Vec<String>,
) -> Result<(Vec<Route>, Vec<Timer>), String> {
    let (mut routes, mut timers) = (Vec::new(), Vec::new());
    let Some(events) = events else {
        return Ok((routes, timers));
    };
    let list = events
        .as_vec()
        .ok_or(format!("functions.{name}.events must be a list"))?;
    for (index, event) in list.iter().enumerate() {
        let at = format!("functions.{name}.events[{index}]");
        let Some((kind, spec)) = event.as_hash().and_then(|h| h.iter().next()) else {
            return Err(format!(
                "{at} must be a mapping like `http: {{ path: /foo }}`"
            ));
        };
        match kind.as_str().unwrap_or_default() {
            "http" | "apigw" => {
                routes.push(route(&at, spec)?);
                for (k, _) in spec.as_hash().into_iter().flatten() {
                    let k = k.as_str().unwrap_or_default();
                    if !matches!(k, "path" | "method" | "name") {
                        cloud_only.push(format!("{at}.http.{k}"));
                    }
                }
            }
            "timer" => timers.push(timer(name, &at, spec)?),
            other => cloud_only.push(format!("{at}.{other}")),
        }
    }
    Ok((routes, timers))
}

fn route(at: &str, spec: &Yaml) -> Result<Route, String> {
    let path = spec["path"].as_str().unwrap_or("/*");
    if !path.starts_with('/') {
        return Err(format!("{at}.path {path:?} must start with /"));
    }
    let methods = match &spec["method"] {
        Yaml::BadValue | Yaml::Null => None,
        Yaml::String(s) if s.eq_ignore_ascii_case("all") || s == "*" => None,
        Yaml::String(s) => Some(
            s.split(',')
                .map(|m| m.trim().to_ascii_uppercase())
                .collect(),
        ),
        Yaml::Array(list) => Some(
            list.iter()
                .filter_map(Yaml::as_str)
                .map(str::to_ascii_uppercase)
                .collect(),
        ),
        _ => {
            return Err(format!(
                "{at}.method must be a list, a comma-separated string or `all`"
            ))
        }
    };
    Ok(Route {
        path: path.to_owned(),
        methods,
    })
}

fn timer(name: &str, at: &str, spec: &Yaml) -> Result<Timer, String> {
    let value = spec["value"]
        .as_str()
        .ok_or(format!("{at}.value is required"))?;
    let expression = match spec["type"].as_str().unwrap_or("cron") {
        "cron" => value.to_owned(),
        "every" | "interval" => format!("@every {value}"),
        other => return Err(format!("{at}.type {other:?} must be cron or every")),
    };
    let schedule = Schedule::parse(&expression).map_err(|e| format!("{at}.value: {e}"))?;
    Ok(Timer {
        name: spec["name"]
            .as_str()
            .map_or_else(|| format!("{name}-timer"), str::to_owned),
        schedule,
        payload: spec["payload"].as_str().unwrap_or_default().to_owned(),
        enable: spec["enable"].as_bool().unwrap_or(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) const SEED: &str = "service: serverless-hello-world
provider:
  name: aliyun
  runtime: nodejs10
  role: acs:ram::1:role/x
  timeout: 10
  environment:
    STAGE: prod
    SHARED: provider
functions:
  hello1:
    handler: entry.handler
    timeout: 3s
    memorySize: 256
    environment:
      SHARED: function
    events:
      - http:
          path: /foo
          method:
            - GET
            - POST
  users:
    handler: users.get
    events:
      - http:
          path: /users/:id
          method: get, put
          cors: true
      - timer:
          type: interval
          value: 30s
          payload: ping
  rest:
    handler: index.handler
    concurrency: 4
    events:
      - http:
          path: /*
          method: all
layers:
  test:
    path: npm:@midwayjs/egg-layer@latest
";

    #[test]
    fn the_seed_descriptor_parses() {
        let d = parse(SEED).unwrap();
        assert_eq!(d.service.as_deref(), Some("serverless-hello-world"));
        let hello = &d.functions[0];
        assert_eq!(
            (hello.file.as_str(), hello.export.as_str()),
            ("entry", "handler")
        );
        assert_eq!(hello.timeout, Some(Duration::from_secs(3)));
        assert_eq!(hello.memory_mb, Some(256));
        assert_eq!(
            hello.environment,
            [
                ("STAGE".into(), "prod".into()),
                ("SHARED".into(), "function".into())
            ]
        );
        assert_eq!(
            hello.routes[0].methods,
            Some(vec!["GET".into(), "POST".into()])
        );
        let users = &d.functions[1];
        assert_eq!(
            users.timeout,
            Some(Duration::from_secs(10)),
            "provider timeout applies"
        );
        assert_eq!(
            users.routes[0].methods,
            Some(vec!["GET".into(), "PUT".into()])
        );
        assert_eq!(
            users.timers[0].schedule,
            Schedule::Every(Duration::from_secs(30))
        );
        assert_eq!(users.timers[0].payload, "ping");
        assert_eq!(d.functions[2].concurrency, Some(4));
        assert_eq!(d.functions[2].routes[0].methods, None);
        assert!(
            d.cloud_only.contains(&"provider.role".to_string()),
            "{:?}",
            d.cloud_only
        );
        assert!(d.cloud_only.contains(&"layers".to_string()));
        assert!(
            d.cloud_only
                .contains(&"functions.users.events[0].http.cors".to_string()),
            "{:?}",
            d.cloud_only
        );
    }

    #[test]
    fn bad_files_say_where() {
        assert!(parse("functions:\n  a:\n    handler: x.y\n   bad: [\n")
            .unwrap_err()
            .starts_with("line "));
        assert!(parse("functions:\n  a:\n    events: []\n")
            .unwrap_err()
            .contains("functions.a.handler is required"));
        assert!(parse("functions:\n  a:\n    handler: nodot\n")
            .unwrap_err()
            .contains("file.export"));
        assert!(
            parse("functions:\n  a:\n    handler: a.b\n    timeout: soon\n")
                .unwrap_err()
                .contains("functions.a.timeout")
        );
        let bad_timer = "functions:\n  a:\n    handler: a.b\n    events:\n      - timer:\n          value: '61 * * * *'\n";
        assert!(parse(bad_timer).unwrap_err().contains("events[0].value"));
        assert!(parse("- 1\n").is_err());
    }
}

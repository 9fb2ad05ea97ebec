//! Local jobs without a platform: `fnshim check` (start the function, report the resolved
//! configuration, stop) and `fnshim invoke` (start it, send one request, print the answer,
//! stop). Both run the normal pipeline on a loopback port and stop it like a SIGTERM would.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::exit;
use crate::server::App;
use crate::supervisor::control::ControlSender;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};

/// What a local run does once the function is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    Check,
    Invoke {
        method: String,
        path: String,
        body: Vec<u8>,
    },
}

/// Where the job's outcome goes: its exit code, and the stop it sends when done.
pub struct Finish {
    pub code: Arc<AtomicI32>,
    pub stop: ControlSender,
}

/// Waits until the function is ready, does the job, then stops fnshim.
pub async fn run(
    job: Job,
    app: Arc<App>,
    port: u16,
    summary: String,
    limit: Duration,
    finish: Finish,
) {
    let code = match app.readiness.wait_ready(limit).await {
        Err(_) => {
            eprintln!(
                "fnshim: the function did not become ready within {}",
                humantime::format_duration(limit)
            );
            1
        }
        Ok(_) => match job {
            Job::Check => {
                let protocol = app.backend.protocol().map(|p| match p.as_str() {
                    "lambda" => "\nprotocol: lambda (a Runtime API client: it called /next)",
                    _ => "\nprotocol: http (an HTTP server on its PORT)",
                });
                let protocol = protocol.unwrap_or_default();
                println!("{summary}{protocol}\nok: the function loaded and is ready");
                0
            }
            Job::Invoke { method, path, body } => invoke(port, &method, &path, body).await,
        },
    };
    finish.code.store(code, Ordering::Release);
    finish.stop.stop();
}

/// Sends one request to the local server and prints the response body on stdout (the status
/// on stderr); exit 0 for a status below 400.
async fn invoke(port: u16, method: &str, path: &str, body: Vec<u8>) -> i32 {
    let client = crate::kept::Kept::new(&format!("127.0.0.1:{port}"), Duration::from_secs(5));
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::CONTENT_TYPE, content_type(&body))
        .body(Full::new(Bytes::from(body)));
    let request = match request {
        Ok(request) => request,
        Err(error) => {
            eprintln!("fnshim: invalid request {method} {path}: {error}");
            return exit::USAGE;
        }
    };
    let response = match client.send(request).await {
        Ok((response, _)) => response,
        Err(error) => {
            eprintln!("fnshim: the invocation failed: {error}");
            return exit::FAILED;
        }
    };
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    eprintln!("fnshim: {status}");
    println!("{}", String::from_utf8_lossy(&body));
    match status.as_u16() >= 400 {
        true => exit::FAILED,
        false => exit::OK,
    }
}

fn content_type(body: &[u8]) -> &'static str {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(_) => "application/json",
        Err(_) => "text/plain",
    }
}

/// When a schedule fires next, in UTC, with the zone its fields are read in.
/// One handler function of the service: its routes, timers, limits and worker command.
fn describe_function(
    config: &crate::config::Config,
    service: &crate::runtime::Service,
    index: usize,
) -> String {
    let t = &service.functions[index];
    let routes = match &service.router {
        Some(router) => router.describe(index),
        None => "every path".into(),
    };
    let timers: Vec<String> = service
        .timers
        .iter()
        .filter(|(function, _)| *function == index)
        .map(|(_, timer)| {
            format!(
                "{} (next {})",
                timer.name,
                next_firing(config, &timer.schedule)
            )
        })
        .collect();
    format!(
        "{}mode: handler\nfunction: {}\nruntime: {:?}\nentry: {}\nhandler: {}\nroutes: {routes}\ntimers: {}\nworkers: {}\nconcurrency per worker: {}\ntimeout: {}\ninit timeout: {}\nenvironment: {}\nworker command: {}",
        if index > 0 { "\n" } else { "" },
        t.name,
        t.runtime,
        t.entry.display(),
        t.handler,
        if timers.is_empty() { "none".into() } else { timers.join(", ") },
        t.workers,
        t.concurrency,
        humantime::format_duration(t.timeout),
        humantime::format_duration(t.init_timeout),
        t.env.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(" "),
        t.argv.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
    )
}

fn next_firing(config: &crate::config::Config, schedule: &crate::config::cron::Schedule) -> String {
    let tz = config.tz.as_deref().unwrap_or("UTC");
    let Ok(zone) = crate::trigger::schedule::zone(tz) else {
        return format!("unknown (TZ={tz} cannot be read)");
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    match schedule.next_in_zone(now, now, &*zone) {
        Some(next) => format!(
            "{} (fields read in {tz})",
            crate::config::cron::iso8601(next)
        ),
        None => "never".into(),
    }
}

/// The resolved configuration, as `fnshim check` prints it.
pub fn describe(config: &crate::config::Config, launch: &crate::runtime::Launch) -> String {
    use crate::runtime::Launch;
    let what = match launch {
        Launch::Handlers(service) => (0..service.functions.len())
            .map(|index| describe_function(config, service, index))
            .collect::<Vec<_>>()
            .join("\n"),
        Launch::Proxy(t) => format!(
            "mode: {}\ncommand: {}",
            if t.command_mode {
                "command with PORT (proxied)"
            } else {
                "custom bootstrap (proxied)"
            },
            t.argv
                .iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Launch::Init { argv } => format!("mode: plain init\ncommand: {argv:?}"),
    };
    let duration = |d: Duration| humantime::format_duration(d).to_string();
    let schedule = match (&config.schedule, config.trigger) {
        (Some(schedule), crate::config::Trigger::Schedule) => {
            format!("\nschedule: next firing {}", next_firing(config, schedule))
        }
        _ => String::new(),
    };
    format!(
        "platform: {}\n{what}{schedule}\ntrigger: {:?}\nfunction timeout: {}\ninit timeout: {}\ninstall timeout: {}\nshutdown timeout: {}\nmax body size: {} bytes\nhttp event format: {:?}\ninstall deps: {:?}\ncache dir: {}",
        config.platform.describe(),
        config.trigger,
        duration(config.function_timeout),
        duration(config.init_timeout),
        duration(config.install_timeout),
        duration(config.shutdown_timeout),
        config.max_body_size,
        config.http_event_format,
        config.install_deps,
        config.cache_dir.display()
    )
}

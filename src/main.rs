//! The fnshim binary: block signals first, then command line, logging, configuration, run.

use fnshim::config::{self, ProcessEnv};
use fnshim::supervisor::{self, control::Controls};
use fnshim::{cli, exit, local, logging, plan};

mod health;

fn main() {
    supervisor::signals::block();
    let (command, job) = match cli::parse(std::env::args_os().skip(1)) {
        Ok(cli::Action::Run { command }) => (command, None),
        Ok(cli::Action::Check) => (None, Some(local::Job::Check)),
        Ok(cli::Action::Invoke { event, http }) => match invoke_job(event, http) {
            Ok(job) => (None, Some(job)),
            Err(error) => {
                eprintln!("fnshim: {error}");
                std::process::exit(exit::USAGE);
            }
        },
        Ok(cli::Action::Health { live }) => {
            let (env, _) = config::layered(&ProcessEnv);
            std::process::exit(health::run(&env, live));
        }
        Ok(cli::Action::Help) => return print!("{}", cli::HELP),
        Ok(cli::Action::Version) => return println!("fnshim {}", env!("CARGO_PKG_VERSION")),
        Err(error) => {
            eprintln!("fnshim: {error}\n{}", cli::USAGE);
            std::process::exit(exit::USAGE);
        }
    };
    let (env, file_errors) = config::layered(&ProcessEnv);
    logging::init(config::log_settings(&env));
    let code = match plan::make(&env, file_errors, command, job.is_some()) {
        Ok(plan) => fnshim::run_job(plan, job, Controls::from_signals()),
        Err(error) => fnshim::refuse(&env, job.is_some(), &error),
    };
    logging::flush();
    std::process::exit(code);
}

/// The request `fnshim invoke` sends: the event from a file or stdin, as `POST /invoke` or as
/// the given HTTP request.
fn invoke_job(
    event: Option<String>,
    http: Option<(String, String)>,
) -> std::io::Result<local::Job> {
    use std::io::Read;
    let body = match event.as_deref() {
        None => Vec::new(),
        Some("-") => {
            let mut body = Vec::new();
            std::io::stdin().read_to_end(&mut body)?;
            body
        }
        Some(file) => std::fs::read(file)
            .map_err(|e| std::io::Error::new(e.kind(), format!("--event {file}: {e}")))?,
    };
    let (method, path) = http.unwrap_or_else(|| ("POST".into(), "/invoke".into()));
    Ok(local::Job::Invoke { method, path, body })
}

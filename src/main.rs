//! The fnshim binary: block signals first, then command line, logging, configuration, run.

use fnshim::config::{self, Config, ProcessEnv};
use fnshim::{cli, exit, logging, supervisor};

fn main() {
    supervisor::signals::block();
    let command = match cli::parse(std::env::args_os().skip(1)) {
        Ok(cli::Action::Run { command }) => command,
        Ok(cli::Action::Help) => return print!("{}", cli::HELP),
        Ok(cli::Action::Version) => return println!("fnshim {}", env!("CARGO_PKG_VERSION")),
        Err(error) => {
            eprintln!("fnshim: {error}\n{}", cli::USAGE);
            std::process::exit(exit::USAGE);
        }
    };
    let (env, file_errors) = config::layered(&ProcessEnv);
    logging::init(config::log_settings(&env));
    let code = match Config::from_env(&env, command) {
        Ok(config) if file_errors.is_empty() => fnshim::run(config),
        Ok(_) => {
            fnshim::report_config(&file_errors);
            exit::USAGE
        }
        Err(errors) => {
            fnshim::report_config(&[file_errors, errors].concat());
            exit::USAGE
        }
    };
    std::process::exit(code);
}

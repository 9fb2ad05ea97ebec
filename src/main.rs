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
    logging::init(config::log_settings(&ProcessEnv));
    let code = match Config::from_env(&ProcessEnv, command) {
        Ok(config) => fnshim::run(config),
        Err(errors) => {
            fnshim::report_config(&errors);
            exit::USAGE
        }
    };
    std::process::exit(code);
}

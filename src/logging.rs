//! Log output: JSON lines (flat fields) or human text, always on stderr so that a command's own
//! stdout stays clean.

use std::io::IsTerminal;

use crate::config::{LogFormat, LogSettings};

pub fn init(settings: LogSettings) {
    let json = match settings.format {
        Some(format) => format == LogFormat::Json,
        None => !std::io::stdout().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(settings.level)
        .with_writer(std::io::stderr)
        .with_target(false);
    if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

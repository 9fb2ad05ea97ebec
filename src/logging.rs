//! Log output: JSON lines (flat fields) or human text, always on stderr so that a command's own
//! stdout stays clean.
//!
//! The JSON lines are written by [`JsonLines`], not tracing-subscriber's JSON formatter: one
//! line is logged per invocation, and the generic serde path with its timestamp formatting cost
//! about a fifth of the proxy's instructions per request (callgrind, bench/README.md). The
//! shape is the same: `{"timestamp","level","message",<fields>…}`.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::IsTerminal;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

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
        builder.event_format(JsonLines).init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

/// One JSON object per event: timestamp (RFC 3339, microseconds, UTC), level, then the
/// event's fields in the order they were recorded (the message first).
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = String::with_capacity(256);
        line.push_str("{\"timestamp\":\"");
        timestamp(&mut line, SystemTime::now());
        line.push_str("\",\"level\":\"");
        line.push_str(event.metadata().level().as_str());
        line.push('"');
        event.record(&mut Fields(&mut line));
        line.push_str("}\n");
        writer.write_str(&line)
    }
}

struct Fields<'a>(&'a mut String);

impl Fields<'_> {
    fn key(&mut self, field: &Field) {
        self.0.push_str(",\"");
        escape_into(self.0, field.name());
        self.0.push_str("\":");
    }

    fn raw(&mut self, field: &Field, value: impl fmt::Display) {
        self.key(field);
        let _ = write!(self.0, "{value}");
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        self.0.push('"');
        escape_into(self.0, value);
        self.0.push('"');
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.key(field);
        self.0.push('"');
        let _ = write!(Escaping(self.0), "{value:?}");
        self.0.push('"');
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.raw(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.raw(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.raw(field, value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        match value.is_finite() {
            true => self.raw(field, value),
            false => self.record_str(field, &value.to_string()),
        }
    }
}

/// Writes what is formatted into it as the inside of a JSON string.
struct Escaping<'a>(&'a mut String);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape_into(self.0, s);
        Ok(())
    }
}

/// Appends `text` escaped for a JSON string (quotes, backslashes, control characters).
fn escape_into(out: &mut String, text: &str) {
    let mut start = 0;
    for (index, byte) in text.bytes().enumerate() {
        let escaped = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f | 0x7f => "",
            _ => continue,
        };
        out.push_str(&text[start..index]);
        match escaped.is_empty() {
            true => {
                let _ = write!(out, "\\u{byte:04x}");
            }
            false => out.push_str(escaped),
        }
        start = index + 1;
    }
    out.push_str(&text[start..]);
}

thread_local! {
    /// The second last formatted and its `YYYY-MM-DDTHH:MM:SS`: lines come many per second.
    static SECOND: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
}

/// `2026-11-21T08:00:00.123456Z`.
fn timestamp(out: &mut String, now: SystemTime) {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs() as i64;
    SECOND.with_borrow_mut(|(cached, text)| {
        if *cached != seconds {
            let (year, month, day) =
                crate::trigger::cron::civil_from_days(seconds.div_euclid(86_400));
            let of_day = seconds.rem_euclid(86_400);
            text.clear();
            let _ = write!(
                text,
                "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
                of_day / 3600,
                of_day / 60 % 60,
                of_day % 60
            );
            *cached = seconds;
        }
        out.push_str(text);
    });
    let micros = since.subsec_micros();
    out.push('.');
    let mut digits = [b'0'; 6];
    let mut rest = micros;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.push_str(std::str::from_utf8(&digits).unwrap_or("000000"));
    out.push('Z');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_are_json_with_flat_fields_and_escapes() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .event_format(JsonLines)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(
                request_id = "r-1",
                status = 200u16,
                took = -3i64,
                ok = true,
                ratio = 0.5,
                path = "/a\"b\\c\n\u{1}é",
                "invocation {}",
                7
            );
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert!(text.ends_with("}\n") && text.lines().count() == 1, "{text}");
        let line: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "invocation 7");
        assert_eq!(line["request_id"], "r-1");
        assert_eq!(line["status"], 200);
        assert_eq!(line["took"], -3);
        assert_eq!(line["ok"], true);
        assert_eq!(line["ratio"], 0.5);
        assert_eq!(line["path"], "/a\"b\\c\n\u{1}é");
        let stamp = line["timestamp"].as_str().unwrap();
        assert_eq!(stamp.len(), "2026-11-21T08:00:00.000000Z".len(), "{stamp}");
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        let mut out = String::new();
        timestamp(
            &mut out,
            UNIX_EPOCH + Duration::from_micros(1_795_248_000_000_042),
        );
        assert_eq!(out, "2026-11-21T08:00:00.000042Z");
        out.clear();
        timestamp(
            &mut out,
            UNIX_EPOCH + Duration::from_micros(1_795_248_059_999_999),
        );
        assert_eq!(out, "2026-11-21T08:00:59.999999Z");
    }
}

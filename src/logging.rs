//! Log output: JSON lines (flat fields) or human text, always on stderr so that a command's own
//! stdout stays clean.
//!
//! The JSON lines are written by [`JsonLines`], not tracing-subscriber's JSON formatter: one
//! line is logged per invocation, and the generic serde path with its timestamp formatting cost
//! about a fifth of the proxy's instructions per request (callgrind, bench/README.md). The
//! shape is the same: `{"timestamp","level","message",<fields>…}`.
//!
//! When stderr is a pipe, lines go through [`Stderr`]: a non-blocking description of the same
//! pipe, so that a reader that stops reading (a full pipe) costs dropped lines, counted and
//! reported once the pipe drains, never a blocked init: the reaper and the runtime thread both
//! log, and a write that blocks forever there would stop fnshim reaping and exiting.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::{self, IsTerminal};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

use crate::config::{LogFormat, LogSettings};

mod batch;
mod invocation;
pub(crate) use invocation::{invocation, Invocation};

/// Writes out the invocation lines still queued (`batch`): before the process exits.
pub fn flush() {
    invocation::flush();
}

pub fn init(settings: LogSettings) {
    let json = match settings.format {
        Some(format) => format == LogFormat::Json,
        None => !std::io::stdout().is_terminal(),
    };
    // One writer for the whole process: tracing's lines and the invocation lines written
    // without tracing's dispatch (`invocation`) share its dropped-line bookkeeping.
    let stderr: &'static Stderr = Box::leak(Box::new(Stderr::new(json)));
    if json && settings.level >= tracing::Level::INFO {
        invocation::direct(stderr);
    }
    let builder = tracing_subscriber::fmt()
        .with_max_level(settings.level)
        .with_writer(move || LineWriter(stderr))
        .with_target(false);
    if json {
        builder.event_format(JsonLines).init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

/// How long one line may wait for room in a full pipe before it is dropped; after a drop,
/// lines are dropped at once until the pipe has room again.
const STALL: Duration = Duration::from_secs(1);

/// Log output on stderr that never blocks for long on a full pipe.
pub struct Stderr {
    /// A non-blocking description of the stderr pipe; None when stderr is not a pipe (a file,
    /// a terminal, a socket, /dev/null) or cannot be reopened (no /proc): then plain stderr.
    pipe: Option<OwnedFd>,
    state: Mutex<Lost>,
    /// Invocation lines queued within one turn of the runtime, written together (`batch`).
    batch: Mutex<batch::Batch>,
    json: bool,
}

/// What a full pipe cost so far.
#[derive(Default)]
struct Lost {
    /// Lines dropped since the last line that went through.
    dropped: u64,
    /// Dropping without waiting: the last line found no room within STALL.
    stuck: bool,
    /// A long line was cut short: the next write starts with a newline.
    torn: bool,
}

impl Stderr {
    pub fn new(json: bool) -> Stderr {
        Stderr {
            pipe: reopen_nonblocking(libc::STDERR_FILENO),
            state: Mutex::default(),
            batch: Mutex::default(),
            json,
        }
    }

    fn lost(&self) -> MutexGuard<'_, Lost> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes formatted lines (`lines` of them, or drops them); never fails, never blocks
    /// longer than STALL.
    fn line(&self, fd: &OwnedFd, line: &[u8], lines: u64) {
        let mut lost = self.lost();
        if lost.stuck && !writable(fd, Duration::ZERO) {
            lost.dropped += lines;
            return;
        }
        let mut prefix = Vec::new();
        if lost.torn {
            prefix.push(b'\n');
        }
        if lost.dropped > 0 {
            prefix.extend(self.dropped_note(lost.dropped));
        }
        let budget = if lost.stuck { Duration::ZERO } else { STALL };
        // The usual case, nothing to put first: the line is written as it is, not copied.
        let whole = match prefix.is_empty() {
            true => std::borrow::Cow::Borrowed(line),
            false => std::borrow::Cow::Owned([prefix.as_slice(), line].concat()),
        };
        match write_within(fd, &whole, budget) {
            Ok(()) => *lost = Lost::default(),
            Err(written) => {
                // How far into the line itself the write got, if the prefix went out whole.
                let into_line = written.checked_sub(prefix.len());
                if into_line.is_some() {
                    lost.dropped = 0;
                }
                if written > 0 {
                    lost.torn = into_line != Some(0);
                }
                lost.stuck = true;
                lost.dropped += lines;
            }
        }
    }

    fn dropped_note(&self, dropped: u64) -> Vec<u8> {
        let message = "stderr was full: log lines were dropped";
        let mut note = String::new();
        if self.json {
            note.push_str("{\"timestamp\":\"");
            timestamp(&mut note, SystemTime::now());
            let _ = write!(
                note,
                "\",\"level\":\"WARN\",\"message\":\"{message}\",\"dropped\":{dropped}}}"
            );
        } else {
            let _ = write!(note, "WARN {message} (dropped={dropped})");
        }
        note.push('\n');
        note.into_bytes()
    }
}

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> LineWriter<'a> {
        LineWriter(self)
    }
}

impl Stderr {
    /// Writes whole lines (`lines` of them): through the non-blocking pipe, or to plain stderr.
    fn write_lines(&self, bytes: &[u8], lines: u64) -> io::Result<()> {
        match &self.pipe {
            Some(fd) => {
                self.line(fd, bytes, lines);
                Ok(())
            }
            None => io::Write::write_all(&mut io::stderr(), bytes),
        }
    }
}

/// The writer for one event; tracing-subscriber hands it the whole formatted line at once.
pub struct LineWriter<'a>(&'a Stderr);

impl io::Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_line(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A new, non-blocking open file description of the pipe at `fd` (through /proc), so that
/// O_NONBLOCK never reaches the description the children share.
fn reopen_nonblocking(fd: libc::c_int) -> Option<OwnedFd> {
    // SAFETY: fstat writes into a local struct; open returns a descriptor we then own.
    unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut stat) != 0 || stat.st_mode & libc::S_IFMT != libc::S_IFIFO {
            return None;
        }
        let path = format!("/proc/self/fd/{fd}\0");
        let flags = libc::O_WRONLY | libc::O_NONBLOCK | libc::O_CLOEXEC;
        let new = libc::open(path.as_ptr().cast(), flags);
        (new >= 0).then(|| OwnedFd::from_raw_fd(new))
    }
}

/// Writes all of `bytes`, waiting at most `budget` for room; on failure, how much was written.
fn write_within(fd: &OwnedFd, bytes: &[u8], budget: Duration) -> Result<(), usize> {
    let deadline = Instant::now() + budget;
    let mut written = 0;
    while written < bytes.len() {
        let rest = &bytes[written..];
        // SAFETY: writes from a valid slice to a descriptor we own.
        let n = unsafe { libc::write(fd.as_raw_fd(), rest.as_ptr().cast(), rest.len()) };
        if n >= 0 {
            written += n as usize;
            continue;
        }
        match io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => {}
            Some(libc::EAGAIN)
                if writable(fd, deadline.saturating_duration_since(Instant::now())) => {}
            _ => return Err(written), // EAGAIN past the deadline, EPIPE, …
        }
    }
    Ok(())
}

/// Whether the pipe has room within `wait`.
fn writable(fd: &OwnedFd, wait: Duration) -> bool {
    let mut poll = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    let ms = wait.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd.
    let ready = unsafe { libc::poll(&mut poll, 1, ms) };
    ready == 1 && poll.revents & libc::POLLOUT != 0
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
        // Field names are Rust identifiers (the macros' names): nothing to escape.
        self.0.push_str(",\"");
        self.0.push_str(field.name());
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

/// The bytes a JSON string cannot hold as they are (control characters, quote, backslash,
/// and DEL, escaped too).
static ESCAPED: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[0x7f] = true;
    table
};

/// Appends `text` escaped for a JSON string (quotes, backslashes, control characters).
fn escape_into(out: &mut String, text: &str) {
    // Most values (ids, paths, methods) need nothing escaped: one tight scan (a table look-up
    // per byte), one copy.
    if !text.bytes().any(|b| ESCAPED[usize::from(b)]) {
        out.push_str(text);
        return;
    }
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
                crate::config::cron::civil_from_days(seconds.div_euclid(86_400));
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

/// An error and its causes on one line (`a: b: c`), for a log field or an error message.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests;

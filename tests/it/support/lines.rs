//! One output stream of a shim, read line by line on its own thread, each line with the
//! instant it arrived (the PID 1 suite measures from them).

use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Instant;

/// Lines of one output stream, each with the instant it was read.
#[derive(Clone, Default)]
pub struct Lines(Arc<(Mutex<Log>, Condvar)>);

#[derive(Default)]
struct Log {
    lines: Vec<(Instant, String)>,
    eof: bool,
}

impl Lines {
    /// Reads `src` until its end on a thread of its own.
    pub(super) fn pump(src: impl Read + Send + 'static) -> Lines {
        let lines = Lines::default();
        let shared = lines.clone();
        thread::spawn(move || {
            let mut reader = BufReader::new(src);
            let mut buf = Vec::new();
            while matches!(reader.read_until(b'\n', &mut buf), Ok(n) if n > 0) {
                shared.push(Some(String::from_utf8_lossy(&buf).into_owned()));
                buf.clear();
            }
            shared.push(None);
        });
        lines
    }

    /// A stream the test does not read (it is empty and at its end).
    pub(super) fn unread() -> Lines {
        let lines = Lines::default();
        lines.push(None);
        lines
    }

    fn push(&self, line: Option<String>) {
        let mut log = self.0 .0.lock().unwrap();
        match line {
            Some(l) => log.lines.push((Instant::now(), l)),
            None => log.eof = true,
        }
        self.0 .1.notify_all();
    }

    /// The first line (without its newline) matching `pred`, waiting until `deadline`.
    pub fn find(
        &self,
        pred: impl Fn(&str) -> bool,
        deadline: Instant,
    ) -> Option<(Instant, String)> {
        let mut log = self.0 .0.lock().unwrap();
        loop {
            let hit = log
                .lines
                .iter()
                .find(|(_, l)| pred(l.trim_end_matches('\n')));
            if let Some((at, l)) = hit {
                return Some((*at, l.trim_end_matches('\n').to_string()));
            }
            let now = Instant::now();
            if log.eof || now >= deadline {
                return None;
            }
            log = self.0 .1.wait_timeout(log, deadline - now).unwrap().0;
        }
    }

    /// When `line` first appeared, if it has.
    pub fn first(&self, line: &str) -> Option<Instant> {
        self.find(|l| l == line, Instant::now()).map(|(at, _)| at)
    }

    /// Waits for the end of the stream until `deadline`; returns whether it came.
    pub fn wait_eof(&self, deadline: Instant) -> bool {
        self.find(|_| false, deadline);
        self.0 .0.lock().unwrap().eof
    }

    pub fn lines(&self) -> Vec<String> {
        let log = self.0 .0.lock().unwrap();
        log.lines
            .iter()
            .map(|(_, l)| l.trim_end_matches('\n').to_string())
            .collect()
    }

    /// Everything read so far, byte for byte (lossy UTF-8).
    pub fn text(&self) -> String {
        let log = self.0 .0.lock().unwrap();
        log.lines.iter().map(|(_, l)| l.as_str()).collect()
    }
}

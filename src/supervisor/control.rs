//! What the lifecycle obeys: every signal fnshim handles is decoded here, once, into a
//! [`Control`], and every stop reaches the supervisors through one [`Controls`] stream, whether
//! it came from a signal (`main` passes [`Controls::from_signals`]) or was injected (local jobs,
//! tests: [`Controls::channel`]).
//!
//! Architecture invariant: this is the only module that names SIGTERM or SIGINT; elsewhere a stop
//! is a [`Stop`], and the signal fnshim asks a process to stop with is [`TERMINATE`].

use libc::c_int;
use tokio::sync::mpsc;

/// Signals passed on to the worker's process group as they arrive (SPEC §7, plus CONT). SIGINT is
/// among them for plain init, where SIGINT alone is only passed on; while serving it is a stop.
pub const FORWARDED: [c_int; 7] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCONT,
];

/// The signal fnshim asks a process to stop with: handler workers (languages/PROTOCOL.md), what
/// the main process left behind, and a stop injected without a signal.
pub const TERMINATE: c_int = libc::SIGTERM;

/// A request to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop {
    /// The signal that asked (passed on to a proxied worker's group after the drain).
    pub signal: c_int,
    /// A stop already arrived before this one: SIGKILL at once (SPEC §7).
    pub forced: bool,
}

/// One decoded signal (or an injected request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Stop(Stop),
    /// Pass this signal on to the workers' process groups.
    Forward(c_int),
}

impl Control {
    /// The one place a signal number becomes a meaning: TERM and INT stop, the rest are passed on.
    pub fn from_signal(signal: c_int) -> Control {
        match signal {
            libc::SIGTERM | libc::SIGINT => Control::Stop(Stop {
                signal,
                forced: false,
            }),
            other => Control::Forward(other),
        }
    }

    /// A stop without a signal, as `fnshim check` sends once its job is done: it behaves as a
    /// SIGTERM would.
    pub fn stop() -> Control {
        Control::from_signal(TERMINATE)
    }
}

/// Injects controls into a [`Controls`] stream.
#[derive(Clone, Debug)]
pub struct ControlSender(mpsc::UnboundedSender<Control>);

impl ControlSender {
    pub fn send(&self, control: Control) {
        // The receiver lives as long as `run`; after it, nobody listens and nothing is lost.
        let _ = self.0.send(control);
    }

    /// Asks fnshim to stop, as a SIGTERM would.
    pub fn stop(&self) {
        self.send(Control::stop());
    }
}

/// The stream of controls one supervisor obeys. It remembers whether a stop was seen, so a later
/// stop arrives `forced`, wherever it came from.
pub struct Controls {
    tx: mpsc::UnboundedSender<Control>,
    rx: mpsc::UnboundedReceiver<Control>,
    from_signals: bool,
    stopping: bool,
    /// False in plain init: SIGINT before any SIGTERM is only passed on.
    interrupt_stops: bool,
}

impl Controls {
    /// Controls fed by the signal thread with the signals fnshim receives (what `main` uses), and
    /// by any sender taken from it.
    pub fn from_signals() -> Controls {
        Controls {
            from_signals: true,
            ..Controls::channel().1
        }
    }

    /// Controls fed only through the returned sender: fnshim still reaps, but no signal stops it.
    pub fn channel() -> (ControlSender, Controls) {
        let (tx, rx) = mpsc::unbounded_channel();
        let controls = Controls {
            tx: tx.clone(),
            rx,
            from_signals: false,
            stopping: false,
            interrupt_stops: true,
        };
        (ControlSender(tx), controls)
    }

    pub fn sender(&self) -> ControlSender {
        ControlSender(self.tx.clone())
    }

    /// Where the signal thread sends what it decodes, if these controls take signals.
    pub(crate) fn signal_feed(&self) -> Option<ControlSender> {
        self.from_signals.then(|| self.sender())
    }

    /// Plain init's rule (like a shell's child): SIGINT alone is passed on, so that a Ctrl-C the
    /// program handles does not end it; after a stop it forces, as any second stop does.
    pub(crate) fn pass_interrupts_on(&mut self) {
        self.interrupt_stops = false;
    }

    /// The next control. Cancel-safe: nothing is lost if the future is dropped before it resolves.
    pub async fn recv(&mut self) -> Control {
        // `self` holds a sender, so the channel never closes.
        let control = self.rx.recv().await.unwrap_or_else(Control::stop);
        self.interpret(control)
    }

    fn interpret(&mut self, control: Control) -> Control {
        match control {
            Control::Stop(stop) if !self.stopping && !self.interrupt_stops => {
                if stop.signal == libc::SIGINT {
                    return Control::Forward(stop.signal);
                }
                self.stopping = true;
                Control::Stop(stop)
            }
            Control::Stop(stop) => {
                let forced = stop.forced || self.stopping;
                self.stopping = true;
                Control::Stop(Stop { forced, ..stop })
            }
            forward => forward,
        }
    }
}

/// The conventional name of a signal, for log lines.
pub fn name(sig: c_int) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGCONT => "SIGCONT",
        libc::SIGWINCH => "SIGWINCH",
        _ => "signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stop(signal: c_int, forced: bool) -> Control {
        Control::Stop(Stop { signal, forced })
    }

    #[tokio::test]
    async fn a_second_stop_is_forced_whatever_its_source() {
        let (tx, mut controls) = Controls::channel();
        tx.send(Control::from_signal(libc::SIGINT));
        tx.send(Control::from_signal(libc::SIGHUP));
        tx.stop();
        assert_eq!(controls.recv().await, stop(libc::SIGINT, false));
        assert_eq!(controls.recv().await, Control::Forward(libc::SIGHUP));
        assert_eq!(controls.recv().await, stop(libc::SIGTERM, true));
    }

    #[tokio::test]
    async fn plain_init_passes_a_lone_interrupt_on() {
        let (tx, mut controls) = Controls::channel();
        controls.pass_interrupts_on();
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGINT] {
            tx.send(Control::from_signal(sig));
        }
        assert_eq!(controls.recv().await, Control::Forward(libc::SIGINT));
        assert_eq!(controls.recv().await, stop(libc::SIGTERM, false));
        assert_eq!(controls.recv().await, stop(libc::SIGINT, true));
    }

    #[test]
    fn only_stops_are_decoded_as_stops() {
        for sig in FORWARDED.into_iter().filter(|&s| s != libc::SIGINT) {
            assert_eq!(Control::from_signal(sig), Control::Forward(sig));
        }
        assert_eq!(Control::stop(), stop(libc::SIGTERM, false));
        assert!(Controls::from_signals().signal_feed().is_some());
        assert!(Controls::channel().1.signal_feed().is_none());
    }

    /// The invariant above, checked: outside this file no code (comments and strings aside)
    /// names SIGTERM or SIGINT, so no second decoder of stop signals can appear.
    #[test]
    fn no_other_module_names_the_stop_signals() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut offenders = Vec::new();
        for file in rust_files(&src) {
            if file.ends_with("supervisor/control.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("readable source");
            let code = code_only(&text);
            for word in ["SIGTERM", "SIGINT"] {
                if names(&code, word) {
                    offenders.push(format!("{}: {word}", file.display()));
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "stop signals named outside control.rs: {offenders:?}"
        );
    }

    #[test]
    fn the_scan_sees_code_and_skips_prose() {
        let code = code_only(
            "// SIGTERM\nlet a = \"SIGINT \\\" x\"; /* SIGINT */ let c = '\"';\nkill(SIGTERM);",
        );
        assert!(names(&code, "SIGTERM"));
        assert!(!names(&code, "SIGINT"));
        assert!(!names("MY_SIGTERMS", "SIGTERM"));
    }

    fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).expect("src is readable").flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(rust_files(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
        files
    }

    /// Whether `word` occurs in `code` as a whole identifier.
    fn names(code: &str, word: &str) -> bool {
        let ident = |c: char| c.is_alphanumeric() || c == '_';
        code.match_indices(word).any(|(at, _)| {
            let before = code[..at].chars().next_back();
            let after = code[at + word.len()..].chars().next();
            !before.is_some_and(ident) && !after.is_some_and(ident)
        })
    }

    /// Whether what follows an `r` opens a raw string (`r"`, `r#"`), not a raw identifier.
    fn raw_string(rest: &[char]) -> bool {
        rest.iter().find(|&&c| c != '#') == Some(&'"')
    }

    /// The source with comments, string literals and character literals blanked out.
    fn code_only(text: &str) -> String {
        let chars: Vec<char> = text.chars().collect();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        let find = |from: usize, close: &[char]| {
            (from..chars.len())
                .find(|&at| chars[at..].starts_with(close))
                .map_or(chars.len(), |at| at + close.len())
        };
        while i < chars.len() {
            let after_ident = out.ends_with(|c: char| c.is_alphanumeric() || c == '_');
            let skipped_to = match (chars[i], chars.get(i + 1), chars.get(i + 2)) {
                ('/', Some('/'), _) => find(i, &['\n']),
                ('/', Some('*'), _) => find(i + 2, &['*', '/']),
                ('r', Some('#' | '"'), _) if !after_ident && raw_string(&chars[i + 1..]) => {
                    let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
                    let close: Vec<char> = std::iter::once('"')
                        .chain(std::iter::repeat_n('#', hashes))
                        .collect();
                    find(i + 2 + hashes, &close)
                }
                ('"', _, _) => {
                    let mut at = i + 1;
                    while at < chars.len() && chars[at] != '"' {
                        at += if chars[at] == '\\' { 2 } else { 1 };
                    }
                    at + 1
                }
                ('\'', Some('\\'), _) => find(i + 3, &['\'']),
                ('\'', Some(_), Some('\'')) => i + 3,
                (c, _, _) => {
                    out.push(c);
                    i += 1;
                    continue;
                }
            };
            out.push(' ');
            i = skipped_to;
        }
        out
    }
}

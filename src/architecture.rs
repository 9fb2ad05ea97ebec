//! Checks, run as unit tests, that keep ARCHITECTURE.md's invariants true: the module graph has
//! no cycle, front ends never reach workers or processes, only `config` reads the environment,
//! only `main` exits, and files and functions stay small.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules that receive work and build invocations.
const FRONT_ENDS: [&str; 3] = ["server", "trigger", "local"];
/// What a front end must never name: processes and the worker protocol.
const BEHIND_THE_SEAM: [&str; 2] = ["worker", "supervisor"];
const MAX_FILE_LINES: usize = 500;
const MAX_FUNCTION_LINES: usize = 60;

struct Source {
    /// The top-level module the file belongs to (`lib` for src/lib.rs, `main` for src/main.rs).
    module: String,
    path: PathBuf,
    text: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(&root).unwrap_or(&path);
            let first = relative.components().next().map(|c| c.as_os_str());
            let first = first.and_then(|c| c.to_str()).unwrap_or_default();
            Source {
                module: first.trim_end_matches(".rs").to_owned(),
                text: std::fs::read_to_string(&path).unwrap_or_default(),
                path,
            }
        })
        .collect()
}

fn collect(folder: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(folder).into_iter().flatten().flatten() {
        let path = entry.path();
        match path.is_dir() {
            true => collect(&path, into),
            false if path.extension().is_some_and(|e| e == "rs") => into.push(path),
            false => {}
        }
    }
}

/// The code of a file without its `#[cfg(test)] mod tests` (tests may use anything).
fn code(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    }
}

/// `crate::NAME` paths named in `text`, as top-level module names.
fn uses(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code(text);
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let mut name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        // The stop a front end may ask for (`check`/`invoke` end fnshim) is the injected
        // shutdown, not a process: it does not count as reaching behind the seam.
        if rest[name.len()..].starts_with("::control") {
            name.push_str("::control");
        }
        found.insert(name);
    }
    // `use crate::{a, b}` lists.
    for list in code(text).split("crate::{").skip(1) {
        let inside = list.split('}').next().unwrap_or_default();
        for item in inside.split(',') {
            let name = item.trim().split("::").next().unwrap_or_default();
            found.insert(name.to_owned());
        }
    }
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for source in sources() {
        let edges = graph.entry(source.module.clone()).or_default();
        for used in uses(&source.text) {
            if used != source.module && !used.is_empty() {
                edges.insert(used);
            }
        }
    }
    graph
}

/// A cycle through `start`, as the path of modules, if there is one.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_owned(), vec![start.to_owned()])];
    let mut seen = BTreeSet::new();
    while let Some((module, path)) = stack.pop() {
        for next in graph.get(&module).into_iter().flatten() {
            if next == start {
                return Some([path.clone(), vec![next.clone()]].concat());
            }
            if seen.insert(next.clone()) {
                stack.push((next.clone(), [path.clone(), vec![next.clone()]].concat()));
            }
        }
    }
    None
}

#[test]
fn modules_form_no_cycle() {
    let graph = graph();
    let cycles: Vec<String> = graph
        .keys()
        .filter(|m| *m != "lib" && *m != "main")
        .filter_map(|m| cycle_from(&graph, m))
        .map(|path| path.join(" -> "))
        .collect();
    assert!(cycles.is_empty(), "import cycles: {cycles:#?}");
}

#[test]
fn front_ends_reach_back_ends_only_through_the_seam() {
    let graph = graph();
    for front in FRONT_ENDS {
        for behind in BEHIND_THE_SEAM {
            let uses = graph.get(front).is_some_and(|edges| edges.contains(behind));
            assert!(
                !uses,
                "the front end `{front}` names `{behind}`: go through backend::Backend"
            );
        }
    }
    let backend = graph.get("backend").cloned().unwrap_or_default();
    for front in FRONT_ENDS {
        assert!(
            !backend.contains(front),
            "`backend` names the front end `{front}`"
        );
    }
}

#[test]
fn only_config_reads_the_environment_and_only_main_exits() {
    for source in sources().into_iter().filter(|s| s.module != "architecture") {
        let text = code(&source.text);
        if source.module != "config" {
            for call in ["env::var(", "env::var_os(", "env::vars("] {
                assert!(
                    !text.contains(call),
                    "{} calls {call}: read it in config",
                    source.path.display()
                );
            }
        }
        if source.module != "main" {
            assert!(
                !text.contains("process::exit("),
                "{} calls process::exit: return an exit code to main",
                source.path.display()
            );
        }
    }
}

/// `pattern` may appear in the code (not the comments) of the files ending with `allowed` only.
fn only_in(pattern: &str, allowed: &[&str]) -> Vec<String> {
    sources()
        .into_iter()
        .filter(|s| s.module != "architecture")
        .filter(|s| !allowed.iter().any(|a| s.path.ends_with(a)))
        .filter(|s| {
            code(&s.text)
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .any(|l| l.contains(pattern))
        })
        .map(|s| format!("{} uses {pattern}", s.path.display()))
        .collect()
}

#[test]
fn one_reaper_and_no_signal_handlers() {
    let mut found = only_in("waitpid(", &["supervisor/reaper.rs"]);
    found.extend(only_in("tokio::process", &[]));
    // The child's signal dispositions are reset between fork and exec, and the signal thread
    // sets its own to default; no handler is installed anywhere.
    found.extend(only_in("sigaction", &["supervisor/process.rs"]));
    found.extend(only_in(
        "libc::signal(",
        &["supervisor/process.rs", "supervisor/signals.rs"],
    ));
    found.extend(only_in(
        "SIG_DFL",
        &["supervisor/process.rs", "supervisor/signals.rs"],
    ));
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn worker_and_event_stay_small_in_what_they_know() {
    let graph = graph();
    let knows = |module: &str, other: &str| graph.get(module).is_some_and(|e| e.contains(other));
    for other in [
        "server",
        "backend",
        "event",
        "trigger",
        "invoke",
        "supervisor",
    ] {
        assert!(!knows("worker", other), "`worker` names `{other}`");
    }
    for other in ["worker", "backend", "server", "supervisor", "runtime"] {
        assert!(!knows("event", other), "`event` names `{other}`");
    }
    for source in sources().into_iter().filter(|s| s.module == "worker") {
        assert!(
            !code(&source.text).contains("hyper::") && !code(&source.text).contains("http::"),
            "{} knows HTTP",
            source.path.display()
        );
    }
}

#[test]
fn files_and_functions_stay_small() {
    let mut long = Vec::new();
    for source in sources() {
        let lines: Vec<&str> = source.text.lines().collect();
        if lines.len() > MAX_FILE_LINES {
            long.push(format!("{}: {} lines", source.path.display(), lines.len()));
        }
        for (name, length) in functions(&lines) {
            if length > MAX_FUNCTION_LINES {
                long.push(format!(
                    "{}: fn {name}: {length} lines",
                    source.path.display()
                ));
            }
        }
    }
    assert!(
        long.is_empty(),
        "over {MAX_FILE_LINES} lines a file or {MAX_FUNCTION_LINES} a function: {long:#?}"
    );
}

/// Each `fn` with its length in lines, from its signature to the `}` at its indentation.
fn functions(lines: &[&str]) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let signature = [
            "fn ",
            "pub fn ",
            "pub(crate) fn ",
            "async fn ",
            "pub async fn ",
            "pub(crate) async fn ",
        ]
        .iter()
        .find_map(|prefix| trimmed.strip_prefix(prefix));
        let Some(signature) = signature.filter(|_| !trimmed.ends_with(';')) else {
            continue;
        };
        let name: String = signature
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let closing = format!("{indent}}}");
        let end = lines[start..].iter().position(|l| *l == closing);
        if let Some(end) = end {
            found.push((name, end + 1));
        }
    }
    found
}

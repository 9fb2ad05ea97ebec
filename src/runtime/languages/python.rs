//! Python: the adapter `languages/python/worker.py`, one call at a time per process, and
//! `pip install --target` into the cache.

use std::ffi::OsString;

use super::{InstallCommand, InstallLine, Installer, Language, Place};
use crate::config::Runtime;

const ADAPTER: &str = include_str!("../../../languages/python/worker.py");

pub const PYTHON: Language = Language {
    runtime: Runtime::Python,
    binary: "python3",
    entries: &["main.py", "handler.py", "index.py"],
    extensions: &["py"],
    preferred_when_installed: false,
    one_at_a_time: true,
    adapter: ("worker.py", |_, _| ADAPTER.to_owned()),
    worker: |w| {
        let argv = [w.binary.as_os_str(), "-u".as_ref(), w.adapter.as_os_str()];
        argv.map(OsString::from).to_vec()
    },
    generated: &["__pycache__"],
    check: None,
    worker_env: |_| Vec::new(),
    install: Some(Installer {
        manifests: &["requirements.txt"],
        stamp_files: &["requirements.txt"],
        program: None,
        what: "pip install",
        // Nothing is written to the function's folder, and changed requirements simply get a
        // new folder.
        place: Place::Cache {
            folder: "python-deps",
            env: "FNSHIM_PYTHONPATH",
        },
        mirror: |config| config.pip_mirror.as_deref(),
        command: pip,
        shared_env: &[],
        baked: has_dist_info,
    }),
    aot: None,
};

fn pip(c: &InstallCommand) -> InstallLine {
    let mut argv: Vec<OsString> = vec![
        c.program.clone().into(),
        "-m".into(),
        "pip".into(),
        "install".into(),
    ];
    if let Some(into) = c.into {
        argv.extend(["--target".into(), into.into()]);
    }
    argv.extend(["-r".into(), c.manifest.into()]);
    argv.extend(
        [
            "--disable-pip-version-check",
            "--no-input",
            "--no-warn-script-location",
        ]
        .map(OsString::from),
    );
    if let Some(url) = c.mirror {
        argv.extend(["--index-url".into(), url.into()]);
    }
    (argv, vec![("PIP_CACHE_DIR", (c.cache)("pip-cache"))])
}

/// `pip install -t .` leaves a `*.dist-info` folder per package next to the code.
fn has_dist_info(folder: &std::path::Path) -> bool {
    let entries = std::fs::read_dir(folder).into_iter().flatten().flatten();
    entries
        .into_iter()
        .any(|e| e.file_name().to_string_lossy().ends_with(".dist-info"))
}

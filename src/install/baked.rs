//! Whether a function's dependencies were installed when its image was built (in Lambda the
//! function folder is read-only, and an install at every cold start costs seconds).

use std::path::Path;

use crate::config::Runtime;
use crate::runtime::HandlerTarget;

/// `Some(true)`: the manifest's dependencies are in the folder; `Some(false)`: there is a
/// manifest but no installed dependencies; `None`: nothing to install.
pub fn dependencies_baked(target: &HandlerTarget) -> Option<bool> {
    let folder = target.folder.as_path();
    let has = |name: &str| folder.join(name).exists();
    match target.runtime {
        Runtime::Node | Runtime::Deno if has("package.json") => Some(has("node_modules")),
        Runtime::Deno if has("deno.json") || has("deno.jsonc") => Some(has("node_modules")),
        Runtime::Python if has("requirements.txt") => Some(has_dist_info(folder)),
        Runtime::Dart if has("pubspec.yaml") => Some(has(".dart_tool")),
        _ => None,
    }
}

/// `pip install -t .` leaves a `*.dist-info` folder per package next to the code.
fn has_dist_info(folder: &Path) -> bool {
    let entries = std::fs::read_dir(folder).into_iter().flatten().flatten();
    entries
        .into_iter()
        .any(|e| e.file_name().to_string_lossy().ends_with(".dist-info"))
}

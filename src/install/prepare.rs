//! What a handler function needs before its first worker starts: its dependencies (once per
//! runtime and folder: the f.yml functions of one folder share them), the worker's command line
//! for where the function now lives, and an ahead-of-time build where its language has one.

use crate::config::{Config, Runtime};
use crate::readiness::{Readiness, Upstream};
use crate::runtime::{self, HandlerTarget};
use crate::supervisor::control::Controls;
use crate::supervisor::reaper::Reaper;

use super::StepError;

/// A dependency install already done for a runtime in a folder: the f.yml functions of one
/// folder share it.
pub(crate) struct Installed {
    runtime: Runtime,
    from: std::path::PathBuf,
    /// Where the function runs now (a copy in CACHE_DIR when `from` is read-only).
    to: std::path::PathBuf,
    /// What the install added to the workers' environment.
    env: Vec<(String, String)>,
}

impl Installed {
    fn apply(&self, mut target: HandlerTarget) -> HandlerTarget {
        if let Ok(relative) = target.entry.strip_prefix(&self.from) {
            target.entry = self.to.join(relative);
        }
        target.folder = self.to.clone();
        target.env.extend(self.env.iter().cloned());
        target
    }
}

/// The steps before the first worker: dependencies (once per runtime and folder, skipped when
/// the stamp matches), the worker's command line for where the function now lives, and the
/// Dart AOT build.
pub(crate) async fn prepare_workers(
    config: &Config,
    reaper: &Reaper,
    readiness: &Readiness,
    target: HandlerTarget,
    events: &mut Controls,
    installed: &mut Vec<Installed>,
) -> Result<HandlerTarget, StepError> {
    let announce = |reason: String| readiness.set(Upstream::Starting { reason });
    let done = installed
        .iter()
        .find(|i| i.runtime == target.runtime && i.from == target.folder);
    let mut target = match done {
        Some(done) => done.apply(target),
        None => {
            let (runtime, from, own) = (target.runtime, target.folder.clone(), target.env.len());
            // In Lambda, dependencies baked into the image are used as they are.
            let install_deps = super::baked::mode(config, &target);
            let mode = Config {
                install_deps,
                ..config.clone()
            };
            let target =
                super::install_dependencies(reaper, &mode, target, events, announce).await?;
            installed.push(Installed {
                runtime,
                from,
                to: target.folder.clone(),
                env: target.env.get(own..).unwrap_or_default().to_vec(),
            });
            target
        }
    };
    runtime::refresh_argv(&config.cache_dir, &mut target).map_err(StepError::Failed)?;
    let aot = runtime::languages::of(target.runtime).and_then(|l| Some((l, l.aot.as_ref()?)));
    match (aot, config.dart_aot) {
        (Some((language, aot)), true) => {
            announce(aot.announce.into());
            let cache = &config.cache_dir;
            let limit = config.install_timeout;
            super::build_aot(reaper, cache, language, aot, target, limit, events).await
        }
        (None, true) => {
            tracing::warn!("DART_AOT applies to Dart functions only; ignoring it");
            Ok(target)
        }
        _ => Ok(target),
    }
}

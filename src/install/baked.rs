//! Whether a function's dependencies were installed when its image was built, and what that
//! means for INSTALL_DEPS=auto in Lambda (the function folder is read-only there, and an
//! install at every cold start costs seconds).

use crate::config::{Config, InstallDeps};
use crate::runtime::{languages, HandlerTarget};

/// `Some(true)`: the manifest's dependencies are in the folder; `Some(false)`: there is a
/// manifest but no installed dependencies; `None`: nothing to install.
pub fn dependencies_baked(target: &HandlerTarget) -> Option<bool> {
    let installer = languages::of(target.runtime)?.install.as_ref()?;
    let folder = target.folder.as_path();
    let manifest = installer.manifests.iter().any(|m| folder.join(m).is_file());
    manifest.then(|| (installer.baked)(folder))
}

/// In Lambda (INSTALL_DEPS=auto) dependencies are installed only when the image lacks them,
/// with a warning: the folder is read-only, so each cold start would copy and install again.
pub(crate) fn mode(config: &Config, target: &HandlerTarget) -> InstallDeps {
    if config.lambda.is_none() || config.install_deps != InstallDeps::Auto {
        return config.install_deps;
    }
    match dependencies_baked(target) {
        Some(true) => {
            tracing::info!(folder = %target.folder.display(), "dependencies are in the image; not installing them");
            InstallDeps::Never
        }
        Some(false) => {
            tracing::warn!(
                folder = %target.folder.display(),
                "the function's dependencies are not in the image: installing them under /tmp at this cold start; bake them into the image when building it"
            );
            InstallDeps::Auto
        }
        None => InstallDeps::Auto,
    }
}

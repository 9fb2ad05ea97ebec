//! Dependencies before the first worker (SPEC §6), as the language table's installer says:
//! npm, pip, `deno install`, `dart pub get`. A stamp (a hash of the manifest, the lock file, the
//! runtime and the mirror) skips an install whose inputs did not change. A read-only function
//! folder is copied into CACHE_DIR, installed and run there.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use tokio::time::Instant;

use super::{file_part, fnv, io_failure, run, Step, StepError};
use crate::config::{Config, InstallDeps};
use crate::exit::StartError;
use crate::runtime::languages::{self, InstallCommand, Installer, Language, Place};
use crate::runtime::HandlerTarget;
use crate::supervisor::control::Controls;
use crate::supervisor::reaper::Reaper;

/// Installs what the function's manifest asks for; returns the target to run (moved to a
/// writable copy when the folder is read-only, with the environment its workers need).
pub async fn install_dependencies(
    reaper: &Reaper,
    config: &Config,
    target: HandlerTarget,
    events: &mut Controls,
    announce: impl Fn(String),
) -> Result<HandlerTarget, StepError> {
    let Some((language, installer, manifest)) = manifest(&target) else {
        return Ok(target);
    };
    if config.install_deps == InstallDeps::Never {
        tracing::info!(manifest, "INSTALL_DEPS=never: not installing dependencies");
        return Ok(target);
    }
    let started = Instant::now();
    let mut install = Install {
        reaper,
        config,
        events,
        announce: &announce,
        language,
        installer,
        manifest,
    };
    let target = match installer.place {
        Place::Cache { folder, env } => install.in_cache(target, folder, env).await?,
        Place::Folder {
            stamp,
            clean_on_always,
        } => install.in_folder(target, stamp, clean_on_always).await?,
    };
    tracing::info!(
        manifest,
        took_us = started.elapsed().as_micros() as u64,
        "dependencies ready"
    );
    Ok(target)
}

/// The runtime's installer and the manifest that makes it install something, if the function
/// has one.
fn manifest(
    target: &HandlerTarget,
) -> Option<(&'static Language, &'static Installer, &'static str)> {
    let language = languages::of(target.runtime)?;
    let installer = language.install.as_ref()?;
    let manifest = installer
        .manifests
        .iter()
        .copied()
        .find(|name| target.folder.join(name).is_file())?;
    Some((language, installer, manifest))
}

struct Install<'a, F: Fn(String)> {
    reaper: &'a Reaper,
    config: &'a Config,
    events: &'a mut Controls,
    announce: &'a F,
    language: &'static Language,
    installer: &'static Installer,
    manifest: &'static str,
}

impl<F: Fn(String)> Install<'_, F> {
    /// Installs into a folder of the cache named by the stamp (pip): nothing is written to the
    /// function's folder, and a changed manifest simply gets a new folder.
    async fn in_cache(
        &mut self,
        mut target: HandlerTarget,
        folder: &str,
        env: &str,
    ) -> Result<HandlerTarget, StepError> {
        let manifest = target.folder.join(self.manifest);
        let mirror_value = (self.installer.mirror)(self.config);
        let parts = stamp_parts(self.installer, &target.folder);
        let key = fnv(parts.chain([identity(&target.binary), mirror(mirror_value)]));
        let deps = self
            .config
            .cache_dir
            .join(folder)
            .join(format!("{key:016x}"));
        let complete = deps.join(".fnshim-complete");
        if complete.is_file() && self.config.install_deps != InstallDeps::Always {
            tracing::info!(folder = %deps.display(), "dependencies are up to date ({})", self.installer.what);
        } else {
            let partial = deps.with_extension(format!("partial{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&partial);
            let cache = cache_in(self.config);
            let (argv, env) = (self.installer.command)(&InstallCommand {
                program: target.binary.clone(),
                folder: &target.folder,
                manifest: &manifest,
                into: Some(&partial),
                mirror: mirror_value,
                cache: &cache,
            });
            let installed = self.step(argv, &target.folder, env).await;
            if installed.is_err() {
                let _ = std::fs::remove_dir_all(&partial);
            }
            installed?;
            std::fs::write(partial.join(".fnshim-complete"), format!("{key:016x}\n"))
                .map_err(io_failure("cannot write", &partial))?;
            let _ = std::fs::remove_dir_all(&deps);
            std::fs::rename(&partial, &deps).map_err(io_failure("cannot create", &deps))?;
        }
        target.env.push((env.into(), deps.display().to_string()));
        Ok(target)
    }

    /// Installs into the project folder itself (the packages folder), so a read-only folder
    /// is first copied to a writable one in the cache.
    async fn in_folder(
        &mut self,
        target: HandlerTarget,
        stamp: Option<&str>,
        clean_on_always: bool,
    ) -> Result<HandlerTarget, StepError> {
        let mut target = writable(target, &self.config.cache_dir)?;
        let folder = target.folder.clone();
        let binary = self.program(&target)?;
        let mirror_value = (self.installer.mirror)(self.config);
        // The key is taken again after the install: `npm install` writes the lock file it reads.
        let installer = self.installer;
        let key = || {
            let runtime = [
                identity(&target.binary),
                identity(&binary),
                mirror(mirror_value),
            ];
            format!(
                "{:016x}\n",
                fnv(stamp_parts(installer, &folder).chain(runtime))
            )
        };
        let stamp = self.stamp_path(stamp, &folder);
        let cache = cache_in(self.config);
        let (argv, env) = (self.installer.command)(&InstallCommand {
            program: binary.clone(),
            folder: &folder,
            manifest: &folder.join(self.manifest),
            into: None,
            mirror: mirror_value,
            cache: &cache,
        });
        // The workers need the same caches the installer filled.
        target.env.extend(
            env.iter()
                .filter(|(k, _)| self.installer.shared_env.contains(k))
                .map(|(k, v)| (k.to_string(), v.clone())),
        );
        let always = self.config.install_deps == InstallDeps::Always;
        if std::fs::read_to_string(&stamp).is_ok_and(|s| s == key()) && !always {
            let program = self.installer.program.unwrap_or(self.language.binary);
            tracing::info!(program, "dependencies are up to date");
            return Ok(target);
        }
        if clean_on_always && always {
            for generated in self.language.generated {
                let _ = std::fs::remove_dir_all(folder.join(generated));
            }
        }
        self.step(argv, &folder, env).await?;
        if let Some(parent) = stamp.parent() {
            std::fs::create_dir_all(parent).map_err(io_failure("cannot create", parent))?;
        }
        std::fs::write(&stamp, key()).map_err(io_failure("cannot write", &stamp))?;
        Ok(target)
    }

    /// The stamp: a file of the folder, or one in CACHE_DIR/stamps named after the runtime and
    /// the folder.
    fn stamp_path(&self, stamp: Option<&str>, folder: &Path) -> PathBuf {
        match stamp {
            Some(stamp) => folder.join(stamp),
            None => self.config.cache_dir.join("stamps").join(format!(
                "{}-{:016x}",
                self.language.binary,
                fnv([file_part(folder)])
            )),
        }
    }

    /// The installing program: the runtime's binary, or a tool found on PATH.
    fn program(&self, target: &HandlerTarget) -> Result<PathBuf, StepError> {
        let Some(name) = self.installer.program else {
            return Ok(target.binary.clone());
        };
        crate::runtime::find_program(name, self.config.search_path.as_deref()).ok_or_else(|| {
            StepError::Failed(StartError::Unavailable(format!(
                "{} needs {name}, which is not installed (not found on PATH)",
                self.manifest
            )))
        })
    }

    async fn step(
        &mut self,
        argv: Vec<OsString>,
        cwd: &PathBuf,
        env: Vec<(&'static str, String)>,
    ) -> Result<(), StepError> {
        let what = self.installer.what;
        (self.announce)(format!("installing dependencies ({what})"));
        run(
            self.reaper,
            Step {
                what,
                argv,
                cwd,
                env,
            },
            self.config.install_timeout,
            self.events,
        )
        .await
    }
}

/// The stamp files of the function folder, as parts of a cache key.
fn stamp_parts<'f>(installer: &Installer, folder: &'f Path) -> impl Iterator<Item = Vec<u8>> + 'f {
    let files = installer.stamp_files;
    files.iter().map(move |name| file_part(&folder.join(name)))
}

/// A folder of CACHE_DIR by name, as an installer's environment names it.
fn cache_in(config: &Config) -> impl Fn(&str) -> String + '_ {
    |name| config.cache_dir.join(name).display().to_string()
}

/// The target itself if its folder is writable; else a copy of the folder in the cache (the
/// copy keeps its installed packages from one start to the next).
fn writable(mut target: HandlerTarget, cache: &Path) -> Result<HandlerTarget, StepError> {
    if is_writable(&target.folder) {
        return Ok(target);
    }
    let copy = cache
        .join("copies")
        .join(format!("{:016x}", fnv([file_part(&target.folder)])));
    tracing::info!(from = %target.folder.display(), to = %copy.display(), "the function folder is read-only; installing in a copy");
    copy_tree(&target.folder, &copy).map_err(io_failure("cannot copy the function to", &copy))?;
    let relative = target
        .entry
        .strip_prefix(&target.folder)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    target.entry = copy.join(relative);
    target.folder = copy;
    Ok(target)
}

fn is_writable(folder: &Path) -> bool {
    let probe = folder.join(format!(".fnshim-write-test-{}", std::process::id()));
    let writable = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    writable
}

/// Makes `to` a copy of the function's files in `from` (files the function no longer has are
/// removed), keeping the packages already installed in `to`.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(to)? {
        let entry = entry?;
        if languages::kept_in_copies().any(|kept| entry.file_name() == kept) {
            continue;
        }
        match entry.file_type()?.is_dir() {
            true => std::fs::remove_dir_all(entry.path())?,
            false => std::fs::remove_file(entry.path())?,
        }
    }
    copy_files(from, to)
}

fn copy_files(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if languages::not_copied().any(|generated| name == generated) {
            continue;
        }
        let (source, target) = (entry.path(), to.join(&name));
        if entry.file_type()?.is_dir() {
            copy_files(&source, &target)?;
        } else {
            std::fs::copy(&source, &target)?;
        }
    }
    Ok(())
}

/// A runtime or tool binary as part of a cache key: its path, size and modification time
/// (a new version of the runtime means new installed packages).
fn identity(binary: &Path) -> Vec<u8> {
    let resolved = std::fs::canonicalize(binary).unwrap_or_else(|_| binary.to_path_buf());
    let meta = std::fs::metadata(&resolved).ok();
    let stamp = meta.map(|m| {
        (
            m.len(),
            m.modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs()),
        )
    });
    format!("{}:{stamp:?}", resolved.display()).into_bytes()
}

fn mirror(url: Option<&str>) -> Vec<u8> {
    url.unwrap_or_default().as_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_keeps_files_and_skips_installed_packages() {
        // Names of this module's own choosing: only the table knows languages' file names.
        let packages = languages::NODE.generated[0];
        let from = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(from.path().join("lib")).unwrap();
        std::fs::create_dir_all(from.path().join(packages).join("x")).unwrap();
        std::fs::write(from.path().join("entry.src"), "1").unwrap();
        std::fs::write(from.path().join("lib/a.src"), "2").unwrap();
        let to = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(to.path().join(packages).join("kept")).unwrap();
        std::fs::write(to.path().join("stale.lock"), "stale").unwrap();
        copy_tree(from.path(), to.path()).unwrap();
        assert!(
            !to.path().join("stale.lock").exists(),
            "a file the function no longer has goes"
        );
        assert_eq!(
            std::fs::read_to_string(to.path().join("lib/a.src")).unwrap(),
            "2"
        );
        assert!(!to.path().join(packages).join("x").exists());
        assert!(
            to.path().join(packages).join("kept").exists(),
            "installed packages of the copy stay"
        );
    }

    #[test]
    fn identity_changes_with_the_binary() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("node");
        std::fs::write(&bin, "v1").unwrap();
        let first = identity(&bin);
        std::fs::write(&bin, "v1.1").unwrap();
        assert_ne!(first, identity(&bin));
        assert!(is_writable(dir.path()));
    }
}

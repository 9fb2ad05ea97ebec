//! Dependencies before the first worker (SPEC §6): `package.json` → npm, `requirements.txt` →
//! pip, `deno.json` → `deno install`, `pubspec.yaml` → `dart pub get`. A stamp (a hash of the
//! manifest, the lock file, the runtime and the mirror) skips an install whose inputs did not
//! change. A read-only function folder is copied into CACHE_DIR, installed and run there.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::Instant;

use super::{file_part, fnv, io_failure, run, Step, StepError};
use crate::config::{InstallDeps, Runtime};
use crate::exit::StartError;
use crate::runtime::HandlerTarget;
use crate::supervisor::control::Controls;
use crate::supervisor::reaper::Reaper;

/// What the install needs from the configuration.
pub struct DepsSettings<'a> {
    pub mode: InstallDeps,
    pub cache: &'a Path,
    pub limit: Duration,
    pub search_path: Option<&'a str>,
    pub npm_mirror: Option<&'a str>,
    pub pip_mirror: Option<&'a str>,
    pub pub_mirror: Option<&'a str>,
}

/// Installs what the function's manifest asks for; returns the target to run (moved to a
/// writable copy when the folder is read-only, with the environment its workers need).
pub async fn install_dependencies(
    reaper: &Reaper,
    settings: &DepsSettings<'_>,
    target: HandlerTarget,
    events: &mut Controls,
    announce: impl Fn(String),
) -> Result<HandlerTarget, StepError> {
    let Some(manifest) = manifest(&target) else {
        return Ok(target);
    };
    if settings.mode == InstallDeps::Never {
        tracing::info!(manifest, "INSTALL_DEPS=never: not installing dependencies");
        return Ok(target);
    }
    let started = Instant::now();
    let mut install = Install {
        reaper,
        settings,
        events,
        announce: &announce,
    };
    let target = match target.runtime {
        Runtime::Python => install.pip(target).await?,
        Runtime::Node => install.in_folder(target, Tool::Npm).await?,
        Runtime::Deno => install.in_folder(target, Tool::Deno).await?,
        Runtime::Dart => install.in_folder(target, Tool::Pub).await?,
        Runtime::Custom => target,
    };
    tracing::info!(
        manifest,
        took_us = started.elapsed().as_micros() as u64,
        "dependencies ready"
    );
    Ok(target)
}

/// The manifest that makes this runtime install something, if the function has one.
fn manifest(target: &HandlerTarget) -> Option<&'static str> {
    let candidates: &[&'static str] = match target.runtime {
        Runtime::Node => &["package.json"],
        Runtime::Deno => &["deno.json", "deno.jsonc", "package.json"],
        Runtime::Python => &["requirements.txt"],
        Runtime::Dart => &["pubspec.yaml"],
        Runtime::Custom => &[],
    };
    candidates
        .iter()
        .copied()
        .find(|name| target.folder.join(name).is_file())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tool {
    Npm,
    Deno,
    Pub,
}

struct Install<'a, F: Fn(String)> {
    reaper: &'a Reaper,
    settings: &'a DepsSettings<'a>,
    events: &'a mut Controls,
    announce: &'a F,
}

impl<F: Fn(String)> Install<'_, F> {
    /// pip installs into a folder of the cache named by the stamp: nothing is written to the
    /// function's folder, and a changed requirements.txt simply gets a new folder.
    async fn pip(&mut self, mut target: HandlerTarget) -> Result<HandlerTarget, StepError> {
        let requirements = target.folder.join("requirements.txt");
        let key = fnv([
            file_part(&requirements),
            identity(&target.binary),
            mirror(self.settings.pip_mirror),
        ]);
        let deps = self
            .settings
            .cache
            .join("python-deps")
            .join(format!("{key:016x}"));
        let complete = deps.join(".fnshim-complete");
        if complete.is_file() && self.settings.mode != InstallDeps::Always {
            tracing::info!(folder = %deps.display(), "dependencies are up to date (pip)");
        } else {
            let partial = deps.with_extension(format!("partial{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&partial);
            let mut argv: Vec<OsString> = vec![
                target.binary.clone().into(),
                "-m".into(),
                "pip".into(),
                "install".into(),
            ];
            argv.extend([
                "--target".into(),
                partial.clone().into(),
                "-r".into(),
                requirements.into(),
            ]);
            argv.extend(
                [
                    "--disable-pip-version-check",
                    "--no-input",
                    "--no-warn-script-location",
                ]
                .map(OsString::from),
            );
            if let Some(url) = self.settings.pip_mirror {
                argv.extend(["--index-url".into(), url.into()]);
            }
            let env = vec![("PIP_CACHE_DIR", self.cache("pip-cache"))];
            let installed = self.step("pip install", argv, &target.folder, env).await;
            if installed.is_err() {
                let _ = std::fs::remove_dir_all(&partial);
            }
            installed?;
            std::fs::write(partial.join(".fnshim-complete"), format!("{key:016x}\n"))
                .map_err(io_failure("cannot write", &partial))?;
            let _ = std::fs::remove_dir_all(&deps);
            std::fs::rename(&partial, &deps).map_err(io_failure("cannot create", &deps))?;
        }
        target
            .env
            .push(("FNSHIM_PYTHONPATH".into(), deps.display().to_string()));
        Ok(target)
    }

    /// npm, deno and pub install into the project folder itself (node_modules, .dart_tool), so a
    /// read-only folder is first copied to a writable one in the cache.
    async fn in_folder(
        &mut self,
        target: HandlerTarget,
        tool: Tool,
    ) -> Result<HandlerTarget, StepError> {
        let mut target = writable(target, self.settings.cache)?;
        let folder = target.folder.clone();
        let (program, lock_files): (&str, &[&str]) = match tool {
            Tool::Npm => (
                "npm",
                &["package.json", "package-lock.json", "npm-shrinkwrap.json"],
            ),
            Tool::Deno => (
                "deno",
                &["deno.json", "deno.jsonc", "package.json"], // not deno.lock: the worker updates it itself
            ),
            Tool::Pub => ("dart", &["pubspec.yaml", "pubspec.lock"]),
        };
        let binary = match tool {
            Tool::Npm => crate::runtime::find_program("npm", self.settings.search_path)
                .ok_or_else(|| {
                    StepError::Failed(StartError::Unavailable(
                        "package.json needs npm, which is not installed (not found on PATH)".into(),
                    ))
                })?,
            _ => target.binary.clone(),
        };
        let mirror_value = match tool {
            Tool::Npm => self.settings.npm_mirror,
            Tool::Pub => self.settings.pub_mirror,
            Tool::Deno => None,
        };
        // The key is taken again after the install: `npm install` writes the lock file it reads.
        let key = || {
            let parts = lock_files.iter().map(|name| file_part(&folder.join(name)));
            let runtime = [
                identity(&target.binary),
                identity(&binary),
                mirror(mirror_value),
            ];
            format!("{:016x}\n", fnv(parts.chain(runtime)))
        };
        let stamp = match tool {
            Tool::Npm => folder.join("node_modules/.fnshim-stamp"),
            Tool::Pub => folder.join(".dart_tool/.fnshim-stamp"),
            Tool::Deno => self
                .settings
                .cache
                .join("stamps")
                .join(format!("deno-{:016x}", fnv([file_part(&folder)]))),
        };
        let (mut argv, mut env): (Vec<OsString>, Vec<(&'static str, String)>) = match tool {
            Tool::Npm => {
                let locked = folder.join("package-lock.json").is_file()
                    || folder.join("npm-shrinkwrap.json").is_file();
                // `npm ci` follows the user's lock file; without one, `npm install` must not
                // write one either: it would be stale (and make `npm ci` fail) once the user
                // edits package.json, and the function folder is the user's.
                let verb: &[&str] = if locked {
                    &["ci"]
                } else {
                    &["install", "--no-package-lock"]
                };
                let mut argv: Vec<OsString> = vec![binary.clone().into()];
                argv.extend(verb.iter().map(OsString::from));
                argv.extend(
                    ["--omit=dev", "--no-audit", "--no-fund", "--loglevel=warn"]
                        .map(OsString::from),
                );
                (
                    argv,
                    vec![
                        ("npm_config_cache", self.cache("npm-cache")),
                        ("npm_config_update_notifier", "false".into()),
                    ],
                )
            }
            Tool::Deno => (
                vec![binary.clone().into(), "install".into()],
                vec![("DENO_DIR", self.cache("deno"))],
            ),
            Tool::Pub => (
                vec![binary.clone().into(), "pub".into(), "get".into()],
                vec![("PUB_CACHE", self.cache("pub-cache"))],
            ),
        };
        if let (Tool::Npm, Some(url)) = (tool, mirror_value) {
            argv.push(format!("--registry={url}").into());
        }
        if let (Tool::Pub, Some(url)) = (tool, mirror_value) {
            env.push(("PUB_HOSTED_URL", url.to_owned()));
        }
        // The workers need the same caches the installer filled.
        target.env.extend(
            env.iter()
                .filter(|(k, _)| matches!(*k, "DENO_DIR" | "PUB_CACHE"))
                .map(|(k, v)| (k.to_string(), v.clone())),
        );
        if std::fs::read_to_string(&stamp).is_ok_and(|s| s == key())
            && self.settings.mode != InstallDeps::Always
        {
            tracing::info!(program, "dependencies are up to date");
            return Ok(target);
        }
        let what = match tool {
            Tool::Npm => "npm install",
            Tool::Deno => "deno install",
            Tool::Pub => "dart pub get",
        };
        if tool == Tool::Npm && self.settings.mode == InstallDeps::Always {
            // A clean reinstall, as `npm ci` does: npm would otherwise trust its own record of
            // what node_modules holds.
            let _ = std::fs::remove_dir_all(folder.join("node_modules"));
        }
        self.step(what, argv, &folder, env).await?;
        if let Some(parent) = stamp.parent() {
            std::fs::create_dir_all(parent).map_err(io_failure("cannot create", parent))?;
        }
        std::fs::write(&stamp, key()).map_err(io_failure("cannot write", &stamp))?;
        Ok(target)
    }

    async fn step(
        &mut self,
        what: &str,
        argv: Vec<OsString>,
        cwd: &PathBuf,
        env: Vec<(&'static str, String)>,
    ) -> Result<(), StepError> {
        (self.announce)(format!("installing dependencies ({what})"));
        run(
            self.reaper,
            Step {
                what,
                argv,
                cwd,
                env,
            },
            self.settings.limit,
            self.events,
        )
        .await
    }

    fn cache(&self, name: &str) -> String {
        self.settings.cache.join(name).display().to_string()
    }
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

/// What installers create in a project folder: kept in a copy from one start to the next.
const INSTALLED: [&str; 2] = ["node_modules", ".dart_tool"];

/// Makes `to` a copy of the function's files in `from` (files the function no longer has are
/// removed), keeping the packages already installed in `to`.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(to)? {
        let entry = entry?;
        if INSTALLED.iter().any(|kept| entry.file_name() == *kept) {
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
        if matches!(
            name.to_str(),
            Some("node_modules" | ".dart_tool" | "__pycache__" | ".git")
        ) {
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
        let from = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(from.path().join("lib")).unwrap();
        std::fs::create_dir_all(from.path().join("node_modules/x")).unwrap();
        std::fs::write(from.path().join("index.js"), "1").unwrap();
        std::fs::write(from.path().join("lib/a.js"), "2").unwrap();
        let to = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(to.path().join("node_modules/kept")).unwrap();
        std::fs::write(to.path().join("package-lock.json"), "stale").unwrap();
        copy_tree(from.path(), to.path()).unwrap();
        assert!(
            !to.path().join("package-lock.json").exists(),
            "a file the function no longer has goes"
        );
        assert_eq!(
            std::fs::read_to_string(to.path().join("lib/a.js")).unwrap(),
            "2"
        );
        assert!(!to.path().join("node_modules/x").exists());
        assert!(
            to.path().join("node_modules/kept").exists(),
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

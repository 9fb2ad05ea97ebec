//! The runtime images (SPEC §9) in a real Docker engine: `docker run` with mounted functions,
//! `docker compose up`, `docker stop`, reaping, bad input and dependency installs inside
//! containers. `scripts/test.sh` starts the engine and builds the images first
//! (`scripts/docker.sh`, `scripts/images.sh`); a missing image fails its test, except the Dart
//! image, whose base cannot be pulled here (one SKIPPED line).
//!
//! Every container gets a unique name and is removed when its guard drops; ports are published
//! on 127.0.0.1 only, chosen by Docker (`-p 127.0.0.1::8080`).

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::{wait_for, Conn, Request, Response};

mod bad_input;
mod compose;
mod dart;
mod install;
mod lifecycle;
mod runtimes;

/// A container's first answer: the images start in well under a second, a loaded CI machine
/// running several containers at once gets much longer.
const START: Duration = Duration::from_secs(60);
/// `docker` commands that do not start anything (inspect, exec, rm).
const COMMAND: Duration = Duration::from_secs(60);

/// The tag of one of this crate's images, which must have been built.
fn image(runtime: &str) -> String {
    let tag = format!("fnshim/{runtime}:{}", env!("CARGO_PKG_VERSION"));
    assert!(
        image_exists(&tag),
        "the image {tag} is missing: build it with `bash scripts/docker.sh && bash scripts/images.sh` \
         (scripts/test.sh does both before the tests)"
    );
    tag
}

fn image_exists(tag: &str) -> bool {
    docker(&["image", "inspect", "--format", "{{.Id}}", tag])
        .status
        .success()
}

/// Runs `docker ARGS` to completion within `COMMAND`.
fn docker(args: &[&str]) -> Output {
    run_bounded(Command::new("docker").args(args), COMMAND)
}

/// Runs a command to completion; a command still running at `limit` is killed and reported.
fn run_bounded(command: &mut Command, limit: Duration) -> Output {
    let shown = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {shown}: {e} (is Docker installed? scripts/docker.sh)")
        });
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("{shown} still ran after {limit:?}{}", report(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn report(out: &Output) -> String {
    format!(
        "\n--- status: {}\n--- stdout:\n{}\n--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A name no other test (or an earlier run's leftovers) uses.
fn unique_name(what: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("fnshim-it-{what}-{}-{n}", std::process::id())
}

/// The host's CA bundle: the registries are reached through a TLS-inspecting proxy.
const HOST_CA: &str = "/etc/ssl/certs/ca-certificates.crt";

/// What `docker run` gets: image, mounts, environment, extra options, command arguments.
struct Run {
    image: String,
    options: Vec<String>,
    args: Vec<String>,
}

impl Run {
    fn new(image: String) -> Run {
        Run {
            image,
            options: vec![],
            args: vec![],
        }
    }

    /// A function folder at /app/function (`:ro` when `read_only`).
    fn function(self, folder: &Path, read_only: bool) -> Run {
        let mode = if read_only { ":ro" } else { "" };
        self.option("-v", &format!("{}:/app/function{mode}", folder.display()))
    }

    fn env(self, key: &str, value: &str) -> Run {
        self.option("-e", &format!("{key}={value}"))
    }

    /// The host's CA bundle mounted read-only where Debian keeps its own, and named for every
    /// tool that keeps a separate trust store (npm's Node, pip, Deno).
    fn host_ca(self) -> Run {
        let mut run = self.option("-v", &format!("{HOST_CA}:{HOST_CA}:ro"));
        for key in [
            "SSL_CERT_FILE",
            "NODE_EXTRA_CA_CERTS",
            "PIP_CERT",
            "REQUESTS_CA_BUNDLE",
            "DENO_CERT",
        ] {
            run = run.env(key, HOST_CA);
        }
        run
    }

    fn option(mut self, name: &str, value: &str) -> Run {
        self.options.extend([name.to_string(), value.to_string()]);
        self
    }

    fn arg(mut self, arg: &str) -> Run {
        self.args.push(arg.into());
        self
    }

    fn argv(&self, name: &str, detach: bool) -> Vec<String> {
        let mut argv = vec!["run".to_string(), "--name".into(), name.into()];
        if detach {
            argv.extend(["-d".into(), "-p".into(), "127.0.0.1::8080".into()]);
        }
        argv.extend(self.options.iter().cloned());
        argv.push(self.image.clone());
        argv.extend(self.args.iter().cloned());
        argv
    }

    /// `docker run -d`: the container serving on a loopback port of Docker's choice.
    fn start(self) -> Container {
        let name = unique_name("run");
        let argv = self.argv(&name, true);
        let container = Container::adopt(name);
        let out = run_bounded(Command::new("docker").args(&argv), START);
        assert!(
            out.status.success(),
            "docker {}{}",
            argv.join(" "),
            report(&out)
        );
        container
    }

    /// `docker run` in the foreground, to its exit: (exit code, container output).
    fn run_to_exit(self) -> (i32, String) {
        let name = unique_name("exit");
        let argv = self.argv(&name, false);
        let _container = Container::adopt(name);
        let out = run_bounded(Command::new("docker").args(&argv), START);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }
}

/// A container removed (`docker rm -f`) when dropped.
struct Container {
    name: String,
}

impl Container {
    fn adopt(name: String) -> Container {
        Container { name }
    }

    /// The host port Docker published for the container's 8080.
    fn port(&self) -> u16 {
        let out = docker(&["port", &self.name, "8080/tcp"]);
        let text = String::from_utf8_lossy(&out.stdout);
        let first = text.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("127.0.0.1:"),
            "8080 must be published on 127.0.0.1 only: {text:?}{self}"
        );
        first.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// `{{.State.Status}}`, `{{.State.ExitCode}}`, `{{.State.Health.Status}}`, ...
    fn inspect(&self, format: &str) -> String {
        let out = docker(&["inspect", "--format", format, &self.name]);
        assert!(
            out.status.success(),
            "docker inspect {}{}",
            self.name,
            report(&out)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn running(&self) -> bool {
        self.inspect("{{.State.Running}}") == "true"
    }

    /// Waits until `/_/ready` answers 200; the container exiting first fails the test.
    fn wait_ready(&self) -> u16 {
        self.wait_ready_within(START)
    }

    /// `wait_ready` with another bound (a start that installs dependencies).
    fn wait_ready_within(&self, limit: Duration) -> u16 {
        let port = self.port();
        let ready = wait_for(limit, || {
            if !self.running() {
                panic!("the container exited before it was ready{self}");
            }
            let answer = Conn::connect(port).and_then(|mut c| c.request(&Request::get("/_/ready")));
            answer.ok().filter(|r| r.status == 200)
        });
        assert!(ready.is_some(), "not ready within {limit:?}{self}");
        port
    }

    fn get(&self, port: u16, target: &str) -> Response {
        Conn::connect(port)
            .and_then(|mut c| c.request(&Request::get(target)))
            .unwrap_or_else(|e| panic!("GET {target}: {e}{self}"))
    }

    /// `docker exec` as the image's user.
    fn exec(&self, argv: &[&str]) -> Output {
        let mut args = vec!["exec", self.name.as_str()];
        args.extend(argv);
        docker(&args)
    }

    fn logs(&self) -> String {
        let out = docker(&["logs", &self.name]);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

impl fmt::Display for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\n--- container {} logs:\n{}", self.name, self.logs())
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// A copy of an example's files (`function_folder`'s modes), for a read-write mount.
fn copy_of(example: &Path) -> tempfile::TempDir {
    let files: Vec<(String, String)> = std::fs::read_dir(example)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    let named: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    function_folder(&named)
}

/// A function folder for a container: owned by root like any host folder, but readable by
/// the image's user (uid 10001), which a private temp dir (0700) would not be.
fn function_folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("fnshim-docker-fn-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    dir
}

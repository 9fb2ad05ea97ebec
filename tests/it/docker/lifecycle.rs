//! A container's life under Docker: `docker stop` drains an in-flight request and exits 0
//! well inside Docker's 10 s, fnshim as PID 1 reaps orphans, and the image's HEALTHCHECK
//! turns healthy.

use super::*;

const SLOW_HANDLER: &str = "exports.handler = async (event) => {
  if (event.path === '/slow') {
    console.log('slow request started');
    await new Promise((done) => setTimeout(done, 3000));
    return 'finished after the stop';
  }
  return 'quick';
};";

#[test]
fn docker_stop_drains_an_in_flight_request_and_exits_0() {
    let folder = function_folder(&[("index.js", SLOW_HANDLER)]);
    let container = Run::new(image("node"))
        .function(folder.path(), true)
        .start();
    let port = container.wait_ready();
    let slow = std::thread::spawn(move || {
        Conn::connect(port).and_then(|mut c| c.request(&Request::get("/slow")))
    });
    // The handler's own log line: it proves the handler itself is running, not just queued.
    let in_flight = wait_for(START, || {
        container
            .logs()
            .contains("slow request started")
            .then_some(())
    });
    assert!(
        in_flight.is_some(),
        "the slow request never arrived{container}"
    );

    let started = Instant::now();
    let out = docker(&["stop", "--time", "10", &container.name]);
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "docker stop{}{container}",
        report(&out)
    );
    assert!(
        took < Duration::from_secs(8),
        "docker stop took {took:?}: fnshim must exit well inside Docker's 10 s{container}"
    );
    assert_eq!(container.inspect("{{.State.ExitCode}}"), "0", "{container}");
    assert_eq!(container.inspect("{{.State.OOMKilled}}"), "false");

    let slow = slow
        .join()
        .unwrap()
        .expect("the in-flight request must be answered");
    assert_eq!(slow.status, 200, "{slow}{container}");
    assert_eq!(slow.text(), "finished after the stop", "{slow}{container}");
}

/// The handler leaves a background `sleep` behind (its shell exits at once): the orphan is
/// re-parented to PID 1, fnshim, which must reap it when it exits, or a zombie would stay.
/// The orphan lives until the test has seen its parent (a `docker exec` can take seconds on a
/// loaded machine: a short sleep could be gone by then), then the test kills it.
const ORPHAN_MAKER: &str = "import subprocess

def handler(event, context):
    out = subprocess.run(['sh', '-c', 'sleep 300 >/dev/null 2>&1 & echo $!'], capture_output=True, text=True, check=True)
    return {'orphan': int(out.stdout)}
";

#[test]
fn pid_1_reaps_orphans_inside_the_container() {
    let folder = function_folder(&[("main.py", ORPHAN_MAKER)]);
    let container = Run::new(image("python"))
        .function(folder.path(), true)
        .start();
    let port = container.wait_ready();
    let status_of = |pid: &str| {
        let out = container.exec(&["cat", &format!("/proc/{pid}/status")]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let init = container.exec(&["cat", "/proc/1/comm"]);
    assert_eq!(
        String::from_utf8_lossy(&init.stdout).trim(),
        "fnshim",
        "{container}"
    );

    let r = container.get(port, "/invoke");
    assert_eq!(r.status, 200, "{r}{container}");
    let orphan = r.json()["orphan"].to_string();
    let status = status_of(&orphan)
        .unwrap_or_else(|| panic!("the orphan {orphan} is already gone{container}"));
    assert!(
        status.contains("\nPPid:\t1\n"),
        "the orphan was not re-parented to fnshim:\n{status}{container}"
    );
    // The same user as the function: it may signal its own process.
    let killed = container.exec(&["sh", "-c", &format!("kill {orphan}")]);
    assert!(
        killed.status.success(),
        "kill {orphan}{}{container}",
        report(&killed)
    );

    let reaped = wait_for(Duration::from_secs(20), || {
        status_of(&orphan).is_none().then_some(())
    });
    let last = status_of(&orphan).unwrap_or_default();
    assert!(
        reaped.is_some(),
        "the orphan {orphan} was never reaped:\n{last}{container}"
    );
}

#[test]
fn the_healthcheck_turns_healthy() {
    let container = Run::new(image("python"))
        .function(&examples().join("python-hello"), true)
        .start();
    container.wait_ready();
    assert_eq!(
        container.inspect("{{json .Config.Healthcheck.Test}}"),
        r#"["CMD","/usr/local/bin/fnshim","health"]"#
    );
    // The first check runs one interval (10 s) after the start.
    let healthy = wait_for(Duration::from_secs(45), || {
        (container.inspect("{{.State.Health.Status}}") == "healthy").then_some(())
    });
    let log = container.inspect("{{json .State.Health}}");
    assert!(healthy.is_some(), "never healthy: {log}{container}");
}

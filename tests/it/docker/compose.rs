//! `docker compose up -d` of examples/docker-compose.yml (without the dart profile): every
//! service answers on its 127.0.0.1 port, then `docker compose down` removes them all.

use super::*;

/// `docker compose` (the plugin) when the client has it, else Debian's `docker-compose`.
fn compose(project: &str, args: &[&str]) -> Output {
    let file = examples().join("docker-compose.yml");
    let plugin = docker(&["compose", "version"]).status.success();
    let mut command = if plugin {
        let mut c = Command::new("docker");
        c.arg("compose");
        c
    } else {
        Command::new("docker-compose")
    };
    command
        .arg("--project-name")
        .arg(project)
        .arg("--file")
        .arg(file)
        .args(args);
    run_bounded(&mut command, START)
}

/// `docker compose down` when dropped, whatever the test did.
struct Project(String);

impl Drop for Project {
    fn drop(&mut self) {
        compose(&self.0, &["down", "--volumes", "--timeout", "10"]);
    }
}

fn containers_of(project: &str) -> Vec<String> {
    let filter = format!("label=com.docker.compose.project={project}");
    let out = docker(&["ps", "--all", "--quiet", "--filter", &filter]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn compose_up_serves_every_runtime_and_down_removes_them() {
    for runtime in ["node", "python", "deno"] {
        image(runtime);
    }
    let project = Project(unique_name("compose"));
    let up = compose(&project.0, &["up", "--detach"]);
    assert!(up.status.success(), "docker compose up{}", report(&up));
    assert_eq!(
        containers_of(&project.0).len(),
        4,
        "node, python, deno and custom, not dart (a profile)"
    );

    let logs = || report(&compose(&project.0, &["logs", "--no-color"]));
    for (service, port, greeting) in [
        ("node", 8081, "from Node.js behind fnshim"),
        ("python", 8082, "from Python behind fnshim"),
        ("deno", 8083, "from Deno behind fnshim"),
        (
            "custom",
            8084,
            "Hello from a custom bootstrap behind fnshim",
        ),
    ] {
        let answer = wait_for(START, || {
            let r = Conn::connect(port)
                .and_then(|mut c| c.request(&Request::get("/hello?name=compose")));
            r.ok().filter(|r| r.status == 200)
        });
        let r = answer.unwrap_or_else(|| {
            panic!("{service} never answered 200 on 127.0.0.1:{port}{}", logs())
        });
        assert!(r.text().contains(greeting), "{service}: {r}");
    }

    let down = compose(&project.0, &["down", "--timeout", "10"]);
    assert!(
        down.status.success(),
        "docker compose down{}",
        report(&down)
    );
    assert_eq!(
        containers_of(&project.0),
        Vec::<String>::new(),
        "containers left after down"
    );
    assert!(
        Conn::connect(8081).is_err(),
        "127.0.0.1:8081 still answers after down"
    );
}

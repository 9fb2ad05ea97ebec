//! f.yml (seed 004) in the function folder: several functions in one container, each with its
//! own runtime, environment, timeout and routes; path parameters in the event; timers; cloud-only
//! keys warned about once; a malformed file is exit 64 with its line and column.

use super::*;

const SERVICE: &str = "service: shop
provider:
  name: aliyun
  role: acs:ram::1:role/x
  timeout: 5s
  environment:
    SHARED: provider
    STAGE: prod
functions:
  users:
    handler: users.get
    timeout: 1s
    environment:
      SHARED: users
    events:
      - http:
          path: /users/:id
          method: get
  rest:
    handler: index.handler
    events:
      - http:
          path: /*
          method: all
";

/// Node: the users function, with `?sleep=MS` to outlive its one-second timeout.
const USERS: &str = "exports.get = async (event, context) => {
  const sleep = Number((event.queryStringParameters || {}).sleep || 0);
  await new Promise((resolve) => setTimeout(resolve, sleep));
  return { fn: 'users', shared: process.env.SHARED, stage: process.env.STAGE,
           params: event.pathParameters, resource: event.resource,
           name: context.functionName, event: event.httpMethod ? undefined : event };
};
";

/// Python: the catch-all function.
const REST: &str = "import os, time
def handler(event, context):
    query = event.get('queryStringParameters') or {}
    time.sleep(int(query.get('sleep', 0)) / 1000)
    return {'fn': 'rest', 'shared': os.environ.get('SHARED'), 'stage': os.environ.get('STAGE'),
            'params': event.get('pathParameters'), 'name': context.function_name}
";

fn shop() -> Served {
    let files = [("f.yml", SERVICE), ("users.js", USERS), ("index.py", REST)];
    serve(&files, &[("FUNCTION_WORKERS", "1")])
}

#[test]
fn two_functions_on_two_paths_with_their_own_env_and_timeout() {
    let served = shop();
    let users = ok_json(&served.get("/users/42"), &served);
    assert_eq!(users["fn"], "users", "{served}");
    assert_eq!(users["shared"], "users", "the function's env wins{served}");
    assert_eq!(
        users["stage"], "prod",
        "the provider's env is merged under it{served}"
    );
    assert_eq!(users["params"], json!({"id": "42"}), "{served}");
    assert_eq!(users["resource"], "/users/{id}", "{served}");
    assert_eq!(users["name"], "users", "{served}");

    let rest = ok_json(&served.get("/orders/7"), &served);
    assert_eq!(rest["fn"], "rest", "{served}");
    assert_eq!(rest["shared"], "provider", "{served}");
    assert_eq!(rest["params"], json!({"proxy": "orders/7"}), "{served}");
    assert_eq!(rest["name"], "rest", "{served}");

    // users' method list is GET only: a POST falls through to the catch-all.
    let posted = served.send(&Request::post("/users/42").body("{}"));
    assert_eq!(ok_json(&posted, &served)["fn"], "rest", "{served}");

    // Each function keeps its own timeout: 1s for users, the provider's 5s for rest.
    let slow_users = served.get("/users/1?sleep=2000");
    assert_error(&slow_users, 504, "TimeoutError", &served);
    let slow_rest = served.get("/x?sleep=2000");
    assert_eq!(ok_json(&slow_rest, &served)["fn"], "rest", "{served}");

    let warned: Vec<Value> = served
        .logs()
        .into_iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.contains("cloud platform"))
        })
        .collect();
    assert_eq!(warned.len(), 1, "one warning for cloud-only keys{served}");
    assert!(
        warned[0]["keys"]
            .as_str()
            .is_some_and(|k| k.contains("provider.role")),
        "{served}"
    );
}

#[test]
fn invoke_by_name_reaches_that_function_and_unknown_names_are_404() {
    let served = shop();
    let by_name = served.send(
        &Request::post("/invoke/users")
            .header("content-type", "application/json")
            .body(r#"{"order": 9}"#),
    );
    let j = ok_json(&by_name, &served);
    assert_eq!(
        (&j["fn"], &j["event"]),
        (&json!("users"), &json!({"order": 9})),
        "{served}"
    );
    let first = invoke(&served, &json!({"plain": true}));
    assert_eq!(
        ok_json(&first, &served)["fn"],
        "users",
        "plain /invoke goes to the first function{served}"
    );
    let unknown = served.send(&Request::post("/invoke/nobody").body("{}"));
    let error = assert_error(&unknown, 404, "NotFound", &served);
    assert!(
        error["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("users, rest")),
        "the error names the functions{served}"
    );
}

#[test]
fn paths_no_route_matches_are_404() {
    let yml = "functions:\n  foo:\n    handler: main.handler\n    events:\n      - http:\n          path: /foo\n          method: [GET]\n";
    let main = "def handler(event, context):\n    return 'foo'\n";
    let served = serve(
        &[("f.yml", yml), ("main.py", main)],
        &[("FUNCTION_WORKERS", "1")],
    );
    assert_eq!(served.get("/foo").status, 200, "{served}");
    let missed = served.get("/bar");
    let error = assert_error(&missed, 404, "NotFound", &served);
    assert!(
        error["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("GET /bar")),
        "{served}"
    );
    assert_error(
        &served.send(&Request::post("/foo").body("x")),
        404,
        "NotFound",
        &served,
    );
}

#[test]
fn timers_invoke_their_function_with_the_payload() {
    let yml = "functions:
  web:
    handler: main.handler
  cleanup:
    handler: jobs.cleanup
    events:
      - timer:
          name: every-second
          type: every
          value: 1s
          payload: sweep
      - timer:
          type: every
          value: 1s
          payload: disabled
          enable: false
";
    let web = "def handler(event, context):\n    return 'web'\n";
    let jobs = "import json\ndef cleanup(event, context):\n    print('TICK ' + context.function_name + ' ' + json.dumps(event), flush=True)\n    return 'ok'\n";
    let served = serve(
        &[("f.yml", yml), ("main.py", web), ("jobs.py", jobs)],
        &[("FUNCTION_WORKERS", "1")],
    );
    let ticks = || printed(&served, "TICK ");
    let fired = wait_for(Duration::from_secs(10), || {
        (ticks().len() >= 2).then_some(())
    });
    assert!(fired.is_some(), "fewer than two ticks{served}");
    for tick in ticks() {
        let (name, event) = tick.split_once(' ').unwrap();
        assert_eq!(name, "cleanup", "{served}");
        let event: Value = serde_json::from_str(event).unwrap();
        assert_eq!(
            event["payload"], "sweep",
            "the disabled timer never fires{served}"
        );
        assert_eq!(event["triggerName"], "every-second", "{served}");
    }
    // Without http events the first function serves every path.
    let r = served.get("/anything");
    assert_eq!((r.status, r.text().as_str()), (200, "web"), "{r}{served}");
}

#[test]
fn a_malformed_f_yml_is_exit_64_with_line_and_column() {
    let bad = "functions:\n  a:\n    handler: main.handler\n   events: [\n";
    let served = start(
        &[
            ("f.yml", bad),
            ("main.py", "def handler(e, c):\n    return 1\n"),
        ],
        &[],
    );
    assert_eq!(served.wait_code(Duration::from_secs(10)), 64, "{served}");
    let stderr = served.stderr();
    assert!(
        stderr.contains("f.yml") && stderr.contains("line 4") && stderr.contains("column"),
        "{served}"
    );
}

#[test]
fn an_f_yml_handler_without_its_file_is_exit_65() {
    let yml = "functions:\n  a:\n    handler: missing.handler\n";
    let served = start(
        &[
            ("f.yml", yml),
            ("main.py", "def handler(e, c):\n    return 1\n"),
        ],
        &[],
    );
    assert_eq!(served.wait_code(Duration::from_secs(10)), 65, "{served}");
    assert!(
        served.stderr().contains("missing.{js,mjs,cjs,ts,py,dart}"),
        "{served}"
    );
}

#[test]
fn check_lists_every_function_with_its_routes() {
    let function = Function::empty();
    for (name, text) in [("f.yml", SERVICE), ("users.js", USERS), ("index.py", REST)] {
        function.write(name, text, 0o644);
    }
    let cache = tempfile::tempdir().unwrap();
    let shim = fnshim()
        .function(&function)
        .env("CACHE_DIR", cache.path().to_str().unwrap())
        .env("FUNCTION_WORKERS", "1")
        .arg("check")
        .run();
    assert_eq!(shim.wait_code(SLOW_START), 0, "{shim}");
    let out = shim.stdout();
    for expected in [
        "function: users",
        "runtime: Node",
        "routes: GET /users/{id}",
        "timeout: 1s",
        "environment: SHARED STAGE",
        "function: rest",
        "runtime: Python",
        "routes: ANY /{proxy+}",
        "timeout: 5s",
    ] {
        assert!(out.contains(expected), "no {expected:?} in{shim}");
    }
    assert!(
        !out.contains("prod"),
        "environment values are not printed{shim}"
    );
}

#[test]
fn a_lambda_style_function_handler_picks_the_file_and_the_export() {
    let app = "def lambda_handler(event, context):\n    return {'from': 'app'}\n";
    let main = "def handler(event, context):\n    return {'from': 'main'}\n";
    let served = serve(
        &[("app.py", app), ("main.py", main)],
        &[
            ("FUNCTION_HANDLER", "app.lambda_handler"),
            ("FUNCTION_WORKERS", "1"),
        ],
    );
    assert_eq!(
        ok_json(&served.get("/"), &served)["from"],
        "app",
        "{served}"
    );
}

#[test]
fn the_bundled_f_yml_example_routes_its_functions() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fyml-service");
    let cache = tempfile::tempdir().unwrap();
    let shim = fnshim()
        .env("FUNCTION_PATH", example.to_str().unwrap())
        .env("CACHE_DIR", cache.path().to_str().unwrap())
        .spawn();
    shim.wait_ready();
    let user = shim.get("/users/42").json();
    assert_eq!(
        user,
        json!({"id": "42", "table": "users", "stage": "dev", "function": "users"}),
        "{shim}"
    );
    let web = shim.get("/anything/else");
    assert_eq!(
        (web.status, web.text().as_str()),
        (200, "web: /anything/else\n"),
        "{shim}"
    );
    let invoked = shim.send(
        &Request::post("/invoke/cleanup")
            .header("content-type", "application/json")
            .body(r#"{"triggerTime":"now","payload":"manual"}"#),
    );
    assert_eq!(invoked.json(), json!("done"), "{invoked}{shim}");
}

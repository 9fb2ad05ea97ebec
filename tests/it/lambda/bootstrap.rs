//! A custom `bootstrap` serving HTTP behind the Lambda client (what the Lambda Web Adapter
//! does): API Gateway events as the requests they stand for, other events as `POST /invoke`,
//! and the bootstrap's failures as the invocations' errors.

use super::*;

struct Running {
    shim: Shim,
    emulator: Emulator,
    _function: Function,
    _cache: tempfile::TempDir,
}

/// `tests/fixtures/upstream.py` as the bootstrap, polled by fnshim under a fresh emulator.
fn running(timeout: &str) -> Running {
    let emulator = Emulator::start();
    let function = Function::upstream(&[]);
    let cache = cache_dir();
    let shim = in_lambda(&emulator, &cache)
        .function(&function)
        .env("FUNCTION_TIMEOUT", timeout)
        .spawn();
    wait_polling(&shim, STARTUP);
    Running {
        shim,
        emulator,
        _function: function,
        _cache: cache,
    }
}

/// The upstream's echo of the request it received (the body of the integration response).
fn echoed(integration: &Value) -> Value {
    serde_json::from_str(integration["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null)
}

fn header_values(echo: &Value, name: &str) -> Vec<String> {
    let pairs = echo["headers"].as_array().cloned().unwrap_or_default();
    pairs
        .iter()
        .filter(|p| p[0] == name)
        .map(|p| p[1].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn v1_to(path: &str, query: Value) -> Value {
    let mut event = api_v1(path);
    event["multiValueQueryStringParameters"] = query;
    event["queryStringParameters"] = Value::Null;
    event
}

#[test]
fn api_gateway_events_become_requests_to_the_bootstrap() {
    let Running {
        shim,
        emulator,
        _function,
        _cache,
    } = running("30s");
    let v1 = answer(&emulator.invoke(&api_v1("/orders/7")), &shim);
    assert_eq!(v1["statusCode"], 200, "{v1}{shim}");
    assert!(v1["multiValueHeaders"]["content-type"].is_array(), "{v1}");
    let echo = echoed(&v1);
    assert_eq!(
        (echo["method"].as_str(), echo["path"].as_str()),
        (Some("POST"), Some("/orders/7")),
        "{v1}"
    );
    assert_eq!(echo["query"], "id=1&id=2&q=a%20b", "{echo}");
    assert_eq!(header_values(&echo, "x-tag"), ["a", "b"], "{echo}");
    assert_eq!(echo["body"], "hello v1");
    let context = header_values(&echo, "x-amzn-request-context");
    assert!(
        context.first().is_some_and(|c| c.contains("\"gw-1\"")),
        "{echo}"
    );
    let logged = wait_for(STARTUP, || {
        Some(invocations(&shim)).filter(|l| !l.is_empty())
    });
    let logged = logged.unwrap_or_else(|| panic!("no invocation line{shim}"));
    assert_eq!(
        header_values(&echo, "x-request-id"),
        [logged[0]["request_id"].as_str().unwrap()]
    );

    let v2 = answer(&emulator.invoke(&api_v2("/items")), &shim);
    assert_eq!(v2["statusCode"], 200, "{v2}{shim}");
    assert!(
        v2["cookies"].is_array() && v2.get("multiValueHeaders").is_none(),
        "{v2}"
    );
    let echo = echoed(&v2);
    assert_eq!(
        (echo["method"].as_str(), echo["path"].as_str()),
        (Some("PUT"), Some("/items")),
        "{v2}"
    );
    assert_eq!(echo["query"], "id=1&id=2");
    assert_eq!(header_values(&echo, "cookie"), ["s=1; t=2"], "{echo}");
    assert_eq!(echo["body_len"], 4, "the base64 body is decoded: {echo}");

    let mut teapot = api_v2("/status");
    teapot["rawQueryString"] = json!("code=418");
    let status = answer(&emulator.invoke(&teapot), &shim);
    assert_eq!(status["statusCode"], 418, "{status}");
}

#[test]
fn other_events_are_post_invoke() {
    let Running {
        shim,
        emulator,
        _function,
        _cache,
    } = running("30s");
    let response = emulator.invoke(&json!({"key": "value"}));
    assert_eq!(response.status, 200, "{response}{shim}");
    let echo = answer(&response, &shim);
    assert_eq!(
        (echo["method"].as_str(), echo["path"].as_str()),
        (Some("POST"), Some("/invoke")),
        "{echo}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(echo["body"].as_str().unwrap()).unwrap(),
        json!({"key": "value"})
    );
}

#[test]
fn bootstrap_timeouts_and_crashes_are_errors_and_it_restarts() {
    let Running {
        shim,
        emulator,
        _function,
        _cache,
    } = running("4s");
    let slow = answer(
        &emulator.invoke(&v1_to("/sleep", json!({"ms": ["10000"]}))),
        &shim,
    );
    assert_eq!(slow["errorType"], "Sandbox.Timedout", "{slow}{shim}");
    let crash = answer(
        &emulator.invoke(&v1_to("/exit", json!({"code": ["3"]}))),
        &shim,
    );
    assert_eq!(crash["errorType"], "Runtime.ExitError", "{crash}{shim}");
    let after = answer(&emulator.invoke(&api_v1("/after")), &shim);
    assert_eq!(after["statusCode"], 200, "{after}{shim}");
    assert_eq!(echoed(&after)["path"], "/after");
}

#[test]
fn alb_and_function_url_events_get_their_own_response_shape() {
    let Running {
        shim,
        emulator,
        _function,
        _cache,
    } = running("30s");
    let alb = json!({
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/t/1"}},
        "httpMethod": "GET", "path": "/lambda",
        "multiValueQueryStringParameters": {"myKey": ["val1", "val%202"]},
        "multiValueHeaders": {"accept": ["text/html"], "x-tag": ["1", "2"]},
        "body": "", "isBase64Encoded": false
    });
    let answered = answer(&emulator.invoke(&alb), &shim);
    assert_eq!(answered["statusDescription"], "200 OK", "{answered}{shim}");
    assert!(
        answered["multiValueHeaders"].is_object() && answered.get("headers").is_none(),
        "{answered}"
    );
    let echo = echoed(&answered);
    assert_eq!(echo["query"], "myKey=val1&myKey=val%202", "{echo}");
    assert_eq!(header_values(&echo, "x-tag"), ["1", "2"], "{echo}");
    let mut url = api_v2("/from-url");
    url["requestContext"]["domainName"] = json!("abc.lambda-url.us-west-2.on.aws");
    url["headers"]["host"] = json!("abc.lambda-url.us-west-2.on.aws");
    let answered = answer(&emulator.invoke(&url), &shim);
    assert_eq!(answered["statusCode"], 200, "{answered}{shim}");
    let echo = echoed(&answered);
    assert_eq!(echo["path"], "/from-url");
    assert_eq!(
        header_values(&echo, "host"),
        ["abc.lambda-url.us-west-2.on.aws"],
        "{echo}"
    );
}

//! Requests that are malformed, oversized or ambiguous in their framing, in both modes: hyper's
//! parser and `server::framing` refuse them before any function sees them.

use super::*;

/// A raw request and the status fnshim answers it with.
struct Case {
    name: &'static str,
    raw: Vec<u8>,
    status: u16,
}

fn case(name: &'static str, raw: impl Into<Vec<u8>>, status: u16) -> Case {
    Case {
        name,
        raw: raw.into(),
        status,
    }
}

fn cases() -> Vec<Case> {
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(100_000));
    let long_header = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100_000)
    );
    let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many_headers = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    let post = |framing: &str, body: &str| {
        format!("POST /x HTTP/1.1\r\nHost: x\r\n{framing}\r\n{body}").into_bytes()
    };
    vec![
        case("a request line over 64 KiB", long_target, 431),
        case("a header over 64 KiB", long_header, 431),
        case("200 headers", many_headers, 431),
        case(
            "bytes that are not HTTP",
            &b"\x00\x01\x02\xffGARBAGE\r\n\r\n"[..],
            400,
        ),
        case(
            "HTTP/1.1 without Host",
            &b"GET /x HTTP/1.1\r\n\r\n"[..],
            400,
        ),
        case(
            "two Host headers",
            &b"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"[..],
            400,
        ),
        case(
            "HTTP/1.0 without Host",
            &b"GET /x HTTP/1.0\r\n\r\n"[..],
            200,
        ),
        case(
            "two different Content-Lengths",
            post("Content-Length: 4\r\nContent-Length: 5\r\n", "abcde"),
            400,
        ),
        case(
            "the same Content-Length twice",
            post("Content-Length: 4\r\nContent-Length: 4\r\n", "abcd"),
            200,
        ),
        case(
            "a chunk size that is not hex",
            post("Transfer-Encoding: chunked\r\n", "zz\r\nab\r\n0\r\n\r\n"),
            400,
        ),
        case(
            "a chunk size past 64 bits",
            post(
                "Transfer-Encoding: chunked\r\n",
                "ffffffffffffffffffff\r\nab\r\n0\r\n\r\n",
            ),
            400,
        ),
        case(
            "a transfer coding other than chunked",
            post("Transfer-Encoding: gzip\r\n", "abc"),
            400,
        ),
        case(
            "invalid UTF-8 in the path",
            &b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            400,
        ),
        case(
            "invalid UTF-8 in a header value",
            &b"GET /x HTTP/1.1\r\nHost: x\r\nX-A: \xff\xfe\r\n\r\n"[..],
            200,
        ),
        case(
            "a path above the root",
            &b"GET /invoke/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            400,
        ),
        case(
            "an encoded path above the root",
            &b"GET /a/%2e%2E/%2e%2e/x HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            400,
        ),
    ]
}

fn answers_every_case(shim: &Shim, mode: &str) {
    let port = shim.port();
    for case in cases() {
        let r = exchange(port, &case.raw, "GET");
        assert_eq!(
            r.status,
            case.status,
            "{mode}: {}: {:?}{r}{shim}",
            case.name,
            shown(&case.raw)
        );
        if case.status == 400 && r.header("content-type") == Some("application/json") {
            assert_eq!(
                r.json()["errorType"],
                "BadRequest",
                "{mode}: {}{r}",
                case.name
            );
        }
        serves_next(shim, case.name);
    }
}

#[test]
fn malformed_requests_get_the_same_answers_in_proxy_mode() {
    let (shim, _f, log) = proxied(&[]);
    answers_every_case(&shim, "proxy");
    let reached: Vec<String> = received(&log)
        .into_iter()
        .filter(|l| !l.starts_with("GET /after "))
        .collect();
    let expected = ["GET /x 0", "POST /x 4", "GET /x 0"];
    assert_eq!(
        reached, expected,
        "only the well-formed requests reach the server{shim}"
    );
}

#[test]
fn malformed_requests_get_the_same_answers_in_handler_mode() {
    let served = node_echo(&[]);
    answers_every_case(&served, "handler");
}

/// `Content-Length` beside `Transfer-Encoding: chunked`, the request smuggler's tool: the
/// chunks are the body, the server behind fnshim sees one request without `Content-Length`,
/// and the bytes after the chunks are not served as a second request.
#[test]
fn content_length_beside_chunked_smuggles_nothing() {
    let (shim, _f, log) = proxied(&[]);
    let raw =
        b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n\
        0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut conn = Conn::connect(shim.port()).unwrap();
    conn.write_raw(raw).unwrap();
    let r = conn.read_response("POST").unwrap();
    assert_eq!(r.status, 200, "{r}{shim}");
    assert_eq!(r.header("connection"), Some("close"), "{r}{shim}");
    let echo = r.json();
    let framing = |name: &str| {
        echo["headers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h[0] == name)
            .count()
    };
    assert_eq!(framing("content-length"), 0, "{echo}");
    if let Ok(after) = conn.read_head("GET") {
        panic!("a second answer on the connection: {after}{shim}");
    }
    serves_next(&shim, "CL + TE");
    let reached = received(&log);
    assert_eq!(
        reached.iter().filter(|l| l.contains("smuggled")).count(),
        0,
        "{reached:?}"
    );
    assert_eq!(reached[0], "POST /x 0", "{reached:?}");
}

/// In handler mode dot segments are resolved before routing, as nginx's locations do, and the
/// event carries the resolved path.
#[test]
fn handler_routes_and_events_see_resolved_paths() {
    let served = node_echo(&[]);
    let r = exchange(
        served.port(),
        b"GET /a/./b/%2e%2e/c?q=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET",
    );
    assert_eq!(r.status, 200, "{r}{served}");
    assert_eq!(r.json()["path"], "/a/c", "{r}{served}");
}

/// f.yml mode: `/invoke/../..` and its encoded forms never escape the routes (400), a name
/// with an encoded slash is no function (404), and the routes still serve after them.
#[test]
fn dot_segments_in_f_yml_mode_are_refused_or_resolved() {
    let fyml = "service: s\nfunctions:\n  users:\n    handler: users.get\n    events:\n      \
        - http: { path: /users/:id, method: [GET] }\n";
    let users =
        "exports.get = async (event) => ({ statusCode: 200, body: event.pathParameters.id });";
    let served = serve(&[("f.yml", fyml), ("users.js", users)], &[]);
    let port = served.port();
    for path in [
        "/invoke/../../etc/passwd",
        "/invoke/%2e%2e/%2E%2e/f.yml",
        "/users/../../x",
    ] {
        let r = exchange(
            port,
            format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}").as_bytes(),
            "POST",
        );
        assert_eq!(r.status, 400, "{path}{r}{served}");
    }
    let r = exchange(
        port,
        b"POST /invoke/..%2fusers HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
        "POST",
    );
    assert_eq!(
        r.status, 404,
        "an encoded slash names no function{r}{served}"
    );
    let r = exchange(
        port,
        b"GET /x/../users/42 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET",
    );
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "42"),
        "resolved before routing{r}{served}"
    );
}

/// Proxy mode at LOG_LEVEL=debug: credentials in headers never reach the log.
#[test]
fn secrets_stay_out_of_the_proxy_log_at_debug() {
    let (shim, _f, _log) = proxied(&[("LOG_LEVEL", "debug")]);
    let r = shim.send(
        &Request::get("/echo")
            .header("Authorization", "Bearer s3cr3t-token")
            .header("Cookie", "session=t0p-s3cr3t")
            .header("x-fc-access-key-secret", "k3y-s3cr3t"),
    );
    assert_eq!(r.status, 200, "{r}{shim}");
    let answered = shim.wait_log(Duration::from_secs(5), |l| {
        l["message"] == "the server answered"
    });
    assert!(
        answered.is_some(),
        "LOG_LEVEL=debug logs the server's answer{shim}"
    );
    let log = shim.stderr();
    for secret in ["s3cr3t-token", "t0p-s3cr3t", "k3y-s3cr3t"] {
        assert!(!log.contains(secret), "{secret} is in the log{shim}");
    }
}

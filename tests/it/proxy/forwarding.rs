//! Forwarding: methods, paths, queries, headers, request ids and statuses pass through.

use super::*;

#[test]
fn proxies_methods_path_query_headers_and_body_on_one_connection() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[("FUNCTION_TIMEOUT", "7s")]);
    let mut conn = Conn::connect(shim.port()).unwrap();
    let mut seen_ids = vec![];
    for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
        let body = format!("{{\"method\":\"{method}\"}}");
        let mut req = Request::new(method, "/some/deep%20path/x.json?a=1&b=two&b=3&empty=")
            .header("X-Custom-Header", "custom value; with=stuff")
            .header("Accept", "application/x-test");
        if method != "GET" && method != "DELETE" {
            req = req.body(body.clone());
        }
        let r = conn
            .request(&req)
            .unwrap_or_else(|e| panic!("{method}: {e}{shim}"));
        assert_eq!(r.status, 200, "{r}{shim}");
        let echo = r.json();
        assert_eq!(echo["method"], method, "{r}");
        assert_eq!(echo["path"], "/some/deep%20path/x.json", "{r}");
        assert_eq!(echo["query"], "a=1&b=two&b=3&empty=", "{r}");
        assert_eq!(
            one_header(&echo, "x-custom-header"),
            "custom value; with=stuff"
        );
        assert_eq!(one_header(&echo, "accept"), "application/x-test");
        if method != "GET" && method != "DELETE" {
            assert_eq!(echo["body"], body, "{r}");
            assert_eq!(one_header(&echo, "content-length"), body.len().to_string());
        } else {
            assert_eq!(echo["body_len"], 0, "{r}");
        }
        let rid = one_header(&echo, "x-request-id");
        assert!(!rid.is_empty());
        assert_eq!(one_header(&echo, "x-fc-request-id"), rid, "{r}");
        assert_eq!(r.header("x-request-id"), Some(rid.as_str()), "{r}");
        let timeout: f64 = one_header(&echo, "x-fc-function-timeout").parse().unwrap();
        assert_eq!(timeout, 7.0, "{r}");
        seen_ids.push(rid);
    }
    seen_ids.sort();
    seen_ids.dedup();
    assert_eq!(
        seen_ids.len(),
        5,
        "each request needs its own id: {seen_ids:?}"
    );
}

#[test]
fn incoming_request_ids_are_preserved_and_echoed() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[]);
    for header in ["x-request-id", "x-fc-request-id"] {
        let r = shim.send(&Request::get("/echo").header(header, "client-chosen-id-42"));
        assert_eq!(r.status, 200, "{r}{shim}");
        let echo = r.json();
        assert_eq!(
            one_header(&echo, "x-request-id"),
            "client-chosen-id-42",
            "{header}: {r}"
        );
        assert_eq!(
            one_header(&echo, "x-fc-request-id"),
            "client-chosen-id-42",
            "{header}: {r}"
        );
        assert_eq!(
            r.header("x-request-id"),
            Some("client-chosen-id-42"),
            "{header}: {r}"
        );
    }
}

#[test]
fn a_trace_fnshim_starts_reaches_the_server_and_a_callers_passes_as_it_is() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[]);
    let r = shim.get("/echo");
    assert_eq!(r.status, 200, "{r}{shim}");
    let made = one_header(&r.json(), "traceparent");
    let (id, _) = crate::support::traceparent_ids(&made)
        .unwrap_or_else(|| panic!("not a valid traceparent: {made}{r}{shim}"));
    let rid = r.header("x-request-id").unwrap_or_default().to_owned();
    let line = shim.wait_log(SECS_10, |l| {
        l["message"] == "invocation" && l["request_id"] == rid.as_str()
    });
    let line = line.unwrap_or_else(|| panic!("no invocation line{shim}"));
    assert_eq!(line["trace_id"], id.as_str(), "{line}{shim}");
    let given = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let r = shim.send(
        &Request::get("/echo")
            .header("traceparent", given)
            .header("tracestate", "rojo=00f067aa0ba902b7")
            .header(
                "X-Amzn-Trace-Id",
                "Root=1-67891233-abcdef012345678912345678",
            ),
    );
    let echo = r.json();
    assert_eq!(one_header(&echo, "traceparent"), given, "{r}");
    assert_eq!(
        one_header(&echo, "tracestate"),
        "rojo=00f067aa0ba902b7",
        "{r}"
    );
    let xray = one_header(&echo, "x-amzn-trace-id");
    assert_eq!(xray, "Root=1-67891233-abcdef012345678912345678", "{r}");
}

#[test]
fn lambda_invocation_path_is_forwarded_as_invoke() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[]);
    let r =
        shim.send(&Request::post("/2015-03-31/functions/function/invocations").body("{\"k\":1}"));
    assert_eq!(r.status, 200, "{r}{shim}");
    let echo = r.json();
    assert_eq!(echo["method"], "POST", "{r}");
    assert_eq!(echo["path"], "/invoke", "{r}");
    assert_eq!(echo["body"], "{\"k\":1}", "{r}");
}

#[test]
fn child_statuses_and_response_headers_pass_through() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[]);
    for code in [201u16, 404, 418, 500, 503] {
        let r = shim.get(&format!("/status?code={code}"));
        assert_eq!(r.status, code, "{r}{shim}");
        assert_eq!(r.json()["status"], code, "the child's own body{r}");
    }
    let r = shim.get("/echo");
    assert_eq!(r.header("x-upstream-content-length"), Some(""), "{r}");
    assert!(
        r.header("server").is_some_and(|s| s.contains("Python")),
        "{r}"
    );
}

#[test]
fn head_and_options_are_forwarded() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[]);
    let mut conn = Conn::connect(shim.port()).unwrap();
    let r = conn.request(&Request::new("HEAD", "/echo?h=1")).unwrap();
    assert_eq!(r.status, 200, "{r}{shim}");
    assert!(r.body.is_empty(), "{r}");
    // The same connection must still be usable after a body-less HEAD answer.
    let r = conn.request(&Request::new("OPTIONS", "/echo?o=1")).unwrap();
    assert_eq!(r.status, 200, "{r}{shim}");
    assert_eq!(r.json()["method"], "OPTIONS", "{r}");
}

#[test]
fn an_event_trigger_forwards_post_slash_as_invoke_and_refuses_other_routes() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[("TRIGGER_TYPE", "event")]);
    let r = shim.send(&Request::post("/").body(br#"{"e":1}"#.to_vec()));
    assert_eq!(r.status, 200, "{r}{shim}");
    assert_eq!(
        r.json()["path"],
        "/invoke",
        "events reach the bootstrap at /invoke{r}"
    );
    assert_eq!(r.json()["body"], r#"{"e":1}"#, "{r}");
    let r = shim.send(&Request::post("/invoke").body(b"x".to_vec()));
    assert_eq!(r.status, 200, "{r}{shim}");
    let refused = shim.get("/anything");
    assert_error(&refused, 404, "NotFound", &shim);
}

#[test]
fn connection_level_headers_stay_behind_and_x_forwarded_for_grows() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[]);
    let mut conn = Conn::connect(shim.port()).unwrap();
    let hop = Request::get("/echo")
        .header("Connection", "keep-alive, x-hop-secret")
        .header("x-hop-secret", "1")
        .header("Keep-Alive", "timeout=5")
        .header("Proxy-Authorization", "Basic YTpi")
        .header("TE", "trailers")
        .header("X-Forwarded-For", "10.0.0.1")
        .header("x-kept", "yes");
    let r = conn.request(&hop).unwrap();
    assert_eq!(r.status, 200, "{r}{shim}");
    let echo = r.json();
    for gone in ["x-hop-secret", "keep-alive", "proxy-authorization", "te"] {
        assert!(
            echoed_header(&echo, gone).is_empty(),
            "{gone} was forwarded: {echo}"
        );
    }
    assert_eq!(one_header(&echo, "x-kept"), "yes");
    assert_eq!(one_header(&echo, "x-forwarded-for"), "10.0.0.1, 127.0.0.1");
    for _ in 0..2 {
        let plain = conn.request(&Request::get("/echo")).unwrap().json();
        assert_eq!(one_header(&plain, "x-forwarded-for"), "127.0.0.1");
    }
    // The upstream's own connection headers do not reach the client either.
    assert!(r.header("keep-alive").is_none(), "{r}");
}

/// An HTTP/1.0 keep-alive client (ab -k, old load balancers): the server is still spoken to
/// in HTTP/1.1 on one kept connection, instead of a new upstream connection per request.
#[test]
fn http10_keep_alive_clients_reuse_one_http11_upstream_connection() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[]);
    let mut conn = Conn::connect(shim.port()).unwrap();
    conn.set_read_timeout(SECS_10);
    let mut peers = vec![];
    for i in 0..3 {
        // The first one without Host, as HTTP/1.0 allows.
        let host = if i == 0 { "" } else { "Host: 127.0.0.1\r\n" };
        let raw = format!("GET /echo/{i} HTTP/1.0\r\n{host}Connection: keep-alive\r\n\r\n");
        conn.write_raw(raw.as_bytes()).unwrap();
        let r = conn
            .read_response("GET")
            .unwrap_or_else(|e| panic!("request {i} on the kept HTTP/1.0 connection: {e}{shim}"));
        assert_eq!(r.status, 200, "{r}{shim}");
        let echo = r.json();
        assert_eq!(echo["version"], "HTTP/1.1", "the server got {echo}");
        assert!(
            echoed_header(&echo, "connection").is_empty(),
            "no Connection header upstream: {echo}"
        );
        assert_eq!(echo["target"], format!("/echo/{i}"), "origin form: {echo}");
        let host = one_header(&echo, "host");
        match i {
            0 => assert!(
                host.starts_with("127.0.0.1:"),
                "the server's address: {echo}"
            ),
            _ => assert_eq!(host, "127.0.0.1", "the client's Host: {echo}"),
        }
        peers.push(echo["peer_port"].as_u64().unwrap());
    }
    assert!(
        peers.iter().all(|p| *p == peers[0]),
        "each request opened a new upstream connection: client ports {peers:?}{shim}"
    );
}

/// An upstream connection left idle among the spares is closed by fnshim after a few seconds
/// (the fixture's own keep-alive never ends), though the client's connection stays open; the
/// next request opens a new one.
#[test]
fn an_idle_spare_upstream_connection_is_closed_and_the_next_request_opens_another() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("connections.log");
    let f = Function::upstream(&[("UPSTREAM_CONNECTION_LOG", log.to_str().unwrap())]);
    let shim = ready_shim(&f, &[]);
    let mut conn = Conn::connect(shim.port()).unwrap();
    conn.set_read_timeout(SECS_10);
    let first = conn.request(&Request::get("/echo/first")).unwrap();
    assert_eq!(first.status, 200, "{first}{shim}");
    let closed = wait_for(Duration::from_secs(60), || {
        let lines = std::fs::read_to_string(&log).unwrap_or_default();
        let closed = |l: &str| l.starts_with("closed ") && l.contains("/echo/first");
        lines.lines().any(closed).then_some(())
    });
    let lines = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        closed.is_some(),
        "the idle upstream connection stayed open; connections closed: {lines:?}{shim}"
    );
    let second = conn
        .request(&Request::get("/echo/second"))
        .unwrap_or_else(|e| {
            panic!("the client's kept connection after the spare closed: {e}{shim}")
        });
    assert_eq!(second.status, 200, "{second}{shim}");
    assert_ne!(
        first.json()["peer_port"],
        second.json()["peer_port"],
        "the second request went on the closed connection's port{shim}"
    );
}

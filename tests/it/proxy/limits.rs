//! Limits and bad replies: FUNCTION_TIMEOUT, MAX_BODY_SIZE, FUNCTION_CONCURRENCY, garbage HTTP.

use super::*;

#[test]
fn slow_child_gets_504_timeout_error() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[("FUNCTION_TIMEOUT", "500ms")]);
    let started = Instant::now();
    let r = shim.get("/sleep?ms=10000");
    let took = started.elapsed();
    assert_error(&r, 504, "TimeoutError", &shim);
    assert!(
        took >= Duration::from_millis(450),
        "answered after {took:?}{shim}"
    );
    assert!(
        took < Duration::from_secs(5),
        "FUNCTION_TIMEOUT=500ms answered after {took:?}{shim}"
    );
}

#[test]
fn body_over_max_size_by_content_length_is_413_at_once() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[("MAX_BODY_SIZE", "1KB")]);
    let mut conn = Conn::connect(shim.port()).unwrap();
    conn.set_read_timeout(SECS_10);
    // Only the head: the limit is known from Content-Length without reading the body.
    let req = Request::post("/echo")
        .header("Content-Length", "2048")
        .body(vec![b'a'; 2048]);
    conn.write_raw(&req.head_bytes()).unwrap();
    let r = conn
        .read_response("POST")
        .unwrap_or_else(|e| panic!("no answer to the head alone: {e}{shim}"));
    assert_error(&r, 413, "PayloadTooLarge", &shim);
    // A body at the limit still passes.
    let r = shim.send(&Request::post("/echo").body(vec![b'a'; 1024]));
    assert_eq!(r.status, 200, "{r}{shim}");
    assert_eq!(r.json()["body_len"], 1024, "{r}");
}

#[test]
fn chunked_body_over_max_size_is_413() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[("MAX_BODY_SIZE", "1KB")]);
    let mut conn = Conn::connect(shim.port()).unwrap();
    conn.set_read_timeout(SECS_10);
    let mut bytes = Request::post("/echo").chunked(vec![]).head_bytes();
    // 1600 bytes and no terminating chunk: the shim has to stop reading by itself.
    bytes.extend(chunk_bytes(&[b'x'; 800]));
    bytes.extend(chunk_bytes(&[b'y'; 800]));
    conn.write_raw(&bytes).unwrap();
    let r = conn
        .read_response("POST")
        .unwrap_or_else(|e| panic!("no answer: {e}{shim}"));
    assert_error(&r, 413, "PayloadTooLarge", &shim);
}

#[test]
fn concurrency_over_the_limit_gets_429_with_retry_after() {
    let f = Function::upstream(&[]);
    let marks = tempfile::tempdir().unwrap();
    let shim = ready_shim(&f, &[("FUNCTION_CONCURRENCY", "2")]);
    thread::scope(|s| {
        let slow: Vec<_> = (0..2)
            .map(|i| {
                // 8 s: the gauge and the 429 below must come while both are still in.
                let target = format!("/sleep?ms=8000&touch={}/{i}", marks.path().display());
                let shim = &shim;
                s.spawn(move || shim.get(&target))
            })
            .collect();
        let both_in = wait_for(SECS_10, || {
            (marks.path().join("0").exists() && marks.path().join("1").exists()).then_some(())
        });
        assert!(
            both_in.is_some(),
            "the two slow requests never reached the child{shim}"
        );
        let m = metrics(&shim);
        assert_eq!(metric_sum(&m, "fnshim_in_flight"), 2.0, "{m}");
        let r = shim.get("/echo");
        assert_error(&r, 429, "TooManyRequests", &shim);
        assert_eq!(r.header("retry-after"), Some("1"), "{r}");
        for h in slow {
            let r = h.join().unwrap();
            assert_eq!(r.status, 200, "an admitted request must complete{r}{shim}");
        }
    });
    let r = shim.get("/echo");
    assert_eq!(r.status, 200, "slots must be released{r}{shim}");
}

#[test]
fn garbage_from_the_child_is_502_invalid_response() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[]);
    let r = shim.get("/garbage");
    assert_error(&r, 502, "InvalidResponse", &shim);
    let r = shim.get("/echo");
    assert_eq!(r.status, 200, "the shim and child stay usable{r}{shim}");
}

#[test]
fn a_clients_bad_chunk_is_400_and_not_blamed_on_the_worker() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[]);
    let mut conn = Conn::connect(shim.port()).unwrap();
    conn.set_read_timeout(SECS_10);
    let mut bytes = Request::post("/echo").chunked(vec![]).head_bytes();
    bytes.extend_from_slice(b"zz\r\nhello\r\n0\r\n\r\n");
    conn.write_raw(&bytes).unwrap();
    let r = conn
        .read_response("POST")
        .unwrap_or_else(|e| panic!("no answer to a bad chunk: {e}{shim}"));
    assert_error(&r, 400, "BadRequest", &shim);
    assert!(
        r.json()["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("request body")),
        "{r}{shim}"
    );
    let metrics = shim.get("/_/metrics").text();
    let exited = metrics
        .lines()
        .find(|l| l.contains("outcome=\"worker_exited\""))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
    assert_eq!(exited, Some(0.0), "{metrics}{shim}");
    assert_eq!(
        metric_sum(&metrics, "fnshim_worker_restarts_total"),
        0.0,
        "{metrics}"
    );
    let r = shim.send(&Request::post("/echo").body("after"));
    assert_eq!(
        (r.status, r.json()["body"].clone()),
        (200, "after".into()),
        "{r}{shim}"
    );
}

/// A client that sends its whole body before it reads (no `Expect: 100-continue`, as curl with
/// a big file and most SDKs do) must be able to read the 413, not get a reset.
fn sends_all_then_reads_413(port: u16, shim: &Shim) {
    let mut conn = Conn::connect(port).unwrap();
    conn.set_read_timeout(SECS_10);
    let body = vec![b'a'; 4 << 20];
    let req = Request::post("/echo")
        .header("Content-Length", &body.len().to_string())
        .body(body);
    conn.write_raw(&req.to_bytes())
        .unwrap_or_else(|e| panic!("the upload was cut off: {e}{shim}"));
    let r = conn
        .read_response("POST")
        .unwrap_or_else(|e| panic!("no readable answer after the upload: {e}{shim}"));
    assert_error(&r, 413, "PayloadTooLarge", shim);
}

#[test]
fn a_body_over_the_limit_sent_whole_still_gets_its_413() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[("MAX_BODY_SIZE", "1KB")]);
    sends_all_then_reads_413(shim.port(), &shim);
    let r = shim.send(&Request::post("/echo").body("after"));
    assert_eq!(r.status, 200, "{r}{shim}");
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_keepalive_timeout() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[("KEEPALIVE_TIMEOUT", "2s")]);
    let mut conn = Conn::connect(shim.port()).unwrap();
    // Taken before the request: the idle timer starts after the answer, so the lower bound
    // holds however late this side reads it.
    let idle = Instant::now();
    let r = conn.request(&Request::get("/echo")).unwrap();
    assert_eq!(r.status, 200, "{r}{shim}");
    conn.set_read_timeout(SECS_10);
    // Nothing more comes: reading the next head ends when fnshim closes the connection.
    let closed = conn.read_head("GET");
    let after = idle.elapsed();
    assert!(closed.is_err(), "{shim}");
    assert!(
        after >= Duration::from_millis(1500) && after < Duration::from_secs(9),
        "closed after {after:?}{shim}"
    );
}

/// KEEPALIVE_TIMEOUT bounds each wait for a head, not the connection's life: a connection used
/// every 300 ms stays open past it (one timer is shared by a connection's heads, re-armed
/// when it fires for an earlier head), then closes once it idles that long.
#[test]
fn a_busy_keep_alive_connection_outlives_keepalive_timeout() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[("KEEPALIVE_TIMEOUT", "3s")]);
    let mut conn = Conn::connect(shim.port()).unwrap();
    let opened = Instant::now();
    let mut served = 0;
    while opened.elapsed() < Duration::from_secs(5) {
        let r = conn
            .request(&Request::get("/echo"))
            .unwrap_or_else(|e| panic!("request {served} after {:?}: {e}{shim}", opened.elapsed()));
        assert_eq!(r.status, 200, "{r}{shim}");
        served += 1;
        std::thread::sleep(Duration::from_millis(300)); // the client's pace, not a wait
    }
    let idle = Instant::now();
    conn.set_read_timeout(SECS_10);
    assert!(conn.read_head("GET").is_err(), "{shim}");
    let after = idle.elapsed();
    assert!(
        after >= Duration::from_millis(2400) && after < Duration::from_secs(9),
        "closed after {after:?}{shim}"
    );
}

#[test]
fn past_max_connections_a_new_one_waits_until_one_closes() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[("MAX_CONNECTIONS", "2")]);
    let mut first = Conn::connect(shim.port()).unwrap();
    let mut second = Conn::connect(shim.port()).unwrap();
    for conn in [&mut first, &mut second] {
        assert_eq!(
            conn.request(&Request::get("/echo")).unwrap().status,
            200,
            "{shim}"
        );
    }
    let mut third = Conn::connect(shim.port()).unwrap();
    third.write_raw(&Request::get("/echo").to_bytes()).unwrap();
    third.set_read_timeout(Duration::from_millis(700));
    assert!(
        third.read_head("GET").is_err(),
        "a third connection was served past MAX_CONNECTIONS=2{shim}"
    );
    drop(first);
    third.set_read_timeout(SECS_10);
    let r = third
        .read_response("GET")
        .unwrap_or_else(|e| panic!("never served: {e}{shim}"));
    assert_eq!(r.status, 200, "{r}{shim}");
}

/// WRITE_TIMEOUT: a client that asks for a large answer and never reads it is disconnected
/// (what the answer held is freed: nothing is in flight any more) and fnshim keeps serving.
#[test]
fn a_client_that_never_reads_its_answer_is_disconnected_after_write_timeout() {
    use std::io::{Read, Write};
    let f = Function::upstream(&[]);
    // 3 s: the window in which the stalled answer is in flight, for the poll below to see.
    let shim = ready_shim(&f, &[("WRITE_TIMEOUT", "3s")]);
    let mut client = std::net::TcpStream::connect(("127.0.0.1", shim.port())).unwrap();
    // Far more than the sockets' buffers on both sides of the shim can hold.
    let total: usize = 64 << 20;
    write!(client, "GET /zeros?n={total} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let in_flight = || metric_sum(&metrics(&shim), "fnshim_in_flight");
    wait_for(Duration::from_secs(60), || {
        (in_flight() == 1.0).then_some(())
    })
    .unwrap_or_else(|| panic!("the large answer never started{shim}"));
    // Nothing is read: the shim's writes stall, and after WRITE_TIMEOUT it lets go.
    wait_for(Duration::from_secs(60), || {
        (in_flight() == 0.0).then_some(())
    })
    .unwrap_or_else(|| panic!("the stalled answer was never given up{shim}"));
    client.set_read_timeout(Some(SECS_10)).unwrap();
    // What was already on its way arrives, then the connection's end.
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let ended = loop {
        match client.read(&mut buf) {
            Ok(0) => break true,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
            Ok(n) => got += n,
        }
    };
    assert!(ended, "the connection stayed open after {got} bytes{shim}");
    assert!(
        got < total,
        "the client got the whole answer ({got} bytes){shim}"
    );
    let r = shim.get("/echo");
    assert_eq!(r.status, 200, "fnshim must keep serving{r}{shim}");
}

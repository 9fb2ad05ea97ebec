//! Bodies: large and binary bodies byte-exact, chunked requests, streamed and SSE responses.

use super::*;

#[test]
fn large_binary_body_is_byte_exact_both_ways_with_content_length_kept() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[]);
    let body = binary_body(5 * 1024 * 1024);
    let r = shim.send(
        &Request::post("/mirror")
            .header("Content-Type", "application/octet-stream")
            .body(body.clone()),
    );
    let summary = Response {
        body: vec![],
        ..r.clone()
    };
    assert_eq!(r.status, 200, "{summary}{shim}");
    assert_eq!(
        r.header("x-upstream-content-length"),
        Some("5242880"),
        "{summary}"
    );
    assert_eq!(
        r.header("x-upstream-transfer-encoding"),
        Some(""),
        "{summary}"
    );
    assert_eq!(r.header("content-length"), Some("5242880"), "{summary}");
    assert_eq!(r.body.len(), body.len(), "{summary}");
    assert!(
        r.body == body,
        "mirrored body differs from the one sent{summary}"
    );
}

#[test]
fn binary_response_body_is_byte_exact() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[]);
    let n = 300_000;
    let r = shim.get(&format!("/binary?n={n}"));
    let expected: Vec<u8> = (0..n)
        .map(|i: usize| ((i * 7 + (i >> 8)) & 0xff) as u8)
        .collect();
    assert_eq!(
        r.status,
        200,
        "{}{shim}",
        Response {
            body: vec![],
            ..r.clone()
        }
    );
    assert_eq!(r.header("content-length"), Some("300000"));
    assert!(
        r.body == expected,
        "binary body differs (got {} bytes)",
        r.body.len()
    );
}

#[test]
fn chunked_request_body_reaches_the_child_chunked_and_intact() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[]);
    let chunks = vec![
        b"hello ".to_vec(),
        binary_body(70_000),
        b"\r\n0\r\n\r\n".to_vec(),
        b"end".to_vec(),
    ];
    let expected = chunks.concat();
    let r = shim.send(&Request::post("/mirror").chunked(chunks));
    let summary = Response {
        body: vec![],
        ..r.clone()
    };
    assert_eq!(r.status, 200, "{summary}{shim}");
    assert!(
        r.header("x-upstream-transfer-encoding")
            .is_some_and(|t| t.contains("chunked")),
        "a chunked body must be streamed, not buffered into a Content-Length{summary}"
    );
    assert!(
        r.body == expected,
        "body differs: {} bytes vs {}",
        r.body.len(),
        expected.len()
    );
}

#[test]
fn chunked_response_is_relayed_whole() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[]);
    let r = shim.get("/stream?n=50");
    assert_eq!(r.status, 200, "{r}{shim}");
    let expected: String = (0..50).map(|i| format!("chunk {i}\n")).collect();
    assert_eq!(r.text(), expected, "{r}");
}

#[test]
fn streamed_chunks_reach_the_client_as_the_child_writes_them() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[]);
    let mut conn = Conn::connect(shim.port()).unwrap();
    // The fixture waits 1.5 s between chunks: a buffering proxy delivers all three at once.
    // (The bound leaves this side 2 s to notice the first chunk, on a loaded machine.)
    conn.write_raw(&Request::get("/stream?n=3&delay_ms=1500").to_bytes())
        .unwrap();
    let head = conn.read_head("GET").unwrap();
    assert_eq!(head.status, 200, "{head}{shim}");
    let mut acc = vec![];
    conn.read_until(&mut acc, b"chunk 0\n").unwrap();
    let first = Instant::now();
    conn.read_until(&mut acc, b"chunk 2\n").unwrap();
    let spread = first.elapsed();
    assert!(
        spread >= Duration::from_millis(1000),
        "first and last chunk arrived {spread:?} apart; the fixture wrote them 3 s apart{shim}"
    );
    assert_eq!(
        conn.read_some().unwrap(),
        None,
        "body must end after the last chunk"
    );
}

#[test]
fn sse_first_event_reaches_the_client_before_the_second_is_written() {
    let f = Function::upstream(&[]);
    let gate_dir = tempfile::tempdir().unwrap();
    let gate = gate_dir.path().join("gate");
    let shim = ready_shim(&f, &[]);
    let mut conn = Conn::connect(shim.port()).unwrap();
    conn.set_read_timeout(SECS_10);
    let target = format!("/sse?n=2&delay_ms=1000&gate={}", gate.display());
    conn.write_raw(
        &Request::get(&target)
            .header("Accept", "text/event-stream")
            .to_bytes(),
    )
    .unwrap();
    let head = conn.read_head("GET").unwrap();
    assert_eq!(head.status, 200, "{head}{shim}");
    assert!(
        head.header("content-type")
            .is_some_and(|c| c.starts_with("text/event-stream")),
        "{head}"
    );
    let mut acc = vec![];
    let sent = Instant::now();
    // The fixture writes event 1 only after the gate file exists, which happens below.
    conn.read_until(&mut acc, b"data: event 0\n\n")
        .unwrap_or_else(|e| {
            panic!("first event not delivered before the second was written: {e}{shim}")
        });
    assert!(
        !acc.windows(7).any(|w| w == b"event 1"),
        "second event came early"
    );
    std::fs::write(format!("{}1", gate.display()), "").unwrap();
    conn.read_until(&mut acc, b"data: event 1\n\n").unwrap();
    assert!(
        sent.elapsed() >= Duration::from_millis(900),
        "fixture delay not honoured"
    );
    assert_eq!(conn.read_some().unwrap(), None);
    assert_eq!(acc, b"data: event 0\n\ndata: event 1\n\n");
}

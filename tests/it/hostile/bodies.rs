//! Bodies over the limit (plainly, chunked, slowly), slowloris heads, and JSON nested past
//! what any parser should follow.

use super::*;

/// Sends a body of `total` bytes in `piece`-byte chunks, `pause` apart, as far as fnshim lets
/// it; then reads the answer.
fn trickle(port: u16, total: usize, piece: usize, pause: Duration) -> Response {
    let mut conn = Conn::connect(port).unwrap();
    conn.write_raw(b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    let chunk = [
        format!("{piece:x}\r\n").into_bytes(),
        vec![b'a'; piece],
        b"\r\n".to_vec(),
    ]
    .concat();
    for _ in 0..total / piece {
        if conn.write_raw(&chunk).is_err() {
            break;
        }
        std::thread::sleep(pause);
    }
    let _ = conn.write_raw(b"0\r\n\r\n");
    conn.read_response("POST")
        .expect("an answer to the over-long body")
}

fn refuses_bodies_over_the_limit(shim: &Shim, mode: &str) {
    let port = shim.port();
    let plain = [
        b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n".to_vec(),
        vec![b'a'; 1 << 20],
    ]
    .concat();
    let r = exchange(port, &plain, "POST");
    assert_eq!(
        r.status, 413,
        "{mode}: a plain body over the limit{r}{shim}"
    );
    serves_next(shim, "a plain body over the limit");
    let chunked = trickle(port, 1 << 20, 64 << 10, Duration::ZERO);
    assert_eq!(
        chunked.status, 413,
        "{mode}: a chunked body over the limit{chunked}{shim}"
    );
    serves_next(shim, "a chunked body over the limit");
    let slow = trickle(port, 256 << 10, 16 << 10, Duration::from_millis(50));
    assert_eq!(
        slow.status, 413,
        "{mode}: a slow body over the limit{slow}{shim}"
    );
    assert_eq!(slow.json()["errorType"], "PayloadTooLarge", "{slow}");
    serves_next(shim, "a slow body over the limit");
}

#[test]
fn bodies_over_the_limit_are_413_plainly_chunked_and_slowly_in_proxy_mode() {
    let (shim, _f, log) = proxied(&[("MAX_BODY_SIZE", "100KB")]);
    refuses_bodies_over_the_limit(&shim, "proxy");
    let reached = received(&log);
    assert!(
        reached.iter().all(|l| l.starts_with("GET /after ")),
        "no body over the limit reaches the server whole: {reached:?}"
    );
}

#[test]
fn bodies_over_the_limit_are_413_plainly_chunked_and_slowly_in_handler_mode() {
    let served = node_echo(&[("MAX_BODY_SIZE", "100KB")]);
    refuses_bodies_over_the_limit(&served, "handler");
}

/// A head sent a header every half second (slowloris) is cut off at KEEPALIVE_TIMEOUT, which
/// also bounds the time to send a whole head; other clients are served meanwhile.
#[test]
fn a_slowloris_head_is_closed_at_the_header_timeout() {
    let served = node_echo(&[("KEEPALIVE_TIMEOUT", "2s")]);
    let mut conn = Conn::connect(served.port()).unwrap();
    let started = Instant::now();
    conn.write_raw(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let mut cut = None;
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(500));
        if conn.write_raw(b"X-Slow: 1\r\n").is_err() {
            cut = Some(started.elapsed());
            break;
        }
        serves_next(&served, "a slowloris header");
    }
    let cut = cut.unwrap_or_else(|| panic!("the slow head was never cut off{served}"));
    assert!(
        cut >= Duration::from_millis(1500) && cut < Duration::from_secs(20),
        "cut after {cut:?}{served}"
    );
}

/// `/invoke` with JSON nested 100,000 deep: 400 InvalidEvent at once, not a stack overflow.
#[test]
fn json_nested_past_the_limit_is_400_on_invoke() {
    let served = node_echo(&[]);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let r = served.send(
        &Request::post("/invoke")
            .header("Content-Type", "application/json")
            .body(deep),
    );
    assert_eq!(r.status, 400, "{r}{served}");
    assert_eq!(r.json()["errorType"], "InvalidEvent", "{r}{served}");
    serves_next(&served, "deep JSON");
}

/// A body that stops coming, in proxy mode: 408 at FUNCTION_TIMEOUT (the client's fault, as in
/// handler mode, not the 504 of a slow server), and fnshim serves the next request.
#[test]
fn a_stalled_body_is_408_in_proxy_mode_too() {
    let (shim, _f, _log) = proxied(&[("FUNCTION_TIMEOUT", "1s")]);
    let mut conn = Conn::connect(shim.port()).unwrap();
    conn.write_raw(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        .unwrap();
    let r = conn
        .read_response("POST")
        .unwrap_or_else(|e| panic!("no answer to a stalled body: {e}{shim}"));
    assert_eq!(r.status, 408, "{r}{shim}");
    assert_eq!(r.json()["errorType"], "RequestTimeout", "{r}{shim}");
    serves_next(&shim, "a stalled body");
    let slow = shim.get("/sleep?ms=1500");
    assert_eq!(slow.status, 504, "a slow server is still a 504{slow}{shim}");
}

//! Shutdown: drain on SIGTERM, second signal, drain budget, command mode exit codes.

use super::*;

/// Sends `GET /sleep?ms=…` on a new connection and returns once the child has received it
/// (the fixture touches a marker file first), so a signal sent next finds it in flight.
fn slow_request_in_flight(shim: &Shim, ms: u64) -> Conn {
    let marks = tempfile::tempdir().unwrap();
    let mark = marks.path().join("in");
    let mut conn = Conn::connect(shim.port()).unwrap();
    let target = format!("/sleep?ms={ms}&touch={}", mark.display());
    conn.write_raw(&Request::get(&target).to_bytes()).unwrap();
    assert!(
        wait_for(SECS_10, || mark.exists().then_some(())).is_some(),
        "request never reached the child{shim}"
    );
    conn
}

/// The request sleeps 6 s, so that "refused before the in-flight answer" holds however long a
/// loaded machine takes to close the listener (it must within 5 s); the drain budget is 14 s.
#[test]
fn sigterm_drains_in_flight_requests_refuses_new_ones_and_exits_0() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[("SHUTDOWN_TIMEOUT", "16s")]);
    let port = shim.port();
    let mut inflight = slow_request_in_flight(&shim, 6000);
    let signalled = Instant::now();
    shim.signal(libc::SIGTERM);
    let refused = wait_for(
        Duration::from_secs(5),
        || match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                Some(signalled.elapsed())
            }
            _ => None,
        },
    );
    let refused =
        refused.unwrap_or_else(|| panic!("new connections still accepted 5 s after SIGTERM{shim}"));
    let r = inflight
        .read_response("GET")
        .unwrap_or_else(|e| panic!("in-flight request lost: {e}{shim}"));
    let answered = signalled.elapsed();
    assert_eq!(r.status, 200, "{r}{shim}");
    assert_eq!(r.json()["slept_ms"], 6000, "{r}");
    assert!(
        refused < answered,
        "refused at {refused:?}, in-flight answered at {answered:?}"
    );
    assert_eq!(shim.wait_code(Duration::from_secs(20)), 0, "{shim}");
    // 6 s of request and seconds to spare: well under the 14 s budget it must not wait out.
    assert!(
        signalled.elapsed() < Duration::from_secs(11),
        "drain took {:?}{shim}",
        signalled.elapsed()
    );
}

#[test]
fn command_mode_with_port_proxies_and_sigterm_exits_143() {
    let shim = fnshim()
        .env("PORT", "0")
        .arg("--")
        .arg(python())
        .arg("-u")
        .arg(fixture("upstream.py"))
        .spawn();
    shim.wait_ready();
    let r = shim.get("/cmd?mode=command");
    assert_eq!(r.status, 200, "{r}{shim}");
    assert_eq!(r.json()["query"], "mode=command", "{r}");
    assert!(r.header("x-request-id").is_some(), "{r}");
    shim.signal(libc::SIGTERM);
    // The fixture does not handle TERM, so it dies of it: 128 + 15.
    assert_eq!(shim.wait_code(Duration::from_secs(15)), 143, "{shim}");
}

#[test]
fn second_sigterm_during_drain_kills_at_once_and_exits_137() {
    let f = Function::upstream(&[]);
    let shim = ready_shim(&f, &[("SHUTDOWN_TIMEOUT", "30s")]);
    let port = shim.port();
    let _inflight = slow_request_in_flight(&shim, 20_000);
    shim.signal(libc::SIGTERM);
    let draining = wait_for(SECS_10, || {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .err()
            .map(|_| ())
    });
    assert!(
        draining.is_some(),
        "listener never closed after SIGTERM{shim}"
    );
    let second = Instant::now();
    shim.signal(libc::SIGTERM);
    assert_eq!(shim.wait_code(SECS_10), 137, "{shim}");
    let took = second.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "second SIGTERM took {took:?} to end the shim{shim}"
    );
}

#[test]
fn drain_budget_exhausted_stops_the_bootstrap_and_exits_0() {
    let f = Function::upstream(&[]);
    // grace = min(2s, 2s/2) = 1s: the child gets TERM 1 s after the signal.
    let shim = ready_shim(&f, &[("SHUTDOWN_TIMEOUT", "2s")]);
    let mut inflight = slow_request_in_flight(&shim, 20_000);
    inflight.set_read_timeout(SECS_10);
    let signalled = Instant::now();
    shim.signal(libc::SIGTERM);
    assert_eq!(
        shim.wait_code(SECS_10),
        0,
        "the fixture dies of the TERM it is sent{shim}"
    );
    let took = signalled.elapsed();
    assert!(
        took >= Duration::from_millis(800),
        "child stopped after {took:?}, before the drain window{shim}"
    );
    assert!(
        took < Duration::from_secs(5),
        "SHUTDOWN_TIMEOUT=2s took {took:?}{shim}"
    );
    // The cut-off request must not hang: an error answer or a closed connection.
    match inflight.read_response("GET") {
        Ok(r) => assert!(r.status >= 500, "{r}{shim}"),
        Err(e) => assert!(
            !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "in-flight request left hanging: {e}{shim}"
        ),
    }
}

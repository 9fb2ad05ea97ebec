//! `fnshim health`: the images' HEALTHCHECK. One GET to the fnshim serving in the same
//! container, on 127.0.0.1:$PORT, so that an image needs no curl; none of the PID 1 set-up
//! that serving does (no logging, no signal thread, no reaper).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use fnshim::config::{self, Env};
use fnshim::exit;

/// The whole check, connect to last byte: under the images' `HEALTHCHECK --timeout=3s`.
const BOUND: Duration = Duration::from_secs(2);

/// What a probe looks at: readiness (serving) by default, liveness with `--live`.
pub fn route(live: bool) -> &'static str {
    if live {
        "/_/health"
    } else {
        "/_/ready"
    }
}

/// Exit code 0 when the route answers 200, else 1 with one line on stderr saying why.
pub fn run(env: &dyn Env, live: bool) -> i32 {
    match port(env).and_then(|port| probe(port, route(live), BOUND)) {
        Ok(()) => exit::OK,
        Err(why) => {
            eprintln!("fnshim health: {why}");
            exit::FAILED
        }
    }
}

/// PORT as fnshim itself reads it (config's parser and default); 0 cannot be probed.
fn port(env: &dyn Env) -> Result<u16, String> {
    match config::port(env) {
        Ok(None) => Ok(config::DEFAULT_PORT),
        Ok(Some(0)) => Err("PORT=0 (a random port) cannot be probed: set PORT".into()),
        Ok(Some(port)) => Ok(port),
        Err(error) => Err(error.to_string()),
    }
}

/// `GET route` on loopback; Ok on 200, otherwise the status and the start of the body.
fn probe(port: u16, route: &str, bound: Duration) -> Result<(), String> {
    let deadline = Instant::now() + bound;
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let failed = |what: &str, error: std::io::Error| format!("{what} {address}: {error}");
    let mut stream =
        TcpStream::connect_timeout(&address, bound).map_err(|e| failed("cannot connect to", e))?;
    let request = format!(
        "GET {route} HTTP/1.1\r\nHost: {address}\r\nUser-Agent: fnshim-health\r\nConnection: close\r\n\r\n"
    );
    stream
        .set_write_timeout(Some(left()))
        .and_then(|()| stream.write_all(request.as_bytes()))
        .map_err(|e| failed("cannot send to", e))?;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while answer.len() < 16 * 1024 {
        stream
            .set_read_timeout(Some(left()))
            .map_err(|e| failed("cannot read from", e))?;
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(e) => {
                return Err(failed(
                    &format!("no answer to {route} within {bound:?} from"),
                    e,
                ))
            }
        }
    }
    verdict(route, &String::from_utf8_lossy(&answer))
}

/// 200 is healthy; anything else is reported with the body's first line (fnshim's 503 says
/// why it is not ready).
fn verdict(route: &str, answer: &str) -> Result<(), String> {
    let status = answer
        .split_whitespace()
        .nth(1)
        .filter(|_| answer.starts_with("HTTP/"));
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let body: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let body: String = body.chars().take(200).collect();
    match status {
        Some("200") => Ok(()),
        Some(status) => Err(format!("{route} answered {status} {body}")
            .trim_end()
            .to_string()),
        None => Err(format!("{route} did not answer HTTP")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::net::TcpListener;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn port_from_the_environment() {
        assert_eq!(port(&env(&[])), Ok(8080));
        assert_eq!(port(&env(&[("PORT", " ")])), Ok(8080));
        assert_eq!(port(&env(&[("PORT", "9000")])), Ok(9000));
        assert!(port(&env(&[("PORT", "0")])).unwrap_err().contains("PORT=0"));
        assert!(port(&env(&[("PORT", "http")]))
            .unwrap_err()
            .contains("\"http\""));
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict("/_/ready", "HTTP/1.1 200 OK\r\n\r\n{}"), Ok(()));
        let not_ready = "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\r\n{\"status\":\"starting\",\n\"reason\":\"installing dependencies\"}";
        assert_eq!(
            verdict("/_/ready", not_ready),
            Err("/_/ready answered 503 {\"status\":\"starting\", \"reason\":\"installing dependencies\"}".into())
        );
        assert!(verdict("/_/ready", "SSH-2.0").is_err());
    }

    /// A one-shot server answering `reply`, and the request it received.
    fn serve_once(reply: &'static str) -> (u16, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut request = vec![0u8; 1024];
            let n = conn.read(&mut request).unwrap();
            conn.write_all(reply.as_bytes()).unwrap();
            String::from_utf8_lossy(&request[..n]).into_owned()
        });
        (port, server)
    }

    #[test]
    fn probes_over_loopback() {
        let (port, server) = serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}");
        assert_eq!(probe(port, "/_/health", BOUND), Ok(()));
        assert!(server
            .join()
            .unwrap()
            .starts_with("GET /_/health HTTP/1.1\r\n"));
        let (port, server) = serve_once("HTTP/1.1 503 Service Unavailable\r\n\r\n");
        assert_eq!(
            probe(port, "/_/ready", BOUND),
            Err("/_/ready answered 503".into())
        );
        server.join().unwrap();
    }

    #[test]
    fn nothing_listening_and_a_silent_server() {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        assert!(probe(port, "/_/ready", BOUND)
            .unwrap_err()
            .starts_with("cannot connect to 127.0.0.1:"));
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let started = Instant::now();
        let error = probe(port, "/_/ready", Duration::from_millis(300)).unwrap_err();
        assert!(
            error.starts_with("no answer to /_/ready within 300ms"),
            "{error}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}

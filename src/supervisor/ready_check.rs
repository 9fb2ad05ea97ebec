//! READINESS_PATH: after a proxied server accepts connections, fnshim asks it `GET path` every
//! READINESS_INTERVAL until it answers a status of READINESS_STATUS, it exits, or INIT_TIMEOUT
//! runs out. One short HTTP/1.1 request per poll on its own connection (`Connection: close`),
//! each bounded by a second; only the status line is read.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout, Instant};

use super::process::Child;
use crate::config::readiness::ReadinessCheck;

/// The longest one poll may take.
const POLL_LIMIT: Duration = Duration::from_secs(1);

/// Waits until the server at `addr` answers `check.path` with a status of the set.
pub async fn wait_answering(
    child: &mut Child,
    addr: SocketAddr,
    check: &ReadinessCheck,
    deadline: Instant,
) -> Result<(), String> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let polled = timeout(left.min(POLL_LIMIT), status_of(addr, &check.path)).await;
        let last = match polled {
            Ok(Ok(status)) if check.statuses.contains(status) => return Ok(()),
            Ok(Ok(status)) => format!("the last answer was {status}"),
            Ok(Err(error)) => format!("the last poll failed: {error}"),
            Err(_) => "the last poll had no answer within a second".to_string(),
        };
        tracing::debug!(path = check.path, last, "the worker is not ready yet");
        let pause = check
            .interval
            .min(deadline.saturating_duration_since(Instant::now()));
        tokio::select! {
            status = child.wait() => {
                return Err(format!("the worker exited before it was ready ({status})"));
            }
            _ = sleep(pause) => {}
        }
        // No poll starts at the deadline (it would have no time to answer).
        if Instant::now() >= deadline {
            return Err(format!(
                "the worker did not answer GET {} with a READINESS_STATUS status within INIT_TIMEOUT; {last}",
                check.path
            ));
        }
    }
}

/// One `GET path` on a new connection: the answer's status code.
async fn status_of(addr: SocketAddr, path: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(addr).await?;
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: fnshim-readiness\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    let mut line = Vec::with_capacity(64);
    let mut buffer = [0u8; 256];
    while !line.contains(&b'\n') && line.len() < 1024 {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        line.extend_from_slice(&buffer[..read]);
    }
    parse_status(&line).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP status line")
    })
}

/// `HTTP/1.x NNN …` → NNN.
fn parse_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\n').next()?;
    let text = std::str::from_utf8(line).ok()?;
    let mut words = text.split_ascii_whitespace();
    words.next().filter(|v| v.starts_with("HTTP/1."))?;
    words
        .next()?
        .parse()
        .ok()
        .filter(|s| (100..=599).contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_give_their_code() {
        assert_eq!(
            parse_status(b"HTTP/1.1 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(parse_status(b"HTTP/1.0 200 OK\r\nx: y\r\n"), Some(200));
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status(b"HTTP/1.1 abc\r\n"), None);
    }
}

//! Request bodies in the HTTP front end: read up to MAX_BODY_SIZE; and a refused body (413) is
//! read on and thrown away after the answer went out, bounded in bytes and time, as nginx's
//! lingering close does: a client that sends its body without `Expect: 100-continue` (curl with
//! a big file, most SDKs) would otherwise fail with EPIPE or a reset instead of reading the 413.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body_util::BodyExt;
use hyper::body::Incoming;

/// How much of a refused body is read and thrown away at most, and for how long.
const DISCARD_BYTES: u64 = 64 << 20;
const DISCARD_TIME: Duration = Duration::from_secs(10);

/// Why a body was not read.
#[derive(Debug)]
pub enum Unread {
    /// Over the limit (what was sent has been discarded, within bounds).
    TooLarge,
    /// The connection broke or the framing was wrong.
    Broken(String),
}

/// The body, or `TooLarge` once it passes `limit` bytes (by Content-Length at once).
pub async fn read_limited(
    headers: &HeaderMap,
    body: Incoming,
    limit: u64,
) -> Result<Bytes, Unread> {
    if declared(headers).is_some_and(|len| len > limit) {
        discard_unless_continue(headers, body);
        return Err(Unread::TooLarge);
    }
    let mut body = body;
    let mut read = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Unread::Broken(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if read.len() as u64 + data.len() as u64 > limit {
                tokio::spawn(discard(body));
                return Err(Unread::TooLarge);
            }
            read.extend_from_slice(&data);
        }
    }
    Ok(read.freeze())
}

/// The Content-Length a request declares.
pub fn declared(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Reads a refused body to its end in the background (bounded) while the answer goes out,
/// unless the client waits for `100 Continue`: then it sends nothing, and the 413 alone is
/// its answer.
pub fn discard_unless_continue(headers: &HeaderMap, body: Incoming) {
    let waits = headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if !waits {
        tokio::spawn(discard(body));
    }
}

async fn discard(mut body: Incoming) {
    let mut thrown = 0u64;
    let drain = async {
        while let Some(Ok(frame)) = body.frame().await {
            thrown += frame.data_ref().map_or(0, |d| d.len() as u64);
            if thrown > DISCARD_BYTES {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(DISCARD_TIME, drain).await;
}

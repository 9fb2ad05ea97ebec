//! What the fuzz targets share: the readable input format of the request targets (so that the
//! corpus is made of plain HTTP requests), the check of an event's body, and a number drawn
//! from the input for the targets that need instants.

use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

/// An HTTP/1.1-like request: `METHOD TARGET` on the first line, `Name: value` lines, an empty
/// line, the body. Lenient: a header hyper would refuse is left out, as it never reaches fnshim.
pub struct Input<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: HeaderMap,
    pub body: &'a [u8],
}

pub fn request(data: &[u8]) -> Option<Input<'_>> {
    let (first, mut rest) = split_line(data);
    let first = std::str::from_utf8(first).ok()?;
    let mut words = first.split(' ');
    let method = words.next().unwrap_or_default();
    let target = words.next().unwrap_or("/");
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let mut headers = HeaderMap::new();
    while !rest.is_empty() {
        let (line, after) = split_line(rest);
        rest = after;
        if line.is_empty() {
            break;
        }
        let colon = line.iter().position(|b| *b == b':').unwrap_or(line.len());
        let value = line.get(colon + 1..).unwrap_or_default().trim_ascii();
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    Some(Input {
        method,
        path,
        query,
        headers,
        body: rest,
    })
}

/// The line up to `\n` (without a `\r` before it) and what follows.
fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    let end = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let line = &data[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    (line, data.get(end + 1..).unwrap_or_default())
}

/// An event's `body` and `isBase64Encoded` give back the request's bytes: null for none, the
/// text for UTF-8, base64 for anything else.
pub fn assert_body(event: &Value, body: &[u8]) {
    let encoded = event["isBase64Encoded"].as_bool().expect("isBase64Encoded");
    match &event["body"] {
        Value::Null => assert!(body.is_empty() && !encoded),
        Value::String(text) if encoded => {
            assert!(std::str::from_utf8(body).is_err());
            let decoded = base64::engine::general_purpose::STANDARD.decode(text);
            assert_eq!(decoded.as_deref(), Ok(body));
        }
        Value::String(text) => assert_eq!(text.as_bytes(), body),
        other => panic!("body {other} is neither null nor a string"),
    }
}

/// A value serialised and parsed back is the same value (what crosses the worker socket).
pub fn assert_round_trips(value: &Value) {
    let text = value.to_string();
    let back: Value = serde_json::from_str(&text).expect("a serialised event parses");
    assert_eq!(&back, value);
}

/// A number drawn from the input (FNV-1a), for instants and offsets.
pub fn draw(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

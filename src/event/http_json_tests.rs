use http::HeaderValue;
use serde_json::{json, Value};

use super::*;
use crate::config::fyml::Matched;
use crate::event::http::http_event;

/// The written text parses, and it is the tree's value.
fn assert_same(r: &HttpRequest<'_>, format: EventFormat) -> Value {
    let written = write_http_event(r, format);
    let parsed: Value = match serde_json::from_slice(&written) {
        Ok(parsed) => parsed,
        Err(e) => panic!("{e}: {}", String::from_utf8_lossy(&written)),
    };
    assert_eq!(parsed, http_event(r, format), "{format:?}");
    assert!(
        !written.contains(&b'\n'),
        "a raw newline would end the line"
    );
    parsed
}

fn request<'a>(headers: &'a HeaderMap, query: Option<&'a str>, body: &'a [u8]) -> HttpRequest<'a> {
    HttpRequest {
        method: "POST",
        path: "/users/42",
        query,
        headers,
        body,
        source_ip: "127.0.0.1".into(),
        request_id: "req-1",
        time_epoch_ms: 1_700_000_000_000,
        route: None,
    }
}

fn both(r: &HttpRequest<'_>) {
    assert_same(r, EventFormat::V1);
    assert_same(r, EventFormat::V2);
}

#[test]
fn the_written_events_are_the_trees() {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("x-tag", &b"a"[..]),
        ("cookie", b"s=1; theme=dark"),
        ("user-agent", b"curl/8"),
        ("x-tag", b"b\tc \"q\" \\"),
        ("cookie", b" ; extra=1;"),
        ("x-latin", b"caf\xe9 \xff\xfe"),
        ("x-utf8", "✓ ünï".as_bytes()),
        ("x-tag", b""),
        ("cookie", b"bin=\xe9"),
    ] {
        headers.append(name, HeaderValue::from_bytes(value).unwrap());
    }
    let queries = [
        None,
        Some(""),
        Some("&&"),
        Some("id=1&id=2&q=a%20b+c&flag&=x&%69d=3"),
        Some("bad=%zz%4&bin=%FF%fe&u=%E2%9C%93&eq=a=b"),
        Some("ctl=%00%1f%7f%22%5C&nl=%0A"),
    ];
    let bodies: [&[u8]; 6] = [
        b"",
        b"{\"x\":1}",
        "ünïcödé ✓ \u{1F600}".as_bytes(),
        b"\x00\x01\x1f\x7f text \r\n\t\x08\x0c",
        &[0, 159, 146, 150],
        &[0xff; 7],
    ];
    for query in queries {
        for body in bodies {
            both(&request(&headers, query, body));
            both(&request(&HeaderMap::new(), query, body));
        }
    }
}

#[test]
fn the_written_events_carry_the_route() {
    let headers = HeaderMap::new();
    let routes = [
        Matched {
            function: 0,
            resource: "/users/{id}".into(),
            params: vec![],
        },
        Matched {
            function: 1,
            resource: "/u/{id}/\"{x}\"".into(),
            params: vec![("id".into(), "4\u{1}2".into()), ("x".into(), "ü\\".into())],
        },
        Matched {
            function: 0,
            resource: "/{a}/{a}".into(),
            params: vec![
                ("a".into(), "1".into()),
                ("b".into(), "".into()),
                ("a".into(), "2".into()),
            ],
        },
    ];
    for route in &routes {
        let mut r = request(&headers, Some("a=1"), b"");
        r.route = Some(route);
        both(&r);
    }
    let mut r = request(&headers, None, b"");
    r.path = "/";
    both(&r);
    r.path = "//a\"b/ü\u{7f}";
    r.method = "M\"\\";
    r.source_ip = "::1".into();
    r.request_id = "\n";
    r.time_epoch_ms = u64::MAX;
    both(&r);
    r.time_epoch_ms = 0;
    both(&r);
}

#[test]
fn v2_has_the_cookies_and_joined_values() {
    let mut headers = HeaderMap::new();
    headers.append("x-tag", HeaderValue::from_static("a"));
    headers.append("x-tag", HeaderValue::from_static("b"));
    headers.append("cookie", HeaderValue::from_static("s=1; theme=dark"));
    let event = assert_same(
        &request(&headers, Some("id=1&id=2"), b"hi"),
        EventFormat::V2,
    );
    assert_eq!(event["headers"], json!({"x-tag": "a,b"}));
    assert_eq!(event["cookies"], json!(["s=1", "theme=dark"]));
    assert_eq!(event["queryStringParameters"], json!({"id": "1,2"}));
}

/// A small deterministic generator (xorshift), so that failures reproduce.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Bytes drawn mostly from `alphabet`, sometimes any byte.
    fn bytes(&mut self, alphabet: &[u8], most: usize) -> Vec<u8> {
        let length = self.below(most + 1);
        let pick = |d: &mut Draw| match d.below(8) {
            0 => d.next() as u8,
            _ => alphabet[d.below(alphabet.len())],
        };
        (0..length).map(|_| pick(self)).collect()
    }
}

const TEXT: &[u8] = b"ab=&%;, \t\"\\/+?#\x01\x1f\x7f\xc3\xbc\xe2\x9c\x93%2%41%e2%9c%93";

#[test]
fn many_drawn_requests_are_written_as_their_trees() {
    let mut draw = Draw(0x9e37_79b9_7f4a_7c15);
    let names = ["cookie", "user-agent", "x-a", "x-b", "content-type", "host"];
    for _ in 0..3000 {
        let mut headers = HeaderMap::new();
        for _ in 0..draw.below(8) {
            let name = names[draw.below(names.len())];
            let value = draw.bytes(TEXT, 12);
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                headers.append(name, value);
            }
        }
        let path = String::from_utf8_lossy(&draw.bytes(TEXT, 10)).into_owned();
        let query = String::from_utf8_lossy(&draw.bytes(TEXT, 24)).into_owned();
        let body = draw.bytes(TEXT, 16);
        let mut r = request(&headers, Some(&query), &body);
        r.path = &path;
        if draw.below(4) == 0 {
            r.query = None;
        }
        both(&r);
    }
}

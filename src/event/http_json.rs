//! The API Gateway v1 and v2 events of `http.rs`, written straight from the request as the JSON
//! text that goes on the worker's invoke line (or to a bootstrap's `/next`, or a proxied
//! server's `/invoke`), with no `serde_json::Value` tree in between: building the tree, writing
//! it out and dropping it was half of the handler path's instructions per request.
//!
//! The text is the same JSON as `http::http_event`'s tree, which stays as the oracle that the
//! tests and the `http_event` fuzz target compare it with; only the key order differs (fixed
//! here, the tree's sorted). Keys never repeat: a header's values are grouped (`HeaderMap`
//! yields them together), query keys are sorted and grouped, as the tree's maps do.

use std::borrow::Cow;

use base64::Engine;
use http::header::{HeaderName, HeaderValue, COOKIE, USER_AGENT};
use http::HeaderMap;

use super::http::{percent_decode, HttpRequest};
use crate::config::EventFormat;
use crate::json::Json;

/// The event of `request` in `format`, as JSON text.
pub fn write_http_event(request: &HttpRequest<'_>, format: EventFormat) -> Vec<u8> {
    let mut out = Json::with_capacity(capacity(request));
    match format {
        EventFormat::V1 => v1(request, &mut out),
        EventFormat::V2 => v2(request, &mut out),
    }
    out.0
}

/// The plain request a fetch-style worker reads (`http::plain_request`), as JSON text.
pub fn write_plain_request(request: &HttpRequest<'_>) -> Vec<u8> {
    let mut out = Json::with_capacity(capacity(request));
    out.value(&super::http::plain_request(request));
    out.0
}

/// About what the event takes (v1 has every header twice), so that it is seldom reallocated.
fn capacity(r: &HttpRequest<'_>) -> usize {
    let fixed = 640 + 4 * r.path.len() + 3 * r.query.map_or(0, str::len);
    fixed + r.headers.len() * 96 + r.body.len() / 3 * 4 + 4
}

fn v1(r: &HttpRequest<'_>, out: &mut Json) {
    let resource = r.route.map_or("/{proxy+}", |m| m.resource.as_str());
    let query = QueryPairs::of(r.query);
    out.raw(b"{\"resource\":");
    out.str(resource);
    out.raw(b",\"path\":");
    out.str(r.path);
    out.raw(b",\"httpMethod\":");
    out.str(r.method);
    out.raw(b",\"headers\":");
    v1_headers(r.headers, out, false);
    out.raw(b",\"multiValueHeaders\":");
    v1_headers(r.headers, out, true);
    out.raw(b",\"queryStringParameters\":");
    query.write(out, Values::Last);
    out.raw(b",\"multiValueQueryStringParameters\":");
    query.write(out, Values::All);
    out.raw(b",\"pathParameters\":");
    path_parameters(r, out);
    out.raw(b",\"stageVariables\":null,\"requestContext\":{\"resourcePath\":");
    out.str(resource);
    out.raw(b",\"stage\":\"$default\",\"requestId\":");
    out.str(r.request_id);
    out.raw(b",\"httpMethod\":");
    out.str(r.method);
    out.raw(b",\"path\":");
    out.str(r.path);
    out.raw(b",\"requestTimeEpoch\":");
    out.number(r.time_epoch_ms);
    out.raw(b",\"identity\":{\"sourceIp\":");
    out.str(&r.source_ip);
    out.raw(b",\"userAgent\":");
    out.str(user_agent(r.headers));
    out.raw(b"}}");
    body(r.body, out);
    out.raw(b"}");
}

/// v1's `headers` (each name's last value) or `multiValueHeaders` (all of them, in order).
fn v1_headers(headers: &HeaderMap, out: &mut Json, multi: bool) {
    out.raw(b"{");
    for (n, (name, values)) in groups(headers).enumerate() {
        out.key(n, name.as_str());
        match multi {
            true => {
                out.raw(b"[");
                for (i, value) in values.enumerate() {
                    out.comma(i);
                    lossy(out, value);
                }
                out.raw(b"]");
            }
            false => match values.last() {
                Some(value) => lossy(out, value),
                None => out.raw(b"\"\""),
            },
        }
    }
    out.raw(b"}");
}

/// The route's parameters (a later one of the same name wins, as in a map); without declared
/// routes, every path is API Gateway's `{proxy+}`.
fn path_parameters(r: &HttpRequest<'_>, out: &mut Json) {
    let Some(route) = r.route else {
        out.raw(b"{\"proxy\":");
        out.str(r.path.trim_start_matches('/'));
        return out.raw(b"}");
    };
    if route.params.is_empty() {
        return out.raw(b"null");
    }
    out.raw(b"{");
    let params = &route.params;
    let last_of_name = |i: usize| params[i + 1..].iter().all(|(k, _)| *k != params[i].0);
    let kept = (0..params.len()).filter(|i| last_of_name(*i));
    for (n, i) in kept.enumerate() {
        out.key(n, &params[i].0);
        out.str(&params[i].1);
    }
    out.raw(b"}");
}

fn v2(r: &HttpRequest<'_>, out: &mut Json) {
    out.raw(b"{\"version\":\"2.0\",\"routeKey\":");
    route_key(r, out);
    out.raw(b",\"rawPath\":");
    out.str(r.path);
    out.raw(b",\"rawQueryString\":");
    out.str(r.query.unwrap_or(""));
    out.raw(b",\"headers\":");
    v2_headers(r.headers, out);
    cookies(r.headers, out);
    let query = QueryPairs::of(r.query);
    if !query.pairs.is_empty() {
        out.raw(b",\"queryStringParameters\":");
        query.write(out, Values::Joined);
    }
    if r.route.is_some_and(|route| !route.params.is_empty()) {
        out.raw(b",\"pathParameters\":");
        path_parameters(r, out);
    }
    out.raw(b",\"requestContext\":{\"routeKey\":");
    route_key(r, out);
    out.raw(b",\"stage\":\"$default\",\"requestId\":");
    out.str(r.request_id);
    out.raw(b",\"timeEpoch\":");
    out.number(r.time_epoch_ms);
    out.raw(b",\"http\":{\"method\":");
    out.str(r.method);
    out.raw(b",\"path\":");
    out.str(r.path);
    out.raw(b",\"protocol\":\"HTTP/1.1\",\"sourceIp\":");
    out.str(&r.source_ip);
    out.raw(b",\"userAgent\":");
    out.str(user_agent(r.headers));
    out.raw(b"}}");
    body(r.body, out);
    out.raw(b"}");
}

/// `$default`, or with f.yml's routes `METHOD RESOURCE`.
fn route_key(r: &HttpRequest<'_>, out: &mut Json) {
    match r.route {
        None => out.raw(b"\"$default\""),
        Some(route) => {
            out.raw(b"\"");
            out.escaped(r.method);
            out.raw(b" ");
            out.escaped(&route.resource);
            out.raw(b"\"");
        }
    }
}

/// v2's headers: each name's values joined by `,`; the cookies go to `cookies` instead.
fn v2_headers(headers: &HeaderMap, out: &mut Json) {
    out.raw(b"{");
    let named = groups(headers).filter(|(name, _)| **name != COOKIE);
    for (n, (name, values)) in named.enumerate() {
        out.key(n, name.as_str());
        out.raw(b"\"");
        for (i, value) in values.enumerate() {
            if i > 0 {
                out.raw(b",");
            }
            out.escaped(&String::from_utf8_lossy(value.as_bytes()));
        }
        out.raw(b"\"");
    }
    out.raw(b"}");
}

/// v2's `cookies`, when there are any: the Cookie headers that are text, split at `;`.
fn cookies(headers: &HeaderMap, out: &mut Json) {
    let texts = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    let mut cookies = texts
        .flat_map(|v| v.split(';').map(str::trim))
        .filter(|c| !c.is_empty());
    let Some(first) = cookies.next() else { return };
    out.raw(b",\"cookies\":[");
    out.str(first);
    for cookie in cookies {
        out.raw(b",");
        out.str(cookie);
    }
    out.raw(b"]");
}

/// Each header name with its values: `HeaderMap` yields a name's values one after the other.
fn groups(
    headers: &HeaderMap,
) -> impl Iterator<Item = (&HeaderName, impl Iterator<Item = &HeaderValue>)> {
    let mut all = headers.iter().peekable();
    std::iter::from_fn(move || {
        let (name, first) = all.next()?;
        let mut rest = Vec::new();
        while let Some((_, value)) = all.next_if(|(next, _)| *next == name) {
            rest.push(value);
        }
        Some((name, std::iter::once(first).chain(rest)))
    })
}

fn user_agent(headers: &HeaderMap) -> &str {
    let value = headers.get(USER_AGENT).and_then(|v| v.to_str().ok());
    value.unwrap_or("")
}

/// `,"body":…,"isBase64Encoded":…`: null for none, text as it is, anything else as base64.
fn body(body: &[u8], out: &mut Json) {
    out.raw(b",\"body\":");
    if body.is_empty() {
        return out.raw(b"null,\"isBase64Encoded\":false");
    }
    if let Ok(text) = std::str::from_utf8(body) {
        out.str(text);
        return out.raw(b",\"isBase64Encoded\":false");
    }
    let engine = base64::engine::general_purpose::STANDARD;
    let start = out.0.len() + 1;
    let length = base64::encoded_len(body.len(), true).unwrap_or(0);
    out.0.resize(start + length + 1, b'"');
    // The room is exactly what the padded encoding takes.
    let _ = engine.encode_slice(body, &mut out.0[start..start + length]);
    out.raw(b",\"isBase64Encoded\":true");
}

/// The query's pairs, percent-decoded, sorted by key (a key's values in their order).
struct QueryPairs<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

/// Which of a key's values a query map holds.
#[derive(Clone, Copy)]
enum Values {
    /// The last (v1's `queryStringParameters`).
    Last,
    /// All, as an array (v1's `multiValueQueryStringParameters`).
    All,
    /// All, joined by `,` (v2's `queryStringParameters`).
    Joined,
}

impl<'a> QueryPairs<'a> {
    fn of(query: Option<&'a str>) -> QueryPairs<'a> {
        let pairs = query.unwrap_or("").split('&').filter(|p| !p.is_empty());
        let mut pairs: Vec<_> = pairs
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decoded(key), decoded(value))
            })
            .collect();
        // Stable: a key's values stay in the query's order.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        QueryPairs { pairs }
    }

    /// The map, or null when the query has no pairs.
    fn write(&self, out: &mut Json, values: Values) {
        if self.pairs.is_empty() {
            return out.raw(b"null");
        }
        out.raw(b"{");
        for (n, group) in self.pairs.chunk_by(|a, b| a.0 == b.0).enumerate() {
            out.key(n, &group[0].0);
            let all = group.iter().map(|(_, value)| value.as_ref());
            match values {
                Values::Last => out.str(group.last().map_or("", |(_, value)| value.as_ref())),
                Values::All => {
                    out.raw(b"[");
                    for (i, value) in all.enumerate() {
                        out.comma(i);
                        out.str(value);
                    }
                    out.raw(b"]");
                }
                Values::Joined => {
                    out.raw(b"\"");
                    for (i, value) in all.enumerate() {
                        if i > 0 {
                            out.raw(b",");
                        }
                        out.escaped(value);
                    }
                    out.raw(b"\"");
                }
            }
        }
        out.raw(b"}");
    }
}

/// `percent_decode`, without a copy when there is nothing to decode.
fn decoded(text: &str) -> Cow<'_, str> {
    match text.contains('%') {
        true => Cow::Owned(percent_decode(text)),
        false => Cow::Borrowed(text),
    }
}

/// A header value as text, anything that is not UTF-8 replaced (U+FFFD).
fn lossy(out: &mut Json, value: &HeaderValue) {
    out.str(&String::from_utf8_lossy(value.as_bytes()));
}

#[cfg(test)]
#[path = "http_json_tests.rs"]
mod tests;

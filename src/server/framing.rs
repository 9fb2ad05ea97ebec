//! Requests refused before routing, whatever the back end, and the path a handler sees: what
//! nginx refuses too, so that fnshim and the server behind it never disagree about what a
//! request names. (Where a request ends is hyper's: with both `Content-Length` and
//! `Transfer-Encoding: chunked` it reads the chunks alone, drops `Content-Length` before any
//! back end sees the request, and closes the connection after the answer, as RFC 9112 §6.3
//! asks; tests/it/hostile proves that nothing is smuggled.)

use std::borrow::Cow;

use http::header::HOST;
use http::{Request, Uri, Version};

/// Why the request is refused with 400, if it is.
pub(crate) fn refusal<B>(request: &Request<B>) -> Option<&'static str> {
    let headers = request.headers();
    let hosts = headers.get_all(HOST).iter().count();
    if hosts > 1 {
        return Some("the request has more than one Host header");
    }
    if hosts == 0 && request.version() == Version::HTTP_11 && request.uri().authority().is_none() {
        return Some("an HTTP/1.1 request must have a Host header");
    }
    normalize(request.uri().path())
        .is_none()
        .then_some("the path climbs above the root with '..' segments")
}

/// The request's URI with its `.` and `..` segments (also written `%2e`) resolved, when that
/// changes it; a path that climbs above the root has been refused by `refusal`.
pub(crate) fn normalized(uri: &Uri) -> Option<Uri> {
    let Some(Cow::Owned(path)) = normalize(uri.path()) else {
        return None;
    };
    let target = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    target.parse().ok()
}

/// `path` with dot segments removed (RFC 3986 §5.2.4), borrowed when it has none; `None` when
/// a `..` would climb above the root.
fn normalize(path: &str) -> Option<Cow<'_, str>> {
    if !path.split('/').any(|s| dots(s).is_some()) {
        return Some(Cow::Borrowed(path));
    }
    let mut kept: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match dots(segment) {
            Some(1) if last => kept.push(""),
            Some(1) => {}
            Some(_) => {
                kept.pop()?;
                if last {
                    kept.push("");
                }
            }
            None => kept.push(segment),
        }
    }
    Some(Cow::Owned(format!("/{}", kept.join("/"))))
}

/// 1 for a `.` segment, 2 for `..` (either written as `%2e`), `None` for any other. It runs
/// on every segment of every request, so it reads the bytes and allocates nothing.
fn dots(segment: &str) -> Option<u8> {
    let (mut rest, mut count) = (segment.as_bytes(), 0u8);
    while !rest.is_empty() && count < 3 {
        rest = match rest {
            [b'.', tail @ ..] => tail,
            [b'%', b'2', b'e' | b'E', tail @ ..] => tail,
            _ => return None,
        };
        count += 1;
    }
    (rest.is_empty() && (1..=2).contains(&count)).then_some(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(raw_path: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::builder().uri(raw_path);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn dot_segments_resolve_and_may_not_climb_above_the_root() {
        let cases = [
            ("/a/b", Some("/a/b")),
            ("/a/./b", Some("/a/b")),
            ("/a/../b", Some("/b")),
            ("/a/%2E%2e/b/", Some("/b/")),
            ("/a/b/..", Some("/a/")),
            ("/a/.", Some("/a/")),
            ("/..", None),
            ("/a/../../etc/passwd", None),
            ("/invoke/%2e%2e/%2e%2e/x", None),
            ("/a/...", Some("/a/...")),
            ("/a/..%2fb", Some("/a/..%2fb")),
        ];
        for (path, want) in cases {
            assert_eq!(normalize(path).as_deref(), want, "{path}");
        }
    }

    #[test]
    fn the_query_survives_normalization() {
        let uri: Uri = "/a/../b?x=1".parse().unwrap();
        assert_eq!(normalized(&uri).unwrap(), "/b?x=1");
        assert_eq!(normalized(&"/a/b?x=1".parse().unwrap()), None);
    }

    #[test]
    fn ambiguous_requests_are_refused() {
        let host = ("host", "h");
        assert_eq!(refusal(&request("/", &[host])), None);
        assert!(
            refusal(&request("/", &[])).is_some(),
            "HTTP/1.1 without Host"
        );
        assert!(refusal(&request("/", &[host, host])).is_some());
        assert!(refusal(&request("/../x", &[host])).is_some());
        let mut old = request("/", &[]);
        *old.version_mut() = Version::HTTP_10;
        assert_eq!(refusal(&old), None, "HTTP/1.0 needs no Host");
    }
}

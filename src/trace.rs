//! Pure: an invocation's trace context. W3C `traceparent`/`tracestate` and AWS X-Ray's
//! `X-Amzn-Trace-Id` are taken from the request; a request with neither gets a trace that fnshim
//! starts (a new `traceparent` with random ids). Front ends keep one [`Trace`] per invocation:
//! its id goes into the log line, its fields into the handler's context (`traceId`,
//! `traceparent`, `tracestate`, `amznTraceId`), and a started one's `traceparent` onto the
//! request a proxied server receives.

use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};

pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";
pub const AMZN_TRACE_ID: &str = "x-amzn-trace-id";
/// The same names as constants: looked up by a `&str`, a name is parsed again on every request.
pub static TRACEPARENT_HEADER: HeaderName = HeaderName::from_static(TRACEPARENT);
static TRACESTATE_HEADER: HeaderName = HeaderName::from_static(TRACESTATE);
static AMZN_TRACE_ID_HEADER: HeaderName = HeaderName::from_static(AMZN_TRACE_ID);

/// Longest header value taken as it is (X-Ray allows 256; tracestate up to 512 by W3C).
const LONGEST: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// The W3C trace id: 32 lower-case hex digits (an X-Ray root's digits without the dashes).
    pub trace_id: String,
    /// The parent (span) id: 16 lower-case hex digits.
    pub parent_id: String,
    pub sampled: bool,
    /// The request's own `traceparent`, when it was valid; `None`: fnshim made one.
    given_parent: Option<String>,
    tracestate: Option<String>,
    amzn_given: Option<String>,
}

impl Trace {
    /// The request's trace, or a new one from `fresh` (128 random bits and the epoch seconds,
    /// called only when the request has no usable trace header).
    pub fn from_headers(headers: &HeaderMap, fresh: impl FnOnce() -> (u128, u64)) -> Trace {
        let text = |name: &HeaderName| {
            let value = headers.get(name)?.to_str().ok()?.trim();
            (!value.is_empty() && value.len() <= LONGEST).then(|| value.to_owned())
        };
        let amzn_given = text(&AMZN_TRACE_ID_HEADER);
        if let Some(given) = text(&TRACEPARENT_HEADER).filter(|p| parse_traceparent(p).is_some()) {
            let (trace_id, parent_id, sampled) = parse_traceparent(&given).unwrap_or_default();
            return Trace {
                trace_id,
                parent_id,
                sampled,
                given_parent: Some(given),
                tracestate: text(&TRACESTATE_HEADER),
                amzn_given,
            };
        }
        let (bits, secs) = match amzn_given.as_deref().and_then(parse_xray) {
            Some(xray) => return Trace::of_xray(xray, amzn_given, fresh),
            None => fresh(),
        };
        Trace::started(bits, secs, amzn_given)
    }

    /// A trace fnshim starts: the X-Ray convention's epoch seconds in the first 8 digits (so
    /// that its `X-Amzn-Trace-Id` is one X-Ray accepts), random digits in the rest.
    pub fn started(bits: u128, secs: u64, amzn_given: Option<String>) -> Trace {
        let random = bits & ((1u128 << 96) - 1);
        let id = (u128::from(secs as u32) << 96) | random;
        let parent = (bits >> 64) as u64 ^ (bits as u64).rotate_left(29);
        Trace {
            trace_id: hex(id.max(1), 32),
            parent_id: hex(u128::from(parent.max(1)), 16),
            sampled: false,
            given_parent: None,
            tracestate: None,
            amzn_given,
        }
    }

    fn of_xray(
        (trace_id, parent_id, sampled): (String, Option<String>, bool),
        amzn_given: Option<String>,
        fresh: impl FnOnce() -> (u128, u64),
    ) -> Trace {
        let parent_id = parent_id.unwrap_or_else(|| format!("{:016x}", (fresh().0 as u64).max(1)));
        Trace {
            trace_id,
            parent_id,
            sampled,
            given_parent: None,
            tracestate: None,
            amzn_given,
        }
    }

    /// The `traceparent` to send on: the request's, or the one fnshim made (version 00).
    pub fn traceparent(&self) -> String {
        self.traceparent_parts(|parts| parts.concat())
    }

    /// The `traceparent`'s text as the pieces it is joined from, given to `with`.
    fn traceparent_parts<R>(&self, with: impl FnOnce(&[&str]) -> R) -> R {
        match &self.given_parent {
            Some(given) => with(&[given]),
            None => {
                let flags = if self.sampled { "-01" } else { "-00" };
                with(&["00-", &self.trace_id, "-", &self.parent_id, flags])
            }
        }
    }

    /// `X-Amzn-Trace-Id`: the request's, or X-Ray's form of this trace.
    pub fn amzn_trace_id(&self) -> String {
        self.amzn_trace_id_parts(|parts| parts.concat())
    }

    /// The `X-Amzn-Trace-Id`'s text as the pieces it is joined from, given to `with`.
    fn amzn_trace_id_parts<R>(&self, with: impl FnOnce(&[&str]) -> R) -> R {
        match &self.amzn_given {
            Some(given) => with(&[given]),
            None => {
                let (time, random) = self.trace_id.split_at(8);
                let sampled = if self.sampled { "1" } else { "0" };
                let parent = &self.parent_id;
                with(&[
                    "Root=1-",
                    time,
                    "-",
                    random,
                    ";Parent=",
                    parent,
                    ";Sampled=",
                    sampled,
                ])
            }
        }
    }

    /// The header a proxied server gets when the request brought no valid `traceparent`.
    pub fn made_traceparent(&self) -> Option<HeaderValue> {
        match self.given_parent {
            Some(_) => None,
            // The text becomes the value's bytes (`from_str` would copy it).
            None => HeaderValue::from_maybe_shared(bytes::Bytes::from(self.traceparent())).ok(),
        }
    }

    /// The handler context's fields, each given to `put` as its name and its text's pieces
    /// (joined, they are its value), in this order: a back end that writes the context as text
    /// takes them from here, with no map and no joined string built.
    pub fn fields(&self, mut put: impl FnMut(&'static str, &[&str])) {
        put("traceId", &[&self.trace_id]);
        self.traceparent_parts(|parts| put("traceparent", parts));
        if let Some(state) = &self.tracestate {
            put("tracestate", &[state]);
        }
        self.amzn_trace_id_parts(|parts| put("amznTraceId", parts));
    }

    /// The handler context's fields as a map ([`Trace::fields`]).
    pub fn context(&self) -> Map<String, Value> {
        let mut context = Map::new();
        self.fields(|name, parts| {
            context.insert(name.into(), Value::String(parts.concat()));
        });
        context
    }
}

/// The low `digits` hex digits of `value`, zero-padded, in lower case: `format!("{:032x}")`
/// without the formatter's per-digit work (two ids are made per request).
fn hex(value: u128, digits: usize) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let text: Vec<u8> = (0..digits)
        .rev()
        .map(|i| DIGITS[((value >> (4 * i)) & 0xf) as usize])
        .collect();
    String::from_utf8(text).unwrap_or_default()
}

/// A valid `traceparent`: version (not `ff`), trace id and parent id (not all zeros), flags;
/// version 00 is exactly that long, a later version may carry more after a `-`.
fn parse_traceparent(text: &str) -> Option<(String, String, bool)> {
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let mut parts = text.splitn(5, '-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let rest_ok = match version {
        "00" => parts.next().is_none(),
        "ff" => false,
        _ => true,
    };
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    let valid = rest_ok
        && hex(version, 2)
        && hex(trace, 32)
        && nonzero(trace)
        && hex(parent, 16)
        && nonzero(parent)
        && hex(flags, 2);
    let sampled = u8::from_str_radix(flags, 16).ok()? & 1 == 1;
    valid.then(|| (trace.to_owned(), parent.to_owned(), sampled))
}

/// X-Ray's `Root=1-<8 hex>-<24 hex>[;Parent=<16 hex>][;Sampled=0|1]` as the W3C trace id,
/// its parent and the sampling decision.
pub fn parse_xray(text: &str) -> Option<(String, Option<String>, bool)> {
    let field = |key: &str| {
        text.split(';')
            .filter_map(|part| part.trim().split_once('='))
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim())
    };
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    let root = field("Root")?.strip_prefix("1-")?;
    let (time, random) = root.split_once('-')?;
    if !(hex(time, 8) && hex(random, 24)) || !(nonzero(time) || nonzero(random)) {
        return None;
    }
    let parent = field("Parent")
        .filter(|p| hex(p, 16) && nonzero(p))
        .map(str::to_ascii_lowercase);
    let sampled = field("Sampled") == Some("1");
    Some((
        format!("{time}{random}").to_ascii_lowercase(),
        parent,
        sampled,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_is_taken_with_its_state() {
        let h = headers(&[(TRACEPARENT, PARENT), (TRACESTATE, "congo=t61rcWkgMzE")]);
        let trace = Trace::from_headers(&h, || panic!("no new trace"));
        assert_eq!(trace.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(trace.sampled);
        assert_eq!(trace.made_traceparent(), None);
        let context = trace.context();
        assert_eq!(context["traceparent"], PARENT);
        assert_eq!(context["tracestate"], "congo=t61rcWkgMzE");
        assert_eq!(
            context["amznTraceId"],
            "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1"
        );
    }

    #[test]
    fn invalid_traceparents_start_a_new_trace_and_drop_the_state() {
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "garbage",
        ] {
            let mut h = headers(&[(TRACESTATE, "a=b")]);
            h.insert(TRACEPARENT, HeaderValue::from_static(bad));
            let trace = Trace::from_headers(&h, || (0xabcdef, 0x5e1b4151));
            assert!(trace.trace_id.starts_with("5e1b4151"), "{bad}");
            assert!(trace.made_traceparent().is_some(), "{bad}");
            assert!(!trace.context().contains_key("tracestate"), "{bad}");
        }
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-more";
        assert!(parse_traceparent(later).is_some());
    }

    #[test]
    fn a_started_trace_is_valid_and_new_each_time() {
        let a = Trace::from_headers(&HeaderMap::new(), || (1 << 100 | 7, 1_700_000_000));
        let b = Trace::from_headers(&HeaderMap::new(), || (1 << 90 | 9, 1_700_000_000));
        assert_ne!(a.trace_id, b.trace_id);
        let made = a.made_traceparent().unwrap();
        let (id, parent, _) = parse_traceparent(made.to_str().unwrap()).unwrap();
        assert_eq!((id, parent), (a.trace_id.clone(), a.parent_id.clone()));
        assert!(a
            .amzn_trace_id()
            .starts_with(&format!("Root=1-{:08x}-", 1_700_000_000)));
    }

    #[test]
    fn an_xray_header_alone_gives_the_w3c_trace() {
        let given = "Root=1-5e1b4151-5ac6c58f5ac6c58f5ac6c58f;Parent=53995c3f42cd8ad8;Sampled=1";
        let h = headers(&[(AMZN_TRACE_ID, given)]);
        let trace = Trace::from_headers(&h, || panic!("no new ids"));
        assert_eq!(trace.trace_id, "5e1b41515ac6c58f5ac6c58f5ac6c58f");
        assert_eq!(
            trace.traceparent(),
            "00-5e1b41515ac6c58f5ac6c58f5ac6c58f-53995c3f42cd8ad8-01"
        );
        assert_eq!(trace.context()["amznTraceId"], given);
        assert_eq!(parse_xray("Root=1-5e1b4151-5ac6c58f;Sampled=1"), None);
        assert_eq!(parse_xray("Root=1-00000000-000000000000000000000000"), None);
        let zero_parent = "Root=1-5e1b4151-5ac6c58f5ac6c58f5ac6c58f;Parent=0000000000000000";
        assert_eq!(parse_xray(zero_parent).unwrap().1, None);
    }
}

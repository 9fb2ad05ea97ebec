//! Trace headers (`traceparent`, `tracestate`, `X-Amzn-Trace-Id`, one per line): whatever they
//! hold, the trace id is 32 lower-case hex digits, not all zeros, and the handler's
//! `traceparent` carries it; a valid `traceparent` is kept as it is, anything else is replaced
//! by a valid one that the proxied server gets, and its `tracestate` is dropped.
#![no_main]

use fnshim::fuzzing;
use libfuzzer_sys::fuzz_target;

fn lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.splitn(3, '\n');
    let (parent, state, amzn) = (
        lines.next().unwrap_or(""),
        lines.next().unwrap_or(""),
        lines.next().unwrap_or(""),
    );
    let (context, made) = fuzzing::trace(parent, state, amzn);
    let id = context["traceId"].as_str().unwrap();
    assert!(lower_hex(id, 32) && id.bytes().any(|b| b != b'0'), "{id}");
    let traceparent = context["traceparent"].as_str().unwrap();
    assert_eq!(traceparent.split('-').nth(1), Some(id), "{context}");
    assert!(context["amznTraceId"].is_string(), "{context}");
    match made {
        Some(made) => {
            assert_eq!(made, traceparent);
            let parts: Vec<&str> = made.split('-').collect();
            assert!(parts.len() == 4 && parts[0] == "00" && lower_hex(parts[2], 16), "{made}");
            assert!(context.get("tracestate").is_none(), "{context}");
        }
        None => assert_eq!(traceparent, parent.trim(), "{context}"),
    }
});

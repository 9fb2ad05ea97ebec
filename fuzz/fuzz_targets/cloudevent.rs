//! CloudEvents over HTTP (structured and binary mode): a request is one exactly when its
//! content type or `ce-` headers say so, and an accepted one has the required attributes, every
//! `ce-` header and data exactly when there is a body (never from a `ce-data` header).
#![no_main]

use fnshim::fuzzing;
use fnshim_fuzz::{assert_round_trips, request};
use libfuzzer_sys::fuzz_target;

const REQUIRED: [&str; 4] = ["id", "source", "type", "specversion"];

fuzz_target!(|data: &[u8]| {
    let Some(input) = request(data) else { return };
    let headers = &input.headers;
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
    let structured = content_type
        .unwrap_or("")
        .to_ascii_lowercase()
        .starts_with("application/cloudevents+json");
    let binary = headers.contains_key("ce-specversion") || headers.contains_key("ce-id");
    let Some(event) = fuzzing::cloudevent(headers, input.body) else {
        assert!(!structured && !binary);
        return;
    };
    assert!(structured || binary);
    let Ok(event) = event else { return };
    let attributes = event.as_object().expect("a CloudEvent is an object");
    for key in REQUIRED {
        assert!(attributes.contains_key(key), "{key} is required");
    }
    if !structured {
        for name in headers.keys() {
            let attribute = name.as_str().strip_prefix("ce-");
            if let Some(attribute) = attribute.filter(|a| !a.starts_with("data")) {
                assert!(attributes.contains_key(attribute), "ce-{attribute}");
            }
        }
        let data = attributes.contains_key("data") || attributes.contains_key("data_base64");
        assert_eq!(data, !input.body.is_empty());
    }
    assert_round_trips(&event);
});

//! A raw `/invoke` body as the handler's event: the JSON it holds, else its text, else base64
//! of its bytes; refused only when the content type says JSON and it is not.
#![no_main]

use fnshim::fuzzing;
use fnshim_fuzz::assert_body;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

fuzz_target!(|body: &[u8]| {
    let parsed = serde_json::from_slice::<Value>(body).ok();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/json; charset=utf-8"),
    ] {
        let event = fuzzing::raw_event(content_type, body);
        match (&parsed, event) {
            (Some(value), Ok(event)) => assert_eq!(value, &event),
            (Some(_), Err(error)) => panic!("JSON refused: {error}"),
            (None, Err(_)) => assert!(content_type.is_some_and(|t| t.contains("json"))),
            (None, Ok(event)) => {
                assert!(!content_type.is_some_and(|t| t.contains("json")));
                let flagged = json!({
                    "body": event,
                    "isBase64Encoded": std::str::from_utf8(body).is_err(),
                });
                assert_body(&flagged, body);
            }
        }
    }
});

//! A handler's result (JSON from a worker) as an HTTP response: the status is an HTTP status,
//! header names are lower case, a body has a content type, and only a result shaped as a
//! response (with `statusCode`) can be refused.
#![no_main]

use fnshim::fuzzing;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(result) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let shaped = result.get("statusCode").is_some();
    let text = result.as_str().map(str::to_owned);
    let response = match fuzzing::to_response(result) {
        Ok(response) => response,
        Err(_) => return assert!(shaped, "only a response shape is refused"),
    };
    assert!(
        (100..=599).contains(&response.status),
        "status {}",
        response.status
    );
    for (name, _) in &response.headers {
        assert_eq!(name, &name.to_ascii_lowercase());
    }
    let typed = response
        .headers
        .iter()
        .any(|(name, _)| name == "content-type");
    assert!(
        response.body.is_empty() || typed,
        "a body without a content type"
    );
    if !shaped {
        assert_eq!(response.status, 200);
        assert!(typed);
    }
    if let Some(text) = text {
        assert_eq!(response.body, text.as_bytes());
    }
});

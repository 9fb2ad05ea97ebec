//! f.yml, parsed and routed: the first line is `METHOD /path`, the rest the file. The router
//! picks a function that exists, every declared route is reachable by a path of its own, and
//! the event of a routed request names the route's resource.
#![no_main]

use fnshim::fuzzing::{self, Fyml, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (first, file) = text.split_once('\n').unwrap_or((text, ""));
    let (method, path) = first.split_once(' ').unwrap_or(("GET", first));
    let Ok(fyml) = fuzzing::fyml(file) else {
        return;
    };
    routed(&fyml, method, path);
    for (route, methods) in fyml.routes() {
        let method = match &methods {
            Some(methods) => match methods.first() {
                Some(method) => method.as_str(),
                None => continue,
            },
            None => method,
        };
        let concrete = reachable(&route);
        let found = routed(&fyml, method, &concrete);
        assert!(
            found,
            "{method} {concrete} (route {route}) reaches no function"
        );
    }
    for function in 0..fyml.functions() {
        assert!(!fyml.describe(function).is_empty());
    }
});

/// Routes one request; checks the answer; whether a function was found.
fn routed(fyml: &Fyml, method: &str, path: &str) -> bool {
    let Some(routed) = fyml.route(method, path) else {
        return false;
    };
    assert!(routed.function < fyml.functions());
    assert!(routed.resource.starts_with('/'));
    for (name, value) in &routed.params {
        assert!(name == "proxy" || !value.contains('/'), "{name}={value}");
    }
    let headers = http::HeaderMap::new();
    let request = Request {
        method,
        path,
        query: None,
        headers: &headers,
        body: b"",
    };
    let (event, written) = fyml.event(&request);
    assert_eq!(event["resource"], routed.resource.as_str());
    let parsed: serde_json::Value = serde_json::from_slice(&written).expect("written JSON");
    assert_eq!(parsed, event, "the written event is the tree");
    true
}

/// A path the route matches: each `:param` a value, `*` (and what follows it) a rest.
fn reachable(route: &str) -> String {
    let mut path = String::new();
    for segment in route.split('/').filter(|s| !s.is_empty()) {
        match segment {
            "*" => return path + "/a/b",
            _ if segment.starts_with(':') => path.push_str("/v"),
            _ => {
                path.push('/');
                path.push_str(segment);
            }
        }
    }
    path
}

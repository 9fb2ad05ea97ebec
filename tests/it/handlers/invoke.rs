//! Raw events: `/invoke` and AWS's emulator path (JSON, text, malformed), CloudEvents in
//! binary and structured mode, and the routes of TRIGGER_TYPE=event.

use super::*;

const AWS_PATH: &str = "/2015-03-31/functions/function/invocations";

fn invoke_passes_json_and_text_bodies_and_returns_json(lang: Lang) {
    let served = serve_probe(lang, &[]);
    let event = json!({"order": 7, "items": ["a", "b"], "path": "/not-an-http-event"});
    let r = served.send(
        &Request::post("/invoke")
            .header("Content-Type", "application/json")
            .header("x-request-id", "inv-rid")
            .body(event.to_string()),
    );
    let j = ok_json(&r, &served);
    assert_eq!(j["event"], event, "{r}{served}");
    assert_eq!(j["context"]["requestId"], "inv-rid", "{r}{served}");
    assert_eq!(j["context"]["triggerType"], "event", "{r}{served}");
    assert_eq!(r.header("x-request-id"), Some("inv-rid"), "{r}{served}");

    let r = served.send(
        &Request::post("/invoke")
            .header("Content-Type", "text/plain")
            .body("plain words"),
    );
    assert_eq!(ok_json(&r, &served)["event"], "plain words", "{r}{served}");
    // Without a JSON content type, text that does not parse is still a string event.
    let r = served.send(&Request::post("/invoke").body("{not json"));
    assert_eq!(ok_json(&r, &served)["event"], "{not json", "{r}{served}");
    // JSON without a content type is parsed.
    let r = served.send(&Request::post("/invoke").body("[1,2,3]"));
    assert_eq!(
        ok_json(&r, &served)["event"],
        json!([1, 2, 3]),
        "{r}{served}"
    );

    let r = served.send(
        &Request::post(AWS_PATH)
            .header("Content-Type", "application/json")
            .body(r#"{"k":1}"#),
    );
    let j = ok_json(&r, &served);
    assert_eq!(j["event"], json!({"k": 1}), "{r}{served}");
    assert_eq!(j["context"]["triggerType"], "event", "{r}{served}");
}
per_language!(invoke_passes_json_and_text_bodies_and_returns_json);

fn invoke_results_are_json_whatever_their_shape(lang: Lang) {
    let served = serve_probe(lang, &[]);
    let r = invoke(&served, &json!({"return": "a string"}));
    assert_eq!(
        ok_json(&r, &served),
        json!("a string"),
        "a string result is JSON on /invoke{r}{served}"
    );
    let shaped = json!({"statusCode": 418, "body": "not mapped"});
    let r = invoke(&served, &json!({"return": shaped}));
    assert_eq!(
        ok_json(&r, &served),
        shaped,
        "/invoke does not map HTTP shapes{r}{served}"
    );
    let r = invoke(&served, &json!({"return": null}));
    assert_eq!(ok_json(&r, &served), Value::Null, "{r}{served}");
}
per_language!(invoke_results_are_json_whatever_their_shape);

fn malformed_json_on_invoke_is_400(lang: Lang) {
    let served = serve_probe(lang, &[]);
    let malformed = |path| {
        served.send(
            &Request::post(path)
                .header("Content-Type", "application/json")
                .body("{\"a\":"),
        )
    };
    assert_error(&malformed("/invoke"), 400, "InvalidEvent", &served);
    // AWS's path answers as Lambda's Invoke API does.
    let r = malformed(AWS_PATH);
    assert_eq!(r.status, 400, "{r}{served}");
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some("InvalidRequestContentException"),
        "{r}{served}"
    );
    let r = invoke(&served, &json!({"fine": true}));
    assert_eq!(
        ok_json(&r, &served)["event"],
        json!({"fine": true}),
        "{r}{served}"
    );
}
per_language!(malformed_json_on_invoke_is_400);

fn binary_cloudevent(target: &str) -> Request {
    Request::post(target)
        .header("ce-specversion", "1.0")
        .header("ce-id", "evt-1")
        .header("ce-source", "/orders")
        .header("ce-type", "order.created")
        .header("ce-subject", "order%2042")
        .header("Content-Type", "application/json")
        .body(r#"{"n":1,"tags":["x"]}"#)
}

fn cloudevents_binary_and_structured(lang: Lang) {
    let served = serve_probe(lang, &[]);
    let r = served.send(&binary_cloudevent("/invoke"));
    let j = ok_json(&r, &served);
    let e = &j["event"];
    assert_eq!(e["specversion"], "1.0", "{r}{served}");
    assert_eq!(e["id"], "evt-1", "{r}{served}");
    assert_eq!(e["source"], "/orders", "{r}{served}");
    assert_eq!(e["type"], "order.created", "{r}{served}");
    assert_eq!(
        e["subject"], "order 42",
        "ce- values are percent-decoded{r}{served}"
    );
    assert_eq!(e["datacontenttype"], "application/json", "{r}{served}");
    assert_eq!(e["data"], json!({"n": 1, "tags": ["x"]}), "{r}{served}");
    assert_eq!(j["context"]["triggerType"], "cloudevent", "{r}{served}");

    let structured = json!({
        "specversion": "1.0", "id": "evt-2", "source": "/s", "type": "t.changed",
        "time": "2024-01-01T00:00:00Z", "data": {"k": true},
    });
    let r = served.send(
        &Request::post("/invoke")
            .header(
                "Content-Type",
                "application/cloudevents+json; charset=utf-8",
            )
            .body(structured.to_string()),
    );
    let j = ok_json(&r, &served);
    assert_eq!(j["event"], structured, "{r}{served}");
    assert_eq!(j["context"]["triggerType"], "cloudevent", "{r}{served}");
}
per_language!(cloudevents_binary_and_structured);

fn malformed_cloudevents_are_400(lang: Lang) {
    let served = serve_probe(lang, &[]);
    let no_source = Request::post("/invoke")
        .header("ce-specversion", "1.0")
        .header("ce-id", "evt-3")
        .header("ce-type", "t")
        .body("{}");
    let j = assert_error(&served.send(&no_source), 400, "InvalidEvent", &served);
    assert!(
        j["errorMessage"].as_str().unwrap().contains("source"),
        "name what is missing: {j}"
    );
    let ce = "application/cloudevents+json";
    let no_type = json!({"specversion": "1.0", "id": "evt-4", "source": "/s"}).to_string();
    let j = assert_error(
        &served.send(
            &Request::post("/invoke")
                .header("Content-Type", ce)
                .body(no_type),
        ),
        400,
        "InvalidEvent",
        &served,
    );
    assert!(
        j["errorMessage"].as_str().unwrap().contains("type"),
        "name what is missing: {j}"
    );
    let broken = Request::post("/invoke")
        .header("Content-Type", ce)
        .body("{\"specversion\":");
    assert_error(&served.send(&broken), 400, "InvalidEvent", &served);
}
per_language!(malformed_cloudevents_are_400);

fn trigger_type_event_serves_post_root_and_nothing_else(lang: Lang) {
    let served = serve_probe(lang, &[("TRIGGER_TYPE", "event")]);
    let r = served.send(
        &Request::post("/")
            .header("Content-Type", "application/json")
            .body(r#"{"k":1}"#),
    );
    let j = ok_json(&r, &served);
    assert_eq!(j["event"], json!({"k": 1}), "{r}{served}");
    assert_eq!(j["context"]["triggerType"], "event", "{r}{served}");
    let r = served.send(&Request::post("/invoke").body(r#"{"k":2}"#));
    assert_eq!(
        ok_json(&r, &served)["event"],
        json!({"k": 2}),
        "{r}{served}"
    );
    let r = served.send(&binary_cloudevent("/"));
    assert_eq!(ok_json(&r, &served)["event"]["id"], "evt-1", "{r}{served}");
    for (method, path) in [
        ("GET", "/"),
        ("POST", "/other"),
        ("GET", "/items/1"),
        ("PUT", "/"),
    ] {
        let r = served.send(&Request::new(method, path).body("{}"));
        assert_eq!(
            r.status, 404,
            "{method} {path} with TRIGGER_TYPE=event{r}{served}"
        );
    }
    let r = served.get("/_/health");
    assert_eq!(r.status, 200, "the shim's own routes stay{r}{served}");
}
per_language!(trigger_type_event_serves_post_root_and_nothing_else);

use super::*;

fn http(payload: Value) -> AzureHttp {
    match azure_event(payload.to_string().as_bytes()).unwrap() {
        AzureEvent::Http(http) => http,
        other => panic!("not HTTP: {other:?}"),
    }
}

#[test]
fn an_http_binding_is_the_request_it_was() {
    let got = http(json!({"Data": {"req": {
        "Url": "http://localhost:7071/api/hello?name=Ada&x=1", "Method": "get",
        "Query": {"name": "Ada", "x": "1"}, "Headers": {"Accept": ["*/*"], "X-Two": ["a", "b"]},
        "Params": {}, "Body": null}}, "Metadata": {}}));
    assert_eq!(got.method, "GET");
    assert_eq!(got.path, "/api/hello");
    assert_eq!(got.query.as_deref(), Some("name=Ada&x=1"));
    assert_eq!(
        got.headers,
        [
            ("Accept".into(), "*/*".into()),
            ("X-Two".into(), "a".into()),
            ("X-Two".into(), "b".into())
        ]
    );
    assert!(got.body.is_empty());
}

#[test]
fn the_query_map_stands_in_for_a_url_without_one_and_bodies_keep_their_bytes() {
    let got = http(
        json!({"Data": {"req": {"Url": "https://x.example/api/q", "Method": "POST",
        "Query": "{\"a b\":\"c&d\"}", "Headers": {"Content-Type": ["application/json"]},
        "Body": {"n": 1}}}}),
    );
    assert_eq!(got.query.as_deref(), Some("a%20b=c%26d"));
    assert_eq!(got.body, br#"{"n":1}"#);
    let got = http(json!({"Data": {"req": {"Url": "/api/up", "Method": "POST",
        "Headers": {"Content-Type": ["application/octet-stream"]}, "Body": "AP8Q"}}}));
    assert_eq!(
        (got.path.as_str(), got.body),
        ("/api/up", vec![0x00, 0xff, 0x10])
    );
    let got = http(json!({"Data": {"req": {"Url": "/api/t", "Method": "POST",
        "Headers": {"Content-Type": ["text/plain"]}, "Body": "AP8Q"}}}));
    assert_eq!(got.body, b"AP8Q");
}

#[test]
fn other_triggers_are_raw_events_and_bad_payloads_say_why() {
    let timer = json!({"Data": {"myTimer": {"Schedule": {}, "IsPastDue": false}},
        "Metadata": {"sys": {"MethodName": "tick"}}});
    assert_eq!(
        azure_event(timer.to_string().as_bytes()).unwrap(),
        AzureEvent::Other(json!({"data": timer["Data"], "metadata": timer["Metadata"]}))
    );
    assert!(azure_event(b"{oops").unwrap_err().0.contains("not JSON"));
    assert!(azure_event(b"{\"x\":1}")
        .unwrap_err()
        .0
        .contains("\"Data\""));
    let bad = json!({"Data": {"req": {"Url": "/", "Method": "GE T"}}});
    assert!(azure_event(bad.to_string().as_bytes())
        .unwrap_err()
        .0
        .contains("Method"));
}

#[test]
fn answers_have_the_hosts_shape() {
    let response = crate::event::to_response(
        json!({"statusCode": 201, "headers": {"x-a": "1"}, "body": "ok"}),
    )
    .unwrap();
    assert_eq!(
        azure_http_answer(response.clone(), "res", vec!["l".into()]),
        json!({"Outputs": {"res": {"statusCode": 201, "headers": {"x-a": "1", "content-type": "application/json"}, "body": "ok"}}, "Logs": ["l"], "ReturnValue": null})
    );
    assert_eq!(
        azure_http_answer(response, "$return", vec![])["ReturnValue"]["statusCode"],
        201
    );
    assert_eq!(
        azure_answer(json!(7), vec![]),
        json!({"Outputs": {}, "Logs": [], "ReturnValue": 7})
    );
    assert_eq!(
        azure_answer(
            json!({"Outputs": {"q": "m"}, "Logs": ["own"]}),
            vec!["fn".into()]
        ),
        json!({"Outputs": {"q": "m"}, "Logs": ["fn", "own"], "ReturnValue": null})
    );
}

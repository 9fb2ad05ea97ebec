//! Unit tests of `event::lambda` on events in the shapes AWS documents for each integration.

use super::*;
use bytes::Bytes;

/// API Gateway REST API proxy integration (payload 1.0), abridged from AWS's example.
fn rest_v1() -> Value {
    json!({
        "resource": "/{proxy+}",
        "path": "/my/path",
        "httpMethod": "POST",
        "headers": {"Header1": "value1", "Header2": "value2", "Cookie": "s=1; t=2"},
        "multiValueHeaders": {"Header1": ["value1"], "Header2": ["value1", "value2"], "Cookie": ["s=1; t=2"]},
        "queryStringParameters": {"parameter1": "value2", "parameter2": "a b&c"},
        "multiValueQueryStringParameters": {"parameter1": ["value1", "value2"], "parameter2": ["a b&c"]},
        "requestContext": {
            "accountId": "123456789012", "apiId": "id", "httpMethod": "POST",
            "identity": {"sourceIp": "192.0.2.1", "userAgent": "agent"},
            "path": "/my/path", "protocol": "HTTP/1.1", "requestId": "id=",
            "requestTimeEpoch": 1583349317135u64, "resourcePath": "/{proxy+}", "stage": "$default"
        },
        "pathParameters": {"proxy": "my/path"},
        "stageVariables": null,
        "body": "Hello from Lambda!",
        "isBase64Encoded": false
    })
}

/// API Gateway HTTP API (payload 2.0), abridged from AWS's example.
fn http_v2() -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/my/path",
        "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
        "cookies": ["cookie1", "cookie2"],
        "headers": {"header1": "value1", "header2": "value1,value2"},
        "queryStringParameters": {"parameter1": "value1,value2", "parameter2": "value"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api-id", "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "http": {"method": "POST", "path": "/my/path", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "agent"},
            "requestId": "id", "routeKey": "$default", "stage": "$default", "time": "12/Mar/2020:19:03:58 +0000", "timeEpoch": 1583348638390u64
        },
        "body": "SGVsbG8gZnJvbSBMYW1iZGE=",
        "isBase64Encoded": true
    })
}

/// A Lambda Function URL request: the 2.0 shape, `routeKey` `$default`, no stage variables.
fn function_url() -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/my/path",
        "rawQueryString": "parameter1=value1",
        "headers": {"header1": "value1", "host": "abc.lambda-url.us-west-2.on.aws"},
        "queryStringParameters": {"parameter1": "value1"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "<urlid>", "domainName": "<url-id>.lambda-url.us-west-2.on.aws",
            "domainPrefix": "<url-id>",
            "http": {"method": "GET", "path": "/my/path", "protocol": "HTTP/1.1", "sourceIp": "123.123.123.123", "userAgent": "agent"},
            "requestId": "id", "routeKey": "$default", "stage": "$default", "time": "12/Mar/2020:19:03:58 +0000", "timeEpoch": 1583348638390u64
        },
        "isBase64Encoded": false
    })
}

/// An ALB target-group request without multi-value headers (AWS's example).
fn alb() -> Value {
    json!({
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/lambda-279XGJDqGZ5rsrHC2Fjr/49e9d65c45c6791a"}},
        "httpMethod": "GET",
        "path": "/lambda",
        "queryStringParameters": {"query": "1234ABCD"},
        "headers": {"accept": "text/html", "host": "lambda-alb-123578498.us-east-1.elb.amazonaws.com", "user-agent": "Mozilla/5.0"},
        "body": "",
        "isBase64Encoded": false
    })
}

/// The same ALB request with multi-value headers on: values stay URL-encoded as received.
fn alb_multi() -> Value {
    json!({
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/t/1"}},
        "httpMethod": "GET",
        "path": "/lambda",
        "multiValueQueryStringParameters": {"myKey": ["val1", "val%202"]},
        "multiValueHeaders": {"accept": ["text/html"], "cookie": ["a=1; b=2"], "x-tag": ["1", "2"]},
        "body": "",
        "isBase64Encoded": false
    })
}

fn header<'a>(request: &'a EventRequest, name: &str) -> Vec<&'a str> {
    request
        .headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn shapes_are_recognised() {
    assert_eq!(shape_of(&rest_v1()), Some(Shape::ApiV1));
    assert_eq!(shape_of(&http_v2()), Some(Shape::ApiV2));
    assert_eq!(shape_of(&function_url()), Some(Shape::ApiV2));
    assert_eq!(shape_of(&alb()), Some(Shape::Alb { multi: false }));
    assert_eq!(shape_of(&alb_multi()), Some(Shape::Alb { multi: true }));
    assert_eq!(shape_of(&json!({"key1": "value1"})), None);
    assert_eq!(shape_of(&json!({"httpMethod": "GET"})), None);
    assert_eq!(shape_of(&json!("text")), None);
    let s3 = json!({"Records": [{"eventSource": "aws:s3", "requestContext": {}}]});
    assert_eq!(shape_of(&s3), None);
}

#[test]
fn rest_v1_becomes_the_request_it_stands_for() {
    let request = to_request(&rest_v1(), Shape::ApiV1).unwrap();
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.target,
        "/my/path?parameter1=value1&parameter1=value2&parameter2=a%20b%26c"
    );
    assert_eq!(header(&request, "header2"), ["value1", "value2"]);
    assert_eq!(header(&request, "cookie"), ["s=1; t=2"]);
    assert_eq!(request.body, b"Hello from Lambda!");
    let context: Value = serde_json::from_str(&request.context).unwrap();
    assert_eq!(context["requestId"], "id=");
}

#[test]
fn v1_without_multi_values_uses_the_single_ones() {
    let mut event = rest_v1();
    event["multiValueHeaders"] = Value::Null;
    event["multiValueQueryStringParameters"] = Value::Null;
    let request = to_request(&event, Shape::ApiV1).unwrap();
    assert!(request
        .target
        .ends_with("?parameter1=value2&parameter2=a%20b%26c"));
    assert_eq!(header(&request, "header2"), ["value2"]);
}

#[test]
fn http_v2_keeps_the_raw_query_and_moves_cookies() {
    let request = to_request(&http_v2(), Shape::ApiV2).unwrap();
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.target,
        "/my/path?parameter1=value1&parameter1=value2&parameter2=value"
    );
    assert_eq!(header(&request, "header2"), ["value1,value2"]);
    assert_eq!(header(&request, "cookie"), ["cookie1; cookie2"]);
    assert_eq!(request.body, b"Hello from Lambda");
}

#[test]
fn function_urls_are_v2_requests() {
    let request = to_request(&function_url(), Shape::ApiV2).unwrap();
    assert_eq!(request.method, "GET");
    assert_eq!(request.target, "/my/path?parameter1=value1");
    assert_eq!(
        header(&request, "host"),
        ["abc.lambda-url.us-west-2.on.aws"]
    );
    assert!(request.body.is_empty());
}

#[test]
fn alb_queries_stay_as_received() {
    let single = to_request(&alb(), Shape::Alb { multi: false }).unwrap();
    assert_eq!(single.target, "/lambda?query=1234ABCD");
    assert_eq!(header(&single, "accept"), ["text/html"]);
    let multi = to_request(&alb_multi(), Shape::Alb { multi: true }).unwrap();
    assert_eq!(multi.target, "/lambda?myKey=val1&myKey=val%202");
    assert_eq!(header(&multi, "x-tag"), ["1", "2"]);
    assert_eq!(header(&multi, "cookie"), ["a=1; b=2"]);
}

#[test]
fn bad_base64_and_odd_paths() {
    let mut event = rest_v1();
    event["isBase64Encoded"] = json!(true);
    event["body"] = json!("!!");
    assert!(to_request(&event, Shape::ApiV1).is_err());
    let mut event = rest_v1();
    event["path"] = json!("/a b/ü");
    event["multiValueQueryStringParameters"] = Value::Null;
    event["queryStringParameters"] = Value::Null;
    assert_eq!(
        to_request(&event, Shape::ApiV1).unwrap().target,
        "/a%20b/%C3%BC"
    );
    event["path"] = Value::Null;
    assert_eq!(to_request(&event, Shape::ApiV1).unwrap().target, "/");
}

fn response(headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
    HttpResponse {
        status: 201,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body: Bytes::copy_from_slice(body),
    }
}

#[test]
fn result_maps_carry_every_value_and_encode_binary() {
    let headers = vec![
        ("Content-Type".to_string(), "text/plain".to_string()),
        ("set-cookie".to_string(), "a=1".to_string()),
        ("set-cookie".to_string(), "b=2".to_string()),
    ];
    let map = result_map(200, &headers, b"hi");
    assert_eq!(map["statusCode"], 200);
    assert_eq!(map["headers"]["content-type"], "text/plain");
    assert_eq!(
        map["multiValueHeaders"]["set-cookie"],
        json!(["a=1", "b=2"])
    );
    assert_eq!(
        (map["body"].clone(), map["isBase64Encoded"].clone()),
        (json!("hi"), json!(false))
    );
    let png = vec![("content-type".to_string(), "image/png".to_string())];
    let map = result_map(200, &png, &[0x89, b'P', b'N', b'G']);
    assert_eq!(
        (map["body"].clone(), map["isBase64Encoded"].clone()),
        (json!("iVBORw=="), json!(true))
    );
    let map = result_map(204, &[], b"");
    assert_eq!(
        (map["body"].clone(), map["isBase64Encoded"].clone()),
        (json!(""), json!(false))
    );
}

#[test]
fn v1_responses_have_single_and_multi_value_headers() {
    let answer = response(
        &[
            ("content-type", "application/json"),
            ("x-a", "1"),
            ("x-a", "2"),
        ],
        b"{}",
    );
    let out = integration_response(Shape::ApiV1, &answer);
    assert_eq!(out["statusCode"], 201);
    assert_eq!(out["headers"]["x-a"], "2");
    assert_eq!(out["multiValueHeaders"]["x-a"], json!(["1", "2"]));
    assert_eq!(out["body"], "{}");
    assert_eq!(out["isBase64Encoded"], false);
    assert!(out.get("statusDescription").is_none());
}

#[test]
fn v2_responses_move_set_cookie_to_cookies() {
    let answer = response(
        &[
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2; Path=/"),
            ("x-a", "1"),
            ("x-a", "2"),
        ],
        &[0xff, 0x00],
    );
    let out = integration_response(Shape::ApiV2, &answer);
    assert_eq!(out["cookies"], json!(["a=1", "b=2; Path=/"]));
    assert_eq!(out["headers"]["x-a"], "1,2");
    assert!(out["headers"].get("set-cookie").is_none());
    assert_eq!(out["body"], "/wA=");
    assert_eq!(out["isBase64Encoded"], true);
}

#[test]
fn alb_responses_have_a_status_description_and_their_header_style() {
    let answer = response(
        &[("content-type", "text/html"), ("x-a", "1"), ("x-a", "2")],
        b"<p>",
    );
    let single = integration_response(Shape::Alb { multi: false }, &answer);
    assert_eq!(single["statusDescription"], "201 Created");
    assert_eq!(single["headers"]["x-a"], "2");
    assert!(single.get("multiValueHeaders").is_none());
    let multi = integration_response(Shape::Alb { multi: true }, &answer);
    assert_eq!(multi["multiValueHeaders"]["x-a"], json!(["1", "2"]));
    assert!(multi.get("headers").is_none());
    assert_eq!(multi["body"], "<p>");
}

//! Pure: Azure Functions custom-handler payloads. The Functions host POSTs
//! `/{FunctionName}` with `{"Data": {binding: value}, "Metadata": {...}}`; an HTTP trigger's
//! binding (`{"Url","Method","Query","Headers":{name:[values]},"Params","Body"}`) is read back
//! into the request it was, anything else stays `{data, metadata}`. The answer is
//! `{"Outputs", "Logs", "ReturnValue"}`.

use base64::Engine;
use serde_json::{json, Map, Value};

use super::BadEvent;

/// An HTTP trigger's request, as the host described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureHttp {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Header names and values as sent, repeated names kept.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What a custom-handler payload carries.
#[derive(Debug, Clone, PartialEq)]
pub enum AzureEvent {
    Http(AzureHttp),
    /// Any other trigger: the raw event `{data, metadata}` the handler gets.
    Other(Value),
}

/// Reads a payload: an HTTP trigger when a binding of `Data` has the HTTP fields (`Method`
/// and `Url`), else the raw event.
pub fn azure_event(body: &[u8]) -> Result<AzureEvent, BadEvent> {
    let payload: Value = serde_json::from_slice(body)
        .map_err(|e| BadEvent(format!("the custom-handler payload is not JSON: {e}")))?;
    let Some(data) = payload.get("Data").filter(|d| d.is_object()) else {
        return Err(BadEvent(
            "the custom-handler payload has no \"Data\" object".into(),
        ));
    };
    let metadata = payload.get("Metadata").cloned().unwrap_or(Value::Null);
    let trigger = data.as_object().into_iter().flatten().find_map(|(_, v)| {
        let binding = v.as_object()?;
        (binding.contains_key("Method") && binding.contains_key("Url")).then_some(binding)
    });
    match trigger {
        Some(binding) => http_of(binding).map(AzureEvent::Http),
        None => Ok(AzureEvent::Other(
            json!({"data": data.clone(), "metadata": metadata}),
        )),
    }
}

fn http_of(binding: &Map<String, Value>) -> Result<AzureHttp, BadEvent> {
    let text = |key: &str| binding.get(key).and_then(Value::as_str).unwrap_or("");
    let url = text("Url");
    let method = text("Method").to_ascii_uppercase();
    if method.is_empty() || http::Method::from_bytes(method.as_bytes()).is_err() {
        return Err(BadEvent(format!(
            "the HTTP binding's Method {method:?} is not a method"
        )));
    }
    let (path, query) = split_url(url);
    let query = query.or_else(|| query_of(binding.get("Query")));
    let headers = headers_of(binding.get("Headers"));
    let content_type = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_str());
    let body = body_of(binding.get("Body"), content_type);
    Ok(AzureHttp {
        method,
        path,
        query,
        headers,
        body,
    })
}

/// `http://host/api/hello?x=1` → (`/api/hello`, `x=1`); a bare path is taken as it is.
fn split_url(url: &str) -> (String, Option<String>) {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path_and_query = match url.contains("://") {
        true => after_scheme.find('/').map_or("/", |i| &after_scheme[i..]),
        false => after_scheme,
    };
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query.to_owned()).filter(|q| !q.is_empty())),
        None => (path_and_query, None),
    };
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    (path, query)
}

/// The `Query` map (a string of JSON in some host versions) as a query string.
fn query_of(query: Option<&Value>) -> Option<String> {
    let parsed;
    let map = match query? {
        Value::String(text) => {
            parsed = serde_json::from_str::<Value>(text).ok()?;
            parsed.as_object()?
        }
        other => other.as_object()?,
    };
    let pairs: Vec<String> = map
        .iter()
        .map(|(k, v)| {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            format!("{}={}", encode(k), encode(&v))
        })
        .collect();
    (!pairs.is_empty()).then(|| pairs.join("&"))
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `{name: [values]}` (or `{name: value}`) as pairs.
fn headers_of(headers: Option<&Value>) -> Vec<(String, String)> {
    let Some(map) = headers.and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut pairs = Vec::new();
    for (name, value) in map {
        match value {
            Value::Array(values) => pairs.extend(
                values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|v| (name.clone(), v.to_owned())),
            ),
            Value::String(v) => pairs.push((name.clone(), v.clone())),
            _ => {}
        }
    }
    pairs
}

/// The body as text; a JSON value the host parsed is written back as JSON; for a binary
/// content type (not text, JSON, XML or a form) a base64 string is decoded.
fn body_of(body: Option<&Value>, content_type: Option<&str>) -> Vec<u8> {
    match body {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) if content_type.is_some_and(is_binary) => {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap_or_else(|_| text.clone().into_bytes())
        }
        Some(Value::String(text)) => text.clone().into_bytes(),
        Some(other) => other.to_string().into_bytes(),
    }
}

fn is_binary(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let textual = essence.starts_with("text/")
        || super::is_json(&essence)
        || essence.ends_with("+xml")
        || essence.ends_with("/xml")
        || essence == "application/x-www-form-urlencoded"
        || essence == "application/javascript";
    !essence.is_empty() && !textual
}

/// The host's answer to an HTTP trigger: the response in the output binding `output`
/// (`$return`: in `ReturnValue`), its body as text or, when not UTF-8, base64.
pub fn azure_http_answer(
    response: super::response::HttpResponse,
    output: &str,
    logs: Vec<String>,
) -> Value {
    let mut headers = Map::new();
    for (name, value) in response.headers {
        headers.insert(name, Value::String(value));
    }
    let body = match std::str::from_utf8(&response.body) {
        Ok(text) => Value::String(text.to_owned()),
        Err(_) => Value::String(base64::engine::general_purpose::STANDARD.encode(&response.body)),
    };
    let res = json!({"statusCode": response.status, "headers": headers, "body": body});
    match output {
        "$return" => json!({"Outputs": {}, "Logs": logs, "ReturnValue": res}),
        name => json!({"Outputs": {name: res}, "Logs": logs, "ReturnValue": null}),
    }
}

/// The answer to any other trigger: a result that already has `Outputs` is the host's shape
/// and is passed on (its `Logs` first); any other result is the `ReturnValue`.
pub fn azure_answer(result: Value, logs: Vec<String>) -> Value {
    match result {
        Value::Object(mut map) if map.contains_key("Outputs") => {
            let mut all = logs;
            if let Some(Value::Array(own)) = map.remove("Logs") {
                all.extend(
                    own.into_iter()
                        .filter_map(|l| l.as_str().map(str::to_owned)),
                );
            }
            map.insert("Logs".into(), json!(all));
            map.entry("ReturnValue").or_insert(Value::Null);
            Value::Object(map)
        }
        other => json!({"Outputs": {}, "Logs": logs, "ReturnValue": other}),
    }
}

#[cfg(test)]
#[path = "azure_tests.rs"]
mod tests;

//! Pure: Function Compute's request headers as context fields. FC sends the function's and
//! service's identity, the region, the account and the temporary credentials as `x-fc-*`
//! headers; they become `context.function`, `context.service`, `context.region`,
//! `context.accountId` and `context.credentials`, as FC's own runtimes name them. The
//! credentials are for the function only: nothing here is logged.

use http::HeaderMap;
use serde_json::{Map, Value};

/// Each context field: its group (`None`: top level), its name, its header, and whether it is
/// a number.
const FIELDS: &[(Option<&str>, &str, &str, bool)] = &[
    (
        Some("credentials"),
        "accessKeyId",
        "x-fc-access-key-id",
        false,
    ),
    (
        Some("credentials"),
        "accessKeySecret",
        "x-fc-access-key-secret",
        false,
    ),
    (
        Some("credentials"),
        "securityToken",
        "x-fc-security-token",
        false,
    ),
    (Some("function"), "name", "x-fc-function-name", false),
    (Some("function"), "handler", "x-fc-function-handler", false),
    (Some("function"), "memory", "x-fc-function-memory", true),
    (Some("function"), "timeout", "x-fc-function-timeout", true),
    (
        Some("function"),
        "initializer",
        "x-fc-function-initializer",
        false,
    ),
    (Some("service"), "name", "x-fc-service-name", false),
    (Some("service"), "qualifier", "x-fc-qualifier", false),
    (Some("service"), "versionId", "x-fc-version-id", false),
    (None, "region", "x-fc-region", false),
    (None, "accountId", "x-fc-account-id", false),
];

/// The FC fields of a request's headers; empty when it has none.
pub fn fc_context(headers: &HeaderMap) -> Map<String, Value> {
    let mut context = Map::new();
    // Most requests carry none: one pass over their few names instead of a lookup per field.
    if !headers
        .keys()
        .any(|name| name.as_str().starts_with("x-fc-"))
    {
        return context;
    }
    for &(group, name, header, number) in FIELDS {
        let Some(text) = headers.get(header).and_then(|v| v.to_str().ok()) else {
            continue;
        };
        let value = match number {
            true => match text.trim().parse::<u64>() {
                Ok(n) => Value::from(n),
                Err(_) => continue,
            },
            false => Value::from(text),
        };
        let map = match group {
            None => &mut context,
            Some(group) => {
                let entry = context
                    .entry(group)
                    .or_insert_with(|| Value::Object(Map::new()));
                match entry.as_object_mut() {
                    Some(map) => map,
                    None => continue,
                }
            }
        };
        map.insert(name.into(), value);
    }
    context
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fc_headers_fill_the_context_and_absent_ones_add_nothing() {
        let mut headers = HeaderMap::new();
        assert!(fc_context(&headers).is_empty());
        for (k, v) in [
            ("x-fc-function-name", "orders"),
            ("x-fc-function-memory", "512"),
            ("x-fc-function-timeout", "30"),
            ("x-fc-region", "cn-hangzhou"),
            ("x-fc-account-id", "1234"),
            ("x-fc-access-key-id", "AK"),
            ("x-fc-access-key-secret", "SECRET"),
            ("x-fc-security-token", "TOKEN"),
            ("x-fc-service-name", "shop"),
        ] {
            headers.insert(k, v.parse().unwrap());
        }
        assert_eq!(
            Value::Object(fc_context(&headers)),
            json!({
                "credentials": {"accessKeyId": "AK", "accessKeySecret": "SECRET", "securityToken": "TOKEN"},
                "function": {"name": "orders", "memory": 512, "timeout": 30},
                "service": {"name": "shop"},
                "region": "cn-hangzhou",
                "accountId": "1234",
            })
        );
    }
}

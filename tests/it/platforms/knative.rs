//! Knative / Cloud Run: K_SERVICE, K_REVISION and K_CONFIGURATION fill the context's function
//! name and version when FUNCTION_NAME and FUNCTION_VERSION are unset; `fnshim check` names
//! the platform.

use super::*;

const CONTEXT_JS: &str = "exports.handler = async (event, context) => ({\n  statusCode: 200,\n  headers: {'content-type': 'application/json'},\n  body: JSON.stringify({name: context.functionName, version: context.functionVersion}),\n});\n";

fn identity(env: &[(&str, &str)]) -> Value {
    let served = serve(&[("index.js", CONTEXT_JS)], env);
    json_of(&served, &Request::get("/"), 200)
}

#[test]
fn knative_service_and_revision_are_the_function_name_and_version() {
    let got = identity(&[
        ("K_SERVICE", "orders"),
        ("K_REVISION", "orders-00042-xyz"),
        ("K_CONFIGURATION", "orders"),
    ]);
    assert_eq!(
        got,
        serde_json::json!({"name": "orders", "version": "orders-00042-xyz"})
    );
}

#[test]
fn a_configuration_without_a_service_names_the_function_and_own_settings_win() {
    let got = identity(&[("K_CONFIGURATION", "billing"), ("K_REVISION", "billing-1")]);
    assert_eq!(
        got,
        serde_json::json!({"name": "billing", "version": "billing-1"})
    );
    let got = identity(&[
        ("K_SERVICE", "orders"),
        ("K_REVISION", "orders-1"),
        ("FUNCTION_NAME", "mine"),
        ("FUNCTION_VERSION", "7"),
    ]);
    assert_eq!(got, serde_json::json!({"name": "mine", "version": "7"}));
}

/// `fnshim check`'s `platform:` line.
fn platform_line(env: &[(&str, &str)]) -> String {
    let served = start(&[("index.js", CONTEXT_JS)], env, &["check"]);
    assert_eq!(served.shim.wait_code(SLOW_START), 0, "{}", served.shim);
    let out = served.shim.stdout();
    let line = out.lines().find(|l| l.starts_with("platform: "));
    line.unwrap_or_else(|| panic!("no platform line{}", served.shim))
        .to_owned()
}

#[test]
fn check_names_the_platform_and_why() {
    assert_eq!(
        platform_line(&[]),
        "platform: plain HTTP on PORT (none of AWS_LAMBDA_RUNTIME_API, FUNCTIONS_CUSTOMHANDLER_PORT, K_SERVICE is set)"
    );
    assert_eq!(
        platform_line(&[("K_SERVICE", "orders")]),
        "platform: Knative / Cloud Run (K_SERVICE or K_CONFIGURATION is \"orders\": plain HTTP on PORT)"
    );
    assert_eq!(
        platform_line(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "0"), ("K_SERVICE", "orders")]),
        "platform: Azure Functions custom handler (FUNCTIONS_CUSTOMHANDLER_PORT=0 is set: the Functions host's payloads on that port)"
    );
}

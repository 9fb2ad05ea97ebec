//! The platform contract fnshim serves, decided once from the platform's own variables: the
//! Lambda Runtime API (`config::lambda`), an Azure Functions custom handler
//! (FUNCTIONS_CUSTOMHANDLER_PORT), Knative or Cloud Run (K_SERVICE), or plain HTTP on PORT.
//! Knative's variables also stand in for FUNCTION_NAME and FUNCTION_VERSION when unset.

use super::Reader;

/// What fnshim speaks to its caller, and the variable that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Platform {
    /// AWS_LAMBDA_RUNTIME_API: fnshim polls the Runtime API.
    Lambda,
    /// FUNCTIONS_CUSTOMHANDLER_PORT: the Functions host's custom-handler payloads on that port.
    Azure { port: u16 },
    /// K_SERVICE or K_CONFIGURATION: Knative or Cloud Run; plain HTTP on PORT.
    Knative { service: String },
    /// None of these: plain HTTP on PORT.
    Http,
}

impl Platform {
    /// One line for `fnshim check`: the contract and why.
    pub fn describe(&self) -> String {
        match self {
            Platform::Lambda => {
                "AWS Lambda (AWS_LAMBDA_RUNTIME_API is set: fnshim polls the Runtime API)".into()
            }
            Platform::Azure { port } => format!(
                "Azure Functions custom handler (FUNCTIONS_CUSTOMHANDLER_PORT={port} is set: the Functions host's payloads on that port)"
            ),
            Platform::Knative { service } => format!(
                "Knative / Cloud Run (K_SERVICE or K_CONFIGURATION is {service:?}: plain HTTP on PORT)"
            ),
            Platform::Http => "plain HTTP on PORT (none of AWS_LAMBDA_RUNTIME_API, FUNCTIONS_CUSTOMHANDLER_PORT, K_SERVICE is set)".into(),
        }
    }
}

/// FUNCTION_TARGET: a Functions Framework function, and its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gcf {
    /// The export (Node) or function (Python) to run, or the name it was registered under.
    pub target: String,
    /// FUNCTION_SIGNATURE_TYPE: `http` or `cloudevent`.
    pub signature: String,
}

/// Reads FUNCTION_TARGET and FUNCTION_SIGNATURE_TYPE: the target is the handler (unless
/// FUNCTION_HANDLER is set), and a CloudEvent function takes events (unless TRIGGER_TYPE is).
fn functions_framework(r: &mut Reader<'_>, config: &mut super::Config) {
    let signature = r.parsed("FUNCTION_SIGNATURE_TYPE", |v| {
        super::parse::one_of(v, super::settings::SIGNATURES).map(str::to_owned)
    });
    let Some(target) = r.text("FUNCTION_TARGET") else {
        return;
    };
    let signature = signature.unwrap_or_else(|| "http".into());
    if r.text("FUNCTION_HANDLER").is_none() {
        config.function_handler = target.clone();
    }
    if signature == "cloudevent" && r.text("TRIGGER_TYPE").is_none() {
        config.trigger = super::Trigger::Event;
    }
    config.gcf = Some(Gcf { target, signature });
}

/// Decides the platform (Lambda first: its variable is the strongest sign) and lets Knative's
/// identity stand in for FUNCTION_NAME and FUNCTION_VERSION where those are unset.
/// Lambda's settings are read first (`config::lambda`).
pub(super) fn apply(r: &mut Reader<'_>, config: &mut super::Config) {
    super::lambda::apply(r, config);
    functions_framework(r, config);
    let initializer = r.text_or("FUNCTION_INITIALIZER", "initializer");
    config.function_initializer = initializer
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_owned();
    let azure = r.parsed("FUNCTIONS_CUSTOMHANDLER_PORT", super::parse::port);
    let service = r.text("K_SERVICE");
    let configuration = r.text("K_CONFIGURATION");
    let revision = r.text("K_REVISION");
    let knative = service.or(configuration);
    config.platform = match (&config.lambda, azure, &knative) {
        (Some(_), _, _) => Platform::Lambda,
        (None, Some(port), _) => Platform::Azure { port },
        (None, None, Some(service)) => Platform::Knative {
            service: service.clone(),
        },
        (None, None, None) => Platform::Http,
    };
    if config.lambda.is_some() {
        return;
    }
    config.function_name = config.function_name.take().or(knative);
    if let (None, Some(revision)) = (r.text("FUNCTION_VERSION"), revision) {
        config.function_version = revision;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::from_env(&crate::config::test_env(pairs), None).unwrap()
    }

    #[test]
    fn knative_identity_stands_in_for_unset_name_and_version() {
        let c = config(&[
            ("K_SERVICE", "orders"),
            ("K_REVISION", "orders-00042-abc"),
            ("K_CONFIGURATION", "orders-cfg"),
        ]);
        assert_eq!(c.function_name.as_deref(), Some("orders"));
        assert_eq!(c.function_version, "orders-00042-abc");
        assert_eq!(
            c.platform,
            Platform::Knative {
                service: "orders".into()
            }
        );
        let c = config(&[("K_CONFIGURATION", "cfg"), ("K_REVISION", "cfg-1")]);
        assert_eq!(c.function_name.as_deref(), Some("cfg"));
        let c = config(&[
            ("K_SERVICE", "orders"),
            ("K_REVISION", "r1"),
            ("FUNCTION_NAME", "mine"),
            ("FUNCTION_VERSION", "7"),
        ]);
        assert_eq!(
            (c.function_name.as_deref(), c.function_version.as_str()),
            (Some("mine"), "7")
        );
    }

    #[test]
    fn the_platform_is_decided_lambda_first() {
        assert_eq!(config(&[]).platform, Platform::Http);
        let azure = config(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "7071"), ("K_SERVICE", "s")]);
        assert_eq!(azure.platform, Platform::Azure { port: 7071 });
        let lambda = config(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("K_SERVICE", "s"),
            ("AWS_LAMBDA_FUNCTION_NAME", "fn"),
        ]);
        assert_eq!(lambda.platform, Platform::Lambda);
        assert_eq!(lambda.function_name.as_deref(), Some("fn"));
        assert!(Platform::Http.describe().starts_with("plain HTTP"));
        let errors = Config::from_env(
            &crate::config::test_env(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "x")]),
            None,
        )
        .unwrap_err();
        assert_eq!(errors[0].key, "FUNCTIONS_CUSTOMHANDLER_PORT");
    }
}

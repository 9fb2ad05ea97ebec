//! Function Compute's lifecycle hooks for handler functions (custom runtime and custom
//! container): `POST /initialize`, `GET /pre-stop` and `GET /pre-freeze`, each with FC's
//! `x-fc-control-path` header naming it. Each worker already ran the exported initializer
//! before it was ready (the adapters call it once, before any invocation), so `/initialize`
//! answers once every function is ready; `/pre-freeze` calls the exported `preFreeze(context)`
//! and `/pre-stop` `preStop(context)` (in one worker of each function), and `/pre-stop` then
//! starts fnshim's drain, as a SIGTERM would. A proxied bootstrap gets these requests as they
//! are (they never reach here).

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::errors::Failure;
use super::{full, App, Body, Call};
use crate::invoke::{Invocation, Kind, Outcome, Payload};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hook {
    Initialize,
    PreStop,
    PreFreeze,
}

/// The hook a request is: its route with `x-fc-control-path` saying the same.
pub(crate) fn hook_of<B>(request: &Request<B>) -> Option<Hook> {
    let control = request.headers().get("x-fc-control-path")?.to_str().ok()?;
    let path = request.uri().path();
    if control != path {
        return None;
    }
    match (request.method(), path) {
        (&Method::POST, "/initialize") => Some(Hook::Initialize),
        (&Method::GET, "/pre-stop") => Some(Hook::PreStop),
        (&Method::GET, "/pre-freeze") => Some(Hook::PreFreeze),
        _ => None,
    }
}

pub(crate) async fn invoke(app: &App, hook: Hook, request: Request<Incoming>) -> Response<Body> {
    let call = Call::start(app, &request);
    let result = run(app, hook, &request, &call).await;
    call.finish(result)
}

async fn run(
    app: &App,
    hook: Hook,
    request: &Request<Incoming>,
    call: &Call<'_>,
) -> Result<Response<Body>, Failure> {
    let kind = match hook {
        Hook::Initialize => {
            app.readiness.wait_ready(app.function_timeout).await?;
            return Ok(empty());
        }
        Hook::PreStop => Kind::PreStop,
        Hook::PreFreeze => Kind::PreFreeze,
    };
    let context = crate::event::fc::fc_context(request.headers());
    // A Runtime API bootstrap has no hooks to call (it would take them for events).
    let functions = match app.backend.protocol() {
        Some(_) => 0,
        None => app.backend.names().len(),
    };
    for function in 0..functions {
        let timeout = app
            .backend
            .timeout(function)
            .unwrap_or(app.function_timeout);
        let invocation = Invocation {
            function,
            kind,
            request_id: call.id().to_owned(),
            event: Payload::Json(serde_json::Value::Null),
            context: context.clone(),
            trace: None,
            deadline: call.started + timeout,
            stream: false,
            logs: None,
        };
        if let Outcome::Error(error) = app.backend.invoke(invocation).await? {
            return Err(Failure::Unhandled {
                error,
                fc_caller: false,
            });
        }
    }
    if hook == Hook::PreStop {
        tracing::info!(request_id = call.id(), "pre-stop: draining");
        if let Some(stop) = app.stop.get() {
            stop.stop();
        }
    }
    Ok(empty())
}

fn empty() -> Response<Body> {
    let mut response = Response::new(full(""));
    *response.status_mut() = StatusCode::OK;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, path: &str, control: Option<&str>) -> Request<()> {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(control) = control {
            builder = builder.header("x-fc-control-path", control);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn hooks_need_their_route_and_the_control_header() {
        assert_eq!(
            hook_of(&request(Method::POST, "/initialize", Some("/initialize"))),
            Some(Hook::Initialize)
        );
        assert_eq!(
            hook_of(&request(Method::GET, "/pre-stop", Some("/pre-stop"))),
            Some(Hook::PreStop)
        );
        assert_eq!(
            hook_of(&request(Method::GET, "/pre-freeze", Some("/pre-freeze"))),
            Some(Hook::PreFreeze)
        );
        assert_eq!(hook_of(&request(Method::POST, "/initialize", None)), None);
        assert_eq!(
            hook_of(&request(Method::GET, "/initialize", Some("/initialize"))),
            None
        );
        assert_eq!(
            hook_of(&request(Method::GET, "/pre-stop", Some("/pre-freeze"))),
            None
        );
    }
}

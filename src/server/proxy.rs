//! The HTTP front end before a back end that speaks HTTP (the proxied server): the request is
//! handed over as it is, with one log line and one metrics sample per request.

use std::net::IpAddr;

use http::{Request, Response};
use hyper::body::Incoming;

use super::errors::Failure;
use super::{App, Body, Call};
use crate::backend::http::{Lane, Upstream};

pub async fn invoke(
    app: &App,
    upstream: &Upstream,
    lane: &Lane,
    request: Request<Incoming>,
    remote: IpAddr,
) -> Response<Body> {
    let call = Call::start(app, &request);
    if !upstream.is_served(request.method(), request.uri().path()) {
        return call.finish(Err(Failure::events_only()));
    }
    if super::body::declared(request.headers()).is_some_and(|len| len > app.max_body_size) {
        let (parts, body) = request.into_parts();
        super::body::discard_unless_continue(&parts.headers, body);
        return call.finish(Err(Failure::TooLarge(app.max_body_size)));
    }
    let mut request = request;
    if let Some(made) = call.trace.made_traceparent() {
        // A trace fnshim started reaches the server; a caller's own headers pass as they are.
        request
            .headers_mut()
            .insert(crate::trace::TRACEPARENT_HEADER.clone(), made);
    }
    let result = upstream
        .forward(lane, request, remote, &call.request_id, call.started)
        .await
        .map_err(Failure::from);
    call.finish(result)
}

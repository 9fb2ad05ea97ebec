//! The proxied-server back end: a custom `bootstrap` or `fnshim -- CMD` serving HTTP on a
//! private port. A client's request is forwarded as it is (limits, the worker's address,
//! hop-by-hop headers, the streamed answer); any other invocation is `POST /invoke`.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::PathAndQuery;
use http::{Request, Response, Uri};
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use tokio::time::{timeout_at, Instant};

use super::{Body, BoxError};
use crate::invoke::{Failed, Invocation, Kind, Outcome, Payload, Shape};
use crate::logging::error_chain;
use crate::readiness::{InFlight, Permit, Readiness};

#[path = "http_event.rs"]
mod event;
#[path = "http_headers.rs"]
mod headers;
#[path = "http_lane.rs"]
mod lane;
#[path = "http_upload.rs"]
mod upload;
use headers::{append_forwarded_for, host, is_hop_by_hop, keep_upgrade, strip_hop_by_hop};
pub use lane::Lane;

/// Bodies sent to the server: a client's request (bounded by MAX_BODY_SIZE), or one the shim
/// makes itself (an event).
type UpstreamBody = http_body_util::Either<Limited<upload::Watched>, Full<Bytes>>;

pub(crate) static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub(crate) static FC_REQUEST_ID: HeaderName = HeaderName::from_static("x-fc-request-id");

/// The path AWS's local emulator (RIE) invokes; it is forwarded as `/invoke`.
const AWS_INVOKE_PATH: &str = "/2015-03-31/functions/function/invocations";
static FC_TIMEOUT: HeaderName = HeaderName::from_static("x-fc-function-timeout");

/// The proxied server (a custom `bootstrap` or `fnshim -- CMD` with PORT): requests are
/// forwarded to it as they are; invocations that are not HTTP requests reach it as
/// `POST /invoke`.
pub struct Upstream {
    /// The function's name (FUNCTION_NAME, the folder's or the program's).
    name: String,
    /// Idle upstream connections, taken for a request and given back after its answer.
    spares: Arc<lane::Spares>,
    readiness: Arc<Readiness>,
    /// With an event or schedule trigger `POST /` is an event too (forwarded as `/invoke`).
    events_only: bool,
    function_timeout: Duration,
    /// `x-fc-function-timeout`'s value, made once.
    timeout_header: HeaderValue,
    max_body_size: u64,
    /// FUNCTION_CONCURRENCY: requests in flight to the server at once.
    in_flight: Arc<InFlight>,
}

impl Upstream {
    /// A pooled HTTP/1.1 client to the worker's private port, with TCP_NODELAY.
    pub fn new(
        name: String,
        readiness: Arc<Readiness>,
        events_only: bool,
        function_timeout: Duration,
        max_body_size: u64,
        in_flight: Arc<InFlight>,
    ) -> Upstream {
        Upstream {
            name,
            spares: Arc::default(),
            readiness,
            events_only,
            function_timeout,
            timeout_header: HeaderValue::from(function_timeout.as_secs().max(1)),
            max_body_size,
            in_flight,
        }
    }

    /// Forwards a client's request as it is, on the upstream connection that client
    /// connection owns (`lane`), and streams the answer back (the proxy path: no event is
    /// built, nothing is copied).
    pub async fn forward(
        &self,
        lane: &Lane,
        mut request: Request<Incoming>,
        remote: IpAddr,
        request_id: &HeaderValue,
        started: Instant,
    ) -> Result<Response<Body>, Failed> {
        if content_length(request.headers()).is_some_and(|len| len > self.max_body_size) {
            return Err(Failed::TooLarge(self.max_body_size));
        }
        let permit = self.in_flight.try_acquire().ok_or(Failed::Throttled)?;
        let deadline = started + self.function_timeout;
        let (addr, generation) = self.readiness.wait_ready(self.function_timeout).await?;
        let addr = addr.ok_or(Failed::NotReady)?;
        let upgrade = headers::upgrade_asked(request.headers());
        let client_side = upgrade.is_some().then(|| hyper::upgrade::on(&mut request));
        let (mut upstream, uploaded) = self.upstream_request(request, addr, remote, request_id);
        if let Some(upgrade) = upgrade {
            keep_upgrade(upstream.headers_mut(), upgrade);
        }
        let sent = Instant::now();
        let sending = lane::send(&self.spares, addr, generation, upstream);
        let (response, connection) = match timeout_at(deadline, sending).await {
            Err(_) => return Err(upload::late(&uploaded)),
            Ok(Err(error)) => return Err(self.classify(&*error, generation).await),
            Ok(Ok(response)) => response,
        };
        tracing::debug!(
            request_id = request_id.to_str().unwrap_or_default(),
            upstream = %addr,
            status = response.status().as_u16(),
            head_us = sent.elapsed().as_micros() as u64,
            "the server answered"
        );
        let (mut parts, body) = response.into_parts();
        let switched = parts.headers.get(header::UPGRADE).cloned();
        strip_hop_by_hop(&mut parts.headers);
        if parts.status == http::StatusCode::SWITCHING_PROTOCOLS {
            let (Some(client_side), Some(switched)) = (client_side, switched) else {
                let why = "the server switched protocols unasked".to_string();
                return Err(Failed::InvalidResponse(why));
            };
            keep_upgrade(&mut parts.headers, switched);
            let upstream_side = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
            lane.splice(client_side, upstream_side, permit);
            let empty = http_body_util::Empty::new().map_err(|never| match never {});
            return Ok(Response::from_parts(parts, empty.boxed_unsync()));
        }
        Ok(Response::from_parts(
            parts,
            Tracked {
                inner: body,
                connection: Some(connection),
                _permit: permit,
            }
            .boxed_unsync(),
        ))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn timeout(&self) -> Duration {
        self.function_timeout
    }

    /// With an event or schedule trigger, the routes that carry events.
    pub fn is_served(&self, method: &http::Method, path: &str) -> bool {
        !self.events_only || is_event_route(method, path)
    }
}

impl Upstream {
    fn upstream_request(
        &self,
        request: Request<Incoming>,
        addr: SocketAddr,
        remote: IpAddr,
        request_id: &HeaderValue,
    ) -> (Request<UpstreamBody>, Arc<std::sync::atomic::AtomicBool>) {
        let (mut parts, body) = request.into_parts();
        let path_and_query = match parts.uri.path_and_query() {
            // Events reach a bootstrap at /invoke, as in Function Compute; `POST /` is one only
            // with an event or schedule trigger (otherwise an event route never gets here as `/`).
            Some(pq) if pq.path() == AWS_INVOKE_PATH || (pq.path() == "/" && self.events_only) => {
                let invoke = match pq.query() {
                    Some(query) => format!("/invoke?{query}"),
                    None => "/invoke".to_string(),
                };
                invoke.parse().ok()
            }
            Some(pq) => Some(pq.clone()),
            None => None,
        };
        // The origin form (`/path?query`), as a request to a server is written; the client's
        // Host is kept (an HTTP/1.0 client may send none: then the server's address).
        parts.uri = Uri::from(path_and_query.unwrap_or_else(|| PathAndQuery::from_static("/")));
        // Room for what is added below (Host, the ids, the timeout, x-forwarded-for) made once,
        // not grown insert by insert.
        parts.headers.reserve(5);
        if !parts.headers.contains_key(header::HOST) {
            parts.headers.insert(header::HOST, host(addr));
        }
        // HTTP/1.1 with keep-alive upstream whatever the client speaks: an HTTP/1.0 request
        // forwarded as HTTP/1.0 would open a new upstream connection every time.
        parts.version = http::Version::HTTP_11;
        let headers = &mut parts.headers;
        strip_hop_by_hop(headers);
        self.identify(headers, request_id);
        append_forwarded_for(headers, remote);
        let limit = usize::try_from(self.max_body_size).unwrap_or(usize::MAX);
        let (body, uploaded) = upload::Watched::new(body);
        let body = http_body_util::Either::Left(Limited::new(body, limit));
        (Request::from_parts(parts, body), uploaded)
    }

    /// The request id (both spellings) and the timeout, as Function Compute passes them.
    fn identify(&self, headers: &mut HeaderMap, request_id: &HeaderValue) {
        headers.insert(REQUEST_ID.clone(), request_id.clone());
        headers.insert(FC_REQUEST_ID.clone(), request_id.clone());
        headers.insert(FC_TIMEOUT.clone(), self.timeout_header.clone());
    }

    /// An invocation that is not a client's HTTP request (a timer tick, an event) as
    /// `POST /invoke` with a JSON body; an API Gateway or ALB event (`Kind::Http`) as the
    /// request it stands for (`http_event.rs`). A 2xx answer's body is the result (JSON when it
    /// parses); any other status is the function's error.
    pub async fn invoke(&self, invocation: Invocation) -> Result<Outcome, Failed> {
        if let (Kind::Http, Payload::Json(event)) = (invocation.kind, &invocation.event) {
            if let Some(shape) = crate::event::lambda::shape_of(event) {
                return self.invoke_http_event(&invocation, event, shape).await;
            }
        }
        let limit = invocation
            .deadline
            .saturating_duration_since(Instant::now());
        let (addr, generation) = self.readiness.wait_ready(limit).await?;
        let addr = addr.ok_or(Failed::NotReady)?;
        let request_id = HeaderValue::from_str(&invocation.request_id)
            .unwrap_or_else(|_| HeaderValue::from_static("invalid"));
        let mut request = Request::post("/invoke")
            .header(header::HOST, host(addr))
            .header(header::CONTENT_TYPE, "application/json")
            .body(http_body_util::Either::Right(http_body_util::Full::new(
                Bytes::from(invocation.event.into_json(Shape::Event)),
            )))
            .map_err(|e| Failed::Upstream(e.to_string()))?;
        self.identify(request.headers_mut(), &request_id);
        let (response, connection) = self
            .send(request, addr, generation, invocation.deadline)
            .await?;
        let status = response.status();
        let body = timeout_at(invocation.deadline, response.into_body().collect())
            .await
            .map_err(|_| Failed::Timeout)?
            .map_err(|error| Failed::Upstream(error_chain(&error)))?
            .to_bytes();
        connection.check_in();
        Ok(answer(status, &body))
    }

    /// An invocation's own request (not a client's), on a spare connection or a new one.
    async fn send(
        &self,
        request: Request<UpstreamBody>,
        addr: SocketAddr,
        generation: u64,
        deadline: Instant,
    ) -> Result<(Response<Incoming>, lane::Owned), Failed> {
        let sending = lane::send(&self.spares, addr, generation, request);
        match timeout_at(deadline, sending).await {
            Err(_) => Err(Failed::Timeout),
            Ok(Err(error)) => Err(self.classify(&*error, generation).await),
            Ok(Ok(sent)) => Ok(sent),
        }
    }

    /// Tells a body over MAX_BODY_SIZE, a client's body that broke off or was malformed, a
    /// worker that died, and a reply that is not HTTP apart.
    async fn classify(
        &self,
        error: &(dyn std::error::Error + Send + Sync + 'static),
        generation: u64,
    ) -> Failed {
        if let Some(known) = self.known_cause(error) {
            return known;
        }
        match self
            .readiness
            .died(generation, Duration::from_millis(250))
            .await
        {
            true => Failed::WorkerExited,
            false => Failed::Upstream(error_chain(error)),
        }
    }
}

impl Upstream {
    /// The failures told by the error's causes alone (no waiting for the worker's fate).
    fn known_cause(&self, error: &(dyn std::error::Error + 'static)) -> Option<Failed> {
        let mut chain: Vec<&(dyn std::error::Error + 'static)> = Vec::new();
        let mut source = Some(error);
        while let Some(cause) = source {
            chain.push(cause);
            source = cause.source();
        }
        if chain.iter().any(|cause| cause.is::<LengthLimitError>()) {
            return Some(Failed::TooLarge(self.max_body_size));
        }
        let hyper_errors = chain
            .iter()
            .filter_map(|c| c.downcast_ref::<hyper::Error>());
        for hyper_error in hyper_errors {
            // "error from user's Body stream": the body being sent is the client's.
            if hyper_error.is_user() {
                let why = chain
                    .last()
                    .map(|root| root.to_string())
                    .unwrap_or_default();
                let why = format!("the request body could not be read: {why}");
                return Some(Failed::BadRequest(why));
            }
            if hyper_error.is_parse() || hyper_error.is_parse_status() {
                return Some(Failed::InvalidResponse(hyper_error.to_string()));
            }
        }
        None
    }
}

/// `POST /invoke`'s answer as the function's outcome.
fn answer(status: http::StatusCode, body: &[u8]) -> Outcome {
    let value = serde_json::from_slice(body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(body).into_owned()));
    match status.is_success() {
        true => Outcome::Result(value),
        false => Outcome::Error(serde_json::json!({
            "errorType": format!("HTTP{}", status.as_u16()),
            "errorMessage": format!("POST /invoke answered {status}"),
            "stackTrace": [],
            "body": value,
        })),
    }
}

/// With an event or schedule trigger: `POST /`, `POST /invoke` and AWS's emulator path.
fn is_event_route(method: &http::Method, path: &str) -> bool {
    method == http::Method::POST && matches!(path, "/" | "/invoke" | AWS_INVOKE_PATH)
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The worker's response body, holding the in-flight permit until it has been sent in full.
/// Once the body has been read to its end the upstream connection is checked in.
struct Tracked {
    inner: Incoming,
    connection: Option<lane::Owned>,
    _permit: Permit,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        // An answer dropped half read (the client went away) leaves its connection to close.
        let connection = self.connection.take();
        if let Some(connection) = connection.filter(|_| self.inner.is_end_stream()) {
            connection.check_in();
        }
    }
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.inner).poll_frame(cx).map_err(Into::into)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

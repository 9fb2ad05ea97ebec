//! One invocation through the reverse proxy: limits, the worker's address, the forwarded
//! request, and the streamed response, with one log line and one metrics sample per request.

use std::cell::RefCell;
use std::error::Error as _;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery};
use http::{Request, Response, Uri};
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use tokio::time::{timeout_at, Instant};

use super::errors::Failure;
use super::state::Permit;
use super::{App, Body, BoxError, Call, UpstreamBody};

type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    UpstreamBody,
>;

/// The path AWS's local emulator (RIE) invokes; it is forwarded as `/invoke`.
const AWS_INVOKE_PATH: &str = "/2015-03-31/functions/function/invocations";
static FC_TIMEOUT: HeaderName = HeaderName::from_static("x-fc-function-timeout");
static FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

pub async fn invoke(
    app: &App,
    client: &Client,
    events_only: bool,
    request: Request<Incoming>,
    remote: IpAddr,
) -> Response<Body> {
    let call = Call::start(app, &request);
    if events_only && !is_event_route(request.method(), request.uri().path()) {
        return call.finish(app, Err(Failure::events_only()));
    }
    let result = forward(
        app,
        client,
        events_only,
        request,
        remote,
        &call.request_id,
        call.started,
    )
    .await;
    call.finish(app, result)
}

async fn forward(
    app: &App,
    client: &Client,
    events_only: bool,
    request: Request<Incoming>,
    remote: IpAddr,
    request_id: &HeaderValue,
    started: Instant,
) -> Result<Response<Body>, Failure> {
    if content_length(request.headers()).is_some_and(|len| len > app.max_body_size) {
        return Err(Failure::TooLarge(app.max_body_size));
    }
    let permit = app.in_flight.try_acquire().ok_or(Failure::Throttled)?;
    let deadline = started + app.function_timeout;
    let (addr, generation) = app
        .readiness
        .wait_ready(app.function_timeout)
        .await
        .map_err(Failure::from)?;
    let addr = addr.ok_or(Failure::NotReady)?;
    let upstream = upstream_request(app, events_only, request, addr, remote, request_id);
    let response = match timeout_at(deadline, client.request(upstream)).await {
        Err(_) => return Err(Failure::Timeout),
        Ok(Err(error)) => return Err(classify(app, &error, generation).await),
        Ok(Ok(response)) => response,
    };
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Ok(Response::from_parts(
        parts,
        Tracked {
            inner: body,
            _permit: permit,
        }
        .boxed_unsync(),
    ))
}

fn upstream_request(
    app: &App,
    events_only: bool,
    request: Request<Incoming>,
    addr: std::net::SocketAddr,
    remote: IpAddr,
    request_id: &HeaderValue,
) -> Request<UpstreamBody> {
    let (mut parts, body) = request.into_parts();
    let path_and_query = match parts.uri.path_and_query() {
        // Events reach a bootstrap at /invoke, as in Function Compute; `POST /` is one only
        // with an event or schedule trigger (otherwise an event route never gets here as `/`).
        Some(pq) if pq.path() == AWS_INVOKE_PATH || (pq.path() == "/" && events_only) => {
            let invoke = match pq.query() {
                Some(query) => format!("/invoke?{query}"),
                None => "/invoke".to_string(),
            };
            invoke.parse().ok()
        }
        Some(pq) => Some(pq.clone()),
        None => None,
    };
    let mut uri = http::uri::Parts::default();
    uri.scheme = Some(http::uri::Scheme::HTTP);
    uri.authority = Some(authority(addr));
    uri.path_and_query = path_and_query.or_else(|| Some(PathAndQuery::from_static("/")));
    parts.uri = Uri::from_parts(uri).unwrap_or_default();
    let headers = &mut parts.headers;
    strip_hop_by_hop(headers);
    headers.insert(super::REQUEST_ID.clone(), request_id.clone());
    headers.insert(super::FC_REQUEST_ID.clone(), request_id.clone());
    headers.insert(
        FC_TIMEOUT.clone(),
        HeaderValue::from(app.function_timeout.as_secs().max(1)),
    );
    append_forwarded_for(headers, remote);
    let limit = usize::try_from(app.max_body_size).unwrap_or(usize::MAX);
    Request::from_parts(
        parts,
        http_body_util::Either::Left(Limited::new(body, limit)),
    )
}

/// A shim-made event as `POST /invoke` with a JSON body; a non-2xx answer becomes `Err`.
pub async fn deliver(
    app: &App,
    client: &Client,
    request_id: &HeaderValue,
    event: serde_json::Value,
    deadline: Instant,
) -> Result<(), String> {
    let limit = deadline.saturating_duration_since(Instant::now());
    let (addr, _) = app
        .readiness
        .wait_ready(limit)
        .await
        .map_err(|_| "the function's server is not ready".to_string())?;
    let addr = addr.ok_or("the function's server has no address")?;
    let request = Request::post(format!("http://{addr}/invoke"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(super::REQUEST_ID.clone(), request_id.clone())
        .header(super::FC_REQUEST_ID.clone(), request_id.clone())
        .header(
            FC_TIMEOUT.clone(),
            HeaderValue::from(app.function_timeout.as_secs().max(1)),
        )
        .body(http_body_util::Either::Right(http_body_util::Full::new(
            Bytes::from(event.to_string()),
        )))
        .map_err(|e| e.to_string())?;
    match timeout_at(deadline, client.request(request)).await {
        Err(_) => Err("no answer within FUNCTION_TIMEOUT".into()),
        Ok(Err(error)) => Err(error_chain(&error)),
        Ok(Ok(response)) if response.status().is_success() => Ok(()),
        Ok(Ok(response)) => Err(format!("POST /invoke answered {}", response.status())),
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

/// Connection-level headers are not forwarded (RFC 9110 §7.6.1), nor those `Connection` names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the names first: most requests carry none, and a lookup per name costs.
    let mut hop: Vec<HeaderName> = headers
        .keys()
        .filter(|name| is_hop_by_hop(name))
        .cloned()
        .collect();
    if hop.is_empty() {
        return;
    }
    let named = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok());
    hop.extend(named.collect::<Vec<_>>());
    for name in hop {
        headers.remove(name);
    }
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "proxy-authorization"
            | "keep-alive"
            | "proxy-connection"
    )
}

thread_local! {
    /// The upstream's authority and the last client's address as header values: both rarely
    /// change, and formatting them cost more than the rest of the request head.
    static AUTHORITY: RefCell<Option<(SocketAddr, Authority)>> = const { RefCell::new(None) };
    static CLIENT: RefCell<Option<(IpAddr, HeaderValue)>> = const { RefCell::new(None) };
}

fn authority(addr: SocketAddr) -> Authority {
    AUTHORITY.with_borrow_mut(|cached| match cached {
        Some((known, authority)) if *known == addr => authority.clone(),
        _ => {
            let authority: Authority = addr
                .to_string()
                .parse()
                .unwrap_or_else(|_| Authority::from_static("127.0.0.1"));
            *cached = Some((addr, authority.clone()));
            authority
        }
    })
}

fn append_forwarded_for(headers: &mut HeaderMap, remote: IpAddr) {
    let remote = remote.to_canonical();
    let ip = CLIENT.with_borrow_mut(|cached| match cached {
        Some((known, value)) if *known == remote => Some(value.clone()),
        _ => {
            let value = HeaderValue::from_str(&remote.to_string()).ok()?;
            *cached = Some((remote, value.clone()));
            Some(value)
        }
    });
    let Some(ip) = ip else { return };
    let value = match headers.get(&FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(previous) => {
            HeaderValue::from_str(&format!("{previous}, {}", ip.to_str().unwrap_or_default()))
        }
        None => Ok(ip),
    };
    if let Ok(value) = value {
        headers.insert(FORWARDED_FOR.clone(), value);
    }
}

/// Tells a body over MAX_BODY_SIZE, a worker that died, and a reply that is not HTTP apart.
async fn classify(
    app: &App,
    error: &hyper_util::client::legacy::Error,
    generation: u64,
) -> Failure {
    let mut source = error.source();
    while let Some(cause) = source {
        if cause.is::<LengthLimitError>() {
            return Failure::TooLarge(app.max_body_size);
        }
        if let Some(hyper_error) = cause.downcast_ref::<hyper::Error>() {
            if hyper_error.is_parse() || hyper_error.is_parse_status() {
                return Failure::InvalidResponse(hyper_error.to_string());
            }
        }
        source = cause.source();
    }
    match app
        .readiness
        .died(generation, Duration::from_millis(250))
        .await
    {
        true => Failure::WorkerExited,
        false => Failure::Upstream(error_chain(error)),
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The worker's response body, holding the in-flight permit until it has been sent in full.
struct Tracked {
    inner: Incoming,
    _permit: Permit,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_are_removed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-private"),
        );
        headers.insert("x-private", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        headers.insert("x-kept", HeaderValue::from_static("yes"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers["x-kept"], "yes");
    }

    #[test]
    fn forwarded_for_is_appended() {
        let mut headers = HeaderMap::new();
        append_forwarded_for(&mut headers, "::ffff:10.0.0.1".parse().unwrap());
        assert_eq!(headers[&FORWARDED_FOR], "10.0.0.1");
        append_forwarded_for(&mut headers, "127.0.0.1".parse().unwrap());
        assert_eq!(headers[&FORWARDED_FOR], "10.0.0.1, 127.0.0.1");
    }
}

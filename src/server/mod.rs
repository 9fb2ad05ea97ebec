//! The HTTP surface: the listener, one task per connection, and the drain on shutdown.
//!
//! Architecture invariant: the server never starts or signals processes; it learns about the
//! worker only through [`Readiness`] and tells the supervisor nothing but "idle".

mod admin;
pub mod azure;
mod body;
pub mod errors;
mod fc;
mod framing;
pub mod handler;
mod head_timer;
mod lambda_invoke;
pub mod metrics;
mod proxy;
mod request_id;
mod write_timeout;

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::backend::http::{Lane, FC_REQUEST_ID, REQUEST_ID};
pub(crate) use crate::backend::{Backend, Body};
use crate::exit::StartError;
use crate::invoke::{Invocation, Kind, Outcome, Payload};
use crate::readiness::{InFlight, Readiness};
use metrics::Metrics;
use write_timeout::WriteTimeout;

/// What every request handler shares.
pub struct App {
    pub readiness: Arc<Readiness>,
    pub metrics: Metrics,
    /// Invocations in flight (the proxied server's FUNCTION_CONCURRENCY limit).
    pub in_flight: Arc<InFlight>,
    /// Open client connections; the drain waits for this to reach zero.
    pub connections: Arc<InFlight>,
    pub function_timeout: Duration,
    pub max_body_size: u64,
    ids: request_id::RequestIds,
    pub(crate) backend: Backend,
    /// How HTTP requests become events for a back end that does not speak HTTP.
    pub(crate) routes: handler::Routes,
    /// Starts fnshim's drain, as a SIGTERM would (Function Compute's `/pre-stop`).
    pub(crate) stop: std::sync::OnceLock<crate::supervisor::control::ControlSender>,
}

impl App {
    /// `readiness` and `in_flight` are the ones the back end was built with.
    pub fn new(
        readiness: Arc<Readiness>,
        in_flight: Arc<InFlight>,
        function_timeout: Duration,
        max_body_size: u64,
        backend: Backend,
        routes: handler::Routes,
    ) -> Arc<App> {
        Arc::new(App {
            readiness,
            metrics: Metrics::default(),
            in_flight,
            connections: InFlight::new(usize::MAX),
            function_timeout,
            max_body_size,
            ids: request_id::RequestIds::new(),
            backend,
            routes,
            stop: std::sync::OnceLock::new(),
        })
    }
}

/// Binds `port` on 127.0.0.1 only (local `check` and `invoke` runs).
pub fn bind_loopback(port: u16) -> Result<std::net::TcpListener, StartError> {
    let listener =
        std::net::TcpListener::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
            .map_err(|source| StartError::Bind { port, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| StartError::Bind { port, source })?;
    Ok(listener)
}

/// Binds PORT on all interfaces: dual-stack `[::]`, or `0.0.0.0` where IPv6 is off.
pub fn bind(port: u16, backlog: usize) -> Result<std::net::TcpListener, StartError> {
    let any6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port);
    let listener = std::net::TcpListener::bind(any6).or_else(|error| match error.kind() {
        std::io::ErrorKind::AddrInUse => Err(error),
        _ => std::net::TcpListener::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)),
    });
    let listener = listener.map_err(|source| StartError::Bind { port, source })?;
    // std listens with a backlog of 128 (a burst of 3,000 connects overflowed it); listen()
    // again on a listening socket sets a new one.
    let backlog = libc::c_int::try_from(backlog).unwrap_or(libc::c_int::MAX);
    // SAFETY: the descriptor is the listener's own and stays open across the call.
    unsafe { libc::listen(std::os::fd::AsRawFd::as_raw_fd(&listener), backlog) };
    listener
        .set_nonblocking(true)
        .map_err(|source| StartError::Bind { port, source })?;
    Ok(listener)
}

/// How client connections are kept: the idle (and header) timeout, and how many at once.
#[derive(Debug, Clone, Copy)]
pub struct Connections {
    pub keepalive_timeout: Duration,
    /// WRITE_TIMEOUT: a client that reads nothing of its answer for this long is disconnected.
    pub write_timeout: Duration,
    pub max: usize,
}

/// Accepts connections until `stop` turns true; then the listener is closed at once and every
/// connection finishes its current request and closes. At `limits.max` open connections it
/// stops accepting (the kernel queues new ones) until one closes.
pub async fn serve(
    listener: std::net::TcpListener,
    app: Arc<App>,
    limits: Connections,
    mut stop: watch::Receiver<bool>,
) {
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => return tracing::error!(%error, "cannot use the listening socket"),
    };
    let for_connections = stop.clone();
    let mut failures = AcceptFailures::default();
    let (keeper, served) = (app.clone(), app.clone());
    tokio::spawn(crate::memory::keeper(
        move || keeper.connections.current() == 0,
        move || served.metrics.count(),
    ));
    loop {
        tokio::select! {
            _ = app.connections.room(limits.max) => {}
            _ = stopped(&mut stop) => break,
        }
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => connection(stream, remote, app.clone(), limits, for_connections.clone()),
                Err(error) => {
                    failures.note(&error);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = stopped(&mut stop) => break,
        }
    }
    tracing::info!("no longer accepting connections");
}

/// Accept errors (EMFILE at the descriptor limit repeats ~100 times a second) are logged at
/// most once a second, with how many there were since the last line.
#[derive(Default)]
struct AcceptFailures {
    logged: Option<tokio::time::Instant>,
    since: u64,
}

impl AcceptFailures {
    fn note(&mut self, error: &std::io::Error) {
        self.since += 1;
        let now = tokio::time::Instant::now();
        if self
            .logged
            .is_some_and(|at| now - at < Duration::from_secs(1))
        {
            return;
        }
        tracing::warn!(%error, count = self.since, "accept failed");
        self.logged = Some(now);
        self.since = 0;
    }
}

fn connection(
    stream: tokio::net::TcpStream,
    remote: SocketAddr,
    app: Arc<App>,
    limits: Connections,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let Some(open) = app.connections.try_acquire() else {
        return;
    };
    tokio::spawn(async move {
        let _open = open;
        // The upstream connection this client connection owns (proxy mode).
        let lane = Arc::new(Lane::default());
        let service = service_fn(|request| {
            let app = app.clone();
            let lane = lane.clone();
            async move { Ok::<_, Infallible>(handle(&app, &lane, request, remote.ip()).await) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(head_timer::HeadTimer::default())
            .header_read_timeout(limits.keepalive_timeout)
            // The request line and headers together: past this, 431 (hyper's default is ~400 KiB;
            // nginx refuses past 4 × 8 KiB).
            .max_header_size(MAX_HEAD)
            .keep_alive(true)
            .serve_connection(
                WriteTimeout::new(TokioIo::new(stream), limits.write_timeout),
                service,
            )
            .with_upgrades();
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => {}
            _ = stopped(&mut stop) => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
        // A switched (WebSocket) connection is open until its splice ends.
        lane.spliced().await;
        drop(_open);
        if app.connections.current() == 0 {
            crate::memory::settled();
        }
    });
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn handle(
    app: &Arc<App>,
    lane: &Lane,
    request: http::Request<Incoming>,
    remote: IpAddr,
) -> Response<Body> {
    if let Some(why) = framing::refusal(&request) {
        return Call::start(app, &request).finish(Err(errors::Failure::Malformed(why)));
    }
    if let Some(response) = admin::route(app, &request) {
        return response;
    }
    if lambda_invoke::invoked_name(request.method(), request.uri().path()).is_some() {
        return Box::pin(lambda_invoke::invoke(app, request)).await;
    }
    // A started bootstrap is an HTTP server or a Runtime API client: known once it starts.
    app.backend.settle(app.function_timeout).await;
    match app.backend.http() {
        Some(upstream) => proxy::invoke(app, upstream, lane, request, remote).await,
        // Boxed: hyper moves this future into its slot on every request, so it is kept the
        // size of the proxy path's, not of the largest path's.
        None => Box::pin(invoke_here(app, request, remote)).await,
    }
}

/// A request for the function's own workers: FC's lifecycle hooks, Azure's payloads, or an
/// invocation of the handler.
async fn invoke_here(
    app: &Arc<App>,
    request: http::Request<Incoming>,
    remote: IpAddr,
) -> Response<Body> {
    match (&app.routes.azure, fc::hook_of(&request)) {
        (_, Some(hook)) => fc::invoke(app, hook, request).await,
        (Some(layout), None) if azure::is_payload(&request) => {
            azure::invoke(app, layout, request).await
        }
        _ => handler::invoke(app, request, remote).await,
    }
}

impl App {
    /// Delivers an event the shim makes itself (a timer tick) to function `function` of the
    /// back end; `Err` says why it failed.
    pub async fn deliver(
        &self,
        function: usize,
        kind: Kind,
        event: serde_json::Value,
        context: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), String> {
        let request_id = self.ids.next();
        let id = request_id.to_str().unwrap_or_default().to_owned();
        let mut context = context;
        context.extend(self.ids.trace(&HeaderMap::new()).context());
        let started = tokio::time::Instant::now();
        let timeout = self
            .backend
            .timeout(function)
            .unwrap_or(self.function_timeout);
        let invocation = Invocation {
            function,
            kind,
            request_id: id.clone(),
            event: Payload::Json(event),
            context,
            trace: None,
            deadline: started + timeout,
            stream: false,
            logs: None,
        };
        let result = match self.backend.invoke(invocation).await {
            Ok(Outcome::Result(_) | Outcome::Stream(_)) => Ok(()),
            Ok(Outcome::Error(error)) => Err(format!(
                "the handler threw {}: {}",
                error["errorType"].as_str().unwrap_or("Error"),
                error["errorMessage"].as_str().unwrap_or("")
            )),
            Err(failed) => Err(failed.describe()),
        };
        let outcome = match &result {
            Ok(()) => metrics::Outcome::Success,
            Err(_) => metrics::Outcome::Error,
        };
        self.metrics.record(outcome, started.elapsed());
        result.map_err(|why| format!("{why} (request id {id})"))
    }
}

/// One invocation from arrival to answer: its request id and its start, so that both front
/// ends log one line and record one metrics sample in the same way. A call dropped before
/// `finish` (the client went away while the function ran) is logged and counted as abandoned.
pub(crate) struct Call<'a> {
    app: &'a App,
    pub request_id: HeaderValue,
    /// The request's trace context (or the one fnshim started for it).
    pub trace: crate::trace::Trace,
    pub started: tokio::time::Instant,
    method: http::Method,
    /// The request's URI for the log line's path (a clone shares its bytes: no copy).
    uri: http::Uri,
    finished: bool,
}

impl<'a> Call<'a> {
    pub fn start<B>(app: &'a App, request: &http::Request<B>) -> Call<'a> {
        Call {
            app,
            request_id: given_request_id(request.headers()).unwrap_or_else(|| app.ids.next()),
            trace: app.ids.trace(request.headers()),
            started: tokio::time::Instant::now(),
            method: request.method().clone(),
            uri: request.uri().clone(),
            finished: false,
        }
    }

    pub fn id(&self) -> &str {
        self.request_id.to_str().unwrap_or_default()
    }

    /// Turns the result into the response: metrics, the invocation log line, `x-request-id`.
    pub fn finish(mut self, result: Result<Response<Body>, errors::Failure>) -> Response<Body> {
        let (mut response, outcome) = match result {
            Ok(response) if response.status().is_server_error() => {
                (response, metrics::Outcome::Error)
            }
            Ok(response) => (response, metrics::Outcome::Success),
            Err(failure) => (failure.response(self.id()), failure.outcome()),
        };
        self.record(outcome, response.status().as_u16());
        response
            .headers_mut()
            .insert(REQUEST_ID.clone(), self.request_id.clone());
        response
    }

    fn record(&mut self, outcome: metrics::Outcome, status: u16) {
        self.finished = true;
        let elapsed = self.started.elapsed();
        self.app.metrics.record(outcome, elapsed);
        crate::logging::invocation(&crate::logging::Invocation {
            request_id: self.id(),
            trace_id: &self.trace.trace_id,
            method: self.method.as_str(),
            path: self.uri.path(),
            status,
            duration_us: elapsed.as_micros() as u64,
        });
    }
}

/// The largest request head (request line and headers) read: 64 KiB.
const MAX_HEAD: usize = 64 << 10;

/// 499, as nginx logs a request whose client closed the connection first.
const CLIENT_CLOSED: u16 = 499;

impl Drop for Call<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.record(metrics::Outcome::Abandoned, CLIENT_CLOSED);
        }
    }
}

/// The id callers gave: `x-request-id`, then `x-fc-request-id`.
pub(crate) fn given_request_id(headers: &HeaderMap) -> Option<HeaderValue> {
    let given = headers
        .get(&REQUEST_ID)
        .or_else(|| headers.get(&FC_REQUEST_ID))?;
    // An id that is not visible ASCII (`to_str` fails) would reach the context and the log as
    // an empty string: the caller's id is replaced by a new one instead.
    let usable = !given.is_empty() && given.len() <= 200 && given.to_str().is_ok();
    usable.then(|| given.clone())
}

pub(crate) fn json(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub(crate) fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into())
        .map_err(|never: Infallible| match never {})
        .boxed_unsync()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_taken_from_either_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(given_request_id(&headers), None);
        headers.insert("x-fc-request-id", HeaderValue::from_static("fc-1"));
        assert_eq!(given_request_id(&headers).unwrap(), "fc-1");
        headers.insert("x-request-id", HeaderValue::from_static("r-1"));
        assert_eq!(given_request_id(&headers).unwrap(), "r-1");
    }
}

//! The HTTP surface: the listener, one task per connection, and the drain on shutdown.
//!
//! Architecture invariant: the server never starts or signals processes; it learns about the
//! worker only through [`state::Readiness`] and tells the supervisor nothing but "idle".

mod admin;
pub mod errors;
pub mod handler;
pub mod metrics;
mod proxy;
mod request_id;
pub mod state;

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::exit::StartError;
use metrics::Metrics;
use state::{InFlight, Readiness};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;
/// Bodies sent to a proxied server: a client's request (bounded by MAX_BODY_SIZE), or one the
/// shim makes itself (a timer event).
type UpstreamBody = http_body_util::Either<http_body_util::Limited<Incoming>, Full<Bytes>>;

/// What every request handler shares.
pub struct App {
    pub readiness: Readiness,
    pub metrics: Metrics,
    pub in_flight: Arc<InFlight>,
    /// Open client connections; the drain waits for this to reach zero.
    pub connections: Arc<InFlight>,
    pub function_timeout: Duration,
    pub max_body_size: u64,
    ids: request_id::RequestIds,
    backend: Backend,
}

/// Where invocations go: a proxied server, or the pool of handler workers.
pub enum Backend {
    /// With an event or schedule trigger only `POST /` and `/invoke` are forwarded.
    Proxy {
        client: Client<HttpConnector, UpstreamBody>,
        events_only: bool,
    },
    Handlers(handler::Handlers),
}

impl Backend {
    /// A pooled HTTP/1.1 client to the worker's private port, with TCP_NODELAY.
    pub fn proxy(trigger: crate::config::Trigger) -> Backend {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_timer(TokioTimer::new())
            .build(connector);
        Backend::Proxy {
            client,
            events_only: trigger != crate::config::Trigger::Http,
        }
    }
}

impl App {
    pub fn new(
        function_timeout: Duration,
        max_body_size: u64,
        concurrency: usize,
        backend: Backend,
    ) -> Arc<App> {
        Arc::new(App {
            readiness: Readiness::new(),
            metrics: Metrics::default(),
            in_flight: InFlight::new(concurrency),
            connections: InFlight::new(usize::MAX),
            function_timeout,
            max_body_size,
            ids: request_id::RequestIds::new(),
            backend,
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
pub fn bind(port: u16) -> Result<std::net::TcpListener, StartError> {
    let any6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port);
    let listener = std::net::TcpListener::bind(any6).or_else(|error| match error.kind() {
        std::io::ErrorKind::AddrInUse => Err(error),
        _ => std::net::TcpListener::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)),
    });
    let listener = listener.map_err(|source| StartError::Bind { port, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| StartError::Bind { port, source })?;
    Ok(listener)
}

/// Accepts connections until `stop` turns true; then the listener is closed at once and every
/// connection finishes its current request and closes.
pub async fn serve(
    listener: std::net::TcpListener,
    app: Arc<App>,
    mut stop: watch::Receiver<bool>,
) {
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => return tracing::error!(%error, "cannot use the listening socket"),
    };
    let for_connections = stop.clone();
    tokio::spawn(give_back_memory(app.clone()));
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => connection(stream, remote, app.clone(), for_connections.clone()),
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = stopped(&mut stop) => break,
        }
    }
    tracing::info!("no longer accepting connections");
}

/// After a burst, once no connection is open, returns the heap's free pages to the system
/// (glibc keeps them otherwise: RSS stayed at ~7 MiB after a 64-connection load, against
/// ~3 MiB idle). One check every 10 s; nothing is done while idle with no new invocations.
async fn give_back_memory(app: Arc<App>) {
    let mut trimmed_at = 0;
    let mut every = tokio::time::interval(Duration::from_secs(10));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let count = app.metrics.count();
        if count != trimmed_at && app.connections.current() == 0 {
            // SAFETY: malloc_trim only walks glibc's own heap; it has no preconditions.
            unsafe { libc::malloc_trim(0) };
            trimmed_at = count;
        }
    }
}

fn connection(
    stream: tokio::net::TcpStream,
    remote: SocketAddr,
    app: Arc<App>,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let Some(open) = app.connections.try_acquire() else {
        return;
    };
    tokio::spawn(async move {
        let _open = open;
        let service = service_fn(|request| {
            let app = app.clone();
            async move { Ok::<_, Infallible>(handle(&app, request, remote.ip()).await) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service);
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = stopped(&mut stop) => conn.as_mut().graceful_shutdown(),
        }
        let _ = conn.await;
    });
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn handle(app: &App, request: http::Request<Incoming>, remote: IpAddr) -> Response<Body> {
    if let Some(response) = admin::route(app, &request) {
        return response;
    }
    match &app.backend {
        Backend::Proxy {
            client,
            events_only,
        } => proxy::invoke(app, client, *events_only, request, remote).await,
        Backend::Handlers(handlers) => handler::invoke(app, handlers, request, remote).await,
    }
}

impl App {
    /// Delivers an event the shim makes itself (a schedule tick) to the function: to a handler
    /// worker, or as `POST /invoke` to a proxied server. `Err` says why it failed.
    /// `function` picks one of several handler functions (f.yml); a proxied server is one.
    pub async fn deliver(
        &self,
        function: usize,
        kind: &'static str,
        event: serde_json::Value,
        context: serde_json::Value,
    ) -> Result<(), String> {
        let request_id = self.ids.next();
        let id = request_id.to_str().unwrap_or_default().to_owned();
        let started = tokio::time::Instant::now();
        let result = match &self.backend {
            Backend::Handlers(handlers) => {
                handler::deliver(handlers, function, kind, &id, event, context, started).await
            }
            Backend::Proxy { client, .. } => {
                let deadline = started + self.function_timeout;
                proxy::deliver(self, client, &request_id, event, deadline).await
            }
        };
        let outcome = match &result {
            Ok(()) => metrics::Outcome::Success,
            Err(_) => metrics::Outcome::Error,
        };
        self.metrics.record(outcome, started.elapsed());
        result.map_err(|why| format!("{why} (request id {id})"))
    }
}

pub(crate) static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub(crate) static FC_REQUEST_ID: HeaderName = HeaderName::from_static("x-fc-request-id");

/// One invocation from arrival to answer: its request id and its start, so that both backends
/// log one line and record one metrics sample in the same way.
pub(crate) struct Call {
    pub request_id: HeaderValue,
    pub started: tokio::time::Instant,
    method: http::Method,
    path: String,
}

impl Call {
    pub fn start<B>(app: &App, request: &http::Request<B>) -> Call {
        Call {
            request_id: given_request_id(request.headers()).unwrap_or_else(|| app.ids.next()),
            started: tokio::time::Instant::now(),
            method: request.method().clone(),
            path: request.uri().path().to_owned(),
        }
    }

    pub fn id(&self) -> &str {
        self.request_id.to_str().unwrap_or_default()
    }

    /// Turns the result into the response: metrics, the invocation log line, `x-request-id`.
    pub fn finish(
        self,
        app: &App,
        result: Result<Response<Body>, errors::Failure>,
    ) -> Response<Body> {
        let (mut response, outcome) = match result {
            Ok(response) if response.status().is_server_error() => {
                (response, metrics::Outcome::Error)
            }
            Ok(response) => (response, metrics::Outcome::Success),
            Err(failure) => (failure.response(self.id()), failure.outcome()),
        };
        let elapsed = self.started.elapsed();
        app.metrics.record(outcome, elapsed);
        tracing::info!(
            request_id = self.id(),
            method = self.method.as_str(),
            path = self.path,
            status = response.status().as_u16(),
            duration_us = elapsed.as_micros() as u64,
            "invocation"
        );
        response
            .headers_mut()
            .insert(REQUEST_ID.clone(), self.request_id);
        response
    }
}

/// The id callers gave: `x-request-id`, then `x-fc-request-id`.
pub(crate) fn given_request_id(headers: &HeaderMap) -> Option<HeaderValue> {
    let given = headers
        .get(&REQUEST_ID)
        .or_else(|| headers.get(&FC_REQUEST_ID))?;
    (!given.is_empty() && given.len() <= 200).then(|| given.clone())
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

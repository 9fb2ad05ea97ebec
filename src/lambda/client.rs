//! The Lambda Runtime API (2018-06-01) over one kept connection (`crate::kept`): `/invocation/next`, an
//! invocation's `/response` or `/error`, and `/init/error`, each with bounded retries while the
//! API is unreachable or answers 5xx.

use crate::logging::error_chain;
use std::time::Duration;

use crate::kept::Kept;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::Value;

/// Attempts per call before the API counts as gone; the waits between them double from
/// [`FIRST_WAIT`] (about 3 s in all).
const ATTEMPTS: u32 = 6;
const FIRST_WAIT: Duration = Duration::from_millis(100);

/// A result or error post is answered at once; `/next` is a long poll with no limit.
const POST_LIMIT: Option<Duration> = Some(Duration::from_secs(10));
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) static REQUEST_ID: &str = "lambda-runtime-aws-request-id";
static ERROR_TYPE: &str = "lambda-runtime-function-error-type";

/// The API could not be reached, or kept failing, after the retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the Lambda Runtime API at {address} failed: {reason}")]
pub struct Unreachable {
    pub address: String,
    pub reason: String,
}

/// One event from `/invocation/next`: its headers (the context) and its body.
#[derive(Debug)]
pub struct Next {
    pub request_id: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub struct RuntimeApi {
    client: Kept<Full<Bytes>>,
    /// For streamed results, whose body is not in memory.
    streamer: Kept<crate::invoke::Body>,
    /// `[/prefix]/2018-06-01/runtime`
    base: String,
    address: String,
}

impl RuntimeApi {
    /// `address` is AWS_LAMBDA_RUNTIME_API: `host:port`, maybe with a path prefix.
    pub fn new(address: &str) -> RuntimeApi {
        let (authority, prefix) = address.split_at(address.find('/').unwrap_or(address.len()));
        RuntimeApi {
            client: Kept::new(authority, CONNECT_TIMEOUT),
            streamer: Kept::new(authority, CONNECT_TIMEOUT),
            base: format!("{prefix}/2018-06-01/runtime"),
            address: address.to_owned(),
        }
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// Waits for the next event (a long poll: no time limit once connected).
    pub async fn next(&self) -> Result<Next, Unreachable> {
        let (status, headers, body) = self
            .call(Method::GET, "/invocation/next", None, Bytes::new(), None)
            .await?;
        let request_id = headers
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|id| !id.is_empty());
        match (status.is_success(), request_id) {
            (true, Some(id)) => Ok(Next {
                request_id: id.to_owned(),
                headers: headers.clone(),
                body,
            }),
            _ => Err(self.unreachable(format!(
                "/invocation/next answered {status} without a request id"
            ))),
        }
    }

    /// Posts an invocation's result; `Ok(false)` when the API refused it (4xx, e.g. too large).
    pub async fn respond(&self, request_id: &str, body: Bytes) -> Result<bool, Unreachable> {
        let path = format!("/invocation/{request_id}/response");
        let (status, _, _) = self
            .call(Method::POST, &path, None, body, POST_LIMIT)
            .await?;
        Ok(status.is_success())
    }

    /// Posts a streamed result (one try: a stream cannot be sent twice); `Ok(false)` when the
    /// API refused it.
    pub async fn respond_streaming(
        &self,
        request_id: &str,
        body: super::stream::Prefixed,
    ) -> Result<bool, Unreachable> {
        let path = format!("/invocation/{request_id}/response");
        let request = Request::post(format!("{}{path}", self.base))
            .header(super::stream::MODE, "streaming")
            .header(http::header::CONTENT_TYPE, super::stream::INTEGRATION)
            .body(body.boxed_unsync())
            .map_err(|e| self.unreachable(e.to_string()))?;
        let (response, connection) = self
            .streamer
            .send(request)
            .await
            .map_err(|e| self.unreachable(format!("POST {path}: {}", error_chain(&*e))))?;
        let status = response.status();
        if response.into_body().collect().await.is_ok() {
            self.streamer.keep(connection);
        }
        Ok(status.is_success())
    }

    /// Posts an invocation's error `{errorMessage, errorType, stackTrace}`.
    pub async fn fail(&self, request_id: &str, error: &Value) -> Result<bool, Unreachable> {
        let path = format!("/invocation/{request_id}/error");
        let (status, _, _) = self
            .call(
                Method::POST,
                &path,
                error_type(error),
                body(error),
                POST_LIMIT,
            )
            .await?;
        Ok(status.is_success())
    }

    /// Posts why the function cannot start; one try, bounded by `limit` (emulators may hold
    /// the call until an invocation arrives).
    pub async fn init_error(&self, error: &Value, limit: Duration) -> Result<(), String> {
        let request = self.request(Method::POST, "/init/error", error_type(error), body(error))?;
        match tokio::time::timeout(limit, self.client.send(request)).await {
            Err(_) => Err(format!(
                "no answer within {}",
                humantime::format_duration(limit)
            )),
            Ok(Err(error)) => Err(error_chain(&*error)),
            Ok(Ok((response, _))) if response.status().is_success() => Ok(()),
            Ok(Ok((response, _))) => Err(format!("it answered {}", response.status())),
        }
    }

    /// One call with retries while the connection fails or the API answers 5xx.
    async fn call(
        &self,
        method: Method,
        path: &str,
        error_type: Option<HeaderValue>,
        body: Bytes,
        limit: Option<Duration>,
    ) -> Result<(StatusCode, HeaderMap, Bytes), Unreachable> {
        let mut wait = FIRST_WAIT;
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            if attempt > 1 {
                tracing::warn!(
                    attempt,
                    reason = last,
                    address = self.address,
                    "retrying the Lambda Runtime API"
                );
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            let request = self
                .request(method.clone(), path, error_type.clone(), body.clone())
                .map_err(|reason| self.unreachable(reason))?;
            match self.once(request, limit).await {
                Ok((status, _, body)) if status.is_server_error() => {
                    last = format!(
                        "{method} {path} answered {status}: {}",
                        String::from_utf8_lossy(&body)
                    );
                }
                Ok(answer) => return Ok(answer),
                Err(reason) => last = format!("{method} {path}: {reason}"),
            }
        }
        Err(self.unreachable(format!("{last} (after {ATTEMPTS} attempts)")))
    }

    async fn once(
        &self,
        request: Request<Full<Bytes>>,
        limit: Option<Duration>,
    ) -> Result<(StatusCode, HeaderMap, Bytes), String> {
        let exchange = async {
            let (response, connection) = self
                .client
                .send(request)
                .await
                .map_err(|e| error_chain(&*e))?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await.map_err(|e| error_chain(&e))?;
            self.client.keep(connection);
            Ok((parts.status, parts.headers, body.to_bytes()))
        };
        match limit {
            Some(limit) => tokio::time::timeout(limit, exchange)
                .await
                .unwrap_or_else(|_| Err("no answer in time".into())),
            None => exchange.await,
        }
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        error_type: Option<HeaderValue>,
        body: Bytes,
    ) -> Result<Request<Full<Bytes>>, String> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(error_type) = error_type {
            builder = builder.header(ERROR_TYPE, error_type);
        }
        builder
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|e| format!("invalid request to {}{path}: {e}", self.base))
    }

    fn unreachable(&self, reason: String) -> Unreachable {
        Unreachable {
            address: self.address.clone(),
            reason,
        }
    }
}

fn error_type(error: &Value) -> Option<HeaderValue> {
    HeaderValue::from_str(error["errorType"].as_str().unwrap_or("Runtime.Unknown")).ok()
}

fn body(value: &Value) -> Bytes {
    Bytes::from(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Two posts to `host:port/prefix`: both on one connection, in origin form under the
    /// prefix, with the address as `Host`.
    #[tokio::test]
    async fn calls_go_under_the_path_prefix_on_one_kept_connection() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("{}/prefix", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut heads = String::new();
            for _ in 0..2 {
                // The head and its one-byte body.
                let mut request = Vec::new();
                while !request.windows(4).any(|w| w == b"\r\n\r\n")
                    || request.ends_with(b"\r\n\r\n")
                {
                    let mut buf = [0u8; 4096];
                    let n = stream.read(&mut buf).await.unwrap();
                    assert!(n > 0, "the connection closed after {heads:?}");
                    request.extend_from_slice(&buf[..n]);
                }
                heads.push_str(&String::from_utf8_lossy(&request));
                let answer = "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n";
                stream.write_all(answer.as_bytes()).await.unwrap();
            }
            heads
        });
        let api = RuntimeApi::new(&address);
        assert_eq!(api.respond("a", Bytes::from_static(b"1")).await, Ok(true));
        assert_eq!(api.respond("b", Bytes::from_static(b"2")).await, Ok(true));
        let heads = server.await.unwrap();
        let host = address.split('/').next().unwrap();
        for id in ["a", "b"] {
            let line =
                format!("POST /prefix/2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\n");
            assert!(heads.contains(&line), "{line:?} not in {heads:?}");
        }
        assert!(
            heads.to_lowercase().contains(&format!("host: {host}\r\n")),
            "{heads:?}"
        );
    }
}

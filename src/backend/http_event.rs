//! The proxied server answering an HTTP event (API Gateway, ALB, Function URL): the event
//! sent as the request it stands for, the answer returned as a result map for the front end
//! to shape (what the Lambda Web Adapter does).

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::Request;
use http_body_util::BodyExt;
use serde_json::json;
use tokio::time::{timeout_at, Instant};

use super::Upstream;
use crate::event::lambda::{self, Shape};
use crate::invoke::{Failed, Invocation, Outcome, Streamed};
use crate::logging::error_chain;

static REQUEST_CONTEXT: HeaderName = HeaderName::from_static("x-amzn-request-context");

impl Upstream {
    /// `{statusCode, headers, multiValueHeaders, body, isBase64Encoded}` from the server's
    /// answer to the request `invocation.event` stands for; with `invocation.stream`, the
    /// answer's head and its body as it arrives.
    pub(super) async fn invoke_http_event(
        &self,
        invocation: &Invocation,
        event: &serde_json::Value,
        shape: Shape,
    ) -> Result<Outcome, Failed> {
        let event = match lambda::to_request(event, shape) {
            Ok(event) => event,
            Err(why) => {
                return Ok(Outcome::Error(json!({
                    "errorType": "InvalidEvent",
                    "errorMessage": why.0,
                    "stackTrace": [],
                })))
            }
        };
        let limit = invocation
            .deadline
            .saturating_duration_since(Instant::now());
        let (addr, generation) = self.readiness.wait_ready(limit).await?;
        let addr = addr.ok_or(Failed::NotReady)?;
        let request = self.event_request(event, addr, &invocation.request_id)?;
        let (response, connection) = self
            .send(request, addr, generation, invocation.deadline)
            .await?;
        let (parts, body) = response.into_parts();
        if invocation.stream {
            // Not given back: the connection closes once the streamed answer has ended.
            return Ok(Outcome::Stream(Streamed {
                status: parts.status.as_u16(),
                headers: end_to_end(&parts.headers),
                body: body.map_err(Into::into).boxed_unsync(),
            }));
        }
        let body = timeout_at(invocation.deadline, body.collect())
            .await
            .map_err(|_| Failed::Timeout)?
            .map_err(|error| Failed::Upstream(error_chain(&error)))?
            .to_bytes();
        connection.check_in();
        let headers = end_to_end(&parts.headers);
        Ok(Outcome::Result(lambda::result_map(
            parts.status.as_u16(),
            &headers,
            &body,
        )))
    }

    /// The request an HTTP event stands for, to the server at `addr`.
    fn event_request(
        &self,
        event: lambda::EventRequest,
        addr: std::net::SocketAddr,
        request_id: &str,
    ) -> Result<Request<super::UpstreamBody>, Failed> {
        let mut request = Request::builder()
            .method(event.method.as_str())
            .uri(event.target)
            .body(http_body_util::Either::Right(http_body_util::Full::new(
                Bytes::from(event.body),
            )))
            .map_err(|e| Failed::Upstream(format!("the event is not a valid request: {e}")))?;
        let headers = request.headers_mut();
        for (name, value) in &event.headers {
            let name = HeaderName::from_bytes(name.as_bytes());
            if let (Ok(name), Ok(value)) = (name, HeaderValue::from_str(value)) {
                headers.append(name, value);
            }
        }
        // The event's Host (the gateway's domain) is kept; without one, the server's address.
        headers
            .entry(http::header::HOST)
            .or_insert_with(|| super::headers::host(addr));
        if let Ok(context) = HeaderValue::from_str(&event.context) {
            headers.insert(REQUEST_CONTEXT.clone(), context);
        }
        let request_id = HeaderValue::from_str(request_id)
            .unwrap_or_else(|_| HeaderValue::from_static("invalid"));
        self.identify(headers, &request_id);
        Ok(request)
    }
}

/// The answer's headers that belong in a result map (no framing or hop-by-hop ones).
fn end_to_end(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| !super::is_hop_by_hop(name) && *name != http::header::CONTENT_LENGTH)
        .map(|(n, v)| {
            let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (n.as_str().to_owned(), value)
        })
        .collect()
}

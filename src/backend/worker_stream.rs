//! A handler's streamed answer (`head`, `chunk`s, `end` in languages/PROTOCOL.md) as an HTTP
//! body, passed on as it arrives: MAX_RESPONSE_SIZE and FUNCTION_TIMEOUT (from the invocation's
//! start) bound the whole stream, and one past either is cut off and logged. A front end that
//! cannot pass a stream on gets it collected into a result map.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use base64::Engine;
use bytes::{Bytes, BytesMut};
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;
use serde_json::{json, Map, Value};
use tokio::time::{Instant, Sleep};

use crate::invoke::{BoxError, Failed, Streamed};
use crate::worker::{Part, Stream};

/// The deadline of one stream, and whose it is (for the log). Its size is bounded where it is
/// received (`worker::Connection`): past MAX_RESPONSE_SIZE nothing more is kept.
pub struct Limits {
    pub deadline: Instant,
    pub request_id: String,
}

/// The body of a handler's stream.
pub struct WorkerBody {
    stream: Stream,
    sent: u64,
    limits: Limits,
    timer: Pin<Box<Sleep>>,
    ended: bool,
}

/// Why a stream stopped before its end.
#[derive(Debug)]
pub struct Cut(pub Failed);

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.describe())
    }
}

impl std::error::Error for Cut {}

/// The stream as an HTTP answer whose body is still arriving.
pub fn streamed(stream: Stream, limits: Limits) -> Streamed {
    let (status, headers) = (stream.head.status, stream.head.headers.clone());
    let timer = Box::pin(tokio::time::sleep_until(limits.deadline));
    let body = WorkerBody {
        stream,
        sent: 0,
        limits,
        timer,
        ended: false,
    };
    Streamed {
        status,
        headers,
        body: body.boxed_unsync(),
    }
}

impl WorkerBody {
    /// Ends the stream early: logged with the request id; the client sees the body cut off.
    fn cut(&mut self, failed: Failed) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.ended = true;
        tracing::warn!(
            request_id = self.limits.request_id,
            sent = self.sent,
            reason = failed.describe(),
            "the function's stream was cut off"
        );
        Poll::Ready(Some(Err(Box::new(Cut(failed)))))
    }
}

impl HttpBody for WorkerBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        // Checked first too, so that a producer that never pauses is cut off on time.
        if Instant::now() >= self.limits.deadline {
            return self.cut(Failed::Timeout);
        }
        match self.stream.parts.poll_recv(cx) {
            Poll::Ready(Some(Part::Data(data))) => {
                self.sent += data.len() as u64;
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            Poll::Ready(Some(Part::TooLarge(limit))) => {
                let why = format!("the stream is over MAX_RESPONSE_SIZE ({limit} bytes)");
                self.cut(Failed::InvalidResponse(why))
            }
            Poll::Ready(Some(Part::End)) => {
                self.ended = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Part::Failed(error))) => {
                let why = format!(
                    "the handler failed while streaming: {}: {}",
                    error["errorType"].as_str().unwrap_or("Error"),
                    error["errorMessage"].as_str().unwrap_or_default()
                );
                self.cut(Failed::InvalidResponse(why))
            }
            Poll::Ready(None) => self.cut(Failed::WorkerExited),
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => self.cut(Failed::Timeout),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// The whole stream, read within its limits, as a handler's result map (for front ends that
/// answer in one piece: timers, the Invoke API, buffered Lambda).
pub async fn collect(stream: Stream, limits: Limits) -> Result<Value, Failed> {
    let Streamed {
        status,
        headers,
        mut body,
    } = streamed(stream, limits);
    let mut bytes = BytesMut::new();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => bytes.extend_from_slice(frame.data_ref().map_or(&[][..], |d| &d[..])),
            Err(error) => {
                return Err(match error.downcast::<Cut>() {
                    Ok(cut) => cut.0,
                    Err(other) => Failed::InvalidResponse(other.to_string()),
                })
            }
        }
    }
    Ok(result_map(status, &headers, &bytes))
}

/// `{statusCode, headers, multiValueHeaders (set-cookie), body, isBase64Encoded}`.
fn result_map(status: u16, headers: &[(String, String)], body: &[u8]) -> Value {
    let mut joined = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in headers {
        if name == "set-cookie" {
            cookies.push(Value::String(value.clone()));
        } else {
            joined.insert(name.clone(), Value::String(value.clone()));
        }
    }
    let (body, base64) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };
    let mut result =
        json!({"statusCode": status, "headers": joined, "body": body, "isBase64Encoded": base64});
    if !cookies.is_empty() {
        result["multiValueHeaders"] = json!({ "set-cookie": cookies });
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collected_stream_is_a_result_map() {
        let headers = [
            ("content-type".to_string(), "text/plain".to_string()),
            ("set-cookie".to_string(), "a=1".to_string()),
        ];
        let text = result_map(201, &headers, b"hello");
        assert_eq!(text["statusCode"], 201);
        assert_eq!(text["headers"], json!({"content-type": "text/plain"}));
        assert_eq!(text["multiValueHeaders"]["set-cookie"], json!(["a=1"]));
        assert_eq!(
            (&text["body"], &text["isBase64Encoded"]),
            (&json!("hello"), &json!(false))
        );
        let binary = result_map(200, &[], &[0, 255]);
        assert_eq!(
            (&binary["body"], &binary["isBase64Encoded"]),
            (&json!("AP8="), &json!(true))
        );
    }
}

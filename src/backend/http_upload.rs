//! The client's request body on its way to the proxied server, watched: whether it was sent
//! whole tells a stalled upload (the client's fault: 408) from a slow server (504) when
//! FUNCTION_TIMEOUT is up.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

pub(crate) struct Watched {
    inner: Incoming,
    sent: Arc<AtomicBool>,
}

impl Watched {
    /// The body, and the flag that turns true once its last byte has been read.
    pub fn new(inner: Incoming) -> (Watched, Arc<AtomicBool>) {
        let sent = Arc::new(AtomicBool::new(inner.is_end_stream()));
        let watched = Watched {
            inner,
            sent: sent.clone(),
        };
        (watched, sent)
    }
}

/// Why no answer came in time: the client's body never arrived whole, or the server is slow.
pub(crate) fn late(uploaded: &AtomicBool) -> crate::invoke::Failed {
    match uploaded.load(Ordering::Relaxed) {
        true => crate::invoke::Failed::Timeout,
        false => crate::invoke::Failed::BodyTimeout,
    }
}

impl Body for Watched {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.sent.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

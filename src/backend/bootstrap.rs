//! A bootstrap fnshim starts (custom `bootstrap`, `fnshim -- CMD` with PORT): an HTTP server
//! on its PORT ([`http::Upstream`]) or a Runtime API client ([`RuntimeApi`]), whichever it
//! turns out to be (FUNCTION_PROTOCOL, or its first move, which the supervisor watches).

use std::sync::Arc;
use std::time::Duration;

use super::http;
use super::runtime_api::{Protocol, RuntimeApi};
use crate::invoke::{Failed, Invocation, Outcome};

pub struct Bootstrap {
    pub upstream: http::Upstream,
    pub api: Arc<RuntimeApi>,
}

impl Bootstrap {
    pub async fn invoke(&self, invocation: Invocation) -> Result<Outcome, Failed> {
        let limit = invocation
            .deadline
            .saturating_duration_since(tokio::time::Instant::now());
        match self.api.decided(limit).await {
            Some(Protocol::Http) => self.upstream.invoke(invocation).await,
            Some(Protocol::Lambda) => self.api.invoke(invocation).await,
            None => Err(Failed::NotReady),
        }
    }

    /// The HTTP server, once the bootstrap is known to be one.
    pub fn http(&self) -> Option<&http::Upstream> {
        (self.api.protocol() == Some(Protocol::Http)).then_some(&self.upstream)
    }

    /// Waits up to `limit` for the bootstrap's first move.
    pub async fn settle(&self, limit: Duration) {
        self.api.decided(limit).await;
    }
}

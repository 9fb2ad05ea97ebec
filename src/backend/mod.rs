//! The back ends: what runs an [`Invocation`](crate::invoke::Invocation). Handler worker pools
//! ([`workers`]), a proxied HTTP server ([`http`]) and Lambda-style bootstraps polling the
//! Runtime API fnshim serves ([`runtime_api`]); a started bootstrap is one of the last two
//! ([`bootstrap`]). Each knows nothing of the front end an invocation came from.
//!
//! A back end that speaks HTTP itself (the proxied server) is also offered a client's request
//! as it is ([`Backend::http`]), so that the proxy path builds no event and copies nothing.

pub mod bootstrap;
pub mod http;
pub mod runtime_api;
pub mod workers;

use std::time::Duration;

use crate::invoke::{Failed, Invocation, Outcome};

pub use crate::invoke::{Body, BoxError};

pub enum Backend {
    Workers(workers::Workers),
    Http(http::Upstream),
    /// A bootstrap: an HTTP server or a Runtime API client, as it turns out.
    Bootstrap(bootstrap::Bootstrap),
}

impl Backend {
    pub async fn invoke(&self, invocation: Invocation) -> Result<Outcome, Failed> {
        match self {
            Backend::Workers(workers) => workers.invoke(invocation).await,
            Backend::Http(upstream) => upstream.invoke(invocation).await,
            Backend::Bootstrap(bootstrap) => bootstrap.invoke(invocation).await,
        }
    }

    /// The server to forward HTTP requests to as they are, if this back end is one.
    pub fn http(&self) -> Option<&http::Upstream> {
        match self {
            Backend::Http(upstream) => Some(upstream),
            Backend::Bootstrap(bootstrap) => bootstrap.http(),
            Backend::Workers(_) => None,
        }
    }

    /// Waits up to `limit` until a started bootstrap's protocol is known (at once otherwise),
    /// so that [`Backend::http`] answers for good.
    pub async fn settle(&self, limit: Duration) {
        if let Backend::Bootstrap(bootstrap) = self {
            bootstrap.settle(limit).await;
        }
    }

    /// What a bootstrap turned out to be, for `/_/ready` and `fnshim check`.
    pub fn protocol(&self) -> Option<runtime_api::Protocol> {
        match self {
            Backend::Bootstrap(bootstrap) => bootstrap.api.protocol(),
            Backend::Http(_) => Some(runtime_api::Protocol::Http),
            Backend::Workers(_) => None,
        }
    }

    /// The index of the function called `name`.
    pub fn function_named(&self, name: &str) -> Result<usize, Failed> {
        let names = self.names();
        names.iter().position(|n| *n == name).ok_or_else(|| {
            Failed::NoSuchFunction(format!(
                "no function named {name:?}; this container serves {}",
                names.join(", ")
            ))
        })
    }

    /// The names of the functions served (one for a proxied server).
    pub fn names(&self) -> Vec<&str> {
        match self {
            Backend::Workers(workers) => {
                workers.functions.iter().map(|f| f.name.as_str()).collect()
            }
            Backend::Http(upstream) => vec![upstream.name()],
            Backend::Bootstrap(bootstrap) => vec![bootstrap.upstream.name()],
        }
    }

    /// Handlers' background work (`waitUntil`) that failed, for `/_/metrics`.
    pub fn background_failures(&self) -> u64 {
        match self {
            Backend::Workers(workers) => workers.background_failures(),
            Backend::Http(_) | Backend::Bootstrap(_) => 0,
        }
    }

    /// The function version invocations run (FUNCTION_VERSION), for `X-Amz-Executed-Version`.
    pub fn version(&self) -> &str {
        match self {
            Backend::Workers(workers) => &workers.function_version,
            Backend::Bootstrap(bootstrap) => &bootstrap.api.function.version,
            Backend::Http(_) => "$LATEST",
        }
    }

    /// How long `function` may run (FUNCTION_TIMEOUT, or its own f.yml timeout).
    pub fn timeout(&self, function: usize) -> Option<Duration> {
        match self {
            Backend::Workers(workers) => workers.timeout(function),
            Backend::Http(upstream) => (function == 0).then(|| upstream.timeout()),
            Backend::Bootstrap(bootstrap) => (function == 0).then(|| bootstrap.upstream.timeout()),
        }
    }
}

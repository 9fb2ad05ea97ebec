//! The back ends: what runs an [`Invocation`](crate::invoke::Invocation). Handler worker pools
//! ([`workers`]) and a proxied HTTP server ([`http`]); each knows nothing of the front end an
//! invocation came from.
//!
//! A back end that speaks HTTP itself (the proxied server) is also offered a client's request
//! as it is ([`Backend::http`]), so that the proxy path builds no event and copies nothing.

pub mod http;
pub mod workers;

use std::time::Duration;

use crate::invoke::{Failed, Invocation, Outcome};

pub use crate::invoke::{Body, BoxError};

pub enum Backend {
    Workers(workers::Workers),
    Http(http::Upstream),
}

impl Backend {
    pub async fn invoke(&self, invocation: Invocation) -> Result<Outcome, Failed> {
        match self {
            Backend::Workers(workers) => workers.invoke(invocation).await,
            Backend::Http(upstream) => upstream.invoke(invocation).await,
        }
    }

    /// The server to forward HTTP requests to as they are, if this back end is one.
    pub fn http(&self) -> Option<&http::Upstream> {
        match self {
            Backend::Http(upstream) => Some(upstream),
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
        }
    }

    /// How long `function` may run (FUNCTION_TIMEOUT, or its own f.yml timeout).
    pub fn timeout(&self, function: usize) -> Option<Duration> {
        match self {
            Backend::Workers(workers) => workers.timeout(function),
            Backend::Http(upstream) => (function == 0).then(|| upstream.timeout()),
        }
    }
}

//! A small HTTP/1.1 client for fnshim's own calls (the Lambda Runtime API, `fnshim invoke`):
//! one kept connection to one `host:port`, opened when needed, over hyper's `client::conn`.
//! Calls come one after another; one made while another is in flight opens a connection of
//! its own. Built instead of hyper-util's pooled client, whose pool, connector and resolver
//! were ~150 KB of the static binary for these few calls (issue 14).

use std::sync::Mutex;
use std::time::Duration;

use http::{HeaderValue, Request, Response};
use hyper::body::{Body, Incoming};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub struct Kept<B> {
    /// `host:port`, also sent as `Host`.
    authority: String,
    host: Option<HeaderValue>,
    connect_timeout: Duration,
    idle: Mutex<Option<SendRequest<B>>>,
}

impl<B> Kept<B>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    /// `authority` is `host:port` (a name is resolved at each connect).
    pub fn new(authority: &str, connect_timeout: Duration) -> Kept<B> {
        Kept {
            authority: authority.to_owned(),
            host: HeaderValue::from_str(authority).ok(),
            connect_timeout,
            idle: Mutex::new(None),
        }
    }

    /// Sends `request` (its URI in origin form, `/path?query`) on the kept connection or a
    /// new one. A kept connection the server closed meanwhile gives the unsent request back,
    /// which then goes out once on a new connection. Hand the connection back with `keep`
    /// once the answer has been read in full.
    pub async fn send(
        &self,
        mut request: Request<B>,
    ) -> Result<(Response<Incoming>, SendRequest<B>), BoxError> {
        if let Some(host) = &self.host {
            request
                .headers_mut()
                .entry(http::header::HOST)
                .or_insert_with(|| host.clone());
        }
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut sender) = idle {
            if sender.ready().await.is_ok() {
                match sender.try_send_request(request).await {
                    Ok(response) => return Ok((response, sender)),
                    Err(mut error) => match error.take_message() {
                        Some(unsent) => request = unsent,
                        None => return Err(error.into_error().into()),
                    },
                }
            }
        }
        let mut sender = self.connect().await?;
        let response = sender.send_request(request).await?;
        Ok((response, sender))
    }

    /// The connection back for the next call, once its answer has been read in full.
    pub fn keep(&self, sender: SendRequest<B>) {
        if !sender.is_closed() {
            *self.idle.lock().unwrap_or_else(|p| p.into_inner()) = Some(sender);
        }
    }

    async fn connect(&self) -> Result<SendRequest<B>, BoxError> {
        let connecting = TcpStream::connect(self.authority.as_str());
        let stream = tokio::time::timeout(self.connect_timeout, connecting)
            .await
            .map_err(|_| format!("connecting to {} timed out", self.authority))??;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }
}

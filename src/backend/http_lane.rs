//! The proxy path's upstream connections, kept the way nginx's `keepalive` cache keeps them:
//! a request takes the last idle connection to the current worker (or opens one) and gives it
//! back once its answer has been read in full. fnshim's runtime has one thread, so the lock
//! around the spares is never contended: a request pays a push and a pop, not the general
//! pool's key hashing, idle timers and waiter queues. Idle connections cost nothing per client
//! connection: there are only as many as requests were in flight at once (at most 64 kept).
//! A spare idle for more than `IDLE_SWEEPS - 1` sweeps (4 to 6 s) is closed, as haproxy purges
//! its idle server connections: after a burst its buffers go back (issue 14's RSS after the
//! load). One sweeping task runs only while there are spares; none is armed when fully idle.
//! Each client connection has a `Lane` for what outlives one request: a WebSocket's splice.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use super::{BoxError, UpstreamBody};
use crate::readiness::Permit;

/// At most this many idle upstream connections are kept for the next requests.
const SPARES: usize = 64;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the spares are looked over while there are any.
const SWEEP_EVERY: Duration = Duration::from_secs(2);
/// A spare given back this many sweeps ago is closed: idle for more than 4 s, at most 6 s.
const IDLE_SWEEPS: u64 = 3;

/// One upstream connection: the worker it was opened to (its address and readiness
/// generation), hyper's handle to send on it, and the spares it goes back to (`check_in`;
/// dropped instead, it closes). The spares live as long as the `Upstream`, the whole run.
pub(super) struct Owned {
    addr: SocketAddr,
    generation: u64,
    sender: SendRequest<UpstreamBody>,
    spares: Arc<Spares>,
    /// The sweeps done when it was given back (a counter, not a clock read per request).
    given_back: u64,
}

impl Owned {
    fn usable(&self, addr: SocketAddr, generation: u64) -> bool {
        self.addr == addr && self.generation == generation && !self.sender.is_closed()
    }
}

/// Idle upstream connections, the last one given back first.
#[derive(Default)]
pub(super) struct Spares(Mutex<Stack>);

#[derive(Default)]
struct Stack {
    idle: Vec<Owned>,
    /// Sweeps done so far (while there were spares).
    sweeps: u64,
    /// A sweeping task runs (there are spares, or there were at its last look).
    sweeping: bool,
}

impl Spares {
    fn stack(&self) -> std::sync::MutexGuard<'_, Stack> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take(&self, addr: SocketAddr, generation: u64) -> Option<Owned> {
        let mut stack = self.stack();
        while let Some(owned) = stack.idle.pop() {
            if owned.usable(addr, generation) {
                return Some(owned);
            }
        }
        None
    }
}

/// Every `SWEEP_EVERY` while there are spares: closes those idle `IDLE_SWEEPS` sweeps (and
/// those the server closed); ends when none is left, saying so to the memory keeper.
async fn sweep(spares: Arc<Spares>) {
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        let mut stack = spares.stack();
        stack.sweeps += 1;
        let now = stack.sweeps;
        stack
            .idle
            .retain(|owned| now - owned.given_back < IDLE_SWEEPS && !owned.sender.is_closed());
        if stack.idle.is_empty() {
            stack.sweeping = false;
            break;
        }
    }
    crate::memory::freed();
}

/// What one client connection keeps across its requests: once a protocol switch (a
/// WebSocket) spliced it to the server, the splice.
#[derive(Default)]
pub struct Lane {
    splice: Mutex<Option<JoinHandle<()>>>,
}

impl Lane {
    /// Waits until the splice of a switched connection ends (at once if there is none): the
    /// client connection counts as open until then, so that the drain waits for it.
    pub async fn spliced(&self) {
        let splice = self.splice.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(splice) = splice {
            let _ = splice.await;
        }
    }

    /// After the server's 101: the client's connection and the server's, handed through both
    /// ways until either side closes, in flight (`permit`) all along.
    pub(super) fn splice(&self, client: OnUpgrade, upstream: Option<OnUpgrade>, permit: Permit) {
        let task = tokio::spawn(async move {
            let _permit = permit;
            let Some(upstream) = upstream else { return };
            let (Ok(client), Ok(upstream)) = tokio::join!(client, upstream) else {
                return;
            };
            let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
            if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                tracing::debug!(%error, "the switched connection ended");
            }
        });
        *self.splice.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
    }
}

impl Owned {
    /// Back among the spares, once its answer has been read in full (hyper closes a
    /// connection whose answer was dropped half read: that one is left to close).
    pub(super) fn check_in(mut self) {
        if self.sender.is_closed() {
            return;
        }
        let spares = self.spares.clone();
        let mut stack = spares.stack();
        if stack.idle.len() >= SPARES {
            return;
        }
        self.given_back = stack.sweeps;
        stack.idle.push(self);
        if !stack.sweeping {
            // Outside a runtime (never on the request path) the spare simply stays.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                stack.sweeping = true;
                runtime.spawn(sweep(spares.clone()));
            }
        }
    }
}

/// Sends `request` on the last idle connection to this worker, or on a new one. A spare the
/// server closed meanwhile (its keep-alive ran out) gives the unsent request back, which then
/// goes out once on a new connection. The connection comes back with the answer, to be
/// checked in when the answer has been read.
pub(super) async fn send(
    spares: &Arc<Spares>,
    addr: SocketAddr,
    generation: u64,
    mut request: Request<UpstreamBody>,
) -> Result<(Response<Incoming>, Owned), BoxError> {
    if let Some(mut owned) = spares.take(addr, generation) {
        if owned.sender.ready().await.is_ok() {
            match owned.sender.try_send_request(request).await {
                Ok(response) => return Ok((response, owned)),
                Err(mut error) => match error.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(error.into_error().into()),
                },
            }
        }
    }
    // Boxed: a connect is rare, and its future would make every request's larger.
    let mut owned = Box::pin(connect(addr, generation, spares)).await?;
    let response = owned.sender.send_request(request).await?;
    Ok((response, owned))
}
async fn connect(
    addr: SocketAddr,
    generation: u64,
    spares: &Arc<Spares>,
) -> Result<Owned, BoxError> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| format!("connecting to {addr} timed out"))??;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::Builder::new()
        .handshake(TokioIo::new(stream))
        .await?;
    // `with_upgrades`: after a 101 the connection is handed to whoever asked for the upgrade.
    tokio::spawn(async move {
        let _ = connection.with_upgrades().await;
    });
    Ok(Owned {
        addr,
        generation,
        sender,
        spares: spares.clone(),
        given_back: 0,
    })
}

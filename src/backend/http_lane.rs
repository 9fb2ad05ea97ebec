//! The upstream connection a client connection owns. Requests on one client connection come one
//! after the other, so each goes out on the connection the previous one used: no pool lookup,
//! no key hashed, no lock shared with other clients. A client connection that ends hands its
//! upstream connection to a few spares, which a new client connection takes before it connects
//! (nginx's `keepalive` cache does the same).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use hyper::upgrade::OnUpgrade;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use super::{BoxError, UpstreamBody};
use crate::readiness::Permit;

/// At most this many idle upstream connections are kept for new client connections.
const SPARES: usize = 64;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One upstream connection: the worker it was opened to (its address and readiness
/// generation) and hyper's handle to send on it.
struct Owned {
    addr: SocketAddr,
    generation: u64,
    sender: SendRequest<UpstreamBody>,
    spares: Arc<Spares>,
}

impl Owned {
    fn usable(&self, addr: SocketAddr, generation: u64) -> bool {
        self.addr == addr && self.generation == generation && !self.sender.is_closed()
    }
}

/// Idle upstream connections left by client connections that ended.
#[derive(Default)]
pub(super) struct Spares(Mutex<Vec<Owned>>);

impl Spares {
    fn take(&self, addr: SocketAddr, generation: u64) -> Option<Owned> {
        let mut spares = self.0.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(owned) = spares.pop() {
            if owned.usable(addr, generation) {
                return Some(owned);
            }
        }
        None
    }
}

/// The upstream connection of one client connection (empty until its first proxied request),
/// and, once a protocol switch (a WebSocket) spliced the two, the splice.
#[derive(Default)]
pub struct Lane {
    owned: Mutex<Option<Owned>>,
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

    fn take(&self, addr: SocketAddr, generation: u64, spares: &Spares) -> Option<Owned> {
        let mine = self.owned.lock().unwrap_or_else(|p| p.into_inner()).take();
        match mine {
            Some(owned) if owned.usable(addr, generation) => Some(owned),
            _ => spares.take(addr, generation),
        }
    }

    fn keep(&self, owned: Owned) {
        *self.owned.lock().unwrap_or_else(|p| p.into_inner()) = Some(owned);
    }
}

impl Drop for Lane {
    fn drop(&mut self) {
        let owned = self.owned.get_mut().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(owned) = owned.filter(|o| !o.sender.is_closed()) {
            let spares = owned.spares.clone();
            let mut spares = spares.0.lock().unwrap_or_else(|p| p.into_inner());
            if spares.len() < SPARES {
                spares.push(owned);
            }
        }
    }
}

/// Sends `request` on the lane's upstream connection (or a spare, or a new one). A kept
/// connection the server closed meanwhile (its keep-alive ran out) gives the unsent request
/// back, which then goes out once on a new connection.
pub(super) async fn send(
    lane: &Lane,
    spares: &Arc<Spares>,
    addr: SocketAddr,
    generation: u64,
    mut request: Request<UpstreamBody>,
) -> Result<Response<Incoming>, BoxError> {
    if let Some(mut owned) = lane.take(addr, generation, spares) {
        if owned.sender.ready().await.is_ok() {
            match owned.sender.try_send_request(request).await {
                Ok(response) => {
                    lane.keep(owned);
                    return Ok(response);
                }
                Err(mut error) => match error.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(error.into_error().into()),
                },
            }
        }
    }
    let mut owned = connect(addr, generation, spares).await?;
    let response = owned.sender.send_request(request).await?;
    lane.keep(owned);
    Ok(response)
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
    })
}

//! Listeners: bind the configured addresses, accept, and spawn one connection task each.
//!
//! Every listener has a [`ListenerKind`]. The accept loop only accepts: it takes a connection
//! permit (a semaphore caps open connections; one over the cap is told so and closed rather than
//! left waiting in the backlog), then spawns the connection task. Whatever handshake a kind needs
//! (TLS, the WebSocket upgrade, both for `wss`) runs in that task, under the same deadline as
//! CONNECT (`limits.connect_timeout_ms`, counted from the accept), so a slow handshake never
//! holds up accepting. TLS configurations are built once, at bind. Accept errors (such as
//! running out of file descriptors) back off instead of spinning. `http` and `https` connections
//! are served HTTP (the console) in their task, after TLS for `https`.
//!
//! - `tls`: certificates, keys and client CAs into a rustls configuration.
//! - `ws`: the WebSocket upgrade: path, origins, subprotocol, limits.
//! - `http`: an HTTP connection served by the console's router.

pub(crate) mod http;
pub(crate) mod tls;
pub(crate) mod ws;

use std::fmt::Display;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use bytes::BytesMut;
use serde::Deserialize;
use stompbox_core::auth::Connector;
use stompbox_core::broker::{error_frame, ConnectionMeta};
use stompbox_core::frame::encode;
use stompbox_core::{ErrorCode, Version};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{timeout_at, Instant};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info, warn};

pub use self::tls::TlsSetupError;
use crate::config::ListenerConfig;
use crate::connection;
use crate::virtual_host::VirtualHosts;

/// What a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerKind {
    /// STOMP over plain TCP.
    Tcp,
    /// STOMP over TLS.
    Tls,
    /// STOMP over WebSocket.
    Ws,
    /// STOMP over WebSocket over TLS.
    Wss,
    /// The web console, management API and metrics, and STOMP over WebSocket at `/stomp`.
    Http,
    /// The same over TLS.
    Https,
}

impl ListenerKind {
    /// The configuration spelling, e.g. `"tcp"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ListenerKind::Tcp => "tcp",
            ListenerKind::Tls => "tls",
            ListenerKind::Ws => "ws",
            ListenerKind::Wss => "wss",
            ListenerKind::Http => "http",
            ListenerKind::Https => "https",
        }
    }

    /// Whether it runs a TLS handshake (and so needs a certificate).
    pub fn is_tls(self) -> bool {
        matches!(self, ListenerKind::Tls | ListenerKind::Wss | ListenerKind::Https)
    }

    /// Whether it serves the web console.
    pub fn is_http(self) -> bool {
        matches!(self, ListenerKind::Http | ListenerKind::Https)
    }

    /// Whether it speaks WebSocket.
    pub fn is_websocket(self) -> bool {
        matches!(self, ListenerKind::Ws | ListenerKind::Wss)
    }
}

/// What a connection goes through before STOMP, with what it needs, built once per listener.
#[derive(Debug, Clone)]
enum Handshake {
    None,
    Tls(Arc<ServerConfig>),
    Ws(Arc<ws::Endpoint>),
    Wss(Arc<ServerConfig>, Arc<ws::Endpoint>),
    Http(Arc<http::Site>),
    Https(Arc<ServerConfig>, Arc<http::Site>),
}

impl Handshake {
    fn new(config: &ListenerConfig) -> Result<Handshake, TlsSetupError> {
        let endpoint = || Arc::new(ws::Endpoint::new(config));
        Ok(match config.kind {
            ListenerKind::Tcp => Handshake::None,
            ListenerKind::Tls => Handshake::Tls(tls::server_config(config)?),
            ListenerKind::Ws => Handshake::Ws(endpoint()),
            ListenerKind::Wss => Handshake::Wss(tls::server_config(config)?, endpoint()),
            ListenerKind::Http => Handshake::Http(Arc::new(http::Site::new(config))),
            ListenerKind::Https => Handshake::Https(tls::server_config(config)?, Arc::new(http::Site::new(config))),
        })
    }
}

/// One bound listening socket and what it speaks.
#[derive(Debug)]
pub(crate) struct BoundListener {
    socket: TcpListener,
    handshake: Handshake,
    connector: Connector,
}

/// The bound listening sockets, before serving starts.
#[derive(Debug)]
pub struct Bound {
    pub(crate) listeners: Vec<BoundListener>,
}

impl Bound {
    /// The addresses actually bound, in configuration order (port 0 in the config becomes the
    /// port the OS chose).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.iter().filter_map(|l| l.socket.local_addr().ok()).collect()
    }
}

/// The listen backlog: room for a burst of connection attempts while the accept loop catches up
/// (tokio's default of 1,024 overflows under thousands of simultaneous connects).
const BACKLOG: u32 = 4096;

/// Binds every listener, building the TLS configuration of those that need one.
pub async fn bind(listeners: &[ListenerConfig]) -> io::Result<Bound> {
    let listeners = listeners
        .iter()
        .map(|config| {
            let handshake = Handshake::new(config).map_err(io::Error::other)?;
            let address = config.address;
            let socket =
                bind_one(address).map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {address}: {e}")))?;
            let connector = Connector { name: config.name().into(), kind: config.kind.as_str().into() };
            Ok(BoundListener { socket, handshake, connector })
        })
        .collect::<io::Result<_>>()?;
    Ok(Bound { listeners })
}

fn bind_one(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = if address.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(BACKLOG)
}

/// Accepts on one listener until `cancel`, spawning connection tasks on `tracker`; `console`
/// serves the connections of `http` and `https` listeners.
pub(crate) async fn accept_loop(
    listener: BoundListener,
    hosts: Arc<VirtualHosts>,
    console: Router,
    permits: Arc<Semaphore>,
    cancel: CancellationToken,
    tracker: TaskTracker,
) {
    if let Ok(address) = listener.socket.local_addr() {
        info!("listening on {address} ({} {})", listener.connector.kind, listener.connector.name);
    }
    let mut backoff = Duration::from_millis(10);
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => return,
            accepted = listener.socket.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                backoff = Duration::from_millis(10);
                accepted
            }
            Err(e) => {
                error!("accept failed: {e}; retrying in {backoff:?}");
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let deadline = Instant::now() + hosts.listening.connect;
        let _ = stream.set_nodelay(true);
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let meta = ConnectionMeta { peer: Some(peer), connector: listener.connector.clone() };
                // A token of its own: the connection registers for cancellation every time it
                // waits, and clones of one token would share one waiter list (one lock) among
                // every connection.
                let cancel = cancel.child_token();
                let accepted = Accepted { stream, meta, deadline, hosts: hosts.clone(), cancel, permit };
                accepted.spawn(&listener.handshake, &console, &tracker);
            }
            Err(_) => {
                warn!(%peer, listener = %listener.connector.name, "connection refused: max_connections reached");
                tracker.spawn(refuse(stream, listener.handshake.clone()));
            }
        }
    }
}

/// An accepted connection, before its handshake.
struct Accepted {
    stream: TcpStream,
    meta: ConnectionMeta,
    /// When the handshake, CONNECT included, must be over.
    deadline: Instant,
    hosts: Arc<VirtualHosts>,
    cancel: CancellationToken,
    /// Its place under `limits.max_connections`, held until the task ends.
    permit: OwnedSemaphorePermit,
}

impl Accepted {
    /// Spawns its task: the kind's handshake, then the STOMP connection (or, for `http` and
    /// `https`, the HTTP connection `console` serves).
    ///
    /// One task type per kind, so each task is as large as its own kind needs: a TCP
    /// connection's task does not carry room for a TLS handshake or a WebSocket.
    fn spawn(self, handshake: &Handshake, console: &Router, tracker: &TaskTracker) {
        match handshake.clone() {
            Handshake::None => tracker.spawn(self.serve_tcp()),
            Handshake::Tls(tls) => tracker.spawn(self.serve_tls(tls)),
            Handshake::Ws(endpoint) => tracker.spawn(self.serve_ws(endpoint)),
            Handshake::Wss(tls, endpoint) => tracker.spawn(self.serve_wss(tls, endpoint)),
            Handshake::Http(site) => tracker.spawn(self.serve_http(site, console.clone())),
            Handshake::Https(tls, site) => tracker.spawn(self.serve_https(tls, site, console.clone())),
        };
    }

    /// Plain TCP needs no handshake before CONNECT.
    async fn serve_tcp(self) {
        let Accepted { stream, meta, deadline, hosts, cancel, permit: _permit } = self;
        connection::serve(stream, meta, deadline, hosts, cancel).await;
    }

    async fn serve_tls(self, tls: Arc<ServerConfig>) {
        let Accepted { stream, meta, deadline, hosts, cancel, permit: _permit } = self;
        let step = Step { meta: &meta, deadline, cancel: &cancel };
        let Some(stream) = step.run("TLS handshake", Box::pin(TlsAcceptor::from(tls).accept(stream))).await else {
            return;
        };
        connection::serve(stream, meta, deadline, hosts, cancel).await;
    }

    async fn serve_ws(self, endpoint: Arc<ws::Endpoint>) {
        let Accepted { stream, meta, deadline, hosts, cancel, permit: _permit } = self;
        let step = Step { meta: &meta, deadline, cancel: &cancel };
        let upgrade = Box::pin(endpoint.accept(stream, &hosts.listening.limits));
        let Some(stream) = step.run("WebSocket upgrade", upgrade).await else { return };
        connection::serve(stream, meta, deadline, hosts, cancel).await;
    }

    async fn serve_wss(self, tls: Arc<ServerConfig>, endpoint: Arc<ws::Endpoint>) {
        let Accepted { stream, meta, deadline, hosts, cancel, permit: _permit } = self;
        let step = Step { meta: &meta, deadline, cancel: &cancel };
        let Some(stream) = step.run("TLS handshake", Box::pin(TlsAcceptor::from(tls).accept(stream))).await else {
            return;
        };
        let upgrade = Box::pin(endpoint.accept(stream, &hosts.listening.limits));
        let Some(stream) = step.run("WebSocket upgrade", upgrade).await else { return };
        connection::serve(stream, meta, deadline, hosts, cancel).await;
    }

    async fn serve_http(self, site: Arc<http::Site>, console: Router) {
        let Accepted { stream, meta, hosts, cancel, permit: _permit, .. } = self;
        let Some(address) = meta.peer else { return };
        let peer = http::Peer { address, site };
        http::serve(stream, peer, console, hosts.listening.connect, cancel).await;
    }

    async fn serve_https(self, tls: Arc<ServerConfig>, site: Arc<http::Site>, console: Router) {
        let Accepted { stream, meta, deadline, hosts, cancel, permit: _permit } = self;
        let step = Step { meta: &meta, deadline, cancel: &cancel };
        let Some(stream) = step.run("TLS handshake", Box::pin(TlsAcceptor::from(tls).accept(stream))).await else {
            return;
        };
        let Some(address) = meta.peer else { return };
        let peer = http::Peer { address, site };
        http::serve(stream, peer, console, hosts.listening.connect, cancel).await;
    }
}

/// Runs handshake steps by the connection's deadline, unless the broker shuts down first.
struct Step<'a> {
    meta: &'a ConnectionMeta,
    deadline: Instant,
    cancel: &'a CancellationToken,
}

impl Step<'_> {
    /// The step's result; `None` (logged) when it failed, timed out or shutdown came first.
    ///
    /// The step comes boxed: its state (a TLS session mid-handshake, an HTTP request being
    /// read) lives only as long as the handshake, rather than adding to the size of the
    /// connection's task for as long as the connection lasts.
    async fn run<T, E: Display>(&self, what: &str, step: Pin<Box<impl Future<Output = Result<T, E>>>>) -> Option<T> {
        let failure = tokio::select! {
            () = self.cancel.cancelled() => "the broker is shutting down".to_owned(),
            done = timeout_at(self.deadline, step) => match done {
                Ok(Ok(value)) => return Some(value),
                Ok(Err(error)) => error.to_string(),
                Err(_) => "limits.connect_timeout_ms passed".to_owned(),
            },
        };
        let peer = self.meta.peer.map_or_else(|| "-".to_owned(), |peer| peer.to_string());
        let connector = &self.meta.connector;
        debug!(%peer, listener = %connector.name, kind = %connector.kind, "{what} failed: {failure}");
        None
    }
}

/// Tells a connection over the cap why it is closed, where its kind allows without a
/// handshake: an ERROR frame on TCP, an HTTP 503 on WebSocket and HTTP; TLS connections are just
/// closed.
async fn refuse(mut stream: TcpStream, handshake: Handshake) {
    const WHY: &str = "too many connections (limits.max_connections reached)";
    let out = match handshake {
        Handshake::None => {
            let mut out = BytesMut::new();
            encode(&error_frame(ErrorCode::LimitExceeded, WHY, None), Version::V1_0, &mut out);
            out
        }
        Handshake::Ws(_) | Handshake::Http(_) => BytesMut::from(
            format!(
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{WHY}\n",
                WHY.len() + 1
            )
            .as_bytes(),
        ),
        Handshake::Tls(_) | Handshake::Wss(..) | Handshake::Https(..) => return,
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&out)).await;
}

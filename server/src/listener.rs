//! Listeners: bind the configured addresses, accept, and spawn one connection task each.
//!
//! Every listener has a [`ListenerKind`]. The accept loop only accepts: it takes a connection
//! permit (a semaphore caps open connections; one over the cap gets an ERROR frame and is
//! closed rather than left waiting in the backlog), then spawns the connection task. Whatever
//! handshake a kind needs (TLS, the WebSocket upgrade) runs in that task, under the same
//! deadline as CONNECT (`limits.connect_timeout_ms`, counted from the accept), so a slow
//! handshake never holds up accepting. Accept errors (such as running out of file descriptors)
//! back off instead of spinning.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use serde::Deserialize;
use stompbox_core::auth::Connector;
use stompbox_core::broker::{error_frame, ConnectionMeta};
use stompbox_core::frame::encode;
use stompbox_core::{ErrorCode, Version};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::config::ListenerConfig;
use crate::connection::{self, Context};

/// What a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerKind {
    /// STOMP over plain TCP.
    Tcp,
}

impl ListenerKind {
    /// The configuration spelling, e.g. `"tcp"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ListenerKind::Tcp => "tcp",
        }
    }
}

/// One bound listening socket and what it speaks.
#[derive(Debug)]
pub(crate) struct BoundListener {
    socket: TcpListener,
    kind: ListenerKind,
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

/// Binds every listener.
pub async fn bind(listeners: &[ListenerConfig]) -> io::Result<Bound> {
    let listeners = listeners
        .iter()
        .map(|config| {
            let address = config.address;
            let socket =
                bind_one(address).map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {address}: {e}")))?;
            let kind = config.kind.as_str();
            let connector = Connector { name: config.name.as_deref().unwrap_or(kind).into(), kind: kind.into() };
            Ok(BoundListener { socket, kind: config.kind, connector })
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

/// Accepts on one listener until `cancel`, spawning connection tasks on `tracker`.
pub(crate) async fn accept_loop(
    listener: BoundListener,
    context: Arc<Context>,
    permits: Arc<Semaphore>,
    cancel: CancellationToken,
    tracker: TaskTracker,
) {
    if let Ok(address) = listener.socket.local_addr() {
        info!("listening on {address} ({})", listener.connector.name);
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
        let deadline = Instant::now() + context.timeouts.connect;
        let _ = stream.set_nodelay(true);
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let context = context.clone();
                let cancel = cancel.clone();
                let meta = ConnectionMeta { peer: Some(peer), connector: listener.connector.clone() };
                let kind = listener.kind;
                tracker.spawn(async move {
                    handshake_and_serve(kind, stream, meta, deadline, context, cancel).await;
                    drop(permit);
                });
            }
            Err(_) => {
                warn!(%peer, "connection refused: max_connections reached");
                tracker.spawn(refuse(stream));
            }
        }
    }
}

/// In the connection task: the kind's handshake, then the STOMP connection, both by `deadline`.
async fn handshake_and_serve(
    kind: ListenerKind,
    stream: TcpStream,
    meta: ConnectionMeta,
    deadline: Instant,
    context: Arc<Context>,
    cancel: CancellationToken,
) {
    match kind {
        // Plain TCP needs no handshake before CONNECT.
        ListenerKind::Tcp => connection::serve(stream, meta, deadline, context, cancel).await,
    }
}

/// Tells a connection over the cap why it is closed.
async fn refuse(mut stream: TcpStream) {
    let mut out = BytesMut::new();
    let error = error_frame(ErrorCode::LimitExceeded, "too many connections (limits.max_connections reached)", None);
    encode(&error, Version::V1_0, &mut out);
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&out)).await;
}

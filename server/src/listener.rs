//! Listeners: bind the configured addresses, accept, and spawn one connection task each.
//!
//! A semaphore caps open connections; a connection over the cap gets an ERROR frame and is
//! closed rather than left waiting in the backlog. Accept errors (such as running out of file
//! descriptors) back off instead of spinning. Nothing slow runs in the accept loop itself.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use stompbox_core::broker::error_frame;
use stompbox_core::frame::encode;
use stompbox_core::{ErrorCode, Version};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::connection::{self, Context};

/// The bound listening sockets, before serving starts.
#[derive(Debug)]
pub struct Bound {
    pub(crate) tcp: Vec<TcpListener>,
}

impl Bound {
    /// The addresses actually bound (port 0 in the config becomes the port the OS chose).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.tcp.iter().filter_map(|l| l.local_addr().ok()).collect()
    }
}

/// The listen backlog: room for a burst of connection attempts while the accept loop catches up
/// (tokio's default of 1,024 overflows under thousands of simultaneous connects).
const BACKLOG: u32 = 4096;

/// Binds every configured listen address.
pub async fn bind(addresses: &[SocketAddr]) -> io::Result<Bound> {
    let tcp = addresses
        .iter()
        .map(|address| {
            bind_one(*address).map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {address}: {e}")))
        })
        .collect::<io::Result<_>>()?;
    Ok(Bound { tcp })
}

fn bind_one(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = if address.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(BACKLOG)
}

/// Accepts on one listener until `cancel`, spawning connection tasks on `tracker`.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    context: Arc<Context>,
    permits: Arc<Semaphore>,
    cancel: CancellationToken,
    tracker: TaskTracker,
) {
    if let Ok(address) = listener.local_addr() {
        info!("listening on {address}");
    }
    let mut backoff = Duration::from_millis(10);
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => return,
            accepted = listener.accept() => accepted,
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
        let _ = stream.set_nodelay(true);
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let context = context.clone();
                let cancel = cancel.clone();
                tracker.spawn(async move {
                    connection::serve(stream, peer, context, cancel).await;
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

/// Tells a connection over the cap why it is closed.
async fn refuse(mut stream: TcpStream) {
    let mut out = BytesMut::new();
    let error = error_frame(ErrorCode::LimitExceeded, "too many connections (limits.max_connections reached)", None);
    encode(&error, Version::V1_0, &mut out);
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&out)).await;
}

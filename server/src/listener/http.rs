//! `http` and `https` listeners: each accepted connection (after its TLS handshake, for `https`)
//! is served by hyper with the console's axum `Router`, upgrades allowed, so `/stomp` can turn a
//! request into a STOMP session over WebSocket (`ws` on `http`, `wss` on `https`).
//!
//! Every request carries a [`Peer`] in its extensions: the client's address and the [`Site`] it
//! came in on, which the console needs for loopback-only guest mode, same-origin checks, secure
//! cookies and the connector its logins are named by. Request headers must arrive within
//! `limits.connect_timeout_ms`, on a kept-alive connection too, so an idle client does not keep
//! its connection permit for long.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use stompbox_core::auth::Connector;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tracing::debug;

use crate::config::ListenerConfig;

/// How long a connection still being answered may finish once the broker shuts down.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// What a request knows of the listener it came in on.
#[derive(Debug)]
pub(crate) struct Site {
    /// Console logins through this listener: its name, kind `http` or `https`.
    pub(crate) connector: Connector,
    /// STOMP sessions upgraded at `/stomp`: the listener's name, kind `ws` or `wss`.
    pub(crate) stomp_connector: Connector,
    /// Whether it is `https`: its own origin's scheme, and cookies marked `Secure`.
    pub(crate) tls: bool,
    /// Origins trusted besides the listener's own (`allowed_origins`).
    pub(crate) allowed_origins: Vec<String>,
}

impl Site {
    /// The site an `http` or `https` listener's options describe.
    pub(crate) fn new(config: &ListenerConfig) -> Site {
        let tls = config.kind.is_tls();
        let name: Arc<str> = config.name().into();
        Site {
            connector: Connector { name: name.clone(), kind: config.kind.as_str().into() },
            stomp_connector: Connector { name, kind: if tls { "wss" } else { "ws" }.into() },
            tls,
            allowed_origins: config.allowed_origins.clone().unwrap_or_default(),
        }
    }

    /// `http` or `https`.
    pub(crate) fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }
}

/// The client of a request and the listener it came in on (a request extension).
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    /// The client's address.
    pub(crate) address: SocketAddr,
    /// The listener.
    pub(crate) site: Arc<Site>,
}

/// Serves one HTTP/1.1 connection with `router` until the client leaves, its headers are late,
/// or the broker shuts down (then requests under way get [`SHUTDOWN_GRACE`] to finish).
pub(crate) async fn serve<S>(stream: S, peer: Peer, router: Router, header_timeout: Duration, cancel: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let address = peer.address;
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(peer.clone());
        let answered = router.clone().oneshot(request);
        async move { Ok::<_, Infallible>(answered.await.unwrap_or_else(|never| match never {})) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    let served = tokio::select! {
        served = connection.as_mut() => served,
        () = cancel.cancelled() => {
            connection.as_mut().graceful_shutdown();
            tokio::time::timeout(SHUTDOWN_GRACE, connection).await.unwrap_or(Ok(()))
        }
    };
    if let Err(error) = served {
        debug!(peer = %address, "http connection ended: {error}");
    }
}

//! `/stomp`: STOMP over WebSocket on `http` and `https` listeners, so a page the console serves
//! (the chat) reaches the broker at its own origin. The upgrade is answered here, through
//! hyper's upgrade mechanism; the upgraded connection is then served as any `ws` or `wss`
//! listener's is: tokio-tungstenite with the same limits and subprotocols, the same connection
//! task, the same CONNECT deadline (counted from the upgrade). Each session takes a connection
//! permit of its own (the HTTP connection's is given back once hyper hands the socket over) and
//! ends with the others at shutdown.
//!
//! Refusals: a page of another origin (unless `allowed_origins` lists it) gets 403, a request
//! that is not a WebSocket upgrade 400 (426 for another WebSocket version), a client offering
//! only subprotocols other than STOMP's 400, and a broker at `limits.max_connections` 503.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{
    CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use stompbox_core::broker::ConnectionMeta;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{timeout_at, Instant};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

use super::origin::cross_site;
use super::Console;
use crate::connection;
use crate::listener::http::Peer;
use crate::listener::ws;
use crate::transport::websocket::WebSocket;
use crate::virtual_host::VirtualHosts;

/// Where `/stomp` sessions take their permit and run: the listeners' own.
#[derive(Debug)]
pub(crate) struct Spawner {
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) cancel: CancellationToken,
    pub(crate) tracker: TaskTracker,
}

/// `GET /stomp`. See the module docs.
pub(crate) async fn upgrade(State(console): State<Console>, mut request: Request) -> Response {
    let headers = request.headers();
    let Some(peer) = request.extensions().get::<Peer>().cloned() else {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "request without its listener");
    };
    if let Some(why) = cross_site(headers, &peer.site) {
        return refuse(StatusCode::FORBIDDEN, &why);
    }
    if !is_websocket_upgrade(headers) {
        return refuse(StatusCode::BAD_REQUEST, "expected a WebSocket upgrade (STOMP over WebSocket)");
    }
    if headers.get(SEC_WEBSOCKET_VERSION).is_none_or(|version| version != "13") {
        let mut response = refuse(StatusCode::UPGRADE_REQUIRED, "WebSocket version 13 only");
        response.headers_mut().insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        return response;
    }
    let Some(key) = headers.get(SEC_WEBSOCKET_KEY).map(|key| derive_accept_key(key.as_bytes())) else {
        return refuse(StatusCode::BAD_REQUEST, "no Sec-WebSocket-Key");
    };
    let Ok(protocol) = ws::choose_subprotocol(headers) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "no supported subprotocol: offer v12.stomp, v11.stomp, v10.stomp or stomp",
        );
    };
    let Some(upgraded) = request.extensions_mut().remove::<OnUpgrade>() else {
        return refuse(StatusCode::BAD_REQUEST, "this connection cannot be upgraded");
    };
    let stomp = &console.shared.stomp;
    let Ok(permit) = stomp.permits.clone().try_acquire_owned() else {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "too many connections (limits.max_connections reached)");
    };
    let session = Upgraded {
        upgraded,
        meta: ConnectionMeta { peer: Some(peer.address), connector: peer.site.stomp_connector.clone() },
        hosts: console.shared.hosts.clone(),
        cancel: stomp.cancel.clone(),
        permit,
    };
    stomp.tracker.spawn(session.serve());
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = response.headers_mut();
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(SEC_WEBSOCKET_ACCEPT, HeaderValue::from_str(&key).expect("base64 is a valid header value"));
    if let Some(protocol) = protocol {
        headers.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(protocol));
    }
    response
}

/// A STOMP session whose upgrade was answered, waiting for hyper to hand over the socket.
struct Upgraded {
    upgraded: OnUpgrade,
    meta: ConnectionMeta,
    hosts: Arc<VirtualHosts>,
    cancel: CancellationToken,
    /// Its place under `limits.max_connections`, held until the session ends.
    permit: OwnedSemaphorePermit,
}

impl Upgraded {
    async fn serve(self) {
        let Upgraded { upgraded, meta, hosts, cancel, permit: _permit } = self;
        let listening = &hosts.listening;
        let deadline = Instant::now() + listening.connect;
        let upgraded = tokio::select! {
            () = cancel.cancelled() => return,
            upgraded = timeout_at(deadline, upgraded) => match upgraded {
                Ok(Ok(upgraded)) => upgraded,
                Ok(Err(error)) => return debug!("WebSocket upgrade failed: {error}"),
                Err(_) => return debug!("WebSocket upgrade failed: limits.connect_timeout_ms passed"),
            },
        };
        let config = ws::config(&listening.limits);
        let socket = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
        connection::serve(WebSocket::new(socket), meta, deadline, hosts, cancel).await;
    }
}

/// `Upgrade: websocket` and a `Connection` header naming `upgrade`.
fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    let upgrade = headers.get(UPGRADE).is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"websocket"));
    let connection = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.split(',').any(|token| token.trim().eq_ignore_ascii_case("upgrade")));
    upgrade && connection
}

/// A plain-text refusal, as the `ws` listeners answer.
fn refuse(status: StatusCode, text: &str) -> Response {
    (status, format!("{text}\n")).into_response()
}

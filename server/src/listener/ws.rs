//! The WebSocket upgrade of `ws` and `wss` listeners: which requests are upgraded (the `path`,
//! the `allowed_origins`), which STOMP subprotocol is agreed, and the WebSocket limits.
//!
//! Built on tokio-tungstenite rather than axum: a STOMP listener needs only the upgrade, not an
//! HTTP router, and the handshake must run in the connection's own task under its deadline,
//! which `accept_hdr_async_with_config` does directly. The version is the one axum 0.8's `ws`
//! feature uses, so the console's HTTP listeners (on axum) will share this WebSocket stack
//! rather than add a second one.
//!
//! A refused upgrade gets a plain HTTP error status with a short text: 404 for another path,
//! 403 for an origin not allowed, 400 when the client offers only subprotocols we do not speak.

use stompbox_core::frame::FrameLimits;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::header::{
    HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, ORIGIN, SEC_WEBSOCKET_PROTOCOL,
};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Error;
use tracing::debug;

use crate::config::ListenerConfig;
use crate::transport::websocket::WebSocket;

/// The STOMP subprotocols, in the server's order of preference.
pub const SUBPROTOCOLS: [&str; 4] = ["v12.stomp", "v11.stomp", "v10.stomp", "stomp"];

/// What tungstenite reads from the socket at once, and the messages it collects before writing
/// to it: small, so an idle connection stays small (tungstenite's defaults are 128 KiB each).
const READ_BUFFER_BYTES: usize = 4 * 1024;
const WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// Which upgrade requests a listener accepts.
#[derive(Debug)]
pub(crate) struct Endpoint {
    path: Option<String>,
    allowed_origins: Option<Vec<String>>,
}

impl Endpoint {
    /// The endpoint a `ws` or `wss` listener's options describe.
    pub(crate) fn new(config: &ListenerConfig) -> Endpoint {
        Endpoint { path: config.path.clone(), allowed_origins: config.allowed_origins.clone() }
    }

    /// Completes the upgrade on `stream`, or answers it with an HTTP error.
    #[allow(clippy::result_large_err, reason = "the callback's type is tungstenite's")]
    pub(crate) async fn accept<S>(&self, stream: S, limits: &FrameLimits) -> Result<WebSocket<S>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let callback = |request: &Request, response: Response| self.answer(request, response);
        let stream = tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config(limits))).await?;
        Ok(WebSocket::new(stream))
    }

    /// Checks the request's path and origin and picks the subprotocol.
    #[allow(clippy::result_large_err, reason = "tungstenite's callback type")]
    fn answer(&self, request: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
        if self.path.as_deref().is_some_and(|path| path != request.uri().path()) {
            return Err(refusal(StatusCode::NOT_FOUND, "no STOMP endpoint at this path"));
        }
        if let (Some(allowed), Some(origin)) = (&self.allowed_origins, request.headers().get(ORIGIN)) {
            if !allowed.iter().any(|allowed| allowed.as_bytes() == origin.as_bytes()) {
                return Err(refusal(StatusCode::FORBIDDEN, "origin not allowed"));
            }
        }
        match choose_subprotocol(request) {
            Ok(Some(protocol)) => {
                debug!(protocol, "WebSocket subprotocol");
                response.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(protocol));
            }
            Ok(None) => {}
            Err(()) => {
                return Err(refusal(
                    StatusCode::BAD_REQUEST,
                    "no supported subprotocol: offer v12.stomp, v11.stomp, v10.stomp or stomp",
                ))
            }
        }
        Ok(response)
    }
}

/// The first of [`SUBPROTOCOLS`] the client offers; `Ok(None)` if it offers none at all,
/// `Err` if it offers only others.
fn choose_subprotocol(request: &Request) -> Result<Option<&'static str>, ()> {
    let offered: Vec<&str> = request
        .headers()
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|protocol| !protocol.is_empty())
        .collect();
    if offered.is_empty() {
        return Ok(None);
    }
    SUBPROTOCOLS
        .into_iter()
        .find(|ours| offered.iter().any(|offer| offer.eq_ignore_ascii_case(ours)))
        .map(Some)
        .ok_or(())
}

/// A plain-text HTTP error response.
fn refusal(status: StatusCode, text: &'static str) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(format!("{text}\n")));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(text.len() + 1));
    response
}

/// WebSocket limits from the frame limits: a message (or one WebSocket frame of it) may be as
/// large as the largest STOMP frame; small buffers otherwise.
fn config(limits: &FrameLimits) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_message_size(Some(limits.max_frame_bytes))
        .max_frame_size(Some(limits.max_frame_bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(protocols: &[&str]) -> Request {
        let mut builder = Request::builder().uri("/stomp");
        for protocol in protocols {
            builder = builder.header(SEC_WEBSOCKET_PROTOCOL, *protocol);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn the_servers_preference_wins_among_the_offered() {
        assert_eq!(choose_subprotocol(&request(&["stomp, v11.stomp"])), Ok(Some("v11.stomp")));
        assert_eq!(choose_subprotocol(&request(&["v10.stomp", "v12.stomp"])), Ok(Some("v12.stomp")));
        assert_eq!(choose_subprotocol(&request(&["mqtt, stomp"])), Ok(Some("stomp")));
        assert_eq!(choose_subprotocol(&request(&[])), Ok(None));
        assert_eq!(choose_subprotocol(&request(&["mqtt"])), Err(()));
    }
}

//! What a test [`Client`](crate::Client) talks over: a byte stream (TCP or TLS), or a WebSocket
//! over either, whose messages it keeps for tests of the framing.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Response;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

use crate::TIMEOUT;

/// A byte stream: TCP, or TLS over TCP.
pub trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> ByteStream for T {}

/// How a test client reaches a `ws` or `wss` listener.
#[derive(Debug, Clone, Default)]
pub struct Upgrade {
    /// The request path (default `/`).
    pub path: String,
    /// Subprotocols offered, in the client's order (none: no `Sec-WebSocket-Protocol` header).
    pub protocols: Vec<String>,
    /// The `Origin` header a browser would send.
    pub origin: Option<String>,
    /// TLS first (`wss`), trusting what this configuration trusts.
    pub tls: Option<Arc<ClientConfig>>,
}

impl Upgrade {
    /// An upgrade of `/` offering these subprotocols, without TLS.
    pub fn offering(protocols: &[&str]) -> Upgrade {
        Upgrade { protocols: protocols.iter().map(|p| (*p).to_owned()).collect(), ..Upgrade::default() }
    }
}

/// Connects to `addr` over TCP.
pub async fn tcp(addr: SocketAddr) -> TcpStream {
    let stream =
        tokio::time::timeout(TIMEOUT, TcpStream::connect(addr)).await.expect("connect timed out").expect("connect");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    stream
}

/// Connects to `addr` and completes a TLS handshake for `localhost`.
pub async fn tls(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let name = ServerName::try_from("localhost").expect("a server name");
    tokio::time::timeout(TIMEOUT, TlsConnector::from(config).connect(name, tcp(addr).await))
        .await
        .expect("TLS handshake timed out")
}

/// Connects to `addr` and upgrades to WebSocket as `upgrade` says; the broker's answer too.
pub async fn websocket(
    addr: SocketAddr,
    upgrade: &Upgrade,
) -> Result<(WebSocketStream<Box<dyn ByteStream>>, Response), tungstenite::Error> {
    let stream: Box<dyn ByteStream> = match &upgrade.tls {
        Some(config) => Box::new(tls(addr, config.clone()).await?),
        None => Box::new(tcp(addr).await),
    };
    let scheme = if upgrade.tls.is_some() { "wss" } else { "ws" };
    let path = if upgrade.path.is_empty() { "/" } else { upgrade.path.as_str() };
    let mut request = format!("{scheme}://localhost:{}{path}", addr.port()).into_client_request()?;
    let headers = request.headers_mut();
    if !upgrade.protocols.is_empty() {
        let offered = upgrade.protocols.join(", ");
        headers.insert("sec-websocket-protocol", HeaderValue::from_str(&offered).expect("a header value"));
    }
    if let Some(origin) = &upgrade.origin {
        headers.insert("origin", HeaderValue::from_str(origin).expect("a header value"));
    }
    tokio::time::timeout(TIMEOUT, tokio_tungstenite::client_async(request, stream))
        .await
        .expect("WebSocket upgrade timed out")
}

/// The client's transport.
pub(crate) enum Wire {
    Bytes(Box<dyn ByteStream>),
    WebSocket {
        stream: Box<WebSocketStream<Box<dyn ByteStream>>>,
        /// Every text and binary message received.
        received: Vec<Message>,
    },
}

impl std::fmt::Debug for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Wire::Bytes(_) => "Wire::Bytes",
            Wire::WebSocket { .. } => "Wire::WebSocket",
        })
    }
}

impl Wire {
    /// Writes `bytes`; over WebSocket as one message (text when it is UTF-8, else binary).
    pub(crate) async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Wire::Bytes(stream) => stream.write_all(bytes).await,
            Wire::WebSocket { .. } => {
                let message = match std::str::from_utf8(bytes) {
                    Ok(text) => Message::text(text),
                    Err(_) => Message::binary(bytes.to_vec()),
                };
                self.send(message).await
            }
        }
    }

    /// Sends one WebSocket message as given.
    pub(crate) async fn send(&mut self, message: Message) -> io::Result<()> {
        match self {
            Wire::Bytes(_) => panic!("not a WebSocket"),
            Wire::WebSocket { stream, .. } => stream.send(message).await.map_err(io::Error::other),
        }
    }

    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        match self {
            Wire::Bytes(stream) => stream.flush().await,
            Wire::WebSocket { stream, .. } => stream.flush().await.map_err(io::Error::other),
        }
    }

    /// Half-closes a byte stream; closes a WebSocket (a close frame).
    pub(crate) async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Wire::Bytes(stream) => stream.shutdown().await,
            Wire::WebSocket { stream, .. } => WebSocketStream::close(stream, None).await.map_err(io::Error::other),
        }
    }

    /// Reads what comes next into `into`; `Ok(0)` at the end of the stream. Over WebSocket, one
    /// message's payload (skipping empty and control messages); a broken connection counts as
    /// its end.
    pub(crate) async fn read(&mut self, into: &mut Vec<u8>) -> io::Result<usize> {
        match self {
            Wire::Bytes(stream) => {
                let mut chunk = [0u8; 16 * 1024];
                let n = stream.read(&mut chunk).await?;
                into.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
            Wire::WebSocket { stream, received } => loop {
                let message = match stream.next().await {
                    None | Some(Err(_)) => return Ok(0),
                    Some(Ok(message)) => message,
                };
                let payload: &[u8] = match &message {
                    Message::Text(text) => text.as_bytes(),
                    Message::Binary(data) => data,
                    _ => continue,
                };
                into.extend_from_slice(payload);
                let n = payload.len();
                received.push(message);
                if n > 0 {
                    return Ok(n);
                }
            },
        }
    }

    /// The text and binary messages received so far (none for a byte stream).
    pub(crate) fn messages(&self) -> &[Message] {
        match self {
            Wire::Bytes(_) => &[],
            Wire::WebSocket { received, .. } => received,
        }
    }
}

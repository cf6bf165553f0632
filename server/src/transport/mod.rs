//! The transport seam: anything that reads and writes bytes asynchronously can carry STOMP. TCP
//! and TLS streams are byte streams already; a WebSocket is made one by [`websocket`].
//!
//! A connection writes whole frames, many per round, then flushes once: a no-op for TCP, and
//! what sends TLS records and WebSocket messages buffered by the round's writes.

pub(crate) mod websocket;

use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream a connection can be served over.
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for T {}

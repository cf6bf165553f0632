//! The transport seam: anything that reads and writes bytes asynchronously can carry STOMP.
//! TCP uses it now; TLS and WebSocket streams plug in here without touching the connection task.

use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream a connection can be served over.
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for T {}

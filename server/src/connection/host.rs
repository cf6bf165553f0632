//! Which virtual host a connection is for: the `host` header of its first frame (CONNECT or
//! STOMP), read before the session opens, since the session belongs to one host's broker.
//!
//! The frame is decoded from a copy of the read buffer, so the task decodes and handles it
//! again, as usual, once it runs on the host's broker: nothing about the handshake changes.
//! Anything other than a complete first frame (the stream ends or fails, a malformed frame,
//! the connect deadline, shutdown) picks no name, so the connection goes to the first host,
//! whose task then meets the same end and reports it as it always did.

use stompbox_core::frame::Parsed;
use tokio::time::{timeout_at, Instant};
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;

use super::stream::Connection;
use crate::transport::Transport;

/// Reads until the first frame is complete and returns its `host` header, if it has one; the
/// bytes read stay in `connection`'s read buffer.
pub(super) async fn peek<T: Transport>(
    connection: &mut Connection<T>,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Option<String> {
    loop {
        let mut codec = connection.codec.clone();
        let mut copy = connection.read_buf.clone();
        loop {
            match codec.decode(&mut copy) {
                Ok(Some(Parsed::Frame(frame))) => return frame.header("host").map(str::to_owned),
                Ok(Some(Parsed::Heartbeat)) => {}
                Ok(None) => break,
                Err(_) => return None,
            }
        }
        let read = tokio::select! {
            () = cancel.cancelled() => return None,
            read = timeout_at(deadline, connection.read_more()) => read,
        };
        if !matches!(read, Ok(Ok(read)) if read > 0) {
            return None;
        }
    }
}

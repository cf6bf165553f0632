//! Why a connection ended: a typed [`CloseReason`] with its details, and the [`CloseKind`] it is
//! counted under (one counter per kind in [`Stats`](super::Stats), shown by the snapshot).

use std::fmt;
use std::io;
use std::time::Duration;

use super::error::ProtocolError;
use super::outbox::Closed;
use crate::error_code::ErrorCode;

/// Why a connection ended; logged once per connection and kept with the closed connection.
#[derive(Debug)]
pub enum CloseReason {
    /// The peer closed the socket.
    PeerClosed,
    /// The client sent DISCONNECT.
    Disconnect,
    /// The client broke the protocol, was refused, or hit a limit; it was sent an ERROR.
    Protocol(ProtocolError),
    /// The connection's outbox overflowed: it could not keep up with its deliveries.
    SlowConsumer {
        /// The outbox limit, in bytes.
        limit: usize,
    },
    /// A client that promised heart-beats was silent this long.
    HeartbeatTimeout(Duration),
    /// No CONNECT (or no finished handshake) within this time.
    ConnectTimeout(Duration),
    /// The peer did not read for this long.
    WriteTimeout(Duration),
    /// A frame that began to arrive was not complete within this.
    FrameTimeout(Duration),
    /// A producer was held back by a full queue for this long.
    QueueBlockTimeout {
        /// The full queue.
        queue: String,
        /// How long the producer waited.
        after: Duration,
    },
    /// The broker is shutting down.
    Shutdown,
    /// Reading or writing the socket failed.
    Io(io::Error),
    /// Its address already had this many connections open (`limits.max_connections_per_address`).
    TooManyFromAddress {
        /// The limit in force.
        limit: usize,
    },
}

impl From<Closed> for CloseReason {
    fn from(closed: Closed) -> CloseReason {
        match closed {
            Closed::SlowConsumer { limit } => CloseReason::SlowConsumer { limit },
            Closed::AccessRevoked(refused) => CloseReason::Protocol(refused),
        }
    }
}

/// The counted kind of a [`CloseReason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseKind {
    /// See [`CloseReason::PeerClosed`].
    PeerClosed,
    /// See [`CloseReason::Disconnect`].
    Disconnect,
    /// A refused login.
    AuthenticationFailed,
    /// An operation the access rules refuse.
    AccessDenied,
    /// A configured limit.
    LimitExceeded,
    /// Any other protocol error.
    ProtocolError,
    /// See [`CloseReason::SlowConsumer`].
    SlowConsumer,
    /// See [`CloseReason::HeartbeatTimeout`].
    HeartbeatTimeout,
    /// See [`CloseReason::ConnectTimeout`].
    ConnectTimeout,
    /// See [`CloseReason::WriteTimeout`].
    WriteTimeout,
    /// See [`CloseReason::FrameTimeout`].
    FrameTimeout,
    /// See [`CloseReason::QueueBlockTimeout`].
    QueueBlockTimeout,
    /// See [`CloseReason::Shutdown`].
    Shutdown,
    /// See [`CloseReason::Io`].
    Io,
}

impl CloseKind {
    /// Every kind, in counter order.
    pub const ALL: [CloseKind; 14] = [
        CloseKind::PeerClosed,
        CloseKind::Disconnect,
        CloseKind::AuthenticationFailed,
        CloseKind::AccessDenied,
        CloseKind::LimitExceeded,
        CloseKind::ProtocolError,
        CloseKind::SlowConsumer,
        CloseKind::HeartbeatTimeout,
        CloseKind::ConnectTimeout,
        CloseKind::WriteTimeout,
        CloseKind::FrameTimeout,
        CloseKind::QueueBlockTimeout,
        CloseKind::Shutdown,
        CloseKind::Io,
    ];

    /// The name it is reported under, e.g. `"slow-consumer"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseKind::PeerClosed => "peer-closed",
            CloseKind::Disconnect => "disconnect",
            CloseKind::AuthenticationFailed => "authentication-failed",
            CloseKind::AccessDenied => "access-denied",
            CloseKind::LimitExceeded => "limit-exceeded",
            CloseKind::ProtocolError => "protocol-error",
            CloseKind::SlowConsumer => "slow-consumer",
            CloseKind::HeartbeatTimeout => "heartbeat-timeout",
            CloseKind::ConnectTimeout => "connect-timeout",
            CloseKind::WriteTimeout => "write-timeout",
            CloseKind::FrameTimeout => "frame-timeout",
            CloseKind::QueueBlockTimeout => "queue-block-timeout",
            CloseKind::Shutdown => "shutdown",
            CloseKind::Io => "io-error",
        }
    }

    /// Its index in [`CloseKind::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl CloseReason {
    /// The kind it is counted under.
    pub fn kind(&self) -> CloseKind {
        match self {
            CloseReason::PeerClosed => CloseKind::PeerClosed,
            CloseReason::Disconnect => CloseKind::Disconnect,
            CloseReason::Protocol(error) => match error.code() {
                ErrorCode::AuthenticationFailed => CloseKind::AuthenticationFailed,
                ErrorCode::AccessDenied => CloseKind::AccessDenied,
                ErrorCode::LimitExceeded => CloseKind::LimitExceeded,
                _ => CloseKind::ProtocolError,
            },
            CloseReason::SlowConsumer { .. } => CloseKind::SlowConsumer,
            CloseReason::HeartbeatTimeout(_) => CloseKind::HeartbeatTimeout,
            CloseReason::ConnectTimeout(_) => CloseKind::ConnectTimeout,
            CloseReason::WriteTimeout(_) => CloseKind::WriteTimeout,
            CloseReason::FrameTimeout(_) => CloseKind::FrameTimeout,
            CloseReason::QueueBlockTimeout { .. } => CloseKind::QueueBlockTimeout,
            CloseReason::Shutdown => CloseKind::Shutdown,
            CloseReason::Io(_) => CloseKind::Io,
            CloseReason::TooManyFromAddress { .. } => CloseKind::LimitExceeded,
        }
    }

    /// The `code` of the ERROR frame that tells the client, for the reasons that send one.
    pub fn code(&self) -> ErrorCode {
        match self {
            CloseReason::Protocol(error) => error.code(),
            CloseReason::SlowConsumer { .. } => ErrorCode::SlowConsumer,
            CloseReason::HeartbeatTimeout(_)
            | CloseReason::ConnectTimeout(_)
            | CloseReason::WriteTimeout(_)
            | CloseReason::FrameTimeout(_) => ErrorCode::Timeout,
            CloseReason::QueueBlockTimeout { .. } => ErrorCode::LimitExceeded,
            CloseReason::Shutdown => ErrorCode::Closed,
            CloseReason::TooManyFromAddress { .. } => ErrorCode::LimitExceeded,
            CloseReason::PeerClosed | CloseReason::Disconnect | CloseReason::Io(_) => ErrorCode::ProtocolError,
        }
    }

    /// Whether the socket lingers after the ERROR, so the client can read it before the close.
    pub fn lingers(&self) -> bool {
        matches!(
            self,
            CloseReason::Protocol(_)
                | CloseReason::SlowConsumer { .. }
                | CloseReason::HeartbeatTimeout(_)
                | CloseReason::ConnectTimeout(_)
                | CloseReason::FrameTimeout(_)
                | CloseReason::QueueBlockTimeout { .. }
                | CloseReason::TooManyFromAddress { .. }
        )
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::PeerClosed => f.write_str("peer closed the connection"),
            CloseReason::Disconnect => f.write_str("client sent DISCONNECT"),
            CloseReason::Protocol(error) => write!(f, "protocol error: {error}"),
            CloseReason::SlowConsumer { limit } => write!(f, "slow consumer: more than {limit} bytes waiting"),
            CloseReason::HeartbeatTimeout(after) => write!(f, "no heart-beat from client for {after:?}"),
            CloseReason::ConnectTimeout(after) => write!(f, "no CONNECT within {after:?}"),
            CloseReason::WriteTimeout(after) => write!(f, "peer did not read for {after:?}"),
            CloseReason::FrameTimeout(after) => {
                write!(f, "frame not complete within {after:?} (limits.frame_timeout_ms)")
            }
            CloseReason::QueueBlockTimeout { queue, after } => {
                write!(f, "queue {queue} is full: producer held back for {after:?} (queues.block_timeout_ms)")
            }
            CloseReason::Shutdown => f.write_str("broker shutting down"),
            CloseReason::Io(error) => write!(f, "i/o error: {error}"),
            CloseReason::TooManyFromAddress { limit } => {
                write!(f, "too many connections from this address (limits.max_connections_per_address is {limit})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_indexed_in_order_and_named_uniquely() {
        for (index, kind) in CloseKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), index);
        }
        let mut names: Vec<&str> = CloseKind::ALL.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CloseKind::ALL.len());
    }

    #[test]
    fn protocol_errors_are_counted_by_their_code() {
        let auth = CloseReason::Protocol(ProtocolError::Auth(crate::auth::AuthError));
        assert_eq!(auth.kind(), CloseKind::AuthenticationFailed);
        let limit = CloseReason::Protocol(ProtocolError::TooManyQueues { limit: 1 });
        assert_eq!(limit.kind(), CloseKind::LimitExceeded);
        assert_eq!(CloseReason::Protocol(ProtocolError::AlreadyConnected).kind(), CloseKind::ProtocolError);
    }
}

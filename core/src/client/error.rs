//! The blocking client's error type. A broker's ERROR frame is kept whole, so callers can show
//! its `message` header and body.

use std::io;

use bytes::Bytes;
use thiserror::Error;

use crate::frame::{Frame, FrameError};

/// Everything a [`Client`](super::Client) call can fail with.
#[derive(Debug, Error)]
pub enum Error {
    /// The URL could not be parsed.
    #[error("invalid broker url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A URL scheme this client does not speak.
    #[error("unsupported scheme {0} (expected tcp, ssl, tls or failover)")]
    UnsupportedScheme(String),
    /// No TCP connection could be made (for a failover URL: to any address; the last one and
    /// its error are reported).
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address (or addresses) tried.
        addr: String,
        /// Why the last attempt failed.
        #[source]
        source: io::Error,
    },
    /// The TLS handshake failed: the server's certificate is not signed by a CA the client
    /// trusts or does not name the host connected to, the server does not speak TLS there, or
    /// it refused the handshake. (Failover tries the next address.)
    #[error("TLS handshake with {addr} failed: {reason}")]
    Tls {
        /// The address.
        addr: String,
        /// What went wrong, in words.
        reason: String,
    },
    /// The CA certificates to trust could not be loaded: the CA file given
    /// ([`ConnectOptions::ca_file`](super::ConnectOptions::ca_file)) or, without one, the
    /// system's.
    #[error("cannot load the CA certificates to trust from {from}: {reason}")]
    TrustStore {
        /// The CA file, or "the system".
        from: String,
        /// Why.
        reason: String,
    },
    /// The broker refused the credentials given in CONNECT (its ERROR carried `code:authentication-failed`).
    #[error("authentication failed: {message}")]
    Auth {
        /// The ERROR frame's `message` header.
        message: String,
        /// The ERROR frame.
        frame: Box<Frame>,
    },
    /// The broker answered with an ERROR frame.
    #[error("broker error: {message}")]
    Broker {
        /// The ERROR frame's `message` header (empty if it had none).
        message: String,
        /// The ERROR frame's body.
        body: Bytes,
        /// The ERROR frame.
        frame: Box<Frame>,
    },
    /// No answer (CONNECTED, RECEIPT or a frame) before the deadline.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// The broker sent no heart-beat (nor anything else) within the negotiated interval.
    #[error("broker sent no heart-beat for {silent_ms} ms (expected one every {expected_ms} ms)")]
    HeartbeatTimeout {
        /// How long the broker has been silent.
        silent_ms: u64,
        /// The negotiated interval.
        expected_ms: u64,
    },
    /// The connection is closed: by [`Client::disconnect`](super::Client::disconnect), by the
    /// broker, or after an earlier fatal error.
    #[error("connection closed{}", if *.mid_frame { " in the middle of a frame" } else { "" })]
    Closed {
        /// Whether the connection closed with part of a frame read.
        mid_frame: bool,
    },
    /// The broker sent bytes that are not a valid frame.
    #[error("invalid frame from broker: {0}")]
    Protocol(#[from] FrameError),
    /// The broker answered with something the protocol does not allow there.
    #[error("unexpected answer from broker: {0}")]
    Unexpected(String),
    /// A call's arguments cannot be sent (e.g. acknowledging a frame that is not a MESSAGE).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A socket error after the connection was established.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

impl Error {
    /// An error for an ERROR frame: [`Error::Broker`] with its `message` header and body.
    pub fn from_error_frame(frame: Frame) -> Error {
        let message = frame.header(crate::frame::header::MESSAGE).unwrap_or_default().to_owned();
        Error::Broker { message, body: frame.body.clone(), frame: Box::new(frame) }
    }

    /// The ERROR frame behind this error, if the broker sent one.
    pub fn error_frame(&self) -> Option<&Frame> {
        match self {
            Error::Auth { frame, .. } | Error::Broker { frame, .. } => Some(frame),
            _ => None,
        }
    }

    /// Whether the connection can still be used after this error.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, Error::Timeout(_) | Error::InvalidArgument(_))
    }
}

/// The client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

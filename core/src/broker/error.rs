//! The errors a session answers with: each [`ProtocolError`] ends the connection with an ERROR
//! frame whose `message` header is the error's text and whose `code` header is its
//! [`ErrorCode`].

use bytes::Bytes;
use thiserror::Error;

use crate::auth::{AuthError, Operation, Principal, Resource};
use crate::destination::DestinationError;
use crate::error_code::ErrorCode;
use crate::frame::{header, Command, Frame, FrameError};
use crate::selector::SelectorError;
use crate::store::Refusal;

/// A protocol violation or refused request. Each one ends the connection with an ERROR frame
/// whose `message` header is this error's text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// A frame other than CONNECT/STOMP before the handshake.
    #[error("expected CONNECT or STOMP, got {0}")]
    NotConnected(&'static str),
    /// A second CONNECT.
    #[error("already connected")]
    AlreadyConnected,
    /// A frame only a server sends.
    #[error("{0} is a server frame")]
    ServerFrame(&'static str),
    /// No common protocol version.
    #[error("supported protocol versions are 1.0, 1.1 and 1.2")]
    UnsupportedVersion,
    /// Bad credentials.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The access rules refuse this operation.
    #[error("access denied: {user} may not {operation} {resource}")]
    AccessDenied {
        /// Who asked (`anonymous` without a login).
        user: String,
        /// What they asked to do.
        operation: Operation,
        /// On what: a destination, or `the broker`.
        resource: String,
    },
    /// A `heart-beat` header that is not `cx,cy`.
    #[error("invalid heart-beat header {0:?}")]
    BadHeartbeat(String),
    /// A required header is missing.
    #[error("{command} frame is missing the required {header} header")]
    MissingHeader {
        /// The frame's command.
        command: &'static str,
        /// The header's name.
        header: &'static str,
    },
    /// A destination outside `/topic/` and `/queue/`, or a misplaced wildcard.
    #[error(transparent)]
    Destination(#[from] DestinationError),
    /// SUBSCRIBE with an id this session already uses.
    #[error("subscription id {0:?} is already in use")]
    SubscriptionInUse(String),
    /// UNSUBSCRIBE of an id this session does not have.
    #[error("no subscription with id {0:?}")]
    NoSuchSubscription(String),
    /// Over the per-session subscription cap.
    #[error("too many subscriptions (limits.max_subscriptions_per_connection is {limit})")]
    TooManySubscriptions {
        /// The limit in force.
        limit: usize,
    },
    /// An `ack` header other than auto, client, client-individual.
    #[error("invalid ack mode {0:?} (expected auto, client or client-individual)")]
    BadAckMode(String),
    /// A SUBSCRIBE to another connection's temporary destination.
    #[error("{0} is another connection's temporary destination")]
    ForeignTemporary(String),
    /// A durable subscription to a composite destination.
    #[error("a durable subscription subscribes to one destination, not a composite one")]
    CompositeDurable,
    /// A SEND `ttl` that is not a number of milliseconds.
    #[error("invalid ttl {0:?} (expected milliseconds)")]
    BadTtl(String),
    /// A SUBSCRIBE `selector` that does not parse (or nests too deep).
    #[error("{0}")]
    BadSelector(#[from] SelectorError),
    /// A prefetch header that is not a number.
    #[error("invalid {header} header {value:?}")]
    BadPrefetch {
        /// Which header.
        header: &'static str,
        /// Its value.
        value: String,
    },
    /// A transaction id never begun (or already ended).
    #[error("no transaction {0:?} is open")]
    NoSuchTransaction(String),
    /// BEGIN with an id already open.
    #[error("transaction {0:?} is already open")]
    TransactionInUse(String),
    /// Over the per-session transaction cap.
    #[error("too many open transactions (limits.max_transactions_per_connection is {limit})")]
    TooManyTransactions {
        /// The limit in force.
        limit: usize,
    },
    /// Over the per-transaction frame cap.
    #[error("transaction is too large (limits.max_frames_per_transaction is {limit})")]
    TransactionTooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// Over the per-transaction byte cap.
    #[error("transaction is too large (limits.max_bytes_per_transaction is {limit})")]
    TransactionTooManyBytes {
        /// The limit in force.
        limit: usize,
    },
    /// A full queue whose policy is to refuse.
    #[error("queue {0} is full")]
    QueueFull(String),
    /// Over the broker's queue cap.
    #[error("too many queues (limits.max_queues is {limit})")]
    TooManyQueues {
        /// The limit in force.
        limit: usize,
    },
    /// Over the cap on queues one connection created that still exist.
    #[error("this connection created too many queues (limits.max_queues_per_connection is {limit})")]
    TooManyQueuesCreated {
        /// The limit in force.
        limit: usize,
    },
    /// The bytes were not a valid frame.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The store cannot take a persistent message (failed, or full).
    #[error(transparent)]
    Store(#[from] Refusal),
    /// The cluster cannot take a queue message now (NATS unreachable, or it refused it).
    #[error("the cluster's queue did not take the message: {0}")]
    Cluster(String),
    /// A SEND to `/dsub/`: durable subscriptions are fed by their topics.
    #[error("cannot send to {0}: durable subscriptions receive from their topics")]
    SendToDurable(String),
    /// A durable subscription that does not exist.
    #[error("no durable subscription {0:?}")]
    NoSuchDurable(String),
    /// A durable SUBSCRIBE that does not say its name.
    #[error("a durable subscription needs {0}")]
    DurableNeedsName(&'static str),
    /// `browser:true` on something other than a queue.
    #[error("only queues can be browsed")]
    BrowseNotQueue,
}

/// A [`ProtocolError`] with the `receipt` of the frame that caused it, ready to become an ERROR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionError {
    /// What went wrong.
    pub error: ProtocolError,
    /// The offending frame's `receipt` header, echoed as `receipt-id`.
    pub receipt: Option<String>,
}

impl ProtocolError {
    /// The error for an operation the access rules refuse.
    pub(crate) fn denied(principal: &Principal, operation: Operation, resource: Resource<'_>) -> ProtocolError {
        ProtocolError::AccessDenied {
            user: principal.user.as_deref().unwrap_or("anonymous").to_owned(),
            operation,
            resource: resource.to_string(),
        }
    }

    /// The `code` of the ERROR frame that reports this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            ProtocolError::Auth(_) => ErrorCode::AuthenticationFailed,
            ProtocolError::AccessDenied { .. } | ProtocolError::ForeignTemporary(_) => ErrorCode::AccessDenied,
            ProtocolError::TooManySubscriptions { .. }
            | ProtocolError::TooManyTransactions { .. }
            | ProtocolError::TransactionTooLarge { .. }
            | ProtocolError::TransactionTooManyBytes { .. }
            | ProtocolError::QueueFull(_)
            | ProtocolError::TooManyQueues { .. }
            | ProtocolError::TooManyQueuesCreated { .. } => ErrorCode::LimitExceeded,
            ProtocolError::Frame(error) => frame_error_code(error),
            ProtocolError::Store(Refusal::Full { .. }) => ErrorCode::LimitExceeded,
            ProtocolError::Store(Refusal::Failed(_)) | ProtocolError::Cluster(_) => ErrorCode::StoreFailed,
            ProtocolError::NotConnected(_)
            | ProtocolError::AlreadyConnected
            | ProtocolError::ServerFrame(_)
            | ProtocolError::UnsupportedVersion
            | ProtocolError::BadHeartbeat(_)
            | ProtocolError::MissingHeader { .. }
            | ProtocolError::Destination(_)
            | ProtocolError::SubscriptionInUse(_)
            | ProtocolError::NoSuchSubscription(_)
            | ProtocolError::BadAckMode(_)
            | ProtocolError::BadPrefetch { .. }
            | ProtocolError::BadSelector(_)
            | ProtocolError::BadTtl(_)
            | ProtocolError::CompositeDurable
            | ProtocolError::NoSuchTransaction(_)
            | ProtocolError::TransactionInUse(_)
            | ProtocolError::SendToDurable(_)
            | ProtocolError::NoSuchDurable(_)
            | ProtocolError::DurableNeedsName(_)
            | ProtocolError::BrowseNotQueue => ErrorCode::ProtocolError,
        }
    }
}

/// The `code` of the ERROR frame that reports a malformed or oversized frame.
pub fn frame_error_code(error: &FrameError) -> ErrorCode {
    match error {
        FrameError::FrameTooLarge { .. }
        | FrameError::TooManyHeaders { .. }
        | FrameError::HeaderLineTooLong { .. }
        | FrameError::BodyTooLarge { .. } => ErrorCode::LimitExceeded,
        FrameError::UnknownCommand(_)
        | FrameError::MalformedHeader(_)
        | FrameError::InvalidEscape(_)
        | FrameError::InvalidContentLength(_)
        | FrameError::MissingNul
        | FrameError::NotUtf8
        | FrameError::NulInHeader => ErrorCode::ProtocolError,
    }
}

impl SessionError {
    /// The ERROR frame to send before closing.
    pub fn to_frame(&self) -> Frame {
        let mut frame = error_frame(self.error.code(), &self.error.to_string(), self.receipt.as_deref());
        if self.error == ProtocolError::UnsupportedVersion {
            frame.headers.insert(0, (header::VERSION.to_owned(), "1.0,1.1,1.2".to_owned()));
        }
        frame
    }
}

/// An ERROR frame: `message`, `code`, `receipt-id` when given, and a short text/plain body.
pub fn error_frame(code: ErrorCode, message: &str, receipt: Option<&str>) -> Frame {
    let body = Bytes::from(format!("{message}\n"));
    let mut frame =
        Frame::new(Command::Error).with_header(header::MESSAGE, message).with_header(header::CODE, code.as_str());
    if let Some(receipt) = receipt {
        frame = frame.with_header(header::RECEIPT_ID, receipt);
    }
    frame
        .with_header(header::CONTENT_TYPE, "text/plain")
        .with_header(header::CONTENT_LENGTH, body.len().to_string())
        .with_body(body)
}

//! One connection's protocol state: the handshake, its subscriptions and transactions, and what
//! it answers to each frame. The connection task feeds it frames with [`Session::handle`];
//! dropping the session ends its subscriptions, returns its unacknowledged queue messages and
//! aborts its transactions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use thiserror::Error;
use tokio::sync::Notify;

use super::message::Message;
use super::outbox::{Outbox, Subscriber};
use super::queue::Queue;
use super::stats::Stats;
use super::{AckMode, Broker, QueueFullPolicy};
use crate::auth::{AuthError, Principal};
use crate::destination::{Destination, DestinationError, Kind};
use crate::error_code::ErrorCode;
use crate::frame::{escape_for, header, write_header, Command, Frame, FrameError};
use crate::heartbeat::{self, Heartbeat, Negotiated};
use crate::version::Version;

/// SUBSCRIBE headers that set the window of unacknowledged messages, in the order they are
/// looked for: RabbitMQ's, ActiveMQ's, Apollo's (`credit:count[,bytes]`).
const PREFETCH_HEADERS: [&str; 3] = ["prefetch-count", "activemq.prefetchSize", "credit"];

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
    #[error("too many subscriptions (max_subscriptions_per_session is {limit})")]
    TooManySubscriptions {
        /// The limit in force.
        limit: usize,
    },
    /// An `ack` header other than auto, client, client-individual.
    #[error("invalid ack mode {0:?} (expected auto, client or client-individual)")]
    BadAckMode(String),
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
    #[error("too many open transactions (max_transactions_per_session is {limit})")]
    TooManyTransactions {
        /// The limit in force.
        limit: usize,
    },
    /// Over the per-transaction frame cap.
    #[error("transaction is too large (max_frames_per_transaction is {limit})")]
    TransactionTooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// A full queue whose policy is to refuse.
    #[error("queue {0} is full")]
    QueueFull(String),
    /// Over the broker's queue cap.
    #[error("too many queues (max_queues is {limit})")]
    TooManyQueues {
        /// The limit in force.
        limit: usize,
    },
    /// The bytes were not a valid frame.
    #[error(transparent)]
    Frame(#[from] FrameError),
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
    /// The `code` of the ERROR frame that reports this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            ProtocolError::Auth(_) => ErrorCode::AuthenticationFailed,
            ProtocolError::TooManySubscriptions { .. }
            | ProtocolError::TooManyTransactions { .. }
            | ProtocolError::TransactionTooLarge { .. }
            | ProtocolError::QueueFull(_)
            | ProtocolError::TooManyQueues { .. } => ErrorCode::LimitExceeded,
            ProtocolError::Frame(error) => frame_error_code(error),
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
            | ProtocolError::NoSuchTransaction(_)
            | ProtocolError::TransactionInUse(_) => ErrorCode::ProtocolError,
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
        | FrameError::NotUtf8 => ErrorCode::ProtocolError,
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

/// What the connection does after a frame was handled (besides writing the replies).
#[derive(Debug)]
pub enum Action {
    /// Keep going.
    Continue,
    /// The handshake succeeded: switch the codec to `version` and start these heart-beat timers.
    Connected {
        /// The negotiated protocol version.
        version: Version,
        /// The negotiated heart-beat intervals.
        heartbeat: Negotiated,
    },
    /// The client said DISCONNECT: write the replies, then close.
    Disconnect,
    /// A queue is full: stop reading, wait for [`PendingSend::space`], then hand the SEND to
    /// [`Session::resume`].
    Blocked(PendingSend),
}

/// A SEND held back by a full queue, already routed: [`Session::resume`] enqueues it.
#[derive(Debug)]
pub struct PendingSend {
    queue: Arc<Queue>,
    message: Arc<Message>,
    receipt: Option<String>,
}

impl PendingSend {
    /// Notified when the queue has room.
    pub fn space(&self) -> Arc<Notify> {
        self.queue.space()
    }
}

#[derive(Debug)]
struct Subscription {
    destination: Destination,
    subscriber: Arc<Subscriber>,
    queue: Option<Arc<Queue>>,
}

/// One connection's protocol state. See the module docs.
#[derive(Debug)]
pub struct Session {
    broker: Broker,
    name: String,
    outbox: Outbox,
    version: Option<Version>,
    principal: Option<Principal>,
    subscriptions: HashMap<String, Subscription>,
    transactions: HashMap<String, Vec<Frame>>,
    /// Where this session's recent SEND destinations lead, so a repeated destination is
    /// neither parsed nor looked up in the broker's queue map again.
    routes: HashMap<Box<str>, Route>,
}

/// A validated SEND destination and, for a queue, the queue itself.
#[derive(Debug, Clone)]
struct Route {
    destination: Destination,
    queue: Option<Arc<Queue>>,
}

/// Most destinations one session remembers routes for (the cache is cleared when full).
const ROUTE_CACHE: usize = 64;

impl Session {
    pub(crate) fn new(broker: Broker, name: String, outbox: Outbox) -> Session {
        let stats = broker.counters();
        Stats::bump(&stats.connections);
        Stats::bump(&stats.connections_total);
        Session {
            broker,
            name,
            outbox,
            version: None,
            principal: None,
            subscriptions: HashMap::new(),
            transactions: HashMap::new(),
            routes: HashMap::new(),
        }
    }

    /// The session id sent in CONNECTED.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The negotiated version, once connected.
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    /// Who connected, once connected.
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// Handles one client frame, appending any CONNECTED or RECEIPT to `replies`. An error
    /// means: write its [`SessionError::to_frame`], linger briefly, close.
    pub fn handle(&mut self, frame: Frame, replies: &mut Vec<Frame>) -> Result<Action, SessionError> {
        let receipt = frame.header(header::RECEIPT).map(str::to_owned);
        let fail = |error: ProtocolError| SessionError { error, receipt: receipt.clone() };
        let action = match (self.version, frame.command) {
            (None, Command::Connect | Command::Stomp) => {
                return self.connect(&frame, replies).map_err(fail);
            }
            (None, command) => Err(ProtocolError::NotConnected(command.as_str())),
            (Some(_), Command::Connect | Command::Stomp) => Err(ProtocolError::AlreadyConnected),
            (Some(_), command @ (Command::Connected | Command::Message | Command::Receipt | Command::Error)) => {
                Err(ProtocolError::ServerFrame(command.as_str()))
            }
            (Some(_), Command::Disconnect) => Ok(Action::Disconnect),
            (Some(_), Command::Send) => self.send(frame_in_transaction(&frame), frame, &receipt),
            (Some(_), Command::Subscribe) => self.subscribe(&frame).map(|()| Action::Continue),
            (Some(_), Command::Unsubscribe) => self.unsubscribe(&frame).map(|()| Action::Continue),
            (Some(_), Command::Ack | Command::Nack) => self.acknowledge(frame).map(|()| Action::Continue),
            (Some(_), Command::Begin) => self.begin(&frame).map(|()| Action::Continue),
            (Some(_), Command::Commit) => self.commit(&frame).map(|()| Action::Continue),
            (Some(_), Command::Abort) => self.abort(&frame).map(|()| Action::Continue),
        }
        .map_err(fail)?;
        if !matches!(action, Action::Blocked(_)) {
            push_receipt(receipt, replies);
        }
        Ok(action)
    }

    /// Tries a held-back SEND again: it is enqueued (and its RECEIPT written to `replies`) or
    /// comes back as [`Action::Blocked`].
    pub fn resume(&mut self, pending: PendingSend, replies: &mut Vec<Frame>) -> Action {
        match pending.queue.offer(pending.message) {
            Ok(()) => {
                Stats::bump(&self.broker.counters().messages_in);
                push_receipt(pending.receipt, replies);
                Action::Continue
            }
            Err(full) => Action::Blocked(PendingSend { message: full.message, ..pending }),
        }
    }

    fn connect(&mut self, frame: &Frame, replies: &mut Vec<Frame>) -> Result<Action, ProtocolError> {
        let version = match frame.header(header::ACCEPT_VERSION) {
            None => Version::V1_0,
            Some(accepted) => Version::negotiate(accepted).ok_or(ProtocolError::UnsupportedVersion)?,
        };
        let client_heartbeat = match frame.header(header::HEART_BEAT) {
            None => Heartbeat::default(),
            Some(value) => Heartbeat::parse(value).ok_or_else(|| ProtocolError::BadHeartbeat(value.to_owned()))?,
        };
        let config = self.broker.config();
        let principal =
            config.authenticator.authenticate(frame.header(header::LOGIN), frame.header(header::PASSCODE))?;
        let mut connected = Frame::new(Command::Connected)
            .with_header(header::VERSION, version.as_str())
            .with_header(header::SESSION, self.name.clone())
            .with_header(header::SERVER, config.server_name.clone());
        let negotiated = if version == Version::V1_0 {
            // PECL's reader breaks on a bare EOL: a 1.0 session never gets heart-beats.
            Negotiated::default()
        } else {
            connected = connected.with_header(header::HEART_BEAT, config.heartbeat.to_header());
            heartbeat::negotiate(client_heartbeat, config.heartbeat)
        };
        replies.push(connected);
        self.version = Some(version);
        self.principal = Some(principal);
        Ok(Action::Connected { version, heartbeat: negotiated })
    }

    fn send(
        &mut self,
        transaction: Option<String>,
        frame: Frame,
        receipt: &Option<String>,
    ) -> Result<Action, ProtocolError> {
        let route = self.route(require(&frame, header::DESTINATION)?)?;
        if let Some(transaction) = transaction {
            self.buffer(transaction, frame)?;
            return Ok(Action::Continue);
        }
        Ok(match self.publish(&route, frame, false)? {
            None => Action::Continue,
            Some(pending) => Action::Blocked(PendingSend { receipt: receipt.clone(), ..pending }),
        })
    }

    /// Routes one SEND, moving its headers and body into the message. `Some` when its queue is
    /// full (and `force` is off) and the producer must wait.
    fn publish(&self, route: &Route, frame: Frame, force: bool) -> Result<Option<PendingSend>, ProtocolError> {
        let destination = &route.destination;
        let message =
            Arc::new(Message::new(self.broker.next_id(), destination.shared().clone(), frame.headers, frame.body));
        let stats = self.broker.counters();
        match &route.queue {
            None => {
                let subscribers = self.broker.shared.topics.lock().expect("topics lock").subscribers(destination);
                Stats::bump(&stats.messages_in);
                if message.expires() && message.is_expired_at(super::now_ms()) {
                    Stats::bump(&stats.expired);
                    return Ok(None);
                }
                for subscriber in subscribers.iter().filter(|s| s.is_active()) {
                    subscriber.outbox.push(super::outbox::Delivery {
                        message: message.clone(),
                        subscriber: subscriber.clone(),
                        redelivered: false,
                        settle: None,
                        counted: true,
                    });
                }
            }
            Some(queue) => {
                if force {
                    queue.force(message);
                } else if let Err(full) = queue.offer(message) {
                    return match queue.when_full() {
                        QueueFullPolicy::Block => {
                            Ok(Some(PendingSend { queue: queue.clone(), message: full.message, receipt: None }))
                        }
                        QueueFullPolicy::Error => Err(ProtocolError::QueueFull(destination.as_str().to_owned())),
                    };
                }
                Stats::bump(&stats.messages_in);
            }
        }
        Ok(None)
    }

    /// The route of a SEND destination, from the session's cache or parsed and looked up.
    fn route(&mut self, text: &str) -> Result<Route, ProtocolError> {
        if let Some(route) = self.routes.get(text) {
            return Ok(route.clone());
        }
        let destination = Destination::parse(text)?;
        let queue = match destination.kind() {
            Kind::Topic => None,
            Kind::Queue => Some(self.broker.queue(&destination)?),
        };
        if self.routes.len() >= ROUTE_CACHE {
            self.routes.clear();
        }
        let route = Route { destination, queue };
        self.routes.insert(text.into(), route.clone());
        Ok(route)
    }

    fn subscribe(&mut self, frame: &Frame) -> Result<(), ProtocolError> {
        let version = self.version.expect("connected");
        let destination = Destination::parse_pattern(require(frame, header::DESTINATION)?)?;
        let id = match frame.header(header::ID) {
            Some(id) => id.to_owned(),
            // STOMP 1.0 made `id` optional: such a subscription is keyed by its destination.
            None if version == Version::V1_0 => destination.as_str().to_owned(),
            None => return Err(missing(frame, header::ID)),
        };
        if self.subscriptions.contains_key(&id) {
            return Err(ProtocolError::SubscriptionInUse(id));
        }
        let config = self.broker.config();
        if self.subscriptions.len() >= config.max_subscriptions_per_session {
            return Err(ProtocolError::TooManySubscriptions { limit: config.max_subscriptions_per_session });
        }
        let ack = match frame.header(header::ACK) {
            None => AckMode::Auto,
            Some(value) => AckMode::parse(value).ok_or_else(|| ProtocolError::BadAckMode(value.to_owned()))?,
        };
        let window = prefetch(frame)?.unwrap_or(config.default_prefetch).clamp(1, config.max_prefetch);
        let escaping = escape_for(Command::Message, version);
        let mut lines = BytesMut::new();
        write_header(&mut lines, header::SUBSCRIPTION, &id, escaping);
        let subscriber = Arc::new(Subscriber {
            outbox: self.outbox.clone(),
            lines: lines.freeze(),
            escaping,
            ack_header: version == Version::V1_2 && ack != AckMode::Auto,
            ack,
            active: AtomicBool::new(true),
        });
        let queue = match destination.kind() {
            Kind::Topic => {
                self.broker.shared.topics.lock().expect("topics lock").subscribe(&destination, subscriber.clone());
                None
            }
            Kind::Queue => {
                let queue = self.broker.queue(&destination)?;
                queue.add_consumer(subscriber.clone(), window);
                Some(queue)
            }
        };
        self.subscriptions.insert(id, Subscription { destination, subscriber, queue });
        Ok(())
    }

    fn unsubscribe(&mut self, frame: &Frame) -> Result<(), ProtocolError> {
        let id = match (frame.header(header::ID), self.version) {
            (Some(id), _) => id,
            (None, Some(Version::V1_0)) => require(frame, header::DESTINATION)?,
            (None, _) => return Err(missing(frame, header::ID)),
        };
        let subscription =
            self.subscriptions.remove(id).ok_or_else(|| ProtocolError::NoSuchSubscription(id.to_owned()))?;
        self.end(subscription);
        Ok(())
    }

    fn end(&self, subscription: Subscription) {
        subscription.subscriber.active.store(false, Ordering::Release);
        match &subscription.queue {
            None => self
                .broker
                .shared
                .topics
                .lock()
                .expect("topics lock")
                .unsubscribe(&subscription.destination, &subscription.subscriber),
            Some(queue) => queue.remove_consumer(&subscription.subscriber),
        }
    }

    fn acknowledge(&mut self, frame: Frame) -> Result<(), ProtocolError> {
        if self.acknowledged_id(&frame).is_none() {
            return Err(missing(&frame, self.ack_id_headers().0));
        }
        if let Some(transaction) = frame_in_transaction(&frame) {
            return self.buffer(transaction, frame);
        }
        self.apply_acknowledgement(&frame);
        Ok(())
    }

    /// The headers that name the acknowledged message, the version's own first: 1.2 names the
    /// MESSAGE's `ack` header in `id`, 1.0 and 1.1 its `message-id`; the other is accepted too.
    fn ack_id_headers(&self) -> (&'static str, &'static str) {
        match self.version {
            Some(Version::V1_2) => (header::ID, header::MESSAGE_ID),
            _ => (header::MESSAGE_ID, header::ID),
        }
    }

    /// The value naming the message an ACK or NACK is about.
    fn acknowledged_id<'f>(&self, frame: &'f Frame) -> Option<&'f str> {
        let (primary, fallback) = self.ack_id_headers();
        frame.header(primary).or(frame.header(fallback))
    }

    /// Applies an ACK or NACK. One that matches no unacknowledged message is ignored (PECL
    /// scripts ACK on auto subscriptions, and topic messages need no ACK).
    fn apply_acknowledgement(&self, frame: &Frame) {
        let Some(message_id) = self.acknowledged_id(frame).and_then(|v| v.parse::<u64>().ok()) else {
            return;
        };
        let nack = frame.command == Command::Nack;
        let settle = |subscription: &Subscription| {
            let Some(queue) = &subscription.queue else { return false };
            let cumulative = subscription.subscriber.ack == AckMode::Client;
            if nack {
                queue.nack(&subscription.subscriber, message_id, cumulative)
            } else {
                queue.ack(&subscription.subscriber, message_id, cumulative)
            }
        };
        // A 1.1 ACK names its subscription; otherwise look through this session's queues.
        match frame.header(header::SUBSCRIPTION).and_then(|id| self.subscriptions.get(id)) {
            Some(subscription) => {
                settle(subscription);
            }
            None => {
                let _ = self.subscriptions.values().any(settle);
            }
        }
    }

    fn begin(&mut self, frame: &Frame) -> Result<(), ProtocolError> {
        let id = require(frame, header::TRANSACTION)?;
        if self.transactions.contains_key(id) {
            return Err(ProtocolError::TransactionInUse(id.to_owned()));
        }
        let limit = self.broker.config().max_transactions_per_session;
        if self.transactions.len() >= limit {
            return Err(ProtocolError::TooManyTransactions { limit });
        }
        self.transactions.insert(id.to_owned(), Vec::new());
        Ok(())
    }

    fn buffer(&mut self, transaction: String, frame: Frame) -> Result<(), ProtocolError> {
        let limit = self.broker.config().max_frames_per_transaction;
        let frames = self.transactions.get_mut(&transaction).ok_or(ProtocolError::NoSuchTransaction(transaction))?;
        if frames.len() >= limit {
            return Err(ProtocolError::TransactionTooLarge { limit });
        }
        frames.push(frame);
        Ok(())
    }

    fn commit(&mut self, frame: &Frame) -> Result<(), ProtocolError> {
        let id = require(frame, header::TRANSACTION)?;
        let frames = self.transactions.remove(id).ok_or_else(|| ProtocolError::NoSuchTransaction(id.to_owned()))?;
        for frame in frames {
            match frame.command {
                Command::Send => {
                    // Validated when buffered; the transaction's own cap bounds what it adds.
                    let route = self.route(require(&frame, header::DESTINATION)?)?;
                    self.publish(&route, frame, true)?;
                }
                _ => self.apply_acknowledgement(&frame),
            }
        }
        Ok(())
    }

    fn abort(&mut self, frame: &Frame) -> Result<(), ProtocolError> {
        let id = require(frame, header::TRANSACTION)?;
        self.transactions.remove(id).map(drop).ok_or_else(|| ProtocolError::NoSuchTransaction(id.to_owned()))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Open transactions are aborted by forgetting them; subscriptions end and return their
        // unacknowledged queue messages for redelivery.
        for (_, subscription) in std::mem::take(&mut self.subscriptions) {
            self.end(subscription);
        }
        self.broker.counters().connections.fetch_sub(1, Ordering::Relaxed);
    }
}

fn push_receipt(receipt: Option<String>, replies: &mut Vec<Frame>) {
    if let Some(receipt) = receipt {
        replies.push(Frame::new(Command::Receipt).with_header(header::RECEIPT_ID, receipt));
    }
}

fn frame_in_transaction(frame: &Frame) -> Option<String> {
    frame.header(header::TRANSACTION).map(str::to_owned)
}

fn require<'f>(frame: &'f Frame, name: &'static str) -> Result<&'f str, ProtocolError> {
    frame.header(name).ok_or_else(|| missing(frame, name))
}

fn missing(frame: &Frame, name: &'static str) -> ProtocolError {
    ProtocolError::MissingHeader { command: frame.command.as_str(), header: name }
}

/// The window a SUBSCRIBE asks for, if it names one.
fn prefetch(frame: &Frame) -> Result<Option<usize>, ProtocolError> {
    for name in PREFETCH_HEADERS {
        if let Some(value) = frame.header(name) {
            let count = value.split(',').next().unwrap_or_default().trim();
            let count: usize =
                count.parse().map_err(|_| ProtocolError::BadPrefetch { header: name, value: value.to_owned() })?;
            // 0 means "unlimited" to RabbitMQ: the broker's own cap applies.
            return Ok(Some(if count == 0 { usize::MAX } else { count }));
        }
    }
    Ok(None)
}

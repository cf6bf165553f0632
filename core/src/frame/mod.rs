//! The STOMP frame: its model, a sans-IO incremental parser and the one encoder.
//!
//! - this file: the model. [`Command`], [`Frame`], the [`header`] names, and the bytes every
//!   part of the wire format is built from.
//! - `escape`: header escaping in both directions, [`Escaping`] and [`escape_for`], so the
//!   encoder and the parser read one table.
//! - `parser`: [`FrameParser`], its [`FrameLimits`] and [`FrameError`]. It works on a
//!   caller-owned `BytesMut` and never performs I/O. A partial frame is not an error:
//!   [`FrameParser::parse`] returns `Ok(None)` and remembers how far it has scanned, so a frame
//!   arriving byte by byte is never re-parsed from its start. A frame's body is a zero-copy
//!   slice of the bytes it arrived in.
//! - `encoder`: [`write_frame`], the only code that lays a frame out on the wire, and
//!   [`encode`] and [`write_header`] on top of it.

mod encoder;
mod escape;
mod parser;

use bytes::Bytes;

pub use self::encoder::{encode, write_frame, write_header};
pub use self::escape::{escape_for, Escaping};
pub use self::parser::{FrameError, FrameLimits, FrameParser, Parsed};

/// Line feed: ends every line of a frame.
const LF: u8 = b'\n';
/// Carriage return: may come before a line's LF.
const CR: u8 = b'\r';
/// Ends a frame.
const NUL: u8 = 0;

/// Header names, spelled as on the wire.
pub mod header {
    /// `accept-version` (CONNECT).
    pub const ACCEPT_VERSION: &str = "accept-version";
    /// `ack` (SUBSCRIBE mode; MESSAGE ack id in 1.2).
    pub const ACK: &str = "ack";
    /// `activemq.subscriptionName` (SUBSCRIBE: ActiveMQ's durable subscription name).
    pub const ACTIVEMQ_SUBSCRIPTION_NAME: &str = "activemq.subscriptionName";
    /// `auto-delete` (SUBSCRIBE: RabbitMQ's; `false` with `durable:true` makes it durable).
    pub const AUTO_DELETE: &str = "auto-delete";
    /// `browser` (SUBSCRIBE: browse a queue; MESSAGE: `end` after the last browsed message).
    pub const BROWSER: &str = "browser";
    /// `browser-end` (SUBSCRIBE: `false` leaves out the end marker and keeps browsing).
    pub const BROWSER_END: &str = "browser-end";
    /// `client-id` (CONNECT: names the client for ActiveMQ-style durable subscriptions).
    pub const CLIENT_ID: &str = "client-id";
    /// `code` (ERROR: the kind of failure, see [`ErrorCode`](crate::error_code::ErrorCode)).
    pub const CODE: &str = "code";
    /// `content-length`.
    pub const CONTENT_LENGTH: &str = "content-length";
    /// `content-type`.
    pub const CONTENT_TYPE: &str = "content-type";
    /// `dead-letter-reason` (MESSAGE from a dead-letter queue: why it is there).
    pub const DEAD_LETTER_REASON: &str = "dead-letter-reason";
    /// `destination`.
    pub const DESTINATION: &str = "destination";
    /// `durable` (SUBSCRIBE: RabbitMQ's durable subscription).
    pub const DURABLE: &str = "durable";
    /// `expires` (ms since the epoch).
    pub const EXPIRES: &str = "expires";
    /// `heart-beat`.
    pub const HEART_BEAT: &str = "heart-beat";
    /// `host`.
    pub const HOST: &str = "host";
    /// `id` (SUBSCRIBE, UNSUBSCRIBE, ACK/NACK in 1.2).
    pub const ID: &str = "id";
    /// `JMSXGroupID` (SEND: ActiveMQ's message group).
    pub const JMSX_GROUP_ID: &str = "JMSXGroupID";
    /// `login`.
    pub const LOGIN: &str = "login";
    /// `message` (ERROR).
    pub const MESSAGE: &str = "message";
    /// `message_group` (SEND: Apollo's message group; its messages go to one queue consumer).
    pub const MESSAGE_GROUP: &str = "message_group";
    /// `message-id`.
    pub const MESSAGE_ID: &str = "message-id";
    /// `original-destination` (MESSAGE from a dead-letter queue: where it was sent).
    pub const ORIGINAL_DESTINATION: &str = "original-destination";
    /// `original-message-id` (MESSAGE from a dead-letter queue: its id there).
    pub const ORIGINAL_MESSAGE_ID: &str = "original-message-id";
    /// `passcode`.
    pub const PASSCODE: &str = "passcode";
    /// `persistent` (SEND: store the message; SUBSCRIBE/UNSUBSCRIBE: a durable subscription).
    pub const PERSISTENT: &str = "persistent";
    /// `receipt`.
    pub const RECEIPT: &str = "receipt";
    /// `receipt-id`.
    pub const RECEIPT_ID: &str = "receipt-id";
    /// `redelivered`.
    pub const REDELIVERED: &str = "redelivered";
    /// `reply-to` (SEND: where replies go; a temporary destination is rewritten to its real name).
    pub const REPLY_TO: &str = "reply-to";
    /// `retain` (SEND to a topic: `set` keeps the message for new subscribers, `remove` forgets
    /// the one kept).
    pub const RETAIN: &str = "retain";
    /// `selector` (SUBSCRIBE: only messages whose headers it selects; see
    /// [`Selector`](crate::selector::Selector)).
    pub const SELECTOR: &str = "selector";
    /// `server` (CONNECTED).
    pub const SERVER: &str = "server";
    /// `session` (CONNECTED).
    pub const SESSION: &str = "session";
    /// `subscription`.
    pub const SUBSCRIPTION: &str = "subscription";
    /// `ttl` (SEND: Apollo's time to live, ms from arrival; the broker sets `expires`).
    pub const TTL: &str = "ttl";
    /// `transaction`.
    pub const TRANSACTION: &str = "transaction";
    /// `version`.
    pub const VERSION: &str = "version";
}

/// A frame's command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// Client: open a session.
    Connect,
    /// Client: open a session (1.1+ spelling of CONNECT).
    Stomp,
    /// Client: publish a message.
    Send,
    /// Client: subscribe to a destination.
    Subscribe,
    /// Client: end a subscription.
    Unsubscribe,
    /// Client: acknowledge a message.
    Ack,
    /// Client: reject a message.
    Nack,
    /// Client: open a transaction.
    Begin,
    /// Client: commit a transaction.
    Commit,
    /// Client: roll back a transaction.
    Abort,
    /// Client: end the session.
    Disconnect,
    /// Server: the session is open.
    Connected,
    /// Server: a message for a subscription.
    Message,
    /// Server: a frame with a `receipt` header was processed.
    Receipt,
    /// Server: something went wrong; the connection closes.
    Error,
}

impl Command {
    /// Every command, client commands first.
    pub const ALL: [Command; 15] = [
        Command::Connect,
        Command::Stomp,
        Command::Send,
        Command::Subscribe,
        Command::Unsubscribe,
        Command::Ack,
        Command::Nack,
        Command::Begin,
        Command::Commit,
        Command::Abort,
        Command::Disconnect,
        Command::Connected,
        Command::Message,
        Command::Receipt,
        Command::Error,
    ];

    /// The wire spelling, e.g. `"SEND"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Connect => "CONNECT",
            Command::Stomp => "STOMP",
            Command::Send => "SEND",
            Command::Subscribe => "SUBSCRIBE",
            Command::Unsubscribe => "UNSUBSCRIBE",
            Command::Ack => "ACK",
            Command::Nack => "NACK",
            Command::Begin => "BEGIN",
            Command::Commit => "COMMIT",
            Command::Abort => "ABORT",
            Command::Disconnect => "DISCONNECT",
            Command::Connected => "CONNECTED",
            Command::Message => "MESSAGE",
            Command::Receipt => "RECEIPT",
            Command::Error => "ERROR",
        }
    }

    /// Parses a wire spelling (case-sensitive).
    pub fn from_bytes(bytes: &[u8]) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.as_str().as_bytes() == bytes)
    }

    /// CONNECT, STOMP and CONNECTED never escape their headers, whatever the version.
    pub fn is_handshake(self) -> bool {
        matches!(self, Command::Connect | Command::Stomp | Command::Connected)
    }
}

/// One STOMP frame. Headers keep their wire order; a repeated header stays in the list, and
/// [`Frame::header`] returns its first value, as the spec says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The command.
    pub command: Command,
    /// Headers in wire order, unescaped.
    pub headers: Vec<(String, String)>,
    /// The body (shared, never copied per subscriber).
    pub body: Bytes,
}

impl Frame {
    /// A frame with no headers and an empty body.
    pub fn new(command: Command) -> Frame {
        Frame { command, headers: Vec::new(), body: Bytes::new() }
    }

    /// Adds a header (builder style).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Frame {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body (builder style).
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Frame {
        self.body = body.into();
        self
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

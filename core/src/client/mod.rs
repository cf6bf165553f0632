//! A blocking STOMP client on `std::net` sockets: no async runtime, and no thread unless
//! heart-beats are negotiated.
//!
//! [`Client`] owns one connection. It reads through the core [`FrameParser`] over its own read
//! buffer and writes each frame, laid out by [`frame::write_frame`](crate::frame::write_frame),
//! with one `write_all` from a reused buffer. Frames that arrive while it waits for a RECEIPT
//! are kept, in order, for [`Client::read_frame`]. Every wait is cut into slices of at most
//! [`POLL_SLICE`], and [`Client::read_frame_until`] returns at its deadline, so a caller (the
//! Python binding) can check for signals between slices.
//!
//! Besides the STOMP 1.2 client, [`Mode::Raw`] speaks STOMP 1.0 raw: a 1.0 CONNECT with the
//! headers in the order given, and every frame written unescaped, byte for byte as built.
//!
//! - this file: [`Client`], its state and accessors, and closing.
//! - `options`: [`ConnectOptions`] and [`Mode`].
//! - `handshake`: connecting (failover list, TCP) and the CONNECT/CONNECTED exchange.
//! - `transport`: the byte stream under the client; the seam TLS plugs into.
//! - `wire`: the transport shared with the heart-beat thread, which serialises writes.
//! - `heartbeat`: the heart-beat thread.
//! - `read`: reading and parsing frames, RECEIPT waits, the broker's heart-beats.
//! - `write`: encoding and writing frames, batching.
//! - `command`: the client's commands, one file each: SEND, SUBSCRIBE and UNSUBSCRIBE,
//!   ACK and NACK, transactions, DISCONNECT.
//! - [`url`]: broker URLs, failover lists.
//! - [`error`]: [`Error`], which keeps a broker's ERROR frame.

mod command;
pub mod error;
mod handshake;
mod heartbeat;
mod options;
mod read;
mod transport;
pub mod url;
mod wire;
mod write;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;

pub use self::error::{Error, Result};
use self::heartbeat::HeartbeatThread;
pub use self::options::{ConnectOptions, Mode};
pub use self::url::Endpoint;
use self::wire::Wire;
use crate::frame::{Frame, FrameParser};
use crate::version::Version;

/// The longest a blocking read waits before returning to its caller's loop.
pub const POLL_SLICE: Duration = Duration::from_millis(100);

/// An empty header list, for calls that need none: `client.send("/queue/a", body, NO_HEADERS)`.
pub const NO_HEADERS: &[(&str, &str)] = &[];

/// A connection to a STOMP broker. See the module docs.
#[derive(Debug)]
pub struct Client {
    wire: Arc<Wire>,
    endpoint: Endpoint,
    parser: FrameParser,
    read_buf: BytesMut,
    scratch: Box<[u8]>,
    write_buf: BytesMut,
    /// Frames received while waiting for something else, oldest first.
    pending: VecDeque<Frame>,
    version: Version,
    mode: Mode,
    session: Option<String>,
    server: Option<String>,
    timeout: Duration,
    /// The read timeout currently set on the transport.
    read_timeout: Option<Duration>,
    /// When the last byte arrived, and how often the broker promised to send one.
    last_read: Instant,
    expect_every: Option<Duration>,
    heartbeat: Option<HeartbeatThread>,
    next_id: u64,
    closed: bool,
    /// While batching: frames written but not yet sent (see [`Client::set_batching`]).
    batch: Option<BytesMut>,
}

impl Client {
    /// The session id from CONNECTED, if the broker sent one.
    pub fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }

    /// The `server` header from CONNECTED.
    pub fn server(&self) -> Option<&str> {
        self.server.as_deref()
    }

    /// The negotiated protocol version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The address connected to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The timeout of RECEIPT waits and [`Client::read_frame`] callers' default.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Changes the timeout of RECEIPT waits.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Whether the connection is closed (disconnected, or broken by an earlier error).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether a heart-beat thread is running.
    pub fn has_heartbeat_thread(&self) -> bool {
        self.heartbeat.is_some()
    }

    /// Closes the connection without DISCONNECT (what a batch collected is sent first).
    pub fn close(&mut self) {
        let _ = self.flush();
        self.close_socket();
    }

    fn check_open(&self) -> Result<()> {
        if self.closed || self.wire.failed() {
            return Err(Error::Closed { mid_frame: false });
        }
        Ok(())
    }

    /// Marks the connection closed, stops the heart-beat thread and shuts the transport down.
    fn close_socket(&mut self) {
        if !self.closed {
            self.closed = true;
            self.heartbeat = None;
            let _ = self.wire.transport().shutdown();
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.close();
    }
}

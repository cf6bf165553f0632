//! A blocking STOMP client on `std::net` sockets: no async runtime, and at most one thread of
//! its own per connection, started only when needed.
//!
//! [`Client`] owns one connection. It reads through the core [`FrameParser`] over its own read
//! buffer, on the caller's thread. Frames it sends are laid out by
//! [`frame::write_frame`](crate::frame::write_frame) straight into a bounded outgoing buffer.
//! A frame without a receipt is left there for the writer thread, which writes whatever has
//! accumulated as soon as the socket takes it: a lone send leaves at once, a burst coalesces
//! into large writes (as the NATS clients do), and a sender that finds the buffer full waits
//! (back-pressure, bounded by [`ConnectOptions::write_buffer_bytes`]). Everything queued is
//! written before the client waits for the broker (a receipt, a read, `has_frame`,
//! `disconnect`), on [`Client::flush`], and on close and drop. A write that fails in the
//! background is returned by the next call. Frames that arrive while the client waits for a
//! RECEIPT are kept, in order, for [`Client::read_frame`]. Every wait is cut into slices of at
//! most [`POLL_SLICE`], and [`Client::read_frame_until`] returns at its deadline, so a caller
//! (the Python binding) can check for signals between slices.
//!
//! Besides the STOMP 1.2 client, [`Mode::Raw`] speaks STOMP 1.0 raw: a 1.0 CONNECT with the
//! headers in the order given, and every frame written unescaped, byte for byte as built.
//!
//! - this file: [`Client`], its state and accessors, and closing.
//! - `options`: [`ConnectOptions`] and [`Mode`].
//! - `handshake`: connecting (failover list, TCP, TLS) and the CONNECT/CONNECTED exchange.
//! - `transport`: the byte stream under the client: TCP, or TLS through the same seam.
//! - `tls`: TLS: the CA certificates trusted, the handshake, the TLS transport.
//! - `wire`: the transport and the outgoing buffer, shared with the writer thread; who writes.
//! - `writer`: the writer thread (also the heart-beat sender): when it starts and stops, fork.
//! - `read`: reading and parsing frames, RECEIPT waits, the broker's heart-beats.
//! - `write`: queueing frames, flushing, write errors.
//! - `command`: the client's commands, one file each: SEND, SUBSCRIBE and UNSUBSCRIBE,
//!   ACK and NACK, transactions, DISCONNECT.
//! - [`url`]: broker URLs, failover lists.
//! - [`error`]: [`Error`], which keeps a broker's ERROR frame.

mod command;
pub mod error;
mod handshake;
mod options;
mod read;
mod tls;
mod transport;
pub mod url;
mod wire;
mod write;
mod writer;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;

pub use self::error::{Error, Result};
pub use self::options::{ConnectOptions, Mode, DEFAULT_WRITE_BUFFER_BYTES};
pub use self::url::Endpoint;
use self::wire::Wire;
use self::writer::WriterThread;
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
    /// How often the broker wants heart-beats from us (the writer thread sends them).
    send_every: Option<Duration>,
    writer: Option<WriterThread>,
    next_id: u64,
    closed: bool,
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

    /// Whether the writer thread runs (see the `writer` module): from the first frame sent
    /// without a receipt, or from connect when heart-beats from the client are negotiated,
    /// until the connection closes.
    pub fn has_writer_thread(&self) -> bool {
        self.writer.is_some()
    }

    /// Closes the connection without DISCONNECT, after writing what is queued. A write error
    /// is not reported here: call [`Client::flush`] or [`Client::disconnect`] to see it.
    pub fn close(&mut self) {
        let _ = self.flush();
        self.close_socket();
    }

    fn check_open(&self) -> Result<()> {
        if self.closed {
            return Err(Error::Closed { mid_frame: false });
        }
        Ok(())
    }

    /// Marks the connection closed, shuts the transport down (which ends a write in progress)
    /// and stops the writer thread. In the child of a fork, leaves the parent's socket alone.
    fn close_socket(&mut self) {
        if !self.closed {
            self.closed = true;
            if !self.wire.forked() {
                let _ = self.wire.transport().shutdown();
            }
            self.writer = None;
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.close();
    }
}

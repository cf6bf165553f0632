//! One task per connection: it reads frames into the [`Session`], writes what the session
//! answers and what its outbox holds, keeps heart-beats in both directions, and closes with a
//! [`CloseReason`] that is logged.
//!
//! The loop handles every complete frame already buffered (up to a bound) before it writes, and
//! drains the outbox into the same buffer, so a busy connection sends many frames per syscall.
//! While a write waits on a peer that does not read, the task still notices a closed outbox
//! (slow consumer) or shutdown, and gives up after `write_timeout_ms`.

use std::fmt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use stompbox_core::broker::{
    error_frame, frame_error_code, Action, Broker, Closed, OutboxReceiver, PendingSend, Session,
};
use stompbox_core::codec::{CodecError, StompCodec};
use stompbox_core::frame::{encode, Frame, FrameLimits, Parsed};
use stompbox_core::heartbeat::Negotiated;
use stompbox_core::{ErrorCode, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::futures::OwnedNotified;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::config::Timeouts;
use crate::transport::Transport;

/// Frames handled per round before the task writes and checks its other duties.
const FRAMES_PER_ROUND: usize = 256;
/// Bytes of outbox messages encoded per round.
const DRAIN_BYTES_PER_ROUND: usize = 256 * 1024;
/// Spare room the read buffer starts with before each read.
const READ_CHUNK: usize = 4 * 1024;
/// The most spare room a busy connection's read buffer grows to.
const READ_CHUNK_MAX: usize = 64 * 1024;
/// A write buffer that grew past this is released once flushed, so idle connections stay small.
const WRITE_BUFFER_KEEP: usize = 64 * 1024;

/// What every connection shares: the broker and the limits.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) broker: Broker,
    pub(crate) limits: FrameLimits,
    pub(crate) timeouts: Timeouts,
}

/// Why a connection ended; logged once per connection.
#[derive(Debug)]
pub(crate) enum CloseReason {
    PeerClosed,
    Disconnect,
    Protocol(String),
    SlowConsumer { limit: usize },
    HeartbeatTimeout(Duration),
    ConnectTimeout(Duration),
    WriteTimeout(Duration),
    Shutdown,
    Io(std::io::Error),
}

impl CloseReason {
    /// The `code` of the ERROR frame that tells the client.
    fn code(&self) -> ErrorCode {
        match self {
            CloseReason::SlowConsumer { .. } => ErrorCode::SlowConsumer,
            CloseReason::HeartbeatTimeout(_) | CloseReason::ConnectTimeout(_) | CloseReason::WriteTimeout(_) => {
                ErrorCode::Timeout
            }
            CloseReason::Shutdown => ErrorCode::Closed,
            CloseReason::PeerClosed | CloseReason::Disconnect | CloseReason::Protocol(_) | CloseReason::Io(_) => {
                ErrorCode::ProtocolError
            }
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::PeerClosed => f.write_str("peer closed the connection"),
            CloseReason::Disconnect => f.write_str("client sent DISCONNECT"),
            CloseReason::Protocol(message) => write!(f, "protocol error: {message}"),
            CloseReason::SlowConsumer { limit } => write!(f, "slow consumer: more than {limit} bytes waiting"),
            CloseReason::HeartbeatTimeout(after) => write!(f, "no heart-beat from client for {after:?}"),
            CloseReason::ConnectTimeout(after) => write!(f, "no CONNECT within {after:?}"),
            CloseReason::WriteTimeout(after) => write!(f, "peer did not read for {after:?}"),
            CloseReason::Shutdown => f.write_str("broker shutting down"),
            CloseReason::Io(error) => write!(f, "i/o error: {error}"),
        }
    }
}

/// A SEND waiting for room in a full queue.
struct Blocked {
    pending: PendingSend,
    space: Pin<Box<OwnedNotified>>,
}

/// The connection's transport with its read and write buffers.
struct Connection<T> {
    stream: T,
    codec: StompCodec,
    read_buf: BytesMut,
    read_chunk: usize,
    write_buf: BytesMut,
}

/// Serves one accepted connection until it closes, then logs why.
pub(crate) async fn serve<T: Transport>(stream: T, peer: SocketAddr, context: Arc<Context>, cancel: CancellationToken) {
    let (session, outbox) = context.broker.open_session();
    info!(%peer, session = session.name(), "connection opened");
    let mut task = Task {
        connection: Connection {
            stream,
            codec: StompCodec::new(context.limits),
            read_buf: BytesMut::new(),
            read_chunk: READ_CHUNK,
            write_buf: BytesMut::new(),
        },
        session,
        outbox,
        version: Version::V1_0,
        heartbeat: Negotiated::default(),
        last_read: Instant::now(),
        last_write: Instant::now(),
        replies: Vec::new(),
        blocked: None,
        context,
        cancel,
    };
    let reason = task.run().await;
    info!(%peer, session = task.session.name(), %reason, "connection closed");
}

struct Task<T> {
    connection: Connection<T>,
    session: Session,
    outbox: OutboxReceiver,
    version: Version,
    heartbeat: Negotiated,
    last_read: Instant,
    last_write: Instant,
    replies: Vec<Frame>,
    blocked: Option<Blocked>,
    context: Arc<Context>,
    cancel: CancellationToken,
}

impl<T: Transport> Task<T> {
    async fn run(&mut self) -> CloseReason {
        let connect_deadline = Instant::now() + self.context.timeouts.connect;
        loop {
            // Deliveries first, then the client's frames: what was queued for this connection
            // before a frame is handled goes out before that frame's RECEIPT.
            let drained = self.outbox.drain(&mut self.connection.write_buf, DRAIN_BYTES_PER_ROUND);
            if let Some(Closed::SlowConsumer { limit }) = drained.closed {
                return self.close_with_error(CloseReason::SlowConsumer { limit }).await;
            }
            let mut more_buffered = false;
            if let Err(reason) = self.handle_buffered(&mut more_buffered) {
                return self.close(reason).await;
            }
            if !self.connection.write_buf.is_empty() {
                if let Err(reason) = self.write_out().await {
                    // A slow consumer or a shutdown noticed mid-write is told why, like one
                    // noticed between writes; a peer that cannot be written to is not.
                    return match reason {
                        CloseReason::SlowConsumer { .. } | CloseReason::Shutdown => self.close_with_error(reason).await,
                        _ => self.close(reason).await,
                    };
                }
            }
            if more_buffered {
                // Complete frames are still buffered: no need to wait for the socket. A drain
                // that left deliveries behind kept its wake-up instead, so `select!` returns at
                // once after polling the socket, shutdown and the timers: a steady stream of
                // deliveries does not starve the client's own frames.
                tokio::task::consume_budget().await;
                continue;
            }
            let read_deadline = match self.session.version() {
                None => Some(connect_deadline),
                // A producer held back by a full queue is not read, so it cannot be late.
                Some(_) if self.blocked.is_some() => None,
                Some(_) => self.heartbeat.expect_every.map(|every| self.last_read + self.grace(every)),
            };
            let send_deadline = self.heartbeat.send_every.map(|every| self.last_write + every);
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => return self.close_with_error(CloseReason::Shutdown).await,
                read = self.connection.read_more(), if self.blocked.is_none() => match read {
                    Ok(0) => {
                        let reason = match self.connection.codec.decode_eof(&mut self.connection.read_buf) {
                            Err(CodecError::Io(error)) => CloseReason::Io(error),
                            _ => CloseReason::PeerClosed,
                        };
                        return reason;
                    }
                    Ok(_) => self.last_read = Instant::now(),
                    Err(error) => return CloseReason::Io(error),
                },
                () = self.outbox.ready() => {}
                () = wait_blocked(&mut self.blocked) => {
                    let blocked = self.blocked.take().expect("woken while blocked");
                    self.last_read = Instant::now();
                    self.resume(blocked.pending);
                }
                () = sleep_until(send_deadline.unwrap_or_else(far_future)), if send_deadline.is_some() => {
                    self.connection.write_buf.put_u8(b'\n');
                }
                () = sleep_until(read_deadline.unwrap_or_else(far_future)), if read_deadline.is_some() => {
                    let reason = match (self.session.version(), self.heartbeat.expect_every) {
                        (Some(_), Some(every)) => CloseReason::HeartbeatTimeout(self.grace(every)),
                        _ => CloseReason::ConnectTimeout(self.context.timeouts.connect),
                    };
                    return self.close_with_error(reason).await;
                }
            }
        }
    }

    fn grace(&self, every: Duration) -> Duration {
        every.mul_f64(self.context.timeouts.heartbeat_grace)
    }

    /// Handles the complete frames already in the read buffer, up to [`FRAMES_PER_ROUND`].
    fn handle_buffered(&mut self, more_buffered: &mut bool) -> Result<(), CloseReason> {
        for _ in 0..FRAMES_PER_ROUND {
            if self.blocked.is_some() {
                return Ok(());
            }
            match self.connection.codec.decode(&mut self.connection.read_buf) {
                Ok(None) => return Ok(()),
                Ok(Some(Parsed::Heartbeat)) => {}
                Ok(Some(Parsed::Frame(frame))) => self.submit(frame)?,
                Err(error) => {
                    let message = error.to_string();
                    let code = match &error {
                        CodecError::Frame(error) => frame_error_code(error),
                        CodecError::Io(_) => ErrorCode::ProtocolError,
                    };
                    let error = error_frame(code, &message, None);
                    encode(&error, self.version, &mut self.connection.write_buf);
                    return Err(CloseReason::Protocol(message));
                }
            }
        }
        *more_buffered = true;
        Ok(())
    }

    /// Hands one frame to the session; a SEND to a full queue becomes `self.blocked`.
    fn submit(&mut self, frame: Frame) -> Result<(), CloseReason> {
        let result = self.session.handle(frame, &mut self.replies);
        self.encode_replies();
        match result {
            Ok(Action::Continue) => Ok(()),
            Ok(Action::Connected { version, heartbeat }) => {
                self.version = version;
                self.heartbeat = heartbeat;
                self.connection.codec.set_version(version);
                debug!(session = self.session.name(), %version, ?heartbeat, "session connected");
                Ok(())
            }
            Ok(Action::Disconnect) => Err(CloseReason::Disconnect),
            Ok(Action::Blocked(pending)) => {
                self.resume(pending);
                Ok(())
            }
            Err(error) => {
                encode(&error.to_frame(), self.version, &mut self.connection.write_buf);
                Err(CloseReason::Protocol(error.error.to_string()))
            }
        }
    }

    /// Waits for room for a held-back SEND: arms the wake-up first, then tries once more, so
    /// room made in between is not missed.
    fn resume(&mut self, pending: PendingSend) {
        let mut armed = Box::pin(pending.space().notified_owned());
        armed.as_mut().enable();
        let action = self.session.resume(pending, &mut self.replies);
        self.encode_replies();
        if let Action::Blocked(pending) = action {
            self.blocked = Some(Blocked { pending, space: armed });
        }
    }

    fn encode_replies(&mut self) {
        for reply in self.replies.drain(..) {
            encode(&reply, self.version, &mut self.connection.write_buf);
        }
    }

    /// Writes the whole write buffer, watching for shutdown, a closed outbox and the deadline.
    ///
    /// Written bytes leave the buffer as each write completes, so when this gives up part way
    /// the buffer holds exactly the unsent rest, and [`Task::close`] flushes that (then the
    /// ERROR) instead of sending the start of the buffer a second time.
    async fn write_out(&mut self) -> Result<(), CloseReason> {
        let limit = self.context.timeouts.write;
        let deadline = Instant::now() + limit;
        loop {
            let Connection { stream, write_buf, .. } = &mut self.connection;
            if write_buf.is_empty() {
                break;
            }
            tokio::select! {
                // Cancellation-safe: when another branch wins, nothing was written.
                result = stream.write_buf(write_buf) => match result {
                    Ok(0) => return Err(CloseReason::Io(std::io::ErrorKind::WriteZero.into())),
                    Ok(_) => {}
                    Err(error) => return Err(CloseReason::Io(error)),
                },
                () = sleep_until(deadline) => return Err(CloseReason::WriteTimeout(limit)),
                () = self.cancel.cancelled() => return Err(CloseReason::Shutdown),
                Closed::SlowConsumer { limit } = self.outbox.wait_closed() => {
                    return Err(CloseReason::SlowConsumer { limit });
                }
            }
        }
        self.connection.write_buf.clear();
        if self.connection.write_buf.capacity() > WRITE_BUFFER_KEEP {
            self.connection.write_buf = BytesMut::new();
        }
        self.last_write = Instant::now();
        Ok(())
    }

    /// Sends an ERROR that says why, then closes as [`Task::close`] does.
    async fn close_with_error(&mut self, reason: CloseReason) -> CloseReason {
        let error = error_frame(reason.code(), &reason.to_string(), None);
        encode(&error, self.version, &mut self.connection.write_buf);
        self.close(reason).await
    }

    /// Flushes what is buffered (ERROR frames included), lingers briefly after an error while
    /// ignoring what the peer sends, then lets the socket close.
    async fn close(&mut self, reason: CloseReason) -> CloseReason {
        let linger = self.context.timeouts.error_linger;
        let lingers = matches!(
            reason,
            CloseReason::Protocol(_)
                | CloseReason::SlowConsumer { .. }
                | CloseReason::HeartbeatTimeout(_)
                | CloseReason::ConnectTimeout(_)
        );
        let connection = &mut self.connection;
        let flush = async {
            connection.stream.write_all(&connection.write_buf).await?;
            connection.stream.flush().await
        };
        if timeout(linger, flush).await.is_ok() && lingers {
            let discard = async {
                loop {
                    connection.read_buf.clear();
                    if !matches!(connection.read_more().await, Ok(n) if n > 0) {
                        break;
                    }
                }
            };
            let _ = timeout(linger, discard).await;
        }
        let _ = timeout(linger, connection.stream.shutdown()).await;
        reason
    }
}

impl<T: Transport> Connection<T> {
    /// Reads what the transport has into the read buffer; `Ok(0)` at end of stream.
    /// Cancellation-safe: a cancelled read has read nothing. The read size starts small (idle
    /// connections stay small) and doubles while reads fill it, up to [`READ_CHUNK_MAX`].
    async fn read_more(&mut self) -> std::io::Result<usize> {
        if self.read_buf.capacity() - self.read_buf.len() < self.read_chunk / 4 {
            self.read_buf.reserve(self.read_chunk);
        }
        let room = self.read_buf.capacity() - self.read_buf.len();
        let read = self.stream.read_buf(&mut self.read_buf).await?;
        if read == room && self.read_chunk < READ_CHUNK_MAX {
            self.read_chunk *= 2;
        }
        Ok(read)
    }
}

/// Resolves when a blocked SEND's queue has room; pending forever when nothing is blocked.
async fn wait_blocked(blocked: &mut Option<Blocked>) {
    match blocked {
        Some(blocked) => blocked.space.as_mut().await,
        None => std::future::pending().await,
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

//! One task per connection: it reads frames into the [`Session`], writes what the session
//! answers and what its outbox holds, keeps heart-beats in both directions, and closes with a
//! [`CloseReason`] that is logged, counted and kept for the snapshot.
//!
//! The loop handles every complete frame already buffered (up to a bound) before it writes, and
//! drains the outbox into the same buffer, so a busy connection sends many frames per syscall.
//! While a write waits on a peer that does not read, the task still notices a closed outbox
//! (slow consumer) or shutdown, and gives up after `write_timeout_ms`.
//!
//! CONNECT's credentials are checked by [`Logins`] (off the runtime when the authenticator may
//! block, slowed after failures from the same address), by the same deadline as the rest of the
//! handshake. A connection over `limits.max_connections_per_address` is told so and closed.
//! Everything the task does is logged inside one span carrying the connection's session id and
//! peer.
//!
//! - `host`: which virtual host a connection is for, from its CONNECT's `host` header;
//! - `stream`: the transport and its buffers;
//! - `hold`: why the task stops reading its client (a full queue, a slow subscriber it
//!   publishes to, the broker's memory bound, the store's backlog), and what it waits for.
//!
//! RECEIPTs the session holds until the store has made a change durable are written as the
//! store's writer reports batches done; a DISCONNECT waits for them (within `write_timeout_ms`)
//! before its own RECEIPT and the close.

mod hold;
mod host;
mod stream;

use std::sync::Arc;
use std::time::Duration;

use bytes::BufMut;
use stompbox_core::auth::Login;
use stompbox_core::broker::{
    error_frame, Action, Broker, CloseReason, Confirmation, ConnectionMeta, OutboxReceiver, PendingSend, ProtocolError,
    Session, SessionError, Stats,
};
use stompbox_core::codec::{CodecError, StompCodec};
use stompbox_core::frame::{encode, Command, Frame, FrameLimits, Parsed};
use stompbox_core::heartbeat::Negotiated;
use stompbox_core::store::{Store, Ticket};
use stompbox_core::Version;
use tokio::time::{sleep_until, timeout, timeout_at, Instant};
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, info_span, Instrument};

use self::hold::Hold;
use self::stream::Connection;
use crate::login::Logins;
use crate::transport::Transport;
use crate::virtual_host::VirtualHosts;

/// Frames handled per round before the task writes and checks its other duties.
const FRAMES_PER_ROUND: usize = 256;
/// Bytes of outbox messages encoded per round.
const DRAIN_BYTES_PER_ROUND: usize = 256 * 1024;

/// What every connection of a virtual host shares: the broker, the limits, and (with the other
/// hosts) login checks and connections per address.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) broker: Broker,
    pub(crate) limits: FrameLimits,
    pub(crate) timeouts: Timeouts,
    pub(crate) logins: Arc<Logins>,
}

/// The time limits a connection applies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub(crate) connect: Duration,
    pub(crate) error_linger: Duration,
    pub(crate) write: Duration,
    pub(crate) heartbeat_grace: f64,
    pub(crate) frame: Duration,
    pub(crate) queue_block: Duration,
}

/// How the loop ended, and what is left to do before the socket closes.
enum Ending {
    /// The peer is gone: nothing to flush.
    Gone(CloseReason),
    /// Flush what is buffered, then close.
    Close(CloseReason),
    /// Send an ERROR that says why, flush, then close.
    Tell(CloseReason),
}

/// Serves one accepted connection until it closes, then logs, counts and records why. With
/// several virtual hosts, the first frame's `host` header picks the host first. The handshake
/// must be over by `deadline`.
pub(crate) async fn serve<T: Transport>(
    stream: T,
    meta: ConnectionMeta,
    deadline: Instant,
    hosts: Arc<VirtualHosts>,
    cancel: CancellationToken,
) {
    let peer = meta.peer.map_or_else(|| "-".to_owned(), |peer| peer.to_string());
    let listening = &hosts.listening;
    // Connections per address are counted across hosts: checked before anything is read.
    let admitted = listening.per_address.admit(meta.peer.map(|peer| peer.ip()));
    let mut connection = Connection::new(stream, StompCodec::new(listening.limits));
    let host = match admitted.is_ok() && hosts.several() {
        true => hosts.pick(host::peek(&mut connection, deadline, &cancel).await.as_deref()),
        false => hosts.first(),
    };
    let context = host.context.clone();
    connection.codec = StompCodec::new(context.limits);
    let connector = meta.connector.clone();
    let (session, outbox) = context.broker.open_session(meta);
    let span = info_span!("connection", session = session.name(), %peer, listener = %connector.name,
        kind = %connector.kind, host = %host.spec.id);
    let mut task = Task {
        connection,
        session,
        outbox,
        version: Version::V1_0,
        heartbeat: Negotiated::default(),
        connect_deadline: deadline,
        last_read: Instant::now(),
        last_write: Instant::now(),
        replies: Vec::new(),
        hold: None,
        frame_started: None,
        read_held: 0,
        login: None,
        context,
        cancel,
    };
    span.in_scope(|| info!("connection opened"));
    // The address's slot (if any) is held until the connection ends.
    let ending = match &admitted {
        Ok(_) => task.run().instrument(span.clone()).await,
        &Err(limit) => Ending::Tell(CloseReason::TooManyFromAddress { limit }),
    };
    let reason = task.end(ending).instrument(span.clone()).await;
    span.in_scope(|| info!(%reason, "connection closed"));
    task.context.broker.memory().sub(task.read_held);
    task.session.finish(&reason);
}

struct Task<T> {
    connection: Connection<T>,
    session: Session,
    outbox: OutboxReceiver,
    version: Version,
    heartbeat: Negotiated,
    connect_deadline: Instant,
    last_read: Instant,
    last_write: Instant,
    replies: Vec<Frame>,
    /// Why the client is not being read, if it is not.
    hold: Option<Hold>,
    /// When the frame now partly in the read buffer began to arrive.
    frame_started: Option<Instant>,
    /// The read buffer's bytes counted against the broker's memory bound.
    read_held: usize,
    /// CONNECT's credentials, waiting to be checked.
    login: Option<Login>,
    context: Arc<Context>,
    cancel: CancellationToken,
}

impl<T: Transport> Task<T> {
    /// Serves the connection until it must end. The ending itself is [`Task::end`]'s, apart, so
    /// its futures do not add to the size of this one, which every connection holds.
    async fn run(&mut self) -> Ending {
        loop {
            // Deliveries first, then the client's frames: what was queued for this connection
            // before a frame is handled goes out before that frame's RECEIPT.
            let drained = self.outbox.drain(&mut self.connection.write_buf, DRAIN_BYTES_PER_ROUND);
            Stats::add(&self.session.counters().messages_out, drained.frames as u64);
            if let Some(closed) = drained.closed {
                return Ending::Tell(closed.into());
            }
            let mut more_buffered = false;
            if let Err(reason) = self.handle_buffered(&mut more_buffered) {
                return Ending::Close(reason);
            }
            if let Some(login) = self.login.take() {
                // Once per connection: boxed, so it adds nothing to this future's size.
                if let Err(reason) = Box::pin(self.authenticate(login)).await {
                    return Ending::Close(reason);
                }
                // Frames sent right behind CONNECT wait in the buffer: handle them next.
                more_buffered = true;
            }
            if !self.connection.write_buf.is_empty() {
                if let Err(reason) = self.write_out().await {
                    // A slow consumer or a shutdown noticed mid-write is told why, like one
                    // noticed between writes; a peer that cannot be written to is not.
                    return match reason {
                        CloseReason::SlowConsumer { .. } | CloseReason::Protocol(_) | CloseReason::Shutdown => {
                            Ending::Tell(reason)
                        }
                        _ => Ending::Close(reason),
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
            let deadline = self.deadline();
            let send_deadline = self.heartbeat.send_every.map(|every| self.last_write + every);
            let memory = self.context.broker.memory().clone();
            let store = self.context.broker.store();
            let awaited = self.session.awaited();
            let confirming = self.session.awaited_confirmation();
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => return Ending::Tell(CloseReason::Shutdown),
                read = self.connection.read_more(), if self.hold.is_none() => match read {
                    Ok(0) => {
                        return Ending::Gone(match self.connection.codec.decode_eof(&mut self.connection.read_buf) {
                            Err(CodecError::Io(error)) => CloseReason::Io(error),
                            _ => CloseReason::PeerClosed,
                        });
                    }
                    Ok(read) => {
                        self.last_read = Instant::now();
                        self.frame_started.get_or_insert(self.last_read);
                        Stats::add(&self.session.counters().bytes_in, read as u64);
                        self.count_read_buffer();
                    }
                    Err(error) => return Ending::Gone(CloseReason::Io(error)),
                },
                () = self.outbox.ready() => {}
                () = durable(store, awaited), if awaited.is_some() => {
                    let released = self.session.release_receipts(&mut self.replies);
                    if let Err(reason) = self.apply(released.map(|()| Action::Continue)) {
                        return Ending::Close(reason);
                    }
                }
                () = answered(confirming.as_ref()), if confirming.is_some() => {
                    let released = self.session.release_receipts(&mut self.replies);
                    if let Err(reason) = self.apply(released.map(|()| Action::Continue)) {
                        return Ending::Close(reason);
                    }
                }
                () = hold::released(&mut self.hold, &memory, store) => {
                    // Time spent held is not the client's: its deadlines start afresh.
                    self.last_read = Instant::now();
                    self.frame_started = (!self.connection.read_buf.is_empty()).then_some(self.last_read);
                    if let Err(reason) = self.release() {
                        return Ending::Close(reason);
                    }
                }
                () = sleep_until(send_deadline.unwrap_or_else(far_future)), if send_deadline.is_some() => {
                    self.connection.write_buf.put_u8(b'\n');
                }
                () = sleep_until(deadline.as_ref().map_or_else(far_future, |(at, _)| *at)), if deadline.is_some() => {
                    let (_, reason) = deadline.expect("the branch runs only with a deadline");
                    return Ending::Tell(reason);
                }
            }
        }
    }

    fn grace(&self, every: Duration) -> Duration {
        every.mul_f64(self.context.timeouts.heartbeat_grace)
    }

    /// The next deadline the client must meet, with the reason to close for if it does not:
    /// CONNECT's, its heart-beats', a started frame's, and a blocked producer's.
    fn deadline(&self) -> Option<(Instant, CloseReason)> {
        let timeouts = &self.context.timeouts;
        if self.session.version().is_none() {
            return Some((self.connect_deadline, CloseReason::ConnectTimeout(timeouts.connect)));
        }
        if let Some(Hold::QueueFull { pending, since, .. }) = &self.hold {
            let queue = pending.destination().to_owned();
            return Some((
                *since + timeouts.queue_block,
                CloseReason::QueueBlockTimeout { queue, after: timeouts.queue_block },
            ));
        }
        if self.hold.is_some() {
            // Not read, so it cannot be late.
            return None;
        }
        let heartbeat = self.heartbeat.expect_every.map(|every| {
            let grace = self.grace(every);
            (self.last_read + grace, CloseReason::HeartbeatTimeout(grace))
        });
        let frame =
            self.frame_started.map(|started| (started + timeouts.frame, CloseReason::FrameTimeout(timeouts.frame)));
        match (heartbeat, frame) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    /// Counts the read buffer's bytes (partly read frames) against the broker's memory bound.
    ///
    /// A connection the memory bound holds does not count its buffer: it cannot shrink until the
    /// connection is released, so counting it could keep the broker over its watermark for
    /// good. Those buffers are the bound's slack: a partly read frame per held connection.
    fn count_read_buffer(&mut self) {
        let held = match self.hold {
            Some(Hold::Memory(_) | Hold::Store(_)) => 0,
            _ => self.connection.read_buf.len(),
        };
        let memory = self.context.broker.memory();
        if held > self.read_held {
            memory.add(held - self.read_held);
        } else {
            memory.sub(self.read_held - held);
        }
        self.read_held = held;
    }

    /// Stops reading the client until `hold` is released; the snapshot says why.
    fn hold(&mut self, hold: Hold) {
        self.session.set_held_by(Some(hold.describe()));
        self.hold = Some(hold);
        self.count_read_buffer();
    }

    /// Goes on after a hold: resumes a held-back SEND or handles a SEND the memory bound held.
    fn release(&mut self) -> Result<(), CloseReason> {
        self.session.set_held_by(None);
        let hold = self.hold.take();
        self.count_read_buffer();
        match hold {
            Some(Hold::QueueFull { pending, .. }) => {
                self.resume(pending);
                Ok(())
            }
            Some(Hold::Memory(frame) | Hold::Store(frame)) => self.handle_frame(frame),
            Some(Hold::Paced(_)) | None => Ok(()),
        }
    }

    /// Hands one frame to the session, unless it is a SEND and the broker is over its memory
    /// bound: then the SEND waits, and the client is not read meanwhile.
    fn handle_frame(&mut self, frame: Frame) -> Result<(), CloseReason> {
        if frame.command == Command::Send && self.context.broker.memory().is_over() {
            self.hold(Hold::Memory(frame));
            return Ok(());
        }
        if frame.command == Command::Send && self.context.broker.store().is_some_and(Store::is_backlogged) {
            self.hold(Hold::Store(frame));
            return Ok(());
        }
        let result = self.session.handle(frame, &mut self.replies);
        self.apply(result)
    }

    /// Handles the complete frames already in the read buffer, up to [`FRAMES_PER_ROUND`].
    fn handle_buffered(&mut self, more_buffered: &mut bool) -> Result<(), CloseReason> {
        let handled = self.decode_buffered(more_buffered);
        self.count_read_buffer();
        handled
    }

    fn decode_buffered(&mut self, more_buffered: &mut bool) -> Result<(), CloseReason> {
        for _ in 0..FRAMES_PER_ROUND {
            if self.hold.is_some() || self.login.is_some() {
                return Ok(());
            }
            match self.connection.codec.decode(&mut self.connection.read_buf) {
                Ok(None) => return Ok(()),
                Ok(Some(parsed)) => {
                    // A frame is complete: what remains began to arrive no earlier than now.
                    self.frame_started = (!self.connection.read_buf.is_empty()).then(Instant::now);
                    if let Parsed::Frame(frame) = parsed {
                        self.handle_frame(frame)?;
                    }
                }
                Err(CodecError::Frame(error)) => {
                    let error = SessionError { error: ProtocolError::Frame(error), receipt: None };
                    return self.apply(Err(error));
                }
                Err(CodecError::Io(error)) => return Err(CloseReason::Io(error)),
            }
        }
        *more_buffered = true;
        Ok(())
    }

    /// Writes the session's replies and acts on what it answered.
    fn apply(&mut self, result: Result<Action, SessionError>) -> Result<(), CloseReason> {
        self.encode_replies();
        match result {
            Ok(Action::Continue) => Ok(()),
            Ok(Action::Authenticate(login)) => {
                self.login = Some(login);
                Ok(())
            }
            Ok(Action::Connected { version, heartbeat }) => {
                self.version = version;
                self.heartbeat = heartbeat;
                self.connection.codec.set_version(version);
                debug!(%version, ?heartbeat, "session connected");
                Ok(())
            }
            Ok(Action::Disconnect) => Err(CloseReason::Disconnect),
            Ok(Action::Blocked(pending)) => {
                self.resume(pending);
                Ok(())
            }
            Ok(Action::Paced(pressure)) => {
                self.hold(Hold::Paced(pressure));
                Ok(())
            }
            Err(error) => {
                encode(&error.to_frame(), self.version, &mut self.connection.write_buf);
                Err(CloseReason::Protocol(error.error))
            }
        }
    }

    /// Checks CONNECT's credentials (off the runtime when they may block) and finishes the
    /// handshake, by the connect deadline.
    async fn authenticate(&mut self, login: Login) -> Result<(), CloseReason> {
        let check = self.context.logins.verify(self.session.peer(), login, self.context.broker.authenticator());
        let verdict = tokio::select! {
            () = self.cancel.cancelled() => return Err(CloseReason::Shutdown),
            checked = timeout_at(self.connect_deadline, check) => match checked {
                Err(_) => return Err(CloseReason::ConnectTimeout(self.context.timeouts.connect)),
                Ok(verdict) => verdict,
            },
        };
        let result = self.session.authenticated(verdict, &mut self.replies);
        self.apply(result)
    }

    /// Waits for room for a held-back SEND: arms the wake-up first, then tries once more, so
    /// room made in between is not missed.
    fn resume(&mut self, pending: PendingSend) {
        let mut armed = Box::pin(pending.space().notified_owned());
        armed.as_mut().enable();
        let action = self.session.resume(pending, &mut self.replies);
        self.encode_replies();
        match action {
            Action::Blocked(pending) => self.hold(Hold::QueueFull { pending, space: armed, since: Instant::now() }),
            Action::Paced(pressure) => self.hold(Hold::Paced(pressure)),
            _ => {}
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
        while !self.connection.write_buf.is_empty() {
            tokio::select! {
                // The write first: when the socket takes it at once (usually), nothing else is
                // polled, so no timer or waiter is registered just to be dropped again. A peer
                // that keeps taking bytes is making progress; the others are seen once it stops.
                biased;
                // Cancellation-safe: when another branch wins, nothing was written.
                result = self.connection.write_some() => match result {
                    Ok(0) => return Err(CloseReason::Io(std::io::ErrorKind::WriteZero.into())),
                    Ok(written) => {
                        Stats::add(&self.session.counters().bytes_out, written as u64);
                        self.outbox.wrote();
                    }
                    Err(error) => return Err(CloseReason::Io(error)),
                },
                () = sleep_until(deadline) => return Err(CloseReason::WriteTimeout(limit)),
                () = self.cancel.cancelled() => return Err(CloseReason::Shutdown),
                closed = self.outbox.wait_closed() => return Err(closed.into()),
            }
        }
        self.connection.written_out();
        self.last_write = Instant::now();
        Ok(())
    }

    /// Ends the connection as `ending` says; returns why it ended.
    async fn end(&mut self, ending: Ending) -> CloseReason {
        match ending {
            Ending::Gone(reason) => reason,
            Ending::Close(CloseReason::Disconnect) => {
                self.release_held_receipts().await;
                self.close(CloseReason::Disconnect).await
            }
            Ending::Close(reason) => self.close(reason).await,
            Ending::Tell(reason) => {
                let error = error_frame(reason.code(), &reason.to_string(), None);
                encode(&error, self.version, &mut self.connection.write_buf);
                self.close(reason).await
            }
        }
    }

    /// Before a DISCONNECT's close: waits (at most `write_timeout_ms`) for the store to make
    /// durable, and the cluster to confirm, what the held receipts are for, then writes them, or
    /// the ERROR saying the store failed or the cluster refused.
    async fn release_held_receipts(&mut self) {
        let store = self.context.broker.store().cloned();
        let deadline = Instant::now() + self.context.timeouts.write;
        loop {
            let (awaited, confirming) = (self.session.awaited(), self.session.awaited_confirmation());
            if awaited.is_none() && confirming.is_none() {
                let released = self.session.release_receipts(&mut self.replies);
                let _ = self.apply(released.map(|()| Action::Continue));
                return;
            }
            let either = async {
                tokio::select! {
                    () = durable(store.as_ref(), awaited), if awaited.is_some() => {}
                    () = answered(confirming.as_ref()), if confirming.is_some() => {}
                }
            };
            let waited = timeout_at(deadline, either).await;
            let released = self.session.release_receipts(&mut self.replies);
            if waited.is_err() || self.apply(released.map(|()| Action::Continue)).is_err() {
                return;
            }
        }
    }

    /// Flushes what is buffered (ERROR frames included), lingers briefly after an error while
    /// ignoring what the peer sends, then lets the socket close.
    async fn close(&mut self, reason: CloseReason) -> CloseReason {
        let linger = self.context.timeouts.error_linger;
        let connection = &mut self.connection;
        if timeout(linger, connection.flush()).await.is_ok() && reason.lingers() {
            let _ = timeout(linger, connection.discard_input()).await;
        }
        let _ = timeout(linger, connection.shutdown()).await;
        reason
    }
}

/// Resolves once `ticket` is durable (or the store failed); pending forever without both.
async fn durable(store: Option<&Store>, ticket: Option<Ticket>) {
    match (store, ticket) {
        (Some(store), Some(ticket)) => store.wait_for(|store| store.is_durable(ticket)).await,
        _ => std::future::pending().await,
    }
}

/// Resolves once the cluster answered `confirmation`; pending forever without one.
async fn answered(confirmation: Option<&Confirmation>) {
    match confirmation {
        Some(confirmation) => confirmation.answered().await,
        None => std::future::pending().await,
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

//! A blocking STOMP client on `std::net` sockets: no async runtime, and no thread unless
//! heart-beats are negotiated.
//!
//! [`Client`] owns one connection. It reads through the core [`FrameParser`] over its own read
//! buffer and writes each frame with one `write_all` from a reused buffer. Frames that arrive
//! while it waits for a RECEIPT are kept, in order, for [`Client::read_frame`]. Every wait is
//! cut into slices of at most [`POLL_SLICE`], and [`Client::read_frame_until`] returns at its
//! deadline, so a caller (the Python binding) can check for signals between slices.
//!
//! Besides the STOMP 1.2 client, [`Mode::Pecl`] speaks as PHP's PECL stomp extension does: a
//! STOMP 1.0 CONNECT with headers in the order given, and frames written with
//! [`Client::send_frame`] go out unescaped, byte for byte as built.
//!
//! - [`url`]: broker URLs, failover lists.
//! - [`error`]: [`Error`], which keeps a broker's ERROR frame.
//! - `heartbeat`: the heart-beat thread.

pub mod error;
mod heartbeat;
pub mod url;

use std::collections::VecDeque;
use std::io::{self, Read};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};

pub use self::error::{Error, Result};
use self::heartbeat::{HeartbeatThread, Writer};
pub use self::url::Endpoint;
use crate::error_code::ErrorCode;
use crate::frame::{escape_for, header, write_header, Command, Escaping, Frame, FrameLimits, FrameParser, Parsed};
use crate::heartbeat::{negotiate, Heartbeat};
use crate::version::Version;

/// The longest a blocking read waits before returning to its caller's loop.
pub const POLL_SLICE: Duration = Duration::from_millis(100);

/// How much is read from the socket at most per `read` call.
const READ_CHUNK: usize = 64 * 1024;

/// An empty header list, for calls that need none: `client.send("/queue/a", body, NO_HEADERS)`.
pub const NO_HEADERS: &[(&str, &str)] = &[];

/// How the client speaks to the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// STOMP 1.2 with fallback: CONNECT offers `accept-version:1.0,1.1,1.2` and `host`, headers
    /// are escaped as the negotiated version says.
    #[default]
    Standard,
    /// As PHP's PECL stomp extension: a STOMP 1.0 CONNECT holding `login`, `passcode` (when
    /// given) and the extra headers in their order, and no header is ever escaped on the way
    /// out. Incoming frames are unescaped as the version in CONNECTED says (1.0: not at all).
    Pecl,
}

/// How to connect. `ConnectOptions::default()` connects anonymously with a 10 s timeout and no
/// heart-beats.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `login` header.
    pub login: Option<String>,
    /// `passcode` header.
    pub passcode: Option<String>,
    /// Extra CONNECT headers, in order. One named like a header the client sets (`host`,
    /// `accept-version`, `heart-beat`) replaces it.
    pub headers: Vec<(String, String)>,
    /// The `host` header (virtual host); default: the host of the address connected to.
    pub virtual_host: Option<String>,
    /// The heart-beats offered: send every `send_ms`, want one every `receive_ms` (0: never).
    pub heartbeat: Heartbeat,
    /// Bounds the TCP connect, the wait for CONNECTED, each RECEIPT wait and each write.
    pub timeout: Duration,
    /// Bounds the wait for CONNECTED on its own, counted from the end of the TCP connect
    /// (PECL stomp waits its read timeout there). `None`: what is left of `timeout`.
    pub connected_timeout: Option<Duration>,
    /// Limits applied to frames from the broker.
    pub limits: FrameLimits,
    /// Protocol flavour.
    pub mode: Mode,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            login: None,
            passcode: None,
            headers: Vec::new(),
            virtual_host: None,
            heartbeat: Heartbeat::default(),
            timeout: Duration::from_secs(10),
            connected_timeout: None,
            limits: FrameLimits::default(),
            mode: Mode::Standard,
        }
    }
}

/// A connection to a STOMP broker. See the module docs.
#[derive(Debug)]
pub struct Client {
    writer: Arc<Writer>,
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
    /// The read timeout currently set on the socket.
    socket_timeout: Option<Duration>,
    /// When the last byte arrived, and how often the broker promised to send one.
    last_read: Instant,
    expect_every: Option<Duration>,
    heartbeat: Option<HeartbeatThread>,
    next_id: u64,
    closed: bool,
    /// While batching: frames written but not yet sent (see [`Client::set_batching`]).
    batch: Option<BytesMut>,
}

/// A batch is sent once it holds this many bytes (or before any wait for the broker).
const BATCH_FLUSH_BYTES: usize = 64 * 1024;

impl Client {
    /// Connects to `url` (see [`url::parse`]), trying each address of a failover list in order,
    /// and performs the STOMP handshake. A broker's ERROR answer is final (no further address is
    /// tried): [`Error::Auth`] when it refuses the credentials, [`Error::Broker`] otherwise.
    pub fn connect(url: &str, options: &ConnectOptions) -> Result<Client> {
        let endpoints = url::parse(url)?;
        let mut last = None;
        for endpoint in endpoints {
            match Client::connect_endpoint(&endpoint, options) {
                Ok(client) => return Ok(client),
                Err(err @ (Error::Connect { .. } | Error::Io(_) | Error::Closed { .. } | Error::Timeout(_))) => {
                    last = Some(err);
                }
                Err(err) => return Err(err),
            }
        }
        Err(last.unwrap_or_else(|| Error::InvalidUrl { url: url.to_owned(), reason: "no address".to_owned() }))
    }

    fn connect_endpoint(endpoint: &Endpoint, options: &ConnectOptions) -> Result<Client> {
        let addr = endpoint.to_string();
        let connect_err = |source: io::Error| Error::Connect { addr: addr.clone(), source };
        let addrs = (endpoint.host.as_str(), endpoint.port).to_socket_addrs().map_err(connect_err)?;
        let deadline = Instant::now() + options.timeout;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "host name resolved to no address");
        let mut stream = None;
        for sock_addr in addrs {
            let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
            match TcpStream::connect_timeout(&sock_addr, left) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let stream = stream.ok_or_else(|| connect_err(last))?;
        stream.set_nodelay(true).map_err(connect_err)?;
        stream.set_write_timeout(Some(options.timeout.max(Duration::from_millis(1)))).map_err(connect_err)?;
        let mut client = Client {
            writer: Arc::new(Writer::new(stream)),
            endpoint: endpoint.clone(),
            parser: FrameParser::new(options.limits),
            read_buf: BytesMut::with_capacity(READ_CHUNK),
            scratch: vec![0; READ_CHUNK].into_boxed_slice(),
            write_buf: BytesMut::with_capacity(4096),
            pending: VecDeque::new(),
            version: Version::V1_0,
            mode: options.mode,
            session: None,
            server: None,
            timeout: options.timeout,
            socket_timeout: None,
            last_read: Instant::now(),
            expect_every: None,
            heartbeat: None,
            next_id: 0,
            closed: false,
            batch: None,
        };
        let deadline = options.connected_timeout.map_or(deadline, |wait| Instant::now() + wait);
        client.handshake(options, deadline)?;
        Ok(client)
    }

    fn handshake(&mut self, options: &ConnectOptions, deadline: Instant) -> Result<()> {
        let mut connect = Frame::new(Command::Connect);
        let has_extra = |name: &str| options.headers.iter().any(|(n, _)| n == name);
        if self.mode == Mode::Standard {
            if !has_extra(header::ACCEPT_VERSION) {
                connect.headers.push((header::ACCEPT_VERSION.into(), "1.0,1.1,1.2".into()));
            }
            if !has_extra(header::HOST) {
                let host = options.virtual_host.clone().unwrap_or_else(|| self.endpoint.host.clone());
                connect.headers.push((header::HOST.into(), host));
            }
            if options.heartbeat != Heartbeat::default() && !has_extra(header::HEART_BEAT) {
                connect.headers.push((header::HEART_BEAT.into(), options.heartbeat.to_header()));
            }
        }
        if let Some(login) = &options.login {
            connect.headers.push((header::LOGIN.into(), login.clone()));
        }
        if let Some(passcode) = &options.passcode {
            connect.headers.push((header::PASSCODE.into(), passcode.clone()));
        }
        connect.headers.extend(options.headers.iter().cloned());
        self.write_frame(&connect, Escaping::None)?;

        let answer = loop {
            match self.next_frame(deadline)? {
                Some(frame) => break frame,
                None if Instant::now() >= deadline => return Err(Error::Timeout("CONNECTED")),
                None => {}
            }
        };
        match answer.command {
            Command::Connected => {}
            Command::Error => {
                self.close_socket();
                let message = answer.header(header::MESSAGE).unwrap_or_default().to_owned();
                let code = answer.header(header::CODE).and_then(ErrorCode::parse);
                return Err(if code == Some(ErrorCode::AuthenticationFailed) {
                    Error::Auth { message, frame: Box::new(answer) }
                } else {
                    Error::from_error_frame(answer)
                });
            }
            other => {
                self.close_socket();
                return Err(Error::Unexpected(format!("{} in answer to CONNECT", other.as_str())));
            }
        }
        self.version = match answer.header(header::VERSION) {
            None => Version::V1_0,
            Some(v) => Version::parse(v).ok_or_else(|| Error::Unexpected(format!("unsupported version {v:?}")))?,
        };
        self.parser.set_version(self.version);
        self.session = answer.header(header::SESSION).map(str::to_owned);
        self.server = answer.header(header::SERVER).map(str::to_owned);
        let theirs = match answer.header(header::HEART_BEAT) {
            Some(value) => Heartbeat::parse(value)
                .ok_or_else(|| Error::Unexpected(format!("invalid heart-beat header {value:?}")))?,
            None => Heartbeat::default(),
        };
        // `negotiate` takes the server's view: its `send_every` is what we receive.
        let agreed = negotiate(options.heartbeat, theirs);
        self.expect_every = agreed.send_every;
        if let Some(every) = agreed.expect_every {
            self.heartbeat = Some(HeartbeatThread::start(self.writer.clone(), every)?);
        }
        Ok(())
    }

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

    /// A fresh id, unique within this connection, for a receipt, subscription or transaction.
    pub fn next_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{}", self.next_id)
    }

    /// Sends a message. A `content-length` header is added unless `headers` has one. With a
    /// `receipt` header, waits for the RECEIPT.
    pub fn send<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        destination: &str,
        body: &[u8],
        headers: &[(K, V)],
    ) -> Result<()> {
        self.check_open()?;
        let escaping = self.escaping(Command::Send);
        let mut buf = std::mem::take(&mut self.write_buf);
        buf.clear();
        buf.reserve(body.len() + 64);
        buf.extend_from_slice(b"SEND\n");
        write_header(&mut buf, header::DESTINATION, destination, escaping);
        if !headers.iter().any(|(n, _)| n.as_ref() == header::CONTENT_LENGTH) {
            buf.extend_from_slice(b"content-length:");
            buf.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
            buf.put_u8(b'\n');
        }
        let mut receipt = None;
        for (name, value) in headers {
            let (name, value) = (name.as_ref(), value.as_ref());
            if name == header::RECEIPT && receipt.is_none() {
                receipt = Some(value.to_owned());
            }
            write_header(&mut buf, name, value, escaping);
        }
        buf.put_u8(b'\n');
        buf.extend_from_slice(body);
        buf.put_u8(0);
        let written = self.write_bytes(&buf);
        self.write_buf = buf;
        written?;
        match receipt {
            Some(id) => self.await_receipt(&id),
            None => Ok(()),
        }
    }

    /// Subscribes to `destination` and returns the subscription id: the `id` header if
    /// `headers` has one, else a generated one. With a `receipt` header, waits for the RECEIPT.
    pub fn subscribe<K: AsRef<str>, V: AsRef<str>>(&mut self, destination: &str, headers: &[(K, V)]) -> Result<String> {
        let mut frame = Frame::new(Command::Subscribe).with_header(header::DESTINATION, destination);
        let id = match headers.iter().find(|(n, _)| n.as_ref() == header::ID) {
            Some((_, v)) => v.as_ref().to_owned(),
            None => {
                let id = self.next_id("sub");
                frame.headers.push((header::ID.into(), id.clone()));
                id
            }
        };
        push_headers(&mut frame, headers);
        self.send_frame(&frame)?;
        Ok(id)
    }

    /// Ends the subscription `id`. With a `receipt` header, waits for the RECEIPT.
    pub fn unsubscribe<K: AsRef<str>, V: AsRef<str>>(&mut self, id: &str, headers: &[(K, V)]) -> Result<()> {
        let mut frame = Frame::new(Command::Unsubscribe).with_header(header::ID, id);
        push_headers(&mut frame, headers);
        self.send_frame(&frame)
    }

    /// Acknowledges a received MESSAGE, naming it as the negotiated version requires: 1.2 by
    /// its `ack` header (in `id`), 1.1 by `message-id` and `subscription`, 1.0 by `message-id`.
    pub fn ack<K: AsRef<str>, V: AsRef<str>>(&mut self, message: &Frame, headers: &[(K, V)]) -> Result<()> {
        let frame = self.acknowledgement(Command::Ack, message, headers)?;
        self.send_frame(&frame)
    }

    /// Rejects a received MESSAGE (STOMP 1.1+; a 1.0 broker may refuse it). Headers as [`Client::ack`].
    pub fn nack<K: AsRef<str>, V: AsRef<str>>(&mut self, message: &Frame, headers: &[(K, V)]) -> Result<()> {
        let frame = self.acknowledgement(Command::Nack, message, headers)?;
        self.send_frame(&frame)
    }

    fn acknowledgement<K: AsRef<str>, V: AsRef<str>>(
        &self,
        command: Command,
        message: &Frame,
        headers: &[(K, V)],
    ) -> Result<Frame> {
        if message.command != Command::Message {
            return Err(Error::InvalidArgument(format!("cannot acknowledge a {} frame", message.command.as_str())));
        }
        let message_id = message.header(header::MESSAGE_ID);
        let missing = |name: &str| Error::InvalidArgument(format!("MESSAGE has no {name} header"));
        let mut frame = Frame::new(command);
        match self.version {
            Version::V1_2 => {
                let id = message.header(header::ACK).or(message_id).ok_or_else(|| missing(header::ACK))?;
                frame.headers.push((header::ID.into(), id.to_owned()));
            }
            Version::V1_1 => {
                let id = message_id.ok_or_else(|| missing(header::MESSAGE_ID))?;
                frame.headers.push((header::MESSAGE_ID.into(), id.to_owned()));
                let subscription = message.header(header::SUBSCRIPTION).ok_or_else(|| missing(header::SUBSCRIPTION))?;
                frame.headers.push((header::SUBSCRIPTION.into(), subscription.to_owned()));
            }
            Version::V1_0 => {
                let id = message_id.ok_or_else(|| missing(header::MESSAGE_ID))?;
                frame.headers.push((header::MESSAGE_ID.into(), id.to_owned()));
            }
        }
        push_headers(&mut frame, headers);
        Ok(frame)
    }

    /// Opens a transaction, `transaction` or a generated id, and returns its id.
    pub fn begin<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        transaction: Option<&str>,
        headers: &[(K, V)],
    ) -> Result<String> {
        let id = match transaction {
            Some(id) => id.to_owned(),
            None => self.next_id("tx"),
        };
        self.transaction(Command::Begin, &id, headers)?;
        Ok(id)
    }

    /// Commits a transaction.
    pub fn commit<K: AsRef<str>, V: AsRef<str>>(&mut self, transaction: &str, headers: &[(K, V)]) -> Result<()> {
        self.transaction(Command::Commit, transaction, headers)
    }

    /// Rolls back a transaction.
    pub fn abort<K: AsRef<str>, V: AsRef<str>>(&mut self, transaction: &str, headers: &[(K, V)]) -> Result<()> {
        self.transaction(Command::Abort, transaction, headers)
    }

    fn transaction<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        command: Command,
        id: &str,
        headers: &[(K, V)],
    ) -> Result<()> {
        let mut frame = Frame::new(command).with_header(header::TRANSACTION, id);
        push_headers(&mut frame, headers);
        self.send_frame(&frame)
    }

    /// Sends any frame with its headers in the given order; the caller adds `content-length`.
    /// Headers are escaped as the negotiated version says, except in [`Mode::Pecl`] and for
    /// CONNECT/STOMP, where they are written exactly as given. With a `receipt` header, waits
    /// for the RECEIPT (or fails with the ERROR that comes instead).
    pub fn send_frame(&mut self, frame: &Frame) -> Result<()> {
        self.check_open()?;
        self.write_frame(frame, self.escaping(frame.command))?;
        match frame.header(header::RECEIPT) {
            Some(id) => self.await_receipt(id),
            None => Ok(()),
        }
    }

    /// Writes bytes as they are, for callers that build frames themselves.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.check_open()?;
        self.write_bytes(bytes)
    }

    /// Ends the session: DISCONNECT with a receipt, waits for it (bounded by the timeout), then
    /// closes the socket. Closing an already closed client does nothing.
    pub fn disconnect(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        let receipt = self.next_id("disconnect");
        let frame = Frame::new(Command::Disconnect).with_header(header::RECEIPT, receipt);
        let result = self.send_frame(&frame);
        self.close_socket();
        result
    }

    /// Closes the socket without DISCONNECT.
    pub fn close(&mut self) {
        let _ = self.flush();
        self.close_socket();
    }

    /// Batching on: frames are collected and sent together, in one write per
    /// [`BATCH_FLUSH_BYTES`], instead of one write each. Whatever is collected is sent before
    /// the client waits for the broker (a receipt, `read_frame`, `has_frame`), on
    /// [`Client::flush`], and when batching is turned off. Nothing is sent by itself otherwise,
    /// so a batch must end (turn batching off) before the program waits on something else.
    pub fn set_batching(&mut self, on: bool) -> Result<()> {
        if on {
            self.batch.get_or_insert_with(BytesMut::new);
            Ok(())
        } else {
            let flushed = self.flush();
            self.batch = None;
            flushed
        }
    }

    /// Sends what a batch has collected so far.
    pub fn flush(&mut self) -> Result<()> {
        match self.batch.as_mut().filter(|batch| !batch.is_empty()).map(std::mem::take) {
            Some(collected) => {
                let written = self.write_now(&collected);
                if let Some(batch) = self.batch.as_mut() {
                    *batch = collected;
                    batch.clear();
                }
                written
            }
            None => Ok(()),
        }
    }

    /// The next frame, waiting up to `timeout`; `Ok(None)` on timeout. An ERROR frame is
    /// returned as [`Error::Broker`]; RECEIPTs nobody waits for are dropped.
    pub fn read_frame(&mut self, timeout: Duration) -> Result<Option<Frame>> {
        self.read_frame_until(Instant::now() + timeout)
    }

    /// As [`Client::read_frame`], with a deadline. Each socket read waits at most
    /// [`POLL_SLICE`], so a caller can pass a near deadline and loop to stay interruptible.
    pub fn read_frame_until(&mut self, deadline: Instant) -> Result<Option<Frame>> {
        if let Some(frame) = self.pending.pop_front() {
            return Ok(Some(frame));
        }
        self.check_open()?;
        loop {
            match self.next_frame(deadline)? {
                None => return Ok(None),
                Some(frame) => match frame.command {
                    Command::Error => {
                        self.close_socket();
                        return Err(Error::from_error_frame(frame));
                    }
                    Command::Receipt => {}
                    _ => return Ok(Some(frame)),
                },
            }
        }
    }

    /// The next frame of any kind, waiting up to `timeout`; `Ok(None)` on timeout. Unlike
    /// [`Client::read_frame`], an ERROR is returned as a frame and leaves the connection open,
    /// and RECEIPTs are returned too: for callers that keep their own receipt bookkeeping, as
    /// the PHP binding does to behave like PECL stomp (which waits for receipts itself, and
    /// whose `readFrame` returns every frame). Frames kept by a RECEIPT wait come first.
    pub fn read_raw_frame(&mut self, timeout: Duration) -> Result<Option<Frame>> {
        if let Some(frame) = self.pending.pop_front() {
            return Ok(Some(frame));
        }
        self.check_open()?;
        self.next_frame(Instant::now() + timeout)
    }

    /// Whether a frame can be read: one is kept, or one arrives within `timeout` (which may be
    /// zero). A frame that arrives is kept for [`Client::read_frame`].
    pub fn has_frame(&mut self, timeout: Duration) -> Result<bool> {
        if !self.pending.is_empty() {
            return Ok(true);
        }
        let deadline = Instant::now() + timeout;
        match self.read_frame_until(deadline) {
            Ok(Some(frame)) => {
                self.pending.push_back(frame);
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Waits for the RECEIPT `id`, keeping other frames for [`Client::read_frame`].
    fn await_receipt(&mut self, id: &str) -> Result<()> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let Some(frame) = self.next_frame(deadline)? else {
                if Instant::now() >= deadline {
                    return Err(Error::Timeout("RECEIPT"));
                }
                continue;
            };
            match frame.command {
                Command::Receipt if frame.header(header::RECEIPT_ID) == Some(id) => return Ok(()),
                Command::Receipt => {}
                Command::Error => {
                    self.close_socket();
                    return Err(Error::from_error_frame(frame));
                }
                _ => self.pending.push_back(frame),
            }
        }
    }

    /// Parses the next frame off the read buffer, reading as needed until `deadline`.
    /// `Ok(None)`: the deadline passed (possibly having read a partial frame).
    fn next_frame(&mut self, deadline: Instant) -> Result<Option<Frame>> {
        self.flush()?;
        loop {
            match self.parser.parse(&mut self.read_buf) {
                Ok(Some(Parsed::Frame(frame))) => return Ok(Some(frame)),
                Ok(Some(Parsed::Heartbeat)) => continue,
                Ok(None) => {}
                Err(err) => {
                    self.close_socket();
                    return Err(Error::Protocol(err));
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            self.fill(deadline - now)?;
        }
    }

    /// One socket read of at most `wait` (and [`POLL_SLICE`]). Fails on EOF, on a socket
    /// error and when the broker's heart-beats stopped.
    fn fill(&mut self, wait: Duration) -> Result<()> {
        let wait = wait.clamp(Duration::from_millis(1), POLL_SLICE);
        if self.socket_timeout != Some(wait) {
            self.writer.stream().set_read_timeout(Some(wait))?;
            self.socket_timeout = Some(wait);
        }
        match self.writer.stream().read(&mut self.scratch) {
            Ok(0) => {
                let mid_frame = !self.read_buf.is_empty();
                self.close_socket();
                Err(Error::Closed { mid_frame })
            }
            Ok(n) => {
                self.read_buf.extend_from_slice(&self.scratch[..n]);
                self.last_read = Instant::now();
                Ok(())
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                self.check_broker_alive()
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => {
                self.close_socket();
                Err(Error::Io(e))
            }
        }
    }

    /// After a read found nothing: has the broker been silent for longer than it promised?
    /// Everything it sent before now has been read, so the time since the last byte is exact.
    fn check_broker_alive(&mut self) -> Result<()> {
        if let Some(every) = self.expect_every {
            let silent = self.last_read.elapsed();
            // The spec lets the receiver allow for network delay: twice the interval.
            if silent > every * 2 {
                self.close_socket();
                return Err(Error::HeartbeatTimeout {
                    silent_ms: u64::try_from(silent.as_millis()).unwrap_or(u64::MAX),
                    expected_ms: u64::try_from(every.as_millis()).unwrap_or(u64::MAX),
                });
            }
        }
        Ok(())
    }

    fn escaping(&self, command: Command) -> Escaping {
        match self.mode {
            Mode::Pecl => Escaping::None,
            Mode::Standard => escape_for(command, self.version),
        }
    }

    fn check_open(&self) -> Result<()> {
        if self.closed || self.writer.failed() {
            return Err(Error::Closed { mid_frame: false });
        }
        Ok(())
    }

    /// Encodes `frame` into the reused write buffer (command, headers, blank line, body, NUL)
    /// and writes it in one `write_all`.
    fn write_frame(&mut self, frame: &Frame, escaping: Escaping) -> Result<()> {
        let mut buf = std::mem::take(&mut self.write_buf);
        buf.clear();
        buf.extend_from_slice(frame.command.as_str().as_bytes());
        buf.put_u8(b'\n');
        for (name, value) in &frame.headers {
            write_header(&mut buf, name, value, escaping);
        }
        buf.put_u8(b'\n');
        buf.extend_from_slice(&frame.body);
        buf.put_u8(0);
        let written = self.write_bytes(&buf);
        self.write_buf = buf;
        written
    }

    /// Writes bytes, or adds them to the batch while batching.
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        match self.batch.as_mut() {
            Some(batch) => {
                batch.extend_from_slice(bytes);
                if batch.len() >= BATCH_FLUSH_BYTES {
                    return self.flush();
                }
                Ok(())
            }
            None => self.write_now(bytes),
        }
    }

    /// Writes bytes to the socket; when the broker has closed the connection, reports the ERROR
    /// it sent before closing, if any, instead of the bare socket error.
    fn write_now(&mut self, bytes: &[u8]) -> Result<()> {
        match self.writer.write_all(bytes) {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                // Part of the frame may be on the wire: the connection cannot be used any more.
                self.close_socket();
                Err(Error::Timeout("the broker to take more data (write timed out)"))
            }
            Err(e) => {
                let deadline = Instant::now() + Duration::from_millis(200);
                while let Ok(Some(frame)) = self.next_frame(deadline) {
                    if frame.command == Command::Error {
                        self.close_socket();
                        return Err(Error::from_error_frame(frame));
                    }
                    self.pending.push_back(frame);
                }
                self.close_socket();
                Err(Error::Io(e))
            }
        }
    }

    fn close_socket(&mut self) {
        if !self.closed {
            self.closed = true;
            self.heartbeat = None;
            let _ = self.writer.stream().shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.close();
    }
}

/// Appends caller headers to a frame.
fn push_headers<K: AsRef<str>, V: AsRef<str>>(frame: &mut Frame, headers: &[(K, V)]) {
    frame.headers.extend(headers.iter().map(|(n, v)| (n.as_ref().to_owned(), v.as_ref().to_owned())));
}

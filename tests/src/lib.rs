//! stompbox-tests: the broker started in-process on an ephemeral port and spoken to in raw STOMP
//! bytes over real TCP sockets.
//!
//! - [`start`] / [`start_with`] / [`start_with_engine`] bind `127.0.0.1:0`, spawn
//!   [`stompbox_server::serve_broker`] and return a [`TestBroker`] that knows its address and can
//!   shut the broker down.
//! - [`Client`] writes bytes exactly as given and reads one frame (or heart-beat, or end of
//!   stream) at a time with a timeout, through [`stompbox_core::FrameParser`]. It keeps a
//!   transcript of every byte received, so tests can check the wire form itself.
//! - [`DataDir`] is a fresh data directory, removed afterwards: a broker started with
//!   `config.data_dir` set to it stores persistent messages there, and a broker started again
//!   on it reads them back.
//! - The same [`Client`] speaks over TLS ([`Client::open_tls`]) and WebSocket
//!   ([`Client::open_websocket`], [`wire::Upgrade`]), against certificates from a [`TestPki`]
//!   made per test run.
//! - [`BlockingBroker`] runs the broker on a runtime of its own, for plain `#[test]`s of the
//!   blocking client (`stompbox_core::client`); [`BlockingBroker::freeze`] stops it outright.
//!
//! - [`nats::NatsServer`] is a real NATS server for the cluster tests.
//!
//! Tests never sleep and hope: they wait for frames with [`TIMEOUT`] (or for the broker's
//! snapshot to show a state, with [`until`]), and prove that something did *not* arrive with
//! [`Client::barrier`], a receipt round trip.

pub mod nats;
pub mod pki;
pub mod wire;

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use stompbox_core::broker::BrokerConfig;
use stompbox_core::{Command, Frame, FrameLimits, FrameParser, Parsed, Version};
use stompbox_server::store::DiskStore;
use stompbox_server::{bind, serve_broker, Broker, Config};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::rustls::ClientConfig;
use tokio_tungstenite::tungstenite::{self, Message};

/// How long a test waits for something that must happen.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// A broker serving on an ephemeral loopback port. Dropping it shuts the broker down.
#[derive(Debug)]
pub struct TestBroker {
    /// Where its first listener listens.
    pub addr: SocketAddr,
    /// Where each of its listeners listens, in configuration order.
    pub addrs: Vec<SocketAddr>,
    /// The engine it serves, for its counters.
    pub broker: Broker,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<io::Result<()>>>,
}

/// The configuration every test starts from: [`Config::default`] on `127.0.0.1:0`, with a short
/// error linger so closing connections does not slow the suite down.
pub fn test_config() -> Config {
    let mut config = Config { listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))], ..Config::default() };
    config.limits.error_linger_ms = 100;
    config
}

/// Starts a broker with [`test_config`].
pub async fn start() -> TestBroker {
    start_with(|_| {}).await
}

/// Starts a broker with [`test_config`] changed by `tweak`.
pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestBroker {
    start_with_engine(tweak, |_| {}).await
}

/// Starts a broker with [`test_config`] changed by `tweak`, and its engine configuration (made
/// from that) changed by `engine`: to plug in an authenticator, an authorizer or a clock.
pub async fn start_with_engine(tweak: impl FnOnce(&mut Config), engine: impl FnOnce(&mut BrokerConfig)) -> TestBroker {
    let mut config = test_config();
    tweak(&mut config);
    config.validate().expect("test configuration is valid");
    let bound = bind(&config).await.expect("bind 127.0.0.1:0");
    let addrs = bound.local_addrs();
    let (shutdown, stop) = oneshot::channel::<()>();
    let mut engine_config = config.broker_config();
    engine(&mut engine_config);
    let broker = match &config.data_dir {
        Some(dir) => {
            let disk = DiskStore::open(dir).expect("open the data directory");
            Broker::with_store(engine_config, Box::new(disk)).expect("read the store back")
        }
        None => Broker::new(engine_config),
    };
    let server = tokio::spawn(serve_broker(broker.clone(), config, bound, async move {
        let _ = stop.await;
    }));
    TestBroker { addr: addrs[0], addrs, broker, shutdown: Some(shutdown), server: Some(server) }
}

impl TestBroker {
    /// A TCP connection with nothing sent yet.
    pub async fn client(&self) -> Client {
        Client::open(self.addr).await
    }

    /// A connection with a small kernel receive buffer, for a subscriber that never reads.
    pub async fn client_with_small_buffer(&self) -> Client {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let stream = tokio::time::timeout(TIMEOUT, socket.connect(self.addr))
            .await
            .expect("connect timed out")
            .expect("connect");
        Client::from_stream(stream)
    }

    /// A STOMP 1.0 session (CONNECT without `accept-version`).
    pub async fn connect10(&self) -> Client {
        self.connect_with("CONNECT\n\n\0").await
    }

    /// A STOMP 1.1 session.
    pub async fn connect11(&self) -> Client {
        self.connect_with("CONNECT\naccept-version:1.1\nhost:localhost\n\n\0").await
    }

    /// A STOMP 1.2 session.
    pub async fn connect12(&self) -> Client {
        self.connect_with("CONNECT\naccept-version:1.2\nhost:localhost\n\n\0").await
    }

    /// A session of the given version (`"1.0"`, `"1.1"` or `"1.2"`).
    pub async fn connect(&self, version: &str) -> Client {
        match version {
            "1.0" => self.connect10().await,
            "1.1" => self.connect11().await,
            "1.2" => self.connect12().await,
            other => panic!("no such version {other}"),
        }
    }

    /// A session opened with this raw CONNECT (or STOMP) frame; panics unless CONNECTED comes.
    pub async fn connect_with(&self, connect: &str) -> Client {
        let mut client = self.client().await;
        client.handshake(connect).await;
        client
    }

    /// Completes the shutdown future and waits for `serve` to return.
    pub async fn shutdown(mut self) -> io::Result<()> {
        drop(self.shutdown.take());
        let server = self.server.take().expect("not shut down yet");
        tokio::time::timeout(TIMEOUT * 2, server).await.expect("serve() did not return").expect("serve task panicked")
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        drop(self.shutdown.take());
    }
}

/// Waits (bounded by [`TIMEOUT`]) until the broker's snapshot satisfies `test`.
pub async fn until(broker: &TestBroker, what: &str, test: impl Fn(&stompbox_core::broker::Snapshot) -> bool) {
    until_within(TIMEOUT, broker, what, test).await;
}

/// Waits (bounded by `within`) until the broker's snapshot satisfies `test`.
pub async fn until_within(
    within: Duration,
    broker: &TestBroker,
    what: &str,
    test: impl Fn(&stompbox_core::broker::Snapshot) -> bool,
) {
    let waited = tokio::time::timeout(within, async {
        while !test(&broker.broker.snapshot()) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    waited.await.unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

/// One thing read from the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A whole frame.
    Frame(Frame),
    /// A bare EOL.
    Heartbeat,
    /// The broker closed the connection (or reset it).
    Eof,
    /// Nothing arrived in time.
    Timeout,
}

/// A raw STOMP client: writes bytes as given, reads frames with a timeout.
#[derive(Debug)]
pub struct Client {
    wire: wire::Wire,
    parser: FrameParser,
    buf: BytesMut,
    received: Vec<u8>,
    eof: bool,
    next_barrier: u64,
    /// Whether the last thing parsed was a frame, so a bare EOL now is its trailing EOL.
    after_frame: bool,
    /// Heart-beats (bare EOLs) read so far, not counting the EOL right after each frame's NUL.
    pub heartbeats: usize,
    /// Frames that were followed by an EOL (the NUL LF ending the broker writes).
    pub frame_eols: usize,
}

impl Client {
    /// Opens a TCP connection.
    pub async fn open(addr: SocketAddr) -> Client {
        Client::from_stream(wire::tcp(addr).await)
    }

    /// Opens a TLS connection (to `localhost`) trusting what `config` trusts.
    pub async fn open_tls(addr: SocketAddr, config: Arc<ClientConfig>) -> Client {
        let stream = wire::tls(addr, config).await.expect("TLS handshake");
        Client::over(wire::Wire::Bytes(Box::new(stream)))
    }

    /// Opens a WebSocket connection as `upgrade` says; the broker's answer to the upgrade too.
    pub async fn open_websocket(
        addr: SocketAddr,
        upgrade: &wire::Upgrade,
    ) -> Result<(Client, tungstenite::handshake::client::Response), tungstenite::Error> {
        let (stream, response) = wire::websocket(addr, upgrade).await?;
        Ok((Client::over(wire::Wire::WebSocket { stream: Box::new(stream), received: Vec::new() }), response))
    }

    fn from_stream(stream: TcpStream) -> Client {
        stream.set_nodelay(true).expect("TCP_NODELAY");
        Client::over(wire::Wire::Bytes(Box::new(stream)))
    }

    fn over(wire: wire::Wire) -> Client {
        let limits = FrameLimits { max_frame_bytes: 64 << 20, max_body_bytes: 64 << 20, ..FrameLimits::default() };
        Client {
            wire,
            parser: FrameParser::new(limits),
            buf: BytesMut::new(),
            received: Vec::new(),
            eof: false,
            next_barrier: 0,
            after_frame: false,
            heartbeats: 0,
            frame_eols: 0,
        }
    }

    /// Sends a CONNECT (or STOMP) frame, requires CONNECTED and switches the reader to the
    /// negotiated version. Returns the CONNECTED frame.
    pub async fn handshake(&mut self, connect: &str) -> Frame {
        self.send(connect).await;
        let connected = self.expect(Command::Connected).await;
        let version = connected.header("version").and_then(Version::parse).expect("CONNECTED has a version");
        self.set_version(version);
        connected
    }

    /// Unescapes the headers of later frames as `version` says.
    pub fn set_version(&mut self, version: Version) {
        self.parser.set_version(version);
    }

    /// Writes bytes exactly as given (over WebSocket, as one message).
    pub async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.wire.write(bytes.as_ref()).await.expect("write to broker");
    }

    /// Sends one WebSocket message as given.
    pub async fn send_message(&mut self, message: Message) {
        self.wire.send(message).await.expect("write to broker");
    }

    /// The text and binary WebSocket messages received so far.
    pub fn messages(&self) -> &[Message] {
        self.wire.messages()
    }

    /// Writes bytes one at a time, flushing after each.
    pub async fn send_bytewise(&mut self, bytes: impl AsRef<[u8]>) {
        for byte in bytes.as_ref() {
            self.wire.write(std::slice::from_ref(byte)).await.expect("write to broker");
            self.wire.flush().await.expect("flush");
            tokio::task::yield_now().await;
        }
    }

    /// Writes, ignoring errors (for a connection the broker may already have closed).
    pub async fn send_lossy(&mut self, bytes: impl AsRef<[u8]>) {
        let _ = self.wire.write(bytes.as_ref()).await;
    }

    /// Half-closes the connection (no more bytes from us; over WebSocket, a close), so a
    /// broker lingering after an ERROR sees the end of stream and closes at once.
    pub async fn close_write(&mut self) {
        let _ = self.wire.shutdown().await;
    }

    /// Every byte received so far.
    pub fn transcript(&self) -> &[u8] {
        &self.received
    }

    /// The next frame, heart-beat or end of stream, waiting at most `within`. The EOL that
    /// follows a frame's NUL is not reported (it is counted in [`Client::frame_eols`]).
    pub async fn event(&mut self, within: Duration) -> Event {
        let deadline = Instant::now() + within;
        loop {
            match self.parser.parse(&mut self.buf) {
                Ok(Some(Parsed::Frame(frame))) => {
                    self.after_frame = true;
                    return Event::Frame(frame);
                }
                Ok(Some(Parsed::Heartbeat)) if std::mem::take(&mut self.after_frame) => {
                    self.frame_eols += 1;
                    continue;
                }
                Ok(Some(Parsed::Heartbeat)) => {
                    self.heartbeats += 1;
                    return Event::Heartbeat;
                }
                Ok(None) => {}
                Err(error) => {
                    panic!("broker sent an unparsable frame: {error}; transcript {:?}", self.transcript_text())
                }
            }
            if self.eof {
                assert!(self.buf.is_empty(), "connection closed in the middle of a frame: {:?}", self.buf);
                return Event::Eof;
            }
            let start = self.received.len();
            match timeout_at(deadline, self.wire.read(&mut self.received)).await {
                Err(_) => return Event::Timeout,
                Ok(Ok(0)) => self.eof = true,
                Ok(Ok(_)) => self.buf.extend_from_slice(&self.received[start..]),
                Ok(Err(e)) if matches!(e.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted) => {
                    self.eof = true;
                }
                Ok(Err(e)) => panic!("read from broker failed: {e}"),
            }
        }
    }

    /// The next frame within `within`, skipping heart-beats; `None` at end of stream or timeout.
    pub async fn try_frame(&mut self, within: Duration) -> Option<Frame> {
        let deadline = Instant::now() + within;
        loop {
            match self.event(deadline.saturating_duration_since(Instant::now())).await {
                Event::Frame(frame) => return Some(frame),
                Event::Heartbeat => {}
                Event::Eof | Event::Timeout => return None,
            }
        }
    }

    /// The next frame, skipping heart-beats; panics on end of stream or after [`TIMEOUT`].
    pub async fn frame(&mut self) -> Frame {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.event(deadline.saturating_duration_since(Instant::now())).await {
                Event::Frame(frame) => return frame,
                Event::Heartbeat => {}
                Event::Eof => panic!("expected a frame, the broker closed the connection"),
                Event::Timeout => panic!("expected a frame, nothing came within {TIMEOUT:?}"),
            }
        }
    }

    /// The next frame, which must have this command.
    pub async fn expect(&mut self, command: Command) -> Frame {
        let frame = self.frame().await;
        assert_eq!(frame.command, command, "expected {}, got {}", command.as_str(), describe(&frame));
        frame
    }

    /// The next frame, which must be a MESSAGE.
    pub async fn message(&mut self) -> Frame {
        self.expect(Command::Message).await
    }

    /// The next frame, which must be an ERROR with a `message` header containing `needle`.
    pub async fn expect_error(&mut self, needle: &str) -> Frame {
        let frame = self.expect(Command::Error).await;
        let message = frame.header("message").expect("ERROR has a message header");
        assert!(message.contains(needle), "ERROR message {message:?} does not mention {needle:?}");
        frame
    }

    /// The next frame, which must be the RECEIPT for `id`.
    pub async fn expect_receipt(&mut self, id: &str) {
        let frame = self.expect(Command::Receipt).await;
        assert_eq!(frame.header("receipt-id"), Some(id), "{}", describe(&frame));
    }

    /// Requires the broker to close the connection within [`TIMEOUT`] without sending another
    /// frame (heart-beats are skipped).
    pub async fn expect_closed(&mut self) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.event(deadline.saturating_duration_since(Instant::now())).await {
                Event::Eof => return,
                Event::Heartbeat => {}
                Event::Frame(frame) => panic!("expected the connection to close, got {}", describe(&frame)),
                Event::Timeout => panic!("the broker did not close the connection within {TIMEOUT:?}"),
            }
        }
    }

    /// Requires an ERROR naming `needle`, then the close.
    pub async fn expect_error_and_close(&mut self, needle: &str) -> Frame {
        let error = self.expect_error(needle).await;
        self.expect_closed().await;
        error
    }

    /// Proves that no frame is pending: two receipt round trips (a SEND with `receipt` to an
    /// otherwise unused topic), each of which must be answered by its RECEIPT with no frame
    /// before it. Two, because a delivery already waiting in the connection's outbox is written
    /// right after the first RECEIPT, and so before the second.
    pub async fn barrier(&mut self) {
        for _ in 0..2 {
            self.next_barrier += 1;
            let id = format!("barrier-{}", self.next_barrier);
            self.send(format!("SEND\ndestination:/topic/stompbox-tests.barrier\nreceipt:{id}\n\n\0")).await;
            let frame = self.frame().await;
            assert!(
                frame.command == Command::Receipt && frame.header("receipt-id") == Some(id.as_str()),
                "expected RECEIPT {id} and nothing before it, got {}",
                describe(&frame)
            );
        }
    }

    /// SUBSCRIBE with a receipt, waiting for the RECEIPT so the subscription is in place.
    /// `extra` is more raw header lines (each ending in `\n`).
    pub async fn subscribe(&mut self, destination: &str, id: &str, extra: &str) {
        let receipt = format!("sub-{id}");
        self.send(format!("SUBSCRIBE\ndestination:{destination}\nid:{id}\n{extra}receipt:{receipt}\n\n\0")).await;
        self.expect_receipt(&receipt).await;
    }

    /// SEND without a receipt.
    pub async fn publish(&mut self, destination: &str, body: &str) {
        self.send(format!("SEND\ndestination:{destination}\n\n{body}\0")).await;
    }

    /// SEND with a receipt, waiting for the RECEIPT (the message is routed by then).
    pub async fn publish_sync(&mut self, destination: &str, body: &str) {
        self.next_barrier += 1;
        let receipt = format!("send-{}", self.next_barrier);
        self.send(format!("SEND\ndestination:{destination}\nreceipt:{receipt}\n\n{body}\0")).await;
        self.expect_receipt(&receipt).await;
    }

    /// DISCONNECT with a receipt: waits for the RECEIPT and the close.
    pub async fn disconnect(mut self) {
        self.send("DISCONNECT\nreceipt:bye\n\n\0").await;
        self.expect_receipt("bye").await;
        self.expect_closed().await;
    }

    fn transcript_text(&self) -> String {
        String::from_utf8_lossy(&self.received).into_owned()
    }
}

/// A fresh directory under the system's temporary folder, removed when dropped.
#[derive(Debug)]
pub struct DataDir(PathBuf);

impl DataDir {
    /// A new, empty directory.
    pub fn new() -> DataDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("stompbox-test-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a data directory");
        DataDir(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Default for DataDir {
    fn default() -> Self {
        DataDir::new()
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The body of a frame as UTF-8 text.
pub fn body(frame: &Frame) -> &str {
    std::str::from_utf8(&frame.body).expect("UTF-8 body")
}

/// A frame's command and headers, for assertion messages.
pub fn describe(frame: &Frame) -> String {
    let headers: Vec<String> = frame.headers.iter().map(|(n, v)| format!("{n}:{v}")).collect();
    format!("{} {{{}}} {:?}", frame.command.as_str(), headers.join(", "), String::from_utf8_lossy(&frame.body))
}

/// Every value of a header, in wire order.
pub fn all_values<'f>(frame: &'f Frame, name: &str) -> Vec<&'f str> {
    frame.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
}

/// Polls `client.has_frame` with no time left until it sees a frame, failing after [`TIMEOUT`]:
/// for the tests of zero-timeout polls, which must read the socket (a frame on its way is seen
/// once it has arrived).
pub fn poll_until_frame(client: &mut stompbox_core::client::Client) {
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !client.has_frame(Duration::ZERO).expect("has_frame") {
        assert!(std::time::Instant::now() < deadline, "has_frame(0) never saw a frame");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A broker for tests of blocking clients (`stompbox_core::client`), which are plain `#[test]`s:
/// the broker runs on a runtime of its own with one worker thread, so the test thread is free
/// to block, and [`BlockingBroker::freeze`] can stop the whole broker at once.
#[derive(Debug)]
pub struct BlockingBroker {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The engine it serves, for its counters.
    pub broker: Broker,
    server: Option<TestBroker>,
    runtime: Option<tokio::runtime::Runtime>,
}

/// A [`BlockingBroker`] stopped by [`BlockingBroker::freeze`]; dropping it lets the broker run
/// again.
#[derive(Debug)]
pub struct Frozen {
    _release: std::sync::mpsc::Sender<()>,
}

impl BlockingBroker {
    /// Starts a broker with [`test_config`].
    pub fn start() -> BlockingBroker {
        BlockingBroker::start_with(|_| {})
    }

    /// Starts a broker with [`test_config`] changed by `tweak`.
    pub fn start_with(tweak: impl FnOnce(&mut Config)) -> BlockingBroker {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("test-broker")
            .enable_all()
            .build()
            .expect("broker runtime");
        let server = runtime.block_on(start_with(tweak));
        BlockingBroker {
            addr: server.addr,
            broker: server.broker.clone(),
            server: Some(server),
            runtime: Some(runtime),
        }
    }

    /// The broker's URL, `tcp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("tcp://{}", self.addr)
    }

    /// Stops the broker as a `SIGSTOP` would: its only worker thread blocks until the returned
    /// guard is dropped, so no connection is read, written or timed out meanwhile (the kernel
    /// still accepts bytes). Returns once the worker is blocked.
    pub fn freeze(&self) -> Frozen {
        let (blocked, is_blocked) = std::sync::mpsc::channel::<()>();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let runtime = self.runtime.as_ref().expect("running");
        runtime.spawn(async move {
            let _ = blocked.send(());
            // Blocks the worker on purpose; returns when the `Frozen` guard drops the sender.
            let _ = released.recv();
        });
        is_blocked.recv_timeout(TIMEOUT).expect("the broker's worker ran the freezing task");
        Frozen { _release: release }
    }
}

impl Drop for BlockingBroker {
    fn drop(&mut self) {
        drop(self.server.take());
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(TIMEOUT);
        }
    }
}

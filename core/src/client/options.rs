//! How to connect: [`ConnectOptions`], and the [`Mode`] the client speaks in.

use std::path::PathBuf;
use std::time::Duration;

use crate::frame::FrameLimits;
use crate::heartbeat::Heartbeat;

/// How the client speaks to the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// STOMP 1.2 with fallback: CONNECT offers `accept-version:1.0,1.1,1.2` and `host`, headers
    /// are escaped as the negotiated version says.
    #[default]
    Standard,
    /// STOMP 1.0 raw mode: a STOMP 1.0 CONNECT holding `login`, `passcode` (when given) and the
    /// extra headers in the order given, nothing else; every frame is written unescaped, byte
    /// for byte as built, whatever version the broker answers. Incoming frames are unescaped as
    /// the version in CONNECTED says (1.0: not at all). For callers that must put exactly their
    /// own bytes on the wire, such as a drop-in for another client library.
    Raw,
}

/// The default of [`ConnectOptions::write_buffer_bytes`]: 1 MiB.
pub const DEFAULT_WRITE_BUFFER_BYTES: usize = 1024 * 1024;

/// How to connect. `ConnectOptions::default()` connects anonymously with a 10 s timeout, no
/// heart-beats and a 1 MiB write buffer, trusting the system's CA certificates for TLS.
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
    /// Bounds the wait for CONNECTED on its own, counted from the end of the TCP connect.
    /// `None`: what is left of `timeout`.
    pub connected_timeout: Option<Duration>,
    /// Limits applied to frames from the broker.
    pub limits: FrameLimits,
    /// Protocol flavour.
    pub mode: Mode,
    /// TLS addresses (`ssl://`, `tls://`): trust the CA certificates in this PEM file instead
    /// of the operating system's.
    pub ca_file: Option<PathBuf>,
    /// How many bytes of frames sent without a receipt may wait for the writer thread; a send
    /// that finds this many queued waits until a write makes room (back-pressure). A frame
    /// larger than this still goes through, alone. 0: no buffer and no writer thread, every
    /// frame is written by the calling thread before the call returns (heart-beats, when
    /// negotiated, still start the thread). Default [`DEFAULT_WRITE_BUFFER_BYTES`].
    pub write_buffer_bytes: usize,
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
            ca_file: None,
            write_buffer_bytes: DEFAULT_WRITE_BUFFER_BYTES,
        }
    }
}

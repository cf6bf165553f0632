//! Connecting: the failover list, the TCP connect, the TLS handshake for `ssl://` and `tls://`
//! addresses, and the CONNECT/CONNECTED exchange that settles the version, the session and the
//! heart-beats.

use std::collections::VecDeque;
use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rustls::ClientConfig;

use super::tls::{self, TlsTransport};
use super::transport::Transport;
use super::wire::Wire;
use super::{url, Client, ConnectOptions, Endpoint, Error, Mode, Result};
use crate::error_code::ErrorCode;
use crate::frame::{header, Command, Frame, FrameParser};
use crate::heartbeat::{negotiate, Heartbeat};
use crate::version::Version;

/// How much is read from the transport at most per read.
pub(super) const READ_CHUNK: usize = 64 * 1024;

/// What the client offers in `accept-version` in [`Mode::Standard`].
const ACCEPT_VERSIONS: &str = "1.0,1.1,1.2";

impl Client {
    /// Connects to `url` (see [`url::parse`]), trying each address of a failover list in order,
    /// and performs the STOMP handshake. An address that cannot be reached, or whose TLS
    /// handshake fails ([`Error::Tls`]), passes to the next; a broker's ERROR answer is final:
    /// [`Error::Auth`] when it refuses the credentials, [`Error::Broker`] otherwise.
    pub fn connect(url: &str, options: &ConnectOptions) -> Result<Client> {
        let endpoints = url::parse(url)?;
        let tls = match endpoints.iter().any(|endpoint| endpoint.tls) {
            true => Some(tls::client_config(options.ca_file.as_deref())?),
            false => None,
        };
        let mut last = None;
        for endpoint in endpoints {
            match Client::connect_endpoint(&endpoint, tls.as_ref(), options) {
                Ok(client) => return Ok(client),
                Err(
                    err @ (Error::Connect { .. }
                    | Error::Tls { .. }
                    | Error::Io(_)
                    | Error::Closed { .. }
                    | Error::Timeout(_)),
                ) => {
                    last = Some(err);
                }
                Err(err) => return Err(err),
            }
        }
        Err(last.unwrap_or_else(|| Error::InvalidUrl { url: url.to_owned(), reason: "no address".to_owned() }))
    }

    /// Connects to one address; `tls` is the configuration for a TLS one.
    fn connect_endpoint(
        endpoint: &Endpoint,
        tls: Option<&Arc<ClientConfig>>,
        options: &ConnectOptions,
    ) -> Result<Client> {
        let deadline = Instant::now() + options.timeout;
        let stream = open_tcp(endpoint, options.timeout, deadline)?;
        let transport: Box<dyn Transport> = match tls {
            Some(config) if endpoint.tls => {
                Box::new(TlsTransport::handshake(stream, endpoint, config.clone(), deadline)?)
            }
            _ => Box::new(stream),
        };
        let mut client = Client {
            wire: Arc::new(Wire::new(transport, options.write_buffer_bytes)),
            endpoint: endpoint.clone(),
            parser: FrameParser::new(options.limits),
            read_buf: BytesMut::with_capacity(READ_CHUNK),
            scratch: vec![0; READ_CHUNK].into_boxed_slice(),
            pending: VecDeque::new(),
            version: Version::V1_0,
            mode: options.mode,
            session: None,
            server: None,
            timeout: options.timeout,
            read_timeout: None,
            last_read: Instant::now(),
            expect_every: None,
            send_every: None,
            writer: None,
            next_id: 0,
            closed: false,
        };
        let deadline = options.connected_timeout.map_or(deadline, |wait| Instant::now() + wait);
        client.handshake(options, deadline)?;
        Ok(client)
    }

    /// Sends CONNECT, waits for CONNECTED until `deadline` and takes in what it settles.
    fn handshake(&mut self, options: &ConnectOptions, deadline: Instant) -> Result<()> {
        let has_extra = |name: &str| options.headers.iter().any(|(n, _)| n == name);
        let host = options.virtual_host.as_deref().unwrap_or(&self.endpoint.host).to_owned();
        let heartbeat = options.heartbeat.to_header();
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(options.headers.len() + 5);
        if self.mode == Mode::Standard {
            if !has_extra(header::ACCEPT_VERSION) {
                headers.push((header::ACCEPT_VERSION, ACCEPT_VERSIONS));
            }
            if !has_extra(header::HOST) {
                headers.push((header::HOST, &host));
            }
            if options.heartbeat != Heartbeat::default() && !has_extra(header::HEART_BEAT) {
                headers.push((header::HEART_BEAT, &heartbeat));
            }
        }
        if let Some(login) = &options.login {
            headers.push((header::LOGIN, login));
        }
        if let Some(passcode) = &options.passcode {
            headers.push((header::PASSCODE, passcode));
        }
        headers.extend(options.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        self.write_frame(Command::Connect, headers, b"")?;

        let answer = loop {
            match self.next_frame(deadline)? {
                Some(frame) => break frame,
                None if Instant::now() >= deadline => return Err(Error::Timeout("CONNECTED")),
                None => {}
            }
        };
        match answer.command {
            Command::Connected => self.connected(&answer, options.heartbeat),
            Command::Error => {
                self.close_socket();
                Err(refusal(answer))
            }
            other => {
                self.close_socket();
                Err(Error::Unexpected(format!("{} in answer to CONNECT", other.as_str())))
            }
        }
    }

    /// Takes in the version, session and heart-beats of CONNECTED; starts the writer thread,
    /// which sends them, when the broker wants heart-beats from us.
    fn connected(&mut self, answer: &Frame, offered: Heartbeat) -> Result<()> {
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
        let agreed = negotiate(offered, theirs);
        self.expect_every = agreed.send_every;
        self.send_every = agreed.expect_every;
        if self.send_every.is_some() {
            self.start_writer()?;
        }
        Ok(())
    }
}

/// Opens a TCP connection to the first address of `endpoint` that answers before `deadline`,
/// set up for the client: no Nagle delay, writes bounded by `write_timeout`.
fn open_tcp(endpoint: &Endpoint, write_timeout: Duration, deadline: Instant) -> Result<TcpStream> {
    let addr = endpoint.to_string();
    let connect_err = |source: io::Error| Error::Connect { addr: addr.clone(), source };
    let addrs = (endpoint.host.as_str(), endpoint.port).to_socket_addrs().map_err(connect_err)?;
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
    stream.set_write_timeout(Some(write_timeout.max(Duration::from_millis(1)))).map_err(connect_err)?;
    Ok(stream)
}

/// The error for an ERROR in answer to CONNECT: [`Error::Auth`] when its `code` says the
/// credentials were refused, [`Error::Broker`] otherwise.
fn refusal(answer: Frame) -> Error {
    match answer.header(header::CODE).and_then(ErrorCode::parse) {
        Some(ErrorCode::AuthenticationFailed) => {
            let message = answer.header(header::MESSAGE).unwrap_or_default().to_owned();
            Error::Auth { message, frame: Box::new(answer) }
        }
        _ => Error::from_error_frame(answer),
    }
}

//! One PECL-style connection (`stomp_t` in PECL's C): the core blocking client in
//! [`Mode::Raw`] (a STOMP 1.0 CONNECT and frames written byte for byte, as PECL does), the read
//! timeout, the last error of this connection and the FIFO of frames that arrived while a
//! receipt was awaited. No PHP types here.
//!
//! Broker URIs are PECL's (`tcp://host:port`, `host:port`, `ssl://host:port`) plus two opt-in
//! improvements: `tls://` as another name for `ssl://` (Debian's PECL build has no TLS at all:
//! "SSL DISABLED"), and `failover://(uri,uri,...)`. TLS verifies the broker's certificate
//! against the system's CA certificates, or those of the PEM file a `ca` query parameter names:
//! `ssl://host:61614?ca=/etc/stompbox/ca.pem` (for a failover list, after the parenthesis).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use bytes::BytesMut;
use stompbox_core::client::{Client, ConnectOptions, Error, Mode};
use stompbox_core::frame::{write_frame, Command, Escaping, Frame};

/// Headers in wire order, as raw bytes (PHP strings are byte strings; nothing is escaped).
#[derive(Debug, Default, Clone)]
pub struct Headers(pub Vec<(Vec<u8>, Vec<u8>)>);

impl Headers {
    /// Adds a header unless one of that name exists (PHP `zend_hash_add`: first wins).
    pub fn add(&mut self, name: &[u8], value: &[u8]) {
        if !self.has(name) {
            self.0.push((name.to_vec(), value.to_vec()));
        }
    }

    /// Sets a header, keeping its position if it exists (PHP `zend_hash_update`).
    pub fn update(&mut self, name: &[u8], value: &[u8]) {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value.to_vec(),
            None => self.0.push((name.to_vec(), value.to_vec())),
        }
    }

    /// Whether a header of that name exists.
    pub fn has(&self, name: &[u8]) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    fn get(&self, name: &[u8]) -> Option<&[u8]> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice())
    }
}

/// Why a connect failed, and how PECL reports it.
#[derive(Debug)]
pub enum ConnectError {
    /// URI validation failed: `stomp_connect()` returns NULL, the ctor throws.
    BadUri(&'static str),
    /// Connection-level failure: `stomp_connect()` returns false, the ctor throws; recorded for
    /// `stomp_connect_error()`.
    Failed {
        /// Exception message.
        message: String,
        /// Exception details (`getDetails()`).
        details: Option<String>,
    },
    /// The broker answered CONNECT with an ERROR that has a `message` header: thrown in both
    /// styles, and not recorded for `stomp_connect_error()`.
    Broker {
        /// The `message` header.
        message: String,
        /// The body.
        details: Vec<u8>,
    },
    /// An ERROR without `message`: PECL returns false and reports nothing.
    Silent,
}

/// Everything [`Link::connect`] needs, already taken from arguments and INI settings.
#[derive(Debug)]
pub struct ConnectParams {
    /// The broker URI as given (or `stomp.default_broker`).
    pub broker: String,
    /// Login; empty: no `login` header.
    pub username: Vec<u8>,
    /// Passcode; empty: no `passcode` header.
    pub password: Vec<u8>,
    /// Extra CONNECT headers (already without `content-length`).
    pub headers: Headers,
    /// `stomp.default_read_timeout_*`: (sec, usec).
    pub read_timeout: (i64, i64),
    /// `stomp.default_connection_timeout_*`: (sec, usec).
    pub connection_timeout: (i64, i64),
}

/// A live connection.
#[derive(Debug)]
pub struct Link {
    client: Client,
    read_timeout: (i64, i64),
    /// Last error of this connection: message and details (`error()`).
    error: Option<(String, Option<String>)>,
    /// Frames received while waiting for a RECEIPT, for `readFrame` (PECL's frame stack).
    queued: VecDeque<Frame>,
    /// Where frames are laid out before they are handed to the client (reused).
    out: BytesMut,
}

/// A timeout as PECL's `struct timeval` would make it; negative parts count as zero.
fn duration(sec: i64, usec: i64) -> Duration {
    let sec = u64::try_from(sec).unwrap_or(0);
    let usec = u64::try_from(usec).unwrap_or(0);
    Duration::from_secs(sec).saturating_add(Duration::from_micros(usec))
}

/// A broker address parsed as PHP's `parse_url` sees it.
struct Target {
    scheme: Option<String>,
    host: String,
    port: u16,
}

/// PHP `parse_url` for the URIs PECL accepts: `scheme://host[:port][/...]` or `host:port`.
/// `None` when there is no host (PECL: "Invalid Broker URI").
fn parse_broker(uri: &str) -> Option<Target> {
    let (scheme, rest) = match uri.find("://") {
        Some(at) if at > 0 && uri[..at].bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) => {
            (Some(uri[..at].to_owned()), &uri[at + 3..])
        }
        _ => {
            // parse_url treats "host:port" as host and port when the port is all digits.
            let (host, port) = uri.split_once(':')?;
            let port_end = port.find(['/', '?', '#']).unwrap_or(port.len());
            if host.is_empty()
                || host.contains('/')
                || port_end == 0
                || !port[..port_end].bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            return Some(Target { scheme: None, host: host.to_owned(), port: parse_port(&port[..port_end])? });
        }
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = if authority.starts_with('[') {
        match authority.find(']') {
            Some(close) => (&authority[..=close], authority[close + 1..].strip_prefix(':')),
            None => return None,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        None | Some("") => 0,
        Some(p) => parse_port(p)?,
    };
    Some(Target { scheme, host: host.to_owned(), port })
}

/// The broker URI without its query, and the CA file the query's `ca` parameter names. The
/// query of a failover list follows its closing parenthesis. The path is taken as it is
/// written (not percent-decoded); other parameters are ignored, as PECL ignores the query.
fn split_ca_file(uri: &str) -> (&str, Option<PathBuf>) {
    let after_list = uri.rfind(')').map_or(0, |close| close + 1);
    let Some(at) = uri[after_list..].find('?').map(|at| after_list + at) else {
        return (uri, None);
    };
    let query = uri[at + 1..].split('#').next().unwrap_or_default();
    let ca_file = query.split('&').find_map(|pair| pair.strip_prefix("ca=")).map(PathBuf::from);
    (&uri[..at], ca_file)
}

fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok()
}

/// The text after a NUL-free prefix: PECL keeps ERROR bodies as C strings.
fn c_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

impl Link {
    /// Connects as PECL's `stomp_connect()` does.
    pub fn connect(params: &ConnectParams) -> Result<Link, ConnectError> {
        let failed = |message: String, details: Option<String>| ConnectError::Failed { message, details };
        let (broker, ca_file) = split_ca_file(&params.broker);
        let url = if broker.starts_with("failover:") {
            // Opt-in improvement: PECL refuses failover URIs ("Invalid Broker URI scheme").
            broker.to_owned()
        } else {
            let target = parse_broker(broker).ok_or(ConnectError::BadUri("Invalid Broker URI"))?;
            let scheme = match target.scheme.as_deref() {
                None | Some("tcp") => "tcp",
                // Opt-in improvement: `tls://`, and TLS where Debian's PECL says "SSL DISABLED".
                Some("ssl" | "tls") => "ssl",
                Some(_) => return Err(ConnectError::BadUri("Invalid Broker URI scheme")),
            };
            let port = if target.port == 0 { 61613 } else { target.port };
            format!("{scheme}://{}:{}", target.host, port)
        };
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        let mut headers = Vec::new();
        for (name, value) in &params.headers.0 {
            let clash = (name == b"login" && !params.username.is_empty())
                || (name == b"passcode" && !params.password.is_empty());
            if !clash {
                headers.push((text(name), text(value)));
            }
        }
        let options = ConnectOptions {
            login: (!params.username.is_empty()).then(|| text(&params.username)),
            passcode: (!params.password.is_empty()).then(|| text(&params.password)),
            headers,
            timeout: duration(params.connection_timeout.0, params.connection_timeout.1).max(Duration::from_millis(1)),
            connected_timeout: Some(duration(params.read_timeout.0, params.read_timeout.1)),
            mode: Mode::Raw,
            ca_file,
            ..ConnectOptions::default()
        };
        match Client::connect(&url, &options) {
            Ok(client) => Ok(Link {
                client,
                read_timeout: params.read_timeout,
                error: None,
                queued: VecDeque::new(),
                out: BytesMut::new(),
            }),
            Err(Error::Connect { addr, source }) => {
                let addr = match url.split_once("://") {
                    Some(("tcp" | "ssl", target)) => target.to_owned(),
                    _ => addr,
                };
                Err(failed(format!("Unable to connect to {addr}"), Some(strerror(&source))))
            }
            // PECL's messages for its TLS failures, with the reason as details.
            Err(Error::Tls { addr, reason }) => {
                Err(failed("SSL/TLS handshake failed".to_owned(), Some(format!("{addr}: {reason}"))))
            }
            Err(err @ Error::TrustStore { .. }) => {
                Err(failed("failed to create the SSL context".to_owned(), Some(err.to_string())))
            }
            Err(err @ (Error::Auth { .. } | Error::Broker { .. })) => match err.error_frame() {
                Some(frame) => match frame.header("message") {
                    Some(message) => {
                        Err(ConnectError::Broker { message: message.to_owned(), details: frame.body.to_vec() })
                    }
                    None => Err(ConnectError::Silent),
                },
                None => Err(ConnectError::Silent),
            },
            Err(Error::Unexpected(_)) => Err(failed("Stomp unknown error".to_owned(), None)),
            Err(Error::InvalidUrl { .. } | Error::UnsupportedScheme(_)) => {
                Err(ConnectError::BadUri("Invalid Broker URI"))
            }
            Err(_) => Err(failed("Server is not responding".to_owned(), None)),
        }
    }

    /// The session id from CONNECTED.
    pub fn session(&self) -> Option<&str> {
        self.client.session()
    }

    /// The read timeout as set: (sec, usec).
    pub fn read_timeout(&self) -> (i64, i64) {
        self.read_timeout
    }

    /// `setReadTimeout`.
    pub fn set_read_timeout(&mut self, sec: i64, usec: i64) {
        self.read_timeout = (sec, usec);
    }

    /// `error()`: "message", or "message\n\ndetails".
    pub fn error(&self) -> Option<String> {
        self.error.as_ref().map(|(message, details)| match details {
            Some(details) => format!("{message}\n\n{details}"),
            None => message.clone(),
        })
    }

    fn set_error(&mut self, message: &str, details: Option<String>) {
        self.error = Some((message.to_owned(), details));
    }

    /// Writes a frame exactly as PECL's `stomp_send` encodes it (command, headers in order,
    /// `content-length` iff the body is not empty, blank line, body, NUL; nothing escaped) and,
    /// when it carries a `receipt` header, waits for the RECEIPT. The return value of every
    /// sending method.
    pub fn transmit(&mut self, command: &[u8], headers: &Headers, body: &[u8]) -> bool {
        let length = body.len().to_string();
        let content_length = (!body.is_empty()).then_some((&b"content-length"[..], length.as_bytes()));
        let wire_headers = headers.0.iter().map(|(n, v)| (n.as_slice(), v.as_slice())).chain(content_length);
        self.out.clear();
        write_frame(&mut self.out, command, wire_headers, body, Escaping::None);
        let receipt = headers.get(b"receipt");
        let sent = match receipt {
            Some(_) => self.client.write_bytes(&self.out),
            None => self.client.send_bytes(&self.out),
        };
        if let Err(err) = sent {
            self.set_error("Unable to send data", Some(err.to_string()));
            return false;
        }
        match receipt {
            Some(receipt) => self.await_receipt(receipt),
            None => true,
        }
    }

    /// PECL's `stomp_valid_receipt`: reads until RECEIPT or ERROR, queueing other frames.
    fn await_receipt(&mut self, receipt: &[u8]) -> bool {
        loop {
            let Some(frame) = self.next_frame() else {
                return false;
            };
            match frame.command {
                Command::Receipt => {
                    let id = frame.header("receipt-id").unwrap_or_default();
                    if id.as_bytes() == receipt {
                        return true;
                    }
                    self.set_error("Invalid receipt", Some(id.to_owned()));
                    return false;
                }
                Command::Error => {
                    let message = frame.header("message").unwrap_or_default().to_owned();
                    let details = c_text(&frame.body);
                    self.set_error(&message, Some(details));
                    return false;
                }
                _ => self.queued.push_back(frame),
            }
        }
    }

    /// One frame off the wire, waiting up to the read timeout; `None` on timeout or failure.
    fn next_frame(&mut self) -> Option<Frame> {
        let (sec, usec) = self.read_timeout;
        let wait = duration(sec, usec).max(Duration::from_millis(1));
        match self.client.read_raw_frame(wait) {
            Ok(frame) => frame,
            Err(Error::Closed { .. }) => {
                self.set_error("Sender closed connection unexpectedly", None);
                None
            }
            Err(err) => {
                self.set_error("Unable to read data", Some(err.to_string()));
                None
            }
        }
    }

    /// `readFrame`: a queued frame first, else the next one within the read timeout.
    pub fn read_frame(&mut self) -> Option<Frame> {
        self.queued.pop_front().or_else(|| self.next_frame())
    }

    /// `hasFrame`: a frame is queued, or one arrives within the read timeout (it is queued).
    pub fn has_frame(&mut self) -> bool {
        if !self.queued.is_empty() {
            return true;
        }
        match self.next_frame() {
            Some(frame) => {
                self.queued.push_back(frame);
                true
            }
            None => false,
        }
    }

    /// Sends DISCONNECT (no receipt, no wait) after everything queued, and closes the socket.
    pub fn close(&mut self) {
        let _ = self.client.write_bytes(b"DISCONNECT\n\n\0");
        self.client.close();
    }
}

/// The details PECL gives for a failed TCP connect. It connects without blocking and then
/// reports `errno` as left by `connect()`, so a refused or timed-out connect reads
/// "Operation now in progress"; other failures (name resolution) keep their own text.
fn strerror(err: &std::io::Error) -> String {
    use std::io::ErrorKind;
    if matches!(err.kind(), ErrorKind::ConnectionRefused | ErrorKind::TimedOut | ErrorKind::WouldBlock) {
        return "Operation now in progress".to_owned();
    }
    let text = err.to_string();
    // std formats "Connection refused (os error 111)"; PECL shows strerror() alone.
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_url_like_php() {
        let t = parse_broker("tcp://127.0.0.1:61613").unwrap();
        assert_eq!((t.scheme.as_deref(), t.host.as_str(), t.port), (Some("tcp"), "127.0.0.1", 61613));
        let t = parse_broker("127.0.0.1:1234").unwrap();
        assert_eq!((t.scheme, t.host.as_str(), t.port), (None, "127.0.0.1", 1234));
        assert_eq!(parse_broker("tcp://host").unwrap().port, 0);
        assert_eq!(parse_broker("tcp://[::1]:5").unwrap().host, "[::1]");
        for bad in ["", "1", "foo", "tcp://", "tcp://host:99999"] {
            assert!(parse_broker(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_ca_query_parameter_names_the_ca_file() {
        assert_eq!(split_ca_file("ssl://h:1?ca=/etc/ca.pem"), ("ssl://h:1", Some(PathBuf::from("/etc/ca.pem"))));
        assert_eq!(split_ca_file("ssl://h:1?x=1&ca=ca.pem#f"), ("ssl://h:1", Some(PathBuf::from("ca.pem"))));
        assert_eq!(split_ca_file("tcp://h:1?x=1"), ("tcp://h:1", None));
        assert_eq!(split_ca_file("tcp://h:1"), ("tcp://h:1", None));
        let failover = "failover://(tcp://a:1,ssl://b:2)?ca=/ca.pem";
        assert_eq!(split_ca_file(failover), ("failover://(tcp://a:1,ssl://b:2)", Some(PathBuf::from("/ca.pem"))));
        // A query inside the list belongs to a member: left for the URL parser to refuse.
        assert_eq!(split_ca_file("failover:(ssl://b:2?ca=x)"), ("failover:(ssl://b:2?ca=x)", None));
    }

    #[test]
    fn headers_add_and_update_like_php_hashes() {
        let mut h = Headers::default();
        h.add(b"a", b"1");
        h.add(b"a", b"2");
        h.add(b"b", b"3");
        h.update(b"a", b"4");
        h.update(b"c", b"5");
        assert_eq!(
            h.0,
            vec![(b"a".to_vec(), b"4".to_vec()), (b"b".to_vec(), b"3".to_vec()), (b"c".to_vec(), b"5".to_vec())]
        );
    }
}

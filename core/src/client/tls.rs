//! TLS under the client (`ssl://`, `tls://`): which CA certificates are trusted, the handshake
//! at connect, and [`TlsTransport`], the [`Transport`] over a rustls session.
//!
//! Trust: the CA certificates of [`ConnectOptions::ca_file`](super::ConnectOptions::ca_file),
//! or else the operating system's (rustls-native-certs: `/etc/ssl/certs` on Debian, or what
//! `SSL_CERT_FILE` and `SSL_CERT_DIR` name), which are what OpenSSL, and so PECL's extension,
//! Python's `ssl` and curl, trust: a CA an administrator installed for the whole machine works
//! here too, and the list follows the system's updates. The system's are read once per process.
//!
//! The transport follows the seam's rule (see [`transport`](super::transport)): no lock is held
//! while the socket is waited on. A read takes ciphertext from the socket with no lock, then
//! locks the session only to decrypt it; a write locks the session only to encrypt, then writes
//! the ciphertext. So the writer thread's heart-beats and buffered sends go on while the user's
//! thread waits for a frame. Anything the session has to send on its own after a read (the
//! answer to a key update) leaves with the next write.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use nix::sys::socket::{recv, send, MsgFlags};
use parking_lot::Mutex;
use rustls::crypto::ring;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, ClientConnection, RootCertStore};

use super::transport::Transport;
use super::{Endpoint, Error, Result};

/// The most plaintext encrypted per lock of the session (and so per socket write).
const WRITE_CHUNK: usize = 64 * 1024;

/// How much ciphertext one socket read takes at most: a little over one TLS record.
const READ_CHUNK: usize = 18 * 1024;

/// The TLS client configuration: trusting the CA certificates in `ca_file`, or the system's.
pub(super) fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>> {
    match ca_file {
        Some(path) => with_roots(file_roots(path)?),
        None => {
            static SYSTEM: OnceLock<std::result::Result<Arc<ClientConfig>, String>> = OnceLock::new();
            SYSTEM
                .get_or_init(|| system_roots().and_then(with_roots).map_err(|e| e.to_string()))
                .clone()
                .map_err(|reason| Error::TrustStore { from: "the system".to_owned(), reason })
        }
    }
}

/// A configuration on the ring provider, with safe protocol versions, trusting `roots`.
fn with_roots(roots: RootCertStore) -> Result<Arc<ClientConfig>> {
    let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::TrustStore { from: "the TLS library".to_owned(), reason: e.to_string() })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Every certificate in a PEM file, at least one, all usable as trust anchors.
fn file_roots(path: &Path) -> Result<RootCertStore> {
    let fail = |reason: String| Error::TrustStore { from: path.display().to_string(), reason };
    let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| fail(format!("not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(fail("holds no certificate (no BEGIN CERTIFICATE block)".to_owned()));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| fail(format!("not a usable CA certificate: {e}")))?;
    }
    Ok(roots)
}

/// The operating system's CA certificates; those that do not parse are skipped.
fn system_roots() -> Result<RootCertStore> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let detail = found.errors.first().map(|e| format!(" ({e})")).unwrap_or_default();
        return Err(Error::TrustStore {
            from: "the system".to_owned(),
            reason: format!("no CA certificate found{detail}: install ca-certificates or give a CA file"),
        });
    }
    Ok(roots)
}

/// A TLS session over a TCP stream, usable from two threads at once. See the module docs.
#[derive(Debug)]
pub(super) struct TlsTransport {
    tcp: TcpStream,
    session: Mutex<Session>,
    /// The ciphertext of the write in progress; held for the whole write, so only one thread
    /// writes to the socket at a time (and close_notify never lands inside a record).
    outgoing: Mutex<Vec<u8>>,
    /// Where a read puts the ciphertext it takes from the socket (only the reading thread).
    incoming: Mutex<Box<[u8]>>,
}

/// What the session lock guards.
#[derive(Debug)]
struct Session {
    conn: ClientConnection,
    /// Ciphertext read from the socket that the session has not taken in yet (it takes in at
    /// most its plaintext buffer's worth at a time).
    unread: BytesMut,
}

impl TlsTransport {
    /// Runs the TLS handshake with the server at `endpoint` over `tcp`, until `deadline`.
    pub(super) fn handshake(
        tcp: TcpStream,
        endpoint: &Endpoint,
        config: Arc<ClientConfig>,
        deadline: Instant,
    ) -> Result<TlsTransport> {
        let failed = |reason: String| Error::Tls { addr: endpoint.to_string(), reason };
        let name = ServerName::try_from(endpoint.host.clone())
            .map_err(|_| failed(format!("{:?} is not a valid server name", endpoint.host)))?;
        let mut conn = ClientConnection::new(config, name).map_err(|e| failed(e.to_string()))?;
        while conn.is_handshaking() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout("the TLS handshake"));
            }
            tcp.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
            match conn.complete_io(&mut &tcp) {
                Ok(_) => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(handshake_error(e, endpoint)),
            }
        }
        Ok(TlsTransport {
            tcp,
            session: Mutex::new(Session { conn, unread: BytesMut::new() }),
            outgoing: Mutex::new(Vec::new()),
            incoming: Mutex::new(vec![0; READ_CHUNK].into_boxed_slice()),
        })
    }

    /// Plaintext into `buf`: what the session holds already, or else what `read_socket` brings,
    /// decrypted. `WouldBlock` when the ciphertext read completed no record.
    fn read_with(&self, buf: &mut [u8], read_socket: impl FnOnce(&mut [u8]) -> io::Result<usize>) -> io::Result<usize> {
        {
            let mut session = self.session.lock();
            session.take_in()?;
            if let Some(n) = session.plaintext(buf)? {
                return Ok(n);
            }
        }
        let mut incoming = self.incoming.lock();
        let n = read_socket(&mut incoming)?;
        let mut session = self.session.lock();
        if n == 0 {
            // End of stream: the session learns of it by a read of nothing.
            session.conn.read_tls(&mut io::empty())?;
        }
        session.unread.extend_from_slice(&incoming[..n]);
        session.take_in()?;
        session.plaintext(buf)?.ok_or_else(|| io::ErrorKind::WouldBlock.into())
    }
}

impl Session {
    /// Feeds unread ciphertext to the session while its plaintext buffer has room.
    fn take_in(&mut self) -> io::Result<()> {
        while !self.unread.is_empty() {
            let Ok(taken) = self.conn.read_tls(&mut &self.unread[..]) else {
                // Its plaintext buffer is full: the rest waits for the next read.
                return Ok(());
            };
            self.unread.advance(taken);
            self.conn.process_new_packets().map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            if taken == 0 {
                // A close_notify was received: nothing more is taken in.
                self.unread.clear();
            }
        }
        Ok(())
    }

    /// Decrypted bytes into `buf`: `Some(0)` at the end of the stream (with or without the
    /// server's close_notify: a STOMP frame carries its own end, so a cut is seen anyway),
    /// `None` when there are none yet.
    fn plaintext(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self.conn.reader().read(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(Some(0)),
            Err(e) => Err(e),
        }
    }
}

impl Transport for TlsTransport {
    fn set_read_timeout(&self, wait: Duration) -> io::Result<()> {
        self.tcp.set_read_timeout(Some(wait))
    }

    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_with(buf, |raw| Read::read(&mut &self.tcp, raw))
    }

    fn read_now(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_with(buf, |raw| Ok(recv(self.tcp.as_raw_fd(), raw, MsgFlags::MSG_DONTWAIT)?))
    }

    fn write_all(&self, mut bytes: &[u8]) -> io::Result<()> {
        let mut ciphertext = self.outgoing.lock();
        while !bytes.is_empty() {
            ciphertext.clear();
            {
                let mut session = self.session.lock();
                let taken = session.conn.writer().write(&bytes[..bytes.len().min(WRITE_CHUNK)])?;
                bytes = &bytes[taken..];
                while session.conn.wants_write() {
                    session.conn.write_tls(&mut *ciphertext)?;
                }
            }
            Write::write_all(&mut &self.tcp, &ciphertext)?;
        }
        Ok(())
    }

    /// Sends close_notify when no write is in progress, without waiting (a peer that does not
    /// read must not hold up closing), then shuts the socket down.
    fn shutdown(&self) -> io::Result<()> {
        if let Some(mut ciphertext) = self.outgoing.try_lock() {
            ciphertext.clear();
            let mut session = self.session.lock();
            session.conn.send_close_notify();
            while session.conn.wants_write() {
                session.conn.write_tls(&mut *ciphertext)?;
            }
            drop(session);
            let _ = send(self.tcp.as_raw_fd(), &ciphertext, MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL);
        }
        self.tcp.shutdown(Shutdown::Both)
    }
}

/// The error for a failed handshake, in words a user can act on.
fn handshake_error(error: io::Error, endpoint: &Endpoint) -> Error {
    let failed = |reason: String| Error::Tls { addr: endpoint.to_string(), reason };
    if error.kind() == io::ErrorKind::UnexpectedEof {
        return failed("the server closed the connection during the handshake (is this a TLS port?)".to_owned());
    }
    let Some(tls) = error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) else {
        return Error::Connect { addr: endpoint.to_string(), source: error };
    };
    failed(match tls {
        rustls::Error::InvalidMessage(_) => "the server's answer is not TLS (is this a plain TCP port?)".to_owned(),
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer | CertificateError::BadSignature) => {
            format!("the server's certificate is not signed by a CA this client trusts ({tls})")
        }
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!("the server's certificate is not valid for the name {:?} ({tls})", endpoint.host),
        other => other.to_string(),
    })
}

//! How the bench reaches a broker: the URL's scheme picks TCP (`tcp://`, or a bare
//! `host:port`), TLS (`ssl://`, as PECL names it, or `tls://`), WebSocket (`ws://host:port/path`)
//! or WebSocket over TLS (`wss://`). TLS trusts the CA certificates of `--ca FILE`, or with
//! `--insecure` any certificate (for benchmarks against a self-signed one).
//!
//! Every connection is used as a [`Reader`] and a [`Writer`], so a producer can read replies in
//! a task of its own. TCP splits without a lock. Over WebSocket each write is one binary message
//! (a batch of SENDs is several frames in one message, which STOMP over WebSocket allows) and
//! every text or binary message read is appended to the read buffer.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::BytesMut;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use tokio_rustls::rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::WebSocketStream;

use crate::client::READ_CHUNK;
use crate::{BenchError, Result};

/// Which certificates a TLS connection trusts.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// CA certificates (PEM) the broker's certificate must chain to.
    pub ca: Option<PathBuf>,
    /// Accept any certificate (benchmarks against a self-signed one only).
    pub insecure: bool,
}

/// Where a broker listens and what it speaks there.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The address connected to.
    pub addr: SocketAddr,
    /// TLS first, to this server name.
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    /// Then a WebSocket upgrade, requesting this URL.
    websocket: Option<String>,
}

impl Endpoint {
    /// Parses `tcp://`, `ssl://`, `tls://`, `ws://` and `wss://` URLs (or a bare `host:port`).
    pub fn parse(url: &str, trust: &Trust) -> Result<Endpoint> {
        let bad = || BenchError::Url(url.to_owned());
        let (scheme, rest) = url.split_once("://").unwrap_or(("tcp", url));
        let (tls, websocket) = match scheme {
            "tcp" => (false, false),
            "ssl" | "tls" => (true, false),
            "ws" => (false, true),
            "wss" => (true, true),
            _ => return Err(bad()),
        };
        let host_port = rest.split('/').next().unwrap_or_default();
        let addr =
            std::net::ToSocketAddrs::to_socket_addrs(host_port).ok().and_then(|mut a| a.next()).ok_or_else(bad)?;
        let host = host_port.rsplit_once(':').map_or(host_port, |(host, _)| host).trim_matches(['[', ']']);
        let tls = match tls {
            false => None,
            true => {
                let name = ServerName::try_from(host.to_owned()).map_err(|_| bad())?;
                Some((client_config(trust)?, name))
            }
        };
        let websocket = websocket.then(|| if rest.contains('/') { url.to_owned() } else { format!("{url}/") });
        Ok(Endpoint { addr, tls, websocket })
    }

    /// Connects, with the TLS handshake and the WebSocket upgrade the URL asks for.
    pub async fn connect(&self) -> Result<(Reader, Writer)> {
        let tcp = TcpStream::connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        match (&self.tls, &self.websocket) {
            (None, None) => {
                let (read, write) = tcp.into_split();
                Ok((Reader::Tcp(read), Writer::Tcp(write)))
            }
            (Some((config, name)), None) => {
                let (read, write) =
                    tokio::io::split(TlsConnector::from(config.clone()).connect(name.clone(), tcp).await?);
                Ok((Reader::Tls(read), Writer::Tls(write)))
            }
            (tls, Some(url)) => {
                let stream: Box<dyn ByteStream> = match tls {
                    Some((config, name)) => {
                        Box::new(TlsConnector::from(config.clone()).connect(name.clone(), tcp).await?)
                    }
                    None => Box::new(tcp),
                };
                let (ws, _) = tokio_tungstenite::client_async_with_config(url.as_str(), stream, Some(ws_config()))
                    .await
                    .map_err(|e| BenchError::Broker(format!("WebSocket upgrade: {e}")))?;
                let (write, read) = ws.split();
                Ok((Reader::Ws(read), Writer::Ws(write)))
            }
        }
    }
}

/// What tungstenite reads from the socket at once: small, so a room of 10,000 WebSocket
/// subscribers fits in the generator (its default, 128 KiB, is allocated per connection).
const WS_READ_BUFFER_BYTES: usize = 8 * 1024;

/// The WebSocket settings of every bench connection.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(WS_READ_BUFFER_BYTES)
}

/// The TLS client configuration `trust` asks for.
fn client_config(trust: &Trust) -> Result<Arc<ClientConfig>> {
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| BenchError::Options(e.to_string()))?;
    let config = match (&trust.ca, trust.insecure) {
        (_, true) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth(),
        (Some(path), false) => {
            let mut roots = RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| BenchError::Options(format!("--ca {}: {e}", path.display())))?;
            roots.add_parsable_certificates(certs);
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        (None, false) => {
            return Err(BenchError::Options("a TLS URL needs --ca FILE (or --insecure for a benchmark)".into()))
        }
    };
    Ok(Arc::new(config))
}

/// `--insecure`: accepts any certificate, still checking the handshake's signatures.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, tokio_rustls::rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A byte stream a WebSocket runs over: TCP or TLS.
pub trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> ByteStream for T {}

/// A WebSocket over TCP or TLS.
pub type Ws = WebSocketStream<Box<dyn ByteStream>>;

/// The reading side of a connection.
pub enum Reader {
    /// TCP.
    Tcp(OwnedReadHalf),
    /// TLS.
    Tls(ReadHalf<TlsStream<TcpStream>>),
    /// WebSocket, over TCP or TLS.
    Ws(SplitStream<Ws>),
}

impl Reader {
    /// Appends what arrives next to `buf` (over WebSocket, the payloads of the messages already
    /// there, up to [`READ_CHUNK`] bytes); `Ok(0)` at the end of the stream.
    pub async fn read_into(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        match self {
            Reader::Tcp(read) => read.read_buf(buf).await,
            Reader::Tls(read) => read.read_buf(buf).await,
            Reader::Ws(read) => {
                let mut taken = 0;
                while taken == 0 {
                    match read.next().await {
                        None => return Ok(0),
                        Some(message) => taken += append(message.map_err(io::Error::other)?, buf),
                    }
                }
                while taken < READ_CHUNK {
                    match read.next().now_or_never() {
                        Some(Some(Ok(message))) => taken += append(message, buf),
                        _ => break,
                    }
                }
                Ok(taken)
            }
        }
    }
}

/// Appends a text or binary message's payload to `buf`; how many bytes.
fn append(message: Message, buf: &mut BytesMut) -> usize {
    let data: Bytes = match message {
        Message::Text(text) => text.into(),
        Message::Binary(data) => data,
        _ => return 0,
    };
    buf.extend_from_slice(&data);
    data.len()
}

/// The writing side of a connection.
pub enum Writer {
    /// TCP.
    Tcp(OwnedWriteHalf),
    /// TLS.
    Tls(WriteHalf<TlsStream<TcpStream>>),
    /// WebSocket, over TCP or TLS.
    Ws(SplitSink<Ws, Message>),
}

impl Writer {
    /// Writes all of `bytes` (over WebSocket, as one binary message) and flushes.
    pub async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Writer::Tcp(write) => write.write_all(bytes).await,
            Writer::Tls(write) => {
                write.write_all(bytes).await?;
                write.flush().await
            }
            Writer::Ws(write) => write.send(Message::binary(bytes.to_vec())).await.map_err(io::Error::other),
        }
    }

    /// Closes the writing side (a WebSocket close frame over WebSocket).
    pub async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Writer::Tcp(write) => write.shutdown().await,
            Writer::Tls(write) => write.shutdown().await,
            Writer::Ws(write) => write.close().await.map_err(io::Error::other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_pick_the_transport() {
        let insecure = Trust { ca: None, insecure: true };
        let tcp = Endpoint::parse("tcp://127.0.0.1:61613", &insecure).unwrap();
        assert!((tcp.tls.is_none(), tcp.websocket.is_none()) == (true, true));
        for url in ["ssl://localhost:61614", "tls://127.0.0.1:61614"] {
            let tls = Endpoint::parse(url, &insecure).unwrap();
            assert!(tls.tls.is_some() && tls.websocket.is_none(), "{url}");
        }
        let ws = Endpoint::parse("ws://127.0.0.1:61623", &insecure).unwrap();
        assert_eq!(ws.websocket.as_deref(), Some("ws://127.0.0.1:61623/"));
        let wss = Endpoint::parse("wss://localhost:61624/stomp", &insecure).unwrap();
        assert!(wss.tls.is_some());
        assert_eq!(wss.websocket.as_deref(), Some("wss://localhost:61624/stomp"));
        assert!(Endpoint::parse("http://127.0.0.1:1", &insecure).is_err());
        let no_trust = Endpoint::parse("ssl://127.0.0.1:61614", &Trust::default()).unwrap_err();
        assert!(no_trust.to_string().contains("--ca"), "{no_trust}");
    }
}

//! A minimal STOMP client for load generation, on the project's [`StompCodec`].
//!
//! Broker-agnostic conventions (stompbox, ActiveMQ and RabbitMQ all accept them): CONNECT offers
//! `accept-version:1.2,1.1` (1.2 preferred, 1.1 as the fallback), `host` is the vhost (RabbitMQ
//! needs `/`), `heart-beat:0,0`; SUBSCRIBE carries `prefetch-count` and `activemq.prefetchSize`
//! and a `receipt` that is awaited, because a subscription is only certain once acknowledged.

use std::time::Duration;

use bytes::BytesMut;
use stompbox_core::codec::StompCodec;
use stompbox_core::frame::{header, Command, Frame, FrameLimits, Parsed};
use stompbox_core::Version;
use tokio_util::codec::{Decoder, Encoder};

use crate::cli::AckMode;
use crate::transport::{Endpoint, Reader, Writer};
use crate::{BenchError, Result};

/// How long a handshake, or a SUBSCRIBE's receipt, may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Spare room kept in a read buffer before each read, so readers take large gulps.
pub const READ_CHUNK: usize = 256 * 1024;
/// The spare room a [`ReadRoom`] starts with.
const READ_CHUNK_MIN: usize = 4 * 1024;

/// Grows `buf` by [`READ_CHUNK`] once less than a quarter of that is free, so the next read
/// takes a large gulp without the buffer being reserved before every read.
pub fn make_read_room(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() < READ_CHUNK / 4 {
        buf.reserve(READ_CHUNK);
    }
}

/// The spare room a consumer keeps in its read buffer: it starts small, so thousands of
/// subscribers of a room that each get a message now and then stay small, and doubles while
/// reads fill it, up to [`READ_CHUNK`], so a busy consumer takes large gulps.
#[derive(Debug)]
pub struct ReadRoom {
    chunk: usize,
    room: usize,
}

impl Default for ReadRoom {
    fn default() -> ReadRoom {
        ReadRoom { chunk: READ_CHUNK_MIN, room: 0 }
    }
}

impl ReadRoom {
    /// Grows `buf` by the current chunk once less than a quarter of it is free.
    pub fn prepare(&mut self, buf: &mut BytesMut) {
        if buf.capacity() - buf.len() < self.chunk / 4 {
            buf.reserve(self.chunk);
        }
        self.room = buf.capacity() - buf.len();
    }

    /// Notes a read of `read` bytes after [`ReadRoom::prepare`]: one that filled the room
    /// doubles the chunk.
    pub fn read(&mut self, read: usize) {
        if read >= self.room && self.chunk < READ_CHUNK {
            self.chunk *= 2;
        }
    }
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Target {
    /// The broker's address and transport.
    pub endpoint: Endpoint,
    /// CONNECT `login`.
    pub user: Option<String>,
    /// CONNECT `passcode`.
    pub pass: Option<String>,
    /// CONNECT `host`.
    pub vhost: String,
}

/// A connected STOMP session: the connection's two sides, the codec at the negotiated version,
/// and bytes read but not yet decoded.
pub struct Conn {
    /// The reading side.
    pub reader: Reader,
    /// The writing side.
    pub writer: Writer,
    /// The codec, set to [`Conn::version`].
    pub codec: StompCodec,
    /// Bytes read and not yet decoded.
    pub read_buf: BytesMut,
    /// The version the broker chose.
    pub version: Version,
    /// The CONNECTED `server` header (empty if none).
    pub server: String,
}

/// Limits for what the bench decodes: generous, the broker is trusted.
pub fn limits() -> FrameLimits {
    FrameLimits {
        max_frame_bytes: 64 << 20,
        max_headers: 256,
        max_header_line_bytes: 64 << 10,
        max_body_bytes: 64 << 20,
    }
}

impl Conn {
    /// Connects (TCP, TLS or WebSocket, as the URL said) and completes CONNECT -> CONNECTED.
    pub async fn connect(target: &Target) -> Result<Conn> {
        let (reader, writer) = target.endpoint.connect().await?;
        let mut conn = Conn {
            reader,
            writer,
            codec: StompCodec::new(limits()),
            read_buf: BytesMut::new(),
            version: Version::V1_0,
            server: String::new(),
        };
        let mut connect = Frame::new(Command::Connect)
            .with_header(header::ACCEPT_VERSION, "1.2,1.1")
            .with_header(header::HOST, target.vhost.as_str())
            .with_header(header::HEART_BEAT, "0,0");
        if let Some(user) = &target.user {
            connect = connect.with_header(header::LOGIN, user.as_str());
        }
        if let Some(pass) = &target.pass {
            connect = connect.with_header(header::PASSCODE, pass.as_str());
        }
        conn.send(&connect).await?;
        let reply = tokio::time::timeout(HANDSHAKE_TIMEOUT, conn.next_frame())
            .await
            .map_err(|_| BenchError::Timeout("CONNECTED"))??;
        match reply.command {
            Command::Connected => {
                let version = reply.header(header::VERSION).and_then(Version::parse).unwrap_or(Version::V1_0);
                conn.version = version;
                conn.server = reply.header(header::SERVER).unwrap_or("").to_owned();
                conn.codec.set_version(version);
                Ok(conn)
            }
            _ => Err(BenchError::Broker(describe_error(&reply))),
        }
    }

    /// Encodes and writes one frame.
    pub async fn send(&mut self, frame: &Frame) -> Result<()> {
        let mut buf = BytesMut::new();
        self.codec.encode(frame, &mut buf)?;
        self.writer.write_all(&buf).await?;
        Ok(())
    }

    /// Reads until a whole frame is decoded (heart-beats are skipped).
    pub async fn next_frame(&mut self) -> Result<Frame> {
        loop {
            while let Some(parsed) = self.codec.decode(&mut self.read_buf)? {
                if let Parsed::Frame(frame) = parsed {
                    return Ok(frame);
                }
            }
            self.read_buf.reserve(READ_CHUNK);
            if self.reader.read_into(&mut self.read_buf).await? == 0 {
                return Err(BenchError::Broker("connection closed".into()));
            }
        }
    }

    /// Subscribes (with `selector`, if given) and waits for the RECEIPT, so no message sent
    /// afterwards is missed.
    pub async fn subscribe(
        &mut self,
        destination: &str,
        id: &str,
        ack: AckMode,
        prefetch: u32,
        selector: Option<&str>,
        durable: bool,
    ) -> Result<()> {
        let receipt = format!("sub-{id}");
        let prefetch = prefetch.to_string();
        let mut frame = Frame::new(Command::Subscribe)
            .with_header(header::ID, id)
            .with_header(header::DESTINATION, destination)
            .with_header(header::ACK, ack.as_str())
            .with_header("prefetch-count", prefetch.as_str())
            .with_header("activemq.prefetchSize", prefetch.as_str())
            .with_header(header::RECEIPT, receipt.as_str());
        if let Some(selector) = selector {
            frame = frame.with_header(header::SELECTOR, selector);
        }
        if durable {
            // A durable subscription named `id`: Apollo's headers, and RabbitMQ's.
            for (name, value) in [("persistent", "true"), ("durable", "true"), ("auto-delete", "false")] {
                frame = frame.with_header(name, value);
            }
        }
        self.send(&frame).await?;
        self.receipt(&receipt, "SUBSCRIBE receipt").await
    }

    /// Unsubscribes and waits for the RECEIPT (MESSAGEs still arriving meanwhile are skipped).
    pub async fn unsubscribe(&mut self, id: &str) -> Result<()> {
        let receipt = format!("unsub-{id}");
        let frame =
            Frame::new(Command::Unsubscribe).with_header(header::ID, id).with_header(header::RECEIPT, receipt.as_str());
        self.send(&frame).await?;
        self.receipt(&receipt, "UNSUBSCRIBE receipt").await
    }

    /// Waits for the RECEIPT `receipt`, skipping other frames; an ERROR fails.
    async fn receipt(&mut self, receipt: &str, what: &'static str) -> Result<()> {
        let wait = async {
            loop {
                let reply = self.next_frame().await?;
                match reply.command {
                    Command::Receipt if reply.header(header::RECEIPT_ID) == Some(receipt) => return Ok(()),
                    Command::Error => return Err(BenchError::Broker(describe_error(&reply))),
                    _ => {}
                }
            }
        };
        tokio::time::timeout(HANDSHAKE_TIMEOUT, wait).await.map_err(|_| BenchError::Timeout(what))?
    }

    /// Sends DISCONNECT and closes the write side; errors are ignored (the run is over).
    pub async fn disconnect(mut self) {
        let _ = self.send(&Frame::new(Command::Disconnect)).await;
        let _ = self.writer.shutdown().await;
    }
}

/// The ACK frame for a MESSAGE received on a client-individual subscription: STOMP 1.2 names
/// the MESSAGE's `ack` header as `id`; 1.1 and 1.0 name `message-id` and `subscription`.
pub fn ack_for(message: &Frame, version: Version) -> Option<Frame> {
    let frame = Frame::new(Command::Ack);
    match version {
        Version::V1_2 => message.header(header::ACK).map(|id| frame.with_header(header::ID, id)),
        Version::V1_1 | Version::V1_0 => {
            let id = message.header(header::MESSAGE_ID)?;
            let frame = frame.with_header(header::MESSAGE_ID, id);
            Some(match message.header(header::SUBSCRIPTION) {
                Some(sub) => frame.with_header(header::SUBSCRIPTION, sub),
                None => frame,
            })
        }
    }
}

/// A one-line description of an ERROR (or unexpected) frame: its `message` header and body.
pub fn describe_error(frame: &Frame) -> String {
    let message = frame.header(header::MESSAGE).unwrap_or("");
    let body = String::from_utf8_lossy(&frame.body);
    let body = body.trim();
    match (frame.command, body.is_empty()) {
        (Command::Error, true) => format!("ERROR {message}"),
        (Command::Error, false) => format!("ERROR {message}: {}", body.lines().next().unwrap_or("")),
        (command, _) => format!("unexpected {}", command.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_follow_the_version() {
        let message = Frame::new(Command::Message)
            .with_header(header::MESSAGE_ID, "m-1")
            .with_header(header::SUBSCRIPTION, "s")
            .with_header(header::ACK, "a-1");
        let ack = ack_for(&message, Version::V1_2).unwrap();
        assert_eq!(ack.headers, vec![("id".to_owned(), "a-1".to_owned())]);
        let ack = ack_for(&message, Version::V1_1).unwrap();
        assert_eq!(ack.header(header::MESSAGE_ID), Some("m-1"));
        assert_eq!(ack.header(header::SUBSCRIPTION), Some("s"));
    }
}

//! A WebSocket seen as a byte stream, so the connection task serves it exactly as it serves TCP.
//!
//! Reading: the payload of every text or binary message, in order, is the stream's bytes, so
//! the connection feeds them into the same codec buffer: several frames in one message and one
//! frame split over several both just work. Pings are answered by tungstenite; a close ends the
//! stream.
//!
//! Writing: the connection writes whole encoded frames (and heart-beat EOLs) into one buffer per
//! round and hands it over at once. This view cuts that buffer into one message per frame (text
//! when the frame is UTF-8 and its body has no NUL, else binary; the EOL after a frame's NUL is
//! dropped) and one `"\n"` message per heart-beat, feeds them all to tungstenite, and the
//! connection's flush at the end of the round sends them together. The TCP and TLS paths never
//! come here: they pay nothing for the frame boundaries WebSocket needs.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

/// An upgraded WebSocket connection, as an `AsyncRead + AsyncWrite` byte stream of STOMP.
#[derive(Debug)]
pub(crate) struct WebSocket<S> {
    stream: WebSocketStream<S>,
    /// What is left of the last message read, when the reader's buffer could not take it all.
    unread: Bytes,
    /// An error met after some messages were taken, reported by the next read.
    failed: Option<io::Error>,
}

impl<S> WebSocket<S> {
    pub(crate) fn new(stream: WebSocketStream<S>) -> WebSocket<S> {
        WebSocket { stream, unread: Bytes::new(), failed: None }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WebSocket<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(error) = this.failed.take() {
            return Poll::Ready(Err(error));
        }
        let start = buf.filled().len();
        // Takes every message already there while the buffer has room, so many small messages
        // cost one read; waits only while nothing was taken.
        while buf.remaining() > 0 {
            if this.unread.is_empty() {
                let next = match Pin::new(&mut this.stream).poll_next(cx) {
                    Poll::Pending if buf.filled().len() > start => break,
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(next) => next,
                };
                match next {
                    // Closed (after answering the peer's close): end of stream.
                    None => break,
                    Some(Ok(Message::Text(text))) => this.unread = text.into(),
                    Some(Ok(Message::Binary(data))) => this.unread = data,
                    // Pings are answered by tungstenite; after a close the stream ends.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_))) => {}
                    Some(Err(error)) if buf.filled().len() > start => {
                        this.failed = Some(into_io(error));
                        break;
                    }
                    Some(Err(error)) => return Poll::Ready(Err(into_io(error))),
                }
                continue;
            }
            let n = this.unread.len().min(buf.remaining());
            buf.put_slice(&this.unread[..n]);
            this.unread.advance(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WebSocket<S> {
    /// Takes the whole frames at the start of `buf` as messages, as many as tungstenite accepts
    /// without waiting. Sends nothing by itself: [`AsyncWrite::poll_flush`] does.
    ///
    /// `buf` is copied once, and each message is a slice of that copy: no allocation per
    /// message (tungstenite copies each into its own buffer as it is sent).
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut owned: Option<Bytes> = None;
        let mut taken = 0;
        while let Some(unit) = next_unit(&buf[taken..]) {
            let mut sink = Pin::new(&mut this.stream);
            match sink.as_mut().poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(error)) if taken == 0 => return Poll::Ready(Err(into_io(error))),
                Poll::Pending if taken == 0 => return Poll::Pending,
                Poll::Ready(Err(_)) | Poll::Pending => break,
            }
            let owned = owned.get_or_insert_with(|| Bytes::copy_from_slice(buf));
            sink.start_send(unit.message(owned.slice(taken..taken + unit.len))).map_err(into_io)?;
            taken += unit.consumed;
        }
        if taken == 0 && !buf.is_empty() {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidInput, "not a whole STOMP frame")));
        }
        Poll::Ready(Ok(taken))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx).map_err(into_io)
    }

    /// Sends a close frame and flushes it.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_close(cx).map_err(into_io)
    }
}

fn into_io(error: tungstenite::Error) -> io::Error {
    match error {
        tungstenite::Error::Io(error) => error,
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => io::ErrorKind::NotConnected.into(),
        other => io::Error::new(io::ErrorKind::InvalidData, other),
    }
}

/// The first thing in a buffer of encoded frames, to send as a WebSocket message of its own.
#[derive(Debug, PartialEq)]
struct Unit {
    /// The message's bytes: the frame up to its NUL, or the heart-beat EOL.
    len: usize,
    /// The bytes it stands for: the frame and the EOL after its NUL, or the heart-beat EOL.
    consumed: usize,
    /// Whether the frame's body has a NUL, so it goes as binary whatever its bytes.
    body_has_nul: bool,
}

impl Unit {
    /// The message carrying `bytes` (its [`Unit::len`] bytes): text when they are UTF-8 and
    /// the body has no NUL, else binary.
    fn message(&self, bytes: Bytes) -> Message {
        if self.body_has_nul {
            return Message::Binary(bytes);
        }
        match Utf8Bytes::try_from(bytes.clone()) {
            Ok(text) => Message::Text(text),
            Err(_) => Message::Binary(bytes),
        }
    }
}

/// Cuts the first frame or heart-beat off `bytes`, as the broker encodes them: LF line ends, a
/// blank line before the body, the body `content-length` long when that header is there (the
/// first one counts, as for any reader) or else up to the first NUL, the NUL, and one LF. `None`
/// when `bytes` is empty or does not start with a whole frame.
fn next_unit(bytes: &[u8]) -> Option<Unit> {
    if *bytes.first()? == b'\n' {
        return Some(Unit { len: 1, consumed: 1, body_has_nul: false });
    }
    let (body_start, content_length) = head(bytes)?;
    let nul = match content_length {
        Some(length) => body_start.checked_add(length).filter(|&nul| bytes.get(nul) == Some(&0))?,
        None => body_start + memchr::memchr(0, &bytes[body_start..])?,
    };
    let len = nul + 1;
    let consumed = len + usize::from(bytes.get(len) == Some(&b'\n'));
    let body_has_nul = memchr::memchr(0, &bytes[body_start..nul]).is_some();
    Some(Unit { len, consumed, body_has_nul })
}

/// Where the body starts (after the blank line that ends the headers), and the value of the
/// first `content-length` header. One pass, a `memchr` per line.
fn head(bytes: &[u8]) -> Option<(usize, Option<usize>)> {
    let mut line = memchr::memchr(b'\n', bytes)? + 1;
    let mut content_length = None;
    loop {
        let end = line + memchr::memchr(b'\n', &bytes[line..])?;
        if end == line {
            return Some((end + 1, content_length));
        }
        if content_length.is_none() {
            if let Some(value) = bytes[line..end].strip_prefix(b"content-length:") {
                content_length = Some(std::str::from_utf8(value).ok()?.parse().ok()?);
            }
        }
        line = end + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(mut bytes: &[u8]) -> Vec<Message> {
        let mut messages = Vec::new();
        while let Some(unit) = next_unit(bytes) {
            messages.push(unit.message(Bytes::copy_from_slice(&bytes[..unit.len])));
            bytes = &bytes[unit.consumed..];
        }
        assert!(bytes.is_empty(), "left over: {bytes:?}");
        messages
    }

    #[test]
    fn each_frame_and_each_heartbeat_is_one_message() {
        let bytes = b"\nRECEIPT\nreceipt-id:1\n\n\0\n\n\nMESSAGE\ncontent-length:2\n\nhi\0\n";
        assert_eq!(
            units(bytes),
            [
                Message::text("\n"),
                Message::text("RECEIPT\nreceipt-id:1\n\n\0"),
                Message::text("\n"),
                Message::text("\n"),
                Message::text("MESSAGE\ncontent-length:2\n\nhi\0"),
            ]
        );
    }

    #[test]
    fn a_body_with_a_nul_or_bytes_that_are_not_utf8_is_binary() {
        let nul = b"MESSAGE\ncontent-length:3\n\na\0b\0\n";
        assert_eq!(units(nul), [Message::binary(&nul[..nul.len() - 1])]);
        let latin1 = b"MESSAGE\ncontent-length:1\n\n\xe9\0\n";
        assert_eq!(units(latin1), [Message::binary(&latin1[..latin1.len() - 1])]);
    }

    #[test]
    fn the_first_content_length_counts_and_a_frame_without_one_ends_at_its_nul() {
        assert_eq!(units(b"MESSAGE\ncontent-length:1\ncontent-length:9\n\nx\0\n").len(), 1);
        assert_eq!(units(b"ERROR\nmessage:no\n\nwhy\0\n"), [Message::text("ERROR\nmessage:no\n\nwhy\0")]);
    }

    #[test]
    fn an_incomplete_frame_is_not_cut() {
        assert_eq!(next_unit(b"MESSAGE\ncontent-length:5\n\nab\0"), None);
        assert_eq!(next_unit(b"RECEIPT\nreceipt-id:1\n"), None);
        assert_eq!(next_unit(b""), None);
    }
}

//! [`StompCodec`]: the frame parser and encoder as a tokio-util [`Decoder`]/[`Encoder`].
//!
//! The codec never sees the transport. Over a byte stream wrap it in `Framed` (or split it into
//! `FramedRead`/`FramedWrite`); for WebSocket, append each message to a `BytesMut` and call
//! [`Decoder::decode`] until it returns `Ok(None)`.
//!
//! There is no unbounded constructor: [`StompCodec::new`] takes the [`FrameLimits`] to enforce.

use std::io;

use bytes::BytesMut;
use thiserror::Error;
use tokio_util::codec::{Decoder, Encoder};

use crate::frame::{self, Frame, FrameError, FrameLimits, FrameParser, Parsed};
use crate::version::Version;

/// Why the codec failed. Both kinds are fatal for the connection.
#[derive(Debug, Error)]
pub enum CodecError {
    /// Reading or writing the transport failed, or it closed in the middle of a frame
    /// ([`io::ErrorKind::UnexpectedEof`]).
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The peer sent bytes that are not a valid frame, or broke a limit.
    #[error("invalid frame: {0}")]
    Frame(#[from] FrameError),
}

/// A STOMP codec: decodes [`Parsed`] frames and heart-beats with a [`FrameParser`], encodes
/// [`Frame`]s with [`frame::encode`]. Both directions start at STOMP 1.0 (no header escaping)
/// until [`StompCodec::set_version`] is called with the negotiated version.
#[derive(Debug, Clone)]
pub struct StompCodec {
    parser: FrameParser,
    version: Version,
}

impl StompCodec {
    /// A codec enforcing these limits on what it decodes, speaking STOMP 1.0 until told a version.
    pub fn new(limits: FrameLimits) -> StompCodec {
        StompCodec { parser: FrameParser::new(limits), version: Version::V1_0 }
    }

    /// Sets the negotiated version for both directions. Decoding applies it from the next frame's
    /// command line; encoding from the next frame.
    pub fn set_version(&mut self, version: Version) {
        self.parser.set_version(version);
        self.version = version;
    }

    /// The version frames are encoded (and decoded) with.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The limits the decoder enforces.
    pub fn limits(&self) -> &FrameLimits {
        self.parser.limits()
    }
}

impl Decoder for StompCodec {
    type Item = Parsed;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Parsed>, CodecError> {
        Ok(self.parser.parse(src)?)
    }

    /// At end of input: what is left must parse whole. A clean EOF (nothing buffered) is
    /// `Ok(None)`; leftover bytes of an unfinished frame are an `UnexpectedEof` error.
    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Parsed>, CodecError> {
        match self.decode(buf)? {
            Some(parsed) => Ok(Some(parsed)),
            None if buf.is_empty() => Ok(None),
            None => Err(CodecError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in the middle of a frame",
            ))),
        }
    }
}

impl Encoder<&Frame> for StompCodec {
    type Error = CodecError;

    /// Writes the frame as [`frame::encode`] does: headers as given (the caller adds
    /// `content-length`), escaped for the codec's version, then the body, NUL and LF.
    fn encode(&mut self, item: &Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        frame::encode(item, self.version, dst);
        Ok(())
    }
}

impl Encoder<Frame> for StompCodec {
    type Error = CodecError;

    /// Same as encoding `&Frame`.
    fn encode(&mut self, item: Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        frame::encode(&item, self.version, dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Command;

    fn codec() -> StompCodec {
        StompCodec::new(FrameLimits::default())
    }

    #[test]
    fn decodes_frames_and_heartbeats() {
        let mut codec = codec();
        let mut buf = BytesMut::from(&b"\nSEND\ndestination:/queue/a\n\nhi\0\n"[..]);
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(Parsed::Heartbeat));
        let expected = Frame::new(Command::Send).with_header("destination", "/queue/a").with_body("hi");
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(Parsed::Frame(expected)));
        assert_eq!(codec.decode(&mut buf).unwrap(), Some(Parsed::Heartbeat));
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
    }

    #[test]
    fn clean_eof_is_the_end_of_the_stream() {
        let mut codec = codec();
        let mut buf = BytesMut::new();
        assert!(codec.decode_eof(&mut buf).unwrap().is_none());
    }

    #[test]
    fn eof_after_a_whole_frame_yields_it_then_ends() {
        let mut codec = codec();
        let mut buf = BytesMut::from(&b"DISCONNECT\n\n\0"[..]);
        let parsed = codec.decode_eof(&mut buf).unwrap();
        assert_eq!(parsed, Some(Parsed::Frame(Frame::new(Command::Disconnect))));
        assert!(codec.decode_eof(&mut buf).unwrap().is_none());
    }

    #[test]
    fn eof_in_the_middle_of_a_frame_is_unexpected_eof() {
        let mut codec = codec();
        let mut buf = BytesMut::from(&b"SEND\ndestination:/queue/a\n\nhal"[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        match codec.decode_eof(&mut buf) {
            Err(CodecError::Io(e)) => {
                assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
                assert_eq!(e.to_string(), "connection closed in the middle of a frame");
            }
            other => panic!("expected UnexpectedEof, got {other:?}"),
        }
    }

    #[test]
    fn frame_errors_surface_as_codec_errors() {
        let mut codec = codec();
        let mut buf = BytesMut::from(&b"HELLO\n\n\0"[..]);
        match codec.decode(&mut buf) {
            Err(CodecError::Frame(FrameError::UnknownCommand(c))) => assert_eq!(c, "HELLO"),
            other => panic!("expected UnknownCommand, got {other:?}"),
        }
    }

    #[test]
    fn set_version_applies_to_both_directions() {
        let mut codec = codec();
        let frame = Frame::new(Command::Message).with_header("k", "a:b");
        let mut out = BytesMut::new();
        codec.encode(&frame, &mut out).unwrap();
        assert_eq!(&out[..], b"MESSAGE\nk:a:b\n\n\0\n");

        codec.set_version(Version::V1_2);
        assert_eq!(codec.version(), Version::V1_2);
        out.clear();
        codec.encode(frame.clone(), &mut out).unwrap();
        assert_eq!(&out[..], b"MESSAGE\nk:a\\cb\n\n\0\n");
        assert_eq!(codec.decode(&mut out).unwrap(), Some(Parsed::Frame(frame)));
    }

    #[test]
    fn limits_are_the_ones_given() {
        let limits = FrameLimits { max_headers: 3, ..FrameLimits::default() };
        assert_eq!(StompCodec::new(limits).limits(), &limits);
    }
}

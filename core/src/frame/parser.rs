//! [`FrameParser`]: the incremental, sans-IO frame parser, the [`FrameLimits`] it enforces and
//! the [`FrameError`]s it reports.

use bytes::{Buf, Bytes, BytesMut};
use memchr::memchr;
use thiserror::Error;

use super::escape::{escape_for, unescape, Escaping};
use super::{header, Command, Frame, CR, LF, NUL};
use crate::version::Version;

/// Limits the parser enforces. Every one is configurable; the defaults suit a chat or
/// notification broker and are documented in the server's configuration reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Largest whole frame (command, headers and body), in bytes.
    pub max_frame_bytes: usize,
    /// Most headers in one frame.
    pub max_headers: usize,
    /// Longest header line (name, colon and value, before unescaping), in bytes.
    pub max_header_line_bytes: usize,
    /// Largest body, in bytes.
    pub max_body_bytes: usize,
}

impl Default for FrameLimits {
    fn default() -> Self {
        // Large messages are welcome (Apollo allowed 100 MB, RabbitMQ 16 MiB and more): the
        // broker's memory bound and pacing, not a small frame limit, keep it safe.
        FrameLimits {
            max_frame_bytes: 64 * 1024 * 1024 + 64 * 1024,
            max_headers: 64,
            max_header_line_bytes: 8 * 1024,
            max_body_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Why bytes are not a valid frame. Every variant is fatal for the connection.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    /// The frame is larger than `max_frame_bytes`.
    #[error("frame exceeds max_frame_bytes ({limit} bytes)")]
    FrameTooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// More headers than `max_headers`.
    #[error("frame has more than max_headers ({limit}) headers")]
    TooManyHeaders {
        /// The limit in force.
        limit: usize,
    },
    /// A header line longer than `max_header_line_bytes`.
    #[error("header line exceeds max_header_line_bytes ({limit} bytes)")]
    HeaderLineTooLong {
        /// The limit in force.
        limit: usize,
    },
    /// A body larger than `max_body_bytes`.
    #[error("body exceeds max_body_bytes ({limit} bytes)")]
    BodyTooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// The command line names no STOMP command.
    #[error("unknown command {0:?}")]
    UnknownCommand(String),
    /// A header line without a colon.
    #[error("malformed header line {0:?}")]
    MalformedHeader(String),
    /// A backslash escape the negotiated version does not define.
    #[error("undefined escape sequence {0:?} in header")]
    InvalidEscape(String),
    /// `content-length` is not a decimal number.
    #[error("invalid content-length {0:?}")]
    InvalidContentLength(String),
    /// The `content-length` bytes of body are not followed by a NUL.
    #[error("body is not terminated by NUL after content-length bytes")]
    MissingNul,
    /// A command or header that is not UTF-8.
    #[error("frame header is not valid UTF-8")]
    NotUtf8,
    /// A raw NUL byte in a header line: it would end the frame early for clients that split
    /// frames on NUL, so it is never accepted (and never forwarded).
    #[error("header line contains a NUL byte")]
    NulInHeader,
}

/// What one successful [`FrameParser::parse`] call yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A whole frame.
    Frame(Frame),
    /// A bare end-of-line between frames: a heart-beat.
    Heartbeat,
}

/// An incremental, sans-IO STOMP frame parser with limits. See the module docs.
///
/// Feed it one growing buffer: between calls the caller may only append to `buf` (the parser
/// itself removes what it returns). The parser remembers how far it has scanned, the command and
/// headers of a frame whose header block is complete, and the frame's total length once a
/// `content-length` is known, so no byte is searched twice.
///
/// Wire rules it applies:
/// - Bare EOLs (`\n` or `\r\n`) before a frame are heart-beats, one [`Parsed::Heartbeat`] each.
///   The optional EOLs after a frame's NUL are left in the buffer and so come back as heart-beats.
/// - Every line may end in LF or CR LF, in every version (a trailing CR is stripped).
/// - A header's name is everything before its first `:`, its value everything after (no
///   trimming). Names must not be empty. Repeated headers are all kept, in wire order.
/// - Headers are unescaped as [`escape_for`] says for the frame's command and the version set
///   when its command line was read; an escape that version does not define is an error.
/// - The body is exactly `content-length` bytes (first occurrence; NULs allowed) followed by a
///   NUL, or without that header everything up to the first NUL.
///
/// Limits are checked on the bytes buffered so far, so nothing grows without bound: a command
/// line is rejected as soon as it cannot become a command (so at most 12 bytes of it are ever
/// buffered), a header line as soon as it has more than `max_header_line_bytes` bytes without an
/// EOL, a declared `content-length` before its body arrives, and a body without one as soon as
/// it outgrows `max_body_bytes` (or the frame `max_frame_bytes`). The frame size counts every
/// byte from the command up to, not including, the terminating NUL; a line's length does not
/// count its LF or CR LF. When several limits are broken, the error names the one the bytes broke
/// first, so the same input gives the same error however it is split into reads (only the text
/// quoted by [`FrameError::UnknownCommand`] is whatever had arrived when it was rejected).
///
/// After an error the parser forgets the frame it was reading; the connection should be closed.
#[derive(Debug, Clone)]
pub struct FrameParser {
    limits: FrameLimits,
    version: Version,
    scan: Scan,
}

/// The least room reserved for a body still arriving.
const BODY_RESERVE_MIN: usize = 64 * 1024;

/// The most bytes of an offending line quoted in an error.
const EXCERPT_BYTES: usize = 40;

/// Where the parser is inside the frame at the front of the buffer.
#[derive(Debug, Clone, Copy, Default)]
enum Phase {
    /// Reading heart-beats or the command line.
    #[default]
    Command,
    /// Reading header lines up to the blank line.
    Headers { command: Command, escaping: Escaping },
    /// The header block is complete; the body starts at `body_start`.
    Body { command: Command, body_start: usize },
}

/// What reading the first line of a frame gave.
enum CommandLine {
    /// No EOL yet (and the bytes can still become a command line).
    Incomplete,
    /// A bare EOL of `len` bytes.
    Heartbeat { len: usize },
    /// The command is read.
    Command,
}

/// Scan state of the frame at the front of the buffer; offsets are from the buffer's start.
#[derive(Debug, Clone, Default)]
struct Scan {
    phase: Phase,
    /// Bytes already searched (for LF in the head, for NUL in a body without content-length).
    scanned: usize,
    /// Where the head line being read starts.
    line_start: usize,
    /// Headers parsed so far.
    headers: Vec<(String, String)>,
    /// Whether a `content-length` header was seen (only the first counts).
    seen_content_length: bool,
    /// The declared body length.
    content_length: Option<usize>,
}

impl Scan {
    /// Back to "between frames". Keeps no allocation: headers were handed out or are dropped.
    fn reset(&mut self) {
        self.phase = Phase::Command;
        self.scanned = 0;
        self.line_start = 0;
        self.headers = Vec::new();
        self.seen_content_length = false;
        self.content_length = None;
    }
}

impl FrameParser {
    /// A parser with these limits, unescaping as STOMP 1.0 does (not at all) until told a version.
    pub fn new(limits: FrameLimits) -> FrameParser {
        FrameParser { limits, version: Version::V1_0, scan: Scan::default() }
    }

    /// The limits in force.
    pub fn limits(&self) -> &FrameLimits {
        &self.limits
    }

    /// Sets the negotiated version, which decides header unescaping for every frame but
    /// CONNECT, STOMP and CONNECTED.
    ///
    /// It applies from the next command line on: a frame whose command was already read keeps
    /// the escaping it started with.
    pub fn set_version(&mut self, version: Version) {
        self.version = version;
    }

    /// Takes one frame or heart-beat off the front of `buf`. `Ok(None)`: more bytes are needed
    /// (and the bytes seen so far are not scanned again).
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<Parsed>, FrameError> {
        if buf.len() < self.scan.scanned {
            // The caller consumed bytes behind our back: start over rather than misread.
            self.scan.reset();
        }
        let parsed = self.parse_front(buf);
        if parsed.is_err() {
            self.scan.reset();
        }
        parsed
    }

    fn parse_front(&mut self, buf: &mut BytesMut) -> Result<Option<Parsed>, FrameError> {
        loop {
            match self.scan.phase {
                Phase::Command => match self.command_line(buf)? {
                    CommandLine::Incomplete => return Ok(None),
                    CommandLine::Heartbeat { len } => {
                        buf.advance(len);
                        self.scan.reset();
                        return Ok(Some(Parsed::Heartbeat));
                    }
                    CommandLine::Command => {}
                },
                Phase::Headers { command, escaping } => {
                    if !self.header_lines(buf, command, escaping)? {
                        return Ok(None);
                    }
                }
                Phase::Body { command, body_start } => return self.body(buf, command, body_start),
            }
        }
    }

    /// Reads a heart-beat or the command line (then moves on to the headers).
    fn command_line(&mut self, buf: &[u8]) -> Result<CommandLine, FrameError> {
        let Some(found) = memchr(LF, &buf[self.scan.scanned..]) else {
            self.scan.scanned = buf.len();
            if !could_become_command_line(buf) {
                return Err(FrameError::UnknownCommand(excerpt(buf)));
            }
            return Ok(CommandLine::Incomplete);
        };
        let lf = self.scan.scanned + found;
        let line = strip_cr(&buf[..lf]);
        if line.is_empty() {
            return Ok(CommandLine::Heartbeat { len: lf + 1 });
        }
        let command = Command::from_bytes(line).ok_or_else(|| FrameError::UnknownCommand(excerpt(line)))?;
        if line.len() > self.limits.max_header_line_bytes {
            return Err(FrameError::HeaderLineTooLong { limit: self.limits.max_header_line_bytes });
        }
        if lf >= self.limits.max_frame_bytes {
            return Err(FrameError::FrameTooLarge { limit: self.limits.max_frame_bytes });
        }
        self.scan.phase = Phase::Headers { command, escaping: escape_for(command, self.version) };
        self.scan.scanned = lf + 1;
        self.scan.line_start = lf + 1;
        Ok(CommandLine::Command)
    }

    /// Reads header lines up to the blank line. `Ok(false)`: incomplete.
    fn header_lines(&mut self, buf: &mut BytesMut, command: Command, escaping: Escaping) -> Result<bool, FrameError> {
        let limits = self.limits;
        loop {
            let start = self.scan.line_start;
            let Some(found) = memchr(LF, &buf[self.scan.scanned..]) else {
                self.scan.scanned = buf.len();
                let pending = buf.len() - start;
                let needs_check = pending > limits.max_header_line_bytes
                    || buf.len() > limits.max_frame_bytes
                    || (self.scan.headers.len() >= limits.max_headers
                        && !(pending == 0 || (pending == 1 && buf[start] == CR)));
                if needs_check {
                    if let Some(e) = self.head_limit_error(buf, start, buf.len(), buf.len()) {
                        return Err(e);
                    }
                }
                return Ok(false);
            };
            let lf = self.scan.scanned + found;
            self.scan.scanned = lf + 1;
            self.scan.line_start = lf + 1;
            let line = strip_cr(&buf[start..lf]);
            let blank = line.is_empty();
            if line.len() > limits.max_header_line_bytes
                || lf >= limits.max_frame_bytes
                || (!blank && self.scan.headers.len() >= limits.max_headers)
            {
                if let Some(e) = self.head_limit_error(buf, start, lf, lf + 1) {
                    return Err(e);
                }
            }
            if blank {
                let body_start = lf + 1;
                if let Some(len) = self.scan.content_length {
                    if body_start.saturating_add(len) > limits.max_frame_bytes {
                        return Err(FrameError::FrameTooLarge { limit: limits.max_frame_bytes });
                    }
                }
                self.scan.phase = Phase::Body { command, body_start };
                return Ok(true);
            }
            self.header_line(line, escaping)?;
        }
    }

    /// Which head limit the line starting at `start` broke first, if any. Its bytes before any
    /// LF end at `end`; `buffered` is how many bytes of the frame count (the LF included).
    ///
    /// Each limit is given the buffer length at which it first broke; the smallest wins, so the
    /// error does not depend on how the bytes were split into reads.
    fn head_limit_error(&self, buf: &[u8], start: usize, end: usize, buffered: usize) -> Option<FrameError> {
        let limits = &self.limits;
        // The buffer length at which "a byte other than a lone trailing CR at `at`" appeared.
        let content_byte_at = |at: usize| -> Option<usize> {
            if at >= end {
                None
            } else if buf[at] != CR {
                Some(at + 1)
            } else if at + 1 < end {
                Some(at + 2)
            } else {
                None
            }
        };
        let too_many = if self.scan.headers.len() >= limits.max_headers { content_byte_at(start) } else { None };
        let too_long = content_byte_at(start.saturating_add(limits.max_header_line_bytes));
        let frame_at = limits.max_frame_bytes.saturating_add(1);
        earliest([
            (too_many, FrameError::TooManyHeaders { limit: limits.max_headers }),
            (too_long, FrameError::HeaderLineTooLong { limit: limits.max_header_line_bytes }),
            ((frame_at <= buffered).then_some(frame_at), FrameError::FrameTooLarge { limit: limits.max_frame_bytes }),
        ])
    }

    /// Parses one complete, non-blank header line (EOL stripped).
    fn header_line(&mut self, line: &[u8], escaping: Escaping) -> Result<(), FrameError> {
        if memchr(NUL, line).is_some() {
            return Err(FrameError::NulInHeader);
        }
        let colon = match memchr(b':', line) {
            Some(0) | None => return Err(FrameError::MalformedHeader(excerpt(line))),
            Some(colon) => colon,
        };
        let name = unescape(&line[..colon], escaping)?;
        let value = unescape(&line[colon + 1..], escaping)?;
        if !self.scan.seen_content_length && name == header::CONTENT_LENGTH {
            self.scan.seen_content_length = true;
            let len = parse_content_length(&value)?;
            if len > self.limits.max_body_bytes {
                return Err(FrameError::BodyTooLarge { limit: self.limits.max_body_bytes });
            }
            self.scan.content_length = Some(len);
        }
        if self.scan.headers.capacity() == 0 {
            self.scan.headers.reserve(8);
        }
        self.scan.headers.push((name, value));
        Ok(())
    }

    /// Reads the body and the NUL, and hands out the frame.
    fn body(&mut self, buf: &mut BytesMut, command: Command, body_start: usize) -> Result<Option<Parsed>, FrameError> {
        let (body_end, total) = match self.scan.content_length {
            Some(len) => {
                let body_end = body_start + len;
                let total = body_end.saturating_add(1);
                if buf.len() < total {
                    // Room for more of the body, growing with what has arrived (at most doubling),
                    // never the whole declared length at once: memory follows the bytes a peer
                    // actually sends, and each byte is still copied about once as the buffer grows.
                    let missing = total - buf.len();
                    buf.reserve(missing.min(buf.len().max(BODY_RESERVE_MIN)));
                    return Ok(None);
                }
                if buf[body_end] != NUL {
                    return Err(FrameError::MissingNul);
                }
                (body_end, total)
            }
            None => {
                let from = self.scan.scanned.max(body_start);
                match memchr(NUL, &buf[from..]) {
                    Some(found) => {
                        let nul = from + found;
                        if let Some(e) = self.body_limit_error(body_start, nul) {
                            return Err(e);
                        }
                        (nul, nul + 1)
                    }
                    None => {
                        self.scan.scanned = buf.len();
                        return match self.body_limit_error(body_start, buf.len()) {
                            Some(e) => Err(e),
                            None => Ok(None),
                        };
                    }
                }
            }
        };
        let body = if body_end == body_start {
            buf.advance(total);
            Bytes::new()
        } else {
            buf.split_to(total).freeze().slice(body_start..body_end)
        };
        let headers = std::mem::take(&mut self.scan.headers);
        self.scan.reset();
        Ok(Some(Parsed::Frame(Frame { command, headers, body })))
    }

    /// Which size limit a body without `content-length` broke first, `buffered` bytes of the
    /// frame being in (the NUL not counted).
    fn body_limit_error(&self, body_start: usize, buffered: usize) -> Option<FrameError> {
        let limits = &self.limits;
        let body_at = body_start.saturating_add(limits.max_body_bytes).saturating_add(1);
        let frame_at = limits.max_frame_bytes.saturating_add(1);
        earliest([
            ((body_at <= buffered).then_some(body_at), FrameError::BodyTooLarge { limit: limits.max_body_bytes }),
            ((frame_at <= buffered).then_some(frame_at), FrameError::FrameTooLarge { limit: limits.max_frame_bytes }),
        ])
    }
}

/// The error whose position is smallest (the first listed on a tie).
fn earliest<const N: usize>(candidates: [(Option<usize>, FrameError); N]) -> Option<FrameError> {
    candidates.into_iter().filter_map(|(at, e)| at.map(|at| (at, e))).min_by_key(|(at, _)| *at).map(|(_, e)| e)
}

/// Whether `pending`, the start of a command line with no LF yet, can still become a heart-beat
/// or a command line: empty, a CR, a prefix of a command, or a command then CR.
fn could_become_command_line(pending: &[u8]) -> bool {
    match pending.split_last() {
        None => true,
        Some((&CR, before)) => before.is_empty() || Command::from_bytes(before).is_some(),
        Some(_) => Command::ALL.iter().any(|c| c.as_str().as_bytes().starts_with(pending)),
    }
}

/// A line without its trailing CR, if it has one.
fn strip_cr(line: &[u8]) -> &[u8] {
    match line.split_last() {
        Some((&CR, rest)) => rest,
        _ => line,
    }
}

/// The start of an offending line, for an error message.
fn excerpt(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(EXCERPT_BYTES)]).into_owned()
}

/// A `content-length` value: ASCII digits only. A number too large for `usize` saturates (and
/// so fails the body limit).
fn parse_content_length(value: &str) -> Result<usize, FrameError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FrameError::InvalidContentLength(excerpt(value.as_bytes())));
    }
    Ok(value.bytes().fold(0usize, |n, digit| n.saturating_mul(10).saturating_add(usize::from(digit - b'0'))))
}

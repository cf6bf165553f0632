//! Header escaping, both directions: which escaping a frame uses ([`escape_for`]), how text is
//! escaped on the way out ([`write_escaped`]) and unescaped on the way in ([`unescape`]).
//!
//! STOMP 1.0 and the handshake frames escape nothing. 1.1 escapes backslash, LF and colon as
//! `\\`, `\n` and `\c`; 1.2 also CR as `\r`.

use bytes::BytesMut;
use memchr::{memchr, memchr3};

use super::parser::FrameError;
use super::{Command, CR, LF};
use crate::version::Version;

/// How header text is escaped on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escaping {
    /// STOMP 1.0 and handshake frames: raw text.
    None,
    /// STOMP 1.1: `\\`, `\n`, `\c`.
    V1_1,
    /// STOMP 1.2: also `\r`.
    V1_2,
}

/// The escaping a frame with this command uses in this version.
pub fn escape_for(command: Command, version: Version) -> Escaping {
    match version {
        _ if command.is_handshake() => Escaping::None,
        Version::V1_0 => Escaping::None,
        Version::V1_1 => Escaping::V1_1,
        Version::V1_2 => Escaping::V1_2,
    }
}

/// Appends header text, copying the runs between special bytes whole.
pub(super) fn write_escaped(dst: &mut BytesMut, text: &[u8], escaping: Escaping) {
    match escaping {
        Escaping::None => dst.extend_from_slice(text),
        // CR is rare in headers: check for it with one fast search, then copy between the three
        // other special bytes; only text with a CR takes the byte-by-byte path.
        Escaping::V1_2 if memchr(CR, text).is_some() => {
            let mut run_start = 0;
            for (at, &byte) in text.iter().enumerate() {
                if let Some(escape) = escape_of(byte, true) {
                    dst.extend_from_slice(&text[run_start..at]);
                    dst.extend_from_slice(escape);
                    run_start = at + 1;
                }
            }
            dst.extend_from_slice(&text[run_start..]);
        }
        Escaping::V1_1 | Escaping::V1_2 => {
            let mut run_start = 0;
            while let Some(found) = memchr3(b'\\', LF, b':', &text[run_start..]) {
                let at = run_start + found;
                dst.extend_from_slice(&text[run_start..at]);
                dst.extend_from_slice(escape_of(text[at], false).unwrap_or(b""));
                run_start = at + 1;
            }
            dst.extend_from_slice(&text[run_start..]);
        }
    }
}

/// The escape sequence of a byte that needs one.
fn escape_of(byte: u8, escape_cr: bool) -> Option<&'static [u8]> {
    match byte {
        b'\\' => Some(b"\\\\"),
        LF => Some(b"\\n"),
        b':' => Some(b"\\c"),
        CR if escape_cr => Some(b"\\r"),
        _ => None,
    }
}

/// Decodes one header name or value: UTF-8, then the version's escapes. One allocation.
pub(super) fn unescape(raw: &[u8], escaping: Escaping) -> Result<String, FrameError> {
    let text = std::str::from_utf8(raw).map_err(|_| FrameError::NotUtf8)?;
    let first = match escaping {
        Escaping::None => None,
        Escaping::V1_1 | Escaping::V1_2 => memchr(b'\\', raw),
    };
    let Some(mut backslash) = first else {
        return Ok(text.to_owned());
    };
    let mut out = String::with_capacity(raw.len());
    let mut run_start = 0;
    loop {
        out.push_str(&text[run_start..backslash]);
        let unescaped = match raw.get(backslash + 1) {
            Some(b'\\') => '\\',
            Some(b'n') => '\n',
            Some(b'c') => ':',
            Some(b'r') if escaping == Escaping::V1_2 => '\r',
            _ => return Err(FrameError::InvalidEscape(text[backslash..].chars().take(2).collect())),
        };
        out.push(unescaped);
        run_start = backslash + 2;
        match memchr(b'\\', &raw[run_start..]) {
            Some(found) => backslash = run_start + found,
            None => break,
        }
    }
    out.push_str(&text[run_start..]);
    Ok(out)
}
